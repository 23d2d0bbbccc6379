/*
 * test_trakt: the Trakt adapter (PROVIDERS.md B1, SYNC.md 3.5, 4.3-4.5):
 * request building (method, URL, headers, exact bodies), classification of
 * every row of SYNC.md 4.3 with per-item not_found attribution, token
 * refresh, the history check and the device flow. No reason may carry a
 * secret.
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

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define ACCESS  "ACCESS-tok-1234567890"
#define REFRESH "REFRESH-tok-0987654321"
#define SECRET  "csecret-abcdef"
#define BASE    "http://127.0.0.1:9/trakt"
#define T0      1740948430 /* 2025-03-02T20:47:10Z */
#define T0_ISO  "2025-03-02T20:47:10.000Z"

static const struct adapter_ops *A = &adapter_trakt;

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

struct op_spec {
    enum op_kind kind;
    enum item_type type;
    const char *ids;
    const char *show_ids;
    int season, episode;
    const char *title;
    int year;
};

static struct op *
mk(enum op_kind kind, enum item_type type, const char *ids,
   const char *show_ids, int season, int episode)
{
    struct op *op = xmalloc(sizeof(*op));

    op_init(op);
    op->kind = kind;
    op->target = xstrdup("trakt");
    op->item.type = type;
    set_ids(&op->item.ids, ids);
    set_ids(&op->item.show_ids, show_ids);
    op->item.season = season;
    op->item.episode = episode;
    op_finish(op);
    return op;
}

static struct op *
mk_movie(enum op_kind kind, const char *ids)
{
    return mk(kind, ITEM_MOVIE, ids, NULL, -1, -1);
}

static struct op *
mk_ep(enum op_kind kind, const char *show_ids, int s, int e)
{
    return mk(kind, ITEM_EPISODE, NULL, show_ids, s, e);
}

static void
free_ops(struct op **ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        op_release(ops[i]);
        free(ops[i]);
    }
}

static struct provider_conf *
mk_conf(const char *base, const char *auth)
{
    struct provider_conf *c = xcalloc(1, sizeof(*c));

    c->present = true;
    c->base_url = base ? xstrdup(base) : NULL;
    c->auth_url = auth ? xstrdup(auth) : NULL;
    c->client_id = xstrdup("cid");
    c->client_secret = xstrdup(SECRET);
    c->access_token = xstrdup(ACCESS);
    c->refresh_token = xstrdup(REFRESH);
    return c;
}

static void
free_conf(struct provider_conf *c)
{
    free(c->base_url);
    free(c->auth_url);
    free(c->client_id);
    free(c->client_secret);
    free(c->access_token);
    free(c->refresh_token);
    free(c);
}

static void *
mk_ctx(void)
{
    struct provider_conf *c = mk_conf(BASE "/", NULL);
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
assert_trakt_headers(const struct http_request *req, const char *token)
{
    char auth[256];

    assert_true(has_header(req, "Content-Type: application/json"));
    assert_true(has_header(req, "trakt-api-key: cid"));
    assert_true(has_header(req, "trakt-api-version: 2"));
    assert_true(has_header(req, "User-Agent: watchrelay/0.1.0"));
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        assert_true(has_header(req, auth));
    } else {
        for (size_t i = 0; i < req->n_headers; i++)
            assert_null(strstr(req->headers[i], "Authorization"));
    }
}

static void
assert_no_secrets(const char *s)
{
    assert_null(strstr(s, ACCESS));
    assert_null(strstr(s, REFRESH));
    assert_null(strstr(s, SECRET));
}

/* ---- init ------------------------------------------------------------- */

