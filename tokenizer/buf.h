/* Growable id and text buffers shared by the tokenizer kinds (encode collects ids, decode
 * collects text). The caller frees .v / .s; a zeroed buffer is empty. */
#ifndef DG_TOKENIZER_BUF_H
#define DG_TOKENIZER_BUF_H

#include <stddef.h>

#include "common/error.h"

typedef struct {
    int *v;
    size_t n, cap;
} dg_id_buf;

typedef struct {
    char *s;       /* NUL-terminated once anything was appended */
    size_t n, cap;
} dg_str_buf;

dg_code dg_id_push(dg_id_buf *b, int id, dg_err *err);
dg_code dg_str_append(dg_str_buf *b, const char *s, size_t len, dg_err *err);

#endif
