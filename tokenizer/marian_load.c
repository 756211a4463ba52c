/* DESIGN: builds a dg_marian from an OPUS-MT tokenizer folder the way HF's
 * MarianTokenizer.from_pretrained does (transformers 4.40):
 *   - tokenizer_config.json (optional): separate_vocabs, clean_up_tokenization_spaces (default
 *     true), eos/unk/pad_token (a string or an AddedToken object {"content": ...}), and
 *     added_tokens_decoder, whose ids win over vocab.json for those tokens;
 *   - special_tokens_map.json (optional): the token strings tokenizer_config.json leaves out;
 *   - source.spm, target.spm, vocab.json, and target_vocab.json when separate_vocabs is set.
 * config.json is not needed: every id the tokenizer uses comes from the files above.
 * Options that change tokenization in ways Dragoman does not implement (extra added tokens,
 * lstrip/rstrip/single_word tokens, SentencePiece sampling) are refused, never ignored. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/marian_internal.h"
#include "tokenizer/tok_json.h"

static const char *const special_key[DG_SP_N] = {"eos_token", "unk_token", "pad_token"};
static const char *const special_default[DG_SP_N] = {"</s>", "<unk>", "<pad>"};

static dg_code join(char *buf, size_t cap, const char *dir, const char *name, dg_err *err)
{
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
        return dg_err_set(err, DG_E_IO, "%s: path too long", dir);
    return DG_OK;
}

static dg_code read_bool(json_t *cfg, const char *key, bool *out, const char *path, dg_err *err)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v))
        return DG_OK;
    if (!json_is_boolean(v))
        return dg_err_set(err, DG_E_CONFIG, "%s: %s must be true or false", path, key);
    *out = json_is_true(v);
    return DG_OK;
}

/* Token strings and flags; cfg / map may be NULL (file absent). */
static dg_code read_config(dg_marian *t, json_t *cfg, const char *cfg_path, json_t *map,
                           const char *map_path, dg_err *err)
{
    dg_code rc;
    t->cleanup = true; /* PreTrainedTokenizerBase default in 4.40 */
    if (cfg && ((rc = read_bool(cfg, "separate_vocabs", &t->separate, cfg_path, err)) != DG_OK ||
                (rc = read_bool(cfg, "clean_up_tokenization_spaces", &t->cleanup, cfg_path, err)) !=
                    DG_OK))
        return rc;
    for (int k = 0; k < DG_SP_N; k++) {
        const char *s = special_default[k];
        json_t *v;
        if (cfg && (v = json_object_get(cfg, special_key[k])) && !json_is_null(v)) {
            if ((rc = dg_tok_json_token(v, cfg_path, special_key[k], &s, err)) != DG_OK)
                return rc;
        } else if (map && (v = json_object_get(map, special_key[k])) && !json_is_null(v)) {
            if ((rc = dg_tok_json_token(v, map_path, special_key[k], &s, err)) != DG_OK)
                return rc;
        }
        t->special_len[k] = strlen(s);
        if (!(t->special[k] = strdup(s)))
            return dg_err_set(err, DG_E_NOMEM, "out of memory");
    }
    if (!cfg)
        return DG_OK;
    json_t *extra = json_object_get(cfg, "additional_special_tokens");
    if (extra && !json_is_null(extra) && !(json_is_array(extra) && json_array_size(extra) == 0))
        return dg_err_set(err, DG_E_UNSUPPORTED, "%s: additional_special_tokens are not supported",
                          cfg_path);
    json_t *kw = json_object_get(cfg, "sp_model_kwargs");
    if (kw && !json_is_null(kw) && !(json_is_object(kw) && json_object_size(kw) == 0))
        return dg_err_set(err, DG_E_UNSUPPORTED,
                          "%s: sp_model_kwargs (SentencePiece sampling options) are not supported",
                          cfg_path);
    return DG_OK;
}

/* added_tokens_decoder: {"44670": {"content": "</s>", "lstrip": false, ...}, ...}. Sets
 * special_id[] for the tokens it lists (-1 stays for the others). */
static dg_code read_added_tokens(dg_marian *t, json_t *cfg, const char *path, dg_err *err)
{
    json_t *added = cfg ? json_object_get(cfg, "added_tokens_decoder") : NULL;
    if (!added || json_is_null(added))
        return DG_OK;
    if (!json_is_object(added))
        return dg_err_set(err, DG_E_CONFIG, "%s: added_tokens_decoder is not an object", path);
    const char *key;
    json_t *val;
    json_object_foreach(added, key, val) {
        char *end;
        long id = strtol(key, &end, 10);
        if (end == key || *end || id < 0 || id >= DG_VOCAB_MAX_ID)
            return dg_err_set(err, DG_E_CONFIG,
                              "%s: added_tokens_decoder key \"%.32s\" is not an id", path, key);
        const char *content = NULL;
        dg_code rc = dg_tok_json_token(val, path, "added_tokens_decoder entry", &content, err);
        if (rc != DG_OK)
            return rc;
        int k = 0;
        while (k < DG_SP_N && strcmp(content, t->special[k]))
            k++;
        if (k == DG_SP_N)
            return dg_err_set(err, DG_E_UNSUPPORTED,
                              "%s: added token \"%.64s\" (id %ld) is not eos/unk/pad; extra added "
                              "tokens are not supported", path, content, id);
        static const char *const flags[] = {"lstrip", "rstrip", "single_word"};
        for (int f = 0; f < 3; f++)
            if (json_is_true(json_object_get(val, flags[f])))
                return dg_err_set(err, DG_E_UNSUPPORTED, "%s: added token \"%s\" sets %s", path,
                                  content, flags[f]);
        t->special_id[k] = (int)id;
    }
    return DG_OK;
}

