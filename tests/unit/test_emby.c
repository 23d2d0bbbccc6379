#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "handler.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define FIXTURE_DIR "tests/fixtures/emby"
#define MIN_CASES   18

#define NOW 1740949200 /* 2025-03-02T21:00:00Z */

#define USER   "\"User\":{\"Name\":\"dana\",\"Id\":\"u1\"}"
#define SERVER "\"Server\":{\"Name\":\"nas\",\"Id\":\"s1\"}"
#define SESS   "\"Session\":{\"DeviceId\":\"d1\",\"Id\":\"x1\"}"
#define MOVIE                                                              \
    "\"Item\":{\"Name\":\"Arrival\",\"Id\":\"240270\",\"Type\":\"Movie\"," \
    "\"ProductionYear\":2016,\"RunTimeTicks\":69540000000,"                \
    "\"ProviderIds\":{\"Tmdb\":\"329865\",\"Imdb\":\"tt2543164\"}}"

struct run {
    int rc;
    char err[256];
    struct event_list out;
};

static void
run_emby_n(struct run *r, const char *ct, const char *body, size_t len)
{
    struct hook_request req;

    memset(&req, 0, sizeof(req));
    req.content_type = ct;
    req.body = body;
    req.len = len;
    req.now = NOW;
    event_list_init(&r->out);
    r->err[0] = '\0';
    r->rc = handler_emby.parse(&req, &r->out, r->err, sizeof(r->err));
}

static void
run_emby(struct run *r, const char *ct, const char *body)
{
    run_emby_n(r, ct, body, strlen(body));
}

static void
test_fixtures(void **state)
{
    int count = 0;
    int fails = fixture_check_dir(&handler_emby, FIXTURE_DIR, &count);

    (void)state;
    assert_int_equal(fails, 0);
    assert_true(count >= MIN_CASES);
}

struct map_case {
    const char *event;
    int kind; /* -1 = ignored */
    int action;
};

static void
test_event_map(void **state)
{
    static const struct map_case cases[] = {
        {"playback.start", EVENT_SCROBBLE, EVENT_START},
        {"playback.unpause", EVENT_SCROBBLE, EVENT_RESUME},
        {"playback.pause", EVENT_SCROBBLE, EVENT_PAUSE},
        {"playback.stop", EVENT_SCROBBLE, EVENT_STOP},
        {"Playback.Stop", EVENT_SCROBBLE, EVENT_STOP},
        {"item.markplayed", EVENT_HISTORY, EVENT_ADD},
        {"item.markunplayed", EVENT_HISTORY, EVENT_REMOVE},
        {"item.rate", -1, 0},
        {"library.new", -1, 0},
        {"library.deleted", -1, 0},
        {"user.authenticated", -1, 0},
        {"playback.progress", -1, 0},
        {"system.notificationtest", -1, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024];
        struct run r;

        snprintf(json, sizeof(json),
                 "{\"Event\":\"%s\",\"Date\":\"2025-03-02T20:59:00Z\"," USER
                 "," SERVER "," SESS "," MOVIE
                 ",\"PlaybackInfo\":{\"PositionTicks\":69310000000,"
                 "\"PlayedToCompletion\":true}}",
                 cases[i].event);
        print_message("event %s\n", cases[i].event);
        run_emby(&r, "application/json", json);
        assert_int_equal(r.rc, 0);
        if (cases[i].kind < 0) {
            assert_int_equal(r.out.n, 0);
            assert_non_null(r.out.ignored);
            event_list_release(&r.out);
            continue;
        }
        assert_int_equal(r.out.n, 1);
        assert_int_equal(r.out.v[0].kind, cases[i].kind);
        assert_int_equal(r.out.v[0].action, cases[i].action);
        assert_string_equal(r.out.v[0].source, "emby");
        assert_int_equal(r.out.v[0].source_ts, NOW - 60);
        assert_int_equal(r.out.v[0].occurred_at, NOW - 60);
        assert_string_equal(r.out.v[0].key, "movie:tmdb:329865");
        assert_string_equal(r.out.v[0].item.ids.v[ITEM_ID_EMBY], "240270");
        if (cases[i].kind == EVENT_SCROBBLE) {
            assert_string_equal(r.out.v[0].session, "s1:x1:240270:u1");
            assert_int_equal(r.out.v[0].position_ms, 6931000);
            assert_int_equal(r.out.v[0].duration_ms, 6954000);
            /* completed only on stop */
            assert_int_equal(r.out.v[0].completed,
                             cases[i].action == EVENT_STOP ? 1 : -1);
        } else {
            assert_null(r.out.v[0].session);
            assert_int_equal(r.out.v[0].position_ms, -1);
            assert_int_equal(r.out.v[0].watched_at,
                             cases[i].action == EVENT_ADD ? NOW - 60 : 0);
        }
        event_list_release(&r.out);
    }
}

