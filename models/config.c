/* DESIGN: two declarative tables drive the parse: architecture keys read from config.json and
 * generation keys read from whichever file HF's generate() would use (see config.h). Each row
 * gives the key, where it lands, whether it is required, its default and its bounds, so the
 * defaults can be checked against transformers line by line. Cross-field checks (heads divide
 * d_model, special ids inside the vocabulary) run once everything is read. */
#include "models/config.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "models/arch_table.h"

typedef struct {
    const char *key;
    size_t off;       /* offsetof(dg_config, field) */
    bool required;
    int def;          /* when absent or null */
    int lo, hi;
} int_key;

#define F(field) offsetof(dg_config, field)
#define AT(cfg, off) ((int *)((char *)(cfg) + (off)))

/* MarianConfig / BartConfig / MBartConfig / M2M100Config names. They all have defaults for
 * these; Dragoman requires them because a checkpoint whose config omits its own shape is more
 * likely broken than meant to be 12 x 1024 wide. */
static const int_key bart_keys[] = {
    {"d_model", F(d_model), true, 0, 1, DG_MAX_DIM},
    {"encoder_layers", F(encoder_layers), true, 0, 1, 1024},
    {"decoder_layers", F(decoder_layers), true, 0, 1, 1024},
    {"encoder_attention_heads", F(encoder_heads), true, 0, 1, 1024},
    {"decoder_attention_heads", F(decoder_heads), true, 0, 1, 1024},
    {"encoder_ffn_dim", F(encoder_ffn_dim), true, 0, 1, DG_MAX_DIM},
    {"decoder_ffn_dim", F(decoder_ffn_dim), true, 0, 1, DG_MAX_DIM},
    {"vocab_size", F(vocab_size), true, 0, 1, DG_MAX_DIM},
    {"decoder_vocab_size", F(decoder_vocab_size), false, -1, 1, DG_MAX_DIM},
    {"max_position_embeddings", F(max_position_embeddings), true, 0, 1, DG_MAX_DIM},
    {"pad_token_id", F(pad_token_id), true, 0, 0, DG_MAX_DIM},
    {"eos_token_id", F(eos_token_id), true, 0, 0, DG_MAX_DIM},
    {"decoder_start_token_id", F(decoder_start_token_id), true, 0, 0, DG_MAX_DIM},
    {"bos_token_id", F(bos_token_id), false, -1, 0, DG_MAX_DIM},
};

/* T5Config names (shared by MT5Config). num_decoder_layers defaults to num_layers (below);
 * one num_heads / d_kv / d_ff serves both stacks; there is no position count. */
static const int_key t5_keys[] = {
    {"d_model", F(d_model), true, 0, 1, DG_MAX_DIM},
    {"num_layers", F(encoder_layers), true, 0, 1, 1024},
    {"num_decoder_layers", F(decoder_layers), false, -1, 1, 1024},
    {"num_heads", F(encoder_heads), true, 0, 1, 1024},
    {"d_kv", F(d_kv), true, 0, 1, DG_MAX_DIM},
    {"d_ff", F(encoder_ffn_dim), true, 0, 1, DG_MAX_DIM},
    {"vocab_size", F(vocab_size), true, 0, 1, DG_MAX_DIM},
    {"relative_attention_num_buckets", F(rel_buckets), false, 32, 4, 4096},
    {"relative_attention_max_distance", F(rel_max_distance), false, 128, 1, 1 << 14},
    {"pad_token_id", F(pad_token_id), false, 0, 0, DG_MAX_DIM},
    {"eos_token_id", F(eos_token_id), false, 1, 0, DG_MAX_DIM},
    {"decoder_start_token_id", F(decoder_start_token_id), true, 0, 0, DG_MAX_DIM},
    {"bos_token_id", F(bos_token_id), false, -1, 0, DG_MAX_DIM},
};

#define NKEYS(t) (sizeof(t) / sizeof *(t))

static bool is_t5(const char *model_type)
{
    return !strcmp(model_type, "t5") || !strcmp(model_type, "mt5");
}

