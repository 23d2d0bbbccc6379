/*
 * test_event: event_finish (key, progress, occurred_at, stable id),
 * rating_canonical, the schema-v1 JSON both ways, event lists.
 */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jsonu.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define T0 1740948430 /* 2025-03-02T20:47:10Z */

static struct json_object *
parse(const char *s)
{
    char err[256];
    struct json_object *o =
        jsonu_parse(s, strlen(s), JSONU_DEPTH, err, sizeof(err));

    if (o == NULL)
        fail_msg("test JSON does not parse: %s: %s", err, s);
    return o;
}

/* A Plex-like episode scrobble, not finished. */
static void
base_event(struct event *ev)
{
    event_init(ev);
    ev->source = xstrdup("plex");
    ev->kind = EVENT_SCROBBLE;
    ev->action = EVENT_STOP;
    ev->received_at = T0;
    ev->source_ts = T0 - 5;
    ev->user_name = xstrdup("dana");
    ev->user_id = xstrdup("48213377");
    ev->server = xstrdup("9b2e6f3c1d0a47e88c5b7a21f4d39e6c0b8a1f72");
    ev->session = xstrdup("a1b2c3d4e5f60718-com-plexapp-android");
    ev->item.type = ITEM_EPISODE;
    ev->item.title = xstrdup("Good News About Hell");
    ev->item.year = 2022;
    item_ids_set(&ev->item.ids, ITEM_ID_TVDB, "8603573");
    item_ids_set(&ev->item.ids, ITEM_ID_PLEX, "48211");
    ev->item.show_title = xstrdup("Severance");
    item_ids_set(&ev->item.show_ids, ITEM_ID_TMDB, "95396");
    ev->item.season = 1;
    ev->item.episode = 1;
    ev->position_ms = 3051000;
    ev->duration_ms = 3378000;
}

static void
test_names(void **state)
{
    static const char *const kinds[] = {"scrobble",  "history",  "rating",
                                        "watchlist", "progress", "playlist"};
    static const char *const actions[] = {
        "start", "pause",  "resume", "progress", "stop",   "watched",
        "add",   "remove", "set",    "clear",    "create", "reorder"};

    (void)state;
    assert_int_equal(N_ELEMS(kinds), EVENT_KIND_MAX);
    assert_int_equal(N_ELEMS(actions), EVENT_ACTION_MAX);
    for (int i = 0; i < EVENT_KIND_MAX; i++) {
        assert_string_equal(event_kind_name((enum event_kind)i), kinds[i]);
        assert_int_equal(event_kind_from_name(kinds[i]), i);
    }
    for (int i = 0; i < EVENT_ACTION_MAX; i++) {
        assert_string_equal(event_action_name((enum event_action)i),
                            actions[i]);
        assert_int_equal(event_action_from_name(actions[i]), i);
    }
    assert_int_equal(event_action_from_name("progress"), EVENT_PROGRESS_ACTION);
    assert_int_equal(event_kind_from_name("Scrobble"), -1);
    assert_int_equal(event_kind_from_name("scrobbles"), -1);
    assert_int_equal(event_kind_from_name(""), -1);
    assert_int_equal(event_kind_from_name(NULL), -1);
    assert_int_equal(event_action_from_name("jump"), -1);
    assert_int_equal(event_action_from_name(NULL), -1);
    assert_string_equal(event_kind_name(EVENT_KIND_MAX), "");
    assert_string_equal(event_action_name(EVENT_ACTION_MAX), "");
}

static void
test_init(void **state)
{
    struct event ev;

    (void)state;
    event_init(&ev);
    assert_null(ev.source);
    assert_null(ev.key);
    assert_int_equal(ev.position_ms, -1);
    assert_int_equal(ev.duration_ms, -1);
    assert_int_equal(ev.paused, -1);
    assert_int_equal(ev.completed, -1);
    assert_int_equal(ev.rating, 0);
    assert_int_equal(ev.watched_at, 0);
    assert_int_equal(ev.source_ts, 0);
    assert_false(ev.has_progress);
    assert_int_equal(ev.item.type, ITEM_NONE);
    assert_int_equal(ev.item.season, -1);
    event_release(&ev);
    /* release resets, so a second release is harmless */
    base_event(&ev);
    event_finish(&ev);
    event_release(&ev);
    assert_null(ev.source);
    assert_null(ev.key);
    event_release(&ev);
}

