/*
 * fake_plex: fakeprov's Plex fakes (PROVIDERS.md B5), included once by
 * fakeprov.c after fake_media.h: Plex Media Server under /plex, plex.tv
 * Discover (the watchlist) under /plex-discover and the metadata provider
 * under /plex-metadata. Replies are XML unless the request accepts
 * application/json; times are epoch seconds, durations and offsets ms.
 *
 * Every catalog movie, show, season and episode has a 24-hex plex id that
 * is a function of its catalog index (so it is stable and needs no state):
 * the low 16 hex digits are (index + 1) times an odd constant, the high 8
 * a hash of those. The PMS guid of a library item is plex://<kind>/<id>,
 * the same id Discover and the metadata provider use.
 */
#ifndef WR_FAKE_PLEX_H
#define WR_FAKE_PLEX_H

#include "fake_core.h"
#include "fake_media.h"

#define PLEX_HEX_K         0x9e3779b97f4a7c15ULL
#define PLEX_MACHINE_ID    "4f8d1c2b3a5e6f708192a3b4c5d6e7f8091a2b3c"
#define PLEX_VERSION       "1.41.3.9314-a0bfb8370"
#define PLEX_LIBRARY       "com.plexapp.plugins.library"
#define PLEX_MAX_FILTERS   8
#define PLEX_DISCOVER_PAGE 100

/* ---- plex ids --------------------------------------------------------- */

static void
media_plex_hex(int64_t cat, char out[32])
{
    uint64_t low = (uint64_t)(cat + 1) * PLEX_HEX_K;
    uint32_t hi = 0x5d000000u | (uint32_t)(media_mix64(low) & 0xffffffu);

    snprintf(out, 32, "%08" PRIx32 "%016" PRIx64, hi, low);
}

/* The catalog index of a 24-hex plex id; -1 if it names nothing. */
static int64_t
plex_hex_cat(struct fake *f, const char *s)
{
    uint64_t inv = PLEX_HEX_K, low = 0;
    int64_t cat;
    char again[32];

    if (s == NULL || strlen(s) != 24 || !media_is_hex(s, 24))
        return -1;
    for (int i = 0; i < 5; i++)
        inv *= 2 - PLEX_HEX_K * inv;
    for (size_t i = 8; i < 24; i++)
        low = low * 16 +
              (uint64_t)(isdigit((unsigned char)s[i])
                             ? s[i] - '0'
                             : tolower((unsigned char)s[i]) - 'a' + 10);
    cat = (int64_t)(low * inv) - 1;
    if (cat < 0 || cat >= (int64_t)json_object_array_length(f->cat))
        return -1;
    media_plex_hex(cat, again);
    return strcasecmp(again, s) == 0 ? cat : -1;
}

static void
plex_guid(struct fake *f, int64_t cat, char out[64])
{
    char hex[32];

    media_plex_hex(cat, hex);
    snprintf(out, 64, "plex://%s/%s", fk_kind_name[cat_kind(f, cat)], hex);
}

static struct json_object *
plex_guids(struct fake *f, int64_t cat)
{
    static const char *const names[] = {"imdb", "tmdb", "tvdb"};
    struct json_object *ids = fk_get(cat_entry(f, cat), "ids");
    struct json_object *arr = json_object_new_array();

    for (size_t i = 0; i < 3; i++) {
        struct json_object *v = fk_get(ids, names[i]), *g;
        char buf[200];

        if (v == NULL || json_object_is_type(v, json_type_null))
            continue;
        snprintf(buf, sizeof(buf), "%s://%s", names[i],
                 json_object_get_string(v));
        g = json_object_new_object();
        fk_set(g, "id", json_object_new_string(buf));
        json_object_array_add(arr, g);
    }
    return arr;
}

/* ---- replies ---------------------------------------------------------- */

static bool
plex_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; hay != NULL && *hay != '\0'; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static void
plex_html(struct fk_req *r, int status)
{
    media_text(r, status, "text/html",
               "<html><head><title>%s</title></head><body><h1>%d %s</h1>"
               "</body></html>",
               fk_reason(status), status, fk_reason(status));
}

static void
plex_xml_esc(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        default:
            buf_append(b, s, 1);
            break;
        }
    }
}

/* The XML element of one entry of a JSON array named key. */
static const char *
plex_xml_name(const char *key, struct json_object *el)
{
    const char *type = fk_gets(el, "type");

    if (strcmp(key, "Metadata") != 0)
        return key;
    if (type != NULL &&
        (strcmp(type, "movie") == 0 || strcmp(type, "episode") == 0 ||
         strcmp(type, "clip") == 0))
        return "Video";
    return "Directory";
}

static void
plex_xml_elem(struct buf *b, const char *name, struct json_object *o)
{
    bool children = false;

    buf_printf(b, "<%s", name);
    json_object_object_foreach (o, key, v) {
        if (v == NULL)
            continue;
        switch (json_object_get_type(v)) {
        case json_type_string:
            buf_printf(b, " %s=\"", key);
            plex_xml_esc(b, json_object_get_string(v));
            buf_puts(b, "\"");
            break;
        case json_type_boolean:
            buf_printf(b, " %s=\"%d\"", key,
                       json_object_get_boolean(v) ? 1 : 0);
            break;
        case json_type_int:
        case json_type_double:
            buf_printf(b, " %s=\"%s\"", key, json_object_get_string(v));
            break;
        default:
            children = true;
            break;
        }
    }
    if (!children) {
        buf_puts(b, " />\n");
        return;
    }
    buf_puts(b, ">\n");
    json_object_object_foreach (o, ckey, cv) {
        if (json_object_is_type(cv, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(cv); i++) {
                struct json_object *el = json_object_array_get_idx(cv, i);

                if (json_object_is_type(el, json_type_object))
                    plex_xml_elem(b, plex_xml_name(ckey, el), el);
            }
        } else if (json_object_is_type(cv, json_type_object)) {
            plex_xml_elem(b, ckey, cv);
        }
    }
    buf_printf(b, "</%s>\n", name);
}

/* Reply 200 with a MediaContainer (taken): JSON when the client accepts
 * it, XML otherwise, as PMS and plex.tv do. */
static void
plex_reply(struct fk_req *r, struct json_object *mc)
{
    if (plex_contains_ci(fk_in_header(r, "Accept"), "application/json")) {
        struct json_object *o = json_object_new_object();

        fk_set(o, "MediaContainer", mc);
        fk_reply_json(r, 200, o);
        return;
    } else {
        struct buf b;

        buf_init(&b);
        buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        plex_xml_elem(&b, "MediaContainer", mc);
        json_object_put(mc);
        fk_reply_empty(r, 200);
        r->raw = b.data;
        r->ctype = "text/xml;charset=utf-8";
    }
}

