/* DESIGN: the table below is the whole option set: HTTP name, CLI flag, bounds, help. Parsing
 * only stores values (with their bounds checked); dg_gen_apply turns them into dg_search_opts
 * over the model's defaults and checks what depends on the model or on other options, so the
 * HTTP API and the CLI cannot drift apart. The engine's dg_search_opts_check runs last as a
 * backstop (its messages use Hugging Face's names). */
#include "server/api/gen_options.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { NUM, INT, BOOL } kind;  /* INT: an integer; BOOL: a switch */

static const struct {
    const char *http, *alias, *cli;  /* alias: Hugging Face's name, accepted over HTTP */
    double lo, hi;
    kind type;
    const char *help;
} table[DG_GEN_COUNT] = {
    [DG_GEN_BEAM_SIZE] = {"beam_size", "num_beams", "beam-size", 1, DG_MAX_BEAMS, INT,
                          "beams (1 = greedy search)"},
    [DG_GEN_N_BEST] = {"n_best", "num_return_sequences", "n-best", 1, DG_MAX_BEAMS, INT,
                       "hypotheses returned per text, at most the beam size"},
    [DG_GEN_MAX_LENGTH] = {"max_length", NULL, "max-length", 2, 1 << 16, INT,
                           "output length limit counting the decoder start token"},
    [DG_GEN_MAX_NEW_TOKENS] = {"max_new_tokens", NULL, "max-new-tokens", 1, 1 << 16, INT,
                               "generated tokens at most (instead of max_length)"},
    [DG_GEN_MIN_LENGTH] = {"min_length", NULL, "min-length", 0, 1 << 16, INT,
                           "EOS is blocked until the output has this length (counting the "
                           "decoder start token)"},
    [DG_GEN_MIN_NEW_TOKENS] = {"min_new_tokens", NULL, "min-new-tokens", 0, 1 << 16, INT,
                               "EOS is blocked until this many tokens were generated"},
    [DG_GEN_LENGTH_PENALTY] = {"length_penalty", NULL, "length-penalty", -10, 10, NUM,
                               "beam scores are divided by length^length_penalty"},
    [DG_GEN_EARLY_STOPPING] = {"early_stopping", NULL, "early-stopping", 0, 2, INT,
                               "beam search stop rule: true, false or \"never\""},
    [DG_GEN_NO_REPEAT_NGRAM] = {"no_repeat_ngram_size", NULL, "no-repeat-ngram-size", 0, 64,
                                INT, "no n-gram of this size is generated twice (0 = off)"},
    [DG_GEN_REPETITION_PENALTY] = {"repetition_penalty", NULL, "repetition-penalty", 1e-3, 100,
                                   NUM, "CTRL repetition penalty (1 = off)"},
    [DG_GEN_DO_SAMPLE] = {"do_sample", NULL, "do-sample", 0, 1, BOOL,
                          "draw tokens at random from the model's distribution (beam size 1)"},
    [DG_GEN_TEMPERATURE] = {"temperature", NULL, "temperature", 1e-3, 100, NUM,
                            "sampling: logits are divided by it (default 1)"},
    [DG_GEN_TOP_K] = {"top_k", NULL, "top-k", 0, 1 << 20, INT,
                      "sampling: only the k most likely tokens (default 50; 0 = all)"},
    [DG_GEN_TOP_P] = {"top_p", NULL, "top-p", 1e-6, 1, NUM,
                      "sampling: the most likely tokens holding this probability (default 1)"},
    [DG_GEN_SEED] = {"seed", NULL, "seed", 0, 9007199254740991.0, INT,
                     "sampling: same seed, same translation (default: a fresh seed)"},
};

int dg_gen_find(const char *name, dg_gen_spelling sp)
{
    for (int i = 0; i < DG_GEN_COUNT; i++) {
        if (sp == DG_GEN_CLI ? !strcmp(name, table[i].cli)
                             : !strcmp(name, table[i].http) ||
                                   (table[i].alias && !strcmp(name, table[i].alias)))
            return i;
    }
    return -1;
}

