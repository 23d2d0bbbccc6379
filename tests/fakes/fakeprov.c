/*
 * fakeprov: faithful fakes of the Trakt and SIMKL APIs (PROVIDERS.md B1, B2)
 * and of Plex, plex.tv Discover/metadata, Jellyfin and Emby (B5, B6) on one
 * loopback port, for watchrelay's integration tests, benchmarks and demo.
 * Trakt is served under /trakt (API and OAuth host alike), SIMKL under
 * /simkl, the media servers under /plex, /plex-discover, /plex-metadata,
 * /jellyfin and /emby, and a control API under /_fake (state dumps, the
 * request log, fault injection, approving device codes, expiring tokens,
 * the catalog, media libraries).
 *
 *   fakeprov --port N [options]      (N = 0 picks a free port)
 *
 * Prints "ready port=N" on stdout once listening on 127.0.0.1; exits 0 on
 * SIGTERM/SIGINT. tests/fakes/README.md documents the options and the
 * control API. The fake is at least as strict as the real services about
 * headers, bodies and status codes: tests must pass against fakes that
 * nobody here wrote.
 */
#include "fake_control.h"
#include "fake_core.h"
#include "fake_mb.h"
#include "fake_media.h"
#include "fake_plan.h"
#include "fake_plex.h"
#include "fake_simkl.h"
#include "fake_trakt.h"

/* ---- routing ---------------------------------------------------------- */

enum {
    RT_AUTH = 1u << 0,  /* OAuth bearer token required */
    RT_WRITE = 1u << 1, /* a write for the rate limits */
    RT_OAUTH = 1u << 2, /* an /oauth endpoint (client credentials) */
    RT_BODY = 1u << 3   /* a JSON body is required */
};

struct fk_route {
    const char *method;
    const char *pattern; /* "*" one segment; a final "**" any number */
    unsigned flags;
    void (*fn)(struct fk_req *r);
};

static const struct fk_route trakt_routes[] = {
    {"POST", "/scrobble/*", RT_AUTH | RT_WRITE | RT_BODY, trakt_scrobble},
    {"POST", "/sync/history", RT_AUTH | RT_WRITE | RT_BODY, trakt_history_add},
    {"POST", "/sync/history/remove", RT_AUTH | RT_WRITE | RT_BODY,
     trakt_history_remove},
    {"GET", "/sync/history/**", RT_AUTH, trakt_history_get},
    {"POST", "/sync/ratings", RT_AUTH | RT_WRITE | RT_BODY, trakt_ratings_add},
    {"POST", "/sync/ratings/remove", RT_AUTH | RT_WRITE | RT_BODY,
     trakt_ratings_remove},
    {"GET", "/sync/ratings/**", RT_AUTH, trakt_ratings_get},
    {"POST", "/sync/watchlist", RT_AUTH | RT_WRITE | RT_BODY,
     trakt_watchlist_add},
    {"POST", "/sync/watchlist/remove", RT_AUTH | RT_WRITE | RT_BODY,
     trakt_watchlist_remove},
    {"GET", "/sync/watchlist/**", RT_AUTH, trakt_watchlist_get},
    {"GET", "/sync/last_activities", RT_AUTH, trakt_last_activities},
    {"GET", "/sync/playback/**", RT_AUTH, trakt_playback_get},
    {"DELETE", "/sync/playback/*", RT_AUTH | RT_WRITE, trakt_playback_delete},
    {"GET", "/sync/watched/*", RT_AUTH, trakt_watched_get},
    {"POST", "/oauth/device/code", RT_OAUTH | RT_BODY, trakt_device_code},
    {"POST", "/oauth/device/token", RT_OAUTH | RT_BODY, trakt_device_token},
    {"POST", "/oauth/token", RT_OAUTH | RT_BODY, trakt_oauth_token},
    {"POST", "/oauth/revoke", RT_OAUTH | RT_BODY, trakt_oauth_revoke},
    {NULL, NULL, 0, NULL}};

static const struct fk_route simkl_routes[] = {
    {"POST", "/scrobble/*", RT_AUTH | RT_WRITE | RT_BODY, simkl_scrobble},
    {"POST", "/sync/history", RT_AUTH | RT_WRITE | RT_BODY, simkl_history_add},
    {"POST", "/sync/history/remove", RT_AUTH | RT_WRITE | RT_BODY,
     simkl_history_remove},
    {"POST", "/sync/add-to-list", RT_AUTH | RT_WRITE | RT_BODY,
     simkl_add_to_list},
    {"POST", "/sync/ratings", RT_AUTH | RT_WRITE | RT_BODY, simkl_ratings_add},
    {"POST", "/sync/ratings/remove", RT_AUTH | RT_WRITE | RT_BODY,
     simkl_ratings_remove},
    {"GET", "/sync/ratings/**", RT_AUTH, simkl_ratings_get},
    {"POST", "/sync/ratings/*/**", RT_AUTH, simkl_ratings_get},
    {"GET", "/sync/activities", RT_AUTH, simkl_activities},
    {"POST", "/sync/activities", RT_AUTH, simkl_activities},
    {"GET", "/sync/all-items/**", RT_AUTH, simkl_all_items},
    {"GET", "/sync/playback/**", RT_AUTH, simkl_playback_get},
    {"DELETE", "/sync/playback/*", RT_AUTH | RT_WRITE, simkl_playback_delete},
    {"POST", "/users/settings", RT_AUTH, simkl_users_settings},
    {"GET", "/oauth/pin", RT_OAUTH, simkl_pin_new},
    {"GET", "/oauth/pin/*", RT_OAUTH, simkl_pin_poll},
    {"POST", "/oauth/token", RT_OAUTH | RT_BODY, simkl_oauth_token},
    {NULL, NULL, 0, NULL}};

