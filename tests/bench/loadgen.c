/*
 * loadgen: a small HTTP/1.1 keep-alive load generator for the benchmarks.
 * One thread, one event_base, N persistent connections over raw bufferevents
 * (one request in flight per connection, no pipelining).
 *
 *   loadgen --url http://127.0.0.1:PORT/path [--body FILE]
 *           [--content-type STR] [--header "K: V"]... [--method M]
 *           [--connections N] [--duration S] [--warmup S] [--rate R]
 *           [--timeout S] [--seq-token TOK [--seq-start N]]
 *
 * --rate 0 (default) is closed loop: each connection sends its next request
 * as soon as the previous reply is in. --rate R > 0 is open loop: request i
 * (over all connections) is scheduled at start + i/R, connection i % N sends
 * it, and its latency is measured from the scheduled time, not from when it
 * could be sent, so a stalled server is charged for the requests it held up
 * (no coordinated omission).
 *
 * Only requests scheduled after the warmup and before its end are counted.
 * --seq-token TOK: every occurrence of TOK in the body is replaced, per
 * request, by a sequence number zero-padded to TOK's length (the body length
 * never changes), starting at --seq-start, so every request is distinct.
 *
 * Output, one line on stdout:
 *   requests=N errors=N non2xx=N rps=X p50_ms=X p90_ms=X p99_ms=X max_ms=X
 * followed by " seq_next=N" with --seq-token. requests counts completed
 * replies (any status); non2xx those whose status is not 2xx; errors the
 * requests that got no complete reply (connect failure, reset, timeout,
 * malformed reply). Exit 0 after a run, 1 if it cannot start, 2 on usage.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#define LG_MAX_CONNS      1024
#define LG_MAX_DURATION_S 3600.0
#define LG_MAX_WARMUP_S   600.0
#define LG_MAX_TIMEOUT_S  120.0
#define LG_MAX_RATE       1000000.0
#define LG_MAX_BODY       (64u * 1024 * 1024)
#define LG_MAX_HEADERS    32
#define LG_MAX_HEADER_LEN 4096
#define LG_MAX_URL        2048
#define LG_MAX_RESP_HEAD  (64 * 1024)
#define LG_MAX_CHUNK_LINE 1024
#define LG_MAX_TRAILERS   64
#define LG_MAX_SEQ_SITES  16
#define LG_MAX_SEQ_WIDTH  18
#define LG_RECONNECT_NS   10000000LL /* 10 ms after a failure */
#define LG_NS             1000000000LL

/*
 * Latency histogram in nanoseconds, log-linear: values below 2^(SUB+1) have
 * their own bucket, above that each power of two is split into 2^SUB
 * buckets (relative error under 0.1 %). Values are capped at 2^LG_HIST_TOP.
 */
#define LG_HIST_SUB 10
#define LG_HIST_TOP 50
#define LG_HIST_BUCKETS \
    ((2u << LG_HIST_SUB) + (LG_HIST_TOP - LG_HIST_SUB) * (1u << LG_HIST_SUB))

struct lg_hist {
    uint64_t counts[LG_HIST_BUCKETS];
    uint64_t n;
    uint64_t max;
};

enum lg_conn_state {
    LG_CONN_CLOSED,     /* waiting to reconnect */
    LG_CONN_CONNECTING, /* connect in progress */
    LG_CONN_IDLE,       /* connected, nothing in flight */
    LG_CONN_BUSY,       /* one request in flight */
    LG_CONN_DONE,       /* finished for this run */
    LG_CONN_MAX
};

enum lg_parse_state {
    LG_PARSE_HEAD,
    LG_PARSE_BODY_LEN,
    LG_PARSE_BODY_EOF,
    LG_PARSE_CHUNK_SIZE,
    LG_PARSE_CHUNK_DATA,
    LG_PARSE_CHUNK_CRLF,
    LG_PARSE_TRAILER,
    LG_PARSE_MAX
};

/* lg_parse results */
#define LG_PARSE_MORE     0  /* need more bytes */
#define LG_PARSE_COMPLETE 1  /* one whole reply consumed */
#define LG_PARSE_ERROR    -1 /* malformed reply */

struct lg;

struct lg_conn {
    struct lg *lg;
    unsigned idx;
    enum lg_conn_state state;
    struct bufferevent *bev;
    struct event *timer; /* pacing, request timeout or reconnect delay */
    uint64_t k;          /* open loop: this connection's next request */
    int64_t sched_ns;    /* the in-flight request's scheduled time */
    char *body;          /* owned copy when the body has seq sites */
    /* reply parser */
    enum lg_parse_state ps;
    int status;
    bool keep_alive;
    bool chunked;
    bool have_length;
    uint64_t remaining;
    unsigned trailers;
};

