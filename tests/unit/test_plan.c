/*
 * test_plan: the reconcile planner (SYNC.md 1.5, 6.2, 6.4-6.6) on small
 * hand-built sides: token matching, collapsed history, ratings by canonical
 * value, removal modes and every guard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "plan.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define NOW 1760000000LL
#define ALL_KINDS                                         \
    (OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) | \
     OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |    \
     OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE))

static const struct adapter_ops tracker = {
    .name = "tracker", .kinds = ALL_KINDS, .phantom_grace_s = 900};
static const struct adapter_ops server = {.name = "server",
                                          .kinds = ALL_KINDS,
                                          .has_local_id = true,
                                          .local_id = ITEM_ID_PLEX,
                                          .phantom_grace_s = 900};
static const struct adapter_ops simklish = {
    .name = "simklish", .kinds = ALL_KINDS, .remove_drops_rating = true};
static const struct adapter_ops addonly = {.name = "addonly",
                                           .kinds = OP_BIT(OP_HISTORY_ADD) |
                                                    OP_BIT(OP_WATCHLIST_ADD)};

/* Rows of one side. */
struct rowset {
    struct adapter_entry v[64];
    size_t n;
};

static struct adapter_entry *
movie(struct rowset *r, const char *tmdb, const char *imdb, const char *title)
{
    struct adapter_entry *e = &r->v[r->n++];

    memset(e, 0, sizeof(*e));
    item_init(&e->item);
    e->item.type = ITEM_MOVIE;
    e->item.title = xstrdup(title);
    if (tmdb)
        item_ids_set(&e->item.ids, ITEM_ID_TMDB, tmdb);
    if (imdb)
        item_ids_set(&e->item.ids, ITEM_ID_IMDB, imdb);
    e->progress = -1;
    e->position = -1;
    return e;
}

static struct adapter_entry *
episode(struct rowset *r, const char *show_tvdb, int s, int ep,
        const char *own_tvdb)
{
    struct adapter_entry *e = &r->v[r->n++];

    memset(e, 0, sizeof(*e));
    item_init(&e->item);
    e->item.type = ITEM_EPISODE;
    e->item.show_title = xstrdup("Show");
    e->item.season = s;
    e->item.episode = ep;
    if (show_tvdb)
        item_ids_set(&e->item.show_ids, ITEM_ID_TVDB, show_tvdb);
    if (own_tvdb)
        item_ids_set(&e->item.ids, ITEM_ID_TVDB, own_tvdb);
    return e;
}

static void
rows_free(struct rowset *r)
{
    for (size_t i = 0; i < r->n; i++)
        item_release(&r->v[i].item);
    r->n = 0;
}

struct fx {
    struct rowset rows[2];
    struct plan_side sides[2];
    struct plan_conf conf;
    struct plan plan;
};

static void
fx_init(struct fx *f, enum adapter_feature feat, const struct adapter_ops *a,
        const struct adapter_ops *b)
{
    memset(f, 0, sizeof(*f));
    for (int x = 0; x < 2; x++) {
        pset_init(&f->sides[x].now);
        pset_init(&f->sides[x].base);
        smap_init(&f->sides[x].quarantine);
        smap_init(&f->sides[x].inflight);
        smap_init(&f->sides[x].confirmed);
        smap_init(&f->sides[x].tombstones);
    }
    f->sides[0].instance = a->name;
    f->sides[0].ad = a;
    f->sides[1].instance = b->name;
    f->sides[1].ad = b;
    f->conf.feature = feat;
    f->conf.add = true;
    f->conf.now = NOW;
    f->conf.inflight_ttl_s = 6 * 3600;
    plan_init(&f->plan);
}

/* Baseline of side x: the given rows as they would have been saved. */
static void
fx_base(struct fx *f, int x, struct rowset *r)
{
    struct pset tmp;

    pset_init(&tmp);
    pset_add_rows(&tmp, f->conf.feature, f->sides[x].instance, r->v, r->n);
    for (size_t i = 0; i < tmp.n; i++) {
        char *v;

        if (tmp.v[i].library_only)
            continue;
        v = pset_baseline_value(&tmp, i);
        assert_int_equal(pset_add_baseline(&f->sides[x].base, tmp.v[i].key, v),
                         0);
        free(v);
    }
    pset_release(&tmp);
    f->sides[x].has_base = true;
}

