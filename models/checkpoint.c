/* DESIGN: a checkpoint = the mapped weight files of one folder + one dg_tensor_list filled by
 * the format parsers (safetensors.c, torch_zip.c). Opening only maps files and parses headers;
 * dg_checkpoint_f32 converts on first use (F16/BF16 widening, strided gathers, unaligned
 * copies) and caches the float32 copy on the entry that first holds the data, so tied copies in
 * a .bin share one conversion. Sharded folders: the index's weight_map names each tensor's
 * shard; shard names are checked (no path separators) so a hostile index cannot reach outside
 * the folder, and each tensor must be found in the shard the index names. */
#include "models/checkpoint.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/mapped_file.h"
#include "models/safetensors.h"
#include "models/tensor_list.h"
#include "models/torch_zip.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint data is little-endian and used in place: a little-endian host is required"
#endif

#define MAX_SHARDS 1024

struct dg_checkpoint {
    const char *format;
    dg_mapped_file *files;
    int n_files;
    uint64_t bytes;
    dg_tensor_list t;
    int *alias;     /* [t.n] */
};

typedef dg_code (*parse_fn)(const char *, const uint8_t *, size_t, dg_tensor_list *, dg_err *);

static bool exists(const char *dir, const char *file, char *path, size_t cap)
{
    struct stat st;
    return snprintf(path, cap, "%s/%s", dir, file) < (int)cap && stat(path, &st) == 0;
}

static dg_code add_file(dg_checkpoint *ck, const char *path, parse_fn parse, dg_err *err)
{
    dg_mapped_file *f = realloc(ck->files, (size_t)(ck->n_files + 1) * sizeof *f);
    if (!f)
        return dg_err_set(err, DG_E_NOMEM, "%s: out of memory", path);
    ck->files = f;
    dg_code rc = dg_map_file(&f[ck->n_files], path, err);
    if (rc)
        return rc;
    ck->n_files++;
    ck->bytes += f[ck->n_files - 1].size;
    return parse(path, f[ck->n_files - 1].data, f[ck->n_files - 1].size, &ck->t, err);
}

static bool safe_shard_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 256 && !strchr(s, '/') && !strchr(s, '\\') && strcmp(s, ".") && strcmp(s, "..");
}

/* Loads every shard named in INDEX (a *.index.json), then checks the weight_map against them. */
static dg_code open_sharded(dg_checkpoint *ck, const char *dir, const char *index, parse_fn parse,
                            dg_err *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return dg_err_set(err, DG_E_FORMAT, "%s: bad JSON: %s (line %d)", index, jerr.text, jerr.line);
    json_t *map = json_object_get(root, "weight_map");
    dg_code rc = DG_OK;
    const char **shards = NULL;
    int *first = NULL, n_shards = 0;
    if (!json_is_object(map)) {
        rc = dg_err_set(err, DG_E_FORMAT, "%s: no 'weight_map' object", index);
        goto done;
    }
    shards = calloc(MAX_SHARDS, sizeof *shards);
    first = calloc(MAX_SHARDS + 1, sizeof *first);
    if (!shards || !first) {
        rc = dg_err_set(err, DG_E_NOMEM, "%s: out of memory", index);
        goto done;
    }
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v) {
        if (!json_is_string(v) || !safe_shard_name(json_string_value(v))) {
            rc = dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s' maps to an invalid shard file name", index,
                            name);
            goto done;
        }
        int s = 0;
        while (s < n_shards && strcmp(shards[s], json_string_value(v)))
            s++;
        if (s == n_shards) {
            if (n_shards == MAX_SHARDS) {
                rc = dg_err_set(err, DG_E_FORMAT, "%s: more than %d shards", index, MAX_SHARDS);
                goto done;
            }
            shards[n_shards++] = json_string_value(v);
        }
    }
    for (int s = 0; s < n_shards; s++) {
        char path[4096];
        first[s] = ck->t.n;
        if (!exists(dir, shards[s], path, sizeof path)) {
            rc = dg_err_set(err, DG_E_MISSING, "%s: shard '%s' is missing", index, shards[s]);
            goto done;
        }
        if ((rc = add_file(ck, path, parse, err)))
            goto done;
    }
    first[n_shards] = ck->t.n;
    json_object_foreach(map, name, v) {
        int s = 0;
        while (strcmp(shards[s], json_string_value(v)))
            s++;
        int i = first[s];
        while (i < first[s + 1] && strcmp(ck->t.v[i].info.name, name))
            i++;
        if (i == first[s + 1]) {
            rc = dg_err_set(err, DG_E_MISSING, "%s: tensor '%s' is not in its shard '%s'", index, name,
                            shards[s]);
            goto done;
        }
    }
