/*
 * test_simkl: the SIMKL adapter (PROVIDERS.md B2, SYNC.md 3.5, 4.3-4.5):
 * the query parameters and headers every request carries, exact bodies
 * (scrobbles, grouped history, ratings for movies and shows only, the
 * Plan to Watch list), classification (401 pauses: tokens never expire;
 * 412 pauses; not_found attribution with SIMKL's string ids and echoed
 * arrays), the all-items history check and the PIN flow.
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

#define ACCESS "ACCESS-simkl-1234567890"
#define SECRET "csecret-simkl-abcdef"
#define BASE   "http://127.0.0.1:9/simkl"
#define Q      "?client_id=cid&app-name=watchrelay&app-version=0.1.0"
#define T0     1740948430 /* 2025-03-02T20:47:10Z */
#define T0_ISO "2025-03-02T20:47:10Z"

static const struct adapter_ops *A = &adapter_simkl;

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
    op->target = xstrdup("simkl");
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
assert_simkl_headers(const struct http_request *req, const char *token)
{
    char auth[256];

    assert_true(has_header(req, "Content-Type: application/json"));
    assert_true(has_header(req, "simkl-api-key: cid"));
    assert_true(has_header(req, "User-Agent: watchrelay/0.1.0"));
    for (size_t i = 0; i < req->n_headers; i++)
        assert_null(strstr(req->headers[i], "trakt"));
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
    assert_null(strstr(s, SECRET));
}

/* ---- init ------------------------------------------------------------- */

static void
test_init(void **state)
{
    struct provider_conf *c = mk_conf(NULL, NULL);
    struct op *op = mk_movie(OP_SCROBBLE_START, "simkl=53992");
    struct http_request req;
    char err[256] = "", sa[] = "SAVED-A";
    struct adapter_tokens saved = {.access_token = sa};
    void *ctx;

    (void)state;
    assert_null(A->init(NULL, NULL, "/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "providers.simkl.client_id"));
    ctx = A->init(c, &saved, "/tmp", err, sizeof(err));
    assert_non_null(ctx);
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        0);
    assert_string_equal(req.url, "https://api.simkl.com/scrobble/start" Q);
    assert_simkl_headers(&req, "SAVED-A");
    http_request_release(&req);
    A->free(ctx);
    free(c->client_id);
    c->client_id = xstrdup("c i&d");
    ctx = A->init(c, NULL, "/tmp", err, sizeof(err));
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        0);
    assert_string_equal(req.url,
                        "https://api.simkl.com/scrobble/start?client_id=c%20i%"
                        "26d&app-name=watchrelay&app-version=0.1.0");
    assert_true(has_header(&req, "simkl-api-key: c i&d"));
    assert_true(has_header(&req, "Authorization: Bearer " ACCESS));
    http_request_release(&req);
    A->free(ctx);
    free_conf(c);
    free_ops(&op, 1);
}

static void
test_vtable(void **state)
{
    (void)state;
    assert_string_equal(A->name, "simkl");
    assert_true(A->scrobble_api);
    assert_int_equal(A->max_batch, 500);
    assert_true((A->kinds & OP_SCROBBLE_KINDS) == OP_SCROBBLE_KINDS);
    assert_false(A->kinds & OP_BIT(OP_PROGRESS_SET));
    assert_false(A->batch_kinds & OP_SCROBBLE_KINDS);
    assert_true(A->batch_kinds & OP_BIT(OP_HISTORY_ADD));
    assert_true(A->batch_kinds & OP_BIT(OP_WATCHLIST_REMOVE));
    assert_int_equal(A->limits.write_interval_ms, 1000);
    assert_int_equal(A->limits.write_inflight, 1);
    assert_int_equal(A->limits.read_per_window, 5);
    assert_int_equal(A->limits.read_window_s, 1);
    /* Tokens never expire: no refresh. */
    assert_null(A->build_refresh);
    assert_null(A->parse_refresh);
    assert_null(A->apply);
}