static struct json_object *
plex_container(int64_t size)
{
    struct json_object *mc = json_object_new_object();

    fk_set(mc, "size", json_object_new_int64(size));
    return mc;
}

static bool
plex_flag(struct fk_req *r, const char *name)
{
    const char *v = fk_query(r, name);

    return v != NULL && (strcmp(v, "1") == 0 || str_ieq(v, "true"));
}

/* X-Plex-Container-Start/-Size from the query or the headers. size -1 =
 * all (or dflt). -1 on a malformed value. */
static int
plex_paging(struct fk_req *r, int64_t dflt, int64_t *start, int64_t *size)
{
    const char *st = fk_query(r, "X-Plex-Container-Start");
    const char *sz = fk_query(r, "X-Plex-Container-Size");

    if (st == NULL)
        st = fk_in_header(r, "X-Plex-Container-Start");
    if (sz == NULL)
        sz = fk_in_header(r, "X-Plex-Container-Size");
    *start = 0;
    *size = dflt;
    if (st != NULL && parse_i64(st, 0, INT64_MAX / 2, start) != 0)
        return -1;
    if (sz != NULL && parse_i64(sz, 0, INT64_MAX / 2, size) != 0)
        return -1;
    return 0;
}

/* The [from, to) window; sets the container fields and headers. */
static void
plex_window(struct fk_req *r, struct json_object *mc, size_t total,
            int64_t start, int64_t size, size_t *from, size_t *to)
{
    *from = (size_t)start > total ? total : (size_t)start;
    *to =
        size < 0 || (size_t)size > total - *from ? total : *from + (size_t)size;
    fk_set(mc, "size", json_object_new_int64((int64_t)(*to - *from)));
    fk_set(mc, "totalSize", json_object_new_int64((int64_t)total));
    fk_set(mc, "offset", json_object_new_int64(start));
    fk_header(r, "X-Plex-Container-Start", "%" PRId64, start);
    fk_header(r, "X-Plex-Container-Total-Size", "%zu", total);
}

/* ---- media-query filters ---------------------------------------------- */

enum plex_field {
    PF_LAST_VIEWED,
    PF_UPDATED,
    PF_LAST_RATED,
    PF_ADDED,
    PF_VIEW_COUNT,
    PF_VIEWED_AT
};

struct plex_filter {
    enum plex_field field;
    int op; /* 1 at or after, -1 at or before, 0 equal, 2 not equal */
    int64_t v;
};

struct plex_query {
    struct plex_filter flt[PLEX_MAX_FILTERS];
    int n;
    bool relative;
    bool unwatched;
};

/* Epoch seconds, or "-3d"-style relative to now (s, m, h, d, w). */
static int
plex_filter_value(struct fake *f, const char *v, int64_t *out, bool *rel)
{
    size_t n = strlen(v);
    int64_t k, unit = 0;

    if (parse_i64(v, INT64_MIN / 2, INT64_MAX / 2, out) == 0)
        return 0;
    if (n < 3 || v[0] != '-')
        return -1;
    switch (v[n - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    default:
        return -1;
    }
    if (parse_i64n(v + 1, n - 2, 0, INT64_MAX / (7 * 86400 * 2), &k) != 0)
        return -1;
    *out = fk_now_ms(f) / 1000 - k * unit;
    *rel = true;
    return 0;
}

/* Read the filters of r's query (field>>=v arrives as name "field>>").
 * -1 on a malformed value. Unknown fields are ignored. */
static int
plex_filters(struct fk_req *r, struct plex_query *pq)
{
    static const struct {
        const char *name;
        enum plex_field field;
    } fields[] = {{"lastViewedAt", PF_LAST_VIEWED}, {"updatedAt", PF_UPDATED},
                  {"lastRatedAt", PF_LAST_RATED},   {"addedAt", PF_ADDED},
                  {"viewCount", PF_VIEW_COUNT},     {"viewedAt", PF_VIEWED_AT}};
    struct evkeyval *kv;

    memset(pq, 0, sizeof(*pq));
    TAILQ_FOREACH (kv, &r->query, next) {
        char name[64];
        size_t kl = strlen(kv->key);
        const char *base;
        int op = 0;

        if (str_ieq(kv->key, "unwatched")) {
            pq->unwatched = strcmp(kv->value, "1") == 0;
            continue;
        }
        if (kl >= sizeof(name))
            continue;
        memcpy(name, kv->key, kl + 1);
        if (kl > 2 && strcmp(name + kl - 2, ">>") == 0) {
            op = 1;
            kl -= 2;
        } else if (kl > 2 && strcmp(name + kl - 2, "<<") == 0) {
            op = -1;
            kl -= 2;
        } else if (kl > 1 && name[kl - 1] == '>') {
            op = 1;
            kl--;
        } else if (kl > 1 && name[kl - 1] == '<') {
            op = -1;
            kl--;
        } else if (kl > 1 && name[kl - 1] == '!') {
            op = 2;
            kl--;
        }
        name[kl] = '\0';
        base = name;
        if (strncmp(base, "episode.", 8) == 0)
            base += 8;
        else if (strncmp(base, "show.", 5) == 0)
            base += 5;
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            if (strcmp(base, fields[i].name) != 0 || pq->n == PLEX_MAX_FILTERS)
                continue;
            if (plex_filter_value(r->f, kv->value, &pq->flt[pq->n].v,
                                  &pq->relative) != 0)
                return -1;
            pq->flt[pq->n].field = fields[i].field;
            pq->flt[pq->n].op = op;
            pq->n++;
        }
    }
    return 0;
}

static bool
plex_cmp(int op, int64_t have, int64_t want)
{
    switch (op) {
    case 1:
        return have >= want;
    case -1:
        return have <= want;
    case 2:
        return have != want;
    default:
        return have == want;
    }
}

/* Whether library object o passes the filters (a missing date fails). */
static bool
plex_match(struct json_object *o, const struct plex_query *pq)
{
    if (pq->unwatched && fk_geti(o, "play_count", 0) > 0)
        return false;
    for (int i = 0; i < pq->n; i++) {
        const struct plex_filter *fl = &pq->flt[i];
        int64_t v;

        switch (fl->field) {
        case PF_LAST_VIEWED:
            v = fk_geti(o, "last_played_ms", 0);
            if (v <= 0)
                return false;
            break;
        case PF_UPDATED:
            v = fk_geti(o, "updated_ms", 0);
            break;
        case PF_LAST_RATED:
            v = fk_geti(o, "rated_ms", 0);
            if (v <= 0 || fk_get(o, "rating") == NULL)
                return false;
            break;
        case PF_ADDED:
            v = fk_geti(o, "added_ms", 0);
            break;
        case PF_VIEW_COUNT:
            if (!plex_cmp(fl->op, fk_geti(o, "play_count", 0), fl->v))
                return false;
            continue;
        default:
            continue;
        }
        if (!plex_cmp(fl->op, v / 1000, fl->v))
            return false;
    }
    return true;
}

