#include "server.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <json-c/json.h>

#include "handler.h"
#include "ingest.h"
#include "jsonu.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "spool.h"
#include "util.h"

#define SERVER_MAX_HEADERS  (64 * 1024)
#define SERVER_STATUS_EVERY 1

#ifndef WR_VERSION
#define WR_VERSION "0.1.0"
#endif

struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct server_deps d;
    struct event *len_ev;
    int port;
    size_t pending;
    int64_t started_ms;
    int64_t stream_len; /* cached XLEN of the events stream, -1 unknown */
    bool len_inflight;
};

/* One webhook waiting for durability. */
struct hook_ctx {
    struct server *s;
    struct evhttp_request *req;
    int source;
    int64_t start_ms;
    struct timespec t0;
};

static double
elapsed_s(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
send_json(struct evhttp_request *req, int code, const char *reason,
          struct json_object *o)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    size_t len;
    const char *s = jsonu_str(o, &len);

    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (out != NULL) {
        evbuffer_add(out, s, len);
        evbuffer_add(out, "\n", 1);
    }
    evhttp_send_reply(req, code, reason, out);
    if (out != NULL)
        evbuffer_free(out);
    json_object_put(o);
}

static void
send_error(struct evhttp_request *req, int code, const char *reason,
           const char *msg)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(msg));
    send_json(req, code, reason, o);
}

static void
log_hook(int source, int code, const char *what, size_t events, size_t dups,
         double secs)
{
    log_info("msg=hook source=%s status=%d outcome=%s events=%zu "
             "duplicates=%zu ms=%.2f",
             source >= 0 ? config_source_name((enum config_source)source)
                         : "unknown",
             code, what, events, dups, secs * 1000);
}

static void
hook_fail(struct server *s, struct evhttp_request *req, int source,
          const struct timespec *t0, enum metrics_outcome o, int code,
          const char *reason, const char *msg)
{
    char esc[256];
    double secs;

    send_error(req, code, reason, msg);
    secs = elapsed_s(t0);
    metrics_request(s->d.m, source, o, secs);
    str_escape(msg, strlen(msg), esc, sizeof(esc));
    log_info("msg=hook source=%s status=%d outcome=%s error=\"%s\"",
             source >= 0 ? config_source_name((enum config_source)source)
                         : "unknown",
             code, metrics_outcome_name(o), esc);
}

static bool
list_has(char *const *list, size_t n, const char *v, bool fold)
{
    if (v == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (fold ? str_ieq(list[i], v) : strcmp(list[i], v) == 0)
            return true;
    return false;
}

/*
 * Drop the events of users and servers the source does not allow. Returns
 * the reason when everything was dropped (owned), else NULL.
 */
static char *
filter_events(const struct source_conf *sc, struct event_list *l,
              size_t *dropped)
{
    char *reason = NULL;
    size_t keep = 0;

    *dropped = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct event *ev = &l->v[i];
        const char *why = NULL;

        if (sc->n_users > 0 &&
            !list_has(sc->users, sc->n_users, ev->user_name, true) &&
            !list_has(sc->users, sc->n_users, ev->user_id, false))
            why = "user";
        else if (sc->n_servers > 0 &&
                 !list_has(sc->servers, sc->n_servers, ev->server, true))
            why = "server";
        if (why == NULL) {
            if (keep != i) {
                struct event tmp = l->v[keep];

                l->v[keep] = *ev;
                *ev = tmp;
            }
            keep++;
            continue;
        }
        (*dropped)++;
        if (reason == NULL) {
            char esc[128];
            const char *v = why[0] == 'u'
                                ? (ev->user_name ? ev->user_name : ev->user_id)
                                : ev->server;

            if (v == NULL)
                v = "";
            str_escape(v, strlen(v), esc, sizeof(esc));
            reason =
                xasprintf("%s \"%s\" is not allowed for this source", why, esc);
        }
    }
    for (size_t i = keep; i < l->n; i++)
        event_release(&l->v[i]);
    l->n = keep;
    if (keep > 0) {
        free(reason);
        return NULL;
    }
    return reason;
}

