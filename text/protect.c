/* Protected spans: detection, masking and restoring (see protect.h).
 *
 * DESIGN. Detection works word by word (maximal runs of non-whitespace), with the word's
 * surrounding punctuation trimmed: a word that is a URL, an e-mail address, holds a character
 * the tokenizer maps to <unk>, or is a file name is one span; otherwise placeholders and
 * numbers (digits with the letters, '%', currency or degree sign glued to them, or a unit word
 * after them) are found inside the word. Whether a character is <unk> is asked of the
 * tokenizer itself (the character encoded alone yields the unk id, or byte-fallback pieces),
 * so it holds for any vocabulary. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/protect.h"

const char *dg_prot_kind_name(dg_prot_kind k)
{
    static const char *names[DG_PROT_COUNT] = {"url", "email", "placeholder", "file", "number",
                                               "unknown", "forced"};
    return k >= 0 && k < DG_PROT_COUNT ? names[k] : "?";
}

/* c is one of set's characters (strchr would also match the NUL terminator) */
static bool in(const char *set, char c)
{
    return c && strchr(set, c);
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_alnum(unsigned char c)
{
    return isalnum(c) != 0;
}

static size_t u8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* A SentencePiece byte-fallback piece, "<0xNN>": what a byte-fallback vocabulary writes a
 * character it does not hold with. */
static bool is_byte_piece(const char *p)
{
    return p && strlen(p) == 6 && !strncmp(p, "<0x", 3) && isxdigit((unsigned char)p[3]) &&
           isxdigit((unsigned char)p[4]) && p[5] == '>';
}

/* Whether the character at s[0..n) (one code point) is outside the vocabulary: it encodes to
 * <unk>, or (byte fallback) to byte pieces, which a small model copies unreliably. Small
 * cache: texts repeat their letters. */
typedef struct {
    char ch[16][4];
    unsigned char n[16], unk[16];
    int next;
} unk_cache;

static bool char_is_unk(const dg_tokenizer *tok, unk_cache *c, const char *s, size_t n)
{
    for (int i = 0; i < 16; i++)
        if (c->n[i] == n && !memcmp(c->ch[i], s, n))
            return c->unk[i];
    int *ids = NULL, m = 0, unk = dg_tokenizer_unk_id(tok);
    bool is = false;
    dg_err err;
    if (dg_tokenizer_encode(tok, DG_SIDE_SOURCE, s, n, &ids, &m, &err) == DG_OK)
        for (int i = 0; i < m; i++)
            is |= ids[i] == unk || is_byte_piece(dg_tokenizer_token(tok, DG_SIDE_SOURCE, ids[i]));
    free(ids);
    int k = c->next++ % 16;
    memcpy(c->ch[k], s, n);
    c->n[k] = (unsigned char)n;
    c->unk[k] = is;
    return is;
}

static bool starts_with(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && !strncasecmp(s, p, k);
}

static bool is_url(const char *s, size_t n)
{
    return (starts_with(s, n, "http://") && n > 7) || (starts_with(s, n, "https://") && n > 8) ||
           (starts_with(s, n, "ftp://") && n > 6) || (starts_with(s, n, "www.") && n > 4);
}

static bool is_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || at == s)
        return false;
    for (const char *p = s; p < at; p++)
        if (!is_alnum((unsigned char)*p) && !in("._%+-", *p))
            return false;
    size_t dn = n - (size_t)(at + 1 - s);
    const char *d = at + 1, *dot = NULL;
    if (dn < 3)
        return false;
    for (size_t i = 0; i < dn; i++) {
        if (d[i] == '.')
            dot = d + i;
        else if (!is_alnum((unsigned char)d[i]) && d[i] != '-')
            return false;
    }
    return dot && dot > d && d + dn - dot - 1 >= 2;
}

/* name.ext: an extension of 2-5 letters/digits starting with a letter, after a non-empty name
 * without '/' or '@' (URLs and addresses are caught before). "e.g" and "U.S" have 1-letter
 * tails; "3.5kg" is a number. */
