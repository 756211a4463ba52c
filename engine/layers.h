/* Building blocks shared by the encoder and the decoder: attention in its three forms, the
 * feed-forward block, and the residual + LayerNorm wiring (post-norm or pre-norm by quirk).
 *
 * DESIGN. Projections are GEMMs done by the callers (they know how many rows a step has); the
 * functions here do the per-row and per-head work between the GEMMs. Queries arrive already
 * scaled by dh^-0.5 where the architecture scales (folded into the packed weights at load).
 * A = H * dh is the attention width; rb, when its bias is non-NULL, adds T5's relative position
 * bias to the scores. */
#ifndef DG_LAYERS_H
#define DG_LAYERS_H

#include "engine/forward.h"

/* Keys whose source token is the model's mask_id get HF's additive finfo.min: zero weight, or
 * uniform weights when every key is masked, as in transformers. */
#define DG_MASKED (-3.40282347e+38f)

/* Encoder self-attention over packed sentences: qkv[N, 3A] (q | k | v per row) → ctx[N, A].
 * Sentence i owns rows [off[i], off[i] + len[i]); scores is scratch of max(len)^2 floats.
 * ids[N]: keys equal to mask_id (>= 0) are masked. */
void dg_attn_packed(const float *qkv, int A, int H, const dg_rel_bias *rb, const int *ids,
                    int mask_id, const int *off, const int *len, int ns, float *scores,
                    float *ctx);

/* Decoder self-attention for layer l: appends each row's k, v (from qkv[R, 3A]) to its cache,
 * then attends over the row's history. scores: per-thread scratch, thread w's at
 * scores + w * stride, stride >= max(pos) + 1. Rows are split over the pool's threads. */
void dg_attn_cached(const float *qkv, const dg_dec_row *rows, int R, int l, int A, int H,
                    const dg_rel_bias *rb, float *scores, int stride, dg_pool *pool, float *ctx);

/* Rows of one sentence attended together by dg_attn_cross. */
#define DG_CROSS_Q 4

/* Decoder cross-attention for layer l of Ld: q[R, A] against each row's sentence's cross K/V
 * (elements of type kt), source tokens equal to mask_id (>= 0, rows with src) masked; rows of
 * one sentence (the same cross_kv) must be consecutive to share their reads. scores as for
 * dg_attn_cached, stride >= DG_CROSS_Q * max(S). align (NULL = none) receives the rows'
 * head-averaged weights where it asks for layer l. */
void dg_attn_cross(const float *q, const dg_dec_row *rows, int R, int l, int Ld, int A, int H,
                   dg_kvtype kt, int mask_id, float *scores, int stride, dg_pool *pool,
                   const dg_align_rows *align, float *ctx);

/* Norms are LayerNorm, or RMSNorm when ln has no bias. */
void dg_norm_rows(const dg_model *m, const float *x, const dg_norm *ln, int n, float *y);
/* The sublayer input: LN(x) into h under pre-norm, x itself under post-norm. */
const float *dg_sublayer_in(const dg_model *m, const float *x, const dg_norm *ln, int n,
                            float *h);
/* Adds the sublayer output: x += out (pre-norm) or x = LN(x + out) (post-norm). */
void dg_sublayer_out(const dg_model *m, float *x, const float *out, const dg_norm *ln, int n);

/* out[n, D] = fc2(act(fc1(h))), or fc2(act(fc1(h)) * fc1_noact(h)) when gated; ffn is scratch
 * [n, F] ([n, 2F] when gated); the GEMMs split over pool's threads. */
void dg_ffn(const dg_model *m, const dg_layer *L, int F, const float *h, int n, float *ffn,
            float *out, dg_pool *pool);

#endif