static void
fx_run(struct fx *f)
{
    for (int x = 0; x < 2; x++)
        pset_add_rows(&f->sides[x].now, f->conf.feature, f->sides[x].instance,
                      f->rows[x].v, f->rows[x].n);
    plan_run(&f->conf, f->sides, &f->plan);
}

static void
fx_free(struct fx *f)
{
    for (int x = 0; x < 2; x++) {
        pset_release(&f->sides[x].now);
        pset_release(&f->sides[x].base);
        smap_release(&f->sides[x].quarantine);
        smap_release(&f->sides[x].inflight);
        smap_release(&f->sides[x].confirmed);
        smap_release(&f->sides[x].tombstones);
        rows_free(&f->rows[x]);
    }
    plan_release(&f->plan);
}

/* The op on key with that action, or NULL. */
static const struct plan_op *
find(const struct fx *f, enum plan_action a, const char *key)
{
    for (size_t i = 0; i < f->plan.n; i++) {
        const struct plan_op *op = &f->plan.ops[i];
        const struct pent *e =
            (a == PLAN_ADD || a == PLAN_SET) ? op->from : op->on;

        if (op->action == a && e != NULL && strcmp(e->key, key) == 0)
            return op;
    }
    return NULL;
}

static size_t
count_go(const struct fx *f, int side, enum plan_action a)
{
    return f->plan.counts[side][a];
}

static void
test_tokens(void **state)
{
    struct item it;
    char **toks = NULL;
    size_t cap = 0, n;

    (void)state;
    item_init(&it);
    it.type = ITEM_EPISODE;
    it.season = 1;
    it.episode = 2;
    item_ids_set(&it.ids, ITEM_ID_TVDB, "8603573");
    item_ids_set(&it.ids, ITEM_ID_PLEX, "10432");
    item_ids_set(&it.show_ids, ITEM_ID_TMDB, "95396");
    n = plan_tokens(&it, "plex", &toks, &cap, 0);
    assert_int_equal(n, 3);
    assert_string_equal(toks[0], "episode:tvdb:8603573");
    assert_string_equal(toks[1], "plex/episode:plex:10432");
    assert_string_equal(toks[2], "show:tmdb:95396#s01e02");
    for (size_t i = 0; i < n; i++)
        free(toks[i]);
    item_release(&it);
    /* No ids at all: the fallback key is the only token. */
    item_init(&it);
    it.type = ITEM_MOVIE;
    it.title = xstrdup("Some Film!");
    it.year = 1999;
    n = plan_tokens(&it, "x", &toks, &cap, 0);
    assert_int_equal(n, 1);
    assert_string_equal(toks[0], "movie|some film|1999");
    free(toks[0]);
    free(toks);
    item_release(&it);
}

/* Collapsed history: add only items the target has no play of under any
 * alias, with the source's latest date; never a dateless play. */
static void
test_history_collapsed(void **state)
{
    struct fx f;
    const struct plan_op *op;

    (void)state;
    fx_init(&f, ADAPTER_HISTORY, &server, &tracker);
    movie(&f.rows[0], "603", "tt0133093", "The Matrix")->watched_at = 100;
    movie(&f.rows[0], "603", NULL, "The Matrix")->watched_at = 300;
    movie(&f.rows[0], NULL, "tt1375666", "Inception")->watched_at = 200;
    movie(&f.rows[0], "129", NULL, "Spirited Away")->watched_at = 0;
    movie(&f.rows[0], "27205", NULL, "Unwatched")->library_only = true;
    episode(&f.rows[0], "81189", 1, 1, "349232")->watched_at = 400;
    /* The target knows Inception by tmdb + imdb, the episode by its show. */
    movie(&f.rows[1], "27205", "tt1375666", "Inception")->watched_at = 50;
    episode(&f.rows[1], "81189", 1, 1, NULL)->watched_at = 10;
    fx_run(&f);
    assert_int_equal(count_go(&f, 1, PLAN_ADD), 1);
    op = find(&f, PLAN_ADD, "movie:tmdb:603");
    assert_non_null(op);
    assert_int_equal(op->guard, PLAN_GO);
    assert_int_equal(op->watched_at, 300);
    assert_int_equal(op->from->plays, 2);
    assert_null(find(&f, PLAN_ADD, "movie:tmdb:129"));   /* dateless */
    assert_null(find(&f, PLAN_ADD, "movie:tmdb:27205")); /* library only */
    assert_int_equal(count_go(&f, 0, PLAN_ADD), 0);      /* one-way */
    fx_free(&f);
}