static bool
route_path_matches(const struct fk_route *rt, struct fk_req *r)
{
    const char *p = rt->pattern;
    size_t i = 0;

    while (*p == '/') {
        size_t n;

        p++;
        n = strcspn(p, "/");
        if (n == 2 && strncmp(p, "**", 2) == 0)
            return true;
        if (i >= r->nsegs)
            return false;
        if (!(n == 1 && *p == '*') &&
            (strlen(r->segs[i]) != n || strncmp(p, r->segs[i], n) != 0))
            return false;
        i++;
        p += n;
    }
    return i == r->nsegs;
}

/* The route for r; NULL with *status 404 or 405. */
static const struct fk_route *
route_find(const struct fk_route *table, struct fk_req *r, int *status)
{
    bool path_seen = false;

    *status = 404;
    if (r->too_many_segs)
        return NULL;
    for (const struct fk_route *rt = table; rt->method != NULL; rt++) {
        if (!route_path_matches(rt, r))
            continue;
        path_seen = true;
        if (strcmp(rt->method, r->method) == 0)
            return rt;
    }
    if (path_seen)
        *status = 405;
    return NULL;
}

/* ---- request log ------------------------------------------------------ */

static void
log_add(struct fake *f, struct fk_req *r, const char *full_path,
        const char *query)
{
    struct json_object *rec = json_object_new_object();
    struct json_object *hdrs = json_object_new_object();
    struct evkeyval *kv;
    char at[FK_ISO_BUF];
    size_t len = json_object_array_length(f->log);

    if (len >= FK_LOG_MAX) {
        json_object_array_del_idx(f->log, 0, FK_LOG_MAX / 2);
        f->log_dropped += FK_LOG_MAX / 2;
    }
    fk_iso(fk_now_ms(f), true, at);
    fk_set(rec, "seq", json_object_new_int64(++f->log_seq));
    fk_set(rec, "provider", json_object_new_string(fk_prov_name(r->prov)));
    fk_set(rec, "method", json_object_new_string(r->method));
    fk_set(rec, "path", json_object_new_string(full_path));
    fk_set(rec, "endpoint", json_object_new_string(r->path));
    fk_set(rec, "query", query != NULL ? json_object_new_string(query) : NULL);
    fk_set(rec, "t_ms", json_object_new_int64(r->t_ms));
    fk_set(rec, "at", json_object_new_string(at));
    fk_set(rec, "wall_ms", json_object_new_int64(fk_now_ms(f)));
    fk_set(rec, "status", NULL);
    TAILQ_FOREACH (kv, evhttp_request_get_input_headers(r->req), next) {
        char name[128];
        size_t i;

        for (i = 0; kv->key[i] != '\0' && i + 1 < sizeof(name); i++)
            name[i] = (char)tolower((unsigned char)kv->key[i]);
        name[i] = '\0';
        if (strcmp(name, "authorization") == 0) {
            char masked[40];
            size_t n = strcspn(kv->value, " ");

            if (n > 20)
                n = 20;
            memcpy(masked, kv->value, n);
            memcpy(masked + n, " ***", 5);
            fk_set(hdrs, name, json_object_new_string(masked));
        } else {
            fk_set(hdrs, name, json_object_new_string(kv->value));
        }
    }
    fk_set(rec, "headers", hdrs);
    /* The body stays text here (cheap); /_fake/requests parses it. */
    if (r->body_len > 0)
        fk_set(rec, "body_raw",
               json_object_new_string_len(r->body, r->body_len > FK_LOG_BODY_MAX
                                                       ? FK_LOG_BODY_MAX
                                                       : (int)r->body_len));
    fk_set(rec, "body_len", json_object_new_int64((int64_t)r->body_len));
    json_object_array_add(f->log, rec);
    r->rec = json_object_get(rec);
}

static void
log_note(struct fk_req *r, const char *key, struct json_object *v)
{
    if (r->rec != NULL)
        fk_set(r->rec, key, v);
    else
        json_object_put(v);
}

/* ---- request lifetime ------------------------------------------------- */

static void
req_free(struct fk_req *r)
{
    if (r == NULL)
        return;
    if (r->timer != NULL)
        event_free(r->timer);
    if (r->simkl_holding) {
        r->f->simkl_busy--;
        r->f->simkl_last_write_end = fk_mono(r->f);
    }
    fk_reply_reset(r);
    free(r->path);
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    evhttp_clear_headers(&r->query);
    json_object_put(r->json);
    json_object_put(r->rec);
    json_object_put(r->fault);
    free(r);
}

