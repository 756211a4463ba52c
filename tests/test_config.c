/* config.json / generation_config.json against transformers' rules: the real OPUS-MT configs in
 * shared/tokenizers parse to the values MarianConfig + GenerationConfig give them (from_model_config
 * when there is no generation file or it is marked _from_model_config, the file's own values with
 * GenerationConfig defaults otherwise), and broken configs fail naming the key and the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/config.h"
#include "test.h"

#define TOK DG_SHARED_DIR "/tokenizers/"

static void test_en_mg(void)
{
    dg_config c;
    dg_err err = {0};
    CHECK_MSG(dg_config_load(&c, TOK "opus-mt-en-mg", &err) == DG_OK, "%s", err.msg);
    CHECK_STR_EQ(c.model_type, "marian");
    CHECK_STR_EQ(c.activation, "swish");
    CHECK_INT_EQ(c.d_model, 512);
    CHECK_INT_EQ(c.encoder_layers, 6);
    CHECK_INT_EQ(c.decoder_layers, 6);
    CHECK_INT_EQ(c.encoder_heads, 8);
    CHECK_INT_EQ(c.decoder_heads, 8);
    CHECK_INT_EQ(c.encoder_ffn_dim, 2048);
    CHECK_INT_EQ(c.decoder_ffn_dim, 2048);
    CHECK_INT_EQ(c.vocab_size, 54688);
    CHECK_INT_EQ(c.decoder_vocab_size, 54688);   /* absent: decoder_vocab_size or vocab_size */
    CHECK_INT_EQ(c.target_vocab_size, 54688);
    CHECK_INT_EQ(c.max_position_embeddings, 512);
    CHECK(c.scale_embedding);
    CHECK(!c.normalize_before);
    CHECK(c.share_encoder_decoder_embeddings);   /* MarianConfig default */
    CHECK(c.tie_word_embeddings);                /* PretrainedConfig default */
    CHECK_NEAR(c.layer_norm_eps, 1e-5, 1e-12);
    CHECK_INT_EQ(c.pad_token_id, 54687);
    CHECK_INT_EQ(c.eos_token_id, 0);
    CHECK_INT_EQ(c.bos_token_id, 0);
    CHECK_INT_EQ(c.decoder_start_token_id, 54687);
    /* no generation_config.json: GenerationConfig.from_model_config */
    CHECK(!c.gen_from_file);
    CHECK_INT_EQ(c.num_beams, 4);
    CHECK_INT_EQ(c.max_length, 512);
    CHECK_INT_EQ(c.max_new_tokens, -1);
    CHECK_INT_EQ(c.min_length, 0);
    CHECK_NEAR(c.length_penalty, 1.0, 0);
    CHECK_INT_EQ(c.early_stopping, 0);
    CHECK_INT_EQ(c.num_return_sequences, 1);
    CHECK_INT_EQ(c.no_repeat_ngram_size, 0);
    CHECK_NEAR(c.repetition_penalty, 1.0, 0);
    CHECK_INT_EQ(c.forced_bos_token_id, -1);
    CHECK_INT_EQ(c.forced_eos_token_id, 0);      /* MarianConfig(forced_eos_token_id=0) */
    CHECK(!c.renormalize_logits);
    CHECK_INT_EQ(c.n_bad_words, 1);
    CHECK_INT_EQ(c.bad_words_ids[0], 54687);
}

static void test_tc_big(void)
{
    dg_config c;
    dg_err err = {0};
    /* generation_config.json without _from_model_config: its values, GenerationConfig defaults */
    CHECK_MSG(dg_config_load(&c, TOK "opus-mt-en-pt-ft", &err) == DG_OK, "%s", err.msg);
    CHECK(c.gen_from_file);
    CHECK_STR_EQ(c.activation, "relu");
    CHECK_INT_EQ(c.d_model, 1024);
    CHECK_INT_EQ(c.encoder_heads, 16);
    CHECK_INT_EQ(c.encoder_ffn_dim, 4096);
    CHECK_INT_EQ(c.max_position_embeddings, 1024);
    CHECK_INT_EQ(c.decoder_vocab_size, 54776);
    CHECK_INT_EQ(c.eos_token_id, 44670);
    CHECK_INT_EQ(c.pad_token_id, 54775);
    CHECK_INT_EQ(c.decoder_start_token_id, 54775);
    CHECK_INT_EQ(c.forced_eos_token_id, 44670);
    CHECK(c.renormalize_logits);
    CHECK_INT_EQ(c.num_beams, 4);
    CHECK_INT_EQ(c.max_length, 512);
    CHECK_INT_EQ(c.n_bad_words, 1);
    CHECK_INT_EQ(c.bad_words_ids[0], 54775);

    /* "_from_model_config": true → generate() rebuilds it from config.json */
    CHECK_MSG(dg_config_load(&c, TOK "opus-mt-fr-en-ft", &err) == DG_OK, "%s", err.msg);
    CHECK(!c.gen_from_file);
    CHECK_INT_EQ(c.eos_token_id, 43311);
    CHECK_INT_EQ(c.forced_eos_token_id, 43311);
    CHECK_INT_EQ(c.num_beams, 4);
    CHECK_INT_EQ(c.max_length, 512);
    CHECK(!c.renormalize_logits);
    CHECK_INT_EQ(c.vocab_size, 53017);
}

