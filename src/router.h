/*
 * router: reads <prefix>events in the consumer group "router", applies the
 * configured routes, runs the scrobble state machine (src/scrobble.h) with
 * its sessions in Redis, and writes target operations to
 * <prefix>out:<target>. Each event's transition, its operations and its
 * "routed" marker are written in one Lua step; the event is acknowledged
 * only afterwards, so a restart or a redelivery never doubles an operation.
 */
#ifndef WR_ROUTER_H
#define WR_ROUTER_H

#include <stddef.h>

#include "config.h"

struct event_base;
struct queue;
struct router;

/*
 * cmdq: the shared command connection (borrowed). The router opens its own
 * connection for blocking reads at redis_url. consumer names this process
 * in the consumer group (stable across restarts, so a restarted process
 * finds its own pending entries). NULL with err.
 */
struct router *router_new(struct event_base *base, const struct config *cfg,
                          struct queue *cmdq, const char *redis_url,
                          const char *consumer, char *err, size_t errlen);
/* Stop reading; the event in hand finishes. */
void router_stop(struct router *r);
/* True while an event is being processed. */
int router_busy(const struct router *r);
void router_free(struct router *r);

/* Counters for status. */
struct router_stats {
    unsigned long long events;  /* events processed */
    unsigned long long ops;     /* operations written */
    unsigned long long skipped; /* no route, or already routed */
    unsigned long long bad;     /* unreadable entries */
};
void router_get_stats(const struct router *r, struct router_stats *out);

#endif
