/* Kernels: the AVX2 versions against their scalar twins on sizes that exercise the vector tails
 * (1, 7, 8, 9, 33, 517, 4099), and the scalar twins against hand-computed values, so neither can
 * drift. Prints the largest difference seen per kernel. Also run under DG_ISA=ref (the
 * dispatched kernels are then the scalar twins: the bit-for-bit relations still hold). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "test.h"

static const int sizes[] = {1, 7, 8, 9, 33, 517, 4099};
#define NSIZES (int)(sizeof sizes / sizeof *sizes)
#define MAXN 4099

static unsigned rng_state = 12345;
static float frand(float lo, float hi)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((rng_state >> 8) & 0xffffff) / 16777216.0f;
}

static void fill(float *x, int n, float lo, float hi)
{
    for (int i = 0; i < n; i++)
        x[i] = frand(lo, hi);
}

/* max |a - b| / (1 + |b|): relative for large values, absolute near zero */
static double maxdiff(const float *a, const float *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= m))
            m = d; /* NaN propagates as a failure */
    }
    return m;
}

static void test_hand_values(void)
{
    float x[3] = {1, 2, 3}, g[3] = {1, 1, 1}, b[3] = {0, 0, 0};
    dg_k_add_layernorm_ref(x, NULL, g, b, 1, 3, 0.0f);
    CHECK_NEAR(x[0], -1.2247449, 1e-6);
    CHECK_NEAR(x[1], 0.0, 1e-6);
    CHECK_NEAR(x[2], 1.2247449, 1e-6);
    float s[2] = {0.0f, logf(3.0f)};
    dg_k_softmax_ref(s, 2);
    CHECK_NEAR(s[0], 0.25, 1e-7);
    CHECK_NEAR(s[1], 0.75, 1e-7);
    float a[4] = {1, 1, 1, 1};
    dg_k_activation_ref(a, 1, DG_ACT_SILU);
    dg_k_activation_ref(a + 1, 1, DG_ACT_GELU);
    dg_k_activation_ref(a + 2, 1, DG_ACT_GELU_TANH);
    dg_k_activation_ref(a + 3, 1, DG_ACT_RELU);
    CHECK_NEAR(a[0], 0.7310585786, 1e-7);  /* 1 / (1 + e^-1) */
    CHECK_NEAR(a[1], 0.8413447461, 1e-7);  /* Phi(1) */
    CHECK_NEAR(a[2], 0.8411919906, 1e-7);  /* torch gelu(1, approximate="tanh") */
    CHECK_NEAR(a[3], 1.0, 0);
    float t[6] = {3, 5, 5, -1, 4, 5}, val[3];
    int idx[3];
    CHECK_INT_EQ(dg_k_topk_ref(t, 6, 1.0f, 3, val, idx), 3);
    CHECK(idx[0] == 1 && idx[1] == 2 && idx[2] == 5 && val[0] == 6.0f); /* ties: lower index first */
    float ls[3] = {0, -INFINITY, 0};
    dg_k_log_softmax_ref(ls, 3);
    CHECK_NEAR(ls[0], -logf(2.0f), 1e-7);
    CHECK(isinf(ls[1]) && ls[1] < 0);
    /* RMSNorm: x / sqrt(mean(x^2) + eps) * g; [3, 4] has mean square 12.5 */
    float rx[2] = {3, 4}, rg[2] = {1, 2};
    dg_k_add_layernorm_ref(rx, NULL, rg, NULL, 1, 2, 0.0f);
    CHECK_NEAR(rx[0], 3 / sqrt(12.5), 1e-6);
    CHECK_NEAR(rx[1], 8 / sqrt(12.5), 1e-6);
}

