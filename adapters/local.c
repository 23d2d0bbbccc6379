/*
 * local: the local backup tracker, a store rather than a service
 * (SYNC.md section 9). Each apply loads the present version of every feature
 * its operations touch, applies adds and removes in order, and writes the
 * result as the next version (tmp + fsync + rename + directory fsync, then
 * CURRENT likewise), so a crash leaves either the old or the new version.
 *
 * Matching follows SYNC.md 1.5 within what a store can know: two entries are
 * the same item when their types are equal and they share a global alias
 * token (<type>:<id>:<value>, or <show token>#sNNeNN for episodes) or their
 * canonical keys are equal. Local ids (plex, jellyfin, emby, slug) match only
 * through an equal key, since operations do not say which server they came
 * from.
 *
 * As a source (SYNC.md 5, 9), read_index gives a feature's present version
 * as rows (history one per play) and read_activities each feature's
 * CURRENT version as its checkpoint.
 */
#include "local.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "item.h"
#include "jsonu.h"
#include "log.h"
#include "op.h"
#include "util.h"

#define LOCAL_MAX_FILE ((size_t)512 * 1024 * 1024)
#define LOCAL_WINDOW_S 60 /* one play, SYNC.md 4.2 step 3 */
#define LOCAL_BUSY_MS  1000
#define JSON_FLAGS     (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

enum local_feature {
    LOCAL_HISTORY,
    LOCAL_RATINGS,
    LOCAL_WATCHLIST,
    LOCAL_PROGRESS,
    LOCAL_FEATURE_MAX
};

const char *const local_features[] = {
    [LOCAL_HISTORY] = "history",     [LOCAL_RATINGS] = "ratings",
    [LOCAL_WATCHLIST] = "watchlist", [LOCAL_PROGRESS] = "progress",
    [LOCAL_FEATURE_MAX] = NULL,
};

/* The entry field holding each feature's time. */
static const char *const time_field[LOCAL_FEATURE_MAX] = {
    [LOCAL_HISTORY] = "watched_at",
    [LOCAL_RATINGS] = "rated_at",
    [LOCAL_WATCHLIST] = "listed_at",
    [LOCAL_PROGRESS] = "progress_at",
};

struct local {
    char *dir;
};

/* One item entry of a snapshot, loaded or made from an operation. */
struct entry {
    struct json_object *obj; /* owned reference */
    char *key;               /* owned */
    enum item_type type;
    char **tok; /* owned: alias tokens, the key among them */
    size_t n_tok;
    int64_t t; /* the feature's time field; 0 unknown */
    bool removed;
    bool seen; /* store_find's scratch mark */
};

struct tok_ref {
    const char *tok; /* borrowed from an entry */
    size_t idx;
};

/* One feature's present state while an apply works on it. */
struct store {
    enum local_feature f;
    char *fdir;  /* owned */
    int lock_fd; /* flock on <fdir>/.lock; -1 */
    int base;    /* the version loaded; 0 = none */
    int max;     /* highest version number on disk */
    int *vers;   /* owned: versions on disk, ascending */
    size_t n_vers;
    struct entry *e; /* owned */
    size_t n, cap;
    struct tok_ref *ix; /* tokens of e[0..n_indexed), sorted */
    size_t n_ix;
    size_t n_indexed;
    bool changed;
};

enum snap_status { SNAP_VALID, SNAP_INVALID, SNAP_MISSING, SNAP_IOERR };

struct snap {
    struct json_object *doc;   /* owned; NULL unless parsed */
    struct json_object *items; /* borrowed from doc; NULL unless valid */
    int64_t created_at;
    size_t count;
    char why[256];
};

/* ---- small helpers ---- */

static int
feature_from_name(const char *name)
{
    for (int i = 0; i < LOCAL_FEATURE_MAX; i++)
        if (strcmp(local_features[i], name) == 0)
            return i;
    return -1;
}

static char *
version_path(const char *fdir, int version)
{
    return xasprintf("%s/v%06d.json", fdir, version);
}

/* "v<digits>.json" -> version, or -1. */
static int
version_from_name(const char *name)
{
    size_t len = strlen(name);
    int64_t v;

    if (len < 7 || name[0] != 'v' || strcmp(name + len - 5, ".json") != 0)
        return -1;
    for (size_t i = 1; i < len - 5; i++)
        if (name[i] < '0' || name[i] > '9')
            return -1;
    if (parse_i64n(name + 1, len - 6, 1, INT_MAX, &v) != 0)
        return -1;
    return (int)v;
}

static int
int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/*
 * The versions in fdir, ascending (owned). A missing directory has none.
 * 0, or -1 with errno.
 */
static int
versions_scan(const char *fdir, int **out, size_t *n_out)
{
    DIR *d = opendir(fdir);
    struct dirent *de;
    int *v = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    *n_out = 0;
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        int ver = version_from_name(de->d_name);

        if (ver < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = ver;
        errno = 0;
    }
    if (errno != 0) {
        int saved = errno;

        closedir(d);
        free(v);
        errno = saved;
        return -1;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), int_cmp);
    *out = v;
    *n_out = n;
    return 0;
}

/* CURRENT's version: 0 with *cur > 0, 1 when missing or unreadable as a
 * number (*cur = 0), -1 on an I/O error (errno). */
