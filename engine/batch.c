/* dg_batch: one worker's sentences, decoded together with iteration-level batching.
 *
 * DESIGN. Each dg_batch_step (1) encodes every sentence added since the previous step in one
 * packed encoder pass, (2) gathers the rows of every live sentence (1 row for greedy and for a
 * beam sentence's first step, num_beams after) into one decoder step, and (3) hands each
 * sentence its logits rows for its own search. The row list is rebuilt from the live sentences
 * every step, so a finished sentence stops costing anything at once and a new one joins at the
 * next step. Caches live in the sentence (not in row order), so leaving or joining moves no
 * cached data. Sentence states and workspaces are recycled: once warm, a step allocates only
 * the results it returns. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "engine/forward.h"
#include "engine/parallel.h"
#include "engine/search.h"

struct dg_batch {
    const dg_model *m;
    dg_fwd_ws ws;
    dg_sent **sent;          /* added and not popped, in order of addition */
    int n, cap;
    dg_sent **spare;         /* recycled sentence states */
    int nspare, spare_cap;
    dg_buf logits;           /* [R, Vt] */
    dg_dec_row *rows;        /* [R] */
    int rows_cap;
    float **align_out;       /* [R] return_alignment: where each row's weights go, or NULL */
    int *align_layer;        /* [R] */
    int align_out_cap, align_layer_cap;
    dg_align_rows align;
    int *enc_ids, enc_ids_cap;            /* [N] packed source ids of new sentences */
    int *enc_off, *enc_len;               /* [ns] */
    void **enc_cross;                     /* [ns] */
    int off_cap, len_cap, cross_cap;
    dg_sent **live;          /* [n_live] sentences decoded this step, in row order */
    size_t *live_off;        /* [n_live] first logits row of each */
    dg_err *live_err;        /* [n_live] each search step's outcome */
    int live_cap, off2_cap, err_cap;
    dg_pool *pool;           /* NULL with one thread */
    dg_logits_scratch *lsc;  /* [threads] */
    int threads;
};

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

dg_batch *dg_batch_create(const dg_model *m, int threads, dg_err *err)
{
    dg_batch *b = calloc(1, sizeof *b);
    if (!b) {
        dg_err_set(err, DG_E_NOMEM, "batch: out of memory");
        return NULL;
    }
    b->m = m;
    b->threads = threads > 1 ? threads : 1;
    b->lsc = calloc((size_t)b->threads, sizeof *b->lsc);
    if (!b->lsc) {
        dg_batch_free(b);
        dg_err_set(err, DG_E_NOMEM, "batch: out of memory");
        return NULL;
    }
    for (int w = 0; w < b->threads; w++)
        if (dg_logits_scratch_init(&b->lsc[w], m->Vt, err)) {
            dg_batch_free(b);
            return NULL;
        }
    if (b->threads > 1 && !(b->pool = dg_pool_create(b->threads, err))) {
        dg_batch_free(b);
        return NULL;
    }
    b->ws.pool = b->pool;
    /* weight GEMMs run on b->pool (engine/gemm.c); OpenBLAS is left the encoder's per-head
     * attention products, too small to split, and its spinning threads would take cycles from
     * the pool's */
    openblas_set_num_threads(1);
    return b;
}

static void sent_destroy(dg_sent *s)
{
    dg_search_free(s);
    free(s);
}

void dg_batch_free(dg_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++)
        sent_destroy(b->sent[i]);
    for (int i = 0; i < b->nspare; i++)
        sent_destroy(b->spare[i]);
    free(b->sent);
    free(b->spare);
    dg_fwd_ws_free(&b->ws);
    dg_buf_free(&b->logits);
    free(b->rows);
    free(b->align_out);
    free(b->align_layer);
    free(b->enc_ids);
    free(b->enc_off);
    free(b->enc_len);
    free(b->enc_cross);
    free(b->live);
    free(b->live_off);
    free(b->live_err);
    for (int w = 0; b->lsc && w < b->threads; w++)
        dg_logits_scratch_free(&b->lsc[w]);
    free(b->lsc);
    dg_pool_free(b->pool);
    free(b);
}

