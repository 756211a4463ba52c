/* Packed GEMM (engine/gemm.h): every micro-kernel of every ISA level this CPU has, against plain
 * reference loops written here, on odd shapes (M = 1..130, K and N not multiples of the vector
 * widths), with and without bias; then dg_matmul itself (dispatch, threads, row chunks).
 *   float32: double-accumulation reference, tolerance scaled by K and sum |x w|.
 *   int8: the quantized arithmetic gemm.h specifies, modelled independently (per-row scales,
 *         round-to-nearest-even, exact integer sums, fmaf epilogue): results must be identical.
 *   bfloat16: x and w rounded to bf16 here, products summed in double, float tolerance. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/cpu.h"
#include "engine/gemm.h"
#include "engine/gemm_kernels.h"
#include "test.h"

static uint32_t rng = 12345;

static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_buf(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

/* bf16 rounding written out independently of gemm_kernels.h: nearest, ties to even */
static float bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t lsb = (u >> 16) & 1;
    u = (u + 0x7fff + lsb) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static void quant_row(const float *x, int K, int *q, float *scale)
{
    float amax = 0.0f;
    for (int k = 0; k < K; k++)
        amax = fabsf(x[k]) > amax ? fabsf(x[k]) : amax;
    for (int k = 0; k < K; k++) {
        long v = amax > 0.0f ? lrintf(x[k] * (127.0f / amax)) : 0;
        q[k] = v > 127 ? 127 : v < -127 ? -127 : (int)v;
    }
    *scale = amax / 127.0f;
}

/* ref[M, N] for dtype; tol[M, N] the allowed difference (0: exact) */
static void reference(dg_wtype dt, const float *x, const float *w, const float *b, int M, int N,
                      int K, float *ref, float *tol)
{
    int *qx = malloc(sizeof(int) * K), *qw = malloc(sizeof(int) * (size_t)N * K);
    float *sw = malloc(sizeof(float) * N);
    if (dt == DG_WT_I8)
        for (int n = 0; n < N; n++)
            quant_row(w + (size_t)n * K, K, qw + (size_t)n * K, &sw[n]);
    for (int m = 0; m < M; m++) {
        float sx = 0.0f;
        if (dt == DG_WT_I8)
            quant_row(x + (size_t)m * K, K, qx, &sx);
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)m * K, *wr = w + (size_t)n * K;
            double acc = b ? b[n] : 0.0, mag = b ? fabs(b[n]) : 0.0;
            if (dt == DG_WT_I8) {
                long long s = 0;
                for (int k = 0; k < K; k++)
                    s += (long long)qx[k] * qw[(size_t)n * K + k];
                ref[(size_t)m * N + n] = fmaf((float)s, sx * sw[n], b ? b[n] : 0.0f);
                tol[(size_t)m * N + n] = 0.0f;
                continue;
            }
            for (int k = 0; k < K; k++) {
                double a = dt == DG_WT_BF16 ? bf16(xr[k]) : xr[k];
                double c = dt == DG_WT_BF16 ? bf16(wr[k]) : wr[k];
                acc += a * c;
                mag += fabs(a * c);
            }
            ref[(size_t)m * N + n] = (float)acc;
            tol[(size_t)m * N + n] = (float)((K + 2) * 1.2e-7 * mag + 1e-30);
        }
    }
    free(qx);
    free(qw);
    free(sw);
}

typedef struct {
    const char *name;
    dg_wtype dt;
    void *fn;
} kernel;

static int compare(const char *what, const float *y, const float *ref, const float *tol, int M,
                   int N, int K, int bias)
{
    int bad = 0;
    for (size_t i = 0; i < (size_t)M * N && !bad; i++)
        if (!(fabsf(y[i] - ref[i]) <= tol[i])) {
            fprintf(stderr, "%s M=%d N=%d K=%d bias=%d: y[%zu,%zu] = %.9g, reference %.9g (tol %g)\n",
                    what, M, N, K, bias, i / N, i % N, y[i], ref[i], tol[i]);
            bad = 1;
        }
    return !bad;
}

