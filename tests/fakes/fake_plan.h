/*
 * fake_plan: the part of fakeprov that reads Trakt/SIMKL sync and scrobble
 * bodies into catalog operations, without touching provider state, so an
 * invalid body changes nothing. Included once by fakeprov.c, after
 * fake_core.h.
 */
#ifndef WR_FAKE_PLAN_H
#define WR_FAKE_PLAN_H

#include "fake_core.h"

/* ---- sync-body planner ------------------------------------------------ */

enum plan_mode {
    PLAN_HISTORY,
    PLAN_HISTORY_REMOVE,
    PLAN_RATINGS,
    PLAN_RATINGS_REMOVE,
    PLAN_WATCHLIST,
    PLAN_LIST /* SIMKL add-to-list */
};

struct plan_op {
    int64_t idx;
    enum fk_kind kind;
    int64_t ts_ms; /* -1: now */
    bool ts_unknown;
    int rating;              /* 0: none */
    char status[16];         /* SIMKL list status, "" none */
    struct json_object *req; /* borrowed: the request item it came from */
    struct json_object *top; /* borrowed: its top-level request item */
};

struct plan {
    bool simkl;
    enum plan_mode mode;
    struct plan_op *ops;
    size_t n, cap;
    struct json_object *nf;  /* not_found, owned */
    struct json_object *top; /* the top-level item being read */
    int err_status;          /* 0 = fine */
    char err[256];
};

static void
plan_init(struct plan *p, bool simkl, enum plan_mode mode)
{
    memset(p, 0, sizeof(*p));
    p->simkl = simkl;
    p->mode = mode;
    p->nf = json_object_new_object();
    if (simkl) {
        fk_set(p->nf, "movies", json_object_new_array());
        fk_set(p->nf, "shows", json_object_new_array());
        if (mode == PLAN_HISTORY || mode == PLAN_HISTORY_REMOVE)
            fk_set(p->nf, "episodes", json_object_new_array());
    } else {
        for (int k = 0; k < FK_KIND_MAX; k++)
            fk_set(p->nf, fk_kind_plural[k], json_object_new_array());
    }
}

static void
plan_release(struct plan *p)
{
    free(p->ops);
    json_object_put(p->nf);
    memset(p, 0, sizeof(*p));
}

static void plan_fail(struct plan *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
plan_fail(struct plan *p, const char *fmt, ...)
{
    va_list ap;

    if (p->err_status != 0)
        return;
    p->err_status = p->simkl ? 400 : 422;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
}

static void
plan_not_found(struct plan *p, const char *key, struct json_object *item)
{
    struct json_object *arr = fk_get(p->nf, key);

    if (arr == NULL)
        arr = fk_get(p->nf, "shows");
    json_object_array_add(arr, json_object_get(item));
}

static struct plan_op *
plan_push(struct plan *p, int64_t idx, enum fk_kind kind,
          struct json_object *req)
{
    struct plan_op *op;

    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->ops = xrealloc(p->ops, p->cap * sizeof(*p->ops));
    }
    op = &p->ops[p->n++];
    memset(op, 0, sizeof(*op));
    op->idx = idx;
    op->kind = kind;
    op->ts_ms = -1;
    op->req = req;
    op->top = p->top;
    return op;
}

/* The time key of a mode ("watched_at" / "rated_at"), NULL if none. */
static const char *
plan_time_key(const struct plan *p)
{
    if (p->mode == PLAN_HISTORY)
        return "watched_at";
    if (p->mode == PLAN_RATINGS)
        return "rated_at";
    return NULL;
}

/*
 * Read obj's time key into *ts / *unknown, leaving them (inherited) when
 * absent. "released" takes the entry's release date (else January 1st of its
 * year), "unknown" (Trakt) flags the play as undated.
 */
