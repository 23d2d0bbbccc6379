/*
 * test_reads_trakt: the Trakt reads (PROVIDERS.md B1, SYNC.md 5, 7): index
 * requests of history, watchlist and ratings (URL, headers, paging), their
 * rows (one per play; movies, episodes with their show, seasons), the
 * incomplete-read check against X-Pagination-Item-Count, last_activities
 * checkpoints and the history delta with its 5-minute overlap. Replies are
 * written from PROVIDERS.md's examples.
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

#define ACCESS "ACCESS-tok-1234567890"
#define BASE   "http://127.0.0.1:9/trakt"
#define T0     1740948430 /* 2025-03-02T20:47:10Z */

static const struct adapter_ops *A = &adapter_trakt;

/* ---- helpers ---------------------------------------------------------- */

static void *
mk_ctx(void)
{
    struct provider_conf c;
    char base[] = BASE "/", cid[] = "cid", secret[] = "csecret",
         access[] = ACCESS, refresh[] = "REFRESH";
    char err[256] = "";
    void *ctx;

    memset(&c, 0, sizeof(c));
    c.present = true;
    c.base_url = base;
    c.client_id = cid;
    c.client_secret = secret;
    c.access_token = access;
    c.refresh_token = refresh;
    ctx = A->init(&c, NULL, "/tmp", err, sizeof(err));
    assert_non_null(ctx);
    return ctx;
}

/* A reply: headers as "Name: value\n..." (may be NULL). */
static void
mk_resp(struct http_response *r, long status, const char *body,
        const char *headers)
{
    http_response_init(r);
    r->status = status;
    if (body != NULL) {
        r->body = xstrdup(body);
        r->body_len = strlen(body);
    }
    if (status == 0)
        r->error = xstrdup("Connection refused");
    while (headers != NULL && *headers) {
        const char *nl = strchr(headers, '\n');
        size_t len = nl ? (size_t)(nl - headers) : strlen(headers);
        const char *colon = memchr(headers, ':', len);

        assert_non_null(colon);
        r->headers =
            xrealloc(r->headers, (r->n_headers + 1) * sizeof(*r->headers));
        r->headers[r->n_headers].name =
            xstrndup(headers, (size_t)(colon - headers));
        r->headers[r->n_headers].value =
            xstrndup(colon + 2, len - (size_t)(colon + 2 - headers));
        r->n_headers++;
        headers = nl ? nl + 1 : NULL;
    }
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
    assert_true(has_header(req, "trakt-api-key: cid"));
    assert_true(has_header(req, "trakt-api-version: 2"));
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

/* build_index (cursor may be NULL) and check the URL. */
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

static int
parse_index(void *ctx, enum adapter_feature f, long status, const char *body,
            const char *headers, struct adapter_page *pg, char *err,
            size_t errlen)
{
    struct http_response resp;
    int rc;

    memset(pg, 0, sizeof(*pg));
    mk_resp(&resp, status, body, headers);
    rc = A->parse_index(ctx, f, &resp, pg, err, errlen);
    http_response_release(&resp);
    return rc;
}

/* ---- replies (PROVIDERS.md B1) --------------------------------------- */

/* Severance S01E01 at 21:05:31 and Arrival at 20:47:10. */
static const char HISTORY_PAGE[] =
    "[{\"id\":9871234567,\"watched_at\":\"2025-03-02T21:05:31.000Z\","
    "\"action\":\"scrobble\",\"type\":\"episode\","
    "\"episode\":{\"season\":1,\"number\":1,\"title\":\"Good News About "
    "Hell\",\"ids\":{\"trakt\":5123456,\"tvdb\":8603573,\"imdb\":"
    "\"tt11650328\",\"tmdb\":1978331,\"tvrage\":null}},"
    "\"show\":{\"title\":\"Severance\",\"year\":2022,\"ids\":{\"trakt\":"
    "154997,\"slug\":\"severance\",\"tvdb\":371980,\"imdb\":\"tt11280740\","
    "\"tmdb\":95396}}},"
    "{\"id\":9871234500,\"watched_at\":\"2025-03-02T20:47:10.000Z\","
    "\"action\":\"watch\",\"type\":\"movie\",\"movie\":{\"title\":"
    "\"Arrival\",\"year\":2016,\"ids\":{\"trakt\":203537,\"slug\":"
    "\"arrival-2016\",\"imdb\":\"tt2543164\",\"tmdb\":329865}}}]";

/* A second play of Arrival, a day earlier. */
static const char HISTORY_PAGE2[] =
    "[{\"id\":9871234400,\"watched_at\":\"2025-03-01T20:47:10.000Z\","
    "\"action\":\"checkin\",\"type\":\"movie\",\"movie\":{\"title\":"
    "\"Arrival\",\"year\":2016,\"ids\":{\"trakt\":203537,\"slug\":"
    "\"arrival-2016\",\"imdb\":\"tt2543164\",\"tmdb\":329865}}}]";

/* ---- tests ------------------------------------------------------------ */

static void
test_vtable(void **state)
{
    (void)state;
    assert_int_equal(A->features, ADAPTER_BIT(ADAPTER_HISTORY) |
                                      ADAPTER_BIT(ADAPTER_WATCHLIST) |
                                      ADAPTER_BIT(ADAPTER_RATINGS));
    assert_int_equal(A->delta_features, ADAPTER_BIT(ADAPTER_HISTORY));
    assert_true(A->dated_history);
    assert_int_equal(A->phantom_grace_s, 900);
    assert_false(A->has_local_id);
    assert_non_null(A->build_index);
    assert_non_null(A->parse_index);
    assert_non_null(A->build_activities);
    assert_non_null(A->parse_activities);
    assert_non_null(A->build_delta);
    assert_non_null(A->parse_delta);
    assert_null(A->read_index);
    assert_null(A->read_activities);
}

static void
test_index_requests(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    char err[256] = "";

    (void)state;
    expect_index_url(ctx, ADAPTER_HISTORY, NULL,
                     BASE "/sync/history?page=1&limit=1000");
    expect_index_url(ctx, ADAPTER_HISTORY, "page=3;rows=2000",
                     BASE "/sync/history?page=3&limit=1000");
    expect_index_url(ctx, ADAPTER_WATCHLIST, NULL,
                     BASE "/sync/watchlist?page=1&limit=1000");
    expect_index_url(ctx, ADAPTER_RATINGS, "page=2;rows=1000",
                     BASE "/sync/ratings?page=2&limit=1000");

    /* Not a cursor of ours; a feature Trakt is not read for. */
    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, ADAPTER_HISTORY, "page=x;rows=1", &req,
                                    err, sizeof(err)),
                     -1);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_HISTORY, "bogus", &req, err, sizeof(err)),
        -1);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_PROGRESS, NULL, &req, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "progress"));
    http_request_release(&req);
    A->free(ctx);
}

