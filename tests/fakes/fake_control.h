/*
 * fake_control: fakeprov's control API under /_fake (reset, state dumps, the
 * request log, fault rules, approvals, tokens, the catalog, knobs and the
 * clock), the state reset and dumps, and fault-rule validation. Included
 * once by fakeprov.c.
 */
#ifndef WR_FAKE_CONTROL_H
#define WR_FAKE_CONTROL_H

#include "fake_core.h"
#include "fake_media.h"
#include "fake_simkl.h"
#include "fake_trakt.h"

/* Validate a rule from the control API and give it its counters. NULL
 * (err set) or a new rule. */
static struct json_object *
fault_rule_new(struct json_object *in, char *err, size_t errlen)
{
    static const char *const known[] = {
        "provider",        "method",  "path",     "status", "retry_after",
        "count",           "skip",    "delay_ms", "drop",   "accept_but_drop",
        "apply_then_drop", "headers", "body",     "note"};
    struct json_object *rule = NULL;
    int64_t v;
    bool b, effect = false;
    const char *p;

    if (!json_object_is_type(in, json_type_object)) {
        snprintf(err, errlen, "a fault rule must be an object");
        return NULL;
    }
    json_object_object_foreach (in, key, val) {
        bool ok = false;

        (void)val;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown fault key \"%.40s\"", key);
            return NULL;
        }
    }
    p = fk_gets(in, "provider");
    if (fk_get(in, "provider") != NULL) {
        bool prov_ok = p != NULL && strcmp(p, "any") == 0;

        for (int i = FK_TRAKT; i < FK_CONTROL && p != NULL; i++)
            prov_ok |= strcmp(p, fk_prov_name((enum fk_prov)i)) == 0;
        if (!prov_ok) {
            snprintf(err, errlen,
                     "provider must be trakt, simkl, plex, plex-discover, "
                     "plex-metadata, jellyfin, emby or any");
            return NULL;
        }
    }
    if ((fk_get(in, "method") != NULL && fk_gets(in, "method") == NULL) ||
        (fk_get(in, "path") != NULL && fk_gets(in, "path") == NULL) ||
        (fk_get(in, "note") != NULL && fk_gets(in, "note") == NULL)) {
        snprintf(err, errlen, "method, path and note must be strings");
        return NULL;
    }
    if (fk_get(in, "status") != NULL) {
        if (jget_i64(in, "status", &v) != 0 || v < 100 || v > 599) {
            snprintf(err, errlen, "status must be an HTTP status");
            return NULL;
        }
        effect = true;
    }
    if (fk_get(in, "retry_after") != NULL &&
        !json_object_is_type(fk_get(in, "retry_after"), json_type_int) &&
        !json_object_is_type(fk_get(in, "retry_after"), json_type_string)) {
        snprintf(err, errlen, "retry_after must be seconds or a string");
        return NULL;
    }
    if (fk_get(in, "delay_ms") != NULL) {
        if (jget_i64(in, "delay_ms", &v) != 0 || v < 0 || v > 600000) {
            snprintf(err, errlen, "delay_ms must be 0..600000");
            return NULL;
        }
        effect = true;
    }
    for (size_t i = 0; i < 3; i++) {
        static const char *const flags[] = {"drop", "accept_but_drop",
                                            "apply_then_drop"};

        if (fk_get(in, flags[i]) == NULL)
            continue;
        if (jget_bool(in, flags[i], &b) != 0) {
            snprintf(err, errlen, "%s must be a boolean", flags[i]);
            return NULL;
        }
        effect |= b;
    }
    if (!effect) {
        snprintf(err, errlen,
                 "a rule needs status, delay_ms, drop, accept_but_drop or "
                 "apply_then_drop");
        return NULL;
    }
    if ((fk_get(in, "count") != NULL &&
         (jget_i64(in, "count", &v) != 0 || v < -1 || v == 0)) ||
        (fk_get(in, "skip") != NULL &&
         (jget_i64(in, "skip", &v) != 0 || v < 0))) {
        snprintf(err, errlen, "count must be >= 1 or -1; skip >= 0");
        return NULL;
    }
    if (fk_get(in, "headers") != NULL) {
        if (!json_object_is_type(fk_get(in, "headers"), json_type_object)) {
            snprintf(err, errlen, "headers must be an object");
            return NULL;
        }
        json_object_object_foreach (fk_get(in, "headers"), hk, hv) {
            (void)hk;
            if (!json_object_is_type(hv, json_type_string)) {
                snprintf(err, errlen, "header values must be strings");
                return NULL;
            }
        }
    }
    if (json_object_deep_copy(in, &rule, NULL) != 0) {
        snprintf(err, errlen, "cannot copy the rule");
        return NULL;
    }
    fk_set(rule, "remaining", json_object_new_int64(fk_geti(in, "count", 1)));
    fk_set(rule, "hits", json_object_new_int64(0));
    return rule;
}