static void
test_init_requires_client_id(void **state)
{
    struct provider_conf *c = mk_conf(NULL, NULL);
    char err[256] = "";

    (void)state;
    assert_null(A->init(NULL, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.trakt.client_id"));
    free(c->client_id);
    c->client_id = NULL;
    err[0] = '\0';
    assert_null(A->init(c, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.trakt.client_id"));
    free_conf(c);
}

static void
test_init_defaults_and_saved_tokens(void **state)
{
    struct provider_conf *c = mk_conf(NULL, NULL);
    char sa[] = "SAVED-A", sr[] = "SAVED-R";
    struct adapter_tokens saved = {
        .access_token = sa, .refresh_token = sr, .expires_at = 5};
    struct op *op = mk_movie(OP_SCROBBLE_START, "tmdb=1");
    const struct op *ops[] = {op};
    struct http_request req;
    char err[256] = "";
    void *ctx = A->init(c, &saved, "/tmp", err, sizeof(err));

    (void)state;
    assert_non_null(ctx);
    http_request_init(&req);
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), 0);
    assert_string_equal(req.url, "https://api.trakt.tv/scrobble/start");
    assert_trakt_headers(&req, "SAVED-A");
    http_request_release(&req);
    /* The refresh goes to the API host by default, with the saved token. */
    http_request_init(&req);
    assert_int_equal(A->build_refresh(ctx, &req, err, sizeof(err)), 0);
    assert_string_equal(req.url, "https://api.trakt.tv/oauth/token");
    assert_non_null(strstr(req.body, "\"refresh_token\":\"SAVED-R\""));
    http_request_release(&req);
    A->free(ctx);
    /* auth_url configured: OAuth goes there, trailing '/' stripped. */
    free_conf(c);
    c = mk_conf("http://fake:1/api//", "http://fake:1/auth/");
    ctx = A->init(c, NULL, "/tmp", err, sizeof(err));
    assert_non_null(ctx);
    http_request_init(&req);
    assert_int_equal(A->build_refresh(ctx, &req, err, sizeof(err)), 0);
    assert_string_equal(req.url, "http://fake:1/auth/oauth/token");
    http_request_release(&req);
    http_request_init(&req);
    assert_int_equal(A->build(ctx, ops, 1, &req, err, sizeof(err)), 0);
    assert_string_equal(req.url, "http://fake:1/api/scrobble/start");
    assert_trakt_headers(&req, ACCESS);
    http_request_release(&req);
    A->free(ctx);
    free_conf(c);
    free_ops(&op, 1);
}

static void
test_vtable(void **state)
{
    (void)state;
    assert_string_equal(A->name, "trakt");
    assert_true(A->scrobble_api);
    assert_int_equal(A->max_batch, 100);
    assert_true(A->kinds & OP_BIT(OP_SCROBBLE_START));
    assert_true(A->kinds & OP_BIT(OP_SCROBBLE_PAUSE));
    assert_true(A->kinds & OP_BIT(OP_SCROBBLE_STOP));
    assert_true(A->kinds & OP_BIT(OP_WATCHLIST_REMOVE));
    assert_false(A->kinds & OP_BIT(OP_PROGRESS_SET));
    assert_false(A->batch_kinds & OP_SCROBBLE_KINDS);
    assert_true(A->batch_kinds & OP_BIT(OP_HISTORY_ADD));
    assert_true(A->batch_kinds & OP_BIT(OP_RATING_CLEAR));
    assert_true(A->batch_kinds & OP_BIT(OP_WATCHLIST_ADD));
    assert_int_equal(A->limits.write_interval_ms, 1000);
    assert_int_equal(A->limits.write_inflight, 1);
    assert_int_equal(A->limits.read_per_window, 1000);
    assert_int_equal(A->limits.read_window_s, 300);
    assert_non_null(A->build_refresh);
    assert_non_null(A->build_history_check);
    assert_null(A->apply);
}

/* ---- build ------------------------------------------------------------ */

struct build_case {
    const char *name;
    enum op_kind kind;
    struct op_spec items[5];
    size_t n;
    int64_t watched_at;
    int rating;
    int64_t rated_at;
    double progress;
    const char *url;
    const char *body;
};

#define MOVIE(ids)                                \
    {                                             \
        0, ITEM_MOVIE, ids, NULL, -1, -1, NULL, 0 \
    }
#define SHOW(ids)                                \
    {                                            \
        0, ITEM_SHOW, ids, NULL, -1, -1, NULL, 0 \
    }
#define EP(show, s, e)                             \
    {                                              \
        0, ITEM_EPISODE, NULL, show, s, e, NULL, 0 \
    }
#define EP_OWN(ids)                                 \
    {                                               \
        0, ITEM_EPISODE, ids, NULL, -1, -1, NULL, 0 \
    }
#define EP_BOTH(ids, show, s, e)                  \
    {                                             \
        0, ITEM_EPISODE, ids, show, s, e, NULL, 0 \
    }
#define SEASON(show, s)                            \
    {                                              \
        0, ITEM_SEASON, NULL, show, s, -1, NULL, 0 \
    }
#define SEASON_OWN(ids)                            \
    {                                              \
        0, ITEM_SEASON, ids, NULL, -1, -1, NULL, 0 \
    }

static const struct build_case build_cases[] = {
    {"scrobble movie",
     OP_SCROBBLE_START,
     {MOVIE("tmdb=329865")},
     1,
     0,
     0,
     0,
     1.25,
     BASE "/scrobble/start",
     "{\"movie\":{\"ids\":{\"tmdb\":329865}},\"progress\":1.25}"},
    {"scrobble ids order, foreign ids dropped",
     OP_SCROBBLE_PAUSE,
     {MOVIE("plex=123;tmdb=329865;imdb=tt2543164;trakt=203537;simkl=5;"
            "slug=arrival-2016")},
     1,
     0,
     0,
     0,
     45.678,
     BASE "/scrobble/pause",
     "{\"movie\":{\"ids\":{\"trakt\":203537,\"imdb\":\"tt2543164\","
     "\"tmdb\":329865}},\"progress\":45.68}"},
    {"scrobble slug as last resort",
     OP_SCROBBLE_START,
     {MOVIE("slug=arrival-2016;plex=9")},
     1,
     0,
     0,
     0,
     0,
     BASE "/scrobble/start",
     "{\"movie\":{\"ids\":{\"slug\":\"arrival-2016\"}},\"progress\":0}"},
    {"scrobble episode under its show",
     OP_SCROBBLE_STOP,
     {EP_BOTH("tvdb=8603573", "tvdb=371980;plex=77", 1, 1)},
     1,
     0,
     0,
     0,
     97.3,
     BASE "/scrobble/stop",
     "{\"show\":{\"ids\":{\"tvdb\":371980}},\"episode\":{\"season\":1,"
     "\"number\":1},\"progress\":97.3}"},
    {"scrobble episode by its own ids",
     OP_SCROBBLE_STOP,
     {EP_BOTH("trakt=5123456", "guid=plex://show/abc", 1, 1)},
     1,
     0,
     0,
     0,
     90,
     BASE "/scrobble/stop",
     "{\"episode\":{\"ids\":{\"trakt\":5123456}},\"progress\":90}"},
    {"scrobble progress clamped",
     OP_SCROBBLE_STOP,
     {MOVIE("imdb=tt1")},
     1,
     0,
     0,
     0,
     100.004,
     BASE "/scrobble/stop",
     "{\"movie\":{\"ids\":{\"imdb\":\"tt1\"}},\"progress\":100}"},
    {"history add batch grouped by show",
     OP_HISTORY_ADD,
     {MOVIE("imdb=tt2543164"), EP("tvdb=371980", 1, 1),
      EP("tvdb=371980;tmdb=95396", 1, 2), EP("tmdb=95396", 2, 1),
      EP_OWN("tvdb=8603573")},
     5,
     T0,
     0,
     0,
     -1,
     BASE "/sync/history",
     "{\"movies\":[{\"ids\":{\"imdb\":\"tt2543164\"},\"watched_at\":\"" T0_ISO
     "\"}],\"shows\":[{\"ids\":{\"tvdb\":371980},\"seasons\":[{\"number\":1,"
     "\"episodes\":[{\"number\":1,\"watched_at\":\"" T0_ISO
     "\"},{\"number\":2,\"watched_at\":\"" T0_ISO
     "\"}]},{\"number\":2,\"episodes\":[{\"number\":1,\"watched_at\":\"" T0_ISO
     "\"}]}]}],\"episodes\":[{\"ids\":{\"tvdb\":8603573},\"watched_at\":"
     "\"" T0_ISO "\"}]}"},
    {"history add of a show and a season",
     OP_HISTORY_ADD,
     {SHOW("tmdb=1399"), SEASON("tvdb=121361", 3)},
     2,
     T0,
     0,
     0,
     -1,
     BASE "/sync/history",
     "{\"shows\":[{\"ids\":{\"tmdb\":1399},\"watched_at\":\"" T0_ISO
     "\"},{\"ids\":{\"tvdb\":121361},\"seasons\":[{\"number\":3,"
     "\"watched_at\":\"" T0_ISO "\"}]}]}"},
    {"history remove drops every play",
     OP_HISTORY_REMOVE,
     {MOVIE("tmdb=329865"), EP("tvdb=371980", 1, 1)},
     2,
     T0,
     0,
     0,
     -1,
     BASE "/sync/history/remove",
     "{\"movies\":[{\"ids\":{\"tmdb\":329865}}],\"shows\":[{\"ids\":{\"tvdb\":"
     "371980},\"seasons\":[{\"number\":1,\"episodes\":[{\"number\":1}]}]}]}"},
    {"ratings with rated_at",
     OP_RATING_SET,
     {MOVIE("tmdb=329865"), SHOW("tvdb=371980"), SEASON("tvdb=81189", 2),
      EP("tvdb=81189", 2, 7)},
     4,
     0,
     8,
     T0,
     -1,
     BASE "/sync/ratings",
     "{\"movies\":[{\"ids\":{\"tmdb\":329865},\"rating\":8,\"rated_at\":\"" T0_ISO
     "\"}],\"shows\":[{\"ids\":{\"tvdb\":371980},\"rating\":8,\"rated_at\":"
     "\"" T0_ISO "\"},{\"ids\":{\"tvdb\":81189},\"seasons\":[{\"number\":2,"
     "\"rating\":8,\"rated_at\":\"" T0_ISO "\"},{\"number\":2,\"episodes\":[{"
     "\"number\":7,\"rating\":8,\"rated_at\":\"" T0_ISO "\"}]}]}]}"},
    {"rating without rated_at",
     OP_RATING_SET,
     {MOVIE("imdb=tt0133093")},
     1,
     0,
     10,
     0,
     -1,
     BASE "/sync/ratings",
     "{\"movies\":[{\"ids\":{\"imdb\":\"tt0133093\"},\"rating\":10}]}"},
    {"rating clear",
     OP_RATING_CLEAR,
     {MOVIE("tmdb=603"), SHOW("imdb=tt0903747")},
     2,
     0,
     0,
     0,
     -1,
     BASE "/sync/ratings/remove",
     "{\"movies\":[{\"ids\":{\"tmdb\":603}}],\"shows\":[{\"ids\":{\"imdb\":"
     "\"tt0903747\"}}]}"},
    {"watchlist add",
     OP_WATCHLIST_ADD,
     {MOVIE("tmdb=603"), SHOW("tvdb=81189"), SEASON_OWN("tvdb=30272"),
      EP_OWN("trakt=62085")},
     4,
     0,
     0,
     0,
     -1,
     BASE "/sync/watchlist",
     "{\"movies\":[{\"ids\":{\"tmdb\":603}}],\"shows\":[{\"ids\":{\"tvdb\":"
     "81189}}],\"seasons\":[{\"ids\":{\"tvdb\":30272}}],\"episodes\":[{"
     "\"ids\":{\"trakt\":62085}}]}"},
    {"watchlist remove",
     OP_WATCHLIST_REMOVE,
     {MOVIE("tmdb=603")},
     1,
     0,
     0,
     0,
     -1,
     BASE "/sync/watchlist/remove",
     "{\"movies\":[{\"ids\":{\"tmdb\":603}}]}"},
};

static void
test_build_table(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t c = 0; c < N_ELEMS(build_cases); c++) {
        const struct build_case *bc = &build_cases[c];
        struct op *ops[5];
        struct http_request req;
        char err[256] = "";

        for (size_t i = 0; i < bc->n; i++) {
            const struct op_spec *s = &bc->items[i];

            ops[i] = mk(bc->kind, s->type, s->ids, s->show_ids, s->season,
                        s->episode);
            ops[i]->watched_at = bc->watched_at;
            ops[i]->rating = bc->rating;
            ops[i]->rated_at = bc->rated_at;
            ops[i]->progress = bc->progress;
        }
        http_request_init(&req);
        if (A->build(ctx, (const struct op *const *)ops, bc->n, &req, err,
                     sizeof(err)) != 0)
            fail_msg("%s: build failed: %s", bc->name, err);
        assert_int_equal(req.method, HTTP_POST);
        assert_int_equal(req.rate_class, HTTP_CLASS_WRITE);
        assert_string_equal(req.url, bc->url);
        assert_trakt_headers(&req, ACCESS);
        assert_non_null(req.body);
        assert_int_equal(req.body_len, strlen(req.body));
        if (strcmp(req.body, bc->body) != 0)
            fail_msg("%s:\n got  %s\n want %s", bc->name, req.body, bc->body);
        http_request_release(&req);
        free_ops(ops, bc->n);
    }
    A->free(ctx);
}

static void
test_build_refusals(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    char err[256];
    struct op *op;
    struct op *two[2];

    (void)state;
    /* No id Trakt can match. */
    op = mk_movie(OP_HISTORY_ADD, "plex=123;jellyfin=abc");
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        -1);
    assert_string_equal(err, "no id Trakt can match");
    assert_null(req.url);
    free_ops(&op, 1);
    /* A season known only by its show's plex guid. */
    op = mk(OP_WATCHLIST_ADD, ITEM_SEASON, NULL, "guid=plex://show/x", 1, -1);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        -1);
    assert_string_equal(err, "no id Trakt can match");
    free_ops(&op, 1);
    /* progress_set is not a Trakt operation. */
    op = mk_movie(OP_PROGRESS_SET, "tmdb=1");
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "progress_set"));
    free_ops(&op, 1);
    /* A show cannot be scrobbled; a rating must be 1-10. */
    op = mk(OP_SCROBBLE_START, ITEM_SHOW, "tvdb=1", NULL, -1, -1);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        -1);
    free_ops(&op, 1);
    op = mk_movie(OP_RATING_SET, "tmdb=1");
    op->rating = 11;
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "invalid"));
    free_ops(&op, 1);
    /* Scrobbles are never batched; a batch holds one kind. */
    two[0] = mk_movie(OP_SCROBBLE_START, "tmdb=1");
    two[1] = mk_movie(OP_SCROBBLE_START, "tmdb=2");
    assert_int_equal(
        A->build(ctx, (const struct op *const *)two, 2, &req, err, sizeof(err)),
        -1);
    free_ops(two, 2);
    two[0] = mk_movie(OP_HISTORY_ADD, "tmdb=1");
    two[1] = mk_movie(OP_WATCHLIST_ADD, "tmdb=2");
    assert_int_equal(
        A->build(ctx, (const struct op *const *)two, 2, &req, err, sizeof(err)),
        -1);
    free_ops(two, 2);
    http_request_release(&req);
    A->free(ctx);
}

