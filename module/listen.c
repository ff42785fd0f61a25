// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: listeners, their children and accept().
 *
 * A SYN to a listener makes a child socket at once (SYN-RECEIVED) on the
 * listener's syn_queue; the child's handshake ACK moves it to the
 * accept_queue. Both queues and their lengths are guarded by the
 * listener's queue_lock, which nests inside a child's socket lock. A child
 * holds a reference on its listener until accept() or its end.
 *
 * alttcp_listen_rcv() runs with the listener's socket lock held (softirq
 * or backlog); alttcp_accept() and alttcp_listen_stop() in process context.
 */
#include <linux/sched/signal.h>
#include <net/route.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

#define ALTTCP_SYN_QUEUE_MAX	256U

/* Resets what a clone copied from the listener. */
static void alttcp_child_init(struct sock *child, struct sock *lsk,
			      const struct alttcp_skb_cb *cb,
			      const struct tcphdr *th)
{
	struct alttcp_sock *ask = alttcp_sk(child);
	struct inet_sock *inet = inet_sk(child);

	memset((char *)ask + sizeof(struct inet_sock), 0,
	       sizeof(*ask) - sizeof(struct inet_sock));
	RCU_INIT_POINTER(inet->inet_opt, NULL);
	inet->mc_list = NULL;
	inet->inet_daddr = cb->saddr;
	inet->inet_dport = th->source;
	inet->inet_rcv_saddr = cb->daddr;
	inet->inet_saddr = cb->daddr;
	inet->inet_sport = th->dest;
	inet->inet_num = ntohs(th->dest);
	atomic_set(&inet->inet_id, get_random_u16());

	alttcp_init_private(child);
	ask->rcv_wscale = alttcp_sk(lsk)->rcv_wscale;
	ask->nodelay = alttcp_sk(lsk)->nodelay;
	ask->user_mss = alttcp_sk(lsk)->user_mss;
	ask->keepidle_s = alttcp_sk(lsk)->keepidle_s;
	ask->keepintvl_s = alttcp_sk(lsk)->keepintvl_s;
	ask->keepcnt = alttcp_sk(lsk)->keepcnt;
	ask->user_timeout_ms = alttcp_sk(lsk)->user_timeout_ms;
}

