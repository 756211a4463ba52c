"""PyTorch reference of Hugging Face transformers 4.40 MarianMTModel: forward pass and generate().

DESIGN
Written from transformers 4.40 source (models/marian/modeling_marian.py, generation/utils.py
`_get_logits_processor` / `_greedy_search` / `_beam_search`, generation/beam_search.py
`BeamSearchScorer` / `BeamHypotheses`, generation/logits_process.py) and /work/shared/HF-SEMANTICS.md.
transformers itself is not importable here, so this file re-states the computation with plain
torch ops on a dict of tensors keyed by the Hugging Face names (exactly what model.safetensors
holds). The C engine is tested against outputs of this file, never against itself.

Model (MarianMTModel, eager attention, eval mode):
  * tokens * sqrt(d_model) when scale_embedding, plus sinusoidal positions computed as
    MarianSinusoidalPositionalEmbedding._init_weight does (float64 numpy, [sin | cos] halves,
    positions from 0, not stored in the checkpoint). Positions >= max_position_embeddings raise
    IndexError in HF; `TooLong` here.
  * post-norm layers whatever config.normalize_before says (the HF Marian layers have no pre-norm
    branch); LayerNorm eps 1e-5; activation from ACT2FN (swish = SiLU, gelu = exact erf GELU).
  * padding: additive mask of finfo(float32).min on padded keys (encoder self-attention and
    decoder cross-attention); decoder self-attention is causal.
  * logits = decoder_out @ lm_head^T + final_logits_bias. lm_head is `lm_head.weight` when
    tie_word_embeddings is false, else the decoder embedding. Embeddings: `model.shared.weight`
    when share_encoder_decoder_embeddings (default), else `model.{encoder,decoder}.embed_tokens`.
    NOTE: transformers 4.40 cannot load share_encoder_decoder_embeddings=false checkpoints whose
    decoder_vocab_size != vocab_size (MarianModel deep-copies a vocab_size-row `shared` for the
    decoder; size mismatch at load, see transformers PR #26400, unmerged). This reference gives the
    evident intent: the decoder embedding has decoder_vocab_size rows, as Marian's converter writes.

Generation (see `greedy` and `beam_search` for the exact rules and the score definitions).
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F


class TooLong(Exception):
    """An input longer than max_position_embeddings (HF: IndexError in the position table)."""


# ---------------------------------------------------------------------------------------------
# safetensors (the python package is not available: a minimal reader/writer of the format)

_ST_DTYPES = {"F32": np.float32, "F16": np.float16}


def write_safetensors(path, tensors, dtype="F32"):
    """tensors: dict name -> numpy/torch array. Offsets stay multiples of the element size and
    the header is padded to 8 bytes, as safetensors does, so F32 data is 4-byte aligned."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        b = np.ascontiguousarray(a, dtype=np.dtype(_ST_DTYPES[dtype]).newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns dict name -> float32 torch tensor (F16 upcast, as from_pretrained does for an
    F16 file loaded into a float32 model)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        a = np.frombuffer(data[base + lo:base + hi], dtype=np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(a.astype(np.float32).reshape(info["shape"]).copy())
    return out


# ---------------------------------------------------------------------------------------------
# model

def sinusoidal_table(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight: angles in float64, sin in the first half,
    cos in the second half (not interleaved), then cast to float32."""
    pe = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.empty(n_pos, dim, dtype=torch.float32)
    half = dim // 2 if dim % 2 == 0 else dim // 2 + 1
    out[:, 0:half] = torch.FloatTensor(np.sin(pe[:, 0::2]))
    out[:, half:] = torch.FloatTensor(np.cos(pe[:, 1::2]))
    return out


_ACT = {"swish": F.silu, "silu": F.silu, "relu": F.relu, "gelu": F.gelu,
        "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


class Marian:
    """Functional MarianMTModel over a dict of HF-named tensors (trainable when they require grad)."""

    def __init__(self, config, params):
        self.cfg = config
        self.p = params
        self.d = config["d_model"]
        self.act = _ACT[config.get("activation_function", "gelu")]
        self.scale = math.sqrt(self.d) if config.get("scale_embedding", False) else 1.0
        self.max_pos = config["max_position_embeddings"]
        self.pos = sinusoidal_table(self.max_pos, self.d)
        shared = config.get("share_encoder_decoder_embeddings", True)
        self.enc_emb_name = "model.shared.weight" if shared else "model.encoder.embed_tokens.weight"
        self.dec_emb_name = "model.shared.weight" if shared else "model.decoder.embed_tokens.weight"
        self.tied = config.get("tie_word_embeddings", True)

    def lm_head(self):
        return self.p[self.dec_emb_name] if self.tied else self.p["lm_head.weight"]

    def _positions(self, start, n):
        if start + n > self.max_pos:
            raise TooLong(f"position {start + n - 1} >= max_position_embeddings {self.max_pos}")
        return self.pos[start:start + n]

    def _attn(self, pre, x, kv, mask, heads):
        """MarianAttention (eager): q scaled by head_dim**-0.5, additive mask, softmax."""
        p = self.p
        B, T, D = x.shape
        S = kv.shape[1]
        hd = D // heads
        q = F.linear(x, p[pre + "q_proj.weight"], p[pre + "q_proj.bias"]) * (hd ** -0.5)
        k = F.linear(kv, p[pre + "k_proj.weight"], p[pre + "k_proj.bias"])
        v = F.linear(kv, p[pre + "v_proj.weight"], p[pre + "v_proj.bias"])
        q = q.view(B, T, heads, hd).transpose(1, 2)
        k = k.view(B, S, heads, hd).transpose(1, 2)
        v = v.view(B, S, heads, hd).transpose(1, 2)
        w = torch.matmul(q, k.transpose(2, 3))
        if mask is not None:
            w = w + mask
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v).transpose(1, 2).reshape(B, T, D)
        return F.linear(o, p[pre + "out_proj.weight"], p[pre + "out_proj.bias"])

    def _ln(self, name, x):
        return F.layer_norm(x, (self.d,), self.p[name + ".weight"], self.p[name + ".bias"], 1e-5)

    def _ffn(self, pre, x):
        p = self.p
        h = self.act(F.linear(x, p[pre + "fc1.weight"], p[pre + "fc1.bias"]))
        return F.linear(h, p[pre + "fc2.weight"], p[pre + "fc2.bias"])

    @staticmethod
    def key_mask(src_mask):
        """[B,S] 1/0 -> additive [B,1,1,S] (HF _prepare_4d_attention_mask: finfo.min, not -inf)."""
        return (1.0 - src_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min

    def encode(self, src_ids, src_mask):
        """src_ids [B,S] (right-padded), src_mask [B,S] -> encoder states [B,S,D]."""
        cfg = self.cfg
        x = F.embedding(src_ids, self.p[self.enc_emb_name]) * self.scale
        x = x + self._positions(0, src_ids.shape[1])
        m = self.key_mask(src_mask)
        for i in range(cfg["encoder_layers"]):
            pre = f"model.encoder.layers.{i}."
            x = self._ln(pre + "self_attn_layer_norm", x + self._attn(pre + "self_attn.", x, x, m, cfg["encoder_attention_heads"]))
            x = self._ln(pre + "final_layer_norm", x + self._ffn(pre, x))
        return x

    def decode_hidden(self, dec_ids, enc, src_mask):
        """dec_ids [B,T] (full prefix, recomputed every step: no KV cache) -> [B,T,D]."""
        cfg = self.cfg
        T = dec_ids.shape[1]
        x = F.embedding(dec_ids, self.p[self.dec_emb_name]) * self.scale
        x = x + self._positions(0, T)
        causal = torch.triu(torch.full((T, T), torch.finfo(torch.float32).min), diagonal=1)[None, None]
        cm = self.key_mask(src_mask)
        for i in range(cfg["decoder_layers"]):
            pre = f"model.decoder.layers.{i}."
            h = cfg["decoder_attention_heads"]
            x = self._ln(pre + "self_attn_layer_norm", x + self._attn(pre + "self_attn.", x, x, causal, h))
            x = self._ln(pre + "encoder_attn_layer_norm", x + self._attn(pre + "encoder_attn.", x, enc, cm, h))
            x = self._ln(pre + "final_layer_norm", x + self._ffn(pre, x))
        return x

    def logits(self, hidden):
        return F.linear(hidden, self.lm_head()) + self.p["final_logits_bias"]

    def forward(self, src_ids, src_mask, dec_ids):
        enc = self.encode(src_ids, src_mask)
        return self.logits(self.decode_hidden(dec_ids, enc, src_mask))

    def step_fn(self, src):
        """Closure for generation: prefix ids [N,t] -> raw logits of the last position [N,V]."""
        with torch.no_grad():
            ids = torch.tensor([src])
            mask = torch.ones_like(ids)
            enc = self.encode(ids, mask)

        def step(prefix):
            with torch.no_grad():
                n = prefix.shape[0]
                h = self.decode_hidden(prefix, enc.expand(n, -1, -1), mask.expand(n, -1))
                return self.logits(h[:, -1, :])
        return step


def load(folder):
    """Reads config.json, generation_config.json (optional) and model.safetensors of FOLDER."""
    with open(folder + "/config.json") as f:
        cfg = json.load(f)
    try:
        with open(folder + "/generation_config.json") as f:
            gen = json.load(f)
    except FileNotFoundError:
        gen = None
    return cfg, gen, Marian(cfg, read_safetensors(folder + "/model.safetensors"))


# ---------------------------------------------------------------------------------------------
# generation settings

_GEN_KEYS = {"num_beams": 1, "num_return_sequences": 1, "max_length": 20, "max_new_tokens": None,
             "min_length": 0, "length_penalty": 1.0, "early_stopping": False, "no_repeat_ngram_size": 0,
             "repetition_penalty": 1.0, "bad_words_ids": None, "forced_bos_token_id": None,
             "forced_eos_token_id": None, "renormalize_logits": False, "eos_token_id": None,
             "pad_token_id": None, "decoder_start_token_id": None}


def resolve_generation(cfg, gen, overrides=None):
    """GenerationConfig semantics: generation_config.json when present, else the generation keys
    of config.json (from_model_config); then generate() kwargs. max_new_tokens wins over
    max_length: max_length = 1 (decoder start) + max_new_tokens."""
    src = gen if gen is not None else cfg
    g = {k: src.get(k, v) for k, v in _GEN_KEYS.items()}
    for k in ("eos_token_id", "pad_token_id", "decoder_start_token_id"):
        if g[k] is None:
            g[k] = cfg.get(k)
    g.update(overrides or {})
    if g["max_new_tokens"] is not None:
        g["max_length"] = 1 + g["max_new_tokens"]
    return g


def process(g, input_ids, scores):
    """The logits processors in `_get_logits_processor` order (4.40) for the options Dragoman
    supports: RepetitionPenalty, NoRepeatNGram, NoBadWords, MinLength, ForcedBOS, ForcedEOS,
    then LogitNormalization last. input_ids [N,t] include the decoder start token."""
    scores = scores.clone()
    cur_len = input_ids.shape[1]
    rp = g["repetition_penalty"]
    if rp is not None and rp != 1.0:
        s = torch.gather(scores, 1, input_ids)
        s = torch.where(s < 0, s * rp, s / rp)
        scores = scores.scatter(1, input_ids, s)
    n = g["no_repeat_ngram_size"]
    if n and n > 0 and cur_len + 1 >= n:
        for i in range(input_ids.shape[0]):
            toks = input_ids[i].tolist()
            prefix = tuple(toks[cur_len + 1 - n:cur_len])
            for j in range(cur_len - n + 1):
                if tuple(toks[j:j + n - 1]) == prefix:
                    scores[i, toks[j + n - 1]] = -math.inf
    eos = g["eos_token_id"]
    if g["bad_words_ids"]:
        for w in g["bad_words_ids"]:
            # NoBadWordsLogitsProcessor drops [eos]; only single-token entries exist for Marian.
            if len(w) == 1 and w[0] != eos:
                scores[:, w[0]] = -math.inf
    if g["min_length"] and g["min_length"] > 0 and eos is not None and cur_len < g["min_length"]:
        scores[:, eos] = -math.inf
    if g["forced_bos_token_id"] is not None and cur_len == 1:
        scores[:, :] = -math.inf
        scores[:, g["forced_bos_token_id"]] = 0
    if g["forced_eos_token_id"] is not None and cur_len == g["max_length"] - 1:
        scores[:, :] = -math.inf
        scores[:, g["forced_eos_token_id"]] = 0
    if g["renormalize_logits"]:
        scores = torch.log_softmax(scores, dim=-1)
    return scores


# ---------------------------------------------------------------------------------------------
# greedy

def greedy(step, g, trace=None):
    """`_greedy_search`: next token = argmax of the processed raw logits (no log_softmax); stop at
    EOS or when max_length (decoder start included) is reached.

    Score (Dragoman's definition for greedy, HF has no sequences_scores there): the sum over
    generated tokens of log_softmax(processed logits)[token] -- what compute_transition_scores(
    normalize_logits=True) gives from output_scores -- divided by generated_len ** length_penalty,
    generated_len counting every generated token including EOS. A forced EOS contributes 0.
    trace (list) receives per step (top1 - top2 of processed logits, std of raw logits)."""
    ids = [g["decoder_start_token_id"]]
    total = 0.0
    while len(ids) < g["max_length"]:
        prefix = torch.tensor([ids])
        raw = step(prefix)
        sc = process(g, prefix, raw)[0]
        tok = int(torch.argmax(sc))
        total += float(torch.log_softmax(sc, dim=-1)[tok])
        if trace is not None:
            top = torch.topk(sc, 2).values
            gap = float(top[0] - top[1]) if torch.isfinite(top[1]) else math.inf
            trace.append((gap, float(raw[0].std())))
        ids.append(tok)
        if tok == g["eos_token_id"]:
            break
    n = len(ids) - 1
    return ids[1:], total / (n ** g["length_penalty"])


# ---------------------------------------------------------------------------------------------
# beam search

class Hyps:
    """BeamHypotheses: keeps the num_beams best finished hypotheses."""

    def __init__(self, num_beams, length_penalty, early_stopping, max_length):
        self.k, self.lp, self.es, self.max_length = num_beams, length_penalty, early_stopping, max_length
        self.beams = []          # (score, tokens, sum_logprobs, generated_len), insertion order as HF
        self.worst = 1e9

    def add(self, tokens, sum_logprobs, generated_len, trace=None):
        score = sum_logprobs / (generated_len ** self.lp)
        if trace is not None and len(self.beams) >= self.k:
            trace.append(abs(score - self.worst))
        if len(self.beams) < self.k or score > self.worst:
            self.beams.append((score, tokens, sum_logprobs, generated_len))
            if len(self.beams) > self.k:
                order = sorted([(b[0], i) for i, b in enumerate(self.beams)])
                del self.beams[order[0][1]]
                self.worst = order[1][0]
            else:
                self.worst = min(score, self.worst)

    def is_done(self, best_sum_logprobs, cur_len, trace=None):
        """cur_len counts the decoder start and the token chosen this step (4.40: process() uses
        input_ids.shape[-1] + 1), so cur_len - 1 is the generated length."""
        if len(self.beams) < self.k:
            return False
        if self.es is True:
            return True
        if self.es is False or self.lp <= 0.0:
            best = best_sum_logprobs / ((cur_len - 1) ** self.lp)
        else:  # "never" with a positive length penalty: the longest possible length
            best = best_sum_logprobs / ((self.max_length - 1) ** self.lp)
        # When this step's best candidate is an EOS hypothesis just added and it is the worst,
        # both sides are the same expression: equal in any implementation, not a near-tie.
        same = any(b[0] == self.worst and b[2:] == (best_sum_logprobs, cur_len - 1) for b in self.beams)
        if trace is not None and not same:
            trace.append(abs(self.worst - best))
        return self.worst >= best


def _walk(cands, eos, k):
    """BeamSearchScorer.process walk over sorted candidates (score, beam, token): EOS with rank < k
    finishes a hypothesis, rank >= k is ignored; others fill the k running beams."""
    finished, running = [], []
    for rank, (s, b, t) in enumerate(cands):
        if t == eos:
            if rank < k:
                finished.append((s, b))
        else:
            running.append((s, b, t))
        if len(running) == k:
            break
    return finished, running


def _outcome(cands, eos, k):
    f, r = _walk(cands, eos, k)
    return frozenset(b for _, b in f), frozenset((b, t) for _, b, t in r)


def beam_search(step, g, trace=None):
    """`_beam_search` + BeamSearchScorer for one sentence. Per step: lp = log_softmax(raw logits),
    then the processors on lp, then + running beam scores (initially [0, -1e9, ...]); topk over
    beams x vocab of 2*num_beams, walked as `_walk`; done test as Hyps.is_done with the best of
    the 2k candidates (EOS included). At max_length, unless done, finalize adds every running beam
    (score = beam_score / generated_len ** length_penalty). Returns num_return_sequences
    (ids, score) best first; ids exclude the decoder start and end with EOS when finished.
    trace (list) receives (gap, scale) pairs for every decision that a perturbation of that size
    could change: adjacent candidate swaps that change the outcome, hypothesis-heap and done
    comparisons, and the final ordering."""
    k, eos = g["num_beams"], g["eos_token_id"]
    hyps = Hyps(k, g["length_penalty"], g["early_stopping"], g["max_length"])
    beams = torch.tensor([[g["decoder_start_token_id"]]] * k)
    scores = torch.full((k,), -1e9, dtype=torch.float32)
    scores[0] = 0.0
    done = False
    scale_max = 0.0
    gaps = [] if trace is not None else None
    while True:
        raw = step(beams)
        lp = torch.log_softmax(raw, dim=-1)
        lp = process(g, beams, lp)
        cand = (lp + scores[:, None]).view(-1)
        V = raw.shape[1]
        top = torch.topk(cand, 2 * k + 1)
        cands = [(float(s), int(i) // V, int(i) % V) for s, i in zip(top.values, top.indices)]
        scale = float(raw.std(dim=-1).max())
        scale_max = max(scale, scale_max)
        if trace is not None:
            base = _outcome(cands[:2 * k], eos, k)
            for i in range(2 * k):
                sw = cands[:2 * k + 1]
                sw[i], sw[i + 1] = sw[i + 1], sw[i]
                if _outcome(sw[:2 * k], eos, k) != base:
                    trace.append((cands[i][0] - cands[i + 1][0], scale))
        cands = cands[:2 * k]
        cur_len = beams.shape[1] + 1
        finished, running = _walk(cands, eos, k)
        for s, b in finished:
            hyps.add(beams[b, 1:].tolist() + [eos], s, cur_len - 1, gaps)
        done = hyps.is_done(max(c[0] for c in cands), cur_len, gaps)
        if trace is not None:
            trace.extend((gp, scale) for gp in gaps)
            gaps.clear()
        beams = torch.cat([beams[[b for _, b, _ in running]], torch.tensor([[t] for _, _, t in running])], dim=1)
        scores = torch.tensor([s for s, _, _ in running], dtype=torch.float32)
        if done or beams.shape[1] >= g["max_length"]:
            break
    if not done:
        for b in range(k):
            hyps.add(beams[b, 1:].tolist(), float(scores[b]), beams.shape[1] - 1, gaps)
        if trace is not None:
            trace.extend((gp, scale_max) for gp in gaps)
    ranked = sorted(hyps.beams, key=lambda x: x[0])
    out = []
    for _ in range(g["num_return_sequences"]):
        b = ranked.pop()
        out.append((b[1], b[0]))
    if trace is not None:
        final = sorted((b[0] for b in hyps.beams), reverse=True)
        n = min(len(final) - 1, g["num_return_sequences"])
        trace.extend((final[i] - final[i + 1], scale_max) for i in range(n))
    return out


def generate(step, g, trace=None):
    """generate(): greedy for num_beams == 1, beam search otherwise; returns [(ids, score)]."""
    if g["num_beams"] == 1:
        return [greedy(step, g, trace)]
    return beam_search(step, g, trace)
