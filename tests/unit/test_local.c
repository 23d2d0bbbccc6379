/*
 * test_local: the local backup tracker (SYNC.md section 9) through
 * adapter_local and the backup list/load API. Every test runs in a fresh
 * temp dir under /tmp that the teardown removes.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "jsonu.h"
#include "local.h"
#include "log.h"
#include "op.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define T0         1740948430 /* 2025-03-02T20:47:10Z */

struct t {
    char root[64];
    char *dir; /* <root>/bk */
    void *ctx;
};

static int
t_setup(void **state)
{
    struct t *t = xcalloc(1, sizeof(*t));
    struct provider_conf conf;
    char err[256];

    snprintf(t->root, sizeof(t->root), "/tmp/wr-test-local-XXXXXX");
    if (mkdtemp(t->root) == NULL) {
        free(t);
        return -1;
    }
    t->dir = xasprintf("%s/bk", t->root);
    memset(&conf, 0, sizeof(conf));
    conf.present = true;
    conf.dir = t->dir;
    t->ctx = adapter_local.init(&conf, NULL, "/nonexistent", err, sizeof(err));
    if (t->ctx == NULL) {
        fprintf(stderr, "init: %s\n", err);
        return -1;
    }
    *state = t;
    return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
t_teardown(void **state)
{
    struct t *t = *state;

    adapter_local.free(t->ctx);
    nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t->dir);
    free(t);
    return 0;
}

/* ---- building operations ---- */

/* "tmdb=1;imdb=tt2" -> ids. */
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
mk_op(enum op_kind kind, enum item_type type, const char *ids,
      const char *title, int64_t watched_at)
{
    struct op *op = xmalloc(sizeof(*op));

    op_init(op);
    op->kind = kind;
    op->target = xstrdup("local");
    op->created_at = T0 + 100000;
    op->item.type = type;
    op->item.title = title ? xstrdup(title) : NULL;
    op->item.year = 1999;
    set_ids(&op->item.ids, ids);
    op->watched_at = watched_at;
    op_finish(op);
    return op;
}

static struct op *
mk_movie(enum op_kind kind, const char *ids, int64_t watched_at)
{
    return mk_op(kind, ITEM_MOVIE, ids, "The Matrix", watched_at);
}

/* An episode with show ids and/or its own ids. */
static struct op *
mk_episode(enum op_kind kind, const char *show_ids, const char *ids, int season,
           int episode, int64_t watched_at)
{
    struct op *op = mk_op(kind, ITEM_EPISODE, ids, "Pilot", watched_at);

    op->item.show_title = xstrdup("Severance");
    set_ids(&op->item.show_ids, show_ids);
    op->item.season = season;
    op->item.episode = episode;
    free(op->key);
    op->key = NULL;
    op_finish(op);
    return op;
}

static struct op *
mk_rating(enum op_kind kind, const char *ids, int rating)
{
    struct op *op = mk_movie(kind, ids, 0);

    op->rating = rating;
    op->rated_at = T0 + 5;
    op_finish(op);
    return op;
}

static void
free_ops(struct op **ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        op_release(ops[i]);
        free(ops[i]);
    }
}

/* Apply ops (taken) and check every outcome is want. */
static void
apply_expect(struct t *t, struct op **ops, size_t n, enum adapter_outcome want)
{
    struct adapter_result *res = xcalloc(n, sizeof(*res));

    assert_int_equal(
        adapter_local.apply(t->ctx, (const struct op *const *)ops, n, res), 0);
    for (size_t i = 0; i < n; i++) {
        if (res[i].outcome != want)
            fprintf(stderr, "op %zu: outcome %d (%s)\n", i, (int)res[i].outcome,
                    res[i].reason);
        assert_int_equal(res[i].outcome, want);
    }
    free(res);
    free_ops(ops, n);
}

static void
apply1(struct t *t, struct op *op, enum adapter_outcome want)
{
    apply_expect(t, &op, 1, want);
}

/* ---- reading the store back ---- */

static char *
fpath(const struct t *t, const char *feature, const char *name)
{
    return xasprintf("%s/%s/%s", t->dir, feature, name);
}

/* CURRENT's number, 0 if absent. */
static int
current_of(const struct t *t, const char *feature)
{
    char *p = fpath(t, feature, "CURRENT");
    char *s = read_file(p, 64, NULL);
    int64_t v = 0;
    size_t len;

    free(p);
    if (s == NULL)
        return 0;
    len = strlen(s);
    assert_true(len > 0 && s[len - 1] == '\n');
    s[len - 1] = '\0';
    assert_int_equal(parse_i64(s, 1, 1000000, &v), 0);
    free(s);
    return (int)v;
}