/* quantizes / rounds x as dg_matmul does, then calls the kernel on all panels */
static void call_kernel(const kernel *kn, const dg_matrix *W, const float *x, int M, float *y)
{
    int K = W->K, Kp = W->Kp;
    if (kn->dt == DG_WT_F32) {
        ((dg_gemm_f32_fn)kn->fn)(x, M, K, W->data, W->bias, W->N, 0, W->panels, y);
        return;
    }
    if (kn->dt == DG_WT_I8) {
        int8_t *q = calloc((size_t)M * Kp, 1);
        float *s = malloc(sizeof(float) * M);
        int *qi = malloc(sizeof(int) * K);
        for (int m = 0; m < M; m++) {
            quant_row(x + (size_t)m * K, K, qi, &s[m]);
            for (int k = 0; k < K; k++)
                q[(size_t)m * Kp + k] = (int8_t)qi[k];
        }
        ((dg_gemm_i8_fn)kn->fn)(q, s, M, Kp, W->data, W->comp, W->scales, W->bias, W->N, 0,
                                W->panels, y);
        free(q);
        free(s);
        free(qi);
        return;
    }
    uint16_t *xb = calloc((size_t)M * Kp, 2);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            float f = bf16(x[(size_t)m * K + k]);
            uint32_t u;
            memcpy(&u, &f, 4);
            xb[(size_t)m * Kp + k] = (uint16_t)(u >> 16);
        }
    ((dg_gemm_bf16_fn)kn->fn)(xb, M, Kp, W->data, W->bias, W->N, 0, W->panels, y);
    free(xb);
}

static const int Ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 31, 64, 100, 130};
static const int Ns[] = {1, 5, 16, 17, 33, 47, 100};
static const int Ks[] = {1, 3, 7, 17, 33, 100, 257};

static void test_kernel(const kernel *kn)
{
    int fails = 0, cases = 0;
    for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
            int N = Ns[ni], K = Ks[ki], Mmax = 130;
            float *w = rand_buf((size_t)N * K), *b = rand_buf(N), *x = rand_buf((size_t)Mmax * K);
            float *y = malloc(sizeof(float) * Mmax * N), *ref = malloc(sizeof(float) * Mmax * N);
            float *tol = malloc(sizeof(float) * Mmax * N);
            for (int bias = 0; bias < 2; bias++) {
                dg_matrix W;
                dg_err err;
                CHECK(dg_matrix_pack(&W, w, bias ? b : NULL, N, K, kn->dt, &err) == DG_OK);
                reference(kn->dt, x, w, bias ? b : NULL, Mmax, N, K, ref, tol);
                /* a sample of M per shape keeps the test fast; every M meets several shapes */
                for (size_t mi = (ni + ki + bias) % 3; mi < sizeof Ms / sizeof *Ms; mi += 2) {
                    int M = Ms[mi];
                    for (size_t i = 0; i < (size_t)M * N; i++)
                        y[i] = NAN;
                    call_kernel(kn, &W, x, M, y);
                    cases++;
                    fails += !compare(kn->name, y, ref, tol, M, N, K, bias);
                }
                dg_matrix_free(&W);
            }
            free(w), free(b), free(x), free(y), free(ref), free(tol);
        }
    CHECK_MSG(fails == 0, "%s: %d of %d shapes differ from the reference", kn->name, fails, cases);
    printf("%-22s %4d shapes, %d differ\n", kn->name, cases, fails);
}

/* dg_matmul: the dispatched kernels and quantizer, threads, and (int8/bf16) row chunks */
static void test_matmul(dg_wtype dt, dg_pool *pool)
{
    int shapes[][3] = {{4, 512, 512}, {37, 100, 257}, {130, 1000, 33},
                       {300, 70, 65}, {1, 3000, 64}, {40, 50, 2049}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *w = rand_buf((size_t)N * K), *b = rand_buf(N), *x = rand_buf((size_t)M * K);
        float *y = malloc(sizeof(float) * M * N), *ref = malloc(sizeof(float) * M * N);
        float *tol = malloc(sizeof(float) * M * N);
        dg_matrix W;
        dg_err err;
        CHECK(dg_matrix_pack(&W, w, b, N, K, dt, &err) == DG_OK);
        reference(dt, x, w, b, M, N, K, ref, tol);
        dg_matmul(x, M, &W, y, pool);
        char what[64];
        snprintf(what, sizeof what, "dg_matmul %s threads=%d", dg_wtype_name(dt),
                 dg_pool_threads(pool));
        CHECK(compare(what, y, ref, tol, M, N, K, 1));
        dg_matrix_free(&W);
        free(w), free(b), free(x), free(y), free(ref), free(tol);
    }
}