static void
on_ingested(const struct ingest_result *r, void *arg)
{
    struct hook_ctx *ctx = arg;
    struct server *s = ctx->s;
    double secs;

    s->pending--;
    if (!r->ok) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req),
                          "Retry-After", "5");
        hook_fail(s, ctx->req, ctx->source, &ctx->t0, METRICS_UNAVAILABLE, 503,
                  "Service Unavailable", r->error);
        free(ctx);
        return;
    }
    /* The hot path: ids are hex, so the reply is written directly. */
    {
        struct evbuffer *out = evbuffer_new();
        struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);

        if (out != NULL) {
            evbuffer_add_printf(out, "{\"ok\":true,\"events\":%zu,\"ids\":[",
                                r->queued + r->spooled);
            for (size_t i = 0; i < r->n_ids; i++)
                evbuffer_add_printf(out, "%s\"%s\"", i ? "," : "", r->ids[i]);
            evbuffer_add(out, "]", 1);
            if (r->duplicates > 0)
                evbuffer_add_printf(out, ",\"duplicates\":%zu", r->duplicates);
            if (r->spooled > 0)
                evbuffer_add_printf(out, ",\"spooled\":%zu", r->spooled);
            evbuffer_add(out, "}\n", 2);
        }
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_add_header(h, "Cache-Control", "no-store");
        evhttp_send_reply(ctx->req, 200, "OK", out);
        if (out != NULL)
            evbuffer_free(out);
    }
    secs = elapsed_s(&ctx->t0);
    metrics_request(s->d.m, ctx->source,
                    r->queued + r->spooled > 0 ? METRICS_OK : METRICS_DUPLICATE,
                    secs);
    log_hook(ctx->source, 200, r->spooled ? "spooled" : "queued",
             r->queued + r->spooled, r->duplicates, secs);
    free(ctx);
}

static const char *
query_token(const struct evhttp_uri *uri, struct evkeyvalq *q)
{
    const char *qs = evhttp_uri_get_query(uri);

    if (qs == NULL || evhttp_parse_query_str(qs, q) != 0)
        return NULL;
    return evhttp_find_header(q, "token");
}

static void
handle_hook(struct server *s, struct evhttp_request *req, const char *rest,
            const struct timespec *t0)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    const struct handler_def *h = NULL;
    const struct source_conf *sc;
    struct evkeyvalq query;
    struct event_list evs;
    struct hook_request hr;
    const char *slash, *token = NULL;
    char name[32], ptoken[256], err[512], esc[64];
    char *reason = NULL;
    size_t nlen, len, dropped = 0;
    int source = -1;

    TAILQ_INIT(&query);
    event_list_init(&evs);
    slash = strchr(rest, '/');
    nlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (nlen > 0 && nlen < sizeof(name)) {
        memcpy(name, rest, nlen);
        name[nlen] = '\0';
        source = config_source_from_name(name);
        h = handler_find(name);
    }
    if (source < 0 || h == NULL || !s->d.cfg->sources[source].present ||
        (slash && strchr(slash + 1, '/') != NULL)) {
        char *msg;

        str_escape(rest, nlen, esc, sizeof(esc));
        msg = xasprintf("unknown source \"%s\"", esc);
        hook_fail(s, req, -1, t0, METRICS_NOT_FOUND, 404, "Not Found", msg);
        free(msg);
        goto done;
    }
    sc = &s->d.cfg->sources[source];
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "POST");
        hook_fail(s, req, source, t0, METRICS_METHOD, 405, "Method Not Allowed",
                  "webhooks must be sent with POST");
        goto done;
    }
    if (slash != NULL && slash[1] != '\0') {
        size_t tl = strlen(slash + 1);

        if (tl < sizeof(ptoken)) {
            memcpy(ptoken, slash + 1, tl + 1);
            token = ptoken;
        }
    } else {
        token = query_token(uri, &query);
    }
    if (token == NULL || *token == '\0') {
        hook_fail(s, req, source, t0, METRICS_UNAUTHORIZED, 401, "Unauthorized",
                  "missing token: use /hooks/<source>/<token> or "
                  "?token=<token>");
        goto done;
    }
    if (!ct_streq(token, s->d.tokens[source])) {
        hook_fail(s, req, source, t0, METRICS_UNAUTHORIZED, 401, "Unauthorized",
                  "wrong token for this source");
        goto done;
    }
    len = evbuffer_get_length(body);
    if (len > s->d.cfg->max_body_bytes) {
        hook_fail(s, req, source, t0, METRICS_TOO_LARGE, 413,
                  "Payload Too Large",
                  "the body is over limits.max_body_bytes");
        goto done;
    }
    memset(&hr, 0, sizeof(hr));
    hr.content_type = evhttp_find_header(in_h, "Content-Type");
    hr.user_agent = evhttp_find_header(in_h, "User-Agent");
    hr.body = len ? (const char *)evbuffer_pullup(body, -1) : "";
    hr.len = len;
    hr.now = wr_now();
    if (h->parse(&hr, &evs, err, sizeof(err)) != 0) {
        hook_fail(s, req, source, t0, METRICS_BAD_REQUEST, 400, "Bad Request",
                  err);
        goto done;
    }
    if (evs.n > 0) {
        reason = filter_events(sc, &evs, &dropped);
        metrics_add(s->d.m, METRICS_EVENTS_IGNORED, source, dropped);
    }
    if (evs.n == 0) {
        struct json_object *o = json_object_new_object();
        const char *why = reason        ? reason
                          : evs.ignored ? evs.ignored
                                        : "nothing to do";
        double secs;

        json_object_object_add(o, "ok", json_object_new_boolean(1));
        json_object_object_add(o, "events", json_object_new_int(0));
        json_object_object_add(o, "ignored", json_object_new_string(why));
        send_json(req, 200, "OK", o);
        secs = elapsed_s(t0);
        metrics_request(s->d.m, source, METRICS_IGNORED, secs);
        str_escape(why, strlen(why), err, sizeof(err));
        log_info("msg=hook source=%s status=200 outcome=ignored "
                 "reason=\"%s\"",
                 name, err);
        goto done;
    }
    {
        struct hook_ctx *ctx = xcalloc(1, sizeof(*ctx));

        ctx->s = s;
        ctx->req = req;
        ctx->source = source;
        ctx->t0 = *t0;
        s->pending++;
        ingest_submit(s->d.in, source, &evs, on_ingested, ctx);
    }
