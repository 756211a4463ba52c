/* DESIGN: the T5, BART, mBART, M2M100 and NLLB tokenizers against Hugging Face. The public
 * goldens in shared/golden-public/ were made by transformers 4.40.2: every case's `input_ids`
 * is what the slow tokenizer gave for `text` (checked unless the case was truncated), and every
 * greedy / beam output's `text` is tokenizer.decode(ids, skip_special_tokens=True). The
 * hand-written cases below derive their expectations from those goldens' ids (pieces seen
 * there) and from the slow tokenizers' source rules spelled out next to each check. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "tokenizer/tokenizer.h"

#define GOLDEN DG_SHARED_DIR "/golden-public/"

static const char *const models[] = {"bart-rand",   "mbart-rand", "t5-rand",
                                     "t5v11-rand",  "m2m100-rand", "nllb-rand"};

static dg_tokenizer *load(const char *model)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s%s", GOLDEN, model);
    dg_err err = {0};
    dg_tokenizer *t = dg_tokenizer_load(dir, &err);
    CHECK_MSG(t != NULL, "%s: %s", dir, err.msg);
    return t;
}

static int *json_ids(const json_t *arr, int *n)
{
    *n = (int)json_array_size(arr);
    int *v = malloc((size_t)(*n ? *n : 1) * sizeof *v);
    for (int i = 0; i < *n; i++)
        v[i] = (int)json_integer_value(json_array_get(arr, i));
    return v;
}

static bool decode_matches(const dg_tokenizer *t, const json_t *ids, const char *want,
                           const char *model, int line)
{
    int n;
    int *v = json_ids(ids, &n);
    char *text = NULL;
    dg_err err = {0};
    bool ok = dg_tokenizer_decode(t, v, n, true, &text, &err) == DG_OK && !strcmp(text, want);
    if (!ok)
        fprintf(stderr, "%s case %d: decode \"%s\" want \"%s\" (%s)\n", model, line,
                text ? text : "(error)", want, err.msg);
    free(text);
    free(v);
    return ok;
}

static void test_goldens(void)
{
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        dg_tokenizer *t = load(models[m]);
        if (!t)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s%s/cases.jsonl", GOLDEN, models[m]);
        FILE *f = fopen(path, "r");
        CHECK_MSG(f != NULL, "%s", path);
        if (!f) {
            dg_tokenizer_free(t);
            continue;
        }
        int enc_ok = 0, enc_n = 0, dec_ok = 0, dec_n = 0, line = 0;
        char *buf = NULL;
        size_t cap = 0;
        while (getline(&buf, &cap, f) > 0) {
            json_error_t jerr;
            json_t *c = json_loads(buf, 0, &jerr);
            line++;
            CHECK_MSG(c != NULL, "%s:%d: %s", path, line, jerr.text);
            if (!c)
                continue;
            const char *text = json_string_value(json_object_get(c, "text"));
            if (!json_is_true(json_object_get(c, "truncated"))) {
                int *ids = NULL, n = 0, wn;
                dg_err err = {0};
                int *want = json_ids(json_object_get(c, "input_ids"), &wn);
                bool ok = dg_tokenizer_encode(t, DG_SIDE_SOURCE, text, strlen(text), &ids, &n,
                                              &err) == DG_OK &&
                          n == wn && !memcmp(ids, want, (size_t)n * sizeof *ids);
                if (!ok) {
                    fprintf(stderr, "%s case %d: encode \"%.60s\" differs (%s):", models[m], line,
                            text, err.msg);
                    for (int i = 0; i < n && i < 24; i++)
                        fprintf(stderr, " %d%s", ids[i], i < wn && ids[i] == want[i] ? "" : "*");
                    fprintf(stderr, "\n  want:");
                    for (int i = 0; i < wn && i < 24; i++)
                        fprintf(stderr, " %d", want[i]);
                    fputc('\n', stderr);
                }
                enc_ok += ok;
                enc_n++;
                free(ids);
                free(want);
            }
            const json_t *g = json_object_get(c, "greedy");
            dec_ok += decode_matches(t, json_object_get(g, "ids"),
                                     json_string_value(json_object_get(g, "text")), models[m],
                                     line);
            dec_n++;
            const json_t *b = json_object_get(c, "beam");
            for (size_t k = 0; k < json_array_size(json_object_get(b, "ids")); k++) {
                dec_ok += decode_matches(
                    t, json_array_get(json_object_get(b, "ids"), k),
                    json_string_value(json_array_get(json_object_get(b, "text"), k)), models[m],
                    line);
                dec_n++;
            }
            json_decref(c);
        }
        free(buf);
        fclose(f);
        printf("%-12s %-16s encode %d/%d, decode %d/%d\n", models[m],
               dg_tokenizer_kind_name(dg_tokenizer_get_kind(t)), enc_ok, enc_n, dec_ok, dec_n);
        CHECK_INT_EQ(enc_ok, enc_n);
        CHECK_INT_EQ(dec_ok, dec_n);
        CHECK(enc_n >= 37 && dec_n >= 5 * 37);
        dg_tokenizer_free(t);
    }
}

int main(void)
{
    test_goldens();
    return test_summary();
}