static void
test_history_rows(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    expect_index_url(ctx, ADAPTER_HISTORY, NULL,
                     BASE "/sync/history?page=1&limit=1000");
    /* No pagination headers: one page. */
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, HISTORY_PAGE, NULL,
                                 &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 2);
    assert_null(pg.next_cursor);

    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_EPISODE);
    assert_int_equal(e->watched_at, T0 + 1101);
    assert_int_equal(e->item.season, 1);
    assert_int_equal(e->item.episode, 1);
    assert_string_equal(e->item.title, "Good News About Hell");
    assert_id(&e->item.ids, ITEM_ID_TRAKT, "5123456");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "8603573");
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt11650328");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "1978331");
    assert_string_equal(e->item.show_title, "Severance");
    assert_int_equal(e->item.show_year, 2022);
    assert_id(&e->item.show_ids, ITEM_ID_TVDB, "371980");
    assert_id(&e->item.show_ids, ITEM_ID_TMDB, "95396");
    assert_id(&e->item.show_ids, ITEM_ID_IMDB, "tt11280740");
    assert_id(&e->item.show_ids, ITEM_ID_TRAKT, "154997");
    assert_id(&e->item.show_ids, ITEM_ID_SLUG, "severance");
    assert_int_equal(e->rating, 0);
    assert_true(e->progress == -1);
    assert_int_equal(e->position, -1);
    assert_false(e->removed);
    assert_false(e->library_only);

    e = &pg.rows[1];
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_int_equal(e->watched_at, T0);
    assert_string_equal(e->item.title, "Arrival");
    assert_int_equal(e->item.year, 2016);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt2543164");
    assert_id(&e->item.ids, ITEM_ID_TRAKT, "203537");
    assert_id(&e->item.ids, ITEM_ID_SLUG, "arrival-2016");
    assert_id(&e->item.ids, ITEM_ID_TVDB, NULL);
    assert_int_equal(e->item.season, -1);
    /* Index reads carry no watermark. */
    assert_int_equal(pg.watermark, 0);
    adapter_page_release(&pg);

    /* An empty history. */
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, "[]",
                                 "X-Pagination-Page: 1\n"
                                 "X-Pagination-Limit: 1000\n"
                                 "X-Pagination-Page-Count: 1\n"
                                 "X-Pagination-Item-Count: 0",
                                 &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 0);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_history_paging(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    /* Page 1 of 2: the cursor asks for page 2 after 2 rows. */
    expect_index_url(ctx, ADAPTER_HISTORY, NULL,
                     BASE "/sync/history?page=1&limit=1000");
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, HISTORY_PAGE,
                                 "X-Pagination-Page: 1\n"
                                 "X-Pagination-Limit: 1000\n"
                                 "X-Pagination-Page-Count: 2\n"
                                 "X-Pagination-Item-Count: 3",
                                 &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 2);
    assert_non_null(pg.next_cursor);
    assert_string_equal(pg.next_cursor, "page=2;rows=2");
    expect_index_url(ctx, ADAPTER_HISTORY, pg.next_cursor,
                     BASE "/sync/history?page=2&limit=1000");
    adapter_page_release(&pg);

    /* Page 2 of 2: 2 + 1 rows = the advertised 3. */
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, HISTORY_PAGE2,
                                 "X-Pagination-Page: 2\n"
                                 "X-Pagination-Limit: 1000\n"
                                 "X-Pagination-Page-Count: 2\n"
                                 "X-Pagination-Item-Count: 3",
                                 &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 1);
    assert_null(pg.next_cursor);
    assert_int_equal(pg.rows[0].watched_at, T0 - 86400);
    adapter_page_release(&pg);

    /* The same last page when the server advertised 4: incomplete. */
    err[0] = '\0';
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, HISTORY_PAGE2,
                                 "X-Pagination-Page: 2\n"
                                 "X-Pagination-Limit: 1000\n"
                                 "X-Pagination-Page-Count: 2\n"
                                 "X-Pagination-Item-Count: 4",
                                 &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    assert_int_equal(pg.n, 0);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);

    /* A single page that holds fewer rows than advertised. */
    expect_index_url(ctx, ADAPTER_HISTORY, NULL,
                     BASE "/sync/history?page=1&limit=1000");
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, HISTORY_PAGE,
                                 "X-Pagination-Page: 1\n"
                                 "X-Pagination-Page-Count: 1\n"
                                 "X-Pagination-Item-Count: 5",
                                 &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    adapter_page_release(&pg);

    /* Page 1 of 3 with no rows: paging stopped short. */
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, "[]",
                                 "X-Pagination-Page: 1\n"
                                 "X-Pagination-Page-Count: 3\n"
                                 "X-Pagination-Item-Count: 2500",
                                 &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    adapter_page_release(&pg);
    A->free(ctx);
}