static struct fk_req *
req_new(struct fake *f, struct evhttp_request *req)
{
    struct fk_req *r = xcalloc(1, sizeof(*r));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *rel = "";

    r->f = f;
    r->req = req;
    r->t_ms = fk_mono(f);
    TAILQ_INIT(&r->query);
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        r->method = "GET";
        break;
    case EVHTTP_REQ_POST:
        r->method = "POST";
        break;
    case EVHTTP_REQ_PUT:
        r->method = "PUT";
        break;
    case EVHTTP_REQ_DELETE:
        r->method = "DELETE";
        break;
    case EVHTTP_REQ_HEAD:
        r->method = "HEAD";
        break;
    default:
        r->method = "OTHER";
        break;
    }
    if (path == NULL)
        path = "/";
    r->prov = FK_NONE;
    if (strncmp(path, "/trakt/", 7) == 0) {
        r->prov = FK_TRAKT;
        rel = path + 6;
    } else if (strncmp(path, "/simkl/", 7) == 0) {
        r->prov = FK_SIMKL;
        rel = path + 6;
    } else if (strncmp(path, "/_fake/", 7) == 0) {
        r->prov = FK_CONTROL;
        rel = path + 6;
    } else if (strncmp(path, "/plex/", 6) == 0) {
        r->prov = FK_PLEX;
        rel = path + 5;
    } else if (strncmp(path, "/plex-discover/", 15) == 0) {
        r->prov = FK_PLEX_DISCOVER;
        rel = path + 14;
    } else if (strncmp(path, "/plex-metadata/", 15) == 0) {
        r->prov = FK_PLEX_METADATA;
        rel = path + 14;
    } else if (strncmp(path, "/jellyfin/", 10) == 0) {
        r->prov = FK_JELLYFIN;
        rel = path + 9;
    } else if (strncmp(path, "/emby/", 6) == 0) {
        r->prov = FK_EMBY;
        rel = path + 5;
        /* Emby answers with or without its own /emby prefix. */
        if (strncasecmp(rel, "/emby/", 6) == 0)
            rel += 5;
    }
    r->path = xstrdup(rel);
    for (const char *p = rel; *p != '\0';) {
        size_t n;

        while (*p == '/')
            p++;
        n = strcspn(p, "/");
        if (n == 0)
            break;
        if (r->nsegs == FK_MAX_SEGS) {
            r->too_many_segs = true;
            break;
        }
        r->segs[r->nsegs++] = xstrndup(p, n);
        p += n;
    }
    if (query != NULL && evhttp_parse_query_str(query, &r->query) != 0)
        r->query_bad = true;
    r->body_len = evbuffer_get_length(in);
    if (r->body_len > 0)
        r->body = (const char *)evbuffer_pullup(in, -1);
    if (r->body == NULL)
        r->body_len = 0;
    if (r->prov != FK_CONTROL && r->prov != FK_NONE) {
        r->is_write = strcmp(r->method, "GET") != 0;
        log_add(f, r, path, query);
    }
    return r;
}

static void
req_send(struct fk_req *r)
{
    struct evkeyvalq *out_h = evhttp_request_get_output_headers(r->req);
    struct evbuffer *body = NULL;
    const char *data = NULL;
    size_t len = 0;

    if (r->resp != NULL)
        data = jsonu_str(r->resp, &len);
    else if (r->raw != NULL) {
        data = r->raw;
        len = strlen(r->raw);
    }
    for (size_t i = 0; i < r->nhdrs; i++)
        evhttp_add_header(out_h, r->hdrs[i].name, r->hdrs[i].value);
    if (fk_prov_is_media(r->prov) &&
        evhttp_find_header(out_h, "Date") == NULL) {
        char date[FK_ISO_BUF];

        /* The media servers' Date header comes from the fake clock. */
        media_http_date(fk_now_ms(r->f), date);
        evhttp_add_header(out_h, "Date", date);
    }
    if (data != NULL && strcmp(r->method, "HEAD") == 0) {
        /* HEAD: the headers of the GET, no body. */
        evhttp_add_header(out_h, "Content-Type",
                          r->ctype != NULL ? r->ctype : "application/json");
        data = NULL;
    }
    if (data != NULL) {
        body = evbuffer_new();
        if (body == NULL || evbuffer_add(body, data, len) != 0) {
            if (body != NULL)
                evbuffer_free(body);
            evhttp_send_error(r->req, 500, NULL);
            return;
        }
        evhttp_add_header(out_h, "Content-Type",
                          r->ctype != NULL ? r->ctype : "application/json");
    }
    evhttp_send_reply(r->req, r->status, fk_reason(r->status), body);
    if (body != NULL)
        evbuffer_free(body);
}

static void
req_finish(struct fk_req *r)
{
    struct fake *f = r->f;

    if (r->prev != NULL)
        r->prev->next = r->next;
    else if (f->pending == r)
        f->pending = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    log_note(r, "done_ms", json_object_new_int64(fk_mono(f)));
    if (r->after == FK_AFTER_DROP) {
        struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
        struct evhttp_request *req = r->req;

        log_note(r, "status", json_object_new_int(0));
        log_note(r, "dropped", json_object_new_boolean(true));
        if (f->cfg.verbose)
            fprintf(stderr, "fakeprov: %s %s -> dropped\n", r->method, r->path);
        req_free(r);
        /* Frees the request too; we run from a timer, outside evhttp. A
         * client that already left detached the request: free it alone. */
        if (conn != NULL)
            evhttp_connection_free(conn);
        else
            evhttp_request_free(req);
        return;
    }
    log_note(r, "status", json_object_new_int(r->status));
    if (f->cfg.verbose)
        fprintf(stderr, "fakeprov: %s %s -> %d\n", r->method, r->path,
                r->status);
    req_send(r);
    req_free(r);
}

