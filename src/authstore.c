#include "authstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "util.h"

static char *
auth_path(const char *state_dir, const char *provider)
{
    return xasprintf("%s/auth/%s.json", state_dir, provider);
}

int
authstore_load(const char *state_dir, const char *provider,
               struct adapter_tokens *out, char *err, size_t errlen)
{
    char *path = auth_path(state_dir, provider);
    struct json_object *o = NULL;
    const char *s;
    size_t len;
    char *data = read_file(path, 65536, &len);
    int64_t v;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (data == NULL) {
        if (errno == ENOENT) {
            rc = 1;
        } else {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        }
        goto done;
    }
    o = jsonu_parse(data, len, 4, err, errlen);
    if (o == NULL)
        goto done;
    if (jget_str(o, "access_token", &s) == 0 && *s)
        out->access_token = xstrdup(s);
    if (jget_str(o, "refresh_token", &s) == 0 && *s)
        out->refresh_token = xstrdup(s);
    if (jget_i64(o, "expires_at", &v) == 0)
        out->expires_at = v;
    rc = 0;
done:
    if (data != NULL) {
        explicit_bzero(data, len);
        free(data);
    }
    json_object_put(o);
    free(path);
    return rc;
}

int
authstore_save(const char *state_dir, const char *provider,
               const struct adapter_tokens *t, char *err, size_t errlen)
{
    char *dir = xasprintf("%s/auth", state_dir);
    char *path = auth_path(state_dir, provider);
    struct json_object *o = json_object_new_object();
    const char *s;
    size_t len;
    int rc = -1;

    if (mkdir_p(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto done;
    }
    if (t->access_token)
        json_object_object_add(o, "access_token",
                               json_object_new_string(t->access_token));
    if (t->refresh_token)
        json_object_object_add(o, "refresh_token",
                               json_object_new_string(t->refresh_token));
    if (t->expires_at)
        json_object_object_add(o, "expires_at",
                               json_object_new_int64(t->expires_at));
    s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY, &len);
    if (write_file_atomic(path, s, len, 0600) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    json_object_put(o);
    free(dir);
    free(path);
    return rc;
}
