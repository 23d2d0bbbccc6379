#include "router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "adapter.h"
#include "event.h"
#include "jsonu.h"
#include "log.h"
#include "op.h"
#include "queue.h"
#include "scrobble.h"
#include "util.h"

#define ROUTER_GROUP    "router"
#define ROUTER_COUNT    "64"
#define ROUTER_BLOCK_MS "2000"
#define ROUTER_RETRY_MS 1000
/* A consumer silent this long is dead: its entries are reclaimed. */
#define ROUTER_CLAIM_IDLE_MS "120000"
#define ROUTER_CLAIM_EVERY_S 30
#define ROUTER_MAX_CONFLICT  8
#define ROUTER_POISON_AFTER  10
#define ROUTER_FINISH_TTL    "180"    /* G7 duplicate_finish_s */
#define ROUTER_SESSION_TTL   "172800" /* 48 h */
#define ROUTER_ROUTED_TTL    "1209600"

/*
 * One event's routing, atomically: skip if the event was routed before;
 * compare-and-set the session hash (its "ver" field); G7: if any
 * duplicate-finish marker of the item exists the completion operations are
 * dropped, else the markers are set; append the operations; mark the event
 * routed. ARGV: prefix, event id, session key ('' = none), expected ver,
 * nfields, field/value pairs, ntokens, marker TTL, marker keys, nops,
 * (stream, json, is_completion) triples.
 */
static const char route_script[] =
    "local prefix = ARGV[1]\n"
    "local evid = ARGV[2]\n"
    "local routed = prefix .. 'routed:' .. evid\n"
    "if redis.call('EXISTS', routed) == 1 then return {'dup', 0, 0} end\n"
    "local sess, expect, nf = ARGV[3], ARGV[4], tonumber(ARGV[5])\n"
    "local i = 6\n"
    "if sess ~= '' then\n"
    "  local ver = redis.call('HGET', sess, 'ver') or ''\n"
    "  if ver ~= expect then return {'conflict', 0, 0} end\n"
    "  local args = {'ver', tostring((tonumber(expect) or 0) + 1)}\n"
    "  for j = 0, nf - 1 do\n"
    "    args[#args + 1] = ARGV[i + 2 * j]\n"
    "    args[#args + 1] = ARGV[i + 2 * j + 1]\n"
    "  end\n"
    "  redis.call('HSET', sess, unpack(args))\n"
    "  redis.call('EXPIRE', sess, " ROUTER_SESSION_TTL ")\n"
    "  local t = redis.call('TIME')\n"
    "  redis.call('ZADD', prefix .. 'sessions', t[1], sess)\n"
    "end\n"
    "i = i + 2 * nf\n"
    "local nt, ttl = tonumber(ARGV[i]), tonumber(ARGV[i + 1])\n"
    "i = i + 2\n"
    "local absorbed = 0\n"
    "for j = 0, nt - 1 do\n"
    "  if redis.call('EXISTS', ARGV[i + j]) == 1 then absorbed = 1 end\n"
    "end\n"
    "if absorbed == 0 then\n"
    "  for j = 0, nt - 1 do\n"
    "    redis.call('SET', ARGV[i + j], evid, 'EX', ttl)\n"
    "  end\n"
    "end\n"
    "i = i + nt\n"
    "local no = tonumber(ARGV[i])\n"
    "i = i + 1\n"
    "local added = 0\n"
    "for j = 0, no - 1 do\n"
    "  local comp = ARGV[i + 3 * j + 2]\n"
    "  if not (comp == '1' and absorbed == 1) then\n"
    "    redis.call('XADD', ARGV[i + 3 * j], '*', 'op', ARGV[i + 3 * j + 1])\n"
    "    added = added + 1\n"
    "  end\n"
    "end\n"
    "redis.call('SET', routed, '1', 'EX', " ROUTER_ROUTED_TTL ")\n"
    "return {'ok', absorbed, added}\n";

/*
 * Finalize one idle session: KEYS[1] the sessions index, KEYS[2] the events
 * stream; ARGV[1] the session key, ARGV[2] the completion event to queue
 * ('' closes it silently). Only once: the session leaves the index.
 */
