// SPDX-License-Identifier: GPL-2.0
/*
 * IOMMU_TEST_CMD: mock devices on the mock IOMMU, test accesses behind
 * their own fds, and probes that read back the mock page table and the
 * pin counts.  Enabled by the selftest=1 module parameter only.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "iommufd_private.h"
#include "uapi/linux/iommufd_test.h"

#define MOCK_ACCESS_MAX_LENGTH SZ_16M

/* ------------------------------------------------------------ mock device */

struct mock_dev {
	u32 flags;
	struct iommufd_domain *attached;
	u32 cache[MOCK_DEV_CACHE_NUM];
};

/*
 * The selftest object: a mock device bound and attached for a test.  The
 * mock device's state is the iommufd_device's (priv, freed by ->release),
 * so it lives as long as that, whatever happens to this object.
 */
struct selftest_obj {
	struct iommufd_object obj;
	struct iommufd_device *idev;
};

static struct mock_dev *idev_to_mock(struct iommufd_device *idev)
{
	return idev->priv;
}

/* A mock domain of page table type @type, tracking dirt if @flags ask. */
static struct iommufd_domain *mock_dev_domain_alloc_type(struct iommufd_device *idev,
							 u32 flags, u32 type)
{
	struct mock_dev *mdev = idev_to_mock(idev);
	struct iommufd_domain *domain;

	if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) &&
	    (mdev->flags & MOCK_FLAGS_DEVICE_NO_DIRTY))
		return ERR_PTR(-EOPNOTSUPP);
	domain = iommufd_mock_domain_alloc(type);
	if (!IS_ERR(domain) && (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING))
		iommufd_mock_domain_enable_dirty(domain);
	return domain;
}

static struct iommufd_domain *mock_dev_domain_alloc(struct iommufd_device *idev,
						    u32 flags)
{
	return mock_dev_domain_alloc_type(idev, flags, MOCK_IOMMUPT_DEFAULT);
}

/* HWPT_ALLOC data: IOMMU_HWPT_DATA_SELFTEST picks the page table type. */
static struct iommufd_domain *
mock_dev_domain_alloc_user(struct iommufd_device *idev, u32 flags,
			   const struct iommufd_user_data *ud)
{
	struct iommu_hwpt_selftest cfg;
	int rc;

	if (ud->type != IOMMU_HWPT_DATA_SELFTEST)
		return ERR_PTR(-EOPNOTSUPP);
	rc = iommufd_user_data_get(ud, IOMMU_HWPT_DATA_SELFTEST, &cfg,
				   sizeof(cfg), offsetofend(typeof(cfg), iotlb));
	if (rc)
		return ERR_PTR(rc);
	/* iotlb only means something to a nested domain. */
	return mock_dev_domain_alloc_type(idev, flags, cfg.pagetable_type);
}

/*
 * A nested mock domain's data, judged as upstream's mock judges it: only
 * the PASID flag, a mock parent, type IOMMU_HWPT_DATA_SELFTEST (else
 * EOPNOTSUPP), then the length and the copy.
 */
static int mock_dev_nested_check(struct iommufd_device *idev,
				 struct iommufd_domain *parent_domain,
				 u32 flags, const struct iommufd_user_data *ud)
{
	struct iommu_hwpt_selftest cfg;

	if (flags & ~IOMMU_HWPT_ALLOC_PASID)
		return -EOPNOTSUPP;
	if (!iommufd_is_mock_domain(parent_domain))
		return -EINVAL;
	if (ud->type != IOMMU_HWPT_DATA_SELFTEST)
		return -EOPNOTSUPP;
	return iommufd_user_data_get(ud, IOMMU_HWPT_DATA_SELFTEST, &cfg,
				     sizeof(cfg),
				     offsetofend(typeof(cfg), iotlb));
}

/*
 * Any mock device attaches to any mock domain, whatever its page sizes,
 * as upstream's mock: the IOMMU core checks no page size at attach.  A
 * domain's page sizes matter only when it joins an IOAS (its smallest
 * page raises the IOAS's alignment; see iopt_add_domain()).
 */
