/* Unit tests for queue.c's Redis URL parsing (the I/O is covered by the
 * integration tests against a real redis-server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "queue.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

struct url_case {
    const char *url;
    int ok;
    const char *host;
    int port;
    int db;
    bool is_unix;
    const char *err_has;
};

static const struct url_case cases[] = {
    {"redis://127.0.0.1:6379", 0, "127.0.0.1", 6379, 0, false, NULL},
    {"redis://127.0.0.1:6380/3", 0, "127.0.0.1", 6380, 3, false, NULL},
    {"redis://::1:6379", 0, "::1", 6379, 0, false, NULL},
    {"unix:/run/redis/redis.sock", 0, "/run/redis/redis.sock", 0, 0, true,
     NULL},
    {"unix:///tmp/r.sock", 0, "/tmp/r.sock", 0, 0, true, NULL},
    {"unix:relative.sock", -1, NULL, 0, 0, false, "absolute"},
    {"redis://127.0.0.1", -1, NULL, 0, 0, false, "port"},
    {"redis://127.0.0.1:0", -1, NULL, 0, 0, false, "port"},
    {"redis://127.0.0.1:70000", -1, NULL, 0, 0, false, "port"},
    {"redis://127.0.0.1:6379/x", -1, NULL, 0, 0, false, "database"},
    {"redis://:secret@127.0.0.1:6379", -1, NULL, 0, 0, false, "password"},
    {"redis://:6379", -1, NULL, 0, 0, false, "host"},
    {"http://127.0.0.1:6379", -1, NULL, 0, 0, false, "expected"},
    {"", -1, NULL, 0, 0, false, "expected"},
};

static void
test_parse_url(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct url_case *c = &cases[i];
        char host[256] = "", err[256] = "";
        int port = -1, db = -1;
        bool is_unix = false;
        int rc = queue_parse_url(c->url, host, sizeof(host), &port, &db,
                                 &is_unix, err, sizeof(err));

        assert_int_equal(rc, c->ok);
        if (rc == 0) {
            assert_string_equal(host, c->host);
            assert_int_equal(port, c->port);
            assert_int_equal(db, c->db);
            assert_int_equal(is_unix, c->is_unix);
        } else {
            assert_non_null(strstr(err, c->err_has));
        }
    }
}

static void
test_state_names(void **state)
{
    (void)state;
    assert_string_equal(queue_state_name(QUEUE_UP), "up");
    assert_string_equal(queue_state_name(QUEUE_DOWN), "down");
    assert_string_equal(queue_state_name(QUEUE_CONNECTING), "connecting");
    assert_string_equal(queue_state_name(QUEUE_STATE_MAX), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_state_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
