#include "syncapi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"

/* Longest part of an error body quoted in a reason. */
#define MESSAGE_MAX 160
/* Longest part of an error body looked at. */
#define RAW_MAX 512

void
syncapi_time(const struct syncapi_dialect *d, int64_t t, char buf[WR_TIME_BUF])
{
    size_t len;

    wr_time_format(t, buf);
    len = strlen(buf);
    /* "…:SSZ" -> "…:SS.000Z" */
    if (d->ms_times && len > 0 && len + 4 < WR_TIME_BUF &&
        buf[len - 1] == 'Z') {
        memcpy(buf + len - 1, ".000Z", 6);
    }
}

static bool
id_allowed(const struct syncapi_dialect *d, enum item_type t, enum item_id id)
{
    return t < ITEM_TYPE_MAX && (d->id_mask[t] & (1u << id)) != 0;
}

static void
add_id(struct json_object *o, enum item_id id, const char *v)
{
    int64_t x;

    if (item_id_is_numeric(id) && parse_i64(v, 1, INT64_MAX, &x) == 0)
        json_object_object_add(o, item_id_name(id), json_object_new_int64(x));
    else
        json_object_object_add(o, item_id_name(id), json_object_new_string(v));
}

struct json_object *
syncapi_ids(const struct syncapi_dialect *d, enum item_type t,
            const struct item_ids *ids)
{
    struct json_object *o = NULL;

    for (size_t i = 0; i < d->n_ids; i++) {
        enum item_id id = d->ids[i];

        if (id == ITEM_ID_SLUG || !id_allowed(d, t, id) || ids->v[id] == NULL)
            continue;
        if (o == NULL)
            o = json_object_new_object();
        add_id(o, id, ids->v[id]);
    }
    if (o == NULL && id_allowed(d, t, ITEM_ID_SLUG) &&
        ids->v[ITEM_ID_SLUG] != NULL) {
        o = json_object_new_object();
        add_id(o, ITEM_ID_SLUG, ids->v[ITEM_ID_SLUG]);
    }
    return o;
}

static bool
has_ids(const struct syncapi_dialect *d, enum item_type t,
        const struct item_ids *ids)
{
    for (size_t i = 0; i < d->n_ids; i++)
        if (id_allowed(d, t, d->ids[i]) && ids->v[d->ids[i]] != NULL)
            return true;
    return false;
}

bool
syncapi_grouped(const struct syncapi_dialect *d, const struct item *it)
{
    if (it->type == ITEM_SEASON)
        return it->season >= 0 && has_ids(d, ITEM_SHOW, &it->show_ids);
    if (it->type == ITEM_EPISODE)
        return it->season >= 0 && it->episode >= 0 &&
               has_ids(d, ITEM_SHOW, &it->show_ids);
    return false;
}

int
syncapi_identify(const struct syncapi_dialect *d, const struct item *it,
                 char *why, size_t whylen)
{
    bool ok = false;

    switch (it->type) {
    case ITEM_MOVIE:
    case ITEM_SHOW:
        ok = has_ids(d, it->type, &it->ids);
        break;
    case ITEM_SEASON:
    case ITEM_EPISODE:
        ok = syncapi_grouped(d, it) || has_ids(d, it->type, &it->ids);
        break;
    default:
        snprintf(why, whylen,
                 "%s takes movies, shows, seasons and episodes "
                 "only",
                 d->label);
        return -1;
    }
    if (!ok) {
        snprintf(why, whylen, "no id %s can match", d->label);
        return -1;
    }
    return 0;
}

bool
syncapi_is_remove(enum op_kind k)
{
    return k == OP_HISTORY_REMOVE || k == OP_RATING_CLEAR ||
           k == OP_WATCHLIST_REMOVE;
}

bool
syncapi_is_scrobble(enum op_kind k)
{
    return k < OP_KIND_MAX && (OP_SCROBBLE_KINDS & OP_BIT(k)) != 0;
}

/* Progress 0-100 with at most two decimals ("97.3", "90", "0.5"). */
static struct json_object *
progress_json(double p)
{
    char s[32];
    size_t len;
    long c;

    if (!(p >= 0))
        p = 0;
    if (p > 100)
        p = 100;
    c = (long)lround(p * 100);
    p = (double)c / 100;
    snprintf(s, sizeof(s), "%ld.%02ld", c / 100, c % 100);
    len = strlen(s);
    while (len > 0 && s[len - 1] == '0')
        s[--len] = '\0';
    if (len > 0 && s[len - 1] == '.')
        s[--len] = '\0';
    return json_object_new_double_s(p, s);
}

