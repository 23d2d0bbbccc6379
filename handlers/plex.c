/*
 * Plex Media Server webhooks (PROVIDERS.md A1): multipart/form-data whose
 * "payload" part holds the JSON event; an optional "thumb" part carries a
 * JPEG and is ignored. Mapping per SYNC.md 2.3, session key per SYNC.md 3.1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "jsonu.h"
#include "multipart.h"
#include "util.h"

#define PLEX_JSON_DEPTH 16
#define PLEX_STR_CAP    1024 /* titles, names, ids copied from the payload */
#define PLEX_GUIDS_MAX  32   /* Metadata.Guid entries looked at */
#define PLEX_NUM_MAX    1000000

struct plex_map {
    const char *event;
    enum event_kind kind;
    enum event_action action;
};

static const struct plex_map plex_events[] = {
    {"media.play", EVENT_SCROBBLE, EVENT_START},
    {"media.resume", EVENT_SCROBBLE, EVENT_RESUME},
    {"media.pause", EVENT_SCROBBLE, EVENT_PAUSE},
    {"media.stop", EVENT_SCROBBLE, EVENT_STOP},
    {"media.scrobble", EVENT_SCROBBLE, EVENT_WATCHED},
    {"media.rate", EVENT_RATING, EVENT_SET}, /* or clear, by value */
};

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

/* Show ids from a parent/grandparent guid (plex://show/…, or a legacy
 * agent guid naming the show). */
