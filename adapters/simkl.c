/*
 * simkl: the SIMKL adapter (PROVIDERS.md B2). Scrobbles through
 * /scrobble/{start,pause,stop}; history through /sync/history[/remove],
 * ratings through /sync/ratings[/remove] (movies and shows only), the
 * watchlist ("Plan to Watch") through /sync/add-to-list with a per-item
 * "to":"plantowatch"; PIN authorization; tokens never expire (no refresh: a
 * 401 pauses the target until `watchrelay auth simkl`). Every request
 * carries client_id, app-name and app-version in the query as well as the
 * simkl-api-key header. Pure: no I/O, no globals.
 *
 * Watchlist remove: SIMKL has no "remove from Plan to Watch" call. Its own
 * documentation says /sync/history/remove with a movie or show and no
 * seasons removes the title from the library ("Remove from list"), which is
 * what its site does and what CrossWatch sends; we do the same, with movies
 * and shows only. It also drops that title's watches and rating on SIMKL,
 * so it is only right for titles that are on Plan to Watch (which is where
 * reconcile finds them; a completion moves a title off it by itself).
 *
 * History check: /sync/all-items?date_from=<watched_at - 60 s> with
 * extended=full and episode_watched_at=yes, looking for the title (and the
 * episode) watched within 60 s of watched_at.
 *
 * Reads (delta sync, reconcile): every feature walks the buckets movies,
 * shows, anime of /sync/all-items (not paginated; the cursor names the next
 * bucket): history rows are watched movies (last_watched_at) and each
 * watched episode of seasons[].episodes[]; watchlist rows come from
 * /sync/all-items/<bucket>/plantowatch; ratings rows are the titles with a
 * user_rating. A delta read is the same walk with date_from; activities come
 * from /sync/activities.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "jsonu.h"
#include "syncapi.h"
#include "util.h"

#define SIMKL_BASE       "https://api.simkl.com"
#define SIMKL_APP_NAME   "watchrelay"
#define SIMKL_APP_VER    "0.1.0"
#define HISTORY_WINDOW_S 60

#define SIMKL_READ_FEATURES                                          \
    (ADAPTER_BIT(ADAPTER_HISTORY) | ADAPTER_BIT(ADAPTER_WATCHLIST) | \
     ADAPTER_BIT(ADAPTER_RATINGS))

#define SIMKL_KINDS                                                           \
    (OP_SCROBBLE_KINDS | OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) | \
     OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |                        \
     OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE))
#define SIMKL_BATCH_KINDS (SIMKL_KINDS & ~OP_SCROBBLE_KINDS)

#define ID(x)     (1u << ITEM_ID_##x)
#define ANIME_IDS (ID(MAL) | ID(ANIDB) | ID(ANILIST) | ID(KITSU))

static const enum item_id simkl_ids[] = {
    ITEM_ID_SIMKL, ITEM_ID_SLUG,  ITEM_ID_IMDB,    ITEM_ID_TMDB,  ITEM_ID_TVDB,
    ITEM_ID_MAL,   ITEM_ID_ANIDB, ITEM_ID_ANILIST, ITEM_ID_KITSU,
};

static const struct syncapi_dialect simkl_dialect = {
    .name = "simkl",
    .label = "SIMKL",
    .ids = simkl_ids,
    .n_ids = sizeof(simkl_ids) / sizeof(simkl_ids[0]),
    .id_mask =
        {
            [ITEM_MOVIE] =
                ID(SIMKL) | ID(SLUG) | ID(IMDB) | ID(TMDB) | ANIME_IDS,
            [ITEM_SHOW] = ID(SIMKL) | ID(SLUG) | ID(IMDB) | ID(TMDB) |
                          ID(TVDB) | ANIME_IDS,
            [ITEM_SEASON] = 0, /* seasons only under their show */
            [ITEM_EPISODE] = ID(SIMKL) | ID(IMDB) | ID(TMDB) | ID(TVDB),
        },
    .ms_times = false,
    .pause_on_412 = true,
    .gateway_retry_ms = 0,
};

enum read_mode { READ_INDEX, READ_DELTA, READ_MODE_MAX };

