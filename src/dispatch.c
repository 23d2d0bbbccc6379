#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "adapter.h"
#include "applier.h"
#include "fetch.h"
#include "log.h"
#include "queue.h"
#include "router.h"
#include "util.h"

#define DISPATCH_STREAMS (CONFIG_PROVIDER_MAX + 1)

/* Cached XINFO GROUPS figures of a stream, refreshed every second. */
struct stream_info {
    char *key;
    char *name;    /* "events", "out:trakt" */
    long long len; /* -1 unknown */
    long long pending;
    long long lag;         /* -1 unknown */
    long long retry_depth; /* out streams: parked retries, -1 unknown */
};

struct dispatch {
    struct fetch *f;
    struct router *r;
    struct applier *ap[CONFIG_PROVIDER_MAX];
    size_t n_ap;
    struct queue *cq;
    struct event *info_ev;
    struct stream_info streams[DISPATCH_STREAMS];
    size_t n_streams;
    long long dead_len;
};

static void
on_xlen(const struct qreply *rep, void *arg)
{
    long long *out = arg;

    if (rep != NULL && rep->type == QREPLY_INT)
        *out = rep->integer;
}

static void
on_groups(const struct qreply *rep, void *arg)
{
    struct stream_info *si = arg;

    if (rep == NULL || rep->type != QREPLY_ARR)
        return;
    for (size_t i = 0; i < rep->n; i++) {
        const struct qreply *g = rep->elem[i];

        if (g->type != QREPLY_ARR)
            continue;
        for (size_t j = 0; j + 1 < g->n; j += 2) {
            const struct qreply *k = g->elem[j], *v = g->elem[j + 1];

            if (k->type != QREPLY_STR)
                continue;
            if (strcmp(k->str, "pending") == 0 && v->type == QREPLY_INT)
                si->pending = v->integer;
            else if (strcmp(k->str, "lag") == 0)
                si->lag = v->type == QREPLY_INT ? v->integer : -1;
        }
    }
}

static void
on_info_timer(evutil_socket_t fd, short what, void *arg)
{
    struct dispatch *d = arg;
    char *dead;

    (void)fd;
    (void)what;
    if (queue_state(d->cq) != QUEUE_UP)
        return;
    for (size_t i = 0; i < d->n_streams; i++) {
        struct stream_info *si = &d->streams[i];
        const char *xl[] = {"XLEN", si->key};
        const char *xi[] = {"XINFO", "GROUPS", si->key};

        queue_cmd(d->cq, on_xlen, &si->len, 2, xl, NULL);
        queue_cmd(d->cq, on_groups, si, 3, xi, NULL);
        if (i > 0) {
            char *z =
                xasprintf("%sretry:%s", queue_prefix(d->cq), si->name + 4);
            const char *zc[] = {"ZCARD", z};

            queue_cmd(d->cq, on_xlen, &si->retry_depth, 2, zc, NULL);
            free(z);
        }
    }
    dead = xasprintf("%sdead", queue_prefix(d->cq));
    {
        const char *xl[] = {"XLEN", dead};

        queue_cmd(d->cq, on_xlen, &d->dead_len, 2, xl, NULL);
    }
    free(dead);
}

static void
add_stream(struct dispatch *d, const char *prefix, const char *name)
{
    struct stream_info *si = &d->streams[d->n_streams++];

    si->name = xstrdup(name);
    si->key = xasprintf("%s%s", prefix, name);
    si->len = si->lag = si->retry_depth = -1;
}

struct dispatch *
dispatch_new(struct event_base *base, const struct config *cfg,
             struct queue *cmdq, const char *redis_url, const char *consumer,
             char *err, size_t errlen)
{
    struct dispatch *d = xcalloc(1, sizeof(*d));
    struct timeval sec = {1, 0};
    bool need_http = false;

    d->cq = cmdq;
    d->dead_len = -1;
    add_stream(d, cfg->key_prefix, "events");

    for (int p = 0; p < CONFIG_PROVIDER_MAX; p++) {
        const struct adapter_ops *a =
            adapter_find(config_provider_name((enum config_provider)p));

        if (cfg->providers[p].present && a != NULL && a->apply == NULL)
            need_http = true;
    }
    if (need_http) {
        d->f = fetch_new(base, NULL);
        if (d->f == NULL) {
            snprintf(err, errlen, "cannot start the HTTP client");
            dispatch_free(d);
            return NULL;
        }
    }
    for (int p = 0; p < CONFIG_PROVIDER_MAX; p++) {
        const char *name = config_provider_name((enum config_provider)p);
        const struct adapter_ops *a = adapter_find(name);
        char aerr[256];
        struct applier *ap;

        if (!cfg->providers[p].present || a == NULL || a->init == NULL)
            continue;
        ap = applier_new(base, cfg, a, cmdq, redis_url, d->f, consumer, aerr,
                         sizeof(aerr));
        if (ap == NULL) {
            log_error("msg=\"target not started\" target=%s reason=\"%s\"",
                      name, aerr);
            continue;
        }
        d->ap[d->n_ap++] = ap;
        {
            char *sn = xasprintf("out:%s", name);

            add_stream(d, cfg->key_prefix, sn);
            free(sn);
        }
        log_info("msg=\"target ready\" target=%s", name);
    }
    d->info_ev = event_new(base, -1, EV_PERSIST, on_info_timer, d);
    if (d->info_ev == NULL || event_add(d->info_ev, &sec) != 0) {
        snprintf(err, errlen, "cannot create the status timer");
        dispatch_free(d);
        return NULL;
    }
    if (cfg->n_routes == 0 && cfg->n_pairs == 0) {
        /* Nothing to route: leave the events stream to its readers. */
        log_info("msg=\"no routes configured: events are kept, not "
                 "routed\"");
        return d;
    }
    d->r = router_new(base, cfg, cmdq, redis_url, consumer, err, errlen);
    if (d->r == NULL) {
        dispatch_free(d);
        return NULL;
    }
    return d;
}