static bool is_file(const char *s, size_t n)
{
    const char *dot = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.')
            dot = s + i;
        else if (s[i] == '@' || s[i] == '/')
            return false;
    if (!dot || dot == s)
        return false;
    size_t el = n - (size_t)(dot + 1 - s);
    if (el < 2 || el > 5 || !isalpha((unsigned char)dot[1]))
        return false;
    bool letter = false;
    for (size_t i = 0; i < el; i++) {
        unsigned char c = (unsigned char)dot[1 + i];
        if (!is_alnum(c))
            return false;
        letter |= isalpha(c) != 0;
    }
    return letter;
}

/* Length of a format placeholder at s[0..n), or 0. */
static size_t placeholder_at(const char *s, size_t n)
{
    size_t i;
    if (s[0] == '{') {            /* {name}, {0}, {}, {name:>10} */
        for (i = 1; i < n && s[i] != '}' && s[i] != '{' && !is_space((unsigned char)s[i]); i++)
            ;
        return i < n && s[i] == '}' ? i + 1 : 0;
    }
    if (s[0] == '$' && n > 2 && (s[1] == '(' || s[1] == '{')) { /* $(VAR), ${VAR} */
        char close = s[1] == '(' ? ')' : '}';
        for (i = 2; i < n && (is_alnum((unsigned char)s[i]) || s[i] == '_'); i++)
            ;
        return i > 2 && i < n && s[i] == close ? i + 1 : 0;
    }
    if (s[0] != '%' || n < 2)
        return 0;
    i = 1;
    if (s[i] == '%')
        return 2;
    if (s[i] == '(') {            /* %(name)s */
        for (i = 2; i < n && (is_alnum((unsigned char)s[i]) || s[i] == '_'); i++)
            ;
        if (i >= n || s[i] != ')' || i == 2)
            return 0;
        i++;
    } else {                      /* %1$s: an argument position */
        size_t j = i;
        while (j < n && isdigit((unsigned char)s[j]))
            j++;
        if (j > i && j < n && s[j] == '$')
            i = j + 1;
        else if (j > i && (j == n || !in("diouxXeEfFgGaAcsrpn@.hlLqjzt", s[j])))
            return j;             /* %1: Qt's and KDE's numbered argument */
    }
    while (i < n && in("-+ #0'", s[i]))
        i++;
    while (i < n && isdigit((unsigned char)s[i]))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    }
    while (i < n && in("hlLqjzt", s[i]))   /* length modifiers: %ld, %zu, %lld */
        i++;
    return i < n && in("diouxXeEfFgGaAcsrpn@", s[i]) ? i + 1 : 0;
}

static const char *const UNITS[] = {
    "%", "kg", "g", "mg", "t", "km", "m", "cm", "mm", "nm", "mi", "ft", "in", "yd", "l", "ml",
    "s", "ms", "us", "ns", "min", "h", "d", "B", "KB", "MB", "GB", "TB", "kB", "KiB", "MiB",
    "GiB", "TiB", "Hz", "kHz", "MHz", "GHz", "W", "kW", "kWh", "V", "A", "mAh", "px", "pt",
    "em", "rem", "dpi", "fps", "bps", "kbps", "Mbps", "Gbps", "°", "°C", "°F", "K", "€", "$",
    "£", "¥", "EUR", "USD", "GBP", "CHF", "x", NULL};

static bool is_unit(const char *s, size_t n)
{
    for (int i = 0; UNITS[i]; i++)
        if (strlen(UNITS[i]) == n && !memcmp(UNITS[i], s, n))
            return true;
    return false;
}

/* Whether s[0..n) starts with a quote, dash or other punctuation mark outside ASCII (general
 * punctuation U+2000-U+206F, guillemets, CJK punctuation): it ends a number ("“1”"). */
static bool is_u8_punct(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    return (n >= 2 && u[0] == 0xC2 && (u[1] == 0xAB || u[1] == 0xBB)) ||
           (n >= 3 && u[0] == 0xE2 && (u[1] == 0x80 || u[1] == 0x81)) ||
           (n >= 3 && u[0] == 0xE3 && u[1] == 0x80);
}

