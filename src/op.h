/*
 * op: one target operation, what the router writes to <prefix>out:<target>
 * and an applier sends to that target (SYNC.md 3.5, 4). Plain data with a
 * JSON form; private to watchrelay (the out streams are not public).
 */
#ifndef WR_OP_H
#define WR_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "item.h"

enum op_kind {
    OP_SCROBBLE_START,
    OP_SCROBBLE_PAUSE, /* also a stop below the watched threshold */
    OP_SCROBBLE_STOP,  /* a completion */
    OP_HISTORY_ADD,
    OP_HISTORY_REMOVE,
    OP_RATING_SET,
    OP_RATING_CLEAR,
    OP_WATCHLIST_ADD,
    OP_WATCHLIST_REMOVE,
    OP_PROGRESS_SET,
    OP_PLAYLIST_CREATE, /* playlists (SYNC.md 6.3): the list is op->pair */
    OP_PLAYLIST_ADD,
    OP_PLAYLIST_REMOVE,
    OP_PLAYLIST_REORDER,
    OP_KIND_MAX
};

#define OP_BIT(k) (1u << (k))
#define OP_SCROBBLE_KINDS                                    \
    (OP_BIT(OP_SCROBBLE_START) | OP_BIT(OP_SCROBBLE_PAUSE) | \
     OP_BIT(OP_SCROBBLE_STOP))

struct op {
    char id[33]; /* stable: the same operation always has the same id */
    enum op_kind kind;
    char *target;       /* owned: the provider instance, "trakt" */
    char *event_id;     /* owned: the source event it came from; may be NULL */
    char *user;         /* owned; may be NULL */
    char *session;      /* owned; scrobbles */
    int generation;     /* scrobbles: the play's generation in its session */
    int64_t created_at; /* when the router made it (perishability) */
    struct item item;
    char *key;           /* owned: the item's canonical key */
    double progress;     /* scrobbles and progress_set, 0-100; -1 unknown */
    int64_t position_ms; /* -1 unknown */
    int64_t duration_ms; /* -1 unknown */
    int rating;          /* rating_set, 1-10 */
    int64_t watched_at;  /* history add/remove (0 on remove = every play) */
    int64_t rated_at;    /* rating_set; 0 unknown */
    char *pair;          /* owned; ops derived by a poll or reconcile */
    int attempts;        /* sends so far (the applier's count) */
};

void op_init(struct op *op);
void op_release(struct op *op);

const char *op_kind_name(enum op_kind k); /* "scrobble_start", ... */
int op_kind_from_name(const char *name);  /* -1 if unknown */

/*
 * Fill op->id from (target, kind, session, generation, key, event_id,
 * watched_at, rating): call after the fields are set.
 */
void op_finish(struct op *op);

/* JSON form. Owned (json_object_put). */
struct json_object *op_to_json(const struct op *op);
/* 0, or -1 with err; op is initialized either way. */
int op_from_json(struct op *op, struct json_object *obj, char *err,
                 size_t errlen);

#endif
