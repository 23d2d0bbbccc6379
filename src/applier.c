#include "applier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "authstore.h"
#include "fetch.h"
#include "jsonu.h"
#include "log.h"
#include "op.h"
#include "queue.h"
#include "ratelimit.h"
#include "reconcile.h"
#include "util.h"

#define APPLIER_GROUP              "applier"
#define APPLIER_BLOCK_MS           "1000"
#define APPLIER_MAX_ATTEMPTS       12
#define APPLIER_CIRCUIT_AFTER      5
#define APPLIER_PAUSE_S            300
#define APPLIER_START_TTL_S        300  /* a start older than this is stale */
#define APPLIER_PAUSE_TTL_S        3600 /* a pause older than this is stale */
#define APPLIER_STOP_LATE_S        600 /* a completion this late goes as history */
#define APPLIER_EXCERPT            1024
#define APPLIER_SETTLE_FIELDS      10
#define APPLIER_MIN_CHUNK          10
#define APPLIER_LEASE_MS           "30000"
#define APPLIER_QUOTA_PAUSE_MAX_MS 30000

/*
 * Settle a unit: per operation (entry id, op id, outcome, op JSON, due ms
 * or failed_at, reason, attempts, status, excerpt, item key): done sets the
 * applied marker, retry parks the operation in the retry set until due and
 * holds its item (later operations on it wait), wait parks one behind such
 * a hold, dead appends a dead letter; done and dead release the item's
 * hold; then the entry is acknowledged and deleted.
 */
static const char settle_script[] =
    "local prefix, target, stream = ARGV[1], ARGV[2], ARGV[3]\n"
    "local n = tonumber(ARGV[4])\n"
    "for j = 0, n - 1 do\n"
    "  local b = 5 + 10 * j\n"
    "  local eid, oid, outcome, js = ARGV[b], ARGV[b + 1], ARGV[b + 2], "
    "ARGV[b + 3]\n"
    "  local bk = prefix .. 'block:' .. target .. ':' .. ARGV[b + 9]\n"
    "  if outcome == 'done' or outcome == 'dead' then\n"
    "    local bv = redis.call('GET', bk)\n"
    "    if bv and string.sub(bv, -32) == oid then redis.call('DEL', bk) "
    "end\n"
    "  end\n"
    "  if outcome == 'done' then\n"
    "    redis.call('SET', prefix .. 'applied:' .. target .. ':' .. oid, "
    "'1', 'EX', 1209600)\n"
    "  elseif outcome == 'retry' then\n"
    "    redis.call('ZADD', prefix .. 'retry:' .. target, ARGV[b + 4], js)\n"
    "    redis.call('SET', bk, ARGV[b + 4] .. '|' .. oid, 'EX', 86400)\n"
    "  elseif outcome == 'wait' then\n"
    "    redis.call('ZADD', prefix .. 'retry:' .. target, ARGV[b + 4], js)\n"
    "  elseif outcome == 'dead' then\n"
    "    redis.call('XADD', prefix .. 'dead', '*', 'event', js, 'target', "
    "target, 'reason', ARGV[b + 5], 'attempts', ARGV[b + 6], 'failed_at', "
    "ARGV[b + 4], 'status', ARGV[b + 7], 'excerpt', ARGV[b + 8], 'op_id', "
    "oid)\n"
    "  end\n"
    "  if eid ~= '' then\n"
    "    redis.call('XACK', stream, 'applier', eid)\n"
    "    redis.call('XDEL', stream, eid)\n"
    "  end\n"
    "end\n"
    "return n\n";

/*
 * Before a batch: for each (op id, item key), whether the op was applied
 * and which op (if any) holds the item while it waits for a retry, so that
 * later operations on the item wait behind it (per-item order).
 */
static const char check_script[] =
    "local prefix, target = ARGV[1], ARGV[2]\n"
    "local out = {}\n"
    "for i = 3, #ARGV, 2 do\n"
    "  out[#out + 1] = redis.call('EXISTS', prefix .. 'applied:' .. target "
    ".. ':' .. ARGV[i])\n"
    "  out[#out + 1] = redis.call('GET', prefix .. 'block:' .. target .. "
    "':' .. ARGV[i + 1]) or ''\n"
    "end\n"
    "return out\n";

/*
 * The target's lease (SYNC.md 4.2): one applier at a time writes to a
 * target. KEYS[1] the lease, ARGV[1] our consumer name, ARGV[2] the TTL in
 * ms. Takes a free lease or renews ours; 1 if we hold it, else 0.
 */
static const char lease_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "  return 1\n"
    "elseif v == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* Move due retries back to the stream. KEYS: retry set, stream. */
static const char move_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, "
    "'LIMIT', 0, 200)\n"
    "for _, js in ipairs(due) do\n"
    "  redis.call('XADD', KEYS[2], '*', 'op', js)\n"
    "  redis.call('ZREM', KEYS[1], js)\n"
    "end\n"
    "return #due\n";

/* Intent records before sending history adds to targets that keep
 * duplicates: 1 for each op whose intent already existed (a crashed
 * attempt), 0 for a new one. KEYS: the intent keys. */
static const char intent_script[] =
    "local out = {}\n"
    "for i, k in ipairs(KEYS) do\n"
    "  if redis.call('SET', k, '1', 'NX', 'EX', 86400) then out[i] = 0 "
    "else out[i] = 1 end\n"
    "end\n"
    "return out\n";

enum aop_state {
    AOP_PENDING,
    AOP_DONE,
    AOP_RETRY,
    AOP_DEAD,
    AOP_EXPIRED, /* settled like done, counted apart */
    AOP_WAIT,    /* parked behind an earlier operation on its item */
    AOP_DROP     /* unreadable: acknowledged without a marker */
};

struct aop {
    char *entry_id;
    struct op op;
    bool valid;
    enum aop_state state;
    int64_t due_ms;
    int status;
    char reason[256];
    char *excerpt;
    bool had_intent;
};

struct applier {
    struct event_base *base;
    const struct config *cfg;
    const struct adapter_ops *a;
    void *ctx;
    char *target;
    char *stream;
    char *prefix;
    char *consumer;
    struct queue *cq;
    struct queue *rq;
    struct fetch *f;
    struct ratelimit *rl;
    int settle;
    int outcome; /* reconcile_outcome_lua: reports on pair operations */
    int check;
    int lease;
    bool leased;        /* we hold the target's lease */
    bool lease_pending; /* a lease request is in flight */
    char *lease_key;
    int move;
    int intent;
    bool group_ready;
    bool read_pending;
    bool reading;
    bool stopping;
    bool busy;
    struct event *resume_ev; /* re-enter the pipeline */
    struct event *send_ev;   /* our rate-limit slot has come */
    struct event *move_ev;   /* periodic: due retries back to the stream */
    /* The batch in hand and the unit [u0, u1) being sent. */
    struct aop *ops;
    size_t n_ops;
    size_t u0, u1;
    bool refreshed;
    int consecutive;
    unsigned ticks;
    size_t chunk;           /* items per request now (halved by 429s) */
    int64_t quota_pause_ms; /* extra pause while a quota runs low */
    int64_t paused_until_ms;
    struct applier_stats stats;
};

