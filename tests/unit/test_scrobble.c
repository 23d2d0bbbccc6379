/*
 * test_scrobble: the playback-session state machine (SYNC.md 3.2, 3.3 G1-G6,
 * 3.5) stepped through provider sequences (PROVIDERS.md A1-A4), and the
 * session's Redis field form.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "scrobble.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define T0     1741000000
#define NOPOS  (-1.0) /* the event carries no position */
#define ANY    (-2.0) /* the emitted progress is not checked */
#define UNSAID (-1)   /* completed / paused not said */
#define END    -1

/* One event and what the step must answer. */
struct step {
    int action;       /* enum event_action; END closes the list */
    double progress;  /* NOPOS: has_progress false */
    int64_t occurred; /* seconds after T0 */
    int64_t received; /* seconds after T0; -1: the same as occurred */
    int completed;    /* UNSAID, 0, 1 */
    int paused;       /* UNSAID, 0, 1 */
    enum scrobble_emit emit;
    double emit_progress;      /* ANY: not checked */
    enum scrobble_state state; /* after the step */
};

#define EV(a, pr, t, em, epr, st)                                      \
    {                                                                  \
        EVENT_##a, pr, t, -1, UNSAID, UNSAID, SCROBBLE_EMIT_##em, epr, \
            SCROBBLE_##st                                              \
    }
#define EVR(a, pr, t, rt, em, epr, st)                                 \
    {                                                                  \
        EVENT_##a, pr, t, rt, UNSAID, UNSAID, SCROBBLE_EMIT_##em, epr, \
            SCROBBLE_##st                                              \
    }
#define STOPC(pr, done, t, em, epr, st)                               \
    {                                                                 \
        EVENT_STOP, pr, t, -1, done, UNSAID, SCROBBLE_EMIT_##em, epr, \
            SCROBBLE_##st                                             \
    }
#define TICK(pr, paused, t, em, epr, st)                                      \
    {                                                                         \
        EVENT_PROGRESS_ACTION, pr, t, -1, UNSAID, paused, SCROBBLE_EMIT_##em, \
            epr, SCROBBLE_##st                                                \
    }
#define STEPS_END                                                \
    {                                                            \
        END, 0, 0, 0, 0, 0, SCROBBLE_EMIT_NONE, 0, SCROBBLE_NONE \
    }

struct sequence {
    const char *name;
    int64_t duration_ms; /* on every event; -1 none */
    struct step steps[16];
    int generation; /* at the end */
    double high;    /* high_progress at the end; ANY: not checked */
    int completes;  /* how many COMPLETE emits in total */
};

