#!/usr/bin/python3
"""Where decoding time goes, by component, from a perf profile of bench_engine.

Record on a build with frame pointers and line tables, e.g.
    cmake -S . -B build-prof -DCMAKE_BUILD_TYPE=Release \
          -DCMAKE_C_FLAGS="-g -fno-omit-frame-pointer -fno-inline-functions-called-once"
    cmake --build build-prof --target bench_engine
    perf record -F 499 --call-graph fp -o perf.data build-prof/bench/bench_engine \
          --model bench/data/transformer-base --threads 1 --sentences 128 --only 4,32
    bench/perf_breakdown.py perf.data build-prof/bench/bench_engine

Only samples under bench_generate count (model loading is left out). GEMMs are told apart by
the line of engine/decoder.c or engine/layers.c that calls dg_matmul; a leaf without a frame
pointer (glibc's memmove) is attributed to its caller's caller. Usage: perf_breakdown.py
PERF.DATA BINARY [SOURCE_ROOT]"""
import collections
import os
import subprocess
import sys

GEMM_KINDS = (("&L->qkv", "GEMM self-attention QKV"), ("&L->o,", "GEMM self-attention out"),
              ("&L->cq", "GEMM cross-attention Q"), ("&L->co", "GEMM cross-attention out"),
              ("lm_head", "GEMM output projection (vocabulary)"), ("&L->fc1", "GEMM FFN fc1"),
              ("&L->fc2", "GEMM FFN fc2"),
              ("dg_ffn", "GEMM FFN fc2"))  # fc2 is dg_ffn's tail call: dg_ffn has no frame


def stacks(data):
    out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,symoff,dso"],
                         capture_output=True, text=True, check=True).stdout
    cur = []
    for line in out.splitlines() + [""]:
        line = line.strip()
        if not line:
            if cur:
                yield cur
            cur = []
            continue
        ip, _, rest = line.partition(" ")
        sym = rest.split(" (")[0].partition("+0x")[0]
        dso = rest[rest.rfind("(") + 1:-1] if "(" in rest else ""
        cur.append((ip, sym, dso))


def main():
    data, binary = sys.argv[1], sys.argv[2]
    root = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..")
    src = {f: open(os.path.join(root, "engine", f)).read().splitlines()
           for f in ("decoder.c", "layers.c")}
    all_stacks = list(stacks(data))
    base = os.path.basename(binary)
    sites = sorted({ip for st in all_stacks for ip, sym, dso in st
                    if sym in ("dg_decode_step", "dg_ffn") and dso.endswith(base)})
    where = {}
    if sites:  # return addresses: the call is the byte before
        r = subprocess.run(["addr2line", "-e", binary] + ["%x" % (int(a, 16) - 1) for a in sites],
                           capture_output=True, text=True, check=True).stdout.splitlines()
        where = dict(zip(sites, r))

    def gemm_kind(ip):
        f, _, n = where.get(ip, "?:0").rsplit("/", 1)[-1].partition(":")
        n = int(n.split(" ")[0]) if n.split(" ")[0].isdigit() else 0
        line = src[f][n - 1] if f in src and 0 < n <= len(src[f]) else ""
        return next((k for key, k in GEMM_KINDS if key in line), None)

    count, total = collections.Counter(), 0
    for st in all_stacks:
        names = [s for _, s, _ in st]
        if "bench_generate" not in names:
            continue
        total += 1
        user = [s for _, s, dso in st if not dso.startswith("[kernel")]
        leaf = user[0] if user else names[0]
        if "dg_encode" in names:
            c = "encoder (all of it)"
        elif leaf.startswith("dg_gemm_"):
            c = "GEMM (other)"
            for ip, s, _ in st:
                if s in ("dg_ffn", "dg_decode_step"):
                    k = gemm_kind(ip)
                    if k:
                        c = k
                        break
        elif leaf.startswith("dg_quant_rows") or leaf == "round_rows_bf16":
            c = "activation quantization"
        elif "cached_rows" in names or "dg_attn_cached" in names:
            c = "self-attention (incl. cache append)"
        elif leaf.startswith("__memmove") and names[names.index(leaf) + 1] == "dg_decode_step":
            c = "self-attention (incl. cache append)"  # memcpy of the appends (dg_attn_cached)
        elif "cross_rows" in names or "dg_attn_cross" in names:
            c = "cross-attention"
        elif any(n in names for n in ("dg_beam_step", "dg_greedy_step", "search_sents")):
            c = "log-softmax, logits processors, top-k, search"
        elif any(n.startswith(("dg_k_", "layernorm")) or n in ("dg_embed", "dg_sublayer_in",
                                                               "dg_sublayer_out")
                 for n in names[:3]):
            c = "layer norm, residual, activation, embedding"
        else:
            c = "other (" + leaf + ")"
        count[c] += 1
    print("samples under bench_generate: %d" % total)
    for c, n in count.most_common():
        if n / total >= 0.003:
            print("%6.1f%%  %s" % (100.0 * n / total, c))


if __name__ == "__main__":
    main()
