#include "plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "util.h"

/* ---- smap ------------------------------------------------------------- */

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void
smap_init(struct smap *m)
{
    memset(m, 0, sizeof(*m));
}

void
smap_release(struct smap *m)
{
    for (size_t i = 0; i < m->cap && !m->borrow; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

static size_t
smap_slot(const struct smap *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_str(key) & mask;

    while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & mask;
    return i;
}

static void
smap_grow(struct smap *m)
{
    struct smap n = {0};

    n.cap = m->cap ? m->cap * 2 : 64;
    n.borrow = m->borrow;
    n.keys = xcalloc(n.cap, sizeof(*n.keys));
    n.vals = xcalloc(n.cap, sizeof(*n.vals));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != NULL) {
            size_t j = smap_slot(&n, m->keys[i]);

            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.n++;
        }
    }
    free(m->keys);
    free(m->vals);
    *m = n;
}

void
smap_put(struct smap *m, const char *key, int64_t val)
{
    size_t i;

    if ((m->n + 1) * 4 > m->cap * 3)
        smap_grow(m);
    i = smap_slot(m, key);
    if (m->keys[i] == NULL) {
        m->keys[i] = m->borrow ? (char *)(uintptr_t)key : xstrdup(key);
        m->n++;
    }
    m->vals[i] = val;
}

bool
smap_get(const struct smap *m, const char *key, int64_t *val)
{
    size_t i;

    if (m->n == 0)
        return false;
    i = smap_slot(m, key);
    if (m->keys[i] == NULL)
        return false;
    if (val != NULL)
        *val = m->vals[i];
    return true;
}

/* ---- tokens ----------------------------------------------------------- */

static bool
id_is_global(enum item_id id)
{
    return id <= ITEM_ID_ANIDB || id == ITEM_ID_GUID;
}

static size_t
tok_push(char ***out, size_t *cap, size_t n, char *tok)
{
    /* Control characters never belong in an id; the baseline form uses a
     * tab between tokens. */
    for (const char *p = tok; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20) {
            free(tok);
            return n;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp((*out)[i], tok) == 0) {
            free(tok);
            return n;
        }
    }
    if (n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *out = xrealloc(*out, *cap * sizeof(**out));
    }
    (*out)[n++] = tok;
    return n;
}

size_t
plan_tokens(const struct item *it, const char *instance, char ***out,
            size_t *cap, size_t n)
{
    const char *type = item_type_name(it->type);
    size_t n0 = n;

    for (int i = 0; i < ITEM_ID_MAX; i++) {
        const char *v = it->ids.v[i];

        if (v == NULL)
            continue;
        if (id_is_global((enum item_id)i))
            n = tok_push(
                out, cap, n,
                xasprintf("%s:%s:%s", type, item_id_name((enum item_id)i), v));
        else
            n = tok_push(out, cap, n,
                         xasprintf("%s/%s:%s:%s", instance, type,
                                   item_id_name((enum item_id)i), v));
    }
    if ((it->type == ITEM_EPISODE || it->type == ITEM_SEASON) &&
        it->season >= 0) {
        for (int i = 0; i < ITEM_ID_MAX; i++) {
            const char *v = it->show_ids.v[i];
            char num[32];

            if (v == NULL)
                continue;
            if (it->type == ITEM_EPISODE) {
                if (it->episode < 0)
                    continue;
                snprintf(num, sizeof(num), "#s%02de%02d", it->season,
                         it->episode);
            } else {
                snprintf(num, sizeof(num), "#s%02d", it->season);
            }
            if (id_is_global((enum item_id)i))
                n = tok_push(out, cap, n,
                             xasprintf("show:%s:%s%s",
                                       item_id_name((enum item_id)i), v, num));
            else
                n = tok_push(out, cap, n,
                             xasprintf("%s/show:%s:%s%s", instance,
                                       item_id_name((enum item_id)i), v, num));
        }
    }
    if (n == n0) {
        char *key = item_key(it);

        n = tok_push(out, cap, n, key);
    }
    return n;
}

