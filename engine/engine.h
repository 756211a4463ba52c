/* Dragoman engine: the public API used by the CLI, the HTTP scheduler and the benchmark.
 *
 * A dg_model is read-only after dg_model_load and shared by every worker thread (weights are
 * mmap'ed or converted once). A dg_batch is one worker's mutable state: KV caches, activations
 * and the sentences currently being decoded. Sentences may be added between steps
 * (iteration-level batching): the scheduler adds, steps, and pops finished results.
 *
 * Basic usage:
 *     dg_err err;
 *     dg_model *m = dg_model_load("opus-mt-en-de", &err);
 *     dg_batch *b = dg_batch_create(m, 1, &err);
 *     dg_search_opts o; dg_search_opts_default(&o, m);
 *     dg_batch_add(b, src_ids, n_src, &o, tag, &err);
 *     while (dg_batch_live(b) > 0) {
 *         dg_batch_step(b, &err);
 *         void *t; dg_result r;
 *         while (dg_batch_pop_finished(b, &t, &r)) { ...; dg_result_free(&r); }
 *     }
 *
 * Ids are the model's token ids; the tokenizer lives in tokenizer/. */
#ifndef DG_ENGINE_H
#define DG_ENGINE_H

#include <stdint.h>

#include "common/error.h"
#include "models/config.h"

typedef struct dg_model dg_model;
typedef struct dg_batch dg_batch;

#define DG_MAX_BEAMS 64  /* num_beams accepted by dg_search_opts_check (and so by every caller) */
#define DG_MAX_PREFIX 64 /* target prefix tokens */

/* Hugging Face generate() settings; dg_search_opts_default fills them from the model's
 * generation_config.json / config.json. */
typedef struct {
    int num_beams;            /* 1 = greedy search */
    int num_return_sequences; /* n-best, <= num_beams */
    int max_new_tokens;       /* generated tokens at most (max_length - 1 when only that is set);
                               * with a position table (Marian, BART, mBART) values beyond
                               * max_position_embeddings are clamped to it, since the decoder
                               * has no position for more tokens; T5 and M2M100 have no limit */
    int min_length;           /* HF min_length: counts the decoder start token */
    float length_penalty;
    int early_stopping;       /* 0 false, 1 true, 2 "never" */
    int no_repeat_ngram_size;
    float repetition_penalty;
    int forced_bos_token_id;  /* -1 = none; forced as the first generated token */
    int forced_eos_token_id;  /* -1 = none; forced as the last token max_new_tokens allows */
    int renormalize_logits;   /* 1: log_softmax again after the processors */
    /* sampling (HF _sample, num_beams 1): the processed logits go through HF's warpers
     * (temperature, top-k, top-p, in that order) and the token is drawn from their softmax */
    int do_sample;            /* 0 = greedy or beam search */
    float temperature;        /* > 0; default 1 */
    int top_k;                /* 0 = off; default 50 (HF) */
    float top_p;              /* (0, 1]; 1 = off */
    uint64_t seed;            /* the draws of a sentence depend on the seed only */
    /* target prefix (CTranslate2's target_prefix): the first generated tokens are forced to
     * these (after a forced BOS), then decoding continues from them; kept by value so options
     * can be copied freely */
    int n_prefix;
    int prefix[DG_MAX_PREFIX];
    /* alignment (CTranslate2's return_attention): per generated token, the cross-attention of
     * decoder layer alignment_layer averaged over its heads, for every returned hypothesis.
     * Off by default: nothing is computed or copied then. alignment_layer -1 = the default,
     * the penultimate decoder layer (the last when there is one only); see dg_align_layer */
    int return_alignment;
    int alignment_layer;
} dg_search_opts;

/* One finished sentence: n hypotheses, best first. ids exclude the decoder start token and
 * include EOS (and a forced BOS) when generated; scores follow HF's sequences_scores. */
typedef struct {
    int n;
    int **ids;
    int *len;
    float *scores;
    /* with return_alignment: align[i] is [len[i], src_len] row-major, row k the attention
     * weights over the encoder input (EOS included) while generating ids[i][k]; rows sum to 1.
     * NULL otherwise. */
    float **align;
    int src_len;
} dg_result;