static void test_vs_ref(void)
{
    static float x[MAXN * 3], y[MAXN * 3], a[MAXN * 3], g[MAXN], bb[MAXN], r1[MAXN * 3],
        r2[MAXN * 3];
    double worst[14] = {0};
    const char *names[14] = {"add_layernorm", "layernorm", "add", "silu", "relu", "gelu",
                             "gelu_tanh", "softmax", "log_softmax", "dot", "axpy",
                             "add_rmsnorm", "rmsnorm", "mul"};
    for (int si = 0; si < NSIZES; si++) {
        int n = sizes[si], rows = 3;
        fill(x, n * rows, -4, 4);
        fill(a, n * rows, -2, 2);
        fill(g, n, 0.5f, 1.5f);
        fill(bb, n, -0.5f, 0.5f);
        for (int i = 0; i < n * rows; i++)
            r1[i] = r2[i] = x[i];
        dg_k_add_layernorm(r1, a, g, bb, rows, n, 1e-5f);
        dg_k_add_layernorm_ref(r2, a, g, bb, rows, n, 1e-5f);
        double d = maxdiff(r1, r2, n * rows);
        worst[0] = d > worst[0] ? d : worst[0];
        dg_k_layernorm(x, g, bb, r1, rows, n, 1e-5f);
        dg_k_layernorm_ref(x, g, bb, r2, rows, n, 1e-5f);
        d = maxdiff(r1, r2, n * rows);
        worst[1] = d > worst[1] ? d : worst[1];
        for (int i = 0; i < n; i++)
            r1[i] = r2[i] = x[i];
        dg_k_add(r1, a, (size_t)n);
        dg_k_add_ref(r2, a, (size_t)n);
        d = maxdiff(r1, r2, n);
        worst[2] = d > worst[2] ? d : worst[2];
        dg_activation acts[4] = {DG_ACT_SILU, DG_ACT_RELU, DG_ACT_GELU, DG_ACT_GELU_TANH};
        for (int k = 0; k < 4; k++) {
            /* wide range: saturated ends and exp's clamps are exercised */
            fill(y, n, -30, 30);
            if (n > 4) {
                y[0] = -100.0f;
                y[1] = 100.0f;
                y[2] = 0.0f;
                y[3] = -1e-3f;
            }
            for (int i = 0; i < n; i++)
                r1[i] = r2[i] = y[i];
            dg_k_activation(r1, (size_t)n, acts[k]);
            dg_k_activation_ref(r2, (size_t)n, acts[k]);
            d = maxdiff(r1, r2, n);
            worst[3 + k] = d > worst[3 + k] ? d : worst[3 + k];
        }
        fill(y, n, -20, 20);
        for (int i = 0; i < n; i++)
            r1[i] = r2[i] = y[i];
        dg_k_softmax(r1, n);
        dg_k_softmax_ref(r2, n);
        d = maxdiff(r1, r2, n);
        worst[7] = d > worst[7] ? d : worst[7];
        for (int i = 0; i < n; i++)
            r1[i] = r2[i] = y[i];
        if (n > 2)
            r1[1] = r2[1] = -INFINITY; /* banned entries stay banned */
        dg_k_log_softmax(r1, n);
        dg_k_log_softmax_ref(r2, n);
        if (n > 2)
            CHECK(isinf(r1[1]) && r1[1] < 0);
        if (n > 2)
            r1[1] = r2[1] = 0;
        d = maxdiff(r1, r2, n);
        worst[8] = d > worst[8] ? d : worst[8];
        d = fabs(dg_k_dot(x, a, n) - dg_k_dot_ref(x, a, n)) / (1.0 + sqrt((double)n));
        worst[9] = d > worst[9] ? d : worst[9];
        for (int i = 0; i < n; i++)
            r1[i] = r2[i] = x[i];
        dg_k_axpy(r1, 0.37f, a, n);
        dg_k_axpy_ref(r2, 0.37f, a, n);
        d = maxdiff(r1, r2, n);
        worst[10] = d > worst[10] ? d : worst[10];
        /* no bias: RMSNorm */
        for (int i = 0; i < n * rows; i++)
            r1[i] = r2[i] = x[i];
        dg_k_add_layernorm(r1, a, g, NULL, rows, n, 1e-6f);
        dg_k_add_layernorm_ref(r2, a, g, NULL, rows, n, 1e-6f);
        d = maxdiff(r1, r2, n * rows);
        worst[11] = d > worst[11] ? d : worst[11];
        dg_k_layernorm(x, g, NULL, r1, rows, n, 1e-6f);
        dg_k_layernorm_ref(x, g, NULL, r2, rows, n, 1e-6f);
        d = maxdiff(r1, r2, n * rows);
        worst[12] = d > worst[12] ? d : worst[12];
        for (int i = 0; i < n; i++)
            r1[i] = r2[i] = x[i];
        dg_k_mul(r1, a, (size_t)n);
        dg_k_mul_ref(r2, a, (size_t)n);
        d = maxdiff(r1, r2, n);
        worst[13] = d > worst[13] ? d : worst[13];

        /* argmax and top-k must agree exactly, including ties (duplicated values planted) */
        fill(y, n, -5, 5);
        if (n > 20) {
            y[n - 1] = y[3] = y[17] = 7.0f;
            y[9] = y[10] = 6.5f;
        }
        CHECK_INT_EQ(dg_k_argmax(y, n), dg_k_argmax_ref(y, n));
        for (int k = 1; k <= 8; k++) {
            float v1[8], v2[8];
            int i1[8], i2[8];
            int m1 = dg_k_topk(y, n, -1e9f, k, v1, i1);
            int m2 = dg_k_topk_ref(y, n, -1e9f, k, v2, i2);
            CHECK_INT_EQ(m1, m2);
            int same = 1;
            for (int i = 0; i < m1 && i < m2; i++)
                same &= v1[i] == v2[i] && i1[i] == i2[i];
            CHECK_MSG(same, "topk n=%d k=%d", n, k);
            m1 = dg_k_topk(y, n, 0.25f, k, v1, i1);
            m2 = dg_k_topk_ref(y, n, 0.25f, k, v2, i2);
            same = m1 == m2;
            for (int i = 0; i < m1 && i < m2; i++)
                same &= v1[i] == v2[i] && i1[i] == i2[i];
            CHECK_MSG(same, "topk n=%d k=%d add=0.25", n, k);
        }
    }
    const double tol[14] = {1e-5, 1e-5, 0, 2e-6, 0, 2e-6, 2e-6, 1e-6, 2e-6, 1e-5, 1e-6, 1e-5, 1e-5, 0};
    for (int k = 0; k < 14; k++) {
        printf("%-14s maxdiff %.3g\n", names[k], worst[k]);
        CHECK_MSG(worst[k] <= tol[k], "%s: %g > %g", names[k], worst[k], tol[k]);
    }
}