struct json_object *
syncapi_scrobble_body(const struct syncapi_dialect *d, const struct op *op)
{
    const struct item *it = &op->item;
    struct json_object *root = json_object_new_object();
    struct json_object *o, *ids;

    if (it->type == ITEM_MOVIE) {
        o = json_object_new_object();
        ids = syncapi_ids(d, ITEM_MOVIE, &it->ids);
        json_object_object_add(o, "ids", ids ? ids : json_object_new_object());
        json_object_object_add(root, "movie", o);
    } else if (syncapi_grouped(d, it)) {
        o = json_object_new_object();
        json_object_object_add(o, "ids",
                               syncapi_ids(d, ITEM_SHOW, &it->show_ids));
        json_object_object_add(root, "show", o);
        o = json_object_new_object();
        json_object_object_add(o, "season", json_object_new_int(it->season));
        json_object_object_add(o, "number", json_object_new_int(it->episode));
        json_object_object_add(root, "episode", o);
    } else {
        o = json_object_new_object();
        ids = syncapi_ids(d, ITEM_EPISODE, &it->ids);
        json_object_object_add(o, "ids", ids ? ids : json_object_new_object());
        json_object_object_add(root, "episode", o);
    }
    json_object_object_add(root, "progress", progress_json(op->progress));
    return root;
}

/* ---- /sync bodies ---------------------------------------------------- */

struct season_slot {
    int number;
    struct json_object *episodes; /* borrowed from its season entry */
};

struct show_group {
    const struct item_ids **members; /* show ids of its operations */
    size_t n_members;
    struct json_object *seasons;
    struct season_slot *slots;
    size_t n_slots;
};

struct body {
    const struct syncapi_dialect *d;
    struct json_object *movies, *shows, *seasons, *episodes;
    struct show_group *groups;
    size_t n_groups;
};

static struct json_object *
lazy_array(struct json_object **a)
{
    if (*a == NULL)
        *a = json_object_new_array();
    return *a;
}

static void
add_extras(const struct syncapi_dialect *d, struct json_object *e,
           const struct op *op, unsigned extras)
{
    char t[WR_TIME_BUF];

    if ((extras & SYNCAPI_WATCHED_AT) && op->watched_at > 0) {
        syncapi_time(d, op->watched_at, t);
        json_object_object_add(e, "watched_at", json_object_new_string(t));
    }
    if (extras & SYNCAPI_RATING) {
        json_object_object_add(e, "rating", json_object_new_int(op->rating));
        if (op->rated_at > 0) {
            syncapi_time(d, op->rated_at, t);
            json_object_object_add(e, "rated_at", json_object_new_string(t));
        }
    }
    if (extras & SYNCAPI_TO_PLANTOWATCH)
        json_object_object_add(e, "to", json_object_new_string("plantowatch"));
}

/* Whether two show id sets share an id the provider takes. */
static bool
shows_share(const struct syncapi_dialect *d, const struct item_ids *a,
            const struct item_ids *b)
{
    for (size_t i = 0; i < d->n_ids; i++) {
        enum item_id id = d->ids[i];

        if (id_allowed(d, ITEM_SHOW, id) && a->v[id] != NULL &&
            b->v[id] != NULL && str_ieq(a->v[id], b->v[id]))
            return true;
    }
    return false;
}

static struct show_group *
group_for(struct body *b, const struct item_ids *show_ids)
{
    struct show_group *g;
    struct json_object *e;

    for (size_t i = 0; i < b->n_groups; i++) {
        g = &b->groups[i];
        for (size_t j = 0; j < g->n_members; j++) {
            if (shows_share(b->d, g->members[j], show_ids)) {
                g->members = xrealloc(g->members,
                                      (g->n_members + 1) * sizeof(*g->members));
                g->members[g->n_members++] = show_ids;
                return g;
            }
        }
    }
    b->groups = xrealloc(b->groups, (b->n_groups + 1) * sizeof(*b->groups));
    g = &b->groups[b->n_groups++];
    memset(g, 0, sizeof(*g));
    g->members = xmalloc(sizeof(*g->members));
    g->members[g->n_members++] = show_ids;
    e = json_object_new_object();
    json_object_object_add(e, "ids", syncapi_ids(b->d, ITEM_SHOW, show_ids));
    g->seasons = json_object_new_array();
    json_object_object_add(e, "seasons", g->seasons);
    json_object_array_add(lazy_array(&b->shows), e);
    return g;
}

/* The episodes[] of season `number` in g, made on first use. */
static struct json_object *
season_episodes(struct show_group *g, int number)
{
    struct json_object *e;
    struct season_slot *s;

    for (size_t i = 0; i < g->n_slots; i++)
        if (g->slots[i].number == number)
            return g->slots[i].episodes;
    g->slots = xrealloc(g->slots, (g->n_slots + 1) * sizeof(*g->slots));
    s = &g->slots[g->n_slots++];
    s->number = number;
    s->episodes = json_object_new_array();
    e = json_object_new_object();
    json_object_object_add(e, "number", json_object_new_int(number));
    json_object_object_add(e, "episodes", s->episodes);
    json_object_array_add(g->seasons, e);
    return s->episodes;
}

