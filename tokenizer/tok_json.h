/* DESIGN: the two JSON readings every tokenizer loader shares: an optional object file
 * (tokenizer_config.json, special_tokens_map.json, config.json) and a token as HF serialises it
 * ("</s>" or an AddedToken object {"content": "</s>", ...}). */
#ifndef DG_TOK_JSON_H
#define DG_TOK_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

/* Parses the JSON object file at path; *out = NULL when the file does not exist. */
dg_code dg_tok_json_optional(const char *path, json_t **out, dg_err *err);

/* The content of a token value v (key names it in errors). */
dg_code dg_tok_json_token(json_t *v, const char *path, const char *key, const char **out,
                          dg_err *err);

/* An integer in [lo, hi], stored as an integer or, in a file read with integers as reals, as
 * an integral real. */
bool dg_tok_json_int(const json_t *v, long lo, long hi, long *out);

#endif
