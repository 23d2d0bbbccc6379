#include "op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "util.h"

static const char *const kind_names[OP_KIND_MAX] = {
    [OP_SCROBBLE_START] = "scrobble_start",
    [OP_SCROBBLE_PAUSE] = "scrobble_pause",
    [OP_SCROBBLE_STOP] = "scrobble_stop",
    [OP_HISTORY_ADD] = "history_add",
    [OP_HISTORY_REMOVE] = "history_remove",
    [OP_RATING_SET] = "rating_set",
    [OP_RATING_CLEAR] = "rating_clear",
    [OP_WATCHLIST_ADD] = "watchlist_add",
    [OP_WATCHLIST_REMOVE] = "watchlist_remove",
    [OP_PROGRESS_SET] = "progress_set",
    [OP_PLAYLIST_CREATE] = "playlist_create",
    [OP_PLAYLIST_ADD] = "playlist_add",
    [OP_PLAYLIST_REMOVE] = "playlist_remove",
    [OP_PLAYLIST_REORDER] = "playlist_reorder",
};

const char *
op_kind_name(enum op_kind k)
{
    return k < OP_KIND_MAX ? kind_names[k] : "unknown";
}

int
op_kind_from_name(const char *name)
{
    for (int i = 0; i < OP_KIND_MAX; i++)
        if (strcmp(kind_names[i], name) == 0)
            return i;
    return -1;
}

void
op_init(struct op *op)
{
    memset(op, 0, sizeof(*op));
    item_init(&op->item);
    op->progress = -1;
    op->position_ms = -1;
    op->duration_ms = -1;
}

void
op_release(struct op *op)
{
    if (op == NULL)
        return;
    free(op->target);
    free(op->event_id);
    free(op->user);
    free(op->session);
    free(op->key);
    free(op->pair);
    item_release(&op->item);
    op_init(op);
}

/* Append one identity field; '|' and '\' are escaped so fields can't run
 * into each other. */
static void
id_field(struct buf *b, const char *s)
{
    buf_append(b, "|", 1);
    for (; s != NULL && *s; s++) {
        if (*s == '|' || *s == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
}

void
op_finish(struct op *op)
{
    unsigned char md[32];
    struct buf b;
    char num[64];

    if (op->key == NULL)
        op->key = item_key(&op->item);
    buf_init(&b);
    buf_puts(&b, "op1");
    id_field(&b, op->target);
    id_field(&b, op_kind_name(op->kind));
    id_field(&b, op->session);
    snprintf(num, sizeof(num), "%d", op->generation);
    id_field(&b, num);
    id_field(&b, op->key);
    id_field(&b, op->event_id);
    snprintf(num, sizeof(num), "%lld", (long long)op->watched_at);
    id_field(&b, num);
    snprintf(num, sizeof(num), "%d", op->rating);
    id_field(&b, num);
    id_field(&b, op->pair);
    sha256(b.data, b.len, md);
    hex_encode(md, 16, op->id);
    buf_release(&b);
}

static void
add_str(struct json_object *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_object_add(o, k, json_object_new_string(v));
}

static void
add_time(struct json_object *o, const char *k, int64_t t)
{
    char buf[WR_TIME_BUF];

    if (t == 0)
        return;
    wr_time_format(t, buf);
    json_object_object_add(o, k, json_object_new_string(buf));
}

struct json_object *
op_to_json(const struct op *op)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "v", json_object_new_int(1));
    add_str(o, "id", op->id);
    add_str(o, "op", op_kind_name(op->kind));
    add_str(o, "target", op->target);
    add_str(o, "event", op->event_id);
    add_str(o, "user", op->user);
    add_str(o, "session", op->session);
    if (op->generation > 0)
        json_object_object_add(o, "generation",
                               json_object_new_int(op->generation));
    add_time(o, "created_at", op->created_at);
    json_object_object_add(o, "item", item_to_json(&op->item));
    add_str(o, "key", op->key);
    if (op->progress >= 0) {
        double p = round(op->progress * 100) / 100;

        json_object_object_add(o, "progress",
                               p == floor(p) ? json_object_new_int64((int64_t)p)
                                             : json_object_new_double(p));
    }
    if (op->position_ms >= 0)
        json_object_object_add(o, "position_ms",
                               json_object_new_int64(op->position_ms));
    if (op->duration_ms >= 0)
        json_object_object_add(o, "duration_ms",
                               json_object_new_int64(op->duration_ms));
    if (op->rating > 0)
        json_object_object_add(o, "rating", json_object_new_int(op->rating));
    add_time(o, "watched_at", op->watched_at);
    add_time(o, "rated_at", op->rated_at);
    add_str(o, "pair", op->pair);
    if (op->attempts > 0)
        json_object_object_add(o, "attempts",
                               json_object_new_int(op->attempts));
    return o;
}

