/* `dragoman inspect` on a checkpoint with the real opus-mt-en-mg config and an HF-style F16
 * safetensors header (tests/fixtures/make_checkpoints.py): the parameter count must be what
 * transformers' MarianMTModel.num_parameters() reports for that config (computed by the fixture
 * script from the module layout), the file figures what the script wrote, the rest what
 * config.json and vocab.json say. The text form must carry the same figures. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/inspect.h"
#include "test.h"

#define EN_MG DG_BUILD_DIR "/fixtures/models/inspect/en_mg"

static char *run(const char *dir, bool as_json, dg_code *rc, dg_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *rc = dg_inspect(f, dir, as_json, err);
    fclose(f);
    return buf;
}

static long long geti(json_t *root, const char *path)
{
    json_t *v = root;
    char key[64];
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    CHECK_MSG(json_is_integer(v), "%s is not an integer", path);
    return json_integer_value(v);
}

/* The other architectures, real configs (make_checkpoints.py REAL_CONFIGS): num_parameters()
 * as transformers reports it for each published checkpoint. */
static const struct {
    const char *name;
    long long params;
    const char *positions, *norm, *activation;
    int gated, tied, heads, head_size, enc_layers, dec_layers, logits_bias, pre_norm;
} archs[] = {
    {"t5-small", 60506624, "relative", "rmsnorm", "relu", 0, 1, 8, 64, 6, 6, 0, 1},
    {"flan-t5-base", 247577856, "relative", "rmsnorm", "gelu_tanh", 1, 0, 12, 64, 12, 12, 0, 1},
    {"bart-large", 406291456, "learned", "layernorm", "gelu", 0, 1, 16, 64, 12, 12, 1, 0},
    {"mbart-large-50-many-to-many-mmt", 610879488, "learned", "layernorm", "gelu", 0, 1, 16, 64, 12, 12, 1, 1},
    {"m2m100_418M", 483905536, "sinusoidal-fairseq", "layernorm", "relu", 0, 1, 16, 64, 12, 12, 0, 1},
    {"nllb-200-distilled-600M", 615073792, "sinusoidal-fairseq", "layernorm", "relu", 0, 1, 16, 64, 12, 12, 0, 1},
};