/* sort=addedAt[:desc][,titleSort] into spec; unknown fields are ignored. */
static void
plex_sort_spec(const char *sort, struct media_sort *spec)
{
    static const struct {
        const char *name;
        enum media_sort_key key;
    } keys[] = {{"addedAt", MS_ADDED},       {"updatedAt", MS_UPDATED},
                {"lastViewedAt", MS_PLAYED}, {"lastRatedAt", MS_RATED},
                {"viewCount", MS_PLAYCOUNT}, {"titleSort", MS_NAME},
                {"title", MS_NAME},          {"year", MS_YEAR},
                {"userRating", MS_RATING},   {"viewedAt", MS_PLAYED}};

    memset(spec, 0, sizeof(*spec));
    for (const char *p = sort; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        size_t fn = strcspn(p, ":,");
        const char *name = p;

        if (fn > 8 && strncmp(name, "episode.", 8) == 0) {
            name += 8;
            fn -= 8;
        } else if (fn > 5 && strncmp(name, "show.", 5) == 0) {
            name += 5;
            fn -= 5;
        }
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strlen(keys[i].name) != fn ||
                strncmp(keys[i].name, name, fn) != 0 ||
                spec->n == MEDIA_SORT_MAX)
                continue;
            spec->key[spec->n] = keys[i].key;
            spec->desc[spec->n] = n > (size_t)(name - p) + fn &&
                                  strncmp(name + fn, ":desc", 5) == 0;
            spec->n++;
            break;
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* ---- library objects -------------------------------------------------- */

static struct json_object *
plex_rating(double v)
{
    char buf[400];

    snprintf(buf, sizeof(buf), "%.1f", v);
    return json_object_new_double_s(v, buf);
}

static void
plex_ref(struct fake *f, struct json_object *m, const char *prefix,
         const char *id)
{
    struct json_object *p = media_find(f, FK_SRV_PLEX, id);
    char key[64], val[128];
    int64_t cat = fk_geti(p, "item", -1);
    struct json_object *e = cat_entry(f, cat);

    snprintf(key, sizeof(key), "%sRatingKey", prefix);
    fk_set(m, key, json_object_new_string(id));
    snprintf(key, sizeof(key), "%sKey", prefix);
    snprintf(val, sizeof(val), "/library/metadata/%s", id);
    fk_set(m, key, json_object_new_string(val));
    snprintf(key, sizeof(key), "%sGuid", prefix);
    plex_guid(f, cat, val);
    fk_set(m, key, json_object_new_string(val));
    snprintf(key, sizeof(key), "%sTitle", prefix);
    if (cat_kind(f, cat) == FK_SEASON)
        snprintf(val, sizeof(val), "Season %" PRId64, fk_geti(e, "number", 0));
    else
        snprintf(val, sizeof(val), "%s",
                 fk_gets(e, "title") != NULL ? fk_gets(e, "title") : "");
    fk_set(m, key, json_object_new_string(val));
}

/* The PMS Metadata object of library object o. counts: the leaf counts,
 * built on first need. */
static struct json_object *
plex_meta(struct fake *f, struct json_object *o, bool guids,
          struct json_object **counts)
{
    struct json_object *m = json_object_new_object();
    const char *id = fk_gets(o, "id"), *type = fk_gets(o, "type");
    int64_t cat = fk_geti(o, "item", -1);
    struct json_object *e = cat_entry(f, cat);
    bool movie = strcmp(type, "movie") == 0;
    bool episode = strcmp(type, "episode") == 0;
    bool season = strcmp(type, "season") == 0;
    char buf[128];
    double rating;

    fk_set(m, "ratingKey", json_object_new_string(id));
    snprintf(buf, sizeof(buf), "/library/metadata/%s%s", id,
             movie || episode ? "" : "/children");
    fk_set(m, "key", json_object_new_string(buf));
    plex_guid(f, cat, buf);
    fk_set(m, "guid", json_object_new_string(buf));
    fk_set(m, "type", json_object_new_string(type));
    if (season)
        snprintf(buf, sizeof(buf), "Season %" PRId64, fk_geti(e, "number", 0));
    else
        snprintf(buf, sizeof(buf), "%s",
                 fk_gets(e, "title") != NULL ? fk_gets(e, "title") : "");
    fk_set(m, "title", json_object_new_string(buf));
    fk_set(m, "librarySectionID", json_object_new_int(movie ? 1 : 2));
    fk_set(m, "librarySectionKey",
           json_object_new_string(movie ? "/library/sections/1"
                                        : "/library/sections/2"));
    fk_set(m, "librarySectionTitle",
           json_object_new_string(movie ? "Movies" : "TV Shows"));
    if (episode) {
        plex_ref(f, m, "grandparent", fk_gets(o, "show_id"));
        plex_ref(f, m, "parent", fk_gets(o, "season_id"));
        fk_set(m, "parentIndex",
               json_object_new_int64(fk_geti(e, "season", 0)));
        fk_set(m, "index", json_object_new_int64(fk_geti(e, "number", 0)));
    } else if (season) {
        plex_ref(f, m, "parent", fk_gets(o, "show_id"));
        fk_set(m, "index", json_object_new_int64(fk_geti(e, "number", 0)));
    }
    if ((movie || strcmp(type, "show") == 0) && fk_geti(e, "year", 0) > 0)
        fk_set(m, "year", json_object_new_int64(fk_geti(e, "year", 0)));
    if (movie || episode) {
        fk_set(m, "duration",
               json_object_new_int64(fk_geti(o, "duration_ms", 0)));
        if (fk_geti(o, "play_count", 0) > 0)
            fk_set(m, "viewCount",
                   json_object_new_int64(fk_geti(o, "play_count", 0)));
        if (fk_geti(o, "last_played_ms", 0) > 0)
            fk_set(
                m, "lastViewedAt",
                json_object_new_int64(fk_geti(o, "last_played_ms", 0) / 1000));
        if (fk_geti(o, "position_ms", 0) > 0)
            fk_set(m, "viewOffset",
                   json_object_new_int64(fk_geti(o, "position_ms", 0)));
    } else {
        int64_t leaves, viewed;

        if (*counts == NULL)
            *counts = media_leaf_counts(f, FK_SRV_PLEX);
        media_leaf_get(*counts, o, &leaves, &viewed);
        fk_set(m, "leafCount", json_object_new_int64(leaves));
        fk_set(m, "viewedLeafCount", json_object_new_int64(viewed));
    }
    if (media_rating(o, &rating)) {
        fk_set(m, "userRating", plex_rating(rating));
        fk_set(m, "lastRatedAt",
               json_object_new_int64(fk_geti(o, "rated_ms", 0) / 1000));
    }
    fk_set(m, "addedAt",
           json_object_new_int64(fk_geti(o, "added_ms", 0) / 1000));
    fk_set(m, "updatedAt",
           json_object_new_int64(fk_geti(o, "updated_ms", 0) / 1000));
    if (guids)
        fk_set(m, "Guid", plex_guids(f, cat));
    return m;
}

/* Page through v (total n) into a library MediaContainer and reply. */
static void
plex_reply_list(struct fk_req *r, struct json_object *const *v, size_t n,
                int section, int64_t start, int64_t size)
{
    struct json_object *mc = plex_container(0), *arr, *counts = NULL;
    bool guids = plex_flag(r, "includeGuids");
    size_t from, to;

    plex_window(r, mc, n, start, size, &from, &to);
    fk_set(mc, "allowSync", json_object_new_boolean(true));
    fk_set(mc, "identifier", json_object_new_string(PLEX_LIBRARY));
    if (section > 0) {
        fk_set(mc, "librarySectionID", json_object_new_int(section));
        fk_set(mc, "librarySectionTitle",
               json_object_new_string(section == 1 ? "Movies" : "TV Shows"));
    }
    fk_set(mc, "mediaTagPrefix",
           json_object_new_string("/system/bundle/media/flags/"));
    if (to > from) {
        arr = json_object_new_array_ext((int)(to - from));
        for (size_t i = from; i < to; i++)
            json_object_array_add(arr, plex_meta(r->f, v[i], guids, &counts));
        fk_set(mc, "Metadata", arr);
    }
    json_object_put(counts);
    plex_reply(r, mc);
}

static const char *const plex_page_params[] = {"X-Plex-*", "includeGuids",
                                               "includeCollections",
                                               "includeExternalMedia", NULL};

/* ---- PMS handlers ----------------------------------------------------- */

static void
plex_identity(struct fk_req *r)
{
    struct json_object *mc = plex_container(0);

    fk_set(mc, "claimed", json_object_new_boolean(true));
    fk_set(mc, "machineIdentifier", json_object_new_string(PLEX_MACHINE_ID));
    fk_set(mc, "version", json_object_new_string(PLEX_VERSION));
    plex_reply(r, mc);
}

static void
plex_sections(struct fk_req *r)
{
    static const char *const rows[2][6] = {
        {"1", "movie", "Movies", "tv.plex.agents.movie", "Plex Movie",
         "3e5a7c1d-9b2f-4d68-a0e1-5c7b9d2f4a61"},
        {"2", "show", "TV Shows", "tv.plex.agents.series", "Plex TV Series",
         "8c1f4e2a-6d3b-4a97-b5e0-2f9c7a1d3e84"}};
    struct json_object *mc = plex_container(2), *dirs = json_object_new_array();
    int64_t t = 1700000000;

    fk_set(mc, "allowSync", json_object_new_boolean(false));
    fk_set(mc, "title1", json_object_new_string("Plex Library"));
    for (size_t i = 0; i < 2; i++) {
        struct json_object *d = json_object_new_object();

        fk_set(d, "allowSync", json_object_new_boolean(true));
        fk_set(d, "key", json_object_new_string(rows[i][0]));
        fk_set(d, "type", json_object_new_string(rows[i][1]));
        fk_set(d, "title", json_object_new_string(rows[i][2]));
        fk_set(d, "agent", json_object_new_string(rows[i][3]));
        fk_set(d, "scanner", json_object_new_string(rows[i][4]));
        fk_set(d, "language", json_object_new_string("en-US"));
        fk_set(d, "uuid", json_object_new_string(rows[i][5]));
        fk_set(d, "updatedAt", json_object_new_int64(t));
        fk_set(d, "createdAt", json_object_new_int64(t));
        json_object_array_add(dirs, d);
    }
    fk_set(mc, "Directory", dirs);
    plex_reply(r, mc);
}

/* Library objects of a section and type passing the filters: the cached
 * vector for this query. NULL with a 400 reply on bad input. */
static const struct media_cache_ent *
plex_select(struct fk_req *r, int section, int64_t type, const char *guid_only)
{
    struct fake *f = r->f;
    struct plex_query pq;
    struct media_sort spec;
    struct media_vec v = {NULL, 0, 0};
    const struct media_cache_ent *c;
    char *key;
    bool want[5] = {false, false, false, false, false};

    if (plex_filters(r, &pq) != 0) {
        plex_html(r, 400);
        return NULL;
    }
    key = media_cache_key(r, plex_page_params);
    c = pq.relative ? NULL : media_cache_get(f, key);
    if (c != NULL) {
        free(key);
        return c;
    }
    if (type > 0)
        want[type] = true;
    else if (type < 0)
        want[1] = want[2] = want[3] = want[4] = true;
    else if (section == 1)
        want[1] = true;
    else if (section == 2)
        want[2] = true;
    else
        want[1] = want[2] = true;
    for (int pass = 0; pass < 2; pass++) {
        struct json_object *arr =
            media_part(f, FK_SRV_PLEX, pass == 0 ? "items" : "parents");
        size_t len = json_object_array_length(arr);

        if (pass == 0 && !want[1] && !want[4])
            continue;
        if (pass == 1 && !want[2] && !want[3])
            continue;
        for (size_t i = 0; i < len; i++) {
            struct json_object *o = json_object_array_get_idx(arr, i);
            const char *t = fk_gets(o, "type");
            int tn = strcmp(t, "movie") == 0    ? 1
                     : strcmp(t, "show") == 0   ? 2
                     : strcmp(t, "season") == 0 ? 3
                                                : 4;

            if (!want[tn] || (section == 1 && tn != 1) ||
                (section == 2 && tn == 1))
                continue;
            if (guid_only != NULL) {
                char idx[32];

                snprintf(idx, sizeof(idx), "%" PRId64, fk_geti(o, "item", -1));
                if (!media_list_has(guid_only, idx))
                    continue;
            }
            if (!plex_match(o, &pq))
                continue;
            media_vec_push(&v, o);
        }
    }
    plex_sort_spec(fk_query(r, "sort"), &spec);
    media_sort_apply(f, &spec, &v);
    c = media_cache_put(f, key, v.v, v.n);
    free(key);
    return c;
}

static int
plex_type_param(struct fk_req *r, int64_t *type)
{
    const char *t = fk_query(r, "type");

    *type = 0;
    if (t == NULL)
        return 0;
    return parse_i64(t, 1, 4, type);
}

static void
plex_section_all(struct fk_req *r)
{
    int64_t type, start, size;
    int section;
    const struct media_cache_ent *c;

    if (strcmp(r->segs[2], "1") == 0)
        section = 1;
    else if (strcmp(r->segs[2], "2") == 0)
        section = 2;
    else {
        plex_html(r, 404);
        return;
    }
    if (plex_type_param(r, &type) != 0 ||
        plex_paging(r, -1, &start, &size) != 0) {
        plex_html(r, 400);
        return;
    }
    if (type == 0)
        type = section == 1 ? 1 : 2;
    c = plex_select(r, section, type, NULL);
    if (c == NULL)
        return;
    plex_reply_list(r, c->v, c->n, section, start, size);
}

/* The catalog indexes (comma-separated) a guid names: plex://, imdb://,
 * tmdb://, tvdb:// and the legacy com.plexapp.agents.* forms. */
static void
plex_guid_cats(struct fake *f, const char *guid, struct buf *out)
{
    static const struct {
        const char *prefix;
        const char *id;
    } forms[] = {{"imdb://", "imdb"},
                 {"tmdb://", "tmdb"},
                 {"tvdb://", "tvdb"},
                 {"com.plexapp.agents.imdb://", "imdb"},
                 {"com.plexapp.agents.themoviedb://", "tmdb"},
                 {"com.plexapp.agents.thetvdb://", "tvdb"}};

    if (str_has_prefix(guid, "plex://")) {
        const char *slash = strchr(guid + 7, '/');
        int64_t cat = slash != NULL ? plex_hex_cat(f, slash + 1) : -1;

        if (cat >= 0 && strncmp(guid + 7, fk_kind_name[cat_kind(f, cat)],
                                (size_t)(slash - guid - 7)) == 0)
            buf_printf(out, "%" PRId64 ",", cat);
        return;
    }
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char val[128], key[200];
        const char *p;

        if (!str_has_prefix(guid, forms[i].prefix))
            continue;
        p = guid + strlen(forms[i].prefix);
        media_copy(val, sizeof(val), p, strcspn(p, "?/"));
        for (int k = 0; k < FK_KIND_MAX; k++) {
            int64_t cat;

            cat_index_key(key, sizeof(key), (enum fk_kind)k, forms[i].id, val);
            cat = cat_index_get(f, key);
            if (cat >= 0)
                buf_printf(out, "%" PRId64 ",", cat);
        }
        return;
    }
}

