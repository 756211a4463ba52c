/* The transformer forward pass as the search sees it: encode a set of sentences, then run one
 * decoder step over any set of live rows and get their logits.
 *
 * DESIGN. Encoder inputs are packed, not padded: the sentences' rows are concatenated ([N, D],
 * N = sum of S) and attention runs per sentence over its own rows. For every op but attention a
 * row does not see the others, and a padded batch with HF's mask gives the masked keys exactly
 * zero weight, so packing computes what the padded batch does without the padding's cost. The
 * decoder step likewise takes rows from any mix of sentences at any positions; each row carries
 * where its sentence's cross K/V and self-attention cache live. Workspaces grow to the largest
 * step seen and are reused (no allocation once warm). */
#ifndef DG_FORWARD_H
#define DG_FORWARD_H

#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/parallel.h"

typedef struct {
    float *p;
    size_t n;
} dg_buf;

/* Makes b hold at least n floats (amortized growth; contents are not kept). */
float *dg_buf_get(dg_buf *b, size_t n, dg_err *err);
void dg_buf_free(dg_buf *b);

/* Where a decode step writes alignments (return_alignment): row r's cross-attention weights
 * of decoder layer layer[r], averaged over its heads, go to out[r] ([S]); out[r] NULL = none. */
typedef struct {
    float *const *out;       /* [R] */
    const int *layer;        /* [R] */
} dg_align_rows;

typedef struct {
    dg_buf x, h, qkv, ctx, tmp, ffn, scores, cross;
    dg_pool *pool;           /* threads for GEMMs and attention loops; NULL = calling thread */
    const dg_align_rows *align; /* NULL: no row wants its alignment (set per step by the batch) */
} dg_fwd_ws;

void dg_fwd_ws_free(dg_fwd_ws *ws);

/* Encodes ns sentences: ids[N] packed, sentence i = rows [off[i], off[i] + len[i]). Source
 * tokens equal to m->mask_id are masked out of the attention, as generate()'s default
 * attention_mask does. 
 * Writes each sentence's cross-attention K/V for every decoder layer into cross_kv[i]
 * ([len[i], Ld*2D] elements of m->kvtype: layer l's K at l*2D, V at l*2D + D). On return
 * ws->x.p holds the encoder output [N, D] (until the next call that uses ws). */
dg_code dg_encode(const dg_model *m, dg_fwd_ws *ws, const int *ids, const int *off,
                  const int *len, int ns, void *const *cross_kv, dg_err *err);

/* One live decoder row: input token at position pos, for beam slot `slot` of its sentence. */
typedef struct {
    int token, pos, slot;
    int S;                   /* source length */
    const void *cross_kv;    /* [S, Ld*2A] elements of the model's kvtype */
    dg_kv *kv;               /* the sentence's self-attention cache (dg_kv_begin_step done) */
    const int *src;          /* [S] source ids, for the key mask (see dg_model.mask_id); NULL:
                                every source token is attended */
} dg_dec_row;

/* Runs the decoder for R rows and writes logits[R, Vt] (final_logits_bias added). Each row's
 * K/V are appended to its cache at (pos, slot). */
dg_code dg_decode_step(const dg_model *m, dg_fwd_ws *ws, const dg_dec_row *rows, int R,
                       float *logits, dg_err *err);

#endif
