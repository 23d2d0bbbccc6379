/*
 * fake_simkl: the SIMKL half of fakeprov (PROVIDERS.md B2), included once by
 * fakeprov.c after fake_core.h. As for Trakt, fakeprov.c has checked the
 * client id, the token and write serialization before a handler runs.
 */
#ifndef WR_FAKE_SIMKL_H
#define WR_FAKE_SIMKL_H

#include "fake_core.h"
#include "fake_plan.h"

static struct json_object *
simkl_state(struct fake *f)
{
    return fk_get(f->st, "simkl");
}

static struct json_object *
simkl_part(struct fake *f, const char *key)
{
    return fk_get(simkl_state(f), key);
}

static struct json_object *
simkl_activities_new(int64_t now)
{
    static const char *const shows[] = {
        "all",       "rated_at", "playback", "plantowatch",      "watching",
        "completed", "hold",     "dropped",  "removed_from_list"};
    static const char *const movies[] = {
        "all",       "rated_at", "playback",         "plantowatch",
        "completed", "dropped",  "removed_from_list"};
    struct json_object *o = json_object_new_object();
    struct json_object *settings = json_object_new_object();

    fk_set(o, "all", fk_jiso(now, false));
    fk_set(settings, "all", fk_jiso(now, false));
    fk_set(o, "settings", settings);
    for (int b = 0; b < 2; b++) {
        struct json_object *bucket = json_object_new_object();

        for (size_t i = 0; i < sizeof(shows) / sizeof(shows[0]); i++)
            fk_set(bucket, shows[i], fk_jiso(now, false));
        fk_set(o, b == 0 ? "tv_shows" : "anime", bucket);
    }
    {
        struct json_object *bucket = json_object_new_object();

        for (size_t i = 0; i < sizeof(movies) / sizeof(movies[0]); i++)
            fk_set(bucket, movies[i], fk_jiso(now, false));
        fk_set(o, "movies", bucket);
    }
    return o;
}

static struct json_object *
simkl_state_new(struct fake *f)
{
    struct json_object *o = json_object_new_object();
    struct json_object *tokens = json_object_new_array();

    json_object_array_add(tokens, json_object_new_string(f->cfg.simkl_token));
    fk_set(o, "history", json_object_new_array());
    fk_set(o, "items", json_object_new_object());
    fk_set(o, "playback", json_object_new_array());
    fk_set(o, "scrobbles", json_object_new_array());
    fk_set(o, "activities", simkl_activities_new(fk_now_ms(f)));
    fk_set(o, "tokens", tokens);
    fk_set(o, "pins", json_object_new_array());
    fk_set(o, "codes", json_object_new_array());
    fk_set(o, "stats", json_object_new_object());
    fk_set(o, "next_ids", json_object_new_object());
    return o;
}

static bool
simkl_token_ok(struct fake *f, const char *token)
{
    struct json_object *tokens = simkl_part(f, "tokens");

    for (size_t i = 0; token != NULL && i < json_object_array_length(tokens);
         i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(tokens, i)),
                   token) == 0)
            return true;
    return false;
}

static int64_t
simkl_next_id(struct fake *f, const char *what, int64_t first)
{
    return fk_next_id(simkl_part(f, "next_ids"), what, first);
}

static bool
simkl_is_anime(struct fake *f, int64_t show)
{
    bool anime = false;

    jget_bool(cat_entry(f, show), "anime", &anime);
    return anime;
}

/* The movie or show an entry belongs to. */
static int64_t
simkl_top(struct fake *f, int64_t idx)
{
    enum fk_kind k = cat_kind(f, idx);

    if (k == FK_SEASON || k == FK_EPISODE)
        return fk_geti(cat_entry(f, idx), "show", -1);
    return idx;
}

static const char *
simkl_bucket(struct fake *f, int64_t idx)
{
    int64_t top = simkl_top(f, idx);

    if (cat_kind(f, top) == FK_MOVIE)
        return "movies";
    return simkl_is_anime(f, top) ? "anime" : "tv_shows";
}

static void
simkl_touch(struct fake *f, int64_t idx, const char *field, int64_t now)
{
    struct json_object *a = simkl_part(f, "activities");
    struct json_object *b = fk_get(a, simkl_bucket(f, idx));

    if (fk_get(b, field) != NULL)
        fk_set(b, field, fk_jiso(now, false));
    fk_set(b, "all", fk_jiso(now, false));
    fk_set(a, "all", fk_jiso(now, false));
}

/* The list record of a movie or show; created when create is set. */
static struct json_object *
simkl_rec(struct fake *f, int64_t idx, bool create)
{
    struct json_object *items = simkl_part(f, "items"), *rec;
    int64_t top = simkl_top(f, idx);
    char key[32];

    snprintf(key, sizeof(key), "%" PRId64, top);
    rec = fk_get(items, key);
    if (rec != NULL || !create)
        return rec;
    rec = json_object_new_object();
    fk_set(rec, "item", json_object_new_int64(top));
    fk_set(rec, "type",
           json_object_new_string(cat_kind(f, top) == FK_MOVIE ? "movie"
                                  : simkl_is_anime(f, top)     ? "anime"
                                                               : "show"));
    fk_set(rec, "status", NULL);
    fk_set(rec, "added_to_watchlist_at", NULL);
    fk_set(rec, "last_watched_at", NULL);
    fk_set(rec, "last_watched_ms", json_object_new_int64(0));
    fk_set(rec, "user_rating", NULL);
    fk_set(rec, "user_rated_at", NULL);
    fk_set(rec, "user_rated_ms", json_object_new_int64(0));
    fk_set(items, key, rec);
    return rec;
}

