#include "mediabrowser.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "syncapi.h"
#include "util.h"

#define MB_CLIENT      "watchrelay"
#define MB_VERSION     "0.1.0"
#define MB_TEXT_CAP    1024 /* longest title we keep, in bytes */
#define MB_NUM_MAX     1000000
#define MB_KEY_MAX     4096
#define MB_EXCERPT_MAX 160 /* longest part of an error body in a reason */
#define MB_RAW_MAX     512 /* longest part of an error body looked at */

enum mb_mode { MB_INDEX, MB_DELTA, MB_MODE_MAX };

struct mb {
    const struct mb_dialect *d;
    char *base_url;
    char *key;
    const char *key_name; /* the config key the key came from */
    char *user_id;
    /* StartIndex of the last request built per read, for replies that do
     * not echo it (Emby may omit it); -1 none. */
    int64_t asked[MB_MODE_MAX][ADAPTER_FEATURE_MAX];
};

/* ---- config ----------------------------------------------------------- */

static bool
is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* A key we can put in a header line, inside Jellyfin's Token="...". */
static bool
key_ok(const char *s)
{
    size_t n = 0;

    for (; *s; s++, n++) {
        unsigned char c = (unsigned char)*s;

        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || n >= MB_KEY_MAX)
            return false;
    }
    return n > 0;
}

static bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* 32 hex digits, or the dashed 8-4-4-4-12 form of the same; out receives
 * the digits (dashes dropped, case kept). */
static int
user_id_norm(const char *s, char out[33])
{
    size_t len = strlen(s), o = 0;

    if (len != 32 && len != 36)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (len == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return -1;
            continue;
        }
        if (!is_hex(s[i]))
            return -1;
        out[o++] = s[i];
    }
    out[o] = '\0';
    return o == 32 ? 0 : -1;
}

void *
mb_init(const struct mb_dialect *d, const struct provider_conf *conf, char *err,
        size_t errlen)
{
    struct mb *m;
    const char *key = NULL, *key_name = "api_key";
    char uid[33];

    if (conf == NULL || !is_set(conf->base_url)) {
        snprintf(err, errlen,
                 "providers.%s.base_url is required (the %s server's "
                 "address, e.g. http://127.0.0.1:8096)",
                 d->name, d->label);
        return NULL;
    }
    if (!str_has_prefix(conf->base_url, "http://") &&
        !str_has_prefix(conf->base_url, "https://")) {
        snprintf(err, errlen,
                 "providers.%s.base_url must start with http:// or https://",
                 d->name);
        return NULL;
    }
    if (is_set(conf->api_key)) {
        key = conf->api_key;
    } else if (is_set(conf->token)) {
        key = conf->token;
        key_name = "token";
    }
    if (key == NULL) {
        snprintf(err, errlen,
                 "providers.%s.api_key is required (or providers.%s.token): "
                 "an API key from the %s dashboard",
                 d->name, d->name, d->label);
        return NULL;
    }
    if (!key_ok(key)) {
        snprintf(err, errlen,
                 "providers.%s.%s holds characters a request header cannot "
                 "carry",
                 d->name, key_name);
        return NULL;
    }
    if (!is_set(conf->user_id)) {
        snprintf(err, errlen,
                 "providers.%s.user_id is required (the 32-hex id of the %s "
                 "user whose data is synced)",
                 d->name, d->label);
        return NULL;
    }
    if (user_id_norm(conf->user_id, uid) != 0) {
        snprintf(err, errlen, "providers.%s.user_id must be 32 hex digits",
                 d->name);
        return NULL;
    }
    m = xcalloc(1, sizeof(*m));
    m->d = d;
    m->base_url = syncapi_url_dup(conf->base_url, "");
    m->key = xstrdup(key);
    m->key_name = key_name;
    m->user_id = xstrdup(uid);
    for (int i = 0; i < MB_MODE_MAX; i++)
        for (int j = 0; j < ADAPTER_FEATURE_MAX; j++)
            m->asked[i][j] = -1;
    return m;
}