static void
plan_time(struct fake *f, struct plan *p, struct json_object *obj, int64_t idx,
          int64_t *ts, bool *unknown)
{
    const char *key = plan_time_key(p);
    struct json_object *v = key != NULL ? fk_get(obj, key) : NULL;
    const char *s;
    int64_t t;

    if (v == NULL || json_object_is_type(v, json_type_null))
        return;
    if (!json_object_is_type(v, json_type_string)) {
        plan_fail(p, "%s must be a string", key);
        return;
    }
    s = json_object_get_string(v);
    if (!p->simkl && strcmp(s, "unknown") == 0) {
        *unknown = true;
        *ts = 0;
        return;
    }
    if (!p->simkl && strcmp(s, "released") == 0) {
        struct json_object *e = cat_entry(f, idx);
        const char *rel = fk_gets(e, "released");
        char buf[32];

        while (e != NULL && rel == NULL && fk_get(e, "show") != NULL) {
            e = cat_entry(f, fk_geti(e, "show", -1));
            rel = fk_gets(e, "released");
        }
        if (rel == NULL) {
            snprintf(buf, sizeof(buf), "%04d-01-01",
                     (int)fk_geti(e, "year", 1970));
            rel = buf;
        }
        if (wr_time_parse(rel, &t) != 0)
            t = 0;
        *ts = t * 1000;
        *unknown = false;
        return;
    }
    if (wr_time_parse(s, &t) != 0) {
        plan_fail(p, "%s is not an ISO 8601 time: %.40s", key, s);
        return;
    }
    *ts = t * 1000;
    *unknown = false;
}

/* Read a rating (integer 1..10). 1 = set, 0 = absent, -1 = invalid. */
static int
plan_rating(struct plan *p, struct json_object *obj, int *out)
{
    struct json_object *v = fk_get(obj, "rating");
    int64_t n;

    if (v == NULL)
        return 0;
    if (jget_i64(obj, "rating", &n) != 0 || n < 1 || n > 10) {
        plan_fail(p, "rating must be an integer from 1 to 10");
        return -1;
    }
    *out = (int)n;
    return 1;
}

static const char *const simkl_statuses[] = {"plantowatch", "watching",
                                             "completed", "hold", "dropped"};

/* SIMKL list status of obj["key"]: 1 set, 0 absent, -1 invalid. */
static int
plan_status(struct plan *p, struct json_object *obj, const char *key,
            enum fk_kind k, char out[16])
{
    const char *s;
    struct json_object *v = fk_get(obj, key);

    if (v == NULL)
        return 0;
    s = fk_gets(obj, key);
    if (s != NULL) {
        for (size_t i = 0; i < 5; i++) {
            if (strcmp(s, simkl_statuses[i]) != 0)
                continue;
            if (k == FK_MOVIE &&
                (strcmp(s, "watching") == 0 || strcmp(s, "hold") == 0))
                break;
            snprintf(out, 16, "%s", s);
            return 1;
        }
    }
    plan_fail(p, "%s is not a valid list status for a %s", key,
              fk_kind_name[k]);
    return -1;
}

static void
plan_item_fields(struct fake *f, struct plan *p, struct plan_op *op,
                 struct json_object *obj, int64_t ts, bool unknown)
{
    op->ts_ms = ts;
    op->ts_unknown = unknown;
    plan_time(f, p, obj, op->idx, &op->ts_ms, &op->ts_unknown);
    if (p->mode == PLAN_RATINGS ||
        (p->simkl && p->mode == PLAN_HISTORY && op->kind != FK_EPISODE))
        plan_rating(p, obj, &op->rating);
    if (p->simkl && p->mode == PLAN_HISTORY && op->kind != FK_EPISODE)
        plan_status(p, obj, "status", op->kind, op->status);
    if (p->mode == PLAN_LIST)
        plan_status(p, obj, "to", op->kind, op->status);
}

/* History-style expansion of a show or season to its episodes. */
static void
plan_episodes(struct fake *f, struct plan *p, int64_t show, int64_t season,
              struct json_object *req, int64_t ts, bool unknown)
{
    size_t n = 0;
    int64_t *eps = cat_episodes_of(f, show, season, &n);