/* ---- state ------------------------------------------------------------ */

static void
state_reset(struct fake *f, bool keep_catalog)
{
    struct json_object *st = json_object_new_object();

    json_object_put(f->st);
    f->st = st;
    if (!keep_catalog) {
        char err[200];
        int64_t counts[FK_KIND_MAX + 1] = {0};
        struct json_object *seed;

        json_object_put(f->cat);
        json_object_put(f->cat_idx);
        f->cat = json_object_new_array();
        f->cat_idx = json_object_new_object();
        f->next_trakt_id = FK_TRAKT_ID_BASE;
        f->next_simkl_id = FK_SIMKL_ID_BASE;
        seed = jsonu_parse(fk_seed_catalog, sizeof(fk_seed_catalog) - 1,
                           FK_JSON_DEPTH, err, sizeof(err));
        WR_ASSERT(seed != NULL);
        WR_ASSERT(cat_merge(f, seed, counts, err, sizeof(err)) == 0);
        json_object_put(seed);
    }
    fk_set(st, "trakt", trakt_state_new(f));
    fk_set(st, "simkl", simkl_state_new(f));
    media_state_reset(f);
    f->trakt_last_write = -1;
    f->simkl_last_write_end = -1;
    trakt_reads_resize(f);
}

/* Add provider-shaped media objects next to every "item" index, for dumps. */
static void
dump_expand(struct fake *f, struct json_object *o, bool simkl)
{
    int64_t idx;

    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            dump_expand(f, json_object_array_get_idx(o, i), simkl);
        return;
    }
    if (!json_object_is_type(o, json_type_object))
        return;
    json_object_object_foreach (o, key, v) {
        (void)key;
        dump_expand(f, v, simkl);
    }
    if (jget_i64(o, "item", &idx) == 0 && cat_entry(f, idx) != NULL) {
        if (simkl)
            simkl_attach(f, o, idx);
        else
            trakt_attach(f, o, idx);
    }
}

/* ---- the control API -------------------------------------------------- */

static void
ctl_ok(struct fk_req *r, struct json_object *extra)
{
    struct json_object *o = extra != NULL ? extra : json_object_new_object();

    fk_set(o, "ok", json_object_new_boolean(true));
    fk_reply_json(r, 200, o);
}

static void
ctl_state(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *out = NULL;
    const char *cat = fk_query(r, "catalog");

    if (json_object_deep_copy(f->st, &out, NULL) != 0) {
        fk_reply_error(r, 500, "copy", "cannot copy the state");
        return;
    }
    dump_expand(f, fk_get(out, "trakt"), false);
    dump_expand(f, fk_get(out, "simkl"), true);
    fk_set(out, "now", fk_jiso(fk_now_ms(f), true));
    fk_set(out, "now_ms", json_object_new_int64(fk_now_ms(f)));
    fk_set(out, "clock_offset_ms", json_object_new_int64(f->clock_offset_ms));
    fk_set(out, "catalog_size",
           json_object_new_int64((int64_t)json_object_array_length(f->cat)));
    if (cat != NULL && strcmp(cat, "1") == 0)
        fk_set(out, "catalog", json_object_get(f->cat));
    fk_reply_json(r, 200, out);
}