static void
simkl_rec_drop(struct fake *f, int64_t idx)
{
    char key[32];

    snprintf(key, sizeof(key), "%" PRId64, simkl_top(f, idx));
    json_object_object_del(simkl_part(f, "items"), key);
}

static void
simkl_set_status(struct fake *f, struct json_object *rec, const char *status,
                 int64_t now)
{
    const char *cur = fk_gets(rec, "status");
    int64_t idx = fk_geti(rec, "item", -1);

    fk_set(rec, "updated_ms", json_object_new_int64(now));
    if (cur != NULL && strcmp(cur, status) == 0)
        return;
    fk_set(rec, "status", json_object_new_string(status));
    if (strcmp(status, "plantowatch") == 0)
        fk_set(rec, "added_to_watchlist_at", fk_jiso(now, false));
    simkl_touch(f, idx, status, now);
}

static void
simkl_set_rating(struct fake *f, struct json_object *rec, int rating,
                 int64_t ts, int64_t now)
{
    fk_set(rec, "user_rating", json_object_new_int(rating));
    fk_set(rec, "user_rated_at", fk_jiso(ts, false));
    fk_set(rec, "user_rated_ms", json_object_new_int64(ts));
    fk_set(rec, "updated_ms", json_object_new_int64(now));
    simkl_touch(f, fk_geti(rec, "item", -1), "rated_at", now);
}

