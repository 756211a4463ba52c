/* Portable C micro-kernels on the packed layouts (gemm.h): the path for CPUs without AVX2 and
 * the one DG_ISA=ref forces. The inner loop runs over a panel's 16 columns so a compiler can
 * vectorize it with baseline SSE2. */
#include <math.h>
#include <string.h>

#include "engine/gemm.h"
#include "engine/gemm_kernels.h"

#define NR DG_GEMM_NR

static int cols(int N, int p)
{
    return N - p * NR < NR ? N - p * NR : NR;
}

void dg_gemm_f32_ref(const float *x, int M, int K, const float *data, const float *bias, int N,
                     int p0, int p1, float *y)
{
    for (int p = p0; p < p1; p++) {
        const float *w = data + (size_t)(p - p0) * K * NR;
        int nc = cols(N, p);
        for (int m = 0; m < M; m++) {
            float acc[NR];
            for (int j = 0; j < NR; j++)
                acc[j] = bias ? bias[p * NR + j] : 0.0f;
            const float *xr = x + (size_t)m * K;
            for (int k = 0; k < K; k++)
                for (int j = 0; j < NR; j++)
                    acc[j] += xr[k] * w[(size_t)k * NR + j];
            memcpy(y + (size_t)m * N + p * NR, acc, (size_t)nc * sizeof(float));
        }
    }
}

void dg_gemm_i8_ref(const int8_t *xq, const float *xs, int M, int Kp, const int8_t *data,
                    const int32_t *comp, const float *scales, const float *bias, int N, int p0,
                    int p1, float *y)
{
    (void)comp;
    for (int p = p0; p < p1; p++) {
        const int8_t *w = data + (size_t)p * Kp * NR;
        int nc = cols(N, p);
        for (int m = 0; m < M; m++) {
            int32_t acc[NR] = {0};
            const int8_t *xr = xq + (size_t)m * Kp;
            for (int k4 = 0; k4 < Kp / 4; k4++)
                for (int j = 0; j < NR; j++)
                    for (int t = 0; t < 4; t++)
                        acc[j] += xr[4 * k4 + t] * w[((size_t)k4 * NR + j) * 4 + t];
            for (int j = 0; j < nc; j++) {
                int n = p * NR + j;
                y[(size_t)m * N + n] = fmaf((float)acc[j], xs[m] * scales[n], bias ? bias[n] : 0.0f);
            }
        }
    }
}

void dg_gemm_bf16_ref(const uint16_t *xb, int M, int Kp, const uint16_t *data, const float *bias,
                      int N, int p0, int p1, float *y)
{
    for (int p = p0; p < p1; p++) {
        const uint16_t *w = data + (size_t)p * Kp * NR;
        int nc = cols(N, p);
        for (int m = 0; m < M; m++) {
            float acc[NR];
            for (int j = 0; j < NR; j++)
                acc[j] = bias ? bias[p * NR + j] : 0.0f;
            const uint16_t *xr = xb + (size_t)m * Kp;
            for (int k2 = 0; k2 < Kp / 2; k2++)
                for (int j = 0; j < NR; j++)
                    for (int t = 0; t < 2; t++)
                        acc[j] += dg_bf16_to_f32(xr[2 * k2 + t]) *
                                  dg_bf16_to_f32(w[((size_t)k2 * NR + j) * 2 + t]);
            memcpy(y + (size_t)m * N + p * NR, acc, (size_t)nc * sizeof(float));
        }
    }
}

void dg_quant_rows_ref(const float *x, int M, int K, int Kp, int8_t *q, float *s)
{
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * K;
        int8_t *qr = q + (size_t)m * Kp;
        float amax = 0.0f;
        for (int k = 0; k < K; k++)
            amax = fmaxf(amax, fabsf(xr[k]));
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int k = 0; k < K; k++) {
            long v = lrintf(xr[k] * inv);
            qr[k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
        memset(qr + K, 0, (size_t)(Kp - K));
        s[m] = amax / 127.0f;
    }
}
