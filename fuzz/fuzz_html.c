/* libFuzzer: text/html.c on arbitrary bytes: parse, set every block (to its own text, reversed,
 * with alignment pairs taken from the input, in range or not), render. Bytes the parser rejects
 * (invalid UTF-8, NUL) are also tried with those bytes replaced, so most inputs reach gumbo and
 * the placing of tags. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/html.h"

static void run(const char *s, size_t len, const uint8_t *data, size_t size)
{
    dg_html *h = NULL;
    dg_err err;
    if (dg_html_parse(s, len, &h, &err) != DG_OK)
        return;
    char *out = NULL;
    size_t n = 0;
    if (dg_html_render(h, &out, &n, &err) == DG_OK)
        free(out);
    dg_word_pair pairs[16];
    for (int b = 0; b < dg_html_block_count(h); b++) {
        size_t tl;
        const char *t = dg_html_block_text(h, b, &tl);
        int np = 0;
        /* pairs from the input's bytes: mostly inside the text, some outside (rejected) */
        for (size_t k = 0; k + 4 <= size && np < 16; k += 4, np++) {
            int m = (int)tl + 2;
            int a = data[k] % m, z = data[k + 1] % m, x = data[k + 2] % m, y = data[k + 3] % m;
            pairs[np] = (dg_word_pair){a < z ? a : z, a < z ? z : a, x < y ? x : y, x < y ? y : x};
        }
        /* the translation: the block text, backwards when the block's index is odd (offsets may
         * then fall inside characters: the placing must cope) */
        char *tr = malloc(tl + 1);
        if (!tr)
            break;
        for (size_t i = 0; i < tl; i++)
            tr[i] = b % 2 ? t[tl - 1 - i] : t[i];
        tr[tl] = 0;
        dg_html_block_set(h, b, tr, tl, pairs, np, &err);
        free(tr);
    }
    if (dg_html_render(h, &out, &n, &err) == DG_OK)
        free(out);
    dg_html_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run((const char *)data, size, data, size);
    char *clean = malloc(size + 1);
    if (!clean)
        return 0;
    for (size_t i = 0; i < size; i++)
        clean[i] = data[i] == 0 || data[i] >= 0x80 ? '?' : (char)data[i];
    run(clean, size, data, size);
    free(clean);
    return 0;
}
