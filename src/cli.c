#include "cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "adapter.h"
#include "authstore.h"
#include "fetch.h"
#include "jsonu.h"
#include "local.h"
#include "op.h"
#include "queue.h"
#include "redis_embed.h"
#include "util.h"

int
cli_redis_open(const struct config *cfg, struct cli_redis *cr, char *err,
               size_t errlen)
{
    char *url = NULL;

    memset(cr, 0, sizeof(*cr));
    if (strcmp(cfg->redis, "embedded") != 0) {
        cr->qs = queue_sync_connect(cfg->redis, 2000, err, errlen);
        return cr->qs ? 0 : -1;
    }
    url = xasprintf("unix:%s/redis/redis.sock", cfg->state_dir);
    cr->qs = queue_sync_connect(url, 2000, err, errlen);
    free(url);
    if (cr->qs != NULL)
        return 0;
    /* No daemon: open its Redis just for this command. */
    if (mkdir_p(cfg->state_dir, 0700) != 0 ||
        (cr->re = redis_embed_start(cfg->state_dir, err, errlen)) == NULL)
        return -1;
    cr->qs = queue_sync_connect(redis_embed_url(cr->re), 2000, err, errlen);
    if (cr->qs == NULL) {
        redis_embed_stop(cr->re);
        cr->re = NULL;
        return -1;
    }
    return 0;
}

void
cli_redis_close(struct cli_redis *cr)
{
    queue_sync_free(cr->qs);
    redis_embed_stop(cr->re);
    memset(cr, 0, sizeof(*cr));
}

/* ---- dlq ---- */

static const char *
field(const struct qreply *fields, const char *name)
{
    for (size_t i = 0; fields && i + 1 < fields->n; i += 2)
        if (fields->elem[i]->type == QREPLY_STR &&
            strcmp(fields->elem[i]->str, name) == 0 &&
            fields->elem[i + 1]->type == QREPLY_STR)
            return fields->elem[i + 1]->str;
    return NULL;
}

static struct qreply *
dead_range(struct cli_redis *cr, const char *prefix, const char *from,
           const char *to)
{
    char *key = xasprintf("%sdead", prefix);
    const char *argv[] = {"XRANGE", key, from, to};
    struct qreply *r = queue_sync_cmd(cr->qs, 4, argv, NULL);

    free(key);
    if (r != NULL && r->type != QREPLY_ARR) {
        qreply_free(r);
        return NULL;
    }
    return r;
}

static void
print_entry(const struct qreply *e, bool full)
{
    const struct qreply *f = e->elem[1];
    const char *ev = field(f, "event");
    struct json_object *o = NULL;
    const char *key = "", *kind = "";
    char err[128];

    if (ev != NULL)
        o = jsonu_parse(ev, strlen(ev), JSONU_DEPTH, err, sizeof(err));
    if (o != NULL) {
        jget_str(o, "key", &key);
        jget_str(o, "op", &kind);
    }
    if (!full) {
        printf("%s  %-8s %-16s %-40s attempts=%s failed_at=%s\n  reason: %s\n",
               e->elem[0]->str, field(f, "target") ? field(f, "target") : "",
               kind, key, field(f, "attempts") ? field(f, "attempts") : "0",
               field(f, "failed_at") ? field(f, "failed_at") : "",
               field(f, "reason") ? field(f, "reason") : "");
    } else {
        printf("id:        %s\ntarget:    %s\nreason:    %s\nattempts:  "
               "%s\nfailed_at: %s\nstatus:    %s\n",
               e->elem[0]->str, field(f, "target") ? field(f, "target") : "",
               field(f, "reason") ? field(f, "reason") : "",
               field(f, "attempts") ? field(f, "attempts") : "",
               field(f, "failed_at") ? field(f, "failed_at") : "",
               field(f, "status") ? field(f, "status") : "");
        if (field(f, "excerpt") && *field(f, "excerpt"))
            printf("response:  %s\n", field(f, "excerpt"));
        if (o != NULL)
            printf("operation: %s\n",
                   json_object_to_json_string_ext(
                       o, JSON_C_TO_STRING_PRETTY |
                              JSON_C_TO_STRING_NOSLASHESCAPE));
    }
    json_object_put(o);
}

