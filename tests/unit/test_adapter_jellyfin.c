/*
 * test_adapter_jellyfin: the Jellyfin adapter (PROVIDERS.md B6, SYNC.md 1.2,
 * 5, 7, 8) and the shared mediabrowser dialect: exact URLs, methods and
 * headers of every read and write, library pages (dashed and undashed ids,
 * ProviderIds in odd case, numbers as strings, missing UserData), paging
 * and incomplete reads, library_only rows, rating conversion, delta rows
 * with removals and the Date watermark, the HTTP date parser, the verdict
 * table and missing config keys. No message may carry the api key.
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

#define KEY  "jf-key-0123456789abcdef"
#define UID  "0123456789abcdef0123456789abcdef"
#define BASE "http://127.0.0.1:9/jellyfin"
#define AUTH                                                              \
    "Authorization: MediaBrowser Client=\"watchrelay\", "                 \
    "Device=\"watchrelay\", DeviceId=\"watchrelay\", Version=\"0.1.0\", " \
    "Token=\"" KEY "\""
#define T0       1740948430 /* 2025-03-02T20:47:10Z */
#define DATE_HDR "Date: Wed, 25 Nov 2026 22:00:00 GMT"
#define DATE_T   1795644000 /* 2026-11-25T22:00:00Z */
#define INDEX_URL                                                              \
    BASE "/Items?userId=" UID "&Recursive=true&IncludeItemTypes=Movie,Episode" \
         "&Fields=ProviderIds&EnableUserData=true"
#define ARRIVAL_ID "f27caa37e5142225cceded48f6553502"

static const struct adapter_ops *A = &adapter_jellyfin;

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
    struct provider_conf *c = mk_conf(BASE "/", KEY, NULL, UID);
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

/* Exactly the auth and Accept headers, plus Content-Type with a body. */
static void
assert_headers(const struct http_request *req)
{
    assert_true(has_header(req, AUTH));
    assert_true(has_header(req, "Accept: application/json"));
    for (size_t i = 0; i < req->n_headers; i++)
        assert_null(strstr(req->headers[i], "X-Emby-Token"));
    if (req->body != NULL) {
        assert_true(has_header(req, "Content-Type: application/json"));
        assert_int_equal(req->n_headers, 3);
    } else {
        assert_int_equal(req->n_headers, 2);
    }
}

static struct op *
mk_op(enum op_kind kind, enum item_type type, const char *jf_id)
{
    struct op *op = xmalloc(sizeof(*op));

    op_init(op);
    op->kind = kind;
    op->target = xstrdup("jellyfin");
    op->item.type = type;
    op->item.title = xstrdup("Arrival");
    op->item.year = 2016;
    assert_int_equal(item_ids_set(&op->item.ids, ITEM_ID_TMDB, "329865"), 0);
    if (jf_id != NULL)
        assert_int_equal(item_ids_set(&op->item.ids, ITEM_ID_JELLYFIN, jf_id),
                         0);
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
find_row(const struct adapter_page *p, const char *jf_id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->rows[i].item.ids.v[ITEM_ID_JELLYFIN] != NULL &&
            strcmp(p->rows[i].item.ids.v[ITEM_ID_JELLYFIN], jf_id) == 0)
            return &p->rows[i];
    fail_msg("no row for %s", jf_id);
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
        {NULL, KEY, NULL, UID, "providers.jellyfin.base_url is required"},
        {"", KEY, NULL, UID, "providers.jellyfin.base_url is required"},
        {"127.0.0.1:8096", KEY, NULL, UID,
         "providers.jellyfin.base_url must start with http"},
        {BASE, NULL, NULL, UID, "providers.jellyfin.api_key is required"},
        {BASE, "", "", UID, "providers.jellyfin.api_key is required"},
        {BASE, "bad\"key", NULL, UID, "providers.jellyfin.api_key holds"},
        {BASE, NULL, "tok en", UID, "providers.jellyfin.token holds"},
        {BASE, KEY, NULL, NULL, "providers.jellyfin.user_id is required"},
        {BASE, KEY, NULL, "", "providers.jellyfin.user_id is required"},
        {BASE, KEY, NULL, "12345", "providers.jellyfin.user_id must be 32 hex"},
        {BASE, KEY, NULL, "0123456789abcdef0123456789abcdeg",
         "providers.jellyfin.user_id must be 32 hex"},
    };
    char err[256];

    (void)state;
    err[0] = '\0';
    assert_null(A->init(NULL, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.jellyfin.base_url is required"));
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct provider_conf *c =
            mk_conf(cases[i].base, cases[i].key, cases[i].token, cases[i].uid);

        err[0] = '\0';
        assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        assert_null(strstr(err, "bad\"key"));
        assert_null(strstr(err, "tok en"));
        free_conf(c);
    }
}