static const struct progress_case {
    int64_t pos, dur;
    bool preset;
    double preset_value;
    bool want_has;
    double want;
} progress_cases[] = {
    {3051000, 3378000, false, 0, true, 3051000.0 / 3378000.0 * 100.0},
    {0, 1000, false, 0, true, 0},
    {500, 1000, false, 0, true, 50},
    {1000, 1000, false, 0, true, 100},
    {2000, 1000, false, 0, true, 100},   /* clamped */
    {-1, 1000, false, 0, false, 0},      /* no position */
    {500, -1, false, 0, false, 0},       /* no duration */
    {500, 0, false, 0, false, 0},        /* zero duration */
    {-1, -1, true, 42.5, true, 42.5},    /* set by the source */
    {100, 1000, true, 42.5, true, 42.5}, /* preset wins */
    {-1, -1, true, 150, true, 100},      /* clamped */
    {-1, -1, true, -5, true, 0},         /* clamped */
    {-1, -1, true, NAN, true, 0},
};

static void
test_finish_progress(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(progress_cases); i++) {
        const struct progress_case *c = &progress_cases[i];
        struct event ev;

        base_event(&ev);
        ev.position_ms = c->pos;
        ev.duration_ms = c->dur;
        ev.has_progress = c->preset;
        ev.progress = c->preset_value;
        event_finish(&ev);
        if (ev.has_progress != c->want_has ||
            (c->want_has && fabs(ev.progress - c->want) > 1e-9))
            fail_msg("progress case %zu: has %d %.6f, want %d %.6f", i,
                     ev.has_progress, ev.progress, c->want_has, c->want);
        event_release(&ev);
    }
}

static const struct occurred_case {
    int64_t received, source_ts, want;
} occurred_cases[] = {
    {T0, 0, T0},
    {T0, T0, T0},
    {T0, T0 - 5, T0 - 5},
    {T0, T0 - 600, T0 - 600},
    {T0, T0 + 600, T0 + 600},
    {T0, T0 - 601, T0},
    {T0, T0 + 601, T0},
    {T0, T0 - 86400, T0},
    {T0, 1, T0},
    {T0, INT64_MIN, T0},
    {T0, INT64_MAX, T0},
    {-T0, INT64_MAX, -T0},
    {INT64_MAX, INT64_MIN, INT64_MAX},
};

static void
test_finish_occurred_at(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(occurred_cases); i++) {
        struct event ev;

        base_event(&ev);
        ev.received_at = occurred_cases[i].received;
        ev.source_ts = occurred_cases[i].source_ts;
        event_finish(&ev);
        if (ev.occurred_at != occurred_cases[i].want)
            fail_msg("occurred case %zu: %" PRId64 ", want %" PRId64, i,
                     ev.occurred_at, occurred_cases[i].want);
        event_release(&ev);
    }
}