static void read_next(struct applier *ap);
static void next_unit(struct applier *ap);
static void send_unit(struct applier *ap);
static void do_refresh(struct applier *ap);

static int64_t
now_ms(void)
{
    return wr_now() * 1000;
}

static void
batch_free(struct applier *ap)
{
    for (size_t i = 0; i < ap->n_ops; i++) {
        free(ap->ops[i].entry_id);
        free(ap->ops[i].excerpt);
        op_release(&ap->ops[i].op);
    }
    free(ap->ops);
    ap->ops = NULL;
    ap->n_ops = ap->u0 = ap->u1 = 0;
}

static void
resume_after(struct applier *ap, int64_t ms)
{
    struct timeval tv;

    if (ap->stopping)
        return;
    if (ms < 0)
        ms = 0;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(ap->resume_ev, &tv);
}

/* Give the batch back (entries stay pending) and read again later. */
static void
hold_batch(struct applier *ap, int64_t ms)
{
    batch_free(ap);
    ap->busy = false;
    ap->read_pending = true;
    resume_after(ap, ms);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct applier *ap = arg;

    (void)fd;
    (void)what;
    if (ap->n_ops > 0 && ap->u0 < ap->u1)
        send_unit(ap);
    else if (ap->n_ops > 0)
        next_unit(ap);
    else
        read_next(ap);
}

static int64_t
backoff_ms(int attempt)
{
    double base = 2000.0 * pow(2.0, attempt > 0 ? attempt - 1 : 0);
    double jitter = 0.8 + 0.4 * ((double)random() / (double)RAND_MAX);

    if (base > 1800000.0)
        base = 1800000.0;
    return (int64_t)(base * jitter);
}

static const char *
state_name(enum aop_state s)
{
    switch (s) {
    case AOP_DONE:
        return "done";
    case AOP_RETRY:
        return "retry";
    case AOP_DEAD:
        return "dead";
    case AOP_EXPIRED:
        return "done";
    case AOP_WAIT:
        return "wait";
    default:
        return "drop";
    }
}

static void
on_outcome(const struct qreply *rep, void *arg)
{
    (void)arg;
    if (rep == NULL || rep->type == QREPLY_ERR)
        log_warn("msg=\"pair outcome not recorded\" error=\"%.200s\"",
                 rep && rep->str ? rep->str : "redis unavailable");
}

/* The short reason an unresolved record keeps (SYNC.md 6.6). */
static const char *
unresolved_reason(int status)
{
    switch (status) {
    case 404:
        return "not_found";
    case 420:
        return "account_limit";
    case 426:
        return "vip_only";
    default:
        return "invalid";
    }
}

/* Tell the pair's memory how an operation a poll or reconcile planned
 * ended: done, or dead (which counts toward its quarantine). */
static void
report_pair_outcome(struct applier *ap, const struct aop *o)
{
    char *keys[4], *args[7];
    const char *argv[11];
    bool ok = o->state == AOP_DONE || o->state == AOP_EXPIRED;

    if (o->op.pair == NULL || (!ok && o->state != AOP_DEAD))
        return;
    if (reconcile_outcome_args(ap->cfg, &o->op, ok,
                               ok ? "" : unresolved_reason(o->status), wr_now(),
                               keys, args) != 0)
        return;
    for (int i = 0; i < 4; i++)
        argv[i] = keys[i];
    for (int i = 0; i < 7; i++)
        argv[4 + i] = args[i];
    (void)queue_eval(ap->cq, ap->outcome, on_outcome, NULL, 4, 11, argv, NULL);
    for (int i = 0; i < 4; i++)
        free(keys[i]);
    for (int i = 0; i < 7; i++)
        free(args[i]);
}

static void
on_settled(const struct qreply *rep, void *arg)
{
    struct applier *ap = arg;

    if (rep == NULL || rep->type == QREPLY_ERR) {
        if (rep != NULL)
            log_error("msg=\"settle script failed\" target=%s error=\"%.200s\"",
                      ap->target, rep->str);
        /* Not settled: read the same entries again later; applied markers
         * and 409s keep this idempotent. */
        hold_batch(ap, 1000);
        return;
    }
    for (size_t i = ap->u0; i < ap->u1; i++) {
        struct aop *o = &ap->ops[i];

        report_pair_outcome(ap, o);
        switch (o->state) {
        case AOP_DONE:
            ap->stats.applied++;
            break;
        case AOP_RETRY:
            ap->stats.retried++;
            break;
        case AOP_DEAD:
            ap->stats.dead++;
            break;
        case AOP_EXPIRED:
            ap->stats.expired++;
            break;
        case AOP_WAIT:
            ap->stats.waited++;
            break;
        default:
            break;
        }
    }
    ap->u0 = ap->u1;
    next_unit(ap);
}

