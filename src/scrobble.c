/*
 * scrobble: the playback-session state machine of SYNC.md 3 (3.2 progress
 * and states, 3.3 guards G1-G6, 3.5 what each transition sends). Pure: no
 * I/O, no globals, no clock; every time comes from the event.
 *
 * Decisions the spec leaves open (see also the header):
 *  - G1 compares the raw event action (a Jellyfin "progress" tick is a
 *    repeat of the previous tick within the window); "within N s" is
 *    inclusive at whole seconds, for G1 and G3 alike.
 *  - A progress event's pause/resume is detected against the session state
 *    (paused=1 while playing is a pause, paused=0 while paused a resume), so
 *    a flip dropped by G1 or G3 is taken again on the next tick.
 *  - The expected position of a seek check is the last progress plus the
 *    playing time since the last event when the duration is known.
 *  - A progress event on a session not yet playing (none or stopped) acts as
 *    a start (or a pause when it says paused).
 *  - A start without a position on a completed session counts as 0 % for the
 *    rewatch check: Plex omits viewOffset at 0 (PROVIDERS.md A1).
 *  - G2 excepts a stop whose own progress reaches watched_percent as well as
 *    watched and stops with completed.
 *  - G5 drops the emit but keeps the observed position, so that a following
 *    stop without a position can still complete the play.
 *  - A second stop below the threshold on a stopped session sends nothing.
 *  - A start with an unknown progress is sent at 0 (Plex omits viewOffset at
 *    0); a pause or stop with an unknown progress is below 1 % and not sent.
 */
#include "scrobble.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* A start at or below this progress on a completed session is a rewatch. */
#define SCROBBLE_REWATCH_MAX 5.0
/* Pauses and stops below this progress are not sent. */
#define SCROBBLE_SEND_MIN 1.0
/* Trakt counts a stop at or above this as watched. */
#define SCROBBLE_TRAKT_MIN 80.0

static const char *const state_names[SCROBBLE_STATE_MAX] = {
    [SCROBBLE_NONE] = "none",           [SCROBBLE_PLAYING] = "playing",
    [SCROBBLE_PAUSED] = "paused",       [SCROBBLE_STOPPED] = "stopped",
    [SCROBBLE_COMPLETED] = "completed",
};

static const char *const emit_names[SCROBBLE_EMIT_MAX] = {
    [SCROBBLE_EMIT_NONE] = "none",
    [SCROBBLE_EMIT_START] = "start",
    [SCROBBLE_EMIT_PAUSE] = "pause",
    [SCROBBLE_EMIT_COMPLETE] = "complete",
};

/* What an event means for the session once interpreted. */
enum scrobble_act {
    ACT_START,
    ACT_RESUME,
    ACT_SEEK,
    ACT_PAUSE,
    ACT_TICK, /* a progress report that changes nothing */
    ACT_STOP,
    ACT_WATCHED,
};

static const char *const field_names[SCROBBLE_FIELDS] = {
    "state",          "generation",    "last_progress", "high_progress",
    "high_at",        "last_event_at", "last_pause_at", "last_action",
    "last_action_at", "paused",        "duration_ms",
};

const char *
scrobble_state_name(enum scrobble_state s)
{
    if ((int)s < 0 || s >= SCROBBLE_STATE_MAX)
        return "unknown";
    return state_names[s];
}

int
scrobble_state_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < SCROBBLE_STATE_MAX; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

const char *
scrobble_emit_name(enum scrobble_emit e)
{
    if ((int)e < 0 || e >= SCROBBLE_EMIT_MAX)
        return "unknown";
    return emit_names[e];
}

void
scrobble_params_default(struct scrobble_params *p)
{
    p->watched_percent = 90;
    p->suppress_start_at = 99;
    p->pause_debounce_s = 5;
    p->regress_tolerance = 5;
    p->repeat_window_s = 1;
}

void
scrobble_session_init(struct scrobble_session *s)
{
    memset(s, 0, sizeof(*s));
    s->state = SCROBBLE_NONE;
    s->generation = 1;
    s->last_progress = -1;
    s->high_progress = -1;
    s->high_at = 0;
    s->last_event_at = 0;
    s->last_pause_at = 0;
    s->last_action = -1;
    s->last_action_at = 0;
    s->paused = -1;
    s->duration_ms = -1;
}

/* A progress value or -1 when unknown (negative, NaN); capped at 100. */
static double
norm_progress(double p)
{
    if (!isfinite(p) || p < 0)
        return -1;
    return p > 100 ? 100 : p;
}

static bool
within(int64_t a, int64_t b, int window)
{
    uint64_t d = a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;

    return window >= 0 && d <= (uint64_t)window;
}

