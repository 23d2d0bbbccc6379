/*
 * fake_trakt: the Trakt half of fakeprov (PROVIDERS.md B1), included once by
 * fakeprov.c after fake_core.h. Handlers read r->json / r->segs / the query
 * and leave a reply on r; fakeprov.c has already checked headers, OAuth and
 * the rate limits.
 */
#ifndef WR_FAKE_TRAKT_H
#define WR_FAKE_TRAKT_H

#include "fake_core.h"
#include "fake_plan.h"

static struct json_object *
trakt_state(struct fake *f)
{
    return fk_get(f->st, "trakt");
}

static struct json_object *
trakt_part(struct fake *f, const char *key)
{
    return fk_get(trakt_state(f), key);
}

static struct json_object *
trakt_last_activities_new(int64_t now)
{
    static const char *const la[12][10] = {
        {"movies", "watched_at", "collected_at", "rated_at", "watchlisted_at",
         "favorited_at", "commented_at", "paused_at", "hidden_at", NULL},
        {"episodes", "watched_at", "collected_at", "rated_at", "watchlisted_at",
         "commented_at", "paused_at", NULL},
        {"shows", "rated_at", "watchlisted_at", "favorited_at", "commented_at",
         "hidden_at", "dropped_at", NULL},
        {"seasons", "rated_at", "watchlisted_at", "commented_at", "hidden_at",
         NULL},
        {"comments", "liked_at", "reacted_at", "blocked_at", NULL},
        {"lists", "liked_at", "reacted_at", "updated_at", "commented_at", NULL},
        {"watchlist", "updated_at", NULL},
        {"favorites", "updated_at", NULL},
        {"collaborations", "updated_at", NULL},
        {"account", "settings_at", "followed_at", "following_at", "pending_at",
         "requested_at", NULL},
        {"saved_filters", "updated_at", NULL},
        {"notes", "updated_at", NULL}};
    struct json_object *o = json_object_new_object();

    fk_set(o, "all", fk_jiso(now, true));
    for (size_t i = 0; i < 12; i++) {
        struct json_object *b = json_object_new_object();

        for (size_t j = 1; j < 10 && la[i][j] != NULL; j++)
            fk_set(b, la[i][j], fk_jiso(now, true));
        fk_set(o, la[i][0], b);
    }
    return o;
}

static struct json_object *
trakt_tokens_new(struct fake *f, const char *access, const char *refresh)
{
    struct json_object *t = json_object_new_object();
    int64_t now = fk_now_ms(f);

    fk_set(t, "access_token", json_object_new_string(access));
    fk_set(t, "refresh_token", json_object_new_string(refresh));
    fk_set(t, "created_at", json_object_new_int64(now / 1000));
    fk_set(t, "expires_in", json_object_new_int64(f->cfg.token_ttl_s));
    fk_set(t, "expires_at_ms",
           json_object_new_int64(now + f->cfg.token_ttl_s * 1000));
    fk_set(t, "revoked", json_object_new_boolean(false));
    return t;
}

static struct json_object *
trakt_state_new(struct fake *f)
{
    struct json_object *o = json_object_new_object();
    int64_t now = fk_now_ms(f);

    fk_set(o, "history", json_object_new_array());
    fk_set(o, "ratings", json_object_new_object());
    fk_set(o, "watchlist", json_object_new_array());
    fk_set(o, "playback", json_object_new_array());
    fk_set(o, "scrobbles", json_object_new_array());
    fk_set(o, "watching", NULL);
    fk_set(o, "last_activities", trakt_last_activities_new(now));
    fk_set(o, "tokens",
           trakt_tokens_new(f, f->cfg.access_token, f->cfg.refresh_token));
    fk_set(o, "old_access_tokens", json_object_new_array());
    fk_set(o, "old_refresh_tokens", json_object_new_array());
    fk_set(o, "device_codes", json_object_new_array());
    fk_set(o, "next_ids", json_object_new_object());
    return o;
}

/* Whether token is the live access token. */
static bool
trakt_token_ok(struct fake *f, const char *token)
{
    struct json_object *t = trakt_part(f, "tokens");
    const char *cur = fk_gets(t, "access_token");
    bool revoked = false;

    if (token == NULL || cur == NULL || strcmp(token, cur) != 0)
        return false;
    if (jget_bool(t, "revoked", &revoked) == 0 && revoked)
        return false;
    return fk_now_ms(f) < fk_geti(t, "expires_at_ms", 0);
}

static void
trakt_touch(struct fake *f, enum fk_kind k, const char *field, int64_t now)
{
    struct json_object *la = trakt_part(f, "last_activities");
    struct json_object *b = fk_get(la, fk_kind_plural[k]);

    if (fk_get(b, field) != NULL)
        fk_set(b, field, fk_jiso(now, true));
    if (strcmp(field, "watchlisted_at") == 0)
        fk_set(fk_get(la, "watchlist"), "updated_at", fk_jiso(now, true));
    fk_set(la, "all", fk_jiso(now, true));
}

static int64_t
trakt_next_id(struct fake *f, const char *what, int64_t first)
{
    return fk_next_id(trakt_part(f, "next_ids"), what, first);
}

/* ---- watchlist and history primitives --------------------------------- */

static bool
trakt_watchlist_drop(struct fake *f, int64_t idx, int64_t now)
{
    size_t n = fk_array_drop(trakt_part(f, "watchlist"), fk_match_item, &idx);

    if (n > 0)
        trakt_touch(f, cat_kind(f, idx), "watchlisted_at", now);
    return n > 0;
}

