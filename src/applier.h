/*
 * applier: one per target. Reads <prefix>out:<target> in the consumer group
 * "applier", drops operations already applied or expired, batches what the
 * target takes in one request, waits for the shared rate limiter, sends
 * through fetch (or applies directly for a store), and settles each
 * operation from the adapter's verdict: applied marker, retry with backoff
 * (never before Retry-After), or a dead letter with a reason a person can
 * act on. Settling and acknowledging happen in one Lua step.
 */
#ifndef WR_APPLIER_H
#define WR_APPLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "config.h"

struct event_base;
struct queue;
struct fetch;
struct applier;

/*
 * For target (a provider name with an adapter). cmdq is the shared command
 * connection; fetch the shared transfer engine (may be NULL for stores).
 * NULL with err.
 */
struct applier *applier_new(struct event_base *base, const struct config *cfg,
                            const struct adapter_ops *a, struct queue *cmdq,
                            const char *redis_url, struct fetch *f,
                            const char *consumer, char *err, size_t errlen);
void applier_stop(struct applier *ap);
bool applier_busy(const struct applier *ap);
void applier_free(struct applier *ap);

struct applier_stats {
    const char *target;
    const char *health; /* "ok", "paused", "circuit open", "backing off" */
    unsigned long long requests;
    unsigned long long applied;
    unsigned long long retried;
    unsigned long long dead;
    unsigned long long expired;
    unsigned long long waited;   /* parked behind a retry on the same item */
    long long write_interval_ms; /* pacing of writes (0: unpaced) */
    long long quota_pause_ms;    /* extra pause while a quota runs low */
    size_t chunk;                /* items per batched request now */
    char last_error[256];
    int64_t paused_until; /* epoch seconds, 0 */
};
void applier_get_stats(const struct applier *ap, struct applier_stats *out);

#endif