/* Length of a number at s[0..n) (digits with , . separators, then glued letters or signs), or 0;
 * a currency sign before it is taken in by the caller. */
static size_t number_at(const char *s, size_t n)
{
    size_t i = 0;
    if (!isdigit((unsigned char)s[0]))
        return 0;
    for (;;) {
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i + 1 < n && in(".,:-/", s[i]) &&
            isdigit((unsigned char)s[i + 1]))
            i++;
        else
            break;
    }
    if (i < n && s[i] == '%')   /* 50%, but 100%% is 100 and the %% escape */
        return i + 1 < n && s[i + 1] == '%' ? i : i + 1;
    /* an English ordinal's suffix stays text: the model writes "7." for "7th" */
    if (i + 2 <= n && (i + 2 == n || !is_alnum((unsigned char)s[i + 2])) &&
        (!strncmp(s + i, "st", 2) || !strncmp(s + i, "nd", 2) || !strncmp(s + i, "rd", 2) ||
         !strncmp(s + i, "th", 2)))
        return i;
    /* glued letters (5kg, mp3's tail), °, currency and other non-ASCII signs */
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '_' ||
                     ((unsigned char)s[i] >= 0x80 && !is_u8_punct(s + i, n - i))))
        i += u8_len((unsigned char)s[i]);
    return i > n ? n : i;
}

typedef struct {
    dg_prot_span *v;
    int n, cap;
} span_list;

static int push(span_list *l, size_t start, size_t len, dg_prot_kind kind)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        dg_prot_span *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (dg_prot_span){.start = start, .len = len, .kind = kind};
    return 0;
}

/* Trims a word's leading and trailing punctuation that is not part of what it holds: quotes,
 * sentence punctuation, and brackets that are not matched inside. */
static void trim_word(const char *t, size_t *a, size_t *b)
{
    while (*b > *a) {
        char c = t[*b - 1];
        if ((in(".,;:!?\"'", c) || (c == ')' && !memchr(t + *a, '(', *b - 1 - *a)) ||
                  (c == ']' && !memchr(t + *a, '[', *b - 1 - *a))))
            (*b)--;
        else
            break;
    }
    while (*a < *b && (in("\"'[", t[*a]) ||
                       (t[*a] == '(' && !memchr(t + *a + 1, ')', *b - *a - 1))))
        (*a)++;
}

static int scan_word(const dg_tokenizer *tok, unk_cache *uc, const char *t, size_t a, size_t b,
                     span_list *l)
{
    trim_word(t, &a, &b);
    if (a >= b)
        return 0;
    const char *w = t + a;
    size_t n = b - a;
    if (is_url(w, n))
        return push(l, a, n, DG_PROT_URL);
    if (is_email(w, n))
        return push(l, a, n, DG_PROT_EMAIL);
    for (size_t i = 0; i < n; i += u8_len((unsigned char)w[i]))
        if ((unsigned char)w[i] >= 0x80) {
            size_t cl = u8_len((unsigned char)w[i]);
            if (i + cl <= n && char_is_unk(tok, uc, w + i, cl))
                return push(l, a, n, DG_PROT_UNK);
        }
    size_t ph0 = 0;
    for (size_t i = 0; i < n; i++)
        if (placeholder_at(w + i, n - i))
            ph0 = 1;
    if (!ph0 && is_file(w, n))
        return push(l, a, n, DG_PROT_FILE);
    for (size_t i = 0; i < n;) {
        size_t k = placeholder_at(w + i, n - i);
        dg_prot_kind kind = DG_PROT_PLACEHOLDER;
        if (!k && isdigit((unsigned char)w[i]) && (i == 0 || !is_alnum((unsigned char)w[i - 1]))) {
            k = number_at(w + i, n - i);
            kind = DG_PROT_NUMBER;
        }
        if (!k && isdigit((unsigned char)w[i])) {
            /* digits inside a word (X1, H2O): the whole alphanumeric run */
            size_t s = i, e = i;
            while (s > 0 && is_alnum((unsigned char)w[s - 1]))
                s--;
            while (e < n && is_alnum((unsigned char)w[e]))
                e++;
            if (l->n && l->v[l->n - 1].start + l->v[l->n - 1].len > a + s)
                s = l->v[l->n - 1].start + l->v[l->n - 1].len - a; /* after the previous span */
            if (push(l, a + s, e - s, DG_PROT_NUMBER))
                return -1;
            i = e;
            continue;
        }
        if (!k) {
            i += u8_len((unsigned char)w[i]);
            continue;
        }
        /* a currency sign just before a number belongs to it */
        size_t s = i;
        if (kind == DG_PROT_NUMBER && s > 0 && in("$", w[s - 1]))
            s--;
        else if (kind == DG_PROT_NUMBER && s >= 2 && (!memcmp(w + s - 2, "\xc2\xa3", 2) ||
                                                      !memcmp(w + s - 2, "\xc2\xa5", 2)))
            s -= 2;
        else if (kind == DG_PROT_NUMBER && s >= 3 && !memcmp(w + s - 3, "\xe2\x82\xac", 3))
            s -= 3;
        if (push(l, a + s, i + k - s, kind))
            return -1;
        i += k;
    }
    return 0;
}

