/* DESIGN: fixed-shape counters and histograms in static storage, updated with relaxed atomics
 * (a scrape may see one update ahead of another; Prometheus tolerates that). Histogram sums
 * are kept in integer microseconds so they can be added atomically. Statuses are bucketed by a
 * fixed list of the codes the server emits; anything else lands in "other". */
#include "server/obs/metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "server/config.h"

/* [DG_METRICS_ROUTES] is "other"; unregistered slots stay NULL and are not rendered */
static const char *_Atomic route_labels[DG_METRICS_ROUTES + 1];

static const int statuses[] = {200, 204, 400, 401, 403, 404, 405, 413, 415, 422, 429, 500, 501, 503, 504};
#define N_STATUS (int)(sizeof statuses / sizeof statuses[0])

/* seconds; +Inf is implicit */
static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define N_LAT (int)(sizeof latency_bounds / sizeof latency_bounds[0])
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define N_BATCH (int)(sizeof batch_bounds / sizeof batch_bounds[0])

_Static_assert(N_LAT < 16 && N_BATCH < 16, "histogram.bucket holds every bound plus +Inf");

typedef struct {
    atomic_long bucket[16];  /* per bound, non-cumulative; the last slot counts > every bound */
    atomic_long count;
    atomic_long sum_micro;   /* sum * 1e6 */
} histogram;

static atomic_long requests[DG_METRICS_ROUTES + 1][N_STATUS + 1];
static histogram latency[DG_METRICS_ROUTES + 1];
static histogram queue_wait, batch_size;
static atomic_long errors[DG_API_ERROR_COUNT];
static atomic_long queue_depth, tokens_in, tokens_out, cancelled, inflight, body_bytes;
static atomic_long cache_hits, cache_misses, cache_entries, cache_bytes;

static struct {
    char name[128], source[16], target[16];
    double load_s;
    atomic_long requests[N_STATUS + 1];
    histogram latency;
    atomic_long tokens_in, tokens_out;
} models[DG_MAX_MODELS];
static atomic_int n_models; /* slots below it are complete (written before the store) */

void dg_metrics_route(int i, const char *label)
{
    if (i >= 0 && i < DG_METRICS_ROUTES)
        atomic_store(&route_labels[i], label);
}

static const char *route_label(int r)
{
    return r == DG_METRICS_ROUTES ? "other" : atomic_load(&route_labels[r]);
}

static void observe(histogram *h, const double *bounds, int n, double v)
{
    int i = 0;
    while (i < n && v > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_micro, (long)(v * 1e6), memory_order_relaxed);
}

static int status_index(int status)
{
    int s = 0;
    while (s < N_STATUS && statuses[s] != status)
        s++;
    return s;
}

void dg_metrics_request(int route, int status, double seconds)
{
    if (route < 0 || route >= DG_METRICS_ROUTES || !atomic_load(&route_labels[route]))
        route = DG_METRICS_ROUTES;
    atomic_fetch_add_explicit(&requests[route][status_index(status)], 1, memory_order_relaxed);
    observe(&latency[route], latency_bounds, N_LAT, seconds);
}

void dg_metrics_error(dg_api_error_kind kind)
{
    if (kind < DG_API_ERROR_COUNT)
        atomic_fetch_add_explicit(&errors[kind], 1, memory_order_relaxed);
}

void dg_metrics_body_bytes(long delta)
{
    atomic_fetch_add_explicit(&body_bytes, delta, memory_order_relaxed);
}

void dg_metrics_queue_depth(long sentences)
{
    atomic_store_explicit(&queue_depth, sentences, memory_order_relaxed);
}

void dg_metrics_queue_wait(double seconds)
{
    observe(&queue_wait, latency_bounds, N_LAT, seconds);
}

void dg_metrics_batch(int sentences)
{
    observe(&batch_size, batch_bounds, N_BATCH, sentences);
}

void dg_metrics_tokens(long in, long out)
{
    atomic_fetch_add_explicit(&tokens_in, in, memory_order_relaxed);
    atomic_fetch_add_explicit(&tokens_out, out, memory_order_relaxed);
}