static void
req_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    req_finish(arg);
}

/* Reply now, or after delay_ms (drops always go through the timer). */
static void
req_schedule(struct fk_req *r, int64_t delay_ms)
{
    struct fake *f = r->f;
    struct timeval tv;

    if (delay_ms <= 0 && r->after == FK_AFTER_SEND) {
        req_finish(r);
        return;
    }
    if (delay_ms < 0)
        delay_ms = 0;
    r->timer = evtimer_new(f->base, req_timer_cb, r);
    tv.tv_sec = (time_t)(delay_ms / 1000);
    tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
    if (r->timer == NULL || evtimer_add(r->timer, &tv) != 0) {
        r->after = FK_AFTER_SEND;
        fk_reply_empty(r, 500);
        req_finish(r);
        return;
    }
    r->next = f->pending;
    if (f->pending != NULL)
        f->pending->prev = r;
    f->pending = r;
}

/* ---- rate limits ------------------------------------------------------ */

static void
trakt_429(struct fk_req *r, const char *name, int64_t period_s, int64_t limit,
          int64_t wait_ms)
{
    int64_t retry = (wait_ms + 999) / 1000;
    char until[FK_ISO_BUF];

    if (retry < 1)
        retry = 1;
    fk_iso(fk_now_ms(r->f) + wait_ms, false, until);
    fk_header(r, "Retry-After", "%" PRId64, retry);
    fk_header(r, "X-Ratelimit",
              "{\"name\":\"%s\",\"period\":%" PRId64 ",\"limit\":%" PRId64
              ",\"remaining\":0,\"until\":\"%s\"}",
              name, period_s, limit, until);
    fk_reply_empty(r, 429);
    log_note(r, "rate_limited", json_object_new_boolean(true));
}

/* false (with a 429 on r) when the request is over a Trakt limit. */
static bool
trakt_rate(struct fk_req *r)
{
    struct fake *f = r->f;
    int64_t now = fk_mono(f);

    if (!f->cfg.rate_limit)
        return true;
    if (r->is_write) {
        int64_t iv = f->cfg.trakt_write_interval_ms;

        if (f->trakt_last_write >= 0 && now - f->trakt_last_write < iv) {
            trakt_429(r, "AUTHED_API_POST_LIMIT", (iv + 999) / 1000, 1,
                      f->trakt_last_write + iv - now);
            return false;
        }
        f->trakt_last_write = now;
        return true;
    }
    if (f->trakt_reads_n == f->trakt_reads_cap) {
        int64_t oldest = f->trakt_reads[f->trakt_reads_head];
        int64_t window = f->cfg.trakt_read_window_s * 1000;

        if (now - oldest < window) {
            trakt_429(r, "AUTHED_API_GET_LIMIT", f->cfg.trakt_read_window_s,
                      f->cfg.trakt_read_limit, oldest + window - now);
            return false;
        }
        f->trakt_reads[f->trakt_reads_head] = now;
        f->trakt_reads_head = (f->trakt_reads_head + 1) % f->trakt_reads_cap;
        return true;
    }
    f->trakt_reads[(f->trakt_reads_head + f->trakt_reads_n) %
                   f->trakt_reads_cap] = now;
    f->trakt_reads_n++;
    return true;
}

static bool
simkl_rate(struct fk_req *r)
{
    struct fake *f = r->f;
    int64_t now = fk_mono(f), iv = f->cfg.simkl_write_interval_ms;

    if (!f->cfg.rate_limit || !r->is_write)
        return true;
    if (f->simkl_busy > 0 ||
        (f->simkl_last_write_end >= 0 && now - f->simkl_last_write_end < iv)) {
        int64_t wait =
            f->simkl_busy > 0 ? iv : f->simkl_last_write_end + iv - now;

        fk_header(r, "Retry-After", "%" PRId64,
                  wait < 1000 ? (int64_t)1 : (wait + 999) / 1000);
        fk_reply_error(r, 429, "rate_limit",
                       "writes are processed one at a time; retry later");
        log_note(r, "rate_limited", json_object_new_boolean(true));
        return false;
    }
    f->simkl_busy++;
    r->simkl_holding = true;
    return true;
}

/* ---- header and credential checks ------------------------------------- */

