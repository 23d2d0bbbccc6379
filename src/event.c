#include "event.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "util.h"

/* occurred_at takes the source's time only within this many seconds. */
#define EVENT_CLOCK_WINDOW 600

static const char *const kind_names[EVENT_KIND_MAX] = {
    [EVENT_SCROBBLE] = "scrobble", [EVENT_HISTORY] = "history",
    [EVENT_RATING] = "rating",     [EVENT_WATCHLIST] = "watchlist",
    [EVENT_PROGRESS] = "progress", [EVENT_PLAYLIST] = "playlist",
};

static const char *const action_names[EVENT_ACTION_MAX] = {
    [EVENT_START] = "start",   [EVENT_PAUSE] = "pause",
    [EVENT_RESUME] = "resume", [EVENT_PROGRESS_ACTION] = "progress",
    [EVENT_STOP] = "stop",     [EVENT_WATCHED] = "watched",
    [EVENT_ADD] = "add",       [EVENT_REMOVE] = "remove",
    [EVENT_SET] = "set",       [EVENT_CLEAR] = "clear",
    [EVENT_CREATE] = "create", [EVENT_REORDER] = "reorder",
};

void
event_init(struct event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->source = NULL;
    ev->user_name = NULL;
    ev->user_id = NULL;
    ev->server = NULL;
    ev->session = NULL;
    ev->pair = NULL;
    ev->key = NULL;
    ev->kind = EVENT_SCROBBLE;
    ev->action = EVENT_START;
    item_init(&ev->item);
    ev->has_progress = false;
    ev->progress = 0;
    ev->position_ms = -1;
    ev->duration_ms = -1;
    ev->paused = -1;
    ev->completed = -1;
}

void
event_release(struct event *ev)
{
    free(ev->source);
    free(ev->user_name);
    free(ev->user_id);
    free(ev->server);
    free(ev->session);
    free(ev->pair);
    free(ev->key);
    item_release(&ev->item);
    event_init(ev);
}

const char *
event_kind_name(enum event_kind k)
{
    if ((int)k < 0 || k >= EVENT_KIND_MAX)
        return "";
    return kind_names[k];
}

const char *
event_action_name(enum event_action a)
{
    if ((int)a < 0 || a >= EVENT_ACTION_MAX)
        return "";
    return action_names[a];
}

int
event_kind_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < EVENT_KIND_MAX; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

int
event_action_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < EVENT_ACTION_MAX; i++)
        if (strcmp(name, action_names[i]) == 0)
            return i;
    return -1;
}

static double
clamp_progress(double p)
{
    if (!isfinite(p) || p < 0)
        return 0;
    return p > 100 ? 100 : p;
}

static bool
within_window(int64_t a, int64_t b)
{
    uint64_t d = a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;

    return d <= EVENT_CLOCK_WINDOW;
}

/* One identity field: '|' and '\\' are escaped so that the join is
 * unambiguous ("a|b" + "" never equals "a" + "b"). */
static void
id_field(struct buf *b, const char *s)
{
    if (b->len > 0)
        buf_append(b, "|", 1);
    if (s == NULL)
        return;
    for (; *s; s++) {
        if (*s == '|' || *s == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
}

static void
id_field_i64(struct buf *b, int64_t v, bool present)
{
    char num[32] = "";

    if (present)
        snprintf(num, sizeof(num), "%" PRId64, v);
    if (b->len > 0)
        buf_append(b, "|", 1);
    buf_puts(b, num);
}

/*
 * The stable id (SYNC.md 2.2): hex of the first 16 bytes of SHA-256 over, in
 * this order, joined by '|' ('|' and '\' inside a value escaped with '\'),
 * absent values as "":
 *
 *   "v1", source, server, session, kind, action, key,
 *   position_ms (decimal; "" when -1),
 *   source_ts (decimal; "" when 0),
 *   rating (decimal; "" when 0),
 *   watched_at (decimal epoch; "" when 0),
 *   pair,
 *   progress in hundredths (decimal, rounded; "" without has_progress),
 *   user_id, user_name.
 *
 * Poll and reconcile events put their pair in `pair` and round position_ms
 * themselves (SYNC.md 2.2: position rounded to 10 s). The progress value
 * covers sources that give a percentage without a position; the user fields
 * keep two accounts' identical actions apart.
 */
static void
event_compute_id(struct event *ev)
{
    unsigned char md[32];
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "v1");
    id_field(&b, ev->source);
    id_field(&b, ev->server);
    id_field(&b, ev->session);
    id_field(&b, event_kind_name(ev->kind));
    id_field(&b, event_action_name(ev->action));
    id_field(&b, ev->key);
    id_field_i64(&b, ev->position_ms, ev->position_ms >= 0);
    id_field_i64(&b, ev->source_ts, ev->source_ts != 0);
    id_field_i64(&b, ev->rating, ev->rating != 0);
    id_field_i64(&b, ev->watched_at, ev->watched_at != 0);
    id_field(&b, ev->pair);
    id_field_i64(&b, llround(clamp_progress(ev->progress) * 100.0),
                 ev->has_progress);
    id_field(&b, ev->user_id);
    id_field(&b, ev->user_name);
    sha256(b.data, b.len, md);
    hex_encode(md, EVENT_ID_LEN / 2, ev->id);
    buf_release(&b);
}

void
event_finish(struct event *ev)
{
    free(ev->key);
    ev->key = item_key(&ev->item);
    if (!ev->has_progress && ev->position_ms >= 0 && ev->duration_ms > 0) {
        ev->progress =
            (double)ev->position_ms / (double)ev->duration_ms * 100.0;
        ev->has_progress = true;
    }
    if (ev->has_progress)
        ev->progress = clamp_progress(ev->progress);
    if (ev->source_ts != 0 && within_window(ev->source_ts, ev->received_at))
        ev->occurred_at = ev->source_ts;
    else
        ev->occurred_at = ev->received_at;
    event_compute_id(ev);
}

int
rating_canonical(double v)
{
    long long t;

    if (!isfinite(v) || v <= 0)
        return 0;
    if (v > 10)
        return 10;
    t = llround(v * 10);
    t = (t + 5) / 10;
    if (t < 1)
        return 1;
    return t > 10 ? 10 : (int)t;
}

/* ---- JSON ---- */

static void
add_str(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v ? v : ""));
}