/* LISTEN (RFC 9293 3.10.7.2). */
void alttcp_listen_rcv(struct sock *lsk, struct sk_buff *skb)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct net *net = sock_net(lsk);
	struct alttcp_sock *ask;
	struct flowi4 fl4;
	struct rtable *rt;
	struct sock *child;

	if (cb->flags & TCPHDR_RST)
		goto drop;
	if ((cb->flags & TCPHDR_ACK) || lsk->sk_state != TCP_LISTEN) {
		alttcp_send_reset_reply(net, skb);
		goto drop;
	}
	if (!(cb->flags & TCPHDR_SYN))
		goto drop;
	/* Full means more than the backlog, as Linux's sk_acceptq_is_full(). */
	if (READ_ONCE(lask->accept_qlen) > READ_ONCE(lsk->sk_max_ack_backlog) ||
	    READ_ONCE(lask->syn_qlen) >= ALTTCP_SYN_QUEUE_MAX) {
		/* Full: drop the SYN, the peer retries (as Linux). */
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPLISTENOVERFLOW);
		goto drop;
	}

	child = sk_clone_lock(lsk, GFP_ATOMIC);
	if (!child) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPNOMEM);
		goto drop;
	}
	/* Locked by sk_clone_lock(). Two references: the child's own, and
	 * ours until we unlock.
	 */
	__acquire(&child->sk_lock.slock);
	alttcp_child_init(child, lsk, cb, th);
	ask = alttcp_sk(child);
	alttcp_state_store(child, TCP_SYN_RECV);
	alttcp_trace_state(child, TCP_LISTEN, TCP_SYN_RECV);
	ask->irs = cb->seq;
	ask->rcv_nxt = cb->seq + 1;
	ask->rcv_wup = ask->rcv_nxt;
	ask->copied_seq = ask->rcv_nxt;
	ask->iss = alttcp_isn(cb->daddr, cb->saddr, th->dest, th->source);
	ask->snd_una = ask->iss;
	ask->snd_nxt = ask->iss + 1;
	ask->snd_max = ask->snd_nxt;
	ask->write_seq = ask->snd_nxt;
	ask->snd_wnd = cb->window;	/* never scaled in a SYN */
	ask->snd_wl1 = cb->seq;
	alttcp_apply_syn_options(child, cb);

	/* Our MSS option follows the route back to the peer. */
	rt = ip_route_output_ports(net, &fl4, child, cb->saddr, cb->daddr,
				   th->source, th->dest, IPPROTO_TCP,
				   RT_CONN_FLAGS(child), child->sk_bound_dev_if);
	if (IS_ERR(rt)) {
		alttcp_state_store(child, TCP_CLOSE);
		__release(&child->sk_lock.slock);
		sk_sockets_allocated_dec(child);
		sk_free_unlock_clone(child);
		goto drop;
	}
	sk_setup_caps(child, &rt->dst);
	ask->adv_mss = dst_metric_advmss(&rt->dst);
	if (ask->user_mss)
		ask->adv_mss = min_t(u16, ask->adv_mss, ask->user_mss);

	if (alttcp_ehash_insert(child)) {
		/* The same 4-tuple raced in on another CPU. */
		alttcp_state_store(child, TCP_CLOSE);
		sk_dst_reset(child);
		__release(&child->sk_lock.slock);
		sk_sockets_allocated_dec(child);
		sk_free_unlock_clone(child);
		goto drop;
	}
	spin_lock(&lask->queue_lock);
	sock_hold(lsk);
	ask->parent = lsk;
	ask->child_queue = ALTTCP_CHILD_SYN;
	list_add_tail(&ask->child_node, &lask->syn_queue);
	WRITE_ONCE(lask->syn_qlen, lask->syn_qlen + 1);
	spin_unlock(&lask->queue_lock);
	ALTTCP_INC_STATS(net, ALTTCP_MIB_PASSIVEOPENS);

	alttcp_send_synack(child);
	alttcp_sync_mss(child);
	ask->cwnd = ALTTCP_INIT_CWND * ask->mss;
	alttcp_timer_arm(child, ALTTCP_TIMER_RETRANS, ask->rto_ms);
	bh_unlock_sock(child);
	sock_put(child);
drop:
	kfree_skb(skb);
}

/* The child finished its handshake: on to the accept queue. */
void alttcp_child_ready(struct sock *child)
{
	struct alttcp_sock *ask = alttcp_sk(child);
	struct sock *lsk = ask->parent;
	struct alttcp_sock *lask = alttcp_sk(lsk);
	bool wake = false;

	spin_lock(&lask->queue_lock);
	if (ask->child_queue == ALTTCP_CHILD_SYN) {
		list_move_tail(&ask->child_node, &lask->accept_queue);
		ask->child_queue = ALTTCP_CHILD_ACCEPT;
		WRITE_ONCE(lask->syn_qlen, lask->syn_qlen - 1);
		WRITE_ONCE(lask->accept_qlen, lask->accept_qlen + 1);
		wake = true;
	}
	spin_unlock(&lask->queue_lock);
	if (wake)
		lsk->sk_data_ready(lsk);
}

