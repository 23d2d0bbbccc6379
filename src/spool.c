/*
 * spool: see spool.h for the contract and the file format.
 *
 * Invariants kept in memory and on disk:
 * - sp->size is the length of spool.log and always sits just past a '\n'
 *   (or is 0). An append writes whole records and fsyncs before returning;
 *   a failed append is truncated back. At open a tail without a final '\n'
 *   (a torn append that was never acknowledged) is cut off.
 * - spool.off never points past what has been drained into Redis, and
 *   always at a record boundary of the current spool.log. Any value that
 *   breaks this (garbage, past the end, inside a record) is treated as 0: the
 *   whole file is drained again, which loses nothing because Redis
 *   deduplicates events by id.
 * - A reset (everything drained) removes spool.off and fsyncs the directory
 *   *before* truncating spool.log, so a crash in between leaves offset 0 over
 *   the old records (re-drained, deduplicated), never an old offset over new
 *   records (which would skip them).
 *
 * Lines that are not records are skipped by the reader: empty lines, and
 * lines longer than SPOOL_MAX_RECORD (spool_append never writes either, so
 * they can only come from corruption; refusing them would wedge the drain
 * forever). Skipped lines are not counted in the depth and are passed over
 * by the next commit.
 */
#include "spool.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define SPOOL_LOG_NAME "spool.log"
#define SPOOL_OFF_NAME "spool.off"
/* Longest record accepted by append and read back by peek. */
#define SPOOL_MAX_RECORD ((size_t)16 * 1024 * 1024)
/* A peek stops adding records once the batch holds this many bytes. */
#define SPOOL_BATCH_BYTES ((size_t)16 * 1024 * 1024)
/* Read size for scans. */
#define SPOOL_CHUNK ((size_t)64 * 1024)
/* spool.off holds one decimal number; anything longer is garbage. */
#define SPOOL_OFF_MAX_FILE 64

struct spool {
    int dirfd;
    int fd;
    char *off_path;
    uint64_t size; /* bytes in spool.log, at a record boundary */
    uint64_t off;  /* drain offset, at a record boundary, <= size */
    size_t depth;  /* records in [off, size) */
    bool broken;   /* a failed append could not be truncated back */
};

/* Sequential line reader over [start, end) of spool.log, by pread. */
struct spool_reader {
    int fd;
    uint64_t base; /* file offset of chunk[0] */
    uint64_t end;
    char *chunk;
    size_t len; /* valid bytes in chunk */
    size_t idx; /* consumed bytes in chunk */
};

struct spool_line {
    uint64_t start; /* file offset of the first byte */
    uint64_t len;   /* bytes before the '\n' */
    bool overlong;  /* len > SPOOL_MAX_RECORD: content was not kept */
};

static void
reader_init(struct spool_reader *r, int fd, uint64_t start, uint64_t end)
{
    r->fd = fd;
    r->base = start;
    r->end = end;
    r->chunk = xmalloc(SPOOL_CHUNK);
    r->len = 0;
    r->idx = 0;
}

static void
reader_release(struct spool_reader *r)
{
    free(r->chunk);
    r->chunk = NULL;
}

/* 1 with more bytes in the chunk, 0 at the end of the range, -1 on error. */
static int
reader_fill(struct spool_reader *r, char *err, size_t errlen)
{
    uint64_t left;
    size_t want;
    ssize_t got;

    r->base += r->len;
    r->len = 0;
    r->idx = 0;
    left = r->end - r->base;
    if (left == 0)
        return 0;
    want = left < SPOOL_CHUNK ? (size_t)left : SPOOL_CHUNK;
    do {
        got = pread(r->fd, r->chunk, want, (off_t)r->base);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        snprintf(err, errlen, "cannot read " SPOOL_LOG_NAME ": %s",
                 strerror(errno));
        return -1;
    }
    if (got == 0) {
        snprintf(err, errlen,
                 SPOOL_LOG_NAME " is shorter than expected (%" PRIu64
                                " bytes, expected %" PRIu64 ")",
                 r->base, r->end);
        return -1;
    }
    r->len = (size_t)got;
    return 1;
}

