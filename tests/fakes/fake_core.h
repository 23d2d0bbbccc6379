/*
 * fake_core: the shared half of fakeprov, included once, by fakeprov.c only
 * (the Makefile builds every .c file in tests/fakes as its own program, so
 * the fake is one translation unit split over header-only files). It holds the
 * server state, request and reply helpers, time formatting, the media
 * catalog and the planner that reads Trakt/SIMKL sync bodies.
 *
 * All state lives in json-c objects so that /_fake/state can dump it and
 * accept_but_drop faults can roll a provider back with one deep copy.
 */
#ifndef WR_FAKE_CORE_H
#define WR_FAKE_CORE_H

#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <json-c/json.h>

#include "item.h"
#include "jsonu.h"
#include "util.h"

#define FK_MAX_BODY      (32 * 1024 * 1024)
#define FK_MAX_HEADERS   (64 * 1024)
#define FK_TIMEOUT_S     60
#define FK_JSON_DEPTH    32
#define FK_LOG_MAX       100000
#define FK_LOG_BODY_MAX  (64 * 1024)
#define FK_MAX_SEGS      8
#define FK_MAX_HDRS      12
#define FK_ISO_BUF       96
#define FK_HOUR_MS       (3600 * 1000LL)
#define FK_TRAKT_ID_BASE 900000001LL
#define FK_SIMKL_ID_BASE 800000001LL

enum fk_prov {
    FK_TRAKT,
    FK_SIMKL,
    FK_PLEX,          /* Plex Media Server, /plex */
    FK_PLEX_DISCOVER, /* discover.provider.plex.tv, /plex-discover */
    FK_PLEX_METADATA, /* metadata.provider.plex.tv, /plex-metadata */
    FK_JELLYFIN,
    FK_EMBY,
    FK_CONTROL,
    FK_NONE
};

/* The name of a provider in the request log, fault rules and the state. */
static const char *
fk_prov_name(enum fk_prov p)
{
    static const char *const names[] = {
        "trakt",    "simkl", "plex",    "plex-discover", "plex-metadata",
        "jellyfin", "emby",  "control", "none"};

    return names[p];
}

/* Catalog entry kinds, in the order Trakt lists them in bodies. */
enum fk_kind { FK_MOVIE, FK_SHOW, FK_SEASON, FK_EPISODE, FK_KIND_MAX };

static const char *const fk_kind_name[FK_KIND_MAX] = {"movie", "show", "season",
                                                      "episode"};
static const char *const fk_kind_plural[FK_KIND_MAX] = {"movies", "shows",
                                                        "seasons", "episodes"};
static const char fk_kind_letter[FK_KIND_MAX] = {'m', 's', 'n', 'e'};

/* External ids the catalog indexes; all but slug and imdb are integers. */
static const char *const fk_id_names[] = {"trakt",   "imdb", "tmdb", "tvdb",
                                          "simkl",   "slug", "mal",  "anidb",
                                          "anilist", "kitsu"};
#define FK_N_IDS (sizeof(fk_id_names) / sizeof(fk_id_names[0]))

/* Knobs: set from the command line, changed at run time by /_fake/config. */
struct fk_opts {
    int port;
    bool verbose;
    bool rate_limit;
    int64_t trakt_write_interval_ms;
    int64_t trakt_read_limit;
    int64_t trakt_read_window_s;
    int64_t simkl_write_interval_ms;
    int64_t token_ttl_s;
    int64_t device_interval_s;
    int64_t device_expires_s;
    int64_t pin_interval_s;
    int64_t pin_expires_s;
    int64_t trakt_watchlist_limit; /* 0 = none */
    bool catalog_open;
    bool trakt_ct_on_get; /* Content-Type required on GETs too */
    int64_t simkl_history_status;
    bool simkl_date_from_watched;
    bool simkl_empty_null;
    const char *client_id;
    const char *client_secret;
    const char *simkl_client_id;
    const char *simkl_client_secret;
    const char *access_token;
    const char *refresh_token;
    const char *simkl_token;
    const char *redirect_uri;
    /* Media servers (fake_plex.h, fake_mb.h). */
    const char *plex_token;
    const char *jellyfin_key;
    const char *jellyfin_user;
    const char *emby_key;
    const char *emby_user;
    bool jellyfin_legacy_auth;  /* X-Emby-Token, ?api_key= … accepted */
    bool jellyfin_played_quirk; /* MarkPlayed without a date as the server */
    bool plex_scrobble_history; /* /:/scrobble adds a history row */
};

struct fk_media_cache;

struct fk_req;

struct fake {
    struct event_base *base;
    struct evhttp *http;
    struct fk_opts cli; /* as given on the command line */
    struct fk_opts cfg; /* live */
    int64_t mono0;
    int64_t clock_offset_ms;
    struct json_object *cat;     /* array of catalog entries */
    struct json_object *cat_idx; /* "m:tmdb:329865" -> index */
    int64_t next_trakt_id;
    int64_t next_simkl_id;
    struct json_object *st;     /* {"trakt":{...},"simkl":{...}} */
    struct json_object *faults; /* array of rules */
    struct json_object *log;    /* array of request records */
    int64_t log_seq;
    int64_t log_dropped;
    int64_t trakt_last_write; /* monotonic ms; -1 none */
    int64_t *trakt_reads;     /* ring of monotonic ms */
    size_t trakt_reads_cap;
    size_t trakt_reads_n;
    size_t trakt_reads_head;
    int simkl_busy;
    int64_t simkl_last_write_end; /* monotonic ms; -1 none */
    struct fk_req *pending;       /* replies waiting on a timer */
    uint64_t media_gen;           /* bumped by every media change */
    struct fk_media_cache *mcache;
};

struct fk_hdr {
    char *name;
    char *value;
};