static bool
version_exists(const struct t *t, const char *feature, int v)
{
    char name[32];
    char *p;
    bool ok;

    snprintf(name, sizeof(name), "v%06d.json", v);
    p = fpath(t, feature, name);
    ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* Number of files in a feature dir (besides . and ..), and whether any is
 * a temporary file. */
static size_t
dir_files(const struct t *t, const char *feature, bool *tmp)
{
    char *p = xasprintf("%s/%s", t->dir, feature);
    DIR *d = opendir(p);
    struct dirent *de;
    size_t n = 0;

    *tmp = false;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        if (strstr(de->d_name, ".tmp") != NULL)
            *tmp = true;
    }
    closedir(d);
    free(p);
    return n;
}

/* The present items of feature (owned). */
static struct json_object *
load_items(const struct t *t, const char *feature, int version)
{
    struct json_object *items = NULL;
    char err[256];

    if (local_snapshot_load(t->dir, feature, version, &items, err,
                            sizeof(err)) != 0)
        fprintf(stderr, "load: %s\n", err);
    assert_non_null(items);
    assert_true(json_object_is_type(items, json_type_array));
    return items;
}

static size_t
count_items(const struct t *t, const char *feature)
{
    struct json_object *items = load_items(t, feature, 0);
    size_t n = json_object_array_length(items);

    json_object_put(items);
    return n;
}

static const char *
entry_str(struct json_object *items, size_t i, const char *k)
{
    struct json_object *e = json_object_array_get_idx(items, i);
    const char *s = NULL;

    assert_non_null(e);
    assert_int_equal(jget_str(e, k, &s), 0);
    return s;
}

static int64_t
entry_time(struct json_object *items, size_t i, const char *k)
{
    int64_t v = 0;

    assert_int_equal(wr_time_parse(entry_str(items, i, k), &v), 0);
    return v;
}

/* ---- tests ---- */

