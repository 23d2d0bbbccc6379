#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "metrics.h"
#include "spool.h"
#include "util.h"

#define INGEST_DRAIN_BATCH 200
#define INGEST_TICK_MS     1000
/* Events sent to Redis in one script call at most (group commit). */
#define INGEST_GROUP_MAX 256

struct ingest {
    struct event_base *base;
    struct queue *q;
    struct spool *sp;
    struct metrics *m;
    struct event *drain_ev; /* one-shot: drain the next batch */
    struct event *tick_ev;  /* periodic: retry the drain */
    struct event *flush_ev; /* lowest priority: send the ready jobs */
    bool draining;          /* a drain batch is in flight */
    bool stopping;
    size_t inflight;
    struct spool_batch batch;
    struct ingest_job **ready; /* jobs waiting for the next flush */
    size_t n_ready;
    size_t cap_ready;
};

/* One submitted webhook while it waits for Redis. */
struct ingest_job {
    struct ingest *in;
    int source;
    size_t n;
    char **ids;
    char **jsons;
    size_t *lens;
    ingest_done_cb cb;
    void *arg;
};

static void
job_free(struct ingest_job *job)
{
    for (size_t i = 0; i < job->n; i++) {
        free(job->ids[i]);
        free(job->jsons[i]);
    }
    free(job->ids);
    free(job->jsons);
    free(job->lens);
    free(job);
}

static void
kick_drain(struct ingest *in)
{
    struct timeval zero = {0, 0};

    if (in->stopping || in->draining || spool_depth(in->sp) == 0 ||
        queue_state(in->q) != QUEUE_UP)
        return;
    event_add(in->drain_ev, &zero);
}

/* Append the job's events to the spool and answer. */
static void
job_spool(struct ingest_job *job)
{
    struct ingest *in = job->in;
    struct ingest_result r;
    char err[256];
    char **recs = xcalloc(job->n, sizeof(*recs));
    size_t *lens = xcalloc(job->n, sizeof(*lens));
    int rc;

    for (size_t i = 0; i < job->n; i++) {
        recs[i] = xasprintf("%s %s", job->ids[i], job->jsons[i]);
        lens[i] = strlen(recs[i]);
    }
    rc = spool_append(in->sp, (const char *const *)recs, lens, job->n, err,
                      sizeof(err));
    memset(&r, 0, sizeof(r));
    if (rc == 0) {
        r.ok = true;
        r.spooled = job->n;
        r.ids = (const char *const *)job->ids;
        r.n_ids = job->n;
        metrics_add(in->m, METRICS_EVENTS_SPOOLED, job->source, job->n);
        log_info("msg=\"events spooled\" events=%zu depth=%zu", job->n,
                 spool_depth(in->sp));
    } else {
        r.ok = false;
        r.error = "neither Redis nor the spool can take events";
        log_error("msg=\"spool append failed\" reason=\"%s\" redis=\"%s\"", err,
                  queue_errstr(in->q));
    }
    job->cb(&r, job->arg);
    for (size_t i = 0; i < job->n; i++)
        free(recs[i]);
    free(recs);
    free(lens);
    job_free(job);
}

/* Answer a job from its slice of the script's reply. */
static void
job_added(struct ingest_job *job, const int *added)
{
    struct ingest *in = job->in;
    struct ingest_result r;
    const char **ids = xcalloc(job->n, sizeof(*ids));
    size_t k = 0;

    memset(&r, 0, sizeof(r));
    r.ok = true;
    for (size_t i = 0; i < job->n; i++) {
        if (added[i]) {
            ids[k++] = job->ids[i];
            r.queued++;
        } else {
            r.duplicates++;
        }
    }
    r.ids = ids;
    r.n_ids = k;
    metrics_add(in->m, METRICS_EVENTS_QUEUED, job->source, r.queued);
    metrics_add(in->m, METRICS_EVENTS_DUPLICATE, job->source, r.duplicates);
    job->cb(&r, job->arg);
    free(ids);
    job_free(job);
}

/* Jobs whose events went to Redis in one script call. */
struct ingest_group {
    struct ingest *in;
    struct ingest_job **jobs;
    size_t n;
};

static void
on_group_added(bool ok, const int *added, size_t n, void *arg)
{
    struct ingest_group *g = arg;
    struct ingest *in = g->in;
    size_t off = 0;

    (void)n;
    in->inflight -= g->n;
    if (!ok)
        log_warn("msg=\"redis failed mid-request, spooling\" requests=%zu "
                 "reason=\"%s\"",
                 g->n, queue_errstr(in->q));
    for (size_t i = 0; i < g->n; i++) {
        struct ingest_job *job = g->jobs[i];
        size_t jn = job->n;

        if (ok)
            job_added(job, added + off);
        else
            job_spool(job);
        off += jn;
    }
    free(g->jobs);
    free(g);
    if (!ok)
        kick_drain(in);
}

