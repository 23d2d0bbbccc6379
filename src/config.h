/*
 * config: the JSON configuration (DESIGN.md, Configuration). One schema table
 * drives parsing, validation (every problem reported with its JSON path,
 * unknown keys are errors) and defaults. Plain data, read-only after load.
 */
#ifndef WR_CONFIG_H
#define WR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum config_source {
    CONFIG_SOURCE_PLEX,
    CONFIG_SOURCE_JELLYFIN,
    CONFIG_SOURCE_EMBY,
    CONFIG_SOURCE_TAUTULLI,
    CONFIG_SOURCE_MAX
};

struct source_conf {
    bool present; /* the source appears under "sources" */
    char *token;  /* owned; "" when empty (a random one is made) */
    char **users; /* owned; allowed user names or ids; empty = all */
    size_t n_users;
    char **servers; /* owned; allowed server ids; empty = all */
    size_t n_servers;
};

enum config_provider {
    CONFIG_PROVIDER_TRAKT,
    CONFIG_PROVIDER_SIMKL,
    CONFIG_PROVIDER_ANILIST,
    CONFIG_PROVIDER_MDBLIST,
    CONFIG_PROVIDER_PLEX,
    CONFIG_PROVIDER_JELLYFIN,
    CONFIG_PROVIDER_EMBY,
    CONFIG_PROVIDER_TAUTULLI,
    CONFIG_PROVIDER_LOCAL,
    CONFIG_PROVIDER_MAX
};

/* Every field owned, NULL when not given; secrets may come from X_file. */
struct provider_conf {
    bool present;
    char *base_url;
    char *auth_url;
    char *client_id;
    char *client_secret;
    char *access_token;
    char *refresh_token;
    char *token;
    char *api_key;
    char *user_id;
    char *username;
    char *dir;
    char *discover_url;    /* plex: plex.tv Discover (watchlist) */
    char *metadata_url;    /* plex: plex.tv metadata (ids of Discover rows) */
    int write_interval_ms; /* -1 = the adapter's default */
};

struct route_conf {
    char **from; /* source names */
    size_t n_from;
    char **to; /* provider names */
    size_t n_to;
    char **kinds;
    size_t n_kinds;
    char **users;
    size_t n_users;
    bool remove;
};

struct pair_feature_conf {
    bool enabled;      /* the feature appears in the pair */
    bool add;          /* default true */
    bool remove;       /* default false */
    char *remove_mode; /* "source_deletes" (default) or "mirror" */
    char *mode;        /* history: "collapsed" (default) or "event" */
};

enum config_feature {
    CONFIG_FEATURE_WATCHLIST,
    CONFIG_FEATURE_HISTORY,
    CONFIG_FEATURE_RATINGS,
    CONFIG_FEATURE_PROGRESS,
    CONFIG_FEATURE_PLAYLISTS,
    CONFIG_FEATURE_MAX
};

struct pair_conf {
    char *id;
    char *source;
    char *target;
    char *mode; /* "one-way" or "two-way" */
    struct pair_feature_conf features[CONFIG_FEATURE_MAX];
    int interval_s;           /* delta polls; default 900 */
    int reconcile_interval_s; /* full reconciles in serve; default 43200 */
    char *source_of_truth;    /* two-way ties: "source" (default) or "target" */
};

struct config {
    char *path;            /* owned; the file it was read from */
    char *listen_host;     /* owned; default "127.0.0.1" */
    int listen_port;       /* default 8787 */
    char *state_dir;       /* owned; default "var" (relative to the cwd) */
    char *redis;           /* owned; "embedded", "redis://…", "unix:…" */
    char *key_prefix;      /* owned; default "wr:" */
    char *log_level;       /* owned; default "info" */
    size_t max_body_bytes; /* limits.max_body_bytes, default 4 MiB */
    int timeout_s;         /* limits.timeout_s, default 30 (evhttp r/w) */
    int redis_timeout_ms;  /* limits.redis_timeout_ms, default 2000 */
    struct source_conf sources[CONFIG_SOURCE_MAX];
    struct provider_conf providers[CONFIG_PROVIDER_MAX];
    struct route_conf *routes;
    size_t n_routes;
    struct pair_conf *pairs;
    size_t n_pairs;
    int watched_percent; /* scrobble.watched_percent, default 90 */
    int finalize_idle_s; /* scrobble.finalize_idle_s, default 1800 */
};

const char *config_source_name(enum config_source s);
int config_source_from_name(const char *name); /* -1 if unknown */
const char *config_provider_name(enum config_provider p);
int config_provider_from_name(const char *name); /* -1 if unknown */

/*
 * Parse and validate a configuration document. base_dir resolves relative
 * *_file paths (NULL = cwd). On success returns an owned config (config_free)
 * and *errors is NULL. On failure returns NULL and *errors holds an owned,
 * newline-separated list of problems, each "<json path>: <what is wrong>"
 * (free it).
 */
struct config *config_parse(const char *json, size_t len, const char *base_dir,
                            char **errors);
/* Read path and config_parse it; errors as above (an unreadable file is one
 * problem naming the path). */
struct config *config_load(const char *path, char **errors);
/* The -c default: config/watchrelay.json if it exists, else the example. */
const char *config_default_path(void);
void config_free(struct config *cfg);

#endif