static void
test_adapter_fields(void **state)
{
    unsigned want = OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) |
                    OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |
                    OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE);
    char *def = NULL;
    struct stat st;
    char err[256];
    void *ctx;

    assert_string_equal(adapter_local.name, "local");
    assert_false(adapter_local.scrobble_api);
    assert_int_equal(adapter_local.kinds & OP_SCROBBLE_KINDS, 0);
    assert_int_equal(adapter_local.kinds & want, want);
    assert_int_equal(adapter_local.batch_kinds & want, want);
    assert_int_equal(adapter_local.max_batch, 1000);
    assert_int_equal(adapter_local.limits.write_interval_ms, 0);
    assert_null(adapter_local.build);
    assert_null(adapter_local.classify);
    assert_non_null(adapter_local.apply);

    /* The setup's conf dir was made 0700. */
    struct t *t = *state;

    assert_int_equal(stat(t->dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);

    /* Without a dir: <state_dir>/local. */
    def = xasprintf("%s/state", t->root);
    ctx = adapter_local.init(NULL, NULL, def, err, sizeof(err));
    assert_non_null(ctx);
    free(def);
    def = xasprintf("%s/state/local", t->root);
    assert_int_equal(stat(def, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    adapter_local.free(ctx);
    free(def);

    /* A dir that cannot be made. */
    struct provider_conf conf;

    memset(&conf, 0, sizeof(conf));
    def = xasprintf("%s/file", t->root);
    assert_int_equal(write_file_atomic(def, "x", 1, 0600), 0);
    conf.dir = xasprintf("%s/file/sub", t->root);
    assert_null(adapter_local.init(&conf, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "Not a directory"));
    free(conf.dir);
    free(def);
}

static void
test_history_add_and_reload(void **state)
{
    struct t *t = *state;
    struct op *ops[] = {
        mk_movie(OP_HISTORY_ADD, "tmdb=603;imdb=tt0133093", T0),
        mk_episode(OP_HISTORY_ADD, "tmdb=95396", NULL, 1, 1, T0 + 3600),
        mk_movie(OP_HISTORY_ADD, "imdb=tt0234215", T0 + 7200),
    };
    struct json_object *items, *doc = NULL, *arr, *it;
    char err[256], hex[65];
    unsigned char md[32];
    const char *s;
    char *p, *data;
    size_t len;
    int64_t v;
    void *ctx2;

    apply_expect(t, ops, N_ELEMS(ops), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 1);
    assert_true(version_exists(t, "history", 1));

    /* Sorted by canonical key, with the play's time and the item. */
    items = load_items(t, "history", 0);
    assert_int_equal(json_object_array_length(items), 3);
    assert_string_equal(entry_str(items, 0, "key"), "movie:imdb:tt0234215");
    assert_string_equal(entry_str(items, 1, "key"), "movie:tmdb:603");
    assert_string_equal(entry_str(items, 2, "key"), "show:tmdb:95396#s01e01");
    assert_int_equal(entry_time(items, 1, "watched_at"), T0);
    assert_int_equal(entry_time(items, 2, "watched_at"), T0 + 3600);
    it = json_object_object_get(json_object_array_get_idx(items, 1), "item");
    assert_int_equal(jget_str(it, "type", &s), 0);
    assert_string_equal(s, "movie");
    assert_int_equal(jget_str(json_object_object_get(it, "ids"), "imdb", &s),
                     0);
    assert_string_equal(s, "tt0133093");
    json_object_put(items);

    /* The header on disk. */
    p = fpath(t, "history", "v000001.json");
    data = read_file(p, 1 << 20, &len);
    assert_non_null(data);
    doc = jsonu_parse(data, len, JSONU_DEPTH, err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(jget_str(doc, "format", &s), 0);
    assert_string_equal(s, "watchrelay-local-1");
    assert_int_equal(jget_str(doc, "feature", &s), 0);
    assert_string_equal(s, "history");
    assert_int_equal(jget_i64(doc, "version", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(jget_i64(doc, "count", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(jget_str(doc, "created_at", &s), 0);
    assert_int_equal(wr_time_parse(s, &v), 0);
    assert_true(v > T0);
    assert_int_equal(jget_arr(doc, "items", &arr), 0);
    s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    sha256(s, strlen(s), md);
    hex_encode(md, 32, hex);
    assert_int_equal(jget_str(doc, "sha256", &s), 0);
    assert_string_equal(s, hex);
    json_object_put(doc);
    free(data);
    free(p);

    /* A fresh context reads the state back from disk and adds to it. */
    ctx2 = adapter_local.init(&(struct provider_conf){.dir = t->dir}, NULL,
                              NULL, err, sizeof(err));
    assert_non_null(ctx2);
    adapter_local.free(t->ctx);
    t->ctx = ctx2;
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=603", T0 + 86400), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 2);
    items = load_items(t, "history", 0);
    assert_int_equal(json_object_array_length(items), 4);
    /* Two plays of one key: ordered by time. */
    assert_string_equal(entry_str(items, 1, "key"), "movie:tmdb:603");
    assert_string_equal(entry_str(items, 2, "key"), "movie:tmdb:603");
    assert_int_equal(entry_time(items, 1, "watched_at"), T0);
    assert_int_equal(entry_time(items, 2, "watched_at"), T0 + 86400);
    json_object_put(items);
    /* The older version is still there and unchanged. */
    assert_int_equal(count_items(t, "history"), 4);
    items = load_items(t, "history", 1);
    assert_int_equal(json_object_array_length(items), 3);
    json_object_put(items);
}

/* One play seen twice: the same key, or alias ids, within 60 s. */
static void
test_history_dedupe(void **state)
{
    struct t *t = *state;
    static const struct {
        const char *ids;
        int64_t dt;
        bool added;
    } cases[] = {
        {"tmdb=603", 0, false},                 /* identical */
        {"tmdb=603", 60, false},                /* edge of the window */
        {"tmdb=603", -59, false},               /* before */
        {"imdb=tt0133093;tmdb=603", 30, false}, /* alias: shared tmdb */
        {"tmdb=603;trakt=481", -40, false},     /* alias, other key order */
        {"tmdb=603", 61, true},                 /* another play */
        {"imdb=tt0133093", 400, true},          /* no shared id: another item */
    };
    int version = 1;

    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=603", T0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 1);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        apply1(t, mk_movie(OP_HISTORY_ADD, cases[i].ids, T0 + cases[i].dt),
               ADAPTER_DONE);
        if (cases[i].added)
            version++;
        assert_int_equal(current_of(t, "history"), version);
        assert_false(version_exists(t, "history", version + 1));
    }
    assert_int_equal(count_items(t, "history"), 3);

    /* Two operations on one play inside one batch: one entry. */
    struct op *batch[] = {
        mk_movie(OP_HISTORY_ADD, "tmdb=27205", T0),
        mk_movie(OP_HISTORY_ADD, "imdb=tt1375666;tmdb=27205", T0 + 10),
    };

    apply_expect(t, batch, N_ELEMS(batch), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), version + 1);
    assert_int_equal(count_items(t, "history"), 4);
}

/* Alias tokens: tmdb on one operation, imdb+tmdb on the other; episodes by
 * show token; types never mix. */
static void
test_history_alias(void **state)
{
    struct t *t = *state;

    apply1(t, mk_movie(OP_HISTORY_ADD, "imdb=tt0133093;tmdb=603", T0),
           ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=603", T0 + 20), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_ADD, "imdb=tt0133093", T0 - 20),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 1);

    /* A show with the same tmdb number is another item. */
    apply1(t, mk_op(OP_HISTORY_ADD, ITEM_SHOW, "tmdb=603", "X", T0),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 2);

    /* Episode keyed by show tmdb; the same episode from a source that knows
     * the show's tvdb+tmdb and the episode's own tvdb id. */
    apply1(t, mk_episode(OP_HISTORY_ADD, "tmdb=95396", NULL, 1, 1, T0),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 3);
    apply1(t,
           mk_episode(OP_HISTORY_ADD, "tvdb=371980;tmdb=95396", "tvdb=8603573",
                      1, 1, T0 + 45),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 3);
    /* Another episode of that show is another item. */
    apply1(t, mk_episode(OP_HISTORY_ADD, "tmdb=95396", NULL, 1, 2, T0),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 4);
    /* Items without ids match by their fallback key only. */
    apply1(t, mk_op(OP_HISTORY_ADD, ITEM_MOVIE, NULL, "Home Video", T0),
           ADAPTER_DONE);
    apply1(t, mk_op(OP_HISTORY_ADD, ITEM_MOVIE, NULL, "home  video!", T0 + 5),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 5);
    apply1(t, mk_op(OP_HISTORY_ADD, ITEM_MOVIE, NULL, "Other Video", T0),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 6);
    assert_int_equal(count_items(t, "history"), 6);
}

static void
test_history_remove(void **state)
{
    struct t *t = *state;
    struct op *adds[] = {
        mk_movie(OP_HISTORY_ADD, "tmdb=603", T0),
        mk_movie(OP_HISTORY_ADD, "tmdb=603", T0 + 1000),
        mk_movie(OP_HISTORY_ADD, "tmdb=603", T0 + 5000),
        mk_movie(OP_HISTORY_ADD, "tmdb=27205", T0),
    };
    struct json_object *items;

    apply_expect(t, adds, N_ELEMS(adds), ADAPTER_DONE);
    assert_int_equal(count_items(t, "history"), 4);

    /* One play, matched within 60 s and by an alias id. */
    apply1(t, mk_movie(OP_HISTORY_REMOVE, "imdb=tt0133093;tmdb=603", T0 + 1030),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 2);
    items = load_items(t, "history", 0);
    assert_int_equal(json_object_array_length(items), 3);
    assert_int_equal(entry_time(items, 1, "watched_at"), T0);
    assert_int_equal(entry_time(items, 2, "watched_at"), T0 + 5000);
    json_object_put(items);

    /* No play near that time: done, nothing written. */
    apply1(t, mk_movie(OP_HISTORY_REMOVE, "tmdb=603", T0 + 2000), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_REMOVE, "tmdb=999", 0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 2);
    assert_false(version_exists(t, "history", 3));

    /* watched_at 0: every play of the item. */
    apply1(t, mk_movie(OP_HISTORY_REMOVE, "tmdb=603", 0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 3);
    items = load_items(t, "history", 0);
    assert_int_equal(json_object_array_length(items), 1);
    assert_string_equal(entry_str(items, 0, "key"), "movie:tmdb:27205");
    json_object_put(items);
}

/* An operation matching two different stored items removes nothing. */
static void
test_remove_ambiguous(void **state)
{
    struct t *t = *state;
    struct op *adds[] = {
        mk_movie(OP_WATCHLIST_ADD, "tmdb=1", 0),
        mk_movie(OP_WATCHLIST_ADD, "imdb=tt0000002;tmdb=5", 0),
    };
    struct op *rm[] = {
        mk_movie(OP_WATCHLIST_REMOVE, "tmdb=1;imdb=tt0000002", 0),
    };

    apply_expect(t, adds, N_ELEMS(adds), ADAPTER_DONE);
    assert_int_equal(count_items(t, "watchlist"), 2);
    apply_expect(t, rm, 1, ADAPTER_PERMANENT);
    assert_int_equal(count_items(t, "watchlist"), 2);
    assert_int_equal(current_of(t, "watchlist"), 1);
}

static void
test_ratings(void **state)
{
    struct t *t = *state;
    struct json_object *items;
    struct json_object *e;
    int64_t v;

    apply1(t, mk_rating(OP_RATING_SET, "tmdb=603", 8), ADAPTER_DONE);
    apply1(t, mk_rating(OP_RATING_SET, "tmdb=27205", 9), ADAPTER_DONE);
    assert_int_equal(current_of(t, "ratings"), 2);
    items = load_items(t, "ratings", 0);
    assert_int_equal(json_object_array_length(items), 2);
    e = json_object_array_get_idx(items, 1);
    assert_string_equal(entry_str(items, 1, "key"), "movie:tmdb:603");
    assert_int_equal(jget_i64(e, "rating", &v), 0);
    assert_int_equal(v, 8);
    assert_int_equal(entry_time(items, 1, "rated_at"), T0 + 5);
    json_object_put(items);

    /* The same rating again (by alias): nothing changes. */
    apply1(t, mk_rating(OP_RATING_SET, "imdb=tt0133093;tmdb=603", 8),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "ratings"), 2);

    /* Another rating replaces it. */
    apply1(t, mk_rating(OP_RATING_SET, "imdb=tt0133093;tmdb=603", 6),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "ratings"), 3);
    items = load_items(t, "ratings", 0);
    assert_int_equal(json_object_array_length(items), 2);
    e = json_object_array_get_idx(items, 1);
    assert_string_equal(entry_str(items, 1, "key"), "movie:tmdb:603");
    assert_int_equal(jget_i64(e, "rating", &v), 0);
    assert_int_equal(v, 6);
    json_object_put(items);

    /* Clear, then clear again (nothing to do). */
    apply1(t, mk_rating(OP_RATING_CLEAR, "imdb=tt0133093", 0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "ratings"), 4);
    apply1(t, mk_rating(OP_RATING_CLEAR, "tmdb=603", 0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "ratings"), 4);
    items = load_items(t, "ratings", 0);
    assert_int_equal(json_object_array_length(items), 1);
    assert_string_equal(entry_str(items, 0, "key"), "movie:tmdb:27205");
    json_object_put(items);

    /* Out of the 1-10 scale: permanent, nothing written. */
    apply1(t, mk_rating(OP_RATING_SET, "tmdb=603", 0), ADAPTER_PERMANENT);
    apply1(t, mk_rating(OP_RATING_SET, "tmdb=603", 11), ADAPTER_PERMANENT);
    assert_int_equal(current_of(t, "ratings"), 4);
}

static void
test_watchlist(void **state)
{
    struct t *t = *state;
    struct op *twice[] = {
        mk_movie(OP_WATCHLIST_ADD, "tmdb=603", 0),
        mk_movie(OP_WATCHLIST_ADD, "tmdb=603;imdb=tt0133093", 0),
    };
    struct json_object *items;

    apply_expect(t, twice, N_ELEMS(twice), ADAPTER_DONE);
    apply1(t, mk_movie(OP_WATCHLIST_ADD, "tmdb=603", 0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "watchlist"), 1);
    items = load_items(t, "watchlist", 0);
    assert_int_equal(json_object_array_length(items), 1);
    assert_int_equal(entry_time(items, 0, "listed_at"), T0 + 100000);
    json_object_put(items);

    /* The kept entry has only tmdb (the second add was not merged in): an
     * imdb-only remove matches nothing. */
    apply1(t, mk_movie(OP_WATCHLIST_REMOVE, "imdb=tt0133093", 0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "watchlist"), 1);
    apply1(t, mk_movie(OP_WATCHLIST_REMOVE, "imdb=tt0133093;tmdb=603", 0),
           ADAPTER_DONE);
    assert_int_equal(current_of(t, "watchlist"), 2);
    assert_int_equal(count_items(t, "watchlist"), 0);
    apply1(t, mk_movie(OP_WATCHLIST_REMOVE, "tmdb=603", 0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "watchlist"), 2);
}

static void
test_progress(void **state)
{
    struct t *t = *state;
    struct op *op = mk_movie(OP_PROGRESS_SET, "tmdb=603", 0);
    struct json_object *items;
    double d;

    op->progress = 42.5;
    op->position_ms = 1000;
    op->duration_ms = 8000;
    apply1(t, op, ADAPTER_DONE);
    op = mk_movie(OP_PROGRESS_SET, "tmdb=603", 0);
    op->progress = 42.5;
    op->position_ms = 1000;
    op->duration_ms = 8000;
    apply1(t, op, ADAPTER_DONE);
    assert_int_equal(current_of(t, "progress"), 1);
    op = mk_movie(OP_PROGRESS_SET, "tmdb=603", 0);
    op->progress = 50;
    apply1(t, op, ADAPTER_DONE);
    assert_int_equal(current_of(t, "progress"), 2);
    items = load_items(t, "progress", 0);
    assert_int_equal(json_object_array_length(items), 1);
    assert_int_equal(
        jget_num(json_object_array_get_idx(items, 0), "progress", &d), 0);
    assert_true(d == 50);
    json_object_put(items);
    /* Unknown progress: permanent. */
    apply1(t, mk_movie(OP_PROGRESS_SET, "tmdb=603", 0), ADAPTER_PERMANENT);
}

static void
test_unsupported_and_mixed(void **state)
{
    struct t *t = *state;
    struct op *ops[] = {
        mk_movie(OP_SCROBBLE_STOP, "tmdb=603", T0),
        mk_movie(OP_HISTORY_ADD, "tmdb=603", T0),
        mk_rating(OP_RATING_SET, "tmdb=603", 7),
        mk_movie(OP_WATCHLIST_ADD, "tmdb=603", 0),
        mk_op(OP_HISTORY_ADD, ITEM_NONE, "tmdb=1", "x", T0),
    };
    struct adapter_result res[N_ELEMS(ops)];

    memset(res, 0, sizeof(res));
    assert_int_equal(adapter_local.apply(t->ctx, (const struct op *const *)ops,
                                         N_ELEMS(ops), res),
                     0);
    assert_int_equal(res[0].outcome, ADAPTER_PERMANENT);
    assert_non_null(strstr(res[0].reason, "scrobble_stop"));
    assert_int_equal(res[1].outcome, ADAPTER_DONE);
    assert_int_equal(res[2].outcome, ADAPTER_DONE);
    assert_int_equal(res[3].outcome, ADAPTER_DONE);
    assert_int_equal(res[4].outcome, ADAPTER_PERMANENT);
    free_ops(ops, N_ELEMS(ops));
    assert_int_equal(current_of(t, "history"), 1);
    assert_int_equal(current_of(t, "ratings"), 1);
    assert_int_equal(current_of(t, "watchlist"), 1);
    assert_int_equal(count_items(t, "history"), 1);
}

static void
test_retention(void **state)
{
    struct t *t = *state;
    bool tmp;

    for (int i = 0; i < 35; i++)
        apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=603", T0 + i * 1000),
               ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 35);
    for (int v = 1; v <= 35; v++)
        assert_int_equal(version_exists(t, "history", v), v > 5);
    /* 30 versions, CURRENT and the lock file; no temporary files. */
    assert_int_equal(dir_files(t, "history", &tmp), 32);
    assert_false(tmp);
    assert_int_equal(count_items(t, "history"), 35);
}

/* A snapshot failing its checksum is skipped for the previous one. */
static void
test_checksum_fallback(void **state)
{
    struct t *t = *state;
    struct json_object *items;
    char err[256];
    char *p, *data, *at;
    size_t len;

    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=603", T0), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=27205", T0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 2);

    /* Damage v2 while keeping it valid JSON. */
    p = fpath(t, "history", "v000002.json");
    data = read_file(p, 1 << 20, &len);
    assert_non_null(data);
    at = strstr(data, "The Matrix");
    assert_non_null(at);
    at[4] = 'X';
    assert_int_equal(write_file_atomic(p, data, len, 0600), 0);
    free(data);
    free(p);

    items = load_items(t, "history", 0);
    assert_int_equal(json_object_array_length(items), 1);
    json_object_put(items);
    assert_int_equal(
        local_snapshot_load(t->dir, "history", 2, &items, err, sizeof(err)),
        -1);
    assert_null(items);
    assert_non_null(strstr(err, "checksum"));

    /* The next write builds on v1 and never rewrites v2. */
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=550", T0), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 3);
    items = load_items(t, "history", 0);
    assert_int_equal(json_object_array_length(items), 2);
    assert_string_equal(entry_str(items, 0, "key"), "movie:tmdb:550");
    assert_string_equal(entry_str(items, 1, "key"), "movie:tmdb:603");
    json_object_put(items);

    /* Not JSON at all: skipped the same way. */
    p = fpath(t, "history", "v000003.json");
    assert_int_equal(write_file_atomic(p, "{\"format\":", 10, 0600), 0);
    free(p);
    assert_int_equal(count_items(t, "history"), 1);
}

/* A crash between the rename and CURRENT: the state is the old version and
 * the orphan version is never rewritten; stale temporary files go. */
static void
test_atomicity(void **state)
{
    struct t *t = *state;
    char *p;
    bool tmp;

    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=603", T0), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=27205", T0), ADAPTER_DONE);
    assert_int_equal(dir_files(t, "history", &tmp), 4);
    assert_false(tmp);

    p = fpath(t, "history", "CURRENT");
    assert_int_equal(write_file_atomic(p, "1\n", 2, 0600), 0);
    free(p);
    p = fpath(t, "history", "v000003.json.tmp.4242");
    assert_int_equal(write_file_atomic(p, "{", 1, 0600), 0);
    free(p);
    assert_int_equal(count_items(t, "history"), 1);

    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=27205", T0 + 30), ADAPTER_DONE);
    assert_int_equal(current_of(t, "history"), 3);
    assert_int_equal(count_items(t, "history"), 2);
    assert_int_equal(dir_files(t, "history", &tmp), 5); /* v1-3 CURRENT lock */
    assert_false(tmp);
}

