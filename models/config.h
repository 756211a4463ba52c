/* Typed view of a Hugging Face checkpoint's config.json + generation_config.json.
 *
 * Defaults are those of transformers' MarianConfig / PretrainedConfig / GenerationConfig.
 * Generation settings follow transformers 4.40: when generation_config.json exists its values
 * win and keys it lacks take GenerationConfig defaults (GenerationConfig.from_pretrained), unless
 * it says "_from_model_config": true, in which case generate() rebuilds it from the model config
 * as when the file is absent (GenerationConfig.from_model_config: the generation keys of
 * config.json, MarianConfig's forced_eos_token_id default 0 included). Special ids come from
 * config.json, overridden by generation_config.json where that file sets them.
 * Unknown keys are ignored, JSON null means "unset"; a missing required key, a wrong type or an
 * absurd value is DG_E_CONFIG naming the key and the file. */
#ifndef DG_CONFIG_H
#define DG_CONFIG_H

#include <stdbool.h>

#include "common/error.h"

#define DG_MAX_BAD_WORDS 64
#define DG_MAX_DIM (1 << 20)   /* bound on every size in a config (dims, vocab, positions, lengths) */

typedef struct {
    /* architecture (config.json) */
    char model_type[32];       /* "marian", ... */
    char activation[16];       /* activation_function: "swish"/"silu", "relu", "gelu", "gelu_new" */
    int d_model;
    int encoder_layers, decoder_layers;
    int encoder_heads, decoder_heads;     /* *_attention_heads */
    int encoder_ffn_dim, decoder_ffn_dim;
    int vocab_size;            /* encoder (source) vocabulary */
    int decoder_vocab_size;    /* = vocab_size when config.json has no decoder_vocab_size */
    int target_vocab_size;     /* rows of lm_head: vocab_size when embeddings are shared, else
                                  decoder_vocab_size (MarianMTModel's rule) */
    int max_position_embeddings;
    bool scale_embedding;      /* embeddings * sqrt(d_model); default false */
    bool normalize_before;     /* pre-norm layers (read, but Marian ignores it as HF does) */
    bool share_encoder_decoder_embeddings; /* default true */
    bool tie_word_embeddings;  /* lm_head tied to the decoder embedding; default true */
    float layer_norm_eps;      /* 1e-5: nn.LayerNorm's default, which Marian layers use */

    /* special ids (-1 = none) */
    int pad_token_id, eos_token_id, bos_token_id, decoder_start_token_id;

    /* generation defaults (generation_config.json, else config.json) */
    bool gen_from_file;        /* true when the values below come from generation_config.json */
    int num_beams;             /* default 1 */
    int max_length;            /* default 20 (HF); OPUS-MT configs say 512 */
    int max_new_tokens;        /* -1 = unset (then max_length applies) */
    int min_length;            /* default 0 */
    float length_penalty;      /* default 1.0 */
    int early_stopping;        /* 0 = false (default), 1 = true, 2 = "never" */
    int num_return_sequences;  /* default 1 */
    int no_repeat_ngram_size;  /* default 0 */
    float repetition_penalty;  /* default 1.0 */
    int forced_bos_token_id;   /* -1 = none */
    int forced_eos_token_id;   /* -1 = none (Marian configs default to 0) */
    bool renormalize_logits;   /* default false */
    /* bad_words_ids: single-token entries only (Marian: [[pad]]); longer entries are rejected */
    int n_bad_words;
    int bad_words_ids[DG_MAX_BAD_WORDS];
} dg_config;

/* Reads DIR/config.json and, if present, DIR/generation_config.json. */
dg_code dg_config_load(dg_config *cfg, const char *dir, dg_err *err);

#endif