static void
plex_show_guid(struct item *it, struct json_object *md, const char *key)
{
    const char *g;
    struct item show;

    if (jget_str(md, key, &g) != 0)
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

static void
plex_item(struct item *it, struct json_object *md, enum item_type t)
{
    struct json_object *guids;
    const char *s;
    char *key;
    int64_t v;

    it->type = t;
    it->title = opt_str(md, "title");
    if (opt_num(md, "year", 1, 9999, &v) == 0)
        it->year = (int)v;
    /* Keys are case-sensitive: "guid" is a string, "Guid" an array. */
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
    key = opt_id(md, "ratingKey");
    if (key != NULL)
        item_ids_set(&it->ids, ITEM_ID_PLEX, key);
    free(key);
    if (t == ITEM_EPISODE) {
        it->show_title = opt_str(md, "grandparentTitle");
        if (opt_num(md, "parentIndex", 0, PLEX_NUM_MAX, &v) == 0)
            it->season = (int)v;
        if (opt_num(md, "index", 0, PLEX_NUM_MAX, &v) == 0)
            it->episode = (int)v;
        plex_show_guid(it, md, "grandparentGuid");
    } else if (t == ITEM_SEASON) {
        it->show_title = opt_str(md, "parentTitle");
        if (opt_num(md, "index", 0, PLEX_NUM_MAX, &v) == 0)
            it->season = (int)v;
        plex_show_guid(it, md, "parentGuid");
    }
}

static enum item_type
plex_type(const char *type)
{
    if (strcmp(type, "movie") == 0)
        return ITEM_MOVIE;
    if (strcmp(type, "episode") == 0)
        return ITEM_EPISODE;
    if (strcmp(type, "show") == 0)
        return ITEM_SHOW;
    if (strcmp(type, "season") == 0)
        return ITEM_SEASON;
    return ITEM_NONE;
}

static bool
plex_is_music(const char *type)
{
    return strcmp(type, "track") == 0 || strcmp(type, "album") == 0 ||
           strcmp(type, "artist") == 0;
}

/* Server.uuid:Player.uuid:ratingKey:Account.id (SYNC.md 3.1). */
static char *
plex_session(struct json_object *root, struct json_object *md)
{
    struct json_object *server = NULL, *player = NULL, *account = NULL;
    char *parts[4];
    char *s = NULL;

    jget_obj(root, "Server", &server);
    jget_obj(root, "Player", &player);
    jget_obj(root, "Account", &account);
    parts[0] = opt_str(server, "uuid");
    parts[1] = opt_str(player, "uuid");
    parts[2] = opt_id(md, "ratingKey");
    parts[3] = opt_id(account, "id");
    if (parts[0] != NULL || parts[1] != NULL || parts[2] != NULL ||
        parts[3] != NULL)
        s = xasprintf("%s:%s:%s:%s", parts[0] ? parts[0] : "",
                      parts[1] ? parts[1] : "", parts[2] ? parts[2] : "",
                      parts[3] ? parts[3] : "");
    for (int i = 0; i < 4; i++)
        free(parts[i]);
    return s;
}

static void
plex_fill(struct event *ev, const struct plex_map *map,
          const struct hook_request *req, struct json_object *root,
          struct json_object *md)
{
    struct json_object *account = NULL, *server = NULL;
    int64_t v;
    double r;

    ev->source = xstrdup("plex");
    ev->kind = map->kind;
    ev->action = map->action;
    ev->received_at = req->now;
    ev->source_ts = 0; /* Plex sends no event time */
    if (jget_obj(root, "Account", &account) == 0) {
        ev->user_name = opt_str(account, "title");
        ev->user_id = opt_id(account, "id");
    }
    if (jget_obj(root, "Server", &server) == 0)
        ev->server = opt_str(server, "uuid");
    if (map->kind == EVENT_SCROBBLE) {
        ev->session = plex_session(root, md);
        /* viewOffset is omitted at 0 or when unknown: leave it unknown. */
        if (opt_num(md, "viewOffset", 0, INT64_MAX, &v) == 0)
            ev->position_ms = v;
        if (opt_num(md, "duration", 1, INT64_MAX, &v) == 0)
            ev->duration_ms = v;
    } else {
        /* media.rate: the top-level rating; absent or <= 0 clears. */
        ev->rating = 0;
        if (jget_num(root, "rating", &r) == 0)
            ev->rating = rating_canonical(r);
        ev->action = ev->rating > 0 ? EVENT_SET : EVENT_CLEAR;
        if (opt_num(md, "lastRatedAt", 1, INT64_MAX, &v) == 0)
            ev->source_ts = v;
    }
}

static int
plex_parse(const struct hook_request *req, struct event_list *out, char *err,
           size_t errlen)
{
    struct multipart mp;
    const struct multipart_part *part;
    struct json_object *root = NULL, *md = NULL;
    const struct plex_map *map = NULL;
    struct event *ev;
    struct item it;
    const char *name, *type;
    char boundary[80], why[200], esc[80];
    enum item_type t;
    int rc = -1;

    memset(&mp, 0, sizeof(mp));
    item_init(&it);
    if (req->content_type == NULL ||
        multipart_boundary(req->content_type, boundary, sizeof(boundary)) !=
            0) {
        snprintf(err, errlen,
                 "Plex webhooks must be multipart/form-data with a boundary");
        goto done;
    }
    if (multipart_parse(req->body, req->len, boundary, &mp, why, sizeof(why)) !=
        0) {
        snprintf(err, errlen, "bad multipart body: %s", why);
        goto done;
    }
    part = multipart_find(&mp, "payload");
    if (part == NULL) {
        snprintf(err, errlen, "multipart body has no payload part");
        goto done;
    }
    root =
        jsonu_parse(part->data, part->len, PLEX_JSON_DEPTH, why, sizeof(why));
    if (root == NULL) {
        snprintf(err, errlen, "payload part is not valid JSON (%s)", why);
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "payload part is not a JSON object");
        goto done;
    }
    if (jget_str(root, "event", &name) != 0) {
        snprintf(err, errlen, "payload has no \"event\" string");
        goto done;
    }
    str_escape(name, strlen(name), esc, sizeof(esc));
    for (size_t i = 0; i < sizeof(plex_events) / sizeof(plex_events[0]); i++)
        if (strcmp(name, plex_events[i].event) == 0)
            map = &plex_events[i];
    if (map == NULL) {
        event_list_ignore(out, "Plex event %s ignored", esc);
        rc = 0;
        goto done;
    }
    if (jget_obj(root, "Metadata", &md) != 0) {
        snprintf(err, errlen, "Plex %s payload has no Metadata object", esc);
        goto done;
    }
    if (jget_str(md, "type", &type) != 0) {
        event_list_ignore(out, "Plex %s: item without a type ignored", esc);
        rc = 0;
        goto done;
    }
    t = plex_type(type);
    if (t == ITEM_NONE ||
        (map->kind == EVENT_SCROBBLE && t != ITEM_MOVIE && t != ITEM_EPISODE)) {
        char tesc[48];

        str_escape(type, strlen(type), tesc, sizeof(tesc));
        if (plex_is_music(type))
            event_list_ignore(out, "Plex %s: music (%s) ignored", esc, tesc);
        else if (t != ITEM_NONE)
            event_list_ignore(out, "Plex %s: a %s does not scrobble", esc,
                              tesc);
        else
            event_list_ignore(out, "Plex %s: %s items ignored", esc, tesc);
        rc = 0;
        goto done;
    }
    plex_item(&it, md, t);
    ev = event_list_push(out);
    plex_fill(ev, map, req, root, md);
    item_release(&ev->item);
    ev->item = it; /* taken */
    item_init(&it);
    event_finish(ev);
    rc = 0;
done:
    item_release(&it);
    json_object_put(root);
    multipart_release(&mp);
    return rc;
}

const struct handler_def handler_plex = {
    .name = "plex",
    .parse = plex_parse,
};