/* The /sync/all-items buckets a read walks, in order. */
enum bucket { BUCKET_MOVIES, BUCKET_SHOWS, BUCKET_ANIME, BUCKET_MAX };

static const char *const bucket_names[BUCKET_MAX] = {"movies", "shows",
                                                     "anime"};

struct simkl {
    char *base_url;
    char *auth_url; /* the PIN endpoints */
    char *client_id;
    char *client_secret;
    struct adapter_tokens tok;
    /* The bucket each read last asked for: parse_index/parse_delta get no
     * cursor, and an empty reply (null, {}) does not say its bucket. */
    enum bucket reads[READ_MODE_MAX][ADAPTER_FEATURE_MAX];
};

static void *
simkl_init(const struct provider_conf *conf, const struct adapter_tokens *saved,
           const char *state_dir, char *err, size_t errlen)
{
    struct simkl *s;
    const char *access = NULL;

    (void)state_dir;
    if (conf == NULL || conf->client_id == NULL || conf->client_id[0] == '\0') {
        snprintf(err, errlen,
                 "providers.simkl.client_id is required (the client id of "
                 "your SIMKL API app)");
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->base_url = syncapi_url_dup(conf->base_url, SIMKL_BASE);
    s->auth_url = syncapi_url_dup(conf->auth_url, s->base_url);
    s->client_id = xstrdup(conf->client_id);
    s->client_secret = syncapi_opt_dup(conf->client_secret);
    if (saved != NULL)
        access = saved->access_token;
    s->tok.access_token = syncapi_opt_dup(access ? access : conf->access_token);
    return s;
}

static void
simkl_free(void *ctx)
{
    struct simkl *s = ctx;

    if (s == NULL)
        return;
    adapter_tokens_release(&s->tok);
    if (s->client_secret != NULL)
        explicit_bzero(s->client_secret, strlen(s->client_secret));
    free(s->client_secret);
    free(s->client_id);
    free(s->auth_url);
    free(s->base_url);
    free(s);
}

/* base + path + "?client_id=…&app-name=…&app-version=…" (+ "&" extra).
 * Owned. */
static char *
simkl_url(const struct simkl *s, const char *base, const char *path,
          const char *extra)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, base);
    buf_puts(&b, path);
    buf_puts(&b, "?client_id=");
    syncapi_url_encode(&b, s->client_id);
    buf_puts(&b, "&app-name=" SIMKL_APP_NAME "&app-version=" SIMKL_APP_VER);
    if (extra != NULL && *extra) {
        buf_puts(&b, "&");
        buf_puts(&b, extra);
    }
    return b.data;
}

static void
simkl_request(const struct simkl *s, struct http_request *req,
              enum http_method m, const char *base, const char *path,
              const char *extra, bool auth)
{
    req->method = m;
    req->rate_class = m == HTTP_GET ? HTTP_CLASS_READ : HTTP_CLASS_WRITE;
    free(req->url);
    req->url = simkl_url(s, base, path, extra);
    http_request_header(req, "Content-Type: application/json");
    http_request_header(req, "User-Agent: %s", SYNCAPI_USER_AGENT);
    http_request_header(req, "simkl-api-key: %s", s->client_id);
    if (auth && s->tok.access_token != NULL)
        http_request_header(req, "Authorization: Bearer %s",
                            s->tok.access_token);
}

static void
simkl_secrets(const struct simkl *s, struct syncapi_secrets *sec)
{
    memset(sec, 0, sizeof(*sec));
    sec->v[0] = s->tok.access_token;
    sec->v[1] = s->client_secret;
}

static int
simkl_check(const struct op *op, char *why, size_t whylen)
{
    enum item_type type = op->item.type;
    bool title = type == ITEM_MOVIE || type == ITEM_SHOW;

    if (op->kind >= OP_KIND_MAX || (SIMKL_KINDS & OP_BIT(op->kind)) == 0) {
        snprintf(why, whylen, "SIMKL does not take %s operations",
                 op_kind_name(op->kind));
        return -1;
    }
    if (syncapi_is_scrobble(op->kind) && type != ITEM_MOVIE &&
        type != ITEM_EPISODE) {
        snprintf(why, whylen, "SIMKL scrobbles movies and episodes only");
        return -1;
    }
    if ((op->kind == OP_RATING_SET || op->kind == OP_RATING_CLEAR) && !title) {
        snprintf(why, whylen, "SIMKL rates movies and shows only");
        return -1;
    }
    if ((op->kind == OP_WATCHLIST_ADD || op->kind == OP_WATCHLIST_REMOVE) &&
        !title) {
        snprintf(why, whylen, "SIMKL watchlists hold movies and shows only");
        return -1;
    }
    if (op->kind == OP_RATING_SET && (op->rating < 1 || op->rating > 10)) {
        snprintf(why, whylen, "invalid: rating %d is outside 1-10", op->rating);
        return -1;
    }
    return syncapi_identify(&simkl_dialect, &op->item, why, whylen);
}