/* One op Trakt cannot identify is left out of its batch and judged
 * permanent; the others go. */
static void
test_build_skips_unusable(void **state)
{
    void *ctx = mk_ctx();
    struct op *ops[3];
    struct adapter_result res[3];
    struct http_request req;
    struct http_response resp;
    char err[256];

    (void)state;
    ops[0] = mk_movie(OP_WATCHLIST_ADD, "tmdb=1");
    ops[1] = mk_movie(OP_WATCHLIST_ADD, "plex=42");
    ops[2] = mk_movie(OP_WATCHLIST_ADD, "tmdb=3");
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)ops, 3, &req, err, sizeof(err)),
        0);
    assert_string_equal(req.body,
                        "{\"movies\":[{\"ids\":{\"tmdb\":1}},{\"ids\":{"
                        "\"tmdb\":3}}]}");
    mk_resp(&resp, 201, "{\"added\":{\"movies\":2}}", NULL);
    A->classify(ctx, (const struct op *const *)ops, 3, &resp, res);
    assert_int_equal(res[0].outcome, ADAPTER_DONE);
    assert_string_equal(res[0].reason, "");
    assert_int_equal(res[1].outcome, ADAPTER_PERMANENT);
    assert_string_equal(res[1].reason, "no id Trakt can match");
    assert_int_equal(res[2].outcome, ADAPTER_DONE);
    assert_string_equal(res[2].reason, "");
    /* Even a 429 does not save it. */
    http_response_release(&resp);
    mk_resp(&resp, 429, NULL, "Retry-After: 3");
    A->classify(ctx, (const struct op *const *)ops, 3, &resp, res);
    assert_int_equal(res[0].outcome, ADAPTER_RATE);
    assert_int_equal(res[1].outcome, ADAPTER_PERMANENT);
    http_response_release(&resp);
    http_request_release(&req);
    free_ops(ops, 3);
    A->free(ctx);
}

/* ---- classification (SYNC.md 4.3) -------------------------------------- */

struct class_case {
    const char *name;
    enum op_kind kind;
    long status;
    const char *headers;
    const char *body;
    enum adapter_outcome outcome;
    int64_t retry_ms;   /* -1: not checked */
    const char *reason; /* substring; NULL: must be empty */
};

