/* DESIGN: "stream": true on /v1/translate answers text/event-stream. The job runs as usual;
 * the scheduler calls sentence_done as each sentence finishes (under its lock, so every call
 * precedes done) and the stream marks it ready. The HTTP front end pulls the body through
 * stream_read (dg_req_reply_stream): it writes one "sentence" event per ready sentence, in
 * input order, and the final "done" event (the non-streamed reply, built by dg_route_finish)
 * or "error" once the job ended; with nothing to write it suspends the connection until the
 * next sentence_done or done resumes it. The state is shared by the connection and the job and counted: whichever lets go
 * last frees it. A client that leaves cancels the job (dg_scheduler_cancel), which drops its
 * sentences from the batches as a deadline does. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/http/http.h"

struct dg_stream {
    pthread_mutex_t mu;
    int refs;                 /* the request, and the job until its done fired */
    dg_server *srv;
    dg_req *rq;               /* NULL once the connection is gone */
    int n;                    /* sentences in the request */
    char *ready;              /* [n]: translated (or from the cache) */
    int *global;              /* [job->n]: the request's sentence each job sentence is */
    int next;                 /* the first sentence not written yet */
    bool finished;            /* the job's done fired (or no job was needed) */
    bool waiting;             /* the connection is suspended in stream_read */
    bool final_sent;
    char *out;                /* events not handed to the HTTP front end yet */
    size_t out_len, out_off, out_cap;
};

static void unref(dg_stream *st)
{
    pthread_mutex_lock(&st->mu);
    int left = --st->refs;
    pthread_mutex_unlock(&st->mu);
    if (left)
        return;
    pthread_mutex_destroy(&st->mu);
    free(st->ready);
    free(st->global);
    free(st->out);
    free(st);
}

/* Called with st->mu held. */
static void wake_locked(dg_stream *st)
{
    if (st->waiting && st->rq) {
        st->waiting = false;
        dg_req_resume(st->rq);
    }
}

