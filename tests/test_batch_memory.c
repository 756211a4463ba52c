/* A warm batch decodes without fresh memory: a repeated run of the same workload through one
 * dg_batch must not page-fault in new memory. Fresh pages are slow to touch (0.3-0.4 GB/s in
 * some VMs), and glibc hands blocks of 128 KB and more back to the kernel on free, so a buffer
 * freed and allocated again per batch (KV caches, encoder outputs, logits, workspaces) would be
 * faulted in again by every batch; the engine keeps them in the batch and its recycled
 * sentence states instead.
 *
 * Transparent huge pages are turned off for this process (PR_SET_THP_DISABLE), so one minor
 * fault is one 4 KB page and the bound below is a bound in bytes. */
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "engine/engine.h"
#include "test.h"

#define MODEL DG_SOURCE_DIR "/models/demo-en-de"
#define N_SENT 12
/* pages a warm run may touch for the first time: small allocations landing on new heap pages
 * (results, per-sentence vectors; 0-1 pages in a release build, ~17 under ASan, whose
 * quarantine delays reuse). One beam sentence's KV cache alone is ~60 pages here. */
#define MAX_WARM_FAULTS 40

static long minflt(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* Translates the sentences with o, checks every one finished, frees the results. */
static void run(dg_batch *b, int *const *src, const int *len, const dg_search_opts *o)
{
    dg_result out[N_SENT];
    dg_err err;
    CHECK_INT_EQ(dg_translate(b, (const int *const *)src, len, N_SENT, o, 8, out, &err), DG_OK);
    for (int i = 0; i < N_SENT; i++) {
        CHECK(out[i].n >= 1 && out[i].len[0] >= 1);
        dg_result_free(&out[i]);
    }
}

/* Faults of the third of identical rounds (beam search, then greedy) on one batch: recycled
 * sentence states meet sentences of other lengths and beams in turn, so a state may still
 * grow in the second round; then every one has its working size. */
static long warm_faults(dg_batch *b, int *const *src, const int *len,
                        const dg_search_opts *beam, const dg_search_opts *greedy)
{
    long f = 0;
    for (int round = 0; round < 3; round++) {
        long f0 = minflt();
        run(b, src, len, beam);
        run(b, src, len, greedy);
        f = minflt() - f0;
        printf("round %d: %ld minor faults\n", round, f);
    }
    return f;
}

int main(void)
{
    CHECK(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0);
    dg_err err;
    dg_model *m = dg_model_load(MODEL, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m)
        return test_summary();
    const dg_config *c = dg_model_config(m);
    int *src[N_SENT], len[N_SENT];
    uint32_t seed = 11;
    for (int i = 0; i < N_SENT; i++) {
        len[i] = 10 + 7 * i; /* 10..87 tokens: sentences decoded together differ in length */
        src[i] = malloc(sizeof(int) * len[i]);
        for (int k = 0; k < len[i] - 1; k++) {
            seed = seed * 1103515245u + 12345u;
            src[i][k] = 2 + (int)(seed >> 8) % (c->vocab_size - 3);
        }
        src[i][len[i] - 1] = c->eos_token_id;
    }
    dg_search_opts beam, greedy;
    dg_search_opts_default(&beam, m);
    beam.num_beams = 4;
    beam.num_return_sequences = 1;
    beam.max_new_tokens = 40;
    beam.min_length = 41; /* every hypothesis runs to 40 tokens: the same work both rounds */
    greedy = beam;
    greedy.num_beams = 1;
    /* one thread, and two (the pool's workers allocate too) */
    for (int threads = 1; threads <= 2; threads++) {
        dg_batch *b = dg_batch_create(m, threads, &err);
        CHECK_MSG(b != NULL, "%s", err.msg);
        if (!b)
            continue;
        long f = warm_faults(b, src, len, &beam, &greedy);
        CHECK_MSG(f <= MAX_WARM_FAULTS, "threads %d: a warm batch faulted in %ld pages (%ld KB) "
                  "of fresh memory, at most %d expected", threads, f, f * 4, MAX_WARM_FAULTS);
        dg_batch_free(b);
    }
    for (int i = 0; i < N_SENT; i++)
        free(src[i]);
    dg_model_free(m);
    return test_summary();
}
