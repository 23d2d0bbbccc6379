/*
 * fetch: libcurl's multi_socket interface driven by the daemon's libevent
 * loop (STYLE.md 3(a)).
 *
 * curl tells us which sockets to watch (sock_cb) and when to wake it up
 * (timer_cb); both only (re)arm libevent events. The events call
 * curl_multi_socket_action and then drain finished transfers, which runs
 * outside curl's callbacks, so an owner's completion may submit follow-ups.
 * Every transfer is one heap struct (struct fetch_xfer) finished by exactly
 * one function, xfer_finish, whether it completed, failed or was cut short
 * by fetch_free.
 *
 * Global init: STYLE.md 3(a) 1 wants curl_global_init in main. To keep
 * fetch self-contained (and its unit tests honest) the first fetch_new calls
 * curl_global_init(CURL_GLOBAL_DEFAULT) and the last fetch_free calls
 * curl_global_cleanup; a static counter of live fetches (single-threaded
 * daemon) makes sure cleanup never runs while another fetch exists. libcurl
 * counts init/cleanup pairs itself, so a main that also calls them is fine.
 */
#include "fetch.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Calls go through the table below: keep curl.h's type-checking macros out. */
#define CURL_DISABLE_TYPECHECK 1

#include <dlfcn.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"
#include "util.h"

/*
 * libcurl is loaded when the first fetch is made, not at exec: a daemon
 * that only ingests webhooks (no HTTP target configured, or `--roles
 * ingest`) never maps libcurl and the TLS stack it pulls in (several MB of
 * resident pages). Every curl function this file uses is resolved here.
 */
