#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define PLEX_B "------------------------d74496d66958873e"
#define PLEX_D "--" PLEX_B

/* A JPEG-looking thumbnail with NULs, a bare "--", and a line that starts
 * like the delimiter but is not one. */
#define JPEG_BYTES                                                    \
    "\xff\xd8\xff\xe0\x00\x10"                                        \
    "JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\r\n--\x00\n" PLEX_D \
    "X\r\n" PLEX_D "-\xff\xd9"
#define JPEG_LEN (sizeof(JPEG_BYTES) - 1)

struct part_want {
    const char *name;
    const char *filename;
    const char *content_type;
    const char *data;
    size_t len;
};

struct parse_case {
    const char *what;
    const char *boundary;
    const char *body;
    size_t len;
    int rc;
    const char *err; /* substring when rc == -1 */
    size_t n;
    struct part_want parts[3];
};

#define BODY(s) s, sizeof(s) - 1

static const struct parse_case parse_cases[] = {
    {
        "plex curl-style with a binary thumb part",
        PLEX_B,
        BODY(PLEX_D "\r\n"
                    "Content-Disposition: form-data; name=\"payload\"\r\n"
                    "Content-Type: application/json\r\n"
                    "\r\n"
                    "{\"event\":\"media.play\"}\r\n" PLEX_D "\r\n"
                    "Content-Disposition: form-data; name=\"thumb\"; "
                    "filename=\"thumb.jpg\"\r\n"
                    "Content-Type: image/jpeg\r\n"
                    "\r\n" JPEG_BYTES "\r\n" PLEX_D "--\r\n"),
        0,
        NULL,
        2,
        {{"payload", NULL, "application/json", "{\"event\":\"media.play\"}",
          22},
         {"thumb", "thumb.jpg", "image/jpeg", JPEG_BYTES, JPEG_LEN}},
    },
    {
        "payload part without a Content-Type, preamble, unknown header",
        "XyZ",
        BODY("this is a preamble\r\n--XyZ-not-it\r\n"
             "--XyZ\r\n"
             "X-Whatever: 1\r\n"
             "content-disposition: form-data; NAME=payload\r\n"
             "\r\n"
             "{}\r\n"
             "--XyZ--\r\nepilogue\r\n--XyZ\r\n"),
        0,
        NULL,
        1,
        {{"payload", NULL, NULL, "{}", 2}},
    },
    {
        "LF-only line ends",
        "b",
        BODY("--b\n"
             "Content-Disposition: form-data; name=\"data\"\n"
             "\n"
             "line1\nline2\n"
             "--b\n"
             "Content-Disposition: form-data; name=\"x\"\n"
             "\n"
             "\n"
             "--b--\n"),
        0,
        NULL,
        2,
        {{"data", NULL, NULL, "line1\nline2", 11}, {"x", NULL, NULL, "", 0}},
    },
    {
        "quoted name with an escaped quote and a semicolon",
        "----EmbyBoundary7MA4YWxk",
        BODY("------EmbyBoundary7MA4YWxk\r\n"
             "Content-Disposition: form-data; name=\"a\\\"b;c\"; "
             "filename=\"f.json\"\r\n"
             "\r\n"
             "v\r\n"
             "------EmbyBoundary7MA4YWxk--"),
        0,
        NULL,
        1,
        {{"a\"b;c", "f.json", NULL, "v", 1}},
    },
    {
        "folded header line",
        "b",
        BODY("--b\r\n"
             "Content-Disposition: form-data;\r\n"
             " name=\"payload\"\r\n"
             "\r\n"
             "x\r\n"
             "--b--\r\n"),
        0,
        NULL,
        1,
        {{"payload", NULL, NULL, "x", 1}},
    },
    {
        "missing final -- after a delimiter",
        "b",
        BODY("--b\r\n"
             "Content-Disposition: form-data; name=\"payload\"\r\n"
             "\r\n"
             "{\"a\":1}\r\n"
             "--b\r\n"),
        0,
        NULL,
        1,
        {{"payload", NULL, NULL, "{\"a\":1}", 7}},
    },
    {
        "no closing delimiter at all",
        "b",
        BODY("--b\r\n"
             "Content-Disposition: form-data; name=\"payload\"\r\n"
             "\r\n"
             "{\"a\":1}\r\n"),
        0,
        NULL,
        1,
        {{"payload", NULL, NULL, "{\"a\":1}", 7}},
    },
    {
        "empty multipart (close delimiter only)",
        "b",
        BODY("--b--\r\n"),
        0,
        NULL,
        0,
        {{NULL, NULL, NULL, NULL, 0}},
    },
    {
        "boundary never found",
        "b",
        BODY("--c\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nx\r\n"
             "--c--\r\n"),
        -1,
        "boundary not found",
        0,
        {{NULL, NULL, NULL, NULL, 0}},
    },
    {
        "boundary only as a prefix of another string",
        "b",
        BODY("--bb\r\n\r\nx\r\n--bb--\r\n"),
        -1,
        "boundary not found",
        0,
        {{NULL, NULL, NULL, NULL, 0}},
    },
    {
        "empty body",
        "b",
        BODY(""),
        -1,
        "boundary not found",
        0,
        {{NULL, NULL, NULL, NULL, 0}},
    },
    {
        "no boundary",
        "",
        BODY("--\r\n\r\nx\r\n"),
        -1,
        "boundary",
        0,
        {{NULL, NULL, NULL, NULL, 0}},
    },
    {
        "headers without a blank line",
        "b",
        BODY("--b\r\n"
             "Content-Disposition: form-data; name=\"payload\"\r\n"
             "{\"event\":\"media.play\"}\r\n"
             "--b--\r\n"),
        -1,
        "header",
        0,
        {{NULL, NULL, NULL, NULL, 0}},
    },
    {
        "headers run to the end of the body",
        "b",
        BODY("--b\r\n"
             "Content-Disposition: form-data; name=\"payload\"\r\n"),
        -1,
        "blank line",
        0,
        {{NULL, NULL, NULL, NULL, 0}},
    },
};

