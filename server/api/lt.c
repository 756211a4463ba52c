/* DESIGN: LibreTranslate's API (its libretranslate/app.py is the reference: routes, fields,
 * messages, statuses). Every body — JSON, application/x-www-form-urlencoded or
 * multipart/form-data (dg_req_parse_form) — is first decoded into one JSON object
 * of fields (a repeated form field becomes an array, an uploaded file {"filename", "data"}), so
 * the API key check and the validation below run once for all three encodings. The key is
 * checked right after decoding, before any field is validated, so a caller without a valid key
 * learns nothing about the request's other faults. Validation follows app.py's order and
 * messages ("Invalid request: missing q parameter", "zz is not supported"); errors go out as
 * {"error": "..."} with LibreTranslate's statuses (server/api/api_error.c). Translated files are
 * kept in memory for /download_file (a small ring of the latest ones), never on disk. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "server/http/http.h"
#include "text/detect.h"

#define LT_MAX_ALTERNATIVES 16   /* app.py's --alternatives-limit default would be -1 (none) */
#define LT_FILES 32              /* translated files kept for /download_file */
#define LT_FILE_NAME 160

struct dg_lt_req {
    json_t *fields;
    int alternatives;
    bool detected;
    dg_detected_language detection;
    char filename[LT_FILE_NAME];   /* /translate_file: the upload's name ("" otherwise) */
};

/* ---- translated files ---- */

static struct {
    pthread_mutex_t lock;
    unsigned long next;
    struct {
        char name[LT_FILE_NAME + 40]; /* "<id>.<upload name>" */
        char *data;
    } f[LT_FILES];
} files = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Stores data (taken over) under a fresh name written to name; the oldest file goes. */
static void file_store(const char *upload, char *data, char *name, size_t size)
{
    pthread_mutex_lock(&files.lock);
    unsigned long id = ++files.next;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* time and a counter: unique within the process, not guessable across restarts */
    snprintf(name, size, "%lx%08lx%04lx.%s", (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec,
             id & 0xffff, upload);
    int slot = (int)(id % LT_FILES);
    free(files.f[slot].data);
    snprintf(files.f[slot].name, sizeof files.f[slot].name, "%s", name);
    files.f[slot].data = data;
    pthread_mutex_unlock(&files.lock);
}

static void reply_error(dg_req *rq, dg_api_error_kind kind, const char *fmt, const char *arg)
{
    dg_api_error e;
    dg_api_error_set(&e, kind, fmt, arg);
    dg_req_error(rq, &e);
}

static void reply_json(dg_req *rq, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
        return;
    }
    dg_req_reply(rq, 200, s);
}

void dg_lt_download(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)srv, (void)ctx;
    const char *name = rq->path + strlen("/download_file/");
    if (!*name || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, ".")) {
        reply_error(rq, DG_API_INVALID_REQUEST, "%s", "Invalid filename");
        return;
    }
    char *data = NULL;
    pthread_mutex_lock(&files.lock);
    for (int i = 0; i < LT_FILES; i++)
        if (files.f[i].data && !strcmp(files.f[i].name, name))
            data = strdup(files.f[i].data);
    pthread_mutex_unlock(&files.lock);
    if (!data) {
        reply_error(rq, DG_API_NOT_FOUND, "%s", "no such file (translated files are kept for the "
                                                "latest 32 uploads)");
        return;
    }
    dg_req_reply(rq, 200, data);
    rq->reply_type = "text/plain; charset=utf-8";
    const char *dot = strchr(name, '.');
    size_t n = strlen(dot + 1) + 48;
    if ((rq->disposition = malloc(n)))
        snprintf(rq->disposition, n, "attachment; filename=\"%s\"", dot + 1);
}

/* ---- body → fields ---- */

typedef struct {
    json_t *obj;
    char key[64];
    char filename[LT_FILE_NAME];
    bool file;
    char *buf;
    size_t len, cap;
    bool bad;          /* a value was not UTF-8 */
    char bad_key[64];
} form_state;