/* ---- build ------------------------------------------------------------ */

struct build_case {
    const char *name;
    enum op_kind kind;
    struct op_spec items[4];
    size_t n;
    int64_t watched_at;
    int rating;
    int64_t rated_at;
    double progress;
    const char *path;
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
#define SEASON(show, s)                            \
    {                                              \
        0, ITEM_SEASON, NULL, show, s, -1, NULL, 0 \
    }

static const struct build_case build_cases[] = {
    {"scrobble movie",
     OP_SCROBBLE_START,
     {MOVIE("simkl=53992;imdb=tt2543164;tmdb=329865;trakt=1;plex=5")},
     1,
     0,
     0,
     0,
     12.345,
     "/scrobble/start",
     "{\"movie\":{\"ids\":{\"simkl\":53992,\"imdb\":\"tt2543164\",\"tmdb\":"
     "329865}},\"progress\":12.35}"},
    {"scrobble episode under its show",
     OP_SCROBBLE_STOP,
     {EP("tvdb=371980", 1, 1)},
     1,
     0,
     0,
     0,
     85,
     "/scrobble/stop",
     "{\"show\":{\"ids\":{\"tvdb\":371980}},\"episode\":{\"season\":1,"
     "\"number\":1},\"progress\":85}"},
    {"scrobble anime episode",
     OP_SCROBBLE_PAUSE,
     {EP("mal=16498;anidb=9541", 1, 3)},
     1,
     0,
     0,
     0,
     40.5,
     "/scrobble/pause",
     "{\"show\":{\"ids\":{\"mal\":16498,\"anidb\":9541}},\"episode\":{"
     "\"season\":1,\"number\":3},\"progress\":40.5}"},
    {"scrobble episode by its own ids",
     OP_SCROBBLE_STOP,
     {EP_OWN("tvdb=8603573")},
     1,
     0,
     0,
     0,
     97.3,
     "/scrobble/stop",
     "{\"episode\":{\"ids\":{\"tvdb\":8603573}},\"progress\":97.3}"},
    {"history add batch",
     OP_HISTORY_ADD,
     {MOVIE("imdb=tt2543164"), EP("tvdb=371980", 1, 1), EP("tvdb=371980", 1, 2),
      SEASON("simkl=2090", 2)},
     4,
     T0,
     0,
     0,
     -1,
     "/sync/history",
     "{\"movies\":[{\"ids\":{\"imdb\":\"tt2543164\"},\"watched_at\":\"" T0_ISO
     "\"}],\"shows\":[{\"ids\":{\"tvdb\":371980},\"seasons\":[{\"number\":1,"
     "\"episodes\":[{\"number\":1,\"watched_at\":\"" T0_ISO "\"},{\"number\":"
     "2,\"watched_at\":\"" T0_ISO "\"}]}]},{\"ids\":{\"simkl\":2090},"
     "\"seasons\":[{\"number\":2,\"watched_at\":\"" T0_ISO "\"}]}]}"},
    {"history remove",
     OP_HISTORY_REMOVE,
     {MOVIE("tmdb=329865"), EP("tvdb=371980", 1, 1)},
     2,
     T0,
     0,
     0,
     -1,
     "/sync/history/remove",
     "{\"movies\":[{\"ids\":{\"tmdb\":329865}}],\"shows\":[{\"ids\":{\"tvdb\":"
     "371980},\"seasons\":[{\"number\":1,\"episodes\":[{\"number\":1}]}]}]}"},
    {"ratings",
     OP_RATING_SET,
     {MOVIE("tmdb=329865"), SHOW("mal=16498;anilist=16498")},
     2,
     0,
     9,
     T0,
     -1,
     "/sync/ratings",
     "{\"movies\":[{\"ids\":{\"tmdb\":329865},\"rating\":9,\"rated_at\":\"" T0_ISO
     "\"}],\"shows\":[{\"ids\":{\"mal\":16498,\"anilist\":16498},\"rating\":9,"
     "\"rated_at\":\"" T0_ISO "\"}]}"},
    {"rating clear",
     OP_RATING_CLEAR,
     {SHOW("imdb=tt0903747")},
     1,
     0,
     0,
     0,
     -1,
     "/sync/ratings/remove",
     "{\"shows\":[{\"ids\":{\"imdb\":\"tt0903747\"}}]}"},
    {"watchlist add: per-item to",
     OP_WATCHLIST_ADD,
     {MOVIE("tmdb=603"), SHOW("tvdb=81189;kitsu=7")},
     2,
     0,
     0,
     0,
     -1,
     "/sync/add-to-list",
     "{\"movies\":[{\"ids\":{\"tmdb\":603},\"to\":\"plantowatch\"}],"
     "\"shows\":[{\"ids\":{\"tvdb\":81189,\"kitsu\":7},\"to\":"
     "\"plantowatch\"}]}"},
    {"watchlist remove: remove from list",
     OP_WATCHLIST_REMOVE,
     {MOVIE("tmdb=603"), SHOW("simkl=2090")},
     2,
     0,
     0,
     0,
     -1,
     "/sync/history/remove",
     "{\"movies\":[{\"ids\":{\"tmdb\":603}}],\"shows\":[{\"ids\":{\"simkl\":"
     "2090}}]}"},
};

static void
test_build_table(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t c = 0; c < N_ELEMS(build_cases); c++) {
        const struct build_case *bc = &build_cases[c];
        struct op *ops[4];
        struct http_request req;
        char err[256] = "", url[256];

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
        snprintf(url, sizeof(url), "%s%s%s", BASE, bc->path, Q);
        assert_string_equal(req.url, url);
        assert_simkl_headers(&req, ACCESS);
        if (strcmp(req.body, bc->body) != 0)
            fail_msg("%s:\n got  %s\n want %s", bc->name, req.body, bc->body);
        http_request_release(&req);
        free_ops(ops, bc->n);
    }
    A->free(ctx);
}