static bool mock_dev_domain_compatible(struct iommufd_device *idev,
				       struct iommufd_domain *domain)
{
	struct mock_dev *mdev = idev_to_mock(idev);

	/* A device that cannot track may not join a tracking domain. */
	if (domain->dirty_ops && (mdev->flags & MOCK_FLAGS_DEVICE_NO_DIRTY))
		return false;
	return iommufd_is_mock_domain(domain);
}

static int mock_dev_attach(struct iommufd_device *idev,
			   struct iommufd_domain *domain,
			   struct iommufd_domain *old)
{
	idev_to_mock(idev)->attached = domain;
	return 0;
}

static void mock_dev_detach(struct iommufd_device *idev)
{
	idev_to_mock(idev)->attached = NULL;
}

static int mock_dev_hw_info(struct iommufd_device *idev,
			    struct iommu_hw_info *info, void *data,
			    u32 *data_len)
{
	struct mock_dev *mdev = idev_to_mock(idev);
	struct iommu_test_hw_info *hw = data;

	if (*data_len < sizeof(*hw))
		return -ENOSPC;
	hw->flags = 0;
	hw->test_reg = IOMMU_HW_INFO_SELFTEST_REGVAL;
	*data_len = sizeof(*hw);
	info->out_data_type = IOMMU_HW_INFO_TYPE_SELFTEST;
	/* The mock IOMMU never claims ATS: upstream reports that always. */
	info->out_capabilities = IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;
	if (!(mdev->flags & MOCK_FLAGS_DEVICE_NO_DIRTY))
		info->out_capabilities |= IOMMU_HW_CAP_DIRTY_TRACKING;
	if (mdev->flags & MOCK_FLAGS_DEVICE_PASID)
		info->out_max_pasid_log2 = MOCK_PASID_WIDTH;
	return 0;
}

static bool mock_dev_capable(struct iommufd_device *idev, enum iommufd_cap cap)
{
	u32 flags = idev_to_mock(idev)->flags;

	switch (cap) {
	case IOMMUFD_CAP_CACHE_COHERENCY:
		return !(flags & MOCK_FLAGS_DEVICE_NO_CC);
	case IOMMUFD_CAP_ENFORCE_CACHE_COHERENCY:
		return flags & MOCK_FLAGS_DEVICE_ENFORCE_CC;
	}
	return false;
}

static void mock_dev_release(struct iommufd_device *idev)
{
	kfree(idev->priv);
}

static const struct iommufd_device_ops mock_dev_ops = {
	.release = mock_dev_release,
	.domain_alloc = mock_dev_domain_alloc,
	.domain_alloc_user = mock_dev_domain_alloc_user,
	.nested_check = mock_dev_nested_check,
	.domain_compatible = mock_dev_domain_compatible,
	.attach = mock_dev_attach,
	.detach = mock_dev_detach,
	.capable = mock_dev_capable,
	.hw_info = mock_dev_hw_info,
	.owned_by_ctx = true,
	.nest_parent = true,	/* as upstream's mock */
};

/**
 * iommufd_selftest_destroy() - destroy callback of a mock device object
 * @obj: the selftest object
 *
 * Unbinds its mock device.
 *
 * Context: process; no lock held (IOMMU_DESTROY, fd release).
 */
void iommufd_selftest_destroy(struct iommufd_object *obj)
{
	struct selftest_obj *sobj = container_of(obj, struct selftest_obj, obj);

	iommufd_device_unbind(sobj->idev);
}

#define MOCK_DEVICE_FLAGS (MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID | \
			   MOCK_FLAGS_DEVICE_ENFORCE_CC | MOCK_FLAGS_DEVICE_NO_CC)

static int test_mock_domain(struct iommufd_ucmd *ucmd,
			    struct iommu_test_cmd *cmd, u32 dev_flags)
{
	struct selftest_obj *sobj;
	u32 pt_id = cmd->id, idev_id;
	struct mock_dev *mdev;
	int i, rc;