/* Settle ops [u0, u1), all of which have a final state. */
static void
settle_unit(struct applier *ap)
{
    size_t n = ap->u1 - ap->u0;
    size_t argc = 4 + APPLIER_SETTLE_FIELDS * n, k = 0;
    const char **argv = xcalloc(argc, sizeof(char *));
    char **owned = xcalloc(argc, sizeof(char *));
    size_t no = 0;
    char nbuf[32];

    snprintf(nbuf, sizeof(nbuf), "%zu", n);
    argv[k++] = ap->prefix;
    argv[k++] = ap->target;
    argv[k++] = ap->stream;
    argv[k++] = nbuf;
    for (size_t i = ap->u0; i < ap->u1; i++) {
        struct aop *o = &ap->ops[i];
        char *js = NULL, *due = NULL;

        if (o->state == AOP_RETRY || o->state == AOP_DEAD ||
            o->state == AOP_WAIT) {
            struct json_object *j = op_to_json(&o->op);
            size_t len;
            const char *s = jsonu_str(j, &len);

            js = xstrndup(s, len);
            json_object_put(j);
        }
        if (o->state == AOP_RETRY || o->state == AOP_WAIT) {
            due = xasprintf("%lld", (long long)o->due_ms);
        } else if (o->state == AOP_DEAD) {
            char t[WR_TIME_BUF];

            wr_time_format(wr_now(), t);
            due = xstrdup(t);
        }
        argv[k++] = o->entry_id ? o->entry_id : "";
        argv[k++] = o->op.id;
        argv[k++] = state_name(o->state);
        argv[k++] = js ? js : "";
        argv[k++] = due ? due : "0";
        argv[k++] = o->reason;
        owned[no++] = xasprintf("%d", o->op.attempts);
        argv[k++] = owned[no - 1];
        owned[no++] = xasprintf("%d", o->status);
        argv[k++] = owned[no - 1];
        argv[k++] = o->excerpt ? o->excerpt : "";
        argv[k++] = o->op.key ? o->op.key : "";
        if (js)
            owned[no++] = js;
        if (due)
            owned[no++] = due;
        if (o->state == AOP_DEAD)
            log_warn("msg=\"dead letter\" target=%s op=%s kind=%s key=%s "
                     "reason=\"%s\" attempts=%d",
                     ap->target, o->op.id, op_kind_name(o->op.kind),
                     o->op.key ? o->op.key : "", o->reason, o->op.attempts);
        else if (o->state == AOP_RETRY)
            log_info("msg=\"retry scheduled\" target=%s op=%s attempts=%d "
                     "in_ms=%lld reason=\"%s\"",
                     ap->target, o->op.id, o->op.attempts,
                     (long long)(o->due_ms - now_ms()), o->reason);
        else if (o->state == AOP_DONE)
            log_info("msg=applied target=%s op=%s kind=%s key=%s", ap->target,
                     o->op.id, op_kind_name(o->op.kind),
                     o->op.key ? o->op.key : "");
    }
    if (queue_eval(ap->cq, ap->settle, on_settled, ap, 0, (int)k, argv, NULL) !=
        0)
        hold_batch(ap, 1000);
    for (size_t i = 0; i < no; i++)
        free(owned[i]);
    free(owned);
    free(argv);
}

static void
redact_json(struct json_object *o)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            redact_json(json_object_array_get_idx(o, i));
        return;
    }
    if (!json_object_is_type(o, json_type_object))
        return;
    json_object_object_foreach (o, key, val) {
        char low[64];
        size_t i;

        for (i = 0; key[i] && i + 1 < sizeof(low); i++)
            low[i] =
                (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
        low[i] = '\0';
        if (strstr(low, "token") || strstr(low, "secret") ||
            strstr(low, "password") || strstr(low, "code") ||
            strstr(low, "key"))
            json_object_object_add(o, key,
                                   json_object_new_string("[redacted]"));
        else
            redact_json(val);
    }
}

