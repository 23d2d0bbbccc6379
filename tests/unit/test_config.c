/*
 * test_config: defaults, the shipped example and snippets, every error class
 * with its JSON path, error collection, *_file secrets, listen and redis
 * forms. Run from the repository root.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

static struct config *
parse_str(const char *json, char **errors)
{
    return config_parse(json, strlen(json), NULL, errors);
}

/* Parse json expecting success; fails the test with the errors otherwise. */
static struct config *
parse_ok(const char *json)
{
    char *errors = NULL;
    struct config *cfg = parse_str(json, &errors);

    if (cfg == NULL)
        fail_msg("unexpected errors for %s:\n%s", json, errors);
    assert_null(errors);
    return cfg;
}

static size_t
count_lines(const char *s)
{
    size_t n = 1;

    for (; *s; s++)
        if (*s == '\n')
            n++;
    return n;
}

/* ---- defaults and the shipped files ---- */

static void
test_defaults(void **state)
{
    struct config *cfg = parse_ok("{}");

    (void)state;
    assert_null(cfg->path);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8787);
    assert_string_equal(cfg->state_dir, "var");
    assert_string_equal(cfg->redis, "embedded");
    assert_string_equal(cfg->key_prefix, "wr:");
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->max_body_bytes, 4194304);
    assert_int_equal(cfg->timeout_s, 30);
    assert_int_equal(cfg->redis_timeout_ms, 2000);
    assert_int_equal(cfg->watched_percent, 90);
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++) {
        assert_false(cfg->sources[i].present);
        assert_non_null(cfg->sources[i].token);
        assert_string_equal(cfg->sources[i].token, "");
        assert_int_equal(cfg->sources[i].n_users, 0);
        assert_int_equal(cfg->sources[i].n_servers, 0);
    }
    for (int i = 0; i < CONFIG_PROVIDER_MAX; i++) {
        assert_false(cfg->providers[i].present);
        assert_null(cfg->providers[i].base_url);
        assert_null(cfg->providers[i].client_secret);
        assert_null(cfg->providers[i].dir);
    }
    assert_int_equal(cfg->n_routes, 0);
    assert_int_equal(cfg->n_pairs, 0);
    config_free(cfg);
}

static void
test_example_file(void **state)
{
    const char *path = "config/watchrelay.example.json";
    char *errors = NULL;
    struct config *cfg = config_load(path, &errors);
    const struct route_conf *r;

    (void)state;
    if (cfg == NULL)
        fail_msg("%s:\n%s", path, errors);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8787);
    assert_string_equal(cfg->state_dir, "var");
    assert_string_equal(cfg->redis, "embedded");
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++) {
        assert_true(cfg->sources[i].present);
        assert_string_equal(cfg->sources[i].token, "");
    }
    assert_true(cfg->providers[CONFIG_PROVIDER_TRAKT].present);
    assert_true(cfg->providers[CONFIG_PROVIDER_SIMKL].present);
    assert_true(cfg->providers[CONFIG_PROVIDER_LOCAL].present);
    assert_false(cfg->providers[CONFIG_PROVIDER_PLEX].present);
    assert_string_equal(cfg->providers[CONFIG_PROVIDER_TRAKT].base_url,
                        "https://api.trakt.tv");
    assert_string_equal(cfg->providers[CONFIG_PROVIDER_LOCAL].dir, "var/local");
    assert_int_equal(cfg->n_routes, 1);
    r = &cfg->routes[0];
    assert_int_equal(r->n_from, 4);
    assert_int_equal(r->n_to, 1);
    assert_string_equal(r->to[0], "local");
    assert_int_equal(r->n_kinds, 3);
    assert_string_equal(r->kinds[0], "scrobble");
    assert_string_equal(r->kinds[1], "history");
    assert_string_equal(r->kinds[2], "rating");
    assert_false(r->remove);
    assert_int_equal(cfg->n_pairs, 0);
    config_free(cfg);
}

/* Every snippet under config/examples is a valid configuration by itself. */
static void
test_example_snippets(void **state)
{
    DIR *d = opendir("config/examples");
    struct dirent *de;
    int n = 0;

    (void)state;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char *path, *errors = NULL;
        struct config *cfg;

        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        path = xasprintf("config/examples/%s", de->d_name);
        cfg = config_load(path, &errors);
        if (cfg == NULL)
            fail_msg("%s:\n%s", path, errors);
        config_free(cfg);
        free(path);
        n++;
    }
    closedir(d);
    /* 9 providers, 4 sources, a route and a pair. */
    assert_int_equal(n, 15);
}

