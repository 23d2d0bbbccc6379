#include "item.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "util.h"

/* Longest id (after trimming) or GUID we accept; longer ones are dropped. */
#define ITEM_ID_CAP   256
#define ITEM_GUID_CAP 1024
/* Bound for season and episode numbers (absolute anime numbering fits). */
#define ITEM_NUM_MAX 1000000

static const char *const type_names[ITEM_TYPE_MAX] = {
    [ITEM_NONE] = "",         [ITEM_MOVIE] = "movie",     [ITEM_SHOW] = "show",
    [ITEM_SEASON] = "season", [ITEM_EPISODE] = "episode",
};

static const char *const id_names[ITEM_ID_MAX] = {
    [ITEM_ID_TMDB] = "tmdb",         [ITEM_ID_IMDB] = "imdb",
    [ITEM_ID_TVDB] = "tvdb",         [ITEM_ID_TRAKT] = "trakt",
    [ITEM_ID_SIMKL] = "simkl",       [ITEM_ID_ANILIST] = "anilist",
    [ITEM_ID_MAL] = "mal",           [ITEM_ID_KITSU] = "kitsu",
    [ITEM_ID_ANIDB] = "anidb",       [ITEM_ID_PLEX] = "plex",
    [ITEM_ID_JELLYFIN] = "jellyfin", [ITEM_ID_EMBY] = "emby",
    [ITEM_ID_GUID] = "guid",         [ITEM_ID_SLUG] = "slug",
};

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of the n bytes at s with the string word. */
static bool
span_ieq(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (to_lower(s[i]) != to_lower(word[i]))
            return false;
    return true;
}

static bool
has_iprefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (*s == '\0' || to_lower(*s) != to_lower(*prefix))
            return false;
    return true;
}

/* Trim s in place as a span: *start and *len. */
static void
trim_span(const char *s, const char **start, size_t *len)
{
    size_t n = strlen(s);

    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    *start = s;
    *len = n;
}

void
item_ids_release(struct item_ids *ids)
{
    for (int i = 0; i < ITEM_ID_MAX; i++) {
        free(ids->v[i]);
        ids->v[i] = NULL;
    }
}

void
item_init(struct item *it)
{
    memset(it, 0, sizeof(*it));
    it->type = ITEM_NONE;
    it->title = NULL;
    it->show_title = NULL;
    for (int i = 0; i < ITEM_ID_MAX; i++) {
        it->ids.v[i] = NULL;
        it->show_ids.v[i] = NULL;
    }
    it->season = -1;
    it->episode = -1;
}

void
item_release(struct item *it)
{
    free(it->title);
    free(it->show_title);
    item_ids_release(&it->ids);
    item_ids_release(&it->show_ids);
    item_init(it);
}

static void
ids_copy(struct item_ids *dst, const struct item_ids *src)
{
    for (int i = 0; i < ITEM_ID_MAX; i++)
        dst->v[i] = src->v[i] ? xstrdup(src->v[i]) : NULL;
}

void
item_copy(struct item *dst, const struct item *src)
{
    item_init(dst);
    dst->type = src->type;
    dst->title = src->title ? xstrdup(src->title) : NULL;
    dst->year = src->year;
    ids_copy(&dst->ids, &src->ids);
    dst->show_title = src->show_title ? xstrdup(src->show_title) : NULL;
    dst->show_year = src->show_year;
    ids_copy(&dst->show_ids, &src->show_ids);
    dst->season = src->season;
    dst->episode = src->episode;
}

const char *
item_type_name(enum item_type t)
{
    if ((int)t < 0 || t >= ITEM_TYPE_MAX)
        return "";
    return type_names[t];
}

enum item_type
item_type_from_name(const char *name)
{
    if (name == NULL || *name == '\0')
        return ITEM_NONE;
    for (int i = ITEM_NONE + 1; i < ITEM_TYPE_MAX; i++)
        if (str_ieq(name, type_names[i]))
            return (enum item_type)i;
    return ITEM_NONE;
}

const char *
item_id_name(enum item_id id)
{
    if ((int)id < 0 || id >= ITEM_ID_MAX)
        return "";
    return id_names[id];
}