static int form_flush(form_state *f)
{
    if (!f->key[0])
        return 0;
    json_t *v = NULL;
    bool utf8 = dg_utf8_invalid_at(f->buf ? f->buf : "", f->len) < 0;
    if (f->file)  /* data null: not text; judged after the file name (its format) */
        v = json_pack("{s:s, s:o}", "filename", f->filename,
                      "data", utf8 ? json_stringn(f->buf ? f->buf : "", f->len) : json_null());
    else if (!utf8) {
        if (!f->bad)
            snprintf(f->bad_key, sizeof f->bad_key, "%s", f->key);
        f->bad = true;
    } else
        v = json_stringn(f->buf ? f->buf : "", f->len);
    if (v) {
        json_t *old = json_object_get(f->obj, f->key);
        if (!old)
            json_object_set_new(f->obj, f->key, v);
        else if (json_is_array(old))
            json_array_append_new(old, v);
        else {  /* a repeated field (q=a&q=b) is a list, as Flask's getlist sees it */
            json_t *arr = json_pack("[O, o]", old, v);
            json_object_set_new(f->obj, f->key, arr);
        }
    }
    f->key[0] = 0;
    f->len = 0;
    return 0;
}

static bool form_field(void *cls, const char *key, const char *filename, const char *data,
                       uint64_t off, size_t size)
{
    form_state *f = cls;
    if (off == 0 || strcmp(key, f->key)) {
        form_flush(f);
        snprintf(f->key, sizeof f->key, "%s", key);
        f->file = filename != NULL;
        snprintf(f->filename, sizeof f->filename, "%s", filename ? filename : "");
    }
    if (f->len + size + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->len + size + 1)
            cap *= 2;
        char *nb = realloc(f->buf, cap);
        if (!nb)
            return false;
        f->buf = nb;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, data, size);
    f->len += size;
    f->buf[f->len] = 0;
    return true;
}

/* The request's fields as one JSON object; NULL with e set. */
static json_t *decode_fields(dg_req *rq, dg_api_error *e)
{
    const char *ct = dg_req_header(rq, "Content-Type");
    const char *body = rq->body ? rq->body : "";
    if (!strcmp(rq->method, "GET") || rq->len == 0)
        return json_object();
    if (ct && !strncasecmp(ct, "application/json", 16)) {
        json_error_t jerr;
        json_t *root = json_loadb(body, rq->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            dg_api_error_set(e, DG_API_INVALID_JSON, "Invalid JSON: %s (line %d, column %d)",
                             jerr.text, jerr.line, jerr.column);
            return NULL;
        }
        if (!json_is_object(root)) {
            json_decref(root);
            dg_api_error_set(e, DG_API_INVALID_REQUEST, "Invalid JSON format");
            return NULL;
        }
        return root;
    }
    form_state f = {.obj = json_object()};
    if (!f.obj) {
        dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
        return NULL;
    }
    int st = dg_req_parse_form(rq, body, rq->len, form_field, &f);
    form_flush(&f);
    free(f.buf);
    if (st) {
        json_decref(f.obj);
        if (st == 415)
            dg_api_error_set(e, DG_API_UNSUPPORTED_MEDIA_TYPE, "cannot decode this form body");
        else
            dg_api_error_set(e, DG_API_INVALID_REQUEST, "malformed form body");
        return NULL;
    }
    if (f.bad) {
        json_decref(f.obj);
        dg_api_error_set(e, DG_API_INVALID_REQUEST,
                         "form field '%s' is not valid UTF-8 text (or contains NUL)", f.bad_key);
        return NULL;
    }
    return f.obj;
}

/* app.py's access_check: with keys configured, a given key must be valid (403), and a missing
 * one is refused (400). Without keys, api_key is ignored whatever its value. */
static int check_key(dg_server *srv, dg_req *rq, json_t *fields, dg_api_error *e)
{
    if (!srv->api_keys || rq->key_checked)
        return 0;
    const char *k = json_string_value(json_object_get(fields, "api_key"));
    if (k && *k)
        return dg_api_key_ok(srv, k) ? 0
                                     : dg_api_error_set(e, DG_API_INVALID_KEY, "Invalid API key");
    return dg_api_error_set(e, DG_API_UNAUTHORIZED,
                            "Please contact the server operator to get an API key");
}