static void
test_full_extraction(void **state)
{
    struct config *cfg = parse_ok(
        "{\"listen\": \"localhost:9000\", \"state_dir\": \"/srv/wr\","
        " \"redis\": \"redis://127.0.0.1:6380/3\", \"key_prefix\": \"x:\","
        " \"log_level\": \"debug\","
        " \"limits\": {\"max_body_bytes\": 1024, \"timeout_s\": 3600,"
        "   \"redis_timeout_ms\": 60000},"
        " \"sources\": {\"plex\": {\"token\": \"abc\", \"users\": [\"dana\","
        "   \"lee\"], \"servers\": [\"uuid1\"]}, \"emby\": {}},"
        " \"providers\": {\"jellyfin\": {\"base_url\": \"http://10.0.0.2:8096\","
        "   \"api_key\": \"k\", \"user_id\": \"u1\"}},"
        " \"routes\": [{\"from\": [\"plex\"], \"to\": [\"jellyfin\", \"local\"],"
        "   \"users\": [\"dana\"], \"remove\": true},"
        "  {\"from\": [\"emby\"], \"to\": [\"local\"], \"kinds\": [\"playlist\"]}],"
        " \"pairs\": [{\"id\": \"A.b_c-1\", \"source\": \"jellyfin\","
        "   \"target\": \"local\", \"mode\": \"two-way\", \"interval_s\": 60,"
        "   \"features\": {\"ratings\": {\"remove\": true, \"remove_mode\":"
        "   \"mirror\"}, \"history\": {\"add\": false}}}],"
        " \"scrobble\": {\"watched_percent\": 50}}");
    const struct source_conf *plex = &cfg->sources[CONFIG_SOURCE_PLEX];
    const struct provider_conf *jf = &cfg->providers[CONFIG_PROVIDER_JELLYFIN];
    const struct pair_conf *p;

    (void)state;
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 9000);
    assert_string_equal(cfg->state_dir, "/srv/wr");
    assert_string_equal(cfg->redis, "redis://127.0.0.1:6380/3");
    assert_string_equal(cfg->key_prefix, "x:");
    assert_string_equal(cfg->log_level, "debug");
    assert_int_equal(cfg->max_body_bytes, 1024);
    assert_int_equal(cfg->timeout_s, 3600);
    assert_int_equal(cfg->redis_timeout_ms, 60000);
    assert_int_equal(cfg->watched_percent, 50);

    assert_true(plex->present);
    assert_string_equal(plex->token, "abc");
    assert_int_equal(plex->n_users, 2);
    assert_string_equal(plex->users[1], "lee");
    assert_int_equal(plex->n_servers, 1);
    assert_string_equal(plex->servers[0], "uuid1");
    assert_true(cfg->sources[CONFIG_SOURCE_EMBY].present);
    assert_string_equal(cfg->sources[CONFIG_SOURCE_EMBY].token, "");
    assert_false(cfg->sources[CONFIG_SOURCE_JELLYFIN].present);

    assert_true(jf->present);
    assert_string_equal(jf->base_url, "http://10.0.0.2:8096");
    assert_string_equal(jf->api_key, "k");
    assert_string_equal(jf->user_id, "u1");
    assert_null(jf->token);

    assert_int_equal(cfg->n_routes, 2);
    assert_int_equal(cfg->routes[0].n_to, 2);
    assert_string_equal(cfg->routes[0].to[1], "local");
    assert_int_equal(cfg->routes[0].n_kinds, 0);
    assert_int_equal(cfg->routes[0].n_users, 1);
    assert_true(cfg->routes[0].remove);
    assert_int_equal(cfg->routes[1].n_kinds, 1);
    assert_string_equal(cfg->routes[1].kinds[0], "playlist");
    assert_false(cfg->routes[1].remove);

    assert_int_equal(cfg->n_pairs, 1);
    p = &cfg->pairs[0];
    assert_string_equal(p->id, "A.b_c-1");
    assert_string_equal(p->source, "jellyfin");
    assert_string_equal(p->target, "local");
    assert_string_equal(p->mode, "two-way");
    assert_int_equal(p->interval_s, 60);
    assert_true(p->features[CONFIG_FEATURE_RATINGS].enabled);
    assert_true(p->features[CONFIG_FEATURE_RATINGS].add);
    assert_true(p->features[CONFIG_FEATURE_RATINGS].remove);
    assert_string_equal(p->features[CONFIG_FEATURE_RATINGS].remove_mode,
                        "mirror");
    assert_true(p->features[CONFIG_FEATURE_HISTORY].enabled);
    assert_false(p->features[CONFIG_FEATURE_HISTORY].add);
    assert_false(p->features[CONFIG_FEATURE_HISTORY].remove);
    assert_string_equal(p->features[CONFIG_FEATURE_HISTORY].remove_mode,
                        "source_deletes");
    assert_false(p->features[CONFIG_FEATURE_WATCHLIST].enabled);
    config_free(cfg);
}

