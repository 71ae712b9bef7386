/* Diagnostic logging: "LEVEL component: message" lines.
 *
 * By default lines go to stderr with write(2). A worker installs a sink that
 * queues them on its ring instead, so a full pipe never blocks the data plane. */
#ifndef GW_LIB_LOG_H
#define GW_LIB_LOG_H

#include <stddef.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Receives one complete line (with its newline). */
typedef void (*log_sink_fn)(const char *line, size_t len, void *arg);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parse "error", "warn", "info", "debug"; 0 or -EINVAL. */
int log_level_parse(const char *text, enum log_level *out);

/* Name shown at the start of every line, e.g. "master" or "worker 1". */
void log_set_ident(const char *ident);

/* Install <sink> (NULL restores direct writes to stderr). */
void log_set_sink(log_sink_fn sink, void *arg);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  do { if (log_get_level() >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
