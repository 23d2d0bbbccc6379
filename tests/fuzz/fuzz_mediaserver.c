/*
 * fuzz_mediaserver: the media-server adapters' reads and verdicts (Plex,
 * Jellyfin, Emby: PROVIDERS.md B5, B6).
 * Input: byte 0 picks the adapter (fuzz_adapters), byte 1 the HTTP status
 * (fuzz_status), byte 2 the read: bits 0-1 the feature (fuzz_features),
 * 0x04 a delta read instead of an index read, 0x08/0x10/0x20 add the
 * headers X-Plex-Container-Total-Size, Date and Retry-After, whose value is
 * then the first line of the rest; 0x40 configures Jellyfin and Emby with
 * providers.*.token instead of api_key. The rest is the body (status 0: the
 * transport error, as fetch.c reports it).
 * A read is driven as the poller drives it: build the first request
 * (cursor NULL), parse the reply, and while a next cursor comes back build
 * the request it names and parse the same reply again (the adapters keep
 * per-read state between build and parse, so a parse always follows its
 * build). The fixed write operations are built and classified against the
 * same reply.
 * Invariants: outcomes in range; reasons and errors NUL-terminated, escaped
 * (STYLE.md 29) and never holding the token or api key in use (a secret
 * the adapter never sends cannot come back in a reply); rows typed
 * movie/show/season/episode with ratings 0-10 (1-10 where rated), never
 * both library_only and removed (library_only only in index reads, removed
 * only in deltas); every URL under a configured base without blanks or
 * control bytes; header lines single lines.
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

#define FUZZ_T0        1740948430 /* 2025-03-02T20:47:10Z: the delta since */
#define FUZZ_STEPS     4          /* pages read per input */
#define FUZZ_TOKEN     "fz-plex-TOKEN-5f1c2a"
#define FUZZ_API_KEY   "fz-mb-APIKEY-9d3e7b"
#define FUZZ_BASE      "http://127.0.0.1:1/server"
#define FUZZ_DISCOVER  "http://127.0.0.1:2/discover"
#define FUZZ_METADATA  "http://127.0.0.1:3/metadata"
#define FUZZ_USER_ID   "0123456789abcdef0123456789abcdef"
#define FUZZ_JELLYFIN  "5c1a2b3c4d5e6f708192a3b4c5d6e7f8"
#define FUZZ_PLEX_GUID "plex://show/5d9c086c46115600200aa2fe"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct adapter_ops *const fuzz_adapters[] = {
    &adapter_plex,
    &adapter_jellyfin,
    &adapter_emby,
};
#define FUZZ_NADAPTERS (sizeof(fuzz_adapters) / sizeof(fuzz_adapters[0]))

static const long fuzz_status[] = {200, 201, 204, 400, 401, 403, 404,
                                   409, 429, 498, 500, 503, 0};
#define FUZZ_NSTATUS (sizeof(fuzz_status) / sizeof(fuzz_status[0]))

static const enum adapter_feature fuzz_features[] = {
    ADAPTER_HISTORY,
    ADAPTER_RATINGS,
    ADAPTER_WATCHLIST,
    ADAPTER_HISTORY,
};

/* The secret the adapter sends (set per input). */
static const char *fuzz_secret;

/* The write operations classified against every reply: each server's own
 * id is set, and the watchlist add has the plex:// guid Discover needs. */
struct fuzz_op_spec {
    enum op_kind kind;
    enum item_type type;
    const char *title;
    int season, episode;
};

static const struct fuzz_op_spec fuzz_ops[] = {
    {OP_HISTORY_ADD, ITEM_MOVIE, "Arrival", -1, -1},
    {OP_RATING_SET, ITEM_EPISODE, NULL, 1, 2},
    {OP_WATCHLIST_ADD, ITEM_SHOW, "Severance", -1, -1},
};
#define FUZZ_NOPS (sizeof(fuzz_ops) / sizeof(fuzz_ops[0]))