enum fk_after { FK_AFTER_SEND, FK_AFTER_DROP };

struct fk_req {
    struct fake *f;
    struct evhttp_request *req;
    struct fk_req *prev, *next; /* on f->pending while a timer runs */
    enum fk_prov prov;
    const char *method;
    char *path; /* provider-relative ("/sync/history"), owned */
    char *segs[FK_MAX_SEGS];
    size_t nsegs;
    bool too_many_segs;
    struct evkeyvalq query;
    bool query_bad;
    const char *body; /* into the input buffer (pulled up); not owned */
    size_t body_len;
    struct json_object *json;  /* parsed body, owned */
    struct json_object *rec;   /* log record (a reference) */
    struct json_object *fault; /* matched fault rule (a reference) */
    bool is_write;
    bool simkl_holding;
    int64_t t_ms;
    enum fk_after after;
    struct event *timer;
    /* The reply. */
    int status;
    struct json_object *resp; /* owned; NULL = no JSON body */
    char *raw;                /* owned raw body (text) */
    const char *ctype;
    struct fk_hdr hdrs[FK_MAX_HDRS];
    size_t nhdrs;
};

/* ---- small helpers ---------------------------------------------------- */

static int64_t
fk_mono(struct fake *f)
{
    return wr_mono_ms() - f->mono0;
}

static int64_t
fk_now_ms(struct fake *f)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
           f->clock_offset_ms;
}

/* ISO-8601 UTC: Trakt style "2014-09-01T09:10:11.000Z" (with_ms) or SIMKL
 * style "2016-10-29T09:03:45Z". */
static void
fk_iso(int64_t ms, bool with_ms, char buf[FK_ISO_BUF])
{
    time_t t;
    struct tm tm;
    int64_t frac;

    if (ms < 0)
        ms = 0;
    t = (time_t)(ms / 1000);
    frac = ms % 1000;
    memset(&tm, 0, sizeof(tm));
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, FK_ISO_BUF, "1970-01-01T00:00:00Z");
        return;
    }
    if (with_ms)
        snprintf(buf, FK_ISO_BUF, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)frac);
    else
        snprintf(buf, FK_ISO_BUF, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
}

static struct json_object *
fk_jiso(int64_t ms, bool with_ms)
{
    char buf[FK_ISO_BUF];

    fk_iso(ms, with_ms, buf);
    return json_object_new_string(buf);
}

/* A number with at most two decimals, serialized without float noise. */
static struct json_object *
fk_jnum(double v)
{
    char buf[400];
    double r = round(v * 100.0) / 100.0;

    if (r == floor(r) && fabs(r) < 1e15)
        snprintf(buf, sizeof(buf), "%.0f", r);
    else
        snprintf(buf, sizeof(buf), "%.2f", r);
    if (strchr(buf, '.') != NULL) {
        size_t n = strlen(buf);

        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
            buf[--n] = '\0';
    }
    return json_object_new_double_s(r, buf);
}

static void
fk_set(struct json_object *o, const char *key, struct json_object *v)
{
    json_object_object_add(o, key, v);
}

