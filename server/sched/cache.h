/* The translation cache: finished sentences keyed by (model, generation options, source ids),
 * least recently used first out under a byte budget (--cache-bytes). A repeated sentence is
 * answered from here and never queued. Safe to call from every HTTP thread. */
#ifndef DG_CACHE_H
#define DG_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"
#include "server/sched/scheduler.h"

typedef struct dg_cache dg_cache;

/* NULL when bytes is 0 (caching off) or out of memory. */
dg_cache *dg_cache_create(size_t bytes);
void dg_cache_free(dg_cache *c);

/* Whether the options can be cached: sampling without an explicit seed cannot (each call must
 * draw anew). */
bool dg_cache_cacheable(const dg_search_opts *o, bool seed_given);

/* Looks up sentence x (its ids) for model/options; on a hit fills x's result (n_hyps, hyps,
 * scores, out_tokens: copies the caller owns) and returns true. */
bool dg_cache_get(dg_cache *c, int model, const dg_search_opts *o, dg_sentence *x);
/* Stores x's result (copied). */
void dg_cache_put(dg_cache *c, int model, const dg_search_opts *o, const dg_sentence *x);

#endif