static bool
trakt_check(struct fk_req *r, const struct fk_route *rt)
{
    struct fake *f = r->f;
    const char *ua = fk_in_header(r, "User-Agent");
    const char *ct = fk_in_header(r, "Content-Type");
    const char *ver = fk_in_header(r, "trakt-api-version");
    const char *key = fk_in_header(r, "trakt-api-key");
    bool need_ct = strcmp(r->method, "GET") != 0 || r->body_len > 0 ||
                   f->cfg.trakt_ct_on_get;

    if (ua == NULL || *ua == '\0') {
        /* Trakt's Cloudflare front blocks requests without a User-Agent. */
        fk_reply_empty(r, 403);
        r->raw = xstrdup("<!DOCTYPE html><title>Attention Required! | "
                         "Cloudflare</title><h1>Sorry, you have been "
                         "blocked</h1>\n");
        r->ctype = "text/html; charset=UTF-8";
        log_note(r, "reject", json_object_new_string("user-agent"));
        return false;
    }
    if (need_ct && !fk_ctype_is_json(ct)) {
        fk_reply_empty(r, 412);
        log_note(r, "reject", json_object_new_string("content-type"));
        return false;
    }
    if (rt->flags & RT_OAUTH)
        return true;
    if (ver == NULL || strcmp(ver, "2") != 0) {
        fk_reply_empty(r, 403);
        log_note(r, "reject", json_object_new_string("trakt-api-version"));
        return false;
    }
    if (key == NULL || strcmp(key, f->cfg.client_id) != 0) {
        fk_reply_empty(r, 403);
        log_note(r, "reject", json_object_new_string("trakt-api-key"));
        return false;
    }
    if ((rt->flags & RT_AUTH) && !trakt_token_ok(f, fk_bearer(r))) {
        fk_header(r, "WWW-Authenticate",
                  "Bearer realm=\"trakt\", error=\"invalid_token\", "
                  "error_description=\"The access token is invalid\"");
        fk_reply_empty(r, 401);
        log_note(r, "reject", json_object_new_string("oauth"));
        return false;
    }
    return trakt_rate(r);
}

static bool
simkl_check(struct fk_req *r, const struct fk_route *rt)
{
    struct fake *f = r->f;
    const char *hdr = fk_in_header(r, "simkl-api-key");
    const char *q = fk_query(r, "client_id");
    const char *ct = fk_in_header(r, "Content-Type");
    const char *id = f->cfg.simkl_client_id;
    bool body_creds = (rt->flags & RT_OAUTH) && (rt->flags & RT_BODY);

    if ((hdr == NULL && q == NULL && !body_creds) ||
        (hdr != NULL && strcmp(hdr, id) != 0) ||
        (q != NULL && strcmp(q, id) != 0)) {
        fk_reply_error(r, 412, "client_id_failed",
                       "client_id is missing or wrong");
        log_note(r, "reject", json_object_new_string("client_id"));
        return false;
    }
    if (strcmp(r->method, "POST") == 0 && r->body_len > 0 &&
        !fk_ctype_is_json(ct)) {
        fk_reply_error(r, 400, "bad_request",
                       "Content-Type must be application/json");
        log_note(r, "reject", json_object_new_string("content-type"));
        return false;
    }
    if (rt->flags & RT_OAUTH)
        return true;
    if ((rt->flags & RT_AUTH) && !simkl_token_ok(f, fk_bearer(r))) {
        fk_reply_error(r, 401, "user_token_failed",
                       "the user token is missing or invalid");
        log_note(r, "reject", json_object_new_string("oauth"));
        return false;
    }
    return simkl_rate(r);
}

/* Run r through its provider: route, checks, body, handler. With rollback,
 * a successful write is answered but its state change is thrown away. */
static void
provider_process(struct fk_req *r, bool rollback)
{
    struct fake *f = r->f;
    const struct fk_route *rt;
    const char *name = fk_prov_name(r->prov);
    struct json_object *snap = NULL;
    int status;

    if (fk_prov_is_media(r->prov)) {
        /* The Plex hosts share the "plex" state (the Discover watchlist). */
        name = fk_srv_name[media_server_of(r->prov)];
        if (rollback &&
            json_object_deep_copy(fk_get(f->st, name), &snap, NULL) != 0)
            snap = NULL;
        if (r->prov == FK_JELLYFIN || r->prov == FK_EMBY)
            mb_dispatch(r);
        else
            plex_dispatch(r);
        if (r->is_write || snap != NULL)
            f->media_gen++;
        if (snap != NULL) {
            if (r->status >= 200 && r->status < 300)
                fk_set(f->st, name, snap);
            else
                json_object_put(snap);
        }
        return;
    }
    rt = route_find(r->prov == FK_TRAKT ? trakt_routes : simkl_routes, r,
                    &status);
    if (rt == NULL) {
        if (r->prov == FK_TRAKT)
            fk_reply_empty(r, status);
        else
            fk_reply_error(r, status, "not_found", "no such endpoint");
        return;
    }
    r->is_write = (rt->flags & RT_WRITE) != 0;
    log_note(r, "write", json_object_new_boolean(r->is_write));
    if (!(r->prov == FK_TRAKT ? trakt_check(r, rt) : simkl_check(r, rt)))
        return;
    if (r->query_bad) {
        fk_reply_error(r, 400, "bad_request", "malformed query string");
        return;
    }
    if ((rt->flags & RT_BODY) || r->body_len > 0) {
        char err[160];

        if (r->body_len == 0) {
            fk_reply_error(r, 400, "bad_request", "a JSON body is required");
            return;
        }
        r->json =
            jsonu_parse(r->body, r->body_len, FK_JSON_DEPTH, err, sizeof(err));
        if (r->json == NULL) {
            fk_reply_error(r, 400, "bad_request", "invalid JSON: %s", err);
            return;
        }
    }
    if (rollback &&
        json_object_deep_copy(fk_get(f->st, name), &snap, NULL) != 0)
        snap = NULL;
    rt->fn(r);
    if (snap != NULL) {
        if (r->status >= 200 && r->status < 300)
            fk_set(f->st, name, snap);
        else
            json_object_put(snap);
    }
}