static void
make_op(const struct fuzz_op_spec *sp, struct op *op)
{
    op_init(op);
    op->kind = sp->kind;
    op->target = xstrdup("server");
    op->item.type = sp->type;
    if (sp->title != NULL)
        op->item.title = xstrdup(sp->title);
    op->item.season = sp->season;
    op->item.episode = sp->episode;
    if (item_ids_set(&op->item.ids, ITEM_ID_PLEX, "4711") != 0 ||
        item_ids_set(&op->item.ids, ITEM_ID_JELLYFIN, FUZZ_JELLYFIN) != 0 ||
        item_ids_set(&op->item.ids, ITEM_ID_EMBY, "1234") != 0)
        abort();
    if (sp->type == ITEM_MOVIE &&
        item_ids_set(&op->item.ids, ITEM_ID_TMDB, "329865") != 0)
        abort();
    if (sp->type == ITEM_EPISODE) {
        op->item.show_title = xstrdup("Severance");
        if (item_ids_set(&op->item.show_ids, ITEM_ID_TVDB, "371980") != 0)
            abort();
    }
    if (sp->type == ITEM_SHOW &&
        item_ids_set(&op->item.ids, ITEM_ID_GUID, FUZZ_PLEX_GUID) != 0)
        abort();
    op->rating = 8;
    op->watched_at = FUZZ_T0;
    op->rated_at = FUZZ_T0;
    op_finish(op);
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
    if (flags & 0x38) {
        const uint8_t *nl = memchr(p, '\n', len);
        size_t vlen = nl != NULL ? (size_t)(nl - p) : len;
        char *value = xstrndup((const char *)p, vlen);

        if (flags & 0x08)
            add_header(r, "X-Plex-Container-Total-Size", value);
        if (flags & 0x10)
            add_header(r, "Date", value);
        if (flags & 0x20)
            add_header(r, "Retry-After", value);
        free(value);
        p += vlen + (nl != NULL);
        len -= vlen + (nl != NULL);
    }
    if (status == 0) {
        r->error = xstrndup((const char *)p, len);
        r->body = xstrdup("");
    } else {
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
    if (strstr(s, fuzz_secret) != NULL)
        abort();
}

/* An error: said (not empty) and safe to show. */
static void
check_err(const char *err, size_t cap)
{
    check_text(err, cap);
    if (err[0] == '\0')
        abort();
}

/* A request under one of the configured bases, its URL free of blanks and
 * control bytes, its headers single lines. */
static void
check_request(const struct http_request *req)
{
    static const char *const bases[] = {FUZZ_BASE "/", FUZZ_DISCOVER "/",
                                        FUZZ_METADATA "/"};
    bool under = false;

    if (req->url == NULL)
        abort();
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
        under = under || str_has_prefix(req->url, bases[i]);
    if (!under)
        abort();
    for (const char *s = req->url; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            abort();
    for (size_t i = 0; i < req->n_headers; i++)
        if (strpbrk(req->headers[i], "\r\n") != NULL)
            abort();
}

static void
check_page(enum adapter_feature f, bool delta, const struct adapter_page *pg)
{
    if (pg->n > 0 && pg->rows == NULL)
        abort();
    if (pg->watermark < 0 || (!delta && pg->watermark != 0))
        abort();
    for (size_t i = 0; i < pg->n; i++) {
        const struct adapter_entry *e = &pg->rows[i];
        enum item_type t = e->item.type;

        if (t == ITEM_NONE || t >= ITEM_TYPE_MAX)
            abort();
        if (e->rating < 0 || e->rating > 10)
            abort();
        if (f == ADAPTER_RATINGS && !e->library_only && !e->removed &&
            e->rating < 1)
            abort(); /* a rated row has a rating */
        if (e->library_only && e->removed)
            abort();
        if ((delta && e->library_only) || (!delta && e->removed))
            abort();
        if (e->watched_at < 0 || e->rated_at < 0 || e->listed_at < 0)
            abort();
    }
}

/* One read of feature f, page by page, every page parsed from resp. */
static void
run_read(const struct adapter_ops *a, void *ctx, enum adapter_feature f,
         bool delta, const struct http_response *resp)
{
    struct http_request req;
    struct adapter_page pg;
    char *cursor = NULL;
    char err[256];
    int rc;

    for (int step = 0; step <= FUZZ_STEPS; step++) {
        err[0] = '\0';
        http_request_init(&req);
        if (delta)
            rc =
                a->build_delta(ctx, f, FUZZ_T0, cursor, &req, err, sizeof(err));
        else
            rc = a->build_index(ctx, f, cursor, &req, err, sizeof(err));
        if (rc != 0) {
            check_err(err, sizeof(err));
            http_request_release(&req);
            break;
        }
        check_request(&req);
        http_request_release(&req);
        if (step == FUZZ_STEPS)
            break; /* the cursor made a well-formed request: enough */
        memset(&pg, 0, sizeof(pg));
        err[0] = '\0';
        if (delta)
            rc = a->parse_delta(ctx, f, resp, &pg, err, sizeof(err));
        else
            rc = a->parse_index(ctx, f, resp, &pg, err, sizeof(err));
        if (rc != 0) {
            check_err(err, sizeof(err));
            adapter_page_release(&pg);
            break;
        }
        check_page(f, delta, &pg);
        free(cursor);
        cursor = pg.next_cursor;
        pg.next_cursor = NULL;
        adapter_page_release(&pg);
        if (cursor == NULL)
            break;
    }
    free(cursor);
}

/* Build each fixed operation and classify the reply for it. */
static void
run_writes(const struct adapter_ops *a, void *ctx,
           const struct http_response *resp)
{
    for (size_t i = 0; i < FUZZ_NOPS; i++) {
        struct op op;
        const struct op *ptr = &op;
        struct http_request req;
        struct adapter_result res;
        char err[256] = "";

        make_op(&fuzz_ops[i], &op);
        http_request_init(&req);
        if (a->build(ctx, &ptr, 1, &req, err, sizeof(err)) != 0)
            abort(); /* every operation carries what each server needs */
        check_request(&req);
        http_request_release(&req);

        memset(&res, 0x5a, sizeof(res));
        a->classify(ctx, &ptr, 1, resp, &res);
        if (res.outcome >= ADAPTER_OUTCOME_MAX || res.retry_after_ms < 0)
            abort();
        check_text(res.reason, sizeof(res.reason));
        if ((res.outcome == ADAPTER_PERMANENT ||
             res.outcome == ADAPTER_PAUSE) &&
            res.reason[0] == '\0')
            abort(); /* a dead letter says why */
        if (res.outcome == ADAPTER_RATE && res.retry_after_ms <= 0)
            abort();
        if (res.outcome == ADAPTER_REFRESH)
            abort(); /* no OAuth refresh on a media server */
        op_release(&op);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char base_url[] = FUZZ_BASE "/", token[] = FUZZ_TOKEN,
                api_key[] = FUZZ_API_KEY, user_id[] = FUZZ_USER_ID,
                discover[] = FUZZ_DISCOVER, metadata[] = FUZZ_METADATA;
    static const struct provider_conf conf = {
        .present = true,
        .base_url = base_url,
        .token = token,
        .api_key = api_key,
        .user_id = user_id,
        .discover_url = discover,
        .metadata_url = metadata,
        .write_interval_ms = -1,
    };
    static const struct provider_conf conf_token = {
        .present = true,
        .base_url = base_url,
        .token = token,
        .user_id = user_id,
        .write_interval_ms = -1,
    };
    const struct adapter_ops *a;
    enum adapter_feature f;
    struct http_response resp;
    char err[256] = "";
    bool delta;
    void *ctx;

    if (size > 1 << 20 || size < 3)
        return 0;
    a = fuzz_adapters[data[0] % FUZZ_NADAPTERS];
    if (a == &adapter_plex || (data[2] & 0x40) == 0) {
        ctx = a->init(&conf, NULL, NULL, err, sizeof(err));
        fuzz_secret = a == &adapter_plex ? FUZZ_TOKEN : FUZZ_API_KEY;
    } else {
        ctx = a->init(&conf_token, NULL, NULL, err, sizeof(err));
        fuzz_secret = FUZZ_TOKEN;
    }
    if (ctx == NULL)
        abort();
    f = fuzz_features[data[2] & 0x03];
    delta = (data[2] & 0x04) != 0;
    make_resp(&resp, fuzz_status[data[1] % FUZZ_NSTATUS], data[2], data + 3,
              size - 3);

    run_read(a, ctx, f, delta, &resp);
    run_writes(a, ctx, &resp);

    http_response_release(&resp);
    a->free(ctx);
    return 0;
}
