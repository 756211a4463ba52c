/* Attention, feed-forward and residual wiring (see layers.h). The attention loops are written
 * by hand for the decoder (one query per row, histories scattered by the cache's ancestry) and
 * as two small GEMMs per head for the encoder (S queries against S keys). */
#include <stdint.h>
#include <string.h>
#include <xmmintrin.h>

#include "engine/kernels.h"
#include "engine/layers.h"

void dg_attn_packed(const float *qkv, int A, int H, const dg_rel_bias *rb, const int *ids,
                    int mask_id, const int *off, const int *len, int ns, float *scores,
                    float *ctx)
{
    int dh = A / H, ld = 3 * A;
    for (int i = 0; i < ns; i++) {
        int S = len[i], masked = 0;
        const float *base = qkv + (size_t)off[i] * ld;
        const int *sid = ids + off[i];
        for (int t = 0; t < S && mask_id >= 0; t++)
            masked |= sid[t] == mask_id;
        for (int h = 0; h < H; h++) {
            const float *q = base + h * dh, *k = base + A + h * dh, *v = base + 2 * A + h * dh;
            dg_sgemm(true, S, S, dh, q, ld, k, ld, scores, S);
            for (int s = 0; s < S; s++) {
                float *row = scores + (size_t)s * S;
                if (rb && rb->bias) {
                    const float *b = rb->bias + (size_t)h * rb->span + rb->maxd;
                    for (int t = 0; t < S; t++) {
                        int rel = t - s;
                        row[t] += b[rel < -rb->maxd ? -rb->maxd : rel > rb->maxd ? rb->maxd : rel];
                    }
                }
                for (int t = 0; t < S && masked; t++)
                    if (sid[t] == mask_id)
                        row[t] += DG_MASKED;
                dg_k_softmax(row, S);
            }
            dg_sgemm(false, S, dh, S, scores, S, v, ld, ctx + (size_t)off[i] * A + h * dh, A);
        }
    }
}

/* Requests T rows of n floats (row t at base + t * ld + (slot ? slot[t] * sld : 0)) into the
 * cache. A row's keys and values lie one time step apart (tens of KB), a stride the hardware
 * prefetcher does not follow, so the head-by-head passes below would wait on each line in turn;
 * asked for together, the lines arrive in parallel. */
static void prefetch_rows(const void *base, size_t ld, const int *slot, size_t sld, int T, int n,
                          dg_kvtype kt)
{
    size_t es = dg_kvtype_size(kt);
    for (int t = 0; t < T; t++) {
        size_t e = (size_t)t * ld + (slot ? (size_t)slot[t] * sld : 0);
        const char *row = (const char *)base + e * es;
        for (size_t b = 0; b < (size_t)n * es; b += 64)
            __builtin_prefetch(row + b, 0, 2);
    }
}

/* Copies a new key or value row into the cache with streaming stores: the caches of a batch
 * are far larger than the CPU's caches, so the row's lines are not cached, and ordinary stores
 * would first read each line from memory only to overwrite it (that read was most of the
 * copy's time). The row is read back from memory when attended, as the older rows are. */
static void append_row(void *dst, const float *src, int n, dg_kvtype kt)
{
    if (kt == DG_KV_BF16) {
        dg_k_to_bf16(dst, src, n);   /* streams too */
        return;
    }
    float *d = dst;
    int i = 0;
    if (((uintptr_t)d & 15) == 0)
        for (; i + 4 <= n; i += 4)
            _mm_stream_ps(d + i, _mm_loadu_ps(src + i));
    memcpy(d + i, src + i, (size_t)(n - i) * sizeof(float));
}

/* The attention kernels for the caches' element type; offsets and strides count elements. */
static inline const void *kv_at(const void *base, size_t i, dg_kvtype kt)
{
    return (const char *)base + i * dg_kvtype_size(kt);
}

static void kv_dots(dg_kvtype kt, const float *q, const void *k, size_t ld, const int *slot,
                    size_t sld, int T, int dh, float *scores)
{
    if (kt == DG_KV_BF16)
        dg_k_dots_bf16(q, k, ld, slot, sld, T, dh, scores);
    else
        dg_k_dots(q, k, ld, slot, sld, T, dh, scores);
}

