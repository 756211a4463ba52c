/* DESIGN: HTML through translation (issue 13). Parses with gumbo (Debian's libgumbo, the
 * WHATWG parsing algorithm; a parser we would not write), cuts the page into translatable
 * blocks of plain text, and puts the translated text back with every inline tag carried onto
 * the words it covered.
 *
 * Blocks. A block is a maximal run of inline content inside one block-level element (p, div,
 * li, h1-h6, td, th, dt, dd, caption, blockquote, figcaption, title, button, label, option,
 * ...; any element that is not inline) or directly in the fragment root, holding some text. br
 * and hr end a block. An inline element (a, abbr, b, bdi, bdo, cite, dfn, em, font, i, mark, q,
 * s, small, span, strong, sub, sup, time, u, custom elements, ...) that holds a block-level
 * element is treated as block-level itself. A block's text is what a browser shows: inline tags
 * removed, entities decoded, runs of ASCII whitespace collapsed to one space, leading and
 * trailing whitespace cut off (it is kept outside the translation, see "normalizations").
 *
 * Inline markup of a block is a list of items with byte ranges over the block text, in
 * document (pre-)order, each with its parent item:
 *   DG_HTML_TAG        an inline element: its start tag exactly as written (attributes, their
 *                      order and quoting verbatim) and its end tag;
 *   DG_HTML_PROTECTED  an element kept byte-identical whose text sits in the sentence: <code>,
 *                      <kbd>, <samp>, <var>, and any inline element with translate="no" or
 *                      class="notranslate". Its range holds the element's text (collapsed), which
 *                      the translation must carry verbatim: these are the block's protected
 *                      ranges (dg_html_block_protected), to be masked like text/protect.h's
 *                      spans;
 *   DG_HTML_ANCHOR     something kept byte-identical that has no text in the sentence: comments,
 *                      <img>, <wbr>, <input>, <script>, <style>, <template>, <svg>, <math>,
 *                      <iframe>, <video>, ..., and protected elements without text. Its range is
 *                      empty (a position).
 * Block-level elements kept untouched (byte-identical, no block inside): <pre>, <textarea>,
 * <xmp>, <listing>, <plaintext>, and any element with translate="no" or class="notranslate".
 *
 * Setting a translation (dg_html_block_set, Bergamot's method): each tag spans, in the
 * translation, from the first to the last target word aligned to a source word it covered (a
 * tag covering part of a word covers the whole target word, unless the target word is the
 * same text, as for names and numbers: then the same part). A tag whose words have no
 * alignment, an empty tag, and every anchor is a position: glued to a word in the source
 * (<img>word, word<img>), it goes before / after that word's target; between two spaces, after
 * the target of the word before it and the space that follows (a space is added after it when
 * the translation has none there); at the ends of the block, to the ends of the translation;
 * with no alignment at all, proportionally. Each protected element is found in the
 * translation as its text, verbatim (of several places, the one nearest to the target of its
 * aligned words), and replaced there by the element; one that is not found is placed like an
 * anchor. A tag also spans its children's places. Then crossings are removed: a child is cut
 * to its parent's span, and a sibling overlapping an earlier one (by target position) starts
 * where that one ends. So every item of the source comes out exactly once, nested as in the
 * source, and the output is well-formed.
 *
 * Rendering and normalizations. A block not set, and everything outside blocks, is written
 * from the source: start tags, end tags, comments and text exactly as written (entities as
 * written), so a page parsed and rendered unchanged comes back byte-identical when it is
 * well-formed. What the parser repairs comes out repaired: a missing end tag is written
 * (<p>a<p>b -> <p>a</p><p>b</p>), a stray end tag is dropped (a text holding one is written
 * from its decoded text, escaped), misnested inline tags come out as the parser's tree
 * (<b><i>x</b>y</i> -> <b><i>x</i></b><i>y</i>); elements the parser implies (tbody, html,
 * head, body) are not written; in a document, whitespace around <html>, <head> and <body>
 * is dropped. A block that is set is written from its translation: entities decoded, and text
 * escaped as &amp; &lt; &gt;, with U+00A0 as &nbsp; (so &copy; comes back as the character
 * U+00A9, &nbsp; and &amp; as themselves); the block's leading and trailing whitespace (raw, as
 * the source had it) goes around it, outside its tags; inside it, whitespace is the
 * translation's. Attribute values (title, alt) are not translated.
 *
 * Use: dg_html_parse; for each block, translate dg_html_block_text with the block's protected
 * ranges forced into text/protect's spans (so they come back verbatim), the word alignment
 * (dg_align_words) of its sentences shifted to offsets over the whole block text and the whole
 * translation, then dg_html_block_set; dg_html_render. A block that fails to translate can
 * stay unset: it renders as the source had it.
 *
 * Input is a fragment (parsed in the context of <body>: "Click <b>here</b>" stays a snippet),
 * or a whole document when it starts (after whitespace and comments) with <!DOCTYPE or <html.
 *
 * Depends on gumbo and common/ only. */
#ifndef DG_TEXT_HTML_H
#define DG_TEXT_HTML_H

#include <stddef.h>

#include "common/error.h"
#include "text/protect.h" /* dg_word_pair */

typedef struct dg_html dg_html;

typedef enum { DG_HTML_TAG, DG_HTML_PROTECTED, DG_HTML_ANCHOR } dg_html_item_kind;

typedef struct {
    dg_html_item_kind kind;
    int start, end;       /* byte range over the block text; start == end for an anchor */
    int parent;           /* index of the enclosing DG_HTML_TAG item, -1 at the block's top */
    const char *markup;   /* TAG: its start tag; PROTECTED, ANCHOR: the whole element, verbatim */
    size_t markup_len;
    const char *end_tag;  /* TAG: its end tag ("" for a void element); others: "" */
    size_t end_tag_len;
} dg_html_item;

typedef struct {
    int start, end;
} dg_html_range;

/* Parses src[0..len) (valid UTF-8 without NUL bytes, at most 64 MiB, elements nested at most
 * 1024 deep; otherwise DG_E_INPUT with the offending offset). *out is freed by dg_html_free. */
dg_code dg_html_parse(const char *src, size_t len, dg_html **out, dg_err *err);
void dg_html_free(dg_html *h);

int dg_html_block_count(const dg_html *h);
/* The plain text of block i (NUL-terminated; *len its length when len is not NULL). */
const char *dg_html_block_text(const dg_html *h, int i, size_t *len);
/* Block i's inline markup, in document order (*n items). */
const dg_html_item *dg_html_block_items(const dg_html *h, int i, int *n);
/* Block i's protected ranges over its text, ascending and disjoint (*n of them): the text of
 * its DG_HTML_PROTECTED items. The translation must hold each verbatim. */
const dg_html_range *dg_html_block_protected(const dg_html *h, int i, int *n);

/* Sets block i's translation: translation[0..len) (valid UTF-8), with pairs[0..n) the word
 * alignment (dg_word_pair: src over the block text, tgt over the translation, byte offsets).
 * pairs may be NULL with n == 0 (tags then go where an anchor would). Setting a block again
 * replaces the earlier translation; blocks may be set from different threads at once (each
 * touches only its own block). DG_E_INPUT on a bad index, invalid UTF-8, a NUL byte or an
 * offset out of range. */
dg_code dg_html_block_set(dg_html *h, int i, const char *translation, size_t len,
                          const dg_word_pair *pairs, int n, dg_err *err);

/* The page with every set block translated (malloc'ed, NUL-terminated, *len bytes). */
dg_code dg_html_render(const dg_html *h, char **out, size_t *len, dg_err *err);

#endif