static void
plex_library_all(struct fk_req *r)
{
    const char *guid = fk_query(r, "guid");
    int64_t type, start, size;
    const struct media_cache_ent *c;
    struct buf cats;

    if (plex_type_param(r, &type) != 0 ||
        plex_paging(r, -1, &start, &size) != 0) {
        plex_html(r, 400);
        return;
    }
    buf_init(&cats);
    if (guid != NULL) {
        plex_guid_cats(r->f, guid, &cats);
        if (cats.len == 0)
            buf_puts(&cats, "-1,");
        /* guid lookups find episodes, seasons and shows too */
    }
    c = plex_select(r, 0, type != 0 ? type : (guid != NULL ? -1 : 0),
                    guid != NULL ? cats.data : NULL);
    buf_release(&cats);
    if (c == NULL)
        return;
    plex_reply_list(r, c->v, c->n, 0, start, size);
}

static void
plex_metadata(struct fk_req *r)
{
    struct json_object *o = media_find(r->f, FK_SRV_PLEX, r->segs[2]);
    struct json_object *one[1];

    if (o == NULL) {
        plex_html(r, 404);
        return;
    }
    one[0] = o;
    plex_reply_list(r, one, 1, strcmp(fk_gets(o, "type"), "movie") == 0 ? 1 : 2,
                    0, -1);
}

