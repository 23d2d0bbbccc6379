#include "queue.h"

#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "util.h"

#define QUEUE_SEEN_TTL       "3600"
#define QUEUE_BACKOFF_MIN_MS 100
#define QUEUE_BACKOFF_MAX_MS 5000
#define QUEUE_WATCHDOG_MS    250

/*
 * Dedupe and append in one atomic step. KEYS[1] is the events stream,
 * KEYS[2] the prefix of the seen markers; ARGV[1] the marker TTL, then
 * (id, json) pairs. Returns one integer per event: 1 queued, 0 duplicate.
 */
static const char add_script[] =
    "local out = {}\n"
    "for i = 2, #ARGV, 2 do\n"
    "  if redis.call('SET', KEYS[2] .. ARGV[i], '1', 'NX', 'EX', ARGV[1]) "
    "then\n"
    "    redis.call('XADD', KEYS[1], '*', 'event', ARGV[i + 1])\n"
    "    out[#out + 1] = 1\n"
    "  else\n"
    "    out[#out + 1] = 0\n"
    "  end\n"
    "end\n"
    "return out\n";

#define QUEUE_MAX_SCRIPTS 32

/* A Lua script, loaded with SCRIPT LOAD on every connect. */
struct queue_script {
    struct queue *q;
    const char *body; /* borrowed: a string literal */
    char sha[41];     /* "" until loaded on this connection */
};

struct queue {
    struct event_base *base;
    redisAsyncContext *ac;
    enum queue_state state;
    char host[256];
    int port;
    int db;
    bool is_unix;
    char *prefix;
    int timeout_ms;
    int backoff_ms;
    struct event *reconnect_ev;
    struct event *watchdog_ev;
    queue_state_cb state_cb;
    void *state_arg;
    int pending;         /* commands sent, not yet answered */
    int64_t progress_ms; /* last reply, or when pending became nonzero */
    int64_t connect_start_ms;
    bool stopping;
    bool policy_ok;
    struct queue_script scripts[QUEUE_MAX_SCRIPTS]; /* [0] = add_script */
    int n_scripts;
    char errstr[256];
};

static const char *const state_names[QUEUE_STATE_MAX] = {
    [QUEUE_DOWN] = "down",
    [QUEUE_CONNECTING] = "connecting",
    [QUEUE_UP] = "up",
};

const char *
queue_state_name(enum queue_state s)
{
    return s < QUEUE_STATE_MAX ? state_names[s] : "unknown";
}

static void
queue_set_state(struct queue *q, enum queue_state s)
{
    if (q->state == s)
        return;
    log_debug("msg=\"redis state\" from=%s to=%s", queue_state_name(q->state),
              queue_state_name(s));
    q->state = s;
    if (q->state_cb != NULL && !q->stopping)
        q->state_cb(s, q->state_arg);
}

int
queue_parse_url(const char *url, char *host, size_t hostlen, int *port, int *db,
                bool *is_unix, char *err, size_t errlen)
{
    const char *p, *colon, *slash;
    int64_t v;

    *db = 0;
    *port = 0;
    *is_unix = false;
    if (str_has_prefix(url, "unix:")) {
        p = url + 5;
        if (str_has_prefix(p, "//"))
            p += 2;
        if (*p != '/' || strlen(p) >= hostlen || strlen(p) > 107) {
            snprintf(err, errlen,
                     "redis: \"unix:\" needs an absolute socket path of at "
                     "most 107 bytes");
            return -1;
        }
        memcpy(host, p, strlen(p) + 1);
        *is_unix = true;
        return 0;
    }
    if (!str_has_prefix(url, "redis://")) {
        snprintf(err, errlen,
                 "redis: expected \"embedded\", \"redis://IP:PORT[/DB]\" or "
                 "\"unix:/path\"");
        return -1;
    }
    p = url + 8;
    if (strchr(p, '@') != NULL) {
        snprintf(err, errlen, "redis: passwords in the URL are not supported");
        return -1;
    }
    colon = strrchr(p, ':');
    slash = strchr(p, '/');
    if (colon == NULL || (slash != NULL && colon > slash)) {
        snprintf(err, errlen, "redis: the URL needs a port (redis://IP:PORT)");
        return -1;
    }
    if ((size_t)(colon - p) == 0 || (size_t)(colon - p) >= hostlen) {
        snprintf(err, errlen, "redis: the URL needs a host");
        return -1;
    }
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    if (parse_i64n(colon + 1,
                   slash ? (size_t)(slash - colon - 1) : strlen(colon + 1), 1,
                   65535, &v) != 0) {
        snprintf(err, errlen, "redis: bad port in the URL");
        return -1;
    }
    *port = (int)v;
    if (slash != NULL && slash[1] != '\0') {
        if (parse_i64(slash + 1, 0, 1000, &v) != 0) {
            snprintf(err, errlen, "redis: bad database number in the URL");
            return -1;
        }
        *db = (int)v;
    }
    return 0;
}