/* Keeps a sentence state for reuse (its buffers serve the next sentence). */
/* A kept sentence state holds on to its largest buffers; beyond this many positions (cache
 * time steps, source rows) they are released, so one long request does not pin its memory
 * (up to tens of MB per sentence for a beam-4 base model) in every spare state. The KV buffer
 * serves any beam count (kv_cache.h); it is kept up to the size of this many positions at
 * DG_SPARE_KEEP_BEAMS beams, or at the last sentence's beams if more, so a state that once
 * held a wide beam gives that memory back when it serves a narrower one. */
#define DG_SPARE_KEEP_POSITIONS 128
#define DG_SPARE_KEEP_BEAMS 4

static void recycle(dg_batch *b, dg_sent *s)
{
    dg_result_free(&s->res);
    int beams = s->kv.nb > DG_SPARE_KEEP_BEAMS ? s->kv.nb : DG_SPARE_KEEP_BEAMS;
    if (s->kv.cap > DG_SPARE_KEEP_POSITIONS ||
        s->kv.n > (size_t)DG_SPARE_KEEP_POSITIONS * s->kv.Ld * 2 * beams * s->kv.D *
                      dg_kvtype_size(s->kv.type))
        dg_kv_free(&s->kv);
    if (s->cross_cap > (size_t)DG_SPARE_KEEP_POSITIONS * b->m->Ld * 2 * b->m->Ad) {
        free(s->cross_kv);
        s->cross_kv = NULL;
        s->cross_cap = 0;
    }
    if (b->nspare < b->spare_cap ||
        !grow((void **)&b->spare, &b->spare_cap, b->nspare + 1, sizeof *b->spare))
        b->spare[b->nspare++] = s;
    else
        sent_destroy(s);
}

static dg_sent *take_sent(dg_batch *b)
{
    return b->nspare ? b->spare[--b->nspare] : calloc(1, sizeof(dg_sent));
}

dg_code dg_batch_add(dg_batch *b, const int *src_ids, int n_src, const dg_search_opts *o,
                     void *tag, dg_err *err)
{
    const dg_model *m = b->m;
    if (!o)
        return dg_err_set(err, DG_E_INPUT, "no search options");
    if (dg_search_opts_check(o, m, err))
        return err ? err->code : DG_E_INPUT;
    if (!src_ids || n_src < 1)
        return dg_err_set(err, DG_E_INPUT, "empty input: the source needs at least its EOS");
    if (n_src > m->P)
        return dg_err_set(err, DG_E_INPUT, "input of %d tokens is longer than the model's %d "
                          "positions (max_position_embeddings)", n_src, m->P);
    for (int i = 0; i < n_src; i++)
        if (src_ids[i] < 0 || src_ids[i] >= m->Vs)
            return dg_err_set(err, DG_E_INPUT, "token id %d at position %d outside the source "
                              "vocabulary [0, %d)", src_ids[i], i, m->Vs);
    if (grow((void **)&b->sent, &b->cap, b->n + 1, sizeof *b->sent))
        return dg_err_set(err, DG_E_NOMEM, "batch: out of memory");
    dg_sent *s = take_sent(b);
    if (!s)
        return dg_err_set(err, DG_E_NOMEM, "batch: out of memory");
    s->o = *o;
    /* only position tables bound the output (P is DG_MAX_DIM where positions are relative or
     * computed for any length) */
    if (s->o.max_new_tokens > m->P)
        s->o.max_new_tokens = m->P;
    size_t cross = (size_t)n_src * m->Ld * 2 * m->Ad;
    if (grow((void **)&s->src, &s->src_cap, n_src, sizeof *s->src))
        goto nomem;
    if (cross > s->cross_cap) {
        /* at least doubled (up to what a kept state holds): recycled states take sources of
         * any length in turn, and each growth would fault in fresh pages. Elements: a batch
         * serves one model, so one cache type. */
        size_t keep = (size_t)DG_SPARE_KEEP_POSITIONS * m->Ld * 2 * m->Ad;
        size_t want = 2 * s->cross_cap < keep ? 2 * s->cross_cap : keep;
        want = want > cross ? want : cross;
        void *c = realloc(s->cross_kv, want * dg_kvtype_size(m->kvtype));
        if (!c)
            goto nomem;
        s->cross_kv = c;
        s->cross_cap = want;
    }
    s->S = n_src;
    s->align_layer = dg_align_layer(&s->o, m);
    if (dg_search_reset(s, &m->cfg, m->Ld, m->Ad, m->kvtype, err)) {
        recycle(b, s);
        return err ? err->code : DG_E_NOMEM;
    }
    memcpy(s->src, src_ids, (size_t)n_src * sizeof *src_ids);
    s->tag = tag;
    s->state = DG_SENT_NEW;
    b->sent[b->n++] = s;
    return DG_OK;
nomem:
    recycle(b, s);
    return dg_err_set(err, DG_E_NOMEM, "batch: out of memory for a %d-token input", n_src);
}

