/* libFuzzer: models/config.c. The input is config.json, optionally followed by a line "---" and
 * generation_config.json. */
#include "fuzz_util.h"
#include "models/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_dir();
    char cfg_path[128], gen_path[128];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(gen_path, sizeof gen_path, "%s/generation_config.json", dir);
    size_t split = size;
    for (size_t i = 0; i + 5 <= size; i++)
        if (!memcmp(data + i, "\n---\n", 5)) {
            split = i;
            break;
        }
    fuzz_write(cfg_path, data, split);
    if (split < size)
        fuzz_write(gen_path, data + split + 5, size - split - 5);
    else
        unlink(gen_path);
    dg_config cfg;
    dg_err err;
    dg_config_load(&cfg, dir, &err);
    return 0;
}