static void
test_init_token_and_dashed_uid(void **state)
{
    struct provider_conf *c =
        mk_conf(BASE, NULL, KEY, "01234567-89ab-cdef-0123-456789abcdef");
    struct http_request req;
    char err[256] = "";
    void *ctx;

    (void)state;
    /* token stands in for api_key; a dashed user id loses its dashes. */
    ctx = A->init(c, NULL, "/tmp", err, sizeof(err));
    assert_non_null(ctx);
    http_request_init(&req);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_HISTORY, NULL, &req, err, sizeof(err)), 0);
    assert_string_equal(req.url, INDEX_URL "&StartIndex=0&Limit=500");
    assert_headers(&req);
    http_request_release(&req);
    A->free(ctx);
    free_conf(c);
}

static void
test_vtable(void **state)
{
    (void)state;
    assert_string_equal(A->name, "jellyfin");
    assert_ptr_equal(adapter_find("jellyfin"), A);
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
    assert_int_equal(A->local_id, ITEM_ID_JELLYFIN);
    assert_true(A->dated_history);
    assert_int_equal(A->phantom_grace_s, 900);
    assert_int_equal(A->limits.write_interval_ms, 50);
    assert_int_equal(A->limits.write_inflight, 1);
    assert_null(A->build_activities);
    assert_null(A->parse_activities);
    assert_null(A->build_refresh);
    assert_null(A->auth_start);
    assert_null(A->apply);
    assert_non_null(A->build_index);
    assert_non_null(A->parse_index);
    assert_non_null(A->build_delta);
    assert_non_null(A->parse_delta);
}

/* ---- read requests ---------------------------------------------------- */

static void
test_read_requests(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    char err[256];

    (void)state;
    http_request_init(&req);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_RATINGS, NULL, &req, err, sizeof(err)), 0);
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.rate_class, HTTP_CLASS_READ);
    assert_string_equal(req.url, INDEX_URL "&StartIndex=0&Limit=500");
    assert_null(req.body);
    assert_headers(&req);
    http_request_release(&req);

    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, ADAPTER_WATCHLIST, "start=500", &req,
                                    err, sizeof(err)),
                     0);
    assert_string_equal(req.url, INDEX_URL "&StartIndex=500&Limit=500");
    http_request_release(&req);

    /* Delta: since - 300 s, query-escaped. */
    http_request_init(&req);
    assert_int_equal(
        A->build_delta(ctx, ADAPTER_HISTORY, T0, NULL, &req, err, sizeof(err)),
        0);
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.rate_class, HTTP_CLASS_READ);
    assert_string_equal(req.url, INDEX_URL
                        "&StartIndex=0&Limit=500"
                        "&MinDateLastSavedForUser=2025-03-02T20:42:10Z");
    assert_headers(&req);
    http_request_release(&req);

    http_request_init(&req);
    assert_int_equal(A->build_delta(ctx, ADAPTER_RATINGS, T0, "start=1000",
                                    &req, err, sizeof(err)),
                     0);
    assert_string_equal(req.url, INDEX_URL
                        "&StartIndex=1000&Limit=500"
                        "&MinDateLastSavedForUser=2025-03-02T20:42:10Z");
    http_request_release(&req);

    /* Refusals: a feature without a read, a cursor not ours. */
    http_request_init(&req);
    err[0] = '\0';
    assert_int_equal(
        A->build_index(ctx, ADAPTER_PROGRESS, NULL, &req, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "progress"));
    assert_int_equal(
        A->build_index(ctx, ADAPTER_HISTORY, "page=2", &req, err, sizeof(err)),
        -1);
    assert_int_equal(A->build_delta(ctx, ADAPTER_PLAYLISTS, T0, NULL, &req, err,
                                    sizeof(err)),
                     -1);
    http_request_release(&req);
    A->free(ctx);
}

