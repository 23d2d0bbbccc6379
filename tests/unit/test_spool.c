/*
 * test_spool: the fsynced fallback file. Every test runs in a fresh temp dir
 * under /tmp that the teardown removes.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "util.h"

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#define MIB ((size_t)1024 * 1024)

struct tdir {
    char path[64];
};

static int
tdir_setup(void **state)
{
    struct tdir *t = xcalloc(1, sizeof(*t));

    snprintf(t->path, sizeof(t->path), "/tmp/wr-test-spool-XXXXXX");
    if (mkdtemp(t->path) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int
tdir_teardown(void **state)
{
    struct tdir *t = *state;
    DIR *d = opendir(t->path);
    struct dirent *de;

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            char *p;

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            p = xasprintf("%s/%s", t->path, de->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(t->path);
    free(t);
    return 0;
}

static char *
tpath(const struct tdir *t, const char *name)
{
    return xasprintf("%s/%s", t->path, name);
}

/* Size of a file in the dir, -1 if it does not exist. */
static long long
tsize(const struct tdir *t, const char *name)
{
    char *p = tpath(t, name);
    struct stat st;
    int rc = stat(p, &st);

    free(p);
    return rc == 0 ? (long long)st.st_size : -1;
}

static void
twrite(const struct tdir *t, const char *name, const void *data, size_t len,
       int flags)
{
    char *p = tpath(t, name);
    int fd = open(p, O_WRONLY | O_CREAT | flags, 0600);
    const char *s = data;

    assert_true(fd >= 0);
    while (len > 0) {
        ssize_t w = write(fd, s, len);

        assert_true(w > 0);
        s += w;
        len -= (size_t)w;
    }
    close(fd);
    free(p);
}

/* Content of spool.off as a string, or NULL when it is missing. */
static char *
toff(const struct tdir *t)
{
    char *p = tpath(t, "spool.off");
    char *s = read_file(p, 1024, NULL);

    free(p);
    return s;
}

static struct spool *
topen(const struct tdir *t)
{
    char err[256] = "";
    struct spool *sp = spool_open(t->path, err, sizeof(err));

    if (sp == NULL)
        fail_msg("spool_open: %s", err);
    return sp;
}

/* Append NUL-terminated strings as one batch; the result of spool_append. */
static int
tappend(struct spool *sp, const char *const *strs, size_t n, char *err,
        size_t errlen)
{
    size_t *lens = xcalloc(n ? n : 1, sizeof(*lens));
    int rc;

    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(strs[i]);
    rc = spool_append(sp, strs, lens, n, err, errlen);
    free(lens);
    return rc;
}

static void
tappend_ok(struct spool *sp, const char *const *strs, size_t n)
{
    char err[256] = "";

    if (tappend(sp, strs, n, err, sizeof(err)) != 0)
        fail_msg("spool_append: %s", err);
}

static void
tpeek(struct spool *sp, size_t max, struct spool_batch *b)
{
    char err[256] = "";

    if (spool_peek(sp, max, b, err, sizeof(err)) != 0)
        fail_msg("spool_peek: %s", err);
}

static void
tcommit(struct spool *sp, const struct spool_batch *b)
{
    char err[256] = "";

    if (spool_commit(sp, b, err, sizeof(err)) != 0)
        fail_msg("spool_commit: %s", err);
}

/* Assert that b holds exactly the strings in want. */
static void
tbatch_is(const struct spool_batch *b, const char *const *want, size_t n)
{
    assert_int_equal(b->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(b->lens[i], strlen(want[i]));
        assert_string_equal(b->recs[i], want[i]);
    }
}

