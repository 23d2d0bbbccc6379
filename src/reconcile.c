#include "reconcile.h"

#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "adapter.h"
#include "authstore.h"
#include "cli.h"
#include "event.h"
#include "fetch.h"
#include "jsonu.h"
#include "log.h"
#include "plan.h"
#include "queue.h"
#include "util.h"

#define RC_INFLIGHT_TTL_S  (6 * 3600)   /* an unsettled plan is re-planned */
#define RC_TOMB_TTL_S      (14 * 86400) /* SYNC.md 6.6 */
#define RC_CONFIRMED_TTL_S (30 * 86400) /* phantom memory */
#define RC_QUARANTINE_S    (7 * 86400)  /* doubled on each re-entry */
#define RC_FAILURES        3            /* consecutive, then quarantine */
#define RC_STRIKES         2            /* phantom strikes, then quarantine */
#define RC_MAX_PAGES       100000
#define RC_MAX_TRIES       5
#define RC_CHUNK           1000 /* fields or commands per Redis pipeline step */

static const enum adapter_feature rc_order[] = {
    ADAPTER_HISTORY, ADAPTER_WATCHLIST, ADAPTER_RATINGS, ADAPTER_PROGRESS,
    ADAPTER_PLAYLISTS};

/* ---- providers -------------------------------------------------------- */

struct rc_prov {
    char *name;
    const struct adapter_ops *ad;
    void *ctx;
    int conf_idx;
};

struct rc {
    const struct config *cfg;
    const char *prefix;
    struct cli_redis cr;
    struct event_base *base;
    struct fetch *fetch;
    struct rc_prov provs[CONFIG_PROVIDER_MAX];
    size_t nprovs;
    /* options */
    const char *only_pair;
    int only_feature; /* -1 all */
    bool dry_run, json, quiet, delta, allow_mass;
    char **trust;
    size_t ntrust;
    int64_t run_id;
    int failures; /* features skipped because a side failed */
    double read_s, plan_s, plan_cpu_s, write_s;
    long plan_rss_kb;
    long peak_kb;     /* the process's peak before each reset_peak */
    long rows_rss_kb; /* RSS holding the rows, when planning starts */
    size_t items_read;
};

static double
mono_s(void)
{
    return (double)wr_mono_ms() / 1000.0;
}

static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmHWM (peak) or VmRSS of this process in kB from /proc, 0 if unknown. */
static long
proc_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(field);

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Give freed read buffers back and restart the peak-RSS count, so the
 * planning step's own peak can be measured (Linux clear_refs "5"). */
static void
reset_peak(void)
{
    FILE *f;

    malloc_trim(0);
    f = fopen("/proc/self/clear_refs", "w");
    if (f != NULL) {
        fputs("5", f);
        fclose(f);
    }
}

static long
maxrss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static struct rc_prov *
rc_prov(struct rc *rc, const char *name, char *err, size_t errlen)
{
    struct rc_prov *p;
    struct adapter_tokens saved;
    char aerr[256];
    int ci, lr;

    for (size_t i = 0; i < rc->nprovs; i++)
        if (strcmp(rc->provs[i].name, name) == 0)
            return &rc->provs[i];
    ci = config_provider_from_name(name);
    p = &rc->provs[rc->nprovs];
    memset(p, 0, sizeof(*p));
    p->ad = adapter_find(name);
    if (p->ad == NULL || p->ad->init == NULL || ci < 0) {
        snprintf(err, errlen, "%s has no adapter for delta sync yet", name);
        return NULL;
    }
    if (!rc->cfg->providers[ci].present) {
        snprintf(err, errlen, "providers.%s is not configured", name);
        return NULL;
    }
    memset(&saved, 0, sizeof(saved));
    lr = authstore_load(rc->cfg->state_dir, name, &saved, aerr, sizeof(aerr));
    p->ctx = p->ad->init(&rc->cfg->providers[ci], lr == 0 ? &saved : NULL,
                         rc->cfg->state_dir, err, errlen);
    adapter_tokens_release(&saved);
    if (p->ctx == NULL)
        return NULL;
    p->name = xstrdup(name);
    p->conf_idx = ci;
    rc->nprovs++;
    return p;
}

/* ---- HTTP on a private loop ------------------------------------------- */

/* One request, run to completion on the private loop. */
static int
rc_request(struct rc *rc, const struct http_request *req,
           struct http_response *out)
{
    return cli_request(rc->base, rc->fetch, req, out);
}

static void
rc_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* After a 401: take tokens the daemon may have refreshed meanwhile, else
 * refresh ourselves (and save the new pair before using it). */
static int
rc_refresh(struct rc *rc, struct rc_prov *p, char *err, size_t errlen)
{
    struct http_request req;
    struct http_response resp;
    struct adapter_tokens t;
    char aerr[256];
    int ok = -1;

    if (p->ad->build_refresh == NULL || p->ad->parse_refresh == NULL) {
        snprintf(err, errlen, "%s rejected the credentials (401)", p->name);
        return -1;
    }
    http_request_init(&req);
    http_response_init(&resp);
    memset(&t, 0, sizeof(t));
    if (p->ad->build_refresh(p->ctx, &req, err, errlen) != 0 ||
        rc_request(rc, &req, &resp) != 0 ||
        p->ad->parse_refresh(p->ctx, &resp, &t, err, errlen) != 0)
        goto done;
    if (authstore_save(rc->cfg->state_dir, p->name, &t, aerr, sizeof(aerr)) !=
        0) {
        snprintf(err, errlen, "cannot save refreshed %s tokens: %.200s",
                 p->name, aerr);
        goto done;
    }
    p->ad->set_tokens(p->ctx, &t);
    ok = 0;
done:
    adapter_tokens_release(&t);
    http_request_release(&req);
    http_response_release(&resp);
    return ok;
}

/* ---- reading a feature ------------------------------------------------ */

struct rows {
    struct adapter_entry *v;
    size_t n, cap;
    int64_t watermark;
};