/* A child that died in the syn queue leaves it and becomes an orphan. */
void alttcp_child_unlink(struct sock *child)
{
	struct alttcp_sock *ask = alttcp_sk(child);
	struct sock *lsk = ask->parent;
	struct alttcp_sock *lask = alttcp_sk(lsk);
	bool was = false;

	spin_lock_bh(&lask->queue_lock);
	if (ask->child_queue != ALTTCP_CHILD_NONE) {
		list_del_init(&ask->child_node);
		if (ask->child_queue == ALTTCP_CHILD_SYN)
			WRITE_ONCE(lask->syn_qlen, lask->syn_qlen - 1);
		else
			WRITE_ONCE(lask->accept_qlen, lask->accept_qlen - 1);
		ask->child_queue = ALTTCP_CHILD_NONE;
		was = true;
	}
	spin_unlock_bh(&lask->queue_lock);
	if (was) {
		ask->parent = NULL;
		sock_put(lsk);
		sock_orphan(child);
	}
}

static struct sock *alttcp_accept_pop(struct sock *lsk)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct alttcp_sock *ask;

	spin_lock_bh(&lask->queue_lock);
	ask = list_first_entry_or_null(&lask->accept_queue,
				       struct alttcp_sock, child_node);
	if (ask) {
		list_del_init(&ask->child_node);
		ask->child_queue = ALTTCP_CHILD_NONE;
		WRITE_ONCE(lask->accept_qlen, lask->accept_qlen - 1);
	}
	spin_unlock_bh(&lask->queue_lock);
	return ask ? &ask->inet.sk : NULL;
}

/* proto.accept; inet_accept() grafts the child it returns. */
struct sock *alttcp_accept(struct sock *lsk, int flags, int *err, bool kern)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *child = NULL;
	long timeo;

	lock_sock(lsk);
	timeo = sock_rcvtimeo(lsk, flags & O_NONBLOCK);
	*err = -EINVAL;
	if (lsk->sk_state != TCP_LISTEN)
		goto out;
	while (!(child = alttcp_accept_pop(lsk))) {
		*err = -EAGAIN;
		if (!timeo)
			goto out;
		*err = sock_intr_errno(timeo);
		if (signal_pending(current))
			goto out;
		add_wait_queue_exclusive(sk_sleep(lsk), &wait);
		sk_wait_event(lsk, &timeo,
			      READ_ONCE(alttcp_sk(lsk)->accept_qlen) ||
			      lsk->sk_state != TCP_LISTEN, &wait);
		remove_wait_queue(sk_sleep(lsk), &wait);
		*err = -EINVAL;
		if (lsk->sk_state != TCP_LISTEN)
			goto out;
	}
	/* Under the child's lock so its softirq side sees a settled parent. */
	local_bh_disable();
	bh_lock_sock(child);
	alttcp_sk(child)->parent = NULL;
	bh_unlock_sock(child);
	local_bh_enable();
	__sock_put(lsk);
	*err = 0;
out:
	release_sock(lsk);
	return child;
}

/* close() or shutdown() of a listener: its children are reset. */
void alttcp_listen_stop(struct sock *lsk)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct alttcp_sock *ask, *tmp;
	LIST_HEAD(victims);

	alttcp_set_state(lsk, TCP_CLOSE);
	spin_lock_bh(&lask->queue_lock);
	list_splice_init(&lask->syn_queue, &victims);
	list_splice_init(&lask->accept_queue, &victims);
	list_for_each_entry(ask, &victims, child_node) {
		ask->child_queue = ALTTCP_CHILD_NONE;
		sock_hold(&ask->inet.sk);
	}
	WRITE_ONCE(lask->syn_qlen, 0);
	WRITE_ONCE(lask->accept_qlen, 0);
	spin_unlock_bh(&lask->queue_lock);

	list_for_each_entry_safe(ask, tmp, &victims, child_node) {
		struct sock *child = &ask->inet.sk;

		list_del_init(&ask->child_node);
		local_bh_disable();
		bh_lock_sock(child);
		ask->parent = NULL;
		__sock_put(lsk);
		sock_orphan(child);
		/* A child reset earlier is CLOSED already. */
		if (child->sk_state != TCP_CLOSE)
			alttcp_send_active_rst(child, GFP_ATOMIC);
		alttcp_done(child);
		bh_unlock_sock(child);
		local_bh_enable();
		sock_put(child);
	}
}