static void
test_append_peek_commit_order(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch b, again;
    const char *b1[] = {"a1", "a2", "a3"};
    const char *b2[] = {"b1"};
    const char *b3[] = {"c1", "c2"};
    const char *d1[] = {"d1"};
    const char *want1[] = {"a1", "a2"};
    const char *want2[] = {"a3", "b1"};
    const char *want3[] = {"c1", "c2", "d1"};
    char *off;

    assert_int_equal(spool_depth(sp), 0);
    assert_int_equal(spool_bytes(sp), 0);
    tappend_ok(sp, b1, 3);
    tappend_ok(sp, b2, 1);
    tappend_ok(sp, b3, 2);
    assert_int_equal(spool_depth(sp), 6);
    assert_int_equal(spool_bytes(sp), 18);
    assert_int_equal(tsize(t, "spool.log"), 18);

    /* Peeking does not move the offset. */
    tpeek(sp, 2, &b);
    tbatch_is(&b, want1, 2);
    assert_int_equal(b.end_offset, 6);
    tpeek(sp, 2, &again);
    tbatch_is(&again, want1, 2);
    assert_int_equal(again.end_offset, 6);
    spool_batch_release(&again);
    assert_int_equal(spool_depth(sp), 6);

    tcommit(sp, &b);
    spool_batch_release(&b);
    assert_int_equal(spool_depth(sp), 4);
    assert_int_equal(spool_bytes(sp), 12);
    off = toff(t);
    assert_non_null(off);
    assert_string_equal(off, "6\n");
    free(off);

    /* Appends after a partial drain queue behind the rest. */
    tappend_ok(sp, d1, 1);
    assert_int_equal(spool_depth(sp), 5);

    tpeek(sp, 2, &b);
    tbatch_is(&b, want2, 2);
    assert_int_equal(b.end_offset, 12);
    tcommit(sp, &b);
    spool_batch_release(&b);
    assert_int_equal(spool_depth(sp), 3);

    tpeek(sp, 10, &b);
    tbatch_is(&b, want3, 3);
    assert_int_equal(b.end_offset, 21);
    tcommit(sp, &b);
    spool_batch_release(&b);

    /* Drained to the end: both files are reset. */
    assert_int_equal(spool_depth(sp), 0);
    assert_int_equal(spool_bytes(sp), 0);
    assert_int_equal(tsize(t, "spool.log"), 0);
    assert_int_equal(tsize(t, "spool.off"), -1);
    tpeek(sp, 10, &b);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.end_offset, 0);
    spool_batch_release(&b);
    spool_free(sp);
}

static void
test_reopen_keeps_records(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch b;
    const char *recs[] = {"{\"id\":1}", "{\"id\":2}", "{\"id\":3}"};

    tappend_ok(sp, recs, 2);
    tappend_ok(sp, recs + 2, 1);
    spool_free(sp);

    sp = topen(t);
    assert_int_equal(spool_depth(sp), 3);
    assert_int_equal(spool_bytes(sp), 27);
    tpeek(sp, 100, &b);
    tbatch_is(&b, recs, 3);
    assert_int_equal(b.end_offset, 27);
    spool_batch_release(&b);
    spool_free(sp);
}

static void
test_reopen_resumes_from_offset(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch b;
    const char *recs[] = {"r1", "r2", "r3", "r4", "r5"};

    tappend_ok(sp, recs, 5);
    tpeek(sp, 2, &b);
    tcommit(sp, &b);
    spool_batch_release(&b);
    spool_free(sp);

    sp = topen(t);
    assert_int_equal(spool_depth(sp), 3);
    assert_int_equal(spool_bytes(sp), 9);
    tpeek(sp, 100, &b);
    tbatch_is(&b, recs + 2, 3);
    tcommit(sp, &b);
    spool_batch_release(&b);
    spool_free(sp);

    /* A reopen after the reset starts empty. */
    sp = topen(t);
    assert_int_equal(spool_depth(sp), 0);
    assert_int_equal(spool_bytes(sp), 0);
    spool_free(sp);
}

static void
test_torn_tail_is_cut(void **state)
{
    struct tdir *t = *state;
    static const struct {
        const char *name;
        size_t good;     /* good records appended first */
        size_t torn_len; /* bytes of torn tail written by hand */
        char torn_byte;  /* its filler */
        bool drained;    /* spool.off at the end of the good records */
        size_t depth;    /* after reopen */
        long long size;  /* spool.log size after reopen */
    } cases[] = {
        {"short torn tail", 2, 6, 'x', false, 2, 6},
        {"torn tail over several chunks", 2, 200 * 1024, 'z', false, 2, 6},
        {"only a torn record", 0, 10, '{', false, 0, 0},
        {"NUL-filled tail", 1, 4096, '\0', false, 1, 3},
        {"torn after a full drain", 2, 7, 'q', true, 0, 0},
    };
    const char *recs[] = {"g1", "g2"};

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct spool *sp;
        struct spool_batch b;
        char *torn = xmalloc(cases[c].torn_len);
        char *p;

        print_message("case: %s\n", cases[c].name);
        p = tpath(t, "spool.log");
        unlink(p);
        free(p);
        p = tpath(t, "spool.off");
        unlink(p);
        free(p);

        sp = topen(t);
        if (cases[c].good > 0)
            tappend_ok(sp, recs, cases[c].good);
        spool_free(sp);
        if (cases[c].drained)
            twrite(t, "spool.off", "6\n", 2, O_TRUNC);
        memset(torn, cases[c].torn_byte, cases[c].torn_len);
        twrite(t, "spool.log", torn, cases[c].torn_len, O_APPEND);
        free(torn);

        sp = topen(t);
        assert_int_equal(tsize(t, "spool.log"), cases[c].size);
        assert_int_equal(spool_depth(sp), cases[c].depth);
        tpeek(sp, 10, &b);
        tbatch_is(&b, recs, cases[c].depth);
        spool_batch_release(&b);

        /* New appends follow the cut, not the garbage. */
        tappend_ok(sp, recs, 1);
        spool_free(sp);
        sp = topen(t);
        assert_int_equal(spool_depth(sp), cases[c].depth + 1);
        tpeek(sp, 10, &b);
        assert_int_equal(b.n, cases[c].depth + 1);
        assert_string_equal(b.recs[b.n - 1], "g1");
        spool_batch_release(&b);
        spool_free(sp);
    }
}