static void queue_connect(struct queue *q);

static void
schedule_reconnect(struct queue *q)
{
    struct timeval tv;
    int ms;

    if (q->stopping)
        return;
    ms = q->backoff_ms;
    ms = ms * (80 + (int)(random() % 41)) / 100; /* 0.8 .. 1.2 */
    q->backoff_ms = q->backoff_ms * 2 > QUEUE_BACKOFF_MAX_MS
                        ? QUEUE_BACKOFF_MAX_MS
                        : q->backoff_ms * 2;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(q->reconnect_ev, &tv);
}

/* Drop the connection (if any) and fail whatever is in flight. */
static void
queue_drop(struct queue *q, const char *why)
{
    redisAsyncContext *ac = q->ac;

    if (why != NULL)
        snprintf(q->errstr, sizeof(q->errstr), "%s", why);
    q->ac = NULL;
    q->policy_ok = false;
    queue_set_state(q, QUEUE_DOWN);
    if (ac != NULL) {
        ac->data = NULL;
        redisAsyncFree(ac); /* pending callbacks run with NULL replies */
    }
    q->pending = 0;
    schedule_reconnect(q);
}

static void
on_disconnect(const redisAsyncContext *c, int status)
{
    struct queue *q = c->data;

    if (q == NULL)
        return; /* we freed it ourselves */
    snprintf(q->errstr, sizeof(q->errstr), "connection lost: %s",
             status == REDIS_OK ? "closed" : c->errstr);
    log_warn("msg=\"redis connection lost\" reason=\"%s\"", q->errstr);
    q->ac = NULL;
    q->pending = 0;
    q->policy_ok = false;
    queue_set_state(q, QUEUE_DOWN);
    schedule_reconnect(q);
}

static bool
scripts_loaded(const struct queue *q)
{
    for (int i = 0; i < q->n_scripts; i++)
        if (q->scripts[i].sha[0] == '\0')
            return false;
    return true;
}

static void
on_policy(redisAsyncContext *c, void *r, void *privdata)
{
    struct queue *q = privdata;
    redisReply *reply = r;

    (void)c;
    if (reply == NULL)
        return;
    q->pending--;
    q->progress_ms = wr_mono_ms();
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[1]->str, "noeviction") != 0) {
        snprintf(q->errstr, sizeof(q->errstr),
                 "redis maxmemory-policy is %s; set it to noeviction",
                 reply->element[1]->str);
        log_error("msg=\"refusing an evicting redis\" reason=\"%s\"",
                  q->errstr);
        return; /* stays CONNECTING: nothing is written to it */
    }
    if (!scripts_loaded(q))
        return; /* SCRIPT LOAD failed: stays CONNECTING, errstr says why */
    /* An error reply (CONFIG disabled on a managed Redis) is accepted. */
    q->policy_ok = true;
    q->backoff_ms = QUEUE_BACKOFF_MIN_MS;
    q->errstr[0] = '\0';
    log_info("msg=\"redis connected\" %s=%s", q->is_unix ? "socket" : "host",
             q->host);
    queue_set_state(q, QUEUE_UP);
}