/* The attention kernels over a scattered cache: dg_k_dots equals dg_k_dot per key and dg_k_wsum
 * equals the dg_k_axpy calls it replaces, bit for bit (the forward pass relies on it), and both
 * match their scalar twins; head sizes with and without vector tails, T across the 4-key
 * blocks, rows picked through a slot table and without one. */
static void test_cache_attention(void)
{
    enum { NSLOT = 3, LD = 200 };
    static float cache[50 * LD], q[100], p[40], s1[40], s2[40], o1[100], o2[100], o3[100];
    fill(cache, 50 * LD, -1, 1); /* covers t < 30 rows of 3 slots of dh <= 100 */
    fill(q, 100, -1, 1);
    int slot[40];
    for (int t = 0; t < 40; t++)
        slot[t] = (t * 7) % NSLOT;
    const int dhs[] = {1, 7, 8, 33, 64, 100}, Ts[] = {1, 3, 4, 5, 9, 30};
    double worst = 0;
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            for (int use_slot = 0; use_slot < 2; use_slot++) {
                int dh = dhs[a], T = Ts[b];
                const int *sl = use_slot ? slot : NULL;
                /* rows of LD floats; with slots, time t's row block is NSLOT rows further */
                size_t ld = use_slot ? (size_t)NSLOT * dh : (size_t)dh + 1, sld = (size_t)dh;
                const float *base = cache + 3;
                dg_k_dots(q, base, ld, sl, sld, T, dh, s1);
                dg_k_dots_ref(q, base, ld, sl, sld, T, dh, s2);
                int same = 1;
                for (int t = 0; t < T; t++) {
                    const float *row = base + t * ld + (sl ? sl[t] * sld : 0);
                    same &= s1[t] == dg_k_dot(q, row, dh);
                    double d = fabs(s1[t] - s2[t]) / (1.0 + sqrt((double)dh));
                    worst = d > worst ? d : worst;
                    p[t] = frand(0, 1);
                }
                CHECK_MSG(same, "dots dh=%d T=%d slot=%d differs from dg_k_dot", dh, T, use_slot);
                dg_k_wsum(p, base, ld, sl, sld, T, dh, o1);
                dg_k_wsum_ref(p, base, ld, sl, sld, T, dh, o2);
                for (int i = 0; i < dh; i++)
                    o3[i] = 0.0f;
                for (int t = 0; t < T; t++)
                    dg_k_axpy(o3, p[t], base + t * ld + (sl ? sl[t] * sld : 0), dh);
                same = 1;
                for (int i = 0; i < dh; i++)
                    same &= o1[i] == o3[i];
                CHECK_MSG(same, "wsum dh=%d T=%d slot=%d differs from dg_k_axpy", dh, T, use_slot);
                double d = maxdiff(o1, o2, dh);
                worst = d > worst ? d : worst;
            }
    printf("%-14s maxdiff %.3g\n", "dots/wsum", worst);
    CHECK_MSG(worst <= 1e-5, "dots/wsum vs ref: %g", worst);
}

