#include "fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "util.h"

#define FIXTURE_MAX (8 * 1024 * 1024)

static struct json_object *
load_json(const char *path)
{
    char err[256];
    struct json_object *o;
    size_t len;
    char *s = read_file(path, FIXTURE_MAX, &len);

    if (s == NULL)
        return NULL;
    o = jsonu_parse(s, len, 64, err, sizeof(err));
    if (o == NULL)
        fprintf(stderr, "# fixture %s: %s\n", path, err);
    free(s);
    return o;
}

/* Run the handler; result is {"events":[...]} / {"ignored":r} / {"error":m}.
 */
static struct json_object *
run_case(const struct handler_def *h, const char *dir, const char *name)
{
    char *bpath = xasprintf("%s/%s.body", dir, name);
    char *mpath = xasprintf("%s/%s.meta", dir, name);
    struct json_object *meta = load_json(mpath);
    struct json_object *res = json_object_new_object();
    struct hook_request req;
    struct event_list out;
    char err[512] = "";
    const char *s;
    size_t len = 0;
    char *body = read_file(bpath, FIXTURE_MAX, &len);
    int64_t now = 0;

    memset(&req, 0, sizeof(req));
    event_list_init(&out);
    if (body == NULL) {
        json_object_object_add(res, "error",
                               json_object_new_string("fixture body missing"));
        goto done;
    }
    wr_time_parse("2025-03-02T21:00:00Z", &now);
    if (meta != NULL) {
        if (jget_str(meta, "content_type", &s) == 0)
            req.content_type = s;
        if (jget_str(meta, "user_agent", &s) == 0)
            req.user_agent = s;
        if (jget_str(meta, "now", &s) == 0)
            wr_time_parse(s, &now);
    }
    req.body = body;
    req.len = len;
    req.now = now;
    if (h->parse(&req, &out, err, sizeof(err)) != 0) {
        json_object_object_add(res, "error", json_object_new_string(err));
    } else if (out.n == 0) {
        json_object_object_add(
            res, "ignored",
            json_object_new_string(out.ignored ? out.ignored : ""));
    } else {
        struct json_object *arr = json_object_new_array();

        for (size_t i = 0; i < out.n; i++)
            json_object_array_add(arr, event_to_json(&out.v[i]));
        json_object_object_add(res, "events", arr);
    }
done:
    event_list_release(&out);
    json_object_put(meta);
    free(body);
    free(bpath);
    free(mpath);
    return res;
}

bool
fixture_check(const struct handler_def *h, const char *dir, const char *name)
{
    char *epath = xasprintf("%s/%s.expected", dir, name);
    struct json_object *exp = load_json(epath);
    struct json_object *got = run_case(h, dir, name);
    struct json_object *ev = NULL, *gv = NULL;
    bool ok = false;

    if (exp == NULL) {
        fprintf(stderr, "# %s/%s: no expected file\n", dir, name);
        goto done;
    }
    if (json_object_object_get_ex(exp, "events", &ev)) {
        ok = json_object_object_get_ex(got, "events", &gv) &&
             json_object_equal(ev, gv);
    } else if (json_object_object_get_ex(exp, "ignored", &ev)) {
        ok = json_object_object_get_ex(got, "ignored", &gv) &&
             strstr(json_object_get_string(gv), json_object_get_string(ev)) !=
                 NULL;
    } else if (json_object_object_get_ex(exp, "error", &ev)) {
        ok = json_object_object_get_ex(got, "error", &gv) &&
             strstr(json_object_get_string(gv), json_object_get_string(ev)) !=
                 NULL;
    }
    if (!ok)
        fprintf(stderr, "# %s/%s mismatch\n# expected: %s\n# got:      %s\n",
                dir, name,
                json_object_to_json_string_ext(exp, JSON_C_TO_STRING_PLAIN),
                json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN));
done:
    json_object_put(exp);
    json_object_put(got);
    free(epath);
    return ok;
}

int
fixture_check_dir(const struct handler_def *h, const char *dir, int *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int fails = 0;

    *count = 0;
    if (d == NULL) {
        fprintf(stderr, "# cannot open fixture dir %s\n", dir);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        char *name;

        if (n <= 5 || strcmp(de->d_name + n - 5, ".body") != 0)
            continue;
        name = xstrndup(de->d_name, n - 5);
        (*count)++;
        if (!fixture_check(h, dir, name))
            fails++;
        free(name);
    }
    closedir(d);
    return fails;
}

void
fixture_dump(const struct handler_def *h, const char *dir, const char *name)
{
    struct json_object *got = run_case(h, dir, name);

    printf("%s\n",
           json_object_to_json_string_ext(
               got, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(got);
}
