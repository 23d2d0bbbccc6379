/*
 * test_adapter_plex: the Plex adapter (PROVIDERS.md B5, SYNC.md 1, 5, 7, 8):
 * every request (method, exact URL, headers with the token), the library
 * walk (sections, movie and episode pages, paging, incomplete reads,
 * library_only rows, numbers as strings, guid vs Guid, legacy agent guids),
 * rating conversion, delta filters and watermarks, the Discover watchlist
 * with its metadata lookups, every classification row and the required
 * config keys. No err or reason may carry the token.
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
#include "op.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof(a[0]))

#define TOKEN "PLEXTOK-abcdef123456"
#define BASE  "http://127.0.0.1:9/plex"
#define DISC  "http://127.0.0.1:9/plex-discover"
#define META  "http://127.0.0.1:9/plex-metadata"
#define T0    1740948430 /* 2025-03-02T20:47:10Z */

#define PAGE_Q "&includeGuids=1&X-Plex-Container-Start="
#define SIZE_Q "&X-Plex-Container-Size=500"
#define WL_URL                                                  \
    DISC "/library/sections/watchlist/all?includeCollections=1" \
         "&includeExternalMedia=1&X-Plex-Container-Start="
#define WL_SIZE "&X-Plex-Container-Size=100"

static const struct adapter_ops *A = &adapter_plex;

/* ---- helpers ---------------------------------------------------------- */