/* A reply for a page other than the one last asked for counts the full
 * pages before it from its own headers. */
static void
test_paging_from_headers(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, HISTORY_PAGE2,
                                 "X-Pagination-Page: 3\n"
                                 "X-Pagination-Limit: 1000\n"
                                 "X-Pagination-Page-Count: 3\n"
                                 "X-Pagination-Item-Count: 2001",
                                 &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 1);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, HISTORY_PAGE2,
                                 "X-Pagination-Page: 2\n"
                                 "X-Pagination-Limit: 1000\n"
                                 "X-Pagination-Page-Count: 3\n"
                                 "X-Pagination-Item-Count: 2001",
                                 &pg, err, sizeof(err)),
                     0);
    assert_string_equal(pg.next_cursor, "page=3;rows=1001");
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_watchlist_rows(void **state)
{
    static const char body[] =
        "[{\"rank\":1,\"id\":101,\"listed_at\":\"2025-03-02T20:47:10.000Z\","
        "\"notes\":null,\"type\":\"movie\",\"movie\":{\"title\":\"Arrival\","
        "\"year\":2016,\"ids\":{\"trakt\":203537,\"slug\":\"arrival-2016\","
        "\"imdb\":\"tt2543164\",\"tmdb\":329865}}},"
        "{\"rank\":2,\"id\":102,\"listed_at\":\"2025-03-01T10:00:00.000Z\","
        "\"notes\":null,\"type\":\"show\",\"show\":{\"title\":\"Severance\","
        "\"year\":2022,\"ids\":{\"trakt\":154997,\"slug\":\"severance\","
        "\"tvdb\":371980,\"imdb\":\"tt11280740\",\"tmdb\":95396}}},"
        "{\"rank\":3,\"id\":103,\"listed_at\":\"2025-02-28T10:00:00.000Z\","
        "\"type\":\"season\",\"season\":{\"number\":2,\"ids\":{\"trakt\":"
        "300001,\"tvdb\":900002,\"tmdb\":400003}},\"show\":{\"title\":"
        "\"Severance\",\"year\":2022,\"ids\":{\"tvdb\":371980}}},"
        "{\"rank\":4,\"id\":104,\"listed_at\":\"2025-02-27T10:00:00.000Z\","
        "\"type\":\"episode\",\"episode\":{\"season\":2,\"number\":3,"
        "\"title\":\"Who Is Alive?\",\"ids\":{\"trakt\":5200003,\"tvdb\":"
        "9000003}},\"show\":{\"title\":\"Severance\",\"year\":2022,\"ids\":"
        "{\"tvdb\":371980}}},"
        "{\"rank\":5,\"id\":105,\"listed_at\":\"2025-02-26T10:00:00.000Z\","
        "\"type\":\"person\",\"person\":{\"name\":\"Someone\"}}]";
    void *ctx = mk_ctx();
    struct adapter_page pg;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    expect_index_url(ctx, ADAPTER_WATCHLIST, NULL,
                     BASE "/sync/watchlist?page=1&limit=1000");
    assert_int_equal(parse_index(ctx, ADAPTER_WATCHLIST, 200, body,
                                 "X-Pagination-Page: 1\n"
                                 "X-Pagination-Page-Count: 1\n"
                                 "X-Pagination-Item-Count: 5",
                                 &pg, err, sizeof(err)),
                     0);
    /* The person row is not an item. */
    assert_int_equal(pg.n, 4);
    assert_null(pg.next_cursor);

    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_int_equal(e->listed_at, T0);
    assert_int_equal(e->watched_at, 0);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");

    e = &pg.rows[1];
    assert_int_equal(e->item.type, ITEM_SHOW);
    assert_string_equal(e->item.title, "Severance");
    assert_int_equal(e->item.year, 2022);
    assert_id(&e->item.ids, ITEM_ID_TVDB, "371980");
    assert_int_equal(e->listed_at, 1740823200); /* 2025-03-01T10:00:00Z */

    e = &pg.rows[2];
    assert_int_equal(e->item.type, ITEM_SEASON);
    assert_int_equal(e->item.season, 2);
    assert_int_equal(e->item.episode, -1);
    assert_id(&e->item.ids, ITEM_ID_TVDB, "900002");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "400003");
    assert_id(&e->item.show_ids, ITEM_ID_TVDB, "371980");
    assert_string_equal(e->item.show_title, "Severance");

    e = &pg.rows[3];
    assert_int_equal(e->item.type, ITEM_EPISODE);
    assert_int_equal(e->item.season, 2);
    assert_int_equal(e->item.episode, 3);
    assert_id(&e->item.ids, ITEM_ID_TRAKT, "5200003");
    assert_id(&e->item.show_ids, ITEM_ID_TVDB, "371980");
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_ratings_rows(void **state)
{
    static const char body[] =
        "[{\"rated_at\":\"2025-03-02T20:50:00.000Z\",\"rating\":8,"
        "\"type\":\"movie\",\"movie\":{\"title\":\"Arrival\",\"year\":2016,"
        "\"ids\":{\"trakt\":203537,\"imdb\":\"tt2543164\",\"tmdb\":329865}}},"
        "{\"rated_at\":\"2025-03-02T21:00:00.000Z\",\"rating\":9,"
        "\"type\":\"season\",\"season\":{\"number\":1,\"ids\":{\"trakt\":"
        "300000,\"tvdb\":900001}},\"show\":{\"title\":\"Severance\","
        "\"year\":2022,\"ids\":{\"trakt\":154997,\"tvdb\":371980,"
        "\"tmdb\":95396}}},"
        "{\"rated_at\":\"2025-03-02T21:10:00.000Z\",\"rating\":10,"
        "\"type\":\"episode\",\"episode\":{\"season\":1,\"number\":9,"
        "\"ids\":{\"trakt\":5123464}},\"show\":{\"ids\":{\"tvdb\":371980}}},"
        "{\"rated_at\":\"2025-03-02T21:20:00.000Z\",\"rating\":7,"
        "\"type\":\"show\",\"show\":{\"title\":\"Andor\",\"year\":2022,"
        "\"ids\":{\"tmdb\":83867}}},"
        /* Out of range (SYNC.md 7): skipped. */
        "{\"rated_at\":\"2025-03-02T21:30:00.000Z\",\"rating\":11,"
        "\"type\":\"movie\",\"movie\":{\"ids\":{\"tmdb\":1}}},"
        "{\"rated_at\":\"2025-03-02T21:30:00.000Z\",\"rating\":0,"
        "\"type\":\"movie\",\"movie\":{\"ids\":{\"tmdb\":2}}},"
        "{\"rated_at\":\"2025-03-02T21:30:00.000Z\",\"rating\":7.5,"
        "\"type\":\"movie\",\"movie\":{\"ids\":{\"tmdb\":3}}},"
        "{\"rated_at\":\"2025-03-02T21:30:00.000Z\","
        "\"type\":\"movie\",\"movie\":{\"ids\":{\"tmdb\":4}}}]";
    void *ctx = mk_ctx();
    struct adapter_page pg;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    expect_index_url(ctx, ADAPTER_RATINGS, NULL,
                     BASE "/sync/ratings?page=1&limit=1000");
    assert_int_equal(parse_index(ctx, ADAPTER_RATINGS, 200, body,
                                 "X-Pagination-Page: 1\n"
                                 "X-Pagination-Page-Count: 1\n"
                                 "X-Pagination-Item-Count: 8",
                                 &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 4);

    e = &pg.rows[0];
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_int_equal(e->rating, 8);
    assert_int_equal(e->rated_at, T0 + 170);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");

    e = &pg.rows[1];
    assert_int_equal(e->item.type, ITEM_SEASON);
    assert_int_equal(e->rating, 9);
    assert_int_equal(e->rated_at, T0 + 770);
    assert_int_equal(e->item.season, 1);
    assert_id(&e->item.ids, ITEM_ID_TRAKT, "300000");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "900001");
    assert_id(&e->item.show_ids, ITEM_ID_TVDB, "371980");
    assert_id(&e->item.show_ids, ITEM_ID_TMDB, "95396");
    assert_id(&e->item.show_ids, ITEM_ID_TRAKT, "154997");
    assert_string_equal(e->item.show_title, "Severance");
    assert_int_equal(e->item.show_year, 2022);

    e = &pg.rows[2];
    assert_int_equal(e->item.type, ITEM_EPISODE);
    assert_int_equal(e->rating, 10);
    assert_int_equal(e->item.season, 1);
    assert_int_equal(e->item.episode, 9);
    assert_id(&e->item.show_ids, ITEM_ID_TVDB, "371980");

    e = &pg.rows[3];
    assert_int_equal(e->item.type, ITEM_SHOW);
    assert_int_equal(e->rating, 7);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "83867");
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
    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 401,
                                 "{\"error\":\"invalid_token\"}", NULL, &pg,
                                 err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "unauthorized"));
    assert_null(strstr(err, ACCESS));
    adapter_page_release(&pg);

    assert_int_equal(parse_index(ctx, ADAPTER_WATCHLIST, 403, "", NULL, &pg,
                                 err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "unauthorized"));
    adapter_page_release(&pg);

    assert_int_equal(parse_index(ctx, ADAPTER_RATINGS, 503, "busy", NULL, &pg,
                                 err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "503"));
    adapter_page_release(&pg);

    assert_int_equal(
        parse_index(ctx, ADAPTER_HISTORY, 0, NULL, NULL, &pg, err, sizeof(err)),
        -1);
    adapter_page_release(&pg);

    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, "[{\"id\":1,", NULL,
                                 &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "JSON"));
    adapter_page_release(&pg);

    assert_int_equal(parse_index(ctx, ADAPTER_HISTORY, 200, "{\"a\":1}", NULL,
                                 &pg, err, sizeof(err)),
                     -1);
    adapter_page_release(&pg);

    assert_int_equal(parse_index(ctx, ADAPTER_PROGRESS, 200, "[]", NULL, &pg,
                                 err, sizeof(err)),
                     -1);
    adapter_page_release(&pg);
    A->free(ctx);
}