struct lg {
    struct event_base *base;
    struct sockaddr_storage addr;
    int addrlen;
    char hostport[256]; /* the Host header */
    char *head;         /* request line and headers, owned */
    size_t head_len;
    char *body; /* owned; NULL without --body */
    size_t body_len;
    size_t seq_off[LG_MAX_SEQ_SITES];
    size_t seq_sites;
    size_t seq_width;
    uint64_t seq_next;
    uint64_t seq_max;
    bool seq_exhausted;
    unsigned nconn;
    double rate;
    int64_t timeout_ns;
    int64_t t0;
    int64_t warm_end;
    int64_t end;
    unsigned active; /* connections not DONE */
    struct lg_conn *conns;
    struct event *grace_timer;
    uint64_t requests;
    uint64_t errors;
    uint64_t non2xx;
    struct lg_hist hist;
};

static void lg_conn_try_send(struct lg_conn *c);
static void lg_conn_connect(struct lg_conn *c);

static int64_t
lg_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * LG_NS + ts.tv_nsec;
}

static struct timeval
lg_tv(int64_t ns)
{
    struct timeval tv;

    if (ns < 0)
        ns = 0;
    tv.tv_sec = (time_t)(ns / LG_NS);
    tv.tv_usec = (suseconds_t)((ns % LG_NS) / 1000);
    return tv;
}

/* ---- histogram ---- */

static unsigned
lg_hist_index(uint64_t v)
{
    unsigned msb, e;

    if (v >= (1ull << LG_HIST_TOP))
        v = (1ull << LG_HIST_TOP) - 1;
    if (v < (2ull << LG_HIST_SUB))
        return (unsigned)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    e = msb - LG_HIST_SUB;
    return (2u << LG_HIST_SUB) + (e - 1) * (1u << LG_HIST_SUB) +
           (unsigned)((v >> e) - (1ull << LG_HIST_SUB));
}

/* The middle of bucket idx. */
static double
lg_hist_value(unsigned idx)
{
    unsigned e, m;

    if (idx < (2u << LG_HIST_SUB))
        return (double)idx;
    e = (idx - (2u << LG_HIST_SUB)) / (1u << LG_HIST_SUB) + 1;
    m = (idx - (2u << LG_HIST_SUB)) % (1u << LG_HIST_SUB) + (1u << LG_HIST_SUB);
    return ((double)m + 0.5) * (double)(1ull << e);
}

