/* Greedy search (HF `_greedy_search`): the next token is the argmax of the processed raw logits;
 * a sentence stops at EOS or after max_new_tokens tokens. With do_sample it is HF's `_sample`:
 * the token is drawn from the warped logits instead (engine/sample.c); everything else is the
 * same, the score included (log-softmax of the processed, unwarped logits).
 *
 * DESIGN. HF returns no score for greedy search. Dragoman's score is the one
 * tests/reference/marian_ref.py defines: the sum over generated tokens of
 * log_softmax(processed logits)[token] (what compute_transition_scores(normalize_logits=True)
 * gives), divided by generated_len ** length_penalty, EOS included; a forced token adds 0.
 * With one beam the cache ancestry is the identity, so there is nothing to reorder. */
#include <math.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/search.h"

dg_code dg_greedy_step(dg_sent *s, float *logits, int V, const dg_config *cfg,
                       dg_logits_scratch *sc, dg_err *err)
{
    int *seq = s->seq;
    int cur_len = s->t + 1;
    dg_logits_process(logits, V, seq, cur_len, &s->o, cfg, sc);
    int tok = s->o.do_sample ? dg_sample_token(logits, V, &s->o, &s->rng, sc)
                             : dg_k_argmax(logits, V);
    /* the chosen token's log-prob, as dg_k_log_softmax would write it (not the whole row) */
    float mx, lse = dg_k_lse(logits, V, &mx);
    s->sum += mx == -INFINITY ? logits[tok] : (logits[tok] - mx) - lse;
    seq[cur_len] = tok;
    if (s->o.return_alignment)
        memcpy(s->al + (size_t)s->t * s->S, s->al_step, (size_t)s->S * sizeof(float));
    s->t++;
    if (tok != cfg->eos_token_id && s->t < s->o.max_new_tokens)
        return DG_OK;
    int *ids = seq + 1, len = s->t;
    double score = s->sum / pow((double)len, (double)s->o.length_penalty);
    if (dg_result_make(&s->res, 1, &ids, &len, &score, s->o.return_alignment ? &s->al : NULL,
                       s->S, err))
        return err ? err->code : DG_E_NOMEM;
    s->state = DG_SENT_DONE;
    return DG_OK;
}