struct refusal {
    enum op_kind kind;
    struct op_spec item;
    const char *err;
};

static const struct refusal refusals[] = {
    {OP_RATING_SET, EP("tvdb=371980", 1, 1),
     "SIMKL rates movies and shows only"},
    {OP_RATING_CLEAR, SEASON("tvdb=371980", 1),
     "SIMKL rates movies and shows only"},
    {OP_WATCHLIST_ADD, EP("tvdb=371980", 1, 1),
     "SIMKL watchlists hold movies and shows only"},
    {OP_WATCHLIST_REMOVE, SEASON("tvdb=1", 1),
     "SIMKL watchlists hold movies and shows only"},
    {OP_HISTORY_ADD, MOVIE("plex=5;trakt=7"), "no id SIMKL can match"},
    /* SIMKL has no season ids: a season needs its show's. */
    {OP_HISTORY_ADD,
     {0, ITEM_SEASON, "tvdb=30272", NULL, -1, -1, NULL, 0},
     "no id SIMKL can match"},
    {OP_SCROBBLE_START, SHOW("tvdb=1"),
     "SIMKL scrobbles movies and episodes only"},
    {OP_PROGRESS_SET, MOVIE("tmdb=1"), "progress_set"},
};

static void
test_build_refusals(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t c = 0; c < N_ELEMS(refusals); c++) {
        const struct refusal *r = &refusals[c];
        struct op *op = mk(r->kind, r->item.type, r->item.ids, r->item.show_ids,
                           r->item.season, r->item.episode);
        struct http_request req;
        char err[256] = "";

        op->rating = 7;
        http_request_init(&req);
        assert_int_equal(A->build(ctx, (const struct op *const *)&op, 1, &req,
                                  err, sizeof(err)),
                         -1);
        if (strstr(err, r->err) == NULL)
            fail_msg("refusal %zu: err \"%s\"", c, err);
        assert_null(req.url);
        http_request_release(&req);
        free_ops(&op, 1);
    }
    A->free(ctx);
}

