/* AVX2/FMA kernels (the engine's hot element-wise and row-wise loops).
 *
 * DESIGN. Each loop runs 8 floats at a time up to n & ~7, then a scalar tail, so any size is
 * valid. exp is a Cephes-style range reduction (x = k ln2 + r) with a degree-6 polynomial,
 * accurate to ~2 ulp on [-87, 88] and flushed to 0 below (softmax never needs denormals); erf
 * for the exact GELU uses Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7, below float32 noise of the
 * surrounding GEMMs). Horizontal sums reduce 8 lanes in a fixed order, so results are
 * deterministic for a given size. tests/test_kernels.c compares every kernel with kernels_ref.c. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "engine/kernels_isa.h" /* before kernels.h: builds the _avx2 twins */
#include "engine/kernels.h"
#include "engine/gemm_kernels.h" /* dg_bf16_round, dg_bf16_to_f32: the weights' bf16 rounding */

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static inline float hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static inline __m256 exp8(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(88.3762626647949f);
    const __m256 lo = _mm256_set1_ps(-87.3365447504f);
    __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* r = x - k ln2 in two parts so r keeps full precision */
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* scale by 2^k; k + 127 stays in [1, 254] thanks to the clamp; k = 128 at the top end is
     * split in two multiplications so 2^k never overflows the exponent field */
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i half = _mm256_srai_epi32(ki, 1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ki, half), _mm256_set1_epi32(127)), 23));
    p = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    return _mm256_andnot_ps(underflow, p);
}

/* Abramowitz-Stegun 7.1.26 with the sign restored: erf(-x) = -erf(x). */
static inline __m256 erf8(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 s = _mm256_and_ps(x, sign);
    __m256 a = _mm256_andnot_ps(sign, x);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), a, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
    __m256 y = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
    return _mm256_or_ps(y, s);
}

static inline __m256 act8(__m256 x, dg_activation act)
{
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    switch (act) {
    case DG_ACT_SILU:
        return _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    case DG_ACT_RELU:
        return _mm256_max_ps(x, _mm256_setzero_ps());
    case DG_ACT_GELU:
        return _mm256_mul_ps(_mm256_mul_ps(half, x),
                             _mm256_add_ps(one, erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)))));
    case DG_ACT_GELU_TANH: {
        __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                                 _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
        /* tanh(u) = 1 - 2 / (exp(2u) + 1), exact at both saturated ends */
        __m256 th = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f),
                                                     _mm256_add_ps(exp8(_mm256_add_ps(u, u)), one)));
        return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, th));
    }
    }
    return x;
}

static float act1(float x, dg_activation act)
{
    float buf[8] = {x};
    _mm256_storeu_ps(buf, act8(_mm256_loadu_ps(buf), act));
    return buf[0];
}

/* T5LayerNorm: y = g * (x * rsqrt(mean(x^2) + eps)), no mean, no bias, float32 throughout. */
static void rmsnorm_row(const float *x, const float *g, float *y, int D, float eps)
{
    int n8 = D & ~7, i;
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i < n8; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float ss = hsum(acc);
    for (; i < D; i++)
        ss += x[i] * x[i];
    float inv = 1.0f / sqrtf(ss / D + eps);
    __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i < n8; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(g + i),
                                              _mm256_mul_ps(_mm256_loadu_ps(x + i), vi)));
    for (; i < D; i++)
        y[i] = g[i] * (x[i] * inv);
}

static void layernorm_row(const float *x, const float *g, const float *b, float *y, int D,
                          float eps)
{
    if (!b) {
        rmsnorm_row(x, g, y, D, eps);
        return;
    }
    int n8 = D & ~7, i;
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i < n8; i += 8)
        acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
    float sum = hsum(acc);
    for (; i < D; i++)
        sum += x[i];
    float mean = sum / D;
    __m256 vm = _mm256_set1_ps(mean);
    acc = _mm256_setzero_ps();
    for (i = 0; i < n8; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        acc = _mm256_fmadd_ps(d, d, acc);
    }
    float var = hsum(acc);
    for (; i < D; i++)
        var += (x[i] - mean) * (x[i] - mean);
    float inv = 1.0f / sqrtf(var / D + eps);
    __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i < n8; i += 8) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(d, _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
    }
    for (; i < D; i++)
        y[i] = (x[i] - mean) * inv * g[i] + b[i];
}

