// SPDX-License-Identifier: GPL-2.0
/*
 * IOAS_MAP_FILE of a dma-buf: the importer side.
 *
 * A dma-buf is memory its exporter owns; nothing is pinned or charged.
 * The IOMMU needs its physical pages, and Debian's 6.1 and 6.12 kernels
 * have no dma-buf interface that hands an importer physical addresses
 * (dma_buf_map_attachment() gives addresses for one device's DMA API,
 * which a domain we program ourselves does not go through).  So only an
 * exporter that says what its pages are is accepted: the test build's
 * own (selftest_dmabuf.c), recognised by its ops, through the small
 * interface iommufd_test_dmabuf_attach()/_detach().  Without the test
 * build every dma-buf gives EOPNOTSUPP.
 *
 * Each IOAS_MAP_FILE makes one import (struct iopt_dmabuf) owned by its
 * iopt_pages, which holds a reference on the dma-buf until the last area
 * using it goes: the exporter's memory outlives every domain mapping.
 *
 * Revocation: the exporter may take its memory back at any time.  Every
 * domain mapping of an import's areas is recorded (struct
 * iopt_dmabuf_map) under the pages' mutex, which is also held while a
 * domain is programmed or cleared, so a revoke -- which takes that mutex
 * under the exporter's lock -- sees every mapping that exists, clears
 * each from its domain and marks the import revoked, all before it
 * returns.  A revoked import stays dead: its areas stay in the IOAS until
 * unmapped, a domain attached later gets nothing for them, and unmapping
 * them clears only what the records say is mapped.  A domain cannot go
 * while a record names it: removing a domain unfills every area first.
 */
#include <linux/dma-buf.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "iommufd_private.h"

MODULE_IMPORT_NS(DMA_BUF);

/* One area of an import, mapped whole into one domain. */
struct iopt_dmabuf_map {
	struct list_head item;		/* in iopt_dmabuf.maps */
	struct iommufd_domain *domain;
	unsigned long iova;
	unsigned long length;
};

/**
 * iopt_dmabuf_get() - a new import of @dmabuf for [start, start + length)
 * @dmabuf: the dma-buf (a reference is taken)
 * @start: byte offset in it
 * @length: bytes
 *
 * Not usable until iopt_dmabuf_attach(), once its iopt_pages own it.
 *
 * Return: the import, or ERR_PTR(): -EINVAL for length 0 or a range past
 * the end, -ENOMEM.
 */
struct iopt_dmabuf *iopt_dmabuf_get(struct dma_buf *dmabuf,
				    unsigned long start, unsigned long length)
{
	struct iopt_dmabuf *imp;
	unsigned long end;

	if (!length || check_add_overflow(start, length, &end) ||
	    end > dmabuf->size)
		return ERR_PTR(-EINVAL);
	imp = iommufd_kzalloc(sizeof(*imp), GFP_KERNEL_ACCOUNT);
	if (!imp)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&imp->maps);
	INIT_LIST_HEAD(&imp->exp_item);
	get_dma_buf(dmabuf);
	imp->dmabuf = dmabuf;
	iommufd_stats_kmem(sizeof(*imp));
	return imp;
}

/**
 * iopt_dmabuf_attach() - ask the exporter for an import's pages
 * @imp: the import, owned by its iopt_pages already (a revoke from now on
 *       reaches them)
 * @last: the last byte the import maps, checked against the size
 *
 * Return: 0; -EOPNOTSUPP for an exporter that is not the test one (every
 * one without the test build); -ENODEV when the exporter is revoked.
 * On failure the import is not attached and only needs its put.
 */
int iopt_dmabuf_attach(struct iopt_dmabuf *imp, unsigned long last)
{
	int rc;

	/* Fills @pages and @npages and puts it on the exporter's list. */
	rc = iommufd_test_dmabuf_attach(imp);
	if (rc)
		return rc;
	if (WARN_ON(last >= imp->npages << PAGE_SHIFT)) {
		iommufd_test_dmabuf_detach(imp);
		return -EINVAL;
	}
	return 0;
}

/**
 * iopt_dmabuf_put() - end an import
 * @imp: the import, with no domain mapping left
 *
 * Called when its iopt_pages are freed (maybe under an IOAS's iova_rwsem):
 * takes it off the exporter's list, then drops the dma-buf, which may
 * free the exporter's memory.
 */
void iopt_dmabuf_put(struct iopt_dmabuf *imp)
{
	WARN_ON(!list_empty(&imp->maps));
	iommufd_test_dmabuf_detach(imp);
	dma_buf_put(imp->dmabuf);
	iommufd_stats_kmem(-(long)sizeof(*imp));
	kfree(imp);
}

/*
 * Program @domain with all of @area from the exporter's pages, a
 * physically contiguous run (at most @max_chunk bytes) per call.  All or
 * nothing.
 */
