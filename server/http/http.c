/* DESIGN: libmicrohttpd calls access_handler several times per request (post_example.c
 * pattern): the first call routes, authenticates and checks headers (so 404/405/401/413/415 are
 * answered before a byte of body is read), the middle calls accumulate the body and stop at
 * --max-body-bytes while it streams, the last call runs the route handler. A translation
 * suspends the connection; the scheduler's completion callback resumes it and the handler
 * runs once more to send the reply. request_completed logs the request, records metrics and
 * frees its state; the job is released there, never earlier. */
#include "server/http/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/obs/log.h"

#define DISCARD_MAX (64u << 20)  /* body bytes read and dropped before a decided reply */
#define DG_NUL_MARK '\x01'      /* what unescape() leaves of a URL part that held %00 */

/* dg_http_conn and dg_http_daemon are libmicrohttpd's own objects, under names the rest of the
 * server can hold without its header */
static struct MHD_Connection *conn_of(const dg_req *rq)
{
    return (struct MHD_Connection *)rq->conn;
}

static struct MHD_Daemon *daemon_of(const dg_server *srv)
{
    return (struct MHD_Daemon *)srv->daemon;
}

void dg_req_reply(dg_req *rq, int status, char *body)
{
    free(rq->reply);
    rq->status = status;
    rq->reply = body;
    rq->reply_type = "application/json";
}

void dg_req_error(dg_req *rq, const dg_api_error *e)
{
    dg_metrics_error(e->kind);
    bool lt = dg_route_is_lt(rq->route);
    char *body = dg_api_error_body(e, lt);
    dg_req_reply(rq, lt ? dg_api_error_lt_status(e->kind) : dg_api_error_status(e->kind), body);
    if (e->kind == DG_API_QUEUE_FULL || e->kind == DG_API_BUSY)
        rq->retry_after = 1;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

const char *dg_req_header(const dg_req *rq, const char *name)
{
    return header(conn_of(rq), name);
}

int dg_req_fd(const dg_req *rq)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn_of(rq), MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

void dg_req_suspend(dg_req *rq)
{
    MHD_suspend_connection(conn_of(rq));
}

void dg_req_resume(dg_req *rq)
{
    MHD_resume_connection(conn_of(rq));
}

void dg_req_reply_stream(dg_req *rq, const char *content_type,
                         ssize_t (*reader)(void *cls, char *buf, size_t max), void *cls)
{
    rq->reader = reader;
    rq->reader_cls = cls;
    rq->stream_type = content_type;
}

typedef struct {
    dg_form_field field;
    void *cls;
} form_call;

static enum MHD_Result form_piece(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding;
    const form_call *c = cls;
    return c->field(c->cls, key, filename, data, off, size) ? MHD_YES : MHD_NO;
}

int dg_req_parse_form(dg_req *rq, const char *body, size_t len, dg_form_field field, void *cls)
{
    form_call c = {field, cls};
    /* NULL for a content type that is not a form (or no memory) */
    struct MHD_PostProcessor *pp = MHD_create_post_processor(conn_of(rq), 4096, form_piece, &c);
    if (!pp)
        return 415;
    enum MHD_Result ok = MHD_post_process(pp, body, len);
    MHD_destroy_post_processor(pp);
    return ok == MHD_YES ? 0 : 400;
}

/* The Access-Control-Allow-Origin value for this request's Origin under --cors-origins, or NULL
 * (no CORS headers: the browser then refuses the reply, as without CORS support). */
static const char *cors_origin(const dg_server *srv, dg_req *rq)
{
    const char *list = srv->cfg->cors_origins;
    const char *origin = header(conn_of(rq), "Origin");
    if (!list || !*list)
        return NULL;
    if (!strcmp(list, "*"))
        return "*";
    if (!origin)
        return NULL;
    size_t n = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t k = strcspn(p, ",");
        while (k && p[k - 1] == ' ')
            k--;
        if (k && k == n && !strncmp(p, origin, n))
            return origin;
        p += strcspn(p, ",");
    }
    return NULL;
}

static void add_cors(const dg_server *srv, dg_req *rq, struct MHD_Response *resp)
{
    const char *o = cors_origin(srv, rq);
    if (!o)
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", o);
    if (strcmp(o, "*"))
        MHD_add_response_header(resp, "Vary", "Origin");
    if (!strcmp(rq->method, "OPTIONS")) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                                rq->allow ? rq->allow : "GET, POST");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, X-API-Key");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
    }
}