static void
ctl_requests(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *prov = fk_query(r, "provider");
    const char *since_s = fk_query(r, "since");
    const char *bodies = fk_query(r, "bodies");
    int64_t since = 0;
    struct json_object *out = json_object_new_array();

    if (since_s != NULL && parse_i64(since_s, 0, INT64_MAX, &since) != 0) {
        json_object_put(out);
        fk_reply_error(r, 400, "bad_request", "since must be a sequence");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(f->log); i++) {
        struct json_object *rec = json_object_array_get_idx(f->log, i);
        struct json_object *copy;
        const char *raw = fk_gets(rec, "body_raw");

        if (fk_geti(rec, "seq", 0) <= since)
            continue;
        if (prov != NULL && strcmp(prov, fk_gets(rec, "provider")) != 0)
            continue;
        copy = json_object_new_object();
        json_object_object_foreach (rec, key, v) {
            fk_set(copy, key, json_object_get(v));
        }
        if (raw != NULL && (bodies == NULL || strcmp(bodies, "0") != 0)) {
            char err[64];
            struct json_object *b =
                jsonu_parse(raw, strlen(raw), FK_JSON_DEPTH, err, sizeof(err));

            if (b != NULL)
                fk_set(copy, "body", b);
        }
        json_object_array_add(out, copy);
    }
    fk_reply_json(r, 200, out);
}

static void
ctl_faults_add(struct fk_req *r)
{
    struct json_object *in = r->json, *rules = NULL, *added;
    char err[200];

    if (json_object_is_type(in, json_type_object) &&
        fk_get(in, "rules") != NULL)
        in = fk_get(in, "rules");
    added = json_object_new_array();
    if (json_object_is_type(in, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(in); i++) {
            struct json_object *rule = fault_rule_new(
                json_object_array_get_idx(in, i), err, sizeof(err));

            if (rule == NULL)
                goto bad;
            json_object_array_add(added, rule);
        }
    } else {
        struct json_object *rule = fault_rule_new(in, err, sizeof(err));

        if (rule == NULL)
            goto bad;
        json_object_array_add(added, rule);
    }
    for (size_t i = 0; i < json_object_array_length(added); i++)
        json_object_array_add(
            r->f->faults, json_object_get(json_object_array_get_idx(added, i)));
    rules = json_object_new_object();
    fk_set(rules, "faults", json_object_get(r->f->faults));
    json_object_put(added);
    ctl_ok(r, rules);
    return;
bad:
    json_object_put(added);
    fk_reply_error(r, 400, "bad_fault", "%s", err);
}

/* Approve (or deny) pending device codes and PINs. */
static void
ctl_approve(struct fk_req *r, bool deny)
{
    struct fake *f = r->f;
    const char *prov = fk_gets(r->json, "provider");
    const char *code = fk_gets(r->json, "user_code");
    int64_t n = 0;
    struct json_object *out;

    for (int p = 0; p < 2; p++) {
        const char *name = p == 0 ? "trakt" : "simkl";
        struct json_object *list =
            p == 0 ? trakt_part(f, "device_codes") : simkl_part(f, "pins");

        if (prov != NULL && strcmp(prov, name) != 0)
            continue;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            struct json_object *c = json_object_array_get_idx(list, i);

            if (strcmp(fk_gets(c, "state"), "pending") != 0)
                continue;
            if (code != NULL && strcmp(code, fk_gets(c, "user_code")) != 0)
                continue;
            fk_set(c, "state",
                   json_object_new_string(deny ? "denied" : "approved"));
            n++;
        }
    }
    out = json_object_new_object();
    fk_set(out, deny ? "denied" : "approved", json_object_new_int64(n));
    ctl_ok(r, out);
}

static void
ctl_expire_token(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *prov = fk_gets(r->json, "provider");

    if (prov != NULL && strcmp(prov, "simkl") == 0) {
        /* SIMKL tokens never expire; the user revokes them. */
        fk_set(simkl_state(f), "tokens", json_object_new_array());
    } else {
        fk_set(trakt_part(f, "tokens"), "expires_at_ms",
               json_object_new_int64(fk_now_ms(f) - 1));
    }
    ctl_ok(r, NULL);
}