static void
test_binary_safe_records(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch b;
    const char r0[] = {'a', '\0', 'b'};
    const char r1[] = {'\0'};
    const char r2[] = {'\xff', '\xfe', '\0', '\x01', '\r'};
    const char *recs[] = {r0, r1, r2};
    const size_t lens[] = {sizeof(r0), sizeof(r1), sizeof(r2)};
    char err[256] = "";

    assert_int_equal(spool_append(sp, recs, lens, 3, err, sizeof(err)), 0);
    spool_free(sp);
    sp = topen(t);
    assert_int_equal(spool_depth(sp), 3);
    tpeek(sp, 10, &b);
    assert_int_equal(b.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(b.lens[i], lens[i]);
        assert_memory_equal(b.recs[i], recs[i], lens[i]);
        assert_int_equal(b.recs[i][lens[i]], '\0');
    }
    spool_batch_release(&b);
    spool_free(sp);
}

static void
test_rejects_bad_records(void **state)
{
    struct tdir *t = *state;
    static const struct {
        const char *name;
        const char *rec; /* NULL: a record one byte over the cap */
        const char *err;
    } cases[] = {
        {"newline inside", "{\"a\":\n1}", "newline"},
        {"newline at the end", "{}\n", "newline"},
        {"empty record", "", "empty"},
        {"over the cap", NULL, "too long"},
    };
    struct spool *sp = topen(t);

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *big = NULL;
        const char *recs[2] = {"{\"ok\":1}", cases[c].rec};
        size_t lens[2] = {8, 0};
        char err[256] = "";

        print_message("case: %s\n", cases[c].name);
        if (cases[c].rec == NULL) {
            lens[1] = 16 * MIB + 1;
            big = xmalloc(lens[1]);
            memset(big, 'x', lens[1]);
            recs[1] = big;
        } else {
            lens[1] = strlen(cases[c].rec);
        }
        /* All or nothing: the good record is not written either. */
        assert_int_equal(spool_append(sp, recs, lens, 2, err, sizeof(err)), -1);
        assert_non_null(strstr(err, cases[c].err));
        assert_non_null(strstr(err, "record 1"));
        assert_int_equal(spool_depth(sp), 0);
        assert_int_equal(tsize(t, "spool.log"), 0);
        free(big);
    }
    /* A record exactly at the cap is accepted. */
    {
        size_t len = 16 * MIB;
        char *big = xmalloc(len);
        const char *recs[1] = {big};
        struct spool_batch b;
        char err[256] = "";

        memset(big, 'y', len);
        assert_int_equal(spool_append(sp, recs, &len, 1, err, sizeof(err)), 0);
        tpeek(sp, 10, &b);
        assert_int_equal(b.n, 1);
        assert_int_equal(b.lens[0], len);
        assert_memory_equal(b.recs[0], big, len);
        spool_batch_release(&b);
        free(big);
    }
    spool_free(sp);
}

static void
test_append_failure_rolls_back(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch b;
    struct rlimit old, lim;
    void (*old_handler)(int);
    const char *first[] = {"first"};
    const char *last[] = {"last"};
    const char *want[] = {"first", "last"};
    char big[200];
    const char *two[] = {"small", big};
    char err[256] = "";
    int rc;

    tappend_ok(sp, first, 1);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    /* Let 16 more bytes in: the write is cut short, then fails. */
    lim = old;
    lim.rlim_cur = 6 + 16;
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
        skip();
    old_handler = signal(SIGXFSZ, SIG_IGN);
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rc = tappend(sp, two, 2, err, sizeof(err));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "append"));
    assert_int_equal(tsize(t, "spool.log"), 6);
    assert_int_equal(spool_depth(sp), 1);
    assert_int_equal(spool_bytes(sp), 6);

    /* The spool keeps working, with nothing of the failed batch. */
    tappend_ok(sp, last, 1);
    spool_free(sp);
    sp = topen(t);
    tpeek(sp, 10, &b);
    tbatch_is(&b, want, 2);
    spool_batch_release(&b);
    spool_free(sp);
}