void
mb_free(void *ctx)
{
    struct mb *m = ctx;

    if (m == NULL)
        return;
    explicit_bzero(m->key, strlen(m->key));
    free(m->key);
    free(m->user_id);
    free(m->base_url);
    free(m);
}

/* ---- requests --------------------------------------------------------- */

static void
mb_headers(const struct mb *m, struct http_request *req)
{
    if (m->d->flavor == MB_JELLYFIN)
        http_request_header(req,
                            "Authorization: MediaBrowser Client=\"%s\", "
                            "Device=\"%s\", DeviceId=\"%s\", Version=\"%s\", "
                            "Token=\"%s\"",
                            MB_CLIENT, MB_CLIENT, MB_CLIENT, MB_VERSION,
                            m->key);
    else
        http_request_header(req, "X-Emby-Token: %s", m->key);
    http_request_header(req, "Accept: application/json");
}

static void
set_request(const struct mb *m, struct http_request *req,
            enum http_method method, enum http_class cls, struct buf *url)
{
    req->method = method;
    req->rate_class = cls;
    free(req->url);
    req->url = url->data;
    mb_headers(m, req);
}

/* ---- writes ----------------------------------------------------------- */

enum mb_target { MB_PLAYED, MB_FAVORITE, MB_USERDATA };

static int
mb_check(const struct mb *m, const struct op *op, char *why, size_t whylen)
{
    char what[200];

    if (op->kind >= OP_KIND_MAX || (MB_KINDS & OP_BIT(op->kind)) == 0) {
        snprintf(why, whylen, "%s does not take %s operations", m->d->label,
                 op_kind_name(op->kind));
        return -1;
    }
    if (op->kind == OP_RATING_SET && (op->rating < 1 || op->rating > 10)) {
        snprintf(why, whylen, "invalid: rating %d is outside 1-10", op->rating);
        return -1;
    }
    if (op->item.ids.v[m->d->local_id] == NULL) {
        syncapi_describe(op, what, sizeof(what));
        snprintf(why, whylen,
                 "not_found: %s is not in the %s library (no item id)", what,
                 m->d->label);
        return -1;
    }
    return 0;
}

/*
 * The URL of target for item id:
 *   Jellyfin {base}/UserPlayedItems/{id}?userId=U, .../UserFavoriteItems/..,
 *            {base}/UserItems/{id}/UserData?userId=U
 *   Emby     {base}/Users/U/PlayedItems/{id}, .../FavoriteItems/{id},
 *            {base}/Users/U/Items/{id}/UserData
 */
static void
item_url(const struct mb *m, enum mb_target target, const char *id,
         struct buf *b)
{
    static const char *const jf[] = {
        [MB_PLAYED] = "UserPlayedItems",
        [MB_FAVORITE] = "UserFavoriteItems",
        [MB_USERDATA] = "UserItems",
    };
    static const char *const emby[] = {
        [MB_PLAYED] = "PlayedItems",
        [MB_FAVORITE] = "FavoriteItems",
        [MB_USERDATA] = "Items",
    };
    bool jellyfin = m->d->flavor == MB_JELLYFIN;

    buf_puts(b, m->base_url);
    if (!jellyfin)
        buf_printf(b, "/Users/%s", m->user_id);
    buf_printf(b, "/%s/", jellyfin ? jf[target] : emby[target]);
    syncapi_url_encode(b, id);
    if (target == MB_USERDATA)
        buf_puts(b, "/UserData");
    if (jellyfin)
        buf_printf(b, "?userId=%s", m->user_id);
}

/* Emby's DatePlayed: yyyyMMddHHmmss, UTC (the digits of the RFC 3339
 * form). */
static int
emby_date(int64_t t, char out[16])
{
    char iso[WR_TIME_BUF];
    size_t o = 0;

    wr_time_format(t, iso);
    if (strlen(iso) != 20 || iso[19] != 'Z')
        return -1;
    for (size_t i = 0; i < 19; i++)
        if (iso[i] >= '0' && iso[i] <= '9')
            out[o++] = iso[i];
    out[o] = '\0';
    return o == 14 ? 0 : -1;
}

