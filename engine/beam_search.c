/* Beam search with HF BeamSearchScorer semantics (transformers 4.40), for one sentence.
 *
 * DESIGN. Per step (rules of /work/shared/HF-SEMANTICS.md): lp = log_softmax(logits), the
 * processors act on lp, candidates are lp + beam score; the 2*nb best over beams x vocab are
 * walked in order: an EOS within the first nb ranks becomes a finished hypothesis, other tokens
 * fill the nb running beams. The global top 2nb is the top 2nb of the union of each beam's own
 * top 2nb, so each row is scanned once by dg_k_topk and only nb*2nb values are merged.
 * Hypotheses are kept in HF's list order because ties are broken by that order (deleting the
 * worst removes the earliest among equals; the final sort is stable and pops from the end).
 * Scores of finished hypotheses are doubles, as HF computes them in Python floats. At step 0
 * every beam holds the same start token, so the decoder ran one row: all beams read it. */
#include <math.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/search.h"

/* Beam b's alignment rows so far, and the row of its current step (the decoder ran one row for
 * all beams at step 0). */
static const float *beam_align(const dg_sent *s, int b)
{
    return s->al + (size_t)b * s->seq_cap * s->S;
}

static const float *step_align(const dg_sent *s, int b)
{
    return s->al_step + (size_t)(dg_search_rows(s) == 1 ? 0 : b) * s->S;
}

/* Adds beam b's tokens (n_prefix of them, then eos when >= 0) as a finished hypothesis. */
static void hyp_add(dg_sent *s, int b, int n_prefix, int eos, float sum_logprobs,
                    int generated_len)
{
    double score = sum_logprobs / pow((double)generated_len, (double)s->o.length_penalty);
    if (s->n_hyps >= s->nb && !(score > s->worst))
        return;
    dg_hyp *h = &s->hyps[s->n_hyps++];
    memcpy(h->ids, s->seq + (size_t)b * s->seq_cap + 1, (size_t)n_prefix * sizeof(int));
    h->len = n_prefix;
    if (s->o.return_alignment) {
        size_t S = (size_t)s->S;
        memcpy(h->align, beam_align(s, b), (size_t)n_prefix * S * sizeof(float));
        if (eos >= 0)
            memcpy(h->align + (size_t)n_prefix * S, step_align(s, b), S * sizeof(float));
    }
    if (eos >= 0)
        h->ids[h->len++] = eos;
    h->score = score;
    if (s->n_hyps <= s->nb) {
        s->worst = score < s->worst ? score : s->worst;
        return;
    }
    /* over capacity: drop the worst (the earliest among equals), worst = the next one */
    int w = 0;
    for (int i = 1; i < s->n_hyps; i++)
        if (s->hyps[i].score < s->hyps[w].score)
            w = i;
    dg_hyp dropped = s->hyps[w];
    memmove(&s->hyps[w], &s->hyps[w + 1], (size_t)(s->n_hyps - w - 1) * sizeof *s->hyps);
    s->hyps[--s->n_hyps] = dropped; /* keep its ids buffer for reuse */
    s->worst = s->hyps[0].score;
    for (int i = 1; i < s->n_hyps; i++)
        s->worst = s->hyps[i].score < s->worst ? s->hyps[i].score : s->worst;
}

static int is_done(const dg_sent *s, float best_sum_logprobs, int generated_len)
{
    if (s->n_hyps < s->nb)
        return 0;
    if (s->o.early_stopping == 1)
        return 1;
    double lp = s->o.length_penalty, len = generated_len;
    /* "never" with a positive penalty: the best score any longer hypothesis could reach */
    if (s->o.early_stopping == 2 && lp > 0.0)
        len = s->o.max_new_tokens;
    return s->worst >= best_sum_logprobs / pow(len, lp);
}

/* sorts candidates descending by value, ties by lower flat index (insertion sort: n = 2nb^2) */
static void sort_cands(float *val, int *idx, int n)
{
    for (int i = 1; i < n; i++) {
        float v = val[i];
        int x = idx[i], j = i;
        while (j > 0 && (val[j - 1] < v || (val[j - 1] == v && idx[j - 1] > x))) {
            val[j] = val[j - 1];
            idx[j] = idx[j - 1];
            j--;
        }
        val[j] = v;
        idx[j] = x;
    }
}