/* A number followed by a unit word ("5 kg", "20 °C") takes the unit in. */
static void join_units(const char *t, size_t len, span_list *l)
{
    for (int i = 0; i < l->n; i++) {
        dg_prot_span *s = &l->v[i];
        if (s->kind != DG_PROT_NUMBER)
            continue;
        size_t e = s->start + s->len;
        if (e >= len || t[e] != ' ')
            continue;
        size_t u = e + 1, ue = u;
        while (ue < len && !is_space((unsigned char)t[ue]) && !in(".,;:!?)", t[ue]))
            ue++;
        if (ue == u || !is_unit(t + u, ue - u))
            continue;
        if (i + 1 < l->n && l->v[i + 1].start < ue) {
            /* the unit is a span of its own ("°C" holds <unk>): one span of both */
            if (l->v[i + 1].start != u || l->v[i + 1].start + l->v[i + 1].len != ue)
                continue;
            memmove(&l->v[i + 1], &l->v[i + 2], (size_t)(l->n - i - 2) * sizeof *l->v);
            l->n--;
        }
        s->len = ue - s->start;
    }
}

void dg_protect_free(dg_protect *p)
{
    if (!p)
        return;
    free(p->text);
    free(p->masked);
    free(p->spans);
    memset(p, 0, sizeof *p);
}

/* The forced ranges into l (sorted by start): each replaces the detected spans it overlaps. */
static int force_ranges(span_list *l, const dg_prot_range *f, int nf)
{
    int k = 0, n = 0;
    for (int i = 0; i < l->n; i++) {  /* drop the detected spans a forced range overlaps */
        const dg_prot_span *s = &l->v[i];
        while (k < nf && (f[k].len == 0 || f[k].start + f[k].len <= s->start))
            k++;
        if (k < nf && f[k].start < s->start + s->len)
            continue;
        l->v[n++] = *s;
    }
    l->n = n;
    for (int i = 0; i < nf; i++)
        if (f[i].len && push(l, f[i].start, f[i].len, DG_PROT_FORCED))
            return -1;
    /* merge the two sorted runs (detected [0, n), forced [n, l->n)) by start */
    dg_prot_span *m = malloc((size_t)(l->n ? l->n : 1) * sizeof *m);
    if (!m)
        return -1;
    for (int a = 0, b = n, o = 0; o < l->n; o++)
        m[o] = b >= l->n || (a < n && l->v[a].start < l->v[b].start) ? l->v[a++] : l->v[b++];
    memcpy(l->v, m, (size_t)l->n * sizeof *m);
    free(m);
    return 0;
}

