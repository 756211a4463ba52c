/* DESIGN: the BART family's tables (BART, mBART, M2M100/NLLB), following transformers 4.40's
 * modeling_bart.py, modeling_mbart.py and modeling_m2m_100.py, plus the layer helpers Marian
 * shares with them (same module names in every layer).
 * - embeddings: one `model.shared` [V, D] used by encoder and decoder whatever the config says
 *   (the models hand `self.shared` to both stacks); lm_head is tied to it when
 *   tie_word_embeddings (default true). Tied copies are aliases of one slot.
 * - BART, mBART: learned positions nn.Embedding(max_position_embeddings + 2, D), row =
 *   position + 2; `layernorm_embedding` after token + position embeddings; final_logits_bias
 *   [1, V], a registered buffer (optional, zeros when absent).
 * - BART is post-norm; mBART and M2M100 are pre-norm with a final `layer_norm` per stack.
 * - M2M100: sinusoidal positions computed on the fly (a non-persistent buffer, so neither
 *   stored nor counted by num_parameters), row = position + 2; no layernorm_embedding and no
 *   final_logits_bias. NLLB-200 checkpoints are M2M100 models.
 * - every LayerNorm is nn.LayerNorm(D), eps 1e-5; attention scores are scaled by dh^-0.5. */
#include <stdio.h>
#include <stdlib.h>

#include "models/arch_table.h"

#define ADD DG_PLAN_ADD

dg_code dg_plan_linear(dg_arch_plan *p, dg_linear *l, int64_t out, int64_t in, bool bias,
                       const char *pre, const char *name, dg_err *err)
{
    dg_arch_slot *slot;
    ADD(p, 2, out, in, NULL, "%s%s.weight", pre, name);
    dg_slot_raw(slot, &l->w, &l->dtype);
    if (bias)
        ADD(p, 1, out, 0, &l->b, "%s%s.bias", pre, name);
    return DG_OK;
}

dg_code dg_plan_norm(dg_arch_plan *p, dg_norm *n, int64_t d, bool bias, const char *pre,
                     const char *name, dg_err *err)
{
    dg_arch_slot *slot;
    ADD(p, 1, d, 0, &n->g, "%s%s.weight", pre, name);
    if (bias)
        ADD(p, 1, d, 0, &n->b, "%s%s.bias", pre, name);
    return DG_OK;
}

static dg_code add_attention(dg_arch_plan *p, dg_linear *q, dg_linear *k, dg_linear *v, dg_linear *o,
                             dg_norm *ln, int64_t d, const char *pre, const char *attn, dg_err *err)
{
    char name[64];
    dg_linear *lin[4] = {q, k, v, o};
    static const char *const proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    dg_code rc;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", attn, proj[i]);
        if ((rc = dg_plan_linear(p, lin[i], d, d, true, pre, name, err)))
            return rc;
    }
    snprintf(name, sizeof name, "%s_layer_norm", attn);
    return dg_plan_norm(p, ln, d, true, pre, name, err);
}

dg_code dg_plan_bart_layer(dg_arch_plan *p, dg_layer_weights *l, bool decoder, int64_t d,
                           int64_t f, const char *pre, dg_err *err)
{
    dg_code rc;
    if ((rc = add_attention(p, &l->q, &l->k, &l->v, &l->o, &l->self_attn_ln, d, pre, "self_attn", err)))
        return rc;
    if (decoder && (rc = add_attention(p, &l->cq, &l->ck, &l->cv, &l->co, &l->cross_attn_ln, d, pre,
                                       "encoder_attn", err)))
        return rc;
    if ((rc = dg_plan_linear(p, &l->fc1, f, d, true, pre, "fc1", err)) ||
        (rc = dg_plan_linear(p, &l->fc2, d, f, true, pre, "fc2", err)))
        return rc;
    return dg_plan_norm(p, &l->final_ln, d, true, pre, "final_layer_norm", err);
}

dg_code dg_plan_layers_alloc(const dg_config *c, dg_model_weights *w, dg_err *err)
{
    w->n_enc_layers = c->encoder_layers;
    w->n_dec_layers = c->decoder_layers;
    w->enc_layers = calloc((size_t)c->encoder_layers, sizeof *w->enc_layers);
    w->dec_layers = calloc((size_t)c->decoder_layers, sizeof *w->dec_layers);
    if (!w->enc_layers || !w->dec_layers)
        return dg_err_set(err, DG_E_NOMEM, "out of memory for %d + %d layers", c->encoder_layers,
                          c->decoder_layers);
    return DG_OK;
}