done:
    free(shards);
    free(first);
    json_decref(root);
    return rc;
}

static int by_name(const void *a, const void *b, void *list)
{
    const dg_tensor_entry *v = ((dg_tensor_list *)list)->v;
    return strcmp(v[*(const int *)a].info.name, v[*(const int *)b].info.name);
}

static bool same_data(const dg_tensor_entry *a, const dg_tensor_entry *b)
{
    return a->data == b->data && a->info.dtype == b->info.dtype && a->info.ndim == b->info.ndim &&
           !memcmp(a->info.shape, b->info.shape, sizeof a->info.shape) &&
           !memcmp(a->stride, b->stride, sizeof a->stride);
}

/* Rejects duplicate names (possible across shards) and records which tensors alias others. */
static dg_code index_tensors(dg_checkpoint *ck, const char *dir, dg_err *err)
{
    int n = ck->t.n;
    int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    ck->alias = malloc((size_t)(n ? n : 1) * sizeof *ck->alias);
    if (!order || !ck->alias) {
        free(order);
        return dg_err_set(err, DG_E_NOMEM, "%s: out of memory", dir);
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, (size_t)n, sizeof *order, by_name, &ck->t);
    for (int i = 1; i < n; i++)
        if (!strcmp(ck->t.v[order[i - 1]].info.name, ck->t.v[order[i]].info.name)) {
            dg_code rc = dg_err_set(err, DG_E_FORMAT, "%s: tensor '%s' appears twice", dir,
                                    ck->t.v[order[i]].info.name);
            free(order);
            return rc;
        }
    free(order);
    /* aliases only arise from shared storages; the quadratic scan is over data pointers only */
    for (int i = 0; i < n; i++) {
        ck->alias[i] = i;
        for (int j = 0; j < i; j++)
            if (ck->alias[j] == j && same_data(&ck->t.v[i], &ck->t.v[j])) {
                ck->alias[i] = j;
                break;
            }
    }
    return DG_OK;
}

dg_checkpoint *dg_checkpoint_open(const char *dir, dg_err *err)
{
    dg_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) {
        dg_err_set(err, DG_E_NOMEM, "%s: out of memory", dir);
        return NULL;
    }
    char path[4096];
    dg_code rc;
    if (exists(dir, "model.safetensors", path, sizeof path)) {
        ck->format = "safetensors";
        rc = add_file(ck, path, dg_safetensors_parse, err);
    } else if (exists(dir, "model.safetensors.index.json", path, sizeof path)) {
        ck->format = "safetensors (sharded)";
        rc = open_sharded(ck, dir, path, dg_safetensors_parse, err);
    } else if (exists(dir, "pytorch_model.bin", path, sizeof path)) {
        ck->format = "pytorch zip";
        rc = add_file(ck, path, dg_torch_zip_parse, err);
    } else if (exists(dir, "pytorch_model.bin.index.json", path, sizeof path)) {
        ck->format = "pytorch zip (sharded)";
        rc = open_sharded(ck, dir, path, dg_torch_zip_parse, err);
    } else {
        rc = dg_err_set(err, DG_E_MISSING,
                        "%s: no model.safetensors, model.safetensors.index.json, pytorch_model.bin or "
                        "pytorch_model.bin.index.json",
                        dir);
    }
    if (!rc)
        rc = index_tensors(ck, dir, err);
    if (rc) {
        dg_checkpoint_close(ck);
        return NULL;
    }
    return ck;
}

