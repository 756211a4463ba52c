/* DESIGN: every `dragoman serve` option is one row of `options[]` (name, environment variable,
 * kind, bounds, default, field offset, help). Parsing, --help and the startup description all
 * walk the same table, so a new option is one line and can never be documented but unparsed.
 * Values are validated here (integer bounds, enum choices) so the rest of the server trusts
 * dg_serve_config. */
#include "server/config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OPT_INT, OPT_STR, OPT_LIST, OPT_ENUM } opt_kind;

typedef struct {
    const char *name;     /* --name */
    const char *env;      /* DRAGOMAN_NAME */
    opt_kind kind;
    size_t offset;        /* field in dg_serve_config */
    long min, max;        /* OPT_INT bounds */
    const char *def;      /* default as text; NULL = unset */
    const char *choices;  /* OPT_ENUM: "a|b", index = value */
    const char *metavar;
    const char *help;
} option;

#define F(field) offsetof(dg_serve_config, field)

static const option options[] = {
    {"model", "DRAGOMAN_MODEL", OPT_LIST, F(models), 0, 0, NULL, NULL, "[NAME=]DIR[:TYPE]",
     "checkpoint folder to serve (repeatable; the environment takes a comma-separated list), "
     "with its own compute type TYPE (as --compute-type); default: the bundled "
     "models/demo-en-de"},
    {"host", "DRAGOMAN_HOST", OPT_STR, F(host), 0, 0, "127.0.0.1", NULL, "ADDR",
     "IPv4 or IPv6 address to listen on"},
    {"port", "DRAGOMAN_PORT", OPT_INT, F(port), 0, 65535, "8080", NULL, "N",
     "TCP port; 0 picks a free port and logs it"},
    {"workers", "DRAGOMAN_WORKERS", OPT_INT, F(workers), 1, 256, "1", NULL, "N",
     "decoding threads, each with its own batch per model"},
    {"threads-per-worker", "DRAGOMAN_THREADS_PER_WORKER", OPT_INT, F(threads_per_worker), 0, 256,
     "0", NULL, "N",
     "intra-op threads of each worker; 0 = usable CPUs (affinity, cgroup quota) / workers"},
    {"http-threads", "DRAGOMAN_HTTP_THREADS", OPT_INT, F(http_threads), 1, 64, "2", NULL, "N",
     "threads parsing requests and tokenizing (never decoding)"},
    {"max-batch-tokens", "DRAGOMAN_MAX_BATCH_TOKENS", OPT_INT, F(max_batch_tokens), 2, 1 << 24,
     "65536", NULL, "N",
     "KV-cache positions of a worker's batch; a sentence costs source tokens + beams x "
     "max_length, one request holds at most half, a larger sentence is refused (400)"},
    {"max-memory", "DRAGOMAN_MAX_MEMORY", OPT_INT, F(max_memory_mb), 0, 1 << 20, "0", NULL, "MIB",
     "decoding state the running requests may reserve (worst case); beyond it 429; 0 = off"},
    {"max-queue", "DRAGOMAN_MAX_QUEUE", OPT_INT, F(max_queue), 1, 1 << 24, "1024", NULL, "N",
     "sentences waiting for a worker; beyond it requests get 429"},
    {"timeout-ms", "DRAGOMAN_TIMEOUT_MS", OPT_INT, F(timeout_ms), 1, 86400000, "30000", NULL,
     "MS", "deadline of a translation request; past it 504 and its sentences are cancelled"},
    {"max-connections", "DRAGOMAN_MAX_CONNECTIONS", OPT_INT, F(max_connections), 1, 65536,
     "256", NULL, "N", "open client connections; more are refused at accept"},
    {"max-body-total", "DRAGOMAN_MAX_BODY_TOTAL", OPT_INT, F(max_body_total_mb), 1, 1 << 20,
     "64", NULL, "MIB", "request bodies buffered at once, all connections; beyond it 503"},
    {"body-timeout-ms", "DRAGOMAN_BODY_TIMEOUT_MS", OPT_INT, F(body_timeout_ms), 100, 3600000,
     "10000", NULL, "MS", "time from the request headers to the end of its body; past it 408"},
    {"max-body-bytes", "DRAGOMAN_MAX_BODY_BYTES", OPT_INT, F(max_body_bytes), 64, 1 << 30,
     "1048576", NULL, "N", "largest request body; larger gets 413 while it streams in"},
    {"max-texts", "DRAGOMAN_MAX_TEXTS", OPT_INT, F(max_texts), 1, 1 << 20, "128", NULL, "N",
     "texts in one request"},
    {"max-input-tokens", "DRAGOMAN_MAX_INPUT_TOKENS", OPT_INT, F(max_input_tokens), 2, 1 << 20,
     "512", NULL, "N", "tokens of one sentence; longer is 400 unless options.truncate"},
    {"api-keys", "DRAGOMAN_API_KEYS", OPT_STR, F(api_keys), 0, 0, NULL, NULL, "FILE",
     "file of accepted API keys, one per line; when set every API call needs one"},
    {"cache-bytes", "DRAGOMAN_CACHE_BYTES", OPT_INT, F(cache_bytes), 0, 2147483647, "0", NULL,
     "N", "translation cache: finished sentences kept (LRU) up to N bytes; 0 = off"},
    {"cors-origins", "DRAGOMAN_CORS_ORIGINS", OPT_STR, F(cors_origins), 0, 0, NULL, NULL,
     "LIST", "browser origins allowed to call the API (comma-separated, or *); answers CORS "
     "preflight (OPTIONS)"},
    {"grace-ms", "DRAGOMAN_GRACE_MS", OPT_INT, F(grace_ms), 0, 3600000, "10000", NULL, "MS",
     "on SIGTERM/SIGINT, time left to in-flight requests before exit"},
    {"log-format", "DRAGOMAN_LOG_FORMAT", OPT_ENUM, F(log_format), 0, 0, "text", "text|json",
     "text|json", "request log format"},
    /* choices in dg_compute_type order (engine.h) */
    {"compute-type", "DRAGOMAN_COMPUTE_TYPE", OPT_ENUM, F(compute_type), 0, 0, "float32",
     "auto|float32|int8|bfloat16", "TYPE",
     "weight storage and arithmetic of the models without their own :TYPE (float32 = Hugging "
     "Face's ids; auto = int8 on CPUs with AVX2 or AVX-512, else float32)"},
};
#define N_OPTIONS (int)(sizeof options / sizeof options[0])
_Static_assert(sizeof options / sizeof options[0] <= sizeof ((dg_serve_config *)0)->source,
               "dg_serve_config.source needs a slot per option");