/* each level's activation quantizer gives exactly quant_row's values (a zero row included) */
static void test_quant(const char *name, dg_quant_fn fn)
{
    int bad = 0;
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
        int K = Ks[ki], Kp = (K + 3) / 4 * 4, M = 9;
        float *x = rand_buf((size_t)M * K), s[9], sr;
        for (int k = 0; k < K; k++)
            x[(size_t)3 * K + k] = 0.0f;
        x[(size_t)5 * K + K / 2] = 40.0f; /* one large value: the rest quantize near 0 */
        int8_t *q = malloc((size_t)M * Kp);
        int *qr = malloc(sizeof(int) * K);
        memset(q, 0x55, (size_t)M * Kp);
        fn(x, M, K, Kp, q, s);
        for (int m = 0; m < M; m++) {
            quant_row(x + (size_t)m * K, K, qr, &sr);
            bad += s[m] != sr;
            for (int k = 0; k < Kp; k++)
                bad += q[(size_t)m * Kp + k] != (k < K ? qr[k] : 0);
        }
        free(x), free(q), free(qr);
    }
    CHECK_MSG(bad == 0, "%s: %d values differ from the reference quantization", name, bad);
    printf("%-22s %d values differ\n", name, bad);
}

/* dg_matrix_pack_srcs packs stacked float32 / F16 / BF16 sources (scaled, with and without
 * bias, row counts off the 16-row panels) exactly as dg_matrix_pack packs their float32
 * concatenation, built here with an independent decoding of the 16-bit values. */
static void progress_rows(void *ctx, int rows_done, int rows_next)
{
    int *last = ctx; /* rows_next of the previous call */
    CHECK(rows_done == *last && rows_next >= rows_done);
    *last = rows_next;
}

static void test_pack_srcs(void)
{
    enum { K = 37 };
    const int rows[3] = {17, 5, 1200};
    const dg_dtype dts[3] = {DG_DTYPE_F32, DG_DTYPE_BF16, DG_DTYPE_F16};
    const float scales[3] = {0.125f, 1.0f, 0.3f};
    int N = rows[0] + rows[1] + rows[2];
    float *cat = malloc(sizeof(float) * N * K), *bcat = malloc(sizeof(float) * N);
    float *f32 = rand_buf((size_t)rows[0] * K), *b0 = rand_buf(rows[0]), *b2 = rand_buf(rows[2]);
    uint16_t *bf = malloc(2 * (size_t)rows[1] * K), *h = malloc(2 * (size_t)rows[2] * K);
    uint32_t seed = 7;
    for (int i = 0; i < rows[0] * K; i++)
        cat[i] = f32[i] * scales[0];
    for (int i = 0; i < rows[1] * K; i++) {
        float v = f32[i % (rows[0] * K)] * 3.0f;
        uint32_t bits;
        memcpy(&bits, &v, 4);
        bf[i] = (uint16_t)(bits >> 16); /* value: the top half, exactly */
        bits &= 0xffff0000u;
        memcpy(&cat[rows[0] * K + i], &bits, 4);
    }
    for (int i = 0; i < rows[2] * K; i++) {
        seed = seed * 1103515245u + 12345u;
        int sign = seed >> 31, e = 1 + (int)(seed >> 8) % 30, man = (int)(seed >> 16) & 0x3ff;
        if (i % 97 == 0) /* subnormals and zero too */
            e = 0;
        h[i] = (uint16_t)(sign << 15 | e << 10 | man);
        float v = e ? ldexpf(1.0f + man / 1024.0f, e - 15) : ldexpf(man / 1024.0f, -14);
        cat[(rows[0] + rows[1]) * K + i] = (sign ? -v : v) * scales[2];
    }
    for (int i = 0; i < N; i++)
        bcat[i] = i < rows[0] ? b0[i] * scales[0] : i < rows[0] + rows[1] ? 0.0f
                : b2[i - rows[0] - rows[1]] * scales[2];
    dg_pack_src src[3] = {{f32, dts[0], scales[0], b0, rows[0]}, {bf, dts[1], scales[1], NULL, rows[1]},
                          {h, dts[2], scales[2], b2, rows[2]}};
    for (int dt = DG_WT_F32; dt <= DG_WT_BF16; dt++) {
        dg_matrix A, B;
        dg_err err;
        int last = 0;
        CHECK(dg_matrix_pack(&A, cat, bcat, N, K, (dg_wtype)dt, &err) == DG_OK);
        CHECK(dg_matrix_pack_srcs(&B, src, 3, K, (dg_wtype)dt, progress_rows, &last, &err) == DG_OK);
        CHECK_INT_EQ(last, N);
        CHECK_INT_EQ(B.N, N);
        size_t es = dt == DG_WT_F32 ? 4 : dt == DG_WT_I8 ? 1 : 2;
        size_t np = (size_t)A.panels * DG_GEMM_NR;
        CHECK_MSG(!memcmp(A.data, B.data, np * A.Kp * es), "%s: packed panels differ",
                  dg_wtype_name((dg_wtype)dt));
        CHECK(!memcmp(A.bias, B.bias, np * sizeof(float)));
        if (dt == DG_WT_I8)
            CHECK(!memcmp(A.scales, B.scales, np * sizeof(float)) &&
                  !memcmp(A.comp, B.comp, np * sizeof(int32_t)));
        dg_matrix_free(&A);
        dg_matrix_free(&B);
    }
    dg_pack_src bad = {NULL, DG_DTYPE_F32, 1.0f, NULL, 3};
    dg_matrix W;
    CHECK(dg_matrix_pack_srcs(&W, &bad, 1, K, DG_WT_F32, NULL, NULL, NULL) != DG_OK);
    free(cat), free(bcat), free(f32), free(b0), free(b2), free(bf), free(h);
    printf("pack_srcs              f32/bf16/f16 sources packed as their concatenation\n");
}

