/* Multinomial sampling as Hugging Face generate() does it with do_sample (transformers 4.40
 * `_get_logits_warper` and `_sample`): TemperatureLogitsWarper (scores / temperature),
 * TopKLogitsWarper (drop scores below the k-th largest; ties at the k-th stay), TopPLogitsWarper
 * (sort ascending, drop tokens whose cumulative softmax is <= 1 - top_p, always keep the best),
 * then one draw from the softmax of the remaining scores.
 *
 * DESIGN. Torch's generator cannot be reproduced, so draws come from splitmix64 seeded per
 * sentence: the same seed gives the same translation whatever else is in the batch. The
 * distribution, not the stream, is what matches HF (tests/test_sampling.c checks it against
 * probabilities PyTorch computed with HF's warper code). Candidates are sorted once (best
 * first): top-k and top-p are both prefixes of that order. */
#include <math.h>
#include <stdlib.h>

#include "engine/search.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int by_score_desc(const void *a, const void *b, void *ctx)
{
    const float *x = ctx;
    float u = x[*(const int *)a], v = x[*(const int *)b];
    if (u != v)
        return u > v ? -1 : 1;
    /* ties: higher id first, so that in ascending order (top-p's) the lower id comes first, as
     * torch.sort leaves equal scores */
    return *(const int *)b - *(const int *)a;
}

int dg_sample_token(const float *x, int V, const dg_search_opts *o, uint64_t *rng,
                    dg_logits_scratch *sc)
{
    int *order = sc->order, n = 0;
    double *p = sc->prob;
    for (int i = 0; i < V; i++)
        if (x[i] > -INFINITY)
            order[n++] = i;
    if (n == 0)  /* cannot happen (a forced token stays finite); answer 0, never read garbage */
        return 0;
    /* dividing by a positive temperature keeps the order */
    qsort_r(order, (size_t)n, sizeof *order, by_score_desc, (void *)x);
    double t = o->temperature;
    if (o->top_k > 0 && o->top_k < n) {
        float kth = x[order[o->top_k - 1]];
        int keep = o->top_k;
        while (keep < n && x[order[keep]] >= kth)
            keep++;
        n = keep;
    }
    double top = x[order[0]] / t, z = 0;
    for (int j = 0; j < n; j++)
        z += p[j] = exp(x[order[j]] / t - top);
    if (o->top_p < 1.0f) {
        /* ascending cumulative probability of token j = the tail sum from j on */
        double tail = 1.0, limit = 1.0 - (double)o->top_p;
        int keep = 0;
        for (int j = 0; j < n; j++) {
            if (tail <= limit && j > 0)
                break;
            tail -= p[j] / z;
            keep = j + 1;
        }
        n = keep;
        z = 0;
        for (int j = 0; j < n; j++)
            z += p[j];
    }
    double u = (double)(splitmix64(rng) >> 11) * 0x1.0p-53 * z;
    for (int j = 0; j < n; j++) {
        u -= p[j];
        if (u < 0)
            return order[j];
    }
    return order[n - 1];  /* u within rounding of z */
}