	if (dev_flags & ~MOCK_DEVICE_FLAGS)
		return -EINVAL;
	sobj = iommufd_object_alloc(ucmd->ictx, sobj, IOMMUFD_OBJ_SELFTEST);
	if (IS_ERR(sobj))
		return PTR_ERR(sobj);
	mdev = iommufd_should_fail() ? NULL :
	       kzalloc(sizeof(*mdev), GFP_KERNEL_ACCOUNT);
	if (!mdev) {
		rc = -ENOMEM;
		goto err_abort;
	}
	mdev->flags = dev_flags;
	for (i = 0; i < MOCK_DEV_CACHE_NUM; i++)
		mdev->cache[i] = IOMMU_TEST_DEV_CACHE_DEFAULT;

	/* From here the device owns @mdev (mock_dev_release frees it). */
	sobj->idev = iommufd_device_bind(ucmd->ictx, &mock_dev_ops, mdev,
					 &idev_id);
	if (IS_ERR(sobj->idev)) {
		kfree(mdev);
		rc = PTR_ERR(sobj->idev);
		goto err_abort;
	}
	rc = iommufd_device_attach(sobj->idev, &pt_id);
	if (rc)
		goto err_unbind;

	cmd->mock_domain.out_stdev_id = sobj->obj.id;
	cmd->mock_domain.out_hwpt_id = pt_id;
	cmd->mock_domain.out_idev_id = idev_id;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc)
		goto err_unbind;
	iommufd_object_finalize(ucmd->ictx, &sobj->obj);
	return 0;

err_unbind:
	iommufd_device_unbind(sobj->idev);
err_abort:
	iommufd_object_abort(ucmd->ictx, &sobj->obj);
	return rc;
}

static int test_mock_domain_replace(struct iommufd_ucmd *ucmd,
				    struct iommu_test_cmd *cmd)
{
	struct iommufd_object *obj;
	struct selftest_obj *sobj;
	u32 pt_id = cmd->mock_domain_replace.pt_id;
	int rc;

	obj = iommufd_get_object(ucmd->ictx, cmd->id, IOMMUFD_OBJ_SELFTEST);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	sobj = container_of(obj, struct selftest_obj, obj);
	rc = iommufd_device_replace(sobj->idev, &pt_id);
	if (!rc) {
		cmd->mock_domain_replace.pt_id = pt_id;
		rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	}
	iommufd_put_object(obj);
	return rc;
}

static int test_dev_check_cache(struct iommufd_ucmd *ucmd,
				struct iommu_test_cmd *cmd)
{
	struct iommufd_device *idev;
	int rc = 0;

	idev = iommufd_get_device(ucmd, cmd->id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	if (idev->ops != &mock_dev_ops ||
	    cmd->check_dev_cache.id > MOCK_DEV_CACHE_ID_MAX ||
	    idev_to_mock(idev)->cache[cmd->check_dev_cache.id] !=
	    cmd->check_dev_cache.cache)
		rc = -EINVAL;
	iommufd_put_object(&idev->obj);
	return rc;
}

/* ---------------------------------------------------------- IOAS probes */

static int test_add_reserved(struct iommufd_ucmd *ucmd,
			     struct iommu_test_cmd *cmd)
{
	unsigned long start = cmd->add_reserved.start;
	unsigned long length = cmd->add_reserved.length;
	struct iommufd_ioas *ioas;
	unsigned long last;
	int rc;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(start, length - 1, &last))
		return -EOVERFLOW;
	ioas = iommufd_get_ioas(ucmd->ictx, cmd->id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	rc = iopt_reserve_iova(&ioas->iopt, start, last, NULL);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/* The physical address user memory at @uptr is backed by now. */
static int user_paddr(unsigned long uptr, phys_addr_t *paddr,
		      struct page **pagep)
{
	struct page *page;
	int rc;

	rc = get_user_pages_fast(ALIGN_DOWN(uptr, PAGE_SIZE), 1, 0, &page);
	if (rc != 1)
		return rc < 0 ? rc : -EFAULT;
	*paddr = page_to_phys(page) + uptr % PAGE_SIZE;
	if (pagep)
		*pagep = page;
	else
		put_page(page);
	return 0;
}

/* The mock HWPT @id, with a short-term reference. */
static struct iommufd_hw_pagetable *mock_hwpt_get(struct iommufd_ucmd *ucmd,
						  u32 id)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_object *obj;

	obj = iommufd_get_object(ucmd->ictx, id, IOMMUFD_OBJ_HWPT);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	hwpt = container_of(obj, struct iommufd_hw_pagetable, obj);
	if (!iommufd_is_mock_domain(hwpt->domain)) {
		iommufd_put_object(obj);
		return ERR_PTR(-EINVAL);
	}
	return hwpt;
}

static int test_md_check_map(struct iommufd_ucmd *ucmd,
			     struct iommu_test_cmd *cmd)
{
	unsigned long iova = cmd->check_map.iova;
	unsigned long uptr = cmd->check_map.uptr;
	unsigned long length = cmd->check_map.length;
	struct iommufd_hw_pagetable *hwpt;
	unsigned long i, pgsize, end;
	phys_addr_t want, have;
	int rc = 0;

