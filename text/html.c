/* HTML through translation: blocks, inline items, rendering (see html.h).
 *
 * DESIGN. Parsing turns the page into a skeleton: a list of pieces, each either literal markup
 * (written from the source at parse time) or a block. Rendering concatenates the pieces,
 * writing each block from its source when it is not set and from its translation with its
 * items placed when it is. So what is not translated is never rebuilt, and what is rebuilt is
 * only a block's inline content. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gumbo.h>

#include "text/html.h"
#include "tokenizer/utf8.h"

#define MAX_INPUT (64u << 20)
#define MAX_DEPTH 1024

/* ---- growable byte buffer ---- */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom || !n)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* A NUL-terminated copy ("" when empty); NULL only when out of memory. */
static char *sb_take(sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p)
        return calloc(1, 1);
    return b->p;
}

/* Text escaped for element content (and attribute values: quote too). U+00A0 as &nbsp;, since
 * the character is invisible in a page's source. */
static void sb_escape(sbuf *b, const char *s, size_t n, bool attr)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        size_t skip = 1;
        unsigned char c = (unsigned char)s[i];
        if (c == '&')
            rep = "&amp;";
        else if (c == '<')
            rep = "&lt;";
        else if (c == '>')
            rep = "&gt;";
        else if (c == '"' && attr)
            rep = "&quot;";
        else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0)
            rep = "&nbsp;", skip = 2;
        if (rep) {
            sb_put(b, s + run, i - run);
            sb_str(b, rep);
            i += skip - 1;
            run = i + 1;
        }
    }
    sb_put(b, s + run, n - run);
}

/* ---- the model ---- */

typedef struct {
    dg_html_item it;
    char *markup, *end_tag; /* owned */
    int src_start, src_end; /* the item's range in the block text */
    bool ws_before, ws_after; /* a position item with whitespace on each side in the source */
    int first_child, next_sibling; /* -1: none */
} item;

typedef struct {
    char *orig;   /* the run as written in the source */
    size_t orig_len;
    char *text;
    size_t len;
    char *lead, *trail; /* whitespace before / after the text, raw */
    item *items;
    int n_items;
    dg_html_item *pub; /* items' public views */
    dg_html_range *prot;
    int n_prot;
    int first_top; /* first item at the block's top level, -1: none */
    char *set;    /* the rendered translation once set, else NULL */
    size_t set_len;
} block;

typedef struct {
    int block; /* -1: literal skel[off..off+len) */
    size_t off, len;
} piece;

struct dg_html {
    sbuf skel;
    piece *pieces;
    int n_pieces, cap_pieces;
    block *blocks;
    int n_blocks, cap_blocks;
    bool oom;
};

/* ---- element classes ---- */

typedef enum { C_BREAK, C_UNTOUCHED_BLOCK, C_INLINE, C_PROTECTED, C_ANCHOR } cls;

static bool tag_in(GumboTag t, const GumboTag *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == t)
            return true;
    return false;
}
#define TAG_IN(t, set) tag_in(t, set, sizeof set / sizeof *set)

static const GumboTag inline_tags[] = {
    GUMBO_TAG_A, GUMBO_TAG_ABBR, GUMBO_TAG_ACRONYM, GUMBO_TAG_B, GUMBO_TAG_BDI, GUMBO_TAG_BDO,
    GUMBO_TAG_BIG, GUMBO_TAG_BLINK, GUMBO_TAG_CITE, GUMBO_TAG_DATA, GUMBO_TAG_DEL,
    GUMBO_TAG_DFN, GUMBO_TAG_EM, GUMBO_TAG_FONT, GUMBO_TAG_I, GUMBO_TAG_INS, GUMBO_TAG_MARK,
    GUMBO_TAG_NOBR, GUMBO_TAG_Q, GUMBO_TAG_RP, GUMBO_TAG_RT, GUMBO_TAG_RUBY, GUMBO_TAG_S,
    GUMBO_TAG_SMALL, GUMBO_TAG_SPAN, GUMBO_TAG_STRIKE, GUMBO_TAG_STRONG, GUMBO_TAG_SUB,
    GUMBO_TAG_SUP, GUMBO_TAG_TIME, GUMBO_TAG_TT, GUMBO_TAG_U, GUMBO_TAG_UNKNOWN};
/* kept verbatim, their text part of the sentence */
static const GumboTag protected_tags[] = {GUMBO_TAG_CODE, GUMBO_TAG_KBD, GUMBO_TAG_SAMP,
                                          GUMBO_TAG_VAR};
/* kept verbatim, no text in the sentence */
static const GumboTag anchor_tags[] = {
    GUMBO_TAG_IMG, GUMBO_TAG_WBR, GUMBO_TAG_INPUT, GUMBO_TAG_SCRIPT, GUMBO_TAG_STYLE,
    GUMBO_TAG_TEMPLATE, GUMBO_TAG_NOSCRIPT, GUMBO_TAG_SVG, GUMBO_TAG_MATH, GUMBO_TAG_IFRAME,
    GUMBO_TAG_OBJECT, GUMBO_TAG_EMBED, GUMBO_TAG_CANVAS, GUMBO_TAG_VIDEO, GUMBO_TAG_AUDIO,
    GUMBO_TAG_SOURCE, GUMBO_TAG_TRACK, GUMBO_TAG_PARAM, GUMBO_TAG_NOEMBED,
    GUMBO_TAG_NOFRAMES, GUMBO_TAG_APPLET, GUMBO_TAG_IMAGE};
static const GumboTag untouched_block_tags[] = {GUMBO_TAG_PRE, GUMBO_TAG_TEXTAREA,
                                                GUMBO_TAG_XMP, GUMBO_TAG_LISTING,
                                                GUMBO_TAG_PLAINTEXT};