/* Record one play; items watched leave the watchlist (movies, episodes). */
static int64_t
trakt_history_push(struct fake *f, int64_t idx, int64_t ts, bool unknown,
                   const char *action, int64_t now)
{
    struct json_object *h = json_object_new_object();
    int64_t id = trakt_next_id(f, "history", 1000000001LL);
    enum fk_kind k = cat_kind(f, idx);

    fk_set(h, "id", json_object_new_int64(id));
    if (ts < 0)
        ts = now / 1000 * 1000;
    fk_set(h, "watched_at", unknown ? NULL : fk_jiso(ts, true));
    fk_set(h, "watched_ms", json_object_new_int64(unknown ? 0 : ts));
    fk_set(h, "action", json_object_new_string(action));
    fk_set(h, "type", json_object_new_string(fk_kind_name[k]));
    fk_set(h, "item", json_object_new_int64(idx));
    json_object_array_add(trakt_part(f, "history"), h);
    trakt_touch(f, k, "watched_at", now);
    trakt_watchlist_drop(f, idx, now);
    return id;
}

static void
trakt_playback_set(struct fake *f, int64_t idx, double progress, int64_t now,
                   int64_t *id_out)
{
    struct json_object *pb = trakt_part(f, "playback");
    struct json_object *e = json_object_new_object();
    int64_t id = trakt_next_id(f, "playback", 13);

    fk_array_drop(pb, fk_match_item, &idx);
    fk_set(e, "id", json_object_new_int64(id));
    fk_set(e, "progress", fk_jnum(progress));
    fk_set(e, "paused_at", fk_jiso(now, true));
    fk_set(e, "paused_ms", json_object_new_int64(now));
    fk_set(e, "type", json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
    fk_set(e, "item", json_object_new_int64(idx));
    json_object_array_add(pb, e);
    trakt_touch(f, cat_kind(f, idx), "paused_at", now);
    *id_out = id;
}

static void
trakt_playback_clear(struct fake *f, int64_t idx, int64_t now)
{
    if (fk_array_drop(trakt_part(f, "playback"), fk_match_item, &idx) > 0)
        trakt_touch(f, cat_kind(f, idx), "paused_at", now);
}

/* ---- POST /scrobble/{start,pause,stop} -------------------------------- */

static void
trakt_scrobble(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *ep = r->segs[1];
    struct json_object *out = NULL, *sharing = NULL;
    const char *action;
    char err[200] = "";
    double progress;
    int64_t idx, now = fk_now_ms(f), id = 0, prev;

    if (strcmp(ep, "start") != 0 && strcmp(ep, "pause") != 0 &&
        strcmp(ep, "stop") != 0) {
        fk_reply_empty(r, 404);
        return;
    }
    if (!json_object_is_type(r->json, json_type_object)) {
        fk_reply_error(r, 400, "invalid_request", "the body must be an object");
        return;
    }
    if (jget_num(r->json, "progress", &progress) != 0 || progress < 0 ||
        progress > 100 || isnan(progress)) {
        fk_reply_error(r, 422, "validation",
                       "progress must be a number from 0 to 100");
        return;
    }
    idx = scrobble_item(f, r->json, false, err, sizeof(err));
    if (idx == -2) {
        fk_reply_error(r, 422, "validation", "%s", err);
        return;
    }
    if (idx < 0) {
        fk_reply_empty(r, 404);
        return;
    }
    if (strcmp(ep, "start") == 0) {
        struct json_object *w = json_object_new_object();

        action = "start";
        trakt_playback_clear(f, idx, now);
        fk_set(w, "item", json_object_new_int64(idx));
        fk_set(w, "progress", fk_jnum(progress));
        fk_set(w, "started_at", fk_jiso(now, true));
        fk_set(trakt_state(f), "watching", w);
    } else if (strcmp(ep, "stop") == 0 && progress < 1) {
        fk_reply_error(r, 422, "validation",
                       "a stop needs a progress of at least 1");
        return;
    } else if (strcmp(ep, "stop") == 0 && progress >= 80) {
        prev = scrobble_recent(trakt_part(f, "scrobbles"), idx, now);
        if (prev >= 0) {
            out = json_object_new_object();
            fk_set(out, "watched_at", fk_jiso(prev, true));
            fk_set(out, "expires_at", fk_jiso(prev + FK_HOUR_MS, true));
            scrobble_log(trakt_part(f, "scrobbles"), ep, "scrobble", progress,
                         now, idx, 409, 0, true);
            fk_reply_json(r, 409, out);
            return;
        }
        action = "scrobble";
        id = trakt_history_push(f, idx, now / 1000 * 1000, false, "scrobble",
                                now);
        trakt_playback_clear(f, idx, now);
        fk_set(trakt_state(f), "watching", NULL);
    } else {
        action = "pause";
        trakt_playback_set(f, idx, progress, now, &id);
        fk_set(trakt_state(f), "watching", NULL);
    }
    scrobble_log(trakt_part(f, "scrobbles"), ep, action, progress, now, idx,
                 201, id, true);
    out = json_object_new_object();
    fk_set(out, "id", json_object_new_int64(strcmp(ep, "start") == 0 ? 0 : id));
    fk_set(out, "action", json_object_new_string(action));
    fk_set(out, "progress", fk_jnum(progress));
    sharing = json_object_new_object();
    fk_set(sharing, "twitter", json_object_new_boolean(false));
    fk_set(sharing, "mastodon", json_object_new_boolean(false));
    fk_set(sharing, "tumblr", json_object_new_boolean(false));
    fk_set(out, "sharing", sharing);
    trakt_attach(f, out, idx);
    fk_reply_json(r, 201, out);
}

/* ---- /sync/history ---------------------------------------------------- */

static bool
trakt_plan(struct fk_req *r, struct plan *p)
{
    plan_body(r->f, p, r->json);
    if (p->err_status != 0) {
        fk_reply_error(r, p->err_status, "validation", "%s", p->err);
        return false;
    }
    return true;
}

static void
trakt_history_add(struct fk_req *r)
{
    struct fake *f = r->f;
    struct plan p;
    struct json_object *out, *added, *updated;
    int64_t now = fk_now_ms(f);

    plan_init(&p, false, PLAN_HISTORY);
    if (!trakt_plan(r, &p))
        goto done;
    added = fk_counts(false);
    for (size_t i = 0; i < p.n; i++) {
        trakt_history_push(f, p.ops[i].idx, p.ops[i].ts_ms, p.ops[i].ts_unknown,
                           "watch", now);
        fk_count_add(added, fk_kind_plural[p.ops[i].kind], 1);
    }
    updated = fk_counts(false);
    fk_set(p.nf, "ids", json_object_new_array());
    out = json_object_new_object();
    fk_set(out, "added", added);
    fk_set(out, "updated", updated);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 201, out);
done:
    plan_release(&p);
}