/* Repair a session loaded from outside so the step can trust it. */
static void
sanitize(struct scrobble_session *s)
{
    if ((int)s->state < 0 || s->state >= SCROBBLE_STATE_MAX)
        s->state = SCROBBLE_NONE;
    if (s->generation < 1)
        s->generation = 1;
    s->last_progress = norm_progress(s->last_progress);
    s->high_progress = norm_progress(s->high_progress);
    if (s->last_action < 0 || s->last_action >= EVENT_ACTION_MAX)
        s->last_action = -1;
    if (s->paused != 0 && s->paused != 1)
        s->paused = -1;
    if (s->duration_ms <= 0)
        s->duration_ms = -1;
}

/* Where a playing session is expected to be at time t. */
static double
expected_progress(const struct scrobble_session *s, int64_t t)
{
    double e = s->last_progress;

    if (e < 0)
        return -1;
    if (s->state == SCROBBLE_PLAYING && s->duration_ms > 0 &&
        s->last_event_at > 0 && t > s->last_event_at)
        e += (double)(t - s->last_event_at) * 100000.0 / (double)s->duration_ms;
    return e > 100 ? 100 : e;
}

/* Interpret the event against the session (SYNC.md 3.2). */
static enum scrobble_act
classify(const struct scrobble_params *p, const struct scrobble_session *s,
         const struct event *ev, double prog)
{
    double e;

    switch (ev->action) {
    case EVENT_START:
        return ACT_START;
    case EVENT_RESUME:
        return ACT_RESUME;
    case EVENT_PAUSE:
        return ACT_PAUSE;
    case EVENT_STOP:
        return ACT_STOP;
    case EVENT_WATCHED:
        return ACT_WATCHED;
    default:
        break;
    }
    /* progress */
    if (s->state == SCROBBLE_COMPLETED)
        return ACT_TICK;
    if (ev->paused == 1)
        return s->state == SCROBBLE_PLAYING || s->state == SCROBBLE_NONE
                   ? ACT_PAUSE
                   : ACT_TICK;
    if (s->state == SCROBBLE_NONE || s->state == SCROBBLE_STOPPED)
        return ACT_START;
    if (s->state == SCROBBLE_PAUSED && ev->paused == 0)
        return ACT_RESUME;
    if (!ev->has_progress || prog < 0)
        return ACT_TICK;
    e = expected_progress(s, ev->occurred_at);
    if (e >= 0 && fabs(prog - e) >= (double)p->regress_tolerance)
        return ACT_SEEK;
    return ACT_TICK;
}

static bool
is_start(enum scrobble_act a)
{
    return a == ACT_START || a == ACT_RESUME || a == ACT_SEEK;
}

/* Record an accepted or absorbed event in the session. */
static void
record(struct scrobble_session *s, const struct event *ev, double prog,
       enum scrobble_act act)
{
    if (ev->occurred_at > s->last_event_at)
        s->last_event_at = ev->occurred_at;
    s->last_action = (int)ev->action;
    s->last_action_at = ev->received_at;
    if (ev->paused == 0 || ev->paused == 1)
        s->paused = ev->paused;
    if (act == ACT_PAUSE)
        s->last_pause_at = ev->occurred_at;
    if (prog >= 0) {
        s->last_progress = prog;
        if (prog > s->high_progress) {
            s->high_progress = prog;
            s->high_at = ev->occurred_at;
        }
    }
}

static void
decision_init(struct scrobble_decision *d, const struct scrobble_session *s)
{
    memset(d, 0, sizeof(*d));
    d->emit = SCROBBLE_EMIT_NONE;
    d->progress = -1;
    d->watched_at = 0;
    d->generation = s->generation;
    d->rewatch = false;
    d->why = "";
}

/* The completion: state, and the progress for /scrobble/stop (SYNC 3.5). */
static void
complete(const struct scrobble_params *p, struct scrobble_session *s,
         const struct event *ev, double prog, enum scrobble_act act,
         struct scrobble_decision *d)
{
    double send;

    record(s, ev, prog, act);
    s->state = SCROBBLE_COMPLETED;
    send = prog;
    if (s->high_progress > send)
        send = s->high_progress;
    if ((double)p->watched_percent > send)
        send = (double)p->watched_percent;
    if (SCROBBLE_TRAKT_MIN > send)
        send = SCROBBLE_TRAKT_MIN;
    d->emit = SCROBBLE_EMIT_COMPLETE;
    d->progress = send > 100 ? 100 : send;
    d->watched_at = ev->occurred_at;
}

/* A new generation of a completed session (SYNC.md 3.2). A stored session
 * may say any generation up to INT_MAX: the count stops there. */
static void
rewatch(struct scrobble_session *s)
{
    if (s->generation < INT_MAX)
        s->generation++;
    s->state = SCROBBLE_NONE;
    s->last_progress = -1;
    s->high_progress = -1;
    s->high_at = 0;
    s->last_pause_at = 0;
    s->paused = -1;
}