static const struct class_case class_cases[] = {
    {"201 add", OP_HISTORY_ADD, 201, NULL,
     "{\"added\":{\"movies\":1,\"episodes\":0},\"not_found\":{\"movies\":[],"
     "\"shows\":[],\"seasons\":[],\"episodes\":[],\"ids\":[]}}",
     ADAPTER_DONE, 0, NULL},
    {"200 add (ts contract)", OP_HISTORY_ADD, 200, NULL,
     "{\"added\":{\"movies\":1,\"episodes\":0}}", ADAPTER_DONE, 0, NULL},
    {"201 scrobble", OP_SCROBBLE_START, 201, NULL,
     "{\"id\":0,\"action\":\"start\",\"progress\":1.25}", ADAPTER_DONE, 0,
     NULL},
    {"204", OP_SCROBBLE_PAUSE, 204, NULL, NULL, ADAPTER_DONE, 0, NULL},
    {"304", OP_SCROBBLE_PAUSE, 304, NULL, NULL, ADAPTER_DONE, 0, NULL},
    {"409 scrobble is success", OP_SCROBBLE_STOP, 409, NULL,
     "{\"watched_at\":\"2025-03-02T20:47:10.000Z\",\"expires_at\":\"2025-03-"
     "02T21:47:10.000Z\"}",
     ADAPTER_DONE, 0, NULL},
    {"409 add", OP_WATCHLIST_ADD, 409, NULL, NULL, ADAPTER_DONE, 0, NULL},
    {"2xx with existing", OP_WATCHLIST_ADD, 201, NULL,
     "{\"added\":{\"movies\":0},\"existing\":{\"movies\":1}}", ADAPTER_DONE, 0,
     NULL},
    {"404 on add", OP_HISTORY_ADD, 404, NULL, NULL, ADAPTER_PERMANENT, 0,
     "not_found: Trakt does not know Arrival (2016) [movie:tmdb:329865]"},
    {"404 on scrobble", OP_SCROBBLE_START, 404, NULL, NULL, ADAPTER_PERMANENT,
     0, "not_found: Trakt does not know"},
    {"404 on history remove", OP_HISTORY_REMOVE, 404, NULL, NULL, ADAPTER_DONE,
     0, NULL},
    {"404 on watchlist remove", OP_WATCHLIST_REMOVE, 404, NULL, NULL,
     ADAPTER_DONE, 0, NULL},
    {"404 on rating clear", OP_RATING_CLEAR, 404, NULL, NULL, ADAPTER_DONE, 0,
     NULL},
    {"400 json", OP_HISTORY_ADD, 400, NULL,
     "{\"error\":\"bad_request\",\"error_description\":\"ids are missing\"}",
     ADAPTER_PERMANENT, 0, "invalid: bad_request: ids are missing"},
    {"422 text, token echoed", OP_SCROBBLE_STOP, 422, NULL,
     "progress must be >= 1 (Bearer " ACCESS ")", ADAPTER_PERMANENT, 0,
     "invalid: progress must be >= 1 (Bearer [redacted])"},
    {"400 long body truncated", OP_HISTORY_ADD, 400, NULL,
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "yy" REFRESH,
     ADAPTER_PERMANENT, 0, "..."},
    {"401 refresh", OP_HISTORY_ADD, 401, NULL, NULL, ADAPTER_REFRESH, 0, NULL},
    {"403 pause", OP_HISTORY_ADD, 403, NULL, "forbidden", ADAPTER_PAUSE, 0,
     "forbidden"},
    {"423 pause", OP_HISTORY_ADD, 423, "X-Account-Locked: true", NULL,
     ADAPTER_PAUSE, 0, "locked=true"},
    {"412 is ours (content type)", OP_HISTORY_ADD, 412, NULL, NULL,
     ADAPTER_PERMANENT, 0, "invalid"},
    {"420 account limit", OP_WATCHLIST_ADD, 420,
     "X-Upgrade-URL: https://trakt.tv/vip\nX-VIP-User: false\nX-Account-Limit: "
     "250",
     NULL, ADAPTER_PERMANENT, 0,
     "account_limit: Trakt account limit reached "
     "(X-Account-Limit: 250)"},
    {"420 header value escaped and redacted", OP_WATCHLIST_ADD, 420,
     "X-Account-Limit: \"" ACCESS, NULL, ADAPTER_PERMANENT, 0,
     "(X-Account-Limit: \\x22[redacted])"},
    {"423 header values escaped", OP_HISTORY_ADD, 423,
     "X-Account-Locked: a\"b\x01\nX-Account-Deactivated: " SECRET, NULL,
     ADAPTER_PAUSE, 0, "locked=a\\x22b\\x01, deactivated=[redacted])"},
    {"an escape completes no secret", OP_HISTORY_ADD, 400, NULL,
     "\x0c"
     "secret-abcdef",
     ADAPTER_PERMANENT, 0, "invalid: \\x0[redacted]"},
    {"426 vip", OP_WATCHLIST_ADD, 426, "X-Upgrade-URL: https://trakt.tv/vip",
     NULL, ADAPTER_PERMANENT, 0, "vip_only"},
    {"429 Retry-After", OP_SCROBBLE_START, 429,
     "Retry-After: 7\nX-Ratelimit: {\"name\":\"AUTHED_API_POST_LIMIT\","
     "\"period\":1,\"limit\":1,\"remaining\":0,\"until\":"
     "\"2020-10-10T00:24:00Z\"}",
     NULL, ADAPTER_RATE, 7000, NULL},
    {"429 bare", OP_HISTORY_ADD, 429, NULL, NULL, ADAPTER_RATE, 1000, NULL},
    {"429 past until", OP_HISTORY_ADD, 429,
     "X-Ratelimit: {\"until\":\"2020-10-10T00:24:00Z\"}", NULL, ADAPTER_RATE,
     1000, NULL},
    {"500", OP_HISTORY_ADD, 500, NULL, "oops", ADAPTER_RETRY, 0, "http 500"},
    {"502 retry in 30 s", OP_HISTORY_ADD, 502, NULL, NULL, ADAPTER_RETRY, 30000,
     NULL},
    {"503 Retry-After", OP_HISTORY_ADD, 503, "Retry-After: 12", NULL,
     ADAPTER_RETRY, 12000, NULL},
    {"504", OP_SCROBBLE_STOP, 504, NULL, NULL, ADAPTER_RETRY, 30000, NULL},
    {"520", OP_HISTORY_ADD, 520, NULL, NULL, ADAPTER_RETRY, 0, NULL},
    {"521", OP_HISTORY_ADD, 521, NULL, NULL, ADAPTER_RETRY, 0, NULL},
    {"522", OP_HISTORY_ADD, 522, NULL, NULL, ADAPTER_RETRY, 0, NULL},
    {"transport", OP_HISTORY_ADD, 0, NULL,
     "Failed to connect: Connection refused", ADAPTER_RETRY, 0,
     "transport: Failed to connect: Connection refused"},
    {"transport, token in the error", OP_SCROBBLE_START, 0, NULL,
     "timeout with " ACCESS, ADAPTER_RETRY, 0, "[redacted]"},
    {"405", OP_HISTORY_ADD, 405, NULL, NULL, ADAPTER_PERMANENT, 0, "http 405"},
};