static void
body_add(struct body *b, const struct op *op, unsigned extras)
{
    const struct syncapi_dialect *d = b->d;
    const struct item *it = &op->item;
    struct json_object *e = json_object_new_object();
    struct show_group *g;

    if (syncapi_grouped(d, it)) {
        g = group_for(b, &it->show_ids);
        if (it->type == ITEM_SEASON) {
            /* A season of its own: not merged with episodes' seasons. */
            json_object_object_add(e, "number",
                                   json_object_new_int(it->season));
            add_extras(d, e, op, extras);
            json_object_array_add(g->seasons, e);
        } else {
            json_object_object_add(e, "number",
                                   json_object_new_int(it->episode));
            add_extras(d, e, op, extras);
            json_object_array_add(season_episodes(g, it->season), e);
        }
        return;
    }
    json_object_object_add(e, "ids", syncapi_ids(d, it->type, &it->ids));
    add_extras(d, e, op, extras);
    switch (it->type) {
    case ITEM_MOVIE:
        json_object_array_add(lazy_array(&b->movies), e);
        break;
    case ITEM_SHOW:
        json_object_array_add(lazy_array(&b->shows), e);
        break;
    case ITEM_SEASON:
        json_object_array_add(lazy_array(&b->seasons), e);
        break;
    default:
        json_object_array_add(lazy_array(&b->episodes), e);
        break;
    }
}

struct json_object *
syncapi_sync_body(const struct syncapi_dialect *d, const struct op *const *ops,
                  size_t n, const bool *skip, unsigned extras)
{
    struct json_object *root = json_object_new_object();
    struct body b;

    memset(&b, 0, sizeof(b));
    b.d = d;
    for (size_t i = 0; i < n; i++)
        if (skip == NULL || !skip[i])
            body_add(&b, ops[i], extras);
    if (b.movies)
        json_object_object_add(root, "movies", b.movies);
    if (b.shows)
        json_object_object_add(root, "shows", b.shows);
    if (b.seasons)
        json_object_object_add(root, "seasons", b.seasons);
    if (b.episodes)
        json_object_object_add(root, "episodes", b.episodes);
    for (size_t i = 0; i < b.n_groups; i++) {
        free(b.groups[i].slots);
        free(b.groups[i].members);
    }
    free(b.groups);
    return root;
}

void
syncapi_set_body(struct http_request *req, struct json_object *o)
{
    size_t len = 0;
    const char *s = jsonu_str(o, &len);

    http_request_set_body(req, xstrndup(s, len), len);
}

void
syncapi_url_encode(struct buf *b, const char *s)
{
    static const char hexd[] = "0123456789ABCDEF";

    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~' || c == ':') {
            buf_append(b, s, 1);
        } else {
            char esc[3] = {'%', hexd[c >> 4], hexd[c & 15]};

            buf_append(b, esc, 3);
        }
    }
}

/* ---- replies ---------------------------------------------------------- */

bool
syncapi_ids_match(struct json_object *jids, const struct item_ids *ids)
{
    if (jids == NULL || !json_object_is_type(jids, json_type_object))
        return false;
    json_object_object_foreach (jids, key, val) {
        struct item_ids tmp;
        char num[32];
        const char *raw = NULL;
        int id = item_id_from_name(key);
        bool same;

        if (id < 0 || ids->v[id] == NULL || id == ITEM_ID_PLEX ||
            id == ITEM_ID_JELLYFIN || id == ITEM_ID_EMBY || id == ITEM_ID_GUID)
            continue;
        if (json_object_is_type(val, json_type_int)) {
            snprintf(num, sizeof(num), "%lld",
                     (long long)json_object_get_int64(val));
            raw = num;
        } else if (json_object_is_type(val, json_type_string)) {
            raw = json_object_get_string(val);
        }
        if (raw == NULL)
            continue;
        memset(&tmp, 0, sizeof(tmp));
        if (item_ids_set(&tmp, (enum item_id)id, raw) != 0)
            continue;
        same = str_ieq(tmp.v[id], ids->v[id]);
        item_ids_release(&tmp);
        if (same)
            return true;
    }
    return false;
}

void
syncapi_describe(const struct op *op, char *out, size_t outlen)
{
    const struct item *it = &op->item;
    char title[96], key[128];
    char *owned_key = NULL;
    const char *k = op->key;
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "");
    if ((it->type == ITEM_EPISODE || it->type == ITEM_SEASON) &&
        it->show_title != NULL) {
        buf_puts(&b, it->show_title);
        if (it->season >= 0)
            buf_printf(&b, " S%02d", it->season);
        if (it->type == ITEM_EPISODE && it->episode >= 0)
            buf_printf(&b, "E%02d", it->episode);
    } else if (it->title != NULL) {
        buf_puts(&b, it->title);
        if (it->year > 0 && it->type != ITEM_EPISODE)
            buf_printf(&b, " (%d)", it->year);
    }
    if (k == NULL)
        k = owned_key = item_key(it);
    str_escape(b.data, b.len, title, sizeof(title));
    str_escape(k, strlen(k), key, sizeof(key));
    snprintf(out, outlen, "%s%s[%s]", title, title[0] ? " " : "", key);
    free(owned_key);
    buf_release(&b);
}

/* The first x[0..xl) in s[0..len), or NULL. */
static const char *
find_bytes(const char *s, size_t len, const char *x, size_t xl)
{
    for (size_t i = 0; xl > 0 && i + xl <= len; i++)
        if (s[i] == x[0] && memcmp(s + i, x, xl) == 0)
            return s + i;
    return NULL;
}

