/* Generation options: defaults from the model's generation config, and their validation.
 *
 * DESIGN. dg_search_opts mirrors the generate() keywords Dragoman supports; defaults follow
 * GenerationConfig (dg_config already merged generation_config.json over config.json). Every
 * out-of-range value is rejected with a message naming the HF option, since options arrive from
 * HTTP clients. */
#include <math.h>

#include "engine/model.h"

void dg_search_opts_default(dg_search_opts *o, const dg_model *m)
{
    const dg_config *c = &m->cfg;
    o->num_beams = c->num_beams;
    o->num_return_sequences = c->num_return_sequences;
    o->max_new_tokens = c->max_new_tokens >= 0 ? c->max_new_tokens : c->max_length - 1;
    o->min_length = c->min_length;
    o->length_penalty = c->length_penalty;
    o->early_stopping = c->early_stopping;
    o->no_repeat_ngram_size = c->no_repeat_ngram_size;
    o->repetition_penalty = c->repetition_penalty;
    o->forced_bos_token_id = c->forced_bos_token_id;
    o->forced_eos_token_id = c->forced_eos_token_id;
    o->renormalize_logits = c->renormalize_logits;
    /* HF GenerationConfig's defaults; dg_config does not read sampling settings */
    o->do_sample = 0;
    o->temperature = 1.0f;
    o->top_k = 50;
    o->top_p = 1.0f;
    o->seed = 0;
    o->n_prefix = 0;
    o->return_alignment = 0;
    o->alignment_layer = -1;
}

/* The penultimate layer by default: in 6-layer transformers its cross-attention matches word
 * alignments best (Garg et al. 2019, "Jointly Learning to Align and Translate"), while the
 * last layer attends more to the next word to predict than to the one translated. */
int dg_align_layer(const dg_search_opts *o, const dg_model *m)
{
    if (o->alignment_layer >= 0)
        return o->alignment_layer;
    return m->Ld >= 2 ? m->Ld - 2 : m->Ld - 1;
}

dg_code dg_search_opts_check(const dg_search_opts *o, const dg_model *m, dg_err *err)
{
    int Vt = m->Vt;
    if (o->num_beams < 1 || o->num_beams > DG_MAX_BEAMS)
        return dg_err_set(err, DG_E_INPUT, "num_beams %d outside [1, %d]", o->num_beams,
                          DG_MAX_BEAMS);
    if (o->num_return_sequences < 1 || o->num_return_sequences > o->num_beams)
        return dg_err_set(err, DG_E_INPUT, "num_return_sequences %d outside [1, num_beams = %d]",
                          o->num_return_sequences, o->num_beams);
    if (o->max_new_tokens < 1)
        return dg_err_set(err, DG_E_INPUT, "max_new_tokens %d must be at least 1",
                          o->max_new_tokens);
    if (o->min_length < 0)
        return dg_err_set(err, DG_E_INPUT, "min_length %d is negative", o->min_length);
    if (!isfinite(o->length_penalty))
        return dg_err_set(err, DG_E_INPUT, "length_penalty is not finite");
    if (o->early_stopping < 0 || o->early_stopping > 2)
        return dg_err_set(err, DG_E_INPUT, "early_stopping %d is not false (0), true (1) or "
                          "\"never\" (2)", o->early_stopping);
    if (o->no_repeat_ngram_size < 0)
        return dg_err_set(err, DG_E_INPUT, "no_repeat_ngram_size %d is negative",
                          o->no_repeat_ngram_size);
    if (!(o->repetition_penalty > 0.0f) || !isfinite(o->repetition_penalty))
        return dg_err_set(err, DG_E_INPUT, "repetition_penalty must be a positive number");
    if (o->forced_bos_token_id < -1 || o->forced_bos_token_id >= Vt)
        return dg_err_set(err, DG_E_INPUT, "forced_bos_token_id %d outside the vocabulary (%d)",
                          o->forced_bos_token_id, Vt);
    if (o->forced_eos_token_id < -1 || o->forced_eos_token_id >= Vt)
        return dg_err_set(err, DG_E_INPUT, "forced_eos_token_id %d outside the vocabulary (%d)",
                          o->forced_eos_token_id, Vt);
    if (o->n_prefix < 0 || o->n_prefix > DG_MAX_PREFIX)
        return dg_err_set(err, DG_E_INPUT, "the target prefix has %d tokens, at most %d",
                          o->n_prefix, DG_MAX_PREFIX);
    for (int i = 0; i < o->n_prefix; i++)
        if (o->prefix[i] < 0 || o->prefix[i] >= Vt)
            return dg_err_set(err, DG_E_INPUT, "target prefix token %d outside the vocabulary (%d)",
                              o->prefix[i], Vt);
    /* the prefix (and a forced BOS before it) must leave room for at least one more token */
    if (o->n_prefix + (o->forced_bos_token_id >= 0) >= o->max_new_tokens)
        return dg_err_set(err, DG_E_INPUT, "the target prefix (%d tokens) leaves no room under "
                          "max_new_tokens %d", o->n_prefix, o->max_new_tokens);
    if (o->do_sample && o->num_beams != 1)
        return dg_err_set(err, DG_E_INPUT, "do_sample needs num_beams 1 (beam sampling is not "
                          "supported)");
    if (!(o->temperature > 0.0f) || !isfinite(o->temperature))
        return dg_err_set(err, DG_E_INPUT, "temperature must be a positive number");
    if (o->top_k < 0)
        return dg_err_set(err, DG_E_INPUT, "top_k %d is negative", o->top_k);
    if (!(o->top_p > 0.0f && o->top_p <= 1.0f))
        return dg_err_set(err, DG_E_INPUT, "top_p must be in (0, 1]");
    if (o->alignment_layer < -1 || o->alignment_layer >= m->Ld)
        return dg_err_set(err, DG_E_INPUT, "alignment_layer %d outside [-1, %d) (decoder layers)",
                          o->alignment_layer, m->Ld);
    return DG_OK;
}