/* Record a play of a movie or episode. */
static int64_t
simkl_play(struct fake *f, int64_t idx, int64_t ts, const char *via,
           int64_t now)
{
    struct json_object *h = json_object_new_object();
    struct json_object *rec = simkl_rec(f, idx, true);
    int64_t id = simkl_next_id(f, "history", 500000001LL);

    if (ts < 0)
        ts = now / 1000 * 1000;
    fk_set(h, "id", json_object_new_int64(id));
    fk_set(h, "watched_at", fk_jiso(ts, false));
    fk_set(h, "watched_ms", json_object_new_int64(ts));
    fk_set(h, "type", json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
    fk_set(h, "item", json_object_new_int64(idx));
    fk_set(h, "via", json_object_new_string(via));
    json_object_array_add(simkl_part(f, "history"), h);
    if (ts >= fk_geti(rec, "last_watched_ms", 0)) {
        fk_set(rec, "last_watched_at", fk_jiso(ts, false));
        fk_set(rec, "last_watched_ms", json_object_new_int64(ts));
    }
    fk_set(rec, "updated_ms", json_object_new_int64(now));
    return id;
}

/* Distinct watched episodes of show, and the catalog's episode count. */
static void
simkl_show_progress(struct fake *f, int64_t show, size_t *watched,
                    size_t *total, int64_t *last_ep, int64_t *next_ep)
{
    struct json_object *hist = simkl_part(f, "history");
    size_t n = 0;
    int64_t *eps = cat_episodes_of(f, show, -1, &n), last_ts = -1;
    bool *seen = xcalloc(n + 1, sizeof(*seen));

    *watched = 0;
    *total = n;
    *last_ep = -1;
    *next_ep = -1;
    for (size_t i = 0; i < json_object_array_length(hist); i++) {
        struct json_object *h = json_object_array_get_idx(hist, i);
        int64_t idx = fk_geti(h, "item", -1);

        for (size_t j = 0; j < n; j++) {
            if (eps[j] != idx)
                continue;
            if (!seen[j])
                (*watched)++;
            seen[j] = true;
            if (fk_geti(h, "watched_ms", 0) >= last_ts) {
                last_ts = fk_geti(h, "watched_ms", 0);
                *last_ep = idx;
            }
        }
    }
    for (size_t j = 0; j < n && *next_ep < 0; j++)
        if (!seen[j])
            *next_ep = eps[j];
    free(seen);
    free(eps);
}

static void
simkl_show_status(struct fake *f, int64_t show, int64_t now)
{
    size_t watched, total;
    int64_t last, next;
    struct json_object *rec = simkl_rec(f, show, true);

    simkl_show_progress(f, show, &watched, &total, &last, &next);
    simkl_set_status(
        f, rec, total > 0 && watched >= total ? "completed" : "watching", now);
}

static void
simkl_attach(struct fake *f, struct json_object *row, int64_t idx)
{
    enum fk_kind k = cat_kind(f, idx);

    if (k == FK_MOVIE) {
        fk_set(row, "movie", simkl_media(f, idx, false));
        return;
    }
    if (k == FK_EPISODE) {
        struct json_object *e = cat_entry(f, idx);
        struct json_object *ep = json_object_new_object();

        fk_set(ep, "season", json_object_new_int64(fk_geti(e, "season", 0)));
        fk_set(ep, "number", json_object_new_int64(fk_geti(e, "number", 0)));
        if (fk_gets(e, "title") != NULL)
            fk_set(ep, "title", json_object_new_string(fk_gets(e, "title")));
        fk_set(row, "episode", ep);
    }
    fk_set(row, "show", simkl_media(f, simkl_top(f, idx), false));
}

/* ---- scrobble --------------------------------------------------------- */

static void
simkl_playback_set(struct fake *f, int64_t idx, double progress, int64_t now)
{
    struct json_object *pb = simkl_part(f, "playback");
    struct json_object *e = json_object_new_object();

    fk_array_drop(pb, fk_match_item, &idx);
    fk_set(e, "id", json_object_new_int64(simkl_next_id(f, "playback", 1)));
    fk_set(e, "progress", fk_jnum(progress));
    fk_set(e, "paused_at", fk_jiso(now, false));
    fk_set(e, "paused_ms", json_object_new_int64(now));
    fk_set(e, "type", json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
    fk_set(e, "item", json_object_new_int64(idx));
    json_object_array_add(pb, e);
    simkl_touch(f, idx, "playback", now);
}

static void
simkl_scrobble(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *scrobbles = simkl_part(f, "scrobbles"), *out;
    const char *ep = r->segs[1], *action;
    char err[200] = "";
    double progress;
    int64_t idx, now = fk_now_ms(f), prev, id;

    if (strcmp(ep, "start") != 0 && strcmp(ep, "pause") != 0 &&
        strcmp(ep, "stop") != 0) {
        fk_reply_error(r, 404, "not_found", "no such scrobble action");
        return;
    }
    if (!json_object_is_type(r->json, json_type_object)) {
        fk_reply_error(r, 400, "bad_request", "the body must be an object");
        return;
    }
    if (jget_num(r->json, "progress", &progress) != 0 || progress < 0 ||
        progress > 100 || isnan(progress)) {
        fk_reply_error(r, 400, "bad_request",
                       "progress must be a number from 0 to 100");
        return;
    }
    idx = scrobble_item(f, r->json, true, err, sizeof(err));
    if (idx == -2) {
        fk_reply_error(r, 400, "bad_request", "%s", err);
        return;
    }
    if (idx < 0) {
        fk_reply_error(r, 404, "not_found", "item not found");
        return;
    }
    id = simkl_next_id(f, "scrobble", 1);
    if (strcmp(ep, "start") == 0) {
        action = "start";
        if (fk_array_drop(simkl_part(f, "playback"), fk_match_item, &idx))
            simkl_touch(f, idx, "playback", now);
    } else if (strcmp(ep, "stop") == 0 && progress >= 80) {
        prev = scrobble_recent(scrobbles, idx, now);
        if (prev >= 0) {
            out = json_object_new_object();
            fk_set(out, "watched_at", fk_jiso(prev, true));
            fk_set(out, "expires_at", fk_jiso(prev + FK_HOUR_MS, true));
            scrobble_log(scrobbles, ep, "scrobble", progress, now, idx, 409, 0,
                         false);
            fk_reply_json(r, 409, out);
            return;
        }
        action = "scrobble";
        simkl_play(f, idx, now / 1000 * 1000, "scrobble", now);
        if (fk_array_drop(simkl_part(f, "playback"), fk_match_item, &idx))
            simkl_touch(f, idx, "playback", now);
        if (cat_kind(f, idx) == FK_MOVIE)
            simkl_set_status(f, simkl_rec(f, idx, true), "completed", now);
        else
            simkl_show_status(f, simkl_top(f, idx), now);
    } else {
        action = "pause";
        simkl_playback_set(f, idx, progress, now);
    }
    scrobble_log(scrobbles, ep, action, progress, now, idx, 201, id, false);
    out = json_object_new_object();
    fk_set(out, "id", json_object_new_int64(id));
    fk_set(out, "action", json_object_new_string(action));
    fk_set(out, "progress", fk_jnum(progress));
    simkl_attach(f, out, idx);
    fk_reply_json(r, 201, out);
}

/* ---- /sync/history ---------------------------------------------------- */

static bool
simkl_plan(struct fk_req *r, struct plan *p)
{
    plan_body(r->f, p, r->json);
    if (p->err_status != 0) {
        fk_reply_error(r, p->err_status, "bad_request", "%s", p->err);
        return false;
    }
    return true;
}

static struct json_object *
simkl_status_row(struct fake *f, struct json_object *req, int64_t top)
{
    struct json_object *row = json_object_new_object();
    struct json_object *resp = json_object_new_object();
    struct json_object *rec = simkl_rec(f, top, false);
    const char *st = fk_gets(rec, "status");
    const char *at = fk_gets(cat_entry(f, top), "anime_type");
    bool anime = cat_kind(f, top) != FK_MOVIE && simkl_is_anime(f, top);

    fk_set(row, "request", json_object_get(req));
    fk_set(resp, "status", st != NULL ? json_object_new_string(st) : NULL);
    fk_set(resp, "simkl_type",
           json_object_new_string(cat_kind(f, top) == FK_MOVIE ? "movie"
                                  : anime                      ? "anime"
                                                               : "tv"));
    fk_set(resp, "anime_type",
           anime && at != NULL ? json_object_new_string(at) : NULL);
    fk_set(row, "response", resp);
    return row;
}

static void
simkl_history_add(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out, *added, *statuses;
    struct plan p;
    int64_t now = fk_now_ms(f), nshows = 0;
    int64_t *shows = NULL;
    bool *explicit_st = NULL;
    struct json_object **tops = NULL;

    plan_init(&p, true, PLAN_HISTORY);
    if (!simkl_plan(r, &p))
        goto done;
    added = json_object_new_object();
    fk_set(added, "movies", json_object_new_int(0));
    fk_set(added, "shows", json_object_new_int(0));
    fk_set(added, "episodes", json_object_new_int(0));
    statuses = json_object_new_array();
    shows = xcalloc(p.n + 1, sizeof(*shows));
    explicit_st = xcalloc(p.n + 1, sizeof(*explicit_st));
    tops = xcalloc(p.n + 1, sizeof(*tops));
    for (size_t i = 0; i < p.n; i++) {
        struct plan_op *op = &p.ops[i];
        int64_t ts = op->ts_ms, top = simkl_top(f, op->idx), j;
        struct json_object *rec;

        if (op->kind == FK_MOVIE) {
            simkl_play(f, op->idx, ts, "history", now);
            rec = simkl_rec(f, op->idx, true);
            simkl_set_status(f, rec, op->status[0] ? op->status : "completed",
                             now);
            if (op->rating > 0)
                simkl_set_rating(f, rec, op->rating, ts >= 0 ? ts : now, now);
            fk_count_add(added, "movies", 1);
            json_object_array_add(statuses,
                                  simkl_status_row(f, op->top, op->idx));
            continue;
        }
        for (j = 0; j < nshows && shows[j] != top; j++)
            ;
        if (j == nshows) {
            shows[nshows] = top;
            tops[nshows] = op->top;
            nshows++;
        }
        if (op->kind == FK_EPISODE) {
            simkl_play(f, op->idx, ts, "history", now);
            fk_count_add(added, "episodes", 1);
            continue;
        }
        rec = simkl_rec(f, top, true);
        if (op->status[0]) {
            simkl_set_status(f, rec, op->status, now);
            explicit_st[j] = true;
        }
        if (op->rating > 0)
            simkl_set_rating(f, rec, op->rating, ts >= 0 ? ts : now, now);
    }
    for (int64_t j = 0; j < nshows; j++) {
        if (!explicit_st[j])
            simkl_show_status(f, shows[j], now);
        fk_count_add(added, "shows", 1);
        json_object_array_add(statuses, simkl_status_row(f, tops[j], shows[j]));
    }
    fk_set(added, "statuses", statuses);
    out = json_object_new_object();
    fk_set(out, "added", added);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, (int)f->cfg.simkl_history_status, out);
done:
    free(shows);
    free(explicit_st);
    free(tops);
    plan_release(&p);
}

static void
simkl_history_remove(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *hist = simkl_part(f, "history"), *out, *deleted;
    struct plan p;
    int64_t now = fk_now_ms(f);

    plan_init(&p, true, PLAN_HISTORY_REMOVE);
    if (!simkl_plan(r, &p))
        goto done;
    deleted = json_object_new_object();
    fk_set(deleted, "movies", json_object_new_int(0));
    fk_set(deleted, "shows", json_object_new_int(0));
    fk_set(deleted, "episodes", json_object_new_int(0));
    for (size_t i = 0; i < p.n; i++) {
        struct plan_op *op = &p.ops[i];
        size_t plays = 0;
        bool listed = simkl_rec(f, op->idx, false) != NULL;

        if (op->kind == FK_MOVIE || op->kind == FK_EPISODE)
            plays = fk_array_drop(hist, fk_match_item, &op->idx);
        if (op->kind == FK_MOVIE || op->kind == FK_SHOW) {
            /* Removing a movie or show also removes its rating. */
            if (listed) {
                simkl_rec_drop(f, op->idx);
                simkl_touch(f, op->idx, "removed_from_list", now);
            }
            if (plays > 0 || listed)
                fk_count_add(deleted, fk_kind_plural[op->kind], 1);
        } else if (plays > 0) {
            fk_count_add(deleted, "episodes", 1);
            simkl_touch(f, op->idx, "all", now);
        }
    }
    out = json_object_new_object();
    fk_set(out, "deleted", deleted);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 200, out);
done:
    plan_release(&p);
}