static const struct sequence sequences[] = {
    {"plex play/pause/resume/scrobble/stop: one completion, stop absorbed",
     3378000,
     {
         EV(START, NOPOS, 0, START, 0, PLAYING),
         EV(PAUSE, 20, 600, PAUSE, 20, PAUSED),
         EV(RESUME, 20, 700, START, 20, PLAYING),
         EV(PAUSE, 50, 1800, PAUSE, 50, PAUSED),
         EV(RESUME, 50, 1900, START, 50, PLAYING),
         EV(WATCHED, 90.3, 3100, COMPLETE, 90.3, COMPLETED),
         EV(STOP, NOPOS, 3101, NONE, ANY, COMPLETED),
         STEPS_END,
     },
     1,
     90.3,
     1},
    {"plex play after scrobble at 95% (credits skipped) is absorbed",
     3378000,
     {
         EV(START, 1.5, 0, START, 1.5, PLAYING),
         EV(WATCHED, 91, 3000, COMPLETE, 91, COMPLETED),
         EV(START, 95, 3010, NONE, ANY, COMPLETED),
         EV(STOP, 96, 3100, NONE, ANY, COMPLETED),
         STEPS_END,
     },
     1,
     96,
     1},
    {"plex play after scrobble at 2% is a rewatch",
     3378000,
     {
         EV(START, NOPOS, 0, START, 0, PLAYING),
         EV(WATCHED, 91, 3000, COMPLETE, 91, COMPLETED),
         EV(STOP, 97, 3200, NONE, ANY, COMPLETED),
         EV(START, 2, 7200, START, 2, PLAYING),
         EV(PAUSE, 30, 8200, PAUSE, 30, PAUSED),
         STEPS_END,
     },
     2,
     30,
     1},
    {"plex rewatch from the start (play without viewOffset)",
     3378000,
     {
         EV(START, NOPOS, 0, START, 0, PLAYING),
         EV(WATCHED, 92, 3000, COMPLETE, 92, COMPLETED),
         EV(STOP, NOPOS, 3100, NONE, ANY, COMPLETED),
         EV(START, NOPOS, 9000, START, 0, PLAYING),
         EV(STOP, NOPOS, 9100, NONE, ANY, STOPPED),
         STEPS_END,
     },
     2,
     ANY,
     1},
    {"jellyfin duplicated stop: the second is absorbed",
     7200000,
     {
         EV(START, 0, 0, START, 0, PLAYING),
         TICK(0.14, 0, 10, NONE, ANY, PLAYING),
         STOPC(97, 1, 7000, COMPLETE, 97, COMPLETED),
         STOPC(97, 1, 7003, NONE, ANY, COMPLETED),
         STOPC(97, 1, 7003, NONE, ANY, COMPLETED), /* G1 */
         STEPS_END,
     },
     1,
     97,
     1},
    {"jellyfin progress ticks every 10 s are quiet",
     3600000,
     {
         EV(START, 10, 0, START, 10, PLAYING),
         TICK(10.28, 0, 10, NONE, ANY, PLAYING),
         TICK(10.56, 0, 20, NONE, ANY, PLAYING),
         TICK(10.83, 0, 30, NONE, ANY, PLAYING),
         TICK(11.11, 0, 40, NONE, ANY, PLAYING),
         STEPS_END,
     },
     1,
     11.11,
     0},
    {"jellyfin ticks 90 s apart on a 20 min episode are not a seek",
     1200000,
     {
         EV(START, 10, 0, START, 10, PLAYING),
         TICK(17.5, 0, 90, NONE, ANY, PLAYING),
         TICK(25, 0, 180, NONE, ANY, PLAYING),
         STEPS_END,
     },
     1,
     25,
     0},
    {"jellyfin IsPaused flips act as pause and resume",
     3600000,
     {
         EV(START, 10, 0, START, 10, PLAYING),
         TICK(10.28, 0, 10, NONE, ANY, PLAYING),
         TICK(10.5, 1, 18, PAUSE, 10.5, PAUSED),
         TICK(10.5, 1, 28, NONE, ANY, PAUSED),
         TICK(10.5, 1, 38, NONE, ANY, PAUSED),
         TICK(10.5, 0, 45, START, 10.5, PLAYING),
         TICK(10.78, 0, 55, NONE, ANY, PLAYING),
         TICK(11, 1, 63, PAUSE, 11, PAUSED),
         STEPS_END,
     },
     1,
     11,
     0},
    {"jellyfin seek jumps act as start, forwards and backwards",
     3600000,
     {
         EV(START, 10, 0, START, 10, PLAYING),
         TICK(10.28, 0, 10, NONE, ANY, PLAYING),
         TICK(40, 0, 20, START, 40, PLAYING),
         TICK(40.28, 0, 30, NONE, ANY, PLAYING),
         TICK(20, 0, 40, START, 20, PLAYING),
         TICK(20.28, 0, 50, NONE, ANY, PLAYING),
         STEPS_END,
     },
     1,
     40.28,
     0},
    {"progress on a fresh session starts it",
     3600000,
     {
         TICK(30, 0, 0, START, 30, PLAYING),
         TICK(30.28, 0, 10, NONE, ANY, PLAYING),
         STEPS_END,
     },
     1,
     30.28,
     0},
    {"stop below the threshold pauses; a later start plays again",
     3600000,
     {
         EV(START, 0, 0, START, 0, PLAYING),
         EV(STOP, 40, 1440, PAUSE, 40, STOPPED),
         EV(STOP, 40, 1450, NONE, ANY, STOPPED), /* Emby duplicate */
         EV(START, 40, 5000, START, 40, PLAYING),
         EV(PAUSE, 60, 5720, PAUSE, 60, PAUSED),
         STEPS_END,
     },
     1,
     60,
     0},
    {"stop with completed at 50% completes",
     3600000,
     {
         EV(START, 0, 0, START, 0, PLAYING),
         STOPC(50, 1, 1800, COMPLETE, 90, COMPLETED),
         STEPS_END,
     },
     1,
     50,
     1},
    {"stop without a position after 93% completes",
     3600000,
     {
         EV(START, 0, 0, START, 0, PLAYING),
         EV(PAUSE, 93, 3350, PAUSE, 93, PAUSED),
         EV(STOP, NOPOS, 3400, COMPLETE, 93, COMPLETED),
         STEPS_END,
     },
     1,
     93,
     1},
    {"stop a little below a high progress >= 90% completes via the high",
     3600000,
     {
         EV(START, 0, 0, START, 0, PLAYING),
         EV(PAUSE, 93, 3350, PAUSE, 93, PAUSED),
         STOPC(88, 0, 3400, COMPLETE, 93, COMPLETED),
         STEPS_END,
     },
     1,
     93,
     1},
    {"stop at 92% without completed (Jellyfin below its own threshold)",
     3600000,
     {
         EV(START, 0, 0, START, 0, PLAYING),
         STOPC(92, 0, 3320, COMPLETE, 92, COMPLETED),
         STEPS_END,
     },
     1,
     92,
     1},
    {"G1: the same action within 1 s is dropped",
     3600000,
     {
         EV(START, 5, 0, START, 5, PLAYING),
         EVR(START, 5, 0, 1, NONE, ANY, PLAYING),
         EV(PAUSE, 10, 180, PAUSE, 10, PAUSED),
         EVR(PAUSE, 10, 180, 180, NONE, ANY, PAUSED),
         EV(START, 10, 300, START, 10, PLAYING),
         EV(START, 10, 302, START, 10, PLAYING),
         STEPS_END,
     },
     1,
     10,
     0},
    {"G2: an event older than the last is dropped, a completion is not",
     3600000,
     {
         EV(START, 20, 100, START, 20, PLAYING),
         EVR(PAUSE, 22, 50, 101, NONE, ANY, PLAYING),
         EVR(START, 22, 99, 102, NONE, ANY, PLAYING),
         {EVENT_STOP, 40, 90, 103, 1, UNSAID, SCROBBLE_EMIT_COMPLETE, 90,
          SCROBBLE_COMPLETED},
         STEPS_END,
     },
     1,
     40,
     1},
    {"G3: a pause within 5 s of the previous pause is dropped",
     3600000,
     {
         EV(START, 10, 0, START, 10, PLAYING),
         EV(PAUSE, 30, 100, PAUSE, 30, PAUSED),
         EV(RESUME, 30, 102, START, 30, PLAYING),
         EV(PAUSE, 30, 105, NONE, ANY, PLAYING),
         EV(PAUSE, 31, 106, PAUSE, 31, PAUSED),
         STEPS_END,
     },
     1,
     31,
     0},
    {"G4: a pause far below the last progress keeps the last",
     3600000,
     {
         EV(START, 50, 0, START, 50, PLAYING),
         EV(PAUSE, 47, 10, PAUSE, 47, PAUSED),
         EV(RESUME, 47, 20, START, 47, PLAYING),
         EV(PAUSE, 30, 40, PAUSE, 47, PAUSED),
         EV(RESUME, 10, 60, START, 10, PLAYING), /* a seek back */
         EV(STOP, 2, 80, PAUSE, 10, STOPPED),
         STEPS_END,
     },
     1,
     50,
     0},
    {"G5: a start at 99.5% is dropped, the position kept",
     3600000,
     {
         EV(START, 99.5, 0, NONE, ANY, NONE),
         EV(STOP, NOPOS, 30, COMPLETE, 99.5, COMPLETED),
         STEPS_END,
     },
     1,
     99.5,
     1},
    {"G5: a resume at 99% is dropped",
     3600000,
     {
         EV(START, 50, 0, START, 50, PLAYING),
         EV(PAUSE, 60, 600, PAUSE, 60, PAUSED),
         EV(RESUME, 99, 700, NONE, ANY, PAUSED),
         EV(RESUME, 98.9, 800, START, 98.9, PLAYING),
         STEPS_END,
     },
     1,
     99,
     0},
    {"tautulli watched at 85% without a session completes at 90",
     3378000,
     {
         EV(WATCHED, 86, 0, COMPLETE, 90, COMPLETED),
         EV(STOP, 87, 60, NONE, ANY, COMPLETED),
         STEPS_END,
     },
     1,
     87,
     1},
    {"watched without any position completes at 90",
     -1,
     {
         EV(WATCHED, NOPOS, 0, COMPLETE, 90, COMPLETED),
         STEPS_END,
     },
     1,
     ANY,
     1},
    {"pauses and stops below 1% are not sent",
     3600000,
     {
         EV(START, 0, 0, START, 0, PLAYING),
         EV(PAUSE, 0.5, 20, NONE, ANY, PAUSED),
         EV(RESUME, 0.5, 30, START, 0.5, PLAYING),
         EV(STOP, 0.6, 40, NONE, ANY, STOPPED),
         STEPS_END,
     },
     1,
     0.6,
     0},
    {"a stop without position or duration is below threshold",
     -1,
     {
         EV(START, NOPOS, 0, START, 0, PLAYING),
         EV(STOP, NOPOS, 3000, NONE, ANY, STOPPED),
         STEPS_END,
     },
     1,
     ANY,
     0},
};