/* How weight matrices are stored and multiplied (--compute-type). float32 is exact (the parity
 * tests run on it); int8 quantizes weights per output row at load and activations per row at
 * run time (CTranslate2's scheme); bfloat16 rounds both to bf16 and sums in float32. float32 is
 * the default (Hugging Face's ids); auto asks for speed: int8 where the CPU has int8 kernels
 * (AVX2 or AVX-512), which kept quality on the demo model (README), else float32. */
typedef enum {
    DG_COMPUTE_AUTO = 0,
    DG_COMPUTE_FLOAT32,
    DG_COMPUTE_INT8,
    DG_COMPUTE_BFLOAT16,
} dg_compute_type;

/* "auto", "float32", "int8", "bfloat16" (also "fp32", "f32", "bf16"); -1 when unknown. */
int dg_compute_type_parse(const char *s);

/* Load options; dg_model_opts_default fills the defaults. */
typedef struct {
    dg_compute_type compute_type;
} dg_model_opts;

void dg_model_opts_default(dg_model_opts *o);
dg_model *dg_model_load_opts(const char *dir, const dg_model_opts *opts, dg_err *err);
dg_model *dg_model_load(const char *dir, dg_err *err);  /* default options */
void dg_model_free(dg_model *m);                     /* accepts NULL */
const dg_config *dg_model_config(const dg_model *m);

void dg_search_opts_default(dg_search_opts *o, const dg_model *m);
/* Checks options against the model (ranges, n-best <= beams); DG_E_INPUT with a message. */
dg_code dg_search_opts_check(const dg_search_opts *o, const dg_model *m, dg_err *err);
/* The decoder layer whose cross-attention return_alignment reports under options o. */
int dg_align_layer(const dg_search_opts *o, const dg_model *m);

/* threads: intra-op threads for this batch: its weight GEMMs (engine/gemm.c, split by output
 * columns) and its attention and search loops run on a pool of that many threads (<= 1: the
 * calling thread only). For throughput on N cores, N workers with threads = 1 each are the
 * alternative to one batch with threads = N (measure both). */
dg_batch *dg_batch_create(const dg_model *m, int threads, dg_err *err);
void dg_batch_free(dg_batch *b);                     /* accepts NULL */

/* Queues one source sentence (exactly the encoder input, EOS included). Its encoder pass runs
 * in the next dg_batch_step together with the other newly added sentences. tag is returned by
 * dg_batch_pop_finished. Errors (empty input, ids out of range, longer than the model's
 * positions) are DG_E_INPUT and leave the batch unchanged. */
dg_code dg_batch_add(dg_batch *b, const int *src_ids, int n_src, const dg_search_opts *o,
                     void *tag, dg_err *err);
/* Encodes newly added sentences, then runs one decoder step for every live hypothesis.
 * An error (DG_E_NOMEM) may leave sentences at different steps: cancel or free the batch. */
dg_code dg_batch_step(dg_batch *b, dg_err *err);
/* Sentences added and not yet popped (live or finished). */
int dg_batch_live(const dg_batch *b);
/* Pops one finished sentence: returns 1 and fills *tag and *res (caller frees res), or 0. */
int dg_batch_pop_finished(dg_batch *b, void **tag, dg_result *res);
/* Drops every sentence added with tag (client gone, deadline passed); others are untouched. */
void dg_batch_cancel(dg_batch *b, void *tag);

void dg_result_free(dg_result *r);                   /* accepts NULL / zeroed */
/* A deep copy of src (alignment included); DG_E_NOMEM leaves dst zeroed. */
dg_code dg_result_copy(dg_result *dst, const dg_result *src, dg_err *err);

/* Translates n sentences to completion with one batch (CLI, tests, benchmark): sorts by
 * length, keeps up to max_batch sentences in flight (refilled as sentences finish), results in
 * input order. The batch must be empty. This is the fastest way to run a fixed set of inputs:
 * max_batch 32-64 sentences amortizes the LM-head GEMM (num_beams rows per sentence). On error
 * every out[i] is freed and the batch is left empty. */
dg_code dg_translate(dg_batch *b, const int *const *src, const int *src_len, int n,
                     const dg_search_opts *o, int max_batch, dg_result *out, dg_err *err);

#endif
