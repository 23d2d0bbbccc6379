/*
 * test_reads_local: the local backup's reads (SYNC.md 5, 9): read_index
 * gives a feature's present snapshot (CURRENT, past a damaged version) as
 * rows, one per play for history, with the stored watched_at, rating,
 * rated_at and listed_at; read_activities gives each feature's CURRENT
 * version. The store is filled through adapter_local.apply, as the applier
 * does. Every test runs in a fresh temp dir under /tmp.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <sys/stat.h>
#include <sys/types.h>

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
#include "item.h"
#include "log.h"
#include "op.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define T0      1740948430 /* 2025-03-02T20:47:10Z */
#define CREATED (T0 + 100000)

static const struct adapter_ops *A = &adapter_local;

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

    snprintf(t->root, sizeof(t->root), "/tmp/wr-test-reads-local-XXXXXX");
    if (mkdtemp(t->root) == NULL) {
        free(t);
        return -1;
    }
    t->dir = xasprintf("%s/bk", t->root);
    memset(&conf, 0, sizeof(conf));
    conf.present = true;
    conf.dir = t->dir;
    t->ctx = A->init(&conf, NULL, "/nonexistent", err, sizeof(err));
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

    A->free(t->ctx);
    nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t->dir);
    free(t);
    return 0;
}

/* ---- operations ------------------------------------------------------- */

static struct op *
mk_op(enum op_kind kind, enum item_type type, const char *id_name,
      const char *id_value, const char *title)
{
    struct op *op = xmalloc(sizeof(*op));

    op_init(op);
    op->kind = kind;
    op->target = xstrdup("local");
    op->created_at = CREATED;
    op->item.type = type;
    op->item.title = title ? xstrdup(title) : NULL;
    op->item.year = 2016;
    if (id_name != NULL)
        assert_int_equal(item_ids_set_named(&op->item.ids, id_name, id_value),
                         0);
    op_finish(op);
    return op;
}

static struct op *
mk_play(const char *tmdb, int64_t watched_at)
{
    struct op *op = mk_op(OP_HISTORY_ADD, ITEM_MOVIE, "tmdb", tmdb, "Arrival");

    op->watched_at = watched_at;
    return op;
}

static struct op *
mk_episode_play(int season, int episode, int64_t watched_at)
{
    struct op *op = mk_op(OP_HISTORY_ADD, ITEM_EPISODE, NULL, NULL, "Pilot");

    op->item.show_title = xstrdup("Severance");
    op->item.show_year = 2022;
    assert_int_equal(item_ids_set(&op->item.show_ids, ITEM_ID_TVDB, "371980"),
                     0);
    op->item.season = season;
    op->item.episode = episode;
    op->watched_at = watched_at;
    free(op->key);
    op->key = NULL;
    op_finish(op);
    return op;
}

static struct op *
mk_rating(const char *tmdb, int rating, int64_t rated_at)
{
    struct op *op = mk_op(OP_RATING_SET, ITEM_MOVIE, "tmdb", tmdb, "Arrival");

    op->rating = rating;
    op->rated_at = rated_at;
    return op;
}

/* Apply one operation (taken) and expect it done. */
static void
apply1(struct t *t, struct op *op)
{
    const struct op *ops[] = {op};
    struct adapter_result res;

    memset(&res, 0, sizeof(res));
    assert_int_equal(A->apply(t->ctx, ops, 1, &res), 0);
    if (res.outcome != ADAPTER_DONE)
        fprintf(stderr, "apply: %s\n", res.reason);
    assert_int_equal(res.outcome, ADAPTER_DONE);
    op_release(op);
    free(op);
}

static void
read_ok(struct t *t, enum adapter_feature f, struct adapter_page *pg)
{
    char err[256] = "";

    memset(pg, 0, sizeof(*pg));
    if (A->read_index(t->ctx, f, pg, err, sizeof(err)) != 0)
        fail_msg("read_index: %s", err);
    assert_null(pg->next_cursor);
}

static void
checkpoints(struct t *t, int64_t cps[ADAPTER_FEATURE_MAX])
{
    char err[256] = "";

    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
        cps[f] = -1;
    if (A->read_activities(t->ctx, cps, err, sizeof(err)) != 0)
        fail_msg("read_activities: %s", err);
}

