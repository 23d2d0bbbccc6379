#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "jsonu.h"
#include "util.h"

#define CONFIG_MAX_BYTES   (1024 * 1024) /* the configuration file */
#define CONFIG_SECRET_MAX  (64 * 1024)   /* one *_file secret */
#define CONFIG_JSON_DEPTH  32
#define CONFIG_SUN_PATH    107 /* sizeof(sockaddr_un.sun_path) - 1 */
#define CONFIG_NAME_MAX    64  /* key_prefix, pair ids */
#define CONFIG_SHOWN_VALUE 72  /* escaped values quoted in messages */

static const char *const source_names[CONFIG_SOURCE_MAX + 1] = {
    [CONFIG_SOURCE_PLEX] = "plex", [CONFIG_SOURCE_JELLYFIN] = "jellyfin",
    [CONFIG_SOURCE_EMBY] = "emby", [CONFIG_SOURCE_TAUTULLI] = "tautulli",
    [CONFIG_SOURCE_MAX] = NULL,
};

static const char *const provider_names[CONFIG_PROVIDER_MAX + 1] = {
    [CONFIG_PROVIDER_TRAKT] = "trakt",
    [CONFIG_PROVIDER_SIMKL] = "simkl",
    [CONFIG_PROVIDER_ANILIST] = "anilist",
    [CONFIG_PROVIDER_MDBLIST] = "mdblist",
    [CONFIG_PROVIDER_PLEX] = "plex",
    [CONFIG_PROVIDER_JELLYFIN] = "jellyfin",
    [CONFIG_PROVIDER_EMBY] = "emby",
    [CONFIG_PROVIDER_TAUTULLI] = "tautulli",
    [CONFIG_PROVIDER_LOCAL] = "local",
    [CONFIG_PROVIDER_MAX] = NULL,
};

static const char *const kind_names[] = {
    "scrobble", "history", "rating", "watchlist", "progress", "playlist", NULL,
};
static const char *const log_levels[] = {"error", "warn", "info", "debug",
                                         NULL};
static const char *const pair_modes[] = {"one-way", "two-way", NULL};
static const char *const history_modes[] = {"collapsed", "event", NULL};
static const char *const truth_sides[] = {"source", "target", NULL};
static const char *const remove_modes[] = {"source_deletes", "mirror", NULL};

/*
 * The schema. A table describes one JSON object: its keys in order, and for
 * each the type, flags, default, bounds and where the value lives (offsetof
 * into the struct the table fills). Nested objects point at a child table.
 * One walk over the tables parses, validates and applies the defaults;
 * another frees.
 */
enum cf_type {
    CF_STR,      /* char * at off */
    CF_SECRET,   /* char * at off, or read from the file "<name>_file" */
    CF_ENUM,     /* char * at off, one of choices */
    CF_HOSTPORT, /* "HOST:PORT": char * host at off, int port at off2 */
    CF_INT,      /* int at off, in [min, max] */
    CF_SIZE,     /* size_t at off, in [min, max] */
    CF_BOOL,     /* bool at off */
    CF_STRS,     /* char ** at off, size_t count at off2; choices optional */
    CF_OBJ,      /* an object described by child, at off */
    CF_OBJS,     /* an array of child objects: pointer at off, count at off2 */
};

#define CF_REQUIRED 0x1u /* the key must be present */
#define CF_NONEMPTY 0x2u /* the string or array must not be empty */

struct cf_ctx;

struct cf_field {
    const char *name;
    enum cf_type type;
    unsigned flags;
    size_t off;
    size_t off2;
    const char *def; /* string default; NULL = none */
    int64_t def_int; /* CF_INT, CF_SIZE, CF_BOOL */
    int64_t min;
    int64_t max;
    const char *const *choices; /* CF_ENUM, and optionally CF_STRS */
    /* Extra validation of a string; reports its own error, returns -1. */
    int (*check)(struct cf_ctx *ctx, const char *s);
    const struct cf_table *child; /* CF_OBJ, CF_OBJS */
};

struct cf_table {
    const struct cf_field *fields; /* ends with a NULL name */
    bool has_present;              /* set a bool when the object appears */
    size_t present_off;
    size_t size; /* the element size, for CF_OBJS */
    /* Cross-field checks once the object's keys are parsed. */
    void (*finish)(struct cf_ctx *ctx, char *base);
};

struct cf_ctx {
    struct buf errs;
    size_t n_errs;
    struct buf path; /* the JSON path being parsed, "" at the top */
    const char *label;
    const char *base_dir;
};

static int check_redis(struct cf_ctx *ctx, const char *s);
static int check_key_prefix(struct cf_ctx *ctx, const char *s);
static int check_url(struct cf_ctx *ctx, const char *s);
static int check_pair_id(struct cf_ctx *ctx, const char *s);
static void pair_finish(struct cf_ctx *ctx, char *base);
static void root_finish(struct cf_ctx *ctx, char *base);

/* limits and scrobble are flat in struct config: their tables use its
 * offsets and the parent field sits at offset 0. */
static const struct cf_field limits_fields[] = {
    {.name = "max_body_bytes",
     .type = CF_SIZE,
     .off = offsetof(struct config, max_body_bytes),
     .def_int = 4194304,
     .min = 1024,
     .max = 1073741824},
    {.name = "timeout_s",
     .type = CF_INT,
     .off = offsetof(struct config, timeout_s),
     .def_int = 30,
     .min = 1,
     .max = 3600},
    {.name = "redis_timeout_ms",
     .type = CF_INT,
     .off = offsetof(struct config, redis_timeout_ms),
     .def_int = 2000,
     .min = 100,
     .max = 60000},
    {.name = NULL},
};
static const struct cf_table limits_table = {.fields = limits_fields};