static void test_archs(void)
{
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
        char dir[512], path[600];
        snprintf(dir, sizeof dir, DG_BUILD_DIR "/fixtures/models/inspect/%s", archs[i].name);
        snprintf(path, sizeof path, "%s/expected.json", dir);
        json_t *exp = json_load_file(path, 0, NULL);
        CHECK_MSG(exp != NULL, "%s", path);
        dg_err err = {0};
        dg_code rc;
        char *out = run(dir, true, &rc, &err);
        CHECK_MSG(rc == DG_OK, "%s: %s", archs[i].name, err.msg);
        json_t *r = json_loads(out ? out : "", 0, NULL);
        free(out);
        if (!r || !exp) {
            json_decref(exp);
            json_decref(r);
            continue;
        }
        json_t *a = json_object_get(r, "architecture");
        printf("%-32s %lld parameters, positions %s, %s, %s%s\n", archs[i].name,
               geti(r, "parameters.count"), json_string_value(json_object_get(a, "positions")),
               json_string_value(json_object_get(a, "norm")), archs[i].gated ? "gated-" : "",
               json_string_value(json_object_get(a, "activation")));
        CHECK_INT_EQ(geti(r, "parameters.count"), archs[i].params);
        CHECK_INT_EQ(geti(r, "parameters.count"), json_integer_value(json_object_get(exp, "num_parameters")));
        CHECK_INT_EQ(geti(r, "parameters.tensors_bound"), json_integer_value(json_object_get(exp, "tensors")));
        CHECK_INT_EQ(geti(r, "parameters.tensors_unused"), 0);
        CHECK_INT_EQ(geti(r, "architecture.encoder_layers"), archs[i].enc_layers);
        CHECK_INT_EQ(geti(r, "architecture.decoder_layers"), archs[i].dec_layers);
        CHECK_INT_EQ(geti(r, "architecture.encoder_attention_heads"), archs[i].heads);
        CHECK_INT_EQ(geti(r, "architecture.head_size"), archs[i].head_size);
        CHECK_STR_EQ(json_string_value(json_object_get(a, "positions")), archs[i].positions);
        CHECK_STR_EQ(json_string_value(json_object_get(a, "norm")), archs[i].norm);
        CHECK_STR_EQ(json_string_value(json_object_get(a, "activation")), archs[i].activation);
        CHECK(json_is_true(json_object_get(a, "gated_ffn")) == archs[i].gated);
        CHECK(json_is_true(json_object_get(a, "tie_word_embeddings")) == archs[i].tied);
        CHECK(json_is_true(json_object_get(a, "final_logits_bias")) == archs[i].logits_bias);
        CHECK(json_is_true(json_object_get(a, "normalize_before")) == archs[i].pre_norm);
        CHECK(json_is_true(json_object_get(a, "final_norms")) == archs[i].pre_norm);
        int t5 = !strcmp(archs[i].positions, "relative");
        CHECK(json_is_true(json_object_get(a, "scale_attention")) == !t5);
        CHECK(json_is_true(json_object_get(a, "layernorm_embedding")) == !strcmp(archs[i].positions, "learned"));
        if (t5) {
            CHECK(json_is_null(json_object_get(a, "max_position_embeddings")));
            CHECK_INT_EQ(geti(r, "architecture.relative_attention.num_buckets"), 32);
            CHECK_INT_EQ(geti(r, "architecture.relative_attention.max_distance"), 128);
            CHECK_NEAR(json_real_value(json_object_get(a, "lm_head_input_scale")),
                       archs[i].tied ? pow(512, -0.5) : 1.0, 1e-6);
            CHECK_NEAR(json_real_value(json_object_get(a, "layer_norm_eps")), 1e-6, 1e-12);
        } else {
            CHECK_INT_EQ(geti(r, "architecture.max_position_embeddings"), 1024);
            CHECK_INT_EQ(geti(r, "architecture.position_offset"), 2);
        }
        json_decref(exp);
        json_decref(r);
    }
    static const struct {
        const char *name;
        dg_code code;
        const char *msg;
    } broken[] = {
        {"t5_bad_proj", DG_E_UNSUPPORTED, "feed_forward_proj 'gated-swishy' is not supported"},
        {"t5_missing", DG_E_MISSING, "missing tensor 'decoder.block.5.layer.2.DenseReluDense.wo.weight'"},
        {"t5_bad_bias", DG_E_SHAPE, "tensor 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias."
                                    "weight': expected shape [32, 8], got [8, 32]"},
        {"t5_bad_dkv", DG_E_SHAPE, "tensor 'encoder.block.0.layer.0.SelfAttention.q.weight': expected shape [256, 512]"},
    };
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, DG_BUILD_DIR "/fixtures/models/inspect/%s", broken[i].name);
        dg_err err = {0};
        dg_code rc;
        char *out = run(dir, false, &rc, &err);
        CHECK_MSG(rc == broken[i].code, "%s: %s", broken[i].name, err.msg);
        CHECK_CONTAINS(err.msg, broken[i].msg);
        free(out);
    }
}