static int decode(dg_server *srv, dg_req *rq, dg_api_error *e)
{
    if (!rq->lt && !(rq->lt = calloc(1, sizeof *rq->lt)))
        return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    if (!(rq->lt->fields = decode_fields(rq, e)))
        return dg_api_error_status(e->kind);
    return check_key(srv, rq, rq->lt->fields, e);
}

void dg_lt_free(dg_lt_req *lt)
{
    if (!lt)
        return;
    json_decref(lt->fields);
    free(lt);
}

/* ---- languages ---- */

/* A language some model reads or writes (codes matched as the registry does: de, deu, de_DE). */
static bool known_language(const dg_registry *r, const char *code)
{
    dg_lang_choice c;
    dg_api_error e;
    return dg_registry_route(r, NULL, code, NULL, &c, &e) ||
           dg_registry_route(r, NULL, NULL, code, &c, &e);
}

static bool pair_served(const dg_registry *r, const char *source, const char *target)
{
    dg_lang_choice c;
    dg_api_error e;
    return dg_registry_route(r, NULL, source, target, &c, &e) != NULL;
}

/* GET /languages: every language some model reads or writes, each with its targets. */
void dg_lt_languages(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)ctx;
    reply_json(rq, dg_registry_languages(srv->reg));
}

/* app.py's frontend_settings with this server's values: no character limit, no suggestions,
 * .txt files, source "auto", target the first model's. */
void dg_lt_settings(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)ctx;
    const dg_registry *r = srv->reg;
    const char *target = r->n ? r->models[0].target : "";
    reply_json(rq, json_pack("{s:i, s:i, s:b, s:b, s:b, s:b, s:[s], s:{s:{s:s, s:s}, s:{s:s, s:s}}}",
                             "charLimit", -1, "frontendTimeout", srv->cfg->timeout_ms,
                             "apiKeys", srv->api_keys != NULL, "keyRequired",
                             srv->api_keys != NULL, "suggestions", 0, "filesTranslation", 1,
                             "supportedFilesFormat", ".txt", "language", "source", "code", "auto",
                             "name", "Auto Detect", "target", "code", target, "name",
                             dg_language_name(target)));
}

/* ---- detection ---- */

/* The texts of q joined by newlines into one malloc'ed string (detection judges them together,
 * as app.py's detect_languages does for a batch). */
static char *joined(json_t *q)
{
    size_t n = json_is_array(q) ? json_array_size(q) : 1, len = 0;
    for (size_t i = 0; i < n; i++)
        len += json_string_length(json_is_array(q) ? json_array_get(q, i) : q) + 1;
    char *s = malloc(len + 1), *p = s;
    for (size_t i = 0; s && i < n; i++) {
        json_t *v = json_is_array(q) ? json_array_get(q, i) : q;
        memcpy(p, json_string_value(v), json_string_length(v));
        p += json_string_length(v);
        *p++ = '\n';
    }
    if (s)
        *p = 0;
    return s;
}

/* q: a non-empty string or a non-empty array of strings (missing: 400 as app.py says it). */
static int take_q(json_t *fields, dg_api_error *e)
{
    json_t *q = json_object_get(fields, "q");
    bool empty = !q || json_is_null(q) || (json_is_string(q) && !json_string_length(q)) ||
                 (json_is_array(q) && !json_array_size(q));
    if (empty)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "Invalid request: missing q parameter");
    if (json_is_string(q))
        return 0;
    size_t i;
    json_t *v;
    if (json_is_array(q)) {
        json_array_foreach(q, i, v) if (!json_is_string(v)) break;
        if (i == json_array_size(q))
            return 0;
    }
    return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                            "Invalid request: q must be a string or a list of strings");
}

static bool known_language_cb(const char *code, void *reg)
{
    return known_language(reg, code);
}

/* Detects q's language among the ones the models know, as app.py detects among its loaded
 * languages: guesses best first (n >= 1; app.py's {"confidence": 0, "language": "en"} when
 * nothing could be judged). */