static void
test_pair_defaults(void **state)
{
    struct config *cfg = parse_ok(
        "{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
        "\"simkl\", \"features\": {\"watchlist\": {}}}]}");
    const struct pair_conf *p = &cfg->pairs[0];

    (void)state;
    assert_string_equal(p->mode, "one-way");
    assert_int_equal(p->interval_s, 900);
    assert_true(p->features[CONFIG_FEATURE_WATCHLIST].enabled);
    assert_true(p->features[CONFIG_FEATURE_WATCHLIST].add);
    assert_false(p->features[CONFIG_FEATURE_WATCHLIST].remove);
    assert_string_equal(p->features[CONFIG_FEATURE_WATCHLIST].remove_mode,
                        "source_deletes");
    config_free(cfg);
}

/* ---- every error class, with its exact JSON path ---- */

struct err_case {
    const char *json;
    const char *want; /* a substring of the errors: "<path>: <message>" */
};

static const struct err_case err_cases[] = {
    /* the document */
    {"[]", "config: expected a JSON object at the top level, got an array"},
    {"{", "config: invalid JSON"},
    {"{\"listen\": \"127.0.0.1:1\",}", "config: invalid JSON"},
    {"{} x", "config: invalid JSON"},
    {"\"x\"", "config: expected a JSON object at the top level"},
    {"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "}",
     "config: invalid JSON"},
    {"{\"bogus\": 1}", "bogus: unknown key (expected one of: listen, "},
    /* top-level leaves */
    {"{\"listen\": 8787}", "listen: expected a string, got an integer"},
    {"{\"listen\": \"example.com:80\"}",
     "listen: host \"example.com\" must be an IPv4 address"},
    {"{\"listen\": \"127.0.0.1\"}", "listen: expected \"HOST:PORT\""},
    {"{\"listen\": \"127.0.0.1:65536\"}",
     "listen: port must be a number between 0 and 65535"},
    {"{\"state_dir\": \"\"}", "state_dir: must not be empty"},
    {"{\"state_dir\": null}", "state_dir: expected a string, got null"},
    {"{\"state_dir\": \"a\\u0000b\"}",
     "state_dir: must not contain NUL characters"},
    {"{\"redis\": \"redis://localhost:6379\"}",
     "redis: HOST must be an IP address, not a host name: hiredis resolves "
     "names synchronously"},
    {"{\"redis\": \"tcp://127.0.0.1:6379\"}",
     "redis: expected \"embedded\", \"redis://HOST:PORT[/DB]\" or "
     "\"unix:/path/to/redis.sock\""},
    {"{\"redis\": \"\"}", "redis: must not be empty"},
    {"{\"key_prefix\": \"\"}", "key_prefix: must not be empty"},
    {"{\"key_prefix\": \"w r:\"}",
     "key_prefix: must not contain spaces or control characters"},
    {"{\"log_level\": \"verbose\"}",
     "log_level: \"verbose\" is not one of: error, warn, info, debug"},
    {"{\"log_level\": true}", "log_level: expected a string, got a boolean"},
    /* limits */
    {"{\"limits\": []}", "limits: expected an object, got an array"},
    {"{\"limits\": {\"max_body\": 1}}", "limits.max_body: unknown key"},
    {"{\"limits\": {\"max_body_bytes\": 1023}}",
     "limits.max_body_bytes: must be between 1024 and 1073741824"},
    {"{\"limits\": {\"max_body_bytes\": 1073741825}}",
     "limits.max_body_bytes: must be between 1024 and 1073741824"},
    {"{\"limits\": {\"max_body_bytes\": 99999999999999999999}}",
     "limits.max_body_bytes: must be between 1024 and 1073741824"},
    {"{\"limits\": {\"max_body_bytes\": -5}}",
     "limits.max_body_bytes: must be between 1024 and 1073741824"},
    {"{\"limits\": {\"timeout_s\": \"30\"}}",
     "limits.timeout_s: expected an integer, got a string"},
    {"{\"limits\": {\"timeout_s\": 30.0}}",
     "limits.timeout_s: expected an integer, got a non-integer number"},
    {"{\"limits\": {\"timeout_s\": 0}}",
     "limits.timeout_s: must be between 1 and 3600"},
    {"{\"limits\": {\"redis_timeout_ms\": 99}}",
     "limits.redis_timeout_ms: must be between 100 and 60000"},
    {"{\"scrobble\": {\"watched_percent\": 49}}",
     "scrobble.watched_percent: must be between 50 and 100"},
    {"{\"scrobble\": {\"watched_percent\": 101}}",
     "scrobble.watched_percent: must be between 50 and 100"},
    {"{\"scrobble\": {\"suppress\": 1}}", "scrobble.suppress: unknown key"},
    /* sources */
    {"{\"sources\": []}", "sources: expected an object, got an array"},
    {"{\"sources\": {\"sonarr\": {}}}",
     "sources.sonarr: unknown key (expected one of: plex, jellyfin, emby, "
     "tautulli)"},
    {"{\"sources\": {\"plex\": 1}}",
     "sources.plex: expected an object, got an integer"},
    {"{\"sources\": {\"plex\": {\"users\": [\"a\", 1]}}}",
     "sources.plex.users[1]: expected a string, got an integer"},
    {"{\"sources\": {\"emby\": {\"servers\": \"x\"}}}",
     "sources.emby.servers: expected an array of strings, got a string"},
    {"{\"sources\": {\"plex\": {\"token\": 5}}}",
     "sources.plex.token: expected a string, got an integer"},
    {"{\"sources\": {\"tautulli\": {\"tokens\": \"x\"}}}",
     "sources.tautulli.tokens: unknown key (expected one of: token, "
     "token_file, users, servers)"},
    {"{\"sources\": {\"plex\": {\"token\": \"a\", \"token_file\": \"x\"}}}",
     "sources.plex.token_file: give either token or token_file, not both"},
    {"{\"sources\": {\"plex\": {\"token_file\": "
     "\"/nonexistent/watchrelay-token\"}}}",
     "sources.plex.token_file: cannot open /nonexistent/watchrelay-token: "
     "No such file or directory"},
    {"{\"sources\": {\"plex\": {\"token_file\": \"\"}}}",
     "sources.plex.token_file: must not be empty"},
    {"{\"sources\": {\"plex\": {\"token_file\": \"/\"}}}",
     "sources.plex.token_file: / is not a regular file"},
    /* providers */
    {"{\"providers\": {\"netflix\": {}}}", "providers.netflix: unknown key"},
    {"{\"providers\": {\"trakt\": {\"base_url\": \"ftp://x\"}}}",
     "providers.trakt.base_url: must start with http:// or https://"},
    {"{\"providers\": {\"trakt\": {\"auth_url\": \"api.trakt.tv\"}}}",
     "providers.trakt.auth_url: must start with http:// or https://"},
    {"{\"providers\": {\"simkl\": {\"base_url\": \"https://\"}}}",
     "providers.simkl.base_url: needs a host after the scheme"},
    {"{\"providers\": {\"trakt\": {\"client_secret\": \"a\", "
     "\"client_secret_file\": \"b\"}}}",
     "providers.trakt.client_secret_file: give either client_secret or "
     "client_secret_file, not both"},
    {"{\"providers\": {\"trakt\": {\"password\": \"x\"}}}",
     "providers.trakt.password: unknown key (expected one of: base_url, "
     "auth_url, client_id, client_secret, client_secret_file, "},
    {"{\"providers\": {\"trakt\": {\"client_id_file\": \"x\"}}}",
     "providers.trakt.client_id_file: unknown key"},
    {"{\"providers\": {\"local\": {\"dir\": 1}}}",
     "providers.local.dir: expected a string, got an integer"},
    {"{\"providers\": {\"mdblist\": {\"api_key\": [\"k\"]}}}",
     "providers.mdblist.api_key: expected a string, got an array"},
    /* routes */
    {"{\"routes\": {}}", "routes: expected an array of objects, got an object"},
    {"{\"routes\": [1]}", "routes[0]: expected an object, got an integer"},
    {"{\"routes\": [{}]}", "routes[0].from: is required"},
    {"{\"routes\": [{}]}", "routes[0].to: is required"},
    {"{\"routes\": [{\"from\": [], \"to\": [\"local\"]}]}",
     "routes[0].from: must not be empty"},
    {"{\"routes\": [{\"from\": [\"plex\"], \"to\": []}]}",
     "routes[0].to: must not be empty"},
    {"{\"routes\": [{\"from\": [\"plex\", \"kodi\"], \"to\": [\"local\"]}]}",
     "routes[0].from[1]: \"kodi\" is not one of: plex, jellyfin, emby, "
     "tautulli"},
    {"{\"routes\": [{\"from\": [\"plex\"], \"to\": [\"local\"]},"
     " {\"from\": [\"plex\"], \"to\": [\"trakt\", \"letterboxd\"]}]}",
     "routes[1].to[1]: \"letterboxd\" is not one of: trakt, simkl, anilist, "
     "mdblist, plex, jellyfin, emby, tautulli, local"},
    {"{\"routes\": [{\"from\": [\"plex\"], \"to\": [\"local\"], \"kinds\": "
     "[\"scrobbles\"]}]}",
     "routes[0].kinds[0]: \"scrobbles\" is not one of: scrobble, history, "
     "rating, watchlist, progress, playlist"},
    {"{\"routes\": [{\"from\": [\"plex\"], \"to\": [\"local\"], \"kinds\": "
     "[]}]}",
     "routes[0].kinds: must not be empty"},
    {"{\"routes\": [{\"from\": [\"plex\"], \"to\": [\"local\"], \"users\": "
     "[null]}]}",
     "routes[0].users[0]: expected a string, got null"},
    {"{\"routes\": [{\"from\": [\"plex\"], \"to\": [\"local\"], \"remove\": "
     "\"yes\"}]}",
     "routes[0].remove: expected true or false, got a string"},
    {"{\"routes\": [{\"from\": [\"plex\"], \"to\": [\"local\"], \"via\": "
     "1}]}",
     "routes[0].via: unknown key"},
    {"{\"routes\": [{\"from\": \"plex\", \"to\": [\"local\"]}]}",
     "routes[0].from: expected an array of strings, got a string"},
    /* pairs */
    {"{\"pairs\": [{\"source\": \"trakt\", \"target\": \"local\"}]}",
     "pairs[0].id: is required"},
    {"{\"pairs\": [{\"id\": \"p\", \"target\": \"local\"}]}",
     "pairs[0].source: is required"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\"}]}",
     "pairs[0].target: is required"},
    {"{\"pairs\": [{\"id\": \"\", \"source\": \"trakt\", \"target\": "
     "\"local\"}]}",
     "pairs[0].id: must not be empty"},
    {"{\"pairs\": [{\"id\": \"a b\", \"source\": \"trakt\", \"target\": "
     "\"local\"}]}",
     "pairs[0].id: may only contain letters, digits, '.', '_' and '-'"},
    {"{\"pairs\": [{\"id\": \"x\", \"source\": \"trakt\", \"target\": "
     "\"local\"}, {\"id\": \"y\", \"source\": \"trakt\", \"target\": "
     "\"local\"}, {\"id\": \"x\", \"source\": \"simkl\", \"target\": "
     "\"local\"}]}",
     "pairs[2].id: duplicate id \"x\" (pairs[0] has it too)"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"trakt\"}]}",
     "pairs[0].target: must differ from source"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trak\", \"target\": "
     "\"local\"}]}",
     "pairs[0].source: \"trak\" is not one of: trakt, simkl, "},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"mode\": \"both\"}]}",
     "pairs[0].mode: \"both\" is not one of: one-way, two-way"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"features\": {\"episodes\": {}}}]}",
     "pairs[0].features.episodes: unknown key (expected one of: watchlist, "
     "history, ratings, progress, playlists)"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"features\": {\"history\": {\"remove_mode\": "
     "\"delete\"}}}]}",
     "pairs[0].features.history.remove_mode: \"delete\" is not one of: "
     "source_deletes, mirror"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"features\": {\"watchlist\": {\"add\": 1}}}]}",
     "pairs[0].features.watchlist.add: expected true or false, got an "
     "integer"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"features\": {\"ratings\": true}}]}",
     "pairs[0].features.ratings: expected an object, got a boolean"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"interval_s\": 4}]}",
     "pairs[0].interval_s: must be between 5 and 86400"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"interval_s\": 86401}]}",
     "pairs[0].interval_s: must be between 5 and 86400"},
    {"{\"pairs\": [{\"id\": \"p\", \"source\": \"trakt\", \"target\": "
     "\"local\", \"every\": 1}]}",
     "pairs[0].every: unknown key"},
};

