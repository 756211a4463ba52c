"""Self-check of marian_ref.py against facts computed by hand or by independent torch.nn code.

DESIGN
The C engine is judged by marian_ref.py, so marian_ref.py is judged here by things that do not
come from it: beam searches over hand-built probability tables whose outcome is worked out in the
comments, the processors on hand-made rows, the sinusoidal formula, torch.nn.Transformer*Layer
(post-norm, the same layer algebra as HF Marian) for the layers, and padded-vs-single runs.
Prints "N passed, N failed"; exits 1 on any failure.
"""
import math
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import marian_ref as mr  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def near(a, b, tol=1e-5):
    return abs(a - b) <= tol


# ---------------------------------------------------------------------------------------------
# a hand-built "model": next-token probabilities keyed by the generated prefix

EOS, A, B, C, PAD = 0, 1, 2, 3, 4
L = math.log


def table_step(table, default, calls):
    """Logits = log p, so log_softmax(logits) = log p (pad gets p = 0 unless given)."""
    def step(prefix):
        calls.append(prefix.shape[1])
        rows = []
        for r in prefix.tolist():
            p = table.get(tuple(r[1:]), default)
            rows.append([L(p[t]) if p.get(t, 0) > 0 else -math.inf for t in range(5)])
        return torch.tensor(rows, dtype=torch.float32)
    return step


def gen(**kw):
    g = {"num_beams": 2, "num_return_sequences": 2, "max_new_tokens": 3, "max_length": 20,
         "min_length": 0, "length_penalty": 1.0, "early_stopping": False, "no_repeat_ngram_size": 0,
         "repetition_penalty": 1.0, "bad_words_ids": [[PAD]], "forced_bos_token_id": None,
         "forced_eos_token_id": None, "renormalize_logits": False, "eos_token_id": EOS,
         "pad_token_id": PAD, "decoder_start_token_id": PAD}
    g.update(kw)
    if g["max_new_tokens"] is not None:
        g["max_length"] = 1 + g["max_new_tokens"]
    return g


# Case A (2 beams, max_new_tokens 3). Step 1: a .5, b .3, c .15, eos .05: the 4 candidates are
# a, b, c, eos; a and b run; eos has rank 3 >= 2 and is ignored. Step 2: from a: eos .6 -> rank 0
# finishes [a eos] with (ln.5 + ln.6) / 2; [b c] (ln.3 + ln.7) and [a c] (ln.5 + ln.2) run.
# Step 3: [b c eos] (ln.3+ln.7+ln.9)/3 and [a c eos] (ln.5+ln.2+ln.5)/3 have ranks 0 and 1: both
# finish; the heap (2) drops [a c eos], the worst. Done test: worst (ln.5+ln.6)/2 = -0.602 >=
# best candidate (ln.3+ln.7+ln.9)/3 = -0.555? no. The length limit stops the search; finalize
# offers the running beams ([a c a] (ln.5+ln.2+ln.3)/3 ...), all worse than the worst kept.
TABLE_A = {(): {A: .5, B: .3, C: .15, EOS: .05},
           (A,): {EOS: .6, A: .12, B: .08, C: .2},
           (B,): {EOS: .1, A: .1, B: .1, C: .7},
           (B, C): {EOS: .9, A: .05, B: .03, C: .02},
           (A, C): {EOS: .5, A: .3, B: .12, C: .08}}
DEFAULT = {EOS: .4, A: .3, B: .2, C: .1}


