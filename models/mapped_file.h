/* A whole file mapped read-only into memory: checkpoint parsers read headers and tensor data
 * straight from the mapping, so a tensor that needs no conversion costs no copy and no time. */
#ifndef DG_MAPPED_FILE_H
#define DG_MAPPED_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
} dg_mapped_file;

/* DG_E_IO naming PATH when the file is missing, not a regular file or cannot be mapped. */
dg_code dg_map_file(dg_mapped_file *m, const char *path, dg_err *err);
void dg_unmap_file(dg_mapped_file *m); /* accepts a zeroed struct */

#endif
