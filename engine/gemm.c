/* Packing, activation quantization, kernel dispatch and threading for dg_matmul (see gemm.h). */
#include <cblas.h>
#include <emmintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cpu.h"
#include "engine/gemm.h"
#include "engine/gemm_kernels.h"
#include "engine/hugemem.h"

#define NR DG_GEMM_NR

/* Below this many multiply-adds a product runs on the calling thread: waking the pool's workers
 * costs more than the work they would take. */
#define DG_GEMM_PARALLEL_MACS (1 << 18)
/* Rows per quantized chunk of activations (at most DG_GEMM_QBYTES): the chunk lives on the
 * stack (no allocation per call), and weights are streamed once per chunk. */
#define DG_GEMM_QROWS 1024

int dg_compute_type_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "auto") || !strcmp(s, "default"))
        return DG_COMPUTE_AUTO;
    if (!strcmp(s, "float32") || !strcmp(s, "fp32") || !strcmp(s, "f32") || !strcmp(s, "float"))
        return DG_COMPUTE_FLOAT32;
    if (!strcmp(s, "int8"))
        return DG_COMPUTE_INT8;
    if (!strcmp(s, "bfloat16") || !strcmp(s, "bf16"))
        return DG_COMPUTE_BFLOAT16;
    return -1;
}

dg_wtype dg_compute_type_resolve(dg_compute_type t)
{
    switch (t) {
    case DG_COMPUTE_INT8: return DG_WT_I8;
    case DG_COMPUTE_BFLOAT16: return DG_WT_BF16;
    /* int8 kept quality on the demo model (README: within 0.2 BLEU, 93 % of outputs identical)
     * at ~0.6x float32's CPU time; the portable kernels have no integer speed-up to offer */
    case DG_COMPUTE_AUTO: return dg_isa_active() >= DG_ISA_AVX2 ? DG_WT_I8 : DG_WT_F32;
    case DG_COMPUTE_FLOAT32: return DG_WT_F32;
    }
    return DG_WT_F32;
}

const char *dg_wtype_name(dg_wtype d)
{
    switch (d) {
    case DG_WT_F32: return "float32";
    case DG_WT_I8: return "int8";
    case DG_WT_BF16: return "bfloat16";
    }
    return "?";
}

/* ---- kernel choice ---- */

static struct {
    dg_gemm_f32_fn f32;
    dg_gemm_i8_fn i8;
    dg_gemm_bf16_fn bf16;
    dg_quant_fn quant;
} kern;
static pthread_once_t kern_once = PTHREAD_ONCE_INIT;

static void choose_kernels(void)
{
    dg_isa isa = dg_isa_active();
    const dg_cpu_features *f = dg_cpu();
    kern.f32 = isa >= DG_ISA_AVX512 ? dg_gemm_f32_avx512
             : isa >= DG_ISA_AVX2  ? dg_gemm_f32_avx2 : dg_gemm_f32_ref;
    kern.i8 = isa >= DG_ISA_AVX512 && f->avx512_vnni ? dg_gemm_i8_avx512vnni
            : isa >= DG_ISA_AVX2 ? dg_gemm_i8_avx2 : dg_gemm_i8_ref;
    kern.bf16 = isa >= DG_ISA_AVX512 && f->avx512_bf16 ? dg_gemm_bf16_avx512bf16
              : isa >= DG_ISA_AVX2 ? dg_gemm_bf16_avx2 : dg_gemm_bf16_ref;
    kern.quant = isa >= DG_ISA_AVX512 ? dg_quant_rows_avx512
               : isa >= DG_ISA_AVX2 ? dg_quant_rows_avx2 : dg_quant_rows_ref;
}

/* ---- packing ---- */

static int group(dg_wtype d)
{
    return d == DG_WT_I8 ? 4 : d == DG_WT_BF16 ? 2 : 1;
}

static size_t elem_size(dg_wtype d)
{
    return d == DG_WT_I8 ? 1 : d == DG_WT_BF16 ? 2 : 4;
}