static void
test_classify_table(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t c = 0; c < N_ELEMS(class_cases); c++) {
        const struct class_case *cc = &class_cases[c];
        struct op *op = mk_movie(cc->kind, "tmdb=329865");
        struct http_response resp;
        struct adapter_result res;

        free(op->item.title);
        op->item.title = xstrdup("Arrival");
        op->item.year = 2016;
        op->progress = 90;
        mk_resp(&resp, cc->status, cc->body, cc->headers);
        memset(&res, 0x5a, sizeof(res));
        A->classify(ctx, (const struct op *const *)&op, 1, &resp, &res);
        if (res.outcome != cc->outcome)
            fail_msg("%s: outcome %s, want %s (%s)", cc->name,
                     adapter_outcome_name(res.outcome),
                     adapter_outcome_name(cc->outcome), res.reason);
        if (cc->retry_ms >= 0 && res.retry_after_ms != cc->retry_ms)
            fail_msg("%s: retry_after_ms %lld, want %lld", cc->name,
                     (long long)res.retry_after_ms, (long long)cc->retry_ms);
        assert_non_null(memchr(res.reason, '\0', sizeof(res.reason)));
        if (cc->outcome == ADAPTER_PERMANENT || cc->outcome == ADAPTER_PAUSE)
            assert_true(res.reason[0] != '\0');
        if (cc->reason != NULL && strstr(res.reason, cc->reason) == NULL)
            fail_msg("%s: reason \"%s\" lacks \"%s\"", cc->name, res.reason,
                     cc->reason);
        if (cc->reason == NULL && cc->outcome == ADAPTER_DONE &&
            res.reason[0] != '\0')
            fail_msg("%s: unexpected reason \"%s\"", cc->name, res.reason);
        assert_no_secrets(res.reason);
        http_response_release(&resp);
        free_ops(&op, 1);
    }
    A->free(ctx);
}

static void
test_classify_ratelimit_until(void **state)
{
    void *ctx = mk_ctx();
    struct op *op = mk_movie(OP_HISTORY_ADD, "tmdb=1");
    struct http_response resp;
    struct adapter_result res;
    char hdr[256], when[WR_TIME_BUF];

    (void)state;
    wr_time_format(wr_now() + 20, when);
    snprintf(hdr, sizeof(hdr),
             "X-Ratelimit: {\"name\":\"AUTHED_API_POST_LIMIT\",\"period\":300,"
             "\"limit\":1000,\"remaining\":0,\"until\":\"%s\"}",
             when);
    mk_resp(&resp, 429, NULL, hdr);
    A->classify(ctx, (const struct op *const *)&op, 1, &resp, &res);
    assert_int_equal(res.outcome, ADAPTER_RATE);
    assert_in_range(res.retry_after_ms, 18000, 21000);
    http_response_release(&resp);
    free_ops(&op, 1);
    A->free(ctx);
}

/* Without a refresh token a 401 cannot be helped: pause the target. */
static void
test_classify_401_without_refresh(void **state)
{
    struct provider_conf *c = mk_conf(BASE, NULL);
    struct op *op = mk_movie(OP_HISTORY_ADD, "tmdb=1");
    struct http_response resp;
    struct adapter_result res;
    char err[256];
    void *ctx;

    (void)state;
    free(c->refresh_token);
    c->refresh_token = NULL;
    ctx = A->init(c, NULL, "/tmp", err, sizeof(err));
    assert_non_null(ctx);
    mk_resp(&resp, 401, "{\"error\":\"invalid_token\"}", NULL);
    A->classify(ctx, (const struct op *const *)&op, 1, &resp, &res);
    assert_int_equal(res.outcome, ADAPTER_PAUSE);
    assert_non_null(
        strstr(res.reason, "auth_failed: run watchrelay auth trakt"));
    http_response_release(&resp);
    free_ops(&op, 1);
    A->free(ctx);
    free_conf(c);
}

struct attr_case {
    const char *name;
    enum op_kind kind;
    const char *body;
    enum adapter_outcome want[3];
    const char *reason[3]; /* substring; NULL = empty */
};

/* ops: movie tmdb=1 ("Alpha"), movie imdb=tt2 ("Beta"), episode of show
 * tvdb=371980 S01E01 ("Severance"). */
static const struct attr_case attr_cases[] = {
    {"one movie not found",
     OP_HISTORY_ADD,
     "{\"added\":{\"movies\":1,\"episodes\":1},\"not_found\":{\"movies\":[{"
     "\"ids\":{\"imdb\":\"tt2\"}}],\"shows\":[],\"seasons\":[],\"episodes\":[],"
     "\"ids\":[]}}",
     {ADAPTER_DONE, ADAPTER_PERMANENT, ADAPTER_DONE},
     {NULL, "not_found: Trakt does not know Beta (1999) [movie:imdb:tt2]",
      NULL}},
    {"the episode's show not found",
     OP_HISTORY_ADD,
     "{\"added\":{\"movies\":2,\"episodes\":0},\"not_found\":{\"movies\":[],"
     "\"shows\":[{\"ids\":{\"tvdb\":\"371980\"}}]}}",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_PERMANENT},
     {NULL, NULL,
      "not_found: Trakt does not know Severance S01E01 "
      "[show:tvdb:371980#s01e01]"}},
    {"the episode itself not found",
     OP_RATING_SET,
     "{\"added\":{\"movies\":2},\"not_found\":{\"shows\":[{\"ids\":{\"tvdb\":"
     "371980},\"seasons\":[{\"number\":1,\"episodes\":[{\"number\":1,"
     "\"rating\":8}]}]}]}}",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_PERMANENT},
     {NULL, NULL, "not_found"}},
    {"another episode of the show not found",
     OP_WATCHLIST_ADD,
     "{\"added\":{\"movies\":2,\"episodes\":1},\"not_found\":{\"shows\":[{"
     "\"ids\":{\"tvdb\":371980},\"seasons\":[{\"number\":1,\"episodes\":[{"
     "\"number\":2}]}]}]}}",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_DONE},
     {NULL, NULL, NULL}},
    {"existing counts as done",
     OP_WATCHLIST_ADD,
     "{\"added\":{\"movies\":1,\"shows\":0,\"seasons\":0,\"episodes\":0},"
     "\"existing\":{\"movies\":1,\"shows\":0,\"seasons\":0,\"episodes\":1},"
     "\"not_found\":{\"movies\":[],\"shows\":[],\"seasons\":[],\"episodes\":[]"
     "},\"list\":{\"updated_at\":\"2025-03-02T20:47:10.000Z\",\"item_count\":"
     "42}}",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_DONE},
     {NULL, NULL, NULL}},
    {"counts short and unattributed",
     OP_HISTORY_ADD,
     "{\"added\":{\"movies\":1,\"episodes\":0},\"not_found\":{\"movies\":[]}}",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_DONE},
     {"unconfirmed: Trakt confirmed 1 of 3 items", "unconfirmed",
      "unconfirmed"}},
    {"not found, rest unconfirmed",
     OP_HISTORY_ADD,
     "{\"added\":{\"movies\":0},\"not_found\":{\"movies\":[{\"ids\":{"
     "\"tmdb\":1}}]}}",
     {ADAPTER_PERMANENT, ADAPTER_DONE, ADAPTER_DONE},
     {"not_found", "unconfirmed: Trakt confirmed 0 of 2 items", "unconfirmed"}},
    {"not a JSON object",
     OP_HISTORY_ADD,
     "[]",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_DONE},
     {"unconfirmed", "unconfirmed", "unconfirmed"}},
    {"remove: not found is done",
     OP_WATCHLIST_REMOVE,
     "{\"deleted\":{\"movies\":1,\"episodes\":0},\"not_found\":{\"movies\":[{"
     "\"ids\":{\"tmdb\":1}}],\"shows\":[{\"ids\":{\"tvdb\":371980}}]}}",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_DONE},
     {"nothing to remove", NULL, "nothing to remove"}},
    {"remove: counts are not checked",
     OP_HISTORY_REMOVE,
     "{\"deleted\":{\"movies\":0,\"episodes\":0}}",
     {ADAPTER_DONE, ADAPTER_DONE, ADAPTER_DONE},
     {NULL, NULL, NULL}},
};

