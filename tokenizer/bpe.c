/* DESIGN: GPT-2 / BART byte-level BPE as BartTokenizer does it (transformers 4.40):
 *   - pre-tokenisation with the GPT-2 pattern (Python `regex` module), run here by PCRE2 in
 *     UTF + UCP mode so \p{L}, \p{N} and \s are the Unicode classes;
 *   - each chunk's UTF-8 bytes mapped to printable characters (bytes_to_unicode);
 *   - merges applied by rank: the lowest-ranked adjacent pair, every occurrence left to right,
 *     until no pair has a rank (BartTokenizer.bpe);
 *   - a cache of chunk -> ids, as BartTokenizer.cache, guarded by a mutex since one tokenizer
 *     serves many threads; it is emptied when it reaches DG_BPE_CACHE entries.
 * The merge loop is quadratic in a chunk's length, as HF's is: a chunk is a run of letters,
 * digits, punctuation or spaces, so only hostile input makes it long.
 * merges.txt is read as HF reads it: split on "\n", the first line (#version) and the last
 * element (empty after the final newline) dropped. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/hf_internal.h"

#define DG_BPE_CACHE 65536     /* chunks cached at most */
#define DG_BPE_CACHE_CHUNK 256 /* bytes of the longest chunk cached */

static const char *const gpt2_pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef struct {
    char *key; /* "first second" for merges; the mapped chunk for the cache */
    size_t len;
    int rank;  /* merges: rank; cache: offset into ids */
    int n;     /* cache: number of ids */
} entry;

typedef struct {
    entry *slots;
    size_t cap, used;
} table;

struct dg_bpe {
    const dg_vocab *vocab;
    pcre2_code *re;
    char enc[256][3]; /* byte -> UTF-8 of its printable stand-in (NUL-terminated) */
    int dec[324];     /* stand-in code point -> byte, -1 when none */
    table merges;
    pthread_mutex_t lock; /* guards cache and cache_ids */
    table cache;
    int *cache_ids;
    size_t cache_n, cache_cap;
};

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static entry *table_find(const table *t, const char *k, size_t len)
{
    if (!t->cap)
        return NULL;
    for (size_t i = fnv1a(k, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        entry *e = &t->slots[i];
        if (!e->key)
            return NULL;
        if (e->len == len && !memcmp(e->key, k, len))
            return e;
    }
}

/* Inserts (a copy of) k unless present; returns the slot, NULL when out of memory. */
static entry *table_put(table *t, const char *k, size_t len, bool *fresh)
{
    if ((t->used + 1) * 2 > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        entry *s = calloc(cap, sizeof *s);
        if (!s)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].key)
                continue;
            size_t j = fnv1a(t->slots[i].key, t->slots[i].len) & (cap - 1);
            while (s[j].key)
                j = (j + 1) & (cap - 1);
            s[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = s;
        t->cap = cap;
    }
    size_t i = fnv1a(k, len) & (t->cap - 1);
    for (; t->slots[i].key; i = (i + 1) & (t->cap - 1))
        if (t->slots[i].len == len && !memcmp(t->slots[i].key, k, len)) {
            *fresh = false;
            return &t->slots[i];
        }
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, k, len);
    copy[len] = 0;
    t->slots[i] = (entry){copy, len, 0, 0};
    t->used++;
    *fresh = true;
    return &t->slots[i];
}

static void table_clear(table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    *t = (table){0};
}

/* bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for 256 + n. */
static void byte_map(dg_bpe *b)
{
    for (int i = 0; i < 324; i++)
        b->dec[i] = -1;
    int n = 0;
    for (int c = 0; c < 256; c++) {
        bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE);
        int cp = printable ? c : 256 + n++;
        b->dec[cp] = c;
        if (cp < 0x80) {
            b->enc[c][0] = (char)cp;
            b->enc[c][1] = 0;
        } else {
            b->enc[c][0] = (char)(0xC0 | (cp >> 6));
            b->enc[c][1] = (char)(0x80 | (cp & 0x3F));
            b->enc[c][2] = 0;
        }
    }
}

