/* DESIGN: a hash table (chaining, FNV-1a over the key bytes) over a doubly linked recency list,
 * under one mutex: lookups are a few hundred nanoseconds against milliseconds of decoding, so
 * finer locking would buy nothing. The key is built field by field (never memcpy of a struct,
 * whose padding bytes are indeterminate): model index, every generation option that changes
 * the output, then the source ids. An entry's cost is its key, its texts, its scores and the
 * bookkeeping, and entries are evicted from the cold end until the total fits the budget. */
#include "server/sched/cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/obs/metrics.h"

typedef struct entry {
    struct entry *next_hash, *prev, *next;  /* bucket chain; recency list (head = newest) */
    uint64_t hash;
    size_t key_len, cost;
    unsigned char *key;
    int n_hyps, out_tokens;
    char **hyps;
    float *scores;
    dg_result res;           /* ids and alignment, when the sentence has them (protected
                              * spans are put back with them, text/protect.h) */
} entry;

struct dg_cache {
    pthread_mutex_t mu;
    size_t budget, used;
    size_t n_buckets;
    entry **buckets;
    entry *head, *tail;
    long entries;
};

typedef struct {
    unsigned char *p;
    size_t len, cap;
} keybuf;

static void put_bytes(keybuf *k, const void *v, size_t n)
{
    if (k->len + n <= k->cap)
        memcpy(k->p + k->len, v, n);
    k->len += n;
}

#define PUT(k, v)                                                                  \
    do {                                                                           \
        __typeof__(v) v_ = (v);                                                    \
        put_bytes((k), &v_, sizeof v_);                                            \
    } while (0)

/* Writes the key into k (sized by a first pass with cap 0). */
static void build_key(keybuf *k, int model, const dg_search_opts *o, const dg_sentence *x)
{
    PUT(k, model);
    PUT(k, o->num_beams);
    PUT(k, o->num_return_sequences);
    PUT(k, o->max_new_tokens);
    PUT(k, o->min_length);
    PUT(k, o->length_penalty);
    PUT(k, o->early_stopping);
    PUT(k, o->no_repeat_ngram_size);
    PUT(k, o->repetition_penalty);
    PUT(k, o->forced_bos_token_id);
    PUT(k, o->forced_eos_token_id);
    PUT(k, o->renormalize_logits);
    PUT(k, o->do_sample);
    if (o->do_sample) {
        PUT(k, o->temperature);
        PUT(k, o->top_k);
        PUT(k, o->top_p);
        PUT(k, o->seed);
    }
    PUT(k, o->return_alignment);  /* an entry has alignment rows exactly when it asked */
    PUT(k, o->alignment_layer);
    PUT(k, o->n_prefix);
    put_bytes(k, o->prefix, (size_t)o->n_prefix * sizeof *o->prefix);
    PUT(k, x->n_ids);
    put_bytes(k, x->ids, (size_t)x->n_ids * sizeof *x->ids);
}

