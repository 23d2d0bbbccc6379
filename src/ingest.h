/*
 * ingest: makes a webhook's events durable before it is answered. Events go
 * to the Redis stream (deduplicated by id) when Redis is up and the spool is
 * empty; otherwise, or when Redis fails mid-request, they are appended to the
 * fsynced spool, which drains into the stream in order once Redis is back.
 */
#ifndef WR_INGEST_H
#define WR_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "queue.h"

/*
 * The priority of the group-commit flush: main initializes the base with
 * INGEST_PRIORITIES priorities so that the flush runs after every request
 * read in the same pass of the loop.
 */
#define INGEST_PRIORITIES     3
#define INGEST_FLUSH_PRIORITY 2

struct event_base;
struct spool;
struct metrics;
struct ingest;

struct ingest_result {
    bool ok;           /* false: neither Redis nor the spool took it (503) */
    size_t queued;     /* new events now in the stream */
    size_t duplicates; /* events whose id was already taken */
    size_t spooled;    /* events now in the spool */
    const char *const *ids; /* ids of the queued or spooled events */
    size_t n_ids;
    const char *error; /* when !ok */
};

/* Called exactly once per submit; r and its arrays are borrowed. */
typedef void (*ingest_done_cb)(const struct ingest_result *r, void *arg);

/* Borrowed q, sp and m outlive the ingest. */
struct ingest *ingest_new(struct event_base *base, struct queue *q,
                          struct spool *sp, struct metrics *m);
void ingest_free(struct ingest *in);

/*
 * Make events durable and call cb (possibly before returning). source is an
 * enum config_source index for the metrics. The events are serialized at
 * once and not kept.
 */
void ingest_submit(struct ingest *in, int source, const struct event_list *evs,
                   ingest_done_cb cb, void *arg);

/* Tell the ingest that Redis came up or went down (starts the drain). */
void ingest_redis_state(struct ingest *in, enum queue_state state);
/* Stop draining (at shutdown). */
void ingest_stop(struct ingest *in);
/* Webhooks waiting for Redis. */
size_t ingest_inflight(const struct ingest *in);
bool ingest_draining(const struct ingest *in);

#endif