/* Put a dead letter back on its target's stream, attempts reset. */
static int
replay_entry(struct cli_redis *cr, const char *prefix, const struct qreply *e)
{
    const struct qreply *f = e->elem[1];
    const char *ev = field(f, "event"), *target = field(f, "target");
    struct json_object *o;
    struct op op;
    char err[256];
    char *stream, *dead, *js;
    size_t len;
    int rc = -1;

    if (ev == NULL || target == NULL) {
        fprintf(stderr, "watchrelay: dead letter %s has no operation\n",
                e->elem[0]->str);
        return -1;
    }
    o = jsonu_parse(ev, strlen(ev), JSONU_DEPTH, err, sizeof(err));
    if (o == NULL || op_from_json(&op, o, err, sizeof(err)) != 0) {
        fprintf(stderr, "watchrelay: dead letter %s is unreadable: %s\n",
                e->elem[0]->str, err);
        json_object_put(o);
        if (o != NULL)
            op_release(&op);
        return -1;
    }
    json_object_put(o);
    op.attempts = 0;
    o = op_to_json(&op);
    js = xstrdup(jsonu_str(o, &len));
    json_object_put(o);
    stream = xasprintf("%sout:%s", prefix, target);
    dead = xasprintf("%sdead", prefix);
    {
        const char *add[] = {"XADD", stream, "*", "op", js};
        const char *del[] = {"XDEL", dead, e->elem[0]->str};
        struct qreply *r1 = queue_sync_cmd(cr->qs, 5, add, NULL);
        struct qreply *r2 = NULL;

        if (r1 != NULL && r1->type == QREPLY_STR)
            r2 = queue_sync_cmd(cr->qs, 3, del, NULL);
        if (r2 != NULL && r2->type == QREPLY_INT) {
            printf("replayed %s to %s\n", e->elem[0]->str, target);
            rc = 0;
        } else {
            fprintf(stderr, "watchrelay: could not replay %s\n",
                    e->elem[0]->str);
        }
        qreply_free(r1);
        qreply_free(r2);
    }
    free(stream);
    free(dead);
    free(js);
    op_release(&op);
    return rc;
}

int
cli_dlq(const struct config *cfg, int argc, char **argv)
{
    struct cli_redis cr;
    struct qreply *r = NULL;
    char err[512];
    const char *sub = argc > 1 ? argv[1] : "";
    int rc = 1;

    if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 &&
        strcmp(sub, "replay") != 0 && strcmp(sub, "drop") != 0) {
        fprintf(stderr, "watchrelay: usage: dlq list | dlq show ID | dlq "
                        "replay ID|--all | dlq drop ID\n");
        return 2;
    }
    if (strcmp(sub, "list") != 0 && argc != 3) {
        fprintf(stderr, "watchrelay: usage: dlq %s ID%s\n", sub,
                strcmp(sub, "replay") == 0 ? "|--all" : "");
        return 2;
    }
    if (cli_redis_open(cfg, &cr, err, sizeof(err)) != 0) {
        fprintf(stderr, "watchrelay: %s\n", err);
        return 1;
    }
    if (strcmp(sub, "list") == 0 ||
        (strcmp(sub, "replay") == 0 && strcmp(argv[2], "--all") == 0))
        r = dead_range(&cr, cfg->key_prefix, "-", "+");
    else
        r = dead_range(&cr, cfg->key_prefix, argv[2], argv[2]);
    if (r == NULL) {
        fprintf(stderr, "watchrelay: cannot read %sdead\n", cfg->key_prefix);
        goto done;
    }
    if (strcmp(sub, "list") == 0) {
        for (size_t i = 0; i < r->n; i++)
            print_entry(r->elem[i], false);
        printf("%zu dead letter%s\n", r->n, r->n == 1 ? "" : "s");
        rc = 0;
        goto done;
    }
    if (r->n == 0) {
        fprintf(stderr, "watchrelay: no dead letter %s (see `dlq list`)\n",
                argv[2]);
        goto done;
    }
    rc = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct qreply *e = r->elem[i];

        if (strcmp(sub, "show") == 0) {
            print_entry(e, true);
        } else if (strcmp(sub, "replay") == 0) {
            if (replay_entry(&cr, cfg->key_prefix, e) != 0)
                rc = 1;
        } else {
            char *dead = xasprintf("%sdead", cfg->key_prefix);
            const char *del[] = {"XDEL", dead, e->elem[0]->str};
            struct qreply *d = queue_sync_cmd(cr.qs, 3, del, NULL);

            if (d != NULL && d->type == QREPLY_INT && d->integer == 1)
                printf("dropped %s\n", e->elem[0]->str);
            else
                rc = 1;
            qreply_free(d);
            free(dead);
        }
    }
done:
    qreply_free(r);
    cli_redis_close(&cr);
    return rc;
}

/* ---- auth ---- */

struct cli_http {
    struct event_base *base;
    struct http_response resp;
    bool done;
};