void dg_k_add_layernorm(float *x, const float *a, const float *g, const float *b, int rows,
                        int D, float eps)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * D;
        if (a)
            dg_k_add(xr, a + (size_t)r * D, (size_t)D);
        layernorm_row(xr, g, b, xr, D, eps);
    }
}

void dg_k_layernorm(const float *x, const float *g, const float *b, float *y, int rows, int D,
                    float eps)
{
    for (int r = 0; r < rows; r++)
        layernorm_row(x + (size_t)r * D, g, b, y + (size_t)r * D, D, eps);
}

void dg_k_add(float *x, const float *a, size_t n)
{
    size_t n8 = n & ~(size_t)7, i;
    for (i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(a + i)));
    for (; i < n; i++)
        x[i] += a[i];
}

void dg_k_mul(float *x, const float *a, size_t n)
{
    size_t n8 = n & ~(size_t)7, i;
    for (i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(a + i)));
    for (; i < n; i++)
        x[i] *= a[i];
}

void dg_k_activation(float *x, size_t n, dg_activation act)
{
    size_t n8 = n & ~(size_t)7, i;
    for (i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, act8(_mm256_loadu_ps(x + i), act));
    for (; i < n; i++)
        x[i] = act1(x[i], act);
}

static float row_max(const float *x, int n)
{
    int n8 = n & ~7, i;
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (i = 0; i < n8; i += 8)
        m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float mx = hmax(m);
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* Writes y = exp(x - mx) when y != NULL; returns the sum of exp(x - mx). */
static float exp_sum(const float *x, float *y, int n, float mx)
{
    int n8 = n & ~7, i;
    __m256 vm = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    for (i = 0; i < n8; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        if (y)
            _mm256_storeu_ps(y + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; i < n; i++) {
        float e = expf(x[i] - mx);
        if (y)
            y[i] = e;
        sum += e;
    }
    return sum;
}

void dg_k_softmax(float *x, int n)
{
    float mx = row_max(x, n);
    float inv = 1.0f / exp_sum(x, x, n, mx);
    int n8 = n & ~7, i;
    __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
    for (; i < n; i++)
        x[i] *= inv;
}

void dg_k_log_softmax(float *x, int n)
{
    float mx = row_max(x, n);
    if (mx == -INFINITY)
        return;
    float lse = logf(exp_sum(x, NULL, n, mx));
    int n8 = n & ~7, i;
    __m256 vm = _mm256_set1_ps(mx), vl = _mm256_set1_ps(lse);
    for (i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vl));
    for (; i < n; i++)
        x[i] = (x[i] - mx) - lse;
}

int dg_k_argmax(const float *x, int n)
{
    float mx = row_max(x, n);
    for (int i = 0; i < n; i++)
        if (x[i] == mx)
            return i;
    return 0; /* only reached when every entry is NaN */
}

float dg_k_lse(const float *x, int n, float *mx)
{
    *mx = row_max(x, n);
    return *mx == -INFINITY ? 0.0f : logf(exp_sum(x, NULL, n, *mx));
}

/* Top-k of x[i] + add, or with lp of ((x[i] - mx) - lse) + add: the value dg_k_log_softmax
 * writes, then the addition, rounded as those two steps round. */
static inline __attribute__((always_inline)) int topk(const float *x, int n, int lp, float mx,
                                                     float lse, float add, int k, float *val,
                                                     int *idx)
{
    int m = 0;
    __m256 va = _mm256_set1_ps(add), vm = _mm256_set1_ps(mx), vl = _mm256_set1_ps(lse);
    /* until k values are held every element is a candidate; afterwards a block of 8 is skipped
     * unless one of its values beats the current k-th, which is almost every block */
    for (int i = 0; i < n; i++) {
        if (m == k && (i & 7) == 0 && i + 8 <= n) {
            __m256 v = _mm256_loadu_ps(x + i);
            if (lp)
                v = _mm256_sub_ps(_mm256_sub_ps(v, vm), vl);
            v = _mm256_add_ps(v, va);
            if (!_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(val[k - 1]), _CMP_GT_OQ))) {
                i += 7;
                continue;
            }
        }
        float v = (lp ? (x[i] - mx) - lse : x[i]) + add;
        if (m == k && !(v > val[k - 1]))
            continue;
        int j = m < k ? m++ : k - 1;
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

int dg_k_topk(const float *x, int n, float add, int k, float *val, int *idx)
{
    return topk(x, n, 0, 0.0f, 0.0f, add, k, val, idx);
}

int dg_k_topk_lp(const float *x, int n, float mx, float lse, float add, int k, float *val,
                 int *idx)
{
    /* an all -inf row is left as it is by dg_k_log_softmax */
    return mx == -INFINITY ? topk(x, n, 0, 0.0f, 0.0f, add, k, val, idx)
                           : topk(x, n, 1, mx, lse, add, k, val, idx);
}

float dg_k_dot(const float *a, const float *b, int n)
{
    int n8 = n & ~7, i;
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i < n8; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum(acc);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

void dg_k_axpy(float *y, float alpha, const float *x, int n)
{
    int n8 = n & ~7, i;
    __m256 va = _mm256_set1_ps(alpha);
    for (i = 0; i < n8; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

/* The attention kernels below read their keys / values as float32 (the float32 compute type's
 * caches) or as bfloat16 (bf != 0: int8 and bfloat16 compute types, half the memory traffic),
 * widened exactly (the 16 bits become a float32's high half) and then summed with the same
 * instructions in the same order: a bf16 kernel gives bit for bit what the float32 one gives on
 * the widened rows. Each public kernel instantiates the body with a constant bf. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE __m256 load8(const void *p, size_t i, int bf)
{
    if (bf) {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    return _mm256_loadu_ps((const float *)p + i);
}

ALWAYS_INLINE float load1(const void *p, size_t i, int bf)
{
    return bf ? dg_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

ALWAYS_INLINE const void *cache_row(const void *base, size_t ld, const int *slot, size_t sld,
                                    int t, int bf)
{
    size_t e = (size_t)t * ld + (slot ? (size_t)slot[t] * sld : 0);
    return (const char *)base + e * (bf ? sizeof(uint16_t) : sizeof(float));
}

/* dg_k_dot of q and one cache row, in dg_k_dot's order */
ALWAYS_INLINE float dot_row(const float *q, const void *k, int n, int bf)
{
    int n8 = n & ~7, i;
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i < n8; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(k, i, bf), acc);
    float s = hsum(acc);
    for (; i < n; i++)
        s += q[i] * load1(k, i, bf);
    return s;
}

/* Four keys at a time, each with its own accumulator summed in dg_k_dot's order. */
ALWAYS_INLINE void dots(const float *q, const void *k, size_t ld, const int *slot, size_t sld,
                        int T, int dh, float *scores, int bf)
{
    int n8 = dh & ~7, t = 0;
    for (; t + 4 <= T; t += 4) {
        const void *k0 = cache_row(k, ld, slot, sld, t, bf);
        const void *k1 = cache_row(k, ld, slot, sld, t + 1, bf);
        const void *k2 = cache_row(k, ld, slot, sld, t + 2, bf);
        const void *k3 = cache_row(k, ld, slot, sld, t + 3, bf);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < n8; i += 8) {
            __m256 qi = _mm256_loadu_ps(q + i);
            a0 = _mm256_fmadd_ps(qi, load8(k0, i, bf), a0);
            a1 = _mm256_fmadd_ps(qi, load8(k1, i, bf), a1);
            a2 = _mm256_fmadd_ps(qi, load8(k2, i, bf), a2);
            a3 = _mm256_fmadd_ps(qi, load8(k3, i, bf), a3);
        }
        float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
        for (int i = n8; i < dh; i++) {
            s0 += q[i] * load1(k0, i, bf);
            s1 += q[i] * load1(k1, i, bf);
            s2 += q[i] * load1(k2, i, bf);
            s3 += q[i] * load1(k3, i, bf);
        }
        scores[t] = s0;
        scores[t + 1] = s1;
        scores[t + 2] = s2;
        scores[t + 3] = s3;
    }
    for (; t < T; t++)
        scores[t] = dot_row(q, cache_row(k, ld, slot, sld, t, bf), dh, bf);
}

void dg_k_dots(const float *q, const float *k, size_t ld, const int *slot, size_t sld, int T,
               int dh, float *scores)
{
    dots(q, k, ld, slot, sld, T, dh, scores, 0);
}

void dg_k_dots_bf16(const float *q, const uint16_t *k, size_t ld, const int *slot, size_t sld,
                    int T, int dh, float *scores)
{
    dots(q, k, ld, slot, sld, T, dh, scores, 1);
}

/* 32 outputs at a time in four registers, over all t (the same fma per element, in t order,
 * as dg_k_axpy's). */
ALWAYS_INLINE void wsum(const float *p, const void *v, size_t ld, const int *slot, size_t sld,
                        int T, int dh, float *out, int bf)
{
    int n8 = dh & ~7, i = 0;
    for (; i + 32 <= n8; i += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int t = 0; t < T; t++) {
            const void *vt = cache_row(v, ld, slot, sld, t, bf);
            __m256 pt = _mm256_set1_ps(p[t]);
            a0 = _mm256_fmadd_ps(pt, load8(vt, i, bf), a0);
            a1 = _mm256_fmadd_ps(pt, load8(vt, i + 8, bf), a1);
            a2 = _mm256_fmadd_ps(pt, load8(vt, i + 16, bf), a2);
            a3 = _mm256_fmadd_ps(pt, load8(vt, i + 24, bf), a3);
        }
        _mm256_storeu_ps(out + i, a0);
        _mm256_storeu_ps(out + i + 8, a1);
        _mm256_storeu_ps(out + i + 16, a2);
        _mm256_storeu_ps(out + i + 24, a3);
    }
    for (; i < n8; i += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int t = 0; t < T; t++)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[t]),
                                 load8(cache_row(v, ld, slot, sld, t, bf), i, bf), a0);
        _mm256_storeu_ps(out + i, a0);
    }
    for (; i < dh; i++) {
        float y = 0.0f;
        for (int t = 0; t < T; t++)
            y += p[t] * load1(cache_row(v, ld, slot, sld, t, bf), i, bf);
        out[i] = y;
    }
}