static const struct cf_field scrobble_fields[] = {
    {.name = "watched_percent",
     .type = CF_INT,
     .off = offsetof(struct config, watched_percent),
     .def_int = 90,
     .min = 50,
     .max = 100},
    /* SYNC.md 3.4: an unfinished session idle this long is finalized. */
    {.name = "finalize_idle_s",
     .type = CF_INT,
     .off = offsetof(struct config, finalize_idle_s),
     .def_int = 1800,
     .min = 1,
     .max = 604800},
    {.name = NULL},
};
static const struct cf_table scrobble_table = {.fields = scrobble_fields};

static const struct cf_field source_fields[] = {
    {.name = "token",
     .type = CF_SECRET,
     .off = offsetof(struct source_conf, token),
     .def = ""},
    {.name = "users",
     .type = CF_STRS,
     .off = offsetof(struct source_conf, users),
     .off2 = offsetof(struct source_conf, n_users)},
    {.name = "servers",
     .type = CF_STRS,
     .off = offsetof(struct source_conf, servers),
     .off2 = offsetof(struct source_conf, n_servers)},
    {.name = NULL},
};
static const struct cf_table source_table = {
    .fields = source_fields,
    .has_present = true,
    .present_off = offsetof(struct source_conf, present),
};

#define SOURCE_FIELD(e, n)                        \
    {                                             \
        .name = n, .type = CF_OBJ,                \
        .off = offsetof(struct config, sources) + \
               (e) * sizeof(struct source_conf),  \
        .child = &source_table                    \
    }
static const struct cf_field sources_fields[] = {
    SOURCE_FIELD(CONFIG_SOURCE_PLEX, "plex"),
    SOURCE_FIELD(CONFIG_SOURCE_JELLYFIN, "jellyfin"),
    SOURCE_FIELD(CONFIG_SOURCE_EMBY, "emby"),
    SOURCE_FIELD(CONFIG_SOURCE_TAUTULLI, "tautulli"),
    {.name = NULL},
};
static const struct cf_table sources_table = {.fields = sources_fields};

#define PROVIDER_STR(n, t, chk)                                          \
    {                                                                    \
        .name = #n, .type = t, .off = offsetof(struct provider_conf, n), \
        .check = chk                                                     \
    }
static const struct cf_field provider_fields[] = {
    PROVIDER_STR(base_url, CF_STR, check_url),
    PROVIDER_STR(auth_url, CF_STR, check_url),
    PROVIDER_STR(client_id, CF_STR, NULL),
    PROVIDER_STR(client_secret, CF_SECRET, NULL),
    PROVIDER_STR(access_token, CF_SECRET, NULL),
    PROVIDER_STR(refresh_token, CF_SECRET, NULL),
    PROVIDER_STR(token, CF_SECRET, NULL),
    PROVIDER_STR(api_key, CF_SECRET, NULL),
    PROVIDER_STR(user_id, CF_STR, NULL),
    PROVIDER_STR(username, CF_STR, NULL),
    PROVIDER_STR(dir, CF_STR, NULL),
    PROVIDER_STR(discover_url, CF_STR, check_url),
    PROVIDER_STR(metadata_url, CF_STR, check_url),
    /* -1: the adapter's default pacing (SYNC.md 4.4); an account with a
     * higher limit (or a test fake without one) may set its own. */
    {.name = "write_interval_ms",
     .type = CF_INT,
     .off = offsetof(struct provider_conf, write_interval_ms),
     .def_int = -1,
     .min = 0,
     .max = 600000},
    {.name = NULL},
};
static const struct cf_table provider_table = {
    .fields = provider_fields,
    .has_present = true,
    .present_off = offsetof(struct provider_conf, present),
};

#define PROVIDER_FIELD(e, n)                        \
    {                                               \
        .name = n, .type = CF_OBJ,                  \
        .off = offsetof(struct config, providers) + \
               (e) * sizeof(struct provider_conf),  \
        .child = &provider_table                    \
    }
static const struct cf_field providers_fields[] = {
    PROVIDER_FIELD(CONFIG_PROVIDER_TRAKT, "trakt"),
    PROVIDER_FIELD(CONFIG_PROVIDER_SIMKL, "simkl"),
    PROVIDER_FIELD(CONFIG_PROVIDER_ANILIST, "anilist"),
    PROVIDER_FIELD(CONFIG_PROVIDER_MDBLIST, "mdblist"),
    PROVIDER_FIELD(CONFIG_PROVIDER_PLEX, "plex"),
    PROVIDER_FIELD(CONFIG_PROVIDER_JELLYFIN, "jellyfin"),
    PROVIDER_FIELD(CONFIG_PROVIDER_EMBY, "emby"),
    PROVIDER_FIELD(CONFIG_PROVIDER_TAUTULLI, "tautulli"),
    PROVIDER_FIELD(CONFIG_PROVIDER_LOCAL, "local"),
    {.name = NULL},
};
static const struct cf_table providers_table = {.fields = providers_fields};

