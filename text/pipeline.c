/* The text work around the model: see text/pipeline.h. */
#include <stdlib.h>
#include <string.h>

#include "text/pipeline.h"
#include "text/segment.h"

static dg_code nomem(dg_err *err)
{
    return dg_err_set(err, DG_E_NOMEM, "out of memory");
}

/* Block b's sentences (at most max into spans); without split the whole block is one. */
static int split_block(const dg_text_set *s, const dg_text_block *b, dg_span *spans, int max)
{
    if (s->opts.split)
        return dg_split_sentences(b->text, b->len, spans, max);
    if (max > 0)
        spans[0] = (dg_span){0, b->len};
    return 1;
}

/* The documents' blocks: a plain document is one block, itself. */
static dg_code make_blocks(dg_text_set *s, const char *const *texts, int n, dg_err *err)
{
    s->docs = calloc((size_t)(n ? n : 1), sizeof *s->docs);
    s->blocks = calloc((size_t)(n ? n : 1), sizeof *s->blocks);
    if (!s->docs || !s->blocks)
        return nomem(err);
    for (int d = 0; d < n; d++) {
        size_t len = strlen(texts[d]);
        s->docs[d] = (dg_text_doc){texts[d], len, s->n_blocks, 1, 0, 0};
        s->blocks[s->n_blocks++] = (dg_text_block){d, texts[d], len, 0, 0};
    }
    s->n_docs = n;
    return DG_OK;
}

/* Every block's sentences into s->segs (counted first, so a request over max_segments fails
 * before any tokenizing). */
static dg_code make_segments(dg_text_set *s, dg_text_fail *fail, dg_err *err)
{
    int total = 0, most = 0;
    for (int b = 0; b < s->n_blocks; b++) {
        dg_text_block *bl = &s->blocks[b];
        bl->first_seg = total;
        bl->n_segs = split_block(s, bl, NULL, 0);
        total += bl->n_segs;
        most = bl->n_segs > most ? bl->n_segs : most;
        if (s->opts.max_segments && total > s->opts.max_segments) {
            fail->too_many = true;
            return dg_err_set(err, DG_E_INPUT, "the texts split into more than %d sentences",
                              s->opts.max_segments);
        }
    }
    s->segs = calloc((size_t)(total ? total : 1), sizeof *s->segs);
    dg_span *spans = calloc((size_t)(most ? most : 1), sizeof *spans);
    if (!s->segs || !spans) {
        free(spans);
        return nomem(err);
    }
    s->n_segs = total;
    for (int b = 0; b < s->n_blocks; b++) {
        const dg_text_block *bl = &s->blocks[b];
        split_block(s, bl, spans, bl->n_segs);
        for (int k = 0; k < bl->n_segs; k++) {
            dg_text_segment *g = &s->segs[bl->first_seg + k];
            g->block = b;
            g->start = spans[k].start;
            g->len = spans[k].len;
        }
    }
    free(spans);
    for (int d = 0; d < s->n_docs; d++) {
        dg_text_doc *doc = &s->docs[d];
        const dg_text_block *last = &s->blocks[doc->first_block + doc->n_blocks - 1];
        doc->first_seg = s->blocks[doc->first_block].first_seg;
        doc->n_segs = last->first_seg + last->n_segs - doc->first_seg;
    }
    return DG_OK;
}