static bool
is_hex32(const char *s)
{
    if (strlen(s) != EVENT_ID_LEN)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void
test_finish_key_and_id(void **state)
{
    struct event a, b;

    (void)state;
    base_event(&a);
    base_event(&b);
    event_finish(&a);
    event_finish(&b);
    assert_string_equal(a.key, "show:tmdb:95396#s01e01");
    assert_true(is_hex32(a.id));
    assert_string_equal(a.id, b.id);
    /* finishing again changes nothing */
    event_finish(&b);
    assert_string_equal(a.id, b.id);
    assert_string_equal(a.key, b.key);
    /* fields outside the identity do not move it */
    b.received_at = T0 + 30;
    b.paused = 1;
    b.completed = 0;
    event_finish(&b);
    assert_string_equal(a.id, b.id);
    assert_int_equal(b.occurred_at, T0 - 5);
    /* the key follows the item */
    item_release(&b.item);
    b.item.type = ITEM_MOVIE;
    item_ids_set(&b.item.ids, ITEM_ID_TMDB, "329865");
    event_finish(&b);
    assert_string_equal(b.key, "movie:tmdb:329865");
    assert_string_not_equal(a.id, b.id);
    event_release(&a);
    event_release(&b);
}

static void
set_str(char **p, const char *v)
{
    free(*p);
    *p = v ? xstrdup(v) : NULL;
}

/* Each changes one identity field of base_event. */
static void
mut_source(struct event *ev)
{
    set_str(&ev->source, "tautulli");
}
static void
mut_server(struct event *ev)
{
    set_str(&ev->server, "other-server");
}
static void
mut_server_null(struct event *ev)
{
    set_str(&ev->server, NULL);
}
static void
mut_session(struct event *ev)
{
    set_str(&ev->session, "other-session");
}
static void
mut_kind(struct event *ev)
{
    ev->kind = EVENT_HISTORY;
}
static void
mut_action(struct event *ev)
{
    ev->action = EVENT_PAUSE;
}
static void
mut_key(struct event *ev)
{
    ev->item.episode = 2;
}
static void
mut_position(struct event *ev)
{
    ev->position_ms = 3051001;
    ev->has_progress = true; /* keep progress out of the picture */
    ev->progress = 50;
}
static void
mut_position_unknown(struct event *ev)
{
    ev->position_ms = -1;
    ev->has_progress = true;
    ev->progress = 50;
}
static void
mut_progress_only(struct event *ev)
{
    ev->has_progress = true;
    ev->progress = 50;
}
static void
mut_source_ts(struct event *ev)
{
    ev->source_ts = T0 - 6;
}
static void
mut_source_ts_none(struct event *ev)
{
    ev->source_ts = 0;
}
static void
mut_rating(struct event *ev)
{
    ev->rating = 8;
}
static void
mut_watched_at(struct event *ev)
{
    ev->watched_at = T0 - 100;
}
static void
mut_pair(struct event *ev)
{
    set_str(&ev->pair, "plex-to-trakt");
}
static void
mut_user_id(struct event *ev)
{
    set_str(&ev->user_id, "1");
}
static void
mut_user_name(struct event *ev)
{
    set_str(&ev->user_name, "sam");
}
/* "|" inside a value cannot fake a field boundary. */
static void
mut_pipe_a(struct event *ev)
{
    set_str(&ev->server, "s|x");
    set_str(&ev->session, "y");
}
static void
mut_pipe_b(struct event *ev)
{
    set_str(&ev->server, "s");
    set_str(&ev->session, "x|y");
}

static void (*const mutations[])(struct event *) = {
    mut_source,        mut_server,     mut_server_null,
    mut_session,       mut_kind,       mut_action,
    mut_key,           mut_position,   mut_position_unknown,
    mut_progress_only, mut_source_ts,  mut_source_ts_none,
    mut_rating,        mut_watched_at, mut_pair,
    mut_user_id,       mut_user_name,  mut_pipe_a,
    mut_pipe_b,
};

static void
test_id_sensitivity(void **state)
{
    char ids[N_ELEMS(mutations) + 1][EVENT_ID_LEN + 1];
    struct event ev;

    (void)state;
    base_event(&ev);
    event_finish(&ev);
    memcpy(ids[0], ev.id, sizeof(ids[0]));
    event_release(&ev);
    for (size_t i = 0; i < N_ELEMS(mutations); i++) {
        struct event again;

        base_event(&ev);
        mutations[i](&ev);
        event_finish(&ev);
        assert_true(is_hex32(ev.id));
        memcpy(ids[i + 1], ev.id, sizeof(ids[0]));
        /* the same change twice gives the same id */
        base_event(&again);
        mutations[i](&again);
        event_finish(&again);
        assert_string_equal(again.id, ev.id);
        event_release(&again);
        event_release(&ev);
    }
    for (size_t i = 0; i < N_ELEMS(ids); i++)
        for (size_t j = i + 1; j < N_ELEMS(ids); j++)
            if (strcmp(ids[i], ids[j]) == 0)
                fail_msg("ids %zu and %zu collide: %s", i, j, ids[i]);
}

static const struct rating_case {
    double in;
    int want;
} rating_cases[] = {
    {7.5, 8},   {8.0, 8},  {0.5, 1},      {10, 10},       {9.94, 10}, {7.44, 7},
    {7.449, 7}, {4.5, 5},  {4.4, 4},      {4.44, 4},      {4.45, 5},  {1, 1},
    {3, 3},     {0.04, 1}, {0.1, 1},      {0.96, 1},      {1.5, 2},   {9.5, 10},
    {10.5, 10}, {100, 10}, {1e300, 10},   {0, 0},         {-0.0, 0},  {-1, 0},
    {-7.5, 0},  {NAN, 0},  {INFINITY, 0}, {-INFINITY, 0},
};

static void
test_rating_canonical(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(rating_cases); i++)
        if (rating_canonical(rating_cases[i].in) != rating_cases[i].want)
            fail_msg("rating %g -> %d, want %d", rating_cases[i].in,
                     rating_canonical(rating_cases[i].in),
                     rating_cases[i].want);
}

