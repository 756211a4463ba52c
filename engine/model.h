/* Engine internals: the read-only model (weights packed for the kernels) and the forward-pass
 * entry points the search code drives.
 *
 * DESIGN. dg_model holds hyperparameters and weight views; nothing in it changes after
 * dg_model_load, so every worker shares one. Every matrix a GEMM multiplies by is packed once
 * (dg_matrix, engine/gemm.h: float32, int8 or bf16 panels), except in float32 the encoder's and
 * cross K/V's, only ever multiplied by a whole encoder step's rows: those are views of the
 * checkpoint mapping, packed per product (model.c); embeddings and norms stay in the mapping.
 * Each layer's Q/K/V projections are fused into one [3A, D] matrix (one GEMM instead of three,
 * the 1/sqrt(dh) query scaling folded in where the architecture
 * scales), and every decoder layer's cross-attention K/V projections are stacked into one
 * [Ld*2A, D] matrix so a new sentence's cross K/V for all layers come from a single GEMM over
 * the encoder output. Positions are computed here once: sinusoid tables, and for T5 each
 * stack's relative position bias per head and relative distance (the bias of a query at i and
 * a key at j depends on j - i only, so one row per head serves every layer and length).
 *
 * Dimensions (used on every buffer comment in engine/):
 *   D  = d_model           H  = attention heads       dh = head size (D / H, T5: d_kv)
 *   A  = H * dh (attention width; D except in T5)
 *   F  = ffn dim           Vs = source vocab          Vt = target vocab
 *   S  = source length     T  = decoder positions so far
 *   R  = live decoder rows (hypotheses) in a step     N  = encoder rows (sum of S) in a step
 *   Le, Ld = encoder / decoder layers                 P  = max_position_embeddings */
#ifndef DG_ENGINE_MODEL_H
#define DG_ENGINE_MODEL_H

#include "engine/engine.h"
#include "engine/gemm.h"
#include "engine/kv_cache.h"
#include "models/arch.h"
#include "models/checkpoint.h"

/* A layer as the engine runs it: the checkpoint's views (models/arch.h; norms without bias are
 * RMSNorm, fc1_noact makes the FFN gated) plus the projections packed at load. The packed
 * matrices supersede w's linears; cross k/v live in dg_model.cross_kv. */
typedef struct {
    dg_layer_weights w;      /* checkpoint views; only the norms are read (the linears'
                                pages may be released once packed below) */
    dg_matrix qkv;           /* [3A, D] q rows pre-scaled by dh^-0.5 (if scaled), bias zeros
                                where absent */
    dg_matrix o;             /* [D, A] */
    dg_matrix cq;            /* decoder only: [A, D], pre-scaled as q */
    dg_matrix co;            /* decoder only: [D, A] */
    dg_matrix fc1;           /* [F, D] */
    dg_matrix fc1_noact;     /* [F, D], gated FFN only (T5 v1.1 wi_1) */
    dg_matrix fc2;           /* [D, F] */
} dg_layer;

/* T5 relative position bias of one stack: bias[h * span + i] for head h. Encoder (bidirectional):
 * span = 2*maxd + 1, i = clamp(j - q, -maxd, maxd) + maxd. Decoder (causal): span = maxd + 1,
 * i = min(q - j, maxd). Beyond maxd the bucket no longer changes, so clamping is exact. */
typedef struct {
    float *bias;             /* [H, span]; NULL when the architecture has none */
    int maxd, span;
} dg_rel_bias;

struct dg_model {
    dg_config cfg;
    dg_checkpoint *ck;       /* owns the tensors the views below point into */
    dg_model_weights w;
    dg_arch_quirks q;
    int D, He, Hd, Fe, Fd, Vs, Vt, P, Le, Ld;  /* He/Hd: encoder/decoder heads; P: longest
                                                  sequence (cfg.max_positions) */
    int dhe, dhd, Ae, Ad;    /* head size and attention width A = H * dh, encoder / decoder */
    int mask_id;             /* source token generate() masks when no attention_mask is given
                                (_prepare_attention_mask_for_generation): pad_token_id unless it
                                is the EOS id; -1: none */
    float embed_scale;       /* sqrt(D) with scale_embedding, else 1 */
    float lm_scale;          /* decoder output scale before the LM head (T5 tied: D^-0.5) */
    float *pos;              /* sinusoidal kinds: [Ptab, D] computed at load; owned */
    int Ptab;                /* rows of pos (fairseq: rows past it are computed per use) */
    const float *enc_pos, *dec_pos; /* table rows for position 0 - pos_offset (see dg_embed) */
    dg_rel_bias enc_rel, dec_rel;
    dg_layer *enc;           /* [Le] */
    dg_layer *dec;           /* [Ld] */
    dg_matrix cross_kv;      /* [Ld*2A, D]: layer l's K rows at l*2A, V rows at l*2A + A */
    dg_matrix lm_head;       /* [Vt, D] with final_logits_bias */
    dg_wtype wtype;          /* how the matrices are stored (set before dg_model_pack) */
    dg_kvtype kvtype;        /* element type of the decoder's self- and cross-attention caches */
};

/* Derives the dimensions from m->cfg and m->w (already bound) and packs the weights as
 * m->wtype (engine/gemm.h). dg_model_load uses it after binding a checkpoint; tests use it on
 * hand-built weights. */
dg_code dg_model_pack(dg_model *m, dg_err *err);

/* Fills table [P, D] with Marian's sinusoidal positions (sin half, cos half, angles in double). */
void dg_positions_marian(float *table, int P, int D);
/* Row `row` of fairseq's sinusoid (M2M100: float32 maths as torch, [sin | cos], odd D padded). */
void dg_position_fairseq(float *out, int row, int D);
/* T5's _relative_position_bucket for one relative position (memory - query), float32 as torch. */
int dg_rel_bucket(int rel, int bidirectional, int buckets, int max_distance);

/* x[n, D] = embed[ids] * scale + position rows, then layernorm_embedding where the architecture
 * has one: decoder selects the stack, pos[i] is row i's position (0-based). Under fairseq
 * positions a pad token gets the zero row (the caller counts positions past pads as HF does). */
void dg_embed(const dg_model *m, int decoder, const int *ids, const int *pos, int n, float *x);

#endif