static const struct cf_field route_fields[] = {
    {.name = "from",
     .type = CF_STRS,
     .flags = CF_REQUIRED | CF_NONEMPTY,
     .off = offsetof(struct route_conf, from),
     .off2 = offsetof(struct route_conf, n_from),
     .choices = source_names},
    {.name = "to",
     .type = CF_STRS,
     .flags = CF_REQUIRED | CF_NONEMPTY,
     .off = offsetof(struct route_conf, to),
     .off2 = offsetof(struct route_conf, n_to),
     .choices = provider_names},
    {.name = "kinds",
     .type = CF_STRS,
     .flags = CF_NONEMPTY,
     .off = offsetof(struct route_conf, kinds),
     .off2 = offsetof(struct route_conf, n_kinds),
     .choices = kind_names},
    {.name = "users",
     .type = CF_STRS,
     .off = offsetof(struct route_conf, users),
     .off2 = offsetof(struct route_conf, n_users)},
    {.name = "remove",
     .type = CF_BOOL,
     .off = offsetof(struct route_conf, remove),
     .def_int = 0},
    {.name = NULL},
};
static const struct cf_table route_table = {
    .fields = route_fields,
    .size = sizeof(struct route_conf),
};

static const struct cf_field feature_fields[] = {
    {.name = "add",
     .type = CF_BOOL,
     .off = offsetof(struct pair_feature_conf, add),
     .def_int = 1},
    {.name = "remove",
     .type = CF_BOOL,
     .off = offsetof(struct pair_feature_conf, remove),
     .def_int = 0},
    {.name = "remove_mode",
     .type = CF_ENUM,
     .off = offsetof(struct pair_feature_conf, remove_mode),
     .def = "source_deletes",
     .choices = remove_modes},
    {.name = "mode",
     .type = CF_ENUM,
     .off = offsetof(struct pair_feature_conf, mode),
     .def = "collapsed",
     .choices = history_modes},
    {.name = NULL},
};
static const struct cf_table feature_table = {
    .fields = feature_fields,
    .has_present = true,
    .present_off = offsetof(struct pair_feature_conf, enabled),
};

#define FEATURE_FIELD(e, n)                            \
    {                                                  \
        .name = n, .type = CF_OBJ,                     \
        .off = offsetof(struct pair_conf, features) +  \
               (e) * sizeof(struct pair_feature_conf), \
        .child = &feature_table                        \
    }
static const struct cf_field features_fields[] = {
    FEATURE_FIELD(CONFIG_FEATURE_WATCHLIST, "watchlist"),
    FEATURE_FIELD(CONFIG_FEATURE_HISTORY, "history"),
    FEATURE_FIELD(CONFIG_FEATURE_RATINGS, "ratings"),
    FEATURE_FIELD(CONFIG_FEATURE_PROGRESS, "progress"),
    FEATURE_FIELD(CONFIG_FEATURE_PLAYLISTS, "playlists"),
    {.name = NULL},
};
static const struct cf_table features_table = {.fields = features_fields};

static const struct cf_field pair_fields[] = {
    {.name = "id",
     .type = CF_STR,
     .flags = CF_REQUIRED | CF_NONEMPTY,
     .off = offsetof(struct pair_conf, id),
     .check = check_pair_id},
    {.name = "source",
     .type = CF_ENUM,
     .flags = CF_REQUIRED,
     .off = offsetof(struct pair_conf, source),
     .choices = provider_names},
    {.name = "target",
     .type = CF_ENUM,
     .flags = CF_REQUIRED,
     .off = offsetof(struct pair_conf, target),
     .choices = provider_names},
    {.name = "mode",
     .type = CF_ENUM,
     .off = offsetof(struct pair_conf, mode),
     .def = "one-way",
     .choices = pair_modes},
    {.name = "features", .type = CF_OBJ, .off = 0, .child = &features_table},
    {.name = "interval_s",
     .type = CF_INT,
     .off = offsetof(struct pair_conf, interval_s),
     .def_int = 900,
     .min = 5,
     .max = 86400},
    {.name = "reconcile_interval_s",
     .type = CF_INT,
     .off = offsetof(struct pair_conf, reconcile_interval_s),
     .def_int = 43200,
     .min = 300,
     .max = 2592000},
    {.name = "source_of_truth",
     .type = CF_ENUM,
     .off = offsetof(struct pair_conf, source_of_truth),
     .def = "source",
     .choices = truth_sides},
    {.name = NULL},
};
static const struct cf_table pair_table = {
    .fields = pair_fields,
    .size = sizeof(struct pair_conf),
    .finish = pair_finish,
};

static const struct cf_field root_fields[] = {
    {.name = "listen",
     .type = CF_HOSTPORT,
     .off = offsetof(struct config, listen_host),
     .off2 = offsetof(struct config, listen_port),
     .def = "127.0.0.1:8787"},
    {.name = "state_dir",
     .type = CF_STR,
     .flags = CF_NONEMPTY,
     .off = offsetof(struct config, state_dir),
     .def = "var"},
    {.name = "redis",
     .type = CF_STR,
     .flags = CF_NONEMPTY,
     .off = offsetof(struct config, redis),
     .def = "embedded",
     .check = check_redis},
    {.name = "key_prefix",
     .type = CF_STR,
     .flags = CF_NONEMPTY,
     .off = offsetof(struct config, key_prefix),
     .def = "wr:",
     .check = check_key_prefix},
    {.name = "log_level",
     .type = CF_ENUM,
     .off = offsetof(struct config, log_level),
     .def = "info",
     .choices = log_levels},
    {.name = "limits", .type = CF_OBJ, .off = 0, .child = &limits_table},
    {.name = "sources", .type = CF_OBJ, .off = 0, .child = &sources_table},
    {.name = "providers", .type = CF_OBJ, .off = 0, .child = &providers_table},
    {.name = "routes",
     .type = CF_OBJS,
     .off = offsetof(struct config, routes),
     .off2 = offsetof(struct config, n_routes),
     .child = &route_table},
    {.name = "pairs",
     .type = CF_OBJS,
     .off = offsetof(struct config, pairs),
     .off2 = offsetof(struct config, n_pairs),
     .child = &pair_table},
    {.name = "scrobble", .type = CF_OBJ, .off = 0, .child = &scrobble_table},
    {.name = NULL},
};
static const struct cf_table root_table = {
    .fields = root_fields,
    .finish = root_finish,
};