/* The grouped kernels for a sentence's beams against its cross K/V: for 1..4 queries (and the
 * 4 + 1 a beam of 5 splits into), each query's scores equal dg_k_dots' and its weighted sums
 * dg_k_wsum's bit for bit, and match the scalar twins. */
static void test_cross_groups(void)
{
    enum { LD = 205, QLD = 101 };
    static float cache[40 * LD], q[4 * QLD], p[4 * 40], s1[4 * 40], s2[40], s3[4 * 40],
        o1[4 * QLD], o2[QLD], o3[4 * QLD];
    fill(cache, 40 * LD, -1, 1);
    fill(q, 4 * QLD, -1, 1);
    fill(p, 4 * 40, 0, 1);
    const int dhs[] = {1, 7, 8, 16, 24, 33, 64, 100}, Ts[] = {1, 2, 3, 5, 25, 40};
    double worst = 0;
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 6; b++)
            for (int nq = 1; nq <= 4; nq++) {
                int dh = dhs[a], T = Ts[b], same = 1;
                const float *base = cache + 3;
                dg_k_dots_q(q, QLD, nq, base, LD, T, dh, s1, 40);
                dg_k_dots_q_ref(q, QLD, nq, base, LD, T, dh, s3, 40);
                dg_k_wsum_q(p, 40, nq, base, LD, T, dh, o1, QLD);
                dg_k_wsum_q_ref(p, 40, nq, base, LD, T, dh, o3, QLD);
                for (int g = 0; g < nq; g++) {
                    dg_k_dots(q + g * QLD, base, LD, NULL, 0, T, dh, s2);
                    for (int t = 0; t < T; t++)
                        same &= s1[g * 40 + t] == s2[t];
                    worst = fmax(worst, maxdiff(s1 + g * 40, s3 + g * 40, T) / (1.0 + sqrt(dh)));
                    dg_k_wsum(p + g * 40, base, LD, NULL, 0, T, dh, o2);
                    for (int i = 0; i < dh; i++)
                        same &= o1[g * QLD + i] == o2[i];
                    worst = fmax(worst, maxdiff(o1 + g * QLD, o3 + g * QLD, dh));
                }
                CHECK_MSG(same, "dots_q/wsum_q dh=%d T=%d nq=%d differ from dots/wsum", dh, T, nq);
            }
    printf("%-14s maxdiff %.3g\n", "dots_q/wsum_q", worst);
    CHECK_MSG(worst <= 1e-5, "dots_q/wsum_q vs ref: %g", worst);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bf16 caches, rounding: dg_k_to_bf16 gives the hand-worked nearest-even results (ties both
 * ways, carries into the exponent, overflow to inf, NaN kept a NaN), and on random values of
 * every magnitude each element equals its own scalar rounding written from the definition, on
 * aligned (streamed) and unaligned destinations, sizes with vector tails. */