static void
lg_hist_add(struct lg_hist *h, uint64_t v)
{
    h->counts[lg_hist_index(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

/* The p-th percentile in nanoseconds (0 when empty). */
static double
lg_hist_pct(const struct lg_hist *h, double p)
{
    uint64_t rank, seen = 0;
    unsigned i;
    double v;

    if (h->n == 0)
        return 0.0;
    rank = (uint64_t)ceil(p / 100.0 * (double)h->n);
    if (rank < 1)
        rank = 1;
    for (i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            v = lg_hist_value(i);
            return v > (double)h->max ? (double)h->max : v;
        }
    }
    return (double)h->max;
}

/* ---- accounting ---- */

static bool
lg_in_window(const struct lg *lg, int64_t t)
{
    return t >= lg->warm_end && t < lg->end;
}

static void
lg_count_error(struct lg_conn *c, int64_t t)
{
    if (lg_in_window(c->lg, t))
        c->lg->errors++;
}

static void
lg_count_reply(struct lg_conn *c)
{
    struct lg *lg = c->lg;
    int64_t lat;

    if (!lg_in_window(lg, c->sched_ns))
        return;
    lg->requests++;
    if (c->status < 200 || c->status > 299)
        lg->non2xx++;
    lat = lg_now_ns() - c->sched_ns;
    lg_hist_add(&lg->hist, lat < 0 ? 0 : (uint64_t)lat);
}

/* ---- connection lifecycle ---- */

static void
lg_conn_drop_bev(struct lg_conn *c)
{
    if (c->bev != NULL) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
}

/* Open loop: when this connection's request number k is due. */
static int64_t
lg_conn_slot_sched(const struct lg_conn *c, uint64_t k)
{
    const struct lg *lg = c->lg;

    return lg->t0 + (int64_t)((double)(c->idx + k * lg->nconn) * (double)LG_NS /
                              lg->rate);
}

/* When the connection's next request is due. */
static int64_t
lg_conn_next_sched(const struct lg_conn *c, int64_t now)
{
    if (c->lg->rate <= 0)
        return now;
    return lg_conn_slot_sched(c, c->k);
}

/* Whether this connection still has a request to send in this run. */
static bool
lg_conn_has_work(const struct lg_conn *c)
{
    return !c->lg->seq_exhausted &&
           lg_conn_next_sched(c, lg_now_ns()) < c->lg->end;
}

/* Open loop: this connection's first request number due at t or later. */
static uint64_t
lg_conn_slot_at(const struct lg_conn *c, int64_t t)
{
    const struct lg *lg = c->lg;
    double x;
    uint64_t k;

    x = ((double)(t - lg->t0) * lg->rate / (double)LG_NS - (double)c->idx) /
        (double)lg->nconn;
    k = x <= 0 ? 0 : (uint64_t)ceil(x);
    /* settle float rounding against the exact schedule */
    while (k > 0 && lg_conn_slot_sched(c, k - 1) >= t)
        k--;
    while (lg_conn_slot_sched(c, k) < t)
        k++;
    return k;
}

/*
 * Open loop: the requests this connection never sent although they were
 * scheduled inside the measured window count as errors.
 */
static void
lg_conn_count_unsent(struct lg_conn *c)
{
    uint64_t lo, hi;

    if (c->lg->rate <= 0)
        return;
    lo = lg_conn_slot_at(c, c->lg->warm_end);
    hi = lg_conn_slot_at(c, c->lg->end);
    if (lo < c->k)
        lo = c->k;
    if (hi > lo)
        c->lg->errors += hi - lo;
}

static void
lg_conn_finish(struct lg_conn *c)
{
    if (c->state == LG_CONN_DONE)
        return;
    lg_conn_count_unsent(c);
    lg_conn_drop_bev(c);
    event_del(c->timer);
    c->state = LG_CONN_DONE;
    if (--c->lg->active == 0)
        event_base_loopbreak(c->lg->base);
}

/* Close and come back after delay_ns (or finish if the run is over). */
static void
lg_conn_restart(struct lg_conn *c, int64_t delay_ns)
{
    struct timeval tv;

    lg_conn_drop_bev(c);
    event_del(c->timer);
    if (!lg_conn_has_work(c)) {
        lg_conn_finish(c);
        return;
    }
    c->state = LG_CONN_CLOSED;
    tv = lg_tv(delay_ns);
    evtimer_add(c->timer, &tv);
}

static void
lg_conn_fail(struct lg_conn *c)
{
    int64_t now = lg_now_ns();

    if (c->state == LG_CONN_BUSY)
        lg_count_error(c, c->sched_ns);
    else if (c->state == LG_CONN_CONNECTING && c->lg->rate <= 0)
        lg_count_error(c, now); /* open loop: counted as unsent slots */
    lg_conn_restart(c, LG_RECONNECT_NS);
}

static void
lg_parse_reset(struct lg_conn *c)
{
    c->ps = LG_PARSE_HEAD;
    c->status = 0;
    c->keep_alive = true;
    c->chunked = false;
    c->have_length = false;
    c->remaining = 0;
    c->trailers = 0;
}

static void
lg_conn_reply_done(struct lg_conn *c)
{
    lg_count_reply(c);
    event_del(c->timer);
    if (!c->keep_alive) {
        lg_conn_restart(c, 0);
        return;
    }
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0) {
        /* bytes nobody asked for: the stream is out of step */
        lg_conn_restart(c, LG_RECONNECT_NS);
        return;
    }
    c->state = LG_CONN_IDLE;
    lg_conn_try_send(c);
}

/* ---- reply parser ---- */

static bool
lg_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);

    return alen == blen && strncasecmp(a, b, blen) == 0;
}

/* Whether the comma-separated list v (length n) holds token tok. */
static bool
lg_has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0, s, e;

    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && lg_ieq(v + s, e - s, tok))
            return true;
    }
    return false;
}

static int
lg_parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0 || n > 19)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int
lg_parse_hex(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    int d;

    if (n == 0 || n > 15)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            d = s[i] - '0';
        else if (s[i] >= 'a' && s[i] <= 'f')
            d = s[i] - 'a' + 10;
        else if (s[i] >= 'A' && s[i] <= 'F')
            d = s[i] - 'A' + 10;
        else
            return -1;
        v = v * 16 + (uint64_t)d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parse a complete head (status line + headers, ending in CRLFCRLF). */
static int
lg_parse_head(struct lg_conn *c, const char *p, size_t len)
{
    const char *end = p + len, *eol, *colon, *v;
    size_t vlen;
    uint64_t status, clen;

    if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -1;
    if (lg_parse_dec(p + 9, 3, 999, &status) != 0 || status < 100 ||
        (p[12] != ' ' && p[12] != '\r'))
        return -1;
    c->status = (int)status;
    c->keep_alive = p[7] == '1';
    c->chunked = false;
    c->have_length = false;
    eol = memchr(p, '\n', len);
    while (eol != NULL && eol + 1 < end) {
        p = eol + 1;
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL || eol == p || eol[-1] != '\r')
            return -1;
        if (eol - 1 == p)
            break; /* the empty line */
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL)
            return -1;
        v = colon + 1;
        while (v < eol - 1 && (*v == ' ' || *v == '\t'))
            v++;
        vlen = (size_t)(eol - 1 - v);
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (lg_ieq(p, (size_t)(colon - p), "content-length")) {
            if (lg_parse_dec(v, vlen, UINT64_C(1) << 40, &clen) != 0)
                return -1;
            if (c->have_length && clen != c->remaining)
                return -1;
            c->have_length = true;
            c->remaining = clen;
        } else if (lg_ieq(p, (size_t)(colon - p), "transfer-encoding")) {
            if (lg_has_token(v, vlen, "chunked"))
                c->chunked = true;
        } else if (lg_ieq(p, (size_t)(colon - p), "connection")) {
            if (lg_has_token(v, vlen, "close"))
                c->keep_alive = false;
            else if (lg_has_token(v, vlen, "keep-alive"))
                c->keep_alive = true;
        }
    }
    return 0;
}