def test_beam_hand():
    calls = []
    out = mr.beam_search(table_step(TABLE_A, DEFAULT, calls), gen())
    check([o[0] for o in out] == [[B, C, EOS], [A, EOS]], f"case A hypotheses {out}")
    check(near(out[0][1], (L(.3) + L(.7) + L(.9)) / 3), "case A best score")
    check(near(out[1][1], (L(.5) + L(.6)) / 2), "case A second score (EOS counted in the length)")
    check(calls == [1, 2, 3], f"case A steps {calls}")
    # length_penalty 2: scores divide by len**2; [a eos] (-1.204/4 = -0.301) now beats
    # [b c eos] (-1.666/9 = -0.185)? no: -0.185 > -0.301, order unchanged, values change.
    out = mr.beam_search(table_step(TABLE_A, DEFAULT, []), gen(length_penalty=2.0))
    check(near(out[0][1], (L(.3) + L(.7) + L(.9)) / 9) and near(out[1][1], (L(.5) + L(.6)) / 4),
          "case A length_penalty 2")
    # Only one hypothesis requested: the best.
    out = mr.beam_search(table_step(TABLE_A, DEFAULT, []), gen(num_return_sequences=1))
    check(len(out) == 1 and out[0][0] == [B, C, EOS], "num_return_sequences 1")


def test_is_done():
    # With 10 new tokens allowed, case A continues after step 3 under early_stopping False
    # (worst -0.602 < best candidate -0.555) and stops at step 4: the best candidate then is
    # [a c a eos] = (ln.5+ln.2+ln.3+ln.4)/4 = -1.106 <= -0.602. early_stopping True stops at step 3
    # (2 finished hypotheses). "never" (length_penalty > 0) divides the best candidate by the
    # maximal length 10 instead: -1.666/10 = -0.167 and -4.42/10 = -0.442 both beat -0.602, so it
    # keeps going past step 4.
    for es, want in ((False, [1, 2, 3, 4]), (True, [1, 2, 3])):
        calls = []
        out = mr.beam_search(table_step(TABLE_A, DEFAULT, calls), gen(max_new_tokens=10, early_stopping=es))
        check(calls == want, f"early_stopping {es}: steps {calls}")
        check(out[0][0] == [B, C, EOS], f"early_stopping {es}: result {out}")
    calls = []
    mr.beam_search(table_step(TABLE_A, DEFAULT, calls), gen(max_new_tokens=10, early_stopping="never"))
    check(len(calls) > 4, f"early_stopping never: steps {calls}")


def test_eos_rank():
    # Case E (2 beams, early_stopping True, length_penalty 0: scores are plain sums). Step 1: a .5,
    # b .4 run. Step 2: [a eos] ln.5+ln.6 (rank 0, finished), [a a] ln.5+ln.3 (rank 1),
    # [b eos] ln.4+ln.35 = -1.966 (rank 2 >= num_beams: ignored; accepting it would complete 2
    # hypotheses and stop here), [b a] ln.4+ln.3 (rank 3). Step 3 (eos .4, a .3, b .2, c .1):
    # [a a eos] (rank 0) and [b a eos] (rank 1) finish; 3 hypotheses, the worst [b a eos] is dropped.
    t = {(): {A: .5, B: .4, C: .06, EOS: .04},
         (A,): {EOS: .6, A: .3, B: .06, C: .04},
         (B,): {EOS: .35, A: .3, B: .2, C: .15}}
    calls = []
    out = mr.beam_search(table_step(t, DEFAULT, calls), gen(max_new_tokens=5, length_penalty=0.0,
                                                           early_stopping=True))
    check(calls == [1, 2, 3], f"EOS of rank >= num_beams ignored: steps {calls}")
    check([o[0] for o in out] == [[A, EOS], [A, A, EOS]] and near(out[0][1], L(.5) + L(.6))
          and near(out[1][1], L(.5) + L(.3) + L(.4)), f"case E result {out}")