/* s[0..len) with every secret replaced. Owned. */
static char *
redact(const struct syncapi_secrets *sec, const char *s, size_t len,
       size_t *outlen)
{
    struct buf b;

    buf_init(&b);
    buf_append(&b, s, len);
    for (size_t i = 0; sec != NULL && i < sizeof(sec->v) / sizeof(sec->v[0]);
         i++) {
        const char *x = sec->v[i];
        size_t xl = x ? strlen(x) : 0;
        struct buf o;
        size_t p = 0;

        if (xl == 0)
            continue;
        buf_init(&o);
        while (p < b.len) {
            const char *hit = find_bytes(b.data + p, b.len - p, x, xl);

            if (hit == NULL) {
                buf_append(&o, b.data + p, b.len - p);
                break;
            }
            buf_append(&o, b.data + p, (size_t)(hit - (b.data + p)));
            buf_puts(&o, "[redacted]");
            p = (size_t)(hit - b.data) + xl;
        }
        if (o.data == NULL)
            buf_puts(&o, "");
        buf_release(&b);
        b = o;
    }
    if (b.data == NULL)
        buf_puts(&b, "");
    *outlen = b.len;
    return b.data;
}

/* Redact escaped text in place, keeping it within outlen: an escape's last
 * hex digit ("\xNf") next to the rest of a secret spells it out again. */
static void
redact_escaped(const struct syncapi_secrets *sec, char *out, size_t outlen)
{
    char *r;
    size_t len;

    if (outlen == 0)
        return;
    r = redact(sec, out, strlen(out), &len);
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, r, len);
    out[len] = '\0';
    free(r);
}

void
syncapi_reply_message(const struct syncapi_secrets *sec,
                      const struct http_response *resp, char *out,
                      size_t outlen)
{
    struct json_object *o = NULL;
    const char *e = NULL, *desc = NULL;
    char *raw = NULL, *clean = NULL;
    char perr[64];
    size_t len = 0, clean_len = 0;

    if (resp->body != NULL && resp->body_len > 0) {
        o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                        sizeof(perr));
        if (o != NULL && json_object_is_type(o, json_type_object)) {
            jget_str(o, "error", &e);
            if (jget_str(o, "error_description", &desc) != 0)
                jget_str(o, "message", &desc);
        }
        if (e != NULL && desc != NULL)
            raw = xasprintf("%s: %s", e, desc);
        else if (e != NULL || desc != NULL)
            raw = xstrdup(e != NULL ? e : desc);
        if (raw != NULL) {
            len = strlen(raw);
        } else {
            raw = xstrndup(resp->body, resp->body_len);
            len = resp->body_len;
        }
    } else if (resp->error != NULL) {
        raw = xstrdup(resp->error);
        len = strlen(raw);
    } else {
        raw = xstrdup("");
    }
    /* Redact the whole text first: a cut could split a secret. */
    clean = redact(sec, raw, len, &clean_len);
    if (clean_len > RAW_MAX)
        clean_len = RAW_MAX;
    str_escape(clean, clean_len, out,
               outlen < MESSAGE_MAX ? outlen : MESSAGE_MAX);
    redact_escaped(sec, out, outlen < MESSAGE_MAX ? outlen : MESSAGE_MAX);
    if (o != NULL)
        json_object_put(o);
    explicit_bzero(raw, len);
    free(raw);
    free(clean);
}

/* The value of header name for a reason: redacted, escaped and short (an
 * untrusted string, STYLE.md 29); def when the header is absent. */
static void
header_text(const struct syncapi_secrets *sec, const struct http_response *resp,
            const char *name, const char *def, char *out, size_t outlen)
{
    const char *v = http_response_header(resp, name);
    char *clean;
    size_t len;

    if (v == NULL) {
        snprintf(out, outlen, "%s", def);
        return;
    }
    clean = redact(sec, v, strlen(v), &len);
    str_escape(clean, len, out, outlen);
    redact_escaped(sec, out, outlen);
    free(clean);
}

int64_t
syncapi_retry_after_ms(const struct http_response *resp)
{
    const char *v = http_response_header(resp, "Retry-After");
    int64_t s;

    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (parse_i64n(v, strcspn(v, " \t\r\n"), 0, 7 * 86400, &s) != 0)
        return -1;
    return s * 1000;
}

/* 429: Retry-After, else X-Ratelimit's "until", else 1 s. */
static int64_t
rate_wait_ms(const struct http_response *resp)
{
    const char *v = http_response_header(resp, "X-Ratelimit");
    struct json_object *o = NULL;
    const char *until;
    int64_t ms = syncapi_retry_after_ms(resp), t;
    char perr[64];

    if (ms > 0)
        return ms;
    if (v != NULL)
        o = jsonu_parse(v, strlen(v), 4, perr, sizeof(perr));
    if (o != NULL && jget_str(o, "until", &until) == 0 &&
        wr_time_parse(until, &t) == 0 && t > wr_now())
        ms = (t - wr_now()) * 1000;
    if (o != NULL)
        json_object_put(o);
    return ms > 0 ? ms : 1000;
}

