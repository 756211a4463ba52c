/* DESIGN: the route table (dg_routes, at the end) is one row per route: path, methods, API key,
 * accepted content types, metrics label, handler and its context; http.c matches, checks and
 * dispatches from it, so a new route is one row and its handler. The handlers turn parsed
 * requests into replies. Translation runs in two halves: translate_start
 * (HTTP thread: validate, pick the model, split, tokenize, enforce limits, submit, suspend)
 * and dg_route_finish (after the scheduler resumed the connection: stitch sentences back
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

/* Text i's sentences; with a target prefix the whole text is one (the prefix begins it). */
static int split(const dg_translate_request *t, int i, dg_span *spans, int max)
{
    size_t len = strlen(t->texts[i]);
    if (!t->opts.target_prefix)
        return dg_split_sentences(t->texts[i], len, spans, max);
    if (max > 0)
        spans[0] = (dg_span){0, len};
    return 1;
}

/* Splits every text and tokenizes every sentence into the job. */
static int tokenize(dg_server *srv, dg_req *rq, const dg_served_model *m,
                    const dg_lang_choice *lc, dg_api_error *e)
{
    const dg_translate_request *t = &rq->treq;
    int limit = srv->cfg->max_input_tokens < m->max_positions ? srv->cfg->max_input_tokens
                                                                : m->max_positions;
    int total = 0;
    rq->text_first = calloc((size_t)t->n_texts + 1, sizeof *rq->text_first);
    if (!rq->text_first)
        return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    for (int i = 0; i < t->n_texts; i++) {
        rq->text_first[i] = total;
        total += split(t, i, NULL, 0);
        if (total > srv->cfg->max_queue)
            return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                    "the texts split into more than %d sentences (--max-queue)",
                                    srv->cfg->max_queue);
    }
    rq->text_first[t->n_texts] = total;
    rq->spans = calloc((size_t)(total ? total : 1), sizeof *rq->spans);
    rq->prot = calloc((size_t)(total ? total : 1), sizeof *rq->prot);
    rq->n_prot = total;
    if (!rq->spans || !rq->prot || !(rq->job = dg_job_create(total)))
        return dg_api_error_set(e, DG_API_INTERNAL, "out of memory");
    rq->tok = m->tok;
    for (int i = 0; i < t->n_texts; i++) {
        int first = rq->text_first[i], n = rq->text_first[i + 1] - first;
        split(t, i, rq->spans + first, n);
        for (int k = 0; k < n; k++) {
            const dg_span *sp = &rq->spans[first + k];
            dg_sentence *x = &rq->job->s[first + k];
            dg_protect *p = &rq->prot[first + k];
            dg_err err;
            /* the model translates the text with its protected spans masked (text/protect.h) */
            if ((!t->opts.no_preserve &&
                 dg_protect_text(m->tok, t->texts[i] + sp->start, sp->len, p, &err)) ||
                dg_registry_encode(m, lc, p->masked ? p->masked : t->texts[i] + sp->start,
                                   p->masked ? p->masked_len : sp->len, &x->ids, &x->n_ids,
                                   &err))
                return dg_api_error_set(e, dg_api_error_from_code(err.code), "text %d: %s", i,
                                        err.msg);
            if (x->n_ids > limit) {
                if (!t->opts.truncate)
                    return dg_api_error_set(e, DG_API_INPUT_TOO_LONG,
                                            "text %d, sentence %d has %d tokens, more than the "
                                            "limit of %d (set options.truncate to cut it)",
                                            i, k, x->n_ids, limit);
                dg_tokenizer_truncate(m->tok, x->ids, &x->n_ids, limit); /* keep the framing */
            }
            rq->tokens_in += x->n_ids;
        }
    }
    rq->sentences = total;
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
    /* lost protected spans are put back by the alignment (not part of the cache key: it
     * changes no output) */
    opts.return_alignment = t->opts.return_alignment;
    for (int i = 0; i < rq->n_prot && !opts.return_alignment; i++)
        opts.return_alignment = rq->prot[i].n > 0;
    int model_index = (int)(m - srv->reg->models);
    /* a cached sentence may lack the alignment return_alignment asks for: translate them all */
    if (srv->cache && !t->opts.return_alignment &&
        (use_cache(srv, rq, &opts, model_index, &e))) {
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

/* Code points in s[0..n). */
static int cp_count(const char *s, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Hypothesis h of text i: each sentence's translation with its protected spans put back
 * (text/protect.h), joined with the text's layout; for h = 0 with options.return_alignment,
 * the word alignment over the text and its translation. */
static int finish_text(dg_req *rq, const dg_job *j, int i, int h, dg_translation *out,
                       dg_word_alignment *wa, char **pieces, dg_err *err)
{
    const dg_translate_request *t = &rq->treq;
    int first = rq->text_first[i], n = rq->text_first[i + 1] - first, rc = 0;
    bool align = h == 0 && t->opts.return_alignment;
    int src_shift = 0;               /* text offset minus joined offset, before sentence k */
    for (int k = 0; k < n && !rc; k++) {
        const dg_sentence *x = &j->s[first + k];
        const dg_protect *p = &rq->prot[first + k];
        const dg_span *sp = &rq->spans[first + k];
        int hh = h < x->n_hyps ? h : 0;
        dg_align_view v = {x->ids, x->n_ids, NULL, 0, NULL};
        if (x->res.align && hh < x->res.n)
            v = (dg_align_view){x->ids, x->n_ids, x->res.ids[hh], x->res.len[hh],
                                x->res.align[hh]};
        int *map = align && v.align ? malloc((strlen(x->hyps[hh]) + 1) * sizeof *map) : NULL;
        if (align && v.align && !map) {
            rc = dg_err_set(err, DG_E_NOMEM, "out of memory");
            break;
        }
        rc = dg_protect_restore(p, rq->tok, x->hyps[hh], v.align ? &v : NULL, &pieces[k], map,
                                err);
        dg_word_pair *wp = NULL;
        int nw = 0;
        if (!rc && map)
            rc = dg_align_words(rq->tok, p, t->texts[i] + sp->start, sp->len, x->hyps[hh], &v,
                                pieces[k], map, &wp, &nw, err);
        free(map);
        /* the translated sentence starts at sp->start minus the text's bytes before it that
         * earlier sentences replaced, plus their translations' bytes */
        int tgt_at = (int)sp->start - src_shift;
        if (!rc && nw) {
            int (*q)[4] = realloc(wa->pairs, (size_t)(wa->n_pairs + nw) * sizeof *q);
            if (!q)
                rc = dg_err_set(err, DG_E_NOMEM, "out of memory");
            else
                wa->pairs = q;
        }
        for (int w = 0; !rc && w < nw; w++) {
            int *q = wa->pairs[wa->n_pairs++];
            q[0] = (int)sp->start + wp[w].src_start;
            q[1] = (int)sp->start + wp[w].src_end;
            q[2] = tgt_at + wp[w].tgt_start;   /* byte offsets, to code points below */
            q[3] = tgt_at + wp[w].tgt_end;
        }
        free(wp);
        if (!rc)
            src_shift += (int)sp->len - (int)strlen(pieces[k]);
    }
    if (!rc && !(out->hyps[h] = dg_join_sentences(t->texts[i], strlen(t->texts[i]),
                                                  rq->spans + first, n, pieces)))
        rc = dg_err_set(err, DG_E_NOMEM, "out of memory");
    for (int k = 0; k < n; k++) {
        free(pieces[k]);
        pieces[k] = NULL;
    }
    if (align && !rc && !wa->pairs && !(wa->pairs = malloc(sizeof *wa->pairs)))
        rc = dg_err_set(err, DG_E_NOMEM, "out of memory");
    for (int w = 0; align && !rc && w < wa->n_pairs; w++) {
        int *q = wa->pairs[w];
        q[0] = cp_count(t->texts[i], q[0]), q[1] = cp_count(t->texts[i], q[1]);
        q[2] = cp_count(out->hyps[h], q[2]), q[3] = cp_count(out->hyps[h], q[3]);
    }
    return rc;
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
    int nb = rq->n_best > 0 ? rq->n_best : 1;
    dg_translation *out = calloc((size_t)t->n_texts, sizeof *out);
    dg_word_alignment *wa = calloc((size_t)t->n_texts, sizeof *wa);
    char **pieces = calloc((size_t)(j->n ? j->n : 1), sizeof *pieces);
    bool ok = out && wa && pieces;
    dg_err err = {0};
    for (int i = 0; ok && i < t->n_texts; i++) {
        int first = rq->text_first[i], n = rq->text_first[i + 1] - first;
        if (!(out[i].hyps = calloc((size_t)nb, sizeof *out[i].hyps))) {
            ok = false;
            break;
        }
        out[i].n_hyps = nb;
        double score = 0;
        for (int k = 0; k < n; k++) {
            score += j->s[first + k].scores[0];
            rq->tokens_out += j->s[first + k].out_tokens;
        }
        out[i].score = n ? score / n : 0;
        for (int h = 0; h < nb && ok; h++)
            ok = !finish_text(rq, j, i, h, &out[i], &wa[i], pieces, &err);
    }
    char *body = NULL;
    if (ok)
        body = rq->libretranslate
                   ? dg_lt_translate_reply(srv, rq, out, t->n_texts)
                   : dg_api_translate_response_aligned(rq->model_name, out,
                                                       t->opts.return_alignment ? wa : NULL,
                                                       t->n_texts, t->opts.return_scores);
    for (int i = 0; out && i < t->n_texts; i++) {
        for (int h = 0; h < out[i].n_hyps; h++)
            free(out[i].hyps[h]);
        free(out[i].hyps);
        if (wa)
            free(wa[i].pairs);
    }
    free(out);
    free(wa);
    free(pieces);
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