static void
test_many_small_records(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch b;
    enum { TOTAL = 10000, PER_APPEND = 100, PER_PEEK = 333 };
    char(*strs)[32] = xcalloc(TOTAL, sizeof(*strs));
    const char *ptrs[PER_APPEND];
    size_t next = 0;
    size_t batches = 0;

    for (size_t i = 0; i < TOTAL; i++)
        snprintf(strs[i], sizeof(strs[i]), "{\"n\":%05zu}", i);
    for (size_t i = 0; i < TOTAL; i += PER_APPEND) {
        for (size_t j = 0; j < PER_APPEND; j++)
            ptrs[j] = strs[i + j];
        tappend_ok(sp, ptrs, PER_APPEND);
    }
    assert_int_equal(spool_depth(sp), TOTAL);
    assert_int_equal(spool_bytes(sp), (uint64_t)TOTAL * 12);
    spool_free(sp);

    sp = topen(t);
    assert_int_equal(spool_depth(sp), TOTAL);
    for (;;) {
        tpeek(sp, PER_PEEK, &b);
        if (b.n == 0) {
            spool_batch_release(&b);
            break;
        }
        for (size_t i = 0; i < b.n; i++)
            assert_string_equal(b.recs[i], strs[next + i]);
        next += b.n;
        tcommit(sp, &b);
        spool_batch_release(&b);
        assert_int_equal(spool_depth(sp), TOTAL - next);
        batches++;
    }
    assert_int_equal(next, TOTAL);
    assert_int_equal(batches, (TOTAL + PER_PEEK - 1) / PER_PEEK);
    assert_int_equal(tsize(t, "spool.log"), 0);
    assert_int_equal(tsize(t, "spool.off"), -1);
    spool_free(sp);
    free(strs);
}

static void
test_bad_offset_file(void **state)
{
    struct tdir *t = *state;
    /* spool.log is "abc\ndefg\nhi\n": boundaries at 0, 4, 9 and 12. */
    static const struct {
        const char *name;
        const char *off;
        const char *first;
        size_t depth;
    } cases[] = {
        {"valid offset", "4\n", "defg", 2},
        {"valid without newline", "9", "hi", 1},
        {"garbage", "garbage\n", "abc", 3},
        {"empty file", "", "abc", 3},
        {"negative", "-4\n", "abc", 3},
        {"past the end", "99999\n", "abc", 3},
        {"inside a record", "6\n", "abc", 3},
        {"too long to be a number",
         "00000000000000000000000000000000000000"
         "00000000000000000000000000000000000004",
         "abc", 3},
    };
    const char *recs[] = {"abc", "defg", "hi"};

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct spool *sp;
        struct spool_batch b;
        char *p = tpath(t, "spool.log");

        print_message("case: %s\n", cases[c].name);
        unlink(p);
        free(p);
        p = tpath(t, "spool.off");
        unlink(p);
        free(p);
        sp = topen(t);
        tappend_ok(sp, recs, 3);
        spool_free(sp);
        twrite(t, "spool.off", cases[c].off, strlen(cases[c].off), O_TRUNC);

        sp = topen(t);
        assert_int_equal(spool_depth(sp), cases[c].depth);
        tpeek(sp, 1, &b);
        assert_int_equal(b.n, 1);
        assert_string_equal(b.recs[0], cases[c].first);
        spool_batch_release(&b);
        spool_free(sp);
    }
}