static int
current_read(const char *fdir, int *cur)
{
    char *path = xasprintf("%s/CURRENT", fdir);
    size_t len;
    char *s = read_file(path, 64, &len);
    int64_t v;
    int rc = 1;

    *cur = 0;
    if (s == NULL) {
        int saved = errno;

        free(path);
        errno = saved;
        return saved == ENOENT || saved == EFBIG ? 1 : -1;
    }
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' ||
                       s[len - 1] == '\r' || s[len - 1] == '\t'))
        len--;
    if (parse_i64n(s, len, 1, INT_MAX, &v) == 0) {
        *cur = (int)v;
        rc = 0;
    } else {
        log_warn("msg=\"local backup: CURRENT is not a version number\" "
                 "dir=\"%s\"",
                 fdir);
    }
    free(s);
    free(path);
    return rc;
}

static void
snap_release(struct snap *s)
{
    json_object_put(s->doc);
    memset(s, 0, sizeof(*s));
}

static void
items_digest(struct json_object *items, char hex[65])
{
    size_t len;
    const char *txt =
        json_object_to_json_string_length(items, JSON_FLAGS, &len);
    unsigned char md[32];

    sha256(txt, len, md);
    hex_encode(md, 32, hex);
}

/*
 * Read and check one snapshot. VALID: doc and items set. INVALID: why says
 * what is wrong (created_at and count filled when the header has them).
 * MISSING: no such file. IOERR: why holds the error.
 */
static enum snap_status
snap_read(const char *fdir, const char *feature, int version, struct snap *s)
{
    char *path = version_path(fdir, version);
    enum snap_status st = SNAP_INVALID;
    struct json_object *items;
    const char *str;
    char *data = NULL;
    char hex[65];
    int64_t v;
    size_t len;

    memset(s, 0, sizeof(*s));
    data = read_file(path, LOCAL_MAX_FILE, &len);
    if (data == NULL) {
        if (errno == ENOENT) {
            st = SNAP_MISSING;
        } else {
            snprintf(s->why, sizeof(s->why), "read %s: %s", path,
                     errno == EFBIG ? "larger than 512 MiB" : strerror(errno));
            st = SNAP_IOERR;
        }
        goto done;
    }
    s->doc = jsonu_parse(data, len, JSONU_DEPTH, s->why, sizeof(s->why));
    if (s->doc == NULL)
        goto done;
    if (!json_object_is_type(s->doc, json_type_object) ||
        jget_str(s->doc, "format", &str) != 0 ||
        strcmp(str, LOCAL_FORMAT) != 0) {
        snprintf(s->why, sizeof(s->why), "not a %s document", LOCAL_FORMAT);
        goto done;
    }
    if (jget_str(s->doc, "created_at", &str) == 0 &&
        wr_time_parse(str, &s->created_at) != 0)
        s->created_at = 0;
    if (jget_i64(s->doc, "count", &v) == 0 && v >= 0)
        s->count = (size_t)v;
    if (jget_str(s->doc, "feature", &str) != 0 || strcmp(str, feature) != 0) {
        snprintf(s->why, sizeof(s->why), "feature is not %s", feature);
        goto done;
    }
    if (jget_i64(s->doc, "version", &v) != 0 || v != version) {
        snprintf(s->why, sizeof(s->why), "version is not %d", version);
        goto done;
    }
    if (jget_arr(s->doc, "items", &items) != 0 ||
        jget_i64(s->doc, "count", &v) != 0 ||
        (size_t)v != json_object_array_length(items) ||
        jget_str(s->doc, "sha256", &str) != 0) {
        snprintf(s->why, sizeof(s->why), "header and items disagree");
        goto done;
    }
    items_digest(items, hex);
    if (strcmp(hex, str) != 0) {
        snprintf(s->why, sizeof(s->why), "checksum mismatch");
        goto done;
    }
    s->items = items;
    st = SNAP_VALID;
done:
    if (st != SNAP_VALID) {
        json_object_put(s->doc);
        s->doc = NULL;
    }
    free(data);
    free(path);
    return st;
}

/*
 * The present version among vers[0..n): CURRENT, or the newest valid version
 * below it when it is missing or fails its checksum (each skipped one is
 * logged). *s is the snapshot (doc NULL and *version 0 when there is none).
 * 0, or -1 with err on an I/O error.
 */
static int
snap_resolve(const char *fdir, const char *feature, const int *vers, size_t n,
             struct snap *s, int *version, char *err, size_t errlen)
{
    int cur, start;

    memset(s, 0, sizeof(*s));
    *version = 0;
    if (current_read(fdir, &cur) < 0) {
        snprintf(err, errlen, "read %s/CURRENT: %s", fdir, strerror(errno));
        return -1;
    }
    if (n == 0)
        return 0;
    start = cur > 0 ? cur : vers[n - 1];
    if (cur == 0)
        log_warn("msg=\"local backup: no CURRENT, using the newest valid "
                 "version\" feature=%s",
                 feature);
    for (size_t i = n; i-- > 0;) {
        enum snap_status st;

        if (vers[i] > start)
            continue;
        st = snap_read(fdir, feature, vers[i], s);
        if (st == SNAP_VALID) {
            *version = vers[i];
            if (cur > 0 && vers[i] != cur)
                log_warn("msg=\"local backup: falling back\" feature=%s "
                         "current=%d using=%d",
                         feature, cur, vers[i]);
            return 0;
        }
        if (st == SNAP_IOERR) {
            snprintf(err, errlen, "%s", s->why);
            snap_release(s);
            return -1;
        }
        if (st == SNAP_INVALID)
            log_warn("msg=\"local backup: snapshot skipped\" feature=%s "
                     "version=%d reason=\"%s\"",
                     feature, vers[i], s->why);
        snap_release(s);
    }
    if (cur > 0)
        log_warn("msg=\"local backup: no valid snapshot, starting empty\" "
                 "feature=%s current=%d",
                 feature, cur);
    return 0;
}

/* ---- tokens and entries ---- */

