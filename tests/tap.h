/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal TAP producer for the test programs.  Each program prints
 * "ok N - name" / "not ok N - name" lines and a closing plan "1..N".
 *
 *   TEST(name) { ... CHECK(cond); CHECK_ERRNO(ioctl(...), EINVAL); ... }
 *   int main(void) { return tap_run(); }
 *
 * A test fails at its first failed CHECK; the failure is described on a
 * "#" line with the file, line, expression and errno.
 */
#ifndef TESTS_TAP_H
#define TESTS_TAP_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
	struct tap_test *next;
};

extern int tap_failed_here;
void tap_register(struct tap_test *t);
int tap_run(void);
void tap_skip(const char *why);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TEST(name)                                                      \
	static void test_##name(void);                                  \
	static struct tap_test tap_##name = { #name, test_##name, NULL }; \
	__attribute__((constructor)) static void tap_reg_##name(void)   \
	{                                                               \
		tap_register(&tap_##name);                              \
	}                                                               \
	static void test_##name(void)

/* Stop the current test as failed when @cond is false. */
#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			tap_diag("%s:%d: CHECK(%s) failed (errno %d %s)", \
				 __FILE__, __LINE__, #cond, errno,      \
				 strerror(errno));                      \
			tap_failed_here = 1;                            \
			return;                                         \
		}                                                       \
	} while (0)

/* @expr must return 0. */
#define CHECK_OK(expr)                                                  \
	do {                                                            \
		errno = 0;                                              \
		long __r = (long)(expr);                                \
		if (__r != 0) {                                         \
			tap_diag("%s:%d: %s returned %ld, errno %d (%s)", \
				 __FILE__, __LINE__, #expr, __r, errno,  \
				 strerror(errno));                      \
			tap_failed_here = 1;                            \
			return;                                         \
		}                                                       \
	} while (0)

/* @expr must return -1 with errno @err. */
#define CHECK_ERRNO(expr, err)                                          \
	do {                                                            \
		errno = 0;                                              \
		long __r = (long)(expr);                                \
		if (__r != -1 || errno != (err)) {                      \
			tap_diag("%s:%d: %s returned %ld errno %d (%s), " \
				 "expected -1 errno %d (%s)",            \
				 __FILE__, __LINE__, #expr, __r, errno,  \
				 strerror(errno), (err), strerror(err)); \
			tap_failed_here = 1;                            \
			return;                                         \
		}                                                       \
	} while (0)

/* Skip the current test, saying why. */
#define SKIP(why)                                                       \
	do {                                                            \
		tap_skip(why);                                          \
		return;                                                 \
	} while (0)

#endif