static void
add_time(struct json_object *o, const char *key, int64_t t)
{
    char buf[WR_TIME_BUF];

    wr_time_format(t, buf);
    json_object_object_add(o, key, json_object_new_string(buf));
}

/*
 * Progress rounded to 2 decimals: an integer when integral (so 100 reads back
 * as the same JSON value), else a double that serializes as written ("98.5",
 * not "98.500000000000000").
 */
static struct json_object *
progress_json(double p)
{
    int r = (int)lround(clamp_progress(p) * 100.0); /* 0..10000 */
    char s[32];

    if (r % 100 == 0)
        return json_object_new_int(r / 100);
    if (r % 10 == 0)
        snprintf(s, sizeof(s), "%d.%d", r / 100, (r % 100) / 10);
    else
        snprintf(s, sizeof(s), "%d.%02d", r / 100, r % 100);
    return json_object_new_double_s((double)r / 100.0, s);
}

struct json_object *
event_to_json(const struct event *ev)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "v", json_object_new_int(1));
    add_str(o, "id", ev->id);
    add_str(o, "source", ev->source);
    add_str(o, "kind", event_kind_name(ev->kind));
    add_str(o, "action", event_action_name(ev->action));
    add_time(o, "occurred_at", ev->occurred_at);
    add_time(o, "received_at", ev->received_at);
    if (ev->user_name != NULL || ev->user_id != NULL) {
        struct json_object *u = json_object_new_object();

        if (ev->user_name != NULL)
            add_str(u, "name", ev->user_name);
        if (ev->user_id != NULL)
            add_str(u, "id", ev->user_id);
        json_object_object_add(o, "user", u);
    }
    if (ev->server != NULL)
        add_str(o, "server", ev->server);
    if (ev->session != NULL)
        add_str(o, "session", ev->session);
    if (ev->pair != NULL)
        add_str(o, "pair", ev->pair);
    json_object_object_add(o, "item", item_to_json(&ev->item));
    add_str(o, "key", ev->key);
    if (ev->has_progress)
        json_object_object_add(o, "progress", progress_json(ev->progress));
    if (ev->position_ms >= 0)
        json_object_object_add(o, "position_ms",
                               json_object_new_int64(ev->position_ms));
    if (ev->duration_ms >= 0)
        json_object_object_add(o, "duration_ms",
                               json_object_new_int64(ev->duration_ms));
    if (ev->paused != -1)
        json_object_object_add(o, "paused",
                               json_object_new_boolean(ev->paused != 0));
    if (ev->completed != -1)
        json_object_object_add(o, "completed",
                               json_object_new_boolean(ev->completed != 0));
    if (ev->rating > 0)
        json_object_object_add(o, "rating", json_object_new_int(ev->rating));
    if (ev->watched_at != 0)
        add_time(o, "watched_at", ev->watched_at);
    return o;
}

