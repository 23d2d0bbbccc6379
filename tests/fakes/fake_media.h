/*
 * fake_media: the library model shared by fakeprov's media-server fakes
 * (Plex in fake_plex.h, Jellyfin and Emby in fake_mb.h; PROVIDERS.md B5,
 * B6), the /_fake/media control API, time formats, routing and the listing
 * cache. Included once by fakeprov.c (through fake_control.h).
 *
 * Each server keeps its library in f->st under "plex", "jellyfin" and
 * "emby": "items" (movies and episodes, in the order they were added),
 * "parents" (the shows and seasons of those episodes), "by_id" (server id
 * -> position: >= 0 in items, -(pos + 1) in parents) and "by_cat" (catalog
 * index -> server id). Every library object points at a catalog entry
 * ("item"), so one title has the same external ids at every fake. Per-user
 * state is kept in milliseconds and rendered in each server's units.
 *
 * Listings keep an array of pointers to the matching objects (filtered and
 * sorted once per query) and serve pages from it while nothing changed, so
 * paging through 100,000 items is linear overall. f->media_gen counts the
 * changes: every control request, media write and rollback bumps it.
 */
#ifndef WR_FAKE_MEDIA_H
#define WR_FAKE_MEDIA_H

#include "fake_core.h"

enum fk_server { FK_SRV_PLEX, FK_SRV_JELLYFIN, FK_SRV_EMBY, FK_SRV_MAX };

static const char *const fk_srv_name[FK_SRV_MAX] = {"plex", "jellyfin", "emby"};

#define MEDIA_ID_BUF       48
#define MEDIA_CACHE_N      4
#define MEDIA_MOVIE_MS     (120 * 60 * 1000LL)
#define MEDIA_EPISODE_MS   (45 * 60 * 1000LL)
#define MEDIA_DAY_MS       (86400 * 1000LL)
#define MEDIA_TICKS_PER_MS 10000LL

/* Defined in fakeprov.c. */
static void log_note(struct fk_req *r, const char *key, struct json_object *v);

struct media_cache_ent {
    char *key;
    uint64_t gen;
    struct json_object **v; /* borrowed: valid while gen is current */
    size_t n;
};

struct fk_media_cache {
    struct media_cache_ent e[MEDIA_CACHE_N];
    size_t next;
};

static bool
fk_prov_is_media(enum fk_prov p)
{
    return p == FK_PLEX || p == FK_PLEX_DISCOVER || p == FK_PLEX_METADATA ||
           p == FK_JELLYFIN || p == FK_EMBY;
}

static enum fk_server
media_server_of(enum fk_prov p)
{
    if (p == FK_JELLYFIN)
        return FK_SRV_JELLYFIN;
    if (p == FK_EMBY)
        return FK_SRV_EMBY;
    return FK_SRV_PLEX;
}

/* ---- times ------------------------------------------------------------ */

/* .NET round-trip style: "2025-03-02T20:47:10.1230000Z". */
static void
media_iso7(int64_t ms, char buf[FK_ISO_BUF])
{
    size_t n;

    fk_iso(ms, true, buf);
    n = strlen(buf);
    /* "....SS.mmmZ" -> "....SS.mmm0000Z" */
    if (n > 0 && n + 5 < FK_ISO_BUF)
        memcpy(buf + n - 1, "0000Z", 6);
}

static struct json_object *
media_jiso7(int64_t ms)
{
    char buf[FK_ISO_BUF];

    media_iso7(ms, buf);
    return json_object_new_string(buf);
}

/* RFC 7231 IMF-fixdate, "Sun, 02 Mar 2025 20:47:10 GMT". */
static void
media_http_date(int64_t ms, char buf[FK_ISO_BUF])
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed",
                                     "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (ms < 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, FK_ISO_BUF, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(buf, FK_ISO_BUF, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             wd[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ISO 8601 to epoch ms, keeping milliseconds of a fraction. A space where
 * an offset's '+' was (an unencoded '+' in a query) is read as '+'. */