int
mb_build(void *ctx, const struct op *const *ops, size_t n,
         struct http_request *req, char *err, size_t errlen)
{
    struct mb *m = ctx;
    const struct op *op;
    enum http_method method = HTTP_POST;
    enum mb_target target;
    char *body = NULL;
    char when[WR_TIME_BUF], ed[16];
    struct buf url;

    if (n != 1 || ops == NULL || ops[0] == NULL) {
        snprintf(err, errlen, "%s writes take one operation per request",
                 m->d->label);
        return -1;
    }
    op = ops[0];
    if (mb_check(m, op, err, errlen) != 0)
        return -1;
    switch (op->kind) {
    case OP_HISTORY_ADD:
    case OP_HISTORY_REMOVE:
        target = MB_PLAYED;
        break;
    case OP_WATCHLIST_ADD:
    case OP_WATCHLIST_REMOVE:
        target = MB_FAVORITE;
        break;
    default:
        target = MB_USERDATA;
        break;
    }
    if (op->kind == OP_HISTORY_REMOVE || op->kind == OP_WATCHLIST_REMOVE)
        method = HTTP_DELETE;
    buf_init(&url);
    item_url(m, target, op->item.ids.v[m->d->local_id], &url);
    if (op->kind == OP_HISTORY_ADD && op->watched_at > 0) {
        if (m->d->flavor == MB_JELLYFIN) {
            wr_time_format(op->watched_at, when);
            buf_puts(&url, "&datePlayed=");
            syncapi_url_encode(&url, when);
        } else if (emby_date(op->watched_at, ed) == 0) {
            buf_printf(&url, "?DatePlayed=%s", ed);
        }
    }
    set_request(m, req, method, HTTP_CLASS_WRITE, &url);
    if (target == MB_USERDATA) {
        /* 0 is "unrated" in our scale (SYNC.md 7): a clear writes 0. */
        body = op->kind == OP_RATING_SET
                   ? xasprintf("{\"Rating\":%d.0}", op->rating)
                   : xstrdup("{\"Rating\":0}");
        http_request_header(req, "Content-Type: application/json");
        http_request_set_body(req, body, strlen(body));
    }
    return 0;
}

/* s with every occurrence of secret replaced. Owned. */
static char *
redact(const char *s, size_t len, const char *secret)
{
    size_t sl = strlen(secret), p = 0;
    struct buf b;

    buf_init(&b);
    while (p < len) {
        if (sl > 0 && len - p >= sl && memcmp(s + p, secret, sl) == 0) {
            buf_puts(&b, "[redacted]");
            p += sl;
        } else {
            buf_append(&b, s + p, 1);
            p++;
        }
    }
    if (b.data == NULL)
        buf_puts(&b, "");
    return b.data;
}

/* The first message of an RFC 7807 "errors" object ({"field": ["msg"]}). */
static void
first_error(struct json_object *o, struct buf *b)
{
    struct json_object *errs, *v;

    if (jget_obj(o, "errors", &errs) != 0)
        return;
    json_object_object_foreach (errs, field, val) {
        v = val;
        if (json_object_is_type(v, json_type_array) &&
            json_object_array_length(v) > 0)
            v = json_object_array_get_idx(v, 0);
        if (json_object_is_type(v, json_type_string)) {
            buf_printf(b, " (%s: %s)", field, json_object_get_string(v));
            return;
        }
    }
}

/* A short, escaped, key-free excerpt of an error reply: an RFC 7807 problem
 * ("title: detail (field: message)"), else the body's start, else the
 * transport error. */