    for (size_t i = 0; i < n; i++) {
        struct plan_op *op = plan_push(p, eps[i], FK_EPISODE, req);

        op->ts_ms = ts;
        op->ts_unknown = unknown;
    }
    free(eps);
}

static bool
plan_expands(const struct plan *p)
{
    return p->mode == PLAN_HISTORY || p->mode == PLAN_HISTORY_REMOVE;
}

static void
plan_show(struct fake *f, struct plan *p, struct json_object *item,
          const char *nf_key)
{
    char err[200] = "";
    int64_t show = cat_resolve(f, FK_SHOW, item, p->simkl, err, sizeof(err));
    struct json_object *seasons = fk_get(item, "seasons");
    int64_t ts_show = -1;
    bool unk_show = false;
    bool rated = false;

    if (show == -2) {
        plan_fail(p, "%s", err);
        return;
    }
    if (seasons != NULL && !json_object_is_type(seasons, json_type_array)) {
        plan_fail(p, "seasons must be an array");
        return;
    }
    if (show < 0) {
        plan_not_found(p, nf_key, item);
        return;
    }
    plan_time(f, p, item, show, &ts_show, &unk_show);
    if (p->simkl && !plan_expands(p)) {
        /* SIMKL rates and lists whole shows only. */
        struct plan_op *op = plan_push(p, show, FK_SHOW, item);

        plan_item_fields(f, p, op, item, ts_show, unk_show);
        if (p->mode == PLAN_RATINGS && op->rating == 0)
            plan_fail(p, "each rated item needs a rating");
        if (p->mode == PLAN_LIST && op->status[0] == '\0') {
            plan_fail(p, "each item needs \"to\"");
            p->err_status = 400;
        }
        return;
    }
    if (p->simkl) {
        /* History: the show's own status/rating ride on a show op; a whole
         * show removed also leaves the list. */
        char st[16] = "";
        int rating = 0;

        if (p->mode == PLAN_HISTORY) {
            plan_status(p, item, "status", FK_SHOW, st);
            plan_rating(p, item, &rating);
        }
        if (st[0] != '\0' || rating > 0 ||
            (p->mode == PLAN_HISTORY_REMOVE && seasons == NULL)) {
            struct plan_op *op = plan_push(p, show, FK_SHOW, item);

            memcpy(op->status, st, sizeof(st));
            op->rating = rating;
            op->ts_ms = ts_show;
        }
    } else if (p->mode == PLAN_RATINGS) {
        int rating = 0;

        if (plan_rating(p, item, &rating) > 0) {
            struct plan_op *op = plan_push(p, show, FK_SHOW, item);

            op->rating = rating;
            op->ts_ms = ts_show;
            rated = true;
        }
    } else if (!plan_expands(p) && seasons == NULL) {
        plan_push(p, show, FK_SHOW, item);
        return;
    }
    if (seasons == NULL) {
        if (plan_expands(p))
            plan_episodes(f, p, show, -1, item, ts_show, unk_show);
        else if (p->mode == PLAN_RATINGS && !rated)
            plan_fail(p, "a show needs a rating or seasons");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(seasons); i++) {
        struct json_object *s = json_object_array_get_idx(seasons, i);
        struct json_object *eps = fk_get(s, "episodes");
        int64_t num, ts_s = ts_show, sidx;
        bool unk_s = unk_show;

        if (p->err_status != 0)
            return;
        if (!json_object_is_type(s, json_type_object) ||
            jget_i64(s, "number", &num) != 0 || num < 0) {
            plan_fail(p, "each season needs an integer number");
            return;
        }
        if (eps != NULL && !json_object_is_type(eps, json_type_array)) {
            plan_fail(p, "episodes must be an array");
            return;
        }
        sidx = cat_season(f, show, num);
        plan_time(f, p, s, sidx >= 0 ? sidx : show, &ts_s, &unk_s);
        if (p->mode == PLAN_RATINGS) {
            int rating = 0;

            if (plan_rating(p, s, &rating) > 0 && sidx >= 0) {
                struct plan_op *op = plan_push(p, sidx, FK_SEASON, s);

                op->rating = rating;
                op->ts_ms = ts_s;
            }
        }
        if (eps == NULL) {
            if (plan_expands(p))
                plan_episodes(f, p, show, num, s, ts_s, unk_s);
            else if (p->mode != PLAN_RATINGS && sidx >= 0)
                plan_push(p, sidx, FK_SEASON, s);
            continue;
        }
        for (size_t j = 0; j < json_object_array_length(eps); j++) {
            struct json_object *ep = json_object_array_get_idx(eps, j);
            int64_t en, eidx;
            struct plan_op *op;

            if (!json_object_is_type(ep, json_type_object) ||
                jget_i64(ep, "number", &en) != 0 || en < 0) {
                plan_fail(p, "each episode needs an integer number");
                return;
            }
            eidx = cat_episode_open(f, show, num, en);
            if (eidx < 0) {
                int dummy = 0;

                if (p->mode == PLAN_RATINGS && plan_rating(p, ep, &dummy) == 0)
                    plan_fail(p, "each rated episode needs a rating");
                continue; /* like Trakt: silently not counted */
            }
            op = plan_push(p, eidx, FK_EPISODE, ep);
            plan_item_fields(f, p, op, ep, ts_s, unk_s);
            if (p->mode == PLAN_RATINGS && op->rating == 0)
                plan_fail(p, "each rated episode needs a rating");
        }
    }
}