static void
tok_add(struct entry *e, size_t *cap, char *tok)
{
    for (size_t i = 0; i < e->n_tok; i++) {
        if (strcmp(e->tok[i], tok) == 0) {
            free(tok);
            return;
        }
    }
    if (e->n_tok == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        e->tok = xrealloc(e->tok, *cap * sizeof(*e->tok));
    }
    e->tok[e->n_tok++] = tok;
}

static bool
id_is_global(int id)
{
    return id <= ITEM_ID_ANIDB || id == ITEM_ID_GUID;
}

/* The alias tokens of it (SYNC.md 1.5, global ones) plus key. */
static void
entry_tokens(struct entry *e, const struct item *it)
{
    size_t cap = 0;

    for (int i = 0; i < ITEM_ID_MAX; i++) {
        const char *v = it->ids.v[i];

        if (v != NULL && id_is_global(i))
            tok_add(e, &cap,
                    xasprintf("%s:%s:%s", item_type_name(it->type),
                              item_id_name((enum item_id)i), v));
    }
    if ((it->type == ITEM_EPISODE && it->season >= 0 && it->episode >= 0) ||
        (it->type == ITEM_SEASON && it->season >= 0)) {
        for (int i = 0; i < ITEM_ID_MAX; i++) {
            const char *v = it->show_ids.v[i];

            if (v == NULL || !id_is_global(i))
                continue;
            if (it->type == ITEM_EPISODE)
                tok_add(e, &cap,
                        xasprintf("show:%s:%s#s%02de%02d",
                                  item_id_name((enum item_id)i), v, it->season,
                                  it->episode));
            else
                tok_add(e, &cap,
                        xasprintf("show:%s:%s#s%02d",
                                  item_id_name((enum item_id)i), v,
                                  it->season));
        }
    }
    if (e->key != NULL)
        tok_add(e, &cap, xstrdup(e->key));
}

static void
entry_release(struct entry *e)
{
    json_object_put(e->obj);
    free(e->key);
    for (size_t i = 0; i < e->n_tok; i++)
        free(e->tok[i]);
    free(e->tok);
    memset(e, 0, sizeof(*e));
}

/* Same item: equal types and a shared token (the key is one). */
static bool
entry_same(const struct entry *a, const struct entry *b)
{
    if (a->type != b->type)
        return false;
    for (size_t i = 0; i < a->n_tok; i++)
        for (size_t j = 0; j < b->n_tok; j++)
            if (strcmp(a->tok[i], b->tok[j]) == 0)
                return true;
    return false;
}

/* Fill e from a stored entry object (a reference is taken). Entries that
 * do not parse are kept as they are and match nothing. */
static void
entry_from_json(struct entry *e, enum local_feature f, struct json_object *o)
{
    struct json_object *jitem;
    struct item it;
    const char *s;

    memset(e, 0, sizeof(*e));
    item_init(&it);
    e->obj = json_object_get(o);
    if (!json_object_is_type(o, json_type_object))
        goto done;
    if (jget_obj(o, "item", &jitem) != 0 || item_from_json(&it, jitem) != 0)
        goto done;
    e->type = it.type;
    e->key = jget_str(o, "key", &s) == 0 ? xstrdup(s) : item_key(&it);
    if (jget_str(o, time_field[f], &s) == 0 && wr_time_parse(s, &e->t) != 0)
        e->t = 0;
    entry_tokens(e, &it);
done:
    item_release(&it);
}

static void
add_time(struct json_object *o, const char *k, int64_t t)
{
    char buf[WR_TIME_BUF];

    wr_time_format(t, buf);
    json_object_object_add(o, k, json_object_new_string(buf));
}

static struct json_object *
progress_json(double p)
{
    p = round(p * 100) / 100;
    if (p == floor(p))
        return json_object_new_int64((int64_t)p);
    return json_object_new_double(p);
}

/* An entry for op in feature f (not yet in a store). */
static void
entry_from_op(struct entry *e, enum local_feature f, const struct op *op)
{
    int64_t fallback = op->created_at > 0 ? op->created_at : wr_now();
    struct json_object *o = json_object_new_object();

    memset(e, 0, sizeof(*e));
    e->type = op->item.type;
    e->key = op->key != NULL ? xstrdup(op->key) : item_key(&op->item);
    entry_tokens(e, &op->item);
    json_object_object_add(o, "item", item_to_json(&op->item));
    json_object_object_add(o, "key", json_object_new_string(e->key));
    switch (f) {
    case LOCAL_HISTORY:
        e->t = op->watched_at > 0 ? op->watched_at : fallback;
        break;
    case LOCAL_RATINGS:
        json_object_object_add(o, "rating", json_object_new_int(op->rating));
        e->t = op->rated_at > 0 ? op->rated_at : fallback;
        break;
    case LOCAL_WATCHLIST:
        e->t = fallback;
        break;
    case LOCAL_PROGRESS:
        json_object_object_add(o, "progress", progress_json(op->progress));
        if (op->position_ms >= 0)
            json_object_object_add(o, "position_ms",
                                   json_object_new_int64(op->position_ms));
        if (op->duration_ms >= 0)
            json_object_object_add(o, "duration_ms",
                                   json_object_new_int64(op->duration_ms));
        e->t = fallback;
        break;
    case LOCAL_FEATURE_MAX:
        break;
    }
    add_time(o, time_field[f], e->t);
    e->obj = o;
}

/* ---- the store ---- */

static void
store_release(struct store *s)
{
    for (size_t i = 0; i < s->n; i++)
        entry_release(&s->e[i]);
    free(s->e);
    free(s->ix);
    free(s->vers);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->fdir);
    memset(s, 0, sizeof(*s));
    s->lock_fd = -1;
}

