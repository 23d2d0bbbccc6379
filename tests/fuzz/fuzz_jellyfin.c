/* libFuzzer target: handler_jellyfin over arbitrary bodies. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hook_request req;
    struct event_list out;
    char err[512];
    char *body;

    if (size > 1 << 20)
        return 0;
    /* A private copy, so reads past the end are caught. */
    body = malloc(size ? size : 1);
    if (body == NULL)
        return 0;
    if (size > 0)
        memcpy(body, data, size);
    memset(&req, 0, sizeof(req));
    req.content_type = "text/plain; charset=utf-8";
    req.body = body;
    req.len = size;
    req.now = 1740949200;
    event_list_init(&out);
    if (handler_jellyfin.parse(&req, &out, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < out.n; i++)
            json_object_put(event_to_json(&out.v[i]));
    }
    event_list_release(&out);
    free(body);
    return 0;
}
