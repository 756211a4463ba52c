/* The text work around the model: see text/pipeline.h. */
#include <stdlib.h>
#include <string.h>

#include "text/html.h"
#include "text/pipeline.h"
#include "text/segment.h"

static dg_code nomem(dg_err *err)
{
    return dg_err_set(err, DG_E_NOMEM, "out of memory");
}

/* Block b's sentences (at most max into spans; -1 out of memory); without split the whole
 * block is one. Sentences a forced range crosses are one: a protected element is masked whole. */
static int split_block(const dg_text_set *s, const dg_text_block *b, dg_span *spans, int max)
{
    if (!s->opts.split) {
        if (max > 0)
            spans[0] = (dg_span){0, b->len};
        return 1;
    }
    if (!b->n_forced)
        return dg_split_sentences(b->text, b->len, spans, max);
    int n = dg_split_sentences(b->text, b->len, NULL, 0), m = 0;
    dg_span *all = malloc((size_t)(n ? n : 1) * sizeof *all);
    if (!all)
        return -1;
    dg_split_sentences(b->text, b->len, all, n);
    for (int i = 0, f = 0; i < n; i++) {
        if (m > 0) {
            size_t prev_end = all[m - 1].start + all[m - 1].len;
            while (f < b->n_forced && b->forced[f].start + b->forced[f].len <= prev_end)
                f++;
            if (f < b->n_forced && b->forced[f].start < all[i].start) {
                all[m - 1].len = all[i].start + all[i].len - all[m - 1].start;
                continue;
            }
        }
        all[m++] = all[i];
    }
    if (max > 0)
        memcpy(spans, all, (size_t)(m < max ? m : max) * sizeof *all);
    free(all);
    return m;
}