static void
check_part(const struct multipart_part *p, const struct part_want *w)
{
    if (w->name == NULL)
        assert_null(p->name);
    else
        assert_string_equal(p->name, w->name);
    if (w->filename == NULL)
        assert_null(p->filename);
    else
        assert_string_equal(p->filename, w->filename);
    if (w->content_type == NULL)
        assert_null(p->content_type);
    else
        assert_string_equal(p->content_type, w->content_type);
    assert_int_equal(p->len, w->len);
    assert_memory_equal(p->data, w->data, w->len);
}

static void
test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        struct multipart m;
        char err[256] = "";
        int rc;

        print_message("case: %s\n", c->what);
        rc =
            multipart_parse(c->body, c->len, c->boundary, &m, err, sizeof(err));
        assert_int_equal(rc, c->rc);
        if (rc != 0) {
            assert_non_null(strstr(err, c->err));
            assert_int_equal(m.n, 0);
            continue;
        }
        assert_int_equal(m.n, c->n);
        for (size_t j = 0; j < c->n; j++)
            check_part(&m.parts[j], &c->parts[j]);
        multipart_release(&m);
        assert_int_equal(m.n, 0);
    }
}

static void
test_find(void **state)
{
    static const char body[] = "--b\r\nContent-Disposition: form-data; "
                               "name=\"thumb\"\r\n\r\nT\r\n"
                               "--b\r\nContent-Disposition: form-data; "
                               "name=\"payload\"\r\n\r\nP1\r\n"
                               "--b\r\nContent-Disposition: form-data; "
                               "name=\"payload\"\r\n\r\nP2\r\n--b--\r\n";
    struct multipart m;
    const struct multipart_part *p;
    char err[128];

    (void)state;
    assert_int_equal(
        multipart_parse(body, sizeof(body) - 1, "b", &m, err, sizeof(err)), 0);
    assert_int_equal(m.n, 3);
    p = multipart_find(&m, "payload");
    assert_non_null(p);
    assert_int_equal(p->len, 2);
    assert_memory_equal(p->data, "P1", 2);
    assert_null(multipart_find(&m, "Payload")); /* names are exact */
    assert_null(multipart_find(&m, "data"));
    multipart_release(&m);
}

static void
test_too_many_parts(void **state)
{
    char *body = malloc(64 * (MULTIPART_MAX_PARTS + 2));
    size_t len = 0;
    struct multipart m;
    char err[128] = "";
    static const char part[] =
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";

    (void)state;
    assert_non_null(body);
    for (int i = 0; i < MULTIPART_MAX_PARTS; i++) {
        memcpy(body + len, part, sizeof(part) - 1);
        len += sizeof(part) - 1;
    }
    memcpy(body + len, "--b--\r\n", 7);
    assert_int_equal(multipart_parse(body, len + 7, "b", &m, err, sizeof(err)),
                     0);
    assert_int_equal(m.n, MULTIPART_MAX_PARTS);
    multipart_release(&m);

    memcpy(body + len, part, sizeof(part) - 1);
    len += sizeof(part) - 1;
    memcpy(body + len, "--b--\r\n", 7);
    assert_int_equal(multipart_parse(body, len + 7, "b", &m, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "parts"));
    assert_int_equal(m.n, 0);
    free(body);
}

