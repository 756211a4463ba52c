/* Element-wise and row-wise kernels of the forward pass and the search.
 *
 * DESIGN. Kernels take raw pointers and sizes only: no model structs, no allocation. Each has an
 * AVX2/FMA version (kernels.c, used by the engine) and a scalar twin (kernels_ref.c, suffix
 * _ref) that states the maths plainly; tests/test_kernels.c checks one against the other on
 * sizes that exercise the vector tails. GEMMs are not here: they go to OpenBLAS.
 * Rows are contiguous with length n (or D); every buffer is row-major. */
#ifndef DG_KERNELS_H
#define DG_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "models/arch.h"

/* x[rows, D] = LayerNorm(x + a) with gain g[D], bias b[D] (biased variance, as torch). a may be
 * NULL (plain LayerNorm in place). b NULL: RMSNorm (T5LayerNorm: g * x / sqrt(mean(x^2) + eps)). */
void dg_k_add_layernorm(float *x, const float *a, const float *g, const float *b, int rows,
                        int D, float eps);
/* y[rows, D] = LayerNorm(x) (x untouched): the pre-norm path. */
void dg_k_layernorm(const float *x, const float *g, const float *b, float *y, int rows, int D,
                    float eps);
/* x[i] += a[i] */
void dg_k_add(float *x, const float *a, size_t n);
/* x[i] *= a[i] */
void dg_k_mul(float *x, const float *a, size_t n);
/* x[i] = act(x[i]) for the activation the architecture names. */
void dg_k_activation(float *x, size_t n, dg_activation act);
/* x[n] = softmax(x) in place. */
void dg_k_softmax(float *x, int n);
/* x[n] = log_softmax(x) in place; -inf entries stay -inf. */
void dg_k_log_softmax(float *x, int n);
/* Index of the first maximum of x[n]. */
int dg_k_argmax(const float *x, int n);
/* The k largest values of x[i] + add (float addition, as a torch tensor add would round),
 * sorted descending, ties by lower index; val[k], idx[k]. Returns min(k, n). */
int dg_k_topk(const float *x, int n, float add, int k, float *val, int *idx);
/* Log-softmax without writing it: returns lse and sets *mx such that dg_k_log_softmax would
 * write (x[i] - *mx) - lse, bit for bit (0 and -inf for an all -inf row, which it leaves as it
 * is). */
float dg_k_lse(const float *x, int n, float *mx);
/* dg_k_topk of the row dg_k_log_softmax would write, from the raw row and dg_k_lse's mx, lse:
 * the same values and indices, without writing and re-reading the row. */
int dg_k_topk_lp(const float *x, int n, float mx, float lse, float add, int k, float *val,
                 int *idx);
/* sum a[i] * b[i] */
float dg_k_dot(const float *a, const float *b, int n);
/* y[i] += alpha * x[i] */
void dg_k_axpy(float *y, float alpha, const float *x, int n);
/* Attention over keys / values scattered in a cache: row t of k is at
 * k + t * ld + (slot ? slot[t] * sld : 0). dg_k_dots: scores[t] = dg_k_dot(q, row t, dh) for
 * t < T, the same sums, without a call per key. dg_k_wsum: out[dh] = sum_t p[t] * row t of v,
 * what dg_k_axpy(out, p[t], row t, dh) for t = 0..T-1 on a zeroed out gives, bit for bit (so
 * the forward pass computes what it did with those calls), with out kept in registers. */
void dg_k_dots(const float *q, const float *k, size_t ld, const int *slot, size_t sld, int T,
               int dh, float *scores);
void dg_k_wsum(const float *p, const float *v, size_t ld, const int *slot, size_t sld, int T,
               int dh, float *out);
/* The same for nq <= 4 queries against one set of keys / values whose row t is at k + t * ld
 * (the beams of one sentence against its cross K/V): scores[g * sst + t] is what dg_k_dots
 * gives for query q + g * qld, out[g * ost ..] what dg_k_wsum gives for weights p + g * pst,
 * bit for bit; each key and value row is loaded once for all the queries. */