static void
test_error_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const struct err_case *c = &err_cases[i];
        char *errors = NULL;
        struct config *cfg = parse_str(c->json, &errors);

        if (cfg != NULL)
            fail_msg("case %zu accepted: %s", i, c->json);
        if (errors == NULL || strstr(errors, c->want) == NULL)
            fail_msg("case %zu: %s\nwanted: %s\ngot:    %s", i, c->json,
                     c->want, errors ? errors : "(none)");
        free(errors);
    }
}

/* All problems are reported, one a line, not only the first. */
static void
test_collects_all_errors(void **state)
{
    const char *json = "{\"listen\": \"nowhere\", \"log_level\": \"loud\","
                       " \"limits\": {\"timeout_s\": 0, \"nope\": 1},"
                       " \"sources\": {\"plex\": {\"users\": [1, \"a\", 2]}},"
                       " \"routes\": [{\"from\": [\"x\"]}],"
                       " \"scrobble\": {\"watched_percent\": 10}}";
    static const char *const want[] = {
        "listen: expected \"HOST:PORT\"",
        "log_level: \"loud\" is not one of",
        "limits.nope: unknown key",
        "limits.timeout_s: must be between 1 and 3600",
        "sources.plex.users[0]: expected a string",
        "sources.plex.users[2]: expected a string",
        "routes[0].from[0]: \"x\" is not one of",
        "routes[0].to: is required",
        "scrobble.watched_percent: must be between 50 and 100",
    };
    char *errors = NULL;
    struct config *cfg = parse_str(json, &errors);

    (void)state;
    assert_null(cfg);
    assert_non_null(errors);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(errors, want[i]) == NULL)
            fail_msg("missing \"%s\" in:\n%s", want[i], errors);
    assert_int_equal(count_lines(errors), sizeof(want) / sizeof(want[0]));
    assert_int_not_equal(errors[strlen(errors) - 1], '\n');
    free(errors);
}