/* Whether the tokenizer spells s[0..n) without <unk> (decoding gives it back). */
static bool spelled_exactly(const dg_tokenizer *tok, const char *s, size_t n)
{
    int *ids = NULL, m = 0, unk = dg_tokenizer_unk_id(tok);
    dg_err err;
    bool ok = dg_tokenizer_encode(tok, DG_SIDE_SOURCE, s, n, &ids, &m, &err) == DG_OK;
    for (int i = 0; ok && i < m; i++)
        ok = ids[i] != unk;
    free(ids);
    return ok;
}

/* Whether text[0..len) holds the number v as a whole digit run (labels avoid those). */
static bool has_digit_run(const char *text, size_t len, long v)
{
    for (size_t i = 0; i < len;) {
        if (!isdigit((unsigned char)text[i])) {
            i++;
            continue;
        }
        long k = 0;
        size_t e = i;
        for (; e < len && isdigit((unsigned char)text[e]); e++)
            k = k < 100000000 ? k * 10 + (text[e] - '0') : k;
        if (k == v && e - i < 10)
            return true;
        i = e;
    }
    return false;
}

dg_code dg_protect_text(const dg_tokenizer *tok, const char *text, size_t len, dg_protect *p,
                   dg_err *err)
{
    return dg_protect_text_forced(tok, text, len, true, NULL, 0, p, err);
}

dg_code dg_protect_text_forced(const dg_tokenizer *tok, const char *text, size_t len, bool detect,
                               const dg_prot_range *forced, int n_forced, dg_protect *p,
                               dg_err *err)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < n_forced; i++)
        if (forced[i].start + forced[i].len > len ||
            (i && forced[i].start < forced[i - 1].start + forced[i - 1].len))
            return dg_err_set(err, DG_E_INPUT, "protected range %d is outside the text or not "
                              "after the one before", i);
    span_list l = {0};
    unk_cache uc;
    memset(&uc, 0, sizeof uc);
    for (size_t i = 0; detect && i < len;) {
        while (i < len && is_space((unsigned char)text[i]))
            i++;
        size_t a = i;
        while (i < len && !is_space((unsigned char)text[i]))
            i++;
        if (i > a && scan_word(tok, &uc, text, a, i, &l)) {
            free(l.v);
            return dg_err_set(err, DG_E_NOMEM, "protected spans: out of memory");
        }
    }
    /* without detection, numbers are still spans (kept as themselves) when anything is
     * masked: restoring drops every digit run that is neither a span nor a label */
    for (size_t i = 0; !detect && n_forced && i < len;) {
        size_t a = i;
        while (i < len && isdigit((unsigned char)text[i]))
            i++;
        if (i > a && push(&l, a, i - a, DG_PROT_NUMBER)) {
            free(l.v);
            return dg_err_set(err, DG_E_NOMEM, "protected spans: out of memory");
        }
        i += i == a;
    }
    join_units(text, len, &l);
    if (n_forced && force_ranges(&l, forced, n_forced)) {
        free(l.v);
        return dg_err_set(err, DG_E_NOMEM, "protected spans: out of memory");
    }
    /* masked text: a placeholder or number the vocabulary spells exactly stays as itself (the
     * model copies %s, {0}, 3.5 as they are, and translates better around them than around a
     * bare number standing for them); every other span becomes a label number, one no digit run
     * of the text spells, with a space where it would touch a letter or digit (two must not
     * merge) */
    size_t cap = len + (size_t)l.n * 16 + 1;
    p->text = malloc(len + 1);
    p->masked = malloc(cap);
    if (!p->text || !p->masked) {
        free(l.v);
        dg_protect_free(p);
        return dg_err_set(err, DG_E_NOMEM, "protected spans: out of memory");
    }
    memcpy(p->text, text, len);
    p->text[len] = 0;
    p->len = len;
    size_t o = 0, prev = 0;
    long label = 0;
    for (int k = 0; k < l.n; k++) {
        dg_prot_span *s = &l.v[k];
        memcpy(p->masked + o, text + prev, s->start - prev);
        o += s->start - prev;
        s->literal = (s->kind == DG_PROT_PLACEHOLDER || s->kind == DG_PROT_NUMBER) &&
                     spelled_exactly(tok, text + s->start, s->len);
        if (s->literal) {
            s->m_start = o;
            memcpy(p->masked + o, text + s->start, s->len);
            o += s->len;
            s->m_len = s->len;
            prev = s->start + s->len;
            continue;
        }
        if (o > 0 && (is_alnum((unsigned char)p->masked[o - 1]) ||
                      (unsigned char)p->masked[o - 1] >= 0x80)) {
            p->masked[o++] = ' ';
            s->pad_before = 1;
        }
        do
            label++;
        while (has_digit_run(text, len, label));
        s->m_start = o;
        o += (size_t)snprintf(p->masked + o, 16, "%ld", label);
        s->m_len = o - s->m_start;
        prev = s->start + s->len;
        if (prev < len && (is_alnum((unsigned char)text[prev]) || (unsigned char)text[prev] >= 0x80)) {
            p->masked[o++] = ' ';
            s->pad_after = 1;
        }
    }
    memcpy(p->masked + o, text + prev, len - prev);
    o += len - prev;
    p->masked[o] = 0;
    p->masked_len = o;
    p->spans = l.v;
    p->n = l.n;
    return DG_OK;
}