static void
on_http(const struct http_response *resp, void *arg)
{
    struct cli_http *h = arg;

    http_response_init(&h->resp);
    h->resp.status = resp->status;
    h->resp.error = resp->error ? xstrdup(resp->error) : NULL;
    h->resp.body = xstrndup(resp->body ? resp->body : "", resp->body_len);
    h->resp.body_len = resp->body_len;
    h->resp.headers = xcalloc(resp->n_headers + 1, sizeof(struct http_header));
    for (size_t i = 0; i < resp->n_headers; i++) {
        h->resp.headers[i].name = xstrdup(resp->headers[i].name);
        h->resp.headers[i].value = xstrdup(resp->headers[i].value);
    }
    h->resp.n_headers = resp->n_headers;
    h->done = true;
    event_base_loopexit(h->base, NULL);
}

int
cli_request(struct event_base *base, struct fetch *f,
            const struct http_request *req, struct http_response *out)
{
    struct cli_http h;

    memset(&h, 0, sizeof(h));
    h.base = base;
    if (fetch_submit(f, req, on_http, &h) != 0)
        return -1;
    while (!h.done)
        if (event_base_dispatch(base) < 0)
            return -1;
    *out = h.resp;
    return 0;
}

int
cli_auth(const struct config *cfg, int argc, char **argv)
{
    const struct adapter_ops *a;
    struct event_base *base = NULL;
    struct fetch *f = NULL;
    struct http_request req;
    struct http_response resp;
    struct adapter_auth started, polled;
    void *ctx = NULL;
    char err[256];
    int p, rc = 1;
    int64_t deadline;

    memset(&started, 0, sizeof(started));
    memset(&polled, 0, sizeof(polled));
    http_request_init(&req);
    http_response_init(&resp);
    if (argc != 2) {
        fprintf(stderr, "watchrelay: usage: auth trakt|simkl\n");
        return 2;
    }
    a = adapter_find(argv[1]);
    p = config_provider_from_name(argv[1]);
    if (a == NULL || p < 0 || a->auth_start == NULL) {
        fprintf(stderr,
                "watchrelay: %s has no authorization flow here (use "
                "trakt or simkl)\n",
                argv[1]);
        return 2;
    }
    ctx = a->init(cfg->providers[p].present ? &cfg->providers[p] : NULL, NULL,
                  cfg->state_dir, err, sizeof(err));
    if (ctx == NULL) {
        fprintf(stderr, "watchrelay: %s\n", err);
        return 2;
    }
    base = event_base_new();
    f = base ? fetch_new(base, NULL) : NULL;
    if (f == NULL) {
        fprintf(stderr, "watchrelay: cannot start the HTTP client\n");
        goto done;
    }
    if (a->auth_start(ctx, &req, err, sizeof(err)) != 0 ||
        cli_request(base, f, &req, &resp) != 0) {
        fprintf(stderr, "watchrelay: cannot ask %s for a code: %s\n", a->name,
                err);
        goto done;
    }
    http_request_release(&req);
    if (a->auth_parse(ctx, true, &resp, &started) != 0 ||
        started.state != ADAPTER_AUTH_SHOW_CODE) {
        fprintf(stderr, "watchrelay: %s refused to start authorization: %s\n",
                a->name, started.message[0] ? started.message : "no code");
        goto done;
    }
    http_response_release(&resp);
    {
        /* Provider text on a terminal: escape it. */
        char url[256], code[64];
        const char *u =
            started.verification_url ? started.verification_url : "";
        const char *c = started.user_code ? started.user_code : "";

        printf("Open %s and enter the code %s\n",
               str_escape(u, strlen(u), url, sizeof(url)),
               str_escape(c, strlen(c), code, sizeof(code)));
    }
    fflush(stdout);
    deadline =
        wr_mono_ms() +
        (int64_t)(started.expires_in_s > 0 ? started.expires_in_s : 600) * 1000;
    for (int interval = started.interval_s > 0 ? started.interval_s : 5;
         wr_mono_ms() < deadline;) {
        struct timespec ts = {interval, 0};

        nanosleep(&ts, NULL);
        if (a->auth_poll(ctx, &started, &req, err, sizeof(err)) != 0 ||
            cli_request(base, f, &req, &resp) != 0) {
            fprintf(stderr, "watchrelay: polling %s failed: %s\n", a->name,
                    err);
            goto done;
        }
        http_request_release(&req);
        adapter_auth_release(&polled);
        a->auth_parse(ctx, false, &resp, &polled);
        http_response_release(&resp);
        if (polled.state == ADAPTER_AUTH_DONE) {
            if (authstore_save(cfg->state_dir, a->name, &polled.tokens, err,
                               sizeof(err)) != 0) {
                fprintf(stderr, "watchrelay: %s\n", err);
                goto done;
            }
            printf("Authorized: %s tokens saved in %s/auth/%s.json\n", a->name,
                   cfg->state_dir, a->name);
            rc = 0;
            goto done;
        }
        if (polled.state == ADAPTER_AUTH_FAILED) {
            fprintf(stderr, "watchrelay: authorization failed: %s\n",
                    polled.message);
            goto done;
        }
        if (polled.state == ADAPTER_AUTH_SLOW_DOWN)
            interval++;
    }
    fprintf(stderr, "watchrelay: the code expired before it was approved\n");
done:
    http_request_release(&req);
    http_response_release(&resp);
    adapter_auth_release(&started);
    adapter_auth_release(&polled);
    fetch_free(f);
    if (base)
        event_base_free(base);
    if (ctx)
        a->free(ctx);
    return rc;
}

