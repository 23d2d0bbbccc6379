/*
 * queue: the only module that talks to Redis (hiredis 0.14 async on the
 * libevent loop). It keeps one command connection, reconnects with backoff,
 * watches in-flight commands with a watchdog, and offers the few operations
 * the daemon needs. A blocking client for the CLI is at the end.
 */
#ifndef WR_QUEUE_H
#define WR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct queue;

enum queue_state { QUEUE_DOWN, QUEUE_CONNECTING, QUEUE_UP, QUEUE_STATE_MAX };

const char *queue_state_name(enum queue_state s);

/* Called whenever the connection goes up or down. */
typedef void (*queue_state_cb)(enum queue_state state, void *arg);

/*
 * A Redis location: "redis://IP:PORT[/DB]" or "unix:/path". NULL with err
 * on a bad URL. The queue starts connecting at once. Owned (queue_free).
 */
struct queue *queue_new(struct event_base *base, const char *url,
                        const char *prefix, int timeout_ms, queue_state_cb cb,
                        void *arg, char *err, size_t errlen);
/* Fails every in-flight command (their callbacks see failure) and frees. */
void queue_free(struct queue *q);

enum queue_state queue_state(const struct queue *q);
/* The reason of the last failure, "" if none. Borrowed. */
const char *queue_errstr(const struct queue *q);

/*
 * Queue n events durably: for each, SET <prefix>seen:<id> NX EX 3600 and,
 * when the id was new, XADD <prefix>events * event <json>, all in one Lua
 * script (atomic). On success cb gets ok = true and added[i] = 1 for a
 * queued event, 0 for a duplicate; on failure (Redis down, error reply,
 * watchdog) ok = false and added = NULL. cb is always called exactly once,
 * possibly from inside queue_free. Arrays are borrowed for the call only.
 * Returns -1 (cb not called) if the command could not even be sent.
 */
typedef void (*queue_add_cb)(bool ok, const int *added, size_t n, void *arg);
int queue_add_events(struct queue *q, const char *const *ids,
                     const char *const *jsons, const size_t *lens, size_t n,
                     queue_add_cb cb, void *arg);

/* A reply, copied out of hiredis; borrowed by the callback. */
enum qreply_type {
    QREPLY_NIL,
    QREPLY_INT,
    QREPLY_STR,
    QREPLY_STATUS,
    QREPLY_ERR,
    QREPLY_ARR
};

struct qreply {
    enum qreply_type type;
    long long integer;
    char *str; /* STR, STATUS, ERR: NUL-terminated, len bytes */
    size_t len;
    struct qreply **elem; /* ARR */
    size_t n;
};

void qreply_free(struct qreply *r);

/*
 * Called once per command: r is the reply (an error reply included), or
 * NULL when the command failed (connection lost, watchdog, shutdown).
 */
typedef void (*queue_reply_cb)(const struct qreply *r, void *arg);

/*
 * Send one command (lens NULL: NUL-terminated arguments). 0, or -1 when
 * Redis is not up (cb not called). Arguments are copied.
 */
int queue_cmd(struct queue *q, queue_reply_cb cb, void *arg, int argc,
              const char *const *argv, const size_t *lens);
/*
 * Register a Lua script (body borrowed: a string literal); it is loaded on
 * every connect before the queue reports UP. Register right after
 * queue_new. Returns its handle, or -1.
 */
int queue_script_add(struct queue *q, const char *body);
/* EVALSHA the script with nkeys keys followed by the other arguments. */
int queue_eval(struct queue *q, int script, queue_reply_cb cb, void *arg,
               int nkeys, int argc, const char *const *argv,
               const size_t *lens);
/* The key prefix. Borrowed. */
const char *queue_prefix(const struct queue *q);

/* XLEN <prefix><stream>; cb gets -1 on failure. */
typedef void (*queue_len_cb)(int64_t len, void *arg);
int queue_stream_len(struct queue *q, const char *stream, queue_len_cb cb,
                     void *arg);

/*
 * Blocking helpers for CLI commands (never used inside the daemon's loop).
 * queue_sync_tail prints the last n entries of <prefix>events, oldest first,
 * one event JSON a line, to out. 0 or -1 with err.
 */
struct queue_sync;
struct queue_sync *queue_sync_connect(const char *url, int timeout_ms,
                                      char *err, size_t errlen);
void queue_sync_free(struct queue_sync *qs);
int queue_sync_tail(struct queue_sync *qs, const char *prefix, int n,
                    void (*emit)(const char *json, size_t len, void *arg),
                    void *arg, char *err, size_t errlen);
int64_t queue_sync_xlen(struct queue_sync *qs, const char *key);
/* One blocking command; owned reply (qreply_free), NULL on I/O failure. */
struct qreply *queue_sync_cmd(struct queue_sync *qs, int argc,
                              const char *const *argv, const size_t *lens);

/*
 * Pipelining for bulk CLI writes: append commands, then drain their n
 * replies. drain returns -1 with err on I/O failure or when any reply was
 * an error (the first one is reported; the rest are still read).
 */
int queue_sync_append(struct queue_sync *qs, int argc, const char *const *argv,
                      const size_t *lens);
int queue_sync_drain(struct queue_sync *qs, size_t n, char *err, size_t errlen);

/* Parse a Redis URL; host gets the IP or the unix path. 0 or -1 with err. */
int queue_parse_url(const char *url, char *host, size_t hostlen, int *port,
                    int *db, bool *is_unix, char *err, size_t errlen);

#endif
