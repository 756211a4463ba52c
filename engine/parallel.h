/* A small fork-join pool for the engine's own work: the weight GEMMs (engine/gemm.c, split by
 * output columns), attention over rows, per-sentence search.
 *
 * DESIGN. dg_pool_for splits [0, n) into one contiguous chunk per thread, runs chunk 0 on the
 * caller and returns when all chunks are done. Workers sleep on a condition variable between
 * calls (no spinning: an idle pool costs nothing, and on shared cores spinners would take
 * cycles from other work). A pool of one thread, or a NULL pool, runs everything inline.
 * Chunks must write disjoint data; `worker` (0..threads-1) selects per-thread scratch. */
#ifndef DG_PARALLEL_H
#define DG_PARALLEL_H

#include "common/error.h"

typedef struct dg_pool dg_pool;

typedef void (*dg_pool_fn)(void *ctx, int begin, int end, int worker);

/* threads >= 1; threads - 1 worker threads are started. */
dg_pool *dg_pool_create(int threads, dg_err *err);
void dg_pool_free(dg_pool *p); /* accepts NULL */
int dg_pool_threads(const dg_pool *p); /* 1 for NULL */
void dg_pool_for(dg_pool *p, int n, dg_pool_fn fn, void *ctx);

#endif
