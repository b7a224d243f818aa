// SPDX-License-Identifier: GPL-2.0
/*
 * tbcount: a QEMU TCG plugin that counts the guest-kernel instructions
 * the emulator executes, per translation block, and writes them out when
 * QEMU exits ("address instructions executions", one block a line).
 * With mark=ADDR, only what runs between two calls of the kernel function
 * at ADDR is counted: each odd call starts afresh, each even one writes
 * (the benchmark brackets its loop with a system call nothing else
 * makes, so the last bracket is the loop).  scripts/profile-tcg turns the
 * file into a per-function profile.
 *
 * Under TCG the guest has no PMU and a sampling profile of the kernel is
 * flat and noisy; instruction counts are exact and the same from one
 * boot to the next, so a change of a few dozen instructions per call
 * shows.  (A "rep" string instruction counts once per iteration.)
 *
 * Only the handful of plugin entry points used here are declared, as
 * QEMU 7.2 exports them (plugin API version 1).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);
enum { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
					   tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      int op, void *ptr, uint64_t imm);
typedef void (*vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
					  vcpu_udata_cb_t cb, int flags,
					  void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb,
				    void *userdata);

#define EXPORT __attribute__((visibility("default")))

EXPORT int qemu_plugin_version = 1;

/* Kernel addresses only: user space is not what we profile. */
#define KERNEL_START 0xffff800000000000ULL
#define NBUCKETS (1u << 20)

struct block {
	uint64_t vaddr;
	uint64_t ninsns;
	uint64_t execs;		/* bumped by the emulator, inline */
	struct block *next;
};

static struct block *buckets[NBUCKETS];
static pthread_mutex_t buckets_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *out_path = "tbcount.txt";
static uint64_t mark;
static int marks_seen;

static unsigned int bucket_of(uint64_t vaddr, uint64_t ninsns)
{
	return (unsigned int)((vaddr >> 2) ^ (vaddr >> 22) ^ ninsns) &
	       (NBUCKETS - 1);
}

/* The same address may be translated again (after a flush): one entry. */
static struct block *block_get(uint64_t vaddr, uint64_t ninsns)
{
	unsigned int b = bucket_of(vaddr, ninsns);
	struct block *blk;

	pthread_mutex_lock(&buckets_lock);
	for (blk = buckets[b]; blk; blk = blk->next)
		if (blk->vaddr == vaddr && blk->ninsns == ninsns)
			break;
	if (!blk) {
		blk = calloc(1, sizeof(*blk));
		if (blk) {
			blk->vaddr = vaddr;
			blk->ninsns = ninsns;
			blk->next = buckets[b];
			buckets[b] = blk;
		}
	}
	pthread_mutex_unlock(&buckets_lock);
	return blk;
}

static void write_counts(void)
{
	FILE *f = fopen(out_path, "w");
	struct block *blk;
	unsigned int b;

	if (!f) {
		perror(out_path);
		return;
	}
	for (b = 0; b < NBUCKETS; b++)
		for (blk = buckets[b]; blk; blk = blk->next)
			if (blk->execs)
				fprintf(f, "%016" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
					blk->vaddr, blk->ninsns, blk->execs);
	fclose(f);
}

/* The mark: odd calls start counting afresh, even ones write. */
static void on_mark(unsigned int vcpu_index, void *userdata)
{
	struct block *blk;
	unsigned int b;

	(void)vcpu_index;
	(void)userdata;
	pthread_mutex_lock(&buckets_lock);
	if (++marks_seen % 2) {
		for (b = 0; b < NBUCKETS; b++)
			for (blk = buckets[b]; blk; blk = blk->next)
				blk->execs = 0;
	} else {
		write_counts();
	}
	pthread_mutex_unlock(&buckets_lock);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	struct block *blk;

	(void)id;
	if (vaddr < KERNEL_START)
		return;
	blk = block_get(vaddr, qemu_plugin_tb_n_insns(tb));
	if (blk)
		qemu_plugin_register_vcpu_tb_exec_inline(
			tb, QEMU_PLUGIN_INLINE_ADD_U64, &blk->execs, 1);
	if (mark && vaddr == mark)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark, 0, NULL);
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata)
{
	(void)id;
	(void)userdata;
	if (!mark)
		write_counts();
}

/* -plugin tbcount.so,out=FILE[,mark=HEXADDR] */
EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const void *info,
			       int argc, char **argv)
{
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4))
			out_path = argv[i] + 4;
		else if (!strncmp(argv[i], "mark=", 5))
			mark = strtoull(argv[i] + 5, NULL, 16);
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
	return 0;
}