static void
plex_children(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *o = media_find(f, FK_SRV_PLEX, r->segs[2]);
    struct media_vec v = {NULL, 0, 0};
    int64_t start, size;

    if (o == NULL || !media_is_parent(o)) {
        plex_html(r, 404);
        return;
    }
    if (plex_paging(r, -1, &start, &size) != 0) {
        plex_html(r, 400);
        return;
    }
    if (strcmp(fk_gets(o, "type"), "show") == 0) {
        struct json_object *parents = media_part(f, FK_SRV_PLEX, "parents");

        for (size_t i = 0; i < json_object_array_length(parents); i++) {
            struct json_object *p = json_object_array_get_idx(parents, i);
            const char *sid = fk_gets(p, "show_id");

            if (sid != NULL && strcmp(sid, fk_gets(o, "id")) == 0)
                media_vec_push(&v, p);
        }
    } else {
        size_t n;
        struct json_object **kids = media_children(f, FK_SRV_PLEX, o, &n);

        for (size_t i = 0; i < n; i++)
            media_vec_push(&v, kids[i]);
        free(kids);
    }
    plex_reply_list(r, v.v, v.n, 2, start, size);
    free(v.v);
}

/* identifier and key of /:/scrobble, /:/unscrobble, /:/rate: the library
 * object, or NULL with 400/404 on r. */
static struct json_object *
plex_action_target(struct fk_req *r)
{
    const char *ident = fk_query(r, "identifier");
    const char *key = fk_query(r, "key");
    struct json_object *o;

    if (key == NULL)
        key = fk_query(r, "ratingKey");
    if (ident == NULL || strcmp(ident, PLEX_LIBRARY) != 0 || key == NULL) {
        plex_html(r, 400);
        return NULL;
    }
    if (str_has_prefix(key, "/library/metadata/"))
        key += strlen("/library/metadata/");
    o = media_find(r->f, FK_SRV_PLEX, key);
    if (o == NULL)
        plex_html(r, 404);
    return o;
}

