/* DESIGN: validation is an early-return chain: each check either passes or fills the
 * dg_api_error and returns its status (Redis processCommand style), so the first problem is
 * reported with a message naming the field. jansson parses with JSON_REJECT_DUPLICATES and
 * without JSON_ALLOW_NUL, so texts are NUL-free UTF-8 by construction. /v1/translate rejects
 * unknown fields (typos must not silently change a translation). LibreTranslate's routes are
 * parsed in server/api/lt.c; the responses of both are rendered here. */
#include "server/api/api_json.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/utf8.h"

#define MAX_NAME 128  /* model, source, target */

long dg_utf8_invalid_at(const char *s, size_t len)
{
    /* tokenizer/utf8.c is the one validator; API text must not hold NUL besides */
    const char *nul = memchr(s, 0, len);
    size_t limit = nul ? (size_t)(nul - s) : len, bad;
    if (!dg_utf8_valid(s, limit, &bad))
        return (long)bad;
    return nul ? (long)limit : -1;
}

void dg_translate_request_free(dg_translate_request *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_texts; i++)
        free(r->texts[i]);
    free(r->texts);
    free(r->model);
    free(r->source);
    free(r->target);
    free(r->opts.target_prefix);
    memset(r, 0, sizeof *r);
}

static void request_init(dg_translate_request *r)
{
    memset(r, 0, sizeof *r);
}

static int nomem(dg_api_error *e)
{
    return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
}

static int add_text(dg_translate_request *r, const char *s, size_t n, dg_api_error *e)
{
    char **t = realloc(r->texts, (size_t)(r->n_texts + 1) * sizeof *t);
    if (!t)
        return nomem(e);
    r->texts = t;
    if (!(t[r->n_texts] = strndup(s, n)))
        return nomem(e);
    r->n_texts++;
    return 0;
}

/* text: a string or a non-empty array of strings; field names it for messages. */
static int take_texts(json_t *v, const char *field, int max_texts, dg_translate_request *r,
                      dg_api_error *e)
{
    if (json_is_string(v))
        return add_text(r, json_string_value(v), json_string_length(v), e);
    if (!json_is_array(v))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "'%s' must be a string or an array of strings", field);
    size_t n = json_array_size(v);
    if (n == 0)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "'%s' is an empty array", field);
    if (n > (size_t)max_texts)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "'%s' has %zu texts, more than the limit of %d", field, n,
                                max_texts);
    r->text_is_array = true;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s))
            return dg_api_error_set(e, DG_API_INVALID_REQUEST, "'%s[%zu]' must be a string",
                                    field, i);
        int st = add_text(r, json_string_value(s), json_string_length(s), e);
        if (st)
            return st;
    }
    return 0;
}

static int take_name(json_t *v, const char *field, char **out, dg_api_error *e)
{
    if (!json_is_string(v))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "'%s' must be a string", field);
    if (json_string_length(v) == 0 || json_string_length(v) >= MAX_NAME)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "'%s' must have 1 to %d bytes",
                                field, MAX_NAME - 1);
    free(*out);
    if (!(*out = strdup(json_string_value(v))))
        return nomem(e);
    return 0;
}

static int take_int(json_t *v, const char *name, int lo, int hi, int *out, dg_api_error *e)
{
    if (!json_is_integer(v))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "option '%s' must be an integer",
                                name);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "option '%s' must be in [%d, %d]",
                                name, lo, hi);
    *out = (int)x;
    return 0;
}

static int take_bool(json_t *v, const char *name, bool *out, dg_api_error *e)
{
    if (!json_is_boolean(v))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "option '%s' must be true or false",
                                name);
    *out = json_is_true(v);
    return 0;
}

