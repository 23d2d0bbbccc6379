/*
 * test_adapter_emby: the Emby adapter (PROVIDERS.md B6, SYNC.md 5, 7, 8),
 * the Emby side of the mediabrowser dialect: X-Emby-Token, /Users/{uid}/...
 * reads and writes, DatePlayed=yyyyMMddHHmmss, numeric item ids (strings or
 * numbers), replies without StartIndex, library_only rows, delta rows with
 * removals and the Date watermark, the verdict table and missing config
 * keys. No message may carry the api key.
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
#include "mediabrowser.h"
#include "op.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define KEY      "emby-key-fedcba9876543210"
#define UID      "fedcba9876543210fedcba9876543210"
#define BASE     "http://127.0.0.1:9/emby"
#define T0       1740948430 /* 2025-03-02T20:47:10Z */
#define DATE_HDR "Date: Wed, 25 Nov 2026 22:00:00 GMT"
#define DATE_T   1795644000 /* 2026-11-25T22:00:00Z */
#define INDEX_URL                                                             \
    BASE "/Users/" UID "/Items?Recursive=true&IncludeItemTypes=Movie,Episode" \
         "&Fields=ProviderIds,UserData"

static const struct adapter_ops *A = &adapter_emby;

/* ---- helpers ---------------------------------------------------------- */

static struct provider_conf *
mk_conf(const char *base, const char *key, const char *token, const char *uid)
{
    struct provider_conf *c = xcalloc(1, sizeof(*c));

    c->present = true;
    c->base_url = base ? xstrdup(base) : NULL;
    c->api_key = key ? xstrdup(key) : NULL;
    c->token = token ? xstrdup(token) : NULL;
    c->user_id = uid ? xstrdup(uid) : NULL;
    return c;
}

static void
free_conf(struct provider_conf *c)
{
    free(c->base_url);
    free(c->api_key);
    free(c->token);
    free(c->user_id);
    free(c);
}

static void *
mk_ctx(void)
{
    struct provider_conf *c = mk_conf(BASE "//", KEY, NULL, UID);
    char err[256] = "";
    void *ctx = A->init(c, NULL, "/tmp", err, sizeof(err));

    assert_non_null(ctx);
    free_conf(c);
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
        r->error = xstrdup("Operation timed out");
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
assert_headers(const struct http_request *req)
{
    assert_true(has_header(req, "X-Emby-Token: " KEY));
    assert_true(has_header(req, "Accept: application/json"));
    for (size_t i = 0; i < req->n_headers; i++)
        assert_null(strstr(req->headers[i], "Authorization"));
    if (req->body != NULL) {
        assert_true(has_header(req, "Content-Type: application/json"));
        assert_int_equal(req->n_headers, 3);
    } else {
        assert_int_equal(req->n_headers, 2);
    }
}

static struct op *
mk_op(enum op_kind kind, const char *emby_id)
{
    struct op *op = xmalloc(sizeof(*op));

    op_init(op);
    op->kind = kind;
    op->target = xstrdup("emby");
    op->item.type = ITEM_EPISODE;
    op->item.title = xstrdup("Good News About Hell");
    op->item.show_title = xstrdup("Severance");
    op->item.season = 1;
    op->item.episode = 1;
    assert_int_equal(item_ids_set(&op->item.ids, ITEM_ID_TVDB, "7977232"), 0);
    if (emby_id != NULL)
        assert_int_equal(item_ids_set(&op->item.ids, ITEM_ID_EMBY, emby_id), 0);
    op_finish(op);
    return op;
}

static void
free_op(struct op *op)
{
    op_release(op);
    free(op);
}

static int
read_page(void *ctx, bool delta, enum adapter_feature f, long status,
          const char *body, const char *headers, struct adapter_page *page,
          char *err, size_t errlen)
{
    struct http_response resp;
    int rc;

    mk_resp(&resp, status, body, headers);
    memset(page, 0, sizeof(*page));
    rc = delta ? A->parse_delta(ctx, f, &resp, page, err, errlen)
               : A->parse_index(ctx, f, &resp, page, err, errlen);
    http_response_release(&resp);
    return rc;
}

static const struct adapter_entry *
find_row(const struct adapter_page *p, const char *emby_id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->rows[i].item.ids.v[ITEM_ID_EMBY] != NULL &&
            strcmp(p->rows[i].item.ids.v[ITEM_ID_EMBY], emby_id) == 0)
            return &p->rows[i];
    fail_msg("no row for %s", emby_id);
    return NULL;
}

