/* DESIGN: a line is formatted completely into a local buffer and written with one fputs under
 * stdio's stream lock, so concurrent HTTP threads and workers never interleave output. JSON lines
 * are built with jansson, which escapes whatever a client put in the path. Timestamps are UTC
 * RFC 3339 with milliseconds. */
#include "server/obs/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static dg_log_format log_format = DG_LOG_TEXT;

void dg_log_init(dg_log_format format)
{
    log_format = format;
}

static void timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void emit_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s) {
        flockfile(stderr);
        fputs(s, stderr);
        fputc('\n', stderr);
        funlockfile(stderr);
        free(s);
    }
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
    char ts[40], msg[1024];
    timestamp(ts, sizeof ts);
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (log_format == DG_LOG_JSON) {
        emit_json(json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level, "msg", msg));
        return;
    }
    fprintf(stderr, "%s %s %s\n", ts, level, msg);
}

void dg_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("info", fmt, ap);
    va_end(ap);
}

void dg_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("error", fmt, ap);
    va_end(ap);
}

/* The path is client-controlled (and percent-decoded): control and non-ASCII bytes become '?',
 * so a request can neither forge log lines nor break the JSON encoder. */
static void sanitize(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    dst[i] = 0;
}

void dg_log_request(const dg_request_log *r)
{
    char ts[40], path[201], method[24];
    timestamp(ts, sizeof ts);
    sanitize(path, sizeof path, r->path);
    sanitize(method, sizeof method, r->method);
    if (log_format == DG_LOG_JSON) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:f, s:f, s:f}", "ts", ts,
                              "level", "info", "method", method, "path", path, "status",
                              r->status, "sentences", r->sentences, "tokens_in",
                              (json_int_t)r->tokens_in, "tokens_out", (json_int_t)r->tokens_out,
                              "queue_ms", r->queue_ms, "compute_ms", r->compute_ms, "total_ms",
                              r->total_ms);
        if (o && r->model)
            json_object_set_new(o, "model", json_string(r->model));
        if (o)
            emit_json(o);
        return;
    }
    fprintf(stderr,
            "%s request %s %s status=%d model=%s sentences=%d tokens_in=%ld tokens_out=%ld "
            "queue_ms=%.1f compute_ms=%.1f total_ms=%.1f\n",
            ts, method, path, r->status, r->model ? r->model : "-", r->sentences,
            r->tokens_in, r->tokens_out, r->queue_ms, r->compute_ms, r->total_ms);
}
