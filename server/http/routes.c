/* DESIGN: the route table maps path → handler and allowed methods (for 404/405/Allow); the
 * handlers turn parsed requests into replies. Translation runs in two halves: translate_start
 * (HTTP thread: validate, pick the model, dg_text_prepare the texts into segments, submit,
 * suspend) and dg_route_finish (after the scheduler resumed the connection: dg_text_finish the
 * segments back into texts, render). Options the client did not give keep the model's
 * generation defaults, exactly as Hugging Face generate() would use them. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "server/sched/cache.h"
#include "server/http/http.h"
#include "server/obs/log.h"

extern const char dg_openapi_json[];  /* server/api/openapi.c: server/api/openapi.json, embedded */
extern const char dg_index_html[];    /* server/http/webpage.c: server/http/index.html, embedded */

static const struct {
    const char *path;         /* a prefix when it ends with '/' (except "/" itself) */
    dg_route route;
    const char *allow;
    bool lt;                  /* LibreTranslate's: its error envelope, key in the body */
} routes[] = {
    {"/v1/translate", DG_ROUTE_TRANSLATE, "POST", false},
    {"/translate", DG_ROUTE_LT_TRANSLATE, "POST", true},
    {"/languages", DG_ROUTE_LANGUAGES, "GET, HEAD", true},
    {"/detect", DG_ROUTE_LT_DETECT, "POST", true},
    {"/frontend/settings", DG_ROUTE_LT_SETTINGS, "GET, HEAD", true},
    {"/translate_file", DG_ROUTE_LT_FILE, "POST", true},
    {"/download_file/", DG_ROUTE_LT_DOWNLOAD, "GET, HEAD", true},
    {"/v1/models", DG_ROUTE_MODELS, "GET, HEAD", false},
    {"/health", DG_ROUTE_HEALTH, "GET, HEAD", false},
    {"/ready", DG_ROUTE_READY, "GET, HEAD", false},
    {"/metrics", DG_ROUTE_METRICS, "GET, HEAD", false},
    {"/openapi.json", DG_ROUTE_OPENAPI, "GET, HEAD", false},
    {"/", DG_ROUTE_WEB, "GET, HEAD", false},
};

bool dg_route_is_lt(dg_route route)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].route == route)
            return routes[i].lt;
    return false;
}

int dg_route_match(const char *method, const char *path, dg_route *route, const char **allow)
{
    *route = DG_ROUTE_OTHER;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t plen = strlen(routes[i].path);
        if (plen > 1 && routes[i].path[plen - 1] == '/' ? strncmp(path, routes[i].path, plen)
                                            : strcmp(path, routes[i].path))
            continue;
        *route = routes[i].route;
        *allow = routes[i].allow;
        size_t n = strlen(method);
        for (const char *p = routes[i].allow; *p;) {
            size_t k = strcspn(p, ",");
            if (k == n && !strncmp(p, method, n))
                return 0;
            p += k;
            while (*p == ',' || *p == ' ')
                p++;
        }
        return 405;
    }
    return 404;
}

bool dg_route_needs_key(dg_route route)
{
    return route == DG_ROUTE_TRANSLATE || route == DG_ROUTE_LT_TRANSLATE ||
           route == DG_ROUTE_LT_DETECT || route == DG_ROUTE_LT_FILE || route == DG_ROUTE_MODELS;
}

/* media type before any ";" parameter, case-insensitive */
static bool media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (strncasecmp(ct, want, n))
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

bool dg_route_content_type_ok(dg_route route, const char *ct)
{
    if (route == DG_ROUTE_LT_FILE)
        return ct && media_is(ct, "multipart/form-data");
    if (route != DG_ROUTE_TRANSLATE && route != DG_ROUTE_LT_TRANSLATE &&
        route != DG_ROUTE_LT_DETECT)
        return true;
    if (!ct)
        return false;
    if (media_is(ct, "application/json"))
        return true;
    return route != DG_ROUTE_TRANSLATE && (media_is(ct, "application/x-www-form-urlencoded") ||
                                           media_is(ct, "multipart/form-data"));
}