/* ---- /sync/add-to-list, /sync/ratings --------------------------------- */

static void
simkl_add_to_list(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out, *added;
    struct plan p;
    int64_t now = fk_now_ms(f);

    plan_init(&p, true, PLAN_LIST);
    if (fk_get(r->json, "to") != NULL) {
        fk_reply_error(r, 400, "empty_field",
                       "\"to\" belongs on each item, not at the top level");
        goto done;
    }
    if (!simkl_plan(r, &p))
        goto done;
    added = json_object_new_object();
    fk_set(added, "movies", json_object_new_array());
    fk_set(added, "shows", json_object_new_array());
    for (size_t i = 0; i < p.n; i++) {
        struct plan_op *op = &p.ops[i];

        simkl_set_status(f, simkl_rec(f, op->idx, true), op->status, now);
        json_object_array_add(
            fk_get(added, op->kind == FK_MOVIE ? "movies" : "shows"),
            json_object_get(op->req));
    }
    out = json_object_new_object();
    fk_set(out, "added", added);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 201, out);
done:
    plan_release(&p);
}

static void
simkl_ratings_add(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out, *added;
    struct plan p;
    int64_t now = fk_now_ms(f);

    plan_init(&p, true, PLAN_RATINGS);
    if (!simkl_plan(r, &p))
        goto done;
    added = json_object_new_object();
    fk_set(added, "movies", json_object_new_int(0));
    fk_set(added, "shows", json_object_new_int(0));
    for (size_t i = 0; i < p.n; i++) {
        struct plan_op *op = &p.ops[i];
        struct json_object *rec = simkl_rec(f, op->idx, true);

        /* Rating an unlisted item lists it (movie completed, show
         * watching). */
        if (fk_gets(rec, "status") == NULL)
            simkl_set_status(
                f, rec, op->kind == FK_MOVIE ? "completed" : "watching", now);
        simkl_set_rating(f, rec, op->rating, op->ts_ms >= 0 ? op->ts_ms : now,
                         now);
        fk_count_add(added, op->kind == FK_MOVIE ? "movies" : "shows", 1);
    }
    out = json_object_new_object();
    fk_set(out, "added", added);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 201, out);