void dg_bpe_free(dg_bpe *b)
{
    if (!b)
        return;
    pcre2_code_free(b->re);
    table_clear(&b->merges);
    table_clear(&b->cache);
    free(b->cache_ids);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static dg_code read_merges(dg_bpe *b, const char *path, dg_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dg_err_set(err, DG_E_IO, "%s: cannot open merges file", path);
    char *data = NULL;
    size_t n = 0, cap = 0, got;
    char buf[65536];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (n + got + 1 > cap) {
            cap = (n + got + 1) * 2;
            char *d = realloc(data, cap);
            if (!d) {
                free(data);
                fclose(f);
                return dg_err_set(err, DG_E_NOMEM, "%s: out of memory", path);
            }
            data = d;
        }
        memcpy(data + n, buf, got);
        n += got;
    }
    fclose(f);
    dg_code rc = DG_OK;
    /* lines 1 .. count-2 of split("\n") */
    size_t line = 0, start = 0;
    int rank = 0;
    for (size_t i = 0; i < n && rc == DG_OK; i++) {
        if (data[i] != '\n')
            continue;
        if (line++ > 0) {
            /* merge.split(): two fields separated by whitespace */
            const char *l = data + start;
            size_t len = i - start, a0 = 0;
            while (a0 < len && (l[a0] == ' ' || l[a0] == '\t' || l[a0] == '\r'))
                a0++;
            size_t a1 = a0;
            while (a1 < len && l[a1] != ' ' && l[a1] != '\t' && l[a1] != '\r')
                a1++;
            size_t b0 = a1;
            while (b0 < len && (l[b0] == ' ' || l[b0] == '\t' || l[b0] == '\r'))
                b0++;
            size_t b1 = b0;
            while (b1 < len && l[b1] != ' ' && l[b1] != '\t' && l[b1] != '\r')
                b1++;
            size_t e = b1;
            while (e < len && (l[e] == ' ' || l[e] == '\t' || l[e] == '\r'))
                e++;
            if (a1 == a0 || b1 == b0 || e != len) {
                rc = dg_err_set(err, DG_E_FORMAT, "%s:%zu: not a merge \"first second\"", path,
                                line);
                break;
            }
            char key[1024];
            if ((a1 - a0) + (b1 - b0) + 1 > sizeof key) {
                rc = dg_err_set(err, DG_E_FORMAT, "%s:%zu: merge too long", path, line);
                break;
            }
            memcpy(key, l + a0, a1 - a0);
            key[a1 - a0] = ' ';
            memcpy(key + a1 - a0 + 1, l + b0, b1 - b0);
            bool fresh;
            entry *en = table_put(&b->merges, key, (a1 - a0) + (b1 - b0) + 1, &fresh);
            if (!en)
                rc = dg_err_set(err, DG_E_NOMEM, "%s: out of memory", path);
            else
                en->rank = rank; /* dict(zip(merges, range(...))): the last duplicate wins */
            rank++;
        }
        start = i + 1;
    }
    free(data);
    return rc;
}

dg_code dg_bpe_load(const char *merges_path, const dg_vocab *vocab, dg_bpe **out, dg_err *err)
{
    *out = NULL;
    dg_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return dg_err_set(err, DG_E_NOMEM, "out of memory loading BPE");
    pthread_mutex_init(&b->lock, NULL);
    b->vocab = vocab;
    byte_map(b);
    int ec;
    PCRE2_SIZE eo;
    b->re = pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                          &ec, &eo, NULL);
    if (!b->re) {
        dg_bpe_free(b);
        return dg_err_set(err, DG_E_INTERNAL, "pcre2: cannot compile the GPT-2 pattern (%d)", ec);
    }
    pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
    dg_code rc = read_merges(b, merges_path, err);
    if (rc != DG_OK) {
        dg_bpe_free(b);
        return rc;
    }
    *out = b;
    return DG_OK;
}

/* ===== the merge loop ===== */

typedef struct {
    size_t off, len; /* a symbol: bytes of the mapped chunk */
} sym;