/* Event mode: each source play matches at most one target play within
 * 60 s, nearest first; the rest are added with their own dates. */
static void
test_history_events(void **state)
{
    struct fx f;
    size_t adds = 0;
    int64_t seen[8];

    (void)state;
    fx_init(&f, ADAPTER_HISTORY, &tracker, &tracker);
    f.conf.event_history = true;
    movie(&f.rows[0], "603", NULL, "M")->watched_at = 1000;
    movie(&f.rows[0], "603", NULL, "M")->watched_at = 100;
    movie(&f.rows[0], "603", NULL, "M")->watched_at = 5000;
    movie(&f.rows[0], "603", NULL, "M")->watched_at = 1010;
    movie(&f.rows[1], "603", NULL, "M")->watched_at = 1030;
    movie(&f.rows[1], "603", NULL, "M")->watched_at = 9000;
    movie(&f.rows[0], "129", NULL, "New")->watched_at = 7;
    movie(&f.rows[0], "129", NULL, "New")->watched_at = 8;
    fx_run(&f);
    for (size_t i = 0; i < f.plan.n; i++) {
        const struct plan_op *op = &f.plan.ops[i];

        assert_int_equal(op->action, PLAN_ADD);
        assert_int_equal(op->guard, PLAN_GO);
        seen[adds++] = op->watched_at;
    }
    /* 1010 takes 1030 (nearer than 1000); 100, 1000, 5000 and both plays
     * of the new item are added. */
    assert_int_equal(adds, 5);
    assert_int_equal(seen[0], 100);
    assert_int_equal(seen[1], 1000);
    assert_int_equal(seen[2], 5000);
    assert_int_equal(seen[3], 7);
    assert_int_equal(seen[4], 8);
    fx_free(&f);
}

/* Ratings compare canonical integers; one-way the source wins, two-way the
 * newer rated_at, ties to source_of_truth. */
static void
test_ratings(void **state)
{
    struct fx f;
    const struct plan_op *op;
    struct adapter_entry *e;

    (void)state;
    fx_init(&f, ADAPTER_RATINGS, &tracker, &tracker);
    e = movie(&f.rows[0], "603", NULL, "Same");
    e->rating = 8;
    e = movie(&f.rows[1], "603", NULL, "Same");
    e->rating = 8;
    e = movie(&f.rows[0], "27205", NULL, "Differs");
    e->rating = 9;
    e->rated_at = 100;
    e = movie(&f.rows[1], "27205", NULL, "Differs");
    e->rating = 6;
    e->rated_at = 200;
    e = movie(&f.rows[0], "129", NULL, "Only source");
    e->rating = 7;
    fx_run(&f);
    assert_null(find(&f, PLAN_SET, "movie:tmdb:603"));
    op = find(&f, PLAN_SET, "movie:tmdb:27205");
    assert_non_null(op);
    assert_int_equal(op->side, 1);
    assert_int_equal(op->rating, 9);
    op = find(&f, PLAN_SET, "movie:tmdb:129");
    assert_non_null(op);
    assert_int_equal(op->rating, 7);
    fx_free(&f);

    /* Two-way: the target's rating is newer and wins. */
    fx_init(&f, ADAPTER_RATINGS, &tracker, &tracker);
    f.conf.two_way = true;
    e = movie(&f.rows[0], "27205", NULL, "Differs");
    e->rating = 9;
    e->rated_at = 100;
    e = movie(&f.rows[1], "27205", NULL, "Differs");
    e->rating = 6;
    e->rated_at = 200;
    e = movie(&f.rows[1], "129", NULL, "Only target");
    e->rating = 5;
    e->rated_at = 50;
    fx_run(&f);
    assert_int_equal(f.plan.n, 2);
    op = &f.plan.ops[0];
    assert_int_equal(op->action, PLAN_SET);
    assert_int_equal(op->side, 0);
    assert_int_equal(op->rating, 6);
    op = find(&f, PLAN_SET, "movie:tmdb:129");
    assert_non_null(op);
    assert_int_equal(op->side, 0);
    fx_free(&f);

    /* Two-way with equal times: source_of_truth decides. */
    fx_init(&f, ADAPTER_RATINGS, &tracker, &tracker);
    f.conf.two_way = true;
    f.conf.truth_target = true;
    e = movie(&f.rows[0], "27205", NULL, "Tie");
    e->rating = 9;
    e = movie(&f.rows[1], "27205", NULL, "Tie");
    e->rating = 4;
    fx_run(&f);
    assert_int_equal(f.plan.n, 1);
    assert_int_equal(f.plan.ops[0].side, 0);
    assert_int_equal(f.plan.ops[0].rating, 4);
    fx_free(&f);
}