static void
test_to_json(void **state)
{
    struct event ev;
    struct json_object *got, *want;
    char *expect;

    (void)state;
    base_event(&ev);
    ev.completed = 1;
    event_finish(&ev);
    got = event_to_json(&ev);
    expect = xasprintf(
        "{\"v\":1,\"id\":\"%s\",\"source\":\"plex\",\"kind\":\"scrobble\","
        "\"action\":\"stop\",\"occurred_at\":\"2025-03-02T20:47:05Z\","
        "\"received_at\":\"2025-03-02T20:47:10Z\","
        "\"user\":{\"name\":\"dana\",\"id\":\"48213377\"},"
        "\"server\":\"9b2e6f3c1d0a47e88c5b7a21f4d39e6c0b8a1f72\","
        "\"session\":\"a1b2c3d4e5f60718-com-plexapp-android\","
        "\"item\":{\"type\":\"episode\",\"title\":\"Good News About Hell\","
        "\"year\":2022,\"ids\":{\"tvdb\":8603573,\"plex\":\"48211\"},"
        "\"show\":{\"title\":\"Severance\",\"ids\":{\"tmdb\":95396}},"
        "\"season\":1,\"episode\":1},"
        "\"key\":\"show:tmdb:95396#s01e01\",\"progress\":90.32,"
        "\"position_ms\":3051000,\"duration_ms\":3378000,\"completed\":true}",
        ev.id);
    want = parse(expect);
    if (!json_object_equal(got, want))
        fail_msg("\n got  %s\n want %s", jsonu_str(got, NULL), expect);
    /* the serialized progress is the rounded text, not %.17g */
    assert_non_null(strstr(jsonu_str(got, NULL), "\"progress\":90.32,"));
    json_object_put(got);
    json_object_put(want);
    free(expect);
    event_release(&ev);
}

struct member_case {
    const char *what;
    void (*setup)(struct event *);
    const char *present; /* substring expected in the output, or NULL */
    const char *absent;  /* substring that must not appear, or NULL */
};

