#include "poll.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "log.h"
#include "util.h"

#define POLL_FIRST_S 2 /* the first delta poll, after start */

struct poll_pair {
    struct poll *p;
    const struct pair_conf *pc;
    struct event *delta_ev, *rc_ev;
    pid_t child;
    bool child_delta;
    bool want_reconcile; /* a reconcile came due while a run was going */
    int64_t runs;
    int last_status; /* -1 none yet */
    int64_t last_end;
};

struct poll {
    struct event_base *base;
    const struct config *cfg;
    const char *cfg_path;
    char exe[4096];
    struct poll_pair *pairs;
    size_t n;
    struct event *chld_ev;
    bool stopping;
};

/* interval +- 10 %, in whole seconds. */
static struct timeval
jittered(int interval_s)
{
    int span = interval_s / 10, off = 0;
    struct timeval tv;
    char hex[9];

    if (span > 0 && random_hex(hex, 4) == 0)
        off = (int)(strtoul(hex, NULL, 16) % (unsigned long)(2 * span + 1)) -
              span;
    tv.tv_sec = interval_s + off;
    tv.tv_usec = 0;
    return tv;
}

static void
spawn(struct poll_pair *pp, bool delta)
{
    struct poll *p = pp->p;
    pid_t pid;

    if (p->stopping)
        return;
    if (pp->child > 0) {
        if (!delta)
            pp->want_reconcile = true;
        log_debug("msg=\"sync still running\" pair=%s", pp->pc->id);
        return;
    }
    pid = fork();
    if (pid < 0) {
        log_error("msg=\"cannot start a sync\" pair=%s error=\"%s\"",
                  pp->pc->id, strerror(errno));
        return;
    }
    if (pid == 0) {
        /* The child: stdout (the printed plan summary) joins the log on
         * stderr; nothing else of the daemon is used. */
        const char *argv[10];
        int n = 0;
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(2, 1);
        /* The daemon's sockets (listener, Redis) are not the child's. */
        {
            long max = sysconf(_SC_OPEN_MAX);

            if (max < 0 || max > 65536)
                max = 65536;
            for (int fd = 3; fd < (int)max; fd++)
                (void)close(fd);
        }
        argv[n++] = "watchrelay";
        argv[n++] = "-c";
        argv[n++] = p->cfg_path;
        argv[n++] = "sync";
        argv[n++] = "--pair";
        argv[n++] = pp->pc->id;
        if (delta)
            argv[n++] = "--delta";
        argv[n++] = "--quiet";
        argv[n] = NULL;
        execv(p->exe, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    pp->child = pid;
    pp->child_delta = delta;
    pp->runs++;
    log_info("msg=\"sync started\" pair=%s kind=%s pid=%d", pp->pc->id,
             delta ? "delta" : "reconcile", (int)pid);
}

static void
on_delta(evutil_socket_t fd, short what, void *arg)
{
    struct poll_pair *pp = arg;
    struct timeval tv = jittered(pp->pc->interval_s);

    (void)fd;
    (void)what;
    spawn(pp, true);
    if (!pp->p->stopping)
        evtimer_add(pp->delta_ev, &tv);
}

static void
on_reconcile(evutil_socket_t fd, short what, void *arg)
{
    struct poll_pair *pp = arg;
    struct timeval tv = jittered(pp->pc->reconcile_interval_s);

    (void)fd;
    (void)what;
    spawn(pp, false);
    if (!pp->p->stopping)
        evtimer_add(pp->rc_ev, &tv);
}

static void
on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    struct poll *p = arg;

    (void)fd;
    (void)what;
    /* Reap only our own children (the embedded Redis is someone else's). */
    for (size_t i = 0; i < p->n; i++) {
        struct poll_pair *pp = &p->pairs[i];
        int st;
        pid_t r;

        if (pp->child <= 0)
            continue;
        r = waitpid(pp->child, &st, WNOHANG);
        if (r != pp->child)
            continue;
        pp->last_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        pp->last_end = wr_now();
        if (pp->last_status == 0)
            log_info("msg=\"sync finished\" pair=%s kind=%s", pp->pc->id,
                     pp->child_delta ? "delta" : "reconcile");
        else
            log_warn("msg=\"sync failed\" pair=%s kind=%s status=%d",
                     pp->pc->id, pp->child_delta ? "delta" : "reconcile",
                     pp->last_status);
        pp->child = 0;
        if (pp->want_reconcile) {
            pp->want_reconcile = false;
            spawn(pp, false);
        }
    }
}

struct poll *
poll_new(struct event_base *base, const struct config *cfg,
         const char *cfg_path, char *err, size_t errlen)
{
    struct poll *p = xcalloc(1, sizeof(*p));
    ssize_t n;

    p->base = base;
    p->cfg = cfg;
    p->cfg_path = cfg_path;
    if (cfg->n_pairs == 0)
        return p;
    n = readlink("/proc/self/exe", p->exe, sizeof(p->exe) - 1);
    if (n <= 0) {
        snprintf(err, errlen, "cannot find the watchrelay executable: %s",
                 strerror(errno));
        free(p);
        return NULL;
    }
    p->exe[n] = '\0';
    p->chld_ev = evsignal_new(base, SIGCHLD, on_sigchld, p);
    if (p->chld_ev == NULL || event_add(p->chld_ev, NULL) != 0) {
        snprintf(err, errlen, "cannot watch child processes");
        poll_free(p);
        return NULL;
    }
    p->pairs = xcalloc(cfg->n_pairs, sizeof(*p->pairs));
    p->n = cfg->n_pairs;
    for (size_t i = 0; i < p->n; i++) {
        struct poll_pair *pp = &p->pairs[i];
        struct timeval first = {POLL_FIRST_S + (time_t)i, 0};
        struct timeval rc = jittered(cfg->pairs[i].reconcile_interval_s);

        pp->p = p;
        pp->pc = &cfg->pairs[i];
        pp->last_status = -1;
        pp->delta_ev = evtimer_new(base, on_delta, pp);
        pp->rc_ev = evtimer_new(base, on_reconcile, pp);
        if (pp->delta_ev == NULL || pp->rc_ev == NULL ||
            evtimer_add(pp->delta_ev, &first) != 0 ||
            evtimer_add(pp->rc_ev, &rc) != 0) {
            snprintf(err, errlen, "cannot schedule pair %s", pp->pc->id);
            poll_free(p);
            return NULL;
        }
    }
    log_info("msg=\"poller started\" pairs=%zu", p->n);
    return p;
}

void
poll_stop(struct poll *p)
{
    if (p == NULL)
        return;
    p->stopping = true;
    for (size_t i = 0; i < p->n; i++) {
        struct poll_pair *pp = &p->pairs[i];

        if (pp->delta_ev)
            evtimer_del(pp->delta_ev);
        if (pp->rc_ev)
            evtimer_del(pp->rc_ev);
        if (pp->child > 0) {
            int st;

            /* A sync commits in one MULTI: stopping it mid-way loses
             * nothing (its watermark did not move). */
            kill(pp->child, SIGTERM);
            if (waitpid(pp->child, &st, 0) == pp->child)
                pp->child = 0;
        }
    }
}

void
poll_free(struct poll *p)
{
    if (p == NULL)
        return;
    poll_stop(p);
    for (size_t i = 0; i < p->n; i++) {
        if (p->pairs[i].delta_ev)
            event_free(p->pairs[i].delta_ev);
        if (p->pairs[i].rc_ev)
            event_free(p->pairs[i].rc_ev);
    }
    if (p->chld_ev)
        event_free(p->chld_ev);
    free(p->pairs);
    free(p);
}

void
poll_status(const struct poll *p, struct json_object *out)
{
    struct json_object *arr = json_object_new_array();

    for (size_t i = 0; p != NULL && i < p->n; i++) {
        const struct poll_pair *pp = &p->pairs[i];
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "pair", json_object_new_string(pp->pc->id));
        json_object_object_add(o, "running",
                               json_object_new_boolean(pp->child > 0));
        json_object_object_add(o, "runs", json_object_new_int64(pp->runs));
        json_object_object_add(o, "last_status",
                               json_object_new_int(pp->last_status));
        json_object_array_add(arr, o);
    }
    json_object_object_add(out, "poller", arr);
}
