/* libFuzzer: models/zip_store.c + models/torch_zip.c (zip directory, pickle VM, storages). */
#include "fuzz_util.h"
#include "models/torch_zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dg_tensor_list l = {0};
    dg_err err;
    if (dg_torch_zip_parse("fuzz.bin", data, size, &l, &err) == DG_OK) {
        volatile unsigned sink = fuzz_touch(&l);
        (void)sink;
    }
    dg_tensor_list_free(&l);
    return 0;
}
