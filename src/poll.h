/*
 * poll: the daemon's schedule of delta polls and reconciles (SYNC.md 5, 6).
 * Each pair polls its source every interval_s (jittered) and reconciles
 * every reconcile_interval_s; each run is a short-lived child process
 * (`watchrelay sync --delta --pair ID` or `sync --pair ID`), so a long
 * paging read never stalls the webhook listener and a crash in a reader
 * cannot take the daemon down. One run per pair at a time; the child
 * talks to the same Redis and queues its events into <prefix>events.
 */
#ifndef WR_POLL_H
#define WR_POLL_H

#include <stddef.h>

#include "config.h"

struct event_base;
struct json_object;
struct poll;

/* cfg and cfg_path are borrowed and must outlive the poller. NULL with err
 * when the executable cannot be found or events cannot be made; a config
 * without pairs gives a poller that does nothing. */
struct poll *poll_new(struct event_base *base, const struct config *cfg,
                      const char *cfg_path, char *err, size_t errlen);
/* Stop scheduling; running children are asked to stop (SIGTERM). */
void poll_stop(struct poll *p);
void poll_free(struct poll *p);
/* Per pair: running, runs started, last exit status. */
void poll_status(const struct poll *p, struct json_object *out);

#endif
