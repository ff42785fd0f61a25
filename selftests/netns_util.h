/* SPDX-License-Identifier: GPL-2.0 */
/* A network namespace of its own for one test of a C selftest. */
#ifndef ALTTCP_NETNS_UTIL_H
#define ALTTCP_NETNS_UTIL_H

#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Brings lo up in a fresh network namespace for this test alone. */
static inline int fresh_netns(void)
{
	struct ifreq ifr = {};
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

#endif