static void
assert_id(const struct item_ids *ids, enum item_id id, const char *want)
{
    if (want == NULL)
        assert_null(ids->v[id]);
    else
        assert_string_equal(ids->v[id], want);
}

/* ---- init and vtable -------------------------------------------------- */

static void
test_init_missing_keys(void **state)
{
    static const struct {
        const char *base, *key, *token, *uid, *want;
    } cases[] = {
        {NULL, KEY, NULL, UID, "providers.emby.base_url is required"},
        {"ftp://x", KEY, NULL, UID,
         "providers.emby.base_url must start with http"},
        {BASE, NULL, NULL, UID, "providers.emby.api_key is required"},
        {BASE, "a\\b", NULL, UID, "providers.emby.api_key holds"},
        {BASE, KEY, NULL, NULL, "providers.emby.user_id is required"},
        {BASE, KEY, NULL, "fedcba9876543210fedcba987654321",
         "providers.emby.user_id must be 32 hex"},
        {BASE, KEY, NULL, "fedcba98-7654-3210-fedcba9876543210",
         "providers.emby.user_id must be 32 hex"},
    };
    char err[256];

    (void)state;
    err[0] = '\0';
    assert_null(A->init(NULL, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.emby.base_url is required"));
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct provider_conf *c =
            mk_conf(cases[i].base, cases[i].key, cases[i].token, cases[i].uid);

        err[0] = '\0';
        assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        assert_null(strstr(err, KEY));
        free_conf(c);
    }
}

static void
test_vtable(void **state)
{
    (void)state;
    assert_string_equal(A->name, "emby");
    assert_ptr_equal(adapter_find("emby"), A);
    assert_false(A->scrobble_api);
    assert_int_equal(
        A->kinds, OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) |
                      OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |
                      OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE));
    assert_int_equal(A->batch_kinds, 0);
    assert_int_equal(A->max_batch, 1);
    assert_int_equal(A->features, ADAPTER_BIT(ADAPTER_HISTORY) |
                                      ADAPTER_BIT(ADAPTER_RATINGS) |
                                      ADAPTER_BIT(ADAPTER_WATCHLIST));
    assert_int_equal(A->delta_features, A->features);
    assert_true(A->has_local_id);
    assert_int_equal(A->local_id, ITEM_ID_EMBY);
    assert_true(A->dated_history);
    assert_int_equal(A->phantom_grace_s, 900);
    assert_int_equal(A->limits.write_interval_ms, 50);
    assert_int_equal(A->limits.write_inflight, 1);
    assert_null(A->build_activities);
    assert_null(A->parse_activities);
    assert_null(A->build_refresh);
    assert_null(A->apply);
    assert_non_null(A->build_index);
    assert_non_null(A->parse_delta);
}

/* ---- reads ------------------------------------------------------------ */

