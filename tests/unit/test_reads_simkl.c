/*
 * test_reads_simkl: the SIMKL reads (PROVIDERS.md B2, SYNC.md 5, 6.2, 7):
 * the /sync/all-items walk over movies, shows and anime for history,
 * watchlist (plantowatch) and ratings, with every request's headers and
 * query parameters; rows (ids as strings, anime ids, watched episodes, the
 * 1970-01-01T00:00:01Z "no date" placeholder, empty null and {} replies);
 * /sync/activities checkpoints; delta reads with date_from and their
 * watermarks. Replies are written from PROVIDERS.md's examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "http.h"
#include "item.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define ACCESS "SIMKL-tok-1234567890"
#define BASE   "http://127.0.0.1:9/simkl"
#define Q      "?client_id=cid&app-name=watchrelay&app-version=0.1.0"
#define T0     1740948430 /* 2025-03-02T20:47:10Z */

static const struct adapter_ops *A = &adapter_simkl;

/* ---- helpers ---------------------------------------------------------- */

static void *
mk_ctx(void)
{
    struct provider_conf c;
    char base[] = BASE "/", cid[] = "cid", secret[] = "csecret",
         access[] = ACCESS;
    char err[256] = "";
    void *ctx;

    memset(&c, 0, sizeof(c));
    c.present = true;
    c.base_url = base;
    c.client_id = cid;
    c.client_secret = secret;
    c.access_token = access;
    ctx = A->init(&c, NULL, "/tmp", err, sizeof(err));
    assert_non_null(ctx);
    return ctx;
}

static void
mk_resp(struct http_response *r, long status, const char *body)
{
    http_response_init(r);
    r->status = status;
    if (body != NULL) {
        r->body = xstrdup(body);
        r->body_len = strlen(body);
    }
    if (status == 0)
        r->error = xstrdup("Connection refused");
}

static bool
has_header(const struct http_request *req, const char *line)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i], line) == 0)
            return true;
    return false;
}

static void
assert_read_request(const struct http_request *req, const char *url)
{
    assert_int_equal(req->method, HTTP_GET);
    assert_int_equal(req->rate_class, HTTP_CLASS_READ);
    assert_string_equal(req->url, url);
    assert_true(has_header(req, "Content-Type: application/json"));
    assert_true(has_header(req, "User-Agent: watchrelay/0.1.0"));
    assert_true(has_header(req, "simkl-api-key: cid"));
    assert_true(has_header(req, "Authorization: Bearer " ACCESS));
    assert_null(req->body);
}

static void
assert_id(const struct item_ids *ids, enum item_id id, const char *want)
{
    if (want == NULL) {
        assert_null(ids->v[id]);
        return;
    }
    assert_non_null(ids->v[id]);
    assert_string_equal(ids->v[id], want);
}

static void
expect_index_url(void *ctx, enum adapter_feature f, const char *cursor,
                 const char *url)
{
    struct http_request req;
    char err[256] = "";

    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, f, cursor, &req, err, sizeof(err)), 0);
    assert_read_request(&req, url);
    http_request_release(&req);
}

static void
expect_delta_url(void *ctx, enum adapter_feature f, int64_t since,
                 const char *cursor, const char *url)
{
    struct http_request req;
    char err[256] = "";

    http_request_init(&req);
    assert_int_equal(
        A->build_delta(ctx, f, since, cursor, &req, err, sizeof(err)), 0);
    assert_read_request(&req, url);
    http_request_release(&req);
}

static int
parse(void *ctx, bool delta, enum adapter_feature f, long status,
      const char *body, struct adapter_page *pg, char *err, size_t errlen)
{
    struct http_response resp;
    int rc;

    memset(pg, 0, sizeof(*pg));
    mk_resp(&resp, status, body);
    rc = delta ? A->parse_delta(ctx, f, &resp, pg, err, errlen)
               : A->parse_index(ctx, f, &resp, pg, err, errlen);
    http_response_release(&resp);
    return rc;
}

/* ---- replies (PROVIDERS.md B2) --------------------------------------- */

#define ARRIVAL                                                           \
    "{\"added_to_watchlist_at\":\"2024-01-20T20:09:04Z\","                \
    "\"last_watched_at\":\"2025-03-02T20:47:10Z\","                       \
    "\"user_rated_at\":\"2025-03-02T20:50:00Z\",\"user_rating\":8,"       \
    "\"status\":\"completed\",\"movie\":{\"title\":\"Arrival\",\"year\":" \
    "2016,\"ids\":{\"simkl\":53992,\"slug\":\"arrival\",\"imdb\":"        \
    "\"tt2543164\",\"tmdb\":\"329865\"}}}"