static void
plex_scrobble_set(struct fk_req *r, bool played)
{
    struct fake *f = r->f;
    struct json_object *o = plex_action_target(r);
    struct json_object **kids = NULL, *one[1];
    struct json_object **list = one;
    size_t n = 1;
    int64_t now = fk_now_ms(f);

    if (o == NULL)
        return;
    one[0] = o;
    now -= now % 1000;
    if (media_is_parent(o)) {
        kids = media_children(f, FK_SRV_PLEX, o, &n);
        list = kids;
    }
    for (size_t i = 0; i < n; i++) {
        if (!played) {
            media_unplay(list[i], now);
            continue;
        }
        media_play(list[i], now, now);
        if (f->cfg.plex_scrobble_history)
            media_history_add(f, list[i], now);
    }
    if (media_is_parent(o))
        media_touch(o, now);
    free(kids);
    fk_reply_empty(r, 200);
}

static void
plex_scrobble(struct fk_req *r)
{
    plex_scrobble_set(r, true);
}

static void
plex_unscrobble(struct fk_req *r)
{
    plex_scrobble_set(r, false);
}

static void
plex_rate(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *rs = fk_query(r, "rating"), *at = fk_query(r, "ratedAt");
    struct json_object *o;
    int64_t now = fk_now_ms(f), rated = now;
    double v;
    char *end = NULL;

    if (rs == NULL) {
        plex_html(r, 400);
        return;
    }
    v = strtod(rs, &end);
    if (end == rs || *end != '\0' || !isfinite(v) || v < -1 || v > 10 ||
        (v < 0 && v != -1)) {
        plex_html(r, 400);
        return;
    }
    if (at != NULL) {
        int64_t s;

        if (parse_i64(at, 0, INT64_MAX / 1000, &s) != 0) {
            plex_html(r, 400);
            return;
        }
        rated = s * 1000;
    }
    o = plex_action_target(r);
    if (o == NULL)
        return;
    media_rate(o, v, rated, now);
    fk_reply_empty(r, 200);
}

static void
plex_timeline(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *rk = fk_query(r, "ratingKey"), *t = fk_query(r, "time");
    const char *dur = fk_query(r, "duration");
    const char *client = fk_query(r, "X-Plex-Client-Identifier");
    struct json_object *o;
    int64_t ms;

    if (client == NULL)
        client = fk_in_header(r, "X-Plex-Client-Identifier");
    if (rk == NULL && fk_query(r, "key") != NULL &&
        str_has_prefix(fk_query(r, "key"), "/library/metadata/"))
        rk = fk_query(r, "key") + strlen("/library/metadata/");
    if (rk == NULL || t == NULL || parse_i64(t, 0, INT64_MAX / 2, &ms) != 0) {
        plex_html(r, 400);
        return;
    }
    o = media_find(f, FK_SRV_PLEX, rk);
    if (o == NULL) {
        plex_html(r, 404);
        return;
    }
    /* PMS ignores a timeline without duration and a client identifier. */
    if (dur != NULL && client != NULL && !media_is_parent(o)) {
        fk_set(o, "position_ms", json_object_new_int64(ms));
        media_touch(o, fk_now_ms(f));
    }
    plex_reply(r, plex_container(0));
}

static void
plex_sessions(struct fk_req *r)
{
    plex_reply(r, plex_container(0));
}

static void
plex_history(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *hist = media_part(f, FK_SRV_PLEX, "history");
    struct json_object *mc, *arr;
    const char *acct = fk_query(r, "accountID");
    const char *sect = fk_query(r, "librarySectionID");
    const char *item = fk_query(r, "metadataItemID");
    const char *sort = fk_query(r, "sort");
    struct plex_query pq;
    struct media_vec v = {NULL, 0, 0};
    int64_t start, size, a = 0;
    size_t from, to;
    bool asc = sort != NULL && strcmp(sort, "viewedAt:asc") == 0;

    if (plex_filters(r, &pq) != 0 || plex_paging(r, -1, &start, &size) != 0 ||
        (acct != NULL && parse_i64(acct, 0, INT64_MAX, &a) != 0)) {
        plex_html(r, 400);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(hist); i++) {
        struct json_object *h = json_object_array_get_idx(hist, i), *o;
        bool ok = true;

        if (acct != NULL && fk_geti(h, "account", 1) != a)
            continue;
        if (item != NULL && strcmp(item, fk_gets(h, "rating_key")) != 0)
            continue;
        o = media_find(f, FK_SRV_PLEX, fk_gets(h, "rating_key"));
        if (sect != NULL && o != NULL &&
            strcmp(sect,
                   strcmp(fk_gets(o, "type"), "movie") == 0 ? "1" : "2") != 0)
            continue;
        for (int k = 0; k < pq.n; k++)
            if (pq.flt[k].field == PF_VIEWED_AT &&
                !plex_cmp(pq.flt[k].op, fk_geti(h, "viewed_ms", 0) / 1000,
                          pq.flt[k].v))
                ok = false;
        if (ok)
            media_vec_push(&v, h);
    }
    {
        struct media_sort spec = {{MS_NONE}, {false}, 0};
        struct media_sort_row *rows = xcalloc(v.n + 1, sizeof(*rows));

        spec.key[0] = MS_PLAYED;
        spec.desc[0] = !asc;
        spec.n = 1;
        for (size_t i = 0; i < v.n; i++) {
            rows[i].spec = &spec;
            rows[i].o = v.v[i];
            rows[i].k[0] = fk_geti(v.v[i], "viewed_ms", 0);
            rows[i].pos = i;
        }
        qsort(rows, v.n, sizeof(*rows), media_sort_cmp);
        for (size_t i = 0; i < v.n; i++)
            v.v[i] = rows[i].o;
        free(rows);
    }
    mc = plex_container(0);
    plex_window(r, mc, v.n, start, size, &from, &to);
    arr = json_object_new_array();
    for (size_t i = from; i < to; i++) {
        struct json_object *h = v.v[i], *row = json_object_new_object();
        const char *rk = fk_gets(h, "rating_key");
        struct json_object *o = media_find(f, FK_SRV_PLEX, rk);
        struct json_object *e = cat_entry(f, fk_geti(o, "item", -1));
        bool ep = o != NULL && strcmp(fk_gets(o, "type"), "episode") == 0;
        char buf[128];

        snprintf(buf, sizeof(buf), "/status/sessions/history/%" PRId64,
                 fk_geti(h, "id", 0));
        fk_set(row, "historyKey", json_object_new_string(buf));
        snprintf(buf, sizeof(buf), "/library/metadata/%s", rk);
        fk_set(row, "key", json_object_new_string(buf));
        fk_set(row, "ratingKey", json_object_new_string(rk));
        fk_set(row, "librarySectionID", json_object_new_string(ep ? "2" : "1"));
        if (ep) {
            snprintf(buf, sizeof(buf), "/library/metadata/%s",
                     fk_gets(o, "season_id"));
            fk_set(row, "parentKey", json_object_new_string(buf));
            snprintf(buf, sizeof(buf), "/library/metadata/%s",
                     fk_gets(o, "show_id"));
            fk_set(row, "grandparentKey", json_object_new_string(buf));
            fk_set(
                row, "grandparentTitle",
                json_object_new_string(
                    fk_gets(cat_entry(f, fk_geti(e, "show", -1)), "title")
                        ? fk_gets(cat_entry(f, fk_geti(e, "show", -1)), "title")
                        : ""));
        }
        fk_set(row, "title",
               json_object_new_string(fk_gets(e, "title") ? fk_gets(e, "title")
                                                          : ""));
        fk_set(row, "type", json_object_new_string(ep ? "episode" : "movie"));
        if (ep) {
            fk_set(row, "parentIndex",
                   json_object_new_int64(fk_geti(e, "season", 0)));
            fk_set(row, "index",
                   json_object_new_int64(fk_geti(e, "number", 0)));
        }
        fk_set(row, "viewedAt",
               json_object_new_int64(fk_geti(h, "viewed_ms", 0) / 1000));
        fk_set(row, "accountID",
               json_object_new_int64(fk_geti(h, "account", 1)));
        fk_set(row, "deviceID", json_object_new_int64(1));
        json_object_array_add(arr, row);
    }
    if (to > from)
        fk_set(mc, "Metadata", arr);
    else
        json_object_put(arr);
    free(v.v);
    plex_reply(r, mc);
}

