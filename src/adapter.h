/*
 * adapter: one const struct adapter_ops per provider (adapters/<p>.c),
 * listed in src/adapters.c. An adapter describes HTTP requests for
 * operations and interprets the replies; it never does I/O itself (the
 * local backup tracker, which is a store rather than a service, applies
 * operations through `apply` instead). The same vtable grows the reads that
 * delta sync and reconcile need (snapshots, activities, deltas), so every
 * provider and feature fits it.
 */
#ifndef WR_ADAPTER_H
#define WR_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "op.h"

enum adapter_outcome {
    ADAPTER_DONE,      /* applied (or already so: 409, "existing") */
    ADAPTER_RETRY,     /* transient: back off and send again */
    ADAPTER_RATE,      /* 429: retry after retry_after_ms, no attempt used */
    ADAPTER_PERMANENT, /* will never work as is: dead letter with reason */
    ADAPTER_REFRESH,   /* 401: refresh the token once, then retry */
    ADAPTER_PAUSE,     /* 403/423/SIMKL 412: stop the target, alert */
    ADAPTER_OUTCOME_MAX
};

const char *adapter_outcome_name(enum adapter_outcome o);

/* The verdict on one operation of a request. */
struct adapter_result {
    enum adapter_outcome outcome;
    int64_t retry_after_ms; /* RATE/RETRY: not before this long; 0 = none */
    char reason[256];       /* PERMANENT/PAUSE: what a person can act on */
};

/* Credentials that change at run time (OAuth). All owned. */
struct adapter_tokens {
    char *access_token;
    char *refresh_token;
    int64_t expires_at; /* epoch seconds; 0 unknown */
};

void adapter_tokens_release(struct adapter_tokens *t);

/* Default pacing of a provider (SYNC.md 4.4); headers may slow it. */
struct adapter_limits {
    int write_interval_ms; /* at least this long between writes */
    int write_inflight;    /* writes in flight at once */
    int read_per_window;   /* reads per window */
    int read_window_s;
};

/*
 * Reads for delta sync and reconcile (SYNC.md 5, 6). A feature's present
 * state is read page by page into adapter_entry rows; the provider's cheap
 * change signal ("activities") gives a checkpoint per feature; a delta read
 * returns only what changed since a watermark. Every read is a request the
 * adapter builds and a reply it parses, like writes.
 */
enum adapter_feature {
    ADAPTER_WATCHLIST,
    ADAPTER_HISTORY,
    ADAPTER_RATINGS,
    ADAPTER_PROGRESS,
    ADAPTER_PLAYLISTS,
    ADAPTER_FEATURE_MAX
};

/* One row of a snapshot or a delta: an item and its state. */
struct adapter_entry {
    struct item item;
    int64_t watched_at; /* history: one row per play */
    int rating;         /* ratings: canonical 1-10 */
    int64_t rated_at;
    int64_t listed_at; /* watchlist, playlists */
    double progress;   /* progress, 0-100; -1 none */
    int position;      /* playlists: order, -1 none */
    char *list;        /* playlists: the list's id (owned) */
    bool removed;      /* delta rows: the item left the feature */
    /* Media servers (Plex, Jellyfin, Emby): the item is in the server's
     * library but not in the feature (unwatched, unrated, not a favourite).
     * Such rows are not present state; they only tell the planner the
     * server's own id of an item, which its writes need (local_id). */
    bool library_only;
};

/* A page of rows, and where the next page starts (cursor owned, NULL when
 * this was the last page). */
struct adapter_page {
    struct adapter_entry *rows; /* owned */
    size_t n;
    char *next_cursor;
    /* Delta reads: the watermark this page justifies (epoch seconds: the
     * newest row time, or the server's clock at the read), 0 = none. The
     * poller keeps the largest over all pages and never moves backwards. */
    int64_t watermark;
};

void adapter_page_release(struct adapter_page *p);

/* Device-code / PIN authorization (`watchrelay auth <provider>`). */
enum adapter_auth_state {
    ADAPTER_AUTH_SHOW_CODE, /* start replied: show user_code, then poll */
    ADAPTER_AUTH_PENDING,   /* the user has not approved yet */
    ADAPTER_AUTH_SLOW_DOWN, /* poll less often */
    ADAPTER_AUTH_DONE,      /* tokens filled */
    ADAPTER_AUTH_FAILED,    /* expired, denied, invalid: message says */
    ADAPTER_AUTH_STATE_MAX
};

struct adapter_auth {
    enum adapter_auth_state state;
    char *device_code;      /* owned */
    char *user_code;        /* owned */
    char *verification_url; /* owned */
    int interval_s;
    int expires_in_s;
    struct adapter_tokens tokens;
    char message[256];
};

void adapter_auth_release(struct adapter_auth *a);

struct adapter_ops {
    const char *name; /* "trakt", "simkl", "local", ... */
    /* OP_BIT(kind) of the operations the provider takes. */
    unsigned kinds;
    /* OP_BIT(kind) of the operations several of which share a request. */
    unsigned batch_kinds;
    size_t max_batch; /* items per batched request */
    /* Whether the target has a scrobble API (start/pause/stop); without
     * one, completions arrive as history adds (SYNC.md 3.5). */
    bool scrobble_api;
    struct adapter_limits limits;

    /*
     * Make the adapter's context from its provider config (borrowed; may be
     * NULL when the provider is configured with defaults) and saved tokens
     * (borrowed; may be NULL). NULL with err.
     */
    void *(*init)(const struct provider_conf *conf,
                  const struct adapter_tokens *saved, const char *state_dir,
                  char *err, size_t errlen);
    void (*free)(void *ctx);