/* content is raw text / RCDATA: written as the source has it */
static const GumboTag raw_tags[] = {GUMBO_TAG_SCRIPT, GUMBO_TAG_STYLE, GUMBO_TAG_XMP,
                                    GUMBO_TAG_IFRAME, GUMBO_TAG_NOEMBED, GUMBO_TAG_NOFRAMES,
                                    GUMBO_TAG_NOSCRIPT, GUMBO_TAG_PLAINTEXT, GUMBO_TAG_TEXTAREA,
                                    GUMBO_TAG_TITLE};

static bool is_elem(const GumboNode *n)
{
    return n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE;
}

static bool is_text(const GumboNode *n)
{
    return n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE ||
           n->type == GUMBO_NODE_CDATA;
}

/* translate="no" or class="notranslate" (Google's convention, which Bergamot follows too) */
static bool opted_out(const GumboElement *e)
{
    GumboAttribute *a = gumbo_get_attribute(&e->attributes, "translate");
    if (a && !strcasecmp(a->value, "no"))
        return true;
    a = gumbo_get_attribute(&e->attributes, "class");
    if (a) {
        const char *s = a->value;
        while (*s) {
            while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\f' || *s == '\r')
                s++;
            size_t k = strcspn(s, " \t\n\f\r");
            if (k == 11 && !strncasecmp(s, "notranslate", 11))
                return true;
            s += k;
        }
    }
    return false;
}

static bool ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool has_text(const GumboNode *n)
{
    if (is_text(n)) {
        for (const char *s = n->v.text.text; *s; s++)
            if (!ascii_space((unsigned char)*s))
                return true;
        return false;
    }
    if (!is_elem(n))
        return false;
    const GumboVector *c = &n->v.element.children;
    for (unsigned i = 0; i < c->length; i++)
        if (has_text(c->data[i]))
            return true;
    return false;
}

static cls classify(const GumboNode *n);

static bool run_member(const GumboNode *n)
{
    if (is_text(n) || n->type == GUMBO_NODE_COMMENT)
        return true;
    if (!is_elem(n))
        return false;
    cls c = classify(n);
    return c == C_INLINE || c == C_PROTECTED || c == C_ANCHOR;
}

static cls classify(const GumboNode *n)
{
    const GumboElement *e = &n->v.element;
    GumboTag t = e->tag;
    if (n->type == GUMBO_NODE_TEMPLATE || e->tag_namespace != GUMBO_NAMESPACE_HTML)
        return C_ANCHOR;
    bool inl = TAG_IN(t, inline_tags);
    if (opted_out(e) || TAG_IN(t, protected_tags)) {
        if (!inl && !TAG_IN(t, protected_tags))
            return C_UNTOUCHED_BLOCK;
        return has_text(n) ? C_PROTECTED : C_ANCHOR;
    }
    if (TAG_IN(t, anchor_tags))
        return C_ANCHOR;
    if (TAG_IN(t, untouched_block_tags))
        return C_UNTOUCHED_BLOCK;
    if (!inl)
        return C_BREAK;
    for (unsigned i = 0; i < e->children.length; i++)
        if (!run_member(e->children.data[i]))
            return C_BREAK;
    return C_INLINE;
}

/* ---- writing nodes as the source has them ---- */

/* the tag name of an element: gumbo's for known tags, the source's for others */
static GumboStringPiece tag_name(const GumboElement *e)
{
    GumboStringPiece s = {0};
    if (e->tag != GUMBO_TAG_UNKNOWN) {
        s.data = gumbo_normalized_tagname(e->tag);
        s.length = strlen(s.data);
    } else if (e->original_tag.length) {
        s = e->original_tag;
        gumbo_tag_from_original_text(&s);
    }
    return s;
}

static bool real_start_tag(const GumboStringPiece *t)
{
    return t->length >= 2 && t->data[0] == '<' &&
           ((t->data[1] | 0x20) >= 'a' && (t->data[1] | 0x20) <= 'z');
}

static bool start_tag_written(const GumboNode *n)
{
    const GumboElement *e = &n->v.element;
    if (real_start_tag(&e->original_tag))
        return true;
    /* implied by the parser (html, head, body, tbody): implied again when read back */
    if ((n->parse_flags & GUMBO_INSERTION_IMPLIED) &&
        !(n->parse_flags & GUMBO_INSERTION_CONVERTED_FROM_END_TAG))
        return false;
    return tag_name(e).length > 0;
}

static bool is_void(GumboTag t)
{
    static const GumboTag v[] = {GUMBO_TAG_AREA, GUMBO_TAG_BASE, GUMBO_TAG_BR, GUMBO_TAG_COL,
                                 GUMBO_TAG_EMBED, GUMBO_TAG_HR, GUMBO_TAG_IMG, GUMBO_TAG_INPUT,
                                 GUMBO_TAG_LINK, GUMBO_TAG_META, GUMBO_TAG_PARAM,
                                 GUMBO_TAG_SOURCE, GUMBO_TAG_TRACK, GUMBO_TAG_WBR,
                                 GUMBO_TAG_KEYGEN, GUMBO_TAG_BASEFONT, GUMBO_TAG_BGSOUND,
                                 GUMBO_TAG_FRAME, GUMBO_TAG_IMAGE};
    return TAG_IN(t, v);
}