void dg_checkpoint_close(dg_checkpoint *ck)
{
    if (!ck)
        return;
    dg_tensor_list_free(&ck->t);
    for (int i = 0; i < ck->n_files; i++)
        dg_unmap_file(&ck->files[i]);
    free(ck->files);
    free(ck->alias);
    free(ck);
}

int dg_checkpoint_count(const dg_checkpoint *ck) { return ck->t.n; }

const dg_tensor_info *dg_checkpoint_info(const dg_checkpoint *ck, int i)
{
    return i >= 0 && i < ck->t.n ? &ck->t.v[i].info : NULL;
}

int dg_checkpoint_index(const dg_checkpoint *ck, const char *name)
{
    for (int i = 0; i < ck->t.n; i++)
        if (!strcmp(ck->t.v[i].info.name, name))
            return i;
    return -1;
}

const dg_tensor_info *dg_checkpoint_find(const dg_checkpoint *ck, const char *name)
{
    return dg_checkpoint_info(ck, dg_checkpoint_index(ck, name));
}

int dg_checkpoint_alias(const dg_checkpoint *ck, int i) { return ck->alias[i]; }
const char *dg_checkpoint_format(const dg_checkpoint *ck) { return ck->format; }
int dg_checkpoint_file_count(const dg_checkpoint *ck) { return ck->n_files; }
uint64_t dg_checkpoint_file_bytes(const dg_checkpoint *ck) { return ck->bytes; }

const char *dg_dtype_name(dg_dtype t)
{
    return t == DG_DTYPE_F32 ? "F32" : t == DG_DTYPE_F16 ? "F16" : "BF16";
}

char *dg_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

