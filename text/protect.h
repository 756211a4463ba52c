/* DESIGN: protected spans. Text the model must not touch (URLs, e-mail addresses, format
 * placeholders such as {name}, %s, %1$s, %1, %(name)s, $(VAR), ${VAR}, file names, numbers with
 * their units) and words the tokenizer cannot express (any character it maps to <unk>, or to
 * byte-fallback pieces: emoji, other scripts, rare letters) come out of the translation
 * verbatim.
 *
 * How: a placeholder or number the vocabulary spells exactly (%s, %d, %(name)s, {0}, 3.5, 5 MB)
 * stays as itself in the text the model sees: the model copies such tokens and translates
 * better around them than around a bare number standing for them (measured on the demo model,
 * below). Every other span (URLs, e-mail addresses, file names, <unk> words, forced ranges) is
 * replaced by a label number, counting from 1 but skipping any number the text spells itself,
 * padded with a space where it would touch a letter or digit.
 *
 * dg_protect_restore then reads the translation: at a literal span's text (longest first; a
 * number only between non-digits) the first unused span of that text is kept and a repeat
 * dropped; a digit run that is a label becomes its span (the first time; padding added by the
 * masking goes again); any other digit run or placeholder is one the model made up (or changed:
 * "3.0" written "3,0") and is dropped. A span not found is put back after the target word whose
 * token attends most to its source tokens (the engine's alignment), or, without an alignment,
 * before the sentence's final punctuation. So every protected span appears in the output
 * exactly as many times as in the source: the guarantee is kept by this check, not by hiding
 * the span from the model.
 *
 * Measured (demo model, beam 4, --no-split; BLEU / chrF), every span masked (before) / literal
 * placeholders and numbers (now) / spans off (--no-preserve): held-out dev split (3,436 pairs)
 * 27.09 / 47.49, 27.47 / 47.65, 27.18 / 47.47; v1 test set (1,427 pairs, measured once at the
 * end) 32.27 / 52.59, 33.06 / 52.88, 33.12 / 52.93. What is left of the gap is the guarantee
 * itself: a span the model lost is put back, a repeat is dropped.
 *
 * Depends on tokenizer/ (to find <unk> characters and token offsets) and common/ only. */
#ifndef DG_TEXT_PROTECT_H
#define DG_TEXT_PROTECT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    DG_PROT_URL, DG_PROT_EMAIL, DG_PROT_PLACEHOLDER, DG_PROT_FILE, DG_PROT_NUMBER,
    DG_PROT_UNK, DG_PROT_FORCED, DG_PROT_COUNT
} dg_prot_kind;

typedef struct {
    size_t start, len;        /* the span in the original text */
    size_t m_start, m_len;    /* its placeholder number (or itself, literal) in the masked text */
    int pad_before, pad_after; /* a space the masked text added before / after the number */
    bool literal;             /* kept as itself in the masked text: found again by its text */
    dg_prot_kind kind;
} dg_prot_span;

typedef struct {
    char *text;               /* copy of the original */
    size_t len;
    char *masked;             /* what the model translates (NUL-terminated) */
    size_t masked_len;
    dg_prot_span *spans;
    int n;
} dg_protect;

/* Finds the protected spans of text[0..len) (valid UTF-8) and builds the masked text. With no
 * span, masked is a plain copy of text. */
dg_code dg_protect_text(const dg_tokenizer *tok, const char *text, size_t len, dg_protect *p,
                   dg_err *err);
/* A range the caller protects (text/html.h's <code> and translate="no" text), in bytes. */
typedef struct {
    size_t start, len;
} dg_prot_range;

/* dg_protect_text (detect false: no span is looked for) with forced[0..n_forced) (ascending,
 * disjoint, inside text) protected too, as DG_PROT_FORCED spans: a forced range wins over the
 * detected spans it overlaps, and may sit inside a word (the masked text pads its number with
 * spaces there). */
dg_code dg_protect_text_forced(const dg_tokenizer *tok, const char *text, size_t len, bool detect,
                               const dg_prot_range *forced, int n_forced, dg_protect *p,
                               dg_err *err);
void dg_protect_free(dg_protect *p);
const char *dg_prot_kind_name(dg_prot_kind k);

/* The model's view of one translated sentence, for placing lost spans and for word alignment:
 * src_ids[n_src] the encoder input (of p->masked), tgt_ids[n_tgt] the generated ids, align
 * [n_tgt, n_src] the engine's alignment rows (dg_result.align). */
typedef struct {
    const int *src_ids;
    int n_src;
    const int *tgt_ids;
    int n_tgt;
    const float *align;
} dg_align_view;

/* Byte offsets of each token's text: src (in masked) and tgt (in the decoded translation);
 * -1 where a token has no text (specials, pieces the matcher could not place). */
typedef struct {
    int *src_start, *src_end; /* [n_src] */
    int *tgt_start, *tgt_end; /* [n_tgt] */
} dg_token_offsets;

dg_code dg_token_offsets_make(const dg_tokenizer *tok, const char *masked,
                              const char *translation, const dg_align_view *v,
                              dg_token_offsets *o, dg_err *err);
void dg_token_offsets_free(dg_token_offsets *o);

/* The translation of p->masked with every span put back (malloc'ed). v may be NULL (no
 * alignment: lost spans go before the final punctuation). map, when not NULL, has
 * strlen(translation) + 1 entries and receives where each translation byte went in *out. */
dg_code dg_protect_restore(const dg_protect *p, const dg_tokenizer *tok, const char *translation,
                           const dg_align_view *v, char **out, int *map, dg_err *err);

/* Word alignment of one sentence: pairs of byte ranges, a source word of p->text and a word of
 * the restored translation, where a token of the target word attends most to a token of the
 * source word (each pair once, in target order). src[0..src_len) is the sentence (p->text, or
 * the sentence itself when it was not protected: p zeroed), translation the model's (masked)
 * output, restored and map what dg_protect_restore made of it. */
typedef struct {
    int src_start, src_end, tgt_start, tgt_end;
} dg_word_pair;

/* Appends w to v[0..*n) unless it is there already (room for it is the caller's); whether it
 * was added. */
bool dg_word_pair_add(dg_word_pair *v, int *n, const dg_word_pair *w);

dg_code dg_align_words(const dg_tokenizer *tok, const dg_protect *p, const char *src,
                       size_t src_len, const char *translation, const dg_align_view *v,
                       const char *restored, const int *map, dg_word_pair **pairs, int *n,
                       dg_err *err);

#endif
