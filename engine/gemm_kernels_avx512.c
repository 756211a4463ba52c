/* AVX-512 micro-kernels on the packed layouts (gemm.h); compiled with AVX-512 F/BW/DQ/VL, and
 * VNNI / BF16 enabled only on the functions that need them (target attributes), since AVX-512
 * CPUs without them must still run the rest. Blocks are 8 rows x 2 panels (32 columns): 16 zmm
 * accumulators, two weight loads and eight broadcasts per step of K (float32: 12 rows, 24
 * accumulators, as its broadcasts fold into the FMAs). int8 uses vpdpbusd, whose
 * unsigned operand is a + 128 (xor 0x80); the accumulators start at -128 * sum_k q (comp), so
 * the int32 sums equal sum a * q exactly. */
#include <immintrin.h>
#include <string.h>

#include "engine/gemm.h"
#include "engine/gemm_kernels.h"

#define NR DG_GEMM_NR
#define INLINE static inline __attribute__((always_inline))

static __mmask16 col_mask(int nc)
{
    return nc >= NR ? (__mmask16)0xffff : nc <= 0 ? 0 : (__mmask16)((1u << nc) - 1);
}

/* float32 rows per block: 24 accumulators, 2 weight registers, broadcasts folded into the
 * FMAs; each panel pair is read from L2 once per 12 rows */
#define F32_MR 12

/* One block: MR rows x NP panels (NP = 1 for the last panel of an odd count). */
INLINE void f32_block(const int MR, const int NP, const float *x, int K, const float *w0,
                      const float *bias, float *y, int N, int nc)
{
    __m512 acc[F32_MR][2];
    const float *w1 = w0 + (size_t)K * NR;
    for (int j = 0; j < NP; j++) {
        __m512 b = bias ? _mm512_loadu_ps(bias + j * NR) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++)
            acc[i][j] = b;
    }
    for (int k = 0; k < K; k++) {
        __m512 v0 = _mm512_load_ps(w0 + (size_t)k * NR);
        __m512 v1 = NP > 1 ? _mm512_load_ps(w1 + (size_t)k * NR) : v0;
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(x[(size_t)i * K + k]);
            acc[i][0] = _mm512_fmadd_ps(a, v0, acc[i][0]);
            if (NP > 1)
                acc[i][1] = _mm512_fmadd_ps(a, v1, acc[i][1]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NP; j++)
            _mm512_mask_storeu_ps(y + (size_t)i * N + j * NR, col_mask(nc - j * NR), acc[i][j]);
}

#define ROWS_SWITCH(MR_EXPR, CALL)                                                            \
    switch (MR_EXPR) {                                                                        \
    case 1: CALL(1); break;                                                                   \
    case 2: CALL(2); break;                                                                   \
    case 3: CALL(3); break;                                                                   \
    case 4: CALL(4); break;                                                                   \
    case 5: CALL(5); break;                                                                   \
    case 6: CALL(6); break;                                                                   \
    case 7: CALL(7); break;                                                                   \
    default: CALL(8); break;                                                                  \
    }

#define ROWS_SWITCH12(MR_EXPR, CALL)                                                          \
    switch (MR_EXPR) {                                                                        \
    case 1: CALL(1); break;                                                                   \
    case 2: CALL(2); break;                                                                   \
    case 3: CALL(3); break;                                                                   \
    case 4: CALL(4); break;                                                                   \
    case 5: CALL(5); break;                                                                   \
    case 6: CALL(6); break;                                                                   \
    case 7: CALL(7); break;                                                                   \
    case 8: CALL(8); break;                                                                   \
    case 9: CALL(9); break;                                                                   \
    case 10: CALL(10); break;                                                                 \
    case 11: CALL(11); break;                                                                 \
    default: CALL(12); break;                                                                 \
    }