void dg_k_wsum(const float *p, const float *v, size_t ld, const int *slot, size_t sld, int T,
               int dh, float *out)
{
    wsum(p, v, ld, slot, sld, T, dh, out, 0);
}

void dg_k_wsum_bf16(const float *p, const uint16_t *v, size_t ld, const int *slot, size_t sld,
                    int T, int dh, float *out)
{
    wsum(p, v, ld, slot, sld, T, dh, out, 1);
}

/* The eight hsum()s of a0..a7 at once, each added in hsum's order (lo + hi, then lanes m and
 * m + 2, then lanes 0 and 1), so each sum is bit-identical to hsum's; returned in the order
 * a0, a2, a4, a6, a1, a3, a5, a7. */
static inline __m256 hsum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5,
                           __m256 a6, __m256 a7)
{
    __m256 p01 = _mm256_add_ps(_mm256_permute2f128_ps(a0, a1, 0x20),
                               _mm256_permute2f128_ps(a0, a1, 0x31));
    __m256 p23 = _mm256_add_ps(_mm256_permute2f128_ps(a2, a3, 0x20),
                               _mm256_permute2f128_ps(a2, a3, 0x31));
    __m256 p45 = _mm256_add_ps(_mm256_permute2f128_ps(a4, a5, 0x20),
                               _mm256_permute2f128_ps(a4, a5, 0x31));
    __m256 p67 = _mm256_add_ps(_mm256_permute2f128_ps(a6, a7, 0x20),
                               _mm256_permute2f128_ps(a6, a7, 0x31));
    __m256 q03 = _mm256_add_ps(_mm256_shuffle_ps(p01, p23, _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm256_shuffle_ps(p01, p23, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 q47 = _mm256_add_ps(_mm256_shuffle_ps(p45, p67, _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm256_shuffle_ps(p45, p67, _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_shuffle_ps(q03, q47, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(q03, q47, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Two keys by four queries per pass (eight accumulators, reduced together by hsum8); fewer
 * queries, or an odd last key, repeat a pointer and drop its sums. */
ALWAYS_INLINE void dots_q(const float *q, size_t qld, int nq, const void *k, size_t ld, int T,
                          int dh, float *scores, size_t sst, int bf)
{
    int n8 = dh & ~7;
    const float *qg[4];
    for (int g = 0; g < 4; g++)
        qg[g] = q + (g < nq ? g : 0) * qld;
    for (int t = 0; t < T; t += 2) {
        const void *k0 = cache_row(k, ld, NULL, 0, t, bf);
        const void *k1 = t + 1 < T ? cache_row(k, ld, NULL, 0, t + 1, bf) : k0;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
               a7 = a0;
        for (int i = 0; i < n8; i += 8) {
            __m256 x0 = load8(k0, i, bf), x1 = load8(k1, i, bf);
            __m256 y = _mm256_loadu_ps(qg[0] + i);
            a0 = _mm256_fmadd_ps(y, x0, a0);
            a1 = _mm256_fmadd_ps(y, x1, a1);
            y = _mm256_loadu_ps(qg[1] + i);
            a2 = _mm256_fmadd_ps(y, x0, a2);
            a3 = _mm256_fmadd_ps(y, x1, a3);
            y = _mm256_loadu_ps(qg[2] + i);
            a4 = _mm256_fmadd_ps(y, x0, a4);
            a5 = _mm256_fmadd_ps(y, x1, a5);
            y = _mm256_loadu_ps(qg[3] + i);
            a6 = _mm256_fmadd_ps(y, x0, a6);
            a7 = _mm256_fmadd_ps(y, x1, a7);
        }
        float s[8]; /* query g's sums: key t at s[g], key t + 1 at s[4 + g] */
        _mm256_storeu_ps(s, hsum8(a0, a1, a2, a3, a4, a5, a6, a7));
        for (int g = 0; g < nq; g++) {
            float s0 = s[g], s1 = s[4 + g];
            for (int i = n8; i < dh; i++) {
                s0 += qg[g][i] * load1(k0, i, bf);
                s1 += qg[g][i] * load1(k1, i, bf);
            }
            scores[g * sst + t] = s0;
            if (t + 1 < T)
                scores[g * sst + t + 1] = s1;
        }
    }
}

void dg_k_dots_q(const float *q, size_t qld, int nq, const float *k, size_t ld, int T, int dh,
                 float *scores, size_t sst)
{
    dots_q(q, qld, nq, k, ld, T, dh, scores, sst, 0);
}

void dg_k_dots_q_bf16(const float *q, size_t qld, int nq, const uint16_t *k, size_t ld, int T,
                      int dh, float *scores, size_t sst)
{
    dots_q(q, qld, nq, k, ld, T, dh, scores, sst, 1);
}

/* 16 outputs of four queries per pass (eight accumulators), fma per element in t order as
 * dg_k_wsum's; missing queries repeat the first's weights and are not stored. */
ALWAYS_INLINE void wsum_q(const float *p, size_t pst, int nq, const void *v, size_t ld, int T,
                          int dh, float *out, size_t ost, int bf)
{
    int n8 = dh & ~7, i = 0;
    const float *pg[4];
    for (int g = 0; g < 4; g++)
        pg[g] = p + (g < nq ? g : 0) * pst;
    for (; i + 16 <= n8; i += 16) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
               a7 = a0;
        for (int t = 0; t < T; t++) {
            const void *vt = cache_row(v, ld, NULL, 0, t, bf);
            __m256 x0 = load8(vt, i, bf), x1 = load8(vt, i + 8, bf);
            __m256 w = _mm256_broadcast_ss(pg[0] + t);
            a0 = _mm256_fmadd_ps(w, x0, a0);
            a1 = _mm256_fmadd_ps(w, x1, a1);
            w = _mm256_broadcast_ss(pg[1] + t);
            a2 = _mm256_fmadd_ps(w, x0, a2);
            a3 = _mm256_fmadd_ps(w, x1, a3);
            w = _mm256_broadcast_ss(pg[2] + t);
            a4 = _mm256_fmadd_ps(w, x0, a4);
            a5 = _mm256_fmadd_ps(w, x1, a5);
            w = _mm256_broadcast_ss(pg[3] + t);
            a6 = _mm256_fmadd_ps(w, x0, a6);
            a7 = _mm256_fmadd_ps(w, x1, a7);
        }
        __m256 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
        for (int g = 0; g < nq; g++) {
            _mm256_storeu_ps(out + g * ost + i, acc[2 * g]);
            _mm256_storeu_ps(out + g * ost + i + 8, acc[2 * g + 1]);
        }
    }
    for (; i < n8; i += 8)
        for (int g = 0; g < nq; g++) {
            __m256 a0 = _mm256_setzero_ps();
            for (int t = 0; t < T; t++)
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(pg[g][t]),
                                     load8(cache_row(v, ld, NULL, 0, t, bf), i, bf), a0);
            _mm256_storeu_ps(out + g * ost + i, a0);
        }
    for (; i < dh; i++)
        for (int g = 0; g < nq; g++) {
            float y = 0.0f;
            for (int t = 0; t < T; t++)
                y += pg[g][t] * load1(cache_row(v, ld, NULL, 0, t, bf), i, bf);
            out[g * ost + i] = y;
        }
}

void dg_k_wsum_q(const float *p, size_t pst, int nq, const float *v, size_t ld, int T, int dh,
                 float *out, size_t ost)
{
    wsum_q(p, pst, nq, v, ld, T, dh, out, ost, 0);
}

void dg_k_wsum_q_bf16(const float *p, size_t pst, int nq, const uint16_t *v, size_t ld, int T,
                      int dh, float *out, size_t ost)
{
    wsum_q(p, pst, nq, v, ld, T, dh, out, ost, 1);
}

/* dg_bf16_round on 8 lanes: round to nearest even on the low 16 bits, NaNs kept quiet. */
static inline __m128i round8_bf16(__m256 x)
{
    __m256i u = _mm256_castps_si256(x);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)),
                                                   lsb), 16);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40)),
                           nan);
    /* the lanes hold 0..0xffff, so the saturating pack is exact; it packs per 128-bit half,
     * and qwords 0 and 2 hold lanes 0-3 and 4-7 */
    __m256i p = _mm256_packus_epi32(r, r);
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08));
}

void dg_k_to_bf16(uint16_t *y, const float *x, int n)
{
    int i = 0;
    if (((uintptr_t)y & 15) == 0)
        for (; i + 8 <= n; i += 8)
            _mm_stream_si128((__m128i *)(y + i), round8_bf16(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = dg_bf16_round(x[i]);
}
