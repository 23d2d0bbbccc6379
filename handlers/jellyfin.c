/*
 * jellyfin: jellyfin-plugin-webhook "Generic Destination" (PROVIDERS.md A2).
 *
 * The body is JSON whatever the Content-Type says (the plugin defaults to
 * text/plain): either "Send All Properties" (System.Text.Json of the data
 * object: GUIDs without dashes, real booleans and numbers) or the admin's
 * Handlebars template (GUIDs with dashes, booleans rendered "True"/"False",
 * numbers possibly quoted). Both are read with the same lenient getters.
 *
 * Mapping (SYNC.md 2.3):
 *   PlaybackStart / PlaybackProgress / PlaybackStop
 *       -> scrobble start / progress (paused = IsPaused) / stop
 *          (completed = PlayedToCompletion); movies and episodes only.
 *   UserDataSaved + TogglePlayed      -> Played true: history add
 *       (watched_at = LastPlayedDate, else the notification's time, else
 *       arrival); Played false: history remove.
 *   UserDataSaved + PlaybackFinished + Played true -> scrobble watched, no
 *       session (the router ties it to the user's open session).
 *   UserDataSaved + UpdateUserRating -> the webhook carries the whole user
 *       data, not what changed, so the states are emitted: rating set
 *       (Rating > 0, canonical 1-10), and watchlist add or remove from
 *       Favorite. Rating 0 emits nothing: it means "unrated", which is also
 *       what every favourite toggle of an unrated item reports, and a like
 *       must never wipe a tracker's rating. Their kinds differ, so their ids
 * do; the route's kinds decide which of them go anywhere. Movies, episodes,
 *       series and seasons.
 *   Any other SaveReason (PlaybackStart, PlaybackProgress, Import,
 *   UpdateUserData, ...) is ignored: they fire throughout playback
 *   (jellyfin-plugin-webhook#206). Every other NotificationType is ignored.
 *
 * Identity: Provider_<name> keys (any case) give the item's own ids (an
 * episode's are the episode's: the payload has no series external ids, and
 * the series' Jellyfin id is deliberately not put in show ids, which would
 * make a local id the episode's canonical key); ItemId is ids.jellyfin.
 * For an episode or season "Year" is the series' production year (the
 * plugin overwrites it), so it goes to the show's year and the item's own
 * year stays unknown.
 *
 * Text fields went through the plugin's Escape() (a '"' becomes '\"' before
 * serialization) and, in template mode, through Handlebars' HTML encoding
 * (&amp;, &#233;, ...); both are undone for titles and the user name.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "item.h"
#include "jsonu.h"
#include "util.h"

#define JF_SOURCE   "jellyfin"
#define JF_TEXT_CAP 1024 /* longest title or name we keep, in bytes */
#define JF_NUM_MAX  1000000
#define JF_PREFIX   "Provider_"

/* The parsed common parts every event of one notification shares. */
struct jf_note {
    const struct hook_request *req;
    struct json_object *o;
    struct item item;
    char *user_name;
    char *user_id;
    char *server;
    int64_t source_ts;
    int64_t duration_ms;
};

/* ---- field readers ---- */

/* A non-empty string member (leading/trailing blanks trimmed), else -1.
 * start and len describe the trimmed span inside the borrowed string. */