static void
setup_minimal(struct event *ev)
{
    event_init(ev);
    ev->source = xstrdup("jellyfin");
    ev->kind = EVENT_WATCHLIST;
    ev->action = EVENT_ADD;
    ev->received_at = T0;
    ev->item.type = ITEM_MOVIE;
    item_ids_set(&ev->item.ids, ITEM_ID_IMDB, "tt2543164");
}
static void
setup_user_name_only(struct event *ev)
{
    setup_minimal(ev);
    ev->user_name = xstrdup("dana");
}
static void
setup_user_id_only(struct event *ev)
{
    setup_minimal(ev);
    ev->user_id = xstrdup("u1");
}
static void
setup_progress_985(struct event *ev)
{
    setup_minimal(ev);
    ev->has_progress = true;
    ev->progress = 98.5;
}
static void
setup_progress_100(struct event *ev)
{
    setup_minimal(ev);
    ev->position_ms = 5000;
    ev->duration_ms = 5000;
}
static void
setup_progress_third(struct event *ev)
{
    setup_minimal(ev);
    ev->has_progress = true;
    ev->progress = 100.0 / 3.0;
}
static void
setup_progress_tiny(struct event *ev)
{
    setup_minimal(ev);
    ev->has_progress = true;
    ev->progress = 0.004;
}
static void
setup_progress_round_up(struct event *ev)
{
    setup_minimal(ev);
    ev->has_progress = true;
    ev->progress = 99.999;
}
static void
setup_progress_005(struct event *ev)
{
    setup_minimal(ev);
    ev->has_progress = true;
    ev->progress = 0.05;
}
static void
setup_paused(struct event *ev)
{
    setup_minimal(ev);
    ev->paused = 0;
    ev->completed = 0;
}
static void
setup_rating(struct event *ev)
{
    setup_minimal(ev);
    ev->kind = EVENT_RATING;
    ev->action = EVENT_SET;
    ev->rating = 8;
}
static void
setup_watched(struct event *ev)
{
    setup_minimal(ev);
    ev->kind = EVENT_HISTORY;
    ev->watched_at = T0 - 3600;
}
static void
setup_pair(struct event *ev)
{
    setup_minimal(ev);
    ev->pair = xstrdup("p1");
}

static const struct member_case member_cases[] = {
    {"minimal", setup_minimal, "\"item\":{\"type\":\"movie\"", "\"user\""},
    {"minimal", setup_minimal, "\"key\":\"movie:imdb:tt2543164\"",
     "\"server\""},
    {"minimal", setup_minimal, "\"v\":1,", "\"session\""},
    {"minimal", setup_minimal, NULL, "\"pair\""},
    {"minimal", setup_minimal, NULL, "\"progress\""},
    {"minimal", setup_minimal, NULL, "\"position_ms\""},
    {"minimal", setup_minimal, NULL, "\"duration_ms\""},
    {"minimal", setup_minimal, NULL, "\"paused\""},
    {"minimal", setup_minimal, NULL, "\"completed\""},
    {"minimal", setup_minimal, NULL, "\"rating\""},
    {"minimal", setup_minimal, NULL, "\"watched_at\""},
    {"minimal", setup_minimal, "\"occurred_at\":\"2025-03-02T20:47:10Z\"",
     NULL},
    {"user name", setup_user_name_only, "\"user\":{\"name\":\"dana\"}", NULL},
    {"user id", setup_user_id_only, "\"user\":{\"id\":\"u1\"}", NULL},
    {"98.5", setup_progress_985, "\"progress\":98.5", "\"progress\":98.50"},
    {"100", setup_progress_100, "\"progress\":100", "\"progress\":100."},
    {"33.33", setup_progress_third, "\"progress\":33.33",
     "\"progress\":33.333"},
    {"0.004", setup_progress_tiny, "\"progress\":0", "\"progress\":0."},
    {"99.999", setup_progress_round_up, "\"progress\":100",
     "\"progress\":100."},
    {"0.05", setup_progress_005, "\"progress\":0.05", "\"progress\":0.050"},
    {"paused", setup_paused, "\"paused\":false,\"completed\":false", NULL},
    {"rating", setup_rating, "\"rating\":8", NULL},
    {"watched_at", setup_watched, "\"watched_at\":\"2025-03-02T19:47:10Z\"",
     NULL},
    {"pair", setup_pair, "\"pair\":\"p1\"", NULL},
};

