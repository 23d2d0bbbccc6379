/*
 * trakt: the Trakt adapter (PROVIDERS.md B1). Scrobbles through
 * /scrobble/{start,pause,stop}; history, ratings and watchlist writes
 * through /sync (batched, up to 100 items); OAuth device flow and refresh
 * (refresh tokens are single-use: the applier stores the new pair before
 * using it); and the history read that settles a history add after a crash
 * (SYNC.md 4.2 step 3); the reads of delta sync and reconcile: history
 * (one row per play), watchlist and ratings page by page, last_activities,
 * and history since a watermark (SYNC.md 5). Pure: no I/O, no globals.
 *
 * Choices: progress_set is not offered (Trakt's /sync/playback has no write);
 * a history remove drops every play of the item (a single play can only be
 * removed by its history id, which operations do not carry); an operation
 * Trakt cannot identify is left out of its batch and judged permanent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "jsonu.h"
#include "syncapi.h"
#include "util.h"

#define TRAKT_BASE       "https://api.trakt.tv"
#define TRAKT_REDIRECT   "urn:ietf:wg:oauth:2.0:oob"
#define HISTORY_WINDOW_S 60
#define HISTORY_LIMIT    100
#define DELTA_OVERLAP_S  300 /* SYNC.md 5: start_at = watermark - 5 min */

#define TRAKT_READ_FEATURES                                          \
    (ADAPTER_BIT(ADAPTER_HISTORY) | ADAPTER_BIT(ADAPTER_WATCHLIST) | \
     ADAPTER_BIT(ADAPTER_RATINGS))
#define TRAKT_DELTA_FEATURES ADAPTER_BIT(ADAPTER_HISTORY)

#define TRAKT_KINDS                                                           \
    (OP_SCROBBLE_KINDS | OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) | \
     OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |                        \
     OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE))
#define TRAKT_BATCH_KINDS (TRAKT_KINDS & ~OP_SCROBBLE_KINDS)

#define ID(x) (1u << ITEM_ID_##x)

static const enum item_id trakt_ids[] = {
    ITEM_ID_TRAKT, ITEM_ID_SLUG, ITEM_ID_IMDB, ITEM_ID_TMDB, ITEM_ID_TVDB,
};

static const struct syncapi_dialect trakt_dialect = {
    .name = "trakt",
    .label = "Trakt",
    .ids = trakt_ids,
    .n_ids = sizeof(trakt_ids) / sizeof(trakt_ids[0]),
    .id_mask =
        {
            [ITEM_MOVIE] = ID(TRAKT) | ID(SLUG) | ID(IMDB) | ID(TMDB),
            [ITEM_SHOW] = ID(TRAKT) | ID(SLUG) | ID(IMDB) | ID(TMDB) | ID(TVDB),
            [ITEM_SEASON] = ID(TRAKT) | ID(TMDB) | ID(TVDB),
            [ITEM_EPISODE] = ID(TRAKT) | ID(IMDB) | ID(TMDB) | ID(TVDB),
        },
    .ms_times = true,
    .pause_on_412 = false,
    .gateway_retry_ms = 30000,
};

enum read_mode { READ_INDEX, READ_DELTA, READ_MODE_MAX };

/* The page a read last asked for and the rows before it (its cursor). */
struct read_pos {
    int64_t page; /* 0 = nothing asked yet */
    int64_t rows;
};

struct trakt {
    char *base_url;
    char *auth_url; /* where the /oauth endpoints live */
    char *client_id;
    char *client_secret;
    struct adapter_tokens tok;
    /* parse_index/parse_delta get no cursor and Trakt's headers say the
     * page but not the rows before it, so build_* remembers its cursor
     * here for the incomplete-read check. */
    struct read_pos reads[READ_MODE_MAX][ADAPTER_FEATURE_MAX];
};

