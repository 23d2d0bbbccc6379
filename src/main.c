/*
 * watchrelay: command line entry. One const descriptor per command in a
 * NULL-terminated table.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "cli.h"
#include "config.h"
#include "dispatch.h"
#include "ingest.h"
#include "jsonu.h"
#include "log.h"
#include "metrics.h"
#include "poll.h"
#include "queue.h"
#include "reconcile.h"
#include "redis_embed.h"
#include "server.h"
#include "spool.h"
#include "util.h"

#ifndef WR_VERSION
#define WR_VERSION "0.1.0"
#endif

#define STOP_DEADLINE_MS 10000
#define TOKEN_BYTES      16

struct cmd_entry {
    const char *name;
    const char *usage;
    int (*exec)(const char *cfg_path, int argc, char **argv);
};

static int
usage_error(const char *msg)
{
    fprintf(stderr, "watchrelay: %s\nRun `watchrelay help` for usage.\n", msg);
    return 2;
}

static struct config *
load_config(const char *path)
{
    char *errors = NULL;
    struct config *cfg = config_load(path, &errors);

    if (cfg == NULL) {
        fprintf(stderr, "watchrelay: configuration %s is not valid:\n%s\n",
                path, errors ? errors : "unknown error");
        free(errors);
    }
    return cfg;
}

/* Resolve each present source's token: configured, saved, or new. */
static int
resolve_tokens(const struct config *cfg, char *tokens[CONFIG_SOURCE_MAX])
{
    char *path = xasprintf("%s/tokens.json", cfg->state_dir);
    char err[256];
    struct json_object *saved = NULL;
    bool dirty = false;
    size_t len;
    char *data = read_file(path, 65536, &len);
    int rc = -1;

    if (data != NULL) {
        saved = jsonu_parse(data, len, 4, err, sizeof(err));
        free(data);
        if (saved == NULL || !json_object_is_type(saved, json_type_object)) {
            fprintf(stderr,
                    "watchrelay: %s is corrupt (%s); remove it to "
                    "generate new tokens\n",
                    path, saved ? "not an object" : err);
            goto done;
        }
    } else {
        saved = json_object_new_object();
    }
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++) {
        const char *name = config_source_name((enum config_source)i);
        const char *tok = NULL;
        char fresh[2 * TOKEN_BYTES + 1];

        tokens[i] = NULL;
        if (!cfg->sources[i].present)
            continue;
        if (cfg->sources[i].token && cfg->sources[i].token[0]) {
            tokens[i] = xstrdup(cfg->sources[i].token);
            continue;
        }
        if (jget_str(saved, name, &tok) == 0 && strlen(tok) >= 16) {
            tokens[i] = xstrdup(tok);
            continue;
        }
        if (random_hex(fresh, TOKEN_BYTES) != 0) {
            fprintf(stderr, "watchrelay: cannot make a random token: %s\n",
                    strerror(errno));
            goto done;
        }
        tokens[i] = xstrdup(fresh);
        json_object_object_add(saved, name, json_object_new_string(fresh));
        dirty = true;
    }
    if (dirty) {
        size_t sl;
        const char *s = json_object_to_json_string_length(
            saved, JSON_C_TO_STRING_PRETTY, &sl);

        if (write_file_atomic(path, s, sl, 0600) != 0) {
            fprintf(stderr, "watchrelay: cannot save tokens to %s: %s\n", path,
                    strerror(errno));
            goto done;
        }
    }
    rc = 0;
done:
    json_object_put(saved);
    free(path);
    return rc;
}

struct daemon {
    struct event_base *base;
    struct server *srv;
    struct ingest *in;
    struct queue *q;
    struct dispatch *disp;
    struct poll *poll;
    struct event *sigterm_ev;
    struct event *sigint_ev;
    struct event *stop_ev;
    int64_t stop_deadline;
    bool stopping;
};

static void
on_queue_state(enum queue_state st, void *arg)
{
    struct daemon *d = arg;

    if (d->in != NULL)
        ingest_redis_state(d->in, st);
}