static void
rows_take(struct rows *r, struct adapter_page *pg)
{
    if (r->n + pg->n > r->cap) {
        while (r->n + pg->n > r->cap)
            r->cap = r->cap ? r->cap * 2 : 1024;
        r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    if (pg->n > 0)
        memcpy(r->v + r->n, pg->rows, pg->n * sizeof(*pg->rows));
    /* The last page: give back what doubling reserved. */
    if (pg->next_cursor == NULL && r->n + pg->n > 0 && r->n + pg->n < r->cap) {
        r->cap = r->n + pg->n;
        r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    r->n += pg->n;
    if (pg->watermark > r->watermark)
        r->watermark = pg->watermark;
    free(pg->rows);
    pg->rows = NULL;
    pg->n = 0;
}

static void
rows_release(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        item_release(&r->v[i].item);
        free(r->v[i].list);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* One read request with the retries a reader may do: 429 waits as told,
 * 5xx and transport failures back off, a 401 refreshes once. */
static int
rc_fetch(struct rc *rc, struct rc_prov *p, const struct http_request *req,
         struct http_response *resp, char *err, size_t errlen)
{
    bool refreshed = false;

    for (int attempt = 0; attempt < RC_MAX_TRIES; attempt++) {
        long st;

        http_response_init(resp);
        if (rc_request(rc, req, resp) != 0) {
            snprintf(err, errlen, "cannot send a request to %s", p->name);
            return -1;
        }
        st = resp->status;
        if (st == 401 && !refreshed && p->ad->build_refresh != NULL) {
            http_response_release(resp);
            if (rc_refresh(rc, p, err, errlen) != 0)
                return -1;
            refreshed = true;
            /* The request carries the old token: the caller rebuilds. */
            return 1;
        }
        if (st == 429 || st == 0 || st >= 500) {
            const char *ra = http_response_header(resp, "Retry-After");
            int64_t wait = 1000LL << attempt;
            int64_t v;

            if (ra != NULL && parse_i64(ra, 0, 3600, &v) == 0)
                wait = v * 1000 + 50;
            if (attempt + 1 < RC_MAX_TRIES) {
                log_info("msg=\"read retried\" provider=%s status=%ld "
                         "wait_ms=%" PRId64,
                         p->name, st, wait);
                http_response_release(resp);
                rc_sleep_ms(wait);
                continue;
            }
        }
        return 0;
    }
    return 0;
}

/* A feature's rows: its whole present state, or (delta) what changed since
 * `since`. 0, or -1 with err: the read failed or was incomplete, and must
 * not be taken as present state. */
static int
rc_read(struct rc *rc, struct rc_prov *p, enum adapter_feature f, bool delta,
        int64_t since, struct rows *out, char *err, size_t errlen)
{
    const struct adapter_ops *a = p->ad;
    char *cursor = NULL;
    int rc_ = -1;

    if (!(a->features & ADAPTER_BIT(f))) {
        snprintf(err, errlen, "%s cannot be read for %s", p->name,
                 adapter_feature_name(f));
        return -1;
    }
    if (delta && !(a->delta_features & ADAPTER_BIT(f)))
        delta = false;
    if (a->read_index != NULL) {
        struct adapter_page pg;

        memset(&pg, 0, sizeof(pg));
        if (a->read_index(p->ctx, f, &pg, err, errlen) != 0)
            return -1;
        rows_take(out, &pg);
        adapter_page_release(&pg);
        return 0;
    }
    for (int pages = 0; pages < RC_MAX_PAGES; pages++) {
        struct http_request req;
        struct http_response resp;
        struct adapter_page pg;
        int got = 1, built;

        for (int again = 0; got == 1 && again < 2; again++) {
            http_request_init(&req);
            built = delta
                        ? a->build_delta(p->ctx, f, since, cursor, &req, err,
                                         errlen)
                        : a->build_index(p->ctx, f, cursor, &req, err, errlen);
            if (built != 0) {
                http_request_release(&req);
                goto done;
            }
            got = rc_fetch(rc, p, &req, &resp, err, errlen);
            http_request_release(&req);
            if (got < 0)
                goto done;
        }
        if (got != 0) {
            snprintf(err, errlen, "%s still rejects the credentials", p->name);
            goto done;
        }
        memset(&pg, 0, sizeof(pg));
        if ((delta ? a->parse_delta(p->ctx, f, &resp, &pg, err, errlen)
                   : a->parse_index(p->ctx, f, &resp, &pg, err, errlen)) != 0) {
            http_response_release(&resp);
            adapter_page_release(&pg);
            goto done;
        }
        http_response_release(&resp);
        rows_take(out, &pg);
        free(cursor);
        cursor = pg.next_cursor;
        pg.next_cursor = NULL;
        adapter_page_release(&pg);
        if (cursor == NULL) {
            rc_ = 0;
            goto done;
        }
    }
    snprintf(err, errlen, "%s: more than %d pages", p->name, RC_MAX_PAGES);
done:
    free(cursor);
    return rc_;
}

/* The provider's change checkpoint for f, 0 when it has none or the read
 * failed (a failed checkpoint counts as not advanced). */
static int64_t
rc_checkpoint(struct rc *rc, struct rc_prov *p, enum adapter_feature f)
{
    int64_t cps[ADAPTER_FEATURE_MAX] = {0};
    char err[256];

    if (p->ad->read_activities != NULL) {
        if (p->ad->read_activities(p->ctx, cps, err, sizeof(err)) != 0)
            return 0;
        return cps[f];
    }
    if (p->ad->build_activities != NULL && p->ad->parse_activities != NULL) {
        for (int again = 0; again < 2; again++) {
            struct http_request req;
            struct http_response resp;
            int got;

            http_request_init(&req);
            if (p->ad->build_activities(p->ctx, &req, err, sizeof(err)) != 0) {
                http_request_release(&req);
                return 0;
            }
            got = rc_fetch(rc, p, &req, &resp, err, sizeof(err));
            http_request_release(&req);
            if (got < 0)
                return 0;
            if (got == 1)
                continue;
            if (p->ad->parse_activities(p->ctx, &resp, cps, err, sizeof(err)) !=
                0)
                cps[f] = 0;
            http_response_release(&resp);
            return cps[f];
        }
    }
    return 0;
}

/* ---- Redis state ------------------------------------------------------ */

static char *
rc_key(const struct rc *rc, const char *what, const char *pair, int side,
       enum adapter_feature f)
{
    return reconcile_key(rc->prefix, what, pair, side, f);
}

static struct qreply *
rc_cmd(struct rc *rc, int argc, const char *const *argv)
{
    return queue_sync_cmd(rc->cr.qs, argc, argv, NULL);
}

/* HGETALL key into a callback per field. -1 on Redis failure. */
static int
rc_hgetall(struct queue_sync *qs, const char *key,
           void (*each)(const char *f, const char *v, void *arg), void *arg)
{
    const char *argv[] = {"HGETALL", key};
    struct qreply *r = queue_sync_cmd(qs, 2, argv, NULL);

    if (r == NULL || r->type != QREPLY_ARR) {
        qreply_free(r);
        return -1;
    }
    for (size_t i = 0; i + 1 < r->n; i += 2)
        each(r->elem[i]->str ? r->elem[i]->str : "",
             r->elem[i + 1]->str ? r->elem[i + 1]->str : "", arg);
    qreply_free(r);
    return 0;
}

static void
each_time(const char *f, const char *v, void *arg)
{
    int64_t t;

    if (parse_i64(v, INT64_MIN, INT64_MAX, &t) == 0)
        smap_put(arg, f, t);
}

static void
each_until(const char *f, const char *v, void *arg)
{
    struct json_object *o = json_tokener_parse(v);
    struct json_object *u;

    if (o != NULL && json_object_object_get_ex(o, "until", &u))
        smap_put(arg, f, json_object_get_int64(u));
    json_object_put(o);
}

struct base_load {
    struct pset *s;
    size_t bad;
};

static void
each_base(const char *f, const char *v, void *arg)
{
    struct base_load *bl = arg;

    if (pset_add_baseline(bl->s, f, v) != 0)
        bl->bad++;
}

static void
each_meta(const char *f, const char *v, void *arg)
{
    json_object_object_add(arg, f, json_object_new_string(v));
}

static int64_t
meta_i64(struct json_object *meta, const char *name)
{
    struct json_object *v;
    int64_t out = 0;

    if (json_object_object_get_ex(meta, name, &v))
        (void)parse_i64(json_object_get_string(v), INT64_MIN, INT64_MAX, &out);
    return out;
}

/* ---- the plan's events ------------------------------------------------ */

static enum event_kind
feature_kind(enum adapter_feature f)
{
    return f == ADAPTER_HISTORY     ? EVENT_HISTORY
           : f == ADAPTER_WATCHLIST ? EVENT_WATCHLIST
           : f == ADAPTER_RATINGS   ? EVENT_RATING
           : f == ADAPTER_PROGRESS  ? EVENT_PROGRESS
                                    : EVENT_PLAYLIST;
}

static enum event_action
plan_event_action(enum plan_action a)
{
    return a == PLAN_ADD      ? EVENT_ADD
           : a == PLAN_REMOVE ? EVENT_REMOVE
           : a == PLAN_SET    ? EVENT_SET
                              : EVENT_CLEAR;
}

/* The key the plan and the applier's report agree on for op. */
static const char *
plan_op_key(const struct plan_op *op)
{
    return (op->action == PLAN_ADD || op->action == PLAN_SET) ? op->from->key
                                                              : op->on->key;
}

/* Event JSON for one operation that goes; owned string. */
static char *
plan_event(struct rc *rc, const struct pair_conf *pc, enum adapter_feature f,
           const struct plan_side *sides, const struct plan_op *op)
{
    const struct pent *src =
        (op->action == PLAN_ADD || op->action == PLAN_SET) ? op->from : op->on;
    const struct plan_side *to = &sides[op->side];
    struct event ev;
    struct json_object *o;
    struct buf b;
    unsigned char md[32];
    char *out;

    event_init(&ev);
    ev.source = xstrdup(sides[1 - op->side].instance);
    ev.kind = feature_kind(f);
    ev.action = plan_event_action(op->action);
    ev.received_at = wr_now();
    ev.pair = xstrdup(pc->id);
    item_copy(&ev.item, &src->row->item);
    if (op->local_id != NULL && to->ad->has_local_id)
        (void)item_ids_set(&ev.item.ids, to->ad->local_id, op->local_id);
    if (op->action == PLAN_ADD && f == ADAPTER_HISTORY)
        ev.watched_at = op->watched_at;
    if (op->action == PLAN_SET)
        ev.rating = op->rating;
    ev.source_ts = op->action == PLAN_SET ? op->rated_at : op->watched_at;
    event_finish(&ev);
    free(ev.key);
    ev.key = xstrdup(plan_op_key(op));
    /* Distinct per run: a re-plan after a failure is a new operation. */
    buf_init(&b);
    buf_printf(&b, "rc|%s|%" PRId64 "|%d|%s|%s|%s|%" PRId64 "|%d", pc->id,
               rc->run_id, op->side, event_kind_name(ev.kind),
               event_action_name(ev.action), ev.key, ev.watched_at, ev.rating);
    sha256(b.data, b.len, md);
    hex_encode(md, EVENT_ID_LEN / 2, ev.id);
    buf_release(&b);
    o = event_to_json(&ev);
    out = xstrdup(json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    event_release(&ev);
    return out;
}

/* ---- printing --------------------------------------------------------- */

static void
print_time(int64_t t, char buf[WR_TIME_BUF])
{
    if (t > 0)
        wr_time_format(t, buf);
    else
        snprintf(buf, WR_TIME_BUF, "-");
}

static void
print_plan_text(struct rc *rc, const struct pair_conf *pc,
                enum adapter_feature f, const struct plan_side *sides,
                const struct plan *p)
{
    const char *fn = adapter_feature_name(f);

    printf("pair %s %s%s: %s %zu items%s, %s %zu items%s\n", pc->id, fn,
           rc->delta ? " (delta)" : "", sides[0].instance,
           pset_present(&sides[0].now), rc->delta ? " changed" : "",
           sides[1].instance, pset_present(&sides[1].now),
           sides[1].has_base && sides[1].now.n == 0 ? " (baseline)" : "");
    for (int x = 0; x < 2; x++)
        if (p->drop_note[x][0] != '\0')
            printf("  drop guard: %s\n", p->drop_note[x]);
    for (int x = 0; x < 2; x++)
        if (p->mass_refused[x])
            printf("  mass-delete guard: refused %zu removes on %s (limit "
                   "%zu); sync --allow-mass-delete lifts it for one run\n",
                   p->mass_planned[x], sides[x].instance, p->mass_limit[x]);
    if (rc->quiet)
        return;
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_op *op = &p->ops[i];
        const struct pent *e = op->action == PLAN_ADD || op->action == PLAN_SET
                                   ? op->from
                                   : op->on;
        char tb[WR_TIME_BUF], title[256];

        if (e == NULL)
            e = op->from;
        print_time(op->watched_at, tb);
        printf("  %-8s %-6s %-40s %-28s %-14s", sides[op->side].instance,
               plan_action_name(op->action), e->key,
               pent_title(e, title, sizeof(title)), plan_guard_name(op->guard));
        if (op->action == PLAN_ADD && f == ADAPTER_HISTORY)
            printf(" watched_at=%s", tb);
        if (op->action == PLAN_SET)
            printf(" rating=%d", op->rating);
        if (op->phantom_strike)
            printf(" phantom-strike");
        printf(" (%s)\n", op->note);
    }
}

static struct json_object *
plan_json(struct rc *rc, const struct pair_conf *pc, enum adapter_feature f,
          const struct plan_side *sides, const struct plan *p)
{
    struct json_object *o = json_object_new_object();
    struct json_object *arr = json_object_new_array();
    struct json_object *ss = json_object_new_array();

    json_object_object_add(o, "pair", json_object_new_string(pc->id));
    json_object_object_add(o, "feature",
                           json_object_new_string(adapter_feature_name(f)));
    json_object_object_add(o, "delta", json_object_new_boolean(rc->delta));
    json_object_object_add(o, "dry_run", json_object_new_boolean(rc->dry_run));
    for (int x = 0; x < 2; x++) {
        struct json_object *s = json_object_new_object();

        json_object_object_add(s, "instance",
                               json_object_new_string(sides[x].instance));
        json_object_object_add(
            s, "items",
            json_object_new_int64((int64_t)pset_present(&sides[x].now)));
        json_object_object_add(
            s, "baseline",
            json_object_new_int64(sides[x].has_base
                                      ? (int64_t)pset_present(&sides[x].base)
                                      : -1));
        json_object_object_add(s, "suspect",
                               json_object_new_boolean(sides[x].suspect));
        if (p->drop_note[x][0] != '\0')
            json_object_object_add(s, "drop_guard",
                                   json_object_new_string(p->drop_note[x]));
        json_object_object_add(s, "mass_delete_refused",
                               json_object_new_boolean(p->mass_refused[x]));
        json_object_object_add(
            s, "mass_delete_planned",
            json_object_new_int64((int64_t)p->mass_planned[x]));
        json_object_object_add(
            s, "mass_delete_limit",
            json_object_new_int64((int64_t)p->mass_limit[x]));
        json_object_array_add(ss, s);
    }
    json_object_object_add(o, "sides", ss);
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_op *op = &p->ops[i];
        const struct pent *e =
            (op->action == PLAN_ADD || op->action == PLAN_SET) ? op->from
                                                               : op->on;
        struct json_object *j = json_object_new_object();

        if (e == NULL)
            e = op->from;
        json_object_object_add(
            j, "side", json_object_new_string(sides[op->side].instance));
        json_object_object_add(
            j, "action", json_object_new_string(plan_action_name(op->action)));
        json_object_object_add(j, "key", json_object_new_string(e->key));
        {
            char title[256];

            json_object_object_add(
                j, "title",
                json_object_new_string(pent_title(e, title, sizeof(title))));
        }
        json_object_object_add(
            j, "guard", json_object_new_string(plan_guard_name(op->guard)));
        json_object_object_add(j, "note", json_object_new_string(op->note));
        if (op->action == PLAN_ADD && f == ADAPTER_HISTORY) {
            char tb[WR_TIME_BUF];

            print_time(op->watched_at, tb);
            json_object_object_add(j, "watched_at", json_object_new_string(tb));
        }
        if (op->action == PLAN_SET)
            json_object_object_add(j, "rating",
                                   json_object_new_int(op->rating));
        if (op->phantom_strike)
            json_object_object_add(j, "phantom_strike",
                                   json_object_new_boolean(true));
        json_object_array_add(arr, j);
    }
    json_object_object_add(o, "ops", arr);
    return o;
}

/* ---- one feature of one pair ------------------------------------------ */

struct rc_feature_run {
    const struct pair_conf *pc;
    enum adapter_feature f;
    int ridx[2]; /* the pair's side index (Redis keys) of plan side x */
    struct plan_side sides[2];
    struct rows rows[2];
    struct plan plan;
    struct json_object *meta;
};

static void
side_release(struct plan_side *s)
{
    pset_release(&s->now);
    pset_release(&s->base);
    smap_release(&s->quarantine);
    smap_release(&s->inflight);
    smap_release(&s->confirmed);
    smap_release(&s->tombstones);
}

static void
run_release(struct rc_feature_run *fr)
{
    for (int x = 0; x < 2; x++) {
        side_release(&fr->sides[x]);
        rows_release(&fr->rows[x]);
    }
    plan_release(&fr->plan);
    json_object_put(fr->meta);
}

static bool
trusted(const struct rc *rc, const char *instance)
{
    for (size_t i = 0; i < rc->ntrust; i++)
        if (strcmp(rc->trust[i], instance) == 0)
            return true;
    return false;
}

/* Load side x's memory from Redis. */
static int
load_memory(struct rc *rc, struct rc_feature_run *fr, int x, bool with_base)
{
    struct plan_side *s = &fr->sides[x];
    const char *pair = fr->pc->id;
    struct {
        const char *what;
        struct smap *m;
        void (*each)(const char *, const char *, void *);
    } maps[] = {
        {"quar", &s->quarantine, each_until},
        {"inflight", &s->inflight, each_time},
        {"conf", &s->confirmed, each_time},
        {"tomb", &s->tombstones, each_time},
    };

    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        char *k = rc_key(rc, maps[i].what, pair, fr->ridx[x], fr->f);
        int r = rc_hgetall(rc->cr.qs, k, maps[i].each, maps[i].m);

        free(k);
        if (r != 0)
            return -1;
    }
    if (with_base) {
        char *k = rc_key(rc, "base", pair, fr->ridx[x], fr->f);
        struct base_load bl = {.s = &s->base};
        const char *ex[] = {"EXISTS", k};
        struct qreply *r = rc_cmd(rc, 2, ex);

        s->has_base = r != NULL && r->type == QREPLY_INT && r->integer == 1;
        qreply_free(r);
        if (s->has_base && rc_hgetall(rc->cr.qs, k, each_base, &bl) != 0) {
            free(k);
            return -1;
        }
        if (bl.bad > 0)
            log_warn("msg=\"baseline entries unreadable\" key=%s count=%zu", k,
                     bl.bad);
        free(k);
    }
    return 0;
}

/* Pipeline helper: one command, counted. */
struct pipe {
    struct rc *rc;
    size_t pending;
    int failed;
    char err[256];
};

static void
pipe_cmd(struct pipe *pp, int argc, const char *const *argv)
{
    if (pp->failed)
        return;
    if (queue_sync_append(pp->rc->cr.qs, argc, argv, NULL) != 0) {
        pp->failed = 1;
        snprintf(pp->err, sizeof(pp->err), "Redis: cannot queue a command");
        return;
    }
    if (++pp->pending >= RC_CHUNK) {
        if (queue_sync_drain(pp->rc->cr.qs, pp->pending, pp->err,
                             sizeof(pp->err)) != 0)
            pp->failed = 1;
        pp->pending = 0;
    }
}

static int
pipe_flush(struct pipe *pp)
{
    if (!pp->failed && pp->pending > 0 &&
        queue_sync_drain(pp->rc->cr.qs, pp->pending, pp->err,
                         sizeof(pp->err)) != 0)
        pp->failed = 1;
    pp->pending = 0;
    return pp->failed ? -1 : 0;
}

/* Write side x's new baseline into a temporary hash (renamed in the
 * commit). */
static void
stage_baseline(struct pipe *pp, const char *tmp, const struct pset *s)
{
    const char *del[] = {"DEL", tmp};
    const char **argv = xcalloc(2 + 2 * 256, sizeof(*argv));
    char **vals = xcalloc(256, sizeof(*vals));
    size_t n = 0;

    pipe_cmd(pp, 2, del);
    for (size_t i = 0; i <= s->n; i++) {
        if (i < s->n && !s->v[i].library_only) {
            vals[n] = pset_baseline_value(s, i);
            argv[2 + 2 * n] = s->v[i].key;
            argv[3 + 2 * n] = vals[n];
            n++;
        }
        if (n > 0 && (n == 256 || i == s->n)) {
            argv[0] = "HSET";
            argv[1] = tmp;
            pipe_cmd(pp, (int)(2 + 2 * n), argv);
            for (size_t k = 0; k < n; k++)
                free(vals[k]);
            n = 0;
        }
    }
    free(vals);
    free(argv);
}

/* Unresolved and phantom bookkeeping the planner asked for: a planned add
 * the target's library lacks counts as a failure now; a second phantom
 * strike quarantines. Queued into the commit pipeline. */
static void
record_failures(struct rc *rc, struct pipe *pp, struct rc_feature_run *fr,
                int64_t now)
{
    for (size_t i = 0; i < fr->plan.n; i++) {
        struct plan_op *op = &fr->plan.ops[i];
        const char *reason = NULL;
        char *k;

        if (op->guard == PLAN_HELD_NOT_IN_LIBRARY)
            reason = "not_found";
        else if (op->guard == PLAN_GO && op->phantom_strike)
            reason = "phantom";
        else
            continue;
        k = xasprintf("%s", plan_op_key(op));
        {
            char *keys[4], *args[7];
            struct op o;

            op_init(&o);
            o.pair = xstrdup(fr->pc->id);
            o.target = xstrdup(fr->sides[op->side].instance);
            o.key = k;
            o.kind = fr->f == ADAPTER_HISTORY     ? OP_HISTORY_ADD
                     : fr->f == ADAPTER_WATCHLIST ? OP_WATCHLIST_ADD
                                                  : OP_RATING_SET;
            {
                char title[256];

                o.item.title =
                    xstrdup(pent_title(op->from, title, sizeof(title)));
            }
            if (reconcile_outcome_args(rc->cfg, &o, false, reason, now, keys,
                                       args) == 0) {
                const char *argv[] = {"EVAL",  reconcile_outcome_lua,
                                      "4",     keys[0],
                                      keys[1], keys[2],
                                      keys[3], args[0],
                                      args[1], args[2],
                                      args[3], args[4],
                                      args[5], args[6]};

                pipe_cmd(pp, 14, argv);
                for (int j = 0; j < 4; j++)
                    free(keys[j]);
                for (int j = 0; j < 7; j++)
                    free(args[j]);
            }
            op_release(&o);
        }
    }
}

static void
prune_expired(struct pipe *pp, const char *key, const struct smap *m,
              int64_t older_than)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != NULL && m->vals[i] < older_than) {
            const char *argv[] = {"HDEL", key, m->keys[i]};

            pipe_cmd(pp, 3, argv);
        }
    }
}

