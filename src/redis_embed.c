#include "redis_embed.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define EMBED_START_TIMEOUT_MS 60000
#define EMBED_STOP_TIMEOUT_MS  10000

struct redis_embed {
    pid_t pid; /* 0 when we did not start it */
    char *sock;
    char *url;
};

static bool
socket_answers(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0)
        return false;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

struct redis_embed *
redis_embed_start(const char *state_dir, char *err, size_t errlen)
{
    struct redis_embed *re = xcalloc(1, sizeof(*re));
    char abs_dir[PATH_MAX];
    char *dir = NULL, *logf = NULL;
    const char *bin = getenv("WR_REDIS_SERVER");
    pid_t parent = getpid();
    int64_t deadline;

    if (bin == NULL || *bin == '\0')
        bin = "redis-server";
    if (realpath(state_dir, abs_dir) == NULL) {
        snprintf(err, errlen, "state_dir %s: %s", state_dir, strerror(errno));
        goto fail;
    }
    dir = xasprintf("%s/redis", abs_dir);
    if (mkdir_p(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    re->sock = xasprintf("%s/redis.sock", dir);
    re->url = xasprintf("unix:%s", re->sock);
    if (strlen(re->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen,
                 "the embedded Redis socket path %s is too long; use a "
                 "shorter state_dir",
                 re->sock);
        goto fail;
    }
    if (socket_answers(re->sock)) {
        log_warn("msg=\"embedded redis already running, using it\" "
                 "socket=%s",
                 re->sock);
        free(dir);
        return re;
    }
    unlink(re->sock);
    logf = xasprintf("%s/redis.log", dir);
    re->pid = fork();
    if (re->pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto fail;
    }
    if (re->pid == 0) {
        int devnull = open("/dev/null", O_RDWR);

        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        execlp(bin, bin, "--port", "0", "--unixsocket", re->sock,
               "--unixsocketperm", "700", "--dir", dir, "--appendonly", "yes",
               "--appendfsync", "everysec", "--save", "", "--maxmemory-policy",
               "noeviction", "--daemonize", "no", "--logfile", logf,
               (char *)NULL);
        fprintf(stderr, "level=error msg=\"cannot run %s: %s\"\n", bin,
                strerror(errno));
        _exit(127);
    }
    deadline = wr_mono_ms() + EMBED_START_TIMEOUT_MS;
    while (!socket_answers(re->sock)) {
        int status;

        if (waitpid(re->pid, &status, WNOHANG) == re->pid) {
            re->pid = 0;
            snprintf(err, errlen,
                     "the embedded redis-server exited at start (status %d); "
                     "see %s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, logf);
            goto fail;
        }
        if (wr_mono_ms() > deadline) {
            snprintf(err, errlen,
                     "the embedded redis-server did not open %s in time; "
                     "see %s",
                     re->sock, logf);
            goto fail;
        }
        sleep_ms(20);
    }
    log_info("msg=\"embedded redis started\" pid=%ld socket=%s", (long)re->pid,
             re->sock);
    free(dir);
    free(logf);
    return re;
fail:
    free(dir);
    free(logf);
    redis_embed_stop(re);
    return NULL;
}

const char *
redis_embed_url(const struct redis_embed *re)
{
    return re->url;
}

void
redis_embed_stop(struct redis_embed *re)
{
    int64_t deadline;

    if (re == NULL)
        return;
    if (re->pid > 0) {
        kill(re->pid, SIGTERM);
        deadline = wr_mono_ms() + EMBED_STOP_TIMEOUT_MS;
        while (waitpid(re->pid, NULL, WNOHANG) == 0) {
            if (wr_mono_ms() > deadline) {
                kill(re->pid, SIGKILL);
                waitpid(re->pid, NULL, 0);
                break;
            }
            sleep_ms(20);
        }
        log_info("msg=\"embedded redis stopped\" pid=%ld", (long)re->pid);
    }
    free(re->sock);
    free(re->url);
    free(re);
}