static void
test_activities(void **state)
{
    /* Values from the PROVIDERS.md shape; the newest of each group wins. */
    static const char body[] =
        "{\"all\":\"2025-03-05T00:00:00.000Z\","
        "\"movies\":{\"watched_at\":\"2025-03-02T20:47:10.000Z\","
        "\"collected_at\":\"2025-03-04T00:00:00.000Z\","
        "\"rated_at\":\"2025-03-01T00:00:00.000Z\","
        "\"watchlisted_at\":\"2025-02-01T00:00:00.000Z\","
        "\"paused_at\":\"2025-03-04T00:00:00.000Z\"},"
        "\"episodes\":{\"watched_at\":\"2025-03-02T21:05:31.000Z\","
        "\"rated_at\":null,\"watchlisted_at\":\"2025-02-02T00:00:00.000Z\"},"
        "\"shows\":{\"rated_at\":\"2025-03-03T00:00:00.000Z\","
        "\"watchlisted_at\":\"2025-02-03T00:00:00.000Z\"},"
        "\"seasons\":{\"rated_at\":\"2025-03-02T00:00:00.000Z\","
        "\"watchlisted_at\":\"2025-02-04T00:00:00.000Z\"},"
        "\"watchlist\":{\"updated_at\":\"2025-02-05T00:00:00.000Z\"},"
        "\"favorites\":{\"updated_at\":\"2025-03-05T00:00:00.000Z\"}}";
    void *ctx = mk_ctx();
    struct http_request req;
    struct http_response resp;
    int64_t cps[ADAPTER_FEATURE_MAX];
    char err[256] = "";

    (void)state;
    http_request_init(&req);
    assert_int_equal(A->build_activities(ctx, &req, err, sizeof(err)), 0);
    assert_read_request(&req, BASE "/sync/last_activities");
    http_request_release(&req);

    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
        cps[f] = -5;
    mk_resp(&resp, 200, body, NULL);
    assert_int_equal(A->parse_activities(ctx, &resp, cps, err, sizeof(err)), 0);
    http_response_release(&resp);
    assert_int_equal(cps[ADAPTER_HISTORY], T0 + 1101);
    assert_int_equal(cps[ADAPTER_WATCHLIST], 1738713600); /* 2025-02-05 */
    assert_int_equal(cps[ADAPTER_RATINGS], 1740960000);   /* 2025-03-03 */
    assert_int_equal(cps[ADAPTER_PROGRESS], 0);
    assert_int_equal(cps[ADAPTER_PLAYLISTS], 0);

    /* Missing and null values count as 0. */
    mk_resp(&resp, 200,
            "{\"movies\":{\"watched_at\":null},\"watchlist\":{\"updated_at\":"
            "\"2025-02-05T00:00:00.000Z\"}}",
            NULL);
    assert_int_equal(A->parse_activities(ctx, &resp, cps, err, sizeof(err)), 0);
    http_response_release(&resp);
    assert_int_equal(cps[ADAPTER_HISTORY], 0);
    assert_int_equal(cps[ADAPTER_WATCHLIST], 1738713600);
    assert_int_equal(cps[ADAPTER_RATINGS], 0);

    mk_resp(&resp, 401, "", NULL);
    assert_int_equal(A->parse_activities(ctx, &resp, cps, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "unauthorized"));
    http_response_release(&resp);
    mk_resp(&resp, 200, "not json", NULL);
    assert_int_equal(A->parse_activities(ctx, &resp, cps, err, sizeof(err)),
                     -1);
    http_response_release(&resp);
    A->free(ctx);
}