/* ---- library pages ---------------------------------------------------- */

/* Written from the PROVIDERS.md B6 example: a dashed upper-case id, an
 * undashed one, ProviderIds in odd case, numbers as strings, a Series (not
 * a row), an item without UserData. */
static const char LIBRARY[] =
    "{\"Items\":["
    "{\"Name\":\"Arrival\",\"Id\":\"F27CAA37-E514-2225-CCED-ED48F6553502\","
    "\"Type\":\"Movie\",\"ProductionYear\":2016,\"RunTimeTicks\":69540000000,"
    "\"ProviderIds\":{\"Imdb\":\"tt2543164\",\"Tmdb\":\"329865\"},"
    "\"UserData\":{\"PlaybackPositionTicks\":0,\"PlayCount\":1,"
    "\"IsFavorite\":true,\"Played\":true,\"Rating\":7.5,"
    "\"LastPlayedDate\":\"2025-03-02T20:47:10.0000000Z\",\"Key\":\"329865\"}},"
    "{\"Name\":\"Good News About Hell\","
    "\"Id\":\"0a1b2c3d4e5f60718293a4b5c6d7e8f9\",\"Type\":\"Episode\","
    "\"SeriesName\":\"Severance\","
    "\"SeriesId\":\"ffeeddccbbaa99887766554433221100\","
    "\"ParentIndexNumber\":\"1\",\"IndexNumber\":1,\"ProductionYear\":\"2022\","
    "\"ProviderIds\":{\"IMDB\":\"tt11650328\",\"tvdb\":\"7977232\","
    "\"TvRage\":\"123\",\"TmdbCollection\":\"5\",\"Jellyfin\":\"x\"},"
    "\"UserData\":{\"Played\":false,\"IsFavorite\":\"false\","
    "\"Rating\":\"0\",\"PlayCount\":0}},"
    "{\"Name\":\"Severance\",\"Id\":\"ffeeddccbbaa99887766554433221100\","
    "\"Type\":\"Series\",\"UserData\":{\"Played\":true,\"IsFavorite\":true}},"
    "{\"Name\":\"Dune\",\"Id\":\"11112222333344445555666677778888\","
    "\"Type\":\"Movie\",\"ProviderIds\":{\"Tmdb\":438631},"
    "\"UserData\":{\"Played\":\"true\",\"Rating\":\"6.25\","
    "\"IsFavorite\":false,\"LastPlayedDate\":null}},"
    "{\"Name\":\"Unseen\",\"Id\":\"99998888777766665555444433332222\","
    "\"Type\":\"Movie\",\"ProductionYear\":null,\"ProviderIds\":null}"
    "],\"TotalRecordCount\":5,\"StartIndex\":0}";

#define PILOT_ID  "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define DUNE_ID   "11112222333344445555666677778888"
#define UNSEEN_ID "99998888777766665555444433332222"