/* ---- secrets from files ---- */

struct tmpdir {
    char path[64];
};

static void
write_mode(const char *path, const char *data, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(fchmod(fd, (mode_t)mode), 0);
    close(fd);
}

static int
setup_tmp(void **state)
{
    struct tmpdir *t = xcalloc(1, sizeof(*t));

    snprintf(t->path, sizeof(t->path), "/tmp/wr-test-config-XXXXXX");
    if (mkdtemp(t->path) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int
teardown_tmp(void **state)
{
    struct tmpdir *t = *state;
    static const char *const files[] = {"secret", "open",     "crlf",
                                        "nul",    "cfg.json", "empty"};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *p = xasprintf("%s/%s", t->path, files[i]);

        unlink(p);
        free(p);
    }
    rmdir(t->path);
    free(t);
    return 0;
}

static void
test_secret_files(void **state)
{
    struct tmpdir *t = *state;
    char *secret = xasprintf("%s/secret", t->path);
    char *crlf = xasprintf("%s/crlf", t->path);
    char *empty = xasprintf("%s/empty", t->path);
    char *json, *errors = NULL;
    struct config *cfg;

    write_mode(secret, "s3cret\n", 0600);
    write_mode(crlf, "line1\nline2\r\n", 0400);
    write_mode(empty, "", 0600);
    /* absolute paths, and relative ones resolved against base_dir */
    json = xasprintf("{\"sources\": {\"plex\": {\"token_file\": \"%s\"},"
                     " \"emby\": {\"token_file\": \"empty\"}},"
                     " \"providers\": {\"trakt\": {"
                     "   \"client_secret_file\": \"secret\","
                     "   \"access_token_file\": \"crlf\","
                     "   \"refresh_token\": \"inline\"}}}",
                     secret);
    cfg = config_parse(json, strlen(json), t->path, &errors);
    if (cfg == NULL)
        fail_msg("%s", errors);
    assert_string_equal(cfg->sources[CONFIG_SOURCE_PLEX].token, "s3cret");
    assert_string_equal(cfg->sources[CONFIG_SOURCE_EMBY].token, "");
    assert_string_equal(cfg->providers[CONFIG_PROVIDER_TRAKT].client_secret,
                        "s3cret");
    /* only one trailing newline goes */
    assert_string_equal(cfg->providers[CONFIG_PROVIDER_TRAKT].access_token,
                        "line1\nline2");
    assert_string_equal(cfg->providers[CONFIG_PROVIDER_TRAKT].refresh_token,
                        "inline");
    config_free(cfg);
    free(json);

    /* relative to the cwd without base_dir: "secret" does not exist here */
    json = xstrdup("{\"providers\": {\"trakt\": {\"api_key_file\": "
                   "\"secret\"}}}");
    cfg = config_parse(json, strlen(json), NULL, &errors);
    assert_null(cfg);
    assert_non_null(strstr(errors, "providers.trakt.api_key_file: cannot "
                                   "open secret: No such file or directory"));
    free(errors);
    free(json);
    free(secret);
    free(crlf);
    free(empty);
}

static void
test_secret_file_refused(void **state)
{
    struct tmpdir *t = *state;
    static const int modes[] = {0644, 0640, 0604, 0620, 0602, 0601};
    char *open_path = xasprintf("%s/open", t->path);
    char *nul_path = xasprintf("%s/nul", t->path);
    char *json, *errors = NULL, *want;
    struct config *cfg;

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        write_mode(open_path, "tok\n", modes[i]);
        json = xstrdup("{\"sources\": {\"jellyfin\": {\"token_file\": "
                       "\"open\"}}}");
        cfg = config_parse(json, strlen(json), t->path, &errors);
        assert_null(cfg);
        assert_non_null(errors);
        want = xasprintf("sources.jellyfin.token_file: %s is accessible by "
                         "group or others (mode %04o)",
                         open_path, modes[i]);
        if (strstr(errors, want) == NULL)
            fail_msg("wanted: %s\ngot: %s", want, errors);
        free(want);
        want = xasprintf("chmod 600 %s", open_path);
        assert_non_null(strstr(errors, want));
        free(want);
        free(errors);
        free(json);
    }

    /* both X and X_file, even when the file is fine */
    write_mode(open_path, "tok\n", 0600);
    json = xstrdup("{\"providers\": {\"emby\": {\"api_key\": \"k\", "
                   "\"api_key_file\": \"open\"}}}");
    cfg = config_parse(json, strlen(json), t->path, &errors);
    assert_null(cfg);
    assert_non_null(strstr(errors, "providers.emby.api_key_file: give either "
                                   "api_key or api_key_file, not both"));
    free(errors);
    free(json);

    /* a NUL byte in the secret */
    {
        int fd = open(nul_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "a\0b", 3), 3);
        close(fd);
    }
    json = xstrdup("{\"providers\": {\"plex\": {\"token_file\": \"nul\"}}}");
    cfg = config_parse(json, strlen(json), t->path, &errors);
    assert_null(cfg);
    assert_non_null(strstr(errors, "providers.plex.token_file: "));
    assert_non_null(strstr(errors, "contains a NUL byte"));
    free(errors);
    free(json);
    free(open_path);
    free(nul_path);
}

