/*
 * server: the evhttp listener. Routes webhooks to their handler, checks the
 * source's token in constant time, caps bodies, and answers only once the
 * events are durable (through ingest). Also serves /healthz, /readyz,
 * /metrics and /api/status.
 */
#ifndef WR_SERVER_H
#define WR_SERVER_H

#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

struct event_base;
struct ingest;
struct queue;
struct spool;
struct metrics;
struct server;

struct server_deps {
    const struct config *cfg;
    /* The token of each source (resolved: never empty). Borrowed. */
    const char *tokens[CONFIG_SOURCE_MAX];
    struct ingest *in;
    struct queue *q;
    struct spool *sp;
    struct metrics *m;
    /* Adds the delivery side's state to /api/status; may be NULL. */
    void (*status_cb)(struct json_object *out, void *arg);
    void *status_arg;
};

/* Bind and start serving. NULL with err. Owned (server_free). */
struct server *server_new(struct event_base *base,
                          const struct server_deps *deps, char *err,
                          size_t errlen);
/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);
/* Stop accepting new connections; in-flight requests still complete. */
void server_stop_accepting(struct server *s);
/* Requests waiting for their reply. */
size_t server_pending(const struct server *s);
void server_free(struct server *s);

#endif