static void
test_classify_batch_attribution(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t c = 0; c < N_ELEMS(attr_cases); c++) {
        const struct attr_case *ac = &attr_cases[c];
        struct op *ops[3];
        struct http_response resp;
        struct adapter_result res[3];

        ops[0] = mk_movie(ac->kind, "tmdb=1");
        ops[0]->item.title = xstrdup("Alpha");
        ops[1] = mk_movie(ac->kind, "imdb=tt2");
        ops[1]->item.title = xstrdup("Beta");
        ops[1]->item.year = 1999;
        ops[2] = mk_ep(ac->kind, "tvdb=371980", 1, 1);
        ops[2]->item.show_title = xstrdup("Severance");
        ops[2]->item.title = xstrdup("Good News About Hell");
        for (size_t i = 0; i < 3; i++)
            ops[i]->rating = 8;
        mk_resp(&resp, 201, ac->body, NULL);
        A->classify(ctx, (const struct op *const *)ops, 3, &resp, res);
        for (size_t i = 0; i < 3; i++) {
            if (res[i].outcome != ac->want[i])
                fail_msg("%s: op %zu is %s, want %s (%s)", ac->name, i,
                         adapter_outcome_name(res[i].outcome),
                         adapter_outcome_name(ac->want[i]), res[i].reason);
            if (ac->reason[i] == NULL && res[i].reason[0] != '\0')
                fail_msg("%s: op %zu: unexpected reason %s", ac->name, i,
                         res[i].reason);
            if (ac->reason[i] != NULL && !strstr(res[i].reason, ac->reason[i]))
                fail_msg("%s: op %zu: reason \"%s\" lacks \"%s\"", ac->name, i,
                         res[i].reason, ac->reason[i]);
        }
        http_response_release(&resp);
        free_ops(ops, 3);
    }
    A->free(ctx);
}

/* Episodes sent by their own ids are matched in not_found.episodes;
 * seasons by theirs. */
static void
test_classify_not_found_own_ids(void **state)
{
    void *ctx = mk_ctx();
    struct op *ops[3];
    struct http_response resp;
    struct adapter_result res[3];

    (void)state;
    ops[0] = mk(OP_WATCHLIST_ADD, ITEM_EPISODE, "tvdb=8603573", NULL, -1, -1);
    ops[1] = mk(OP_WATCHLIST_ADD, ITEM_SEASON, "tmdb=555", NULL, -1, -1);
    ops[2] = mk(OP_WATCHLIST_ADD, ITEM_EPISODE, "trakt=77", NULL, -1, -1);
    mk_resp(&resp, 201,
            "{\"added\":{\"episodes\":1},\"not_found\":{\"seasons\":[{\"ids\":{"
            "\"tmdb\":555}}],\"episodes\":[{\"ids\":{\"tvdb\":8603573}}]}}",
            NULL);
    A->classify(ctx, (const struct op *const *)ops, 3, &resp, res);
    assert_int_equal(res[0].outcome, ADAPTER_PERMANENT);
    assert_non_null(strstr(res[0].reason, "[episode:tvdb:8603573]"));
    assert_int_equal(res[1].outcome, ADAPTER_PERMANENT);
    assert_int_equal(res[2].outcome, ADAPTER_DONE);
    assert_string_equal(res[2].reason, "");
    http_response_release(&resp);
    free_ops(ops, 3);
    A->free(ctx);
}

/* ---- refresh ---------------------------------------------------------- */