static void
set_all(struct adapter_result *r, size_t n, enum adapter_outcome out,
        int64_t ms, const char *reason)
{
    for (size_t i = 0; i < n; i++) {
        r[i].outcome = out;
        r[i].retry_after_ms = ms;
        snprintf(r[i].reason, sizeof(r[i].reason), "%s", reason);
    }
}

/* The sum of the counts in obj[key] (numbers, or arrays of echoed items). */
static int64_t
counts(struct json_object *root, const char *key)
{
    static const char *const cats[] = {"movies", "shows", "seasons",
                                       "episodes"};
    struct json_object *o, *v;
    int64_t sum = 0, x;

    if (jget_obj(root, key, &o) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++) {
        if (jget_i64(o, cats[i], &x) == 0 && x > 0 && x < INT32_MAX)
            sum += x;
        else if (jget_arr(o, cats[i], &v) == 0)
            sum += (int64_t)json_object_array_length(v);
    }
    return sum;
}

static bool
has_number(struct json_object *arr, int number)
{
    int64_t x;

    for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
        if (jget_i64(json_object_array_get_idx(arr, i), "number", &x) == 0 &&
            x == number)
            return true;
    return false;
}

/* Whether a not_found.shows entry covers this grouped season/episode. */
static bool
show_entry_covers(struct json_object *entry, const struct item *it)
{
    struct json_object *seasons, *eps;
    int64_t x;

    if (jget_arr(entry, "seasons", &seasons) != 0)
        return true; /* the whole show is unknown */
    for (size_t i = 0; i < json_object_array_length(seasons); i++) {
        struct json_object *s = json_object_array_get_idx(seasons, i);

        if (jget_i64(s, "number", &x) != 0 || x != it->season)
            continue;
        if (it->type == ITEM_SEASON || jget_arr(s, "episodes", &eps) != 0)
            return true;
        if (has_number(eps, it->episode))
            return true;
    }
    return false;
}

static void
match_not_found(const struct syncapi_dialect *d, const char *cat,
                struct json_object *entry, const struct op *const *ops,
                size_t n, const bool *skip, bool *hit)
{
    struct json_object *jids;

    if (jget_obj(entry, "ids", &jids) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct item *it = &ops[i]->item;
        bool grouped = syncapi_grouped(d, it);

        if ((skip && skip[i]) || hit[i])
            continue;
        if (strcmp(cat, "movies") == 0)
            hit[i] =
                it->type == ITEM_MOVIE && syncapi_ids_match(jids, &it->ids);
        else if (strcmp(cat, "seasons") == 0)
            hit[i] = it->type == ITEM_SEASON && !grouped &&
                     syncapi_ids_match(jids, &it->ids);
        else if (strcmp(cat, "episodes") == 0)
            hit[i] = it->type == ITEM_EPISODE && !grouped &&
                     syncapi_ids_match(jids, &it->ids);
        else if (it->type == ITEM_SHOW)
            hit[i] = syncapi_ids_match(jids, &it->ids);
        else if (grouped)
            hit[i] = syncapi_ids_match(jids, &it->show_ids) &&
                     show_entry_covers(entry, it);
    }
}

static void
attribute(const struct syncapi_dialect *d, const struct op *const *ops,
          size_t n, const bool *skip, const struct http_response *resp,
          struct adapter_result *results)
{
    static const char *const cats[] = {"movies", "shows", "seasons",
                                       "episodes"};
    bool remove = syncapi_is_remove(ops[0]->kind);
    struct json_object *root = NULL, *nf, *arr;
    bool *hit = xcalloc(n, sizeof(bool));
    size_t n_sent = 0, n_hit = 0;
    int64_t reported = 0;
    char perr[64], what[200];

    if (resp->body != NULL && resp->body_len > 0)
        root = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                           sizeof(perr));
    if (root != NULL && !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        root = NULL;
    }
    if (root != NULL && jget_obj(root, "not_found", &nf) == 0) {
        for (size_t c = 0; c < sizeof(cats) / sizeof(cats[0]); c++) {
            if (jget_arr(nf, cats[c], &arr) != 0)
                continue;
            for (size_t j = 0; j < json_object_array_length(arr); j++)
                match_not_found(d, cats[c], json_object_array_get_idx(arr, j),
                                ops, n, skip, hit);
        }
    }
    if (root != NULL)
        reported = remove ? counts(root, "deleted")
                          : counts(root, "added") + counts(root, "existing") +
                                counts(root, "updated");
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        n_sent++;
        if (hit[i])
            n_hit++;
    }
    for (size_t i = 0; i < n; i++) {
        struct adapter_result *r = &results[i];

        if (skip && skip[i])
            continue;
        if (hit[i]) {
            syncapi_describe(ops[i], what, sizeof(what));
            r->outcome = remove ? ADAPTER_DONE : ADAPTER_PERMANENT;
            snprintf(r->reason, sizeof(r->reason),
                     remove ? "nothing to remove: %s does not list %s"
                            : "not_found: %s does not know %s",
                     d->label, what);
        } else if (!remove && reported + (int64_t)n_hit < (int64_t)n_sent) {
            snprintf(r->reason, sizeof(r->reason),
                     "unconfirmed: %s confirmed %lld of %zu items", d->label,
                     (long long)reported, n_sent - n_hit);
        }
    }
    if (root != NULL)
        json_object_put(root);
    free(hit);
}

