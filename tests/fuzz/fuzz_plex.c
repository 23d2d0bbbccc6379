/* fuzz_plex: handler_plex.parse over arbitrary bytes. A first byte below
 * FUZZ_NTYPES selects the Content-Type and the rest is the body; any other
 * first byte keeps the whole input as the body and picks the type from it
 * ('-' multipart with the fixtures' boundary, '{' JSON, 'd' form data, else
 * none), so raw fixture bodies are useful seeds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "handler.h"

#define FUZZ_BOUNDARY  "------------------------d74496d66958873e"
#define FUZZ_MULTIPART "multipart/form-data; boundary=" FUZZ_BOUNDARY

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_types[] = {
    FUZZ_MULTIPART, "application/json",    "application/x-www-form-urlencoded",
    NULL,           "multipart/form-data", "text/plain",
};
#define FUZZ_NTYPES (sizeof(fuzz_types) / sizeof(fuzz_types[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hook_request req = {0};
    struct event_list out;
    char err[256];
    int rc;

    if (size > 1 << 20 || size == 0)
        return 0;
    if (data[0] < FUZZ_NTYPES) {
        req.content_type = fuzz_types[data[0]];
        data++;
        size--;
    } else if (data[0] == '-') {
        req.content_type = FUZZ_MULTIPART;
    } else if (data[0] == '{') {
        req.content_type = "application/json";
    } else if (data[0] == 'd') {
        req.content_type = "application/x-www-form-urlencoded";
    }
    req.user_agent = "PlexMediaServer/1.41.3.9314-a0bfb8370";
    req.body = (const char *)data;
    req.len = size;
    req.now = 1740949200;
    event_list_init(&out);
    rc = handler_plex.parse(&req, &out, err, sizeof(err));
    if (rc != 0 && out.n != 0)
        abort(); /* an error queues nothing */
    for (size_t i = 0; i < out.n; i++)
        json_object_put(event_to_json(&out.v[i]));
    event_list_release(&out);
    return 0;
}
