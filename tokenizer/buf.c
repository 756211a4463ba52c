#include "tokenizer/buf.h"

#include <stdlib.h>
#include <string.h>

dg_code dg_id_push(dg_id_buf *b, int id, dg_err *err)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        int *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu ids", cap);
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return DG_OK;
}

dg_code dg_str_append(dg_str_buf *b, const char *s, size_t len, dg_err *err)
{
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *v = realloc(b->s, cap);
        if (!v)
            return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu bytes of text", cap);
        b->s = v;
        b->cap = cap;
    }
    if (len)
        memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = 0;
    return DG_OK;
}