static char tmp[256];

static void put(const char *file, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, file);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

#define BASE                                                                                           \
    "\"model_type\": \"marian\", \"d_model\": 8, \"encoder_layers\": 1, \"decoder_layers\": 1, "          \
    "\"encoder_attention_heads\": 2, \"decoder_attention_heads\": 2, \"encoder_ffn_dim\": 4, "            \
    "\"decoder_ffn_dim\": 4, \"max_position_embeddings\": 16, \"pad_token_id\": 9, \"eos_token_id\": 0, " \
    "\"decoder_start_token_id\": 9, \"num_beams\": 4, \"max_length\": 512"

/* Loads config.json = {BASE, EXTRA} (+ generation_config.json = GEN when non-NULL). */
static dg_code load(const char *extra, const char *gen, dg_config *c, dg_err *err)
{
    char json[2048];
    snprintf(json, sizeof json, "{" BASE ", \"vocab_size\": 10%s%s}", extra[0] ? ", " : "", extra);
    put("config.json", json);
    char path[512];
    snprintf(path, sizeof path, "%s/generation_config.json", tmp);
    unlink(path);
    if (gen)
        put("generation_config.json", gen);
    memset(err, 0, sizeof *err);
    return dg_config_load(c, tmp, err);
}

static void expect_error(const char *extra, const char *gen, dg_code code, const char *msg)
{
    dg_config c;
    dg_err err;
    dg_code rc = load(extra, gen, &c, &err);
    CHECK_MSG(rc == code, "{%s}: code %s, want %s (%s)", extra, dg_code_name(rc), dg_code_name(code), err.msg);
    CHECK_CONTAINS(err.msg, msg);
}

static void test_generation_precedence(void)
{
    dg_config c;
    dg_err err;
    /* keys the generation file lacks take GenerationConfig defaults, not config.json's */
    CHECK(load("", "{\"num_beams\": 2, \"early_stopping\": \"never\"}", &c, &err) == DG_OK);
    CHECK(c.gen_from_file);
    CHECK_INT_EQ(c.num_beams, 2);
    CHECK_INT_EQ(c.max_length, 20);
    CHECK_INT_EQ(c.forced_eos_token_id, -1);
    CHECK_INT_EQ(c.early_stopping, 2);
    CHECK_INT_EQ(c.eos_token_id, 0);          /* special ids stay config.json's unless overridden */
    CHECK(load("", "{\"eos_token_id\": [3], \"pad_token_id\": null}", &c, &err) == DG_OK);
    CHECK_INT_EQ(c.eos_token_id, 3);
    CHECK_INT_EQ(c.pad_token_id, 9);
    /* nulls are unset: defaults apply */
    CHECK(load("\"decoder_vocab_size\": null, \"bos_token_id\": null, \"max_new_tokens\": 7, "
               "\"length_penalty\": 0.6, \"early_stopping\": true",
               NULL, &c, &err) == DG_OK);
    CHECK_INT_EQ(c.decoder_vocab_size, 10);
    CHECK_INT_EQ(c.bos_token_id, -1);
    CHECK_INT_EQ(c.max_new_tokens, 7);
    CHECK_NEAR(c.length_penalty, 0.6, 1e-7);
    CHECK_INT_EQ(c.early_stopping, 1);
    CHECK_STR_EQ(c.activation, "gelu");       /* MarianConfig default */
    CHECK(!c.scale_embedding);                /* MarianConfig default */
    /* unshared embeddings: lm_head rows follow decoder_vocab_size */
    CHECK(load("\"share_encoder_decoder_embeddings\": false, \"decoder_vocab_size\": 12", NULL, &c, &err) == DG_OK);
    CHECK_INT_EQ(c.target_vocab_size, 12);
}

