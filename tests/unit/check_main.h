/* Every Check program ends with CHECK_MAIN(suite_function). */
#ifndef IKEAGENT_TESTS_CHECK_MAIN_H
#define IKEAGENT_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A test that cannot run here (no root, no namespaces) says why and passes,
 * except under CI=true: CI has root and namespaces, so a skip there means
 * something is missing and fails the test. Returns to the caller to skip.
 */
static inline void check_skip(const char *test, const char *why)
{
	const char *ci = getenv("CI");

	if (ci && strcmp(ci, "true") == 0)
		ck_abort_msg("%s: would be skipped under CI=true: %s", test, why);
	fprintf(stderr, "SKIP %s: %s\n", test, why);
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