static void *alloc64(size_t n)
{
    n = (n + 63) & ~(size_t)63;
    return aligned_alloc(64, n ? n : 64);
}

/* A float32 panel ([K][16], 64-byte aligned) from its 16 rows r[j] (NULL past N), row j
 * multiplied by scale[j] (as w * scale in float; NULL: rows taken as they are); plain SSE2
 * (baseline x86-64), so load time does not depend on the CPU's level. Rows are read four at a
 * time; the next four (ahead[0..3] after the last: the next panel's, or NULL) are prefetched
 * meanwhile, since the hardware prefetcher restarts at each row (and each 4 KB page). */
static void pack_f32(float *panel, int K, const float *const *rows, const float *scale,
                     const float *const *ahead)
{
    int K4 = K & ~3;
    for (int j0 = 0; j0 < NR; j0 += 4) {
        const float *const *r = rows + j0;
        const float *const *nx = j0 + 4 < NR ? rows + j0 + 4 : ahead;
        bool scaled = false;
        for (int i = 0; i < 4 && scale; i++)
            scaled |= scale[j0 + i] != 1.0f;
        if (r[3]) { /* four rows: 4x4 transposes */
            __m128 s0 = _mm_set1_ps(scaled ? scale[j0] : 1.0f);
            __m128 s1 = _mm_set1_ps(scaled ? scale[j0 + 1] : 1.0f);
            __m128 s2 = _mm_set1_ps(scaled ? scale[j0 + 2] : 1.0f);
            __m128 s3 = _mm_set1_ps(scaled ? scale[j0 + 3] : 1.0f);
            for (int k = 0; k < K4; k += 4) {
                if (nx && k % 16 == 0)
                    for (int i = 0; i < 4; i++)
                        if (nx[i])
                            _mm_prefetch((const char *)(nx[i] + k), _MM_HINT_T0);
                __m128 a = _mm_loadu_ps(r[0] + k), b = _mm_loadu_ps(r[1] + k);
                __m128 c = _mm_loadu_ps(r[2] + k), d = _mm_loadu_ps(r[3] + k);
                if (scaled) {
                    a = _mm_mul_ps(a, s0);
                    b = _mm_mul_ps(b, s1);
                    c = _mm_mul_ps(c, s2);
                    d = _mm_mul_ps(d, s3);
                }
                _MM_TRANSPOSE4_PS(a, b, c, d);
                _mm_store_ps(panel + (size_t)k * NR + j0, a);
                _mm_store_ps(panel + (size_t)(k + 1) * NR + j0, b);
                _mm_store_ps(panel + (size_t)(k + 2) * NR + j0, c);
                _mm_store_ps(panel + (size_t)(k + 3) * NR + j0, d);
            }
        }
        for (int k = r[3] ? K4 : 0; k < K; k++)
            for (int i = 0; i < 4; i++)
                panel[(size_t)k * NR + j0 + i] =
                    !r[i] ? 0.0f : scaled ? r[i][k] * scale[j0 + i] : r[i][k];
    }
}