static void
reply_excerpt(const struct mb *m, const struct http_response *resp, char *out,
              size_t outlen)
{
    struct json_object *o = NULL;
    const char *title = NULL, *detail = NULL;
    char perr[64], *clean;
    struct buf raw;

    buf_init(&raw);
    if (resp->body != NULL && resp->body_len > 0) {
        o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                        sizeof(perr));
        if (o != NULL && json_object_is_type(o, json_type_object)) {
            jget_str(o, "title", &title);
            jget_str(o, "detail", &detail);
            if (title != NULL)
                buf_puts(&raw, title);
            if (detail != NULL)
                buf_printf(&raw, "%s%s", title != NULL ? ": " : "", detail);
            if (title != NULL || detail != NULL)
                first_error(o, &raw);
        }
        if (raw.len == 0)
            buf_append(&raw, resp->body,
                       resp->body_len < MB_RAW_MAX ? resp->body_len
                                                   : MB_RAW_MAX);
    } else if (resp->error != NULL) {
        buf_puts(&raw, resp->error);
    }
    if (raw.data == NULL)
        buf_puts(&raw, "");
    clean = redact(raw.data, raw.len, m->key);
    str_escape(clean, strlen(clean), out,
               outlen < MB_EXCERPT_MAX ? outlen : MB_EXCERPT_MAX);
    /* Escaping can join bytes into the key again ("\xff" + "z-mb-..."):
     * redact the escaped text too. */
    {
        char *again = redact(out, strlen(out), m->key);

        snprintf(out, outlen < MB_EXCERPT_MAX ? outlen : MB_EXCERPT_MAX, "%s",
                 again);
        free(again);
    }
    if (o != NULL)
        json_object_put(o);
    free(clean);
    buf_release(&raw);
}