/* The row of pg whose item has tmdb id (and watched_at, unless 0). */
static const struct adapter_entry *
row_for(const struct adapter_page *pg, const char *tmdb, int64_t watched_at)
{
    for (size_t i = 0; i < pg->n; i++) {
        const struct adapter_entry *e = &pg->rows[i];
        const char *v = e->item.ids.v[ITEM_ID_TMDB];

        if (v != NULL && strcmp(v, tmdb) == 0 &&
            (watched_at == 0 || e->watched_at == watched_at))
            return e;
    }
    fail_msg("no row for tmdb %s at %lld", tmdb, (long long)watched_at);
    return NULL;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_vtable(void **state)
{
    (void)state;
    assert_int_equal(A->features, ADAPTER_BIT(ADAPTER_HISTORY) |
                                      ADAPTER_BIT(ADAPTER_WATCHLIST) |
                                      ADAPTER_BIT(ADAPTER_RATINGS));
    assert_int_equal(A->delta_features, 0);
    assert_true(A->dated_history);
    assert_int_equal(A->phantom_grace_s, 0);
    assert_false(A->has_local_id);
    assert_non_null(A->read_index);
    assert_non_null(A->read_activities);
    assert_null(A->build_index);
    assert_null(A->build_delta);
    assert_null(A->build_activities);
}

static void
test_empty_store(void **state)
{
    struct t *t = *state;
    struct adapter_page pg;
    int64_t cps[ADAPTER_FEATURE_MAX];
    char err[256] = "";

    read_ok(t, ADAPTER_HISTORY, &pg);
    assert_int_equal(pg.n, 0);
    adapter_page_release(&pg);
    read_ok(t, ADAPTER_WATCHLIST, &pg);
    assert_int_equal(pg.n, 0);
    adapter_page_release(&pg);
    read_ok(t, ADAPTER_RATINGS, &pg);
    assert_int_equal(pg.n, 0);
    adapter_page_release(&pg);
    checkpoints(t, cps);
    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
        assert_int_equal(cps[f], 0);

    memset(&pg, 0, sizeof(pg));
    assert_int_equal(
        A->read_index(t->ctx, ADAPTER_PLAYLISTS, &pg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "playlists"));
    assert_int_equal(pg.n, 0);
}

static void
test_history(void **state)
{
    struct t *t = *state;
    struct adapter_page pg;
    const struct adapter_entry *e;
    int64_t cps[ADAPTER_FEATURE_MAX];

    apply1(t, mk_play("329865", T0));
    apply1(t, mk_play("329865", T0 + 86400)); /* a second play */
    apply1(t, mk_episode_play(1, 1, T0 + 1101));
    checkpoints(t, cps);
    assert_int_equal(cps[ADAPTER_HISTORY], 3);
    assert_int_equal(cps[ADAPTER_WATCHLIST], 0);
    assert_int_equal(cps[ADAPTER_RATINGS], 0);

    read_ok(t, ADAPTER_HISTORY, &pg);
    assert_int_equal(pg.n, 3);
    e = row_for(&pg, "329865", T0);
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Arrival");
    assert_int_equal(e->item.year, 2016);
    assert_int_equal(e->rating, 0);
    assert_true(e->progress == -1);
    assert_int_equal(e->position, -1);
    assert_false(e->removed);
    row_for(&pg, "329865", T0 + 86400);
    for (size_t i = 0; i < pg.n; i++) {
        e = &pg.rows[i];
        if (e->item.type != ITEM_EPISODE)
            continue;
        assert_int_equal(e->watched_at, T0 + 1101);
        assert_int_equal(e->item.season, 1);
        assert_int_equal(e->item.episode, 1);
        assert_string_equal(e->item.show_title, "Severance");
        assert_non_null(e->item.show_ids.v[ITEM_ID_TVDB]);
        assert_string_equal(e->item.show_ids.v[ITEM_ID_TVDB], "371980");
    }
    adapter_page_release(&pg);

    /* A removal is a new version, and the play is gone. */
    {
        struct op *rm = mk_play("329865", T0 + 86400);

        rm->kind = OP_HISTORY_REMOVE;
        apply1(t, rm);
    }
    checkpoints(t, cps);
    assert_int_equal(cps[ADAPTER_HISTORY], 4);
    read_ok(t, ADAPTER_HISTORY, &pg);
    assert_int_equal(pg.n, 2);
    row_for(&pg, "329865", T0);
    adapter_page_release(&pg);
}

static void
test_ratings(void **state)
{
    struct t *t = *state;
    struct adapter_page pg;
    const struct adapter_entry *e;
    int64_t cps[ADAPTER_FEATURE_MAX];

    apply1(t, mk_rating("329865", 8, T0 + 5));
    apply1(t, mk_rating("949", 6, T0 + 50));
    read_ok(t, ADAPTER_RATINGS, &pg);
    assert_int_equal(pg.n, 2);
    e = row_for(&pg, "329865", 0);
    assert_int_equal(e->rating, 8);
    assert_int_equal(e->rated_at, T0 + 5);
    assert_int_equal(e->watched_at, 0);
    e = row_for(&pg, "949", 0);
    assert_int_equal(e->rating, 6);
    assert_int_equal(e->rated_at, T0 + 50);
    adapter_page_release(&pg);

    /* A new rating replaces the old one. */
    apply1(t, mk_rating("329865", 9, T0 + 500));
    read_ok(t, ADAPTER_RATINGS, &pg);
    assert_int_equal(pg.n, 2);
    e = row_for(&pg, "329865", 0);
    assert_int_equal(e->rating, 9);
    assert_int_equal(e->rated_at, T0 + 500);
    adapter_page_release(&pg);
    checkpoints(t, cps);
    assert_int_equal(cps[ADAPTER_RATINGS], 3);
    assert_int_equal(cps[ADAPTER_HISTORY], 0);
}

static void
test_watchlist(void **state)
{
    struct t *t = *state;
    struct adapter_page pg;
    const struct adapter_entry *e;
    int64_t cps[ADAPTER_FEATURE_MAX];

    apply1(t, mk_op(OP_WATCHLIST_ADD, ITEM_MOVIE, "tmdb", "438631", "Dune"));
    apply1(t,
           mk_op(OP_WATCHLIST_ADD, ITEM_SHOW, "tvdb", "371980", "Severance"));
    read_ok(t, ADAPTER_WATCHLIST, &pg);
    assert_int_equal(pg.n, 2);
    e = row_for(&pg, "438631", 0);
    assert_int_equal(e->item.type, ITEM_MOVIE);
    assert_string_equal(e->item.title, "Dune");
    /* The operation's time: a watchlist entry keeps when it was listed. */
    assert_int_equal(e->listed_at, CREATED);
    for (size_t i = 0; i < pg.n; i++)
        if (pg.rows[i].item.type == ITEM_SHOW)
            assert_string_equal(pg.rows[i].item.ids.v[ITEM_ID_TVDB], "371980");
    adapter_page_release(&pg);

    apply1(t, mk_op(OP_WATCHLIST_REMOVE, ITEM_MOVIE, "tmdb", "438631", "Dune"));
    read_ok(t, ADAPTER_WATCHLIST, &pg);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.rows[0].item.type, ITEM_SHOW);
    adapter_page_release(&pg);
    checkpoints(t, cps);
    assert_int_equal(cps[ADAPTER_WATCHLIST], 3);
}