/* Pull up one CRLF-terminated line of at most max bytes; its length in *n. */
static int
lg_peek_line(struct evbuffer *in, size_t max, const char **line, size_t *n)
{
    struct evbuffer_ptr pos;
    size_t eol_len = 0;

    pos = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
    if (pos.pos < 0)
        return evbuffer_get_length(in) > max ? LG_PARSE_ERROR : LG_PARSE_MORE;
    if ((size_t)pos.pos > max)
        return LG_PARSE_ERROR;
    *line = (const char *)evbuffer_pullup(in, pos.pos + (ev_ssize_t)eol_len);
    *n = (size_t)pos.pos;
    if (*line == NULL)
        return LG_PARSE_ERROR;
    return LG_PARSE_COMPLETE;
}

/* Consume up to c->remaining body bytes; true when they are all in. */
static bool
lg_drain_body(struct lg_conn *c, struct evbuffer *in)
{
    size_t have = evbuffer_get_length(in);
    size_t take = have < c->remaining ? have : (size_t)c->remaining;

    evbuffer_drain(in, take);
    c->remaining -= take;
    return c->remaining == 0;
}

static int
lg_parse(struct lg_conn *c, struct evbuffer *in)
{
    struct evbuffer_ptr pos;
    const char *p = NULL;
    size_t n = 0, ext;
    uint64_t size;
    int r;

    for (;;) {
        switch (c->ps) {
        case LG_PARSE_HEAD:
            pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (pos.pos < 0)
                return evbuffer_get_length(in) > LG_MAX_RESP_HEAD
                           ? LG_PARSE_ERROR
                           : LG_PARSE_MORE;
            if (pos.pos + 4 > LG_MAX_RESP_HEAD)
                return LG_PARSE_ERROR;
            p = (const char *)evbuffer_pullup(in, pos.pos + 4);
            if (p == NULL || lg_parse_head(c, p, (size_t)pos.pos + 4) != 0)
                return LG_PARSE_ERROR;
            evbuffer_drain(in, (size_t)pos.pos + 4);
            if (c->status < 200) {
                if (c->status == 101)
                    return LG_PARSE_ERROR;
                continue; /* 1xx: the real reply follows */
            }
            if (c->status == 204 || c->status == 304) {
                c->remaining = 0;
                return LG_PARSE_COMPLETE;
            }
            if (c->chunked) {
                c->ps = LG_PARSE_CHUNK_SIZE;
            } else if (c->have_length) {
                c->ps = LG_PARSE_BODY_LEN;
            } else {
                c->keep_alive = false; /* the body ends at EOF */
                c->ps = LG_PARSE_BODY_EOF;
            }
            break;
        case LG_PARSE_BODY_LEN:
            return lg_drain_body(c, in) ? LG_PARSE_COMPLETE : LG_PARSE_MORE;
        case LG_PARSE_BODY_EOF:
            evbuffer_drain(in, evbuffer_get_length(in));
            return LG_PARSE_MORE;
        case LG_PARSE_CHUNK_SIZE:
            r = lg_peek_line(in, LG_MAX_CHUNK_LINE, &p, &n);
            if (r != LG_PARSE_COMPLETE)
                return r;
            for (ext = 0;
                 ext < n && p[ext] != ';' && p[ext] != ' ' && p[ext] != '\t';
                 ext++)
                ;
            if (lg_parse_hex(p, ext, UINT64_C(1) << 40, &size) != 0)
                return LG_PARSE_ERROR;
            evbuffer_drain(in, n + 2);
            c->remaining = size;
            c->ps = size == 0 ? LG_PARSE_TRAILER : LG_PARSE_CHUNK_DATA;
            break;
        case LG_PARSE_CHUNK_DATA:
            if (!lg_drain_body(c, in))
                return LG_PARSE_MORE;
            c->ps = LG_PARSE_CHUNK_CRLF;
            break;
        case LG_PARSE_CHUNK_CRLF:
            if (evbuffer_get_length(in) < 2)
                return LG_PARSE_MORE;
            p = (const char *)evbuffer_pullup(in, 2);
            if (p == NULL || p[0] != '\r' || p[1] != '\n')
                return LG_PARSE_ERROR;
            evbuffer_drain(in, 2);
            c->ps = LG_PARSE_CHUNK_SIZE;
            break;
        case LG_PARSE_TRAILER:
            r = lg_peek_line(in, LG_MAX_CHUNK_LINE, &p, &n);
            if (r != LG_PARSE_COMPLETE)
                return r;
            evbuffer_drain(in, n + 2);
            if (n == 0)
                return LG_PARSE_COMPLETE;
            if (++c->trailers > LG_MAX_TRAILERS)
                return LG_PARSE_ERROR;
            break;
        case LG_PARSE_MAX:
        default:
            return LG_PARSE_ERROR;
        }
    }
}

