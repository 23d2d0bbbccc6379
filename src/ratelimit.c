#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "queue.h"
#include "util.h"

/*
 * Reserve: KEYS[1] the class key, ARGV[1] the spacing in ms. Returns how
 * long the caller waits for its slot; the key then holds the slot after.
 */
static const char reserve_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if nxt < now then nxt = now end\n"
    "local gap = tonumber(ARGV[1])\n"
    "redis.call('SET', KEYS[1], tostring(nxt + gap), 'PX', gap + 600000)\n"
    "return nxt - now\n";

/* Penalize: KEYS[1] the class key, ARGV[1] ms from now. */
static const char penalize_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local until_ms = now + tonumber(ARGV[1])\n"
    "local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if until_ms > nxt then\n"
    "  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', "
    "tonumber(ARGV[1]) + 600000)\n"
    "end\n"
    "return 0\n";

#define RATELIMIT_MARGIN_MS 50

struct ratelimit {
    struct queue *q;
    char *keys[HTTP_CLASS_MAX];
    int64_t interval_ms[HTTP_CLASS_MAX];
    int reserve;
    int penalize;
};

struct reserve_req {
    ratelimit_cb cb;
    void *arg;
};

struct ratelimit *
ratelimit_new(struct queue *q, const char *target,
              const struct adapter_limits *limits)
{
    struct ratelimit *rl = xcalloc(1, sizeof(*rl));

    rl->q = q;
    rl->keys[HTTP_CLASS_READ] =
        xasprintf("%srl:%s:read", queue_prefix(q), target);
    rl->keys[HTTP_CLASS_WRITE] =
        xasprintf("%srl:%s:write", queue_prefix(q), target);
    /* A little under the provider's own clock: requests spaced exactly at
     * the limit by our clock can arrive a hair early by theirs. */
    if (limits->write_interval_ms > 0)
        rl->interval_ms[HTTP_CLASS_WRITE] =
            limits->write_interval_ms + RATELIMIT_MARGIN_MS;
    if (limits->read_per_window > 0)
        rl->interval_ms[HTTP_CLASS_READ] =
            (int64_t)limits->read_window_s * 1000 / limits->read_per_window;
    rl->reserve = queue_script_add(q, reserve_script);
    rl->penalize = queue_script_add(q, penalize_script);
    if (rl->reserve < 0 || rl->penalize < 0) {
        ratelimit_free(rl);
        return NULL;
    }
    return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < HTTP_CLASS_MAX; i++)
        free(rl->keys[i]);
    free(rl);
}

static void
on_reserved(const struct qreply *rep, void *arg)
{
    struct reserve_req *req = arg;
    int64_t wait = -1;

    if (rep != NULL && rep->type == QREPLY_INT)
        wait = rep->integer < 0 ? 0 : rep->integer;
    else if (rep != NULL && rep->type == QREPLY_ERR)
        log_error("msg=\"rate limit script failed\" error=\"%.200s\"",
                  rep->str);
    req->cb(wait, req->arg);
    free(req);
}

int
ratelimit_reserve(struct ratelimit *rl, enum http_class cls, ratelimit_cb cb,
                  void *arg)
{
    struct reserve_req *req;
    char gap[32];
    const char *argv[2];

    if (rl->interval_ms[cls] <= 0) {
        cb(0, arg);
        return 0;
    }
    req = xcalloc(1, sizeof(*req));
    req->cb = cb;
    req->arg = arg;
    snprintf(gap, sizeof(gap), "%lld", (long long)rl->interval_ms[cls]);
    argv[0] = rl->keys[cls];
    argv[1] = gap;
    if (queue_eval(rl->q, rl->reserve, on_reserved, req, 1, 2, argv, NULL) !=
        0) {
        free(req);
        return -1;
    }
    return 0;
}

static void
on_penalized(const struct qreply *rep, void *arg)
{
    (void)rep;
    (void)arg;
}

/* Nothing of class cls before ms from now (by Redis's clock). */
static void
push_back(struct ratelimit *rl, enum http_class cls, int64_t ms)
{
    char v[32];
    const char *argv[2];

    if (ms <= 0)
        return;
    snprintf(v, sizeof(v), "%lld", (long long)ms);
    argv[0] = rl->keys[cls];
    argv[1] = v;
    if (queue_eval(rl->q, rl->penalize, on_penalized, NULL, 1, 2, argv, NULL) !=
        0)
        log_warn("msg=\"cannot record a rate-limit delay\" ms=%lld",
                 (long long)ms);
}

void
ratelimit_penalize(struct ratelimit *rl, enum http_class cls, int64_t ms)
{
    /* Retry-After counts from when the provider sent it; ours from when it
     * arrived, by another clock: a margin keeps us from being a hair early. */
    if (ms > 0)
        push_back(rl, cls, ms + RATELIMIT_MARGIN_MS);
}

void
ratelimit_sent(struct ratelimit *rl, enum http_class cls)
{
    push_back(rl, cls, rl->interval_ms[cls]);
}

int64_t
ratelimit_interval_ms(const struct ratelimit *rl, enum http_class cls)
{
    return rl->interval_ms[cls];
}
