/* Scalar reference kernels: the maths of kernels.h written plainly (double accumulators where
 * torch's own reductions are more precise than a naive float sum). They are the algorithmic
 * reference the AVX2 versions are tested against, not used by the engine. */
#include <math.h>

#include "engine/kernels.h"
#include "engine/gemm_kernels.h" /* dg_bf16_round, dg_bf16_to_f32 */

static void layernorm_row(const float *x, const float *g, const float *b, float *y, int D,
                          float eps)
{
    if (!b) {   /* RMSNorm */
        double ss = 0;
        for (int i = 0; i < D; i++)
            ss += (double)x[i] * x[i];
        float inv = (float)(1.0 / sqrt(ss / D + eps));
        for (int i = 0; i < D; i++)
            y[i] = g[i] * (x[i] * inv);
        return;
    }
    double mean = 0, var = 0;
    for (int i = 0; i < D; i++)
        mean += x[i];
    mean /= D;
    for (int i = 0; i < D; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= D;
    double inv = 1.0 / sqrt(var + eps);
    for (int i = 0; i < D; i++)
        y[i] = (float)((x[i] - mean) * inv) * g[i] + b[i];
}

void dg_k_add_layernorm_ref(float *x, const float *a, const float *g, const float *b, int rows,
                            int D, float eps)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * D;
        if (a)
            for (int i = 0; i < D; i++)
                xr[i] += a[(size_t)r * D + i];
        layernorm_row(xr, g, b, xr, D, eps);
    }
}

void dg_k_layernorm_ref(const float *x, const float *g, const float *b, float *y, int rows,
                        int D, float eps)
{
    for (int r = 0; r < rows; r++)
        layernorm_row(x + (size_t)r * D, g, b, y + (size_t)r * D, D, eps);
}

void dg_k_add_ref(float *x, const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += a[i];
}

void dg_k_mul_ref(float *x, const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= a[i];
}

void dg_k_activation_ref(float *x, size_t n, dg_activation act)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        switch (act) {
        case DG_ACT_SILU: v = v / (1.0 + exp(-v)); break;
        case DG_ACT_RELU: v = v > 0 ? v : 0; break;
        case DG_ACT_GELU: v = 0.5 * v * (1.0 + erf(v / sqrt(2.0))); break;
        case DG_ACT_GELU_TANH:
            v = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
            break;
        }
        x[i] = (float)v;
    }
}

void dg_k_softmax_ref(float *x, int n)
{
    float mx = x[0];
    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)x[i] - mx);
    for (int i = 0; i < n; i++)
        x[i] = (float)(exp((double)x[i] - mx) / sum);
}

void dg_k_log_softmax_ref(float *x, int n)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY)
        return;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)x[i] - mx);
    float lse = (float)log(sum);
    for (int i = 0; i < n; i++)
        x[i] = (x[i] - mx) - lse;
}

int dg_k_argmax_ref(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

float dg_k_lse_ref(const float *x, int n, float *mx)
{
    *mx = -INFINITY;
    for (int i = 0; i < n; i++)
        *mx = x[i] > *mx ? x[i] : *mx;
    if (*mx == -INFINITY)
        return 0.0f;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)x[i] - *mx);
    return (float)log(sum);
}

static int topk_ref(const float *x, int n, int lp, float mx, float lse, float add, int k,
                    float *val, int *idx)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        float v = (lp ? (x[i] - mx) - lse : x[i]) + add;
        if (m == k && !(v > val[k - 1]))
            continue;
        int j = m < k ? m++ : k - 1;
        /* strictly greater moves up: an equal value keeps the earlier index in front */
        while (j > 0 && v > val[j - 1]) {
            val[j] = val[j - 1];
            idx[j] = idx[j - 1];
            j--;
        }
        val[j] = v;
        idx[j] = i;
    }
    return m;
}

int dg_k_topk_ref(const float *x, int n, float add, int k, float *val, int *idx)
{
    return topk_ref(x, n, 0, 0.0f, 0.0f, add, k, val, idx);
}