done:
    plan_release(&p);
}

static void
simkl_ratings_remove(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out, *deleted;
    struct plan p;
    int64_t now = fk_now_ms(f);

    plan_init(&p, true, PLAN_RATINGS_REMOVE);
    if (!simkl_plan(r, &p))
        goto done;
    deleted = json_object_new_object();
    fk_set(deleted, "movies", json_object_new_int(0));
    fk_set(deleted, "shows", json_object_new_int(0));
    for (size_t i = 0; i < p.n; i++) {
        struct json_object *rec = simkl_rec(f, p.ops[i].idx, false);

        if (rec == NULL || fk_geti(rec, "user_rating", 0) == 0)
            continue;
        fk_set(rec, "user_rating", NULL);
        fk_set(rec, "user_rated_at", NULL);
        fk_set(rec, "user_rated_ms", json_object_new_int64(0));
        fk_set(rec, "updated_ms", json_object_new_int64(now));
        simkl_touch(f, p.ops[i].idx, "rated_at", now);
        fk_count_add(deleted, p.ops[i].kind == FK_MOVIE ? "movies" : "shows",
                     1);
    }
    out = json_object_new_object();
    fk_set(out, "deleted", deleted);
    fk_set(out, "not_found", json_object_get(p.nf));
    fk_reply_json(r, 200, out);
done:
    plan_release(&p);
}

/* The all-items/ratings key of a record: "movies", "shows" or "anime". */
static const char *
simkl_rec_key(struct json_object *rec)
{
    const char *t = fk_gets(rec, "type");

    if (t != NULL && strcmp(t, "movie") == 0)
        return "movies";
    if (t != NULL && strcmp(t, "anime") == 0)
        return "anime";
    return "shows";
}

static bool
simkl_type_ok(const char *seg)
{
    return strcmp(seg, "movies") == 0 || strcmp(seg, "shows") == 0 ||
           strcmp(seg, "anime") == 0;
}

/* GET|POST /sync/ratings/{type}[/{rating}] */
static void
simkl_ratings_get(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out = json_object_new_object();
    const char *type = r->nsegs >= 3 ? r->segs[2] : NULL;
    unsigned mask = 0x7fe;
    int64_t from = 0;

    if (r->nsegs > 4 ||
        (type != NULL && strcmp(type, "all") != 0 && !simkl_type_ok(type)) ||
        (r->nsegs == 4 && fk_rating_mask(r->segs[3], &mask) != 0)) {
        json_object_put(out);
        fk_reply_error(r, 404, "not_found", "no such ratings list");
        return;
    }
    if (fk_time_query(r, "date_from", &from) < 0) {
        json_object_put(out);
        fk_reply_error(r, 400, "bad_request", "date_from is not a date");
        return;
    }
    json_object_object_foreach (simkl_part(f, "items"), key, rec) {
        const char *k = simkl_rec_key(rec);
        struct json_object *arr, *row;
        int64_t rating = fk_geti(rec, "user_rating", 0);

        (void)key;
        if (rating == 0 || !(mask & (1u << rating)))
            continue;
        if (type != NULL && strcmp(type, "all") != 0 && strcmp(type, k) != 0)
            continue;
        if (fk_geti(rec, "user_rated_ms", 0) < from)
            continue;
        arr = fk_get(out, k);
        if (arr == NULL) {
            arr = json_object_new_array();
            fk_set(out, k, arr);
        }
        row = json_object_new_object();
        fk_set(row, "user_rating", json_object_new_int64(rating));
        fk_set(row, "user_rated_at",
               json_object_get(fk_get(rec, "user_rated_at")));
        fk_set(row, "status", json_object_get(fk_get(rec, "status")));
        fk_set(row, "last_watched_at",
               json_object_get(fk_get(rec, "last_watched_at")));
        fk_set(row, strcmp(k, "movies") == 0 ? "movie" : "show",
               simkl_media(f, fk_geti(rec, "item", -1), false));
        json_object_array_add(arr, row);
    }
    fk_reply_json(r, 200, out);
}

