/* DESIGN: a worker owns one dg_batch per model and loops: take newly queued sentences (under
 * the scheduler lock, cheap list surgery), add them to the batch, drop sentences whose job
 * ended (timeout, hang-up), run one decoder step per batch with live sentences, hand finished
 * sentences back. New sentences thus join a running decode between two steps (iteration-level
 * batching); admission (scheduler.c) is round-robin over requests and keeps any one request to
 * half the batch, so a long translation leaves room for a short one at the next step. A busy
 * worker takes new sentences only when no worker is idle, so load spreads across workers.
 * Detokenization happens here, not on the HTTP threads. */
#include <stdlib.h>
#include <string.h>

#include "server/obs/log.h"
#include "server/obs/metrics.h"
#include "server/sched/scheduler_internal.h"

#define ADMIT_MAX 64  /* sentences taken from one queue per iteration */

static void fail_job(dg_scheduler *s, dg_job *j, dg_api_error_kind kind, const char *msg)
{
    pthread_mutex_lock(&s->mu);
    int fired = dg_job_finish_locked(s, j, DG_JOB_FAILED, kind, msg);
    pthread_mutex_unlock(&s->mu);
    if (fired)
        j->done(j, j->done_arg);
}

static int push_live(dg_worker *w, int m, dg_sentence *x)
{
    if (w->n_live[m] == w->cap_live[m]) {
        int cap = w->cap_live[m] ? 2 * w->cap_live[m] : 64;
        dg_sentence **nl = realloc(w->live[m], (size_t)cap * sizeof *nl);
        if (!nl)
            return -1;
        w->live[m] = nl;
        w->cap_live[m] = cap;
    }
    w->live[m][w->n_live[m]++] = x;
    w->cost[m] += x->cost;
    return 0;
}

static void remove_live(dg_worker *w, int m, int i)
{
    w->cost[m] -= w->live[m][i]->cost;
    w->live[m][i] = w->live[m][--w->n_live[m]];
}

static int find_live(dg_worker *w, int m, dg_sentence *x)
{
    for (int i = 0; i < w->n_live[m]; i++)
        if (w->live[m][i] == x)
            return i;
    return -1;
}

static void add_sentence(dg_worker *w, int m, dg_sentence *x)
{
    dg_job *j = x->job;
    if (atomic_load(&j->state) != DG_JOB_RUNNING) {
        dg_metrics_cancelled(1);
        dg_sentence_release(x);
        return;
    }
    dg_metrics_queue_wait(dg_now() - x->t_enqueue);
    dg_err err;
    if (dg_batch_add(w->batch[m], x->ids, x->n_ids, &j->opts, x, &err)) {
        fail_job(w->s, j, dg_api_error_from_code(err.code), err.msg);
        dg_sentence_release(x);
        return;
    }
    if (push_live(w, m, x)) {
        dg_batch_cancel(w->batch[m], x);
        fail_job(w->s, j, DG_API_INTERNAL, "out of memory");
        dg_sentence_release(x);
    }
}

/* Sentences of jobs that ended meanwhile leave the batch without disturbing the others. */
static void drop_ended(dg_worker *w, int m)
{
    for (int i = w->n_live[m] - 1; i >= 0; i--) {
        dg_sentence *x = w->live[m][i];
        if (atomic_load(&x->job->state) == DG_JOB_RUNNING)
            continue;
        dg_batch_cancel(w->batch[m], x);
        remove_live(w, m, i);
        dg_metrics_cancelled(1);
        dg_sentence_release(x);
    }
}

