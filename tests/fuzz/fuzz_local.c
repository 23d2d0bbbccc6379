/*
 * fuzz_local: the local backup tracker reading a snapshot it finds on disk
 * (SYNC.md 9, adapters/local.h). The input is written as
 * <dir>/<feature>/v000001.json with CURRENT "1", the feature being the
 * document's own "feature" when it names one (else history); then
 * local_snapshot_load (present state and version 1), local_backup_list, an
 * apply of two operations of that feature through adapter_local and
 * local_snapshot_restore of version 1 run on it. When the input is an object
 * with an "items" array it is run a second time with a correct header and
 * checksum, so the entries themselves get read. Invariants: the readers agree
 * on whether the snapshot is valid, and whatever the apply or the restore
 * writes reads back as the valid present version.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "jsonu.h"
#include "local.h"
#include "log.h"
#include "op.h"
#include "util.h"

#define FUZZ_T0    1740948430 /* 2025-03-02T20:47:10Z */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

/* What local_backup_list reported for the feature under test. */
struct fuzz_list {
    const char *feature;
    bool v1_seen, v1_valid, v1_current;
    int newest;  /* highest version seen */
    int current; /* the version marked current; 0 none */
    bool broken; /* a version above 1 (written here) that is invalid */
};

static void
fuzz_write(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *c = p;

    if (fd < 0)
        abort();
    while (len > 0) {
        ssize_t w = write(fd, c, len);

        if (w <= 0)
            abort();
        c += w;
        len -= (size_t)w;
    }
    close(fd);
}

/* Empty every feature directory (they stay for the next input). */
static void
fuzz_clean(void)
{
    for (size_t f = 0; local_features[f] != NULL; f++) {
        char *fdir = xasprintf("%s/%s", fuzz_dir, local_features[f]);
        DIR *d = opendir(fdir);
        struct dirent *de;

        while (d != NULL && (de = readdir(d)) != NULL) {
            char *p;

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            p = xasprintf("%s/%s", fdir, de->d_name);
            unlink(p);
            free(p);
        }
        if (d != NULL)
            closedir(d);
        free(fdir);
    }
}

static void
fuzz_remove_dir(void)
{
    fuzz_clean();
    for (size_t f = 0; local_features[f] != NULL; f++) {
        char *fdir = xasprintf("%s/%s", fuzz_dir, local_features[f]);

        rmdir(fdir);
        free(fdir);
    }
    rmdir(fuzz_dir);
}

static void
fuzz_setup(void)
{
    struct stat st;

    if (fuzz_dir[0] != '\0')
        return;
    /* tmpfs when there is one: the tracker fsyncs every write. */
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/wr-fuzz-local-XXXXXX",
             stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
                     access("/dev/shm", W_OK) == 0
                 ? "/dev/shm"
                 : "/tmp");
    if (mkdtemp(fuzz_dir) == NULL)
        abort();
    log_set_level(LOG_LEVEL_ERROR);
    atexit(fuzz_remove_dir);
}

static void
list_cb(const char *feature, int version, int64_t created_at, size_t count,
        bool current, bool valid, void *arg)
{
    struct fuzz_list *l = arg;

    (void)created_at;
    (void)count;
    if (feature == NULL || version < 1 || (current && !valid))
        abort();
    if (strcmp(feature, l->feature) != 0)
        abort(); /* only the feature under test has files */
    if (version > l->newest)
        l->newest = version;
    if (current)
        l->current = version;
    if (version == 1) {
        l->v1_seen = true;
        l->v1_valid = valid;
        l->v1_current = current;
    } else if (!valid) {
        l->broken = true;
    }
}