/* GenerationConfig defaults; forced_eos_token_id's default depends on the source (see load). */
static const int_key gen_keys[] = {
    {"num_beams", F(num_beams), false, 1, 1, 1024},
    {"max_length", F(max_length), false, 20, 0, DG_MAX_DIM},
    {"max_new_tokens", F(max_new_tokens), false, -1, 0, DG_MAX_DIM},
    {"min_length", F(min_length), false, 0, 0, DG_MAX_DIM},
    {"num_return_sequences", F(num_return_sequences), false, 1, 1, 1024},
    {"no_repeat_ngram_size", F(no_repeat_ngram_size), false, 0, 0, DG_MAX_DIM},
    {"forced_bos_token_id", F(forced_bos_token_id), false, -1, 0, DG_MAX_DIM},
    {"forced_eos_token_id", F(forced_eos_token_id), false, -1, 0, DG_MAX_DIM},
};

/* special ids a generation_config.json may override */
static const char *const special_keys[] = {"pad_token_id", "eos_token_id", "bos_token_id",
                                           "decoder_start_token_id"};

static dg_code bad_type(const char *file, const char *key, const char *want, dg_err *err)
{
    return dg_err_set(err, DG_E_CONFIG, "%s: key '%s' must be %s", file, key, want);
}

/* eos_token_id may be a list in generation configs; one id is all Dragoman handles. */
static dg_code read_int(json_t *o, const char *file, const int_key *k, int *out, dg_err *err)
{
    json_t *v = json_object_get(o, k->key);
    if (json_is_array(v) && !strcmp(k->key, "eos_token_id")) {
        if (json_array_size(v) != 1)
            return dg_err_set(err, DG_E_UNSUPPORTED, "%s: '%s' lists %zu ids; only one is supported", file,
                              k->key, json_array_size(v));
        v = json_array_get(v, 0);
    }
    if (!v || json_is_null(v)) {
        if (k->required)
            return dg_err_set(err, DG_E_CONFIG, "%s: missing required key '%s'", file, k->key);
        *out = k->def;
        return DG_OK;
    }
    if (!json_is_integer(v))
        return bad_type(file, k->key, "an integer", err);
    json_int_t x = json_integer_value(v);
    if (x < k->lo || x > k->hi)
        return dg_err_set(err, DG_E_CONFIG, "%s: key '%s' = %lld is out of range [%d, %d]", file, k->key,
                          (long long)x, k->lo, k->hi);
    *out = (int)x;
    return DG_OK;
}

static dg_code read_bool(json_t *o, const char *file, const char *key, bool def, bool *out, dg_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return DG_OK;
    }
    if (!json_is_boolean(v))
        return bad_type(file, key, "true or false", err);
    *out = json_is_true(v);
    return DG_OK;
}

static dg_code read_float(json_t *o, const char *file, const char *key, float def, float *out, dg_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return DG_OK;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || fabs(json_number_value(v)) > 1e6)
        return bad_type(file, key, "a finite number", err);
    *out = (float)json_number_value(v);
    return DG_OK;
}

static dg_code read_str(json_t *o, const char *file, const char *key, const char *def, char *out,
                        size_t cap, dg_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!def)
            return dg_err_set(err, DG_E_CONFIG, "%s: missing required key '%s'", file, key);
        snprintf(out, cap, "%s", def);
        return DG_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap)
        return dg_err_set(err, DG_E_CONFIG, "%s: key '%s' must be a string of 1 to %zu characters", file, key,
                          cap - 1);
    snprintf(out, cap, "%s", json_string_value(v));
    return DG_OK;
}

static dg_code read_early_stopping(json_t *o, const char *file, int *out, dg_err *err)
{
    json_t *v = json_object_get(o, "early_stopping");
    if (!v || json_is_null(v))
        *out = 0;
    else if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_string(v) && !strcmp(json_string_value(v), "never"))
        *out = 2;
    else
        return bad_type(file, "early_stopping", "true, false or \"never\"", err);
    return DG_OK;
}