/* ---- errors and paths ---- */

static void cf_err(struct cf_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
cf_err(struct cf_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    msg = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (ctx->n_errs > 0)
        buf_puts(&ctx->errs, "\n");
    buf_puts(&ctx->errs, ctx->path.len > 0 ? ctx->path.data : ctx->label);
    buf_puts(&ctx->errs, ": ");
    buf_puts(&ctx->errs, msg);
    ctx->n_errs++;
    free(msg);
}

static size_t
path_push_key(struct cf_ctx *ctx, const char *key)
{
    size_t old = ctx->path.len;

    if (old > 0)
        buf_puts(&ctx->path, ".");
    buf_puts(&ctx->path, key);
    return old;
}

static size_t
path_push_index(struct cf_ctx *ctx, size_t i)
{
    size_t old = ctx->path.len;

    buf_printf(&ctx->path, "[%zu]", i);
    return old;
}

static void
path_pop(struct cf_ctx *ctx, size_t old)
{
    ctx->path.len = old;
    if (ctx->path.data != NULL)
        ctx->path.data[old] = '\0';
}

static const char *
type_desc(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a non-integer number";
    case json_type_int:
        return "an integer";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "something else";
}

static void
join_choices(struct buf *b, const char *const *choices)
{
    for (size_t i = 0; choices[i] != NULL; i++)
        buf_printf(b, "%s%s", i ? ", " : "", choices[i]);
}

static bool
in_choices(const char *s, const char *const *choices)
{
    for (size_t i = 0; choices[i] != NULL; i++)
        if (strcmp(s, choices[i]) == 0)
            return true;
    return false;
}

/* Report s (escaped) as not one of choices. */
static void
err_choice(struct cf_ctx *ctx, const char *s, const char *const *choices)
{
    char shown[CONFIG_SHOWN_VALUE];
    struct buf list;

    buf_init(&list);
    join_choices(&list, choices);
    str_escape(s, strlen(s), shown, sizeof(shown));
    cf_err(ctx, "\"%s\" is not one of: %s", shown, list.data);
    buf_release(&list);
}

/* A string value without embedded NUL bytes, or an error. */
static int
get_string(struct cf_ctx *ctx, struct json_object *v, const char **out)
{
    const char *s;

    if (!json_object_is_type(v, json_type_string)) {
        cf_err(ctx, "expected a string, got %s", type_desc(v));
        return -1;
    }
    s = json_object_get_string(v);
    if ((size_t)json_object_get_string_len(v) != strlen(s)) {
        cf_err(ctx, "must not contain NUL characters");
        return -1;
    }
    *out = s;
    return 0;
}

/* ---- string checks ---- */

static bool
ipv4_literal(const char *s)
{
    struct in_addr a;

    return inet_pton(AF_INET, s, &a) == 1;
}

static bool
ipv6_literal(const char *s)
{
    struct in6_addr a;

    return inet_pton(AF_INET6, s, &a) == 1;
}

/*
 * Split "HOST:PORT" or "[V6]:PORT" at the port colon. On success *host is
 * owned (brackets removed) and *port_str points into s. Returns -1 with
 * *host NULL on a malformed string; *bracketed tells which host form.
 */
static int
split_hostport(const char *s, char **host, const char **port_str,
               bool *bracketed)
{
    const char *colon;

    *host = NULL;
    *bracketed = s[0] == '[';
    if (*bracketed) {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        *host = xstrndup(s + 1, (size_t)(close - s - 1));
        *port_str = close + 2;
        return 0;
    }
    colon = strchr(s, ':');
    if (colon == NULL || strchr(colon + 1, ':') != NULL)
        return -1;
    *host = xstrndup(s, (size_t)(colon - s));
    *port_str = colon + 1;
    return 0;
}

/* "listen": an IPv4 literal, "[v6]" or localhost, and a port 0-65535. */
static int
parse_listen(struct cf_ctx *ctx, const char *s, char **host_out, int *port_out)
{
    char *host = NULL;
    const char *port_str;
    bool bracketed;
    int64_t port;
    int rc = -1;

    if (split_hostport(s, &host, &port_str, &bracketed) != 0) {
        cf_err(ctx, "expected \"HOST:PORT\" (an IPv4 address, [IPv6 "
                    "address] or localhost, e.g. \"127.0.0.1:8787\")");
        goto done;
    }
    if (bracketed ? !ipv6_literal(host)
                  : (strcmp(host, "localhost") != 0 && !ipv4_literal(host))) {
        char shown[CONFIG_SHOWN_VALUE];

        str_escape(host, strlen(host), shown, sizeof(shown));
        cf_err(ctx,
               "host \"%s\" must be an IPv4 address, an IPv6 address in "
               "brackets or localhost",
               shown);
        goto done;
    }
    if (parse_i64(port_str, 0, 65535, &port) != 0) {
        cf_err(ctx, "port must be a number between 0 and 65535");
        goto done;
    }
    if (strcmp(host, "localhost") == 0) {
        free(host);
        host = xstrdup("127.0.0.1");
    }
    *host_out = host;
    *port_out = (int)port;
    host = NULL;
    rc = 0;
done:
    free(host);
    return rc;
}

static int
check_redis(struct cf_ctx *ctx, const char *s)
{
    char *host = NULL;
    const char *port_str, *slash;
    bool bracketed;
    int64_t n;
    int rc = -1;

    if (strcmp(s, "embedded") == 0)
        return 0;
    if (str_has_prefix(s, "unix:")) {
        size_t len = strlen(s + 5);

        if (len == 0) {
            cf_err(ctx, "\"unix:\" needs a socket path, e.g. "
                        "\"unix:/run/redis/redis.sock\"");
            return -1;
        }
        if (len > CONFIG_SUN_PATH) {
            cf_err(ctx, "the socket path is longer than %d bytes",
                   CONFIG_SUN_PATH);
            return -1;
        }
        return 0;
    }
    if (!str_has_prefix(s, "redis://")) {
        cf_err(ctx, "expected \"embedded\", \"redis://HOST:PORT[/DB]\" or "
                    "\"unix:/path/to/redis.sock\"");
        return -1;
    }
    s += strlen("redis://");
    if (split_hostport(s, &host, &port_str, &bracketed) != 0) {
        cf_err(ctx, "expected \"redis://HOST:PORT[/DB]\" with an IP address "
                    "and a port, e.g. \"redis://127.0.0.1:6379\"");
        goto done;
    }
    if (bracketed ? !ipv6_literal(host) : !ipv4_literal(host)) {
        cf_err(ctx, "HOST must be an IP address, not a host name: hiredis "
                    "resolves names synchronously, which would stall the "
                    "event loop (e.g. \"redis://127.0.0.1:6379\")");
        goto done;
    }
    slash = strchr(port_str, '/');
    if (parse_i64n(port_str,
                   slash ? (size_t)(slash - port_str) : strlen(port_str), 1,
                   65535, &n) != 0) {
        cf_err(ctx, "the port must be a number between 1 and 65535");
        goto done;
    }
    if (slash != NULL && parse_i64(slash + 1, 0, INT_MAX, &n) != 0) {
        cf_err(ctx, "the database after \"/\" must be a number (0 or more)");
        goto done;
    }
    rc = 0;
done:
    free(host);
    return rc;
}

static int
check_key_prefix(struct cf_ctx *ctx, const char *s)
{
    if (strlen(s) > CONFIG_NAME_MAX) {
        cf_err(ctx, "must be at most %d characters", CONFIG_NAME_MAX);
        return -1;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= ' ' || c == 0x7f) {
            cf_err(ctx, "must not contain spaces or control characters");
            return -1;
        }
    }
    return 0;
}

