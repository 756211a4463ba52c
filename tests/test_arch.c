/* Architecture binding against tiny random Marian checkpoints written by PyTorch
 * (tests/fixtures/make_checkpoints.py): every engine field must hold the tensor of its Hugging
 * Face name (compared by per-tensor sums computed by torch), tied/shared embeddings must follow
 * transformers' rules (one tensor for shared+tied, separate encoder/decoder tables and lm_head
 * otherwise), the parameter count must equal MarianMTModel.num_parameters(), and missing or
 * mis-shaped tensors, unknown model types and activations must be named in the error. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/arch.h"
#include "test.h"

#define FX DG_BUILD_DIR "/fixtures/models/marian/"

static json_t *sums;

static double sum(const float *p, long n)
{
    double s = 0;
    for (long i = 0; p && i < n; i++)
        s += p[i];
    return s;
}

/* Matrices and embeddings may be bound 16-bit (models/arch.h): their values widened (valid
 * until the next call). */
static float *wide_buf;
static const float *wide(const void *p, dg_dtype dt, long n)
{
    if (!p)
        return NULL;
    float *b = realloc(wide_buf, (size_t)(n ? n : 1) * sizeof *b);
    if (!b)
        return NULL;
    wide_buf = b;
    dg_widen_f32(p, dt, (size_t)n, b);
    return b;
}

/* The field P (N values) holds the tensor NAME (printf format). */
static void same(const float *p, long n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void same(const float *p, long n, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    json_t *want = json_object_get(sums, name);
    CHECK_MSG(p != NULL && want != NULL, "%s: not bound or not in the fixture", name);
    if (p && want)
        CHECK_MSG(fabs(sum(p, n) - json_real_value(want)) < 1e-4, "%s: sum %g, torch says %g", name, sum(p, n),
                  json_real_value(want));
}

static void check_layer(const dg_layer_weights *l, const char *side, int i, long d, long f, bool dec)
{
    struct {
        const dg_linear *lin;
        const char *name;
    } attn[] = {{&l->q, "self_attn.q_proj"}, {&l->k, "self_attn.k_proj"}, {&l->v, "self_attn.v_proj"},
                {&l->o, "self_attn.out_proj"}, {&l->cq, "encoder_attn.q_proj"}, {&l->ck, "encoder_attn.k_proj"},
                {&l->cv, "encoder_attn.v_proj"}, {&l->co, "encoder_attn.out_proj"}};
    for (int k = 0; k < (dec ? 8 : 4); k++) {
        same(wide(attn[k].lin->w, attn[k].lin->dtype, d * d), d * d, "model.%s.layers.%d.%s.weight", side, i, attn[k].name);
        same(attn[k].lin->b, d, "model.%s.layers.%d.%s.bias", side, i, attn[k].name);
    }
    if (!dec)
        CHECK(l->cq.w == NULL && l->cross_attn_ln.g == NULL);
    same(l->self_attn_ln.g, d, "model.%s.layers.%d.self_attn_layer_norm.weight", side, i);
    same(l->self_attn_ln.b, d, "model.%s.layers.%d.self_attn_layer_norm.bias", side, i);
    if (dec) {
        same(l->cross_attn_ln.g, d, "model.%s.layers.%d.encoder_attn_layer_norm.weight", side, i);
        same(l->cross_attn_ln.b, d, "model.%s.layers.%d.encoder_attn_layer_norm.bias", side, i);
    }
    same(wide(l->fc1.w, l->fc1.dtype, f * d), f * d, "model.%s.layers.%d.fc1.weight", side, i);
    same(l->fc1.b, f, "model.%s.layers.%d.fc1.bias", side, i);
    same(wide(l->fc2.w, l->fc2.dtype, d * f), d * f, "model.%s.layers.%d.fc2.weight", side, i);
    same(l->fc2.b, d, "model.%s.layers.%d.fc2.bias", side, i);
    same(l->final_ln.g, d, "model.%s.layers.%d.final_layer_norm.weight", side, i);
    same(l->final_ln.b, d, "model.%s.layers.%d.final_layer_norm.bias", side, i);
}

/* Binds fixture NAME and checks every field against torch's sums and the sharing pattern. */
static void check_model(const char *name, bool share, bool tie)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, FX "%s", name);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_t *exp = json_load_file(path, 0, NULL);
    sums = json_object_get(exp, "sums");
    dg_err err = {0};
    dg_config c;
    CHECK_MSG(dg_config_load(&c, dir, &err) == DG_OK, "%s: %s", name, err.msg);
    dg_checkpoint *ck = dg_checkpoint_open(dir, &err);
    CHECK_MSG(ck != NULL, "%s: %s", name, err.msg);
    dg_model_weights w;
    if (!ck || !exp || dg_arch_bind(&w, &c, ck, &err) != DG_OK) {
        CHECK_MSG(0, "%s: %s", name, err.msg);
        dg_checkpoint_close(ck);
        json_decref(exp);
        return;
    }
    long d = c.d_model, vs = c.vocab_size, vt = c.target_vocab_size;
    if (share) {
        same(wide(w.enc_embed, w.enc_embed_dtype, vs * d), vs * d, "model.shared.weight");
        CHECK(w.dec_embed == w.enc_embed);
    } else {
        same(wide(w.enc_embed, w.enc_embed_dtype, vs * d), vs * d, "model.encoder.embed_tokens.weight");
        same(wide(w.dec_embed, w.dec_embed_dtype, vt * d), vt * d, "model.decoder.embed_tokens.weight");
        CHECK(w.dec_embed != w.enc_embed);
    }
    if (tie)
        CHECK(w.lm_head == w.dec_embed);
    else
        same(wide(w.lm_head, w.lm_head_dtype, vt * d), vt * d, "lm_head.weight");
    same(w.final_logits_bias, vt, "final_logits_bias");
    CHECK_INT_EQ(w.n_enc_layers, c.encoder_layers);
    CHECK_INT_EQ(w.n_dec_layers, c.decoder_layers);
    for (int i = 0; i < w.n_enc_layers; i++)
        check_layer(&w.enc_layers[i], "encoder", i, d, c.encoder_ffn_dim, false);
    for (int i = 0; i < w.n_dec_layers; i++)
        check_layer(&w.dec_layers[i], "decoder", i, d, c.decoder_ffn_dim, true);
    /* post-norm even though the fixture's config.json says normalize_before: true */
    CHECK(!w.quirks.normalize_before);
    CHECK(!w.quirks.final_norms);
    CHECK_INT_EQ(w.quirks.positions, DG_POS_SINUSOIDAL_MARIAN);
    CHECK_INT_EQ(w.quirks.activation, share ? DG_ACT_SILU : DG_ACT_RELU);
    CHECK(w.quirks.scale_embedding == share);
    CHECK_NEAR(w.quirks.layer_norm_eps, 1e-5, 1e-12);

    dg_arch_summary s;
    CHECK(dg_arch_check(&c, ck, &s, NULL, &err) == DG_OK);
    CHECK_INT_EQ(s.n_params, json_integer_value(json_object_get(exp, "num_parameters")));
    CHECK_INT_EQ(s.n_unused, json_integer_value(json_object_get(exp, "unused")));
    dg_arch_free(&w);
    dg_checkpoint_close(ck);
    json_decref(exp);
}

