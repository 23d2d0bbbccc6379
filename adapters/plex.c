/*
 * plex: the Plex Media Server adapter (PROVIDERS.md B5), with the plex.tv
 * Discover watchlist. Writes address library items by their ratingKey
 * (/:/scrobble, /:/unscrobble, /:/rate), one per request; watchlist writes
 * go to Discover by the 24-hex id of the item's plex:// guid. Reads walk the
 * movie and show sections page by page (SYNC.md 8: 500 items a page) and
 * return every movie and episode, with library_only rows for those outside
 * the feature, so the planner learns the ratingKey of what it must write;
 * deltas add a lastViewedAt>>= / lastRatedAt>>= filter (SYNC.md 5). The
 * watchlist carries no external ids, so each row is completed by a metadata
 * lookup. Pure: no I/O, no globals.
 *
 * Plex replies do not say which request they answer, so the context keeps
 * the cursor of the last read request it built for each (mode, feature) and
 * parse_index/parse_delta read the reply against it: reads of one feature of
 * one instance run one request at a time.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "event.h"
#include "jsonu.h"
#include "syncapi.h"
#include "util.h"

#define PLEX_DISCOVER       "https://discover.provider.plex.tv"
#define PLEX_METADATA       "https://metadata.provider.plex.tv"
#define PLEX_LIBRARY        "com.plexapp.plugins.library"
#define PLEX_PAGE           500 /* items per library page (SYNC.md 8) */
#define PLEX_WATCHLIST_PAGE 100 /* Discover's page (PROVIDERS.md B5) */
#define PLEX_OVERLAP_S      300 /* delta reads start 5 min early */
#define PLEX_JSON_DEPTH     32  /* Metadata > Media > Part > Stream nests */
#define PLEX_STR_CAP        1024
#define PLEX_GUIDS_MAX      32
#define PLEX_SECTIONS_MAX   256
#define PLEX_NUM_MAX        1000000
#define PLEX_COUNT_MAX      INT32_MAX

/* Plex item types in the `type=` of a section listing. */
#define PLEX_TYPE_MOVIE   1
#define PLEX_TYPE_SHOW    2
#define PLEX_TYPE_EPISODE 4

#define PLEX_KINDS                                        \
    (OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) | \
     OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |    \
     OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE))
#define PLEX_FEATURES                                              \
    (ADAPTER_BIT(ADAPTER_HISTORY) | ADAPTER_BIT(ADAPTER_RATINGS) | \
     ADAPTER_BIT(ADAPTER_WATCHLIST))
#define PLEX_DELTA_FEATURES \
    (ADAPTER_BIT(ADAPTER_HISTORY) | ADAPTER_BIT(ADAPTER_RATINGS))

enum plex_mode { PLEX_INDEX, PLEX_DELTA, PLEX_MODE_MAX };

struct plex {
    char *base_url;     /* the server */
    char *token;        /* X-Plex-Token: never in a log or an err */
    char *discover_url; /* plex.tv Discover (watchlist) */
    char *metadata_url; /* plex.tv metadata (ids of Discover rows) */
    /* The cursor of the last read request built (NULL = the first). */
    char *sent[PLEX_MODE_MAX][ADAPTER_FEATURE_MAX];
};

static void *
plex_init(const struct provider_conf *conf, const struct adapter_tokens *saved,
          const char *state_dir, char *err, size_t errlen)
{
    struct plex *p;

    (void)saved; /* a static token: nothing is saved at run time */
    (void)state_dir;
    if (conf == NULL || conf->base_url == NULL || conf->base_url[0] == '\0') {
        snprintf(err, errlen,
                 "providers.plex.base_url is required (the Plex Media "
                 "Server address, e.g. http://192.168.1.10:32400)");
        return NULL;
    }
    if (conf->token == NULL || conf->token[0] == '\0') {
        snprintf(err, errlen,
                 "providers.plex.token is required (the X-Plex-Token of the "
                 "account to sync)");
        return NULL;
    }
    if (!syncapi_token_ok(conf->token)) {
        snprintf(err, errlen,
                 "providers.plex.token is not a usable token (visible ASCII "
                 "without spaces expected)");
        return NULL;
    }
    p = xcalloc(1, sizeof(*p));
    p->base_url = syncapi_url_dup(conf->base_url, NULL);
    p->token = xstrdup(conf->token);
    p->discover_url = syncapi_url_dup(conf->discover_url, PLEX_DISCOVER);
    p->metadata_url = syncapi_url_dup(conf->metadata_url, PLEX_METADATA);
    return p;
}

static void
plex_free(void *ctx)
{
    struct plex *p = ctx;

    if (p == NULL)
        return;
    for (int m = 0; m < PLEX_MODE_MAX; m++)
        for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
            free(p->sent[m][f]);
    explicit_bzero(p->token, strlen(p->token));
    free(p->token);
    free(p->metadata_url);
    free(p->discover_url);
    free(p->base_url);
    free(p);
}

/* ---- requests --------------------------------------------------------- */

static bool
unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Append s percent-encoded (everything but RFC 3986 unreserved bytes). */
static void
esc(struct buf *b, const char *s)
{
    static const char hexd[] = "0123456789ABCDEF";

    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (unreserved(c)) {
            buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hexd[c >> 4], hexd[c & 15]};

            buf_append(b, e, 3);
        }
    }
}

/* Fill req: method, class, url (taken) and the headers of every request. */
static void
plex_request(const struct plex *p, struct http_request *req, enum http_method m,
             enum http_class c, char *url)
{
    req->method = m;
    req->rate_class = c;
    free(req->url);
    req->url = url;
    http_request_header(req, "X-Plex-Token: %s", p->token);
    http_request_header(req, "Accept: application/json");
    http_request_header(req, "X-Plex-Client-Identifier: watchrelay");
    http_request_header(req, "X-Plex-Product: watchrelay");
    http_request_header(req, "X-Plex-Version: 0.1.0");
}