static int
media_parse_iso_ms(const char *in, int64_t *ms)
{
    char s[80];
    int64_t sec, frac = 0;
    size_t n = strlen(in);
    const char *p;

    if (n == 0 || n >= sizeof(s))
        return -1;
    memcpy(s, in, n + 1);
    if (n > 19 && s[n - 6] == ' ' && s[n - 3] == ':')
        s[n - 6] = '+';
    if (wr_time_parse(s, &sec) != 0)
        return -1;
    p = strchr(s, 'T');
    if (p == NULL)
        p = strchr(s, 't');
    if (p != NULL && strlen(p) > 9 && (p[9] == '.' || p[9] == ',')) {
        int digits = 0;

        for (p += 10; isdigit((unsigned char)*p) && digits < 3; p++, digits++)
            frac = frac * 10 + (*p - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    *ms = sec * 1000 + frac;
    return 0;
}

/* yyyyMMddHHmmss (Emby DatePlayed, Jellyfin's legacy binder), UTC. */
static int
media_parse_compact_ms(const char *s, int64_t *ms)
{
    char iso[32];
    int64_t sec;

    if (strlen(s) != 14)
        return -1;
    for (size_t i = 0; i < 14; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", s, s + 4,
             s + 6, s + 8, s + 10, s + 12);
    if (wr_time_parse(iso, &sec) != 0)
        return -1;
    *ms = sec * 1000;
    return 0;
}

/* ---- small helpers ---------------------------------------------------- */

static uint64_t
media_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A deterministic pseudo-random double in [0, 1). */
static double
media_rand(uint64_t *state)
{
    *state += 1;
    return (double)(media_mix64(*state) >> 11) / 9007199254740992.0;
}

/* Copy n bytes of s as a string into out (size outlen), truncating. */
static void
media_copy(char *out, size_t outlen, const char *s, size_t n)
{
    if (outlen == 0)
        return;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static bool
media_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* A Jellyfin GUID as 32 lower-case hex (dashes dropped); -1 if it is not
 * one. */
static int
media_norm_guid(const char *in, char out[MEDIA_ID_BUF])
{
    size_t n = 0;

    for (const char *p = in; *p != '\0'; p++) {
        if (*p == '-')
            continue;
        if (!isxdigit((unsigned char)*p) || n >= 32)
            return -1;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return n == 32 ? 0 : -1;
}

/* "true"/"false" in any case: 1/0; -1 for anything else. */
static int
media_bool(const char *v)
{
    if (v == NULL)
        return -1;
    if (str_ieq(v, "true"))
        return 1;
    if (str_ieq(v, "false"))
        return 0;
    return -1;
}

static bool
media_list_has(const char *list, const char *word)
{
    size_t wl = strlen(word);

    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        const char *a = p, *b = p + n;

        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if ((size_t)(b - a) == wl && strncasecmp(a, word, wl) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* The raw query string of r, or "". */
static const char *
media_raw_query(struct fk_req *r)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
    const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;

    return q != NULL ? q : "";
}

/*
 * Re-read r's query tolerantly, as the media servers do: names and values
 * are percent-decoded ('+' is a space), a pair without '=' that decodes to
 * one with '=' (a fully encoded "lastViewedAt%3E%3E%3D17…") is split there,
 * and anything else without '=' is a name with an empty value.
 */
static void
media_query_rebuild(struct fk_req *r)
{
    const char *q = media_raw_query(r);

    evhttp_clear_headers(&r->query);
    r->query_bad = false;
    while (*q != '\0') {
        size_t n = strcspn(q, "&"), kn = strcspn(q, "=&");
        char *rk = xstrndup(q, kn);
        char *rv = xstrndup(q + kn + (kn < n ? 1 : 0), kn < n ? n - kn - 1 : 0);
        char *k = evhttp_uridecode(rk, 1, NULL);
        char *v = evhttp_uridecode(rv, 1, NULL);

        if (k != NULL && v != NULL && kn == n && strchr(k, '=') != NULL) {
            char *eq = strchr(k, '=');

            *eq = '\0';
            free(v);
            v = xstrdup(eq + 1);
        }
        if (k != NULL && v != NULL && *k != '\0')
            evhttp_add_header(&r->query, k, v);
        free(k);
        free(v);
        free(rk);
        free(rv);
        q += n;
        if (*q == '&')
            q++;
    }
}

/* ---- state ------------------------------------------------------------ */

static struct json_object *
media_state(struct fake *f, enum fk_server s)
{
    return fk_get(f->st, fk_srv_name[s]);
}

static struct json_object *
media_part(struct fake *f, enum fk_server s, const char *key)
{
    return fk_get(media_state(f, s), key);
}

static struct json_object *
media_state_new(enum fk_server s)
{
    struct json_object *o = json_object_new_object();
    static const int64_t first[FK_SRV_MAX] = {10001, 1, 50001};

    fk_set(o, "next_id", json_object_new_int64(first[s]));
    fk_set(o, "items", json_object_new_array());
    fk_set(o, "parents", json_object_new_array());
    fk_set(o, "by_id", json_object_new_object());
    fk_set(o, "by_cat", json_object_new_object());
    if (s == FK_SRV_PLEX) {
        fk_set(o, "history", json_object_new_array());
        fk_set(o, "next_history", json_object_new_int64(1));
        fk_set(o, "watchlist", json_object_new_array());
    }
    return o;
}

static void
media_cache_free(struct fake *f)
{
    if (f->mcache == NULL)
        return;
    for (size_t i = 0; i < MEDIA_CACHE_N; i++) {
        free(f->mcache->e[i].key);
        free(f->mcache->e[i].v);
    }
    free(f->mcache);
    f->mcache = NULL;
}

static void
media_state_reset(struct fake *f)
{
    for (int s = 0; s < FK_SRV_MAX; s++)
        fk_set(f->st, fk_srv_name[s], media_state_new((enum fk_server)s));
    f->media_gen++;
}

static void
media_new_id(struct fake *f, enum fk_server s, char out[MEDIA_ID_BUF])
{
    int64_t n = fk_next_id(media_state(f, s), "next_id", 1);

    if (s == FK_SRV_JELLYFIN)
        snprintf(out, MEDIA_ID_BUF, "%016" PRIx64 "%016" PRIx64,
                 media_mix64((uint64_t)n),
                 media_mix64((uint64_t)n ^ 0x5bd1e995ULL));
    else
        snprintf(out, MEDIA_ID_BUF, "%" PRId64, n);
}

/* The library object (item or parent) with server id id, or NULL. */
static struct json_object *
media_find(struct fake *f, enum fk_server s, const char *id)
{
    struct json_object *v = fk_get(media_part(f, s, "by_id"), id);
    int64_t code;

    if (v == NULL)
        return NULL;
    code = json_object_get_int64(v);
    if (code >= 0)
        return json_object_array_get_idx(media_part(f, s, "items"),
                                         (size_t)code);
    return json_object_array_get_idx(media_part(f, s, "parents"),
                                     (size_t)(-code - 1));
}

static struct json_object *
media_find_cat(struct fake *f, enum fk_server s, int64_t cat)
{
    char key[32];
    const char *id;

    snprintf(key, sizeof(key), "%" PRId64, cat);
    id = fk_gets(media_part(f, s, "by_cat"), key);
    return id != NULL ? media_find(f, s, id) : NULL;
}

static void
media_user_init(struct json_object *o, int64_t now)
{
    fk_set(o, "added_ms", json_object_new_int64(now));
    fk_set(o, "updated_ms", json_object_new_int64(now));
    fk_set(o, "play_count", json_object_new_int64(0));
    fk_set(o, "played", json_object_new_boolean(false));
    fk_set(o, "last_played_ms", json_object_new_int64(0));
    fk_set(o, "position_ms", json_object_new_int64(0));
    fk_set(o, "rated_ms", json_object_new_int64(0));
    fk_set(o, "favorite", json_object_new_boolean(false));
    fk_set(o, "saved_ms", json_object_new_int64(0));
}

/* Register a new object (in items, or in parents) under a new id. */
static struct json_object *
media_register(struct fake *f, enum fk_server s, bool parent, int64_t cat,
               const char *type, int64_t now)
{
    struct json_object *st = media_state(f, s);
    struct json_object *arr = fk_get(st, parent ? "parents" : "items");
    struct json_object *o = json_object_new_object();
    int64_t pos = (int64_t)json_object_array_length(arr);
    char id[MEDIA_ID_BUF], key[32];

    media_new_id(f, s, id);
    fk_set(o, "id", json_object_new_string(id));
    fk_set(o, "item", json_object_new_int64(cat));
    fk_set(o, "type", json_object_new_string(type));
    media_user_init(o, now);
    json_object_array_add(arr, o);
    fk_set(fk_get(st, "by_id"), id,
           json_object_new_int64(parent ? -(pos + 1) : pos));
    snprintf(key, sizeof(key), "%" PRId64, cat);
    fk_set(fk_get(st, "by_cat"), key, json_object_new_string(id));
    return o;
}

static struct json_object *
media_parent(struct fake *f, enum fk_server s, int64_t cat, const char *type,
             const char *show_id, int64_t now)
{
    struct json_object *o = media_find_cat(f, s, cat);

    if (o != NULL)
        return o;
    o = media_register(f, s, true, cat, type, now);
    if (show_id != NULL)
        fk_set(o, "show_id", json_object_new_string(show_id));
    return o;
}

/* The library item of catalog movie or episode cat, created when missing
 * (with its show and season). */
static struct json_object *
media_add(struct fake *f, enum fk_server s, int64_t cat, int64_t now,
          bool *created)
{
    struct json_object *o = media_find_cat(f, s, cat), *e, *show, *season;
    enum fk_kind k = cat_kind(f, cat);
    int64_t show_cat, season_cat, snum;

    *created = false;
    if (o != NULL)
        return o;
    *created = true;
    if (k == FK_MOVIE) {
        o = media_register(f, s, false, cat, "movie", now);
        fk_set(o, "duration_ms", json_object_new_int64(MEDIA_MOVIE_MS));
        return o;
    }
    e = cat_entry(f, cat);
    show_cat = fk_geti(e, "show", -1);
    snum = fk_geti(e, "season", 1);
    season_cat = cat_season(f, show_cat, snum);
    if (season_cat < 0)
        season_cat = cat_new(f, FK_SEASON, NULL, 0, NULL, show_cat, snum, -1);
    show = media_parent(f, s, show_cat, "show", NULL, now);
    season = media_parent(f, s, season_cat, "season", fk_gets(show, "id"), now);
    o = media_register(f, s, false, cat, "episode", now);
    fk_set(o, "duration_ms", json_object_new_int64(MEDIA_EPISODE_MS));
    fk_set(o, "show_id", json_object_new_string(fk_gets(show, "id")));
    fk_set(o, "season_id", json_object_new_string(fk_gets(season, "id")));
    return o;
}

static bool
media_is_parent(struct json_object *o)
{
    const char *t = fk_gets(o, "type");

    return t != NULL && (strcmp(t, "show") == 0 || strcmp(t, "season") == 0);
}

/* Episodes (items) under parent p (a show or a season), in library order.
 * Owned array (free). */
static struct json_object **
media_children(struct fake *f, enum fk_server s, struct json_object *p,
               size_t *n)
{
    struct json_object *items = media_part(f, s, "items");
    const char *pid = fk_gets(p, "id");
    const char *key =
        strcmp(fk_gets(p, "type"), "show") == 0 ? "show_id" : "season_id";
    size_t len = json_object_array_length(items), cap = 16;
    struct json_object **out = xmalloc(cap * sizeof(*out));

    *n = 0;
    for (size_t i = 0; i < len; i++) {
        struct json_object *o = json_object_array_get_idx(items, i);
        const char *v = fk_gets(o, key);

        if (v == NULL || strcmp(v, pid) != 0)
            continue;
        if (*n == cap) {
            cap *= 2;
            out = xrealloc(out, cap * sizeof(*out));
        }
        out[(*n)++] = o;
    }
    return out;
}

/* {parent id: [episodes, played episodes]} over the whole library: one pass,
 * for rendering shows and seasons. */
static struct json_object *
media_leaf_counts(struct fake *f, enum fk_server s)
{
    struct json_object *items = media_part(f, s, "items");
    struct json_object *out = json_object_new_object();
    size_t len = json_object_array_length(items);

    for (size_t i = 0; i < len; i++) {
        struct json_object *o = json_object_array_get_idx(items, i);
        static const char *const keys[] = {"show_id", "season_id"};
        bool played = false;

        jget_bool(o, "played", &played);
        for (size_t k = 0; k < 2; k++) {
            const char *pid = fk_gets(o, keys[k]);
            struct json_object *c;

            if (pid == NULL)
                continue;
            c = fk_get(out, pid);
            if (c == NULL) {
                c = json_object_new_array();
                json_object_array_add(c, json_object_new_int64(0));
                json_object_array_add(c, json_object_new_int64(0));
                fk_set(out, pid, c);
            }
            json_object_array_put_idx(
                c, 0,
                json_object_new_int64(
                    json_object_get_int64(json_object_array_get_idx(c, 0)) +
                    1));
            if (played)
                json_object_array_put_idx(
                    c, 1,
                    json_object_new_int64(
                        json_object_get_int64(json_object_array_get_idx(c, 1)) +
                        1));
        }
    }
    return out;
}

static void
media_leaf_get(struct json_object *counts, struct json_object *p,
               int64_t *leaves, int64_t *viewed)
{
    struct json_object *c = fk_get(counts, fk_gets(p, "id"));

    *leaves = *viewed = 0;
    if (c == NULL)
        return;
    *leaves = json_object_get_int64(json_object_array_get_idx(c, 0));
    *viewed = json_object_get_int64(json_object_array_get_idx(c, 1));
}

/* ---- user-data changes ------------------------------------------------ */

static void
media_touch(struct json_object *o, int64_t now)
{
    fk_set(o, "saved_ms", json_object_new_int64(now));
    fk_set(o, "updated_ms", json_object_new_int64(now));
}

static void
media_history_add(struct fake *f, struct json_object *o, int64_t at_ms)
{
    struct json_object *st = media_state(f, FK_SRV_PLEX);
    struct json_object *h = json_object_new_object();

    fk_set(h, "id", json_object_new_int64(fk_next_id(st, "next_history", 1)));
    fk_set(h, "rating_key", json_object_new_string(fk_gets(o, "id")));
    fk_set(h, "viewed_ms", json_object_new_int64(at_ms));
    fk_set(h, "account", json_object_new_int64(1));
    json_object_array_add(fk_get(st, "history"), h);
}

/* A play: count + 1, last played at_ms, resume point cleared. */
static void
media_play(struct json_object *o, int64_t at_ms, int64_t now)
{
    fk_set(o, "play_count",
           json_object_new_int64(fk_geti(o, "play_count", 0) + 1));
    fk_set(o, "played", json_object_new_boolean(true));
    fk_set(o, "last_played_ms", json_object_new_int64(at_ms));
    fk_set(o, "position_ms", json_object_new_int64(0));
    media_touch(o, now);
}

static void
media_unplay(struct json_object *o, int64_t now)
{
    fk_set(o, "play_count", json_object_new_int64(0));
    fk_set(o, "played", json_object_new_boolean(false));
    fk_set(o, "last_played_ms", json_object_new_int64(0));
    fk_set(o, "position_ms", json_object_new_int64(0));
    media_touch(o, now);
}

/* rating <= 0 clears. */
static void
media_rate(struct json_object *o, double rating, int64_t rated_ms, int64_t now)
{
    if (rating <= 0) {
        json_object_object_del(o, "rating");
        fk_set(o, "rated_ms", json_object_new_int64(0));
    } else {
        fk_set(o, "rating", fk_jnum(rating));
        fk_set(o, "rated_ms", json_object_new_int64(rated_ms));
    }
    media_touch(o, now);
}

static void
media_favorite(struct json_object *o, bool fav, int64_t now)
{
    fk_set(o, "favorite", json_object_new_boolean(fav));
    media_touch(o, now);
}

static bool
media_rating(struct json_object *o, double *v)
{
    return jget_num(o, "rating", v) == 0;
}

/* ---- the listing cache ------------------------------------------------ */

static const struct media_cache_ent *
media_cache_get(struct fake *f, const char *key)
{
    if (f->mcache == NULL)
        return NULL;
    for (size_t i = 0; i < MEDIA_CACHE_N; i++) {
        const struct media_cache_ent *e = &f->mcache->e[i];

        if (e->key != NULL && e->gen == f->media_gen &&
            strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

/* Keep v (taken) under key for the current generation. */
static const struct media_cache_ent *
media_cache_put(struct fake *f, const char *key, struct json_object **v,
                size_t n)
{
    struct media_cache_ent *e;

    if (f->mcache == NULL)
        f->mcache = xcalloc(1, sizeof(*f->mcache));
    e = &f->mcache->e[f->mcache->next];
    f->mcache->next = (f->mcache->next + 1) % MEDIA_CACHE_N;
    free(e->key);
    free(e->v);
    e->key = xstrdup(key);
    e->gen = f->media_gen;
    e->v = v;
    e->n = n;
    return e;
}

/* A cache key: provider, path and the raw query without the parameters
 * named in skip (compared without case). Owned. */
static char *
media_cache_key(struct fk_req *r, const char *const *skip)
{
    struct buf b;
    const char *q = media_raw_query(r);

    buf_init(&b);
    buf_printf(&b, "%d %s?", (int)r->prov, r->path);
    while (*q != '\0') {
        size_t n = strcspn(q, "&");
        size_t kn = strcspn(q, "=&");
        bool drop = false;

        for (size_t i = 0; skip[i] != NULL; i++) {
            size_t sl = strlen(skip[i]);

            /* "X-Plex-*" drops every name with that prefix. */
            if (sl > 0 && skip[i][sl - 1] == '*')
                drop |= kn >= sl - 1 && strncasecmp(q, skip[i], sl - 1) == 0;
            else
                drop |= kn == sl && strncasecmp(q, skip[i], kn) == 0;
        }
        if (!drop) {
            buf_append(&b, q, n);
            buf_append(&b, "&", 1);
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return b.data;
}

/* A growable vector of borrowed objects. */
struct media_vec {
    struct json_object **v;
    size_t n, cap;
};

static void
media_vec_push(struct media_vec *v, struct json_object *o)
{
    if (v->n == v->cap) {
        v->cap = v->cap != 0 ? v->cap * 2 : 64;
        v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
    }
    v->v[v->n++] = o;
}

/* ---- sorting ---------------------------------------------------------- */

enum media_sort_key {
    MS_NONE,
    MS_ADDED,
    MS_UPDATED,
    MS_PLAYED,
    MS_RATED,
    MS_PLAYCOUNT,
    MS_NAME,
    MS_YEAR,
    MS_RATING,
    MS_SAVED
};

#define MEDIA_SORT_MAX 3

struct media_sort {
    enum media_sort_key key[MEDIA_SORT_MAX];
    bool desc[MEDIA_SORT_MAX];
    int n;
};

struct media_sort_row {
    const struct media_sort *spec;
    struct json_object *o;
    int64_t k[MEDIA_SORT_MAX];
    const char *s[MEDIA_SORT_MAX];
    size_t pos;
};

static int
media_sort_cmp(const void *a, const void *b)
{
    const struct media_sort_row *x = a, *y = b;

    for (int i = 0; i < x->spec->n; i++) {
        int c = 0;

        if (x->spec->key[i] == MS_NAME)
            c = strcasecmp(x->s[i] != NULL ? x->s[i] : "",
                           y->s[i] != NULL ? y->s[i] : "");
        else if (x->k[i] != y->k[i])
            c = x->k[i] < y->k[i] ? -1 : 1;
        if (c != 0)
            return x->spec->desc[i] ? -c : c;
    }
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void
media_sort_apply(struct fake *f, const struct media_sort *spec,
                 struct media_vec *v)
{
    struct media_sort_row *rows;

    if (spec->n == 0 || v->n < 2)
        return;
    rows = xcalloc(v->n, sizeof(*rows));
    for (size_t i = 0; i < v->n; i++) {
        struct json_object *o = v->v[i];
        struct json_object *e = cat_entry(f, fk_geti(o, "item", -1));

        rows[i].spec = spec;
        rows[i].o = o;
        rows[i].pos = i;
        for (int j = 0; j < spec->n; j++) {
            double d = 0;

            switch (spec->key[j]) {
            case MS_ADDED:
                rows[i].k[j] = fk_geti(o, "added_ms", 0);
                break;
            case MS_UPDATED:
                rows[i].k[j] = fk_geti(o, "updated_ms", 0);
                break;
            case MS_PLAYED:
                rows[i].k[j] = fk_geti(o, "last_played_ms", 0);
                break;
            case MS_RATED:
                rows[i].k[j] = fk_geti(o, "rated_ms", 0);
                break;
            case MS_PLAYCOUNT:
                rows[i].k[j] = fk_geti(o, "play_count", 0);
                break;
            case MS_NAME:
                rows[i].s[j] = fk_gets(e, "title");
                break;
            case MS_YEAR:
                rows[i].k[j] = fk_geti(e, "year", 0);
                break;
            case MS_RATING:
                rows[i].k[j] =
                    media_rating(o, &d) ? (int64_t)llround(d * 100) : 0;
                break;
            case MS_SAVED:
                rows[i].k[j] = fk_geti(o, "saved_ms", 0);
                break;
            case MS_NONE:
                break;
            }
        }
    }
    qsort(rows, v->n, sizeof(*rows), media_sort_cmp);
    for (size_t i = 0; i < v->n; i++)
        v->v[i] = rows[i].o;
    free(rows);
}

/* ---- routing ---------------------------------------------------------- */

enum {
    MR_WRITE = 1u << 0,  /* changes state */
    MR_NOAUTH = 1u << 1, /* no credentials needed */
    MR_BODY = 1u << 2    /* a JSON body is read when present */
};

struct media_route {
    const char *method; /* "GET" also answers HEAD */
    const char *pattern;
    unsigned flags;
    void (*fn)(struct fk_req *r);
};

static bool
media_route_matches(const struct media_route *rt, struct fk_req *r, bool ci)
{
    const char *p = rt->pattern;
    size_t i = 0;

    while (*p == '/') {
        size_t n;

        p++;
        n = strcspn(p, "/");
        if (i >= r->nsegs)
            return false;
        if (!(n == 1 && *p == '*') &&
            (strlen(r->segs[i]) != n || (ci ? strncasecmp(p, r->segs[i], n)
                                            : strncmp(p, r->segs[i], n)) != 0))
            return false;
        i++;
        p += n;
    }
    return i == r->nsegs;
}

static bool
media_method_is(struct fk_req *r, const char *m)
{
    return strcmp(r->method, m) == 0 ||
           (strcmp(m, "GET") == 0 && strcmp(r->method, "HEAD") == 0);
}

/* The route for r; NULL with *status 404 or 405. */
static const struct media_route *
media_route_find(const struct media_route *table, struct fk_req *r, bool ci,
                 int *status)
{
    bool seen = false;

    *status = 404;
    if (r->too_many_segs)
        return NULL;
    for (const struct media_route *rt = table; rt->method != NULL; rt++) {
        if (!media_route_matches(rt, r, ci))
            continue;
        seen = true;
        if (media_method_is(r, rt->method))
            return rt;
    }
    if (seen)
        *status = 405;
    return NULL;
}

static void media_text(struct fk_req *r, int status, const char *ctype,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
media_text(struct fk_req *r, int status, const char *ctype, const char *fmt,
           ...)
{
    va_list ap;
    char buf[1024];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fk_reply_empty(r, status);
    r->raw = xstrdup(buf);
    r->ctype = ctype;
}

/* ---- the catalog, from the control API -------------------------------- */

/* A movie or show of the control API ({title, year, ids}): found by ids,
 * then by title and year, else added. New ids are merged in. -1 with err. */
static int64_t
media_cat_resolve(struct fake *f, enum fk_kind k, struct json_object *obj,
                  char *err, size_t errlen)
{
    struct json_object *nids;
    const char *title = fk_gets(obj, "title");
    int64_t year = fk_geti(obj, "year", 0), idx;

    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, errlen, "a %s must be an object", fk_kind_name[k]);
        return -1;
    }
    nids = fk_norm_ids(fk_get(obj, "ids"), true, err, errlen);
    if (nids == NULL)
        return -1;
    idx = cat_find_ids(f, k, nids);
    if (idx < 0 && title != NULL)
        idx = cat_find_title(f, k, title, year);
    if (idx < 0) {
        if (title == NULL && json_object_object_length(nids) == 0) {
            json_object_put(nids);
            snprintf(err, errlen, "a %s needs a title or ids", fk_kind_name[k]);
            return -1;
        }
        return cat_new(f, k, title != NULL ? title : "Untitled", year, nids, -1,
                       -1, -1);
    }
    json_object_object_foreach (nids, name, v) {
        if (fk_get(fk_get(cat_entry(f, idx), "ids"), name) == NULL)
            fk_set(fk_get(cat_entry(f, idx), "ids"), name, json_object_get(v));
    }
    json_object_put(nids);
    cat_index_entry(f, idx);
    return idx;
}

/* The catalog episode of a control-API episode ({show, season, episode,
 * title, ids}), added when missing. -1 with err. */
static int64_t
media_cat_episode(struct fake *f, struct json_object *in, char *err,
                  size_t errlen)
{
    struct json_object *nids;
    int64_t show, season, number, idx;

    if (fk_get(in, "show") == NULL) {
        snprintf(err, errlen, "an episode needs a show");
        return -1;
    }
    if (jget_i64(in, "season", &season) != 0 || season < 0 ||
        jget_i64(in, "episode", &number) != 0 || number < 1) {
        snprintf(err, errlen,
                 "an episode needs season (>= 0) and episode "
                 "(>= 1) numbers");
        return -1;
    }
    show = media_cat_resolve(f, FK_SHOW, fk_get(in, "show"), err, errlen);
    if (show < 0)
        return -1;
    nids = fk_norm_ids(fk_get(in, "ids"), true, err, errlen);
    if (nids == NULL)
        return -1;
    idx = cat_episode(f, show, season, number);
    if (idx < 0) {
        char title[64];

        if (cat_season(f, show, season) < 0)
            cat_new(f, FK_SEASON, NULL, 0, NULL, show, season, -1);
        snprintf(title, sizeof(title), "Episode %" PRId64, number);
        return cat_new(f, FK_EPISODE,
                       fk_gets(in, "title") != NULL ? fk_gets(in, "title")
                                                    : title,
                       0, nids, show, season, number);
    }
    json_object_object_foreach (nids, name, v) {
        fk_set(fk_get(cat_entry(f, idx), "ids"), name, json_object_get(v));
    }
    json_object_put(nids);
    cat_index_entry(f, idx);
    return idx;
}

/* An optional ISO time field: 0 absent (or null), 1 set, -1 malformed. */
static int
media_ctl_time(struct json_object *in, const char *key, int64_t *ms, char *err,
               size_t errlen)
{
    struct json_object *v = fk_get(in, key);

    if (v == NULL || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        media_parse_iso_ms(json_object_get_string(v), ms) != 0) {
        snprintf(err, errlen, "%s must be an ISO 8601 time", key);
        return -1;
    }
    return 1;
}

/* Apply control-API user state (played, play_count, last_played_at, rating,
 * rated_at, favorite, likes, position_ms, duration_ms, added_at) to o. */
static int
media_ctl_apply(struct fake *f, enum fk_server s, struct json_object *o,
                struct json_object *in, int64_t now, char *err, size_t errlen)
{
    int64_t last = 0, rated = 0, added = 0, count = -1, v;
    bool played = false, has_played, fav, likes, changed = false;
    double rating = 0;
    int rc_last, rc_rated;

    has_played = jget_bool(in, "played", &played) == 0;
    if (fk_get(in, "play_count") != NULL &&
        (jget_i64(in, "play_count", &count) != 0 || count < 0)) {
        snprintf(err, errlen, "play_count must be an integer >= 0");
        return -1;
    }
    rc_last = media_ctl_time(in, "last_played_at", &last, err, errlen);
    rc_rated = media_ctl_time(in, "rated_at", &rated, err, errlen);
    if (rc_last < 0 || rc_rated < 0 ||
        media_ctl_time(in, "added_at", &added, err, errlen) < 0)
        return -1;
    if (fk_get(in, "rating") != NULL &&
        !json_object_is_type(fk_get(in, "rating"), json_type_null) &&
        (jget_num(in, "rating", &rating) != 0 || rating < 0 || rating > 10)) {
        snprintf(err, errlen, "rating must be a number from 0 to 10");
        return -1;
    }
    if (added > 0) {
        fk_set(o, "added_ms", json_object_new_int64(added));
        fk_set(o, "updated_ms", json_object_new_int64(added));
    }
    if (jget_i64(in, "duration_ms", &v) == 0 && v > 0)
        fk_set(o, "duration_ms", json_object_new_int64(v));
    if (count < 0 && has_played)
        count = played ? (int64_t)1 : 0;
    if (count > 0 && !has_played)
        played = has_played = true;
    if (played && count == 0)
        count = 1;
    if (has_played || count >= 0) {
        int64_t at = rc_last > 0 ? last : now;

        fk_set(o, "played", json_object_new_boolean(played));
        fk_set(o, "play_count", json_object_new_int64(count));
        fk_set(o, "last_played_ms",
               json_object_new_int64(count > 0 || played ? at : 0));
        if (s == FK_SRV_PLEX)
            for (int64_t i = count - 1; i >= 0; i--)
                media_history_add(f, o, at - i * MEDIA_DAY_MS);
        changed = true;
    }
    if (jget_i64(in, "position_ms", &v) == 0 && v >= 0) {
        fk_set(o, "position_ms", json_object_new_int64(v));
        changed = true;
    }
    if (fk_get(in, "rating") != NULL) {
        if (rating > 0) {
            fk_set(o, "rating", fk_jnum(rating));
            fk_set(o, "rated_ms",
                   json_object_new_int64(rc_rated > 0 ? rated : now));
        } else {
            json_object_object_del(o, "rating");
            fk_set(o, "rated_ms", json_object_new_int64(0));
        }
        changed = true;
    }
    if (jget_bool(in, "favorite", &fav) == 0) {
        fk_set(o, "favorite", json_object_new_boolean(fav));
        changed = true;
    }
    if (jget_bool(in, "likes", &likes) == 0) {
        fk_set(o, "likes", json_object_new_boolean(likes));
        changed = true;
    }
    if (changed)
        media_touch(o, now);
    return 0;
}

/* ---- provider-neutral dumps ------------------------------------------- */

static void media_plex_hex(int64_t cat, char out[32]);

static struct json_object *
media_dump_obj(struct fake *f, enum fk_server s, struct json_object *o)
{
    struct json_object *d = json_object_new_object();
    int64_t cat = fk_geti(o, "item", -1);
    struct json_object *e = cat_entry(f, cat);
    double rating;
    bool b = false;
    static const char *const times[][2] = {{"added_ms", "added_at"},
                                           {"updated_ms", "updated_at"},
                                           {"last_played_ms", "last_played_at"},
                                           {"rated_ms", "rated_at"},
                                           {"saved_ms", "saved_at"}};

    fk_set(d, "id", json_object_new_string(fk_gets(o, "id")));
    fk_set(d, "type", json_object_new_string(fk_gets(o, "type")));
    fk_set(d, "catalog", json_object_new_int64(cat));
    if (fk_gets(e, "title") != NULL)
        fk_set(d, "title", json_object_new_string(fk_gets(e, "title")));
    if (fk_geti(e, "year", 0) > 0)
        fk_set(d, "year", json_object_new_int64(fk_geti(e, "year", 0)));
    if (cat_kind(f, cat) == FK_EPISODE) {
        struct json_object *show = cat_entry(f, fk_geti(e, "show", -1));

        fk_set(d, "show",
               json_object_new_string(fk_gets(show, "title") != NULL
                                          ? fk_gets(show, "title")
                                          : ""));
        fk_set(d, "season", json_object_new_int64(fk_geti(e, "season", 0)));
        fk_set(d, "episode", json_object_new_int64(fk_geti(e, "number", 0)));
    } else if (cat_kind(f, cat) == FK_SEASON) {
        fk_set(d, "season", json_object_new_int64(fk_geti(e, "number", 0)));
    }
    if (fk_gets(o, "show_id") != NULL)
        fk_set(d, "show_id", json_object_new_string(fk_gets(o, "show_id")));
    if (fk_gets(o, "season_id") != NULL)
        fk_set(d, "season_id", json_object_new_string(fk_gets(o, "season_id")));
    fk_set(d, "ids", json_object_get(fk_get(e, "ids")));
    if (s == FK_SRV_PLEX) {
        char hex[32], guid[64];

        media_plex_hex(cat, hex);
        snprintf(guid, sizeof(guid), "plex://%s/%s",
                 fk_kind_name[cat_kind(f, cat)], hex);
        fk_set(d, "guid", json_object_new_string(guid));
    }
    jget_bool(o, "played", &b);
    fk_set(d, "played", json_object_new_boolean(b));
    fk_set(d, "play_count", json_object_new_int64(fk_geti(o, "play_count", 0)));
    fk_set(d, "position_ms",
           json_object_new_int64(fk_geti(o, "position_ms", 0)));
    fk_set(d, "rating", media_rating(o, &rating) ? fk_jnum(rating) : NULL);
    b = false;
    jget_bool(o, "favorite", &b);
    fk_set(d, "favorite", json_object_new_boolean(b));
    if (jget_bool(o, "likes", &b) == 0)
        fk_set(d, "likes", json_object_new_boolean(b));
    if (fk_geti(o, "duration_ms", 0) > 0)
        fk_set(d, "duration_ms",
               json_object_new_int64(fk_geti(o, "duration_ms", 0)));
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        int64_t ms = fk_geti(o, times[i][0], 0);

        fk_set(d, times[i][1], ms > 0 ? fk_jiso(ms, true) : NULL);
    }
    return d;
}

/* ---- the control API: /_fake/media/{server}/{what} -------------------- */

static void
ctl_media_ok(struct fk_req *r, struct json_object *o)
{
    fk_set(o, "ok", json_object_new_boolean(true));
    fk_reply_json(r, 200, o);
}

static void
ctl_media_items_add(struct fk_req *r, enum fk_server s)
{
    struct fake *f = r->f;
    struct json_object *in = fk_get(r->json, "items"), *rows, *out;
    int64_t now = fk_now_ms(f);
    char err[200];

    if (!json_object_is_type(in, json_type_array)) {
        fk_reply_error(r, 400, "bad_request", "items must be an array");
        return;
    }
    rows = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(in); i++) {
        struct json_object *it = json_object_array_get_idx(in, i), *o, *row;
        const char *type = fk_gets(it, "type");
        int64_t cat;
        bool created;

        if (type == NULL ||
            (strcmp(type, "movie") != 0 && strcmp(type, "episode") != 0)) {
            snprintf(err, sizeof(err),
                     "items[%zu].type must be movie or "
                     "episode",
                     i);
            goto bad;
        }
        cat = strcmp(type, "movie") == 0
                  ? media_cat_resolve(f, FK_MOVIE, it, err, sizeof(err))
                  : media_cat_episode(f, it, err, sizeof(err));
        if (cat < 0)
            goto bad;
        o = media_add(f, s, cat, now, &created);
        if (media_ctl_apply(f, s, o, it, now, err, sizeof(err)) != 0)
            goto bad;
        row = json_object_new_object();
        fk_set(row, "id", json_object_new_string(fk_gets(o, "id")));
        fk_set(row, "catalog", json_object_new_int64(cat));
        fk_set(row, "type", json_object_new_string(type));
        fk_set(row, "created", json_object_new_boolean(created));
        if (fk_gets(o, "show_id") != NULL) {
            fk_set(row, "show_id",
                   json_object_new_string(fk_gets(o, "show_id")));
            fk_set(row, "season_id",
                   json_object_new_string(fk_gets(o, "season_id")));
        }
        if (s == FK_SRV_PLEX) {
            char hex[32];

            media_plex_hex(cat, hex);
            fk_set(row, "plex_id", json_object_new_string(hex));
        }
        json_object_array_add(rows, row);
    }
    out = json_object_new_object();
    fk_set(out, "items", rows);
    ctl_media_ok(r, out);
    return;
bad:
    json_object_put(rows);
    fk_reply_error(r, 400, "bad_request", "%s", err);
}

static void
ctl_media_items_get(struct fk_req *r, enum fk_server s)
{
    struct fake *f = r->f;
    struct json_object *out = json_object_new_object();
    struct json_object *items = json_object_new_array();
    struct json_object *parents = json_object_new_array();
    struct json_object *src = media_part(f, s, "items");

    for (size_t i = 0; i < json_object_array_length(src); i++)
        json_object_array_add(
            items, media_dump_obj(f, s, json_object_array_get_idx(src, i)));
    src = media_part(f, s, "parents");
    for (size_t i = 0; i < json_object_array_length(src); i++)
        json_object_array_add(
            parents, media_dump_obj(f, s, json_object_array_get_idx(src, i)));
    fk_set(out, "server", json_object_new_string(fk_srv_name[s]));
    fk_set(out, "items", items);
    fk_set(out, "parents", parents);
    if (s == FK_SRV_PLEX) {
        struct json_object *hist = json_object_new_array();

        src = media_part(f, s, "history");
        for (size_t i = 0; i < json_object_array_length(src); i++) {
            struct json_object *h = json_object_array_get_idx(src, i);
            struct json_object *row = json_object_new_object();

            fk_set(row, "history_key",
                   json_object_new_int64(fk_geti(h, "id", 0)));
            fk_set(row, "id", json_object_new_string(fk_gets(h, "rating_key")));
            fk_set(row, "viewed_at", fk_jiso(fk_geti(h, "viewed_ms", 0), true));
            json_object_array_add(hist, row);
        }
        fk_set(out, "history", hist);
    }
    ctl_media_ok(r, out);
}

static void
ctl_media_mark(struct fk_req *r, enum fk_server s)
{
    struct fake *f = r->f;
    const char *id = fk_gets(r->json, "id");
    struct json_object *o, *out;
    int64_t now = fk_now_ms(f), at = now, pos;
    bool played, fav;
    char err[200], nid[MEDIA_ID_BUF];

    if (id == NULL) {
        fk_reply_error(r, 400, "bad_request", "id (the server id) is required");
        return;
    }
    if (s == FK_SRV_JELLYFIN && media_norm_guid(id, nid) == 0)
        id = nid;
    o = media_find(f, s, id);
    if (o == NULL) {
        fk_reply_error(r, 404, "not_found", "no library item %s", id);
        return;
    }
    if (media_ctl_time(r->json, "at", &at, err, sizeof(err)) < 0) {
        fk_reply_error(r, 400, "bad_request", "%s", err);
        return;
    }
    if (fk_get(r->json, "rating") != NULL) {
        double v = 0;
        struct json_object *rv = fk_get(r->json, "rating");

        if (!json_object_is_type(rv, json_type_null) &&
            (jget_num(r->json, "rating", &v) != 0 || v < 0 || v > 10)) {
            fk_reply_error(r, 400, "bad_request",
                           "rating must be a number from 0 to 10 or null");
            return;
        }
        media_rate(o, v, at, now);
    }
    if (jget_bool(r->json, "favorite", &fav) == 0)
        media_favorite(o, fav, now);
    if (jget_bool(r->json, "played", &played) == 0) {
        size_t n = 1;
        struct json_object **kids = NULL, *one[1] = {o};
        struct json_object **list = one;

        if (media_is_parent(o)) {
            kids = media_children(f, s, o, &n);
            list = kids;
        }
        for (size_t i = 0; i < n; i++) {
            if (played) {
                media_play(list[i], at, now);
                if (s == FK_SRV_PLEX)
                    media_history_add(f, list[i], at);
            } else {
                media_unplay(list[i], now);
            }
        }
        free(kids);
    }
    if (jget_i64(r->json, "position_ms", &pos) == 0 && pos >= 0) {
        fk_set(o, "position_ms", json_object_new_int64(pos));
        media_touch(o, now);
    }
    out = json_object_new_object();
    fk_set(out, "item", media_dump_obj(f, s, o));
    ctl_media_ok(r, out);
}

static void
ctl_media_generate(struct fk_req *r, enum fk_server s)
{
    struct fake *f = r->f;
    double played_frac = 1.0, rated_frac = 0.0, fav_frac = 0.0;
    int64_t seed = 1, now = fk_now_ms(f), added = 0;
    uint64_t rng;
    size_t len = json_object_array_length(f->cat);
    struct json_object *out;

    jget_num(r->json, "played_fraction", &played_frac);
    jget_num(r->json, "rated_fraction", &rated_frac);
    jget_num(r->json, "favorite_fraction", &fav_frac);
    jget_i64(r->json, "seed", &seed);
    rng = (uint64_t)seed * 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < len; i++) {
        enum fk_kind k = cat_kind(f, (int64_t)i);
        struct json_object *o;
        bool created;

        if (k != FK_MOVIE && k != FK_EPISODE)
            continue;
        o = media_add(f, s, (int64_t)i, now, &created);
        if (!created)
            continue;
        added++;
        if (media_rand(&rng) < played_frac) {
            int64_t at = now - (int64_t)(media_rand(&rng) * 365.0 *
                                         (double)MEDIA_DAY_MS);

            at -= at % 1000;
            media_play(o, at, now);
            if (s == FK_SRV_PLEX)
                media_history_add(f, o, at);
        }
        if (media_rand(&rng) < rated_frac) {
            int64_t at = now - (int64_t)(media_rand(&rng) * 365.0 *
                                         (double)MEDIA_DAY_MS);

            media_rate(o, 1 + (int)(media_rand(&rng) * 10), at - at % 1000,
                       now);
        }
        if (media_rand(&rng) < fav_frac)
            media_favorite(o, true, now);
    }
    out = json_object_new_object();
    fk_set(out, "added", json_object_new_int64(added));
    fk_set(out, "items_total",
           json_object_new_int64(
               (int64_t)json_object_array_length(media_part(f, s, "items"))));
    ctl_media_ok(r, out);
}

static void
ctl_media_watchlist(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *wl = media_part(f, FK_SRV_PLEX, "watchlist");
    struct json_object *in, *rows, *out;
    int64_t now = fk_now_ms(f);
    char err[200];

    rows = json_object_new_array();
    if (strcmp(r->method, "GET") == 0) {
        for (size_t i = 0; i < json_object_array_length(wl); i++) {
            struct json_object *w = json_object_array_get_idx(wl, i);
            struct json_object *row = json_object_new_object();
            int64_t cat = fk_geti(w, "item", -1);
            char hex[32];

            media_plex_hex(cat, hex);
            fk_set(row, "id", json_object_new_string(hex));
            fk_set(row, "catalog", json_object_new_int64(cat));
            fk_set(row, "type",
                   json_object_new_string(fk_kind_name[cat_kind(f, cat)]));
            fk_set(row, "title",
                   json_object_new_string(
                       fk_gets(cat_entry(f, cat), "title") != NULL
                           ? fk_gets(cat_entry(f, cat), "title")
                           : ""));
            fk_set(row, "watchlisted_at",
                   fk_jiso(fk_geti(w, "at_ms", 0), true));
            json_object_array_add(rows, row);
        }
        out = json_object_new_object();
        fk_set(out, "items", rows);
        ctl_media_ok(r, out);
        return;
    }
    in = fk_get(r->json, "items");
    if (!json_object_is_type(in, json_type_array)) {
        snprintf(err, sizeof(err), "items must be an array");
        goto bad;
    }
    for (size_t i = 0; i < json_object_array_length(in); i++) {
        struct json_object *it = json_object_array_get_idx(in, i), *row;
        const char *type = fk_gets(it, "type");
        int64_t cat, at = now;
        bool listed = false;
        char hex[32];

        if (type == NULL ||
            (strcmp(type, "movie") != 0 && strcmp(type, "show") != 0)) {
            snprintf(err, sizeof(err), "items[%zu].type must be movie or show",
                     i);
            goto bad;
        }
        cat = media_cat_resolve(f,
                                strcmp(type, "movie") == 0 ? FK_MOVIE : FK_SHOW,
                                it, err, sizeof(err));
        if (cat < 0 ||
            media_ctl_time(it, "watchlisted_at", &at, err, sizeof(err)) < 0)
            goto bad;
        for (size_t j = 0; j < json_object_array_length(wl); j++)
            listed |=
                fk_geti(json_object_array_get_idx(wl, j), "item", -1) == cat;
        if (!listed) {
            struct json_object *w = json_object_new_object();

            fk_set(w, "item", json_object_new_int64(cat));
            fk_set(w, "at_ms", json_object_new_int64(at));
            json_object_array_add(wl, w);
        }
        media_plex_hex(cat, hex);
        row = json_object_new_object();
        fk_set(row, "id", json_object_new_string(hex));
        fk_set(row, "catalog", json_object_new_int64(cat));
        json_object_array_add(rows, row);
    }
    out = json_object_new_object();
    fk_set(out, "items", rows);
    ctl_media_ok(r, out);
    return;
bad:
    json_object_put(rows);
    fk_reply_error(r, 400, "bad_request", "%s", err);
}

/* /_fake/media/{plex|jellyfin|emby}/{items|mark|generate|watchlist} */
static void
ctl_media(struct fk_req *r)
{
    bool get = strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    int s = -1;

    for (int i = 0; i < FK_SRV_MAX && r->nsegs >= 2; i++)
        if (strcmp(r->segs[1], fk_srv_name[i]) == 0)
            s = i;
    if (s < 0 || r->nsegs != 3) {
        fk_reply_error(r, 404, "not_found",
                       "use /_fake/media/{plex|jellyfin|emby}/{items|mark|"
                       "generate|watchlist}");
        return;
    }
    if (post && r->json == NULL) {
        fk_reply_error(r, 400, "bad_request", "a JSON body is required");
        return;
    }
    if (strcmp(r->segs[2], "items") == 0 && post)
        ctl_media_items_add(r, (enum fk_server)s);
    else if (strcmp(r->segs[2], "items") == 0 && get)
        ctl_media_items_get(r, (enum fk_server)s);
    else if (strcmp(r->segs[2], "mark") == 0 && post)
        ctl_media_mark(r, (enum fk_server)s);
    else if (strcmp(r->segs[2], "generate") == 0 && post)
        ctl_media_generate(r, (enum fk_server)s);
    else if (strcmp(r->segs[2], "watchlist") == 0 && (get || post) &&
             s == FK_SRV_PLEX)
        ctl_media_watchlist(r);
    else
        fk_reply_error(r, 404, "not_found", "no such media control endpoint");
}

#endif