int dg_k_topk_lp_ref(const float *x, int n, float mx, float lse, float add, int k, float *val,
                     int *idx)
{
    return topk_ref(x, n, mx != -INFINITY, mx, lse, add, k, val, idx);
}

float dg_k_dot_ref(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

void dg_k_axpy_ref(float *y, float alpha, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static const float *cache_row(const float *base, size_t ld, const int *slot, size_t sld, int t)
{
    return base + (size_t)t * ld + (slot ? (size_t)slot[t] * sld : 0);
}

void dg_k_dots_ref(const float *q, const float *k, size_t ld, const int *slot, size_t sld, int T,
                   int dh, float *scores)
{
    for (int t = 0; t < T; t++)
        scores[t] = dg_k_dot_ref(q, cache_row(k, ld, slot, sld, t), dh);
}

void dg_k_wsum_ref(const float *p, const float *v, size_t ld, const int *slot, size_t sld, int T,
                   int dh, float *out)
{
    for (int i = 0; i < dh; i++)
        out[i] = 0.0f;
    for (int t = 0; t < T; t++)
        dg_k_axpy_ref(out, p[t], cache_row(v, ld, slot, sld, t), dh);
}

void dg_k_dots_q_ref(const float *q, size_t qld, int nq, const float *k, size_t ld, int T, int dh,
                     float *scores, size_t sst)
{
    for (int g = 0; g < nq; g++)
        dg_k_dots_ref(q + g * qld, k, ld, NULL, 0, T, dh, scores + g * sst);
}

void dg_k_wsum_q_ref(const float *p, size_t pst, int nq, const float *v, size_t ld, int T, int dh,
                     float *out, size_t ost)
{
    for (int g = 0; g < nq; g++)
        dg_k_wsum_ref(p + g * pst, v, ld, NULL, 0, T, dh, out + g * ost);
}

/* bf16 caches: the float32 maths above on the widened elements */
static const uint16_t *cache_row_bf16(const uint16_t *base, size_t ld, const int *slot, size_t sld,
                                      int t)
{
    return base + (size_t)t * ld + (slot ? (size_t)slot[t] * sld : 0);
}

void dg_k_dots_bf16_ref(const float *q, const uint16_t *k, size_t ld, const int *slot, size_t sld,
                        int T, int dh, float *scores)
{
    for (int t = 0; t < T; t++) {
        const uint16_t *kt = cache_row_bf16(k, ld, slot, sld, t);
        double s = 0;
        for (int i = 0; i < dh; i++)
            s += (double)q[i] * dg_bf16_to_f32(kt[i]);
        scores[t] = (float)s;
    }
}

void dg_k_wsum_bf16_ref(const float *p, const uint16_t *v, size_t ld, const int *slot, size_t sld,
                        int T, int dh, float *out)
{
    for (int i = 0; i < dh; i++)
        out[i] = 0.0f;
    for (int t = 0; t < T; t++) {
        const uint16_t *vt = cache_row_bf16(v, ld, slot, sld, t);
        for (int i = 0; i < dh; i++)
            out[i] += p[t] * dg_bf16_to_f32(vt[i]);
    }
}

void dg_k_dots_q_bf16_ref(const float *q, size_t qld, int nq, const uint16_t *k, size_t ld, int T,
                          int dh, float *scores, size_t sst)
{
    for (int g = 0; g < nq; g++)
        dg_k_dots_bf16_ref(q + g * qld, k, ld, NULL, 0, T, dh, scores + g * sst);
}

void dg_k_wsum_q_bf16_ref(const float *p, size_t pst, int nq, const uint16_t *v, size_t ld, int T,
                          int dh, float *out, size_t ost)
{
    for (int g = 0; g < nq; g++)
        dg_k_wsum_bf16_ref(p + g * pst, v, ld, NULL, 0, T, dh, out + g * ost);
}

void dg_k_to_bf16_ref(uint16_t *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = dg_bf16_round(x[i]);
}