static void pack_i8(dg_matrix *W, int p, const float *const *rows)
{
    int K = W->K, Kp = W->Kp;
    int8_t *panel = (int8_t *)W->data + (size_t)p * Kp * NR;
    for (int j = 0; j < NR; j++) {
        int n = p * NR + j;
        const float *row = rows[j];
        __m128 mx = _mm_setzero_ps();
        const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
        int k = 0;
        for (; row && k + 4 <= K; k += 4)
            mx = _mm_max_ps(mx, _mm_and_ps(_mm_loadu_ps(row + k), absmask));
        float t[4], amax = 0.0f;
        _mm_storeu_ps(t, mx);
        for (int i = 0; i < 4; i++)
            amax = t[i] > amax ? t[i] : amax;
        for (; row && k < K; k++)
            amax = fabsf(row[k]) > amax ? fabsf(row[k]) : amax;
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        /* four k at a time: one 4-byte group of the panel; cvtps2dq rounds as cvtss2si, and
         * the int16 min/max clamp as below */
        const __m128 vinv = _mm_set1_ps(inv);
        const __m128i lo = _mm_set1_epi16(-127), hi = _mm_set1_epi16(127);
        __m128i vsum = _mm_setzero_si128();
        for (k = 0; row && k + 4 <= K; k += 4) {
            __m128i q32 = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(row + k), vinv));
            __m128i q16 = _mm_min_epi16(_mm_max_epi16(_mm_packs_epi32(q32, q32), lo), hi);
            vsum = _mm_add_epi32(vsum, _mm_srai_epi32(_mm_unpacklo_epi16(q16, q16), 16));
            int32_t g = _mm_cvtsi128_si32(_mm_packs_epi16(q16, q16));
            memcpy(panel + ((size_t)(k / 4) * NR + j) * 4, &g, 4);
        }
        int32_t t4[4];
        _mm_storeu_si128((__m128i *)t4, vsum);
        sum = t4[0] + t4[1] + t4[2] + t4[3];
        for (; k < Kp; k++) {
            /* cvtss2si rounds to nearest even, as lrintf in the default mode */
            int q = row && k < K ? _mm_cvtss_si32(_mm_set_ss(row[k] * inv)) : 0;
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            panel[((size_t)(k / 4) * NR + j) * 4 + k % 4] = (int8_t)q;
            sum += q;
        }
        W->scales[n] = amax / 127.0f;
        W->comp[n] = -128 * sum;
    }
}

static void pack_bf16(dg_matrix *W, int p, const float *const *rows)
{
    int K = W->K, Kp = W->Kp;
    uint16_t *panel = (uint16_t *)W->data + (size_t)p * Kp * NR;
    for (int j = 0; j < NR; j++) {
        const float *row = rows[j];
        for (int k = 0; k < Kp; k++)
            panel[((size_t)(k / 2) * NR + j) * 2 + k % 2] = row && k < K ? dg_bf16_round(row[k]) : 0;
    }
}

typedef struct {
    dg_matrix *W;
    const dg_pack_src *src;
    int n_src;
    float *scratch;      /* [threads][16][K]: rows widened or scaled on the way */
    int base;            /* first panel of the block being packed */
} pack_job;

/* Row n of the stacked sources as float32: in place when it is unscaled float32, else widened
 * and scaled (exactly as w * scale in float) into buf. */
static const float *source_row(const pack_job *j, int n, float *buf)
{
    int K = j->W->K, s = 0;
    while (n >= j->src[s].rows)
        n -= j->src[s++].rows;
    const dg_pack_src *src = &j->src[s];
    if (src->dtype == DG_DTYPE_F32 && src->scale == 1.0f)
        return (const float *)src->w + (size_t)n * K;
    dg_widen_f32((const uint8_t *)src->w + (size_t)n * K * (src->dtype == DG_DTYPE_F32 ? 4 : 2), src->dtype,
                 (size_t)K, buf);
    if (src->scale != 1.0f)
        for (int k = 0; k < K; k++)
            buf[k] *= src->scale;
    return buf;
}

static void pack_panels(void *arg, int begin, int end, int worker)
{
    const pack_job *j = arg;
    dg_matrix *W = j->W;
    float *scratch = j->scratch + (size_t)worker * NR * W->K;
    for (int p = j->base + begin; p < j->base + end; p++) {
        const float *rows[NR];
        for (int r = 0; r < NR; r++) {
            int n = p * NR + r;
            rows[r] = n < W->N ? source_row(j, n, scratch + (size_t)r * W->K) : NULL;
        }
        switch (W->dtype) {
        case DG_WT_F32:
            /* not prefetched ahead: at load that measured no gain */
            pack_f32((float *)W->data + (size_t)p * W->K * NR, W->K, rows, NULL, NULL);
            break;
        case DG_WT_I8: pack_i8(W, p, rows); break;
        case DG_WT_BF16: pack_bf16(W, p, rows); break;
        }
    }
}