/* config_load resolves *_file paths against the config file's directory. */
static void
test_load_base_dir(void **state)
{
    struct tmpdir *t = *state;
    char *secret = xasprintf("%s/secret", t->path);
    char *cfg_path = xasprintf("%s/cfg.json", t->path);
    char *errors = NULL, *want;
    struct config *cfg;

    write_mode(secret, "from-file\n", 0600);
    write_mode(cfg_path,
               "{\"providers\": {\"simkl\": {\"access_token_file\": "
               "\"secret\"}}}",
               0644);
    cfg = config_load(cfg_path, &errors);
    if (cfg == NULL)
        fail_msg("%s", errors);
    assert_string_equal(cfg->path, cfg_path);
    assert_string_equal(cfg->providers[CONFIG_PROVIDER_SIMKL].access_token,
                        "from-file");
    config_free(cfg);

    /* a problem in a loaded file's document is labelled with its path */
    write_mode(cfg_path, "{\"listen\": ", 0644);
    cfg = config_load(cfg_path, &errors);
    assert_null(cfg);
    want = xasprintf("%s: invalid JSON", cfg_path);
    assert_non_null(strstr(errors, want));
    free(want);
    free(errors);
    free(secret);
    free(cfg_path);
}

static void
test_load_unreadable(void **state)
{
    char *errors = NULL;
    struct config *cfg;

    (void)state;
    cfg = config_load("/nonexistent/watchrelay.json", &errors);
    assert_null(cfg);
    assert_string_equal(errors, "/nonexistent/watchrelay.json: cannot read: "
                                "No such file or directory");
    free(errors);

    cfg = config_load("config", &errors);
    assert_null(cfg);
    assert_string_equal(errors, "config: cannot read: Is a directory");
    free(errors);
}