static void
test_read_requests(void **state)
{
    void *ctx = mk_ctx();
    struct provider_conf *c = mk_conf(BASE, NULL, KEY, UID);
    struct http_request req;
    char err[256] = "";
    void *ctx2;

    (void)state;
    http_request_init(&req);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_HISTORY, NULL, &req, err, sizeof(err)), 0);
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.rate_class, HTTP_CLASS_READ);
    assert_string_equal(req.url, INDEX_URL "&StartIndex=0&Limit=500");
    assert_null(req.body);
    assert_headers(&req);
    http_request_release(&req);

    http_request_init(&req);
    assert_int_equal(A->build_delta(ctx, ADAPTER_WATCHLIST, T0, "start=500",
                                    &req, err, sizeof(err)),
                     0);
    assert_string_equal(req.url, INDEX_URL
                        "&StartIndex=500&Limit=500"
                        "&MinDateLastSavedForUser=2025-03-02T20:42:10Z");
    assert_headers(&req);
    http_request_release(&req);

    /* A since inside the overlap reads from the epoch. */
    http_request_init(&req);
    assert_int_equal(
        A->build_delta(ctx, ADAPTER_RATINGS, 100, NULL, &req, err, sizeof(err)),
        0);
    assert_string_equal(req.url, INDEX_URL
                        "&StartIndex=0&Limit=500"
                        "&MinDateLastSavedForUser=1970-01-01T00:00:00Z");
    http_request_release(&req);

    /* token stands in for api_key. */
    ctx2 = A->init(c, NULL, "/tmp", err, sizeof(err));
    assert_non_null(ctx2);
    http_request_init(&req);
    assert_int_equal(
        A->build_index(ctx2, ADAPTER_RATINGS, NULL, &req, err, sizeof(err)), 0);
    assert_headers(&req);
    http_request_release(&req);
    A->free(ctx2);
    free_conf(c);
    A->free(ctx);
}

/* Emby: numeric ids (as strings and numbers), ProviderIds in odd case, no
 * StartIndex in the reply, a missing UserData. */
static const char LIBRARY[] =
    "{\"Items\":["
    "{\"Name\":\"Arrival\",\"Id\":\"4321\",\"Type\":\"Movie\","
    "\"ProductionYear\":2016,"
    "\"ProviderIds\":{\"imdb\":\"tt2543164\",\"TMDB\":\"329865\"},"
    "\"UserData\":{\"PlaybackPositionTicks\":0,\"PlayCount\":2,"
    "\"IsFavorite\":true,\"Played\":true,\"Rating\":\"7.5\","
    "\"LastPlayedDate\":\"2025-03-02T20:47:10.0000000Z\"}},"
    "{\"Name\":\"Good News About Hell\",\"Id\":98765,\"Type\":\"Episode\","
    "\"SeriesName\":\"Severance\",\"SeriesId\":\"555\","
    "\"ParentIndexNumber\":1,\"IndexNumber\":\"1\","
    "\"ProviderIds\":{\"Tvdb\":7977232,\"Emby\":\"1\"},"
    "\"UserData\":{\"Played\":false,\"IsFavorite\":false,\"Rating\":0}},"
    "{\"Name\":\"Severance\",\"Id\":\"555\",\"Type\":\"Series\"},"
    "{\"Name\":\"Unseen\",\"Id\":\"777\",\"Type\":\"Movie\"},"
    "{\"Name\":\"No id\",\"Type\":\"Movie\",\"UserData\":{\"Played\":true}}"
    "],\"TotalRecordCount\":5}";

