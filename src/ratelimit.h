/*
 * ratelimit: per target and per verb class pacing (SYNC.md 4.4), shared
 * through Redis so that several processes serving one target together stay
 * under its limit. Each request reserves the next free slot of its class
 * (Redis keeps the time of the slot after it, by Redis's own clock); a 429
 * or an exhausted X-RateLimit pushes that time back.
 */
#ifndef WR_RATELIMIT_H
#define WR_RATELIMIT_H

#include <stdint.h>

#include "adapter.h"
#include "http.h"

struct queue;
struct ratelimit;

/* Borrowed q and limits outlive it. NULL on failure. */
struct ratelimit *ratelimit_new(struct queue *q, const char *target,
                                const struct adapter_limits *limits);
void ratelimit_free(struct ratelimit *rl);

/* Called with how long to wait before sending (ms), or -1 if Redis failed
 * (the caller retries later). */
typedef void (*ratelimit_cb)(int64_t wait_ms, void *arg);
int ratelimit_reserve(struct ratelimit *rl, enum http_class cls,
                      ratelimit_cb cb, void *arg);
/* Nothing of class cls leaves before ms from now (429, Retry-After). */
void ratelimit_penalize(struct ratelimit *rl, enum http_class cls, int64_t ms);
/* A request of class cls left just now: the next one waits a full
 * interval from here, however late this one went. */
void ratelimit_sent(struct ratelimit *rl, enum http_class cls);
/* The spacing of a class in ms (0 = unpaced). */
int64_t ratelimit_interval_ms(const struct ratelimit *rl, enum http_class cls);

#endif