static void
ctl_tokens(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *prov = fk_gets(r->json, "provider");
    const char *access = fk_gets(r->json, "access_token");
    const char *refresh = fk_gets(r->json, "refresh_token");

    if (prov != NULL && strcmp(prov, "simkl") == 0) {
        if (access == NULL) {
            fk_reply_error(r, 400, "bad_request", "access_token is required");
            return;
        }
        json_object_array_add(simkl_part(f, "tokens"),
                              json_object_new_string(access));
    } else {
        struct json_object *t = trakt_part(f, "tokens");

        fk_set(trakt_state(f), "tokens",
               trakt_tokens_new(
                   f, access != NULL ? access : fk_gets(t, "access_token"),
                   refresh != NULL ? refresh : fk_gets(t, "refresh_token")));
    }
    ctl_ok(r, NULL);
}

static void
ctl_catalog_generate(struct fk_req *r, struct json_object *g, int64_t *counts)
{
    struct fake *f = r->f;
    int64_t movies = fk_geti(g, "movies", 0), shows = fk_geti(g, "shows", 0);
    int64_t seasons = fk_geti(g, "seasons", 1);
    int64_t episodes = fk_geti(g, "episodes", 10);
    int64_t tmdb = fk_geti(g, "tmdb_start", 10000000);
    int64_t imdb = fk_geti(g, "imdb_start", 90000000);
    int64_t tvdb = fk_geti(g, "tvdb_start", 20000000);

    for (int64_t i = 0; i < movies && i < 1000000; i++) {
        struct json_object *ids = json_object_new_object();
        char title[64], tt[32];

        snprintf(title, sizeof(title), "Generated Movie %" PRId64, i + 1);
        snprintf(tt, sizeof(tt), "tt%08" PRId64, imdb + i);
        fk_set(ids, "tmdb", json_object_new_int64(tmdb + i));
        fk_set(ids, "imdb", json_object_new_string(tt));
        cat_new(f, FK_MOVIE, title, 2000 + i % 25, ids, -1, -1, -1);
        counts[FK_MOVIE]++;
    }
    for (int64_t i = 0; i < shows && i < 100000; i++) {
        struct json_object *ids = json_object_new_object();
        char title[64];
        int64_t show;

        snprintf(title, sizeof(title), "Generated Show %" PRId64, i + 1);
        fk_set(ids, "tvdb", json_object_new_int64(tvdb + i));
        fk_set(ids, "tmdb", json_object_new_int64(tmdb + movies + i));
        show = cat_new(f, FK_SHOW, title, 2010 + i % 10, ids, -1, -1, -1);
        counts[FK_SHOW]++;
        for (int64_t s = 1; s <= seasons && s <= 50; s++) {
            cat_new(f, FK_SEASON, NULL, 0, NULL, show, s, -1);
            for (int64_t e = 1; e <= episodes && e <= 500; e++) {
                snprintf(title, sizeof(title), "Episode %" PRId64, e);
                cat_new(f, FK_EPISODE, title, 0, NULL, show, s, e);
                counts[FK_EPISODE]++;
            }
        }
    }
}

static void
ctl_catalog(struct fk_req *r)
{
    struct fake *f = r->f;
    int64_t counts[FK_KIND_MAX + 1] = {0};
    struct json_object *out, *added;
    char err[200];

    if (strcmp(r->method, "GET") == 0) {
        fk_reply_json(r, 200, json_object_get(f->cat));
        return;
    }
    if (fk_get(r->json, "generate") != NULL) {
        ctl_catalog_generate(r, fk_get(r->json, "generate"), counts);
    } else if (cat_merge(f, r->json, counts, err, sizeof(err)) != 0) {
        fk_reply_error(r, 400, "bad_catalog", "%s", err);
        return;
    }
    out = json_object_new_object();
    added = json_object_new_object();
    for (int k = 0; k < FK_KIND_MAX; k++)
        fk_set(added, fk_kind_plural[k], json_object_new_int64(counts[k]));
    fk_set(out, "added", added);
    fk_set(out, "updated", json_object_new_int64(counts[FK_KIND_MAX]));
    fk_set(out, "catalog_size",
           json_object_new_int64((int64_t)json_object_array_length(f->cat)));
    ctl_ok(r, out);
}

