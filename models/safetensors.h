/* safetensors reader: validates the JSON header of a mapped .safetensors file and appends one
 * dg_tensor_entry per tensor (pointing into the mapping) to a list. Internal to models/. */
#ifndef DG_SAFETENSORS_H
#define DG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/tensor_list.h"

/* The header may not exceed this many bytes (a real header is a few hundred KB). */
#define DG_SAFETENSORS_MAX_HEADER (100u << 20)

/* Parses BUF[0..SIZE) (the file PATH, used in messages). Entries are appended in data-offset
 * order. Errors: DG_E_FORMAT for a malformed header, DG_E_UNSUPPORTED for a dtype other than
 * F32/F16/BF16; each names the file and, where there is one, the tensor. */
dg_code dg_safetensors_parse(const char *path, const uint8_t *buf, size_t size, dg_tensor_list *out,
                             dg_err *err);

#endif