static enum MHD_Result send_reply(dg_server *srv, dg_req *rq)
{
    const char *body = rq->reply ? rq->reply : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (rq->status != 204)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rq->reply_type);
    if (rq->disposition)
        MHD_add_response_header(resp, "Content-Disposition", rq->disposition);
    add_cors(srv, rq, resp);
    if (rq->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rq->allow);
    if (rq->retry_after) {
        char v[16];
        snprintf(v, sizeof v, "%d", rq->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    /* while draining every reply closes its connection: a keep-alive client then opens a new
     * one (to another replica) instead of sending its next request into a closing socket */
    if (atomic_load(&srv->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result r = MHD_queue_response(conn_of(rq), (unsigned)rq->status, resp);
    MHD_destroy_response(resp);
    rq->queued = true;
    return r;
}

/* libmicrohttpd's content reader over the request's dg_req_reply_stream reader */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    dg_req *rq = cls;
    ssize_t n = rq->reader(rq->reader_cls, buf, max);
    return n == DG_HTTP_READ_END     ? (ssize_t)MHD_CONTENT_READER_END_OF_STREAM
           : n == DG_HTTP_READ_ERROR ? (ssize_t)MHD_CONTENT_READER_END_WITH_ERROR
                                     : n;
}

/* A streamed reply (such as server-sent events): the body is pulled as the client reads. */
static enum MHD_Result queue_stream(dg_server *srv, dg_req *rq)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, read_stream, rq, NULL);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rq->stream_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    add_cors(srv, rq, resp);
    rq->status = 200;
    enum MHD_Result r = MHD_queue_response(conn_of(rq), MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    rq->queued = true;
    return r;
}

/* The API key from "Authorization: Bearer KEY" or "X-API-Key: KEY"; NULL when neither. */
static const char *header_key(struct MHD_Connection *c)
{
    const char *a = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (a && !strncasecmp(a, "Bearer ", 7))
        return a + 7;
    return header(c, "X-API-Key");
}

/* The row of dg_routes for path: 0 when it allows method, else 405 (allow set); 404 (route
 * NULL) when no row has the path. */
static int match(const char *method, const char *path, const dg_route **route, const char **allow)
{
    *route = NULL;
    for (int i = 0; i < dg_n_routes; i++) {
        const dg_route *r = &dg_routes[i];
        size_t plen = strlen(r->path);
        if (plen > 1 && r->path[plen - 1] == '/' ? strncmp(path, r->path, plen)
                                                  : strcmp(path, r->path))
            continue;
        *route = r;
        *allow = r->methods;
        size_t n = strlen(method);
        for (const char *p = r->methods; *p;) {
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

/* Whether content type ct (its media type, before any ";" parameter, case-insensitive) is one
 * of the route's. */
static bool content_type_ok(const dg_route *r, const char *ct)
{
    if (!r->content_types)
        return true;
    if (!ct)
        return false;
    size_t ct_len = strcspn(ct, ";");
    while (ct_len && (ct[ct_len - 1] == ' ' || ct[ct_len - 1] == '\t'))
        ct_len--;
    for (const char *p = r->content_types; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t k = strcspn(p, ",");
        if (k && k == ct_len && !strncasecmp(p, ct, k))
            return true;
        p += k;
    }
    return false;
}

/* First call: everything decidable from the request line and headers. Returns 1 when a reply
 * was decided. */
static int check_headers(dg_server *srv, dg_req *rq, const char *url)
{
    dg_api_error e;
    int st = match(rq->method, url, &rq->route, &rq->allow);
    if (st == 405 && !strcmp(rq->method, "OPTIONS")) {  /* CORS preflight, or plain OPTIONS */
        dg_req_reply(rq, 204, NULL);
        return 1;
    }
    if (st == 404) {
        dg_api_error_set(&e, DG_API_NOT_FOUND, "no route %.200s", url);
        dg_req_error(rq, &e);
        return 1;
    }
    if (st == 405) {
        dg_api_error_set(&e, DG_API_METHOD_NOT_ALLOWED, "%s is not allowed here (allowed: %s)",
                         rq->method, rq->allow);
        dg_req_error(rq, &e);
        return 1;
    }
    if (srv->api_keys && rq->route->needs_key) {
        const char *key = header_key(conn_of(rq));
        if (key && !dg_api_key_ok(srv, key)) {
            dg_api_error_set(&e, DG_API_INVALID_KEY, "Invalid API key");
            dg_req_error(rq, &e);
            return 1;
        }
        /* LibreTranslate clients may send the key in the body instead */
        if (!key && !rq->route->lt) {
            dg_api_error_set(&e, DG_API_UNAUTHORIZED,
                             "missing API key (Authorization: Bearer KEY or X-API-Key)");
            dg_req_error(rq, &e);
            return 1;
        }
        rq->key_checked = key != NULL;
    }
    if (strcmp(rq->method, "POST"))
        return 0;
    const char *cl = header(conn_of(rq), MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)srv->cfg->max_body_bytes) {
        dg_api_error_set(&e, DG_API_BODY_TOO_LARGE, "the body is larger than %d bytes",
                         srv->cfg->max_body_bytes);
        dg_req_error(rq, &e);
        return 1;
    }
    const char *ct = header(conn_of(rq), MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!content_type_ok(rq->route, ct)) {
        dg_api_error_set(&e, DG_API_UNSUPPORTED_MEDIA_TYPE, "content type '%.100s' is not accepted here",
                         ct ? ct : "(none)");
        dg_req_error(rq, &e);
        return 1;
    }
    return 0;
}

static bool has_body(struct MHD_Connection *c)
{
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING) || (cl && strtoull(cl, NULL, 10) > 0);
}

static bool expects_continue(struct MHD_Connection *c)
{
    const char *x = header(c, MHD_HTTP_HEADER_EXPECT);
    return x && !strcasecmp(x, "100-continue");
}

/* One piece of the body. Buffered up to --max-body-bytes within the --max-body-total budget of
 * all connections; past either, or once a reply is decided, counted and dropped. A body still
 * arriving after --body-timeout-ms, or more than DISCARD_MAX bytes dropped, closes the
 * connection (MHD can only reply between requests). */
static enum MHD_Result body_chunk(dg_server *srv, dg_req *rq, const char *data, size_t n)
{
    const dg_serve_config *c = srv->cfg;
    if (dg_now() - rq->t0 > c->body_timeout_ms / 1000.0) {
        dg_api_error e;
        dg_api_error_set(&e, DG_API_REQUEST_TIMEOUT, "the body did not arrive within %d ms",
                         c->body_timeout_ms);
        dg_req_error(rq, &e);
        return MHD_NO;
    }
    if (!rq->status && rq->len + n > (size_t)c->max_body_bytes) {
        dg_api_error e;
        dg_api_error_set(&e, DG_API_BODY_TOO_LARGE, "the body is larger than %d bytes",
                         c->max_body_bytes);
        dg_req_error(rq, &e);
    }
    if (!rq->status && rq->len + n + 1 > rq->cap) {
        /* the whole declared body at once when its length is known, else doubling */
        const char *cl = header(conn_of(rq), MHD_HTTP_HEADER_CONTENT_LENGTH);
        size_t want = cl ? (size_t)strtoull(cl, NULL, 10) + 1 : 0;
        size_t cap = rq->cap ? rq->cap : 4096;
        while (cap < rq->len + n + 1)
            cap *= 2;
        if (want >= rq->len + n + 1 && want <= (size_t)c->max_body_bytes + 1)
            cap = want;
        long total = (long)c->max_body_total_mb << 20;
        long grow = (long)(cap - rq->cap);
        if (atomic_fetch_add(&srv->body_bytes, grow) + grow > total) {
            atomic_fetch_sub(&srv->body_bytes, grow);
            dg_api_error e;
            dg_api_error_set(&e, DG_API_BUSY, "request bodies use the server's buffer budget "
                             "(--max-body-total %d MiB); retry", c->max_body_total_mb);
            dg_req_error(rq, &e);
        } else {
            char *nb = realloc(rq->body, cap);
            if (!nb) {
                atomic_fetch_sub(&srv->body_bytes, grow);
                return MHD_NO;
            }
            rq->body = nb;
            rq->cap = cap;
            dg_metrics_body_bytes(grow);
        }
    }
    if (rq->status) {
        rq->dropped += n;
        return rq->dropped > DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    rq->body[rq->len] = 0;
    return MHD_YES;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    dg_server *srv = cls;
    dg_req *rq = *req_cls;
    if (!rq) {
        if (!(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        *req_cls = rq;
        rq->conn = (dg_http_conn *)conn;
        rq->t0 = dg_now();
        rq->http11 = !strcmp(version, MHD_HTTP_VERSION_1_1);
        snprintf(rq->method, sizeof rq->method, "%s", method);
        snprintf(rq->path, sizeof rq->path, "%s", url);
        atomic_fetch_add(&srv->open_requests, 1);
        if (url[0] == DG_NUL_MARK) {
            dg_api_error e;
            dg_api_error_set(&e, DG_API_INVALID_REQUEST, "the request path contains a NUL byte (%%00)");
            dg_req_error(rq, &e);
        } else {
            check_headers(srv, rq, url);
        }
        /* A reply decided from the headers goes out now only when no body follows or the
         * client waits for "100 Continue" before sending one. Otherwise the body is read and
         * discarded first (lingering close, as nginx does): clients that send the whole body
         * before reading (Python's http.client, many proxies) would see a reset, not the
         * reply. MHD cannot queue a reply in the middle of a body anyway. */
        if (rq->status && (!has_body(conn) || expects_continue(conn)))
            return send_reply(srv, rq);
        return MHD_YES;
    }
    if (rq->queued) {  /* replied already (Expect: 100-continue): ignore any body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return body_chunk(srv, rq, upload_data, n);
    }
    if (rq->suspended) {  /* resumed: the job finished, failed or its client left */
        rq->suspended = false;
        if (rq->job) {
            if (atomic_load(&rq->job->state) == DG_JOB_CLIENT_GONE) {
                rq->status = 499;  /* nginx's "client closed request", for the log */
                return MHD_NO;
            }
            dg_route_finish(srv, rq);
        }
        return send_reply(srv, rq);
    }
    if (!rq->status)
        rq->route->handler(srv, rq, rq->route->ctx);
    if (rq->suspended)
        return MHD_YES;
    if (rq->reader && !rq->status)
        return queue_stream(srv, rq);
    return send_reply(srv, rq);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    dg_server *srv = cls;
    dg_req *rq = *req_cls;
    if (!rq)
        return;
    *req_cls = NULL;
    int status = rq->status ? rq->status : 499;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status < 400)
        status = 499;
    double total = dg_now() - rq->t0;
    dg_metrics_request(rq->route ? (int)(rq->route - dg_routes) : -1, status, total);
    if (rq->model_name)
        dg_metrics_model_request(rq->model_name, status, total, rq->tokens_in, rq->tokens_out);
    const dg_job *j = rq->job;
    dg_request_log line = {
        .method = rq->method,
        .path = rq->path,
        .model = rq->model_name,
        .status = status,
        .sentences = rq->sentences,
        .tokens_in = rq->tokens_in,
        .tokens_out = rq->tokens_out,
        .queue_ms = j && j->t_start > 0 ? (j->t_start - j->t_submit) * 1e3 : 0,
        .compute_ms = j && j->t_start > 0 && j->t_end > 0 ? (j->t_end - j->t_start) * 1e3 : 0,
        .total_ms = total * 1e3,
    };
    dg_log_request(&line);
    if (rq->inflight)
        dg_metrics_inflight(-1);
    if (rq->stream)
        dg_stream_close(srv, rq);
    dg_job_release(rq->job);
    dg_job_release(rq->all);
    free(rq->miss);
    dg_translate_request_free(&rq->treq);
    dg_lt_free(rq->lt);
    dg_text_set_free(&rq->text);
    free(rq->body);
    atomic_fetch_sub(&srv->body_bytes, (long)rq->cap);
    dg_metrics_body_bytes(-(long)rq->cap);
    free(rq->reply);
    free(rq->disposition);
    free(rq);
    atomic_fetch_sub(&srv->open_requests, 1);
}

/* MHD's own unescaping, except that a part decoding to a NUL byte becomes DG_NUL_MARK alone:
 * MHD hands the URL on as a C string, so "/v1/translate%00x" would otherwise route as
 * "/v1/translate". */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    size_t n = MHD_http_unescape(s);
    if (memchr(s, 0, n)) {
        s[0] = DG_NUL_MARK;
        s[1] = 0;
        return 1;
    }
    return n;
}

dg_code dg_http_start(dg_server *srv, dg_err *err)
{
    const dg_serve_config *c = srv->cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", c->port);
    int gai = getaddrinfo(c->host, port, &hints, &ai);
    if (gai)
        return dg_err_set(err, DG_E_INPUT, "--host '%s': %s (give a numeric IPv4/IPv6 address)",
                          c->host, gai_strerror(gai));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    for (int i = 0; i < dg_n_routes; i++)
        dg_metrics_route(i, dg_routes[i].label);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->http_threads, MHD_OPTION_NOTIFY_COMPLETED,
        request_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        (unsigned)1, MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    freeaddrinfo(ai);
    srv->daemon = (struct dg_http_daemon *)d;
    if (!d)
        return dg_err_set(err, DG_E_IO, "cannot listen on %s port %d (in use, or no permission)",
                          c->host, c->port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : c->port;
    return DG_OK;
}

int dg_http_connections(dg_server *srv)
{
    const union MHD_DaemonInfo *info =
        srv->daemon ? MHD_get_daemon_info(daemon_of(srv), MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
                    : NULL;
    return info ? (int)info->num_connections : 0;
}

void dg_http_stop(dg_server *srv)
{
    if (srv->daemon)
        MHD_stop_daemon(daemon_of(srv));
    srv->daemon = NULL;
}