/* A movie and an episode rating in one batch: the episode stays out and is
 * permanent; the movie goes. */
static void
test_build_mixed_rating_batch(void **state)
{
    void *ctx = mk_ctx();
    struct op *ops[2];
    struct http_request req;
    struct http_response resp;
    struct adapter_result res[2];
    char err[256];

    (void)state;
    ops[0] = mk_ep(OP_RATING_SET, "tvdb=371980", 1, 1);
    ops[1] = mk_movie(OP_RATING_SET, "tmdb=329865");
    ops[0]->rating = ops[1]->rating = 6;
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)ops, 2, &req, err, sizeof(err)),
        0);
    assert_string_equal(
        req.body, "{\"movies\":[{\"ids\":{\"tmdb\":329865},\"rating\":6}]}");
    mk_resp(&resp, 201, "{\"added\":{\"movies\":1,\"shows\":0}}", NULL);
    A->classify(ctx, (const struct op *const *)ops, 2, &resp, res);
    assert_int_equal(res[0].outcome, ADAPTER_PERMANENT);
    assert_string_equal(res[0].reason, "SIMKL rates movies and shows only");
    assert_int_equal(res[1].outcome, ADAPTER_DONE);
    assert_string_equal(res[1].reason, "");
    http_response_release(&resp);
    http_request_release(&req);
    free_ops(ops, 2);
    A->free(ctx);
}

/* ---- classification ---------------------------------------------------- */

struct class_case {
    const char *name;
    enum op_kind kind;
    long status;
    const char *headers;
    const char *body;
    enum adapter_outcome outcome;
    int64_t retry_ms;
    const char *reason;
};

