// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the socket layer (struct proto and proto_ops).
 *
 * Process context only; every entry point may sleep.
 */
#include <linux/module.h>
#include <net/inet_common.h>
#include <net/sock.h>

#include "alttcp.h"

static void alttcp_close(struct sock *sk, long timeout)
{
	sk_common_release(sk);
}

static int alttcp_disconnect(struct sock *sk, int flags)
{
	return -EOPNOTSUPP;
}

static int alttcp_hash(struct sock *sk)
{
	return 0;
}

static void alttcp_unhash(struct sock *sk)
{
}

struct proto alttcp_prot = {
	.name = "ALTTCP",
	.owner = THIS_MODULE,
	.close = alttcp_close,
	.disconnect = alttcp_disconnect,
	.hash = alttcp_hash,
	.unhash = alttcp_unhash,
	.obj_size = sizeof(struct alttcp_sock),
};

const struct proto_ops alttcp_stream_ops = {
	.family = PF_INET,
	.owner = THIS_MODULE,
	.release = inet_release,
	.bind = sock_no_bind,
	.connect = sock_no_connect,
	.socketpair = sock_no_socketpair,
	.accept = sock_no_accept,
	.getname = inet_getname,
	.poll = datagram_poll,
	.ioctl = inet_ioctl,
	.gettstamp = sock_gettstamp,
	.listen = sock_no_listen,
	.shutdown = sock_no_shutdown,
	.sendmsg = sock_no_sendmsg,
	.recvmsg = sock_no_recvmsg,
	.mmap = sock_no_mmap,
	.sendpage = sock_no_sendpage,
};