static void write_start_tag(sbuf *b, const GumboNode *n)
{
    const GumboElement *e = &n->v.element;
    if (real_start_tag(&e->original_tag)) {
        sb_put(b, e->original_tag.data, e->original_tag.length);
        return;
    }
    GumboStringPiece name = tag_name(e);
    sb_str(b, "<");
    sb_put(b, name.data, name.length);
    for (unsigned i = 0; i < e->attributes.length; i++) {
        const GumboAttribute *a = e->attributes.data[i];
        sb_str(b, " ");
        sb_str(b, a->name);
        sb_str(b, "=\"");
        sb_escape(b, a->value, strlen(a->value), true);
        sb_str(b, "\"");
    }
    sb_str(b, ">");
}

static void write_end_tag(sbuf *b, const GumboNode *n)
{
    const GumboElement *e = &n->v.element;
    if (is_void(e->tag) && e->tag_namespace == GUMBO_NAMESPACE_HTML)
        return;
    const GumboStringPiece *o = &e->original_tag;
    /* self-closing in SVG / MathML */
    if (e->tag_namespace != GUMBO_NAMESPACE_HTML && o->length >= 2 && o->data[o->length - 2] == '/')
        return;
    GumboStringPiece name = tag_name(e);
    const GumboStringPiece *t = &e->original_end_tag;
    /* gumbo may hand an element the end tag that closed an outer one: use it only when it
     * names this element */
    if (t->length > 2 && t->data[0] == '<' && t->data[1] == '/') {
        GumboStringPiece tn = *t;
        gumbo_tag_from_original_text(&tn);
        if (tn.length == name.length && !strncasecmp(tn.data, name.data, name.length)) {
            sb_put(b, t->data, t->length);
            return;
        }
    }
    sb_str(b, "</");
    sb_put(b, name.data, name.length);
    sb_str(b, ">");
}

static void write_text(sbuf *b, const GumboNode *n, bool raw)
{
    const GumboStringPiece *o = &n->v.text.original_text;
    /* gumbo folds a stray end tag into the text node's source span: write the decoded text */
    if (raw || (o->length && !memchr(o->data, '<', o->length)))
        sb_put(b, o->data, o->length);
    else
        sb_escape(b, n->v.text.text, strlen(n->v.text.text), false);
}

static void write_orig(sbuf *b, const GumboNode *n, bool raw)
{
    if (is_text(n)) {
        write_text(b, n, raw);
    } else if (n->type == GUMBO_NODE_COMMENT) {
        sb_put(b, n->v.text.original_text.data, n->v.text.original_text.length);
    } else if (is_elem(n)) {
        bool tags = start_tag_written(n);
        if (tags)
            write_start_tag(b, n);
        const GumboVector *c = &n->v.element.children;
        bool r = TAG_IN(n->v.element.tag, raw_tags);
        for (unsigned i = 0; i < c->length; i++)
            write_orig(b, c->data[i], r);
        if (tags)
            write_end_tag(b, n);
    }
}

/* ---- parsing into pieces and blocks ---- */

static void add_piece(dg_html *h, int blk, size_t off, size_t len)
{
    if (h->oom)
        return;
    if (blk < 0 && h->n_pieces && h->pieces[h->n_pieces - 1].block < 0) {
        h->pieces[h->n_pieces - 1].len += len; /* literals are contiguous in skel */
        return;
    }
    if (h->n_pieces == h->cap_pieces) {
        int cap = h->cap_pieces ? 2 * h->cap_pieces : 16;
        piece *p = realloc(h->pieces, (size_t)cap * sizeof *p);
        if (!p) {
            h->oom = true;
            return;
        }
        h->pieces = p;
        h->cap_pieces = cap;
    }
    h->pieces[h->n_pieces++] = (piece){blk, off, len};
}

static void literal_node(dg_html *h, const GumboNode *n)
{
    size_t off = h->skel.n;
    write_orig(&h->skel, n, false);
    add_piece(h, -1, off, h->skel.n - off);
}

static void literal_str(dg_html *h, const char *s, size_t len)
{
    size_t off = h->skel.n;
    sb_put(&h->skel, s, len);
    add_piece(h, -1, off, h->skel.n - off);
}

/* Building one block's text and items. */
typedef struct {
    sbuf text, lead, trail; /* trail: whitespace since the last visible character */
    bool pending;           /* whitespace seen since the last visible character */
    bool seen;              /* a visible character seen */
    bool own_text;          /* text outside protected items */
    int last_pos;           /* the last position item, while no visible character followed */
    item *items;
    int n, cap;
    bool oom;
} builder;

/* where the next visible character will go */
static int next_pos(const builder *bd)
{
    return (int)bd->text.n + (bd->pending && bd->seen ? 1 : 0);
}

static void put_visible(builder *bd, const char *s, size_t n)
{
    if (bd->pending && bd->seen)
        sb_str(&bd->text, " ");
    bd->pending = false;
    bd->seen = true;
    bd->trail.n = 0;
    if (bd->trail.p)
        bd->trail.p[0] = 0;
    bd->last_pos = -1;
    sb_put(&bd->text, s, n);
}

static void put_text(builder *bd, const char *s, size_t n, bool own)
{
    size_t i = 0;
    while (i < n) {
        if (ascii_space((unsigned char)s[i])) {
            sb_put(bd->seen ? &bd->trail : &bd->lead, s + i, 1);
            bd->pending = true;
            if (bd->last_pos >= 0)
                bd->items[bd->last_pos].ws_after = true;
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !ascii_space((unsigned char)s[j]))
            j++;
        put_visible(bd, s + i, j - i);
        bd->own_text |= own;
        i = j;
    }
}