/* ---- pset ------------------------------------------------------------- */

void
pset_init(struct pset *s)
{
    memset(s, 0, sizeof(*s));
    smap_init(&s->idx);
    s->idx.borrow = true; /* its keys are the set's own token strings */
}

void
pset_release(struct pset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].key);
        free(s->v[i].tok);
        free(s->v[i].times);
    }
    free(s->v);
    for (size_t i = 0; i < s->nblocks; i++)
        free(s->blocks[i]);
    free(s->blocks);
    smap_release(&s->idx);
    memset(s, 0, sizeof(*s));
}

size_t
pset_present(const struct pset *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        n += !s->v[i].library_only;
    return n;
}

static struct pent *
pset_new(struct pset *s)
{
    struct pent *e;

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    e = &s->v[s->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

#define PSET_BLOCK (64 * 1024)

/* A copy of str in the set's arena. */
static const char *
pset_intern(struct pset *s, const char *str)
{
    size_t len = strlen(str) + 1;
    char *dst;

    if (s->nblocks == 0 || s->used + len > PSET_BLOCK) {
        size_t sz = len > PSET_BLOCK ? len : PSET_BLOCK;

        s->blocks = xrealloc(s->blocks, (s->nblocks + 1) * sizeof(char *));
        s->blocks[s->nblocks++] = xmalloc(sz);
        s->used = 0;
    }
    dst = s->blocks[s->nblocks - 1] + s->used;
    memcpy(dst, str, len);
    s->used += len;
    return dst;
}

/* Give tokens to entry ei (each freed here): a new one joins the index
 * and the entry's list; one the set already knows is dropped. */
static void
pset_take_tokens(struct pset *s, size_t ei, char **toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct pent *e = &s->v[ei];
        const char *t;

        if (!smap_get(&s->idx, toks[i], NULL)) {
            t = pset_intern(s, toks[i]);
            smap_put(&s->idx, t, (int64_t)ei);
            if (e->ntok == e->tokcap) {
                e->tokcap = e->tokcap ? e->tokcap * 2 : 4;
                e->tok = xrealloc(e->tok, e->tokcap * sizeof(*e->tok));
            }
            e->tok[e->ntok++] = t;
        }
        free(toks[i]);
    }
}

/* The entry a token list already belongs to, or -1. Fallback tokens (no
 * ':' in them) merge only with the identical key. */
static int64_t
pset_find(const struct pset *s, char **toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v;

        if (smap_get(&s->idx, toks[i], &v))
            return v;
    }
    return -1;
}

static void
merge_row(struct pset *s, size_t ei, enum adapter_feature f,
          const struct adapter_entry *r, char **toks, size_t ntok)
{
    struct pent *e = &s->v[ei];
    int64_t t = f == ADAPTER_HISTORY     ? r->watched_at
                : f == ADAPTER_WATCHLIST ? r->listed_at
                : f == ADAPTER_RATINGS   ? r->rated_at
                                         : 0;
    if (!r->library_only) {
        if (e->library_only) {
            e->library_only = false;
            e->row = r;
            e->t = t;
            e->rating = r->rating;
            e->rated_at = r->rated_at;
            e->plays = 0;
            e->dateless = true;
        }
        e->plays++;
        if (f == ADAPTER_HISTORY && r->watched_at > 0) {
            e->dateless = false;
            if (e->ntimes == e->timecap) {
                e->timecap = e->timecap ? e->timecap * 2 : 1;
                e->times = xrealloc(e->times, e->timecap * sizeof(int64_t));
            }
            e->times[e->ntimes++] = r->watched_at;
        }
        if (t >= e->t) {
            e->t = t;
            e->row = r;
            if (f == ADAPTER_RATINGS) {
                e->rating = r->rating;
                e->rated_at = r->rated_at;
            }
        }
    }
    if (ntok > 0)
        pset_take_tokens(s, ei, toks, ntok);
}