static int
simkl_build(void *ctx, const struct op *const *ops, size_t n,
            struct http_request *req, char *err, size_t errlen)
{
    struct simkl *s = ctx;
    struct json_object *body;
    const char *path;
    unsigned extras = 0;
    bool *skip;

    skip = syncapi_prepare(ops, n, SIMKL_BATCH_KINDS, simkl_check, err, errlen);
    if (skip == NULL)
        return -1;
    switch (ops[0]->kind) {
    case OP_SCROBBLE_START:
        path = "/scrobble/start";
        break;
    case OP_SCROBBLE_PAUSE:
        path = "/scrobble/pause";
        break;
    case OP_SCROBBLE_STOP:
        path = "/scrobble/stop";
        break;
    case OP_HISTORY_ADD:
        path = "/sync/history";
        extras = SYNCAPI_WATCHED_AT;
        break;
    case OP_RATING_SET:
        path = "/sync/ratings";
        extras = SYNCAPI_RATING;
        break;
    case OP_RATING_CLEAR:
        path = "/sync/ratings/remove";
        break;
    case OP_WATCHLIST_ADD:
        path = "/sync/add-to-list";
        extras = SYNCAPI_TO_PLANTOWATCH;
        break;
    default: /* history remove, watchlist remove (see the top) */
        path = "/sync/history/remove";
        break;
    }
    if (syncapi_is_scrobble(ops[0]->kind))
        body = syncapi_scrobble_body(&simkl_dialect, ops[0]);
    else
        body = syncapi_sync_body(&simkl_dialect, ops, n, skip, extras);
    simkl_request(s, req, HTTP_POST, s->base_url, path, NULL, true);
    syncapi_set_body(req, body);
    json_object_put(body);
    free(skip);
    return 0;
}

static void
simkl_classify(void *ctx, const struct op *const *ops, size_t n,
               const struct http_response *resp, struct adapter_result *results)
{
    struct simkl *s = ctx;
    struct syncapi_secrets sec;

    simkl_secrets(s, &sec);
    /* SIMKL tokens never expire: a 401 needs a new authorization. */
    syncapi_classify_ops(&simkl_dialect, &sec, false, simkl_check, ops, n, resp,
                         results);
}

static void
simkl_set_tokens(void *ctx, const struct adapter_tokens *tok)
{
    struct simkl *s = ctx;

    if (tok == NULL || tok->access_token == NULL)
        return;
    if (s->tok.access_token != NULL)
        explicit_bzero(s->tok.access_token, strlen(s->tok.access_token));
    free(s->tok.access_token);
    s->tok.access_token = xstrdup(tok->access_token);
}

/* ---- history check ---------------------------------------------------- */

static int
simkl_build_history_check(void *ctx, const struct op *op,
                          struct http_request *req, char *err, size_t errlen)
{
    struct simkl *s = ctx;
    const struct item *it = &op->item;
    char from[WR_TIME_BUF];
    struct buf q;