static int
check_url(struct cf_ctx *ctx, const char *s)
{
    const char *rest;

    if (str_has_prefix(s, "http://"))
        rest = s + strlen("http://");
    else if (str_has_prefix(s, "https://"))
        rest = s + strlen("https://");
    else {
        cf_err(ctx, "must start with http:// or https://");
        return -1;
    }
    if (*rest == '\0' || *rest == '/') {
        cf_err(ctx, "needs a host after the scheme");
        return -1;
    }
    for (; *rest; rest++) {
        unsigned char c = (unsigned char)*rest;

        if (c <= ' ' || c == 0x7f) {
            cf_err(ctx, "must not contain spaces or control characters");
            return -1;
        }
    }
    return 0;
}

static int
check_pair_id(struct cf_ctx *ctx, const char *s)
{
    size_t len = strlen(s);

    if (len > CONFIG_NAME_MAX) {
        cf_err(ctx, "must be at most %d characters", CONFIG_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            cf_err(ctx, "may only contain letters, digits, '.', '_' and '-'");
            return -1;
        }
    }
    return 0;
}

static void
pair_finish(struct cf_ctx *ctx, char *base)
{
    const struct pair_conf *p = (const struct pair_conf *)base;

    if (p->source != NULL && p->target != NULL &&
        strcmp(p->source, p->target) == 0) {
        size_t old = path_push_key(ctx, "target");

        cf_err(ctx, "must differ from source");
        path_pop(ctx, old);
    }
}

/* Sort pairs by id, then by position (pointers into one array). */
static int
pair_ptr_cmp(const void *a, const void *b)
{
    const struct pair_conf *pa = *(const struct pair_conf *const *)a;
    const struct pair_conf *pb = *(const struct pair_conf *const *)b;
    int c = strcmp(pa->id, pb->id);

    if (c != 0)
        return c;
    return pa < pb ? -1 : pa > pb;
}

/* Pair ids are unique: sort the pairs that have an id and compare
 * neighbours; each repeat is reported against the first one. */
static void
root_finish(struct cf_ctx *ctx, char *base)
{
    const struct config *cfg = (const struct config *)base;
    const struct pair_conf **sorted;
    size_t n = 0, first = 0;

    if (cfg->n_pairs < 2)
        return;
    sorted = xcalloc(cfg->n_pairs, sizeof(*sorted));
    for (size_t i = 0; i < cfg->n_pairs; i++)
        if (cfg->pairs[i].id != NULL)
            sorted[n++] = &cfg->pairs[i];
    qsort(sorted, n, sizeof(*sorted), pair_ptr_cmp);
    for (size_t k = 1; k < n; k++) {
        char shown[CONFIG_SHOWN_VALUE];
        size_t old;

        if (strcmp(sorted[k]->id, sorted[first]->id) != 0) {
            first = k;
            continue;
        }
        old = path_push_key(ctx, "pairs");
        path_push_index(ctx, (size_t)(sorted[k] - cfg->pairs));
        path_push_key(ctx, "id");
        str_escape(sorted[k]->id, strlen(sorted[k]->id), shown, sizeof(shown));
        cf_err(ctx, "duplicate id \"%s\" (pairs[%zu] has it too)", shown,
               (size_t)(sorted[first] - cfg->pairs));
        path_pop(ctx, old);
    }
    free(sorted);
}