void
pset_add_rows(struct pset *s, enum adapter_feature f, const char *instance,
              const struct adapter_entry *rows, size_t n)
{
    char **toks = NULL;
    size_t cap = 0;

    for (size_t i = 0; i < n; i++) {
        const struct adapter_entry *r = &rows[i];
        size_t nt;
        int64_t ei;
        struct pent *e;

        if (r->removed || r->item.type == ITEM_NONE)
            continue;
        nt = plan_tokens(&r->item, instance, &toks, &cap, 0);
        ei = pset_find(s, toks, nt);
        if (ei >= 0) {
            merge_row(s, (size_t)ei, f, r, toks, nt);
            continue;
        }
        e = pset_new(s);
        e->key = item_key(&r->item);
        e->fallback =
            item_ids_empty(&r->item.ids) && item_ids_empty(&r->item.show_ids);
        e->library_only = true; /* until a present row merges in */
        e->row = r;
        pset_take_tokens(s, s->n - 1, toks, nt);
        if (!r->library_only)
            merge_row(s, s->n - 1, f, r, NULL, 0);
    }
    free(toks);
}

int
pset_add_baseline(struct pset *s, const char *key, const char *value)
{
    int64_t rating, t;
    const char *p = value, *bar;
    char **toks = NULL;
    size_t n = 0, cap = 0;
    struct pent *e;

    bar = strchr(p, '|');
    if (bar == NULL || parse_i64n(p, (size_t)(bar - p), 0, 10, &rating) != 0)
        return -1;
    p = bar + 1;
    bar = strchr(p, '|');
    if (bar == NULL || parse_i64n(p, (size_t)(bar - p), 0, INT64_MAX, &t) != 0)
        return -1;
    p = bar + 1;
    while (*p != '\0') {
        size_t len = strcspn(p, "\t");

        if (len > 0)
            n = tok_push(&toks, &cap, n, xstrndup(p, len));
        p += len;
        while (*p == '\t')
            p++;
    }
    if (n == 0) {
        free(toks);
        return -1;
    }
    if (pset_find(s, toks, n) >= 0) {
        for (size_t i = 0; i < n; i++)
            free(toks[i]);
        free(toks);
        return 0;
    }
    e = pset_new(s);
    e->key = xstrdup(key);
    e->fallback = strchr(key, ':') == NULL;
    e->rating = (int)rating;
    e->t = t;
    e->rated_at = t;
    e->plays = 1;
    pset_take_tokens(s, s->n - 1, toks, n);
    free(toks);
    return 0;
}

const char *
pent_title(const struct pent *e, char *buf, size_t len)
{
    const struct item *it = e->row ? &e->row->item : NULL;

    if (it == NULL)
        return "-";
    if (it->type == ITEM_EPISODE && it->show_title != NULL) {
        snprintf(buf, len, "%s S%02dE%02d", it->show_title, it->season,
                 it->episode);
        return buf;
    }
    return it->title ? it->title : "-";
}

char *
pset_baseline_value(const struct pset *s, size_t i)
{
    const struct pent *e = &s->v[i];
    struct buf b;

    buf_init(&b);
    buf_printf(&b, "%d|%" PRId64 "|", e->rating,
               e->rating > 0 ? e->rated_at : e->t);
    for (size_t k = 0; k < e->ntok; k++) {
        if (k > 0)
            buf_puts(&b, "\t");
        buf_puts(&b, e->tok[k]);
    }
    return b.data ? b.data : xstrdup("");
}

/* ---- matching --------------------------------------------------------- */

enum match { MATCH_NONE, MATCH_ONE, MATCH_AMBIGUOUS };

/* Match entry e against `other`: present entries only, or any
 * (library rows too) when any is true. */