static const char finalize_script[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end\n"
    "redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('XADD', KEYS[2], '*', 'event', ARGV[2])\n"
    "end\n"
    "return 1\n";

/* An entry of the events stream, copied out of the reply. */
struct router_entry {
    char *id;
    char *json; /* NULL when the entry was trimmed */
};

struct router {
    struct event_base *base;
    const struct config *cfg;
    struct queue *cq; /* commands (shared) */
    struct queue *rq; /* blocking reads (ours) */
    int script;
    char *consumer;
    char *events_key;
    char *prefix;
    struct scrobble_params params;
    bool group_ready;
    bool read_pending; /* first read "0": our own pending entries */
    bool reading;
    bool stopping;
    struct event *retry_ev;
    struct event *claim_ev; /* periodic: reclaim a dead consumer's entries */
    struct event *final_ev; /* periodic: finalize idle sessions */
    int fscript;
    char *sessions_key;
    struct router_entry *entries;
    size_t n_entries;
    size_t cursor;
    bool busy;
    /* The event in hand. */
    struct event ev;
    bool ev_valid;
    char *sess_key;
    int conflicts;
    int poison; /* failed tries of the entry in hand */
    struct router_stats stats;
};

static void read_next(struct router *r);
static void process_next(struct router *r);

static void
entries_free(struct router *r)
{
    for (size_t i = 0; i < r->n_entries; i++) {
        free(r->entries[i].id);
        free(r->entries[i].json);
    }
    free(r->entries);
    r->entries = NULL;
    r->n_entries = r->cursor = 0;
}

static void
event_done(struct router *r)
{
    if (r->ev_valid)
        event_release(&r->ev);
    r->ev_valid = false;
    free(r->sess_key);
    r->sess_key = NULL;
    r->conflicts = 0;
}

/* Try the current entry again after a pause (Redis trouble). */
static void
retry_later(struct router *r)
{
    struct timeval tv = {ROUTER_RETRY_MS / 1000,
                         (ROUTER_RETRY_MS % 1000) * 1000};

    event_done(r);
    r->busy = false;
    if (!r->stopping)
        evtimer_add(r->retry_ev, &tv);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct router *r = arg;

    (void)fd;
    (void)what;
    if (r->n_entries > 0)
        process_next(r);
    else
        read_next(r);
}

static void
on_acked(const struct qreply *rep, void *arg)
{
    struct router *r = arg;

    if (rep == NULL || rep->type == QREPLY_ERR) {
        retry_later(r);
        return;
    }
    event_done(r);
    r->poison = 0;
    r->cursor++;
    process_next(r);
}

static void
ack_current(struct router *r)
{
    const char *argv[] = {"XACK", r->events_key, ROUTER_GROUP,
                          r->entries[r->cursor].id};

    if (queue_cmd(r->cq, on_acked, r, 4, argv, NULL) != 0)
        retry_later(r);
}

/* Targets of the event: routes whose sources, kinds and users match. */
static size_t
route_targets(const struct router *r, const struct event *ev, const char **out,
              size_t max)
{
    const char *kind = event_kind_name(ev->kind);
    size_t n = 0;

    /* A poll or reconcile event goes to its pair's other side only. */
    if (ev->pair != NULL) {
        for (size_t i = 0; i < r->cfg->n_pairs && max > 0; i++) {
            const struct pair_conf *pc = &r->cfg->pairs[i];
            const char *to = NULL;
            int p;

            if (strcmp(pc->id, ev->pair) != 0)
                continue;
            if (strcmp(ev->source, pc->source) == 0)
                to = pc->target;
            else if (strcmp(ev->source, pc->target) == 0)
                to = pc->source;
            p = to ? config_provider_from_name(to) : -1;
            if (to != NULL && adapter_find(to) != NULL && p >= 0 &&
                r->cfg->providers[p].present)
                out[n++] = to;
        }
        return n;
    }
    for (size_t i = 0; i < r->cfg->n_routes; i++) {
        const struct route_conf *rc = &r->cfg->routes[i];
        bool ok = false;

        for (size_t j = 0; j < rc->n_from && !ok; j++)
            ok = strcmp(rc->from[j], ev->source) == 0;
        if (!ok)
            continue;
        if (rc->n_kinds > 0) {
            ok = false;
            for (size_t j = 0; j < rc->n_kinds && !ok; j++)
                ok = strcmp(rc->kinds[j], kind) == 0;
            if (!ok)
                continue;
        }
        if (rc->n_users > 0) {
            ok = false;
            for (size_t j = 0; j < rc->n_users && !ok; j++)
                ok = (ev->user_name && str_ieq(rc->users[j], ev->user_name)) ||
                     (ev->user_id && strcmp(rc->users[j], ev->user_id) == 0);
            if (!ok)
                continue;
        }
        /* A webhook history remove only where the route enables removes. */
        if (ev->kind == EVENT_HISTORY && ev->action == EVENT_REMOVE &&
            !rc->remove)
            continue;
        for (size_t j = 0; j < rc->n_to; j++) {
            const struct adapter_ops *a = adapter_find(rc->to[j]);
            int p = config_provider_from_name(rc->to[j]);
            bool dup = false;

            if (a == NULL || p < 0 || !r->cfg->providers[p].present)
                continue;
            for (size_t k = 0; k < n; k++)
                dup = dup || strcmp(out[k], rc->to[j]) == 0;
            if (!dup && n < max)
                out[n++] = rc->to[j];
        }
    }
    return n;
}

struct op_list {
    struct op *v;
    bool *completion;
    size_t n, cap;
};

static struct op *
ops_push(struct op_list *l, const struct event *ev, const char *target,
         enum op_kind kind, bool completion)
{
    struct op *op;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
        l->completion = xrealloc(l->completion, l->cap * sizeof(bool));
    }
    op = &l->v[l->n];
    l->completion[l->n] = completion;
    l->n++;
    op_init(op);
    op->kind = kind;
    op->target = xstrdup(target);
    op->event_id = xstrdup(ev->id);
    if (ev->user_name || ev->user_id)
        op->user = xstrdup(ev->user_name ? ev->user_name : ev->user_id);
    if (ev->session)
        op->session = xstrdup(ev->session);
    if (ev->pair)
        op->pair = xstrdup(ev->pair);
    item_copy(&op->item, &ev->item);
    op->key = xstrdup(ev->key ? ev->key : "");
    op->created_at = wr_now();
    op->position_ms = ev->position_ms;
    op->duration_ms = ev->duration_ms;
    return op;
}