static void kv_wsum(dg_kvtype kt, const float *p, const void *v, size_t ld, const int *slot,
                    size_t sld, int T, int dh, float *out)
{
    if (kt == DG_KV_BF16)
        dg_k_wsum_bf16(p, v, ld, slot, sld, T, dh, out);
    else
        dg_k_wsum(p, v, ld, slot, sld, T, dh, out);
}

static void kv_dots_q(dg_kvtype kt, const float *q, size_t qld, int nq, const void *k, size_t ld,
                      int T, int dh, float *scores, size_t sst)
{
    if (kt == DG_KV_BF16)
        dg_k_dots_q_bf16(q, qld, nq, k, ld, T, dh, scores, sst);
    else
        dg_k_dots_q(q, qld, nq, k, ld, T, dh, scores, sst);
}

static void kv_wsum_q(dg_kvtype kt, const float *p, size_t pst, int nq, const void *v, size_t ld,
                      int T, int dh, float *out, size_t ost)
{
    if (kt == DG_KV_BF16)
        dg_k_wsum_q_bf16(p, pst, nq, v, ld, T, dh, out, ost);
    else
        dg_k_wsum_q(p, pst, nq, v, ld, T, dh, out, ost);
}

typedef struct {
    const float *q;          /* cached: qkv [R, 3A]; cross: q [R, A] */
    const dg_dec_row *rows;
    const dg_rel_bias *rb;
    int l, Ld, A, H, stride, mask_id;
    dg_kvtype kt;            /* cross: the cross K/V's element type (the cache's own for self) */
    float *scores, *ctx;
    const dg_align_rows *align;
} dg_attn_job;

static void cached_rows(void *arg, int begin, int end, int worker)
{
    const dg_attn_job *j = arg;
    int A = j->A, dh = A / j->H, l = j->l;
    float *scores = j->scores + (size_t)worker * j->stride;
    const dg_rel_bias *rb = j->rb && j->rb->bias ? j->rb : NULL;
    for (int r = begin; r < end; r++) {
        const dg_dec_row *row = &j->rows[r];
        const dg_kv *kv = row->kv;
        dg_kvtype kt = kv->type;
        const int *anc = kv->anc + (size_t)row->slot * kv->cap;
        int T = row->pos + 1;
        /* the row's own key and value first: of this step's appends it reads only its own
         * (anc[pos] is its slot), so each thread appends the rows it attends */
        const float *src = j->q + (size_t)r * 3 * A;
        append_row(dg_kv_row(kv, row->pos, l, 0, row->slot), src + A, A, kt);
        append_row(dg_kv_row(kv, row->pos, l, 1, row->slot), src + 2 * A, A, kt);
        float *out = j->ctx + (size_t)r * A;
        /* key / value rows of time t: base + t * tstride + anc[t] * D elements (kv_cache.h's
         * layout) */
        const void *kb = dg_kv_row(kv, 0, l, 0, 0), *vb = dg_kv_row(kv, 0, l, 1, 0);
        size_t tstride = (size_t)kv->Ld * 2 * kv->nb * kv->D;
        prefetch_rows(kb, tstride, anc, (size_t)kv->D, T, A, kt);
        prefetch_rows(vb, tstride, anc, (size_t)kv->D, T, A, kt);
        for (int h = 0; h < j->H; h++) {
            const float *q = j->q + (size_t)r * 3 * A + h * dh;
            kv_dots(kt, q, kv_at(kb, (size_t)h * dh, kt), tstride, anc, (size_t)kv->D, T, dh,
                    scores);
            if (rb) {   /* causal: key t is row->pos - t behind the query */
                const float *b = rb->bias + (size_t)h * rb->span;
                for (int t = 0; t < T; t++) {
                    int back = row->pos - t;
                    scores[t] += b[back < rb->maxd ? back : rb->maxd];
                }
            }
            dg_k_softmax(scores, T);
            kv_wsum(kt, scores, kv_at(vb, (size_t)h * dh, kt), tstride, anc, (size_t)kv->D, T, dh,
                    out + h * dh);
        }
    }
    _mm_sfence(); /* the streamed rows are read by other threads in later steps */
}