def test_done_length():
    # Case D: case A with eos .7 after [a] (and the old [a c] row under [a a], which now runs).
    # Step 2 finishes [a eos] = (ln.5+ln.7)/2 = -0.525. Step 3 finishes [b c eos] = -1.666/3 =
    # -0.555 and [a a eos] (dropped). Done test: worst -0.525 >= best candidate -1.666 / 3 (the
    # generated length counting this step's token; -1.666/4 = -0.417 would not stop): done after
    # 3 steps although 10 new tokens are allowed; [a eos] is now the best.
    t = dict(TABLE_A)
    t[(A,)] = {EOS: .7, A: .12, B: .08, C: .1}
    t[(A, A)] = TABLE_A[(A, C)]
    calls = []
    out = mr.beam_search(table_step(t, DEFAULT, calls), gen(max_new_tokens=10))
    check(calls == [1, 2, 3], f"case D stops at step 3: {calls}")
    check([o[0] for o in out] == [[A, EOS], [B, C, EOS]] and near(out[0][1], (L(.5) + L(.7)) / 2)
          and near(out[1][1], (L(.3) + L(.7) + L(.9)) / 3), f"case D result {out}")


def test_finalize():
    # Case F (2 beams, max_new_tokens 2): EOS never ranks < 2. Step 1: a .6 -> ln.6, b .3.
    # Step 2 (both prefixes: a .5, b .28, c .17, eos .05): [a a] ln.6+ln.5, [a b] ln.6+ln.28,
    # [b a] ln.3+ln.5, ... [a a] and [a b] run; the limit is reached without a finished hypothesis,
    # so finalize adds the running beams, no EOS, score = sum / 2.
    t = {(): {A: .6, B: .3, C: .09, EOS: .01}}
    d = {A: .5, B: .28, C: .17, EOS: .05}
    out = mr.beam_search(table_step(t, d, []), gen(max_new_tokens=2))
    check([o[0] for o in out] == [[A, A], [A, B]], f"finalize hypotheses {out}")
    check(near(out[0][1], (L(.6) + L(.5)) / 2) and near(out[1][1], (L(.6) + L(.28)) / 2), "finalize scores")


def test_logsoftmax_before_ban():
    # Raw logits where pad is the argmax: beam scores are log_softmax over ALL ids (pad's mass
    # included), then pad is banned; greedy takes the argmax of the processed logits.
    raw = torch.tensor([[1.0, 2.0, 0.0, 0.0, 5.0]])
    z = math.exp(1) + math.exp(2) + 2 + math.exp(5)
    step = lambda prefix: raw.expand(prefix.shape[0], -1)  # noqa: E731
    out = mr.beam_search(step, gen(max_new_tokens=1))
    check(out[0][0] == [A] and near(out[0][1], 2 - math.log(z)), f"beam lp includes pad mass {out}")
    ids, score = mr.greedy(step, gen(num_beams=1, max_new_tokens=1))
    zp = math.exp(1) + math.exp(2) + 2
    check(ids == [A] and near(score, 2 - math.log(zp)), f"greedy skips pad, score {ids} {score}")
    out = mr.beam_search(step, gen(max_new_tokens=1, renormalize_logits=True))
    check(near(out[0][1], 2 - math.log(zp)), "renormalize_logits removes pad mass")


def test_processors():
    ids = torch.tensor([[PAD, A, B, A]])
    s = torch.tensor([[-2.0, 3.0, -1.0, 0.5, 0.0]])
    p = mr.process(gen(repetition_penalty=2.0, bad_words_ids=None), ids, s)[0].tolist()
    check(p == [-2.0, 1.5, -2.0, 0.5, 0.0], f"repetition penalty {p}")   # a: 3/2, b: -1*2, pad: 0/2
    p = mr.process(gen(no_repeat_ngram_size=2, bad_words_ids=None), ids, s)[0].tolist()
    check(p[B] == -math.inf and p.count(-math.inf) == 1, f"no_repeat_ngram 2 bans b after a {p}")
    p = mr.process(gen(no_repeat_ngram_size=3, bad_words_ids=None), ids, s)[0].tolist()
    check(p.count(-math.inf) == 0, "no_repeat_ngram 3: (b a) never seen before")
    # min_length counts the decoder start: with min_length 3, EOS is banned at length 2 only.
    p2 = mr.process(gen(min_length=3), torch.tensor([[PAD, A]]), s)[0].tolist()
    p3 = mr.process(gen(min_length=3), torch.tensor([[PAD, A, A]]), s)[0].tolist()
    check(p2[EOS] == -math.inf and p3[EOS] == -2.0 and p3[PAD] == -math.inf, "min_length / bad words")
    # forced EOS when cur_len == max_length - 1 (max_new_tokens 3 -> max_length 4).
    g = gen(forced_eos_token_id=EOS)
    p = mr.process(g, torch.tensor([[PAD, A, B]]), s)[0].tolist()
    check(p == [0.0] + [-math.inf] * 4, f"forced EOS {p}")
    check(mr.process(g, ids[:, :2], s)[0].tolist()[A] == 3.0, "forced EOS only at the limit")