void dg_gemm_f32_avx512(const float *x, int M, int K, const float *data, const float *bias, int N,
                        int p0, int p1, float *y)
{
    for (int p = p0; p < p1; p += 2) {
        const float *w = data + (size_t)(p - p0) * K * NR;
        const float *b = bias ? bias + p * NR : NULL;
        int nc = N - p * NR, two = p + 1 < p1;
        for (int m = 0; m < M; m += F32_MR) {
            const float *xm = x + (size_t)m * K;
            float *ym = y + (size_t)m * N + p * NR;
#define F32_2(R) f32_block(R, 2, xm, K, w, b, ym, N, nc)
#define F32_1(R) f32_block(R, 1, xm, K, w, b, ym, N, nc)
            if (two) {
                ROWS_SWITCH12(M - m < F32_MR ? M - m : F32_MR, F32_2)
            } else {
                ROWS_SWITCH12(M - m < F32_MR ? M - m : F32_MR, F32_1)
            }
        }
    }
}

#define VNNI __attribute__((target("avx512vnni")))

/* acc += u8(a) . s8(w) per 4-byte group. Written as asm: GCC 12 keeps the intrinsic's
 * accumulators in a rotating set of registers and spills, which halved the kernel's speed. */
VNNI INLINE __m512i dpbusd(__m512i acc, __m512i a, __m512i w)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
}

/* xu: the block's activations already shifted to u8 (a + 128), so each broadcast is a single
 * load (vpbroadcastd from memory). */
VNNI INLINE void i8_block(const int MR, const int NP, const uint8_t *xu, const float *xs, int Kp,
                          const int8_t *w0, const int32_t *comp, const float *scales,
                          const float *bias, float *y, int N, int nc)
{
    __m512i acc[8][2];
    const int8_t *w1 = w0 + (size_t)Kp * NR;
    for (int j = 0; j < NP; j++) {
        __m512i c = _mm512_loadu_si512(comp + j * NR);
        for (int i = 0; i < MR; i++)
            acc[i][j] = c;
    }
    for (int k4 = 0; k4 < Kp / 4; k4++) {
        __m512i v0 = _mm512_load_si512(w0 + (size_t)k4 * 4 * NR);
        __m512i v1 = NP > 1 ? _mm512_load_si512(w1 + (size_t)k4 * 4 * NR) : v0;
        for (int i = 0; i < MR; i++) {
            int32_t a4;
            memcpy(&a4, xu + (size_t)i * Kp + 4 * k4, 4);
            __m512i a = _mm512_set1_epi32(a4);
            acc[i][0] = dpbusd(acc[i][0], a, v0);
            if (NP > 1)
                acc[i][1] = dpbusd(acc[i][1], a, v1);
        }
    }
    for (int j = 0; j < NP; j++) {
        __m512 sc = _mm512_loadu_ps(scales + j * NR);
        __m512 b = bias ? _mm512_loadu_ps(bias + j * NR) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++) {
            /* fmaf((float)acc, xs * scale, bias), as gemm_ref.c */
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(xs[i]), sc);
            __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][j]), s, b);
            _mm512_mask_storeu_ps(y + (size_t)i * N + j * NR, col_mask(nc - j * NR), v);
        }
    }
}


VNNI void dg_gemm_i8_avx512vnni(const int8_t *xq, const float *xs, int M, int Kp,
                                const int8_t *data, const int32_t *comp, const float *scales,
                                const float *bias, int N, int p0, int p1, float *y)
{
    /* shifted rows on the stack, as many as fit per pass over the panels (Kp <= the buffer:
     * dg_matrix_pack's limit) */
    _Alignas(64) uint8_t xu[DG_GEMM_QBYTES];
    int rows = DG_GEMM_QBYTES / Kp;
    rows = rows >= 8 ? rows & ~7 : rows; /* >= 1: Kp <= DG_GEMM_QBYTES */
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int m0 = 0; m0 < M; m0 += rows) {
        int mr = M - m0 < rows ? M - m0 : rows;
        const uint8_t *xb = (const uint8_t *)xq + (size_t)m0 * Kp;
        size_t n = (size_t)mr * Kp;
        for (size_t i = 0; i < n; i += 64) {
            __mmask64 mk = n - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - i)) - 1;
            _mm512_mask_storeu_epi8(xu + i, mk,
                                    _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, xb + i), flip));
        }
        for (int p = p0; p < p1; p += 2) {
            const int8_t *w = data + (size_t)p * Kp * NR;
            const float *b = bias ? bias + p * NR : NULL, *sc = scales + p * NR;
            const int32_t *c = comp + p * NR;
            int nc = N - p * NR, two = p + 1 < p1;
            for (int m = 0; m < mr; m += 8) {
                const uint8_t *xm = xu + (size_t)m * Kp;
                const float *xsm = xs + m0 + m;
                float *ym = y + (size_t)(m0 + m) * N + p * NR;
#define I8_2(R) i8_block(R, 2, xm, xsm, Kp, w, c, sc, b, ym, N, nc)
#define I8_1(R) i8_block(R, 1, xm, xsm, Kp, w, c, sc, b, ym, N, nc)
                if (two) {
                    ROWS_SWITCH(mr - m < 8 ? mr - m : 8, I8_2)
                } else {
                    ROWS_SWITCH(mr - m < 8 ? mr - m : 8, I8_1)
                }
            }
        }
    }
}