static void
store_push(struct store *s, struct entry *e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->e = xrealloc(s->e, s->cap * sizeof(*s->e));
    }
    s->e[s->n++] = *e;
    memset(e, 0, sizeof(*e));
}

static int
tok_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tok_ref *)a)->tok,
                  ((const struct tok_ref *)b)->tok);
}

static void
store_index(struct store *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        n += s->e[i].n_tok;
    s->ix = xcalloc(n ? n : 1, sizeof(*s->ix));
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < s->e[i].n_tok; j++)
            s->ix[s->n_ix++] = (struct tok_ref){s->e[i].tok[j], i};
    if (s->n_ix > 1)
        qsort(s->ix, s->n_ix, sizeof(*s->ix), tok_ref_cmp);
    s->n_indexed = s->n;
}

/* Remove the temporary files a crashed writer left (we hold the lock). */
static void
store_sweep(const char *fdir)
{
    DIR *d = opendir(fdir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char *p;

        if (strstr(de->d_name, ".tmp.") == NULL)
            continue;
        p = xasprintf("%s/%s", fdir, de->d_name);
        if (unlink(p) == 0)
            log_info("msg=\"local backup: removed a stale temporary file\" "
                     "file=\"%s\"",
                     de->d_name);
        free(p);
    }
    closedir(d);
}

/*
 * Lock and load feature f's present state. 0; 1 when another writer holds
 * the lock; -1 with err on an I/O error.
 */
static int
store_open(struct store *s, const char *dir, enum local_feature f, char *err,
           size_t errlen)
{
    struct snap snap;
    char *lock = NULL;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    s->lock_fd = -1;
    s->f = f;
    s->fdir = xasprintf("%s/%s", dir, local_features[f]);
    if (mkdir_p(s->fdir, 0700) != 0) {
        snprintf(err, errlen, "mkdir %s: %s", s->fdir, strerror(errno));
        return -1;
    }
    lock = xasprintf("%s/.lock", s->fdir);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        snprintf(err, errlen, "open %s: %s", lock, strerror(errno));
        goto done;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;

        snprintf(err, errlen, "%s is locked by another writer: %s", s->fdir,
                 strerror(saved));
        rc = saved == EWOULDBLOCK ? 1 : -1;
        goto done;
    }
    store_sweep(s->fdir);
    if (versions_scan(s->fdir, &s->vers, &s->n_vers) != 0) {
        snprintf(err, errlen, "read %s: %s", s->fdir, strerror(errno));
        goto done;
    }
    s->max = s->n_vers ? s->vers[s->n_vers - 1] : 0;
    if (snap_resolve(s->fdir, local_features[f], s->vers, s->n_vers, &snap,
                     &s->base, err, errlen) != 0)
        goto done;
    if (snap.items != NULL) {
        size_t n = json_object_array_length(snap.items);

        for (size_t i = 0; i < n; i++) {
            struct entry e;

            entry_from_json(&e, f, json_object_array_get_idx(snap.items, i));
            store_push(s, &e);
        }
    }
    snap_release(&snap);
    store_index(s);
    rc = 0;
done:
    free(lock);
    return rc;
}

/* Append idx to the match list unless it is there already. */
static void
match_add(struct store *s, size_t **m, size_t *n, size_t *cap, size_t idx)
{
    if (s->e[idx].seen)
        return;
    s->e[idx].seen = true;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *m = xrealloc(*m, *cap * sizeof(**m));
    }
    (*m)[(*n)++] = idx;
}

/* The live entries that are the same item as probe (owned list, free). */
static size_t *
store_find(struct store *s, const struct entry *probe, size_t *n_out)
{
    size_t *m = NULL, n = 0, cap = 0;

    for (size_t t = 0; t < probe->n_tok; t++) {
        size_t lo = 0, hi = s->n_ix;

        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (strcmp(s->ix[mid].tok, probe->tok[t]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < s->n_ix && strcmp(s->ix[lo].tok, probe->tok[t]) == 0;
             lo++) {
            const struct entry *e = &s->e[s->ix[lo].idx];

            if (!e->removed && e->type == probe->type)
                match_add(s, &m, &n, &cap, s->ix[lo].idx);
        }
    }
    for (size_t i = s->n_indexed; i < s->n; i++)
        if (!s->e[i].removed && entry_same(&s->e[i], probe))
            match_add(s, &m, &n, &cap, i);
    for (size_t i = 0; i < n; i++)
        s->e[m[i]].seen = false;
    *n_out = n;
    return m;
}

/* Keep only the matches within the play window of t. */
static size_t
match_window(const struct store *s, size_t *m, size_t n, int64_t t)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        int64_t d = s->e[m[i]].t - t;

        if (d >= -LOCAL_WINDOW_S && d <= LOCAL_WINDOW_S)
            m[k++] = m[i];
    }
    return k;
}

/* Matches that are not all one item (SYNC.md 1.5): nothing is removed. */
static bool
match_ambiguous(const struct store *s, const size_t *m, size_t n)
{
    const struct entry **rep = NULL;
    size_t n_rep = 0;
    bool amb = false;

    if (n < 2)
        return false;
    /* Entries with one key are one item: compare one of each key. */
    rep = xcalloc(n, sizeof(*rep));
    for (size_t i = 0; i < n; i++) {
        const struct entry *e = &s->e[m[i]];
        size_t r = 0;

        while (r < n_rep && strcmp(rep[r]->key ? rep[r]->key : "",
                                   e->key ? e->key : "") != 0)
            r++;
        if (r == n_rep)
            rep[n_rep++] = e;
    }
    for (size_t i = 0; i < n_rep && !amb; i++)
        for (size_t j = i + 1; j < n_rep && !amb; j++)
            amb = !entry_same(rep[i], rep[j]);
    free(rep);
    return amb;
}

