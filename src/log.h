/*
 * log: one key=value line per event on stderr. The macros test the level
 * before evaluating their arguments.
 */
#ifndef WR_LOG_H
#define WR_LOG_H

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_MAX
};

extern enum log_level log_current_level;

void log_set_level(enum log_level level);
/* "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(enum log_level level);

void log_write(enum log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_at(lvl, ...)                             \
    do {                                             \
        if ((lvl) <= log_current_level)              \
            log_write((lvl), __func__, __VA_ARGS__); \
    } while (0)

#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
