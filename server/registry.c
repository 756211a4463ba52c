/* DESIGN: dg_registry_init only does string work and reads tokenizer_config.json, so bad specs
 * fail before the listener starts; dg_registry_load does the slow part afterwards while the
 * server already answers /health and 503 for /ready. Loading is sequential (one mmap'ed
 * checkpoint at a time keeps peak memory predictable). */
#include "server/registry.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "server/obs/metrics.h"

static const struct {
    const char *code, *name;
} languages[] = {
    {"af", "Afrikaans"}, {"ar", "Arabic"},     {"bg", "Bulgarian"}, {"ca", "Catalan"},
    {"cs", "Czech"},     {"da", "Danish"},     {"de", "German"},    {"el", "Greek"},
    {"en", "English"},   {"eo", "Esperanto"},  {"es", "Spanish"},   {"et", "Estonian"},
    {"eu", "Basque"},    {"fa", "Persian"},    {"fi", "Finnish"},   {"fr", "French"},
    {"ga", "Irish"},     {"gl", "Galician"},   {"he", "Hebrew"},    {"hi", "Hindi"},
    {"hr", "Croatian"},  {"hu", "Hungarian"},  {"id", "Indonesian"}, {"is", "Icelandic"},
    {"it", "Italian"},   {"ja", "Japanese"},   {"ko", "Korean"},    {"lt", "Lithuanian"},
    {"lv", "Latvian"},   {"mg", "Malagasy"},   {"mt", "Maltese"},   {"nl", "Dutch"},
    {"no", "Norwegian"}, {"pl", "Polish"},     {"pt", "Portuguese"}, {"ro", "Romanian"},
    {"ru", "Russian"},   {"sk", "Slovak"},     {"sl", "Slovenian"}, {"sq", "Albanian"},
    {"sr", "Serbian"},   {"sv", "Swedish"},    {"sw", "Swahili"},   {"th", "Thai"},
    {"tr", "Turkish"},   {"uk", "Ukrainian"},  {"vi", "Vietnamese"}, {"zh", "Chinese"},
};

const char *dg_language_name(const char *code)
{
    for (size_t i = 0; i < sizeof languages / sizeof languages[0]; i++)
        if (!strcasecmp(languages[i].code, code))
            return languages[i].name;
    return code;
}

static int is_lang_code(const char *s, size_t n)
{
    if (n < 2 || n > 3)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]))
            return 0;
    return 1;
}

/* "xx-yy" at p (each 2-3 lower-case letters), followed by '-' or the end when strict_end is 0,
 * by the end only when it is 1. */
static int take_pair(const char *p, int strict_end, char *source, char *target, size_t size)
{
    size_t a = strcspn(p, "-");
    if (!is_lang_code(p, a) || p[a] != '-')
        return -1;
    const char *q = p + a + 1;
    size_t b = strcspn(q, "-");
    if (!is_lang_code(q, b) || a >= size || b >= size || (strict_end && q[b]))
        return -1;
    snprintf(source, size, "%.*s", (int)a, p);
    snprintf(target, size, "%.*s", (int)b, q);
    return 0;
}

int dg_pair_from_folder_name(const char *name, char *source, char *target, size_t size)
{
    const char *p = strstr(name, "opus-mt-");
    if (p) {
        p += strlen("opus-mt-");
        if (!strncmp(p, "tc-big-", 7))
            p += 7;
        return take_pair(p, 0, source, target, size);
    }
    /* otherwise NAME-xx-yy, e.g. the bundled demo-en-de */
    for (const char *d = strchr(name, '-'); d; d = strchr(d + 1, '-'))
        if (!take_pair(d + 1, 1, source, target, size))
            return 0;
    return -1;
}

/* tokenizer_config.json's source_lang/target_lang; 0 when both were found. */
static int pair_from_tokenizer_config(const char *dir, char *source, char *target, size_t size)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    json_t *root = json_load_file(path, 0, NULL);
    const char *s = json_string_value(json_object_get(root, "source_lang"));
    const char *t = json_string_value(json_object_get(root, "target_lang"));
    int ok = s && t && is_lang_code(s, strlen(s)) && is_lang_code(t, strlen(t));
    if (ok) {
        snprintf(source, size, "%s", s);
        snprintf(target, size, "%s", t);
    }
    json_decref(root);
    return ok ? 0 : -1;
}

