/* text/html.c: a hand-written table of HTML inputs, each with the blocks a browser would show
 * and the markup that must come through byte-identical. For each input:
 *   - rendered unchanged, it comes back as written (or as the parser's repair, given);
 *   - every block set to its own text with an identity alignment renders to the given page;
 *   - every block set to its words reversed (protected texts kept whole) with the matching
 *     alignment: the output re-read by gumbo holds the same start tags (attributes verbatim),
 *     is a fixed point of parse + render (well-formed: nothing for the parser to repair), each
 *     tag wraps exactly the target words of the source words it wrapped, under the same parent,
 *     and the untouched markup is there byte for byte;
 *   - crossing reorders and missing alignments: still every tag exactly once, well-formed.
 * Plus hand-made translations (German) with explicit alignments and the input errors. */
#include <gumbo.h>

#include "tests/test.h"
#include "text/html.h"

typedef struct {
    const char *html;
    const char *unset; /* render with no block set; NULL: html itself */
    const char *ident; /* render after the identity translation; NULL: as unset */
    const char *texts; /* the block texts, '|' between them */
    const char *keep;  /* markup that must come out byte-identical, '|' between them */
} html_case;

static const html_case cases[] = {
    {"Click <b>here</b>", NULL, NULL, "Click here", NULL},
    {"<p>Hello <b>bold <i>and italic</i></b> world.</p>", NULL, NULL,
     "Hello bold and italic world.", NULL},
    {"<p>See <a href=\"https://example.com/a?b=1&amp;c=2\" title='Example \"site\"'>the docs</a>"
     " first.</p>",
     NULL, NULL, "See the docs first.", NULL},
    {"<p>Tom &amp; Jerry &lt;3 &copy; 2024</p>", NULL, "<p>Tom &amp; Jerry &lt;3 \xC2\xA9 2024</p>",
     "Tom & Jerry <3 \xC2\xA9 2024", NULL},
    {"<p>Price:&nbsp;5&nbsp;EUR</p>", NULL, NULL, "Price:\xC2\xA0" "5\xC2\xA0" "EUR", NULL},
    {"<p>Run <code>make install</code> now.</p>", NULL, NULL, "Run make install now.",
     "<code>make install</code>"},
    {"<pre>  keep   this\n  <b>as is</b></pre><p>Text</p>", NULL, NULL, "Text",
     "<pre>  keep   this\n  <b>as is</b></pre>"},
    {"<p>Before<script>var a = \"<b>x</b>\";</script> after</p>", NULL, NULL, "Before after",
     "<script>var a = \"<b>x</b>\";</script>"},
    {"<style>p { color: red; }</style><p>Styled</p>", NULL, NULL, "Styled",
     "<style>p { color: red; }</style>"},
    {"<p>Keep <span translate=\"no\">Dragoman   Server</span> running.</p>", NULL, NULL,
     "Keep Dragoman Server running.", "<span translate=\"no\">Dragoman   Server</span>"},
    {"<p class=\"x\">Use <em class=\"big notranslate\">git rebase</em> carefully</p>", NULL, NULL,
     "Use git rebase carefully", "<em class=\"big notranslate\">git rebase</em>"},
    {"<div translate=\"no\"><p>Not this</p></div><p>But this</p>", NULL, NULL, "But this",
     "<div translate=\"no\"><p>Not this</p></div>"},
    {"<p>One <!-- a comment --> two</p>", NULL, NULL, "One two", "<!-- a comment -->"},
    {"<p>Line one<br>Line two</p>", NULL, NULL, "Line one|Line two", "<br>"},
    {"<p>An image <img src=\"a.png\" alt=\"A &quot;pic&quot;\"> here.</p>", NULL, NULL,
     "An image here.", "<img src=\"a.png\" alt=\"A &quot;pic&quot;\">"},
    {"<ul>\n  <li>First item</li>\n  <li>Second <b>item</b></li>\n</ul>", NULL, NULL,
     "First item|Second item", NULL},
    {"<table><caption>Prices</caption><tr><th>Item</th><th>Cost</th></tr>"
     "<tr><td>Tea</td><td><b>3</b> euros</td></tr></table>",
     NULL, NULL, "Prices|Item|Cost|Tea|3 euros", NULL},
    {"<p>Quotes: <a href='single' data-x=\"a&quot;b\" data-y=bare>link</a></p>", NULL, NULL,
     "Quotes: link", NULL},
    {"<p>Unclosed <b>bold", "<p>Unclosed <b>bold</b></p>", NULL, "Unclosed bold", NULL},
    {"Stray </b>end tag here", "Stray end tag here", NULL, "Stray end tag here", NULL},
    {"<p>a<p>b", "<p>a</p><p>b</p>", NULL, "a|b", NULL},
    {"<b><i>x</b>y</i>", "<b><i>x</i></b><i>y</i>", NULL, "xy", NULL},
    {"<p>\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAE<b>\xE5\xA4\xA9\xE6\xB0\x97</b>"
     "\xE3\x81\xAF\xE6\x99\xB4\xE3\x82\x8C\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82</p>",
     NULL, NULL,
     "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAE\xE5\xA4\xA9\xE6\xB0\x97\xE3\x81\xAF\xE6\x99\xB4\xE3"
     "\x82\x8C\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82",
     NULL},
    {"<p dir=\"rtl\">\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 <b>\xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9"
     "\xD8\xA7\xD9\x84\xD9\x85</b> \xD8\xA7\xD9\x84\xD8\xAC\xD9\x85\xD9\x8A\xD9\x84</p>",
     NULL, NULL,
     "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9\xD8\xA7\xD9\x84"
     "\xD9\x85 \xD8\xA7\xD9\x84\xD8\xAC\xD9\x85\xD9\x8A\xD9\x84",
     NULL},
    {"<p>Saved \xF0\x9F\x8E\x89 <strong>successfully</strong> \xF0\x9F\x91\x8D</p>", NULL, NULL,
     "Saved \xF0\x9F\x8E\x89 successfully \xF0\x9F\x91\x8D", NULL},
    {"<h1>Title <small>sub</small></h1><h2>Second</h2>", NULL, NULL, "Title sub|Second", NULL},
    {"<dl><dt>Term</dt><dd>Definition <abbr title=\"HyperText\">HTML</abbr></dd></dl>", NULL,
     NULL, "Term|Definition HTML", NULL},
    {"<blockquote><p>Quoted <q>text</q></p><footer>\xE2\x80\x94 Author</footer></blockquote>",
     NULL, NULL, "Quoted text|\xE2\x80\x94 Author", NULL},
    {"<figure><img src=\"x.png\"><figcaption>A <em>nice</em> figure</figcaption></figure>", NULL,
     NULL, "A nice figure", "<img src=\"x.png\">"},
    {"<form><label for=\"n\">Your name</label><input id=\"n\"><button type=\"submit\">Send "
     "<b>now</b></button><select><option value=\"1\">One</option><option>Two</option></select>"
     "</form>",
     NULL, NULL, "Your name|Send now|One|Two", "<input id=\"n\">"},
    {"<textarea name=\"t\">Do <b>not</b> touch</textarea><p>ok</p>", NULL, NULL, "ok",
     "<textarea name=\"t\">Do <b>not</b> touch</textarea>"},
    {"<p>Visit <a href=\"/x\"><b>bold link</b></a> and <a href=\"/y\">plain</a>.</p>", NULL, NULL,
     "Visit bold link and plain.", NULL},
    {"<p>\n   Indented\n   text   with   spaces\n</p>", NULL,
     "<p>\n   Indented text with spaces\n</p>", "Indented text with spaces", NULL},
    {"<!DOCTYPE html>\n<html lang=\"en\"><head><title>Page &amp; title</title></head>"
     "<body><p>Hello</p></body></html>",
     "<!DOCTYPE html><html lang=\"en\"><head><title>Page &amp; title</title></head>"
     "<body><p>Hello</p></body></html>",
     NULL, "Page & title|Hello", "<!DOCTYPE html>"},
    {"<p>Press <kbd>Ctrl</kbd>+<kbd>C</kbd> to copy</p>", NULL, NULL, "Press Ctrl+C to copy",
     "<kbd>Ctrl</kbd>|<kbd>C</kbd>"},
    {"<p><b>Run <code>ls -la</code></b> daily</p>", NULL, NULL, "Run ls -la daily",
     "<code>ls -la</code>"},
    {"<p>Empty <a id=\"top\"></a>anchor and <span class=\"icon\"></span> icon</p>", NULL, NULL,
     "Empty anchor and icon", NULL},
    {"<p><b class=x>unquoted</b> and <i>upper</I></p>", NULL, NULL, "unquoted and upper", NULL},
    {"<P CLASS=\"Up\">Upper <B>case</B></P>", NULL, NULL, "Upper case", NULL},
    {"<p>x &lt;b&gt;not a tag&lt;/b&gt; y</p>", NULL, NULL, "x <b>not a tag</b> y", NULL},
    {"<p>Numeric &#169; &#x263A; refs</p>", NULL, "<p>Numeric \xC2\xA9 \xE2\x98\xBA refs</p>",
     "Numeric \xC2\xA9 \xE2\x98\xBA refs", NULL},
    {"Intro text<div>Inner</div>Outro", NULL, NULL, "Intro text|Inner|Outro", NULL},
    {"<p>A<sup>2</sup> + B<sub>i</sub></p>", NULL, NULL, "A2 + Bi", NULL},
    {"<a href=\"/x\">Link <span>with <b>deep <i>nesting <u>here</u></i></b></span></a>", NULL,
     NULL, "Link with deep nesting here", NULL},
    {"<p>Go <a href=\"#\">here</a>, then <em>there</em>!</p>", NULL, NULL,
     "Go here, then there!", NULL},
    {"<div><b>Bold <p>inner</p> tail</b></div>", NULL, NULL, "Bold|inner|tail", NULL},
    {"<p>Set <code>x</code> to x, not <var>x</var>.</p>", NULL, NULL, "Set x to x, not x.",
     "<code>x</code>|<var>x</var>"},
};
#define N_CASES ((int)(sizeof cases / sizeof *cases))