/* "name=value;name=value" -> ids. */
static void
set_ids(struct item_ids *ids, const char *spec)
{
    char *copy, *p;

    if (spec == NULL)
        return;
    copy = xstrdup(spec);
    p = copy;
    while (p && *p) {
        char *semi = strchr(p, ';');
        char *eq;

        if (semi)
            *semi = '\0';
        eq = strchr(p, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(item_ids_set_named(ids, p, eq + 1), 0);
        p = semi ? semi + 1 : NULL;
    }
    free(copy);
}

static struct op *
mk_op(enum op_kind kind, enum item_type type, const char *ids)
{
    struct op *op = xmalloc(sizeof(*op));

    op_init(op);
    op->kind = kind;
    op->target = xstrdup("plex");
    op->item.type = type;
    op->item.title = xstrdup("Arrival");
    op->item.year = 2016;
    set_ids(&op->item.ids, ids);
    op_finish(op);
    return op;
}

static void
free_op(struct op *op)
{
    op_release(op);
    free(op);
}

static struct provider_conf *
mk_conf(const char *base, const char *token)
{
    struct provider_conf *c = xcalloc(1, sizeof(*c));

    c->present = true;
    c->base_url = base ? xstrdup(base) : NULL;
    c->token = token ? xstrdup(token) : NULL;
    return c;
}

static void
free_conf(struct provider_conf *c)
{
    free(c->base_url);
    free(c->token);
    free(c->discover_url);
    free(c->metadata_url);
    free(c);
}

static void *
mk_ctx(void)
{
    struct provider_conf *c = mk_conf(BASE "/", TOKEN);
    char err[256] = "";
    void *ctx;

    c->discover_url = xstrdup(DISC);
    c->metadata_url = xstrdup(META "/");
    ctx = A->init(c, NULL, "/tmp", err, sizeof(err));
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
        r->error = xstrdup(body ? body : "Connection refused");
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
assert_plex_headers(const struct http_request *req)
{
    assert_int_equal(req->n_headers, 5);
    assert_true(has_header(req, "X-Plex-Token: " TOKEN));
    assert_true(has_header(req, "Accept: application/json"));
    assert_true(has_header(req, "X-Plex-Client-Identifier: watchrelay"));
    assert_true(has_header(req, "X-Plex-Product: watchrelay"));
    assert_true(has_header(req, "X-Plex-Version: 0.1.0"));
    assert_null(req->body);
}

static void
assert_no_token(const char *s)
{
    assert_null(strstr(s, TOKEN));
}

/*
 * Build the read request for cursor (index, or delta from since), check it
 * is a GET of url with the Plex headers, then parse the scripted reply into
 * pg. Returns what parse returned.
 */
static int
step(void *ctx, enum adapter_feature f, bool delta, int64_t since,
     const char *cursor, const char *url, long status, const char *body,
     const char *headers, struct adapter_page *pg, char *err, size_t errlen)
{
    struct http_request req;
    struct http_response resp;
    char berr[256] = "";
    int rc;

    http_request_init(&req);
    if (delta)
        assert_int_equal(
            A->build_delta(ctx, f, since, cursor, &req, berr, sizeof(berr)), 0);
    else
        assert_int_equal(
            A->build_index(ctx, f, cursor, &req, berr, sizeof(berr)), 0);
    assert_string_equal(req.url, url);
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.rate_class, HTTP_CLASS_READ);
    assert_plex_headers(&req);
    http_request_release(&req);
    mk_resp(&resp, status, body, headers);
    memset(pg, 0, sizeof(*pg));
    if (delta)
        rc = A->parse_delta(ctx, f, &resp, pg, err, errlen);
    else
        rc = A->parse_index(ctx, f, &resp, pg, err, errlen);
    http_response_release(&resp);
    if (rc != 0) {
        assert_int_equal(pg->n, 0);
        assert_null(pg->next_cursor);
        assert_no_token(err);
    }
    return rc;
}

struct step_spec {
    const char *url; /* a library page's gets the delta suffix */
    long status;
    const char *body;
    const char *headers;
    int rows; /* rows the page must give (index reads) */
};

/* Every row of a read, moved out of its pages. */
struct collected {
    struct adapter_entry *rows;
    size_t n;
    int64_t watermark;
};

static void
collect(struct collected *all, struct adapter_page *pg)
{
    if (pg->n > 0) {
        all->rows = xrealloc(all->rows, (all->n + pg->n) * sizeof(*all->rows));
        memcpy(all->rows + all->n, pg->rows, pg->n * sizeof(*pg->rows));
        all->n += pg->n;
        free(pg->rows);
        pg->rows = NULL;
        pg->n = 0;
    }
    if (pg->watermark > all->watermark)
        all->watermark = pg->watermark;
}

static void
collected_release(struct collected *all)
{
    struct adapter_page p;

    memset(&p, 0, sizeof(p));
    p.rows = all->rows;
    p.n = all->n;
    adapter_page_release(&p);
    memset(all, 0, sizeof(*all));
}

/* Run a whole read: each step's cursor comes from the page before; only
 * the last page ends the read. suffix is appended to steps after the first
 * (the delta filter of library pages). */
static void
run_script(void *ctx, enum adapter_feature f, bool delta, int64_t since,
           const char *suffix, const struct step_spec *s, size_t n,
           struct collected *all)
{
    char *cursor = NULL;

    memset(all, 0, sizeof(*all));
    for (size_t i = 0; i < n; i++) {
        struct adapter_page pg;
        char url[1024], err[256] = "";

        snprintf(url, sizeof(url), "%s%s", s[i].url,
                 (i > 0 && suffix != NULL) ? suffix : "");
        if (step(ctx, f, delta, since, cursor, url, s[i].status, s[i].body,
                 s[i].headers, &pg, err, sizeof(err)) != 0)
            fail_msg("step %zu: %s", i, err);
        if (s[i].rows >= 0 && !delta)
            assert_int_equal(pg.n, (size_t)s[i].rows);
        free(cursor);
        cursor = pg.next_cursor ? xstrdup(pg.next_cursor) : NULL;
        if (i + 1 < n)
            assert_non_null(cursor);
        else
            assert_null(cursor);
        if (!delta)
            assert_int_equal(pg.watermark, 0);
        collect(all, &pg);
        adapter_page_release(&pg);
    }
}

static const struct adapter_entry *
find_plex(const struct collected *all, const char *rk)
{
    for (size_t i = 0; i < all->n; i++) {
        const char *v = all->rows[i].item.ids.v[ITEM_ID_PLEX];

        if (v != NULL && strcmp(v, rk) == 0)
            return &all->rows[i];
    }
    fail_msg("no row with ratingKey %s", rk);
    return NULL;
}

static const struct adapter_entry *
find_guid(const struct collected *all, const char *guid)
{
    for (size_t i = 0; i < all->n; i++) {
        const char *v = all->rows[i].item.ids.v[ITEM_ID_GUID];

        if (v != NULL && strcmp(v, guid) == 0)
            return &all->rows[i];
    }
    fail_msg("no row with guid %s", guid);
    return NULL;
}

static void
assert_id(const struct item_ids *ids, enum item_id id, const char *want)
{
    if (want == NULL)
        assert_null(ids->v[id]);
    else
        assert_string_equal(ids->v[id] ? ids->v[id] : "(null)", want);
}

/* ---- library fixtures (PROVIDERS.md B5 shapes) ------------------------ */

static const char SECTIONS[] =
    "{\"MediaContainer\":{\"size\":4,\"Directory\":["
    "{\"key\":\"1\",\"type\":\"movie\",\"title\":\"Movies\","
    "\"agent\":\"tv.plex.agents.movie\",\"uuid\":\"a1\"},"
    "{\"key\":\"7\",\"type\":\"artist\",\"title\":\"Music\"},"
    "{\"key\":\"9\",\"type\":\"photo\",\"title\":\"Photos\"},"
    "{\"key\":2,\"type\":\"show\",\"title\":\"TV Shows\","
    "\"agent\":\"tv.plex.agents.series\"}]}}";

/* Movies, page 1: 2 of 4 (the server gave fewer than asked). Arrival is the
 * PROVIDERS.md example; The Matrix has numbers as strings, a legacy agent
 * guid, no plays and a 7.5 rating. */
static const char MOVIES1[] =
    "{\"MediaContainer\":{\"size\":2,\"totalSize\":4,\"offset\":0,"
    "\"librarySectionID\":1,\"identifier\":\"com.plexapp.plugins.library\","
    "\"Metadata\":["
    "{\"ratingKey\":\"10432\",\"key\":\"/library/metadata/10432\","
    "\"guid\":\"plex://movie/5d776a8b9ab544002150d2f3\",\"type\":\"movie\","
    "\"title\":\"Arrival\",\"year\":2016,\"duration\":6960000,"
    "\"viewCount\":2,\"lastViewedAt\":1717900000,\"userRating\":8.0,"
    "\"lastRatedAt\":1718040100,\"addedAt\":1700000000,"
    "\"updatedAt\":1710000000,\"Guid\":[{\"id\":\"imdb://tt2543164\"},"
    "{\"id\":\"tmdb://329865\"},{\"id\":\"tvdb://169\"}]},"
    "{\"ratingKey\":2001,\"guid\":\"com.plexapp.agents.imdb://"
    "tt0133093?lang=en\",\"type\":\"movie\",\"title\":\"The Matrix\","
    "\"year\":\"1999\",\"viewCount\":\"0\",\"lastViewedAt\":\"1600000000\","
    "\"userRating\":\"7.5\",\"lastRatedAt\":\"1718000000\"}]}}";

/* Movies, page 2: the last two (a clip is skipped but counted). */
static const char MOVIES2[] =
    "{\"MediaContainer\":{\"size\":2,\"totalSize\":\"4\",\"offset\":2,"
    "\"Metadata\":["
    "{\"ratingKey\":\"2002\",\"guid\":\"com.plexapp.agents.themoviedb://"
    "603?lang=en\",\"type\":\"movie\",\"title\":\"Legacy\",\"year\":2001,"
    "\"viewCount\":\"1\",\"userRating\":0},"
    "{\"ratingKey\":\"2003\",\"type\":\"clip\",\"title\":\"Trailer\","
    "\"viewCount\":3,\"lastViewedAt\":1800000000}]}}";

/* Episodes: the total only in the header. */
static const char EPISODES[] =
    "{\"MediaContainer\":{\"size\":2,\"offset\":0,\"Metadata\":["
    "{\"ratingKey\":\"5001\",\"guid\":\"plex://episode/"
    "5d9c0874ffd9ef001e99607a\",\"type\":\"episode\",\"title\":\"Good News "
    "About Hell\",\"grandparentTitle\":\"Severance\","
    "\"grandparentGuid\":\"plex://show/5d9c086fe9d5a1001f4d5a4e\","
    "\"grandparentRatingKey\":\"4000\",\"parentIndex\":\"1\",\"index\":\"1\","
    "\"viewCount\":1,\"lastViewedAt\":\"1718100000\",\"userRating\":\"6.4\","
    "\"lastRatedAt\":1718100500,\"Guid\":[{\"id\":\"imdb://tt11650328\"},"
    "{\"id\":\"tvdb://7512345\"}]},"
    "{\"ratingKey\":\"6001\",\"guid\":\"com.plexapp.agents.thetvdb://"
    "73871/2/5?lang=en\",\"type\":\"episode\",\"title\":\"Old Agent\","
    "\"grandparentTitle\":\"Futurama\",\"grandparentGuid\":"
    "\"com.plexapp.agents.thetvdb://73871?lang=en\",\"parentIndex\":2,"
    "\"index\":5,\"viewCount\":0,\"userRating\":10}]}}";

#define MOVIES_URL   BASE "/library/sections/1/all?type=1" PAGE_Q
#define EPISODES_URL BASE "/library/sections/2/all?type=4" PAGE_Q

static const struct step_spec library_index[] = {
    {BASE "/library/sections", 200, SECTIONS, NULL, 0},
    {MOVIES_URL "0" SIZE_Q, 200, MOVIES1, NULL, 2},
    {MOVIES_URL "2" SIZE_Q, 200, MOVIES2, NULL, 1},
    {EPISODES_URL "0" SIZE_Q, 200, EPISODES,
     "X-Plex-Container-Start: 0\nX-Plex-Container-Total-Size: 2", 2},
};

/* ---- init and vtable -------------------------------------------------- */

static void
test_init_requires_keys(void **state)
{
    struct provider_conf *c = mk_conf(NULL, TOKEN);
    char err[256] = "";

    (void)state;
    assert_null(A->init(NULL, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.plex.base_url is required"));
    err[0] = '\0';
    assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.plex.base_url is required"));
    c->base_url = xstrdup("");
    err[0] = '\0';
    assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.plex.base_url"));
    free_conf(c);

    c = mk_conf(BASE, NULL);
    err[0] = '\0';
    assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.plex.token is required"));
    c->token = xstrdup("");
    err[0] = '\0';
    assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.plex.token is required"));
    free(c->token);
    /* A token that would break the header line is refused, unquoted. */
    c->token = xstrdup("secret tok\r\nX-Evil: 1");
    err[0] = '\0';
    assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.plex.token"));
    assert_null(strstr(err, "secret tok"));
    free_conf(c);
}

static void
test_init_defaults(void **state)
{
    struct provider_conf *c = mk_conf(BASE, TOKEN);
    struct op *op = mk_op(OP_WATCHLIST_ADD, ITEM_MOVIE,
                          "guid=plex://movie/5d776a8b9ab544002150d2f3");
    const struct op *ops[] = {op};
    struct http_request req;
    struct http_response resp;
    struct adapter_page pg;
    char err[256] = "";
    void *ctx = A->init(c, NULL, "/tmp", err, sizeof(err));

    (void)state;
    assert_non_null(ctx);
    http_request_init(&req);
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), 0);
    assert_string_equal(req.url, "https://discover.provider.plex.tv/actions/"
                                 "addToWatchlist?ratingKey="
                                 "5d776a8b9ab544002150d2f3");
    http_request_release(&req);
    http_request_init(&req);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_WATCHLIST, NULL, &req, err, sizeof(err)),
        0);
    assert_string_equal(req.url,
                        "https://discover.provider.plex.tv/library/sections/"
                        "watchlist/all?includeCollections=1"
                        "&includeExternalMedia=1&X-Plex-Container-Start=0"
                        "&X-Plex-Container-Size=100");
    http_request_release(&req);
    mk_resp(&resp, 200,
            "{\"MediaContainer\":{\"size\":1,\"totalSize\":1,\"Metadata\":["
            "{\"ratingKey\":\"5d776a8b9ab544002150d2f3\",\"type\":\"movie\","
            "\"title\":\"Arrival\"}]}}",
            NULL);
    memset(&pg, 0, sizeof(pg));
    assert_int_equal(
        A->parse_index(ctx, ADAPTER_WATCHLIST, &resp, &pg, err, sizeof(err)),
        0);
    http_response_release(&resp);
    assert_non_null(pg.next_cursor);
    http_request_init(&req);
    assert_int_equal(A->build_index(ctx, ADAPTER_WATCHLIST, pg.next_cursor,
                                    &req, err, sizeof(err)),
                     0);
    assert_string_equal(req.url, "https://metadata.provider.plex.tv/library/"
                                 "metadata/5d776a8b9ab544002150d2f3"
                                 "?includeGuids=1");
    http_request_release(&req);
    adapter_page_release(&pg);
    A->free(ctx);
    free_conf(c);
    free_op(op);
}

