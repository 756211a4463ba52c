/* DESIGN: safetensors = 8-byte little-endian header length N, N bytes of JSON, then the data
 * section. The JSON maps tensor name → {dtype, shape, data_offsets: [begin, end]} with offsets
 * relative to the data section; "__metadata__" holds free-form strings and is ignored.
 * Everything in the header is hostile until checked: the length against the file, each field's
 * type, offsets against the data section, the byte length against shape × dtype size (with
 * overflow checks), and finally, after sorting by offset, that no two tensors overlap. */
#include "models/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    uint64_t begin, end;
    dg_dtype dtype;
    int ndim;
    int64_t shape[DG_MAX_DIMS];
    uint64_t numel;
} st_tensor;

static int by_begin(const void *a, const void *b)
{
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static dg_code parse_dtype(const char *path, const char *name, json_t *v, dg_dtype *t, dg_err *err)
{
    if (!json_is_string(v))
        return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s': 'dtype' is not a string", path, name);
    const char *s = json_string_value(v);
    if (!strcmp(s, "F32"))
        *t = DG_DTYPE_F32;
    else if (!strcmp(s, "F16"))
        *t = DG_DTYPE_F16;
    else if (!strcmp(s, "BF16"))
        *t = DG_DTYPE_BF16;
    else
        return dg_err_set(err, DG_E_UNSUPPORTED,
                          "%s: tensor '%s' has dtype %.16s (supported: F32, F16, BF16)", path, name, s);
    return DG_OK;
}

/* An array of at most MAX non-negative JSON integers. */
static dg_code parse_ints(const char *path, const char *name, const char *field, json_t *v, int max,
                          int64_t *vals, int *n, dg_err *err)
{
    if (!json_is_array(v))
        return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s': '%s' is not an array", path, name, field);
    if (json_array_size(v) > (size_t)max)
        return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s': '%s' has %zu entries (at most %d)", path,
                          name, field, json_array_size(v), max);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s': '%s'[%zu] is not a non-negative integer",
                              path, name, field, i);
        vals[i] = (int64_t)json_integer_value(x);
    }
    *n = (int)json_array_size(v);
    return DG_OK;
}

static dg_code parse_tensor(const char *path, const char *name, json_t *obj, uint64_t data_size,
                            st_tensor *t, dg_err *err)
{
    if (!json_is_object(obj))
        return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s' is not a JSON object", path, name);
    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(obj, fields[i]))
            return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s' has no '%s'", path, name, fields[i]);
    t->name = name;
    dg_code rc = parse_dtype(path, name, json_object_get(obj, "dtype"), &t->dtype, err);
    if (rc)
        return rc;
    rc = parse_ints(path, name, "shape", json_object_get(obj, "shape"), DG_MAX_DIMS, t->shape, &t->ndim,
                    err);
    if (rc)
        return rc;
    int64_t off[2];
    int n_off;
    rc = parse_ints(path, name, "data_offsets", json_object_get(obj, "data_offsets"), 2, off, &n_off, err);
    if (rc)
        return rc;
    if (n_off != 2)
        return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s': 'data_offsets' needs 2 entries", path, name);
    t->begin = (uint64_t)off[0];
    t->end = (uint64_t)off[1];
    if (t->begin > t->end)
        return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] begin after end",
                          path, name, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_size)
        return dg_err_set(err, DG_E_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] out of range (data section is %llu "
                          "bytes)",
                          path, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                          (unsigned long long)data_size);
    if (!dg_shape_numel(t->ndim, t->shape, &t->numel))
        return dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s': shape too large", path, name);
    uint64_t want = t->numel * dg_dtype_size(t->dtype);
    if (want != t->end - t->begin)
        return dg_err_set(err, DG_E_FORMAT,
                          "%s: tensor '%s': shape needs %llu bytes but data_offsets span %llu", path, name,
                          (unsigned long long)want, (unsigned long long)(t->end - t->begin));
    return DG_OK;
}

dg_code dg_safetensors_parse(const char *path, const uint8_t *buf, size_t size, dg_tensor_list *out,
                             dg_err *err)
{
    if (size < 8)
        return dg_err_set(err, DG_E_FORMAT, "%s: truncated safetensors file (%zu bytes, no header length)",
                          path, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > size - 8)
        return dg_err_set(err, DG_E_FORMAT, "%s: header length %llu exceeds the file (%zu bytes)", path,
                          (unsigned long long)hlen, size);
    if (hlen > DG_SAFETENSORS_MAX_HEADER)
        return dg_err_set(err, DG_E_FORMAT, "%s: header length %llu over the %u-byte limit", path,
                          (unsigned long long)hlen, DG_SAFETENSORS_MAX_HEADER);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return dg_err_set(err, DG_E_FORMAT, "%s: bad header JSON: %s (at byte %d)", path, jerr.text,
                          jerr.position);
    dg_code rc = DG_OK;
    st_tensor *ts = NULL;
    if (!json_is_object(root)) {
        rc = dg_err_set(err, DG_E_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }
    ts = calloc(json_object_size(root) + 1, sizeof *ts);
    if (!ts) {
        rc = dg_err_set(err, DG_E_NOMEM, "%s: out of memory for the header", path);
        goto done;
    }
    const uint8_t *data = buf + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    int n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__"))
            continue;
        if ((rc = parse_tensor(path, key, val, data_size, &ts[n], err)))
            goto done;
        n++;
    }
    qsort(ts, (size_t)n, sizeof *ts, by_begin);
    /* after sorting by begin, any overlap shows up between neighbours (empty tensors own no bytes) */
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (ts[i].begin == ts[i].end)
            continue;
        if (last >= 0 && ts[i].begin < ts[last].end) {
            rc = dg_err_set(err, DG_E_FORMAT, "%s: tensors '%s' and '%s' overlap", path, ts[last].name,
                            ts[i].name);
            goto done;
        }
        last = i;
    }
    for (int i = 0; i < n; i++) {
        dg_tensor_entry *e = dg_tensor_list_add(out, ts[i].name, strlen(ts[i].name), err);
        if (!e) {
            rc = DG_E_NOMEM;
            goto done;
        }
        e->info.dtype = ts[i].dtype;
        e->info.ndim = ts[i].ndim;
        memcpy(e->info.shape, ts[i].shape, sizeof ts[i].shape);
        dg_contiguous_strides(ts[i].ndim, ts[i].shape, e->stride);
        e->numel = ts[i].numel;
        e->data = data + ts[i].begin;
    }
done:
    free(ts);
    json_decref(root);
    return rc;
}
