/* DESIGN: one mutex guards the per-model queues, the active-job list and the counters; it is
 * held only for list surgery, never across an engine call, a tokenizer call or a callback.
 * Jobs are reference counted: one reference for the submitter plus one per sentence until
 * the sentence leaves the scheduler, so a job that timed out while a worker still decodes one
 * of its sentences stays valid until that worker drops it at its next step. Deadlines and
 * hang-ups are checked by a reaper thread every REAP_MS because MHD does not time out (or
 * even watch) suspended connections. */
#include "server/scheduler_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/metrics.h"

#define REAP_MS 10
#define SCAN_LIMIT 512  /* queue entries examined per admission, bounding time under the lock */

double dg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

dg_job *dg_job_create(int n)
{
    dg_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    if (!(j->s = calloc((size_t)(n > 0 ? n : 1), sizeof *j->s))) {
        free(j);
        return NULL;
    }
    j->n = n;
    j->fd = -1;
    for (int i = 0; i < n; i++)
        j->s[i].job = j;
    atomic_init(&j->refs, 1);
    atomic_init(&j->state, DG_JOB_RUNNING);
    return j;
}

static void job_free(dg_job *j)
{
    for (int i = 0; i < j->n; i++) {
        dg_sentence *x = &j->s[i];
        free(x->ids);
        for (int k = 0; k < x->n_hyps; k++)
            free(x->hyps[k]);
        free(x->hyps);
        free(x->scores);
    }
    free(j->s);
    free(j);
}

void dg_job_release(dg_job *j)
{
    if (j && atomic_fetch_sub(&j->refs, 1) == 1)
        job_free(j);
}

void dg_sentence_release(dg_sentence *x)
{
    dg_job_release(x->job);
}

/* ---- queues ---- */

static void queue_push(dg_queue *q, dg_sentence *x)
{
    x->next = NULL;
    x->prev = q->tail;
    if (q->tail)
        q->tail->next = x;
    else
        q->head = x;
    q->tail = x;
    x->queued = 1;
}

static void queue_unlink(dg_queue *q, dg_sentence *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        q->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        q->tail = x->prev;
    x->prev = x->next = NULL;
    x->queued = 0;
}

static int bucket(int n)
{
    int b = 0;
    while (n > 1)
        n >>= 1, b++;
    return b;
}

int dg_admit_locked(dg_scheduler *s, dg_worker *w, int m, dg_sentence **out, int max)
{
    dg_queue *q = &s->queues[m];
    if (!q->head)
        return 0;
    int n = 0, cost = w->cost[m];
    int want = bucket(q->head->n_ids);
    /* pass 0: the oldest sentence's length bucket (less padding in the encoder pass);
     * pass 1: anything that still fits, oldest first */
    for (int pass = 0; pass < 2 && n < max; pass++) {
        int scanned = 0;
        for (dg_sentence *x = q->head, *next; x && n < max && scanned < SCAN_LIMIT;
             x = next, scanned++) {
            next = x->next;
            if (pass == 0 && bucket(x->n_ids) != want)
                continue;
            if (cost > 0 && cost + x->cost > s->max_batch_tokens)
                continue;
            queue_unlink(q, x);
            s->queued--;
            cost += x->cost;
            out[n++] = x;
        }
    }
    dg_metrics_queue_depth(s->queued);
    return n;
}

/* ---- job lifecycle ---- */

static void active_unlink(dg_scheduler *s, dg_job *j)
{
    if (j->prev_active)
        j->prev_active->next_active = j->next_active;
    else
        s->active = j->next_active;
    if (j->next_active)
        j->next_active->prev_active = j->prev_active;
    j->prev_active = j->next_active = NULL;
    s->n_active--;
}

int dg_job_finish_locked(dg_scheduler *s, dg_job *j, dg_job_state state, dg_api_error_kind kind,
                         const char *msg)
{
    if (atomic_load(&j->state) != DG_JOB_RUNNING)
        return 0;
    if (state == DG_JOB_FAILED)
        dg_api_error_set(&j->error, kind, "%s", msg);
    j->t_end = dg_now();
    active_unlink(s, j);
    long dropped = 0;
    for (int i = 0; i < j->n; i++)
        if (j->s[i].queued) {
            queue_unlink(&s->queues[j->model_index], &j->s[i]);
            s->queued--;
            dropped++;
            dg_sentence_release(&j->s[i]);  /* the submitter's reference keeps j alive */
        }
    if (dropped) {
        dg_metrics_cancelled(dropped);
        dg_metrics_queue_depth(s->queued);
    }
    atomic_store(&j->state, state);
    pthread_cond_broadcast(&s->changed);
    return 1;
}

