// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: local ports, shared fairly with Linux TCP.
 *
 * Every port alttcp binds is held by a kernel socket of Linux's own TCP,
 * bound to the same address and port but never listening or connected.
 * So Linux's bind rules (SO_REUSEADDR, ephemeral range, conflicts) apply
 * both ways: a Linux TCP socket cannot take a port alttcp holds, and
 * alttcp gets EADDRINUSE for a port Linux TCP holds. The holder takes
 * the socket's SO_REUSEADDR, SO_REUSEPORT and bound device, and listens
 * while the socket does, so listen() conflicts are Linux's too.
 *
 * A listening holder also lets Linux's own listener lookup choose for a
 * SYN (address, device, VRF, SO_REUSEPORT group, BPF sk_lookup): when
 * it picks a holder, the segment is for the alttcp listener behind it
 * (alttcp_port_listener()). The netfilter hook takes every such segment
 * before Linux TCP could see it, so a holder never receives one.
 *
 * Reserving sleeps (process context). Releasing may happen in softirq
 * when an orphaned connection ends: the holder is then closed from a
 * work item, with a reference on the namespace until it is.
 */
#include <linux/llist.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/inet_hashtables.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

struct alttcp_port_holder {
	struct socket *sock;
	struct net *net;
	struct llist_node node;
	__be16 port;			/* counted in port_users */
};

/* What marks a holder in sk_user_data: never followed, only compared. */
static u64 alttcp_holder_mark __aligned(8);

/* The holder follows the socket's port-sharing options and device. */
static void alttcp_port_copy_opts(struct sock *sk, struct sock *hsk)
{
	hsk->sk_reuse = sk->sk_reuse;
	hsk->sk_reuseport = sk->sk_reuseport;
	hsk->sk_bound_dev_if = READ_ONCE(sk->sk_bound_dev_if);
	inet_sk(hsk)->freebind = inet_sk(sk)->freebind;
	inet_sk(hsk)->transparent = inet_sk(sk)->transparent;
}

/* Closes the holder; only then may segments to its port skip alttcp's
 * tables (alttcp_port_maybe_ours()): it may have been listening.
 */
static void alttcp_holder_free(struct alttcp_port_holder *h)
{
	struct net *net = sock_net(h->sock->sk);
	__be16 port = h->port;

	sock_release(h->sock);
	alttcp_port_users_add(net, port, -1);
}

static LLIST_HEAD(alttcp_port_garbage);

static void alttcp_port_gc(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&alttcp_port_garbage);
	struct alttcp_port_holder *h, *tmp;

	llist_for_each_entry_safe(h, tmp, list, node) {
		alttcp_holder_free(h);
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
	lock_sock(sock->sk);
	alttcp_port_copy_opts(sk, sock->sk);
	rcu_assign_sk_user_data(sock->sk, &alttcp_holder_mark);
	release_sock(sock->sk);
	err = kernel_bind(sock, (struct sockaddr *)&sin, sizeof(sin));
	if (err)
		goto out_release;
	/* The port bind() chose, or a cgroup bind4 program did. */
	err = kernel_getsockname(sock, (struct sockaddr *)&sin);
	if (err < 0)
		goto out_release;
	/* Counted before it can listen, so before Linux's lookup finds it. */
	h->port = sin.sin_port;
	alttcp_port_users_add(sock_net(sk), h->port, 1);
	h->sock = sock;
	ask->port_holder = h;
	inet_sk(sk)->inet_num = ntohs(sin.sin_port);
	inet_sk(sk)->inet_sport = sin.sin_port;
	inet_sk(sk)->inet_rcv_saddr = sin.sin_addr.s_addr;
	inet_sk(sk)->inet_saddr = sin.sin_addr.s_addr;
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
	WRITE_ONCE(ask->holder_sk, NULL);
	ask->port_holder = NULL;
	/* As Linux's inet_put_port(): the port is no longer ours. */
	if (!(sk->sk_userlocks & SOCK_BINDPORT_LOCK)) {
		inet_sk(sk)->inet_num = 0;
		inet_sk(sk)->inet_sport = 0;
	}
	if (preemptible()) {
		alttcp_holder_free(h);
		kfree(h);
		return;
	}
	h->net = get_net(sock_net(sk));
	llist_add(&h->node, &alttcp_port_garbage);
	schedule_work(&alttcp_port_gc_work);
}

/*
 * listen(): the holder listens too (Linux checks the port again, as for
 * its own listen()), then its listener lookup may pick it. Process
 * context, socket lock held; also to change the backlog.
 */
int alttcp_port_listen(struct sock *sk, int backlog)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct socket *hsock = ask->port_holder->sock;
	int err;

	lock_sock(hsock->sk);
	alttcp_port_copy_opts(sk, hsock->sk);
	release_sock(hsock->sk);
	/* Set first: once listening, Linux's lookup may pick it. */
	WRITE_ONCE(ask->holder_sk, hsock->sk);
	err = kernel_listen(hsock, backlog);
	if (err && sk->sk_state != TCP_LISTEN)
		WRITE_ONCE(ask->holder_sk, NULL);
	return err;
}

/* The listener stops: its holder stays bound, no longer listening. */
void alttcp_port_unlisten(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->holder_sk)
		return;
	kernel_sock_shutdown(ask->port_holder->sock, SHUT_RDWR);
	WRITE_ONCE(ask->holder_sk, NULL);
}

static bool alttcp_is_holder(const struct sock *sk)
{
	uintptr_t data = (uintptr_t)READ_ONCE(sk->sk_user_data);

	return (data & SK_USER_DATA_PTRMASK) == (uintptr_t)&alttcp_holder_mark;
}

/*
 * The alttcp listener for a segment, with a reference. *ours says whether
 * Linux's lookup picked one of our holders: if not, the segment is Linux
 * TCP's; if so but no listener is returned, the listener is just starting
 * or stopping, and the segment is still ours (a holder must never get
 * one). skb->data is the TCP header, for SO_REUSEPORT programs.
 * Softirq, under RCU: holder_sk is only compared, never followed.
 */
struct sock *alttcp_port_listener(struct net *net, struct sk_buff *skb,
				  __be32 saddr, __be16 sport,
				  __be32 daddr, __be16 dport, int doff,
				  int dif, int sdif, bool *ours)
{
	struct alttcp_net *an = alttcp_pernet(net);
	struct alttcp_sock *ask;
	struct sock *hsk;

	hsk = __inet_lookup_listener(net, net->ipv4.tcp_death_row.hashinfo,
				     skb, doff, saddr, sport, daddr,
				     ntohs(dport), dif, sdif);
	*ours = !IS_ERR_OR_NULL(hsk) && alttcp_is_holder(hsk);
	if (!*ours)
		return NULL;
	hlist_for_each_entry_rcu(ask, &an->lhash[alttcp_hash_port(net, dport)],
				 hash_node) {
		struct sock *sk = &ask->inet.sk;

		if (READ_ONCE(ask->holder_sk) == hsk)
			return refcount_inc_not_zero(&sk->sk_refcnt) ? sk :
								      NULL;
	}
	return NULL;
}

/* Module unload: every deferred holder is closed. */
void alttcp_port_exit(void)
{
	flush_work(&alttcp_port_gc_work);
}
