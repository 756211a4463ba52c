/* Fork-join pool (see parallel.h). One generation counter announces each job; workers take
 * their chunk by index, and the last one to finish wakes the caller. */
#include <pthread.h>
#include <stdlib.h>

#include "engine/parallel.h"

struct dg_pool {
    int threads;
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;   /* incremented per job */
    int pending;         /* workers still running the current job */
    int quit;
    dg_pool_fn fn;
    void *ctx;
    int n;
};

typedef struct {
    dg_pool *p;
    int worker;
} dg_worker_arg;

static void chunk(const dg_pool *p, int w, int *begin, int *end)
{
    *begin = (int)((long long)p->n * w / p->threads);
    *end = (int)((long long)p->n * (w + 1) / p->threads);
}

static void *worker_main(void *arg)
{
    dg_worker_arg a = *(dg_worker_arg *)arg;
    free(arg);
    dg_pool *p = a.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        int b, e;
        chunk(p, a.worker, &b, &e);
        if (b < e)
            p->fn(p->ctx, b, e, a.worker);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

dg_pool *dg_pool_create(int threads, dg_err *err)
{
    dg_pool *p = calloc(1, sizeof *p);
    if (!p || (threads > 1 && !(p->tid = calloc((size_t)threads - 1, sizeof *p->tid)))) {
        free(p);
        dg_err_set(err, DG_E_NOMEM, "pool: out of memory");
        return NULL;
    }
    p->threads = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int w = 1; w < threads; w++) {
        dg_worker_arg *a = malloc(sizeof *a);
        if (a)
            *a = (dg_worker_arg){p, w};
        if (!a || pthread_create(&p->tid[w - 1], NULL, worker_main, a)) {
            free(a);
            dg_pool_free(p);
            dg_err_set(err, DG_E_INTERNAL, "pool: cannot start thread %d of %d", w, threads);
            return NULL;
        }
        p->threads = w + 1;
    }
    return p;
}

void dg_pool_free(dg_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int w = 1; w < p->threads; w++)
        pthread_join(p->tid[w - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p->tid);
    free(p);
}

int dg_pool_threads(const dg_pool *p)
{
    return p ? p->threads : 1;
}

void dg_pool_for(dg_pool *p, int n, dg_pool_fn fn, void *ctx)
{
    if (!p || p->threads == 1 || n < 2) {
        if (n > 0)
            fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->pending = p->threads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    int b, e;
    chunk(p, 0, &b, &e);
    if (b < e)
        fn(ctx, b, e, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
