/*
 * jsonu: strict, bounded json-c parsing and typed getters that refuse a
 * missing or mistyped field instead of coercing it.
 */
#ifndef WR_JSONU_H
#define WR_JSONU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define JSONU_DEPTH 16

/*
 * Parse len bytes as one JSON value (strict; trailing whitespace allowed;
 * UTF-8 validated). Owned result (json_object_put) or NULL with a message in
 * err.
 */
struct json_object *jsonu_parse(const char *buf, size_t len, int depth,
                                char *err, size_t errlen);

/* Borrowed results; -1 when missing or of another type. */
int jget_str(struct json_object *o, const char *key, const char **out);
int jget_obj(struct json_object *o, const char *key, struct json_object **out);
int jget_arr(struct json_object *o, const char *key, struct json_object **out);
int jget_bool(struct json_object *o, const char *key, bool *out);
/* An integer, or a double with an integral value. */
int jget_i64(struct json_object *o, const char *key, int64_t *out);
/* A number (int or double). */
int jget_num(struct json_object *o, const char *key, double *out);
/*
 * Lenient readers for sources that send numbers as strings (Tautulli) or as
 * either: a JSON number or a string holding a whole decimal number.
 */
int jget_i64_lenient(struct json_object *o, const char *key, int64_t *out);
/* "true"/"false" (any case) strings or JSON booleans. */
int jget_bool_lenient(struct json_object *o, const char *key, bool *out);

/*
 * Owned copies of members for payloads we do not trust: a non-empty string
 * cut to at most cap bytes on a UTF-8 boundary (NULL when absent, empty or
 * not a string); jsonu_dup_id also takes an integer member as its decimal
 * text (Plex ids come as either).
 */
char *jsonu_dup_str(struct json_object *o, const char *key, size_t cap);
char *jsonu_dup_id(struct json_object *o, const char *key, size_t cap);

/* Serialize plainly (no slash escaping); borrowed until o changes. */
const char *jsonu_str(struct json_object *o, size_t *len);

#endif