static const char MOVIES[] =
    "{\"movies\":[" ARRIVAL ","
    /* Watched, date not remembered. */
    "{\"last_watched_at\":\"1970-01-01T00:00:01Z\",\"status\":\"completed\","
    "\"user_rating\":null,\"movie\":{\"title\":\"Heat\",\"year\":1995,"
    "\"ids\":{\"simkl\":1001,\"tmdb\":\"949\"}}},"
    /* Completed without a last_watched_at. */
    "{\"last_watched_at\":null,\"status\":\"completed\",\"movie\":{"
    "\"title\":\"Alien\",\"year\":1979,\"ids\":{\"simkl\":1002,\"imdb\":"
    "\"tt0078748\"}}},"
    /* Plan to watch: no play. */
    "{\"added_to_watchlist_at\":\"2025-02-10T08:00:00Z\",\"last_watched_at\":"
    "null,\"status\":\"plantowatch\",\"user_rating\":11,\"movie\":{"
    "\"title\":\"Dune\",\"year\":2021,\"ids\":{\"simkl\":1003,\"tmdb\":"
    "438631}}}]}";

/* Severance: S01E01 dated, S01E02 placeholder, S01E03 listed undated. */
static const char SHOWS[] =
    "{\"shows\":[{\"added_to_watchlist_at\":null,"
    "\"last_watched_at\":\"2025-03-02T21:05:31Z\",\"user_rating\":9,"
    "\"user_rated_at\":\"2025-03-04T12:00:00Z\",\"status\":\"watching\","
    "\"last_watched\":\"S01E03\",\"next_to_watch\":\"S01E04\","
    "\"watched_episodes_count\":3,\"total_episodes_count\":19,"
    "\"not_aired_episodes_count\":0,"
    "\"show\":{\"title\":\"Severance\",\"year\":2022,\"ids\":{\"simkl\":"
    "1234567,\"slug\":\"severance\",\"imdb\":\"tt11280740\",\"tmdb\":"
    "\"95396\",\"tvdb\":\"371980\"}},"
    "\"seasons\":[{\"number\":1,\"episodes\":["
    "{\"number\":1,\"watched_at\":\"2025-03-02T21:05:31Z\"},"
    "{\"number\":2,\"watched_at\":\"1970-01-01T00:00:01Z\"},"
    "{\"number\":3}]}]}]}";

/* An anime with its ids as strings. */
static const char ANIME[] =
    "{\"anime\":[{\"last_watched_at\":\"2025-03-01T09:00:00Z\","
    "\"status\":\"completed\",\"anime_type\":\"tv\",\"user_rating\":\"10\","
    "\"user_rated_at\":\"2025-03-01T09:00:00Z\","
    "\"show\":{\"title\":\"Frieren\",\"year\":2023,\"ids\":{\"simkl\":"
    "\"2200001\",\"mal\":\"52991\",\"anidb\":\"17617\",\"anilist\":"
    "\"154587\",\"kitsu\":\"46474\",\"tvdb\":\"424536\",\"livechart\":"
    "\"11432\"}},"
    "\"seasons\":[{\"number\":\"1\",\"episodes\":[{\"number\":\"28\","
    "\"watched_at\":\"2025-03-01T09:00:00Z\"}]}]}]}";

/* ---- tests ------------------------------------------------------------ */

static void
test_vtable(void **state)
{
    unsigned all = ADAPTER_BIT(ADAPTER_HISTORY) |
                   ADAPTER_BIT(ADAPTER_WATCHLIST) |
                   ADAPTER_BIT(ADAPTER_RATINGS);

    (void)state;
    assert_int_equal(A->features, all);
    assert_int_equal(A->delta_features, all);
    assert_true(A->dated_history);
    assert_int_equal(A->phantom_grace_s, 3600);
    assert_false(A->has_local_id);
    assert_non_null(A->build_index);
    assert_non_null(A->parse_index);
    assert_non_null(A->build_activities);
    assert_non_null(A->parse_activities);
    assert_non_null(A->build_delta);
    assert_non_null(A->parse_delta);
    assert_null(A->read_index);
}