static void test_errors(void)
{
    put("config.json", "{" BASE "}");
    dg_config c;
    dg_err err = {0};
    CHECK_INT_EQ(dg_config_load(&c, tmp, &err), DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "config.json: missing required key 'vocab_size'");
    expect_error("\"d_model\": \"512\"", NULL, DG_E_CONFIG, "config.json: key 'd_model' must be an integer");
    expect_error("\"d_model\": 9", NULL, DG_E_CONFIG, "d_model 9 is not divisible by the attention heads");
    expect_error("\"encoder_layers\": -1", NULL, DG_E_CONFIG, "key 'encoder_layers' = -1 is out of range");
    expect_error("\"d_model\": 2000000", NULL, DG_E_CONFIG, "key 'd_model' = 2000000 is out of range");
    expect_error("\"pad_token_id\": 10", NULL, DG_E_CONFIG, "pad_token_id 10 is outside the vocabulary");
    expect_error("\"bad_words_ids\": [[9, 1]]", NULL, DG_E_UNSUPPORTED, "bad_words_ids[0] has 2 tokens");
    expect_error("\"bad_words_ids\": [9]", NULL, DG_E_CONFIG, "key 'bad_words_ids' must be");
    expect_error("\"scale_embedding\": 1", NULL, DG_E_CONFIG, "key 'scale_embedding' must be true or false");
    expect_error("\"early_stopping\": \"sometimes\"", NULL, DG_E_CONFIG, "key 'early_stopping' must be");
    expect_error("\"repetition_penalty\": 0", NULL, DG_E_CONFIG, "repetition_penalty must be > 0");
    expect_error("\"model_type\": \"a-very-long-model-type-name-beyond-31\"", NULL, DG_E_CONFIG,
                 "key 'model_type' must be a string of 1 to 31 characters");
    expect_error("", "{\"eos_token_id\": [0, 2]}", DG_E_UNSUPPORTED,
                 "generation_config.json: 'eos_token_id' lists 2 ids");
    expect_error("", "{\"forced_eos_token_id\": 99}", DG_E_CONFIG,
                 "generation_config.json: forced_eos_token_id 99 is outside the vocabulary");
    expect_error("", "{\"num_beams\": 2,", DG_E_CONFIG, "generation_config.json: bad JSON");
    put("config.json", "[1]");
    CHECK_INT_EQ(dg_config_load(&c, tmp, &err), DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "config.json: not a JSON object");
    CHECK_INT_EQ(dg_config_load(&c, DG_BUILD_DIR "/no-such-dir", &err), DG_E_MISSING);
    CHECK_CONTAINS(err.msg, "no-such-dir/config.json: file not found");
}

/* T5Config's own keys, its defaults, and feed_forward_proj split as transformers does. */
static dg_code load_t5(const char *extra, dg_config *c, dg_err *err)
{
    char json[2048];
    snprintf(json, sizeof json, "{\"model_type\": \"t5\", \"d_model\": 16, \"num_layers\": 3, "
             "\"num_heads\": 3, \"d_kv\": 8, \"d_ff\": 20, \"vocab_size\": 40, "
             "\"decoder_start_token_id\": 0%s%s}", extra[0] ? ", " : "", extra);
    put("config.json", json);
    char path[512];
    snprintf(path, sizeof path, "%s/generation_config.json", tmp);
    unlink(path);
    memset(err, 0, sizeof *err);
    return dg_config_load(c, tmp, err);
}

