/* libFuzzer: models/safetensors.c on arbitrary bytes (header JSON, offsets, dtypes, shapes). */
#include "fuzz_util.h"
#include "models/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dg_tensor_list l = {0};
    dg_err err;
    if (dg_safetensors_parse("fuzz.safetensors", data, size, &l, &err) == DG_OK) {
        volatile unsigned sink = fuzz_touch(&l);
        (void)sink;
    }
    dg_tensor_list_free(&l);
    return 0;
}
