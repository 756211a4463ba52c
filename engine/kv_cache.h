/* Per-sentence decoder self-attention cache with ancestry indirection.
 *
 * DESIGN. Every step appends one K and one V row per beam per layer; nothing is ever moved.
 * Storage is time-major, [T][Ld][2][nb][D], so growing the time capacity is a copy that keeps
 * every old row in place. When beam search reorders beams, a beam does not take over its
 * parent's cached rows by copying them (T x Ld x 2 x D floats): it takes over its parent's
 * ancestry, anc[beam][t] = the slot whose row at time t belongs to this beam's history, which is
 * T ints. Attention then reads K/V at (t, anc[beam][t]). All beams of a sentence share one
 * row at t = 0 (they all start from the same decoder start token). */
#ifndef DG_KV_CACHE_H
#define DG_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Element type of the decoder's attention caches (self-attention rows here, and the cross
 * K/V): float32, or bfloat16 (round to nearest even on append), which halves the memory a
 * decoder step reads. The model chooses it with its compute type (dg_model.kvtype). */
typedef enum {
    DG_KV_F32 = 0,
    DG_KV_BF16,
} dg_kvtype;

static inline size_t dg_kvtype_size(dg_kvtype t)
{
    return t == DG_KV_BF16 ? sizeof(uint16_t) : sizeof(float);
}

typedef struct {
    void *data;      /* [cap][Ld][2][nb][D] elements of type */
    int *anc;        /* [nb][cap]: slot holding beam b's row at time t */
    int *anc_tmp;    /* [nb][cap]: reorder scratch */
    int cap, nb, Ld, D;
    dg_kvtype type;
    size_t n;        /* bytes data holds (>= cap * Ld * 2 * nb * D elements of type) */
} dg_kv;

/* Prepares kv for a sentence with nb beams and elements of type, reusing the buffers kept from
 * a previous sentence, whatever its beams: their pages are already faulted in, a new buffer's
 * are slow to touch. */
dg_code dg_kv_reset(dg_kv *kv, int nb, int Ld, int D, dg_kvtype type, dg_err *err);
/* Positions a new sentence's cache is given at once (dg_search_reset), when its output may be
 * that long: a kept sentence state (batch.c) holds on to up to 128. */
#define DG_KV_RESERVE 128

/* Makes room for times [0, T) (amortized doubling). */
dg_code dg_kv_reserve(dg_kv *kv, int T, dg_err *err);
void dg_kv_free(dg_kv *kv);

/* Row of layer l's keys (which = 0) or values (which = 1) at time t in slot. */
static inline void *dg_kv_row(const dg_kv *kv, int t, int l, int which, int slot)
{
    size_t e = ((((size_t)t * kv->Ld + l) * 2 + which) * kv->nb + slot) * kv->D;
    return (char *)kv->data + e * dg_kvtype_size(kv->type);
}

/* Beam b's own slot at time t is b itself (its row is written there in step t). */
void dg_kv_begin_step(dg_kv *kv, int t);
/* Beam b (new) continues beam parent[b] (old): copies ancestry for times [0, t]. */
void dg_kv_reorder(dg_kv *kv, int t, const int *parent);

#endif
