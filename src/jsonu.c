#include "jsonu.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

struct json_object *
jsonu_parse(const char *buf, size_t len, int depth, char *err, size_t errlen)
{
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    enum json_tokener_error jerr;
    size_t end;

    if (len > (size_t)INT32_MAX) {
        snprintf(err, errlen, "JSON document too large");
        return NULL;
    }
    tok = json_tokener_new_ex(depth);
    if (tok == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    jerr = json_tokener_get_error(tok);
    if (obj == NULL) {
        if (jerr == json_tokener_continue || jerr == json_tokener_success)
            snprintf(err, errlen, "invalid JSON: truncated document");
        else
            snprintf(err, errlen, "invalid JSON: %s at offset %zu",
                     json_tokener_error_desc(jerr),
                     json_tokener_get_parse_end(tok));
        json_tokener_free(tok);
        return NULL;
    }
    end = json_tokener_get_parse_end(tok);
    for (; end < len; end++) {
        char c = buf[end];

        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            snprintf(err, errlen, "invalid JSON: trailing bytes at offset %zu",
                     end);
            json_object_put(obj);
            json_tokener_free(tok);
            return NULL;
        }
    }
    json_tokener_free(tok);
    return obj;
}

static struct json_object *
field(struct json_object *o, const char *key, enum json_type t)
{
    struct json_object *v = NULL;

    if (o == NULL || !json_object_is_type(o, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return NULL;
    if (!json_object_is_type(v, t))
        return NULL;
    return v;
}

int
jget_str(struct json_object *o, const char *key, const char **out)
{
    struct json_object *v = field(o, key, json_type_string);

    if (v == NULL)
        return -1;
    *out = json_object_get_string(v);
    return 0;
}

int
jget_obj(struct json_object *o, const char *key, struct json_object **out)
{
    struct json_object *v = field(o, key, json_type_object);

    if (v == NULL)
        return -1;
    *out = v;
    return 0;
}

int
jget_arr(struct json_object *o, const char *key, struct json_object **out)
{
    struct json_object *v = field(o, key, json_type_array);

    if (v == NULL)
        return -1;
    *out = v;
    return 0;
}

int
jget_bool(struct json_object *o, const char *key, bool *out)
{
    struct json_object *v = field(o, key, json_type_boolean);

    if (v == NULL)
        return -1;
    *out = json_object_get_boolean(v);
    return 0;
}

int
jget_i64(struct json_object *o, const char *key, int64_t *out)
{
    struct json_object *v = field(o, key, json_type_int);
    double d;

    if (v != NULL) {
        *out = json_object_get_int64(v);
        return 0;
    }
    v = field(o, key, json_type_double);
    if (v == NULL)
        return -1;
    d = json_object_get_double(v);
    if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18)
        return -1;
    *out = (int64_t)d;
    return 0;
}

int
jget_num(struct json_object *o, const char *key, double *out)
{
    struct json_object *v = field(o, key, json_type_int);

    if (v == NULL)
        v = field(o, key, json_type_double);
    if (v == NULL)
        return -1;
    *out = json_object_get_double(v);
    return isfinite(*out) ? 0 : -1;
}

int
jget_i64_lenient(struct json_object *o, const char *key, int64_t *out)
{
    const char *s;

    if (jget_i64(o, key, out) == 0)
        return 0;
    if (jget_str(o, key, &s) != 0)
        return -1;
    while (*s == ' ')
        s++;
    return parse_i64(s, INT64_MIN, INT64_MAX, out);
}

int
jget_bool_lenient(struct json_object *o, const char *key, bool *out)
{
    const char *s;

    if (jget_bool(o, key, out) == 0)
        return 0;
    if (jget_str(o, key, &s) != 0)
        return -1;
    if (str_ieq(s, "true")) {
        *out = true;
        return 0;
    }
    if (str_ieq(s, "false")) {
        *out = false;
        return 0;
    }
    return -1;
}

const char *
jsonu_str(struct json_object *o, size_t *len)
{
    return json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

char *
jsonu_dup_str(struct json_object *o, const char *key, size_t cap)
{
    const char *s;
    size_t n;

    if (o == NULL || jget_str(o, key, &s) != 0 || *s == '\0')
        return NULL;
    n = strlen(s);
    if (n > cap) {
        n = cap;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return xstrndup(s, n);
}

char *
jsonu_dup_id(struct json_object *o, const char *key, size_t cap)
{
    int64_t v;

    if (o == NULL)
        return NULL;
    if (jget_i64(o, key, &v) == 0)
        return xasprintf("%" PRId64, v);
    return jsonu_dup_str(o, key, cap);
}