#define BF16 __attribute__((target("avx512bf16")))

BF16 INLINE void bf16_block(const int MR, const int NP, const uint16_t *xb, int Kp,
                            const uint16_t *w0, const float *bias, float *y, int N, int nc)
{
    __m512 acc[8][2];
    const uint16_t *w1 = w0 + (size_t)Kp * NR;
    for (int j = 0; j < NP; j++) {
        __m512 b = bias ? _mm512_loadu_ps(bias + j * NR) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++)
            acc[i][j] = b;
    }
    for (int k2 = 0; k2 < Kp / 2; k2++) {
        __m512i v0 = _mm512_load_si512(w0 + (size_t)k2 * 2 * NR);
        __m512i v1 = NP > 1 ? _mm512_load_si512(w1 + (size_t)k2 * 2 * NR) : v0;
        for (int i = 0; i < MR; i++) {
            uint32_t a2;
            memcpy(&a2, xb + (size_t)i * Kp + 2 * k2, 4);
            __m512i a = _mm512_set1_epi32((int)a2);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], (__m512bh)a, (__m512bh)v0);
            if (NP > 1)
                acc[i][1] = _mm512_dpbf16_ps(acc[i][1], (__m512bh)a, (__m512bh)v1);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NP; j++)
            _mm512_mask_storeu_ps(y + (size_t)i * N + j * NR, col_mask(nc - j * NR), acc[i][j]);
}

BF16 void dg_gemm_bf16_avx512bf16(const uint16_t *xb, int M, int Kp, const uint16_t *data,
                                  const float *bias, int N, int p0, int p1, float *y)
{
    for (int p = p0; p < p1; p += 2) {
        const uint16_t *w = data + (size_t)p * Kp * NR;
        const float *b = bias ? bias + p * NR : NULL;
        int nc = N - p * NR, two = p + 1 < p1;
        for (int m = 0; m < M; m += 8) {
            const uint16_t *xm = xb + (size_t)m * Kp;
            float *ym = y + (size_t)m * N + p * NR;
#define BF_2(R) bf16_block(R, 2, xm, Kp, w, b, ym, N, nc)
#define BF_1(R) bf16_block(R, 1, xm, Kp, w, b, ym, N, nc)
            if (two) {
                ROWS_SWITCH(M - m < 8 ? M - m : 8, BF_2)
            } else {
                ROWS_SWITCH(M - m < 8 ? M - m : 8, BF_1)
            }
        }
    }
}

void dg_quant_rows_avx512(const float *x, int M, int K, int Kp, int8_t *q, float *s)
{
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * K;
        int8_t *qr = q + (size_t)m * Kp;
        __m512 mx = _mm512_setzero_ps();
        for (int k = 0; k < K; k += 16) {
            __mmask16 mk = col_mask(K - k);
            mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(mk, xr + k)));
        }
        float amax = _mm512_reduce_max_ps(mx);
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        __m512 vinv = _mm512_set1_ps(inv);
        for (int k = 0; k < K; k += 16) {
            __mmask16 mk = col_mask(K - k);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xr + k), vinv));
            v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
            _mm512_mask_cvtepi32_storeu_epi8(qr + k, mk, v);
        }
        memset(qr + K, 0, (size_t)(Kp - K));
        s[m] = amax / 127.0f;
    }
}