static void
make_op(struct op *op, enum op_kind kind, bool episode)
{
    op_init(op);
    op->kind = kind;
    op->target = xstrdup("local");
    if (episode) {
        op->item.type = ITEM_EPISODE;
        op->item.show_title = xstrdup("Severance");
        op->item.season = 1;
        op->item.episode = 1;
        item_ids_set_named(&op->item.show_ids, "tvdb", "371980");
    } else {
        op->item.type = ITEM_MOVIE;
        op->item.title = xstrdup("Arrival");
        op->item.year = 2016;
        item_ids_set_named(&op->item.ids, "tmdb", "329865");
        item_ids_set_named(&op->item.ids, "imdb", "tt2543164");
    }
    op->created_at = FUZZ_T0;
    op->watched_at = kind == OP_HISTORY_ADD ? FUZZ_T0 : 0;
    op->rating = 8;
    op->rated_at = FUZZ_T0;
    op->progress = 41.5;
    op->position_ms = 2000000;
    op->duration_ms = 6960000;
    op_finish(op);
}

/* An add (or set) of one item and a removal of another, in feature. */
static void
run_apply(const char *feature)
{
    struct provider_conf conf = {0};
    struct adapter_result res[2];
    struct op ops[2];
    const struct op *ptrs[2] = {&ops[0], &ops[1]};
    enum op_kind add = OP_HISTORY_ADD, del = OP_HISTORY_REMOVE;
    char err[256] = "";
    void *ctx;

    if (strcmp(feature, "ratings") == 0) {
        add = OP_RATING_SET;
        del = OP_RATING_CLEAR;
    } else if (strcmp(feature, "watchlist") == 0) {
        add = OP_WATCHLIST_ADD;
        del = OP_WATCHLIST_REMOVE;
    } else if (strcmp(feature, "progress") == 0) {
        add = del = OP_PROGRESS_SET;
    }
    conf.present = true;
    conf.dir = fuzz_dir;
    conf.write_interval_ms = -1;
    ctx = adapter_local.init(&conf, NULL, NULL, err, sizeof(err));
    if (ctx == NULL)
        abort();
    make_op(&ops[0], add, false);
    make_op(&ops[1], del, true);
    memset(res, 0x5a, sizeof(res));
    if (adapter_local.apply(ctx, ptrs, 2, res) != 0)
        abort();
    for (size_t i = 0; i < 2; i++) {
        if (res[i].outcome >= ADAPTER_OUTCOME_MAX ||
            res[i].outcome == ADAPTER_RETRY ||
            memchr(res[i].reason, '\0', sizeof(res[i].reason)) == NULL)
            abort(); /* no I/O failure in a private directory */
        op_release(&ops[i]);
    }
    adapter_local.free(ctx);
}

/* Every version written here must be valid, and the newest current. */
static void
check_versions(const char *feature)
{
    struct fuzz_list l = {.feature = feature};
    char err[256] = "";

    if (local_backup_list(fuzz_dir, list_cb, &l, err, sizeof(err)) != 0 ||
        l.broken || (l.newest > 1 && l.current != l.newest))
        abort();
}

/* The present state's item count; -1 when it cannot be read. */
static int64_t
present_count(const char *feature)
{
    struct json_object *items = NULL;
    char err[256] = "";
    int64_t n = -1;

    if (local_snapshot_load(fuzz_dir, feature, 0, &items, err, sizeof(err)) ==
            0 &&
        json_object_is_type(items, json_type_array))
        n = (int64_t)json_object_array_length(items);
    json_object_put(items);
    return n;
}

