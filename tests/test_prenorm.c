/* The pre-norm path (quirks.normalize_before + final_norms, mBART wiring) against
 * tests/reference/prenorm_ref.py: encoder states and teacher-forced logits of a tiny random
 * model with random LayerNorm parameters, separate vocabularies and an untied lm_head.
 * Weights are bound by hand (no Marian checkpoint is pre-norm), then packed by dg_model_pack
 * exactly as a loaded model is. */
#include <jansson.h>
#include <stdlib.h>

#include "engine/forward.h"
#include "engine/model.h"
#include "test.h"

#ifndef DG_PRENORM_DIR
#define DG_PRENORM_DIR DG_BUILD_DIR "/prenorm-ref"
#endif

static float *blob;
static json_t *tensors;

static const float *T(const char *fmt, int i)
{
    char name[128];
    snprintf(name, sizeof name, fmt, i);
    json_t *t = json_object_get(tensors, name);
    CHECK_MSG(t != NULL, "tensor %s missing from meta.json", name);
    return t ? blob + json_integer_value(json_object_get(t, "offset")) : NULL;
}

static dg_linear LIN(const char *pre, int i, const char *name)
{
    char f[160];
    snprintf(f, sizeof f, "%s%s.weight", pre, name);
    dg_linear l = {T(f, i), NULL, DG_DTYPE_F32};
    snprintf(f, sizeof f, "%s%s.bias", pre, name);
    l.b = T(f, i);
    return l;
}

static dg_norm NORM(const char *pre, int i, const char *name)
{
    char f[160];
    snprintf(f, sizeof f, "%s%s.weight", pre, name);
    dg_norm n = {T(f, i), NULL};
    snprintf(f, sizeof f, "%s%s.bias", pre, name);
    n.b = T(f, i);
    return n;
}