static dg_code finalize(dg_sent *s, dg_err *err)
{
    if (!s->done)
        for (int b = 0; b < s->nb; b++)
            hyp_add(s, b, s->t, -1, s->beam_score[b], s->t);
    int n = s->o.num_return_sequences;
    int *ids[n], len[n];
    float *align[n];
    double score[n];
    /* Python's stable sort by score then pop(): the best, the latest added among equals */
    unsigned char taken[s->n_hyps];
    memset(taken, 0, sizeof taken);
    for (int k = 0; k < n; k++) {
        int best = -1;
        for (int i = 0; i < s->n_hyps; i++)
            if (!taken[i] && (best < 0 || s->hyps[i].score >= s->hyps[best].score))
                best = i;
        taken[best] = 1;
        ids[k] = s->hyps[best].ids;
        align[k] = s->hyps[best].align;
        len[k] = s->hyps[best].len;
        score[k] = s->hyps[best].score;
    }
    if (dg_result_make(&s->res, n, ids, len, score, s->o.return_alignment ? align : NULL, s->S,
                       err))
        return err ? err->code : DG_E_NOMEM;
    s->state = DG_SENT_DONE;
    return DG_OK;
}

dg_code dg_beam_step(dg_sent *s, float *logits, int V, const dg_config *cfg,
                     dg_logits_scratch *sc, dg_err *err)
{
    int nb = s->nb, k2 = 2 * nb, rows = dg_search_rows(s), eos = cfg->eos_token_id;
    int t = s->t, cur_len = t + 1;
    /* when the processors only mask, the log-probs are not written: the top-k reads the raw
     * logits shifted by their max and log-sum-exp, what dg_k_log_softmax would have written */
    int lazy = dg_logits_masks_only(cur_len, &s->o);
    float mx[rows], lse[rows];
    for (int r = 0; r < rows; r++) {
        float *row = logits + (size_t)r * V;
        if (lazy)
            lse[r] = dg_k_lse(row, V, &mx[r]);
        else
            dg_k_log_softmax(row, V);
        dg_logits_process(row, V, s->seq + (size_t)r * s->seq_cap, cur_len, &s->o, cfg, sc);
    }
    int n = 0;
    for (int b = 0; b < nb; b++) {
        int r = rows == 1 ? 0 : b;
        const float *row = logits + (size_t)r * V;
        int m = lazy ? dg_k_topk_lp(row, V, mx[r], lse[r], s->beam_score[b], k2, s->cand_val + n,
                                    s->cand_idx + n)
                     : dg_k_topk(row, V, s->beam_score[b], k2, s->cand_val + n, s->cand_idx + n);
        for (int i = 0; i < m; i++)
            s->cand_idx[n + i] += b * V;
        n += m;
    }
    sort_cands(s->cand_val, s->cand_idx, n);
    n = n < k2 ? n : k2;

    int j = 0;
    for (int rank = 0; rank < n && j < nb; rank++) {
        int b = s->cand_idx[rank] / V, tok = s->cand_idx[rank] % V;
        if (tok == eos) {
            if (rank < nb)
                hyp_add(s, b, t, eos, s->cand_val[rank], t + 1);
            continue;
        }
        s->parent[j] = b;
        s->next_tok[j] = tok;
        s->beam_score[j] = s->cand_val[rank];
        j++;
    }
    if (j < nb)
        return dg_err_set(err, DG_E_INTERNAL, "beam search: only %d of %d beams could continue "
                          "(too few finite candidates)", j, nb);
    s->done = is_done(s, s->cand_val[0], t + 1);

    for (int b = 0; b < nb; b++) {
        int *dst = s->seq_tmp + (size_t)b * s->seq_cap;
        memcpy(dst, s->seq + (size_t)s->parent[b] * s->seq_cap, (size_t)cur_len * sizeof(int));
        dst[cur_len] = s->next_tok[b];
    }
    int *swap = s->seq;
    s->seq = s->seq_tmp;
    s->seq_tmp = swap;
    if (s->o.return_alignment) {
        size_t S = (size_t)s->S, per = (size_t)s->seq_cap * S;
        for (int b = 0; b < nb; b++) {
            float *dst = s->al_tmp + (size_t)b * per;
            memcpy(dst, beam_align(s, s->parent[b]), (size_t)t * S * sizeof(float));
            memcpy(dst + (size_t)t * S, step_align(s, s->parent[b]), S * sizeof(float));
        }
        float *fswap = s->al;
        s->al = s->al_tmp;
        s->al_tmp = fswap;
    }
    dg_kv_reorder(&s->kv, t, s->parent);
    s->t++;
    if (s->done || s->t >= s->o.max_new_tokens)
        return finalize(s, err);
    return DG_OK;
}