static int pair_rank(const dg_bpe *b, const char *w, const sym *x, const sym *y, char *key)
{
    memcpy(key, w + x->off, x->len);
    key[x->len] = ' ';
    memcpy(key + x->len + 1, w + y->off, y->len);
    const entry *e = table_find(&b->merges, key, x->len + y->len + 1);
    return e ? e->rank : -1;
}

/* BartTokenizer.bpe on the mapped chunk w[0..len): the pieces' ids into *ids (malloc'd). */
static dg_code bpe_word(const dg_bpe *b, const char *w, size_t len, int unk_id, int **ids,
                        int *n, dg_err *err)
{
    sym *s = malloc((len + 1) * sizeof *s);
    sym *t = malloc((len + 1) * sizeof *t);
    char *key = malloc(len + 2);
    if (!s || !t || !key) {
        free(s), free(t), free(key);
        return dg_err_set(err, DG_E_NOMEM, "out of memory for a %zu-byte word", len);
    }
    size_t ns = 0;
    for (size_t i = 0; i < len;) { /* tuple(token): one symbol per character */
        unsigned char c = (unsigned char)w[i];
        size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (l > len - i)
            l = len - i;
        s[ns++] = (sym){i, l};
        i += l;
    }
    while (ns > 1) {
        int best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            int r = pair_rank(b, w, &s[i], &s[i + 1], key);
            if (r >= 0 && (best < 0 || r < best))
                best = r, at = i;
        }
        if (best < 0)
            break;
        sym first = s[at], second = s[at + 1];
        size_t nt = 0;
        for (size_t i = 0; i < ns;) {
            size_t j = i;
            while (j < ns && !(s[j].len == first.len && !memcmp(w + s[j].off, w + first.off,
                                                               first.len)))
                j++;
            while (i < j)
                t[nt++] = s[i++];
            if (i == ns)
                break;
            if (i + 1 < ns && s[i + 1].len == second.len &&
                !memcmp(w + s[i + 1].off, w + second.off, second.len)) {
                t[nt++] = (sym){s[i].off, s[i].len + s[i + 1].len};
                i += 2;
            } else {
                t[nt++] = s[i++];
            }
        }
        sym *swap = s;
        s = t;
        t = swap;
        ns = nt;
    }
    int *out = malloc((ns ? ns : 1) * sizeof *out);
    if (out)
        for (size_t i = 0; i < ns; i++) {
            int id = dg_vocab_find(b->vocab, w + s[i].off, s[i].len);
            out[i] = id >= 0 ? id : unk_id;
        }
    free(s), free(t), free(key);
    if (!out)
        return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu ids", ns);
    *ids = out;
    *n = (int)ns;
    return DG_OK;
}

/* The ids of one mapped chunk, from the cache or computed and cached. */
static dg_code chunk_ids(dg_bpe *b, const char *w, size_t len, int unk_id, dg_id_fn push,
                         void *ctx, dg_err *err)
{
    dg_code rc = DG_OK;
    pthread_mutex_lock(&b->lock);
    const entry *e = table_find(&b->cache, w, len);
    if (e) {
        for (int i = 0; i < e->n && rc == DG_OK; i++)
            rc = push(ctx, b->cache_ids[e->rank + i], err);
        pthread_mutex_unlock(&b->lock);
        return rc;
    }
    pthread_mutex_unlock(&b->lock);
    int *ids = NULL, n = 0;
    if ((rc = bpe_word(b, w, len, unk_id, &ids, &n, err)) != DG_OK)
        return rc;
    for (int i = 0; i < n && rc == DG_OK; i++)
        rc = push(ctx, ids[i], err);
    /* cache it; a full cache starts over, and a failed allocation only skips caching. Long
     * chunks are rare words or hostile input: not worth their memory. */
    if (len > DG_BPE_CACHE_CHUNK) {
        free(ids);
        return rc;
    }
    pthread_mutex_lock(&b->lock);
    if (b->cache.used >= DG_BPE_CACHE) {
        table_clear(&b->cache);
        b->cache_n = 0;
    }
    if (b->cache_n + (size_t)n > b->cache_cap) {
        size_t cap = (b->cache_n + (size_t)n) * 2 + 1024;
        int *v = realloc(b->cache_ids, cap * sizeof *v);
        if (v)
            b->cache_ids = v, b->cache_cap = cap;
    }
    bool fresh;
    entry *slot;
    if (b->cache_n + (size_t)n <= b->cache_cap && b->cache_n + (size_t)n < INT32_MAX &&
        (slot = table_put(&b->cache, w, len, &fresh)) && fresh) {
        memcpy(b->cache_ids + b->cache_n, ids, (size_t)n * sizeof *ids);
        slot->rank = (int)b->cache_n;
        slot->n = n;
        b->cache_n += (size_t)n;
    }
    pthread_mutex_unlock(&b->lock);
    free(ids);
    return rc;
}

