/*
 * local: the local backup tracker (SYNC.md section 9). adapter_local
 * (src/adapter.h) applies operations as numbered snapshots (versions) under
 * its dir, one subdirectory per feature:
 *
 *   <dir>/<feature>/v000042.json   one snapshot, never rewritten
 *   <dir>/<feature>/CURRENT        "42\n": the present version
 *
 * A snapshot is one JSON document, {"format": "watchrelay-local-1",
 * "feature", "version", "created_at", "count", "sha256", "items": [...]},
 * the items sorted by canonical key (then time), sha256 the hex SHA-256 of
 * the items array serialized plainly by json-c. Features: history (one entry
 * per play), ratings, watchlist, progress. This header adds the reads that
 * `watchrelay backup list` and `backup restore` need.
 */
#ifndef WR_LOCAL_H
#define WR_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define LOCAL_FORMAT "watchrelay-local-1"
#define LOCAL_KEEP   30 /* versions kept per feature */

/* The features the tracker keeps, in listing order; NULL-terminated. */
extern const char *const local_features[];

/* Called once per snapshot file found. feature is borrowed; created_at and
 * count are 0 when the header cannot be read; current marks the version the
 * present state is read from (CURRENT, or the newest valid version below it
 * when CURRENT fails its checksum); valid is false for a snapshot that fails
 * to parse or its checksum. */
typedef void (*local_list_cb)(const char *feature, int version,
                              int64_t created_at, size_t count, bool current,
                              bool valid, void *arg);

/*
 * Report every snapshot under dir (borrowed), feature by feature in
 * local_features order, versions ascending. A missing dir or feature
 * directory lists nothing. 0, or -1 with err when a directory or file
 * cannot be read.
 */
int local_backup_list(const char *dir, local_list_cb emit, void *arg, char *err,
                      size_t errlen);

/*
 * The items array of one snapshot: version 0 means the present state
 * (CURRENT, falling back past snapshots that fail their checksum; an empty
 * array when the feature has none). *items_out is owned (json_object_put).
 * 0, or -1 with err: unknown feature, no such version, a snapshot failing
 * its checksum, or an I/O error.
 */
int local_snapshot_load(const char *dir, const char *feature, int version,
                        struct json_object **items_out, char *err,
                        size_t errlen);

/*
 * `backup restore VERSION` without --to: the content of that version (which
 * must pass its checksum) becomes the feature's newest version; versions
 * are never rewritten. dry_run only checks and counts. 0 with *count_out
 * items and *new_version set (0 on a dry run), or -1 with err.
 */
int local_snapshot_restore(const char *dir, const char *feature, int version,
                           bool dry_run, size_t *count_out, int *new_version,
                           char *err, size_t errlen);

#endif
