/* API errors: every failed request on Dragoman's own routes is answered
 * {"error": {"code": "...", "message": "..."}} with the HTTP status of its kind; on
 * LibreTranslate's routes {"error": "..."} with the status LibreTranslate gives that case. This
 * is the one table that maps error kinds to statuses, and the one place that maps a dg_code from
 * the layers below to an error kind. */
#ifndef DG_API_ERROR_H
#define DG_API_ERROR_H

#include <stdbool.h>

#include "common/error.h"

typedef enum {
    DG_API_INVALID_JSON,            /* 400 */
    DG_API_INVALID_REQUEST,         /* 400: wrong type, missing field, bad value, bad UTF-8 */
    DG_API_INPUT_TOO_LONG,          /* 400: > --max-input-tokens without options.truncate */
    DG_API_UNAUTHORIZED,            /* 401: key missing (LibreTranslate: 400) */
    DG_API_INVALID_KEY,             /* 401: key wrong (LibreTranslate: 403) */
    DG_API_NOT_FOUND,               /* 404: route */
    DG_API_MODEL_NOT_FOUND,         /* 404 */
    DG_API_METHOD_NOT_ALLOWED,      /* 405 */
    DG_API_BODY_TOO_LARGE,          /* 413 */
    DG_API_UNSUPPORTED_MEDIA_TYPE,  /* 415 */
    DG_API_UNSUPPORTED_LANGUAGE_PAIR, /* 422 */
    DG_API_QUEUE_FULL,              /* 429 */
    DG_API_INTERNAL,                /* 500 */
    DG_API_NOT_IMPLEMENTED,         /* 501: a documented feature not built yet (HTML) */
    DG_API_NOT_READY,               /* 503 */
    DG_API_SHUTTING_DOWN,           /* 503 */
    DG_API_TIMEOUT,                 /* 504 */
    DG_API_REQUEST_TIMEOUT,         /* 408: the body did not arrive within --body-timeout-ms */
    DG_API_BUSY,                    /* 503: --max-body-total buffered already; retry */
    DG_API_ERROR_COUNT
} dg_api_error_kind;

typedef struct {
    dg_api_error_kind kind;
    char msg[512];
} dg_api_error;

int dg_api_error_status(dg_api_error_kind kind);
/* The status LibreTranslate answers for that kind (it uses 400 for most client errors). */
int dg_api_error_lt_status(dg_api_error_kind kind);
/* The kind for a failure reported by the engine, tokenizer or models (bad input is the
 * client's fault, anything else the server's). */
dg_api_error_kind dg_api_error_from_code(dg_code code);
const char *dg_api_error_code(dg_api_error_kind kind);
/* Records kind and a printf-style message; returns the HTTP status. */
int dg_api_error_set(dg_api_error *e, dg_api_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The JSON body, malloc'ed (caller frees); NULL when out of memory. lt: LibreTranslate's
 * {"error": "message"} instead of Dragoman's envelope. */
char *dg_api_error_body(const dg_api_error *e, bool lt);

#endif