static struct json_object *
fk_get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    if (o == NULL || !json_object_is_type(o, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static int64_t
fk_geti(struct json_object *o, const char *key, int64_t dflt)
{
    int64_t v;

    if (jget_i64(o, key, &v) != 0)
        return dflt;
    return v;
}

static const char *
fk_gets(struct json_object *o, const char *key)
{
    const char *s = NULL;

    if (jget_str(o, key, &s) != 0)
        return NULL;
    return s;
}

/* Increment and return a counter kept in a state object. */
static int64_t
fk_next_id(struct json_object *o, const char *key, int64_t first)
{
    int64_t v = fk_geti(o, key, first);

    fk_set(o, key, json_object_new_int64(v + 1));
    return v;
}

static struct json_object *
fk_counts(bool four)
{
    struct json_object *o = json_object_new_object();

    fk_set(o, "movies", json_object_new_int(0));
    if (four)
        fk_set(o, "shows", json_object_new_int(0));
    if (four)
        fk_set(o, "seasons", json_object_new_int(0));
    fk_set(o, "episodes", json_object_new_int(0));
    return o;
}

static void
fk_count_add(struct json_object *counts, const char *key, int64_t n)
{
    fk_set(counts, key, json_object_new_int64(fk_geti(counts, key, 0) + n));
}

/* The media type of a Content-Type value, compared without parameters. */
static bool
fk_ctype_is_json(const char *v)
{
    size_t n;

    if (v == NULL)
        return false;
    while (*v == ' ')
        v++;
    n = strcspn(v, "; \t");
    return n == strlen("application/json") &&
           strncasecmp(v, "application/json", n) == 0;
}

static const char *
fk_in_header(struct fk_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

static const char *
fk_query(struct fk_req *r, const char *name)
{
    if (r->query_bad)
        return NULL;
    return evhttp_find_header(&r->query, name);
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *
fk_bearer(struct fk_req *r)
{
    const char *v = fk_in_header(r, "Authorization");

    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    while (*v == ' ')
        v++;
    return *v != '\0' ? v : NULL;
}

/* ---- replies ---------------------------------------------------------- */

static void
fk_reply_reset(struct fk_req *r)
{
    json_object_put(r->resp);
    r->resp = NULL;
    free(r->raw);
    r->raw = NULL;
    r->ctype = NULL;
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    r->nhdrs = 0;
}

static void fk_header(struct fk_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fk_header(struct fk_req *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    char buf[1024];

    if (r->nhdrs >= FK_MAX_HDRS)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->hdrs[r->nhdrs].name = xstrdup(name);
    r->hdrs[r->nhdrs].value = xstrdup(buf);
    r->nhdrs++;
}

/* Reply with a JSON body (taken). */
static void
fk_reply_json(struct fk_req *r, int status, struct json_object *body)
{
    json_object_put(r->resp);
    free(r->raw);
    r->raw = NULL;
    r->status = status;
    r->resp = body;
    r->ctype = "application/json";
}

static void
fk_reply_empty(struct fk_req *r, int status)
{
    json_object_put(r->resp);
    r->resp = NULL;
    free(r->raw);
    r->raw = NULL;
    r->ctype = NULL;
    r->status = status;
}

/* {"error": error, <desc_key>: message} — Trakt OAuth style when desc_key is
 * "error_description", SIMKL style ({"error","code","message"}) otherwise. */
static void fk_reply_error(struct fk_req *r, int status, const char *error,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fk_reply_error(struct fk_req *r, int status, const char *error, const char *fmt,
               ...)
{
    struct json_object *o = json_object_new_object();
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fk_set(o, "error", json_object_new_string(error));
    if (r->prov == FK_SIMKL) {
        fk_set(o, "code", json_object_new_int(status));
        fk_set(o, "message", json_object_new_string(msg));
    } else {
        fk_set(o, "error_description", json_object_new_string(msg));
    }
    fk_reply_json(r, status, o);
}

static const char *
fk_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 412:
        return "Precondition Failed";
    case 415:
        return "Unsupported Media Type";
    case 418:
        return "Denied";
    case 420:
        return "Account Limit Exceeded";
    case 422:
        return "Unprocessable Entity";
    case 423:
        return "Locked User Account";
    case 426:
        return "VIP Only";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 520:
    case 521:
    case 522:
        return "Cloudflare Error";
    default:
        return "Status";
    }
}

/* Parse "8" or "8,9,10" into a 1..10 mask; -1 if malformed. */
static int
fk_rating_mask(const char *s, unsigned *mask)
{
    *mask = 0;
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        int64_t v;

        if (parse_i64n(s, n, 1, 10, &v) != 0)
            return -1;
        *mask |= 1u << v;
        s += n;
        if (*s == ',')
            s++;
    }
    return *mask != 0 ? 0 : -1;
}

/* nchars random characters of alphabet (NUL-terminated; out has room). */
static void
fk_random_code(char *out, size_t nchars, const char *alphabet)
{
    unsigned char raw[64];
    size_t alen = strlen(alphabet);

    if (nchars > sizeof(raw))
        nchars = sizeof(raw);
    if (getrandom(raw, nchars, 0) != (ssize_t)nchars) {
        for (size_t i = 0; i < nchars; i++)
            raw[i] = (unsigned char)rand();
    }
    for (size_t i = 0; i < nchars; i++)
        out[i] = alphabet[raw[i] % alen];
    out[nchars] = '\0';
}

/* ---- the catalog ------------------------------------------------------ */

static struct json_object *
cat_entry(struct fake *f, int64_t idx)
{
    if (idx < 0 || (size_t)idx >= json_object_array_length(f->cat))
        return NULL;
    return json_object_array_get_idx(f->cat, (size_t)idx);
}

static enum fk_kind
cat_kind(struct fake *f, int64_t idx)
{
    return (enum fk_kind)fk_geti(cat_entry(f, idx), "kind", FK_MOVIE);
}

static bool
fk_id_numeric(const char *name)
{
    return strcmp(name, "slug") != 0 && strcmp(name, "imdb") != 0;
}

/*
 * Normalize an id value from a request. 1 = usable (text in out), 0 = absent,
 * null or unusable (0, negative, a malformed imdb), -1 = of the wrong JSON
 * type. lenient accepts integer ids as digit strings (SIMKL).
 */
static int
fk_id_value(const char *name, struct json_object *v, bool lenient, char *out,
            size_t outlen)
{
    if (v == NULL || json_object_is_type(v, json_type_null))
        return 0;
    if (fk_id_numeric(name)) {
        int64_t n;

        if (json_object_is_type(v, json_type_int)) {
            n = json_object_get_int64(v);
        } else if (json_object_is_type(v, json_type_double)) {
            double d = json_object_get_double(v);

            if (d != floor(d) || d < 1 || d > 9e15)
                return -1;
            n = (int64_t)d;
        } else if (lenient && json_object_is_type(v, json_type_string)) {
            if (parse_i64(json_object_get_string(v), 0, INT64_MAX, &n) != 0)
                return 0;
        } else {
            return -1;
        }
        if (n <= 0)
            return 0;
        snprintf(out, outlen, "%" PRId64, n);
        return 1;
    }
    if (!json_object_is_type(v, json_type_string))
        return -1;
    {
        const char *s = json_object_get_string(v);
        size_t len = strlen(s);

        if (len == 0 || len >= outlen)
            return 0;
        if (strcmp(name, "imdb") == 0) {
            if (len < 3 || strncmp(s, "tt", 2) != 0)
                return 0;
            for (size_t i = 2; i < len; i++)
                if (!isdigit((unsigned char)s[i]))
                    return 0;
        }
        memcpy(out, s, len + 1);
    }
    return 1;
}

static void
cat_index_key(char *buf, size_t len, enum fk_kind k, const char *id,
              const char *val)
{
    snprintf(buf, len, "%c:%s:%s", fk_kind_letter[k], id, val);
}

static int64_t
cat_index_get(struct fake *f, const char *key)
{
    struct json_object *v = fk_get(f->cat_idx, key);

    return v != NULL ? json_object_get_int64(v) : -1;
}

static void
cat_index_put(struct fake *f, const char *key, int64_t idx)
{
    fk_set(f->cat_idx, key, json_object_new_int64(idx));
}

/* Index every id of entry idx (idempotent). */
static void
cat_index_entry(struct fake *f, int64_t idx)
{
    struct json_object *e = cat_entry(f, idx);
    struct json_object *ids = fk_get(e, "ids");
    enum fk_kind k = cat_kind(f, idx);
    char key[256];

    json_object_object_foreach (ids, name, v) {
        const char *val = json_object_get_string(v);

        if (json_object_is_type(v, json_type_null))
            continue;
        cat_index_key(key, sizeof(key), k, name, val);
        if (cat_index_get(f, key) < 0)
            cat_index_put(f, key, idx);
    }
    if (k == FK_EPISODE) {
        snprintf(key, sizeof(key), "ep:%" PRId64 ":%" PRId64 ":%" PRId64,
                 fk_geti(e, "show", -1), fk_geti(e, "season", -1),
                 fk_geti(e, "number", -1));
        cat_index_put(f, key, idx);
    } else if (k == FK_SEASON) {
        snprintf(key, sizeof(key), "sn:%" PRId64 ":%" PRId64,
                 fk_geti(e, "show", -1), fk_geti(e, "number", -1));
        cat_index_put(f, key, idx);
    } else {
        const char *title = fk_gets(e, "title");

        if (title != NULL) {
            char low[200];
            size_t i;

            for (i = 0; title[i] != '\0' && i + 1 < sizeof(low); i++)
                low[i] = (char)tolower((unsigned char)title[i]);
            low[i] = '\0';
            snprintf(key, sizeof(key), "t:%c:%s:%" PRId64, fk_kind_letter[k],
                     low, fk_geti(e, "year", 0));
            if (cat_index_get(f, key) < 0)
                cat_index_put(f, key, idx);
        }
    }
}

static int64_t
cat_episode(struct fake *f, int64_t show, int64_t season, int64_t number)
{
    char key[128];

    snprintf(key, sizeof(key), "ep:%" PRId64 ":%" PRId64 ":%" PRId64, show,
             season, number);
    return cat_index_get(f, key);
}

static int64_t
cat_season(struct fake *f, int64_t show, int64_t number)
{
    char key[128];

    snprintf(key, sizeof(key), "sn:%" PRId64 ":%" PRId64, show, number);
    return cat_index_get(f, key);
}

static void
fk_slugify(const char *title, int64_t year, char *out, size_t outlen)
{
    size_t n = 0;
    bool dash = false;

    for (const char *p = title; *p != '\0' && n + 12 < outlen; p++) {
        if (isalnum((unsigned char)*p)) {
            if (dash && n > 0)
                out[n++] = '-';
            out[n++] = (char)tolower((unsigned char)*p);
            dash = false;
        } else {
            dash = true;
        }
    }
    if (year > 0 && year < 10000) {
        if (n > 0)
            out[n++] = '-';
        for (int64_t d = 1000; d > 0; d /= 10)
            out[n++] = (char)('0' + (year / d) % 10);
    }
    out[n] = '\0';
}

/* Give an entry the trakt, simkl and slug ids real items always have. */
static void
cat_fill_ids(struct fake *f, struct json_object *e, enum fk_kind k)
{
    struct json_object *ids = fk_get(e, "ids");

    if (fk_get(ids, "trakt") == NULL)
        fk_set(ids, "trakt", json_object_new_int64(f->next_trakt_id++));
    if ((k == FK_MOVIE || k == FK_SHOW || k == FK_EPISODE) &&
        fk_get(ids, "simkl") == NULL)
        fk_set(ids, "simkl", json_object_new_int64(f->next_simkl_id++));
    if ((k == FK_MOVIE || k == FK_SHOW) && fk_get(ids, "slug") == NULL) {
        char slug[160];
        const char *title = fk_gets(e, "title");

        fk_slugify(title != NULL ? title : "untitled",
                   k == FK_MOVIE ? fk_geti(e, "year", 0) : 0, slug,
                   sizeof(slug));
        fk_set(ids, "slug", json_object_new_string(slug));
    }
}

/* Append a new entry (ids taken: an object of normalized ids). */
static int64_t
cat_new(struct fake *f, enum fk_kind k, const char *title, int64_t year,
        struct json_object *ids, int64_t show, int64_t season, int64_t number)
{
    struct json_object *e = json_object_new_object();
    int64_t idx = (int64_t)json_object_array_length(f->cat);

    fk_set(e, "kind", json_object_new_int(k));
    fk_set(e, "type", json_object_new_string(fk_kind_name[k]));
    if (title != NULL)
        fk_set(e, "title", json_object_new_string(title));
    if (year > 0)
        fk_set(e, "year", json_object_new_int64(year));
    fk_set(e, "ids", ids != NULL ? ids : json_object_new_object());
    if (k == FK_SEASON || k == FK_EPISODE) {
        fk_set(e, "show", json_object_new_int64(show));
        if (k == FK_SEASON)
            fk_set(e, "number", json_object_new_int64(season));
        else {
            fk_set(e, "season", json_object_new_int64(season));
            fk_set(e, "number", json_object_new_int64(number));
        }
    }
    cat_fill_ids(f, e, k);
    json_object_array_add(f->cat, e);
    cat_index_entry(f, idx);
    return idx;
}

/* Normalized ids of a request's "ids" object: a new object, NULL if one is of
 * the wrong type (err set). Unknown id names are ignored. */
static struct json_object *
fk_norm_ids(struct json_object *ids, bool lenient, char *err, size_t errlen)
{
    struct json_object *out = json_object_new_object();
    char val[160];

    if (ids == NULL)
        return out;
    if (!json_object_is_type(ids, json_type_object)) {
        snprintf(err, errlen, "ids must be an object");
        json_object_put(out);
        return NULL;
    }
    for (size_t i = 0; i < FK_N_IDS; i++) {
        const char *name = fk_id_names[i];
        int rc =
            fk_id_value(name, fk_get(ids, name), lenient, val, sizeof(val));

        if (rc < 0) {
            snprintf(err, errlen, "ids.%s has the wrong type", name);
            json_object_put(out);
            return NULL;
        }
        if (rc == 0)
            continue;
        if (fk_id_numeric(name)) {
            int64_t n = 0;

            parse_i64(val, 1, INT64_MAX, &n);
            fk_set(out, name, json_object_new_int64(n));
        } else {
            fk_set(out, name, json_object_new_string(val));
        }
    }
    return out;
}

/* Find an entry by normalized ids; -1 if none. */
static int64_t
cat_find_ids(struct fake *f, enum fk_kind k, struct json_object *nids)
{
    char key[256];

    for (size_t i = 0; i < FK_N_IDS; i++) {
        struct json_object *v = fk_get(nids, fk_id_names[i]);
        int64_t idx;

        if (v == NULL)
            continue;
        cat_index_key(key, sizeof(key), k, fk_id_names[i],
                      json_object_get_string(v));
        idx = cat_index_get(f, key);
        if (idx >= 0)
            return idx;
    }
    return -1;
}

static int64_t
cat_find_title(struct fake *f, enum fk_kind k, const char *title, int64_t year)
{
    char low[200], key[256];
    size_t i;

    for (i = 0; title[i] != '\0' && i + 1 < sizeof(low); i++)
        low[i] = (char)tolower((unsigned char)title[i]);
    low[i] = '\0';
    snprintf(key, sizeof(key), "t:%c:%s:%" PRId64, fk_kind_letter[k], low,
             year);
    return cat_index_get(f, key);
}

/*
 * Resolve a request's media object ({"ids":{...}} or {"title","year"}) to a
 * catalog entry. >= 0 found, -1 unknown, -2 invalid (err set). With the open
 * catalog on, unknown movies and shows with usable ids are created.
 */
static int64_t
cat_resolve(struct fake *f, enum fk_kind k, struct json_object *obj,
            bool lenient, char *err, size_t errlen)
{
    struct json_object *nids = NULL;
    const char *title = fk_gets(obj, "title");
    int64_t year = 0, idx = -1;
    struct json_object *yv = fk_get(obj, "year");

    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, errlen, "%s must be an object", fk_kind_name[k]);
        return -2;
    }
    if (yv != NULL && !json_object_is_type(yv, json_type_null) &&
        jget_i64_lenient(obj, "year", &year) != 0) {
        snprintf(err, errlen, "%s.year must be an integer", fk_kind_name[k]);
        return -2;
    }
    nids = fk_norm_ids(fk_get(obj, "ids"), lenient, err, errlen);
    if (nids == NULL)
        return -2;
    if (json_object_object_length(nids) == 0 && title == NULL) {
        json_object_put(nids);
        snprintf(err, errlen, "%s has neither usable ids nor a title",
                 fk_kind_name[k]);
        return -2;
    }
    idx = cat_find_ids(f, k, nids);
    if (idx < 0 && title != NULL && (k == FK_MOVIE || k == FK_SHOW))
        idx = cat_find_title(f, k, title, year);
    if (idx < 0 && f->cfg.catalog_open && (k == FK_MOVIE || k == FK_SHOW)) {
        char gen[64];

        if (title == NULL) {
            snprintf(gen, sizeof(gen), "Fake %s %d", fk_kind_name[k],
                     (int)json_object_array_length(f->cat));
            title = gen;
        }
        idx = cat_new(f, k, title, year, nids, -1, -1, -1);
        return idx;
    }
    json_object_put(nids);
    return idx;
}

/* The episode of show at season/number; with the open catalog, created. */
static int64_t
cat_episode_open(struct fake *f, int64_t show, int64_t season, int64_t number)
{
    int64_t idx = cat_episode(f, show, season, number);
    char title[64];

    if (idx >= 0 || !f->cfg.catalog_open || season < 0 || number < 1)
        return idx;
    if (cat_season(f, show, season) < 0)
        cat_new(f, FK_SEASON, NULL, 0, NULL, show, season, -1);
    snprintf(title, sizeof(title), "Episode %" PRId64, number);
    return cat_new(f, FK_EPISODE, title, 0, NULL, show, season, number);
}

/* Catalog indexes of the episodes of a show (season < 0: all seasons), in
 * catalog order. Owned array (free). */
static int64_t *
cat_episodes_of(struct fake *f, int64_t show, int64_t season, size_t *n)
{
    size_t len = json_object_array_length(f->cat), cap = 16;
    int64_t *out = xmalloc(cap * sizeof(*out));

    *n = 0;
    for (size_t i = 0; i < len; i++) {
        struct json_object *e = json_object_array_get_idx(f->cat, i);

        if (fk_geti(e, "kind", -1) != FK_EPISODE ||
            fk_geti(e, "show", -1) != show)
            continue;
        if (season >= 0 && fk_geti(e, "season", -1) != season)
            continue;
        if (*n == cap) {
            cap *= 2;
            out = xrealloc(out, cap * sizeof(*out));
        }
        out[(*n)++] = (int64_t)i;
    }
    return out;
}

/*
 * Add (or merge into) catalog entries from the control API's shape:
 * {"movies":[{title,year,ids,released}],"shows":[{title,year,ids,anime,
 * seasons:[{number,ids,episodes:[{number,title,ids}]}]}]}. An item whose
 * ids match an existing entry gains the new ids. 0, or -1 with err.
 */
static int cat_merge_item(struct fake *f, enum fk_kind k,
                          struct json_object *item, int64_t show,
                          int64_t season, int64_t *counts, char *err,
                          size_t errlen);

static int
cat_merge_children(struct fake *f, struct json_object *item, int64_t show,
                   int64_t *counts, char *err, size_t errlen)
{
    struct json_object *seasons = fk_get(item, "seasons");

    if (seasons == NULL)
        return 0;
    if (!json_object_is_type(seasons, json_type_array)) {
        snprintf(err, errlen, "seasons must be an array");
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(seasons); i++) {
        struct json_object *s = json_object_array_get_idx(seasons, i);
        struct json_object *eps = fk_get(s, "episodes");
        int64_t num;

        if (jget_i64(s, "number", &num) != 0 || num < 0) {
            snprintf(err, errlen, "a season needs a number");
            return -1;
        }
        if (cat_merge_item(f, FK_SEASON, s, show, num, counts, err, errlen) < 0)
            return -1;
        if (eps == NULL)
            continue;
        if (!json_object_is_type(eps, json_type_array)) {
            snprintf(err, errlen, "episodes must be an array");
            return -1;
        }
        for (size_t j = 0; j < json_object_array_length(eps); j++) {
            if (cat_merge_item(f, FK_EPISODE, json_object_array_get_idx(eps, j),
                               show, num, counts, err, errlen) < 0)
                return -1;
        }
    }
    return 0;
}

static int
cat_merge_item(struct fake *f, enum fk_kind k, struct json_object *item,
               int64_t show, int64_t season, int64_t *counts, char *err,
               size_t errlen)
{
    struct json_object *nids = NULL;
    const char *title = fk_gets(item, "title");
    int64_t year = fk_geti(item, "year", 0), idx = -1, number = -1;

    if (!json_object_is_type(item, json_type_object)) {
        snprintf(err, errlen, "catalog items must be objects");
        return -1;
    }
    nids = fk_norm_ids(fk_get(item, "ids"), true, err, errlen);
    if (nids == NULL)
        return -1;
    if (k == FK_EPISODE) {
        if (jget_i64(item, "number", &number) != 0 || number < 0) {
            json_object_put(nids);
            snprintf(err, errlen, "an episode needs a number");
            return -1;
        }
        idx = cat_episode(f, show, season, number);
    } else if (k == FK_SEASON) {
        idx = cat_season(f, show, season);
    } else {
        idx = cat_find_ids(f, k, nids);
        if (idx < 0 && json_object_object_length(nids) == 0) {
            json_object_put(nids);
            snprintf(err, errlen, "a %s needs ids", fk_kind_name[k]);
            return -1;
        }
    }
    if (idx < 0) {
        idx = cat_new(f, k, title, year, nids, show, season, number);
        counts[k]++;
    } else {
        struct json_object *e = cat_entry(f, idx);
        struct json_object *ids = fk_get(e, "ids");

        json_object_object_foreach (nids, name, v) {
            fk_set(ids, name, json_object_get(v));
        }
        json_object_put(nids);
        if (title != NULL)
            fk_set(e, "title", json_object_new_string(title));
        if (year > 0)
            fk_set(e, "year", json_object_new_int64(year));
        cat_index_entry(f, idx);
        counts[FK_KIND_MAX]++;
    }
    {
        struct json_object *e = cat_entry(f, idx);
        const char *rel = fk_gets(item, "released");
        bool anime;

        if (rel != NULL)
            fk_set(e, "released", json_object_new_string(rel));
        if (jget_bool(item, "anime", &anime) == 0)
            fk_set(e, "anime", json_object_new_boolean(anime));
        if (fk_gets(item, "anime_type") != NULL)
            fk_set(e, "anime_type",
                   json_object_new_string(fk_gets(item, "anime_type")));
    }
    if (k == FK_SHOW)
        return cat_merge_children(f, item, idx, counts, err, errlen);
    return 0;
}

static int
cat_merge(struct fake *f, struct json_object *doc, int64_t *counts, char *err,
          size_t errlen)
{
    static const char *const keys[] = {"movies", "shows"};

    if (!json_object_is_type(doc, json_type_object)) {
        snprintf(err, errlen, "the catalog body must be an object");
        return -1;
    }
    for (size_t i = 0; i < 2; i++) {
        struct json_object *arr = fk_get(doc, keys[i]);

        if (arr == NULL)
            continue;
        if (!json_object_is_type(arr, json_type_array)) {
            snprintf(err, errlen, "%s must be an array", keys[i]);
            return -1;
        }
        for (size_t j = 0; j < json_object_array_length(arr); j++) {
            if (cat_merge_item(f, i == 0 ? FK_MOVIE : FK_SHOW,
                               json_object_array_get_idx(arr, j), -1, -1,
                               counts, err, errlen) < 0)
                return -1;
        }
    }
    return 0;
}

/* The seed catalog. Ids are illustrative, as in PROVIDERS.md. */
static const char fk_seed_catalog[] =
    "{\"movies\":["
    "{\"title\":\"Arrival\",\"year\":2016,\"released\":\"2016-11-11\","
    "\"ids\":{\"trakt\":203537,\"slug\":\"arrival-2016\",\"imdb\":"
    "\"tt2543164\",\"tmdb\":329865,\"simkl\":53992}},"
    "{\"title\":\"Inception\",\"year\":2010,\"released\":\"2010-07-16\","
    "\"ids\":{\"trakt\":16662,\"slug\":\"inception-2010\",\"imdb\":"
    "\"tt1375666\",\"tmdb\":27205,\"simkl\":53420}},"
    "{\"title\":\"The Matrix\",\"year\":1999,\"released\":\"1999-03-31\","
    "\"ids\":{\"trakt\":481,\"slug\":\"the-matrix-1999\",\"imdb\":"
    "\"tt0133093\",\"tmdb\":603,\"simkl\":53534}},"
    "{\"title\":\"Dune: Part Two\",\"year\":2024,\"released\":\"2024-03-01\","
    "\"ids\":{\"trakt\":632474,\"slug\":\"dune-part-two-2024\",\"imdb\":"
    "\"tt15239678\",\"tmdb\":693134,\"simkl\":1934520}},"
    "{\"title\":\"Spirited Away\",\"year\":2001,\"released\":\"2001-07-20\","
    "\"ids\":{\"trakt\":94,\"slug\":\"spirited-away-2001\",\"imdb\":"
    "\"tt0245429\",\"tmdb\":129,\"simkl\":54017}}"
    "],\"shows\":["
    "{\"title\":\"Severance\",\"year\":2022,\"ids\":{\"trakt\":154997,"
    "\"slug\":\"severance\",\"imdb\":\"tt11280740\",\"tmdb\":95396,"
    "\"tvdb\":371980,\"simkl\":1099934},\"seasons\":["
    "{\"number\":1,\"ids\":{\"trakt\":214002,\"tvdb\":1935851,\"tmdb\":"
    "129914},\"episodes\":["
    "{\"number\":1,\"title\":\"Good News About Hell\",\"ids\":{\"trakt\":"
    "4216391,\"imdb\":\"tt11650492\",\"tmdb\":1960512,\"tvdb\":8603573}},"
    "{\"number\":2,\"title\":\"Half Loop\",\"ids\":{\"trakt\":4216392,"
    "\"imdb\":\"tt11650496\",\"tmdb\":3346870,\"tvdb\":8981468}},"
    "{\"number\":3,\"title\":\"In Perpetuity\",\"ids\":{\"trakt\":4216393,"
    "\"imdb\":\"tt11650498\",\"tmdb\":3346871,\"tvdb\":8981469}}]},"
    "{\"number\":2,\"ids\":{\"trakt\":303112,\"tvdb\":2047382},"
    "\"episodes\":["
    "{\"number\":1,\"title\":\"Hello, Ms. Cobel\",\"ids\":{\"trakt\":"
    "11038821,\"imdb\":\"tt15243010\",\"tmdb\":5063425,\"tvdb\":10244912}}"
    "]}]},"
    "{\"title\":\"Breaking Bad\",\"year\":2008,\"ids\":{\"trakt\":1388,"
    "\"slug\":\"breaking-bad\",\"imdb\":\"tt0903747\",\"tmdb\":1396,"
    "\"tvdb\":81189,\"simkl\":11121},\"seasons\":["
    "{\"number\":1,\"ids\":{\"trakt\":3950,\"tvdb\":30272,\"tmdb\":3572},"
    "\"episodes\":["
    "{\"number\":1,\"title\":\"Pilot\",\"ids\":{\"trakt\":73482,\"imdb\":"
    "\"tt0959621\",\"tmdb\":62085,\"tvdb\":349232}},"
    "{\"number\":2,\"title\":\"Cat's in the Bag...\",\"ids\":{\"trakt\":"
    "73483,\"imdb\":\"tt1054724\",\"tmdb\":62086,\"tvdb\":349235}}]}]},"
    "{\"title\":\"Attack on Titan\",\"year\":2013,\"anime\":true,"
    "\"anime_type\":\"tv\",\"ids\":{\"trakt\":60320,\"slug\":"
    "\"attack-on-titan\",\"imdb\":\"tt2560140\",\"tmdb\":1429,\"tvdb\":"
    "267440,\"simkl\":39687,\"mal\":16498,\"anidb\":9541},\"seasons\":["
    "{\"number\":1,\"episodes\":["
    "{\"number\":1,\"title\":\"To You, in 2000 Years\",\"ids\":{\"trakt\":"
    "1081981,\"tvdb\":4562012,\"tmdb\":63056}}]}]}"
    "]}";

/* ---- provider-shaped media objects ------------------------------------ */

/* Trakt standard object for entry idx: ids with null for the standard keys
 * the entry lacks. */
static struct json_object *
trakt_media(struct fake *f, int64_t idx)
{
    static const char *const keys[FK_KIND_MAX][6] = {
        {"trakt", "slug", "imdb", "tmdb", NULL, NULL},
        {"trakt", "slug", "tvdb", "imdb", "tmdb", NULL},
        {"trakt", "tvdb", "tmdb", NULL, NULL, NULL},
        {"trakt", "tvdb", "imdb", "tmdb", NULL, NULL}};
    struct json_object *e = cat_entry(f, idx);
    struct json_object *src = fk_get(e, "ids");
    struct json_object *o = json_object_new_object();
    struct json_object *ids = json_object_new_object();
    enum fk_kind k = cat_kind(f, idx);

    if (k == FK_EPISODE) {
        fk_set(o, "season", json_object_new_int64(fk_geti(e, "season", 0)));
        fk_set(o, "number", json_object_new_int64(fk_geti(e, "number", 0)));
    } else if (k == FK_SEASON) {
        fk_set(o, "number", json_object_new_int64(fk_geti(e, "number", 0)));
    }
    if (k != FK_SEASON)
        fk_set(o, "title",
               fk_gets(e, "title") != NULL
                   ? json_object_new_string(fk_gets(e, "title"))
                   : NULL);
    if (k == FK_MOVIE || k == FK_SHOW)
        fk_set(o, "year",
               fk_geti(e, "year", 0) > 0
                   ? json_object_new_int64(fk_geti(e, "year", 0))
                   : NULL);
    for (size_t i = 0; i < 6 && keys[k][i] != NULL; i++) {
        struct json_object *v = fk_get(src, keys[k][i]);

        fk_set(ids, keys[k][i], v != NULL ? json_object_get(v) : NULL);
    }
    fk_set(o, "ids", ids);
    return o;
}

/* Attach "movie" / "show" / "season"+"show" / "episode"+"show" to row. */
static void
trakt_attach(struct fake *f, struct json_object *row, int64_t idx)
{
    enum fk_kind k = cat_kind(f, idx);

    fk_set(row, fk_kind_name[k], trakt_media(f, idx));
    if (k == FK_SEASON || k == FK_EPISODE)
        fk_set(row, "show",
               trakt_media(f, fk_geti(cat_entry(f, idx), "show", -1)));
}

/* SIMKL standard object: only the ids the entry has; tmdb/tvdb/mal/anidb as
 * strings, as SIMKL returns them. */
static struct json_object *
simkl_media(struct fake *f, int64_t idx, bool ids_only)
{
    struct json_object *e = cat_entry(f, idx);
    struct json_object *o = json_object_new_object();
    struct json_object *ids = json_object_new_object();
    enum fk_kind k = cat_kind(f, idx);

    if (k == FK_EPISODE) {
        fk_set(o, "season", json_object_new_int64(fk_geti(e, "season", 0)));
        fk_set(o, "number", json_object_new_int64(fk_geti(e, "number", 0)));
    }
    if (!ids_only && fk_gets(e, "title") != NULL)
        fk_set(o, "title", json_object_new_string(fk_gets(e, "title")));
    if (!ids_only && fk_geti(e, "year", 0) > 0)
        fk_set(o, "year", json_object_new_int64(fk_geti(e, "year", 0)));
    json_object_object_foreach (fk_get(e, "ids"), name, v) {
        if (strcmp(name, "trakt") == 0)
            continue;
        if (strcmp(name, "simkl") == 0)
            fk_set(ids, name, json_object_get(v));
        else
            fk_set(ids, name,
                   json_object_new_string(json_object_get_string(v)));
    }
    if (k != FK_EPISODE || json_object_object_length(ids) > 0)
        fk_set(o, "ids", ids);
    else
        json_object_put(ids);
    return o;
}

static void
trakt_reads_resize(struct fake *f)
{
    size_t cap =
        f->cfg.trakt_read_limit > 0 ? (size_t)f->cfg.trakt_read_limit : 1;

    free(f->trakt_reads);
    f->trakt_reads = xcalloc(cap, sizeof(*f->trakt_reads));
    f->trakt_reads_cap = cap;
    f->trakt_reads_n = 0;
    f->trakt_reads_head = 0;
}

/* ---- listing helpers -------------------------------------------------- */

struct fk_sorted {
    struct json_object *e;
    int64_t k1, k2;
};

static int
fk_sorted_desc(const void *a, const void *b)
{
    const struct fk_sorted *x = a, *y = b;

    if (x->k1 != y->k1)
        return x->k1 < y->k1 ? 1 : -1;
    if (x->k2 != y->k2)
        return x->k2 < y->k2 ? 1 : -1;
    return 0;
}

static int
fk_sorted_asc(const void *a, const void *b)
{
    return -fk_sorted_desc(a, b);
}

/* page/limit. paged says whether to paginate: always unless optional and
 * neither is given. -1 on a malformed value. */
static int
fk_paging(struct fk_req *r, bool optional, int64_t *page, int64_t *limit,
          bool *paged)
{
    const char *ps = fk_query(r, "page"), *ls = fk_query(r, "limit");

    *page = 1;
    *limit = 10;
    *paged = !optional || ps != NULL || ls != NULL;
    if (ps != NULL && parse_i64(ps, 1, 1000000000, page) != 0)
        return -1;
    if (ls != NULL && parse_i64(ls, 1, 1000000000, limit) != 0)
        return -1;
    return 0;
}

/* The [from, to) window of total rows for a page; sets X-Pagination-*. */
static void
fk_page_window(struct fk_req *r, bool paged, int64_t page, int64_t limit,
               size_t total, size_t *from, size_t *to)
{
    int64_t pages;

    if (!paged) {
        *from = 0;
        *to = total;
        return;
    }
    pages = ((int64_t)total + limit - 1) / limit;
    fk_header(r, "X-Pagination-Page", "%" PRId64, page);
    fk_header(r, "X-Pagination-Limit", "%" PRId64, limit);
    fk_header(r, "X-Pagination-Page-Count", "%" PRId64, pages);
    fk_header(r, "X-Pagination-Item-Count", "%zu", total);
    if ((page - 1) >= pages) {
        *from = *to = total;
        return;
    }
    *from = (size_t)((page - 1) * limit);
    *to = *from + (size_t)limit;
    if (*to > total)
        *to = total;
}

/* A time query parameter: 0 absent, 1 set (*ms), -1 malformed. */
static int
fk_time_query(struct fk_req *r, const char *name, int64_t *ms)
{
    const char *v = fk_query(r, name);
    int64_t t;

    if (v == NULL)
        return 0;
    if (wr_time_parse(v, &t) != 0)
        return -1;
    *ms = t * 1000;
    return 1;
}

/* Keep the entries of arr for which keep() is false... i.e. drop those
 * matching; returns how many were dropped. */
static size_t
fk_array_drop(struct json_object *arr,
              bool (*match)(struct json_object *e, void *arg), void *arg)
{
    size_t dropped = 0;

    for (size_t i = json_object_array_length(arr); i > 0; i--) {
        if (match(json_object_array_get_idx(arr, i - 1), arg)) {
            json_object_array_del_idx(arr, i - 1, 1);
            dropped++;
        }
    }
    return dropped;
}

static bool
fk_match_item(struct json_object *e, void *arg)
{
    return fk_geti(e, "item", -1) == *(int64_t *)arg;
}

static bool
fk_match_id(struct json_object *e, void *arg)
{
    return fk_geti(e, "id", -1) == *(int64_t *)arg;
}

#endif
