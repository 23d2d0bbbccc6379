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

#define FIXTURE_DIR "tests/fixtures/jellyfin"
#define MIN_CASES   25
#define NOW         1740949200 /* 2025-03-02T21:00:00Z */

static int
run(const char *body, struct event_list *out, char *err, size_t errlen)
{
    struct hook_request req;

    memset(&req, 0, sizeof(req));
    req.content_type = "text/plain; charset=utf-8";
    req.user_agent = "Jellyfin-Server/10.10.7";
    req.body = body;
    req.len = strlen(body);
    req.now = NOW;
    event_list_init(out);
    err[0] = '\0';
    return handler_jellyfin.parse(&req, out, err, errlen);
}

static void
test_fixtures(void **state)
{
    int count = 0;
    int fails = fixture_check_dir(&handler_jellyfin, FIXTURE_DIR, &count);

    (void)state;
    assert_int_equal(fails, 0);
    assert_true(count >= MIN_CASES);
}

#define MOVIE                                                          \
    "\"ServerId\":\"srv1\",\"ItemId\":\"F27CAA37-E514-2225-CCED-"      \
    "ED48F6553502\",\"ItemType\":\"Movie\",\"Name\":\"Arrival\","      \
    "\"Year\":2016,\"Provider_tmdb\":\"329865\",\"RunTimeTicks\":"     \
    "69540000000,\"UserId\":\"02700c83-44d5-4261-9b39-319296c0d4c7\"," \
    "\"NotificationUsername\":\"dana\",\"UtcTimestamp\":"              \
    "\"2025-03-02T20:59:00.1234567Z\""

/* One case: a body, and what the first event (or the outcome) must be. */
struct jf_case {
    const char *what;
    const char *body;
    int rc;
    const char *msg; /* substring of err (rc -1) or of ignored (n == 0) */
    size_t n;
    enum event_kind kind;
    enum event_action action;
    int paused;
    int completed;
    int rating;
    int64_t position_ms;
    const char *key;
    const char *session;
};