bool dg_api_key_ok(const dg_server *srv, const char *key)
{
    size_t n = strlen(key);
    bool ok = false;
    for (int i = 0; i < srv->n_api_keys; i++) {
        const char *k = srv->api_keys[i];
        if (strlen(k) != n)
            continue;
        unsigned char diff = 0;  /* constant time within one length: no early exit */
        for (size_t j = 0; j < n; j++)
            diff |= (unsigned char)(k[j] ^ key[j]);
        ok |= diff == 0;
    }
    return ok;
}

static char *dumps(json_t *o)
{
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void reply_json(dg_req *rq, int status, json_t *o)
{
    char *s = dumps(o);
    if (!s) {
        dg_api_error e;
        dg_api_error_set(&e, DG_API_INTERNAL, "out of memory");
        dg_req_error(rq, &e);
        return;
    }
    dg_req_reply(rq, status, s);
}

static void reply_error(dg_req *rq, dg_api_error_kind kind, const char *fmt, const char *arg)
{
    dg_api_error e;
    dg_api_error_set(&e, kind, fmt, arg);
    dg_req_error(rq, &e);
}

/* ---- informational routes ---- */

static void handle_models(dg_server *srv, dg_req *rq)
{
    json_t *arr = json_array();
    int ready = atomic_load(&srv->ready);
    for (int i = 0; i < srv->reg->n; i++) {
        const dg_served_model *m = &srv->reg->models[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", m->name, "source", m->source,
                              "target", m->target, "ready", ready);
        if (o && ready) {
            const dg_search_opts *d = &m->defaults;
            json_object_set_new(o, "languages", dg_registry_model_languages(m));
            json_object_set_new(o, "max_input_tokens",
                                json_integer(m->max_positions < srv->cfg->max_input_tokens
                                                 ? m->max_positions
                                                 : srv->cfg->max_input_tokens));
            json_object_set_new(o, "defaults",
                                json_pack("{s:i, s:i, s:f, s:i, s:f}", "beam_size", d->num_beams,
                                          "max_length", d->max_new_tokens + 1, "length_penalty",
                                          (double)d->length_penalty, "no_repeat_ngram_size",
                                          d->no_repeat_ngram_size, "repetition_penalty",
                                          (double)d->repetition_penalty));
        }
        json_array_append_new(arr, o);
    }
    reply_json(rq, 200, json_pack("{s:o}", "models", arr));
}

/* ---- translation ---- */

static void on_job_done(dg_job *job, void *arg)
{
    (void)job;
    dg_req *rq = arg;
    MHD_resume_connection(rq->conn);
}

/* Model defaults, overridden by the request's options (server/api/gen_options.c). */
static int build_opts(const dg_served_model *m, const dg_translate_options *o,
                      dg_search_opts *s, dg_api_error *e)
{
    char msg[256];
    if (dg_gen_apply(&o->gen, m->model, m->tok, m->max_positions, DG_GEN_HTTP, s, msg,
                     sizeof msg))
        return dg_api_error_set(e, DG_API_INVALID_REQUEST, "%s", msg);
    return 0;
}

/* The texts into segments (text/pipeline.h), each one's ids a sentence of the job. */
static int tokenize(dg_server *srv, dg_req *rq, const dg_served_model *m,
                    const dg_lang_choice *lc, dg_api_error *e)
{
    const dg_translate_request *t = &rq->treq;
    int limit = srv->cfg->max_input_tokens < m->max_positions ? srv->cfg->max_input_tokens
                                                                : m->max_positions;
    /* with a target prefix a text is one segment: the prefix begins its translation */
    dg_text_opts o = {.format = t->html ? DG_TEXT_HTML : DG_TEXT_PLAIN,
                      .split = !t->opts.target_prefix, .preserve = !t->opts.no_preserve,
                      .return_alignment = t->opts.return_alignment, .pair = lc->pair,
                      .src = lc->src, .tgt = lc->tgt, .max_tokens = limit,
                      .truncate = t->opts.truncate, .max_segments = srv->cfg->max_queue};
    dg_text_fail f;
    dg_err err;
    dg_text_set *ts = &rq->text;
    dg_code rc = dg_text_prepare((const char *const *)t->texts, t->n_texts, &o, m->tok, ts, &f,
                                 &err);
    for (int k = 0; k < ts->n_segs; k++)
        rq->tokens_in += ts->segs[k].n_ids;
    if (rc && f.too_many)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "the texts split into more than %d sentences (--max-queue)",
                                srv->cfg->max_queue);
    if (rc && f.n_tokens)
        return dg_api_error_set(e, DG_API_INPUT_TOO_LONG,
                                "text %d, sentence %d has %d tokens, more than the limit of %d "
                                "(set options.truncate to cut it)",
                                f.doc, f.seg, f.n_tokens, limit);
    if (rc && f.doc >= 0)
        return dg_api_error_set(e, dg_api_error_from_code(err.code), "text %d: %s", f.doc,
                                err.msg);
    if (rc)
        return dg_api_error_set(e, dg_api_error_from_code(err.code), "%s", err.msg);
    if (!(rq->job = dg_job_create(ts->n_segs)))
        return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    for (int k = 0; k < ts->n_segs; k++) {  /* the job owns its ids (it may outlive rq) */
        dg_sentence *x = &rq->job->s[k];
        const dg_text_segment *g = &ts->segs[k];
        if (!(x->ids = malloc((size_t)(g->n_ids ? g->n_ids : 1) * sizeof *x->ids)))
            return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
        memcpy(x->ids, g->ids, (size_t)g->n_ids * sizeof *x->ids);
        x->n_ids = g->n_ids;
    }
    rq->sentences = ts->n_segs;
    return 0;
}