static void
test_skips_blank_and_overlong_lines(void **state)
{
    struct tdir *t = *state;
    size_t biglen = 16 * MIB + 1;
    char *big = xmalloc(biglen + 1);
    struct spool *sp;
    struct spool_batch b;
    const char *ab[] = {"a", "b"};
    const char *c[] = {"c"};
    long long size;

    memset(big, 'x', biglen);
    big[biglen] = '\n';
    twrite(t, "spool.log", "a\n\n\nb\n", 6, O_APPEND);
    twrite(t, "spool.log", big, biglen + 1, O_APPEND);
    twrite(t, "spool.log", "c\n", 2, O_APPEND);
    free(big);
    size = tsize(t, "spool.log");

    sp = topen(t);
    assert_int_equal(spool_depth(sp), 3);
    assert_int_equal(spool_bytes(sp), (uint64_t)size);
    tpeek(sp, 2, &b);
    tbatch_is(&b, ab, 2);
    assert_int_equal(b.end_offset, 6);
    tcommit(sp, &b);
    spool_batch_release(&b);
    assert_int_equal(spool_depth(sp), 1);

    /* The overlong line is passed over, and committed past. */
    tpeek(sp, 10, &b);
    tbatch_is(&b, c, 1);
    assert_int_equal(b.end_offset, (uint64_t)size);
    tcommit(sp, &b);
    spool_batch_release(&b);
    assert_int_equal(spool_depth(sp), 0);
    assert_int_equal(tsize(t, "spool.log"), 0);
    spool_free(sp);

    /* A file of blank lines only holds nothing: reset at open. */
    twrite(t, "spool.log", "\n\n\n", 3, O_APPEND);
    sp = topen(t);
    assert_int_equal(spool_depth(sp), 0);
    assert_int_equal(spool_bytes(sp), 0);
    assert_int_equal(tsize(t, "spool.log"), 0);
    spool_free(sp);
}

static void
test_commit_checks_the_batch(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch one, two, fake;
    const char *recs[] = {"abc", "def", "ghi"};
    char err[256] = "";
    char *off;

    tappend_ok(sp, recs, 3);
    tpeek(sp, 1, &one);
    tpeek(sp, 2, &two);

    tcommit(sp, &one);
    assert_int_equal(spool_depth(sp), 2);
    /* A second commit of the same batch is a no-op. */
    tcommit(sp, &one);
    assert_int_equal(spool_depth(sp), 2);

    /* An end inside a record or past the file is refused. */
    memset(&fake, 0, sizeof(fake));
    fake.end_offset = 6;
    assert_int_equal(spool_commit(sp, &fake, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "boundary"));
    fake.end_offset = 100;
    assert_int_equal(spool_commit(sp, &fake, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "past the end"));
    assert_int_equal(spool_depth(sp), 2);
    off = toff(t);
    assert_string_equal(off, "4\n");
    free(off);

    /* A batch peeked before the last commit only counts what is new. */
    tcommit(sp, &two);
    assert_int_equal(spool_depth(sp), 1);
    assert_int_equal(spool_bytes(sp), 4);

    spool_batch_release(&one);
    spool_batch_release(&two);
    spool_batch_release(&two); /* release twice is harmless */
    spool_free(sp);
}

static void
test_peek_limits(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool_batch b;
    size_t len = MIB;
    char *rec = xmalloc(len);
    const char *recs[1] = {rec};
    char err[256] = "";

    memset(rec, 'm', len);
    for (int i = 0; i < 20; i++)
        assert_int_equal(spool_append(sp, recs, &len, 1, err, sizeof(err)), 0);

    tpeek(sp, 0, &b);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.end_offset, 0);
    spool_batch_release(&b);

    /* A batch stops at 16 MiB of records even below max. */
    tpeek(sp, 100, &b);
    assert_int_equal(b.n, 16);
    assert_int_equal(b.end_offset, 16 * (MIB + 1));
    tcommit(sp, &b);
    spool_batch_release(&b);
    tpeek(sp, 100, &b);
    assert_int_equal(b.n, 4);
    tcommit(sp, &b);
    spool_batch_release(&b);
    assert_int_equal(spool_depth(sp), 0);
    free(rec);
    spool_free(sp);
}

static void
test_open_errors(void **state)
{
    struct tdir *t = *state;
    struct spool *sp = topen(t);
    struct spool *other;
    char *missing = tpath(t, "nope");
    char err[256] = "";

    /* One spool per directory at a time. */
    other = spool_open(t->path, err, sizeof(err));
    assert_null(other);
    assert_non_null(strstr(err, "in use"));
    spool_free(sp);
    other = topen(t);
    spool_free(other);

    err[0] = '\0';
    assert_null(spool_open(missing, err, sizeof(err)));
    assert_non_null(strstr(err, "nope"));
    free(missing);
    spool_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_peek_commit_order,
                                        tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_records, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_resumes_from_offset,
                                        tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_binary_safe_records, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_records, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_append_failure_rolls_back,
                                        tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_many_small_records, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_bad_offset_file, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_skips_blank_and_overlong_lines,
                                        tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_commit_checks_the_batch,
                                        tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(test_peek_limits, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, tdir_setup,
                                        tdir_teardown),
    };

    /* Recovery actions log warnings; keep the test output readable. */
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
