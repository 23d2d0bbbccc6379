/*
 * spool: the append-only fallback for events while Redis is unreachable.
 * Records are appended and fsynced before the webhook is answered, then
 * drained into the stream in order when Redis is back. A crash at any point
 * loses nothing that was acknowledged: a torn last record (never
 * acknowledged) is cut off at open, and the read offset is persisted only
 * after the drained records are in Redis (which deduplicates re-drained
 * events by their ids).
 *
 * Files in dir: spool.log (records: one event JSON per line; a record never
 * contains a raw newline) and spool.off (the decimal byte offset of the
 * first record not yet drained). When everything is drained both are reset.
 */
#ifndef WR_SPOOL_H
#define WR_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* Open or create the spool under dir (which must exist). NULL with err. */
struct spool *spool_open(const char *dir, char *err, size_t errlen);
void spool_free(struct spool *sp);

/*
 * Append n records (recs[i] of lens[i] bytes, no newline inside) and fsync.
 * All or nothing: on failure the file is truncated back and -1 is returned
 * with err. 0 on success.
 */
int spool_append(struct spool *sp, const char *const *recs, const size_t *lens,
                 size_t n, char *err, size_t errlen);

/* Records appended and not yet committed as drained. */
size_t spool_depth(const struct spool *sp);
/* Bytes in spool.log not yet drained. */
uint64_t spool_bytes(const struct spool *sp);

/* A batch of records read from the drain offset. */
struct spool_batch {
    char **recs; /* owned NUL-terminated copies */
    size_t *lens;
    size_t n;
    uint64_t end_offset; /* offset just past the last record */
};

/*
 * Read up to max records from the drain offset into b (initialized by the
 * call; release with spool_batch_release). 0 with b->n == 0 when empty.
 */
int spool_peek(struct spool *sp, size_t max, struct spool_batch *b, char *err,
               size_t errlen);
/*
 * Persist that b's records are in Redis: the offset moves to b->end_offset
 * (fsynced); when it reaches the end of the file both files are reset.
 */
int spool_commit(struct spool *sp, const struct spool_batch *b, char *err,
                 size_t errlen);
void spool_batch_release(struct spool_batch *b);

#endif