void
scrobble_step(const struct scrobble_params *p, struct scrobble_session *s,
              const struct event *ev, struct scrobble_decision *d)
{
    enum scrobble_act act;
    double prog, wp = (double)p->watched_percent;
    bool signal, clamped = false;

    sanitize(s);
    decision_init(d, s);
    if (ev->kind != EVENT_SCROBBLE) {
        d->why = "not a scrobble event";
        return;
    }
    if (ev->action != EVENT_START && ev->action != EVENT_PAUSE &&
        ev->action != EVENT_RESUME && ev->action != EVENT_PROGRESS_ACTION &&
        ev->action != EVENT_STOP && ev->action != EVENT_WATCHED) {
        d->why = "not a scrobble action";
        return;
    }
    if (ev->duration_ms > 0)
        s->duration_ms = ev->duration_ms;

    /* The event's progress; without a position, the last accepted one. */
    prog = ev->has_progress ? norm_progress(ev->progress) : -1;
    if (prog < 0)
        prog = s->last_progress;
    act = classify(p, s, ev, prog);

    /* Completion signals pass G2. */
    signal = act == ACT_WATCHED ||
             (act == ACT_STOP &&
              (ev->completed == 1 ||
               (ev->has_progress && norm_progress(ev->progress) >= wp)));

    /* G1 repeat. */
    if (s->last_action >= 0 && s->last_action == (int)ev->action &&
        within(ev->received_at, s->last_action_at, p->repeat_window_s)) {
        d->why = "G1 repeat";
        return;
    }
    /* G2 stale. */
    if (s->last_event_at > 0 && ev->occurred_at < s->last_event_at && !signal) {
        d->why = "G2 stale";
        return;
    }

    /* A completed generation: a start near the beginning is a rewatch,
     * anything else is absorbed (SYNC.md 3.2). */
    if (s->state == SCROBBLE_COMPLETED) {
        double at = prog;

        if (ev->action == EVENT_START && !ev->has_progress)
            at = 0;
        if ((act == ACT_START || act == ACT_RESUME) && at >= 0 &&
            at <= SCROBBLE_REWATCH_MAX) {
            rewatch(s);
            prog = ev->has_progress ? norm_progress(ev->progress) : -1;
            d->rewatch = true;
            d->generation = s->generation;
        } else {
            record(s, ev, prog, act);
            d->progress = prog;
            d->why = "absorbed after completion";
            return;
        }
    }

    /* G3 pause debounce. */
    if (act == ACT_PAUSE && s->last_pause_at > 0 &&
        ev->occurred_at >= s->last_pause_at &&
        within(ev->occurred_at, s->last_pause_at, p->pause_debounce_s)) {
        d->why = "G3 pause debounce";
        return;
    }
    /* G4 regression clamp: pauses and stops never go backwards. */
    if ((act == ACT_PAUSE || act == ACT_STOP) && prog >= 0 &&
        s->last_progress >= 0 &&
        prog < s->last_progress - (double)p->regress_tolerance) {
        prog = s->last_progress;
        clamped = true;
    }
    /* G5 late start: nothing sent, the position is kept. */
    if (is_start(act) && prog >= (double)p->suppress_start_at) {
        s->last_progress = prog;
        if (prog > s->high_progress) {
            s->high_progress = prog;
            s->high_at = ev->occurred_at;
        }
        d->progress = prog;
        d->why = "G5 late start";
        return;
    }
    /* G6 completion. */
    if (act == ACT_WATCHED ||
        (act == ACT_STOP &&
         (ev->completed == 1 || prog >= wp || s->high_progress >= wp))) {
        complete(p, s, ev, prog, act, d);
        d->why = act == ACT_WATCHED   ? "watched"
                 : ev->completed == 1 ? "stop completed"
                 : prog >= wp         ? "stop at watched_percent"
                                      : "stop after watched_percent";
        return;
    }

    d->progress = prog;
    switch (act) {
    case ACT_START:
    case ACT_RESUME:
    case ACT_SEEK:
        record(s, ev, prog, act);
        s->state = SCROBBLE_PLAYING;
        d->emit = SCROBBLE_EMIT_START;
        d->progress = prog >= 0 ? prog : 0;
        d->why = d->rewatch         ? "rewatch"
                 : act == ACT_SEEK  ? "seek"
                 : act == ACT_START ? "start"
                                    : "resume";
        break;
    case ACT_PAUSE:
        record(s, ev, prog, act);
        s->state = SCROBBLE_PAUSED;
        if (prog < SCROBBLE_SEND_MIN) {
            d->why = "below 1%";
        } else {
            d->emit = SCROBBLE_EMIT_PAUSE;
            d->why = clamped ? "pause (G4 clamp)" : "pause";
        }
        break;
    case ACT_STOP: {
        bool again = s->state == SCROBBLE_STOPPED;

        record(s, ev, prog, act);
        s->state = SCROBBLE_STOPPED;
        if (again) {
            d->why = "already stopped";
        } else if (prog < SCROBBLE_SEND_MIN) {
            d->why = "below 1%";
        } else {
            d->emit = SCROBBLE_EMIT_PAUSE;
            d->why = clamped ? "stop below threshold (G4 clamp)"
                             : "stop below threshold";
        }
        break;
    }
    case ACT_TICK:
    default:
        record(s, ev, prog, act);
        d->why = "progress";
        break;
    }
}