static void
ops_free(struct op_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        op_release(&l->v[i]);
    free(l->v);
    free(l->completion);
}

/* Operations of a non-scrobble event for one target. */
static void
plain_ops(const struct event *ev, const struct adapter_ops *a,
          const char *target, struct op_list *l)
{
    int kind = -1;
    struct op *op;

    switch (ev->kind) {
    case EVENT_HISTORY:
        kind = ev->action == EVENT_ADD      ? OP_HISTORY_ADD
               : ev->action == EVENT_REMOVE ? OP_HISTORY_REMOVE
                                            : -1;
        break;
    case EVENT_RATING:
        kind = ev->action == EVENT_SET     ? OP_RATING_SET
               : ev->action == EVENT_CLEAR ? OP_RATING_CLEAR
                                           : -1;
        break;
    case EVENT_WATCHLIST:
        kind = ev->action == EVENT_ADD      ? OP_WATCHLIST_ADD
               : ev->action == EVENT_REMOVE ? OP_WATCHLIST_REMOVE
                                            : -1;
        break;
    case EVENT_PROGRESS:
        kind = ev->action == EVENT_SET ? OP_PROGRESS_SET : -1;
        break;
    default:
        break;
    }
    if (kind < 0 || !(a->kinds & OP_BIT(kind)))
        return;
    op = ops_push(l, ev, target, (enum op_kind)kind, false);
    op->watched_at = ev->kind == EVENT_HISTORY
                         ? (ev->watched_at            ? ev->watched_at
                            : ev->action == EVENT_ADD ? ev->occurred_at
                                                      : 0)
                         : 0;
    op->rating = ev->rating;
    if (ev->kind == EVENT_RATING)
        op->rated_at = ev->occurred_at;
    if (ev->has_progress)
        op->progress = ev->progress;
    op_finish(op);
}

/* Operations of a scrobble decision for one target (SYNC.md 3.5). */
static void
scrobble_ops(const struct event *ev, const struct scrobble_decision *d,
             const struct adapter_ops *a, const char *target, struct op_list *l)
{
    struct op *op = NULL;

    switch (d->emit) {
    case SCROBBLE_EMIT_START:
        if (a->scrobble_api && (a->kinds & OP_BIT(OP_SCROBBLE_START)))
            op = ops_push(l, ev, target, OP_SCROBBLE_START, false);
        break;
    case SCROBBLE_EMIT_PAUSE:
        if (a->scrobble_api && (a->kinds & OP_BIT(OP_SCROBBLE_PAUSE)))
            op = ops_push(l, ev, target, OP_SCROBBLE_PAUSE, false);
        break;
    case SCROBBLE_EMIT_COMPLETE:
        if (a->scrobble_api && (a->kinds & OP_BIT(OP_SCROBBLE_STOP)))
            op = ops_push(l, ev, target, OP_SCROBBLE_STOP, true);
        else if (a->kinds & OP_BIT(OP_HISTORY_ADD))
            op = ops_push(l, ev, target, OP_HISTORY_ADD, true);
        if (op != NULL)
            op->watched_at = d->watched_at;
        break;
    default:
        break;
    }
    if (op == NULL)
        return;
    op->generation = d->generation;
    op->progress = d->progress;
    op_finish(op);
}

