/*
 * fuzz_scrobble: the playback-session state machine (SYNC.md 3) over a
 * session loaded from Redis and a run of events. Input: text lines
 * "name=value" (a line without '=' gives a NULL value) up to the first NUL
 * byte are the stored session's fields (scrobble_from_fields); after the
 * NUL, one byte picks watched_percent and every FUZZ_EV_BYTES bytes make one
 * event (see make_event). After each step the session and the decision must
 * be in range; at the end the session must survive scrobble_to_fields and
 * back unchanged.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "scrobble.h"
#include "util.h"

#define FUZZ_FIELDS_MAX 64
#define FUZZ_EVENTS_MAX 64
#define FUZZ_EV_BYTES   8
#define FUZZ_T0         1740948430 /* 2025-03-02T20:47:10Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The config allows 50-100 (scrobble.watched_percent). */
static const int fuzz_watched[] = {90, 50, 100, 80};

static const enum event_action fuzz_actions[] = {
    EVENT_START, EVENT_PAUSE,   EVENT_RESUME, EVENT_PROGRESS_ACTION,
    EVENT_STOP,  EVENT_WATCHED, EVENT_ADD,    EVENT_SET,
};

/* -1, 0 or 1 from two bits. */
static int
tristate(unsigned bits)
{
    return (bits & 3) == 1 ? 0 : (bits & 3) == 2 ? 1 : -1;
}

static bool
progress_ok(double p)
{
    return p == -1 || (p >= 0 && p <= 100);
}

/*
 * One event from FUZZ_EV_BYTES bytes: b[0] action (high bits: not a
 * scrobble), b[1] flags (has_progress, paused, completed, duration, a jump
 * in time, an odd progress), b[2..3] progress, b[4] seconds since the last
 * event, b[5] occurred_at against received_at, b[6..7] duration. *clock is
 * the running received_at.
 */
static void
make_event(struct event *ev, const uint8_t *b, int64_t *clock)
{
    static const double odd[] = {NAN, -1, 1e300, 100.0000001, INFINITY, -0.0};
    unsigned flags = b[1];
    unsigned raw = (unsigned)b[2] << 8 | b[3];

    event_init(ev);
    ev->kind = (b[0] & 0xc0) == 0xc0 ? EVENT_HISTORY : EVENT_SCROBBLE;
    ev->action =
        fuzz_actions[b[0] % (sizeof(fuzz_actions) / sizeof(fuzz_actions[0]))];
    ev->has_progress = flags & 0x01;
    if (flags & 0x80)
        ev->progress = odd[raw % (sizeof(odd) / sizeof(odd[0]))];
    else
        ev->progress = (double)raw / 600.0; /* 0 to 109 */
    ev->paused = tristate(flags >> 1);
    ev->completed = tristate(flags >> 3);
    ev->duration_ms = (flags & 0x20) ? (int64_t)(b[6] << 8 | b[7]) * 1000 : -1;
    *clock += (int64_t)b[4] * ((flags & 0x40) ? 3600 : 1);
    ev->received_at = *clock;
    ev->occurred_at = *clock + (int64_t)(int8_t)b[5] * 4; /* +-8.5 min */
    if (ev->occurred_at < 1)
        ev->occurred_at = 1;
}

static void
check_session(const struct scrobble_session *s)
{
    if ((int)s->state < 0 || s->state >= SCROBBLE_STATE_MAX ||
        s->generation < 1 || !progress_ok(s->last_progress) ||
        !progress_ok(s->high_progress))
        abort();
}

/* to_fields(from_fields(to_fields(s))) == to_fields(s): what Redis keeps
 * is what the next step sees. */
static void
check_fields(const struct scrobble_session *s)
{
    const char *f1[SCROBBLE_FIELDS], *f2[SCROBBLE_FIELDS];
    char *v1[SCROBBLE_FIELDS], *v2[SCROBBLE_FIELDS];
    struct scrobble_session back;

    scrobble_to_fields(s, f1, v1);
    scrobble_from_fields(&back, f1, (const char *const *)v1, SCROBBLE_FIELDS);
    check_session(&back);
    scrobble_to_fields(&back, f2, v2);
    for (int i = 0; i < SCROBBLE_FIELDS; i++) {
        if (f1[i] == NULL || v1[i] == NULL || strcmp(f1[i], f2[i]) != 0 ||
            strcmp(v1[i], v2[i]) != 0)
            abort();
        free(v1[i]);
        free(v2[i]);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *fields[FUZZ_FIELDS_MAX], *values[FUZZ_FIELDS_MAX];
    struct scrobble_params params;
    struct scrobble_session s;
    struct scrobble_decision d;
    const uint8_t *nul;
    char *text, *line, *next;
    size_t tlen, n = 0, n_ev = 0;
    int64_t clock = FUZZ_T0;

    if (size > 1 << 20)
        return 0;
    nul = memchr(data, '\0', size);
    tlen = nul != NULL ? (size_t)(nul - data) : size;
    text = xstrndup((const char *)data, tlen);
    for (line = text; line != NULL && n < FUZZ_FIELDS_MAX; line = next) {
        char *eq;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        eq = strchr(line, '=');
        if (eq != NULL)
            *eq = '\0';
        fields[n] = line;
        values[n] = eq != NULL ? eq + 1 : NULL;
        n++;
    }
    scrobble_from_fields(&s, fields, values, n);
    check_session(&s);
    free(text);

    scrobble_params_default(&params);
    data += tlen;
    size -= tlen;
    if (size >= 2) {
        params.watched_percent = fuzz_watched[data[1] % 4];
        data += 2;
        size -= 2;
    }
    for (; size >= FUZZ_EV_BYTES && n_ev < FUZZ_EVENTS_MAX; n_ev++) {
        struct event ev;

        make_event(&ev, data, &clock);
        scrobble_step(&params, &s, &ev, &d);
        check_session(&s);
        if (d.emit >= SCROBBLE_EMIT_MAX || !progress_ok(d.progress) ||
            d.generation < 1 || d.generation != s.generation || d.why == NULL)
            abort();
        if (d.emit == SCROBBLE_EMIT_COMPLETE &&
            (d.watched_at != ev.occurred_at || d.progress < 0))
            abort();
        if (d.emit == SCROBBLE_EMIT_START && d.progress < 0)
            abort();
        event_release(&ev);
        data += FUZZ_EV_BYTES;
        size -= FUZZ_EV_BYTES;
    }
    check_fields(&s);
    return 0;
}