static int add_item(builder *bd, dg_html_item_kind kind, int parent, int pos)
{
    if (bd->n == bd->cap) {
        int cap = bd->cap ? 2 * bd->cap : 8;
        item *p = realloc(bd->items, (size_t)cap * sizeof *p);
        if (!p) {
            bd->oom = true;
            return -1;
        }
        bd->items = p;
        bd->cap = cap;
    }
    item *it = &bd->items[bd->n];
    memset(it, 0, sizeof *it);
    it->it.kind = kind;
    it->it.parent = parent;
    it->src_start = it->src_end = pos;
    it->first_child = it->next_sibling = -1;
    it->ws_before = bd->pending && bd->seen;
    bd->last_pos = -1;
    return bd->n++;
}

/* an element's text, collapsed, as one protected chunk */
static void collect_text(sbuf *b, const GumboNode *n)
{
    if (is_text(n)) {
        const char *s = n->v.text.text;
        while (*s) {
            if (ascii_space((unsigned char)*s)) {
                if (b->n && b->p[b->n - 1] != ' ')
                    sb_str(b, " ");
                s++;
            } else {
                sb_put(b, s, 1);
                s++;
            }
        }
    } else if (is_elem(n)) {
        const GumboVector *c = &n->v.element.children;
        for (unsigned i = 0; i < c->length; i++)
            collect_text(b, c->data[i]);
    }
}

static char *orig_string(const GumboNode *n, size_t *len)
{
    sbuf b = {0};
    write_orig(&b, n, false);
    *len = b.n;
    return sb_take(&b);
}

static void collect(builder *bd, const GumboNode *n, int parent)
{
    if (bd->oom)
        return;
    if (is_text(n)) {
        put_text(bd, n->v.text.text, strlen(n->v.text.text), true);
        return;
    }
    cls c = n->type == GUMBO_NODE_COMMENT ? C_ANCHOR : classify(n);
    if (c == C_ANCHOR || c == C_PROTECTED) {
        int k = add_item(bd, c == C_ANCHOR ? DG_HTML_ANCHOR : DG_HTML_PROTECTED, parent,
                         next_pos(bd));
        if (k < 0)
            return;
        item *it = &bd->items[k];
        it->markup = orig_string(n, &it->it.markup_len);
        it->end_tag = calloc(1, 1);
        if (!it->markup || !it->end_tag) {
            bd->oom = true;
            return;
        }
        if (c == C_PROTECTED) {
            sbuf t = {0};
            collect_text(&t, n);
            char *s = sb_take(&t);
            if (!s) {
                bd->oom = true;
                return;
            }
            size_t a = 0, z = strlen(s);
            while (a < z && s[a] == ' ')
                a++;
            while (z > a && s[z - 1] == ' ')
                z--;
            put_visible(bd, s + a, 0); /* the pending space goes before the chunk */
            bd->items[k].src_start = (int)bd->text.n;
            sb_put(&bd->text, s + a, z - a);
            bd->items[k].src_end = (int)bd->text.n;
            free(s);
        } else {
            bd->last_pos = k;
        }
        return;
    }
    /* C_INLINE */
    const GumboElement *e = &n->v.element;
    int k = add_item(bd, DG_HTML_TAG, parent, next_pos(bd));
    if (k < 0)
        return;
    sbuf st = {0}, et = {0};
    if (start_tag_written(n)) {
        write_start_tag(&st, n);
        write_end_tag(&et, n);
    }
    bd->items[k].markup = sb_take(&st);
    bd->items[k].end_tag = sb_take(&et);
    if (!bd->items[k].markup || !bd->items[k].end_tag) {
        bd->oom = true;
        return;
    }
    bd->items[k].it.markup_len = strlen(bd->items[k].markup);
    bd->items[k].it.end_tag_len = strlen(bd->items[k].end_tag);
    for (unsigned i = 0; i < e->children.length; i++)
        collect(bd, e->children.data[i], k);
    if (bd->oom)
        return;
    int end = (int)bd->text.n;
    if (end <= bd->items[k].src_start) { /* nothing visible inside: a position */
        end = bd->items[k].src_start;
        bd->last_pos = k;
    }
    bd->items[k].src_end = end;
}

static void free_items(item *it, int n)
{
    for (int i = 0; i < n; i++) {
        free(it[i].markup);
        free(it[i].end_tag);
    }
    free(it);
}

static void free_block(block *b)
{
    free(b->orig);
    free(b->text);
    free(b->lead);
    free(b->trail);
    free_items(b->items, b->n_items);
    free(b->pub);
    free(b->prot);
    free(b->set);
}

static void refresh_pub(block *b)
{
    for (int i = 0; i < b->n_items; i++) {
        item *it = &b->items[i];
        b->pub[i] = it->it;
        b->pub[i].start = it->src_start;
        b->pub[i].end = it->src_end;
        b->pub[i].markup = it->markup;
        b->pub[i].end_tag = it->end_tag;
    }
}