static dg_code read_bad_words(json_t *o, const char *file, dg_config *c, dg_err *err)
{
    json_t *v = json_object_get(o, "bad_words_ids");
    c->n_bad_words = 0;
    if (!v || json_is_null(v))
        return DG_OK;
    if (!json_is_array(v))
        return bad_type(file, "bad_words_ids", "a list of lists of token ids", err);
    if (json_array_size(v) > DG_MAX_BAD_WORDS)
        return dg_err_set(err, DG_E_UNSUPPORTED, "%s: bad_words_ids has %zu entries (at most %d)", file,
                          json_array_size(v), DG_MAX_BAD_WORDS);
    size_t i;
    json_t *seq;
    json_array_foreach(v, i, seq) {
        if (!json_is_array(seq) || json_array_size(seq) == 0)
            return bad_type(file, "bad_words_ids", "a list of non-empty lists of token ids", err);
        if (json_array_size(seq) > 1)
            return dg_err_set(err, DG_E_UNSUPPORTED,
                              "%s: bad_words_ids[%zu] has %zu tokens; only single-token entries are "
                              "supported",
                              file, i, json_array_size(seq));
        json_t *id = json_array_get(seq, 0);
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= DG_MAX_DIM)
            return bad_type(file, "bad_words_ids", "a list of lists of non-negative token ids", err);
        c->bad_words_ids[c->n_bad_words++] = (int)json_integer_value(id);
    }
    return DG_OK;
}

/* Generation keys from SRC (config.json or generation_config.json). */
static dg_code read_generation(json_t *src, const char *file, bool from_model, dg_config *c, dg_err *err)
{
    dg_code rc;
    for (size_t i = 0; i < sizeof gen_keys / sizeof *gen_keys; i++) {
        int_key k = gen_keys[i];
        /* MarianConfig(forced_eos_token_id=0) / BartConfig / MBartConfig (=2) put it in every
         * config object, and from_model_config copies it; GenerationConfig defaults to None */
        if (from_model && !strcmp(k.key, "forced_eos_token_id")) {
            if (!strcmp(c->model_type, "marian"))
                k.def = 0;
            else if (!strcmp(c->model_type, "bart") || !strcmp(c->model_type, "mbart"))
                k.def = 2;
        }
        if ((rc = read_int(src, file, &k, AT(c, k.off), err)))
            return rc;
    }
    if ((rc = read_float(src, file, "length_penalty", 1.0f, &c->length_penalty, err)) ||
        (rc = read_float(src, file, "repetition_penalty", 1.0f, &c->repetition_penalty, err)) ||
        (rc = read_bool(src, file, "renormalize_logits", false, &c->renormalize_logits, err)) ||
        (rc = read_early_stopping(src, file, &c->early_stopping, err)) ||
        (rc = read_bad_words(src, file, c, err)))
        return rc;
    if (c->repetition_penalty <= 0)
        return dg_err_set(err, DG_E_CONFIG, "%s: repetition_penalty must be > 0", file);
    if (from_model)
        return DG_OK;
    const int_key *keys = is_t5(c->model_type) ? t5_keys : bart_keys;
    size_t nkeys = is_t5(c->model_type) ? NKEYS(t5_keys) : NKEYS(bart_keys);
    for (size_t i = 0; i < sizeof special_keys / sizeof *special_keys; i++) {
        for (size_t j = 0; j < nkeys; j++) {
            json_t *v = json_object_get(src, special_keys[i]);
            if (strcmp(keys[j].key, special_keys[i]) || !v || json_is_null(v))
                continue;
            int_key k = keys[j];
            k.required = true;
            if ((rc = read_int(src, file, &k, AT(c, k.off), err)))
                return rc;
        }
    }
    return DG_OK;
}

static dg_code check_id(const char *file, const char *what, int id, int vocab, dg_err *err)
{
    if (id >= vocab)
        return dg_err_set(err, DG_E_CONFIG, "%s: %s %d is outside the vocabulary (%d)", file, what, id, vocab);
    return DG_OK;
}

