/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the library's source files; not installed. */
#ifndef LIBIOMMUFD_INTERNAL_H
#define LIBIOMMUFD_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "libiommufd.h"

/* A pointer as the u64 the uAPI structures carry. */
#define U64_PTR(p) ((uint64_t)(uintptr_t)(p))

/*
 * ioctl() as the library reports it: 0, or -errno (errno stays set to
 * the error, as the library promises).
 */
static inline int lib_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) ? -errno : 0;
}

/* Fail with @err (positive): errno = err, return -err. */
static inline int lib_err(int err)
{
	errno = err;
	return -err;
}

/*
 * The end of a function that made several system calls: set errno to the
 * error on failure, give back the caller's errno on success.
 */
static inline int lib_return(int rc, int saved_errno)
{
	errno = rc < 0 ? -rc : saved_errno;
	return rc;
}

/* "0000:00:03.0" or "00:03.0" -> canonical "dddd:bb:dd.f"; 0 or -EINVAL. */
#define BDF_MAX 24
int libiommufd__bdf_canon(const char *bdf, char out[BDF_MAX]);

#endif