	hwpt = mock_hwpt_get(ucmd, cmd->id);
	if (IS_ERR(hwpt))
		return PTR_ERR(hwpt);
	/* The domain's smallest page: 2 KiB by default, PAGE_SIZE if huge. */
	pgsize = 1UL << __ffs(hwpt->domain->pgsize_bitmap);
	iommufd_put_object(&hwpt->obj);
	if ((iova | uptr | length) & (pgsize - 1) ||
	    check_add_overflow(uptr, length, &end))
		return -EINVAL;
	/*
	 * The HWPT is held only to read its table, never across the user
	 * page lookup: a lookup stalled in a fault must not hold up the
	 * removal of the HWPT's last device.
	 */
	for (i = 0; i < length && !rc; i += pgsize) {
		rc = user_paddr(uptr + i, &want, NULL);
		if (rc)
			break;
		hwpt = mock_hwpt_get(ucmd, cmd->id);
		if (IS_ERR(hwpt))
			return PTR_ERR(hwpt);
		if (iommufd_mock_domain_lookup(hwpt->domain, iova + i, &have) ||
		    have != want)
			rc = -EINVAL;
		iommufd_put_object(&hwpt->obj);
		cond_resched();
	}
	return rc;
}

static int test_md_check_refs(struct iommufd_ucmd *ucmd,
			      struct iommu_test_cmd *cmd)
{
	unsigned long uptr = cmd->check_refs.uptr;
	unsigned long length = cmd->check_refs.length;
	struct page *page;
	phys_addr_t paddr;
	unsigned long i;
	int rc = 0;