static enum match
match(const struct pent *e, const struct pset *other, bool any, size_t *hit)
{
    int64_t found = -1;

    for (size_t k = 0; k < e->ntok; k++) {
        int64_t v;

        if (!smap_get(&other->idx, e->tok[k], &v))
            continue;
        if (!any && other->v[v].library_only)
            continue;
        if (found >= 0 && found != v)
            return MATCH_AMBIGUOUS;
        found = v;
    }
    if (found < 0)
        return MATCH_NONE;
    *hit = (size_t)found;
    return MATCH_ONE;
}

/* ---- plan ------------------------------------------------------------- */

static const char *const action_names[] = {"add", "remove", "set", "clear"};
static const char *const guard_names[PLAN_GUARD_MAX] = {
    [PLAN_GO] = "go",
    [PLAN_HELD_FIRST_RUN] = "first_run",
    [PLAN_HELD_REMOVES_OFF] = "removes_off",
    [PLAN_HELD_SUSPECT] = "suspect",
    [PLAN_HELD_MASS_DELETE] = "mass_delete",
    [PLAN_HELD_TOMBSTONE] = "tombstone",
    [PLAN_HELD_QUARANTINE] = "quarantine",
    [PLAN_HELD_IN_FLIGHT] = "in_flight",
    [PLAN_HELD_AMBIGUOUS] = "ambiguous",
    [PLAN_HELD_FALLBACK] = "fallback_key",
    [PLAN_HELD_NOT_IN_LIBRARY] = "not_in_library",
    [PLAN_HELD_RECENT_WRITE] = "recent_write",
    [PLAN_HELD_UNSUPPORTED] = "unsupported",
};

const char *
plan_action_name(enum plan_action a)
{
    return (unsigned)a < 4 ? action_names[a] : "?";
}

const char *
plan_guard_name(enum plan_guard g)
{
    return (unsigned)g < PLAN_GUARD_MAX ? guard_names[g] : "?";
}

void
plan_init(struct plan *p)
{
    memset(p, 0, sizeof(*p));
}

void
plan_release(struct plan *p)
{
    free(p->ops);
    for (size_t i = 0; i < p->ntomb; i++)
        free(p->tomb_tokens[i]);
    free(p->tomb_tokens);
    free(p->tomb_side);
    memset(p, 0, sizeof(*p));
}

size_t
plan_mass_limit(size_t n)
{
    return n < 20 ? 2 : n / 10;
}

bool
plan_drop_guard(const struct plan_side *s, char *note, size_t len)
{
    size_t base = s->has_base ? pset_present(&s->base) : 0;
    size_t now = pset_present(&s->now);

    note[0] = '\0';
    if (s->trusted || base < 20 || now * 10 > base)
        return false;
    if (s->checkpoint != 0 && s->checkpoint != s->base_checkpoint) {
        snprintf(note, len,
                 "%s shrank from %zu to %zu items; accepted: its change "
                 "checkpoint moved",
                 s->instance, base, now);
        return false;
    }
    snprintf(note, len,
             "%s read %zu items against a baseline of %zu and its change "
             "checkpoint did not move: suspect, baseline kept, no deletes "
             "(sync --trust %s accepts it)",
             s->instance, now, base, s->instance);
    return true;
}

static struct plan_op *
plan_push(struct plan *p, enum plan_action a, int side, const struct pent *from)
{
    struct plan_op *op;

    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->ops = xrealloc(p->ops, p->cap * sizeof(*p->ops));
    }
    op = &p->ops[p->n++];
    memset(op, 0, sizeof(*op));
    op->action = a;
    op->side = side;
    op->from = from;
    return op;
}

static void
tomb_push(struct plan *p, const char *tok, int side)
{
    if (p->ntomb == p->tombcap) {
        p->tombcap = p->tombcap ? p->tombcap * 2 : 64;
        p->tomb_tokens =
            xrealloc(p->tomb_tokens, p->tombcap * sizeof(*p->tomb_tokens));
        p->tomb_side = xrealloc(p->tomb_side, p->tombcap * sizeof(int));
    }
    p->tomb_tokens[p->ntomb] = xstrdup(tok);
    p->tomb_side[p->ntomb++] = side;
}