static void *
trakt_init(const struct provider_conf *conf, const struct adapter_tokens *saved,
           const char *state_dir, char *err, size_t errlen)
{
    struct trakt *t;
    const char *access = NULL, *refresh = NULL;

    (void)state_dir;
    if (conf == NULL || conf->client_id == NULL || conf->client_id[0] == '\0') {
        snprintf(err, errlen,
                 "providers.trakt.client_id is required (the client id of "
                 "your Trakt API app)");
        return NULL;
    }
    t = xcalloc(1, sizeof(*t));
    t->base_url = syncapi_url_dup(conf->base_url, TRAKT_BASE);
    /* The fake serves /oauth under the API base: follow it by default. */
    t->auth_url = syncapi_url_dup(conf->auth_url, t->base_url);
    t->client_id = xstrdup(conf->client_id);
    t->client_secret = syncapi_opt_dup(conf->client_secret);
    if (saved != NULL) {
        access = saved->access_token;
        refresh = saved->refresh_token;
        t->tok.expires_at = saved->expires_at;
    }
    t->tok.access_token = syncapi_opt_dup(access ? access : conf->access_token);
    t->tok.refresh_token =
        syncapi_opt_dup(refresh ? refresh : conf->refresh_token);
    return t;
}

static void
trakt_free(void *ctx)
{
    struct trakt *t = ctx;

    if (t == NULL)
        return;
    adapter_tokens_release(&t->tok);
    if (t->client_secret != NULL)
        explicit_bzero(t->client_secret, strlen(t->client_secret));
    free(t->client_secret);
    free(t->client_id);
    free(t->auth_url);
    free(t->base_url);
    free(t);
}

static void
trakt_headers(const struct trakt *t, struct http_request *req, bool auth)
{
    http_request_header(req, "Content-Type: application/json");
    http_request_header(req, "User-Agent: %s", SYNCAPI_USER_AGENT);
    http_request_header(req, "trakt-api-key: %s", t->client_id);
    http_request_header(req, "trakt-api-version: 2");
    if (auth && t->tok.access_token != NULL)
        http_request_header(req, "Authorization: Bearer %s",
                            t->tok.access_token);
}

static void
trakt_secrets(const struct trakt *t, struct syncapi_secrets *sec)
{
    memset(sec, 0, sizeof(*sec));
    sec->v[0] = t->tok.access_token;
    sec->v[1] = t->tok.refresh_token;
    sec->v[2] = t->client_secret;
}

static int
trakt_check(const struct op *op, char *why, size_t whylen)
{
    enum item_type type = op->item.type;

    if (op->kind >= OP_KIND_MAX || (TRAKT_KINDS & OP_BIT(op->kind)) == 0) {
        snprintf(why, whylen, "Trakt does not take %s operations",
                 op_kind_name(op->kind));
        return -1;
    }
    if (syncapi_is_scrobble(op->kind) && type != ITEM_MOVIE &&
        type != ITEM_EPISODE) {
        snprintf(why, whylen, "Trakt scrobbles movies and episodes only");
        return -1;
    }
    if (op->kind == OP_RATING_SET && (op->rating < 1 || op->rating > 10)) {
        snprintf(why, whylen, "invalid: rating %d is outside 1-10", op->rating);
        return -1;
    }
    return syncapi_identify(&trakt_dialect, &op->item, why, whylen);
}

static int
trakt_build(void *ctx, const struct op *const *ops, size_t n,
            struct http_request *req, char *err, size_t errlen)
{
    struct trakt *t = ctx;
    struct json_object *body = NULL;
    const char *path = NULL;
    unsigned extras = 0;
    bool *skip;

    skip = syncapi_prepare(ops, n, TRAKT_BATCH_KINDS, trakt_check, err, errlen);
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
    case OP_HISTORY_REMOVE:
        path = "/sync/history/remove";
        break;
    case OP_RATING_SET:
        path = "/sync/ratings";
        extras = SYNCAPI_RATING;
        break;
    case OP_RATING_CLEAR:
        path = "/sync/ratings/remove";
        break;
    case OP_WATCHLIST_ADD:
        path = "/sync/watchlist";
        break;
    default:
        path = "/sync/watchlist/remove";
        break;
    }
    if (syncapi_is_scrobble(ops[0]->kind))
        body = syncapi_scrobble_body(&trakt_dialect, ops[0]);
    else
        body = syncapi_sync_body(&trakt_dialect, ops, n, skip, extras);
    req->method = HTTP_POST;
    req->rate_class = HTTP_CLASS_WRITE;
    free(req->url);
    req->url = xasprintf("%s%s", t->base_url, path);
    trakt_headers(t, req, true);
    syncapi_set_body(req, body);
    json_object_put(body);
    free(skip);
    return 0;
}

