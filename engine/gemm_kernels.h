/* The packed-GEMM micro-kernels of every ISA level (gemm.c dispatches; tests call them directly).
 * Each computes output columns [16 * p0, min(N, 16 * p1)) of y[M, N] (row stride N) from
 * panels p0..p1-1 of a matrix packed as gemm.h describes. bias is zero-padded to whole panels, or
 * NULL. x rows have stride K (float32) or Kp (quantized / bf16 rows, zero-padded to Kp).
 * float32 data points at panel p0 (panel p at data + (p - p0) * K * 16), so a float32 view can
 * hand over panels it has just packed into scratch; the other kinds index from panel 0. */
#ifndef DG_GEMM_KERNELS_H
#define DG_GEMM_KERNELS_H

#include <stdint.h>

/* The most bytes one quantized / bf16 activation row may take (dg_matrix_pack's limit on K):
 * dg_matmul and the kernels keep chunks of such rows on the stack. */
#define DG_GEMM_QBYTES 65536

typedef void (*dg_gemm_f32_fn)(const float *x, int M, int K, const float *data, const float *bias,
                               int N, int p0, int p1, float *y);
/* xq[M, Kp] int8 in [-127, 127], xs[M] their scales; comp is used by the VNNI kernel only */
typedef void (*dg_gemm_i8_fn)(const int8_t *xq, const float *xs, int M, int Kp,
                              const int8_t *data, const int32_t *comp, const float *scales,
                              const float *bias, int N, int p0, int p1, float *y);
/* xb[M, Kp] bf16 bit patterns */
typedef void (*dg_gemm_bf16_fn)(const uint16_t *xb, int M, int Kp, const uint16_t *data,
                                const float *bias, int N, int p0, int p1, float *y);

void dg_gemm_f32_ref(const float *x, int M, int K, const float *data, const float *bias, int N,
                     int p0, int p1, float *y);
void dg_gemm_i8_ref(const int8_t *xq, const float *xs, int M, int Kp, const int8_t *data,
                    const int32_t *comp, const float *scales, const float *bias, int N, int p0,
                    int p1, float *y);
void dg_gemm_bf16_ref(const uint16_t *xb, int M, int Kp, const uint16_t *data, const float *bias,
                      int N, int p0, int p1, float *y);

void dg_gemm_f32_avx2(const float *x, int M, int K, const float *data, const float *bias, int N,
                      int p0, int p1, float *y);
void dg_gemm_i8_avx2(const int8_t *xq, const float *xs, int M, int Kp, const int8_t *data,
                     const int32_t *comp, const float *scales, const float *bias, int N, int p0,
                     int p1, float *y);
void dg_gemm_bf16_avx2(const uint16_t *xb, int M, int Kp, const uint16_t *data,
                       const float *bias, int N, int p0, int p1, float *y);

void dg_gemm_f32_avx512(const float *x, int M, int K, const float *data, const float *bias, int N,
                        int p0, int p1, float *y);
/* needs AVX512-VNNI */
void dg_gemm_i8_avx512vnni(const int8_t *xq, const float *xs, int M, int Kp, const int8_t *data,
                           const int32_t *comp, const float *scales, const float *bias, int N,
                           int p0, int p1, float *y);
/* needs AVX512-BF16 */
void dg_gemm_bf16_avx512bf16(const uint16_t *xb, int M, int Kp, const uint16_t *data,
                             const float *bias, int N, int p0, int p1, float *y);

/* Activation quantization (gemm.h): row m of x[M, K] -> q[m, 0..Kp) int8 in [-127, 127]
 * (zero-padded), s[m] = max|x_m| / 127, q = round-half-even(x * (127 / max|x_m|)). Every level
 * computes the same values (max is exact, one rounded multiply, the same rounding). */
typedef void (*dg_quant_fn)(const float *x, int M, int K, int Kp, int8_t *q, float *s);
void dg_quant_rows_ref(const float *x, int M, int K, int Kp, int8_t *q, float *s);
void dg_quant_rows_avx2(const float *x, int M, int K, int Kp, int8_t *q, float *s);
void dg_quant_rows_avx512(const float *x, int M, int K, int Kp, int8_t *q, float *s);

/* float -> bf16, round to nearest even (NaN kept quiet). */
static inline uint16_t dg_bf16_round(float f)
{
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((v.u >> 16) | 0x40);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1)) >> 16);
}

static inline float dg_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

#endif
