/*
 * The pair memory that outlives a run (SYNC.md 6.6): the appliers' reports
 * on pair operations (in flight -> confirmed, or a failure that counts
 * toward the quarantine), `watchrelay unresolved|quarantine`, and the pair
 * lines of `status`. Key layout in reconcile.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adapter.h"
#include "cli.h"
#include "queue.h"
#include "reconcile.h"
#include "util.h"

#define RC_QUARANTINE_S (7 * 86400)

/*
 * KEYS: inflight, conf, unres, quar. ARGV: key, ok (1/0), reason, now,
 * quarantine seconds, title, failures before quarantine. Returns 0 done,
 * 1 counted, 2 quarantined.
 */
const char reconcile_outcome_lua[] =
    "local key, now = ARGV[1], tonumber(ARGV[4])\n"
    "redis.call('HDEL', KEYS[1], key)\n"
    "if ARGV[2] == '1' then\n"
    "  redis.call('HSET', KEYS[2], key, now)\n"
    "  redis.call('HDEL', KEYS[3], key)\n"
    "  return 0\n"
    "end\n"
    "local rec = redis.call('HGET', KEYS[3], key)\n"
    "local r\n"
    "if rec then r = cjson.decode(rec) else r = {failures = 0, first = now} "
    "end\n"
    "r.failures = r.failures + 1\n"
    "r.reason = ARGV[3]\n"
    "r.last = now\n"
    "if ARGV[6] ~= '' then r.title = ARGV[6] end\n"
    "if r.failures >= tonumber(ARGV[7]) then\n"
    "  local q = redis.call('HGET', KEYS[4], key)\n"
    "  local entries = 1\n"
    "  if q then entries = (cjson.decode(q).entries or 0) + 1 end\n"
    "  local dur = tonumber(ARGV[5]) * (2 ^ (entries - 1))\n"
    "  redis.call('HSET', KEYS[4], key, cjson.encode({reason = r.reason,\n"
    "    since = now, ['until'] = now + dur, entries = entries,\n"
    "    failures = r.failures, first = r.first, title = r.title}))\n"
    "  redis.call('HDEL', KEYS[3], key)\n"
    "  return 2\n"
    "end\n"
    "redis.call('HSET', KEYS[3], key, cjson.encode(r))\n"
    "return 1\n";

char *
reconcile_key(const char *prefix, const char *what, const char *pair, int side,
              enum adapter_feature f)
{
    if (side < 0)
        return xasprintf("%src:%s:%s:%s", prefix, what, pair,
                         adapter_feature_name(f));
    return xasprintf("%src:%s:%s:%d:%s", prefix, what, pair, side,
                     adapter_feature_name(f));
}

static enum adapter_feature
op_feature(enum op_kind k)
{
    switch (k) {
    case OP_HISTORY_ADD:
    case OP_HISTORY_REMOVE:
        return ADAPTER_HISTORY;
    case OP_WATCHLIST_ADD:
    case OP_WATCHLIST_REMOVE:
        return ADAPTER_WATCHLIST;
    case OP_RATING_SET:
    case OP_RATING_CLEAR:
        return ADAPTER_RATINGS;
    case OP_PROGRESS_SET:
        return ADAPTER_PROGRESS;
    default:
        return ADAPTER_PLAYLISTS;
    }
}

int
reconcile_outcome_args(const struct config *cfg, const struct op *op, bool ok,
                       const char *reason, int64_t now, char *keys[4],
                       char *args[7])
{
    const struct pair_conf *pc = NULL;
    const char *what[4] = {"inflight", "conf", "unres", "quar"};
    int side;

    if (op->pair == NULL || op->target == NULL || op->key == NULL)
        return -1;
    for (size_t i = 0; i < cfg->n_pairs && pc == NULL; i++)
        if (strcmp(cfg->pairs[i].id, op->pair) == 0)
            pc = &cfg->pairs[i];
    if (pc == NULL)
        return -1;
    if (strcmp(op->target, pc->target) == 0)
        side = 1;
    else if (strcmp(op->target, pc->source) == 0)
        side = 0;
    else
        return -1;
    for (int i = 0; i < 4; i++)
        keys[i] = reconcile_key(cfg->key_prefix, what[i], pc->id, side,
                                op_feature(op->kind));
    args[0] = xstrdup(op->key);
    args[1] = xstrdup(ok ? "1" : "0");
    args[2] = xstrdup(reason ? reason : "failed");
    args[3] = xasprintf("%" PRId64, now);
    args[4] = xasprintf("%d", RC_QUARANTINE_S);
    args[5] = xstrdup(op->item.title ? op->item.title : "");
    args[6] = xstrdup(strcmp(args[2], "phantom") == 0 ? "2" : "3");
    return 0;
}

