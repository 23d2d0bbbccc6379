/*
 * metrics: the daemon's counters and the request latency histogram,
 * rendered in the Prometheus text format (names start with watchrelay_).
 */
#ifndef WR_METRICS_H
#define WR_METRICS_H

#include <stdint.h>

#include "util.h"

enum metrics_outcome {
    METRICS_OK,          /* 200 with events */
    METRICS_IGNORED,     /* 200, nothing to do */
    METRICS_DUPLICATE,   /* 200, every event already taken */
    METRICS_BAD_REQUEST, /* 400 */
    METRICS_UNAUTHORIZED,
    METRICS_NOT_FOUND,
    METRICS_METHOD,
    METRICS_TOO_LARGE,
    METRICS_UNAVAILABLE, /* 503 */
    METRICS_OUTCOME_MAX
};

enum metrics_counter {
    METRICS_EVENTS_QUEUED,    /* into the stream directly */
    METRICS_EVENTS_DUPLICATE, /* already taken */
    METRICS_EVENTS_SPOOLED,   /* into the spool */
    METRICS_EVENTS_DRAINED,   /* from the spool into the stream */
    METRICS_EVENTS_IGNORED,   /* filtered out (user, server) */
    METRICS_COUNTER_MAX
};

/* Sources are indexed like enum config_source; one extra slot for others. */
#define METRICS_SOURCES 5

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

const char *metrics_outcome_name(enum metrics_outcome o);
void metrics_request(struct metrics *m, int source, enum metrics_outcome o,
                     double seconds);
void metrics_add(struct metrics *m, enum metrics_counter c, int source,
                 uint64_t n);
uint64_t metrics_get(const struct metrics *m, enum metrics_counter c);

/* Gauges the owner supplies at render time. */
struct metrics_gauges {
    uint64_t spool_depth;
    uint64_t spool_bytes;
    int redis_up;
    int64_t stream_len; /* -1 unknown */
    uint64_t inflight;
    double uptime_s;
};

void metrics_render(const struct metrics *m, const struct metrics_gauges *g,
                    struct buf *out);

#endif