/* ---- faults ----------------------------------------------------------- */

static const char *
fault_path(const char *p)
{
    static const char *const prefixes[] = {
        "/trakt/",         "/simkl/",    "/plex/", "/plex-discover/",
        "/plex-metadata/", "/jellyfin/", "/emby/"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (str_has_prefix(p, prefixes[i]))
            return p + strlen(prefixes[i]) - 1;
    return p;
}

/* Jellyfin and Emby paths are case-insensitive, the others are not. */
static bool
fault_path_matches(struct fk_req *r, const char *prefix)
{
    if (r->prov == FK_JELLYFIN || r->prov == FK_EMBY)
        return strncasecmp(r->path, prefix, strlen(prefix)) == 0;
    return str_has_prefix(r->path, prefix);
}

static struct json_object *
fault_match(struct fake *f, struct fk_req *r)
{
    const char *prov = fk_prov_name(r->prov);

    for (size_t i = 0; i < json_object_array_length(f->faults); i++) {
        struct json_object *rule = json_object_array_get_idx(f->faults, i);
        const char *p = fk_gets(rule, "provider");
        const char *m = fk_gets(rule, "method");
        const char *path = fk_gets(rule, "path");
        int64_t remaining = fk_geti(rule, "remaining", 0);
        int64_t skip = fk_geti(rule, "skip", 0);

        if (remaining == 0)
            continue;
        if (p != NULL && strcmp(p, "any") != 0 && strcmp(p, prov) != 0)
            continue;
        if (m != NULL && !str_ieq(m, r->method))
            continue;
        if (path != NULL && !fault_path_matches(r, fault_path(path)))
            continue;
        if (skip > 0) {
            fk_set(rule, "skip", json_object_new_int64(skip - 1));
            continue;
        }
        if (remaining > 0)
            fk_set(rule, "remaining", json_object_new_int64(remaining - 1));
        fk_set(rule, "hits",
               json_object_new_int64(fk_geti(rule, "hits", 0) + 1));
        return json_object_get(rule);
    }
    return NULL;
}

static void
fault_reply(struct fk_req *r, struct json_object *rule)
{
    int64_t status = fk_geti(rule, "status", 500);
    struct json_object *body = fk_get(rule, "body");
    struct json_object *hdrs = fk_get(rule, "headers");
    struct json_object *ra = fk_get(rule, "retry_after");

    fk_reply_empty(r, (int)status);
    if (ra != NULL)
        fk_header(r, "Retry-After", "%s", json_object_get_string(ra));
    if (hdrs != NULL) {
        json_object_object_foreach (hdrs, name, v) {
            fk_header(r, name, "%s", json_object_get_string(v));
        }
    }
    if (body != NULL && json_object_is_type(body, json_type_string)) {
        r->raw = xstrdup(json_object_get_string(body));
        r->ctype = "text/plain; charset=utf-8";
    } else if (body != NULL) {
        fk_reply_json(r, (int)status, json_object_get(body));
    } else if (status != 204 && status != 304) {
        r->raw = xasprintf("fakeprov: injected %" PRId64 "\n", status);
        r->ctype = "text/plain; charset=utf-8";
    }
}

/* ---- the server ------------------------------------------------------- */

static void
fk_request_cb(struct evhttp_request *req, void *arg)
{
    struct fake *f = arg;
    struct fk_req *r = req_new(f, req);
    struct json_object *fault = NULL;
    int64_t delay = 0;
    bool b = false;

    if (r->prov == FK_CONTROL) {
        control(r);
        req_finish(r);
        return;
    }
    if (r->prov == FK_NONE) {
        fk_reply_empty(r, 404);
        req_finish(r);
        return;
    }
    fault = fault_match(f, r);
    r->fault = fault;
    if (fault != NULL) {
        struct json_object *copy = NULL;

        delay = fk_geti(fault, "delay_ms", 0);
        if (json_object_deep_copy(fault, &copy, NULL) == 0)
            log_note(r, "fault", copy);
    }
    if (fault != NULL && jget_bool(fault, "drop", &b) == 0 && b) {
        r->after = FK_AFTER_DROP;
        req_schedule(r, delay);
        return;
    }
    if (fault != NULL && fk_get(fault, "status") != NULL) {
        fault_reply(r, fault);
        req_schedule(r, delay);
        return;
    }
    b = false;
    provider_process(r, fault != NULL &&
                            jget_bool(fault, "accept_but_drop", &b) == 0 && b);
    b = false;
    if (fault != NULL && jget_bool(fault, "apply_then_drop", &b) == 0 && b)
        r->after = FK_AFTER_DROP;
    req_schedule(r, delay);
}

static void
fk_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static int
fk_bound_port(struct evhttp_bound_socket *h)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    memset(&sin, 0, sizeof(sin));
    if (getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&sin,
                    &len) != 0)
        return -1;
    return ntohs(sin.sin_port);
}

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: fakeprov --port N [options]   (N = 0 picks a free port)\n"
            "  --trakt-write-interval-ms N   (1000)  --trakt-read-limit N "
            "(1000)\n"
            "  --trakt-read-window-s N (300)         --simkl-write-interval-ms "
            "N (1000)\n"
            "  --no-rate-limit   --catalog-open   --verbose\n"
            "  --client-id ID --client-secret S --access-token T "
            "--refresh-token R\n"
            "  --simkl-token T --simkl-client-id ID --simkl-client-secret S\n"
            "  --redirect-uri U --token-ttl-s N (604800)\n"
            "  --device-interval-s N (5) --device-expires-s N (600)\n"
            "  --pin-interval-s N (5) --pin-expires-s N (900)\n"
            "  --trakt-watchlist-limit N (0 = none)\n"
            "  --lenient-get-content-type   --simkl-history-status 200|201\n"
            "  --plex-token T --jellyfin-api-key K --jellyfin-user-id U\n"
            "  --emby-api-key K --emby-user-id U   --no-jellyfin-legacy-auth\n"
            "  --jellyfin-played-quirk   --plex-scrobble-history\n"
            "See tests/fakes/README.md.\n");
}