/* Segment g: its protected spans masked, the rest encoded, held to the limits. */
static dg_code encode_segment(dg_text_set *s, dg_text_segment *g, dg_text_fail *fail,
                              dg_err *err)
{
    const dg_text_opts *o = &s->opts;
    const dg_text_block *b = &s->blocks[g->block];
    const char *text = b->text + g->start;
    size_t len = g->len;
    if (o->preserve) {
        dg_code rc = dg_protect_text(s->tok, text, len, &g->prot, err);
        if (rc)
            return rc;
        text = g->prot.masked;
        len = g->prot.masked_len;
        s->has_protected |= g->prot.n > 0;
    }
    dg_code rc = o->encode ? o->encode(o->encode_arg, text, len, &g->ids, &g->n_ids, err)
                 : o->pair ? dg_tokenizer_encode_pair(s->tok, o->src, o->tgt, text, len, &g->ids,
                                                      &g->n_ids, err)
                           : dg_tokenizer_encode(s->tok, DG_SIDE_SOURCE, text, len, &g->ids,
                                                 &g->n_ids, err);
    if (rc)
        return rc;
    if (o->max_tokens && g->n_ids > o->max_tokens) {
        if (!o->truncate) {
            fail->n_tokens = g->n_ids;
            return dg_err_set(err, DG_E_INPUT, "%d tokens, more than the limit of %d", g->n_ids,
                              o->max_tokens);
        }
        dg_tokenizer_truncate(s->tok, g->ids, &g->n_ids, o->max_tokens); /* keeps the framing */
    }
    for (int k = 0; o->vocab_size && k < g->n_ids; k++)
        if (g->ids[k] >= o->vocab_size)
            return dg_err_set(err, DG_E_INPUT, "token id %d is outside the vocabulary (%d)",
                              g->ids[k], o->vocab_size);
    return DG_OK;
}

dg_code dg_text_prepare(const char *const *texts, int n, const dg_text_opts *o,
                        const dg_tokenizer *tok, dg_text_set *s, dg_text_fail *fail, dg_err *err)
{
    memset(s, 0, sizeof *s);
    *fail = (dg_text_fail){-1, -1, 0, false};
    s->opts = *o;
    s->tok = tok;
    dg_code rc = make_blocks(s, texts, n, err);
    if (!rc)
        rc = make_segments(s, fail, err);
    for (int k = 0; !rc && k < s->n_segs; k++) {
        dg_text_segment *g = &s->segs[k];
        if (!(rc = encode_segment(s, g, fail, err)))
            continue;
        free(g->ids);
        g->ids = NULL;
        g->n_ids = 0;
        fail->doc = s->blocks[g->block].doc;
        fail->seg = k - s->docs[fail->doc].first_seg;
    }
    return rc;
}

void dg_text_set_free(dg_text_set *s)
{
    for (int k = 0; s->segs && k < s->n_segs; k++) {
        free(s->segs[k].ids);
        dg_protect_free(&s->segs[k].prot);
    }
    free(s->segs);
    free(s->blocks);
    free(s->docs);
    memset(s, 0, sizeof *s);
}

/* Word pairs in bytes, growing. */
typedef struct {
    int (*p)[4];
    int n;
} pair_list;

/* Hypothesis h of block b: each segment's hypothesis h with its protected spans put back
 * (text/protect.h), joined with the block's layout into *text; with pl, the word alignment over
 * the block's text and *text (bytes) appended to pl. pieces and spans have room for the
 * block's segments. */
