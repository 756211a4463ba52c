/* AVX2+FMA micro-kernels on the packed layouts (gemm.h); compiled with -mavx2 -mfma only.
 * Each kernel is written for a compile-time row count MR (always inlined, fully unrolled, so the
 * accumulators live in registers) and dispatched per block of rows. float32: 6 rows x 16
 * columns = 12 ymm accumulators. int8: 4 rows x 16 columns; |a| (u8) times q with a's sign
 * applied (vpsignb) keeps each vpmaddubsw pair sum within int16 (2 * 127 * 127), so nothing
 * saturates and the int32 sums are exact. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "engine/gemm.h"
#include "engine/gemm_kernels.h"

#define NR DG_GEMM_NR
#define INLINE static inline __attribute__((always_inline))

INLINE void store_row(float *y, __m256 lo, __m256 hi, int nc)
{
    if (nc == NR) {
        _mm256_storeu_ps(y, lo);
        _mm256_storeu_ps(y + 8, hi);
    } else {
        float t[NR];
        _mm256_storeu_ps(t, lo);
        _mm256_storeu_ps(t + 8, hi);
        memcpy(y, t, (size_t)nc * sizeof(float));
    }
}

INLINE void f32_block(const int MR, const float *x, int K, const float *w, const float *bias,
                      float *y, int N, int nc)
{
    __m256 acc[6][2];
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int i = 0; i < MR; i++) {
        acc[i][0] = b0;
        acc[i][1] = b1;
    }
    for (int k = 0; k < K; k++) {
        __m256 w0 = _mm256_load_ps(w + (size_t)k * NR), w1 = _mm256_load_ps(w + (size_t)k * NR + 8);
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(x + (size_t)i * K + k);
            acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
        }
    }
    for (int i = 0; i < MR; i++)
        store_row(y + (size_t)i * N, acc[i][0], acc[i][1], nc);
}

void dg_gemm_f32_avx2(const float *x, int M, int K, const float *data, const float *bias, int N,
                      int p0, int p1, float *y)
{
    for (int p = p0; p < p1; p++) {
        const float *w = data + (size_t)(p - p0) * K * NR;
        const float *b = bias ? bias + p * NR : NULL;
        int nc = N - p * NR < NR ? N - p * NR : NR;
        for (int m = 0; m < M; m += 6) {
            const float *xm = x + (size_t)m * K;
            float *ym = y + (size_t)m * N + p * NR;
            switch (M - m < 6 ? M - m : 6) {
            case 1: f32_block(1, xm, K, w, b, ym, N, nc); break;
            case 2: f32_block(2, xm, K, w, b, ym, N, nc); break;
            case 3: f32_block(3, xm, K, w, b, ym, N, nc); break;
            case 4: f32_block(4, xm, K, w, b, ym, N, nc); break;
            case 5: f32_block(5, xm, K, w, b, ym, N, nc); break;
            default: f32_block(6, xm, K, w, b, ym, N, nc); break;
            }
        }
    }
}

/* y = fmaf((float)acc, xs * scale, bias) for 8 columns, as gemm_ref.c rounds it */
INLINE __m256 dequant(__m256i acc, float xs, const float *scales, const float *bias)
{
    __m256 s = _mm256_mul_ps(_mm256_set1_ps(xs), _mm256_loadu_ps(scales));
    __m256 b = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), s, b);
}

INLINE void i8_block(const int MR, const int8_t *xq, const float *xs, int Kp, const int8_t *w,
                     const float *scales, const float *bias, float *y, int N, int nc)
{
    __m256i acc[4][2];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (int k4 = 0; k4 < Kp / 4; k4++) {
        __m256i w0 = _mm256_load_si256((const __m256i *)(w + (size_t)k4 * 4 * NR));
        __m256i w1 = _mm256_load_si256((const __m256i *)(w + (size_t)k4 * 4 * NR + 32));
        for (int i = 0; i < MR; i++) {
            int32_t a4;
            memcpy(&a4, xq + (size_t)i * Kp + 4 * k4, 4);
            __m256i a = _mm256_set1_epi32(a4), ax = _mm256_sign_epi8(a, a);
            __m256i s0 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, a));
            __m256i s1 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, a));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(s0, ones));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(s1, ones));
        }
    }
    for (int i = 0; i < MR; i++)
        store_row(y + (size_t)i * N, dequant(acc[i][0], xs[i], scales, bias),
                  dequant(acc[i][1], xs[i], scales + 8, bias ? bias + 8 : NULL), nc);
}