/* Answers what it can from the cache: rq->all keeps every sentence, rq->job becomes a job of
 * the others only (NULL when none is left), rq->miss maps them back. Without hits nothing
 * changes. */
static int use_cache(dg_server *srv, dg_req *rq, const dg_search_opts *o, int model,
                     dg_api_error *e)
{
    dg_job *j = rq->job;
    if (!(rq->cacheable = dg_cache_cacheable(o, rq->treq.opts.gen.set >> DG_GEN_SEED & 1)))
        return 0;
    int hits = 0;
    for (int i = 0; i < j->n; i++)
        hits += dg_cache_get(srv->cache, model, o, &j->s[i]);
    if (!hits)
        return 0;
    dg_job *sub = hits < j->n ? dg_job_create(j->n - hits) : NULL;
    if (hits < j->n && (!sub || !(rq->miss = calloc((size_t)(j->n - hits), sizeof *rq->miss)))) {
        dg_job_release(sub);
        return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    }
    for (int i = 0, m = 0; sub && i < j->n; i++) {
        if (j->s[i].n_hyps)
            continue;
        sub->s[m].ids = j->s[i].ids;  /* moved: the submitted job owns them now */
        sub->s[m].n_ids = j->s[i].n_ids;
        j->s[i].ids = NULL;
        rq->miss[m++] = i;
    }
    rq->all = j;
    rq->job = sub;
    return 0;
}

/* After the submitted job finished: its results into rq->all, and into the cache. */
static void merge_cached(dg_server *srv, dg_req *rq)
{
    dg_job *j = rq->job, *all = rq->all ? rq->all : rq->job;
    for (int m = 0; j && m < j->n; m++) {
        dg_sentence *x = &j->s[m], *y = rq->all ? &all->s[rq->miss[m]] : x;
        if (rq->cacheable)  /* with the alignment, so a hit restores spans the same way */
            dg_cache_put(srv->cache, j->model_index, &j->opts, x);
        if (y == x)
            continue;
        y->hyps = x->hyps, y->scores = x->scores, y->n_hyps = x->n_hyps;
        y->out_tokens = x->out_tokens;
        y->ids = x->ids, y->n_ids = x->n_ids;
        y->res = x->res;
        x->hyps = NULL, x->scores = NULL, x->n_hyps = 0, x->ids = NULL;
        memset(&x->res, 0, sizeof x->res);
    }
}