static void
set_result(struct adapter_result *r, enum adapter_outcome outcome, int64_t ms,
           const char *reason)
{
    memset(r, 0, sizeof(*r));
    r->outcome = outcome;
    r->retry_after_ms = ms;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

void
mb_classify(void *ctx, const struct op *const *ops, size_t n,
            const struct http_response *resp, struct adapter_result *results)
{
    struct mb *m = ctx;
    const char *label = m->d->label;
    enum adapter_outcome outcome;
    long st = resp->status;
    char msg[MB_EXCERPT_MAX], reason[256], what[200] = "the item";
    int64_t ms = 0;

    if (n > 0 && ops != NULL && ops[0] != NULL)
        syncapi_describe(ops[0], what, sizeof(what));
    reason[0] = '\0';
    if ((st >= 200 && st < 300) || st == 304 || st == 409) {
        outcome = ADAPTER_DONE;
    } else if (st == 404) {
        outcome = ADAPTER_PERMANENT;
        snprintf(reason, sizeof(reason),
                 "not_found: %s: %s says it is not in the library (404)", what,
                 label);
    } else if (st == 400 || st == 422) {
        outcome = ADAPTER_PERMANENT;
        reply_excerpt(m, resp, msg, sizeof(msg));
        snprintf(reason, sizeof(reason),
                 "invalid: %s refused the request (%ld): %s", label, st, msg);
    } else if (st == 401) {
        outcome = ADAPTER_PAUSE;
        snprintf(reason, sizeof(reason),
                 "auth_failed: %s rejected the api key (401): check "
                 "providers.%s.%s",
                 label, m->d->name, m->key_name);
    } else if (st == 403) {
        outcome = ADAPTER_PAUSE;
        snprintf(reason, sizeof(reason),
                 "forbidden: %s refused the request (403): check that the "
                 "key may act for providers.%s.user_id",
                 label, m->d->name);
    } else if (st == 429) {
        outcome = ADAPTER_RATE;
        ms = syncapi_retry_after_ms(resp);
        if (ms <= 0)
            ms = 1000;
        snprintf(reason, sizeof(reason), "rate limited (429)");
    } else if (st == 0 || st >= 500 || st == 408) {
        outcome = ADAPTER_RETRY;
        ms = syncapi_retry_after_ms(resp);
        if (ms < 0)
            ms = 0;
        reply_excerpt(m, resp, msg, sizeof(msg));
        if (st == 0)
            snprintf(reason, sizeof(reason), "transport: %s", msg);
        else
            snprintf(reason, sizeof(reason), "http %ld: %s", st, msg);
    } else {
        outcome = ADAPTER_PERMANENT;
        reply_excerpt(m, resp, msg, sizeof(msg));
        snprintf(reason, sizeof(reason), "http %ld: %s", st, msg);
    }
    for (size_t i = 0; i < n; i++)
        set_result(&results[i], outcome, ms, reason);
}

/* ---- reads ------------------------------------------------------------ */

static int
check_feature(const struct mb *m, enum adapter_feature f, char *err,
              size_t errlen)
{
    if ((unsigned)f >= ADAPTER_FEATURE_MAX || (MB_FEATURES & (1u << f)) == 0) {
        snprintf(err, errlen, "%s has no %s to read", m->d->label,
                 adapter_feature_name(f));
        return -1;
    }
    return 0;
}

/* "start=N" -> N; NULL -> 0. */
static int
parse_cursor(const struct mb *m, const char *cursor, int64_t *start, char *err,
             size_t errlen)
{
    *start = 0;
    if (cursor == NULL)
        return 0;
    if (!str_has_prefix(cursor, "start=") ||
        parse_i64(cursor + 6, 0, INT32_MAX, start) != 0) {
        snprintf(err, errlen, "bad %s read cursor", m->d->label);
        return -1;
    }
    return 0;
}

static int
build_read(struct mb *m, enum mb_mode mode, enum adapter_feature f,
           int64_t since, const char *cursor, struct http_request *req,
           char *err, size_t errlen)
{
    int64_t start, from;
    char when[WR_TIME_BUF];
    struct buf url;

    if (check_feature(m, f, err, errlen) != 0 ||
        parse_cursor(m, cursor, &start, err, errlen) != 0)
        return -1;
    buf_init(&url);
    if (m->d->flavor == MB_JELLYFIN)
        buf_printf(&url,
                   "%s/Items?userId=%s&Recursive=true"
                   "&IncludeItemTypes=Movie,Episode&Fields=ProviderIds"
                   "&EnableUserData=true",
                   m->base_url, m->user_id);
    else
        buf_printf(&url,
                   "%s/Users/%s/Items?Recursive=true"
                   "&IncludeItemTypes=Movie,Episode"
                   "&Fields=ProviderIds,UserData",
                   m->base_url, m->user_id);
    buf_printf(&url, "&StartIndex=%" PRId64 "&Limit=%d", start, MB_PAGE);
    if (mode == MB_DELTA) {
        from = since > MB_OVERLAP_S ? since - MB_OVERLAP_S : 0;
        wr_time_format(from, when);
        buf_puts(&url, "&MinDateLastSavedForUser=");
        syncapi_url_encode(&url, when);
    }
    m->asked[mode][f] = start;
    set_request(m, req, HTTP_GET, HTTP_CLASS_READ, &url);
    return 0;
}

int
mb_build_index(void *ctx, enum adapter_feature f, const char *cursor,
               struct http_request *req, char *err, size_t errlen)
{
    return build_read(ctx, MB_INDEX, f, 0, cursor, req, err, errlen);
}

int
mb_build_delta(void *ctx, enum adapter_feature f, int64_t since,
               const char *cursor, struct http_request *req, char *err,
               size_t errlen)
{
    return build_read(ctx, MB_DELTA, f, since, cursor, req, err, errlen);
}

/* A number, or a string holding one. */
static int
get_num(struct json_object *o, const char *key, double *out)
{
    struct json_object *v;
    const char *s;
    char *end;
    double d;

    if (!json_object_object_get_ex(o, key, &v))
        return -1;
    if (json_object_is_type(v, json_type_double) ||
        json_object_is_type(v, json_type_int)) {
        d = json_object_get_double(v);
    } else if (json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);
        while (*s == ' ')
            s++;
        if (*s == '\0')
            return -1;
        d = strtod(s, &end);
        while (*end == ' ')
            end++;
        if (*end != '\0')
            return -1;
    } else {
        return -1;
    }
    if (!isfinite(d))
        return -1;
    *out = d;
    return 0;
}

