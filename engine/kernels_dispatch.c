/* The public dg_k_* kernels: the AVX2 build (kernels.c, renamed by kernels_isa.h) where the CPU
 * has AVX2+FMA and DG_ISA does not cap it, else the scalar twins (kernels_ref.c). The choice is
 * made once, before main, so each call costs one predictable branch. */
#include <stdbool.h>

#include "engine/cpu.h"
#include "engine/kernels.h"

void dg_k_add_layernorm_avx2(float *x, const float *a, const float *g, const float *b, int rows,
                             int D, float eps);
void dg_k_layernorm_avx2(const float *x, const float *g, const float *b, float *y, int rows,
                         int D, float eps);
void dg_k_add_avx2(float *x, const float *a, size_t n);
void dg_k_activation_avx2(float *x, size_t n, dg_activation act);
void dg_k_softmax_avx2(float *x, int n);
void dg_k_log_softmax_avx2(float *x, int n);
int dg_k_argmax_avx2(const float *x, int n);
int dg_k_topk_avx2(const float *x, int n, float add, int k, float *val, int *idx);
float dg_k_lse_avx2(const float *x, int n, float *mx);
int dg_k_topk_lp_avx2(const float *x, int n, float mx, float lse, float add, int k, float *val,
                      int *idx);
float dg_k_dot_avx2(const float *a, const float *b, int n);
void dg_k_axpy_avx2(float *y, float alpha, const float *x, int n);
void dg_k_dots_avx2(const float *q, const float *k, size_t ld, const int *slot, size_t sld, int T,
                    int dh, float *scores);
void dg_k_wsum_avx2(const float *p, const float *v, size_t ld, const int *slot, size_t sld, int T,
                    int dh, float *out);
void dg_k_dots_q_avx2(const float *q, size_t qld, int nq, const float *k, size_t ld, int T, int dh,
                      float *scores, size_t sst);
void dg_k_wsum_q_avx2(const float *p, size_t pst, int nq, const float *v, size_t ld, int T, int dh,
                      float *out, size_t ost);
void dg_k_dots_bf16_avx2(const float *q, const uint16_t *k, size_t ld, const int *slot, size_t sld,
                         int T, int dh, float *scores);
void dg_k_wsum_bf16_avx2(const float *p, const uint16_t *v, size_t ld, const int *slot, size_t sld,
                         int T, int dh, float *out);
void dg_k_dots_q_bf16_avx2(const float *q, size_t qld, int nq, const uint16_t *k, size_t ld, int T,
                           int dh, float *scores, size_t sst);
void dg_k_wsum_q_bf16_avx2(const float *p, size_t pst, int nq, const uint16_t *v, size_t ld, int T,
                           int dh, float *out, size_t ost);
void dg_k_to_bf16_avx2(uint16_t *y, const float *x, int n);

static bool avx2;

__attribute__((constructor)) static void choose(void)
{
    avx2 = dg_isa_active() >= DG_ISA_AVX2;
}

void dg_k_add_layernorm(float *x, const float *a, const float *g, const float *b, int rows,
                        int D, float eps)
{
    (avx2 ? dg_k_add_layernorm_avx2 : dg_k_add_layernorm_ref)(x, a, g, b, rows, D, eps);
}

void dg_k_layernorm(const float *x, const float *g, const float *b, float *y, int rows, int D,
                    float eps)
{
    (avx2 ? dg_k_layernorm_avx2 : dg_k_layernorm_ref)(x, g, b, y, rows, D, eps);
}

void dg_k_add(float *x, const float *a, size_t n)
{
    (avx2 ? dg_k_add_avx2 : dg_k_add_ref)(x, a, n);
}

void dg_k_activation(float *x, size_t n, dg_activation act)
{
    (avx2 ? dg_k_activation_avx2 : dg_k_activation_ref)(x, n, act);
}

void dg_k_softmax(float *x, int n)
{
    (avx2 ? dg_k_softmax_avx2 : dg_k_softmax_ref)(x, n);
}