done:
    free(reason);
    event_list_release(&evs);
    evhttp_clear_headers(&query);
}

static void
handle_status(struct server *s, struct evhttp_request *req)
{
    struct json_object *o = json_object_new_object();
    struct json_object *redis = json_object_new_object();
    struct json_object *spool = json_object_new_object();
    struct json_object *counts = json_object_new_object();
    struct json_object *hooks = json_object_new_object();
    enum queue_state st = queue_state(s->d.q);

    json_object_object_add(o, "ok", json_object_new_boolean(1));
    json_object_object_add(o, "version", json_object_new_string(WR_VERSION));
    json_object_object_add(
        o, "uptime_s",
        json_object_new_int64((wr_mono_ms() - s->started_ms) / 1000));
    json_object_object_add(redis, "state",
                           json_object_new_string(queue_state_name(st)));
    if (queue_errstr(s->d.q)[0] != '\0')
        json_object_object_add(redis, "error",
                               json_object_new_string(queue_errstr(s->d.q)));
    json_object_object_add(o, "redis", redis);
    json_object_object_add(
        spool, "depth", json_object_new_int64((int64_t)spool_depth(s->d.sp)));
    json_object_object_add(
        spool, "bytes", json_object_new_int64((int64_t)spool_bytes(s->d.sp)));
    json_object_object_add(spool, "draining",
                           json_object_new_boolean(ingest_draining(s->d.in)));
    json_object_object_add(o, "spool", spool);
    json_object_object_add(
        o, "events_stream_length",
        s->stream_len >= 0 ? json_object_new_int64(s->stream_len) : NULL);
    json_object_object_add(counts, "queued",
                           json_object_new_int64((int64_t)metrics_get(
                               s->d.m, METRICS_EVENTS_QUEUED)));
    json_object_object_add(counts, "duplicates",
                           json_object_new_int64((int64_t)metrics_get(
                               s->d.m, METRICS_EVENTS_DUPLICATE)));
    json_object_object_add(counts, "spooled",
                           json_object_new_int64((int64_t)metrics_get(
                               s->d.m, METRICS_EVENTS_SPOOLED)));
    json_object_object_add(counts, "drained",
                           json_object_new_int64((int64_t)metrics_get(
                               s->d.m, METRICS_EVENTS_DRAINED)));
    json_object_object_add(o, "events", counts);
    /* Paths only: tokens never leave the process through status. */
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++) {
        char *p;

        if (!s->d.cfg->sources[i].present)
            continue;
        p = xasprintf("/hooks/%s/<token>",
                      config_source_name((enum config_source)i));
        json_object_object_add(hooks, config_source_name((enum config_source)i),
                               json_object_new_string(p));
        free(p);
    }
    json_object_object_add(o, "webhooks", hooks);
    if (s->d.status_cb != NULL)
        s->d.status_cb(o, s->d.status_arg);
    json_object_object_add(o, "requests_inflight",
                           json_object_new_int64((int64_t)s->pending));
    send_json(req, 200, "OK", o);
}