static void
assert_library_items(const struct adapter_page *p)
{
    const struct adapter_entry *e;

    assert_int_equal(p->n, 4); /* the Series is not a row */
    e = find_row(p, ARRIVAL_ID);
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Arrival");
    assert_int_equal(e->item.year, 2016);
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt2543164");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");
    assert_id(&e->item.ids, ITEM_ID_EMBY, NULL);

    e = find_row(p, PILOT_ID);
    assert_int_equal(e->item.type, ITEM_EPISODE);
    assert_string_equal(e->item.title, "Good News About Hell");
    assert_string_equal(e->item.show_title, "Severance");
    assert_int_equal(e->item.season, 1);
    assert_int_equal(e->item.episode, 1);
    assert_int_equal(e->item.year, 2022);
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt11650328");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "7977232");
    assert_id(&e->item.ids, ITEM_ID_TMDB, NULL);
    /* Show ids are not looked up in v1. */
    assert_true(item_ids_empty(&e->item.show_ids));

    e = find_row(p, DUNE_ID);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "438631");
    assert_int_equal(e->item.year, 0);

    e = find_row(p, UNSEEN_ID);
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_int_equal(e->item.year, 0);
    assert_id(&e->item.ids, ITEM_ID_TMDB, NULL);
    for (size_t i = 0; i < p->n; i++) {
        assert_false(p->rows[i].removed);
        assert_int_equal(p->rows[i].progress, -1);
        assert_int_equal(p->rows[i].position, -1);
        assert_int_equal(p->rows[i].listed_at, 0);
        assert_int_equal(p->rows[i].rated_at, 0);
        assert_null(p->rows[i].list);
    }
}

static void
test_index_history(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page p;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200, LIBRARY,
                               DATE_HDR, &p, err, sizeof(err)),
                     0);
    assert_library_items(&p);
    assert_null(p.next_cursor);
    assert_int_equal(p.watermark, 0); /* index reads set none */
    e = find_row(&p, ARRIVAL_ID);
    assert_false(e->library_only);
    assert_int_equal(e->watched_at, T0); /* 7 fractional digits */
    e = find_row(&p, PILOT_ID);
    assert_true(e->library_only);
    e = find_row(&p, DUNE_ID);
    assert_false(e->library_only); /* "Played":"true" */
    assert_int_equal(e->watched_at, 0);
    e = find_row(&p, UNSEEN_ID);
    assert_true(e->library_only); /* no UserData */
    adapter_page_release(&p);
    A->free(ctx);
}

static void
test_index_ratings(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page p;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    assert_int_equal(read_page(ctx, false, ADAPTER_RATINGS, 200, LIBRARY, NULL,
                               &p, err, sizeof(err)),
                     0);
    assert_library_items(&p);
    e = find_row(&p, ARRIVAL_ID);
    assert_false(e->library_only);
    assert_int_equal(e->rating, 8); /* 7.5 rounds half up */
    assert_int_equal(e->rated_at, 0);
    assert_int_equal(e->watched_at, 0);
    e = find_row(&p, PILOT_ID);
    assert_true(e->library_only); /* "Rating":"0" is unrated */
    assert_int_equal(e->rating, 0);
    e = find_row(&p, DUNE_ID);
    assert_false(e->library_only);
    assert_int_equal(e->rating, 6); /* "6.25": 63 tenths -> 6 */
    e = find_row(&p, UNSEEN_ID);
    assert_true(e->library_only);
    adapter_page_release(&p);
    A->free(ctx);
}

static void
test_index_watchlist(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page p;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    assert_int_equal(read_page(ctx, false, ADAPTER_WATCHLIST, 200, LIBRARY,
                               NULL, &p, err, sizeof(err)),
                     0);
    assert_library_items(&p);
    e = find_row(&p, ARRIVAL_ID);
    assert_false(e->library_only);
    assert_int_equal(e->listed_at, 0);
    assert_true(find_row(&p, PILOT_ID)->library_only); /* "false" */
    assert_true(find_row(&p, DUNE_ID)->library_only);
    assert_true(find_row(&p, UNSEEN_ID)->library_only);
    adapter_page_release(&p);
    A->free(ctx);
}

static void
test_rating_canonical(void **state)
{
    static const struct {
        double native;
        int want;
    } cases[] = {
        {7.5, 8},  {7.4, 7}, {7.44, 7},  {7.46, 8}, {4.5, 5}, {1, 1},  {0.5, 1},
        {0.04, 1}, {10, 10}, {9.95, 10}, {12, 10},  {0, 0},   {-1, 0}, {8.0, 8},
    };

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (mb_rating_canonical(cases[i].native) != cases[i].want)
            fail_msg("rating %g: got %d, want %d", cases[i].native,
                     mb_rating_canonical(cases[i].native), cases[i].want);
}

