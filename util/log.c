#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_LVL_INFO;
static bool to_syslog;
static int to_journal = -1;	/* -1: not looked at yet */

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }

void log_use_syslog(bool on)
{
	if (on && !to_syslog)
		openlog("ikeagent", LOG_PID, LOG_DAEMON);
	to_syslog = on;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected to stderr. */
bool log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	to_journal = js && sscanf(js, "%llu:%llu%n", &dev, &ino, &n) == 2 && js[n] == '\0' &&
		     fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
		     (unsigned long long)st.st_ino == ino;
	return to_journal;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char tag[] = { 'E', 'W', 'I', 'D' };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	va_list ap;

	if (lvl > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(prio[lvl], "%s", line);
		return;
	}
	if (to_journal < 0)
		log_detect_journal();
	if (to_journal) {
		fprintf(stderr, "<%d>%s\n", prio[lvl], line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %c %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, tag[lvl], line);
}

bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned interval_s)
{
	struct timespec ts;
	long long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (rl->last_ms && now - rl->last_ms < (long long)interval_s * 1000) {
		rl->suppressed++;
		return false;
	}
	rl->last_ms = now;
	rl->suppressed = 0;
	return true;
}
