/*
 * Unit tests for fetch.c: real transfers over loopback against an in-process
 * evhttp server (and a raw TCP responder for hand-written replies) on the
 * same event_base. Every loop run is bounded by a watchdog timer.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "fetch.h"
#include "http.h"
#include "log.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define MAX_SLOW      16
#define MAX_RAW       16
#define SLOW_DELAY_MS 5000

struct srv;

struct slow_reply {
    struct srv *srv;
    struct evhttp_request *req;
    struct event *ev;
};

struct srv {
    struct event_base *base;
    struct evhttp *http;
    int port;
    struct slow_reply slow[MAX_SLOW];
    size_t n_slow;
    struct evconnlistener *raw;
    int raw_port;
    struct bufferevent *raw_bevs[MAX_RAW];
    int hits;
};

struct ctx {
    struct event_base *base;
    struct srv srv;
    struct fetch *f;
    size_t expected;
    size_t done;
    bool timed_out;
};

/* What a completion saw, deep-copied (the response is borrowed). */
struct result {
    struct ctx *c;
    int calls;
    struct http_response resp;
    int tag;
    /* follow-up and shutdown tests */
    struct result *next;
    const char *next_url;
    int submit_rc;
};

/* ---- the evhttp server ------------------------------------------------- */

static const char *
cmd_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    default:
        return "OTHER";
    }
}

static void
echo_cb(struct evhttp_request *req, void *arg)
{
    static const char *const names[] = {
        "user-agent", "expect",        "content-length",    "content-type",
        "x-test",     "authorization", "transfer-encoding",
    };
    struct srv *srv = arg;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    struct evbuffer *out = evbuffer_new();
    json_object *o = json_object_new_object();
    json_object *h = json_object_new_object();
    size_t len = evbuffer_get_length(body);
    const char *s;
    int ua_count = 0;

    srv->hits++;
    json_object_object_add(
        o, "method",
        json_object_new_string(cmd_name(evhttp_request_get_command(req))));
    json_object_object_add(o, "uri",
                           json_object_new_string(evhttp_request_get_uri(req)));
    json_object_object_add(
        o, "body",
        json_object_new_string_len(
            len ? (const char *)evbuffer_pullup(body, -1) : "", (int)len));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        s = evhttp_find_header(in, names[i]);
        json_object_object_add(h, names[i],
                               s ? json_object_new_string(s) : NULL);
    }
    while (evhttp_find_header(in, "User-Agent") != NULL) {
        ua_count++;
        evhttp_remove_header(in, "User-Agent");
    }
    json_object_object_add(o, "headers", h);
    json_object_object_add(o, "ua_count", json_object_new_int(ua_count));
    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    evbuffer_add(out, s, strlen(s));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    json_object_put(o);
}

static void
limited_cb(struct evhttp_request *req, void *arg)
{
    struct srv *srv = arg;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evbuffer_new();

    srv->hits++;
    evhttp_add_header(oh, "Retry-After", "7");
    evhttp_add_header(oh, "X-RateLimit-Limit", "1000");
    evhttp_add_header(oh, "X-Custom", "hello world");
    evbuffer_add_printf(out, "{\"error\":\"rate limited\"}");
    evhttp_send_reply(req, 429, "Too Many Requests", out);
    evbuffer_free(out);
}

static void
slow_fire(evutil_socket_t fd, short what, void *arg)
{
    struct slow_reply *s = arg;
    struct evbuffer *out = evbuffer_new();

    (void)fd;
    (void)what;
    evbuffer_add_printf(out, "late");
    evhttp_send_reply(s->req, 200, "OK", out);
    evbuffer_free(out);
    event_free(s->ev);
    s->ev = NULL;
    s->req = NULL;
}

static void
slow_cb(struct evhttp_request *req, void *arg)
{
    struct srv *srv = arg;
    struct slow_reply *s;
    struct timeval tv = {SLOW_DELAY_MS / 1000, (SLOW_DELAY_MS % 1000) * 1000};

    srv->hits++;
    if (srv->n_slow >= MAX_SLOW) {
        evhttp_send_error(req, 503, "too many slow requests");
        return;
    }
    s = &srv->slow[srv->n_slow++];
    s->srv = srv;
    s->req = req;
    s->ev = evtimer_new(srv->base, slow_fire, s);
    evtimer_add(s->ev, &tv);
}