static void
test_paging(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct adapter_page p;
    char err[256] = "";

    (void)state;
    /* Page 1 of 3 items: two rows, a cursor for the third. */
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200,
                               "{\"Items\":[{\"Id\":\"a1\",\"Type\":\"Movie\"},"
                               "{\"Id\":\"a2\",\"Type\":\"Movie\"}],"
                               "\"TotalRecordCount\":3,\"StartIndex\":0}",
                               NULL, &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.next_cursor, "start=2");
    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, ADAPTER_HISTORY, p.next_cursor, &req,
                                    err, sizeof(err)),
                     0);
    assert_string_equal(req.url, INDEX_URL "&StartIndex=2&Limit=500");
    http_request_release(&req);
    adapter_page_release(&p);
    /* Page 2: the last item; finished. */
    assert_int_equal(
        read_page(ctx, false, ADAPTER_HISTORY, 200,
                  "{\"Items\":[{\"Id\":\"a3\",\"Type\":\"Movie\"}],"
                  "\"TotalRecordCount\":\"3\",\"StartIndex\":2}",
                  NULL, &p, err, sizeof(err)),
        0);
    assert_int_equal(p.n, 1);
    assert_null(p.next_cursor);
    adapter_page_release(&p);
    /* An empty page before the advertised total: incomplete, not done. */
    err[0] = '\0';
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200,
                               "{\"Items\":[],\"TotalRecordCount\":812,"
                               "\"StartIndex\":500}",
                               NULL, &p, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    assert_int_equal(p.n, 0);
    assert_null(p.next_cursor);
    /* No StartIndex in the reply: the start we asked for counts. */
    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, ADAPTER_RATINGS, "start=500", &req,
                                    err, sizeof(err)),
                     0);
    http_request_release(&req);
    assert_int_equal(
        read_page(ctx, false, ADAPTER_RATINGS, 200,
                  "{\"Items\":[{\"Id\":\"b1\",\"Type\":\"Movie\"}],"
                  "\"TotalRecordCount\":502}",
                  NULL, &p, err, sizeof(err)),
        0);
    assert_string_equal(p.next_cursor, "start=501");
    adapter_page_release(&p);
    /* An empty library is complete. */
    assert_int_equal(read_page(ctx, false, ADAPTER_HISTORY, 200,
                               "{\"Items\":[],\"TotalRecordCount\":0,"
                               "\"StartIndex\":0}",
                               NULL, &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 0);
    assert_null(p.next_cursor);
    adapter_page_release(&p);
    A->free(ctx);
}

static void
test_read_errors(void **state)
{
    static const struct {
        long status;
        const char *body, *want;
    } cases[] = {
        {401, "", "unauthorized"},
        {403, "{}", "unauthorized"},
        {500, "{\"title\":\"boom\"}", "http 500"},
        {0, NULL, "transport"},
        {200, "{\"Items\":[", "malformed JSON"},
        {200, "", "malformed JSON"},
        {200, "{\"TotalRecordCount\":3}", "no Items"},
        {200, "[]", "no Items"},
    };
    void *ctx = mk_ctx();
    struct adapter_page p;
    char err[256];

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        for (int delta = 0; delta < 2; delta++) {
            err[0] = '\0';
            assert_int_equal(read_page(ctx, delta, ADAPTER_HISTORY,
                                       cases[i].status, cases[i].body, NULL, &p,
                                       err, sizeof(err)),
                             -1);
            if (strstr(err, cases[i].want) == NULL)
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
                         cases[i].want);
            assert_null(strstr(err, KEY));
            assert_int_equal(p.n, 0);
        }
    }
    A->free(ctx);
}

/* ---- delta ------------------------------------------------------------ */

