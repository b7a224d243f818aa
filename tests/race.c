// SPDX-License-Identifier: GPL-2.0
/*
 * Races between devices sharing an IOAS (issue 13): real devices in
 * different IOMMU groups attaching to one IOAS at the same moment and
 * looping attach/detach on it, and mock devices coming and going while
 * others map, unmap and copy on the same IOASes.  Each runs for a bounded
 * time on the VM's two vCPUs; the harness fails the run on any oops,
 * WARN, hang or leak.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pci_util.h"

#define RACE_SECONDS 3

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Two real devices (lone edu, e1000e) bound to one iommufd. */
struct pair {
	struct edu dev[2];
	int fd;
	pthread_barrier_t go;
	volatile __u32 ioas;
	volatile bool stop;
	__u32 pt[2];
	int errors[2];
	double worst_detach[2];
	int rounds[2];
};

static int pair_open(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = dev_iommu_open();
	if (p->fd < 0 || edu_open(&p->dev[0], lone_edu) ||
	    edu_open(&p->dev[1], e1000e) ||
	    from_lib(iommufd_pci_bind(p->dev[0].dev, p->fd, NULL)) ||
	    from_lib(iommufd_pci_bind(p->dev[1].dev, p->fd, NULL)))
		return -1;
	/* The two device threads and the one that makes the IOASes. */
	return pthread_barrier_init(&p->go, NULL, 3) ? -1 : 0;
}

static void pair_close(struct pair *p)
{
	edu_close(&p->dev[0]);
	edu_close(&p->dev[1]);
	pthread_barrier_destroy(&p->go);
	close(p->fd);
}

struct side {
	struct pair *p;
	int i;
};

/* Attach at the barrier, once per round, until told to stop. */
static void *attach_at_once(void *arg)
{
	struct side *s = arg;
	struct pair *p = s->p;

	for (;;) {
		pthread_barrier_wait(&p->go);
		if (p->stop)
			return NULL;
		p->pt[s->i] = p->ioas;
		if (iommufd_pci_attach(p->dev[s->i].dev, &p->pt[s->i]))
			p->errors[s->i]++;
		pthread_barrier_wait(&p->go);
	}
}

/*
 * Two devices in different groups ATTACH to one new IOAS at the same
 * moment: they share one automatic HWPT, which neither finds half made.
 */
TEST(two_devices_attach_one_ioas_at_once)
{
	struct side s[2];
	struct pair p;
	pthread_t th[2];
	double end;
	int i, rounds = 0, shared = 0;
	__u32 ioas;

	if (!lone_edu[0] || !e1000e[0])
		SKIP("needs the edu and the e1000e (two groups)");
	CHECK_OK(pair_open(&p));
	for (i = 0; i < 2; i++) {
		s[i] = (struct side){ .p = &p, .i = i };
		CHECK(!pthread_create(&th[i], NULL, attach_at_once, &s[i]));
	}
	end = now() + RACE_SECONDS;
	while (now() < end) {
		if (ioas_alloc(p.fd, &ioas))
			break;
		p.ioas = ioas;
		pthread_barrier_wait(&p.go);	/* both attach */
		pthread_barrier_wait(&p.go);	/* both done */
		shared += !p.errors[0] && !p.errors[1] && p.pt[0] == p.pt[1];
		iommufd_pci_detach(p.dev[0].dev);
		iommufd_pci_detach(p.dev[1].dev);
		/* The automatic HWPT went with its last device. */
		if (iommu_destroy(p.fd, ioas))
			break;
		rounds++;
	}
	p.stop = true;
	pthread_barrier_wait(&p.go);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	tap_diag("%d rounds, %d with one shared HWPT", rounds, shared);
	CHECK(now() >= end);
	CHECK(p.errors[0] == 0 && p.errors[1] == 0);
	CHECK(shared == rounds && rounds > 10);
	pair_close(&p);
}

/* ATTACH and DETACH in a loop on the shared IOAS, timing each detach. */
static void *attach_detach_loop(void *arg)
{
	struct side *s = arg;
	struct pair *p = s->p;

	while (!p->stop) {
		__u32 pt = p->ioas;
		double t;

		if (iommufd_pci_attach(p->dev[s->i].dev, &pt)) {
			p->errors[s->i]++;
			continue;
		}
		t = now();
		if (iommufd_pci_detach(p->dev[s->i].dev))
			p->errors[s->i]++;
		t = now() - t;
		if (t > p->worst_detach[s->i])
			p->worst_detach[s->i] = t;
		p->rounds[s->i]++;
	}
	return NULL;
}