static unsigned char *make_key(int model, const dg_search_opts *o, const dg_sentence *x,
                               size_t *len)
{
    keybuf k = {0};
    build_key(&k, model, o, x);
    if (!(k.p = malloc(k.len ? k.len : 1)))
        return NULL;
    k.cap = k.len;
    k.len = 0;
    build_key(&k, model, o, x);
    *len = k.len;
    return k.p;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

dg_cache *dg_cache_create(size_t bytes)
{
    if (!bytes)
        return NULL;
    dg_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->budget = bytes;
    /* about one bucket per 1 KiB of budget, a power of two, at least 256 */
    c->n_buckets = 256;
    while (c->n_buckets < bytes / 1024 && c->n_buckets < ((size_t)1 << 24))
        c->n_buckets *= 2;
    if (!(c->buckets = calloc(c->n_buckets, sizeof *c->buckets))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void entry_free(entry *e)
{
    for (int k = 0; k < e->n_hyps; k++)
        free(e->hyps[k]);
    free(e->hyps);
    free(e->scores);
    free(e->key);
    dg_result_free(&e->res);
    free(e);
}

/* A deep copy of src's ids and alignment (nothing when it has none); 0, or -1 out of memory. */
static int result_copy(dg_result *dst, const dg_result *src)
{
    memset(dst, 0, sizeof *dst);
    return src->align && dg_result_copy(dst, src, NULL) ? -1 : 0;
}
void dg_cache_free(dg_cache *c)
{
    if (!c)
        return;
    for (entry *e = c->head, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->buckets);
    free(c);
}

bool dg_cache_cacheable(const dg_search_opts *o, bool seed_given)
{
    return !o->do_sample || seed_given;
}

static void list_unlink(dg_cache *c, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
}

static void list_push_front(dg_cache *c, entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static entry *find(dg_cache *c, const unsigned char *key, size_t len, uint64_t h, entry ***slot)
{
    entry **p = &c->buckets[h & (c->n_buckets - 1)];
    for (; *p; p = &(*p)->next_hash)
        if ((*p)->hash == h && (*p)->key_len == len && !memcmp((*p)->key, key, len))
            break;
    *slot = p;
    return *p;
}

static void evict_locked(dg_cache *c)
{
    while (c->used > c->budget && c->tail) {
        entry *e = c->tail, **slot;
        find(c, e->key, e->key_len, e->hash, &slot);
        *slot = e->next_hash;
        list_unlink(c, e);
        c->used -= e->cost;
        c->entries--;
        entry_free(e);
    }
}

bool dg_cache_get(dg_cache *c, int model, const dg_search_opts *o, dg_sentence *x)
{
    size_t len;
    unsigned char *key = c ? make_key(model, o, x, &len) : NULL;
    if (!key)
        return false;
    uint64_t h = fnv1a(key, len);
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    entry **slot, *e = find(c, key, len, h, &slot);
    if (e) {
        list_unlink(c, e);
        list_push_front(c, e);
        char **hyps = calloc((size_t)e->n_hyps, sizeof *hyps);
        float *scores = malloc((size_t)e->n_hyps * sizeof *scores);
        int k = 0;
        while (hyps && scores && k < e->n_hyps && (hyps[k] = strdup(e->hyps[k])))
            k++;
        dg_result res;
        bool res_ok = hyps && scores && k == e->n_hyps && !result_copy(&res, &e->res);
        if (res_ok) {
            x->res = res;
            memcpy(scores, e->scores, (size_t)k * sizeof *scores);
            x->hyps = hyps;
            x->scores = scores;
            x->n_hyps = k;
            x->out_tokens = e->out_tokens;
            hit = true;
        } else {  /* out of memory: a miss, translated as usual */
            while (hyps && k > 0)
                free(hyps[--k]);
            free(hyps);
            free(scores);
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(key);
    dg_metrics_cache(hit);
    return hit;
}

void dg_cache_put(dg_cache *c, int model, const dg_search_opts *o, const dg_sentence *x)
{
    size_t len;
    if (!c || x->n_hyps < 1)
        return;
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->key = make_key(model, o, x, &len)) ||
        !(e->hyps = calloc((size_t)x->n_hyps, sizeof *e->hyps)) ||
        !(e->scores = malloc((size_t)x->n_hyps * sizeof *e->scores))) {
        if (e)
            entry_free(e);
        return;
    }
    e->key_len = len;
    e->hash = fnv1a(e->key, len);
    e->cost = sizeof *e + len + (size_t)x->n_hyps * (sizeof *e->hyps + sizeof *e->scores);
    for (int k = 0; k < x->n_hyps; k++, e->n_hyps++) {
        if (!(e->hyps[k] = strdup(x->hyps[k]))) {
            entry_free(e);
            return;
        }
        e->cost += strlen(x->hyps[k]) + 1;
    }
    memcpy(e->scores, x->scores, (size_t)x->n_hyps * sizeof *e->scores);
    e->out_tokens = x->out_tokens;
    if (result_copy(&e->res, &x->res)) {
        entry_free(e);
        return;
    }
    for (int k = 0; k < e->res.n; k++)
        e->cost += (size_t)e->res.len[k] * (sizeof(int) + (size_t)e->res.src_len * sizeof(float));
    if (e->cost > c->budget) {  /* would evict everything and still not fit */
        entry_free(e);
        return;
    }
    pthread_mutex_lock(&c->mu);
    entry **slot, *old = find(c, e->key, len, e->hash, &slot);
    if (old) {  /* another request translated it meanwhile: keep the first */
        pthread_mutex_unlock(&c->mu);
        entry_free(e);
        return;
    }
    *slot = e;
    list_push_front(c, e);
    c->used += e->cost;
    c->entries++;
    evict_locked(c);
    dg_metrics_cache_size(c->entries, c->used);
    pthread_mutex_unlock(&c->mu);
}
