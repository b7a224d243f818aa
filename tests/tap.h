/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal TAP producer for the test programs.  Each program prints
 * "ok N - name" / "not ok N - name" lines and a closing plan "1..N".
 *
 *   TEST(name) { ... CHECK(cond); CHECK_ERRNO(ioctl(...), EINVAL); ... }
 *   int main(void) { return tap_run(); }
 *
 * A test fails at its first failed CHECK; the failure is described on a
 * "#" line with the file, line, expression and errno.  Each test runs in
 * a child process of its own, so a failed or crashed test leaves nothing
 * behind: its exit closes every fd it had (iommufds, devices, accesses).
 *
 *   static const char *const domains[] = { "no_domain", "one_domain", NULL };
 *   TEST_VARIANTS(name, domains) { ... tap_variant ... }
 *
 * runs the test once per variant, as "name.no_domain", ...; tap_variant
 * is the variant's index there (-1 in a plain TEST).  tap_run_shared()
 * runs them all in the program's own process instead.  TAP_ONLY=a,b in the
 * environment runs only the tests (or "test.variant"s) named.
 */
#ifndef TESTS_TAP_H
#define TESTS_TAP_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
	const char *const *variants;	/* NULL-terminated, or NULL */
	struct tap_test *next;
};

extern int tap_failed_here;
extern int tap_variant;
void tap_register(struct tap_test *t);
int tap_run(void);
/* Runs the tests in this process, in order: for programs whose tests are
 * the steps of one scenario (state carries from one to the next). */
int tap_run_shared(void);
void tap_skip(const char *why);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TEST_VARIANTS(name, variant_names)                               \
	static void test_##name(void);                                  \
	static struct tap_test tap_##name = {                           \
		#name, test_##name, variant_names, NULL                 \
	};                                                              \
	__attribute__((constructor)) static void tap_reg_##name(void)   \
	{                                                               \
		tap_register(&tap_##name);                              \
	}                                                               \
	static void test_##name(void)

#define TEST(name) TEST_VARIANTS(name, NULL)

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
