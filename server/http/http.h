/* The HTTP front end: a libmicrohttpd daemon (internal polling threads with epoll, a small
 * thread pool, suspend/resume) feeding the route handlers in server/http/routes.c. A translation
 * request is parsed and tokenized on the HTTP thread, handed to the scheduler, and its
 * connection suspended until the job is done; the HTTP threads never decode. */
#ifndef DG_HTTP_H
#define DG_HTTP_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "server/api/api_json.h"
#include "server/config.h"
#include "server/obs/metrics.h"
#include "server/registry.h"
#include "server/sched/scheduler.h"
#include "text/pipeline.h"

typedef struct {
    const dg_serve_config *cfg;
    dg_registry *reg;
    dg_scheduler *sched;      /* set once models are loaded, before ready becomes 1 */
    atomic_int ready;         /* models loaded, scheduler running */
    atomic_int draining;      /* SIGTERM received: new work gets 503 */
    atomic_int open_requests; /* request contexts alive (drain waits for them) */
    atomic_long body_bytes;   /* request body buffers allocated, all connections */
    struct dg_cache *cache;   /* translation cache; NULL when --cache-bytes is 0 */
    char **api_keys;          /* NULL when authentication is off */
    int n_api_keys;
    struct MHD_Daemon *daemon;
    int port;
} dg_server;

typedef struct dg_lt_req dg_lt_req;  /* server/api/lt.c: a LibreTranslate request's extra state */
typedef struct dg_stream dg_stream;  /* server/http/stream.c: a streamed reply's state */

/* Per-request state, from the first access-handler call to MHD's completion notice. */
typedef struct {
    struct MHD_Connection *conn;
    char method[16];
    char path[256];           /* for the log; longer paths are cut */
    dg_route route;
    double t0;
    /* body, accumulated up to --max-body-bytes */
    char *body;
    size_t len, cap;
    size_t dropped;           /* body bytes discarded past --max-body-bytes */
    int key_checked;          /* the API key came in a header and matched */
    /* the reply, once decided */
    int status;               /* 0 until a reply is ready */
    char *reply;              /* malloc'ed body */
    const char *reply_type;
    const char *allow;        /* 405: the Allow header */
    char *disposition;        /* malloc'ed Content-Disposition (downloads), or NULL */
    int retry_after;          /* 429: seconds, 0 = none */
    bool queued;              /* handed to MHD */
    /* translation */
    dg_translate_request treq;
    bool libretranslate;
    dg_lt_req *lt;            /* LibreTranslate routes; NULL elsewhere */
    int n_best;               /* hypotheses per text in the reply */
    dg_text_set text;         /* the texts' segments (text/pipeline.h): job->s[k] is segs[k] */
    dg_job *job;              /* the job submitted to the scheduler (sentences not in the cache) */
    dg_job *all;              /* every sentence, when some came from the cache (never submitted) */
    int *miss;                /* [job->n]: the sentence of all each submitted one is */
    bool inflight;            /* counted in dragoman_inflight_requests (job submitted) */
    bool cacheable;           /* results may be stored in the cache */
    bool suspended;
    bool http11;              /* HTTP/1.1 request: interim 1xx responses allowed */
    dg_stream *stream;        /* "stream": true (server-sent events); NULL otherwise */
    const char *model_name;
    int sentences;
    long tokens_in, tokens_out;
} dg_req;

/* Starts listening (cfg->host, cfg->port; port 0 = any) and fills srv->port. */
dg_code dg_http_start(dg_server *srv, dg_err *err);
void dg_http_stop(dg_server *srv);
/* Connections currently open (MHD's count). */
int dg_http_connections(dg_server *srv);

/* Sets the reply of rq: status and body (taken over), JSON content type. */
void dg_req_reply(dg_req *rq, int status, char *body);
/* Sets an error reply from e (and counts it). */
void dg_req_error(dg_req *rq, const dg_api_error *e);

/* ---- server/http/routes.c ---- */

/* 0 when method+path name a handler (route set), else 404 or 405 (allow set). */
int dg_route_match(const char *method, const char *path, dg_route *route, const char **allow);
/* Whether the route is one of LibreTranslate's (its error envelope and statuses). */
bool dg_route_is_lt(dg_route route);
/* Whether the route requires an API key when keys are configured. */
bool dg_route_needs_key(dg_route route);
/* Whether the route takes a body, and which content types it accepts (415 otherwise). */
bool dg_route_content_type_ok(dg_route route, const char *content_type);
/* Called once the body is complete: sets a reply, or submits a job and suspends. */
void dg_route_handle(dg_server *srv, dg_req *rq);
/* Called after the job's completion resumed the connection: builds the reply. */
void dg_route_finish(dg_server *srv, dg_req *rq);
/* Constant-time API key check. */
bool dg_api_key_ok(const dg_server *srv, const char *key);

/* ---- server/api/lt.c: LibreTranslate's API ---- */

void dg_lt_languages(dg_server *srv, dg_req *rq);
void dg_lt_settings(dg_server *srv, dg_req *rq);
void dg_lt_detect(dg_server *srv, dg_req *rq);
void dg_lt_download(dg_server *srv, dg_req *rq);
/* /translate and /translate_file: decodes the body (JSON, form or multipart), checks the API
 * key, validates as LibreTranslate does, detects the source for "auto" and fills rq->treq.
 * Returns 0, or the status with e set. */
int dg_lt_parse_translate(dg_server *srv, dg_req *rq, dg_api_error *e);
/* The reply body of a finished /translate or /translate_file (malloc'ed; NULL = no memory). */
char *dg_lt_translate_reply(dg_server *srv, dg_req *rq, const dg_translation *out, int n);
void dg_lt_free(dg_lt_req *lt);

/* ---- server/http/stream.c: server-sent events for "stream": true ---- */

/* Sets rq->stream up for job (NULL when every sentence came from the cache), taking over its
 * done callbacks; call after rq->sentences, text, n_best, all and miss are final.
 * false when out of memory. */
bool dg_stream_prepare(dg_server *srv, dg_req *rq, dg_job *job);
/* The job was not submitted after all: its callbacks will never run. */
void dg_stream_abandon(dg_stream *st);
/* The reply body: a reader that suspends the connection while nothing is ready. */
struct MHD_Response *dg_stream_response(dg_req *rq);
/* The connection is done: cancels the job if it still runs, lets go of the state. */
void dg_stream_close(dg_server *srv, dg_req *rq);

#endif
