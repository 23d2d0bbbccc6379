/*
 * fake_mb: fakeprov's Jellyfin (/jellyfin) and Emby (/emby, with or without
 * a further /emby) fakes (PROVIDERS.md B6), included once by fakeprov.c
 * after fake_media.h. Both speak the MediaBrowser REST dialect: paths and
 * query names are case-insensitive, ids are 32-hex GUIDs (Jellyfin) or
 * decimal strings (Emby), times are .NET round-trip strings with seven
 * fraction digits and durations are ticks (100 ns).
 */
#ifndef WR_FAKE_MB_H
#define WR_FAKE_MB_H

#include "fake_core.h"
#include "fake_media.h"

#define MB_JF_SERVER_ID   "8a0c4e2f6b1d3a5c7e9f0b2d4c6e8a1f"
#define MB_EMBY_SERVER_ID "b7e5c3a1f9d7b5e3c1a9f7d5b3e1c9a7"
#define MB_JF_MOVIES      "f137a2dd21bbc1b99aa5c0f6bf02a805"
#define MB_JF_SHOWS       "a656b907eb3a73532e40e44b968d0225"
#define MB_EMBY_MOVIES    "7"
#define MB_EMBY_SHOWS     "8"
#define MB_JSON           "application/json; charset=utf-8"

enum {
    MBT_MOVIE = 1u << 0,
    MBT_EPISODE = 1u << 1,
    MBT_SERIES = 1u << 2,
    MBT_SEASON = 1u << 3,
    MBT_FOLDER = 1u << 4,
    MBT_ALL = 0x1fu
};

enum {
    MBF_PROVIDER_IDS = 1u << 0,
    MBF_DATE_CREATED = 1u << 1,
    MBF_PATH = 1u << 2,
    MBF_ALL = 0xffu
};

static bool
mb_jf(struct fk_req *r)
{
    return r->prov == FK_JELLYFIN;
}

static enum fk_server
mb_srv(struct fk_req *r)
{
    return mb_jf(r) ? FK_SRV_JELLYFIN : FK_SRV_EMBY;
}

/* ---- replies ---------------------------------------------------------- */

static void
mb_json(struct fk_req *r, int status, struct json_object *o)
{
    fk_reply_json(r, status, o);
    r->ctype = MB_JSON;
}

/* Jellyfin: RFC 7807 problem JSON (ASP.NET style); Emby: plain text. param
 * names the query parameter of a validation error. */