/* ---- reads ------------------------------------------------------------ */

static void
simkl_activities(struct fk_req *r)
{
    fk_reply_json(r, 200, json_object_get(simkl_part(r->f, "activities")));
}

static struct json_object *
simkl_all_items_row(struct fake *f, struct fk_req *r, struct json_object *rec,
                    const char *ext)
{
    struct json_object *row = json_object_new_object();
    int64_t idx = fk_geti(rec, "item", -1);
    bool ids_only = ext != NULL && (strcmp(ext, "simkl_ids_only") == 0 ||
                                    strcmp(ext, "ids_only") == 0);
    bool full = ext != NULL && (strcmp(ext, "full") == 0 ||
                                strcmp(ext, "full_anime_seasons") == 0);
    const char *ewa = fk_query(r, "episode_watched_at");
    struct json_object *media;

    fk_set(row, "added_to_watchlist_at",
           json_object_get(fk_get(rec, "added_to_watchlist_at")));
    fk_set(row, "last_watched_at",
           json_object_get(fk_get(rec, "last_watched_at")));
    fk_set(row, "user_rated_at", json_object_get(fk_get(rec, "user_rated_at")));
    fk_set(row, "user_rating", json_object_get(fk_get(rec, "user_rating")));
    fk_set(row, "status", json_object_get(fk_get(rec, "status")));
    media = simkl_media(f, idx, ids_only);
    if (ext != NULL && strcmp(ext, "simkl_ids_only") == 0) {
        struct json_object *ids = json_object_new_object();

        fk_set(ids, "simkl",
               json_object_get(fk_get(fk_get(media, "ids"), "simkl")));
        fk_set(media, "ids", ids);
    }
    if (cat_kind(f, idx) == FK_MOVIE) {
        fk_set(row, "movie", media);
        return row;
    }
    {
        size_t watched, total;
        int64_t last, next;
        char buf[64];

        simkl_show_progress(f, idx, &watched, &total, &last, &next);
        if (last >= 0) {
            snprintf(buf, sizeof(buf), "S%02" PRId64 "E%02" PRId64,
                     fk_geti(cat_entry(f, last), "season", 0),
                     fk_geti(cat_entry(f, last), "number", 0));
            fk_set(row, "last_watched", json_object_new_string(buf));
        } else {
            fk_set(row, "last_watched", NULL);
        }
        if (next >= 0) {
            snprintf(buf, sizeof(buf), "S%02" PRId64 "E%02" PRId64,
                     fk_geti(cat_entry(f, next), "season", 0),
                     fk_geti(cat_entry(f, next), "number", 0));
            fk_set(row, "next_to_watch", json_object_new_string(buf));
        } else {
            fk_set(row, "next_to_watch", NULL);
        }
        fk_set(row, "watched_episodes_count",
               json_object_new_int64((int64_t)watched));
        fk_set(row, "total_episodes_count",
               json_object_new_int64((int64_t)total));
        fk_set(row, "not_aired_episodes_count", json_object_new_int(0));
    }
    fk_set(row, "show", media);
    if (simkl_is_anime(f, idx) && fk_gets(cat_entry(f, idx), "anime_type"))
        fk_set(
            row, "anime_type",
            json_object_new_string(fk_gets(cat_entry(f, idx), "anime_type")));
    if (full) {
        struct json_object *hist = simkl_part(f, "history");
        struct json_object *seasons = json_object_new_array();
        size_t n = 0;
        int64_t *eps = cat_episodes_of(f, idx, -1, &n);

        for (size_t i = 0; i < n; i++) {
            int64_t ts = -1;
            struct json_object *e = cat_entry(f, eps[i]), *season = NULL, *ep;
            int64_t sn = fk_geti(e, "season", 0);

            for (size_t j = 0; j < json_object_array_length(hist); j++) {
                struct json_object *h = json_object_array_get_idx(hist, j);

                if (fk_geti(h, "item", -1) == eps[i] &&
                    fk_geti(h, "watched_ms", 0) > ts)
                    ts = fk_geti(h, "watched_ms", 0);
            }
            if (ts < 0)
                continue;
            for (size_t j = 0; j < json_object_array_length(seasons); j++) {
                struct json_object *s = json_object_array_get_idx(seasons, j);

                if (fk_geti(s, "number", -1) == sn)
                    season = s;
            }
            if (season == NULL) {
                season = json_object_new_object();
                fk_set(season, "number", json_object_new_int64(sn));
                fk_set(season, "episodes", json_object_new_array());
                json_object_array_add(seasons, season);
            }
            ep = json_object_new_object();
            fk_set(ep, "number",
                   json_object_new_int64(fk_geti(e, "number", 0)));
            if (ewa != NULL && strcmp(ewa, "yes") == 0)
                fk_set(ep, "watched_at", fk_jiso(ts, false));
            json_object_array_add(fk_get(season, "episodes"), ep);
        }
        free(eps);
        fk_set(row, "seasons", seasons);
    }
    return row;
}

