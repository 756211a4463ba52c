/* DESIGN: the T5 table (T5 v1.0, v1.1 / flan-t5, mT5), following transformers 4.40's
 * modeling_t5.py:
 * - one `shared` [V, D] embedding for both stacks, not scaled; lm_head is tied to it when
 *   tie_word_embeddings (v1.0: then the decoder output is scaled by D^-0.5 before the head),
 *   separate otherwise (v1.1).
 * - every block is pre-norm with T5LayerNorm = RMSNorm (weight only), and each stack ends in a
 *   final_layer_norm; no linear has a bias; attention is q/k/v [H*d_kv, D], o [D, H*d_kv],
 *   with no 1/sqrt(d_kv) scaling.
 * - positions: only the first block of each stack has relative_attention_bias [buckets, H];
 *   the bias it yields is reused by every block of that stack (bidirectional buckets in the
 *   encoder, causal in the decoder). The cross-attention has none.
 * - FFN: DenseReluDense wi/wo, or (gated) DenseGatedActDense wo(act(wi_0 x) * wi_1 x). */
#include <stdio.h>

#include "models/arch_table.h"

#define ADD DG_PLAN_ADD

static dg_code add_attention(dg_arch_plan *p, dg_linear *q, dg_linear *k, dg_linear *v, dg_linear *o,
                             int64_t d, int64_t a, const char *pre, dg_err *err)
{
    dg_code rc;
    if ((rc = dg_plan_linear(p, q, a, d, false, pre, "q", err)) ||
        (rc = dg_plan_linear(p, k, a, d, false, pre, "k", err)) ||
        (rc = dg_plan_linear(p, v, a, d, false, pre, "v", err)))
        return rc;
    return dg_plan_linear(p, o, d, a, false, pre, "o", err);
}

static dg_code add_block(const dg_config *c, dg_arch_plan *p, dg_layer_weights *l, bool decoder,
                         const char *stack, int i, dg_err *err)
{
    int64_t d = c->d_model, a = (int64_t)c->encoder_heads * c->d_kv, f = c->encoder_ffn_dim;
    char pre[96];
    dg_code rc;
    snprintf(pre, sizeof pre, "%s.block.%d.layer.0.SelfAttention.", stack, i);
    if ((rc = add_attention(p, &l->q, &l->k, &l->v, &l->o, d, a, pre, err)))
        return rc;
    snprintf(pre, sizeof pre, "%s.block.%d.layer.0.", stack, i);
    if ((rc = dg_plan_norm(p, &l->self_attn_ln, d, false, pre, "layer_norm", err)))
        return rc;
    int ffn = 1;
    if (decoder) {
        snprintf(pre, sizeof pre, "%s.block.%d.layer.1.EncDecAttention.", stack, i);
        if ((rc = add_attention(p, &l->cq, &l->ck, &l->cv, &l->co, d, a, pre, err)))
            return rc;
        snprintf(pre, sizeof pre, "%s.block.%d.layer.1.", stack, i);
        if ((rc = dg_plan_norm(p, &l->cross_attn_ln, d, false, pre, "layer_norm", err)))
            return rc;
        ffn = 2;
    }
    snprintf(pre, sizeof pre, "%s.block.%d.layer.%d.DenseReluDense.", stack, i, ffn);
    if (c->gated_ffn) {
        if ((rc = dg_plan_linear(p, &l->fc1, f, d, false, pre, "wi_0", err)) ||
            (rc = dg_plan_linear(p, &l->fc1_noact, f, d, false, pre, "wi_1", err)))
            return rc;
    } else if ((rc = dg_plan_linear(p, &l->fc1, f, d, false, pre, "wi", err))) {
        return rc;
    }
    if ((rc = dg_plan_linear(p, &l->fc2, d, f, false, pre, "wo", err)))
        return rc;
    snprintf(pre, sizeof pre, "%s.block.%d.layer.%d.", stack, i, ffn);
    return dg_plan_norm(p, &l->final_ln, d, false, pre, "layer_norm", err);
}

dg_code dg_arch_t5_plan(const dg_config *c, dg_model_weights *w, dg_arch_plan *p, dg_err *err)
{
    dg_code rc = dg_activation_parse(c->activation, &w->quirks.activation, err);
    if (rc)
        return rc;
    dg_arch_quirks *q = &w->quirks;
    q->positions = DG_POS_RELATIVE;
    q->scale_embedding = false;
    q->scale_attention = false;
    q->normalize_before = q->final_norms = true;
    q->scale_lm_input = c->tie_word_embeddings;
    q->layer_norm_eps = c->layer_norm_eps;
    q->rms_norm = true;
    q->gated_ffn = c->gated_ffn;
    if ((rc = dg_plan_layers_alloc(c, w, err)))
        return rc;
    int64_t d = c->d_model, v = c->vocab_size, h = c->encoder_heads;
    dg_arch_slot *slot;
    ADD(p, 2, v, d, NULL, "shared.weight");
    dg_slot_raw(slot, &w->enc_embed, &w->enc_embed_dtype);
    dg_slot_raw(slot, &w->dec_embed, &w->dec_embed_dtype);
    dg_slot_alias(slot, "encoder.embed_tokens.weight");
    dg_slot_alias(slot, "decoder.embed_tokens.weight");
    if (c->tie_word_embeddings) {
        dg_slot_raw(slot, &w->lm_head, &w->lm_head_dtype);
        dg_slot_alias(slot, "lm_head.weight");
    } else {
        ADD(p, 2, v, d, NULL, "lm_head.weight");
        dg_slot_raw(slot, &w->lm_head, &w->lm_head_dtype);
    }
    ADD(p, 2, c->rel_buckets, h, &w->enc_rel_bias,
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    ADD(p, 2, c->rel_buckets, h, &w->dec_rel_bias,
        "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    if ((rc = dg_plan_norm(p, &w->enc_final_ln, d, false, "encoder.", "final_layer_norm", err)) ||
        (rc = dg_plan_norm(p, &w->dec_final_ln, d, false, "decoder.", "final_layer_norm", err)))
        return rc;
    for (int i = 0; i < c->encoder_layers; i++)
        if ((rc = add_block(c, p, &w->enc_layers[i], false, "encoder", i, err)))
            return rc;
    for (int i = 0; i < c->decoder_layers; i++)
        if ((rc = add_block(c, p, &w->dec_layers[i], true, "decoder", i, err)))
            return rc;
    return DG_OK;
}
