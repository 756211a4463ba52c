/* Engine internals: the read-only model (weights packed for the kernels) and the forward-pass
 * entry points the search code drives.
 *
 * DESIGN. dg_model holds hyperparameters and weight views; nothing in it changes after
 * dg_model_load, so every worker shares one. Every matrix a GEMM multiplies by is packed once
 * (dg_matrix, engine/gemm.h: float32, int8 or bf16 panels); embeddings, norms and biases stay
 * in the checkpoint mapping. Each layer's Q/K/V projections are fused into one [3D, D] matrix
 * (one GEMM instead of three, the 1/sqrt(dh) query scaling folded in), and every decoder
 * layer's cross-attention K/V projections are stacked into one [Ld*2D, D] matrix so a new
 * sentence's cross K/V for all layers come from a single GEMM over the encoder output.
 *
 * Dimensions (used on every buffer comment in engine/):
 *   D  = d_model           H  = attention heads       dh = D / H (head size)
 *   F  = ffn dim           Vs = source vocab          Vt = target vocab
 *   S  = source length     T  = decoder positions so far
 *   R  = live decoder rows (hypotheses) in a step     N  = encoder rows (sum of S) in a step
 *   Le, Ld = encoder / decoder layers                 P  = max_position_embeddings */
#ifndef DG_ENGINE_MODEL_H
#define DG_ENGINE_MODEL_H

#include "engine/engine.h"
#include "engine/gemm.h"
#include "models/arch.h"
#include "models/checkpoint.h"

typedef struct {
    dg_matrix qkv;           /* [3D, D] q rows pre-scaled by dh^-0.5 (bias zeros where absent) */
    dg_matrix o;             /* [D, D] */
    dg_norm ln_attn;         /* self_attn_layer_norm */
    dg_matrix cq;            /* decoder only: [D, D], pre-scaled by dh^-0.5 */
    dg_matrix co;            /* decoder only: [D, D] */
    dg_norm ln_cross;        /* decoder only */
    dg_matrix fc1;           /* [F, D] */
    dg_matrix fc2;           /* [D, F] */
    dg_norm ln_ffn;          /* final_layer_norm */
} dg_layer;

struct dg_model {
    dg_config cfg;
    dg_checkpoint *ck;       /* owns the tensors the views below point into */
    dg_model_weights w;
    dg_arch_quirks q;
    int D, He, Hd, Fe, Fd, Vs, Vt, P, Le, Ld;  /* He/Hd: encoder/decoder heads */
    float embed_scale;       /* sqrt(D) with scale_embedding, else 1 */
    float *pos;              /* [P, D] sinusoidal table, computed at load */
    dg_layer *enc;           /* [Le] */
    dg_layer *dec;           /* [Ld] */
    dg_matrix cross_kv;      /* [Ld*2D, D]: layer l's K rows at l*2D, V rows at l*2D + D */
    dg_matrix lm_head;       /* [Vt, D] with final_logits_bias */
    dg_wtype wtype;          /* how the matrices are stored (set before dg_model_pack) */
};

/* Derives the dimensions from m->cfg and m->w (already bound) and packs the weights as
 * m->wtype (engine/gemm.h). dg_model_load uses it after binding a checkpoint; tests use it on
 * hand-built weights. */
dg_code dg_model_pack(dg_model *m, dg_err *err);

/* Fills table [P, D] with Marian's sinusoidal positions (sin half, cos half, angles in double). */
void dg_positions_marian(float *table, int P, int D);

/* Sets x[S, D] = embed[ids] * scale + positions[pos0 + s] for each row. */
void dg_embed(const dg_model *m, const float *embed, const int *ids, const int *pos, int n,
              float *x);

#endif