void
syncapi_classify(const struct syncapi_dialect *d,
                 const struct syncapi_secrets *sec, bool can_refresh,
                 const struct op *const *ops, size_t n, const bool *skip,
                 const struct http_response *resp,
                 struct adapter_result *results)
{
    long st = resp->status;
    enum op_kind kind;
    char msg[MESSAGE_MAX], reason[256], what[200], h[32], h2[32];
    int64_t ms;

    set_all(results, n, ADAPTER_DONE, 0, "");
    if (n == 0)
        return;
    kind = ops[0]->kind;
    if (st == 0 || st >= 500 || st == 408) {
        /* Transport failure (timeout, refused), 5xx, 520-522. */
        syncapi_reply_message(sec, resp, msg, sizeof(msg));
        ms = syncapi_retry_after_ms(resp);
        if (ms < 0)
            ms = (st >= 502 && st <= 504) ? d->gateway_retry_ms : 0;
        if (st == 0)
            snprintf(reason, sizeof(reason), "transport: %s", msg);
        else
            snprintf(reason, sizeof(reason), "http %ld: %s", st, msg);
        set_all(results, n, ADAPTER_RETRY, ms, reason);
        return;
    }
    if ((st >= 200 && st < 300) || st == 304) {
        if (!syncapi_is_scrobble(kind))
            attribute(d, ops, n, skip, resp, results);
        return;
    }
    if (st == 409) /* already done (a scrobble just sent, a duplicate) */
        return;
    if (st == 404) {
        for (size_t i = 0; i < n && !syncapi_is_remove(kind); i++) {
            syncapi_describe(ops[i], what, sizeof(what));
            results[i].outcome = ADAPTER_PERMANENT;
            snprintf(results[i].reason, sizeof(results[i].reason),
                     "not_found: %s does not know %s", d->label, what);
        }
        return;
    }
    if (st == 429) {
        set_all(results, n, ADAPTER_RATE, rate_wait_ms(resp), "rate limited");
        return;
    }
    if (st == 401) {
        if (can_refresh) {
            set_all(results, n, ADAPTER_REFRESH, 0, "token rejected (401)");
        } else {
            snprintf(reason, sizeof(reason),
                     "auth_failed: run watchrelay auth %s (%s rejected the "
                     "token)",
                     d->name, d->label);
            set_all(results, n, ADAPTER_PAUSE, 0, reason);
        }
        return;
    }
    syncapi_reply_message(sec, resp, msg, sizeof(msg));
    if (st == 403) {
        snprintf(reason, sizeof(reason),
                 "forbidden: %s refused the API key or the app (403): %s",
                 d->label, msg);
        set_all(results, n, ADAPTER_PAUSE, 0, reason);
    } else if (st == 423) {
        header_text(sec, resp, "X-Account-Locked", "?", h, sizeof(h));
        header_text(sec, resp, "X-Account-Deactivated", "?", h2, sizeof(h2));
        snprintf(reason, sizeof(reason),
                 "account_locked: the %s account is locked or deactivated "
                 "(423; locked=%s, deactivated=%s)",
                 d->label, h, h2);
        set_all(results, n, ADAPTER_PAUSE, 0, reason);
    } else if (st == 412 && d->pause_on_412) {
        snprintf(reason, sizeof(reason),
                 "client_id_failed: %s refused the client_id or the app's "
                 "request limit is exhausted (412): %s",
                 d->label, msg);
        set_all(results, n, ADAPTER_PAUSE, 0, reason);
    } else if (st == 400 || st == 422 || st == 412) {
        snprintf(reason, sizeof(reason), "invalid: %s", msg);
        set_all(results, n, ADAPTER_PERMANENT, 0, reason);
    } else if (st == 420) {
        header_text(sec, resp, "X-Account-Limit", "unknown", h, sizeof(h));
        snprintf(reason, sizeof(reason),
                 "account_limit: %s account limit reached "
                 "(X-Account-Limit: %s); upgrade or remove items",
                 d->label, h);
        set_all(results, n, ADAPTER_PERMANENT, 0, reason);
    } else if (st == 426) {
        snprintf(reason, sizeof(reason),
                 "vip_only: %s requires a VIP account for this (426)",
                 d->label);
        set_all(results, n, ADAPTER_PERMANENT, 0, reason);
    } else {
        snprintf(reason, sizeof(reason), "http %ld: %s", st, msg);
        set_all(results, n, ADAPTER_PERMANENT, 0, reason);
    }
}

