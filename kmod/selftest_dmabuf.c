// SPDX-License-Identifier: GPL-2.0
/*
 * The test build's dma-buf exporter: IOMMU_TEST_OP_DMABUF_GET and
 * IOMMU_TEST_OP_DMABUF_REVOKE.
 *
 * A dma-buf of up to 512 zeroed pages, which user space may mmap (so a
 * test can write it and compare a domain's mapping with it).  It is the
 * one exporter IOAS_MAP_FILE accepts: dmabuf.c recognises it by its ops
 * and asks for its pages here (iommufd_test_dmabuf_attach()); every other
 * importer's map_dma_buf fails.  A revoke clears every existing import
 * out of every domain before it returns and refuses new imports until
 * revoked = 0.
 */
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "iommufd_private.h"
#include "uapi/linux/iommufd_test.h"

#define SELFTEST_DMABUF_MAX_PAGES 512

struct selftest_dmabuf {
	/* @revoked and @imports; see the lock order in iommufd_private.h. */
	struct mutex lock;
	bool revoked;
	struct list_head imports;	/* of iopt_dmabuf.exp_item */
	unsigned long npages;
	struct page *pages[];
};

static struct sg_table *selftest_dmabuf_map(struct dma_buf_attachment *attach,
					    enum dma_data_direction dir)
{
	/* iommufd takes the pages directly; no device imports these. */
	return ERR_PTR(-EOPNOTSUPP);
}

static void selftest_dmabuf_unmap(struct dma_buf_attachment *attach,
				  struct sg_table *sgt,
				  enum dma_data_direction dir)
{
}

static void selftest_dmabuf_free(struct selftest_dmabuf *sd)
{
	unsigned long i;

	for (i = 0; i < sd->npages; i++)
		if (sd->pages[i])
			__free_page(sd->pages[i]);
	mutex_destroy(&sd->lock);
	kvfree(sd);
}

/* The last reference: every import holds one, so none is left. */
static void selftest_dmabuf_release(struct dma_buf *dmabuf)
{
	struct selftest_dmabuf *sd = dmabuf->priv;

	WARN_ON(!list_empty(&sd->imports));
	selftest_dmabuf_free(sd);
}

static int selftest_dmabuf_mmap(struct dma_buf *dmabuf,
				struct vm_area_struct *vma)
{
	struct selftest_dmabuf *sd = dmabuf->priv;

	return vm_map_pages(vma, sd->pages, sd->npages);
}

static const struct dma_buf_ops selftest_dmabuf_ops = {
	.map_dma_buf = selftest_dmabuf_map,
	.unmap_dma_buf = selftest_dmabuf_unmap,
	.release = selftest_dmabuf_release,
	.mmap = selftest_dmabuf_mmap,
};

/**
 * iommufd_test_dmabuf_get() - IOMMU_TEST_OP_DMABUF_GET
 * @cmd: dmabuf_get: length (rounded up to pages, 512 at most) and the
 *       open flags of the export and its fd
 *
 * Return: the new dma-buf fd; -EINVAL for length 0 or over 512 pages;
 * -ENOMEM; or the error of the export or of the fd.
 */
int iommufd_test_dmabuf_get(struct iommu_test_cmd *cmd)
{
	unsigned long npages = DIV_ROUND_UP((unsigned long)cmd->dmabuf_get.length,
					    PAGE_SIZE);
	u32 open_flags = cmd->dmabuf_get.open_flags;
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct selftest_dmabuf *sd;
	struct dma_buf *dmabuf;
	unsigned long i;
	int fd;

	if (!npages || npages > SELFTEST_DMABUF_MAX_PAGES)
		return -EINVAL;
	sd = iommufd_should_fail() ? NULL :
	     kvzalloc(struct_size(sd, pages, npages), GFP_KERNEL_ACCOUNT);
	if (!sd)
		return -ENOMEM;
	mutex_init(&sd->lock);
	INIT_LIST_HEAD(&sd->imports);
	sd->npages = npages;
	for (i = 0; i < npages; i++) {
		sd->pages[i] = iommufd_should_fail() ? NULL :
			       alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!sd->pages[i]) {
			fd = -ENOMEM;
			goto err_free;
		}
	}

	exp.ops = &selftest_dmabuf_ops;
	exp.size = npages << PAGE_SHIFT;
	exp.flags = open_flags;
	exp.priv = sd;
	dmabuf = iommufd_should_fail() ? ERR_PTR(-ENOMEM) :
		 dma_buf_export(&exp);
	if (IS_ERR(dmabuf)) {
		fd = PTR_ERR(dmabuf);
		goto err_free;
	}
	fd = dma_buf_fd(dmabuf, open_flags);
	if (fd < 0)
		dma_buf_put(dmabuf);	/* its release frees @sd */
	return fd;

