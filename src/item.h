/*
 * item: the normalized identity of a movie, show, season or episode
 * (SYNC.md section 1): id normalization, GUID parsing, the canonical key and
 * the schema-v1 JSON form. Plain data.
 */
#ifndef WR_ITEM_H
#define WR_ITEM_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

enum item_type {
    ITEM_NONE = 0,
    ITEM_MOVIE,
    ITEM_SHOW,
    ITEM_SEASON,
    ITEM_EPISODE,
    ITEM_TYPE_MAX
};

/* In canonical-key priority order (SYNC.md 1.4). */
enum item_id {
    ITEM_ID_TMDB,
    ITEM_ID_IMDB,
    ITEM_ID_TVDB,
    ITEM_ID_TRAKT,
    ITEM_ID_SIMKL,
    ITEM_ID_ANILIST,
    ITEM_ID_MAL,
    ITEM_ID_KITSU,
    ITEM_ID_ANIDB,
    ITEM_ID_PLEX,
    ITEM_ID_JELLYFIN,
    ITEM_ID_EMBY,
    ITEM_ID_GUID,
    ITEM_ID_SLUG,
    ITEM_ID_MAX
};

/*
 * Every id is kept as its normalized string (owned; NULL = absent). Numeric
 * ids (tmdb, tvdb, trakt, simkl, anilist, mal, kitsu, anidb) hold digits only
 * and are written to JSON as integers.
 */
struct item_ids {
    char *v[ITEM_ID_MAX];
};

struct item {
    enum item_type type;
    char *title; /* owned, may be NULL */
    int year;    /* 0 = unknown */
    struct item_ids ids;
    /* Seasons and episodes only. */
    char *show_title; /* owned, may be NULL */
    int show_year;
    struct item_ids show_ids;
    int season;  /* -1 = unknown */
    int episode; /* -1 = unknown */
};

void item_init(struct item *it);
void item_release(struct item *it);
void item_ids_release(struct item_ids *ids);
/* Deep copy; dst is initialized by this call. */
void item_copy(struct item *dst, const struct item *src);

const char *item_type_name(enum item_type t); /* "movie", ...; "" for NONE */
enum item_type item_type_from_name(const char *name); /* ITEM_NONE if unknown */
const char *item_id_name(enum item_id id);            /* "tmdb", ... */
/* Case-insensitive; -1 if the name is not one we know. */
int item_id_from_name(const char *name);
bool item_id_is_numeric(enum item_id id);

/*
 * Normalize raw (SYNC.md 1.2) and store it as id `id` (replacing any value).
 * Returns 0 if stored, -1 if the value was dropped as empty/zero/invalid.
 * raw is borrowed.
 */
int item_ids_set(struct item_ids *ids, enum item_id id, const char *raw);
/* The same with the id named in any case ("Imdb", "Provider_tmdb" is NOT
 * accepted: strip the prefix first); unknown names return -1. */
int item_ids_set_named(struct item_ids *ids, const char *name, const char *raw);
bool item_ids_empty(const struct item_ids *ids);

/*
 * Apply one GUID string (SYNC.md 1.3) to it: agent GUIDs
 * (com.plexapp.agents.imdb://tt…?lang=en, …themoviedb://, …thetvdb://SHOW/S/E
 * which also sets show ids, season and episode), imdb:// tmdb:// tvdb://,
 * plex:// (kept as guid). Other schemes are ignored. Returns 0 if something
 * was taken, -1 otherwise. For a legacy thetvdb GUID on an item whose type is
 * ITEM_NONE the type is inferred (SHOW, SEASON or EPISODE).
 */
int item_apply_guid(struct item *it, const char *guid);

/*
 * The canonical key (SYNC.md 1.4): "movie:tmdb:329865",
 * "show:tmdb:95396#s01e01", "episode:tvdb:8603573", "movie|arrival|2016".
 * Owned (free).
 */
char *item_key(const struct item *it);

/* Schema-v1 "item" object. Owned (json_object_put). */
struct json_object *item_to_json(const struct item *it);
/* Inverse of item_to_json; 0 or -1 (it is initialized either way). */
int item_from_json(struct item *it, struct json_object *obj);

#endif