/* The readers on what is in <dir>/<feature> now: v000001.json. */
static void
run_readers(const char *feature)
{
    struct json_object *items1 = NULL;
    struct fuzz_list l = {.feature = feature};
    char err[256] = "";
    size_t count;
    int64_t n1 = -1;
    int rc1, newv;

    rc1 = local_snapshot_load(fuzz_dir, feature, 1, &items1, err, sizeof(err));
    if (rc1 != 0 && (items1 != NULL || err[0] == '\0'))
        abort();
    if (rc1 == 0) {
        if (!json_object_is_type(items1, json_type_array))
            abort();
        n1 = (int64_t)json_object_array_length(items1);
    }
    json_object_put(items1);
    /* The present state falls back to empty but is always there; a valid
     * CURRENT is the present state. */
    if (present_count(feature) != (rc1 == 0 ? n1 : 0))
        abort();
    if (local_backup_list(fuzz_dir, list_cb, &l, err, sizeof(err)) != 0)
        abort();
    if (!l.v1_seen || l.v1_valid != (rc1 == 0) || l.v1_current != l.v1_valid)
        abort();

    /* What the apply writes must be the valid present version. */
    run_apply(feature);
    check_versions(feature);
    if (present_count(feature) < 0)
        abort();

    /* Restoring version 1 works exactly when it is valid, and makes its
     * content the present state. */
    if (local_snapshot_restore(fuzz_dir, feature, 1, true, &count, &newv, err,
                               sizeof(err)) != (rc1 == 0 ? 0 : -1) ||
        (rc1 == 0 && ((int64_t)count != n1 || newv != 0)))
        abort();
    if (local_snapshot_restore(fuzz_dir, feature, 1, false, &count, &newv, err,
                               sizeof(err)) != (rc1 == 0 ? 0 : -1))
        abort();
    if (rc1 == 0 &&
        ((int64_t)count != n1 || newv <= 1 || present_count(feature) != n1))
        abort();
    check_versions(feature);
}

static void
run_one(const char *feature, const char *doc, size_t len)
{
    char *fdir = xasprintf("%s/%s", fuzz_dir, feature);
    char *path = xasprintf("%s/v000001.json", fdir);
    char *cur = xasprintf("%s/CURRENT", fdir);

    fuzz_clean();
    if (mkdir_p(fdir, 0700) != 0)
        abort();
    fuzz_write(path, doc, len);
    fuzz_write(cur, "1\n", 2);
    run_readers(feature);
    fuzz_clean();
    free(cur);
    free(path);
    free(fdir);
}

/* The document with a header that matches its items. Owned. */
static char *
fixed_doc(struct json_object *doc, const char *feature, size_t *len)
{
    struct json_object *items;
    unsigned char md[32];
    char hex[65];
    const char *txt;
    size_t n;

    if (jget_arr(doc, "items", &items) != 0)
        return NULL;
    txt = json_object_to_json_string_length(items, JSON_FLAGS, &n);
    sha256(txt, n, md);
    hex_encode(md, 32, hex);
    json_object_object_add(doc, "format", json_object_new_string(LOCAL_FORMAT));
    json_object_object_add(doc, "feature", json_object_new_string(feature));
    json_object_object_add(doc, "version", json_object_new_int(1));
    json_object_object_add(
        doc, "count",
        json_object_new_int64((int64_t)json_object_array_length(items)));
    json_object_object_add(doc, "sha256", json_object_new_string(hex));
    txt = json_object_to_json_string_length(doc, JSON_FLAGS, len);
    return xstrndup(txt, *len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *doc;
    const char *feature = "history", *s;
    char err[256];
    char *fixed = NULL;
    size_t len = 0;

    if (size > 1 << 20)
        return 0;
    fuzz_setup();
    doc = jsonu_parse((const char *)data, size, JSONU_DEPTH, err, sizeof(err));
    if (doc != NULL && json_object_is_type(doc, json_type_object) &&
        jget_str(doc, "feature", &s) == 0) {
        for (size_t f = 0; local_features[f] != NULL; f++)
            if (strcmp(s, local_features[f]) == 0)
                feature = local_features[f];
    }
    run_one(feature, (const char *)data, size);
    if (doc != NULL && json_object_is_type(doc, json_type_object))
        fixed = fixed_doc(doc, feature, &len);
    if (fixed != NULL)
        run_one(feature, fixed, len);
    free(fixed);
    json_object_put(doc);
    return 0;
}