/* IEEE half → float, subnormals, infinities and NaNs included. */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (man) {
        int e = 113;
        while (!(man & 0x400)) {
            man <<= 1;
            e--;
        }
        bits = sign | (uint32_t)e << 23 | (man & 0x3ff) << 13;
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float load(const uint8_t *p, dg_dtype t)
{
    uint32_t bits;
    float f;
    switch (t) {
    case DG_DTYPE_F16: return f16_to_f32((uint16_t)(p[0] | p[1] << 8));
    case DG_DTYPE_BF16:
        bits = (uint32_t)(p[0] | p[1] << 8) << 16;
        memcpy(&f, &bits, 4);
        return f;
    case DG_DTYPE_F32: break;
    }
    memcpy(&f, p, 4);
    return f;
}

void dg_widen_f32(const void *src, dg_dtype t, size_t n, float *dst)
{
    const uint8_t *p = src;
    if (t == DG_DTYPE_F32) {
        memcpy(dst, src, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = load(p + 2 * i, t);
}

static bool contiguous(const dg_tensor_entry *e)
{
    int64_t want[DG_MAX_DIMS];
    dg_contiguous_strides(e->info.ndim, e->info.shape, want);
    for (int d = 0; d < e->info.ndim; d++)
        if (e->info.shape[d] > 1 && e->stride[d] != want[d])
            return false;
    return true;
}

static const float *entry_f32(dg_tensor_entry *e, dg_err *err)
{
    if (e->f32)
        return e->f32;
    bool dense = contiguous(e);
    if (e->info.dtype == DG_DTYPE_F32 && dense && ((uintptr_t)e->data & 3) == 0)
        return (const float *)(const void *)e->data;
    float *out = malloc((size_t)(e->numel ? e->numel : 1) * sizeof *out);
    if (!out) {
        dg_err_set(err, DG_E_NOMEM, "tensor '%s': out of memory converting to float32", e->info.name);
        return NULL;
    }
    size_t es = dg_dtype_size(e->info.dtype);
    int64_t idx[DG_MAX_DIMS] = {0};
    uint64_t off = 0; /* element offset of idx */
    for (uint64_t k = 0; k < e->numel; k++) {
        out[k] = load(e->data + (dense ? k : off) * es, e->info.dtype);
        for (int d = e->info.ndim - 1; d >= 0; d--) {  /* odometer step over the shape */
            off += (uint64_t)e->stride[d];
            if (++idx[d] < e->info.shape[d])
                break;
            off -= (uint64_t)(e->stride[d] * idx[d]);
            idx[d] = 0;
        }
    }
    e->f32 = out;
    return out;
}

/* The entry NAME after the shape check, or NULL. */
static dg_tensor_entry *checked_entry(dg_checkpoint *ck, const char *name, int ndim,
                                      const int64_t *shape, dg_err *err)
{
    int i = dg_checkpoint_index(ck, name);
    if (i < 0) {
        dg_err_set(err, DG_E_MISSING, "tensor '%s' not found in the checkpoint", name);
        return NULL;
    }
    const dg_tensor_info *in = &ck->t.v[i].info;
    if (in->ndim != ndim || memcmp(in->shape, shape, (size_t)ndim * sizeof *shape)) {
        char want[160], got[160];
        dg_err_set(err, DG_E_SHAPE, "tensor '%s': expected shape %s, got %s", name,
                   dg_shape_str(want, sizeof want, ndim, shape),
                   dg_shape_str(got, sizeof got, in->ndim, in->shape));
        return NULL;
    }
    return &ck->t.v[ck->alias[i]];
}

const float *dg_checkpoint_f32(dg_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                               dg_err *err)
{
    dg_tensor_entry *e = checked_entry(ck, name, ndim, shape, err);
    return e ? entry_f32(e, err) : NULL;
}

const void *dg_checkpoint_data(dg_checkpoint *ck, const char *name, int ndim,
                               const int64_t *shape, dg_dtype *dtype, dg_err *err)
{
    dg_tensor_entry *e = checked_entry(ck, name, ndim, shape, err);
    if (!e)
        return NULL;
    if (e->info.dtype != DG_DTYPE_F32 && !e->f32 && contiguous(e) && ((uintptr_t)e->data & 1) == 0) {
        *dtype = e->info.dtype;
        return e->data;
    }
    *dtype = DG_DTYPE_F32;
    return entry_f32(e, err);
}

/* Linux 5.14; older kernels answer EINVAL and the pages fault in one by one as before */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* madvise(advice) on the mapping pages [p, p + bytes) touches: wholly inside it when dropping
 * pages (neighbours may still be needed), any page it touches when populating. */
static void advise(const dg_checkpoint *ck, const void *p, size_t bytes, int advice)
{
    const uint8_t *b = p, *e = b + bytes;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; ck && i < ck->n_files; i++) {
        const dg_mapped_file *f = &ck->files[i];
        if (!f->data || b < f->data || e > f->data + f->size)
            continue;
        bool inside = advice == MADV_DONTNEED;
        uintptr_t lo = ((uintptr_t)b + (inside ? page - 1 : 0)) & ~(page - 1);
        uintptr_t hi = ((uintptr_t)e + (inside ? 0 : page - 1)) & ~(page - 1);
        if (hi > (uintptr_t)f->data + f->size + page - 1)
            hi = ((uintptr_t)f->data + f->size + page - 1) & ~(page - 1);
        if (hi > lo)
            madvise((void *)lo, hi - lo, advice);
        return;
    }
}

void dg_checkpoint_evict(const dg_checkpoint *ck, const void *p, size_t bytes)
{
    advise(ck, p, bytes, MADV_DONTNEED);
}

void dg_checkpoint_prefetch(const dg_checkpoint *ck, const void *p, size_t bytes)
{
    advise(ck, p, bytes, MADV_POPULATE_READ);
}

void dg_checkpoint_release(dg_checkpoint *ck, const float *p, size_t n)
{
    const void *b = p;
    size_t bytes = n * sizeof(float);
    for (int i = 0; ck && i < ck->t.n; i++) {
        dg_tensor_entry *t = &ck->t.v[i];
        if (t->f32 != p)
            continue;
        /* a conversion: freed (a later lookup converts again), and its source bytes in the
         * mapping, read once to convert, leave memory below */
        for (int j = 0; j < ck->t.n; j++)
            if (j != i && ck->alias[j] == i)
                return; /* shared with another name, whose holder may still read it */
        free(t->f32);
        t->f32 = NULL;
        if (!contiguous(t))
            return;
        b = t->data;
        bytes = t->numel * dg_dtype_size(t->info.dtype);
        break;
    }
    dg_checkpoint_evict(ck, b, bytes);
}