static int enum_index(const char *choices, const char *v)
{
    size_t n = strlen(v);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return i;
        if (!e)
            break;
        p = e + 1;
    }
    return -1;
}

static void list_clear(dg_serve_config *c)
{
    for (int i = 0; i < c->n_models; i++)
        free(c->models[i]);
    c->n_models = 0;
}

static dg_code list_add(dg_serve_config *c, const char *v, size_t n, const char *who, dg_err *err)
{
    if (n == 0)
        return dg_err_set(err, DG_E_INPUT, "%s: empty model entry", who);
    if (c->n_models == DG_MAX_MODELS)
        return dg_err_set(err, DG_E_INPUT, "%s: at most %d models", who, DG_MAX_MODELS);
    char *s = malloc(n + 1);
    if (!s)
        return dg_err_set(err, DG_E_NOMEM, "out of memory");
    memcpy(s, v, n);
    s[n] = 0;
    c->models[c->n_models++] = s;
    return DG_OK;
}

/* Stores text value v into option o; who names the origin for messages ("--port", "DRAGOMAN_PORT"). */
static dg_code set_value(dg_serve_config *c, const option *o, const char *v, const char *who,
                         dg_err *err)
{
    char *field = (char *)c + o->offset;
    switch (o->kind) {
    case OPT_INT: {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end)
            return dg_err_set(err, DG_E_INPUT, "%s: '%s' is not an integer", who, v);
        if (x < o->min || x > o->max)
            return dg_err_set(err, DG_E_INPUT, "%s: %ld is outside [%ld, %ld]", who, x, o->min,
                              o->max);
        *(int *)field = (int)x;
        return DG_OK;
    }
    case OPT_STR: {
        char *s = strdup(v);
        if (!s)
            return dg_err_set(err, DG_E_NOMEM, "out of memory");
        free(*(char **)field);
        *(char **)field = s;
        return DG_OK;
    }
    case OPT_ENUM: {
        int i = enum_index(o->choices, v);
        if (i < 0)
            return dg_err_set(err, DG_E_INPUT, "%s: '%s' is not one of %s", who, v, o->choices);
        *(int *)field = i;
        return DG_OK;
    }
    case OPT_LIST:
        for (const char *p = v;;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (list_add(c, p, n, who, err))
                return err ? err->code : DG_E_INPUT;
            if (!e)
                return DG_OK;
            p = e + 1;
        }
    }
    return dg_err_set(err, DG_E_INTERNAL, "%s: unknown option kind", who);
}

