#!/usr/bin/env bash
# Downloads an OPUS-MT (Marian) checkpoint from the Hugging Face Hub into a folder Dragoman
# serves as it is, with no conversion:
#
#   docker/fetch-model.sh Helsinki-NLP/opus-mt-en-de [DEST]
#
# DEST defaults to docker/models/NAME, which compose.yaml mounts at /models (so the example
# serves with DRAGOMAN_MODEL=/models/opus-mt-en-de). As with Hugging Face's own tools,
# HF_ENDPOINT names a mirror and HF_TOKEN authorises private or gated repositories; REVISION
# pins a branch, tag or commit (default main). Needs curl and internet access.
set -euo pipefail
usage="usage: docker/fetch-model.sh OWNER/NAME [DEST]"
repo=${1:?$usage}
[[ $repo =~ ^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$ ]] || { echo "$usage" >&2; exit 2; }
dest=${2:-$(dirname "$0")/models/${repo#*/}}
endpoint=${HF_ENDPOINT:-https://huggingface.co}
revision=${REVISION:-main}
auth=()
[ -z "${HF_TOKEN:-}" ] || auth=(-H "Authorization: Bearer $HF_TOKEN")

die() { echo "fetch-model: $*" >&2; exit 1; }
[ ! -e "$dest" ] || die "$dest already exists; remove it first"
mkdir -p "$(dirname "$dest")"
# Downloaded beside DEST and renamed at the end, so DEST is never a partial checkpoint.
tmp=$(mktemp -d "$dest.part.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# fetch FILE: returns 0 once downloaded, 1 when the repository has no such file; exits on
# anything else.
fetch() {
  local code
  code=$(curl -sSL --connect-timeout 10 --retry 2 -w '%{http_code}' "${auth[@]}" \
    -o "$tmp/$1" "$endpoint/$repo/resolve/$revision/$1") ||
    die "cannot reach $endpoint (curl exit $?) fetching $1: is this machine offline, or behind a proxy (https_proxy)?"
  case $code in
    200) return 0 ;;
    404) rm -f "$tmp/$1"; return 1 ;;
    # the Hub answers 401 for repositories that do not exist as well as for private ones
    401 | 403) die "$repo: not found or not accessible (HTTP $code); check the name, or set HF_TOKEN" ;;
    *) die "$1: HTTP $code from $endpoint" ;;
  esac
}

echo "fetch-model: $repo ($revision) from $endpoint"
for f in config.json source.spm target.spm vocab.json; do
  fetch "$f" || die "$repo has no $f: not a Marian (OPUS-MT) checkpoint?"
done
for f in generation_config.json tokenizer_config.json special_tokens_map.json target_vocab.json; do
  fetch "$f" || true
done
fetch model.safetensors || fetch pytorch_model.bin ||
  die "$repo has neither model.safetensors nor pytorch_model.bin"

chmod 755 "$tmp"  # mktemp's 0700 would hide it from the container's non-root user
mv "$tmp" "$dest"
trap - EXIT
echo "fetch-model: $(du -sh "$dest" | cut -f1) in $dest"