static struct {
    void *lib;
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
    CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
    const char *(*multi_strerror)(CURLMcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} wr_curl;

/* curl.h wraps these three in argument-count macros: replace them too. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init         wr_curl.global_init
#define curl_global_cleanup      wr_curl.global_cleanup
#define curl_easy_init           wr_curl.easy_init
#define curl_easy_setopt         wr_curl.easy_setopt
#define curl_easy_getinfo        wr_curl.easy_getinfo
#define curl_easy_cleanup        wr_curl.easy_cleanup
#define curl_easy_strerror       wr_curl.easy_strerror
#define curl_multi_init          wr_curl.multi_init
#define curl_multi_setopt        wr_curl.multi_setopt
#define curl_multi_add_handle    wr_curl.multi_add_handle
#define curl_multi_remove_handle wr_curl.multi_remove_handle
#define curl_multi_assign        wr_curl.multi_assign
#define curl_multi_socket_action wr_curl.multi_socket_action
#define curl_multi_info_read     wr_curl.multi_info_read
#define curl_multi_cleanup       wr_curl.multi_cleanup
#define curl_multi_strerror      wr_curl.multi_strerror
#define curl_slist_append        wr_curl.slist_append
#define curl_slist_free_all      wr_curl.slist_free_all

/* Resolve one symbol into a function pointer (the POSIX dlsym idiom). */
#define CURL_SYM(field, name)                        \
    do {                                             \
        void *sym_ = dlsym(wr_curl.lib, name);       \
        if (sym_ == NULL)                            \
            goto fail;                               \
        memcpy(&wr_curl.field, &sym_, sizeof(sym_)); \
    } while (0)

/* Load libcurl once; 0 or -1 (logged). */
static int
curl_load(void)
{
    if (wr_curl.lib != NULL)
        return 0;
    wr_curl.lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (wr_curl.lib == NULL) {
        log_error("msg=\"cannot load libcurl\" reason=\"%s\"", dlerror());
        return -1;
    }
    CURL_SYM(global_init, "curl_global_init");
    CURL_SYM(global_cleanup, "curl_global_cleanup");
    CURL_SYM(easy_init, "curl_easy_init");
    CURL_SYM(easy_setopt, "curl_easy_setopt");
    CURL_SYM(easy_getinfo, "curl_easy_getinfo");
    CURL_SYM(easy_cleanup, "curl_easy_cleanup");
    CURL_SYM(easy_strerror, "curl_easy_strerror");
    CURL_SYM(multi_init, "curl_multi_init");
    CURL_SYM(multi_setopt, "curl_multi_setopt");
    CURL_SYM(multi_add_handle, "curl_multi_add_handle");
    CURL_SYM(multi_remove_handle, "curl_multi_remove_handle");
    CURL_SYM(multi_assign, "curl_multi_assign");
    CURL_SYM(multi_socket_action, "curl_multi_socket_action");
    CURL_SYM(multi_info_read, "curl_multi_info_read");
    CURL_SYM(multi_cleanup, "curl_multi_cleanup");
    CURL_SYM(multi_strerror, "curl_multi_strerror");
    CURL_SYM(slist_append, "curl_slist_append");
    CURL_SYM(slist_free_all, "curl_slist_free_all");
    return 0;
fail:
    log_error("msg=\"libcurl lacks a function watchrelay needs\" "
              "reason=\"%s\"",
              dlerror());
    dlclose(wr_curl.lib);
    memset(&wr_curl, 0, sizeof(wr_curl));
    return -1;
}

#ifndef WR_VERSION
#define WR_VERSION "0.1.0"
#endif

#define FETCH_DEFAULT_CONNECT_MS 5000L
#define FETCH_DEFAULT_TIMEOUT_MS 30000L
#define FETCH_DEFAULT_MAX_RESP   ((size_t)8 * 1024 * 1024)
#define FETCH_DEFAULT_MAX_HOST   4L
#define FETCH_DEFAULT_UA         "watchrelay/" WR_VERSION
/* Response headers are capped too: count and bytes kept. */
#define FETCH_MAX_HEADERS      200
#define FETCH_MAX_HEADER_BYTES ((size_t)64 * 1024)
#define FETCH_TARGET_LEN       200

enum fetch_fail {
    FETCH_FAIL_NONE,
    FETCH_FAIL_BODY_CAP,
    FETCH_FAIL_HEADER_CAP,
};

/* One socket curl asked us to watch. */
struct fetch_sock {
    struct fetch *f;
    curl_socket_t fd;
    struct event *ev;
    struct fetch_sock *prev, *next;
};

/* One transfer, from fetch_submit to its completion. */
struct fetch_xfer {
    struct fetch *f;
    CURL *easy;
    struct curl_slist *req_headers;
    fetch_done_cb cb;
    void *arg;
    struct buf body;
    struct http_header *headers;
    size_t n_headers;
    size_t header_bytes;
    enum fetch_fail fail;
    int64_t start_ms;
    const char *method;
    char target[FETCH_TARGET_LEN]; /* escaped host/path, for logs only */
    char errbuf[CURL_ERROR_SIZE];
    struct fetch_xfer *prev, *next;
};

struct fetch {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    size_t running; /* submitted, not yet finished */
    bool stopping;
    int in_callback; /* an owner's completion is running */
    struct fetch_opts opts;
    char *user_agent;
    struct fetch_xfer *xfers;
    struct fetch_sock *socks;
};

/* Live fetches; curl_global_init when it leaves 0, cleanup when it returns. */
static size_t fetch_instances;

/* --- helpers ------------------------------------------------------------ */

/*
 * "host/path" of url for a debug line: no scheme, no userinfo, no query or
 * fragment (they may carry keys), escaped and truncated.
 */
static void
url_log_target(const char *url, char *out, size_t outlen)
{
    const char *auth, *auth_end, *path_end;
    char tmp[FETCH_TARGET_LEN * 2];
    size_t n = 0;

    auth = strstr(url, "://");
    auth = auth != NULL ? auth + 3 : url;
    auth_end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            auth = p + 1;
    path_end = auth_end + strcspn(auth_end, "?#");
    for (const char *p = auth; p < path_end && n < sizeof(tmp); p++)
        tmp[n++] = *p;
    str_escape(tmp, n, out, outlen);
}

static void
xfer_clear_headers(struct fetch_xfer *x)
{
    for (size_t i = 0; i < x->n_headers; i++) {
        free(x->headers[i].name);
        free(x->headers[i].value);
    }
    free(x->headers);
    x->headers = NULL;
    x->n_headers = 0;
    x->header_bytes = 0;
}

static void
slist_wipe_free(struct curl_slist *l)
{
    /* The request's header lines may carry an Authorization token. */
    for (struct curl_slist *p = l; p != NULL; p = p->next)
        if (p->data != NULL)
            explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static void
xfer_free(struct fetch_xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    slist_wipe_free(x->req_headers);
    if (x->body.data != NULL)
        explicit_bzero(x->body.data, x->body.len);
    buf_release(&x->body);
    xfer_clear_headers(x);
    free(x);
}

static void
xfer_link(struct fetch *f, struct fetch_xfer *x)
{
    x->prev = NULL;
    x->next = f->xfers;
    if (f->xfers != NULL)
        f->xfers->prev = x;
    f->xfers = x;
    f->running++;
}

static void
xfer_unlink(struct fetch *f, struct fetch_xfer *x)
{
    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        f->xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    WR_ASSERT(f->running > 0);
    f->running--;
}

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* --- curl data callbacks: they only append ------------------------------ */

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct fetch_xfer *x = arg;
    size_t n = size * nmemb;

    if (n > x->f->opts.max_response ||
        x->body.len > x->f->opts.max_response - n) {
        x->fail = FETCH_FAIL_BODY_CAP;
        return 0;
    }
    buf_append(&x->body, ptr, n);
    return n;
}

static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct fetch_xfer *x = arg;
    size_t n = size * nmemb;
    const char *line = ptr, *end = ptr + n, *colon, *ns, *ne, *vs, *ve;
    struct http_header *h;