/* children[from..to) of a container: one run of inline content */
static void run(dg_html *h, const GumboVector *ch, unsigned from, unsigned to, bool raw)
{
    builder bd = {0};
    bd.last_pos = -1;
    sbuf orig = {0};
    for (unsigned i = from; i < to; i++) {
        write_orig(&orig, ch->data[i], raw);
        collect(&bd, ch->data[i], -1);
    }
    bool ok = !bd.oom && !orig.oom && !bd.text.oom && !bd.lead.oom && !bd.trail.oom;
    if (!ok || !bd.own_text) { /* nothing to translate: markup as it was */
        if (ok)
            literal_str(h, orig.p ? orig.p : "", orig.n);
        else
            h->oom = true;
        free(orig.p);
        free(bd.text.p);
        free(bd.lead.p);
        free(bd.trail.p);
        free_items(bd.items, bd.n);
        return;
    }
    block b = {0};
    b.orig_len = orig.n;
    b.orig = sb_take(&orig);
    b.len = bd.text.n;
    b.text = sb_take(&bd.text);
    b.lead = sb_take(&bd.lead);
    b.trail = sb_take(&bd.trail);
    b.items = bd.items;
    b.n_items = bd.n;
    if (!b.orig || !b.text || !b.lead || !b.trail) {
        free_block(&b);
        h->oom = true;
        return;
    }
    int np = 0;
    for (int i = 0; i < b.n_items; i++) {
        item *it = &b.items[i];
        if (it->src_start > (int)b.len) /* a position in trailing whitespace */
            it->src_start = (int)b.len;
        if (it->src_end > (int)b.len)
            it->src_end = (int)b.len;
        np += it->it.kind == DG_HTML_PROTECTED && it->src_end > it->src_start;
    }
    /* children lists, in document order */
    b.first_top = -1;
    for (int i = b.n_items - 1; i >= 0; i--) {
        item *it = &b.items[i];
        int *head = it->it.parent < 0 ? &b.first_top : &b.items[it->it.parent].first_child;
        it->next_sibling = *head;
        *head = i;
    }
    b.pub = calloc(b.n_items > 0 ? (size_t)b.n_items : 1, sizeof *b.pub);
    b.prot = calloc(np > 0 ? (size_t)np : 1, sizeof *b.prot);
    if (!b.pub || !b.prot) {
        free_block(&b);
        h->oom = true;
        return;
    }
    for (int i = 0; i < b.n_items; i++)
        if (b.items[i].it.kind == DG_HTML_PROTECTED && b.items[i].src_end > b.items[i].src_start)
            b.prot[b.n_prot++] = (dg_html_range){b.items[i].src_start, b.items[i].src_end};
    refresh_pub(&b);
    if (h->n_blocks == h->cap_blocks) {
        int cap = h->cap_blocks ? 2 * h->cap_blocks : 8;
        block *p = realloc(h->blocks, (size_t)cap * sizeof *p);
        if (!p) {
            free_block(&b);
            h->oom = true;
            return;
        }
        h->blocks = p;
        h->cap_blocks = cap;
    }
    h->blocks[h->n_blocks] = b;
    add_piece(h, h->n_blocks++, 0, 0);
}

static void container(dg_html *h, const GumboNode *n);

static void structural(dg_html *h, const GumboNode *n)
{
    if (!is_elem(n) || classify(n) == C_UNTOUCHED_BLOCK) {
        literal_node(h, n);
        return;
    }
    bool tags = start_tag_written(n);
    if (tags) {
        size_t off = h->skel.n;
        write_start_tag(&h->skel, n);
        add_piece(h, -1, off, h->skel.n - off);
    }
    container(h, n);
    if (tags) {
        size_t off = h->skel.n;
        write_end_tag(&h->skel, n);
        add_piece(h, -1, off, h->skel.n - off);
    }
}

/* an element's children, cut into runs of inline content and block-level elements */
static void container(dg_html *h, const GumboNode *n)
{
    const GumboVector *ch = &n->v.element.children;
    bool raw = TAG_IN(n->v.element.tag, raw_tags);
    unsigned i = 0;
    while (i < ch->length && !h->oom) {
        if (!run_member(ch->data[i])) {
            structural(h, ch->data[i]);
            i++;
            continue;
        }
        unsigned j = i;
        while (j < ch->length && run_member(ch->data[j]))
            j++;
        run(h, ch, i, j, raw);
        i = j;
    }
}

/* Deepest element nesting, without recursion (the depth is what is being checked). */
static int tree_depth(const GumboNode *root)
{
    int depth = 0, best = 0;
    const GumboNode *n = root;
    for (;;) {
        const GumboVector *c = is_elem(n) ? &n->v.element.children
                               : n->type == GUMBO_NODE_DOCUMENT ? &n->v.document.children
                                                                 : NULL;
        if (c && c->length) {
            n = c->data[0];
            if (++depth > best)
                best = depth;
            continue;
        }
        while (n != root) {
            const GumboNode *p = n->parent;
            const GumboVector *pc = is_elem(p) ? &p->v.element.children : &p->v.document.children;
            if (n->index_within_parent + 1 < pc->length) {
                n = pc->data[n->index_within_parent + 1];
                break;
            }
            n = p;
            depth--;
        }
        if (n == root)
            return best;
    }
}

/* A whole document: it starts, after whitespace and comments, with <!DOCTYPE or <html. */
static bool is_document(const char *s, size_t n, size_t *doctype_at)
{
    size_t i = 0;
    if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        i = 3;
    for (;;) {
        while (i < n && ascii_space((unsigned char)s[i]))
            i++;
        if (n - i >= 4 && !memcmp(s + i, "<!--", 4)) {
            const char *e = memmem(s + i + 4, n - i - 4, "-->", 3);
            if (!e)
                return false;
            i = (size_t)(e - s) + 3;
            continue;
        }
        break;
    }
    *doctype_at = i;
    if (n - i >= 9 && !strncasecmp(s + i, "<!doctype", 9))
        return true;
    return n - i >= 6 && !strncasecmp(s + i, "<html", 5) &&
           (ascii_space((unsigned char)s[i + 5]) || s[i + 5] == '>' || s[i + 5] == '/');
}