static void
plex_secrets(const struct plex *p, struct syncapi_secrets *sec)
{
    memset(sec, 0, sizeof(*sec));
    sec->v[0] = p->token;
}

/* ---- cursors ----------------------------------------------------------
 *
 * Library walk:  walk;i=<section>;start=<S>;total=<T>;s=<key>:<type>,...
 * Watchlist:     wl;start=<S>;total=<T>;more=<0|1>;
 *                p=<ratingKey>:<1|2>:<guid>:<title>:<year>:<listed_at>,...
 * Strings are percent-encoded, so ';' ',' ':' only ever separate. T is -1
 * when unknown; `p` lists the watchlist rows waiting for their lookup.
 */

struct plex_section {
    char *key;
    int type; /* PLEX_TYPE_MOVIE or PLEX_TYPE_EPISODE */
};

struct plex_pending {
    enum item_type type; /* ITEM_MOVIE or ITEM_SHOW */
    char *rating_key;    /* Discover's 24-hex id */
    char *guid;          /* may be NULL */
    char *title;         /* may be NULL */
    int year;
    int64_t listed_at;
};

struct plex_cursor {
    bool watchlist;
    struct plex_section *secs;
    size_t n_secs;
    size_t cur;
    int64_t start;
    int64_t total; /* -1 = unknown */
    bool more;     /* watchlist: pages remain from start */
    struct plex_pending *pend;
    size_t n_pend;
};

static void
pending_release(struct plex_pending *pd)
{
    free(pd->rating_key);
    free(pd->guid);
    free(pd->title);
    memset(pd, 0, sizeof(*pd));
}

static void
cursor_release(struct plex_cursor *c)
{
    for (size_t i = 0; i < c->n_secs; i++)
        free(c->secs[i].key);
    free(c->secs);
    for (size_t i = 0; i < c->n_pend; i++)
        pending_release(&c->pend[i]);
    free(c->pend);
    memset(c, 0, sizeof(*c));
    c->total = -1;
}

static char *
cursor_encode(const struct plex_cursor *c)
{
    struct buf b;

    buf_init(&b);
    if (!c->watchlist) {
        buf_printf(&b,
                   "walk;i=%zu;start=%" PRId64 ";total=%" PRId64 ";s=", c->cur,
                   c->start, c->total);
        for (size_t i = 0; i < c->n_secs; i++) {
            if (i > 0)
                buf_puts(&b, ",");
            esc(&b, c->secs[i].key);
            buf_printf(&b, ":%d", c->secs[i].type);
        }
        return b.data;
    }
    buf_printf(&b,
               "wl;start=%" PRId64 ";total=%" PRId64 ";more=%d;p=", c->start,
               c->total, c->more ? 1 : 0);
    for (size_t i = 0; i < c->n_pend; i++) {
        const struct plex_pending *pd = &c->pend[i];

        if (i > 0)
            buf_puts(&b, ",");
        esc(&b, pd->rating_key);
        buf_printf(&b, ":%d:",
                   pd->type == ITEM_SHOW ? PLEX_TYPE_SHOW : PLEX_TYPE_MOVIE);
        esc(&b, pd->guid);
        buf_puts(&b, ":");
        esc(&b, pd->title);
        buf_printf(&b, ":%d:%" PRId64, pd->year, pd->listed_at);
    }
    return b.data;
}

struct span {
    const char *p; /* NULL once consumed */
    size_t n;
};

/* The next piece of *s up to sep (s moves past it); false at the end. */
static bool
next_piece(struct span *s, char sep, struct span *out)
{
    const char *hit;

    if (s->p == NULL)
        return false;
    hit = memchr(s->p, sep, s->n);
    out->p = s->p;
    if (hit == NULL) {
        out->n = s->n;
        s->p = NULL;
        s->n = 0;
    } else {
        out->n = (size_t)(hit - s->p);
        s->n -= out->n + 1;
        s->p = hit + 1;
    }
    return true;
}