/* Alias tokens of the item (SYNC.md 1.5) for the G7 markers. */
static size_t
finish_tokens(const struct router *r, const struct event *ev, char **out,
              size_t max)
{
    const struct item *it = &ev->item;
    const char *user = ev->user_name ? ev->user_name
                       : ev->user_id ? ev->user_id
                                     : "";
    const char *type = item_type_name(it->type);
    size_t n = 0;

    for (int i = 0; i <= ITEM_ID_GUID && n < max; i++) {
        if (i > ITEM_ID_ANIDB && i != ITEM_ID_GUID)
            continue;
        if (it->ids.v[i] != NULL)
            out[n++] = xasprintf("%sfin:%s:%s:%s:%s", r->prefix, user, type,
                                 item_id_name((enum item_id)i), it->ids.v[i]);
    }
    if (it->type == ITEM_EPISODE && it->season >= 0 && it->episode >= 0) {
        for (int i = 0; i <= ITEM_ID_GUID && n < max; i++) {
            if (i > ITEM_ID_ANIDB && i != ITEM_ID_GUID)
                continue;
            if (it->show_ids.v[i] != NULL)
                out[n++] =
                    xasprintf("%sfin:%s:show:%s:%s#s%02de%02d", r->prefix, user,
                              item_id_name((enum item_id)i), it->show_ids.v[i],
                              it->season, it->episode);
        }
    }
    if (n == 0 && ev->key != NULL && n < max)
        out[n++] = xasprintf("%sfin:%s:%s", r->prefix, user, ev->key);
    return n;
}

struct argv_buf {
    const char **v;
    size_t *l;
    char **owned;
    size_t n, cap, n_owned;
};

static void
av_push(struct argv_buf *a, const char *s, size_t len, bool own)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
        a->l = xrealloc(a->l, a->cap * sizeof(*a->l));
        a->owned = xrealloc(a->owned, a->cap * sizeof(*a->owned));
    }
    a->v[a->n] = s;
    a->l[a->n] = len;
    a->n++;
    if (own)
        a->owned[a->n_owned++] = (char *)(uintptr_t)s;
}

static void
av_str(struct argv_buf *a, const char *s)
{
    av_push(a, s, strlen(s), false);
}

static void
av_own(struct argv_buf *a, char *s)
{
    av_push(a, s, strlen(s), true);
}

static void
av_free(struct argv_buf *a)
{
    for (size_t i = 0; i < a->n_owned; i++)
        free(a->owned[i]);
    free(a->v);
    free(a->l);
    free(a->owned);
}

static void on_routed(const struct qreply *rep, void *arg);

static void
on_dead_lettered(const struct qreply *rep, void *arg)
{
    struct router *r = arg;

    if (rep == NULL || rep->type == QREPLY_ERR) {
        retry_later(r);
        return;
    }
    r->stats.bad++;
    ack_current(r);
}

/* Give up on the event in hand: a dead letter (target "router"), then ack. */
static void
dead_letter(struct router *r, const char *why)
{
    struct router_entry *e = &r->entries[r->cursor];
    char *key = xasprintf("%sdead", r->prefix);
    char *reason =
        xasprintf("poison: the router failed %d times: %.200s", r->poison, why);
    char when[WR_TIME_BUF], att[16];
    const char *argv[] = {
        "XADD",   key,         "*",      "event", e->json ? e->json : "",
        "target", "router",    "reason", reason,  "attempts",
        att,      "failed_at", when};

    wr_time_format(wr_now(), when);
    snprintf(att, sizeof(att), "%d", r->poison);
    log_error("msg=\"poison event dead-lettered\" entry=%s reason=\"%s\"",
              e->id, reason);
    if (queue_cmd(r->cq, on_dead_lettered, r, 13, argv, NULL) != 0)
        retry_later(r);
    free(key);
    free(reason);
}

/*
 * Route the event in hand: session (may be NULL: not a scrobble), its
 * version, the decision.
 */