static const struct class_case class_cases[] = {
    {"201 scrobble", OP_SCROBBLE_STOP, 201, NULL,
     "{\"id\":124,\"action\":\"scrobble\",\"progress\":85}", ADAPTER_DONE, 0,
     NULL},
    {"409 scrobble", OP_SCROBBLE_STOP, 409, NULL,
     "{\"watched_at\":\"2025-03-02T21:05:31.000Z\",\"expires_at\":\"2025-03-"
     "02T22:05:31.000Z\"}",
     ADAPTER_DONE, 0, NULL},
    {"200 history add (apiary)", OP_HISTORY_ADD, 200, NULL,
     "{\"added\":{\"movies\":1,\"shows\":0,\"episodes\":0,\"statuses\":[{"
     "\"request\":{\"ids\":{\"tmdb\":329865}},\"response\":{\"status\":"
     "\"completed\",\"simkl_type\":\"movie\",\"anime_type\":null}}]},"
     "\"not_found\":{\"movies\":[],\"shows\":[],\"episodes\":[]}}",
     ADAPTER_DONE, 0, NULL},
    {"404 on add", OP_WATCHLIST_ADD, 404, NULL, NULL, ADAPTER_PERMANENT, 0,
     "not_found: SIMKL does not know Arrival (2016)"},
    {"404 on remove", OP_HISTORY_REMOVE, 404, NULL, NULL, ADAPTER_DONE, 0,
     NULL},
    {"400 empty_field", OP_WATCHLIST_ADD, 400, NULL,
     "{\"error\":\"empty_field\",\"code\":400,\"message\":\"Missed \\\"to\\\" "
     "parameter\"}",
     ADAPTER_PERMANENT, 0,
     "invalid: empty_field: Missed \\x22to\\x22 parameter"},
    {"401 pauses (tokens never expire)", OP_HISTORY_ADD, 401, NULL,
     "{\"error\":\"user_token_failed\"}", ADAPTER_PAUSE, 0,
     "auth_failed: run watchrelay auth simkl"},
    {"403 pauses", OP_HISTORY_ADD, 403, NULL, NULL, ADAPTER_PAUSE, 0,
     "forbidden"},
    {"412 client_id_failed pauses", OP_HISTORY_ADD, 412, NULL,
     "{\"error\":\"client_id_failed\"}", ADAPTER_PAUSE, 0, "client_id_failed"},
    {"423 pauses", OP_SCROBBLE_START, 423, NULL, NULL, ADAPTER_PAUSE, 0,
     "account_locked"},
    {"429 Retry-After", OP_SCROBBLE_START, 429, "retry-after: 2", NULL,
     ADAPTER_RATE, 2000, NULL},
    {"429 bare", OP_SCROBBLE_START, 429, NULL, NULL, ADAPTER_RATE, 1000, NULL},
    {"502 no Retry-After", OP_HISTORY_ADD, 502, NULL, NULL, ADAPTER_RETRY, 0,
     NULL},
    {"503 Retry-After", OP_HISTORY_ADD, 503, "Retry-After: 30", NULL,
     ADAPTER_RETRY, 30000, NULL},
    {"transport", OP_HISTORY_ADD, 0, NULL, "Operation timed out", ADAPTER_RETRY,
     0, "transport"},
    {"error body echoes the token", OP_HISTORY_ADD, 400, NULL,
     "{\"error\":\"bad\",\"message\":\"token " ACCESS " / secret " SECRET "\"}",
     ADAPTER_PERMANENT, 0, "[redacted]"},
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

        op->item.title = xstrdup("Arrival");
        op->item.year = 2016;
        op->progress = 90;
        mk_resp(&resp, cc->status, cc->body, cc->headers);
        A->classify(ctx, (const struct op *const *)&op, 1, &resp, &res);
        if (res.outcome != cc->outcome)
            fail_msg("%s: outcome %s, want %s (%s)", cc->name,
                     adapter_outcome_name(res.outcome),
                     adapter_outcome_name(cc->outcome), res.reason);
        if (cc->retry_ms >= 0 && res.retry_after_ms != cc->retry_ms)
            fail_msg("%s: retry_after_ms %lld, want %lld", cc->name,
                     (long long)res.retry_after_ms, (long long)cc->retry_ms);
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

/* SIMKL echoes the added items as arrays and gives ids as strings. */
static void
test_classify_attribution(void **state)
{
    void *ctx = mk_ctx();
    struct op *ops[3];
    struct http_response resp;
    struct adapter_result res[3];

    (void)state;
    ops[0] = mk_movie(OP_WATCHLIST_ADD, "tmdb=603");
    ops[1] = mk_movie(OP_WATCHLIST_ADD, "imdb=tt2;tmdb=77");
    ops[2] = mk(OP_WATCHLIST_ADD, ITEM_SHOW, "tvdb=81189", NULL, -1, -1);
    mk_resp(&resp, 201,
            "{\"added\":{\"movies\":[{\"to\":\"plantowatch\",\"ids\":{"
            "\"tmdb\":\"603\"}}],\"shows\":[{\"to\":\"plantowatch\",\"ids\":{"
            "\"tvdb\":\"81189\"}}]},\"not_found\":{\"movies\":[{\"to\":"
            "\"plantowatch\",\"ids\":{\"tmdb\":\"77\"}}],\"shows\":[]}}",
            NULL);
    A->classify(ctx, (const struct op *const *)ops, 3, &resp, res);
    assert_int_equal(res[0].outcome, ADAPTER_DONE);
    assert_string_equal(res[0].reason, "");
    assert_int_equal(res[1].outcome, ADAPTER_PERMANENT);
    assert_non_null(strstr(res[1].reason, "not_found: SIMKL does not know"));
    assert_int_equal(res[2].outcome, ADAPTER_DONE);
    assert_string_equal(res[2].reason, "");
    http_response_release(&resp);

    /* A 2xx that processed nothing and named nothing: unconfirmed. */
    mk_resp(&resp, 201, "{\"added\":{\"movies\":[],\"shows\":[]}}", NULL);
    A->classify(ctx, (const struct op *const *)ops, 3, &resp, res);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(res[i].outcome, ADAPTER_DONE);
        assert_non_null(strstr(res[i].reason, "unconfirmed"));
    }
    http_response_release(&resp);
    free_ops(ops, 3);

    /* History add: one show unknown, its episodes permanent. */
    ops[0] = mk_ep(OP_HISTORY_ADD, "tvdb=371980", 1, 1);
    ops[1] = mk_ep(OP_HISTORY_ADD, "tvdb=371980", 1, 2);
    ops[2] = mk_movie(OP_HISTORY_ADD, "simkl=53992");
    mk_resp(&resp, 201,
            "{\"added\":{\"movies\":1,\"shows\":0,\"episodes\":0},"
            "\"not_found\":{\"movies\":[],\"shows\":[{\"ids\":{\"tvdb\":"
            "\"371980\"},\"seasons\":[{\"number\":1,\"episodes\":[{\"number\":"
            "1},{\"number\":2}]}]}]}}",
            NULL);
    A->classify(ctx, (const struct op *const *)ops, 3, &resp, res);
    assert_int_equal(res[0].outcome, ADAPTER_PERMANENT);
    assert_int_equal(res[1].outcome, ADAPTER_PERMANENT);
    assert_int_equal(res[2].outcome, ADAPTER_DONE);
    assert_string_equal(res[2].reason, "");
    http_response_release(&resp);
    free_ops(ops, 3);
    A->free(ctx);
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
    op = mk_movie(OP_HISTORY_ADD, "tmdb=329865");
    op->watched_at = T0;
    http_request_init(&req);
    assert_int_equal(A->build_history_check(ctx, op, &req, err, sizeof(err)),
                     0);
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.rate_class, HTTP_CLASS_READ);
    assert_string_equal(req.url, BASE "/sync/all-items/movies" Q
                                      "&date_from=2025-03-02T20:46:10Z"
                                      "&extended=full");
    assert_simkl_headers(&req, ACCESS);
    http_request_release(&req);
    free_ops(&op, 1);

    op = mk_ep(OP_HISTORY_ADD, "tvdb=371980", 1, 1);
    op->watched_at = T0;
    http_request_init(&req);
    assert_int_equal(A->build_history_check(ctx, op, &req, err, sizeof(err)),
                     0);
    assert_string_equal(req.url, BASE "/sync/all-items" Q
                                      "&date_from=2025-03-02T20:46:10Z"
                                      "&extended=full&episode_watched_at=yes");
    http_request_release(&req);
    free_ops(&op, 1);

    /* An episode by its own ids cannot be found in all-items. */
    op = mk(OP_HISTORY_ADD, ITEM_EPISODE, "tvdb=8603573", NULL, -1, -1);
    op->watched_at = T0;
    assert_int_equal(A->build_history_check(ctx, op, &req, err, sizeof(err)),
                     -1);
    free_ops(&op, 1);
    A->free(ctx);
}