    /* A status line starts a new response (1xx, CONNECT): forget the last. */
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        xfer_clear_headers(x);
        return n;
    }
    while (end > line && is_ows(end[-1]))
        end--;
    if (end == line)
        return n; /* the blank line closing a header block */
    if (x->header_bytes + (size_t)(end - line) > FETCH_MAX_HEADER_BYTES) {
        x->fail = FETCH_FAIL_HEADER_CAP;
        return 0;
    }
    if (is_ows(line[0])) {
        /* obs-fold: a continuation of the previous header's value. */
        if (x->n_headers > 0) {
            struct http_header *last = &x->headers[x->n_headers - 1];
            char *v;

            while (line < end && is_ows(*line))
                line++;
            v = xasprintf("%s%s%.*s", last->value, last->value[0] ? " " : "",
                          (int)(end - line), line);
            free(last->value);
            last->value = v;
            x->header_bytes += (size_t)(end - line) + 1;
        }
        return n;
    }
    colon = memchr(line, ':', (size_t)(end - line));
    if (colon == NULL)
        return n;
    ns = line;
    ne = colon;
    while (ne > ns && is_ows(ne[-1]))
        ne--;
    if (ne == ns)
        return n;
    vs = colon + 1;
    ve = end;
    while (vs < ve && is_ows(*vs))
        vs++;
    if (x->n_headers >= FETCH_MAX_HEADERS) {
        x->fail = FETCH_FAIL_HEADER_CAP;
        return 0;
    }
    x->headers = xrealloc(x->headers, (x->n_headers + 1) * sizeof(*x->headers));
    h = &x->headers[x->n_headers++];
    h->name = xstrndup(ns, (size_t)(ne - ns));
    h->value = xstrndup(vs, (size_t)(ve - vs));
    x->header_bytes += (size_t)(end - line);
    return n;
}

/* --- completion ----------------------------------------------------------- */

/*
 * Finish x: read what we need from the easy handle, take it off the multi,
 * clean it up, hand the owner a response, free x. error_override (e.g.
 * "shutting down") forces a failure.
 */
static void
xfer_finish(struct fetch *f, struct fetch_xfer *x, CURLcode result,
            const char *error_override)
{
    struct http_response resp;
    long code = 0;
    char *error = NULL;
    CURLMcode mc;

    http_response_init(&resp);
    if (error_override != NULL) {
        error = xstrdup(error_override);
    } else if (x->fail == FETCH_FAIL_BODY_CAP ||
               result == CURLE_FILESIZE_EXCEEDED) {
        error =
            xasprintf("response larger than %zu bytes", f->opts.max_response);
    } else if (x->fail == FETCH_FAIL_HEADER_CAP) {
        error = xasprintf("response headers larger than %zu bytes or %d "
                          "lines",
                          FETCH_MAX_HEADER_BYTES, FETCH_MAX_HEADERS);
    } else if (result != CURLE_OK) {
        error = xstrdup(x->errbuf[0] != '\0' ? x->errbuf
                                             : curl_easy_strerror(result));
    } else if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) !=
                   CURLE_OK ||
               code <= 0) {
        error = xstrdup("no HTTP status in the response");
    }

    mc = curl_multi_remove_handle(f->multi, x->easy);
    if (mc != CURLM_OK)
        log_error("curl_multi_remove_handle: %s", curl_multi_strerror(mc));
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    xfer_unlink(f, x);

    resp.elapsed_s = (double)(wr_mono_ms() - x->start_ms) / 1000.0;
    if (error != NULL) {
        resp.status = 0;
        resp.error = error;
        resp.body = xstrdup("");
        resp.body_len = 0;
    } else {
        resp.status = code;
        resp.body_len = x->body.len;
        resp.body = x->body.data != NULL ? x->body.data : xstrdup("");
        buf_init(&x->body);
        resp.headers = x->headers;
        resp.n_headers = x->n_headers;
        x->headers = NULL;
        x->n_headers = 0;
    }
    log_debug("method=%s url=%s status=%ld elapsed=%.3f%s%s", x->method,
              x->target, resp.status, resp.elapsed_s,
              resp.error != NULL ? " error=" : "",
              resp.error != NULL ? resp.error : "");

    f->in_callback++;
    x->cb(&resp, x->arg);
    f->in_callback--;

    /* Token responses carry secrets. */
    if (resp.body != NULL)
        explicit_bzero(resp.body, resp.body_len);
    http_response_release(&resp);
    xfer_free(x);
}