static dg_code add_model(dg_registry *r, const char *spec, dg_err *err)
{
    dg_served_model *m = &r->models[r->n];
    memset(m, 0, sizeof *m);
    const char *eq = strchr(spec, '=');
    const char *dir = eq ? eq + 1 : spec;
    /* DIR:TYPE gives this model its own compute type; a ':' followed by anything else is part
     * of the folder name */
    const char *colon = strrchr(dir, ':');
    int ct = colon ? dg_compute_type_parse(colon + 1) : -1;
    size_t dir_len = ct >= 0 ? (size_t)(colon - dir) : strlen(dir);
    m->load = r->load;
    if (ct >= 0)
        m->load.compute_type = (dg_compute_type)ct;
    if (!dir_len)
        return dg_err_set(err, DG_E_INPUT, "--model '%s': empty folder", spec);
    if (dir_len >= sizeof m->dir)
        return dg_err_set(err, DG_E_INPUT, "--model: folder path too long");
    snprintf(m->dir, sizeof m->dir, "%.*s", (int)dir_len, dir);
    size_t dl = strlen(m->dir);
    while (dl > 1 && m->dir[dl - 1] == '/')
        m->dir[--dl] = 0;
    struct stat st;
    if (stat(m->dir, &st) || !S_ISDIR(st.st_mode))
        return dg_err_set(err, DG_E_IO, "--model '%s': '%s' is not a folder", spec, m->dir);
    const char *base = strrchr(m->dir, '/') ? strrchr(m->dir, '/') + 1 : m->dir;
    size_t nl = eq ? (size_t)(eq - spec) : strlen(base);
    const char *name = eq ? spec : base;
    if (nl == 0 || nl >= sizeof m->name)
        return dg_err_set(err, DG_E_INPUT, "--model '%s': the name must have 1 to %zu bytes",
                          spec, sizeof m->name - 1);
    for (size_t i = 0; i < nl; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return dg_err_set(err, DG_E_INPUT,
                              "--model '%s': names use letters, digits, '.', '_' and '-'", spec);
    snprintf(m->name, sizeof m->name, "%.*s", (int)nl, name);
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->models[i].name, m->name))
            return dg_err_set(err, DG_E_INPUT, "--model: two models are named '%s'", m->name);
    if (pair_from_tokenizer_config(m->dir, m->source, m->target, sizeof m->source) &&
        dg_pair_from_folder_name(base, m->source, m->target, sizeof m->source))
        m->source[0] = m->target[0] = 0;
    r->n++;
    return DG_OK;
}