	if ((uptr | length) % PAGE_SIZE)
		return -EINVAL;
	for (i = 0; i < length && !rc; i += PAGE_SIZE) {
		rc = user_paddr(uptr + i, &paddr, &page);
		if (rc)
			break;
		if (!PageCompound(page) &&
		    page_ref_count(page) / GUP_PIN_COUNTING_BIAS !=
		    cmd->check_refs.refs)
			rc = -EIO;
		put_page(page);
		/* The length is the user's: stay preemptible and killable. */
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return rc;
}

static int test_set_temp_memory_limit(struct iommu_test_cmd *cmd)
{
	if (cmd->memory_limit.limit < sizeof(long) + sizeof(u32))
		return -EINVAL;
	iommufd_pin_batch_bytes = cmd->memory_limit.limit;
	return 0;
}

/* ------------------------------------------------------------ dirty bits */

/* At most this many bits per DIRTY command, as upstream. */
#define MOCK_DIRTY_MAX_BITS (1ULL << 27)

/* The mock HWPT @id with dirty tracking on, held; or an error. */
static struct iommufd_hw_pagetable *test_dirty_hwpt(struct iommufd_ucmd *ucmd,
						    u32 id)
{
	struct iommufd_hw_pagetable *hwpt;

	hwpt = iommufd_get_hwpt(ucmd->ictx, id);
	if (IS_ERR(hwpt))
		return hwpt;
	if (!iommufd_is_mock_domain(hwpt->domain) ||
	    !iommufd_mock_domain_tracking(hwpt->domain)) {
		iommufd_put_object(&hwpt->obj);
		return ERR_PTR(-EINVAL);
	}
	return hwpt;
}

/*
 * Mark dirty, as DMA writes would, the leaf at iova + n * page_size for
 * each bit n set in the user's bitmap.  The bitmap is read a page at a
 * time with the HWPT let go: a read stalled in a fault holds up nothing.
 */
static int test_dirty(struct iommufd_ucmd *ucmd, struct iommu_test_cmd *cmd)
{
	void __user *uptr = u64_to_user_ptr(cmd->dirty.uptr);
	u64 page_size = cmd->dirty.page_size;
	u64 length = cmd->dirty.length;
	u64 iova = cmd->dirty.iova;
	struct iommufd_hw_pagetable *hwpt;
	u64 nbits, nbytes, done, nr = 0;
	unsigned int i;
	u8 *buf;
	int rc = 0;

	if (!page_size || !length || !uptr)
		return -EINVAL;
	nbits = div64_u64(length, page_size);
	if (nbits * page_size != length ||
	    div64_u64(iova, page_size) * page_size != iova)
		return -EINVAL;
	if (nbits > MOCK_DIRTY_MAX_BITS)
		return -EOVERFLOW;
	hwpt = test_dirty_hwpt(ucmd, cmd->id);
	if (IS_ERR(hwpt))
		return PTR_ERR(hwpt);
	iommufd_put_object(&hwpt->obj);

	buf = iommufd_should_fail() ? NULL : kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	nbytes = DIV_ROUND_UP_ULL(nbits, BITS_PER_BYTE);
	for (done = 0; done < nbytes; done += PAGE_SIZE) {
		unsigned int len = min_t(u64, PAGE_SIZE, nbytes - done);

		if (copy_from_user(buf, uptr + done, len)) {
			rc = -EFAULT;
			break;
		}
		hwpt = test_dirty_hwpt(ucmd, cmd->id);
		if (IS_ERR(hwpt)) {
			rc = PTR_ERR(hwpt);
			break;
		}
		for (i = 0; i < len * BITS_PER_BYTE; i++) {
			u64 bit = done * BITS_PER_BYTE + i;

			if (bit >= nbits)
				break;
			if (!(buf[i / BITS_PER_BYTE] & BIT(i % BITS_PER_BYTE)))
				continue;
			iommufd_mock_domain_set_dirty(hwpt->domain,
						      iova + bit * page_size);
			nr++;
		}
		iommufd_put_object(&hwpt->obj);
		cond_resched();
	}
	kfree(buf);
	if (rc)
		return rc;
	cmd->dirty.out_nr_dirty = nr;
	return iommufd_ucmd_respond(ucmd, sizeof(*cmd));
}

/* ---------------------------------------------------------- test access */

struct selftest_access {
	struct iommufd_access *access;
	struct mutex lock;
	struct list_head items;
	unsigned int next_id;
};

struct selftest_access_item {
	struct list_head node;
	unsigned long iova;
	unsigned long length;
	unsigned int id;
};

static void selftest_access_unmap(void *data, unsigned long iova,
				  unsigned long length)
{
	struct selftest_access *staccess = data;
	struct selftest_access_item *item, *tmp;
	unsigned long last = iova + (length - 1);

	mutex_lock(&staccess->lock);
	list_for_each_entry_safe(item, tmp, &staccess->items, node) {
		if (item->iova > last || item->iova + item->length - 1 < iova)
			continue;
		iommufd_access_unpin_pages(staccess->access, item->iova,
					   item->length);
		list_del(&item->node);
		kfree(item);
	}
	mutex_unlock(&staccess->lock);
}

static const struct iommufd_access_ops selftest_access_ops_pin = {
	.needs_pin_pages = true,
	.unmap = selftest_access_unmap,
};

static const struct iommufd_access_ops selftest_access_ops = {
	.unmap = selftest_access_unmap,
};

static int selftest_access_release(struct inode *inode, struct file *filep)
{
	struct selftest_access *staccess = filep->private_data;

	/* Detaching calls the unmap callback for everything: items go too. */
	iommufd_access_destroy(staccess->access);
	mutex_destroy(&staccess->lock);
	kfree(staccess);
	return 0;
}

static const struct file_operations selftest_access_fops = {
	.owner = THIS_MODULE,
	.release = selftest_access_release,
};

static struct selftest_access *selftest_access_get(int fd, struct file **fp)
{
	struct file *file = fget(fd);

