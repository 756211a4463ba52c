/* Matrix products against weights packed once at load: y[M, N] = x[M, K] . W[N, K]^T + b.
 *
 * DESIGN. Weights arrive as HF nn.Linear matrices (float32 [N, K], row-major). A general GEMM
 * (OpenBLAS) re-packs them on every call, which at the decoder's 4-128 rows costs more than the
 * arithmetic, so dg_matrix_pack lays them out once in the order the micro-kernels stream them:
 * panels of DG_GEMM_NR = 16 output columns (zero-padded at the end), each panel K-contiguous
 * (float32: [K][16]; int8: [K/4][16][4], the 4-byte groups vpdpbusd / vpmaddubsw consume).
 * The kernels (gemm_ref.c, gemm_kernels_avx2.c, gemm_kernels_avx512.c) are picked at run time
 * (cpu.h) and share one layout, so a matrix packed once serves any ISA level. dg_matmul splits
 * the panels over the pool's threads. OpenBLAS is not used for weight products: on the decoder's
 * and the encoder's shapes (M = 4..1024) the packed kernels measured at least as fast (see
 * bench/bench_gemm.c; on AMD CPUs OpenBLAS 0.3.21 picks its Haswell kernels, 2x slower at every
 * M), and keeping a second, row-major copy for it would double float32 memory.
 *
 * float32 VIEWS. A packed copy costs its size in fresh memory at load, and first touches of
 * fresh pages are slow (0.3-0.4 GB/s in some VMs: 240 MB of a base model's panels were most of
 * its load time). Matrices multiplied only by many rows at a time (the encoder's, over all
 * source tokens of a step) need no copy: dg_matrix_view keeps pointers to the row-major float32
 * weights (in the checkpoint mapping, shared by every worker), and each product packs two
 * panels at a time into stack scratch just before the same micro-kernel runs over all M rows
 * on them. The panels are bit-identical to dg_matrix_pack's, so results are too; the packing,
 * amortized over M rows, costs little from M ~ 64 on (bench_gemm's "view" column).
 *
 * int8 (as CTranslate2): each weight row n is quantized to q = round-half-even(w * (127 /
 * max|w_n|)) in [-127, 127] with scale s_n = max|w_n| / 127; each activation row m likewise at
 * call time (s_m, a). Then y[m, n] = fmaf((float)sum_k a[m,k] q[n,k], s_m * s_n, b[n]). The
 * integer sum is exact on every path (no saturating step: AVX2 multiplies |a| by q with a's
 * sign, whose pair sums fit int16; VNNI adds 128 to a and subtracts 128 * sum_k q[n,k]), so
 * all ISA levels give bit-identical results and tests compare them exactly with a scalar model
 * of that arithmetic.
 *
 * bfloat16: weights rounded to bf16 ([K/2][16][2] pairs), activations rounded to bf16 per call,
 * products summed in float32 (vdpbf16ps where the CPU has AVX512-BF16). */
#ifndef DG_GEMM_H
#define DG_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/parallel.h"
#include "models/checkpoint.h"

#define DG_GEMM_NR 16

typedef enum {
    DG_WT_F32 = 0,
    DG_WT_I8,
    DG_WT_BF16,
} dg_wtype;

/* The storage compute type t (engine.h) gives weight matrices. */
dg_wtype dg_compute_type_resolve(dg_compute_type t);
const char *dg_wtype_name(dg_wtype d);

typedef struct {
    dg_wtype dtype;
    int N, K;
    int Kp;                  /* K padded to the dtype's group (1, 4 or 2) */
    int panels;              /* ceil(N / 16) */
    void *data;              /* panels, 64-byte aligned; owned */
    float *bias;             /* [panels * 16], zero-padded; NULL without bias; owned */
    float *scales;           /* int8: [panels * 16] dequantization scale per row; owned */
    int32_t *comp;           /* int8: [panels * 16] -128 * sum_k q[n, k] (VNNI's u8 shift) */
    struct dg_pack_src *view; /* float32 view (data NULL): the sources, packed per product; the
                                 array is owned, the weights it points to are not */
    int n_view;
} dg_matrix;

/* Packs W = w[N, K] (row-major float32, only read) with bias b[N] (NULL = none) as dtype. On
 * failure (out of memory, bad shape) W is left empty (safe to free). */
dg_code dg_matrix_pack(dg_matrix *W, const float *w, const float *b, int N, int K, dg_wtype dtype,
                       dg_err *err);
void dg_matrix_free(dg_matrix *W); /* accepts an empty (zeroed) matrix */

/* One block of rows of a matrix to pack: rows x K values at w (contiguous row-major in dtype:
 * float32, or F16/BF16 widened row by row while packing, so no float32 copy of the tensor is
 * ever made), each multiplied by scale (in float32, as w * scale), with bias b[rows] (also
 * scaled; NULL = zeros). */
typedef struct dg_pack_src {
    const void *w;
    dg_dtype dtype;
    float scale;
    const float *b;
    int rows;
} dg_pack_src;

/* Called before each block of rows is packed: rows [0, rows_done) of the stacked sources have
 * been read for the last time, so their memory (file pages) can be released before the rest
 * is packed, and rows [rows_done, rows_next) are read next (rows_next == rows_done: finished). */
typedef void (*dg_pack_progress)(void *ctx, int rows_done, int rows_next);

/* Packs the n_src sources stacked in order (N = the sum of their rows) as one matrix, as
 * dg_matrix_pack would pack their float32 concatenation, without making it. The matrix has a
 * bias when any source has one. progress (may be NULL) gets ctx. */
dg_code dg_matrix_pack_srcs(dg_matrix *W, const dg_pack_src *src, int n_src, int K,
                            dg_wtype dtype, dg_pack_progress progress, void *ctx, dg_err *err);

/* The most K a float32 view takes: each product packs two panels ([2][K][16] floats) on the
 * stack of the thread running them. */
#define DG_GEMM_VIEW_MAXK 2048

/* Whether the n_src sources can be multiplied as a float32 view: all float32 (the checkpoint's
 * F16/BF16 would be widened on every product), K <= DG_GEMM_VIEW_MAXK. */
bool dg_matrix_viewable(const dg_pack_src *src, int n_src, int K);

/* Makes W a float32 view of the n_src sources stacked in order (as dg_matrix_pack_srcs would
 * pack them; the bias, N floats, is the one copy). The weights are read at every product, so
 * they must outlive W. DG_E_INTERNAL when !dg_matrix_viewable. */
dg_code dg_matrix_view(dg_matrix *W, const dg_pack_src *src, int n_src, int K, dg_err *err);

/* y[M, N] = x[M, K] . W^T + b. Panels are split over pool's threads (NULL = calling thread). */
void dg_matmul(const float *x, int M, const dg_matrix *W, float *y, dg_pool *pool);

/* c[M, N] = a[M, K] . b, b [K, N] (or [N, K] used transposed when tb): products of two
 * activations (encoder attention), which change every call, so OpenBLAS's own packing is the
 * right tool. Leading dimensions as in BLAS. */
void dg_sgemm(bool tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
              float *c, int ldc);

#endif