static void
test_vtable(void **state)
{
    const unsigned kinds = OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) |
                           OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |
                           OP_BIT(OP_WATCHLIST_ADD) |
                           OP_BIT(OP_WATCHLIST_REMOVE);

    (void)state;
    assert_string_equal(A->name, "plex");
    assert_ptr_equal(adapter_find("plex"), A);
    assert_int_equal(A->kinds, kinds);
    assert_int_equal(A->batch_kinds, 0);
    assert_int_equal(A->max_batch, 1);
    assert_false(A->scrobble_api);
    assert_int_equal(A->limits.write_interval_ms, 50);
    assert_int_equal(A->limits.write_inflight, 1);
    assert_int_equal(A->features, ADAPTER_BIT(ADAPTER_HISTORY) |
                                      ADAPTER_BIT(ADAPTER_RATINGS) |
                                      ADAPTER_BIT(ADAPTER_WATCHLIST));
    assert_int_equal(A->delta_features, ADAPTER_BIT(ADAPTER_HISTORY) |
                                            ADAPTER_BIT(ADAPTER_RATINGS));
    assert_true(A->has_local_id);
    assert_int_equal(A->local_id, ITEM_ID_PLEX);
    assert_false(A->dated_history);
    assert_int_equal(A->phantom_grace_s, 900);
    assert_null(A->build_activities);
    assert_null(A->parse_activities);
    assert_null(A->build_refresh);
    assert_null(A->auth_start);
    assert_null(A->build_history_check);
    assert_null(A->apply);
    assert_non_null(A->build_index);
    assert_non_null(A->parse_index);
    assert_non_null(A->build_delta);
    assert_non_null(A->parse_delta);
    A->free(NULL);
}

/* ---- writes ----------------------------------------------------------- */

struct build_case {
    enum op_kind kind;
    const char *ids;
    int rating;
    int64_t rated_at;
    const char *url;
};

static const struct build_case build_cases[] = {
    {OP_HISTORY_ADD, "plex=10432;tmdb=329865", 0, 0,
     BASE "/:/scrobble?identifier=com.plexapp.plugins.library&key=10432"},
    {OP_HISTORY_REMOVE, "plex=10432", 0, 0,
     BASE "/:/unscrobble?identifier=com.plexapp.plugins.library&key=10432"},
    {OP_RATING_SET, "plex=10432", 8, 0,
     BASE "/:/rate?identifier=com.plexapp.plugins.library&key=10432"
          "&rating=8"},
    {OP_RATING_SET, "plex=10432", 7, T0,
     BASE "/:/rate?identifier=com.plexapp.plugins.library&key=10432"
          "&rating=7&ratedAt=1740948430"},
    {OP_RATING_SET, "plex=77", 10, 0,
     BASE "/:/rate?identifier=com.plexapp.plugins.library&key=77"
          "&rating=10"},
    {OP_RATING_CLEAR, "plex=10432", 0, 0,
     BASE "/:/rate?identifier=com.plexapp.plugins.library&key=10432"
          "&rating=-1"},
    {OP_WATCHLIST_ADD, "guid=plex://movie/5d776a8b9ab544002150d2f3;plex=1", 0,
     0, DISC "/actions/addToWatchlist?ratingKey=5d776a8b9ab544002150d2f3"},
    {OP_WATCHLIST_REMOVE, "guid=plex://show/5d9c086fe9d5a1001f4d5a4e", 0, 0,
     DISC "/actions/removeFromWatchlist?ratingKey=5d9c086fe9d5a1001f4d5a4e"},
    /* Values are query-escaped. */
    {OP_HISTORY_ADD, "plex=a b&c", 0, 0,
     BASE "/:/scrobble?identifier=com.plexapp.plugins.library&key=a%20b%26c"},
};

