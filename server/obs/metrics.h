/* Process-wide server metrics, rendered as Prometheus text exposition (GET /metrics).
 * Every update is a relaxed atomic add, so HTTP threads and workers record without locks. */
#ifndef DG_METRICS_H
#define DG_METRICS_H

#include <stddef.h>

#include "server/api/api_error.h"

typedef enum {
    DG_ROUTE_TRANSLATE,     /* POST /v1/translate */
    DG_ROUTE_LT_TRANSLATE,  /* POST /translate (LibreTranslate) */
    DG_ROUTE_LANGUAGES,
    DG_ROUTE_MODELS,
    DG_ROUTE_HEALTH,
    DG_ROUTE_READY,
    DG_ROUTE_METRICS,
    DG_ROUTE_OPENAPI,
    DG_ROUTE_LT_DETECT,     /* POST /detect */
    DG_ROUTE_LT_SETTINGS,   /* GET /frontend/settings */
    DG_ROUTE_LT_FILE,       /* POST /translate_file */
    DG_ROUTE_LT_DOWNLOAD,   /* GET /download_file/NAME */
    DG_ROUTE_WEB,           /* GET /: the translation page */
    DG_ROUTE_OTHER,         /* unknown paths */
    DG_ROUTE_COUNT
} dg_route;

const char *dg_route_label(dg_route r);

void dg_metrics_request(dg_route route, int status, double seconds);
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
