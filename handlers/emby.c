/*
 * Emby Server webhooks (PROVIDERS.md A3): the JSON event as the raw body
 * (application/json), as the "data" field of multipart/form-data, or as
 * data=... in application/x-www-form-urlencoded. Mapping per SYNC.md 2.3,
 * session key per SYNC.md 3.1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "jsonu.h"
#include "multipart.h"
#include "util.h"

#define EMBY_JSON_DEPTH 16
#define EMBY_STR_CAP    1024 /* titles, names, ids copied from the payload */
#define EMBY_IDS_MAX    64   /* ProviderIds entries looked at */
#define EMBY_NUM_MAX    1000000
#define EMBY_TICKS_MS   10000 /* .NET ticks per millisecond */

enum emby_op {
    EMBY_SCROBBLE,
    EMBY_HISTORY,
    EMBY_RATE,
    EMBY_TEST,
};

struct emby_map {
    const char *event;
    enum emby_op op;
    enum event_kind kind;
    enum event_action action;
};

static const struct emby_map emby_events[] = {
    {"playback.start", EMBY_SCROBBLE, EVENT_SCROBBLE, EVENT_START},
    {"playback.unpause", EMBY_SCROBBLE, EVENT_SCROBBLE, EVENT_RESUME},
    {"playback.pause", EMBY_SCROBBLE, EVENT_SCROBBLE, EVENT_PAUSE},
    {"playback.stop", EMBY_SCROBBLE, EVENT_SCROBBLE, EVENT_STOP},
    {"item.markplayed", EMBY_HISTORY, EVENT_HISTORY, EVENT_ADD},
    {"item.markunplayed", EMBY_HISTORY, EVENT_HISTORY, EVENT_REMOVE},
    {"item.rate", EMBY_RATE, EVENT_RATING, EVENT_SET},
    {"system.notificationtest", EMBY_TEST, EVENT_SCROBBLE, EVENT_START},
};