static void
trakt_classify(void *ctx, const struct op *const *ops, size_t n,
               const struct http_response *resp, struct adapter_result *results)
{
    struct trakt *t = ctx;
    struct syncapi_secrets sec;

    trakt_secrets(t, &sec);
    syncapi_classify_ops(&trakt_dialect, &sec,
                         t->tok.refresh_token != NULL &&
                             t->client_secret != NULL,
                         trakt_check, ops, n, resp, results);
}

/* ---- OAuth ------------------------------------------------------------ */

static void
oauth_request(const struct trakt *t, struct http_request *req, const char *path,
              struct json_object *body)
{
    req->method = HTTP_POST;
    req->rate_class = HTTP_CLASS_WRITE;
    free(req->url);
    req->url = xasprintf("%s%s", t->auth_url, path);
    trakt_headers(t, req, false);
    syncapi_set_body(req, body);
    json_object_put(body);
}

static int
trakt_build_refresh(void *ctx, struct http_request *req, char *err,
                    size_t errlen)
{
    struct trakt *t = ctx;
    struct json_object *o;

    if (t->tok.refresh_token == NULL) {
        snprintf(err, errlen,
                 "no Trakt refresh token: run watchrelay auth trakt");
        return -1;
    }
    if (t->client_secret == NULL) {
        snprintf(err, errlen,
                 "providers.trakt.client_secret is required to refresh the "
                 "Trakt token");
        return -1;
    }
    o = json_object_new_object();
    json_object_object_add(o, "refresh_token",
                           json_object_new_string(t->tok.refresh_token));
    json_object_object_add(o, "client_id",
                           json_object_new_string(t->client_id));
    json_object_object_add(o, "client_secret",
                           json_object_new_string(t->client_secret));
    json_object_object_add(o, "redirect_uri",
                           json_object_new_string(TRAKT_REDIRECT));
    json_object_object_add(o, "grant_type",
                           json_object_new_string("refresh_token"));
    oauth_request(t, req, "/oauth/token", o);
    return 0;
}

/*
 * Tokens from a token reply ({access_token, refresh_token, expires_in,
 * created_at}). A missing refresh_token keeps old_refresh. 0, or -1 with err.
 */
static int
parse_token_reply(const struct http_response *resp, const char *old_refresh,
                  struct adapter_tokens *out, char *err, size_t errlen)
{
    struct json_object *o = NULL;
    const char *access = NULL, *refresh = NULL;
    int64_t expires_in = 0, created_at = 0;
    char perr[64];

    if (resp->body != NULL)
        o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                        sizeof(perr));
    if (o == NULL || jget_str(o, "access_token", &access) != 0 ||
        !syncapi_token_ok(access)) {
        snprintf(err, errlen, "Trakt's token reply has no usable access_token");
        if (o != NULL)
            json_object_put(o);
        return -1;
    }
    if (jget_str(o, "refresh_token", &refresh) != 0 ||
        !syncapi_token_ok(refresh))
        refresh = old_refresh;
    adapter_tokens_release(out);
    out->access_token = xstrdup(access);
    out->refresh_token = refresh != NULL ? xstrdup(refresh) : NULL;
    if (jget_i64(o, "expires_in", &expires_in) == 0 && expires_in > 0 &&
        expires_in < 100LL * 365 * 86400) {
        if (jget_i64(o, "created_at", &created_at) != 0 || created_at <= 0)
            created_at = wr_now();
        out->expires_at = created_at + expires_in;
    }
    json_object_put(o);
    return 0;
}

static int
trakt_parse_refresh(void *ctx, const struct http_response *resp,
                    struct adapter_tokens *out, char *err, size_t errlen)
{
    struct trakt *t = ctx;
    struct syncapi_secrets sec;
    char msg[160];

    if (resp->status == 200 || resp->status == 201)
        return parse_token_reply(resp, t->tok.refresh_token, out, err, errlen);
    trakt_secrets(t, &sec);
    syncapi_reply_message(&sec, resp, msg, sizeof(msg));
    if (resp->status == 0)
        snprintf(err, errlen, "transport: %s", msg);
    else if (resp->status == 400 || resp->status == 401)
        snprintf(err, errlen,
                 "invalid_grant: Trakt refused the refresh token (%ld: %s); "
                 "run watchrelay auth trakt",
                 resp->status, msg);
    else
        snprintf(err, errlen, "Trakt token refresh failed: http %ld: %s",
                 resp->status, msg);
    return -1;
}