/* A string or integer member as text (num holds the digits). */
static const char *
get_text_id(struct json_object *o, const char *key, char num[32])
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    if (json_object_is_type(v, json_type_int)) {
        snprintf(num, 32, "%" PRId64, json_object_get_int64(v));
        return num;
    }
    return NULL;
}

/* A non-empty string, cut at MB_TEXT_CAP bytes on a UTF-8 boundary. Owned,
 * or NULL. */
static char *
get_title(struct json_object *o, const char *key)
{
    const char *s;
    size_t len;

    if (jget_str(o, key, &s) != 0)
        return NULL;
    len = strlen(s);
    if (len > MB_TEXT_CAP) {
        len = MB_TEXT_CAP;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    return len > 0 ? xstrndup(s, len) : NULL;
}

static int
get_small(struct json_object *o, const char *key, int64_t min, int64_t max)
{
    int64_t v;

    if (jget_i64_lenient(o, key, &v) != 0 || v < min || v > max)
        return -1;
    return (int)v;
}

/* ProviderIds: external ids in any case ("Imdb", "tmdb", ...); unknown
 * names and names of local ids (plex, jellyfin, emby, guid, slug) are
 * ignored: the item's own Id is its local id. */
static void
provider_ids(struct json_object *o, struct item_ids *ids)
{
    struct json_object *pids;
    const char *raw;
    char num[32];
    int id;

    if (jget_obj(o, "ProviderIds", &pids) != 0)
        return;
    json_object_object_foreach (pids, name, val) {
        id = item_id_from_name(name);
        if (id < 0 || id >= ITEM_ID_PLEX)
            continue;
        raw = NULL;
        if (json_object_is_type(val, json_type_string)) {
            raw = json_object_get_string(val);
        } else if (json_object_is_type(val, json_type_int)) {
            snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(val));
            raw = num;
        }
        if (raw != NULL)
            item_ids_set_named(ids, name, raw);
    }
}

/* The item of a Movie or Episode; -1 for other types or without an Id. */
static int
read_item(const struct mb *m, struct json_object *o, struct item *it)
{
    const char *type = NULL, *id;
    char num[32];
    int v;

    if (jget_str(o, "Type", &type) != 0)
        return -1;
    if (str_ieq(type, "Movie"))
        it->type = ITEM_MOVIE;
    else if (str_ieq(type, "Episode"))
        it->type = ITEM_EPISODE;
    else
        return -1;
    provider_ids(o, &it->ids);
    id = get_text_id(o, "Id", num);
    if (id == NULL || item_ids_set(&it->ids, m->d->local_id, id) != 0)
        return -1;
    it->title = get_title(o, "Name");
    if ((v = get_small(o, "ProductionYear", 1, 9999)) > 0)
        it->year = v;
    if (it->type == ITEM_EPISODE) {
        it->show_title = get_title(o, "SeriesName");
        it->season = get_small(o, "ParentIndexNumber", 0, MB_NUM_MAX);
        it->episode = get_small(o, "IndexNumber", 0, MB_NUM_MAX);
    }
    return 0;
}

/* The user's data of an item; -1 / 0 / 1 for unknown / false / true. */
struct mb_userdata {
    bool present;
    int played;
    int64_t last_played; /* 0 unknown */
    int rating;          /* canonical; 0 unrated */
    int favorite;
};

static void
read_userdata(struct json_object *o, struct mb_userdata *u)
{
    struct json_object *ud;
    const char *s;
    double r;
    bool b;

    memset(u, 0, sizeof(*u));
    u->played = -1;
    u->favorite = -1;
    if (jget_obj(o, "UserData", &ud) != 0)
        return;
    u->present = true;
    if (jget_bool_lenient(ud, "Played", &b) == 0)
        u->played = b;
    if (jget_bool_lenient(ud, "IsFavorite", &b) == 0)
        u->favorite = b;
    /* Jellyfin writes 7 fractional digits; .NET's MinValue means none. */
    if (jget_str(ud, "LastPlayedDate", &s) == 0 &&
        wr_time_parse(s, &u->last_played) == 0 && u->last_played < 0)
        u->last_played = 0;
    if (get_num(ud, "Rating", &r) == 0)
        u->rating = mb_rating_canonical(r);
}

