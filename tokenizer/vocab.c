/* DESIGN: see vocab.h. jansson parses the file once; the pieces are then copied into one arena
 * and indexed by a linear-probing hash table of entry indices (capacity a power of two, load
 * factor <= 1/2, FNV-1a), so lookups on the encode path touch no allocator. */
#include "tokenizer/vocab.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct dg_vocab {
    int n;            /* entries, in file order */
    char *arena;      /* every piece, NUL-terminated, back to back */
    size_t *off;      /* [n] piece offset in arena */
    size_t *len;      /* [n] piece length */
    int *ids;         /* [n] */
    int32_t *slots;   /* [cap] entry index or -1 */
    size_t cap;
    int32_t *by_id;   /* [id_limit] entry index or -1 */
    int id_limit;
};

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void dg_vocab_free(dg_vocab *v)
{
    if (!v)
        return;
    free(v->arena);
    free(v->off);
    free(v->len);
    free(v->ids);
    free(v->slots);
    free(v->by_id);
    free(v);
}

/* Inserts entry e into the first free slot of its probe chain (jansson keeps one value per key,
 * so keys are unique). */
static void insert(dg_vocab *v, int e)
{
    size_t mask = v->cap - 1;
    size_t i = fnv1a(v->arena + v->off[e], v->len[e]) & mask;
    while (v->slots[i] >= 0)
        i = (i + 1) & mask;
    v->slots[i] = e;
}

static dg_code build(dg_vocab *v, json_t *root, const char *path, dg_err *err)
{
    size_t n = json_object_size(root);
    if (n == 0)
        return dg_err_set(err, DG_E_FORMAT, "%s: empty vocabulary", path);
    if (n > DG_VOCAB_MAX_ID)
        return dg_err_set(err, DG_E_FORMAT, "%s: %zu entries, more than the limit %d", path, n,
                          DG_VOCAB_MAX_ID);
    size_t bytes = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!json_is_integer(val))
            return dg_err_set(err, DG_E_FORMAT, "%s: id of \"%.64s\" is not an integer", path, key);
        json_int_t id = json_integer_value(val);
        if (id < 0 || id >= DG_VOCAB_MAX_ID)
            return dg_err_set(err, DG_E_FORMAT, "%s: id %lld of \"%.64s\" outside [0, %d)", path,
                              (long long)id, key, DG_VOCAB_MAX_ID);
        bytes += strlen(key) + 1;
    }
    v->cap = 16;
    while (v->cap < 2 * n)
        v->cap *= 2;
    v->arena = malloc(bytes);
    v->off = malloc(n * sizeof *v->off);
    v->len = malloc(n * sizeof *v->len);
    v->ids = malloc(n * sizeof *v->ids);
    v->slots = malloc(v->cap * sizeof *v->slots);
    if (!v->arena || !v->off || !v->len || !v->ids || !v->slots)
        return dg_err_set(err, DG_E_NOMEM, "%s: out of memory for %zu entries", path, n);
    memset(v->slots, 0xff, v->cap * sizeof *v->slots);
    size_t pos = 0;
    json_object_foreach(root, key, val) {
        size_t klen = strlen(key);
        memcpy(v->arena + pos, key, klen + 1);
        v->off[v->n] = pos;
        v->len[v->n] = klen;
        v->ids[v->n] = (int)json_integer_value(val);
        if (v->ids[v->n] >= v->id_limit)
            v->id_limit = v->ids[v->n] + 1;
        insert(v, v->n);
        pos += klen + 1;
        v->n++;
    }
    v->by_id = malloc((size_t)v->id_limit * sizeof *v->by_id);
    if (!v->by_id)
        return dg_err_set(err, DG_E_NOMEM, "%s: out of memory for %d ids", path, v->id_limit);
    memset(v->by_id, 0xff, (size_t)v->id_limit * sizeof *v->by_id);
    for (int e = 0; e < v->n; e++)
        v->by_id[v->ids[e]] = e; /* later entries win, like Python's dict inversion */
    return DG_OK;
}

dg_code dg_vocab_load(const char *path, dg_vocab **out, dg_err *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        dg_code code =
            json_error_code(&jerr) == json_error_cannot_open_file ? DG_E_IO : DG_E_FORMAT;
        return dg_err_set(err, code, "%s:%d: %s", path, jerr.line, jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return dg_err_set(err, DG_E_FORMAT, "%s: not a JSON object", path);
    }
    dg_vocab *v = calloc(1, sizeof *v);
    if (!v) {
        json_decref(root);
        return dg_err_set(err, DG_E_NOMEM, "%s: out of memory", path);
    }
    dg_code rc = build(v, root, path, err);
    json_decref(root);
    if (rc != DG_OK) {
        dg_vocab_free(v);
        return rc;
    }
    *out = v;
    return DG_OK;
}

int dg_vocab_find(const dg_vocab *v, const char *s, size_t len)
{
    size_t mask = v->cap - 1;
    for (size_t i = fnv1a(s, len) & mask;; i = (i + 1) & mask) {
        int32_t e = v->slots[i];
        if (e < 0)
            return -1;
        if (v->len[e] == len && !memcmp(v->arena + v->off[e], s, len))
            return v->ids[e];
    }
}

const char *dg_vocab_piece(const dg_vocab *v, int id)
{
    if (id < 0 || id >= v->id_limit || v->by_id[id] < 0)
        return NULL;
    return v->arena + v->off[v->by_id[id]];
}

int dg_vocab_size(const dg_vocab *v)
{
    return v->n;
}

int dg_vocab_id_limit(const dg_vocab *v)
{
    return v->id_limit;
}

const char *dg_vocab_entry(const dg_vocab *v, int i)
{
    return v->arena + v->off[i];
}