	if (!file)
		return ERR_PTR(-EBADFD);
	if (file->f_op != &selftest_access_fops) {
		fput(file);
		return ERR_PTR(-EBADFD);
	}
	*fp = file;
	return file->private_data;
}

#define MOCK_ACCESS_CREATE_FLAGS MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES

static int test_create_access(struct iommufd_ucmd *ucmd,
			      struct iommu_test_cmd *cmd)
{
	struct selftest_access *staccess;
	struct file *file;
	int fd, rc;

	if (cmd->create_access.flags & ~MOCK_ACCESS_CREATE_FLAGS)
		return -EOPNOTSUPP;
	staccess = kzalloc(sizeof(*staccess), GFP_KERNEL_ACCOUNT);
	if (!staccess)
		return -ENOMEM;
	INIT_LIST_HEAD(&staccess->items);
	mutex_init(&staccess->lock);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		rc = fd;
		goto err_free;
	}
	staccess->access = iommufd_access_create(
		ucmd->ictx,
		(cmd->create_access.flags &
		 MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) ?
			&selftest_access_ops_pin : &selftest_access_ops,
		staccess);
	if (IS_ERR(staccess->access)) {
		rc = PTR_ERR(staccess->access);
		goto err_put_fd;
	}
	rc = iommufd_access_attach(staccess->access, cmd->id);
	if (rc)
		goto err_destroy;
	file = anon_inode_getfile("[iommufd_test_access]",
				  &selftest_access_fops, staccess, O_RDWR);
	if (IS_ERR(file)) {
		rc = PTR_ERR(file);
		goto err_destroy;
	}
	cmd->create_access.out_access_fd = fd;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc) {
		/* The release of the file tears the access down. */
		fput(file);
		put_unused_fd(fd);
		return rc;
	}
	fd_install(fd, file);
	return 0;

err_destroy:
	iommufd_access_destroy(staccess->access);
err_put_fd:
	put_unused_fd(fd);
err_free:
	mutex_destroy(&staccess->lock);
	kfree(staccess);
	return rc;
}

/* Check that the pinned pages are the ones behind @uptr. */
/* Where the user's pages at @uptr are now: @npages page addresses. */
static int user_page_addrs(unsigned long uptr, unsigned long npages,
			   phys_addr_t *addrs)
{
	unsigned long i;
	int rc;

	for (i = 0; i < npages; i++) {
		rc = user_paddr(ALIGN_DOWN(uptr, PAGE_SIZE) + i * PAGE_SIZE,
				&addrs[i], NULL);
		if (rc)
			return rc;
		addrs[i] = ALIGN_DOWN(addrs[i], PAGE_SIZE);
		cond_resched();
	}
	return 0;
}

static int check_pinned_pages(struct page **pages, unsigned long npages,
			      const phys_addr_t *addrs)
{
	unsigned long i;

	for (i = 0; i < npages; i++)
		if (page_to_phys(pages[i]) != addrs[i])
			return -EBADE;
	return 0;
}

#define MOCK_ACCESS_PAGES_FLAGS (MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)

