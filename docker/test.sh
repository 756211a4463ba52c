#!/usr/bin/env bash
# Builds docker/Dockerfile and checks the running container, without a Docker engine:
#   1. validates compose.yaml and k8s/ (docker/validate.py, yamllint, docker-compose config);
#   2. debootstraps Debian 12 into a local base image (cached: once per WORK);
#   3. builds the image with buildah (chroot isolation, vfs storage, Docker format so the
#      HEALTHCHECK is kept) and checks its configuration;
#   4. starts the image's ENTRYPOINT with buildah run, then checks /health, /ready, the image's
#      healthcheck, a translation, the threads derived from a 1-CPU quota, and SIGTERM.
#
#   docker/test.sh [--model DIR]
#
# --model DIR mounts a checkpoint folder at /models/NAME and serves it (DRAGOMAN_MODEL) instead
# of the bundled demo model. Needs root and Debian's mirror (DEBIAN_MIRROR; exit 77 when it is
# unreachable). About 80 s on 2 CPUs the first time (debootstrap), 40 s after; WORK (default
# /tmp/dragoman-docker; 1.5 GB during the build, 0.4 GB kept) holds the container storage:
# remove it to start over. Prints image size, build time and the server's peak resident memory.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${WORK:-/tmp/dragoman-docker}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base=localhost/debian:bookworm
image=localhost/dragoman:test
model=""
if [ "${1:-}" = "--model" ]; then
  model="$(cd "${2:?--model needs a folder}" && pwd)"
  shift 2
fi
[ $# -eq 0 ] || { echo "usage: docker/test.sh [--model DIR]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "docker/test.sh: needs root (debootstrap, buildah)" >&2; exit 2; }
[ -f "$repo/models/demo-en-de/config.json" ] ||
  { echo "docker/test.sh: models/demo-en-de is missing; the image bundles it" >&2; exit 2; }

say() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# Everything below needs the mirror (packages, debootstrap, apt-get in the build): without it,
# skip (77, as ctest and the demo pipeline test count skips) rather than fail.
curl -fsI --connect-timeout 10 "$mirror/dists/bookworm/Release" >/dev/null ||
  { echo "docker/test.sh: skipped, $mirror is unreachable"; exit 77; }

"$repo/scripts/setup" --docker

say "validating compose.yaml and k8s/"
/usr/bin/python3 "$repo/docker/validate.py"
yamllint -s -d "{extends: default, rules: {line-length: {max: 100}, document-start: disable}}" \
  "$repo/docker/compose.yaml" "$repo/docker/k8s"
docker-compose -f "$repo/docker/compose.yaml" config -q

# A storage of our own: vfs needs no kernel overlay support, and nothing else on the machine
# shares it.
mkdir -p "$work"
store=(--storage-driver vfs --root "$work/storage" --runroot "$work/run")

if ! podman "${store[@]}" image exists "$base"; then
  say "debootstrap bookworm -> $base"
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log"
  tar -C "$work/rootfs" -cf "$work/base.tar" .
  podman "${store[@]}" import --quiet "$work/base.tar" "$base" >/dev/null
  rm -rf "$work/rootfs" "$work/base.tar"
fi

say "building $image"
start=$(date +%s)
# No --layers: committing every step with vfs storage costs more time and disk than caching saves.
buildah "${store[@]}" bud --isolation chroot --pull=never --format docker \
  --build-arg "BASE=$base" -t "$image" -f "$repo/docker/Dockerfile" "$repo" >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log"; fail "image build (log: $work/build.log)"; }
build_s=$(($(date +%s) - start))
# Images of earlier runs would otherwise pile up.
buildah "${store[@]}" rmi --prune >/dev/null
size=$(buildah "${store[@]}" images --format '{{.Size}}' "$image")

inspect() { buildah "${store[@]}" inspect --type image --format "$1" "$image"; }
[ "$(inspect '{{.Docker.Config.User}}')" = "10001:10001" ] || fail "image user is not 10001"
[ "$(inspect '{{.Docker.Config.Entrypoint}}')" = "[/usr/local/bin/dragoman-entrypoint]" ] ||
  fail "unexpected ENTRYPOINT"
inspect '{{.Docker.Config.Healthcheck}}' | grep -q "CMD /usr/local/bin/dragoman-healthcheck" || fail "no HEALTHCHECK"
inspect '{{.Docker.Config.ExposedPorts}}' | grep -q "8080/tcp" || fail "8080 not exposed"

# A working container for the runs below. (The server sizes its threads from the cgroup quota
# itself: tests/test_serve_units checks that on fake cgroup trees.)
ctr=$(buildah "${store[@]}" from --pull=never "$image")
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  buildah "${store[@]}" rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run=(-e "DRAGOMAN_PORT=$port")
if [ -n "$model" ]; then
  name=$(basename "$model")
  run+=(-v "$model:/models/$name:ro" -e "DRAGOMAN_MODEL=/models/$name")
fi

say "starting the container on port $port"
buildah "${store[@]}" run --isolation chroot --network host "${run[@]}" "$ctr" \
  /usr/local/bin/dragoman-entrypoint >"$work/serve.log" 2>&1 &
server=$!
url="http://127.0.0.1:$port"
for _ in $(seq 120); do
  curl -fs "$url/ready" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; fail "server exited"; }
  sleep 0.5
done
curl -fsS "$url/ready" >/dev/null || { cat "$work/serve.log"; fail "/ready never answered 200"; }

health=$(curl -fsS "$url/health") || fail "/health"
buildah "${store[@]}" run --isolation chroot --network host -e "DRAGOMAN_PORT=$port" "$ctr" \
  /usr/local/bin/dragoman-healthcheck || fail "the image's healthcheck says unhealthy"
reply=$(curl -sS -w '\n%{http_code}' -H 'Content-Type: application/json' \
  -d '{"text":"Open file"}' "$url/v1/translate")
[ "${reply##*$'\n'}" = 200 ] || fail "POST /v1/translate: $reply"
translation=$(printf '%s' "${reply%$'\n'*}" | /usr/bin/python3 -c \
  'import json, sys; t = json.load(sys.stdin)["translations"][0]["text"]; assert t; print(t)') ||
  fail "translation reply: $reply"

# buildah's chroot isolation shares our PID namespace: find the server by its port.
pid=""
for p in $(pgrep -x dragoman); do
  tr '\0' '\n' <"/proc/$p/environ" | grep -qx "DRAGOMAN_PORT=$port" && pid=$p
done
[ -n "$pid" ] || fail "server process not found"
rss_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$pid/status")

kill -TERM "$pid"
wait "$server" || fail "server exit status $? after SIGTERM"
server=""
grep -q "info stopped" "$work/serve.log" || fail "no clean stop after SIGTERM"

say "passed"
cat <<EOF
image          $image, $size (buildah images)
build          ${build_s} s (buildah bud, $(nproc) CPUs)
model          ${model:-bundled demo-en-de}
/health        $health
translate      "Open file" -> "${translation:0:60}"
server         peak RSS $((rss_kb / 1024)) MiB, $threads threads ($(grep -o "workers=[0-9]* threads-per-worker=[0-9]*" "$work/serve.log"))
EOF
