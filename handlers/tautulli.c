/*
 * tautulli: Tautulli's Webhook notification agent with the recommended JSON
 * Data template (PROVIDERS.md A4). Every substituted value is a JSON string.
 *
 * Parsing is strict. Tautulli json.loads()es the admin's template before it
 * substitutes the {placeholders} and hands the result to requests' json=,
 * so what it sends is always plain JSON (", " and ": " separators, non-ASCII
 * as \uXXXX); a template with a trailing comma never leaves Tautulli. A body
 * that is not strict JSON therefore did not come from Tautulli as documented
 * and is refused (400) rather than guessed at (fixture trailing-comma).
 * An unknown placeholder ({tmdb_id} instead of {themoviedb_id}) makes
 * Tautulli fall back to an empty body: that is acknowledged and ignored with
 * a reason that points at the template.
 *
 * Mapping (SYNC.md 2.3): action play / resume / pause / stop / watched ->
 * scrobble start / resume / pause / stop / watched; every other action
 * (buffer, error, created, intdown, test, ...) is ignored. Only movies and
 * episodes: Tautulli has no ratings, so shows and seasons carry nothing.
 *
 * Identity: for an episode Tautulli's imdb/themoviedb/thetvdb ids are the
 * SHOW's (from grandparent guids), so they go to show ids and the episode is
 * keyed "show:<id>#sNNeNN"; rating_key is ids.plex of the movie or episode.
 * The optional keys show_year and guid (a Plex GUID, applied as SYNC.md 1.3)
 * are read when a template carries them. The Plex-webhook-shaped body some
 * guides suggest ("event": "tautulli.play", Metadata{...}) is not supported.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "item.h"
#include "jsonu.h"
#include "util.h"

#define TT_SOURCE   "tautulli"
#define TT_TEXT_CAP 1024 /* longest title or name we keep, in bytes */
#define TT_NUM_MAX  1000000

static const struct {
    const char *name;
    enum event_action action;
} tt_actions[] = {
    {"play", EVENT_START}, {"resume", EVENT_RESUME},   {"pause", EVENT_PAUSE},
    {"stop", EVENT_STOP},  {"watched", EVENT_WATCHED},
};

static bool
is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The trimmed, non-empty string member key, else -1. A hand-written template
 * may leave a number unquoted: with num given, an integer member is
 * formatted into it (it must outlive the span).
 */
static int
get_span1(struct json_object *o, const char *key, const char **start,
          size_t *len, char num[32])
{
    const char *s, *e;
    int64_t v;

    if (jget_str(o, key, &s) != 0) {
        if (num == NULL || jget_i64(o, key, &v) != 0)
            return -1;
        snprintf(num, 32, "%" PRId64, v);
        s = num;
    }
    while (is_blank_char(*s))
        s++;
    e = s + strlen(s);
    while (e > s && is_blank_char(e[-1]))
        e--;
    if (e == s)
        return -1;
    *start = s;
    *len = (size_t)(e - s);
    return 0;
}

/* get_span1 on key, else on alias (when not NULL). */
static int
get_span(struct json_object *o, const char *key, const char *alias,
         const char **start, size_t *len, char num[32])
{
    if (get_span1(o, key, start, len, num) == 0)
        return 0;
    return alias != NULL ? get_span1(o, alias, start, len, num) : -1;
}