bool *
syncapi_prepare(const struct op *const *ops, size_t n, unsigned batch_kinds,
                syncapi_check_cb check, char *err, size_t errlen)
{
    bool *skip;
    char why[256];
    size_t usable = 0;

    if (n == 0) {
        snprintf(err, errlen, "no operation to send");
        return NULL;
    }
    for (size_t i = 1; i < n; i++) {
        if (ops[i]->kind != ops[0]->kind) {
            snprintf(err, errlen, "a batch holds one kind of operation");
            return NULL;
        }
    }
    if (n > 1 && (batch_kinds & OP_BIT(ops[0]->kind)) == 0) {
        snprintf(err, errlen, "%s operations are sent one at a time",
                 op_kind_name(ops[0]->kind));
        return NULL;
    }
    skip = xcalloc(n, sizeof(bool));
    err[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (check(ops[i], why, sizeof(why)) == 0) {
            usable++;
        } else {
            skip[i] = true;
            if (err[0] == '\0')
                snprintf(err, errlen, "%s", why);
        }
    }
    if (usable == 0) {
        free(skip);
        return NULL;
    }
    err[0] = '\0';
    return skip;
}

void
syncapi_classify_ops(const struct syncapi_dialect *d,
                     const struct syncapi_secrets *sec, bool can_refresh,
                     syncapi_check_cb check, const struct op *const *ops,
                     size_t n, const struct http_response *resp,
                     struct adapter_result *results)
{
    bool *skip = n > 0 ? xcalloc(n, sizeof(bool)) : NULL;
    char why[256];

    for (size_t i = 0; i < n; i++)
        skip[i] = check(ops[i], why, sizeof(why)) != 0;
    syncapi_classify(d, sec, can_refresh, ops, n, skip, resp, results);
    for (size_t i = 0; i < n; i++) {
        if (!skip[i])
            continue;
        check(ops[i], why, sizeof(why));
        results[i].outcome = ADAPTER_PERMANENT;
        results[i].retry_after_ms = 0;
        snprintf(results[i].reason, sizeof(results[i].reason), "%s", why);
    }
    free(skip);
}

bool
syncapi_token_ok(const char *s)
{
    size_t n = 0;

    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++, n++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || n > 4096)
            return false;
    return true;
}

char *
syncapi_url_dup(const char *s, const char *def)
{
    const char *v = (s != NULL && *s) ? s : def;
    size_t len = strlen(v);

    while (len > 0 && v[len - 1] == '/')
        len--;
    return xstrndup(v, len);
}

char *
syncapi_opt_dup(const char *s)
{
    return (s != NULL && *s) ? xstrdup(s) : NULL;
}

/* ---- reads ------------------------------------------------------------ */

const char *
syncapi_read_what(enum adapter_feature f)
{
    switch (f) {
    case ADAPTER_HISTORY:
        return "history read";
    case ADAPTER_WATCHLIST:
        return "watchlist read";
    case ADAPTER_RATINGS:
        return "ratings read";
    default:
        return "read";
    }
}

void
syncapi_entry_init(struct adapter_entry *e)
{
    memset(e, 0, sizeof(*e));
    item_init(&e->item);
    e->progress = -1;
    e->position = -1;
}

void
syncapi_page_push(struct adapter_page *p, struct adapter_entry *e)
{
    /* Capacity is the next power of two at or above n. */
    if (p->n == 0 || (p->n & (p->n - 1)) == 0)
        p->rows = xrealloc(p->rows, (p->n ? p->n * 2 : 16) * sizeof(*p->rows));
    p->rows[p->n++] = *e;
    syncapi_entry_init(e);
}

void
syncapi_ids_read(struct item_ids *ids, struct json_object *jids)
{
    if (jids == NULL || !json_object_is_type(jids, json_type_object))
        return;
    json_object_object_foreach (jids, key, val) {
        int id = item_id_from_name(key);
        const char *raw = NULL;
        char num[32];

        if (id < 0 || id == ITEM_ID_PLEX || id == ITEM_ID_JELLYFIN ||
            id == ITEM_ID_EMBY || id == ITEM_ID_GUID)
            continue;
        if (json_object_is_type(val, json_type_int)) {
            snprintf(num, sizeof(num), "%lld",
                     (long long)json_object_get_int64(val));
            raw = num;
        } else if (json_object_is_type(val, json_type_double)) {
            double x = json_object_get_double(val);

            if (x >= 1 && x < 9e15 && x == floor(x)) {
                snprintf(num, sizeof(num), "%lld", (long long)x);
                raw = num;
            }
        } else if (json_object_is_type(val, json_type_string)) {
            raw = json_object_get_string(val);
        }
        if (raw != NULL)
            item_ids_set(ids, (enum item_id)id, raw);
    }
}

/* o[key] as a whole number in [min, max], else def. */
static int
get_int(struct json_object *o, const char *key, int min, int max, int def)
{
    int64_t x;

    if (o == NULL || jget_i64_lenient(o, key, &x) != 0 || x < min || x > max)
        return def;
    return (int)x;
}

/* Title, year and ids of a media object. */
static void
media_read(struct json_object *media, char **title, int *year,
           struct item_ids *ids)
{
    struct json_object *jids;
    const char *s;