static void
handle_metrics(struct server *s, struct evhttp_request *req)
{
    struct metrics_gauges g;
    struct buf b;
    struct evbuffer *out = evbuffer_new();

    memset(&g, 0, sizeof(g));
    g.spool_depth = spool_depth(s->d.sp);
    g.spool_bytes = spool_bytes(s->d.sp);
    g.redis_up = queue_state(s->d.q) == QUEUE_UP;
    g.stream_len = s->stream_len;
    g.inflight = s->pending;
    g.uptime_s = (double)(wr_mono_ms() - s->started_ms) / 1000.0;
    buf_init(&b);
    metrics_render(s->d.m, &g, &b);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    if (out != NULL)
        evbuffer_add(out, b.data, b.len);
    evhttp_send_reply(req, 200, "OK", out);
    if (out != NULL)
        evbuffer_free(out);
    buf_release(&b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct server *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct timespec t0;
    bool is_get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (path == NULL || *path == '\0')
        path = "/";
    if (str_has_prefix(path, "/hooks/")) {
        handle_hook(s, req, path + 7, &t0);
        return;
    }
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
        strcmp(path, "/metrics") == 0 || strcmp(path, "/api/status") == 0) {
        if (!is_get) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                              "GET");
            send_error(req, 405, "Method Not Allowed", "use GET");
            return;
        }
    } else {
        send_error(req, 404, "Not Found", "no such path");
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "ok", json_object_new_boolean(1));
        send_json(req, 200, "OK", o);
    } else if (strcmp(path, "/readyz") == 0) {
        struct json_object *o = json_object_new_object();
        bool up = queue_state(s->d.q) == QUEUE_UP;

        json_object_object_add(o, "ok", json_object_new_boolean(up));
        json_object_object_add(
            o, "redis",
            json_object_new_string(queue_state_name(queue_state(s->d.q))));
        if (!up) {
            char *msg = xasprintf("redis is not reachable%s%s",
                                  queue_errstr(s->d.q)[0] ? ": " : "",
                                  queue_errstr(s->d.q));

            json_object_object_add(o, "error", json_object_new_string(msg));
            free(msg);
        }
        json_object_object_add(
            o, "spool_depth",
            json_object_new_int64((int64_t)spool_depth(s->d.sp)));
        send_json(req, up ? 200 : 503, up ? "OK" : "Service Unavailable", o);
    } else if (strcmp(path, "/metrics") == 0) {
        handle_metrics(s, req);
    } else {
        handle_status(s, req);
    }
}

static void
on_len(int64_t len, void *arg)
{
    struct server *s = arg;

    s->len_inflight = false;
    if (len >= 0)
        s->stream_len = len;
}

static void
on_len_timer(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;

    (void)fd;
    (void)what;
    if (s->len_inflight || queue_state(s->d.q) != QUEUE_UP)
        return;
    if (queue_stream_len(s->d.q, "events", on_len, s) == 0)
        s->len_inflight = true;
}

struct server *
server_new(struct event_base *base, const struct server_deps *deps, char *err,
           size_t errlen)
{
    struct server *s = xcalloc(1, sizeof(*s));
    struct timeval every = {SERVER_STATUS_EVERY, 0};
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd;

    s->base = base;
    s->d = *deps;
    s->stream_len = -1;
    s->started_ms = wr_mono_ms();
    s->http = evhttp_new(base);
    if (s->http == NULL) {
        snprintf(err, errlen, "cannot create the HTTP server");
        goto fail;
    }
    evhttp_set_max_body_size(s->http, (ev_ssize_t)deps->cfg->max_body_bytes);
    evhttp_set_max_headers_size(s->http, SERVER_MAX_HEADERS);
    evhttp_set_timeout(s->http, deps->cfg->timeout_s);
    evhttp_set_allowed_methods(
        s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                     EVHTTP_REQ_OPTIONS);
    if (evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE) != 0) {
        snprintf(err, errlen, "cannot set lingering close");
        goto fail;
    }
    evhttp_set_gencb(s->http, on_request, s);
    s->sock = evhttp_bind_socket_with_handle(
        s->http, deps->cfg->listen_host, (ev_uint16_t)deps->cfg->listen_port);
    if (s->sock == NULL) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d (address in use or not local?)",
                 deps->cfg->listen_host, deps->cfg->listen_port);
        goto fail;
    }
    fd = evhttp_bound_socket_get_fd(s->sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    s->len_ev = event_new(base, -1, EV_PERSIST, on_len_timer, s);
    if (s->len_ev == NULL || event_add(s->len_ev, &every) != 0) {
        snprintf(err, errlen, "cannot create the status timer");
        goto fail;
    }
    return s;
fail:
    server_free(s);
    return NULL;
}

int
server_port(const struct server *s)
{
    return s->port;
}

void
server_stop_accepting(struct server *s)
{
    if (s->sock != NULL) {
        evhttp_del_accept_socket(s->http, s->sock);
        s->sock = NULL;
    }
}

size_t
server_pending(const struct server *s)
{
    return s->pending;
}

void
server_free(struct server *s)
{
    if (s == NULL)
        return;
    if (s->len_ev)
        event_free(s->len_ev);
    if (s->http)
        evhttp_free(s->http);
    free(s);
}