dg_code dg_registry_init(dg_registry *r, const dg_serve_config *c, const char *default_dir,
                         dg_err *err)
{
    memset(r, 0, sizeof *r);
    dg_model_opts_default(&r->load);
    r->load.compute_type = (dg_compute_type)c->compute_type;
    if (c->n_models == 0) {
        struct stat st;
        if (stat(default_dir, &st))
            return dg_err_set(err, DG_E_IO,
                              "no --model given and the bundled demo model '%s' is absent "
                              "(train it with models/demo, or pass --model DIR)", default_dir);
        return add_model(r, default_dir, err);
    }
    for (int i = 0; i < c->n_models; i++)
        if (add_model(r, c->models[i], err))
            return err ? err->code : DG_E_INPUT;
    return DG_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

dg_code dg_registry_load(dg_registry *r, dg_err *err)
{
    for (int i = 0; i < r->n; i++) {
        dg_served_model *m = &r->models[i];
        double t0 = now_s();
        if (!(m->tok = dg_tokenizer_load(m->dir, err)))
            return dg_err_prefix(err, "model '%s'", m->name);
        if (!(m->model = dg_model_load_opts(m->dir, &m->load, err)))
            return dg_err_prefix(err, "model '%s'", m->name);
        const dg_config *cfg = dg_model_config(m->model);
        dg_search_opts_default(&m->defaults, m->model);
        m->max_positions = cfg->max_positions;
        m->load_s = now_s() - t0;
        dg_metrics_model(m->name, m->source, m->target, m->load_s);
    }
    return DG_OK;
}

void dg_registry_free(dg_registry *r)
{
    for (int i = 0; r && i < r->n; i++) {
        dg_model_free(r->models[i].model);
        dg_tokenizer_free(r->models[i].tok);
        r->models[i].model = NULL;
        r->models[i].tok = NULL;
    }
}

static int lang_match(const char *want, const char *have)
{
    return !want || !strcasecmp(want, have);
}

/* ===== multilingual models ===== */

/* Whether m serves source -> target by its tokenizer's languages; fills c. The error says why
 * not (for a request naming the model). */
static bool route_model(const dg_served_model *m, const char *source, const char *target,
                        dg_lang_choice *c, char *why, size_t why_size)
{
    *c = (dg_lang_choice){-1, -1, false, -1};
    const dg_tokenizer *t = m->tok;
    dg_err err = {0};
    bool by_name = lang_match(source, m->source) && lang_match(target, m->target);
    if (!t) {
        if (!by_name)
            snprintf(why, why_size, "model '%s' translates %s to %s", m->name,
                     m->source[0] ? m->source : "?", m->target[0] ? m->target : "?");
        return by_name;
    }
    int ns = dg_tokenizer_n_langs(t, DG_SIDE_SOURCE), nt = dg_tokenizer_n_langs(t, DG_SIDE_TARGET);
    /* a side without language list is checked against the folder's pair */
    if (source && ns && dg_tokenizer_find_lang(t, DG_SIDE_SOURCE, source, &c->src, &err)) {
        snprintf(why, why_size, "model '%s': %.400s", m->name, err.msg);
        return false;
    }
    if (source && !ns && !lang_match(source, m->source)) {
        snprintf(why, why_size, "model '%s' translates from %s, not %s", m->name,
                 m->source[0] ? m->source : "?", source);
        return false;
    }
    if (target && nt && dg_tokenizer_find_lang(t, DG_SIDE_TARGET, target, &c->tgt, &err)) {
        /* a multi-target OPUS-MT model still serves its folder's pair without a >>xx<< token */
        if (!(lang_match(target, m->target) && m->target[0])) {
            if (m->source[0] && m->target[0])
                snprintf(why, why_size, "model '%s' translates %s to %s, not to %s (%.300s)",
                         m->name, m->source, m->target, target, err.msg);
            else
                snprintf(why, why_size, "model '%s': %.400s", m->name, err.msg);
            return false;
        }
    }
    if (target && !nt && !lang_match(target, m->target)) {
        snprintf(why, why_size, "model '%s' translates into %s, not %s", m->name,
                 m->target[0] ? m->target : "?", target);
        return false;
    }
    int s = c->src >= 0 ? c->src : dg_tokenizer_default_lang(t, DG_SIDE_SOURCE);
    int g = c->tgt >= 0 ? c->tgt : dg_tokenizer_default_lang(t, DG_SIDE_TARGET);
    if (!dg_tokenizer_pair_ok(t, s, g)) {
        snprintf(why, why_size, "model '%s' does not translate %s to %s", m->name,
                 dg_tokenizer_lang(t, DG_SIDE_SOURCE, s), dg_tokenizer_lang(t, DG_SIDE_TARGET, g));
        return false;
    }
    c->pair = c->src >= 0 || c->tgt >= 0;
    if (c->tgt >= 0)
        c->forced_bos = dg_tokenizer_forced_bos(t, c->tgt);
    return true;
}

const dg_served_model *dg_registry_route(const dg_registry *r, const char *name,
                                         const char *source, const char *target,
                                         dg_lang_choice *c, dg_api_error *e)
{
    char why[512] = "";
    for (int i = 0; i < r->n; i++) {
        const dg_served_model *m = &r->models[i];
        if (name && strcmp(m->name, name))
            continue;
        if (route_model(m, source, target, c, why, sizeof why))
            return m;
        if (name) {
            dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR, "%s", why);
            return NULL;
        }
    }
    if (name)
        dg_api_error_set(e, DG_API_MODEL_NOT_FOUND, "no model named '%s' (see GET /v1/models)",
                         name);
    else
        dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR,
                         "no model translates %s to %s (see GET /languages)",
                         source ? source : "any language", target ? target : "any language");
    return NULL;
}

dg_code dg_registry_encode(const dg_served_model *m, const dg_lang_choice *c, const char *text,
                           size_t len, int **ids, int *n, dg_err *err)
{
    return c->pair ? dg_tokenizer_encode_pair(m->tok, c->src, c->tgt, text, len, ids, n, err)
                   : dg_tokenizer_encode(m->tok, DG_SIDE_SOURCE, text, len, ids, n, err);
}