/* Matrices of at least this many weights are packed by several threads (load time). */
#define DG_PACK_PARALLEL (1 << 20)
/* Panels packed between progress reports: 4096 rows, a few MB of source to drop each time. */
#define DG_PACK_BLOCK 256
#define DG_PACK_MAX_THREADS 8

/* W's shape from the stacked sources (W zeroed first); *has_bias: whether any has a bias. */
static dg_code matrix_shape(dg_matrix *W, const dg_pack_src *src, int n_src, int K,
                            dg_wtype dtype, bool *has_bias, dg_err *err)
{
    memset(W, 0, sizeof *W);
    int N = 0;
    *has_bias = false;
    for (int s = 0; s < n_src; s++) {
        if (src[s].rows <= 0 || !src[s].w || src[s].rows > INT32_MAX - N)
            return dg_err_set(err, DG_E_INTERNAL, "gemm: cannot pack source %d of %d rows", s,
                              src[s].rows);
        N += src[s].rows;
        *has_bias |= src[s].b != NULL;
    }
    if (N <= 0 || K <= 0)
        return dg_err_set(err, DG_E_INTERNAL, "gemm: cannot pack a [%d, %d] matrix", N, K);
    int g = group(dtype);
    if (dtype != DG_WT_F32 && (size_t)(K + g - 1) / g * g * elem_size(dtype) > DG_GEMM_QBYTES) {
        return dg_err_set(err, DG_E_CONFIG, "gemm: a %s matrix needs K <= %zu (got %d)",
                          dg_wtype_name(dtype), DG_GEMM_QBYTES / elem_size(dtype), K);
    }
    W->dtype = dtype;
    W->N = N;
    W->K = K;
    W->Kp = (K + g - 1) / g * g;
    W->panels = (N + NR - 1) / NR;
    return DG_OK;
}

/* W->bias [panels * 16]: the sources' biases (zeros where one has none) times their scales. */
static bool fill_bias(dg_matrix *W, const dg_pack_src *src, int n_src)
{
    size_t Np = (size_t)W->panels * NR;
    if (!(W->bias = alloc64(Np * sizeof(float))))
        return false;
    for (int s = 0, n = 0; s < n_src; n += src[s++].rows)
        for (int i = 0; i < src[s].rows; i++)
            W->bias[n + i] = src[s].b ? src[s].b[i] * src[s].scale : 0.0f;
    memset(W->bias + W->N, 0, (Np - W->N) * sizeof(float));
    return true;
}

dg_code dg_matrix_pack_srcs(dg_matrix *W, const dg_pack_src *src, int n_src, int K,
                            dg_wtype dtype, dg_pack_progress progress, void *ctx, dg_err *err)
{
    bool has_bias;
    dg_code rc = matrix_shape(W, src, n_src, K, dtype, &has_bias, err);
    if (rc)
        return rc;
    int N = W->N;
    size_t Np = (size_t)W->panels * NR;
    int threads = 1;
    if ((size_t)N * K >= DG_PACK_PARALLEL) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : cores < DG_PACK_MAX_THREADS ? (int)cores : DG_PACK_MAX_THREADS;
    }
    pack_job job = {W, src, n_src, malloc((size_t)threads * NR * K * sizeof(float)), 0};
    W->data = dg_alloc_huge(Np * W->Kp * elem_size(dtype));
    bool ok = W->data != NULL && job.scratch != NULL;
    if (ok && has_bias)
        ok = fill_bias(W, src, n_src);
    if (ok && dtype == DG_WT_I8)
        ok = (W->scales = alloc64(Np * sizeof(float))) && (W->comp = alloc64(Np * sizeof(int32_t)));
    if (!ok) {
        free(job.scratch);
        dg_matrix_free(W);
        return dg_err_set(err, DG_E_NOMEM, "gemm: out of memory packing a [%d, %d] %s matrix", N,
                          K, dg_wtype_name(dtype));
    }
    /* without threads to start (one core, or pthread_create failing) packing runs here */
    dg_pool *pool = threads > 1 ? dg_pool_create(threads, NULL) : NULL;
    for (int p0 = 0; p0 < W->panels; p0 += DG_PACK_BLOCK) {
        int p1 = W->panels - p0 < DG_PACK_BLOCK ? W->panels : p0 + DG_PACK_BLOCK;
        if (progress)
            progress(ctx, p0 * NR, p1 * NR < N ? p1 * NR : N);
        job.base = p0;
        dg_pool_for(pool, p1 - p0, pack_panels, &job);
    }
    if (progress)
        progress(ctx, N, N);
    dg_pool_free(pool);
    free(job.scratch);
    return DG_OK;
}

