#!/usr/bin/python3
"""DESIGN: trains the demo English→German Marian model on CPU under a wall-clock budget and
exports a Hugging Face checkpoint folder (marian.py defines the model and the file formats).

Budget, not epochs: `--minutes` bounds this run's training time. Training continues run after
run from a small committed state (`--state DIR`, models/demo/state/ for the full model):
state.safetensors holds the weights in float16 and Adam's two moments in bfloat16 (their
range, unlike float16's, holds squared gradients; with betas 0.9/0.98 the moments forget
within ~100 steps, so their rounding is soon gone), and in its metadata the step, the data
position (epoch, batch, and a hash of the training text), the RNG states, the SentencePiece
model's hash and the minutes trained over all runs. It is rewritten every `--state-every`
minutes and at the end, so a killed run keeps its progress. Every `--save-every` minutes an
exact float32 checkpoint goes to WORK/ckpt too; `--resume` takes whichever of the two is
newer (resuming from WORK/ckpt is bit-exact). At the end the newest checkpoint and the average
of the last `--average` ones of this run are scored on the dev set and the better is exported.

Cooldown: the last `--cooldown` minutes of a run decay the learning rate linearly to zero,
which anneals the weights to a lower loss than checkpoint averaging alone. The exported model
is the cooled one, but the state keeps the weights, moments and data position of the moment
the cooldown began (plus a record of the cooldown in its run), so the next run continues the
undecayed schedule; the cooldown's checkpoints go to WORK/cool, where resuming never looks.
A run whose `--minutes` are all cooldown only anneals the committed state.

Data: text is segmented with Debian's `spm_encode` (pieces, as MarianTokenizer asks
SentencePiece for pieces) and mapped through vocab.json, EOS appended; the decoder input is the
target shifted right behind the decoder start token (pad). Batches are token buckets: pairs
sorted by length, cut into batches of at most `--batch-tokens` padded tokens, the batch order
shuffled each epoch with a fixed seed. Loss: label-smoothed (0.1) cross-entropy over
non-pad targets; Adam(0.9, 0.98) with linear warmup then inverse-sqrt decay."""

import argparse
import base64
import copy
import datetime
import glob
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marian  # noqa: E402

SIZES = {  # d_model, heads, ffn, encoder layers, decoder layers
    "smoke": (64, 2, 128, 1, 1),
    "micro": (192, 4, 768, 2, 1),
    "tiny": (256, 4, 1024, 3, 1),
    "small": (256, 4, 1024, 6, 2),
    "deep": (256, 4, 1024, 6, 1),  # issue 15: deep encoder, one decoder layer (serving cost)
    "base": (512, 8, 2048, 6, 6),
}
MAX_LEN = 160  # tokens per side, EOS included; the corpus caps pairs at 400 characters


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def encode_file(spm, vocab, path):
    out = subprocess.run(["spm_encode", "--model=" + spm, "--output_format=piece",
                          "--input=" + path], check=True, stdout=subprocess.PIPE)
    unk, eos = vocab["<unk>"], vocab["</s>"]
    return [[vocab.get(p, unk) for p in line.split(" ") if p] + [eos]
            for line in out.stdout.decode("utf-8").split("\n")[:-1]]


def load_split(corpus, model_dir, vocab, name):
    src = encode_file(os.path.join(model_dir, "source.spm"), vocab, os.path.join(corpus, name + ".en"))
    tgt = encode_file(os.path.join(model_dir, "target.spm"), vocab, os.path.join(corpus, name + ".de"))
    if len(src) != len(tgt):
        raise SystemExit("train: %s.en has %d lines, %s.de %d" % (name, len(src), name, len(tgt)))
    return [(s, t) for s, t in zip(src, tgt) if len(s) <= MAX_LEN and len(t) <= MAX_LEN]