/* GET /sync/all-items[/{type}[/{status}]] */
static void
simkl_all_items(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out = json_object_new_object();
    struct json_object *stats = simkl_part(f, "stats");
    const char *type = r->nsegs >= 3 ? r->segs[2] : NULL;
    const char *status = r->nsegs >= 4 ? r->segs[3] : NULL;
    const char *ext = fk_query(r, "extended");
    int64_t from = 0;
    int has_from;
    bool status_ok = status == NULL;

    for (size_t i = 0; status != NULL && i < 5; i++)
        status_ok |= strcmp(status, simkl_statuses[i]) == 0;
    if (r->nsegs > 4 || (type != NULL && !simkl_type_ok(type)) || !status_ok) {
        json_object_put(out);
        fk_reply_error(r, 404, "not_found", "no such list");
        return;
    }
    has_from = fk_time_query(r, "date_from", &from);
    if (has_from < 0) {
        json_object_put(out);
        fk_reply_error(r, 400, "bad_request", "date_from is not a date");
        return;
    }
    fk_count_add(stats, "all_items_calls", 1);
    if (has_from == 0)
        fk_count_add(stats, "all_items_without_date_from", 1);
    json_object_object_foreach (simkl_part(f, "items"), key, rec) {
        const char *k = simkl_rec_key(rec), *st = fk_gets(rec, "status");
        struct json_object *arr;
        int64_t t;

        (void)key;
        if (st == NULL)
            continue;
        if ((type != NULL && strcmp(type, k) != 0) ||
            (status != NULL && strcmp(status, st) != 0))
            continue;
        t = f->cfg.simkl_date_from_watched ? fk_geti(rec, "last_watched_ms", 0)
                                           : fk_geti(rec, "updated_ms", 0);
        if (has_from > 0 && t < from)
            continue;
        arr = fk_get(out, k);
        if (arr == NULL) {
            arr = json_object_new_array();
            fk_set(out, k, arr);
        }
        json_object_array_add(arr, simkl_all_items_row(f, r, rec, ext));
    }
    if (json_object_object_length(out) == 0 && f->cfg.simkl_empty_null) {
        json_object_put(out);
        fk_reply_json(r, 200, NULL);
        r->raw = xstrdup("null");
        return;
    }
    fk_reply_json(r, 200, out);
}

static void
simkl_playback_get(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *pb = simkl_part(f, "playback");
    struct json_object *out = json_object_new_array();

    if (r->nsegs > 3 || (r->nsegs == 3 && strcmp(r->segs[2], "movies") != 0 &&
                         strcmp(r->segs[2], "episodes") != 0)) {
        json_object_put(out);
        fk_reply_error(r, 404, "not_found", "no such type");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(pb); i++) {
        struct json_object *e = json_object_array_get_idx(pb, i), *row;
        int64_t idx = fk_geti(e, "item", -1);

        if (r->nsegs == 3 && (strcmp(r->segs[2], "movies") == 0) !=
                                 (cat_kind(f, idx) == FK_MOVIE))
            continue;
        row = json_object_new_object();
        fk_set(row, "id", json_object_new_int64(fk_geti(e, "id", 0)));
        fk_set(row, "progress", json_object_get(fk_get(e, "progress")));
        fk_set(row, "paused_at",
               json_object_new_string(fk_gets(e, "paused_at")));
        fk_set(row, "type",
               json_object_new_string(fk_kind_name[cat_kind(f, idx)]));
        simkl_attach(f, row, idx);
        json_object_array_add(out, row);
    }
    fk_reply_json(r, 200, out);
}

static void
simkl_playback_delete(struct fk_req *r)
{
    int64_t id;

    if (parse_i64(r->segs[2], 0, INT64_MAX, &id) != 0 ||
        fk_array_drop(simkl_part(r->f, "playback"), fk_match_id, &id) == 0) {
        fk_reply_error(r, 404, "not_found", "no such playback");
        return;
    }
    fk_reply_empty(r, 204);
}

static void
simkl_users_settings(struct fk_req *r)
{
    struct json_object *out = json_object_new_object();
    struct json_object *user = json_object_new_object();
    struct json_object *account = json_object_new_object();

    fk_set(user, "name", json_object_new_string("fakeuser"));
    fk_set(user, "joined_at", json_object_new_string("2020-01-01T00:00:00Z"));
    fk_set(account, "id", json_object_new_int(1));
    fk_set(account, "timezone", json_object_new_string("UTC"));
    fk_set(account, "type", json_object_new_string("free"));
    fk_set(out, "user", user);
    fk_set(out, "account", account);
    fk_reply_json(r, 200, out);
}

/* ---- OAuth: PIN and code flows ---------------------------------------- */