dg_code dg_html_parse(const char *src, size_t len, dg_html **out, dg_err *err)
{
    *out = NULL;
    if (len > MAX_INPUT)
        return dg_err_set(err, DG_E_INPUT, "HTML is %zu bytes, more than the %u allowed", len,
                          MAX_INPUT);
    size_t bad;
    if (!dg_utf8_valid(src, len, &bad))
        return dg_err_set(err, DG_E_INPUT, "HTML is not valid UTF-8 (byte offset %zu)", bad);
    const char *nul = memchr(src, 0, len);
    if (nul)
        return dg_err_set(err, DG_E_INPUT, "HTML holds a NUL byte (byte offset %zu)",
                          (size_t)(nul - src));
    size_t dt = 0;
    bool doc = is_document(src, len, &dt);
    GumboOptions opt = kGumboDefaultOptions;
    opt.max_errors = 0; /* errors are not reported: do not collect them */
    if (!doc)
        opt.fragment_context = GUMBO_TAG_BODY;
    GumboOutput *g = gumbo_parse_with_options(&opt, src, len);
    if (!g)
        return dg_err_set(err, DG_E_NOMEM, "out of memory parsing HTML");
    if (tree_depth(g->document) > MAX_DEPTH) {
        gumbo_destroy_output(&opt, g);
        return dg_err_set(err, DG_E_INPUT, "HTML elements are nested more than %d deep",
                          MAX_DEPTH);
    }
    dg_html *h = calloc(1, sizeof *h);
    if (!h) {
        gumbo_destroy_output(&opt, g);
        return dg_err_set(err, DG_E_NOMEM, "out of memory parsing HTML");
    }
    if (doc) {
        const GumboDocument *d = &g->document->v.document;
        if (d->has_doctype && len - dt >= 9 && !strncasecmp(src + dt, "<!doctype", 9)) {
            const char *e = memchr(src + dt, '>', len - dt);
            size_t end = e ? (size_t)(e - src) + 1 : len;
            literal_str(h, src + dt, end - dt);
        }
        for (unsigned i = 0; i < d->children.length; i++) {
            const GumboNode *c = d->children.data[i];
            if (is_elem(c))
                structural(h, c);
            else
                literal_node(h, c);
        }
    } else {
        /* the fragment's nodes are the children of the implied <html> */
        container(h, g->root);
    }
    gumbo_destroy_output(&opt, g);
    if (h->oom || h->skel.oom) {
        dg_html_free(h);
        return dg_err_set(err, DG_E_NOMEM, "out of memory parsing HTML");
    }
    *out = h;
    return DG_OK;
}

void dg_html_free(dg_html *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n_blocks; i++)
        free_block(&h->blocks[i]);
    free(h->blocks);
    free(h->pieces);
    free(h->skel.p);
    free(h);
}

int dg_html_block_count(const dg_html *h)
{
    return h->n_blocks;
}

const char *dg_html_block_text(const dg_html *h, int i, size_t *len)
{
    if (i < 0 || i >= h->n_blocks) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = h->blocks[i].len;
    return h->blocks[i].text;
}

const dg_html_item *dg_html_block_items(const dg_html *h, int i, int *n)
{
    if (i < 0 || i >= h->n_blocks) {
        *n = 0;
        return NULL;
    }
    *n = h->blocks[i].n_items;
    return h->blocks[i].pub;
}

const dg_html_range *dg_html_block_protected(const dg_html *h, int i, int *n)
{
    if (i < 0 || i >= h->n_blocks) {
        *n = 0;
        return NULL;
    }
    *n = h->blocks[i].n_prot;
    return h->blocks[i].prot;
}

/* ---- placing items in a translation ---- */

typedef struct {
    int s, e;       /* target range */
    bool valid;     /* from the alignment (or a found protected text), not a fallback */
    int skip_s, skip_e; /* PROTECTED found: its text in the translation, replaced by it */
} place;