err_free:
	selftest_dmabuf_free(sd);
	return fd;
}

/**
 * iommufd_test_dmabuf_revoke() - IOMMU_TEST_OP_DMABUF_REVOKE
 * @cmd: dmabuf_revoke: the dma-buf fd; revoked 1 to revoke, 0 to allow
 *       new imports again
 *
 * Revoking clears every existing import out of every domain before it
 * returns (their areas stay, dead); un-revoking leaves those dead.
 *
 * Return: 0; -EBADF for a bad fd; -EINVAL for a file that is not a
 * dma-buf; -EOPNOTSUPP for another exporter's.
 */
int iommufd_test_dmabuf_revoke(struct iommu_test_cmd *cmd)
{
	struct iopt_dmabuf *imp;
	struct selftest_dmabuf *sd;
	struct dma_buf *dmabuf;
	int rc = 0;

	dmabuf = dma_buf_get(cmd->dmabuf_revoke.dmabuf_fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	if (dmabuf->ops != &selftest_dmabuf_ops) {
		rc = -EOPNOTSUPP;
		goto out_put;
	}
	sd = dmabuf->priv;
	mutex_lock(&sd->lock);
	sd->revoked = cmd->dmabuf_revoke.revoked;
	if (sd->revoked)
		list_for_each_entry(imp, &sd->imports, exp_item)
			iopt_dmabuf_revoke(imp);
	mutex_unlock(&sd->lock);
out_put:
	dma_buf_put(dmabuf);
	return rc;
}

/**
 * iommufd_test_dmabuf_attach() - give an import the exporter's pages
 * @imp: the import of @imp->dmabuf, owned by its iopt_pages
 *
 * Fills @imp->pages and @imp->npages and puts @imp on the list a revoke
 * walks.
 *
 * Return: 0; -EOPNOTSUPP when another exporter made the dma-buf; -ENODEV
 * while it is revoked.
 */
int iommufd_test_dmabuf_attach(struct iopt_dmabuf *imp)
{
	struct selftest_dmabuf *sd;
	int rc = 0;

	if (imp->dmabuf->ops != &selftest_dmabuf_ops)
		return -EOPNOTSUPP;
	sd = imp->dmabuf->priv;
	mutex_lock(&sd->lock);
	if (sd->revoked) {
		rc = -ENODEV;
		goto out_unlock;
	}
	imp->pages = sd->pages;
	imp->npages = sd->npages;
	list_add_tail(&imp->exp_item, &sd->imports);
	imp->on_exporter = true;
out_unlock:
	mutex_unlock(&sd->lock);
	return rc;
}

/**
 * iommufd_test_dmabuf_detach() - take an import off the exporter's list
 * @imp: the import; nothing happens if iommufd_test_dmabuf_attach() did
 *       not succeed on it
 *
 * Afterwards no revoke reaches it.
 */
void iommufd_test_dmabuf_detach(struct iopt_dmabuf *imp)
{
	struct selftest_dmabuf *sd = imp->dmabuf->priv;

	if (!imp->on_exporter)
		return;
	mutex_lock(&sd->lock);
	list_del(&imp->exp_item);
	mutex_unlock(&sd->lock);
	imp->on_exporter = false;
}

/**
 * iommufd_test_dmabuf_assert_locked() - lockdep: the exporter's lock is held
 * @imp: an import attached to this exporter
 *
 * For iopt_dmabuf_revoke(), which only this exporter calls, under its lock.
 */
void iommufd_test_dmabuf_assert_locked(struct iopt_dmabuf *imp)
{
	struct selftest_dmabuf *sd = imp->dmabuf->priv;

	lockdep_assert_held(&sd->lock);
}
