/* Error reporting shared by every subsystem, SQLite style: a function that can fail takes a
 * dg_err*, records a code and a human-readable message at the failure site, and returns the
 * code. Callers propagate the code; only the outermost layer (CLI, HTTP) turns it into an exit
 * status or an HTTP status. A NULL dg_err* is allowed and simply drops the message. */
#ifndef DG_ERROR_H
#define DG_ERROR_H

#include <stddef.h>

typedef enum {
    DG_OK = 0,
    DG_E_IO,          /* file missing, unreadable, mmap failed */
    DG_E_FORMAT,      /* malformed file: bad JSON, truncated header, hostile offsets, bad pickle */
    DG_E_CONFIG,      /* config.json / generation_config.json: missing key, wrong type or value */
    DG_E_MISSING,     /* a required tensor or file is absent */
    DG_E_SHAPE,       /* a tensor has the wrong shape or dtype */
    DG_E_UNSUPPORTED, /* valid input that Dragoman does not handle (yet): dtype, architecture */
    DG_E_INPUT,       /* bad user input: invalid UTF-8, ids out of range, hostile lengths */
    DG_E_NOMEM,       /* allocation failed */
    DG_E_INTERNAL     /* a library call failed unexpectedly */
} dg_code;

typedef struct {
    dg_code code;
    char msg[512];
} dg_err;

/* Records code and printf-style message into err (if non-NULL); returns code. */
dg_code dg_err_set(dg_err *err, dg_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with "prefix: " (for adding context such as a file name
 * while an error propagates). Returns err->code, or DG_OK when err is NULL. */
dg_code dg_err_prefix(dg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stable lower-case name of a code, e.g. "format". */
const char *dg_code_name(dg_code code);

#endif