/* ---- bufferevent callbacks ---- */

static void
lg_read_cb(struct bufferevent *bev, void *arg)
{
    struct lg_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    int r;

    if (c->state != LG_CONN_BUSY) {
        /* nothing asked: the server is out of step */
        if (evbuffer_get_length(in) != 0)
            lg_conn_restart(c, LG_RECONNECT_NS);
        return;
    }
    r = lg_parse(c, in);
    if (r == LG_PARSE_ERROR)
        lg_conn_fail(c);
    else if (r == LG_PARSE_COMPLETE)
        lg_conn_reply_done(c);
}

static void
lg_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct lg_conn *c = arg;
    evutil_socket_t fd;
    int one = 1;

    if (what & BEV_EVENT_CONNECTED) {
        fd = bufferevent_getfd(bev);
        if (fd >= 0)
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->state = LG_CONN_IDLE;
        lg_conn_try_send(c);
        return;
    }
    if ((what & BEV_EVENT_EOF) && c->state == LG_CONN_BUSY &&
        c->ps == LG_PARSE_BODY_EOF) {
        c->keep_alive = false;
        lg_conn_reply_done(c);
        return;
    }
    if ((what & BEV_EVENT_EOF) && c->state == LG_CONN_IDLE) {
        /* the server closed an idle keep-alive connection */
        lg_conn_restart(c, 0);
        return;
    }
    lg_conn_fail(c);
}

/* ---- sending ---- */

static void
lg_render_seq(struct lg *lg, char *body, uint64_t seq)
{
    char digits[LG_MAX_SEQ_WIDTH];
    size_t i;

    for (i = lg->seq_width; i > 0; i--) {
        digits[i - 1] = (char)('0' + seq % 10);
        seq /= 10;
    }
    for (i = 0; i < lg->seq_sites; i++)
        memcpy(body + lg->seq_off[i], digits, lg->seq_width);
}

static void
lg_conn_send(struct lg_conn *c, int64_t sched)
{
    struct lg *lg = c->lg;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct timeval tv;
    int rc;

    if (lg->seq_sites > 0 && lg->seq_next > lg->seq_max) {
        if (!lg->seq_exhausted)
            fprintf(stderr,
                    "loadgen: --seq-token sequence exhausted at %" PRIu64
                    "; stopping early\n",
                    lg->seq_max);
        lg->seq_exhausted = true;
        lg_conn_finish(c);
        return;
    }
    rc = evbuffer_add(out, lg->head, lg->head_len);
    if (rc == 0 && lg->body_len > 0) {
        if (lg->seq_sites > 0) {
            lg_render_seq(lg, c->body, lg->seq_next++);
            rc = evbuffer_add(out, c->body, lg->body_len);
        } else {
            rc =
                evbuffer_add_reference(out, lg->body, lg->body_len, NULL, NULL);
        }
    }
    c->sched_ns = sched;
    c->k++;
    c->state = LG_CONN_BUSY;
    lg_parse_reset(c);
    if (rc != 0) {
        lg_conn_fail(c);
        return;
    }
    tv = lg_tv(lg->timeout_ns);
    evtimer_add(c->timer, &tv);
}

static void
lg_conn_try_send(struct lg_conn *c)
{
    struct lg *lg = c->lg;
    int64_t now, sched;
    struct timeval tv;

    now = lg_now_ns();
    sched = lg_conn_next_sched(c, now);
    if (lg->seq_exhausted || sched >= lg->end) {
        lg_conn_finish(c);
        return;
    }
    if (sched > now) {
        tv = lg_tv(sched - now);
        evtimer_add(c->timer, &tv);
        return;
    }
    lg_conn_send(c, sched);
}