static int take_option(const char *k, json_t *v, dg_translate_options *opts, dg_api_error *e)
{
    if (!strcmp(k, "return_scores"))
        return take_bool(v, k, &opts->return_scores, e);
    if (!strcmp(k, "truncate"))
        return take_bool(v, k, &opts->truncate, e);
    if (!strcmp(k, "return_alignment"))
        return take_bool(v, k, &opts->return_alignment, e);
    if (!strcmp(k, "preserve")) {
        bool on = true;
        if (take_bool(v, k, &on, e))
            return -1;
        opts->no_preserve = !on;
        return 0;
    }
    if (!strcmp(k, "timeout_ms"))
        return take_int(v, k, 1, 86400000, &opts->timeout_ms, e);
    if (!strcmp(k, "target_prefix")) {
        if (!json_is_string(v) || !json_string_length(v))
            return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                    "option 'target_prefix' must be a non-empty string");
        free(opts->target_prefix);
        if (!(opts->target_prefix = strdup(json_string_value(v))))
            return nomem(e);
        opts->gen.target_prefix = opts->target_prefix;
        return 0;
    }
    int o = dg_gen_find(k, DG_GEN_HTTP);
    if (o < 0)  /* the key is valid UTF-8 (jansson checked it); %.64s bounds the message */
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "unknown option '%.64s'", k);
    char msg[256];
    double x;
    if (dg_gen_is_bool(o)) {
        if (!json_is_boolean(v))
            return dg_api_error_set(e, DG_API_INVALID_REQUEST, "option '%s' must be true or false",
                                    k);
        x = json_is_true(v);
    } else if (o == DG_GEN_EARLY_STOPPING) {  /* as generate() takes it: true, false or "never" */
        if (json_is_boolean(v))
            x = json_is_true(v);
        else if (json_is_string(v) && !strcmp(json_string_value(v), "never"))
            x = 2;
        else
            return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                    "option 'early_stopping' must be true, false or \"never\"");
    } else if (json_is_number(v))
        x = json_number_value(v);
    else
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "option '%s' must be a number", k);
    if (dg_gen_set_number(&opts->gen, o, x, !json_is_real(v), DG_GEN_HTTP, msg, sizeof msg))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "%s", msg);
    return 0;
}

static int take_options(json_t *o, dg_translate_options *opts, dg_api_error *e)
{
    if (!json_is_object(o))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "'options' must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int st = take_option(k, v, opts, e);
        if (st)
            return st;
    }
    return 0;
}

static json_t *load_object(const char *body, size_t len, int *status, dg_api_error *e)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_invalid_utf8)
            *status = dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                       "body is not valid UTF-8 (byte %d)", jerr.position);
        else
            *status = dg_api_error_set(e, DG_API_INVALID_JSON, "malformed JSON at line %d, column %d: %s",
                                       jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *status = dg_api_error_set(e, DG_API_INVALID_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    return root;
}

static int take_format(json_t *v, bool *html, dg_api_error *e)
{
    const char *f = json_string_value(v);
    if (!f || (strcmp(f, "text") && strcmp(f, "html")))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "field 'format' must be \"text\" or \"html\"");
    *html = !strcmp(f, "html");
    return 0;
}

int dg_api_parse_translate(const char *body, size_t len, int max_texts, dg_translate_request *r,
                           dg_api_error *e)
{
    request_init(r);
    int st = 0;
    json_t *root = load_object(body, len, &st, e);
    if (!root)
        return st;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (!strcmp(k, "text"))
            st = take_texts(v, "text", max_texts, r, e);
        else if (!strcmp(k, "model"))
            st = take_name(v, "model", &r->model, e);
        else if (!strcmp(k, "source"))
            st = take_name(v, "source", &r->source, e);
        else if (!strcmp(k, "target"))
            st = take_name(v, "target", &r->target, e);
        else if (!strcmp(k, "options"))
            st = take_options(v, &r->opts, e);
        else if (!strcmp(k, "format"))
            st = take_format(v, &r->html, e);
        else if (!strcmp(k, "stream"))
            st = json_is_boolean(v) ? (r->stream = json_is_true(v), 0)
                                    : dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                                       "field 'stream' must be true or false");
        else
            st = dg_api_error_set(e, DG_API_INVALID_REQUEST, "unknown field '%.64s'", k);
        if (st)
            break;
    }
    if (!st && !r->n_texts)
        st = dg_api_error_set(e, DG_API_INVALID_REQUEST, "missing field 'text'");
    /* a page is rendered once its blocks are all translated: no sentence to stream */
    if (!st && r->html && r->stream)
        st = dg_api_error_set(e, DG_API_INVALID_REQUEST,
                              "'stream' is for format \"text\": an HTML page is answered whole");
    if (!st && r->html && r->opts.return_alignment)
        st = dg_api_error_set(e, DG_API_INVALID_REQUEST,
                              "option 'return_alignment' is for format \"text\": an HTML "
                              "translation's offsets are not its page's");
    json_decref(root);
    return st;
}

/* ---- responses ---- */

/* Detokenized text should be UTF-8; if a model emits broken byte pieces, bad bytes become
 * U+FFFD rather than an invalid JSON document. */
