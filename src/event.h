/*
 * event: the normalized delta event, schema version 1 (DESIGN.md), its
 * stable content id (SYNC.md 2.2) and its JSON form.
 */
#ifndef WR_EVENT_H
#define WR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "item.h"

enum event_kind {
    EVENT_SCROBBLE,
    EVENT_HISTORY,
    EVENT_RATING,
    EVENT_WATCHLIST,
    EVENT_PROGRESS,
    EVENT_PLAYLIST,
    EVENT_KIND_MAX
};

enum event_action {
    EVENT_START,
    EVENT_PAUSE,
    EVENT_RESUME,
    EVENT_PROGRESS_ACTION, /* "progress" */
    EVENT_STOP,
    EVENT_WATCHED,
    EVENT_ADD,
    EVENT_REMOVE,
    EVENT_SET,
    EVENT_CLEAR,
    EVENT_CREATE,
    EVENT_REORDER,
    EVENT_ACTION_MAX
};

#define EVENT_ID_LEN 32

struct event {
    char id[EVENT_ID_LEN + 1]; /* set by event_finish */
    char *source;              /* owned */
    enum event_kind kind;
    enum event_action action;
    int64_t occurred_at; /* set by event_finish */
    int64_t received_at;
    int64_t source_ts; /* the source's own timestamp, 0 if none */
    char *user_name;   /* owned, may be NULL */
    char *user_id;     /* owned, may be NULL */
    char *server;      /* owned, may be NULL */
    char *session;     /* owned, may be NULL */
    char *pair;        /* owned, may be NULL */
    struct item item;
    char *key; /* owned; set by event_finish */
    bool has_progress;
    double progress;     /* 0-100 */
    int64_t position_ms; /* -1 = unknown */
    int64_t duration_ms; /* -1 = unknown */
    int paused;          /* -1 = not said, else 0/1 */
    int completed;       /* -1 = not said, else 0/1 */
    int rating;          /* 1-10 on rating/set, else 0 */
    int64_t watched_at;  /* history/add, else 0 */
};

void event_init(struct event *ev);
void event_release(struct event *ev);

const char *event_kind_name(enum event_kind k);
const char *event_action_name(enum event_action a);
int event_kind_from_name(const char *name);   /* -1 if unknown */
int event_action_from_name(const char *name); /* -1 if unknown */

/*
 * Finish a filled event: compute the key, the progress from position and
 * duration when not set (clamped 0-100), occurred_at (the source's time if
 * within +-10 min of received_at, else received_at) and the stable id.
 */
void event_finish(struct event *ev);

/* Canonical 1-10 from a 0-10 scale value (SYNC.md 7); 0 = unrated. */
int rating_canonical(double v);

/* Schema-v1 JSON. Owned (json_object_put). */
struct json_object *event_to_json(const struct event *ev);
/* Decode schema-v1 JSON (as read back from the stream); 0 or -1 with err. */
int event_from_json(struct event *ev, struct json_object *obj, char *err,
                    size_t errlen);

/* A growable list of events produced by one webhook. */
struct event_list {
    struct event *v;
    size_t n;
    size_t cap;
    char *ignored; /* owned reason when n == 0 and nothing is wrong */
};

void event_list_init(struct event_list *l);
void event_list_release(struct event_list *l);
/* Append a fresh event_init'ed event; borrowed pointer valid until the next
 * push. */
struct event *event_list_push(struct event_list *l);
/* Set the ignored reason (printf-style). */
void event_list_ignore(struct event_list *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