/* Progress as a decimal string with two places, "-1" when unknown. */
static char *
progress_str(double p)
{
    long long r;

    p = norm_progress(p);
    if (p < 0)
        return xstrdup("-1");
    r = llround(p * 100.0);
    return xasprintf("%lld.%02lld", r / 100, r % 100);
}

/* "93", "93.5", "93.25"; "-1" or anything else gives -1. */
static double
progress_parse(const char *s)
{
    const char *dot;
    int64_t whole, frac = 0, scale = 1;
    size_t n;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    dot = strchr(s, '.');
    n = dot ? (size_t)(dot - s) : strlen(s);
    if (n == 0 || parse_i64n(s, n, 0, 100, &whole) != 0)
        return -1;
    if (dot != NULL) {
        size_t fl = strlen(dot + 1);

        if (fl == 0 || fl > 9 || dot[1] < '0' || dot[1] > '9' ||
            parse_i64n(dot + 1, fl, 0, 999999999, &frac) != 0)
            return -1;
        for (size_t i = 0; i < fl; i++)
            scale *= 10;
    }
    return norm_progress((double)whole + (double)frac / (double)scale);
}

void
scrobble_to_fields(const struct scrobble_session *s,
                   const char *fields[SCROBBLE_FIELDS],
                   char *values[SCROBBLE_FIELDS])
{
    int st = (int)s->state, la = s->last_action;

    for (int i = 0; i < SCROBBLE_FIELDS; i++)
        fields[i] = field_names[i];
    values[0] =
        xstrdup(st >= 0 && st < SCROBBLE_STATE_MAX ? state_names[st] : "none");
    values[1] = xasprintf("%d", s->generation < 1 ? 1 : s->generation);
    values[2] = progress_str(s->last_progress);
    values[3] = progress_str(s->high_progress);
    values[4] = xasprintf("%" PRId64, s->high_at);
    values[5] = xasprintf("%" PRId64, s->last_event_at);
    values[6] = xasprintf("%" PRId64, s->last_pause_at);
    values[7] = xstrdup(la >= 0 && la < EVENT_ACTION_MAX
                            ? event_action_name((enum event_action)la)
                            : "");
    values[8] = xasprintf("%" PRId64, s->last_action_at);
    values[9] =
        xasprintf("%d", s->paused == 0 || s->paused == 1 ? s->paused : -1);
    values[10] = xasprintf("%" PRId64,
                           s->duration_ms > 0 ? s->duration_ms : (int64_t)-1);
}

/* A time field: seconds since the epoch, 0 when missing or bad. */
static int64_t
time_field(const char *v)
{
    int64_t t;

    return parse_i64(v, 0, INT64_MAX, &t) == 0 ? t : 0;
}

void
scrobble_from_fields(struct scrobble_session *s, const char *const *fields,
                     const char *const *values, size_t n)
{
    scrobble_session_init(s);
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i], *v = values[i];
        int64_t x;
        int k;

        if (f == NULL || v == NULL)
            continue;
        for (k = 0; k < SCROBBLE_FIELDS; k++)
            if (strcmp(f, field_names[k]) == 0)
                break;
        switch (k) {
        case 0:
            x = scrobble_state_from_name(v);
            s->state = x < 0 ? SCROBBLE_NONE : (enum scrobble_state)x;
            break;
        case 1:
            s->generation = parse_i64(v, 1, INT32_MAX, &x) == 0 ? (int)x : 1;
            break;
        case 2:
            s->last_progress = progress_parse(v);
            break;
        case 3:
            s->high_progress = progress_parse(v);
            break;
        case 4:
            s->high_at = time_field(v);
            break;
        case 5:
            s->last_event_at = time_field(v);
            break;
        case 6:
            s->last_pause_at = time_field(v);
            break;
        case 7:
            s->last_action = event_action_from_name(v);
            break;
        case 8:
            s->last_action_at = time_field(v);
            break;
        case 9:
            s->paused = parse_i64(v, -1, 1, &x) == 0 ? (int)x : -1;
            break;
        case 10:
            s->duration_ms =
                parse_i64(v, 1, INT64_MAX, &x) == 0 ? x : (int64_t)-1;
            break;
        default:
            break;
        }
    }
}
