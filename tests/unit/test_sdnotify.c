/*
 * systemd's notification protocol (util/sdnotify.c) against a socket of
 * our own playing systemd, and journal-style log lines (util/log.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/check_main.h"
#include "util/log.h"
#include "util/sdnotify.h"

/* A datagram socket at path ("@name": abstract); its fd. */
static int listener(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(len, sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

/* The next datagram as a string ("" if none waits). */
static void next_msg(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
}

START_TEST(not_under_systemd_is_silent)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(sdnotify_init(), 0);
	ck_assert(!sdnotify_enabled());
	ck_assert_uint_eq(sdnotify_watchdog_ms(), 0);
	sdnotify_ready("up");	/* nothing to send to: no crash, no error */
}
END_TEST

START_TEST(ready_status_watchdog_on_path_socket)
{
	char dir[] = "/tmp/ikeagent-sdn-XXXXXX", path[64], msg[600], pid[16];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "4000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_int_eq(sdnotify_init(), 0);
	ck_assert(sdnotify_enabled());
	ck_assert_uint_eq(sdnotify_watchdog_ms(), 4000);
	/* Nothing we start may speak to systemd in our name. */
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
	ck_assert_ptr_null(getenv("WATCHDOG_PID"));

	sdnotify_ready("up over %s", "tcp");
	next_msg(fd, msg, sizeof(msg));
	ck_assert_str_eq(msg, "READY=1\nSTATUS=up over tcp");
	/* A reason with a newline cannot add a line of its own. */
	sdnotify_status("reconnecting: %s", "lost\nREADY=1");
	next_msg(fd, msg, sizeof(msg));
	ck_assert_str_eq(msg, "STATUS=reconnecting: lost READY=1");
	sdnotify_send("WATCHDOG=1");
	next_msg(fd, msg, sizeof(msg));
	ck_assert_str_eq(msg, "WATCHDOG=1");
	sdnotify_close();
	ck_assert(!sdnotify_enabled());
	close(fd);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(abstract_socket_and_foreign_watchdog)
{
	char name[64], msg[600];
	int fd;

	snprintf(name, sizeof(name), "@ikeagent-test-%ld", (long)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "4000000", 1);
	setenv("WATCHDOG_PID", "1", 1);	/* meant for another process */
	ck_assert_int_eq(sdnotify_init(), 0);
	ck_assert(sdnotify_enabled());
	ck_assert_uint_eq(sdnotify_watchdog_ms(), 0);
	sdnotify_send("STOPPING=1");
	next_msg(fd, msg, sizeof(msg));
	ck_assert_str_eq(msg, "STOPPING=1");
	sdnotify_close();
	close(fd);
}
END_TEST

START_TEST(unusable_socket_is_an_error)
{
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert_int_eq(sdnotify_init(), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(!sdnotify_enabled());
	setenv("NOTIFY_SOCKET", "/nonexistent/ikeagent/notify", 1);
	ck_assert_int_eq(sdnotify_init(), -1);
	ck_assert(!sdnotify_enabled());
}
END_TEST

/* stderr into a file; its text after fn ran. */
static void capture_stderr(void (*fn)(void), bool as_journal, char *out, size_t cap)
{
	char path[] = "/tmp/ikeagent-log-XXXXXX", js[64];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)(st.st_ino + (as_journal ? 0 : 1)));
	setenv("JOURNAL_STREAM", js, 1);
	fflush(stderr);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	ck_assert(log_detect_journal() == as_journal);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

static void three_lines(void)
{
	log_err("tun: gone");
	log_warn("udp: no answer in 1.0s, trying tcp");
	log_info("tunnel up");
}

START_TEST(journal_lines_have_priorities_not_times)
{
	char text[512];

	capture_stderr(three_lines, true, text, sizeof(text));
	ck_assert_str_eq(text, "<3>tun: gone\n<4>udp: no answer in 1.0s, trying tcp\n<6>tunnel up\n");
	/* Another stream's inode: a terminal or file, with our own times. */
	capture_stderr(three_lines, false, text, sizeof(text));
	ck_assert_ptr_null(strstr(text, "<3>"));
	ck_assert_ptr_nonnull(strstr(text, " E tun: gone\n"));
	ck_assert_ptr_nonnull(strstr(text, " I tunnel up\n"));
	ck_assert(text[2] == ':' && text[5] == ':' && text[8] == '.');
}
END_TEST

static Suite *sdnotify_suite(void)
{
	Suite *s = suite_create("sdnotify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, not_under_systemd_is_silent);
	tcase_add_test(tc, ready_status_watchdog_on_path_socket);
	tcase_add_test(tc, abstract_socket_and_foreign_watchdog);
	tcase_add_test(tc, unusable_socket_is_an_error);
	tcase_add_test(tc, journal_lines_have_priorities_not_times);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sdnotify_suite)