static void
watchlist_of(struct rowset *r, int from, int to)
{
    char tmdb[16];

    for (int i = from; i < to; i++) {
        snprintf(tmdb, sizeof(tmdb), "%d", 1000 + i);
        movie(r, tmdb, NULL, "W")->listed_at = 10;
    }
}

/* One-way source_deletes: what left the source since the last run leaves
 * the target, only with removes on and never on a first run. */
static void
test_source_deletes(void **state)
{
    struct fx f;
    struct rowset base = {0};

    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
        f.conf.remove = mode != 1;
        f.conf.first_run = mode == 2;
        watchlist_of(&base, 0, 25);
        fx_base(&f, 0, &base);
        rows_free(&base);
        watchlist_of(&f.rows[0], 0, 23); /* 1023 and 1024 removed */
        watchlist_of(&f.rows[1], 0, 25);
        fx_run(&f);
        if (mode == 0) {
            assert_int_equal(count_go(&f, 1, PLAN_REMOVE), 2);
            assert_non_null(find(&f, PLAN_REMOVE, "movie:tmdb:1024"));
        } else if (mode == 1) {
            const struct plan_op *op = find(&f, PLAN_REMOVE, "movie:tmdb:1024");

            assert_int_equal(count_go(&f, 1, PLAN_REMOVE), 0);
            assert_non_null(op);
            assert_int_equal(op->guard, PLAN_HELD_REMOVES_OFF);
        } else {
            assert_int_equal(f.plan.n, 0); /* bootstrap: no deletes */
        }
        assert_int_equal(count_go(&f, 1, PLAN_ADD), 0);
        fx_free(&f);
    }
}

/* A history remove that would also delete the rating needs the ratings
 * removal gate. */
static void
test_remove_drops_rating(void **state)
{
    struct fx f;
    struct rowset base = {0};

    (void)state;
    for (int gate = 0; gate < 2; gate++) {
        fx_init(&f, ADAPTER_HISTORY, &tracker, &simklish);
        f.conf.remove = true;
        f.conf.ratings_remove = gate == 1;
        movie(&base, "603", NULL, "Matrix")->watched_at = 5;
        movie(&base, "129", NULL, "Spirited")->watched_at = 5;
        fx_base(&f, 0, &base);
        rows_free(&base);
        movie(&f.rows[0], "129", NULL, "Spirited")->watched_at = 5;
        movie(&f.rows[1], "603", NULL, "Matrix")->watched_at = 5;
        movie(&f.rows[1], "129", NULL, "Spirited")->watched_at = 5;
        fx_run(&f);
        assert_int_equal(find(&f, PLAN_REMOVE, "movie:tmdb:603")->guard,
                         gate ? PLAN_GO : PLAN_HELD_REMOVES_OFF);
        fx_free(&f);
    }
}