static void
route_event(struct router *r, const struct scrobble_session *s, const char *ver,
            const struct scrobble_decision *d)
{
    const struct event *ev = &r->ev;
    const char *targets[CONFIG_PROVIDER_MAX];
    size_t nt = route_targets(r, ev, targets, CONFIG_PROVIDER_MAX);
    struct op_list ops;
    struct argv_buf a;
    char *tokens[32];
    size_t ntok = 0;
    bool completion = false;

    memset(&ops, 0, sizeof(ops));
    memset(&a, 0, sizeof(a));
    for (size_t i = 0; i < nt; i++) {
        const struct adapter_ops *ad = adapter_find(targets[i]);

        if (d != NULL)
            scrobble_ops(ev, d, ad, targets[i], &ops);
        else
            plain_ops(ev, ad, targets[i], &ops);
    }
    if (d != NULL && d->emit == SCROBBLE_EMIT_COMPLETE) {
        completion = true;
        ntok = finish_tokens(r, ev, tokens, 32);
    }
    av_str(&a, r->prefix);
    av_str(&a, ev->id);
    av_str(&a, s ? r->sess_key : "");
    av_str(&a, ver ? ver : "");
    if (s != NULL) {
        const char *fields[SCROBBLE_FIELDS];
        char *values[SCROBBLE_FIELDS];

        scrobble_to_fields(s, fields, values);
        av_own(&a, xasprintf("%d", SCROBBLE_FIELDS + 1));
        for (int i = 0; i < SCROBBLE_FIELDS; i++) {
            av_str(&a, fields[i]);
            av_own(&a, values[i]);
        }
        /* The last event, for the finalizer to complete the play from. */
        av_str(&a, "event");
        av_str(&a, r->entries[r->cursor].json);
    } else {
        av_str(&a, "0");
    }
    av_own(&a, xasprintf("%zu", completion ? ntok : (size_t)0));
    av_str(&a, ROUTER_FINISH_TTL);
    for (size_t i = 0; i < ntok; i++) {
        if (completion)
            av_own(&a, tokens[i]);
        else
            free(tokens[i]);
    }
    av_own(&a, xasprintf("%zu", ops.n));
    for (size_t i = 0; i < ops.n; i++) {
        struct json_object *o = op_to_json(&ops.v[i]);
        size_t len;
        const char *js = jsonu_str(o, &len);

        av_own(&a, xasprintf("%sout:%s", r->prefix, ops.v[i].target));
        av_push(&a, xstrndup(js, len), len, true);
        av_str(&a, ops.completion[i] ? "1" : "0");
        json_object_put(o);
        log_debug("msg=\"operation\" event=%s target=%s op=%s key=%s", ev->id,
                  ops.v[i].target, op_kind_name(ops.v[i].kind), ops.v[i].key);
    }
    if (d != NULL)
        log_info("msg=scrobble event=%s action=%s emit=%s why=\"%s\" "
                 "generation=%d targets=%zu",
                 ev->id, event_action_name(ev->action),
                 scrobble_emit_name(d->emit), d->why ? d->why : "",
                 d->generation, nt);
    if (queue_eval(r->cq, r->script, on_routed, r, 0, (int)a.n, a.v, a.l) != 0)
        retry_later(r);
    av_free(&a);
    ops_free(&ops);
}

static void process_loaded(struct router *r, const struct qreply *rep);

static void
on_session(const struct qreply *rep, void *arg)
{
    struct router *r = arg;

    if (rep == NULL || rep->type != QREPLY_ARR) {
        retry_later(r);
        return;
    }
    process_loaded(r, rep);
}

static void
load_session(struct router *r)
{
    const char *argv[] = {"HGETALL", r->sess_key};

    if (queue_cmd(r->cq, on_session, r, 2, argv, NULL) != 0)
        retry_later(r);
}

static void
on_routed(const struct qreply *rep, void *arg)
{
    struct router *r = arg;

    if (rep == NULL || rep->type != QREPLY_ARR || rep->n < 3 ||
        rep->elem[0]->type != QREPLY_STR) {
        if (rep != NULL && rep->type == QREPLY_ERR) {
            log_error("msg=\"routing script failed\" error=\"%.200s\"",
                      rep->str);
            /* Redis answered, and refused this event: after
             * ROUTER_POISON_AFTER tries it is a poison event. */
            if (++r->poison >= ROUTER_POISON_AFTER) {
                dead_letter(r, rep->str);
                return;
            }
        }
        retry_later(r);
        return;
    }
    if (strcmp(rep->elem[0]->str, "conflict") == 0) {
        /* Another router moved the session: read it again. */
        if (++r->conflicts > ROUTER_MAX_CONFLICT) {
            retry_later(r);
            return;
        }
        load_session(r);
        return;
    }
    if (strcmp(rep->elem[0]->str, "dup") == 0) {
        r->stats.skipped++;
    } else {
        r->stats.events++;
        r->stats.ops += (unsigned long long)rep->elem[2]->integer;
        if (rep->elem[1]->integer == 1)
            log_info("msg=\"completion absorbed (G7 duplicate finish)\" "
                     "event=%s",
                     r->ev.id);
    }
    ack_current(r);
}

/* Step the loaded session (HGETALL reply) with the event in hand. */
static void
process_loaded(struct router *r, const struct qreply *rep)
{
    struct scrobble_session s;
    struct scrobble_decision d;
    const char **fields = xcalloc(rep->n / 2 + 1, sizeof(char *));
    const char **values = xcalloc(rep->n / 2 + 1, sizeof(char *));
    const char *ver = "";
    size_t n = 0;

    scrobble_session_init(&s);
    for (size_t i = 0; i + 1 < rep->n; i += 2) {
        if (rep->elem[i]->type != QREPLY_STR ||
            rep->elem[i + 1]->type != QREPLY_STR)
            continue;
        if (strcmp(rep->elem[i]->str, "ver") == 0) {
            ver = rep->elem[i + 1]->str;
            continue;
        }
        fields[n] = rep->elem[i]->str;
        values[n] = rep->elem[i + 1]->str;
        n++;
    }
    scrobble_from_fields(&s, fields, values, n);
    memset(&d, 0, sizeof(d));
    scrobble_step(&r->params, &s, &r->ev, &d);
    route_event(r, &s, ver, &d);
    free(fields);
    free(values);
}