/* --- token offsets ---------------------------------------------------------------------- */

void dg_token_offsets_free(dg_token_offsets *o)
{
    free(o->src_start);
    free(o->src_end);
    free(o->tgt_start);
    free(o->tgt_end);
    memset(o, 0, sizeof *o);
}

dg_code dg_token_offsets_make(const dg_tokenizer *tok, const char *masked,
                              const char *translation, const dg_align_view *v,
                              dg_token_offsets *o, dg_err *err)
{
    memset(o, 0, sizeof *o);
    int ns = v->n_src > 0 ? v->n_src : 1, nt = v->n_tgt > 0 ? v->n_tgt : 1;
    o->src_start = malloc((size_t)ns * sizeof(int));
    o->src_end = malloc((size_t)ns * sizeof(int));
    o->tgt_start = malloc((size_t)nt * sizeof(int));
    o->tgt_end = malloc((size_t)nt * sizeof(int));
    if (!o->src_start || !o->src_end || !o->tgt_start || !o->tgt_end) {
        dg_token_offsets_free(o);
        return dg_err_set(err, DG_E_NOMEM, "alignment: out of memory");
    }
    /* source: each piece's text (SentencePiece's U+2581 word marker dropped) is looked for at
     * the cursor, after whitespace; specials and pieces the text does not hold get -1 */
    size_t ml = strlen(masked), cur = 0;
    for (int i = 0; i < v->n_src; i++) {
        const char *piece = dg_tokenizer_token(tok, DG_SIDE_SOURCE, v->src_ids[i]);
        o->src_start[i] = o->src_end[i] = -1;
        if (!piece)
            continue;
        if (!strncmp(piece, "\xe2\x96\x81", 3))
            piece += 3;
        size_t pl = strlen(piece), c = cur;
        while (c < ml && is_space((unsigned char)masked[c]))
            c++;
        if (pl && c + pl <= ml && !memcmp(masked + c, piece, pl)) {
            o->src_start[i] = (int)c;
            o->src_end[i] = (int)(c + pl);
            cur = c + pl;
        }
    }
    /* target: the decoded text of each prefix grows by the token's text (decoding is
     * deterministic and left to right); a token that adds nothing has no text */
    int prev = 0;
    size_t tl = strlen(translation);
    for (int i = 0; i < v->n_tgt; i++) {
        char *s = NULL;
        o->tgt_start[i] = o->tgt_end[i] = -1;
        if (dg_tokenizer_decode(tok, v->tgt_ids, i + 1, true, &s, err)) {
            dg_token_offsets_free(o);
            return err ? err->code : DG_E_INPUT;
        }
        int e = (int)strlen(s);
        free(s);
        if (e > (int)tl)
            e = (int)tl;
        if (e > prev) {
            int st = prev;
            while (st < e && is_space((unsigned char)translation[st]))
                st++;
            o->tgt_start[i] = st;
            o->tgt_end[i] = e;
            prev = e;
        }
    }
    return DG_OK;
}