static int test_access_pages_pin(struct iommufd_ucmd *ucmd,
				 struct iommu_test_cmd *cmd,
				 struct selftest_access *staccess)
{
	unsigned long iova = cmd->access_pages.iova;
	unsigned long length = cmd->access_pages.length;
	struct selftest_access_item *item;
	unsigned long npages;
	struct page **pages;
	phys_addr_t *addrs;
	int rc, addrs_rc;

	if (staccess->access->ops != &selftest_access_ops_pin)
		return -EOPNOTSUPP;
	if (cmd->access_pages.flags & ~MOCK_ACCESS_PAGES_FLAGS)
		return -EOPNOTSUPP;
	if (length > MOCK_ACCESS_MAX_LENGTH)
		return -ENOMEM;
	if (!length || iova + length < iova)
		return -EINVAL;
	npages = (ALIGN(iova + length, PAGE_SIZE) -
		  ALIGN_DOWN(iova, PAGE_SIZE)) >> PAGE_SHIFT;
	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	addrs = kvcalloc(npages, sizeof(*addrs), GFP_KERNEL_ACCOUNT);
	item = kzalloc(sizeof(*item), GFP_KERNEL_ACCOUNT);
	if (!pages || !addrs || !item) {
		rc = -ENOMEM;
		goto out_free;
	}
	/*
	 * The user's pages are looked at before the pin, which may not wait
	 * (their error counts only once the pin went through).
	 */
	addrs_rc = user_page_addrs(cmd->access_pages.uptr, npages, addrs);
	/*
	 * Pinned and listed under staccess->lock, which the unmap callback
	 * takes: an unmap meanwhile waits for the item and unpins it, rather
	 * than finding nothing to unpin.
	 */
	mutex_lock(&staccess->lock);
	rc = iommufd_access_pin_pages(staccess->access, iova, length, pages,
				      (cmd->access_pages.flags &
				       MOCK_FLAGS_ACCESS_WRITE) ?
				      IOMMUFD_ACCESS_RW_WRITE : 0);
	if (!rc) {
		rc = addrs_rc ?: check_pinned_pages(pages, npages, addrs);
		if (rc)
			iommufd_access_unpin_pages(staccess->access, iova,
						   length);
	}
	if (!rc) {
		item->iova = iova;
		item->length = length;
		item->id = staccess->next_id++;
		list_add_tail(&item->node, &staccess->items);
		cmd->access_pages.out_access_pages_id = item->id;
		item = NULL;
	}
	mutex_unlock(&staccess->lock);
	if (rc)
		goto out_free;
	kvfree(addrs);
	kvfree(pages);
	/* A failed copy-out leaves a pinned item: closing the fd frees it. */
	return iommufd_ucmd_respond(ucmd, sizeof(*cmd));

out_free:
	kfree(item);
	kvfree(addrs);
	kvfree(pages);
	return rc;
}

static int test_access_pages(struct iommufd_ucmd *ucmd,
			     struct iommu_test_cmd *cmd)
{
	struct selftest_access *staccess;
	struct file *file;
	int rc;

	staccess = selftest_access_get(cmd->id, &file);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	rc = test_access_pages_pin(ucmd, cmd, staccess);
	fput(file);
	return rc;
}

static int test_destroy_access_pages(struct iommu_test_cmd *cmd)
{
	struct selftest_access_item *item, *found = NULL;
	struct selftest_access *staccess;
	struct file *file;

	staccess = selftest_access_get(cmd->id, &file);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	mutex_lock(&staccess->lock);
	list_for_each_entry(item, &staccess->items, node) {
		if (item->id == cmd->destroy_access_pages.access_pages_id) {
			found = item;
			list_del(&item->node);
			break;
		}
	}
	if (found)
		iommufd_access_unpin_pages(staccess->access, found->iova,
					   found->length);
	mutex_unlock(&staccess->lock);
	fput(file);
	kfree(found);
	return found ? 0 : -ENOENT;
}

#define MOCK_ACCESS_RW_FLAGS (MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | \
			      MOCK_FLAGS_ACCESS_SYZ)