/* Send jobs[0..n) in one script call; spool them if it cannot be sent. */
static void
send_group(struct ingest *in, struct ingest_job **jobs, size_t n)
{
    struct ingest_group *g = xcalloc(1, sizeof(*g));
    size_t total = 0, k = 0;
    const char **ids, **jsons;
    size_t *lens;

    g->in = in;
    g->jobs = xcalloc(n, sizeof(*g->jobs));
    memcpy(g->jobs, jobs, n * sizeof(*jobs));
    g->n = n;
    for (size_t i = 0; i < n; i++)
        total += jobs[i]->n;
    ids = xcalloc(total, sizeof(*ids));
    jsons = xcalloc(total, sizeof(*jsons));
    lens = xcalloc(total, sizeof(*lens));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < jobs[i]->n; j++, k++) {
            ids[k] = jobs[i]->ids[j];
            jsons[k] = jobs[i]->jsons[j];
            lens[k] = jobs[i]->lens[j];
        }
    }
    in->inflight += n;
    if (queue_add_events(in->q, ids, jsons, lens, total, on_group_added, g) !=
        0)
        on_group_added(false, NULL, total, g);
    free(ids);
    free(jsons);
    free(lens);
}

/*
 * Group commit: every job that became ready during one pass of the loop goes
 * to Redis in one script call, which saves a round trip and a script run per
 * webhook under load. While the spool holds anything (or is draining), jobs
 * go behind it instead, to keep the order.
 */
static void
flush_ready(struct ingest *in)
{
    struct ingest_job **jobs = in->ready;
    size_t n = in->n_ready, start = 0, events = 0;

    in->ready = NULL;
    in->n_ready = in->cap_ready = 0;
    if (queue_state(in->q) != QUEUE_UP || spool_depth(in->sp) > 0 ||
        in->draining) {
        for (size_t i = 0; i < n; i++)
            job_spool(jobs[i]);
        free(jobs);
        kick_drain(in);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > start && events + jobs[i]->n > INGEST_GROUP_MAX) {
            send_group(in, jobs + start, i - start);
            start = i;
            events = 0;
        }
        events += jobs[i]->n;
    }
    if (n > start)
        send_group(in, jobs + start, n - start);
    free(jobs);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush_ready(arg);
}

void
ingest_submit(struct ingest *in, int source, const struct event_list *evs,
              ingest_done_cb cb, void *arg)
{
    struct ingest_job *job = xcalloc(1, sizeof(*job));

    job->in = in;
    job->source = source;
    job->n = evs->n;
    job->ids = xcalloc(evs->n, sizeof(*job->ids));
    job->jsons = xcalloc(evs->n, sizeof(*job->jsons));
    job->lens = xcalloc(evs->n, sizeof(*job->lens));
    job->cb = cb;
    job->arg = arg;
    for (size_t i = 0; i < evs->n; i++) {
        struct json_object *o = event_to_json(&evs->v[i]);
        size_t len;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

        job->ids[i] = xstrdup(evs->v[i].id);
        job->jsons[i] = xstrndup(s, len);
        job->lens[i] = len;
        json_object_put(o);
    }
    /* Keep order: while the spool holds anything, new events go behind. */
    if (queue_state(in->q) == QUEUE_UP && spool_depth(in->sp) == 0 &&
        !in->draining && !in->stopping) {
        if (in->n_ready == in->cap_ready) {
            in->cap_ready = in->cap_ready ? 2 * in->cap_ready : 16;
            in->ready = xrealloc(in->ready, in->cap_ready * sizeof(*in->ready));
        }
        in->ready[in->n_ready++] = job;
        if (in->n_ready == 1)
            event_active(in->flush_ev, EV_TIMEOUT, 0);
        return;
    }
    job_spool(job);
    kick_drain(in);
}

static void
on_drained(bool ok, const int *added, size_t n, void *arg)
{
    struct ingest *in = arg;
    char err[256];
    size_t queued = 0;

    in->draining = false;
    if (!ok) {
        log_warn("msg=\"spool drain failed, will retry\" reason=\"%s\"",
                 queue_errstr(in->q));
        spool_batch_release(&in->batch);
        return;
    }
    for (size_t i = 0; i < n; i++)
        queued += added[i] != 0;
    if (spool_commit(in->sp, &in->batch, err, sizeof(err)) != 0)
        log_error("msg=\"spool commit failed\" reason=\"%s\"", err);
    metrics_add(in->m, METRICS_EVENTS_DRAINED, -1, queued);
    metrics_add(in->m, METRICS_EVENTS_DUPLICATE, -1, n - queued);
    log_info("msg=\"spool drained\" events=%zu duplicates=%zu left=%zu", queued,
             n - queued, spool_depth(in->sp));
    spool_batch_release(&in->batch);
    kick_drain(in);
}