/* The member, or NULL when absent or JSON null. */
static struct json_object *
member(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

/* Optional string member into *out (owned); -1 if present and not a
 * string. */
static int
opt_str(struct json_object *o, const char *key, char **out)
{
    struct json_object *v = member(o, key);

    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    free(*out);
    *out = xstrdup(json_object_get_string(v));
    return 0;
}

static int
req_time(struct json_object *o, const char *key, int64_t *out)
{
    const char *s;

    if (jget_str(o, key, &s) != 0)
        return -1;
    return wr_time_parse(s, out);
}

static bool
is_event_id(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == EVENT_ID_LEN;
}

int
event_from_json(struct event *ev, struct json_object *obj, char *err,
                size_t errlen)
{
    struct json_object *v;
    const char *s, *what = NULL;
    int64_t n;
    double d;
    bool b;
    int k;

    event_init(ev);
    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
        what = "not a JSON object";
        goto fail;
    }
    if (jget_i64(obj, "v", &n) != 0 || n != 1) {
        what = "\"v\" is not 1";
        goto fail;
    }
    if (jget_str(obj, "id", &s) != 0 || !is_event_id(s)) {
        what = "bad \"id\"";
        goto fail;
    }
    memcpy(ev->id, s, EVENT_ID_LEN + 1);
    if (jget_str(obj, "source", &s) != 0) {
        what = "bad \"source\"";
        goto fail;
    }
    ev->source = xstrdup(s);
    if (jget_str(obj, "kind", &s) != 0 || (k = event_kind_from_name(s)) < 0) {
        what = "bad \"kind\"";
        goto fail;
    }
    ev->kind = (enum event_kind)k;
    if (jget_str(obj, "action", &s) != 0 ||
        (k = event_action_from_name(s)) < 0) {
        what = "bad \"action\"";
        goto fail;
    }
    ev->action = (enum event_action)k;
    if (req_time(obj, "occurred_at", &ev->occurred_at) != 0) {
        what = "bad \"occurred_at\"";
        goto fail;
    }
    ev->source_ts = ev->occurred_at;
    if (req_time(obj, "received_at", &ev->received_at) != 0) {
        what = "bad \"received_at\"";
        goto fail;
    }
    if ((v = member(obj, "user")) != NULL) {
        if (!json_object_is_type(v, json_type_object) ||
            opt_str(v, "name", &ev->user_name) != 0 ||
            opt_str(v, "id", &ev->user_id) != 0) {
            what = "bad \"user\"";
            goto fail;
        }
    }
    if (opt_str(obj, "server", &ev->server) != 0 ||
        opt_str(obj, "session", &ev->session) != 0 ||
        opt_str(obj, "pair", &ev->pair) != 0) {
        what = "bad \"server\", \"session\" or \"pair\"";
        goto fail;
    }
    if (item_from_json(&ev->item, member(obj, "item")) != 0) {
        what = "bad \"item\"";
        goto fail;
    }
    if (jget_str(obj, "key", &s) != 0) {
        what = "bad \"key\"";
        goto fail;
    }
    ev->key = xstrdup(s);
    if (member(obj, "progress") != NULL) {
        if (jget_num(obj, "progress", &d) != 0 || d < 0 || d > 100) {
            what = "bad \"progress\"";
            goto fail;
        }
        ev->has_progress = true;
        ev->progress = d;
    }
    if (member(obj, "position_ms") != NULL &&
        (jget_i64(obj, "position_ms", &ev->position_ms) != 0 ||
         ev->position_ms < 0)) {
        what = "bad \"position_ms\"";
        goto fail;
    }
    if (member(obj, "duration_ms") != NULL &&
        (jget_i64(obj, "duration_ms", &ev->duration_ms) != 0 ||
         ev->duration_ms < 0)) {
        what = "bad \"duration_ms\"";
        goto fail;
    }
    if (member(obj, "paused") != NULL) {
        if (jget_bool(obj, "paused", &b) != 0) {
            what = "bad \"paused\"";
            goto fail;
        }
        ev->paused = b;
    }
    if (member(obj, "completed") != NULL) {
        if (jget_bool(obj, "completed", &b) != 0) {
            what = "bad \"completed\"";
            goto fail;
        }
        ev->completed = b;
    }
    if (member(obj, "rating") != NULL) {
        if (jget_i64(obj, "rating", &n) != 0 || n < 1 || n > 10) {
            what = "bad \"rating\"";
            goto fail;
        }
        ev->rating = (int)n;
    }
    if (member(obj, "watched_at") != NULL &&
        (req_time(obj, "watched_at", &ev->watched_at) != 0 ||
         ev->watched_at == 0)) {
        what = "bad \"watched_at\"";
        goto fail;
    }
    return 0;
fail:
    if (err != NULL)
        snprintf(err, errlen, "event: %s", what);
    event_release(ev);
    return -1;
}

/* ---- lists ---- */

void
event_list_init(struct event_list *l)
{
    l->v = NULL;
    l->n = 0;
    l->cap = 0;
    l->ignored = NULL;
}

void
event_list_release(struct event_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        event_release(&l->v[i]);
    free(l->v);
    free(l->ignored);
    event_list_init(l);
}

struct event *
event_list_push(struct event_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;

        WR_ASSERT(cap > l->cap && cap < SIZE_MAX / sizeof(*l->v));
        l->v = xrealloc(l->v, cap * sizeof(*l->v));
        l->cap = cap;
    }
    event_init(&l->v[l->n]);
    return &l->v[l->n++];
}

void
event_list_ignore(struct event_list *l, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    s = xmalloc((size_t)n + 1);
    s[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    free(l->ignored);
    l->ignored = s;
}