static int iopt_dmabuf_map_area(struct iopt_dmabuf *imp,
				struct iopt_area *area,
				struct iommufd_domain *domain,
				unsigned long max_chunk)
{
	struct iopt_map_run run = {
		.domain = domain,
		.prot = area->iommu_prot,
		.max = max_chunk,
	};
	unsigned long first = area->pages->uptr >> PAGE_SHIFT;
	unsigned long left = area->node.last - area->node.start + 1;
	unsigned long byte = area->pages_byte, iova = area->node.start;
	unsigned long chunk, off;
	phys_addr_t phys;
	int rc;

	lockdep_assert_held(&area->pages->mutex);
	while (left) {
		off = byte % PAGE_SIZE;
		chunk = min3(PAGE_SIZE - off, left, max_chunk);
		phys = page_to_phys(imp->pages[first + (byte >> PAGE_SHIFT)]) +
		       off;
		rc = iopt_map_run_add(&run, iova, phys, chunk);
		if (rc)
			goto err_unmap;
		iova += chunk;
		byte += chunk;
		left -= chunk;
	}
	rc = iopt_map_run_finish(&run);
	if (rc)
		goto err_unmap;
	return 0;

err_unmap:
	if (run.iova != area->node.start)
		iopt_domain_unmap_now(domain, area->node.start,
				      run.iova - area->node.start);
	return rc;
}

/**
 * iopt_dmabuf_fill_domain() - map a dma-buf area into one more domain
 * @area: an area whose pages are a dma-buf import
 * @domain: the domain
 * @max_chunk: the largest mapping one call may make (PAGE_SIZE when the
 *             IOAS has large pages disabled)
 *
 * Once the import is revoked there is nothing to map: success, and the
 * area stays dead in @domain too.
 *
 * Return: 0, -ENOMEM, or the domain's map error (nothing left mapped).
 */
int iopt_dmabuf_fill_domain(struct iopt_area *area,
			    struct iommufd_domain *domain,
			    unsigned long max_chunk)
{
	struct iopt_dmabuf *imp = iopt_pages_dmabuf(area->pages);
	struct iopt_dmabuf_map *map;
	int rc = 0;

	map = iommufd_kzalloc(sizeof(*map), GFP_KERNEL_ACCOUNT);
	if (!map)
		return -ENOMEM;
	mutex_lock(&area->pages->mutex);
	if (imp->revoked)
		goto out_free;
	rc = iopt_dmabuf_map_area(imp, area, domain, max_chunk);
	if (rc)
		goto out_free;
	map->domain = domain;
	map->iova = area->node.start;
	map->length = area->node.last - area->node.start + 1;
	list_add(&map->item, &imp->maps);
	iommufd_stats_kmem(sizeof(*map));
	map = NULL;
out_free:
	mutex_unlock(&area->pages->mutex);
	kfree(map);
	return rc;
}

/* Clear one recorded mapping and forget it, under @imp's owner's mutex. */
static void iopt_dmabuf_drop_map(struct iopt_dmabuf *imp,
				 struct iopt_dmabuf_map *map)
{
	lockdep_assert_held(&imp->owner->mutex);
	iopt_domain_unmap_now(map->domain, map->iova, map->length);
	list_del(&map->item);
	iommufd_stats_kmem(-(long)sizeof(*map));
	kfree(map);
}

/**
 * iopt_dmabuf_unfill_domain() - clear a dma-buf area from one domain
 * @area: an area whose pages are a dma-buf import
 * @domain: a domain it was filled into
 *
 * Clears what is mapped there, if anything: nothing after a revoke.
 */
void iopt_dmabuf_unfill_domain(struct iopt_area *area,
			       struct iommufd_domain *domain)
{
	struct iopt_dmabuf *imp = iopt_pages_dmabuf(area->pages);
	struct iopt_dmabuf_map *map;

	mutex_lock(&area->pages->mutex);
	list_for_each_entry(map, &imp->maps, item) {
		if (map->domain == domain && map->iova == area->node.start) {
			iopt_dmabuf_drop_map(imp, map);
			break;
		}
	}
	mutex_unlock(&area->pages->mutex);
}

/**
 * iopt_dmabuf_revoke() - take an import's memory out of every domain
 * @imp: an import on the exporter's list
 *
 * For the exporter, under its lock (which keeps @imp and its pages from
 * being freed).  When it returns no domain maps the memory, and none
 * will: the import is revoked for good.
 */
void iopt_dmabuf_revoke(struct iopt_dmabuf *imp)
{
	struct iopt_dmabuf_map *map, *next;

	iommufd_test_dmabuf_assert_locked(imp);
	mutex_lock(&imp->owner->mutex);
	imp->revoked = true;
	list_for_each_entry_safe(map, next, &imp->maps, item)
		iopt_dmabuf_drop_map(imp, map);
	mutex_unlock(&imp->owner->mutex);
}
