/* libFuzzer: the request parser of server/api/api_json.c (POST /v1/translate bodies). LibreTranslate's
 * bodies are decoded by libmicrohttpd's post processor inside server/api/lt.c, which needs a live
 * connection: test_serve_limits sends them mutated over HTTP instead. */
#include "fuzz_util.h"
#include "server/api/api_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* NUL-terminated like the HTTP layer's body buffer */
    size_t len = size;
    char *body = malloc(len + 1);
    if (!body)
        return 0;
    memcpy(body, data, len);
    body[len] = 0;
    dg_translate_request r;
    memset(&r, 0, sizeof r);
    dg_api_error e;
    dg_api_parse_translate(body, len, 128, &r, &e);
    dg_translate_request_free(&r);
    free(body);
    return 0;
}