static void
fill_event(struct event *ev, const struct step *st, int64_t duration_ms)
{
    event_init(ev);
    ev->kind = EVENT_SCROBBLE;
    ev->action = (enum event_action)st->action;
    ev->has_progress = st->progress >= 0;
    ev->progress = st->progress >= 0 ? st->progress : 0;
    ev->duration_ms = duration_ms;
    ev->completed = st->completed;
    ev->paused = st->paused;
    ev->occurred_at = T0 + st->occurred;
    ev->received_at = T0 + (st->received >= 0 ? st->received : st->occurred);
}

static void
test_sequences(void **state)
{
    struct scrobble_params p;

    (void)state;
    scrobble_params_default(&p);
    for (size_t i = 0; i < N_ELEMS(sequences); i++) {
        const struct sequence *q = &sequences[i];
        struct scrobble_session s;
        int completes = 0;

        scrobble_session_init(&s);
        for (size_t j = 0; q->steps[j].action != END; j++) {
            const struct step *st = &q->steps[j];
            struct scrobble_decision d;
            struct event ev;

            fill_event(&ev, st, q->duration_ms);
            scrobble_step(&p, &s, &ev, &d);
            if (d.emit != st->emit || s.state != st->state ||
                (st->emit_progress != ANY &&
                 (d.progress < st->emit_progress - 0.001 ||
                  d.progress > st->emit_progress + 0.001)))
                fail_msg("%s: step %zu (%s): emit %s progress %.2f state "
                         "%s (%s); want %s %.2f %s",
                         q->name, j, event_action_name(ev.action),
                         scrobble_emit_name(d.emit), d.progress,
                         scrobble_state_name(s.state), d.why,
                         scrobble_emit_name(st->emit), st->emit_progress,
                         scrobble_state_name(st->state));
            assert_non_null(d.why);
            assert_int_equal(d.generation, s.generation);
            if (d.emit == SCROBBLE_EMIT_COMPLETE) {
                completes++;
                assert_int_equal(d.watched_at, ev.occurred_at);
            }
            event_release(&ev);
        }
        if (s.generation != q->generation || completes != q->completes ||
            (q->high != ANY && (s.high_progress < q->high - 0.001 ||
                                s.high_progress > q->high + 0.001)))
            fail_msg("%s: generation %d completes %d high %.2f; want %d %d "
                     "%.2f",
                     q->name, s.generation, completes, s.high_progress,
                     q->generation, q->completes, q->high);
    }
}