/* ---- secrets from files ---- */

/*
 * Read at most max bytes of fd into an owned, NUL-terminated buffer.
 * Returns NULL with errno set (EFBIG past max).
 */
static char *
read_fd_capped(int fd, size_t max, size_t *len_out)
{
    char *data = xmalloc(max + 2);
    size_t len = 0;

    for (;;) {
        ssize_t n = read(fd, data + len, max + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            explicit_bzero(data, max + 2);
            free(data);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            explicit_bzero(data, max + 2);
            free(data);
            errno = EFBIG;
            return NULL;
        }
    }
    data[len] = '\0';
    *len_out = len;
    return data;
}

static char *
resolve_path(const char *base_dir, const char *path)
{
    if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        return xstrdup(path);
    return xasprintf("%s/%s", base_dir, path);
}

/* The value of "<name>_file": read the secret from that file, refusing one
 * that group or others may access. */
static void
read_secret_file(struct cf_ctx *ctx, const struct cf_field *f, char *base,
                 struct json_object *v)
{
    const char *rel;
    char *path = NULL, *data = NULL;
    size_t len = 0;
    struct stat st;
    int fd = -1;

    if (get_string(ctx, v, &rel) != 0)
        return;
    if (rel[0] == '\0') {
        cf_err(ctx, "must not be empty");
        return;
    }
    path = resolve_path(ctx->base_dir, rel);
    /* O_NONBLOCK: a FIFO must not stall the load; it is refused below. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        cf_err(ctx, "cannot open %s: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        cf_err(ctx, "cannot stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        cf_err(ctx, "%s is not a regular file", path);
        goto done;
    }
    if ((st.st_mode & 077) != 0) {
        cf_err(ctx,
               "%s is accessible by group or others (mode %04o); secrets "
               "files must be private: chmod 600 %s",
               path, (unsigned)(st.st_mode & 07777), path);
        goto done;
    }
    data = read_fd_capped(fd, CONFIG_SECRET_MAX, &len);
    if (data == NULL) {
        if (errno == EFBIG)
            cf_err(ctx, "%s is larger than %d bytes", path, CONFIG_SECRET_MAX);
        else
            cf_err(ctx, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    /* One trailing newline ("\n" or "\r\n") is not part of the secret. */
    if (len > 0 && data[len - 1] == '\n') {
        len--;
        if (len > 0 && data[len - 1] == '\r')
            len--;
        data[len] = '\0';
    }
    if (memchr(data, '\0', len) != NULL) {
        cf_err(ctx, "%s contains a NUL byte", path);
        goto done;
    }
    *(char **)(base + f->off) = xstrndup(data, len);
done:
    if (data != NULL) {
        explicit_bzero(data, CONFIG_SECRET_MAX + 2);
        free(data);
    }
    if (fd >= 0)
        close(fd);
    free(path);
}

/* ---- the table walk ---- */

static void cf_object(struct cf_ctx *ctx, const struct cf_table *t, char *base,
                      struct json_object *obj);

static bool
cf_known_key(const struct cf_table *t, const char *key)
{
    for (const struct cf_field *f = t->fields; f->name != NULL; f++) {
        size_t n = strlen(f->name);

        if (strcmp(key, f->name) == 0)
            return true;
        if (f->type == CF_SECRET && strncmp(key, f->name, n) == 0 &&
            strcmp(key + n, "_file") == 0)
            return true;
    }
    return false;
}

static void
err_unknown_key(struct cf_ctx *ctx, const struct cf_table *t, const char *key)
{
    char shown[CONFIG_SHOWN_VALUE];
    struct buf list;
    size_t old;

    buf_init(&list);
    for (const struct cf_field *f = t->fields; f->name != NULL; f++) {
        buf_printf(&list, "%s%s", list.len ? ", " : "", f->name);
        if (f->type == CF_SECRET)
            buf_printf(&list, ", %s_file", f->name);
    }
    str_escape(key, strlen(key), shown, sizeof(shown));
    old = path_push_key(ctx, shown);
    cf_err(ctx, "unknown key (expected one of: %s)", list.data);
    path_pop(ctx, old);
    buf_release(&list);
}

/* A string-valued field (CF_STR, CF_SECRET, CF_ENUM) that is present. */
static void
cf_string(struct cf_ctx *ctx, const struct cf_field *f, char *base,
          struct json_object *v)
{
    const char *s;

    if (get_string(ctx, v, &s) != 0)
        return;
    if ((f->flags & CF_NONEMPTY) && s[0] == '\0') {
        cf_err(ctx, "must not be empty");
        return;
    }
    if (f->choices != NULL && !in_choices(s, f->choices)) {
        err_choice(ctx, s, f->choices);
        return;
    }
    if (f->check != NULL && f->check(ctx, s) != 0)
        return;
    *(char **)(base + f->off) = xstrdup(s);
}

static void
cf_int(struct cf_ctx *ctx, const struct cf_field *f, char *base,
       struct json_object *v, bool have)
{
    int64_t n = f->def_int;