static void
process_next(struct router *r)
{
    struct router_entry *e;
    struct json_object *o;
    char err[256];

    if (r->stopping) {
        r->busy = false;
        return;
    }
    if (r->cursor >= r->n_entries) {
        entries_free(r);
        r->busy = false;
        read_next(r);
        return;
    }
    r->busy = true;
    e = &r->entries[r->cursor];
    if (e->json == NULL) {
        ack_current(r); /* trimmed while pending */
        return;
    }
    o = jsonu_parse(e->json, strlen(e->json), JSONU_DEPTH, err, sizeof(err));
    if (o == NULL || event_from_json(&r->ev, o, err, sizeof(err)) != 0) {
        log_error("msg=\"unreadable event, skipped\" entry=%s reason=\"%s\"",
                  e->id, err);
        json_object_put(o);
        if (o != NULL)
            event_release(&r->ev);
        r->stats.bad++;
        ack_current(r);
        return;
    }
    json_object_put(o);
    r->ev_valid = true;
    {
        const char *targets[CONFIG_PROVIDER_MAX];

        if (route_targets(r, &r->ev, targets, CONFIG_PROVIDER_MAX) == 0) {
            r->stats.skipped++;
            ack_current(r);
            return;
        }
    }
    if (r->ev.kind != EVENT_SCROBBLE) {
        route_event(r, NULL, NULL, NULL);
        return;
    }
    if (r->ev.session != NULL)
        r->sess_key =
            xasprintf("%ssess:%s:%s", r->prefix, r->ev.source, r->ev.session);
    else
        r->sess_key = xasprintf(
            "%ssess:%s:nosession:%s:%s", r->prefix, r->ev.source,
            r->ev.user_name ? r->ev.user_name : "", r->ev.key ? r->ev.key : "");
    load_session(r);
}

static void
on_read(const struct qreply *rep, void *arg)
{
    struct router *r = arg;
    const struct qreply *entries;

    r->reading = false;
    if (r->stopping)
        return;
    if (rep == NULL || rep->type == QREPLY_ERR) {
        if (rep != NULL && strstr(rep->str, "NOGROUP") != NULL)
            r->group_ready = false;
        retry_later(r);
        return;
    }
    if (rep->type != QREPLY_ARR || rep->n == 0) {
        read_next(r); /* BLOCK timed out */
        return;
    }
    /* [[stream, [[id, [field, value, ...]], ...]]] */
    entries = rep->elem[0]->type == QREPLY_ARR && rep->elem[0]->n == 2
                  ? rep->elem[0]->elem[1]
                  : NULL;
    if (entries == NULL || entries->type != QREPLY_ARR || entries->n == 0) {
        if (r->read_pending)
            r->read_pending = false; /* our pending entries are done */
        read_next(r);
        return;
    }
    r->entries = xcalloc(entries->n, sizeof(*r->entries));
    r->n_entries = entries->n;
    r->cursor = 0;
    for (size_t i = 0; i < entries->n; i++) {
        const struct qreply *e = entries->elem[i];
        const struct qreply *f;

        if (e->type != QREPLY_ARR || e->n < 2 || e->elem[0]->type != QREPLY_STR)
            continue;
        r->entries[i].id = xstrdup(e->elem[0]->str);
        f = e->elem[1];
        if (f->type != QREPLY_ARR)
            continue;
        for (size_t j = 0; j + 1 < f->n; j += 2)
            if (f->elem[j]->type == QREPLY_STR &&
                strcmp(f->elem[j]->str, "event") == 0 &&
                f->elem[j + 1]->type == QREPLY_STR)
                r->entries[i].json = xstrdup(f->elem[j + 1]->str);
    }
    /* Entries without an id (malformed reply) are dropped from the batch. */
    {
        size_t k = 0;

        for (size_t i = 0; i < r->n_entries; i++) {
            if (r->entries[i].id != NULL)
                r->entries[k++] = r->entries[i];
            else
                free(r->entries[i].json);
        }
        r->n_entries = k;
    }
    process_next(r);
}

static void
on_group(const struct qreply *rep, void *arg)
{
    struct router *r = arg;

    if (rep == NULL ||
        (rep->type == QREPLY_ERR && strstr(rep->str, "BUSYGROUP") == NULL)) {
        retry_later(r);
        return;
    }
    r->group_ready = true;
    read_next(r);
}

