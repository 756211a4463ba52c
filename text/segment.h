/* Splitting a text into the sentences the model translates one by one, keeping the text
 * between them (spaces, newlines) so the translation can be put back together with the
 * original layout. */
#ifndef DG_TEXT_SEGMENT_H
#define DG_TEXT_SEGMENT_H

#include <stddef.h>

typedef struct {
    size_t start, len;   /* byte span of one sentence, trimmed of surrounding whitespace */
} dg_span;

/* Splits text[0..len) at line breaks and after '.', '!', '?' (plus closing quotes/brackets)
 * followed by whitespace and then not by a lower-case ASCII letter. Writes at most max spans;
 * returns how many the text has (may exceed max), 0 for a blank text. */
int dg_split_sentences(const char *text, size_t len, dg_span *spans, int max);

/* Rebuilds the text: the original bytes outside every span, each span replaced by out[i].
 * Returns a malloc'ed string, or NULL when out of memory. */
char *dg_join_sentences(const char *text, size_t len, const dg_span *spans, int n,
                        char *const *out);

#endif