static int detect(const dg_registry *r, json_t *q, dg_lang_guess *g, dg_api_error *e)
{
    char *s = joined(q);
    if (!s)
        return -dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    dg_err err;
    int n = dg_detect_language(s, strlen(s), known_language_cb, (void *)r, g, DG_DETECT_MAX, &err);
    free(s);
    if (n < 0)
        return -dg_api_error_set(e, dg_api_error_from_code(err.code), "%s", err.msg);
    if (n == 0) {
        snprintf(g[0].code, sizeof g[0].code, "en");
        g[0].confidence = 0;
        n = 1;
    }
    return n;
}

void dg_lt_detect(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)ctx;
    dg_api_error e;
    if (decode(srv, rq, &e) || take_q(rq->lt->fields, &e)) {
        dg_req_error(rq, &e);
        return;
    }
    dg_lang_guess g[DG_DETECT_MAX];
    int n = detect(srv->reg, json_object_get(rq->lt->fields, "q"), g, &e);
    if (n < 0) {
        dg_req_error(rq, &e);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_pack("{s:f, s:s}", "confidence", g[i].confidence,
                                             "language", g[i].code));
    reply_json(rq, arr);
}

/* ---- translation ---- */

/* A non-empty string field, or NULL. */
static const char *field_str(json_t *fields, const char *name)
{
    const char *s = json_string_value(json_object_get(fields, name));
    return s && *s ? s : NULL;
}

static int take_alternatives(json_t *v, int *out, dg_api_error *e)
{
    long x = 0;
    if (json_is_integer(v))
        x = (long)json_integer_value(v);
    else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        while (isspace((unsigned char)*s))
            s++;
        x = strtol(s, &end, 10);
        if (end == s || *end)
            v = NULL, x = 0;
        if (!v)
            return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                    "Invalid request: alternatives parameter is not a number");
    } else if (v && !json_is_null(v))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: alternatives parameter is not a number");
    if (x > LT_MAX_ALTERNATIVES)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: alternatives parameter must be <= %d",
                                LT_MAX_ALTERNATIVES);
    *out = x < 0 ? 0 : (int)x;  /* app.py: max(0, int(alternatives)) */
    return 0;
}

/* /translate_file (its row's context, server/http/routes.c) */
static bool is_file_route(const dg_req *rq)
{
    const dg_translate_route *t = rq->route->ctx;
    return t && t->file;
}

static const char *extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot : "";
}

/* The upload of /translate_file, checked as app.py does; its text replaces q. */
static int take_file(dg_req *rq, json_t *fields, bool *html, dg_api_error *e)
{
    json_t *file = json_object_get(fields, "file");
    if (!json_is_object(file))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: missing file parameter");
    const char *name = json_string_value(json_object_get(file, "filename"));
    if (!name || !*name)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "Invalid request: empty file");
    const char *ext = extension(name);
    *html = !strcasecmp(ext, ".html") || !strcasecmp(ext, ".htm");
    if (!*html && strcasecmp(ext, ".txt"))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: file format not supported");
    /* only the base name, with characters safe in a URL path and a header */
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    size_t j = 0;
    for (const char *p = base; *p && j + 1 < sizeof rq->lt->filename; p++)
        rq->lt->filename[j++] = isalnum((unsigned char)*p) || strchr(".-_", *p) ? *p : '_';
    rq->lt->filename[j] = 0;
    if (!json_is_string(json_object_get(file, "data")))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: the file is not UTF-8 text (or contains NUL)");
    if (json_object_set(fields, "q", json_object_get(file, "data")))
        return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    return 0;
}