int
item_id_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < ITEM_ID_MAX; i++)
        if (str_ieq(name, id_names[i]))
            return i;
    return -1;
}

bool
item_id_is_numeric(enum item_id id)
{
    switch (id) {
    case ITEM_ID_TMDB:
    case ITEM_ID_TVDB:
    case ITEM_ID_TRAKT:
    case ITEM_ID_SIMKL:
    case ITEM_ID_ANILIST:
    case ITEM_ID_MAL:
    case ITEM_ID_KITSU:
    case ITEM_ID_ANIDB:
        return true;
    default:
        return false;
    }
}

/* SYNC.md 1.2 step 2: the digits of s without leading zeros, or NULL. */
static char *
norm_numeric(const char *s, size_t n)
{
    static const char max[] = "9223372036854775807";
    char d[ITEM_ID_CAP + 1];
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            continue;
        if (k == 0 && s[i] == '0')
            continue; /* leading zero */
        d[k++] = s[i];
    }
    if (k == 0) /* no digits, or zero */
        return NULL;
    if (k > sizeof(max) - 1)
        return NULL;
    if (k == sizeof(max) - 1 && memcmp(d, max, k) > 0)
        return NULL;
    return xstrndup(d, k);
}

/* SYNC.md 1.2 step 3: the first "tt\d+" in s, or NULL. */
static char *
norm_imdb(const char *s, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++) {
        size_t j = i + 2;

        if (s[i] != 't' || s[i + 1] != 't' || !is_digit(s[j]))
            continue;
        while (j < n && is_digit(s[j]))
            j++;
        return xstrndup(s + i, j - i);
    }
    return NULL;
}

/* Lower-case copy, dropping dashes if drop_dash; NULL if nothing is left. */
static char *
norm_lower(const char *s, size_t n, bool drop_dash)
{
    char *out = xmalloc(n + 1);
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (drop_dash && s[i] == '-')
            continue;
        out[k++] = to_lower(s[i]);
    }
    out[k] = '\0';
    if (k == 0) {
        free(out);
        return NULL;
    }
    return out;
}

static bool
is_junk(const char *s, size_t n)
{
    static const char *const junk[] = {"0",   "null",    "none",
                                       "nan", "unknown", NULL};

    if (n == 0)
        return true;
    for (int i = 0; junk[i]; i++)
        if (span_ieq(s, n, junk[i]))
            return true;
    return false;
}

/*
 * A value that normalizes to nothing leaves any previous value in place: a
 * handler can set ids from several fields without a bad one erasing a good
 * one.
 */
int
item_ids_set(struct item_ids *ids, enum item_id id, const char *raw)
{
    const char *s;
    size_t n;
    char *v = NULL;

    if (ids == NULL || raw == NULL || (int)id < 0 || id >= ITEM_ID_MAX)
        return -1;
    trim_span(raw, &s, &n);
    if (n > ITEM_ID_CAP || is_junk(s, n))
        return -1;
    if (item_id_is_numeric(id))
        v = norm_numeric(s, n);
    else if (id == ITEM_ID_IMDB)
        v = norm_imdb(s, n);
    else if (id == ITEM_ID_JELLYFIN)
        v = norm_lower(s, n, true);
    else if (id == ITEM_ID_SLUG)
        v = norm_lower(s, n, false);
    else
        v = xstrndup(s, n);
    if (v == NULL)
        return -1;
    free(ids->v[id]);
    ids->v[id] = v;
    return 0;
}

int
item_ids_set_named(struct item_ids *ids, const char *name, const char *raw)
{
    int id = item_id_from_name(name);

    if (id < 0)
        return -1;
    return item_ids_set(ids, (enum item_id)id, raw);
}

bool
item_ids_empty(const struct item_ids *ids)
{
    for (int i = 0; i < ITEM_ID_MAX; i++)
        if (ids->v[i] != NULL)
            return false;
    return true;
}

/* ---- GUIDs (SYNC.md 1.3) ---- */

enum guid_form {
    GUID_SIMPLE, /* imdb://, tmdb://, tvdb://: one id, no path */
    GUID_LEGACY, /* com.plexapp.agents.<x>://ID[/S[/E]] */
    GUID_HAMA,   /* com.plexapp.agents.hama://<name>-ID[/S[/E]] */
};