static const char DELTA[] =
    "{\"Items\":["
    "{\"Name\":\"Arrival\",\"Id\":\"f27caa37-e514-2225-cced-ed48f6553502\","
    "\"Type\":\"Movie\",\"ProviderIds\":{\"Tmdb\":\"329865\"},"
    "\"UserData\":{\"Played\":true,\"IsFavorite\":true,\"Rating\":9.0,"
    "\"LastPlayedDate\":\"2025-03-02T20:47:10.0000000Z\"}},"
    "{\"Name\":\"Dune\",\"Id\":\"11112222333344445555666677778888\","
    "\"Type\":\"Movie\",\"UserData\":{\"Played\":false,\"IsFavorite\":false}},"
    "{\"Name\":\"Unseen\",\"Id\":\"99998888777766665555444433332222\","
    "\"Type\":\"Movie\"},"
    "{\"Name\":\"Folder\",\"Id\":\"aaaa\",\"Type\":\"Folder\","
    "\"UserData\":{\"Played\":true}}"
    "],\"TotalRecordCount\":4,\"StartIndex\":0}";

static void
test_delta_rows(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page p;
    const struct adapter_entry *e;
    char err[256] = "";

    (void)state;
    /* History: Played true is a row, false a removal; without UserData the
     * item says nothing and is left out; no library_only rows. */
    assert_int_equal(read_page(ctx, true, ADAPTER_HISTORY, 200, DELTA, DATE_HDR,
                               &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.watermark, DATE_T);
    assert_null(p.next_cursor);
    e = find_row(&p, ARRIVAL_ID);
    assert_false(e->removed);
    assert_false(e->library_only);
    assert_int_equal(e->watched_at, T0);
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");
    e = find_row(&p, DUNE_ID);
    assert_true(e->removed);
    assert_false(e->library_only);
    adapter_page_release(&p);

    /* Ratings: > 0 a row, absent a removal. */
    assert_int_equal(read_page(ctx, true, ADAPTER_RATINGS, 200, DELTA, DATE_HDR,
                               &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    e = find_row(&p, ARRIVAL_ID);
    assert_false(e->removed);
    assert_int_equal(e->rating, 9);
    assert_int_equal(e->rated_at, 0);
    assert_true(find_row(&p, DUNE_ID)->removed);
    adapter_page_release(&p);

    /* Watchlist: IsFavorite. */
    assert_int_equal(read_page(ctx, true, ADAPTER_WATCHLIST, 200, DELTA,
                               DATE_HDR, &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    assert_false(find_row(&p, ARRIVAL_ID)->removed);
    assert_true(find_row(&p, DUNE_ID)->removed);
    for (size_t i = 0; i < p.n; i++)
        assert_false(p.rows[i].library_only);
    adapter_page_release(&p);

    /* No Date header, or one we cannot read: no watermark. */
    assert_int_equal(read_page(ctx, true, ADAPTER_HISTORY, 200, DELTA, NULL, &p,
                               err, sizeof(err)),
                     0);
    assert_int_equal(p.watermark, 0);
    adapter_page_release(&p);
    assert_int_equal(read_page(ctx, true, ADAPTER_HISTORY, 200, DELTA,
                               "Date: yesterday", &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.watermark, 0);
    adapter_page_release(&p);

    /* Delta pages page like the index. */
    assert_int_equal(read_page(ctx, true, ADAPTER_HISTORY, 200,
                               "{\"Items\":[{\"Id\":\"a1\",\"Type\":\"Movie\","
                               "\"UserData\":{\"Played\":true}}],"
                               "\"TotalRecordCount\":2,\"StartIndex\":0}",
                               DATE_HDR, &p, err, sizeof(err)),
                     0);
    assert_string_equal(p.next_cursor, "start=1");
    assert_int_equal(p.watermark, DATE_T);
    adapter_page_release(&p);
    assert_int_equal(read_page(ctx, true, ADAPTER_HISTORY, 200,
                               "{\"Items\":[],\"TotalRecordCount\":2,"
                               "\"StartIndex\":1}",
                               DATE_HDR, &p, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    A->free(ctx);
}

static void
test_http_date(void **state)
{
    static const struct {
        const char *s;
        int rc;
        int64_t want;
    } cases[] = {
        {"Wed, 25 Nov 2026 22:00:00 GMT", 0, DATE_T},
        {"  Sun, 02 Mar 2025 20:47:10 GMT\r\n", 0, T0},
        {"Thu, 29 Feb 2024 23:59:59 GMT", 0, 1709251199},
        {"Wed, 01 Mar 2000 00:00:00 GMT", 0, 951868800},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0, 0},
        {"Fri, 29 Feb 2023 00:00:00 GMT", -1, 0},
        {"Wed, 25 Nov 2026 24:00:00 GMT", -1, 0},
        {"Wed, 25 Foo 2026 22:00:00 GMT", -1, 0},
        {"Wed, 25 Nov 2026 22:00:00 UTC", -1, 0},
        {"Wed 25 Nov 2026 22:00:00 GMT", -1, 0},
        {"Wed, 5 Nov 2026 22:00:00 GMT", -1, 0},
        {"Wed, 25 Nov 2026 22:00:0x GMT", -1, 0},
        {"2026-11-25T22:00:00Z", -1, 0},
        {"", -1, 0},
    };
    int64_t t;

    (void)state;
    assert_int_equal(mb_http_date(NULL, &t), -1);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        t = -7;
        if (mb_http_date(cases[i].s, &t) != cases[i].rc)
            fail_msg("case %zu \"%s\": rc", i, cases[i].s);
        if (cases[i].rc == 0 && t != cases[i].want)
            fail_msg("case %zu: %lld != %lld", i, (long long)t,
                     (long long)cases[i].want);
    }
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
         BASE "/UserPlayedItems/" ARRIVAL_ID "?userId=" UID
              "&datePlayed=2025-03-02T20:47:10Z",
         NULL},
        {OP_HISTORY_ADD, 0, 0, HTTP_POST,
         BASE "/UserPlayedItems/" ARRIVAL_ID "?userId=" UID, NULL},
        {OP_HISTORY_REMOVE, T0, 0, HTTP_DELETE,
         BASE "/UserPlayedItems/" ARRIVAL_ID "?userId=" UID, NULL},
        {OP_WATCHLIST_ADD, 0, 0, HTTP_POST,
         BASE "/UserFavoriteItems/" ARRIVAL_ID "?userId=" UID, NULL},
        {OP_WATCHLIST_REMOVE, 0, 0, HTTP_DELETE,
         BASE "/UserFavoriteItems/" ARRIVAL_ID "?userId=" UID, NULL},
        {OP_RATING_SET, 0, 8, HTTP_POST,
         BASE "/UserItems/" ARRIVAL_ID "/UserData?userId=" UID,
         "{\"Rating\":8.0}"},
        {OP_RATING_SET, 0, 10, HTTP_POST,
         BASE "/UserItems/" ARRIVAL_ID "/UserData?userId=" UID,
         "{\"Rating\":10.0}"},
        {OP_RATING_CLEAR, 0, 0, HTTP_POST,
         BASE "/UserItems/" ARRIVAL_ID "/UserData?userId=" UID,
         "{\"Rating\":0}"},
    };
    void *ctx = mk_ctx();
    char err[256];

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        /* The op's id is set dashed; it is normalized on the item. */
        struct op *op = mk_op(cases[i].kind, ITEM_MOVIE,
                              "F27CAA37-E514-2225-CCED-ED48F6553502");
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
    struct op *no_id = mk_op(OP_HISTORY_ADD, ITEM_MOVIE, NULL);
    struct op *ok = mk_op(OP_WATCHLIST_ADD, ITEM_MOVIE, ARRIVAL_ID);
    struct op *scrobble = mk_op(OP_SCROBBLE_STOP, ITEM_MOVIE, ARRIVAL_ID);
    struct op *bad_rating = mk_op(OP_RATING_SET, ITEM_MOVIE, ARRIVAL_ID);
    struct op *emby_only = mk_op(OP_WATCHLIST_ADD, ITEM_MOVIE, NULL);
    const struct op *ops[2];
    struct http_request req;
    char err[256];

    (void)state;
    assert_int_equal(item_ids_set(&emby_only->item.ids, ITEM_ID_EMBY, "123"),
                     0);
    bad_rating->rating = 11;
    http_request_init(&req);

    ops[0] = no_id;
    err[0] = '\0';
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not in the Jellyfin library (no item id)"));
    assert_non_null(strstr(err, "Arrival"));
    ops[0] = emby_only;
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no item id"));

    ops[0] = scrobble;
    err[0] = '\0';
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "scrobble_stop"));

    ops[0] = bad_rating;
    err[0] = '\0';
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "rating 11"));

    ops[0] = ok;
    ops[1] = ok;
    err[0] = '\0';
    assert_int_equal(A->build(ctx, ops, 2, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "one operation"));
    assert_null(req.url);
    http_request_release(&req);

    free_op(no_id);
    free_op(ok);
    free_op(scrobble);
    free_op(bad_rating);
    free_op(emby_only);
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
        {200, "{\"Played\":true}", NULL, ADAPTER_DONE, 0, ""},
        {204, NULL, NULL, ADAPTER_DONE, 0, ""},
        {404, "", NULL, ADAPTER_PERMANENT, 0, "not in the library (404)"},
        {400,
         "{\"type\":\"https://tools.ietf.org/html/rfc9110#section-15.5.1\","
         "\"title\":\"One or more validation errors occurred.\","
         "\"status\":400,\"errors\":{\"userId\":[\"The value 'x' is not "
         "valid.\"]}}",
         NULL, ADAPTER_PERMANENT, 0,
         "One or more validation errors occurred. (userId: The value 'x' is "
         "not valid.)"},
        {400, "Bad things " KEY, NULL, ADAPTER_PERMANENT, 0,
         "Bad things [redacted]"},
        {401, "", NULL, ADAPTER_PAUSE, 0,
         "Jellyfin rejected the api key (401): check "
         "providers.jellyfin.api_key"},
        {403, "", NULL, ADAPTER_PAUSE, 0, "(403)"},
        {429, "", "Retry-After: 7", ADAPTER_RATE, 7000, ""},
        {429, "", NULL, ADAPTER_RATE, 1000, ""},
        {500, "oops", NULL, ADAPTER_RETRY, 0, "http 500"},
        {503, "", "Retry-After: 30", ADAPTER_RETRY, 30000, "http 503"},
        {0, NULL, NULL, ADAPTER_RETRY, 0, "transport: Connection refused"},
    };
    void *ctx = mk_ctx();
    struct op *op = mk_op(OP_HISTORY_ADD, ITEM_MOVIE, ARRIVAL_ID);
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