static void
trakt_history_remove(struct fk_req *r)
{
    struct fake *f = r->f;
    struct plan p;
    struct json_object *out = NULL, *deleted = NULL, *ids, *nf_ids;
    struct json_object *hist = trakt_part(f, "history");
    int64_t now = fk_now_ms(f);

    plan_init(&p, false, PLAN_HISTORY_REMOVE);
    nf_ids = json_object_new_array();
    ids = fk_get(r->json, "ids");
    if (ids != NULL && !json_object_is_type(ids, json_type_array)) {
        fk_reply_error(r, 422, "validation", "ids must be an array");
        goto done;
    }
    for (size_t i = 0; ids != NULL && i < json_object_array_length(ids); i++)
        if (!json_object_is_type(json_object_array_get_idx(ids, i),
                                 json_type_int)) {
            fk_reply_error(r, 422, "validation",
                           "ids must hold history ids (integers)");
            goto done;
        }
    if (!trakt_plan(r, &p))
        goto done;
    deleted = fk_counts(false);
    for (size_t i = 0; ids != NULL && i < json_object_array_length(ids); i++) {
        int64_t id = json_object_get_int64(json_object_array_get_idx(ids, i));
        size_t before = json_object_array_length(hist);
        int64_t idx = -1;

        for (size_t j = 0; j < before; j++) {
            struct json_object *h = json_object_array_get_idx(hist, j);

            if (fk_geti(h, "id", -1) == id)
                idx = fk_geti(h, "item", -1);
        }
        if (idx < 0 || fk_array_drop(hist, fk_match_id, &id) == 0) {
            json_object_array_add(nf_ids, json_object_new_int64(id));
            continue;
        }
        fk_count_add(deleted, fk_kind_plural[cat_kind(f, idx)], 1);
        trakt_touch(f, cat_kind(f, idx), "watched_at", now);
    }
    for (size_t i = 0; i < p.n; i++) {
        size_t n = fk_array_drop(hist, fk_match_item, &p.ops[i].idx);

        if (n == 0)
            continue;
        fk_count_add(deleted, fk_kind_plural[p.ops[i].kind], (int64_t)n);
        trakt_touch(f, p.ops[i].kind, "watched_at", now);
    }
    fk_set(p.nf, "ids", json_object_get(nf_ids));
    out = json_object_new_object();
    fk_set(out, "deleted", deleted);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 200, out);
done:
    json_object_put(nf_ids);
    plan_release(&p);
}

/* The catalog index of a Trakt id of kind k given in a path, or -1. */
static int64_t
trakt_path_id(struct fake *f, enum fk_kind k, const char *seg)
{
    char key[128];

    cat_index_key(key, sizeof(key), k, "trakt", seg);
    return cat_index_get(f, key);
}

static int
trakt_type_from(const char *seg, enum fk_kind *k)
{
    for (int i = 0; i < FK_KIND_MAX; i++) {
        if (strcmp(seg, fk_kind_plural[i]) == 0) {
            *k = (enum fk_kind)i;
            return 0;
        }
    }
    return -1;
}

