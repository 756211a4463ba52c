/* The models a server instance serves: each is a checkpoint folder with its tokenizer, a name
 * (NAME=DIR, else the folder's base name), a compute type (DIR:TYPE with TYPE one of
 * --compute-type's values, else --compute-type's) and a language pair. The pair comes from the
 * folder's tokenizer_config.json ("source_lang"/"target_lang", as Hugging Face's Marian
 * tokenizers store it), else from the folder name: opus-mt-SRC-TGT[-suffix],
 * opus-mt-tc-big-SRC-TGT[-suffix], or NAME-SRC-TGT (codes: 2-3 lower-case letters). The first
 * model is the default one. Read-only after
 * dg_registry_load, so HTTP threads and workers use it without locks. */
#ifndef DG_REGISTRY_H
#define DG_REGISTRY_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>

#include "engine/engine.h"
#include "server/api/api_error.h"
#include "server/config.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    char name[64];
    char source[16], target[16];  /* "" when unknown: then addressable by name only */
    char dir[PATH_MAX];
    dg_model *model;
    dg_tokenizer *tok;
    dg_search_opts defaults;
    int max_positions;            /* source tokens the encoder accepts */
    double load_s;
    dg_model_opts load;           /* --compute-type, or the model's own from DIR:TYPE */
} dg_served_model;

typedef struct {
    int n;
    dg_served_model models[DG_MAX_MODELS];
    dg_model_opts load;           /* --compute-type: models without their own :TYPE */
} dg_registry;

/* Resolves names, folders and language pairs from c->models (or default_dir when none);
 * loads nothing. */
dg_code dg_registry_init(dg_registry *r, const dg_serve_config *c, const char *default_dir,
                         dg_err *err);
/* Loads every model and tokenizer (slow: the server answers /health meanwhile). */
dg_code dg_registry_load(dg_registry *r, dg_err *err);
void dg_registry_free(dg_registry *r);

/* The languages a request's source/target select on one model (tokenizer language indexes,
 * see tokenizer/tokenizer.h; -1 = the model's default). Encode the request's text with
 * dg_registry_encode; forced_bos >= 0 replaces the search options' forced_bos_token_id. */
typedef struct {
    int src, tgt;
    bool pair;      /* source/target chose languages: encode with them */
    int forced_bos; /* -1: keep the model's default */
} dg_lang_choice;

/* Picks the model for a request: by name when given (404 model_not_found), checked against
 * source/target when those are given too (422); else the first model serving source->target
 * (either may be NULL = any); else 422 unsupported_language_pair. Returns NULL with e set.
 * A model serves source->target
 * when the pair comes from its folder name / tokenizer_config.json, or when its tokenizer knows
 * both languages (mBART-50, M2M100, NLLB: any pair; T5: its task_specific_params pairs; mBART:
 * its pair; multi-target OPUS-MT: its `>>xx<<` targets). Models must be loaded. Codes are
 * matched as dg_tokenizer_find_lang does ("de", "deu", "de_DE", "deu_Latn"). */
const dg_served_model *dg_registry_route(const dg_registry *r, const char *name,
                                         const char *source, const char *target,
                                         dg_lang_choice *c, dg_api_error *e);

/* Encodes one source text for the chosen languages (language framing, >>xx<<, T5 prefix). */
dg_code dg_registry_encode(const dg_served_model *m, const dg_lang_choice *c, const char *text,
                           size_t len, int **ids, int *n, dg_err *err);

/* GET /languages in LibreTranslate's shape, [{"code", "name", "targets": [...]}], over every
 * pair some model serves (multilingual models contribute all their pairs). New reference. */
json_t *dg_registry_languages(const dg_registry *r);

/* {"source": [...], "target": [...]}: the ISO codes (else model codes) model m accepts; empty
 * lists when the model has only its folder's pair. New reference. */
json_t *dg_registry_model_languages(const dg_served_model *m);

/* English name of an ISO 639-1/639-3 code, or the code itself. */
const char *dg_language_name(const char *code);

/* Parses the pair out of an OPUS-MT folder name; 0 on success. Exposed for tests. */
int dg_pair_from_folder_name(const char *name, char *source, char *target, size_t size);

#endif