    /*
     * Build the one request that applies ops[0..n) (n > 1 only for kinds in
     * batch_kinds, all of one kind). 0, or -1 with err when the operations
     * cannot be expressed (then they are permanent failures).
     */
    int (*build)(void *ctx, const struct op *const *ops, size_t n,
                 struct http_request *req, char *err, size_t errlen);
    /* Judge the reply for each of ops[0..n): results has n entries. */
    void (*classify)(void *ctx, const struct op *const *ops, size_t n,
                     const struct http_response *resp,
                     struct adapter_result *results);

    /* OAuth refresh; NULL when the provider has none. */
    int (*build_refresh)(void *ctx, struct http_request *req, char *err,
                         size_t errlen);
    /* Read the new tokens from the refresh reply; the caller stores them
     * durably, then hands them back through set_tokens. */
    int (*parse_refresh)(void *ctx, const struct http_response *resp,
                         struct adapter_tokens *out, char *err, size_t errlen);
    void (*set_tokens)(void *ctx, const struct adapter_tokens *t);

    /*
     * Idempotence after a crash (SYNC.md 4.2 step 3): read the target's
     * history around op->watched_at and say whether that play is there.
     * NULL when the target never keeps duplicate plays.
     */
    int (*build_history_check)(void *ctx, const struct op *op,
                               struct http_request *req, char *err,
                               size_t errlen);
    int (*parse_history_check)(void *ctx, const struct op *op,
                               const struct http_response *resp, bool *found);

    /*
     * Authorization flow: auth_start builds the request that asks for a
     * code; auth_poll the request that asks whether the user approved
     * (device_code and user_code from the start reply); auth_parse reads
     * either reply (start = true for the first). NULL when the provider
     * takes a static token or api key instead.
     */
    int (*auth_start)(void *ctx, struct http_request *req, char *err,
                      size_t errlen);
    int (*auth_poll)(void *ctx, const struct adapter_auth *started,
                     struct http_request *req, char *err, size_t errlen);
    int (*auth_parse)(void *ctx, bool start, const struct http_response *resp,
                      struct adapter_auth *out);

    /*
     * Reads (delta sync, reconcile; NULL where a provider has none).
     * features: ADAPTER_* bits the provider can be read for.
     * build_index/parse_index: one page of a feature's present state
     * (cursor NULL for the first page). build_activities/parse_activities:
     * the provider's change checkpoint of each feature (epoch seconds, 0
     * when unknown; a changed value means "read"). build_delta/parse_delta:
     * the rows changed since the watermark `since` (a page at a time).
     */
    unsigned features;
    /* ADAPTER_* bits with a server-side delta read (build_delta). Others
     * are read whole and diffed against the baseline. */
    unsigned delta_features;
    /* Whether writes address items by the provider's own id (Plex
     * ratingKey, Jellyfin/Emby item id), and which ITEM_ID_* it is: the
     * planner copies it from the target's library rows (library_only)
     * into each operation, and an item the library lacks is unresolved
     * (not_found) without a request. */
    bool has_local_id;
    enum item_id local_id;
    /* Whether its history keeps the dates we write (Plex's does not: a
     * date difference is never a change there). */
    bool dated_history;
    /* Whether its history reads list every play with its date (Trakt,
     * local), which history event mode needs of a target. */
    bool history_plays;
    /* Seconds a confirmed write may stay invisible in reads before its
     * absence counts as a phantom strike (SYNC.md 6.6). */
    int phantom_grace_s;
    /* Whether removing an item's history also deletes its rating (SIMKL):
     * such removes also need the pair's ratings removes on. */
    bool remove_drops_rating;
    int (*build_index)(void *ctx, enum adapter_feature f, const char *cursor,
                       struct http_request *req, char *err, size_t errlen);
    int (*parse_index)(void *ctx, enum adapter_feature f,
                       const struct http_response *resp,
                       struct adapter_page *out, char *err, size_t errlen);
    int (*build_activities)(void *ctx, struct http_request *req, char *err,
                            size_t errlen);
    int (*parse_activities)(void *ctx, const struct http_response *resp,
                            int64_t checkpoints[ADAPTER_FEATURE_MAX], char *err,
                            size_t errlen);
    int (*build_delta)(void *ctx, enum adapter_feature f, int64_t since,
                       const char *cursor, struct http_request *req, char *err,
                       size_t errlen);
    int (*parse_delta)(void *ctx, enum adapter_feature f,
                       const struct http_response *resp,
                       struct adapter_page *out, char *err, size_t errlen);
    /* Stores (local) read their snapshot directly. */
    int (*read_index)(void *ctx, enum adapter_feature f,
                      struct adapter_page *out, char *err, size_t errlen);
    /* Stores: the checkpoint of each feature (local: the version). */
    int (*read_activities)(void *ctx, int64_t checkpoints[ADAPTER_FEATURE_MAX],
                           char *err, size_t errlen);

    /* Stores (local): apply directly, filling results[n]. NULL for HTTP. */
    int (*apply)(void *ctx, const struct op *const *ops, size_t n,
                 struct adapter_result *results);
};

extern const struct adapter_ops adapter_trakt;
extern const struct adapter_ops adapter_simkl;
extern const struct adapter_ops adapter_local;
extern const struct adapter_ops adapter_plex;
extern const struct adapter_ops adapter_jellyfin;
extern const struct adapter_ops adapter_emby;

#define ADAPTER_BIT(f) (1u << (f))
const char *adapter_feature_name(enum adapter_feature f); /* "history" */
int adapter_feature_from_name(const char *name);          /* -1 unknown */

/* NULL-terminated. */
extern const struct adapter_ops *const adapter_table[];
/* The adapter named name, or NULL. Borrowed. */
const struct adapter_ops *adapter_find(const char *name);

#endif
