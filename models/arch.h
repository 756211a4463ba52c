/* Architecture tables: Hugging Face tensor names → the engine's weight struct.
 *
 * The engine never sees tensor names or file formats; it receives a dg_model_weights whose
 * pointers are float32, row-major, as Hugging Face stores them (nn.Linear weight = [out, in]).
 * Architecture quirks are data here (flags in dg_arch_quirks), never `if (arch == ...)` in
 * layers. Dimension glossary: D = d_model, F = ffn dim, Vs/Vt = source/target vocab. */
#ifndef DG_ARCH_H
#define DG_ARCH_H

#include <stdbool.h>

#include "common/error.h"
#include "models/checkpoint.h"
#include "models/config.h"

/* Weight matrices and embedding tables, which the engine reads once (to pack them) or by rows,
 * keep a 16-bit file's F16/BF16 data as stored (dtype says which; the engine widens rows as it
 * reads them), so loading such a file never holds a float32 copy of every matrix at once.
 * Strided or unaligned 16-bit tensors (.bin files) are converted to float32 (dtype F32). */
typedef struct {
    const void *w;   /* [out, in], dtype */
    const float *b;  /* [out], NULL when the layer has no bias */
    dg_dtype dtype;  /* of w's data */
} dg_linear;

/* A norm without a bias is T5's RMSNorm (no mean subtracted); with one, torch's LayerNorm.
 * g == NULL: the norm is absent. */
typedef struct {
    const float *g;  /* [D] */
    const float *b;  /* [D], NULL for RMSNorm */
} dg_norm;

/* One layer, names as in BART (T5's in brackets). A = heads x head size (D except in T5). */
typedef struct {
    dg_linear q, k, v, o;        /* self_attn.{q,k,v,out}_proj: [A, D] ([D, A] for o) */
    dg_norm self_attn_ln;        /* self_attn_layer_norm */
    dg_linear cq, ck, cv, co;    /* decoder only: encoder_attn.{q,k,v,out}_proj */
    dg_norm cross_attn_ln;       /* decoder only: encoder_attn_layer_norm */
    dg_linear fc1;               /* [F, D] (T5: wi, or wi_0 when gated) */
    dg_linear fc1_noact;         /* [F, D] gated FFN only (T5 wi_1): fc2(act(fc1 x) * fc1_noact x);
                                    w == NULL: a plain FFN */
    dg_linear fc2;               /* [D, F] (T5: wo) */
    dg_norm final_ln;            /* final_layer_norm */
} dg_layer_weights;

typedef enum {
    DG_POS_SINUSOIDAL_MARIAN,    /* computed [P, D] table, row = position */
    DG_POS_SINUSOIDAL_FAIRSEQ,   /* M2M100: computed, row = position + pos_offset, any length */
    DG_POS_LEARNED,              /* BART/mBART: stored [P + pos_offset, D], row = position + offset */
    DG_POS_RELATIVE,             /* T5: a learned per-head bias on the attention scores */
} dg_pos_kind;
typedef enum { DG_ACT_SILU, DG_ACT_RELU, DG_ACT_GELU, DG_ACT_GELU_TANH } dg_activation;

typedef struct {
    dg_pos_kind positions;       /* how positions are computed */
    int pos_offset;              /* rows before position 0 (2 for BART/mBART/M2M100) */
    dg_activation activation;
    bool scale_embedding;        /* multiply token embeddings by sqrt(D) */
    bool scale_attention;        /* scores * head_size^-0.5 (false for T5) */
    bool normalize_before;       /* pre-norm layers (false for Marian, whatever config says) */
    bool final_norms;            /* a final norm after the encoder/decoder stacks */
    bool scale_lm_input;         /* decoder output * D^-0.5 before the LM head (T5 tied head) */
    float layer_norm_eps;
    /* what the table binds, for reports (the engine follows the weights themselves) */
    bool rms_norm;               /* norms without bias */
    bool gated_ffn;              /* fc1_noact bound */
    bool embed_norm;             /* layernorm_embedding bound */
    bool logits_bias;            /* a final_logits_bias buffer (optional in the file) */
} dg_arch_quirks;

typedef struct {
    dg_arch_quirks quirks;
    const void *enc_embed;           /* [Vs, D], enc_embed_dtype */
    const void *dec_embed;           /* [Vt, D] (== enc_embed when shared) */
    const void *lm_head;             /* [Vt, D] (== dec_embed when tied) */
    const float *final_logits_bias;  /* [Vt], NULL when absent */
    dg_dtype enc_embed_dtype, dec_embed_dtype, lm_head_dtype;  /* of the three tables' data */
    int n_enc_layers, n_dec_layers;
    dg_layer_weights *enc_layers;    /* [n_enc_layers], owned */
    dg_layer_weights *dec_layers;    /* [n_dec_layers], owned */
    dg_norm enc_final_ln, dec_final_ln;  /* only with quirks.final_norms */
    dg_norm enc_embed_ln, dec_embed_ln;  /* layernorm_embedding (BART, mBART); g NULL when absent */
    const float *enc_pos, *dec_pos;      /* DG_POS_LEARNED: [P + pos_offset, D] */
    const float *enc_rel_bias, *dec_rel_bias; /* DG_POS_RELATIVE: [buckets, H] of each stack's
                                                 first layer, shared by all its layers */
} dg_model_weights;

/* What a checkpoint holds for its architecture, counted without reading tensor data. */
typedef struct {
    long long n_params;        /* = transformers' model.num_parameters(): distinct parameters (tied
                                  ones once), including tables HF keeps as parameters but Dragoman
                                  computes (Marian's sinusoidal positions), excluding buffers
                                  (final_logits_bias) */
    long long n_bound_values;  /* values in the distinct tensors bound from the checkpoint */
    int n_bound;               /* distinct tensors bound */
    int n_unused;              /* checkpoint tensors the architecture ignores (e.g. stored positions) */
    dg_arch_quirks quirks;     /* as dg_arch_bind would set them */
} dg_arch_summary;

/* Binds every tensor the architecture named by cfg->model_type needs, checking each shape, and
 * converts them to float32 (see checkpoint.h), except 16-bit matrices and embeddings (above). Missing or mis-shaped tensors are reported by
 * their Hugging Face name (DG_E_MISSING / DG_E_SHAPE); an unknown model_type or activation is
 * DG_E_UNSUPPORTED listing the supported ones. On error *w is left freed. */
dg_code dg_arch_bind(dg_model_weights *w, const dg_config *cfg, dg_checkpoint *ck, dg_err *err);
void dg_arch_free(dg_model_weights *w);   /* frees the layer arrays; the data belongs to ck */

/* The same resolution and shape checks as dg_arch_bind, reading headers only; fills *s and
 * (when unused is non-NULL) unused[i] = 1 for each checkpoint tensor the architecture ignores. */
dg_code dg_arch_check(const dg_config *cfg, const dg_checkpoint *ck, dg_arch_summary *s,
                      unsigned char *unused, dg_err *err);

/* "silu", "relu", "gelu", "gelu_tanh". */
const char *dg_activation_name(dg_activation a);
/* "sinusoidal", "sinusoidal-fairseq", "learned", "relative". */
const char *dg_pos_kind_name(dg_pos_kind k);

#endif
