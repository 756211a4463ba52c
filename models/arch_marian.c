/* DESIGN: the Marian (OPUS-MT) table, following transformers' modeling_marian.py:
 * - embeddings: MarianModel always builds `shared` [vocab_size, D]; with
 *   share_encoder_decoder_embeddings (default) encoder and decoder both use it, otherwise each
 *   gets its own copy (the decoder's of decoder_vocab_size rows). MarianMTModel.tie_weights ties
 *   lm_head to the decoder's input embedding when tie_word_embeddings (default true), and
 *   lm_head / final_logits_bias have vocab_size rows when shared, decoder_vocab_size otherwise.
 *   Tied tensors are one slot whose aliases are all the names HF may have saved it under:
 *   safetensors keeps one name (model.shared.weight), a .bin keeps every copy.
 * - final_logits_bias is a registered buffer, [1, Vt]; HF lists it in
 *   _keys_to_ignore_on_load_missing (zeros when absent), so it is optional.
 * - positions are sinusoidal and computed (engine); HF keeps them as nn.Embedding parameters
 *   (counted by num_parameters) and .bin files may store them: stored ones are ignored.
 * - layers are post-norm whatever config.json's normalize_before says: MarianEncoderLayer and
 *   MarianDecoderLayer apply each LayerNorm after the residual add and there is no final norm;
 *   the LayerNorms are nn.LayerNorm(D), eps 1e-5. */
#include <stdio.h>
#include <stdlib.h>

#include "models/arch_table.h"

#define ADD DG_PLAN_ADD

static dg_code add_embeddings(const dg_config *c, dg_model_weights *w, dg_arch_plan *p, dg_err *err)
{
    int64_t d = c->d_model, vs = c->vocab_size, vt = c->target_vocab_size;
    bool share = c->share_encoder_decoder_embeddings, tie = c->tie_word_embeddings;
    dg_arch_slot *slot;
    if (share) {
        ADD(p, 2, vs, d, NULL, "model.shared.weight");
        dg_slot_raw(slot, &w->enc_embed, &w->enc_embed_dtype);
        dg_slot_raw(slot, &w->dec_embed, &w->dec_embed_dtype);
        dg_slot_alias(slot, "model.encoder.embed_tokens.weight");
        dg_slot_alias(slot, "model.decoder.embed_tokens.weight");
    } else {
        ADD(p, 2, vs, d, NULL, "model.encoder.embed_tokens.weight");
        dg_slot_raw(slot, &w->enc_embed, &w->enc_embed_dtype);
        ADD(p, 2, vt, d, NULL, "model.decoder.embed_tokens.weight");
        dg_slot_raw(slot, &w->dec_embed, &w->dec_embed_dtype);
    }
    if (tie) {  /* the lm_head is the decoder-embedding slot just added */
        dg_slot_raw(slot, &w->lm_head, &w->lm_head_dtype);
        dg_slot_alias(slot, "lm_head.weight");
    } else {
        ADD(p, 2, vt, d, NULL, "lm_head.weight");
        dg_slot_raw(slot, &w->lm_head, &w->lm_head_dtype);
    }
    ADD(p, 2, 1, vt, &w->final_logits_bias, "final_logits_bias");
    slot->optional = slot->buffer = true;
    return DG_OK;
}

dg_code dg_arch_marian_plan(const dg_config *c, dg_model_weights *w, dg_arch_plan *p, dg_err *err)
{
    dg_code rc = dg_activation_parse(c->activation, &w->quirks.activation, err);
    if (rc)
        return rc;
    w->quirks.positions = DG_POS_SINUSOIDAL_MARIAN;
    w->quirks.scale_embedding = c->scale_embedding;
    w->quirks.normalize_before = false;
    w->quirks.final_norms = false;
    w->quirks.layer_norm_eps = c->layer_norm_eps;
    w->quirks.scale_attention = true;
    w->quirks.logits_bias = true;
    if ((rc = dg_plan_layers_alloc(c, w, err)))
        return rc;
    /* MarianEncoder / MarianDecoder each own a [max_position_embeddings, D] sinusoid parameter */
    p->computed_params = 2ll * c->max_position_embeddings * c->d_model;
    if ((rc = add_embeddings(c, w, p, err)))
        return rc;
    char pre[64];
    for (int i = 0; i < c->encoder_layers; i++) {
        snprintf(pre, sizeof pre, "model.encoder.layers.%d.", i);
        if ((rc = dg_plan_bart_layer(p, &w->enc_layers[i], false, c->d_model, c->encoder_ffn_dim, pre, err)))
            return rc;
    }
    for (int i = 0; i < c->decoder_layers; i++) {
        snprintf(pre, sizeof pre, "model.decoder.layers.%d.", i);
        if ((rc = dg_plan_bart_layer(p, &w->dec_layers[i], true, c->d_model, c->decoder_ffn_dim, pre, err)))
            return rc;
    }
    return DG_OK;
}
