#!/usr/bin/env bash
# DESIGN: `dragoman tokenize` / `dragoman detokenize` end to end against the Hugging Face golden
# files: every encode line of each shared tokenizer folder goes through the CLI (source ids,
# target ids, target pieces) and every decode line back (with and without special tokens);
# the outputs must equal the golden fields. Then the error paths: an invalid UTF-8 line names
# its line number and fails the run, a bad id fails detokenize, a bad option is a usage error.
# usage: test_cli_tokenize.sh DRAGOMAN SHARED_DIR PYTHON WORK_DIR
set -u
dragoman=$1 shared=$2 python=$3 work=$4/cli_tokenize
mkdir -p "$work"
fail=0 pass=0
check() { # name, then a command whose success means pass
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name" >&2; fi
}

for folder in opus-mt-en-mg opus-mt-en-pt-ft opus-mt-fr-en-ft; do
    model=$shared/tokenizers/$folder
    d=$work/$folder
    mkdir -p "$d"
    # split the golden file into CLI inputs and expected outputs (texts hold no '\n')
    "$python" - "$shared/tokenizers/golden/$folder.jsonl" "$d" <<'EOF'
import json, sys
src, d = sys.argv[1], sys.argv[2]
enc = [json.loads(l) for l in open(src, encoding="utf-8") if '"encode"' in l]
dec = [json.loads(l) for l in open(src, encoding="utf-8") if '"decode"' in l]
def out(name, rows):
    with open(f"{d}/{name}", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(r + "\n" for r in rows)
assert not any("\n" in g["text"] for g in enc)
out("text", [g["text"] for g in enc])
out("ids", [" ".join(map(str, g["ids"])) for g in enc])
out("target_ids", [" ".join(map(str, g["target_ids"])) for g in enc])
out("target_tokens", [" ".join(g["target_tokens"]) for g in enc])
out("dec_ids", [" ".join(map(str, g["ids"])) for g in dec])
out("decoded", [g["decoded"] for g in dec])
out("decoded_keep", [g["decoded_keep_special"] for g in dec])
EOF
    "$dragoman" tokenize --model "$model" < "$d/text" > "$d/got_ids"
    check "$folder source ids" cmp -s "$d/got_ids" "$d/ids"
    "$dragoman" tokenize --model "$model" --side target < "$d/text" > "$d/got_target_ids"
    check "$folder target ids" cmp -s "$d/got_target_ids" "$d/target_ids"
    "$dragoman" tokenize --model "$model" --side target --pieces < "$d/text" > "$d/got_tokens"
    check "$folder target pieces" cmp -s "$d/got_tokens" "$d/target_tokens"
    "$dragoman" detokenize --model "$model" < "$d/dec_ids" > "$d/got_decoded"
    check "$folder decoded" cmp -s "$d/got_decoded" "$d/decoded"
    "$dragoman" detokenize --model "$model" --keep-special < "$d/dec_ids" > "$d/got_keep"
    check "$folder decoded keep-special" cmp -s "$d/got_keep" "$d/decoded_keep"
done

model=$shared/tokenizers/opus-mt-en-mg
printf 'hello world\nbad \xc3\x28 byte\nnever read\n' |
    "$dragoman" tokenize --model "$model" > "$work/bad_out" 2> "$work/bad_err"
check "invalid UTF-8 exits 1" test $? -eq 1
check "invalid UTF-8 names line and offset" grep -q "line 2: .*invalid UTF-8 at byte offset 4" "$work/bad_err"
check "lines before the bad one are written" test "$(wc -l < "$work/bad_out")" -eq 1
printf '17 0\n17 x\n' | "$dragoman" detokenize --model "$model" > /dev/null 2> "$work/bad_ids"
check "bad id exits 1" test $? -eq 1
check "bad id names line" grep -q "line 2: 'x' is not an integer id" "$work/bad_ids"
printf '99999999\n' | "$dragoman" detokenize --model "$model" > /dev/null 2> "$work/range"
check "out-of-range id is rejected" grep -q "outside the target vocabulary" "$work/range"
"$dragoman" tokenize --model "$model" --side middle < /dev/null 2> /dev/null
check "bad --side is a usage error" test $? -eq 2
"$dragoman" tokenize --model /nonexistent-dragoman-dir < /dev/null 2> /dev/null
check "missing model folder fails" test $? -eq 1

# --source / --target (ids from golden-public: "Hello" = 263 677 910 in the fairseq spm
# checkpoints; tokenizer_config.json: deu_Latn 1043, __de__ 1017)
gp=$shared/golden-public
check "nllb --source de frames deu_Latn" test "$(echo Hello | "$dragoman" tokenize --model "$gp/nllb-rand" --source de)" = "1043 263 677 910 2"
check "m2m100 --source de frames __de__" test "$(echo Hello | "$dragoman" tokenize --model "$gp/m2m100-rand" --source deu)" = "1017 263 677 910 2"
pt_want=$("$dragoman" tokenize --model "$shared/tokenizers/opus-mt-en-pt-ft" <<< ">>por<< Hello")
check "marian --target pt prefixes >>por<<" test "$(echo Hello | "$dragoman" tokenize --model "$shared/tokenizers/opus-mt-en-pt-ft" --target pt)" = "$pt_want"
echo Hello | "$dragoman" tokenize --model "$gp/nllb-rand" --target xx > /dev/null 2> "$work/lang_err"
check "unknown --target exits 1" test $? -eq 1
check "unknown --target names the flag and the languages" grep -q -- "--target: target language \"xx\" is not supported by this model; available: " "$work/lang_err"
echo Hello | "$dragoman" tokenize --model "$gp/mbart-rand" --source de > /dev/null 2> "$work/lang_err2"
check "a language the model lacks is named" grep -q -- "--source: .*available: en" "$work/lang_err2"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