static struct json_object *
cfg_dump(const struct fk_opts *o)
{
    struct json_object *c = json_object_new_object();

    fk_set(c, "rate_limit", json_object_new_boolean(o->rate_limit));
    fk_set(c, "trakt_write_interval_ms",
           json_object_new_int64(o->trakt_write_interval_ms));
    fk_set(c, "trakt_read_limit", json_object_new_int64(o->trakt_read_limit));
    fk_set(c, "trakt_read_window_s",
           json_object_new_int64(o->trakt_read_window_s));
    fk_set(c, "simkl_write_interval_ms",
           json_object_new_int64(o->simkl_write_interval_ms));
    fk_set(c, "token_ttl_s", json_object_new_int64(o->token_ttl_s));
    fk_set(c, "device_interval_s", json_object_new_int64(o->device_interval_s));
    fk_set(c, "device_expires_s", json_object_new_int64(o->device_expires_s));
    fk_set(c, "pin_interval_s", json_object_new_int64(o->pin_interval_s));
    fk_set(c, "pin_expires_s", json_object_new_int64(o->pin_expires_s));
    fk_set(c, "trakt_watchlist_limit",
           json_object_new_int64(o->trakt_watchlist_limit));
    fk_set(c, "catalog_open", json_object_new_boolean(o->catalog_open));
    fk_set(c, "trakt_content_type_on_get",
           json_object_new_boolean(o->trakt_ct_on_get));
    fk_set(c, "simkl_history_status",
           json_object_new_int64(o->simkl_history_status));
    fk_set(c, "simkl_date_from",
           json_object_new_string(o->simkl_date_from_watched ? "watched"
                                                             : "updated"));
    fk_set(c, "simkl_empty_all_items",
           json_object_new_string(o->simkl_empty_null ? "null" : "{}"));
    fk_set(c, "jellyfin_legacy_auth",
           json_object_new_boolean(o->jellyfin_legacy_auth));
    fk_set(c, "jellyfin_played_quirk",
           json_object_new_boolean(o->jellyfin_played_quirk));
    fk_set(c, "plex_scrobble_history",
           json_object_new_boolean(o->plex_scrobble_history));
    fk_set(c, "verbose", json_object_new_boolean(o->verbose));
    return c;
}