/* Finish every transfer curl reports done. Never called from curl. */
static void
drain(struct fetch *f)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
        CURL *easy;
        CURLcode result;
        char *priv = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        /* msg is only valid until the next multi call: copy first. */
        easy = msg->easy_handle;
        result = msg->data.result;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
            priv == NULL) {
            /* Not ours: cannot happen, but don't leave it on the multi. */
            log_error("finished transfer without private data");
            curl_multi_remove_handle(f->multi, easy);
            curl_easy_cleanup(easy);
            continue;
        }
        xfer_finish(f, (struct fetch_xfer *)(void *)priv, result, NULL);
    }
}

/* --- libevent side ------------------------------------------------------- */

static void
event_sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fetch *f = arg;
    int mask = 0, running = 0;
    CURLMcode mc;

    if (what & EV_READ)
        mask |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        mask |= CURL_CSELECT_OUT;
    /* May free the fetch_sock behind this event: don't touch it after. */
    mc = curl_multi_socket_action(f->multi, fd, mask, &running);
    if (mc != CURLM_OK)
        log_error("curl_multi_socket_action: %s", curl_multi_strerror(mc));
    drain(f);
}

static void
event_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fetch *f = arg;
    int running = 0;
    CURLMcode mc;

    (void)fd;
    (void)what;
    mc = curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK)
        log_error("curl_multi_socket_action: %s", curl_multi_strerror(mc));
    drain(f);
}

/* --- curl multi callbacks: only (re)arm events, never call curl back ---- */

static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    struct fetch *f = arg;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(f->timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    if (evtimer_add(f->timer, &tv) != 0)
        log_error("evtimer_add failed; transfers wait for the next event");
    return 0; /* -1 would fail every transfer */
}

static void
sock_free(struct fetch *f, struct fetch_sock *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        f->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    event_free(s->ev);
    free(s);
}

static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
    struct fetch *f = arg;
    struct fetch_sock *s = socketp;
    short kind = EV_PERSIST;

    (void)easy; /* informational only */
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            CURLMcode mc;

            sock_free(f, s);
            mc = curl_multi_assign(f->multi, fd, NULL);
            if (mc != CURLM_OK)
                log_debug("curl_multi_assign: %s", curl_multi_strerror(mc));
        }
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        kind |= EV_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        kind |= EV_WRITE;
    if (s == NULL) {
        CURLMcode mc;

        s = xcalloc(1, sizeof(*s));
        s->f = f;
        s->fd = fd;
        s->ev = event_new(f->base, fd, kind, event_sock_cb, f);
        if (s->ev == NULL) {
            log_error("event_new failed for a curl socket");
            free(s);
            return 0; /* the transfer's timeout will end it */
        }
        s->next = f->socks;
        if (f->socks != NULL)
            f->socks->prev = s;
        f->socks = s;
        mc = curl_multi_assign(f->multi, fd, s);
        if (mc != CURLM_OK) {
            log_error("curl_multi_assign: %s", curl_multi_strerror(mc));
            sock_free(f, s);
            return 0;
        }
    }
    event_del(s->ev);
    if (event_assign(s->ev, f->base, fd, kind, event_sock_cb, f) != 0 ||
        event_add(s->ev, NULL) != 0)
        log_error("cannot watch a curl socket; the transfer's timeout will "
                  "end it");
    return 0;
}