static void
result_set(struct adapter_result *r, enum adapter_outcome o,
           int64_t retry_after_ms, const char *reason)
{
    r->outcome = o;
    r->retry_after_ms = retry_after_ms;
    snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
}

/* A JSON member equal in a and b (both absent counts as equal). */
static bool
member_eq(struct json_object *a, struct json_object *b, const char *k)
{
    struct json_object *x = NULL, *y = NULL;
    const char *sx, *sy;

    json_object_object_get_ex(a, k, &x);
    json_object_object_get_ex(b, k, &y);
    if (x == NULL || y == NULL)
        return x == y;
    sx = json_object_to_json_string_ext(x, JSON_FLAGS);
    sy = json_object_to_json_string_ext(y, JSON_FLAGS);
    return strcmp(sx, sy) == 0;
}

/* Whether the one match already holds what fresh would (ratings and
 * progress): then nothing changes. */
static bool
same_value(const struct store *s, enum local_feature f, size_t idx,
           const struct entry *fresh)
{
    struct json_object *old = s->e[idx].obj;

    if (f == LOCAL_RATINGS)
        return member_eq(old, fresh->obj, "rating");
    return member_eq(old, fresh->obj, "progress") &&
           member_eq(old, fresh->obj, "position_ms") &&
           member_eq(old, fresh->obj, "duration_ms");
}

/* Apply one operation to the store, filling r. */
static void
store_apply(struct store *s, const struct op *op, struct adapter_result *r)
{
    struct entry probe;
    size_t *m = NULL, n = 0;
    char why[128];

    result_set(r, ADAPTER_DONE, 0, NULL);
    if (op->item.type == ITEM_NONE) {
        result_set(r, ADAPTER_PERMANENT, 0,
                   "invalid: operation without an "
                   "item type");
        return;
    }
    if (op->kind == OP_RATING_SET && (op->rating < 1 || op->rating > 10)) {
        snprintf(why, sizeof(why), "invalid: rating %d is not 1-10",
                 op->rating);
        result_set(r, ADAPTER_PERMANENT, 0, why);
        return;
    }
    if (op->kind == OP_PROGRESS_SET &&
        (op->progress < 0 || op->progress > 100)) {
        result_set(r, ADAPTER_PERMANENT, 0, "invalid: progress unknown");
        return;
    }
    entry_from_op(&probe, s->f, op);
    m = store_find(s, &probe, &n);
    switch (op->kind) {
    case OP_HISTORY_ADD:
        if (match_window(s, m, n, probe.t) == 0) {
            store_push(s, &probe);
            s->changed = true;
        }
        break;
    case OP_WATCHLIST_ADD:
        if (n == 0) {
            store_push(s, &probe);
            s->changed = true;
        }
        break;
    case OP_HISTORY_REMOVE:
    case OP_RATING_CLEAR:
    case OP_WATCHLIST_REMOVE:
    case OP_RATING_SET:
    case OP_PROGRESS_SET:
        if (op->kind == OP_HISTORY_REMOVE && op->watched_at != 0)
            n = match_window(s, m, n, op->watched_at);
        if (match_ambiguous(s, m, n)) {
            snprintf(why, sizeof(why),
                     "ambiguous: %s matches entries of different items",
                     probe.key);
            result_set(r, ADAPTER_PERMANENT, 0, why);
            break;
        }
        if ((op->kind == OP_RATING_SET || op->kind == OP_PROGRESS_SET) &&
            n == 1 && same_value(s, s->f, m[0], &probe))
            break;
        for (size_t i = 0; i < n; i++)
            s->e[m[i]].removed = true;
        if (n > 0)
            s->changed = true;
        if (op->kind == OP_RATING_SET || op->kind == OP_PROGRESS_SET) {
            store_push(s, &probe);
            s->changed = true;
        }
        break;
    default:
        result_set(r, ADAPTER_PERMANENT, 0, "unsupported by local");
        break;
    }
    free(m);
    entry_release(&probe);
}

static int
entry_ptr_cmp(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    int c = strcmp(x->key ? x->key : "", y->key ? y->key : "");

    if (c != 0)
        return c;
    return (x->t > y->t) - (x->t < y->t);
}

static int
fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    if (rc != 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return close(fd);
}

/* Delete all but the newest LOCAL_KEEP versions. */
static void
store_retain(struct store *s)
{
    int *v = NULL;
    size_t n = 0;

    if (versions_scan(s->fdir, &v, &n) != 0) {
        log_warn("msg=\"local backup: cannot list for retention\" dir=\"%s\" "
                 "reason=\"%s\"",
                 s->fdir, strerror(errno));
        return;
    }
    for (size_t i = 0; i + LOCAL_KEEP < n; i++) {
        char *p = version_path(s->fdir, v[i]);

        if (unlink(p) != 0 && errno != ENOENT)
            log_warn("msg=\"local backup: cannot delete an old version\" "
                     "file=\"%s\" reason=\"%s\"",
                     p, strerror(errno));
        free(p);
    }
    free(v);
}

/* Write the store as the next version and point CURRENT at it. 0, or -1
 * with err. */
