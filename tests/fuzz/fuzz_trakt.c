/*
 * fuzz_trakt: the Trakt adapter's reading of replies (PROVIDERS.md B1).
 * Input: byte 0 picks a fixed set of operations, byte 1 the HTTP status
 * (fuzz_status), byte 2 flags: the low four bits add headers whose value is
 * the first line of the rest (Retry-After, X-Ratelimit,
 * X-Pagination-Page-Count, X-Account-Limit and X-Account-Locked), 0x10 gives
 * no body at all. The rest is the body (status 0: the transport error, as
 * fetch.c reports it). Every reader is run on that reply: classify,
 * parse_refresh, parse_history_check and auth_parse (device code and token
 * poll), and the delta-sync reads where the adapter has them.
 * Invariants: outcomes and states in range; reasons and failure messages
 * NUL-terminated, escaped (STYLE.md 29) and never holding a secret; tokens
 * and poll requests safe in a header line or URL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "http.h"
#include "item.h"
#include "op.h"
#include "util.h"

#define FUZZ_OPS_MAX 3
#define FUZZ_T0      1740948430 /* 2025-03-02T20:47:10Z */
#define FUZZ_ACCESS  "fz-access-TOKEN-5f1c2a"
#define FUZZ_REFRESH "fz-refresh-TOKEN-9d3e7b"
#define FUZZ_SECRET  "fz-client-SECRET-4a8b6c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct adapter_ops *const A = &adapter_trakt;

static const long fuzz_status[] = {
    200, 201, 204, 400, 401, 404, 409, 420, 422,
    429, 500, 503, 0,   403, 412, 423, 410, 418,
};
#define FUZZ_NSTATUS (sizeof(fuzz_status) / sizeof(fuzz_status[0]))

static const char *const fuzz_secrets[] = {FUZZ_ACCESS, FUZZ_REFRESH,
                                           FUZZ_SECRET};

/* One operation of a set: ids and show_ids as "name=value;...". */
struct fuzz_op_spec {
    enum item_type type;
    const char *ids;
    const char *show_ids;
    int season, episode;
    const char *title;
};

struct fuzz_set {
    enum op_kind kind;
    size_t n;
    struct fuzz_op_spec ops[FUZZ_OPS_MAX];
};

static const struct fuzz_set fuzz_sets[] = {
    {OP_HISTORY_ADD,
     3,
     {{ITEM_MOVIE, "tmdb=1", NULL, -1, -1, "Alpha"},
      {ITEM_MOVIE, "imdb=tt2", NULL, -1, -1, "Beta"},
      {ITEM_EPISODE, NULL, "tvdb=371980", 1, 1, "Severance"}}},
    {OP_SCROBBLE_STOP,
     1,
     {{ITEM_MOVIE, "tmdb=329865;trakt=203537", NULL, -1, -1, "Arrival"}}},
    {OP_SCROBBLE_START,
     1,
     {{ITEM_EPISODE, "tvdb=8603573", NULL, -1, -1, "Good News"}}},
    {OP_HISTORY_REMOVE,
     3,
     {{ITEM_MOVIE, "tmdb=1", NULL, -1, -1, "Alpha"},
      {ITEM_MOVIE, "imdb=tt2", NULL, -1, -1, "Beta"},
      {ITEM_EPISODE, NULL, "tvdb=371980", 1, 1, "Severance"}}},
    {OP_WATCHLIST_ADD,
     3,
     {{ITEM_SHOW, "tvdb=371980", NULL, -1, -1, "Severance"},
      {ITEM_SEASON, "tmdb=555", NULL, -1, -1, NULL},
      {ITEM_EPISODE, "trakt=77", NULL, -1, -1, NULL}}},
    {OP_RATING_SET,
     3,
     {{ITEM_MOVIE, "tmdb=603", NULL, -1, -1, "The Matrix"},
      {ITEM_SHOW, "imdb=tt0903747", NULL, -1, -1, "Breaking Bad"},
      {ITEM_EPISODE, NULL, "tvdb=371980", 1, 2, "Severance"}}},
    {OP_HISTORY_ADD,
     3,
     {{ITEM_MOVIE, NULL, NULL, -1, -1, "No Ids"},
      {ITEM_MOVIE, "tmdb=1", NULL, -1, -1, "Alpha"},
      {ITEM_EPISODE, "plex=4711", NULL, -1, -1, NULL}}},
    {OP_HISTORY_ADD,
     1,
     {{ITEM_MOVIE, "mal=16498;anidb=9541", NULL, -1, -1, "Anime"}}},
    {OP_WATCHLIST_REMOVE,
     3,
     {{ITEM_MOVIE, "tmdb=603", NULL, -1, -1, "The Matrix"},
      {ITEM_SHOW, "trakt=1390", NULL, -1, -1, "Game of Thrones"},
      {ITEM_EPISODE, NULL, "tvdb=371980", 1, 1, "Severance"}}},
    {OP_SCROBBLE_PAUSE,
     1,
     {{ITEM_EPISODE, NULL, "tvdb=371980;trakt=5", 1, 3, "Severance"}}},
};
#define FUZZ_NSETS (sizeof(fuzz_sets) / sizeof(fuzz_sets[0]))