/* Stores a finished sentence's hypotheses; completes the job when it was the last one. */
static void finish_sentence(dg_worker *w, int m, dg_sentence *x, dg_result *r)
{
    dg_scheduler *s = w->s;
    dg_job *j = x->job;
    if (atomic_load(&j->state) != DG_JOB_RUNNING)
        return;
    const dg_tokenizer *tok = s->reg->models[m].tok;
    x->hyps = calloc((size_t)(r->n > 0 ? r->n : 1), sizeof *x->hyps);
    x->scores = calloc((size_t)(r->n > 0 ? r->n : 1), sizeof *x->scores);
    if (!x->hyps || !x->scores || r->n < 1) {
        fail_job(s, j, DG_API_INTERNAL, r->n < 1 ? "the engine returned no hypothesis" : "out of memory");
        return;
    }
    for (int k = 0; k < r->n; k++) {
        dg_err err;
        if (dg_tokenizer_decode(tok, r->ids[k], r->len[k], true, &x->hyps[k], &err)) {
            fail_job(s, j, DG_API_INTERNAL, err.msg);
            return;
        }
        x->n_hyps = k + 1;
        x->scores[k] = r->scores[k];
    }
    x->out_tokens = r->len[0];
    if (r->align) {  /* kept for text/: taken over, r is left empty */
        x->res = *r;
        memset(r, 0, sizeof *r);
    }
    dg_metrics_tokens(x->n_ids, x->out_tokens);
    pthread_mutex_lock(&s->mu);
    if (j->sentence_done && atomic_load(&j->state) == DG_JOB_RUNNING)
        j->sentence_done(j, (int)(x - j->s), j->done_arg);
    int fired = --j->pending == 0 && dg_job_finish_locked(s, j, DG_JOB_DONE, DG_API_INTERNAL, "");
    pthread_mutex_unlock(&s->mu);
    if (fired)
        j->done(j, j->done_arg);
}

static void step_model(dg_worker *w, int m)
{
    drop_ended(w, m);
    if (w->n_live[m] == 0)
        return;
    dg_batch *b = w->batch[m];
    dg_metrics_batch(w->n_live[m]);
    dg_err err;
    if (dg_batch_step(b, &err)) {
        /* the batch state is unknown after a failed step: every sentence in it fails */
        dg_log_error("worker %d, model '%s': step failed: %s", w->index,
                     w->s->reg->models[m].name, err.msg);
        while (w->n_live[m] > 0) {
            dg_sentence *x = w->live[m][0];
            fail_job(w->s, x->job, DG_API_INTERNAL, err.msg);
            dg_batch_cancel(b, x);
            remove_live(w, m, 0);
            dg_sentence_release(x);
        }
        return;
    }
    void *tag;
    dg_result r;
    while (dg_batch_pop_finished(b, &tag, &r)) {
        dg_sentence *x = tag;
        int i = find_live(w, m, x);
        if (i >= 0)
            remove_live(w, m, i);
        finish_sentence(w, m, x, &r);
        dg_result_free(&r);
        dg_sentence_release(x);
    }
}

void *dg_worker_main(void *arg)
{
    dg_worker *w = arg;
    dg_scheduler *s = w->s;
    int nm = s->reg->n;
    dg_sentence *in[DG_MAX_MODELS][ADMIT_MAX];
    int n_in[DG_MAX_MODELS];
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int live = 0, got = 0;
        for (int m = 0; m < nm; m++)
            live += w->n_live[m];
        for (int m = 0; m < nm; m++) {
            n_in[m] = !live || s->idle_workers == 0 ? dg_admit_locked(s, w, m, in[m], ADMIT_MAX) : 0;
            got += n_in[m];
            double now = dg_now();
            for (int i = 0; i < n_in[m]; i++)
                if (in[m][i]->job->t_start == 0)
                    in[m][i]->job->t_start = now;
        }
        if (!live && !got) {
            s->idle_workers++;
            pthread_cond_wait(&s->work, &s->mu);
            s->idle_workers--;
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        for (int m = 0; m < nm; m++)
            for (int i = 0; i < n_in[m]; i++)
                add_sentence(w, m, in[m][i]);
        for (int m = 0; m < nm; m++)
            step_model(w, m);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    for (int m = 0; m < nm; m++)
        while (w->n_live[m] > 0) {
            dg_sentence *x = w->live[m][0];
            dg_batch_cancel(w->batch[m], x);
            remove_live(w, m, 0);
            dg_sentence_release(x);
        }
    return NULL;
}
