// SPDX-License-Identifier: GPL-2.0
/* The TAP runner behind tests/tap.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

int tap_failed_here;
static const char *tap_skip_reason;
static struct tap_test *tap_head, **tap_tail = &tap_head;

void tap_register(struct tap_test *t)
{
	*tap_tail = t;
	tap_tail = &t->next;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void tap_skip(const char *why)
{
	tap_skip_reason = why;
}

int tap_run(void)
{
	struct tap_test *t;
	int n = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (t = tap_head; t; t = t->next) {
		n++;
		tap_failed_here = 0;
		tap_skip_reason = NULL;
		t->fn();
		if (tap_skip_reason)
			printf("ok %d - %s # SKIP %s\n", n, t->name,
			       tap_skip_reason);
		else if (tap_failed_here)
			printf("not ok %d - %s\n", n, t->name), failed++;
		else
			printf("ok %d - %s\n", n, t->name);
	}
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