/*
 * Two devices loop ATTACH+DETACH on one IOAS: no detach waits for the
 * other device, and the IOAS is free at the end.
 */
TEST(two_devices_attach_detach_loop)
{
	struct side s[2];
	struct pair p;
	pthread_t th[2];
	__u32 ioas;
	int i;

	if (!lone_edu[0] || !e1000e[0])
		SKIP("needs the edu and the e1000e (two groups)");
	CHECK_OK(pair_open(&p));
	CHECK_OK(ioas_alloc(p.fd, &ioas));
	p.ioas = ioas;
	for (i = 0; i < 2; i++) {
		s[i] = (struct side){ .p = &p, .i = i };
		CHECK(!pthread_create(&th[i], NULL, attach_detach_loop, &s[i]));
	}
	sleep(RACE_SECONDS);
	p.stop = true;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	tap_diag("%d + %d rounds; slowest detach %.3f s, %.3f s", p.rounds[0],
		 p.rounds[1], p.worst_detach[0], p.worst_detach[1]);
	CHECK(p.errors[0] == 0 && p.errors[1] == 0);
	CHECK(p.rounds[0] > 10 && p.rounds[1] > 10);
	CHECK(p.worst_detach[0] < 1 && p.worst_detach[1] < 1);
	CHECK_OK(iommu_destroy(p.fd, ioas));
	pair_close(&p);
}

/* ----------------------------------------------------------- mock devices */

struct churn {
	int fd;
	__u32 ioas[2];
	void *buf;
	volatile bool stop;
	int ops[3], unexpected[3], last_errno[3];
};

/* An error a race does not explain, in thread @i. */
static void churn_unexpected(struct churn *c, int i)
{
	c->unexpected[i]++;
	c->last_errno[i] = errno;
}

#define CHURN_LEN (64 * PAGE_SIZE)

/* Mock devices come, move between the IOASes and go. */
static void *churn_devices(void *arg)
{
	struct churn *c = arg;
	unsigned int seed = 1;

	while (!c->stop) {
		__u32 stdev, hwpt, idev, pt;

		if (mock_domain(c->fd, c->ioas[rand_r(&seed) & 1], &stdev,
				&hwpt, &idev)) {
			churn_unexpected(c, 0);
			continue;
		}
		pt = c->ioas[rand_r(&seed) & 1];
		if (mock_domain_replace(c->fd, stdev, &pt))
			churn_unexpected(c, 0);
		if (iommu_destroy(c->fd, stdev))
			churn_unexpected(c, 0);
		c->ops[0]++;
	}
	return NULL;
}

/* Map and unmap on both IOASes; EBUSY/ENOENT from a racing unmap only. */
static void *churn_maps(void *arg)
{
	struct churn *c = arg;
	unsigned int seed = 2;

	while (!c->stop) {
		__u32 ioas = c->ioas[rand_r(&seed) & 1];
		__u64 iova = (1 + (rand_r(&seed) & 7)) * 0x1000000ULL;

		if (ioas_map_fixed(c->fd, ioas, c->buf, CHURN_LEN, iova) &&
		    errno != EEXIST)
			churn_unexpected(c, 1);
		if (ioas_unmap(c->fd, ioas, iova, CHURN_LEN, NULL) &&
		    errno != ENOENT && errno != EBUSY)
			churn_unexpected(c, 1);
		c->ops[1]++;
	}
	return NULL;
}

/* Copy between the IOASes what happens to be mapped. */
static void *churn_copies(void *arg)
{
	struct churn *c = arg;
	unsigned int seed = 3;

	while (!c->stop) {
		__u64 src = (1 + (rand_r(&seed) & 7)) * 0x1000000ULL;
		__u64 dst = 0x20000000ULL + (rand_r(&seed) & 7) * 0x1000000ULL;
		int from = rand_r(&seed) & 1;

		/* Inside the mock aperture, or mock attaches would fail. */
		if (!ioas_copy(c->fd, c->ioas[!from], &dst, c->ioas[from], src,
			       CHURN_LEN, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA))
			ioas_unmap(c->fd, c->ioas[!from], dst, CHURN_LEN, NULL);
		else if (errno != ENOENT && errno != EEXIST &&
			 errno != EBUSY)
			churn_unexpected(c, 2);
		c->ops[2]++;
	}
	return NULL;
}

/*
 * Mock devices attach, replace and go while maps, unmaps and copies run
 * on the same two IOASes: only the errors a race explains, nothing left.
 */
