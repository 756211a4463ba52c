/* pytorch_model.bin reader: the zip archive torch.save writes (data.pkl + one data/<key> entry
 * per storage), decoded by a restricted unpickler that understands exactly what a saved state
 * dict contains and nothing else. Internal to models/. */
#ifndef DG_TORCH_ZIP_H
#define DG_TORCH_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/tensor_list.h"

/* Parses the mapped file BUF[0..SIZE) (PATH for messages) and appends one entry per tensor of
 * the saved state dict, in pickle order, pointing into the mapping with the tensor's own storage
 * offset and strides. DG_E_UNSUPPORTED for the legacy non-zip format, compressed entries,
 * storages other than float/half/bfloat16 and any pickle global outside the allow-list;
 * DG_E_FORMAT for anything malformed, naming the opcode, entry or tensor. */
dg_code dg_torch_zip_parse(const char *path, const uint8_t *buf, size_t size, dg_tensor_list *out,
                           dg_err *err);

#endif