/* I/O failures are retried with the reason; nothing is half written. */
static void
test_io_failure(void **state)
{
    struct t *t = *state;
    struct adapter_result res;
    struct op *op;
    char *p;
    bool tmp;
    int fd;

    /* The feature directory is a file. */
    p = xasprintf("%s/ratings", t->dir);
    assert_int_equal(write_file_atomic(p, "x", 1, 0600), 0);
    free(p);
    op = mk_rating(OP_RATING_SET, "tmdb=603", 8);
    memset(&res, 0, sizeof(res));
    assert_int_equal(
        adapter_local.apply(t->ctx, (const struct op *const *)&op, 1, &res), 0);
    assert_int_equal(res.outcome, ADAPTER_RETRY);
    assert_non_null(strstr(res.reason, "Not a directory"));
    free_ops(&op, 1);

    /* The temporary file of the next version cannot be made. */
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=603", T0), ADAPTER_DONE);
    p = xasprintf("%s/history/v000002.json.tmp.%ld", t->dir, (long)getpid());
    assert_int_equal(mkdir(p, 0700), 0);
    op = mk_movie(OP_HISTORY_ADD, "tmdb=550", T0);
    assert_int_equal(
        adapter_local.apply(t->ctx, (const struct op *const *)&op, 1, &res), 0);
    assert_int_equal(res.outcome, ADAPTER_RETRY);
    assert_non_null(strstr(res.reason, "v000002.json"));
    assert_non_null(strstr(res.reason, "Is a directory"));
    assert_int_equal(current_of(t, "history"), 1);
    assert_false(version_exists(t, "history", 2));
    assert_int_equal(rmdir(p), 0);
    free(p);
    assert_int_equal(dir_files(t, "history", &tmp), 3);
    assert_false(tmp);

    /* The version lands but CURRENT cannot be replaced: retry; the orphan
     * version is never rewritten and the state stays at v1. */
    p = xasprintf("%s/history/CURRENT.tmp.%ld", t->dir, (long)getpid());
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(
        adapter_local.apply(t->ctx, (const struct op *const *)&op, 1, &res), 0);
    assert_int_equal(res.outcome, ADAPTER_RETRY);
    assert_non_null(strstr(res.reason, "CURRENT"));
    assert_int_equal(current_of(t, "history"), 1);
    assert_true(version_exists(t, "history", 2));
    assert_int_equal(count_items(t, "history"), 1);
    assert_int_equal(rmdir(p), 0);
    free(p);
    assert_int_equal(
        adapter_local.apply(t->ctx, (const struct op *const *)&op, 1, &res), 0);
    assert_int_equal(res.outcome, ADAPTER_DONE);
    free_ops(&op, 1);
    assert_int_equal(current_of(t, "history"), 3);
    assert_int_equal(count_items(t, "history"), 2);

    /* Another writer holds the lock: retry soon. */
    p = fpath(t, "history", ".lock");
    fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    op = mk_movie(OP_HISTORY_ADD, "tmdb=551", T0);
    assert_int_equal(
        adapter_local.apply(t->ctx, (const struct op *const *)&op, 1, &res), 0);
    assert_int_equal(res.outcome, ADAPTER_RETRY);
    assert_true(res.retry_after_ms > 0);
    close(fd);
    /* Released: the same operation goes through. */
    assert_int_equal(
        adapter_local.apply(t->ctx, (const struct op *const *)&op, 1, &res), 0);
    assert_int_equal(res.outcome, ADAPTER_DONE);
    free_ops(&op, 1);
    free(p);
    assert_int_equal(current_of(t, "history"), 4);
    assert_int_equal(count_items(t, "history"), 3);
}

