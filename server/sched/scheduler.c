/* DESIGN: one mutex guards the per-model queues, the active-job list and the counters; it is
 * held only for list surgery, never across an engine call, a tokenizer call or a callback.
 * Jobs are reference counted: one reference for the submitter plus one per sentence until
 * the sentence leaves the scheduler, so a job that timed out while a worker still decodes one
 * of its sentences stays valid until that worker drops it at its next step. Deadlines and
 * hang-ups are checked by a reaper thread every REAP_MS because MHD does not time out (or
 * even watch) suspended connections.
 * A FIN from the client means either "gone" (close) or "done sending" (shutdown(SHUT_WR), which
 * some clients do after a complete request); TCP cannot tell them apart until the server
 * writes. So on a FIN the reaper writes an interim "HTTP/1.1 100 Continue" (RFC 9110 15.2:
 * clients must accept unsolicited 1xx): a closed socket answers it with a reset (POLLERR/
 * POLLHUP on a later round: cancelled), a half-closed one reads and skips it and gets its
 * reply. HTTP/1.0 clients get no 1xx: for them a FIN still means gone. */
#include "server/sched/scheduler_internal.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/sched/cpu_budget.h"
#include "server/obs/log.h"
#include "server/obs/metrics.h"

#define REAP_MS 10

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
        dg_result_free(&x->res);
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
    if (x->admitted) {
        atomic_fetch_sub(&x->job->batch_cost, x->cost);
        x->admitted = 0;
    }
    dg_job_release(x->job);
}

/* ---- the round-robin ring of jobs with waiting sentences ---- */

static void ring_push(dg_queue *q, dg_job *j)
{
    if (!q->head) {
        j->prev_q = j->next_q = j;
        q->head = j;
    } else {  /* at the tail: served after every job already waiting */
        j->next_q = q->head;
        j->prev_q = q->head->prev_q;
        j->prev_q->next_q = j;
        q->head->prev_q = j;
    }
    j->in_ring = 1;
    q->n_jobs++;
}

static void ring_unlink(dg_queue *q, dg_job *j)
{
    if (j->next_q == j) {
        q->head = NULL;
    } else {
        j->prev_q->next_q = j->next_q;
        j->next_q->prev_q = j->prev_q;
        if (q->head == j)
            q->head = j->next_q;
    }
    j->prev_q = j->next_q = NULL;
    j->in_ring = 0;
    q->n_jobs--;
}

int dg_admit_locked(dg_scheduler *s, dg_worker *w, int m, dg_sentence **out, int max)
{
    dg_queue *q = &s->queues[m];
    int n = 0, cost = w->cost[m], encode = 0, half = s->max_batch_tokens / 2;
    double now = dg_now();
    /* rounds of one sentence per job, starting where the last admission stopped, until a whole
     * round admits nothing: requests interleave whatever their size */
    for (int progress = 1; progress && q->head && n < max;) {
        progress = 0;
        for (int k = q->n_jobs; k > 0 && q->head && n < max; k--) {
            dg_job *j = q->head;
            dg_sentence *x = &j->s[j->next_queued];
            int held = atomic_load(&j->batch_cost);
            if (cost + x->cost > s->max_batch_tokens) {  /* the batch is full for it */
                /* a large sentence kept out by a stream of small ones: admit nothing more
                 * (here or in later calls, it stays at the head) until the batch has drained
                 * enough for it */
                double since = j->t_admitted > x->t_enqueue ? j->t_admitted : x->t_enqueue;
                if (now - since > DG_AGING_S)
                    goto out;
                q->head = j->next_q;
                continue;
            }
            q->head = j->next_q;
            if ((held > 0 && held + x->cost > half) ||    /* the job holds its share */
                (n > 0 && encode + x->n_ids > DG_ENCODE_PER_STEP))  /* encoder pass bounded */
                continue;
            j->next_queued++;
            j->t_admitted = now;
            x->admitted = 1;
            atomic_fetch_add(&j->batch_cost, x->cost);
            cost += x->cost;
            encode += x->n_ids;
            s->queued--;
            out[n++] = x;
            progress = 1;
            if (j->next_queued == j->n)
                ring_unlink(q, j);
        }
    }
out:
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
    s->reserved -= j->reserve;
    long dropped = j->n - j->next_queued;
    if (j->in_ring)
        ring_unlink(&s->queues[j->model_index], j);
    s->queued -= dropped;
    for (int i = j->next_queued; i < j->n; i++)
        dg_sentence_release(&j->s[i]);  /* the submitter's reference keeps j alive */
    j->next_queued = j->n;
    if (dropped) {
        dg_metrics_cancelled(dropped);
        dg_metrics_queue_depth(s->queued);
    }
    atomic_store(&j->state, state);
    pthread_cond_broadcast(&s->changed);
    return 1;
}

/* Fills each sentence's cost; 0, or 400 naming the first one larger than half a batch. */
static int sentence_costs(dg_scheduler *s, dg_job *j, long long *total, dg_api_error *e)
{
    const dg_config *cfg = dg_model_config(s->reg->models[j->model_index].model);
    int beams = j->opts.num_beams > 0 ? j->opts.num_beams : 1;
    int out = j->opts.max_new_tokens;
    if (out > cfg->max_positions)
        out = cfg->max_positions;  /* the engine clamps it there too */
    *total = 0;
    for (int i = 0; i < j->n; i++) {
        dg_sentence *x = &j->s[i];
        /* cross-attention keeps n_ids positions, self-attention beams x (out + 1) at most */
        long long c = (long long)x->n_ids + (long long)beams * (out + 1);
        if (c > s->max_batch_tokens / 2)
            return dg_api_error_set(
                e, DG_API_INVALID_REQUEST,
                "sentence %d needs %lld batch positions (%d source tokens + %d beams x %d "
                "output tokens), more than half of --max-batch-tokens (%d): lower beam_size or "
                "max_length, or split the sentence", i + 1, c, x->n_ids, beams, out + 1,
                s->max_batch_tokens);
        x->cost = (int)c;
        *total += c;
    }
    return 0;
}