static int
opt_int(const char *name, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (v == NULL || parse_i64(v, min, max, out) != 0) {
        fprintf(stderr,
                "fakeprov: %s needs an integer in %" PRId64 "..%" PRId64 "\n",
                name, min, max);
        return -1;
    }
    return 0;
}

static int
parse_args(int argc, char **argv, struct fk_opts *o)
{
    static const struct {
        const char *name;
        size_t off;
        int64_t min, max;
    } ints[] = {
        {"--trakt-write-interval-ms",
         offsetof(struct fk_opts, trakt_write_interval_ms), 0, 3600000},
        {"--trakt-read-limit", offsetof(struct fk_opts, trakt_read_limit), 1,
         10000000},
        {"--trakt-read-window-s", offsetof(struct fk_opts, trakt_read_window_s),
         1, 86400},
        {"--simkl-write-interval-ms",
         offsetof(struct fk_opts, simkl_write_interval_ms), 0, 3600000},
        {"--token-ttl-s", offsetof(struct fk_opts, token_ttl_s), 1, 315360000},
        {"--device-interval-s", offsetof(struct fk_opts, device_interval_s), 0,
         3600},
        {"--device-expires-s", offsetof(struct fk_opts, device_expires_s), 1,
         86400},
        {"--pin-interval-s", offsetof(struct fk_opts, pin_interval_s), 0, 3600},
        {"--pin-expires-s", offsetof(struct fk_opts, pin_expires_s), 1, 86400},
        {"--trakt-watchlist-limit",
         offsetof(struct fk_opts, trakt_watchlist_limit), 0, 10000000},
        {"--simkl-history-status",
         offsetof(struct fk_opts, simkl_history_status), 200, 201}};
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        {"--client-id", offsetof(struct fk_opts, client_id)},
        {"--client-secret", offsetof(struct fk_opts, client_secret)},
        {"--access-token", offsetof(struct fk_opts, access_token)},
        {"--refresh-token", offsetof(struct fk_opts, refresh_token)},
        {"--simkl-token", offsetof(struct fk_opts, simkl_token)},
        {"--simkl-client-id", offsetof(struct fk_opts, simkl_client_id)},
        {"--simkl-client-secret",
         offsetof(struct fk_opts, simkl_client_secret)},
        {"--redirect-uri", offsetof(struct fk_opts, redirect_uri)},
        {"--plex-token", offsetof(struct fk_opts, plex_token)},
        {"--jellyfin-api-key", offsetof(struct fk_opts, jellyfin_key)},
        {"--jellyfin-user-id", offsetof(struct fk_opts, jellyfin_user)},
        {"--emby-api-key", offsetof(struct fk_opts, emby_key)},
        {"--emby-user-id", offsetof(struct fk_opts, emby_user)}};
    bool have_port = false, simkl_id = false, simkl_secret = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool done = false;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--no-rate-limit") == 0) {
            o->rate_limit = false;
            continue;
        } else if (strcmp(a, "--catalog-open") == 0) {
            o->catalog_open = true;
            continue;
        } else if (strcmp(a, "--lenient-get-content-type") == 0) {
            o->trakt_ct_on_get = false;
            continue;
        } else if (strcmp(a, "--no-jellyfin-legacy-auth") == 0) {
            o->jellyfin_legacy_auth = false;
            continue;
        } else if (strcmp(a, "--jellyfin-played-quirk") == 0) {
            o->jellyfin_played_quirk = true;
            continue;
        } else if (strcmp(a, "--plex-scrobble-history") == 0) {
            o->plex_scrobble_history = true;
            continue;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->verbose = true;
            continue;
        } else if (strcmp(a, "--port") == 0) {
            int64_t p;

            if (opt_int(a, v, 0, 65535, &p) != 0)
                return -1;
            o->port = (int)p;
            have_port = true;
            i++;
            continue;
        }
        for (size_t j = 0; j < sizeof(ints) / sizeof(ints[0]) && !done; j++) {
            int64_t n;

            if (strcmp(a, ints[j].name) != 0)
                continue;
            if (opt_int(a, v, ints[j].min, ints[j].max, &n) != 0)
                return -1;
            memcpy((char *)o + ints[j].off, &n, sizeof(n));
            done = true;
        }
        for (size_t j = 0; j < sizeof(strs) / sizeof(strs[0]) && !done; j++) {
            if (strcmp(a, strs[j].name) != 0)
                continue;
            if (v == NULL || *v == '\0') {
                fprintf(stderr, "fakeprov: %s needs a value\n", a);
                return -1;
            }
            memcpy((char *)o + strs[j].off, &v, sizeof(v));
            simkl_id |= strcmp(a, "--simkl-client-id") == 0;
            simkl_secret |= strcmp(a, "--simkl-client-secret") == 0;
            done = true;
        }
        if (!done) {
            fprintf(stderr, "fakeprov: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
        i++;
    }
    if (!have_port) {
        usage(stderr);
        return -1;
    }
    if (!simkl_id)
        o->simkl_client_id = o->client_id;
    if (!simkl_secret)
        o->simkl_client_secret = o->client_secret;
    return 0;
}