static void
on_script_load(redisAsyncContext *c, void *r, void *privdata)
{
    struct queue_script *sc = privdata;
    struct queue *q = sc->q;
    redisReply *reply = r;

    (void)c;
    if (reply == NULL)
        return;
    q->pending--;
    q->progress_ms = wr_mono_ms();
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        snprintf(q->errstr, sizeof(q->errstr), "SCRIPT LOAD failed: %.200s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        log_error("msg=\"redis script load failed\" reason=\"%s\"", q->errstr);
        sc->sha[0] = '\0';
        return;
    }
    memcpy(sc->sha, reply->str, 40);
    sc->sha[40] = '\0';
}

static void
on_select(redisAsyncContext *c, void *r, void *privdata)
{
    struct queue *q = privdata;
    redisReply *reply = r;

    (void)c;
    if (reply == NULL)
        return;
    q->pending--;
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(q->errstr, sizeof(q->errstr), "SELECT failed: %s", reply->str);
        log_error("msg=\"redis select failed\" reason=\"%s\"", reply->str);
    }
}

static int
send_argv(struct queue *q, redisCallbackFn *fn, void *privdata, int argc,
          const char **argv, const size_t *lens)
{
    if (q->ac == NULL)
        return -1;
    if (redisAsyncCommandArgv(q->ac, fn, privdata, argc, argv, lens) !=
        REDIS_OK)
        return -1;
    if (q->pending++ == 0)
        q->progress_ms = wr_mono_ms();
    return 0;
}

static void
on_connect(const redisAsyncContext *c, int status)
{
    struct queue *q = c->data;
    const char *pol[] = {"CONFIG", "GET", "maxmemory-policy"};
    char dbs[16];
    const char *sel[] = {"SELECT", dbs};

    if (q == NULL)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        snprintf(q->errstr, sizeof(q->errstr), "connect failed: %s", c->errstr);
        log_debug("msg=\"redis connect failed\" reason=\"%s\"", c->errstr);
        q->ac = NULL;
        q->pending = 0;
        queue_set_state(q, QUEUE_DOWN);
        schedule_reconnect(q);
        return;
    }
    if (q->db != 0) {
        snprintf(dbs, sizeof(dbs), "%d", q->db);
        send_argv(q, on_select, q, 2, sel, NULL);
    }
    for (int i = 0; i < q->n_scripts; i++) {
        const char *load[] = {"SCRIPT", "LOAD", q->scripts[i].body};

        q->scripts[i].sha[0] = '\0';
        if (send_argv(q, on_script_load, &q->scripts[i], 3, load, NULL) != 0) {
            queue_drop(q, "cannot send to redis");
            return;
        }
    }
    if (send_argv(q, on_policy, q, 3, pol, NULL) != 0)
        queue_drop(q, "cannot send to redis");
}