static void
test_build_table(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t i = 0; i < N_ELEMS(build_cases); i++) {
        const struct build_case *bc = &build_cases[i];
        struct op *op = mk_op(bc->kind, ITEM_MOVIE, bc->ids);
        const struct op *ops[] = {op};
        struct http_request req;
        char err[256] = "";

        op->rating = bc->rating;
        op->rated_at = bc->rated_at;
        http_request_init(&req);
        if (A->build(ctx, ops, 1, &req, err, sizeof(err)) != 0)
            fail_msg("case %zu: %s", i, err);
        assert_string_equal(req.url, bc->url);
        assert_int_equal(req.method, HTTP_PUT);
        assert_int_equal(req.rate_class, HTTP_CLASS_WRITE);
        assert_plex_headers(&req);
        http_request_release(&req);
        free_op(op);
    }
    A->free(ctx);
}

struct refusal {
    enum op_kind kind;
    const char *ids;
    int rating;
    const char *why;
};

static const struct refusal refusals[] = {
    {OP_HISTORY_ADD, "imdb=tt2543164;guid=plex://movie/abc", 0,
     "is not in the Plex library (no ratingKey)"},
    {OP_HISTORY_REMOVE, "tmdb=1", 0, "not in the Plex library (no ratingKey)"},
    {OP_RATING_SET, "tmdb=1", 8, "not in the Plex library (no ratingKey)"},
    {OP_RATING_CLEAR, NULL, 0, "not in the Plex library (no ratingKey)"},
    {OP_RATING_SET, "plex=1", 0, "outside 1-10"},
    {OP_RATING_SET, "plex=1", 11, "outside 1-10"},
    {OP_WATCHLIST_ADD, "imdb=tt2543164;plex=10432", 0,
     "no plex:// guid for the Discover watchlist"},
    {OP_WATCHLIST_REMOVE, "guid=plex://episode/5d9c0874ffd9ef001e99607a", 0,
     "no plex:// guid for the Discover watchlist"},
    {OP_WATCHLIST_ADD, "guid=plex://movie/", 0,
     "no plex:// guid for the Discover watchlist"},
    {OP_SCROBBLE_START, "plex=1", 0, "does not take"},
    {OP_PROGRESS_SET, "plex=1", 0, "does not take"},
    {OP_PLAYLIST_ADD, "plex=1", 0, "does not take"},
};

static void
test_build_refusals(void **state)
{
    void *ctx = mk_ctx();
    struct op *a = mk_op(OP_HISTORY_ADD, ITEM_MOVIE, "plex=1");
    struct op *b = mk_op(OP_HISTORY_ADD, ITEM_MOVIE, "plex=2");
    const struct op *two[] = {a, b};
    struct http_request req;
    char err[256] = "";

    (void)state;
    for (size_t i = 0; i < N_ELEMS(refusals); i++) {
        struct op *op = mk_op(refusals[i].kind, ITEM_MOVIE, refusals[i].ids);
        const struct op *ops[] = {op};

        op->rating = refusals[i].rating;
        err[0] = '\0';
        http_request_init(&req);
        assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), -1);
        if (strstr(err, refusals[i].why) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, refusals[i].why);
        assert_no_token(err);
        http_request_release(&req);
        free_op(op);
    }
    /* One item per write. */
    http_request_init(&req);
    assert_int_equal(A->build(ctx, two, 2, &req, err, sizeof(err)), -1);
    http_request_release(&req);
    free_op(a);
    free_op(b);
    A->free(ctx);
}

/* ---- classify --------------------------------------------------------- */

struct classify_case {
    enum op_kind kind;
    long status;
    const char *body;
    const char *headers;
    enum adapter_outcome outcome;
    int64_t retry_ms;   /* -1: any */
    const char *reason; /* substring; NULL = not checked */
};

static const struct classify_case classify_cases[] = {
    {OP_HISTORY_ADD, 200, "", NULL, ADAPTER_DONE, 0, NULL},
    {OP_HISTORY_REMOVE, 204, NULL, NULL, ADAPTER_DONE, 0, NULL},
    {OP_RATING_SET, 201, NULL, NULL, ADAPTER_DONE, 0, NULL},
    {OP_WATCHLIST_ADD, 200, "{}", NULL, ADAPTER_DONE, 0, NULL},
    /* Discover: already there / already gone is done. */
    {OP_WATCHLIST_ADD, 409, NULL, NULL, ADAPTER_DONE, 0, NULL},
    {OP_WATCHLIST_REMOVE, 404, NULL, NULL, ADAPTER_DONE, 0, NULL},
    {OP_WATCHLIST_ADD, 400,
     "{\"error\":\"Arrival is already on the watchlist\"}", NULL, ADAPTER_DONE,
     0, NULL},
    {OP_WATCHLIST_REMOVE, 400, "Item is Not on the Watchlist", NULL,
     ADAPTER_DONE, 0, NULL},
    {OP_WATCHLIST_ADD, 400, "{\"error\":\"bad ratingKey\"}", NULL,
     ADAPTER_PERMANENT, 0, "invalid: http 400: bad ratingKey"},
    /* Library writes. */
    {OP_HISTORY_ADD, 404, "<html>Not Found</html>", NULL, ADAPTER_PERMANENT, 0,
     "not in the Plex library"},
    {OP_RATING_SET, 404, NULL, NULL, ADAPTER_PERMANENT, 0,
     "not_found: Arrival (2016)"},
    {OP_HISTORY_REMOVE, 404, NULL, NULL, ADAPTER_PERMANENT, 0,
     "not in the Plex library"},
    {OP_RATING_SET, 400, "<html><h1>Bad Request</h1></html>", NULL,
     ADAPTER_PERMANENT, 0, "invalid: http 400: <html><h1>Bad Request"},
    {OP_RATING_CLEAR, 422, "nope", NULL, ADAPTER_PERMANENT, 0,
     "invalid: http 422: nope"},
    {OP_HISTORY_ADD, 401, "<html>Unauthorized " TOKEN "</html>", NULL,
     ADAPTER_PAUSE, 0,
     "Plex rejected the token (401): renew providers.plex.token"},
    {OP_WATCHLIST_ADD, 401, NULL, NULL, ADAPTER_PAUSE, 0,
     "Plex rejected the token (401)"},
    {OP_HISTORY_ADD, 498, NULL, NULL, ADAPTER_PAUSE, 0,
     "Plex rejected the token (498): renew providers.plex.token"},
    {OP_HISTORY_ADD, 403, NULL, NULL, ADAPTER_PAUSE, 0, "403"},
    {OP_HISTORY_ADD, 429, NULL, "Retry-After: 7", ADAPTER_RATE, 7000, NULL},
    {OP_WATCHLIST_ADD, 429, NULL, NULL, ADAPTER_RATE, -1, NULL},
    {OP_HISTORY_ADD, 500, "boom", NULL, ADAPTER_RETRY, 0, "http 500: boom"},
    {OP_RATING_SET, 503, NULL, "Retry-After: 30", ADAPTER_RETRY, 30000,
     "http 503"},
    {OP_WATCHLIST_REMOVE, 502, NULL, NULL, ADAPTER_RETRY, 0, "http 502"},
    {OP_HISTORY_ADD, 0, "Connection refused", NULL, ADAPTER_RETRY, 0,
     "transport: Connection refused"},
    {OP_HISTORY_ADD, 0, "Timeout " TOKEN, NULL, ADAPTER_RETRY, 0, "transport"},
    {OP_HISTORY_ADD, 400, "bad token " TOKEN, NULL, ADAPTER_PERMANENT, 0,
     "[redacted]"},
};