struct listed {
    char feature[16];
    int version;
    int64_t created_at;
    size_t count;
    bool current, valid;
};

struct list_acc {
    struct listed rows[64];
    size_t n;
};

static void
list_cb(const char *feature, int version, int64_t created_at, size_t count,
        bool current, bool valid, void *arg)
{
    struct list_acc *acc = arg;
    struct listed *r;

    assert_true(acc->n < N_ELEMS(acc->rows));
    r = &acc->rows[acc->n++];
    snprintf(r->feature, sizeof(r->feature), "%s", feature);
    r->version = version;
    r->created_at = created_at;
    r->count = count;
    r->current = current;
    r->valid = valid;
}

static void
test_list(void **state)
{
    struct t *t = *state;
    static const struct listed want[] = {
        {"history", 1, 0, 1, false, true},  {"history", 2, 0, 2, false, true},
        {"history", 3, 0, 3, false, false}, {"history", 4, 0, 2, true, true},
        {"ratings", 1, 0, 1, true, true},
    };
    struct list_acc acc;
    char err[256];
    char *p, *data, *at;
    size_t len;

    memset(&acc, 0, sizeof(acc));
    /* Nothing yet. */
    assert_int_equal(local_backup_list(t->dir, list_cb, &acc, err, sizeof(err)),
                     0);
    assert_int_equal(acc.n, 0);
    p = xasprintf("%s/missing", t->root);
    assert_int_equal(local_backup_list(p, list_cb, &acc, err, sizeof(err)), 0);
    assert_int_equal(acc.n, 0);
    free(p);

    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=1", T0), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=2", T0), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_ADD, "tmdb=3", T0), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_REMOVE, "tmdb=1", 0), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_REMOVE, "tmdb=2", 0), ADAPTER_DONE);
    apply1(t, mk_movie(OP_HISTORY_REMOVE, "tmdb=3", 0), ADAPTER_DONE);
    apply1(t, mk_rating(OP_RATING_SET, "tmdb=1", 5), ADAPTER_DONE);
    /* Keep history v1-v4 with CURRENT at v4; damage v3's items. */
    p = fpath(t, "history", "v000005.json");
    assert_int_equal(unlink(p), 0);
    free(p);
    p = fpath(t, "history", "v000006.json");
    assert_int_equal(unlink(p), 0);
    free(p);
    p = fpath(t, "history", "CURRENT");
    assert_int_equal(write_file_atomic(p, "4\n", 2, 0600), 0);
    free(p);
    p = fpath(t, "history", "v000003.json");
    data = read_file(p, 1 << 20, &len);
    at = strstr(data, "\"key\":\"movie:tmdb:2\"");
    assert_non_null(at);
    at[18] = '9';
    assert_int_equal(write_file_atomic(p, data, len, 0600), 0);
    free(data);
    free(p);

    assert_int_equal(local_backup_list(t->dir, list_cb, &acc, err, sizeof(err)),
                     0);
    assert_int_equal(acc.n, N_ELEMS(want));
    for (size_t i = 0; i < N_ELEMS(want); i++) {
        assert_string_equal(acc.rows[i].feature, want[i].feature);
        assert_int_equal(acc.rows[i].version, want[i].version);
        assert_int_equal(acc.rows[i].count, want[i].count);
        assert_int_equal(acc.rows[i].current, want[i].current);
        assert_int_equal(acc.rows[i].valid, want[i].valid);
        assert_true(acc.rows[i].created_at >= T0);
    }

    /* CURRENT (v4) damaged: v2 becomes the present state. */
    p = fpath(t, "history", "v000004.json");
    assert_int_equal(write_file_atomic(p, "garbage", 7, 0600), 0);
    free(p);
    memset(&acc, 0, sizeof(acc));
    assert_int_equal(local_backup_list(t->dir, list_cb, &acc, err, sizeof(err)),
                     0);
    assert_int_equal(acc.n, 5);
    assert_true(acc.rows[1].current && acc.rows[1].valid);
    assert_true(!acc.rows[3].current && !acc.rows[3].valid);
    assert_int_equal(acc.rows[3].created_at, 0);
    assert_int_equal(count_items(t, "history"), 2);

    /* Loading by version; bad arguments. */
    struct json_object *items = NULL;

    assert_int_equal(
        local_snapshot_load(t->dir, "history", 1, &items, err, sizeof(err)), 0);
    assert_int_equal(json_object_array_length(items), 1);
    json_object_put(items);
    assert_int_equal(
        local_snapshot_load(t->dir, "history", 9, &items, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "no version 9"));
    assert_int_equal(
        local_snapshot_load(t->dir, "playlists", 0, &items, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "unknown feature"));
    assert_int_equal(
        local_snapshot_load(t->dir, "watchlist", 0, &items, err, sizeof(err)),
        0);
    assert_int_equal(json_object_array_length(items), 0);
    json_object_put(items);

    /* A version that cannot be read is an error, not a damaged snapshot. */
    p = fpath(t, "history", "v000099.json");
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(local_backup_list(t->dir, list_cb, &acc, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "v000099.json"));
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adapter_fields, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_history_add_and_reload, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_history_dedupe, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_history_alias, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_history_remove, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_remove_ambiguous, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_ratings, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_watchlist, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_progress, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_and_mixed, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_retention, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_checksum_fallback, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_atomicity, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_io_failure, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_list, t_setup, t_teardown),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