def make_batches(pairs, max_tokens):
    """Index batches whose padded size (rows × longest side) stays within max_tokens."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][1]), len(pairs[i][0])))
    batches, cur, longest = [], [], 0
    for i in order:
        n = max(len(pairs[i][0]), len(pairs[i][1]) + 1)
        if cur and max(longest, n) * (len(cur) + 1) > max_tokens:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        batches.append(cur)
    return batches


def collate(pairs, idx, pad):
    src = [pairs[i][0] for i in idx]
    tgt = [pairs[i][1] for i in idx]
    S, T = max(map(len, src)), max(map(len, tgt))
    s = torch.full((len(idx), S), pad, dtype=torch.long)
    t_in = torch.full((len(idx), T), pad, dtype=torch.long)
    labels = torch.full((len(idx), T), pad, dtype=torch.long)
    for r, (a, b) in enumerate(zip(src, tgt)):
        s[r, :len(a)] = torch.tensor(a)
        t_in[r, 1:len(b)] = torch.tensor(b[:-1])
        labels[r, :len(b)] = torch.tensor(b)
    return s, t_in, labels


class SmoothedCE(torch.autograd.Function):
    """Label-smoothed cross-entropy of h @ W.T + b (what F.cross_entropy(..., label_smoothing)
    computes), one chunk of rows at a time and in place: the [tokens, vocab] logits and their
    gradient never exist whole. On this CPU a fresh 120 MB tensor costs more in page faults
    than its arithmetic; this made a training step 1.4x faster. Returns (loss sum, NLL sum)."""
    CHUNK = 512

    @staticmethod
    def forward(ctx, h, w, b, y, eps):
        loss, nll, probs = h.new_zeros(()), h.new_zeros(()), []
        for i in range(0, h.shape[0], SmoothedCE.CHUNK):
            z = torch.addmm(b, h[i:i + SmoothedCE.CHUNK], w.t())
            zy = z.gather(1, y[i:i + SmoothedCE.CHUNK, None])[:, 0]
            zmean = z.mean(1)
            m = z.amax(1, keepdim=True)
            s = z.sub_(m).exp_().sum(1, keepdim=True)
            probs.append(z.div_(s))  # the softmax is all the backward pass needs
            lse = (m + s.log())[:, 0]
            nll_c = (lse - zy).sum()
            loss += (1 - eps) * nll_c + eps * (lse - zmean).sum()
            nll += nll_c
        ctx.save_for_backward(h, w, y)
        ctx.probs, ctx.eps, ctx.need_b = probs, eps, b.requires_grad
        ctx.mark_non_differentiable(nll)
        return loss, nll

    @staticmethod
    def backward(ctx, g, _):
        h, w, y = ctx.saved_tensors
        eps, v = ctx.eps, w.shape[0]
        gh, gw = torch.empty_like(h), torch.zeros_like(w)
        gb = torch.zeros(v, dtype=h.dtype) if ctx.need_b else None
        for k, p in enumerate(ctx.probs):
            rows = slice(k * SmoothedCE.CHUNK, k * SmoothedCE.CHUNK + p.shape[0])
            p.sub_(eps / v)  # d loss / d logits = softmax - smoothed one-hot
            p[torch.arange(p.shape[0]), y[rows]] -= 1 - eps
            p.mul_(g)
            torch.mm(p, w, out=gh[rows])
            gw.addmm_(p.t(), h[rows])
            if gb is not None:
                gb += p.sum(0)
        ctx.probs = None
        return gh, gw, gb, None, None


def loss_of(model, batch, smoothing):
    """(summed loss, summed NLL, target tokens); logits only at non-pad targets (cheaper)."""
    src, t_in, labels = batch
    enc, cross = model.encode(src)
    h = model.decode(t_in, enc, cross)
    keep = labels != model.pad
    loss, nll = SmoothedCE.apply(h[keep], model.model.shared.weight, model.final_logits_bias[0],
                                 labels[keep], smoothing)
    return loss, nll.item(), int(keep.sum())


def dev_loss(model, pairs, batches):
    model.eval()
    nll, n = 0.0, 0
    with torch.no_grad():
        for b in batches:
            _, l, k = loss_of(model, collate(pairs, b, model.pad), 0.0)
            nll, n = nll + l, n + k
    model.train()
    return nll / max(n, 1)


def greedy(model, src_ids, eos, max_new=60):
    model.eval()
    with torch.no_grad():
        enc, cross = model.encode(torch.tensor([src_ids]))
        out = [model.pad]
        for _ in range(max_new):
            h = model.decode(torch.tensor([out]), enc, cross)
            lg = model.logits(h[:, -1])
            lg[:, model.pad] = float("-inf")  # bad_words_ids [[pad]]
            nxt = int(lg.argmax())
            if nxt == eos:
                break
            out.append(nxt)
    model.train()
    return out[1:]


def lr_at(step, peak, warmup):
    step = max(step, 1)
    return peak * min(step / warmup, math.sqrt(warmup / step))


def checkpoints(work, sub="ckpt"):
    return sorted(glob.glob(os.path.join(work, sub, "step-*.pt")))


def save_checkpoint(work, model, opt, state, keep, sub="ckpt"):
    os.makedirs(os.path.join(work, sub), exist_ok=True)
    path = os.path.join(work, sub, "step-%08d.pt" % state["step"])
    torch.save({"state": state, "model": model.state_dict(), "opt": opt.state_dict(),
                "torch_rng": torch.get_rng_state(), "py_rng": random.getstate()}, path + ".tmp")
    os.replace(path + ".tmp", path)  # a kill mid-save never leaves a truncated checkpoint
    for old in checkpoints(work, sub)[:-keep]:
        os.remove(old)
    return path


STATE_FILE = "state.safetensors"


def file_sha1(*paths):
    h = hashlib.sha1()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def save_state(state_dir, model, opt, state):
    """The committed training state: float16 weights, bfloat16 Adam moments, and the JSON
    state (with the RNG states) as metadata, written to a temporary file and renamed so a kill
    never leaves half a file. state.json next to it is a readable copy of the metadata."""
    os.makedirs(state_dir, exist_ok=True)
    tensors = {"w." + k: v.half() for k, v in model.state_dict().items()}
    for name, p in model.named_parameters():
        st = opt.state.get(p)
        if st:
            tensors["m." + name] = st["exp_avg"].bfloat16()
            tensors["v." + name] = st["exp_avg_sq"].bfloat16()
    meta = dict(state, torch_rng=base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode(),
                py_rng=random.getstate())
    path = os.path.join(state_dir, STATE_FILE)
    marian.save_safetensors(path + ".tmp", tensors, {"state": json.dumps(meta)})
    os.replace(path + ".tmp", path)
    with open(os.path.join(state_dir, "state.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
        f.write("\n")
    os.replace(os.path.join(state_dir, "state.json.tmp"), os.path.join(state_dir, "state.json"))


def load_state(state_dir):
    """(tensors, state dict) of STATE_FILE, or None when there is none."""
    path = os.path.join(state_dir, STATE_FILE)
    if not os.path.isfile(path):
        return None
    tensors, meta = marian.load_safetensors(path)
    return tensors, json.loads(meta["state"])


def restore_from_state(model, opt, tensors, meta):
    model.load_state_dict({k[2:]: v.float() for k, v in tensors.items() if k.startswith("w.")})
    for name, p in model.named_parameters():
        if "m." + name in tensors:
            opt.state[p] = {"step": torch.tensor(float(meta["step"])),
                            "exp_avg": tensors["m." + name].float(),
                            "exp_avg_sq": tensors["v." + name].float()}
    torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(meta["torch_rng"])), dtype=torch.uint8))
    random.setstate((meta["py_rng"][0], tuple(meta["py_rng"][1]), meta["py_rng"][2]))


def export(model_dir, model, hp, dtype):
    hp = dict(hp, torch_dtype="float16" if dtype == torch.float16 else "float32")
    marian.save_safetensors(os.path.join(model_dir, "model.safetensors"),
                            marian.export_tensors(model.state_dict(), dtype), {"format": "pt"})
    for name, obj in (("config.json", marian.hf_config(hp)),
                      ("generation_config.json", marian.hf_generation_config(hp))):
        with open(os.path.join(model_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--model", required=True, help="folder with the tokenizer; receives the weights")
    ap.add_argument("--work", required=True, help="checkpoints and logs")
    ap.add_argument("--state", help="folder of the committed training state (resumed, rewritten)")
    ap.add_argument("--size", choices=sorted(SIZES), default="micro")
    ap.add_argument("--minutes", type=float, default=90.0, help="training minutes of this run")
    ap.add_argument("--max-steps", type=int, default=0, help="stop at this global step (0: no limit)")
    ap.add_argument("--save-every", type=float, default=5.0, help="minutes between checkpoints")
    ap.add_argument("--state-every", type=float, default=10.0, help="minutes between state writes")
    ap.add_argument("--cooldown", type=float, default=0.0,
                    help="last minutes of the run, learning rate decayed linearly to 0")
    ap.add_argument("--log-every", type=int, default=50, help="steps between progress lines")
    ap.add_argument("--dev-pairs", type=int, default=1500, help="dev pairs scored for the loss")
    ap.add_argument("--keep", type=int, default=5)
    ap.add_argument("--average", type=int, default=4, help="checkpoints averaged at export")
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=600)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    with open(os.path.join(args.model, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    d, heads, ffn, n_enc, n_dec = SIZES[args.size]
    hp = {"d_model": d, "encoder_attention_heads": heads, "decoder_attention_heads": heads,
          "encoder_ffn_dim": ffn, "decoder_ffn_dim": ffn, "encoder_layers": n_enc,
          "decoder_layers": n_dec, "vocab_size": len(vocab), "pad_token_id": vocab["<pad>"],
          "eos_token_id": vocab["</s>"], "max_position_embeddings": 512, "scale_embedding": True,
          "dropout": args.dropout, "init_std": 0.02}

    train = load_split(args.corpus, args.model, vocab, "train")
    # The dev loss is computed at every checkpoint, on the clock: a fixed sample keeps it cheap.
    dev = load_split(args.corpus, args.model, vocab, "dev")
    dev = dev[::-(-len(dev) // args.dev_pairs)] if len(dev) > args.dev_pairs else dev  # spread over packages
    batches = make_batches(train, args.batch_tokens)
    dev_batches = make_batches(dev, args.batch_tokens)
    log("train %d pairs (%d target tokens) in %d batches, dev %d pairs" % (
        len(train), sum(len(t) for _, t in train), len(batches), len(dev)))

    model = marian.MarianMT(hp)
    n_params = sum(p.numel() for p in model.parameters())
    log("size %s: %s, %d parameters" % (args.size, SIZES[args.size], n_params))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    corpus_sha1 = file_sha1(os.path.join(args.corpus, "train.en"), os.path.join(args.corpus, "train.de"))
    spm_sha1 = file_sha1(os.path.join(args.model, "source.spm"))
    state = {"step": 0, "epoch": 0, "batch": 0, "minutes_total": 0.0, "runs": [],
             "size": args.size, "hp": hp, "lr": args.lr, "warmup": args.warmup,
             "batch_tokens": args.batch_tokens, "corpus_sha1": corpus_sha1, "spm_sha1": spm_sha1}

    def compatible(st, where):
        if st["hp"] != hp:
            raise SystemExit("train: %s hyperparameters %s differ from %s" % (where, st["hp"], hp))
        if st.get("spm_sha1", spm_sha1) != spm_sha1:
            raise SystemExit("train: %s was trained with another SentencePiece model" % where)

    ck_paths = checkpoints(args.work) if args.resume else []
    committed = load_state(args.state) if args.resume and args.state else None
    from_ck = bool(ck_paths) and (committed is None or
                                  torch.load(ck_paths[-1])["state"]["step"] >= committed[1]["step"])
    if not from_ck:
        # Checkpoints not continued from (older than the state, or of an earlier lineage) must
        # not be averaged with this run's.
        for old in checkpoints(args.work):
            os.remove(old)
    if from_ck:
        ck = torch.load(ck_paths[-1])
        compatible(ck["state"], ck_paths[-1])
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["py_rng"])
        state = dict(state, **{k: v for k, v in ck["state"].items() if k in state})
        if committed and committed[1]["step"] == state["step"]:
            state["runs"] = committed[1]["runs"]  # it may record a cooldown-only run since
        log("resumed at step %d from %s, %.1f min trained before" % (
            state["step"], ck_paths[-1], state["minutes_total"]))
    elif committed:
        tensors, meta = committed
        compatible(meta, os.path.join(args.state, STATE_FILE))
        restore_from_state(model, opt, tensors, meta)
        state = dict(state, **{k: v for k, v in meta.items() if k in state})
        log("resumed at step %d from the state in %s, %.1f min trained before" % (
            state["step"], args.state, state["minutes_total"]))
    state.update(lr=args.lr, warmup=args.warmup, batch_tokens=args.batch_tokens,  # this run's
                 batches_per_epoch=len(batches))
    if state["corpus_sha1"] != corpus_sha1:
        # Another training text (new package versions): the saved batch position means nothing.
        log("the training text changed since the saved state: starting a new epoch")
        state.update(corpus_sha1=corpus_sha1, epoch=state["epoch"] + 1, batch=0)
    minutes_before = state["minutes_total"]
    state["runs"] = state["runs"] + [{"started": datetime.datetime.now(datetime.timezone.utc)
                                      .strftime("%Y-%m-%dT%H:%M:%SZ"), "threads": args.threads,
                                      "first_step": state["step"] + 1, "last_step": state["step"],
                                      "minutes": 0.0}]

    budget = args.minutes * 60
    t_start = last_save = last_state = time.time()
    run_seconds = 0.0
    window = {"loss": 0.0, "nll": 0.0, "tok": 0, "t": time.time()}
    model.train()
    order, order_epoch = None, None
    finished = lambda: run_seconds >= budget or (args.max_steps and state["step"] >= args.max_steps)
    cool_from = max(budget - args.cooldown * 60, 0.0) if args.cooldown > 0 else None
    cool = None  # once cooling: where it began, and the state to commit at the end

    def lr_now():
        lr = lr_at(state["step"], args.lr, args.warmup)
        if cool is None:
            return lr
        left = budget - (time.time() - t_start)  # the step is all but done: Adam's update is cheap
        return cool["lr"] * max(left, 0.0) / max(budget - cool["t"], 1e-9)

    def begin_cooldown():
        for old in checkpoints(args.work, "cool"):
            os.remove(old)
        if args.state:
            save_state(args.state, model, opt, state)
        log("cooldown from step %d: learning rate %.2e decays to 0 over %.1f min" % (
            state["step"], lr_at(state["step"], args.lr, args.warmup), (budget - run_seconds) / 60))
        return {"t": run_seconds, "lr": lr_at(state["step"], args.lr, args.warmup),
                "step": state["step"], "model": copy.deepcopy(model.state_dict()),
                "opt": copy.deepcopy(opt.state_dict()), "state": copy.deepcopy(state)}

    def note_time():
        state["minutes_total"] = round(minutes_before + run_seconds / 60, 3)
        state["runs"][-1].update(last_step=state["step"], minutes=round(run_seconds / 60, 3))

    while not finished():
        if cool is None and cool_from is not None and run_seconds >= cool_from:
            cool = begin_cooldown()
        if state["batch"] >= len(batches):
            state["epoch"], state["batch"] = state["epoch"] + 1, 0
        if order_epoch != state["epoch"]:
            order = list(range(len(batches)))
            random.Random(args.seed + state["epoch"]).shuffle(order)
            order_epoch = state["epoch"]
        b = collate(train, batches[order[state["batch"]]], model.pad)
        loss, nll, ntok = loss_of(model, b, 0.1)
        opt.zero_grad()
        (loss / ntok).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        state["step"] += 1
        lr = lr_now()
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        state["batch"] += 1
        run_seconds = time.time() - t_start
        if cool is None:
            note_time()
        window["loss"] += loss.item()
        window["nll"] += nll
        window["tok"] += ntok
        if state["step"] % args.log_every == 0:
            dt = time.time() - window["t"]
            log("step %d epoch %d  loss %.3f  nll %.3f  %.0f tgt tok/s  lr %.2e" % (
                state["step"], state["epoch"], window["loss"] / window["tok"],
                window["nll"] / window["tok"], window["tok"] / dt, lr))
            window = {"loss": 0.0, "nll": 0.0, "tok": 0, "t": time.time()}
        if finished() or time.time() - last_save >= args.save_every * 60:
            path = save_checkpoint(args.work, model, opt, state, args.keep,
                                   "ckpt" if cool is None else "cool")
            log("saved %s; dev nll %.3f" % (path, dev_loss(model, dev, dev_batches)))
            last_save = time.time()
        if args.state and cool is None and (finished() or
                                            time.time() - last_state >= args.state_every * 60):
            save_state(args.state, model, opt, state)
            log("state at step %d (%.1f min in all) -> %s" % (
                state["step"], state["minutes_total"], args.state))
            last_state = time.time()

    if cool is not None:
        steps, minutes = state["step"] - cool["step"], round((run_seconds - cool["t"]) / 60, 3)
        log("cooldown: %d steps in %.1f min; the state stays at step %d" % (
            steps, minutes, cool["step"]))
        if args.state:
            cooled = copy.deepcopy(model.state_dict())
            model.load_state_dict(cool["model"])
            opt.load_state_dict(cool["opt"])
            cool["state"]["runs"][-1]["cooldown"] = {"steps": steps, "minutes": minutes}
            save_state(args.state, model, opt, cool["state"])
            model.load_state_dict(cooled)

    # Export: the newest checkpoint, or the average of the last few if the dev set prefers it.
    sub = "ckpt" if cool is None else "cool"
    saved = checkpoints(args.work, sub)
    if not saved:
        save_checkpoint(args.work, model, opt, state, args.keep, sub)
        saved = checkpoints(args.work, sub)
    best, best_nll, label = model.state_dict(), dev_loss(model, dev, dev_batches), "last"
    if args.average > 1 and len(saved) > 1:
        group = saved[-args.average:]
        avg = {k: v.clone().float() for k, v in torch.load(group[0])["model"].items()}
        for p in group[1:]:
            for k, v in torch.load(p)["model"].items():
                avg[k] += v.float()
        avg = {k: v / len(group) for k, v in avg.items()}
        model.load_state_dict(avg)
        nll = dev_loss(model, dev, dev_batches)
        log("dev nll: last %.3f, average of %d %.3f" % (best_nll, len(group), nll))
        if nll < best_nll:
            best, best_nll, label = avg, nll, "average of %d" % len(group)
    model.load_state_dict(best)
    export(args.model, model, hp, torch.float16 if args.dtype == "float16" else torch.float32)
    itos = {i: p for p, i in vocab.items()}
    for s, t in dev[:3]:
        hyp = greedy(model, s, vocab["</s>"])
        log("dev: %s\n    ref: %s\n    hyp: %s" % (
            "".join(itos[i] for i in s[:-1]).replace("\u2581", " ").strip(),
            "".join(itos[i] for i in t[:-1]).replace("\u2581", " ").strip(),
            "".join(itos[i] for i in hyp).replace("\u2581", " ").strip()))
    log("exported %s (%s, dev nll %.3f, step %d) to %s" % (
        args.size, label, best_nll, state["step"], args.model))


if __name__ == "__main__":
    main()
