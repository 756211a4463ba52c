/* API errors: every failed request is answered {"error": {"code": "...", "message": "..."}} with
 * the HTTP status of its kind. This is the one table that maps error kinds to statuses. */
#ifndef DG_API_ERROR_H
#define DG_API_ERROR_H

typedef enum {
    DG_API_INVALID_JSON,            /* 400 */
    DG_API_INVALID_REQUEST,         /* 400: wrong type, missing field, bad value, bad UTF-8 */
    DG_API_INPUT_TOO_LONG,          /* 400: > --max-input-tokens without options.truncate */
    DG_API_UNAUTHORIZED,            /* 401 */
    DG_API_NOT_FOUND,               /* 404: route */
    DG_API_MODEL_NOT_FOUND,         /* 404 */
    DG_API_METHOD_NOT_ALLOWED,      /* 405 */
    DG_API_BODY_TOO_LARGE,          /* 413 */
    DG_API_UNSUPPORTED_MEDIA_TYPE,  /* 415 */
    DG_API_UNSUPPORTED_LANGUAGE_PAIR, /* 422 */
    DG_API_QUEUE_FULL,              /* 429 */
    DG_API_INTERNAL,                /* 500 */
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
const char *dg_api_error_code(dg_api_error_kind kind);
/* Records kind and a printf-style message; returns the HTTP status. */
int dg_api_error_set(dg_api_error *e, dg_api_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The JSON body, malloc'ed (caller frees); NULL when out of memory. */
char *dg_api_error_body(const dg_api_error *e);

#endif