/* ---- listen and redis forms ---- */

struct listen_case {
    const char *listen;
    const char *host; /* NULL: refused */
    int port;
};

static const struct listen_case listen_cases[] = {
    {"127.0.0.1:8787", "127.0.0.1", 8787},
    {"0.0.0.0:0", "0.0.0.0", 0},
    {"localhost:9000", "127.0.0.1", 9000},
    {"[::1]:8080", "::1", 8080},
    {"[::]:65535", "::", 65535},
    {"192.168.1.10:1", "192.168.1.10", 1},
    {"example.com:80", NULL, 0},
    {"127.0.0.1", NULL, 0},
    {"127.0.0.1:", NULL, 0},
    {"127.0.0.1:abc", NULL, 0},
    {"127.0.0.1:-1", NULL, 0},
    {"127.0.0.1:65536", NULL, 0},
    {":8787", NULL, 0},
    {"::1:8080", NULL, 0},
    {"[::1]8080", NULL, 0},
    {"[::1:8080", NULL, 0},
    {"[127.0.0.1]:80", NULL, 0},
    {"[zz]:80", NULL, 0},
    {"256.0.0.1:80", NULL, 0},
    {"", NULL, 0},
};

static void
test_listen(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]);
         i++) {
        const struct listen_case *c = &listen_cases[i];
        char *json = xasprintf("{\"listen\": \"%s\"}", c->listen);
        char *errors = NULL;
        struct config *cfg = parse_str(json, &errors);

        if (c->host != NULL) {
            if (cfg == NULL)
                fail_msg("\"%s\" refused: %s", c->listen, errors);
            assert_string_equal(cfg->listen_host, c->host);
            assert_int_equal(cfg->listen_port, c->port);
        } else {
            if (cfg != NULL)
                fail_msg("\"%s\" accepted", c->listen);
            assert_true(str_has_prefix(errors, "listen: "));
            assert_int_equal(count_lines(errors), 1);
        }
        config_free(cfg);
        free(errors);
        free(json);
    }
}

