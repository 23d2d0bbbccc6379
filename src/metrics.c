#include "metrics.h"

#include <inttypes.h>
#include <stdlib.h>

#include "config.h"

static const double buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct metrics {
    uint64_t requests[METRICS_SOURCES][METRICS_OUTCOME_MAX];
    uint64_t counters[METRICS_COUNTER_MAX][METRICS_SOURCES];
    uint64_t hist[NBUCKETS + 1];
    uint64_t hist_count;
    double hist_sum;
};

static const char *const outcome_names[METRICS_OUTCOME_MAX] = {
    [METRICS_OK] = "ok",
    [METRICS_IGNORED] = "ignored",
    [METRICS_DUPLICATE] = "duplicate",
    [METRICS_BAD_REQUEST] = "bad_request",
    [METRICS_UNAUTHORIZED] = "unauthorized",
    [METRICS_NOT_FOUND] = "not_found",
    [METRICS_METHOD] = "method_not_allowed",
    [METRICS_TOO_LARGE] = "too_large",
    [METRICS_UNAVAILABLE] = "unavailable",
};

static const struct {
    const char *name;
    const char *help;
} counter_info[METRICS_COUNTER_MAX] = {
    [METRICS_EVENTS_QUEUED] = {"watchrelay_events_queued_total",
                               "Events written to the events stream."},
    [METRICS_EVENTS_DUPLICATE] = {"watchrelay_events_duplicate_total",
                                  "Events already taken, not queued again."},
    [METRICS_EVENTS_SPOOLED] = {"watchrelay_events_spooled_total",
                                "Events written to the spool while Redis was "
                                "unreachable."},
    [METRICS_EVENTS_DRAINED] = {"watchrelay_events_drained_total",
                                "Spooled events moved into the stream."},
    [METRICS_EVENTS_IGNORED] = {"watchrelay_events_ignored_total",
                                "Events dropped by a source's user or server "
                                "filter."},
};

struct metrics *
metrics_new(void)
{
    return xcalloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
    free(m);
}

const char *
metrics_outcome_name(enum metrics_outcome o)
{
    return o < METRICS_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

static int
slot(int source)
{
    return source >= 0 && source < CONFIG_SOURCE_MAX ? source
                                                     : METRICS_SOURCES - 1;
}

static const char *
slot_name(int s)
{
    return s < CONFIG_SOURCE_MAX ? config_source_name((enum config_source)s)
                                 : "other";
}

void
metrics_request(struct metrics *m, int source, enum metrics_outcome o,
                double seconds)
{
    size_t b = 0;

    m->requests[slot(source)][o]++;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    m->hist[b]++;
    m->hist_count++;
    m->hist_sum += seconds;
}

void
metrics_add(struct metrics *m, enum metrics_counter c, int source, uint64_t n)
{
    m->counters[c][slot(source)] += n;
}

uint64_t
metrics_get(const struct metrics *m, enum metrics_counter c)
{
    uint64_t sum = 0;

    for (int s = 0; s < METRICS_SOURCES; s++)
        sum += m->counters[c][s];
    return sum;
}

void
metrics_render(const struct metrics *m, const struct metrics_gauges *g,
               struct buf *out)
{
    uint64_t cum = 0;

    buf_puts(out, "# HELP watchrelay_requests_total Webhook requests by "
                  "source and outcome.\n"
                  "# TYPE watchrelay_requests_total counter\n");
    for (int s = 0; s < METRICS_SOURCES; s++)
        for (int o = 0; o < METRICS_OUTCOME_MAX; o++)
            buf_printf(out,
                       "watchrelay_requests_total{source=\"%s\","
                       "outcome=\"%s\"} %" PRIu64 "\n",
                       slot_name(s), outcome_names[o], m->requests[s][o]);
    for (int c = 0; c < METRICS_COUNTER_MAX; c++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n",
                   counter_info[c].name, counter_info[c].help,
                   counter_info[c].name);
        for (int s = 0; s < METRICS_SOURCES; s++)
            buf_printf(out, "%s{source=\"%s\"} %" PRIu64 "\n",
                       counter_info[c].name, slot_name(s), m->counters[c][s]);
    }
    buf_puts(out, "# HELP watchrelay_request_duration_seconds Webhook "
                  "request latency, arrival to reply.\n"
                  "# TYPE watchrelay_request_duration_seconds histogram\n");
    for (size_t b = 0; b < NBUCKETS; b++) {
        cum += m->hist[b];
        buf_printf(out,
                   "watchrelay_request_duration_seconds_bucket{le=\"%g\"} "
                   "%" PRIu64 "\n",
                   buckets[b], cum);
    }
    cum += m->hist[NBUCKETS];
    buf_printf(out,
               "watchrelay_request_duration_seconds_bucket{le=\"+Inf\"} "
               "%" PRIu64 "\n"
               "watchrelay_request_duration_seconds_sum %.6f\n"
               "watchrelay_request_duration_seconds_count %" PRIu64 "\n",
               cum, m->hist_sum, m->hist_count);
    buf_printf(out,
               "# HELP watchrelay_spool_depth Events in the spool, not yet "
               "in Redis.\n# TYPE watchrelay_spool_depth gauge\n"
               "watchrelay_spool_depth %" PRIu64 "\n"
               "# HELP watchrelay_spool_bytes Bytes of the spool not yet "
               "drained.\n# TYPE watchrelay_spool_bytes gauge\n"
               "watchrelay_spool_bytes %" PRIu64 "\n"
               "# HELP watchrelay_redis_up Whether Redis is reachable.\n"
               "# TYPE watchrelay_redis_up gauge\nwatchrelay_redis_up %d\n"
               "# HELP watchrelay_requests_inflight Webhooks waiting for "
               "durability.\n# TYPE watchrelay_requests_inflight gauge\n"
               "watchrelay_requests_inflight %" PRIu64 "\n"
               "# HELP watchrelay_uptime_seconds Seconds since start.\n"
               "# TYPE watchrelay_uptime_seconds gauge\n"
               "watchrelay_uptime_seconds %.0f\n",
               g->spool_depth, g->spool_bytes, g->redis_up, g->inflight,
               g->uptime_s);
    if (g->stream_len >= 0)
        buf_printf(out,
                   "# HELP watchrelay_events_stream_length Entries in the "
                   "events stream.\n"
                   "# TYPE watchrelay_events_stream_length gauge\n"
                   "watchrelay_events_stream_length %" PRId64 "\n",
                   g->stream_len);
}
