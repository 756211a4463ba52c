/* Sentence search state: allocation, reuse and results (the steps are in greedy.c and
 * beam_search.c).
 *
 * DESIGN. A dg_sent is recycled by its batch: buffers sized for one sentence are kept when the
 * next one fits, so steady-state decoding allocates nothing but the returned results. */
#include <stdlib.h>
#include <string.h>

#include "engine/search.h"

static int grow_int(int **p, size_t n)
{
    int *q = realloc(*p, n * sizeof **p);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

dg_code dg_search_reset(dg_sent *s, const dg_config *cfg, int Ld, int D, dg_kvtype kvt,
                        dg_err *err)
{
    int nb = s->o.num_beams, cap = s->o.max_new_tokens + 1;
    /* the cache for the whole output up front (up to DG_KV_RESERVE positions), so it is not
     * grown and copied mid-sentence; pages are only taken as the steps write them */
    if (dg_kv_reset(&s->kv, nb, Ld, D, kvt, err) ||
        dg_kv_reserve(&s->kv, cap < DG_KV_RESERVE ? cap : DG_KV_RESERVE, err))
        return err ? err->code : DG_E_NOMEM;
    if (nb != s->nb || cap > s->seq_cap) {
        int c2 = 2 * nb * nb;
        float *bs = realloc(s->beam_score, (size_t)nb * sizeof *bs);
        if (bs)
            s->beam_score = bs;
        float *cv = bs ? realloc(s->cand_val, (size_t)c2 * sizeof *cv) : NULL;
        if (cv)
            s->cand_val = cv;
        if (!bs || !cv || grow_int(&s->cand_idx, c2) || grow_int(&s->parent, nb) ||
            grow_int(&s->next_tok, nb) || grow_int(&s->seq, (size_t)nb * cap) ||
            grow_int(&s->seq_tmp, (size_t)nb * cap))
            return dg_err_set(err, DG_E_NOMEM, "search: out of memory");
        s->nb = nb;
        s->seq_cap = cap;
    }
    if (nb + 1 > s->hyps_cap || cap > s->hyp_ids_cap) {
        for (int i = 0; i < s->hyps_cap; i++) {
            free(s->hyps[i].ids);
            free(s->hyps[i].align);
        }
        free(s->hyps);
        s->hyps_cap = s->hyp_ids_cap = 0;
        s->hyp_al_cap = 0;
        if (!(s->hyps = calloc((size_t)nb + 1, sizeof *s->hyps)))
            return dg_err_set(err, DG_E_NOMEM, "search: out of memory");
        s->hyps_cap = nb + 1;
        for (int i = 0; i < s->hyps_cap; i++)
            if (!(s->hyps[i].ids = malloc((size_t)cap * sizeof(int))))
                return dg_err_set(err, DG_E_NOMEM, "search: out of memory");
        s->hyp_ids_cap = cap;
    }
    if (s->o.return_alignment) {
        size_t per = (size_t)s->seq_cap * s->S, all = per * (size_t)nb, step = (size_t)nb * s->S;
        if (all > s->al_cap) {
            float *a = realloc(s->al, all * sizeof *a);
            if (a)
                s->al = a;
            float *b = a ? realloc(s->al_tmp, all * sizeof *b) : NULL;
            if (!b)
                return dg_err_set(err, DG_E_NOMEM, "search: out of memory for alignments");
            s->al_tmp = b;
            s->al_cap = all;
        }
        if (step > s->al_step_cap) {
            float *c = realloc(s->al_step, step * sizeof *c);
            if (!c)
                return dg_err_set(err, DG_E_NOMEM, "search: out of memory for alignments");
            s->al_step = c;
            s->al_step_cap = step;
        }
        if (per > s->hyp_al_cap) {
            for (int i = 0; i < s->hyps_cap; i++) {
                float *h = realloc(s->hyps[i].align, per * sizeof *h);
                if (!h)
                    return dg_err_set(err, DG_E_NOMEM, "search: out of memory for alignments");
                s->hyps[i].align = h;
            }
            s->hyp_al_cap = per;
        }
    }
    s->t = 0;
    s->n_hyps = 0;
    s->worst = 1e9;
    s->done = 0;
    s->sum = 0;
    s->rng = s->o.seed;
    for (int b = 0; b < nb; b++) {
        s->seq[(size_t)b * s->seq_cap] = cfg->decoder_start_token_id;
        /* HF starts beams at [0, -1e9, ...] so that only the first expands in step one */
        s->beam_score[b] = b == 0 ? 0.0f : -1e9f;
    }
    memset(&s->res, 0, sizeof s->res);
    return DG_OK;
}

void dg_search_free(dg_sent *s)
{
    dg_kv_free(&s->kv);
    for (int i = 0; i < s->hyps_cap; i++) {
        free(s->hyps[i].ids);
        free(s->hyps[i].align);
    }
    free(s->al);
    free(s->al_tmp);
    free(s->al_step);
    free(s->hyps);
    free(s->seq);
    free(s->seq_tmp);
    free(s->beam_score);
    free(s->cand_val);
    free(s->cand_idx);
    free(s->parent);
    free(s->next_tok);
    free(s->src);
    free(s->cross_kv);
    dg_result_free(&s->res);
    memset(s, 0, sizeof *s);
}

dg_code dg_result_make(dg_result *res, int n, int *const *ids, const int *len,
                       const double *scores, float *const *align, int S, dg_err *err)
{
    memset(res, 0, sizeof *res);
    res->ids = calloc((size_t)n, sizeof *res->ids);
    res->len = malloc((size_t)n * sizeof *res->len);
    res->scores = malloc((size_t)n * sizeof *res->scores);
    if (!res->ids || !res->len || !res->scores)
        goto nomem;
    if (align && !(res->align = calloc((size_t)n, sizeof *res->align)))
        goto nomem;
    res->src_len = align ? S : 0;
    res->n = n;
    for (int i = 0; i < n; i++) {
        res->ids[i] = malloc((size_t)(len[i] ? len[i] : 1) * sizeof(int));
        if (!res->ids[i])
            goto nomem;
        memcpy(res->ids[i], ids[i], (size_t)len[i] * sizeof(int));
        res->len[i] = len[i];
        res->scores[i] = (float)scores[i];
        if (align) {
            size_t k = (size_t)len[i] * S;
            if (!(res->align[i] = malloc((k ? k : 1) * sizeof(float))))
                goto nomem;
            memcpy(res->align[i], align[i], k * sizeof(float));
        }
    }
    return DG_OK;
nomem:
    res->n = n;
    dg_result_free(res);
    return dg_err_set(err, DG_E_NOMEM, "search: out of memory for results");
}

dg_code dg_result_copy(dg_result *dst, const dg_result *src, dg_err *err)
{
    memset(dst, 0, sizeof *dst);
    if (src->n < 1)
        return DG_OK;
    double *sc = malloc((size_t)src->n * sizeof *sc);
    if (!sc)
        return dg_err_set(err, DG_E_NOMEM, "search: out of memory for results");
    for (int k = 0; k < src->n; k++)
        sc[k] = src->scores[k];
    dg_code rc = dg_result_make(dst, src->n, src->ids, src->len, sc, src->align, src->src_len, err);
    free(sc);
    return rc;
}

void dg_result_free(dg_result *r)
{
    if (!r)
        return;
    for (int i = 0; r->ids && i < r->n; i++)
        free(r->ids[i]);
    for (int i = 0; r->align && i < r->n; i++)
        free(r->align[i]);
    free(r->align);
    free(r->ids);
    free(r->len);
    free(r->scores);
    memset(r, 0, sizeof *r);
}