    if (have) {
        if (!json_object_is_type(v, json_type_int)) {
            cf_err(ctx, "expected an integer, got %s", type_desc(v));
            return;
        }
        n = json_object_get_int64(v);
        if (n < f->min || n > f->max) {
            cf_err(ctx, "must be between %" PRId64 " and %" PRId64, f->min,
                   f->max);
            return;
        }
    }
    if (f->type == CF_INT)
        *(int *)(base + f->off) = (int)n;
    else
        *(size_t *)(base + f->off) = (size_t)n;
}

static void
cf_strings(struct cf_ctx *ctx, const struct cf_field *f, char *base,
           struct json_object *v)
{
    char **arr;
    size_t n, stored = 0;

    if (!json_object_is_type(v, json_type_array)) {
        cf_err(ctx, "expected an array of strings, got %s", type_desc(v));
        return;
    }
    n = json_object_array_length(v);
    if ((f->flags & CF_NONEMPTY) && n == 0) {
        cf_err(ctx, "must not be empty");
        return;
    }
    arr = xcalloc(n ? n : 1, sizeof(*arr));
    *(char ***)(base + f->off) = arr;
    for (size_t i = 0; i < n; i++) {
        size_t old = path_push_index(ctx, i);
        const char *s;

        if (get_string(ctx, json_object_array_get_idx(v, i), &s) == 0) {
            if (f->choices != NULL && !in_choices(s, f->choices))
                err_choice(ctx, s, f->choices);
            else
                arr[stored++] = xstrdup(s);
        }
        path_pop(ctx, old);
    }
    *(size_t *)(base + f->off2) = stored;
}

static void
cf_objects(struct cf_ctx *ctx, const struct cf_field *f, char *base,
           struct json_object *v)
{
    const struct cf_table *t = f->child;
    char *arr;
    size_t n;

    if (!json_object_is_type(v, json_type_array)) {
        cf_err(ctx, "expected an array of objects, got %s", type_desc(v));
        return;
    }
    n = json_object_array_length(v);
    arr = xcalloc(n ? n : 1, t->size);
    *(char **)(base + f->off) = arr;
    *(size_t *)(base + f->off2) = n;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        size_t old = path_push_index(ctx, i);

        if (!json_object_is_type(e, json_type_object))
            cf_err(ctx, "expected an object, got %s", type_desc(e));
        else
            cf_object(ctx, t, arr + i * t->size, e);
        path_pop(ctx, old);
    }
}

/* One field: v is its value when have, else the default applies. */
static void
cf_field_value(struct cf_ctx *ctx, const struct cf_field *f, char *base,
               struct json_object *v, bool have)
{
    switch (f->type) {
    case CF_STR:
    case CF_SECRET:
    case CF_ENUM:
        if (have)
            cf_string(ctx, f, base, v);
        else if (f->def != NULL)
            *(char **)(base + f->off) = xstrdup(f->def);
        break;
    case CF_HOSTPORT: {
        const char *s = f->def;

        if (have && get_string(ctx, v, &s) != 0)
            break;
        if (s != NULL)
            parse_listen(ctx, s, (char **)(base + f->off),
                         (int *)(base + f->off2));
        break;
    }
    case CF_INT:
    case CF_SIZE:
        cf_int(ctx, f, base, v, have);
        break;
    case CF_BOOL:
        if (!have)
            *(bool *)(base + f->off) = f->def_int != 0;
        else if (!json_object_is_type(v, json_type_boolean))
            cf_err(ctx, "expected true or false, got %s", type_desc(v));
        else
            *(bool *)(base + f->off) = json_object_get_boolean(v);
        break;
    case CF_STRS:
        if (have)
            cf_strings(ctx, f, base, v);
        break;
    case CF_OBJ:
        if (have && !json_object_is_type(v, json_type_object)) {
            cf_err(ctx, "expected an object, got %s", type_desc(v));
            have = false;
        }
        cf_object(ctx, f->child, base + f->off, have ? v : NULL);
        break;
    case CF_OBJS:
        if (have)
            cf_objects(ctx, f, base, v);
        break;
    }
}

/* Fill base from obj (NULL: an absent object, defaults only). */
static void
cf_object(struct cf_ctx *ctx, const struct cf_table *t, char *base,
          struct json_object *obj)
{
    if (obj != NULL) {
        struct json_object_iterator it = json_object_iter_begin(obj);
        struct json_object_iterator end = json_object_iter_end(obj);

        if (t->has_present)
            *(bool *)(base + t->present_off) = true;
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
            const char *key = json_object_iter_peek_name(&it);

            if (!cf_known_key(t, key))
                err_unknown_key(ctx, t, key);
        }
    }
    for (const struct cf_field *f = t->fields; f->name != NULL; f++) {
        struct json_object *v = NULL, *vf = NULL;
        bool have = false, have_file = false;
        size_t old;

        if (obj != NULL) {
            have = json_object_object_get_ex(obj, f->name, &v);
            if (f->type == CF_SECRET) {
                char fname[64];

                snprintf(fname, sizeof(fname), "%s_file", f->name);
                have_file = json_object_object_get_ex(obj, fname, &vf);
                if (have_file) {
                    old = path_push_key(ctx, fname);
                    if (have)
                        cf_err(ctx, "give either %s or %s, not both", f->name,
                               fname);
                    else
                        read_secret_file(ctx, f, base, vf);
                    path_pop(ctx, old);
                    continue;
                }
            }
        }
        old = path_push_key(ctx, f->name);
        if (obj != NULL && !have && (f->flags & CF_REQUIRED))
            cf_err(ctx, "is required");
        else
            cf_field_value(ctx, f, base, v, have);
        path_pop(ctx, old);
    }
    if (obj != NULL && t->finish != NULL)
        t->finish(ctx, base);
}

