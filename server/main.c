/* dragoman: the single executable. `dragoman <command> [options]`; each command's options are
 * documented by `dragoman <command> --help`. */
#include <stdio.h>
#include <string.h>

#include "server/cli/commands.h"

static const dg_command commands[] = {
    {"translate", cmd_translate, "translate stdin lines with a model (text or jsonl out)"},
    {"tokenize", cmd_tokenize, "text lines -> token ids (tokenizer only)"},
    {"detokenize", cmd_detokenize, "token id lines -> text (tokenizer only)"},
    {"inspect", cmd_inspect, "describe a checkpoint folder: architecture, sizes, dtypes, defaults"},
    {"serve", cmd_serve, "HTTP translation server (see `dragoman serve --help`)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: dragoman <command> [options]\n\ncommands:\n");
    for (const dg_command *c = commands; c->name; c++)
        fprintf(f, "  %-12s %s\n", c->name, c->summary);
    fprintf(f, "\n`dragoman <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("dragoman %s\n", DG_VERSION);
        return 0;
    }
    for (const dg_command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "dragoman: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
