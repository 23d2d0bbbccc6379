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

#define FIXTURE_DIR "tests/fixtures/plex"
#define MIN_CASES   21

#define BOUNDARY "------------------------d74496d66958873e"
#define CT       "multipart/form-data; boundary=" BOUNDARY
#define NOW      1740949200 /* 2025-03-02T21:00:00Z */

/* The common parts of a payload around the Metadata object. */
#define HEAD                                            \
    "\"user\":true,\"owner\":true,"                     \
    "\"Account\":{\"id\":48213377,\"title\":\"dana\"}," \
    "\"Server\":{\"title\":\"nas\",\"uuid\":\"srv1\"}," \
    "\"Player\":{\"title\":\"TV\",\"uuid\":\"pl1\"}"
#define MOVIE                                                            \
    "{\"ratingKey\":\"10432\",\"type\":\"movie\",\"title\":\"Arrival\"," \
    "\"year\":2016,\"guid\":\"plex://movie/5d776a8b9ab544002150d2f3\","  \
    "\"duration\":6960000,"                                              \
    "\"Guid\":[{\"id\":\"imdb://tt2543164\"},{\"id\":\"tmdb://329865\"}]}"

struct run {
    int rc;
    char err[256];
    struct event_list out;
};

/* Wrap json as the payload part of a Plex multipart body and parse it. */
static void
run_plex(struct run *r, const char *ct, const char *json)
{
    struct buf body;
    struct hook_request req;

    buf_init(&body);
    buf_puts(&body, "--" BOUNDARY "\r\n"
                    "Content-Disposition: form-data; name=\"payload\"\r\n"
                    "Content-Type: application/json\r\n\r\n");
    buf_puts(&body, json);
    buf_puts(&body, "\r\n--" BOUNDARY "--\r\n");
    memset(&req, 0, sizeof(req));
    req.content_type = ct;
    req.user_agent = "PlexMediaServer/1.41.3.9314-a0bfb8370";
    req.body = body.data;
    req.len = body.len;
    req.now = NOW;
    event_list_init(&r->out);
    r->err[0] = '\0';
    r->rc = handler_plex.parse(&req, &r->out, r->err, sizeof(r->err));
    buf_release(&body);
}

static void
test_fixtures(void **state)
{
    int count = 0;
    int fails = fixture_check_dir(&handler_plex, FIXTURE_DIR, &count);

    (void)state;
    assert_int_equal(fails, 0);
    assert_true(count >= MIN_CASES);
}

struct map_case {
    const char *event;
    int kind;   /* -1 = ignored */
    int action; /* for kind >= 0 */
};

static void
test_event_map(void **state)
{
    static const struct map_case cases[] = {
        {"media.play", EVENT_SCROBBLE, EVENT_START},
        {"media.resume", EVENT_SCROBBLE, EVENT_RESUME},
        {"media.pause", EVENT_SCROBBLE, EVENT_PAUSE},
        {"media.stop", EVENT_SCROBBLE, EVENT_STOP},
        {"media.scrobble", EVENT_SCROBBLE, EVENT_WATCHED},
        {"media.rate", EVENT_RATING, EVENT_CLEAR}, /* no rating: clear */
        {"library.new", -1, 0},
        {"library.on.deck", -1, 0},
        {"admin.database.backup", -1, 0},
        {"admin.database.corrupted", -1, 0},
        {"device.new", -1, 0},
        {"playback.started", -1, 0},
        {"Media.Play", -1, 0}, /* event names are exact */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024];
        struct run r;

        snprintf(json, sizeof(json),
                 "{\"event\":\"%s\"," HEAD ",\"Metadata\":" MOVIE "}",
                 cases[i].event);
        print_message("event %s\n", cases[i].event);
        run_plex(&r, CT, json);
        assert_int_equal(r.rc, 0);
        if (cases[i].kind < 0) {
            assert_int_equal(r.out.n, 0);
            assert_non_null(r.out.ignored);
            assert_non_null(strstr(r.out.ignored, cases[i].event));
        } else {
            assert_int_equal(r.out.n, 1);
            assert_int_equal(r.out.v[0].kind, cases[i].kind);
            assert_int_equal(r.out.v[0].action, cases[i].action);
            assert_string_equal(r.out.v[0].source, "plex");
            assert_int_equal(r.out.v[0].received_at, NOW);
            assert_int_equal(r.out.v[0].source_ts, 0);
            assert_string_equal(r.out.v[0].key, "movie:tmdb:329865");
            assert_string_equal(r.out.v[0].item.ids.v[ITEM_ID_PLEX], "10432");
        }
        event_list_release(&r.out);
    }
}

struct rate_case {
    const char *rating; /* JSON text after "rating": or NULL = absent */
    int action;
    int value;
};