struct guid_scheme {
    const char *prefix;
    enum item_id id;
    enum guid_form form;
    bool infer_show; /* a bare ID on an untyped item is a show */
};

static const struct guid_scheme guid_schemes[] = {
    {"com.plexapp.agents.imdb://", ITEM_ID_IMDB, GUID_SIMPLE, false},
    {"com.plexapp.agents.themoviedb://", ITEM_ID_TMDB, GUID_LEGACY, false},
    {"com.plexapp.agents.tmdb://", ITEM_ID_TMDB, GUID_LEGACY, false},
    {"com.plexapp.agents.thetvdb://", ITEM_ID_TVDB, GUID_LEGACY, true},
    {"com.plexapp.agents.tvdb://", ITEM_ID_TVDB, GUID_LEGACY, true},
    {"com.plexapp.agents.hama://", ITEM_ID_ANIDB, GUID_HAMA, false},
    {"imdb://", ITEM_ID_IMDB, GUID_SIMPLE, false},
    {"tmdb://", ITEM_ID_TMDB, GUID_SIMPLE, false},
    {"tvdb://", ITEM_ID_TVDB, GUID_SIMPLE, false},
    {NULL, ITEM_ID_GUID, GUID_SIMPLE, false},
};

/* A plain decimal season or episode number, or -1. */
static int
parse_num(const char *s)
{
    int64_t v;

    for (const char *p = s; *p; p++)
        if (!is_digit(*p))
            return -1;
    if (parse_i64(s, 0, ITEM_NUM_MAX, &v) != 0)
        return -1;
    return (int)v;
}

/*
 * Apply "ID[/S[/E]]" (already split) to it. A season or episode (given, or
 * inferred from the path on an untyped item) takes ID as its show's id; any
 * other item takes it as its own. Validates before changing anything.
 */
static int
apply_path(struct item *it, enum item_id id, const char *first, int nseg,
           int season, int episode, bool infer_show)
{
    enum item_type t = it->type;
    struct item_ids *dst;

    if (t == ITEM_NONE) {
        if (nseg == 3)
            t = ITEM_EPISODE;
        else if (nseg == 2)
            t = ITEM_SEASON;
        else if (infer_show)
            t = ITEM_SHOW;
    }
    dst = (t == ITEM_SEASON || t == ITEM_EPISODE) ? &it->show_ids : &it->ids;
    if (item_ids_set(dst, id, first) != 0)
        return -1;
    it->type = t;
    if (t == ITEM_SEASON || t == ITEM_EPISODE) {
        if (nseg >= 2)
            it->season = season;
        if (nseg >= 3 && t == ITEM_EPISODE)
            it->episode = episode;
    }
    return 0;
}

/* Hama: "anidb-123", "tvdb-73871", "tmdb-603", "imdb-tt123". */
static int
hama_id(char *seg, enum item_id *id, const char **value)
{
    static const struct {
        const char *name;
        enum item_id id;
    } names[] = {{"anidb", ITEM_ID_ANIDB},
                 {"tvdb", ITEM_ID_TVDB},
                 {"tmdb", ITEM_ID_TMDB},
                 {"imdb", ITEM_ID_IMDB}};
    char *dash = strchr(seg, '-');

    if (dash == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (span_ieq(seg, (size_t)(dash - seg), names[i].name)) {
            *id = names[i].id;
            *value = dash + 1;
            return 0;
        }
    }
    return -1;
}