static void
trakt_set_tokens(void *ctx, const struct adapter_tokens *tok)
{
    struct trakt *t = ctx;

    if (tok == NULL)
        return;
    if (tok->access_token != NULL) {
        explicit_bzero(t->tok.access_token,
                       t->tok.access_token ? strlen(t->tok.access_token) : 0);
        free(t->tok.access_token);
        t->tok.access_token = xstrdup(tok->access_token);
    }
    if (tok->refresh_token != NULL) {
        explicit_bzero(t->tok.refresh_token,
                       t->tok.refresh_token ? strlen(t->tok.refresh_token) : 0);
        free(t->tok.refresh_token);
        t->tok.refresh_token = xstrdup(tok->refresh_token);
    }
    t->tok.expires_at = tok->expires_at;
}

/* ---- history check ---------------------------------------------------- */

static int
trakt_build_history_check(void *ctx, const struct op *op,
                          struct http_request *req, char *err, size_t errlen)
{
    struct trakt *t = ctx;
    const struct item *it = &op->item;
    char from[WR_TIME_BUF], to[WR_TIME_BUF];
    struct buf b;

    if (it->type != ITEM_MOVIE && it->type != ITEM_EPISODE) {
        snprintf(err, errlen, "the history check takes movies and episodes");
        return -1;
    }
    if (op->watched_at <= HISTORY_WINDOW_S) {
        snprintf(err, errlen, "the history check needs watched_at");
        return -1;
    }
    if (syncapi_identify(&trakt_dialect, it, err, errlen) != 0)
        return -1;
    syncapi_time(&trakt_dialect, op->watched_at - HISTORY_WINDOW_S, from);
    syncapi_time(&trakt_dialect, op->watched_at + HISTORY_WINDOW_S, to);
    buf_init(&b);
    buf_printf(&b, "%s/sync/history/%s", t->base_url,
               it->type == ITEM_MOVIE ? "movies" : "episodes");
    if (it->ids.v[ITEM_ID_TRAKT] != NULL)
        buf_printf(&b, "/%s", it->ids.v[ITEM_ID_TRAKT]);
    buf_puts(&b, "?start_at=");
    syncapi_url_encode(&b, from);
    buf_puts(&b, "&end_at=");
    syncapi_url_encode(&b, to);
    buf_printf(&b, "&limit=%d", HISTORY_LIMIT);
    req->method = HTTP_GET;
    req->rate_class = HTTP_CLASS_READ;
    free(req->url);
    req->url = b.data;
    trakt_headers(t, req, true);
    return 0;
}

static bool
within_window(struct json_object *o, const char *key, int64_t t)
{
    const char *s;
    int64_t at;

    if (jget_str(o, key, &s) != 0 || wr_time_parse(s, &at) != 0)
        return true; /* no time to compare: the server filtered */
    return at >= t - HISTORY_WINDOW_S && at <= t + HISTORY_WINDOW_S;
}

static bool
history_row_matches(const struct op *op, struct json_object *row)
{
    const struct item *it = &op->item;
    struct json_object *m, *ids, *show, *show_ids;
    int64_t season, number;

    if (!json_object_is_type(row, json_type_object) ||
        !within_window(row, "watched_at", op->watched_at))
        return false;
    if (it->type == ITEM_MOVIE)
        return jget_obj(row, "movie", &m) == 0 &&
               jget_obj(m, "ids", &ids) == 0 &&
               syncapi_ids_match(ids, &it->ids);
    if (jget_obj(row, "episode", &m) != 0)
        return false;
    if (jget_obj(m, "ids", &ids) == 0 && syncapi_ids_match(ids, &it->ids))
        return true;
    return jget_obj(row, "show", &show) == 0 &&
           jget_obj(show, "ids", &show_ids) == 0 &&
           syncapi_ids_match(show_ids, &it->show_ids) &&
           jget_i64(m, "season", &season) == 0 && season == it->season &&
           jget_i64(m, "number", &number) == 0 && number == it->episode;
}

static int
trakt_parse_history_check(void *ctx, const struct op *op,
                          const struct http_response *resp, bool *found)
{
    struct json_object *o;
    const char *pages;
    int64_t n_pages = 1;
    char perr[64];

    (void)ctx;
    *found = false;
    if (resp->status != 200 || resp->body == NULL)
        return -1;
    o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                    sizeof(perr));
    if (o == NULL || !json_object_is_type(o, json_type_array)) {
        if (o != NULL)
            json_object_put(o);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(o) && !*found; i++)
        *found = history_row_matches(op, json_object_array_get_idx(o, i));
    json_object_put(o);
    pages = http_response_header(resp, "X-Pagination-Page-Count");
    if (pages != NULL)
        parse_i64(pages, 0, INT32_MAX, &n_pages);
    /* More plays in the window than one page holds: cannot tell. */
    return (*found || n_pages <= 1) ? 0 : -1;
}