void dg_k_log_softmax(float *x, int n)
{
    (avx2 ? dg_k_log_softmax_avx2 : dg_k_log_softmax_ref)(x, n);
}

int dg_k_argmax(const float *x, int n)
{
    return (avx2 ? dg_k_argmax_avx2 : dg_k_argmax_ref)(x, n);
}

int dg_k_topk(const float *x, int n, float add, int k, float *val, int *idx)
{
    return (avx2 ? dg_k_topk_avx2 : dg_k_topk_ref)(x, n, add, k, val, idx);
}

float dg_k_lse(const float *x, int n, float *mx)
{
    return (avx2 ? dg_k_lse_avx2 : dg_k_lse_ref)(x, n, mx);
}

int dg_k_topk_lp(const float *x, int n, float mx, float lse, float add, int k, float *val,
                 int *idx)
{
    return (avx2 ? dg_k_topk_lp_avx2 : dg_k_topk_lp_ref)(x, n, mx, lse, add, k, val, idx);
}

float dg_k_dot(const float *a, const float *b, int n)
{
    return (avx2 ? dg_k_dot_avx2 : dg_k_dot_ref)(a, b, n);
}

void dg_k_axpy(float *y, float alpha, const float *x, int n)
{
    (avx2 ? dg_k_axpy_avx2 : dg_k_axpy_ref)(y, alpha, x, n);
}

void dg_k_dots(const float *q, const float *k, size_t ld, const int *slot, size_t sld, int T,
               int dh, float *scores)
{
    (avx2 ? dg_k_dots_avx2 : dg_k_dots_ref)(q, k, ld, slot, sld, T, dh, scores);
}

void dg_k_wsum(const float *p, const float *v, size_t ld, const int *slot, size_t sld, int T,
               int dh, float *out)
{
    (avx2 ? dg_k_wsum_avx2 : dg_k_wsum_ref)(p, v, ld, slot, sld, T, dh, out);
}

void dg_k_dots_q(const float *q, size_t qld, int nq, const float *k, size_t ld, int T, int dh,
                 float *scores, size_t sst)
{
    (avx2 ? dg_k_dots_q_avx2 : dg_k_dots_q_ref)(q, qld, nq, k, ld, T, dh, scores, sst);
}

void dg_k_wsum_q(const float *p, size_t pst, int nq, const float *v, size_t ld, int T, int dh,
                 float *out, size_t ost)
{
    (avx2 ? dg_k_wsum_q_avx2 : dg_k_wsum_q_ref)(p, pst, nq, v, ld, T, dh, out, ost);
}

void dg_k_dots_bf16(const float *q, const uint16_t *k, size_t ld, const int *slot, size_t sld,
                    int T, int dh, float *scores)
{
    (avx2 ? dg_k_dots_bf16_avx2 : dg_k_dots_bf16_ref)(q, k, ld, slot, sld, T, dh, scores);
}

void dg_k_wsum_bf16(const float *p, const uint16_t *v, size_t ld, const int *slot, size_t sld,
                    int T, int dh, float *out)
{
    (avx2 ? dg_k_wsum_bf16_avx2 : dg_k_wsum_bf16_ref)(p, v, ld, slot, sld, T, dh, out);
}

void dg_k_dots_q_bf16(const float *q, size_t qld, int nq, const uint16_t *k, size_t ld, int T,
                      int dh, float *scores, size_t sst)
{
    (avx2 ? dg_k_dots_q_bf16_avx2 : dg_k_dots_q_bf16_ref)(q, qld, nq, k, ld, T, dh, scores, sst);
}

void dg_k_wsum_q_bf16(const float *p, size_t pst, int nq, const uint16_t *v, size_t ld, int T,
                      int dh, float *out, size_t ost)
{
    (avx2 ? dg_k_wsum_q_bf16_avx2 : dg_k_wsum_q_bf16_ref)(p, pst, nq, v, ld, T, dh, out, ost);
}

void dg_k_to_bf16(uint16_t *y, const float *x, int n)
{
    (avx2 ? dg_k_to_bf16_avx2 : dg_k_to_bf16_ref)(y, x, n);
}
