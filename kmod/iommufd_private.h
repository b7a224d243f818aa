/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /dev/iommu for Linux 6.1: the one private header of the module.
 *
 * Concepts, one per file:
 *   main.c          misc device, file operations, ioctl dispatch table
 *   object.c        the per-fd object table: ids, reference counts, destroy
 *   ioas.c          IOAS ioctls (alloc, ranges, allow, map, unmap, copy, option)
 *   io_pagetable.c  the IOVA space of one IOAS: areas, allowed/reserved
 *                   ranges, IOVA allocation, the domains that mirror it
 *   pages.c         pinning user memory (pin state per 2 MiB chunk) and
 *                   charging it to RLIMIT_MEMLOCK
 *   dmabuf.c        IOAS_MAP_FILE of a dma-buf: the importer side, the
 *                   domain mappings of its areas and their revocation
 *   hwpt.c          hardware page tables (HWPT objects) and IOMMU_HWPT_ALLOC;
 *                   the argument checks of the nesting commands (not
 *                   implemented: HWPT_INVALIDATE, vIOMMU, vDEVICE, ...)
 *   dirty.c         dirty tracking: SET_DIRTY_TRACKING, GET_DIRTY_BITMAP
 *                   and the walk that writes the user's bitmap
 *   device.c        device bind/attach/replace/detach/unbind (in-kernel API)
 *   group.c         the security context of an IOMMU group: DMA ownership,
 *                   viability, the domain the group is attached to
 *   iommu_api.c     the kernel IOMMU API backend (VT-d, AMD-Vi, ...)
 *   access.c        accesses: software devices that pin or copy via IOVA
 *   stats.c         live-object and pinned-page counters, debugfs
 *   inspect.c       debugfs view of every open iommufd for iommufd-inspect
 *   abi_layout.c    compile-time guards of the uAPI layouts (no code)
 *   vfio_compat.c   IOMMU_VFIO_IOAS and the VFIO type1 container ioctls
 * Only in the test build (make IOMMUFD_TEST=1, IOMMUFD_TEST_BUILD):
 *   mock.c          the mock IOMMU backend: a software page table
 *   selftest.c      IOMMU_TEST_CMD (only with the selftest=1 parameter)
 *   bench.c         the benchmarks' floor: pin + map with no bookkeeping
 *   fault.c         fault injection at every allocation and pin point
 *                   (the points and allocation wrappers: iommufd_fault.h,
 *                   shared with iommufd_pci.ko)
 *   selftest_dmabuf.c  the test dma-buf exporter (DMABUF_GET, _REVOKE)
 * pci_user.c is another module (iommufd_pci.ko): it uses only iommufd.h
 * and iommufd_fault.h (whose test-build check fault.c exports to it).
 *
 * Lock order (outer first):
 *   ictx->change_lock    only IOAS_CHANGE_PROCESS takes it, holding
 *                        nothing; under it, every iova_rwsem of the fd
 *   idev->lock           what a device is attached to
 *   access->attach_lock  serializes an access's attach, replace, detach
 *   iopt->access_lock    the accesses of an IOAS (held across their
 *                        unmap callbacks)
 *   access->ioas_lock    which IOAS an access uses
 *   iopt->domains_rwsem  the set of domains mirroring an IOAS
 *   iopt->iova_rwsem     the area tree and the allowed/reserved interval
 *                        trees; map and unmap hold it only to insert,
 *                        claim (area->busy) and remove areas, not to pin
 *                        or program domains.  Only IOAS_CHANGE_PROCESS
 *                        holds several: those of every IOAS of the fd,
 *                        for write, in id order, nested in change_lock.
 *                        Held so, with no area busy, nothing pins or
 *                        unpins the fd's pages (pins of a settled area
 *                        hold its IOAS's iova_rwsem; those of a busy one,
 *                        of a domain being added and of a COPY pinning
 *                        first do not, hence EBUSY), so the pinned counts
 *                        stay put from the count to the owner switch.
 *                        mm->mmap_lock of the caller's mm (per-process
 *                        charge) is taken under them.
 *   dmabuf exporter lock the test exporter's revoked flag and importer
 *                        list (selftest_dmabuf.c): taken when an import
 *                        is made or released (under iova_rwsem, by an
 *                        area's last put) and by a revoke, which holds
 *                        it across the pages->mutex of every importer
 *   pages->pinning       a flag that serialises the pinners of one
 *                        iopt_pages (iopt_pages_use() when something is
 *                        idle; set and cleared under pages->mutex, waited
 *                        for without it, so lockdep does not see it) and
 *                        the one "lock" of the IOAS held across GUP, which
 *                        may wait for ever on a user's page fault.  No
 *                        teardown takes it: only another pinner of the
 *                        same pages waits behind a stalled pin.  Map,
 *                        copy and domain addition pin before they take
 *                        the rwsems above (io_pagetable.c), so unmap,
 *                        HWPT destroy, detach and device removal never
 *                        wait on a fault.  An attach to an IOAS pins its
 *                        areas before idev->lock (and a driver before its
 *                        own lock: iommufd_attach_pin()), whether or not
 *                        a domain pins them already, so its domain only
 *                        counts users; only areas mapped after that pin
 *                        are pinned holding idev->lock and
 *                        ioas->auto_lock.  An access pins (and rw pins)
 *                        under access->ioas_lock and iova_rwsem (write
 *                        for a pin), as upstream's do: the exception, a
 *                        stalled access pin holds up that IOAS's map,
 *                        unmap and domain changes.  And in per-process
 *                        accounting mode a charge or refund takes the
 *                        owner's mmap_lock under pages->mutex, which a
 *                        GUP of another process's memory holds (read)
 *                        across its fault.
 *   pages->mutex         the pin state of one iopt_pages and its charges
 *                        (for a dma-buf one, also its domain mappings and
 *                        revoked flag, held across programming and
 *                        clearing the domains); never held across GUP:
 *                        a pinner drops it to pin and retakes it to
 *                        install (pages.c), so an unuse never waits on a
 *                        fault
 *   hw_lock              a kernel domain's driver calls (iommu_api.c):
 *                        read for map, unmap and flush (under the locks
 *                        above, pages->mutex for a dma-buf's), write for
 *                        attach and detach
 *   igroup->lock         which domain an IOMMU group uses (group.c),
 *                        taken under hw_lock (write) by attach and
 *                        detach, around the IOMMU core's group calls;
 *                        the list of owned groups has its own lock,
 *                        taken alone
 *   mm->mmap_lock        taken by GUP inside pages.c (under
 *                        pages->pinning) and by a per-process charge
 *                        (under pages->mutex); for a file map
 *                        (IOAS_MAP_FILE) the file's locks instead: the
 *                        page cache's and, filling a hugetlbfs hole on
 *                        6.1, fallocate's inode lock
 * The list of open contexts (inspect.c) is taken before everything else,
 * by the debugfs reader only; open and release take it alone.
 * A backend's dirty-bit read (dirty.c) holds only the backend's own table
 * lock (the mock's xarray lock): the user's bitmap page is pinned before
 * and written through a kernel mapping, never with copy_to_user().
 * hwpt->devices_lock only guards a HWPT's device list.  The object xarray
 * lock (xa_lock) is innermost and only guards lookups, id changes and
 * ictx->vfio_ioas (the compat IOAS, cleared when that IOAS is destroyed).
 */
#ifndef IOMMUFD_PRIVATE_H
#define IOMMUFD_PRIVATE_H

#include <linux/interval_tree.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/kref.h>
#include <linux/sched.h>

#include "iommufd.h"
#include "iommufd_fault.h"
#include "uapi/linux/iommufd.h"

struct dentry;
struct device;
struct iommu_domain;
struct iommu_iotlb_gather;
struct file;
struct iommufd_hw_pagetable;
struct io_pagetable;
struct mm_struct;
struct page;
struct task_struct;
struct user_struct;

/* ---------------------------------------------------------------- objects */

enum iommufd_object_type {
	IOMMUFD_OBJ_NONE,
	IOMMUFD_OBJ_ANY = IOMMUFD_OBJ_NONE,
	IOMMUFD_OBJ_IOAS,
	IOMMUFD_OBJ_HWPT,
	IOMMUFD_OBJ_DEVICE,
#ifdef IOMMUFD_TEST_BUILD
	IOMMUFD_OBJ_SELFTEST,
#endif
	IOMMUFD_OBJ_MAX,
};

/* The two reference counts are explained at the top of object.c. */
struct iommufd_object {
	refcount_t shortterm_users;	/* the table's + ioctls in flight */
	refcount_t users;		/* the table's + long-term users */
	enum iommufd_object_type type;
	u32 id;
};

enum iommufd_account_mode {
	IOPT_ACCOUNT_NONE,	/* CAP_IPC_LOCK: pinned_vm only */
	IOPT_ACCOUNT_USER,	/* user->locked_vm, the default */
	IOPT_ACCOUNT_MM,	/* mm->locked_vm */
	IOPT_ACCOUNT_MODES
};

struct iommufd_ctx {
	struct file *file;
	struct xarray objects;
	/*
	 * Held by IOAS_CHANGE_PROCESS while it holds the iova_rwsem of every
	 * IOAS of the fd (the nest lock lockdep wants for that).
	 */
	struct mutex change_lock;
	/* IOPT_ACCOUNT_USER or IOPT_ACCOUNT_MM, set by IOMMU_OPTION. */
	u8 account_mode;
	/*
	 * The IOAS the VFIO container ioctls act on (vfio_compat.c), not a
	 * reference: under xa_lock of @objects, NULL once it is destroyed.
	 */
	struct iommufd_ioas *vfio_ioas;
	/* For inspect.c: who opened it, and a system-wide number. */
	struct list_head inspect_node;
	unsigned int seq;
	pid_t pid;
	char comm[TASK_COMM_LEN];
};

void iommufd_ctx_get(struct iommufd_ctx *ictx);
void iommufd_ctx_put(struct iommufd_ctx *ictx);

/* Reserve an id; the object is invisible to lookups until finalized. */
struct iommufd_object *iommufd_object_alloc_elm(struct iommufd_ctx *ictx,
						size_t size,
						enum iommufd_object_type type);
#define iommufd_object_alloc(ictx, ptr, type)                              \
	container_of(iommufd_object_alloc_elm(ictx, sizeof(*(ptr)), type), \
		     typeof(*(ptr)), obj)
void iommufd_object_finalize(struct iommufd_ctx *ictx,
			     struct iommufd_object *obj);
void iommufd_object_abort(struct iommufd_ctx *ictx, struct iommufd_object *obj);
void iommufd_object_abort_and_destroy(struct iommufd_ctx *ictx,
				      struct iommufd_object *obj);

/*
 * A short-term reference (an ioctl's) on @obj, unless it is going: under
 * xa_lock of its table, or with a reference held already.
 */
static inline bool iommufd_lock_obj(struct iommufd_object *obj)
{
	if (!refcount_inc_not_zero(&obj->users))
		return false;
	if (!refcount_inc_not_zero(&obj->shortterm_users)) {
		/* Being removed: the caller's hold keeps users above one. */
		refcount_dec(&obj->users);
		return false;
	}
	return true;
}
struct iommufd_object *iommufd_get_object(struct iommufd_ctx *ictx, u32 id,
					  enum iommufd_object_type type);
void iommufd_put_object(struct iommufd_object *obj);

#define IOMMUFD_REMOVE_WAIT_SHORTTERM 1
int iommufd_object_remove(struct iommufd_ctx *ictx,
			  struct iommufd_object *to_destroy, u32 id,
			  unsigned int flags);

/* Drop a long-term reference; destroy @obj if that left only the table's. */
static inline void iommufd_object_put_and_try_destroy(struct iommufd_ctx *ictx,
						      struct iommufd_object *obj)
{
	iommufd_object_remove(ictx, obj, obj->id, 0);
}

/*
 * A driver's end of its object: drop its reference and destroy the object
 * once ioctls in flight are done with it (a minute at most: an ioctl held
 * up longer leaves the object to the fd's close).
 */
static inline void iommufd_object_destroy_user(struct iommufd_ctx *ictx,
					       struct iommufd_object *obj)
{
	iommufd_object_remove(ictx, obj, obj->id,
			      IOMMUFD_REMOVE_WAIT_SHORTTERM);
}

void iommufd_object_destroy_all(struct iommufd_ctx *ictx);

/* ------------------------------------------------------------ ioctl glue */

struct iommufd_ucmd {
	struct iommufd_ctx *ictx;
	void __user *ubuffer;
	u32 user_size;
	void *cmd;
};

int iommufd_ucmd_respond(struct iommufd_ucmd *ucmd, size_t cmd_len);
int iommufd_ucmd_respond_u64(struct iommufd_ucmd *ucmd, size_t offset,
			     u64 val);

/* --------------------------------------------------------------- pages */

/*
 * The user memory behind one IOAS_MAP: a page-aligned span of one mm,
 * or of one file for IOAS_MAP_FILE.
 * Shared by every area (in any IOAS) that maps part of it.  Each page
 * counts its users -- domain mappings and access pins -- and is pinned
 * while that count is non-zero, so one pin serves every domain.  The
 * counts and page pointers live in 2 MiB chunks (pages.c).
 */
struct iopt_chunk;
struct iopt_area;

/*
 * Kept small: a one-page MAP allocates these, one chunk of pin state and
 * its area together, 192 bytes (kmalloc-192; more with mutex debugging).
 */
struct iopt_pages {
	struct kref kref;
	u8 account_mode;
	bool writable : 1;
	/*
	 * Read-only pins of a private file mapping break the sharing first
	 * (a write later would otherwise leave DMA reading the old page).
	 */
	bool unshare : 1;
	/*
	 * Room for the area of the IOAS_MAP that created these pages follows
	 * the pin state, in the same allocation (@with_area), unused while
	 * @spare_area: a MAP then costs one allocation.  (Only @spare_area
	 * changes after allocation, with no lock, but only before the pages
	 * are shared: iopt_pages_take_area().)
	 */
	bool with_area : 1;
	bool spare_area : 1;
	/*
	 * IOAS_MAP_FILE: the pages come from a shmem or hugetlbfs file,
	 * pinned through its page cache, not through a process's memory;
	 * @uptr is then the page-aligned byte offset in the file.  The
	 * source mm, task and user remain the ones charged; for a file map
	 * IOAS_CHANGE_PROCESS replaces them (under @mutex, with the
	 * iova_rwsem of every IOAS of the fd held for write: read them under
	 * either).  The file is
	 * held at the end of the allocation (pages.c), so that user-VA maps
	 * stay in kmalloc-192.
	 */
	bool file_backed : 1;
	/*
	 * IOAS_MAP_FILE of a dma-buf: nothing is pinned or charged; the
	 * exporter's pages are mapped straight into the domains (dmabuf.c)
	 * and no access may use them.  @uptr is the page-aligned byte offset
	 * in the dma-buf.  The import (struct iopt_dmabuf) is held at the
	 * end of the allocation, where a file map keeps its file.
	 */
	bool dmabuf : 1;
	/*
	 * A call is pinning (iopt_pages_use() when something is idle), with
	 * @mutex dropped for its GUP: the others that must pin wait for it
	 * to clear (wait_var_event()), nothing else does.  Under @mutex; a
	 * lock of its own, but a flag in what was padding keeps a one-page
	 * map in kmalloc-192.
	 */
	bool pinning;
	/*
	 * The pin state (users, page pointers) and the charges; never held
	 * across GUP, so an unuse never waits on a page fault.
	 */
	struct mutex mutex;
	struct mm_struct *source_mm;
	struct task_struct *source_task;
	struct user_struct *source_user;
	unsigned long uptr;		/* page-aligned start */
	unsigned long npages;
	/*
	 * Follows: the one chunk of pin state (npages <= 512), or an xarray
	 * of the chunks that have state (pages.c).
	 */
};
struct iopt_pages *iopt_alloc_pages(unsigned long uptr, unsigned long length,
				    bool writable, u8 account_mode,
				    bool with_area);
struct iopt_pages *iopt_alloc_file_pages(struct file *file,
					 unsigned long start,
					 unsigned long length, bool writable,
					 u8 account_mode, bool with_area);
struct iopt_dmabuf;
struct iopt_pages *iopt_alloc_dmabuf_pages(struct iopt_dmabuf *imp,
					   unsigned long start,
					   unsigned long length,
					   bool with_area);
struct iopt_dmabuf *iopt_pages_dmabuf(struct iopt_pages *pages);
struct iopt_area *iopt_pages_take_area(struct iopt_pages *pages);
void iopt_put_pages(struct iopt_pages *pages);
int iopt_pages_use(struct iopt_pages *pages, unsigned long first,
		   unsigned long last);
void iopt_pages_unuse(struct iopt_pages *pages, unsigned long first,
		      unsigned long last);
int iopt_pages_split_at(struct iopt_pages *pages, unsigned long index);
struct page *iopt_pages_page(struct iopt_pages *pages, unsigned long index);
unsigned long iopt_pages_run(struct iopt_pages *pages, unsigned long index,
			     unsigned long max, struct page **first);
bool iopt_pages_try_pinned_in(struct iopt_pages *pages, unsigned long first,
			      unsigned long last, unsigned long *n);
int iopt_pages_change_count(struct iopt_pages *pages,
			    unsigned long npinned[IOPT_ACCOUNT_MODES]);
int iopt_charge_current(const unsigned long npinned[IOPT_ACCOUNT_MODES],
			bool inc);
unsigned long iopt_pages_change_owner(struct iopt_pages *pages);
extern unsigned int iommufd_pin_batch_bytes;

/* ---------------------------------------------------------- backends */

struct iommufd_domain;
struct iommufd_dirty_bitmap;

/*
 * Dirty tracking of a domain allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING.
 * Both may run concurrently with the domain's map and unmap: the backend
 * synchronizes its table itself.
 */
struct iommufd_dirty_ops {
	/* Start or stop recording which leaves DMA writes to. */
	int (*set_tracking)(struct iommufd_domain *domain, bool enable);
	/*
	 * Report every dirty leaf overlapping [@iova, @last] with
	 * iommufd_dirty_record() and clear it, unless @no_clear.  With no
	 * @bitmap only clear, tracking or not; with one, -EINVAL while not
	 * tracking.  Must not sleep between records.
	 */
	int (*read_and_clear)(struct iommufd_domain *domain, unsigned long iova,
			      unsigned long last, bool no_clear,
			      struct iommufd_dirty_bitmap *bitmap);
};

void iommufd_dirty_record(struct iommufd_dirty_bitmap *bitmap,
			  unsigned long iova, unsigned long length);

struct iommufd_domain_ops {
	/* Map @size bytes at @iova to @paddr; both aligned to the page size. */
	int (*map)(struct iommufd_domain *domain, unsigned long iova,
		   phys_addr_t paddr, size_t size, int prot);
	/*
	 * Unmap, gathering the IOTLB invalidation in @gather: the pages stay
	 * reachable until ->flush(), so nothing may be unpinned before it.
	 */
	void (*unmap)(struct iommufd_domain *domain, unsigned long iova,
		      size_t size, struct iommu_iotlb_gather *gather);
	void (*flush)(struct iommufd_domain *domain,
		      struct iommu_iotlb_gather *gather);
	void (*free)(struct iommufd_domain *domain);
	/*
	 * Optional.  Make every DMA through the new, still empty @domain
	 * snoop the CPU caches, whatever the device asks for (VT-d's SNP
	 * bit): false when it cannot.
	 */
	bool (*enforce_cache_coherency)(struct iommufd_domain *domain);
};

/* A hardware (or mock) page table as the backends see it. */
struct iommufd_domain {
	const struct iommufd_domain_ops *ops;
	unsigned long pgsize_bitmap;
	unsigned long aperture_start;
	unsigned long aperture_last;
	/* Set when allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING. */
	const struct iommufd_dirty_ops *dirty_ops;
};

struct iommufd_device;

/* What a device's IOMMU can do, as upstream's IOMMU_CAP_* of that name. */
enum iommufd_cap {
	/* Honours IOMMU_CACHE: DMA to memory mapped with it is coherent. */
	IOMMUFD_CAP_CACHE_COHERENCY,
	/* Its domains can enforce coherency (no-snoop DMA is snooped). */
	IOMMUFD_CAP_ENFORCE_CACHE_COHERENCY,
};

/*
 * The driver-specific data of IOMMU_HWPT_ALLOC (data_type, data_len,
 * data_uptr), read from the user before any object is looked up, so that
 * no copy runs while a device is held.  Longer than any backend's struct:
 * not read (the backend refuses the length).  Backends read it with
 * iommufd_user_data_get().
 */
#define IOMMUFD_USER_DATA_MAX 64

struct iommufd_user_data {
	u32 type;
	u32 len;
	int copy_rc;		/* -EFAULT if reading it failed */
	u8 data[IOMMUFD_USER_DATA_MAX] __aligned(8);
};

int iommufd_user_data_get(const struct iommufd_user_data *ud, u32 type,
			  void *dst, size_t size, size_t min_len);

/* How a kind of device reaches its IOMMU. */
struct iommufd_device_ops {
	/*
	 * A paging domain for @idev; @flags are IOMMU_HWPT_ALLOC_* flags:
	 * -EOPNOTSUPP for DIRTY_TRACKING when the device cannot track.
	 */
	struct iommufd_domain *(*domain_alloc)(struct iommufd_device *idev,
					       u32 flags);
	/*
	 * A paging domain shaped by HWPT_ALLOC's data (type not NONE), with
	 * @flags as domain_alloc; NULL when the backend takes none
	 * (EOPNOTSUPP).
	 */
	struct iommufd_domain *(*domain_alloc_user)(struct iommufd_device *idev,
			u32 flags, const struct iommufd_user_data *ud);
	/*
	 * Judge a nested HWPT's data on a parent of @parent_domain, as the
	 * backend's driver would (its errno); 0 when the request is valid,
	 * which still gets EOPNOTSUPP: nesting is not implemented.  @flags
	 * without FAULT_ID_VALID.  NULL: the backend cannot nest (EOPNOTSUPP).
	 */
	int (*nested_check)(struct iommufd_device *idev,
			    struct iommufd_domain *parent_domain, u32 flags,
			    const struct iommufd_user_data *ud);
	/* Can @domain be attached to @idev at all? */
	bool (*domain_compatible)(struct iommufd_device *idev,
				  struct iommufd_domain *domain);
	/* Attach to @domain; @old is the current domain when replacing. */
	int (*attach)(struct iommufd_device *idev, struct iommufd_domain *domain,
		      struct iommufd_domain *old);
	/* Back to blocking DMA. */
	void (*detach)(struct iommufd_device *idev);
	/* Asked at bind, before the device is published: see enum above. */
	bool (*capable)(struct iommufd_device *idev, enum iommufd_cap cap);
	/* Fill @info's type, capabilities and the type-specific data. */
	/*
	 * Fill @info's out_data_type (one per backend), capabilities and
	 * PASID width, and the type-specific data.
	 */
	int (*hw_info)(struct iommufd_device *idev, struct iommu_hw_info *info,
		       void *data, u32 *data_len);
	/* Reserve in @iopt, owned by @idev, the IOVA the device cannot use. */
	int (*reserve)(struct iommufd_device *idev, struct io_pagetable *iopt);
	/* After unbind: free what the backend holds for the device. */
	void (*release)(struct iommufd_device *idev);
	/* Mock devices live inside the fd and must not hold it open. */
	bool owned_by_ctx;
	/* Its domains may be nesting parents (HWPT_ALLOC_NEST_PARENT). */
	bool nest_parent;
};

/* --------------------------------------------------------- io_pagetable */

/*
 * An area's place in its IOAS's tree, sorted by IOVA.  Areas never
 * overlap, so their ends are sorted too and a plain red-black tree
 * answers every range question an interval tree would, with no
 * augmented data to maintain on insert and erase.
 */
struct iopt_area_node {
	struct rb_node rb;
	unsigned long start;
	unsigned long last;
};

struct iopt_area {
	struct iopt_area_node node;	/* IOVA [start, last] */
	struct io_pagetable *iopt;
	struct iopt_pages *pages;	/* set before it enters the tree */
	unsigned long pages_byte;	/* offset of node.start in pages */
	unsigned int num_accesses;
	u8 iommu_prot;			/* IOMMU_READ | IOMMU_WRITE | ... */
	bool prevent_access;
	/*
	 * Being mapped or unmapped: domains not in step with the tree yet.
	 * Set under iova_rwsem; a map that succeeded clears it without the
	 * lock (release), so read it with iopt_area_busy().
	 */
	bool busy;
	bool in_pages;			/* was @pages' spare_area */
	struct iopt_area *claim_next;	/* on an unmap's list while busy */
};

/* Under iova_rwsem: a settled area's domains are all programmed. */
static inline bool iopt_area_busy(struct iopt_area *area)
{
	/* Pairs with the release in iopt_map_elms(). */
	return smp_load_acquire(&area->busy);
}

struct iopt_reserved {
	struct interval_tree_node node;
	void *owner;
};

struct io_pagetable {
	struct rw_semaphore domains_rwsem;
	struct list_head domains;		/* of iommufd_hw_pagetable */
	struct rw_semaphore iova_rwsem;
	struct rb_root area_tree;		/* of iopt_area, by IOVA */
	struct rb_root_cached allowed_itree;
	struct rb_root_cached reserved_itree;
	unsigned long iova_alignment;
	bool disable_large_pages;
	/* PAGE_SIZE while an access that pins pages is attached */
	unsigned long access_alignment;
	unsigned int access_alignment_users;
	struct mutex access_lock;
	struct list_head accesses;		/* of iommufd_access */
	/*
	 * Domains being added that pin the areas before they take the locks
	 * (iopt_add_domain()): no area may come in meanwhile, so a map waits
	 * on @add_domain_wait while this is not 0.  Under iova_rwsem (write).
	 */
	unsigned int adding_domains;
	wait_queue_head_t add_domain_wait;
	/*
	 * COPYs into this IOAS pinning pages of existing areas before they
	 * take the locks (iopt_map_elms()), pins held ahead of an attach
	 * (iopt_hold_pins()) and a domain addition's pins released after
	 * its unlock (iopt_add_domain()): raised under iova_rwsem, so that
	 * IOAS_CHANGE_PROCESS, which holds it for write, sees every pin
	 * that may change the counts it moves (EBUSY).
	 */
	atomic_t early_pins;
};

struct iopt_prepin;
/* Uses of every area's pages taken ahead of an attach (iopt_hold_pins()). */
struct iopt_hold {
	struct io_pagetable *iopt;	/* NULL: nothing held */
	struct iopt_prepin *pins;
	unsigned long nr;
};
int iopt_hold_pins(struct io_pagetable *iopt, struct iopt_hold *hold);
void iopt_release_pins(struct iopt_hold *hold);

void iopt_init_table(struct io_pagetable *iopt);
void iopt_destroy_table(struct io_pagetable *iopt);
int iopt_map_user_pages(struct iommufd_ctx *ictx, struct io_pagetable *iopt,
			unsigned long *iova, unsigned long uptr,
			unsigned long length, int iommu_prot,
			unsigned int flags);
int iopt_map_file_pages(struct iommufd_ctx *ictx, struct io_pagetable *iopt,
			unsigned long *iova, struct file *file,
			unsigned long start, unsigned long length,
			int iommu_prot, unsigned int flags);
struct dma_buf;
int iopt_map_dmabuf_pages(struct io_pagetable *iopt, unsigned long *iova,
			  struct dma_buf *dmabuf, unsigned long start,
			  unsigned long length, int iommu_prot,
			  unsigned int flags);
int iopt_copy_pages(struct io_pagetable *dst, struct io_pagetable *src,
		    unsigned long *dst_iova, unsigned long src_iova,
		    unsigned long length, int iommu_prot, unsigned int flags);
int iopt_unmap_iova(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, unsigned long *unmapped);
int iopt_unmap_iova_or_none(struct io_pagetable *iopt, unsigned long iova,
			    unsigned long length, unsigned long *unmapped);
int iopt_unmap_all(struct io_pagetable *iopt, unsigned long *unmapped);
int iopt_cut_iova(struct io_pagetable *iopt, const unsigned long *iovas,
		  unsigned int num);
int iopt_collect_pages(struct io_pagetable *iopt, struct iopt_pages **out,
		       unsigned long max, unsigned long *n);
int iopt_set_allow_iova(struct io_pagetable *iopt,
			struct rb_root_cached *allowed);
int iopt_reserve_iova(struct io_pagetable *iopt, unsigned long start,
		      unsigned long last, void *owner);
void iopt_remove_reserved_iova(struct io_pagetable *iopt, void *owner);
int iopt_disable_large_pages(struct io_pagetable *iopt);
void iopt_enable_large_pages(struct io_pagetable *iopt);
int iopt_add_domain(struct io_pagetable *iopt,
		    struct iommufd_hw_pagetable *hwpt);
void iopt_remove_domain(struct io_pagetable *iopt,
			struct iommufd_hw_pagetable *hwpt);
int iopt_add_access_alignment(struct io_pagetable *iopt,
			      unsigned long align);
void iopt_remove_access_alignment(struct io_pagetable *iopt);
struct iopt_area *iopt_area_iter_first(struct io_pagetable *iopt,
				       unsigned long start,
				       unsigned long last);
struct iopt_area *iopt_area_iter_next(struct iopt_area *area,
				      unsigned long start, unsigned long last);
unsigned long iopt_area_first_index(struct iopt_area *area);
unsigned long iopt_area_last_index(struct iopt_area *area);

/*
 * Pieces of memory mapped into one domain, gathered into physically
 * contiguous runs of at most @max bytes, one backend call each
 * (iopt_map_run_add()).
 */
struct iopt_map_run {
	struct iommufd_domain *domain;
	int prot;
	unsigned long max;
	unsigned long iova;	/* the run so far */
	phys_addr_t phys;
	unsigned long len;
};

int iopt_map_run_add(struct iopt_map_run *run, unsigned long iova,
		     phys_addr_t phys, unsigned long len);
int iopt_map_run_finish(struct iopt_map_run *run);
void iopt_domain_unmap_now(struct iommufd_domain *domain, unsigned long iova,
			   unsigned long length);

#define IOMMUFD_IOVA_FIXED (1U << 0)
/* iopt_map_elms(): the pieces are pages other areas use (COPY). */
#define IOMMUFD_IOVA_SHARED_PAGES (1U << 1)

/* -------------------------------------------------------------- dma-buf */

/*
 * One import of a dma-buf: the iopt_pages of one IOAS_MAP_FILE (shared by
 * every area that maps part of it, in any IOAS).  It holds the dma-buf,
 * so the exporter's pages outlive every domain mapping of them.
 */
struct iopt_dmabuf {
	struct dma_buf *dmabuf;
	/* The exporter's pages, valid while @dmabuf is held. */
	struct page **pages;
	unsigned long npages;
	struct iopt_pages *owner;	/* set once allocated, for revoke */
	/*
	 * Under @owner's mutex: revoked for good (new domains get nothing),
	 * and the domain mappings of its areas (struct iopt_dmabuf_map).
	 */
	bool revoked;
	struct list_head maps;
	/* On the exporter's list of imports, under the exporter's lock. */
	struct list_head exp_item;
	bool on_exporter;
};

struct iopt_dmabuf *iopt_dmabuf_get(struct dma_buf *dmabuf,
				    unsigned long start, unsigned long length);
int iopt_dmabuf_attach(struct iopt_dmabuf *imp, unsigned long last);
void iopt_dmabuf_put(struct iopt_dmabuf *imp);
int iopt_dmabuf_fill_domain(struct iopt_area *area,
			    struct iommufd_domain *domain,
			    unsigned long max_chunk);
void iopt_dmabuf_unfill_domain(struct iopt_area *area,
			       struct iommufd_domain *domain);
void iopt_dmabuf_revoke(struct iopt_dmabuf *imp);

/* ------------------------------------------------------------------ IOAS */

struct iommufd_ioas {
	struct iommufd_object obj;
	struct io_pagetable iopt;
	/*
	 * Serializes finding or making an automatic HWPT and attaching a
	 * device to it, so that no device finds one half made.  Outside
	 * idev->lock's inner locks; may be held across pinning (of areas
	 * mapped after iommufd_attach_pin()).
	 */
	struct mutex auto_lock;
};

static inline struct iommufd_ioas *iommufd_get_ioas(struct iommufd_ctx *ictx,
						    u32 id)
{
	struct iommufd_object *obj = iommufd_get_object(ictx, id,
							IOMMUFD_OBJ_IOAS);

	if (IS_ERR(obj))
		return ERR_CAST(obj);
	return container_of(obj, struct iommufd_ioas, obj);
}

void iommufd_ioas_destroy(struct iommufd_object *obj);
int iommufd_ioas_alloc_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_iova_ranges(struct iommufd_ucmd *ucmd);
int iommufd_ioas_allow_iovas(struct iommufd_ucmd *ucmd);
int iommufd_ioas_map(struct iommufd_ucmd *ucmd);
int iommufd_ioas_map_file(struct iommufd_ucmd *ucmd);
int iommufd_ioas_copy(struct iommufd_ucmd *ucmd);
int iommufd_ioas_unmap(struct iommufd_ucmd *ucmd);
int iommufd_ioas_change_process(struct iommufd_ucmd *ucmd);
int iommufd_option(struct iommufd_ucmd *ucmd);
long iommufd_iova_holes_snapshot(struct iommufd_ioas *ioas, u32 max,
				 struct iommu_iova_range **out,
				 u64 *alignment);

/* ---------------------------------------------------------- vfio_compat */

int iommufd_vfio_ioas(struct iommufd_ucmd *ucmd);
long iommufd_vfio_ioctl(struct iommufd_ctx *ictx, unsigned int cmd,
			unsigned long arg);
void iommufd_vfio_compat_forget(struct iommufd_ctx *ictx,
				struct iommufd_object *obj);

/* ------------------------------------------------------------------ HWPT */

struct iommufd_hw_pagetable {
	struct iommufd_object obj;
	struct iommufd_ioas *ioas;
	struct iommufd_domain *domain;
	bool auto_domain;
	/* Made with HWPT_ALLOC_NEST_PARENT; set before it is published. */
	bool nest_parent;
	/*
	 * The domain makes all DMA coherent: set at allocation, for a device
	 * that can (before the first map), and never changed.  Devices that
	 * cannot may not attach.
	 */
	bool enforce_cache_coherency;
	/* Automatic: the devices holding it, under ioas->auto_lock. */
	unsigned int auto_users;
	struct list_head iopt_item;	/* in ioas->iopt.domains */
	struct mutex devices_lock;
	struct list_head devices;	/* of iommufd_device */
};

struct iommufd_hw_pagetable *
iommufd_hwpt_alloc(struct iommufd_ctx *ictx, struct iommufd_ioas *ioas,
		   struct iommufd_domain *domain, bool auto_domain,
		   bool enforce_cc);
void iommufd_hwpt_destroy(struct iommufd_object *obj);
int iommufd_hwpt_alloc_ioctl(struct iommufd_ucmd *ucmd);
/* Nesting commands, not implemented: their argument checks (hwpt.c). */
int iommufd_hwpt_invalidate(struct iommufd_ucmd *ucmd);
int iommufd_viommu_alloc(struct iommufd_ucmd *ucmd);
int iommufd_vdevice_alloc(struct iommufd_ucmd *ucmd);
int iommufd_veventq_alloc(struct iommufd_ucmd *ucmd);
int iommufd_hw_queue_alloc(struct iommufd_ucmd *ucmd);
int iommufd_hwpt_set_dirty_tracking(struct iommufd_ucmd *ucmd);
int iommufd_hwpt_get_dirty_bitmap(struct iommufd_ucmd *ucmd);

static inline struct iommufd_hw_pagetable *
iommufd_get_hwpt(struct iommufd_ctx *ictx, u32 id)
{
	struct iommufd_object *obj = iommufd_get_object(ictx, id,
							IOMMUFD_OBJ_HWPT);

	if (IS_ERR(obj))
		return ERR_CAST(obj);
	return container_of(obj, struct iommufd_hw_pagetable, obj);
}

/* ---------------------------------------------------------------- device */

struct iommufd_device {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
	const struct iommufd_device_ops *ops;
	void *priv;			/* the backend's */
	struct device *dev;		/* NULL for mock devices */
	/* IOMMUFD_CAP_ENFORCE_CACHE_COHERENCY, as asked at bind */
	bool enforce_cache_coherency;
	struct mutex lock;		/* attachment */
	struct iommufd_hw_pagetable *hwpt;
	struct list_head hwpt_item;
};

struct iommufd_device *iommufd_device_bind(struct iommufd_ctx *ictx,
					   const struct iommufd_device_ops *ops,
					   void *priv, u32 *id);
void iommufd_device_unbind(struct iommufd_device *idev);
int iommufd_device_attach(struct iommufd_device *idev, u32 *pt_id);
int iommufd_device_replace(struct iommufd_device *idev, u32 *pt_id);
void iommufd_device_detach(struct iommufd_device *idev);
void iommufd_device_destroy(struct iommufd_object *obj);
int iommufd_get_hw_info(struct iommufd_ucmd *ucmd);

static inline struct iommufd_device *
iommufd_get_device(struct iommufd_ucmd *ucmd, u32 id)
{
	struct iommufd_object *obj = iommufd_get_object(ucmd->ictx, id,
							IOMMUFD_OBJ_DEVICE);

	if (IS_ERR(obj))
		return ERR_CAST(obj);
	return container_of(obj, struct iommufd_device, obj);
}

/* Physical devices through the kernel IOMMU API (iommu_api.c, group.c). */
struct iommufd_group;
int iommufd_device_group_id(struct iommufd_device *idev);
struct iommufd_group *iommufd_group_bind(struct device *dev,
					 struct iommufd_ctx *ictx);
void iommufd_group_unbind(struct iommufd_group *igroup);
int iommufd_group_id(struct iommufd_group *igroup);
int iommufd_group_attach(struct iommufd_group *igroup,
			 struct iommu_domain *domain, struct iommu_domain *old);
void iommufd_group_detach(struct iommufd_group *igroup);
int iommufd_group_reserve(struct iommufd_group *igroup,
			  struct io_pagetable *iopt, void *owner);

/* ---------------------------------------------------------------- access */

struct iommufd_access;

struct iommufd_access_ops {
	bool needs_pin_pages;
	/* Unpin everything pinned in [iova, iova + length) before returning. */
	void (*unmap)(void *data, unsigned long iova, unsigned long length);
};

#define IOMMUFD_ACCESS_RW_WRITE (1U << 0)

struct iommufd_access {
	struct iommufd_ctx *ictx;
	const struct iommufd_access_ops *ops;
	void *data;
	struct mutex attach_lock;	/* attach, replace, detach */
	struct mutex ioas_lock;
	struct iommufd_ioas *ioas;	/* for new pins; NULL while switching */
	struct iommufd_ioas *ioas_unpin;	/* where existing pins live */
	struct list_head ioas_item;
};

struct iommufd_access *
iommufd_access_create(struct iommufd_ctx *ictx,
		      const struct iommufd_access_ops *ops, void *data);
void iommufd_access_destroy(struct iommufd_access *access);
int iommufd_access_attach(struct iommufd_access *access, u32 ioas_id);
int iommufd_access_replace(struct iommufd_access *access, u32 ioas_id);
void iommufd_access_detach(struct iommufd_access *access);
int iommufd_access_pin_pages(struct iommufd_access *access,
			     unsigned long iova, unsigned long length,
			     struct page **out_pages, unsigned int flags);
void iommufd_access_unpin_pages(struct iommufd_access *access,
				unsigned long iova, unsigned long length);
int iommufd_access_rw(struct iommufd_access *access, unsigned long iova,
		      void *data, size_t length, unsigned int flags);
void iommufd_access_notify_unmap(struct io_pagetable *iopt,
				 unsigned long iova, unsigned long length);

/* ------------------------------------------------ selftest, mock, fault */

#ifdef IOMMUFD_TEST_BUILD
extern bool iommufd_selftest;
int iommufd_test(struct iommufd_ucmd *ucmd);
struct iommu_test_cmd;
int iommufd_test_bench_floor(struct iommufd_ucmd *ucmd,
			     struct iommu_test_cmd *cmd);
void iommufd_selftest_destroy(struct iommufd_object *obj);
struct iommufd_domain *iommufd_mock_domain_alloc(u32 pagetable_type);
bool iommufd_is_mock_domain(struct iommufd_domain *domain);
int iommufd_mock_domain_lookup(struct iommufd_domain *domain,
			       unsigned long iova, phys_addr_t *paddr);
void iommufd_mock_domain_enable_dirty(struct iommufd_domain *domain);
bool iommufd_mock_domain_tracking(struct iommufd_domain *domain);
void iommufd_mock_domain_set_dirty(struct iommufd_domain *domain,
				   unsigned long iova);
int iommufd_test_dmabuf_get(struct iommu_test_cmd *cmd);
int iommufd_test_dmabuf_revoke(struct iommu_test_cmd *cmd);
int iommufd_test_dmabuf_attach(struct iopt_dmabuf *imp);
void iommufd_test_dmabuf_detach(struct iopt_dmabuf *imp);
void iommufd_test_dmabuf_assert_locked(struct iopt_dmabuf *imp);

void iommufd_fault_init(struct dentry *dir);
#else
/* The module users install: no mock domains, no injected faults. */
static inline bool iommufd_is_mock_domain(struct iommufd_domain *domain)
{
	return false;
}

static inline void iommufd_fault_init(struct dentry *dir)
{
}

/* No dma-buf exporter is accepted without the test one. */
static inline int iommufd_test_dmabuf_attach(struct iopt_dmabuf *imp)
{
	return -EOPNOTSUPP;
}

static inline void iommufd_test_dmabuf_detach(struct iopt_dmabuf *imp)
{
}

/* Nothing to check: without the test exporter nothing revokes. */
static inline void iommufd_test_dmabuf_assert_locked(struct iopt_dmabuf *imp)
{
}
#endif

/* ------------------------------------------------------------- inspect */

void iommufd_inspect_add(struct iommufd_ctx *ictx);
void iommufd_inspect_del(struct iommufd_ctx *ictx);
void iommufd_inspect_init(struct dentry *dir);

/* --------------------------------------------------------------- stats */

void iommufd_stats_object(int delta);
void iommufd_stats_pinned(long delta);
void iommufd_stats_kmem(long delta);
long iommufd_stats_nr_objects(void);
long iommufd_stats_nr_pinned(void);
int iommufd_stats_init(void);
void iommufd_stats_exit(void);

#endif