/* ---- device flow ------------------------------------------------------ */

static int
trakt_auth_start(void *ctx, struct http_request *req, char *err, size_t errlen)
{
    struct trakt *t = ctx;
    struct json_object *o = json_object_new_object();

    (void)err;
    (void)errlen;
    json_object_object_add(o, "client_id",
                           json_object_new_string(t->client_id));
    oauth_request(t, req, "/oauth/device/code", o);
    return 0;
}

static int
trakt_auth_poll(void *ctx, const struct adapter_auth *started,
                struct http_request *req, char *err, size_t errlen)
{
    struct trakt *t = ctx;
    struct json_object *o;

    if (t->client_secret == NULL) {
        snprintf(err, errlen,
                 "providers.trakt.client_secret is required for the device "
                 "flow");
        return -1;
    }
    if (started == NULL || started->device_code == NULL) {
        snprintf(err, errlen, "no device code: start the flow first");
        return -1;
    }
    o = json_object_new_object();
    json_object_object_add(o, "code",
                           json_object_new_string(started->device_code));
    json_object_object_add(o, "client_id",
                           json_object_new_string(t->client_id));
    json_object_object_add(o, "client_secret",
                           json_object_new_string(t->client_secret));
    oauth_request(t, req, "/oauth/device/token", o);
    return 0;
}

static void
set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = xstrdup(s);
}

static int
parse_device_code(const struct http_response *resp, struct adapter_auth *out)
{
    struct json_object *o = NULL;
    const char *dc, *uc, *url;
    int64_t v;
    char perr[64];

    if (resp->body != NULL)
        o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                        sizeof(perr));
    if (o == NULL || jget_str(o, "device_code", &dc) != 0 ||
        jget_str(o, "user_code", &uc) != 0 || !syncapi_token_ok(dc)) {
        out->state = ADAPTER_AUTH_FAILED;
        snprintf(out->message, sizeof(out->message),
                 "Trakt's device code reply is malformed");
        if (o != NULL)
            json_object_put(o);
        return -1;
    }
    set_str(&out->device_code, dc);
    set_str(&out->user_code, uc);
    set_str(&out->verification_url, jget_str(o, "verification_url", &url) == 0
                                        ? url
                                        : "https://trakt.tv/activate");
    out->interval_s =
        (jget_i64(o, "interval", &v) == 0 && v > 0 && v < 3600) ? (int)v : 5;
    out->expires_in_s =
        (jget_i64(o, "expires_in", &v) == 0 && v > 0 && v < 86400) ? (int)v
                                                                   : 600;
    out->state = ADAPTER_AUTH_SHOW_CODE;
    snprintf(out->message, sizeof(out->message),
             "open %.100s and enter the code", out->verification_url);
    json_object_put(o);
    return 0;
}

static int
trakt_auth_parse(void *ctx, bool start, const struct http_response *resp,
                 struct adapter_auth *out)
{
    struct trakt *t = ctx;
    struct syncapi_secrets sec;
    char msg[160], err[200];
    const char *fail = NULL;