int
item_apply_guid(struct item *it, const char *guid)
{
    const struct guid_scheme *sc = NULL;
    const char *s, *value;
    char *rest = NULL, *segs[3] = {NULL, NULL, NULL};
    size_t n;
    int nseg = 0, season = -1, episode = -1, rc = -1;
    enum item_id id;

    if (it == NULL || guid == NULL)
        return -1;
    trim_span(guid, &s, &n);
    if (n == 0 || n > ITEM_GUID_CAP)
        return -1;
    if (has_iprefix(s, "plex://")) {
        char *whole;

        if (n <= strlen("plex://"))
            return -1;
        whole = xstrndup(s, n);
        rc = item_ids_set(&it->ids, ITEM_ID_GUID, whole);
        free(whole);
        return rc;
    }
    for (int i = 0; guid_schemes[i].prefix; i++) {
        if (has_iprefix(s, guid_schemes[i].prefix)) {
            sc = &guid_schemes[i];
            break;
        }
    }
    if (sc == NULL)
        return -1; /* local://, …agents.none://, anything else */
    n -= strlen(sc->prefix);
    rest = xstrndup(s + strlen(sc->prefix), n);
    rest[strcspn(rest, "?#")] = '\0'; /* "?lang=en" */
    id = sc->id;
    if (sc->form == GUID_SIMPLE) {
        rest[strcspn(rest, "/")] = '\0';
        rc = item_ids_set(&it->ids, id, rest);
        goto done;
    }
    for (char *p = rest; nseg < 3;) {
        char *slash = strchr(p, '/');

        segs[nseg++] = p;
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
        if (nseg == 3) /* more than ID/S/E */
            goto done;
    }
    value = segs[0];
    if (sc->form == GUID_HAMA && hama_id(segs[0], &id, &value) != 0)
        goto done;
    if (nseg >= 2 && (season = parse_num(segs[1])) < 0)
        goto done;
    if (nseg >= 3 && (episode = parse_num(segs[2])) < 0)
        goto done;
    rc = apply_path(it, id, value, nseg, season, episode, sc->infer_show);
done:
    free(rest);
    return rc;
}

/* ---- canonical key (SYNC.md 1.4) ---- */

static int
first_id(const struct item_ids *ids)
{
    for (int i = 0; i < ITEM_ID_MAX; i++)
        if (ids->v[i] != NULL)
            return i;
    return -1;
}

static void
put_fallback_title(struct buf *b, const char *title)
{
    bool space = false;
    size_t start = b->len;

    if (title == NULL)
        return;
    for (const char *p = title; *p; p++) {
        char c = *p;

        if (!is_alnum(c) && (unsigned char)c < 0x80) {
            space = true;
            continue;
        }
        if (space && b->len > start)
            buf_append(b, " ", 1);
        space = false;
        c = to_lower(c);
        buf_append(b, &c, 1);
    }
}

char *
item_key(const struct item *it)
{
    struct buf b;
    int id;

    buf_init(&b);
    /*
     * A show key is used when the show has an id; but a show known only by
     * its Plex guid gives way to the episode's own external id (Plex sends
     * the episode's imdb/tmdb/tvdb with the show's plex:// guid), which is
     * what every other source and tracker can match.
     */
    if ((it->type == ITEM_EPISODE || it->type == ITEM_SEASON) &&
        (id = first_id(&it->show_ids)) >= 0 && it->season >= 0 &&
        (it->type == ITEM_SEASON || it->episode >= 0) &&
        (id <= ITEM_ID_ANIDB || first_id(&it->ids) < 0 ||
         first_id(&it->ids) > ITEM_ID_ANIDB)) {
        buf_printf(&b, "show:%s:%s#s%02d", id_names[id], it->show_ids.v[id],
                   it->season);
        if (it->type == ITEM_EPISODE)
            buf_printf(&b, "e%02d", it->episode);
        return b.data;
    }
    if ((id = first_id(&it->ids)) >= 0) {
        buf_printf(&b, "%s:%s:%s", item_type_name(it->type), id_names[id],
                   it->ids.v[id]);
        return b.data;
    }
    buf_puts(&b, item_type_name(it->type));
    buf_puts(&b, "|");
    put_fallback_title(&b, it->title);
    buf_puts(&b, "|");
    if (it->year > 0)
        buf_printf(&b, "%d", it->year);
    return b.data;
}

/* ---- JSON ---- */

static struct json_object *
ids_to_json(const struct item_ids *ids)
{
    struct json_object *o = json_object_new_object();

    for (int i = 0; i < ITEM_ID_MAX; i++) {
        struct json_object *v;
        int64_t num;

        if (ids->v[i] == NULL)
            continue;
        if (item_id_is_numeric((enum item_id)i) &&
            parse_i64(ids->v[i], 1, INT64_MAX, &num) == 0)
            v = json_object_new_int64(num);
        else
            v = json_object_new_string(ids->v[i]);
        json_object_object_add(o, id_names[i], v);
    }
    return o;
}