int dg_scheduler_submit(dg_scheduler *s, dg_job *j, dg_api_error *e)
{
    if (j->model_index < 0 || j->model_index >= s->reg->n)
        return dg_api_error_set(e, DG_API_INTERNAL, "job names no served model");
    pthread_mutex_lock(&s->mu);
    int st = 0;
    if (!s->accepting)
        st = dg_api_error_set(e, DG_API_SHUTTING_DOWN, "the server is shutting down");
    else if (j->n > s->max_queue)
        st = dg_api_error_set(e, DG_API_QUEUE_FULL,
                              "the request has %d sentences, more than the queue holds (%d)",
                              j->n, s->max_queue);
    else if (s->queued + j->n > s->max_queue)
        st = dg_api_error_set(e, DG_API_QUEUE_FULL, "the queue is full (%ld sentences waiting)",
                              s->queued);
    if (st) {
        pthread_mutex_unlock(&s->mu);
        return st;
    }
    double now = dg_now();
    j->t_submit = now;
    if (j->timeout_ms <= 0 || j->timeout_ms > s->timeout_ms)
        j->timeout_ms = s->timeout_ms;  /* a request may shorten the server's deadline only */
    j->deadline = now + j->timeout_ms / 1000.0;
    j->pending = j->n;
    int beams = j->opts.num_beams > 0 ? j->opts.num_beams : 1;
    atomic_fetch_add(&j->refs, j->n);
    for (int i = 0; i < j->n; i++) {
        dg_sentence *x = &j->s[i];
        x->cost = x->n_ids * beams;
        x->t_enqueue = now;
        queue_push(&s->queues[j->model_index], x);
    }
    s->queued += j->n;
    j->next_active = s->active;
    j->prev_active = NULL;
    if (s->active)
        s->active->prev_active = j;
    s->active = j;
    s->n_active++;
    dg_metrics_queue_depth(s->queued);
    if (j->n == 0) {  /* nothing to translate (blank texts): complete at once */
        dg_job_finish_locked(s, j, DG_JOB_DONE, DG_API_INTERNAL, "");
        pthread_mutex_unlock(&s->mu);
        j->done(j, j->done_arg);
        return 0;
    }
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ---- reaper: deadlines and hung-up clients ---- */

static void *reaper_main(void *arg)
{
    dg_scheduler *s = arg;
    int cap = 0;
    struct pollfd *pfd = NULL;
    dg_job **watched = NULL, **fired = NULL;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        if (s->n_active > cap) {
            int ncap = s->n_active * 2;
            struct pollfd *np = realloc(pfd, (size_t)ncap * sizeof *np);
            if (np) pfd = np;
            dg_job **nw = realloc(watched, (size_t)ncap * sizeof *nw);
            if (nw) watched = nw;
            dg_job **nf = realloc(fired, (size_t)ncap * sizeof *nf);
            if (nf) fired = nf;
            if (np && nw && nf)
                cap = ncap;
        }
        double now = dg_now();
        int n_fired = 0, n_watch = 0;
        for (dg_job *j = s->active, *next; j && n_fired < cap; j = next) {
            next = j->next_active;
            if (now >= j->deadline) {
                char msg[96];
                snprintf(msg, sizeof msg, "the translation did not finish within %d ms",
                         j->timeout_ms);
                if (dg_job_finish_locked(s, j, DG_JOB_FAILED, DG_API_TIMEOUT, msg))
                    fired[n_fired++] = j;
            } else if (j->fd >= 0 && n_watch < cap) {
                pfd[n_watch] = (struct pollfd){.fd = j->fd, .events = POLLRDHUP};
                watched[n_watch++] = j;
            }
        }
        /* non-blocking: only reports sockets whose peer already closed */
        if (n_watch && poll(pfd, (nfds_t)n_watch, 0) > 0)
            for (int i = 0; i < n_watch && n_fired < cap; i++)
                if (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
                    if (dg_job_finish_locked(s, watched[i], DG_JOB_CLIENT_GONE, DG_API_INTERNAL,
                                             "client closed the connection"))
                        fired[n_fired++] = watched[i];
        if (n_fired) {
            pthread_mutex_unlock(&s->mu);
            for (int i = 0; i < n_fired; i++)
                fired[i]->done(fired[i], fired[i]->done_arg);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REAP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->changed, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    free(pfd);
    free(watched);
    free(fired);
    return NULL;
}

/* ---- lifecycle ---- */

static void worker_free(dg_worker *w, int n_models)
{
    for (int m = 0; m < n_models; m++) {
        if (w->batch)
            dg_batch_free(w->batch[m]);
        if (w->live)
            free(w->live[m]);
    }
    free(w->batch);
    free(w->live);
    free(w->n_live);
    free(w->cap_live);
    free(w->cost);
}

static dg_code worker_init(dg_worker *w, dg_scheduler *s, int index, int threads, dg_err *err)
{
    int nm = s->reg->n;
    w->s = s;
    w->index = index;
    w->batch = calloc((size_t)nm, sizeof *w->batch);
    w->live = calloc((size_t)nm, sizeof *w->live);
    w->n_live = calloc((size_t)nm, sizeof *w->n_live);
    w->cap_live = calloc((size_t)nm, sizeof *w->cap_live);
    w->cost = calloc((size_t)nm, sizeof *w->cost);
    if (!w->batch || !w->live || !w->n_live || !w->cap_live || !w->cost)
        return dg_err_set(err, DG_E_NOMEM, "out of memory creating worker %d", index);
    for (int m = 0; m < nm; m++)
        if (!(w->batch[m] = dg_batch_create(s->reg->models[m].model, threads, err)))
            return dg_err_prefix(err, "worker %d, model '%s'", index, s->reg->models[m].name);
    return DG_OK;
}

dg_scheduler *dg_scheduler_create(const dg_registry *reg, const dg_serve_config *c, dg_err *err)
{
    dg_scheduler *s = calloc(1, sizeof *s);
    if (!s) {
        dg_err_set(err, DG_E_NOMEM, "out of memory");
        return NULL;
    }
    s->reg = reg;
    s->max_batch_tokens = c->max_batch_tokens;
    s->max_queue = c->max_queue;
    s->timeout_ms = c->timeout_ms;
    s->accepting = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->queues = calloc((size_t)reg->n, sizeof *s->queues);
    s->workers = calloc((size_t)c->workers, sizeof *s->workers);
    if (!s->queues || !s->workers) {
        dg_err_set(err, DG_E_NOMEM, "out of memory");
        dg_scheduler_free(s);
        return NULL;
    }
    int threads = c->threads_per_worker;
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > c->workers ? (int)(cores / c->workers) : 1;
    }
    for (int i = 0; i < c->workers; i++) {
        if (worker_init(&s->workers[i], s, i, threads, err)) {
            worker_free(&s->workers[i], reg->n);
            dg_scheduler_free(s);
            return NULL;
        }
        if (pthread_create(&s->workers[i].thread, NULL, dg_worker_main, &s->workers[i])) {
            worker_free(&s->workers[i], reg->n);
            dg_err_set(err, DG_E_INTERNAL, "cannot start worker thread: %s", strerror(errno));
            dg_scheduler_free(s);
            return NULL;
        }
        s->n_workers++;
    }
    if (pthread_create(&s->reaper, NULL, reaper_main, s)) {
        dg_err_set(err, DG_E_INTERNAL, "cannot start the reaper thread");
        dg_scheduler_free(s);
        return NULL;
    }
    s->reaper_started = 1;
    return s;
}

void dg_scheduler_drain(dg_scheduler *s, int grace_ms)
{
    pthread_mutex_lock(&s->mu);
    s->accepting = 0;
    double end = dg_now() + grace_ms / 1000.0;
    while (s->n_active > 0 && dg_now() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->changed, &s->mu, &ts);
    }
    while (s->active) {
        dg_job *j = s->active;
        dg_job_finish_locked(s, j, DG_JOB_FAILED, DG_API_SHUTTING_DOWN,
                             "the server shut down before the translation finished");
        pthread_mutex_unlock(&s->mu);
        j->done(j, j->done_arg);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void dg_scheduler_free(dg_scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    s->accepting = 0;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++) {
        pthread_join(s->workers[i].thread, NULL);
        worker_free(&s->workers[i], s->reg->n);
    }
    if (s->reaper_started)
        pthread_join(s->reaper, NULL);
    free(s->workers);
    free(s->queues);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
