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

#define FIXTURE_DIR "tests/fixtures/tautulli"
#define MIN_CASES   17
#define NOW         1740949200 /* 2025-03-02T21:00:00Z */

static int
run(const char *body, struct event_list *out, char *err, size_t errlen)
{
    struct hook_request req;

    memset(&req, 0, sizeof(req));
    req.content_type = "application/json";
    req.user_agent = "python-requests/2.31.0";
    req.body = body;
    req.len = strlen(body);
    req.now = NOW;
    event_list_init(out);
    err[0] = '\0';
    return handler_tautulli.parse(&req, out, err, errlen);
}

static void
test_fixtures(void **state)
{
    int count = 0;
    int fails = fixture_check_dir(&handler_tautulli, FIXTURE_DIR, &count);

    (void)state;
    assert_int_equal(fails, 0);
    assert_true(count >= MIN_CASES);
}

#define WHO \
    "\"user\": \"dana\", \"user_id\": \"48213377\", \"server_id\": \"srv\""

struct tt_case {
    const char *what;
    const char *body;
    int rc;
    const char *msg; /* substring of err (rc -1) or ignored (no event) */
    enum event_action action;
    const char *key;
    const char *session;
    int64_t position_ms;
    int64_t duration_ms;
    double progress; /* < 0: no progress */
    int64_t occurred_at;
};

