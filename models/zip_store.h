/* Reader for the uncompressed ("stored") zip archives torch.save writes: the central directory
 * is parsed once and each entry's data is located inside the mapped file. Internal to models/. */
#ifndef DG_ZIP_STORE_H
#define DG_ZIP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct {
    const char *name;    /* points into the mapping, not NUL-terminated */
    size_t name_len;
    const uint8_t *data; /* entry contents inside the mapping */
    uint64_t size;
} dg_zip_entry;

typedef struct {
    dg_zip_entry *e;
    int n;
} dg_zip;

/* Parses the end-of-central-directory record (ZIP64 included) and every entry; call dg_zip_free
 * afterwards even when it fails. Errors name PATH:
 * DG_E_FORMAT for a truncated or inconsistent archive, DG_E_UNSUPPORTED for compressed entries. */
dg_code dg_zip_open(dg_zip *z, const char *path, const uint8_t *buf, size_t size, dg_err *err);
/* The entry called NAME (exact match), or NULL. */
const dg_zip_entry *dg_zip_find(const dg_zip *z, const char *name);
void dg_zip_free(dg_zip *z); /* accepts a zeroed struct */

#endif
