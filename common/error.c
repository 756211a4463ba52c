#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

dg_code dg_err_set(dg_err *err, dg_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

dg_code dg_err_prefix(dg_err *err, const char *fmt, ...)
{
    if (!err)
        return DG_OK;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* a message longer than the buffer is cut: context first, detail as far as it fits */
    if (snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old) >= (int)sizeof err->msg)
        err->msg[sizeof err->msg - 1] = 0;
    return err->code;
}

const char *dg_code_name(dg_code code)
{
    switch (code) {
    case DG_OK: return "ok";
    case DG_E_IO: return "io";
    case DG_E_FORMAT: return "format";
    case DG_E_CONFIG: return "config";
    case DG_E_MISSING: return "missing";
    case DG_E_SHAPE: return "shape";
    case DG_E_UNSUPPORTED: return "unsupported";
    case DG_E_INPUT: return "input";
    case DG_E_NOMEM: return "nomem";
    case DG_E_INTERNAL: return "internal";
    }
    return "unknown";
}
