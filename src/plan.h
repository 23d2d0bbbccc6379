/*
 * plan: the pure half of delta sync and reconcile (SYNC.md 5, 6). Given
 * the present state of both sides of a pair for one feature (snapshot rows,
 * or a source delta), each side's baseline from the pair's last trusted
 * run, and the pair's memory (tombstones, quarantine, operations still in
 * flight, confirmed writes), it decides every add, remove and update and
 * what each guard held back and why. No I/O: reconcile.c reads, plans,
 * prints and queues.
 *
 * Matching is by alias token (SYNC.md 1.5), never by raw key: an item's
 * tokens are "<type>:<id name>:<value>" for every global id, local ids
 * (plex, jellyfin, emby, slug) namespaced by the provider instance, and for
 * episodes "<show token>#sNNeNN" for every show token.
 */
#ifndef WR_PLAN_H
#define WR_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "item.h"

/* A string -> int64 map (open addressing; keys copied). */
struct smap {
    char **keys;
    int64_t *vals;
    size_t cap, n;
    bool borrow; /* keys are borrowed (must outlive the map), not copied */
};

void smap_init(struct smap *m);
void smap_release(struct smap *m);
/* Set (replacing). */
void smap_put(struct smap *m, const char *key, int64_t val);
/* true and *val when present. */
bool smap_get(const struct smap *m, const char *key, int64_t *val);

/*
 * Append the alias tokens of it to out (each owned by the caller) and
 * return how many; instance namespaces the local ids. Fallback-keyed items
 * (no ids at all) get their canonical key as their only token.
 */
size_t plan_tokens(const struct item *it, const char *instance, char ***out,
                   size_t *cap, size_t n);

/* One item of a side: rows merged by shared global token. */
struct pent {
    char *key;                       /* canonical key (owned) */
    const struct adapter_entry *row; /* newest row (borrowed), NULL for
                                      * baseline entries */
    const char **tok;                /* its tokens (strings in the set's
                                      * arena) */
    size_t ntok, tokcap;
    int64_t t;      /* watched_at / listed_at (newest) */
    int plays;      /* history rows merged */
    int64_t *times; /* history: each dated play (owned) */
    size_t ntimes, timecap;
    int rating; /* ratings, 0 none */
    int64_t rated_at;
    bool library_only; /* only in the library: not present state */
    bool fallback;     /* keyed without ids: never deleted */
    bool dateless;     /* history without any dated play */
};

/* The items of one side for one feature. */
struct pset {
    struct pent *v;
    size_t n, cap;
    char **blocks; /* token strings, packed in 64 KiB blocks */
    size_t nblocks, used;
    struct smap idx; /* token -> entry index (keys in the blocks) */
};

void pset_init(struct pset *s);
void pset_release(struct pset *s);
/* Add snapshot or delta rows (borrowed: they must outlive the set).
 * removed rows are skipped. */
void pset_add_rows(struct pset *s, enum adapter_feature f, const char *instance,
                   const struct adapter_entry *rows, size_t n);
/* Add one baseline entry: key, "<rating>|<t>|<tok>\t<tok>..." as
 * pset_baseline_value writes it. Returns -1 if value is malformed. */
int pset_add_baseline(struct pset *s, const char *key, const char *value);
/* A display title for e ("Show S01E02", the movie's title, "-"). */
const char *pent_title(const struct pent *e, char *buf, size_t len);
/* The compact baseline form of entry i (owned). */
char *pset_baseline_value(const struct pset *s, size_t i);
/* Entries present in the feature (not library_only). */
size_t pset_present(const struct pset *s);

enum plan_action { PLAN_ADD, PLAN_REMOVE, PLAN_SET, PLAN_CLEAR };