TEST(mock_devices_churn_against_maps)
{
	void *(*fn[3])(void *) = { churn_devices, churn_maps, churn_copies };
	struct churn c = { 0 };
	pthread_t th[3];
	int i;

	c.fd = dev_iommu_open();
	CHECK(c.fd >= 0);
	c.buf = buf_alloc(CHURN_LEN);
	CHECK(c.buf);
	CHECK_OK(ioas_alloc(c.fd, &c.ioas[0]));
	CHECK_OK(ioas_alloc(c.fd, &c.ioas[1]));
	for (i = 0; i < 3; i++)
		CHECK(!pthread_create(&th[i], NULL, fn[i], &c));
	sleep(RACE_SECONDS);
	c.stop = true;
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	tap_diag("%d device rounds, %d map rounds, %d copies", c.ops[0],
		 c.ops[1], c.ops[2]);
	for (i = 0; i < 3; i++)
		if (c.unexpected[i])
			tap_diag("thread %d: %d unexpected errors, last %s", i,
				 c.unexpected[i], strerror(c.last_errno[i]));
	CHECK(c.unexpected[0] == 0 && c.unexpected[1] == 0 &&
	      c.unexpected[2] == 0);
	CHECK(c.ops[0] > 10 && c.ops[1] > 10 && c.ops[2] > 10);
	CHECK_OK(ioas_unmap_all(c.fd, c.ioas[0], NULL));
	CHECK_OK(ioas_unmap_all(c.fd, c.ioas[1], NULL));
	CHECK_OK(iommu_destroy(c.fd, c.ioas[0]));
	CHECK_OK(iommu_destroy(c.fd, c.ioas[1]));
	buf_free(c.buf, CHURN_LEN);
	close(c.fd);
}

/* -------------------------------------------- first attach against maps */

struct mapper {
	int fd;
	volatile __u32 ioas;
	volatile bool stop;
	void *buf;
	int maps;
};

/* Map and unmap small areas on whatever IOAS is current. */
static void *map_unmap_loop(void *arg)
{
	struct mapper *m = arg;
	unsigned int seed = 5;

	while (!m->stop) {
		__u32 ioas = m->ioas;
		__u64 iova = (1 + rand_r(&seed) % 64) * 0x100000ULL;

		if (!ioas_map_fixed(m->fd, ioas, m->buf, 16 * PAGE_SIZE, iova)) {
			m->maps++;
			ioas_unmap(m->fd, ioas, iova, 16 * PAGE_SIZE, NULL);
		}
	}
	return NULL;
}

/*
 * A device's first attach to a new domain while maps and unmaps run on
 * its IOAS (on 6.1's VT-d the first attach reworks the page table):
 * every map reaches the domain and every unmap finds it there -- the
 * kernel would WARN on an unmap that finds nothing (the harness checks).
 */
TEST(first_attach_against_maps)
{
	struct mapper m = { 0 };
	struct edu e;
	pthread_t th;
	double end;
	__u32 dev_id, pt;
	int rounds = 0;

	if (!lone_edu[0])
		SKIP("no edu device");
	m.buf = buf_alloc(16 * PAGE_SIZE);
	CHECK(m.buf);
	CHECK_OK(edu_bind_new(&e, &m.fd, &dev_id));
	CHECK_OK(ioas_alloc(m.fd, (__u32 *)&m.ioas));
	CHECK(!pthread_create(&th, NULL, map_unmap_loop, &m));
	end = now() + RACE_SECONDS;
	while (now() < end) {
		__u32 old = m.ioas, ioas;

		pt = old;
		if (iommufd_pci_attach(e.dev, &pt))
			break;
		iommufd_pci_detach(e.dev);
		/* A fresh IOAS, so that the next attach makes a fresh domain. */
		if (ioas_alloc(m.fd, &ioas))
			break;
		m.ioas = ioas;
		usleep(1000);
		ioas_unmap_all(m.fd, old, NULL);
		iommu_destroy(m.fd, old);
		rounds++;
	}
	m.stop = true;
	pthread_join(th, NULL);
	tap_diag("%d first attaches, %d maps", rounds, m.maps);
	CHECK(now() >= end && rounds > 10 && m.maps > 10);
	edu_close(&e);
	close(m.fd);
	buf_free(m.buf, 16 * PAGE_SIZE);
}

/* ------------------------------------------------- closing under load */

struct chaos {
	volatile int iommufd, devfd;	/* racy on purpose: fds get reused */
	volatile __u32 ioas;
	volatile bool stop;
	char cdev[64];
	void *buf;
	int rounds, binds;
};

static sigjmp_buf chaos_jmp;

static void chaos_sigbus(int sig)
{
	(void)sig;
	siglongjmp(chaos_jmp, 1);
}

