/*
 * fuzz_plan: the planner's baseline form and a plan over it (src/plan.h,
 * SYNC.md 6). Input: lines; each "key\tvalue" line is a baseline entry as
 * Redis holds it (value "<rating>|<t>|<tok> <tok> ..."), added to one set.
 * Every entry must write back (pset_baseline_value) to a value that loads
 * into a second set as the same entry, and writes back identically again.
 * Each line's key is also taken as the title of an item without ids: its
 * only token is its fallback key (plan_tokens), and a row of it must survive
 * the same round trip. Then each feature is planned two-way with removes on,
 * the loaded set as side 0's baseline and nothing read now, once with side
 * 1 empty and once with side 1 holding the fallback rows.
 * Invariants: the round trips are exact (keys, ratings, times, tokens,
 * fallback marks); every token of a set finds its entry; plan counts plus
 * held equal the operations; operations in range; a side whose whole
 * baseline vanished tombstones every token of it unless the drop guard
 * called it suspect.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "item.h"
#include "op.h"
#include "plan.h"
#include "util.h"

#define FUZZ_NOW       1760000000LL
#define FUZZ_T0        1740948430 /* 2025-03-02T20:47:10Z */
#define FUZZ_LINES_MAX 4096
#define FUZZ_ALL_KINDS                                    \
    (OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) | \
     OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |    \
     OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Side 0 a tracker, side 1 a media server (writes need its own id). */
static const struct adapter_ops fuzz_tracker = {
    .name = "tracker", .kinds = FUZZ_ALL_KINDS, .phantom_grace_s = 900};
static const struct adapter_ops fuzz_server = {.name = "server",
                                               .kinds = FUZZ_ALL_KINDS,
                                               .has_local_id = true,
                                               .local_id = ITEM_ID_PLEX,
                                               .phantom_grace_s = 900};

static const enum adapter_feature fuzz_features[] = {
    ADAPTER_WATCHLIST, ADAPTER_HISTORY, ADAPTER_RATINGS};

/* Every token of s finds its own entry through the index. */
static void
check_index(const struct pset *s)
{
    size_t ntok = 0;

    for (size_t i = 0; i < s->n; i++) {
        const struct pent *e = &s->v[i];

        if (e->key == NULL || e->ntok == 0)
            abort();
        for (size_t k = 0; k < e->ntok; k++) {
            int64_t v = -1;

            if (!smap_get(&s->idx, e->tok[k], &v) || v != (int64_t)i)
                abort();
        }
        ntok += e->ntok;
    }
    if (ntok != s->idx.n)
        abort(); /* a token belongs to one entry */
}

/*
 * Write every entry of from in the baseline form and load it into to
 * (empty): the same entries must come back, and write back identically.
 * Only present entries are written, as reconcile saves a baseline.
 */
static void
round_trip(const struct pset *from, struct pset *to)
{
    size_t n = 0;

    for (size_t i = 0; i < from->n; i++) {
        const struct pent *a = &from->v[i], *b;
        char *v, *again;

        if (a->library_only)
            continue;
        v = pset_baseline_value(from, i);
        if (pset_add_baseline(to, a->key, v) != 0 || to->n != n + 1)
            abort();
        b = &to->v[n++];
        if (strcmp(a->key, b->key) != 0 || a->rating != b->rating ||
            a->fallback != b->fallback || a->ntok != b->ntok)
            abort();
        if ((a->rating > 0 ? a->rated_at : a->t) != b->t)
            abort();
        for (size_t k = 0; k < a->ntok; k++)
            if (strcmp(a->tok[k], b->tok[k]) != 0)
                abort();
        again = pset_baseline_value(to, n - 1);
        if (strcmp(v, again) != 0)
            abort();
        free(again);
        free(v);
    }
    check_index(to);
}

static void
side_init(struct plan_side *s, const struct adapter_ops *ad)
{
    memset(s, 0, sizeof(*s));
    s->instance = ad->name;
    s->ad = ad;
    pset_init(&s->now);
    pset_init(&s->base);
    smap_init(&s->quarantine);
    smap_init(&s->inflight);
    smap_init(&s->confirmed);
    smap_init(&s->tombstones);
}

/* Plan feature f: side 0's baseline is base (borrowed), nothing read on
 * side 0 now; side 1 holds now1 (borrowed) or nothing. */
