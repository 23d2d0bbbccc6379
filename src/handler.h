/*
 * handler: the inbound webhook handlers. Each handlers/<source>.c exports one
 * const struct handler_def; src/handlers.c lists them in one NULL-terminated
 * table. Handlers are pure: a request's headers and body in, events out.
 */
#ifndef WR_HANDLER_H
#define WR_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct hook_request {
    const char *content_type; /* borrowed; may be NULL */
    const char *user_agent;   /* borrowed; may be NULL */
    const char *body;         /* borrowed; not NUL-terminated */
    size_t len;
    int64_t now; /* arrival time, epoch seconds (received_at) */
};

/*
 * Parse one webhook. Returns 0 with the events appended to out (each passed
 * through event_finish), or with out->n == 0 and out->ignored set when the
 * request is well formed but carries nothing to do (music, library.new, a
 * test notification). Returns -1 with a one-sentence message in err when the
 * body is malformed (400).
 */
typedef int (*handler_parse_cb)(const struct hook_request *req,
                                struct event_list *out, char *err,
                                size_t errlen);

struct handler_def {
    const char *name; /* "plex", "jellyfin", "emby", "tautulli" */
    handler_parse_cb parse;
};

extern const struct handler_def handler_plex;
extern const struct handler_def handler_jellyfin;
extern const struct handler_def handler_emby;
extern const struct handler_def handler_tautulli;

/* NULL-terminated. */
extern const struct handler_def *const handler_table[];

/* The handler named name, or NULL. Borrowed. */
const struct handler_def *handler_find(const char *name);

#endif