/* Drop guard and mass-delete guard. */
static void
test_guards(void **state)
{
    struct fx f;
    struct rowset base = {0};

    (void)state;
    /* Empty read, checkpoint unchanged: suspect, nothing deleted. */
    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
    f.conf.remove = true;
    watchlist_of(&base, 0, 30);
    fx_base(&f, 0, &base);
    rows_free(&base);
    f.sides[0].checkpoint = f.sides[0].base_checkpoint = 500;
    watchlist_of(&f.rows[1], 0, 30);
    fx_run(&f);
    assert_true(f.sides[0].suspect);
    assert_int_equal(count_go(&f, 1, PLAN_REMOVE), 0);
    assert_int_equal(f.plan.n, 0);
    assert_true(strstr(f.plan.drop_note[0], "suspect") != NULL);
    fx_free(&f);

    /* The same with a moved checkpoint is real: 28 of 30 removes is a mass
     * delete, refused whole. */
    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
    f.conf.remove = true;
    watchlist_of(&base, 0, 30);
    fx_base(&f, 0, &base);
    rows_free(&base);
    f.sides[0].checkpoint = 600;
    f.sides[0].base_checkpoint = 500;
    watchlist_of(&f.rows[0], 0, 2);
    watchlist_of(&f.rows[1], 0, 30);
    fx_run(&f);
    assert_false(f.sides[0].suspect);
    assert_true(f.plan.mass_refused[1]);
    assert_int_equal(f.plan.mass_planned[1], 28);
    assert_int_equal(f.plan.mass_limit[1], 3);
    assert_int_equal(count_go(&f, 1, PLAN_REMOVE), 0);
    assert_int_equal(find(&f, PLAN_REMOVE, "movie:tmdb:1029")->guard,
                     PLAN_HELD_MASS_DELETE);
    fx_free(&f);

    /* --allow-mass-delete lets it through. */
    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
    f.conf.remove = true;
    f.conf.allow_mass_delete = true;
    watchlist_of(&base, 0, 30);
    fx_base(&f, 0, &base);
    rows_free(&base);
    f.sides[0].checkpoint = 600;
    watchlist_of(&f.rows[0], 0, 2);
    watchlist_of(&f.rows[1], 0, 30);
    fx_run(&f);
    assert_int_equal(count_go(&f, 1, PLAN_REMOVE), 28);
    fx_free(&f);
    assert_int_equal(plan_mass_limit(19), 2);
    assert_int_equal(plan_mass_limit(200), 20);
}

/* Two-way: a first run only adds; later, an item deleted on one side is
 * removed from the other and not added back (tombstone). */
static void
test_two_way(void **state)
{
    struct fx f;
    struct rowset base = {0};

    (void)state;
    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
    f.conf.two_way = true;
    f.conf.remove = true;
    f.conf.first_run = true;
    watchlist_of(&f.rows[0], 0, 3);
    watchlist_of(&f.rows[1], 2, 5);
    fx_run(&f);
    assert_int_equal(count_go(&f, 1, PLAN_ADD), 2);
    assert_int_equal(count_go(&f, 0, PLAN_ADD), 2);
    assert_int_equal(
        count_go(&f, 0, PLAN_REMOVE) + count_go(&f, 1, PLAN_REMOVE), 0);
    fx_free(&f);

    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
    f.conf.two_way = true;
    f.conf.remove = true;
    watchlist_of(&base, 0, 5);
    fx_base(&f, 0, &base);
    fx_base(&f, 1, &base);
    rows_free(&base);
    watchlist_of(&f.rows[0], 1, 5); /* 1000 deleted on side 0 */
    watchlist_of(&f.rows[1], 0, 5);
    fx_run(&f);
    assert_int_equal(count_go(&f, 1, PLAN_REMOVE), 1);
    assert_non_null(find(&f, PLAN_REMOVE, "movie:tmdb:1000"));
    assert_int_equal(count_go(&f, 0, PLAN_ADD), 0);
    assert_true(f.plan.ntomb >= 1);
    assert_string_equal(f.plan.tomb_tokens[0], "movie:tmdb:1000");
    assert_int_equal(f.plan.tomb_side[0], 0);
    fx_free(&f);

    /* A stored tombstone holds an add back to its origin side unless the
     * item is newer than the deletion. */
    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
    f.conf.two_way = true;
    smap_put(&f.sides[0].tombstones, "movie:tmdb:1000", 50);
    smap_put(&f.sides[0].tombstones, "movie:tmdb:1001", 5);
    watchlist_of(&f.rows[1], 0, 2);
    fx_run(&f);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:1000")->guard,
                     PLAN_HELD_TOMBSTONE);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:1001")->guard, PLAN_GO);
    fx_free(&f);
}