    if (it->type != ITEM_MOVIE &&
        !(it->type == ITEM_EPISODE && syncapi_grouped(&simkl_dialect, it))) {
        snprintf(err, errlen,
                 "the SIMKL history check takes movies and episodes with "
                 "their show's ids");
        return -1;
    }
    if (op->watched_at <= HISTORY_WINDOW_S) {
        snprintf(err, errlen, "the history check needs watched_at");
        return -1;
    }
    if (syncapi_identify(&simkl_dialect, it, err, errlen) != 0)
        return -1;
    syncapi_time(&simkl_dialect, op->watched_at - HISTORY_WINDOW_S, from);
    buf_init(&q);
    buf_puts(&q, "date_from=");
    syncapi_url_encode(&q, from);
    buf_puts(&q, "&extended=full");
    if (it->type == ITEM_EPISODE)
        buf_puts(&q, "&episode_watched_at=yes");
    /* Episodes: no type, since a show may sit in "shows" or "anime". */
    simkl_request(s, req, HTTP_GET, s->base_url,
                  it->type == ITEM_MOVIE ? "/sync/all-items/movies"
                                         : "/sync/all-items",
                  q.data, true);
    buf_release(&q);
    return 0;
}

static bool
near(struct json_object *o, const char *key, int64_t t)
{
    const char *v;
    int64_t at;

    if (jget_str(o, key, &v) != 0 || wr_time_parse(v, &at) != 0)
        return true; /* listed as changed since then, no time given */
    return at >= t - HISTORY_WINDOW_S && at <= t + HISTORY_WINDOW_S;
}

static bool
movie_row_found(const struct op *op, struct json_object *row)
{
    struct json_object *m, *ids;

    return jget_obj(row, "movie", &m) == 0 && jget_obj(m, "ids", &ids) == 0 &&
           syncapi_ids_match(ids, &op->item.ids) &&
           near(row, "last_watched_at", op->watched_at);
}

static bool
show_row_found(const struct op *op, struct json_object *row)
{
    const struct item *it = &op->item;
    struct json_object *show, *ids, *seasons, *eps;
    int64_t x;

    if (jget_obj(row, "show", &show) != 0 || jget_obj(show, "ids", &ids) != 0 ||
        !syncapi_ids_match(ids, &it->show_ids) ||
        jget_arr(row, "seasons", &seasons) != 0)
        return false;
    for (size_t i = 0; i < json_object_array_length(seasons); i++) {
        struct json_object *sn = json_object_array_get_idx(seasons, i);

        if (jget_i64(sn, "number", &x) != 0 || x != it->season ||
            jget_arr(sn, "episodes", &eps) != 0)
            continue;
        for (size_t j = 0; j < json_object_array_length(eps); j++) {
            struct json_object *e = json_object_array_get_idx(eps, j);

            if (jget_i64(e, "number", &x) == 0 && x == it->episode &&
                near(e, "watched_at", op->watched_at))
                return true;
        }
    }
    return false;
}

static int
simkl_parse_history_check(void *ctx, const struct op *op,
                          const struct http_response *resp, bool *found)
{
    static const char *const buckets[] = {"movies", "shows", "anime"};
    struct json_object *o, *arr;
    char perr[64];

    (void)ctx;
    *found = false;
    if (resp->status != 200 || resp->body == NULL)
        return -1;
    /* Nothing changed: legacy apps get null (which json-c parses to
     * NULL), newer ones {} or []. */
    if (syncapi_body_is_null(resp))
        return 0;
    o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                    sizeof(perr));
    if (o == NULL)
        return -1;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return 0;
    }
    for (size_t b = 0; b < 3 && !*found; b++) {
        bool movies = b == 0;

        if ((op->item.type == ITEM_MOVIE) != movies ||
            jget_arr(o, buckets[b], &arr) != 0)
            continue;
        for (size_t i = 0; i < json_object_array_length(arr) && !*found; i++) {
            struct json_object *row = json_object_array_get_idx(arr, i);

            *found =
                movies ? movie_row_found(op, row) : show_row_found(op, row);
        }
    }
    json_object_put(o);
    return 0;
}

/* ---- reads (index, activities, delta) ---------------------------------- */

static bool
read_allowed(enum read_mode m, enum adapter_feature f, char *err, size_t errlen)
{
    if ((unsigned)f < ADAPTER_FEATURE_MAX &&
        (SIMKL_READ_FEATURES & ADAPTER_BIT(f)) != 0)
        return true;
    snprintf(err, errlen, "SIMKL has no %s read of %s",
             m == READ_INDEX ? "index" : "delta", adapter_feature_name(f));
    return false;
}