void dg_k_dots_q(const float *q, size_t qld, int nq, const float *k, size_t ld, int T, int dh,
                 float *scores, size_t sst);
void dg_k_wsum_q(const float *p, size_t pst, int nq, const float *v, size_t ld, int T, int dh,
                 float *out, size_t ost);
/* The same four over keys / values stored as bfloat16 (the caches of the int8 and bfloat16
 * compute types; ld, sld count elements): each element is widened to float32 exactly and summed
 * as the float32 kernel sums it, so the results are bit for bit the float32 kernel's on the
 * widened rows. */
void dg_k_dots_bf16(const float *q, const uint16_t *k, size_t ld, const int *slot, size_t sld,
                    int T, int dh, float *scores);
void dg_k_wsum_bf16(const float *p, const uint16_t *v, size_t ld, const int *slot, size_t sld,
                    int T, int dh, float *out);
void dg_k_dots_q_bf16(const float *q, size_t qld, int nq, const uint16_t *k, size_t ld, int T,
                      int dh, float *scores, size_t sst);
void dg_k_wsum_q_bf16(const float *p, size_t pst, int nq, const uint16_t *v, size_t ld, int T,
                      int dh, float *out, size_t ost);
/* y[n] = x rounded to bfloat16, to nearest with ties to even (dg_bf16_round, as the bf16
 * weights are rounded). Streaming stores where y is 16-byte aligned: the rows go to caches that
 * are read a step later, far larger than the CPU's caches. */
void dg_k_to_bf16(uint16_t *y, const float *x, int n);

void dg_k_add_layernorm_ref(float *x, const float *a, const float *g, const float *b, int rows,
                            int D, float eps);
void dg_k_layernorm_ref(const float *x, const float *g, const float *b, float *y, int rows,
                        int D, float eps);
void dg_k_add_ref(float *x, const float *a, size_t n);
void dg_k_mul_ref(float *x, const float *a, size_t n);
void dg_k_activation_ref(float *x, size_t n, dg_activation act);
void dg_k_softmax_ref(float *x, int n);
void dg_k_log_softmax_ref(float *x, int n);
int dg_k_argmax_ref(const float *x, int n);
int dg_k_topk_ref(const float *x, int n, float add, int k, float *val, int *idx);
float dg_k_lse_ref(const float *x, int n, float *mx);
int dg_k_topk_lp_ref(const float *x, int n, float mx, float lse, float add, int k, float *val,
                     int *idx);
float dg_k_dot_ref(const float *a, const float *b, int n);
void dg_k_axpy_ref(float *y, float alpha, const float *x, int n);
void dg_k_dots_ref(const float *q, const float *k, size_t ld, const int *slot, size_t sld, int T,
                   int dh, float *scores);
void dg_k_wsum_ref(const float *p, const float *v, size_t ld, const int *slot, size_t sld, int T,
                   int dh, float *out);
void dg_k_dots_q_ref(const float *q, size_t qld, int nq, const float *k, size_t ld, int T, int dh,
                     float *scores, size_t sst);
void dg_k_wsum_q_ref(const float *p, size_t pst, int nq, const float *v, size_t ld, int T, int dh,
                     float *out, size_t ost);
void dg_k_dots_bf16_ref(const float *q, const uint16_t *k, size_t ld, const int *slot, size_t sld,
                        int T, int dh, float *scores);
void dg_k_wsum_bf16_ref(const float *p, const uint16_t *v, size_t ld, const int *slot, size_t sld,
                        int T, int dh, float *out);
void dg_k_dots_q_bf16_ref(const float *q, size_t qld, int nq, const uint16_t *k, size_t ld, int T,
                          int dh, float *scores, size_t sst);
void dg_k_wsum_q_bf16_ref(const float *p, size_t pst, int nq, const uint16_t *v, size_t ld, int T,
                          int dh, float *out, size_t ost);
void dg_k_to_bf16_ref(uint16_t *y, const float *x, int n);

#endif
