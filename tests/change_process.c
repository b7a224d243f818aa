// SPDX-License-Identifier: GPL-2.0
/*
 * IOMMU_IOAS_CHANGE_PROCESS: the caller's process takes over every file
 * map (IOAS_MAP_FILE) of the fd and the charge of its pins.  Checked
 * through /proc/PID/status (VmPin, and VmLck in per-process mode), the
 * user's RLIMIT_MEMLOCK in per-user mode and the module's pin count:
 * the argument check, user-VA maps and COPYs of them (EINVAL), maps and
 * unmaps in progress (EBUSY, raced), a forked child taking over and a
 * repeat call, pins
 * of several owners, RLIMIT_MEMLOCK (ENOMEM, nothing changed), pins made
 * after the change, and the charge back to zero after unmap and close.
 *
 * The accounting cases run in a child without CAP_IPC_LOCK (with it,
 * nothing but VmPin is charged); each process reports the line of the
 * first failed check.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "util.h"

#define MFD_PAGES 64
#define KB(npages) ((long)(npages) * (long)PAGE_SIZE / 1024)
#define IOVA(n) (MOCK_APERTURE_START + (n) * PAGE_SIZE)
#define NOBODY 65534

/* ioctl() returned -1 with errno @err. */
static bool fails_with(int rc, int err)
{
	return rc == -1 && errno == err;
}

/* What a process is charged now, in kB. */
struct charge {
	long pin, lck;
};

static struct charge charge_now(void)
{
	struct charge c = {
		.pin = proc_status_kb("VmPin"),
		.lck = proc_status_kb("VmLck"),
	};

	return c;
}

/* The same from a /proc/PID/status opened earlier (@fd). */
static long status_field_kb(const char *buf, const char *field)
{
	const char *p = strstr(buf, field);

	return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

static struct charge charge_from(int fd)
{
	struct charge c = { -1, -1 };
	static char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n > 0) {
		buf[n] = 0;
		c.pin = status_field_kb(buf, "\nVmPin:");
		c.lck = status_field_kb(buf, "\nVmLck:");
	}
	return c;
}

/* @now is @base plus @pin_pages pinned and @lck_pages locked pages. */
static bool charged(struct charge base, struct charge now, long pin_pages,
		    long lck_pages)
{
	if (now.pin - base.pin == KB(pin_pages) &&
	    now.lck - base.lck == KB(lck_pages))
		return true;
	printf("# pid %d: VmPin %+ld kB, VmLck %+ld kB; expected %+ld, %+ld\n",
	       (int)getpid(), now.pin - base.pin, now.lck - base.lck,
	       KB(pin_pages), KB(lck_pages));
	return false;
}

/* The state a test process works on: its fd, IOAS, a memfd. */
struct proc_env {
	int fd, mfd;
	char *va;
	__u32 ioas, stdev, hwpt;
	bool mm_mode;
};

/*
 * In a test process (a child of the runner): no CAP_IPC_LOCK, a memlock
 * limit of @limit_pages, the fd in per-process mode if @mm_mode, an IOAS
 * with a mock domain if @domain.  The line of the failed step, or 0.
 */
static int proc_setup(struct proc_env *e, bool mm_mode, size_t limit_pages,
		      bool domain)
{
	memset(e, 0, sizeof(*e));
	e->mm_mode = mm_mode;
	e->va = buf_alloc_memfd(MFD_PAGES * PAGE_SIZE, &e->mfd);
	e->fd = dev_iommu_open();
	if (!e->va || e->fd < 0)
		return __LINE__;
	if (mm_mode && option_set(e->fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1))
		return __LINE__;
	if (drop_cap_ipc_lock() || set_memlock_rlimit(limit_pages * PAGE_SIZE))
		return __LINE__;
	if (ioas_alloc(e->fd, &e->ioas))
		return __LINE__;
	if (domain && mock_domain(e->fd, e->ioas, &e->stdev, &e->hwpt, NULL))
		return __LINE__;
	return 0;
}

/* What the per-process mode charges to VmLck: @npages or nothing. */
static long lck(const struct proc_env *e, long npages)
{
	return e->mm_mode ? npages : 0;
}