static int
read_build(struct simkl *s, enum read_mode m, enum adapter_feature f,
           int64_t since, const char *cursor, struct http_request *req,
           char *err, size_t errlen)
{
    enum bucket b = BUCKET_MOVIES;
    char from[WR_TIME_BUF];
    struct buf path, q;

    if (!read_allowed(m, f, err, errlen))
        return -1;
    if (cursor != NULL) {
        while (b < BUCKET_MAX && strcmp(cursor, bucket_names[b]) != 0)
            b++;
        if (b == BUCKET_MAX) {
            snprintf(err, errlen, "not a SIMKL read cursor");
            return -1;
        }
    }
    buf_init(&path);
    buf_init(&q);
    buf_printf(&path, "/sync/all-items/%s%s", bucket_names[b],
               f == ADAPTER_WATCHLIST ? "/plantowatch" : "");
    buf_puts(&q, "extended=full");
    if (f == ADAPTER_HISTORY)
        buf_puts(&q, "&episode_watched_at=yes");
    if (m == READ_DELTA && since > 0) {
        syncapi_time(&simkl_dialect, since, from);
        buf_puts(&q, "&date_from=");
        syncapi_url_encode(&q, from);
    }
    simkl_request(s, req, HTTP_GET, s->base_url, path.data, q.data, true);
    s->reads[m][f] = b;
    buf_release(&q);
    buf_release(&path);
    return 0;
}

/* The show (or anime) object of a shows/anime row. */
static struct json_object *
row_show(struct json_object *row)
{
    struct json_object *o;

    if (jget_obj(row, "show", &o) == 0 || jget_obj(row, "anime", &o) == 0)
        return o;
    return NULL;
}

/* History rows of a show or anime row: one per watched episode listed in
 * seasons[].episodes[] (watched_at 0 when SIMKL gives no date). */
static void
show_history(struct json_object *row, struct adapter_page *out)
{
    struct json_object *show = row_show(row), *seasons, *eps;
    struct item base;
    int64_t x;
    bool watched;

    if (jget_arr(row, "seasons", &seasons) != 0)
        return;
    syncapi_media_item(show, ITEM_SHOW, &base);
    for (size_t i = 0; i < json_object_array_length(seasons); i++) {
        struct json_object *sn = json_object_array_get_idx(seasons, i);
        int64_t season;

        if (jget_i64_lenient(sn, "number", &season) != 0 || season < 0 ||
            season > 1000000 || jget_arr(sn, "episodes", &eps) != 0)
            continue;
        for (size_t j = 0; j < json_object_array_length(eps); j++) {
            struct json_object *ep = json_object_array_get_idx(eps, j);
            struct adapter_entry e;

            if (jget_i64_lenient(ep, "number", &x) != 0 || x < 0 ||
                x > 1000000 ||
                (jget_bool_lenient(ep, "watched", &watched) == 0 && !watched))
                continue;
            syncapi_entry_init(&e);
            e.item.type = ITEM_EPISODE;
            e.item.show_title = base.title != NULL ? xstrdup(base.title) : NULL;
            e.item.show_year = base.year;
            for (int k = 0; k < ITEM_ID_MAX; k++)
                if (base.ids.v[k] != NULL)
                    e.item.show_ids.v[k] = xstrdup(base.ids.v[k]);
            e.item.season = (int)season;
            e.item.episode = (int)x;
            e.watched_at = syncapi_row_time(ep, "watched_at");
            syncapi_page_push(out, &e);
        }
    }
    item_release(&base);
}

/* One all-items row of bucket b into out, per feature f. */
static void
read_row(enum adapter_feature f, enum bucket b, struct json_object *row,
         struct adapter_page *out)
{
    struct json_object *media, *v;
    const char *status = NULL;
    struct adapter_entry e;
    bool movie = b == BUCKET_MOVIES;

