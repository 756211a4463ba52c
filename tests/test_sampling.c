/* Sampling (engine/sample.c): the distribution of dg_sample_token against Hugging Face's
 * warpers, and reproducibility per seed.
 *
 * The expected probabilities were computed with PyTorch 1.13 by a re-statement of transformers
 * 4.40's TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper (applied in
 * _get_logits_warper's order) followed by softmax, on the logits below (which have a tie and a
 * banned token). 200,000 draws per case must land within 5 standard errors of each
 * probability, and banned or warped-away tokens never. */
#include <math.h>
#include <stdlib.h>

#include "engine/search.h"
#include "tests/test.h"

#define V 8
#define DRAWS 200000

static const float logits[V] = {2.0f, 1.0f, 0.5f, 1.0f, -1.0f, -INFINITY, 0.0f, 3.0f};

static const struct {
    float temperature;
    int top_k;
    float top_p;
    double p[V];
} cases[] = {
    {1.00f, 0, 1.00f, {0.205664262, 0.075659655, 0.045889899, 0.075659655, 0.010239420, 0.000000000, 0.027833629, 0.559053421}},
    {0.70f, 0, 1.00f, {0.171216726, 0.041032266, 0.020087006, 0.041032266, 0.002356590, 0.000000000, 0.009833424, 0.714441717}},
    {1.00f, 3, 1.00f, {0.224515229, 0.082594536, 0.000000000, 0.082594536, 0.000000000, 0.000000000, 0.000000000, 0.610295653}},
    {1.00f, 4, 1.00f, {0.224515229, 0.082594536, 0.000000000, 0.082594536, 0.000000000, 0.000000000, 0.000000000, 0.610295653}},
    {1.00f, 0, 0.80f, {0.244728446, 0.000000000, 0.000000000, 0.090030566, 0.000000000, 0.000000000, 0.000000000, 0.665240884}},
    {1.50f, 5, 0.90f, {0.251599669, 0.129175588, 0.000000000, 0.129175588, 0.000000000, 0.000000000, 0.000000000, 0.490049243}},
    {0.50f, 0, 0.50f, {0.000000000, 0.000000000, 0.000000000, 0.000000000, 0.000000000, 0.000000000, 0.000000000, 1.000000000}},
};

static dg_search_opts opts(float t, int k, float p)
{
    dg_search_opts o = {.num_beams = 1, .do_sample = 1, .temperature = t, .top_k = k, .top_p = p};
    return o;
}

static void test_distribution(dg_logits_scratch *sc)
{
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dg_search_opts o = opts(cases[c].temperature, cases[c].top_k, cases[c].top_p);
        uint64_t rng = 1234 + c;
        long count[V] = {0}, outside = 0;
        for (int i = 0; i < DRAWS; i++) {
            int tok = dg_sample_token(logits, V, &o, &rng, sc);
            if (tok >= 0 && tok < V)
                count[tok]++;
            else
                outside++;
        }
        CHECK_INT_EQ(outside, 0);
        for (int v = 0; v < V; v++) {
            double p = cases[c].p[v], f = (double)count[v] / DRAWS;
            double se = sqrt(p * (1 - p) / DRAWS);
            if (p == 0)
                CHECK_MSG(count[v] == 0, "case %zu: token %d drawn %ld times", c, v, count[v]);
            else
                CHECK_MSG(fabs(f - p) <= 5 * se + 1e-9, "case %zu token %d: %.5f vs %.5f", c, v,
                          f, p);
        }
    }
}

static void test_seed(dg_logits_scratch *sc)
{
    dg_search_opts o = opts(1.0f, 0, 1.0f);
    int a[64], b[64], differ = 0;
    uint64_t r1 = 42, r2 = 42, r3 = 43;
    for (int i = 0; i < 64; i++) {
        a[i] = dg_sample_token(logits, V, &o, &r1, sc);
        b[i] = dg_sample_token(logits, V, &o, &r2, sc);
        differ += a[i] != dg_sample_token(logits, V, &o, &r3, sc);
    }
    CHECK(!memcmp(a, b, sizeof a));  /* same seed, same draws */
    CHECK(differ > 0);               /* another seed, other draws */
    /* top_k 1 is greedy whatever the seed */
    o = opts(1.0f, 1, 1.0f);
    int not_best = 0;
    for (int i = 0; i < 100; i++)
        not_best += dg_sample_token(logits, V, &o, &r3, sc) != 7;
    CHECK_INT_EQ(not_best, 0);
}

int main(void)
{
    dg_logits_scratch sc = {0};
    dg_err err;
    CHECK_INT_EQ(dg_logits_scratch_init(&sc, V, &err), DG_OK);
    test_distribution(&sc);
    test_seed(&sc);
    dg_logits_scratch_free(&sc);
    return test_summary();
}