    trakt_secrets(t, &sec);
    if (start) {
        if (resp->status == 200)
            return parse_device_code(resp, out);
        syncapi_reply_message(&sec, resp, msg, sizeof(msg));
        out->state = ADAPTER_AUTH_FAILED;
        if (resp->status == 0)
            snprintf(out->message, sizeof(out->message), "transport: %s", msg);
        else
            snprintf(out->message, sizeof(out->message),
                     "Trakt refused the device code request (http %ld): %s",
                     resp->status, msg);
        return -1;
    }
    switch (resp->status) {
    case 200:
        if (parse_token_reply(resp, NULL, &out->tokens, err, sizeof(err)) !=
            0) {
            out->state = ADAPTER_AUTH_FAILED;
            snprintf(out->message, sizeof(out->message), "%s", err);
            return -1;
        }
        out->state = ADAPTER_AUTH_DONE;
        snprintf(out->message, sizeof(out->message), "authorized");
        return 0;
    case 0:
    case 400:
        out->state = ADAPTER_AUTH_PENDING;
        snprintf(out->message, sizeof(out->message),
                 resp->status == 0 ? "waiting (transport error; retrying)"
                                   : "waiting for the user to approve");
        return 0;
    case 429:
        out->state = ADAPTER_AUTH_SLOW_DOWN;
        snprintf(out->message, sizeof(out->message), "polling too fast");
        return 0;
    case 404:
        fail = "invalid device code: start again";
        break;
    case 409:
        fail = "the code was already used: start again";
        break;
    case 410:
        fail = "the code expired: start again";
        break;
    case 418:
        fail = "denied: the user declined the authorization";
        break;
    default:
        break;
    }
    out->state = ADAPTER_AUTH_FAILED;
    if (fail != NULL) {
        snprintf(out->message, sizeof(out->message), "%s", fail);
    } else {
        syncapi_reply_message(&sec, resp, msg, sizeof(msg));
        snprintf(out->message, sizeof(out->message),
                 "unexpected reply from Trakt (http %ld): %s", resp->status,
                 msg);
    }
    return -1;
}

/* ---- reads (index, activities, delta) ---------------------------------- */

/*
 * Index reads walk /sync/history (plays of movies and episodes),
 * /sync/watchlist and /sync/ratings page by page (limit 1000) following
 * X-Pagination-Page-Count; the cursor is "page=P;rows=R" (R rows read
 * before page P). When the last page is in and X-Pagination-Item-Count
 * says otherwise than the rows read, the read is incomplete. The delta read
 * of history is the same walk from start_at = watermark - 5 min.
 */

static const char *
read_path(enum adapter_feature f)
{
    switch (f) {
    case ADAPTER_WATCHLIST:
        return "/sync/watchlist";
    case ADAPTER_RATINGS:
        return "/sync/ratings";
    default:
        return "/sync/history";
    }
}

static bool
read_allowed(enum read_mode m, enum adapter_feature f, char *err, size_t errlen)
{
    unsigned allowed =
        m == READ_INDEX ? TRAKT_READ_FEATURES : TRAKT_DELTA_FEATURES;

    if ((unsigned)f < ADAPTER_FEATURE_MAX && (allowed & ADAPTER_BIT(f)) != 0)
        return true;
    snprintf(err, errlen, "Trakt has no %s read of %s",
             m == READ_INDEX ? "index" : "delta", adapter_feature_name(f));
    return false;
}

/* "page=P;rows=R" (NULL: the first page). 0, or -1. */
static int
cursor_parse(const char *c, struct read_pos *pos)
{
    const char *semi;

    pos->page = 1;
    pos->rows = 0;
    if (c == NULL)
        return 0;
    if (strncmp(c, "page=", 5) != 0 || (semi = strchr(c, ';')) == NULL ||
        strncmp(semi, ";rows=", 6) != 0 ||
        parse_i64n(c + 5, (size_t)(semi - c - 5), 1, INT32_MAX, &pos->page) !=
            0 ||
        parse_i64(semi + 6, 0, INT64_MAX / 4, &pos->rows) != 0)
        return -1;
    return 0;
}

static int
read_build(struct trakt *t, enum read_mode m, enum adapter_feature f,
           int64_t since, const char *cursor, struct http_request *req,
           char *err, size_t errlen)
{
    struct read_pos pos;
    char from[WR_TIME_BUF];
    struct buf b;

    if (!read_allowed(m, f, err, errlen))
        return -1;
    if (cursor_parse(cursor, &pos) != 0) {
        snprintf(err, errlen, "not a Trakt read cursor");
        return -1;
    }
    buf_init(&b);
    buf_printf(&b, "%s%s?", t->base_url, read_path(f));
    if (m == READ_DELTA && since - DELTA_OVERLAP_S > 0) {
        syncapi_time(&trakt_dialect, since - DELTA_OVERLAP_S, from);
        buf_puts(&b, "start_at=");
        syncapi_url_encode(&b, from);
        buf_puts(&b, "&");
    }
    buf_printf(&b, "page=%lld&limit=%d", (long long)pos.page,
               SYNCAPI_PAGE_LIMIT);
    req->method = HTTP_GET;
    req->rate_class = HTTP_CLASS_READ;
    free(req->url);
    req->url = b.data;
    trakt_headers(t, req, true);
    t->reads[m][f] = pos;
    return 0;
}