/* ---- listing ---------------------------------------------------------- */

struct rc_walk {
    const struct config *cfg;
    struct queue_sync *qs;
    const char *pair, *feature, *key;
};

typedef void (*rc_each_cb)(const struct pair_conf *pc, const char *feature,
                           int side, const char *hkey, const char *field,
                           struct json_object *rec, void *arg);

/* Every record of `what` (unres, quar) matching the filters. -1 on Redis
 * failure. */
static int
rc_walk(const struct rc_walk *w, const char *what, rc_each_cb each, void *arg)
{
    for (size_t i = 0; i < w->cfg->n_pairs; i++) {
        const struct pair_conf *pc = &w->cfg->pairs[i];

        if (w->pair && strcmp(w->pair, pc->id) != 0)
            continue;
        for (int f = 0; f < ADAPTER_FEATURE_MAX; f++) {
            const char *fn = adapter_feature_name((enum adapter_feature)f);

            if (w->feature && strcmp(w->feature, fn) != 0)
                continue;
            for (int side = 0; side < 2; side++) {
                char *k = reconcile_key(w->cfg->key_prefix, what, pc->id, side,
                                        (enum adapter_feature)f);
                const char *argv[] = {"HGETALL", k};
                struct qreply *r = queue_sync_cmd(w->qs, 2, argv, NULL);

                if (r == NULL || r->type != QREPLY_ARR) {
                    qreply_free(r);
                    free(k);
                    return -1;
                }
                for (size_t j = 0; j + 1 < r->n; j += 2) {
                    struct json_object *rec;

                    if (w->key && strcmp(w->key, r->elem[j]->str) != 0)
                        continue;
                    rec = json_tokener_parse(r->elem[j + 1]->str);
                    if (rec == NULL)
                        rec = json_object_new_object();
                    each(pc, fn, side, k, r->elem[j]->str, rec, arg);
                    json_object_put(rec);
                }
                qreply_free(r);
                free(k);
            }
        }
    }
    return 0;
}

static const char *
rec_str(struct json_object *rec, const char *name, char *buf, size_t len)
{
    struct json_object *v;

    if (!json_object_object_get_ex(rec, name, &v) || v == NULL)
        return "-";
    if (json_object_is_type(v, json_type_int) &&
        (strcmp(name, "first") == 0 || strcmp(name, "last") == 0 ||
         strcmp(name, "since") == 0 || strcmp(name, "until") == 0)) {
        char tb[WR_TIME_BUF];

        wr_time_format(json_object_get_int64(v), tb);
        snprintf(buf, len, "%s", tb);
        return buf;
    }
    snprintf(buf, len, "%s", json_object_get_string(v));
    return buf;
}

struct print_ctx {
    size_t n;
    bool quarantine, json;
};