/* ---- helpers ---- */

static char *render(const dg_html *h)
{
    char *out = NULL;
    size_t len = 0;
    dg_err err;
    if (dg_html_render(h, &out, &len, &err) != DG_OK) {
        fprintf(stderr, "render: %s\n", err.msg);
        return NULL;
    }
    CHECK(strlen(out) == len);
    return out;
}

static dg_html *parse(const char *s)
{
    dg_html *h = NULL;
    dg_err err;
    if (dg_html_parse(s, strlen(s), &h, &err) != DG_OK) {
        fprintf(stderr, "parse: %s\n", err.msg);
        return NULL;
    }
    return h;
}

/* Words of a block text (runs between spaces), a protected range kept in one word. */
typedef struct {
    int s, e;
} span;

static int words(const dg_html *h, int b, span *w, int cap)
{
    size_t len;
    const char *t = dg_html_block_text(h, b, &len);
    int np, n = 0;
    const dg_html_range *pr = dg_html_block_protected(h, b, &np);
    int i = 0;
    while (i < (int)len && n < cap) {
        while (i < (int)len && t[i] == ' ')
            i++;
        if (i >= (int)len)
            break;
        int j = i;
        for (;;) {
            while (j < (int)len && t[j] != ' ')
                j++;
            bool inside = false;
            for (int k = 0; k < np; k++)
                inside |= j > pr[k].start && j < pr[k].end;
            if (!inside)
                break;
            j++;
        }
        w[n++] = (span){i, j};
        i = j;
    }
    return n;
}

