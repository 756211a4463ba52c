/* The scheduler between HTTP threads and decoding workers.
 *
 * A request becomes a dg_job of sentences (already tokenized by the HTTP thread). Submitting
 * queues them per model (bounded by --max-queue and --max-memory: 429 beyond); worker threads
 * (server/sched/worker.c) each own one dg_batch per model and pull sentences into it between decoder
 * steps, round-robin over the waiting requests, within a budget of KV-cache positions
 * (--max-batch-tokens; a sentence costs its source tokens + beams x its longest output, what its
 * cross- and self-attention caches reach at most). One request holds at most half of a batch,
 * so another request's sentence always fits beside it. A reaper thread enforces deadlines (504) and notices
 * clients that hung up while suspended; either cancels the job's sentences without touching
 * other requests. job->done is called exactly once per submitted job, from a scheduler
 * thread, when every sentence is translated or the job failed; the HTTP layer resumes the
 * connection there.
 *
 * Usage (HTTP side):
 *     dg_job *j = dg_job_create(n_sentences);   // fill model, opts, s[i].ids, fd, done
 *     if (dg_scheduler_submit(s, j, &e)) { ...respond with e...; dg_job_release(j); }
 *     ... done(j) fires → read j->state, j->s[i].hyps ... → dg_job_release(j) */
#ifndef DG_SCHEDULER_H
#define DG_SCHEDULER_H

#include <stdatomic.h>

#include "server/api/api_error.h"
#include "server/config.h"
#include "server/registry.h"

typedef struct dg_job dg_job;
typedef struct dg_sentence dg_sentence;
typedef struct dg_scheduler dg_scheduler;

typedef enum { DG_JOB_RUNNING, DG_JOB_DONE, DG_JOB_FAILED, DG_JOB_CLIENT_GONE } dg_job_state;

struct dg_sentence {
    dg_job *job;
    int *ids, n_ids;          /* encoder input, EOS included; owned */
    /* result, written by the worker before the job completes */
    int n_hyps;
    char **hyps;              /* detokenized, best first */
    float *scores;
    int out_tokens;           /* of the best hypothesis */
    dg_result res;            /* with opts.return_alignment: the engine's ids and alignment of
                               * every hypothesis, for text/ (protected spans, word alignment) */
    /* scheduler-private */
    int admitted;             /* taken into a batch: cost counts in job->batch_cost */
    int cost;                 /* KV-cache positions at most: source + beams x max output */
    double t_enqueue;
};

struct dg_job {
    /* filled by the submitter */
    const dg_served_model *model;
    int model_index;
    dg_search_opts opts;
    int n;
    dg_sentence *s;           /* [n] */
    int fd;                   /* client socket watched for hang-up while queued; -1 = none */
    int fd_interim;           /* the client speaks HTTP/1.1: may be sent "100 Continue" */
    int timeout_ms;           /* the request's deadline; 0 or above the server's: the server's */
    void (*done)(dg_job *job, void *arg);
    /* optional: sentence s[i] is translated (streaming). Called under the scheduler lock while
     * the job runs, so every call precedes done; it must not call back into the scheduler. */
    void (*sentence_done)(dg_job *job, int i, void *arg);
    void *done_arg;
    /* set by the scheduler */
    atomic_int state;         /* dg_job_state */
    dg_api_error error;       /* when DG_JOB_FAILED */
    int pending;              /* sentences not finished */
    atomic_int refs;
    double deadline;          /* monotonic seconds */
    double t_submit, t_start, t_end;  /* submit, first sentence batched, completion */
    dg_job *prev_active, *next_active;
    /* scheduler-private: sentences s[next_queued..n) wait; the job is then in its model's
     * round-robin ring */
    int next_queued;
    int in_ring;
    dg_job *prev_q, *next_q;
    atomic_int batch_cost;    /* cost of its sentences in batches now */
    long long reserve;        /* bytes counted against --max-memory while running */
    int probed;               /* the client half-closed and was sent the 100 probe */
    double t_admitted;        /* when a sentence of it last joined a batch (0: never) */
};

dg_job *dg_job_create(int n_sentences);
/* Drops the submitter's reference; the job is freed once the scheduler holds none either. */
void dg_job_release(dg_job *job);

double dg_now(void);  /* monotonic seconds */

dg_scheduler *dg_scheduler_create(const dg_registry *reg, const dg_serve_config *c, dg_err *err);
/* 0, or an HTTP status with e set (400 a sentence larger than half the batch budget, or the
 * request larger than --max-memory; 429 queue or memory budget full; 503 shutting down). On 0
 * job->done will be called exactly once. */
int dg_scheduler_submit(dg_scheduler *s, dg_job *job, dg_api_error *e);
/* Ends a running job as DG_JOB_CLIENT_GONE (its client left): its sentences leave the queue and
 * the batches, and done is called (here) unless the job had ended already. */
void dg_scheduler_cancel(dg_scheduler *s, dg_job *job);
/* Stops admitting jobs, waits up to grace_ms for in-flight ones, then fails the rest with
 * 503 shutting_down. */
void dg_scheduler_drain(dg_scheduler *s, int grace_ms);
/* Stops the threads and frees everything; call after dg_scheduler_drain. Accepts NULL. */
void dg_scheduler_free(dg_scheduler *s);

#endif