/* What held an operation back; PLAN_GO when nothing did. */
enum plan_guard {
    PLAN_GO,
    PLAN_HELD_FIRST_RUN,      /* no deletes on a pair's first run */
    PLAN_HELD_REMOVES_OFF,    /* the feature's removes are off */
    PLAN_HELD_SUSPECT,        /* drop guard: a side is suspect */
    PLAN_HELD_MASS_DELETE,    /* the whole remove plan was refused */
    PLAN_HELD_TOMBSTONE,      /* deleted on that side since */
    PLAN_HELD_QUARANTINE,     /* set aside after repeated failures */
    PLAN_HELD_IN_FLIGHT,      /* an earlier plan's operation is queued */
    PLAN_HELD_AMBIGUOUS,      /* matches two items on the other side */
    PLAN_HELD_FALLBACK,       /* keyed without ids: never deleted */
    PLAN_HELD_NOT_IN_LIBRARY, /* the target server lacks the item */
    PLAN_HELD_RECENT_WRITE,   /* written lately, not yet visible (grace) */
    PLAN_HELD_UNSUPPORTED,    /* the target takes no such operation */
    PLAN_GUARD_MAX
};

const char *plan_action_name(enum plan_action a);
const char *plan_guard_name(enum plan_guard g);

struct plan_op {
    enum plan_action action;
    int side;                /* the side written: 0 = pair source, 1 = target */
    const struct pent *from; /* the entry the data comes from (borrowed) */
    const struct pent *on;   /* removes/updates: the entry on `side` */
    int64_t watched_at;      /* history add */
    int rating;              /* PLAN_SET */
    int64_t rated_at;
    const char *local_id; /* the target server's id (borrowed), NULL */
    enum plan_guard guard;
    bool phantom_strike; /* written and confirmed, still absent */
    char note[96];       /* why, for the printed plan */
};

/* Per-side knobs and memory the driver loads. */
struct plan_side {
    const char *instance;         /* provider instance name */
    const struct adapter_ops *ad; /* what the side takes */
    struct pset now;              /* present state (or baseline if suspect) */
    struct pset base;             /* the pair's last trusted view */
    bool has_base;
    int64_t checkpoint, base_checkpoint; /* change markers; 0 unknown */
    bool suspect;                        /* set by plan_run's drop guard */
    bool trusted;                        /* sync --trust: no drop guard */
    /* key or token -> time, loaded from Redis by the driver: */
    struct smap quarantine; /* key -> until */
    struct smap inflight;   /* key -> planned_at */
    struct smap confirmed;  /* key -> confirmed_at */
    struct smap tombstones; /* token -> deleted_at (origin this side) */
};

struct plan_conf {
    enum adapter_feature feature;
    bool two_way;
    bool add, remove;
    bool mirror;       /* remove mode "mirror" (one-way) */
    bool first_run;    /* no baseline run recorded for the pair */
    bool truth_target; /* two-way ties go to the target */
    bool delta;        /* side 0 holds a source delta, not a snapshot */
    bool allow_mass_delete;
    bool ratings_remove; /* the pair's ratings removes are on */
    bool event_history;  /* history in event mode: play by play */
    int64_t now;
    int64_t inflight_ttl_s; /* an in-flight mark older than this is stale */
};

struct plan {
    struct plan_op *ops;
    size_t n, cap;
    /* Tombstones to record: token -> origin side, deleted at now. */
    char **tomb_tokens;
    int *tomb_side;
    size_t ntomb, tombcap;
    size_t counts[2][4]; /* [side][action] of operations that go */
    size_t held;
    bool mass_refused[2];
    size_t mass_planned[2], mass_limit[2];
    char drop_note[2][160]; /* drop guard decisions, "" when none */
};

void plan_init(struct plan *p);
void plan_release(struct plan *p);

/* Drop guard (SYNC.md 6.5) for one side: a non-empty baseline of at least
 * 20 whose snapshot shrank to 10 % or less without the checkpoint moving is
 * suspect. Fills note; returns whether suspect. */
bool plan_drop_guard(const struct plan_side *s, char *note, size_t len);

/* Plan one feature of a pair. sides[0] is the pair's source. */
void plan_run(const struct plan_conf *c, struct plan_side sides[2],
              struct plan *out);

/* The mass-delete limit for a baseline of n items (SYNC.md 6.5). */
size_t plan_mass_limit(size_t n);

#endif