/*
 * Read a sync body ({movies,shows,seasons,episodes} for Trakt; movies, shows,
 * anime, episodes for SIMKL) into operations and not_found echoes. Nothing
 * in the provider state changes here, so an invalid body changes nothing.
 */
static void
plan_body(struct fake *f, struct plan *p, struct json_object *body)
{
    static const char *const keys[] = {"movies", "shows", "anime", "seasons",
                                       "episodes"};

    if (!json_object_is_type(body, json_type_object)) {
        plan_fail(p, "the body must be a JSON object");
        p->err_status = 400;
        return;
    }
    for (size_t ki = 0; ki < 5 && p->err_status == 0; ki++) {
        struct json_object *arr = fk_get(body, keys[ki]);

        if (arr == NULL)
            continue;
        if (ki == 2 && !p->simkl)
            continue;
        if (!json_object_is_type(arr, json_type_array)) {
            plan_fail(p, "%s must be an array", keys[ki]);
            return;
        }
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            struct json_object *item = json_object_array_get_idx(arr, i);
            char err[200] = "";
            int64_t idx;
            enum fk_kind k;

            if (p->err_status != 0)
                return;
            if (!json_object_is_type(item, json_type_object)) {
                plan_fail(p, "%s items must be objects", keys[ki]);
                return;
            }
            p->top = item;
            if (ki == 1 || ki == 2) {
                plan_show(f, p, item, "shows");
                continue;
            }
            k = ki == 0 ? FK_MOVIE : ki == 3 ? FK_SEASON : FK_EPISODE;
            if (p->simkl && k == FK_SEASON)
                continue; /* SIMKL has no top-level seasons */
            if (p->simkl && k == FK_EPISODE &&
                (p->mode == PLAN_RATINGS || p->mode == PLAN_RATINGS_REMOVE ||
                 p->mode == PLAN_LIST))
                continue; /* SIMKL rates and lists movies and shows only */
            idx = cat_resolve(f, k, item, p->simkl, err, sizeof(err));
            if (idx == -2) {
                plan_fail(p, "%s", err);
                return;
            }
            if (idx < 0) {
                plan_not_found(p, keys[ki], item);
                continue;
            }
            if (k == FK_SEASON && plan_expands(p)) {
                int64_t ts = -1;
                bool unk = false;

                plan_time(f, p, item, idx, &ts, &unk);
                plan_episodes(f, p, fk_geti(cat_entry(f, idx), "show", -1),
                              fk_geti(cat_entry(f, idx), "number", -1), item,
                              ts, unk);
                continue;
            }
            {
                struct plan_op *op = plan_push(p, idx, k, item);

                plan_item_fields(f, p, op, item, -1, false);
                if (p->mode == PLAN_RATINGS && op->rating == 0)
                    plan_fail(p, "each rated item needs a rating");
                if (p->mode == PLAN_LIST && op->status[0] == '\0') {
                    plan_fail(p, "each item needs \"to\"");
                    p->err_status = 400;
                }
            }
        }
    }
}

