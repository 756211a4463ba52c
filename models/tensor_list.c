/* DESIGN: a growable array of dg_tensor_entry with owned names; plus the small shape helpers
 * (element count with overflow checks, contiguous strides) the parsers share. */
#include "models/tensor_list.h"

#include <stdlib.h>
#include <string.h>

dg_tensor_entry *dg_tensor_list_add(dg_tensor_list *l, const char *name, size_t len, dg_err *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        dg_tensor_entry *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            dg_err_set(err, DG_E_NOMEM, "out of memory for the tensor list");
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        dg_err_set(err, DG_E_NOMEM, "out of memory for a tensor name");
        return NULL;
    }
    memcpy(copy, name, len);
    copy[len] = 0;
    dg_tensor_entry *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    e->info.name = copy;
    return e;
}

void dg_tensor_list_free(dg_tensor_list *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++) {
        free((char *)l->v[i].info.name);
        free(l->v[i].f32);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

size_t dg_dtype_size(dg_dtype t)
{
    return t == DG_DTYPE_F32 ? 4 : 2;
}

bool dg_shape_numel(int ndim, const int64_t *shape, uint64_t *numel)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return false;
        if (__builtin_mul_overflow(n, (uint64_t)shape[i], &n))
            return false;
    }
    if (n > (uint64_t)INT64_MAX / 8)
        return false;
    *numel = n;
    return true;
}

void dg_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}