/*
 * Read the next line. Its content (without the '\n') goes to out when out is
 * not NULL and the line is not overlong. 1 with a line, 0 at the end of the
 * range, -1 on a read error or a range that ends inside a line.
 */
static int
reader_next(struct spool_reader *r, struct buf *out, struct spool_line *ln,
            char *err, size_t errlen)
{
    ln->start = r->base + r->idx;
    ln->len = 0;
    ln->overlong = false;
    if (out != NULL)
        out->len = 0;
    for (;;) {
        const char *p;
        const char *nl;
        size_t seg;

        if (r->idx == r->len) {
            int rc = reader_fill(r, err, errlen);

            if (rc < 0)
                return -1;
            if (rc == 0) {
                if (ln->len == 0)
                    return 0;
                snprintf(err, errlen,
                         "no record boundary at offset %" PRIu64
                         " (record at %" PRIu64 " is cut)",
                         r->end, ln->start);
                return -1;
            }
        }
        p = r->chunk + r->idx;
        nl = memchr(p, '\n', r->len - r->idx);
        seg = nl != NULL ? (size_t)(nl - p) : r->len - r->idx;
        if (!ln->overlong) {
            if (ln->len + seg > SPOOL_MAX_RECORD) {
                ln->overlong = true;
                if (out != NULL)
                    out->len = 0;
            } else if (out != NULL) {
                buf_append(out, p, seg);
            }
        }
        ln->len += seg;
        r->idx += seg;
        if (nl != NULL) {
            r->idx++;
            return 1;
        }
    }
}

/* Count records (and skipped corrupt lines) in [from, to). */
static int
spool_count(const struct spool *sp, uint64_t from, uint64_t to, size_t *records,
            size_t *overlong, char *err, size_t errlen)
{
    struct spool_reader r;
    struct spool_line ln;
    int rc;

    *records = 0;
    *overlong = 0;
    reader_init(&r, sp->fd, from, to);
    while ((rc = reader_next(&r, NULL, &ln, err, errlen)) > 0) {
        if (ln.overlong)
            (*overlong)++;
        else if (ln.len > 0)
            (*records)++;
    }
    reader_release(&r);
    return rc;
}

/* Offset just past the last '\n' in the first size bytes, or 0. */
static int
spool_last_boundary(int fd, uint64_t size, uint64_t *out, char *err,
                    size_t errlen)
{
    char *chunk = xmalloc(SPOOL_CHUNK);
    uint64_t pos = size;

    *out = 0;
    while (pos > 0) {
        size_t want = pos < SPOOL_CHUNK ? (size_t)pos : SPOOL_CHUNK;
        ssize_t got;

        do {
            got = pread(fd, chunk, want, (off_t)(pos - want));
        } while (got < 0 && errno == EINTR);
        if (got != (ssize_t)want) {
            snprintf(err, errlen, "cannot read " SPOOL_LOG_NAME ": %s",
                     got < 0 ? strerror(errno) : "short read");
            free(chunk);
            return -1;
        }
        for (size_t i = want; i > 0; i--) {
            if (chunk[i - 1] == '\n') {
                *out = pos - want + i;
                free(chunk);
                return 0;
            }
        }
        pos -= want;
    }
    free(chunk);
    return 0;
}

/* True if off is 0 or follows a '\n'. */
static int
spool_at_boundary(const struct spool *sp, uint64_t off, bool *yes, char *err,
                  size_t errlen)
{
    char c;
    ssize_t got;

    *yes = true;
    if (off == 0)
        return 0;
    do {
        got = pread(sp->fd, &c, 1, (off_t)(off - 1));
    } while (got < 0 && errno == EINTR);
    if (got != 1) {
        snprintf(err, errlen, "cannot read " SPOOL_LOG_NAME ": %s",
                 got < 0 ? strerror(errno) : "short read");
        return -1;
    }
    *yes = c == '\n';
    return 0;
}

