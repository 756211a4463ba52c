/* Server logging: startup/shutdown events and one line per request, as text or JSON lines
 * (--log-format), on stderr. Lines are written whole, so threads never interleave them. */
#ifndef DG_LOG_H
#define DG_LOG_H

#include "server/config.h"

typedef struct {
    const char *method;
    const char *path;
    const char *model;      /* NULL when the request named none */
    int status;
    int sentences;
    long tokens_in, tokens_out;
    double queue_ms, compute_ms, total_ms;
} dg_request_log;

void dg_log_init(dg_log_format format);
void dg_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dg_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dg_log_request(const dg_request_log *r);

#endif