int dg_lt_parse_translate(dg_server *srv, dg_req *rq, dg_api_error *e)
{
    bool is_file = is_file_route(rq);
    int st = decode(srv, rq, e);
    if (st)
        return st;
    dg_lt_req *lt = rq->lt;
    json_t *f = lt->fields;
    bool html = false;  /* a .html / .htm file, or format "html" */
    if (is_file && (st = take_file(rq, f, &html, e)))
        return st;
    if (!is_file && (st = take_q(f, e)))
        return st;
    const char *source = field_str(f, "source"), *target = field_str(f, "target");
    if (!source)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: missing source parameter");
    if (!target)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: missing target parameter");
    if (!is_file && (st = take_alternatives(json_object_get(f, "alternatives"),
                                            &lt->alternatives, e)))
        return st;
    json_t *q = json_object_get(f, "q");
    size_t n = json_is_array(q) ? json_array_size(q) : 1;
    if (n > (size_t)srv->cfg->max_texts)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "Invalid request: request (%zu) exceeds text limit (%d)", n,
                                srv->cfg->max_texts);
    const dg_registry *r = srv->reg;
    if (!strcmp(source, "auto")) {
        dg_lang_guess g[DG_DETECT_MAX];
        int k = detect(r, q, g, e);
        if (k < 0)
            return dg_api_error_status(e->kind);
        lt->detected = true;
        snprintf(lt->detection.language, sizeof lt->detection.language, "%s", g[0].code);
        lt->detection.confidence = g[0].confidence;
        if (!pair_served(r, g[0].code, target))
            return dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR,
                                    "the text looks %s (%s, confidence %.0f%%), and no model "
                                    "translates %s to %s (see GET /languages); give source "
                                    "explicitly", dg_language_name(g[0].code), g[0].code,
                                    g[0].confidence, g[0].code, target);
        source = lt->detection.language;
    } else if (!known_language(r, source))
        return dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR, "%.64s is not supported",
                                source);
    if (!known_language(r, target))
        return dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR, "%.64s is not supported",
                                target);
    const char *format = field_str(f, "format");
    html |= format && !strcmp(format, "html");
    if (format && strcmp(format, "text") && strcmp(format, "html"))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "%.64s format is not supported",
                                format);
    if (!pair_served(r, source, target))
        return dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR,
                                "%s (%s) is not available as a target language from %s (%s)",
                                dg_language_name(target), target, dg_language_name(source),
                                source);
    /* into the request /v1/translate would have made */
    dg_translate_request *t = &rq->treq;
    memset(t, 0, sizeof *t);
    t->text_is_array = json_is_array(q);
    t->html = html;
    if (!(t->texts = calloc(n, sizeof *t->texts)) || !(t->source = strdup(source)) ||
        !(t->target = strdup(target)))
        return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = t->text_is_array ? json_array_get(q, i) : q;
        if (!(t->texts[i] = strndup(json_string_value(v), json_string_length(v))))
            return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
        t->n_texts++;
    }
    char msg[128];
    if (lt->alternatives > 0 && dg_gen_set_number(&t->opts.gen, DG_GEN_N_BEST,
                                                  lt->alternatives + 1, true, DG_GEN_HTTP, msg,
                                                  sizeof msg))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "%s", msg);
    return 0;
}

char *dg_lt_translate_reply(dg_server *srv, dg_req *rq, const dg_translation *out, int n)
{
    dg_lt_req *lt = rq->lt;
    if (!is_file_route(rq)) {
        /* app.py's improve_translation_formatting: an empty translation (a text the model
         * cannot translate, such as an emoji) gives back the source text */
        char **first = malloc((size_t)(n ? n : 1) * sizeof *first);
        if (!first)
            return NULL;
        for (int i = 0; i < n; i++) {  /* swapped in for the rendering, then restored */
            first[i] = out[i].hyps[0];
            if (!out[i].hyps[0][0])
                out[i].hyps[0] = rq->treq.texts[i];
        }
        char *s = dg_api_lt_response(out, n, rq->treq.text_is_array, lt->alternatives,
                                     lt->detected ? &lt->detection : NULL);
        for (int i = 0; i < n; i++)
            out[i].hyps[0] = first[i];
        free(first);
        return s;
    }
    char *data = n ? strdup(out[0].hyps[0]) : NULL;
    if (!data)
        return NULL;
    char name[LT_FILE_NAME + 40];
    file_store(lt->filename, data, name, sizeof name);
    const char *host = dg_req_header(rq, "Host");
    char url[LT_FILE_NAME + 400];
    if (host)
        snprintf(url, sizeof url, "http://%.200s/download_file/%s", host, name);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%d/download_file/%s", srv->port, name);
    json_t *o = json_pack("{s:s}", "translatedFileUrl", url);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}