static dg_code finish_block(const dg_text_set *s, const dg_text_output *out, int b, int h,
                            char **text, pair_list *pl, char **pieces, dg_span *spans,
                            dg_err *err)
{
    const dg_text_block *bl = &s->blocks[b];
    dg_code rc = DG_OK;
    int src_shift = 0;  /* block offset minus joined offset, before segment k */
    for (int k = 0; k < bl->n_segs && !rc; k++) {
        const dg_text_segment *g = &s->segs[bl->first_seg + k];
        const dg_text_output *o = &out[bl->first_seg + k];
        int hh = h < o->n ? h : 0;
        spans[k] = (dg_span){g->start, g->len};
        char *decoded = NULL;
        if (!o->text &&
            (rc = dg_tokenizer_decode(s->tok, o->ids[hh], o->len[hh], true, &decoded, err)))
            break;
        const char *hyp = o->text ? o->text[hh] : decoded;
        dg_align_view v = {g->ids, g->n_ids, NULL, 0, NULL};
        if (o->align)
            v = (dg_align_view){g->ids, g->n_ids, o->ids[hh], o->len[hh], o->align[hh]};
        int *map = pl && v.align ? malloc((strlen(hyp) + 1) * sizeof *map) : NULL;
        if (pl && v.align && !map) {
            free(decoded);
            rc = nomem(err);
            break;
        }
        rc = dg_protect_restore(&g->prot, s->tok, hyp, v.align ? &v : NULL, &pieces[k], map,
                                err);
        dg_word_pair *wp = NULL;
        int nw = 0;
        if (!rc && map)
            rc = dg_align_words(s->tok, &g->prot, bl->text + g->start, g->len, hyp, &v,
                                pieces[k], map, &wp, &nw, err);
        free(map);
        free(decoded);
        /* the translated sentence starts at g->start minus the block's bytes before it that
         * earlier sentences replaced, plus their translations' bytes */
        int tgt_at = (int)g->start - src_shift;
        if (!rc && nw) {
            int (*q)[4] = realloc(pl->p, (size_t)(pl->n + nw) * sizeof *q);
            if (!q)
                rc = nomem(err);
            else
                pl->p = q;
        }
        for (int w = 0; !rc && w < nw; w++) {
            int *q = pl->p[pl->n++];
            q[0] = (int)g->start + wp[w].src_start;
            q[1] = (int)g->start + wp[w].src_end;
            q[2] = tgt_at + wp[w].tgt_start;
            q[3] = tgt_at + wp[w].tgt_end;
        }
        free(wp);
        if (!rc)
            src_shift += (int)g->len - (int)strlen(pieces[k]);
    }
    if (!rc && !(*text = dg_join_sentences(bl->text, bl->len, spans, bl->n_segs, pieces)))
        rc = nomem(err);
    for (int k = 0; k < bl->n_segs; k++) {
        free(pieces[k]);
        pieces[k] = NULL;
    }
    return rc;
}

/* Code points in s[0..n). */
static int cp_count(const char *s, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Hypothesis h of document d into r->hyps[h]; for h = 0 with return_alignment, r's pairs. A
 * plain document is its one block. */
static dg_code finish_doc(const dg_text_set *s, const dg_text_output *out, int d, int h,
                          dg_text_result *r, char **pieces, dg_span *spans, dg_err *err)
{
    const dg_text_doc *doc = &s->docs[d];
    bool align = h == 0 && s->opts.return_alignment;
    pair_list pl = {0};
    dg_code rc = finish_block(s, out, doc->first_block, h, &r->hyps[h], align ? &pl : NULL,
                              pieces, spans, err);
    if (!align)
        return rc;
    if (!rc && !pl.p && !(pl.p = malloc(sizeof *pl.p)))
        rc = nomem(err);
    for (int w = 0; !rc && w < pl.n; w++) {
        int *q = pl.p[w];
        q[0] = cp_count(doc->text, q[0]), q[1] = cp_count(doc->text, q[1]);
        q[2] = cp_count(r->hyps[h], q[2]), q[3] = cp_count(r->hyps[h], q[3]);
    }
    r->pairs = pl.p;
    r->n_pairs = pl.n;
    return rc;
}

dg_code dg_text_finish(const dg_text_set *s, const dg_text_output *out, int n_best,
                       dg_text_result *res, dg_err *err)
{
    int nb = n_best > 0 ? n_best : 1, most = 1;
    memset(res, 0, (size_t)s->n_docs * sizeof *res);
    for (int b = 0; b < s->n_blocks; b++)
        most = s->blocks[b].n_segs > most ? s->blocks[b].n_segs : most;
    char **pieces = calloc((size_t)most, sizeof *pieces);
    dg_span *spans = calloc((size_t)most, sizeof *spans);
    dg_code rc = pieces && spans ? DG_OK : nomem(err);
    for (int d = 0; !rc && d < s->n_docs; d++) {
        if (!(res[d].hyps = calloc((size_t)nb, sizeof *res[d].hyps))) {
            rc = nomem(err);
            break;
        }
        res[d].n_hyps = nb;
        for (int h = 0; !rc && h < nb; h++)
            rc = finish_doc(s, out, d, h, &res[d], pieces, spans, err);
    }
    free(pieces);
    free(spans);
    return rc;
}

void dg_text_result_free(dg_text_result *res, int n)
{
    for (int d = 0; res && d < n; d++) {
        for (int h = 0; res[d].hyps && h < res[d].n_hyps; h++)
            free(res[d].hyps[h]);
        free(res[d].hyps);
        free(res[d].pairs);
    }
}