dg_code dg_bpe_encode(dg_bpe *b, const char *text, size_t len, int unk_id, dg_id_fn push,
                      void *ctx, dg_err *err)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(b->re, NULL);
    char *w = malloc(2 * len + 1);
    if (!md || !w) {
        pcre2_match_data_free(md);
        free(w);
        return dg_err_set(err, DG_E_NOMEM, "out of memory for %zu bytes", len);
    }
    dg_code rc = DG_OK;
    PCRE2_SIZE off = 0;
    while (off < len && rc == DG_OK) {
        int m = pcre2_match(b->re, (PCRE2_SPTR)text, len, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0) {
            rc = dg_err_set(err, DG_E_INTERNAL, "pcre2 match failed (%d)", m);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] <= ov[0]) { /* the pattern has no empty match; stay safe anyway */
            off = ov[0] + 1;
            continue;
        }
        size_t wl = 0;
        for (size_t i = ov[0]; i < ov[1]; i++) {
            const char *c = b->enc[(unsigned char)text[i]];
            size_t cl = strlen(c);
            memcpy(w + wl, c, cl);
            wl += cl;
        }
        rc = chunk_ids(b, w, wl, unk_id, push, ctx, err);
        off = ov[1];
    }
    pcre2_match_data_free(md);
    free(w);
    return rc;
}

dg_code dg_bpe_piece_bytes(const dg_bpe *b, const char *piece, size_t len, char **buf, size_t *n, size_t *cap,
                           dg_err *err)
{
    if (*n + len + 1 > *cap) {
        size_t c = (*n + len + 1) * 2;
        char *v = realloc(*buf, c);
        if (!v)
            return dg_err_set(err, DG_E_NOMEM, "out of memory decoding bytes");
        *buf = v;
        *cap = c;
    }
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)piece[i];
        uint32_t cp;
        size_t l;
        if (c < 0x80)
            cp = c, l = 1;
        else if ((c & 0xE0) == 0xC0 && i + 1 < len)
            cp = ((uint32_t)(c & 0x1F) << 6) | ((unsigned char)piece[i + 1] & 0x3F), l = 2;
        else
            cp = 0xFFFFFFFFu, l = 1;
        int byte = cp < 324 ? b->dec[cp] : -1;
        if (byte < 0)
            return dg_err_set(err, DG_E_INPUT,
                              "decode: token \"%.*s\" has a character outside the byte-level "
                              "alphabet", (int)(len < 64 ? len : 64), piece);
        (*buf)[(*n)++] = (char)byte;
        i += l;
    }
    return DG_OK;
}

/* Python's UTF-8 decoder with errors="replace": one U+FFFD per maximal ill-formed subpart. */
char *dg_utf8_replace_invalid(const char *str, size_t n, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)str;
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            out[o++] = (char)c;
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 3;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 4;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            need = 0;
        }
        size_t got = 1;
        if (need) {
            while (got < need && i + got < n) {
                unsigned char d = s[i + got];
                if (got == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF))
                    break;
                got++;
            }
        }
        if (need && got == need) {
            memcpy(out + o, s + i, need);
            o += need;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        i += got;
    }
    out[o] = 0;
    *out_len = o;
    return out;
}