/* A float32 view (panels packed per product from the row-major sources) multiplies like the
 * matrix packed at load: against the reference within its tolerance, and bit for bit as
 * dg_matmul on the packed concatenation (the engine swaps one for the other, so outputs must
 * not move). Stacked sources with scales and partial biases, rows off the panels, odd K, one
 * panel pair and many, threads, and sources a view refuses. */
static void test_view(dg_pool *pool)
{
    int shapes[][4] = {{4, 17, 40, 37}, {70, 512, 1024, 512}, {129, 33, 3, 2048}, {1, 1, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s][0], r0 = shapes[s][1], r1 = shapes[s][2], K = shapes[s][3];
        int N = r0 + r1;
        float *w = rand_buf((size_t)N * K), *b0 = rand_buf(r0), *x = rand_buf((size_t)M * K);
        float *cat = malloc(sizeof(float) * N * K), *bcat = malloc(sizeof(float) * N);
        float *y = malloc(sizeof(float) * M * N), *yp = malloc(sizeof(float) * M * N);
        float *ref = malloc(sizeof(float) * M * N), *tol = malloc(sizeof(float) * M * N);
        for (size_t i = 0; i < (size_t)N * K; i++) /* source 0 scaled by 1/8, as queries */
            cat[i] = i < (size_t)r0 * K ? w[i] * 0.125f : w[i];
        for (int i = 0; i < N; i++)
            bcat[i] = i < r0 ? b0[i] * 0.125f : 0.0f;
        dg_pack_src src[2] = {{w, DG_DTYPE_F32, 0.125f, b0, r0},
                              {w + (size_t)r0 * K, DG_DTYPE_F32, 1.0f, NULL, r1}};
        dg_matrix V, P;
        dg_err err;
        CHECK(dg_matrix_viewable(src, 2, K));
        CHECK(dg_matrix_view(&V, src, 2, K, &err) == DG_OK);
        CHECK(V.data == NULL && V.N == N && V.K == K);
        CHECK(dg_matrix_pack(&P, cat, bcat, N, K, DG_WT_F32, &err) == DG_OK);
        reference(DG_WT_F32, x, cat, bcat, M, N, K, ref, tol);
        memset(y, 0xff, sizeof(float) * M * N);
        dg_matmul(x, M, &V, y, pool);
        dg_matmul(x, M, &P, yp, pool);
        char what[64];
        snprintf(what, sizeof what, "view [%d, %d] M=%d threads=%d", N, K, M,
                 dg_pool_threads(pool));
        CHECK(compare(what, y, ref, tol, M, N, K, 1));
        CHECK_MSG(!memcmp(y, yp, sizeof(float) * M * N), "%s: differs from the packed matrix",
                  what);
        dg_matrix_free(&V);
        dg_matrix_free(&P);
        free(w), free(b0), free(x), free(cat), free(bcat), free(y), free(yp), free(ref), free(tol);
    }
    uint16_t h[8] = {0};
    float f[8] = {0};
    dg_pack_src half = {h, DG_DTYPE_F16, 1.0f, NULL, 2}, one = {f, DG_DTYPE_F32, 1.0f, NULL, 1};
    dg_matrix W;
    dg_err err;
    CHECK(!dg_matrix_viewable(&half, 1, 4));                     /* widened every product */
    CHECK(!dg_matrix_viewable(&one, 1, DG_GEMM_VIEW_MAXK + 1)); /* panels past the stack */
    CHECK(dg_matrix_view(&W, &half, 1, 4, &err) != DG_OK);
    CHECK_CONTAINS(err.msg, "cannot view");
    dg_matrix_free(&W);
    printf("view                   float32 views multiply as the packed matrices\n");
}