/* One step on s with the given event fields. */
static void
step(const struct scrobble_params *p, struct scrobble_session *s,
     struct scrobble_decision *d, enum event_action a, double progress,
     int64_t t)
{
    struct step st = {(int)a, progress,           t,   -1,           UNSAID,
                      UNSAID, SCROBBLE_EMIT_NONE, ANY, SCROBBLE_NONE};
    struct event ev;

    fill_event(&ev, &st, 3600000);
    scrobble_step(p, s, &ev, d);
    event_release(&ev);
}

/* The decision's fields on a completion and a rewatch. */
static void
test_rewatch_decision(void **state)
{
    struct scrobble_params p;
    struct scrobble_session s;
    struct scrobble_decision d;

    (void)state;
    scrobble_params_default(&p);
    scrobble_session_init(&s);
    assert_int_equal(s.generation, 1);
    step(&p, &s, &d, EVENT_START, 0, 0);
    assert_int_equal(d.emit, SCROBBLE_EMIT_START);
    assert_false(d.rewatch);
    assert_int_equal(d.generation, 1);
    step(&p, &s, &d, EVENT_WATCHED, 91, 3000);
    assert_int_equal(d.emit, SCROBBLE_EMIT_COMPLETE);
    assert_int_equal(d.watched_at, T0 + 3000);
    assert_int_equal(d.generation, 1);
    assert_int_equal(s.high_at, T0 + 3000);
    step(&p, &s, &d, EVENT_STOP, NOPOS, 3005);
    assert_int_equal(d.emit, SCROBBLE_EMIT_NONE);
    assert_string_equal(d.why, "absorbed after completion");
    assert_int_equal(s.state, SCROBBLE_COMPLETED);
    assert_int_equal(s.last_action, EVENT_STOP);
    assert_int_equal(s.last_event_at, T0 + 3005);
    /* a start at 5 % is still a rewatch, at 6 % it is not */
    step(&p, &s, &d, EVENT_START, 6, 5000);
    assert_int_equal(d.emit, SCROBBLE_EMIT_NONE);
    assert_false(d.rewatch);
    step(&p, &s, &d, EVENT_START, 5, 6000);
    assert_int_equal(d.emit, SCROBBLE_EMIT_START);
    assert_true(d.rewatch);
    assert_int_equal(d.generation, 2);
    assert_int_equal(s.generation, 2);
    assert_int_equal(s.state, SCROBBLE_PLAYING);
    assert_true(s.high_progress > 4.99 && s.high_progress < 5.01);
    assert_int_equal(s.high_at, T0 + 6000);
    /* the new generation completes once more */
    step(&p, &s, &d, EVENT_STOP, 95, 9000);
    assert_int_equal(d.emit, SCROBBLE_EMIT_COMPLETE);
    assert_int_equal(d.generation, 2);
    assert_false(d.rewatch);
}