static dg_code validate(const dg_config *c, const char *file, const char *gen_file, dg_err *err)
{
    if (!c->d_kv && (c->d_model % c->encoder_heads || c->d_model % c->decoder_heads))
        return dg_err_set(err, DG_E_CONFIG, "%s: d_model %d is not divisible by the attention heads (%d, %d)",
                          file, c->d_model, c->encoder_heads, c->decoder_heads);
    if ((long long)c->target_vocab_size * c->d_model > (1ll << 34))
        return dg_err_set(err, DG_E_CONFIG, "%s: vocabulary x d_model is implausibly large", file);
    int vt = c->target_vocab_size;
    dg_code rc;
    if ((rc = check_id(file, "pad_token_id", c->pad_token_id, c->vocab_size < vt ? c->vocab_size : vt, err)) ||
        (rc = check_id(gen_file, "eos_token_id", c->eos_token_id, vt, err)) ||
        (rc = check_id(gen_file, "decoder_start_token_id", c->decoder_start_token_id, vt, err)) ||
        (rc = check_id(gen_file, "bos_token_id", c->bos_token_id, vt, err)) ||
        (rc = check_id(gen_file, "forced_bos_token_id", c->forced_bos_token_id, vt, err)) ||
        (rc = check_id(gen_file, "forced_eos_token_id", c->forced_eos_token_id, vt, err)))
        return rc;
    for (int i = 0; i < c->n_bad_words; i++)
        if ((rc = check_id(gen_file, "bad_words_ids entry", c->bad_words_ids[i], vt, err)))
            return rc;
    return DG_OK;
}

static dg_code load_json(const char *path, json_t **out, dg_err *err)
{
    json_error_t jerr;
    struct stat st;
    *out = NULL;
    if (stat(path, &st) != 0)
        return dg_err_set(err, DG_E_MISSING, "%s: file not found", path);
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        return dg_err_set(err, DG_E_CONFIG, "%s: bad JSON: %s (line %d)", path, jerr.text, jerr.line);
    if (!json_is_object(j)) {
        json_decref(j);
        return dg_err_set(err, DG_E_CONFIG, "%s: not a JSON object", path);
    }
    *out = j;
    return DG_OK;
}

/* Splits T5Config's feed_forward_proj as transformers does: "ACT" or "gated-ACT", and
 * "gated-gelu" means gelu_new (the tanh GELU). */
static dg_code read_ffn_proj(json_t *o, const char *file, dg_config *c, dg_err *err)
{
    char proj[40];
    dg_code rc = read_str(o, file, "feed_forward_proj", "relu", proj, sizeof proj, err);
    if (rc)
        return rc;
    const char *act = proj, *dash = strchr(proj, '-');
    c->gated_ffn = false;
    if (dash) {
        c->gated_ffn = dash - proj == 5 && !strncmp(proj, "gated", 5);
        act = dash + 1;
    }
    dg_activation a;
    if ((dash && !c->gated_ffn) || strchr(act, '-') || strlen(act) >= sizeof c->activation ||
        dg_activation_parse(act, &a, NULL))
        return dg_err_set(err, DG_E_UNSUPPORTED,
                          "%s: feed_forward_proj '%s' is not supported (supported: ACT or gated-ACT "
                          "with ACT one of relu, gelu, gelu_new, silu, swish)",
                          file, proj);
    snprintf(c->activation, sizeof c->activation, "%s", !strcmp(proj, "gated-gelu") ? "gelu_new" : act);
    /* T5Config derives dense_act_fn / is_gated_act from feed_forward_proj, but config.json's own
     * values (saved by every recent transformers) are set afterwards and win */
    json_t *fn = json_object_get(o, "dense_act_fn");
    if (fn && !json_is_null(fn)) {
        if (!json_is_string(fn) || json_string_length(fn) >= sizeof c->activation ||
            dg_activation_parse(json_string_value(fn), &a, NULL))
            return dg_err_set(err, DG_E_UNSUPPORTED,
                              "%s: dense_act_fn is not supported (supported: relu, gelu, gelu_new, "
                              "gelu_pytorch_tanh, silu, swish)", file);
        snprintf(c->activation, sizeof c->activation, "%s", json_string_value(fn));
    }
    return read_bool(o, file, "is_gated_act", c->gated_ffn, &c->gated_ffn, err);
}

