/*
 * test_util: SHA-256 against known vectors, hex, time parsing and
 * formatting, bounded integer parsing, log escaping, buffers.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void
sha_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];

    sha256(data, len, md);
    hex_encode(md, sizeof(md), out);
}

static const struct sha_case {
    const char *in;
    const char *want;
} sha_cases[] = {
    /* FIPS 180-2 examples and the empty string */
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"The quick brown fox jumps over the lazy dog",
     "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
};

/* Lengths around the padding boundaries; byte i is (i * 7 + 3) & 0xff.
 * Digests from an independent implementation (Python hashlib). */
static const struct sha_len_case {
    size_t len;
    const char *want;
} sha_len_cases[] = {
    {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
    {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
    {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
    {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
    {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
    {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
    {1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"},
};

static void
test_sha256(void **state)
{
    char hex[65];
    unsigned char *big;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(sha_cases); i++) {
        sha_hex(sha_cases[i].in, strlen(sha_cases[i].in), hex);
        if (strcmp(hex, sha_cases[i].want) != 0)
            fail_msg("sha256(\"%s\") = %s, want %s", sha_cases[i].in, hex,
                     sha_cases[i].want);
    }
    big = xmalloc(1000000);
    for (size_t i = 0; i < N_ELEMS(sha_len_cases); i++) {
        size_t n = sha_len_cases[i].len;

        for (size_t k = 0; k < n; k++)
            big[k] = (unsigned char)((k * 7 + 3) & 0xff);
        sha_hex(big, n, hex);
        if (strcmp(hex, sha_len_cases[i].want) != 0)
            fail_msg("sha256 of %zu bytes = %s, want %s", n, hex,
                     sha_len_cases[i].want);
    }
    /* 1000 and 1,000,000 times "a" */
    memset(big, 'a', 1000000);
    sha_hex(big, 1000, hex);
    assert_string_equal(
        hex,
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    sha_hex(big, 1000000, hex);
    assert_string_equal(
        hex,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(big);
}

static void
test_hex(void **state)
{
    static const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(in) + 1];
    char r1[33], r2[33];

    (void)state;
    memset(out, 'x', sizeof(out));
    hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    hex_encode(in, 0, out);
    assert_string_equal(out, "");
    assert_int_equal(random_hex(r1, 16), 0);
    assert_int_equal(random_hex(r2, 16), 0);
    assert_int_equal(strlen(r1), 32);
    assert_string_not_equal(r1, r2);
    assert_int_equal(random_hex(r1, 65), -1);
}

static const struct time_case {
    const char *in;
    int rc;
    int64_t want;
} time_cases[] = {
    {"2025-03-02T20:47:10Z", 0, 1740948430},
    {"2025-03-02T20:47:10z", 0, 1740948430},
    {"2025-03-02t20:47:10Z", 0, 1740948430},
    {"2025-03-02 20:47:10Z", 0, 1740948430},
    {"2025-03-02T20:47:10", 0, 1740948430}, /* no offset: UTC */
    /* fractions are dropped */
    {"2025-03-02T20:47:10.5Z", 0, 1740948430},
    {"2025-03-02T20:47:10.123Z", 0, 1740948430},
    {"2025-03-02T20:47:10.999999999Z", 0, 1740948430},
    {"2025-03-02T20:47:10,25Z", 0, 1740948430},
    /* .NET (Jellyfin, Emby) seven-digit fractions */
    {"2025-03-02T20:47:10.1234567Z", 0, 1740948430},
    {"2025-03-02T20:47:10.1234567+00:00", 0, 1740948430},
    {"2025-03-02T20:47:10.0000000", 0, 1740948430},
    /* offsets */
    {"2025-03-02T21:47:10+01:00", 0, 1740948430},
    {"2025-03-02T15:17:10-05:30", 0, 1740948430},
    {"2025-03-03T06:47:10.5+10:00", 0, 1740948430},
    {"2025-03-02T20:47:10+00:00", 0, 1740948430},
    {"2025-03-02T20:47:10-00:00", 0, 1740948430},
    /* bare dates are midnight UTC */
    {"2025-03-02", 0, 1740873600},
    {"2024-02-29", 0, 1709164800},
    {"1970-01-01", 0, 0},
    {"1970-01-01T00:00:00Z", 0, 0},
    {"1969-12-31T23:59:59Z", 0, -1},
    {"2000-01-01T00:00:00Z", 0, 946684800},
    {"9999-12-31T23:59:59Z", 0, 253402300799},
    {"0744-03-02T21:20:42Z", 0, -38683535958},
    {"0000-01-01", 0, -62167219200},
    /* garbage */
    {"", -1, 0},
    {"abc", -1, 0},
    {"yesterday", -1, 0},
    {"2025", -1, 0},
    {"2025-03", -1, 0},
    {"2025-3-2", -1, 0},
    {"20250302T204710Z", -1, 0},
    {"2025-13-02", -1, 0},
    {"2025-00-02", -1, 0},
    {"2025-03-00", -1, 0},
    {"2025-03-32", -1, 0},
    {"2025-03-02T", -1, 0},
    {"2025-03-02T20:47Z", -1, 0},
    {"2025-03-02T20:47", -1, 0},
    {"2025-03-02T24:00:00Z", -1, 0},
    {"2025-03-02T20:60:00Z", -1, 0},
    {"2025-03-02T20:47:61Z", -1, 0},
    {"2025-03-02T20:47:10.Z", -1, 0},
    {"2025-03-02T20:47:10.", -1, 0},
    {"2025-03-02T20:47:10+0100", -1, 0},
    {"2025-03-02T20:47:10+01", -1, 0},
    {"2025-03-02T20:47:10+24:00", -1, 0},
    {"2025-03-02T20:47:10+01:60", -1, 0},
    {"2025-03-02T20:47:10Zx", -1, 0},
    {"2025-03-02T20:47:10Z ", -1, 0},
    {" 2025-03-02T20:47:10Z", -1, 0},
    {"2025-03-02T20:47:10+01:00:00", -1, 0},
    {"2025-03-02X20:47:10Z", -1, 0},
    {"2025-03-02T2a:47:10Z", -1, 0},
    {"1740948430", -1, 0},
};

static void
test_time_parse(void **state)
{
    int64_t t;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(time_cases); i++) {
        const struct time_case *c = &time_cases[i];
        int rc;

        t = 12345;
        rc = wr_time_parse(c->in, &t);
        if (rc != c->rc || (rc == 0 && t != c->want))
            fail_msg("wr_time_parse(\"%s\") = %d, %" PRId64
                     "; want %d, %" PRId64,
                     c->in, rc, t, c->rc, c->want);
    }
    assert_int_equal(wr_time_parse(NULL, &t), -1);
}

static void
test_time_format(void **state)
{
    static const struct {
        int64_t t;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {1740948430, "2025-03-02T20:47:10Z"},
        {1709164800, "2024-02-29T00:00:00Z"},
        {-1, "1969-12-31T23:59:59Z"},
        {253402300799, "9999-12-31T23:59:59Z"},
        /* years before 1000 keep four digits (strftime's %Y did not) */
        {-38683535958, "0744-03-02T21:20:42Z"},
        {-62135596800, "0001-01-01T00:00:00Z"},
        {-62167219200, "0000-01-01T00:00:00Z"},
    };
    char buf[WR_TIME_BUF];

    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int64_t back;

        wr_time_format(cases[i].t, buf);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(wr_time_parse(buf, &back), 0);
        assert_int_equal(back, cases[i].t);
    }
    assert_true(wr_now() > 1700000000);
}

static const struct i64_case {
    const char *in;
    int64_t min, max;
    int rc;
    int64_t want;
} i64_cases[] = {
    {"0", INT64_MIN, INT64_MAX, 0, 0},
    {"-0", 0, 10, 0, 0},
    {"+5", 0, 10, 0, 5},
    {"42", 0, 100, 0, 42},
    {"007", 0, 100, 0, 7},
    {"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
    {"9223372036854775808", INT64_MIN, INT64_MAX, -1, 0},
    {"18446744073709551615", INT64_MIN, INT64_MAX, -1, 0},
    {"18446744073709551616", INT64_MIN, INT64_MAX, -1, 0},
    {"99999999999999999999999", INT64_MIN, INT64_MAX, -1, 0},
    {"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN},
    {"-9223372036854775808", -5, 5, -1, 0},
    {"-9223372036854775807", INT64_MIN, INT64_MAX, 0, -INT64_MAX},
    {"-9223372036854775809", INT64_MIN, INT64_MAX, -1, 0},
    /* bounds are inclusive */
    {"10", 0, 10, 0, 10},
    {"11", 0, 10, -1, 0},
    {"0", 0, 10, 0, 0},
    {"-1", 0, 10, -1, 0},
    {"-5", -5, 5, 0, -5},
    {"-6", -5, 5, -1, 0},
    {"1", 2, 3, -1, 0},
    /* not whole decimal numbers */
    {"", INT64_MIN, INT64_MAX, -1, 0},
    {"-", INT64_MIN, INT64_MAX, -1, 0},
    {"+", INT64_MIN, INT64_MAX, -1, 0},
    {"12a", INT64_MIN, INT64_MAX, -1, 0},
    {"a12", INT64_MIN, INT64_MAX, -1, 0},
    {" 12", INT64_MIN, INT64_MAX, -1, 0},
    {"12 ", INT64_MIN, INT64_MAX, -1, 0},
    {"1.5", INT64_MIN, INT64_MAX, -1, 0},
    {"1e3", INT64_MIN, INT64_MAX, -1, 0},
    {"0x10", INT64_MIN, INT64_MAX, -1, 0},
    {"--1", INT64_MIN, INT64_MAX, -1, 0},
    {"+-1", INT64_MIN, INT64_MAX, -1, 0},
};

static void
test_parse_i64(void **state)
{
    int64_t v;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(i64_cases); i++) {
        const struct i64_case *c = &i64_cases[i];
        int rc;

        v = 777;
        rc = parse_i64(c->in, c->min, c->max, &v);
        if (rc != c->rc || (rc == 0 && v != c->want))
            fail_msg("parse_i64(\"%s\", %" PRId64 ", %" PRId64
                     ") = %d, %" PRId64,
                     c->in, c->min, c->max, rc, v);
        if (rc != 0 && v != 777)
            fail_msg("parse_i64(\"%s\") wrote on failure", c->in);
    }
    assert_int_equal(parse_i64(NULL, 0, 10, &v), -1);
    /* the length-delimited form stops where told */
    assert_int_equal(parse_i64n("123abc", 3, 0, 1000, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(parse_i64n("123abc", 4, 0, 1000, &v), -1);
    assert_int_equal(parse_i64n("5", 0, 0, 10, &v), -1);
    assert_int_equal(parse_i64n("-7xyz", 2, -10, 10, &v), 0);
    assert_int_equal(v, -7);
}

static const struct esc_case {
    const char *in;
    size_t len;
    size_t outlen;
    const char *want;
} esc_cases[] = {
    {"hello", 5, 64, "hello"},
    {"", 0, 64, ""},
    {"a\"b\\c", 5, 64, "a\\x22b\\x5cc"},
    {"line\r\n", 6, 64, "line\\x0d\\x0a"},
    {"\x01\x7f\x80\xff", 4, 64, "\\x01\\x7f\\x80\\xff"},
    {"a\0b", 3, 64, "a\\x00b"},
    {"caf\xc3\xa9", 5, 64, "caf\\xc3\\xa9"},
    /* only len bytes are read */
    {"abcdef", 3, 64, "abc"},
    /* fits exactly: no ellipsis */
    {"abc", 3, 4, "abc"},
    {"abcdefg", 7, 8, "abcdefg"},
    {"a\"b", 3, 8, "a\\x22b"},
    /* too long: cut with "..." and NUL-terminated within outlen */
    {"abcdefgh", 8, 8, "abcd..."},
    {"abcdefghijklmnopqrstuvwxyz", 26, 10, "abcdef..."},
    {"\"\"\"\"\"\"", 6, 12, "\\x22\\x22..."},
    {"abcdef", 6, 4, "..."},
    {"abcdef", 6, 3, ""},
    {"abcdef", 6, 1, ""},
};

static void
test_str_escape(void **state)
{
    char out[64];

    (void)state;
    for (size_t i = 0; i < N_ELEMS(esc_cases); i++) {
        const struct esc_case *c = &esc_cases[i];

        memset(out, '#', sizeof(out));
        assert_ptr_equal(str_escape(c->in, c->len, out, c->outlen), out);
        if (strcmp(out, c->want) != 0)
            fail_msg("str_escape case %zu: \"%s\", want \"%s\"", i, out,
                     c->want);
        assert_true(strlen(out) < c->outlen);
        /* nothing written past outlen */
        for (size_t k = c->outlen; k < sizeof(out); k++)
            assert_int_equal(out[k], '#');
    }
    memset(out, '#', sizeof(out));
    str_escape("abc", 3, out, 0);
    assert_int_equal(out[0], '#');
}

static void
test_strings(void **state)
{
    char *s;

    (void)state;
    assert_true(str_ieq("Plex", "pLEX"));
    assert_true(str_ieq("", ""));
    assert_false(str_ieq("plex", "plexx"));
    assert_false(str_ieq("plexx", "plex"));
    assert_true(str_has_prefix("PlexMediaServer/1.40", "PlexMediaServer/"));
    assert_false(str_has_prefix("Plex", "PlexMediaServer/"));
    assert_true(ct_streq("secret", "secret"));
    assert_false(ct_streq("secret", "secreT"));
    assert_false(ct_streq("secret", "secret2"));
    assert_false(ct_streq("secret2", "secret"));
    assert_false(ct_streq("", ""));
    s = xasprintf("%s-%d", "a", 42);
    assert_string_equal(s, "a-42");
    free(s);
    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
}

static void
test_buf(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_puts(&b, "");
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i % 10);
    assert_int_equal(b.len, 2000);
    assert_int_equal(strlen(b.data), 2000);
    assert_memory_equal(b.data, "0,1,2,", 6);
    buf_append(&b, "\0x", 2);
    assert_int_equal(b.len, 2002);
    assert_int_equal(b.data[2002], '\0');
    buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),     cmocka_unit_test(test_hex),
        cmocka_unit_test(test_time_parse), cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_parse_i64),  cmocka_unit_test(test_str_escape),
        cmocka_unit_test(test_strings),    cmocka_unit_test(test_buf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