static void
test_classify_table(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t i = 0; i < N_ELEMS(classify_cases); i++) {
        const struct classify_case *cc = &classify_cases[i];
        struct op *op = mk_op(cc->kind, ITEM_MOVIE,
                              "plex=10432;guid=plex://movie/"
                              "5d776a8b9ab544002150d2f3;tmdb=329865");
        const struct op *ops[] = {op};
        struct http_response resp;
        struct adapter_result res;

        memset(&res, 0, sizeof(res));
        mk_resp(&resp, cc->status, cc->body, cc->headers);
        A->classify(ctx, ops, 1, &resp, &res);
        if (res.outcome != cc->outcome)
            fail_msg("case %zu (http %ld): outcome %s, want %s (%s)", i,
                     cc->status, adapter_outcome_name(res.outcome),
                     adapter_outcome_name(cc->outcome), res.reason);
        if (cc->retry_ms >= 0)
            assert_int_equal(res.retry_after_ms, cc->retry_ms);
        else
            assert_true(res.retry_after_ms > 0);
        if (cc->reason != NULL && strstr(res.reason, cc->reason) == NULL)
            fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, res.reason,
                     cc->reason);
        assert_no_token(res.reason);
        http_response_release(&resp);
        free_op(op);
    }
    A->free(ctx);
}

/* ---- library reads ---------------------------------------------------- */

static void
test_index_history(void **state)
{
    void *ctx = mk_ctx();
    struct collected all;
    const struct adapter_entry *e;

    (void)state;
    run_script(ctx, ADAPTER_HISTORY, false, 0, NULL, library_index,
               N_ELEMS(library_index), &all);
    assert_int_equal(all.n, 5); /* the clip is no row */

    /* Arrival: guid and Guid[] both taken; one row, its last play. */
    e = find_plex(&all, "10432");
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Arrival");
    assert_int_equal(e->item.year, 2016);
    assert_id(&e->item.ids, ITEM_ID_GUID,
              "plex://movie/5d776a8b9ab544002150d2f3");
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt2543164");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "169");
    assert_false(e->library_only);
    assert_false(e->removed);
    assert_int_equal(e->watched_at, 1717900000);
    assert_int_equal(e->rating, 0);
    assert_true(e->progress == -1);
    assert_int_equal(e->position, -1);

    /* The Matrix: never played -> library_only; numbers as strings;
     * legacy agent guid. */
    e = find_plex(&all, "2001");
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "The Matrix");
    assert_int_equal(e->item.year, 1999);
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt0133093");
    assert_id(&e->item.ids, ITEM_ID_GUID, NULL);
    assert_true(e->library_only);
    assert_int_equal(e->watched_at, 0);

    /* Played without lastViewedAt: watched, no date. */
    e = find_plex(&all, "2002");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "603");
    assert_false(e->library_only);
    assert_int_equal(e->watched_at, 0);

    /* Episode: own ids from Guid[], show ids from grandparentGuid. */
    e = find_plex(&all, "5001");
    assert_int_equal(e->item.type, ITEM_EPISODE);
    assert_string_equal(e->item.title, "Good News About Hell");
    assert_string_equal(e->item.show_title, "Severance");
    assert_int_equal(e->item.season, 1);
    assert_int_equal(e->item.episode, 1);
    assert_id(&e->item.ids, ITEM_ID_GUID,
              "plex://episode/5d9c0874ffd9ef001e99607a");
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt11650328");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "7512345");
    assert_id(&e->item.show_ids, ITEM_ID_GUID,
              "plex://show/5d9c086fe9d5a1001f4d5a4e");
    assert_id(&e->item.show_ids, ITEM_ID_PLEX, NULL);
    assert_false(e->library_only);
    assert_int_equal(e->watched_at, 1718100000);

    /* Legacy thetvdb://SHOW/S/E episode, unwatched. */
    e = find_plex(&all, "6001");
    assert_int_equal(e->item.type, ITEM_EPISODE);
    assert_string_equal(e->item.show_title, "Futurama");
    assert_id(&e->item.show_ids, ITEM_ID_TVDB, "73871");
    assert_id(&e->item.ids, ITEM_ID_TVDB, NULL);
    assert_int_equal(e->item.season, 2);
    assert_int_equal(e->item.episode, 5);
    assert_true(e->library_only);
    collected_release(&all);
    A->free(ctx);
}

static void
test_index_ratings(void **state)
{
    void *ctx = mk_ctx();
    struct collected all;
    const struct adapter_entry *e;

    (void)state;
    run_script(ctx, ADAPTER_RATINGS, false, 0, NULL, library_index,
               N_ELEMS(library_index), &all);
    assert_int_equal(all.n, 5);
    e = find_plex(&all, "10432"); /* 8.0 */
    assert_int_equal(e->rating, 8);
    assert_int_equal(e->rated_at, 1718040100);
    assert_false(e->library_only);
    assert_int_equal(e->watched_at, 0);
    e = find_plex(&all, "2001"); /* "7.5": half up */
    assert_int_equal(e->rating, 8);
    assert_int_equal(e->rated_at, 1718000000);
    assert_false(e->library_only);
    e = find_plex(&all, "2002"); /* 0: unrated */
    assert_int_equal(e->rating, 0);
    assert_true(e->library_only);
    e = find_plex(&all, "5001"); /* "6.4" */
    assert_int_equal(e->rating, 6);
    assert_int_equal(e->rated_at, 1718100500);
    e = find_plex(&all, "6001"); /* 10, no lastRatedAt */
    assert_int_equal(e->rating, 10);
    assert_int_equal(e->rated_at, 0);
    assert_false(e->library_only);
    collected_release(&all);
    A->free(ctx);
}