/* /sized?n=N[&chunked=1]: N bytes of 'x', optionally without a length. */
static void
sized_cb(struct evhttp_request *req, void *arg)
{
    struct srv *srv = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *q = strstr(uri, "n=");
    bool chunked = strstr(uri, "chunked=1") != NULL;
    long n = q ? strtol(q + 2, NULL, 10) : 0;
    char chunk[512];

    srv->hits++;
    memset(chunk, 'x', sizeof(chunk));
    if (!chunked) {
        struct evbuffer *out = evbuffer_new();

        for (long i = 0; i < n; i++)
            evbuffer_add(out, "x", 1);
        evhttp_send_reply(req, 200, "OK", out);
        evbuffer_free(out);
        return;
    }
    evhttp_send_reply_start(req, 200, "OK");
    while (n > 0) {
        struct evbuffer *out = evbuffer_new();
        size_t k = n > (long)sizeof(chunk) ? sizeof(chunk) : (size_t)n;

        evbuffer_add(out, chunk, k);
        evhttp_send_reply_chunk(req, out);
        evbuffer_free(out);
        n -= (long)k;
    }
    evhttp_send_reply_end(req);
}

static void
nocontent_cb(struct evhttp_request *req, void *arg)
{
    struct srv *srv = arg;

    srv->hits++;
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Done", "1");
    evhttp_send_reply(req, 204, "No Content", NULL);
}

static void
redirect_cb(struct evhttp_request *req, void *arg)
{
    struct srv *srv = arg;

    srv->hits++;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
                      "/echo");
    evhttp_send_reply(req, 302, "Found", NULL);
}

/* ---- the raw responder: hand-written replies curl must parse ------------- */

static const char raw_reply[] = "HTTP/1.1 103 Early Hints\r\n"
                                "Link: </style.css>; rel=preload\r\n"
                                "X-Early: yes\r\n"
                                "\r\n"
                                "HTTP/1.1 200 OK\r\n"
                                "Content-Length: 2\r\n"
                                "X-Trim:    spaced out  \t \r\n"
                                "x-lower: v\r\n"
                                "X-Empty:\r\n"
                                "X-Folded: first\r\n"
                                "   second\r\n"
                                "Connection: close\r\n"
                                "\r\n"
                                "ok";

static void
raw_drop(struct srv *srv, struct bufferevent *bev)
{
    for (size_t i = 0; i < MAX_RAW; i++)
        if (srv->raw_bevs[i] == bev)
            srv->raw_bevs[i] = NULL;
    bufferevent_free(bev);
}

static void
raw_write_cb(struct bufferevent *bev, void *arg)
{
    raw_drop(arg, bev); /* reply flushed: close */
}

static void
raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    raw_drop(arg, bev);
}

static void
raw_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);

    bool many;

    if (p.pos < 0)
        return;
    many = str_has_prefix((const char *)evbuffer_pullup(in, -1), "GET /many ");
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_setcb(bev, NULL, raw_write_cb, raw_event_cb, arg);
    if (!many) {
        bufferevent_write(bev, raw_reply, sizeof(raw_reply) - 1);
        return;
    }
    /* More header lines than fetch keeps. */
    evbuffer_add_printf(bufferevent_get_output(bev), "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 300; i++)
        evbuffer_add_printf(bufferevent_get_output(bev), "X-H-%d: v\r\n", i);
    evbuffer_add_printf(bufferevent_get_output(bev),
                        "Content-Length: 2\r\nConnection: close\r\n\r\nok");
}