static void
cf_release(const struct cf_table *t, char *base)
{
    for (const struct cf_field *f = t->fields; f->name != NULL; f++) {
        switch (f->type) {
        case CF_SECRET: {
            char *s = *(char **)(base + f->off);

            if (s != NULL)
                explicit_bzero(s, strlen(s));
            free(s);
            break;
        }
        case CF_STR:
        case CF_ENUM:
        case CF_HOSTPORT:
            free(*(char **)(base + f->off));
            break;
        case CF_INT:
        case CF_SIZE:
        case CF_BOOL:
            break;
        case CF_STRS: {
            char **arr = *(char ***)(base + f->off);
            size_t n = *(size_t *)(base + f->off2);

            for (size_t i = 0; i < n; i++)
                free(arr[i]);
            free(arr);
            break;
        }
        case CF_OBJ:
            cf_release(f->child, base + f->off);
            break;
        case CF_OBJS: {
            char *arr = *(char **)(base + f->off);
            size_t n = *(size_t *)(base + f->off2);

            for (size_t i = 0; i < n; i++)
                cf_release(f->child, arr + i * f->child->size);
            free(arr);
            break;
        }
        }
    }
}

/* ---- public ---- */

const char *
config_source_name(enum config_source s)
{
    if ((unsigned)s >= CONFIG_SOURCE_MAX)
        return "unknown";
    return source_names[s];
}

int
config_source_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++)
        if (strcmp(name, source_names[i]) == 0)
            return i;
    return -1;
}

const char *
config_provider_name(enum config_provider p)
{
    if ((unsigned)p >= CONFIG_PROVIDER_MAX)
        return "unknown";
    return provider_names[p];
}

int
config_provider_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < CONFIG_PROVIDER_MAX; i++)
        if (strcmp(name, provider_names[i]) == 0)
            return i;
    return -1;
}

static struct config *
parse_labeled(const char *json, size_t len, const char *base_dir,
              const char *label, char **errors)
{
    struct cf_ctx ctx = {.label = label, .base_dir = base_dir};
    struct json_object *top = NULL;
    struct config *cfg = NULL;
    char jerr[256];

    buf_init(&ctx.errs);
    buf_init(&ctx.path);
    if (errors != NULL)
        *errors = NULL;
    if (len > CONFIG_MAX_BYTES) {
        cf_err(&ctx, "the configuration is larger than %d bytes",
               CONFIG_MAX_BYTES);
        goto done;
    }
    top = jsonu_parse(json, len, CONFIG_JSON_DEPTH, jerr, sizeof(jerr));
    if (top == NULL) {
        cf_err(&ctx, "%s", jerr);
        goto done;
    }
    if (!json_object_is_type(top, json_type_object)) {
        cf_err(&ctx, "expected a JSON object at the top level, got %s",
               type_desc(top));
        goto done;
    }
    cfg = xcalloc(1, sizeof(*cfg));
    cf_object(&ctx, &root_table, (char *)cfg, top);
done:
    json_object_put(top);
    buf_release(&ctx.path);
    if (ctx.n_errs > 0) {
        config_free(cfg);
        cfg = NULL;
        if (errors != NULL) {
            *errors = ctx.errs.data;
            buf_init(&ctx.errs);
        }
    }
    buf_release(&ctx.errs);
    return cfg;
}

struct config *
config_parse(const char *json, size_t len, const char *base_dir, char **errors)
{
    return parse_labeled(json, len, base_dir, "config", errors);
}

struct config *
config_load(const char *path, char **errors)
{
    struct config *cfg = NULL;
    char *data = NULL, *dir = NULL;
    const char *slash;
    struct stat st;
    size_t len = 0;
    int fd, e;

    if (errors != NULL)
        *errors = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        e = errno;
        goto fail;
    }
    if (fstat(fd, &st) != 0) {
        e = errno;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        e = EISDIR;
        goto fail;
    }
    data = read_fd_capped(fd, CONFIG_MAX_BYTES, &len);
    if (data == NULL) {
        e = errno;
        goto fail;
    }
    close(fd);
    fd = -1;
    slash = strrchr(path, '/');
    if (slash == path)
        dir = xstrdup("/");
    else if (slash != NULL)
        dir = xstrndup(path, (size_t)(slash - path));
    cfg = parse_labeled(data, len, dir, path, errors);
    if (cfg != NULL)
        cfg->path = xstrdup(path);
    free(dir);
    explicit_bzero(data, len); /* it may hold inline secrets */
    free(data);
    return cfg;
fail:
    if (fd >= 0)
        close(fd);
    if (errors != NULL) {
        if (e == EFBIG)
            *errors = xasprintf("%s: cannot read: larger than %d bytes", path,
                                CONFIG_MAX_BYTES);
        else
            *errors = xasprintf("%s: cannot read: %s", path, strerror(e));
    }
    return NULL;
}

const char *
config_default_path(void)
{
    if (access("config/watchrelay.json", F_OK) == 0)
        return "config/watchrelay.json";
    return "config/watchrelay.example.json";
}

void
config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    cf_release(&root_table, (char *)cfg);
    free(cfg->path);
    explicit_bzero(cfg, sizeof(*cfg));
    free(cfg);
}
