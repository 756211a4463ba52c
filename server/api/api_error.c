/* DESIGN: a static table indexed by dg_api_error_kind gives each kind its stable code string
 * and HTTP status; handlers only pick a kind and write a message. Bodies are built with
 * jansson so a message quoting client input is always valid JSON. */
#include "server/api/api_error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *code;
    int status;
    int lt_status;  /* LibreTranslate's: 400 for client errors, 403 for a wrong key */
} kinds[DG_API_ERROR_COUNT] = {
    [DG_API_INVALID_JSON] = {"invalid_json", 400, 400},
    [DG_API_INVALID_REQUEST] = {"invalid_request", 400, 400},
    [DG_API_INPUT_TOO_LONG] = {"input_too_long", 400, 400},
    [DG_API_UNAUTHORIZED] = {"unauthorized", 401, 400},
    [DG_API_INVALID_KEY] = {"invalid_api_key", 401, 403},
    [DG_API_NOT_FOUND] = {"not_found", 404, 404},
    [DG_API_MODEL_NOT_FOUND] = {"model_not_found", 404, 400},
    [DG_API_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, 405},
    [DG_API_BODY_TOO_LARGE] = {"body_too_large", 413, 413},
    [DG_API_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415, 400},
    [DG_API_UNSUPPORTED_LANGUAGE_PAIR] = {"unsupported_language_pair", 422, 400},
    [DG_API_QUEUE_FULL] = {"queue_full", 429, 429},
    [DG_API_INTERNAL] = {"internal", 500, 500},
    [DG_API_NOT_IMPLEMENTED] = {"not_implemented", 501, 501},
    [DG_API_NOT_READY] = {"not_ready", 503, 503},
    [DG_API_SHUTTING_DOWN] = {"shutting_down", 503, 503},
    [DG_API_TIMEOUT] = {"timeout", 504, 504},
    [DG_API_REQUEST_TIMEOUT] = {"request_timeout", 408, 408},
    [DG_API_BUSY] = {"busy", 503, 503},
};

int dg_api_error_status(dg_api_error_kind kind)
{
    return kind < DG_API_ERROR_COUNT ? kinds[kind].status : 500;
}

int dg_api_error_lt_status(dg_api_error_kind kind)
{
    return kind < DG_API_ERROR_COUNT ? kinds[kind].lt_status : 500;
}

dg_api_error_kind dg_api_error_from_code(dg_code code)
{
    return code == DG_E_INPUT ? DG_API_INVALID_REQUEST : DG_API_INTERNAL;
}

const char *dg_api_error_code(dg_api_error_kind kind)
{
    return kind < DG_API_ERROR_COUNT ? kinds[kind].code : "internal";
}

int dg_api_error_set(dg_api_error *e, dg_api_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->kind = kind;
    return dg_api_error_status(kind);
}

char *dg_api_error_body(const dg_api_error *e, bool lt)
{
    /* a message may quote client bytes that are not UTF-8; jansson would refuse the string */
    json_t *msg = json_string(e->msg);
    if (!msg)
        msg = json_string("(message contained invalid UTF-8)");
    json_t *o = lt ? json_pack("{s:o}", "error", msg)
                   : json_pack("{s:{s:s, s:o}}", "error", "code", dg_api_error_code(e->kind),
                               "message", msg);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