static void test_t5(void)
{
    dg_config c;
    dg_err err;
    CHECK_MSG(load_t5("", &c, &err) == DG_OK, "%s", err.msg);
    CHECK_INT_EQ(c.encoder_layers, 3);
    CHECK_INT_EQ(c.decoder_layers, 3);          /* num_decoder_layers defaults to num_layers */
    CHECK_INT_EQ(c.encoder_heads, 3);
    CHECK_INT_EQ(c.decoder_heads, 3);
    CHECK_INT_EQ(c.d_kv, 8);                    /* 3 x 8 != d_model 16 is allowed */
    CHECK_INT_EQ(c.encoder_ffn_dim, 20);
    CHECK_INT_EQ(c.decoder_ffn_dim, 20);
    CHECK_INT_EQ(c.rel_buckets, 32);
    CHECK_INT_EQ(c.rel_max_distance, 128);
    CHECK_STR_EQ(c.activation, "relu");         /* feed_forward_proj default "relu" */
    CHECK(!c.gated_ffn);
    CHECK_NEAR(c.layer_norm_eps, 1e-6, 1e-12);
    CHECK_INT_EQ(c.pad_token_id, 0);
    CHECK_INT_EQ(c.eos_token_id, 1);
    CHECK_INT_EQ(c.max_position_embeddings, 0); /* T5 has none */
    CHECK_INT_EQ(c.max_positions, DG_MAX_DIM);
    CHECK(c.tie_word_embeddings);
    CHECK_INT_EQ(c.forced_eos_token_id, -1);
    CHECK_MSG(load_t5("\"num_decoder_layers\": 2, \"feed_forward_proj\": \"gated-gelu\", "
                      "\"layer_norm_epsilon\": 1e-5, \"relative_attention_max_distance\": 64, "
                      "\"tie_word_embeddings\": false", &c, &err) == DG_OK, "%s", err.msg);
    CHECK_INT_EQ(c.decoder_layers, 2);
    CHECK_STR_EQ(c.activation, "gelu_new");     /* gated-gelu means the tanh GELU */
    CHECK(c.gated_ffn);
    CHECK_NEAR(c.layer_norm_eps, 1e-5, 1e-12);
    CHECK_INT_EQ(c.rel_max_distance, 64);
    CHECK(!c.tie_word_embeddings);
    /* config.json's dense_act_fn / is_gated_act are set after T5Config derives them */
    CHECK(load_t5("\"feed_forward_proj\": \"gated-gelu\", \"dense_act_fn\": \"gelu_pytorch_tanh\", "
                  "\"is_gated_act\": true", &c, &err) == DG_OK);
    CHECK_STR_EQ(c.activation, "gelu_pytorch_tanh");
    CHECK(c.gated_ffn);
    CHECK(load_t5("\"is_gated_act\": false", &c, &err) == DG_OK);
    CHECK(!c.gated_ffn);
    CHECK_INT_EQ(load_t5("\"dense_act_fn\": \"gelu_fast\"", &c, &err), DG_E_UNSUPPORTED);
    CHECK_CONTAINS(err.msg, "dense_act_fn is not supported");
    CHECK(load_t5("\"feed_forward_proj\": \"gelu\"", &c, &err) == DG_OK);
    CHECK_STR_EQ(c.activation, "gelu");         /* plain "gelu" is the exact GELU */
    CHECK(load_t5("\"feed_forward_proj\": \"gated-silu\"", &c, &err) == DG_OK);
    CHECK_STR_EQ(c.activation, "silu");
    CHECK(c.gated_ffn);
    static const char *const bad[] = {"gated-swishy", "fancy-gelu", "gated-gelu-x", "gated-", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "\"feed_forward_proj\": \"%s\"", bad[i]);
        CHECK_INT_EQ(load_t5(extra, &c, &err), DG_E_UNSUPPORTED);
        CHECK_CONTAINS(err.msg, "config.json: feed_forward_proj");
        CHECK_CONTAINS(err.msg, "is not supported");
    }
    CHECK_INT_EQ(load_t5("\"d_kv\": 0", &c, &err), DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "key 'd_kv' = 0 is out of range");
    CHECK_INT_EQ(load_t5("\"relative_attention_max_distance\": 16", &c, &err), DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "relative_attention_max_distance 16 must exceed half of");
    CHECK_INT_EQ(load_t5("\"relative_attention_num_buckets\": 2", &c, &err), DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "key 'relative_attention_num_buckets' = 2 is out of range");
    CHECK_INT_EQ(load_t5("\"layer_norm_epsilon\": 0", &c, &err), DG_E_CONFIG);
    CHECK_CONTAINS(err.msg, "layer_norm_epsilon must be > 0");
}

/* BART-family defaults that differ per model type (M2M100Config, BartConfig). */
static void test_bart_family(void)
{
#define SHAPE                                                                                     \
    "\"d_model\": 8, \"encoder_layers\": 1, \"decoder_layers\": 1, \"encoder_attention_heads\": 2, " \
    "\"decoder_attention_heads\": 2, \"encoder_ffn_dim\": 4, \"decoder_ffn_dim\": 4, "               \
    "\"max_position_embeddings\": 16, \"pad_token_id\": 1, \"eos_token_id\": 2, "                    \
    "\"decoder_start_token_id\": 2, \"vocab_size\": 10"
    dg_config c;
    dg_err err = {0};
    put("config.json", "{\"model_type\": \"m2m_100\", " SHAPE "}");
    CHECK_MSG(dg_config_load(&c, tmp, &err) == DG_OK, "%s", err.msg);
    CHECK(c.scale_embedding);                 /* M2M100Config default */
    CHECK_STR_EQ(c.activation, "relu");
    CHECK_INT_EQ(c.max_positions, DG_MAX_DIM); /* the sinusoid grows */
    CHECK_INT_EQ(c.max_position_embeddings, 16);
    CHECK_INT_EQ(c.forced_eos_token_id, -1);
    put("config.json", "{\"model_type\": \"bart\", " SHAPE "}");
    CHECK_MSG(dg_config_load(&c, tmp, &err) == DG_OK, "%s", err.msg);
    CHECK(!c.scale_embedding);
    CHECK_STR_EQ(c.activation, "gelu");
    CHECK_INT_EQ(c.max_positions, 16);
    CHECK_INT_EQ(c.forced_eos_token_id, 2);   /* BartConfig(forced_eos_token_id=2) */
#undef SHAPE
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s/test_config_XXXXXX", DG_BUILD_DIR);
    if (!mkdtemp(tmp))
        return 1;
    test_en_mg();
    test_tc_big();
    test_generation_precedence();
    test_errors();
    test_t5();
    test_bart_family();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return test_summary();
}