static dg_code read_t5(json_t *cj, const char *file, dg_config *c, dg_err *err)
{
    dg_code rc;
    for (size_t i = 0; i < NKEYS(t5_keys); i++)
        if ((rc = read_int(cj, file, &t5_keys[i], AT(c, t5_keys[i].off), err)))
            return rc;
    if ((rc = read_ffn_proj(cj, file, c, err)) ||
        (rc = read_float(cj, file, "layer_norm_epsilon", 1e-6f, &c->layer_norm_eps, err)))
        return rc;
    if (!(c->layer_norm_eps > 0))
        return dg_err_set(err, DG_E_CONFIG, "%s: layer_norm_epsilon must be > 0", file);
    /* the bucket formula divides by log(max_distance / max_exact), max_exact = buckets / 2 in
     * the decoder */
    if (c->rel_max_distance <= c->rel_buckets / 2)
        return dg_err_set(err, DG_E_CONFIG, "%s: relative_attention_max_distance %d must exceed half of "
                          "relative_attention_num_buckets (%d)", file, c->rel_max_distance, c->rel_buckets);
    if (c->decoder_layers < 0)
        c->decoder_layers = c->encoder_layers;
    c->decoder_heads = c->encoder_heads;
    c->decoder_ffn_dim = c->encoder_ffn_dim;
    c->decoder_vocab_size = c->vocab_size;
    c->share_encoder_decoder_embeddings = true;   /* T5 has one `shared` embedding */
    c->max_positions = DG_MAX_DIM;
    if ((long long)c->encoder_heads * c->d_kv > DG_MAX_DIM)
        return dg_err_set(err, DG_E_CONFIG, "%s: num_heads x d_kv is implausibly large", file);
    return DG_OK;
}

static dg_code read_bart(json_t *cj, const char *file, dg_config *c, dg_err *err)
{
    dg_code rc;
    bool m2m = !strcmp(c->model_type, "m2m_100");
    if ((rc = read_str(cj, file, "activation_function", m2m ? "relu" : "gelu", c->activation,
                       sizeof c->activation, err)) ||
        /* M2M100Config defaults scale_embedding to true, the others to false */
        (rc = read_bool(cj, file, "scale_embedding", m2m, &c->scale_embedding, err)) ||
        (rc = read_bool(cj, file, "normalize_before", false, &c->normalize_before, err)))
        return rc;
    for (size_t i = 0; i < NKEYS(bart_keys); i++)
        if ((rc = read_int(cj, file, &bart_keys[i], AT(c, bart_keys[i].off), err)))
            return rc;
    if (c->decoder_vocab_size < 0)
        c->decoder_vocab_size = c->vocab_size;
    c->layer_norm_eps = 1e-5f;
    /* M2M100's sinusoid is recomputed for any length, so its max_position_embeddings binds nothing */
    c->max_positions = m2m ? DG_MAX_DIM : c->max_position_embeddings;
    return DG_OK;
}

dg_code dg_config_load(dg_config *c, const char *dir, dg_err *err)
{
    memset(c, 0, sizeof *c);
    char file[4096], gen_file[4096];
    if (snprintf(file, sizeof file, "%s/config.json", dir) >= (int)sizeof file ||
        snprintf(gen_file, sizeof gen_file, "%s/generation_config.json", dir) >= (int)sizeof gen_file)
        return dg_err_set(err, DG_E_IO, "%s: path too long", dir);
    json_t *cj, *gj = NULL;
    dg_code rc = load_json(file, &cj, err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(gen_file, &st) == 0 && (rc = load_json(gen_file, &gj, err)))
        goto done;
    if ((rc = read_str(cj, file, "model_type", NULL, c->model_type, sizeof c->model_type, err)) ||
        (rc = read_bool(cj, file, "share_encoder_decoder_embeddings", true,
                        &c->share_encoder_decoder_embeddings, err)) ||
        (rc = read_bool(cj, file, "tie_word_embeddings", true, &c->tie_word_embeddings, err)))
        goto done;
    rc = is_t5(c->model_type) ? read_t5(cj, file, c, err) : read_bart(cj, file, c, err);
    if (rc)
        goto done;
    c->target_vocab_size = c->share_encoder_decoder_embeddings ? c->vocab_size : c->decoder_vocab_size;
    /* a generation_config.json marked _from_model_config is replaced by generate() with one built
     * from config.json (Marian configs always carry non-default generation values) */
    c->gen_from_file = gj && !json_is_true(json_object_get(gj, "_from_model_config"));
    if ((rc = read_generation(c->gen_from_file ? gj : cj, c->gen_from_file ? gen_file : file,
                              !c->gen_from_file, c, err)))
        goto done;
    rc = validate(c, file, c->gen_from_file ? gen_file : file, err);
done:
    json_decref(cj);
    json_decref(gj);
    return rc;
}