static void
on_stop_check(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    struct timeval tv = {0, 50000};

    (void)fd;
    (void)what;
    if (server_pending(d->srv) == 0 || wr_mono_ms() > d->stop_deadline) {
        if (server_pending(d->srv) > 0)
            log_warn("msg=\"stop deadline passed\" pending=%zu",
                     server_pending(d->srv));
        event_base_loopexit(d->base, NULL);
        return;
    }
    evtimer_add(d->stop_ev, &tv);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    struct timeval zero = {0, 0};

    (void)what;
    if (d->stopping) {
        log_warn("msg=\"second signal, exiting now\"");
        event_base_loopbreak(d->base);
        return;
    }
    d->stopping = true;
    log_info("msg=\"stopping\" signal=%d pending=%zu", (int)sig,
             server_pending(d->srv));
    server_stop_accepting(d->srv);
    d->stop_deadline = wr_mono_ms() + STOP_DEADLINE_MS;
    evtimer_add(d->stop_ev, &zero);
}

#define ROLE_INGEST   1
#define ROLE_DISPATCH 2
#define ROLE_POLL     4

/* The --roles list as ROLE_* bits (all by default); -1 on a bad list. */
static int
parse_roles(int argc, char **argv)
{
    static const struct option opts[] = {{"roles", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    int c, roles = ROLE_INGEST | ROLE_DISPATCH | ROLE_POLL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *copy, *p;

        if (c != 'r')
            return -1;
        roles = 0;
        copy = xstrdup(optarg);
        p = copy;
        while (p != NULL && *p) {
            char *comma = strchr(p, ',');

            if (comma)
                *comma = '\0';
            if (strcmp(p, "ingest") == 0) {
                roles |= ROLE_INGEST;
            } else if (strcmp(p, "dispatch") == 0) {
                roles |= ROLE_DISPATCH;
            } else if (strcmp(p, "poll") == 0) {
                roles |= ROLE_POLL;
            } else {
                fprintf(stderr,
                        "watchrelay: unknown role \"%s\" (use ingest, "
                        "dispatch, poll)\n",
                        p);
                free(copy);
                return -1;
            }
            p = comma ? comma + 1 : NULL;
        }
        free(copy);
    }
    if (optind < argc || roles == 0)
        return -1;
    return roles;
}

static void
status_delivery(struct json_object *out, void *arg)
{
    struct daemon *d = arg;

    if (d->disp != NULL)
        dispatch_status(d->disp, out);
    if (d->poll != NULL)
        poll_status(d->poll, out);
}

static int
cmd_serve(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = NULL;
    struct redis_embed *re = NULL;
    struct spool *sp = NULL;
    struct metrics *m = NULL;
    struct daemon d;
    struct server_deps deps;
    char *tokens[CONFIG_SOURCE_MAX] = {0};
    char err[512];
    const char *url;
    int rc = 1, lvl, roles;

    memset(&d, 0, sizeof(d));
    roles = parse_roles(argc, argv);
    if (roles < 0)
        return usage_error("usage: serve [--roles ingest,dispatch,poll]");
    cfg = load_config(cfg_path);
    if (cfg == NULL)
        return 2;
    lvl = log_level_from_name(cfg->log_level);
    if (lvl >= 0)
        log_set_level((enum log_level)lvl);
    if (mkdir_p(cfg->state_dir, 0700) != 0) {
        fprintf(stderr, "watchrelay: cannot create state_dir %s: %s\n",
                cfg->state_dir, strerror(errno));
        goto done;
    }
    if (resolve_tokens(cfg, tokens) != 0)
        goto done;
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(cfg->redis, "embedded") == 0) {
        re = redis_embed_start(cfg->state_dir, err, sizeof(err));
        if (re == NULL) {
            fprintf(stderr,
                    "watchrelay: cannot start the embedded Redis: "
                    "%s\n",
                    err);
            goto done;
        }
        url = redis_embed_url(re);
    } else {
        url = cfg->redis;
    }
    sp = spool_open(cfg->state_dir, err, sizeof(err));
    if (sp == NULL) {
        fprintf(stderr, "watchrelay: cannot open the spool in %s: %s\n",
                cfg->state_dir, err);
        goto done;
    }
    d.base = event_base_new();
    m = metrics_new();
    if (d.base == NULL ||
        event_base_priority_init(d.base, INGEST_PRIORITIES) != 0) {
        fprintf(stderr, "watchrelay: cannot create the event loop\n");
        goto done;
    }
    d.q = queue_new(d.base, url, cfg->key_prefix, cfg->redis_timeout_ms,
                    on_queue_state, &d, err, sizeof(err));
    if (d.q == NULL) {
        fprintf(stderr, "watchrelay: %s\n", err);
        rc = 2;
        goto done;
    }
    d.in = ingest_new(d.base, d.q, sp, m);
    memset(&deps, 0, sizeof(deps));
    deps.cfg = cfg;
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++)
        deps.tokens[i] = tokens[i];
    deps.in = d.in;
    deps.q = d.q;
    deps.sp = sp;
    deps.m = m;
    deps.status_cb = status_delivery;
    deps.status_arg = &d;
    if (roles & ROLE_DISPATCH) {
        char host[128] = "watchrelay";
        char *consumer;

        gethostname(host, sizeof(host) - 1);
        consumer = xasprintf("%s-%d", host, cfg->listen_port);
        d.disp =
            dispatch_new(d.base, cfg, d.q, url, consumer, err, sizeof(err));
        free(consumer);
        if (d.disp == NULL) {
            fprintf(stderr, "watchrelay: %s\n", err);
            goto done;
        }
    }
    if ((roles & ROLE_POLL) && cfg->n_pairs > 0) {
        d.poll = poll_new(d.base, cfg, cfg_path, err, sizeof(err));
        if (d.poll == NULL) {
            fprintf(stderr, "watchrelay: %s\n", err);
            goto done;
        }
    }
    d.srv = server_new(d.base, &deps, err, sizeof(err));
    if (d.in == NULL || d.srv == NULL) {
        fprintf(stderr, "watchrelay: %s\n", d.srv ? "cannot start" : err);
        goto done;
    }
    d.sigterm_ev = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint_ev = evsignal_new(d.base, SIGINT, on_signal, &d);
    d.stop_ev = evtimer_new(d.base, on_stop_check, &d);
    if (d.sigterm_ev == NULL || d.sigint_ev == NULL || d.stop_ev == NULL ||
        event_add(d.sigterm_ev, NULL) != 0 ||
        event_add(d.sigint_ev, NULL) != 0) {
        fprintf(stderr, "watchrelay: cannot install signal handlers\n");
        goto done;
    }
    printf("watchrelay %s listening on http://%s:%d (state in %s)\n",
           WR_VERSION, cfg->listen_host, server_port(d.srv), cfg->state_dir);
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++) {
        if (tokens[i] == NULL)
            continue;
        printf("  %-9s webhook URL: http://%s:%d/hooks/%s/%s\n",
               config_source_name((enum config_source)i), cfg->listen_host,
               server_port(d.srv), config_source_name((enum config_source)i),
               tokens[i]);
    }
    fflush(stdout);
    log_info("msg=started listen=%s:%d redis=%s spool_depth=%zu",
             cfg->listen_host, server_port(d.srv), re ? "embedded" : "external",
             spool_depth(sp));
    event_base_dispatch(d.base);
    /* Fail what still waits on Redis into the spool, then flush replies.
     * Delivery stops first: what it had in hand stays pending in Redis. */
    poll_stop(d.poll);
    dispatch_stop(d.disp);
    ingest_stop(d.in);
    queue_free(d.q);
    d.q = NULL;
    for (int i = 0; i < 20; i++)
        event_base_loop(d.base, EVLOOP_NONBLOCK);
    log_info("msg=stopped");
    rc = 0;