/* Case-insensitive "does s contain w" for ASCII w. */
static bool
mentions(const char *s, const char *w)
{
    size_t n = strlen(w);

    for (; *s; s++) {
        size_t i = 0;

        while (i < n && s[i] && (s[i] | 0x20) == (w[i] | 0x20))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/*
 * The dead letter's excerpt of a reply: at most 1 KiB, with the values of
 * credential-like JSON keys replaced; a body that is not JSON and mentions
 * credentials is withheld. Owned.
 */
static char *
excerpt_of(const char *body)
{
    struct json_object *o;
    char err[64];
    size_t len = strlen(body);
    char *out;

    o = jsonu_parse(body, len, JSONU_DEPTH, err, sizeof(err));
    if (o != NULL) {
        const char *s;

        redact_json(o);
        s = jsonu_str(o, &len);
        out = xstrndup(s, len > APPLIER_EXCERPT ? APPLIER_EXCERPT : len);
        json_object_put(o);
        return out;
    }
    if (mentions(body, "token") || mentions(body, "secret") ||
        mentions(body, "bearer"))
        return xstrdup("[withheld: the reply mentions credentials]");
    return xstrndup(body, len > APPLIER_EXCERPT ? APPLIER_EXCERPT : len);
}

/* Record the adapter's verdicts on [u0, u1) and settle or re-send. */
static void
judge_unit(struct applier *ap, const struct adapter_result *res, int status,
           const char *body)
{
    size_t n = ap->u1 - ap->u0;
    bool transport = status == 0 || status >= 500;
    int64_t rate_ms = -1, hold_ms = -1;
    bool refresh = false, pause = false, any_retry = false;
    char pause_reason[256] = "";

    for (size_t i = 0; i < n; i++) {
        switch (res[i].outcome) {
        case ADAPTER_RATE:
            rate_ms = res[i].retry_after_ms > rate_ms ? res[i].retry_after_ms
                                                      : rate_ms;
            break;
        case ADAPTER_REFRESH:
            refresh = true;
            break;
        case ADAPTER_PAUSE:
            pause = true;
            snprintf(pause_reason, sizeof(pause_reason), "%s", res[i].reason);
            break;
        case ADAPTER_RETRY:
            any_retry = true;
            if (res[i].retry_after_ms > hold_ms)
                hold_ms = res[i].retry_after_ms;
            break;
        default:
            break;
        }
    }
    if (rate_ms >= 0) {
        if (rate_ms < 1000)
            rate_ms = 1000;
        log_info("msg=\"rate limited\" target=%s wait_ms=%lld", ap->target,
                 (long long)rate_ms);
        ratelimit_penalize(ap->rl, HTTP_CLASS_WRITE, rate_ms);
        snprintf(ap->stats.last_error, sizeof(ap->stats.last_error),
                 "429 rate limited");
        /* SYNC.md 8: after a 429 the chunk halves for the run (min 10);
         * the unit in hand shrinks too when it is larger. */
        ap->chunk = ap->chunk / 2 < APPLIER_MIN_CHUNK ? APPLIER_MIN_CHUNK
                                                      : ap->chunk / 2;
        if (ap->u1 - ap->u0 > ap->chunk)
            ap->u1 = ap->u0 + ap->chunk;
        resume_after(ap, 0); /* the reserve waits for the penalty */
        return;
    }
    if (refresh && !ap->refreshed && ap->a->build_refresh != NULL) {
        ap->refreshed = true;
        do_refresh(ap);
        return;
    }
    if (refresh || pause) {
        snprintf(ap->stats.last_error, sizeof(ap->stats.last_error), "%s",
                 pause ? pause_reason
                       : "auth_failed: the token was refused even after a "
                         "refresh; run `watchrelay auth`");
        log_error("msg=\"target paused\" target=%s reason=\"%s\" for_s=%d",
                  ap->target, ap->stats.last_error, APPLIER_PAUSE_S);
        ap->paused_until_ms = now_ms() + APPLIER_PAUSE_S * 1000;
        ap->stats.paused_until = ap->paused_until_ms / 1000;
        hold_batch(ap, APPLIER_PAUSE_S * 1000);
        return;
    }
    if (any_retry && transport) {
        ap->consecutive++;
        snprintf(ap->stats.last_error, sizeof(ap->stats.last_error),
                 "status %d%s", status,
                 status == 0 ? " (transport error)" : "");
        if (ap->consecutive >= APPLIER_CIRCUIT_AFTER) {
            /* Circuit open: hold the unit and probe at backoff pace;
             * attempts do not count, so an outage dead-letters nothing. */
            int64_t ms =
                backoff_ms(ap->consecutive - APPLIER_CIRCUIT_AFTER + 1);

            if (hold_ms > ms)
                ms = hold_ms;
            log_warn(
                "msg=\"circuit open\" target=%s failures=%d probe_in_ms=%lld",
                ap->target, ap->consecutive, (long long)ms);
            resume_after(ap, ms);
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct aop *o = &ap->ops[ap->u0 + i];

        o->status = status;
        snprintf(o->reason, sizeof(o->reason), "%s", res[i].reason);
        if (body != NULL && res[i].outcome != ADAPTER_DONE) {
            free(o->excerpt);
            o->excerpt = excerpt_of(body);
        }
        switch (res[i].outcome) {
        case ADAPTER_DONE:
            o->state = AOP_DONE;
            break;
        case ADAPTER_PERMANENT:
            o->state = AOP_DEAD;
            o->op.attempts++;
            break;
        default: /* RETRY */
            o->op.attempts++;
            if (o->op.attempts >= APPLIER_MAX_ATTEMPTS) {
                o->state = AOP_DEAD;
                snprintf(o->reason, sizeof(o->reason),
                         "retries_exhausted: %d attempts, last: %.180s",
                         o->op.attempts, res[i].reason);
            } else {
                int64_t ms = backoff_ms(o->op.attempts);

                if (res[i].retry_after_ms > ms)
                    ms = res[i].retry_after_ms;
                o->state = AOP_RETRY;
                o->due_ms = now_ms() + ms;
            }
            break;
        }
    }
    if (!any_retry || !transport)
        ap->consecutive = 0;
    ap->refreshed = false;
    settle_unit(ap);
}

/*
 * SYNC.md 8: when X-RateLimit-Remaining falls below 10 % of the limit (or
 * 10), the pause between requests grows by 1 s a request up to 30 s, and
 * returns to the base pace above 50 %. An exhausted quota with a reset time
 * waits for the reset.
 */
static void
watch_quota(struct applier *ap, const struct http_response *resp)
{
    const char *rem = http_response_header(resp, "X-RateLimit-Remaining");
    const char *lim = http_response_header(resp, "X-RateLimit-Limit");
    const char *rst = http_response_header(resp, "X-RateLimit-Reset");
    int64_t remaining, limit, reset, low;

    if (rem == NULL || parse_i64(rem, 0, INT64_MAX, &remaining) != 0)
        return;
    if (lim == NULL || parse_i64(lim, 1, INT64_MAX, &limit) != 0)
        limit = 0;
    low = limit / 10 > 10 ? limit / 10 : 10;
    if (remaining == 0 && rst != NULL &&
        parse_i64(rst, 0, INT64_MAX, &reset) == 0) {
        /* Epoch seconds, or seconds from now. */
        int64_t wait_s = reset > 1000000000 ? reset - wr_now() : reset;

        if (wait_s > 0 && wait_s < 86400) {
            log_warn("msg=\"quota exhausted\" target=%s wait_s=%lld",
                     ap->target, (long long)wait_s);
            ratelimit_penalize(ap->rl, HTTP_CLASS_WRITE, wait_s * 1000);
            ratelimit_penalize(ap->rl, HTTP_CLASS_READ, wait_s * 1000);
        }
        return;
    }
    if (remaining < low) {
        ap->quota_pause_ms += 1000;
        if (ap->quota_pause_ms > APPLIER_QUOTA_PAUSE_MAX_MS)
            ap->quota_pause_ms = APPLIER_QUOTA_PAUSE_MAX_MS;
        log_info("msg=\"quota running low, slowing down\" target=%s "
                 "remaining=%lld pause_ms=%lld",
                 ap->target, (long long)remaining,
                 (long long)ap->quota_pause_ms);
        ratelimit_penalize(ap->rl, HTTP_CLASS_WRITE, ap->quota_pause_ms);
    } else if (limit > 0 && remaining > limit / 2) {
        ap->quota_pause_ms = 0;
    }
}

static void
on_fetched(const struct http_response *resp, void *arg)
{
    struct applier *ap = arg;
    size_t n = ap->u1 - ap->u0;
    const struct op **ops = xcalloc(n, sizeof(*ops));
    struct adapter_result *res = xcalloc(n, sizeof(*res));

    ap->stats.requests++;
    for (size_t i = 0; i < n; i++)
        ops[i] = &ap->ops[ap->u0 + i].op;
    if (ap->stopping) {
        /* Shutting down: leave the entries pending for the next start. */
        free(ops);
        free(res);
        return;
    }
    watch_quota(ap, resp);
    ap->a->classify(ap->ctx, ops, n, resp, res);
    log_debug("msg=\"reply\" target=%s status=%ld ops=%zu verdict=%s",
              ap->target, resp->status, n,
              adapter_outcome_name(res[0].outcome));
    judge_unit(ap, res, (int)resp->status,
               resp->status == 0 ? resp->error : resp->body);
    free(ops);
    free(res);
}

/* The unit [u0, u1) may go now. */
static void
transmit(struct applier *ap)
{
    size_t n = ap->u1 - ap->u0;
    const struct op **ops = xcalloc(n, sizeof(*ops));
    struct adapter_result *res = xcalloc(n, sizeof(*res));
    struct http_request req;
    char err[256] = "";

    for (size_t i = 0; i < n; i++)
        ops[i] = &ap->ops[ap->u0 + i].op;
    if (ap->a->apply != NULL) {
        if (ap->a->apply(ap->ctx, ops, n, res) != 0)
            for (size_t i = 0; i < n; i++)
                if (res[i].outcome == ADAPTER_DONE && res[i].reason[0] == 0)
                    res[i].outcome = ADAPTER_RETRY;
        ap->stats.requests++;
        judge_unit(ap, res, 200, NULL);
        goto done;
    }
    http_request_init(&req);
    if (ap->a->build(ap->ctx, ops, n, &req, err, sizeof(err)) != 0) {
        for (size_t i = 0; i < n; i++) {
            res[i].outcome = ADAPTER_PERMANENT;
            snprintf(res[i].reason, sizeof(res[i].reason), "invalid: %.200s",
                     err);
        }
        http_request_release(&req);
        judge_unit(ap, res, 0, NULL);
        goto done;
    }
    log_debug("msg=send target=%s method=%s ops=%zu kind=%s", ap->target,
              http_method_name(req.method), n, op_kind_name(ops[0]->kind));
    /* The next write waits a full interval from this actual send, however
     * late the loop got to it. */
    ratelimit_sent(ap->rl, req.rate_class);
    if (fetch_submit(ap->f, &req, on_fetched, ap) != 0) {
        http_request_release(&req);
        resume_after(ap, 1000);
        goto done;
    }
    http_request_release(&req);
done:
    free(ops);
    free(res);
}

static void
on_send_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    transmit(arg);
}

static void
on_reserved(int64_t wait_ms, void *arg)
{
    struct applier *ap = arg;
    struct timeval tv;

    if (ap->stopping)
        return;
    if (wait_ms < 0) {
        resume_after(ap, 1000);
        return;
    }
    if (wait_ms == 0) {
        transmit(ap);
        return;
    }
    /* The slot is ours: wait for it, then send. */
    tv.tv_sec = wait_ms / 1000;
    tv.tv_usec = (wait_ms % 1000) * 1000;
    evtimer_add(ap->send_ev, &tv);
}

static void
send_unit(struct applier *ap)
{
    int64_t now = now_ms();

    if (ap->stopping)
        return;
    if (ap->paused_until_ms > now) {
        hold_batch(ap, ap->paused_until_ms - now);
        return;
    }
    ap->paused_until_ms = 0;
    ap->stats.paused_until = 0;
    if (ratelimit_reserve(ap->rl, HTTP_CLASS_WRITE, on_reserved, ap) != 0)
        resume_after(ap, 1000);
}

/* ---- token refresh ---- */

static void
on_refreshed(const struct http_response *resp, void *arg)
{
    struct applier *ap = arg;
    struct adapter_tokens t;
    char err[256] = "";

    if (ap->stopping)
        return;
    memset(&t, 0, sizeof(t));
    if (ap->a->parse_refresh(ap->ctx, resp, &t, err, sizeof(err)) != 0 ||
        authstore_save(ap->cfg->state_dir, ap->target, &t, err, sizeof(err)) !=
            0) {
        struct adapter_result *res;
        size_t n = ap->u1 - ap->u0;

        log_error("msg=\"token refresh failed\" target=%s reason=\"%s\"",
                  ap->target, err);
        adapter_tokens_release(&t);
        res = xcalloc(n, sizeof(*res));
        for (size_t i = 0; i < n; i++) {
            res[i].outcome = ADAPTER_PAUSE;
            snprintf(res[i].reason, sizeof(res[i].reason),
                     "auth_failed: token refresh failed (%.120s); run "
                     "`watchrelay auth %s`",
                     err, ap->target);
        }
        judge_unit(ap, res, (int)resp->status, NULL);
        free(res);
        return;
    }
    /* Stored durably before use: the old refresh token is spent. */
    ap->a->set_tokens(ap->ctx, &t);
    adapter_tokens_release(&t);
    log_info("msg=\"token refreshed\" target=%s", ap->target);
    send_unit(ap);
}

static void
do_refresh(struct applier *ap)
{
    struct http_request req;
    char err[256] = "";

    http_request_init(&req);
    if (ap->a->build_refresh(ap->ctx, &req, err, sizeof(err)) != 0 ||
        fetch_submit(ap->f, &req, on_refreshed, ap) != 0) {
        log_error("msg=\"cannot refresh the token\" target=%s reason=\"%s\"",
                  ap->target, err);
        ap->paused_until_ms = now_ms() + APPLIER_PAUSE_S * 1000;
        http_request_release(&req);
        hold_batch(ap, APPLIER_PAUSE_S * 1000);
        return;
    }
    http_request_release(&req);
}

/* ---- idempotence checks for history adds (SYNC.md 4.2 step 3) ---- */

static void check_next_intent(struct applier *ap, size_t i);

static void
on_history_checked(const struct http_response *resp, void *arg)
{
    struct applier *ap = arg;
    size_t i;
    bool found = false;

    if (ap->stopping)
        return;
    for (i = ap->u0; i < ap->u1; i++)
        if (ap->ops[i].had_intent)
            break;
    if (i < ap->u1) {
        ap->ops[i].had_intent = false;
        if (resp->status >= 200 && resp->status < 300 &&
            ap->a->parse_history_check(ap->ctx, &ap->ops[i].op, resp, &found) ==
                0 &&
            found) {
            /* It reached the target before the crash: done, not resent. */
            log_info("msg=\"play already on target\" target=%s op=%s",
                     ap->target, ap->ops[i].op.id);
            ap->ops[i].state = AOP_DONE;
        }
    }
    check_next_intent(ap, ap->u0);
}

/* Check each op of the unit whose intent existed, then send the rest. */
static void
check_next_intent(struct applier *ap, size_t from)
{
    size_t i, k;

    for (i = from; i < ap->u1; i++) {
        if (ap->ops[i].had_intent) {
            struct http_request req;
            char err[256];

            http_request_init(&req);
            if (ap->a->build_history_check(ap->ctx, &ap->ops[i].op, &req, err,
                                           sizeof(err)) == 0 &&
                fetch_submit(ap->f, &req, on_history_checked, ap) == 0) {
                http_request_release(&req);
                return;
            }
            http_request_release(&req);
            ap->ops[i].had_intent = false; /* cannot check: send */
        }
    }
    /*
     * Plays the check found on the target are settled as a unit of their
     * own (moved to the front); the others are sent by the next unit.
     */
    for (i = ap->u0, k = ap->u0; i < ap->u1; i++) {
        if (ap->ops[i].state == AOP_DONE) {
            struct aop tmp = ap->ops[k];

            ap->ops[k] = ap->ops[i];
            ap->ops[i] = tmp;
            k++;
        }
    }
    if (k > ap->u0) {
        ap->u1 = k;
        settle_unit(ap);
        return;
    }
    send_unit(ap);
}

static void
on_intents(const struct qreply *rep, void *arg)
{
    struct applier *ap = arg;

    if (rep == NULL || rep->type != QREPLY_ARR || rep->n != ap->u1 - ap->u0) {
        hold_batch(ap, 1000);
        return;
    }
    for (size_t i = 0; i < rep->n; i++)
        ap->ops[ap->u0 + i].had_intent =
            rep->elem[i]->type == QREPLY_INT && rep->elem[i]->integer == 1;
    check_next_intent(ap, ap->u0);
}

/* Before history adds to a target that keeps duplicate plays: intents. */
static void
prepare_unit(struct applier *ap)
{
    size_t n = ap->u1 - ap->u0;
    const char **keys;
    char **owned;

    if (ap->ops[ap->u0].op.kind != OP_HISTORY_ADD ||
        ap->a->build_history_check == NULL) {
        send_unit(ap);
        return;
    }
    keys = xcalloc(n, sizeof(*keys));
    owned = xcalloc(n, sizeof(*owned));
    for (size_t i = 0; i < n; i++) {
        owned[i] = xasprintf("%sintent:%s:%s", ap->prefix, ap->target,
                             ap->ops[ap->u0 + i].op.id);
        keys[i] = owned[i];
    }
    if (queue_eval(ap->cq, ap->intent, on_intents, ap, (int)n, (int)n, keys,
                   NULL) != 0)
        hold_batch(ap, 1000);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(keys);
}

/* ---- batches ---- */

static bool
perishable_expired(const struct applier *ap, struct aop *o, size_t idx)
{
    int64_t age = wr_now() - o->op.created_at;

    if (o->op.kind == OP_SCROBBLE_START || o->op.kind == OP_SCROBBLE_PAUSE) {
        if (o->op.kind == OP_SCROBBLE_START && age > APPLIER_START_TTL_S)
            return true;
        if (o->op.kind == OP_SCROBBLE_PAUSE && age > APPLIER_PAUSE_TTL_S)
            return true;
        /*
         * Superseded by a newer queued operation of the same play: a start
         * by anything after it (which carries a fresher position); a pause
         * only by a later pause, so every pause that stands records where
         * the user paused, even when the play went on and finished since.
         */
        for (size_t j = idx + 1; j < ap->n_ops; j++) {
            const struct op *p = &ap->ops[j].op;
            unsigned later = o->op.kind == OP_SCROBBLE_START
                                 ? OP_SCROBBLE_KINDS
                                 : OP_BIT(OP_SCROBBLE_PAUSE);

            if (ap->ops[j].valid && (later & OP_BIT(p->kind)) && p->session &&
                o->op.session && strcmp(p->session, o->op.session) == 0 &&
                p->generation == o->op.generation)
                return true;
        }
    }
    return false;
}

/* Pick the next unit: a run of same-kind operations the target batches,
 * one operation per item, or a single operation. */
static void
next_unit(struct applier *ap)
{
    size_t i, j;

    if (ap->stopping)
        return;
    /* Settle what needs no request first: unreadable and expired. */
    for (i = ap->u0; i < ap->n_ops; i++) {
        struct aop *o = &ap->ops[i];

        if (!o->valid) {
            o->state = AOP_DROP;
            continue;
        }
        if (perishable_expired(ap, o, i)) {
            o->state = AOP_EXPIRED;
            snprintf(o->reason, sizeof(o->reason), "expired");
            log_info("msg=\"operation expired\" target=%s op=%s kind=%s",
                     ap->target, o->op.id, op_kind_name(o->op.kind));
            continue;
        }
        if (o->op.kind == OP_SCROBBLE_STOP &&
            wr_now() - o->op.created_at > APPLIER_STOP_LATE_S &&
            (ap->a->kinds & OP_BIT(OP_HISTORY_ADD))) {
            /* A late /scrobble/stop would stamp the wrong time. */
            o->op.kind = OP_HISTORY_ADD;
        }
        break;
    }
    if (i > ap->u0) {
        ap->u1 = i;
        settle_unit(ap);
        return;
    }
    if (ap->u0 >= ap->n_ops) {
        batch_free(ap);
        ap->busy = false;
        read_next(ap);
        return;
    }
    j = ap->u0 + 1;
    if (ap->a->batch_kinds & OP_BIT(ap->ops[ap->u0].op.kind)) {
        size_t max = ap->a->max_batch ? ap->a->max_batch : 1;

        if (ap->chunk > 0 && ap->chunk < max)
            max = ap->chunk;

        for (; j < ap->n_ops && j - ap->u0 < max; j++) {
            struct aop *o = &ap->ops[j];
            bool dup = false;

            if (!o->valid || o->op.kind != ap->ops[ap->u0].op.kind)
                break;
            for (size_t k = ap->u0; k < j && !dup; k++)
                dup = strcmp(ap->ops[k].op.key ? ap->ops[k].op.key : "",
                             o->op.key ? o->op.key : "") == 0;
            if (dup)
                break;
        }
    }
    ap->u1 = j;
    ap->busy = true;
    prepare_unit(ap);
}

static void
on_applied_check(const struct qreply *rep, void *arg)
{
    struct applier *ap = arg;
    struct aop *sorted;
    size_t w = 0, n = ap->n_ops;
    int64_t now = now_ms();

    if (rep == NULL || rep->type != QREPLY_ARR || rep->n != 2 * n) {
        hold_batch(ap, 1000);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct qreply *applied = rep->elem[2 * i];
        const struct qreply *hold = rep->elem[2 * i + 1];
        struct aop *o = &ap->ops[i];

        if (!o->valid)
            continue;
        if (applied->type == QREPLY_INT && applied->integer == 1) {
            o->state = AOP_DONE;
        } else if (hold->type == QREPLY_STR && hold->len > 33 &&
                   strcmp(hold->str + hold->len - 32, o->op.id) != 0) {
            /* Another operation on this item waits for a retry: wait
             * behind it, in order, without using an attempt. */
            int64_t due = 0;
            const char *bar = strchr(hold->str, '|');

            if (bar != NULL)
                parse_i64n(hold->str, (size_t)(bar - hold->str), 0, INT64_MAX,
                           &due);
            o->state = AOP_WAIT;
            o->due_ms = (due > now ? due : now) + 1 + (int64_t)i;
            snprintf(o->reason, sizeof(o->reason),
                     "waiting behind an earlier operation on this item");
        }
    }
    /* Stable partition: settled ones first, the rest in stream order. */
    sorted = xcalloc(n ? n : 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        if (ap->ops[i].state == AOP_DONE || ap->ops[i].state == AOP_WAIT)
            sorted[w++] = ap->ops[i];
    for (size_t i = 0, k = w; i < n; i++)
        if (!(ap->ops[i].state == AOP_DONE || ap->ops[i].state == AOP_WAIT))
            sorted[k++] = ap->ops[i];
    free(ap->ops);
    ap->ops = sorted;
    ap->u0 = 0;
    if (w > 0) {
        ap->u1 = w;
        settle_unit(ap);
        return;
    }
    next_unit(ap);
}

static void
check_applied(struct applier *ap)
{
    size_t argc = 2 + 2 * ap->n_ops;
    const char **argv = xcalloc(argc, sizeof(char *));

    argv[0] = ap->prefix;
    argv[1] = ap->target;
    for (size_t i = 0; i < ap->n_ops; i++) {
        argv[2 + 2 * i] = ap->ops[i].valid ? ap->ops[i].op.id : "-";
        argv[3 + 2 * i] =
            ap->ops[i].valid && ap->ops[i].op.key ? ap->ops[i].op.key : "-";
    }
    if (queue_eval(ap->cq, ap->check, on_applied_check, ap, 0, (int)argc, argv,
                   NULL) != 0)
        hold_batch(ap, 1000);
    free(argv);
}

static void
on_read(const struct qreply *rep, void *arg)
{
    struct applier *ap = arg;
    const struct qreply *entries;

    ap->reading = false;
    if (ap->stopping)
        return;
    if (rep == NULL || rep->type == QREPLY_ERR) {
        if (rep != NULL && strstr(rep->str, "NOGROUP") != NULL)
            ap->group_ready = false;
        resume_after(ap, 1000);
        return;
    }
    if (rep->type != QREPLY_ARR || rep->n == 0) {
        read_next(ap);
        return;
    }
    entries = rep->elem[0]->type == QREPLY_ARR && rep->elem[0]->n == 2
                  ? rep->elem[0]->elem[1]
                  : NULL;
    if (entries == NULL || entries->type != QREPLY_ARR || entries->n == 0) {
        ap->read_pending = false;
        read_next(ap);
        return;
    }
    ap->ops = xcalloc(entries->n, sizeof(*ap->ops));
    ap->n_ops = 0;
    for (size_t i = 0; i < entries->n; i++) {
        const struct qreply *e = entries->elem[i], *f;
        struct aop *o;

        if (e->type != QREPLY_ARR || e->n < 2 || e->elem[0]->type != QREPLY_STR)
            continue;
        o = &ap->ops[ap->n_ops++];
        op_init(&o->op);
        o->entry_id = xstrdup(e->elem[0]->str);
        f = e->elem[1];
        for (size_t j = 0; f->type == QREPLY_ARR && j + 1 < f->n; j += 2) {
            struct json_object *jo;
            char err[256];

            if (f->elem[j]->type != QREPLY_STR ||
                strcmp(f->elem[j]->str, "op") != 0 ||
                f->elem[j + 1]->type != QREPLY_STR)
                continue;
            jo = jsonu_parse(f->elem[j + 1]->str, f->elem[j + 1]->len,
                             JSONU_DEPTH, err, sizeof(err));
            if (jo != NULL && op_from_json(&o->op, jo, err, sizeof(err)) == 0)
                o->valid = true;
            else
                log_error("msg=\"unreadable operation, dropped\" target=%s "
                          "entry=%s reason=\"%s\"",
                          ap->target, o->entry_id, err);
            json_object_put(jo);
        }
    }
    ap->busy = true;
    check_applied(ap);
}

static void
on_group(const struct qreply *rep, void *arg)
{
    struct applier *ap = arg;

    if (rep == NULL ||
        (rep->type == QREPLY_ERR && strstr(rep->str, "BUSYGROUP") == NULL)) {
        resume_after(ap, 1000);
        return;
    }
    ap->group_ready = true;
    read_next(ap);
}

static void
on_lease(const struct qreply *rep, void *arg)
{
    struct applier *ap = arg;
    bool had = ap->leased;

    ap->lease_pending = false;
    if (rep == NULL || rep->type != QREPLY_INT) {
        ap->leased = false;
    } else {
        ap->leased = rep->integer == 1;
    }
    if (ap->leased && !had)
        log_info("msg=\"target lease taken\" target=%s", ap->target);
    else if (!ap->leased && had)
        log_warn("msg=\"target lease lost: another applier writes to %s\"",
                 ap->target);
    if (ap->leased && !had)
        read_next(ap);
}

/* Take or renew the lease; 0 when the request was sent. */
static int
lease_renew(struct applier *ap)
{
    const char *argv[] = {ap->lease_key, ap->consumer, APPLIER_LEASE_MS};

    if (ap->lease_pending)
        return 0;
    if (queue_eval(ap->cq, ap->lease, on_lease, ap, 1, 3, argv, NULL) != 0)
        return -1;
    ap->lease_pending = true;
    return 0;
}

static void
read_next(struct applier *ap)
{
    char count[24];

    if (ap->stopping || ap->reading || ap->busy)
        return;
    if (queue_state(ap->rq) != QUEUE_UP)
        return;
    if (!ap->leased) {
        /* Another process writes to this target: ask again each second
         * (the move timer renews; on_lease resumes us). */
        if (lease_renew(ap) != 0)
            resume_after(ap, 100); /* Redis not up yet (at start) */
        return;
    }
    if (ap->paused_until_ms > now_ms()) {
        resume_after(ap, ap->paused_until_ms - now_ms());
        return;
    }
    if (!ap->group_ready) {
        const char *argv[] = {"XGROUP",      "CREATE", ap->stream,
                              APPLIER_GROUP, "0",      "MKSTREAM"};

        if (queue_cmd(ap->rq, on_group, ap, 6, argv, NULL) != 0)
            resume_after(ap, 1000);
        return;
    }
    snprintf(count, sizeof(count), "%zu",
             ap->a->max_batch > 0 ? ap->a->max_batch : 1);
    {
        const char *argv[] = {"XREADGROUP",
                              "GROUP",
                              APPLIER_GROUP,
                              ap->consumer,
                              "COUNT",
                              count,
                              "BLOCK",
                              APPLIER_BLOCK_MS,
                              "STREAMS",
                              ap->stream,
                              ap->read_pending ? "0" : ">"};

        if (queue_cmd(ap->rq, on_read, ap, 11, argv, NULL) != 0) {
            resume_after(ap, 1000);
            return;
        }
        ap->reading = true;
    }
}

static void
on_moved(const struct qreply *rep, void *arg)
{
    (void)arg;
    (void)rep;
}

static void
on_claimed(const struct qreply *rep, void *arg)
{
    struct applier *ap = arg;

    if (rep != NULL && rep->type == QREPLY_ARR && rep->n >= 2 &&
        rep->elem[1]->type == QREPLY_ARR && rep->elem[1]->n > 0) {
        log_warn("msg=\"reclaimed operations of a dead applier\" target=%s "
                 "entries=%zu",
                 ap->target, rep->elem[1]->n);
        ap->read_pending = true;
    }
}

static void
on_move_timer(evutil_socket_t fd, short what, void *arg)
{
    struct applier *ap = arg;
    char *zkey;
    const char *argv[2];

    (void)fd;
    (void)what;
    if (ap->stopping || queue_state(ap->cq) != QUEUE_UP)
        return;
    lease_renew(ap);
    /* Every 30 s: reclaim what a dead consumer left pending for 120 s. */
    if (++ap->ticks % 30 == 0 && ap->group_ready) {
        const char *cl[] = {"XAUTOCLAIM", ap->stream, APPLIER_GROUP,
                            ap->consumer, "120000",   "0-0",
                            "COUNT",      "100",      "JUSTID"};

        queue_cmd(ap->cq, on_claimed, ap, 9, cl, NULL);
    }
    zkey = xasprintf("%sretry:%s", ap->prefix, ap->target);
    argv[0] = zkey;
    argv[1] = ap->stream;
    queue_eval(ap->cq, ap->move, on_moved, ap, 2, 2, argv, NULL);
    free(zkey);
}

static void
on_rq_state(enum queue_state st, void *arg)
{
    struct applier *ap = arg;

    if (st == QUEUE_UP) {
        if (!ap->busy) {
            ap->read_pending = true;
            read_next(ap);
        }
    } else {
        ap->reading = false;
    }
}

struct applier *
applier_new(struct event_base *base, const struct config *cfg,
            const struct adapter_ops *a, struct queue *cmdq,
            const char *redis_url, struct fetch *f, const char *consumer,
            char *err, size_t errlen)
{
    struct applier *ap = xcalloc(1, sizeof(*ap));
    struct adapter_tokens saved;
    struct timeval sec = {1, 0};
    int p = config_provider_from_name(a->name);
    char aerr[256];
    int rc;

    memset(&saved, 0, sizeof(saved));
    ap->base = base;
    ap->cfg = cfg;
    ap->a = a;
    ap->cq = cmdq;
    ap->f = f;
    ap->target = xstrdup(a->name);
    ap->prefix = xstrdup(cfg->key_prefix);
    ap->stream = xasprintf("%sout:%s", cfg->key_prefix, a->name);
    ap->consumer = xstrdup(consumer);
    ap->read_pending = true;
    ap->stats.target = ap->target;
    ap->chunk = a->max_batch;
    rc = authstore_load(cfg->state_dir, a->name, &saved, aerr, sizeof(aerr));
    if (rc < 0)
        log_warn("msg=\"saved tokens unreadable, using the config\" "
                 "target=%s reason=\"%s\"",
                 a->name, aerr);
    ap->ctx =
        a->init(p >= 0 && cfg->providers[p].present ? &cfg->providers[p] : NULL,
                rc == 0 ? &saved : NULL, cfg->state_dir, err, errlen);
    adapter_tokens_release(&saved);
    if (ap->ctx == NULL)
        goto fail;
    if (a->apply == NULL && f == NULL) {
        snprintf(err, errlen, "%s needs HTTP but no fetch engine", a->name);
        goto fail;
    }
    {
        struct adapter_limits lim = a->limits;

        if (p >= 0 && cfg->providers[p].present &&
            cfg->providers[p].write_interval_ms >= 0)
            lim.write_interval_ms = cfg->providers[p].write_interval_ms;
        ap->rl = ratelimit_new(cmdq, a->name, &lim);
    }
    ap->settle = queue_script_add(cmdq, settle_script);
    ap->outcome = queue_script_add(cmdq, reconcile_outcome_lua);
    ap->check = queue_script_add(cmdq, check_script);
    ap->lease = queue_script_add(cmdq, lease_script);
    ap->lease_key = xasprintf("%slease:%s", cfg->key_prefix, a->name);
    ap->move = queue_script_add(cmdq, move_script);
    ap->intent = queue_script_add(cmdq, intent_script);
    ap->resume_ev = evtimer_new(base, on_resume, ap);
    ap->send_ev = evtimer_new(base, on_send_timer, ap);
    ap->move_ev = event_new(base, -1, EV_PERSIST, on_move_timer, ap);
    if (ap->rl == NULL || ap->settle < 0 || ap->check < 0 || ap->lease < 0 ||
        ap->move < 0 || ap->intent < 0 || ap->resume_ev == NULL ||
        ap->send_ev == NULL || ap->move_ev == NULL ||
        event_add(ap->move_ev, &sec) != 0) {
        snprintf(err, errlen, "cannot set up the %s applier", a->name);
        goto fail;
    }
    ap->rq =
        queue_new(base, redis_url, cfg->key_prefix,
                  cfg->redis_timeout_ms + 2000, on_rq_state, ap, err, errlen);
    if (ap->rq == NULL)
        goto fail;
    return ap;
fail:
    applier_free(ap);
    return NULL;
}

void
applier_stop(struct applier *ap)
{
    if (ap == NULL)
        return;
    ap->stopping = true;
    if (ap->resume_ev)
        event_del(ap->resume_ev);
    if (ap->send_ev)
        event_del(ap->send_ev);
    if (ap->move_ev)
        event_del(ap->move_ev);
}

bool
applier_busy(const struct applier *ap)
{
    return ap != NULL && ap->busy;
}

void
applier_get_stats(const struct applier *ap, struct applier_stats *out)
{
    *out = ap->stats;
    out->write_interval_ms =
        (long long)ratelimit_interval_ms(ap->rl, HTTP_CLASS_WRITE);
    out->quota_pause_ms = (long long)ap->quota_pause_ms;
    out->chunk = ap->chunk;
    out->health = ap->paused_until_ms > now_ms()             ? "paused"
                  : ap->consecutive >= APPLIER_CIRCUIT_AFTER ? "circuit open"
                  : ap->consecutive > 0                      ? "backing off"
                                                             : "ok";
}

void
applier_free(struct applier *ap)
{
    if (ap == NULL)
        return;
    ap->stopping = true;
    queue_free(ap->rq);
    batch_free(ap);
    if (ap->resume_ev)
        event_free(ap->resume_ev);
    if (ap->send_ev)
        event_free(ap->send_ev);
    if (ap->move_ev)
        event_free(ap->move_ev);
    ratelimit_free(ap->rl);
    if (ap->ctx)
        ap->a->free(ap->ctx);
    free(ap->target);
    free(ap->prefix);
    free(ap->stream);
    free(ap->consumer);
    free(ap->lease_key);
    free(ap);
}