/* ---- plex.tv Discover and metadata ------------------------------------ */

/* A provider-side Metadata object of catalog entry cat (plex ids). */
static struct json_object *
plexd_meta(struct fake *f, int64_t cat, bool guids)
{
    struct json_object *m = json_object_new_object();
    struct json_object *e = cat_entry(f, cat);
    enum fk_kind k = cat_kind(f, cat);
    char hex[32], buf[128];

    media_plex_hex(cat, hex);
    fk_set(m, "ratingKey", json_object_new_string(hex));
    snprintf(buf, sizeof(buf), "/library/metadata/%s", hex);
    fk_set(m, "key", json_object_new_string(buf));
    plex_guid(f, cat, buf);
    fk_set(m, "guid", json_object_new_string(buf));
    fk_set(m, "type", json_object_new_string(fk_kind_name[k]));
    if (k == FK_SEASON)
        snprintf(buf, sizeof(buf), "Season %" PRId64, fk_geti(e, "number", 0));
    else
        snprintf(buf, sizeof(buf), "%s",
                 fk_gets(e, "title") != NULL ? fk_gets(e, "title") : "");
    fk_set(m, "title", json_object_new_string(buf));
    if (fk_geti(e, "year", 0) > 0)
        fk_set(m, "year", json_object_new_int64(fk_geti(e, "year", 0)));
    if (k == FK_EPISODE || k == FK_SEASON) {
        int64_t show = fk_geti(e, "show", -1);

        media_plex_hex(show, hex);
        fk_set(m, k == FK_EPISODE ? "grandparentRatingKey" : "parentRatingKey",
               json_object_new_string(hex));
        plex_guid(f, show, buf);
        fk_set(m, k == FK_EPISODE ? "grandparentGuid" : "parentGuid",
               json_object_new_string(buf));
        fk_set(m, k == FK_EPISODE ? "grandparentTitle" : "parentTitle",
               json_object_new_string(fk_gets(cat_entry(f, show), "title")
                                          ? fk_gets(cat_entry(f, show), "title")
                                          : ""));
        if (k == FK_EPISODE) {
            fk_set(m, "parentIndex",
                   json_object_new_int64(fk_geti(e, "season", 0)));
            fk_set(m, "index", json_object_new_int64(fk_geti(e, "number", 0)));
        } else {
            fk_set(m, "index", json_object_new_int64(fk_geti(e, "number", 0)));
        }
    }
    if (guids)
        fk_set(m, "Guid", plex_guids(f, cat));
    return m;
}

static void
plexd_watchlist(struct fk_req *r)
{
    struct fake *f = r->f;
    struct json_object *wl = media_part(f, FK_SRV_PLEX, "watchlist");
    struct json_object *mc, *arr;
    const char *sort = fk_query(r, "sort");
    const char *type = fk_query(r, "type");
    bool asc = sort != NULL && strcmp(sort, "watchlistedAt:asc") == 0;
    struct media_vec v = {NULL, 0, 0};
    int64_t start, size;
    size_t from, to, len = json_object_array_length(wl);

    if (plex_paging(r, PLEX_DISCOVER_PAGE, &start, &size) != 0) {
        plex_html(r, 400);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        struct json_object *w =
            json_object_array_get_idx(wl, asc ? i : len - 1 - i);
        enum fk_kind k = cat_kind(f, fk_geti(w, "item", -1));

        if (type != NULL && !((strcmp(type, "1") == 0 && k == FK_MOVIE) ||
                              (strcmp(type, "2") == 0 && k == FK_SHOW)))
            continue;
        media_vec_push(&v, w);
    }
    mc = plex_container(0);
    plex_window(r, mc, v.n, start, size, &from, &to);
    fk_set(mc, "identifier",
           json_object_new_string("tv.plex.provider.discover"));
    fk_set(mc, "librarySectionID", json_object_new_string("watchlist"));
    fk_set(mc, "librarySectionTitle", json_object_new_string("Watchlist"));
    arr = json_object_new_array();
    for (size_t i = from; i < to; i++) {
        struct json_object *m =
            plexd_meta(f, fk_geti(v.v[i], "item", -1), false);

        fk_set(m, "watchlistedAt",
               json_object_new_int64(fk_geti(v.v[i], "at_ms", 0) / 1000));
        json_object_array_add(arr, m);
    }
    if (to > from)
        fk_set(mc, "Metadata", arr);
    else
        json_object_put(arr);
    free(v.v);
    plex_reply(r, mc);
}