static enum op_kind
add_kind(enum adapter_feature f)
{
    return f == ADAPTER_HISTORY     ? OP_HISTORY_ADD
           : f == ADAPTER_WATCHLIST ? OP_WATCHLIST_ADD
                                    : OP_RATING_SET;
}

static enum op_kind
remove_kind(enum adapter_feature f)
{
    return f == ADAPTER_HISTORY     ? OP_HISTORY_REMOVE
           : f == ADAPTER_WATCHLIST ? OP_WATCHLIST_REMOVE
                                    : OP_RATING_CLEAR;
}

/* Whether a token of e is tombstoned on side `to` at or after e's time. */
static bool
tombstoned(const struct pent *e, const struct plan_side *to,
           const struct smap *fresh)
{
    for (size_t k = 0; k < e->ntok; k++) {
        const char *tok = e->tok[k];
        int64_t at;

        if (smap_get(fresh, tok, NULL))
            return true;
        /* A newer watch/rating/listing overrides an older deletion. */
        if (smap_get(&to->tombstones, tok, &at) && (e->t == 0 || e->t <= at))
            return true;
    }
    return false;
}

/* The presence view of a side: its snapshot, or its baseline if suspect. */
static const struct pset *
view(const struct plan_side *s)
{
    return s->suspect && s->has_base ? &s->base : &s->now;
}

/* A history remove on a target that deletes the rating with it (SIMKL)
 * needs the ratings removal gate too (SYNC.md 6.4). */
static bool
drops_rating(const struct plan_conf *c, const struct adapter_ops *ad,
             struct plan_op *op)
{
    if (c->feature != ADAPTER_HISTORY || !ad->remove_drops_rating ||
        c->ratings_remove)
        return false;
    snprintf(op->note, sizeof(op->note),
             "%s deletes the rating with the history; ratings removes are "
             "off",
             ad->name);
    return true;
}

/* Removal evidence: entries of side x's baseline that left it. Records
 * tombstones (origin x) and plans removes on the other side. */
static void
vanished(const struct plan_conf *c, struct plan_side *sides, int x,
         struct plan *out, struct smap *fresh)
{
    struct plan_side *s = &sides[x], *o = &sides[1 - x];
    const struct pset *oview = view(o);

    for (size_t i = 0; i < s->base.n; i++) {
        const struct pent *b = &s->base.v[i];
        size_t hit = 0;
        enum match m;
        struct plan_op *op;

        if (match(b, &s->now, false, &hit) != MATCH_NONE)
            continue;
        for (size_t k = 0; k < b->ntok; k++) {
            smap_put(&fresh[x], b->tok[k], c->now);
            tomb_push(out, b->tok[k], x);
        }
        m = match(b, oview, false, &hit);
        if (m == MATCH_NONE)
            continue;
        op = plan_push(out, PLAN_REMOVE, 1 - x, b);
        if (c->feature == ADAPTER_RATINGS)
            op->action = PLAN_CLEAR;
        if (m == MATCH_AMBIGUOUS) {
            op->guard = PLAN_HELD_AMBIGUOUS;
            continue;
        }
        op->on = &oview->v[hit];
        snprintf(op->note, sizeof(op->note), "gone from %s since the last run",
                 s->instance);
        if (b->fallback || op->on->fallback)
            op->guard = PLAN_HELD_FALLBACK;
        else if (!c->remove)
            op->guard = PLAN_HELD_REMOVES_OFF;
        else if (drops_rating(c, o->ad, op))
            op->guard = PLAN_HELD_REMOVES_OFF;
        else if (o->suspect)
            op->guard = PLAN_HELD_SUSPECT;
        else if (op->on->row == NULL)
            op->guard = PLAN_HELD_SUSPECT; /* only the baseline knows it */
        else if (!(o->ad->kinds & OP_BIT(remove_kind(c->feature))))
            op->guard = PLAN_HELD_UNSUPPORTED;
    }
}

/* One-way mirror: target items the source lacks that the target's baseline
 * also held. */