static void
read_next(struct router *r)
{
    if (r->stopping || r->reading || r->busy)
        return;
    if (queue_state(r->rq) != QUEUE_UP)
        return; /* the state callback restarts us */
    if (!r->group_ready) {
        const char *argv[] = {"XGROUP",     "CREATE", r->events_key,
                              ROUTER_GROUP, "0",      "MKSTREAM"};

        if (queue_cmd(r->rq, on_group, r, 6, argv, NULL) != 0)
            retry_later(r);
        return;
    }
    {
        const char *argv[] = {"XREADGROUP",
                              "GROUP",
                              ROUTER_GROUP,
                              r->consumer,
                              "COUNT",
                              ROUTER_COUNT,
                              "BLOCK",
                              ROUTER_BLOCK_MS,
                              "STREAMS",
                              r->events_key,
                              r->read_pending ? "0" : ">"};

        if (queue_cmd(r->rq, on_read, r, 11, argv, NULL) != 0) {
            retry_later(r);
            return;
        }
        r->reading = true;
    }
}

static void
on_claimed(const struct qreply *rep, void *arg)
{
    struct router *r = arg;

    /* [cursor, [ids...], deleted] with JUSTID: anything claimed is now
     * ours, and our next "0" read returns it. */
    if (rep != NULL && rep->type == QREPLY_ARR && rep->n >= 2 &&
        rep->elem[1]->type == QREPLY_ARR && rep->elem[1]->n > 0) {
        log_warn("msg=\"reclaimed events of a dead router\" entries=%zu",
                 rep->elem[1]->n);
        r->read_pending = true;
    }
}

static void
on_claim_timer(evutil_socket_t fd, short what, void *arg)
{
    struct router *r = arg;
    const char *argv[] = {"XAUTOCLAIM",
                          r->events_key,
                          ROUTER_GROUP,
                          r->consumer,
                          ROUTER_CLAIM_IDLE_MS,
                          "0-0",
                          "COUNT",
                          "100",
                          "JUSTID"};

    (void)fd;
    (void)what;
    if (!r->stopping && r->group_ready && queue_state(r->cq) == QUEUE_UP)
        queue_cmd(r->cq, on_claimed, r, 9, argv, NULL);
}

/* ---- the finalizer (SYNC.md 3.4) ---- */

struct final_req {
    struct router *r;
    char *key;
};

static void
on_finalized(const struct qreply *rep, void *arg)
{
    (void)rep;
    (void)arg;
}

static const char *
hm(const struct qreply *rep, size_t i)
{
    return i < rep->n && rep->elem[i]->type == QREPLY_STR ? rep->elem[i]->str
                                                          : NULL;
}

/*
 * HMGET state high_progress high_at event: an uncompleted play whose
 * highest progress reached the threshold gets a "watched" event at the
 * time it got there, through the router like any other (G7 included);
 * anything else is closed silently.
 */
static void
on_final_session(const struct qreply *rep, void *arg)
{
    struct final_req *fr = arg;
    struct router *r = fr->r;
    const char *state, *high, *at, *ev;
    char *json = NULL;
    int64_t hp = -1, high_at = 0;

    if (rep == NULL || rep->type != QREPLY_ARR || r->stopping)
        goto done;
    state = hm(rep, 0);
    high = hm(rep, 1);
    at = hm(rep, 2);
    ev = hm(rep, 3);
    if (high != NULL) {
        const char *dot = strchr(high, '.');

        parse_i64n(high, dot ? (size_t)(dot - high) : strlen(high), -1, 100,
                   &hp);
    }
    if (at != NULL)
        parse_i64(at, 0, INT64_MAX, &high_at);
    if (state != NULL && strcmp(state, "completed") != 0 && ev != NULL &&
        hp >= r->params.watched_percent && high_at > 0) {
        struct json_object *o;
        struct event e;
        char err[128];

        o = jsonu_parse(ev, strlen(ev), JSONU_DEPTH, err, sizeof(err));
        if (o != NULL && event_from_json(&e, o, err, sizeof(err)) == 0) {
            struct json_object *out;
            size_t len;

            e.action = EVENT_WATCHED;
            e.completed = -1;
            e.paused = -1;
            e.has_progress = true;
            e.progress = (double)hp;
            e.position_ms = -1;
            e.source_ts = high_at;
            e.received_at = high_at;
            free(e.key);
            e.key = NULL;
            event_finish(&e);
            out = event_to_json(&e);
            json = xstrdup(jsonu_str(out, &len));
            json_object_put(out);
            event_release(&e);
            log_info("msg=\"session finalized: the play counts\" session=%s "
                     "progress=%lld",
                     fr->key, (long long)hp);
        } else if (o != NULL) {
            event_release(&e);
        }
        json_object_put(o);
    }
    {
        const char *argv[] = {r->sessions_key, r->events_key, fr->key,
                              json ? json : ""};

        queue_eval(r->cq, r->fscript, on_finalized, NULL, 2, 4, argv, NULL);
    }
done:
    free(json);
    free(fr->key);
    free(fr);
}