static int
store_write(struct store *s, char *err, size_t errlen)
{
    const struct entry **live = NULL;
    struct json_object *items = NULL, *hdr = NULL;
    int version = (s->max > s->base ? s->max : s->base) + 1;
    char *path = NULL, *cur_path = NULL;
    char hex[65], num[32];
    const char *txt;
    struct buf out;
    size_t n = 0, len;
    int rc = -1;

    buf_init(&out);
    if (version <= 0 || version == INT_MAX) {
        snprintf(err, errlen, "%s: version numbers exhausted", s->fdir);
        goto done;
    }
    live = xcalloc(s->n ? s->n : 1, sizeof(*live));
    for (size_t i = 0; i < s->n; i++)
        if (!s->e[i].removed)
            live[n++] = &s->e[i];
    if (n > 1)
        qsort(live, n, sizeof(*live), entry_ptr_cmp);
    items = json_object_new_array_ext((int)(n ? n : 1));
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, json_object_get(live[i]->obj));
    items_digest(items, hex);

    hdr = json_object_new_object();
    json_object_object_add(hdr, "format", json_object_new_string(LOCAL_FORMAT));
    json_object_object_add(hdr, "feature",
                           json_object_new_string(local_features[s->f]));
    json_object_object_add(hdr, "version", json_object_new_int(version));
    add_time(hdr, "created_at", wr_now());
    json_object_object_add(hdr, "count", json_object_new_int64((int64_t)n));
    json_object_object_add(hdr, "sha256", json_object_new_string(hex));
    /* The header, then one entry a line: the same JSON, easier to read. */
    txt = json_object_to_json_string_length(hdr, JSON_FLAGS, &len);
    buf_append(&out, txt, len - 1); /* without the closing brace */
    buf_puts(&out, ",\"items\":[");
    for (size_t i = 0; i < n; i++) {
        buf_puts(&out, i ? ",\n" : "\n");
        txt = json_object_to_json_string_length(live[i]->obj, JSON_FLAGS, &len);
        buf_append(&out, txt, len);
    }
    buf_puts(&out, n ? "\n]}\n" : "]}\n");

    path = version_path(s->fdir, version);
    if (write_file_atomic(path, out.data, out.len, 0600) != 0 ||
        fsync_dir(s->fdir) != 0) {
        snprintf(err, errlen, "write %s: %s", path, strerror(errno));
        goto done;
    }
    cur_path = xasprintf("%s/CURRENT", s->fdir);
    snprintf(num, sizeof(num), "%d\n", version);
    if (write_file_atomic(cur_path, num, strlen(num), 0600) != 0 ||
        fsync_dir(s->fdir) != 0) {
        snprintf(err, errlen, "write %s: %s", cur_path, strerror(errno));
        goto done;
    }
    s->max = s->base = version;
    log_debug("msg=\"local backup: version written\" feature=%s version=%d "
              "count=%zu",
              local_features[s->f], version, n);
    store_retain(s);
    rc = 0;
done:
    free(cur_path);
    free(path);
    json_object_put(hdr);
    json_object_put(items);
    free(live);
    buf_release(&out);
    return rc;
}

/* ---- the adapter ---- */

static int
op_feature(enum op_kind k)
{
    switch (k) {
    case OP_HISTORY_ADD:
    case OP_HISTORY_REMOVE:
        return LOCAL_HISTORY;
    case OP_RATING_SET:
    case OP_RATING_CLEAR:
        return LOCAL_RATINGS;
    case OP_WATCHLIST_ADD:
    case OP_WATCHLIST_REMOVE:
        return LOCAL_WATCHLIST;
    case OP_PROGRESS_SET:
        return LOCAL_PROGRESS;
    default:
        return -1;
    }
}