int main(void)
{
    test_archs();
    json_t *exp = json_load_file(EN_MG "/expected.json", 0, NULL);
    CHECK(exp != NULL);
    dg_err err = {0};
    dg_code rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *out = run(EN_MG, true, &rc, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_MSG(rc == DG_OK, "%s", err.msg);
    printf("inspect --json on the en-mg layout: %.1f ms\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    json_t *r = json_loads(out ? out : "", 0, NULL);
    CHECK_MSG(r != NULL, "not JSON: %s", out);

    CHECK_INT_EQ(geti(r, "parameters.count"), json_integer_value(json_object_get(exp, "num_parameters")));
    CHECK_INT_EQ(geti(r, "parameters.count"), 72663040);
    CHECK_INT_EQ(geti(r, "parameters.stored_values"), json_integer_value(json_object_get(exp, "stored_values")));
    CHECK_INT_EQ(geti(r, "parameters.tensors"), json_integer_value(json_object_get(exp, "tensors")));
    CHECK_INT_EQ(geti(r, "parameters.tensors_bound"), json_integer_value(json_object_get(exp, "tensors")));
    CHECK_INT_EQ(geti(r, "parameters.tensors_unused"), 0);
    CHECK_INT_EQ(geti(r, "storage.bytes"), json_integer_value(json_object_get(exp, "file_bytes")));
    CHECK_INT_EQ(geti(r, "storage.files"), 1);
    CHECK_INT_EQ(geti(r, "special_ids.unk"), json_integer_value(json_object_get(exp, "unk_token_id")));
    CHECK_INT_EQ(geti(r, "special_ids.pad"), 54687);
    CHECK_INT_EQ(geti(r, "special_ids.eos"), 0);
    CHECK_INT_EQ(geti(r, "special_ids.bos"), 0);
    CHECK_INT_EQ(geti(r, "special_ids.decoder_start"), 54687);
    CHECK_INT_EQ(geti(r, "architecture.d_model"), 512);
    CHECK_INT_EQ(geti(r, "architecture.encoder_layers"), 6);
    CHECK_INT_EQ(geti(r, "architecture.decoder_attention_heads"), 8);
    CHECK_INT_EQ(geti(r, "architecture.decoder_ffn_dim"), 2048);
    CHECK_INT_EQ(geti(r, "architecture.source_vocab_size"), 54688);
    CHECK_INT_EQ(geti(r, "architecture.target_vocab_size"), 54688);
    CHECK_INT_EQ(geti(r, "architecture.max_position_embeddings"), 512);
    CHECK_INT_EQ(geti(r, "generation.num_beams"), 4);
    CHECK_INT_EQ(geti(r, "generation.max_length"), 512);
    CHECK_INT_EQ(geti(r, "generation.forced_eos_token_id"), 0);
    json_t *a = json_object_get(r, "architecture"), *s = json_object_get(r, "storage");
    CHECK_STR_EQ(json_string_value(json_object_get(a, "activation")), "silu");
    CHECK(json_is_true(json_object_get(a, "scale_embedding")));
    CHECK(json_is_false(json_object_get(a, "normalize_before")));
    CHECK(json_is_true(json_object_get(a, "tie_word_embeddings")));
    CHECK_STR_EQ(json_string_value(json_object_get(s, "format")), "safetensors");
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(s, "dtypes"), 0)), "F16");
    CHECK_INT_EQ(json_array_size(json_object_get(s, "dtypes")), 1);
    json_t *bad = json_object_get(json_object_get(r, "generation"), "bad_words_ids");
    CHECK_INT_EQ(json_integer_value(json_array_get(json_array_get(bad, 0), 0)), 54687);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(r, "generation"), "source")), "config.json");
    CHECK(json_is_false(json_object_get(json_object_get(r, "generation"), "early_stopping")));
    json_decref(r);
    free(out);

    out = run(EN_MG, false, &rc, &err);
    CHECK(rc == DG_OK);
    CHECK_CONTAINS(out, "\n  count: 72663040\n");
    CHECK_CONTAINS(out, "  activation: silu\n");
    CHECK_CONTAINS(out, "  format: safetensors\n");
    CHECK_CONTAINS(out, "  bad_words_ids: [[54687]]\n");
    free(out);

    /* a .bin with tied copies and stored positions: the copies are bound once, positions unused */
    out = run(DG_BUILD_DIR "/fixtures/models/marian/shared_bin", true, &rc, &err);
    r = json_loads(out ? out : "", 0, NULL);
    CHECK_INT_EQ(geti(r, "parameters.tensors_unused"), 2);
    json_t *unused = json_object_get(json_object_get(r, "parameters"), "unused");
    CHECK_STR_EQ(json_string_value(json_array_get(unused, 0)), "model.encoder.embed_positions.weight");
    CHECK(json_is_null(json_object_get(json_object_get(r, "special_ids"), "unk")));
    json_decref(r);
    free(out);

    out = run(DG_BUILD_DIR "/fixtures/models/marian/missing", false, &rc, &err);
    CHECK_INT_EQ(rc, DG_E_MISSING);
    CHECK_CONTAINS(err.msg, "missing tensor 'model.decoder.layers.0.fc1.bias'");
    CHECK_STR_EQ(out, "");
    free(out);
    json_decref(exp);
    return test_summary();
}