static void
queue_connect(struct queue *q)
{
    redisAsyncContext *ac;

    if (q->stopping)
        return;
    queue_set_state(q, QUEUE_CONNECTING);
    if (q->is_unix)
        ac = redisAsyncConnectUnix(q->host);
    else
        ac = redisAsyncConnect(q->host, q->port);
    if (ac == NULL || ac->err) {
        snprintf(q->errstr, sizeof(q->errstr), "connect failed: %s",
                 ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        queue_set_state(q, QUEUE_DOWN);
        schedule_reconnect(q);
        return;
    }
    ac->data = q;
    if (redisLibeventAttach(ac, q->base) != REDIS_OK ||
        redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
        redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK) {
        snprintf(q->errstr, sizeof(q->errstr), "cannot attach to the loop");
        ac->data = NULL;
        redisAsyncFree(ac);
        queue_set_state(q, QUEUE_DOWN);
        schedule_reconnect(q);
        return;
    }
    q->ac = ac;
    q->connect_start_ms = wr_mono_ms();
}

static void
on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    queue_connect(arg);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    struct queue *q = arg;
    int64_t now = wr_mono_ms();

    (void)fd;
    (void)what;
    if (q->ac == NULL)
        return;
    if (q->state == QUEUE_CONNECTING && q->pending == 0 &&
        now - q->connect_start_ms > q->timeout_ms && !q->policy_ok &&
        q->errstr[0] == '\0') {
        log_warn("msg=\"redis connect timed out\" ms=%d", q->timeout_ms);
        queue_drop(q, "connect timed out");
        return;
    }
    if (q->pending > 0 && now - q->progress_ms > q->timeout_ms) {
        log_warn("msg=\"redis stopped answering\" pending=%d ms=%d", q->pending,
                 q->timeout_ms);
        queue_drop(q, "redis stopped answering");
    }
}

struct queue *
queue_new(struct event_base *base, const char *url, const char *prefix,
          int timeout_ms, queue_state_cb cb, void *arg, char *err,
          size_t errlen)
{
    struct queue *q = xcalloc(1, sizeof(*q));
    struct timeval wd = {0, QUEUE_WATCHDOG_MS * 1000};

    if (queue_parse_url(url, q->host, sizeof(q->host), &q->port, &q->db,
                        &q->is_unix, err, errlen) != 0) {
        free(q);
        return NULL;
    }
    q->base = base;
    q->prefix = xstrdup(prefix);
    q->timeout_ms = timeout_ms;
    q->backoff_ms = QUEUE_BACKOFF_MIN_MS;
    q->state_cb = cb;
    q->state_arg = arg;
    q->scripts[0].q = q;
    q->scripts[0].body = add_script;
    q->n_scripts = 1;
    q->reconnect_ev = evtimer_new(base, on_reconnect_timer, q);
    q->watchdog_ev = event_new(base, -1, EV_PERSIST, on_watchdog, q);
    if (q->reconnect_ev == NULL || q->watchdog_ev == NULL ||
        event_add(q->watchdog_ev, &wd) != 0) {
        snprintf(err, errlen, "cannot create redis timers");
        queue_free(q);
        return NULL;
    }
    queue_connect(q);
    return q;
}

void
queue_free(struct queue *q)
{
    redisAsyncContext *ac;

    if (q == NULL)
        return;
    q->stopping = true;
    ac = q->ac;
    q->ac = NULL;
    if (ac != NULL) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    if (q->reconnect_ev)
        event_free(q->reconnect_ev);
    if (q->watchdog_ev)
        event_free(q->watchdog_ev);
    free(q->prefix);
    free(q);
}

enum queue_state
queue_state(const struct queue *q)
{
    return q->state;
}

const char *
queue_errstr(const struct queue *q)
{
    return q->errstr;
}

struct add_req {
    struct queue *q;
    queue_add_cb cb;
    void *arg;
    size_t n;
};

static void
on_add(redisAsyncContext *c, void *r, void *privdata)
{
    struct add_req *req = privdata;
    struct queue *q = req->q;
    redisReply *reply = r;
    int *added = NULL;
    bool ok = false, noscript = false;

    (void)c;
    if (reply != NULL) {
        q->pending--;
        q->progress_ms = wr_mono_ms();
    }
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
        reply->elements == req->n) {
        added = xcalloc(req->n, sizeof(*added));
        ok = true;
        for (size_t i = 0; i < req->n; i++) {
            if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
                ok = false;
                break;
            }
            added[i] = reply->element[i]->integer == 1;
        }
    } else if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        snprintf(q->errstr, sizeof(q->errstr), "XADD failed: %.200s",
                 reply->str);
        log_error("msg=\"redis refused events\" reason=\"%s\"", q->errstr);
        noscript = str_has_prefix(reply->str, "NOSCRIPT");
    }
    req->cb(ok, ok ? added : NULL, req->n, req->arg);
    /* The script cache was flushed: reconnect, which loads it again. */
    if (noscript && q->ac != NULL)
        queue_drop(q, "redis lost the ingest script");
    free(added);
    free(req);
}

