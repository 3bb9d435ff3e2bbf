/*
 * Logging: one line per event, to stderr (or syslog when asked), never a
 * secret. Messages name the state change and its reason, e.g.
 *   log_info("udp: no answer in %.1fs, trying tcp %s", ...).
 *
 * On a terminal or into a file a line starts with the time and a level
 * letter ("12:00:01.234 I ..."). When stderr is systemd's journal
 * (JOURNAL_STREAM names stderr's device and inode, as systemd sets it for
 * StandardError=journal), a line is "<6>..." instead: the syslog priority
 * the journal reads, and no time of our own (the journal keeps its own).
 */
#ifndef IKEAGENT_UTIL_LOG_H
#define IKEAGENT_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_use_syslog(bool on);
/*
 * Look at JOURNAL_STREAM and stderr once (at start; log_msg calls it on
 * first use): true when lines go to the journal with priority prefixes.
 */
bool log_detect_journal(void);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_LVL_DEBUG) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

/*
 * Rate limit for per-packet messages: true at most once per interval_s per
 * call site (pass a static struct log_ratelimit).
 */
struct log_ratelimit { long long last_ms; unsigned suppressed; };
bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned interval_s);

#endif
