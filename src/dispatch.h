/*
 * dispatch: the delivery side of the daemon (the "dispatch" role): the
 * router and one applier per configured target, sharing one fetch engine.
 */
#ifndef WR_DISPATCH_H
#define WR_DISPATCH_H

#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

struct event_base;
struct queue;
struct dispatch;

/*
 * Start the router and an applier for each configured provider that has an
 * adapter. A target whose adapter cannot start (say, a missing client_id)
 * is logged and left out; the rest run. NULL with err only when nothing
 * can run at all.
 */
struct dispatch *dispatch_new(struct event_base *base, const struct config *cfg,
                              struct queue *cmdq, const char *redis_url,
                              const char *consumer, char *err, size_t errlen);
void dispatch_stop(struct dispatch *d);
/* Add the router's and each target's state to a status object. */
void dispatch_status(const struct dispatch *d, struct json_object *out);
void dispatch_free(struct dispatch *d);

#endif
