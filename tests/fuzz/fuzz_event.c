/*
 * fuzz_event: schema-v1 stream-entry decoding. Bytes are parsed as JSON and
 * decoded with event_from_json (each element when the document is a fixture's
 * {"events": [...]}, the seed corpus). Anything accepted is written back with
 * event_to_json and decoded again: the second decode must succeed and give
 * the same JSON text (to_json(from_json(x)) is a fixed point).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jsonu.h"
#include "util.h"

#define FUZZ_EVENTS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_one(struct json_object *in)
{
    struct json_object *out1 = NULL, *in2 = NULL, *out2 = NULL;
    struct event ev, ev2;
    char err[256];
    char *s1 = NULL;
    size_t len1;

    event_init(&ev2);
    if (event_from_json(&ev, in, err, sizeof(err)) != 0)
        goto done;
    out1 = event_to_json(&ev);
    s1 = xstrdup(jsonu_str(out1, &len1));
    in2 = jsonu_parse(s1, len1, JSONU_DEPTH, err, sizeof(err));
    if (in2 == NULL)
        abort(); /* we wrote JSON we cannot read */
    if (event_from_json(&ev2, in2, err, sizeof(err)) != 0)
        abort(); /* we wrote an event we reject */
    out2 = event_to_json(&ev2);
    if (strcmp(s1, jsonu_str(out2, NULL)) != 0)
        abort(); /* the round trip is not stable */
    /* finishing a decoded event must be safe too */
    event_finish(&ev2);
done:
    json_object_put(out2);
    json_object_put(in2);
    free(s1);
    json_object_put(out1);
    event_release(&ev2);
    event_release(&ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *in, *events;
    char err[256];

    if (size > 1 << 20)
        return 0;
    in = jsonu_parse((const char *)data, size, JSONU_DEPTH, err, sizeof(err));
    if (in == NULL)
        return 0;
    if (jget_arr(in, "events", &events) == 0) {
        size_t n = json_object_array_length(events);

        for (size_t i = 0; i < n && i < FUZZ_EVENTS_MAX; i++)
            check_one(json_object_array_get_idx(events, i));
    } else {
        check_one(in);
    }
    json_object_put(in);
    return 0;
}
