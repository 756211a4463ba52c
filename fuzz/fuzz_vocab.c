/* libFuzzer: tokenizer/vocab.c on arbitrary vocab.json files, then lookups of every key's
 * neighbours (the first bytes of the input as a token). */
#include "fuzz_util.h"
#include "tokenizer/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/vocab.json", fuzz_dir());
    fuzz_write(path, data, size);
    dg_vocab *v = NULL;
    dg_err err;
    if (dg_vocab_load(path, &v, &err) == DG_OK) {
        for (size_t n = 0; n <= size && n < 16; n++)
            dg_vocab_find(v, (const char *)data, n);
        volatile int sink = dg_vocab_size(v) + dg_vocab_id_limit(v);
        (void)sink;
        dg_vocab_free(v);
    }
    return 0;
}