static void test_bf16_round(void)
{
    static const uint32_t in[] = {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu,
                                  0xbf808000u, 0x3f7fffffu, 0x7f7fffffu, 0x7f800000u,
                                  0xff800000u, 0x7fc00001u, 0x7f800001u, 0x00000001u};
    static const uint16_t want[] = {0x3f80, 0x3f82, 0x3f81, 0x3f80, 0xbf80, 0x3f80, 0x7f80, 0x7f80,
                                    0xff80, 0x7fc0, 0x7fc0, 0x0000};
    float x[16];
    uint16_t y[16];
    for (int i = 0; i < 12; i++)
        x[i] = bits_f32(in[i]);
    dg_k_to_bf16(y, x, 12);
    for (int i = 0; i < 12; i++)
        CHECK_MSG(y[i] == want[i], "bf16(0x%08x) = 0x%04x, want 0x%04x", in[i], y[i], want[i]);
    enum { N = 520 };
    static float r[N];
    static uint16_t buf[N + 8] __attribute__((aligned(16)));
    for (int i = 0; i < N; i++) /* random sign and mantissa, exponents 1..254 */
        r[i] = bits_f32((f32_bits(frand(-1, 1)) & 0x807fffffu) |
                        ((uint32_t)(i * 37 % 254 + 1) << 23));
    const int ns[] = {1, 7, 8, 9, 33, 517};
    int bad = 0;
    for (int a = 0; a < 6; a++)
        for (int off = 0; off < 2; off++) {
            uint16_t *o = buf + off;   /* off 1: not 16-byte aligned, no streaming */
            dg_k_to_bf16(o, r, ns[a]);
            for (int i = 0; i < ns[a]; i++) {
                uint32_t u = f32_bits(r[i]), lo = u & 0xffffu, hi = u >> 16;
                uint32_t w = lo > 0x8000u || (lo == 0x8000u && (hi & 1)) ? hi + 1 : hi;
                bad += o[i] != w;
            }
        }
    CHECK_MSG(bad == 0, "bf16 rounding: %d elements differ from nearest-even", bad);
}

/* bf16 caches, attention: each bf16 kernel gives bit for bit what its float32 kernel gives on
 * the rows widened to float32 (rounded by dg_k_to_bf16 first), and matches its scalar twin;
 * scattered rows with and without slots, grouped queries, head sizes with vector tails. */
static void test_bf16_attention(void)
{
    enum { NSLOT = 3, LD = 205, QLD = 101, NC = 50 * LD };
    static float cache[NC], wide[NC], q[4 * QLD], p[4 * 40], s1[4 * 40], s2[4 * 40], s3[4 * 40],
        o1[4 * QLD], o2[4 * QLD], o3[4 * QLD];
    static uint16_t bc[NC];
    fill(cache, NC, -2, 2);
    dg_k_to_bf16(bc, cache, NC);
    for (int i = 0; i < NC; i++)
        wide[i] = bits_f32((uint32_t)bc[i] << 16);
    fill(q, 4 * QLD, -1, 1);
    fill(p, 4 * 40, 0, 1);
    int slot[40];
    for (int t = 0; t < 40; t++)
        slot[t] = (t * 7) % NSLOT;
    const int dhs[] = {1, 7, 8, 16, 33, 64, 100}, Ts[] = {1, 3, 4, 5, 9, 30};
    double worst = 0;
    int same = 1;
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 6; b++) {
            int dh = dhs[a], T = Ts[b];
            for (int use_slot = 0; use_slot < 2; use_slot++) {
                const int *sl = use_slot ? slot : NULL;
                size_t ld = use_slot ? (size_t)NSLOT * dh : (size_t)dh + 1, sld = (size_t)dh;
                dg_k_dots_bf16(q, bc + 3, ld, sl, sld, T, dh, s1);
                dg_k_dots(q, wide + 3, ld, sl, sld, T, dh, s2);
                dg_k_dots_bf16_ref(q, bc + 3, ld, sl, sld, T, dh, s3);
                for (int t = 0; t < T; t++)
                    same &= s1[t] == s2[t];
                worst = fmax(worst, maxdiff(s1, s3, T) / (1.0 + sqrt(dh)));
                dg_k_wsum_bf16(p, bc + 3, ld, sl, sld, T, dh, o1);
                dg_k_wsum(p, wide + 3, ld, sl, sld, T, dh, o2);
                dg_k_wsum_bf16_ref(p, bc + 3, ld, sl, sld, T, dh, o3);
                for (int i = 0; i < dh; i++)
                    same &= o1[i] == o2[i];
                worst = fmax(worst, maxdiff(o1, o3, dh));
                CHECK_MSG(same, "dots/wsum_bf16 dh=%d T=%d slot=%d differ from float32", dh, T,
                          use_slot);
            }
            for (int nq = 1; nq <= 4; nq++) {
                dg_k_dots_q_bf16(q, QLD, nq, bc + 3, LD, T, dh, s1, 40);
                dg_k_dots_q(q, QLD, nq, wide + 3, LD, T, dh, s2, 40);
                dg_k_dots_q_bf16_ref(q, QLD, nq, bc + 3, LD, T, dh, s3, 40);
                dg_k_wsum_q_bf16(p, 40, nq, bc + 3, LD, T, dh, o1, QLD);
                dg_k_wsum_q(p, 40, nq, wide + 3, LD, T, dh, o2, QLD);
                dg_k_wsum_q_bf16_ref(p, 40, nq, bc + 3, LD, T, dh, o3, QLD);
                for (int g = 0; g < nq; g++) {
                    for (int t = 0; t < T; t++)
                        same &= s1[g * 40 + t] == s2[g * 40 + t];
                    for (int i = 0; i < dh; i++)
                        same &= o1[g * QLD + i] == o2[g * QLD + i];
                    worst = fmax(worst, maxdiff(s1 + g * 40, s3 + g * 40, T) / (1.0 + sqrt(dh)));
                    worst = fmax(worst, maxdiff(o1 + g * QLD, o3 + g * QLD, dh));
                }
                CHECK_MSG(same, "dots_q/wsum_q_bf16 dh=%d T=%d nq=%d differ from float32", dh, T,
                          nq);
            }
        }
    printf("%-14s maxdiff %.3g\n", "bf16 attention", worst);
    CHECK_MSG(worst <= 1e-5, "bf16 attention vs ref: %g", worst);
}