static const struct jf_case cases[] = {
    {"notification type matched in any case",
     "{\"NotificationType\":\"playbackstart\"," MOVIE
     ",\"PlaybackPositionTicks\":0,\"Id\":\"s1\"}",
     0, NULL, 1, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, 0, "movie:tmdb:329865",
     "srv1:s1:f27caa37e5142225cceded48f6553502:"
     "02700c8344d542619b39319296c0d4c7"},
    {"stop without PlayedToCompletion says nothing about completion",
     "{\"NotificationType\":\"PlaybackStop\"," MOVIE
     ",\"PlaybackPositionTicks\":\"10000\",\"DeviceId\":\"dev\"}",
     0, NULL, 1, EVENT_SCROBBLE, EVENT_STOP, -1, -1, 0, 1, "movie:tmdb:329865",
     "srv1:dev:f27caa37e5142225cceded48f6553502:"
     "02700c8344d542619b39319296c0d4c7"},
    {"stop with PlayedToCompletion \"False\"",
     "{\"NotificationType\":\"PlaybackStop\"," MOVIE
     ",\"PlayedToCompletion\":\"False\"}",
     0, NULL, 1, EVENT_SCROBBLE, EVENT_STOP, -1, 0, 0, -1, "movie:tmdb:329865",
     NULL},
    {"progress with IsPaused \"TRUE\"",
     "{\"NotificationType\":\"PlaybackProgress\"," MOVIE
     ",\"IsPaused\":\"TRUE\"}",
     0, NULL, 1, EVENT_SCROBBLE, EVENT_PROGRESS_ACTION, 1, -1, 0, -1,
     "movie:tmdb:329865", NULL},
    {"progress with an unreadable IsPaused leaves paused unsaid",
     "{\"NotificationType\":\"PlaybackProgress\"," MOVIE
     ",\"IsPaused\":\"yes\"}",
     0, NULL, 1, EVENT_SCROBBLE, EVENT_PROGRESS_ACTION, -1, -1, 0, -1,
     "movie:tmdb:329865", NULL},
    {"IsPaused on a start is not carried",
     "{\"NotificationType\":\"PlaybackStart\"," MOVIE ",\"IsPaused\":true}", 0,
     NULL, 1, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, "movie:tmdb:329865",
     NULL},
    {"rating as a quoted number",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"UpdateUserRating\"," MOVIE ",\"Rating\":\"6.5\"}",
     0, NULL, 1, EVENT_RATING, EVENT_SET, -1, -1, 7, -1, "movie:tmdb:329865",
     NULL},
    /* Rating 0 is "unrated", also what a like of an unrated item sends:
     * never read as a clear, so a like cannot wipe a tracker's rating. */
    {"rating 0 alone emits nothing",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"UpdateUserRating\"," MOVIE ",\"Rating\":0}",
     0, "without a rating or Favorite", 0, EVENT_SCROBBLE, EVENT_START, -1, -1,
     0, -1, NULL, NULL},
    {"rating 0 with a like gives only the watchlist event",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"UpdateUserRating\"," MOVIE ",\"Rating\":0,\"Favorite\":true}",
     0, NULL, 1, EVENT_WATCHLIST, EVENT_ADD, -1, -1, 0, -1, "movie:tmdb:329865",
     NULL},
    {"rating above 10 is clamped",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"UpdateUserRating\"," MOVIE ",\"Rating\":12}",
     0, NULL, 1, EVENT_RATING, EVENT_SET, -1, -1, 10, -1, "movie:tmdb:329865",
     NULL},
    {"favorite only gives a watchlist event",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"UpdateUserRating\"," MOVIE ",\"Favorite\":\"True\"}",
     0, NULL, 1, EVENT_WATCHLIST, EVENT_ADD, -1, -1, 0, -1, "movie:tmdb:329865",
     NULL},
    {"a Provider_ number (unquoted template value) is taken",
     "{\"NotificationType\":\"PlaybackStart\",\"ItemType\":\"Movie\","
     "\"ItemId\":\"abc\",\"Provider_Tmdb\":603,\"Provider_plex\":\"9\"}",
     0, NULL, 1, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, "movie:tmdb:603",
     NULL},
    {"without external ids the Jellyfin id keys the item",
     "{\"NotificationType\":\"PlaybackStart\",\"ItemType\":\"Movie\","
     "\"ItemId\":\"ABC-def\",\"Provider_tvrage\":\"12\"}",
     0, NULL, 1, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1,
     "movie:jellyfin:abcdef", NULL},
    {"TogglePlayed on a Series is ignored",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"TogglePlayed\",\"ItemType\":\"Series\",\"Played\":true}",
     0, "ItemType Series is ignored", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0,
     -1, NULL, NULL},
    {"TogglePlayed without Played is ignored",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"TogglePlayed\"," MOVIE "}",
     0, "without Played", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, NULL,
     NULL},
    {"UpdateUserRating without Rating or Favorite is ignored",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"UpdateUserRating\"," MOVIE "}",
     0, "without a rating or Favorite", 0, EVENT_SCROBBLE, EVENT_START, -1, -1,
     0, -1, NULL, NULL},
    {"UserDataSaved without SaveReason is ignored",
     "{\"NotificationType\":\"UserDataSaved\"," MOVIE ",\"Played\":true}", 0,
     "without a SaveReason", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1,
     NULL, NULL},
    {"UpdateUserData (API writes) is ignored",
     "{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
     "\"UpdateUserData\"," MOVIE ",\"Played\":true}",
     0, "SaveReason UpdateUserData is ignored", 0, EVENT_SCROBBLE, EVENT_START,
     -1, -1, 0, -1, NULL, NULL},
    {"playback of an item without ItemType is ignored",
     "{\"NotificationType\":\"PlaybackStart\",\"ItemId\":\"abc\"}", 0,
     "ItemType (none)", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, NULL,
     NULL},
    {"a Season does not scrobble",
     "{\"NotificationType\":\"PlaybackStart\",\"ItemType\":\"Season\"}", 0,
     "ItemType Season is ignored", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0,
     -1, NULL, NULL},
    {"Generic notifications are ignored",
     "{\"NotificationType\":\"Generic\",\"Name\":\"hello\"}", 0,
     "Generic is not handled", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1,
     NULL, NULL},
    {"whitespace-only body is ignored", " \r\n\t ", 0, "empty Jellyfin body", 0,
     EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, NULL, NULL},
    {"NotificationType must be a string", "{\"NotificationType\":3}", -1,
     "no NotificationType", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, NULL,
     NULL},
    {"a JSON string is not an object", "\"PlaybackStart\"", -1,
     "not a JSON object", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, NULL,
     NULL},
    {"trailing garbage is refused", "{\"NotificationType\":\"Generic\"} x", -1,
     "not valid JSON", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, NULL,
     NULL},
    {"nesting deeper than 16 is refused",
     "{\"NotificationType\":\"Generic\",\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]"
     "]]]]]]]]]]]]}",
     -1, "not valid JSON", 0, EVENT_SCROBBLE, EVENT_START, -1, -1, 0, -1, NULL,
     NULL},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct jf_case *c = &cases[i];
        struct event_list out;
        char err[512];
        int rc = run(c->body, &out, err, sizeof(err));

        print_message("# %s\n", c->what);
        assert_int_equal(rc, c->rc);
        if (rc != 0) {
            assert_non_null(strstr(err, c->msg));
            assert_int_equal(out.n, 0);
        } else if (c->n == 0) {
            assert_int_equal(out.n, 0);
            assert_non_null(out.ignored);
            assert_non_null(strstr(out.ignored, c->msg));
        } else {
            const struct event *ev = &out.v[0];

            assert_int_equal(out.n, c->n);
            assert_string_equal(ev->source, "jellyfin");
            assert_int_equal(ev->kind, c->kind);
            assert_int_equal(ev->action, c->action);
            assert_int_equal(ev->paused, c->paused);
            assert_int_equal(ev->completed, c->completed);
            assert_int_equal(ev->rating, c->rating);
            assert_int_equal(ev->position_ms, c->position_ms);
            assert_string_equal(ev->key, c->key);
            if (c->session == NULL)
                assert_null(ev->session);
            else
                assert_string_equal(ev->session, c->session);
            assert_int_equal(strlen(ev->id), EVENT_ID_LEN);
        }
        event_list_release(&out);
    }
}

