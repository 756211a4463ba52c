/* DESIGN: see tok_json.h. */
#include "tokenizer/tok_json.h"

#include <unistd.h>

dg_code dg_tok_json_optional(const char *path, json_t **out, dg_err *err)
{
    *out = NULL;
    if (access(path, F_OK) != 0)
        return DG_OK;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    /* NllbTokenizer saves model_max_length as 1e30 written out as an integer, past jansson's
     * json_int_t: such a file is read with every integer as a real (see dg_tok_json_int) */
    if (!root && json_error_code(&jerr) == json_error_numeric_overflow)
        root = json_load_file(path, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!root)
        return dg_err_set(err, json_error_code(&jerr) == json_error_cannot_open_file ? DG_E_IO
                                                                                   : DG_E_FORMAT,
                          "%s:%d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return dg_err_set(err, DG_E_FORMAT, "%s: not a JSON object", path);
    }
    *out = root;
    return DG_OK;
}

dg_code dg_tok_json_token(json_t *v, const char *path, const char *key, const char **out,
                          dg_err *err)
{
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v) || json_string_length(v) == 0)
        return dg_err_set(err, DG_E_CONFIG,
                          "%s: %s is not a non-empty string or {\"content\": ...}", path, key);
    *out = json_string_value(v);
    return DG_OK;
}

bool dg_tok_json_int(const json_t *v, long lo, long hi, long *out)
{
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return false;
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(long)d)
        return false;
    *out = (long)d;
    return true;
}