    if (media == NULL || !json_object_is_type(media, json_type_object))
        return;
    if (jget_str(media, "title", &s) == 0 && *s != '\0') {
        free(*title);
        *title = xstrdup(s);
    }
    *year = get_int(media, "year", 1, 9999, *year);
    if (jget_obj(media, "ids", &jids) == 0)
        syncapi_ids_read(ids, jids);
}

void
syncapi_media_item(struct json_object *media, enum item_type t, struct item *it)
{
    item_init(it);
    it->type = t;
    media_read(media, &it->title, &it->year, &it->ids);
}

static enum item_type
row_type(struct json_object *row)
{
    static const char *const keys[] = {"episode", "season", "movie", "show"};
    static const enum item_type types[] = {ITEM_EPISODE, ITEM_SEASON,
                                           ITEM_MOVIE, ITEM_SHOW};
    struct json_object *o;
    const char *s;
    enum item_type t;

    if (jget_str(row, "type", &s) == 0) {
        t = item_type_from_name(s);
        return jget_obj(row, s, &o) == 0 ? t : ITEM_NONE;
    }
    /* No type: the most specific object present. */
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (jget_obj(row, keys[i], &o) == 0)
            return types[i];
    return ITEM_NONE;
}

int
syncapi_row_item(struct json_object *row, struct item *it)
{
    struct json_object *o = NULL, *show = NULL;
    enum item_type t;

    item_init(it);
    if (row == NULL || !json_object_is_type(row, json_type_object))
        return -1;
    t = row_type(row);
    switch (t) {
    case ITEM_MOVIE:
    case ITEM_SHOW:
        jget_obj(row, t == ITEM_MOVIE ? "movie" : "show", &o);
        syncapi_media_item(o, t, it);
        return 0;
    case ITEM_SEASON:
    case ITEM_EPISODE:
        jget_obj(row, t == ITEM_SEASON ? "season" : "episode", &o);
        syncapi_media_item(o, t, it);
        if (t == ITEM_SEASON) {
            it->season = get_int(o, "number", 0, 1000000, -1);
        } else {
            it->season = get_int(o, "season", 0, 1000000, -1);
            it->episode = get_int(o, "number", 0, 1000000, -1);
        }
        if (jget_obj(row, "show", &show) == 0)
            media_read(show, &it->show_title, &it->show_year, &it->show_ids);
        return 0;
    default:
        return -1;
    }
}

int64_t
syncapi_row_time(struct json_object *o, const char *key)
{
    const char *s;
    int64_t t;

    if (o == NULL || jget_str(o, key, &s) != 0 || wr_time_parse(s, &t) != 0)
        return 0;
    /* SIMKL writes 1970-01-01T00:00:01Z for "don't remember when". */
    return t > 1 ? t : 0;
}

void
syncapi_time_max(struct json_object *o, const char *bucket, const char *key,
                 int64_t *max)
{
    struct json_object *b;
    int64_t t;

    if (o == NULL || jget_obj(o, bucket, &b) != 0)
        return;
    t = syncapi_row_time(b, key);
    if (t > *max)
        *max = t;
}

int
syncapi_row_rating(struct json_object *o, const char *key, int *out)
{
    int64_t x;

    if (o == NULL || jget_i64_lenient(o, key, &x) != 0 || x < 1 || x > 10)
        return -1;
    *out = (int)x;
    return 0;
}

int
syncapi_read_status(const struct syncapi_dialect *d,
                    const struct syncapi_secrets *sec,
                    const struct http_response *resp, const char *what,
                    char *err, size_t errlen)
{
    char msg[MESSAGE_MAX];

    if (resp->status >= 200 && resp->status < 300)
        return 0;
    syncapi_reply_message(sec, resp, msg, sizeof(msg));
    if (resp->status == 0)
        snprintf(err, errlen, "%s %s failed: transport: %s", d->label, what,
                 msg);
    else if (resp->status == 401 || resp->status == 403)
        snprintf(err, errlen, "%s %s: unauthorized (http %ld): %s", d->label,
                 what, resp->status, msg);
    else
        snprintf(err, errlen, "%s %s failed: http %ld: %s", d->label, what,
                 resp->status, msg);
    return -1;
}

struct json_object *
syncapi_read_json(const struct syncapi_dialect *d,
                  const struct http_response *resp, const char *what, char *err,
                  size_t errlen)
{
    struct json_object *o = NULL;
    char perr[128] = "empty body";

    if (resp->body != NULL && resp->body_len > 0)
        o = jsonu_parse(resp->body, resp->body_len, JSONU_DEPTH, perr,
                        sizeof(perr));
    if (o == NULL)
        snprintf(err, errlen, "%s %s: malformed JSON: %s", d->label, what,
                 perr);
    return o;
}

bool
syncapi_body_is_null(const struct http_response *resp)
{
    const char *s = resp->body;
    size_t len = resp->body_len;

    if (s == NULL)
        return false;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n' ||
                       s[len - 1] == '\r' || s[len - 1] == '\t'))
        len--;
    while (len > 0 && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        len--;
    }
    return len == 4 && memcmp(s, "null", 4) == 0;
}