static void
trakt_history_get(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *hist = trakt_part(f, "history"), *out;
    struct fk_sorted *v = NULL;
    size_t n = 0, from, to, len = json_object_array_length(hist);
    enum fk_kind type = FK_KIND_MAX;
    int64_t page, limit, start = 0, end = INT64_MAX, want = -1;
    bool paged, has_type = r->nsegs >= 3;

    if (r->nsegs > 4 || (has_type && trakt_type_from(r->segs[2], &type))) {
        fk_reply_empty(r, 404);
        return;
    }
    if (r->nsegs == 4) {
        int64_t tid;

        if (parse_i64(r->segs[3], 1, INT64_MAX, &tid) != 0) {
            fk_reply_empty(r, 404);
            return;
        }
        want = trakt_path_id(f, type, r->segs[3]);
        if (want < 0) {
            fk_reply_empty(r, 404);
            return;
        }
    }
    if (fk_paging(r, false, &page, &limit, &paged) != 0 ||
        fk_time_query(r, "start_at", &start) < 0 ||
        fk_time_query(r, "end_at", &end) < 0) {
        fk_reply_error(r, 400, "invalid_request", "bad query parameter");
        return;
    }
    v = xcalloc(len + 1, sizeof(*v));
    for (size_t i = 0; i < len; i++) {
        struct json_object *h = json_object_array_get_idx(hist, i);
        int64_t idx = fk_geti(h, "item", -1);
        int64_t ts = fk_geti(h, "watched_ms", 0);
        enum fk_kind k = cat_kind(f, idx);
        struct json_object *e = cat_entry(f, idx);

        if (ts < start || ts > end)
            continue;
        if (has_type && (type == FK_MOVIE) != (k == FK_MOVIE))
            continue;
        if (want >= 0) {
            struct json_object *w = cat_entry(f, want);

            if ((type == FK_MOVIE || type == FK_EPISODE) && idx != want)
                continue;
            if (type == FK_SHOW && fk_geti(e, "show", -1) != want)
                continue;
            if (type == FK_SEASON &&
                (fk_geti(e, "show", -1) != fk_geti(w, "show", -2) ||
                 fk_geti(e, "season", -1) != fk_geti(w, "number", -2)))
                continue;
        }
        v[n].e = h;
        v[n].k1 = ts;
        v[n].k2 = fk_geti(h, "id", 0);
        n++;
    }
    qsort(v, n, sizeof(*v), fk_sorted_desc);
    fk_page_window(r, paged, page, limit, n, &from, &to);
    out = json_object_new_array();
    for (size_t i = from; i < to; i++) {
        struct json_object *row = json_object_new_object();
        struct json_object *wa = fk_get(v[i].e, "watched_at");
        int64_t idx = fk_geti(v[i].e, "item", -1);

        fk_set(row, "id", json_object_new_int64(fk_geti(v[i].e, "id", 0)));
        fk_set(row, "watched_at", wa != NULL ? json_object_get(wa) : NULL);
        fk_set(row, "action",
               json_object_new_string(fk_gets(v[i].e, "action")));
        fk_set(row, "type",
               json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
        trakt_attach(f, row, idx);
        json_object_array_add(out, row);
    }
    free(v);
    fk_reply_json(r, 200, out);
}

/* GET /sync/watched/{movies|shows} */
static void
trakt_watched_get(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *hist = trakt_part(f, "history");
    struct json_object *agg = json_object_new_object(), *out;
    bool movies;

    if (r->nsegs != 3 || (strcmp(r->segs[2], "movies") != 0 &&
                          strcmp(r->segs[2], "shows") != 0)) {
        json_object_put(agg);
        fk_reply_empty(r, 404);
        return;
    }
    movies = strcmp(r->segs[2], "movies") == 0;
    for (size_t i = 0; i < json_object_array_length(hist); i++) {
        struct json_object *h = json_object_array_get_idx(hist, i);
        int64_t idx = fk_geti(h, "item", -1), ts = fk_geti(h, "watched_ms", 0);
        int64_t top = idx;
        char key[32];
        struct json_object *a;

        if ((cat_kind(f, idx) == FK_MOVIE) != movies)
            continue;
        if (!movies)
            top = fk_geti(cat_entry(f, idx), "show", -1);
        snprintf(key, sizeof(key), "%" PRId64, top);
        a = fk_get(agg, key);
        if (a == NULL) {
            a = json_object_new_object();
            fk_set(a, "item", json_object_new_int64(top));
            fk_set(a, "eps", json_object_new_object());
            fk_set(agg, key, a);
        }
        fk_set(a, "plays", json_object_new_int64(fk_geti(a, "plays", 0) + 1));
        if (ts >= fk_geti(a, "last", -1))
            fk_set(a, "last", json_object_new_int64(ts));
        if (!movies) {
            struct json_object *eps = fk_get(a, "eps"), *ep;

            snprintf(key, sizeof(key), "%" PRId64, idx);
            ep = fk_get(eps, key);
            if (ep == NULL) {
                ep = json_object_new_object();
                fk_set(eps, key, ep);
            }
            fk_set(ep, "plays",
                   json_object_new_int64(fk_geti(ep, "plays", 0) + 1));
            if (ts >= fk_geti(ep, "last", -1))
                fk_set(ep, "last", json_object_new_int64(ts));
        }
    }
    out = json_object_new_array();
    json_object_object_foreach (agg, k, a) {
        struct json_object *row = json_object_new_object();
        int64_t top = fk_geti(a, "item", -1);

        (void)k;
        fk_set(row, "plays", json_object_new_int64(fk_geti(a, "plays", 0)));
        fk_set(row, "last_watched_at", fk_jiso(fk_geti(a, "last", 0), true));
        fk_set(row, "last_updated_at", fk_jiso(fk_geti(a, "last", 0), true));
        fk_set(row, movies ? "movie" : "show", trakt_media(f, top));
        if (!movies) {
            struct json_object *seasons = json_object_new_array();
            struct json_object *byseason = json_object_new_object();

            json_object_object_foreach (fk_get(a, "eps"), ek, ev) {
                int64_t eidx = 0;
                struct json_object *e, *s, *row_ep;
                char skey[32];

                parse_i64(ek, 0, INT64_MAX, &eidx);
                e = cat_entry(f, eidx);
                snprintf(skey, sizeof(skey), "%" PRId64,
                         fk_geti(e, "season", 0));
                s = fk_get(byseason, skey);
                if (s == NULL) {
                    s = json_object_new_object();
                    fk_set(s, "number",
                           json_object_new_int64(fk_geti(e, "season", 0)));
                    fk_set(s, "episodes", json_object_new_array());
                    fk_set(byseason, skey, s);
                    json_object_array_add(seasons, json_object_get(s));
                }
                row_ep = json_object_new_object();
                fk_set(row_ep, "number",
                       json_object_new_int64(fk_geti(e, "number", 0)));
                fk_set(row_ep, "plays",
                       json_object_new_int64(fk_geti(ev, "plays", 0)));
                fk_set(row_ep, "last_watched_at",
                       fk_jiso(fk_geti(ev, "last", 0), true));
                json_object_array_add(fk_get(s, "episodes"), row_ep);
            }
            json_object_put(byseason);
            fk_set(row, "seasons", seasons);
        }
        json_object_array_add(out, row);
    }
    json_object_put(agg);
    fk_reply_json(r, 200, out);
}

/* ---- /sync/ratings ---------------------------------------------------- */

static void
trakt_ratings_add(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *ratings = trakt_part(f, "ratings"), *out, *added;
    struct plan p;
    int64_t now = fk_now_ms(f);

    plan_init(&p, false, PLAN_RATINGS);
    if (!trakt_plan(r, &p))
        goto done;
    added = fk_counts(true);
    for (size_t i = 0; i < p.n; i++) {
        struct plan_op *op = &p.ops[i];
        struct json_object *e = json_object_new_object();
        int64_t ts = op->ts_ms >= 0 ? op->ts_ms : now;
        char key[32];

        snprintf(key, sizeof(key), "%" PRId64, op->idx);
        fk_set(e, "rating", json_object_new_int(op->rating));
        fk_set(e, "rated_at", fk_jiso(ts, true));
        fk_set(e, "rated_ms", json_object_new_int64(ts));
        fk_set(e, "type", json_object_new_string(fk_kind_name[op->kind]));
        fk_set(e, "item", json_object_new_int64(op->idx));
        fk_set(ratings, key, e);
        fk_count_add(added, fk_kind_plural[op->kind], 1);
        trakt_touch(f, op->kind, "rated_at", now);
    }
    out = json_object_new_object();
    fk_set(out, "added", added);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 201, out);
done:
    plan_release(&p);
}

