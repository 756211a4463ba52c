/* Hugging Face logits processors (transformers 4.40 `_get_logits_processor` order):
 * RepetitionPenalty, NoRepeatNGram, NoBadWords, MinLength, ForcedBOS, ForcedEOS, then
 * LogitNormalization (renormalize_logits) last; Dragoman's target prefix is forced right after
 * ForcedBOS.
 *
 * DESIGN. They act in place on one row: raw logits under greedy search, log-probs under beam
 * search (HF applies the same processors to both). cur_len is HF's input_ids length, i.e. it
 * counts the decoder start token. Rows are independent, so the search calls this per row. */
#include <math.h>
#include <stdlib.h>

#include "engine/kernels.h"
#include "engine/search.h"

dg_code dg_logits_scratch_init(dg_logits_scratch *sc, int V, dg_err *err)
{
    if (sc->V == V)
        return DG_OK;
    dg_logits_scratch_free(sc);
    sc->stamp = calloc((size_t)V, sizeof *sc->stamp);
    sc->order = malloc((size_t)V * sizeof *sc->order);
    sc->prob = malloc((size_t)V * sizeof *sc->prob);
    sc->gen = 0;
    if (!sc->stamp || !sc->order || !sc->prob) {
        dg_logits_scratch_free(sc);
        return dg_err_set(err, DG_E_NOMEM, "logits: out of memory");
    }
    sc->V = V;
    return DG_OK;
}

void dg_logits_scratch_free(dg_logits_scratch *sc)
{
    free(sc->stamp);
    free(sc->order);
    free(sc->prob);
    sc->stamp = NULL;
    sc->order = NULL;
    sc->prob = NULL;
    sc->V = 0;
}

/* HF gathers the scores of input_ids, penalises them and scatters them back, so a token that
 * occurs several times is penalised once: the stamp marks tokens already done for this row. */
static void repetition_penalty(float *x, const int *seq, int n, float p, dg_logits_scratch *sc)
{
    if (++sc->gen == 0) {
        for (int i = 0; i < sc->V; i++)
            sc->stamp[i] = 0;
        sc->gen = 1;
    }
    for (int i = 0; i < n; i++) {
        int tok = seq[i];
        if (sc->stamp[tok] == sc->gen)
            continue;
        sc->stamp[tok] = sc->gen;
        x[tok] = x[tok] < 0 ? x[tok] * p : x[tok] / p;
    }
}

/* Bans every token that followed an earlier occurrence of the last n-1 tokens. */
static void no_repeat_ngram(float *x, const int *seq, int cur_len, int n)
{
    if (cur_len + 1 < n)
        return;
    const int *prefix = seq + cur_len + 1 - n;
    for (int j = 0; j + n <= cur_len; j++) {
        int k = 0;
        while (k < n - 1 && seq[j + k] == prefix[k])
            k++;
        if (k == n - 1)
            x[seq[j + n - 1]] = -INFINITY;
    }
}

static void force(float *x, int V, int tok)
{
    for (int i = 0; i < V; i++)
        x[i] = -INFINITY;
    x[tok] = 0.0f;
}

void dg_logits_process(float *x, int V, const int *seq, int cur_len, const dg_search_opts *o,
                       const dg_config *cfg, dg_logits_scratch *sc)
{
    int eos = cfg->eos_token_id;
    if (o->repetition_penalty != 1.0f)
        repetition_penalty(x, seq, cur_len, o->repetition_penalty, sc);
    if (o->no_repeat_ngram_size > 0)
        no_repeat_ngram(x, seq, cur_len, o->no_repeat_ngram_size);
    /* NoBadWordsLogitsProcessor drops a bad word equal to [eos] */
    for (int i = 0; i < cfg->n_bad_words; i++)
        if (cfg->bad_words_ids[i] != eos && cfg->bad_words_ids[i] >= 0 && cfg->bad_words_ids[i] < V)
            x[cfg->bad_words_ids[i]] = -INFINITY;
    if (cur_len < o->min_length)
        x[eos] = -INFINITY;
    if (o->forced_bos_token_id >= 0 && cur_len == 1)
        force(x, V, o->forced_bos_token_id);
    /* the target prefix follows the forced BOS, if any; like ForcedBOS it adds 0 to scores */
    int at = cur_len - 1 - (o->forced_bos_token_id >= 0);
    if (at >= 0 && at < o->n_prefix)
        force(x, V, o->prefix[at]);
    /* max_length = 1 + max_new_tokens: the last allowed token is forced */
    if (o->forced_eos_token_id >= 0 && cur_len == o->max_new_tokens)
        force(x, V, o->forced_eos_token_id);
    if (o->renormalize_logits)
        dg_k_log_softmax(x, V);
}

bool dg_logits_masks_only(int cur_len, const dg_search_opts *o)
{
    int at = cur_len - 1 - (o->forced_bos_token_id >= 0);
    return o->repetition_penalty == 1.0f && !(o->forced_bos_token_id >= 0 && cur_len == 1) &&
           !(at >= 0 && at < o->n_prefix) &&
           !(o->forced_eos_token_id >= 0 && cur_len == o->max_new_tokens) &&
           !o->renormalize_logits;
}