static void
test_delta_history(void **state)
{
    void *ctx = mk_ctx();
    struct collected all;
    const struct adapter_entry *e;

    (void)state;
    /* since - 5 min, appended raw (PROVIDERS.md B5 media-query filter). */
    run_script(ctx, ADAPTER_HISTORY, true, 1741000000,
               "&lastViewedAt>>=1740999700", library_index,
               N_ELEMS(library_index), &all);
    /* Only the watched: Arrival, Legacy, the Severance episode. */
    assert_int_equal(all.n, 3);
    for (size_t i = 0; i < all.n; i++)
        assert_false(all.rows[i].library_only);
    assert_int_equal(find_plex(&all, "10432")->watched_at, 1717900000);
    assert_int_equal(find_plex(&all, "2002")->watched_at, 0);
    e = find_plex(&all, "5001");
    assert_int_equal(e->watched_at, 1718100000);
    assert_id(&e->item.show_ids, ITEM_ID_GUID,
              "plex://show/5d9c086fe9d5a1001f4d5a4e");
    /* The newest lastViewedAt of a movie or episode seen. */
    assert_int_equal(all.watermark, 1718100000);
    collected_release(&all);
    A->free(ctx);
}

static void
test_delta_ratings(void **state)
{
    void *ctx = mk_ctx();
    struct collected all;

    (void)state;
    run_script(ctx, ADAPTER_RATINGS, true, 1741000000,
               "&lastRatedAt>>=1740999700", library_index,
               N_ELEMS(library_index), &all);
    assert_int_equal(all.n, 4); /* Legacy is unrated */
    assert_int_equal(find_plex(&all, "10432")->rating, 8);
    assert_int_equal(find_plex(&all, "2001")->rating, 8);
    assert_int_equal(find_plex(&all, "5001")->rating, 6);
    assert_int_equal(find_plex(&all, "6001")->rating, 10);
    for (size_t i = 0; i < all.n; i++)
        assert_false(all.rows[i].library_only);
    assert_int_equal(all.watermark, 1718100500);
    collected_release(&all);
    A->free(ctx);
}

static void
test_delta_small_since(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "", *cursor;
    static const char one_section[] =
        "{\"MediaContainer\":{\"Directory\":[{\"key\":\"3\","
        "\"type\":\"movie\"}]}}";

    (void)state;
    assert_int_equal(step(ctx, ADAPTER_HISTORY, true, 100, NULL,
                          BASE "/library/sections", 200, one_section, NULL, &pg,
                          err, sizeof(err)),
                     0);
    assert_int_equal(pg.watermark, 0);
    cursor = xstrdup(pg.next_cursor);
    adapter_page_release(&pg);
    /* An empty delta (no Metadata, total 0): done, no watermark. */
    assert_int_equal(step(ctx, ADAPTER_HISTORY, true, 100, cursor,
                          BASE "/library/sections/3/all?type=1" PAGE_Q
                               "0" SIZE_Q "&lastViewedAt>>=0",
                          200,
                          "{\"MediaContainer\":{\"size\":0,"
                          "\"totalSize\":0}}",
                          NULL, &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 0);
    assert_null(pg.next_cursor);
    assert_int_equal(pg.watermark, 0);
    adapter_page_release(&pg);
    free(cursor);
    A->free(ctx);
}

/* A reply page of n movies (ratingKey from first). */
static char *
movie_page(int first, int n, const char *total)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "{\"MediaContainer\":{");
    if (total != NULL)
        buf_printf(&b, "\"totalSize\":%s,", total);
    buf_printf(&b, "\"size\":%d,\"Metadata\":[", n);
    for (int i = 0; i < n; i++)
        buf_printf(&b,
                   "%s{\"ratingKey\":\"%d\",\"type\":\"movie\","
                   "\"title\":\"M%d\",\"viewCount\":1}",
                   i ? "," : "", first + i, first + i);
    buf_puts(&b, "]}}");
    return b.data;
}