static void
trakt_ratings_remove(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *ratings = trakt_part(f, "ratings"), *out, *deleted;
    struct plan p;
    int64_t now = fk_now_ms(f);

    plan_init(&p, false, PLAN_RATINGS_REMOVE);
    if (!trakt_plan(r, &p))
        goto done;
    deleted = fk_counts(true);
    for (size_t i = 0; i < p.n; i++) {
        char key[32];

        snprintf(key, sizeof(key), "%" PRId64, p.ops[i].idx);
        if (fk_get(ratings, key) == NULL)
            continue;
        json_object_object_del(ratings, key);
        fk_count_add(deleted, fk_kind_plural[p.ops[i].kind], 1);
        trakt_touch(f, p.ops[i].kind, "rated_at", now);
    }
    out = json_object_new_object();
    fk_set(out, "deleted", deleted);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 200, out);
done:
    plan_release(&p);
}

static void
trakt_ratings_get(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *ratings = trakt_part(f, "ratings"), *out;
    struct fk_sorted *v;
    size_t n = 0, from, to;
    enum fk_kind type = FK_KIND_MAX;
    unsigned mask = 0x7fe;
    int64_t page, limit;
    bool paged;

    if (r->nsegs > 4 ||
        (r->nsegs >= 3 && strcmp(r->segs[2], "all") != 0 &&
         trakt_type_from(r->segs[2], &type) != 0) ||
        (r->nsegs == 4 && fk_rating_mask(r->segs[3], &mask) != 0)) {
        fk_reply_empty(r, 404);
        return;
    }
    if (fk_paging(r, true, &page, &limit, &paged) != 0) {
        fk_reply_error(r, 400, "invalid_request", "bad query parameter");
        return;
    }
    v = xcalloc((size_t)json_object_object_length(ratings) + 1, sizeof(*v));
    json_object_object_foreach (ratings, key, e) {
        int64_t idx = fk_geti(e, "item", -1);

        (void)key;
        if (type != FK_KIND_MAX && cat_kind(f, idx) != type)
            continue;
        if (!(mask & (1u << fk_geti(e, "rating", 0))))
            continue;
        v[n].e = e;
        v[n].k1 = fk_geti(e, "rated_ms", 0);
        v[n].k2 = idx;
        n++;
    }
    qsort(v, n, sizeof(*v), fk_sorted_desc);
    fk_page_window(r, paged, page, limit, n, &from, &to);
    out = json_object_new_array();
    for (size_t i = from; i < to; i++) {
        struct json_object *row = json_object_new_object();
        int64_t idx = fk_geti(v[i].e, "item", -1);

        fk_set(row, "rated_at",
               json_object_new_string(fk_gets(v[i].e, "rated_at")));
        fk_set(row, "rating",
               json_object_new_int64(fk_geti(v[i].e, "rating", 0)));
        fk_set(row, "type",
               json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
        trakt_attach(f, row, idx);
        json_object_array_add(out, row);
    }
    free(v);
    fk_reply_json(r, 200, out);
}

/* ---- /sync/watchlist -------------------------------------------------- */

static bool
trakt_listed(struct fake *f, int64_t idx)
{
    struct json_object *wl = trakt_part(f, "watchlist");

    for (size_t i = 0; i < json_object_array_length(wl); i++)
        if (fk_geti(json_object_array_get_idx(wl, i), "item", -1) == idx)
            return true;
    return false;
}

static struct json_object *
trakt_list_info(struct fake *f)
{
    struct json_object *o = json_object_new_object();
    struct json_object *la = trakt_part(f, "last_activities");

    fk_set(o, "updated_at",
           json_object_get(fk_get(fk_get(la, "watchlist"), "updated_at")));
    fk_set(o, "item_count",
           json_object_new_int64(
               (int64_t)json_object_array_length(trakt_part(f, "watchlist"))));
    return o;
}

static void
trakt_watchlist_add(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *wl = trakt_part(f, "watchlist");
    struct json_object *out, *added, *existing;
    struct plan p;
    int64_t now = fk_now_ms(f), fresh = 0;

    plan_init(&p, false, PLAN_WATCHLIST);
    if (!trakt_plan(r, &p))
        goto done;
    for (size_t i = 0; i < p.n; i++) {
        bool dup = trakt_listed(f, p.ops[i].idx);

        for (size_t j = 0; j < i && !dup; j++)
            dup = p.ops[j].idx == p.ops[i].idx;
        fresh += !dup;
    }
    if (f->cfg.trakt_watchlist_limit > 0 &&
        (int64_t)json_object_array_length(wl) + fresh >
            f->cfg.trakt_watchlist_limit) {
        fk_header(r, "X-Upgrade-URL", "https://trakt.tv/vip");
        fk_header(r, "X-VIP-User", "false");
        fk_header(r, "X-Account-Limit", "%" PRId64,
                  f->cfg.trakt_watchlist_limit);
        fk_reply_empty(r, 420);
        goto done;
    }
    added = fk_counts(true);
    existing = fk_counts(true);
    for (size_t i = 0; i < p.n; i++) {
        struct plan_op *op = &p.ops[i];
        struct json_object *e;

        if (trakt_listed(f, op->idx)) {
            fk_count_add(existing, fk_kind_plural[op->kind], 1);
            continue;
        }
        e = json_object_new_object();
        fk_set(e, "id",
               json_object_new_int64(trakt_next_id(f, "watchlist", 101)));
        fk_set(e, "listed_at", fk_jiso(now, true));
        fk_set(e, "listed_ms", json_object_new_int64(now));
        fk_set(e, "notes", NULL);
        fk_set(e, "type", json_object_new_string(fk_kind_name[op->kind]));
        fk_set(e, "item", json_object_new_int64(op->idx));
        json_object_array_add(wl, e);
        fk_count_add(added, fk_kind_plural[op->kind], 1);
        trakt_touch(f, op->kind, "watchlisted_at", now);
    }
    out = json_object_new_object();
    fk_set(out, "added", added);
    fk_set(out, "existing", existing);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_set(out, "list", trakt_list_info(f));
    fk_reply_json(r, 201, out);
done:
    plan_release(&p);
}

static void
trakt_watchlist_remove(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out, *deleted;
    struct plan p;
    int64_t now = fk_now_ms(f);

    plan_init(&p, false, PLAN_WATCHLIST);
    if (!trakt_plan(r, &p))
        goto done;
    deleted = fk_counts(true);
    for (size_t i = 0; i < p.n; i++)
        if (trakt_watchlist_drop(f, p.ops[i].idx, now))
            fk_count_add(deleted, fk_kind_plural[p.ops[i].kind], 1);
    out = json_object_new_object();
    fk_set(out, "deleted", deleted);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_set(out, "list", trakt_list_info(f));
    fk_reply_json(r, 200, out);
done:
    plan_release(&p);
}

static void
trakt_watchlist_get(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *wl = trakt_part(f, "watchlist"), *out;
    size_t len = json_object_array_length(wl), n = 0, from, to;
    struct fk_sorted *v;
    enum fk_kind type = FK_KIND_MAX;
    const char *sort_by = "rank", *sort_how = "asc";
    int64_t page, limit;
    bool paged;

    if (r->nsegs > 5 || (r->nsegs >= 3 && strcmp(r->segs[2], "all") != 0 &&
                         trakt_type_from(r->segs[2], &type) != 0)) {
        fk_reply_empty(r, 404);
        return;
    }
    if (r->nsegs >= 4)
        sort_by = r->segs[3];
    if (r->nsegs >= 5)
        sort_how = r->segs[4];
    if ((strcmp(sort_by, "rank") != 0 && strcmp(sort_by, "added") != 0) ||
        (strcmp(sort_how, "asc") != 0 && strcmp(sort_how, "desc") != 0)) {
        fk_reply_error(r, 400, "invalid_request",
                       "this fake sorts by rank or added, asc or desc");
        return;
    }
    if (fk_paging(r, true, &page, &limit, &paged) != 0) {
        fk_reply_error(r, 400, "invalid_request", "bad query parameter");
        return;
    }
    v = xcalloc(len + 1, sizeof(*v));
    for (size_t i = 0; i < len; i++) {
        struct json_object *e = json_object_array_get_idx(wl, i);

        if (type != FK_KIND_MAX && cat_kind(f, fk_geti(e, "item", -1)) != type)
            continue;
        v[n].e = e;
        v[n].k1 = (int64_t)i; /* rank and added agree here */
        v[n].k2 = (int64_t)i + 1;
        n++;
    }
    qsort(v, n, sizeof(*v),
          strcmp(sort_how, "asc") == 0 ? fk_sorted_asc : fk_sorted_desc);
    fk_header(r, "X-Sort-By", "%s", sort_by);
    fk_header(r, "X-Sort-How", "%s", sort_how);
    fk_page_window(r, paged, page, limit, n, &from, &to);
    out = json_object_new_array();
    for (size_t i = from; i < to; i++) {
        struct json_object *row = json_object_new_object();
        int64_t idx = fk_geti(v[i].e, "item", -1);

        fk_set(row, "rank", json_object_new_int64(v[i].k2));
        fk_set(row, "id", json_object_new_int64(fk_geti(v[i].e, "id", 0)));
        fk_set(row, "listed_at",
               json_object_new_string(fk_gets(v[i].e, "listed_at")));
        fk_set(row, "notes", NULL);
        fk_set(row, "type",
               json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
        trakt_attach(f, row, idx);
        json_object_array_add(out, row);
    }
    free(v);
    fk_reply_json(r, 200, out);
}

/* ---- last_activities, playback ---------------------------------------- */

static void
trakt_last_activities(struct fk_req *r)
{
    fk_reply_json(r, 200, json_object_get(trakt_part(r->f, "last_activities")));
}

static void
trakt_playback_get(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *pb = trakt_part(f, "playback"), *out;
    size_t len = json_object_array_length(pb), n = 0, from, to;
    struct fk_sorted *v;
    enum fk_kind type = FK_KIND_MAX;
    int64_t page, limit, start = 0, end = INT64_MAX;
    bool paged;

    if (r->nsegs > 3 ||
        (r->nsegs == 3 && (trakt_type_from(r->segs[2], &type) != 0 ||
                           (type != FK_MOVIE && type != FK_EPISODE)))) {
        fk_reply_empty(r, 404);
        return;
    }
    if (fk_paging(r, true, &page, &limit, &paged) != 0 ||
        fk_time_query(r, "start_at", &start) < 0 ||
        fk_time_query(r, "end_at", &end) < 0) {
        fk_reply_error(r, 400, "invalid_request", "bad query parameter");
        return;
    }
    v = xcalloc(len + 1, sizeof(*v));
    for (size_t i = 0; i < len; i++) {
        struct json_object *e = json_object_array_get_idx(pb, i);
        int64_t ts = fk_geti(e, "paused_ms", 0);

        if (type != FK_KIND_MAX && cat_kind(f, fk_geti(e, "item", -1)) != type)
            continue;
        if (ts < start || ts > end)
            continue;
        v[n].e = e;
        v[n].k1 = ts;
        v[n].k2 = fk_geti(e, "id", 0);
        n++;
    }
    qsort(v, n, sizeof(*v), fk_sorted_desc);
    fk_page_window(r, paged, page, limit, n, &from, &to);
    out = json_object_new_array();
    for (size_t i = from; i < to; i++) {
        struct json_object *row = json_object_new_object();
        int64_t idx = fk_geti(v[i].e, "item", -1);

        fk_set(row, "progress", json_object_get(fk_get(v[i].e, "progress")));
        fk_set(row, "paused_at",
               json_object_new_string(fk_gets(v[i].e, "paused_at")));
        fk_set(row, "id", json_object_new_int64(fk_geti(v[i].e, "id", 0)));
        fk_set(row, "type",
               json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
        trakt_attach(f, row, idx);
        json_object_array_add(out, row);
    }
    free(v);
    fk_reply_json(r, 200, out);
}

static void
trakt_playback_delete(struct fk_req *r)
{
    int64_t id, idx = -1;
    struct json_object *pb = trakt_part(r->f, "playback");

    if (parse_i64(r->segs[2], 0, INT64_MAX, &id) == 0)
        for (size_t i = 0; i < json_object_array_length(pb); i++)
            if (fk_geti(json_object_array_get_idx(pb, i), "id", -1) == id)
                idx = fk_geti(json_object_array_get_idx(pb, i), "item", -1);
    if (idx < 0 || fk_array_drop(pb, fk_match_id, &id) == 0) {
        fk_reply_empty(r, 404);
        return;
    }
    trakt_touch(r->f, cat_kind(r->f, idx), "paused_at", fk_now_ms(r->f));
    fk_reply_empty(r, 204);
}

/* ---- OAuth ------------------------------------------------------------ */

static bool
trakt_client_ok(struct fk_req *r, bool need_secret)
{
    const char *id = fk_gets(r->json, "client_id");
    const char *secret = fk_gets(r->json, "client_secret");

    if (id != NULL && strcmp(id, r->f->cfg.client_id) == 0 &&
        (!need_secret ||
         (secret != NULL && strcmp(secret, r->f->cfg.client_secret) == 0)))
        return true;
    fk_reply_error(r, 401, "invalid_client",
                   "Client authentication failed due to unknown client, no "
                   "client authentication included, or unsupported "
                   "authentication method.");
    return false;
}

static void
trakt_device_code(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *d = json_object_new_object(), *out;
    char device[65], user[9];
    int64_t now = fk_now_ms(f);

    if (!trakt_client_ok(r, false)) {
        json_object_put(d);
        return;
    }
    if (random_hex(device, 32) != 0)
        fk_random_code(device, 64, "0123456789abcdef");
    fk_random_code(user, 8, "0123456789ABCDEF");
    fk_set(d, "device_code", json_object_new_string(device));
    fk_set(d, "user_code", json_object_new_string(user));
    fk_set(d, "state", json_object_new_string("pending"));
    fk_set(d, "created_ms", json_object_new_int64(now));
    fk_set(d, "expires_ms",
           json_object_new_int64(now + f->cfg.device_expires_s * 1000));
    fk_set(d, "interval", json_object_new_int64(f->cfg.device_interval_s));
    fk_set(d, "last_poll_mono", json_object_new_int64(-1));
    json_object_array_add(trakt_part(f, "device_codes"), d);
    out = json_object_new_object();
    fk_set(out, "device_code", json_object_new_string(device));
    fk_set(out, "user_code", json_object_new_string(user));
    fk_set(out, "verification_url",
           json_object_new_string("https://trakt.tv/activate"));
    fk_set(out, "expires_in", json_object_new_int64(f->cfg.device_expires_s));
    fk_set(out, "interval", json_object_new_int64(f->cfg.device_interval_s));
    fk_reply_json(r, 200, out);
}

/* Issue a fresh token pair; the old ones stop working. */
static struct json_object *
trakt_issue_tokens(struct fake *f)
{
    struct json_object *tr = trakt_state(f);
    struct json_object *old = fk_get(tr, "tokens"), *out;
    char access[65], refresh[65];

    if (random_hex(access, 32) != 0 || random_hex(refresh, 32) != 0) {
        fk_random_code(access, 32, "0123456789abcdef");
        fk_random_code(refresh, 32, "0123456789abcdef");
    }
    json_object_array_add(fk_get(tr, "old_access_tokens"),
                          json_object_new_string(fk_gets(old, "access_token")));
    json_object_array_add(
        fk_get(tr, "old_refresh_tokens"),
        json_object_new_string(fk_gets(old, "refresh_token")));
    fk_set(tr, "tokens", trakt_tokens_new(f, access, refresh));
    out = json_object_new_object();
    fk_set(out, "access_token", json_object_new_string(access));
    fk_set(out, "token_type", json_object_new_string("bearer"));
    fk_set(out, "expires_in", json_object_new_int64(f->cfg.token_ttl_s));
    fk_set(out, "refresh_token", json_object_new_string(refresh));
    fk_set(out, "scope", json_object_new_string("public"));
    fk_set(out, "created_at", json_object_new_int64(fk_now_ms(f) / 1000));
    return out;
}

static void
trakt_device_token(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *codes = trakt_part(f, "device_codes"), *d = NULL;
    const char *code = fk_gets(r->json, "code"), *state;
    int64_t now = fk_now_ms(f), mono = fk_mono(f), last;

    if (!trakt_client_ok(r, true))
        return;
    for (size_t i = 0; code != NULL && i < json_object_array_length(codes);
         i++) {
        struct json_object *c = json_object_array_get_idx(codes, i);

        if (strcmp(fk_gets(c, "device_code"), code) == 0)
            d = c;
    }
    if (d == NULL) {
        fk_reply_empty(r, 404);
        return;
    }
    state = fk_gets(d, "state");
    last = fk_geti(d, "last_poll_mono", -1);
    fk_set(d, "last_poll_mono", json_object_new_int64(mono));
    fk_set(d, "polls", json_object_new_int64(fk_geti(d, "polls", 0) + 1));
    if (strcmp(state, "used") == 0) {
        fk_reply_empty(r, 409);
        return;
    }
    if (now >= fk_geti(d, "expires_ms", 0)) {
        fk_reply_empty(r, 410);
        return;
    }
    if (strcmp(state, "denied") == 0) {
        fk_reply_empty(r, 418);
        return;
    }
    if (last >= 0 && mono - last < fk_geti(d, "interval", 5) * 1000) {
        fk_reply_empty(r, 429);
        return;
    }
    if (strcmp(state, "approved") != 0) {
        fk_reply_empty(r, 400);
        return;
    }
    fk_set(d, "state", json_object_new_string("used"));
    fk_reply_json(r, 200, trakt_issue_tokens(f));
}

static void
trakt_oauth_token(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *grant = fk_gets(r->json, "grant_type");
    const char *redirect = fk_gets(r->json, "redirect_uri");
    const char *refresh = fk_gets(r->json, "refresh_token");
    const char *cur = fk_gets(trakt_part(f, "tokens"), "refresh_token");
    bool revoked = false;

    if (grant == NULL || (strcmp(grant, "refresh_token") != 0 &&
                          strcmp(grant, "authorization_code") != 0)) {
        fk_reply_error(r, 400, "unsupported_grant_type",
                       "The authorization grant type is not supported by the "
                       "authorization server.");
        return;
    }
    if (!trakt_client_ok(r, true))
        return;
    jget_bool(trakt_part(f, "tokens"), "revoked", &revoked);
    if (strcmp(grant, "authorization_code") == 0 || refresh == NULL ||
        cur == NULL || strcmp(refresh, cur) != 0 || revoked ||
        redirect == NULL || strcmp(redirect, f->cfg.redirect_uri) != 0) {
        fk_reply_error(r, 400, "invalid_grant",
                       "The provided authorization grant is invalid, expired, "
                       "revoked, does not match the redirection URI used in "
                       "the authorization request, or was issued to another "
                       "client.");
        return;
    }
    fk_reply_json(r, 200, trakt_issue_tokens(f));
}

static void
trakt_oauth_revoke(struct fk_req *r)
{
    struct json_object *t = trakt_part(r->f, "tokens");
    const char *token = fk_gets(r->json, "token");
    const char *cur = fk_gets(t, "access_token");

    if (!trakt_client_ok(r, true))
        return;
    if (token != NULL && cur != NULL && strcmp(token, cur) == 0)
        fk_set(t, "revoked", json_object_new_boolean(true));
    fk_reply_json(r, 200, json_object_new_object());
}

#endif