static void
test_index(void **state)
{
    static const struct {
        enum adapter_feature f;
        bool arrival_in;
        int rating;
        int64_t watched_at;
    } cases[] = {
        {ADAPTER_HISTORY, true, 0, T0},
        {ADAPTER_RATINGS, true, 8, 0},
        {ADAPTER_WATCHLIST, true, 0, 0},
    };
    void *ctx = mk_ctx();
    struct http_request req;
    struct adapter_page p;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        http_request_init(&req);
        assert_int_equal(
            A->build_index(ctx, cases[i].f, NULL, &req, err, sizeof(err)), 0);
        http_request_release(&req);
        assert_int_equal(read_page(ctx, false, cases[i].f, 200, LIBRARY,
                                   DATE_HDR, &p, err, sizeof(err)),
                         0);
        assert_int_equal(p.n, 3); /* no Series, nothing without an Id */
        assert_null(p.next_cursor);
        assert_int_equal(p.watermark, 0);

        e = find_row(&p, "4321");
        assert_int_equal(e->item.type, ITEM_MOVIE);
        assert_string_equal(e->item.title, "Arrival");
        assert_int_equal(e->item.year, 2016);
        assert_id(&e->item.ids, ITEM_ID_IMDB, "tt2543164");
        assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");
        assert_id(&e->item.ids, ITEM_ID_JELLYFIN, NULL);
        assert_false(e->library_only);
        assert_false(e->removed);
        assert_int_equal(e->rating, cases[i].rating);
        assert_int_equal(e->watched_at, cases[i].watched_at);
        assert_int_equal(e->rated_at, 0);
        assert_int_equal(e->listed_at, 0);
        assert_int_equal(e->progress, -1);
        assert_int_equal(e->position, -1);

        e = find_row(&p, "98765");
        assert_int_equal(e->item.type, ITEM_EPISODE);
        assert_string_equal(e->item.show_title, "Severance");
        assert_int_equal(e->item.season, 1);
        assert_int_equal(e->item.episode, 1);
        assert_id(&e->item.ids, ITEM_ID_TVDB, "7977232");
        assert_true(item_ids_empty(&e->item.show_ids));
        assert_true(e->library_only); /* unplayed, Rating 0, not favourite */

        e = find_row(&p, "777");
        assert_true(e->library_only); /* no UserData */
        assert_true(item_ids_empty(&e->item.show_ids));
        adapter_page_release(&p);
    }
    A->free(ctx);
}

static void
test_paging_without_start_index(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct adapter_page p;
    struct buf items;
    char err[256] = "";

    (void)state;
    /* A full first page of 500 out of 501, no StartIndex echoed. */
    buf_init(&items);
    buf_puts(&items, "{\"TotalRecordCount\":501,\"Items\":[");
    for (int i = 0; i < 500; i++)
        buf_printf(&items, "%s{\"Id\":\"%d\",\"Type\":\"Movie\"}", i ? "," : "",
                   i + 1);
    buf_puts(&items, "]}");
    http_request_init(&req);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_HISTORY, NULL, &req, err, sizeof(err)), 0);
    http_request_release(&req);
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200, items.data,
                               NULL, &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 500);
    assert_string_equal(p.next_cursor, "start=500");
    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, ADAPTER_HISTORY, p.next_cursor, &req,
                                    err, sizeof(err)),
                     0);
    assert_string_equal(req.url, INDEX_URL "&StartIndex=500&Limit=500");
    http_request_release(&req);
    adapter_page_release(&p);
    buf_release(&items);
    /* Page 2 (start 500, as asked) holds the last one. */
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200,
                               "{\"Items\":[{\"Id\":\"501\",\"Type\":"
                               "\"Movie\"}],\"TotalRecordCount\":501}",
                               NULL, &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 1);
    assert_null(p.next_cursor);
    adapter_page_release(&p);
    /* The same page empty: incomplete. */
    err[0] = '\0';
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200,
                               "{\"Items\":[],\"TotalRecordCount\":501}", NULL,
                               &p, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    /* Without a count, a short page is the last. */
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200,
                               "{\"Items\":[{\"Id\":\"9\",\"Type\":"
                               "\"Movie\"}]}",
                               NULL, &p, err, sizeof(err)),
                     0);
    assert_null(p.next_cursor);
    adapter_page_release(&p);
    /* Errors. */
    err[0] = '\0';
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 401, "", NULL, &p,
                               err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "unauthorized"));
    assert_non_null(strstr(err, "providers.emby.api_key"));
    assert_null(strstr(err, KEY));
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200,
                               "{\"Items\":{}}", NULL, &p, err, sizeof(err)),
                     -1);
    A->free(ctx);
}