struct boundary_case {
    const char *ct;
    const char *want; /* NULL = -1 */
};

static void
test_boundary_table(void **state)
{
    static const char b70[] = "0123456789012345678901234567890123456789"
                              "012345678901234567890123456789";
    char ct70[128], ct71[128], out[80];
    const struct boundary_case cases[] = {
        {"multipart/form-data; boundary=" PLEX_B, PLEX_B},
        {"Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b;c\"", "a b;c"},
        {"multipart/form-data; boundary=\"q\\\"x\"", "q\"x"},
        {"multipart/form-data;boundary=abc ; charset=x", "abc"},
        {"  multipart/form-data ; boundary=----EmbyBoundary7MA4YWxk",
         "----EmbyBoundary7MA4YWxk"},
        {ct70, b70},
        {ct71, NULL},
        {"multipart/form-data", NULL},
        {"multipart/form-data; boundary=", NULL},
        {"multipart/form-data; boundary=\"\"", NULL},
        {"multipart/form-data; xboundary=abc", NULL},
        {"multipart/mixed; boundary=abc", NULL},
        {"application/json; boundary=abc", NULL},
        {"multipart/form-data; boundary=a\x01z", NULL},
        {"", NULL},
    };

    (void)state;
    snprintf(ct70, sizeof(ct70), "multipart/form-data; boundary=%s", b70);
    snprintf(ct71, sizeof(ct71), "multipart/form-data; boundary=%sx", b70);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = multipart_boundary(cases[i].ct, out, sizeof(out));

        print_message("content type: %s\n", cases[i].ct);
        if (cases[i].want == NULL) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(out, cases[i].want);
        }
    }
    assert_int_equal(multipart_boundary(NULL, out, sizeof(out)), -1);
    /* Too small an output buffer is refused, not truncated. */
    assert_int_equal(
        multipart_boundary("multipart/form-data; boundary=abcdef", out, 4), -1);
}

struct form_case {
    const char *body;
    size_t len;
    const char *name;
    const char *want; /* NULL = absent */
    size_t want_len;
};

static void
test_form_table(void **state)
{
    static const struct form_case cases[] = {
        {BODY("data=%7B%22a%22%3A1%7D&x=y"), "data", "{\"a\":1}", 7},
        {BODY("a=1+2&data=x%2By+z"), "data", "x+y z", 5},
        {BODY("data=100%&x"), "data", "100%", 4},
        {BODY("data=%zz%4"), "data", "%zz%4", 5},
        {BODY("data=%41%4a%4A"), "data", "AJJ", 3},
        {BODY("data=a%00b"), "data", "a\0b", 3},
        {BODY("x=1"), "data", NULL, 0},
        {BODY("data"), "data", "", 0},
        {BODY("data="), "data", "", 0},
        {BODY("dat%61=ok"), "data", "ok", 2},
        {BODY("&&data=1&data=2"), "data", "1", 1},
        {BODY("xdata=1&data=2"), "data", "2", 1},
        {BODY("Data=1"), "data", NULL, 0},
        {BODY(""), "data", NULL, 0},
        {BODY("a=b=c"), "a", "b=c", 3},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 12345;
        char *v = form_urlencoded_get(cases[i].body, cases[i].len,
                                      cases[i].name, &len);

        print_message("form: %s\n", cases[i].body);
        if (cases[i].want == NULL) {
            assert_null(v);
            continue;
        }
        assert_non_null(v);
        assert_int_equal(len, cases[i].want_len);
        assert_memory_equal(v, cases[i].want, len);
        assert_int_equal(v[len], '\0');
        free(v);
    }
}

/* The body is not NUL-terminated: nothing may read past len. */
static void
test_form_unterminated(void **state)
{
    char *body = malloc(7);
    size_t len = 0;
    char *v;

    (void)state;
    assert_non_null(body);
    memcpy(body, "data=%4", 7);
    v = form_urlencoded_get(body, 7, "data", &len);
    assert_non_null(v);
    assert_string_equal(v, "%4");
    free(v);
    free(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_too_many_parts),
        cmocka_unit_test(test_boundary_table),
        cmocka_unit_test(test_form_table),
        cmocka_unit_test(test_form_unterminated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