int
main(int argc, char **argv)
{
    struct fake f;
    struct evhttp_bound_socket *bound = NULL;
    struct event *sig_term = NULL, *sig_int = NULL;
    int rc = 1, port;

    memset(&f, 0, sizeof(f));
    f.cli.rate_limit = true;
    f.cli.trakt_write_interval_ms = 1000;
    f.cli.trakt_read_limit = 1000;
    f.cli.trakt_read_window_s = 300;
    f.cli.simkl_write_interval_ms = 1000;
    f.cli.token_ttl_s = 604800;
    f.cli.device_interval_s = 5;
    f.cli.device_expires_s = 600;
    f.cli.pin_interval_s = 5;
    f.cli.pin_expires_s = 900;
    f.cli.trakt_ct_on_get = true;
    f.cli.simkl_history_status = 201;
    f.cli.client_id = "fake-client-id";
    f.cli.client_secret = "fake-client-secret";
    f.cli.access_token = "fake-trakt-access-token";
    f.cli.refresh_token = "fake-trakt-refresh-token";
    f.cli.simkl_token = "fake-simkl-token";
    f.cli.redirect_uri = "urn:ietf:wg:oauth:2.0:oob";
    f.cli.plex_token = "fake-plex-token";
    f.cli.jellyfin_key = "fake-jellyfin-key";
    f.cli.jellyfin_user = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    f.cli.emby_key = "fake-emby-key";
    f.cli.emby_user = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    f.cli.jellyfin_legacy_auth = true;
    if (parse_args(argc, argv, &f.cli) != 0)
        return 2;
    f.cfg = f.cli;
    signal(SIGPIPE, SIG_IGN);
    f.mono0 = wr_mono_ms();
    f.faults = json_object_new_array();
    f.log = json_object_new_array();
    state_reset(&f, false);

    f.base = event_base_new();
    if (f.base == NULL)
        goto done;
    f.http = evhttp_new(f.base);
    if (f.http == NULL)
        goto done;
    evhttp_set_max_body_size(f.http, FK_MAX_BODY);
    evhttp_set_max_headers_size(f.http, FK_MAX_HEADERS);
    evhttp_set_timeout(f.http, FK_TIMEOUT_S);
    evhttp_set_allowed_methods(f.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_HEAD);
    evhttp_set_default_content_type(f.http, NULL);
    evhttp_set_gencb(f.http, fk_request_cb, &f);
    bound = evhttp_bind_socket_with_handle(f.http, "127.0.0.1",
                                           (ev_uint16_t)f.cli.port);
    if (bound == NULL) {
        fprintf(stderr, "fakeprov: cannot listen on 127.0.0.1:%d\n",
                f.cli.port);
        goto done;
    }
    port = fk_bound_port(bound);
    if (port < 0)
        goto done;
    sig_term = evsignal_new(f.base, SIGTERM, fk_signal_cb, f.base);
    sig_int = evsignal_new(f.base, SIGINT, fk_signal_cb, f.base);
    if (sig_term == NULL || sig_int == NULL || evsignal_add(sig_term, NULL) ||
        evsignal_add(sig_int, NULL))
        goto done;
    printf("ready port=%d\n", port);
    fflush(stdout);
    if (event_base_dispatch(f.base) < 0)
        goto done;
    rc = 0;
done:
    while (f.pending != NULL) {
        struct fk_req *r = f.pending;

        f.pending = r->next;
        req_free(r);
    }
    if (sig_term != NULL)
        event_free(sig_term);
    if (sig_int != NULL)
        event_free(sig_int);
    if (f.http != NULL)
        evhttp_free(f.http);
    if (f.base != NULL)
        event_base_free(f.base);
    json_object_put(f.st);
    json_object_put(f.cat);
    json_object_put(f.cat_idx);
    json_object_put(f.faults);
    json_object_put(f.log);
    free(f.trakt_reads);
    media_cache_free(&f);
    return rc;
}