static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct ingest *in = arg;
    char err[256];
    const char **ids = NULL, **jsons = NULL;
    size_t *lens = NULL, k = 0;

    (void)fd;
    (void)what;
    if (in->stopping || in->draining || queue_state(in->q) != QUEUE_UP)
        return;
    if (spool_peek(in->sp, INGEST_DRAIN_BATCH, &in->batch, err, sizeof(err)) !=
        0) {
        log_error("msg=\"spool read failed\" reason=\"%s\"", err);
        return;
    }
    if (in->batch.n == 0) {
        spool_batch_release(&in->batch);
        return;
    }
    ids = xcalloc(in->batch.n, sizeof(*ids));
    jsons = xcalloc(in->batch.n, sizeof(*jsons));
    lens = xcalloc(in->batch.n, sizeof(*lens));
    for (size_t i = 0; i < in->batch.n; i++) {
        char *rec = in->batch.recs[i];
        char *sp = memchr(rec, ' ', in->batch.lens[i]);

        if (sp == NULL || sp - rec != EVENT_ID_LEN) {
            log_error("msg=\"skipping a malformed spool record\" bytes=%zu",
                      in->batch.lens[i]);
            continue;
        }
        *sp = '\0';
        ids[k] = rec;
        jsons[k] = sp + 1;
        lens[k] = in->batch.lens[i] - (size_t)(sp + 1 - rec);
        k++;
    }
    if (k == 0) {
        /* Nothing usable in this batch: step over it. */
        if (spool_commit(in->sp, &in->batch, err, sizeof(err)) != 0)
            log_error("msg=\"spool commit failed\" reason=\"%s\"", err);
        spool_batch_release(&in->batch);
    } else if (queue_add_events(in->q, ids, jsons, lens, k, on_drained, in) ==
               0) {
        in->draining = true;
    } else {
        spool_batch_release(&in->batch);
    }
    free(ids);
    free(jsons);
    free(lens);
    if (!in->draining)
        kick_drain(in);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kick_drain(arg);
}

struct ingest *
ingest_new(struct event_base *base, struct queue *q, struct spool *sp,
           struct metrics *m)
{
    struct ingest *in = xcalloc(1, sizeof(*in));
    struct timeval tick = {INGEST_TICK_MS / 1000,
                           (INGEST_TICK_MS % 1000) * 1000};

    in->base = base;
    in->q = q;
    in->sp = sp;
    in->m = m;
    in->drain_ev = evtimer_new(base, on_drain, in);
    in->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, in);
    in->flush_ev = event_new(base, -1, 0, on_flush, in);
    /* After every other ready callback of the pass (see main's priorities);
     * a base without priorities just runs it in turn. */
    if (in->flush_ev != NULL &&
        event_base_get_npriorities(base) > INGEST_FLUSH_PRIORITY)
        event_priority_set(in->flush_ev, INGEST_FLUSH_PRIORITY);
    if (in->drain_ev == NULL || in->tick_ev == NULL || in->flush_ev == NULL ||
        event_add(in->tick_ev, &tick) != 0) {
        ingest_free(in);
        return NULL;
    }
    return in;
}

void
ingest_free(struct ingest *in)
{
    if (in == NULL)
        return;
    if (in->drain_ev)
        event_free(in->drain_ev);
    if (in->tick_ev)
        event_free(in->tick_ev);
    if (in->flush_ev)
        event_free(in->flush_ev);
    WR_ASSERT(in->n_ready == 0);
    free(in->ready);
    spool_batch_release(&in->batch);
    free(in);
}

void
ingest_redis_state(struct ingest *in, enum queue_state state)
{
    if (state == QUEUE_UP)
        kick_drain(in);
}

void
ingest_stop(struct ingest *in)
{
    in->stopping = true;
    event_del(in->tick_ev);
    event_del(in->drain_ev);
    event_del(in->flush_ev);
    if (in->n_ready > 0)
        flush_ready(in);
}

size_t
ingest_inflight(const struct ingest *in)
{
    return in->inflight;
}

bool
ingest_draining(const struct ingest *in)
{
    return in->draining;
}