/* Translation of block b: its words in order perm[], one space between; pairs[k] aligns source
 * word perm[k] to its place, unless keep is not NULL and keep[perm[k]] is false. */
static char *translate(const dg_html *h, int b, const span *w, const int *perm, int n,
                       const bool *keep, dg_word_pair *pairs, int *np, span *tw)
{
    const char *t = dg_html_block_text(h, b, NULL);
    char *out = malloc(strlen(t) + 2);
    size_t o = 0;
    *np = 0;
    for (int k = 0; k < n; k++) {
        const span *s = &w[perm[k]];
        if (k)
            out[o++] = ' ';
        tw[perm[k]] = (span){(int)o, (int)o + (s->e - s->s)};
        if (!keep || keep[perm[k]])
            pairs[(*np)++] = (dg_word_pair){s->s, s->e, (int)o, (int)o + (s->e - s->s)};
        memcpy(out + o, t + s->s, (size_t)(s->e - s->s));
        o += (size_t)(s->e - s->s);
    }
    out[o] = 0;
    return out;
}

/* Start tags of the elements gumbo reads from s, sorted, joined by '\n'. */
static void collect_tags(const GumboNode *n, char **list, int *k, int cap)
{
    const GumboVector *c = NULL;
    if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE) {
        const GumboStringPiece *t = &n->v.element.original_tag;
        if (t->length > 1 && t->data[1] != '/' && *k < cap)
            list[(*k)++] = strndup(t->data, t->length);
        c = &n->v.element.children;
    } else if (n->type == GUMBO_NODE_DOCUMENT) {
        c = &n->v.document.children;
    }
    for (unsigned i = 0; c && i < c->length; i++)
        collect_tags(c->data[i], list, k, cap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *tag_multiset(const char *s)
{
    GumboOptions opt = kGumboDefaultOptions;
    opt.fragment_context = strncasecmp(s, "<!doctype", 9) ? GUMBO_TAG_BODY : GUMBO_TAG_LAST;
    GumboOutput *g = gumbo_parse_with_options(&opt, s, strlen(s));
    char *list[512];
    int n = 0;
    collect_tags(g->document, list, &n, 512);
    qsort(list, (size_t)n, sizeof *list, cmp_str);
    size_t tot = 1;
    for (int i = 0; i < n; i++)
        tot += strlen(list[i]) + 1;
    char *out = calloc(1, tot);
    for (int i = 0; i < n; i++) {
        strcat(out, list[i]);
        strcat(out, "\n");
        free(list[i]);
    }
    gumbo_destroy_output(&opt, g);
    return out;
}

static bool contains_each(const char *hay, const char *list)
{
    if (!list)
        return true;
    char *dup = strdup(list), *save = NULL;
    bool ok = true;
    for (char *p = strtok_r(dup, "|", &save); p; p = strtok_r(NULL, "|", &save))
        if (!strstr(hay, p)) {
            fprintf(stderr, "  missing byte-identical: %s\n", p);
            ok = false;
        }
    free(dup);
    return ok;
}

/* Parse + render of out gives out: nothing for the parser to repair. */
static bool fixed_point(const char *out)
{
    dg_html *h = parse(out);
    if (!h)
        return false;
    char *again = render(h);
    bool ok = again && !strcmp(again, out);
    if (!ok)
        fprintf(stderr, "  not a fixed point:\n    %s\n    %s\n", out, again ? again : "(null)");
    free(again);
    dg_html_free(h);
    return ok;
}

/* "kind|markup|parent markup|start|covered text" of every item, sorted, joined by '\n'. cover[i],
 * when not NULL, replaces item i's range (for the expectation). */
static char *item_keys(const dg_html *h, int b, const char *text, const span *cover)
{
    int n;
    const dg_html_item *it = dg_html_block_items(h, b, &n);
    char **keys = calloc((size_t)n + 1, sizeof *keys);
    size_t tot = 1;
    for (int i = 0; i < n; i++) {
        int s = cover ? cover[i].s : it[i].start, e = cover ? cover[i].e : it[i].end;
        if (it[i].kind == DG_HTML_ANCHOR || e == s)
            s = e = 0; /* a position: where it lands is checked by the hand-made cases */
        const char *par = it[i].parent >= 0 ? it[it[i].parent].markup : "-";
        size_t l = it[i].markup_len + strlen(par) + (size_t)(e - s) + 32;
        keys[i] = malloc(l);
        snprintf(keys[i], l, "%d|%s|%s|%d|%.*s", it[i].kind, it[i].markup, par, s, e - s,
                 text + s);
        tot += strlen(keys[i]) + 1;
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_str);
    char *out = calloc(1, tot);
    for (int i = 0; i < n; i++) {
        strcat(out, keys[i]);
        strcat(out, "\n");
        free(keys[i]);
    }
    free(keys);
    return out;
}

/* ---- the table ---- */

#define MAXW 256

static void check_case(int ci)
{
    const html_case *c = &cases[ci];
    dg_html *h = parse(c->html);
    CHECK_MSG(h != NULL, "case %d parses", ci);
    if (!h)
        return;
    /* blocks */
    char texts[4096] = "";
    for (int b = 0; b < dg_html_block_count(h); b++) {
        if (b)
            strcat(texts, "|");
        strcat(texts, dg_html_block_text(h, b, NULL));
    }
    CHECK_MSG(!strcmp(texts, c->texts), "case %d blocks [%s], want [%s]", ci, texts, c->texts);
    /* unchanged */
    const char *unset = c->unset ? c->unset : c->html;
    char *out = render(h);
    CHECK_MSG(out && !strcmp(out, unset), "case %d unset render\n  got  %s\n  want %s", ci,
              out ? out : "(null)", unset);
    char *base_tags = tag_multiset(out ? out : "");
    free(out);
    /* identity */
    const char *ident = c->ident ? c->ident : unset;
    int nb = dg_html_block_count(h);
    span w[MAXW], tw[MAXW];
    int perm[MAXW];
    dg_word_pair pairs[MAXW];
    for (int b = 0; b < nb; b++) {
        int n = words(h, b, w, MAXW), np;
        for (int k = 0; k < n; k++)
            perm[k] = k;
        char *t = translate(h, b, w, perm, n, NULL, pairs, &np, tw);
        dg_err err;
        CHECK(dg_html_block_set(h, b, t, strlen(t), pairs, np, &err) == DG_OK);
        free(t);
    }
    out = render(h);
    CHECK_MSG(out && !strcmp(out, ident), "case %d identity\n  got  %s\n  want %s", ci,
              out ? out : "(null)", ident);
    free(out);
    /* reversed words */
    char **want_keys = calloc((size_t)nb + 1, sizeof *want_keys);
    char **tr = calloc((size_t)nb + 1, sizeof *tr);
    for (int b = 0; b < nb; b++) {
        int n = words(h, b, w, MAXW), np;
        for (int k = 0; k < n; k++)
            perm[k] = n - 1 - k;
        tr[b] = translate(h, b, w, perm, n, NULL, pairs, &np, tw);
        /* expected: each item over the target words of its source words; a boundary inside a
         * word stays inside it (the words are unchanged) */
        int ni;
        const dg_html_item *it = dg_html_block_items(h, b, &ni);
        span cover[MAXW];
        for (int i = 0; i < ni && i < MAXW; i++) {
            int lo = -1, hi = -1, lo_w = -1, hi_w = -1;
            for (int k = 0; k < n; k++)
                if (w[k].s < it[i].end && w[k].e > it[i].start) {
                    if (lo < 0 || tw[k].s < lo)
                        lo = tw[k].s, lo_w = k;
                    if (tw[k].e > hi)
                        hi = tw[k].e, hi_w = k;
                }
            if (lo < 0) {
                cover[i] = (span){0, 0};
                continue;
            }
            if (it[i].start > w[lo_w].s)
                lo += it[i].start - w[lo_w].s;
            if (it[i].end < w[hi_w].e)
                hi = tw[hi_w].s + (it[i].end - w[hi_w].s);
            cover[i] = (span){lo, hi};
        }
        want_keys[b] = item_keys(h, b, tr[b], cover);
        dg_err err;
        CHECK(dg_html_block_set(h, b, tr[b], strlen(tr[b]), pairs, np, &err) == DG_OK);
    }
    out = render(h);
    if (out) {
        char *tags = tag_multiset(out);
        CHECK_MSG(!strcmp(tags, base_tags), "case %d reversed: tags\n%s\nwant\n%s", ci, tags,
                  base_tags);
        free(tags);
        CHECK_MSG(fixed_point(out), "case %d reversed: well-formed", ci);
        CHECK_MSG(contains_each(out, c->keep), "case %d reversed: untouched markup", ci);
        dg_html *r = parse(out);
        CHECK_MSG(r && dg_html_block_count(r) == nb, "case %d reversed: block count", ci);
        for (int b = 0; r && b < nb && b < dg_html_block_count(r); b++) {
            const char *rt = dg_html_block_text(r, b, NULL);
            CHECK_MSG(!strcmp(rt, tr[b]), "case %d block %d reads back [%s], want [%s]", ci, b,
                      rt, tr[b]);
            char *keys = item_keys(r, b, rt, NULL);
            CHECK_MSG(!strcmp(keys, want_keys[b]), "case %d block %d tags:\n%s\nwant\n%s\n%s", ci,
                      b, keys, want_keys[b], out);
            free(keys);
        }
        dg_html_free(r);
    }
    CHECK(out != NULL);
    free(out);
    for (int b = 0; b < nb; b++) {
        free(want_keys[b]);
        free(tr[b]);
    }
    free(want_keys);
    free(tr);
    /* crossing reorders (neighbours swapped), then alignments with holes, then none */
    for (int mode = 0; mode < 3; mode++) {
        for (int b = 0; b < nb; b++) {
            int n = words(h, b, w, MAXW), np;
            bool keep[MAXW];
            for (int k = 0; k < n; k++) {
                perm[k] = k ^ 1;
                if (perm[k] >= n)
                    perm[k] = k;
                keep[k] = mode == 0 || (mode == 1 && k % 2 == 0);
            }
            char *t = translate(h, b, w, perm, n, keep, pairs, &np, tw);
            dg_err err;
            CHECK(dg_html_block_set(h, b, t, strlen(t), pairs, np, &err) == DG_OK);
            free(t);
        }
        out = render(h);
        if (out) {
            char *tags = tag_multiset(out);
            CHECK_MSG(!strcmp(tags, base_tags), "case %d mode %d: tags\n%s\nwant\n%s", ci, mode,
                      tags, base_tags);
            free(tags);
            CHECK_MSG(fixed_point(out), "case %d mode %d: well-formed", ci, mode);
            CHECK_MSG(contains_each(out, c->keep), "case %d mode %d: untouched markup", ci, mode);
        }
        CHECK(out != NULL);
        free(out);
    }
    free(base_tags);
    dg_html_free(h);
}

/* ---- hand-made translations ---- */

/* sets block b to tr with pairs given as "src word index>tgt word index" over the space-split
 * words of both, and returns the render */
static char *set_words(const char *html, const char *tr, const char *links)
{
    dg_html *h = parse(html);
    if (!h)
        return NULL;
    span w[MAXW], t[MAXW];
    int nw = words(h, 0, w, MAXW), nt = 0;
    for (int i = 0; tr[i];) {
        while (tr[i] == ' ')
            i++;
        int j = i;
        while (tr[j] && tr[j] != ' ')
            j++;
        if (j > i)
            t[nt++] = (span){i, j};
        i = j;
    }
    dg_word_pair pairs[MAXW];
    int np = 0;
    for (const char *p = links; p && *p;) {
        int a, z, used;
        if (sscanf(p, "%d>%d%n", &a, &z, &used) != 2)
            break;
        if (a < nw && z < nt)
            pairs[np++] = (dg_word_pair){w[a].s, w[a].e, t[z].s, t[z].e};
        p += used;
        while (*p == ' ')
            p++;
    }
    dg_err err;
    char *out = NULL;
    if (dg_html_block_set(h, 0, tr, strlen(tr), pairs, np, &err) == DG_OK)
        out = render(h);
    else
        fprintf(stderr, "set: %s\n", err.msg);
    dg_html_free(h);
    return out;
}

#define CHECK_RENDER(html, tr, links, want)                                          \
    do {                                                                             \
        char *got_ = set_words(html, tr, links);                                     \
        CHECK_MSG(got_ && !strcmp(got_, want), "\n  got  %s\n  want %s", got_ ? got_ : "-", want); \
        free(got_);                                                                  \
    } while (0)

static void test_translations(void)
{
    CHECK_RENDER("Click <b>here</b>", "Klicken Sie hier", "0>0 1>2",
                 "Klicken Sie <b>hier</b>");
    CHECK_RENDER("<p>The <b>red</b> <i>car</i> stops.</p>", "Das Auto rot h\xC3\xA4lt.",
                 "0>0 1>2 2>1 3>3", "<p>Das <i>Auto</i> <b>rot</b> h\xC3\xA4lt.</p>");
    CHECK_RENDER("<p>Run <code>make install</code> now</p>",
                 "F\xC3\xBChren Sie make install jetzt aus", "0>0 1>2 1>3 2>4",
                 "<p>F\xC3\xBChren Sie <code>make install</code> jetzt aus</p>");
    /* the protected text lost by the model: the element still comes out once, after the
     * word aligned to the one before it */
    CHECK_RENDER("<p>Run <code>make</code> now</p>", "Jetzt ausf\xC3\xBChren", "0>1 2>0",
                 "<p>Jetzt ausf\xC3\xBChren<code>make</code></p>");
    /* a link over two words that come apart: it spans from the first to the last */
    CHECK_RENDER("<p>Read <a href=\"/t\" title=\"T &amp; C\">the terms</a> now.</p>",
                 "Lies jetzt die Bedingungen.", "0>0 1>2 2>3 3>1",
                 "<p>Lies jetzt <a href=\"/t\" title=\"T &amp; C\">die Bedingungen.</a></p>");
    /* crossing: <b> comes to span all three words, so the <i> after it, a sibling, starts
     * where <b> ends: still nested as in the source */
    CHECK_RENDER("<p><b>one <i>two</i></b><i> three</i></p>", "zwei drei eins",
                 "0>2 1>0 2>1", "<p><b><i>zwei</i> drei eins</b><i></i></p>");
    /* an unaligned tag goes where its neighbour went */
    CHECK_RENDER("<p>Hello <em>dear</em> world</p>", "Hallo Welt", "0>0 2>1",
                 "<p>Hallo <em></em>Welt</p>");
    /* text escaped; the comment keeps a space on each side */
    CHECK_RENDER("<p>Fish <!--x--> chips</p>", "Fisch & <Pommes>", "0>0 1>2",
                 "<p>Fisch <!--x--> &amp; &lt;Pommes&gt;</p>");
    /* no alignment at all: tags at the proportional place, never lost */
    CHECK_RENDER("<p>a <b>b</b> c</p>", "x y z", "", "<p>x <b></b>y z</p>");
}

static void test_items(void)
{
    dg_html *h = parse("<p>Run <code>make install</code> with <b class=\"k\">care</b>"
                       "<img src=x></p>");
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK_INT_EQ(dg_html_block_count(h), 1);
    size_t len;
    const char *t = dg_html_block_text(h, 0, &len);
    CHECK(!strcmp(t, "Run make install with care") && len == strlen(t));
    int n;
    const dg_html_range *pr = dg_html_block_protected(h, 0, &n);
    CHECK_INT_EQ(n, 1);
    CHECK(n == 1 && pr[0].start == 4 && pr[0].end == 16);
    const dg_html_item *it = dg_html_block_items(h, 0, &n);
    CHECK_INT_EQ(n, 3);
    if (n == 3) {
        CHECK(it[0].kind == DG_HTML_PROTECTED && !strcmp(it[0].markup, "<code>make install</code>"));
        CHECK(it[1].kind == DG_HTML_TAG && it[1].start == 22 && it[1].end == 26 &&
              !strcmp(it[1].markup, "<b class=\"k\">") && !strcmp(it[1].end_tag, "</b>"));
        CHECK(it[2].kind == DG_HTML_ANCHOR && it[2].start == 26 && it[2].end == 26 &&
              !strcmp(it[2].markup, "<img src=x>") && it[2].parent == -1);
    }
    CHECK(dg_html_block_text(h, 1, &len) == NULL && len == 0);
    dg_html_free(h);
}

static void test_errors(void)
{
    dg_html *h = NULL;
    dg_err err;
    CHECK(dg_html_parse("a\xFF" "b", 3, &h, &err) == DG_E_INPUT && strstr(err.msg, "UTF-8") &&
          strstr(err.msg, "offset 1") && !h);
    CHECK(dg_html_parse("a\0b", 3, &h, &err) == DG_E_INPUT && strstr(err.msg, "NUL") && !h);
    size_t deep = 2000 * 5;
    char *s = malloc(deep + 1);
    for (size_t i = 0; i < deep; i += 5)
        memcpy(s + i, "<div>", 5);
    s[deep] = 0;
    CHECK(dg_html_parse(s, deep, &h, &err) == DG_E_INPUT && strstr(err.msg, "nested") && !h);
    free(s);
    CHECK(dg_html_parse("", 0, &h, &err) == DG_OK && dg_html_block_count(h) == 0);
    char *out = render(h);
    CHECK(out && !strcmp(out, ""));
    free(out);
    dg_html_free(h);
    h = parse("<p>one two</p>");
    dg_word_pair bad = {0, 3, 0, 9};
    CHECK(dg_html_block_set(h, 0, "eins", 4, &bad, 1, &err) == DG_E_INPUT &&
          strstr(err.msg, "outside"));
    bad = (dg_word_pair){0, 30, 0, 1};
    CHECK(dg_html_block_set(h, 0, "eins", 4, &bad, 1, &err) == DG_E_INPUT);
    CHECK(dg_html_block_set(h, 1, "eins", 4, NULL, 0, &err) == DG_E_INPUT &&
          strstr(err.msg, "block 1"));
    CHECK(dg_html_block_set(h, 0, "\xC3", 1, NULL, 0, &err) == DG_E_INPUT &&
          strstr(err.msg, "UTF-8"));
    CHECK(dg_html_block_set(h, 0, "a\0b", 3, NULL, 0, &err) == DG_E_INPUT &&
          strstr(err.msg, "NUL"));
    /* a failed set leaves the block as it was */
    char *same = render(h);
    CHECK(same && !strcmp(same, "<p>one two</p>"));
    free(same);
    dg_html_free(h);
}

int main(void)
{
    CHECK(N_CASES >= 30);
    for (int i = 0; i < N_CASES; i++)
        check_case(i);
    test_items();
    test_translations();
    test_errors();
    return test_summary();
}