/* Start of the UTF-8 character holding byte i of s[0..n). */
static int char_start(const char *s, int n, int i)
{
    if (i >= n)
        return n;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* The target position for a source position s with no span of its own: before the target of
 * the word that starts at s, else after the target of the word that ends at s (an item
 * between two spaces is glued to neither), else after the target of the word before s (and
 * the space after it when s had whitespace before it), else before the target of the word
 * after s. */
static int anchor_pos(int s, bool ws_before, bool ws_after, int src_len, const char *tgt,
                      int tgt_len, const dg_word_pair *p, int n)
{
    if (s <= 0)
        return 0;
    if (s >= src_len)
        return tgt_len;
    int pos = -1;
    for (int k = 0; k < n && !(ws_before && ws_after); k++)
        if (p[k].src_start == s && p[k].src_end > s && (pos < 0 || p[k].tgt_start < pos))
            pos = p[k].tgt_start;
    if (pos >= 0)
        return pos;
    for (int k = 0; k < n && !(ws_before && ws_after); k++)
        if (p[k].src_end == s && p[k].src_start < s && p[k].tgt_end > pos)
            pos = p[k].tgt_end;
    if (pos >= 0)
        return pos;
    int best = -1;
    for (int k = 0; k < n; k++)
        if (p[k].src_end < s && (p[k].src_end > best || (p[k].src_end == best && p[k].tgt_end > pos))) {
            best = p[k].src_end;
            pos = p[k].tgt_end;
        }
    if (pos >= 0)
        return pos + (ws_before && pos < tgt_len && ascii_space((unsigned char)tgt[pos]));
    best = INT32_MAX;
    for (int k = 0; k < n; k++)
        if (p[k].src_start > s && (p[k].src_start < best || (p[k].src_start == best && p[k].tgt_start < pos))) {
            best = p[k].src_start;
            pos = p[k].tgt_start;
        }
    if (pos >= 0)
        return pos;
    return (int)((long long)s * tgt_len / src_len); /* no alignment: proportional */
}

/* A TAG's target span: its source words' aligned words; a tag boundary inside a word that
 * came through unchanged keeps its place in it. */
static bool tag_span(const char *src, const char *tgt, int a, int z, const dg_word_pair *p,
                     int n, int *s, int *e)
{
    int lo = INT32_MAX, hi = -1, lo_k = -1, hi_k = -1;
    for (int k = 0; k < n; k++) {
        if (p[k].src_start >= z || p[k].src_end <= a || p[k].src_end <= p[k].src_start)
            continue;
        if (p[k].tgt_start < lo)
            lo = p[k].tgt_start, lo_k = k;
        if (p[k].tgt_end > hi)
            hi = p[k].tgt_end, hi_k = k;
    }
    if (hi < 0)
        return false;
    const dg_word_pair *w = &p[lo_k];
    int wl = w->src_end - w->src_start;
    if (a > w->src_start && a < w->src_end && w->tgt_end - w->tgt_start == wl &&
        !memcmp(src + w->src_start, tgt + w->tgt_start, (size_t)wl))
        lo += a - w->src_start;
    w = &p[hi_k];
    wl = w->src_end - w->src_start;
    if (z > w->src_start && z < w->src_end && w->tgt_end - w->tgt_start == wl &&
        !memcmp(src + w->src_start, tgt + w->tgt_start, (size_t)wl))
        hi = w->tgt_start + (z - w->src_start);
    if (hi < lo)
        hi = lo;
    *s = lo;
    *e = hi;
    return true;
}

typedef struct {
    int s, e, i;
} span_key;

/* by target span, then source order */
static int cmp_key(const void *x, const void *y)
{
    const span_key *a = x, *b = y;
    if (a->s != b->s)
        return a->s < b->s ? -1 : 1;
    if (a->e != b->e)
        return a->e < b->e ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int cmp_range(const void *x, const void *y)
{
    const dg_html_range *a = x, *b = y;
    return (a->start > b->start) - (a->start < b->start);
}

static void clamp_into(const block *b, place *pl, int i, int lo, int hi)
{
    place *q = &pl[i];
    if (b->items[i].it.kind != DG_HTML_TAG && q->e > q->s && (q->s < lo || q->e > hi)) {
        q->e = q->s; /* a protected element that cannot stay where its text was: a position */
    }
    if (q->s < lo)
        q->s = lo;
    if (q->s > hi)
        q->s = hi;
    if (q->e > hi)
        q->e = hi;
    if (q->e < q->s)
        q->e = q->s;
}

/* Text tgt[x..y) escaped, without the protected texts that their elements replace (skip[],
 * ascending and disjoint). */
static void emit_text(sbuf *o, const char *tgt, int x, int y, const dg_html_range *skip, int ns)
{
    for (int k = 0; k < ns && x < y; k++) {
        if (skip[k].end <= x)
            continue;
        if (skip[k].start >= y)
            break;
        if (skip[k].start > x)
            sb_escape(o, tgt + x, (size_t)(skip[k].start - x), false);
        x = skip[k].end;
    }
    if (x < y)
        sb_escape(o, tgt + x, (size_t)(y - x), false);
}

/* Renders the items from `first` on (one parent's children) inside [lo, hi) of the translation.
 * kids: room for every item (each level takes its children's share). */
static void emit(sbuf *o, const block *b, place *pl, span_key *kids, int first, int lo, int hi,
                 const char *tgt, int m, const dg_html_range *skip, int ns)
{
    int nk = 0;
    for (int i = first; i >= 0; i = b->items[i].next_sibling) {
        clamp_into(b, pl, i, lo, hi);
        kids[nk] = (span_key){pl[i].s, pl[i].e, i};
        nk++;
    }
    qsort(kids, (size_t)nk, sizeof *kids, cmp_key);
    int prev_end = lo;
    for (int k = 0; k < nk; k++) { /* siblings must not overlap */
        place *q = &pl[kids[k].i];
        if (q->s < prev_end) {
            if (b->items[kids[k].i].it.kind != DG_HTML_TAG)
                q->e = q->s;
            q->s = prev_end;
            if (q->e < q->s)
                q->e = q->s;
        }
        prev_end = q->e;
    }
    int cur = lo;
    for (int k = 0; k < nk; k++) {
        const item *it = &b->items[kids[k].i];
        const place *q = &pl[kids[k].i];
        emit_text(o, tgt, cur, q->s, skip, ns);
        sb_put(o, it->markup, it->it.markup_len);
        if (it->it.kind == DG_HTML_TAG) {
            emit(o, b, pl, kids + nk, it->first_child, q->s, q->e, tgt, m, skip, ns);
            sb_put(o, it->end_tag, it->it.end_tag_len);
        }
        /* a position item between two words in the source, placed right after a space:
         * keep a space on its other side too */
        if (q->e == q->s && it->ws_before && it->ws_after && q->s > 0 &&
            ascii_space((unsigned char)tgt[q->s - 1]) && q->s < m &&
            !ascii_space((unsigned char)tgt[q->s]))
            sb_str(o, " ");
        cur = q->e > cur ? q->e : cur;
    }
    emit_text(o, tgt, cur, hi, skip, ns);
}

dg_code dg_html_block_set(dg_html *h, int bi, const char *tgt, size_t len,
                          const dg_word_pair *p, int n, dg_err *err)
{
    if (bi < 0 || bi >= h->n_blocks)
        return dg_err_set(err, DG_E_INPUT, "HTML block %d does not exist (%d blocks)", bi,
                          h->n_blocks);
    if (len > MAX_INPUT)
        return dg_err_set(err, DG_E_INPUT, "translation of block %d is %zu bytes, too long", bi,
                          len);
    size_t bad;
    if (!dg_utf8_valid(tgt, len, &bad))
        return dg_err_set(err, DG_E_INPUT,
                          "translation of block %d is not valid UTF-8 (byte offset %zu)", bi, bad);
    const char *nul = memchr(tgt, 0, len);
    if (nul)
        return dg_err_set(err, DG_E_INPUT, "translation of block %d holds a NUL byte (offset %zu)",
                          bi, (size_t)(nul - tgt));
    if (n < 0 || (n > 0 && !p))
        return dg_err_set(err, DG_E_INPUT, "bad alignment for block %d: %d pairs", bi, n);
    block *b = &h->blocks[bi];
    int m = (int)len, sl = (int)b->len;
    for (int k = 0; k < n; k++)
        if (p[k].src_start < 0 || p[k].src_start > p[k].src_end || p[k].src_end > sl ||
            p[k].tgt_start < 0 || p[k].tgt_start > p[k].tgt_end || p[k].tgt_end > m)
            return dg_err_set(err, DG_E_INPUT,
                              "alignment pair %d of block %d (%d-%d -> %d-%d) is outside the "
                              "source (%d bytes) or the translation (%d bytes)",
                              k, bi, p[k].src_start, p[k].src_end, p[k].tgt_start, p[k].tgt_end,
                              sl, m);
    place *pl = calloc((size_t)(b->n_items ? b->n_items : 1), sizeof *pl);
    span_key *kids = calloc(b->n_items > 0 ? (size_t)b->n_items : 1, sizeof *kids);
    dg_html_range *skip = calloc(b->n_items > 0 ? (size_t)b->n_items : 1, sizeof *skip);
    if (!pl || !kids || !skip) {
        free(pl);
        free(kids);
        free(skip);
        return dg_err_set(err, DG_E_NOMEM, "out of memory placing HTML tags");
    }
    /* protected elements: their text, found in the translation, in source order; of several
     * places, the one nearest to where the alignment puts the element */
    for (int i = 0; i < b->n_items; i++) {
        const item *it = &b->items[i];
        int tl = it->src_end - it->src_start, want = -1, dummy, best = -1;
        if (it->it.kind != DG_HTML_PROTECTED || tl <= 0)
            continue;
        tag_span(b->text, tgt, it->src_start, it->src_end, p, n, &want, &dummy);
        for (int x = 0; x + tl <= m; x++) {
            if (memcmp(tgt + x, b->text + it->src_start, (size_t)tl))
                continue;
            bool taken = false;
            for (int j = 0; j < i && !taken; j++)
                taken = pl[j].skip_e > pl[j].skip_s && x < pl[j].skip_e && x + tl > pl[j].skip_s;
            if (taken)
                continue;
            if (best < 0 || (want >= 0 && abs(x - want) < abs(best - want)))
                best = x;
            if (want < 0 || x >= want)
                break; /* later places are only farther */
        }
        if (best >= 0)
            pl[i] = (place){best, best + tl, true, best, best + tl};
    }
    for (int i = 0; i < b->n_items; i++) {
        const item *it = &b->items[i];
        if (it->it.kind == DG_HTML_TAG && it->src_end > it->src_start &&
            tag_span(b->text, tgt, it->src_start, it->src_end, p, n, &pl[i].s, &pl[i].e)) {
            pl[i].valid = true;
            pl[i].s = char_start(tgt, m, pl[i].s);
            pl[i].e = char_start(tgt, m, pl[i].e);
        }
    }
    /* a tag also spans what its children were placed on (children come after their parent) */
    for (int i = b->n_items - 1; i >= 0; i--) {
        int par = b->items[i].it.parent;
        if (par < 0 || !pl[i].valid || pl[i].e <= pl[i].s)
            continue;
        place *q = &pl[par];
        if (!q->valid) {
            *q = (place){pl[i].s, pl[i].e, true, 0, 0};
        } else {
            q->s = pl[i].s < q->s ? pl[i].s : q->s;
            q->e = pl[i].e > q->e ? pl[i].e : q->e;
        }
    }
    for (int i = 0; i < b->n_items; i++)
        if (!pl[i].valid) {
            int a = char_start(tgt, m, anchor_pos(b->items[i].src_start, b->items[i].ws_before,
                                                  b->items[i].ws_after, sl, tgt, m, p, n));
            pl[i].s = pl[i].e = a;
        }
    int ns = 0;
    for (int i = 0; i < b->n_items; i++)
        if (pl[i].skip_e > pl[i].skip_s)
            skip[ns++] = (dg_html_range){pl[i].skip_s, pl[i].skip_e};
    qsort(skip, (size_t)ns, sizeof *skip, cmp_range);
    sbuf o = {0};
    sb_put(&o, b->lead, strlen(b->lead));
    emit(&o, b, pl, kids, b->first_top, 0, m, tgt, m, skip, ns);
    sb_put(&o, b->trail, strlen(b->trail));
    free(pl);
    free(kids);
    free(skip);
    char *s = sb_take(&o);
    if (!s)
        return dg_err_set(err, DG_E_NOMEM, "out of memory placing HTML tags");
    free(b->set);
    b->set = s;
    b->set_len = o.n;
    return DG_OK;
}

dg_code dg_html_render(const dg_html *h, char **out, size_t *len, dg_err *err)
{
    sbuf o = {0};
    for (int i = 0; i < h->n_pieces; i++) {
        const piece *pc = &h->pieces[i];
        if (pc->block < 0) {
            sb_put(&o, h->skel.p + pc->off, pc->len);
        } else {
            const block *b = &h->blocks[pc->block];
            if (b->set)
                sb_put(&o, b->set, b->set_len);
            else
                sb_put(&o, b->orig, b->orig_len);
        }
    }
    char *s = sb_take(&o);
    if (!s)
        return dg_err_set(err, DG_E_NOMEM, "out of memory rendering HTML");
    *out = s;
    *len = o.n;
    return DG_OK;
}