dg_code dg_serve_config_parse(dg_serve_config *c, int argc, char **argv, int *help, dg_err *err)
{
    memset(c, 0, sizeof *c);
    *help = 0;
    for (int i = 0; i < N_OPTIONS; i++)
        if (options[i].def && set_value(c, &options[i], options[i].def, options[i].name, err))
            return err ? err->code : DG_E_INTERNAL;
    for (int i = 0; i < N_OPTIONS; i++) {
        const char *v = getenv(options[i].env);
        if (v && *v) {
            if (options[i].kind == OPT_LIST)
                list_clear(c);
            if (set_value(c, &options[i], v, options[i].env, err))
                return err ? err->code : DG_E_INPUT;
            c->source[i] = 1;
        }
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            return DG_OK;
        }
        if (strncmp(arg, "--", 2))
            return dg_err_set(err, DG_E_INPUT, "unexpected argument '%s'", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int k = -1;
        for (int i = 0; i < N_OPTIONS; i++)
            if (strlen(options[i].name) == nlen && !strncmp(options[i].name, name, nlen))
                k = i;
        if (k < 0)
            return dg_err_set(err, DG_E_INPUT, "unknown option '%.*s' (see --help)",
                              (int)nlen + 2, arg);
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (a + 1 >= argc)
                return dg_err_set(err, DG_E_INPUT, "--%s needs a value", options[k].name);
            v = argv[++a];
        }
        /* the first --model on the command line replaces models from the environment */
        if (options[k].kind == OPT_LIST && c->source[k] != 2)
            list_clear(c);
        char who[64];
        snprintf(who, sizeof who, "--%s", options[k].name);
        if (set_value(c, &options[k], v, who, err))
            return err ? err->code : DG_E_INPUT;
        c->source[k] = 2;
    }
    return DG_OK;
}

void dg_serve_config_free(dg_serve_config *c)
{
    if (!c)
        return;
    list_clear(c);
    for (int i = 0; i < N_OPTIONS; i++)
        if (options[i].kind == OPT_STR) {
            char **f = (char **)((char *)c + options[i].offset);
            free(*f);
            *f = NULL;
        }
}

void dg_serve_config_usage(FILE *f)
{
    fprintf(f, "usage: dragoman serve [options]\n\n"
               "Serves translation models over HTTP (see GET /openapi.json).\n"
               "Every option can also be set by its environment variable; flags win.\n\n");
    for (int i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        char head[64];
        snprintf(head, sizeof head, "--%s %s", o->name, o->metavar);
        fprintf(f, "  %-30s %s\n  %-30s [%s", head, o->help, "", o->env);
        if (o->def)
            fprintf(f, ", default %s", o->def);
        if (o->kind == OPT_INT)
            fprintf(f, ", %ld..%ld", o->min, o->max);
        fprintf(f, "]\n");
    }
}

void dg_serve_config_describe(const dg_serve_config *c, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < N_OPTIONS && used < size; i++) {
        const option *o = &options[i];
        const char *field = (const char *)c + o->offset;
        char val[512];
        switch (o->kind) {
        case OPT_INT: snprintf(val, sizeof val, "%d", *(const int *)field); break;
        case OPT_STR: {
            const char *s = *(char *const *)field;
            snprintf(val, sizeof val, "%s", s ? s : "-");
            break;
        }
        case OPT_ENUM: {
            const char *p = o->choices;
            for (int k = *(const int *)field; k > 0 && p; k--)
                p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
            snprintf(val, sizeof val, "%.*s", p ? (int)strcspn(p, "|") : 1, p ? p : "?");
            break;
        }
        case OPT_LIST: {
            size_t n = 0;
            val[0] = 0;
            for (int k = 0; k < c->n_models && n < sizeof val; k++)
                n += snprintf(val + n, sizeof val - n, "%s%s", k ? "," : "", c->models[k]);
            if (!c->n_models)
                snprintf(val, sizeof val, "-");
            break;
        }
        }
        int w = snprintf(buf + used, size - used, "%s%s=%s%s", i ? " " : "", o->name, val,
                         c->source[i] ? (c->source[i] == 1 ? "(env)" : "") : "");
        used += w > 0 ? (size_t)w : 0;
    }
}