int
mb_rating_canonical(double native)
{
    int64_t tenths, c;

    if (!(native > 0) || !isfinite(native))
        return 0;
    if (native > 10)
        native = 10;
    tenths = (int64_t)(native * 10.0 + 0.5); /* nearest tenth */
    c = (tenths + 5) / 10;                   /* half up (SYNC.md 7) */
    return c < 1 ? 1 : c > 10 ? 10 : (int)c;
}

enum row_state { ROW_SKIP, ROW_IN, ROW_OUT };

/* Whether the item is in feature f (index: out = library_only; delta: out =
 * removed; skip = the reply does not say). */
static enum row_state
row_state(enum mb_mode mode, enum adapter_feature f,
          const struct mb_userdata *u)
{
    int in;

    if (!u->present)
        return mode == MB_INDEX ? ROW_OUT : ROW_SKIP;
    switch (f) {
    case ADAPTER_HISTORY:
        in = u->played;
        break;
    case ADAPTER_RATINGS:
        in = u->rating > 0; /* an absent Rating is unrated */
        break;
    default:
        in = u->favorite;
        break;
    }
    if (in < 0)
        return mode == MB_INDEX ? ROW_OUT : ROW_SKIP;
    return in ? ROW_IN : ROW_OUT;
}

static struct adapter_entry *
page_add(struct adapter_page *p, size_t *cap)
{
    struct adapter_entry *e;

    if (p->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        p->rows = xrealloc(p->rows, *cap * sizeof(*p->rows));
    }
    e = &p->rows[p->n++];
    memset(e, 0, sizeof(*e));
    item_init(&e->item);
    e->progress = -1;
    e->position = -1;
    return e;
}

static void
add_row(const struct mb *m, enum mb_mode mode, enum adapter_feature f,
        struct json_object *o, struct adapter_page *p, size_t *cap)
{
    struct adapter_entry *e;
    struct mb_userdata u;
    enum row_state st;

    if (!json_object_is_type(o, json_type_object))
        return;
    read_userdata(o, &u);
    st = row_state(mode, f, &u);
    if (st == ROW_SKIP)
        return;
    e = page_add(p, cap);
    if (read_item(m, o, &e->item) != 0) {
        item_release(&e->item);
        p->n--;
        return;
    }
    if (st == ROW_OUT) {
        if (mode == MB_INDEX)
            e->library_only = true;
        else
            e->removed = true;
        return;
    }
    if (f == ADAPTER_HISTORY)
        e->watched_at = u.last_played;
    else if (f == ADAPTER_RATINGS)
        e->rating = u.rating; /* rated_at 0: only an observation time */
}

static void
read_error(const struct mb *m, const struct http_response *resp, char *err,
           size_t errlen)
{
    char msg[MB_EXCERPT_MAX];

    if (resp->status == 401 || resp->status == 403) {
        snprintf(err, errlen,
                 "%s library read: unauthorized (http %ld): check "
                 "providers.%s.%s and providers.%s.user_id",
                 m->d->label, resp->status, m->d->name, m->key_name,
                 m->d->name);
        return;
    }
    reply_excerpt(m, resp, msg, sizeof(msg));
    if (resp->status == 0)
        snprintf(err, errlen, "%s library read failed: transport: %s",
                 m->d->label, msg);
    else
        snprintf(err, errlen, "%s library read failed: http %ld: %s",
                 m->d->label, resp->status, msg);
}