static void expect_error(const char *name, dg_code code, const char *msg)
{
    char dir[512];
    snprintf(dir, sizeof dir, FX "%s", name);
    dg_err err = {0};
    dg_config c;
    dg_model_weights w;
    dg_checkpoint *ck = dg_checkpoint_open(dir, &err);
    CHECK(ck != NULL && dg_config_load(&c, dir, &err) == DG_OK);
    if (!ck)
        return;
    dg_code rc = dg_arch_bind(&w, &c, ck, &err);
    CHECK_MSG(rc == code, "%s: code %s, want %s (%s)", name, dg_code_name(rc), dg_code_name(code), err.msg);
    CHECK_CONTAINS(err.msg, msg);
    dg_arch_summary s;
    CHECK_INT_EQ(dg_arch_check(&c, ck, &s, NULL, &err), code);
    dg_checkpoint_close(ck);
}

int main(void)
{
    check_model("shared_st", true, true);
    check_model("shared_bin", true, true);
    check_model("sep_tied", false, true);
    check_model("sep_untied", false, false);
    expect_error("missing", DG_E_MISSING, "missing tensor 'model.decoder.layers.0.fc1.bias'");
    expect_error("misshaped", DG_E_SHAPE,
                 "tensor 'model.encoder.layers.1.fc2.weight': expected shape [8, 16], got [16, 8]");
    /* a Marian layout under model_type bart lacks BART's learned positions */
    expect_error("bart", DG_E_MISSING, "missing tensor 'model.encoder.embed_positions.weight'");
    expect_error("fsmt", DG_E_UNSUPPORTED,
                 "model_type 'fsmt' is not supported (supported: marian, bart, mbart, m2m_100, t5, mt5)");
    expect_error("gelu_fast", DG_E_UNSUPPORTED, "activation_function 'gelu_fast' is not supported");
    free(wide_buf);
    return test_summary();
}