static json_t *text_value(const char *s)
{
    size_t n = strlen(s);
    if (dg_utf8_invalid_at(s, n) < 0)
        return json_stringn(s, n);
    char *d = malloc(3 * n + 1);
    if (!d)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        long bad = dg_utf8_invalid_at(s + i, n - i);
        size_t good = bad < 0 ? n - i : (size_t)bad;
        memcpy(d + j, s + i, good);
        j += good;
        i += good;
        if (bad >= 0) {
            memcpy(d + j, "\xef\xbf\xbd", 3);
            j += 3;
            i++;
        }
    }
    json_t *v = json_stringn(d, j);
    free(d);
    return v;
}

static char *dump(json_t *o)
{
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

char *dg_api_translate_response(const char *model, const dg_translation *t, int n,
                                bool return_scores)
{
    return dg_api_translate_response_aligned(model, t, NULL, n, return_scores);
}

char *dg_api_translate_response_aligned(const char *model, const dg_translation *t,
                                        const dg_word_alignment *al, int n, bool return_scores)
{
    json_t *arr = json_array();
    json_t *root = json_pack("{s:s, s:o}", "model", model, "translations", arr);
    if (!root)
        return NULL;
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o) || json_object_set_new(o, "text", text_value(t[i].hyps[0])))
            goto fail;
        if (return_scores && json_object_set_new(o, "score", json_real(t[i].score)))
            goto fail;
        if (al) {
            json_t *arr2 = json_array();
            if (!arr2 || json_object_set_new(o, "alignment", arr2))
                goto fail;
            for (int k = 0; k < al[i].n_pairs; k++) {
                const int *q = al[i].pairs[k];
                if (json_array_append_new(arr2, json_pack("{s:[i,i],s:[i,i]}", "source", q[0],
                                                          q[1], "target", q[2], q[3])))
                    goto fail;
            }
        }
        if (t[i].n_hyps > 1) {
            json_t *alts = json_array();
            if (!alts || json_object_set_new(o, "alternatives", alts))
                goto fail;
            for (int k = 1; k < t[i].n_hyps; k++)
                if (json_array_append_new(alts, text_value(t[i].hyps[k])))
                    goto fail;
        }
    }
    return dump(root);
fail:
    json_decref(root);
    return NULL;
}

/* LibreTranslate's alternatives: hypotheses 1.. whose text differs from the best one and from
 * each other (its filter_unique), at most `alternatives`. */
static json_t *lt_alternatives(const dg_translation *t, int alternatives)
{
    json_t *a = json_array();
    for (int k = 1; a && k < t->n_hyps && (int)json_array_size(a) < alternatives; k++) {
        bool seen = !t->hyps[k][0] || !strcmp(t->hyps[k], t->hyps[0]);
        for (int j = 1; j < k && !seen; j++)
            seen = !strcmp(t->hyps[k], t->hyps[j]);
        if (!seen && json_array_append_new(a, text_value(t->hyps[k]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

char *dg_api_lt_response(const dg_translation *t, int n, bool as_array, int alternatives,
                         const dg_detected_language *detected)
{
    json_t *root = json_object(), *texts = NULL, *alts = NULL;
    if (!root)
        return NULL;
    if (as_array) {
        texts = json_array();
        if (json_object_set_new(root, "translatedText", texts))
            goto fail;
        if (alternatives > 0 && (!(alts = json_array()) || json_object_set_new(root, "alternatives", alts)))
            goto fail;
    }
    for (int i = 0; i < n; i++) {
        json_t *a = NULL;
        if (alternatives > 0 && !(a = lt_alternatives(&t[i], alternatives)))
            goto fail;
        if (as_array) {
            if (json_array_append_new(texts, text_value(t[i].hyps[0]))) {
                json_decref(a);
                goto fail;
            }
            if (a && json_array_append_new(alts, a))
                goto fail;
        } else {
            if (json_object_set_new(root, "translatedText", text_value(t[i].hyps[0]))) {
                json_decref(a);
                goto fail;
            }
            if (a && json_object_set_new(root, "alternatives", a))
                goto fail;
        }
    }
    if (detected) {
        /* LibreTranslate repeats the one detection of the whole batch for every text */
        json_t *d = json_pack("{s:f, s:s}", "confidence", detected->confidence, "language",
                              detected->language);
        json_t *v = d;
        if (d && as_array) {
            v = json_array();
            for (int i = 0; v && i < n; i++)
                json_array_append(v, d);
            json_decref(d);
        }
        if (!v || json_object_set_new(root, "detectedLanguage", v))
            goto fail;
    }
    return dump(root);
fail:
    json_decref(root);
    return NULL;
}