static void
plexd_watchlist_set(struct fk_req *r, bool add)
{
    struct fake *f = r->f;
    struct json_object *wl = media_part(f, FK_SRV_PLEX, "watchlist");
    const char *rk = fk_query(r, "ratingKey");
    int64_t cat = plex_hex_cat(f, rk);
    enum fk_kind k;

    if (rk == NULL) {
        media_text(r, 400, "text/plain", "ratingKey is required");
        return;
    }
    if (cat < 0) {
        plex_html(r, 404);
        return;
    }
    k = cat_kind(f, cat);
    if (k != FK_MOVIE && k != FK_SHOW) {
        media_text(r, 400, "text/plain",
                   "only movies and shows can be on the watchlist");
        return;
    }
    for (size_t i = 0; i < json_object_array_length(wl); i++) {
        if (fk_geti(json_object_array_get_idx(wl, i), "item", -1) != cat)
            continue;
        if (add) {
            media_text(r, 409, "text/plain", "already on the watchlist");
            return;
        }
        json_object_array_del_idx(wl, i, 1);
        fk_reply_empty(r, 200);
        return;
    }
    if (!add) {
        media_text(r, 409, "text/plain", "not on the watchlist");
        return;
    }
    {
        struct json_object *w = json_object_new_object();
        int64_t now = fk_now_ms(f);

        fk_set(w, "item", json_object_new_int64(cat));
        fk_set(w, "at_ms", json_object_new_int64(now - now % 1000));
        json_object_array_add(wl, w);
    }
    fk_reply_empty(r, 200);
}

static void
plexd_add(struct fk_req *r)
{
    plexd_watchlist_set(r, true);
}

static void
plexd_remove(struct fk_req *r)
{
    plexd_watchlist_set(r, false);
}

static void
plexm_reply_one(struct fk_req *r, int64_t cat)
{
    struct json_object *mc = plex_container(cat >= 0 ? 1 : 0);

    fk_set(mc, "offset", json_object_new_int64(0));
    fk_set(mc, "totalSize", json_object_new_int64(cat >= 0 ? 1 : 0));
    fk_set(mc, "identifier",
           json_object_new_string("tv.plex.provider.metadata"));
    if (cat >= 0) {
        struct json_object *arr = json_object_new_array();

        json_object_array_add(
            arr, plexd_meta(r->f, cat, plex_flag(r, "includeGuids")));
        fk_set(mc, "Metadata", arr);
    }
    plex_reply(r, mc);
}

static void
plexm_metadata(struct fk_req *r)
{
    int64_t cat = plex_hex_cat(r->f, r->segs[2]);

    if (cat < 0) {
        plex_html(r, 404);
        return;
    }
    plexm_reply_one(r, cat);
}

/* GET /library/metadata/matches?type=movie|show|1|2&title=imdb-tt…|tmdb-…|
 * tvdb-…|<title>[&year=] (undocumented; PROVIDERS.md marks it uncertain). */
static void
plexm_matches(struct fk_req *r)
{
    struct fake *f = r->f;
    const char *type = fk_query(r, "type"), *title = fk_query(r, "title");
    const char *ys = fk_query(r, "year");
    enum fk_kind k;
    int64_t year = 0, cat = -1;

    if (type == NULL || title == NULL ||
        (ys != NULL && parse_i64(ys, 0, 9999, &year) != 0)) {
        plex_html(r, 400);
        return;
    }
    if (strcmp(type, "movie") == 0 || strcmp(type, "1") == 0)
        k = FK_MOVIE;
    else if (strcmp(type, "show") == 0 || strcmp(type, "2") == 0)
        k = FK_SHOW;
    else {
        plex_html(r, 400);
        return;
    }
    if (str_has_prefix(title, "imdb-") || str_has_prefix(title, "tmdb-") ||
        str_has_prefix(title, "tvdb-")) {
        char key[200], id[8];

        snprintf(id, sizeof(id), "%.4s", title);
        cat_index_key(key, sizeof(key), k, id, title + 5);
        cat = cat_index_get(f, key);
    } else {
        cat = cat_find_title(f, k, title, year);
    }
    plexm_reply_one(r, cat);
}

/* ---- dispatch --------------------------------------------------------- */

static const struct media_route plex_routes[] = {
    {"GET", "/identity", MR_NOAUTH, plex_identity},
    {"GET", "/library/sections", 0, plex_sections},
    {"GET", "/library/sections/*/all", 0, plex_section_all},
    {"GET", "/library/metadata/*", 0, plex_metadata},
    {"GET", "/library/metadata/*/children", 0, plex_children},
    {"GET", "/library/all", 0, plex_library_all},
    {"PUT", "/:/scrobble", MR_WRITE, plex_scrobble},
    {"GET", "/:/scrobble", MR_WRITE, plex_scrobble},
    {"PUT", "/:/unscrobble", MR_WRITE, plex_unscrobble},
    {"GET", "/:/unscrobble", MR_WRITE, plex_unscrobble},
    {"PUT", "/:/rate", MR_WRITE, plex_rate},
    {"GET", "/:/rate", MR_WRITE, plex_rate},
    {"POST", "/:/timeline", MR_WRITE, plex_timeline},
    {"PUT", "/:/timeline", MR_WRITE, plex_timeline},
    {"GET", "/:/timeline", MR_WRITE, plex_timeline},
    {"GET", "/status/sessions", 0, plex_sessions},
    {"GET", "/status/sessions/history/all", 0, plex_history},
    {NULL, NULL, 0, NULL}};

static const struct media_route plexd_routes[] = {
    {"GET", "/library/sections/watchlist/all", 0, plexd_watchlist},
    {"PUT", "/actions/addToWatchlist", MR_WRITE, plexd_add},
    {"PUT", "/actions/removeFromWatchlist", MR_WRITE, plexd_remove},
    {"GET", "/library/metadata/*", 0, plexm_metadata},
    {NULL, NULL, 0, NULL}};

static const struct media_route plexm_routes[] = {
    {"GET", "/library/metadata/matches", 0, plexm_matches},
    {"GET", "/library/metadata/*", 0, plexm_metadata},
    {"GET", "/library/sections/watchlist/all", 0, plexd_watchlist},
    {NULL, NULL, 0, NULL}};

static bool
plex_token_ok(struct fk_req *r)
{
    const char *t = fk_in_header(r, "X-Plex-Token");

    if (t == NULL)
        t = fk_query(r, "X-Plex-Token");
    return t != NULL && strcmp(t, r->f->cfg.plex_token) == 0;
}

static void
plex_dispatch(struct fk_req *r)
{
    const struct media_route *table = r->prov == FK_PLEX ? plex_routes
                                      : r->prov == FK_PLEX_DISCOVER
                                          ? plexd_routes
                                          : plexm_routes;
    const struct media_route *rt;
    int status;

    media_query_rebuild(r);
    rt = media_route_find(table, r, false, &status);
    if (rt == NULL) {
        plex_html(r, status);
        return;
    }
    r->is_write = (rt->flags & MR_WRITE) != 0;
    log_note(r, "write", json_object_new_boolean(r->is_write));
    if (!(rt->flags & MR_NOAUTH) && !plex_token_ok(r)) {
        plex_html(r, 401);
        log_note(r, "reject", json_object_new_string("token"));
        return;
    }
    rt->fn(r);
}

#endif
