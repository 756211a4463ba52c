"""Generation options: one set, one validation, the same limits over HTTP (/v1/translate
"options") and on the command line (`dragoman translate` flags), on the bundled demo model.
Every option the README lists is sent both ways and the results must be the same translations
and scores; the same bad values are refused both ways with messages naming the option as that
caller spells it. Also: a per-request timeout_ms shorter than the server's, and the CLI splitting
lines into sentences as the server does (--no-split turns it off).

usage: test_gen_options.py DRAGOMAN
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server, reference_translations  # noqa: E402

BIN = sys.argv[1]
MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "demo-en-de")
ck = Check()
LINES = ["Open file", "Save changes before closing? The document was modified.",
         "The selected printer is not available"]

# (HTTP options, the same as CLI flags)
CASES = [
    ({"beam_size": 1}, ["--beam-size", "1"]),
    ({"beam_size": 5, "n_best": 3}, ["--beam-size", "5", "--n-best", "3"]),
    ({"num_beams": 3, "num_return_sequences": 2}, ["--beam-size", "3", "--n-best", "2"]),
    ({"max_length": 4}, ["--max-length", "4"]),
    ({"max_new_tokens": 3}, ["--max-new-tokens", "3"]),
    ({"min_length": 12}, ["--min-length", "12"]),
    ({"length_penalty": 2.0, "early_stopping": True}, ["--length-penalty", "2", "--early-stopping",
                                                       "true"]),
    ({"early_stopping": "never"}, ["--early-stopping", "never"]),
    ({"early_stopping": False}, ["--early-stopping", "false"]),
    ({"no_repeat_ngram_size": 1}, ["--no-repeat-ngram-size", "1"]),
    ({"repetition_penalty": 3.5}, ["--repetition-penalty", "3.5"]),
    ({"do_sample": True, "seed": 7, "temperature": 1.3, "top_k": 20, "top_p": 0.95},
     ["--do-sample", "--seed", "7", "--temperature", "1.3", "--top-k", "20", "--top-p", "0.95"]),
    ({"do_sample": True, "top_k": 1}, ["--beam-size", "1"]),  # top-k 1 sampling is greedy
]

# (HTTP options, CLI flags, what both messages must say once the spelling is taken out)
BAD = [
    ({"beam_size": 65}, ["--beam-size", "65"], "must be in [1, 64]"),
    ({"n_best": 5, "beam_size": 2}, ["--n-best", "5", "--beam-size", "2"], "(5) cannot exceed"),
    ({"max_length": 600}, ["--max-length", "600"], "600 exceeds the model's 512 positions"),
    ({"max_length": 9, "max_new_tokens": 3}, ["--max-length", "9", "--max-new-tokens", "3"],
     "not both"),
    ({"min_length": -1}, ["--min-length", "-1"], "must be in [0, 65536]"),
    ({"repetition_penalty": 0}, ["--repetition-penalty", "0"], "must be in [0.001, 100]"),
    ({"do_sample": True, "beam_size": 4}, ["--do-sample", "--beam-size", "4"],
     "1 (beam sampling is not supported)"),
    ({"top_p": 0}, ["--top-p", "0"], "must be in [1e-06, 1]"),
]


def cli(extra, lines=LINES):
    p = subprocess.run([BIN, "translate", "--format", "jsonl"] + extra,
                       input="".join(l + "\n" for l in lines).encode(), capture_output=True,
                       timeout=300)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    doc = json.load(open(os.path.join(src, "server", "api", "openapi.json")))
    documented = doc["components"]["schemas"]["TranslateRequest"]["properties"]["options"][
        "properties"]
    for opts, _ in CASES:
        for k in opts:
            ck(k in documented, "openapi documents option %s" % k)
    readme = open(os.path.join(src, "README.md"), encoding="utf-8").read()
    for k in documented:
        ck("`%s`" % k in readme, "README lists option %s" % k)
    srv = Server(BIN, None)
    try:
        for opts, flags in CASES:
            st, _, body = srv.post_json("/v1/translate", {"text": LINES, "options": dict(
                opts, return_scores=True)})
            ref = reference_translations(BIN, MODEL, LINES, flags)
            ck.eq(st, 200, "HTTP %r status (%r)" % (opts, body))
            if st != 200:
                continue
            for t, r in zip(body["translations"], ref):
                ck.eq([t["text"]] + t.get("alternatives", []), r["text"],
                      "HTTP %r = CLI %r" % (opts, flags))
                ck(abs(t["score"] - r["scores"][0]) < 1e-4, "score %r vs %r" % (t["score"],
                                                                              r["scores"][0]))
        for opts, flags, needle in BAD:
            st, _, body = srv.post_json("/v1/translate", {"text": "a", "options": opts})
            msg = body["error"]["message"] if isinstance(body, dict) else ""
            ck(st == 400 and needle in msg, "HTTP %r: %s %r" % (opts, st, msg))
            name = "n_best" if "n_best" in opts else ("max_length" if "max_length" in opts else
                                                     next(iter(opts)))
            ck(name in msg, "HTTP message names '%s': %r" % (name, msg))
            rc, _, err = cli(flags, ["a"])
            ck(rc != 0 and needle in err, "CLI %r: %d %r" % (flags, rc, err))
            ck("--" + name.replace("_", "-") in err and "num_beams" not in err
               and "num_return_sequences" not in err, "CLI message names the flag: %r" % err)
        # sampling: the same seed gives the same translations, other seeds others
        sampled = []
        for seed in (11, 11, 12, 13):
            st, _, body = srv.post_json("/v1/translate", {"text": LINES, "options": {
                "do_sample": True, "seed": seed, "temperature": 2.0}})
            sampled.append([t["text"] for t in body["translations"]] if st == 200 else st)
        ck.eq(sampled[0], sampled[1], "same seed, same sample")
        ck(sampled[0] != sampled[2] or sampled[0] != sampled[3], "other seeds, other samples")
        # target_prefix: forcing the words greedy search picks anyway changes no token; another
        # prefix begins the translation; HTTP = CLI
        q = LINES[1]
        greedy = reference_translations(BIN, MODEL, [q], ["--beam-size", "1", "--no-split"])[0]
        first = greedy["text"][0].split()[0]
        forced = reference_translations(BIN, MODEL, [q], ["--beam-size", "1", "--target-prefix",
                                                          first])[0]
        ck.eq(forced["ids"], greedy["ids"], "prefix %r = the greedy choice: same ids" % first)
        st, _, body = srv.post_json("/v1/translate", {"text": [q, LINES[0]], "options": {
            "target_prefix": "Bitte", "beam_size": 3}})
        cli_out = reference_translations(BIN, MODEL, [q, LINES[0]], ["--beam-size", "3",
                                                                     "--target-prefix", "Bitte"])
        ck.eq(st, 200, "target_prefix status")
        ck.eq([t["text"] for t in body["translations"]], [r["text"][0] for r in cli_out],
              "target_prefix: HTTP = CLI")
        ck(all(t["text"].startswith("Bitte") for t in body["translations"]),
           "translations begin with the prefix: %r" % body)
        st, _, body = srv.post_json("/v1/translate", {"text": "a", "options": {
            "target_prefix": " ".join(["Datei"] * 70)}})
        ck.eq((st, body["error"]["message"]), (400, "target_prefix has 70 tokens, at most 64"),
              "target_prefix limit")
        # a request may shorten the server's deadline, never lengthen it
        st, _, body = srv.post_json("/v1/translate", {"text": [LINES[2] + " %d" % i
                                                               for i in range(100)],
                                                      "options": {"timeout_ms": 1}})
        ck.eq((st, body["error"]["code"]), (504, "timeout"), "timeout_ms 1")
        ck("within 1 ms" in body["error"]["message"], "the message names the request's timeout")
        st, _, body = srv.post_json("/v1/translate", {"text": "Open file",
                                                      "options": {"timeout_ms": 86400000}})
        ck.eq(st, 200, "timeout_ms above the server's is capped, not refused")
        # the CLI splits like the server
        text = "Open file. Save changes before closing?\nThe document was modified."
        st, _, body = srv.post_json("/v1/translate", {"text": text})
        rc, out, err = cli([], [text.replace("\n", " ")])
        st2, _, body2 = srv.post_json("/v1/translate", {"text": text.replace("\n", " ")})
        ck.eq(rc, 0, "CLI exit (%s)" % err)
        ck.eq(json.loads(out)["text"][0], body2["translations"][0]["text"], "CLI splits as the server")
        parts = [reference_translations(BIN, MODEL, [p], ["--no-split"])[0]["text"][0]
                 for p in ["Open file.", "Save changes before closing?", "The document was modified."]]
        ck.eq(body2["translations"][0]["text"], " ".join(parts), "split = sentence by sentence")
        # ids hold one EOS (id 0 in the demo model) per sentence translated
        ck.eq(json.loads(out)["ids"][0].count(0), 3, "split: three sentences")
        rc, out, _ = cli(["--no-split"], [text.replace("\n", " ")])
        ck.eq((rc, json.loads(out)["ids"][0].count(0)), (0, 1), "--no-split: one sentence")
    finally:
        ck.eq(srv.stop(), 0, "server exit status")
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())