static void mb_error(struct fk_req *r, int status, const char *param,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
mb_error(struct fk_req *r, int status, const char *param, const char *fmt, ...)
{
    struct json_object *o, *errs, *list;
    char msg[512], type[96], trace[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!mb_jf(r)) {
        media_text(r, status, "text/plain; charset=utf-8", "%s", msg);
        return;
    }
    o = json_object_new_object();
    snprintf(type, sizeof(type),
             "https://tools.ietf.org/html/rfc9110#section-15.5.%d",
             status == 400   ? 1
             : status == 404 ? 5
             : status == 415 ? 16
                             : 1);
    fk_set(o, "type", json_object_new_string(type));
    fk_set(o, "title",
           json_object_new_string(param != NULL
                                      ? "One or more validation errors "
                                        "occurred."
                                      : fk_reason(status)));
    fk_set(o, "status", json_object_new_int(status));
    if (param != NULL) {
        errs = json_object_new_object();
        list = json_object_new_array();
        json_object_array_add(list, json_object_new_string(msg));
        fk_set(errs, param, list);
        fk_set(o, "errors", errs);
    } else {
        fk_set(o, "detail", json_object_new_string(msg));
    }
    snprintf(trace, sizeof(trace),
             "00-%016" PRIx64 "%016" PRIx64 "-%016" PRIx64 "-00",
             media_mix64((uint64_t)r->t_ms), media_mix64((uint64_t)r->t_ms + 1),
             media_mix64((uint64_t)r->t_ms + 2));
    fk_set(o, "traceId", json_object_new_string(trace));
    fk_reply_json(r, status, o);
    r->ctype = "application/problem+json; charset=utf-8";
}

/* ---- auth ------------------------------------------------------------- */

/*
 * The scheme and Token parameter of a MediaBrowser authorization value,
 * `MediaBrowser Client="x", Device="y", DeviceId="z", Version="1",
 * Token="key"` (parameters in any order, quoted or not). false if there is
 * no Token.
 */
static bool
mb_auth_token(const char *v, char *scheme, size_t slen, char *tok, size_t tlen)
{
    size_t n;

    while (*v == ' ')
        v++;
    n = strcspn(v, " ");
    media_copy(scheme, slen, v, n);
    v += n;
    while (*v != '\0') {
        const char *k, *val;
        size_t kn, vn;

        while (*v == ' ' || *v == ',')
            v++;
        k = v;
        kn = strcspn(v, "=,");
        if (v[kn] != '=')
            return false;
        v += kn + 1;
        while (kn > 0 && k[kn - 1] == ' ')
            kn--;
        while (*v == ' ')
            v++;
        if (*v == '"') {
            val = ++v;
            vn = strcspn(v, "\"");
            v += vn;
            if (*v == '"')
                v++;
        } else {
            val = v;
            vn = strcspn(v, ",");
            v += vn;
            while (vn > 0 && val[vn - 1] == ' ')
                vn--;
        }
        if (kn == 5 && strncasecmp(k, "Token", 5) == 0) {
            media_copy(tok, tlen, val, vn);
            return true;
        }
    }
    return false;
}

static bool
mb_header_token_is(struct fk_req *r, const char *header, const char *scheme,
                   const char *key)
{
    const char *v = fk_in_header(r, header);
    char sch[32], tok[256];

    if (v == NULL || !mb_auth_token(v, sch, sizeof(sch), tok, sizeof(tok)))
        return false;
    return (scheme == NULL || str_ieq(sch, scheme)) && strcmp(tok, key) == 0;
}

static bool
mb_value_is(const char *v, const char *key)
{
    return v != NULL && strcmp(v, key) == 0;
}

/* Jellyfin: Authorization: MediaBrowser …Token="k" or ?ApiKey=k; the legacy
 * forms (X-Emby-Token, X-MediaBrowser-Token, X-Emby-Authorization, the Emby
 * scheme, ?api_key=) only while jellyfin_legacy_auth is on. */
static bool
mb_jf_auth(struct fk_req *r)
{
    const char *key = r->f->cfg.jellyfin_key;
    bool legacy = r->f->cfg.jellyfin_legacy_auth;

    if (mb_header_token_is(r, "Authorization", "MediaBrowser", key) ||
        mb_value_is(fk_query(r, "ApiKey"), key))
        return true;
    if (!legacy)
        return false;
    return mb_header_token_is(r, "Authorization", "Emby", key) ||
           mb_header_token_is(r, "X-Emby-Authorization", NULL, key) ||
           mb_value_is(fk_in_header(r, "X-Emby-Token"), key) ||
           mb_value_is(fk_in_header(r, "X-MediaBrowser-Token"), key) ||
           mb_value_is(fk_query(r, "api_key"), key);
}

/* Emby: X-Emby-Token, X-Emby-Authorization …Token="k" or ?api_key=. */
static bool
mb_emby_auth(struct fk_req *r)
{
    const char *key = r->f->cfg.emby_key;

    return mb_value_is(fk_in_header(r, "X-Emby-Token"), key) ||
           mb_header_token_is(r, "X-Emby-Authorization", NULL, key) ||
           mb_value_is(fk_query(r, "api_key"), key);
}

/* ---- request context -------------------------------------------------- */

/* The user id (path /Users/{uid}/… or ?userId=) and the item id segment of
 * r. uid NULL when none was given. */
static void
mb_ctx(struct fk_req *r, const char **uid, const char **id)
{
    bool users = r->nsegs >= 2 && str_ieq(r->segs[0], "Users");

    *uid = users ? r->segs[1] : fk_query(r, "userId");
    *id = NULL;
    if (users && r->nsegs >= 4)
        *id = r->segs[3];
    else if (!users && r->nsegs >= 2)
        *id = r->segs[1];
}

/* false with 400/404 on r when uid is malformed or not the fake's user. */
static bool
mb_user_ok(struct fk_req *r, const char *uid)
{
    const char *want = mb_jf(r) ? r->f->cfg.jellyfin_user : r->f->cfg.emby_user;
    char a[MEDIA_ID_BUF], b[MEDIA_ID_BUF];

    if (media_norm_guid(uid, a) != 0) {
        if (mb_jf(r))
            mb_error(r, 400, "userId", "The value '%.60s' is not valid.", uid);
        else
            mb_error(r, 404, NULL, "User not found");
        return false;
    }
    if (media_norm_guid(want, b) != 0 || strcmp(a, b) != 0) {
        mb_error(r, 404, NULL, "User not found");
        return false;
    }
    return true;
}

/* The library object of id; NULL with a reply (400 malformed, 404). */
static struct json_object *
mb_find(struct fk_req *r, const char *id)
{
    char norm[MEDIA_ID_BUF];
    struct json_object *o;

    if (id == NULL) {
        mb_error(r, 404, NULL, "Item not found.");
        return NULL;
    }
    if (mb_jf(r)) {
        if (media_norm_guid(id, norm) != 0) {
            mb_error(r, 400, "itemId", "The value '%.60s' is not valid.", id);
            return NULL;
        }
        id = norm;
    }
    o = media_find(r->f, mb_srv(r), id);
    if (o == NULL)
        mb_error(r, 404, NULL, "Item not found.");
    return o;
}

static bool
mb_date_param(struct fk_req *r, const char *name, bool compact_only,
              int64_t *ms, bool *given)
{
    const char *v = fk_query(r, name);

    *given = false;
    if (v == NULL || *v == '\0')
        return true;
    *given = true;
    if (media_parse_compact_ms(v, ms) == 0)
        return true;
    if (!compact_only && media_parse_iso_ms(v, ms) == 0)
        return true;
    mb_error(r, 400, name, "The value '%.60s' is not valid.", v);
    return false;
}

/* ---- objects ---------------------------------------------------------- */

static const char *
mb_type_name(struct json_object *o)
{
    const char *t = fk_gets(o, "type");

    if (strcmp(t, "movie") == 0)
        return "Movie";
    if (strcmp(t, "episode") == 0)
        return "Episode";
    if (strcmp(t, "show") == 0)
        return "Series";
    return "Season";
}

static unsigned
mb_type_bit(struct json_object *o)
{
    const char *t = fk_gets(o, "type");

    if (strcmp(t, "movie") == 0)
        return MBT_MOVIE;
    if (strcmp(t, "episode") == 0)
        return MBT_EPISODE;
    if (strcmp(t, "show") == 0)
        return MBT_SERIES;
    return MBT_SEASON;
}

static struct json_object *
mb_provider_ids(struct fake *f, int64_t cat)
{
    static const char *const names[3][2] = {
        {"imdb", "Imdb"}, {"tmdb", "Tmdb"}, {"tvdb", "Tvdb"}};
    struct json_object *ids = fk_get(cat_entry(f, cat), "ids");
    struct json_object *out = json_object_new_object();

    for (size_t i = 0; i < 3; i++) {
        struct json_object *v = fk_get(ids, names[i][0]);

        if (v != NULL && !json_object_is_type(v, json_type_null))
            fk_set(out, names[i][1],
                   json_object_new_string(json_object_get_string(v)));
    }
    return out;
}

/* The user-data key: the tmdb (else imdb, tvdb) id; episodes and seasons
 * append season and episode numbers to their show's. */
static void
mb_key(struct fake *f, struct json_object *o, char out[96])
{
    int64_t cat = fk_geti(o, "item", -1);
    struct json_object *e = cat_entry(f, cat);
    enum fk_kind k = cat_kind(f, cat);
    struct json_object *src = e, *v;
    const char *base;

    if (k == FK_EPISODE || k == FK_SEASON)
        src = cat_entry(f, fk_geti(e, "show", -1));
    v = fk_get(fk_get(src, "ids"), "tmdb");
    if (v == NULL)
        v = fk_get(fk_get(src, "ids"), "imdb");
    if (v == NULL)
        v = fk_get(fk_get(src, "ids"), "tvdb");
    base = v != NULL ? json_object_get_string(v) : fk_gets(o, "id");
    if (k == FK_EPISODE)
        snprintf(out, 96, "%.40s%03d%03d", base,
                 (int)(fk_geti(e, "season", 0) % 1000),
                 (int)(fk_geti(e, "number", 0) % 1000));
    else if (k == FK_SEASON)
        snprintf(out, 96, "%.40s%03d", base,
                 (int)(fk_geti(e, "number", 0) % 1000));
    else
        snprintf(out, 96, "%.40s", base);
}

static bool
mb_played(struct fake *f, enum fk_server s, struct json_object *o,
          struct json_object **counts)
{
    bool played = false;

    if (media_is_parent(o)) {
        int64_t leaves, viewed;

        if (*counts == NULL)
            *counts = media_leaf_counts(f, s);
        media_leaf_get(*counts, o, &leaves, &viewed);
        return leaves > 0 && viewed == leaves;
    }
    jget_bool(o, "played", &played);
    return played;
}

/* UserItemDataDto. */
static struct json_object *
mb_userdata(struct fake *f, enum fk_server s, struct json_object *o,
            struct json_object **counts)
{
    struct json_object *ud = json_object_new_object();
    double rating;
    bool b = false;
    char key[96];

    if (media_rating(o, &rating))
        fk_set(ud, "Rating", fk_jnum(rating));
    if (media_is_parent(o)) {
        int64_t leaves, viewed;

        if (*counts == NULL)
            *counts = media_leaf_counts(f, s);
        media_leaf_get(*counts, o, &leaves, &viewed);
        fk_set(ud, "UnplayedItemCount", json_object_new_int64(leaves - viewed));
    }
    fk_set(ud, "PlaybackPositionTicks",
           json_object_new_int64(fk_geti(o, "position_ms", 0) *
                                 MEDIA_TICKS_PER_MS));
    fk_set(ud, "PlayCount", json_object_new_int64(fk_geti(o, "play_count", 0)));
    jget_bool(o, "favorite", &b);
    fk_set(ud, "IsFavorite", json_object_new_boolean(b));
    if (jget_bool(o, "likes", &b) == 0)
        fk_set(ud, "Likes", json_object_new_boolean(b));
    if (fk_geti(o, "last_played_ms", 0) > 0)
        fk_set(ud, "LastPlayedDate",
               media_jiso7(fk_geti(o, "last_played_ms", 0)));
    fk_set(ud, "Played", json_object_new_boolean(mb_played(f, s, o, counts)));
    mb_key(f, o, key);
    fk_set(ud, "Key", json_object_new_string(key));
    if (s == FK_SRV_JELLYFIN)
        fk_set(ud, "ItemId", json_object_new_string(fk_gets(o, "id")));
    return ud;
}

static const char *
mb_title(struct fake *f, int64_t cat)
{
    const char *t = fk_gets(cat_entry(f, cat), "title");

    return t != NULL ? t : "";
}

/* BaseItemDto. user: whether a user context was given. */
static struct json_object *
mb_dto(struct fake *f, enum fk_server s, struct json_object *o, unsigned fields,
       bool userdata, struct json_object **counts)
{
    struct json_object *d = json_object_new_object();
    int64_t cat = fk_geti(o, "item", -1);
    struct json_object *e = cat_entry(f, cat);
    unsigned bit = mb_type_bit(o);
    char buf[160];

    if (bit == MBT_SEASON)
        snprintf(buf, sizeof(buf), "Season %" PRId64, fk_geti(e, "number", 0));
    else
        snprintf(buf, sizeof(buf), "%s", mb_title(f, cat));
    fk_set(d, "Name", json_object_new_string(buf));
    fk_set(d, "ServerId",
           json_object_new_string(s == FK_SRV_JELLYFIN ? MB_JF_SERVER_ID
                                                       : MB_EMBY_SERVER_ID));
    fk_set(d, "Id", json_object_new_string(fk_gets(o, "id")));
    if (fields & MBF_DATE_CREATED)
        fk_set(d, "DateCreated", media_jiso7(fk_geti(o, "added_ms", 0)));
    if (fields & MBF_PATH) {
        snprintf(buf, sizeof(buf), "/media/%s/%s",
                 bit == MBT_MOVIE ? "movies" : "shows", fk_gets(o, "id"));
        fk_set(d, "Path", json_object_new_string(buf));
    }
    fk_set(d, "Type", json_object_new_string(mb_type_name(o)));
    if ((bit == MBT_MOVIE || bit == MBT_SERIES) && fk_geti(e, "year", 0) > 0)
        fk_set(d, "ProductionYear",
               json_object_new_int64(fk_geti(e, "year", 0)));
    if (bit == MBT_MOVIE || bit == MBT_EPISODE) {
        fk_set(d, "RunTimeTicks",
               json_object_new_int64(fk_geti(o, "duration_ms", 0) *
                                     MEDIA_TICKS_PER_MS));
        fk_set(d, "IsFolder", json_object_new_boolean(false));
        fk_set(d, "MediaType", json_object_new_string("Video"));
    } else {
        fk_set(d, "IsFolder", json_object_new_boolean(true));
    }
    if (bit == MBT_EPISODE || bit == MBT_SEASON) {
        struct json_object *show = media_find(f, s, fk_gets(o, "show_id"));

        fk_set(d, "IndexNumber",
               json_object_new_int64(fk_geti(e, "number", 0)));
        if (bit == MBT_EPISODE) {
            struct json_object *season =
                media_find(f, s, fk_gets(o, "season_id"));

            fk_set(d, "ParentIndexNumber",
                   json_object_new_int64(fk_geti(e, "season", 0)));
            snprintf(buf, sizeof(buf), "Season %" PRId64,
                     fk_geti(e, "season", 0));
            fk_set(d, "SeasonName", json_object_new_string(buf));
            fk_set(d, "SeasonId",
                   json_object_new_string(fk_gets(season, "id")));
            fk_set(d, "ParentId",
                   json_object_new_string(fk_gets(season, "id")));
        } else {
            fk_set(d, "ParentId", json_object_new_string(fk_gets(show, "id")));
        }
        fk_set(d, "SeriesName",
               json_object_new_string(mb_title(f, fk_geti(show, "item", -1))));
        fk_set(d, "SeriesId", json_object_new_string(fk_gets(show, "id")));
    }
    if (fields & MBF_PROVIDER_IDS)
        fk_set(d, "ProviderIds", mb_provider_ids(f, cat));
    if (userdata)
        fk_set(d, "UserData", mb_userdata(f, s, o, counts));
    return d;
}

static struct json_object *
mb_folder_dto(struct fk_req *r, bool movies)
{
    struct json_object *d = json_object_new_object();
    bool jf = mb_jf(r);

    fk_set(d, "Name", json_object_new_string(movies ? "Movies" : "Shows"));
    fk_set(d, "ServerId",
           json_object_new_string(jf ? MB_JF_SERVER_ID : MB_EMBY_SERVER_ID));
    fk_set(d, "Id",
           json_object_new_string(movies ? (jf ? MB_JF_MOVIES : MB_EMBY_MOVIES)
                                         : (jf ? MB_JF_SHOWS : MB_EMBY_SHOWS)));
    fk_set(d, "Type", json_object_new_string("CollectionFolder"));
    fk_set(d, "CollectionType",
           json_object_new_string(movies ? "movies" : "tvshows"));
    fk_set(d, "IsFolder", json_object_new_boolean(true));
    return d;
}

/* 1 movies folder, 2 shows folder, 0 neither. */
static int
mb_folder_of(struct fk_req *r, const char *id)
{
    bool jf = mb_jf(r);
    char norm[MEDIA_ID_BUF];

    if (id == NULL)
        return 0;
    if (jf && media_norm_guid(id, norm) == 0)
        id = norm;
    if (strcmp(id, jf ? MB_JF_MOVIES : MB_EMBY_MOVIES) == 0)
        return 1;
    if (strcmp(id, jf ? MB_JF_SHOWS : MB_EMBY_SHOWS) == 0)
        return 2;
    return 0;
}

/* ---- listing ---------------------------------------------------------- */

struct mb_list {
    unsigned types;
    bool recursive;
    const char *parent; /* normalized id, or NULL */
    int folder;         /* ParentId is a library folder: 1/2 */
    int played;         /* -1 any */
    int favorite;       /* -1 any */
    int has_imdb, has_tmdb, has_tvdb;
    int64_t min_saved_user; /* ms; -1 none */
    int64_t min_saved;
    const char *ids;
    const char *any_provider;
    const char *search;
    bool user;
};

/* A comma list of item types (repeated parameters too) into a mask. */
static unsigned
mb_types(struct fk_req *r, const char *name, unsigned dflt)
{
    static const struct {
        const char *name;
        unsigned bit;
    } types[] = {{"Movie", MBT_MOVIE},
                 {"Episode", MBT_EPISODE},
                 {"Series", MBT_SERIES},
                 {"Season", MBT_SEASON},
                 {"CollectionFolder", MBT_FOLDER}};
    struct evkeyval *kv;
    unsigned mask = 0;
    bool seen = false;

    TAILQ_FOREACH (kv, &r->query, next) {
        if (!str_ieq(kv->key, name))
            continue;
        seen = true;
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (media_list_has(kv->value, types[i].name))
                mask |= types[i].bit;
    }
    return seen ? mask : dflt;
}

static unsigned
mb_fields(struct fk_req *r)
{
    struct evkeyval *kv;
    unsigned mask = 0;

    TAILQ_FOREACH (kv, &r->query, next) {
        if (!str_ieq(kv->key, "Fields"))
            continue;
        if (media_list_has(kv->value, "ProviderIds"))
            mask |= MBF_PROVIDER_IDS;
        if (media_list_has(kv->value, "DateCreated"))
            mask |= MBF_DATE_CREATED;
        if (media_list_has(kv->value, "Path"))
            mask |= MBF_PATH;
    }
    return mask;
}

/* An optional boolean parameter: -1 absent; false with a 400 reply. */
static bool
mb_bool_param(struct fk_req *r, const char *name, int *out)
{
    const char *v = fk_query(r, name);

    *out = -1;
    if (v == NULL || *v == '\0')
        return true;
    *out = media_bool(v);
    if (*out < 0) {
        mb_error(r, 400, name, "The value '%.60s' is not valid.", v);
        return false;
    }
    return true;
}

static bool
mb_int_param(struct fk_req *r, const char *name, int64_t *out)
{
    const char *v = fk_query(r, name);

    if (v == NULL || *v == '\0')
        return true;
    if (parse_i64(v, 0, INT32_MAX, out) != 0) {
        mb_error(r, 400, name, "The value '%.60s' is not valid.", v);
        return false;
    }
    return true;
}

static bool
mb_iso_param(struct fk_req *r, const char *name, int64_t *ms)
{
    const char *v = fk_query(r, name);

    *ms = -1;
    if (v == NULL || *v == '\0')
        return true;
    if (media_parse_iso_ms(v, ms) != 0) {
        mb_error(r, 400, name, "The value '%.60s' is not valid.", v);
        return false;
    }
    return true;
}

/* SortBy / SortOrder into spec; false with a 400 reply on a bad order. */
static bool
mb_sort_spec(struct fk_req *r, struct media_sort *spec)
{
    static const struct {
        const char *name;
        enum media_sort_key key;
    } keys[] = {{"DatePlayed", MS_PLAYED},
                {"DateCreated", MS_ADDED},
                {"DateLastContentAdded", MS_ADDED},
                {"SortName", MS_NAME},
                {"Name", MS_NAME},
                {"ProductionYear", MS_YEAR},
                {"PremiereDate", MS_YEAR},
                {"PlayCount", MS_PLAYCOUNT}};
    const char *by = fk_query(r, "SortBy"), *order = fk_query(r, "SortOrder");
    bool desc[MEDIA_SORT_MAX] = {false, false, false};
    int norder = 0;

    memset(spec, 0, sizeof(*spec));
    for (const char *p = order; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");

        if (n == 10 && strncasecmp(p, "Descending", n) == 0) {
            if (norder < MEDIA_SORT_MAX)
                desc[norder] = true;
        } else if (!(n == 9 && strncasecmp(p, "Ascending", n) == 0)) {
            mb_error(r, 400, "sortOrder", "The value '%.60s' is not valid.",
                     order);
            return false;
        }
        norder++;
        p += n;
        if (*p == ',')
            p++;
    }
    for (const char *p = by; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strlen(keys[i].name) != n ||
                strncasecmp(keys[i].name, p, n) != 0 ||
                spec->n == MEDIA_SORT_MAX)
                continue;
            spec->key[spec->n] = keys[i].key;
            /* One SortOrder applies to every key. */
            spec->desc[spec->n] = norder == 1        ? desc[0]
                                  : spec->n < norder ? desc[spec->n]
                                                     : false;
            spec->n++;
            break;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

/* Whether o lies under ParentId (directly, or anywhere when recursive). */
static bool
mb_under(struct json_object *o, const struct mb_list *q)
{
    unsigned bit = mb_type_bit(o);
    const char *show = fk_gets(o, "show_id"), *season = fk_gets(o, "season_id");

    if (q->folder == 1)
        return bit == MBT_MOVIE;
    if (q->folder == 2)
        return q->recursive ? bit != MBT_MOVIE : bit == MBT_SERIES;
    if (bit == MBT_SEASON)
        return show != NULL && strcmp(show, q->parent) == 0;
    if (bit == MBT_EPISODE)
        return (season != NULL && strcmp(season, q->parent) == 0) ||
               (q->recursive && show != NULL && strcmp(show, q->parent) == 0);
    return false;
}

static bool
mb_any_provider(struct fake *f, struct json_object *o, const char *list)
{
    struct json_object *ids =
        fk_get(cat_entry(f, fk_geti(o, "item", -1)), "ids");

    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        size_t dot = strcspn(p, ".,");

        if (dot < n) {
            char name[16], val[128];

            media_copy(name, sizeof(name), p, dot);
            media_copy(val, sizeof(val), p + dot + 1, n - dot - 1);
            for (char *c = name; *c != '\0'; c++)
                *c = (char)tolower((unsigned char)*c);
            if (fk_get(ids, name) != NULL &&
                str_ieq(json_object_get_string(fk_get(ids, name)), val))
                return true;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool
mb_has_id(struct fake *f, struct json_object *o, const char *name)
{
    return fk_get(fk_get(cat_entry(f, fk_geti(o, "item", -1)), "ids"), name) !=
           NULL;
}

static bool
mb_match(struct fk_req *r, struct json_object *o, const struct mb_list *q,
         struct json_object **counts)
{
    struct fake *f = r->f;
    enum fk_server s = mb_srv(r);
    bool b = false;

    if (!(q->types & mb_type_bit(o)))
        return false;
    if ((q->parent != NULL || q->folder != 0) && !mb_under(o, q))
        return false;
    if (q->user && q->played >= 0 && mb_played(f, s, o, counts) != q->played)
        return false;
    if (q->user && q->favorite >= 0) {
        jget_bool(o, "favorite", &b);
        if (b != (q->favorite == 1))
            return false;
    }
    if (q->user && q->min_saved_user >= 0 &&
        fk_geti(o, "saved_ms", 0) < q->min_saved_user)
        return false;
    if (q->min_saved >= 0 && fk_geti(o, "added_ms", 0) < q->min_saved)
        return false;
    if (q->ids != NULL && !media_list_has(q->ids, fk_gets(o, "id")))
        return false;
    if (q->any_provider != NULL && !mb_any_provider(f, o, q->any_provider))
        return false;
    if ((q->has_imdb >= 0 && mb_has_id(f, o, "imdb") != q->has_imdb) ||
        (q->has_tmdb >= 0 && mb_has_id(f, o, "tmdb") != q->has_tmdb) ||
        (q->has_tvdb >= 0 && mb_has_id(f, o, "tvdb") != q->has_tvdb))
        return false;
    if (q->search != NULL) {
        const char *t = mb_title(f, fk_geti(o, "item", -1));
        size_t n = strlen(q->search);
        bool hit = false;

        for (; *t != '\0' && !hit; t++)
            hit = strncasecmp(t, q->search, n) == 0;
        if (!hit)
            return false;
    }
    return true;
}

static const char *const mb_page_params[] = {"StartIndex",
                                             "Limit",
                                             "api_key",
                                             "ApiKey",
                                             "Fields",
                                             "EnableUserData",
                                             "EnableImages",
                                             "ImageTypeLimit",
                                             "EnableImageTypes",
                                             "enableTotalRecordCount",
                                             NULL};

static void
mb_items(struct fk_req *r)
{
    struct fake *f = r->f;
    enum fk_server s = mb_srv(r);
    struct mb_list q;
    struct media_sort spec;
    const struct media_cache_ent *c = NULL;
    struct json_object *out, *arr, *counts = NULL, *folders[2] = {NULL, NULL};
    struct json_object **v;
    const char *uid, *id, *pid;
    int recursive, userdata, total_on;
    int64_t start = 0, limit = -1;
    size_t n, from, to;
    unsigned fields = mb_fields(r);
    char pnorm[MEDIA_ID_BUF];
    char *key;

    memset(&q, 0, sizeof(q));
    mb_ctx(r, &uid, &id);
    if (uid != NULL && !mb_user_ok(r, uid))
        return;
    q.user = uid != NULL;
    if (!mb_bool_param(r, "Recursive", &recursive) ||
        !mb_bool_param(r, "IsPlayed", &q.played) ||
        !mb_bool_param(r, "IsFavorite", &q.favorite) ||
        !mb_bool_param(r, "EnableUserData", &userdata) ||
        !mb_bool_param(r, "enableTotalRecordCount", &total_on) ||
        !mb_bool_param(r, "HasImdbId", &q.has_imdb) ||
        !mb_bool_param(r, "HasTmdbId", &q.has_tmdb) ||
        !mb_bool_param(r, "HasTvdbId", &q.has_tvdb) ||
        !mb_int_param(r, "StartIndex", &start) ||
        !mb_int_param(r, "Limit", &limit) ||
        !mb_iso_param(r, "MinDateLastSavedForUser", &q.min_saved_user) ||
        !mb_iso_param(r, "MinDateLastSaved", &q.min_saved) ||
        !mb_sort_spec(r, &spec))
        return;
    q.recursive = recursive == 1;
    q.types = mb_types(r, "IncludeItemTypes", MBT_ALL);
    q.types &= ~mb_types(r, "ExcludeItemTypes", 0);
    q.ids = fk_query(r, "Ids");
    q.search = fk_query(r, "SearchTerm");
    /* Jellyfin 10.11 has no anyProviderIdEquals: silently ignored. */
    q.any_provider = mb_jf(r) ? NULL : fk_query(r, "AnyProviderIdEquals");
    pid = fk_query(r, "ParentId");
    if (pid != NULL && *pid != '\0') {
        q.folder = mb_folder_of(r, pid);
        if (q.folder == 0) {
            if (mb_jf(r) && media_norm_guid(pid, pnorm) == 0)
                pid = pnorm;
            q.parent = pid;
        }
    }
    if (q.ids != NULL && mb_jf(r)) {
        /* Jellyfin ids arrive with or without dashes, any case. */
        struct buf b;
        char one[MEDIA_ID_BUF];

        buf_init(&b);
        for (const char *p = q.ids; *p != '\0';) {
            size_t len = strcspn(p, ",");
            char raw[64];

            media_copy(raw, sizeof(raw), p, len);
            if (media_norm_guid(raw, one) == 0)
                buf_printf(&b, "%s,", one);
            p += len;
            if (*p == ',')
                p++;
        }
        /* Kept on the query so that it lives as long as the request. */
        evhttp_add_header(&r->query, "_ids_norm", b.len > 0 ? b.data : "-");
        q.ids = fk_query(r, "_ids_norm");
        buf_release(&b);
    }
    if (!q.recursive && q.parent == NULL && q.folder == 0) {
        /* The root: the user's library folders only. */
        n = 0;
        if (q.types & MBT_FOLDER) {
            folders[n++] = mb_folder_dto(r, true);
            folders[n++] = mb_folder_dto(r, false);
        }
        out = json_object_new_object();
        arr = json_object_new_array();
        for (size_t i = (size_t)start; i < n; i++)
            json_object_array_add(arr, folders[i]);
        for (size_t i = 0; i < n && i < (size_t)start; i++)
            json_object_put(folders[i]);
        fk_set(out, "Items", arr);
        fk_set(out, "TotalRecordCount",
               json_object_new_int64(total_on == 0 ? 0 : (int64_t)n));
        fk_set(out, "StartIndex", json_object_new_int64(start));
        mb_json(r, 200, out);
        return;
    }
    key = media_cache_key(r, mb_page_params);
    c = media_cache_get(f, key);
    if (c == NULL) {
        struct media_vec vec = {NULL, 0, 0};

        for (int pass = 0; pass < 2; pass++) {
            struct json_object *all =
                media_part(f, s, pass == 0 ? "items" : "parents");
            size_t len = json_object_array_length(all);

            if (pass == 0 && !(q.types & (MBT_MOVIE | MBT_EPISODE)))
                continue;
            if (pass == 1 && !(q.types & (MBT_SERIES | MBT_SEASON)))
                continue;
            for (size_t i = 0; i < len; i++) {
                struct json_object *o = json_object_array_get_idx(all, i);

                if (mb_match(r, o, &q, &counts))
                    media_vec_push(&vec, o);
            }
        }
        media_sort_apply(f, &spec, &vec);
        c = media_cache_put(f, key, vec.v, vec.n);
    }
    free(key);
    v = c->v;
    n = c->n;
    from = (size_t)start > n ? n : (size_t)start;
    to = limit < 0 || (size_t)limit > n - from ? n : from + (size_t)limit;
    out = json_object_new_object();
    arr = json_object_new_array_ext((int)(to - from));
    for (size_t i = from; i < to; i++)
        json_object_array_add(
            arr, mb_dto(f, s, v[i], fields, q.user && userdata != 0, &counts));
    json_object_put(counts);
    fk_set(out, "Items", arr);
    fk_set(out, "TotalRecordCount",
           json_object_new_int64(total_on == 0 ? 0 : (int64_t)n));
    fk_set(out, "StartIndex", json_object_new_int64(start));
    mb_json(r, 200, out);
}

static void
mb_item(struct fk_req *r)
{
    struct json_object *o, *counts = NULL;
    const char *uid, *id;
    int folder;

    mb_ctx(r, &uid, &id);
    if (uid != NULL && !mb_user_ok(r, uid))
        return;
    folder = mb_folder_of(r, id);
    if (folder != 0) {
        mb_json(r, 200, mb_folder_dto(r, folder == 1));
        return;
    }
    o = mb_find(r, id);
    if (o == NULL)
        return;
    mb_json(r, 200, mb_dto(r->f, mb_srv(r), o, MBF_ALL, uid != NULL, &counts));
    json_object_put(counts);
}

static void
mb_views(struct fk_req *r)
{
    struct json_object *out = json_object_new_object(), *arr;
    const char *uid, *id;

    mb_ctx(r, &uid, &id);
    if (uid == NULL) {
        json_object_put(out);
        mb_error(r, 404, NULL, "User not found");
        return;
    }
    if (!mb_user_ok(r, uid)) {
        json_object_put(out);
        return;
    }
    arr = json_object_new_array();
    json_object_array_add(arr, mb_folder_dto(r, true));
    json_object_array_add(arr, mb_folder_dto(r, false));
    fk_set(out, "Items", arr);
    fk_set(out, "TotalRecordCount", json_object_new_int(2));
    fk_set(out, "StartIndex", json_object_new_int(0));
    mb_json(r, 200, out);
}

/* ---- writes ----------------------------------------------------------- */

/* The user and item of a user-data request; NULL with a reply. Jellyfin
 * answers an absent userId like an unknown user (an API key has none). */
static struct json_object *
mb_target(struct fk_req *r)
{
    const char *uid, *id;

    mb_ctx(r, &uid, &id);
    if (uid == NULL) {
        mb_error(r, 404, NULL, "User not found");
        return NULL;
    }
    if (!mb_user_ok(r, uid))
        return NULL;
    return mb_find(r, id);
}

static void
mb_reply_userdata(struct fk_req *r, struct json_object *o)
{
    struct json_object *counts = NULL;

    mb_json(r, 200, mb_userdata(r->f, mb_srv(r), o, &counts));
    json_object_put(counts);
}

/* o itself, or the episodes under a series or season. Owned (free). */
static struct json_object **
mb_leaves(struct fk_req *r, struct json_object *o, size_t *n)
{
    struct json_object **one;

    if (media_is_parent(o))
        return media_children(r->f, mb_srv(r), o, n);
    one = xmalloc(sizeof(*one));
    one[0] = o;
    *n = 1;
    return one;
}

static void
mb_mark_played(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *o, **list;
    int64_t now = fk_now_ms(f), at = now;
    bool given;
    size_t n;

    if (!mb_date_param(r, mb_jf(r) ? "datePlayed" : "DatePlayed", !mb_jf(r),
                       &at, &given))
        return;
    o = mb_target(r);
    if (o == NULL)
        return;
    list = mb_leaves(r, o, &n);
    for (size_t i = 0; i < n; i++) {
        struct json_object *it = list[i];

        if (mb_jf(r) && f->cfg.jellyfin_played_quirk && !given) {
            /* BaseItem.MarkPlayed: without a date the count is only made
             * at least 1 and an earlier LastPlayedDate is kept. */
            int64_t last = fk_geti(it, "last_played_ms", 0);
            int64_t count = fk_geti(it, "play_count", 0);

            fk_set(it, "play_count",
                   json_object_new_int64(count < 1 ? 1 : count));
            fk_set(it, "played", json_object_new_boolean(true));
            fk_set(it, "last_played_ms",
                   json_object_new_int64(last > 0 ? last : now));
            fk_set(it, "position_ms", json_object_new_int64(0));
            media_touch(it, now);
        } else {
            media_play(it, at, now);
        }
    }
    free(list);
    if (media_is_parent(o))
        media_touch(o, now);
    mb_reply_userdata(r, o);
}

static void
mb_mark_unplayed(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *o = mb_target(r), **list;
    int64_t now = fk_now_ms(f);
    size_t n;

    if (o == NULL)
        return;
    list = mb_leaves(r, o, &n);
    for (size_t i = 0; i < n; i++)
        media_unplay(list[i], now);
    free(list);
    if (media_is_parent(o))
        media_touch(o, now);
    mb_reply_userdata(r, o);
}

static void
mb_favorite_set(struct fk_req *r, bool fav)
{
    struct json_object *o = mb_target(r);

    if (o == NULL)
        return;
    media_favorite(o, fav, fk_now_ms(r->f));
    mb_reply_userdata(r, o);
}

static void
mb_favorite(struct fk_req *r)
{
    mb_favorite_set(r, true);
}

static void
mb_unfavorite(struct fk_req *r)
{
    mb_favorite_set(r, false);
}

static void
mb_like(struct fk_req *r)
{
    const char *v = fk_query(r, "likes");
    struct json_object *o;
    int b = media_bool(v);

    if (b < 0) {
        mb_error(r, 400, "likes", "The value '%.60s' is not valid.",
                 v != NULL ? v : "");
        return;
    }
    o = mb_target(r);
    if (o == NULL)
        return;
    fk_set(o, "likes", json_object_new_boolean(b == 1));
    media_touch(o, fk_now_ms(r->f));
    mb_reply_userdata(r, o);
}

static void
mb_unlike(struct fk_req *r)
{
    struct json_object *o = mb_target(r);

    if (o == NULL)
        return;
    json_object_object_del(o, "likes");
    media_touch(o, fk_now_ms(r->f));
    mb_reply_userdata(r, o);
}

static void
mb_userdata_get(struct fk_req *r)
{
    struct json_object *o = mb_target(r);

    if (o != NULL)
        mb_reply_userdata(r, o);
}

/* A body member by name, compared without case (System.Text.Json with
 * case-insensitive property names). */
static struct json_object *
mb_member(struct json_object *body, const char *name, bool *present)
{
    *present = false;
    json_object_object_foreach (body, key, v) {
        if (str_ieq(key, name)) {
            *present = true;
            return v;
        }
    }
    return NULL;
}

/* POST …/UserData: a partial UserItemDataDto; only the members present
 * change. Rating 0 or null clears the rating. */
static void
mb_userdata_post(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *body = r->json, *o, *v;
    int64_t now = fk_now_ms(f), last = 0, pos = 0, count = 0;
    double rating = 0;
    bool p_rating, p_played, p_fav, p_last, p_pos, p_count, p_likes;
    bool played = false, fav = false, likes = false;
    const char *bad = NULL;

    if (body == NULL || !json_object_is_type(body, json_type_object)) {
        mb_error(r, 400, "userDataDto", "A JSON object body is required.");
        return;
    }
    v = mb_member(body, "Rating", &p_rating);
    if (p_rating && v != NULL &&
        (!(json_object_is_type(v, json_type_int) ||
           json_object_is_type(v, json_type_double)) ||
         (rating = json_object_get_double(v)) < 0 || rating > 10))
        bad = "Rating";
    v = mb_member(body, "Played", &p_played);
    if (p_played && v != NULL) {
        if (!json_object_is_type(v, json_type_boolean))
            bad = "Played";
        played = json_object_get_boolean(v);
    }
    v = mb_member(body, "IsFavorite", &p_fav);
    if (p_fav && v != NULL) {
        if (!json_object_is_type(v, json_type_boolean))
            bad = "IsFavorite";
        fav = json_object_get_boolean(v);
    }
    v = mb_member(body, "Likes", &p_likes);
    if (p_likes && v != NULL) {
        if (!json_object_is_type(v, json_type_boolean))
            bad = "Likes";
        likes = json_object_get_boolean(v);
    }
    v = mb_member(body, "LastPlayedDate", &p_last);
    if (p_last && v != NULL &&
        (!json_object_is_type(v, json_type_string) ||
         media_parse_iso_ms(json_object_get_string(v), &last) != 0))
        bad = "LastPlayedDate";
    v = mb_member(body, "PlaybackPositionTicks", &p_pos);
    if (p_pos && v != NULL) {
        if (!json_object_is_type(v, json_type_int) ||
            (pos = json_object_get_int64(v)) < 0)
            bad = "PlaybackPositionTicks";
    }
    v = mb_member(body, "PlayCount", &p_count);
    if (p_count && v != NULL) {
        if (!json_object_is_type(v, json_type_int) ||
            (count = json_object_get_int64(v)) < 0)
            bad = "PlayCount";
    }
    if (bad != NULL) {
        mb_error(r, 400, bad, "The JSON value could not be converted.");
        return;
    }
    o = mb_target(r);
    if (o == NULL)
        return;
    if (p_rating) {
        if (rating > 0) {
            fk_set(o, "rating", fk_jnum(rating));
            fk_set(o, "rated_ms", json_object_new_int64(now));
        } else {
            json_object_object_del(o, "rating");
            fk_set(o, "rated_ms", json_object_new_int64(0));
        }
    }
    if (p_played && mb_member(body, "Played", &p_played) != NULL)
        fk_set(o, "played", json_object_new_boolean(played));
    if (p_fav && mb_member(body, "IsFavorite", &p_fav) != NULL)
        fk_set(o, "favorite", json_object_new_boolean(fav));
    if (p_likes) {
        if (mb_member(body, "Likes", &p_likes) != NULL)
            fk_set(o, "likes", json_object_new_boolean(likes));
        else
            json_object_object_del(o, "likes");
    }
    if (p_last)
        fk_set(o, "last_played_ms", json_object_new_int64(last));
    if (p_pos && mb_member(body, "PlaybackPositionTicks", &p_pos) != NULL)
        fk_set(o, "position_ms",
               json_object_new_int64(pos / MEDIA_TICKS_PER_MS));
    if (p_count && mb_member(body, "PlayCount", &p_count) != NULL)
        fk_set(o, "play_count", json_object_new_int64(count));
    media_touch(o, now);
    mb_reply_userdata(r, o);
}

/* ---- server info ------------------------------------------------------ */

static void
mb_info(struct fk_req *r)
{
    struct json_object *o = json_object_new_object();
    bool jf = mb_jf(r);

    fk_set(o, "LocalAddress", json_object_new_string("http://127.0.0.1"));
    fk_set(o, "ServerName", json_object_new_string("fakeprov"));
    fk_set(o, "Version", json_object_new_string(jf ? "10.11.8" : "4.8.10.0"));
    if (jf)
        fk_set(o, "ProductName", json_object_new_string("Jellyfin Server"));
    fk_set(o, "OperatingSystem", json_object_new_string("Linux"));
    fk_set(o, "Id",
           json_object_new_string(jf ? MB_JF_SERVER_ID : MB_EMBY_SERVER_ID));
    if (jf)
        fk_set(o, "StartupWizardCompleted", json_object_new_boolean(true));
    mb_json(r, 200, o);
}

static void
mb_user_get(struct fk_req *r)
{
    struct json_object *o, *pol;
    const char *uid = r->segs[1];

    if (!mb_user_ok(r, uid))
        return;
    o = json_object_new_object();
    pol = json_object_new_object();
    fk_set(o, "Name", json_object_new_string("fake"));
    fk_set(
        o, "ServerId",
        json_object_new_string(mb_jf(r) ? MB_JF_SERVER_ID : MB_EMBY_SERVER_ID));
    fk_set(o, "Id",
           json_object_new_string(mb_jf(r) ? r->f->cfg.jellyfin_user
                                           : r->f->cfg.emby_user));
    fk_set(o, "HasPassword", json_object_new_boolean(true));
    fk_set(pol, "IsAdministrator", json_object_new_boolean(true));
    fk_set(o, "Policy", pol);
    mb_json(r, 200, o);
}

static void
mb_sessions(struct fk_req *r)
{
    mb_json(r, 200, json_object_new_array());
}

/* ---- dispatch --------------------------------------------------------- */

static const struct media_route mb_jf_routes[] = {
    {"GET", "/System/Info/Public", MR_NOAUTH, mb_info},
    {"GET", "/System/Info", 0, mb_info},
    {"GET", "/Users/*", 0, mb_user_get},
    {"GET", "/Items", 0, mb_items},
    {"GET", "/Items/*", 0, mb_item},
    {"GET", "/Users/*/Items", 0, mb_items},
    {"GET", "/Users/*/Items/*", 0, mb_item},
    {"GET", "/UserViews", 0, mb_views},
    {"GET", "/Users/*/Views", 0, mb_views},
    {"POST", "/UserPlayedItems/*", MR_WRITE, mb_mark_played},
    {"DELETE", "/UserPlayedItems/*", MR_WRITE, mb_mark_unplayed},
    {"POST", "/Users/*/PlayedItems/*", MR_WRITE, mb_mark_played},
    {"DELETE", "/Users/*/PlayedItems/*", MR_WRITE, mb_mark_unplayed},
    {"POST", "/UserFavoriteItems/*", MR_WRITE, mb_favorite},
    {"DELETE", "/UserFavoriteItems/*", MR_WRITE, mb_unfavorite},
    {"POST", "/Users/*/FavoriteItems/*", MR_WRITE, mb_favorite},
    {"DELETE", "/Users/*/FavoriteItems/*", MR_WRITE, mb_unfavorite},
    {"GET", "/UserItems/*/UserData", 0, mb_userdata_get},
    {"POST", "/UserItems/*/UserData", MR_WRITE | MR_BODY, mb_userdata_post},
    {"POST", "/UserItems/*/Rating", MR_WRITE, mb_like},
    {"DELETE", "/UserItems/*/Rating", MR_WRITE, mb_unlike},
    {"POST", "/Users/*/Items/*/Rating", MR_WRITE, mb_like},
    {"DELETE", "/Users/*/Items/*/Rating", MR_WRITE, mb_unlike},
    {"GET", "/Sessions", 0, mb_sessions},
    {NULL, NULL, 0, NULL}};

static const struct media_route mb_emby_routes[] = {
    {"GET", "/System/Info/Public", MR_NOAUTH, mb_info},
    {"GET", "/System/Info", 0, mb_info},
    {"GET", "/Users/*", 0, mb_user_get},
    {"GET", "/Items", 0, mb_items},
    {"GET", "/Users/*/Items", 0, mb_items},
    {"GET", "/Users/*/Items/*", 0, mb_item},
    {"GET", "/Users/*/Views", 0, mb_views},
    {"POST", "/Users/*/PlayedItems/*", MR_WRITE, mb_mark_played},
    {"DELETE", "/Users/*/PlayedItems/*", MR_WRITE, mb_mark_unplayed},
    {"POST", "/Users/*/PlayedItems/*/Delete", MR_WRITE, mb_mark_unplayed},
    {"POST", "/Users/*/FavoriteItems/*", MR_WRITE, mb_favorite},
    {"DELETE", "/Users/*/FavoriteItems/*", MR_WRITE, mb_unfavorite},
    {"POST", "/Users/*/FavoriteItems/*/Delete", MR_WRITE, mb_unfavorite},
    {"POST", "/Users/*/Items/*/UserData", MR_WRITE | MR_BODY, mb_userdata_post},
    {"POST", "/Users/*/Items/*/Rating", MR_WRITE, mb_like},
    {"DELETE", "/Users/*/Items/*/Rating", MR_WRITE, mb_unlike},
    {"POST", "/Users/*/Items/*/Rating/Delete", MR_WRITE, mb_unlike},
    {"GET", "/Sessions", 0, mb_sessions},
    {NULL, NULL, 0, NULL}};

static void
mb_dispatch(struct fk_req *r)
{
    bool jf = mb_jf(r);
    const struct media_route *rt;
    int status;

    media_query_rebuild(r);
    rt = media_route_find(jf ? mb_jf_routes : mb_emby_routes, r, true, &status);
    if (rt == NULL) {
        if (jf)
            fk_reply_empty(r, status);
        else
            mb_error(r, status, NULL, "%s", fk_reason(status));
        return;
    }
    r->is_write = (rt->flags & MR_WRITE) != 0;
    log_note(r, "write", json_object_new_boolean(r->is_write));
    if (!(rt->flags & MR_NOAUTH) && !(jf ? mb_jf_auth(r) : mb_emby_auth(r))) {
        if (jf)
            fk_reply_empty(r, 401);
        else
            media_text(r, 401, "text/plain; charset=utf-8",
                       "Access token is invalid or expired.");
        log_note(r, "reject", json_object_new_string("token"));
        return;
    }
    if ((rt->flags & MR_BODY) && r->body_len > 0) {
        char err[160];

        if (!fk_ctype_is_json(fk_in_header(r, "Content-Type"))) {
            mb_error(r, jf ? 415 : 400, NULL,
                     "Content-Type must be application/json");
            return;
        }
        r->json =
            jsonu_parse(r->body, r->body_len, FK_JSON_DEPTH, err, sizeof(err));
        if (r->json == NULL) {
            mb_error(r, 400, "$", "%s", err);
            return;
        }
    }
    rt->fn(r);
}

#endif