void dg_metrics_cancelled(long sentences)
{
    atomic_fetch_add_explicit(&cancelled, sentences, memory_order_relaxed);
}

void dg_metrics_cache(int hit)
{
    atomic_fetch_add_explicit(hit ? &cache_hits : &cache_misses, 1, memory_order_relaxed);
}

void dg_metrics_cache_size(long entries, size_t bytes)
{
    atomic_store_explicit(&cache_entries, entries, memory_order_relaxed);
    atomic_store_explicit(&cache_bytes, (long)bytes, memory_order_relaxed);
}

void dg_metrics_inflight(int delta)
{
    atomic_fetch_add_explicit(&inflight, delta, memory_order_relaxed);
}

void dg_metrics_model_request(const char *model, int status, double seconds, long tokens_in,
                              long tokens_out)
{
    int nm = atomic_load(&n_models);
    for (int i = 0; i < nm && i < DG_MAX_MODELS; i++) {
        if (strcmp(models[i].name, model))
            continue;
        atomic_fetch_add_explicit(&models[i].requests[status_index(status)], 1,
                                  memory_order_relaxed);
        observe(&models[i].latency, latency_bounds, N_LAT, seconds);
        atomic_fetch_add_explicit(&models[i].tokens_in, tokens_in, memory_order_relaxed);
        atomic_fetch_add_explicit(&models[i].tokens_out, tokens_out, memory_order_relaxed);
        return;
    }
}

void dg_metrics_model(const char *name, const char *source, const char *target, double load_s)
{
    int i = atomic_load(&n_models);
    if (i >= DG_MAX_MODELS)
        return;
    snprintf(models[i].name, sizeof models[i].name, "%s", name);
    snprintf(models[i].source, sizeof models[i].source, "%s", source);
    snprintf(models[i].target, sizeof models[i].target, "%s", target);
    models[i].load_s = load_s;
    atomic_store(&n_models, i + 1);
}

/* ---- rendering ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        if (b->failed)
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
}

static long get(atomic_long *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void put_histogram(sbuf *b, const char *name, const char *labels, histogram *h,
                          const double *bounds, int n)
{
    long cum = 0;
    const char *sep = *labels ? "," : "";
    for (int i = 0; i < n; i++) {
        cum += get(&h->bucket[i]);
        put(b, "%s_bucket{%s%sle=\"%g\"} %ld\n", name, labels, sep, bounds[i], cum);
    }
    cum += get(&h->bucket[n]);
    put(b, "%s_bucket{%s%sle=\"+Inf\"} %ld\n", name, labels, sep, cum);
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    put(b, "%s_sum%s%s%s %.6f\n", name, open, labels, close, get(&h->sum_micro) / 1e6);
    put(b, "%s_count%s%s%s %ld\n", name, open, labels, close, get(&h->count));
}

/* Per-model request, latency and token families (the model label). */
static void put_models(sbuf *b, int nm)
{
    if (nm > DG_MAX_MODELS)
        nm = DG_MAX_MODELS;
    put(b, "# HELP dragoman_model_requests_total Translation requests by model and status.\n"
           "# TYPE dragoman_model_requests_total counter\n");
    for (int i = 0; i < nm; i++)
        for (int s = 0; s <= N_STATUS; s++) {
            long v = get(&models[i].requests[s]);
            if (!v)
                continue;
            if (s < N_STATUS)
                put(b, "dragoman_model_requests_total{model=\"%s\",status=\"%d\"} %ld\n",
                    models[i].name, statuses[s], v);
            else
                put(b, "dragoman_model_requests_total{model=\"%s\",status=\"other\"} %ld\n",
                    models[i].name, v);
        }
    put(b, "# HELP dragoman_model_request_duration_seconds Translation request latency by model.\n"
           "# TYPE dragoman_model_request_duration_seconds histogram\n");
    for (int i = 0; i < nm; i++) {
        char labels[160];
        snprintf(labels, sizeof labels, "model=\"%.127s\"", models[i].name);
        put_histogram(b, "dragoman_model_request_duration_seconds", labels, &models[i].latency,
                      latency_bounds, N_LAT);
    }
    put(b, "# HELP dragoman_model_tokens_in_total Source tokens of requests, by model.\n"
           "# TYPE dragoman_model_tokens_in_total counter\n");
    for (int i = 0; i < nm; i++)
        put(b, "dragoman_model_tokens_in_total{model=\"%s\"} %ld\n", models[i].name,
            get(&models[i].tokens_in));
    put(b, "# HELP dragoman_model_tokens_out_total Generated tokens of requests, by model.\n"
           "# TYPE dragoman_model_tokens_out_total counter\n");
    for (int i = 0; i < nm; i++)
        put(b, "dragoman_model_tokens_out_total{model=\"%s\"} %ld\n", models[i].name,
            get(&models[i].tokens_out));
}