static void
test_to_json_members(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(member_cases); i++) {
        const struct member_case *c = &member_cases[i];
        struct event ev;
        struct json_object *o;
        const char *s;

        c->setup(&ev);
        event_finish(&ev);
        o = event_to_json(&ev);
        s = jsonu_str(o, NULL);
        if (c->present && strstr(s, c->present) == NULL)
            fail_msg("%s: missing %s in %s", c->what, c->present, s);
        if (c->absent && strstr(s, c->absent) != NULL)
            fail_msg("%s: unexpected %s in %s", c->what, c->absent, s);
        json_object_put(o);
        event_release(&ev);
    }
}

/* to_json -> text -> parse -> from_json -> to_json gives the same text. */
static void
round_trip(const struct event *ev)
{
    struct json_object *o1 = event_to_json(ev), *o2, *o3;
    char err[128] = "";
    struct event back;
    char *s1 = xstrdup(jsonu_str(o1, NULL));

    o2 = parse(s1);
    if (event_from_json(&back, o2, err, sizeof(err)) != 0)
        fail_msg("from_json failed: %s on %s", err, s1);
    o3 = event_to_json(&back);
    if (strcmp(s1, jsonu_str(o3, NULL)) != 0)
        fail_msg("round trip:\n first  %s\n second %s", s1,
                 jsonu_str(o3, NULL));
    assert_string_equal(back.id, ev->id);
    assert_string_equal(back.key, ev->key);
    assert_int_equal(back.source_ts, back.occurred_at);
    assert_int_equal(back.occurred_at, ev->occurred_at);
    assert_int_equal(back.received_at, ev->received_at);
    assert_int_equal(back.kind, ev->kind);
    assert_int_equal(back.action, ev->action);
    assert_int_equal(back.position_ms, ev->position_ms);
    assert_int_equal(back.duration_ms, ev->duration_ms);
    assert_int_equal(back.paused, ev->paused);
    assert_int_equal(back.completed, ev->completed);
    assert_int_equal(back.rating, ev->rating);
    assert_int_equal(back.watched_at, ev->watched_at);
    assert_int_equal(back.has_progress, ev->has_progress);
    json_object_put(o1);
    json_object_put(o2);
    json_object_put(o3);
    free(s1);
    event_release(&back);
}

static void
test_round_trip(void **state)
{
    struct event ev;

    (void)state;
    base_event(&ev);
    ev.completed = 1;
    ev.paused = 0;
    event_finish(&ev);
    round_trip(&ev);
    event_release(&ev);
    for (size_t i = 0; i < N_ELEMS(member_cases); i++) {
        member_cases[i].setup(&ev);
        event_finish(&ev);
        round_trip(&ev);
        event_release(&ev);
    }
    /* a season rating with only show ids; a playlist reorder */
    event_init(&ev);
    ev.source = xstrdup("emby");
    ev.kind = EVENT_RATING;
    ev.action = EVENT_CLEAR;
    ev.received_at = T0;
    ev.item.type = ITEM_SEASON;
    ev.item.season = 0;
    item_ids_set(&ev.item.show_ids, ITEM_ID_TVDB, "73871");
    event_finish(&ev);
    assert_string_equal(ev.key, "show:tvdb:73871#s00");
    round_trip(&ev);
    event_release(&ev);
}

