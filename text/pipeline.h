/* DESIGN: the text work around the model, in one room for the server (native /v1/translate,
 * streaming, LibreTranslate /translate and /translate_file) and `dragoman translate`.
 * dg_text_prepare turns a request's texts into the segments the model translates; the caller
 * runs their ids through the engine (directly, or through the scheduler and its cache);
 * dg_text_finish turns each segment's output back into each text's translation.
 *
 * Three levels: a document is one input text; a block is one run of plain text that the model
 * translates and that is put back as a whole; a segment is one sentence of a block (the whole
 * block with split off), the model's input. A plain-text document is one block, the text
 * itself. An HTML document (text/html.h) is one block per block element, its inline tags kept
 * aside as offsets into the block's text: prepare asks the parser for the blocks, and finish
 * hands each block's translation and word alignment back to it to re-insert the tags and
 * render the document; everything between (sentences, protected spans, ids, restoring,
 * alignment) works on blocks and does not know the format.
 *
 *   prepare: document -> blocks -> sentences (text/segment.h) -> protected spans masked
 *            (text/protect.h) -> ids (the tokenizer with the language framing) -> token limit
 *   finish:  per segment: hypothesis -> protected spans restored (the alignment places lost
 *            ones) -> word alignment (text/align.c); per block: sentences joined with the
 *            block's layout; per document: its blocks reassembled (plain text: its one block)
 *
 * Depends on tokenizer/ and common/ only. */
#ifndef DG_TEXT_PIPELINE_H
#define DG_TEXT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "text/protect.h"
#include "tokenizer/tokenizer.h"

/* The documents' markup: plain text, or HTML (a page or a fragment, text/html.h). */
typedef enum { DG_TEXT_PLAIN, DG_TEXT_HTML } dg_text_format;

struct dg_html;

/* Encodes one segment's (masked) text to model ids, in place of the tokenizer: for callers
 * whose input already is ids (`dragoman translate --input-ids`). */
typedef dg_code (*dg_text_encode_fn)(void *arg, const char *text, size_t len, int **ids, int *n,
                                     dg_err *err);

typedef struct {
    dg_text_format format;
    bool split;               /* cut blocks into sentences; false: a block is one segment */
    bool preserve;            /* protected spans come out verbatim (text/protect.h) */
    bool return_alignment;    /* finish yields the word alignment of each best translation
                               * (plain text only: an HTML page's offsets are not its text's) */
    bool pair;                /* encode with the languages src, tgt (dg_tokenizer_encode_pair) */
    int src, tgt;
    int max_tokens;           /* a segment's ids limit; 0: none */
    bool truncate;            /* cut a longer segment to max_tokens (keeping the framing) */
    int vocab_size;           /* an id at or above it fails the segment; 0: no check */
    int max_segments;         /* more segments than this fail the request; 0: no limit */
    dg_text_encode_fn encode; /* NULL: the tokenizer */
    void *encode_arg;
} dg_text_opts;

typedef struct {
    int block;                /* its block */
    size_t start, len;        /* its bytes in the block's text */
    int *ids, n_ids;          /* the model's input (owned) */
    dg_protect prot;          /* its protected spans; zeroed when preserve is off */
} dg_text_segment;

typedef struct {
    int doc;                  /* its document */
    const char *text;         /* its plain text (a plain document: the document itself) */
    size_t len;
    int first_seg, n_segs;
    int index;                /* HTML: its block number in its page */
    dg_prot_range *forced;    /* HTML: its protected elements' text (owned by the set) */
    int n_forced;
} dg_text_block;

typedef struct {
    const char *text;         /* the caller's; must outlive the set */
    size_t len;
    int first_block, n_blocks;
    int first_seg, n_segs;    /* a document's segments are contiguous */
    struct dg_html *html;     /* DG_TEXT_HTML: the parsed page (owned by the set) */
} dg_text_doc;

/* A request's texts, prepared: documents, their blocks, their segments, in input order. */
typedef struct {
    dg_text_opts opts;
    const dg_tokenizer *tok;
    dg_text_doc *docs;
    int n_docs;
    dg_text_block *blocks;
    int n_blocks;
    dg_text_segment *segs;
    int n_segs;
    bool has_protected;       /* some segment has protected spans: placing a span the model
                               * lost needs the alignment rows */
    bool needs_align;         /* finish uses the engine's alignment rows (dg_text_output.align):
                               * has_protected, or an HTML block to carry tags onto words */
} dg_text_set;

/* Where dg_text_prepare failed, for the caller's message (err holds the cause). */
typedef struct {
    int doc;                  /* the text; -1 when not one text's fault */
    int seg;                  /* its segment, counted within the text; -1 when none */
    int n_tokens;             /* > 0: that segment has this many ids, more than max_tokens */
    bool too_many;            /* more than max_segments segments */
} dg_text_fail;

/* Prepares texts[0..n) (valid UTF-8, NUL-terminated; kept by reference) for the model: an
 * HTML document that does not parse fails with DG_E_INPUT (fail->doc names it). On
 * failure err says why and fail where; the segments before the failing one keep their ids
 * (the failing one has none). Free s with dg_text_set_free either way. */
dg_code dg_text_prepare(const char *const *texts, int n, const dg_text_opts *o,
                        const dg_tokenizer *tok, dg_text_set *s, dg_text_fail *fail, dg_err *err);
void dg_text_set_free(dg_text_set *s);

/* One segment's model output. */
typedef struct {
    int n;                    /* hypotheses, best first (>= 1) */
    char *const *text;        /* [n] decoded, or NULL: finish decodes ids */
    int *const *ids;          /* [n] generated ids: needed without text, or with align */
    const int *len;           /* [n] */
    float *const *align;      /* [n] rows [len[h], the segment's n_ids], or NULL */
} dg_text_output;

/* Segment k's hypothesis h (its best when it has fewer) of its output o, with its protected
 * spans put back as finish puts it into its block (malloc'ed into *text): what a stream sends
 * per sentence. */
dg_code dg_text_segment_text(const dg_text_set *s, int k, const dg_text_output *o, int h,
                             char **text, dg_err *err);

/* One document's translation. */
typedef struct {
    int n_hyps;
    char **hyps;              /* [n_hyps] best first */
    /* opts.return_alignment: word pairs of hyps[0], {source start, end, target start, end} in
     * code points of the text and of hyps[0]; NULL otherwise */
    int (*pairs)[4];
    int n_pairs;
} dg_text_result;

/* res[d] for each document: n_best translations, hypothesis h of a document joining each
 * segment's hypothesis h (its best when it has fewer). out[k] is segment k's output. Free res
 * with dg_text_result_free either way. */
dg_code dg_text_finish(const dg_text_set *s, const dg_text_output *out, int n_best,
                       dg_text_result *res, dg_err *err);
void dg_text_result_free(dg_text_result *res, int n);

#endif