struct json_object *
item_to_json(const struct item *it)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "type",
                           json_object_new_string(item_type_name(it->type)));
    if (it->title != NULL)
        json_object_object_add(o, "title", json_object_new_string(it->title));
    if (it->year > 0)
        json_object_object_add(o, "year", json_object_new_int(it->year));
    json_object_object_add(o, "ids", ids_to_json(&it->ids));
    if (it->type != ITEM_EPISODE && it->type != ITEM_SEASON)
        return o;
    if (it->show_title != NULL || it->show_year > 0 ||
        !item_ids_empty(&it->show_ids)) {
        struct json_object *show = json_object_new_object();

        if (it->show_title != NULL)
            json_object_object_add(show, "title",
                                   json_object_new_string(it->show_title));
        if (it->show_year > 0)
            json_object_object_add(show, "year",
                                   json_object_new_int(it->show_year));
        json_object_object_add(show, "ids", ids_to_json(&it->show_ids));
        json_object_object_add(o, "show", show);
    }
    if (it->season >= 0)
        json_object_object_add(o, "season", json_object_new_int(it->season));
    if (it->episode >= 0)
        json_object_object_add(o, "episode", json_object_new_int(it->episode));
    return o;
}

/* The member key of o, or NULL when absent or JSON null. */
static struct json_object *
member(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

/* Optional string: 0 (absent/null leaves *out), -1 if mistyped. */
static int
opt_str(struct json_object *o, const char *key, char **out)
{
    struct json_object *v = member(o, key);

    if (v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    free(*out);
    *out = xstrdup(json_object_get_string(v));
    return 0;
}

/* Optional integer in [min, max]; absent/null leaves *out. */
static int
opt_int(struct json_object *o, const char *key, int min, int max, int *out)
{
    int64_t v;

    if (member(o, key) == NULL)
        return 0;
    if (jget_i64(o, key, &v) != 0 || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* Unknown id names are skipped (forward compatibility); known ones must
 * have the right JSON type and a valid value. */
static int
ids_from_json(struct item_ids *ids, struct json_object *o)
{
    if (o == NULL)
        return 0;
    if (!json_object_is_type(o, json_type_object))
        return -1;
    json_object_object_foreach (o, name, v) {
        int id = item_id_from_name(name);
        char num[32];

        if (id < 0 || v == NULL)
            continue;
        if (item_id_is_numeric((enum item_id)id)) {
            if (!json_object_is_type(v, json_type_int))
                return -1;
            snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
            if (json_object_get_int64(v) <= 0 ||
                item_ids_set(ids, (enum item_id)id, num) != 0)
                return -1;
        } else {
            if (!json_object_is_type(v, json_type_string) ||
                item_ids_set(ids, (enum item_id)id,
                             json_object_get_string(v)) != 0)
                return -1;
        }
    }
    return 0;
}

int
item_from_json(struct item *it, struct json_object *obj)
{
    struct json_object *show;
    const char *type;

    item_init(it);
    if (obj == NULL || !json_object_is_type(obj, json_type_object))
        return -1;
    if (jget_str(obj, "type", &type) != 0)
        goto fail;
    it->type = item_type_from_name(type);
    if (it->type == ITEM_NONE && *type != '\0')
        goto fail;
    if (opt_str(obj, "title", &it->title) != 0 ||
        opt_int(obj, "year", 1, INT32_MAX, &it->year) != 0 ||
        ids_from_json(&it->ids, member(obj, "ids")) != 0)
        goto fail;
    if (it->type != ITEM_EPISODE && it->type != ITEM_SEASON)
        return 0;
    show = member(obj, "show");
    if (show != NULL) {
        if (!json_object_is_type(show, json_type_object) ||
            opt_str(show, "title", &it->show_title) != 0 ||
            opt_int(show, "year", 1, INT32_MAX, &it->show_year) != 0 ||
            ids_from_json(&it->show_ids, member(show, "ids")) != 0)
            goto fail;
    }
    if (opt_int(obj, "season", 0, ITEM_NUM_MAX, &it->season) != 0 ||
        opt_int(obj, "episode", 0, ITEM_NUM_MAX, &it->episode) != 0)
        goto fail;
    return 0;
fail:
    item_release(it);
    return -1;
}