struct redis_case {
    const char *redis;
    bool ok;
};

static const struct redis_case redis_cases[] = {
    {"embedded", true},
    {"redis://127.0.0.1:6379", true},
    {"redis://127.0.0.1:6379/0", true},
    {"redis://10.1.2.3:7000/15", true},
    {"redis://[::1]:6379", true},
    {"redis://[::1]:6379/2", true},
    {"unix:/run/redis/redis.sock", true},
    {"unix:var/redis.sock", true},
    {"Embedded", false},
    {"redis://localhost:6379", false},
    {"redis://redis.example.com:6379", false},
    {"redis://127.0.0.1", false},
    {"redis://127.0.0.1:", false},
    {"redis://127.0.0.1:0", false},
    {"redis://127.0.0.1:65536", false},
    {"redis://127.0.0.1:6379/", false},
    {"redis://127.0.0.1:6379/x", false},
    {"redis://127.0.0.1:6379/-1", false},
    {"redis://:pw@127.0.0.1:6379", false},
    {"redis://[::1]6379", false},
    {"redis://", false},
    {"rediss://127.0.0.1:6379", false},
    {"unix:", false},
    {"unix:/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     false},
    {"127.0.0.1:6379", false},
};

static void
test_redis(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(redis_cases) / sizeof(redis_cases[0]); i++) {
        const struct redis_case *c = &redis_cases[i];
        char *json = xasprintf("{\"redis\": \"%s\"}", c->redis);
        char *errors = NULL;
        struct config *cfg = parse_str(json, &errors);

        if (c->ok) {
            if (cfg == NULL)
                fail_msg("\"%s\" refused: %s", c->redis, errors);
            assert_string_equal(cfg->redis, c->redis);
        } else {
            if (cfg != NULL)
                fail_msg("\"%s\" accepted", c->redis);
            assert_true(str_has_prefix(errors, "redis: "));
            assert_int_equal(count_lines(errors), 1);
        }
        config_free(cfg);
        free(errors);
        free(json);
    }
}

/* ---- names and odds and ends ---- */

static void
test_names(void **state)
{
    (void)state;
    for (int i = 0; i < CONFIG_SOURCE_MAX; i++)
        assert_int_equal(config_source_from_name(config_source_name(i)), i);
    for (int i = 0; i < CONFIG_PROVIDER_MAX; i++)
        assert_int_equal(config_provider_from_name(config_provider_name(i)), i);
    assert_string_equal(config_source_name(CONFIG_SOURCE_TAUTULLI), "tautulli");
    assert_string_equal(config_provider_name(CONFIG_PROVIDER_LOCAL), "local");
    assert_int_equal(config_source_from_name("trakt"), -1);
    assert_int_equal(config_source_from_name("Plex"), -1);
    assert_int_equal(config_source_from_name(NULL), -1);
    assert_int_equal(config_provider_from_name("kodi"), -1);
    assert_int_equal(config_provider_from_name(NULL), -1);
}

static void
test_default_path(void **state)
{
    const char *p = config_default_path();

    (void)state;
    if (access("config/watchrelay.json", F_OK) == 0)
        assert_string_equal(p, "config/watchrelay.json");
    else
        assert_string_equal(p, "config/watchrelay.example.json");
}

static void
test_not_nul_terminated(void **state)
{
    /* len bounds the document: the bytes after it are never read. */
    const char json[] = "{\"log_level\": \"warn\"}GARBAGE";
    char *errors = NULL;
    struct config *cfg =
        config_parse(json, strlen("{\"log_level\": \"warn\"}"), NULL, &errors);

    (void)state;
    if (cfg == NULL)
        fail_msg("%s", errors);
    assert_string_equal(cfg->log_level, "warn");
    config_free(cfg);
    config_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_example_snippets),
        cmocka_unit_test(test_full_extraction),
        cmocka_unit_test(test_pair_defaults),
        cmocka_unit_test(test_error_cases),
        cmocka_unit_test(test_collects_all_errors),
        cmocka_unit_test_setup_teardown(test_secret_files, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_secret_file_refused, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_load_base_dir, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test(test_load_unreadable),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_redis),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_not_nul_terminated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