/* --- public API ----------------------------------------------------------- */

struct fetch *
fetch_new(struct event_base *base, const struct fetch_opts *opts)
{
    struct fetch *f = NULL;
    bool counted = false;
    CURLMcode mc;

    if (base == NULL)
        return NULL;
    if (curl_load() != 0)
        return NULL;
    if (fetch_instances == 0) {
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

        if (rc != CURLE_OK) {
            log_error("curl_global_init: %s", curl_easy_strerror(rc));
            return NULL;
        }
    }
    fetch_instances++;
    counted = true;

    f = xcalloc(1, sizeof(*f));
    f->base = base;
    /* A missing or non-positive field means its default. */
    f->opts.connect_timeout_ms = FETCH_DEFAULT_CONNECT_MS;
    f->opts.timeout_ms = FETCH_DEFAULT_TIMEOUT_MS;
    f->opts.max_response = FETCH_DEFAULT_MAX_RESP;
    f->opts.max_host_connections = FETCH_DEFAULT_MAX_HOST;
    if (opts != NULL) {
        if (opts->connect_timeout_ms > 0)
            f->opts.connect_timeout_ms = opts->connect_timeout_ms;
        if (opts->timeout_ms > 0)
            f->opts.timeout_ms = opts->timeout_ms;
        if (opts->max_response > 0)
            f->opts.max_response = opts->max_response;
        if (opts->max_host_connections > 0)
            f->opts.max_host_connections = opts->max_host_connections;
    }
    f->user_agent = xstrdup(opts != NULL && opts->user_agent != NULL &&
                                    opts->user_agent[0] != '\0'
                                ? opts->user_agent
                                : FETCH_DEFAULT_UA);
    f->opts.user_agent = f->user_agent;

    f->timer = evtimer_new(base, event_timer_cb, f);
    if (f->timer == NULL) {
        log_error("evtimer_new failed");
        goto fail;
    }
    f->multi = curl_multi_init();
    if (f->multi == NULL) {
        log_error("curl_multi_init failed");
        goto fail;
    }
    if ((mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, sock_cb)) !=
            CURLM_OK ||
        (mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f)) !=
            CURLM_OK ||
        (mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb)) !=
            CURLM_OK ||
        (mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f)) != CURLM_OK ||
        (mc = curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                                f->opts.max_host_connections)) != CURLM_OK) {
        log_error("curl_multi_setopt: %s", curl_multi_strerror(mc));
        goto fail;
    }
    return f;

fail:
    if (f != NULL) {
        if (f->multi != NULL)
            curl_multi_cleanup(f->multi);
        if (f->timer != NULL)
            event_free(f->timer);
        free(f->user_agent);
        free(f);
    }
    if (counted && --fetch_instances == 0)
        curl_global_cleanup();
    return NULL;
}

/* A header line we may hand to curl: "Name: value", no CR/LF. */
static bool
header_line_ok(const char *line)
{
    const char *colon = strchr(line, ':');

    return colon != NULL && colon != line && strpbrk(line, "\r\n") == NULL;
}

static char
ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
has_header(const struct http_request *req, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < req->n_headers; i++) {
        const char *line = req->headers[i];
        size_t j = 0;

        while (j < n && line[j] != '\0' &&
               ascii_lower(line[j]) == ascii_lower(name[j]))
            j++;
        if (j == n && line[n] == ':')
            return true;
    }
    return false;
}

static struct curl_slist *
slist_add(struct curl_slist *l, const char *line, bool *ok)
{
    struct curl_slist *n = curl_slist_append(l, line);

    if (n == NULL) {
        *ok = false;
        return l;
    }
    return n;
}

#define SETOPT(opt, val)                                      \
    do {                                                      \
        CURLcode src_ = curl_easy_setopt(easy, (opt), (val)); \
        if (src_ != CURLE_OK) {                               \
            log_error("curl_easy_setopt(%s): %s", #opt,       \
                      curl_easy_strerror(src_));              \
            goto fail;                                        \
        }                                                     \
    } while (0)