static const struct tt_case cases[] = {
    {"action and media_type in any case",
     "{\"action\": \"PLAY\", \"media_type\": \"Movie\", " WHO
     ", \"rating_key\": \"1\", \"tmdb_id\": \"603\", \"session_key\": \"9\"}",
     0, NULL, EVENT_START, "movie:tmdb:603", "srv:9:1:48213377", -1, -1, -1,
     NOW},
    {"hand-written template with JSON numbers",
     "{\"action\": \"stop\", \"media_type\": \"movie\", \"rating_key\": 51244,"
     " \"view_offset_ms\": 1000, \"duration_ms\": 4000, \"ts\": 1740949100}",
     0, NULL, EVENT_STOP, "movie:plex:51244", NULL, 1000, 4000, 25, 1740949100},
    {"themoviedb_id / thetvdb_id / view_offset aliases",
     "{\"action\": \"pause\", \"media_type\": \"episode\", \"themoviedb_id\":"
     " \"95396\", \"thetvdb_id\": \"371980\", \"season_num\": \"1\", "
     "\"episode_num\": \"3\", \"view_offset\": \"500\", \"duration_ms\": "
     "\"1000\"}",
     0, NULL, EVENT_PAUSE, "show:tmdb:95396#s01e03", NULL, 500, 1000, 50, NOW},
    {"episode ids are the show's; without season/episode the episode's own "
     "plex id keys it",
     "{\"action\": \"watched\", \"media_type\": \"episode\", \"rating_key\": "
     "\"48211\", \"tvdb_id\": \"371980\", \"season\": \"\", \"episode\": "
     "\"\"}",
     0, NULL, EVENT_WATCHED, "episode:plex:48211", NULL, -1, -1, -1, NOW},
    {"a legacy agent guid gives show, season and episode",
     "{\"action\": \"play\", \"media_type\": \"episode\", \"guid\": "
     "\"com.plexapp.agents.thetvdb://371980/1/4?lang=en\"}",
     0, NULL, EVENT_START, "show:tvdb:371980#s01e04", NULL, -1, -1, -1, NOW},
    {"progress_percent used when the duration is empty",
     "{\"action\": \"stop\", \"media_type\": \"movie\", \"imdb_id\": "
     "\"tt2543164\", \"view_offset_ms\": \"6000\", \"duration_ms\": \"\", "
     "\"progress_percent\": \"87\"}",
     0, NULL, EVENT_STOP, "movie:imdb:tt2543164", NULL, 6000, -1, 87, NOW},
    {"progress_percent over 100 is clamped",
     "{\"action\": \"stop\", \"media_type\": \"movie\", \"imdb_id\": "
     "\"tt2543164\", \"progress_percent\": \"101\"}",
     0, NULL, EVENT_STOP, "movie:imdb:tt2543164", NULL, -1, -1, 100, NOW},
    {"empty session_key: no session",
     "{\"action\": \"play\", \"media_type\": \"movie\", \"imdb_id\": "
     "\"tt2543164\", \"session_key\": \"\"," WHO "}",
     0, NULL, EVENT_START, "movie:imdb:tt2543164", NULL, -1, -1, -1, NOW},
    {"a ts far from arrival falls back to arrival",
     "{\"action\": \"play\", \"media_type\": \"movie\", \"imdb_id\": "
     "\"tt2543164\", \"ts\": \"1700000000\"}",
     0, NULL, EVENT_START, "movie:imdb:tt2543164", NULL, -1, -1, -1, NOW},
    {"an unparsable ts is no ts",
     "{\"action\": \"play\", \"media_type\": \"movie\", \"imdb_id\": "
     "\"tt2543164\", \"ts\": \"{unixtime}\"}",
     0, NULL, EVENT_START, "movie:imdb:tt2543164", NULL, -1, -1, -1, NOW},
    {"JSON null body is the empty template", " null\n", 0,
     "check the template placeholders", EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"whitespace body is the empty template", "\r\n", 0,
     "check the template placeholders", EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"the test notification is ignored",
     "{\"action\": \"test\", \"media_type\": \"\"}", 0,
     "action test is not handled", EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"missing media_type is ignored with a hint",
     "{\"action\": \"play\", \"title\": \"Arrival\"}", 0,
     "without a media_type", EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"a season carries nothing",
     "{\"action\": \"watched\", \"media_type\": \"season\"}", 0,
     "media_type season is ignored", EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"an action that is not a string is missing",
     "{\"action\": 1, \"media_type\": \"movie\"}", -1, "no \"action\"",
     EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"an empty action is missing",
     "{\"action\": \" \", \"media_type\": \"movie\"}", -1, "no \"action\"",
     EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"an array is not an object", "[{\"action\": \"play\"}]", -1,
     "not a JSON object", EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"trailing garbage is refused",
     "{\"action\": \"play\", \"media_type\": \"movie\"}}", -1, "not valid JSON",
     EVENT_START, NULL, NULL, -1, -1, -1, 0},
    {"single quotes are refused", "{'action': 'play'}", -1, "not valid JSON",
     EVENT_START, NULL, NULL, -1, -1, -1, 0},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct tt_case *c = &cases[i];
        struct event_list out;
        char err[512];
        int rc = run(c->body, &out, err, sizeof(err));

        print_message("# %s\n", c->what);
        assert_int_equal(rc, c->rc);
        if (rc != 0) {
            assert_non_null(strstr(err, c->msg));
            assert_int_equal(out.n, 0);
        } else if (c->key == NULL) {
            assert_int_equal(out.n, 0);
            assert_non_null(out.ignored);
            assert_non_null(strstr(out.ignored, c->msg));
        } else {
            const struct event *ev = &out.v[0];

            assert_int_equal(out.n, 1);
            assert_string_equal(ev->source, "tautulli");
            assert_int_equal(ev->kind, EVENT_SCROBBLE);
            assert_int_equal(ev->action, c->action);
            assert_string_equal(ev->key, c->key);
            if (c->session == NULL)
                assert_null(ev->session);
            else
                assert_string_equal(ev->session, c->session);
            assert_int_equal(ev->position_ms, c->position_ms);
            assert_int_equal(ev->duration_ms, c->duration_ms);
            if (c->progress < 0) {
                assert_false(ev->has_progress);
            } else {
                assert_true(ev->has_progress);
                assert_true(ev->progress > c->progress - 0.001 &&
                            ev->progress < c->progress + 0.001);
            }
            assert_int_equal(ev->occurred_at, c->occurred_at);
            assert_int_equal(ev->paused, -1);
            assert_int_equal(ev->completed, -1);
        }
        event_list_release(&out);
    }
}