static void
mirror_removes(const struct plan_conf *c, struct plan_side *sides,
               struct plan *out)
{
    struct plan_side *src = &sides[0], *dst = &sides[1];

    for (size_t i = 0; i < dst->now.n; i++) {
        const struct pent *e = &dst->now.v[i];
        size_t hit = 0;
        struct plan_op *op;

        if (e->library_only || match(e, &src->now, false, &hit) != MATCH_NONE ||
            match(e, &dst->base, false, &hit) == MATCH_NONE)
            continue;
        op = plan_push(out,
                       c->feature == ADAPTER_RATINGS ? PLAN_CLEAR : PLAN_REMOVE,
                       1, e);
        op->on = e;
        snprintf(op->note, sizeof(op->note), "not on %s (mirror)",
                 src->instance);
        if (e->fallback)
            op->guard = PLAN_HELD_FALLBACK;
        else if (!c->remove)
            op->guard = PLAN_HELD_REMOVES_OFF;
        else if (drops_rating(c, dst->ad, op))
            op->guard = PLAN_HELD_REMOVES_OFF;
        else if (!(dst->ad->kinds & OP_BIT(remove_kind(c->feature))))
            op->guard = PLAN_HELD_UNSUPPORTED;
    }
}

static const char *
local_id_of(const struct plan_side *to, const struct pent *e)
{
    size_t hit = 0;
    const struct pent *t;

    if (!to->ad->has_local_id)
        return NULL;
    if (match(e, &to->now, true, &hit) != MATCH_ONE)
        return NULL;
    t = &to->now.v[hit];
    return t->row ? t->row->item.ids.v[to->ad->local_id] : NULL;
}