/* ---- backup ---- */

static void
print_snapshot(const char *feature, int version, int64_t created_at,
               size_t count, bool current, bool valid, void *arg)
{
    char t[WR_TIME_BUF];
    int *n = arg;

    wr_time_format(created_at, t);
    printf("%-10s v%06d  %s  %6zu items%s%s\n", feature, version,
           created_at ? t : "?                   ", count,
           current ? "  (current)" : "", valid ? "" : "  INVALID: checksum");
    (*n)++;
}

static int
restore(const char *dir, int argc, char **argv)
{
    const char *feature = NULL, *to = NULL;
    bool dry_run = false, any = false;
    int64_t version;
    const char *v;
    int rc = 0;

    if (argc < 3) {
        fprintf(stderr, "watchrelay: usage: backup restore SNAPSHOT [--to "
                        "INSTANCE] [--feature F] [--dry-run]\n");
        return 2;
    }
    v = argv[2][0] == 'v' ? argv[2] + 1 : argv[2];
    if (parse_i64(v, 1, 1000000000, &version) != 0) {
        fprintf(stderr,
                "watchrelay: SNAPSHOT is a version such as v000003 or 3 "
                "(see `backup list`)\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = true;
        } else if (strcmp(argv[i], "--feature") == 0 && i + 1 < argc) {
            feature = argv[++i];
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to = argv[++i];
        } else {
            fprintf(stderr, "watchrelay: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (to != NULL && strcmp(to, "local") != 0) {
        fprintf(stderr,
                "watchrelay: restoring to %s is a guarded reconcile against "
                "what %s holds now, which arrives with delta sync; restore "
                "into the local backup (no --to) for now\n",
                to, to);
        return 2;
    }
    for (size_t i = 0; local_features[i] != NULL; i++) {
        char err[256];
        size_t count;
        int nv;

        if (feature != NULL && strcmp(feature, local_features[i]) != 0)
            continue;
        if (local_snapshot_restore(dir, local_features[i], (int)version,
                                   dry_run, &count, &nv, err,
                                   sizeof(err)) != 0) {
            if (feature != NULL || strstr(err, "has no version") == NULL) {
                fprintf(stderr, "watchrelay: %s: %s\n", local_features[i], err);
                rc = 1;
            }
            continue;
        }
        any = true;
        if (dry_run)
            printf("%s: would restore v%06lld (%zu items) as the newest "
                   "version\n",
                   local_features[i], (long long)version, count);
        else
            printf("%s: restored v%06lld (%zu items) as v%06d\n",
                   local_features[i], (long long)version, count, nv);
    }
    if (!any && rc == 0) {
        fprintf(stderr,
                "watchrelay: no feature has version %lld (see "
                "`backup list`)\n",
                (long long)version);
        rc = 1;
    }
    return rc;
}

int
cli_backup(const struct config *cfg, int argc, char **argv)
{
    const struct provider_conf *pc = &cfg->providers[CONFIG_PROVIDER_LOCAL];
    char *dir = NULL;
    char err[256];
    int n = 0, rc;

    if (argc >= 2 && strcmp(argv[1], "restore") == 0) {
        dir = pc->present && pc->dir ? xstrdup(pc->dir)
                                     : xasprintf("%s/local", cfg->state_dir);
        rc = restore(dir, argc, argv);
        free(dir);
        return rc;
    }
    if (argc != 2 || strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "watchrelay: usage: backup list | backup restore "
                        "SNAPSHOT [--to INSTANCE] [--feature F] "
                        "[--dry-run]\n");
        return 2;
    }
    dir = pc->present && pc->dir ? xstrdup(pc->dir)
                                 : xasprintf("%s/local", cfg->state_dir);
    rc = local_backup_list(dir, print_snapshot, &n, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "watchrelay: cannot list %s: %s\n", dir, err);
    else if (n == 0)
        printf("no snapshots in %s\n", dir);
    free(dir);
    return rc == 0 ? 0 : 1;
}
