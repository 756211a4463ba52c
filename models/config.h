/* Typed view of a Hugging Face checkpoint's config.json + generation_config.json.
 *
 * Each architecture reads its own keys: the BART family (marian, bart, mbart, m2m_100) shares
 * MarianConfig's names (encoder_layers, encoder_attention_heads, ...), T5 / mT5 read T5Config's
 * (num_layers, num_heads, d_kv, d_ff, relative_attention_*, feed_forward_proj).
 * Defaults are those of transformers' *Config / PretrainedConfig / GenerationConfig.
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
    char model_type[32];       /* "marian", "bart", "mbart", "m2m_100", "t5", "mt5" */
    char activation[24];       /* activation_function: "swish"/"silu", "relu", "gelu", "gelu_new"
                                  (T5: the activation part of feed_forward_proj) */
    bool gated_ffn;            /* T5 feed_forward_proj "gated-*": FFN = wo(act(wi_0 x) * wi_1 x) */
    int d_model;
    int d_kv;                  /* T5's head size (heads x d_kv may differ from d_model); 0 for
                                  the BART family, whose heads are d_model / heads wide */
    int rel_buckets, rel_max_distance; /* T5 relative_attention_num_buckets / _max_distance; 0 else */
    int encoder_layers, decoder_layers;
    int encoder_heads, decoder_heads;     /* *_attention_heads */
    int encoder_ffn_dim, decoder_ffn_dim;
    int vocab_size;            /* encoder (source) vocabulary */
    int decoder_vocab_size;    /* = vocab_size when config.json has no decoder_vocab_size */
    int target_vocab_size;     /* rows of lm_head: vocab_size when embeddings are shared, else
                                  decoder_vocab_size (MarianMTModel's rule) */
    int max_position_embeddings; /* 0 when the architecture has no such key (T5) */
    int max_positions;         /* longest sequence the model can embed: max_position_embeddings
                                  for position tables (Marian, BART, mBART), DG_MAX_DIM where
                                  positions are relative (T5) or computed for any length (M2M100) */    bool scale_embedding;      /* embeddings * sqrt(d_model); default false */
    bool normalize_before;     /* pre-norm layers (read, but Marian ignores it as HF does) */
    bool share_encoder_decoder_embeddings; /* default true */
    bool tie_word_embeddings;  /* lm_head tied to the decoder embedding; default true */
    float layer_norm_eps;      /* 1e-5 (nn.LayerNorm's default) for the BART family; T5 reads
                                  layer_norm_epsilon (default 1e-6) */

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