/* Apply a /_fake/config document to o; -1 with err on a bad value. */
static int
cfg_apply(struct fk_opts *o, struct json_object *in, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        size_t off;
        int64_t min, max;
    } ints[] = {
        {"trakt_write_interval_ms",
         offsetof(struct fk_opts, trakt_write_interval_ms), 0, 3600000},
        {"trakt_read_limit", offsetof(struct fk_opts, trakt_read_limit), 1,
         10000000},
        {"trakt_read_window_s", offsetof(struct fk_opts, trakt_read_window_s),
         1, 86400},
        {"simkl_write_interval_ms",
         offsetof(struct fk_opts, simkl_write_interval_ms), 0, 3600000},
        {"token_ttl_s", offsetof(struct fk_opts, token_ttl_s), 1, 315360000},
        {"device_interval_s", offsetof(struct fk_opts, device_interval_s), 0,
         3600},
        {"device_expires_s", offsetof(struct fk_opts, device_expires_s), 1,
         86400},
        {"pin_interval_s", offsetof(struct fk_opts, pin_interval_s), 0, 3600},
        {"pin_expires_s", offsetof(struct fk_opts, pin_expires_s), 1, 86400},
        {"trakt_watchlist_limit",
         offsetof(struct fk_opts, trakt_watchlist_limit), 0, 10000000},
        {"simkl_history_status", offsetof(struct fk_opts, simkl_history_status),
         200, 201}};
    static const struct {
        const char *key;
        size_t off;
    } bools[] = {{"rate_limit", offsetof(struct fk_opts, rate_limit)},
                 {"catalog_open", offsetof(struct fk_opts, catalog_open)},
                 {"trakt_content_type_on_get",
                  offsetof(struct fk_opts, trakt_ct_on_get)},
                 {"jellyfin_legacy_auth",
                  offsetof(struct fk_opts, jellyfin_legacy_auth)},
                 {"jellyfin_played_quirk",
                  offsetof(struct fk_opts, jellyfin_played_quirk)},
                 {"plex_scrobble_history",
                  offsetof(struct fk_opts, plex_scrobble_history)},
                 {"verbose", offsetof(struct fk_opts, verbose)}};
    struct fk_opts tmp = *o;

    if (!json_object_is_type(in, json_type_object)) {
        snprintf(err, errlen, "the config body must be an object");
        return -1;
    }
    json_object_object_foreach (in, key, val) {
        bool done = false;

        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]) && !done; i++) {
            int64_t v;

            if (strcmp(key, ints[i].key) != 0)
                continue;
            if (jget_i64(in, key, &v) != 0 || v < ints[i].min ||
                v > ints[i].max) {
                snprintf(err, errlen, "%s must be %" PRId64 "..%" PRId64, key,
                         ints[i].min, ints[i].max);
                return -1;
            }
            memcpy((char *)&tmp + ints[i].off, &v, sizeof(v));
            done = true;
        }
        for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]) && !done; i++) {
            bool v;

            if (strcmp(key, bools[i].key) != 0)
                continue;
            if (jget_bool(in, key, &v) != 0) {
                snprintf(err, errlen, "%s must be a boolean", key);
                return -1;
            }
            memcpy((char *)&tmp + bools[i].off, &v, sizeof(v));
            done = true;
        }
        if (!done && strcmp(key, "simkl_date_from") == 0) {
            const char *s = json_object_get_string(val);

            if (!json_object_is_type(val, json_type_string) ||
                (strcmp(s, "watched") != 0 && strcmp(s, "updated") != 0)) {
                snprintf(err, errlen, "simkl_date_from: watched or updated");
                return -1;
            }
            tmp.simkl_date_from_watched = strcmp(s, "watched") == 0;
            done = true;
        }
        if (!done && strcmp(key, "simkl_empty_all_items") == 0) {
            const char *s = json_object_get_string(val);

            if (!json_object_is_type(val, json_type_string) ||
                (strcmp(s, "null") != 0 && strcmp(s, "{}") != 0)) {
                snprintf(err, errlen, "simkl_empty_all_items: null or {}");
                return -1;
            }
            tmp.simkl_empty_null = strcmp(s, "null") == 0;
            done = true;
        }
        if (!done) {
            snprintf(err, errlen, "unknown config key \"%.40s\"", key);
            return -1;
        }
    }
    *o = tmp;
    return 0;
}

static void
ctl_config(struct fk_req *r)
{
    struct fake *f = r->f;
    char err[200];
    int64_t old_limit = f->cfg.trakt_read_limit;

    if (strcmp(r->method, "POST") == 0) {
        if (cfg_apply(&f->cfg, r->json, err, sizeof(err)) != 0) {
            fk_reply_error(r, 400, "bad_config", "%s", err);
            return;
        }
        if (f->cfg.trakt_read_limit != old_limit)
            trakt_reads_resize(f);
    }
    fk_reply_json(r, 200, cfg_dump(&f->cfg));
}

static void
ctl_clock(struct fk_req *r)
{
    struct fake *f = r->f;
    int64_t v;
    struct json_object *out;

    if (jget_i64(r->json, "advance_s", &v) == 0)
        f->clock_offset_ms += v * 1000;
    else if (jget_i64(r->json, "offset_s", &v) == 0)
        f->clock_offset_ms = v * 1000;
    else {
        fk_reply_error(r, 400, "bad_request",
                       "give advance_s or offset_s (integers)");
        return;
    }
    out = json_object_new_object();
    fk_set(out, "offset_ms", json_object_new_int64(f->clock_offset_ms));
    fk_set(out, "now", fk_jiso(fk_now_ms(f), true));
    ctl_ok(r, out);
}