static void
test_refresh(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct http_response resp;
    struct adapter_tokens tok;
    struct op *op = mk_movie(OP_SCROBBLE_START, "tmdb=1");
    char err[256];

    (void)state;
    http_request_init(&req);
    assert_int_equal(A->build_refresh(ctx, &req, err, sizeof(err)), 0);
    assert_int_equal(req.method, HTTP_POST);
    assert_string_equal(req.url, BASE "/oauth/token");
    assert_trakt_headers(&req, NULL);
    assert_string_equal(req.body,
                        "{\"refresh_token\":\"" REFRESH
                        "\",\"client_id\":\"cid\",\"client_secret\":\"" SECRET
                        "\",\"redirect_uri\":\"urn:ietf:wg:oauth:2.0:oob\","
                        "\"grant_type\":\"refresh_token\"}");
    http_request_release(&req);

    memset(&tok, 0, sizeof(tok));
    mk_resp(&resp, 200,
            "{\"access_token\":\"NEW-A\",\"token_type\":\"bearer\","
            "\"expires_in\":604800,\"refresh_token\":\"NEW-R\",\"scope\":"
            "\"public\",\"created_at\":1741036000}",
            NULL);
    assert_int_equal(A->parse_refresh(ctx, &resp, &tok, err, sizeof(err)), 0);
    assert_string_equal(tok.access_token, "NEW-A");
    assert_string_equal(tok.refresh_token, "NEW-R");
    assert_int_equal(tok.expires_at, 1741036000 + 604800);
    http_response_release(&resp);

    /* parse_refresh does not switch tokens: set_tokens does. */
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        0);
    assert_trakt_headers(&req, ACCESS);
    http_request_release(&req);
    A->set_tokens(ctx, &tok);
    adapter_tokens_release(&tok);
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        0);
    assert_trakt_headers(&req, "NEW-A");
    http_request_release(&req);
    http_request_init(&req);
    assert_int_equal(A->build_refresh(ctx, &req, err, sizeof(err)), 0);
    assert_non_null(strstr(req.body, "\"refresh_token\":\"NEW-R\""));
    http_request_release(&req);

    /* No refresh_token in the reply: the old one stays. */
    mk_resp(&resp, 200, "{\"access_token\":\"NEWER-A\",\"expires_in\":10}",
            NULL);
    assert_int_equal(A->parse_refresh(ctx, &resp, &tok, err, sizeof(err)), 0);
    assert_string_equal(tok.refresh_token, "NEW-R");
    assert_true(tok.expires_at > 0);
    adapter_tokens_release(&tok);
    http_response_release(&resp);

    /* invalid_grant */
    mk_resp(&resp, 400,
            "{\"error\":\"invalid_grant\",\"error_description\":\"The provided "
            "authorization grant is invalid: NEW-R\"}",
            NULL);
    assert_int_equal(A->parse_refresh(ctx, &resp, &tok, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid_grant"));
    assert_null(strstr(err, "NEW-R"));
    assert_null(tok.access_token);
    http_response_release(&resp);

    /* Malformed, unusable, transport, 5xx */
    mk_resp(&resp, 200, "{\"token_type\":\"bearer\"}", NULL);
    assert_int_equal(A->parse_refresh(ctx, &resp, &tok, err, sizeof(err)), -1);
    http_response_release(&resp);
    mk_resp(&resp, 200, "{\"access_token\":\"a b\\r\\nX: y\"}", NULL);
    assert_int_equal(A->parse_refresh(ctx, &resp, &tok, err, sizeof(err)), -1);
    http_response_release(&resp);
    mk_resp(&resp, 0, "timeout", NULL);
    assert_int_equal(A->parse_refresh(ctx, &resp, &tok, err, sizeof(err)), -1);
    http_response_release(&resp);
    mk_resp(&resp, 503, NULL, NULL);
    assert_int_equal(A->parse_refresh(ctx, &resp, &tok, err, sizeof(err)), -1);
    http_response_release(&resp);
    free_ops(&op, 1);
    A->free(ctx);
}

static void
test_refresh_needs_secret(void **state)
{
    struct provider_conf *c = mk_conf(BASE, NULL);
    struct http_request req;
    char err[256];
    void *ctx;

    (void)state;
    free(c->client_secret);
    c->client_secret = NULL;
    ctx = A->init(c, NULL, "/tmp", err, sizeof(err));
    assert_non_null(ctx);
    http_request_init(&req);
    assert_int_equal(A->build_refresh(ctx, &req, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "providers.trakt.client_secret"));
    http_request_release(&req);
    A->free(ctx);
    free_conf(c);
}

/* ---- history check ---------------------------------------------------- */

static void
test_history_check_build(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct op *op;
    char err[256];

    (void)state;
    op = mk_movie(OP_HISTORY_ADD, "trakt=203537;tmdb=329865");
    op->watched_at = T0;
    http_request_init(&req);
    assert_int_equal(A->build_history_check(ctx, op, &req, err, sizeof(err)),
                     0);
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.rate_class, HTTP_CLASS_READ);
    assert_string_equal(req.url,
                        BASE "/sync/history/movies/203537?start_at=2025-03-"
                             "02T20:46:10.000Z&end_at=2025-03-02T20:48:10.000Z"
                             "&limit=100");
    assert_trakt_headers(&req, ACCESS);
    assert_null(req.body);
    http_request_release(&req);
    free_ops(&op, 1);

    op = mk_ep(OP_HISTORY_ADD, "tvdb=371980", 1, 1);
    op->watched_at = T0;
    http_request_init(&req);
    assert_int_equal(A->build_history_check(ctx, op, &req, err, sizeof(err)),
                     0);
    assert_string_equal(req.url,
                        BASE "/sync/history/episodes?start_at=2025-03-02T20:46:"
                             "10.000Z&end_at=2025-03-02T20:48:10.000Z&limit="
                             "100");
    http_request_release(&req);
    op->watched_at = 0;
    assert_int_equal(A->build_history_check(ctx, op, &req, err, sizeof(err)),
                     -1);
    free_ops(&op, 1);

    op = mk(OP_HISTORY_ADD, ITEM_SHOW, "tvdb=1", NULL, -1, -1);
    op->watched_at = T0;
    assert_int_equal(A->build_history_check(ctx, op, &req, err, sizeof(err)),
                     -1);
    free_ops(&op, 1);
    http_request_release(&req);
    A->free(ctx);
}

struct hist_case {
    const char *name;
    bool movie;
    long status;
    const char *headers;
    const char *body;
    int rc;
    bool found;
};

static const struct hist_case hist_cases[] = {
    {"movie by id", true, 200, NULL,
     "[{\"id\":1,\"watched_at\":\"2025-03-02T20:47:10.000Z\",\"action\":"
     "\"watch\",\"type\":\"movie\",\"movie\":{\"title\":\"Arrival\",\"ids\":{"
     "\"trakt\":203537,\"slug\":\"arrival-2016\",\"imdb\":\"tt2543164\","
     "\"tmdb\":329865}}}]",
     0, true},
    {"movie, other title", true, 200, NULL,
     "[{\"id\":1,\"watched_at\":\"2025-03-02T20:47:10.000Z\",\"type\":"
     "\"movie\",\"movie\":{\"ids\":{\"trakt\":1,\"tmdb\":2}}}]",
     0, false},
    {"movie, play outside the window", true, 200, NULL,
     "[{\"id\":1,\"watched_at\":\"2025-03-02T20:57:10.000Z\",\"type\":"
     "\"movie\",\"movie\":{\"ids\":{\"tmdb\":329865}}}]",
     0, false},
    {"empty", true, 200, NULL, "[]", 0, false},
    {"more pages, not on this one", true, 200, "X-Pagination-Page-Count: 2",
     "[]", -1, false},
    {"error", true, 500, NULL, "oops", -1, false},
    {"not an array", true, 200, NULL, "{}", -1, false},
    {"episode by show, season, number", false, 200, NULL,
     "[{\"id\":2,\"watched_at\":\"2025-03-02T20:47:40.000Z\",\"action\":"
     "\"scrobble\",\"type\":\"episode\",\"episode\":{\"season\":1,\"number\":"
     "1,\"ids\":{\"trakt\":9,\"tvdb\":1}},\"show\":{\"ids\":{\"trakt\":5,"
     "\"tvdb\":371980}}}]",
     0, true},
    {"episode, other number", false, 200, NULL,
     "[{\"id\":2,\"watched_at\":\"2025-03-02T20:47:40.000Z\",\"type\":"
     "\"episode\",\"episode\":{\"season\":1,\"number\":2,\"ids\":{\"trakt\":"
     "9}},\"show\":{\"ids\":{\"tvdb\":371980}}}]",
     0, false},
    {"episode by its own id", false, 200, NULL,
     "[{\"id\":2,\"watched_at\":\"2025-03-02T20:46:40.000Z\",\"type\":"
     "\"episode\",\"episode\":{\"season\":9,\"number\":9,\"ids\":{\"tvdb\":"
     "8603573}},\"show\":{\"ids\":{\"tvdb\":1}}}]",
     0, true},
};

