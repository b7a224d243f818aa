// SPDX-License-Identifier: GPL-2.0
/* The TAP runner behind tests/tap.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

int tap_failed_here;
int tap_variant = -1;
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

/* Whether TAP_ONLY (a comma-separated list) names @name, or is unset. */
static int tap_selected(const char *name)
{
	const char *only = getenv("TAP_ONLY"), *p;
	size_t n = strlen(name);

	if (!only || !*only)
		return 1;
	for (p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

/* Runs one test here and prints its result line; 1 when it failed. */
static int tap_run_here(struct tap_test *t, int n, int variant,
			const char *name)
{
	tap_variant = variant;
	tap_failed_here = 0;
	tap_skip_reason = NULL;
	t->fn();
	if (tap_skip_reason)
		printf("ok %d - %s # SKIP %s\n", n, name, tap_skip_reason);
	else if (tap_failed_here)
		printf("not ok %d - %s\n", n, name);
	else
		printf("ok %d - %s\n", n, name);
	fflush(stdout);
	return tap_failed_here;
}

/* Runs one test in a child of its own; 1 when it failed. */
static int tap_run_child(struct tap_test *t, int n, int variant,
			 const char *name)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("not ok %d - %s (fork: %s)\n", n, name, strerror(errno));
		return 1;
	}
	if (!pid)
		_exit(tap_run_here(t, n, variant, name));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			printf("not ok %d - %s (waitpid: %s)\n", n, name,
			       strerror(errno));
			return 1;
		}
	if (WIFSIGNALED(status)) {
		printf("# %s: killed by signal %d (%s)\n", name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
		printf("not ok %d - %s\n", n, name);
		return 1;
	}
	return WEXITSTATUS(status) != 0;
}

/* Runs test @t (variant @variant, named @name) if TAP_ONLY selects it. */
static int tap_run_selected(struct tap_test *t, int *n, int variant,
			    const char *name, bool shared)
{
	if (!tap_selected(t->name) && !tap_selected(name))
		return 0;
	++*n;
	return shared ? tap_run_here(t, *n, variant, name) :
			tap_run_child(t, *n, variant, name);
}

static int tap_run_all(bool shared)
{
	struct tap_test *t;
	int n = 0, failed = 0, v;
	char name[256];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (t = tap_head; t; t = t->next) {
		if (!t->variants) {
			failed += tap_run_selected(t, &n, -1, t->name, shared);
			continue;
		}
		for (v = 0; t->variants[v]; v++) {
			snprintf(name, sizeof(name), "%s.%s", t->name,
				 t->variants[v]);
			failed += tap_run_selected(t, &n, v, name, shared);
		}
	}
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

int tap_run(void)
{
	return tap_run_all(false);
}

int tap_run_shared(void)
{
	return tap_run_all(true);
}