void dg_gemm_i8_avx2(const int8_t *xq, const float *xs, int M, int Kp, const int8_t *data,
                     const int32_t *comp, const float *scales, const float *bias, int N, int p0,
                     int p1, float *y)
{
    (void)comp;
    for (int p = p0; p < p1; p++) {
        const int8_t *w = data + (size_t)p * Kp * NR;
        const float *b = bias ? bias + p * NR : NULL, *sc = scales + p * NR;
        int nc = N - p * NR < NR ? N - p * NR : NR;
        for (int m = 0; m < M; m += 4) {
            const int8_t *xm = xq + (size_t)m * Kp;
            float *ym = y + (size_t)m * N + p * NR;
            switch (M - m < 4 ? M - m : 4) {
            case 1: i8_block(1, xm, xs + m, Kp, w, sc, b, ym, N, nc); break;
            case 2: i8_block(2, xm, xs + m, Kp, w, sc, b, ym, N, nc); break;
            case 3: i8_block(3, xm, xs + m, Kp, w, sc, b, ym, N, nc); break;
            default: i8_block(4, xm, xs + m, Kp, w, sc, b, ym, N, nc); break;
            }
        }
    }
}

/* bf16 pairs [k2][col][2] -> float32: the even k is the low half of each 32-bit lane */
INLINE void bf16_block(const int MR, const uint16_t *xb, int Kp, const uint16_t *w,
                       const float *bias, float *y, int N, int nc)
{
    __m256 acc[4][2];
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int i = 0; i < MR; i++) {
        acc[i][0] = b0;
        acc[i][1] = b1;
    }
    for (int k2 = 0; k2 < Kp / 2; k2++) {
        __m256i v0 = _mm256_load_si256((const __m256i *)(w + (size_t)k2 * 2 * NR));
        __m256i v1 = _mm256_load_si256((const __m256i *)(w + (size_t)k2 * 2 * NR + 16));
        __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16));
        __m256 o0 = _mm256_castsi256_ps(_mm256_and_si256(v0, hi));
        __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16));
        __m256 o1 = _mm256_castsi256_ps(_mm256_and_si256(v1, hi));
        for (int i = 0; i < MR; i++) {
            const uint16_t *xr = xb + (size_t)i * Kp + 2 * k2;
            __m256 ae = _mm256_set1_ps(dg_bf16_to_f32(xr[0]));
            __m256 ao = _mm256_set1_ps(dg_bf16_to_f32(xr[1]));
            acc[i][0] = _mm256_fmadd_ps(ao, o0, _mm256_fmadd_ps(ae, e0, acc[i][0]));
            acc[i][1] = _mm256_fmadd_ps(ao, o1, _mm256_fmadd_ps(ae, e1, acc[i][1]));
        }
    }
    for (int i = 0; i < MR; i++)
        store_row(y + (size_t)i * N, acc[i][0], acc[i][1], nc);
}

void dg_gemm_bf16_avx2(const uint16_t *xb, int M, int Kp, const uint16_t *data,
                       const float *bias, int N, int p0, int p1, float *y)
{
    for (int p = p0; p < p1; p++) {
        const uint16_t *w = data + (size_t)p * Kp * NR;
        const float *b = bias ? bias + p * NR : NULL;
        int nc = N - p * NR < NR ? N - p * NR : NR;
        for (int m = 0; m < M; m += 4) {
            const uint16_t *xm = xb + (size_t)m * Kp;
            float *ym = y + (size_t)m * N + p * NR;
            switch (M - m < 4 ? M - m : 4) {
            case 1: bf16_block(1, xm, Kp, w, b, ym, N, nc); break;
            case 2: bf16_block(2, xm, Kp, w, b, ym, N, nc); break;
            case 3: bf16_block(3, xm, Kp, w, b, ym, N, nc); break;
            default: bf16_block(4, xm, Kp, w, b, ym, N, nc); break;
            }
        }
    }
}

void dg_quant_rows_avx2(const float *x, int M, int K, int Kp, int8_t *q, float *s)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * K;
        int8_t *qr = q + (size_t)m * Kp;
        __m256 mx = _mm256_setzero_ps();
        int k = 0;
        for (; k + 8 <= K; k += 8)
            mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(xr + k), absmask));
        float t[8], amax = 0.0f;
        _mm256_storeu_ps(t, mx);
        for (int i = 0; i < 8; i++)
            amax = t[i] > amax ? t[i] : amax;
        for (; k < K; k++)
            amax = fabsf(xr[k]) > amax ? fabsf(xr[k]) : amax;
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        __m256 vinv = _mm256_set1_ps(inv);
        for (k = 0; k + 8 <= K; k += 8) {
            __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + k), vinv));
            v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
            __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            _mm_storel_epi64((__m128i *)(qr + k), _mm_packs_epi16(w, w));
        }
        for (; k < K; k++) {
            int v = _mm_cvtss_si32(_mm_set_ss(xr[k] * inv));
            qr[k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
        memset(qr + K, 0, (size_t)(Kp - K));
        s[m] = amax / 127.0f;
    }
}