static dg_code encode_new(dg_batch *b, dg_err *err)
{
    int ns = 0, N = 0;
    for (int i = 0; i < b->n; i++)
        if (b->sent[i]->state == DG_SENT_NEW) {
            ns++;
            N += b->sent[i]->S;
        }
    if (!ns)
        return DG_OK;
    if (grow((void **)&b->enc_ids, &b->enc_ids_cap, N, sizeof *b->enc_ids) ||
        grow((void **)&b->enc_off, &b->off_cap, ns, sizeof *b->enc_off) ||
        grow((void **)&b->enc_len, &b->len_cap, ns, sizeof *b->enc_len) ||
        grow((void **)&b->enc_cross, &b->cross_cap, ns, sizeof *b->enc_cross))
        return dg_err_set(err, DG_E_NOMEM, "batch: out of memory");
    int k = 0, off = 0;
    for (int i = 0; i < b->n; i++) {
        dg_sent *s = b->sent[i];
        if (s->state != DG_SENT_NEW)
            continue;
        memcpy(b->enc_ids + off, s->src, (size_t)s->S * sizeof(int));
        b->enc_off[k] = off;
        b->enc_len[k] = s->S;
        b->enc_cross[k] = s->cross_kv;
        off += s->S;
        k++;
    }
    if (dg_encode(b->m, &b->ws, b->enc_ids, b->enc_off, b->enc_len, ns, b->enc_cross, err))
        return err ? err->code : DG_E_NOMEM;
    for (int i = 0; i < b->n; i++)
        if (b->sent[i]->state == DG_SENT_NEW)
            b->sent[i]->state = DG_SENT_LIVE;
    return DG_OK;
}

typedef struct {
    dg_batch *b;
    float *logits;
} dg_search_job;

/* Each sentence's search is independent: sentences are split over the threads, each thread
 * with its own processor scratch. */
static void search_sents(void *arg, int begin, int end, int worker)
{
    const dg_search_job *j = arg;
    dg_batch *b = j->b;
    const dg_model *m = b->m;
    for (int i = begin; i < end; i++) {
        dg_sent *s = b->live[i];
        float *rows = j->logits + b->live_off[i] * m->Vt;
        dg_err *e = &b->live_err[i];
        e->code = DG_OK;
        if (s->nb == 1)
            dg_greedy_step(s, rows, m->Vt, &m->cfg, &b->lsc[worker], e);
        else
            dg_beam_step(s, rows, m->Vt, &m->cfg, &b->lsc[worker], e);
    }
}