/* --- restoring -------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap ? 2 * b->cap : 64) + n;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* Where in the translation a lost span k goes: after the word holding the target token that
 * attends most to k's placeholder tokens; -1 when the alignment cannot say. */
static long aligned_place(const dg_protect *p, int k, const char *tr, const dg_align_view *v,
                          const dg_token_offsets *off)
{
    const dg_prot_span *s = &p->spans[k];
    int best = -1;
    float bw = 0;
    for (int t = 0; t < v->n_tgt; t++) {
        if (off->tgt_start[t] < 0)
            continue;
        float w = 0;
        for (int j = 0; j < v->n_src; j++)
            if (off->src_start[j] >= 0 && (size_t)off->src_start[j] < s->m_start + s->m_len &&
                (size_t)off->src_end[j] > s->m_start)
                w += v->align[(size_t)t * v->n_src + j];
        if (w > bw) {
            bw = w;
            best = t;
        }
    }
    if (best < 0)
        return -1;
    size_t e = (size_t)off->tgt_end[best], n = strlen(tr);
    while (e < n && !is_space((unsigned char)tr[e]))
        e++;
    /* keep the word's trailing punctuation after the span */
    while (e > (size_t)off->tgt_start[best] && in(".,;:!?", tr[e - 1]))
        e--;
    return (long)e;
}

/* Before the final punctuation (and closing quotes) of the translation. */
static long end_place(const char *tr)
{
    size_t e = strlen(tr);
    while (e > 0 && (is_space((unsigned char)tr[e - 1]) || in(".!?\"')", tr[e - 1])))
        e--;
    return (long)e;
}

typedef struct {
    long at;
    int k;
} insertion;

static int cmp_ins(const void *a, const void *b)
{
    const insertion *x = a, *y = b;
    return x->at != y->at ? (x->at < y->at ? -1 : 1) : x->k - y->k;
}