/* The lazy log-softmax: dg_k_topk_lp on the raw row gives what dg_k_topk gives on the row
 * dg_k_log_softmax writes, values and indices bit for bit (with -inf entries, an all -inf row,
 * sizes with vector tails), and the chosen entry's log-prob rebuilt from dg_k_lse is the
 * written one; the scalar twins agree with each other the same way. */
static void test_lazy_log_softmax(void)
{
    enum { N = 1001 };
    static float x[N], lp[N], v1[8], v2[8];
    int i1[8], i2[8];
    const int ns[] = {1, 5, 8, 9, 100, 1001};
    for (int a = 0; a < 6; a++)
        for (int kind = 0; kind < 3; kind++)
            for (int k = 1; k <= 8; k += 7) {
                int n = ns[a], same = 1;
                fill(x, n, -20, 5);
                for (int i = 0; i < n; i++)
                    if (kind == 2 || (kind == 1 && i % 3 == 0))
                        x[i] = -INFINITY;
                float add = kind ? -1.7f : 0.3f;
                for (int ref = 0; ref < 2; ref++) {
                    float mx, lse = (ref ? dg_k_lse_ref : dg_k_lse)(x, n, &mx);
                    memcpy(lp, x, n * sizeof *x);
                    (ref ? dg_k_log_softmax_ref : dg_k_log_softmax)(lp, n);
                    int m1 = (ref ? dg_k_topk_lp_ref : dg_k_topk_lp)(x, n, mx, lse, add, k, v1, i1);
                    int m2 = (ref ? dg_k_topk_ref : dg_k_topk)(lp, n, add, k, v2, i2);
                    same &= m1 == m2;
                    for (int j = 0; j < m1 && j < m2; j++)
                        same &= i1[j] == i2[j] && memcmp(&v1[j], &v2[j], sizeof v1[j]) == 0;
                    for (int i = 0; i < n; i++) {
                        float y = mx == -INFINITY ? x[i] : (x[i] - mx) - lse;
                        same &= memcmp(&y, &lp[i], sizeof y) == 0;
                    }
                }
                CHECK_MSG(same, "lazy log-softmax n=%d kind=%d k=%d differs", n, kind, k);
            }
}

int main(void)
{
    test_hand_values();
    test_vs_ref();
    test_cache_attention();
    test_cross_groups();
    test_bf16_round();
    test_bf16_attention();
    test_lazy_log_softmax();
    return test_summary();
}
