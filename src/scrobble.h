/*
 * scrobble: the playback-session state machine of SYNC.md 3, as a pure
 * function. The router loads a session from Redis, steps it with one event,
 * and stores the result together with the operations it implies in one
 * atomic Redis step (which also applies G7, the duplicate-finish markers,
 * since those live in Redis).
 */
#ifndef WR_SCROBBLE_H
#define WR_SCROBBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum scrobble_state {
    SCROBBLE_NONE, /* no session yet */
    SCROBBLE_PLAYING,
    SCROBBLE_PAUSED,
    SCROBBLE_STOPPED, /* stopped below the watched threshold */
    SCROBBLE_COMPLETED,
    SCROBBLE_STATE_MAX
};

const char *scrobble_state_name(enum scrobble_state s);
int scrobble_state_from_name(const char *name); /* -1 if unknown */

/* Per-route settings (SYNC.md 3.3 defaults in brackets). */
struct scrobble_params {
    int watched_percent;   /* [90] */
    int suppress_start_at; /* [99] G5 */
    int pause_debounce_s;  /* [5] G3 */
    int regress_tolerance; /* [5] G4, and the seek jump for progress */
    int repeat_window_s;   /* [1] G1 */
};

void scrobble_params_default(struct scrobble_params *p);

/* A session as stored (a Redis hash; see scrobble_to_fields). */
struct scrobble_session {
    enum scrobble_state state;
    int generation;         /* starts at 1; a rewatch increments it */
    double last_progress;   /* -1 unknown */
    double high_progress;   /* highest progress of this generation, -1 */
    int64_t high_at;        /* when high_progress was seen */
    int64_t last_event_at;  /* occurred_at of the last accepted event */
    int64_t last_pause_at;  /* occurred_at of the last accepted pause */
    int last_action;        /* enum event_action of the last accepted, -1 */
    int64_t last_action_at; /* received_at of that event */
    int paused;             /* last paused flag from progress events, -1 */
    int64_t duration_ms;    /* last known, -1 */
};

void scrobble_session_init(struct scrobble_session *s);

/* What the step asks for. */
enum scrobble_emit {
    SCROBBLE_EMIT_NONE,     /* absorbed or dropped: nothing to send */
    SCROBBLE_EMIT_START,    /* start, resume, seek */
    SCROBBLE_EMIT_PAUSE,    /* pause, or a stop below the threshold */
    SCROBBLE_EMIT_COMPLETE, /* the play counts: one watch (subject to G7) */
    SCROBBLE_EMIT_MAX
};

const char *scrobble_emit_name(enum scrobble_emit e);

struct scrobble_decision {
    enum scrobble_emit emit;
    double progress;    /* the progress to send (after G4); -1 unknown */
    int64_t watched_at; /* COMPLETE: when the play finished */
    int generation;     /* the generation the operations belong to */
    bool rewatch;       /* this event started a new generation */
    const char *why;    /* static text for logs: "G1 repeat", ... */
};

/*
 * Step session s with event ev (a scrobble event: start, pause, resume,
 * progress, stop, watched). s is updated in place (also when the event is
 * dropped or absorbed, where the rules say so); d says what to emit.
 */
void scrobble_step(const struct scrobble_params *p, struct scrobble_session *s,
                   const struct event *ev, struct scrobble_decision *d);

/*
 * The session as field/value strings for HSET, and back. fields/values are
 * arrays of SCROBBLE_FIELDS entries (values owned by the caller after
 * to_fields: free each). from_fields takes n pairs in any order, ignores
 * unknown names and leaves defaults for missing ones.
 */
#define SCROBBLE_FIELDS 11
void scrobble_to_fields(const struct scrobble_session *s,
                        const char *fields[SCROBBLE_FIELDS],
                        char *values[SCROBBLE_FIELDS]);
void scrobble_from_fields(struct scrobble_session *s, const char *const *fields,
                          const char *const *values, size_t n);

#endif