/* Episode external ids go to the show, never to the episode. */
static void
test_episode_ids_are_show_ids(void **state)
{
    struct event_list out;
    char err[256];

    (void)state;
    assert_int_equal(
        run("{\"action\": \"watched\", \"media_type\": \"episode\", "
            "\"rating_key\": \"48211\", \"title\": \"Severance - Good News "
            "About Hell\", \"show_name\": \"Severance\", \"season\": \"1\", "
            "\"episode\": \"1\", \"year\": \"2022\", \"show_year\": \"2022\","
            " \"imdb_id\": \"tt11280740\", \"tmdb_id\": \"95396\", "
            "\"tvdb_id\": \"371980\"}",
            &out, err, sizeof(err)),
        0);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.v[0].item.show_ids.v[ITEM_ID_TMDB], "95396");
    assert_string_equal(out.v[0].item.show_ids.v[ITEM_ID_IMDB], "tt11280740");
    assert_string_equal(out.v[0].item.show_ids.v[ITEM_ID_TVDB], "371980");
    assert_null(out.v[0].item.show_ids.v[ITEM_ID_PLEX]);
    assert_null(out.v[0].item.ids.v[ITEM_ID_TMDB]);
    assert_null(out.v[0].item.ids.v[ITEM_ID_IMDB]);
    assert_null(out.v[0].item.ids.v[ITEM_ID_TVDB]);
    assert_string_equal(out.v[0].item.ids.v[ITEM_ID_PLEX], "48211");
    assert_string_equal(out.v[0].item.title,
                        "Severance - Good News About Hell");
    assert_string_equal(out.v[0].item.show_title, "Severance");
    assert_int_equal(out.v[0].item.show_year, 2022);
    assert_string_equal(out.v[0].key, "show:tmdb:95396#s01e01");
    event_list_release(&out);
}

/* The same notification twice has the same id; another action does not. */
static void
test_ids_stable(void **state)
{
    const char *a = "{\"action\": \"pause\", \"media_type\": \"movie\", "
                    "\"tmdb_id\": \"603\", \"ts\": \"1740949100\"}";
    const char *b = "{\"action\": \"resume\", \"media_type\": \"movie\", "
                    "\"tmdb_id\": \"603\", \"ts\": \"1740949100\"}";
    struct event_list x, y, z;
    char err[256];

    (void)state;
    assert_int_equal(run(a, &x, err, sizeof(err)), 0);
    assert_int_equal(run(a, &y, err, sizeof(err)), 0);
    assert_int_equal(run(b, &z, err, sizeof(err)), 0);
    assert_string_equal(x.v[0].id, y.v[0].id);
    assert_string_not_equal(x.v[0].id, z.v[0].id);
    event_list_release(&x);
    event_list_release(&y);
    event_list_release(&z);
}

/* Long titles are capped on a UTF-8 boundary. */
static void
test_long_title_capped(void **state)
{
    struct buf body;
    struct event_list out;
    char err[256];

    (void)state;
    buf_init(&body);
    buf_puts(&body, "{\"action\": \"play\", \"media_type\": \"movie\", "
                    "\"title\": \"x");
    for (int i = 0; i < 700; i++)
        buf_puts(&body, "\\u00e9");
    buf_puts(&body, "\"}");
    assert_int_equal(run(body.data, &out, err, sizeof(err)), 0);
    assert_int_equal(out.n, 1);
    assert_true(strlen(out.v[0].item.title) <= 1024);
    assert_int_equal(strlen(out.v[0].item.title) % 2, 1);
    event_list_release(&out);
    buf_release(&body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_episode_ids_are_show_ids),
        cmocka_unit_test(test_ids_stable),
        cmocka_unit_test(test_long_title_capped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