static void
test_index_requests(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    char err[256] = "";

    (void)state;
    expect_index_url(ctx, ADAPTER_HISTORY, NULL,
                     BASE "/sync/all-items/movies" Q
                          "&extended=full&episode_watched_at=yes");
    expect_index_url(ctx, ADAPTER_HISTORY, "shows",
                     BASE "/sync/all-items/shows" Q
                          "&extended=full&episode_watched_at=yes");
    expect_index_url(ctx, ADAPTER_HISTORY, "anime",
                     BASE "/sync/all-items/anime" Q
                          "&extended=full&episode_watched_at=yes");
    expect_index_url(ctx, ADAPTER_WATCHLIST, NULL,
                     BASE "/sync/all-items/movies/plantowatch" Q
                          "&extended=full");
    expect_index_url(ctx, ADAPTER_WATCHLIST, "anime",
                     BASE "/sync/all-items/anime/plantowatch" Q
                          "&extended=full");
    expect_index_url(ctx, ADAPTER_RATINGS, "shows",
                     BASE "/sync/all-items/shows" Q "&extended=full");

    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, ADAPTER_HISTORY, "episodes", &req, err,
                                    sizeof(err)),
                     -1);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_PLAYLISTS, NULL, &req, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "playlists"));
    http_request_release(&req);
    A->free(ctx);
}

