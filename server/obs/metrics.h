/* Process-wide server metrics, rendered as Prometheus text exposition (GET /metrics).
 * Every update is a relaxed atomic add, so HTTP threads and workers record without locks. */
#ifndef DG_METRICS_H
#define DG_METRICS_H

#include <stddef.h>

#include "server/api/api_error.h"

#define DG_METRICS_ROUTES 32  /* route labels at most; requests to others count as "other" */

/* Names route number i (0 <= i < DG_METRICS_ROUTES) for the request metrics: the HTTP front end
 * registers its route table's labels before it serves. */
void dg_metrics_route(int i, const char *label);

/* One finished request on route i as registered (any other i, such as -1 for an unknown path:
 * "other"). */
void dg_metrics_request(int route, int status, double seconds);
void dg_metrics_error(dg_api_error_kind kind);
void dg_metrics_queue_depth(long sentences);      /* gauge, set by the scheduler */
void dg_metrics_queue_wait(double seconds);       /* per sentence, enqueue → batch */
void dg_metrics_batch(int sentences);             /* per decoder step */
void dg_metrics_tokens(long in, long out);
void dg_metrics_cancelled(long sentences);
void dg_metrics_inflight(int delta);
void dg_metrics_body_bytes(long delta);           /* request body buffers, all connections */
void dg_metrics_cache(int hit);                          /* one lookup of the translation cache */
void dg_metrics_cache_size(long entries, size_t bytes);  /* gauges, after a store */
/* Registers a loaded model (at most DG_MAX_MODELS; later ones are not listed). Called by the
 * one thread that loads models; scrapes may run concurrently. */
void dg_metrics_model(const char *name, const char *source, const char *target, double load_s);

/* One finished request that a model served (translations; name as registered above, others
 * are ignored): by model, its status, latency and tokens. */
void dg_metrics_model_request(const char *model, int status, double seconds, long tokens_in,
                              long tokens_out);

/* The exposition text, malloc'ed (caller frees), or NULL when out of memory. */
char *dg_metrics_render(void);

#endif