struct ct_case {
    const char *what;
    const char *ct;
    const char *body;
    int rc;        /* -1 error, 0 event, 1 ignored */
    const char *s; /* error or ignored substring */
};

#define EV_JSON "{\"Event\":\"playback.start\"," USER "," SERVER "," MOVIE "}"
#define MPB     "----EmbyBoundary7MA4YWxk"

static void
test_content_types(void **state)
{
    static const struct ct_case cases[] = {
        {"json", "application/json", EV_JSON, 0, NULL},
        {"json with charset", "Application/JSON; charset=utf-8", EV_JSON, 0,
         NULL},
        {"no content type, JSON sniffed", NULL, "  \r\n" EV_JSON, 0, NULL},
        {"text/plain, JSON sniffed", "text/plain", EV_JSON, 0, NULL},
        {"multipart", "multipart/form-data; boundary=" MPB,
         "--" MPB
         "\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n" EV_JSON
         "\r\n--" MPB "--\r\n",
         0, NULL},
        {"multipart sniffed without content type", NULL,
         "--" MPB
         "\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n" EV_JSON
         "\r\n--" MPB "--\r\n",
         0, NULL},
        {"urlencoded", "application/x-www-form-urlencoded",
         "data=%7B%22Event%22%3A%22playback.start%22%2C%22Item%22%3A%7B%22Id"
         "%22%3A%221%22%2C%22Type%22%3A%22Movie%22%2C%22Name%22%3A%22A+B%22"
         "%7D%7D",
         0, NULL},
        {"urlencoded sniffed", NULL,
         "data=%7B%22Event%22%3A%22library.new%22%7D", 1, "library.new"},
        {"empty json body", "application/json", "", 1, "test notification"},
        {"blank body", NULL, " \r\n", 1, "test notification"},
        {"empty urlencoded", "application/x-www-form-urlencoded", "", 1,
         "test notification"},
        {"empty data field", "application/x-www-form-urlencoded", "data=", 1,
         "test notification"},
        {"notificationtest", "application/json",
         "{\"Event\":\"system.notificationtest\"}", 1, "test notification"},
        {"bad json", "application/json", "{\"Event\":", -1, "JSON"},
        {"json array", "application/json", "[]", -1, "JSON object"},
        {"no Event", "application/json", "{\"event\":\"playback.start\"}", -1,
         "Event"},
        {"no Item", "application/json", "{\"Event\":\"playback.start\"}", -1,
         "Item"},
        {"multipart without boundary", "multipart/form-data", "--x\r\n", -1,
         "boundary"},
        {"multipart without data part", "multipart/form-data; boundary=b",
         "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{}\r\n"
         "--b--\r\n",
         -1, "data part"},
        {"bad multipart", "multipart/form-data; boundary=b", "nothing here", -1,
         "multipart"},
        {"urlencoded without data", "application/x-www-form-urlencoded", "x=1",
         -1, "data"},
        {"garbage without content type", NULL, "hello", -1, "JSON"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;

        print_message("case: %s\n", cases[i].what);
        run_emby(&r, cases[i].ct, cases[i].body);
        if (cases[i].rc < 0) {
            assert_int_equal(r.rc, -1);
            assert_non_null(strstr(r.err, cases[i].s));
        } else {
            assert_int_equal(r.rc, 0);
        }
        if (cases[i].rc == 0) {
            assert_int_equal(r.out.n, 1);
            assert_int_equal(r.out.v[0].action, EVENT_START);
        } else {
            assert_int_equal(r.out.n, 0);
        }
        if (cases[i].rc == 1)
            assert_non_null(strstr(r.out.ignored, cases[i].s));
        event_list_release(&r.out);
    }
}

struct type_case {
    const char *event;
    const char *type;
    int item_type; /* ITEM_NONE = ignored */
};

static void
test_item_types(void **state)
{
    static const struct type_case cases[] = {
        {"playback.start", "Movie", ITEM_MOVIE},
        {"playback.start", "Episode", ITEM_EPISODE},
        {"playback.start", "Series", ITEM_NONE},
        {"item.markplayed", "Season", ITEM_NONE},
        {"playback.start", "Audio", ITEM_NONE},
        {"playback.start", "MusicVideo", ITEM_NONE},
        {"playback.start", "Trailer", ITEM_NONE},
        {"playback.start", "TvChannel", ITEM_NONE},
        {"item.rate", "Series", ITEM_SHOW},
        {"item.rate", "Season", ITEM_SEASON},
        {"item.rate", "Audio", ITEM_NONE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024];
        struct run r;

        snprintf(json, sizeof(json),
                 "{\"Event\":\"%s\"," USER ",\"Item\":{\"Id\":\"1\","
                 "\"Type\":\"%s\",\"Name\":\"N\",\"SeriesName\":\"S\","
                 "\"IndexNumber\":2,\"UserData\":{\"Rating\":6.5}}}",
                 cases[i].event, cases[i].type);
        print_message("%s %s\n", cases[i].event, cases[i].type);
        run_emby(&r, "application/json", json);
        assert_int_equal(r.rc, 0);
        if (cases[i].item_type == ITEM_NONE) {
            assert_int_equal(r.out.n, 0);
            assert_non_null(strstr(r.out.ignored, cases[i].type));
        } else {
            assert_int_equal(r.out.n, 1);
            assert_int_equal(r.out.v[0].item.type, cases[i].item_type);
        }
        event_list_release(&r.out);
    }
}

struct rate_case {
    const char *userdata; /* JSON object text, or NULL = no UserData */
    int n;
    int action;
    int rating;
};

static void
test_item_rate(void **state)
{
    static const struct rate_case cases[] = {
        {"{\"Rating\":8.5}", 1, EVENT_SET, 9},
        {"{\"Rating\":10}", 1, EVENT_SET, 10},
        {"{\"Rating\":0}", 1, EVENT_CLEAR, 0},
        {"{\"Rating\":-1}", 1, EVENT_CLEAR, 0},
        {"{\"IsFavorite\":true}", 0, 0, 0},
        {"{\"Rating\":\"8\"}", 0, 0, 0},
        {NULL, 0, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024];
        struct run r;

        snprintf(json, sizeof(json),
                 "{\"Event\":\"item.rate\"," USER ",\"Item\":{\"Id\":\"1\","
                 "\"Type\":\"Movie\",\"Name\":\"N\"%s%s}}",
                 cases[i].userdata ? ",\"UserData\":" : "",
                 cases[i].userdata ? cases[i].userdata : "");
        print_message("UserData %s\n",
                      cases[i].userdata ? cases[i].userdata : "-");
        run_emby(&r, "application/json", json);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.out.n, cases[i].n);
        if (cases[i].n == 0) {
            assert_non_null(strstr(r.out.ignored, "no rating value"));
        } else {
            assert_int_equal(r.out.v[0].kind, EVENT_RATING);
            assert_int_equal(r.out.v[0].action, cases[i].action);
            assert_int_equal(r.out.v[0].rating, cases[i].rating);
        }
        event_list_release(&r.out);
    }
}