    if (!json_object_is_type(row, json_type_object))
        return;
    jget_str(row, "status", &status);
    if (f == ADAPTER_HISTORY && !movie) {
        show_history(row, out);
        return;
    }
    if (movie) {
        if (jget_obj(row, "movie", &media) != 0)
            return;
    } else if ((media = row_show(row)) == NULL) {
        return;
    }
    syncapi_entry_init(&e);
    syncapi_media_item(media, movie ? ITEM_MOVIE : ITEM_SHOW, &e.item);
    switch (f) {
    case ADAPTER_HISTORY:
        /* Watched: a last_watched_at (maybe SIMKL's "no date"), or
         * completed without one. */
        if (!(json_object_object_get_ex(row, "last_watched_at", &v) &&
              v != NULL) &&
            (status == NULL || strcmp(status, "completed") != 0))
            goto skip;
        e.watched_at = syncapi_row_time(row, "last_watched_at");
        break;
    case ADAPTER_WATCHLIST:
        if (status != NULL && strcmp(status, "plantowatch") != 0)
            goto skip;
        e.listed_at = syncapi_row_time(row, "added_to_watchlist_at");
        break;
    default:
        if (syncapi_row_rating(row, "user_rating", &e.rating) != 0)
            goto skip;
        e.rated_at = syncapi_row_time(row, "user_rated_at");
        break;
    }
    syncapi_page_push(out, &e);
    return;
skip:
    item_release(&e.item);
}

static int64_t
row_time_of(enum adapter_feature f, const struct adapter_entry *e)
{
    switch (f) {
    case ADAPTER_HISTORY:
        return e->watched_at;
    case ADAPTER_WATCHLIST:
        return e->listed_at;
    default:
        return e->rated_at;
    }
}

static int
read_parse(struct simkl *s, enum read_mode m, enum adapter_feature f,
           const struct http_response *resp, struct adapter_page *out,
           char *err, size_t errlen)
{
    struct syncapi_secrets sec;
    struct json_object *o = NULL, *arr;
    enum bucket asked;

    if (!read_allowed(m, f, err, errlen))
        return -1;
    simkl_secrets(s, &sec);
    if (syncapi_read_status(&simkl_dialect, &sec, resp, syncapi_read_what(f),
                            err, errlen) != 0)
        return -1;
    /* Nothing there: null (legacy apps) or {} (newer ones). */
    if (!syncapi_body_is_null(resp)) {
        o = syncapi_read_json(&simkl_dialect, resp, syncapi_read_what(f), err,
                              errlen);
        if (o == NULL)
            return -1;
        if (!json_object_is_type(o, json_type_object) &&
            !json_object_is_type(o, json_type_array)) {
            snprintf(err, errlen, "SIMKL %s: the reply is not a JSON object",
                     syncapi_read_what(f));
            json_object_put(o);
            return -1;
        }
    }
    for (int b = 0; o != NULL && b < BUCKET_MAX; b++) {
        if (!json_object_is_type(o, json_type_object) ||
            jget_arr(o, bucket_names[b], &arr) != 0)
            continue;
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            read_row(f, (enum bucket)b, json_object_array_get_idx(arr, i), out);
    }
    if (m == READ_DELTA)
        for (size_t i = 0; i < out->n; i++)
            if (row_time_of(f, &out->rows[i]) > out->watermark)
                out->watermark = row_time_of(f, &out->rows[i]);
    asked = s->reads[m][f];
    if (asked + 1 < BUCKET_MAX)
        out->next_cursor = xstrdup(bucket_names[asked + 1]);
    json_object_put(o);
    return 0;
}

static int
simkl_build_index(void *ctx, enum adapter_feature f, const char *cursor,
                  struct http_request *req, char *err, size_t errlen)
{
    return read_build(ctx, READ_INDEX, f, 0, cursor, req, err, errlen);
}

static int
simkl_parse_index(void *ctx, enum adapter_feature f,
                  const struct http_response *resp, struct adapter_page *out,
                  char *err, size_t errlen)
{
    return read_parse(ctx, READ_INDEX, f, resp, out, err, errlen);
}

static int
simkl_build_delta(void *ctx, enum adapter_feature f, int64_t since,
                  const char *cursor, struct http_request *req, char *err,
                  size_t errlen)
{
    return read_build(ctx, READ_DELTA, f, since, cursor, req, err, errlen);
}

static int
simkl_parse_delta(void *ctx, enum adapter_feature f,
                  const struct http_response *resp, struct adapter_page *out,
                  char *err, size_t errlen)
{
    return read_parse(ctx, READ_DELTA, f, resp, out, err, errlen);
}