static const struct reject_case {
    const char *member;
    const char *value; /* JSON text; NULL deletes the member */
} reject_cases[] = {
    {"v", NULL},
    {"v", "2"},
    {"v", "\"1\""},
    {"v", "1.5"},
    {"id", NULL},
    {"id", "\"0123456789abcdef0123456789abcde\""},
    {"id", "\"0123456789abcdef0123456789abcdef0\""},
    {"id", "\"0123456789ABCDEF0123456789ABCDEF\""},
    {"id", "\"0123456789abcdef0123456789abcdeg\""},
    {"id", "5"},
    {"source", NULL},
    {"source", "7"},
    {"kind", NULL},
    {"kind", "\"sleep\""},
    {"kind", "\"Scrobble\""},
    {"action", "\"jump\""},
    {"action", "null"},
    {"occurred_at", NULL},
    {"occurred_at", "\"yesterday\""},
    {"occurred_at", "1740948430"},
    {"received_at", NULL},
    {"received_at", "\"2025-13-02T20:47:10Z\""},
    {"user", "\"dana\""},
    {"user", "{\"name\":5}"},
    {"user", "{\"id\":48213377}"},
    {"server", "1"},
    {"session", "[]"},
    {"pair", "false"},
    {"item", NULL},
    {"item", "\"movie\""},
    {"item", "{\"type\":\"clip\",\"ids\":{}}"},
    {"item", "{\"type\":\"movie\",\"ids\":{\"tmdb\":\"1\"}}"},
    {"key", NULL},
    {"key", "1"},
    {"progress", "101"},
    {"progress", "-0.5"},
    {"progress", "\"50\""},
    {"position_ms", "-1"},
    {"position_ms", "\"5\""},
    {"position_ms", "1.5"},
    {"duration_ms", "-2"},
    {"paused", "\"true\""},
    {"paused", "1"},
    {"completed", "0"},
    {"rating", "0"},
    {"rating", "11"},
    {"rating", "7.5"},
    {"rating", "\"8\""},
    {"watched_at", "\"soon\""},
    {"watched_at", "0"},
};

static const char *const valid_json =
    "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\","
    "\"source\":\"plex\",\"kind\":\"scrobble\",\"action\":\"stop\","
    "\"occurred_at\":\"2025-03-02T20:47:05Z\","
    "\"received_at\":\"2025-03-02T20:47:10Z\","
    "\"user\":{\"name\":\"dana\",\"id\":\"1\"},\"server\":\"srv\","
    "\"session\":\"s1\",\"pair\":\"p\","
    "\"item\":{\"type\":\"movie\",\"title\":\"Arrival\",\"year\":2016,"
    "\"ids\":{\"tmdb\":329865}},\"key\":\"movie:tmdb:329865\","
    "\"progress\":90.32,\"position_ms\":3051000,\"duration_ms\":3378000,"
    "\"paused\":false,\"completed\":true,\"rating\":8,"
    "\"watched_at\":\"2025-03-02T20:47:05Z\"}";

static void
test_from_json_valid(void **state)
{
    struct json_object *o = parse(valid_json), *out;
    struct event ev;
    char err[128];

    (void)state;
    assert_int_equal(event_from_json(&ev, o, err, sizeof(err)), 0);
    assert_string_equal(ev.id, "0123456789abcdef0123456789abcdef");
    assert_string_equal(ev.source, "plex");
    assert_int_equal(ev.kind, EVENT_SCROBBLE);
    assert_int_equal(ev.action, EVENT_STOP);
    assert_int_equal(ev.occurred_at, T0 - 5);
    assert_int_equal(ev.source_ts, T0 - 5);
    assert_int_equal(ev.received_at, T0);
    assert_string_equal(ev.user_name, "dana");
    assert_string_equal(ev.user_id, "1");
    assert_string_equal(ev.server, "srv");
    assert_string_equal(ev.session, "s1");
    assert_string_equal(ev.pair, "p");
    assert_int_equal(ev.item.type, ITEM_MOVIE);
    assert_string_equal(ev.item.ids.v[ITEM_ID_TMDB], "329865");
    assert_string_equal(ev.key, "movie:tmdb:329865");
    assert_true(ev.has_progress);
    assert_true(fabs(ev.progress - 90.32) < 1e-9);
    assert_int_equal(ev.position_ms, 3051000);
    assert_int_equal(ev.duration_ms, 3378000);
    assert_int_equal(ev.paused, 0);
    assert_int_equal(ev.completed, 1);
    assert_int_equal(ev.rating, 8);
    assert_int_equal(ev.watched_at, T0 - 5);
    /* and it writes back exactly */
    out = event_to_json(&ev);
    assert_true(json_object_equal(out, o));
    json_object_put(out);
    event_release(&ev);
    /* unknown members are ignored; offsets and fractions are read */
    json_object_object_add(o, "future_field", json_object_new_int(3));
    json_object_object_add(
        o, "occurred_at",
        json_object_new_string("2025-03-02T21:47:05.1234567+01:00"));
    assert_int_equal(event_from_json(&ev, o, err, sizeof(err)), 0);
    assert_int_equal(ev.occurred_at, T0 - 5);
    event_release(&ev);
    /* optional members may be absent */
    json_object_object_del(o, "user");
    json_object_object_del(o, "server");
    json_object_object_del(o, "progress");
    json_object_object_del(o, "rating");
    assert_int_equal(event_from_json(&ev, o, err, sizeof(err)), 0);
    assert_null(ev.user_name);
    assert_null(ev.server);
    assert_false(ev.has_progress);
    assert_int_equal(ev.rating, 0);
    event_release(&ev);
    json_object_put(o);
}