struct hist_case {
    const char *name;
    bool movie;
    long status;
    const char *body;
    int rc;
    bool found;
};

static const struct hist_case hist_cases[] = {
    {"movie found", true, 200,
     "{\"movies\":[{\"last_watched_at\":\"2025-03-02T20:47:10Z\",\"status\":"
     "\"completed\",\"movie\":{\"title\":\"Arrival\",\"ids\":{\"simkl\":53992,"
     "\"tmdb\":\"329865\"}}}]}",
     0, true},
    {"movie watched another time", true, 200,
     "{\"movies\":[{\"last_watched_at\":\"2025-03-03T20:47:10Z\",\"movie\":{"
     "\"ids\":{\"tmdb\":\"329865\"}}}]}",
     0, false},
    {"other movie", true, 200,
     "{\"movies\":[{\"last_watched_at\":\"2025-03-02T20:47:10Z\",\"movie\":{"
     "\"ids\":{\"tmdb\":\"1\"}}}]}",
     0, false},
    {"legacy null", true, 200, "null", 0, false},
    {"empty", true, 200, "{}", 0, false},
    {"error", true, 500, "oops", -1, false},
    {"episode found in shows", false, 200,
     "{\"shows\":[{\"show\":{\"title\":\"Severance\",\"ids\":{\"simkl\":1,"
     "\"tvdb\":\"371980\"}},\"seasons\":[{\"number\":1,\"episodes\":[{"
     "\"number\":1,\"watched_at\":\"2025-03-02T20:47:30Z\"}]}]}]}",
     0, true},
    {"episode found in anime", false, 200,
     "{\"anime\":[{\"show\":{\"ids\":{\"tvdb\":\"371980\"}},\"seasons\":[{"
     "\"number\":1,\"episodes\":[{\"number\":1}]}]}]}",
     0, true},
    {"episode not watched", false, 200,
     "{\"shows\":[{\"show\":{\"ids\":{\"tvdb\":\"371980\"}},\"seasons\":[{"
     "\"number\":1,\"episodes\":[{\"number\":2,\"watched_at\":\"2025-03-"
     "02T20:47:10Z\"}]}]}]}",
     0, false},
    {"episode, a movie with the same id", false, 200,
     "{\"movies\":[{\"movie\":{\"ids\":{\"tvdb\":\"371980\"}}}]}", 0, false},
};

