/* One-line error messages into a caller's buffer (the parsers' err/errlen convention). */
#ifndef IKEAGENT_UTIL_ERR_H
#define IKEAGENT_UTIL_ERR_H

#include <stddef.h>

/* Format into err (if err and errlen are set); always returns -1, for `return err_set(...)`. */
int err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