void
dispatch_stop(struct dispatch *d)
{
    if (d == NULL)
        return;
    if (d->info_ev)
        event_del(d->info_ev);
    router_stop(d->r);
    for (size_t i = 0; i < d->n_ap; i++)
        applier_stop(d->ap[i]);
}

void
dispatch_status(const struct dispatch *d, struct json_object *out)
{
    struct json_object *targets = json_object_new_object();
    struct json_object *router = json_object_new_object();
    struct router_stats rs;

    memset(&rs, 0, sizeof(rs));
    if (d->r != NULL)
        router_get_stats(d->r, &rs);
    json_object_object_add(router, "events",
                           json_object_new_int64((int64_t)rs.events));
    json_object_object_add(router, "operations",
                           json_object_new_int64((int64_t)rs.ops));
    json_object_object_add(router, "skipped",
                           json_object_new_int64((int64_t)rs.skipped));
    json_object_object_add(router, "unreadable",
                           json_object_new_int64((int64_t)rs.bad));
    json_object_object_add(out, "router", router);
    for (size_t i = 0; i < d->n_ap; i++) {
        struct applier_stats st;
        struct json_object *t = json_object_new_object();

        applier_get_stats(d->ap[i], &st);
        json_object_object_add(t, "health", json_object_new_string(st.health));
        json_object_object_add(t, "requests",
                               json_object_new_int64((int64_t)st.requests));
        json_object_object_add(t, "applied",
                               json_object_new_int64((int64_t)st.applied));
        json_object_object_add(t, "retried",
                               json_object_new_int64((int64_t)st.retried));
        json_object_object_add(t, "dead",
                               json_object_new_int64((int64_t)st.dead));
        json_object_object_add(t, "expired",
                               json_object_new_int64((int64_t)st.expired));
        json_object_object_add(t, "waited",
                               json_object_new_int64((int64_t)st.waited));
        {
            struct json_object *rl = json_object_new_object();

            json_object_object_add(
                rl, "write_interval_ms",
                json_object_new_int64((int64_t)st.write_interval_ms));
            json_object_object_add(
                rl, "quota_pause_ms",
                json_object_new_int64((int64_t)st.quota_pause_ms));
            json_object_object_add(rl, "batch",
                                   json_object_new_int64((int64_t)st.chunk));
            json_object_object_add(t, "rate_limit", rl);
        }
        if (st.last_error[0])
            json_object_object_add(t, "last_error",
                                   json_object_new_string(st.last_error));
        if (st.paused_until)
            json_object_object_add(t, "paused_until",
                                   json_object_new_int64(st.paused_until));
        json_object_object_add(targets, st.target, t);
    }
    json_object_object_add(out, "targets", targets);
    {
        struct json_object *streams = json_object_new_object();

        for (size_t i = 0; i < d->n_streams; i++) {
            const struct stream_info *si = &d->streams[i];
            struct json_object *o = json_object_new_object();

            json_object_object_add(o, "length",
                                   si->len >= 0 ? json_object_new_int64(si->len)
                                                : NULL);
            json_object_object_add(o, "pending",
                                   json_object_new_int64(si->pending));
            json_object_object_add(
                o, "lag", si->lag >= 0 ? json_object_new_int64(si->lag) : NULL);
            if (i > 0)
                json_object_object_add(
                    o, "retries",
                    si->retry_depth >= 0
                        ? json_object_new_int64(si->retry_depth)
                        : NULL);
            json_object_object_add(streams, si->name, o);
        }
        json_object_object_add(out, "streams", streams);
        json_object_object_add(
            out, "dead_letters",
            d->dead_len >= 0 ? json_object_new_int64(d->dead_len) : NULL);
    }
}

void
dispatch_free(struct dispatch *d)
{
    if (d == NULL)
        return;
    dispatch_stop(d);
    if (d->info_ev)
        event_free(d->info_ev);
    for (size_t i = 0; i < d->n_streams; i++) {
        free(d->streams[i].key);
        free(d->streams[i].name);
    }
    /* Transfers in flight call back into their appliers: first. */
    fetch_free(d->f);
    d->f = NULL;
    router_free(d->r);
    for (size_t i = 0; i < d->n_ap; i++)
        applier_free(d->ap[i]);
    free(d);
}