/*
 * Read spool.off. Missing is 0; content that is not a decimal offset is
 * logged and read as 0 (drain everything again: nothing is lost). Only a
 * failure to read the file at all is an error.
 */
static int
spool_read_off(const struct spool *sp, uint64_t *off, char *err, size_t errlen)
{
    char *s;
    size_t len = 0;
    int64_t v;
    char esc[96];

    *off = 0;
    s = read_file(sp->off_path, SPOOL_OFF_MAX_FILE, &len);
    if (s == NULL) {
        if (errno == ENOENT)
            return 0;
        if (errno == EFBIG) {
            log_warn("msg=\"" SPOOL_OFF_NAME
                     " is too long; draining the spool from the start\"");
            return 0;
        }
        snprintf(err, errlen, "cannot read %s: %s", sp->off_path,
                 strerror(errno));
        return -1;
    }
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
                       s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (parse_i64n(s, len, 0, INT64_MAX, &v) != 0) {
        log_warn("msg=\"" SPOOL_OFF_NAME
                 " is not an offset; draining the spool from the "
                 "start\" content=\"%s\"",
                 str_escape(s, len, esc, sizeof(esc)));
        free(s);
        return 0;
    }
    free(s);
    *off = (uint64_t)v;
    return 0;
}

static int
spool_write_off(const struct spool *sp, uint64_t off, char *err, size_t errlen)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%" PRIu64 "\n", off);

    if (write_file_atomic(sp->off_path, num, (size_t)n, 0600) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", sp->off_path,
                 strerror(errno));
        return -1;
    }
    if (fsync(sp->dirfd) != 0) {
        snprintf(err, errlen, "cannot sync the spool directory: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Everything is drained: remove spool.off (durably) first, then empty
 * spool.log. On failure nothing in memory changes.
 */
static int
spool_reset(struct spool *sp, char *err, size_t errlen)
{
    if (unlink(sp->off_path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", sp->off_path,
                 strerror(errno));
        return -1;
    }
    if (fsync(sp->dirfd) != 0) {
        snprintf(err, errlen, "cannot sync the spool directory: %s",
                 strerror(errno));
        return -1;
    }
    if (ftruncate(sp->fd, 0) != 0) {
        snprintf(err, errlen, "cannot truncate " SPOOL_LOG_NAME ": %s",
                 strerror(errno));
        return -1;
    }
    sp->size = 0;
    sp->off = 0;
    sp->depth = 0;
    sp->broken = false;
    /* With spool.off gone, a lost truncate only means draining again. */
    if (fdatasync(sp->fd) != 0)
        log_warn("msg=\"cannot sync the emptied " SPOOL_LOG_NAME
                 "\" error=\"%s\"",
                 strerror(errno));
    return 0;
}

/* Find where the drain resumes: spool.off if it is sane, else 0. */
static int
spool_load_off(struct spool *sp, char *err, size_t errlen)
{
    uint64_t off;
    bool ok;

    if (spool_read_off(sp, &off, err, errlen) != 0)
        return -1;
    if (off > sp->size) {
        log_warn("msg=\"" SPOOL_OFF_NAME " is past the end of " SPOOL_LOG_NAME
                 "; draining the spool from the start\" offset=%" PRIu64
                 " size=%" PRIu64,
                 off, sp->size);
        off = 0;
    }
    if (spool_at_boundary(sp, off, &ok, err, errlen) != 0)
        return -1;
    if (!ok) {
        log_warn("msg=\"" SPOOL_OFF_NAME
                 " is inside a record; draining the spool from the "
                 "start\" offset=%" PRIu64,
                 off);
        off = 0;
    }
    sp->off = off;
    return 0;
}

struct spool *
spool_open(const char *dir, char *err, size_t errlen)
{
    struct spool *sp = xcalloc(1, sizeof(*sp));
    struct stat st;
    uint64_t cut;
    size_t overlong;

    sp->fd = -1;
    sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dirfd < 0) {
        snprintf(err, errlen, "cannot open spool directory %s: %s", dir,
                 strerror(errno));
        goto fail;
    }
    sp->off_path = xasprintf("%s/" SPOOL_OFF_NAME, dir);
    sp->fd = openat(sp->dirfd, SPOOL_LOG_NAME,
                    O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (sp->fd < 0) {
        snprintf(err, errlen, "cannot open %s/" SPOOL_LOG_NAME ": %s", dir,
                 strerror(errno));
        goto fail;
    }
    if (flock(sp->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "cannot lock %s/" SPOOL_LOG_NAME ": %s", dir,
                 errno == EWOULDBLOCK ? "in use by another spool"
                                      : strerror(errno));
        goto fail;
    }
    /* Make the file's creation durable before anything is acknowledged. */
    if (fsync(sp->dirfd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (fstat(sp->fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s/" SPOOL_LOG_NAME ": %s", dir,
                 strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s/" SPOOL_LOG_NAME " is not a regular file",
                 dir);
        goto fail;
    }
    sp->size = (uint64_t)st.st_size;

    /* A tail without '\n' is an append that was never acknowledged. */
    if (spool_last_boundary(sp->fd, sp->size, &cut, err, errlen) != 0)
        goto fail;
    if (cut < sp->size) {
        log_warn("msg=\"cutting a torn record off the spool\" offset=%" PRIu64
                 " bytes=%" PRIu64,
                 cut, sp->size - cut);
        if (ftruncate(sp->fd, (off_t)cut) != 0 || fdatasync(sp->fd) != 0) {
            snprintf(err, errlen,
                     "cannot cut the torn tail of %s/" SPOOL_LOG_NAME ": %s",
                     dir, strerror(errno));
            goto fail;
        }
        sp->size = cut;
    }

    if (spool_load_off(sp, err, errlen) != 0)
        goto fail;
    if (spool_count(sp, sp->off, sp->size, &sp->depth, &overlong, err,
                    errlen) != 0)
        goto fail;
    if (overlong > 0)
        log_warn("msg=\"the spool holds corrupt records longer than the "
                 "cap; they will be skipped\" count=%zu cap=%zu",
                 overlong, SPOOL_MAX_RECORD);
    /* Only blank or corrupt lines left (or all drained): start afresh. */
    if (sp->depth == 0 && sp->size > 0) {
        char rerr[256];

        if (spool_reset(sp, rerr, sizeof(rerr)) != 0)
            log_warn("msg=\"cannot reset the drained spool\" error=\"%s\"",
                     rerr);
    }
    return sp;
fail:
    spool_free(sp);
    return NULL;
}

void
spool_free(struct spool *sp)
{
    if (sp == NULL)
        return;
    if (sp->fd >= 0)
        close(sp->fd);
    if (sp->dirfd >= 0)
        close(sp->dirfd);
    free(sp->off_path);
    free(sp);
}

int
spool_append(struct spool *sp, const char *const *recs, const size_t *lens,
             size_t n, char *err, size_t errlen)
{
    struct buf out;
    size_t done = 0;
    int saved;

    if (n == 0)
        return 0;
    if (sp->broken) {
        snprintf(err, errlen,
                 SPOOL_LOG_NAME " could not be rolled back after a failed "
                                "append; reopen the spool");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0) {
            snprintf(err, errlen, "record %zu is empty", i);
            return -1;
        }
        if (lens[i] > SPOOL_MAX_RECORD) {
            snprintf(err, errlen, "record %zu is too long (%zu bytes, max %zu)",
                     i, lens[i], SPOOL_MAX_RECORD);
            return -1;
        }
        if (memchr(recs[i], '\n', lens[i]) != NULL) {
            snprintf(err, errlen, "record %zu contains a newline", i);
            return -1;
        }
    }

    buf_init(&out);
    for (size_t i = 0; i < n; i++) {
        buf_append(&out, recs[i], lens[i]);
        buf_append(&out, "\n", 1);
    }
    while (done < out.len) {
        ssize_t w = write(sp->fd, out.data + done, out.len - done);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        if (w == 0) {
            errno = EIO;
            goto fail;
        }
        done += (size_t)w;
    }
    if (fdatasync(sp->fd) != 0)
        goto fail;
    sp->size += out.len;
    sp->depth += n;
    buf_release(&out);
    return 0;
fail:
    saved = errno;
    snprintf(err, errlen, "cannot append to " SPOOL_LOG_NAME ": %s",
             strerror(saved));
    if (ftruncate(sp->fd, (off_t)sp->size) != 0) {
        /* Later appends would land after the partial bytes. */
        sp->broken = true;
        log_error("msg=\"cannot roll back a failed spool append\" "
                  "error=\"%s\"",
                  strerror(errno));
    }
    buf_release(&out);
    return -1;
}

size_t
spool_depth(const struct spool *sp)
{
    return sp->depth;
}

uint64_t
spool_bytes(const struct spool *sp)
{
    return sp->size - sp->off;
}

int
spool_peek(struct spool *sp, size_t max, struct spool_batch *b, char *err,
           size_t errlen)
{
    struct spool_reader r;
    struct spool_line ln;
    struct buf line;
    size_t cap = 0;
    size_t bytes = 0;
    int rc = 0;

    memset(b, 0, sizeof(*b));
    b->end_offset = sp->off;
    if (max == 0 || sp->off == sp->size)
        return 0;
    reader_init(&r, sp->fd, sp->off, sp->size);
    buf_init(&line);
    while (b->n < max && bytes < SPOOL_BATCH_BYTES) {
        rc = reader_next(&r, &line, &ln, err, errlen);
        if (rc <= 0)
            break;
        b->end_offset = ln.start + ln.len + 1;
        if (ln.overlong) {
            log_warn("msg=\"skipping a corrupt spool record longer than "
                     "the cap\" offset=%" PRIu64 " bytes=%" PRIu64 " cap=%zu",
                     ln.start, ln.len, SPOOL_MAX_RECORD);
            continue;
        }
        if (ln.len == 0)
            continue;
        if (b->n == cap) {
            cap = cap ? cap * 2 : 16;
            b->recs = xrealloc(b->recs, cap * sizeof(*b->recs));
            b->lens = xrealloc(b->lens, cap * sizeof(*b->lens));
        }
        b->recs[b->n] = xmalloc(line.len + 1);
        memcpy(b->recs[b->n], line.data, line.len);
        b->recs[b->n][line.len] = '\0';
        b->lens[b->n] = line.len;
        b->n++;
        bytes += line.len;
    }
    buf_release(&line);
    reader_release(&r);
    if (rc < 0) {
        spool_batch_release(b);
        b->end_offset = sp->off;
        return -1;
    }
    return 0;
}

int
spool_commit(struct spool *sp, const struct spool_batch *b, char *err,
             size_t errlen)
{
    size_t records;
    size_t overlong;

    if (b->end_offset <= sp->off)
        return 0;
    if (b->end_offset > sp->size) {
        snprintf(err, errlen,
                 "batch ends at %" PRIu64
                 ", past the end of the spool (%" PRIu64 "): a stale batch?",
                 b->end_offset, sp->size);
        return -1;
    }
    /*
     * Count what the commit passes over rather than trusting b->n: the
     * batch may have been peeked before an earlier commit. This also
     * refuses an end that is not a record boundary.
     */
    if (spool_count(sp, sp->off, b->end_offset, &records, &overlong, err,
                    errlen) != 0)
        return -1;
    if (b->end_offset == sp->size)
        return spool_reset(sp, err, errlen);
    if (spool_write_off(sp, b->end_offset, err, errlen) != 0)
        return -1;
    sp->off = b->end_offset;
    sp->depth = records < sp->depth ? sp->depth - records : 0;
    return 0;
}

void
spool_batch_release(struct spool_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->recs[i]);
    free(b->recs);
    free(b->lens);
    memset(b, 0, sizeof(*b));
}