int
queue_add_events(struct queue *q, const char *const *ids,
                 const char *const *jsons, const size_t *lens, size_t n,
                 queue_add_cb cb, void *arg)
{
    size_t argc = 6 + 2 * n;
    const char **argv;
    size_t *argl;
    char *stream, *seen;
    struct add_req *req;
    int rc;

    if (q->state != QUEUE_UP || q->ac == NULL || n == 0)
        return -1;
    argv = xcalloc(argc, sizeof(*argv));
    argl = xcalloc(argc, sizeof(*argl));
    stream = xasprintf("%sevents", q->prefix);
    seen = xasprintf("%sseen:", q->prefix);
    argv[0] = "EVALSHA";
    argv[1] = q->scripts[0].sha;
    argv[2] = "2";
    argv[3] = stream;
    argv[4] = seen;
    argv[5] = QUEUE_SEEN_TTL;
    for (size_t i = 0; i < 6; i++)
        argl[i] = strlen(argv[i]);
    for (size_t i = 0; i < n; i++) {
        argv[6 + 2 * i] = ids[i];
        argl[6 + 2 * i] = strlen(ids[i]);
        argv[7 + 2 * i] = jsons[i];
        argl[7 + 2 * i] = lens[i];
    }
    req = xcalloc(1, sizeof(*req));
    req->q = q;
    req->cb = cb;
    req->arg = arg;
    req->n = n;
    rc = send_argv(q, on_add, req, (int)argc, argv, argl);
    if (rc != 0)
        free(req);
    free(stream);
    free(seen);
    free(argv);
    free(argl);
    return rc;
}

struct len_req {
    struct queue *q;
    queue_len_cb cb;
    void *arg;
};

static void
on_len(redisAsyncContext *c, void *r, void *privdata)
{
    struct len_req *req = privdata;
    redisReply *reply = r;
    int64_t len = -1;

    (void)c;
    if (reply != NULL) {
        req->q->pending--;
        req->q->progress_ms = wr_mono_ms();
        if (reply->type == REDIS_REPLY_INTEGER)
            len = reply->integer;
    }
    req->cb(len, req->arg);
    free(req);
}

int
queue_stream_len(struct queue *q, const char *stream, queue_len_cb cb,
                 void *arg)
{
    char *key;
    const char *argv[2];
    struct len_req *req;
    int rc;

    if (q->state != QUEUE_UP)
        return -1;
    key = xasprintf("%s%s", q->prefix, stream);
    argv[0] = "XLEN";
    argv[1] = key;
    req = xcalloc(1, sizeof(*req));
    req->q = q;
    req->cb = cb;
    req->arg = arg;
    rc = send_argv(q, on_len, req, 2, argv, NULL);
    if (rc != 0)
        free(req);
    free(key);
    return rc;
}

/* Generic commands: replies are copied out of hiredis into qreply trees. */

static struct qreply *
qreply_copy(const redisReply *r)
{
    struct qreply *q = xcalloc(1, sizeof(*q));

    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        q->type = QREPLY_INT;
        q->integer = r->integer;
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        q->type = r->type == REDIS_REPLY_STRING   ? QREPLY_STR
                  : r->type == REDIS_REPLY_STATUS ? QREPLY_STATUS
                                                  : QREPLY_ERR;
        q->str = xstrndup(r->str, r->len);
        q->len = r->len;
        break;
    case REDIS_REPLY_ARRAY:
        q->type = QREPLY_ARR;
        q->n = r->elements;
        q->elem = xcalloc(r->elements ? r->elements : 1, sizeof(*q->elem));
        for (size_t i = 0; i < r->elements; i++)
            q->elem[i] = qreply_copy(r->element[i]);
        break;
    default:
        q->type = QREPLY_NIL;
        break;
    }
    return q;
}

