/*
 * util: allocation that never fails, bounded number parsing, UTC time
 * formatting and parsing, SHA-256, hex and a growable byte buffer.
 */
#ifndef WR_UTIL_H
#define WR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_ASSERT(cond)                                \
    do {                                               \
        if (!(cond))                                   \
            wr_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)

__attribute__((noreturn)) void wr_assert_fail(const char *expr,
                                              const char *file, int line);

/* Allocators: abort on exhaustion, never return NULL. Owned results. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a whole decimal integer in [min, max]; 0 on success, -1 otherwise. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* The same over a length-delimited buffer. */
int parse_i64n(const char *s, size_t len, int64_t min, int64_t max,
               int64_t *out);

/* Wall-clock seconds since the epoch. */
int64_t wr_now(void);
/* Monotonic milliseconds. */
int64_t wr_mono_ms(void);

#define WR_TIME_BUF 32
/* Format epoch seconds as RFC 3339 UTC, "2025-03-02T20:47:10Z". */
void wr_time_format(int64_t t, char buf[WR_TIME_BUF]);
/*
 * Parse an ISO 8601 / RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS" with optional
 * fraction (any number of digits, dropped) and "Z" or "+HH:MM"/"-HH:MM"
 * offset (no offset means UTC). A bare date "YYYY-MM-DD" is midnight UTC.
 * 0 on success with *out in epoch seconds, -1 on anything else.
 */
int wr_time_parse(const char *s, int64_t *out);

/* SHA-256 of data; out receives 32 bytes. */
void sha256(const void *data, size_t len, unsigned char out[32]);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* Fill out with 2n hex chars of randomness from getrandom(2) + NUL. */
int random_hex(char *out, size_t n);

/* Constant-time comparison of two NUL-terminated strings. */
bool ct_streq(const char *a, const char *b);

/* A growable byte buffer; data is always NUL-terminated. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};
void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ASCII case-insensitive helpers that do not depend on the locale. */
bool str_ieq(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);

/*
 * Copy untrusted bytes into out (size outlen) for a log line: printable ASCII
 * except '"' and '\\' is kept, everything else becomes \xNN; truncated with
 * "..." past outlen. Returns out.
 */
char *str_escape(const char *in, size_t len, char *out, size_t outlen);

/* Read a whole file up to max bytes; owned result (free) or NULL with errno. */
char *read_file(const char *path, size_t max, size_t *len_out);
/* Write a file atomically (tmp + fsync + rename), with the given mode. */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* mkdir -p with mode. */
int mkdir_p(const char *path, int mode);

#endif
