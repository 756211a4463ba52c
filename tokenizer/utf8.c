/* DESIGN: see utf8.h. The validator follows the well-formed byte sequence table of the Unicode
 * standard (table 3-7): the second byte's range depends on the lead byte, which is what rules
 * out overlong forms and surrogates without decoding first. */
#include "tokenizer/utf8.h"

#include <stdint.h>

bool dg_utf8_valid(const char *str, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong below U+0800 */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates U+D800..U+DFFF */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong below U+10000 */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            *bad_offset = i; /* continuation byte as lead, C0/C1 overlong, or F5..FF */
            return false;
        }
        if (len - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi) {
            *bad_offset = i;
            return false;
        }
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                *bad_offset = i;
                return false;
            }
        }
        i += need + 1;
    }
    return true;
}

/* Python's str.isspace() set: bidi classes WS, B, S and category Zs. */
static bool is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 ||
           cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decodes the (valid) sequence at s of n bytes. */
static uint32_t decode(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7F >> n);
    for (size_t k = 1; k < n; k++)
        cp = (cp << 6) | (s[k] & 0x3F);
    return cp;
}

static size_t seq_len(unsigned c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

size_t dg_utf8_space_prefix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    if (len == 0)
        return 0;
    size_t n = seq_len(s[0]);
    if (n > len)
        return 0;
    return is_space(decode(s, n)) ? n : 0;
}

size_t dg_utf8_space_suffix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t start = len;
    /* step back over at most three continuation bytes to the lead byte */
    while (start > 0 && len - start < 4) {
        start--;
        if ((s[start] & 0xC0) != 0x80)
            break;
    }
    if (start == len || seq_len(s[start]) != len - start)
        return 0;
    return is_space(decode(s + start, len - start)) ? len - start : 0;
}