static int
get_span(struct json_object *o, const char *key, const char **start,
         size_t *len)
{
    const char *s, *e;

    if (jget_str(o, key, &s) != 0)
        return -1;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    e = s + strlen(s);
    while (e > s &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    if (e == s)
        return -1;
    *start = s;
    *len = (size_t)(e - s);
    return 0;
}

/* Owned trimmed copy of a non-empty string member, or NULL. */
static char *
get_dup(struct json_object *o, const char *key)
{
    const char *s;
    size_t n;

    if (get_span(o, key, &s, &n) != 0)
        return NULL;
    return xstrndup(s, n);
}

/* A whole number, JSON or quoted (templates), within [min, max]. */
static int
get_int(struct json_object *o, const char *key, int64_t min, int64_t max,
        int64_t *out)
{
    int64_t v;

    if (jget_i64_lenient(o, key, &v) != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A number, JSON or quoted ("7.5"), finite. */
static int
get_double(struct json_object *o, const char *key, double *out)
{
    const char *s;
    size_t n;
    char tmp[64];
    char *end = NULL;
    double v;

    if (jget_num(o, key, out) == 0)
        return 0;
    if (get_span(o, key, &s, &n) != 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!((tmp[i] >= '0' && tmp[i] <= '9') || tmp[i] == '.' ||
              tmp[i] == '-' || tmp[i] == '+'))
            return -1; /* no hex, inf, nan or exponents */
    errno = 0;
    v = strtod(tmp, &end);
    if (errno != 0 || end != tmp + n || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* A time string member as epoch seconds, else -1. */
static int
get_time(struct json_object *o, const char *key, int64_t *out)
{
    char *s = get_dup(o, key);
    int rc = -1;

    if (s != NULL)
        rc = wr_time_parse(s, out);
    free(s);
    return rc;
}

/* ---- text clean-up ---- */

static void
put_utf8(struct buf *b, unsigned long cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(b, u, n);
}

/*
 * Parse the numeric character reference at s ("&#233;", "&#xE9;"); returns
 * its length and the code point (possibly a UTF-16 surrogate), or 0.
 */
static size_t
num_ref(const char *s, size_t n, unsigned long *cp)
{
    size_t i = 2;
    unsigned long v = 0;
    int base = 10, digits = 0;

    if (n < 4 || s[0] != '&' || s[1] != '#')
        return 0;
    if (s[2] == 'x' || s[2] == 'X') {
        base = 16;
        i++;
    }
    for (; i < n && digits < 7; i++, digits++) {
        char c = s[i];
        int d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        v = v * (unsigned long)base + (unsigned long)d;
    }
    if (digits == 0 || i >= n || s[i] != ';' || v == 0 || v > 0x10ffff)
        return 0;
    *cp = v;
    return i + 1;
}

/*
 * Undo the plugin's Escape() ('\"' -> '"') and Handlebars' HTML encoding
 * (&quot; &amp; &lt; &gt; &apos; and numeric references, including UTF-16
 * surrogate pairs) in s; cap the result at JF_TEXT_CAP bytes on a UTF-8
 * character boundary. Owned result, NULL for NULL or empty.
 */
static char *
clean_text(const char *s, size_t n)
{
    static const struct {
        const char *ent;
        char c;
    } named[] = {{"&quot;", '"'},
                 {"&amp;", '&'},
                 {"&lt;", '<'},
                 {"&gt;", '>'},
                 {"&apos;", '\''}};
    struct buf b;
    size_t i = 0;

    if (s == NULL || n == 0)
        return NULL;
    buf_init(&b);
    while (i < n) {
        unsigned long cp, lo;
        size_t k, k2;
        bool done = false;

        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '"') {
            buf_append(&b, "\"", 1);
            i += 2;
            continue;
        }
        if (s[i] != '&') {
            buf_append(&b, s + i, 1);
            i++;
            continue;
        }
        for (size_t j = 0; j < sizeof(named) / sizeof(named[0]); j++) {
            size_t el = strlen(named[j].ent);

            if (n - i >= el && memcmp(s + i, named[j].ent, el) == 0) {
                buf_append(&b, &named[j].c, 1);
                i += el;
                done = true;
                break;
            }
        }
        if (done)
            continue;
        k = num_ref(s + i, n - i, &cp);
        if (k > 0 && cp >= 0xd800 && cp <= 0xdbff) {
            k2 = num_ref(s + i + k, n - i - k, &lo);
            if (k2 > 0 && lo >= 0xdc00 && lo <= 0xdfff) {
                put_utf8(&b, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
                i += k + k2;
                continue;
            }
            k = 0; /* a lone surrogate stays as written */
        } else if (k > 0 && cp >= 0xdc00 && cp <= 0xdfff) {
            k = 0;
        }
        if (k > 0) {
            put_utf8(&b, cp);
            i += k;
            continue;
        }
        buf_append(&b, "&", 1);
        i++;
    }
    if (b.len > JF_TEXT_CAP) {
        size_t cut = JF_TEXT_CAP;

        while (cut > 0 && ((unsigned char)b.data[cut] & 0xc0) == 0x80)
            cut--;
        b.len = cut;
        b.data[cut] = '\0';
    }
    if (b.len == 0) {
        buf_release(&b);
        return NULL;
    }
    return b.data;
}

static char *
get_text(struct json_object *o, const char *key)
{
    const char *s;
    size_t n;

    if (get_span(o, key, &s, &n) != 0)
        return NULL;
    return clean_text(s, n);
}

/*
 * A Jellyfin GUID as the API writes it: 32 lower-case hex digits. Dashed
 * (template) or braced forms are reduced to it; anything that is not a GUID
 * is kept as sent (trimmed). Owned, or NULL when absent.
 */
static char *
get_guid(struct json_object *o, const char *key)
{
    const char *s;
    size_t n, k = 0;
    char hex[33];

    if (get_span(o, key, &s, &n) != 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '-' || (c == '{' && i == 0) || (c == '}' && i == n - 1))
            continue;
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || k == 32)
            return xstrndup(s, n);
        hex[k++] = c;
    }
    if (k != 32)
        return xstrndup(s, n);
    hex[32] = '\0';
    return xstrdup(hex);
}

/* ASCII case-insensitive prefix test. */
static bool
has_iprefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char a = *s, b = *prefix;

        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

/* A short, printable copy of an untrusted name for a reason string. */
static const char *
shown(const char *s, char *out, size_t outlen)
{
    return str_escape(s, strlen(s), out, outlen);
}

/* ---- the item ---- */

static enum item_type
jf_item_type(const char *t)
{
    if (t == NULL)
        return ITEM_NONE;
    if (str_ieq(t, "Movie"))
        return ITEM_MOVIE;
    if (str_ieq(t, "Episode"))
        return ITEM_EPISODE;
    if (str_ieq(t, "Series"))
        return ITEM_SHOW;
    if (str_ieq(t, "Season"))
        return ITEM_SEASON;
    return ITEM_NONE;
}

/* Provider_<name> members: the external ids we know (unknown names such as
 * tvrage, tmdbcollection or musicbrainz* are skipped). */
static void
jf_provider_ids(struct json_object *o, struct item_ids *ids)
{
    size_t plen = strlen(JF_PREFIX);

    json_object_object_foreach (o, key, val) {
        const char *name;
        char num[32];
        int id;

        if (strlen(key) <= plen || !has_iprefix(key, JF_PREFIX))
            continue;
        name = key + plen;
        id = item_id_from_name(name);
        /* Only global external ids: a Provider_ key never names a local one. */
        if (id < 0 || id >= ITEM_ID_PLEX)
            continue;
        if (json_object_is_type(val, json_type_string)) {
            item_ids_set(ids, (enum item_id)id, json_object_get_string(val));
        } else if (json_object_is_type(val, json_type_int)) {
            snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(val));
            item_ids_set(ids, (enum item_id)id, num);
        }
    }
}

static void
jf_build_item(struct json_object *o, struct item *it)
{
    const char *type = NULL, *item_id;
    int64_t v;

    jget_str(o, "ItemType", &type);
    it->type = jf_item_type(type);
    it->title = get_text(o, "Name");
    jf_provider_ids(o, &it->ids);
    if (jget_str(o, "ItemId", &item_id) == 0)
        item_ids_set(&it->ids, ITEM_ID_JELLYFIN, item_id);
    if (it->type == ITEM_EPISODE || it->type == ITEM_SEASON) {
        it->show_title = get_text(o, "SeriesName");
        if (get_int(o, "Year", 1, 9999, &v) == 0)
            it->show_year = (int)v;
        if (get_int(o, "SeasonNumber", 0, JF_NUM_MAX, &v) == 0)
            it->season = (int)v;
        if (it->type == ITEM_EPISODE &&
            get_int(o, "EpisodeNumber", 0, JF_NUM_MAX, &v) == 0)
            it->episode = (int)v;
    } else if (get_int(o, "Year", 1, 9999, &v) == 0) {
        it->year = (int)v;
    }
}

/* ---- events ---- */

static struct event *
jf_event(const struct jf_note *n, struct event_list *out, enum event_kind kind,
         enum event_action action)
{
    struct event *ev = event_list_push(out);

    ev->source = xstrdup(JF_SOURCE);
    ev->kind = kind;
    ev->action = action;
    ev->received_at = n->req->now;
    ev->source_ts = n->source_ts;
    ev->user_name = n->user_name ? xstrdup(n->user_name) : NULL;
    ev->user_id = n->user_id ? xstrdup(n->user_id) : NULL;
    ev->server = n->server ? xstrdup(n->server) : NULL;
    item_release(&ev->item);
    item_copy(&ev->item, &n->item);
    /* Position and length belong to plays, not to ratings or lists. */
    if (kind == EVENT_SCROBBLE || kind == EVENT_HISTORY)
        ev->duration_ms = n->duration_ms;
    return ev;
}

/* ServerId:(Id|DeviceId):ItemId:UserId (SYNC.md 3.1); NULL without a
 * session or device id. */
static char *
jf_session(const struct jf_note *n)
{
    char *sid = get_dup(n->o, "Id");
    char *out;

    if (sid == NULL)
        sid = get_dup(n->o, "DeviceId");
    if (sid == NULL)
        return NULL;
    out = xasprintf(
        "%s:%s:%s:%s", n->server ? n->server : "", sid,
        n->item.ids.v[ITEM_ID_JELLYFIN] ? n->item.ids.v[ITEM_ID_JELLYFIN] : "",
        n->user_id ? n->user_id : "");
    free(sid);
    return out;
}

static bool
is_playable(const struct item *it)
{
    return it->type == ITEM_MOVIE || it->type == ITEM_EPISODE;
}

static int
jf_playback(const struct jf_note *n, enum event_action action,
            struct event_list *out)
{
    struct event *ev = jf_event(n, out, EVENT_SCROBBLE, action);
    int64_t ticks;
    bool b;

    if (get_int(n->o, "PlaybackPositionTicks", 0, INT64_MAX, &ticks) == 0)
        ev->position_ms = ticks / 10000;
    if (action == EVENT_PROGRESS_ACTION &&
        jget_bool_lenient(n->o, "IsPaused", &b) == 0)
        ev->paused = b;
    if (action == EVENT_STOP &&
        jget_bool_lenient(n->o, "PlayedToCompletion", &b) == 0)
        ev->completed = b;
    ev->session = jf_session(n);
    event_finish(ev);
    return 0;
}

static int
jf_user_data(const struct jf_note *n, const char *type, struct event_list *out)
{
    const char *reason;
    struct event *ev;
    char esc[80];
    bool played, fav;
    double rating;
    int have = 0;

    if (jget_str(n->o, "SaveReason", &reason) != 0) {
        event_list_ignore(out, "Jellyfin UserDataSaved without a SaveReason "
                               "is ignored");
        return 0;
    }
    if (str_ieq(reason, "TogglePlayed") ||
        str_ieq(reason, "PlaybackFinished")) {
        bool toggle = str_ieq(reason, "TogglePlayed");

        if (!is_playable(&n->item)) {
            event_list_ignore(out,
                              "Jellyfin UserDataSaved %s for ItemType %s "
                              "is ignored (only movies and episodes carry "
                              "plays)",
                              toggle ? "TogglePlayed" : "PlaybackFinished",
                              shown(type ? type : "(none)", esc, 40));
            return 0;
        }
        if (jget_bool_lenient(n->o, "Played", &played) != 0) {
            event_list_ignore(out,
                              "Jellyfin UserDataSaved %s without "
                              "Played is ignored",
                              toggle ? "TogglePlayed" : "PlaybackFinished");
            return 0;
        }
        if (!toggle && !played) {
            event_list_ignore(out, "Jellyfin UserDataSaved PlaybackFinished "
                                   "with Played false is ignored (the play "
                                   "did not count as watched)");
            return 0;
        }
        if (!toggle) {
            ev = jf_event(n, out, EVENT_SCROBBLE, EVENT_WATCHED);
        } else if (played) {
            int64_t at;

            ev = jf_event(n, out, EVENT_HISTORY, EVENT_ADD);
            if (get_time(n->o, "LastPlayedDate", &at) == 0 && at > 0)
                ev->watched_at = at;
            else if (n->source_ts > 0)
                ev->watched_at = n->source_ts;
            else
                ev->watched_at = n->req->now;
        } else {
            ev = jf_event(n, out, EVENT_HISTORY, EVENT_REMOVE);
        }
        event_finish(ev);
        return 0;
    }
    if (str_ieq(reason, "UpdateUserRating")) {
        if (n->item.type == ITEM_NONE) {
            event_list_ignore(out,
                              "Jellyfin UserDataSaved UpdateUserRating for "
                              "ItemType %s is ignored",
                              shown(type ? type : "(none)", esc, 40));
            return 0;
        }
        if (get_double(n->o, "Rating", &rating) == 0 &&
            rating_canonical(rating) > 0) {
            ev = jf_event(n, out, EVENT_RATING, EVENT_SET);
            ev->rating = rating_canonical(rating);
            event_finish(ev);
            have++;
        }
        if (jget_bool_lenient(n->o, "Favorite", &fav) == 0) {
            ev = jf_event(n, out, EVENT_WATCHLIST,
                          fav ? EVENT_ADD : EVENT_REMOVE);
            event_finish(ev);
            have++;
        }
        if (have == 0)
            event_list_ignore(out, "Jellyfin UserDataSaved UpdateUserRating "
                                   "without a rating or Favorite is ignored");
        return 0;
    }
    event_list_ignore(out,
                      "Jellyfin UserDataSaved with SaveReason %s is ignored "
                      "(only TogglePlayed, PlaybackFinished and "
                      "UpdateUserRating are used)",
                      shown(reason, esc, 40));
    return 0;
}

static bool
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int
jf_parse(const struct hook_request *req, struct event_list *out, char *err,
         size_t errlen)
{
    struct json_object *o = NULL;
    struct jf_note n;
    const char *nt = NULL, *type = NULL;
    char jerr[160], esc[80];
    int64_t ticks;
    int rc = -1;

    memset(&n, 0, sizeof(n));
    item_init(&n.item);
    n.req = req;
    n.duration_ms = -1;
    if (req->body == NULL || is_blank(req->body, req->len)) {
        event_list_ignore(out, "empty Jellyfin body (nothing to do)");
        rc = 0;
        goto done;
    }
    o = jsonu_parse(req->body, req->len, JSONU_DEPTH, jerr, sizeof(jerr));
    if (o == NULL) {
        snprintf(err, errlen,
                 "Jellyfin body is not valid JSON (%s); a Handlebars "
                 "template must quote every value, True/False included",
                 jerr);
        goto done;
    }
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "Jellyfin body is not a JSON object");
        goto done;
    }
    if (jget_str(o, "NotificationType", &nt) != 0 || *nt == '\0') {
        snprintf(err, errlen, "Jellyfin body has no NotificationType");
        goto done;
    }
    n.o = o;
    rc = 0;
    if (!str_ieq(nt, "PlaybackStart") && !str_ieq(nt, "PlaybackProgress") &&
        !str_ieq(nt, "PlaybackStop") && !str_ieq(nt, "UserDataSaved")) {
        event_list_ignore(out, "Jellyfin notification %s is not handled",
                          shown(nt, esc, 60));
        goto done;
    }
    jf_build_item(o, &n.item);
    jget_str(o, "ItemType", &type);
    n.user_name = get_text(o, "NotificationUsername");
    n.user_id = get_guid(o, "UserId");
    n.server = get_dup(o, "ServerId");
    if (get_time(o, "UtcTimestamp", &n.source_ts) != 0 &&
        get_time(o, "Timestamp", &n.source_ts) != 0)
        n.source_ts = 0;
    if (get_int(o, "RunTimeTicks", 1, INT64_MAX, &ticks) == 0)
        n.duration_ms = ticks / 10000;
    if (str_ieq(nt, "UserDataSaved")) {
        rc = jf_user_data(&n, type, out);
        goto done;
    }
    if (!is_playable(&n.item)) {
        event_list_ignore(out,
                          "Jellyfin %s for ItemType %s is ignored (only "
                          "movies and episodes scrobble)",
                          shown(nt, esc, 40),
                          type ? shown(type, jerr, 40) : "(none)");
        goto done;
    }
    if (str_ieq(nt, "PlaybackStart"))
        rc = jf_playback(&n, EVENT_START, out);
    else if (str_ieq(nt, "PlaybackProgress"))
        rc = jf_playback(&n, EVENT_PROGRESS_ACTION, out);
    else
        rc = jf_playback(&n, EVENT_STOP, out);
done:
    item_release(&n.item);
    free(n.user_name);
    free(n.user_id);
    free(n.server);
    json_object_put(o);
    return rc;
}

const struct handler_def handler_jellyfin = {
    .name = "jellyfin",
    .parse = jf_parse,
};