int main(void)
{
    const char *dir = getenv("DG_PRENORM_DIR") ? getenv("DG_PRENORM_DIR") : DG_PRENORM_DIR;
    char path[1100];
    snprintf(path, sizeof path, "%s/prenorm/meta.json", dir);
    json_error_t je;
    json_t *meta = json_load_file(path, 0, &je);
    CHECK_MSG(meta != NULL, "%s: %s", path, je.text);
    if (!meta)
        return test_summary();
    snprintf(path, sizeof path, "%s/prenorm/weights.f32", dir);
    blob = test_read_f32(path, NULL);
    snprintf(path, sizeof path, "%s/prenorm/expected.f32", dir);
    float *expected = test_read_f32(path, NULL);
    if (!blob || !expected)
        return test_summary();
    tensors = json_object_get(meta, "tensors");

    dg_model *m = calloc(1, sizeof *m);
    dg_config *c = &m->cfg;
    c->d_model = (int)json_integer_value(json_object_get(meta, "d_model"));
    c->encoder_heads = c->decoder_heads = (int)json_integer_value(json_object_get(meta, "heads"));
    c->encoder_ffn_dim = c->decoder_ffn_dim = (int)json_integer_value(json_object_get(meta, "ffn"));
    c->encoder_layers = (int)json_integer_value(json_object_get(meta, "enc_layers"));
    c->decoder_layers = (int)json_integer_value(json_object_get(meta, "dec_layers"));
    c->vocab_size = (int)json_integer_value(json_object_get(meta, "vocab"));
    c->decoder_vocab_size = c->target_vocab_size =
        (int)json_integer_value(json_object_get(meta, "target_vocab"));
    c->max_position_embeddings = (int)json_integer_value(json_object_get(meta, "max_pos"));
    c->max_positions = c->max_position_embeddings;
    c->eos_token_id = 0;
    c->decoder_start_token_id = c->target_vocab_size - 1;
    dg_model_weights *w = &m->w;
    w->quirks = (dg_arch_quirks){.positions = DG_POS_SINUSOIDAL_MARIAN,
                                 .activation = DG_ACT_GELU,
                                 .scale_embedding = true,
                                 .scale_attention = true,
                                 .normalize_before = true,
                                 .final_norms = true,
                                 .layer_norm_eps = (float)json_real_value(json_object_get(meta, "eps"))};
    w->enc_embed = T("model.encoder.embed_tokens.weight", 0);
    w->dec_embed = T("model.decoder.embed_tokens.weight", 0);
    w->lm_head = T("lm_head.weight", 0);
    w->final_logits_bias = T("final_logits_bias", 0);
    w->n_enc_layers = c->encoder_layers;
    w->n_dec_layers = c->decoder_layers;
    w->enc_layers = calloc(c->encoder_layers, sizeof *w->enc_layers);
    w->dec_layers = calloc(c->decoder_layers, sizeof *w->dec_layers);
    for (int i = 0; i < c->encoder_layers; i++) {
        dg_layer_weights *L = &w->enc_layers[i];
        const char *pre = "model.encoder.layers.%d.";
        L->q = LIN(pre, i, "self_attn.q_proj");
        L->k = LIN(pre, i, "self_attn.k_proj");
        L->v = LIN(pre, i, "self_attn.v_proj");
        L->o = LIN(pre, i, "self_attn.out_proj");
        L->self_attn_ln = NORM(pre, i, "self_attn_layer_norm");
        L->fc1 = LIN(pre, i, "fc1");
        L->fc2 = LIN(pre, i, "fc2");
        L->final_ln = NORM(pre, i, "final_layer_norm");
    }
    for (int i = 0; i < c->decoder_layers; i++) {
        dg_layer_weights *L = &w->dec_layers[i];
        const char *pre = "model.decoder.layers.%d.";
        L->q = LIN(pre, i, "self_attn.q_proj");
        L->k = LIN(pre, i, "self_attn.k_proj");
        L->v = LIN(pre, i, "self_attn.v_proj");
        L->o = LIN(pre, i, "self_attn.out_proj");
        L->self_attn_ln = NORM(pre, i, "self_attn_layer_norm");
        L->cq = LIN(pre, i, "encoder_attn.q_proj");
        L->ck = LIN(pre, i, "encoder_attn.k_proj");
        L->cv = LIN(pre, i, "encoder_attn.v_proj");
        L->co = LIN(pre, i, "encoder_attn.out_proj");
        L->cross_attn_ln = NORM(pre, i, "encoder_attn_layer_norm");
        L->fc1 = LIN(pre, i, "fc1");
        L->fc2 = LIN(pre, i, "fc2");
        L->final_ln = NORM(pre, i, "final_layer_norm");
    }
    w->enc_final_ln = NORM("model.encoder.layer_norm", 0, "");
    w->dec_final_ln = NORM("model.decoder.layer_norm", 0, "");
    dg_err err = {0};
    CHECK_INT_EQ(dg_model_pack(m, &err), DG_OK);

    /* all cases in one packed encoder pass, then one decoder step per position for all rows */
    json_t *srcs = json_object_get(meta, "srcs"), *decs = json_object_get(meta, "decs");
    int nc = (int)json_array_size(srcs), ids[256], off[8], len[8], N = 0, D = m->D, V = m->Vt;
    void *cross[8];
    dg_kv kv[8];
    memset(kv, 0, sizeof kv);
    for (int i = 0; i < nc && i < 8; i++) {
        json_t *s = json_array_get(srcs, i);
        off[i] = N;
        len[i] = (int)json_array_size(s);
        for (int k = 0; k < len[i]; k++)
            ids[N++] = (int)json_integer_value(json_array_get(s, k));
        cross[i] = malloc(sizeof(float) * (size_t)len[i] * m->Ld * 2 * D);
    }
    dg_fwd_ws ws = {0};
    CHECK_INT_EQ(dg_encode(m, &ws, ids, off, len, nc, cross, &err), DG_OK);
    int Tn = (int)json_array_size(json_array_get(decs, 0));
    size_t eoff[8], o = 0;
    double ediff = 0, emax = 0;
    for (int i = 0; i < nc; i++) {
        for (int k = 0; k < len[i] * D; k++) {
            double r = expected[o + k], d = fabs(ws.x.p[(size_t)off[i] * D + k] - r);
            ediff = d > ediff ? d : ediff;
            emax = fabs(r) > emax ? fabs(r) : emax;
        }
        o += (size_t)len[i] * D;
        eoff[i] = o; /* this case's logits follow its encoder states */
        o += (size_t)Tn * V;
        CHECK_INT_EQ(dg_kv_reset(&kv[i], 1, m->Ld, D, m->kvtype, &err), DG_OK);
        CHECK_INT_EQ(dg_kv_reserve(&kv[i], Tn, &err), DG_OK);
    }
    float *logits = malloc(sizeof(float) * (size_t)nc * V);
    double ldiff = 0, lmax = 0;
    for (int t = 0; t < Tn; t++) {
        dg_dec_row rows[8];
        for (int i = 0; i < nc; i++) {
            dg_kv_begin_step(&kv[i], t);
            int tok = (int)json_integer_value(json_array_get(json_array_get(decs, i), t));
            rows[i] = (dg_dec_row){tok, t, 0, len[i], cross[i], &kv[i], NULL};
        }
        CHECK_INT_EQ(dg_decode_step(m, &ws, rows, nc, logits, &err), DG_OK);
        for (int i = 0; i < nc; i++)
            for (int k = 0; k < V; k++) {
                double r = expected[eoff[i] + (size_t)t * V + k];
                double d = fabs(logits[(size_t)i * V + k] - r);
                ldiff = d > ldiff ? d : ldiff;
                lmax = fabs(r) > lmax ? fabs(r) : lmax;
            }
    }
    printf("pre-norm: encoder maxdiff %.3g (max %.3g), logits maxdiff %.3g (max %.3g)\n", ediff,
           emax, ldiff, lmax);
    CHECK(emax > 0 && ediff <= 1e-4 * emax);
    CHECK(lmax > 0 && ldiff <= 1e-4 * lmax);

    for (int i = 0; i < nc; i++) {
        free(cross[i]);
        dg_kv_free(&kv[i]);
    }
    free(logits);
    dg_fwd_ws_free(&ws);
    free(w->enc_layers);
    free(w->dec_layers);
    dg_model_free(m);
    free(blob);
    free(expected);
    json_decref(meta);
    return test_summary();
}