/* Open both files, bind, attach, map; then close them in either order. */
static void *chaos_owner(void *arg)
{
	struct chaos *c = arg;
	unsigned int seed = 7;

	while (!c->stop) {
		struct iommufd_pci_bind bind = { .argsz = sizeof(bind) };
		struct iommufd_pci_attach at = { .argsz = sizeof(at) };
		int fd = dev_iommu_open(), dev = open(c->cdev, O_RDWR);
		__u32 ioas;

		if (fd < 0 || dev < 0 || ioas_alloc(fd, &ioas)) {
			if (fd >= 0)
				close(fd);
			if (dev >= 0)
				close(dev);
			continue;
		}
		c->ioas = ioas;
		c->iommufd = fd;
		c->devfd = dev;
		bind.iommufd = fd;
		if (!ioctl(dev, IOMMUFD_PCI_BIND, &bind)) {
			c->binds++;
			at.pt_id = ioas;
			ioctl(dev, IOMMUFD_PCI_ATTACH, &at);
		}
		ioas_map_fixed(fd, ioas, c->buf, 64 * PAGE_SIZE, 1UL << 24);
		usleep(rand_r(&seed) % 2000);
		if (rand_r(&seed) & 1) {
			close(fd);
			close(dev);
		} else {
			close(dev);
			close(fd);
		}
		c->rounds++;
	}
	return NULL;
}

/* Map, unmap, fault BAR pages in, set interrupts, replace the device fd. */
static void *chaos_user(void *arg)
{
	struct sigaction sa = { .sa_handler = chaos_sigbus };
	struct chaos *c = arg;
	unsigned int seed = 11;
	int efd = eventfd(0, EFD_CLOEXEC), nul = open("/dev/null", O_RDWR);

	sigaction(SIGBUS, &sa, NULL);
	while (!c->stop) {
		int fd = c->iommufd, dev = c->devfd;
		volatile uint32_t *bar;
		struct {
			struct iommufd_pci_irq_set hdr;
			__s32 fd;
		} irq = { .hdr = {
			.argsz = sizeof(irq), .index = IOMMUFD_PCI_MSI_IRQ_INDEX,
			.count = 1,
			.flags = IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
				 IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER },
			.fd = efd };

		switch (rand_r(&seed) % 5) {
		case 0:
			ioas_map_fixed(fd, c->ioas, c->buf, 16 * PAGE_SIZE,
				       (2 + rand_r(&seed) % 8) << 24);
			break;
		case 1:
			ioas_unmap_all(fd, c->ioas, NULL);
			break;
		case 2:
			bar = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, dev,
				   0);
			if (bar == MAP_FAILED)
				break;
			if (!sigsetjmp(chaos_jmp, 1))
				(void)bar[0];
			munmap((void *)bar, PAGE_SIZE);
			break;
		case 3:
			ioctl(dev, IOMMUFD_PCI_SET_IRQS, &irq);
			break;
		case 4:
			/* Replace the device file under everybody's feet. */
			if (rand_r(&seed) % 8 == 0)
				dup2(nul, dev);
			break;
		}
	}
	close(efd);
	close(nul);
	return NULL;
}

/*
 * Closing (or dup2-replacing) the device file and the iommufd while
 * other threads bind, attach, map, fault BAR pages in and set
 * interrupts: no WARN or oops (the harness checks), nothing left.
 */
TEST(close_and_replace_files_under_load)
{
	struct chaos c = { 0 };
	pthread_t th[3];
	double end;
	int i;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(from_lib(iommufd_pci_driver_bind(lone_edu)));
	CHECK_OK(iommufd_pci_cdev_path(lone_edu, c.cdev, sizeof(c.cdev)));
	c.buf = buf_alloc(64 * PAGE_SIZE);
	CHECK(c.buf);
	c.iommufd = c.devfd = -1;
	CHECK(!pthread_create(&th[0], NULL, chaos_owner, &c));
	CHECK(!pthread_create(&th[1], NULL, chaos_user, &c));
	CHECK(!pthread_create(&th[2], NULL, chaos_user, &c));
	/* Long enough, and enough rounds on a slow (debug) kernel too. */
	end = now() + 2 * RACE_SECONDS;
	while (now() < end || (c.rounds < 20 && now() < end + 60))
		usleep(100000);
	c.stop = true;
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	tap_diag("%d rounds, %d binds", c.rounds, c.binds);
	CHECK(c.rounds > 10 && c.binds > 0);
	buf_free(c.buf, 64 * PAGE_SIZE);
}

int main(void)
{
	find_devices();
	return tap_run();
}