static bool
span_is(struct span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decode s (owned result; an empty span gives NULL in *out). */
static int
unesc(struct span s, char **out)
{
    char *r;
    size_t o = 0;

    *out = NULL;
    if (s.n == 0)
        return 0;
    r = xmalloc(s.n + 1);
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= s.n)
                goto fail;
            hi = hexval(s.p[i + 1]);
            lo = hexval(s.p[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                goto fail;
            r[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (unreserved(c)) {
            r[o++] = (char)c;
        } else {
            goto fail;
        }
    }
    r[o] = '\0';
    *out = r;
    return 0;
fail:
    free(r);
    return -1;
}

static int
span_i64(struct span s, int64_t min, int64_t max, int64_t *out)
{
    return parse_i64n(s.p, s.n, min, max, out);
}

static int
decode_sections(struct span v, struct plex_cursor *c)
{
    struct span item, part;
    int64_t t;

    while (next_piece(&v, ',', &item)) {
        struct plex_section sec = {NULL, 0};

        if (c->n_secs >= PLEX_SECTIONS_MAX || !next_piece(&item, ':', &part) ||
            unesc(part, &sec.key) != 0 || sec.key == NULL)
            goto fail;
        if (!next_piece(&item, ':', &part) || item.p != NULL ||
            span_i64(part, 0, 99, &t) != 0 ||
            (t != PLEX_TYPE_MOVIE && t != PLEX_TYPE_EPISODE)) {
            free(sec.key);
            goto fail;
        }
        sec.type = (int)t;
        c->secs = xrealloc(c->secs, (c->n_secs + 1) * sizeof(*c->secs));
        c->secs[c->n_secs++] = sec;
    }
    return 0;
fail:
    return -1;
}

static int
decode_one_pending(struct span item, struct plex_pending *pd)
{
    struct span f[6];
    int64_t v;
    int n = 0;

    while (n < 6 && next_piece(&item, ':', &f[n]))
        n++;
    if (n != 6 || item.p != NULL)
        return -1;
    if (unesc(f[0], &pd->rating_key) != 0 || pd->rating_key == NULL)
        return -1;
    if (span_i64(f[1], 0, 99, &v) != 0 ||
        (v != PLEX_TYPE_MOVIE && v != PLEX_TYPE_SHOW))
        return -1;
    pd->type = v == PLEX_TYPE_SHOW ? ITEM_SHOW : ITEM_MOVIE;
    if (unesc(f[2], &pd->guid) != 0 || unesc(f[3], &pd->title) != 0)
        return -1;
    if (span_i64(f[4], 0, 9999, &v) != 0)
        return -1;
    pd->year = (int)v;
    if (span_i64(f[5], 0, INT64_MAX, &pd->listed_at) != 0)
        return -1;
    return 0;
}

static int
decode_pending(struct span v, struct plex_cursor *c)
{
    struct span item;

    if (v.n == 0)
        return 0;
    while (next_piece(&v, ',', &item)) {
        struct plex_pending pd;

        memset(&pd, 0, sizeof(pd));
        if (c->n_pend >= PLEX_COUNT_MAX || decode_one_pending(item, &pd) != 0) {
            pending_release(&pd);
            return -1;
        }
        c->pend = xrealloc(c->pend, (c->n_pend + 1) * sizeof(*c->pend));
        c->pend[c->n_pend++] = pd;
    }
    return 0;
}

/* 0 with *c filled (cursor_release it), or -1 on a malformed cursor. */
static int
cursor_decode(const char *text, struct plex_cursor *c)
{
    struct span all = {text, strlen(text)}, tok, name, val;
    int64_t v;

    memset(c, 0, sizeof(*c));
    c->total = -1;
    if (!next_piece(&all, ';', &tok))
        return -1;
    if (span_is(tok, "wl"))
        c->watchlist = true;
    else if (!span_is(tok, "walk"))
        return -1;
    while (next_piece(&all, ';', &tok)) {
        const char *eq = memchr(tok.p, '=', tok.n);

        if (eq == NULL)
            goto fail;
        name.p = tok.p;
        name.n = (size_t)(eq - tok.p);
        val.p = eq + 1;
        val.n = tok.n - name.n - 1;
        if (span_is(name, "i") && !c->watchlist) {
            if (span_i64(val, 0, PLEX_SECTIONS_MAX, &v) != 0)
                goto fail;
            c->cur = (size_t)v;
        } else if (span_is(name, "start")) {
            if (span_i64(val, 0, PLEX_COUNT_MAX, &c->start) != 0)
                goto fail;
        } else if (span_is(name, "total")) {
            if (span_i64(val, -1, PLEX_COUNT_MAX, &c->total) != 0)
                goto fail;
        } else if (span_is(name, "more") && c->watchlist) {
            if (span_i64(val, 0, 1, &v) != 0)
                goto fail;
            c->more = v == 1;
        } else if (span_is(name, "s") && !c->watchlist) {
            if (decode_sections(val, c) != 0)
                goto fail;
        } else if (span_is(name, "p") && c->watchlist) {
            if (decode_pending(val, c) != 0)
                goto fail;
        } else {
            goto fail;
        }
    }
    if (!c->watchlist && c->cur >= c->n_secs)
        goto fail;
    if (c->watchlist && c->n_pend == 0 && !c->more)
        goto fail;
    return 0;
fail:
    cursor_release(c);
    return -1;
}

/* ---- reply helpers ---------------------------------------------------- */

static char *
opt_str(struct json_object *o, const char *key)
{
    return jsonu_dup_str(o, key, PLEX_STR_CAP);
}

/* A string member, or an integer one as decimal (Plex ids are either). */
static char *
opt_id(struct json_object *o, const char *key)
{
    return jsonu_dup_id(o, key, PLEX_STR_CAP);
}

/* An integer in [min, max], as a number or a numeric string. */
static int
opt_num(struct json_object *o, const char *key, int64_t min, int64_t max,
        int64_t *out)
{
    int64_t v;

    if (o == NULL || jget_i64_lenient(o, key, &v) != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* An epoch-seconds time; 0 when absent or not a time. */
static int64_t
opt_time(struct json_object *o, const char *key)
{
    const char *s;
    int64_t v;

    if (opt_num(o, key, 1, INT64_MAX / 2, &v) == 0)
        return v;
    if (jget_str(o, key, &s) == 0 && wr_time_parse(s, &v) == 0 && v > 0)
        return v;
    return 0;
}

/* A number, or a string holding one ("7.5"). */
static int
opt_double(struct json_object *o, const char *key, double *out)
{
    const char *s;
    char *end;
    double v;

    if (jget_num(o, key, out) == 0)
        return isfinite(*out) ? 0 : -1;
    if (jget_str(o, key, &s) != 0)
        return -1;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return -1;
    v = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (*end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* The item's `guid` string and `Guid[].id` array (keys case-sensitive). */
static void
apply_guids(struct item *it, struct json_object *md)
{
    struct json_object *guids;
    const char *s;

    if (jget_str(md, "guid", &s) == 0)
        item_apply_guid(it, s);
    if (jget_arr(md, "Guid", &guids) == 0) {
        size_t n = json_object_array_length(guids);

        for (size_t i = 0; i < n && i < PLEX_GUIDS_MAX; i++) {
            struct json_object *g = json_object_array_get_idx(guids, i);

            if (g != NULL && json_object_is_type(g, json_type_object) &&
                jget_str(g, "id", &s) == 0)
                item_apply_guid(it, s);
        }
    }
}

/* Show ids from an episode's grandparentGuid (plex://show/…, or a legacy
 * agent guid naming the show). */
static void
apply_show_guid(struct item *it, struct json_object *md)
{
    const char *g;
    struct item show;

    if (jget_str(md, "grandparentGuid", &g) != 0)
        return;
    item_init(&show);
    show.type = ITEM_SHOW;
    if (item_apply_guid(&show, g) == 0) {
        for (int i = 0; i < ITEM_ID_MAX; i++) {
            if (show.ids.v[i] != NULL && it->show_ids.v[i] == NULL) {
                it->show_ids.v[i] = show.ids.v[i];
                show.ids.v[i] = NULL;
            }
        }
    }
    item_release(&show);
}

/* A library item (movie or episode) as a normalized item. */
static void
library_item(struct item *it, struct json_object *md, enum item_type t)
{
    char *key;
    int64_t v;

    it->type = t;
    it->title = opt_str(md, "title");
    if (opt_num(md, "year", 1, 9999, &v) == 0)
        it->year = (int)v;
    apply_guids(it, md);
    key = opt_id(md, "ratingKey");
    if (key != NULL)
        item_ids_set(&it->ids, ITEM_ID_PLEX, key);
    free(key);
    if (t != ITEM_EPISODE)
        return;
    free(it->show_title);
    it->show_title = opt_str(md, "grandparentTitle");
    if (opt_num(md, "parentIndex", 0, PLEX_NUM_MAX, &v) == 0)
        it->season = (int)v;
    if (opt_num(md, "index", 0, PLEX_NUM_MAX, &v) == 0)
        it->episode = (int)v;
    apply_show_guid(it, md);
}

static void
entry_init(struct adapter_entry *e)
{
    memset(e, 0, sizeof(*e));
    item_init(&e->item);
    e->progress = -1;
    e->position = -1;
}

static void
reply_error(const struct plex *p, const struct http_response *resp,
            const char *what, char *err, size_t errlen)
{
    struct syncapi_secrets sec;
    char msg[160];

    plex_secrets(p, &sec);
    syncapi_reply_message(&sec, resp, msg, sizeof(msg));
    if (resp->status == 0)
        snprintf(err, errlen, "Plex %s: transport error: %s", what, msg);
    else if (resp->status == 401 || resp->status == 403 || resp->status == 498)
        snprintf(err, errlen,
                 "Plex %s: unauthorized (http %ld): check "
                 "providers.plex.token",
                 what, resp->status);
    else
        snprintf(err, errlen, "Plex %s failed: http %ld: %s", what,
                 resp->status, msg);
}

/* The reply's MediaContainer (root owned by the caller), or -1 with err. */
static int
reply_container(const struct plex *p, const struct http_response *resp,
                const char *what, struct json_object **root,
                struct json_object **mc, char *err, size_t errlen)
{
    char perr[96] = "empty body";

    *root = NULL;
    if (resp->status < 200 || resp->status > 299) {
        reply_error(p, resp, what, err, errlen);
        return -1;
    }
    if (resp->body != NULL && resp->body_len > 0)
        *root = jsonu_parse(resp->body, resp->body_len, PLEX_JSON_DEPTH, perr,
                            sizeof(perr));
    if (*root == NULL) {
        snprintf(err, errlen, "Plex %s: malformed reply (%s)", what, perr);
        return -1;
    }
    if (jget_obj(*root, "MediaContainer", mc) != 0) {
        snprintf(err, errlen, "Plex %s: malformed reply (no MediaContainer)",
                 what);
        json_object_put(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

/* MediaContainer.Metadata (absent when empty) and its length. */
static size_t
container_items(struct json_object *mc, struct json_object **md)
{
    if (jget_arr(mc, "Metadata", md) != 0) {
        *md = NULL;
        return 0;
    }
    return json_object_array_length(*md);
}

/* The advertised total: totalSize, else X-Plex-Container-Total-Size, else
 * def (-1 = unknown). */
static int64_t
container_total(struct json_object *mc, const struct http_response *resp,
                int64_t def)
{
    const char *h;
    int64_t v;

    if (opt_num(mc, "totalSize", 0, PLEX_COUNT_MAX, &v) == 0)
        return v;
    h = http_response_header(resp, "X-Plex-Container-Total-Size");
    if (h != NULL) {
        while (*h == ' ')
            h++;
        if (parse_i64n(h, strcspn(h, " \t\r\n"), 0, PLEX_COUNT_MAX, &v) == 0)
            return v;
    }
    return def;
}

/*
 * Move a paging cursor past a page of n items starting at c->start, given
 * the advertised total (-1 unknown) and the requested page size. Returns 1
 * when more pages follow, 0 when the listing is complete, -1 with err when
 * it ended before its total.
 */
static int
advance(struct plex_cursor *c, size_t n, int64_t total, int64_t page,
        const char *what, char *err, size_t errlen)
{
    int64_t next = c->start + (int64_t)n;

    if (total >= 0 && next < total) {
        if (n == 0) {
            snprintf(err, errlen,
                     "incomplete read: Plex %s ended at %" PRId64 " of %" PRId64
                     " items",
                     what, c->start, total);
            return -1;
        }
        c->start = next;
        c->total = total;
        return 1;
    }
    if (total < 0 && (int64_t)n >= page && next < PLEX_COUNT_MAX) {
        c->start = next;
        return 1;
    }
    return 0;
}

/* ---- library reads (history, ratings) --------------------------------- */

static int
walk_build(struct plex *p, enum adapter_feature f, bool delta, int64_t since,
           const char *cursor, struct http_request *req, char *err,
           size_t errlen)
{
    struct plex_cursor c;
    const struct plex_section *sec;
    struct buf b;

    if (cursor == NULL) {
        plex_request(p, req, HTTP_GET, HTTP_CLASS_READ,
                     xasprintf("%s/library/sections", p->base_url));
        return 0;
    }
    if (cursor_decode(cursor, &c) != 0 || c.watchlist) {
        if (c.watchlist)
            cursor_release(&c);
        snprintf(err, errlen, "malformed Plex library cursor");
        return -1;
    }
    sec = &c.secs[c.cur];
    buf_init(&b);
    buf_printf(&b, "%s/library/sections/", p->base_url);
    esc(&b, sec->key);
    buf_printf(&b,
               "/all?type=%d&includeGuids=1&X-Plex-Container-Start=%" PRId64
               "&X-Plex-Container-Size=%d",
               sec->type, c.start, PLEX_PAGE);
    if (delta) {
        int64_t from = since > PLEX_OVERLAP_S ? since - PLEX_OVERLAP_S : 0;

        /* Plex's media-query "after" operator, appended raw. */
        buf_printf(&b, "&%s>>=%" PRId64,
                   f == ADAPTER_HISTORY ? "lastViewedAt" : "lastRatedAt", from);
    }
    plex_request(p, req, HTTP_GET, HTTP_CLASS_READ, b.data);
    cursor_release(&c);
    return 0;
}

/* The movie and show sections: the walk's first cursor (no rows). */
static int
sections_parse(struct plex *p, const struct http_response *resp,
               struct adapter_page *out, char *err, size_t errlen)
{
    struct json_object *root = NULL, *mc, *dirs;
    struct plex_cursor c;
    size_t n;

    if (reply_container(p, resp, "library sections", &root, &mc, err, errlen) !=
        0)
        return -1;
    memset(&c, 0, sizeof(c));
    c.total = -1;
    n = jget_arr(mc, "Directory", &dirs) == 0 ? json_object_array_length(dirs)
                                              : 0;
    for (size_t i = 0; i < n && c.n_secs < PLEX_SECTIONS_MAX; i++) {
        struct json_object *d = json_object_array_get_idx(dirs, i);
        const char *type;
        char *key;
        int t;

        if (d == NULL || !json_object_is_type(d, json_type_object) ||
            jget_str(d, "type", &type) != 0)
            continue;
        if (strcmp(type, "movie") == 0)
            t = PLEX_TYPE_MOVIE;
        else if (strcmp(type, "show") == 0)
            t = PLEX_TYPE_EPISODE;
        else
            continue; /* music, photos */
        key = opt_id(d, "key");
        if (key == NULL)
            continue;
        c.secs = xrealloc(c.secs, (c.n_secs + 1) * sizeof(*c.secs));
        c.secs[c.n_secs].key = key;
        c.secs[c.n_secs].type = t;
        c.n_secs++;
    }
    if (c.n_secs > 0)
        out->next_cursor = cursor_encode(&c);
    cursor_release(&c);
    json_object_put(root);
    return 0;
}

/*
 * One library item as a row of feature f. Returns false when it is no row
 * (not a movie or an episode; in a delta, outside the feature). *at gets
 * the item's lastViewedAt / lastRatedAt (0 if none) for the watermark.
 */
static bool
walk_row(struct json_object *md, int section_type, enum adapter_feature f,
         bool delta, struct adapter_entry *e, int64_t *at)
{
    enum item_type t;
    const char *type;
    double rating;
    int64_t count;
    bool in = false;

    *at = 0;
    if (md == NULL || !json_object_is_type(md, json_type_object))
        return false;
    if (jget_str(md, "type", &type) == 0) {
        if (strcmp(type, "movie") == 0)
            t = ITEM_MOVIE;
        else if (strcmp(type, "episode") == 0)
            t = ITEM_EPISODE;
        else
            return false; /* tracks, clips, trailers */
    } else {
        t = section_type == PLEX_TYPE_MOVIE ? ITEM_MOVIE : ITEM_EPISODE;
    }
    entry_init(e);
    if (f == ADAPTER_HISTORY) {
        *at = opt_time(md, "lastViewedAt");
        in = opt_num(md, "viewCount", 1, INT64_MAX, &count) == 0;
        if (in)
            e->watched_at = *at;
    } else {
        *at = opt_time(md, "lastRatedAt");
        if (opt_double(md, "userRating", &rating) == 0)
            e->rating = rating_canonical(rating);
        in = e->rating > 0;
        if (in)
            e->rated_at = *at;
        else
            e->rating = 0;
    }
    if (!in && delta) {
        item_release(&e->item);
        return false;
    }
    e->library_only = !in;
    library_item(&e->item, md, t);
    return true;
}

static int
walk_parse(struct plex *p, enum plex_mode mode, enum adapter_feature f,
           const struct http_response *resp, struct adapter_page *out,
           char *err, size_t errlen)
{
    const char *sent = p->sent[mode][f];
    struct json_object *root = NULL, *mc, *md;
    struct plex_cursor c;
    int64_t wm = 0, at;
    size_t n;
    char what[96], key[48];
    int rc = -1, more;

    if (sent == NULL)
        return sections_parse(p, resp, out, err, errlen);
    if (cursor_decode(sent, &c) != 0 || c.watchlist) {
        if (c.watchlist)
            cursor_release(&c);
        snprintf(err, errlen, "malformed Plex library cursor");
        return -1;
    }
    str_escape(c.secs[c.cur].key, strlen(c.secs[c.cur].key), key, sizeof(key));
    snprintf(what, sizeof(what), "library section %s", key);
    if (reply_container(p, resp, what, &root, &mc, err, errlen) != 0)
        goto done;
    n = container_items(mc, &md);
    if (n > 0)
        out->rows = xcalloc(n, sizeof(*out->rows));
    for (size_t i = 0; i < n; i++) {
        if (walk_row(json_object_array_get_idx(md, i), c.secs[c.cur].type, f,
                     mode == PLEX_DELTA, &out->rows[out->n], &at))
            out->n++;
        if (at > wm)
            wm = at;
    }
    more = advance(&c, n, container_total(mc, resp, c.total), PLEX_PAGE, what,
                   err, errlen);
    if (more < 0)
        goto done;
    if (more == 0) {
        c.cur++;
        c.start = 0;
        c.total = -1;
    }
    if (c.cur < c.n_secs)
        out->next_cursor = cursor_encode(&c);
    if (mode == PLEX_DELTA)
        out->watermark = wm;
    rc = 0;
done:
    if (rc != 0)
        adapter_page_release(out);
    json_object_put(root);
    cursor_release(&c);
    return rc;
}

/* ---- watchlist (plex.tv Discover) ------------------------------------- */

static int
watchlist_build(struct plex *p, const char *cursor, struct http_request *req,
                char *err, size_t errlen)
{
    struct plex_cursor c;
    struct buf b;

    buf_init(&b);
    if (cursor == NULL) {
        memset(&c, 0, sizeof(c));
        c.watchlist = true;
        c.total = -1;
        c.more = true;
    } else if (cursor_decode(cursor, &c) != 0 || !c.watchlist) {
        if (!c.watchlist)
            cursor_release(&c);
        snprintf(err, errlen, "malformed Plex watchlist cursor");
        return -1;
    }
    if (c.n_pend > 0) {
        buf_printf(&b, "%s/library/metadata/", p->metadata_url);
        esc(&b, c.pend[0].rating_key);
        buf_puts(&b, "?includeGuids=1");
    } else {
        buf_printf(&b,
                   "%s/library/sections/watchlist/all?includeCollections=1"
                   "&includeExternalMedia=1&X-Plex-Container-Start=%" PRId64
                   "&X-Plex-Container-Size=%d",
                   p->discover_url, c.start, PLEX_WATCHLIST_PAGE);
    }
    plex_request(p, req, HTTP_GET, HTTP_CLASS_READ, b.data);
    cursor_release(&c);
    return 0;
}

/* The row of a pending watchlist item, completed by its metadata (md may
 * be NULL: only the guid is known). */
static void
watchlist_row(const struct plex_pending *pd, struct json_object *md,
              struct adapter_entry *e)
{
    int64_t v;

    entry_init(e);
    e->item.type = pd->type;
    e->item.title = pd->title != NULL ? xstrdup(pd->title) : NULL;
    e->item.year = pd->year;
    e->listed_at = pd->listed_at;
    if (pd->guid != NULL)
        item_apply_guid(&e->item, pd->guid);
    if (md == NULL)
        return;
    apply_guids(&e->item, md);
    if (e->item.title == NULL)
        e->item.title = opt_str(md, "title");
    if (e->item.year == 0 && opt_num(md, "year", 1, 9999, &v) == 0)
        e->item.year = (int)v;
}

/* A Discover row as a pending lookup; -1 when it is no movie or show. */
static int
watchlist_pending(struct json_object *md, struct plex_pending *pd)
{
    const char *type;
    int64_t v;

    memset(pd, 0, sizeof(*pd));
    if (md == NULL || !json_object_is_type(md, json_type_object) ||
        jget_str(md, "type", &type) != 0)
        return -1;
    if (strcmp(type, "movie") == 0)
        pd->type = ITEM_MOVIE;
    else if (strcmp(type, "show") == 0)
        pd->type = ITEM_SHOW;
    else
        return -1; /* collections, seasons, episodes */
    pd->rating_key = opt_id(md, "ratingKey");
    pd->guid = opt_str(md, "guid");
    if (pd->guid == NULL && pd->rating_key != NULL)
        pd->guid = xasprintf("plex://%s/%s", type, pd->rating_key);
    pd->title = opt_str(md, "title");
    if (opt_num(md, "year", 1, 9999, &v) == 0)
        pd->year = (int)v;
    pd->listed_at = opt_time(md, "watchlistedAt");
    if (pd->listed_at == 0)
        pd->listed_at = opt_time(md, "addedAt");
    return 0;
}

/* A page of the watchlist: no rows yet (but rows without a ratingKey,
 * which cannot be looked up), a cursor listing the lookups. */
static int
watchlist_page_parse(struct plex *p, struct plex_cursor *c,
                     const struct http_response *resp, struct adapter_page *out,
                     char *err, size_t errlen)
{
    struct json_object *root = NULL, *mc, *md;
    size_t n;
    int more, rc = -1;

    if (reply_container(p, resp, "watchlist", &root, &mc, err, errlen) != 0)
        return -1;
    n = container_items(mc, &md);
    if (n > 0) {
        out->rows = xcalloc(n, sizeof(*out->rows));
        c->pend = xcalloc(n, sizeof(*c->pend));
    }
    for (size_t i = 0; i < n; i++) {
        struct plex_pending pd;

        if (watchlist_pending(json_object_array_get_idx(md, i), &pd) != 0) {
            pending_release(&pd);
            continue;
        }
        if (pd.rating_key != NULL) {
            c->pend[c->n_pend++] = pd;
        } else {
            watchlist_row(&pd, NULL, &out->rows[out->n++]);
            pending_release(&pd);
        }
    }
    more = advance(c, n, container_total(mc, resp, c->total),
                   PLEX_WATCHLIST_PAGE, "watchlist", err, errlen);
    if (more < 0)
        goto done;
    c->more = more == 1;
    if (c->n_pend > 0 || c->more)
        out->next_cursor = cursor_encode(c);
    rc = 0;
done:
    if (rc != 0)
        adapter_page_release(out);
    json_object_put(root);
    return rc;
}

/* The metadata lookup of the first pending row: that row. */
static int
watchlist_lookup_parse(struct plex *p, struct plex_cursor *c,
                       const struct http_response *resp,
                       struct adapter_page *out, char *err, size_t errlen)
{
    struct json_object *root = NULL, *mc, *md, *first = NULL;

    /* Not in plex.tv's metadata: the row keeps only its guid. */
    if (resp->status != 404) {
        if (reply_container(p, resp, "metadata lookup", &root, &mc, err,
                            errlen) != 0)
            return -1;
        if (container_items(mc, &md) > 0)
            first = json_object_array_get_idx(md, 0);
        if (first != NULL && !json_object_is_type(first, json_type_object))
            first = NULL;
    }
    out->rows = xcalloc(1, sizeof(*out->rows));
    watchlist_row(&c->pend[0], first, &out->rows[0]);
    out->n = 1;
    json_object_put(root);
    pending_release(&c->pend[0]);
    memmove(&c->pend[0], &c->pend[1], (c->n_pend - 1) * sizeof(*c->pend));
    c->n_pend--;
    if (c->n_pend > 0 || c->more)
        out->next_cursor = cursor_encode(c);
    return 0;
}

static int
watchlist_parse(struct plex *p, const struct http_response *resp,
                struct adapter_page *out, char *err, size_t errlen)
{
    const char *sent = p->sent[PLEX_INDEX][ADAPTER_WATCHLIST];
    struct plex_cursor c;
    int rc;

    if (sent == NULL) {
        memset(&c, 0, sizeof(c));
        c.watchlist = true;
        c.total = -1;
    } else if (cursor_decode(sent, &c) != 0 || !c.watchlist) {
        if (!c.watchlist)
            cursor_release(&c);
        snprintf(err, errlen, "malformed Plex watchlist cursor");
        return -1;
    }
    if (c.n_pend > 0)
        rc = watchlist_lookup_parse(p, &c, resp, out, err, errlen);
    else
        rc = watchlist_page_parse(p, &c, resp, out, err, errlen);
    cursor_release(&c);
    return rc;
}

/* ---- read entry points ------------------------------------------------ */

static void
remember(struct plex *p, enum plex_mode mode, enum adapter_feature f,
         const char *cursor)
{
    char *copy = cursor != NULL ? xstrdup(cursor) : NULL;

    free(p->sent[mode][f]);
    p->sent[mode][f] = copy;
}

static int
plex_build_index(void *ctx, enum adapter_feature f, const char *cursor,
                 struct http_request *req, char *err, size_t errlen)
{
    struct plex *p = ctx;
    int rc;

    if (f == ADAPTER_HISTORY || f == ADAPTER_RATINGS)
        rc = walk_build(p, f, false, 0, cursor, req, err, errlen);
    else if (f == ADAPTER_WATCHLIST)
        rc = watchlist_build(p, cursor, req, err, errlen);
    else {
        snprintf(err, errlen, "Plex has no %s read", adapter_feature_name(f));
        return -1;
    }
    if (rc == 0)
        remember(p, PLEX_INDEX, f, cursor);
    return rc;
}

static int
plex_parse_index(void *ctx, enum adapter_feature f,
                 const struct http_response *resp, struct adapter_page *out,
                 char *err, size_t errlen)
{
    struct plex *p = ctx;

    if (f == ADAPTER_HISTORY || f == ADAPTER_RATINGS)
        return walk_parse(p, PLEX_INDEX, f, resp, out, err, errlen);
    if (f == ADAPTER_WATCHLIST)
        return watchlist_parse(p, resp, out, err, errlen);
    snprintf(err, errlen, "Plex has no %s read", adapter_feature_name(f));
    return -1;
}

static int
plex_build_delta(void *ctx, enum adapter_feature f, int64_t since,
                 const char *cursor, struct http_request *req, char *err,
                 size_t errlen)
{
    struct plex *p = ctx;

    if (f != ADAPTER_HISTORY && f != ADAPTER_RATINGS) {
        snprintf(err, errlen, "Plex has no delta read for %s",
                 adapter_feature_name(f));
        return -1;
    }
    if (walk_build(p, f, true, since, cursor, req, err, errlen) != 0)
        return -1;
    remember(p, PLEX_DELTA, f, cursor);
    return 0;
}

static int
plex_parse_delta(void *ctx, enum adapter_feature f,
                 const struct http_response *resp, struct adapter_page *out,
                 char *err, size_t errlen)
{
    struct plex *p = ctx;

    if (f != ADAPTER_HISTORY && f != ADAPTER_RATINGS) {
        snprintf(err, errlen, "Plex has no delta read for %s",
                 adapter_feature_name(f));
        return -1;
    }
    return walk_parse(p, PLEX_DELTA, f, resp, out, err, errlen);
}

/* ---- writes ----------------------------------------------------------- */

static bool
is_watchlist(enum op_kind k)
{
    return k == OP_WATCHLIST_ADD || k == OP_WATCHLIST_REMOVE;
}

/* The 24-hex Discover id of the item's plex://movie/… or plex://show/…
 * guid, or NULL. Borrowed from op. */
static const char *
discover_id(const struct op *op)
{
    static const char *const prefixes[] = {"plex://movie/", "plex://show/"};
    const char *g = op->item.ids.v[ITEM_ID_GUID];

    if (g == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);

        if (strncmp(g, prefixes[i], n) == 0 && g[n] != '\0' &&
            strchr(g + n, '/') == NULL)
            return g + n;
    }
    return NULL;
}

static int
plex_build(void *ctx, const struct op *const *ops, size_t n,
           struct http_request *req, char *err, size_t errlen)
{
    struct plex *p = ctx;
    const struct op *op;
    const char *rk, *action = NULL, *hex;
    char what[192];
    struct buf b;

    if (n != 1 || ops == NULL || ops[0] == NULL) {
        snprintf(err, errlen, "Plex takes one operation per request");
        return -1;
    }
    op = ops[0];
    if (op->kind >= OP_KIND_MAX || (PLEX_KINDS & OP_BIT(op->kind)) == 0) {
        snprintf(err, errlen, "Plex does not take %s operations",
                 op_kind_name(op->kind));
        return -1;
    }
    if (is_watchlist(op->kind)) {
        hex = discover_id(op);
        if (hex == NULL) {
            syncapi_describe(op, what, sizeof(what));
            snprintf(err, errlen,
                     "%s: no plex:// guid for the Discover watchlist", what);
            return -1;
        }
        buf_init(&b);
        buf_printf(&b, "%s/actions/%s?ratingKey=", p->discover_url,
                   op->kind == OP_WATCHLIST_ADD ? "addToWatchlist"
                                                : "removeFromWatchlist");
        esc(&b, hex);
        plex_request(p, req, HTTP_PUT, HTTP_CLASS_WRITE, b.data);
        return 0;
    }
    if (op->kind == OP_RATING_SET && (op->rating < 1 || op->rating > 10)) {
        snprintf(err, errlen, "invalid: rating %d is outside 1-10", op->rating);
        return -1;
    }
    rk = op->item.ids.v[ITEM_ID_PLEX];
    if (rk == NULL || rk[0] == '\0') {
        syncapi_describe(op, what, sizeof(what));
        snprintf(err, errlen, "%s is not in the Plex library (no ratingKey)",
                 what);
        return -1;
    }
    switch (op->kind) {
    case OP_HISTORY_ADD:
        action = "scrobble";
        break;
    case OP_HISTORY_REMOVE:
        action = "unscrobble";
        break;
    default:
        action = "rate";
        break;
    }
    buf_init(&b);
    buf_printf(&b, "%s/:/%s?identifier=%s&key=", p->base_url, action,
               PLEX_LIBRARY);
    esc(&b, rk);
    if (op->kind == OP_RATING_SET) {
        buf_printf(&b, "&rating=%d", op->rating);
        if (op->rated_at > 0)
            buf_printf(&b, "&ratedAt=%" PRId64, op->rated_at);
    } else if (op->kind == OP_RATING_CLEAR) {
        /* PROVIDERS.md open question 1 (SYNC.md open choice 3): plexapi
         * clears with -1, CrossWatch with 0; we follow plexapi, since 0 is
         * also a value of the 0-10 scale. */
        buf_puts(&b, "&rating=-1");
    }
    plex_request(p, req, HTTP_PUT, HTTP_CLASS_WRITE, b.data);
    return 0;
}

/* Whether the body holds needle, in any case. */
static bool
body_says(const struct http_response *resp, const char *needle)
{
    size_t n = strlen(needle);

    if (resp->body == NULL || resp->body_len < n)
        return false;
    for (size_t i = 0; i + n <= resp->body_len; i++) {
        size_t j = 0;

        while (j < n) {
            char a = resp->body[i + j], b = needle[j];

            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (a != b)
                break;
            j++;
        }
        if (j == n)
            return true;
    }
    return false;
}

static void
verdict(struct adapter_result *r, enum adapter_outcome o, int64_t ms,
        const char *reason)
{
    r->outcome = o;
    r->retry_after_ms = ms;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static void
classify_one(const struct plex *p, const struct op *op,
             const struct http_response *resp, struct adapter_result *r)
{
    struct syncapi_secrets sec;
    long st = resp->status;
    char msg[160], what[192], reason[256];
    int64_t ms;

    memset(r, 0, sizeof(*r));
    if (st >= 200 && st <= 299) {
        verdict(r, ADAPTER_DONE, 0, "");
        return;
    }
    /* Discover is idempotent in effect: already (not) there is done. */
    if (op != NULL && is_watchlist(op->kind) &&
        (st == 404 || st == 409 ||
         body_says(resp, "already on the watchlist") ||
         body_says(resp, "not on the watchlist"))) {
        verdict(r, ADAPTER_DONE, 0, "");
        return;
    }
    plex_secrets(p, &sec);
    syncapi_reply_message(&sec, resp, msg, sizeof(msg));
    ms = syncapi_retry_after_ms(resp);
    if (st == 0) {
        snprintf(reason, sizeof(reason), "transport: %s", msg);
        verdict(r, ADAPTER_RETRY, 0, reason);
    } else if (st == 401 || st == 498) {
        snprintf(reason, sizeof(reason),
                 "Plex rejected the token (%ld): renew providers.plex.token",
                 st);
        verdict(r, ADAPTER_PAUSE, 0, reason);
    } else if (st == 403 || st == 423) {
        snprintf(reason, sizeof(reason),
                 "Plex refused access (%ld): check that providers.plex.token "
                 "may change this server's library",
                 st);
        verdict(r, ADAPTER_PAUSE, 0, reason);
    } else if (st == 429) {
        verdict(r, ADAPTER_RATE, ms > 0 ? ms : 1000, "rate limited (429)");
    } else if (st == 404) {
        if (op != NULL)
            syncapi_describe(op, what, sizeof(what));
        else
            snprintf(what, sizeof(what), "the item");
        snprintf(reason, sizeof(reason),
                 "not_found: %s is not in the Plex library", what);
        verdict(r, ADAPTER_PERMANENT, 0, reason);
    } else if (st == 400 || st == 422) {
        snprintf(reason, sizeof(reason), "invalid: http %ld: %s", st, msg);
        verdict(r, ADAPTER_PERMANENT, 0, reason);
    } else if (st >= 400 && st <= 499) {
        snprintf(reason, sizeof(reason), "http %ld: %s", st, msg);
        verdict(r, ADAPTER_PERMANENT, 0, reason);
    } else {
        snprintf(reason, sizeof(reason), "http %ld: %s", st, msg);
        verdict(r, ADAPTER_RETRY, ms > 0 ? ms : 0, reason);
    }
}

static void
plex_classify(void *ctx, const struct op *const *ops, size_t n,
              const struct http_response *resp, struct adapter_result *results)
{
    const struct plex *p = ctx;

    for (size_t i = 0; i < n; i++)
        classify_one(p, ops != NULL ? ops[i] : NULL, resp, &results[i]);
}

const struct adapter_ops adapter_plex = {
    .name = "plex",
    .kinds = PLEX_KINDS,
    .batch_kinds = 0,
    .max_batch = 1,
    .scrobble_api = false,
    .limits =
        {
            .write_interval_ms = 50,
            .write_inflight = 1,
            .read_per_window = 0,
            .read_window_s = 0,
        },
    .init = plex_init,
    .free = plex_free,
    .build = plex_build,
    .classify = plex_classify,
    .features = PLEX_FEATURES,
    .delta_features = PLEX_DELTA_FEATURES,
    .has_local_id = true,
    .local_id = ITEM_ID_PLEX,
    .dated_history = false,
    .phantom_grace_s = 900,
    .build_index = plex_build_index,
    .parse_index = plex_parse_index,
    .build_activities = NULL,
    .parse_activities = NULL,
    .build_delta = plex_build_delta,
    .parse_delta = plex_parse_delta,
    .apply = NULL,
};