static void
set_ids(struct item_ids *ids, const char *spec)
{
    char *copy, *p;

    if (spec == NULL)
        return;
    copy = xstrdup(spec);
    for (p = copy; p != NULL && *p;) {
        char *semi = strchr(p, ';');
        char *eq;

        if (semi != NULL)
            *semi = '\0';
        eq = strchr(p, '=');
        if (eq == NULL)
            abort();
        *eq = '\0';
        if (item_ids_set_named(ids, p, eq + 1) != 0)
            abort();
        p = semi != NULL ? semi + 1 : NULL;
    }
    free(copy);
}

static void
make_ops(const struct fuzz_set *set, struct op *ops)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct fuzz_op_spec *sp = &set->ops[i];
        struct op *op = &ops[i];

        op_init(op);
        op->kind = set->kind;
        op->target = xstrdup("trakt");
        op->item.type = sp->type;
        set_ids(&op->item.ids, sp->ids);
        set_ids(&op->item.show_ids, sp->show_ids);
        op->item.season = sp->season;
        op->item.episode = sp->episode;
        if (sp->title != NULL)
            op->item.title = xstrdup(sp->title);
        op->item.year = sp->type == ITEM_MOVIE ? 2016 : 0;
        op->progress = 90;
        op->rating = 8;
        op->watched_at = FUZZ_T0 + (int64_t)i * 30;
        op->rated_at = FUZZ_T0;
        op_finish(op);
    }
}

static void
add_header(struct http_response *r, const char *name, const char *value)
{
    r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof(*r->headers));
    r->headers[r->n_headers].name = xstrdup(name);
    r->headers[r->n_headers].value = xstrdup(value);
    r->n_headers++;
}

/* The reply the input describes (see the top). */
static void
make_resp(struct http_response *r, long status, unsigned flags,
          const uint8_t *p, size_t len)
{
    http_response_init(r);
    r->status = status;
    if (flags & 0x0f) {
        const uint8_t *nl = memchr(p, '\n', len);
        size_t vlen = nl != NULL ? (size_t)(nl - p) : len;
        char *value = xstrndup((const char *)p, vlen);

        if (flags & 0x01)
            add_header(r, "Retry-After", value);
        if (flags & 0x02)
            add_header(r, "X-Ratelimit", value);
        if (flags & 0x04)
            add_header(r, "X-Pagination-Page-Count", value);
        if (flags & 0x08) {
            add_header(r, "X-Account-Limit", value);
            add_header(r, "X-Account-Locked", value);
        }
        free(value);
        p += vlen + (nl != NULL);
        len -= vlen + (nl != NULL);
    }
    if (status == 0) {
        r->error = xstrndup((const char *)p, len);
        r->body = xstrdup("");
    } else if ((flags & 0x10) == 0) {
        r->body = xstrndup((const char *)p, len);
        r->body_len = len;
    }
}