static void
lg_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lg_conn *c = arg;

    (void)fd;
    (void)what;
    switch (c->state) {
    case LG_CONN_IDLE: /* pacing */
        lg_conn_try_send(c);
        break;
    case LG_CONN_BUSY: /* request timeout */
        lg_conn_fail(c);
        break;
    case LG_CONN_CLOSED: /* reconnect delay */
        lg_conn_connect(c);
        break;
    case LG_CONN_CONNECTING:
    case LG_CONN_DONE:
    case LG_CONN_MAX:
    default:
        break;
    }
}

static void
lg_conn_connect(struct lg_conn *c)
{
    struct lg *lg = c->lg;

    if (!lg_conn_has_work(c)) {
        lg_conn_finish(c);
        return;
    }
    c->bev = bufferevent_socket_new(lg->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        c->state = LG_CONN_CONNECTING;
        lg_conn_fail(c);
        return;
    }
    bufferevent_setcb(c->bev, lg_read_cb, NULL, lg_event_cb, c);
    c->state = LG_CONN_CONNECTING;
    if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0 ||
        bufferevent_socket_connect(c->bev, (struct sockaddr *)&lg->addr,
                                   lg->addrlen) != 0)
        lg_conn_fail(c);
}

/* ---- run control ---- */

/*
 * The end plus one request timeout has passed: whatever is still in flight,
 * or scheduled in the window and never sent, failed.
 */
static void
lg_grace_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lg *lg = arg;
    struct lg_conn *c;
    unsigned i;

    (void)fd;
    (void)what;
    for (i = 0; i < lg->nconn; i++) {
        c = &lg->conns[i];
        if (c->state == LG_CONN_BUSY)
            lg->errors++; /* in flight at the end, whenever it was sent */
        lg_conn_finish(c);
    }
    event_base_loopbreak(lg->base);
}

/* ---- setup ---- */

static void
lg_usage(void)
{
    fprintf(stderr,
            "usage: loadgen --url http://HOST:PORT/PATH [--body FILE]\n"
            "  [--content-type STR] [--header \"K: V\"]... [--method M]\n"
            "  [--connections N (1..%d, 8)] [--duration S (10)]\n"
            "  [--warmup S (0)] [--rate R (0 = closed loop)]\n"
            "  [--timeout S (5)] [--seq-token TOK] [--seq-start N (0)]\n",
            LG_MAX_CONNS);
}

static int
lg_parse_num(const char *s, double min, double max, double *out)
{
    char *end = NULL;
    double v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
lg_load_body(const char *path, char **out, size_t *out_len)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t cap = 65536, len = 0, n;
    int rc = -1;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "loadgen: cannot open %s: %s\n", path, strerror(errno));
        goto done;
    }
    buf = malloc(cap);
    if (buf == NULL)
        goto done;
    for (;;) {
        if (len == cap) {
            char *nb;

            if (cap >= LG_MAX_BODY) {
                fprintf(stderr, "loadgen: %s is over %u bytes\n", path,
                        LG_MAX_BODY);
                goto done;
            }
            cap *= 2;
            nb = realloc(buf, cap);
            if (nb == NULL)
                goto done;
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                fprintf(stderr, "loadgen: cannot read %s\n", path);
                goto done;
            }
            break;
        }
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}

/*
 * Split http://HOST:PORT/PATH. HOST must be a numeric address (or
 * "localhost"): no DNS. The Host header text goes to lg->hostport; *path
 * points into url.
 */
static int
lg_parse_url(struct lg *lg, const char *url, const char **path)
{
    const char *hp, *slash;
    char addr_text[LG_MAX_URL + 16];
    size_t hlen;
    int n;

    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "loadgen: --url must start with http://\n");
        return -1;
    }
    hp = url + 7;
    slash = strchr(hp, '/');
    hlen = slash != NULL ? (size_t)(slash - hp) : strlen(hp);
    *path = slash != NULL ? slash : "/";
    if (hlen == 0 || hlen >= sizeof(lg->hostport))
        goto bad;
    memcpy(lg->hostport, hp, hlen);
    lg->hostport[hlen] = '\0';
    if (strncmp(lg->hostport, "localhost:", 10) == 0)
        n = snprintf(addr_text, sizeof(addr_text), "127.0.0.1%s",
                     lg->hostport + 9);
    else
        n = snprintf(addr_text, sizeof(addr_text), "%s", lg->hostport);
    if (n < 0 || (size_t)n >= sizeof(addr_text))
        goto bad;
    lg->addrlen = (int)sizeof(lg->addr);
    if (strchr(addr_text, ':') == NULL ||
        evutil_parse_sockaddr_port(addr_text, (struct sockaddr *)&lg->addr,
                                   &lg->addrlen) != 0)
        goto bad;
    return 0;