void
qreply_free(struct qreply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        qreply_free(r->elem[i]);
    free(r->elem);
    free(r->str);
    free(r);
}

struct cmd_req {
    struct queue *q;
    queue_reply_cb cb;
    void *arg;
};

static void
on_cmd(redisAsyncContext *c, void *r, void *privdata)
{
    struct cmd_req *req = privdata;
    redisReply *reply = r;
    struct qreply *copy = NULL;
    bool noscript = false;

    (void)c;
    if (reply != NULL) {
        req->q->pending--;
        req->q->progress_ms = wr_mono_ms();
        copy = qreply_copy(reply);
        noscript = reply->type == REDIS_REPLY_ERROR &&
                   str_has_prefix(reply->str, "NOSCRIPT");
    }
    req->cb(copy, req->arg);
    qreply_free(copy);
    if (noscript && req->q->ac != NULL)
        queue_drop(req->q, "redis lost a script");
    free(req);
}

int
queue_cmd(struct queue *q, queue_reply_cb cb, void *arg, int argc,
          const char *const *argv, const size_t *lens)
{
    struct cmd_req *req;

    if (q->state != QUEUE_UP || q->ac == NULL)
        return -1;
    req = xcalloc(1, sizeof(*req));
    req->q = q;
    req->cb = cb;
    req->arg = arg;
    {
        /* hiredis takes a non-const array of const strings. */
        const char **av = xcalloc((size_t)argc + 1, sizeof(*av));
        int rc;

        memcpy(av, argv, (size_t)argc * sizeof(*av));
        rc = send_argv(q, on_cmd, req, argc, av, lens);
        free(av);
        if (rc != 0) {
            free(req);
            return -1;
        }
    }
    return 0;
}

int
queue_script_add(struct queue *q, const char *body)
{
    /* The same script registered twice (one per applier) is loaded once. */
    for (int i = 0; i < q->n_scripts; i++)
        if (q->scripts[i].body == body || strcmp(q->scripts[i].body, body) == 0)
            return i;
    if (q->n_scripts >= QUEUE_MAX_SCRIPTS)
        return -1;
    q->scripts[q->n_scripts].q = q;
    q->scripts[q->n_scripts].body = body;
    return q->n_scripts++;
}

int
queue_eval(struct queue *q, int script, queue_reply_cb cb, void *arg, int nkeys,
           int argc, const char *const *argv, const size_t *lens)
{
    const char **av;
    size_t *al;
    char nk[16];
    int rc;

    if (script < 0 || script >= q->n_scripts || q->state != QUEUE_UP)
        return -1;
    av = xcalloc((size_t)argc + 3, sizeof(*av));
    al = xcalloc((size_t)argc + 3, sizeof(*al));
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[0] = "EVALSHA";
    av[1] = q->scripts[script].sha;
    av[2] = nk;
    for (int i = 0; i < 3; i++)
        al[i] = strlen(av[i]);
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = lens ? lens[i] : strlen(argv[i]);
    }
    rc = queue_cmd(q, cb, arg, argc + 3, av, al);
    free(av);
    free(al);
    return rc;
}

const char *
queue_prefix(const struct queue *q)
{
    return q->prefix;
}

/* Blocking client for the CLI. */
struct queue_sync {
    redisContext *c;
};