def test_sinusoidal():
    pe = mr.sinusoidal_table(10, 8)
    check(near(float(pe[3, 1]), math.sin(3 / 10000 ** (2 / 8)), 1e-6), "pe sin half")
    check(near(float(pe[3, 5]), math.cos(3 / 10000 ** (2 / 8)), 1e-6), "pe cos half")
    check(near(float(pe[7, 3]), math.sin(7 / 10000 ** (6 / 8)), 1e-6), "pe sin last")
    check(pe[0, :4].abs().max() == 0 and (pe[0, 4:] == 1).all(), "pe position 0")


def tiny(share=True, tie=True, act="relu"):
    v = dict(d=16, enc=2, dec=2, heads=2, ffn=32, act=act, scale=True, tie=tie, share=share,
             max_pos=32, max_length=10, dtype="F32", forced_eos=False, renorm=False, normalize_before=False)
    sv = tv = {"size": 50, "eos": 0, "unk": 1, "pad": 49}
    cfg, g = mf.hf_config(v, sv, tv)
    torch.manual_seed(0)
    p = mf.init_params(v, cfg, g)
    for k in p:   # larger weights than the 0.02 init so that differences are visible
        if "layer_norm" not in k:
            p[k] = p[k] * 20 if p[k].dim() == 2 else torch.randn_like(p[k]) * 0.5
    return cfg, p