bad:
    fprintf(stderr, "loadgen: --url needs a numeric HOST:PORT\n");
    return -1;
}

static bool
lg_header_ok(const char *h)
{
    const char *colon = strchr(h, ':');

    if (colon == NULL || colon == h || strlen(h) > LG_MAX_HEADER_LEN)
        return false;
    return strpbrk(h, "\r\n") == NULL;
}

static int
lg_build_head(struct lg *lg, const char *method, const char *path,
              const char *ctype, char **headers, unsigned nheaders)
{
    struct evbuffer *b = NULL;
    unsigned i;
    int rc = -1;

    b = evbuffer_new();
    if (b == NULL || evbuffer_add_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\n",
                                         method, path, lg->hostport) < 0)
        goto done;
    if (lg->body != NULL &&
        evbuffer_add_printf(b, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                            ctype != NULL ? ctype : "application/octet-stream",
                            lg->body_len) < 0)
        goto done;
    for (i = 0; i < nheaders; i++) {
        if (evbuffer_add_printf(b, "%s\r\n", headers[i]) < 0)
            goto done;
    }
    if (evbuffer_add(b, "\r\n", 2) != 0)
        goto done;
    lg->head_len = evbuffer_get_length(b);
    lg->head = malloc(lg->head_len);
    if (lg->head == NULL ||
        evbuffer_remove(b, lg->head, lg->head_len) != (int)lg->head_len)
        goto done;
    rc = 0;
done:
    if (b != NULL)
        evbuffer_free(b);
    return rc;
}