static void
test_history_check_parse(void **state)
{
    void *ctx = mk_ctx();
    struct op *movie = mk_movie(OP_HISTORY_ADD, "tmdb=329865");
    struct op *ep = mk_ep(OP_HISTORY_ADD, "tvdb=371980", 1, 1);

    (void)state;
    movie->watched_at = T0;
    ep->watched_at = T0;
    for (size_t c = 0; c < N_ELEMS(hist_cases); c++) {
        const struct hist_case *hc = &hist_cases[c];
        struct http_response resp;
        bool found = !hc->found;
        int rc;

        mk_resp(&resp, hc->status, hc->body, NULL);
        rc = A->parse_history_check(ctx, hc->movie ? movie : ep, &resp, &found);
        if (rc != hc->rc || (rc == 0 && found != hc->found))
            fail_msg("%s: rc %d found %d", hc->name, rc, found);
        http_response_release(&resp);
    }
    free_ops(&movie, 1);
    free_ops(&ep, 1);
    A->free(ctx);
}

/* ---- PIN flow --------------------------------------------------------- */

static void
test_pin_requests(void **state)
{
    void *ctx = mk_ctx();
    struct http_request req;
    struct adapter_auth started;
    char err[256];

    (void)state;
    http_request_init(&req);
    assert_int_equal(A->auth_start(ctx, &req, err, sizeof(err)), 0);
    assert_int_equal(req.method, HTTP_GET);
    assert_string_equal(req.url, BASE "/oauth/pin" Q);
    assert_simkl_headers(&req, NULL);
    assert_null(req.body);
    http_request_release(&req);

    memset(&started, 0, sizeof(started));
    started.user_code = xstrdup("A1B2C");
    http_request_init(&req);
    assert_int_equal(A->auth_poll(ctx, &started, &req, err, sizeof(err)), 0);
    assert_int_equal(req.method, HTTP_GET);
    assert_string_equal(req.url, BASE "/oauth/pin/A1B2C" Q);
    http_request_release(&req);
    adapter_auth_release(&started);
    http_request_init(&req);
    assert_int_equal(A->auth_poll(ctx, &started, &req, err, sizeof(err)), -1);
    http_request_release(&req);
    A->free(ctx);
}

struct pin_case {
    bool start;
    long status;
    const char *body;
    enum adapter_auth_state state;
    const char *token;
};