static void
test_rating_values(void **state)
{
    static const struct rate_case cases[] = {
        {"8.0", EVENT_SET, 8},   {"8", EVENT_SET, 8},
        {"7.5", EVENT_SET, 8},   {"0.5", EVENT_SET, 1},
        {"10.0", EVENT_SET, 10}, {"3.4", EVENT_SET, 3},
        {"0", EVENT_CLEAR, 0},   {"0.0", EVENT_CLEAR, 0},
        {"-1", EVENT_CLEAR, 0},  {"\"8\"", EVENT_CLEAR, 0},
        {NULL, EVENT_CLEAR, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024];
        struct run r;

        if (cases[i].rating != NULL)
            snprintf(json, sizeof(json),
                     "{\"rating\":%s,\"event\":\"media.rate\"," HEAD
                     ",\"Metadata\":" MOVIE "}",
                     cases[i].rating);
        else
            snprintf(json, sizeof(json),
                     "{\"event\":\"media.rate\"," HEAD ",\"Metadata\":" MOVIE
                     "}");
        print_message("rating %s\n", cases[i].rating ? cases[i].rating : "-");
        run_plex(&r, CT, json);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.out.n, 1);
        assert_int_equal(r.out.v[0].kind, EVENT_RATING);
        assert_int_equal(r.out.v[0].action, cases[i].action);
        assert_int_equal(r.out.v[0].rating, cases[i].value);
        assert_null(r.out.v[0].session);
        assert_int_equal(r.out.v[0].position_ms, -1);
        event_list_release(&r.out);
    }
}

struct type_case {
    const char *event;
    const char *type;
    int item_type; /* ITEM_NONE = ignored */
    const char *reason;
};