int dg_scheduler_submit(dg_scheduler *s, dg_job *j, dg_api_error *e)
{
    if (j->model_index < 0 || j->model_index >= s->reg->n)
        return dg_api_error_set(e, DG_API_INTERNAL, "job names no served model");
    long long positions;
    int st = sentence_costs(s, j, &positions, e);
    if (st)
        return st;
    /* what the job can hold at once: all of it, or its share of every worker's batch */
    long long share = (long long)s->workers_planned * (s->max_batch_tokens / 2);
    j->reserve = (positions < share ? positions : share) * s->pos_bytes[j->model_index];
    if (s->max_memory && j->reserve > s->max_memory)
        return dg_api_error_set(e, DG_API_INVALID_REQUEST,
                                "the request may need %lld MiB of decoding state, more than "
                                "--max-memory (%lld MiB)", (j->reserve >> 20) + 1,
                                s->max_memory >> 20);
    pthread_mutex_lock(&s->mu);
    if (!s->accepting)
        st = dg_api_error_set(e, DG_API_SHUTTING_DOWN, "the server is shutting down");
    else if (j->n > s->max_queue)
        st = dg_api_error_set(e, DG_API_QUEUE_FULL,
                              "the request has %d sentences, more than the queue holds (%d)",
                              j->n, s->max_queue);
    else if (s->queued + j->n > s->max_queue)
        st = dg_api_error_set(e, DG_API_QUEUE_FULL, "the queue is full (%ld sentences waiting)",
                              s->queued);
    else if (s->max_memory && s->reserved + j->reserve > s->max_memory)
        st = dg_api_error_set(e, DG_API_QUEUE_FULL,
                              "the memory budget is in use (%lld of %lld MiB reserved)",
                              s->reserved >> 20, s->max_memory >> 20);
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
    j->next_queued = 0;
    s->reserved += j->reserve;
    atomic_fetch_add(&j->refs, j->n);
    for (int i = 0; i < j->n; i++)
        j->s[i].t_enqueue = now;
    if (j->n > 0)
        ring_push(&s->queues[j->model_index], j);
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

void dg_scheduler_cancel(dg_scheduler *s, dg_job *j)
{
    pthread_mutex_lock(&s->mu);
    int fired = dg_job_finish_locked(s, j, DG_JOB_CLIENT_GONE, DG_API_INTERNAL,
                                     "client closed the connection");
    pthread_mutex_unlock(&s->mu);
    if (fired)
        j->done(j, j->done_arg);
}

/* ---- reaper: deadlines and hung-up clients ---- */

/* The client sent FIN: 1 when the interim response went out (wait for a reset), 0 when the
 * client is gone or may not be sent one. */
static int probe_half_close(dg_job *j)
{
    static const char probe[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!j->fd_interim)
        return 0;
    ssize_t n = send(j->fd, probe, sizeof probe - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != (ssize_t)(sizeof probe - 1))
        return 0;  /* a reset, or a send buffer full of what the client never read */
    j->probed = 1;
    return 1;
}

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
                /* once probed, only a reset or an error counts */
                pfd[n_watch] = (struct pollfd){.fd = j->fd, .events = j->probed ? 0 : POLLRDHUP};
                watched[n_watch++] = j;
            }
        }
        /* non-blocking: only reports sockets whose peer already closed */
        if (n_watch && poll(pfd, (nfds_t)n_watch, 0) > 0)
            for (int i = 0; i < n_watch && n_fired < cap; i++)
                if (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                    if (!(pfd[i].revents & (POLLHUP | POLLERR)) && probe_half_close(watched[i]))
                        continue;
                    if (dg_job_finish_locked(s, watched[i], DG_JOB_CLIENT_GONE, DG_API_INTERNAL,
                                             "client closed the connection"))
                        fired[n_fired++] = watched[i];
                }
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
    s->max_memory = (long long)c->max_memory_mb << 20;
    s->max_queue = c->max_queue;
    s->timeout_ms = c->timeout_ms;
    s->accepting = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->queues = calloc((size_t)reg->n, sizeof *s->queues);
    s->workers = calloc((size_t)c->workers, sizeof *s->workers);
    s->pos_bytes = calloc((size_t)reg->n, sizeof *s->pos_bytes);
    if (!s->queues || !s->workers || !s->pos_bytes) {
        dg_err_set(err, DG_E_NOMEM, "out of memory");
        dg_scheduler_free(s);
        return NULL;
    }
    for (int m = 0; m < reg->n; m++) {
        /* a K and a V row of d_model floats per decoder layer, plus the beam ancestry */
        const dg_config *cfg = dg_model_config(reg->models[m].model);
        s->pos_bytes[m] = (long long)cfg->decoder_layers * 2 * cfg->d_model * (long long)sizeof(float) +
                          2 * (long long)sizeof(int);
    }
    s->workers_planned = c->workers;
    int threads = c->threads_per_worker;
    if (threads == 0) {
        int cpus = dg_cpu_budget();
        threads = cpus > c->workers ? cpus / c->workers : 1;
    }
    dg_log_info("workers: %d x %d threads (%d usable CPUs)", c->workers, threads, dg_cpu_budget());
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
    free(s->pos_bytes);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