dg_code dg_protect_restore(const dg_protect *p, const dg_tokenizer *tok, const char *translation,
                           const dg_align_view *v, char **out, int *map, dg_err *err)
{
    *out = NULL;
    size_t n = strlen(translation);
    if (!p->n) {
        if (!(*out = strdup(translation)))
            return dg_err_set(err, DG_E_NOMEM, "protected spans: out of memory");
        for (size_t i = 0; map && i <= n; i++)
            map[i] = (int)i;
        return DG_OK;
    }
    unsigned char *used = calloc((size_t)p->n, 1);
    insertion *ins = calloc((size_t)p->n, sizeof *ins);
    /* what the translation holds of the spans: at a literal span's text, a digit run or a
     * placeholder, the first of each span is kept, the rest (repeats, numbers and placeholders
     * the model made up) dropped */
    long *run_at = calloc(n + 1, sizeof *run_at); /* start -> k + 1 kept, -1 dropped */
    size_t *run_len = calloc(n + 1, sizeof *run_len);
    dg_token_offsets off = {0};
    sbuf b = {0};
    dg_code rc = DG_OK;
    if (!used || !ins || !run_at || !run_len)
        goto nomem;
    for (size_t i = 0; i < n;) {
        int best = -1;
        size_t bl = 0;
        for (int k = 0; k < p->n; k++) {
            const dg_prot_span *s = &p->spans[k];
            const char *t = p->text + s->start;
            if (!s->literal || s->len < bl || i + s->len > n || memcmp(translation + i, t, s->len) ||
                (isdigit((unsigned char)t[0]) && i > 0 &&
                 isdigit((unsigned char)translation[i - 1])) ||
                (isdigit((unsigned char)t[s->len - 1]) && i + s->len < n &&
                 isdigit((unsigned char)translation[i + s->len])))
                continue;
            if (best < 0 || s->len > bl || (used[best] && !used[k])) {
                best = k;
                bl = s->len;
            }
        }
        if (best < 0 && isdigit((unsigned char)translation[i]) &&
            (i == 0 || !isdigit((unsigned char)translation[i - 1]))) {
            long lab = 0;
            for (bl = 0; i + bl < n && isdigit((unsigned char)translation[i + bl]); bl++)
                lab = lab < 100000000 ? lab * 10 + (translation[i + bl] - '0') : lab;
            for (int k = 0; k < p->n && best < 0; k++)
                if (!p->spans[k].literal && strtol(p->masked + p->spans[k].m_start, NULL, 10) == lab)
                    best = k;
            if (best < 0) {
                run_at[i] = -1;
                run_len[i] = bl;
            }
        } else if (best < 0 && (bl = placeholder_at(translation + i, n - i)) &&
                   !memchr(translation + i, ' ', bl)) {
            run_at[i] = -1;  /* a placeholder the model made up (the source's are literal) */
            run_len[i] = bl;
        }
        if (best >= 0) {
            run_at[i] = used[best] ? -1 : best + 1;
            run_len[i] = bl;
            used[best] = 1;
        }
        i += run_len[i] ? run_len[i] : 1;
    }
    int n_ins = 0;
    bool have_off = false;
    for (int k = 0; k < p->n; k++) {
        if (used[k])
            continue;
        long at = -1;
        if (v && v->align && !have_off) {
            if (dg_token_offsets_make(tok, p->masked, translation, v, &off, err)) {
                rc = err ? err->code : DG_E_NOMEM;
                goto out;
            }
            have_off = true;
        }
        if (have_off)
            at = aligned_place(p, k, translation, v, &off);
        ins[n_ins++] = (insertion){at >= 0 ? at : end_place(translation), k};
    }
    qsort(ins, (size_t)n_ins, sizeof *ins, cmp_ins);
    int next = 0;
    for (size_t i = 0; i <= n;) {
        while (next < n_ins && (size_t)ins[next].at == i) {
            const dg_prot_span *s = &p->spans[ins[next].k];
            bool sp_before = i > 0 && !is_space((unsigned char)translation[i - 1]) &&
                             !(b.n && is_space((unsigned char)b.p[b.n - 1]));
            if ((sp_before && sb_put(&b, " ", 1)) || sb_put(&b, p->text + s->start, s->len) ||
                (i < n && !is_space((unsigned char)translation[i]) &&
                 !in(".,;:!?", translation[i]) && sb_put(&b, " ", 1)))
                goto nomem;
            next++;
        }
        if (map)
            map[i] = (int)b.n;
        if (i == n)
            break;
        if (run_at[i]) {
            size_t e = i + run_len[i];
            for (size_t q = i; map && q < e; q++)
                map[q] = (int)b.n;
            if (run_at[i] > 0) {
                const dg_prot_span *s = &p->spans[run_at[i] - 1];
                /* the spaces masking padded a label with go again: the span touches what it
                 * touched in the source */
                if (s->pad_before && b.n >= 2 && b.p[b.n - 1] == ' ' &&
                    !is_space((unsigned char)b.p[b.n - 2]))
                    b.n--;
                if (sb_put(&b, p->text + s->start, s->len))
                    goto nomem;
                if (s->pad_after && e + 1 < n && translation[e] == ' ' &&
                    !is_space((unsigned char)translation[e + 1])) {
                    if (map)
                        map[e] = (int)b.n;
                    e++;
                }
            } else if (b.n && b.p[b.n - 1] == ' ' &&
                       (e == n || translation[e] == ' ' || in(".,;:!?", translation[e])))
                b.n--;  /* a dropped number takes one space with it */
            i = e;
            continue;
        }
        if (sb_put(&b, translation + i, 1))
            goto nomem;
        i++;
    }
    if (!b.p && sb_put(&b, "", 0))
        goto nomem;
    b.p[b.n] = 0;  /* a dropped span's space may have gone last */
    *out = b.p;
    b.p = NULL;
    goto out;
nomem:
    rc = dg_err_set(err, DG_E_NOMEM, "protected spans: out of memory");
out:
    free(b.p);
    free(used);
    free(ins);
    free(run_at);
    free(run_len);
    dg_token_offsets_free(&off);
    return rc;
}
