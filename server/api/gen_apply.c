/* dg_gen_apply: parsed generation options over a model's defaults (server/api/gen_options.c holds
 * the table and the parsing). A file of its own because it needs the engine and the tokenizer,
 * which the request parsers (and their fuzz target) do not. */
#include "server/api/gen_options.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t fresh_seed(void)
{
    static _Atomic uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t c = atomic_fetch_add(&counter, 1);
    return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (c << 48) ^
           ((uint64_t)getpid() << 32);
}

static bool has(const dg_gen_values *v, dg_gen_option o)
{
    return v && (v->set >> o & 1);
}

/* The prefix's target-side ids without the EOS the tokenizer appends. */
static int encode_prefix(const char *text, const dg_tokenizer *tok, dg_gen_spelling sp,
                         dg_search_opts *s, char *msg, size_t size)
{
    const char *name = sp == DG_GEN_CLI ? "--target-prefix" : "target_prefix";
    int *ids = NULL, n = 0;
    dg_err err;
    if (dg_tokenizer_encode(tok, DG_SIDE_TARGET, text, strlen(text), &ids, &n, &err)) {
        snprintf(msg, size, "%s: %s", name, err.msg);
        return -1;
    }
    if (n > 0 && ids[n - 1] == dg_tokenizer_eos_id(tok))
        n--;
    if (n > DG_MAX_PREFIX) {
        snprintf(msg, size, "%s has %d tokens, at most %d", name, n, DG_MAX_PREFIX);
        free(ids);
        return -1;
    }
    memcpy(s->prefix, ids, (size_t)n * sizeof *ids);
    s->n_prefix = n;
    free(ids);
    return 0;
}

int dg_gen_apply(const dg_gen_values *v, const dg_model *m, const dg_tokenizer *tok,
                 int max_positions, dg_gen_spelling sp, dg_search_opts *s, char *msg,
                 size_t size)
{
    dg_search_opts_default(s, m);
    if (has(v, DG_GEN_BEAM_SIZE))
        s->num_beams = (int)v->v[DG_GEN_BEAM_SIZE];
    if (has(v, DG_GEN_N_BEST)) {
        s->num_return_sequences = (int)v->v[DG_GEN_N_BEST];
        if (!has(v, DG_GEN_BEAM_SIZE) && s->num_beams < s->num_return_sequences)
            s->num_beams = s->num_return_sequences;  /* n-best needs that many beams */
    }
    if (has(v, DG_GEN_MAX_LENGTH) && has(v, DG_GEN_MAX_NEW_TOKENS)) {
        snprintf(msg, size, "give %s or %s, not both", dg_gen_name(DG_GEN_MAX_LENGTH, sp),
                 dg_gen_name(DG_GEN_MAX_NEW_TOKENS, sp));
        return -1;
    }
    dg_gen_option len_opt = has(v, DG_GEN_MAX_LENGTH) ? DG_GEN_MAX_LENGTH : DG_GEN_MAX_NEW_TOKENS;
    if (has(v, DG_GEN_MAX_LENGTH))
        s->max_new_tokens = (int)v->v[DG_GEN_MAX_LENGTH] - 1;
    if (has(v, DG_GEN_MAX_NEW_TOKENS))
        s->max_new_tokens = (int)v->v[DG_GEN_MAX_NEW_TOKENS];
    if (has(v, DG_GEN_MIN_LENGTH))
        s->min_length = (int)v->v[DG_GEN_MIN_LENGTH];
    /* HF applies both processors: min_new_tokens counts after the decoder start token */
    if (has(v, DG_GEN_MIN_NEW_TOKENS) && (int)v->v[DG_GEN_MIN_NEW_TOKENS] + 1 > s->min_length)
        s->min_length = (int)v->v[DG_GEN_MIN_NEW_TOKENS] + 1;
    if (has(v, DG_GEN_LENGTH_PENALTY))
        s->length_penalty = (float)v->v[DG_GEN_LENGTH_PENALTY];
    if (has(v, DG_GEN_EARLY_STOPPING))
        s->early_stopping = (int)v->v[DG_GEN_EARLY_STOPPING];
    if (has(v, DG_GEN_NO_REPEAT_NGRAM))
        s->no_repeat_ngram_size = (int)v->v[DG_GEN_NO_REPEAT_NGRAM];
    if (has(v, DG_GEN_REPETITION_PENALTY))
        s->repetition_penalty = (float)v->v[DG_GEN_REPETITION_PENALTY];
    if (has(v, DG_GEN_DO_SAMPLE))
        s->do_sample = v->v[DG_GEN_DO_SAMPLE] != 0;
    if (has(v, DG_GEN_TEMPERATURE))
        s->temperature = (float)v->v[DG_GEN_TEMPERATURE];
    if (has(v, DG_GEN_TOP_K))
        s->top_k = (int)v->v[DG_GEN_TOP_K];
    if (has(v, DG_GEN_TOP_P))
        s->top_p = (float)v->v[DG_GEN_TOP_P];
    if (has(v, DG_GEN_SEED))
        s->seed = (uint64_t)v->v[DG_GEN_SEED];
    else if (s->do_sample)
        s->seed = fresh_seed();
    if (s->do_sample && s->num_beams != 1) {
        if (has(v, DG_GEN_BEAM_SIZE) || has(v, DG_GEN_N_BEST)) {
            snprintf(msg, size, "%s needs %s 1 (beam sampling is not supported)",
                     dg_gen_name(DG_GEN_DO_SAMPLE, sp), dg_gen_name(DG_GEN_BEAM_SIZE, sp));
            return -1;
        }
        s->num_beams = 1;  /* sampling replaces the model's default beam search */
    }
    if (s->num_return_sequences > s->num_beams) {
        snprintf(msg, size, "%s (%d) cannot exceed %s (%d)", dg_gen_name(DG_GEN_N_BEST, sp),
                 s->num_return_sequences, dg_gen_name(DG_GEN_BEAM_SIZE, sp), s->num_beams);
        return -1;
    }
    if (s->num_beams > DG_MAX_BEAMS) {  /* a model default can be larger than the limit */
        snprintf(msg, size, "%s is at most %d", dg_gen_name(DG_GEN_BEAM_SIZE, sp), DG_MAX_BEAMS);
        return -1;
    }
    if ((has(v, DG_GEN_MAX_LENGTH) || has(v, DG_GEN_MAX_NEW_TOKENS)) &&
        s->max_new_tokens + 1 > max_positions) {
        snprintf(msg, size, "%s %d exceeds the model's %d positions", dg_gen_name(len_opt, sp),
                 (int)v->v[len_opt], max_positions);
        return -1;
    }
    if (v && v->target_prefix && encode_prefix(v->target_prefix, tok, sp, s, msg, size))
        return -1;
    dg_err err;
    if (dg_search_opts_check(s, m, &err)) {
        snprintf(msg, size, "%s", err.msg);
        return -1;
    }
    return 0;
}