static void translate_start(dg_server *srv, dg_req *rq)
{
    dg_api_error e;
    dg_translate_request *t = &rq->treq;
    rq->libretranslate = dg_route_is_lt(rq->route);
    int st = rq->libretranslate
                 ? dg_lt_parse_translate(srv, rq, &e)
                 : dg_api_parse_translate(rq->body ? rq->body : "", rq->len, srv->cfg->max_texts,
                                          t, &e);
    if (st) {
        dg_req_error(rq, &e);
        return;
    }
    if (atomic_load(&srv->draining)) {
        reply_error(rq, DG_API_SHUTTING_DOWN, "%s", "the server is shutting down");
        return;
    }
    if (!atomic_load(&srv->ready)) {
        reply_error(rq, DG_API_NOT_READY, "%s", "models are still loading (see GET /ready)");
        return;
    }
    dg_search_opts opts;
    dg_lang_choice lc;
    const dg_served_model *m = dg_registry_route(srv->reg, t->model, t->source, t->target, &lc, &e);
    if (!m || build_opts(m, &t->opts, &opts, &e)) {
        dg_req_error(rq, &e);
        return;
    }
    if (lc.forced_bos >= 0)
        opts.forced_bos_token_id = lc.forced_bos; /* the requested target language */
    rq->model_name = m->name;
    if (tokenize(srv, rq, m, &lc, &e)) {
        dg_req_error(rq, &e);
        return;
    }
    rq->n_best = opts.num_return_sequences;
    /* lost protected spans are put back by the alignment, and HTML tags carried onto words
     * (part of the cache key: an entry made without it has no alignment rows) */
    opts.return_alignment = t->opts.return_alignment || rq->text.needs_align;
    int model_index = (int)(m - srv->reg->models);
    if (srv->cache && use_cache(srv, rq, &opts, model_index, &e)) {
        dg_req_error(rq, &e);
        return;
    }
    dg_job *j = rq->job;
    if (!j) {  /* every sentence came from the cache: no queue, no suspension */
        if (!t->stream)
            dg_route_finish(srv, rq);
        else if (!dg_stream_prepare(srv, rq, NULL))
            reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
        return;
    }
    dg_metrics_inflight(1);
    rq->inflight = true;
    j->opts = opts;
    j->timeout_ms = t->opts.timeout_ms;
    j->model = m;
    j->model_index = model_index;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    j->fd = ci ? ci->connect_fd : -1;
    j->fd_interim = rq->http11;
    j->done = on_job_done;
    j->done_arg = rq;
    if (t->stream) {  /* the stream takes the callbacks over: no suspension */
        if (!dg_stream_prepare(srv, rq, j)) {
            reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
            return;  /* rq->inflight: request_completed uncounts it, releases the job */
        }
        if (dg_scheduler_submit(srv->sched, j, &e)) {
            dg_req_error(rq, &e);
            dg_stream_abandon(rq->stream);
            rq->job = NULL;  /* never submitted */
            dg_job_release(j);
        }
        return;
    }
    /* suspend before submitting: the job may complete (and resume us) at once */
    MHD_suspend_connection(rq->conn);
    rq->suspended = true;
    if (dg_scheduler_submit(srv->sched, j, &e)) {
        dg_req_error(rq, &e);
        rq->job = NULL;  /* never submitted: nothing will call done */
        dg_job_release(j);
        dg_metrics_inflight(-1);
        rq->inflight = false;
        MHD_resume_connection(rq->conn);
    }
}