/* The codes a side offers: the tokenizer's ISO codes, else the folder's code. */
static int side_codes(const dg_served_model *m, dg_side side, const char **out, int cap)
{
    int n = m->tok ? dg_tokenizer_n_langs(m->tok, side) : 0;
    if (!n) {
        const char *c = side == DG_SIDE_SOURCE ? m->source : m->target;
        if (!c[0] || cap < 1)
            return 0;
        out[0] = c;
        return 1;
    }
    int k = 0;
    for (int i = 0; i < n && k < cap; i++)
        out[k++] = dg_tokenizer_lang_iso(m->tok, side, i);
    return k;
}

static json_t *find_source(json_t *arr, const char *code)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
        if (!strcmp(json_string_value(json_object_get(o, "code")), code))
            return o;
    return NULL;
}

static int cmp_code(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *dg_registry_languages(const dg_registry *r)
{
    enum { CAP = 512 };
    const char *src[CAP], *tgt[CAP];
    json_t *arr = json_array();
    for (int i = 0; arr && i < r->n; i++) {
        const dg_served_model *m = &r->models[i];
        int ns = side_codes(m, DG_SIDE_SOURCE, src, CAP), nt = side_codes(m, DG_SIDE_TARGET, tgt, CAP);
        for (int a = 0; a < ns; a++) {
            json_t *o = find_source(arr, src[a]);
            if (!o) {
                o = json_pack("{s:s, s:s, s:[]}", "code", src[a], "name",
                              dg_language_name(src[a]), "targets");
                json_array_append_new(arr, o);
            }
            json_t *targets = json_object_get(o, "targets");
            for (int b = 0; b < nt; b++) {
                if (!strcmp(src[a], tgt[b]) && nt > 1)
                    continue; /* a multilingual model lists real translations only */
                if (m->tok && dg_tokenizer_n_langs(m->tok, DG_SIDE_SOURCE) &&
                    dg_tokenizer_n_langs(m->tok, DG_SIDE_TARGET) &&
                    !dg_tokenizer_pair_ok(m->tok, a, b))
                    continue;
                size_t k;
                json_t *x;
                bool seen = false;
                json_array_foreach(targets, k, x)
                    seen = seen || !strcmp(json_string_value(x), tgt[b]);
                if (!seen)
                    json_array_append_new(targets, json_string(tgt[b]));
            }
        }
    }
    /* LibreTranslate lists every language it knows, including those only translated into
     * (targets []): its clients validate a request's target against the codes */
    for (int i = 0; arr && i < r->n; i++) {
        int nt = side_codes(&r->models[i], DG_SIDE_TARGET, tgt, CAP);
        for (int b = 0; b < nt; b++)
            if (!find_source(arr, tgt[b]))
                json_array_append_new(arr, json_pack("{s:s, s:s, s:[]}", "code", tgt[b], "name",
                                                     dg_language_name(tgt[b]), "targets"));
    }
    size_t k;
    json_t *o;
    json_array_foreach(arr, k, o) {
        json_t *targets = json_object_get(o, "targets");
        size_t nt = json_array_size(targets);
        const char *sorted[CAP];
        for (size_t j = 0; j < nt && j < CAP; j++)
            sorted[j] = json_string_value(json_array_get(targets, j));
        qsort(sorted, nt < CAP ? nt : CAP, sizeof *sorted, cmp_code);
        json_t *t = json_array();
        for (size_t j = 0; t && j < nt && j < CAP; j++)
            json_array_append_new(t, json_string(sorted[j]));
        json_object_set_new(o, "targets", t);
    }
    return arr;
}

json_t *dg_registry_model_languages(const dg_served_model *m)
{
    json_t *o = json_pack("{s:[], s:[]}", "source", "target");
    for (int side = 0; o && side < 2; side++) {
        json_t *list = json_object_get(o, side ? "target" : "source");
        int n = m->tok ? dg_tokenizer_n_langs(m->tok, (dg_side)side) : 0;
        for (int i = 0; i < n; i++)
            json_array_append_new(list, json_string(dg_tokenizer_lang_iso(m->tok, (dg_side)side, i)));
    }
    return o;
}
