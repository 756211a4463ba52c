/* Attention, feed-forward and residual wiring (see layers.h). The attention loops are written
 * by hand for the decoder (one query per row, histories scattered by the cache's ancestry) and
 * as two small GEMMs per head for the encoder (S queries against S keys). */
#include <string.h>

#include "engine/kernels.h"
#include "engine/layers.h"

void dg_attn_packed(const float *qkv, int D, int H, const int *off, const int *len, int ns,
                    float *scores, float *ctx)
{
    int dh = D / H, ld = 3 * D;
    for (int i = 0; i < ns; i++) {
        int S = len[i];
        const float *base = qkv + (size_t)off[i] * ld;
        for (int h = 0; h < H; h++) {
            const float *q = base + h * dh, *k = base + D + h * dh, *v = base + 2 * D + h * dh;
            dg_sgemm(true, S, S, dh, q, ld, k, ld, scores, S);
            for (int s = 0; s < S; s++)
                dg_k_softmax(scores + (size_t)s * S, S);
            dg_sgemm(false, S, dh, S, scores, S, v, ld, ctx + (size_t)off[i] * D + h * dh, D);
        }
    }
}

typedef struct {
    const float *q;          /* cached: qkv [R, 3D]; cross: q [R, D] */
    const dg_dec_row *rows;
    int l, Ld, D, H, stride;
    float *scores, *ctx;
} dg_attn_job;

static void cached_rows(void *arg, int begin, int end, int worker)
{
    const dg_attn_job *j = arg;
    int D = j->D, dh = D / j->H, l = j->l;
    float *scores = j->scores + (size_t)worker * j->stride;
    for (int r = begin; r < end; r++) {
        const dg_dec_row *row = &j->rows[r];
        const dg_kv *kv = row->kv;
        const int *anc = kv->anc + (size_t)row->slot * kv->cap;
        int T = row->pos + 1;
        float *out = j->ctx + (size_t)r * D;
        memset(out, 0, D * sizeof(float));
        for (int h = 0; h < j->H; h++) {
            const float *q = j->q + (size_t)r * 3 * D + h * dh;
            for (int t = 0; t < T; t++)
                scores[t] = dg_k_dot(q, dg_kv_row(kv, t, l, 0, anc[t]) + h * dh, dh);
            dg_k_softmax(scores, T);
            for (int t = 0; t < T; t++)
                dg_k_axpy(out + h * dh, scores[t], dg_kv_row(kv, t, l, 1, anc[t]) + h * dh, dh);
        }
    }
}

void dg_attn_cached(const float *qkv, const dg_dec_row *rows, int R, int l, int D, int H,
                    float *scores, int stride, dg_pool *pool, float *ctx)
{
    /* appends first (serially: rows of one sentence share its cache) */
    for (int r = 0; r < R; r++) {
        const dg_dec_row *row = &rows[r];
        const float *src = qkv + (size_t)r * 3 * D;
        memcpy(dg_kv_row(row->kv, row->pos, l, 0, row->slot), src + D, D * sizeof(float));
        memcpy(dg_kv_row(row->kv, row->pos, l, 1, row->slot), src + 2 * D, D * sizeof(float));
    }
    dg_attn_job j = {qkv, rows, l, 0, D, H, stride, scores, ctx};
    dg_pool_for(pool, R, cached_rows, &j);
}

static void cross_rows(void *arg, int begin, int end, int worker)
{
    const dg_attn_job *j = arg;
    int D = j->D, dh = D / j->H;
    size_t stride = (size_t)j->Ld * 2 * D;
    float *scores = j->scores + (size_t)worker * j->stride;
    for (int r = begin; r < end; r++) {
        const dg_dec_row *row = &j->rows[r];
        const float *kbase = row->cross_kv + (size_t)j->l * 2 * D, *vbase = kbase + D;
        float *out = j->ctx + (size_t)r * D;
        memset(out, 0, D * sizeof(float));
        for (int h = 0; h < j->H; h++) {
            const float *qh = j->q + (size_t)r * D + h * dh;
            for (int s = 0; s < row->S; s++)
                scores[s] = dg_k_dot(qh, kbase + s * stride + h * dh, dh);
            dg_k_softmax(scores, row->S);
            for (int s = 0; s < row->S; s++)
                dg_k_axpy(out + h * dh, scores[s], vbase + s * stride + h * dh, dh);
        }
    }
}

void dg_attn_cross(const float *q, const dg_dec_row *rows, int R, int l, int Ld, int D, int H,
                   float *scores, int stride, dg_pool *pool, float *ctx)
{
    dg_attn_job j = {q, rows, l, Ld, D, H, stride, scores, ctx};
    dg_pool_for(pool, R, cross_rows, &j);
}

const float *dg_sublayer_in(const dg_model *m, const float *x, const dg_norm *ln, int n,
                            float *h)
{
    if (!m->q.normalize_before)
        return x;
    dg_k_layernorm(x, ln->g, ln->b, h, n, m->D, m->q.layer_norm_eps);
    return h;
}

void dg_sublayer_out(const dg_model *m, float *x, const float *out, const dg_norm *ln, int n)
{
    if (m->q.normalize_before)
        dg_k_add(x, out, (size_t)n * m->D);
    else
        dg_k_add_layernorm(x, out, ln->g, ln->b, n, m->D, m->q.layer_norm_eps);
}

void dg_ffn(const dg_model *m, const dg_layer *L, int F, const float *h, int n, float *ffn,
            float *out, dg_pool *pool)
{
    dg_matmul(h, n, &L->fc1, ffn, pool);
    dg_k_activation(ffn, (size_t)n * F, m->q.activation);
    dg_matmul(ffn, n, &L->fc2, out, pool);
}