static void
test_history_check_parse(void **state)
{
    void *ctx = mk_ctx();
    struct op *movie = mk_movie(OP_HISTORY_ADD, "tmdb=329865");
    struct op *ep =
        mk(OP_HISTORY_ADD, ITEM_EPISODE, "tvdb=8603573", "tvdb=371980", 1, 1);

    (void)state;
    movie->watched_at = T0;
    ep->watched_at = T0;
    for (size_t c = 0; c < N_ELEMS(hist_cases); c++) {
        const struct hist_case *hc = &hist_cases[c];
        struct http_response resp;
        bool found = !hc->found;
        int rc;

        mk_resp(&resp, hc->status, hc->body, hc->headers);
        rc = A->parse_history_check(ctx, hc->movie ? movie : ep, &resp, &found);
        if (rc != hc->rc || (rc == 0 && found != hc->found))
            fail_msg("%s: rc %d found %d", hc->name, rc, found);
        http_response_release(&resp);
    }
    free_ops(&movie, 1);
    free_ops(&ep, 1);
    A->free(ctx);
}

/* ---- device flow ------------------------------------------------------ */

static void
test_auth_requests(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct adapter_auth started;
    char err[256];

    (void)state;
    http_request_init(&req);
    assert_int_equal(A->auth_start(ctx, &req, err, sizeof(err)), 0);
    assert_int_equal(req.method, HTTP_POST);
    assert_string_equal(req.url, BASE "/oauth/device/code");
    assert_string_equal(req.body, "{\"client_id\":\"cid\"}");
    assert_trakt_headers(&req, NULL);
    http_request_release(&req);

    memset(&started, 0, sizeof(started));
    started.device_code = xstrdup("d9c126a7706328d8");
    started.user_code = xstrdup("5055CC52");
    http_request_init(&req);
    assert_int_equal(A->auth_poll(ctx, &started, &req, err, sizeof(err)), 0);
    assert_string_equal(req.url, BASE "/oauth/device/token");
    assert_string_equal(req.body,
                        "{\"code\":\"d9c126a7706328d8\",\"client_id\":"
                        "\"cid\",\"client_secret\":\"" SECRET "\"}");
    http_request_release(&req);
    adapter_auth_release(&started);
    http_request_init(&req);
    assert_int_equal(A->auth_poll(ctx, &started, &req, err, sizeof(err)), -1);
    http_request_release(&req);
    A->free(ctx);
}

static void
test_auth_parse_start(void **state)
{
    void *ctx = mk_ctx();
    struct http_response resp;
    struct adapter_auth a;

    (void)state;
    memset(&a, 0, sizeof(a));
    mk_resp(&resp, 200,
            "{\"device_code\":\"d9c126a7706328d808914cfd1e40274b\","
            "\"user_code\":\"5055CC52\",\"verification_url\":\"https://"
            "trakt.tv/activate\",\"expires_in\":600,\"interval\":5}",
            NULL);
    assert_int_equal(A->auth_parse(ctx, true, &resp, &a), 0);
    assert_int_equal(a.state, ADAPTER_AUTH_SHOW_CODE);
    assert_string_equal(a.device_code, "d9c126a7706328d808914cfd1e40274b");
    assert_string_equal(a.user_code, "5055CC52");
    assert_string_equal(a.verification_url, "https://trakt.tv/activate");
    assert_int_equal(a.expires_in_s, 600);
    assert_int_equal(a.interval_s, 5);
    http_response_release(&resp);
    adapter_auth_release(&a);

    mk_resp(&resp, 403, "{\"error\":\"invalid api key\"}", NULL);
    assert_int_equal(A->auth_parse(ctx, true, &resp, &a), -1);
    assert_int_equal(a.state, ADAPTER_AUTH_FAILED);
    assert_non_null(strstr(a.message, "403"));
    http_response_release(&resp);
    adapter_auth_release(&a);

    mk_resp(&resp, 200, "{\"user_code\":\"X\"}", NULL);
    assert_int_equal(A->auth_parse(ctx, true, &resp, &a), -1);
    assert_int_equal(a.state, ADAPTER_AUTH_FAILED);
    http_response_release(&resp);
    adapter_auth_release(&a);
    A->free(ctx);
}

struct poll_case {
    long status;
    const char *body;
    enum adapter_auth_state state;
    const char *message;
};

static const struct poll_case poll_cases[] = {
    {400, NULL, ADAPTER_AUTH_PENDING, "waiting"},
    {429, NULL, ADAPTER_AUTH_SLOW_DOWN, NULL},
    {404, NULL, ADAPTER_AUTH_FAILED, "invalid device code"},
    {409, NULL, ADAPTER_AUTH_FAILED, "already used"},
    {410, NULL, ADAPTER_AUTH_FAILED, "expired"},
    {418, NULL, ADAPTER_AUTH_FAILED, "denied"},
    {0, "timeout", ADAPTER_AUTH_PENDING, NULL},
    {500, "oops", ADAPTER_AUTH_FAILED, "500"},
    {200, "{\"token_type\":\"bearer\"}", ADAPTER_AUTH_FAILED, "access_token"},
};

static void
test_auth_parse_poll(void **state)
{
    void *ctx = mk_ctx();
    struct http_response resp;
    struct adapter_auth a;

    (void)state;
    for (size_t c = 0; c < N_ELEMS(poll_cases); c++) {
        const struct poll_case *pc = &poll_cases[c];
        int rc;

        memset(&a, 0, sizeof(a));
        mk_resp(&resp, pc->status, pc->body, NULL);
        rc = A->auth_parse(ctx, false, &resp, &a);
        if (a.state != pc->state)
            fail_msg("poll %ld: state %d (%s)", pc->status, a.state, a.message);
        assert_int_equal(rc, pc->state == ADAPTER_AUTH_FAILED ? -1 : 0);
        if (pc->message != NULL && strstr(a.message, pc->message) == NULL)
            fail_msg("poll %ld: message \"%s\"", pc->status, a.message);
        assert_null(a.tokens.access_token);
        http_response_release(&resp);
        adapter_auth_release(&a);
    }
    memset(&a, 0, sizeof(a));
    mk_resp(&resp, 200,
            "{\"access_token\":\"DEV-A\",\"token_type\":\"bearer\","
            "\"expires_in\":604800,\"refresh_token\":\"DEV-R\",\"scope\":"
            "\"public\",\"created_at\":1741036000}",
            NULL);
    assert_int_equal(A->auth_parse(ctx, false, &resp, &a), 0);
    assert_int_equal(a.state, ADAPTER_AUTH_DONE);
    assert_string_equal(a.tokens.access_token, "DEV-A");
    assert_string_equal(a.tokens.refresh_token, "DEV-R");
    assert_int_equal(a.tokens.expires_at, 1741640800);
    http_response_release(&resp);
    adapter_auth_release(&a);
    A->free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_requires_client_id),
        cmocka_unit_test(test_init_defaults_and_saved_tokens),
        cmocka_unit_test(test_vtable),
        cmocka_unit_test(test_build_table),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_build_skips_unusable),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_classify_ratelimit_until),
        cmocka_unit_test(test_classify_401_without_refresh),
        cmocka_unit_test(test_classify_batch_attribution),
        cmocka_unit_test(test_classify_not_found_own_ids),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_refresh_needs_secret),
        cmocka_unit_test(test_history_check_build),
        cmocka_unit_test(test_history_check_parse),
        cmocka_unit_test(test_auth_requests),
        cmocka_unit_test(test_auth_parse_start),
        cmocka_unit_test(test_auth_parse_poll),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