static int
simkl_build_activities(void *ctx, struct http_request *req, char *err,
                       size_t errlen)
{
    struct simkl *s = ctx;

    (void)err;
    (void)errlen;
    simkl_request(s, req, HTTP_GET, s->base_url, "/sync/activities", NULL,
                  true);
    return 0;
}

static int
simkl_parse_activities(void *ctx, const struct http_response *resp,
                       int64_t checkpoints[ADAPTER_FEATURE_MAX], char *err,
                       size_t errlen)
{
    static const char *const buckets[] = {"movies", "tv_shows", "anime"};
    struct simkl *s = ctx;
    struct syncapi_secrets sec;
    struct json_object *o;
    int64_t *h = &checkpoints[ADAPTER_HISTORY];
    int64_t *w = &checkpoints[ADAPTER_WATCHLIST];
    int64_t *r = &checkpoints[ADAPTER_RATINGS];

    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
        checkpoints[f] = 0;
    simkl_secrets(s, &sec);
    if (syncapi_read_status(&simkl_dialect, &sec, resp, "activities read", err,
                            errlen) != 0)
        return -1;
    o = syncapi_read_json(&simkl_dialect, resp, "activities read", err, errlen);
    if (o == NULL)
        return -1;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen,
                 "SIMKL activities read: the reply is not a JSON object");
        json_object_put(o);
        return -1;
    }
    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        syncapi_time_max(o, buckets[i], "completed", h);
        syncapi_time_max(o, buckets[i], "watching", h);
        syncapi_time_max(o, buckets[i], "removed_from_list", h);
        syncapi_time_max(o, buckets[i], "plantowatch", w);
        syncapi_time_max(o, buckets[i], "removed_from_list", w);
        syncapi_time_max(o, buckets[i], "rated_at", r);
    }
    json_object_put(o);
    return 0;
}

/* ---- PIN flow --------------------------------------------------------- */

static int
simkl_auth_start(void *ctx, struct http_request *req, char *err, size_t errlen)
{
    struct simkl *s = ctx;

    (void)err;
    (void)errlen;
    simkl_request(s, req, HTTP_GET, s->auth_url, "/oauth/pin", NULL, false);
    return 0;
}

static int
simkl_auth_poll(void *ctx, const struct adapter_auth *started,
                struct http_request *req, char *err, size_t errlen)
{
    struct simkl *s = ctx;
    struct buf path;

    if (started == NULL || started->user_code == NULL ||
        started->user_code[0] == '\0') {
        snprintf(err, errlen, "no user code: start the flow first");
        return -1;
    }
    buf_init(&path);
    buf_puts(&path, "/oauth/pin/");
    syncapi_url_encode(&path, started->user_code);
    simkl_request(s, req, HTTP_GET, s->auth_url, path.data, NULL, false);
    buf_release(&path);
    return 0;
}