/* Events that are not scrobbles leave the session alone. */
static void
test_not_scrobble(void **state)
{
    struct scrobble_params p;
    struct scrobble_session s, before;
    struct scrobble_decision d;
    struct event ev;

    (void)state;
    scrobble_params_default(&p);
    scrobble_session_init(&s);
    step(&p, &s, &d, EVENT_START, 10, 0);
    before = s;
    event_init(&ev);
    ev.kind = EVENT_HISTORY;
    ev.action = EVENT_ADD;
    ev.occurred_at = ev.received_at = T0 + 50;
    scrobble_step(&p, &s, &ev, &d);
    assert_int_equal(d.emit, SCROBBLE_EMIT_NONE);
    assert_int_equal(s.last_event_at, before.last_event_at);
    assert_int_equal(s.last_action, before.last_action);
    ev.kind = EVENT_SCROBBLE;
    ev.action = EVENT_SET;
    scrobble_step(&p, &s, &ev, &d);
    assert_int_equal(d.emit, SCROBBLE_EMIT_NONE);
    assert_int_equal(s.state, SCROBBLE_PLAYING);
    assert_int_equal(s.last_action, before.last_action);
    event_release(&ev);
}

/* Route parameters change the thresholds. */
static void
test_params(void **state)
{
    struct scrobble_params p;
    struct scrobble_session s;
    struct scrobble_decision d;

    (void)state;
    scrobble_params_default(&p);
    assert_int_equal(p.watched_percent, 90);
    assert_int_equal(p.suppress_start_at, 99);
    assert_int_equal(p.pause_debounce_s, 5);
    assert_int_equal(p.regress_tolerance, 5);
    assert_int_equal(p.repeat_window_s, 1);

    /* watched_percent 85 (Tautulli's default): a stop at 86 completes
     * and sends max(86, 85, 80) */
    p.watched_percent = 85;
    scrobble_session_init(&s);
    step(&p, &s, &d, EVENT_START, 0, 0);
    step(&p, &s, &d, EVENT_STOP, 86, 3000);
    assert_int_equal(d.emit, SCROBBLE_EMIT_COMPLETE);
    assert_true(d.progress > 85.99 && d.progress < 86.01);

    /* watched_percent 70: a watched event is still sent at 80 or more */
    p.watched_percent = 70;
    scrobble_session_init(&s);
    step(&p, &s, &d, EVENT_WATCHED, 72, 0);
    assert_int_equal(d.emit, SCROBBLE_EMIT_COMPLETE);
    assert_true(d.progress > 79.99 && d.progress < 80.01);

    /* a wider pause debounce drops a pause 8 s after the previous one */
    scrobble_params_default(&p);
    p.pause_debounce_s = 10;
    scrobble_session_init(&s);
    step(&p, &s, &d, EVENT_START, 10, 0);
    step(&p, &s, &d, EVENT_PAUSE, 20, 100);
    assert_int_equal(d.emit, SCROBBLE_EMIT_PAUSE);
    step(&p, &s, &d, EVENT_RESUME, 20, 104);
    step(&p, &s, &d, EVENT_PAUSE, 20, 108);
    assert_int_equal(d.emit, SCROBBLE_EMIT_NONE);
    assert_string_equal(d.why, "G3 pause debounce");
}