static void
on_idle_sessions(const struct qreply *rep, void *arg)
{
    struct router *r = arg;

    if (rep == NULL || rep->type != QREPLY_ARR || r->stopping)
        return;
    for (size_t i = 0; i < rep->n; i++) {
        struct final_req *fr;
        const char *argv[6];

        if (rep->elem[i]->type != QREPLY_STR)
            continue;
        fr = xcalloc(1, sizeof(*fr));
        fr->r = r;
        fr->key = xstrdup(rep->elem[i]->str);
        argv[0] = "HMGET";
        argv[1] = fr->key;
        argv[2] = "state";
        argv[3] = "high_progress";
        argv[4] = "high_at";
        argv[5] = "event";
        if (queue_cmd(r->cq, on_final_session, fr, 6, argv, NULL) != 0) {
            free(fr->key);
            free(fr);
        }
    }
}

static void
on_final_timer(evutil_socket_t fd, short what, void *arg)
{
    struct router *r = arg;
    char max[32];
    const char *argv[] = {
        "ZRANGEBYSCORE", r->sessions_key, "-inf", max, "LIMIT", "0", "50"};

    (void)fd;
    (void)what;
    if (r->stopping || queue_state(r->cq) != QUEUE_UP)
        return;
    snprintf(max, sizeof(max), "%lld",
             (long long)(wr_now() - r->cfg->finalize_idle_s));
    queue_cmd(r->cq, on_idle_sessions, r, 7, argv, NULL);
}

static void
on_rq_state(enum queue_state st, void *arg)
{
    struct router *r = arg;

    if (st == QUEUE_UP) {
        r->read_pending = true; /* after a reconnect, recover ours first */
        read_next(r);
    } else {
        r->reading = false;
    }
}

struct router *
router_new(struct event_base *base, const struct config *cfg,
           struct queue *cmdq, const char *redis_url, const char *consumer,
           char *err, size_t errlen)
{
    struct router *r = xcalloc(1, sizeof(*r));
    struct timeval claim_every = {ROUTER_CLAIM_EVERY_S, 0};

    r->base = base;
    r->cfg = cfg;
    r->cq = cmdq;
    r->consumer = xstrdup(consumer);
    r->prefix = xstrdup(cfg->key_prefix);
    r->events_key = xasprintf("%sevents", cfg->key_prefix);
    scrobble_params_default(&r->params);
    r->params.watched_percent = cfg->watched_percent;
    r->read_pending = true;
    r->script = queue_script_add(cmdq, route_script);
    r->retry_ev = evtimer_new(base, on_retry, r);
    r->claim_ev = event_new(base, -1, EV_PERSIST, on_claim_timer, r);
    r->final_ev = event_new(base, -1, EV_PERSIST, on_final_timer, r);
    r->fscript = queue_script_add(cmdq, finalize_script);
    r->sessions_key = xasprintf("%ssessions", cfg->key_prefix);
    {
        struct timeval fe = {
            cfg->finalize_idle_s / 2 > 60
                ? 60
                : (cfg->finalize_idle_s / 2 > 0 ? cfg->finalize_idle_s / 2 : 1),
            0};

        if (r->final_ev == NULL || r->fscript < 0 ||
            event_add(r->final_ev, &fe) != 0) {
            snprintf(err, errlen, "cannot set up the session finalizer");
            router_free(r);
            return NULL;
        }
    }
    if (r->script < 0 || r->retry_ev == NULL || r->claim_ev == NULL ||
        event_add(r->claim_ev, &claim_every) != 0) {
        snprintf(err, errlen, "cannot set up the router");
        router_free(r);
        return NULL;
    }
    /* Blocking reads get their own connection and a watchdog that allows
     * for the BLOCK time. */
    r->rq =
        queue_new(base, redis_url, cfg->key_prefix,
                  cfg->redis_timeout_ms + 2000, on_rq_state, r, err, errlen);
    if (r->rq == NULL) {
        router_free(r);
        return NULL;
    }
    return r;
}

void
router_stop(struct router *r)
{
    if (r == NULL)
        return;
    r->stopping = true;
    if (r->retry_ev)
        event_del(r->retry_ev);
    if (r->claim_ev)
        event_del(r->claim_ev);
    if (r->final_ev)
        event_del(r->final_ev);
}

int
router_busy(const struct router *r)
{
    return r != NULL && r->busy;
}

void
router_get_stats(const struct router *r, struct router_stats *out)
{
    *out = r->stats;
}

void
router_free(struct router *r)
{
    if (r == NULL)
        return;
    r->stopping = true;
    queue_free(r->rq);
    event_done(r);
    entries_free(r);
    if (r->retry_ev)
        event_free(r->retry_ev);
    if (r->claim_ev)
        event_free(r->claim_ev);
    if (r->final_ev)
        event_free(r->final_ev);
    free(r->sessions_key);
    free(r->consumer);
    free(r->prefix);
    free(r->events_key);
    free(r);
}
