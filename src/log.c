#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

enum log_level log_current_level = LOG_LEVEL_INFO;

static const char *const level_names[LOG_LEVEL_MAX] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void
log_set_level(enum log_level level)
{
    if (level < LOG_LEVEL_MAX)
        log_current_level = level;
}

int
log_level_from_name(const char *name)
{
    for (int i = 0; i < LOG_LEVEL_MAX; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *
log_level_name(enum log_level level)
{
    return level < LOG_LEVEL_MAX ? level_names[level] : "unknown";
}

void
log_write(enum log_level level, const char *func, const char *fmt, ...)
{
    char ts[WR_TIME_BUF];
    char line[2048];
    va_list ap;
    int n;

    wr_time_format(wr_now(), ts);
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (level == LOG_LEVEL_DEBUG)
        fprintf(stderr, "ts=%s level=%s func=%s %s\n", ts,
                log_level_name(level), func, line);
    else
        fprintf(stderr, "ts=%s level=%s %s\n", ts, log_level_name(level), line);
}