/* Quarantine, in-flight, phantom memory, ambiguity, unsupported kinds. */
static void
test_memory(void **state)
{
    struct fx f;

    (void)state;
    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &tracker);
    watchlist_of(&f.rows[0], 0, 6);
    smap_put(&f.sides[1].quarantine, "movie:tmdb:1000", NOW + 10);
    smap_put(&f.sides[1].quarantine, "movie:tmdb:1001", NOW - 10); /* over */
    smap_put(&f.sides[1].inflight, "movie:tmdb:1002", NOW - 60);
    smap_put(&f.sides[1].inflight, "movie:tmdb:1003", NOW - 7 * 3600);
    smap_put(&f.sides[1].confirmed, "movie:tmdb:1004", NOW - 60);
    smap_put(&f.sides[1].confirmed, "movie:tmdb:1005", NOW - 3600);
    fx_run(&f);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:1000")->guard,
                     PLAN_HELD_QUARANTINE);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:1001")->guard, PLAN_GO);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:1002")->guard,
                     PLAN_HELD_IN_FLIGHT);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:1003")->guard, PLAN_GO);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:1004")->guard,
                     PLAN_HELD_RECENT_WRITE);
    assert_true(find(&f, PLAN_ADD, "movie:tmdb:1005")->phantom_strike);
    fx_free(&f);

    /* Matching two different target items is ambiguous. */
    fx_init(&f, ADAPTER_WATCHLIST, &tracker, &addonly);
    movie(&f.rows[0], "603", "tt0133093", "Matrix");
    movie(&f.rows[1], "603", NULL, "Matrix A");
    movie(&f.rows[1], NULL, "tt0133093", "Matrix B");
    movie(&f.rows[0], "999", NULL, "New");
    fx_run(&f);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:603")->guard,
                     PLAN_HELD_AMBIGUOUS);
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:999")->guard, PLAN_GO);
    fx_free(&f);

    fx_init(&f, ADAPTER_RATINGS, &tracker, &addonly);
    movie(&f.rows[0], "999", NULL, "New")->rating = 5;
    fx_run(&f);
    assert_int_equal(find(&f, PLAN_SET, "movie:tmdb:999")->guard,
                     PLAN_HELD_UNSUPPORTED);
    fx_free(&f);
}

/* A media-server target: its library rows give the id writes need. */
static void
test_local_ids(void **state)
{
    struct fx f;
    struct adapter_entry *e;
    const struct plan_op *op;

    (void)state;
    fx_init(&f, ADAPTER_HISTORY, &tracker, &server);
    movie(&f.rows[0], "603", "tt0133093", "Matrix")->watched_at = 10;
    movie(&f.rows[0], "27205", NULL, "Not on the server")->watched_at = 10;
    e = movie(&f.rows[1], NULL, "tt0133093", "Matrix");
    e->library_only = true;
    item_ids_set(&e->item.ids, ITEM_ID_PLEX, "10432");
    fx_run(&f);
    op = find(&f, PLAN_ADD, "movie:tmdb:603");
    assert_int_equal(op->guard, PLAN_GO);
    assert_string_equal(op->local_id, "10432");
    assert_int_equal(find(&f, PLAN_ADD, "movie:tmdb:27205")->guard,
                     PLAN_HELD_NOT_IN_LIBRARY);
    fx_free(&f);
}

static void
test_baseline_form(void **state)
{
    struct pset s;

    (void)state;
    pset_init(&s);
    assert_int_equal(
        pset_add_baseline(&s, "movie:tmdb:603",
                          "8|123|movie:tmdb:603\tmovie:imdb:tt0133093"),
        0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.v[0].rating, 8);
    assert_int_equal(s.v[0].ntok, 2);
    {
        char *v = pset_baseline_value(&s, 0);

        assert_string_equal(v, "8|123|movie:tmdb:603\tmovie:imdb:tt0133093");
        free(v);
    }
    /* A fallback key with spaces is one token. */
    assert_int_equal(pset_add_baseline(&s, "movie|the matrix|1999",
                                       "0|5|movie|the matrix|1999"),
                     0);
    assert_int_equal(s.v[1].ntok, 1);
    assert_string_equal(s.v[1].tok[0], "movie|the matrix|1999");
    assert_int_equal(pset_add_baseline(&s, "k", "x|1|a"), -1);
    assert_int_equal(pset_add_baseline(&s, "k", "1|1|"), -1);
    assert_int_equal(pset_add_baseline(&s, "k", "11|1|a"), -1);
    assert_int_equal(pset_add_baseline(&s, "k", "garbage"), -1);
    pset_release(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_history_collapsed),
        cmocka_unit_test(test_history_events),
        cmocka_unit_test(test_ratings),
        cmocka_unit_test(test_source_deletes),
        cmocka_unit_test(test_guards),
        cmocka_unit_test(test_remove_drops_rating),
        cmocka_unit_test(test_two_way),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_local_ids),
        cmocka_unit_test(test_baseline_form),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