static void
raw_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
              int salen, void *arg)
{
    struct srv *srv = arg;
    struct bufferevent *bev;

    (void)l;
    (void)sa;
    (void)salen;
    srv->hits++;
    bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(bev);
    for (size_t i = 0; i < MAX_RAW; i++) {
        if (srv->raw_bevs[i] == NULL) {
            srv->raw_bevs[i] = bev;
            break;
        }
    }
    bufferevent_setcb(bev, raw_read_cb, NULL, raw_event_cb, srv);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int
sock_port(evutil_socket_t fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

static void
srv_start(struct srv *srv, struct event_base *base)
{
    struct evhttp_bound_socket *bound;
    struct sockaddr_in sin;

    memset(srv, 0, sizeof(*srv));
    srv->base = base;
    srv->http = evhttp_new(base);
    assert_non_null(srv->http);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE);
    assert_int_equal(evhttp_set_cb(srv->http, "/echo", echo_cb, srv), 0);
    assert_int_equal(evhttp_set_cb(srv->http, "/limited", limited_cb, srv), 0);
    assert_int_equal(evhttp_set_cb(srv->http, "/slow", slow_cb, srv), 0);
    assert_int_equal(evhttp_set_cb(srv->http, "/sized", sized_cb, srv), 0);
    assert_int_equal(evhttp_set_cb(srv->http, "/nocontent", nocontent_cb, srv),
                     0);
    assert_int_equal(evhttp_set_cb(srv->http, "/redirect", redirect_cb, srv),
                     0);
    bound = evhttp_bind_socket_with_handle(srv->http, "127.0.0.1", 0);
    assert_non_null(bound);
    srv->port = sock_port(evhttp_bound_socket_get_fd(bound));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    srv->raw = evconnlistener_new_bind(
        base, raw_accept_cb, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
        (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(srv->raw);
    srv->raw_port = sock_port(evconnlistener_get_fd(srv->raw));
}

static void
srv_stop(struct srv *srv)
{
    for (size_t i = 0; i < srv->n_slow; i++)
        if (srv->slow[i].ev != NULL)
            event_free(srv->slow[i].ev);
    for (size_t i = 0; i < MAX_RAW; i++)
        if (srv->raw_bevs[i] != NULL)
            bufferevent_free(srv->raw_bevs[i]);
    evconnlistener_free(srv->raw);
    /* Frees its connections and any request still waiting for a reply. */
    evhttp_free(srv->http);
}

/* ---- fixture, client callbacks and the bounded loop --------------------- */

static int
setup(void **state)
{
    struct ctx *c = xcalloc(1, sizeof(*c));

    c->base = event_base_new();
    assert_non_null(c->base);
    srv_start(&c->srv, c->base);
    *state = c;
    return 0;
}

static int
teardown(void **state)
{
    struct ctx *c = *state;

    fetch_free(c->f);
    srv_stop(&c->srv);
    event_base_free(c->base);
    free(c);
    return 0;
}

static void
resp_copy(struct http_response *dst, const struct http_response *src)
{
    http_response_init(dst);
    dst->status = src->status;
    dst->error = src->error ? xstrdup(src->error) : NULL;
    assert_non_null(src->body);
    assert_int_equal(src->body[src->body_len], '\0');
    dst->body = xmalloc(src->body_len + 1);
    memcpy(dst->body, src->body, src->body_len + 1);
    dst->body_len = src->body_len;
    dst->elapsed_s = src->elapsed_s;
    dst->n_headers = src->n_headers;
    dst->headers = xcalloc(src->n_headers + 1, sizeof(*dst->headers));
    for (size_t i = 0; i < src->n_headers; i++) {
        dst->headers[i].name = xstrdup(src->headers[i].name);
        dst->headers[i].value = xstrdup(src->headers[i].value);
    }
}

static void
result_release(struct result *r)
{
    http_response_release(&r->resp);
}

static void
on_done(const struct http_response *resp, void *arg)
{
    struct result *r = arg;
    struct ctx *c = r->c;

    r->calls++;
    if (r->calls == 1)
        resp_copy(&r->resp, resp);
    c->done++;
    if (c->done >= c->expected)
        event_base_loopexit(c->base, NULL);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ctx *c = arg;

    (void)fd;
    (void)what;
    c->timed_out = true;
    event_base_loopexit(c->base, NULL);
}

/* Run the loop until `expected` completions in total, at most `ms`. */
static void
run_until(struct ctx *c, size_t expected, long ms)
{
    struct event *wd = evtimer_new(c->base, watchdog_cb, c);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    c->expected = expected;
    c->timed_out = false;
    if (c->done < expected) {
        evtimer_add(wd, &tv);
        event_base_dispatch(c->base);
    }
    event_free(wd);
    assert_false(c->timed_out);
    assert_int_equal(c->done, expected);
}

/* Run the loop for ms, whatever completes. */
static void
run_for(struct ctx *c, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    c->expected = SIZE_MAX;
    event_base_loopexit(c->base, &tv);
    event_base_dispatch(c->base);
}

static struct fetch *
new_fetch(struct ctx *c, long timeout_ms, size_t max_response)
{
    struct fetch_opts o = {
        .connect_timeout_ms = 2000,
        .timeout_ms = timeout_ms,
        .max_response = max_response,
        .max_host_connections = 0, /* default */
        .user_agent = NULL,        /* default */
    };

    c->f = fetch_new(c->base, &o);
    assert_non_null(c->f);
    return c->f;
}

static void req_init(struct http_request *req, enum http_method m,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
req_init(struct http_request *req, enum http_method m, const char *fmt, ...)
{
    va_list ap;
    char url[512];

    va_start(ap, fmt);
    vsnprintf(url, sizeof(url), fmt, ap);
    va_end(ap);
    http_request_init(req);
    req->method = m;
    req->url = xstrdup(url);
}

/* Submit one request and wait for it. */
static void
fetch_one(struct ctx *c, struct http_request *req, struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    assert_int_equal(fetch_submit(c->f, req, on_done, r), 0);
    http_request_release(req); /* req was copied */
    run_until(c, c->done + 1, 10000);
    assert_int_equal(r->calls, 1);
    assert_int_equal(fetch_running(c->f), 0);
}

static json_object *
parse_json(const char *s)
{
    json_object *o = json_tokener_parse(s);

    assert_non_null(o);
    assert_true(json_object_is_type(o, json_type_object));
    return o;
}

static const char *
jstr(json_object *o, const char *k1, const char *k2)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(o, k1, &v));
    if (k2 != NULL) {
        json_object *w = NULL;

        assert_true(json_object_object_get_ex(v, k2, &w));
        v = w;
    }
    return v != NULL ? json_object_get_string(v) : NULL;
}

/* ---- tests --------------------------------------------------------------- */

struct method_case {
    enum http_method method;
    const char *body;
    const char *want_method;
    const char *want_length; /* Content-Length the server saw, or NULL */
};

static const struct method_case method_cases[] = {
    {HTTP_GET, NULL, "GET", NULL},       {HTTP_POST, "{\"a\":1}", "POST", "7"},
    {HTTP_POST, NULL, "POST", "0"},      {HTTP_PUT, "put-body", "PUT", "8"},
    {HTTP_PUT, NULL, "PUT", "0"},        {HTTP_DELETE, NULL, "DELETE", NULL},
    {HTTP_DELETE, "del", "DELETE", "3"},
};

static void
test_methods(void **state)
{
    struct ctx *c = *state;

    new_fetch(c, 5000, 0);
    for (size_t i = 0; i < sizeof(method_cases) / sizeof(method_cases[0]);
         i++) {
        const struct method_case *mc = &method_cases[i];
        struct http_request req;
        struct result r;
        json_object *o;
        const char *len;

        req_init(&req, mc->method, "http://127.0.0.1:%d/echo", c->srv.port);
        http_request_header(&req, "Content-Type: application/json");
        if (mc->body != NULL)
            http_request_set_body(&req, xstrdup(mc->body), strlen(mc->body));
        fetch_one(c, &req, &r);
        assert_null(r.resp.error);
        assert_int_equal(r.resp.status, 200);
        o = parse_json(r.resp.body);
        assert_string_equal(jstr(o, "method", NULL), mc->want_method);
        assert_string_equal(jstr(o, "body", NULL),
                            mc->body != NULL ? mc->body : "");
        len = jstr(o, "headers", "content-length");
        if (mc->want_length == NULL)
            assert_null(len);
        else
            assert_string_equal(len, mc->want_length);
        assert_null(jstr(o, "headers", "expect"));
        json_object_put(o);
        result_release(&r);
    }
}

static void
test_request_headers(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;
    json_object *o;
    size_t big = 2 * 1024 * 1024;
    char *body = xmalloc(big);

    new_fetch(c, 5000, 0);

    /* Default User-Agent, the request's own lines, no Expect even for a
     * body over curl 7.88's 1 MiB 100-continue threshold. */
    req_init(&req, HTTP_POST, "http://127.0.0.1:%d/echo?key=secret",
             c->srv.port);
    http_request_header(&req, "X-Test: one");
    http_request_header(&req, "Authorization: Bearer tok");
    memset(body, 'b', big);
    http_request_set_body(&req, body, big);
    fetch_one(c, &req, &r);
    assert_int_equal(r.resp.status, 200);
    o = parse_json(r.resp.body);
    assert_true(
        str_has_prefix(jstr(o, "headers", "user-agent"), "watchrelay/"));
    assert_string_equal(jstr(o, "headers", "x-test"), "one");
    assert_string_equal(jstr(o, "headers", "authorization"), "Bearer tok");
    assert_string_equal(jstr(o, "headers", "content-length"), "2097152");
    assert_null(jstr(o, "headers", "expect"));
    assert_string_equal(jstr(o, "uri", NULL), "/echo?key=secret");
    assert_int_equal(strlen(jstr(o, "body", NULL)), big);
    json_object_put(o);
    result_release(&r);

    /* The request's own User-Agent replaces ours: exactly one is sent. */
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/echo", c->srv.port);
    http_request_header(&req, "user-agent: custom/1");
    fetch_one(c, &req, &r);
    o = parse_json(r.resp.body);
    assert_string_equal(jstr(o, "headers", "user-agent"), "custom/1");
    assert_int_equal(json_object_get_int(json_object_object_get(o, "ua_count")),
                     1);
    json_object_put(o);
    /* Response headers: lookup is case-insensitive. */
    assert_string_equal(http_response_header(&r.resp, "content-type"),
                        "application/json");
    assert_string_equal(http_response_header(&r.resp, "CONTENT-TYPE"),
                        "application/json");
    assert_null(http_response_header(&r.resp, "X-Nope"));
    result_release(&r);
}

static void
test_custom_user_agent_option(void **state)
{
    struct ctx *c = *state;
    struct fetch_opts o = {.user_agent = "relay-test/9"};
    struct http_request req;
    struct result r;
    json_object *j;

    c->f = fetch_new(c->base, &o);
    assert_non_null(c->f);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/echo", c->srv.port);
    fetch_one(c, &req, &r);
    j = parse_json(r.resp.body);
    assert_string_equal(jstr(j, "headers", "user-agent"), "relay-test/9");
    json_object_put(j);
    result_release(&r);
}

static void
test_rate_limited_headers(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;

    new_fetch(c, 5000, 0);
    req_init(&req, HTTP_POST, "http://127.0.0.1:%d/limited", c->srv.port);
    http_request_set_body(&req, xstrdup("{}"), 2);
    fetch_one(c, &req, &r);
    assert_null(r.resp.error);
    assert_int_equal(r.resp.status, 429);
    assert_string_equal(r.resp.body, "{\"error\":\"rate limited\"}");
    assert_int_equal(r.resp.body_len, strlen(r.resp.body));
    assert_string_equal(http_response_header(&r.resp, "Retry-After"), "7");
    assert_string_equal(http_response_header(&r.resp, "retry-after"), "7");
    assert_string_equal(http_response_header(&r.resp, "x-ratelimit-limit"),
                        "1000");
    assert_string_equal(http_response_header(&r.resp, "X-Custom"),
                        "hello world");
    assert_true(r.resp.elapsed_s >= 0.0 && r.resp.elapsed_s < 10.0);
    result_release(&r);
}

static void
test_informational_and_trimming(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;

    new_fetch(c, 5000, 0);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/raw", c->srv.raw_port);
    fetch_one(c, &req, &r);
    assert_null(r.resp.error);
    assert_int_equal(r.resp.status, 200);
    assert_string_equal(r.resp.body, "ok");
    /* Only the final response's headers: the 103's are gone. */
    assert_null(http_response_header(&r.resp, "X-Early"));
    assert_null(http_response_header(&r.resp, "Link"));
    assert_int_equal(r.resp.n_headers, 6);
    assert_string_equal(r.resp.headers[0].name, "Content-Length");
    assert_string_equal(r.resp.headers[0].value, "2");
    assert_string_equal(http_response_header(&r.resp, "x-trim"), "spaced out");
    assert_string_equal(http_response_header(&r.resp, "X-LOWER"), "v");
    assert_string_equal(http_response_header(&r.resp, "x-empty"), "");
    assert_string_equal(http_response_header(&r.resp, "x-folded"),
                        "first second");
    assert_string_equal(http_response_header(&r.resp, "connection"), "close");
    result_release(&r);
}

static void
test_header_cap(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;

    new_fetch(c, 5000, 0);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/many", c->srv.raw_port);
    fetch_one(c, &req, &r);
    assert_int_equal(r.resp.status, 0);
    assert_non_null(r.resp.error);
    assert_non_null(strstr(r.resp.error, "response headers larger than"));
    assert_int_equal(r.resp.n_headers, 0);
    result_release(&r);
}

static void
test_no_content(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;

    new_fetch(c, 5000, 0);
    req_init(&req, HTTP_DELETE, "http://127.0.0.1:%d/nocontent", c->srv.port);
    fetch_one(c, &req, &r);
    assert_null(r.resp.error);
    assert_int_equal(r.resp.status, 204);
    assert_non_null(r.resp.body);
    assert_int_equal(r.resp.body_len, 0);
    assert_string_equal(r.resp.body, "");
    assert_string_equal(http_response_header(&r.resp, "x-done"), "1");
    result_release(&r);
}

static void
test_redirect_not_followed(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;

    new_fetch(c, 5000, 0);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/redirect", c->srv.port);
    fetch_one(c, &req, &r);
    assert_int_equal(r.resp.status, 302);
    assert_string_equal(http_response_header(&r.resp, "Location"), "/echo");
    assert_int_equal(c->srv.hits, 1); /* /echo was never asked */
    result_release(&r);
}

struct cap_case {
    int n;
    bool chunked;
    bool ok;
};

static const struct cap_case cap_cases[] = {
    {1000, false, true}, {1000, true, true},   {1001, false, false},
    {1001, true, false}, {5000, false, false}, {5000, true, false},
    {0, false, true},
};

static void
test_body_cap(void **state)
{
    struct ctx *c = *state;

    new_fetch(c, 5000, 1000);
    for (size_t i = 0; i < sizeof(cap_cases) / sizeof(cap_cases[0]); i++) {
        const struct cap_case *cc = &cap_cases[i];
        struct http_request req;
        struct result r;

        req_init(&req, HTTP_GET, "http://127.0.0.1:%d/sized?n=%d%s",
                 c->srv.port, cc->n, cc->chunked ? "&chunked=1" : "");
        fetch_one(c, &req, &r);
        if (cc->ok) {
            assert_null(r.resp.error);
            assert_int_equal(r.resp.status, 200);
            assert_int_equal(r.resp.body_len, (size_t)cc->n);
            assert_int_equal(strlen(r.resp.body), (size_t)cc->n);
        } else {
            assert_int_equal(r.resp.status, 0);
            assert_non_null(r.resp.error);
            assert_string_equal(r.resp.error,
                                "response larger than 1000 bytes");
            assert_string_equal(r.resp.body, "");
            assert_int_equal(r.resp.n_headers, 0);
        }
        result_release(&r);
    }
}

static void
test_timeout(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;

    new_fetch(c, 300, 0);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/slow", c->srv.port);
    fetch_one(c, &req, &r);
    assert_int_equal(r.resp.status, 0);
    assert_non_null(r.resp.error);
    assert_non_null(strstr(r.resp.error, "timed out"));
    assert_true(r.resp.elapsed_s >= 0.25);
    assert_true(r.resp.elapsed_s < 3.0);
    assert_int_equal(c->srv.n_slow, 1);
    result_release(&r);
}

static void
test_connection_refused(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;
    struct sockaddr_in sin;
    int fd, port;

    /* A port that was just free: bind, read it back, close. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    port = sock_port(fd);
    close(fd);

    new_fetch(c, 5000, 0);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/x", port);
    fetch_one(c, &req, &r);
    assert_int_equal(r.resp.status, 0);
    assert_non_null(r.resp.error);
    assert_true(strlen(r.resp.error) > 0);
    assert_int_equal(r.resp.n_headers, 0);
    result_release(&r);
}

static void
test_disallowed_protocols(void **state)
{
    static const char *const urls[] = {
        "file:///etc/passwd",
        "ftp://127.0.0.1:1/x",
        "gopher://127.0.0.1:1/x",
    };
    struct ctx *c = *state;

    new_fetch(c, 5000, 0);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct http_request req;
        struct result r;

        req_init(&req, HTTP_GET, "%s", urls[i]);
        fetch_one(c, &req, &r);
        assert_int_equal(r.resp.status, 0);
        assert_non_null(r.resp.error);
        assert_string_equal(r.resp.body, "");
        result_release(&r);
    }
}

static void
test_invalid_requests(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r = {.c = c};

    new_fetch(c, 5000, 0);

    /* Header injection. */
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/echo", c->srv.port);
    http_request_header(&req, "X-A: b\r\nX-Injected: c");
    assert_int_equal(fetch_submit(c->f, &req, on_done, &r), -1);
    http_request_release(&req);
    /* Not a header line. */
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/echo", c->srv.port);
    http_request_header(&req, "no colon here");
    assert_int_equal(fetch_submit(c->f, &req, on_done, &r), -1);
    http_request_release(&req);
    /* Bad method. */
    req_init(&req, HTTP_METHOD_MAX, "http://127.0.0.1:%d/echo", c->srv.port);
    assert_int_equal(fetch_submit(c->f, &req, on_done, &r), -1);
    http_request_release(&req);
    /* No URL, no callback, no fetch. */
    http_request_init(&req);
    assert_int_equal(fetch_submit(c->f, &req, on_done, &r), -1);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/echo", c->srv.port);
    assert_int_equal(fetch_submit(c->f, &req, NULL, &r), -1);
    assert_int_equal(fetch_submit(NULL, &req, on_done, &r), -1);
    http_request_release(&req);

    assert_int_equal(fetch_running(c->f), 0);
    assert_int_equal(fetch_running(NULL), 0);
    run_for(c, 100);
    assert_int_equal(r.calls, 0);
    assert_int_equal(c->srv.hits, 0);
    fetch_free(NULL);
}

#define N_CONCURRENT 50

static void
test_concurrent(void **state)
{
    struct ctx *c = *state;
    struct result *rs = xcalloc(N_CONCURRENT, sizeof(*rs));

    new_fetch(c, 10000, 0);
    for (int i = 0; i < N_CONCURRENT; i++) {
        struct http_request req;

        req_init(&req, i % 2 ? HTTP_POST : HTTP_GET,
                 "http://127.0.0.1:%d/echo?i=%d", c->srv.port, i);
        if (i % 2)
            http_request_set_body(&req, xasprintf("body-%d", i),
                                  strlen("body-") + (i < 10 ? 1 : 2));
        rs[i].c = c;
        rs[i].tag = i;
        assert_int_equal(fetch_submit(c->f, &req, on_done, &rs[i]), 0);
        http_request_release(&req);
    }
    assert_int_equal(fetch_running(c->f), N_CONCURRENT);
    run_until(c, N_CONCURRENT, 20000);
    assert_int_equal(fetch_running(c->f), 0);
    assert_int_equal(c->srv.hits, N_CONCURRENT);
    for (int i = 0; i < N_CONCURRENT; i++) {
        char want_uri[32], want_body[32];
        json_object *o;

        assert_int_equal(rs[i].calls, 1);
        assert_int_equal(rs[i].resp.status, 200);
        o = parse_json(rs[i].resp.body);
        snprintf(want_uri, sizeof(want_uri), "/echo?i=%d", i);
        snprintf(want_body, sizeof(want_body), "body-%d", i);
        assert_string_equal(jstr(o, "uri", NULL), want_uri);
        assert_string_equal(jstr(o, "body", NULL), i % 2 ? want_body : "");
        json_object_put(o);
        result_release(&rs[i]);
    }
    free(rs);
}

/* A completion that submits a follow-up from inside the callback. */
static void
on_done_follow(const struct http_response *resp, void *arg)
{
    struct result *r = arg;
    struct http_request req;

    on_done(resp, arg);
    req_init(&req, HTTP_GET, "%s", r->next_url);
    r->next->c = r->c;
    r->submit_rc = fetch_submit(r->c->f, &req, on_done, r->next);
    http_request_release(&req);
}

static void
test_followup_from_callback(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result first = {.c = c}, second = {0};
    char url[128];

    new_fetch(c, 5000, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nocontent", c->srv.port);
    first.next = &second;
    first.next_url = url;
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/limited", c->srv.port);
    assert_int_equal(fetch_submit(c->f, &req, on_done_follow, &first), 0);
    http_request_release(&req);
    run_until(c, 2, 10000);
    assert_int_equal(first.submit_rc, 0);
    assert_int_equal(first.resp.status, 429);
    assert_int_equal(second.calls, 1);
    assert_int_equal(second.resp.status, 204);
    assert_int_equal(fetch_running(c->f), 0);
    result_release(&first);
    result_release(&second);
}

/* A completion during fetch_free: new submits must be refused. */
static void
on_done_shutdown(const struct http_response *resp, void *arg)
{
    struct result *r = arg;
    struct http_request req;

    on_done(resp, arg);
    req_init(&req, HTTP_GET, "%s", r->next_url);
    r->submit_rc = fetch_submit(r->c->f, &req, on_done, r);
    http_request_release(&req);
}

static void
test_free_in_flight(void **state)
{
    struct ctx *c = *state;
    struct result rs[3];
    char url[128];

    new_fetch(c, 30000, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", c->srv.port);
    memset(rs, 0, sizeof(rs));
    for (size_t i = 0; i < 3; i++) {
        struct http_request req;

        rs[i].c = c;
        rs[i].next_url = url;
        req_init(&req, i == 2 ? HTTP_POST : HTTP_GET,
                 "http://127.0.0.1:%d/slow", c->srv.port);
        assert_int_equal(fetch_submit(c->f, &req, on_done_shutdown, &rs[i]), 0);
        http_request_release(&req);
    }
    run_for(c, 300); /* connected and waiting for the slow replies */
    assert_int_equal(c->srv.n_slow, 3);
    assert_int_equal(c->done, 0);
    assert_int_equal(fetch_running(c->f), 3);

    fetch_free(c->f);
    c->f = NULL;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(rs[i].calls, 1);
        assert_int_equal(rs[i].resp.status, 0);
        assert_string_equal(rs[i].resp.error, "shutting down");
        assert_string_equal(rs[i].resp.body, "");
        assert_int_equal(rs[i].submit_rc, -1);
        result_release(&rs[i]);
    }
    /* Nothing else runs afterwards. */
    run_for(c, 50);
    assert_int_equal(c->done, 3);
}

static void
test_free_idle_and_reuse(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;

    /* Two fetches at once, then one freed while the other keeps working:
     * the global curl state must survive. */
    struct fetch *other = fetch_new(c->base, NULL);

    assert_non_null(other);
    new_fetch(c, 5000, 0);
    fetch_free(other);
    req_init(&req, HTTP_GET, "http://127.0.0.1:%d/echo", c->srv.port);
    fetch_one(c, &req, &r);
    assert_int_equal(r.resp.status, 200);
    result_release(&r);
    assert_null(fetch_new(NULL, NULL));
}

/* Debug lines name method and host/path only: no userinfo, query, header
 * or body. */
static void
test_debug_log_redacts(void **state)
{
    struct ctx *c = *state;
    struct http_request req;
    struct result r;
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *logged;
    size_t n;

    assert_non_null(tmp);
    assert_true(saved >= 0);
    new_fetch(c, 5000, 0);
    fflush(stderr);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    log_set_level(LOG_LEVEL_DEBUG);
    req_init(&req, HTTP_POST,
             "http://user:pw-secret@127.0.0.1:%d/echo?api_key=q-secret#frag",
             c->srv.port);
    http_request_header(&req, "Authorization: Bearer tok-secret");
    http_request_set_body(&req, xstrdup("body-secret"), 11);
    fetch_one(c, &req, &r);
    log_set_level(LOG_LEVEL_INFO);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);

    assert_int_equal(r.resp.status, 200);
    result_release(&r);
    rewind(tmp);
    logged = xcalloc(1, 65536);
    n = fread(logged, 1, 65535, tmp);
    fclose(tmp);
    assert_true(n > 0);
    assert_non_null(strstr(logged, "method=POST"));
    assert_non_null(strstr(logged, "/echo"));
    assert_non_null(strstr(logged, "status=200"));
    assert_null(strstr(logged, "secret"));
    assert_null(strstr(logged, "user"));
    assert_null(strstr(logged, "frag"));
    free(logged);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_user_agent_option, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_informational_and_trimming, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_header_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_disallowed_protocols, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_followup_from_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_idle_and_reuse, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_debug_log_redacts, setup,
                                        teardown),
    };

    /* Replies to clients that already left must not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    /* Loopback only: never through a proxy from the environment. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