/* A text a person or a log sees: NUL-terminated within its buffer,
 * escaped (printable ASCII, no quote: STYLE.md 29) and never holding a
 * secret. */
static void
check_text(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '"')
            abort();
    for (size_t i = 0; i < sizeof(fuzz_secrets) / sizeof(fuzz_secrets[0]); i++)
        if (strstr(s, fuzz_secrets[i]) != NULL)
            abort();
}

/* Safe in "Authorization: Bearer %s": visible ASCII only. */
static void
check_token(const char *s)
{
    if (s == NULL || *s == '\0')
        abort();
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            abort();
}

static void
check_request(const struct http_request *req)
{
    if (req->url == NULL)
        abort();
    for (const char *s = req->url; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            abort();
    for (size_t i = 0; i < req->n_headers; i++)
        if (strpbrk(req->headers[i], "\r\n") != NULL)
            abort();
}

static void
run_classify(void *ctx, const struct op *const *ops, size_t n,
             const struct http_response *resp)
{
    struct adapter_result res[FUZZ_OPS_MAX];

    memset(res, 0x5a, sizeof(res));
    A->classify(ctx, ops, n, resp, res);
    for (size_t i = 0; i < n; i++) {
        if (res[i].outcome >= ADAPTER_OUTCOME_MAX || res[i].retry_after_ms < 0)
            abort();
        check_text(res[i].reason, sizeof(res[i].reason));
        if ((res[i].outcome == ADAPTER_PERMANENT ||
             res[i].outcome == ADAPTER_PAUSE) &&
            res[i].reason[0] == '\0')
            abort(); /* a dead letter says why */
        if (res[i].outcome == ADAPTER_RATE && res[i].retry_after_ms <= 0)
            abort();
    }
}

static void
run_refresh(void *ctx, const struct http_response *resp)
{
    struct adapter_tokens tok = {0};
    char err[256] = "";

    if (A->parse_refresh(ctx, resp, &tok, err, sizeof(err)) == 0) {
        check_token(tok.access_token);
        if (tok.refresh_token != NULL)
            check_token(tok.refresh_token);
    } else {
        check_text(err, sizeof(err));
        if (err[0] == '\0')
            abort();
    }
    adapter_tokens_release(&tok);
}

static void
run_auth(void *ctx, bool start, const struct http_response *resp)
{
    struct adapter_auth a;
    struct http_request req;
    char err[256] = "";
    int rc;

    memset(&a, 0, sizeof(a));
    rc = A->auth_parse(ctx, start, resp, &a);
    if (a.state >= ADAPTER_AUTH_STATE_MAX ||
        memchr(a.message, '\0', sizeof(a.message)) == NULL)
        abort();
    if ((rc != 0) != (a.state == ADAPTER_AUTH_FAILED))
        abort();
    if (a.state == ADAPTER_AUTH_FAILED)
        check_text(a.message, sizeof(a.message));
    if (a.state == ADAPTER_AUTH_DONE)
        check_token(a.tokens.access_token);
    if (a.state == ADAPTER_AUTH_SHOW_CODE) {
        if (a.user_code == NULL || a.verification_url == NULL ||
            a.interval_s <= 0 || a.expires_in_s <= 0)
            abort();
        /* What the reply gave must make a well-formed poll request. */
        http_request_init(&req);
        if (A->auth_poll(ctx, &a, &req, err, sizeof(err)) == 0)
            check_request(&req);
        http_request_release(&req);
    }
    adapter_auth_release(&a);
}

static void
check_page(void *ctx, enum adapter_feature f, const struct adapter_page *pg)
{
    struct http_request req;
    char err[256] = "";

    if (pg->n > 0 && pg->rows == NULL)
        abort();
    for (size_t i = 0; i < pg->n; i++) {
        const struct adapter_entry *e = &pg->rows[i];

        if (e->item.type >= ITEM_TYPE_MAX || e->rating < 0 || e->rating > 10 ||
            (e->progress != -1 && !(e->progress >= 0 && e->progress <= 100)))
            abort();
    }
    if (pg->next_cursor != NULL && A->build_index != NULL) {
        /* A cursor from a reply must make a well-formed next request. */
        http_request_init(&req);
        if (A->build_index(ctx, f, pg->next_cursor, &req, err, sizeof(err)) ==
            0)
            check_request(&req);
        http_request_release(&req);
    }
}

/* The delta-sync reads, for the features the adapter can be read for. */
static void
run_reads(void *ctx, const struct http_response *resp)
{
    int64_t cps[ADAPTER_FEATURE_MAX];
    struct adapter_page pg;
    char err[256] = "";

    if (A->parse_activities != NULL) {
        memset(cps, 0, sizeof(cps));
        if (A->parse_activities(ctx, resp, cps, err, sizeof(err)) == 0) {
            for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
                if (cps[f] < 0)
                    abort();
        } else {
            check_text(err, sizeof(err));
        }
    }
    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++) {
        if ((A->features & (1u << f)) == 0)
            continue;
        if (A->parse_index != NULL) {
            memset(&pg, 0, sizeof(pg));
            if (A->parse_index(ctx, (enum adapter_feature)f, resp, &pg, err,
                               sizeof(err)) == 0)
                check_page(ctx, (enum adapter_feature)f, &pg);
            else
                check_text(err, sizeof(err));
            adapter_page_release(&pg);
        }
        if (A->parse_delta != NULL) {
            memset(&pg, 0, sizeof(pg));
            if (A->parse_delta(ctx, (enum adapter_feature)f, resp, &pg, err,
                               sizeof(err)) == 0)
                check_page(ctx, (enum adapter_feature)f, &pg);
            else
                check_text(err, sizeof(err));
            adapter_page_release(&pg);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char base_url[] = "http://127.0.0.1:1/trakt", client_id[] = "x",
                secret[] = FUZZ_SECRET, access[] = FUZZ_ACCESS,
                refresh[] = FUZZ_REFRESH;
    static const struct provider_conf conf = {
        .present = true,
        .base_url = base_url,
        .client_id = client_id,
        .client_secret = secret,
        .access_token = access,
        .refresh_token = refresh,
        .write_interval_ms = -1,
    };
    const struct fuzz_set *set;
    struct op ops[FUZZ_OPS_MAX];
    const struct op *ptrs[FUZZ_OPS_MAX];
    struct http_response resp;
    char err[256] = "";
    void *ctx;
    bool found;

    if (size > 1 << 20 || size < 3)
        return 0;
    ctx = A->init(&conf, NULL, NULL, err, sizeof(err));
    if (ctx == NULL)
        abort();
    set = &fuzz_sets[data[0] % FUZZ_NSETS];
    make_ops(set, ops);
    for (size_t i = 0; i < set->n; i++)
        ptrs[i] = &ops[i];
    make_resp(&resp, fuzz_status[data[1] % FUZZ_NSTATUS], data[2], data + 3,
              size - 3);

    run_classify(ctx, ptrs, set->n, &resp);
    run_refresh(ctx, &resp);
    for (size_t i = 0; i < set->n; i++) {
        found = true;
        if (A->parse_history_check(ctx, ptrs[i], &resp, &found) != 0 && found)
            abort(); /* cannot tell is never "found" */
    }
    run_auth(ctx, true, &resp);
    run_auth(ctx, false, &resp);
    run_reads(ctx, &resp);

    http_response_release(&resp);
    for (size_t i = 0; i < set->n; i++)
        op_release(&ops[i]);
    A->free(ctx);
    return 0;
}