static void
run_plan(enum adapter_feature f, const struct pset *base,
         const struct pset *now1)
{
    struct plan_side sides[2];
    struct plan_conf c;
    struct plan p;
    size_t sum = 0, ntok = 0;

    side_init(&sides[0], &fuzz_tracker);
    side_init(&sides[1], &fuzz_server);
    sides[0].base = *base;
    sides[0].has_base = true;
    if (now1 != NULL)
        sides[1].now = *now1;
    memset(&c, 0, sizeof(c));
    c.feature = f;
    c.two_way = true;
    c.add = true;
    c.remove = true;
    c.now = FUZZ_NOW;
    c.inflight_ttl_s = 6 * 3600;
    plan_init(&p);
    plan_run(&c, sides, &p);

    for (size_t i = 0; i < p.n; i++) {
        const struct plan_op *op = &p.ops[i];

        if ((unsigned)op->action > PLAN_CLEAR ||
            (op->side != 0 && op->side != 1) || op->guard >= PLAN_GUARD_MAX ||
            op->from == NULL ||
            memchr(op->note, '\0', sizeof(op->note)) == NULL)
            abort();
        if (f == ADAPTER_RATINGS && op->action == PLAN_REMOVE)
            abort(); /* ratings are cleared, not removed */
    }
    for (int x = 0; x < 2; x++)
        for (int a = 0; a < 4; a++)
            sum += p.counts[x][a];
    if (sum + p.held != p.n)
        abort();
    if (now1 == NULL && p.n != 0)
        abort(); /* nothing on either side now: nothing to write */
    for (size_t i = 0; i < base->n; i++)
        ntok += base->v[i].ntok;
    if (sides[0].suspect != (p.drop_note[0][0] != '\0') ||
        p.ntomb != (sides[0].suspect ? 0 : ntok))
        abort();
    for (size_t i = 0; i < p.ntomb; i++)
        if (p.tomb_side[i] != 0)
            abort();

    plan_release(&p);
    for (int x = 0; x < 2; x++) {
        smap_release(&sides[x].quarantine);
        smap_release(&sides[x].inflight);
        smap_release(&sides[x].confirmed);
        smap_release(&sides[x].tombstones);
    }
}

/* A row of an item known only by its title (the line's key). */
static void
fallback_row(struct adapter_entry *e, const char *title, size_t i)
{
    memset(e, 0, sizeof(*e));
    item_init(&e->item);
    e->item.type = i % 2 ? ITEM_SHOW : ITEM_MOVIE;
    e->item.title = xstrdup(title);
    e->item.year = i % 3 ? 0 : 2016;
    e->watched_at = FUZZ_T0 + (int64_t)i;
    e->rating = (int)(i % 10) + 1;
    e->rated_at = FUZZ_T0;
    e->listed_at = FUZZ_T0;
    e->progress = -1;
    e->position = -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pset loaded, copy, rows_set, rows_copy;
    struct adapter_entry *rows;
    size_t nrows = 0;
    const uint8_t *p = data, *end = data + size;

    if (size > 1 << 18)
        return 0;
    pset_init(&loaded);
    pset_init(&copy);
    pset_init(&rows_set);
    pset_init(&rows_copy);
    rows = xcalloc(FUZZ_LINES_MAX, sizeof(*rows));

    while (p < end && nrows < FUZZ_LINES_MAX) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *stop = nl != NULL ? nl : end;
        const uint8_t *tab = memchr(p, '\t', (size_t)(stop - p));
        char **toks = NULL, *key, *value, *fkey;
        size_t cap = 0, nt;
        struct adapter_entry *e;

        if (tab != NULL) {
            key = xstrndup((const char *)p, (size_t)(tab - p));
            value = xstrndup((const char *)tab + 1, (size_t)(stop - tab - 1));
            pset_add_baseline(&loaded, key, value);
            free(value);

            /* The key as the title of an item without ids. */
            e = &rows[nrows];
            fallback_row(e, key, nrows++);
            nt = plan_tokens(&e->item, "server", &toks, &cap, 0);
            fkey = item_key(&e->item);
            if (nt != 1 || fkey == NULL || strcmp(toks[0], fkey) != 0)
                abort();
            free(fkey);
            free(toks[0]);
            free(toks);
            free(key);
        }
        p = stop + (nl != NULL);
    }
    check_index(&loaded);
    round_trip(&loaded, &copy);
    if (copy.n != loaded.n)
        abort();

    pset_add_rows(&rows_set, ADAPTER_HISTORY, "server", rows, nrows);
    check_index(&rows_set);
    for (size_t i = 0; i < rows_set.n; i++)
        if (!rows_set.v[i].fallback)
            abort();
    round_trip(&rows_set, &rows_copy);

    for (size_t i = 0; i < sizeof(fuzz_features) / sizeof(fuzz_features[0]);
         i++) {
        run_plan(fuzz_features[i], &loaded, NULL);
        run_plan(fuzz_features[i], &loaded, &rows_set);
    }

    pset_release(&rows_copy);
    pset_release(&rows_set);
    pset_release(&copy);
    pset_release(&loaded);
    for (size_t i = 0; i < nrows; i++)
        item_release(&rows[i].item);
    free(rows);
    return 0;
}