static void
test_index_paging_and_incomplete(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "", *first, *cursor, *body;
    static const char one_section[] =
        "{\"MediaContainer\":{\"Directory\":[{\"key\":\"1\","
        "\"type\":\"movie\"}]}}";

    (void)state;
    assert_int_equal(step(ctx, ADAPTER_HISTORY, false, 0, NULL,
                          BASE "/library/sections", 200, one_section, NULL, &pg,
                          err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 0);
    first = xstrdup(pg.next_cursor);
    cursor = xstrdup(first);
    adapter_page_release(&pg);
    /* A full page of 500 of 1001. */
    body = movie_page(1, 500, "1001");
    assert_int_equal(step(ctx, ADAPTER_HISTORY, false, 0, cursor,
                          MOVIES_URL "0" SIZE_Q, 200, body, NULL, &pg, err,
                          sizeof(err)),
                     0);
    free(body);
    assert_int_equal(pg.n, 500);
    free(cursor);
    cursor = xstrdup(pg.next_cursor);
    adapter_page_release(&pg);
    body = movie_page(501, 500, "1001");
    assert_int_equal(step(ctx, ADAPTER_HISTORY, false, 0, cursor,
                          MOVIES_URL "500" SIZE_Q, 200, body, NULL, &pg, err,
                          sizeof(err)),
                     0);
    free(body);
    free(cursor);
    cursor = xstrdup(pg.next_cursor);
    adapter_page_release(&pg);
    /* The server runs dry before its total: the read fails. */
    assert_int_equal(step(ctx, ADAPTER_HISTORY, false, 0, cursor,
                          MOVIES_URL "1000" SIZE_Q, 200,
                          "{\"MediaContainer\":{\"size\":0,"
                          "\"totalSize\":1001}}",
                          NULL, &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    assert_non_null(strstr(err, "1000 of 1001"));
    /* Same with the total only in the header and an empty Metadata. */
    err[0] = '\0';
    assert_int_equal(
        step(ctx, ADAPTER_HISTORY, false, 0, cursor, MOVIES_URL "1000" SIZE_Q,
             200, "{\"MediaContainer\":{\"size\":0,\"Metadata\":[]}}",
             "X-Plex-Container-Total-Size: 1001", &pg, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "incomplete read"));
    /* The last item arrives: complete. */
    body = movie_page(1001, 1, "\"1001\"");
    assert_int_equal(step(ctx, ADAPTER_HISTORY, false, 0, cursor,
                          MOVIES_URL "1000" SIZE_Q, 200, body, NULL, &pg, err,
                          sizeof(err)),
                     0);
    free(body);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.rows[0].item.ids.v[ITEM_ID_PLEX], "1001");
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    /* No total anywhere: a full page asks for more, a short one ends. */
    body = movie_page(1, 500, NULL);
    assert_int_equal(step(ctx, ADAPTER_HISTORY, false, 0, first,
                          MOVIES_URL "0" SIZE_Q, 200, body, NULL, &pg, err,
                          sizeof(err)),
                     0);
    free(body);
    free(cursor);
    cursor = xstrdup(pg.next_cursor);
    adapter_page_release(&pg);
    body = movie_page(501, 3, NULL);
    assert_int_equal(step(ctx, ADAPTER_HISTORY, false, 0, cursor,
                          MOVIES_URL "500" SIZE_Q, 200, body, NULL, &pg, err,
                          sizeof(err)),
                     0);
    free(body);
    assert_int_equal(pg.n, 3);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    free(cursor);
    free(first);
    A->free(ctx);
}

static void
test_index_no_sections(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    /* Only music: nothing to read, complete and empty. */
    assert_int_equal(step(ctx, ADAPTER_RATINGS, false, 0, NULL,
                          BASE "/library/sections", 200,
                          "{\"MediaContainer\":{\"size\":1,\"Directory\":["
                          "{\"key\":\"7\",\"type\":\"artist\"}]}}",
                          NULL, &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 0);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    A->free(ctx);
}

struct read_error {
    long status;
    const char *body;
    const char *want;
};

static const struct read_error read_errors[] = {
    {401, "<html>401 Unauthorized</html>", "unauthorized (http 401)"},
    {403, NULL, "unauthorized (http 403)"},
    {498, NULL, "unauthorized"},
    {500, "Internal " TOKEN, "http 500"},
    {404, NULL, "http 404"},
    {0, "Connection refused", "transport"},
    {200, "<MediaContainer size=\"1\"/>", "malformed"},
    {200, "", "malformed"},
    {200, "{\"MediaContainer\":", "malformed"},
    {200, "{\"mediacontainer\":{}}", "no MediaContainer"},
    {200, "[1,2]", "no MediaContainer"},
};

static void
test_read_errors(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(read_errors); i++) {
        char err[256] = "";

        /* The sections request. */
        if (step(ctx, ADAPTER_HISTORY, false, 0, NULL, BASE "/library/sections",
                 read_errors[i].status, read_errors[i].body, NULL, &pg, err,
                 sizeof(err)) != -1)
            fail_msg("case %zu parsed", i);
        if (strstr(err, read_errors[i].want) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
                     read_errors[i].want);
        /* The watchlist's first page. */
        err[0] = '\0';
        if (step(ctx, ADAPTER_WATCHLIST, false, 0, NULL, WL_URL "0" WL_SIZE,
                 read_errors[i].status, read_errors[i].body, NULL, &pg, err,
                 sizeof(err)) != -1)
            fail_msg("watchlist case %zu parsed", i);
        if (strstr(err, read_errors[i].want) == NULL)
            fail_msg("watchlist case %zu: \"%s\" lacks \"%s\"", i, err,
                     read_errors[i].want);
    }
    A->free(ctx);
}

static void
test_unsupported_reads(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct http_response resp;
    struct adapter_page pg;
    char err[256] = "";

    (void)state;
    http_request_init(&req);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_PROGRESS, NULL, &req, err, sizeof(err)),
        -1);
    assert_int_equal(
        A->build_index(ctx, ADAPTER_PLAYLISTS, NULL, &req, err, sizeof(err)),
        -1);
    assert_int_equal(A->build_delta(ctx, ADAPTER_WATCHLIST, 1741000000, NULL,
                                    &req, err, sizeof(err)),
                     -1);
    /* Cursors that are not ours. */
    assert_int_equal(A->build_index(ctx, ADAPTER_HISTORY, "section=2", &req,
                                    err, sizeof(err)),
                     -1);
    assert_int_equal(A->build_index(ctx, ADAPTER_HISTORY,
                                    "walk;i=3;start=0;total=-1;s=1:1", &req,
                                    err, sizeof(err)),
                     -1);
    assert_int_equal(A->build_index(ctx, ADAPTER_WATCHLIST,
                                    "walk;i=0;start=0;total=-1;s=1:1", &req,
                                    err, sizeof(err)),
                     -1);
    assert_int_equal(A->build_index(ctx, ADAPTER_WATCHLIST,
                                    "wl;start=0;total=-1;more=1;p=a%zz:1::::0",
                                    &req, err, sizeof(err)),
                     -1);
    http_request_release(&req);
    mk_resp(&resp, 200, "{\"MediaContainer\":{}}", NULL);
    memset(&pg, 0, sizeof(pg));
    assert_int_equal(
        A->parse_delta(ctx, ADAPTER_WATCHLIST, &resp, &pg, err, sizeof(err)),
        -1);
    assert_int_equal(
        A->parse_index(ctx, ADAPTER_PROGRESS, &resp, &pg, err, sizeof(err)),
        -1);
    http_response_release(&resp);
    A->free(ctx);
}

/* ---- watchlist -------------------------------------------------------- */

/* Page 1: 3 of 4 (a collection is skipped but counted). */
static const char WL1[] =
    "{\"MediaContainer\":{\"size\":3,\"totalSize\":4,\"offset\":0,"
    "\"identifier\":\"tv.plex.provider.discover\",\"Metadata\":["
    "{\"ratingKey\":\"5d776a8b9ab544002150d2f3\","
    "\"key\":\"/library/metadata/5d776a8b9ab544002150d2f3\","
    "\"guid\":\"plex://movie/5d776a8b9ab544002150d2f3\",\"type\":\"movie\","
    "\"title\":\"Arrival\",\"year\":2016,\"watchlistedAt\":1719000000},"
    "{\"ratingKey\":\"5e1632df2d4d84003e48e54e\",\"type\":\"collection\","
    "\"title\":\"Trilogy\"},"
    "{\"ratingKey\":\"5d9c086fe9d5a1001f4d5a4e\","
    "\"guid\":\"plex://show/5d9c086fe9d5a1001f4d5a4e\",\"type\":\"show\","
    "\"title\":\"Severance\",\"year\":\"2022\",\"addedAt\":\"1719100000\"}"
    "]}}";

static const char ARRIVAL_META[] =
    "{\"MediaContainer\":{\"size\":1,\"Metadata\":[{"
    "\"ratingKey\":\"5d776a8b9ab544002150d2f3\","
    "\"guid\":\"plex://movie/5d776a8b9ab544002150d2f3\",\"type\":\"movie\","
    "\"title\":\"Arrival\",\"year\":2016,\"Guid\":["
    "{\"id\":\"imdb://tt2543164\"},{\"id\":\"tmdb://329865\"},"
    "{\"id\":\"tvdb://169\"}]}]}}";

