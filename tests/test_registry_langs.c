/* DESIGN: the server's language routing (server/registry.c) on real tokenizers without weights:
 * an OPUS-MT folder with its folder-name pair beside the multilingual nllb-rand checkpoint. The
 * expected ids come from nllb-rand's tokenizer_config.json (deu_Latn 1043, fra_Latn 1058) and
 * its golden "Hello" case (263 677 910). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/registry.h"
#include "test.h"

static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (!strcmp(json_string_value(v), s))
            return true;
    return false;
}

static const json_t *source_entry(const json_t *langs, const char *code)
{
    size_t i;
    json_t *v;
    json_array_foreach(langs, i, v)
        if (!strcmp(json_string_value(json_object_get(v, "code")), code))
            return v;
    return NULL;
}

int main(void)
{
    static dg_registry r;
    dg_err err = {0};
    r.n = 2;
    snprintf(r.models[0].name, sizeof r.models[0].name, "mg");
    snprintf(r.models[0].source, sizeof r.models[0].source, "en");
    snprintf(r.models[0].target, sizeof r.models[0].target, "mg");
    r.models[0].tok = dg_tokenizer_load(DG_SHARED_DIR "/tokenizers/opus-mt-en-mg", &err);
    CHECK_MSG(r.models[0].tok != NULL, "%s", err.msg);
    snprintf(r.models[1].name, sizeof r.models[1].name, "nllb");
    r.models[1].tok = dg_tokenizer_load(DG_SHARED_DIR "/golden-public/nllb-rand", &err);
    CHECK_MSG(r.models[1].tok != NULL, "%s", err.msg);
    if (!r.models[0].tok || !r.models[1].tok)
        return test_summary();

    dg_lang_choice c;
    dg_api_error e;
    CHECK(dg_registry_route(&r, NULL, "en", "mg", &c, &e) == &r.models[0]);
    CHECK(!c.pair && c.forced_bos == -1);
    /* a pair only the multilingual model knows */
    CHECK(dg_registry_route(&r, NULL, "de", "fr", &c, &e) == &r.models[1]);
    CHECK(c.pair);
    CHECK_INT_EQ(c.forced_bos, 1058);
    CHECK_STR_EQ(dg_tokenizer_lang(r.models[1].tok, DG_SIDE_SOURCE, c.src), "deu_Latn");
    int *ids = NULL, n = 0;
    CHECK(dg_registry_encode(&r.models[1], &c, "Hello", 5, &ids, &n, &err) == DG_OK);
    CHECK(n == 5 && ids[0] == 1043 && ids[1] == 263 && ids[2] == 677 && ids[3] == 910 &&
          ids[4] == 2);
    free(ids);
    /* "en" -> "fr": the first model does not serve it, nllb does */
    CHECK(dg_registry_route(&r, NULL, "en", "fr", &c, &e) == &r.models[1]);
    CHECK(dg_registry_route(&r, "nllb", "de", "xx", &c, &e) == NULL);
    CHECK_INT_EQ(e.kind, DG_API_UNSUPPORTED_LANGUAGE_PAIR);
    CHECK_CONTAINS(e.msg, "target language \"xx\" is not supported");
    CHECK(dg_registry_route(&r, "mg", "en", "de", &c, &e) == NULL);
    CHECK_CONTAINS(e.msg, "translates into mg, not de");
    CHECK(dg_registry_route(&r, "nope", NULL, NULL, &c, &e) == NULL);
    CHECK_INT_EQ(e.kind, DG_API_MODEL_NOT_FOUND);
    CHECK(dg_registry_route(&r, NULL, "en", "qq", &c, &e) == NULL);
    CHECK_INT_EQ(e.kind, DG_API_UNSUPPORTED_LANGUAGE_PAIR);

    json_t *langs = dg_registry_languages(&r);
    const json_t *en = source_entry(langs, "en"), *de = source_entry(langs, "de");
    CHECK(en && has_string(json_object_get(en, "targets"), "mg") &&
          has_string(json_object_get(en, "targets"), "de"));
    CHECK(de && has_string(json_object_get(de, "targets"), "fr") &&
          !has_string(json_object_get(de, "targets"), "de"));
    CHECK(de && json_array_size(json_object_get(de, "targets")) == 201);
    json_decref(langs);
    json_t *ml = dg_registry_model_languages(&r.models[1]);
    CHECK_INT_EQ(json_array_size(json_object_get(ml, "source")), 202);
    json_decref(ml);
    ml = dg_registry_model_languages(&r.models[0]);
    CHECK_INT_EQ(json_array_size(json_object_get(ml, "target")), 0);
    json_decref(ml);
    dg_tokenizer_free(r.models[0].tok);
    dg_tokenizer_free(r.models[1].tok);
    return test_summary();
}