/* A plain document is one block, itself; an HTML document is parsed into its blocks. */
static dg_code make_blocks(dg_text_set *s, const char *const *texts, int n, dg_text_fail *fail,
                           dg_err *err)
{
    bool html = s->opts.format == DG_TEXT_HTML;
    s->docs = calloc((size_t)(n ? n : 1), sizeof *s->docs);
    if (!s->docs)
        return nomem(err);
    s->n_docs = n;
    int total = 0;
    for (int d = 0; d < n; d++) {
        size_t len = strlen(texts[d]);
        s->docs[d] = (dg_text_doc){.text = texts[d], .len = len, .first_block = total,
                                   .n_blocks = 1};
        if (html) {
            dg_code rc = dg_html_parse(texts[d], len, &s->docs[d].html, err);
            if (rc) {
                fail->doc = d;
                return rc;
            }
            s->docs[d].n_blocks = dg_html_block_count(s->docs[d].html);
        }
        total += s->docs[d].n_blocks;
    }
    if (!(s->blocks = calloc((size_t)(total ? total : 1), sizeof *s->blocks)))
        return nomem(err);
    for (int d = 0; d < n; d++) {
        const dg_text_doc *doc = &s->docs[d];
        if (!html) {
            s->blocks[s->n_blocks++] = (dg_text_block){.doc = d, .text = doc->text,
                                                       .len = doc->len};
            continue;
        }
        for (int i = 0; i < doc->n_blocks; i++) {
            dg_text_block *b = &s->blocks[s->n_blocks++];
            *b = (dg_text_block){.doc = d, .index = i};
            b->text = dg_html_block_text(doc->html, i, &b->len);
            int nr;
            const dg_html_range *r = dg_html_block_protected(doc->html, i, &nr);
            if (nr && !(b->forced = malloc((size_t)nr * sizeof *b->forced)))
                return nomem(err);
            for (int k = 0; k < nr; k++)
                b->forced[k] = (dg_prot_range){(size_t)r[k].start,
                                               (size_t)(r[k].end - r[k].start)};
            b->n_forced = nr;
        }
    }
    s->needs_align |= html && total > 0;
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
        if ((bl->n_segs = split_block(s, bl, NULL, 0)) < 0)
            return nomem(err);
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
        if (split_block(s, bl, spans, bl->n_segs) < 0) {
            free(spans);
            return nomem(err);
        }
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
        if (!doc->n_blocks) {  /* a page without text */
            doc->first_seg = d ? s->docs[d - 1].first_seg + s->docs[d - 1].n_segs : 0;
            continue;
        }
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
    if (o->preserve || b->n_forced) {
        /* the block's forced ranges inside this segment (split_block keeps each in one) */
        dg_prot_range *f = b->n_forced ? malloc((size_t)b->n_forced * sizeof *f) : NULL;
        int nf = 0;
        if (b->n_forced && !f)
            return nomem(err);
        for (int i = 0; i < b->n_forced; i++)
            if (b->forced[i].start >= g->start &&
                b->forced[i].start + b->forced[i].len <= g->start + len)
                f[nf++] = (dg_prot_range){b->forced[i].start - g->start, b->forced[i].len};
        dg_code rc = dg_protect_text_forced(s->tok, text, len, o->preserve, f, nf, &g->prot, err);
        free(f);
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
    if (o->format == DG_TEXT_HTML && o->return_alignment)
        return dg_err_set(err, DG_E_INPUT, "return_alignment is for plain text: an HTML "
                          "translation's offsets are not its page's");
    dg_code rc = make_blocks(s, texts, n, fail, err);
    if (!rc)
        rc = make_segments(s, fail, err);
    for (int k = 0; !rc && k < s->n_segs; k++) {
        dg_text_segment *g = &s->segs[k];
        if (!(rc = encode_segment(s, g, fail, err))) {
            s->needs_align |= s->has_protected;
            continue;
        }
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
    for (int b = 0; s->blocks && b < s->n_blocks; b++)
        free(s->blocks[b].forced);
    free(s->blocks);
    for (int d = 0; s->docs && d < s->n_docs; d++)
        dg_html_free(s->docs[d].html);
    free(s->docs);
    memset(s, 0, sizeof *s);
}

/* Word pairs in bytes, growing. */
typedef struct {
    int (*p)[4];
    int n;
} pair_list;

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* [*a, *b) grown to the whitespace-delimited word of t[0..n) around it. */
static void to_word(const char *t, int n, int *a, int *b)
{
    while (*a > 0 && !blank(t[*a - 1]))
        (*a)--;
    while (*b < n && !blank(t[*b]))
        (*b)++;
}

/* Each protected span's source word pairs with the word it was restored into, in place of
 * what the attention said for that word: where it went is known exactly (the model saw only a
 * label there, and a small model's attention may look elsewhere), and in HTML a tag around a
 * URL or an e-mail address lands on it. A span is found in the restored piece as its text (the
 * j-th time for the j-th span of the same text). */
static dg_code span_pairs(const dg_protect *p, const char *piece, bool html, dg_word_pair **wp,
                          int *nw, dg_err *err)
{
    int pl = (int)strlen(piece), m = 0;
    dg_word_pair *v = realloc(*wp, (size_t)(*nw + p->n) * sizeof *v), *t = v ? v + *nw : NULL;
    if (!v)
        return nomem(err);
    *wp = v;
    for (int k = 0; k < p->n; k++) {  /* the spans' pairs, after the attention's in v */
        const dg_prot_span *sp = &p->spans[k];
        const char *text = p->text + sp->start, *from = piece, *at;
        int j = 0;
        for (int i = 0; i < k; i++)
            j += p->spans[i].len == sp->len && !memcmp(p->text + p->spans[i].start, text, sp->len);
        while ((at = memmem(from, (size_t)(piece + pl - from), text, sp->len)) && j--)
            from = at + sp->len;
        if (!at)
            continue;
        dg_word_pair w = {(int)sp->start, (int)(sp->start + sp->len), (int)(at - piece),
                          (int)(at - piece + sp->len)};
        to_word(p->text, (int)p->len, &w.src_start, &w.src_end);
        /* the target word around it: whole in plain text (alignment ranges are words); in HTML
         * only as far as the source word goes around the span, so "<a>x@y.org</a>." keeps its
         * full stop outside the link */
        int pre = (int)sp->start - w.src_start, post = w.src_end - (int)(sp->start + sp->len);
        int ta = w.tgt_start, tb = w.tgt_end;
        to_word(piece, pl, &ta, &tb);
        w.tgt_start = html && w.tgt_start - pre > ta ? w.tgt_start - pre : ta;
        w.tgt_end = html && w.tgt_end + post < tb ? w.tgt_end + post : tb;
        dg_word_pair_add(t, &m, &w);
    }
    int keep = 0;  /* the attention's pairs of a span's source word go */
    for (int i = 0; i < *nw; i++) {
        bool span_word = false;
        for (int k = 0; k < m && !span_word; k++)
            span_word = v[i].src_start == t[k].src_start && v[i].src_end == t[k].src_end;
        if (!span_word)
            v[keep++] = v[i];
    }
    memmove(v + keep, t, (size_t)m * sizeof *v);
    *nw = keep + m;
    /* the span pairs, appended, go to their place: pairs come in target order */
    for (int i = keep; i < *nw; i++) {
        dg_word_pair x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1].tgt_start > x.tgt_start; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    return DG_OK;
}

/* Segment k's hypothesis h with its protected spans put back (text/protect.h) into *piece;
 * with wp, its word alignment (bytes over the segment's text and *piece) into *wp, *nw (none
 * without the engine's alignment rows). */
static dg_code restore_segment(const dg_text_set *s, const dg_text_output *o, int k, int h,
                               char **piece, dg_word_pair **wp, int *nw, dg_err *err)
{
    const dg_text_segment *g = &s->segs[k];
    int hh = h < o->n ? h : 0;
    char *decoded = NULL;
    *piece = NULL;
    if (wp)
        *wp = NULL, *nw = 0;
    dg_code rc = DG_OK;
    if (!o->text &&
        (rc = dg_tokenizer_decode(s->tok, o->ids[hh], o->len[hh], true, &decoded, err)))
        return rc;
    const char *hyp = o->text ? o->text[hh] : decoded;
    dg_align_view v = {g->ids, g->n_ids, NULL, 0, NULL};
    if (o->align)
        v = (dg_align_view){g->ids, g->n_ids, o->ids[hh], o->len[hh], o->align[hh]};
    int *map = wp && v.align ? malloc((strlen(hyp) + 1) * sizeof *map) : NULL;
    if (wp && v.align && !map)
        rc = nomem(err);
    if (!rc)
        rc = dg_protect_restore(&g->prot, s->tok, hyp, v.align ? &v : NULL, piece, map, err);
    if (!rc && map)
        rc = dg_align_words(s->tok, &g->prot, s->blocks[g->block].text + g->start, g->len, hyp,
                            &v, *piece, map, wp, nw, err);
    if (!rc && wp && g->prot.n)
        rc = span_pairs(&g->prot, *piece, s->opts.format == DG_TEXT_HTML, wp, nw, err);
    free(map);
    free(decoded);
    return rc;
}

dg_code dg_text_segment_text(const dg_text_set *s, int k, const dg_text_output *o, int h,
                             char **text, dg_err *err)
{
    return restore_segment(s, o, k, h, text, NULL, NULL, err);
}

/* Hypothesis h of block b: each segment's hypothesis h restored, joined with the block's
 * layout into *text; with pl, the word alignment over the block's text and *text (bytes)
 * appended to pl. pieces and spans have room for the block's segments. */
static dg_code finish_block(const dg_text_set *s, const dg_text_output *out, int b, int h,
                            char **text, pair_list *pl, char **pieces, dg_span *spans,
                            dg_err *err)
{
    const dg_text_block *bl = &s->blocks[b];
    dg_code rc = DG_OK;
    int src_shift = 0;  /* block offset minus joined offset, before segment k */
    for (int k = 0; k < bl->n_segs && !rc; k++) {
        const dg_text_segment *g = &s->segs[bl->first_seg + k];
        spans[k] = (dg_span){g->start, g->len};
        dg_word_pair *wp = NULL;
        int nw = 0;
        rc = restore_segment(s, &out[bl->first_seg + k], bl->first_seg + k, h, &pieces[k], pl ? &wp : NULL, &nw,
                             err);
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

/* Hypothesis h of HTML document d: each block's translation and word alignment set into the
 * page (text/html.h), which is rendered into *out. */
static dg_code finish_html(const dg_text_set *s, const dg_text_output *out, int d, int h,
                           char **page, char **pieces, dg_span *spans, dg_err *err)
{
    const dg_text_doc *doc = &s->docs[d];
    dg_code rc = DG_OK;
    for (int b = doc->first_block; !rc && b < doc->first_block + doc->n_blocks; b++) {
        pair_list pl = {0};
        char *text = NULL;
        dg_word_pair *wp = NULL;
        rc = finish_block(s, out, b, h, &text, &pl, pieces, spans, err);
        if (!rc && pl.n && !(wp = malloc((size_t)pl.n * sizeof *wp)))
            rc = nomem(err);
        for (int w = 0; !rc && w < pl.n; w++)
            wp[w] = (dg_word_pair){pl.p[w][0], pl.p[w][1], pl.p[w][2], pl.p[w][3]};
        if (!rc)
            rc = dg_html_block_set(doc->html, s->blocks[b].index, text, strlen(text), wp, pl.n,
                                   err);
        free(wp);
        free(pl.p);
        free(text);
    }
    size_t len;
    return rc ? rc : dg_html_render(doc->html, page, &len, err);
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
 * plain document is its one block; an HTML one is rendered from its blocks. */
static dg_code finish_doc(const dg_text_set *s, const dg_text_output *out, int d, int h,
                          dg_text_result *r, char **pieces, dg_span *spans, dg_err *err)
{
    const dg_text_doc *doc = &s->docs[d];
    if (doc->html)
        return finish_html(s, out, d, h, &r->hyps[h], pieces, spans, err);
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