static void
set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static bool
contains_ci(const char *s, const char *word)
{
    size_t n = strlen(word);

    for (; s != NULL && *s; s++) {
        size_t i = 0;

        while (i < n && s[i] && (s[i] | 0x20) == (word[i] | 0x20))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static int
simkl_auth_parse(void *ctx, bool start, const struct http_response *resp,
                 struct adapter_auth *out)
{
    struct simkl *s = ctx;
    struct syncapi_secrets sec;
    struct json_object *o = NULL;
    const char *result = NULL, *v, *message = "";
    char msg[160], perr[64];
    int64_t x;
    int rc = 0;

    simkl_secrets(s, &sec);
    if (resp->status == 0 && !start) {
        out->state = ADAPTER_AUTH_PENDING;
        snprintf(out->message, sizeof(out->message),
                 "waiting (transport error; retrying)");
        return 0;
    }
    if (resp->status == 200 && resp->body != NULL)
        o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                        sizeof(perr));
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        syncapi_reply_message(&sec, resp, msg, sizeof(msg));
        out->state = ADAPTER_AUTH_FAILED;
        if (resp->status == 200)
            snprintf(out->message, sizeof(out->message),
                     "SIMKL's PIN reply is malformed");
        else if (resp->status == 0)
            snprintf(out->message, sizeof(out->message), "transport: %s", msg);
        else if (resp->status == 404 && !start)
            snprintf(out->message, sizeof(out->message),
                     "unknown or expired code: start again");
        else
            snprintf(out->message, sizeof(out->message),
                     "SIMKL refused the PIN request (http %ld): %s",
                     resp->status, msg);
        rc = -1;
        goto done;
    }
    jget_str(o, "result", &result);
    jget_str(o, "message", &message);
    if (start) {
        if ((result != NULL && strcmp(result, "OK") != 0) ||
            jget_str(o, "user_code", &v) != 0 || v[0] == '\0') {
            syncapi_reply_message(&sec, resp, msg, sizeof(msg));
            out->state = ADAPTER_AUTH_FAILED;
            snprintf(out->message, sizeof(out->message),
                     "SIMKL did not give a code: %s", msg);
            rc = -1;
            goto done;
        }
        set_str(&out->user_code, v);
        if (jget_str(o, "device_code", &v) == 0)
            set_str(&out->device_code, v);
        set_str(&out->verification_url, jget_str(o, "verification_url", &v) == 0
                                            ? v
                                            : "https://simkl.com/pin/");
        out->interval_s =
            (jget_i64(o, "interval", &x) == 0 && x > 0 && x < 3600) ? (int)x
                                                                    : 5;
        out->expires_in_s =
            (jget_i64(o, "expires_in", &x) == 0 && x > 0 && x < 86400) ? (int)x
                                                                       : 900;
        out->state = ADAPTER_AUTH_SHOW_CODE;
        snprintf(out->message, sizeof(out->message),
                 "open %.100s and enter the code", out->verification_url);
        goto done;
    }
    if (result != NULL && strcmp(result, "OK") == 0) {
        if (jget_str(o, "access_token", &v) != 0 || !syncapi_token_ok(v)) {
            out->state = ADAPTER_AUTH_FAILED;
            snprintf(out->message, sizeof(out->message),
                     "SIMKL's reply has no usable access_token");
            rc = -1;
            goto done;
        }
        adapter_tokens_release(&out->tokens);
        out->tokens.access_token = xstrdup(v);
        out->tokens.expires_at = 0; /* never expires */
        out->state = ADAPTER_AUTH_DONE;
        snprintf(out->message, sizeof(out->message), "authorized");
    } else if (contains_ci(message, "slow down")) {
        out->state = ADAPTER_AUTH_SLOW_DOWN;
        snprintf(out->message, sizeof(out->message), "polling too fast");
    } else if (contains_ci(message, "expired")) {
        out->state = ADAPTER_AUTH_FAILED;
        snprintf(out->message, sizeof(out->message),
                 "the code expired: start again");
        rc = -1;
    } else {
        out->state = ADAPTER_AUTH_PENDING;
        snprintf(out->message, sizeof(out->message),
                 "waiting for the user to approve");
    }
done:
    if (o != NULL)
        json_object_put(o);
    return rc;
}

const struct adapter_ops adapter_simkl = {
    .name = "simkl",
    .kinds = SIMKL_KINDS,
    .batch_kinds = SIMKL_BATCH_KINDS,
    .max_batch = 500, /* SYNC.md 8: SIMKL chunks of 500 */
    .scrobble_api = true,
    .limits =
        {
            .write_interval_ms = 1000,
            .write_inflight = 1,
            .read_per_window = 5,
            .read_window_s = 1,
        },
    .init = simkl_init,
    .free = simkl_free,
    .build = simkl_build,
    .classify = simkl_classify,
    .build_refresh = NULL,
    .parse_refresh = NULL,
    .set_tokens = simkl_set_tokens,
    .build_history_check = simkl_build_history_check,
    .parse_history_check = simkl_parse_history_check,
    .auth_start = simkl_auth_start,
    .auth_poll = simkl_auth_poll,
    .auth_parse = simkl_auth_parse,
    .features = SIMKL_READ_FEATURES,
    .delta_features = SIMKL_READ_FEATURES,
    .has_local_id = false,
    .dated_history = true,
    .phantom_grace_s = 3600,
    .remove_drops_rating = true,
    .build_index = simkl_build_index,
    .parse_index = simkl_parse_index,
    .build_activities = simkl_build_activities,
    .parse_activities = simkl_parse_activities,
    .build_delta = simkl_build_delta,
    .parse_delta = simkl_parse_delta,
    .apply = NULL,
};