def test_layers_vs_torch_nn():
    """HF Marian layers are post-norm: the algebra of torch.nn.Transformer*Layer(norm_first=False)."""
    cfg, p = tiny(act="gelu")
    m = mr.Marian(cfg, p)
    enc_l = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, activation="gelu", batch_first=True)
    dec_l = torch.nn.TransformerDecoderLayer(16, 2, 32, dropout=0.0, activation="gelu", batch_first=True)

    def load_attn(mha, pre):
        mha.in_proj_weight.data = torch.cat([p[pre + n + ".weight"] for n in ("q_proj", "k_proj", "v_proj")])
        mha.in_proj_bias.data = torch.cat([p[pre + n + ".bias"] for n in ("q_proj", "k_proj", "v_proj")])
        mha.out_proj.weight.data, mha.out_proj.bias.data = p[pre + "out_proj.weight"], p[pre + "out_proj.bias"]

    def load_common(layer, pre, norms):
        layer.linear1.weight.data, layer.linear1.bias.data = p[pre + "fc1.weight"], p[pre + "fc1.bias"]
        layer.linear2.weight.data, layer.linear2.bias.data = p[pre + "fc2.weight"], p[pre + "fc2.bias"]
        for mod, name in zip(norms, ("self_attn_layer_norm", "encoder_attn_layer_norm", "final_layer_norm")
                             if len(norms) == 3 else ("self_attn_layer_norm", "final_layer_norm")):
            mod.weight.data, mod.bias.data = p[pre + name + ".weight"], p[pre + name + ".bias"]

    load_attn(enc_l.self_attn, "model.encoder.layers.0.self_attn.")
    load_common(enc_l, "model.encoder.layers.0.", (enc_l.norm1, enc_l.norm2))
    load_attn(dec_l.self_attn, "model.decoder.layers.0.self_attn.")
    load_attn(dec_l.multihead_attn, "model.decoder.layers.0.encoder_attn.")
    load_common(dec_l, "model.decoder.layers.0.", (dec_l.norm1, dec_l.norm2, dec_l.norm3))
    cfg1 = dict(cfg, encoder_layers=1, decoder_layers=1)
    m1 = mr.Marian(cfg1, p)
    src = torch.tensor([[5, 9, 3, 0], [7, 2, 0, 49]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    dec = torch.tensor([[49, 4, 8], [49, 11, 6]])
    with torch.no_grad():
        x = torch.nn.functional.embedding(src, p["model.shared.weight"]) * 4.0 + m.pos[:4]
        ref_enc = enc_l(x, src_key_padding_mask=mask == 0)
        got_enc = m1.encode(src, mask)
        y = torch.nn.functional.embedding(dec, p["model.shared.weight"]) * 4.0 + m.pos[:3]
        causal = torch.triu(torch.full((3, 3), -math.inf), diagonal=1)
        ref_dec = dec_l(y, ref_enc, tgt_mask=causal, memory_key_padding_mask=mask == 0)
        got_dec = m1.decode_hidden(dec, got_enc, mask)
    check(torch.allclose(ref_enc[0], got_enc[0], atol=1e-4) and torch.allclose(ref_enc[1, :3], got_enc[1, :3], atol=1e-4),
          f"encoder layer vs torch.nn: {float((ref_enc - got_enc)[:, :3].abs().max())}")
    check(torch.allclose(ref_dec, got_dec, atol=1e-4), f"decoder layer vs torch.nn: {float((ref_dec - got_dec).abs().max())}")


def test_padding_and_limits():
    cfg, p = tiny()
    m = mr.Marian(cfg, p)
    srcs = [[5, 9, 3, 8, 0], [7, 0], [4, 4, 0]]
    dec = torch.tensor([[49, 4, 8]] * 3)
    ids, mask = mf.pad_to(srcs, 49)
    with torch.no_grad():
        batch = m.forward(ids, mask, dec)
        for i, s in enumerate(srcs):
            one = m.forward(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long), dec[:1])
            check(torch.allclose(batch[i], one[0], atol=1e-5), f"padded row {i} == single run")
    try:
        m.encode(torch.zeros(1, 33, dtype=torch.long), torch.ones(1, 33))
        check(False, "33 positions with max_position_embeddings 32 must fail")
    except mr.TooLong:
        check(True, "too long")
    m.encode(torch.zeros(1, 32, dtype=torch.long), torch.ones(1, 32))   # exactly the limit: fine


def test_checkpoint_layouts():
    for share, tie, want in ((True, True, {"model.shared.weight"}), (True, False, {"model.shared.weight", "lm_head.weight"}),
                             (False, True, {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"})):
        cfg, p = tiny(share=share, tie=tie)
        emb = {k for k in p if "embed" in k or "shared" in k or "lm_head" in k}
        check(emb == want, f"share={share} tie={tie}: embedding tensors {emb}")
    cfg, p = tiny()
    with tempfile.TemporaryDirectory() as d:
        for dt, tol in (("F32", 0.0), ("F16", 1e-3)):
            path = os.path.join(d, "m.safetensors")
            mr.write_safetensors(path, p, dt)
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
            back = mr.read_safetensors(path)
            check(n % 8 == 0 and set(back) == set(p), f"{dt} header")
            err = max(float(((back[k] - p[k]) / (p[k].abs() + 1)).abs().max()) for k in p)
            check(err <= tol, f"{dt} round trip error {err}")


for t in (test_beam_hand, test_is_done, test_eos_rank, test_done_length, test_finalize, test_logsoftmax_before_ban, test_processors,
          test_sinusoidal, test_layers_vs_torch_nn, test_padding_and_limits, test_checkpoint_layouts):
    t()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