static void
ctl_simkl_code(struct fk_req *r)
{
    struct json_object *c = json_object_new_object(), *out;
    char code[65];

    fk_random_code(code, 40, "0123456789abcdef");
    fk_set(c, "code", json_object_new_string(code));
    fk_set(c, "used", json_object_new_boolean(false));
    json_object_array_add(simkl_part(r->f, "codes"), c);
    out = json_object_new_object();
    fk_set(out, "code", json_object_new_string(code));
    ctl_ok(r, out);
}

static void
control(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *what = r->nsegs >= 1 ? r->segs[0] : "";
    bool get = strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    bool del = strcmp(r->method, "DELETE") == 0;

    r->prov = FK_CONTROL;
    /* Any control request may change what media listings return. */
    f->media_gen++;
    if (r->body_len > 0) {
        char err[160];

        r->json =
            jsonu_parse(r->body, r->body_len, FK_JSON_DEPTH, err, sizeof(err));
        if (r->json == NULL) {
            fk_reply_error(r, 400, "bad_request", "invalid JSON: %s", err);
            return;
        }
    }
    if (strcmp(what, "media") == 0 && !r->query_bad) {
        ctl_media(r);
        return;
    }
    if (r->nsegs > 2 || r->query_bad) {
        fk_reply_error(r, 404, "not_found", "no such control endpoint");
        return;
    }
    if (strcmp(what, "health") == 0 && get) {
        ctl_ok(r, NULL);
    } else if (strcmp(what, "reset") == 0 && post) {
        bool keep = false;

        jget_bool(r->json, "keep_catalog", &keep);
        f->cfg = f->cli;
        f->clock_offset_ms = 0;
        json_object_put(f->faults);
        f->faults = json_object_new_array();
        json_object_put(f->log);
        f->log = json_object_new_array();
        state_reset(f, keep);
        ctl_ok(r, NULL);
    } else if (strcmp(what, "state") == 0 && get) {
        ctl_state(r);
    } else if (strcmp(what, "requests") == 0 && r->nsegs == 1 && get) {
        ctl_requests(r);
    } else if (strcmp(what, "requests") == 0 &&
               ((r->nsegs == 1 && del) ||
                (r->nsegs == 2 && post && strcmp(r->segs[1], "clear") == 0))) {
        json_object_put(f->log);
        f->log = json_object_new_array();
        ctl_ok(r, NULL);
    } else if (strcmp(what, "faults") == 0 && r->nsegs == 1 && get) {
        fk_reply_json(r, 200, json_object_get(f->faults));
    } else if (strcmp(what, "faults") == 0 && r->nsegs == 1 && post) {
        ctl_faults_add(r);
    } else if (strcmp(what, "faults") == 0 &&
               ((r->nsegs == 1 && del) ||
                (r->nsegs == 2 && post && strcmp(r->segs[1], "clear") == 0))) {
        json_object_put(f->faults);
        f->faults = json_object_new_array();
        ctl_ok(r, NULL);
    } else if (strcmp(what, "approve") == 0 && post) {
        bool deny = false;

        jget_bool(r->json, "deny", &deny);
        ctl_approve(r, deny);
    } else if (strcmp(what, "deny") == 0 && post) {
        ctl_approve(r, true);
    } else if (strcmp(what, "expire-token") == 0 && post) {
        ctl_expire_token(r);
    } else if (strcmp(what, "tokens") == 0 && post) {
        ctl_tokens(r);
    } else if (strcmp(what, "catalog") == 0 && (get || post)) {
        if (post && r->json == NULL) {
            fk_reply_error(r, 400, "bad_request", "a JSON body is required");
            return;
        }
        ctl_catalog(r);
    } else if (strcmp(what, "config") == 0 && (get || post)) {
        if (post && r->json == NULL) {
            fk_reply_error(r, 400, "bad_request", "a JSON body is required");
            return;
        }
        ctl_config(r);
    } else if (strcmp(what, "clock") == 0 && post) {
        ctl_clock(r);
    } else if (strcmp(what, "simkl-code") == 0 && post) {
        ctl_simkl_code(r);
    } else {
        fk_reply_error(r, 404, "not_found", "no such control endpoint");
    }
}

#endif