/* Owned trimmed copy capped at TT_TEXT_CAP on a UTF-8 boundary, or NULL. */
static char *
get_text(struct json_object *o, const char *key, const char *alias)
{
    const char *s;
    size_t n;
    char num[32];

    if (get_span(o, key, alias, &s, &n, num) != 0)
        return NULL;
    if (n > TT_TEXT_CAP) {
        n = TT_TEXT_CAP;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return xstrndup(s, n);
}

/* A whole number sent as a string ("87") or a number, within [min, max]. */
static int
get_int(struct json_object *o, const char *key, const char *alias, int64_t min,
        int64_t max, int64_t *out)
{
    int64_t v;
    double d;

    if (jget_i64_lenient(o, key, &v) != 0 &&
        (alias == NULL || jget_i64_lenient(o, alias, &v) != 0)) {
        /* A fractional JSON number ("87.5" unquoted): its whole part. */
        if (jget_num(o, key, &d) != 0 || !(d > -9.2e18 && d < 9.2e18))
            return -1;
        v = (int64_t)d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Store the id from key (or alias) into ids; empty values are dropped by
 * the normalization. */
static void
set_id(struct json_object *o, const char *key, const char *alias,
       struct item_ids *ids, enum item_id id)
{
    const char *s;
    size_t n;
    char num[32];
    char *v;

    if (get_span(o, key, alias, &s, &n, num) != 0)
        return;
    v = xstrndup(s, n);
    item_ids_set(ids, id, v);
    free(v);
}

static const char *
shown(const char *s, char *out, size_t outlen)
{
    return str_escape(s, strlen(s), out, outlen);
}

static void
tt_build_item(struct json_object *o, enum item_type type, struct item *it)
{
    struct item_ids *ext = type == ITEM_EPISODE ? &it->show_ids : &it->ids;
    const char *guid;
    int64_t v;

    it->type = type;
    it->title = get_text(o, "title", NULL);
    if (get_int(o, "year", NULL, 1, 9999, &v) == 0)
        it->year = (int)v;
    if (jget_str(o, "guid", &guid) == 0 && *guid != '\0')
        item_apply_guid(it, guid);
    set_id(o, "imdb_id", NULL, ext, ITEM_ID_IMDB);
    set_id(o, "tmdb_id", "themoviedb_id", ext, ITEM_ID_TMDB);
    set_id(o, "tvdb_id", "thetvdb_id", ext, ITEM_ID_TVDB);
    set_id(o, "rating_key", NULL, &it->ids, ITEM_ID_PLEX);
    if (type != ITEM_EPISODE)
        return;
    it->show_title = get_text(o, "show_name", NULL);
    if (get_int(o, "show_year", NULL, 1, 9999, &v) == 0)
        it->show_year = (int)v;
    if (get_int(o, "season", "season_num", 0, TT_NUM_MAX, &v) == 0)
        it->season = (int)v;
    if (get_int(o, "episode", "episode_num", 0, TT_NUM_MAX, &v) == 0)
        it->episode = (int)v;
}

/* server_id:session_key:rating_key:user_id (SYNC.md 3.1), or NULL without a
 * session key. */
static char *
tt_session(struct json_object *o, const char *server, const char *user_id)
{
    char *key = get_text(o, "session_key", NULL);
    char *rk = get_text(o, "rating_key", NULL);
    char *out = NULL;

    if (key != NULL)
        out = xasprintf("%s:%s:%s:%s", server ? server : "", key, rk ? rk : "",
                        user_id ? user_id : "");
    free(key);
    free(rk);
    return out;
}

static bool
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_blank_char(s[i]))
            return false;
    return true;
}

/* The body is nothing but the JSON literal null (an empty template). */
static bool
is_null_body(const char *s, size_t n)
{
    while (n > 0 && is_blank_char(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_blank_char(s[n - 1]))
        n--;
    return n == 4 && memcmp(s, "null", 4) == 0;
}

static int
tt_parse(const struct hook_request *req, struct event_list *out, char *err,
         size_t errlen)
{
    struct json_object *o = NULL;
    struct event *ev;
    const char *s;
    size_t n;
    char jerr[160], esc[80];
    char *action = NULL, *mtype = NULL;
    enum item_type type;
    int64_t v, pos = -1, dur = -1;
    int act = -1, rc = -1;

    if (req->body == NULL || is_blank(req->body, req->len) ||
        is_null_body(req->body, req->len)) {
        event_list_ignore(
            out, "empty Tautulli body: Tautulli sends an empty body when the "
                 "webhook's JSON Data template uses an unknown placeholder; "
                 "check the template placeholders (for example {tmdb_id} "
                 "does not exist, use {themoviedb_id}; {tvdb_id} -> "
                 "{thetvdb_id})");
        return 0;
    }
    o = jsonu_parse(req->body, req->len, JSONU_DEPTH, jerr, sizeof(jerr));
    if (o == NULL) {
        snprintf(err, errlen, "Tautulli body is not valid JSON (%s)", jerr);
        goto done;
    }
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "Tautulli body is not a JSON object");
        goto done;
    }
    if (get_span(o, "action", NULL, &s, &n, NULL) != 0) {
        if (json_object_object_get_ex(o, "event", NULL))
            snprintf(err, errlen,
                     "Tautulli body has no \"action\" (the Plex-shaped "
                     "\"event\" template is not supported; use the "
                     "recommended template)");
        else
            snprintf(err, errlen, "Tautulli body has no \"action\"");
        goto done;
    }
    action = xstrndup(s, n);
    rc = 0;
    for (size_t i = 0; i < sizeof(tt_actions) / sizeof(tt_actions[0]); i++)
        if (str_ieq(action, tt_actions[i].name))
            act = (int)tt_actions[i].action;
    if (act < 0) {
        event_list_ignore(out, "Tautulli action %s is not handled",
                          shown(action, esc, 40));
        goto done;
    }
    mtype = get_text(o, "media_type", NULL);
    if (mtype == NULL) {
        event_list_ignore(out,
                          "Tautulli %s without a media_type is ignored (add "
                          "\"media_type\": \"{media_type}\" to the template)",
                          action);
        goto done;
    }
    if (str_ieq(mtype, "movie")) {
        type = ITEM_MOVIE;
    } else if (str_ieq(mtype, "episode")) {
        type = ITEM_EPISODE;
    } else {
        event_list_ignore(out,
                          "Tautulli %s of media_type %s is ignored (only "
                          "movies and episodes scrobble)",
                          action, shown(mtype, esc, 40));
        goto done;
    }

    ev = event_list_push(out);
    ev->source = xstrdup(TT_SOURCE);
    ev->kind = EVENT_SCROBBLE;
    ev->action = (enum event_action)act;
    ev->received_at = req->now;
    if (get_int(o, "ts", "unixtime", 1, INT64_MAX, &v) == 0)
        ev->source_ts = v;
    ev->user_name = get_text(o, "user", "username");
    ev->user_id = get_text(o, "user_id", NULL);
    ev->server = get_text(o, "server_id", "server_machine_id");
    ev->session = tt_session(o, ev->server, ev->user_id);
    tt_build_item(o, type, &ev->item);
    if (get_int(o, "view_offset_ms", "view_offset", 0, INT64_MAX, &v) == 0)
        pos = v;
    if (get_int(o, "duration_ms", NULL, 1, INT64_MAX, &v) == 0)
        dur = v;
    ev->position_ms = pos;
    ev->duration_ms = dur;
    if ((pos < 0 || dur < 0) &&
        get_int(o, "progress_percent", NULL, 0, 1000, &v) == 0) {
        ev->has_progress = true;
        ev->progress = (double)v;
    }
    event_finish(ev);
done:
    free(action);
    free(mtype);
    json_object_put(o);
    return rc;
}

const struct handler_def handler_tautulli = {
    .name = "tautulli",
    .parse = tt_parse,
};