static void
test_from_json_reject(void **state)
{
    struct event ev;
    char err[128];
    struct json_object *arr = parse("[1]");

    (void)state;
    assert_int_equal(event_from_json(&ev, arr, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    event_release(&ev);
    json_object_put(arr);
    assert_int_equal(event_from_json(&ev, NULL, NULL, 0), -1);
    event_release(&ev);
    for (size_t i = 0; i < N_ELEMS(reject_cases); i++) {
        const struct reject_case *c = &reject_cases[i];
        struct json_object *o = parse(valid_json);

        if (c->value == NULL)
            json_object_object_del(o, c->member);
        else
            json_object_object_add(o, c->member, json_tokener_parse(c->value));
        err[0] = '\0';
        if (event_from_json(&ev, o, err, sizeof(err)) != -1)
            fail_msg("reject case %zu: %s=%s accepted", i, c->member,
                     c->value ? c->value : "(deleted)");
        assert_true(strlen(err) > 0);
        /* nothing is left allocated or half-set */
        assert_null(ev.source);
        assert_null(ev.key);
        assert_int_equal(ev.item.type, ITEM_NONE);
        event_release(&ev);
        json_object_put(o);
    }
}

static void
test_list(void **state)
{
    struct event_list l;

    (void)state;
    event_list_init(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.ignored);
    for (int i = 0; i < 37; i++) {
        struct event *ev = event_list_push(&l);

        assert_int_equal(ev->position_ms, -1);
        assert_int_equal(ev->item.season, -1);
        ev->source = xasprintf("src%d", i);
        ev->item.type = ITEM_MOVIE;
        item_ids_set(&ev->item.ids, ITEM_ID_TMDB, "603");
        event_finish(ev);
    }
    assert_int_equal(l.n, 37);
    assert_true(l.cap >= 37);
    for (int i = 0; i < 37; i++) {
        char want[16];

        snprintf(want, sizeof(want), "src%d", i);
        assert_string_equal(l.v[i].source, want);
        assert_string_equal(l.v[i].key, "movie:tmdb:603");
    }
    event_list_ignore(&l, "music (%s)", "track");
    assert_string_equal(l.ignored, "music (track)");
    event_list_ignore(&l, "%d things", 3);
    assert_string_equal(l.ignored, "3 things");
    event_list_release(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
    assert_null(l.ignored);
    /* reusable after release */
    event_list_ignore(&l, "library.new");
    assert_string_equal(l.ignored, "library.new");
    event_list_release(&l);
    event_list_release(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_finish_progress),
        cmocka_unit_test(test_finish_occurred_at),
        cmocka_unit_test(test_finish_key_and_id),
        cmocka_unit_test(test_id_sensitivity),
        cmocka_unit_test(test_rating_canonical),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_to_json_members),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_from_json_valid),
        cmocka_unit_test(test_from_json_reject),
        cmocka_unit_test(test_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