static void
test_item_types(void **state)
{
    static const struct type_case cases[] = {
        {"media.play", "movie", ITEM_MOVIE, NULL},
        {"media.play", "episode", ITEM_EPISODE, NULL},
        {"media.play", "show", ITEM_NONE, "show"},
        {"media.scrobble", "season", ITEM_NONE, "season"},
        {"media.play", "track", ITEM_NONE, "music"},
        {"media.rate", "album", ITEM_NONE, "music"},
        {"media.play", "clip", ITEM_NONE, "clip"},
        {"media.play", "Movie", ITEM_NONE, "Movie"},
        {"media.rate", "show", ITEM_SHOW, NULL},
        {"media.rate", "season", ITEM_SEASON, NULL},
        {"media.rate", "episode", ITEM_EPISODE, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[1024];
        struct run r;

        snprintf(json, sizeof(json),
                 "{\"rating\":6,\"event\":\"%s\"," HEAD
                 ",\"Metadata\":{\"ratingKey\":\"1\",\"type\":\"%s\","
                 "\"title\":\"T\"}}",
                 cases[i].event, cases[i].type);
        print_message("%s %s\n", cases[i].event, cases[i].type);
        run_plex(&r, CT, json);
        assert_int_equal(r.rc, 0);
        if (cases[i].item_type == ITEM_NONE) {
            assert_int_equal(r.out.n, 0);
            assert_non_null(strstr(r.out.ignored, cases[i].reason));
        } else {
            assert_int_equal(r.out.n, 1);
            assert_int_equal(r.out.v[0].item.type, cases[i].item_type);
        }
        event_list_release(&r.out);
    }
}

struct err_case {
    const char *ct;
    const char *json;
    const char *err;
};

static void
test_errors(void **state)
{
    static const struct err_case cases[] = {
        {NULL, "{\"event\":\"media.play\"}", "multipart"},
        {"application/json", "{\"event\":\"media.play\"}", "multipart"},
        {"multipart/form-data", "{\"event\":\"media.play\"}", "boundary"},
        {"multipart/form-data; boundary=other", "{}", "multipart"},
        {CT, "", "JSON"},
        {CT, "{\"event\":\"media.play\"", "JSON"},
        {CT, "[1,2]", "not a JSON object"},
        {CT, "\"media.play\"", "not a JSON object"},
        {CT, "{\"Event\":\"media.play\"}", "event"},
        {CT, "{\"event\":7}", "event"},
        {CT, "{\"event\":\"media.play\"," HEAD "}", "Metadata"},
        {CT, "{\"event\":\"media.play\",\"Metadata\":[]}", "Metadata"},
        {CT,
         "{\"event\":\"media.play\",\"Metadata\":{\"a\":[[[[[[[[[[[[[[[[[[["
         "]]]]]]]]]]]]]]]]]]]}}",
         "JSON"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;

        print_message("error case %zu\n", i);
        run_plex(&r, cases[i].ct, cases[i].json);
        assert_int_equal(r.rc, -1);
        assert_int_equal(r.out.n, 0);
        assert_non_null(strstr(r.err, cases[i].err));
        event_list_release(&r.out);
    }
}

static void
test_positions_and_session(void **state)
{
    struct run r;

    (void)state;
    /* viewOffset 0 present is a real position; absent stays unknown. */
    run_plex(&r, CT,
             "{\"event\":\"media.pause\"," HEAD
             ",\"Metadata\":{\"ratingKey\":7,\"type\":\"movie\","
             "\"title\":\"A\",\"viewOffset\":0,\"duration\":1000}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.n, 1);
    assert_int_equal(r.out.v[0].position_ms, 0);
    assert_int_equal(r.out.v[0].duration_ms, 1000);
    assert_true(r.out.v[0].has_progress);
    assert_string_equal(r.out.v[0].session, "srv1:pl1:7:48213377");
    assert_string_equal(r.out.v[0].item.ids.v[ITEM_ID_PLEX], "7");
    assert_string_equal(r.out.v[0].user_id, "48213377");
    assert_string_equal(r.out.v[0].user_name, "dana");
    assert_string_equal(r.out.v[0].server, "srv1");
    /* No ids at all: the fallback key. */
    assert_string_equal(r.out.v[0].key, "movie:plex:7");
    event_list_release(&r.out);

    run_plex(&r, CT,
             "{\"event\":\"media.stop\"," HEAD
             ",\"Metadata\":{\"ratingKey\":\"7\",\"type\":\"movie\","
             "\"title\":\"A\"}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.v[0].position_ms, -1);
    assert_int_equal(r.out.v[0].duration_ms, -1);
    assert_false(r.out.v[0].has_progress);
    event_list_release(&r.out);

    /* Without Account/Server/Player: the session keeps its shape. */
    run_plex(&r, CT,
             "{\"event\":\"media.play\",\"Metadata\":{\"ratingKey\":\"7\","
             "\"type\":\"movie\"}}");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out.v[0].session, "::7:");
    assert_null(r.out.v[0].user_name);
    assert_null(r.out.v[0].server);
    event_list_release(&r.out);
}

static void
test_guid_keys_case_sensitive(void **state)
{
    struct run r;
    const struct item *it;

    (void)state;
    /* "guid" (string) and "Guid" (array) both count; "GUID" does not. */
    run_plex(&r, CT,
             "{\"event\":\"media.scrobble\"," HEAD
             ",\"Metadata\":{\"ratingKey\":\"5\",\"type\":\"movie\","
             "\"guid\":\"com.plexapp.agents.imdb://tt0072684?lang=en\","
             "\"Guid\":[{\"id\":\"tmdb://3175\"},{\"x\":1},7,"
             "{\"id\":\"local://9\"}],"
             "\"GUID\":[{\"id\":\"tvdb://1\"}]}}");
    assert_int_equal(r.rc, 0);
    it = &r.out.v[0].item;
    assert_string_equal(it->ids.v[ITEM_ID_IMDB], "tt0072684");
    assert_string_equal(it->ids.v[ITEM_ID_TMDB], "3175");
    assert_null(it->ids.v[ITEM_ID_TVDB]);
    assert_null(it->ids.v[ITEM_ID_GUID]);
    event_list_release(&r.out);

    /* Legacy TheTVDB episode: show id, season and episode from the guid. */
    run_plex(&r, CT,
             "{\"event\":\"media.play\"," HEAD
             ",\"Metadata\":{\"ratingKey\":\"9\",\"type\":\"episode\","
             "\"guid\":\"com.plexapp.agents.thetvdb://73871/3/7?lang=en\","
             "\"grandparentTitle\":\"Futurama\"}}");
    assert_int_equal(r.rc, 0);
    it = &r.out.v[0].item;
    assert_string_equal(it->show_ids.v[ITEM_ID_TVDB], "73871");
    assert_int_equal(it->season, 3);
    assert_int_equal(it->episode, 7);
    assert_string_equal(it->show_title, "Futurama");
    assert_string_equal(r.out.v[0].key, "show:tvdb:73871#s03e07");
    event_list_release(&r.out);
}

/* The thumb part with binary bytes after the payload does not disturb it;
 * a payload part in a file-like part (filename) is accepted. */
static void
test_file_like_payload(void **state)
{
    static const char body[] =
        "--" BOUNDARY "\r\n"
        "Content-Disposition: form-data; name=\"payload\"; "
        "filename=\"payload.json\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
        "{\"event\":\"media.scrobble\"," HEAD ",\"Metadata\":" MOVIE "}\r\n"
        "--" BOUNDARY "\r\n"
        "Content-Disposition: form-data; name=\"thumb\"; "
        "filename=\"thumb.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n"
        "\xff\xd8\xff\xe0\x00\x10JFIF\x00\r\n--" BOUNDARY "\x00\xff\xd9\r\n"
        "--" BOUNDARY "--\r\n";
    struct hook_request req;
    struct event_list out;
    char err[256];

    (void)state;
    memset(&req, 0, sizeof(req));
    req.content_type = CT;
    req.body = body;
    req.len = sizeof(body) - 1;
    req.now = NOW;
    event_list_init(&out);
    assert_int_equal(handler_plex.parse(&req, &out, err, sizeof(err)), 0);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].action, EVENT_WATCHED);
    event_list_release(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_event_map),
        cmocka_unit_test(test_rating_values),
        cmocka_unit_test(test_item_types),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_positions_and_session),
        cmocka_unit_test(test_guid_keys_case_sensitive),
        cmocka_unit_test(test_file_like_payload),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