static int
get_opt_str(struct json_object *o, const char *k, char **out)
{
    struct json_object *v;
    const char *s;

    if (!json_object_object_get_ex(o, k, &v) || v == NULL)
        return 0;
    if (jget_str(o, k, &s) != 0)
        return -1;
    *out = xstrdup(s);
    return 0;
}

static int
get_opt_time(struct json_object *o, const char *k, int64_t *out)
{
    struct json_object *v;
    const char *s;

    if (!json_object_object_get_ex(o, k, &v) || v == NULL)
        return 0;
    if (jget_str(o, k, &s) != 0 || wr_time_parse(s, out) != 0)
        return -1;
    return 0;
}

int
op_from_json(struct op *op, struct json_object *obj, char *err, size_t errlen)
{
    struct json_object *item;
    const char *s;
    int64_t v;
    double d;
    int k;

    op_init(op);
    if (!json_object_is_type(obj, json_type_object) ||
        jget_i64(obj, "v", &v) != 0 || v != 1) {
        snprintf(err, errlen, "not a version 1 operation");
        return -1;
    }
    if (jget_str(obj, "id", &s) != 0 || strlen(s) != 32) {
        snprintf(err, errlen, "operation without a valid id");
        return -1;
    }
    memcpy(op->id, s, 33);
    if (jget_str(obj, "op", &s) != 0 || (k = op_kind_from_name(s)) < 0) {
        snprintf(err, errlen, "unknown operation kind");
        return -1;
    }
    op->kind = (enum op_kind)k;
    if (get_opt_str(obj, "target", &op->target) != 0 ||
        get_opt_str(obj, "event", &op->event_id) != 0 ||
        get_opt_str(obj, "user", &op->user) != 0 ||
        get_opt_str(obj, "session", &op->session) != 0 ||
        get_opt_str(obj, "key", &op->key) != 0 ||
        get_opt_str(obj, "pair", &op->pair) != 0 ||
        get_opt_time(obj, "created_at", &op->created_at) != 0 ||
        get_opt_time(obj, "watched_at", &op->watched_at) != 0 ||
        get_opt_time(obj, "rated_at", &op->rated_at) != 0) {
        snprintf(err, errlen, "operation with a mistyped field");
        return -1;
    }
    if (jget_obj(obj, "item", &item) != 0 ||
        item_from_json(&op->item, item) != 0) {
        snprintf(err, errlen, "operation without a valid item");
        return -1;
    }
    if (jget_i64(obj, "generation", &v) == 0 && v > 0 && v < 1000000)
        op->generation = (int)v;
    if (jget_num(obj, "progress", &d) == 0 && d >= 0 && d <= 100)
        op->progress = d;
    if (jget_i64(obj, "position_ms", &v) == 0 && v >= 0)
        op->position_ms = v;
    if (jget_i64(obj, "duration_ms", &v) == 0 && v >= 0)
        op->duration_ms = v;
    if (jget_i64(obj, "rating", &v) == 0 && v >= 1 && v <= 10)
        op->rating = (int)v;
    if (jget_i64(obj, "attempts", &v) == 0 && v >= 0 && v < 1000000)
        op->attempts = (int)v;
    if (op->key == NULL)
        op->key = item_key(&op->item);
    return 0;
}
