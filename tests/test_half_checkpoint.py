#!/usr/bin/python3
"""DESIGN: F16 and BF16 checkpoints stay 16-bit in memory (models/arch.h: matrices and embeddings
are bound as stored and widened row by row while packing or embedding) and must translate
exactly as the float32 file holding the same values: the demo model is rewritten as F16 (and
BF16, rounded to nearest even) and as those values widened to F32, and both translate the UI
sentences (beam 4, every compute type) to the same ids and scores.

    test_half_checkpoint.py DRAGOMAN_BINARY"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
DEMO = os.path.join(SRC, "models", "demo-en-de")


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    types = {"F32": np.float32, "F16": np.float16}  # the demo model ships as either
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]],
                             dtype=types[v["dtype"]]).astype(np.float32).reshape(v["shape"])
            for k, v in hdr.items() if k != "__metadata__"}


def write_st(path, tensors, dtype):
    hdr, blobs, off = {}, [], 0
    for k, (a, raw) in tensors.items():
        hdr[k] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def half(a, dtype):
    """(values widened to float32, stored 16-bit bytes)"""
    if dtype == "F16":
        h = a.astype(np.float16)
        return h.astype(np.float32), h.tobytes()
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    b = ((u + 0x7fff + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return (b.astype(np.uint32) << 16).view(np.float32), b.tobytes()


def model_dir(root, name, tensors, dtype):
    d = os.path.join(root, name)
    os.makedirs(d)
    for f in os.listdir(DEMO):
        if f != "model.safetensors":
            shutil.copy(os.path.join(DEMO, f), d)
    write_st(os.path.join(d, "model.safetensors"), tensors, dtype)
    return d


def translate(dragoman, model, ct, lines):
    p = subprocess.run([dragoman, "translate", "--model", model, "--compute-type", ct,
                        "--beam-size", "4", "--format", "jsonl"],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def main():
    dragoman = sys.argv[1]
    with open(os.path.join(SRC, "models", "demo", "ui-sentences.tsv"), encoding="utf-8") as f:
        ui = [l.split("\t")[0] for l in f if l.strip()]
    weights = read_st(os.path.join(DEMO, "model.safetensors"))
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in ("F16", "BF16"):
            conv = {k: half(a, dtype) for k, a in weights.items()}
            d16 = model_dir(tmp, dtype, {k: (w, raw) for k, (w, raw) in conv.items()}, dtype)
            d32 = model_dir(tmp, dtype + "-widened",
                            {k: (w, w.tobytes()) for k, (w, raw) in conv.items()}, "F32")
            for ct in ("float32", "int8", "bfloat16"):
                r16, r32 = translate(dragoman, d16, ct, ui), translate(dragoman, d32, ct, ui)
                ok = r16[0] == 0 and r32[0] == 0 and r16[1] == r32[1] and \
                    len(r16[1].splitlines()) == len(ui)
                print("%s %s file, %s: %s" % ("ok" if ok else "FAIL", dtype, ct,
                                              "same ids and scores as its F32 widening" if ok else
                                              "differs (rc %d/%d) %s %s" % (r16[0], r32[0], r16[2],
                                                                            r32[2])))
                fails += not ok
    print("%d failures" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