done:
    server_free(d.srv);
    poll_free(d.poll);
    dispatch_stop(d.disp);
    queue_free(d.q);
    dispatch_free(d.disp);
    ingest_free(d.in);
    if (d.sigterm_ev)
        event_free(d.sigterm_ev);
    if (d.sigint_ev)
        event_free(d.sigint_ev);
    if (d.stop_ev)
        event_free(d.stop_ev);
    if (d.base)
        event_base_free(d.base);
    metrics_free(m);
    spool_free(sp);
    redis_embed_stop(re);
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++) {
        if (tokens[i]) {
            explicit_bzero(tokens[i], strlen(tokens[i]));
            free(tokens[i]);
        }
    }
    config_free(cfg);
    return rc;
}

static int
cmd_check_config(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg;

    (void)argv;
    if (argc > 1)
        return usage_error("usage: check-config");
    cfg = load_config(cfg_path);
    if (cfg == NULL)
        return 2;
    printf("%s: configuration is valid\n", cfg_path);
    config_free(cfg);
    return 0;
}

static void
emit_line(const char *json, size_t len, void *arg)
{
    (void)arg;
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
}

static int
cmd_events(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = NULL;
    struct cli_redis cr;
    char err[512];
    int64_t n = 10;
    int rc = 1, c;

    memset(&cr, 0, sizeof(cr));
    if (argc < 2 || strcmp(argv[1], "tail") != 0)
        return usage_error("usage: events tail [-n N]");
    optind = 2;
    while ((c = getopt(argc, argv, "n:")) != -1) {
        if (c != 'n' || parse_i64(optarg, 1, 100000, &n) != 0)
            return usage_error("usage: events tail [-n N] (1..100000)");
    }
    if (optind < argc)
        return usage_error("usage: events tail [-n N]");
    cfg = load_config(cfg_path);
    if (cfg == NULL)
        return 2;
    if (cli_redis_open(cfg, &cr, err, sizeof(err)) != 0) {
        fprintf(stderr, "watchrelay: cannot open Redis: %s\n", err);
        goto done;
    }
    if (queue_sync_tail(cr.qs, cfg->key_prefix, (int)n, emit_line, NULL, err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "watchrelay: %s\n", err);
        goto done;
    }
    rc = 0;
done:
    cli_redis_close(&cr);
    config_free(cfg);
    return rc;
}

