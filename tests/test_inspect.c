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

int main(void)
{
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
