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

#include "server/metrics.h"

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
    if (!*dir)
        return dg_err_set(err, DG_E_INPUT, "--model '%s': empty folder", spec);
    if (strlen(dir) >= sizeof m->dir)
        return dg_err_set(err, DG_E_INPUT, "--model: folder path too long");
    snprintf(m->dir, sizeof m->dir, "%s", dir);
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
        if (!(m->model = dg_model_load_opts(m->dir, &r->load, err)))
            return dg_err_prefix(err, "model '%s'", m->name);
        const dg_config *cfg = dg_model_config(m->model);
        dg_search_opts_default(&m->defaults, m->model);
        m->max_positions = cfg->max_position_embeddings;
        m->eos_id = cfg->eos_token_id;
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

const dg_served_model *dg_registry_find(const dg_registry *r, const char *name,
                                        const char *source, const char *target,
                                        dg_api_error *e)
{
    if (name) {
        for (int i = 0; i < r->n; i++) {
            const dg_served_model *m = &r->models[i];
            if (strcmp(m->name, name))
                continue;
            if (!lang_match(source, m->source) || !lang_match(target, m->target)) {
                dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR,
                                 "model '%s' translates %s to %s, not %s to %s", m->name,
                                 m->source[0] ? m->source : "?", m->target[0] ? m->target : "?",
                                 source ? source : m->source, target ? target : m->target);
                return NULL;
            }
            return m;
        }
        dg_api_error_set(e, DG_API_MODEL_NOT_FOUND, "no model named '%s' (see GET /v1/models)",
                         name);
        return NULL;
    }
    for (int i = 0; i < r->n; i++)
        if (lang_match(source, r->models[i].source) && lang_match(target, r->models[i].target))
            return &r->models[i];
    dg_api_error_set(e, DG_API_UNSUPPORTED_LANGUAGE_PAIR,
                     "no model translates %s to %s (see GET /languages)",
                     source ? source : "any language", target ? target : "any language");
    return NULL;
}