/* A session survives the field form; names are used for enums. */
static void
test_fields_round_trip(void **state)
{
    struct scrobble_session s, t;
    const char *fields[SCROBBLE_FIELDS];
    char *values[SCROBBLE_FIELDS];

    (void)state;
    scrobble_session_init(&s);
    s.state = SCROBBLE_PAUSED;
    s.generation = 3;
    s.last_progress = 47.25;
    s.high_progress = 93.5;
    s.high_at = T0 + 10;
    s.last_event_at = T0 + 20;
    s.last_pause_at = T0 + 15;
    s.last_action = EVENT_PAUSE;
    s.last_action_at = T0 + 21;
    s.paused = 1;
    s.duration_ms = 3378000;
    scrobble_to_fields(&s, fields, values);
    for (int i = 0; i < SCROBBLE_FIELDS; i++) {
        assert_non_null(fields[i]);
        assert_non_null(values[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(fields[i], fields[j]);
    }
    assert_string_equal(fields[0], "state");
    assert_string_equal(values[0], "paused");
    assert_string_equal(fields[2], "last_progress");
    assert_string_equal(values[2], "47.25");
    assert_string_equal(fields[7], "last_action");
    assert_string_equal(values[7], "pause");

    /* reversed order, plus an unknown field */
    {
        const char *f[SCROBBLE_FIELDS + 1];
        const char *v[SCROBBLE_FIELDS + 1];

        for (int i = 0; i < SCROBBLE_FIELDS; i++) {
            f[i] = fields[SCROBBLE_FIELDS - 1 - i];
            v[i] = values[SCROBBLE_FIELDS - 1 - i];
        }
        f[SCROBBLE_FIELDS] = "wl_removed";
        v[SCROBBLE_FIELDS] = "1";
        scrobble_from_fields(&t, f, v, SCROBBLE_FIELDS + 1);
    }
    assert_int_equal(t.state, SCROBBLE_PAUSED);
    assert_int_equal(t.generation, 3);
    assert_true(t.last_progress > 47.249 && t.last_progress < 47.251);
    assert_true(t.high_progress > 93.499 && t.high_progress < 93.501);
    assert_int_equal(t.high_at, T0 + 10);
    assert_int_equal(t.last_event_at, T0 + 20);
    assert_int_equal(t.last_pause_at, T0 + 15);
    assert_int_equal(t.last_action, EVENT_PAUSE);
    assert_int_equal(t.last_action_at, T0 + 21);
    assert_int_equal(t.paused, 1);
    assert_int_equal(t.duration_ms, 3378000);
    for (int i = 0; i < SCROBBLE_FIELDS; i++)
        free(values[i]);

    /* a fresh session round-trips to the defaults */
    scrobble_session_init(&s);
    scrobble_to_fields(&s, fields, values);
    assert_string_equal(values[0], "none");
    assert_string_equal(values[2], "-1");
    assert_string_equal(values[7], "");
    scrobble_from_fields(&t, fields, (const char *const *)values,
                         SCROBBLE_FIELDS);
    assert_int_equal(t.state, SCROBBLE_NONE);
    assert_int_equal(t.generation, 1);
    assert_true(t.last_progress < 0);
    assert_true(t.high_progress < 0);
    assert_int_equal(t.last_action, -1);
    assert_int_equal(t.paused, -1);
    assert_int_equal(t.duration_ms, -1);
    for (int i = 0; i < SCROBBLE_FIELDS; i++)
        free(values[i]);
}

/* Garbage values fall back to the defaults, field by field. */
static void
test_fields_garbage(void **state)
{
    static const struct {
        const char *field;
        const char *value;
    } cases[] = {
        {"state", "PLAYING"},      {"state", ""},
        {"generation", "0"},       {"generation", "-3"},
        {"generation", "2x"},      {"generation", "99999999999"},
        {"last_progress", "abc"},  {"last_progress", "-5"},
        {"last_progress", "+5"},   {"last_progress", "5."},
        {"last_progress", ".5"},   {"last_progress", "5.-1"},
        {"last_progress", "1e2"},  {"last_progress", "101"},
        {"last_progress", "nan"},  {"high_progress", " 5"},
        {"high_at", "-1"},         {"high_at", "12:00"},
        {"last_event_at", ""},     {"last_pause_at", "0x10"},
        {"last_action", "jump"},   {"last_action", "START"},
        {"last_action_at", "1.5"}, {"paused", "2"},
        {"paused", "true"},        {"duration_ms", "0"},
        {"duration_ms", "-100"},   {"duration_ms", "18446744073709551616"},
    };
    struct scrobble_session def;

    (void)state;
    scrobble_session_init(&def);
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        const char *f[1] = {cases[i].field};
        const char *v[1] = {cases[i].value};
        struct scrobble_session t;

        scrobble_from_fields(&t, f, v, 1);
        if (t.state != def.state || t.generation != def.generation ||
            !(t.last_progress < 0) || !(t.high_progress < 0) ||
            t.high_at != 0 || t.last_event_at != 0 || t.last_pause_at != 0 ||
            t.last_action != -1 || t.last_action_at != 0 || t.paused != -1 ||
            t.duration_ms != -1)
            fail_msg("%s=\"%s\" was not ignored", cases[i].field,
                     cases[i].value);
    }
    /* a NULL value is skipped; valid ones still apply */
    {
        const char *f[3] = {"state", "generation", "last_progress"};
        const char *v[3] = {NULL, "4", "100"};
        struct scrobble_session t;

        scrobble_from_fields(&t, f, v, 3);
        assert_int_equal(t.state, SCROBBLE_NONE);
        assert_int_equal(t.generation, 4);
        assert_true(t.last_progress > 99.99 && t.last_progress < 100.01);
    }
}

/* A garbled session in memory does not derail a step. */
static void
test_garbled_session(void **state)
{
    struct scrobble_params p;
    struct scrobble_session s;
    struct scrobble_decision d;

    (void)state;
    scrobble_params_default(&p);
    scrobble_session_init(&s);
    s.state = (enum scrobble_state)42;
    s.generation = -7;
    s.last_action = 99;
    step(&p, &s, &d, EVENT_START, 10, 0);
    assert_int_equal(d.emit, SCROBBLE_EMIT_START);
    assert_int_equal(s.state, SCROBBLE_PLAYING);
    assert_int_equal(s.generation, 1);
    assert_int_equal(d.generation, 1);
}

/* A stored session at the last generation: a rewatch must not overflow. */
static void
test_rewatch_at_generation_max(void **state)
{
    const char *f[] = {"state", "generation"};
    const char *v[] = {"completed", "2147483647"};
    struct scrobble_params p;
    struct scrobble_session s;
    struct scrobble_decision d;

    (void)state;
    scrobble_params_default(&p);
    scrobble_from_fields(&s, f, v, 2);
    assert_int_equal(s.generation, INT_MAX);
    step(&p, &s, &d, EVENT_START, 0, 0);
    assert_int_equal(d.emit, SCROBBLE_EMIT_START);
    assert_true(d.rewatch);
    assert_int_equal(s.generation, INT_MAX);
    assert_int_equal(d.generation, INT_MAX);
}

static void
test_names(void **state)
{
    (void)state;
    for (int i = 0; i < SCROBBLE_STATE_MAX; i++)
        assert_int_equal(scrobble_state_from_name(
                             scrobble_state_name((enum scrobble_state)i)),
                         i);
    assert_string_equal(scrobble_state_name(SCROBBLE_COMPLETED), "completed");
    assert_int_equal(scrobble_state_from_name("bogus"), -1);
    assert_int_equal(scrobble_state_from_name(NULL), -1);
    assert_string_equal(scrobble_state_name(SCROBBLE_STATE_MAX), "unknown");
    assert_string_equal(scrobble_emit_name(SCROBBLE_EMIT_COMPLETE), "complete");
    assert_string_equal(scrobble_emit_name(SCROBBLE_EMIT_MAX), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_rewatch_decision),
        cmocka_unit_test(test_not_scrobble),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_fields_round_trip),
        cmocka_unit_test(test_fields_garbage),
        cmocka_unit_test(test_garbled_session),
        cmocka_unit_test(test_rewatch_at_generation_max),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