void dg_attn_cached(const float *qkv, const dg_dec_row *rows, int R, int l, int A, int H,
                    const dg_rel_bias *rb, float *scores, int stride, dg_pool *pool, float *ctx)
{
    dg_attn_job j = {qkv, rows, rb, l, 0, A, H, stride, -1, DG_KV_F32, scores, ctx, NULL};
    dg_pool_for(pool, R, cached_rows, &j);
}

/* Rows of one sentence (its beams, consecutive in a step) share its cross K/V: up to DG_CROSS_Q
 * of them are attended together, each key and value row read once for all (dg_k_dots_q,
 * dg_k_wsum_q: the same sums as one row at a time). Their scores lie S floats apart. */
static void cross_rows(void *arg, int begin, int end, int worker)
{
    const dg_attn_job *j = arg;
    int A = j->A, dh = A / j->H;
    dg_kvtype kt = j->kt;
    size_t stride = (size_t)j->Ld * 2 * A;
    float *scores = j->scores + (size_t)worker * j->stride;
    for (int r = begin, n; r < end; r += n) {
        const dg_dec_row *row = &j->rows[r];
        int S = row->S;
        for (n = 1; n < DG_CROSS_Q && r + n < end && j->rows[r + n].cross_kv == row->cross_kv;)
            n++;
        const void *kbase = kv_at(row->cross_kv, (size_t)j->l * 2 * A, kt),
                   *vbase = kv_at(kbase, (size_t)A, kt);
        float *out = j->ctx + (size_t)r * A;
        float *align[DG_CROSS_Q];
        for (int g = 0; g < n; g++) {
            align[g] = j->align && j->align->out[r + g] && j->align->layer[r + g] == j->l
                           ? j->align->out[r + g] : NULL;
            if (align[g])
                memset(align[g], 0, (size_t)S * sizeof(float));
        }
        prefetch_rows(kbase, stride, NULL, 0, S, A, kt);
        prefetch_rows(vbase, stride, NULL, 0, S, A, kt);
        for (int h = 0; h < j->H; h++) {
            const float *qh = j->q + (size_t)r * A + h * dh;
            const void *kh = kv_at(kbase, (size_t)h * dh, kt);
            const void *vh = kv_at(vbase, (size_t)h * dh, kt);
            if (n == 1)
                kv_dots(kt, qh, kh, stride, NULL, 0, S, dh, scores);
            else
                kv_dots_q(kt, qh, (size_t)A, n, kh, stride, S, dh, scores, (size_t)S);
            for (int g = 0; g < n; g++) {
                float *sc = scores + (size_t)g * S;
                if (row->src && j->mask_id >= 0)
                    for (int s = 0; s < S; s++)
                        if (row->src[s] == j->mask_id)
                            sc[s] += DG_MASKED;
                dg_k_softmax(sc, S);
                if (align[g])
                    dg_k_axpy(align[g], 1.0f / (float)j->H, sc, S);
            }
            if (n == 1)
                kv_wsum(kt, scores, vh, stride, NULL, 0, S, dh, out + h * dh);
            else
                kv_wsum_q(kt, scores, (size_t)S, n, vh, stride, S, dh, out + h * dh, (size_t)A);
        }
    }
}

void dg_attn_cross(const float *q, const dg_dec_row *rows, int R, int l, int Ld, int A, int H,
                   dg_kvtype kt, int mask_id, float *scores, int stride, dg_pool *pool,
                   const dg_align_rows *align, float *ctx)
{
    dg_attn_job j = {q, rows, NULL, l, Ld, A, H, stride, mask_id, kt, scores, ctx, align};
    dg_pool_for(pool, R, cross_rows, &j);
}

void dg_norm_rows(const dg_model *m, const float *x, const dg_norm *ln, int n, float *y)
{
    dg_k_layernorm(x, ln->g, ln->b, y, n, m->D, m->q.layer_norm_eps);
}

const float *dg_sublayer_in(const dg_model *m, const float *x, const dg_norm *ln, int n,
                            float *h)
{
    if (!m->q.normalize_before)
        return x;
    dg_norm_rows(m, x, ln, n, h);
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
    if (L->fc1_noact.N) { /* gated: act(wi_0 h) * wi_1 h */
        float *lin = ffn + (size_t)n * F;
        dg_matmul(h, n, &L->fc1_noact, lin, pool);
        dg_k_mul(ffn, lin, (size_t)n * F);
    }
    dg_matmul(ffn, n, &L->fc2, out, pool);
}