/* Send All Properties and a template describe the same play identically. */
static void
test_template_matches_send_all(void **state)
{
    const char *sa =
        "{\"NotificationType\":\"PlaybackProgress\",\"ServerId\":\"s\","
        "\"ItemId\":\"b8d3e4a1c2f04a6b9e7d5c3b1a0f9e8d\",\"ItemType\":"
        "\"Episode\",\"Name\":\"Good News About Hell\",\"SeriesName\":"
        "\"Severance\",\"SeasonNumber\":1,\"EpisodeNumber\":1,\"Year\":2022,"
        "\"Provider_tvdb\":\"8603573\",\"RunTimeTicks\":33780000000,"
        "\"PlaybackPositionTicks\":16890000000,\"IsPaused\":false,\"Id\":"
        "\"x\",\"UserId\":\"02700c8344d542619b39319296c0d4c7\","
        "\"UtcTimestamp\":\"2025-03-02T20:59:59Z\"}";
    const char *tp =
        "{\"NotificationType\":\"PlaybackProgress\",\"ServerId\":\"s\","
        "\"ItemId\":\"B8D3E4A1-C2F0-4A6B-9E7D-5C3B1A0F9E8D\",\"ItemType\":"
        "\"Episode\",\"Name\":\"Good News About Hell\",\"SeriesName\":"
        "\"Severance\",\"SeasonNumber\":\"1\",\"EpisodeNumber\":\"1\","
        "\"Year\":\"2022\",\"Provider_tvdb\":\"8603573\",\"RunTimeTicks\":"
        "\"33780000000\",\"PlaybackPositionTicks\":\"16890000000\","
        "\"IsPaused\":\"False\",\"Id\":\"x\",\"UserId\":"
        "\"{02700C83-44D5-4261-9B39-319296C0D4C7}\",\"UtcTimestamp\":"
        "\"2025-03-02T20:59:59Z\"}";
    struct event_list a, b;
    char err[256];

    (void)state;
    assert_int_equal(run(sa, &a, err, sizeof(err)), 0);
    assert_int_equal(run(tp, &b, err, sizeof(err)), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    assert_string_equal(a.v[0].id, b.v[0].id);
    assert_string_equal(a.v[0].session, b.v[0].session);
    assert_string_equal(a.v[0].user_id, "02700c8344d542619b39319296c0d4c7");
    assert_string_equal(b.v[0].user_id, "02700c8344d542619b39319296c0d4c7");
    assert_int_equal(b.v[0].item.season, 1);
    assert_int_equal(b.v[0].item.episode, 1);
    assert_int_equal(b.v[0].item.year, 0);
    assert_int_equal(b.v[0].item.show_year, 2022);
    assert_int_equal(b.v[0].paused, 0);
    assert_int_equal(b.v[0].duration_ms, 3378000);
    event_list_release(&a);
    event_list_release(&b);
}

/* Rating and favorite from one notification: two events, distinct ids. */
static void
test_rating_and_watchlist_ids_differ(void **state)
{
    struct event_list out;
    char err[256];

    (void)state;
    assert_int_equal(run("{\"NotificationType\":\"UserDataSaved\","
                         "\"SaveReason\":\"UpdateUserRating\"," MOVIE
                         ",\"Rating\":7.5,\"Favorite\":false}",
                         &out, err, sizeof(err)),
                     0);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.v[0].kind, EVENT_RATING);
    assert_int_equal(out.v[0].rating, 8);
    assert_int_equal(out.v[1].kind, EVENT_WATCHLIST);
    assert_int_equal(out.v[1].action, EVENT_REMOVE);
    assert_string_not_equal(out.v[0].id, out.v[1].id);
    /* Ratings and lists carry no play length. */
    assert_int_equal(out.v[0].duration_ms, -1);
    event_list_release(&out);
}

