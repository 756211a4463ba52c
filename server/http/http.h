/* The HTTP front end: a libmicrohttpd daemon (internal polling threads with epoll, a small
 * thread pool, suspend/resume) feeding the route handlers in server/http/routes.c. A translation
 * request is parsed and tokenized on the HTTP thread, handed to the scheduler, and its
 * connection suspended until the job is done; the HTTP threads never decode. Only http.c sees
 * libmicrohttpd: the handlers reach the connection through the dg_req_* calls below, and the
 * routes are one table (dg_routes) that http.c matches, authenticates and dispatches. */
#ifndef DG_HTTP_H
#define DG_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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
    struct dg_http_daemon *daemon; /* libmicrohttpd's, opaque outside http.c */
    int port;
} dg_server;

typedef struct dg_http_conn dg_http_conn;  /* libmicrohttpd's connection, opaque outside http.c */
typedef struct dg_route dg_route;
typedef struct dg_lt_req dg_lt_req;  /* server/api/lt.c: a LibreTranslate request's extra state */
typedef struct dg_stream dg_stream;  /* server/http/stream.c: a streamed reply's state */

/* Per-request state, from the first access-handler call to MHD's completion notice. */
typedef struct {
    dg_http_conn *conn;
    char method[16];
    char path[256];           /* for the log; longer paths are cut */
    const dg_route *route;    /* the table row; NULL for an unknown path */
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
    bool queued;              /* handed to libmicrohttpd */
    ssize_t (*reader)(void *cls, char *buf, size_t max); /* a streamed body (dg_req_reply_stream) */
    void *reader_cls;
    const char *stream_type;
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

/* What read returns at the end of a streamed body, and on an error (the connection closes). */
#define DG_HTTP_READ_END ((ssize_t)-1)
#define DG_HTTP_READ_ERROR ((ssize_t)-2)
/* The reply is 200 with content_type and a body pulled from reader(cls, buf, max) as the client
 * takes it: bytes written, or 0 after dg_req_suspend (nothing ready; dg_req_resume wakes it), or
 * DG_HTTP_READ_END / DG_HTTP_READ_ERROR. An error reply set later (rq->status) wins. */
void dg_req_reply_stream(dg_req *rq, const char *content_type,
                         ssize_t (*reader)(void *cls, char *buf, size_t max), void *cls);
/* A request header (case-insensitive name), or NULL. */
const char *dg_req_header(const dg_req *rq, const char *name);
/* The connection's socket, or -1. */
int dg_req_fd(const dg_req *rq);
/* Parks the connection (no reply yet, no timeout) until dg_req_resume, from any thread. */
void dg_req_suspend(dg_req *rq);
void dg_req_resume(dg_req *rq);

/* One piece of form field key's value (a long value comes in pieces, off counting on);
 * filename is set for a file upload. Returns false to stop the parse (out of memory). */
typedef bool (*dg_form_field)(void *cls, const char *key, const char *filename,
                              const char *data, uint64_t off, size_t size);
/* Decodes body[0..len), application/x-www-form-urlencoded or multipart/form-data as rq's
 * Content-Type says, into field pieces. 0, or 415 when the content type is not a form, or 400
 * when the body is malformed or field stopped. */
int dg_req_parse_form(dg_req *rq, const char *body, size_t len, dg_form_field field, void *cls);

/* ---- server/http/routes.c: the route table ---- */

typedef void (*dg_route_handler)(dg_server *srv, dg_req *rq, const void *ctx);

/* One route. http.c answers 404/405 (with Allow)/401/403/413/415 from the row before the body
 * is read, then calls handler(srv, rq, ctx) once the body is complete; the handler sets a
 * reply, or submits a job and suspends. */
struct dg_route {
    const char *path;          /* a prefix when it ends with '/' (except "/" itself) */
    const char *methods;       /* the allowed methods, as the Allow header lists them */
    bool needs_key;            /* an API key is required when keys are configured */
    bool lt;                   /* LibreTranslate's: its error envelope, the key may be in the body */
    const char *content_types; /* POST: the media types accepted, comma-separated; NULL = any */
    const char *label;         /* the route label of the request metrics */
    dg_route_handler handler;
    const void *ctx;
};

/* The context of the translation rows. */
typedef struct {
    bool file;                 /* /translate_file: the text is an upload, the reply its URL */
} dg_translate_route;

extern const dg_route dg_routes[];
extern const int dg_n_routes;

/* Whether the route is one of LibreTranslate's (its error envelope and statuses). */
bool dg_route_is_lt(const dg_route *route);
/* Called after the job's completion resumed the connection: builds the reply. */
void dg_route_finish(dg_server *srv, dg_req *rq);
/* Constant-time API key check. */
bool dg_api_key_ok(const dg_server *srv, const char *key);

/* ---- server/api/lt.c: LibreTranslate's API ---- */

/* Route handlers (ctx unused). */
void dg_lt_languages(dg_server *srv, dg_req *rq, const void *ctx);
void dg_lt_settings(dg_server *srv, dg_req *rq, const void *ctx);
void dg_lt_detect(dg_server *srv, dg_req *rq, const void *ctx);
void dg_lt_download(dg_server *srv, dg_req *rq, const void *ctx);
/* /translate and /translate_file: decodes the body (JSON, form or multipart), checks the API
 * key, validates as LibreTranslate does, detects the source for "auto" and fills rq->treq.
 * Returns 0, or the status with e set. */
int dg_lt_parse_translate(dg_server *srv, dg_req *rq, dg_api_error *e);
/* The reply body of a finished /translate or /translate_file (malloc'ed; NULL = no memory). */
char *dg_lt_translate_reply(dg_server *srv, dg_req *rq, const dg_translation *out, int n);
void dg_lt_free(dg_lt_req *lt);

/* ---- server/http/stream.c: server-sent events for "stream": true ---- */

/* Sets rq->stream up for job (NULL when every sentence came from the cache), taking over its
 * done callbacks, and makes the reply the event stream; call after rq->sentences, text,
 * n_best, all and miss are final. false when out of memory. */
bool dg_stream_prepare(dg_server *srv, dg_req *rq, dg_job *job);
/* The job was not submitted after all: its callbacks will never run. */
void dg_stream_abandon(dg_stream *st);
/* The connection is done: cancels the job if it still runs, lets go of the state. */
void dg_stream_close(dg_server *srv, dg_req *rq);

#endif
