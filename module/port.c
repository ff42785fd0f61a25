// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: local ports, shared fairly with Linux TCP.
 *
 * Every port alttcp binds is held by a kernel socket of Linux's own TCP,
 * bound to the same address and port but never listening or connected.
 * So Linux's bind rules (SO_REUSEADDR, ephemeral range, conflicts) apply
 * both ways: a Linux TCP socket cannot take a port alttcp holds, and
 * alttcp gets EADDRINUSE for a port Linux TCP holds. The netfilter hook
 * takes segments before Linux TCP sees them, so the holder never answers.
 *
 * Reserving sleeps (process context). Releasing may happen in softirq
 * when an orphaned connection ends: the holder is then closed from a
 * work item, with a reference on the namespace until it is.
 */
#include <linux/llist.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include "alttcp.h"

struct alttcp_port_holder {
	struct socket *sock;
	struct net *net;
	struct llist_node node;
};

static LLIST_HEAD(alttcp_port_garbage);

static void alttcp_port_gc(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&alttcp_port_garbage);
	struct alttcp_port_holder *h, *tmp;

	llist_for_each_entry_safe(h, tmp, list, node) {
		sock_release(h->sock);
		put_net(h->net);
		kfree(h);
	}
}

static DECLARE_WORK(alttcp_port_gc_work, alttcp_port_gc);

int alttcp_port_reserve(struct sock *sk, __be32 addr, __be16 port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = addr,
		.sin_port = port,
	};
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_port_holder *h;
	struct socket *sock;
	int err;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	err = sock_create_kern(sock_net(sk), AF_INET, SOCK_STREAM, IPPROTO_TCP,
			       &sock);
	if (err)
		goto out_free;
	if (sk->sk_reuse)
		sock_set_reuseaddr(sock->sk);
	err = kernel_bind(sock, (struct sockaddr *)&sin, sizeof(sin));
	if (err)
		goto out_release;
	if (!port) {
		err = kernel_getsockname(sock, (struct sockaddr *)&sin);
		if (err < 0)
			goto out_release;
		port = sin.sin_port;
	}
	h->sock = sock;
	ask->port_holder = h;
	inet_sk(sk)->inet_num = ntohs(port);
	inet_sk(sk)->inet_sport = port;
	alttcp_bhash_insert(sk);
	return 0;

out_release:
	sock_release(sock);
out_free:
	kfree(h);
	return err;
}

void alttcp_port_release(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_port_holder *h = ask->port_holder;

	if (!h)
		return;
	ask->port_holder = NULL;
	alttcp_bhash_remove(sk);
	/* As Linux's inet_put_port(): the port is no longer ours. */
	if (!(sk->sk_userlocks & SOCK_BINDPORT_LOCK)) {
		inet_sk(sk)->inet_num = 0;
		inet_sk(sk)->inet_sport = 0;
	}
	if (preemptible()) {
		sock_release(h->sock);
		kfree(h);
		return;
	}
	h->net = get_net(sock_net(sk));
	llist_add(&h->node, &alttcp_port_garbage);
	schedule_work(&alttcp_port_gc_work);
}

/* Module unload: every deferred holder is closed. */
void alttcp_port_exit(void)
{
	flush_work(&alttcp_port_gc_work);
}