static void
simkl_pin_new(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *pin = json_object_new_object(), *out;
    char device[65], user[6];
    int64_t now = fk_now_ms(f);

    if (random_hex(device, 32) != 0)
        fk_random_code(device, 64, "0123456789abcdef");
    fk_random_code(user, 5, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789");
    fk_set(pin, "device_code", json_object_new_string(device));
    fk_set(pin, "user_code", json_object_new_string(user));
    fk_set(pin, "state", json_object_new_string("pending"));
    fk_set(pin, "created_ms", json_object_new_int64(now));
    fk_set(pin, "expires_ms",
           json_object_new_int64(now + f->cfg.pin_expires_s * 1000));
    fk_set(pin, "interval", json_object_new_int64(f->cfg.pin_interval_s));
    fk_set(pin, "last_poll_mono", json_object_new_int64(-1));
    json_object_array_add(simkl_part(f, "pins"), pin);
    out = json_object_new_object();
    fk_set(out, "result", json_object_new_string("OK"));
    fk_set(out, "device_code", json_object_new_string(device));
    fk_set(out, "user_code", json_object_new_string(user));
    fk_set(out, "verification_url",
           json_object_new_string("https://simkl.com/pin/"));
    fk_set(out, "expires_in", json_object_new_int64(f->cfg.pin_expires_s));
    fk_set(out, "interval", json_object_new_int64(f->cfg.pin_interval_s));
    fk_reply_json(r, 200, out);
}

static void
simkl_ko(struct fk_req *r, const char *message)
{
    struct json_object *out = json_object_new_object();

    fk_set(out, "result", json_object_new_string("KO"));
    fk_set(out, "message", json_object_new_string(message));
    fk_reply_json(r, 200, out);
}

static void
simkl_pin_poll(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *pins = simkl_part(f, "pins"), *pin = NULL, *out;
    const char *state;
    int64_t mono = fk_mono(f), last;
    char token[65];

    for (size_t i = 0; i < json_object_array_length(pins); i++) {
        struct json_object *p = json_object_array_get_idx(pins, i);

        if (strcmp(fk_gets(p, "user_code"), r->segs[2]) == 0)
            pin = p;
    }
    if (pin == NULL) {
        simkl_ko(r, "Wrong code");
        return;
    }
    state = fk_gets(pin, "state");
    last = fk_geti(pin, "last_poll_mono", -1);
    fk_set(pin, "last_poll_mono", json_object_new_int64(mono));
    fk_set(pin, "polls", json_object_new_int64(fk_geti(pin, "polls", 0) + 1));
    if (strcmp(state, "used") == 0) {
        simkl_ko(r, "Code already used");
        return;
    }
    if (fk_now_ms(f) >= fk_geti(pin, "expires_ms", 0)) {
        simkl_ko(r, "Code expired");
        return;
    }
    if (last >= 0 && mono - last < fk_geti(pin, "interval", 5) * 1000) {
        simkl_ko(r, "Slow down");
        return;
    }
    if (strcmp(state, "denied") == 0) {
        simkl_ko(r, "Authorization denied");
        return;
    }
    if (strcmp(state, "approved") != 0) {
        simkl_ko(r, "Authorization pending");
        return;
    }
    if (random_hex(token, 32) != 0)
        fk_random_code(token, 64, "0123456789abcdef");
    json_object_array_add(simkl_part(f, "tokens"),
                          json_object_new_string(token));
    fk_set(pin, "state", json_object_new_string("used"));
    out = json_object_new_object();
    fk_set(out, "result", json_object_new_string("OK"));
    fk_set(out, "access_token", json_object_new_string(token));
    fk_reply_json(r, 200, out);
}

static void
simkl_oauth_token(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *codes = simkl_part(f, "codes"), *found = NULL, *out;
    const char *code = fk_gets(r->json, "code");
    const char *grant = fk_gets(r->json, "grant_type");
    const char *id = fk_gets(r->json, "client_id");
    const char *secret = fk_gets(r->json, "client_secret");
    char token[65];

    for (size_t i = 0; code != NULL && i < json_object_array_length(codes);
         i++) {
        struct json_object *c = json_object_array_get_idx(codes, i);
        bool used = true;

        jget_bool(c, "used", &used);
        if (strcmp(fk_gets(c, "code"), code) == 0 && !used)
            found = c;
    }
    if (found == NULL || grant == NULL ||
        strcmp(grant, "authorization_code") != 0 || id == NULL ||
        strcmp(id, f->cfg.simkl_client_id) != 0 || secret == NULL ||
        strcmp(secret, f->cfg.simkl_client_secret) != 0 ||
        fk_gets(r->json, "redirect_uri") == NULL) {
        out = json_object_new_object();
        fk_set(out, "error", json_object_new_string("grant_error"));
        fk_reply_json(r, 401, out);
        return;
    }
    fk_set(found, "used", json_object_new_boolean(true));
    if (random_hex(token, 32) != 0)
        fk_random_code(token, 64, "0123456789abcdef");
    json_object_array_add(simkl_part(f, "tokens"),
                          json_object_new_string(token));
    out = json_object_new_object();
    fk_set(out, "access_token", json_object_new_string(token));
    fk_set(out, "token_type", json_object_new_string("bearer"));
    fk_set(out, "scope", json_object_new_string("public"));
    fk_reply_json(r, 200, out);
}

#endif
