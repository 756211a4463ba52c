/* The generation options a caller may set, one table for both ways in: the "options" object of
 * POST /v1/translate (snake_case names) and `dragoman translate` (--kebab-case flags). Both get
 * the same options, bounds, defaults (the model's generation_config.json) and checks; messages
 * name the option the way the caller spelled it. */
#ifndef DG_GEN_OPTIONS_H
#define DG_GEN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    DG_GEN_BEAM_SIZE,         /* HF num_beams */
    DG_GEN_N_BEST,            /* HF num_return_sequences */
    DG_GEN_MAX_LENGTH,        /* HF max_length: counts the decoder start token */
    DG_GEN_MAX_NEW_TOKENS,
    DG_GEN_MIN_LENGTH,        /* HF min_length: counts the decoder start token */
    DG_GEN_MIN_NEW_TOKENS,    /* HF min_new_tokens: generated tokens before EOS may come */
    DG_GEN_LENGTH_PENALTY,
    DG_GEN_EARLY_STOPPING,    /* false 0, true 1, "never" 2 */
    DG_GEN_NO_REPEAT_NGRAM,
    DG_GEN_REPETITION_PENALTY,
    DG_GEN_DO_SAMPLE,         /* sampling (greedy search's place; beam_size 1) */
    DG_GEN_TEMPERATURE,
    DG_GEN_TOP_K,
    DG_GEN_TOP_P,
    DG_GEN_SEED,              /* same seed, same translation; absent: a fresh one per call */
    DG_GEN_COUNT
} dg_gen_option;

typedef enum { DG_GEN_HTTP, DG_GEN_CLI } dg_gen_spelling;

typedef struct {
    unsigned set;             /* bit (1 << dg_gen_option) per option given */
    double v[DG_GEN_COUNT];
    const char *target_prefix; /* text the translation must begin with; NULL = none (owned by
                                * the caller); it makes each text one sentence */
} dg_gen_values;

/* The option named name ("beam_size", or HF's "num_beams"/"num_return_sequences" over HTTP;
 * "beam-size" without the dashes on the CLI), or -1. */
int dg_gen_find(const char *name, dg_gen_spelling sp);
/* Whether option o is a switch (true/false over HTTP, a flag without value on the CLI). */
bool dg_gen_is_bool(dg_gen_option o);
/* How the caller spells option o: "beam_size" or "--beam-size". */
const char *dg_gen_name(dg_gen_option o, dg_gen_spelling sp);
/* Sets o from a JSON value's number (integer says whether it was an integer) or, for
 * early_stopping, a boolean or "never" (boolean/never_ given instead). 0, or -1 with msg. */
int dg_gen_set_number(dg_gen_values *v, dg_gen_option o, double x, bool integer,
                      dg_gen_spelling sp, char *msg, size_t size);
/* Sets o from text (a CLI argument): a number, or true|false|never for early stopping. */
int dg_gen_set_text(dg_gen_values *v, dg_gen_option o, const char *s, dg_gen_spelling sp,
                    char *msg, size_t size);
/* The model's defaults overridden by v, checked against the model (max_positions: source and
 * target positions it has; tok encodes the target prefix). 0, or -1 with msg naming the
 * options as sp spells them. */
int dg_gen_apply(const dg_gen_values *v, const dg_model *m, const dg_tokenizer *tok,
                 int max_positions, dg_gen_spelling sp, dg_search_opts *out, char *msg,
                 size_t size);
/* One help line per option, for `dragoman translate --help`. */
void dg_gen_usage(FILE *f);

#endif
