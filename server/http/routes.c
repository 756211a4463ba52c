/* DESIGN: the route table (dg_routes, at the end) is one row per route: path, methods, API key,
 * accepted content types, metrics label, handler and its context; http.c matches, checks and
 * dispatches from it, so a new route is one row and its handler. The handlers turn parsed
 * requests into replies. Translation runs in two halves: translate_start (HTTP thread:
 * validate, pick the model, dg_text_prepare the texts into segments, submit, suspend) and
 * dg_route_finish (after the scheduler resumed the connection: dg_text_finish the segments back
 * into texts, render). Options the client did not give keep the model's generation defaults,
 * exactly as Hugging Face generate() would use them. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/sched/cache.h"
#include "server/http/http.h"
#include "server/obs/log.h"

extern const char dg_openapi_json[];  /* server/api/openapi.c: server/api/openapi.json, embedded */
extern const char dg_index_html[];    /* server/http/webpage.c: server/http/index.html, embedded */

bool dg_route_is_lt(const dg_route *route)
{
    return route && route->lt;
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

static void handle_health(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)srv, (void)ctx;
    reply_json(rq, 200, json_pack("{s:s}", "status", "ok"));
}

static void handle_ready(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)ctx;
    if (atomic_load(&srv->draining))
        reply_error(rq, DG_API_SHUTTING_DOWN, "%s", "the server is shutting down");
    else if (!atomic_load(&srv->ready))
        reply_error(rq, DG_API_NOT_READY, "%s", "models are still loading");
    else
        reply_json(rq, 200, json_pack("{s:s, s:i}", "status", "ready", "models", srv->reg->n));
}

static void handle_metrics(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)srv, (void)ctx;
    char *s = dg_metrics_render();
    if (!s) {
        reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
        return;
    }
    dg_req_reply(rq, 200, s);
    rq->reply_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* A file embedded in the binary (ctx). */
typedef struct {
    const char *body;
    const char *type;
} static_file;

static void handle_static(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)srv;
    const static_file *f = ctx;
    char *s = strdup(f->body);
    if (!s) {
        reply_error(rq, DG_API_INTERNAL, "%s", "out of memory");
        return;
    }
    dg_req_reply(rq, 200, s);
    rq->reply_type = f->type;
}

static void handle_models(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)ctx;
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
    dg_req_resume(rq);
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
    j->fd = dg_req_fd(rq);
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
    dg_req_suspend(rq);
    rq->suspended = true;
    if (dg_scheduler_submit(srv->sched, j, &e)) {
        dg_req_error(rq, &e);
        rq->job = NULL;  /* never submitted: nothing will call done */
        dg_job_release(j);
        dg_metrics_inflight(-1);
        rq->inflight = false;
        dg_req_resume(rq);
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

static void handle_translate(dg_server *srv, dg_req *rq, const void *ctx)
{
    (void)ctx;  /* read by server/api/lt.c through rq->route */
    translate_start(srv, rq);
}

#define JSON "application/json"
#define FORMS JSON ", application/x-www-form-urlencoded, multipart/form-data"

static const dg_translate_route translate_text = {.file = false}, translate_file = {.file = true};
static const static_file openapi = {dg_openapi_json, "application/json"},
                         web_page = {dg_index_html, "text/html; charset=utf-8"};

const dg_route dg_routes[] = {
    /* path, methods, key, LibreTranslate's, content types, metrics label, handler, context */
    {"/v1/translate", "POST", true, false, JSON, "/v1/translate", handle_translate, &translate_text},
    {"/translate", "POST", true, true, FORMS, "/translate", handle_translate, &translate_text},
    {"/languages", "GET, HEAD", false, true, NULL, "/languages", dg_lt_languages, NULL},
    {"/detect", "POST", true, true, FORMS, "/detect", dg_lt_detect, NULL},
    {"/frontend/settings", "GET, HEAD", false, true, NULL, "/frontend/settings", dg_lt_settings,
     NULL},
    {"/translate_file", "POST", true, true, "multipart/form-data", "/translate_file",
     handle_translate, &translate_file},
    {"/download_file/", "GET, HEAD", false, true, NULL, "/download_file", dg_lt_download, NULL},
    {"/v1/models", "GET, HEAD", true, false, NULL, "/v1/models", handle_models, NULL},
    {"/health", "GET, HEAD", false, false, NULL, "/health", handle_health, NULL},
    {"/ready", "GET, HEAD", false, false, NULL, "/ready", handle_ready, NULL},
    {"/metrics", "GET, HEAD", false, false, NULL, "/metrics", handle_metrics, NULL},
    {"/openapi.json", "GET, HEAD", false, false, NULL, "/openapi.json", handle_static, &openapi},
    {"/", "GET, HEAD", false, false, NULL, "/", handle_static, &web_page},
};
const int dg_n_routes = (int)(sizeof dg_routes / sizeof dg_routes[0]);
_Static_assert(sizeof dg_routes / sizeof dg_routes[0] <= DG_METRICS_ROUTES,
               "every route has its own metrics label");