/* Queue the plan and save the baselines: the baselines are staged first,
 * then one MULTI renames them into place, XADDs the events, marks them in
 * flight, records tombstones and the run. */
static int
commit(struct rc *rc, struct rc_feature_run *fr, int64_t now, int64_t wm[2],
       int64_t cps[2], size_t *queued)
{
    struct pipe pp = {.rc = rc};
    const char *pair = fr->pc->id;
    char *tmp[2] = {NULL, NULL}, *base[2] = {NULL, NULL};
    char *meta = rc_key(rc, "meta", pair, -1, fr->f);
    char *events = xasprintf("%sevents", rc->prefix);
    char nowbuf[32];
    bool save_base[2];

    snprintf(nowbuf, sizeof(nowbuf), "%" PRId64, now);
    *queued = 0;
    for (int x = 0; x < 2; x++) {
        /* A refused mass delete keeps the old baselines, so the evidence
         * stays and `sync --allow-mass-delete` can act on it. */
        save_base[x] = !rc->delta && !fr->sides[x].suspect &&
                       !fr->plan.mass_refused[0] && !fr->plan.mass_refused[1];
        if (!save_base[x])
            continue;
        base[x] = rc_key(rc, "base", pair, fr->ridx[x], fr->f);
        tmp[x] = xasprintf("%s:tmp:%" PRId64, base[x], rc->run_id);
        stage_baseline(&pp, tmp[x], &fr->sides[x].now);
    }
    record_failures(rc, &pp, fr, now);
    for (int x = 0; x < 2; x++) {
        char *k = rc_key(rc, "tomb", pair, fr->ridx[x], fr->f);

        prune_expired(&pp, k, &fr->sides[x].tombstones, now - RC_TOMB_TTL_S);
        free(k);
        k = rc_key(rc, "conf", pair, fr->ridx[x], fr->f);
        prune_expired(&pp, k, &fr->sides[x].confirmed,
                      now - RC_CONFIRMED_TTL_S);
        free(k);
    }
    if (pipe_flush(&pp) != 0)
        goto fail;
    {
        const char *multi[] = {"MULTI"};

        pipe_cmd(&pp, 1, multi);
    }
    for (int x = 0; x < 2; x++) {
        if (!save_base[x])
            continue;
        if (pset_present(&fr->sides[x].now) > 0) {
            const char *argv[] = {"RENAME", tmp[x], base[x]};

            pipe_cmd(&pp, 3, argv);
        } else {
            const char *argv[] = {"DEL", base[x]};

            pipe_cmd(&pp, 2, argv);
        }
    }
    for (size_t i = 0; i < fr->plan.n; i++) {
        const struct plan_op *op = &fr->plan.ops[i];
        char *js, *ik;

        if (op->guard != PLAN_GO)
            continue;
        js = plan_event(rc, fr->pc, fr->f, fr->sides, op);
        {
            const char *argv[] = {"XADD", events, "*", "event", js};

            pipe_cmd(&pp, 5, argv);
        }
        ik = rc_key(rc, "inflight", pair, fr->ridx[op->side], fr->f);
        {
            const char *argv[] = {"HSET", ik, plan_op_key(op), nowbuf};

            pipe_cmd(&pp, 4, argv);
        }
        free(ik);
        free(js);
        (*queued)++;
    }
    for (size_t i = 0; i < fr->plan.ntomb; i++) {
        char *tk =
            rc_key(rc, "tomb", pair, fr->ridx[fr->plan.tomb_side[i]], fr->f);
        const char *argv[] = {"HSET", tk, fr->plan.tomb_tokens[i], nowbuf};

        pipe_cmd(&pp, 4, argv);
        free(tk);
    }
    {
        char runs[32], q[32], names[6][16], vals[6][32];
        const char *argv[32];
        int n = 0, nv = 0;

        snprintf(runs, sizeof(runs), "%" PRId64, rc->run_id);
        snprintf(q, sizeof(q), "%zu", *queued);
        argv[n++] = "HSET";
        argv[n++] = meta;
        argv[n++] = rc->delta ? "last_delta" : "last_run";
        argv[n++] = nowbuf;
        argv[n++] = rc->delta ? "last_delta_queued" : "last_queued";
        argv[n++] = q;
        argv[n++] = "last_run_id";
        argv[n++] = runs;
        for (int x = 0; x < 2; x++) {
            int r = fr->ridx[x];

            if (wm[x] > 0) {
                snprintf(names[nv], sizeof(names[nv]), "wm%d", r);
                snprintf(vals[nv], sizeof(vals[nv]), "%" PRId64, wm[x]);
                argv[n++] = names[nv];
                argv[n++] = vals[nv++];
            }
            if (rc->delta && x == 0) {
                snprintf(names[nv], sizeof(names[nv]), "pcp%d", r);
                snprintf(vals[nv], sizeof(vals[nv]), "%" PRId64, cps[x]);
                argv[n++] = names[nv];
                argv[n++] = vals[nv++];
            }
            if (save_base[x]) {
                snprintf(names[nv], sizeof(names[nv]), "cp%d", r);
                snprintf(vals[nv], sizeof(vals[nv]), "%" PRId64, cps[x]);
                argv[n++] = names[nv];
                argv[n++] = vals[nv++];
                snprintf(names[nv], sizeof(names[nv]), "n%d", r);
                snprintf(vals[nv], sizeof(vals[nv]), "%zu",
                         pset_present(&fr->sides[x].now));
                argv[n++] = names[nv];
                argv[n++] = vals[nv++];
            }
        }
        pipe_cmd(&pp, n, argv);
        if (!rc->delta) {
            const char *inc[] = {"HINCRBY", meta, "runs", "1"};

            pipe_cmd(&pp, 4, inc);
        }
    }
    {
        const char *exec[] = {"EXEC"};

        pipe_cmd(&pp, 1, exec);
    }
    if (pipe_flush(&pp) != 0)
        goto fail;
    for (int x = 0; x < 2; x++) {
        free(tmp[x]);
        free(base[x]);
    }
    free(meta);
    free(events);
    return 0;
fail:
    fprintf(stderr, "watchrelay: pair %s %s: cannot save the plan: %s\n", pair,
            adapter_feature_name(fr->f), pp.err);
    for (int x = 0; x < 2; x++) {
        free(tmp[x]);
        free(base[x]);
    }
    free(meta);
    free(events);
    *queued = 0;
    return -1;
}