static void test_errors(void)
{
    dg_matrix W;
    dg_err err;
    float w[4] = {0};
    CHECK(dg_matrix_pack(&W, w, NULL, 0, 4, DG_WT_F32, &err) != DG_OK);
    CHECK_CONTAINS(err.msg, "[0, 4]");
    float *big = calloc(70000, sizeof(float));
    CHECK(dg_matrix_pack(&W, big, NULL, 1, 70000, DG_WT_I8, &err) != DG_OK);
    CHECK_CONTAINS(err.msg, "K <=");
    free(big);
    dg_matrix_free(&W); /* empty after a failed pack: safe */
    CHECK(dg_compute_type_parse("int8") == DG_COMPUTE_INT8);
    CHECK(dg_compute_type_parse("bf16") == DG_COMPUTE_BFLOAT16);
    CHECK(dg_compute_type_parse("float32") == DG_COMPUTE_FLOAT32);
    CHECK(dg_compute_type_parse("auto") == DG_COMPUTE_AUTO);
    CHECK(dg_compute_type_parse("int4") == -1);
}

int main(void)
{
    const dg_cpu_features *f = dg_cpu();
    printf("cpu: avx2+fma %d, avx512 %d, vnni %d, bf16 %d; active level %s\n", f->avx2_fma,
           f->avx512, f->avx512_vnni, f->avx512_bf16, dg_isa_name(dg_isa_active()));
    /* DG_ISA caps the level in use (ctest runs this test under ref and avx2 too) */
    const char *cap = getenv("DG_ISA");
    dg_isa want = !cap ? dg_isa_max() : !strcmp(cap, "ref") ? DG_ISA_REF
                : !strcmp(cap, "avx2") ? DG_ISA_AVX2 : dg_isa_max();
    CHECK_INT_EQ(dg_isa_active(), want < dg_isa_max() ? want : dg_isa_max());
    kernel ks[] = {
        {"f32_ref", DG_WT_F32, (void *)dg_gemm_f32_ref},
        {"i8_ref", DG_WT_I8, (void *)dg_gemm_i8_ref},
        {"bf16_ref", DG_WT_BF16, (void *)dg_gemm_bf16_ref},
        {"f32_avx2", DG_WT_F32, f->avx2_fma ? (void *)dg_gemm_f32_avx2 : NULL},
        {"i8_avx2", DG_WT_I8, f->avx2_fma ? (void *)dg_gemm_i8_avx2 : NULL},
        {"bf16_avx2", DG_WT_BF16, f->avx2_fma ? (void *)dg_gemm_bf16_avx2 : NULL},
        {"f32_avx512", DG_WT_F32, f->avx512 ? (void *)dg_gemm_f32_avx512 : NULL},
        {"i8_avx512vnni", DG_WT_I8, f->avx512_vnni ? (void *)dg_gemm_i8_avx512vnni : NULL},
        {"bf16_avx512bf16", DG_WT_BF16, f->avx512_bf16 ? (void *)dg_gemm_bf16_avx512bf16 : NULL},
    };
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        if (ks[i].fn)
            test_kernel(&ks[i]);
        else
            printf("%-22s skipped: this CPU lacks it\n", ks[i].name);
    }
    test_quant("quant_rows_ref", dg_quant_rows_ref);
    if (f->avx2_fma)
        test_quant("quant_rows_avx2", dg_quant_rows_avx2);
    if (f->avx512)
        test_quant("quant_rows_avx512", dg_quant_rows_avx512);
    dg_err err;
    dg_pool *pool = dg_pool_create(2, &err);
    CHECK(pool != NULL);
    for (int dt = DG_WT_F32; dt <= DG_WT_BF16; dt++) {
        test_matmul((dg_wtype)dt, NULL);
        test_matmul((dg_wtype)dt, pool);
    }
    test_view(NULL);
    test_view(pool);
    dg_pool_free(pool);
    test_pack_srcs();
    test_errors();
    return test_summary();
}