/* A child of the test process: the line of its failed check, or 0. */
static int child_result(pid_t pid)
{
	return pid < 0 ? -1 : wait_child(pid);
}

/*
 * A one-byte handshake between a test process and its child.  Each side
 * closes the ends it does not use (chan_parent(), chan_child()), so that
 * a side that died is seen as end of file, not waited for.
 */
struct chan {
	int to_parent[2], to_child[2];
};

static int chan_open(struct chan *c)
{
	return pipe(c->to_parent) || pipe(c->to_child) ? -1 : 0;
}

static void chan_end(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void chan_parent(struct chan *c)
{
	chan_end(&c->to_parent[1]);
	chan_end(&c->to_child[0]);
}

static void chan_child(struct chan *c)
{
	chan_end(&c->to_parent[0]);
	chan_end(&c->to_child[1]);
}

static bool chan_send(int fd)
{
	char b = 1;

	return write(fd, &b, 1) == 1;
}

static bool chan_recv(int fd)
{
	char b;

	return read(fd, &b, 1) == 1;
}

static void chan_close(struct chan *c)
{
	chan_end(&c->to_parent[0]);
	chan_end(&c->to_parent[1]);
	chan_end(&c->to_child[0]);
	chan_end(&c->to_child[1]);
}

/* Leave a forked child: report the failed line, if any. */
static void child_exit(int line)
{
	if (line)
		printf("# child %d: the check at line %d failed (errno %d %s)\n",
		       (int)getpid(), line, errno, strerror(errno));
	fflush(stdout);
	_exit(line != 0);
}

/*
 * The set-up of a scenario where the test process and its child meet:
 * proc_setup(), the channel open, the charge before any pin in *@c0,
 * then @map_pages of the memfd mapped at IOVA(0).  0, or the failed line.
 */
static int meet_setup(struct proc_env *e, struct chan *ch, struct charge *c0,
		      bool mm_mode, size_t limit_pages, bool domain,
		      long map_pages)
{
	int line = proc_setup(e, mm_mode, limit_pages, domain);

	if (line)
		return line;
	if (chan_open(ch))
		return __LINE__;
	*c0 = charge_now();
	if (map_file_fixed(e->fd, e->ioas, e->mfd, 0, map_pages * PAGE_SIZE,
			   IOVA(0)))
		return __LINE__;
	return 0;
}

/* The child at the meeting point: tell the parent, wait for its reply. */
static void child_meet(struct chan *ch)
{
	if (!chan_send(ch->to_parent[1]) || !chan_recv(ch->to_child[0]))
		child_exit(__LINE__);
}

/* The test process at the meeting point: whether the child got there. */
static bool parent_meet(struct chan *ch)
{
	chan_parent(ch);
	return chan_recv(ch->to_parent[0]);
}

/*
 * Let the child go on and wait for it; true when something failed:
 * *@line is then the line of the parent's failed check, or of this one.
 */
static bool parent_release(struct chan *ch, pid_t pid, int *line)
{
	chan_send(ch->to_child[1]);
	if (child_result(pid) && !*line)
		*line = __LINE__;
	return *line != 0;
}

/* The end of a scenario: close the fd; 0 if the module is back to zero. */
static int proc_done(struct proc_env *e, struct chan *ch)
{
	if (ch)
		chan_close(ch);
	close(e->fd);
	return module_all_released() ? 0 : __LINE__;
}

/* ---------------------------------------------------------------- */

TEST(change_process_arguments)
{
	struct iommu_ioas_change_process cmd = { .size = sizeof(cmd) };
	__u32 ioas, stdev, hwpt;
	char *va;
	int fd, mfd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd), EOPNOTSUPP);
	cmd.__reserved = 0;
	cmd.size = 4;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd), EINVAL);
	/* No IOAS, then an IOAS with nothing mapped: nothing to move. */
	CHECK_OK(change_process(fd));
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(change_process(fd));
	/* The caller's own file map: a no-op, however often. */
	va = buf_alloc_memfd(8 * PAGE_SIZE, &mfd);
	CHECK(va);
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(map_file_fixed(fd, ioas, mfd, 0, 8 * PAGE_SIZE, IOVA(0)));
	CHECK_OK(change_process(fd));
	CHECK_OK(change_process(fd));
	CHECK(module_stat("pinned_pages") == 8);
	CHECK_OK(check_map(fd, hwpt, IOVA(0), va, 8 * PAGE_SIZE));
	cmd.__reserved = 2;
	cmd.size = sizeof(cmd);
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd), EOPNOTSUPP);
	CHECK_OK(close(fd));
	CHECK(module_all_released());
	munmap(va, 8 * PAGE_SIZE);
	close(mfd);
}