static void
test_classify_token_key_name(void **state)
{
    struct provider_conf *c = mk_conf(BASE, NULL, KEY, UID);
    struct op *op = mk_op(OP_WATCHLIST_REMOVE, ITEM_MOVIE, ARRIVAL_ID);
    const struct op *ops[] = {op};
    struct http_response resp;
    struct adapter_result r;
    char err[256] = "";
    void *ctx = A->init(c, NULL, "/tmp", err, sizeof(err));

    (void)state;
    assert_non_null(ctx);
    mk_resp(&resp, 401, "", NULL);
    A->classify(ctx, ops, 1, &resp, &r);
    assert_int_equal(r.outcome, ADAPTER_PAUSE);
    assert_non_null(strstr(r.reason, "providers.jellyfin.token"));
    http_response_release(&resp);
    A->free(ctx);
    free_conf(c);
    free_op(op);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_missing_keys),
        cmocka_unit_test(test_init_token_and_dashed_uid),
        cmocka_unit_test(test_vtable),
        cmocka_unit_test(test_read_requests),
        cmocka_unit_test(test_index_history),
        cmocka_unit_test(test_index_ratings),
        cmocka_unit_test(test_index_watchlist),
        cmocka_unit_test(test_rating_canonical),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_delta_rows),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_build_writes),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_token_key_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
