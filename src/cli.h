/*
 * cli: the command-line commands other than serve: dead letters, provider
 * authorization, and the Redis access they share.
 */
#ifndef WR_CLI_H
#define WR_CLI_H

#include <stddef.h>

#include "config.h"

struct event_base;
struct fetch;
struct http_request;
struct http_response;
struct queue_sync;
struct redis_embed;

/* A blocking Redis connection for a CLI command: the daemon's Redis, or
 * the embedded one started just for the command when no daemon runs. */
struct cli_redis {
    struct queue_sync *qs;
    struct redis_embed *re;
};

int cli_redis_open(const struct config *cfg, struct cli_redis *cr, char *err,
                   size_t errlen);
void cli_redis_close(struct cli_redis *cr);

/* One HTTP request run to completion on base (a private loop of a CLI
 * command, never the daemon's); *out is owned by the caller
 * (http_response_release). 0, or -1 when it could not be sent. */
int cli_request(struct event_base *base, struct fetch *f,
                const struct http_request *req, struct http_response *out);

/* Each takes the command's own argv (argv[0] is the command name) and
 * returns the exit status. */
int cli_dlq(const struct config *cfg, int argc, char **argv);
int cli_auth(const struct config *cfg, int argc, char **argv);
int cli_backup(const struct config *cfg, int argc, char **argv);

#endif