static void on_sentence(dg_job *job, int i, void *arg)
{
    (void)job;
    dg_stream *st = arg;
    pthread_mutex_lock(&st->mu);
    st->ready[st->global ? st->global[i] : i] = 1;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

static void on_done(dg_job *job, void *arg)
{
    (void)job;
    dg_stream *st = arg;
    pthread_mutex_lock(&st->mu);
    st->finished = true;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
    unref(st);
}

static ssize_t stream_read(void *cls, char *buf, size_t max);

bool dg_stream_prepare(dg_server *srv, dg_req *rq, dg_job *job)
{
    dg_stream *st = calloc(1, sizeof *st);
    if (!st)
        return false;
    int n = rq->sentences;
    st->srv = srv;
    st->rq = rq;
    st->n = n;
    st->refs = 1;
    st->finished = job == NULL;
    st->ready = calloc((size_t)(n ? n : 1), 1);
    if (job && rq->all)
        st->global = malloc((size_t)job->n * sizeof *st->global);
    if (!st->ready || (job && rq->all && !st->global)) {
        free(st->ready);
        free(st->global);
        free(st);
        return false;
    }
    pthread_mutex_init(&st->mu, NULL);
    for (int i = 0; i < n; i++)  /* every sentence not submitted came from the cache */
        st->ready[i] = !job || (rq->all && rq->all->s[i].n_hyps > 0);
    if (st->global)
        memcpy(st->global, rq->miss, (size_t)job->n * sizeof *st->global);
    if (job) {
        st->refs++;
        job->sentence_done = on_sentence;
        job->done = on_done;
        job->done_arg = st;
        job->fd_interim = 0;  /* no "100 Continue" probe into a body already under way */
    }
    rq->stream = st;
    dg_req_reply_stream(rq, "text/event-stream; charset=utf-8", stream_read, rq);
    return true;
}

void dg_stream_abandon(dg_stream *st)
{
    unref(st);  /* the job's reference: it was never submitted */
}

static bool put(dg_stream *st, const char *event, const char *data)
{
    size_t need = st->out_len + strlen(event) + strlen(data) + 16;
    if (need > st->out_cap) {
        size_t cap = st->out_cap ? st->out_cap : 4096;
        while (cap < need)
            cap *= 2;
        char *nb = realloc(st->out, cap);
        if (!nb)
            return false;
        st->out = nb;
        st->out_cap = cap;
    }
    st->out_len += (size_t)sprintf(st->out + st->out_len, "event: %s\ndata: %s\n\n", event, data);
    return true;
}

/* The event of request sentence i: its text, its place in the text, its translation(s). */
static bool put_sentence(dg_stream *st, dg_req *rq, int i)
{
    const dg_sentence *x = rq->all && rq->all->s[i].n_hyps ? &rq->all->s[i] : NULL;
    for (int m = 0; !x && m < rq->job->n; m++)  /* n is small: one request's sentences */
        if ((st->global ? st->global[m] : m) == i)
            x = &rq->job->s[m];
    int text = rq->text.blocks[rq->text.segs[i].block].doc;
    /* each hypothesis with its protected spans put back, as the final reply has them */
    dg_text_output out = {x->n_hyps, x->hyps, x->res.ids, x->res.len, x->res.align};
    char *tr = NULL;
    dg_err err;
    if (dg_text_segment_text(&rq->text, i, &out, 0, &tr, &err))
        return false;
    json_t *o = json_pack("{s:i, s:i, s:s}", "text", text, "sentence",
                          i - rq->text.docs[text].first_seg, "translation", tr);
    free(tr);
    if (o && rq->n_best > 1) {
        json_t *alt = json_array();
        for (int h = 1; h < rq->n_best; h++) {
            char *a = NULL;
            if (dg_text_segment_text(&rq->text, i, &out, h, &a, &err)) {
                json_decref(alt);
                json_decref(o);
                return false;
            }
            json_array_append_new(alt, json_string(a));
            free(a);
        }
        json_object_set_new(o, "alternatives", alt);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    bool ok = s && put(st, "sentence", s);
    free(s);
    return ok;
}

/* The last event: the whole reply as without streaming, or the error. */
static bool put_final(dg_stream *st, dg_req *rq)
{
    dg_route_finish(st->srv, rq);
    return put(st, rq->status == 200 ? "done" : "error", rq->reply ? rq->reply : "{}");
}

static ssize_t stream_read(void *cls, char *buf, size_t max)
{
    dg_req *rq = cls;
    dg_stream *st = rq->stream;
    if (st->out_off == st->out_len) {
        st->out_off = st->out_len = 0;
        pthread_mutex_lock(&st->mu);
        bool ok = true;
        while (ok && st->next < st->n && st->ready[st->next])
            ok = put_sentence(st, rq, st->next++);
        bool ended = st->finished;
        if (ok && !st->out_len && !ended) {
            st->waiting = true;  /* resumed by the next on_sentence or on_done */
            dg_req_suspend(rq);
            pthread_mutex_unlock(&st->mu);
            return 0;
        }
        pthread_mutex_unlock(&st->mu);
        if (!ok)
            return DG_HTTP_READ_ERROR;
        if (!st->out_len) {  /* the job ended and every ready sentence went out */
            if (st->final_sent || (rq->job && atomic_load(&rq->job->state) == DG_JOB_CLIENT_GONE))
                return st->final_sent ? DG_HTTP_READ_END
                                      : DG_HTTP_READ_ERROR;
            st->final_sent = true;
            if (!put_final(st, rq))
                return DG_HTTP_READ_ERROR;
        }
    }
    size_t n = st->out_len - st->out_off < max ? st->out_len - st->out_off : max;
    memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    return (ssize_t)n;
}

void dg_stream_close(dg_server *srv, dg_req *rq)
{
    dg_stream *st = rq->stream;
    pthread_mutex_lock(&st->mu);
    st->rq = NULL;  /* on_sentence and on_done no longer resume the connection */
    pthread_mutex_unlock(&st->mu);
    /* the client left before the end: its remaining sentences are dropped */
    if (rq->job && atomic_load(&rq->job->state) == DG_JOB_RUNNING && srv->sched)
        dg_scheduler_cancel(srv->sched, rq->job);
    rq->stream = NULL;
    unref(st);
}