static void *
local_init(const struct provider_conf *conf, const struct adapter_tokens *saved,
           const char *state_dir, char *err, size_t errlen)
{
    struct local *l;
    char *dir;

    (void)saved;
    if (conf != NULL && conf->dir != NULL && conf->dir[0] != '\0')
        dir = xstrdup(conf->dir);
    else
        dir = xasprintf("%s/local", state_dir != NULL && state_dir[0] != '\0'
                                        ? state_dir
                                        : "var");
    if (mkdir_p(dir, 0700) != 0 || access(dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "local backup dir %s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    l = xcalloc(1, sizeof(*l));
    l->dir = dir;
    return l;
}

static void
local_free(void *ctx)
{
    struct local *l = ctx;

    if (l == NULL)
        return;
    free(l->dir);
    free(l);
}

/*
 * Apply ops[0..n) feature by feature, each feature's operations in their
 * order. Always 0: the outcome of each operation is in results (DONE,
 * PERMANENT for an operation that cannot be kept, RETRY on an I/O failure
 * of its feature).
 */
static int
local_apply(void *ctx, const struct op *const *ops, size_t n,
            struct adapter_result *results)
{
    struct local *l = ctx;

    for (size_t i = 0; i < n; i++) {
        result_set(&results[i], ADAPTER_DONE, 0, NULL);
        if (op_feature(ops[i]->kind) < 0) {
            char why[128];

            snprintf(why, sizeof(why), "unsupported: local takes no %s",
                     op_kind_name(ops[i]->kind));
            result_set(&results[i], ADAPTER_PERMANENT, 0, why);
        }
    }
    for (int f = 0; f < LOCAL_FEATURE_MAX; f++) {
        struct store s;
        char err[256];
        bool any = false;
        int rc;

        for (size_t i = 0; i < n && !any; i++)
            any = op_feature(ops[i]->kind) == f;
        if (!any)
            continue;
        rc = store_open(&s, l->dir, (enum local_feature)f, err, sizeof(err));
        if (rc == 0) {
            for (size_t i = 0; i < n; i++)
                if (op_feature(ops[i]->kind) == f)
                    store_apply(&s, ops[i], &results[i]);
            if (s.changed && store_write(&s, err, sizeof(err)) != 0)
                rc = -1;
        }
        if (rc != 0) {
            log_warn("msg=\"local backup: apply failed, will retry\" "
                     "feature=%s reason=\"%s\"",
                     local_features[f], err);
            for (size_t i = 0; i < n; i++)
                if (op_feature(ops[i]->kind) == f &&
                    results[i].outcome != ADAPTER_PERMANENT)
                    result_set(&results[i], ADAPTER_RETRY,
                               rc > 0 ? LOCAL_BUSY_MS : 0, err);
        }
        store_release(&s);
    }
    return 0;
}

/* ---- reads (delta sync, reconcile) ---- */

#define LOCAL_READ_FEATURES                                          \
    (ADAPTER_BIT(ADAPTER_HISTORY) | ADAPTER_BIT(ADAPTER_WATCHLIST) | \
     ADAPTER_BIT(ADAPTER_RATINGS))

/* The store's feature for a read feature, or -1. */
static int
read_feature(enum adapter_feature f)
{
    switch (f) {
    case ADAPTER_HISTORY:
        return LOCAL_HISTORY;
    case ADAPTER_WATCHLIST:
        return LOCAL_WATCHLIST;
    case ADAPTER_RATINGS:
        return LOCAL_RATINGS;
    default:
        return -1;
    }
}

static int64_t
entry_time(struct json_object *o, const char *key)
{
    const char *s;
    int64_t t;

    if (jget_str(o, key, &s) != 0 || wr_time_parse(s, &t) != 0 || t < 0)
        return 0;
    return t;
}

/* One stored entry as a row; entries that do not parse are skipped. */
static void
read_row(enum local_feature lf, struct json_object *o, struct adapter_page *out)
{
    struct json_object *jitem;
    struct adapter_entry e;
    int64_t rating;

    memset(&e, 0, sizeof(e));
    item_init(&e.item);
    e.progress = -1;
    e.position = -1;
    if (!json_object_is_type(o, json_type_object) ||
        jget_obj(o, "item", &jitem) != 0 ||
        item_from_json(&e.item, jitem) != 0 || e.item.type == ITEM_NONE)
        goto skip;
    switch (lf) {
    case LOCAL_HISTORY:
        e.watched_at = entry_time(o, "watched_at");
        break;
    case LOCAL_WATCHLIST:
        e.listed_at = entry_time(o, "listed_at");
        break;
    default:
        if (jget_i64_lenient(o, "rating", &rating) != 0 || rating < 1 ||
            rating > 10)
            goto skip;
        e.rating = (int)rating;
        e.rated_at = entry_time(o, "rated_at");
        break;
    }
    if (out->n == 0 || (out->n & (out->n - 1)) == 0)
        out->rows = xrealloc(out->rows,
                             (out->n ? out->n * 2 : 16) * sizeof(*out->rows));
    out->rows[out->n++] = e;
    return;
skip:
    item_release(&e.item);
}

/* The present snapshot of feature f (CURRENT, past damaged versions) as
 * rows: one per play for history. One page (no cursor). */
static int
local_read_index(void *ctx, enum adapter_feature f, struct adapter_page *out,
                 char *err, size_t errlen)
{
    struct local *l = ctx;
    struct json_object *items = NULL;
    int lf = read_feature(f);

    if (lf < 0) {
        snprintf(err, errlen, "the local backup has no read of %s",
                 adapter_feature_name(f));
        return -1;
    }
    if (local_snapshot_load(l->dir, local_features[lf], 0, &items, err,
                            errlen) != 0)
        return -1;
    for (size_t i = 0; i < json_object_array_length(items); i++)
        read_row((enum local_feature)lf, json_object_array_get_idx(items, i),
                 out);
    json_object_put(items);
    return 0;
}

/* Each feature's checkpoint: its CURRENT version (the newest on disk when
 * CURRENT is missing), 0 when it has none. */
static int
local_read_activities(void *ctx, int64_t checkpoints[ADAPTER_FEATURE_MAX],
                      char *err, size_t errlen)
{
    struct local *l = ctx;

    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++)
        checkpoints[f] = 0;
    for (int f = 0; f < ADAPTER_FEATURE_MAX; f++) {
        int lf = read_feature((enum adapter_feature)f), cur;
        char *fdir;
        int *vers = NULL;
        size_t n = 0;
        int rc;

        if (lf < 0)
            continue;
        fdir = xasprintf("%s/%s", l->dir, local_features[lf]);
        rc = current_read(fdir, &cur);
        if (rc < 0) {
            snprintf(err, errlen, "read %s/CURRENT: %s", fdir, strerror(errno));
            free(fdir);
            return -1;
        }
        if (rc > 0) {
            if (versions_scan(fdir, &vers, &n) != 0) {
                snprintf(err, errlen, "read %s: %s", fdir, strerror(errno));
                free(fdir);
                return -1;
            }
            cur = n > 0 ? vers[n - 1] : 0;
            free(vers);
        }
        checkpoints[f] = cur;
        free(fdir);
    }
    return 0;
}

#define LOCAL_KINDS                                           \
    (OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) |     \
     OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |        \
     OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE) | \
     OP_BIT(OP_PROGRESS_SET))

const struct adapter_ops adapter_local = {
    .name = "local",
    .kinds = LOCAL_KINDS,
    .batch_kinds = LOCAL_KINDS,
    .max_batch = 1000,
    .scrobble_api = false,
    .limits = {0, 0, 0, 0},
    .init = local_init,
    .free = local_free,
    .features = LOCAL_READ_FEATURES,
    .delta_features = 0,
    .has_local_id = false,
    .dated_history = true,
    .history_plays = true,
    .phantom_grace_s = 0,
    .read_index = local_read_index,
    .read_activities = local_read_activities,
    .apply = local_apply,
};

