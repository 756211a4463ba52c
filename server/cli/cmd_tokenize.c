/* DESIGN: `dragoman tokenize` and `dragoman detokenize`: the tokenizer on its own, one input per
 * stdin line, one output line per input, so ids can be compared with Hugging Face or fed to
 * `dragoman translate --input-ids`. They read only the tokenizer files of the model folder
 * (tokenizer_config.json and the slow tokenizer's files), never the weights.
 *
 * A line is everything up to '\n', which is not part of it (for tokenize a '\r' before it is
 * text; detokenize treats it as a separator). The first bad line stops the run: its line
 * number and the reason go to stderr and the exit status is 1 (2 for usage errors). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cli/cli_lang.h"
#include "server/cli/commands.h"
#include "tokenizer/tokenizer.h"

static void tokenize_usage(FILE *f)
{
    fprintf(f, "usage: dragoman tokenize --model DIR [--side source|target] [--pieces]\n"
               "                         [--source LANG] [--target LANG] < text\n"
               "One text per line -> its space-separated token ids (special tokens included).\n"
               "  --model DIR      model or tokenizer folder (its slow-tokenizer files)\n"
               "  --side S         source (encoder input, default) or target (decoder labels)\n"
               "  --pieces         print the tokens (vocabulary pieces) instead of ids\n"
               "  --source LANG    source language (its code token frames the text)\n"
               "  --target LANG    target language (>>xx<< for multi-target OPUS-MT, the T5\n"
               "                   task prefix); source side only\n");
}

static void detokenize_usage(FILE *f)
{
    fprintf(f, "usage: dragoman detokenize --model DIR [--keep-special] < ids\n"
               "One line of space-separated target ids -> its text.\n"
               "  --model DIR      model or tokenizer folder\n"
               "  --keep-special   write the special tokens (</s>, <unk>, ...) instead of dropping them\n");
}

static dg_tokenizer *open_tokenizer(const char *cmd, const char *dir)
{
    dg_err err = {0};
    dg_tokenizer *t = dg_tokenizer_load(dir, &err);
    if (!t)
        fprintf(stderr, "dragoman %s: %s\n", cmd, err.msg);
    return t;
}

static size_t chomp(char *line, ssize_t len)
{
    if (len > 0 && line[len - 1] == '\n')
        line[--len] = 0;
    return (size_t)len;
}

int cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"side", required_argument, 0, 's'},
                                         {"pieces", no_argument, 0, 'p'},
                                         {"source", required_argument, 0, 'S'},
                                         {"target", required_argument, 0, 'T'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *source = NULL, *target = NULL;
    dg_side side = DG_SIDE_SOURCE;
    int pieces = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 's':
            if (!strcmp(optarg, "source")) {
                side = DG_SIDE_SOURCE;
            } else if (!strcmp(optarg, "target")) {
                side = DG_SIDE_TARGET;
            } else {
                fprintf(stderr, "dragoman tokenize: --side expects source or target, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'p': pieces = 1; break;
        case 'S': source = optarg; break;
        case 'T': target = optarg; break;
        case 'h': tokenize_usage(stdout); return 0;
        default: tokenize_usage(stderr); return 2;
        }
    }
    if (!model || optind != argc) {
        tokenize_usage(stderr);
        return 2;
    }
    if ((source || target) && side != DG_SIDE_SOURCE) {
        fprintf(stderr, "dragoman tokenize: --source/--target apply to --side source only\n");
        return 2;
    }
    dg_tokenizer *t = open_tokenizer("tokenize", model);
    if (!t)
        return 1;
    int src, tgt;
    if (dg_cli_langs("tokenize", t, source, target, &src, &tgt)) {
        dg_tokenizer_free(t);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int status = 0;
    while (status == 0 && (got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = chomp(line, got);
        int *ids, n;
        dg_err err = {0};
        dg_code rc = source || target
                         ? dg_tokenizer_encode_pair(t, src, tgt, line, len, &ids, &n, &err)
                         : dg_tokenizer_encode(t, side, line, len, &ids, &n, &err);
        if (rc != DG_OK) {
            fprintf(stderr, "dragoman tokenize: line %zu: %s\n", lineno, err.msg);
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (i)
                putchar(' ');
            if (pieces)
                fputs(dg_tokenizer_token(t, side, ids[i]), stdout);
            else
                printf("%d", ids[i]);
        }
        putchar('\n');
        free(ids);
    }
    free(line);
    dg_tokenizer_free(t);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "dragoman tokenize: writing output: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}

/* Space-separated decimal ids of one line into *ids (grown as needed). Returns the count, or -1
 * with a message in err. */
static int parse_ids(const char *line, int **ids, size_t *cap, dg_err *err)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            return n;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ' ' && *end != '\t' && *end != '\r') || errno ||
            v < INT_MIN || v > INT_MAX) {
            int w = (int)strcspn(p, " \t\r");
            dg_err_set(err, DG_E_INPUT, "'%.*s' is not an integer id", w > 40 ? 40 : w, p);
            return -1;
        }
        if (n == DG_TOKENIZER_MAX_IDS) {
            dg_err_set(err, DG_E_INPUT, "more than %d ids", DG_TOKENIZER_MAX_IDS);
            return -1;
        }
        if ((size_t)n == *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            int *grown = realloc(*ids, nc * sizeof *grown);
            if (!grown) {
                dg_err_set(err, DG_E_NOMEM, "out of memory for %zu ids", nc);
                return -1;
            }
            *ids = grown;
            *cap = nc;
        }
        (*ids)[n++] = (int)v;
        p = end;
    }
}

int cmd_detokenize(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"keep-special", no_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL;
    int keep = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'k': keep = 1; break;
        case 'h': detokenize_usage(stdout); return 0;
        default: detokenize_usage(stderr); return 2;
        }
    }
    if (!model || optind != argc) {
        detokenize_usage(stderr);
        return 2;
    }
    dg_tokenizer *t = open_tokenizer("detokenize", model);
    if (!t)
        return 1;
    char *line = NULL;
    int *ids = NULL;
    size_t cap = 0, ids_cap = 0, lineno = 0;
    ssize_t got;
    int status = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = chomp(line, got);
        dg_err err = {0};
        char *text = NULL;
        int count = strlen(line) != len ? dg_err_set(&err, DG_E_INPUT, "NUL byte in the line"), -1
                                        : parse_ids(line, &ids, &ids_cap, &err);
        if (count < 0 || dg_tokenizer_decode(t, ids, count, !keep, &text, &err) != DG_OK) {
            fprintf(stderr, "dragoman detokenize: line %zu: %s\n", lineno, err.msg);
            status = 1;
            break;
        }
        puts(text);
        free(text);
    }
    free(line);
    free(ids);
    dg_tokenizer_free(t);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "dragoman detokenize: writing output: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}