/* ---- scrobble helpers shared by both providers ------------------------ */

/*
 * The catalog entry a scrobble body names: {"movie":{...}},
 * {"show":{...},"episode":{"season","number"}} (SIMKL also "anime"), or
 * {"episode":{"ids":{...}}}. >= 0, -1 unknown, -2 invalid (err set).
 */
static int64_t
scrobble_item(struct fake *f, struct json_object *body, bool simkl, char *err,
              size_t errlen)
{
    struct json_object *movie = fk_get(body, "movie");
    struct json_object *show = fk_get(body, "show");
    struct json_object *ep = fk_get(body, "episode");

    if (show == NULL && simkl)
        show = fk_get(body, "anime");
    if (movie != NULL)
        return cat_resolve(f, FK_MOVIE, movie, simkl, err, errlen);
    if (show != NULL && ep != NULL) {
        int64_t sidx = cat_resolve(f, FK_SHOW, show, simkl, err, errlen);
        int64_t season = simkl ? 1 : -1, number;

        if (!json_object_is_type(ep, json_type_object) ||
            (fk_get(ep, "season") != NULL &&
             jget_i64(ep, "season", &season) != 0) ||
            jget_i64(ep, "number", &number) != 0 || season < 0) {
            snprintf(err, errlen,
                     "episode needs integer season and number fields");
            return -2;
        }
        if (sidx < 0)
            return sidx;
        return cat_episode_open(f, sidx, season, number);
    }
    if (ep != NULL && fk_get(ep, "ids") != NULL)
        return cat_resolve(f, FK_EPISODE, ep, simkl, err, errlen);
    snprintf(err, errlen, "the body names no movie, show+episode or episode");
    return -2;
}

/* The time (ms) of a completed scrobble of idx within the last hour, else
 * -1. scrobbles is the provider's chronological scrobble log. */
static int64_t
scrobble_recent(struct json_object *scrobbles, int64_t idx, int64_t now)
{
    for (size_t i = json_object_array_length(scrobbles); i > 0; i--) {
        struct json_object *s = json_object_array_get_idx(scrobbles, i - 1);
        int64_t at = fk_geti(s, "at_ms", 0);
        const char *action = fk_gets(s, "action");

        if (at <= now - FK_HOUR_MS)
            break;
        if (fk_geti(s, "item", -1) == idx && action != NULL &&
            strcmp(action, "scrobble") == 0 && fk_geti(s, "status", 0) == 201)
            return at / 1000 * 1000; /* the play's watched_at */
    }
    return -1;
}

static void
scrobble_log(struct json_object *scrobbles, const char *endpoint,
             const char *action, double progress, int64_t now, int64_t idx,
             int status, int64_t id, bool with_ms)
{
    struct json_object *s = json_object_new_object();

    fk_set(s, "endpoint", json_object_new_string(endpoint));
    fk_set(s, "action", json_object_new_string(action));
    fk_set(s, "progress", fk_jnum(progress));
    fk_set(s, "at", fk_jiso(now, with_ms));
    fk_set(s, "at_ms", json_object_new_int64(now));
    fk_set(s, "item", json_object_new_int64(idx));
    fk_set(s, "status", json_object_new_int(status));
    fk_set(s, "id", json_object_new_int64(id));
    json_object_array_add(scrobbles, s);
}

#endif