/* CURRENT failing its checksum: the read is the newest valid version
 * below it; the checkpoint stays CURRENT's number. Without CURRENT the
 * checkpoint is the newest version on disk. */
static void
test_checksum_fallback(void **state)
{
    struct t *t = *state;
    struct adapter_page pg;
    int64_t cps[ADAPTER_FEATURE_MAX];
    char *p, *data, *at;
    size_t len;

    apply1(t, mk_play("329865", T0));
    apply1(t, mk_play("949", T0 + 600));
    p = xasprintf("%s/history/v000002.json", t->dir);
    data = read_file(p, 1 << 20, &len);
    assert_non_null(data);
    at = strstr(data, "Arrival");
    assert_non_null(at);
    at[0] = 'X'; /* still JSON, no longer its checksum */
    assert_int_equal(write_file_atomic(p, data, len, 0600), 0);
    free(data);
    free(p);

    read_ok(t, ADAPTER_HISTORY, &pg);
    assert_int_equal(pg.n, 1);
    row_for(&pg, "329865", T0);
    adapter_page_release(&pg);
    checkpoints(t, cps);
    assert_int_equal(cps[ADAPTER_HISTORY], 2);

    p = xasprintf("%s/history/CURRENT", t->dir);
    assert_int_equal(unlink(p), 0);
    free(p);
    checkpoints(t, cps);
    assert_int_equal(cps[ADAPTER_HISTORY], 2);
    read_ok(t, ADAPTER_HISTORY, &pg);
    assert_int_equal(pg.n, 1);
    adapter_page_release(&pg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vtable),
        cmocka_unit_test_setup_teardown(test_empty_store, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_history, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_ratings, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_watchlist, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_checksum_fallback, t_setup,
                                        t_teardown),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