/* A copy of s cut to at most EMBY_STR_CAP bytes on a UTF-8 boundary. */
static char *
cap_dup(const char *s)
{
    size_t n = strlen(s);

    if (n > EMBY_STR_CAP) {
        n = EMBY_STR_CAP;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return xstrndup(s, n);
}

static char *
opt_str(struct json_object *o, const char *key)
{
    const char *s;

    if (o == NULL || jget_str(o, key, &s) != 0 || *s == '\0')
        return NULL;
    return cap_dup(s);
}

/* A string member, or an integer one as decimal. */
static char *
opt_id(struct json_object *o, const char *key)
{
    int64_t v;

    if (o == NULL)
        return NULL;
    if (jget_i64(o, key, &v) == 0)
        return xasprintf("%" PRId64, v);
    return opt_str(o, key);
}

static int
opt_num(struct json_object *o, const char *key, int64_t min, int64_t max,
        int64_t *out)
{
    int64_t v;

    if (o == NULL || jget_i64(o, key, &v) != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The media type of a Content-Type value ("a/b; x=y") equals want. */
static bool
media_type_is(const char *ct, const char *want)
{
    size_t s = 0, e, n = strlen(want);

    while (ct[s] == ' ' || ct[s] == '\t')
        s++;
    e = s;
    while (ct[e] != '\0' && ct[e] != ';')
        e++;
    while (e > s && (ct[e - 1] == ' ' || ct[e - 1] == '\t'))
        e--;
    if (e - s != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = ct[s + i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != want[i])
            return false;
    }
    return true;
}

/*
 * The boundary of a multipart body that came without a Content-Type: its
 * first line, "--BOUNDARY". 0 or -1.
 */
static int
sniff_boundary(const char *body, size_t len, char *out, size_t outlen)
{
    size_t e = 2;

    if (len < 3 || body[0] != '-' || body[1] != '-')
        return -1;
    while (e < len && body[e] != '\r' && body[e] != '\n')
        e++;
    if (e - 2 == 0 || e - 2 > 70 || e - 2 + 1 > outlen)
        return -1;
    memcpy(out, body + 2, e - 2);
    out[e - 2] = '\0';
    return 0;
}

/*
 * Find the JSON text: *json and *jlen point into the body or into *owned
 * (free). 0, or -1 with a message in err.
 */
static int
emby_extract(const struct hook_request *req, const char **json, size_t *jlen,
             char **owned, char *err, size_t errlen)
{
    const char *ct = req->content_type;
    struct multipart mp;
    const struct multipart_part *part;
    char boundary[80], why[200];
    size_t i = 0;
    bool multi = false;

    *owned = NULL;
    while (i < req->len && is_blank(req->body[i]))
        i++;
    if (ct == NULL || *ct == '\0' ||
        !(media_type_is(ct, "application/json") ||
          media_type_is(ct, "multipart/form-data") ||
          media_type_is(ct, "application/x-www-form-urlencoded"))) {
        /* No (usable) Content-Type: sniff. */
        if (i == req->len || req->body[i] == '{' || req->body[i] == '[') {
            *json = req->body;
            *jlen = req->len;
            return 0;
        }
        if (sniff_boundary(req->body + i, req->len - i, boundary,
                           sizeof(boundary)) == 0) {
            multi = true;
        } else if (req->len - i >= 5 &&
                   memcmp(req->body + i, "data=", 5) == 0) {
            ct = "application/x-www-form-urlencoded";
        } else {
            snprintf(err, errlen,
                     "body is neither JSON, multipart nor "
                     "form data");
            return -1;
        }
    }
    if (!multi && media_type_is(ct, "application/json")) {
        *json = req->body;
        *jlen = req->len;
        return 0;
    }
    if (!multi && media_type_is(ct, "application/x-www-form-urlencoded")) {
        *owned = form_urlencoded_get(req->body, req->len, "data", jlen);
        if (*owned == NULL) {
            if (i == req->len) {
                *json = req->body + i;
                *jlen = 0;
                return 0; /* empty body: the old test notification */
            }
            snprintf(err, errlen, "form body has no data field");
            return -1;
        }
        *json = *owned;
        return 0;
    }
    if (!multi) {
        if (i == req->len) {
            *json = req->body + i;
            *jlen = 0;
            return 0;
        }
        if (multipart_boundary(ct, boundary, sizeof(boundary)) != 0) {
            snprintf(err, errlen,
                     "multipart Content-Type has no usable "
                     "boundary");
            return -1;
        }
    }
    if (multipart_parse(req->body, req->len, boundary, &mp, why, sizeof(why)) !=
        0) {
        snprintf(err, errlen, "bad multipart body: %s", why);
        return -1;
    }
    part = multipart_find(&mp, "data");
    if (part == NULL) {
        multipart_release(&mp);
        snprintf(err, errlen, "multipart body has no data part");
        return -1;
    }
    *json = part->data; /* points into the body */
    *jlen = part->len;
    multipart_release(&mp);
    return 0;
}

static enum item_type
emby_type(const char *type)
{
    if (str_ieq(type, "Movie"))
        return ITEM_MOVIE;
    if (str_ieq(type, "Episode"))
        return ITEM_EPISODE;
    if (str_ieq(type, "Series"))
        return ITEM_SHOW;
    if (str_ieq(type, "Season"))
        return ITEM_SEASON;
    return ITEM_NONE;
}

/* ProviderIds: external ids only ("Imdb", "Tmdb", "Tvdb", … in any case);
 * names of our local ids (plex, emby, guid, …) are not taken from here. */
static void
emby_provider_ids(struct item_ids *ids, struct json_object *pids)
{
    int seen = 0;

    json_object_object_foreach (pids, name, val) {
        int id;
        char num[32];
        const char *raw = NULL;

        if (++seen > EMBY_IDS_MAX)
            break;
        id = item_id_from_name(name);
        if (id < 0 || id >= ITEM_ID_PLEX)
            continue;
        if (json_object_is_type(val, json_type_string)) {
            raw = json_object_get_string(val);
        } else if (json_object_is_type(val, json_type_int)) {
            snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(val));
            raw = num;
        }
        if (raw != NULL)
            item_ids_set(ids, (enum item_id)id, raw);
    }
}

static void
emby_item(struct item *it, struct json_object *obj, enum item_type t)
{
    struct json_object *pids;
    char *id;
    int64_t v;

    it->type = t;
    it->title = opt_str(obj, "Name");
    if (opt_num(obj, "ProductionYear", 1, 9999, &v) == 0)
        it->year = (int)v;
    if (jget_obj(obj, "ProviderIds", &pids) == 0)
        emby_provider_ids(&it->ids, pids);
    id = opt_id(obj, "Id");
    if (id != NULL)
        item_ids_set(&it->ids, ITEM_ID_EMBY, id);
    free(id);
    if (t == ITEM_EPISODE) {
        it->show_title = opt_str(obj, "SeriesName");
        if (opt_num(obj, "ParentIndexNumber", 0, EMBY_NUM_MAX, &v) == 0)
            it->season = (int)v;
        if (opt_num(obj, "IndexNumber", 0, EMBY_NUM_MAX, &v) == 0)
            it->episode = (int)v;
    } else if (t == ITEM_SEASON) {
        it->show_title = opt_str(obj, "SeriesName");
        if (opt_num(obj, "IndexNumber", 0, EMBY_NUM_MAX, &v) == 0)
            it->season = (int)v;
    }
}

/* Server.Id:(Session.Id or DeviceId):Item.Id:User.Id (SYNC.md 3.1). */
static char *
emby_session(const char *server, struct json_object *root,
             struct json_object *item, const char *user_id)
{
    struct json_object *sess = NULL;
    char *sid, *iid, *s = NULL;

    jget_obj(root, "Session", &sess);
    sid = opt_str(sess, "Id");
    if (sid == NULL)
        sid = opt_str(sess, "DeviceId");
    iid = opt_id(item, "Id");
    if (server != NULL || sid != NULL || iid != NULL || user_id != NULL)
        s = xasprintf("%s:%s:%s:%s", server ? server : "", sid ? sid : "",
                      iid ? iid : "", user_id ? user_id : "");
    free(sid);
    free(iid);
    return s;
}

static void
emby_fill(struct event *ev, const struct emby_map *map,
          const struct hook_request *req, struct json_object *root,
          struct json_object *item)
{
    struct json_object *user = NULL, *server = NULL, *pb = NULL;
    const char *date;
    int64_t v, ts = 0;
    bool b;

    ev->source = xstrdup("emby");
    ev->kind = map->kind;
    ev->action = map->action;
    ev->received_at = req->now;
    if (jget_str(root, "Date", &date) == 0 && wr_time_parse(date, &ts) == 0)
        ev->source_ts = ts;
    if (jget_obj(root, "User", &user) == 0) {
        ev->user_name = opt_str(user, "Name");
        ev->user_id = opt_id(user, "Id");
    }
    if (jget_obj(root, "Server", &server) == 0)
        ev->server = opt_str(server, "Id");
    if (ev->server == NULL)
        ev->server = opt_str(item, "ServerId");
    if (map->op == EMBY_SCROBBLE) {
        ev->session = emby_session(ev->server, root, item, ev->user_id);
        jget_obj(root, "PlaybackInfo", &pb);
        if (opt_num(pb, "PositionTicks", 0, INT64_MAX, &v) == 0)
            ev->position_ms = v / EMBY_TICKS_MS;
        if (opt_num(item, "RunTimeTicks", 1, INT64_MAX, &v) == 0 &&
            v / EMBY_TICKS_MS > 0)
            ev->duration_ms = v / EMBY_TICKS_MS;
        if (map->action == EVENT_STOP && pb != NULL &&
            jget_bool(pb, "PlayedToCompletion", &b) == 0)
            ev->completed = b ? 1 : 0;
    } else if (map->kind == EVENT_HISTORY && map->action == EVENT_ADD) {
        ev->watched_at = ts != 0 ? ts : req->now;
    }
}

/* item.rate: Item.UserData.Rating when the server sends it; 0 or -1. */
static int
emby_rating(struct json_object *item, int *out)
{
    struct json_object *ud;
    double r;

    if (jget_obj(item, "UserData", &ud) != 0 || jget_num(ud, "Rating", &r) != 0)
        return -1;
    *out = rating_canonical(r);
    return 0;
}

static int
emby_parse(const struct hook_request *req, struct event_list *out, char *err,
           size_t errlen)
{
    struct json_object *root = NULL, *obj = NULL;
    const struct emby_map *map = NULL;
    struct event *ev;
    struct item it;
    const char *json = NULL, *name, *type;
    char *owned = NULL;
    char why[200], esc[80], tesc[48];
    size_t jlen = 0, i = 0;
    enum item_type t;
    int rc = -1, rating = 0;

    item_init(&it);
    if (emby_extract(req, &json, &jlen, &owned, err, errlen) != 0)
        goto done;
    while (i < jlen && is_blank(json[i]))
        i++;
    if (i == jlen) {
        event_list_ignore(out, "empty body (Emby test notification)");
        rc = 0;
        goto done;
    }
    root = jsonu_parse(json, jlen, EMBY_JSON_DEPTH, why, sizeof(why));
    if (root == NULL) {
        snprintf(err, errlen, "Emby payload is not valid JSON (%s)", why);
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "Emby payload is not a JSON object");
        goto done;
    }
    if (jget_str(root, "Event", &name) != 0) {
        snprintf(err, errlen, "Emby payload has no \"Event\" string");
        goto done;
    }
    str_escape(name, strlen(name), esc, sizeof(esc));
    for (size_t k = 0; k < sizeof(emby_events) / sizeof(emby_events[0]); k++)
        if (str_ieq(name, emby_events[k].event))
            map = &emby_events[k];
    if (map == NULL) {
        event_list_ignore(out, "Emby event %s ignored", esc);
        rc = 0;
        goto done;
    }
    if (map->op == EMBY_TEST) {
        event_list_ignore(out, "Emby test notification");
        rc = 0;
        goto done;
    }
    if (jget_obj(root, "Item", &obj) != 0) {
        snprintf(err, errlen, "Emby %s payload has no Item object", esc);
        goto done;
    }
    if (jget_str(obj, "Type", &type) != 0)
        type = "";
    str_escape(type, strlen(type), tesc, sizeof(tesc));
    t = emby_type(type);
    if (t == ITEM_NONE) {
        event_list_ignore(out, "Emby %s: %s items ignored", esc,
                          *type ? tesc : "untyped");
        rc = 0;
        goto done;
    }
    if (map->op != EMBY_RATE && t != ITEM_MOVIE && t != ITEM_EPISODE) {
        event_list_ignore(out, "Emby %s: a %s is not scrobbled", esc, tesc);
        rc = 0;
        goto done;
    }
    if (map->op == EMBY_RATE && emby_rating(obj, &rating) != 0) {
        event_list_ignore(out, "Emby item.rate carries no rating value");
        rc = 0;
        goto done;
    }
    emby_item(&it, obj, t);
    ev = event_list_push(out);
    emby_fill(ev, map, req, root, obj);
    if (map->op == EMBY_RATE) {
        ev->rating = rating;
        ev->action = rating > 0 ? EVENT_SET : EVENT_CLEAR;
    }
    item_release(&ev->item);
    ev->item = it; /* taken */
    item_init(&it);
    event_finish(ev);
    rc = 0;
done:
    item_release(&it);
    json_object_put(root);
    free(owned);
    return rc;
}

const struct handler_def handler_emby = {
    .name = "emby",
    .parse = emby_parse,
};
