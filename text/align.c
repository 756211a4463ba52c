/* Word alignment from the engine's token alignment (see dg_align_words in protect.h).
 *
 * DESIGN. Token offsets come from dg_token_offsets_make (source pieces matched in the masked
 * text, target pieces from prefix decodes). A source offset in the masked text maps back to the
 * original through the protected spans (a placeholder's digits stand for its whole span); a
 * target offset maps through dg_protect_restore's byte map. Words are maximal runs of
 * non-whitespace on both sides. */
#include <stdlib.h>
#include <string.h>

#include "text/protect.h"

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Original byte offset of masked byte m (a placeholder's bytes: its span's start). */
static int to_orig(const dg_protect *p, int m)
{
    size_t orig_end = 0, m_end = 0;  /* end of the previous span, in both texts */
    for (int k = 0; k < p->n; k++) {
        const dg_prot_span *s = &p->spans[k];
        if ((size_t)m < s->m_start + s->m_len) {
            if ((size_t)m >= s->m_start)
                return (int)s->start;
            size_t o = orig_end + ((size_t)m - m_end);
            return (int)(o < s->start ? o : s->start);
        }
        orig_end = s->start + s->len;
        m_end = s->m_start + s->m_len + (size_t)s->pad_after;
        if ((size_t)m < m_end)
            return (int)orig_end;
    }
    size_t o = orig_end + ((size_t)m - m_end);
    return (int)(o < p->len ? o : p->len);
}

/* The word of text[0..len) holding byte i: [*a, *b); 0 when i is blank or outside. */
static int word_at(const char *text, int len, int i, int *a, int *b)
{
    if (i < 0 || i >= len || blank(text[i]))
        return 0;
    *a = *b = i;
    while (*a > 0 && !blank(text[*a - 1]))
        (*a)--;
    while (*b < len && !blank(text[*b]))
        (*b)++;
    return 1;
}

bool dg_word_pair_add(dg_word_pair *v, int *n, const dg_word_pair *w)
{
    for (int i = 0; i < *n; i++)
        if (!memcmp(&v[i], w, sizeof *w))
            return false;
    v[(*n)++] = *w;
    return true;
}

dg_code dg_align_words(const dg_tokenizer *tok, const dg_protect *p, const char *src,
                       size_t src_len, const char *translation, const dg_align_view *v,
                       const char *restored, const int *map, dg_word_pair **pairs, int *n,
                       dg_err *err)
{
    *pairs = NULL;
    *n = 0;
    dg_token_offsets off;
    char *plain = p->masked ? NULL : strndup(src, src_len);
    const char *masked = p->masked ? p->masked : plain;
    if (!masked)
        return dg_err_set(err, DG_E_NOMEM, "alignment: out of memory");
    dg_code rc = dg_token_offsets_make(tok, masked, translation, v, &off, err);
    free(plain);
    if (rc)
        return rc;
    dg_word_pair *out = malloc((size_t)(v->n_tgt > 0 ? v->n_tgt : 1) * sizeof *out);
    if (!out) {
        dg_token_offsets_free(&off);
        return dg_err_set(err, DG_E_NOMEM, "alignment: out of memory");
    }
    int rl = (int)strlen(restored), k = 0;
    for (int t = 0; t < v->n_tgt; t++) {
        if (off.tgt_start[t] < 0)
            continue;
        int best = -1;
        for (int j = 0; j < v->n_src; j++)
            if (off.src_start[j] >= 0 &&
                (best < 0 || v->align[(size_t)t * v->n_src + j] >
                                 v->align[(size_t)t * v->n_src + best]))
                best = j;
        if (best < 0)
            continue;
        int so = p->n ? to_orig(p, off.src_start[best]) : off.src_start[best];
        int to = map ? map[off.tgt_start[t]] : off.tgt_start[t];
        dg_word_pair w;
        if (!word_at(src, (int)src_len, so, &w.src_start, &w.src_end) ||
            !word_at(restored, rl, to, &w.tgt_start, &w.tgt_end))
            continue;
        dg_word_pair_add(out, &k, &w);
    }
    dg_token_offsets_free(&off);
    *pairs = out;
    *n = k;
    return DG_OK;
}