typedef struct {
    bool pre_norm;            /* pre-norm layers + a final layer_norm per stack */
    bool learned_positions;   /* embed_positions [P + 2, D] + layernorm_embedding (else sinusoid) */
    bool logits_bias;         /* final_logits_bias buffer */
} bart_variant;

static dg_code bart_plan(const dg_config *c, dg_model_weights *w, dg_arch_plan *p,
                         bart_variant v, dg_err *err)
{
    dg_code rc = dg_activation_parse(c->activation, &w->quirks.activation, err);
    if (rc)
        return rc;
    dg_arch_quirks *q = &w->quirks;
    q->positions = v.learned_positions ? DG_POS_LEARNED : DG_POS_SINUSOIDAL_FAIRSEQ;
    q->pos_offset = 2;
    q->scale_embedding = c->scale_embedding;
    q->scale_attention = true;
    q->normalize_before = q->final_norms = v.pre_norm;
    q->layer_norm_eps = c->layer_norm_eps;
    q->embed_norm = v.learned_positions;
    q->logits_bias = v.logits_bias;
    if ((rc = dg_plan_layers_alloc(c, w, err)))
        return rc;
    int64_t d = c->d_model, vs = c->vocab_size;
    dg_arch_slot *slot;
    ADD(p, 2, vs, d, NULL, "model.shared.weight");
    dg_slot_raw(slot, &w->enc_embed, &w->enc_embed_dtype);
    dg_slot_raw(slot, &w->dec_embed, &w->dec_embed_dtype);
    dg_slot_alias(slot, "model.encoder.embed_tokens.weight");
    dg_slot_alias(slot, "model.decoder.embed_tokens.weight");
    if (c->tie_word_embeddings) {
        dg_slot_raw(slot, &w->lm_head, &w->lm_head_dtype);
        dg_slot_alias(slot, "lm_head.weight");
    } else {
        ADD(p, 2, vs, d, NULL, "lm_head.weight");
        dg_slot_raw(slot, &w->lm_head, &w->lm_head_dtype);
    }
    if (v.logits_bias) {
        ADD(p, 2, 1, vs, &w->final_logits_bias, "final_logits_bias");
        slot->optional = slot->buffer = true;
    }
    if (v.learned_positions) {
        int64_t rows = (int64_t)c->max_position_embeddings + q->pos_offset;
        ADD(p, 2, rows, d, &w->enc_pos, "model.encoder.embed_positions.weight");
        ADD(p, 2, rows, d, &w->dec_pos, "model.decoder.embed_positions.weight");
        if ((rc = dg_plan_norm(p, &w->enc_embed_ln, d, true, "model.encoder.", "layernorm_embedding", err)) ||
            (rc = dg_plan_norm(p, &w->dec_embed_ln, d, true, "model.decoder.", "layernorm_embedding", err)))
            return rc;
    }
    if (v.pre_norm &&
        ((rc = dg_plan_norm(p, &w->enc_final_ln, d, true, "model.encoder.", "layer_norm", err)) ||
         (rc = dg_plan_norm(p, &w->dec_final_ln, d, true, "model.decoder.", "layer_norm", err))))
        return rc;
    char pre[64];
    for (int i = 0; i < c->encoder_layers; i++) {
        snprintf(pre, sizeof pre, "model.encoder.layers.%d.", i);
        if ((rc = dg_plan_bart_layer(p, &w->enc_layers[i], false, d, c->encoder_ffn_dim, pre, err)))
            return rc;
    }
    for (int i = 0; i < c->decoder_layers; i++) {
        snprintf(pre, sizeof pre, "model.decoder.layers.%d.", i);
        if ((rc = dg_plan_bart_layer(p, &w->dec_layers[i], true, d, c->decoder_ffn_dim, pre, err)))
            return rc;
    }
    return DG_OK;
}

dg_code dg_arch_bart_plan(const dg_config *c, dg_model_weights *w, dg_arch_plan *p, dg_err *err)
{
    return bart_plan(c, w, p, (bart_variant){.pre_norm = false, .learned_positions = true, .logits_bias = true}, err);
}

dg_code dg_arch_mbart_plan(const dg_config *c, dg_model_weights *w, dg_arch_plan *p, dg_err *err)
{
    return bart_plan(c, w, p, (bart_variant){.pre_norm = true, .learned_positions = true, .logits_bias = true}, err);
}

dg_code dg_arch_m2m100_plan(const dg_config *c, dg_model_weights *w, dg_arch_plan *p, dg_err *err)
{
    return bart_plan(c, w, p, (bart_variant){.pre_norm = true, .learned_positions = false, .logits_bias = false}, err);
}
