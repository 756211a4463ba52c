/* DESIGN: strict UTF-8 validation (RFC 3629) for text entering the tokenizer, plus the one
 * Unicode property the Marian decoder needs: Python's str.isspace(), which str.strip() uses.
 * Rejects overlong forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF and truncated
 * sequences, so every byte string accepted here is one Python could hold as a str. */
#ifndef DG_UTF8_H
#define DG_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when s[0..len) is valid UTF-8; otherwise false with *bad_offset set to the byte
 * offset where the first invalid sequence starts. NUL bytes are valid (U+0000). */
bool dg_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Length in bytes of the whitespace character (Python str.isspace()) starting at s[0..len), or 0
 * when s does not start with one. */
size_t dg_utf8_space_prefix(const char *s, size_t len);

/* Length in bytes of the whitespace character ending at s[len-1], or 0. s must be valid UTF-8. */
size_t dg_utf8_space_suffix(const char *s, size_t len);

#endif
