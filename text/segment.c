/* DESIGN: a deliberately simple, language-agnostic splitter: OPUS-MT models are trained on
 * sentence pairs, so long paragraphs translate better (and batch better) cut into sentences,
 * but a wrong cut only costs a little context, never text: everything between spans is copied
 * through verbatim by dg_join_sentences. */
#include "text/segment.h"

#include <stdlib.h>
#include <string.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int is_closer(char c)
{
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}';
}

static void push(dg_span *spans, int max, int *n, const char *t, size_t a, size_t b)
{
    while (a < b && is_space(t[a]))
        a++;
    while (b > a && is_space(t[b - 1]))
        b--;
    if (a == b)
        return;
    if (*n < max)
        spans[*n] = (dg_span){a, b - a};
    (*n)++;
}

int dg_split_sentences(const char *t, size_t len, dg_span *spans, int max)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '\n') {
            push(spans, max, &n, t, start, i);
            start = i + 1;
            continue;
        }
        if (t[i] != '.' && t[i] != '!' && t[i] != '?')
            continue;
        size_t end = i + 1;
        while (end < len && (is_closer(t[end]) || t[end] == '.' || t[end] == '!' || t[end] == '?'))
            end++;
        if (end >= len || !is_space(t[end]))
            continue;
        size_t next = end;
        while (next < len && is_space(t[next]) && t[next] != '\n')
            next++;
        if (next < len && t[next] >= 'a' && t[next] <= 'z')
            continue;
        push(spans, max, &n, t, start, end);
        start = end;
        i = end - 1;
    }
    push(spans, max, &n, t, start, len);
    return n;
}

char *dg_join_sentences(const char *text, size_t len, const dg_span *spans, int n,
                        char *const *out)
{
    size_t total = len + 1;
    for (int i = 0; i < n; i++)
        total += strlen(out[i]);
    char *s = malloc(total), *p = s;
    if (!s)
        return NULL;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        memcpy(p, text + at, spans[i].start - at);
        p += spans[i].start - at;
        size_t k = strlen(out[i]);
        memcpy(p, out[i], k);
        p += k;
        at = spans[i].start + spans[i].len;
    }
    memcpy(p, text + at, len - at);
    p[len - at] = 0;
    return s;
}
