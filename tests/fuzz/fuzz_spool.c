/*
 * fuzz_spool: arbitrary bytes as a spool left behind by a crash. The input
 * is spool.log (when its first byte is odd, the first line after that byte
 * is spool.off instead). The spool is opened, drained in small batches, and
 * must end empty; then a record is appended and read back.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];
static char *fuzz_log;
static char *fuzz_off;

static void
fuzz_write(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0)
        abort();
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w <= 0)
            abort();
        p += w;
        len -= (size_t)w;
    }
    close(fd);
}

static void
fuzz_cleanup(void)
{
    unlink(fuzz_log);
    unlink(fuzz_off);
}

static void
fuzz_remove_dir(void)
{
    fuzz_cleanup();
    rmdir(fuzz_dir);
}

static void
fuzz_setup(void)
{
    if (fuzz_log != NULL)
        return;
    snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/wr-fuzz-spool-XXXXXX");
    if (mkdtemp(fuzz_dir) == NULL)
        abort();
    fuzz_log = xasprintf("%s/spool.log", fuzz_dir);
    fuzz_off = xasprintf("%s/spool.off", fuzz_dir);
    log_set_level(LOG_LEVEL_ERROR);
    atexit(fuzz_remove_dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spool *sp;
    struct spool_batch b;
    char err[256];
    const char *rec = "{\"event\":\"fuzz\"}";
    size_t reclen = strlen(rec);
    size_t rounds = 0;

    if (size > 1 << 20)
        return 0;
    fuzz_setup();
    fuzz_cleanup();
    if (size > 0 && (data[0] & 1)) {
        const uint8_t *nl = memchr(data + 1, '\n', size - 1);
        size_t offlen = nl != NULL ? (size_t)(nl - (data + 1)) : size - 1;

        fuzz_write(fuzz_off, data + 1, offlen);
        data += 1 + offlen;
        size -= 1 + offlen;
    }
    fuzz_write(fuzz_log, data, size);

    sp = spool_open(fuzz_dir, err, sizeof(err));
    if (sp == NULL)
        abort(); /* any content must open: recovery never fails */
    /* Every batch moves forward, so this ends within size rounds. */
    for (;;) {
        uint64_t before = spool_bytes(sp);

        if (spool_peek(sp, 3, &b, err, sizeof(err)) != 0)
            abort();
        for (size_t i = 0; i < b.n; i++)
            if (b.lens[i] == 0 || memchr(b.recs[i], '\n', b.lens[i]) ||
                b.recs[i][b.lens[i]] != '\0')
                abort();
        if (b.n == 0 && spool_bytes(sp) == 0) {
            spool_batch_release(&b);
            break;
        }
        if (spool_commit(sp, &b, err, sizeof(err)) != 0)
            abort();
        spool_batch_release(&b);
        if (spool_bytes(sp) >= before || ++rounds > size + 1)
            abort();
    }
    if (spool_depth(sp) != 0)
        abort();

    if (spool_append(sp, &rec, &reclen, 1, err, sizeof(err)) != 0 ||
        spool_peek(sp, 10, &b, err, sizeof(err)) != 0)
        abort();
    if (b.n != 1 || b.lens[0] != reclen || memcmp(b.recs[0], rec, reclen))
        abort();
    spool_batch_release(&b);
    spool_free(sp);
    fuzz_cleanup();
    return 0;
}