/* Special ids, unk per side, id limits and language codes, once the vocabularies are in. */
static dg_code resolve_ids(dg_marian *t, const char *vocab_path, const char *target_path,
                           dg_err *err)
{
    for (int k = 0; k < DG_SP_N; k++) {
        if (t->special_id[k] < 0)
            t->special_id[k] = dg_vocab_find(t->vocab[DG_SIDE_SOURCE], t->special[k],
                                             t->special_len[k]);
        if (t->special_id[k] < 0)
            return dg_err_set(err, DG_E_CONFIG, "%s: %s \"%s\" is not in the vocabulary",
                              vocab_path, special_key[k], t->special[k]);
    }
    for (int side = 0; side < 2; side++) {
        t->unk_id[side] = dg_vocab_find(t->vocab[side], t->special[DG_SP_UNK],
                                        t->special_len[DG_SP_UNK]);
        if (t->unk_id[side] < 0)
            return dg_err_set(err, DG_E_CONFIG, "%s: unk_token \"%s\" is not in the vocabulary",
                              side ? target_path : vocab_path, t->special[DG_SP_UNK]);
        t->id_limit[side] = dg_vocab_id_limit(t->vocab[side]);
        for (int k = 0; k < DG_SP_N; k++)
            if (t->special_id[k] >= t->id_limit[side])
                t->id_limit[side] = t->special_id[k] + 1;
    }
    if (t->separate)
        return DG_OK; /* HF: supported_language_codes = [] with separate vocabularies */
    const dg_vocab *v = t->vocab[DG_SIDE_SOURCE];
    int n = dg_vocab_size(v);
    if (!(t->codes = malloc((size_t)n * sizeof *t->codes)))
        return dg_err_set(err, DG_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *p = dg_vocab_entry(v, i);
        size_t len = strlen(p);
        if (len >= 4 && !strncmp(p, ">>", 2) && !strcmp(p + len - 2, "<<"))
            t->codes[t->n_codes++] = i;
    }
    return DG_OK;
}

void dg_marian_free(dg_marian *t)
{
    if (!t)
        return;
    for (int side = 0; side < 2; side++)
        dg_spm_free(t->spm[side]);
    dg_vocab_free(t->vocab[DG_SIDE_SOURCE]);
    if (t->separate)
        dg_vocab_free(t->vocab[DG_SIDE_TARGET]);
    for (int k = 0; k < DG_SP_N; k++)
        free(t->special[k]);
    free(t->codes);
    free(t);
}

static dg_code load(dg_marian *t, const char *dir, dg_err *err)
{
    char cfg_path[PATH_MAX], map_path[PATH_MAX], vocab_path[PATH_MAX], target_path[PATH_MAX],
        spm_path[2][PATH_MAX];
    dg_code rc;
    if ((rc = join(cfg_path, sizeof cfg_path, dir, "tokenizer_config.json", err)) ||
        (rc = join(map_path, sizeof map_path, dir, "special_tokens_map.json", err)) ||
        (rc = join(vocab_path, sizeof vocab_path, dir, "vocab.json", err)) ||
        (rc = join(target_path, sizeof target_path, dir, "target_vocab.json", err)) ||
        (rc = join(spm_path[0], sizeof spm_path[0], dir, "source.spm", err)) ||
        (rc = join(spm_path[1], sizeof spm_path[1], dir, "target.spm", err)))
        return rc;
    json_t *cfg = NULL, *map = NULL;
    if ((rc = dg_tok_json_optional(cfg_path, &cfg, err)) == DG_OK &&
        (rc = dg_tok_json_optional(map_path, &map, err)) == DG_OK &&
        (rc = read_config(t, cfg, cfg_path, map, map_path, err)) == DG_OK)
        rc = read_added_tokens(t, cfg, cfg_path, err);
    json_decref(cfg);
    json_decref(map);
    if (rc != DG_OK)
        return rc;
    if ((rc = dg_vocab_load(vocab_path, &t->vocab[DG_SIDE_SOURCE], err)) != DG_OK)
        return rc;
    if (!t->separate)
        t->vocab[DG_SIDE_TARGET] = t->vocab[DG_SIDE_SOURCE];
    else if ((rc = dg_vocab_load(target_path, &t->vocab[DG_SIDE_TARGET], err)) != DG_OK) {
        dg_err_prefix(err, "separate_vocabs is set");
        return rc;
    }
    if ((rc = resolve_ids(t, vocab_path, target_path, err)) != DG_OK)
        return rc;
    for (int side = 0; side < 2; side++)
        if ((rc = dg_spm_load(spm_path[side], &t->spm[side], err)) != DG_OK)
            return rc;
    return DG_OK;
}

dg_marian *dg_marian_load(const char *dir, dg_err *err)
{
    dg_marian *t = calloc(1, sizeof *t);
    if (!t) {
        dg_err_set(err, DG_E_NOMEM, "out of memory");
        return NULL;
    }
    for (int k = 0; k < DG_SP_N; k++)
        t->special_id[k] = -1;
    if (load(t, dir, err) != DG_OK) {
        dg_marian_free(t);
        return NULL;
    }
    return t;
}