static void
test_delta(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct http_response resp;
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    /* since - 5 min, written as Trakt writes times (ms + Z). */
    http_request_init(&req);
    assert_int_equal(
        A->build_delta(ctx, ADAPTER_HISTORY, T0, NULL, &req, err, sizeof(err)),
        0);
    assert_read_request(&req, BASE "/sync/history?start_at=2025-03-02T20:42:"
                                   "10.000Z&page=1&limit=1000");
    http_request_release(&req);

    memset(&pg, 0, sizeof(pg));
    mk_resp(&resp, 200, HISTORY_PAGE,
            "X-Pagination-Page: 1\n"
            "X-Pagination-Limit: 1000\n"
            "X-Pagination-Page-Count: 2\n"
            "X-Pagination-Item-Count: 3");
    assert_int_equal(
        A->parse_delta(ctx, ADAPTER_HISTORY, &resp, &pg, err, sizeof(err)), 0);
    http_response_release(&resp);
    assert_int_equal(pg.n, 2);
    assert_int_equal(pg.watermark, T0 + 1101); /* the newest watched_at */
    assert_string_equal(pg.next_cursor, "page=2;rows=2");

    http_request_init(&req);
    assert_int_equal(A->build_delta(ctx, ADAPTER_HISTORY, T0, pg.next_cursor,
                                    &req, err, sizeof(err)),
                     0);
    assert_read_request(&req, BASE "/sync/history?start_at=2025-03-02T20:42:"
                                   "10.000Z&page=2&limit=1000");
    http_request_release(&req);
    adapter_page_release(&pg);

    mk_resp(&resp, 200, HISTORY_PAGE2,
            "X-Pagination-Page: 2\n"
            "X-Pagination-Limit: 1000\n"
            "X-Pagination-Page-Count: 2\n"
            "X-Pagination-Item-Count: 3");
    assert_int_equal(
        A->parse_delta(ctx, ADAPTER_HISTORY, &resp, &pg, err, sizeof(err)), 0);
    http_response_release(&resp);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.watermark, T0 - 86400);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);

    /* Nothing new: no watermark. */
    mk_resp(&resp, 200, "[]", NULL);
    assert_int_equal(
        A->parse_delta(ctx, ADAPTER_HISTORY, &resp, &pg, err, sizeof(err)), 0);
    http_response_release(&resp);
    assert_int_equal(pg.n, 0);
    assert_int_equal(pg.watermark, 0);
    adapter_page_release(&pg);

    /* Watchlist and ratings have no server-side delta. */
    http_request_init(&req);
    assert_int_equal(A->build_delta(ctx, ADAPTER_WATCHLIST, T0, NULL, &req, err,
                                    sizeof(err)),
                     -1);
    assert_int_equal(
        A->build_delta(ctx, ADAPTER_RATINGS, T0, NULL, &req, err, sizeof(err)),
        -1);
    /* No watermark yet: the whole history. */
    assert_int_equal(
        A->build_delta(ctx, ADAPTER_HISTORY, 0, NULL, &req, err, sizeof(err)),
        0);
    assert_read_request(&req, BASE "/sync/history?page=1&limit=1000");
    http_request_release(&req);
    A->free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vtable),
        cmocka_unit_test(test_index_requests),
        cmocka_unit_test(test_history_rows),
        cmocka_unit_test(test_history_paging),
        cmocka_unit_test(test_paging_from_headers),
        cmocka_unit_test(test_watchlist_rows),
        cmocka_unit_test(test_ratings_rows),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_activities),
        cmocka_unit_test(test_delta),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
