/* Unit tests for metrics.c: counters, the histogram and the text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "metrics.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

static void
test_render(void **state)
{
    struct metrics *m = metrics_new();
    struct metrics_gauges g = {.spool_depth = 7,
                               .spool_bytes = 700,
                               .redis_up = 1,
                               .stream_len = 42,
                               .inflight = 2,
                               .uptime_s = 5};
    struct buf b;

    (void)state;
    buf_init(&b);
    metrics_request(m, CONFIG_SOURCE_PLEX, METRICS_OK, 0.0004);
    metrics_request(m, CONFIG_SOURCE_PLEX, METRICS_OK, 0.003);
    metrics_request(m, CONFIG_SOURCE_EMBY, METRICS_BAD_REQUEST, 10.0);
    metrics_request(m, -1, METRICS_NOT_FOUND, 0.001);
    metrics_add(m, METRICS_EVENTS_QUEUED, CONFIG_SOURCE_PLEX, 3);
    metrics_add(m, METRICS_EVENTS_QUEUED, CONFIG_SOURCE_JELLYFIN, 2);
    metrics_add(m, METRICS_EVENTS_DRAINED, -1, 4);
    assert_int_equal(metrics_get(m, METRICS_EVENTS_QUEUED), 5);
    assert_int_equal(metrics_get(m, METRICS_EVENTS_DRAINED), 4);
    metrics_render(m, &g, &b);
    assert_non_null(strstr(
        b.data,
        "watchrelay_requests_total{source=\"plex\",outcome=\"ok\"} 2\n"));
    assert_non_null(strstr(b.data, "watchrelay_requests_total{source=\"emby\","
                                   "outcome=\"bad_request\"} 1\n"));
    assert_non_null(strstr(b.data, "watchrelay_requests_total{source=\"other\","
                                   "outcome=\"not_found\"} 1\n"));
    assert_non_null(
        strstr(b.data, "watchrelay_events_queued_total{source=\"plex\"} 3\n"));
    assert_non_null(strstr(
        b.data, "watchrelay_events_drained_total{source=\"other\"} 4\n"));
    /* 0.0004 is in the first bucket, 0.003 in le=0.005, 10 only in +Inf. */
    assert_non_null(strstr(
        b.data,
        "watchrelay_request_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(
        strstr(b.data,
               "watchrelay_request_duration_seconds_bucket{le=\"0.005\"} 3\n"));
    assert_non_null(strstr(
        b.data, "watchrelay_request_duration_seconds_bucket{le=\"5\"} 3\n"));
    assert_non_null(strstr(
        b.data, "watchrelay_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(
        strstr(b.data, "watchrelay_request_duration_seconds_count 4\n"));
    assert_non_null(strstr(b.data, "watchrelay_spool_depth 7\n"));
    assert_non_null(strstr(b.data, "watchrelay_redis_up 1\n"));
    assert_non_null(strstr(b.data, "watchrelay_events_stream_length 42\n"));
    /* Every non-comment line names a watchrelay_ metric. */
    for (char *line = b.data; line && *line;) {
        char *nl = strchr(line, '\n');

        if (line[0] != '#')
            assert_true(strncmp(line, "watchrelay_", 11) == 0);
        line = nl ? nl + 1 : NULL;
    }
    buf_release(&b);
    metrics_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