void dg_route_finish(dg_server *srv, dg_req *rq)
{
    if (rq->job && atomic_load(&rq->job->state) == DG_JOB_FAILED) {
        dg_req_error(rq, &rq->job->error);
        return;
    }
    merge_cached(srv, rq);
    dg_job *j = rq->all ? rq->all : rq->job;
    const dg_translate_request *t = &rq->treq;
    const dg_text_set *ts = &rq->text;
    dg_translation *out = calloc((size_t)t->n_texts, sizeof *out);
    dg_word_alignment *wa = calloc((size_t)t->n_texts, sizeof *wa);
    dg_text_result *res = calloc((size_t)t->n_texts, sizeof *res);
    dg_text_output *o = calloc((size_t)(j->n ? j->n : 1), sizeof *o);
    bool ok = out && wa && res && o;
    for (int k = 0; ok && k < j->n; k++) {  /* the engine's ids and rows kept for alignment */
        const dg_sentence *x = &j->s[k];
        o[k] = (dg_text_output){x->n_hyps, x->hyps, x->res.ids, x->res.len, x->res.align};
    }
    dg_err err = {0};
    ok = ok && !dg_text_finish(ts, o, rq->n_best, res, &err);
    for (int i = 0; ok && i < t->n_texts; i++) {
        const dg_text_doc *d = &ts->docs[i];
        double score = 0;
        for (int k = d->first_seg; k < d->first_seg + d->n_segs; k++) {
            score += j->s[k].scores[0];
            rq->tokens_out += j->s[k].out_tokens;
        }
        out[i] = (dg_translation){res[i].n_hyps, res[i].hyps, d->n_segs ? score / d->n_segs : 0};
        wa[i] = (dg_word_alignment){res[i].n_pairs, res[i].pairs};
    }
    char *body = NULL;
    if (ok)
        body = rq->libretranslate
                   ? dg_lt_translate_reply(srv, rq, out, t->n_texts)
                   : dg_api_translate_response_aligned(rq->model_name, out,
                                                       t->opts.return_alignment ? wa : NULL,
                                                       t->n_texts, t->opts.return_scores);
    dg_text_result_free(res, res ? t->n_texts : 0);
    free(res);
    free(o);
    free(out);
    free(wa);
    if (!body) {
        reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
        return;
    }
    dg_req_reply(rq, 200, body);
}

void dg_route_handle(dg_server *srv, dg_req *rq)
{
    switch (rq->route) {
    case DG_ROUTE_HEALTH:
        reply_json(rq, 200, json_pack("{s:s}", "status", "ok"));
        return;
    case DG_ROUTE_READY:
        if (atomic_load(&srv->draining))
            reply_error(rq, DG_API_SHUTTING_DOWN, "%s", "the server is shutting down");
        else if (!atomic_load(&srv->ready))
            reply_error(rq, DG_API_NOT_READY, "%s", "models are still loading");
        else
            reply_json(rq, 200, json_pack("{s:s, s:i}", "status", "ready", "models", srv->reg->n));
        return;
    case DG_ROUTE_METRICS: {
        char *s = dg_metrics_render();
        if (!s) {
            reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
            return;
        }
        dg_req_reply(rq, 200, s);
        rq->reply_type = "text/plain; version=0.0.4; charset=utf-8";
        return;
    }
    case DG_ROUTE_OPENAPI: {
        char *s = strdup(dg_openapi_json);
        if (!s) {
            reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
            return;
        }
        dg_req_reply(rq, 200, s);
        return;
    }
    case DG_ROUTE_WEB: {
        char *s = strdup(dg_index_html);
        if (!s) {
            reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
            return;
        }
        dg_req_reply(rq, 200, s);
        rq->reply_type = "text/html; charset=utf-8";
        return;
    }
    case DG_ROUTE_LANGUAGES:
        dg_lt_languages(srv, rq);
        return;
    case DG_ROUTE_LT_SETTINGS:
        dg_lt_settings(srv, rq);
        return;
    case DG_ROUTE_LT_DETECT:
        dg_lt_detect(srv, rq);
        return;
    case DG_ROUTE_LT_DOWNLOAD:
        dg_lt_download(srv, rq);
        return;
    case DG_ROUTE_MODELS:
        handle_models(srv, rq);
        return;
    case DG_ROUTE_TRANSLATE:
    case DG_ROUTE_LT_TRANSLATE:
    case DG_ROUTE_LT_FILE:
        translate_start(srv, rq);
        return;
    case DG_ROUTE_OTHER:
    case DG_ROUTE_COUNT:
        break;
    }
    reply_error(rq, DG_API_NOT_FOUND, "%s", "no such route");
}