static const char SEVERANCE_META[] =
    "{\"MediaContainer\":{\"size\":1,\"Metadata\":[{"
    "\"ratingKey\":\"5d9c086fe9d5a1001f4d5a4e\","
    "\"guid\":\"plex://show/5d9c086fe9d5a1001f4d5a4e\",\"type\":\"show\","
    "\"title\":\"Severance\",\"year\":2022,\"Guid\":["
    "{\"id\":\"imdb://tt11280740\"},{\"id\":\"tmdb://95396\"},"
    "{\"id\":\"tvdb://371980\"}]}]}}";

/* Page 2: the last row, no guid, a title that needs escaping. */
static const char WL2[] =
    "{\"MediaContainer\":{\"size\":1,\"totalSize\":4,\"offset\":3,"
    "\"Metadata\":[{\"ratingKey\":\"5f0c5b6a2f8c3a0041b1a2c3\","
    "\"type\":\"movie\",\"title\":\"Am\xc3\xa9lie: 100%; a, b=c\","
    "\"year\":2001}]}}";

static const struct step_spec watchlist_script[] = {
    {WL_URL "0" WL_SIZE, 200, WL1, NULL, 0},
    {META "/library/metadata/5d776a8b9ab544002150d2f3?includeGuids=1", 200,
     ARRIVAL_META, NULL, 1},
    {META "/library/metadata/5d9c086fe9d5a1001f4d5a4e?includeGuids=1", 200,
     SEVERANCE_META, NULL, 1},
    {WL_URL "3" WL_SIZE, 200, WL2, NULL, 0},
    {META "/library/metadata/5f0c5b6a2f8c3a0041b1a2c3?includeGuids=1", 404,
     "{\"errors\":[{\"code\":404,\"message\":\"Not Found\"}]}", NULL, 1},
};

static void
test_watchlist_chain(void **state)
{
    void *ctx = mk_ctx();
    struct collected all;
    const struct adapter_entry *e;

    (void)state;
    run_script(ctx, ADAPTER_WATCHLIST, false, 0, NULL, watchlist_script,
               N_ELEMS(watchlist_script), &all);
    assert_int_equal(all.n, 3);

    e = find_guid(&all, "plex://movie/5d776a8b9ab544002150d2f3");
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Arrival");
    assert_int_equal(e->item.year, 2016);
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt2543164");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "329865");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "169");
    /* Discover's id is no ratingKey of the server. */
    assert_id(&e->item.ids, ITEM_ID_PLEX, NULL);
    assert_int_equal(e->listed_at, 1719000000);
    assert_false(e->library_only);

    e = find_guid(&all, "plex://show/5d9c086fe9d5a1001f4d5a4e");
    assert_int_equal(e->item.type, ITEM_SHOW);
    assert_string_equal(e->item.title, "Severance");
    assert_int_equal(e->item.year, 2022);
    assert_id(&e->item.ids, ITEM_ID_IMDB, "tt11280740");
    assert_id(&e->item.ids, ITEM_ID_TMDB, "95396");
    assert_id(&e->item.ids, ITEM_ID_TVDB, "371980");
    assert_int_equal(e->listed_at, 1719100000);

    /* The lookup 404ed: only its guid (made from the ratingKey). */
    e = find_guid(&all, "plex://movie/5f0c5b6a2f8c3a0041b1a2c3");
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Am\xc3\xa9lie: 100%; a, b=c");
    assert_int_equal(e->item.year, 2001);
    assert_id(&e->item.ids, ITEM_ID_IMDB, NULL);
    assert_id(&e->item.ids, ITEM_ID_TMDB, NULL);
    assert_int_equal(e->listed_at, 0);
    collected_release(&all);
    A->free(ctx);
}

static void
test_watchlist_incomplete_and_errors(void **state)
{
    void *ctx = mk_ctx();
    struct adapter_page pg;
    char err[256] = "", *cursor;

    (void)state;
    /* An empty watchlist is complete. */
    assert_int_equal(step(ctx, ADAPTER_WATCHLIST, false, 0, NULL,
                          WL_URL "0" WL_SIZE, 200,
                          "{\"MediaContainer\":{\"size\":0,\"totalSize\":0}}",
                          NULL, &pg, err, sizeof(err)),
                     0);
    assert_int_equal(pg.n, 0);
    assert_null(pg.next_cursor);
    adapter_page_release(&pg);
    /* 1 of 5, then the lookup, then an empty page: incomplete. */
    assert_int_equal(
        step(ctx, ADAPTER_WATCHLIST, false, 0, NULL, WL_URL "0" WL_SIZE, 200,
             "{\"MediaContainer\":{\"size\":1,\"totalSize\":5,\"Metadata\":["
             "{\"ratingKey\":\"abc\",\"guid\":\"plex://show/abc\","
             "\"type\":\"show\",\"title\":\"S\"}]}}",
             NULL, &pg, err, sizeof(err)),
        0);
    cursor = xstrdup(pg.next_cursor);
    adapter_page_release(&pg);
    /* A lookup that fails otherwise than 404 fails the read. */
    assert_int_equal(step(ctx, ADAPTER_WATCHLIST, false, 0, cursor,
                          META "/library/metadata/abc?includeGuids=1", 500,
                          "oops", NULL, &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "http 500"));
    /* An empty MediaContainer: the row keeps its guid. */
    assert_int_equal(step(ctx, ADAPTER_WATCHLIST, false, 0, cursor,
                          META "/library/metadata/abc?includeGuids=1", 200,
                          "{\"MediaContainer\":{\"size\":0}}", NULL, &pg, err,
                          sizeof(err)),
                     0);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.rows[0].item.type, ITEM_SHOW);
    assert_string_equal(pg.rows[0].item.ids.v[ITEM_ID_GUID], "plex://show/abc");
    free(cursor);
    cursor = xstrdup(pg.next_cursor);
    adapter_page_release(&pg);
    assert_int_equal(step(ctx, ADAPTER_WATCHLIST, false, 0, cursor,
                          WL_URL "1" WL_SIZE, 200,
                          "{\"MediaContainer\":{\"size\":0,\"totalSize\":5}}",
                          NULL, &pg, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "incomplete read"));
    free(cursor);
    A->free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_requires_keys),
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_vtable),
        cmocka_unit_test(test_build_table),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_index_history),
        cmocka_unit_test(test_index_ratings),
        cmocka_unit_test(test_delta_history),
        cmocka_unit_test(test_delta_ratings),
        cmocka_unit_test(test_delta_small_since),
        cmocka_unit_test(test_index_paging_and_incomplete),
        cmocka_unit_test(test_index_no_sections),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_unsupported_reads),
        cmocka_unit_test(test_watchlist_chain),
        cmocka_unit_test(test_watchlist_incomplete_and_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