static const char DELTA[] =
    "{\"Items\":["
    "{\"Name\":\"Arrival\",\"Id\":\"4321\",\"Type\":\"Movie\","
    "\"UserData\":{\"Played\":\"True\",\"IsFavorite\":false,\"Rating\":6.5,"
    "\"LastPlayedDate\":\"2025-03-02T20:47:10Z\"}},"
    "{\"Name\":\"Pilot\",\"Id\":\"98765\",\"Type\":\"Episode\","
    "\"SeriesName\":\"Severance\",\"ParentIndexNumber\":1,\"IndexNumber\":1,"
    "\"UserData\":{\"Played\":false,\"IsFavorite\":true}},"
    "{\"Name\":\"Unseen\",\"Id\":\"777\",\"Type\":\"Movie\"}"
    "],\"TotalRecordCount\":3,\"StartIndex\":0}";

static void
test_delta(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page p;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    assert_int_equal(read_page(ctx, true, ADAPTER_HISTORY, 200, DELTA, DATE_HDR,
                               &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.watermark, DATE_T);
    e = find_row(&p, "4321");
    assert_false(e->removed);
    assert_int_equal(e->watched_at, T0);
    e = find_row(&p, "98765");
    assert_true(e->removed);
    assert_false(e->library_only);
    assert_int_equal(e->item.season, 1);
    adapter_page_release(&p);

    assert_int_equal(read_page(ctx, true, ADAPTER_RATINGS, 200, DELTA,
                               "Date: Sun, 02 Mar 2025 20:47:10 GMT", &p, err,
                               sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.watermark, T0);
    assert_int_equal(find_row(&p, "4321")->rating, 7); /* 6.5 -> 7 */
    assert_false(find_row(&p, "4321")->removed);
    assert_true(find_row(&p, "98765")->removed); /* no Rating */
    adapter_page_release(&p);

    assert_int_equal(read_page(ctx, true, ADAPTER_WATCHLIST, 200, DELTA, NULL,
                               &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.watermark, 0);
    assert_true(find_row(&p, "4321")->removed);
    assert_false(find_row(&p, "98765")->removed);
    adapter_page_release(&p);
    A->free(ctx);
}

/* ---- writes ----------------------------------------------------------- */

static void
test_build_writes(void **state)
{
    static const struct {
        enum op_kind kind;
        int64_t watched_at;
        int rating;
        enum http_method method;
        const char *url, *body;
    } cases[] = {
        {OP_HISTORY_ADD, T0, 0, HTTP_POST,
         BASE "/Users/" UID "/PlayedItems/98765?DatePlayed=20250302204710",
         NULL},
        {OP_HISTORY_ADD, 0, 0, HTTP_POST,
         BASE "/Users/" UID "/PlayedItems/98765", NULL},
        {OP_HISTORY_REMOVE, T0, 0, HTTP_DELETE,
         BASE "/Users/" UID "/PlayedItems/98765", NULL},
        {OP_WATCHLIST_ADD, 0, 0, HTTP_POST,
         BASE "/Users/" UID "/FavoriteItems/98765", NULL},
        {OP_WATCHLIST_REMOVE, 0, 0, HTTP_DELETE,
         BASE "/Users/" UID "/FavoriteItems/98765", NULL},
        {OP_RATING_SET, 0, 7, HTTP_POST,
         BASE "/Users/" UID "/Items/98765/UserData", "{\"Rating\":7.0}"},
        {OP_RATING_SET, 0, 1, HTTP_POST,
         BASE "/Users/" UID "/Items/98765/UserData", "{\"Rating\":1.0}"},
        {OP_RATING_CLEAR, 0, 0, HTTP_POST,
         BASE "/Users/" UID "/Items/98765/UserData", "{\"Rating\":0}"},
    };
    void *ctx = mk_ctx();
    char err[256];

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct op *op = mk_op(cases[i].kind, "98765");
        const struct op *ops[] = {op};
        struct http_request req;

        op->watched_at = cases[i].watched_at;
        op->rating = cases[i].rating;
        http_request_init(&req);
        err[0] = '\0';
        if (A->build(ctx, ops, 1, &req, err, sizeof(err)) != 0)
            fail_msg("case %zu: %s", i, err);
        assert_int_equal(req.method, cases[i].method);
        assert_int_equal(req.rate_class, HTTP_CLASS_WRITE);
        assert_string_equal(req.url, cases[i].url);
        if (cases[i].body == NULL) {
            assert_null(req.body);
        } else {
            assert_non_null(req.body);
            assert_int_equal(req.body_len, strlen(cases[i].body));
            assert_string_equal(req.body, cases[i].body);
        }
        assert_headers(&req);
        http_request_release(&req);
        free_op(op);
    }
    A->free(ctx);
}

static void
test_build_refusals(void **state)
{
    void *ctx = mk_ctx();
    struct op *jf_only = mk_op(OP_HISTORY_ADD, NULL);
    struct op *ok = mk_op(OP_RATING_SET, "98765");
    const struct op *ops[2];
    struct http_request req;
    char err[256];

    (void)state;
    assert_int_equal(item_ids_set(&jf_only->item.ids, ITEM_ID_JELLYFIN,
                                  "f27caa37e5142225cceded48f6553502"),
                     0);
    http_request_init(&req);
    ops[0] = jf_only;
    err[0] = '\0';
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not in the Emby library (no item id)"));
    ops[0] = ok;
    ok->rating = 0;
    err[0] = '\0';
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "outside 1-10"));
    ok->rating = 5;
    ops[1] = ok;
    assert_int_equal(A->build(ctx, ops, 2, &req, err, sizeof(err)), -1);
    assert_int_equal(A->build(ctx, ops, 0, &req, err, sizeof(err)), -1);
    assert_null(req.url);
    http_request_release(&req);
    free_op(jf_only);
    free_op(ok);
    A->free(ctx);
}