/* The standard process_* families (as Prometheus' client libraries export them), from /proc. */
static void put_process(sbuf *b)
{
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long utime = 0, stime = 0, vsize = 0;
    unsigned long long start = 0;
    long rss = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    char line[1024];
    bool stat_ok = false;
    if (f && fgets(line, sizeof line, f)) {
        const char *p = strrchr(line, ')');  /* the command name may hold spaces */
        stat_ok = p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
                                     "%*d %*d %*d %*d %llu %lu %ld",
                              &utime, &stime, &start, &vsize, &rss) == 5;
    }
    if (f)
        fclose(f);
    long long btime = -1;
    if ((f = fopen("/proc/stat", "r"))) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "btime %lld", &btime) == 1)
                break;
        fclose(f);
    }
    if (stat_ok && tick > 0) {
        put(b, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
               "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n",
            (double)(utime + stime) / (double)tick);
        put(b, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
               "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %lu\n",
            vsize);
        put(b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
               "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
            rss * page);
        if (btime >= 0)
            put(b, "# HELP process_start_time_seconds Start time of the process since unix epoch "
                   "in seconds.\n# TYPE process_start_time_seconds gauge\n"
                   "process_start_time_seconds %.2f\n", (double)btime + (double)start / (double)tick);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        for (struct dirent *e; (e = readdir(d));)
            n += e->d_name[0] != '.';
        closedir(d);
        put(b, "# HELP process_open_fds Number of open file descriptors.\n"
               "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n", n - 1); /* not d's own */
    }
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl))
        put(b, "# HELP process_max_fds Maximum number of open file descriptors.\n"
               "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
            (unsigned long long)rl.rlim_cur);
}