/* A child of the test process tries to take over: EINVAL, no change. */
static int einval_child(int fd)
{
	pid_t pid = fork_flushed();

	if (!pid) {
		struct charge c0 = charge_now();
		int line = 0;

		if (!fails_with(change_process(fd), EINVAL))
			line = __LINE__;
		else if (!charged(c0, charge_now(), 0, 0))
			line = __LINE__;
		child_exit(line);
	}
	return child_result(pid);
}

/*
 * A user-VA map, or a COPY of one, in any IOAS of the fd: EINVAL and
 * nothing moves; once they are gone the file maps move.
 */
static int user_va_proc(int mm_mode)
{
	struct proc_env e;
	struct charge c0, c1;
	__u32 ioas2, stdev2;
	__u64 at = IOVA(32);
	char *buf;
	int line = proc_setup(&e, mm_mode, 16, true);
	pid_t pid;

	if (line)
		return line;
	buf = buf_alloc(4 * PAGE_SIZE);
	if (!buf || ioas_alloc(e.fd, &ioas2) ||
	    mock_domain(e.fd, ioas2, &stdev2, NULL, NULL))
		return __LINE__;
	c0 = charge_now();
	if (map_file_fixed(e.fd, e.ioas, e.mfd, 0, 8 * PAGE_SIZE, IOVA(0)) ||
	    ioas_map_fixed(e.fd, ioas2, buf, 4 * PAGE_SIZE, IOVA(0)))
		return __LINE__;
	c1 = charge_now();
	if (!charged(c0, c1, 12, lck(&e, 12)))
		return __LINE__;
	/* The user-VA map is in another IOAS than the file map. */
	if (einval_child(e.fd) || !charged(c1, charge_now(), 0, 0))
		return __LINE__;
	/* The caller itself: EINVAL as well. */
	if (!fails_with(change_process(e.fd), EINVAL))
		return __LINE__;
	/* A COPY of it into the file map's IOAS, the original gone. */
	if (ioas_copy(e.fd, e.ioas, &at, ioas2, IOVA(0), 4 * PAGE_SIZE,
		      MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA) ||
	    ioas_unmap_all(e.fd, ioas2, NULL))
		return __LINE__;
	if (einval_child(e.fd) || !charged(c1, charge_now(), 0, 0))
		return __LINE__;
	if (module_stat("pinned_pages") != 12)
		return __LINE__;
	/* Only file maps left: a child takes them, and they stay its. */
	if (ioas_unmap(e.fd, e.ioas, IOVA(32), 4 * PAGE_SIZE, NULL) ||
	    !charged(c0, charge_now(), 8, lck(&e, 8)))
		return __LINE__;
	pid = fork_flushed();
	if (!pid) {
		struct charge g0 = charge_now();

		if (change_process(e.fd))
			child_exit(__LINE__);
		child_exit(charged(g0, charge_now(), 8, lck(&e, 8)) ?
			   0 : __LINE__);
	}
	if (child_result(pid) || !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	/* Still pinned (for the child that left); unmap refunds it. */
	if (module_stat("pinned_pages") != 8 ||
	    ioas_unmap_all(e.fd, e.ioas, NULL) ||
	    module_stat("pinned_pages") != 0 ||
	    !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	return proc_done(&e, NULL);
}

static const char *const account_variants[] = { "user", "mm", NULL };

TEST_VARIANTS(change_process_user_va_einval, account_variants)
{
	CHECK_OK(run_child(user_va_proc, tap_variant));
}

/*
 * The test process maps; its child takes over (the parent's charge goes
 * down, the child's up, by the pages pinned), a repeat is a no-op; once
 * the child is gone the parent takes the maps back.  The limit (16
 * pages, 12 pinned) also shows that per user, between processes of one
 * user, the user's count is not charged twice on the way.
 */
static int takeover_proc(int mm_mode)
{
	struct proc_env e;
	struct charge c0;
	struct chan ch;
	int line = meet_setup(&e, &ch, &c0, mm_mode, 16, true, 12);
	pid_t pid;

	if (line)
		return line;
	if (!charged(c0, charge_now(), 12, lck(&e, 12)))
		return __LINE__;
	pid = fork_flushed();
	if (!pid) {
		struct charge g0 = charge_now(), g1;

		chan_child(&ch);
		if (change_process(e.fd))
			child_exit(__LINE__);
		g1 = charge_now();
		if (!charged(g0, g1, 12, lck(&e, 12)))
			child_exit(__LINE__);
		/* The parent looks at its own charge meanwhile. */
		child_meet(&ch);
		/* Again: nothing to move. */
		if (change_process(e.fd) || !charged(g1, charge_now(), 0, 0))
			child_exit(__LINE__);
		child_exit(0);
	}
	if (!parent_meet(&ch))
		line = __LINE__;
	else if (!charged(c0, charge_now(), 0, 0))
		line = __LINE__;
	if (parent_release(&ch, pid, &line))
		return line;
	if (module_stat("pinned_pages") != 12)
		return __LINE__;
	/* The mappings still work; the parent takes them back. */
	if (check_map(e.fd, e.hwpt, IOVA(0), e.va, 12 * PAGE_SIZE))
		return __LINE__;
	if (change_process(e.fd) ||
	    !charged(c0, charge_now(), 12, lck(&e, 12)))
		return __LINE__;
	if (change_process(e.fd) ||
	    !charged(c0, charge_now(), 12, lck(&e, 12)))
		return __LINE__;
	if (ioas_unmap_all(e.fd, e.ioas, NULL) ||
	    !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	return proc_done(&e, &ch);
}

TEST_VARIANTS(change_process_fork_takeover, account_variants)
{
	CHECK_OK(run_child(takeover_proc, tap_variant));
}

/*
 * Pins of two owners (the test process and its child) and a COPY: the
 * grandchild takes both, each old owner is refunded its own pages.
 */
static int mixed_proc(int mm_mode)
{
	struct proc_env e;
	struct charge c0;
	__u32 ioas2, stdev2, hwpt2;
	__u64 at = IOVA(0);
	int line = proc_setup(&e, mm_mode, 16, true);
	pid_t pid;

	if (line)
		return line;
	if (ioas_alloc(e.fd, &ioas2) ||
	    mock_domain(e.fd, ioas2, &stdev2, &hwpt2, NULL))
		return __LINE__;
	c0 = charge_now();
	if (map_file_fixed(e.fd, e.ioas, e.mfd, 0, 8 * PAGE_SIZE, IOVA(0)) ||
	    ioas_copy(e.fd, ioas2, &at, e.ioas, IOVA(2), 2 * PAGE_SIZE,
		      MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA) ||
	    !charged(c0, charge_now(), 8, lck(&e, 8)))
		return __LINE__;
	pid = fork_flushed();
	if (!pid) {
		struct charge g0 = charge_now();
		pid_t gc;

		/* The child's own map, in the second IOAS. */
		if (map_file_fixed(e.fd, ioas2, e.mfd, 16 * PAGE_SIZE,
				   4 * PAGE_SIZE, IOVA(16)) ||
		    !charged(g0, charge_now(), 4, lck(&e, 4)))
			child_exit(__LINE__);
		gc = fork_flushed();
		if (!gc) {
			struct charge h0 = charge_now();

			if (change_process(e.fd) ||
			    !charged(h0, charge_now(), 12, lck(&e, 12)))
				child_exit(__LINE__);
			child_exit(0);
		}
		if (child_result(gc) || !charged(g0, charge_now(), 0, 0))
			child_exit(__LINE__);
		child_exit(0);
	}
	if (child_result(pid) || !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	if (module_stat("pinned_pages") != 12 ||
	    check_map(e.fd, hwpt2, IOVA(16), e.va + 16 * PAGE_SIZE,
		      4 * PAGE_SIZE) ||
	    check_map(e.fd, hwpt2, IOVA(0), e.va + 2 * PAGE_SIZE,
		      2 * PAGE_SIZE))
		return __LINE__;
	/* Unmapped and closed: nothing is charged to the parent. */
	if (ioas_unmap_all(e.fd, e.ioas, NULL) ||
	    !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	close(e.fd);
	if (!charged(c0, charge_now(), 0, 0))
		return __LINE__;
	return module_all_released() ? 0 : __LINE__;
}

TEST_VARIANTS(change_process_mixed_owners, account_variants)
{
	CHECK_OK(run_child(mixed_proc, tap_variant));
}

/*
 * Per-process mode: the child's RLIMIT_MEMLOCK is below what would move:
 * ENOMEM, and neither process's charge changed.  At the limit it moves.
 */
static int enomem_mm_proc(int unused)
{
	struct proc_env e;
	struct charge c0, c1;
	struct chan ch;
	int line = meet_setup(&e, &ch, &c0, true, 64, true, 12);
	pid_t pid;

	(void)unused;
	if (line)
		return line;
	c1 = charge_now();
	if (!charged(c0, c1, 12, 12))
		return __LINE__;
	pid = fork_flushed();
	if (!pid) {
		struct charge g0 = charge_now();

		chan_child(&ch);
		if (set_memlock_rlimit(11 * PAGE_SIZE) ||
		    !fails_with(change_process(e.fd), ENOMEM) ||
		    !charged(g0, charge_now(), 0, 0))
			child_exit(__LINE__);
		child_meet(&ch);
		/* Exactly at the limit: taken. */
		if (set_memlock_rlimit(12 * PAGE_SIZE) ||
		    change_process(e.fd) ||
		    !charged(g0, charge_now(), 12, 12))
			child_exit(__LINE__);
		/* A later pin beyond the child's limit: refused. */
		if (!fails_with(map_file_fixed(e.fd, e.ioas, e.mfd,
					       16 * PAGE_SIZE, PAGE_SIZE,
					       IOVA(16)), ENOMEM))
			child_exit(__LINE__);
		child_exit(0);
	}
	if (!parent_meet(&ch))
		line = __LINE__;
	else if (!charged(c1, charge_now(), 0, 0) ||
		 module_stat("pinned_pages") != 12)
		line = __LINE__;
	if (parent_release(&ch, pid, &line))
		return line;
	if (!charged(c0, charge_now(), 0, 0) ||
	    module_stat("pinned_pages") != 12)
		return __LINE__;
	return proc_done(&e, &ch);
}

TEST(change_process_enomem_per_process)
{
	CHECK_OK(run_child(enomem_mm_proc, 0));
}

/*
 * Per-user mode across users: a child that becomes another user is
 * charged in that user's locked count (its RLIMIT_MEMLOCK checked:
 * ENOMEM first), and the first user's count is refunded: the parent
 * can then pin its whole limit again.
 */
static int per_user_proc(int unused)
{
	struct proc_env e;
	struct charge c0;
	struct chan ch;
	int line = meet_setup(&e, &ch, &c0, false, 16, true, 12);
	pid_t pid;

	(void)unused;
	if (line)
		return line;
	/* This user has 12 of its 16 pages: 8 more do not fit. */
	if (!fails_with(map_file_fixed(e.fd, e.ioas, e.mfd, 16 * PAGE_SIZE,
				       8 * PAGE_SIZE, IOVA(16)), ENOMEM))
		return __LINE__;
	pid = fork_flushed();
	if (!pid) {
		struct rlimit rl = { 8 * PAGE_SIZE, 16 * PAGE_SIZE };
		struct charge g0;
		int sfd;

		chan_child(&ch);
		/*
		 * Its status is opened first: the other user may not reach
		 * /proc (the VM's root directory is not searchable to it).
		 */
		sfd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		if (sfd < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			child_exit(__LINE__);
		g0 = charge_from(sfd);
		if (!fails_with(change_process(e.fd), ENOMEM) ||
		    !charged(g0, charge_from(sfd), 0, 0))
			child_exit(__LINE__);
		rl.rlim_cur = 16 * PAGE_SIZE;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || change_process(e.fd) ||
		    !charged(g0, charge_from(sfd), 12, 0))
			child_exit(__LINE__);
		/* The new user's count holds the 12: 8 more do not fit. */
		if (!fails_with(map_file_fixed(e.fd, e.ioas, e.mfd,
					       16 * PAGE_SIZE, 8 * PAGE_SIZE,
					       IOVA(16)), ENOMEM) ||
		    map_file_fixed(e.fd, e.ioas, e.mfd, 16 * PAGE_SIZE,
				   4 * PAGE_SIZE, IOVA(16)) ||
		    !charged(g0, charge_from(sfd), 16, 0))
			child_exit(__LINE__);
		child_meet(&ch);
		child_exit(0);
	}
	if (!parent_meet(&ch))
		line = __LINE__;
	else if (!charged(c0, charge_now(), 0, 0))
		line = __LINE__;
	/* The first user's count is back to zero: 16 pages fit. */
	else if (map_file_fixed(e.fd, e.ioas, e.mfd, 32 * PAGE_SIZE,
				16 * PAGE_SIZE, IOVA(32)) ||
		 !fails_with(map_file_fixed(e.fd, e.ioas, e.mfd,
					    48 * PAGE_SIZE, PAGE_SIZE,
					    IOVA(48)), ENOMEM) ||
		 !charged(c0, charge_now(), 16, 0))
		line = __LINE__;
	if (parent_release(&ch, pid, &line))
		return line;
	if (module_stat("pinned_pages") != 32 ||
	    ioas_unmap_all(e.fd, e.ioas, NULL) ||
	    !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	return proc_done(&e, &ch);
}

TEST(change_process_per_user)
{
	CHECK_OK(run_child(per_user_proc, 0));
}

/*
 * Nothing pinned at the change (no domain): pins made afterwards -- a
 * domain attached, an access pin -- are charged to the new owner, and
 * refunded to it when they go.
 */
static int lazy_proc(int mm_mode)
{
	struct proc_env e;
	struct charge c0;
	struct chan ch;
	int line = meet_setup(&e, &ch, &c0, mm_mode, 64, false, 8);
	pid_t pid;

	if (line)
		return line;
	if (!charged(c0, charge_now(), 0, 0))
		return __LINE__;
	pid = fork_flushed();
	if (!pid) {
		struct charge g0 = charge_now();
		__u32 stdev, pages_id;
		int afd;

		chan_child(&ch);
		if (change_process(e.fd) || !charged(g0, charge_now(), 0, 0))
			child_exit(__LINE__);
		if (create_access(e.fd, e.ioas,
				  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
				  &afd) ||
		    access_pages(e.fd, afd, IOVA(1), e.va + PAGE_SIZE,
				 2 * PAGE_SIZE, MOCK_FLAGS_ACCESS_WRITE,
				 &pages_id) ||
		    !charged(g0, charge_now(), 2, lck(&e, 2)))
			child_exit(__LINE__);
		if (mock_domain(e.fd, e.ioas, &stdev, NULL, NULL) ||
		    !charged(g0, charge_now(), 8, lck(&e, 8)))
			child_exit(__LINE__);
		child_meet(&ch);
		if (destroy_access_pages(e.fd, afd, pages_id) ||
		    iommu_destroy(e.fd, stdev) ||
		    !charged(g0, charge_now(), 0, 0))
			child_exit(__LINE__);
		/* Leave with a domain attached: pinned for the parent. */
		if (mock_domain(e.fd, e.ioas, &stdev, NULL, NULL) ||
		    !charged(g0, charge_now(), 8, lck(&e, 8)))
			child_exit(__LINE__);
		close(afd);
		child_exit(0);
	}
	if (!parent_meet(&ch))
		line = __LINE__;
	else if (!charged(c0, charge_now(), 0, 0) ||
		 module_stat("pinned_pages") != 8)
		line = __LINE__;
	if (parent_release(&ch, pid, &line))
		return line;
	if (module_stat("pinned_pages") != 8 ||
	    !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	chan_close(&ch);
	close(e.fd);
	if (!charged(c0, charge_now(), 0, 0))
		return __LINE__;
	return module_all_released() ? 0 : __LINE__;
}

TEST_VARIANTS(change_process_later_pins, account_variants)
{
	CHECK_OK(run_child(lazy_proc, tap_variant));
}

#define RACE_ROUNDS 200

struct racer {
	int fd, mfd;
	__u32 ioas, ioas2, ioas3;
	int failures;
};

/* Map and unmap a 32-page file range, over and over. */
static void *map_unmap_loop(void *arg)
{
	struct racer *r = arg;
	int i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		if (map_file_fixed(r->fd, r->ioas, r->mfd, 32 * PAGE_SIZE,
				   32 * PAGE_SIZE, IOVA(64)) ||
		    ioas_unmap(r->fd, r->ioas, IOVA(64), 32 * PAGE_SIZE, NULL))
			r->failures++;
	}
	return NULL;
}

/*
 * COPY file pages nothing has pinned yet (@ioas2 has no domain) into
 * @ioas3, which has one, and now and then give @ioas2 a domain of its
 * own: both pin pages of settled areas before they take the IOAS's
 * locks, so the switch must see them coming (EBUSY).
 */
static void *copy_domain_loop(void *arg)
{
	struct racer *r = arg;
	__u32 stdev;
	int i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		__u64 at = IOVA(128);

		if (ioas_copy(r->fd, r->ioas3, &at, r->ioas2, IOVA(96),
			      16 * PAGE_SIZE,
			      MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA) ||
		    ioas_unmap(r->fd, r->ioas3, IOVA(128), 16 * PAGE_SIZE,
			       NULL))
			r->failures++;
		if (i % 8 == 0 &&
		    (mock_domain(r->fd, r->ioas2, &stdev, NULL, NULL) ||
		     iommu_destroy(r->fd, stdev)))
			r->failures++;
	}
	return NULL;
}

/* Call IOAS_CHANGE_PROCESS @n times: how many were not 0 or EBUSY. */
static int change_loop(int fd, int n, int *busy)
{
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		if (!change_process(fd))
			continue;
		if (errno == EBUSY)
			(*busy)++;
		else
			bad++;
	}
	return bad;
}

/*
 * Two processes take the maps from each other over and over while a
 * thread maps and unmaps (its areas busy for a while each time) and
 * another copies and adds domains (pinning before the locks).  Only 0
 * or EBUSY (a map or unmap in progress) may come back; each switch moves
 * exactly what is pinned (the module warns otherwise); at the end the
 * one that took everything holds exactly what is pinned, the other
 * nothing.  (A map blocked for good at a chosen moment cannot be had:
 * 6.1's long-term GUP does not wait in a userfaultfd, it fails.)
 */
static int race_proc(int mm_mode)
{
	struct racer r = { 0 };
	struct proc_env e;
	struct charge c0;
	struct chan ch;
	int busy = 0, line = meet_setup(&e, &ch, &c0, mm_mode, 4096, true, 8);
	pthread_t th, th2;
	pid_t pid;

	if (line)
		return line;
	/* Unpinned until copied into @ioas3 or given a domain. */
	if (ioas_alloc(e.fd, &r.ioas2) || ioas_alloc(e.fd, &r.ioas3) ||
	    mock_domain(e.fd, r.ioas3, NULL, NULL, NULL) ||
	    map_file_fixed(e.fd, r.ioas2, e.mfd, 8 * PAGE_SIZE,
			   16 * PAGE_SIZE, IOVA(96)))
		return __LINE__;
	pid = fork_flushed();
	if (!pid) {
		struct charge g0 = charge_now();
		int gbusy = 0;

		chan_child(&ch);
		if (change_loop(e.fd, RACE_ROUNDS, &gbusy))
			child_exit(__LINE__);
		printf("# the child's calls: %d of %d EBUSY\n", gbusy,
		       RACE_ROUNDS);
		/* The thread is done: take everything, then give it back. */
		if (!chan_recv(ch.to_child[0]) || change_process(e.fd) ||
		    !charged(g0, charge_now(), 8, lck(&e, 8)) ||
		    !chan_send(ch.to_parent[1]))
			child_exit(__LINE__);
		if (!chan_recv(ch.to_child[0]) ||
		    !charged(g0, charge_now(), 0, 0))
			child_exit(__LINE__);
		child_exit(0);
	}
	chan_parent(&ch);
	r.fd = e.fd;
	r.mfd = e.mfd;
	r.ioas = e.ioas;
	if (pthread_create(&th, NULL, map_unmap_loop, &r))
		return __LINE__;
	if (pthread_create(&th2, NULL, copy_domain_loop, &r))
		return __LINE__;
	if (change_loop(e.fd, RACE_ROUNDS, &busy))
		line = __LINE__;
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	printf("# the parent's calls: %d of %d EBUSY\n", busy, RACE_ROUNDS);
	if (r.failures)
		line = __LINE__;
	/* The child takes everything, then the parent takes it back. */
	if (!line && (!chan_send(ch.to_child[1]) ||
		      !chan_recv(ch.to_parent[0]) ||
		      !charged(c0, charge_now(), 0, 0) ||
		      change_process(e.fd) ||
		      !charged(c0, charge_now(), 8, lck(&e, 8)) ||
		      module_stat("pinned_pages") != 8))
		line = __LINE__;
	if (parent_release(&ch, pid, &line))
		return line;
	if (ioas_unmap_all(e.fd, e.ioas, NULL) ||
	    !charged(c0, charge_now(), 0, 0))
		return __LINE__;
	return proc_done(&e, &ch);
}

TEST_VARIANTS(change_process_races_map_unmap, account_variants)
{
	CHECK_OK(run_child(race_proc, tap_variant));
}

/* The module's fault points inside the call: each failure changes nothing. */
static int faults_proc(int unused)
{
	struct proc_env e;
	struct charge c0, c1;
	__u32 ioas2, stdev2;
	__u64 at = IOVA(0);
	int n, line = proc_setup(&e, true, 64, true);
	pid_t pid;

	(void)unused;
	if (line)
		return line;
	if (access(MODFAULT_NTH, W_OK))
		return 0;
	if (ioas_alloc(e.fd, &ioas2) ||
	    mock_domain(e.fd, ioas2, &stdev2, NULL, NULL))
		return __LINE__;
	c0 = charge_now();
	if (map_file_fixed(e.fd, e.ioas, e.mfd, 0, 8 * PAGE_SIZE, IOVA(0)) ||
	    ioas_copy(e.fd, ioas2, &at, e.ioas, IOVA(0), 4 * PAGE_SIZE,
		      MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA))
		return __LINE__;
	c1 = charge_now();
	pid = fork_flushed();
	if (!pid) {
		struct charge g0 = charge_now();
		int rc;

		for (n = 1; n < 100; n++) {
			if (modfault_arm(n))
				child_exit(__LINE__);
			rc = change_process(e.fd);
			if (!modfault_fired()) {
				modfault_arm(0);
				break;
			}
			modfault_arm(0);
			if (!fails_with(rc, ENOMEM) ||
			    !charged(g0, charge_now(), 0, 0))
				child_exit(__LINE__);
		}
		printf("# %d fault points in IOAS_CHANGE_PROCESS\n", n - 1);
		if (n < 3 || rc || !charged(g0, charge_now(), 8, 8))
			child_exit(__LINE__);
		child_exit(0);
	}
	if (child_result(pid) || !charged(c0, charge_now(), 0, 0) ||
	    !charged(c1, c0, -8, -8))
		return __LINE__;
	return proc_done(&e, NULL);
}

TEST(change_process_every_failure_unwinds)
{
	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth (module loaded without selftest=1)");
	CHECK_OK(run_child(faults_proc, 0));
}

int main(void)
{
	return tap_run();
}