/* ---- backup list and restore ---- */

int
local_backup_list(const char *dir, local_list_cb emit, void *arg, char *err,
                  size_t errlen)
{
    int rc = -1;

    for (int f = 0; f < LOCAL_FEATURE_MAX; f++) {
        const char *feature = local_features[f];
        char *fdir = xasprintf("%s/%s", dir, feature);
        struct snap *snaps = NULL;
        enum snap_status *st = NULL;
        int *vers = NULL;
        size_t n = 0;
        int cur, start, effective = 0;
        bool failed = false;

        if (versions_scan(fdir, &vers, &n) != 0) {
            snprintf(err, errlen, "read %s: %s", fdir, strerror(errno));
            free(fdir);
            goto done;
        }
        if (current_read(fdir, &cur) < 0) {
            snprintf(err, errlen, "read %s/CURRENT: %s", fdir, strerror(errno));
            free(vers);
            free(fdir);
            goto done;
        }
        snaps = xcalloc(n ? n : 1, sizeof(*snaps));
        st = xcalloc(n ? n : 1, sizeof(*st));
        start = cur > 0 ? cur : (n ? vers[n - 1] : 0);
        for (size_t i = 0; i < n; i++) {
            st[i] = snap_read(fdir, feature, vers[i], &snaps[i]);
            json_object_put(snaps[i].doc); /* only the header is kept */
            snaps[i].doc = NULL;
            snaps[i].items = NULL;
            if (st[i] == SNAP_IOERR) {
                snprintf(err, errlen, "%s", snaps[i].why);
                failed = true;
                break;
            }
            if (st[i] == SNAP_VALID && vers[i] <= start)
                effective = vers[i];
        }
        for (size_t i = 0; i < n && !failed; i++) {
            if (st[i] == SNAP_MISSING) /* deleted meanwhile */
                continue;
            emit(feature, vers[i], snaps[i].created_at, snaps[i].count,
                 vers[i] == effective, st[i] == SNAP_VALID, arg);
        }
        free(snaps);
        free(st);
        free(vers);
        free(fdir);
        if (failed)
            goto done;
    }
    rc = 0;
done:
    return rc;
}

int
local_snapshot_load(const char *dir, const char *feature, int version,
                    struct json_object **items_out, char *err, size_t errlen)
{
    struct snap s;
    char *fdir = NULL;
    int *vers = NULL;
    size_t n = 0;
    int rc = -1, used;

    *items_out = NULL;
    if (feature_from_name(feature) < 0) {
        snprintf(err, errlen,
                 "unknown feature %s (history, ratings, watchlist, progress)",
                 feature);
        return -1;
    }
    if (version < 0) {
        snprintf(err, errlen, "invalid version %d", version);
        return -1;
    }
    memset(&s, 0, sizeof(s));
    fdir = xasprintf("%s/%s", dir, feature);
    if (version > 0) {
        switch (snap_read(fdir, feature, version, &s)) {
        case SNAP_VALID:
            break;
        case SNAP_MISSING:
            snprintf(err, errlen, "%s has no version %d", feature, version);
            goto done;
        case SNAP_INVALID:
            snprintf(err, errlen, "%s version %d is damaged: %s", feature,
                     version, s.why);
            goto done;
        case SNAP_IOERR:
            snprintf(err, errlen, "%s", s.why);
            goto done;
        }
    } else {
        if (versions_scan(fdir, &vers, &n) != 0) {
            snprintf(err, errlen, "read %s: %s", fdir, strerror(errno));
            goto done;
        }
        if (snap_resolve(fdir, feature, vers, n, &s, &used, err, errlen) != 0)
            goto done;
    }
    *items_out =
        s.items != NULL ? json_object_get(s.items) : json_object_new_array();
    rc = 0;
done:
    snap_release(&s);
    free(vers);
    free(fdir);
    return rc;
}

int
local_snapshot_restore(const char *dir, const char *feature, int version,
                       bool dry_run, size_t *count_out, int *new_version,
                       char *err, size_t errlen)
{
    struct json_object *items = NULL;
    struct store s;
    size_t n;
    int f = feature_from_name(feature), rc;

    *count_out = 0;
    *new_version = 0;
    if (version <= 0) {
        snprintf(err, errlen, "name a version to restore (see backup list)");
        return -1;
    }
    /* Load (and check) the old version first: a damaged one restores
     * nothing. */
    if (local_snapshot_load(dir, feature, version, &items, err, errlen) != 0)
        return -1;
    n = json_object_array_length(items);
    *count_out = n;
    if (dry_run) {
        json_object_put(items);
        return 0;
    }
    rc = store_open(&s, dir, (enum local_feature)f, err, errlen);
    if (rc != 0) {
        json_object_put(items);
        if (rc > 0)
            snprintf(err, errlen,
                     "%s is busy (the daemon is writing it); "
                     "try again",
                     feature);
        store_release(&s);
        return -1;
    }
    /* The old content becomes the newest version; nothing is rewritten. */
    for (size_t i = 0; i < s.n; i++)
        s.e[i].removed = true;
    for (size_t i = 0; i < n; i++) {
        struct entry e;

        entry_from_json(&e, (enum local_feature)f,
                        json_object_array_get_idx(items, i));
        store_push(&s, &e);
    }
    rc = store_write(&s, err, errlen);
    if (rc == 0)
        *new_version = s.max;
    store_release(&s);
    json_object_put(items);
    return rc;
}
