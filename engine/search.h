/* Search state of one sentence and the per-step search functions (greedy, beam, processors).
 *
 * DESIGN. The search never sees the architecture: each step it receives the raw logits of the
 * sentence's rows ([rows, V], rows = 1 for greedy and for the first beam step, num_beams after)
 * and decides the next tokens, the parent of each new beam, and whether the sentence is done.
 * It tells the cache about reorders through dg_kv_reorder only. Hypotheses' token sequences are
 * kept per beam and reordered by copying ints (the KV rows themselves never move). */
#ifndef DG_SEARCH_H
#define DG_SEARCH_H

#include "engine/engine.h"
#include "engine/kv_cache.h"

typedef struct {
    double score;    /* HF BeamHypotheses score: sum_logprobs / generated_len ** length_penalty */
    int len;
    int *ids;        /* [cap]: generated tokens, EOS included when finished */
    float *align;    /* [cap, S] with return_alignment: one attention row per token */
} dg_hyp;

enum { DG_SENT_NEW, DG_SENT_LIVE, DG_SENT_DONE };

typedef struct {
    void *tag;
    dg_search_opts o;        /* max_new_tokens already clamped to the model's positions */
    int state;
    int *src;                /* [S] */
    int S, src_cap;
    void *cross_kv;          /* [S, Ld*2D] of the model's kvtype */
    size_t cross_cap;
    dg_kv kv;
    int nb;                  /* beams (1 for greedy) */
    int t;                   /* decoder steps done = tokens generated so far */
    int *seq, *seq_tmp;      /* [nb][cap]: decoder inputs per beam, start token first */
    int seq_cap;
    float *beam_score;       /* [nb] running beam scores (float32, as HF's tensor) */
    float *cand_val;         /* [nb * 2nb] candidate scratch */
    int *cand_idx;           /* [nb * 2nb] flat beam * V + token */
    int *parent, *next_tok;  /* [nb] */
    dg_hyp *hyps;            /* [nb + 1] finished hypotheses in insertion order (HF's list) */
    int n_hyps, hyps_cap, hyp_ids_cap;
    double worst;            /* BeamHypotheses.worst_score */
    int done;                /* BeamSearchScorer._done */
    double sum;              /* greedy: sum of log-probs of the chosen tokens */
    uint64_t rng;            /* sampling: generator state, from o.seed at reset */
    dg_result res;           /* filled when state becomes DG_SENT_DONE */
    /* return_alignment only: each beam's attention rows, reordered with the beams as seq is
     * (the decoder writes this step's rows into al_step) */
    int align_layer;
    float *al, *al_tmp;      /* [nb][seq_cap, S] */
    float *al_step;          /* [nb, S] */
    size_t al_cap, al_step_cap, hyp_al_cap; /* floats in al (and al_tmp), al_step, and each
                                             * hypothesis' align */
} dg_sent;

/* Scratch for the processors: a stamp per vocabulary entry dedupes repeated tokens; order and
 * prob hold sampling's sorted candidates. */
typedef struct {
    int *stamp;              /* [V] */
    int *order;              /* [V] */
    double *prob;            /* [V] */
    int gen, V;
} dg_logits_scratch;

dg_code dg_logits_scratch_init(dg_logits_scratch *sc, int V, dg_err *err);
void dg_logits_scratch_free(dg_logits_scratch *sc);

/* Applies the HF logits processors, in _get_logits_processor order, to x[V] in place for a row
 * whose decoder inputs so far are seq[cur_len] (decoder start included). */
void dg_logits_process(float *x, int V, const int *seq, int cur_len, const dg_search_opts *o,
                       const dg_config *cfg, dg_logits_scratch *sc);

/* Whether dg_logits_process, at this cur_len, only sets entries to -inf (n-gram, bad words,
 * min length): then it may run on the raw logits once dg_k_lse has their max and sum, since a
 * log-prob set to -inf and a logit set to -inf give the same -inf (beam_search.c). */
bool dg_logits_masks_only(int cur_len, const dg_search_opts *o);

/* Draws the next token from the processed logits x[V] (left unchanged) as HF's _sample does:
 * temperature, top-k and top-p warpers, then a draw from the softmax of what remains, with the
 * generator state *rng (splitmix64). */
int dg_sample_token(const float *x, int V, const dg_search_opts *o, uint64_t *rng,
                    dg_logits_scratch *sc);

/* Prepares s (buffers reused when large enough) for decoding with s->o and source length s->S;
 * state stays NEW. */
dg_code dg_search_reset(dg_sent *s, const dg_config *cfg, int Ld, int D, dg_kvtype kvt,
                        dg_err *err);
void dg_search_free(dg_sent *s);

/* One search step on logits[rows, V] (modified in place); advances s->t, reorders the cache.
 * Sets s->state = DG_SENT_DONE and fills s->res when the sentence is finished. */
dg_code dg_greedy_step(dg_sent *s, float *logits, int V, const dg_config *cfg,
                       dg_logits_scratch *sc, dg_err *err);
dg_code dg_beam_step(dg_sent *s, float *logits, int V, const dg_config *cfg,
                     dg_logits_scratch *sc, dg_err *err);

/* Number of logits rows the sentence needs in its next step. */
static inline int dg_search_rows(const dg_sent *s)
{
    return s->t == 0 ? 1 : s->nb;
}

/* Allocates res for n hypotheses (ids copied from the given arrays; align, when not NULL,
 * holds [len[i], S] attention rows per hypothesis, copied too). */
dg_code dg_result_make(dg_result *res, int n, int *const *ids, const int *len,
                       const double *scores, float *const *align, int S, dg_err *err);

#endif
