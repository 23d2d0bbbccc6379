/*
 * reconcile: the I/O half of delta sync and present-state reconcile
 * (SYNC.md 5, 6). `watchrelay sync` reads both sides of each pair through
 * their adapters (src/fetch on a private loop), loads the pair's baselines
 * and memory from Redis, plans with src/plan, prints the plan and, unless
 * it is a dry run, queues the plan's events into <prefix>events (tagged
 * with the pair, so the router sends them to the pair's other side and the
 * appliers batch, pace and retry them) and saves the baselines in one
 * MULTI/EXEC. `sync --delta` is the poller's run: only what changed on the
 * source since its watermark, adds and updates only. The daemon runs both
 * as short-lived child processes (src/poll.c).
 *
 * Redis keys, under the prefix (private, free to change):
 *   rc:meta:<pair>:<feature>            hash: runs, last_run, checkpoints,
 *                                       watermarks, counts, last result
 *   rc:base:<pair>:<side>:<feature>     hash: key -> "<rating>|<t>|<tokens>"
 *   rc:tomb:<pair>:<side>:<feature>     hash: token -> deleted_at
 *   rc:inflight:<pair>:<side>:<feature> hash: key -> planned_at
 *   rc:conf:<pair>:<side>:<feature>     hash: key -> confirmed_at
 *   rc:strike:<pair>:<side>:<feature>   hash: key -> phantom strikes
 *   rc:unres:<pair>:<side>:<feature>    hash: key -> JSON record
 *   rc:quar:<pair>:<side>:<feature>     hash: key -> JSON record
 * side is 0 for the pair's source and 1 for its target.
 */
#ifndef WR_RECONCILE_H
#define WR_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter.h"
#include "config.h"
#include "op.h"

struct json_object;
struct queue_sync;

/* The Redis key of one piece of a pair's state (layout above): what is
 * "meta", "base", "tomb", ...; side -1 for the per-feature keys. Owned. */
char *reconcile_key(const char *prefix, const char *what, const char *pair,
                    int side, enum adapter_feature f);

/* `watchrelay sync ...`; argv[0] is "sync". Exit status. */
int reconcile_cli(const struct config *cfg, int argc, char **argv);
/* `watchrelay unresolved list` and `watchrelay quarantine list|show|clear`. */
int reconcile_cli_unresolved(const struct config *cfg, int argc, char **argv);
int reconcile_cli_quarantine(const struct config *cfg, int argc, char **argv);

/* Per pair and feature: last run, watermarks, unresolved and quarantined
 * counts, as a JSON array (owned), for `status`. NULL on Redis failure. */
struct json_object *reconcile_status(const struct config *cfg,
                                     struct queue_sync *qs);

/*
 * The applier's report on an operation derived from a pair, as Redis
 * commands the applier queues with its settle: on success the item leaves
 * the in-flight and unresolved sets and its write is remembered as
 * confirmed (phantom detection); a permanent failure counts toward the
 * quarantine. One Lua script; args built by reconcile_outcome_args.
 */
extern const char reconcile_outcome_lua[];
/* Fill keys[4] and args[7] (owned strings; free each) for op and verdict;
 * -1 when the op carries no pair or its pair/side is unknown. */
int reconcile_outcome_args(const struct config *cfg, const struct op *op,
                           bool ok, const char *reason, int64_t now,
                           char *keys[4], char *args[7]);

#endif