static void
load_meta(struct rc *rc, struct rc_feature_run *fr)
{
    char *k = rc_key(rc, "meta", fr->pc->id, -1, fr->f);

    fr->meta = json_object_new_object();
    (void)rc_hgetall(rc->cr.qs, k, each_meta, fr->meta);
    free(k);
}

/* Reconcile (or delta-poll, from side `from`) one feature of a pair. */
static int
run_feature(struct rc *rc, const struct pair_conf *pc, enum adapter_feature f,
            int from)
{
    struct rc_feature_run fr;
    const struct pair_feature_conf *fc = &pc->features[f];
    struct rc_prov *prov[2];
    const char *names[2];
    char err[768];
    int64_t now = wr_now(), wm[2] = {0, 0}, cps[2] = {0, 0};
    struct plan_conf conf;
    double t0;
    int rcode = -1;
    size_t queued = 0;
    bool anomaly = false;

    memset(&fr, 0, sizeof(fr));
    fr.pc = pc;
    fr.f = f;
    fr.ridx[0] = from;
    fr.ridx[1] = 1 - from;
    plan_init(&fr.plan);
    for (int x = 0; x < 2; x++) {
        pset_init(&fr.sides[x].now);
        pset_init(&fr.sides[x].base);
        smap_init(&fr.sides[x].quarantine);
        smap_init(&fr.sides[x].inflight);
        smap_init(&fr.sides[x].confirmed);
        smap_init(&fr.sides[x].tombstones);
    }
    /* In a delta run side 0 is the polled side (the pair's target for the
     * second direction of a two-way pair); sides keep their pair index in
     * the Redis keys through `pidx`. */
    names[0] = from == 0 ? pc->source : pc->target;
    names[1] = from == 0 ? pc->target : pc->source;
    for (int x = 0; x < 2; x++) {
        prov[x] = rc_prov(rc, names[x], err, sizeof(err));
        if (prov[x] == NULL) {
            fprintf(stderr, "watchrelay: pair %s %s: %s\n", pc->id,
                    adapter_feature_name(f), err);
            goto out;
        }
        fr.sides[x].instance = names[x];
        fr.sides[x].ad = prov[x]->ad;
        fr.sides[x].trusted = trusted(rc, names[x]);
    }
    if (f == ADAPTER_PROGRESS || f == ADAPTER_PLAYLISTS) {
        fprintf(stderr,
                "watchrelay: pair %s: %s sync is not built yet; skipped\n",
                pc->id, adapter_feature_name(f));
        rcode = 0;
        goto out;
    }
    load_meta(rc, &fr);
    if (load_memory(rc, &fr, 0, true) != 0 ||
        load_memory(rc, &fr, 1, true) != 0) {
        fprintf(stderr,
                "watchrelay: pair %s: cannot read its state from "
                "Redis\n",
                pc->id);
        goto out;
    }
    t0 = mono_s();
    for (int x = 0; x < 2; x++) {
        char cpname[16];

        cps[x] = rc_checkpoint(rc, prov[x], f);
        snprintf(cpname, sizeof(cpname), "cp%d", fr.ridx[x]);
        fr.sides[x].checkpoint = cps[x];
        fr.sides[x].base_checkpoint = meta_i64(fr.meta, cpname);
    }
    if (rc->delta) {
        char wname[16], pname[16];
        int64_t since, pcp;

        snprintf(wname, sizeof(wname), "wm%d", from);
        snprintf(pname, sizeof(pname), "pcp%d", from);
        since = meta_i64(fr.meta, wname);
        pcp = meta_i64(fr.meta, pname);
        if (since == 0) {
            /* No watermark: the pair has not been reconciled yet. */
            rcode = 1;
            goto out;
        }
        /* Checkpoints have whole seconds: one equal to the stored value is
         * "unchanged" only when it is older than the poll that stored it,
         * else a change in that same second could hide behind it. */
        if (cps[0] != 0 && cps[0] == pcp &&
            cps[0] + 1 < meta_i64(fr.meta, "last_delta")) {
            if (!rc->quiet)
                printf("pair %s %s (delta): %s unchanged since its last "
                       "poll\n",
                       pc->id, adapter_feature_name(f), names[0]);
            rcode = 0;
            goto out;
        }
        if (rc_read(rc, prov[0], f, true, since, &fr.rows[0], err,
                    sizeof(err)) != 0) {
            fprintf(stderr, "watchrelay: pair %s %s: %s read failed: %s\n",
                    pc->id, adapter_feature_name(f), names[0], err);
            rc->failures++;
            goto out;
        }
        /* Removals are invisible to most deltas: an explicit removal row
         * (Jellyfin/Emby Played=false, ...) or a change signal that moved
         * with no row to explain it (SIMKL removed_from_list, a Trakt
         * history removal) asks for a reconcile of the feature, where the
         * guards decide. */
        if (fc->remove) {
            for (size_t i = 0; i < fr.rows[0].n && !anomaly; i++)
                anomaly = fr.rows[0].v[i].removed;
            if (cps[0] != 0 && cps[0] != pcp && fr.rows[0].n == 0 &&
                (prov[0]->ad->delta_features & ADAPTER_BIT(f)))
                anomaly = true;
        }
        wm[0] = fr.rows[0].watermark > since ? fr.rows[0].watermark : since;
        if ((prov[0]->ad->delta_features & ADAPTER_BIT(f)) == 0 && wm[0] < now)
            wm[0] = now;
        /* The target's present state: its baseline while its checkpoint
         * has not moved, else a read. */
        if (!(fr.sides[1].has_base && cps[1] != 0 &&
              cps[1] == fr.sides[1].base_checkpoint &&
              !prov[1]->ad->has_local_id)) {
            if (rc_read(rc, prov[1], f, false, 0, &fr.rows[1], err,
                        sizeof(err)) != 0) {
                fprintf(stderr, "watchrelay: pair %s %s: %s read failed: %s\n",
                        pc->id, adapter_feature_name(f), names[1], err);
                rc->failures++;
                goto out;
            }
        } else {
            fr.sides[1].suspect = true; /* "use the baseline" */
        }
    } else {
        for (int x = 0; x < 2; x++) {
            if (rc_read(rc, prov[x], f, false, 0, &fr.rows[x], err,
                        sizeof(err)) != 0) {
                fprintf(stderr,
                        "watchrelay: pair %s %s: %s read failed, feature "
                        "skipped (no writes, no deletes): %s\n",
                        pc->id, adapter_feature_name(f), names[x], err);
                rc->failures++;
                goto out;
            }
            wm[x] = fr.rows[x].watermark > now ? fr.rows[x].watermark : now;
        }
    }
    rc->read_s += mono_s() - t0;
    rc->items_read += fr.rows[0].n + fr.rows[1].n;

    /* Plan. */
    if (proc_kb("VmHWM") > rc->peak_kb)
        rc->peak_kb = proc_kb("VmHWM");
    reset_peak();
    if (proc_kb("VmRSS") > rc->rows_rss_kb)
        rc->rows_rss_kb = proc_kb("VmRSS");
    t0 = mono_s();
    {
        double c0 = cpu_s();
        bool base_as_now = rc->delta && fr.sides[1].suspect;

        for (int x = 0; x < 2; x++)
            pset_add_rows(&fr.sides[x].now, f, names[x], fr.rows[x].v,
                          fr.rows[x].n);
        memset(&conf, 0, sizeof(conf));
        conf.feature = f;
        conf.two_way = strcmp(pc->mode, "two-way") == 0 && !rc->delta;
        conf.add = fc->add;
        conf.remove = fc->remove;
        conf.mirror = fc->remove_mode && strcmp(fc->remove_mode, "mirror") == 0;
        conf.first_run = meta_i64(fr.meta, "runs") == 0;
        conf.truth_target =
            pc->source_of_truth && strcmp(pc->source_of_truth, "target") == 0;
        conf.delta = rc->delta;
        conf.allow_mass_delete = rc->allow_mass;
        /* Event mode needs a target whose reads list every dated play
         * (Trakt, local); the others show one date per item, against which
         * older plays would be added again on every run. */
        conf.event_history = fc->mode && strcmp(fc->mode, "event") == 0 &&
                             prov[1]->ad->history_plays &&
                             (!conf.two_way || prov[0]->ad->history_plays);
        conf.ratings_remove = pc->features[ADAPTER_RATINGS].enabled &&
                              pc->features[ADAPTER_RATINGS].remove;
        conf.now = now;
        conf.inflight_ttl_s = RC_INFLIGHT_TTL_S;
        if (base_as_now) {
            /* Presence from the target's baseline: swap it in. */
            struct pset t = fr.sides[1].now;

            fr.sides[1].now = fr.sides[1].base;
            fr.sides[1].base = t;
            fr.sides[1].has_base = false;
            fr.sides[1].suspect = false;
        }
        plan_run(&conf, fr.sides, &fr.plan);
        /* A feature read whole in a delta (no server-side delta): an item
         * of the source's baseline missing from it is a removal signal. */
        if (rc->delta && fc->remove && fr.sides[0].has_base &&
            !(prov[0]->ad->delta_features & ADAPTER_BIT(f))) {
            for (size_t i = 0; i < fr.sides[0].base.n && !anomaly; i++) {
                const struct pent *b = &fr.sides[0].base.v[i];
                bool seen = false;

                for (size_t k = 0; k < b->ntok && !seen; k++)
                    seen = smap_get(&fr.sides[0].now.idx, b->tok[k], NULL);
                anomaly = !seen;
            }
        }
        rc->plan_cpu_s += cpu_s() - c0;
        {
            long hwm = proc_kb("VmHWM");

            if (hwm > rc->plan_rss_kb)
                rc->plan_rss_kb = hwm;
        }
    }
    rc->plan_s += mono_s() - t0;

    if (rc->json) {
        struct json_object *o = plan_json(rc, pc, f, fr.sides, &fr.plan);

        printf("%s\n",
               json_object_to_json_string_ext(
                   o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        print_plan_text(rc, pc, f, fr.sides, &fr.plan);
    }
    if (rc->dry_run) {
        if (!rc->json)
            printf("  dry run: %zu to write, %zu held; nothing written\n",
                   fr.plan.n - fr.plan.held, fr.plan.held);
        rcode = 0;
        goto out;
    }
    t0 = mono_s();
    if (commit(rc, &fr, now, wm, cps, &queued) != 0)
        goto out;
    rc->write_s += mono_s() - t0;
    if (!rc->json)
        printf("  queued %zu operations, %zu held\n", queued, fr.plan.held);
    log_info("msg=\"sync planned\" pair=%s feature=%s delta=%d queued=%zu "
             "held=%zu",
             pc->id, adapter_feature_name(f), rc->delta, queued, fr.plan.held);
    rcode = anomaly ? 2 : 0;
out:
    run_release(&fr);
    return rcode;
}

/* ---- the command ------------------------------------------------------ */

static int
usage(void)
{
    fprintf(stderr,
            "usage: sync [--pair ID] [--feature F] [--dry-run] [--json] "
            "[--trust INSTANCE] [--allow-mass-delete] [--delta] [--quiet]\n");
    return 2;
}

int
reconcile_cli(const struct config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pair", required_argument, NULL, 'p'},
        {"feature", required_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"trust", required_argument, NULL, 't'},
        {"allow-mass-delete", no_argument, NULL, 'm'},
        {"delta", no_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0}};
    struct rc rc;
    struct fetch_opts fo = {.timeout_ms = 300000,
                            .max_response = 512u * 1024 * 1024};
    char err[768];
    int c, status = 0;
    size_t matched = 0;

    memset(&rc, 0, sizeof(rc));
    rc.cfg = cfg;
    rc.prefix = cfg->key_prefix;
    rc.only_feature = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            rc.only_pair = optarg;
            break;
        case 'f':
            rc.only_feature = adapter_feature_from_name(optarg);
            if (rc.only_feature < 0) {
                fprintf(stderr,
                        "watchrelay: unknown feature \"%s\" (watchlist, "
                        "history, ratings, progress, playlists)\n",
                        optarg);
                free(rc.trust);
                return 2;
            }
            break;
        case 'n':
            rc.dry_run = true;
            break;
        case 'j':
            rc.json = true;
            break;
        case 't':
            rc.trust = xrealloc(rc.trust, (rc.ntrust + 1) * sizeof(char *));
            rc.trust[rc.ntrust++] = optarg;
            break;
        case 'm':
            rc.allow_mass = true;
            break;
        case 'd':
            rc.delta = true;
            break;
        case 'q':
            rc.quiet = true;
            break;
        default:
            free(rc.trust);
            return usage();
        }
    }
    if (optind < argc) {
        free(rc.trust);
        return usage();
    }
    if (cfg->n_pairs == 0) {
        fprintf(stderr,
                "watchrelay: no pairs are configured (\"pairs\" in "
                "%s)\n",
                cfg->path ? cfg->path : "the config");
        free(rc.trust);
        return 2;
    }
    for (size_t i = 0; i < cfg->n_pairs; i++)
        matched +=
            rc.only_pair == NULL || strcmp(cfg->pairs[i].id, rc.only_pair) == 0;
    if (matched == 0) {
        fprintf(stderr, "watchrelay: no pair has the id \"%s\"\n",
                rc.only_pair);
        free(rc.trust);
        return 2;
    }
    if (mkdir_p(cfg->state_dir, 0700) != 0 ||
        cli_redis_open(cfg, &rc.cr, err, sizeof(err)) != 0) {
        fprintf(stderr, "watchrelay: cannot open Redis: %s\n", err);
        free(rc.trust);
        return 1;
    }
    rc.base = event_base_new();
    rc.fetch = rc.base ? fetch_new(rc.base, &fo) : NULL;
    if (rc.fetch == NULL) {
        fprintf(stderr, "watchrelay: cannot start HTTP (libcurl)\n");
        status = 1;
        goto done;
    }
    {
        const char *argv_[] = {"INCR", NULL};
        char *k = xasprintf("%src:runs", rc.prefix);
        struct qreply *r;

        argv_[1] = k;
        r = queue_sync_cmd(rc.cr.qs, 2, argv_, NULL);
        rc.run_id = r && r->type == QREPLY_INT ? r->integer : wr_now();
        qreply_free(r);
        free(k);
    }
    for (size_t i = 0; i < cfg->n_pairs; i++) {
        const struct pair_conf *pc = &cfg->pairs[i];
        bool two_way = strcmp(pc->mode, "two-way") == 0;

        if (rc.only_pair && strcmp(pc->id, rc.only_pair) != 0)
            continue;
        for (size_t k = 0; k < sizeof(rc_order) / sizeof(rc_order[0]); k++) {
            enum adapter_feature f = rc_order[k];

            if (!pc->features[f].enabled)
                continue;
            if (rc.only_feature >= 0 && rc.only_feature != (int)f)
                continue;
            if (rc.delta) {
                for (int from = 0; from < (two_way ? 2 : 1); from++) {
                    int r = run_feature(&rc, pc, f, from);

                    if (r == 1 || r == 2) {
                        /* 1: never reconciled, bootstrap; 2: the delta saw
                         * removals it cannot apply itself. */
                        if (r == 2)
                            log_info("msg=\"removal signal: reconciling\" "
                                     "pair=%s feature=%s",
                                     pc->id, adapter_feature_name(f));
                        rc.delta = false;
                        r = run_feature(&rc, pc, f, 0);
                        rc.delta = true;
                        from = 2;
                    }
                    if (r < 0)
                        status = 1;
                }
            } else if (run_feature(&rc, pc, f, 0) != 0) {
                status = 1;
            }
        }
    }
    if (rc.failures > 0)
        status = 1;
    if (maxrss_kb() > rc.peak_kb)
        rc.peak_kb = maxrss_kb();
    if (!rc.json)
        printf(
            "timing: read %.3f s, plan %.3f s (cpu %.3f s, peak rss %ld kB), "
            "write %.3f s, %zu rows read, peak rss %ld kB\n",
            rc.read_s, rc.plan_s, rc.plan_cpu_s, rc.plan_rss_kb, rc.write_s,
            rc.items_read, rc.peak_kb);
    else
        printf("{\"timing\":{\"read_s\":%.3f,\"plan_s\":%.3f,\"plan_cpu_s\":"
               "%.3f,\"write_s\":%.3f,\"rows\":%zu,\"plan_rss_kb\":%ld,"
               "\"rows_rss_kb\":%ld,\"peak_rss_kb\":%ld}}\n",
               rc.read_s, rc.plan_s, rc.plan_cpu_s, rc.write_s, rc.items_read,
               rc.plan_rss_kb, rc.rows_rss_kb, rc.peak_kb);
done:
    for (size_t i = 0; i < rc.nprovs; i++) {
        rc.provs[i].ad->free(rc.provs[i].ctx);
        free(rc.provs[i].name);
    }
    if (rc.fetch)
        fetch_free(rc.fetch);
    if (rc.base)
        event_base_free(rc.base);
    cli_redis_close(&rc.cr);
    free(rc.trust);
    return status;
}
