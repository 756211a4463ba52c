/* The format-neutral record every checkpoint parser (safetensors, PyTorch zip) produces: a
 * tensor's metadata plus where its first element lies in a mapped file and its element strides.
 * checkpoint.c owns the list and converts entries to float32 on demand. Internal to models/. */
#ifndef DG_TENSOR_LIST_H
#define DG_TENSOR_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/checkpoint.h"

typedef struct {
    dg_tensor_info info;           /* info.name is owned (NUL-terminated copy) */
    const uint8_t *data;           /* element [0,..,0] inside a mapping */
    int64_t stride[DG_MAX_DIMS];   /* in elements; row-major unless the file says otherwise */
    uint64_t numel;
    float *f32;                    /* owned float32 copy, made on first lookup when needed */
} dg_tensor_entry;

typedef struct {
    dg_tensor_entry *v;
    int n, cap;
} dg_tensor_list;

/* Appends an entry named by the LEN bytes at NAME (copied); NULL on allocation failure
 * (DG_E_NOMEM recorded). The entry's other fields are zeroed. */
dg_tensor_entry *dg_tensor_list_add(dg_tensor_list *l, const char *name, size_t len, dg_err *err);
void dg_tensor_list_free(dg_tensor_list *l);

/* Bytes per element of a storage dtype. */
size_t dg_dtype_size(dg_dtype t);

/* Product of SHAPE into *numel; false when a dimension is negative or the product (times 8,
 * the widest element size, so byte counts cannot overflow either) exceeds INT64_MAX. */
bool dg_shape_numel(int ndim, const int64_t *shape, uint64_t *numel);

/* Fills STRIDE with the row-major (contiguous) element strides of SHAPE. */
void dg_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

#endif
