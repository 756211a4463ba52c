/* A Hugging Face checkpoint folder's tensors, whatever file format holds them:
 * model.safetensors, sharded model-0000x-of-0000y.safetensors with model.safetensors.index.json,
 * or pytorch_model.bin (PyTorch zip + pickle, also sharded with pytorch_model.bin.index.json).
 * Like transformers, safetensors is preferred when both are present. Files are mmap'ed
 * read-only; F32 tensors that are contiguous and 4-byte aligned are returned as pointers into
 * the mapping (zero copy); F16/BF16, strided or unaligned tensors are converted once into an
 * owned float buffer that lives as long as the checkpoint. Conversions happen on first lookup, so
 * look tensors up while loading the model (one thread); the returned pointers are then
 * read-only and may be shared by any number of threads. Opening reads only headers, so listing
 * tensors (dg_checkpoint_info, `dragoman inspect`) stays fast on big models.
 *
 *     dg_err err;
 *     dg_checkpoint *ck = dg_checkpoint_open("opus-mt-en-de", &err);
 *     const float *w = dg_checkpoint_f32(ck, "lm_head.weight", 2, (int64_t[]){V, D}, &err);
 *     ...
 *     dg_checkpoint_close(ck);
 */
#ifndef DG_CHECKPOINT_H
#define DG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define DG_MAX_DIMS 8

typedef enum { DG_DTYPE_F32, DG_DTYPE_F16, DG_DTYPE_BF16 } dg_dtype;

typedef struct {
    const char *name;
    dg_dtype dtype;             /* dtype as stored in the file */
    int ndim;
    int64_t shape[DG_MAX_DIMS];
} dg_tensor_info;

typedef struct dg_checkpoint dg_checkpoint;

/* Opens the weights of the checkpoint folder DIR (format detected from the files present).
 * No weight file → DG_E_MISSING; malformed files → DG_E_FORMAT / DG_E_UNSUPPORTED naming the
 * file and tensor. Returns NULL on error. */
dg_checkpoint *dg_checkpoint_open(const char *dir, dg_err *err);
void dg_checkpoint_close(dg_checkpoint *ck);   /* accepts NULL */

/* Number of tensors and their metadata, in file order (shards in index order). */
int dg_checkpoint_count(const dg_checkpoint *ck);
const dg_tensor_info *dg_checkpoint_info(const dg_checkpoint *ck, int i);
const dg_tensor_info *dg_checkpoint_find(const dg_checkpoint *ck, const char *name);
/* Index of NAME, or -1. */
int dg_checkpoint_index(const dg_checkpoint *ck, const char *name);
/* Index of the first tensor holding the same data as tensor I (tied copies that a .bin stores
 * once, under several names), or I itself. */
int dg_checkpoint_alias(const dg_checkpoint *ck, int i);

/* "safetensors", "safetensors (sharded)", "pytorch zip" or "pytorch zip (sharded)". */
const char *dg_checkpoint_format(const dg_checkpoint *ck);
int dg_checkpoint_file_count(const dg_checkpoint *ck);
uint64_t dg_checkpoint_file_bytes(const dg_checkpoint *ck);  /* weight files, summed */

/* Returns the tensor NAME as contiguous row-major float32 data, checking that it has exactly
 * NDIM dimensions equal to SHAPE. Missing tensor → DG_E_MISSING, other shape → DG_E_SHAPE,
 * both naming the tensor. The pointer stays valid until dg_checkpoint_close. */
const float *dg_checkpoint_f32(dg_checkpoint *ck, const char *name, int ndim,
                               const int64_t *shape, dg_err *err);

/* As dg_checkpoint_f32, but a contiguous F16 / BF16 tensor comes as stored (a pointer into the
 * mapping, *dtype = its dtype) instead of widened; anything else as dg_checkpoint_f32 returns it
 * (*dtype = DG_DTYPE_F32). Widen the 16-bit data with dg_widen_f32. */
const void *dg_checkpoint_data(dg_checkpoint *ck, const char *name, int ndim,
                               const int64_t *shape, dg_dtype *dtype, dg_err *err);

/* Tells the checkpoint that the caller has copied the n floats at p (a pointer from
 * dg_checkpoint_f32) elsewhere, e.g. packed for the GEMMs, and will not read p again: a
 * converted buffer (F16/BF16, strided) is freed unless another tensor name shares it (tied
 * copies in a .bin), and file-mapping pages wholly inside p leave the process's memory
 * (madvise DONTNEED on the read-only private mapping). A later dg_checkpoint_f32 of the tensor
 * is still valid (it converts or maps again). */
void dg_checkpoint_release(dg_checkpoint *ck, const float *p, size_t n);

/* Drops the file-mapping pages wholly inside [p, p + bytes) from the process's memory; the data
 * stays valid (a later read faults it in again from the file). No effect outside the mapping. */
void dg_checkpoint_evict(const dg_checkpoint *ck, const void *p, size_t bytes);
/* Maps the file pages of [p, p + bytes) in one call (MADV_POPULATE_READ) ahead of reading them
 * all: one system call instead of a page fault per few pages. No effect outside the mapping or
 * on kernels before 5.14. */
void dg_checkpoint_prefetch(const dg_checkpoint *ck, const void *p, size_t bytes);

/* dst[0..n) = the n little-endian values at src stored as t, widened exactly to float32. */
void dg_widen_f32(const void *src, dg_dtype t, size_t n, float *dst);

/* "F32", "F16", "BF16". */
const char *dg_dtype_name(dg_dtype t);
/* Writes "[a, b, c]" into BUF (always NUL-terminated); returns BUF. */
char *dg_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

#endif