static int
header_i64(const struct http_response *resp, const char *name, int64_t *out)
{
    const char *v = http_response_header(resp, name);

    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    return parse_i64n(v, strcspn(v, " \t\r\n"), 0, INT64_MAX / 4, out);
}

/* One row of feature f into out; rows Trakt cannot describe are skipped. */
static void
read_row(enum adapter_feature f, struct json_object *row,
         struct adapter_page *out)
{
    struct adapter_entry e;

    syncapi_entry_init(&e);
    if (syncapi_row_item(row, &e.item) != 0)
        goto skip;
    switch (f) {
    case ADAPTER_HISTORY:
        e.watched_at = syncapi_row_time(row, "watched_at");
        break;
    case ADAPTER_WATCHLIST:
        e.listed_at = syncapi_row_time(row, "listed_at");
        break;
    default:
        /* SYNC.md 7: Trakt rates 1-10; anything else is invalid. */
        if (syncapi_row_rating(row, "rating", &e.rating) != 0)
            goto skip;
        e.rated_at = syncapi_row_time(row, "rated_at");
        break;
    }
    syncapi_page_push(out, &e);
    return;
skip:
    item_release(&e.item);
}

/* The paging of a reply of n rows: next_cursor, or the incomplete-read
 * check on the last page. 0, or -1 with err. */
static int
read_paging(const struct read_pos *asked, const struct http_response *resp,
            size_t n, struct adapter_page *out, char *err, size_t errlen)
{
    struct read_pos pos = *asked;
    int64_t pages, items, hp, limit = SYNCAPI_PAGE_LIMIT, total;
    bool paged = header_i64(resp, "X-Pagination-Page-Count", &pages) == 0;

    if (pos.page <= 0) {
        pos.page = 1;
        pos.rows = 0;
    }
    if (header_i64(resp, "X-Pagination-Page", &hp) == 0 && hp >= 1 &&
        hp <= INT32_MAX && hp != pos.page) {
        /* Not the page last asked for: count full pages before it. */
        if (header_i64(resp, "X-Pagination-Limit", &limit) != 0 || limit < 1 ||
            limit > 100000)
            limit = SYNCAPI_PAGE_LIMIT;
        pos.page = hp;
        pos.rows = (hp - 1) * limit;
    }
    total = pos.rows + (int64_t)n;
    if (paged && pos.page < pages) {
        if (n == 0) {
            snprintf(err, errlen,
                     "incomplete read: Trakt's page %lld of %lld is empty",
                     (long long)pos.page, (long long)pages);
            return -1;
        }
        out->next_cursor = xasprintf("page=%lld;rows=%lld",
                                     (long long)pos.page + 1, (long long)total);
        return 0;
    }
    if (header_i64(resp, "X-Pagination-Item-Count", &items) == 0 &&
        items != total) {
        snprintf(err, errlen,
                 "incomplete read: Trakt advertised %lld items, %lld were "
                 "read",
                 (long long)items, (long long)total);
        return -1;
    }
    return 0;
}