static void
print_rec(const struct pair_conf *pc, const char *feature, int side,
          const char *hkey, const char *field, struct json_object *rec,
          void *arg)
{
    struct print_ctx *p = arg;
    const char *inst = side == 0 ? pc->source : pc->target;
    char a[64], b[64], c[64], d[64], e[256];

    (void)hkey;
    p->n++;
    if (p->json) {
        json_object_object_add(rec, "pair", json_object_new_string(pc->id));
        json_object_object_add(rec, "feature", json_object_new_string(feature));
        json_object_object_add(rec, "target", json_object_new_string(inst));
        json_object_object_add(rec, "key", json_object_new_string(field));
        printf("%s\n", json_object_to_json_string_ext(
                           rec, JSON_C_TO_STRING_PLAIN |
                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        return;
    }
    if (p->quarantine)
        printf("%-12s %-10s %-8s %-40s %-10s until=%s entries=%s "
               "failures=%s \"%s\"\n",
               pc->id, feature, inst, field,
               rec_str(rec, "reason", a, sizeof(a)),
               rec_str(rec, "until", b, sizeof(b)),
               rec_str(rec, "entries", c, sizeof(c)),
               rec_str(rec, "failures", d, sizeof(d)),
               rec_str(rec, "title", e, sizeof(e)));
    else
        printf("%-12s %-10s %-8s %-40s %-10s failures=%s first=%s last=%s "
               "\"%s\"\n",
               pc->id, feature, inst, field,
               rec_str(rec, "reason", a, sizeof(a)),
               rec_str(rec, "failures", b, sizeof(b)),
               rec_str(rec, "first", c, sizeof(c)),
               rec_str(rec, "last", d, sizeof(d)),
               rec_str(rec, "title", e, sizeof(e)));
}

struct clear_ctx {
    struct queue_sync *qs;
    size_t n;
    int failed;
};

static void
clear_rec(const struct pair_conf *pc, const char *feature, int side,
          const char *hkey, const char *field, struct json_object *rec,
          void *arg)
{
    struct clear_ctx *c = arg;
    const char *argv[] = {"HDEL", hkey, field};
    struct qreply *r;

    (void)pc;
    (void)feature;
    (void)side;
    (void)rec;
    r = queue_sync_cmd(c->qs, 3, argv, NULL);
    if (r == NULL || r->type == QREPLY_ERR)
        c->failed = 1;
    else
        c->n += (size_t)r->integer;
    qreply_free(r);
}

/* Options shared by both commands: --pair P --feature F --json, then at
 * most one positional argument (a key). */
static int
parse_filters(int argc, char **argv, int start, struct rc_walk *w, bool *json,
              bool *all)
{
    for (int i = start; i < argc; i++) {
        if (strcmp(argv[i], "--pair") == 0 && i + 1 < argc) {
            w->pair = argv[++i];
        } else if (strcmp(argv[i], "--feature") == 0 && i + 1 < argc) {
            w->feature = argv[++i];
            if (adapter_feature_from_name(w->feature) < 0)
                return -1;
        } else if (strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else if (strcmp(argv[i], "--all") == 0 && all != NULL) {
            *all = true;
        } else if (argv[i][0] != '-' && w->key == NULL) {
            w->key = argv[i];
        } else {
            return -1;
        }
    }
    return 0;
}

static int
open_walk(const struct config *cfg, struct cli_redis *cr, struct rc_walk *w)
{
    char err[256];

    if (cli_redis_open(cfg, cr, err, sizeof(err)) != 0) {
        fprintf(stderr, "watchrelay: cannot open Redis: %s\n", err);
        return -1;
    }
    w->cfg = cfg;
    w->qs = cr->qs;
    return 0;
}

int
reconcile_cli_unresolved(const struct config *cfg, int argc, char **argv)
{
    struct rc_walk w = {0};
    struct cli_redis cr;
    struct print_ctx p = {0};
    int rc;

    if (argc < 2 || strcmp(argv[1], "list") != 0 ||
        parse_filters(argc, argv, 2, &w, &p.json, NULL) != 0) {
        fprintf(stderr, "usage: unresolved list [--pair ID] [--feature F] "
                        "[--json] [KEY]\n");
        return 2;
    }
    if (open_walk(cfg, &cr, &w) != 0)
        return 1;
    rc = rc_walk(&w, "unres", print_rec, &p);
    cli_redis_close(&cr);
    if (rc != 0) {
        fprintf(stderr, "watchrelay: Redis failed while listing\n");
        return 1;
    }
    if (!p.json)
        printf("%zu unresolved\n", p.n);
    return 0;
}

int
reconcile_cli_quarantine(const struct config *cfg, int argc, char **argv)
{
    struct rc_walk w = {0};
    struct cli_redis cr;
    struct print_ctx p = {.quarantine = true};
    bool all = false;
    int rc;
    const char *sub = argc >= 2 ? argv[1] : "";

    if ((strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 &&
         strcmp(sub, "clear") != 0) ||
        parse_filters(argc, argv, 2, &w, &p.json, &all) != 0 ||
        (strcmp(sub, "show") == 0 && w.key == NULL) ||
        (strcmp(sub, "clear") == 0 && w.key == NULL && !all && w.pair == NULL &&
         w.feature == NULL)) {
        fprintf(stderr,
                "usage: quarantine list [--pair ID] [--feature F] [--json] | "
                "quarantine show KEY | quarantine clear KEY|--all [--pair ID] "
                "[--feature F]\n");
        return 2;
    }
    if (open_walk(cfg, &cr, &w) != 0)
        return 1;
    if (strcmp(sub, "clear") == 0) {
        struct clear_ctx c = {.qs = cr.qs};

        rc = rc_walk(&w, "quar", clear_rec, &c);
        cli_redis_close(&cr);
        if (rc != 0 || c.failed) {
            fprintf(stderr, "watchrelay: Redis failed while clearing\n");
            return 1;
        }
        printf("cleared %zu quarantined item%s\n", c.n, c.n == 1 ? "" : "s");
        return 0;
    }
    if (strcmp(sub, "show") == 0)
        p.json = true;
    rc = rc_walk(&w, "quar", print_rec, &p);
    cli_redis_close(&cr);
    if (rc != 0) {
        fprintf(stderr, "watchrelay: Redis failed while listing\n");
        return 1;
    }
    if (strcmp(sub, "show") == 0 && p.n == 0) {
        fprintf(stderr, "watchrelay: %s is not in the quarantine\n", w.key);
        return 1;
    }
    if (!p.json)
        printf("%zu quarantined\n", p.n);
    return 0;
}

/* ---- status ----------------------------------------------------------- */

static int64_t
hlen(struct queue_sync *qs, const char *key)
{
    const char *argv[] = {"HLEN", key};
    struct qreply *r = queue_sync_cmd(qs, 2, argv, NULL);
    int64_t n = r && r->type == QREPLY_INT ? r->integer : -1;

    qreply_free(r);
    return n;
}

struct json_object *
reconcile_status(const struct config *cfg, struct queue_sync *qs)
{
    struct json_object *arr = json_object_new_array();

    for (size_t i = 0; i < cfg->n_pairs; i++) {
        const struct pair_conf *pc = &cfg->pairs[i];

        for (int f = 0; f < ADAPTER_FEATURE_MAX; f++) {
            const char *fn = adapter_feature_name((enum adapter_feature)f);
            char *k;
            const char *argv[2] = {"HGETALL", NULL};
            struct qreply *r;
            struct json_object *o, *meta;
            int64_t unres = 0, quar = 0;

            if (!pc->features[f].enabled)
                continue;
            k = reconcile_key(cfg->key_prefix, "meta", pc->id, -1,
                              (enum adapter_feature)f);
            argv[1] = k;
            r = queue_sync_cmd(qs, 2, argv, NULL);
            free(k);
            if (r == NULL || r->type != QREPLY_ARR) {
                qreply_free(r);
                json_object_put(arr);
                return NULL;
            }
            o = json_object_new_object();
            meta = json_object_new_object();
            json_object_object_add(o, "pair", json_object_new_string(pc->id));
            json_object_object_add(o, "feature", json_object_new_string(fn));
            json_object_object_add(o, "source",
                                   json_object_new_string(pc->source));
            json_object_object_add(o, "target",
                                   json_object_new_string(pc->target));
            json_object_object_add(o, "mode", json_object_new_string(pc->mode));
            for (size_t j = 0; j + 1 < r->n; j += 2) {
                const char *name = r->elem[j]->str;
                const char *v = r->elem[j + 1]->str;
                int64_t t;
                bool is_time = strcmp(name, "last_run") == 0 ||
                               strcmp(name, "last_delta") == 0 ||
                               strncmp(name, "wm", 2) == 0;

                if (is_time && parse_i64(v, 0, INT64_MAX, &t) == 0 && t > 0) {
                    char tb[WR_TIME_BUF];

                    wr_time_format(t, tb);
                    json_object_object_add(meta, name,
                                           json_object_new_string(tb));
                } else if (parse_i64(v, INT64_MIN, INT64_MAX, &t) == 0) {
                    json_object_object_add(meta, name,
                                           json_object_new_int64(t));
                }
            }
            qreply_free(r);
            for (int side = 0; side < 2; side++) {
                char *u = reconcile_key(cfg->key_prefix, "unres", pc->id, side,
                                        (enum adapter_feature)f);
                char *q = reconcile_key(cfg->key_prefix, "quar", pc->id, side,
                                        (enum adapter_feature)f);
                int64_t a = hlen(qs, u), b = hlen(qs, q);

                unres += a > 0 ? a : 0;
                quar += b > 0 ? b : 0;
                free(u);
                free(q);
            }
            json_object_object_add(o, "state", meta);
            json_object_object_add(o, "unresolved",
                                   json_object_new_int64(unres));
            json_object_object_add(o, "quarantined",
                                   json_object_new_int64(quar));
            json_object_array_add(arr, o);
        }
    }
    return arr;
}
