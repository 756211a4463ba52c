/* Shared by scheduler.c (queues, admission, deadlines) and worker.c (decoding loop); not a
 * public header. Everything below s->mu is guarded by it unless marked otherwise. */
#ifndef DG_SCHEDULER_INTERNAL_H
#define DG_SCHEDULER_INTERNAL_H

#include <pthread.h>

#include "server/sched/scheduler.h"

/* Source tokens a worker admits for one encoder pass: a burst of long sentences is encoded over
 * several steps, so the sentences already decoding are not held up by one long pass. */
#define DG_ENCODE_PER_STEP 1024
/* Seconds a request may wait for room in a full batch (since it was submitted or last had a
 * sentence admitted) before admission stops for everyone else until its next sentence fits, so
 * small sentences cannot starve a large one. */
#define DG_AGING_S 2.0

/* The jobs of one model with sentences waiting: a circular list, head = the next to serve. */
typedef struct {
    dg_job *head;
    int n_jobs;
} dg_queue;

typedef struct {
    dg_scheduler *s;
    pthread_t thread;
    int index;
    /* per model; touched only by this worker's thread */
    dg_batch **batch;
    dg_sentence ***live;      /* sentences in batch[m] */
    int *n_live, *cap_live;
    int *cost;                /* sum of live costs in batch[m] */
} dg_worker;

struct dg_scheduler {
    const dg_registry *reg;
    int max_batch_tokens, max_queue, timeout_ms;
    long long max_memory;     /* bytes; 0 = no budget */
    long long reserved;       /* bytes reserved by running jobs */
    long long *pos_bytes;     /* [reg->n]: bytes of one KV-cache position of each model */
    int workers_planned;      /* --workers, for a job's share of all batches */
    pthread_mutex_t mu;
    pthread_cond_t work;      /* workers: sentences queued, or stopping */
    pthread_cond_t changed;   /* drain/reaper: a job finished, or stopping */
    dg_queue *queues;         /* [reg->n] */
    long queued;              /* sentences in all queues */
    int idle_workers;
    int accepting;
    int stopping;
    dg_job *active;           /* submitted and not finished */
    int n_active;
    int n_workers;
    dg_worker *workers;
    pthread_t reaper;
    int reaper_started;
};

/* Moves a running job to its final state (under mu): unlinks it, drops its queued sentences.
 * Returns 1 when this call finished it; the caller then calls job->done after unlocking. */
int dg_job_finish_locked(dg_scheduler *s, dg_job *job, dg_job_state state,
                         dg_api_error_kind kind, const char *msg);
/* A sentence leaves the scheduler for good (finished, cancelled, never run). */
void dg_sentence_release(dg_sentence *x);
/* Pops the sentences worker w may add to batch m now (under mu). */
int dg_admit_locked(dg_scheduler *s, dg_worker *w, int m, dg_sentence **out, int max);

void *dg_worker_main(void *arg);

#endif