/* Guards every add or update shares. */
static void
hold_common(const struct plan_conf *c, const struct plan_side *to,
            const struct pent *e, struct plan_op *op)
{
    int64_t at;

    if (smap_get(&to->quarantine, e->key, &at) && at > c->now) {
        op->guard = PLAN_HELD_QUARANTINE;
        return;
    }
    if (smap_get(&to->inflight, e->key, &at) &&
        c->now - at < c->inflight_ttl_s) {
        op->guard = PLAN_HELD_IN_FLIGHT;
        return;
    }
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

#define PLAN_PLAY_WINDOW_S 60 /* one play matches one within a minute */

/*
 * History in event mode (SYNC.md 6.2): each dated play of e matches at most
 * one play of t (the same item on the other side) within 60 s, nearest
 * first; the plays left over are added with their own watched_at.
 */
static void
event_adds(const struct plan_conf *c, struct plan_side *sides, int from,
           const struct pent *e, const struct pent *t, struct plan *out,
           const struct smap *fresh)
{
    struct plan_side *to = &sides[1 - from];
    size_t n = e->ntimes, nt = t ? t->ntimes : 0;
    int64_t *src = xmalloc((n + 1) * sizeof(int64_t));
    bool *used = xcalloc(nt + 1, sizeof(bool));
    bool *matched = xcalloc(n + 1, sizeof(bool));

    memcpy(src, e->times, n * sizeof(int64_t));
    qsort(src, n, sizeof(int64_t), cmp_i64);
    /* Nearest pairs first: repeatedly take the closest free pair. */
    for (;;) {
        int64_t best = PLAN_PLAY_WINDOW_S + 1;
        size_t bi = 0, bj = 0;

        for (size_t i = 0; i < n; i++) {
            if (matched[i])
                continue;
            for (size_t j = 0; j < nt; j++) {
                int64_t d = src[i] - t->times[j];

                if (used[j])
                    continue;
                d = d < 0 ? -d : d;
                if (d < best) {
                    best = d;
                    bi = i;
                    bj = j;
                }
            }
        }
        if (best > PLAN_PLAY_WINDOW_S)
            break;
        matched[bi] = true;
        used[bj] = true;
    }
    for (size_t i = 0; i < n; i++) {
        struct plan_op *op;

        if (matched[i])
            continue;
        op = plan_push(out, PLAN_ADD, 1 - from, e);
        op->watched_at = src[i];
        snprintf(op->note, sizeof(op->note), "play missing on %s",
                 to->instance);
        if (!(to->ad->kinds & OP_BIT(OP_HISTORY_ADD)))
            op->guard = PLAN_HELD_UNSUPPORTED;
        else if (t == NULL && tombstoned(e, to, &fresh[1 - from]))
            op->guard = PLAN_HELD_TOMBSTONE;
        else
            hold_common(c, to, e, op);
        if (op->guard == PLAN_GO && to->ad->has_local_id) {
            op->local_id = local_id_of(to, e);
            if (op->local_id == NULL)
                op->guard = PLAN_HELD_NOT_IN_LIBRARY;
        }
    }
    free(src);
    free(used);
    free(matched);
}

/* Adds (and rating updates) from side `from` to side 1 - from. */
static void
adds(const struct plan_conf *c, struct plan_side *sides, int from,
     struct plan *out, const struct smap *fresh)
{
    struct plan_side *s = &sides[from], *to = &sides[1 - from];
    const struct pset *tv = view(to);
    int wside = 1 - from;

    for (size_t i = 0; i < s->now.n; i++) {
        const struct pent *e = &s->now.v[i];
        size_t hit = 0;
        enum match m;
        struct plan_op *op;
        int64_t at;

        if (e->library_only || e->row == NULL)
            continue;
        if (c->feature == ADAPTER_HISTORY && e->dateless)
            continue; /* never send a dateless play */
        if (c->feature == ADAPTER_RATINGS && (e->rating < 1 || e->rating > 10))
            continue;
        m = match(e, tv, false, &hit);
        if (c->event_history && c->feature == ADAPTER_HISTORY &&
            m != MATCH_AMBIGUOUS) {
            /* Only a snapshot lists plays; a baseline holds no dates. */
            if (m == MATCH_ONE && tv->v[hit].row == NULL)
                continue;
            if (c->add)
                event_adds(c, sides, from, e,
                           m == MATCH_ONE ? &tv->v[hit] : NULL, out, fresh);
            continue;
        }
        if (m == MATCH_ONE) {
            const struct pent *t = &tv->v[hit];
            bool mine;

            if (c->feature != ADAPTER_RATINGS || t->rating == e->rating ||
                t->rating == 0)
                continue;
            if (c->two_way && t->row == NULL)
                continue; /* only a baseline knows the other rating */
            /* Ratings differ (compared as canonical integers). */
            if (c->two_way) {
                if (from == 1)
                    continue; /* decided once, from side 0 */
                if (e->rated_at != t->rated_at && e->rated_at > 0 &&
                    t->rated_at > 0)
                    mine = e->rated_at > t->rated_at;
                else
                    mine = !c->truth_target;
                if (!mine) {
                    op = plan_push(out, PLAN_SET, 0, t);
                    op->on = e;
                    op->rating = t->rating;
                    op->rated_at = t->rated_at;
                    op->local_id = local_id_of(s, t);
                    snprintf(op->note, sizeof(op->note),
                             "%d on %s wins over %d", t->rating, to->instance,
                             e->rating);
                    hold_common(c, s, t, op);
                    continue;
                }
            }
            op = plan_push(out, PLAN_SET, wside, e);
            op->on = t;
            op->rating = e->rating;
            op->rated_at = e->rated_at;
            op->local_id = local_id_of(to, e);
            snprintf(op->note, sizeof(op->note), "%d on %s, %d on %s",
                     e->rating, s->instance, t->rating, to->instance);
            hold_common(c, to, e, op);
            if (op->guard == PLAN_GO && to->ad->has_local_id &&
                op->local_id == NULL)
                op->guard = PLAN_HELD_NOT_IN_LIBRARY;
            continue;
        }
        if (!c->add)
            continue;
        op = plan_push(out, c->feature == ADAPTER_RATINGS ? PLAN_SET : PLAN_ADD,
                       wside, e);
        op->watched_at = c->feature == ADAPTER_HISTORY ? e->t : 0;
        op->rating = e->rating;
        op->rated_at = e->rated_at;
        snprintf(op->note, sizeof(op->note), "missing on %s", to->instance);
        if (m == MATCH_AMBIGUOUS) {
            op->guard = PLAN_HELD_AMBIGUOUS;
            continue;
        }
        if (!(to->ad->kinds & OP_BIT(add_kind(c->feature)))) {
            op->guard = PLAN_HELD_UNSUPPORTED;
            continue;
        }
        if (tombstoned(e, to, &fresh[wside])) {
            op->guard = PLAN_HELD_TOMBSTONE;
            continue;
        }
        hold_common(c, to, e, op);
        if (op->guard != PLAN_GO)
            continue;
        if (smap_get(&to->confirmed, e->key, &at)) {
            if (c->now - at < to->ad->phantom_grace_s) {
                op->guard = PLAN_HELD_RECENT_WRITE;
                continue;
            }
            op->phantom_strike = true;
        }
        if (to->ad->has_local_id) {
            op->local_id = local_id_of(to, e);
            if (op->local_id == NULL)
                op->guard = PLAN_HELD_NOT_IN_LIBRARY;
        }
    }
}

void
plan_run(const struct plan_conf *c, struct plan_side sides[2], struct plan *out)
{
    struct smap fresh[2];

    smap_init(&fresh[0]);
    smap_init(&fresh[1]);
    for (int x = 0; x < 2; x++) {
        sides[x].suspect = false;
        if (x == 0 && c->delta)
            continue;
        if (sides[x].has_base)
            sides[x].suspect = plan_drop_guard(&sides[x], out->drop_note[x],
                                               sizeof(out->drop_note[x]));
    }
    /* Removal evidence first, so this run's deletions also hold adds. */
    if (!c->delta && !c->first_run) {
        for (int x = 0; x < 2; x++) {
            if (!sides[x].has_base || sides[x].suspect)
                continue;
            if (!c->two_way && x == 1)
                continue; /* one-way: only the source's deletions count */
            if (!c->two_way && c->mirror)
                continue;
            vanished(c, sides, x, out, fresh);
        }
        if (!c->two_way && c->mirror && sides[1].has_base &&
            !sides[0].suspect && !sides[1].suspect)
            mirror_removes(c, sides, out);
    }
    adds(c, sides, 0, out, fresh);
    if (c->two_way && !c->delta)
        adds(c, sides, 1, out, fresh);

    /* Mass-delete guard, per written side. */
    for (int x = 0; x < 2; x++) {
        size_t planned = 0, base;

        for (size_t i = 0; i < out->n; i++)
            planned += out->ops[i].side == x && out->ops[i].guard == PLAN_GO &&
                       (out->ops[i].action == PLAN_REMOVE ||
                        out->ops[i].action == PLAN_CLEAR);
        base = sides[x].has_base ? pset_present(&sides[x].base)
                                 : pset_present(&sides[x].now);
        out->mass_planned[x] = planned;
        out->mass_limit[x] = plan_mass_limit(base);
        if (planned > out->mass_limit[x] && !c->allow_mass_delete) {
            out->mass_refused[x] = true;
            for (size_t i = 0; i < out->n; i++)
                if (out->ops[i].side == x && out->ops[i].guard == PLAN_GO &&
                    (out->ops[i].action == PLAN_REMOVE ||
                     out->ops[i].action == PLAN_CLEAR))
                    out->ops[i].guard = PLAN_HELD_MASS_DELETE;
        }
    }
    for (size_t i = 0; i < out->n; i++) {
        if (out->ops[i].guard == PLAN_GO)
            out->counts[out->ops[i].side][out->ops[i].action]++;
        else
            out->held++;
    }
    smap_release(&fresh[0]);
    smap_release(&fresh[1]);
}