static void
test_ids_and_fields(void **state)
{
    struct run r;
    const struct item *it;

    (void)state;
    run_emby(&r, "application/json",
             "{\"Event\":\"playback.pause\"," USER "," SERVER
             ",\"Session\":{\"DeviceId\":\"dev-9\"},"
             "\"Item\":{\"Name\":\"Ep\",\"Id\":87146,\"Type\":\"episode\","
             "\"SeriesName\":\"Severance\",\"ParentIndexNumber\":0,"
             "\"IndexNumber\":3,\"ProductionYear\":2022,"
             "\"RunTimeTicks\":33780000000,"
             "\"ProviderIds\":{\"TVDB\":\"8603573\",\"imdb\":\"tt11650492\","
             "\"Tmdb\":1960512,\"Zap2It\":\"EP1\",\"Emby\":\"999\","
             "\"Plex\":\"5\",\"MusicBrainzTrack\":\"x\",\"Tvdb\":\"\"}},"
             "\"PlaybackInfo\":{\"PositionTicks\":15200000000,"
             "\"PlayedToCompletion\":true}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.n, 1);
    it = &r.out.v[0].item;
    assert_int_equal(it->type, ITEM_EPISODE);
    assert_string_equal(it->ids.v[ITEM_ID_TVDB], "8603573");
    assert_string_equal(it->ids.v[ITEM_ID_IMDB], "tt11650492");
    assert_string_equal(it->ids.v[ITEM_ID_TMDB], "1960512");
    assert_string_equal(it->ids.v[ITEM_ID_EMBY], "87146");
    assert_null(it->ids.v[ITEM_ID_PLEX]);
    assert_true(item_ids_empty(&it->show_ids));
    assert_string_equal(it->show_title, "Severance");
    assert_int_equal(it->season, 0); /* specials */
    assert_int_equal(it->episode, 3);
    assert_int_equal(it->year, 2022);
    assert_string_equal(r.out.v[0].session, "s1:dev-9:87146:u1");
    assert_int_equal(r.out.v[0].position_ms, 1520000);
    assert_int_equal(r.out.v[0].duration_ms, 3378000);
    assert_int_equal(r.out.v[0].completed, -1); /* only on stop */
    assert_int_equal(r.out.v[0].source_ts, 0);  /* no Date */
    assert_int_equal(r.out.v[0].occurred_at, NOW);
    assert_string_equal(r.out.v[0].user_name, "dana");
    assert_string_equal(r.out.v[0].user_id, "u1");
    event_list_release(&r.out);

    /* markplayed without a Date: watched now; stop without
     * PlayedToCompletion says nothing about completion. */
    run_emby(&r, "application/json",
             "{\"Event\":\"item.markplayed\",\"Date\":\"garbage\"," USER
             "," MOVIE "}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.v[0].watched_at, NOW);
    assert_int_equal(r.out.v[0].source_ts, 0);
    assert_null(r.out.v[0].server);
    assert_null(r.out.v[0].session);
    event_list_release(&r.out);

    run_emby(&r, "application/json",
             "{\"Event\":\"playback.stop\"," USER "," MOVIE
             ",\"PlaybackInfo\":{\"PositionTicks\":-5}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.v[0].completed, -1);
    assert_int_equal(r.out.v[0].position_ms, -1);
    assert_string_equal(r.out.v[0].session, "::240270:u1");
    event_list_release(&r.out);

    /* The body is length-delimited: a NUL and what follows are bytes. */
    run_emby_n(&r, "application/json", "{}\0{}", 5);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "JSON"));
    event_list_release(&r.out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_event_map),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_item_types),
        cmocka_unit_test(test_item_rate),
        cmocka_unit_test(test_ids_and_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