struct status_fetch {
    struct buf body;
    int code;
};

static void
on_status_reply(struct evhttp_request *req, void *arg)
{
    struct status_fetch *sf = arg;
    struct evbuffer *in;
    size_t len;

    if (req == NULL)
        return; /* connection failed or timed out: code stays 0 */
    sf->code = evhttp_request_get_response_code(req);
    in = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(in);
    if (len > 0 && len < (1 << 20))
        buf_append(&sf->body, evbuffer_pullup(in, -1), len);
}

/*
 * Ask the running daemon for /api/status. A plain libevent HTTP client: the
 * daemon listens on an IP literal, so nothing resolves names.
 */
static int
cmd_status(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg;
    struct event_base *base = NULL;
    struct evhttp_connection *conn = NULL;
    struct evhttp_request *req;
    struct status_fetch sf;
    const char *host;
    int rc = 1;

    (void)argv;
    if (argc > 1)
        return usage_error("usage: status");
    cfg = load_config(cfg_path);
    if (cfg == NULL)
        return 2;
    memset(&sf, 0, sizeof(sf));
    buf_init(&sf.body);
    host = strcmp(cfg->listen_host, "0.0.0.0") == 0 ? "127.0.0.1"
           : strcmp(cfg->listen_host, "::") == 0    ? "::1"
                                                    : cfg->listen_host;
    base = event_base_new();
    if (base != NULL)
        conn = evhttp_connection_base_new(base, NULL, host,
                                          (ev_uint16_t)cfg->listen_port);
    if (conn == NULL) {
        fprintf(stderr, "watchrelay: cannot create an HTTP client\n");
        goto done;
    }
    evhttp_connection_set_timeout(conn, 5);
    req = evhttp_request_new(on_status_reply, &sf);
    if (req == NULL ||
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
                          host) != 0 ||
        evhttp_make_request(conn, req, EVHTTP_REQ_GET, "/api/status") != 0) {
        fprintf(stderr, "watchrelay: cannot send the status request\n");
        goto done;
    }
    event_base_dispatch(base);
    if (sf.code == 0) {
        fprintf(stderr,
                "watchrelay: the daemon does not answer on %s:%d; is "
                "`watchrelay serve` running?\n",
                host, cfg->listen_port);
        goto done;
    }
    if (sf.code != 200) {
        fprintf(stderr, "watchrelay: /api/status answered %d\n", sf.code);
        goto done;
    }
    {
        char err[256];
        struct json_object *o = jsonu_parse(sf.body.data ? sf.body.data : "",
                                            sf.body.len, 16, err, sizeof(err));

        if (o == NULL) {
            fprintf(stderr, "watchrelay: bad status reply: %s\n", err);
            goto done;
        }
        if (cfg->n_pairs > 0) {
            struct cli_redis cr;
            struct json_object *pairs = NULL;

            if (cli_redis_open(cfg, &cr, err, sizeof(err)) == 0) {
                pairs = reconcile_status(cfg, cr.qs);
                cli_redis_close(&cr);
            }
            if (pairs != NULL)
                json_object_object_add(o, "pairs", pairs);
        }
        printf("%s\n", json_object_to_json_string_ext(
                           o, JSON_C_TO_STRING_PRETTY |
                                  JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    }
    rc = 0;
done:
    if (conn)
        evhttp_connection_free(conn);
    if (base)
        event_base_free(base);
    buf_release(&sf.body);
    config_free(cfg);
    return rc;
}

static int
cmd_dlq(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = load_config(cfg_path);
    int rc;

    if (cfg == NULL)
        return 2;
    rc = cli_dlq(cfg, argc, argv);
    config_free(cfg);
    return rc;
}

static int
cmd_auth(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = load_config(cfg_path);
    int rc;

    if (cfg == NULL)
        return 2;
    if (mkdir_p(cfg->state_dir, 0700) != 0) {
        fprintf(stderr, "watchrelay: cannot create state_dir %s\n",
                cfg->state_dir);
        config_free(cfg);
        return 1;
    }
    rc = cli_auth(cfg, argc, argv);
    config_free(cfg);
    return rc;
}

static int
cmd_backup(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = load_config(cfg_path);
    int rc;

    if (cfg == NULL)
        return 2;
    rc = cli_backup(cfg, argc, argv);
    config_free(cfg);
    return rc;
}

static int
cmd_sync(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = load_config(cfg_path);
    int rc;

    if (cfg == NULL)
        return 2;
    rc = reconcile_cli(cfg, argc, argv);
    config_free(cfg);
    return rc;
}

static int
cmd_unresolved(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = load_config(cfg_path);
    int rc;

    if (cfg == NULL)
        return 2;
    rc = reconcile_cli_unresolved(cfg, argc, argv);
    config_free(cfg);
    return rc;
}

static int
cmd_quarantine(const char *cfg_path, int argc, char **argv)
{
    struct config *cfg = load_config(cfg_path);
    int rc;

    if (cfg == NULL)
        return 2;
    rc = reconcile_cli_quarantine(cfg, argc, argv);
    config_free(cfg);
    return rc;
}

static int cmd_help(const char *cfg_path, int argc, char **argv);

static const struct cmd_entry cmd_table[] = {
    {"serve", "serve [--roles ingest,dispatch,poll]", cmd_serve},
    {"check-config", "check-config", cmd_check_config},
    {"events", "events tail [-n N]", cmd_events},
    {"status", "status", cmd_status},
    {"auth", "auth trakt|simkl", cmd_auth},
    {"dlq", "dlq list | dlq show ID | dlq replay ID|--all | dlq drop ID",
     cmd_dlq},
    {"backup",
     "backup list | backup restore SNAPSHOT [--to INSTANCE] [--feature F] "
     "[--dry-run]",
     cmd_backup},
    {"sync",
     "sync [--pair ID] [--feature F] [--dry-run] [--json] [--trust INSTANCE] "
     "[--allow-mass-delete] [--delta] [--quiet]",
     cmd_sync},
    {"unresolved", "unresolved list [--pair ID] [--feature F] [--json]",
     cmd_unresolved},
    {"quarantine",
     "quarantine list | quarantine show KEY | quarantine clear KEY|--all "
     "[--pair ID] [--feature F]",
     cmd_quarantine},
    {"help", "help", cmd_help},
    {NULL, NULL, NULL},
};

static int
cmd_help(const char *cfg_path, int argc, char **argv)
{
    (void)cfg_path;
    (void)argc;
    (void)argv;
    printf("usage: watchrelay [-c FILE] <command> [options]\n\ncommands:\n");
    for (const struct cmd_entry *c = cmd_table; c->name != NULL; c++)
        printf("  %s\n", c->usage);
    printf("\nWithout -c, config/watchrelay.json is read if it exists, else "
           "config/watchrelay.example.json.\n");
    return 0;
}

int
main(int argc, char **argv)
{
    const char *cfg_path = NULL;
    int i = 1;

    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            cfg_path = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("watchrelay %s\n", WR_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            return cmd_help(NULL, 0, NULL);
        } else {
            return usage_error("unknown option; usage: watchrelay [-c FILE] "
                               "<command> [options]");
        }
    }
    if (i >= argc)
        return usage_error("missing command");
    if (cfg_path == NULL)
        cfg_path = config_default_path();
    for (const struct cmd_entry *c = cmd_table; c->name != NULL; c++) {
        if (strcmp(c->name, argv[i]) == 0) {
            return c->exec(cfg_path, argc - i, argv + i);
        }
    }
    fprintf(stderr, "watchrelay: unknown command \"%s\"\n", argv[i]);
    return 2;
}
