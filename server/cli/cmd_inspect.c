/* `dragoman inspect --model DIR [--json]`: argv handling around dg_inspect (models/inspect.c),
 * which builds the report from config files and tensor headers only. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "models/inspect.h"
#include "server/cli/commands.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dragoman inspect --model DIR [--json]\n\n"
            "Describes the Hugging Face checkpoint folder DIR without loading its weights:\n"
            "architecture and sizes, parameter count (as transformers' num_parameters()),\n"
            "file format, size and dtypes, special token ids and generation defaults.\n\n"
            "  --model DIR   checkpoint folder (config.json + model.safetensors or pytorch_model.bin)\n"
            "  --json        print one JSON object instead of text\n");
}

int cmd_inspect(int argc, char **argv)
{
    const char *dir = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = true;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "dragoman inspect: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }
    dg_err err = {0};
    if (dg_inspect(stdout, dir, as_json, &err)) {
        fprintf(stderr, "dragoman inspect: %s\n", err.msg);
        return 1;
    }
    return 0;
}