static const struct pin_case pin_cases[] = {
    {true, 200,
     "{\"result\":\"OK\",\"device_code\":\"DEVICE\",\"user_code\":\"A1B2C\","
     "\"verification_url\":\"https://simkl.com/pin/\",\"expires_in\":900,"
     "\"interval\":5}",
     ADAPTER_AUTH_SHOW_CODE, NULL},
    {true, 200, "{\"result\":\"KO\",\"message\":\"bad client\"}",
     ADAPTER_AUTH_FAILED, NULL},
    {true, 412, "{\"error\":\"client_id_failed\"}", ADAPTER_AUTH_FAILED, NULL},
    {true, 200, "{\"result\":\"KO\",\"message\":\"bad token " ACCESS "\"}",
     ADAPTER_AUTH_FAILED, NULL},
    {false, 200, "{\"result\":\"KO\",\"message\":\"Authorization pending\"}",
     ADAPTER_AUTH_PENDING, NULL},
    {false, 200, "{\"result\":\"KO\",\"message\":\"Slow down\"}",
     ADAPTER_AUTH_SLOW_DOWN, NULL},
    {false, 200, "{\"result\":\"OK\",\"access_token\":\"PIN-TOKEN\"}",
     ADAPTER_AUTH_DONE, "PIN-TOKEN"},
    {false, 200, "{\"result\":\"OK\"}", ADAPTER_AUTH_FAILED, NULL},
    {false, 0, "timeout", ADAPTER_AUTH_PENDING, NULL},
    {false, 404, NULL, ADAPTER_AUTH_FAILED, NULL},
    {false, 200, "not json", ADAPTER_AUTH_FAILED, NULL},
};

static void
test_pin_parse(void **state)
{
    void *ctx = mk_ctx();

    (void)state;
    for (size_t c = 0; c < N_ELEMS(pin_cases); c++) {
        const struct pin_case *pc = &pin_cases[c];
        struct http_response resp;
        struct adapter_auth a;
        int rc;

        memset(&a, 0, sizeof(a));
        mk_resp(&resp, pc->status, pc->body, NULL);
        rc = A->auth_parse(ctx, pc->start, &resp, &a);
        if (a.state != pc->state)
            fail_msg("pin case %zu: state %d (%s)", c, a.state, a.message);
        assert_int_equal(rc, pc->state == ADAPTER_AUTH_FAILED ? -1 : 0);
        assert_true(a.message[0] != '\0');
        assert_no_secrets(a.message);
        if (pc->token != NULL) {
            assert_string_equal(a.tokens.access_token, pc->token);
            assert_null(a.tokens.refresh_token);
            assert_int_equal(a.tokens.expires_at, 0);
        } else {
            assert_null(a.tokens.access_token);
        }
        if (pc->state == ADAPTER_AUTH_SHOW_CODE) {
            assert_string_equal(a.user_code, "A1B2C");
            assert_string_equal(a.device_code, "DEVICE");
            assert_string_equal(a.verification_url, "https://simkl.com/pin/");
            assert_int_equal(a.expires_in_s, 900);
            assert_int_equal(a.interval_s, 5);
        }
        http_response_release(&resp);
        adapter_auth_release(&a);
    }
    A->free(ctx);
}

static void
test_set_tokens(void **state)
{
    void *ctx = mk_ctx();
    struct op *op = mk_movie(OP_SCROBBLE_START, "tmdb=1");
    struct http_request req;
    char err[256], tokbuf[] = "PIN-TOKEN";
    struct adapter_tokens tok = {.access_token = tokbuf};

    (void)state;
    A->set_tokens(ctx, &tok);
    http_request_init(&req);
    assert_int_equal(
        A->build(ctx, (const struct op *const *)&op, 1, &req, err, sizeof(err)),
        0);
    assert_simkl_headers(&req, "PIN-TOKEN");
    http_request_release(&req);
    free_ops(&op, 1);
    A->free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_vtable),
        cmocka_unit_test(test_build_table),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_build_mixed_rating_batch),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_classify_attribution),
        cmocka_unit_test(test_history_check_build),
        cmocka_unit_test(test_history_check_parse),
        cmocka_unit_test(test_pin_requests),
        cmocka_unit_test(test_pin_parse),
        cmocka_unit_test(test_set_tokens),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
