/* libFuzzer: the request parsers of server/api_json.c. The first byte picks the parser (native
 * JSON, LibreTranslate JSON, LibreTranslate form); the rest is the body. */
#include "fuzz_util.h"
#include "server/api_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* NUL-terminated like the HTTP layer's body buffer */
    size_t len = size - 1;
    char *body = malloc(len + 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);
    body[len] = 0;
    dg_translate_request r;
    memset(&r, 0, sizeof r);
    dg_api_error e;
    switch (data[0] % 3) {
    case 0: dg_api_parse_translate(body, len, 128, &r, &e); break;
    case 1: dg_api_parse_lt_json(body, len, 128, &r, &e); break;
    default: dg_api_parse_lt_form(body, len, 128, &r, &e); break;
    }
    dg_translate_request_free(&r);
    free(body);
    return 0;
}