static int
lg_find_seq(struct lg *lg, const char *tok)
{
    size_t tlen = strlen(tok), i;
    unsigned w;

    if (tlen == 0 || tlen > LG_MAX_SEQ_WIDTH) {
        fprintf(stderr, "loadgen: --seq-token must be 1..%d bytes\n",
                LG_MAX_SEQ_WIDTH);
        return -1;
    }
    for (i = 0; i + tlen <= lg->body_len;) {
        if (memcmp(lg->body + i, tok, tlen) == 0) {
            if (lg->seq_sites == LG_MAX_SEQ_SITES) {
                fprintf(stderr, "loadgen: --seq-token occurs over %d times\n",
                        LG_MAX_SEQ_SITES);
                return -1;
            }
            lg->seq_off[lg->seq_sites++] = i;
            i += tlen;
        } else {
            i++;
        }
    }
    if (lg->seq_sites == 0) {
        fprintf(stderr, "loadgen: --seq-token not found in the body\n");
        return -1;
    }
    lg->seq_width = tlen;
    lg->seq_max = 0;
    for (w = 0; w < tlen; w++)
        lg->seq_max = lg->seq_max * 10 + 9;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"body", required_argument, NULL, 'b'},
        {"content-type", required_argument, NULL, 't'},
        {"header", required_argument, NULL, 'H'},
        {"method", required_argument, NULL, 'm'},
        {"connections", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"rate", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 'T'},
        {"seq-token", required_argument, NULL, 's'},
        {"seq-start", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct lg *lg = NULL;
    struct event_config *cfg = NULL;
    char *url = NULL, *headers[LG_MAX_HEADERS];
    const char *body_path = NULL, *ctype = NULL, *method = NULL;
    const char *seq_token = NULL, *path = NULL;
    unsigned nheaders = 0, i;
    double conns = 8, duration = 10, warmup = 0, rate = 0, timeout = 5;
    double seq_start = 0;
    struct timeval tv;
    int opt, rc = 1;

    lg = calloc(1, sizeof(*lg));
    if (lg == NULL)
        return 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            if (strlen(optarg) > LG_MAX_URL)
                goto usage;
            free(url);
            url = strdup(optarg);
            if (url == NULL)
                goto done;
            break;
        case 'b':
            body_path = optarg;
            break;
        case 't':
            if (strpbrk(optarg, "\r\n") != NULL ||
                strlen(optarg) > LG_MAX_HEADER_LEN)
                goto usage;
            ctype = optarg;
            break;
        case 'H':
            if (nheaders == LG_MAX_HEADERS || !lg_header_ok(optarg))
                goto usage;
            headers[nheaders++] = optarg;
            break;
        case 'm':
            if (strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
                    strlen(optarg) ||
                strlen(optarg) == 0 || strlen(optarg) > 16)
                goto usage;
            method = optarg;
            break;
        case 'c':
            if (lg_parse_num(optarg, 1, LG_MAX_CONNS, &conns) != 0 ||
                conns != floor(conns))
                goto usage;
            break;
        case 'd':
            if (lg_parse_num(optarg, 0.001, LG_MAX_DURATION_S, &duration) != 0)
                goto usage;
            break;
        case 'w':
            if (lg_parse_num(optarg, 0, LG_MAX_WARMUP_S, &warmup) != 0)
                goto usage;
            break;
        case 'r':
            if (lg_parse_num(optarg, 0, LG_MAX_RATE, &rate) != 0)
                goto usage;
            break;
        case 'T':
            if (lg_parse_num(optarg, 0.001, LG_MAX_TIMEOUT_S, &timeout) != 0)
                goto usage;
            break;
        case 's':
            seq_token = optarg;
            break;
        case 'S':
            if (lg_parse_num(optarg, 0, 1e18, &seq_start) != 0 ||
                seq_start != floor(seq_start))
                goto usage;
            break;
        case 'h':
        default:
            goto usage;
        }
    }
    if (optind != argc || url == NULL)
        goto usage;
    if (seq_token != NULL && body_path == NULL) {
        fprintf(stderr, "loadgen: --seq-token needs --body\n");
        goto usage;
    }

    signal(SIGPIPE, SIG_IGN);
    if (body_path != NULL &&
        lg_load_body(body_path, &lg->body, &lg->body_len) != 0)
        goto done;
    if (lg_parse_url(lg, url, &path) != 0)
        goto done;
    if (method == NULL)
        method = lg->body != NULL ? "POST" : "GET";
    if (lg_build_head(lg, method, path, ctype, headers, nheaders) != 0)
        goto done;
    if (seq_token != NULL) {
        if (lg_find_seq(lg, seq_token) != 0)
            goto done;
        lg->seq_next = (uint64_t)seq_start;
    }

    cfg = event_config_new();
    if (cfg == NULL ||
        event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0)
        goto done;
    lg->base = event_base_new_with_config(cfg);
    if (lg->base == NULL)
        goto done;
    lg->nconn = (unsigned)conns;
    lg->rate = rate;
    lg->timeout_ns = (int64_t)(timeout * (double)LG_NS);
    lg->conns = calloc(lg->nconn, sizeof(*lg->conns));
    if (lg->conns == NULL)
        goto done;
    for (i = 0; i < lg->nconn; i++) {
        struct lg_conn *c = &lg->conns[i];

        c->lg = lg;
        c->idx = i;
        c->state = LG_CONN_CLOSED;
        c->timer = evtimer_new(lg->base, lg_conn_timer_cb, c);
        if (c->timer == NULL)
            goto done;
        if (lg->seq_sites > 0) {
            c->body = malloc(lg->body_len);
            if (c->body == NULL)
                goto done;
            memcpy(c->body, lg->body, lg->body_len);
        }
    }
    lg->grace_timer = evtimer_new(lg->base, lg_grace_cb, lg);
    if (lg->grace_timer == NULL)
        goto done;

    lg->t0 = lg_now_ns();
    lg->warm_end = lg->t0 + (int64_t)(warmup * (double)LG_NS);
    lg->end = lg->warm_end + (int64_t)(duration * (double)LG_NS);
    tv = lg_tv(lg->end - lg->t0 + lg->timeout_ns);
    if (evtimer_add(lg->grace_timer, &tv) != 0)
        goto done;
    lg->active = lg->nconn;
    for (i = 0; i < lg->nconn; i++)
        lg_conn_connect(&lg->conns[i]);
    if (lg->active > 0 && event_base_dispatch(lg->base) < 0)
        goto done;

    printf("requests=%" PRIu64 " errors=%" PRIu64 " non2xx=%" PRIu64
           " rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f",
           lg->requests, lg->errors, lg->non2xx,
           (double)lg->requests / duration, lg_hist_pct(&lg->hist, 50) / 1e6,
           lg_hist_pct(&lg->hist, 90) / 1e6, lg_hist_pct(&lg->hist, 99) / 1e6,
           (double)lg->hist.max / 1e6);
    if (lg->seq_sites > 0)
        printf(" seq_next=%" PRIu64, lg->seq_next);
    printf("\n");
    fflush(stdout);
    rc = 0;
    goto done;
usage:
    lg_usage();
    rc = 2;
done:
    if (lg->conns != NULL) {
        for (i = 0; i < lg->nconn; i++) {
            lg_conn_drop_bev(&lg->conns[i]);
            if (lg->conns[i].timer != NULL)
                event_free(lg->conns[i].timer);
            free(lg->conns[i].body);
        }
        free(lg->conns);
    }
    if (lg->grace_timer != NULL)
        event_free(lg->grace_timer);
    if (lg->base != NULL)
        event_base_free(lg->base);
    if (cfg != NULL)
        event_config_free(cfg);
    free(lg->head);
    free(lg->body);
    free(url);
    free(lg);
    return rc;
}