static void
test_classify(void **state)
{
    static const struct {
        long status;
        const char *body, *headers;
        enum adapter_outcome outcome;
        int64_t ms;
        const char *reason;
    } cases[] = {
        {200, "", NULL, ADAPTER_DONE, 0, ""},
        {204, NULL, NULL, ADAPTER_DONE, 0, ""},
        {404, "Item not found", NULL, ADAPTER_PERMANENT, 0,
         "not in the library (404)"},
        {400,
         "{\"title\":\"Bad Request\",\"detail\":\"DatePlayed is invalid\"}",
         NULL, ADAPTER_PERMANENT, 0, "Bad Request: DatePlayed is invalid"},
        {401, "Access token is invalid or expired.", NULL, ADAPTER_PAUSE, 0,
         "Emby rejected the api key (401): check providers.emby.api_key"},
        {403, "", NULL, ADAPTER_PAUSE, 0, "(403)"},
        {429, "", "Retry-After: 2", ADAPTER_RATE, 2000, ""},
        {502, "", NULL, ADAPTER_RETRY, 0, "http 502"},
        {0, NULL, NULL, ADAPTER_RETRY, 0, "transport: Operation timed out"},
    };
    void *ctx = mk_ctx();
    struct op *op = mk_op(OP_WATCHLIST_ADD, "98765");
    const struct op *ops[] = {op};

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct http_response resp;
        struct adapter_result r;

        mk_resp(&resp, cases[i].status, cases[i].body, cases[i].headers);
        memset(&r, 0xff, sizeof(r));
        A->classify(ctx, ops, 1, &resp, &r);
        if (r.outcome != cases[i].outcome)
            fail_msg("case %zu (%ld): outcome %s", i, cases[i].status,
                     adapter_outcome_name(r.outcome));
        assert_int_equal(r.retry_after_ms, cases[i].ms);
        if (strstr(r.reason, cases[i].reason) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, r.reason,
                     cases[i].reason);
        assert_null(strstr(r.reason, KEY));
        http_response_release(&resp);
    }
    free_op(op);
    A->free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_missing_keys),
        cmocka_unit_test(test_vtable),
        cmocka_unit_test(test_read_requests),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_paging_without_start_index),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_build_writes),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_classify),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