dg_code dg_matrix_pack(dg_matrix *W, const float *w, const float *b, int N, int K, dg_wtype dtype,
                       dg_err *err)
{
    if (N <= 0 || K <= 0 || !w) {
        memset(W, 0, sizeof *W);
        return dg_err_set(err, DG_E_INTERNAL, "gemm: cannot pack a [%d, %d] matrix", N, K);
    }
    dg_pack_src src = {w, DG_DTYPE_F32, 1.0f, b, N};
    return dg_matrix_pack_srcs(W, &src, 1, K, dtype, NULL, NULL, err);
}

bool dg_matrix_viewable(const dg_pack_src *src, int n_src, int K)
{
    if (n_src <= 0 || K <= 0 || K > DG_GEMM_VIEW_MAXK)
        return false;
    for (int s = 0; s < n_src; s++)
        if (src[s].dtype != DG_DTYPE_F32)
            return false;
    return true;
}

dg_code dg_matrix_view(dg_matrix *W, const dg_pack_src *src, int n_src, int K, dg_err *err)
{
    bool has_bias;
    if (!dg_matrix_viewable(src, n_src, K)) {
        memset(W, 0, sizeof *W);
        return dg_err_set(err, DG_E_INTERNAL, "gemm: cannot view %d sources of K %d as float32",
                          n_src, K);
    }
    dg_code rc = matrix_shape(W, src, n_src, K, DG_WT_F32, &has_bias, err);
    if (rc)
        return rc;
    int N = W->N;
    W->view = malloc((size_t)n_src * sizeof *src);
    bool ok = W->view != NULL;
    if (ok) {
        memcpy(W->view, src, (size_t)n_src * sizeof *src);
        W->n_view = n_src;
    }
    if (ok && has_bias)
        ok = fill_bias(W, src, n_src);
    if (!ok) {
        dg_matrix_free(W);
        return dg_err_set(err, DG_E_NOMEM, "gemm: out of memory for a [%d, %d] view", N, K);
    }
    return DG_OK;
}

void dg_matrix_free(dg_matrix *W)
{
    free(W->view);
    free(W->data);
    free(W->bias);
    free(W->scales);
    free(W->comp);
    memset(W, 0, sizeof *W);
}

/* ---- products ---- */

typedef struct {
    const dg_matrix *W;
    int M;
    const float *x;
    const int8_t *xq;
    const float *xs;
    const uint16_t *xb;
    float *y;
} gemm_job;

/* Work units are pairs of panels (the AVX-512 kernels' 32-column blocks). */
static void run_units(void *arg, int begin, int end, int worker)
{
    (void)worker;
    const gemm_job *j = arg;
    const dg_matrix *W = j->W;
    int p0 = 2 * begin, p1 = 2 * end < W->panels ? 2 * end : W->panels;
    switch (W->dtype) {
    case DG_WT_F32:
        kern.f32(j->x, j->M, W->K, (const float *)W->data + (size_t)p0 * W->K * NR, W->bias,
                 W->N, p0, p1, j->y);
        break;
    case DG_WT_I8:
        kern.i8(j->xq, j->xs, j->M, W->Kp, W->data, W->comp, W->scales, W->bias, W->N, p0, p1,
                j->y);
        break;
    case DG_WT_BF16:
        kern.bf16(j->xb, j->M, W->Kp, W->data, W->bias, W->N, p0, p1, j->y);
        break;
    }
}