char *dg_metrics_render(void)
{
    sbuf b = {malloc(4096), 0, 4096, 0};
    if (!b.buf)
        return NULL;
    put(&b, "# HELP dragoman_requests_total HTTP requests by route and status.\n"
            "# TYPE dragoman_requests_total counter\n");
    for (int r = 0; r <= DG_METRICS_ROUTES; r++)
        for (int s = 0; s <= N_STATUS; s++) {
            long v = get(&requests[r][s]);
            if (!v || !route_label(r))
                continue;
            if (s < N_STATUS)
                put(&b, "dragoman_requests_total{route=\"%s\",status=\"%d\"} %ld\n", route_label(r),
                    statuses[s], v);
            else
                put(&b, "dragoman_requests_total{route=\"%s\",status=\"other\"} %ld\n",
                    route_label(r), v);
        }
    put(&b, "# HELP dragoman_request_duration_seconds Time from request start to response.\n"
            "# TYPE dragoman_request_duration_seconds histogram\n");
    for (int r = 0; r <= DG_METRICS_ROUTES; r++) {
        if (!get(&latency[r].count) || !route_label(r))
            continue;
        char labels[64];
        snprintf(labels, sizeof labels, "route=\"%s\"", route_label(r));
        put_histogram(&b, "dragoman_request_duration_seconds", labels, &latency[r], latency_bounds,
                      N_LAT);
    }
    put(&b, "# HELP dragoman_errors_total Error responses by error code.\n"
            "# TYPE dragoman_errors_total counter\n");
    for (int k = 0; k < DG_API_ERROR_COUNT; k++)
        put(&b, "dragoman_errors_total{code=\"%s\"} %ld\n", dg_api_error_code(k), get(&errors[k]));
    put(&b, "# HELP dragoman_queue_depth Sentences waiting for a worker.\n"
            "# TYPE dragoman_queue_depth gauge\ndragoman_queue_depth %ld\n", get(&queue_depth));
    put(&b, "# HELP dragoman_cache_hits_total Sentences answered from the translation cache.\n"
            "# TYPE dragoman_cache_hits_total counter\ndragoman_cache_hits_total %ld\n"
            "# HELP dragoman_cache_misses_total Cache lookups that found nothing.\n"
            "# TYPE dragoman_cache_misses_total counter\ndragoman_cache_misses_total %ld\n"
            "# HELP dragoman_cache_entries Sentences in the translation cache.\n"
            "# TYPE dragoman_cache_entries gauge\ndragoman_cache_entries %ld\n"
            "# HELP dragoman_cache_bytes Bytes the translation cache holds (of --cache-bytes).\n"
            "# TYPE dragoman_cache_bytes gauge\ndragoman_cache_bytes %ld\n",
        get(&cache_hits), get(&cache_misses), get(&cache_entries), get(&cache_bytes));
    long lookups = get(&cache_hits) + get(&cache_misses);
    put(&b, "# HELP dragoman_cache_hit_ratio Cache hits / lookups since start (0 before any).\n"
            "# TYPE dragoman_cache_hit_ratio gauge\ndragoman_cache_hit_ratio %.6f\n",
        lookups ? (double)get(&cache_hits) / (double)lookups : 0.0);
    put(&b, "# HELP dragoman_inflight_requests Translation requests being processed.\n"
            "# TYPE dragoman_inflight_requests gauge\ndragoman_inflight_requests %ld\n",
        get(&inflight));
    put(&b, "# HELP dragoman_request_body_bytes Memory holding request bodies, all connections.\n"
            "# TYPE dragoman_request_body_bytes gauge\ndragoman_request_body_bytes %ld\n",
        get(&body_bytes));
    put(&b, "# HELP dragoman_queue_wait_seconds Time a sentence waited before joining a batch.\n"
            "# TYPE dragoman_queue_wait_seconds histogram\n");
    put_histogram(&b, "dragoman_queue_wait_seconds", "", &queue_wait, latency_bounds, N_LAT);
    put(&b, "# HELP dragoman_batch_sentences Sentences decoded together in one step.\n"
            "# TYPE dragoman_batch_sentences histogram\n");
    put_histogram(&b, "dragoman_batch_sentences", "", &batch_size, batch_bounds, N_BATCH);
    put(&b, "# HELP dragoman_tokens_in_total Source tokens translated.\n"
            "# TYPE dragoman_tokens_in_total counter\ndragoman_tokens_in_total %ld\n",
        get(&tokens_in));
    put(&b, "# HELP dragoman_tokens_out_total Target tokens generated.\n"
            "# TYPE dragoman_tokens_out_total counter\ndragoman_tokens_out_total %ld\n",
        get(&tokens_out));
    put(&b, "# HELP dragoman_sentences_cancelled_total Sentences dropped (client gone, deadline).\n"
            "# TYPE dragoman_sentences_cancelled_total counter\n"
            "dragoman_sentences_cancelled_total %ld\n", get(&cancelled));
    put(&b, "# HELP dragoman_model_info Loaded models.\n# TYPE dragoman_model_info gauge\n");
    int nm = atomic_load(&n_models);
    for (int i = 0; i < nm && i < DG_MAX_MODELS; i++)
        put(&b, "dragoman_model_info{model=\"%s\",source=\"%s\",target=\"%s\"} 1\n", models[i].name,
            models[i].source, models[i].target);
    put(&b, "# HELP dragoman_model_load_seconds Time taken to load each model.\n"
            "# TYPE dragoman_model_load_seconds gauge\n");
    for (int i = 0; i < nm && i < DG_MAX_MODELS; i++)
        put(&b, "dragoman_model_load_seconds{model=\"%s\"} %.3f\n", models[i].name, models[i].load_s);
    put_models(&b, nm);
    put_process(&b);
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}