const char *dg_gen_name(dg_gen_option o, dg_gen_spelling sp)
{
    static const char *flags[DG_GEN_COUNT] = {
        [DG_GEN_BEAM_SIZE] = "--beam-size", [DG_GEN_N_BEST] = "--n-best",
        [DG_GEN_MAX_LENGTH] = "--max-length", [DG_GEN_MAX_NEW_TOKENS] = "--max-new-tokens",
        [DG_GEN_MIN_LENGTH] = "--min-length", [DG_GEN_MIN_NEW_TOKENS] = "--min-new-tokens",
        [DG_GEN_LENGTH_PENALTY] = "--length-penalty",
        [DG_GEN_EARLY_STOPPING] = "--early-stopping",
        [DG_GEN_NO_REPEAT_NGRAM] = "--no-repeat-ngram-size",
        [DG_GEN_REPETITION_PENALTY] = "--repetition-penalty", [DG_GEN_DO_SAMPLE] = "--do-sample",
        [DG_GEN_TEMPERATURE] = "--temperature", [DG_GEN_TOP_K] = "--top-k",
        [DG_GEN_TOP_P] = "--top-p", [DG_GEN_SEED] = "--seed",
    };
    return sp == DG_GEN_CLI ? flags[o] : table[o].http;
}

bool dg_gen_is_bool(dg_gen_option o)
{
    return table[o].type == BOOL;
}

int dg_gen_set_number(dg_gen_values *v, dg_gen_option o, double x, bool integer,
                      dg_gen_spelling sp, char *msg, size_t size)
{
    /* "option 'beam_size'" over HTTP, "--beam-size" on the command line */
    char name[64];
    snprintf(name, sizeof name, sp == DG_GEN_CLI ? "%s" : "option '%s'", dg_gen_name(o, sp));
    if (table[o].type != NUM && !integer) {
        snprintf(msg, size, "%s must be an integer", name);
        return -1;
    }
    if (!(x >= table[o].lo && x <= table[o].hi)) {
        snprintf(msg, size, "%s must be in [%g, %g]", name, table[o].lo, table[o].hi);
        return -1;
    }
    v->v[o] = x;
    v->set |= 1u << o;
    return 0;
}

int dg_gen_set_text(dg_gen_values *v, dg_gen_option o, const char *s, dg_gen_spelling sp,
                    char *msg, size_t size)
{
    if (o == DG_GEN_EARLY_STOPPING) {
        static const char *words[] = {"false", "true", "never"};
        for (int i = 0; i < 3; i++)
            if (!strcmp(s, words[i]))
                return dg_gen_set_number(v, o, i, true, sp, msg, size);
        snprintf(msg, size, "%s is true, false or never, not '%.40s'", dg_gen_name(o, sp), s);
        return -1;
    }
    char *end;
    double x = strtod(s, &end);
    if (!*s || *end || !isfinite(x)) {
        snprintf(msg, size, "%s expects a number, got '%.40s'", dg_gen_name(o, sp), s);
        return -1;
    }
    return dg_gen_set_number(v, o, x, x == floor(x) && fabs(x) < 9.1e15, sp, msg, size);
}

/* A seed for a sampling call that gave none: different per call and per process. */
void dg_gen_usage(FILE *f)
{
    fprintf(f, "Generation (defaults: the model's generation_config.json; over HTTP the same\n"
               "options are /v1/translate's \"options\", with snake_case names):\n");
    fprintf(f, "  %-26s %s\n", "--target-prefix TEXT",
            "every translation begins with TEXT (each line is then one sentence)");
    for (int i = 0; i < DG_GEN_COUNT; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s %s", table[i].cli,
                 i == DG_GEN_EARLY_STOPPING ? "B" : table[i].type == BOOL ? ""
                                                : table[i].type == INT  ? "N" : "F");
        fprintf(f, "  %-26s %s\n", flag, table[i].help);
    }
}
