/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * alttcp: a TCP implementation loaded as a module beside Linux's own TCP.
 *
 * IPPROTO_ALTTCP is a socket-level protocol number, like IPPROTO_MPTCP:
 * it selects alttcp in socket(2) and is never sent on the wire, where
 * alttcp speaks plain TCP (IP protocol 6).
 */
#ifndef _UAPI_LINUX_ALTTCP_H
#define _UAPI_LINUX_ALTTCP_H

#define IPPROTO_ALTTCP	258

#endif /* _UAPI_LINUX_ALTTCP_H */