/* watched_at: LastPlayedDate, else the notification time, else arrival. */
static void
test_watched_at_fallbacks(void **state)
{
    static const struct {
        const char *extra;
        int64_t want;
    } t[] = {
        {",\"LastPlayedDate\":\"2025-03-01T10:00:00.5Z\","
         "\"UtcTimestamp\":\"2025-03-02T20:59:00Z\"",
         1740823200},
        {",\"LastPlayedDate\":\"yesterday\","
         "\"UtcTimestamp\":\"2025-03-02T20:59:00Z\"",
         1740949140},
        {",\"Timestamp\":\"2025-03-02T21:59:00.1+01:00\"", 1740949140},
        {"", NOW},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct event_list out;
        char err[256];
        char *body =
            xasprintf("{\"NotificationType\":\"UserDataSaved\",\"SaveReason\":"
                      "\"TogglePlayed\",\"Played\":true,\"ItemType\":\"Movie\","
                      "\"Provider_imdb\":\"tt2543164\"%s}",
                      t[i].extra);

        assert_int_equal(run(body, &out, err, sizeof(err)), 0);
        assert_int_equal(out.n, 1);
        assert_int_equal(out.v[0].kind, EVENT_HISTORY);
        assert_int_equal(out.v[0].action, EVENT_ADD);
        assert_int_equal(out.v[0].watched_at, t[i].want);
        event_list_release(&out);
        free(body);
    }
}

/* Titles: Escape() and HTML entities undone, lone surrogates kept, long
 * names capped on a UTF-8 boundary. */
static void
test_text_cleanup(void **state)
{
    static const struct {
        const char *name;
        const char *want;
    } t[] = {
        {"Tom &amp; Jerry", "Tom & Jerry"},
        {"Caf&#xE9; &#233;t&#201;", "Caf\xc3\xa9 \xc3\xa9t\xc3\x89"},
        {"say \\\\\\\"hi\\\\\\\"", "say \"hi\""}, /* JSON: say \\\"hi\\\" */
        {"&#55357; alone", "&#55357; alone"},
        {"&#0; &bogus; & &#;", "&#0; &bogus; & &#;"},
        {"&lt;b&gt; &apos;x&apos;", "<b> 'x'"},
    };
    struct buf body;
    struct event_list out;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char *b = xasprintf("{\"NotificationType\":\"PlaybackStart\","
                            "\"ItemType\":\"Movie\",\"Name\":\"%s\"}",
                            t[i].name);

        assert_int_equal(run(b, &out, err, sizeof(err)), 0);
        assert_int_equal(out.n, 1);
        assert_string_equal(out.v[0].item.title, t[i].want);
        event_list_release(&out);
        free(b);
    }

    buf_init(&body);
    buf_puts(&body, "{\"NotificationType\":\"PlaybackStart\",\"ItemType\":"
                    "\"Movie\",\"Name\":\"x");
    for (int i = 0; i < 700; i++)
        buf_puts(&body, "\xc3\xa9"); /* 2-byte characters after one byte */
    buf_puts(&body, "\"}");
    assert_int_equal(run(body.data, &out, err, sizeof(err)), 0);
    assert_int_equal(out.n, 1);
    assert_true(strlen(out.v[0].item.title) <= 1024);
    assert_int_equal(strlen(out.v[0].item.title) % 2, 1); /* "x" + pairs */
    event_list_release(&out);
    buf_release(&body);
}

/* A non-GUID user id is kept as sent. */
static void
test_user_id_not_guid(void **state)
{
    struct event_list out;
    char err[256];

    (void)state;
    assert_int_equal(run("{\"NotificationType\":\"PlaybackStart\","
                         "\"ItemType\":\"Movie\",\"UserId\":\"User-7\"}",
                         &out, err, sizeof(err)),
                     0);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.v[0].user_id, "User-7");
    event_list_release(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_template_matches_send_all),
        cmocka_unit_test(test_rating_and_watchlist_ids_differ),
        cmocka_unit_test(test_watched_at_fallbacks),
        cmocka_unit_test(test_text_cleanup),
        cmocka_unit_test(test_user_id_not_guid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
