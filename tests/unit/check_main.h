/* Every Check program ends with CHECK_MAIN(suite_function). */
#ifndef IKEAGENT_TESTS_CHECK_MAIN_H
#define IKEAGENT_TESTS_CHECK_MAIN_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A test that cannot run here (no root, no namespaces) calls check_skip()
 * and returns. Check itself knows no skips (it would count a pass), so the
 * skip is recorded outside it: one line "<program> <test>: <why>" appended
 * (one write, O_APPEND: safe from the forked test children of CK_FORK=yes)
 * to the file named by IKEAGENT_SKIP_FILE, which tests/unit/run.sh (`make
 * unit-check`) sets, counts and reports ("unit: N passed, M skipped, K
 * failed"); under CI=true the runner fails on any skip. Run alone (no
 * IKEAGENT_SKIP_FILE), a skip under CI=true fails the test itself, and a
 * skip that cannot be recorded fails too: a skip never passes unseen.
 */
static inline void check_skip(const char *test, const char *why)
{
	const char *ci = getenv("CI"), *file = getenv("IKEAGENT_SKIP_FILE");
	char line[512];
	size_t tl = strlen(test);
	int fd, n;

	/* __func__ inside START_TEST(name) is "name_fn": report Check's name. */
	if (tl > 3 && strcmp(test + tl - 3, "_fn") == 0)
		tl -= 3;

	fprintf(stderr, "SKIP %.*s: %s\n", (int)tl, test, why);
	if (!file || !*file) {
		if (ci && strcmp(ci, "true") == 0)
			ck_abort_msg("%s: would be skipped under CI=true: %s", test, why);
		return;
	}
	n = snprintf(line, sizeof(line), "%s %.*s: %s\n", program_invocation_short_name, (int)tl,
		     test, why);
	if (n < 0 || (size_t)n >= sizeof(line)) {	/* cut short: still one line */
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "%s: skipped, but cannot record it in %s: %s", test, file,
		      strerror(errno));
	ck_assert_msg(write(fd, line, (size_t)n) == n, "%s: skipped, but cannot record it in %s",
		      test, file);
	close(fd);
}

#define CHECK_MAIN(suite_fn)                                            \
	int main(void)                                                  \
	{                                                               \
		SRunner *sr = srunner_create(suite_fn());               \
		int failed;                                             \
		srunner_run_all(sr, CK_NORMAL);                         \
		failed = srunner_ntests_failed(sr);                     \
		srunner_free(sr);                                       \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;            \
	}

#endif
