/* `dragoman inspect`: a description of a checkpoint folder (architecture, sizes, parameter
 * count, storage, special ids, generation defaults) built from config files and tensor headers
 * only, so it is fast on big models. */
#ifndef DG_INSPECT_H
#define DG_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"

/* Writes the report for checkpoint folder DIR to OUT: indented "key: value" text, or one JSON
 * object when AS_JSON. Fails (writing nothing) when the config, the weight headers or the
 * architecture binding checks fail. */
dg_code dg_inspect(FILE *out, const char *dir, bool as_json, dg_err *err);

#endif