int
fetch_submit(struct fetch *f, const struct http_request *req, fetch_done_cb cb,
             void *arg)
{
    struct fetch_xfer *x = NULL;
    CURL *easy = NULL;
    struct curl_slist *hl = NULL;
    char *ua_line = NULL;
    bool ok = true, with_body = false;
    const char *body;
    CURLMcode mc;

    if (f == NULL || req == NULL || cb == NULL || f->stopping)
        return -1;
    if (req->url == NULL || req->url[0] == '\0' ||
        (unsigned)req->method >= (unsigned)HTTP_METHOD_MAX ||
        (req->body == NULL && req->body_len != 0) ||
        req->body_len > (size_t)INT64_MAX) {
        log_error("invalid request");
        return -1;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        if (req->headers[i] == NULL || !header_line_ok(req->headers[i])) {
            log_error("invalid request header line %zu", i);
            return -1;
        }
    }

    x = xcalloc(1, sizeof(*x));
    x->f = f;
    x->cb = cb;
    x->arg = arg;
    x->method = http_method_name(req->method);
    buf_init(&x->body);
    url_log_target(req->url, x->target, sizeof(x->target));

    for (size_t i = 0; i < req->n_headers; i++)
        hl = slist_add(hl, req->headers[i], &ok);
    if (!has_header(req, "User-Agent")) {
        ua_line = xasprintf("User-Agent: %s", f->user_agent);
        hl = slist_add(hl, ua_line, &ok);
        free(ua_line);
    }
    /* No 100-continue round trip (and no 1xx headers to sort out). */
    if (!has_header(req, "Expect"))
        hl = slist_add(hl, "Expect:", &ok);
    x->req_headers = hl;
    if (!ok) {
        log_error("curl_slist_append failed");
        goto fail;
    }

    easy = curl_easy_init();
    if (easy == NULL) {
        log_error("curl_easy_init failed");
        goto fail;
    }
    x->easy = easy;
    SETOPT(CURLOPT_PRIVATE, (void *)x);
    SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT_MS, f->opts.timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, f->opts.connect_timeout_ms);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->opts.max_response);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(CURLOPT_WRITEDATA, (void *)x);
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, (void *)x);
    SETOPT(CURLOPT_HTTPHEADER, hl);

    body = req->body != NULL ? req->body : "";
    switch (req->method) {
    case HTTP_GET:
        SETOPT(CURLOPT_HTTPGET, 1L);
        break;
    case HTTP_POST:
        with_body = true;
        break;
    case HTTP_PUT:
        /* Always with a length, even 0: servers answer 411 otherwise. */
        SETOPT(CURLOPT_CUSTOMREQUEST, "PUT");
        with_body = true;
        break;
    case HTTP_DELETE:
        SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
        with_body = req->body != NULL;
        break;
    case HTTP_METHOD_MAX:
    default:
        goto fail;
    }
    if (with_body) {
        SETOPT(CURLOPT_POST, 1L);
        /* The size first, so COPYPOSTFIELDS copies exactly body_len bytes. */
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(CURLOPT_COPYPOSTFIELDS, body);
    }

    x->start_ms = wr_mono_ms();
    mc = curl_multi_add_handle(f->multi, easy);
    if (mc != CURLM_OK) {
        log_error("curl_multi_add_handle: %s", curl_multi_strerror(mc));
        goto fail;
    }
    xfer_link(f, x);
    log_debug("method=%s url=%s", x->method, x->target);
    return 0;

fail:
    xfer_free(x); /* cleans up easy and the header list */
    return -1;
}

#undef SETOPT

size_t
fetch_running(const struct fetch *f)
{
    return f != NULL ? f->running : 0;
}

void
fetch_free(struct fetch *f)
{
    CURLMcode mc;

    if (f == NULL || f->stopping)
        return;
    /* Freeing from a completion would pull the multi out from under the
     * drain loop that called it. */
    WR_ASSERT(f->in_callback == 0);
    f->stopping = true;
    while (f->xfers != NULL)
        xfer_finish(f, f->xfers, CURLE_OK, "shutting down");
    /* May call sock_cb with CURL_POLL_REMOVE: the base must still exist. */
    mc = curl_multi_cleanup(f->multi);
    if (mc != CURLM_OK)
        log_error("curl_multi_cleanup: %s", curl_multi_strerror(mc));
    while (f->socks != NULL)
        sock_free(f, f->socks);
    event_free(f->timer);
    free(f->user_agent);
    free(f);
    WR_ASSERT(fetch_instances > 0);
    if (--fetch_instances == 0)
        curl_global_cleanup();
}