/* Row n of a view's stacked sources; *scale its source's scale. */
static const float *view_row(const dg_matrix *W, int n, float *scale)
{
    int s = 0;
    while (n >= W->view[s].rows)
        n -= W->view[s++].rows;
    *scale = W->view[s].scale;
    return (const float *)W->view[s].w + (size_t)n * W->K;
}

/* A view's units: each pair of panels is packed on the stack (L1/L2-resident), then multiplied
 * by all M rows with the packed path's kernel. */
static void run_view_units(void *arg, int begin, int end, int worker)
{
    (void)worker;
    const gemm_job *j = arg;
    const dg_matrix *W = j->W;
    _Alignas(64) float panels[2 * NR * DG_GEMM_VIEW_MAXK];
    for (int u = begin; u < end; u++) {
        int p0 = 2 * u, p1 = p0 + 2 < W->panels ? p0 + 2 : W->panels;
        for (int p = p0; p < p1; p++) {
            const float *rows[NR], *ahead[4];
            float scale[NR], unused;
            for (int r = 0; r < NR; r++) {
                int n = p * NR + r;
                scale[r] = 1.0f;
                rows[r] = n < W->N ? view_row(W, n, &scale[r]) : NULL;
            }
            /* the next panel this thread packs: the first rows of p + 1 */
            for (int r = 0; r < 4; r++) {
                int n = (p + 1) * NR + r;
                ahead[r] = p + 1 < 2 * end && n < W->N ? view_row(W, n, &unused) : NULL;
            }
            pack_f32(panels + (size_t)(p - p0) * W->K * NR, W->K, rows, scale, ahead);
        }
        kern.f32(j->x, j->M, W->K, panels, W->bias, W->N, p0, p1, j->y);
    }
}

static void run(gemm_job *j, dg_pool *pool)
{
    const dg_matrix *W = j->W;
    int units = (W->panels + 1) / 2;
    if ((size_t)j->M * W->N * W->K < DG_GEMM_PARALLEL_MACS)
        pool = NULL;
    dg_pool_for(pool, units, W->view ? run_view_units : run_units, j);
}

static void round_rows_bf16(const float *x, int M, int K, int Kp, uint16_t *xb)
{
    for (int m = 0; m < M; m++) {
        for (int k = 0; k < K; k++)
            xb[(size_t)m * Kp + k] = dg_bf16_round(x[(size_t)m * K + k]);
        for (int k = K; k < Kp; k++)
            xb[(size_t)m * Kp + k] = 0;
    }
}

void dg_matmul(const float *x, int M, const dg_matrix *W, float *y, dg_pool *pool)
{
    if (M <= 0)
        return;
    pthread_once(&kern_once, choose_kernels);
    int N = W->N, K = W->K, Kp = W->Kp;
    gemm_job j = {.W = W, .M = M, .x = x, .y = y};
    if (W->dtype == DG_WT_F32) {
        run(&j, pool);
        return;
    }
    /* quantized / rounded activations, a chunk of rows at a time */
    _Alignas(64) unsigned char buf[DG_GEMM_QBYTES];
    float xs[DG_GEMM_QROWS];
    int chunk = (int)(sizeof buf / ((size_t)Kp * elem_size(W->dtype)));
    chunk = chunk < DG_GEMM_QROWS ? chunk : DG_GEMM_QROWS; /* >= 1: dg_matrix_pack checks K */
    for (int m0 = 0; m0 < M; m0 += chunk) {
        int mr = M - m0 < chunk ? M - m0 : chunk;
        const float *xm = x + (size_t)m0 * K;
        j.M = mr;
        j.y = y + (size_t)m0 * N;
        if (W->dtype == DG_WT_I8) {
            kern.quant(xm, mr, K, Kp, (int8_t *)buf, xs);
            j.xq = (const int8_t *)buf;
            j.xs = xs;
        } else {
            round_rows_bf16(xm, mr, K, Kp, (uint16_t *)buf);
            j.xb = (const uint16_t *)buf;
        }
        run(&j, pool);
    }
}

void dg_sgemm(bool tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
              float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a,
                lda, b, ldb, 0.0f, c, ldc);
}