static void
test_history_walk(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    /* Movies: one row per watched movie. */
    expect_index_url(ctx, ADAPTER_HISTORY, NULL,
                     BASE "/sync/all-items/movies" Q
                          "&extended=full&episode_watched_at=yes");
    assert_int_equal(
        parse(ctx, false, ADAPTER_HISTORY, 200, MOVIES, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 3);
    assert_non_null(pg.next_cursor);
    assert_string_equal(pg.next_cursor, "shows");

    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Arrival");
    assert_int_equal(e->item.year, 2016);
    assert_int_equal(e->watched_at, T0);
    assert_id(&e->item.ids, ITEM_ID_SIMKL, "53992");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865"); /* a string on the wire */
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt2543164");
    assert_id(&e->item.ids, ITEM_ID_SLUG, "arrival");
    assert_int_equal(e->rating, 0);
    assert_int_equal(e->listed_at, 0);
    assert_true(e->progress == -1);
    assert_int_equal(e->position, -1);

    e = &pg.rows[1];
    assert_string_equal(e->item.title, "Heat");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "949");
    assert_int_equal(e->watched_at, 0); /* 1970-01-01T00:00:01Z */

    e = &pg.rows[2];
    assert_string_equal(e->item.title, "Alien");
    assert_int_equal(e->watched_at, 0);
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt0078748");
    adapter_page_release(&pg);

    /* Shows: one row per watched episode. */
    expect_index_url(ctx, ADAPTER_HISTORY, "shows",
                     BASE "/sync/all-items/shows" Q
                          "&extended=full&episode_watched_at=yes");
    assert_int_equal(
        parse(ctx, false, ADAPTER_HISTORY, 200, SHOWS, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 3);
    assert_string_equal(pg.next_cursor, "anime");
    for (size_t i = 0; i < 3; i++) {
        e = &pg.rows[i];
        assert_int_equal(e->item.type, ITEM_EPISODE);
        assert_int_equal(e->item.season, 1);
        assert_int_equal(e->item.episode, (int)i + 1);
        assert_string_equal(e->item.show_title, "Severance");
        assert_int_equal(e->item.show_year, 2022);
        assert_id(&e->item.show_ids, ITEM_ID_TVDB, "371980");
        assert_id(&e->item.show_ids, ITEM_ID_TMDB, "95396");
        assert_id(&e->item.show_ids, ITEM_ID_IMDB, "tt11280740");
        assert_id(&e->item.show_ids, ITEM_ID_SIMKL, "1234567");
        assert_id(&e->item.ids, ITEM_ID_TVDB, NULL);
        assert_int_equal(e->rating, 0);
    }
    assert_int_equal(pg.rows[0].watched_at, T0 + 1101);
    assert_int_equal(pg.rows[1].watched_at, 0);
    assert_int_equal(pg.rows[2].watched_at, 0);
    adapter_page_release(&pg);

    /* Anime: anime ids among the show ids; the last bucket. */
    expect_index_url(ctx, ADAPTER_HISTORY, "anime",
                     BASE "/sync/all-items/anime" Q
                          "&extended=full&episode_watched_at=yes");
    assert_int_equal(
        parse(ctx, false, ADAPTER_HISTORY, 200, ANIME, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 1);
    assert_null(pg.next_cursor);
    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_EPISODE);
    assert_int_equal(e->item.season, 1);
    assert_int_equal(e->item.episode, 28);
    assert_int_equal(e->watched_at, 1740819600);
    assert_string_equal(e->item.show_title, "Frieren");
    assert_id(&e->item.show_ids, ITEM_ID_MAL, "52991");
    assert_id(&e->item.show_ids, ITEM_ID_ANIDB, "17617");
    assert_id(&e->item.show_ids, ITEM_ID_ANILIST, "154587");
    assert_id(&e->item.show_ids, ITEM_ID_KITSU, "46474");
    assert_id(&e->item.show_ids, ITEM_ID_SIMKL, "2200001");
    assert_id(&e->item.show_ids, ITEM_ID_TVDB, "424536");
    adapter_page_release(&pg);
    A->free(ctx);
}

/* Empty all-items replies: null (legacy apps) and {} (newer ones). */
static void
test_empty_replies(void **state)
{
    static const char *const empties[] = {"null", " null\n", "{}", "[]",
                                          "{\"movies\":[]}"};
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        expect_index_url(ctx, ADAPTER_HISTORY, NULL,
                         BASE "/sync/all-items/movies" Q
                              "&extended=full&episode_watched_at=yes");
        assert_int_equal(parse(ctx, false, ADAPTER_HISTORY, 200, empties[i],
                               &pg, err, sizeof(err)),
                         0);
        assert_int_equal(pg.n, 0);
        /* The walk goes on to the next bucket. */
        assert_non_null(pg.next_cursor);
        assert_string_equal(pg.next_cursor, "shows");
        adapter_page_release(&pg);
    }
    expect_index_url(ctx, ADAPTER_RATINGS, "anime",
                     BASE "/sync/all-items/anime" Q "&extended=full");
    assert_int_equal(
        parse(ctx, false, ADAPTER_RATINGS, 200, "null", &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 0);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_watchlist_rows(void **state)
{
    static const char body[] =
        "{\"movies\":[{\"added_to_watchlist_at\":\"2025-02-10T08:00:00Z\","
        "\"last_watched_at\":null,\"status\":\"plantowatch\",\"movie\":{"
        "\"title\":\"Dune\",\"year\":2021,\"ids\":{\"simkl\":1003,\"tmdb\":"
        "\"438631\"}}},"
        /* Not on Plan to Watch. */
        "{\"added_to_watchlist_at\":\"2024-01-20T20:09:04Z\",\"status\":"
        "\"completed\",\"movie\":{\"ids\":{\"simkl\":53992}}}]}";
    static const char shows[] =
        "{\"shows\":[{\"added_to_watchlist_at\":\"2024-01-20T20:09:04Z\","
        "\"status\":\"plantowatch\",\"show\":{\"title\":\"Andor\",\"year\":"
        "2022,\"ids\":{\"simkl\":2000,\"tmdb\":\"83867\"}}}]}";
    void *ctx = mk_ctx();
    struct adapter_page pg;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    expect_index_url(ctx, ADAPTER_WATCHLIST, NULL,
                     BASE "/sync/all-items/movies/plantowatch" Q
                          "&extended=full");
    assert_int_equal(
        parse(ctx, false, ADAPTER_WATCHLIST, 200, body, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.next_cursor, "shows");
    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Dune");
    assert_int_equal(e->listed_at, 1739174400);
    assert_int_equal(e->watched_at, 0);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "438631");
    adapter_page_release(&pg);

    expect_index_url(ctx, ADAPTER_WATCHLIST, "shows",
                     BASE "/sync/all-items/shows/plantowatch" Q
                          "&extended=full");
    assert_int_equal(
        parse(ctx, false, ADAPTER_WATCHLIST, 200, shows, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.next_cursor, "anime");
    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_SHOW);
    assert_int_equal(e->listed_at, 1705781344);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "83867");
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_ratings_rows(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    /* Movies: Arrival rated 8; null and 11 are not ratings. */
    expect_index_url(ctx, ADAPTER_RATINGS, NULL,
                     BASE "/sync/all-items/movies" Q "&extended=full");
    assert_int_equal(
        parse(ctx, false, ADAPTER_RATINGS, 200, MOVIES, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 1);
    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_int_equal(e->rating, 8);
    assert_int_equal(e->rated_at, T0 + 170);
    assert_int_equal(e->watched_at, 0);
    adapter_page_release(&pg);

    /* Shows are rated as shows, never per episode. */
    expect_index_url(ctx, ADAPTER_RATINGS, "shows",
                     BASE "/sync/all-items/shows" Q "&extended=full");
    assert_int_equal(
        parse(ctx, false, ADAPTER_RATINGS, 200, SHOWS, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 1);
    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_SHOW);
    assert_int_equal(e->rating, 9);
    assert_int_equal(e->rated_at, 1741089600);
    assert_string_equal(e->item.title, "Severance");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "371980");
    adapter_page_release(&pg);

    /* A rating sent as a string. */
    expect_index_url(ctx, ADAPTER_RATINGS, "anime",
                     BASE "/sync/all-items/anime" Q "&extended=full");
    assert_int_equal(
        parse(ctx, false, ADAPTER_RATINGS, 200, ANIME, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.rows[0].rating, 10);
    assert_int_equal(pg.rows[0].item.type, ITEM_SHOW);
    assert_id(&pg.rows[0].item.ids, ITEM_ID_MAL, "52991");
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_read_errors(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    assert_int_equal(parse(ctx, false, ADAPTER_HISTORY, 401,
                           "{\"error\":\"user_token_failed\"}", &pg, err,
                           sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "unauthorized"));
    assert_null(strstr(err, ACCESS));
    adapter_page_release(&pg);
    assert_int_equal(
        parse(ctx, true, ADAPTER_RATINGS, 403, "", &pg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unauthorized"));
    adapter_page_release(&pg);
    assert_int_equal(parse(ctx, false, ADAPTER_WATCHLIST, 500, "oops", &pg, err,
                           sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "500"));
    adapter_page_release(&pg);
    assert_int_equal(parse(ctx, false, ADAPTER_HISTORY, 200, "{\"movies\":[",
                           &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "JSON"));
    adapter_page_release(&pg);
    assert_int_equal(
        parse(ctx, false, ADAPTER_HISTORY, 0, NULL, &pg, err, sizeof(err)), -1);
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_activities(void **state)
{
    static const char body[] =
        "{\"all\":\"2025-03-05T00:00:00Z\",\"settings\":{\"all\":"
        "\"2024-11-02T10:00:00Z\"},"
        "\"tv_shows\":{\"all\":\"2025-03-05T00:00:00Z\","
        "\"rated_at\":\"2025-03-04T12:00:00Z\",\"playback\":"
        "\"2025-03-05T00:00:00Z\",\"plantowatch\":\"2025-02-10T08:00:00Z\","
        "\"watching\":\"2025-03-02T21:05:31Z\",\"completed\":null,"
        "\"hold\":null,\"dropped\":null,\"removed_from_list\":null},"
        "\"anime\":{\"all\":\"2025-03-01T09:00:00Z\",\"rated_at\":"
        "\"2025-03-01T09:00:00Z\",\"plantowatch\":null,\"watching\":null,"
        "\"completed\":\"2025-03-01T09:00:00Z\",\"hold\":null,"
        "\"removed_from_list\":\"2024-01-20T20:09:04Z\"},"
        "\"movies\":{\"all\":\"2025-03-02T20:50:00Z\",\"rated_at\":"
        "\"2025-03-02T20:50:00Z\",\"playback\":null,\"plantowatch\":"
        "\"2024-01-20T20:09:04Z\",\"completed\":\"2025-03-02T20:47:10Z\","
        "\"dropped\":null,\"removed_from_list\":\"2025-03-02T21:05:31Z\"}}";
    void *ctx = mk_ctx();
    struct http_request req;
    struct http_response resp;
    int64_t cps[ADAPTER_FEATURE_MAX];
    char err[256] = "";

    (void)state;
    http_request_init(&req);
    assert_int_equal(A->build_activities(ctx, &req, err, sizeof(err)), 0);
    assert_read_request(&req, BASE "/sync/activities" Q);
    http_request_release(&req);

    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
        cps[f] = -5;
    mk_resp(&resp, 200, body);
    assert_int_equal(A->parse_activities(ctx, &resp, cps, err, sizeof(err)), 0);
    http_response_release(&resp);
    /* history: completed, watching, removed_from_list of every bucket */
    assert_int_equal(cps[ADAPTER_HISTORY], T0 + 1101);
    /* watchlist: plantowatch, removed_from_list */
    assert_int_equal(cps[ADAPTER_WATCHLIST], T0 + 1101);
    /* ratings: rated_at */
    assert_int_equal(cps[ADAPTER_RATINGS], 1741089600);
    assert_int_equal(cps[ADAPTER_PROGRESS], 0);

    /* Without removals the watchlist is its plantowatch. */
    mk_resp(&resp, 200,
            "{\"movies\":{\"plantowatch\":\"2024-01-20T20:09:04Z\","
            "\"completed\":null,\"rated_at\":null},\"tv_shows\":null}");
    assert_int_equal(A->parse_activities(ctx, &resp, cps, err, sizeof(err)), 0);
    http_response_release(&resp);
    assert_int_equal(cps[ADAPTER_HISTORY], 0);
    assert_int_equal(cps[ADAPTER_WATCHLIST], 1705781344);
    assert_int_equal(cps[ADAPTER_RATINGS], 0);

    mk_resp(&resp, 412, "{\"error\":\"client_id_failed\"}");
    assert_int_equal(A->parse_activities(ctx, &resp, cps, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "412"));
    http_response_release(&resp);
    A->free(ctx);
}

static void
test_delta(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    /* date_from = the watermark, as SIMKL writes times (no ms). */
    expect_delta_url(ctx, ADAPTER_HISTORY, T0, NULL,
                     BASE "/sync/all-items/movies" Q
                          "&extended=full&episode_watched_at=yes"
                          "&date_from=2025-03-02T20:47:10Z");
    assert_int_equal(
        parse(ctx, true, ADAPTER_HISTORY, 200, MOVIES, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 3);
    assert_int_equal(pg.watermark, T0);
    assert_string_equal(pg.next_cursor, "shows");
    expect_delta_url(ctx, ADAPTER_HISTORY, T0, pg.next_cursor,
                     BASE "/sync/all-items/shows" Q
                          "&extended=full&episode_watched_at=yes"
                          "&date_from=2025-03-02T20:47:10Z");
    adapter_page_release(&pg);
    assert_int_equal(
        parse(ctx, true, ADAPTER_HISTORY, 200, SHOWS, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.watermark, T0 + 1101);
    assert_string_equal(pg.next_cursor, "anime");
    adapter_page_release(&pg);
    expect_delta_url(ctx, ADAPTER_HISTORY, T0, "anime",
                     BASE "/sync/all-items/anime" Q
                          "&extended=full&episode_watched_at=yes"
                          "&date_from=2025-03-02T20:47:10Z");
    assert_int_equal(
        parse(ctx, true, ADAPTER_HISTORY, 200, "{}", &pg, err, sizeof(err)), 0);
    assert_int_equal(pg.n, 0);
    assert_int_equal(pg.watermark, 0);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);

    /* Watchlist: the newest added_to_watchlist_at. */
    expect_delta_url(ctx, ADAPTER_WATCHLIST, T0, NULL,
                     BASE "/sync/all-items/movies/plantowatch" Q
                          "&extended=full&date_from=2025-03-02T20:47:10Z");
    assert_int_equal(
        parse(ctx, true, ADAPTER_WATCHLIST, 200, MOVIES, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.watermark, 1739174400);
    adapter_page_release(&pg);

    /* Ratings: the newest user_rated_at. */
    expect_delta_url(ctx, ADAPTER_RATINGS, T0, "shows",
                     BASE "/sync/all-items/shows" Q
                          "&extended=full&date_from=2025-03-02T20:47:10Z");
    assert_int_equal(
        parse(ctx, true, ADAPTER_RATINGS, 200, SHOWS, &pg, err, sizeof(err)),
        0);
    assert_int_equal(pg.watermark, 1741089600);
    assert_string_equal(pg.next_cursor, "anime");
    adapter_page_release(&pg);

    /* No watermark yet: no date_from. */
    expect_delta_url(ctx, ADAPTER_RATINGS, 0, NULL,
                     BASE "/sync/all-items/movies" Q "&extended=full");
    A->free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vtable),
        cmocka_unit_test(test_index_requests),
        cmocka_unit_test(test_history_walk),
        cmocka_unit_test(test_empty_replies),
        cmocka_unit_test(test_watchlist_rows),
        cmocka_unit_test(test_ratings_rows),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_activities),
        cmocka_unit_test(test_delta),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