static int test_access_rw(struct iommu_test_cmd *cmd)
{
	void __user *uptr = u64_to_user_ptr(cmd->access_rw.uptr);
	unsigned long length = cmd->access_rw.length;
	bool write = cmd->access_rw.flags & MOCK_ACCESS_RW_WRITE;
	struct selftest_access *staccess;
	struct file *file;
	void *tmp;
	int rc;

	if (cmd->access_rw.flags & ~MOCK_ACCESS_RW_FLAGS)
		return -EOPNOTSUPP;
	if (length > MOCK_ACCESS_MAX_LENGTH)
		return -ENOMEM;
	staccess = selftest_access_get(cmd->id, &file);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	tmp = kvzalloc(max(length, 1UL), GFP_KERNEL_ACCOUNT);
	if (!tmp) {
		rc = -ENOMEM;
		goto out_put;
	}
	if (write && copy_from_user(tmp, uptr, length)) {
		rc = -EFAULT;
		goto out_free;
	}
	rc = iommufd_access_rw(staccess->access, cmd->access_rw.iova, tmp,
			       length, write ? IOMMUFD_ACCESS_RW_WRITE : 0);
	if (!rc && !write && copy_to_user(uptr, tmp, length))
		rc = -EFAULT;
out_free:
	kvfree(tmp);
out_put:
	fput(file);
	return rc;
}

static int test_access_replace_ioas(struct iommu_test_cmd *cmd)
{
	struct selftest_access *staccess;
	struct file *file;
	int rc;

	staccess = selftest_access_get(cmd->id, &file);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	rc = iommufd_access_replace(staccess->access,
				    cmd->access_replace_ioas.ioas_id);
	fput(file);
	return rc;
}

/**
 * iommufd_test() - IOMMU_TEST_CMD (test build, selftest=1)
 * @ucmd: the command
 *
 * Context: process; no lock held.
 *
 * Return: the operation's result, or -EOPNOTSUPP for an unknown one.
 */
int iommufd_test(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->cmd;

	switch (cmd->op) {
	case IOMMU_TEST_OP_ADD_RESERVED:
		return test_add_reserved(ucmd, cmd);
	case IOMMU_TEST_OP_MOCK_DOMAIN:
		return test_mock_domain(ucmd, cmd, 0);
	case IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS:
		return test_mock_domain(ucmd, cmd,
					cmd->mock_domain_flags.dev_flags);
	case IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE:
		return test_mock_domain_replace(ucmd, cmd);
	case IOMMU_TEST_OP_MD_CHECK_MAP:
		return test_md_check_map(ucmd, cmd);
	case IOMMU_TEST_OP_MD_CHECK_REFS:
		return test_md_check_refs(ucmd, cmd);
	case IOMMU_TEST_OP_CREATE_ACCESS:
		return test_create_access(ucmd, cmd);
	case IOMMU_TEST_OP_DESTROY_ACCESS_PAGES:
		return test_destroy_access_pages(cmd);
	case IOMMU_TEST_OP_ACCESS_PAGES:
		return test_access_pages(ucmd, cmd);
	case IOMMU_TEST_OP_ACCESS_RW:
		return test_access_rw(cmd);
	case IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT:
		return test_set_temp_memory_limit(cmd);
	case IOMMU_TEST_OP_ACCESS_REPLACE_IOAS:
		return test_access_replace_ioas(cmd);
	case IOMMU_TEST_OP_DIRTY:
		return test_dirty(ucmd, cmd);
	case IOMMU_TEST_OP_DEV_CHECK_CACHE:
		return test_dev_check_cache(ucmd, cmd);
	case IOMMU_TEST_OP_DMABUF_GET:
		return iommufd_test_dmabuf_get(cmd);
	case IOMMU_TEST_OP_DMABUF_REVOKE:
		return iommufd_test_dmabuf_revoke(cmd);
	case IOMMU_TEST_OP_BENCH_FLOOR:
		return iommufd_test_bench_floor(ucmd, cmd);
	default:
		return -EOPNOTSUPP;
	}
}