dg_code dg_batch_step(dg_batch *b, dg_err *err)
{
    const dg_model *m = b->m;
    if (encode_new(b, err))
        return err ? err->code : DG_E_NOMEM;
    int R = 0, aligned = 0;
    for (int i = 0; i < b->n; i++) {
        dg_sent *s = b->sent[i];
        if (s->state != DG_SENT_LIVE)
            continue;
        if (dg_kv_reserve(&s->kv, s->t + 1, err))
            return err ? err->code : DG_E_NOMEM;
        dg_kv_begin_step(&s->kv, s->t);
        int rows = dg_search_rows(s);
        if (grow((void **)&b->rows, &b->rows_cap, R + rows, sizeof *b->rows) ||
            grow((void **)&b->align_out, &b->align_out_cap, R + rows, sizeof *b->align_out) ||
            grow((void **)&b->align_layer, &b->align_layer_cap, R + rows,
                 sizeof *b->align_layer))
            return dg_err_set(err, DG_E_NOMEM, "batch: out of memory");
        aligned |= s->o.return_alignment;
        for (int r = 0; r < rows; r++) {
            b->align_out[R] = s->o.return_alignment ? s->al_step + (size_t)r * s->S : NULL;
            b->align_layer[R] = s->align_layer;
            b->rows[R++] = (dg_dec_row){.token = s->seq[(size_t)r * s->seq_cap + s->t],
                                        .pos = s->t, .slot = r, .S = s->S,
                                        .cross_kv = s->cross_kv, .kv = &s->kv,
                                        .src = s->src};
        }
    }
    if (!R)
        return DG_OK;
    b->align = (dg_align_rows){b->align_out, b->align_layer};
    b->ws.align = aligned ? &b->align : NULL;
    float *logits = dg_buf_get(&b->logits, (size_t)R * m->Vt, err);
    if (!logits || dg_decode_step(m, &b->ws, b->rows, R, logits, err))
        return err ? err->code : DG_E_NOMEM;
    int nl = 0;
    size_t r = 0;
    for (int i = 0; i < b->n; i++) {
        dg_sent *s = b->sent[i];
        if (s->state != DG_SENT_LIVE)
            continue;
        if (grow((void **)&b->live, &b->live_cap, nl + 1, sizeof *b->live) ||
            grow((void **)&b->live_off, &b->off2_cap, nl + 1, sizeof *b->live_off) ||
            grow((void **)&b->live_err, &b->err_cap, nl + 1, sizeof *b->live_err))
            return dg_err_set(err, DG_E_NOMEM, "batch: out of memory");
        b->live[nl] = s;
        b->live_off[nl++] = r;
        r += (size_t)dg_search_rows(s);
    }
    dg_pool_for(b->pool, nl, search_sents, &(dg_search_job){b, logits});
    for (int i = 0; i < nl; i++)
        if (b->live_err[i].code) {
            if (err)
                *err = b->live_err[i];
            return b->live_err[i].code;
        }
    return DG_OK;
}

int dg_batch_live(const dg_batch *b)
{
    return b->n;
}

static void remove_at(dg_batch *b, int i)
{
    memmove(&b->sent[i], &b->sent[i + 1], (size_t)(b->n - i - 1) * sizeof *b->sent);
    b->n--;
}

int dg_batch_pop_finished(dg_batch *b, void **tag, dg_result *res)
{
    for (int i = 0; i < b->n; i++) {
        dg_sent *s = b->sent[i];
        if (s->state != DG_SENT_DONE)
            continue;
        *tag = s->tag;
        *res = s->res;
        memset(&s->res, 0, sizeof s->res);
        remove_at(b, i);
        recycle(b, s);
        return 1;
    }
    return 0;
}

void dg_batch_cancel(dg_batch *b, void *tag)
{
    for (int i = 0; i < b->n;) {
        dg_sent *s = b->sent[i];
        if (s->tag != tag) {
            i++;
            continue;
        }
        remove_at(b, i);
        recycle(b, s);
    }
}
