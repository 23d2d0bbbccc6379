/*
 * fetch: the only module that talks to libcurl. Transfers run on the
 * daemon's libevent loop through curl's multi_socket interface, each with
 * connect and total timeouts and a cap on the response size.
 */
#ifndef WR_FETCH_H
#define WR_FETCH_H

#include <stddef.h>

#include "http.h"

struct event_base;
struct fetch;

struct fetch_opts {
    long connect_timeout_ms;   /* default 5000 */
    long timeout_ms;           /* default 30000 */
    size_t max_response;       /* default 8 MiB; past it the transfer fails */
    long max_host_connections; /* default 4 */
    const char *user_agent;    /* default "watchrelay/<version>" */
};

/*
 * Called once per submitted request, when it finishes or fails (status 0
 * and error set), or from fetch_free for transfers still running. resp is
 * borrowed for the call.
 */
typedef void (*fetch_done_cb)(const struct http_response *resp, void *arg);

/* opts may be NULL for the defaults. NULL on failure. */
struct fetch *fetch_new(struct event_base *base, const struct fetch_opts *opts);
/* Start a transfer; req is copied. 0, or -1 (cb not called). */
int fetch_submit(struct fetch *f, const struct http_request *req,
                 fetch_done_cb cb, void *arg);
/* Transfers in flight. */
size_t fetch_running(const struct fetch *f);
/* Fails transfers still running (their callbacks run), then frees. */
void fetch_free(struct fetch *f);

#endif