static int
parse_read(struct mb *m, enum mb_mode mode, enum adapter_feature f,
           const struct http_response *resp, struct adapter_page *out,
           char *err, size_t errlen)
{
    struct json_object *root = NULL, *items;
    int64_t start = -1, total = -1, end;
    size_t n_items, cap = 0;
    char perr[64];
    const char *date;

    memset(out, 0, sizeof(*out));
    if (check_feature(m, f, err, errlen) != 0)
        return -1;
    if (resp->status < 200 || resp->status >= 300) {
        read_error(m, resp, err, errlen);
        return -1;
    }
    if (resp->body == NULL || resp->body_len == 0 ||
        (root = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                            sizeof(perr))) == NULL) {
        snprintf(err, errlen, "malformed JSON in the %s library reply: %s",
                 m->d->label, resp->body_len ? perr : "empty body");
        return -1;
    }
    if (jget_arr(root, "Items", &items) != 0) {
        snprintf(err, errlen, "the %s library reply has no Items array",
                 m->d->label);
        json_object_put(root);
        return -1;
    }
    /* Page from where we asked: a server echoing another StartIndex must
     * not make the same page come round again. */
    if (m->asked[mode][f] >= 0)
        start = m->asked[mode][f];
    else if (jget_i64_lenient(root, "StartIndex", &start) != 0 || start < 0)
        start = 0;
    if (jget_i64_lenient(root, "TotalRecordCount", &total) != 0 || total < 0)
        total = -1;
    n_items = json_object_array_length(items);
    end = start + (int64_t)n_items;
    if (total >= 0 && end < total) {
        if (n_items == 0) {
            snprintf(err, errlen,
                     "incomplete read: %s returned no items at StartIndex "
                     "%" PRId64 " of %" PRId64,
                     m->d->label, start, total);
            json_object_put(root);
            return -1;
        }
        out->next_cursor = xasprintf("start=%" PRId64, end);
    } else if (total < 0 && n_items >= MB_PAGE) {
        /* No count (enableTotalRecordCount=false): a full page asks for
         * another. */
        out->next_cursor = xasprintf("start=%" PRId64, end);
    }
    for (size_t i = 0; i < n_items; i++)
        add_row(m, mode, f, json_object_array_get_idx(items, i), out, &cap);
    if (mode == MB_DELTA && (date = http_response_header(resp, "Date")) &&
        mb_http_date(date, &out->watermark) != 0)
        out->watermark = 0;
    json_object_put(root);
    return 0;
}

int
mb_parse_index(void *ctx, enum adapter_feature f,
               const struct http_response *resp, struct adapter_page *out,
               char *err, size_t errlen)
{
    return parse_read(ctx, MB_INDEX, f, resp, out, err, errlen);
}

int
mb_parse_delta(void *ctx, enum adapter_feature f,
               const struct http_response *resp, struct adapter_page *out,
               char *err, size_t errlen)
{
    return parse_read(ctx, MB_DELTA, f, resp, out, err, errlen);
}

/* ---- HTTP dates ------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, int mon, int day)
{
    int64_t era, yoe, doy, doe;

    y -= mon <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
digits(const char *s, size_t n, int64_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    return parse_i64n(s, n, 0, 9999, out);
}

static int
name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strncmp(s, names[i], 3) == 0)
            return i;
    return -1;
}

int
mb_http_date(const char *s, int64_t *out)
{
    static const char *const wdays[] = {"Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat", "Sun"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t day, year, hh, mm, ss;
    int mon, dim;
    size_t len;

    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                       s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    /* "Wed, 25 Nov 2026 22:00:00 GMT" is exactly 29 bytes. */
    if (len != 29 || name_index(s, wdays, 7) < 0 || s[3] != ',' ||
        s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
        strncmp(s + 26, "GMT", 3) != 0)
        return -1;
    if (digits(s + 5, 2, &day) != 0 ||
        (mon = name_index(s + 8, months, 12)) < 0 ||
        digits(s + 12, 4, &year) != 0 || digits(s + 17, 2, &hh) != 0 ||
        digits(s + 20, 2, &mm) != 0 || digits(s + 23, 2, &ss) != 0)
        return -1;
    dim = mdays[mon];
    if (mon == 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        dim = 29;
    if (year < 1970 || day < 1 || day > dim || hh > 23 || mm > 59 || ss > 60)
        return -1;
    *out = days_from_civil(year, mon + 1, (int)day) * 86400 + hh * 3600 +
           mm * 60 + ss;
    return 0;
}
