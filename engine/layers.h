/* Building blocks shared by the encoder and the decoder: attention in its three forms, the
 * feed-forward block, and the residual + LayerNorm wiring (post-norm or pre-norm by quirk).
 *
 * DESIGN. Projections are GEMMs done by the callers (they know how many rows a step has); the
 * functions here do the per-row and per-head work between the GEMMs. Queries arrive already
 * scaled by dh^-0.5 (folded into the packed weights at load). */
#ifndef DG_LAYERS_H
#define DG_LAYERS_H

#include "engine/forward.h"

/* Encoder self-attention over packed sentences: qkv[N, 3D] (q | k | v per row) → ctx[N, D].
 * Sentence i owns rows [off[i], off[i] + len[i]); scores is scratch of max(len)^2 floats. */
void dg_attn_packed(const float *qkv, int D, int H, const int *off, const int *len, int ns,
                    float *scores, float *ctx);

/* Decoder self-attention for layer l: appends each row's k, v (from qkv[R, 3D]) to its cache,
 * then attends over the row's history. scores: per-thread scratch, thread w's at
 * scores + w * stride, stride >= max(pos) + 1. Rows are split over the pool's threads. */
void dg_attn_cached(const float *qkv, const dg_dec_row *rows, int R, int l, int D, int H,
                    float *scores, int stride, dg_pool *pool, float *ctx);

/* Decoder cross-attention for layer l of Ld: q[R, D] against each row's sentence's cross K/V.
 * scores as for dg_attn_cached, stride >= max(S). */
void dg_attn_cross(const float *q, const dg_dec_row *rows, int R, int l, int Ld, int D, int H,
                   float *scores, int stride, dg_pool *pool, float *ctx);

/* The sublayer input: LN(x) into h under pre-norm, x itself under post-norm. */
const float *dg_sublayer_in(const dg_model *m, const float *x, const dg_norm *ln, int n,
                            float *h);
/* Adds the sublayer output: x += out (pre-norm) or x = LN(x + out) (post-norm). */
void dg_sublayer_out(const dg_model *m, float *x, const float *out, const dg_norm *ln, int n);

/* out[n, D] = fc2(act(fc1(h))); ffn is scratch [n, F]; the GEMMs split over pool's threads. */
void dg_ffn(const dg_model *m, const dg_layer *L, int F, const float *h, int n, float *ffn,
            float *out, dg_pool *pool);

#endif