struct queue_sync *
queue_sync_connect(const char *url, int timeout_ms, char *err, size_t errlen)
{
    char host[256];
    int port, db;
    bool is_unix;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct queue_sync *qs;
    redisContext *c;

    if (queue_parse_url(url, host, sizeof(host), &port, &db, &is_unix, err,
                        errlen) != 0)
        return NULL;
    c = is_unix ? redisConnectUnixWithTimeout(host, tv)
                : redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        snprintf(err, errlen, "cannot connect to redis at %s: %s", host,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (db != 0) {
        redisReply *r = redisCommand(c, "SELECT %d", db);

        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis SELECT %d failed", db);
            if (r)
                freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    qs = xcalloc(1, sizeof(*qs));
    qs->c = c;
    return qs;
}

void
queue_sync_free(struct queue_sync *qs)
{
    if (qs == NULL)
        return;
    redisFree(qs->c);
    free(qs);
}

int64_t
queue_sync_xlen(struct queue_sync *qs, const char *key)
{
    redisReply *r = redisCommand(qs->c, "XLEN %s", key);
    int64_t n = -1;

    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        n = r->integer;
    if (r)
        freeReplyObject(r);
    return n;
}

int
queue_sync_tail(struct queue_sync *qs, const char *prefix, int n,
                void (*emit)(const char *json, size_t len, void *arg),
                void *arg, char *err, size_t errlen)
{
    redisReply *r;
    char *key = xasprintf("%sevents", prefix);
    int rc = -1;

    r = redisCommand(qs->c, "XREVRANGE %s + - COUNT %d", key, n);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "XREVRANGE %s failed: %s", key,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : qs->c->errstr);
        goto done;
    }
    for (size_t i = r->elements; i-- > 0;) {
        redisReply *entry = r->element[i], *fields;

        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2)
            continue;
        fields = entry->element[1];
        if (fields->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t j = 0; j + 1 < fields->elements; j += 2) {
            redisReply *k = fields->element[j], *v = fields->element[j + 1];

            if (k->type == REDIS_REPLY_STRING && strcmp(k->str, "event") == 0 &&
                v->type == REDIS_REPLY_STRING)
                emit(v->str, v->len, arg);
        }
    }
    rc = 0;
done:
    if (r)
        freeReplyObject(r);
    free(key);
    return rc;
}

struct qreply *
queue_sync_cmd(struct queue_sync *qs, int argc, const char *const *argv,
               const size_t *lens)
{
    size_t *l = xcalloc((size_t)argc, sizeof(*l));
    redisReply *r;
    struct qreply *out = NULL;

    for (int i = 0; i < argc; i++)
        l[i] = lens ? lens[i] : strlen(argv[i]);
    {
        const char **av = xcalloc((size_t)argc + 1, sizeof(*av));

        memcpy(av, argv, (size_t)argc * sizeof(*av));
        r = redisCommandArgv(qs->c, argc, av, l);
        free(av);
    }
    if (r != NULL) {
        out = qreply_copy(r);
        freeReplyObject(r);
    }
    free(l);
    return out;
}

int
queue_sync_append(struct queue_sync *qs, int argc, const char *const *argv,
                  const size_t *lens)
{
    size_t *l = xcalloc((size_t)argc, sizeof(*l));
    const char **av = xcalloc((size_t)argc + 1, sizeof(*av));
    int rc;

    for (int i = 0; i < argc; i++)
        l[i] = lens ? lens[i] : strlen(argv[i]);
    memcpy(av, argv, (size_t)argc * sizeof(*av));
    rc = redisAppendCommandArgv(qs->c, argc, av, l) == REDIS_OK ? 0 : -1;
    free(av);
    free(l);
    return rc;
}

int
queue_sync_drain(struct queue_sync *qs, size_t n, char *err, size_t errlen)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        void *r = NULL;

        if (redisGetReply(qs->c, &r) != REDIS_OK || r == NULL) {
            snprintf(err, errlen, "Redis: %s",
                     qs->c->errstr[0] ? qs->c->errstr : "connection lost");
            return -1;
        }
        if (((redisReply *)r)->type == REDIS_REPLY_ERROR && rc == 0) {
            snprintf(err, errlen, "Redis: %s", ((redisReply *)r)->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}