static int
read_parse(struct trakt *t, enum read_mode m, enum adapter_feature f,
           const struct http_response *resp, struct adapter_page *out,
           char *err, size_t errlen)
{
    struct syncapi_secrets sec;
    struct json_object *o;
    size_t n;
    int rc = -1;

    if (!read_allowed(m, f, err, errlen))
        return -1;
    trakt_secrets(t, &sec);
    if (syncapi_read_status(&trakt_dialect, &sec, resp, syncapi_read_what(f),
                            err, errlen) != 0)
        return -1;
    o = syncapi_read_json(&trakt_dialect, resp, syncapi_read_what(f), err,
                          errlen);
    if (o == NULL)
        return -1;
    if (!json_object_is_type(o, json_type_array)) {
        snprintf(err, errlen, "Trakt %s: the reply is not a JSON array",
                 syncapi_read_what(f));
        goto done;
    }
    n = json_object_array_length(o);
    for (size_t i = 0; i < n; i++)
        read_row(f, json_object_array_get_idx(o, i), out);
    if (m == READ_DELTA)
        for (size_t i = 0; i < out->n; i++)
            if (out->rows[i].watched_at > out->watermark)
                out->watermark = out->rows[i].watched_at;
    if (read_paging(&t->reads[m][f], resp, n, out, err, errlen) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        adapter_page_release(out);
    json_object_put(o);
    return rc;
}

static int
trakt_build_index(void *ctx, enum adapter_feature f, const char *cursor,
                  struct http_request *req, char *err, size_t errlen)
{
    return read_build(ctx, READ_INDEX, f, 0, cursor, req, err, errlen);
}

static int
trakt_parse_index(void *ctx, enum adapter_feature f,
                  const struct http_response *resp, struct adapter_page *out,
                  char *err, size_t errlen)
{
    return read_parse(ctx, READ_INDEX, f, resp, out, err, errlen);
}

static int
trakt_build_delta(void *ctx, enum adapter_feature f, int64_t since,
                  const char *cursor, struct http_request *req, char *err,
                  size_t errlen)
{
    return read_build(ctx, READ_DELTA, f, since, cursor, req, err, errlen);
}

static int
trakt_parse_delta(void *ctx, enum adapter_feature f,
                  const struct http_response *resp, struct adapter_page *out,
                  char *err, size_t errlen)
{
    return read_parse(ctx, READ_DELTA, f, resp, out, err, errlen);
}

static int
trakt_build_activities(void *ctx, struct http_request *req, char *err,
                       size_t errlen)
{
    struct trakt *t = ctx;

    (void)err;
    (void)errlen;
    req->method = HTTP_GET;
    req->rate_class = HTTP_CLASS_READ;
    free(req->url);
    req->url = xasprintf("%s/sync/last_activities", t->base_url);
    trakt_headers(t, req, true);
    return 0;
}

static int
trakt_parse_activities(void *ctx, const struct http_response *resp,
                       int64_t checkpoints[ADAPTER_FEATURE_MAX], char *err,
                       size_t errlen)
{
    static const char *const kinds[] = {"movies", "shows", "seasons",
                                        "episodes"};
    struct trakt *t = ctx;
    struct syncapi_secrets sec;
    struct json_object *o;
    int64_t *h = &checkpoints[ADAPTER_HISTORY];
    int64_t *w = &checkpoints[ADAPTER_WATCHLIST];
    int64_t *r = &checkpoints[ADAPTER_RATINGS];

    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
        checkpoints[f] = 0;
    trakt_secrets(t, &sec);
    if (syncapi_read_status(&trakt_dialect, &sec, resp, "activities read", err,
                            errlen) != 0)
        return -1;
    o = syncapi_read_json(&trakt_dialect, resp, "activities read", err, errlen);
    if (o == NULL)
        return -1;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen,
                 "Trakt activities read: the reply is not a JSON object");
        json_object_put(o);
        return -1;
    }
    syncapi_time_max(o, "movies", "watched_at", h);
    syncapi_time_max(o, "episodes", "watched_at", h);
    syncapi_time_max(o, "watchlist", "updated_at", w);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        syncapi_time_max(o, kinds[i], "watchlisted_at", w);
        syncapi_time_max(o, kinds[i], "rated_at", r);
    }
    json_object_put(o);
    return 0;
}

const struct adapter_ops adapter_trakt = {
    .name = "trakt",
    .kinds = TRAKT_KINDS,
    .batch_kinds = TRAKT_BATCH_KINDS,
    .max_batch = 100,
    .scrobble_api = true,
    .limits =
        {
            .write_interval_ms = 1000,
            .write_inflight = 1,
            .read_per_window = 1000,
            .read_window_s = 300,
        },
    .init = trakt_init,
    .free = trakt_free,
    .build = trakt_build,
    .classify = trakt_classify,
    .build_refresh = trakt_build_refresh,
    .parse_refresh = trakt_parse_refresh,
    .set_tokens = trakt_set_tokens,
    .build_history_check = trakt_build_history_check,
    .parse_history_check = trakt_parse_history_check,
    .auth_start = trakt_auth_start,
    .auth_poll = trakt_auth_poll,
    .auth_parse = trakt_auth_parse,
    .features = TRAKT_READ_FEATURES,
    .delta_features = TRAKT_DELTA_FEATURES,
    .has_local_id = false,
    .dated_history = true,
    .history_plays = true,
    .phantom_grace_s = 900,
    .build_index = trakt_build_index,
    .parse_index = trakt_parse_index,
    .build_activities = trakt_build_activities,
    .parse_activities = trakt_parse_activities,
    .build_delta = trakt_build_delta,
    .parse_delta = trakt_parse_delta,
    .apply = NULL,
};
