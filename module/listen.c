// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: listeners, their children and accept().
 *
 * A SYN to a listener makes a request entry on its SYN queue (request.c);
 * the handshake's ACK makes the child socket, established, on the accept
 * queue. When the SYN queue is full the SYN is answered with a SYN cookie
 * instead (syncookie.c) and the ACK that returns it makes the child. The
 * accept queue and its length are guarded by the listener's queue_lock,
 * which nests inside a child's socket lock. A child holds a reference on
 * its listener until accept() or its end.
 *
 * alttcp_listen_rcv() runs with the listener's socket lock held (softirq
 * or backlog); alttcp_accept() and alttcp_listen_stop() in process context.
 */
#include <linux/sched/signal.h>
#include <net/route.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

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
	ask->cork = alttcp_sk(lsk)->cork;
	ask->user_mss = alttcp_sk(lsk)->user_mss;
	ask->keepidle_s = alttcp_sk(lsk)->keepidle_s;
	ask->keepintvl_s = alttcp_sk(lsk)->keepintvl_s;
	ask->keepcnt = alttcp_sk(lsk)->keepcnt;
	ask->user_timeout_ms = alttcp_sk(lsk)->user_timeout_ms;
	/* The listener's algorithm, as Linux's children inherit theirs. */
	ask->ca = alttcp_sk(lsk)->ca;
}

/* A child that never became visible: freed as the plain clone it is. */
static void alttcp_child_discard(struct sock *child)
	__releases(&child->sk_lock.slock)
{
	alttcp_state_store(child, TCP_CLOSE);
	sk_dst_reset(child);
	sk_sockets_allocated_dec(child);
	__release(&child->sk_lock.slock);
	sk_free_unlock_clone(child);
}

/*
 * Sets up a child cloned (and locked) by sk_clone_lock() for the
 * connection skb opens (a SYN, or an ACK carrying a SYN cookie): its
 * addresses and its route. False if there is no route back.
 */
static bool alttcp_child_setup(struct sock *lsk, struct sock *child,
			       struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct alttcp_sock *ask = alttcp_sk(child);
	struct flowi4 fl4;
	struct rtable *rt;

	alttcp_child_init(child, lsk, cb, th);
	/* Our MSS option follows the route back to the peer. */
	rt = ip_route_output_ports(sock_net(lsk), &fl4, child, cb->saddr,
				   cb->daddr, th->source, th->dest, IPPROTO_TCP,
				   RT_CONN_FLAGS(child), child->sk_bound_dev_if);
	if (IS_ERR(rt))
		return false;
	sk_setup_caps(child, &rt->dst);
	ask->adv_mss = dst_metric_advmss(&rt->dst);
	if (ask->user_mss)
		ask->adv_mss = min_t(u16, ask->adv_mss, ask->user_mss);
	return true;
}

/*
 * Makes the child visible: in the connection table, then on the
 * listener's accept queue. False if the same 4-tuple raced in on another
 * CPU.
 */
static bool alttcp_child_publish(struct sock *lsk, struct sock *child)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct alttcp_sock *ask = alttcp_sk(child);

	if (alttcp_ehash_insert(child))
		return false;
	spin_lock(&lask->queue_lock);
	sock_hold(lsk);
	ask->parent = lsk;
	ask->child_queue = ALTTCP_CHILD_ACCEPT;
	list_add_tail(&ask->child_node, &lask->accept_queue);
	WRITE_ONCE(lask->accept_qlen, lask->accept_qlen + 1);
	spin_unlock(&lask->queue_lock);
	ALTTCP_INC_STATS(sock_net(lsk), ALTTCP_MIB_PASSIVEOPENS);
	return true;
}

static bool alttcp_accept_queue_full(struct sock *lsk, struct sk_buff *skb)
{
	struct net *net = sock_net(lsk);

	/* Full means more than the backlog, as Linux's sk_acceptq_is_full(). */
	if (READ_ONCE(alttcp_sk(lsk)->accept_qlen) <=
	    READ_ONCE(lsk->sk_max_ack_backlog))
		return false;
	ALTTCP_INC_STATS(net, ALTTCP_MIB_LISTENOVERFLOWS);
	ALTTCP_INC_STATS(net, ALTTCP_MIB_LISTENDROPS);
	alttcp_count_drop(net, skb, ALTTCP_MIB_DROPLISTENOVERFLOW);
	return true;
}

/* The MSS we offer to skb's sender: the route back's, or 0 if none. */
static u16 alttcp_listen_adv_mss(struct sock *lsk, struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct flowi4 fl4;
	struct rtable *rt;
	u16 adv_mss;

	rt = ip_route_output_ports(sock_net(lsk), &fl4, lsk, cb->saddr,
				   cb->daddr, th->source, th->dest, IPPROTO_TCP,
				   RT_CONN_FLAGS(lsk), lsk->sk_bound_dev_if);
	if (IS_ERR(rt))
		return 0;
	adv_mss = dst_metric_advmss(&rt->dst);
	ip_rt_put(rt);
	if (alttcp_sk(lsk)->user_mss)
		adv_mss = min_t(u16, adv_mss, alttcp_sk(lsk)->user_mss);
	return adv_mss;
}

/*
 * A SYN cookie: a request kept nowhere but in the SYN-ACK (syncookie.c).
 * Timestamps and window scale only when the SYN had timestamps: the
 * window scale travels in our TSval.
 */
static void alttcp_listen_send_cookie(struct sock *lsk, struct sk_buff *skb,
				      u16 adv_mss)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct alttcp_request req = {
		.listener = lsk,
		.laddr = cb->daddr, .raddr = cb->saddr,
		.lport = th->dest, .rport = th->source,
		.irs = cb->seq,
		.rcv_wnd = min_t(u32, alttcp_receive_window(lsk), 65535U),
		.ts_ok = cb->saw_tstamp && alttcp_offer_timestamps(lsk),
		.ts_recent = cb->tsval,
		.adv_mss = adv_mss,
		.ts_off = alttcp_ts_offset(cb->daddr, cb->saddr),
		.cookie = 1,
	};
	u16 mss;

	/* Without timestamps the cookie has no room for these. */
	req.snd_wscale = req.ts_ok ? cb->wscale : 0xff;
	req.sack_ok = req.ts_ok && cb->sack_perm && alttcp_offer_sack(lsk);
	req.iss = alttcp_cookie_make(cb, th->source, th->dest, &mss);
	WRITE_ONCE(alttcp_sk(lsk)->cookie_jiffies, jiffies ?: 1);
	ALTTCP_INC_STATS(sock_net(lsk), ALTTCP_MIB_SYNCOOKIESSENT);
	alttcp_send_synack_req(lsk, &req,
			       alttcp_cookie_tsval(alttcp_now_ms() + req.ts_off,
						   cb->wscale, req.sack_ok));
}

/*
 * A SYN: a request entry on the SYN queue (request.c), or, when that
 * queue is full (or syncookies is 2), a SYN cookie and nothing kept.
 */
static void alttcp_listen_syn(struct sock *lsk, struct sk_buff *skb)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct net *net = sock_net(lsk);
	u32 mode = alttcp_param(net, syncookies);
	u32 limit = max(READ_ONCE(lsk->sk_max_ack_backlog),
			alttcp_param(net, max_syn_backlog));
	bool full = READ_ONCE(lask->syn_qlen) >= limit;
	u16 adv_mss;

	/* Full: drop the SYN, the peer retries (as Linux). */
	if (alttcp_accept_queue_full(lsk, skb))
		return;
	if (full && mode != 1 && mode != 2) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_LISTENDROPS);
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPLISTENOVERFLOW);
		return;
	}
	adv_mss = alttcp_listen_adv_mss(lsk, skb);
	if (!adv_mss) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPOTHER);
		return;
	}
	if (mode == 2 || full)
		alttcp_listen_send_cookie(lsk, skb, adv_mss);
	else
		alttcp_request_create(lsk, skb, adv_mss);
}

/*
 * The handshake's ACK for req (an entry, or a cookie decoded): the child
 * socket, established and on the accept queue, which then takes the
 * segment (it may carry data or a FIN). Consumes skb; false if no child
 * was made (the accept queue is full, or no memory), so that the request
 * stays and its SYN-ACK retransmission tries again.
 */
bool alttcp_child_from_request(struct sock *lsk,
			       const struct alttcp_request *req,
			       struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct net *net = sock_net(lsk);
	struct alttcp_skb_cb syn;
	struct alttcp_sock *ask;
	struct sock *child;

	if (alttcp_accept_queue_full(lsk, skb))
		goto drop;
	child = sk_clone_lock(lsk, GFP_ATOMIC);
	if (!child) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPNOMEM);
		goto drop;
	}
	/* Locked by sk_clone_lock(). Two references: the child's own, and
	 * ours until we unlock.
	 */
	__acquire(&child->sk_lock.slock);
	if (!alttcp_child_setup(lsk, child, skb)) {
		alttcp_child_discard(child);
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPOTHER);
		goto drop;
	}
	ask = alttcp_sk(child);
	/* What the SYN said, as the request kept it. */
	syn = *cb;
	syn.mss = req->peer_mss;
	syn.wscale = req->snd_wscale;
	syn.saw_tstamp = req->ts_ok;
	syn.sack_perm = req->sack_ok;
	syn.tsval = req->ts_recent;
	alttcp_apply_syn_options(child, &syn);
	ask->irs = req->irs;
	ask->rcv_nxt = req->irs + 1;
	ask->rcv_wup = ask->rcv_nxt;
	ask->copied_seq = ask->rcv_nxt;
	ask->rcv_wnd = req->rcv_wnd;
	ask->iss = req->iss;
	ask->snd_una = req->iss + 1;
	ask->snd_nxt = ask->snd_una;
	ask->snd_max = ask->snd_una;
	ask->write_seq = ask->snd_una;
	ask->snd_wnd = (u32)cb->window << ask->snd_wscale;
	ask->max_window = ask->snd_wnd;
	alttcp_init_send_marks(child);
	alttcp_init_buffer_space(child);
	ask->snd_wl1 = cb->seq;
	ask->snd_wl2 = cb->ack_seq;
	ask->ts_off = req->ts_off;
	ask->iss_ts = req->cookie ? alttcp_tsval(ask) : req->iss_ts;
	ask->rcv_tstamp_ms = alttcp_now_ms();
	if (!req->cookie) {
		ask->syn_tx_us = req->synack_us;
		/* Karn: no sample after any second SYN-ACK. */
		ask->retransmits = req->retransmits + req->resent;
		alttcp_handshake_rtt(child);
		ask->retransmits = 0;
	}
	alttcp_state_store(child, TCP_ESTABLISHED);
	alttcp_trace_state(child, req->cookie ? TCP_LISTEN : TCP_SYN_RECV,
			   TCP_ESTABLISHED);
	if (!alttcp_child_publish(lsk, child)) {
		alttcp_child_discard(child);
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPOTHER);
		goto drop;
	}
	alttcp_keepalive_reset(child);
	lsk->sk_data_ready(lsk);
	alttcp_rcv_segment(child, skb);
	bh_unlock_sock(child);
	sock_put(child);
	return true;
drop:
	kfree_skb(skb);
	return false;
}

/*
 * An ACK to a listener that matches no request: the end of a handshake
 * we answered with a SYN cookie, or nothing of ours. With syncookies 1,
 * cookies count only within two minutes of the last one sent, so a guess
 * has nothing to hit in quiet times (as Linux).
 */
static bool alttcp_listen_cookie_ack(struct sock *lsk, struct sk_buff *skb)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct net *net = sock_net(lsk);
	u32 mode = alttcp_param(net, syncookies);
	struct alttcp_request req = {
		.listener = lsk,
		.laddr = cb->daddr, .raddr = cb->saddr,
		.lport = th->dest, .rport = th->source,
		.irs = cb->seq - 1,
		.iss = cb->ack_seq - 1,
		.rcv_wnd = min_t(u32, alttcp_receive_window(lsk), 65535U),
		.snd_wscale = 0xff,
		.ts_off = alttcp_ts_offset(cb->daddr, cb->saddr),
		.cookie = 1,
	};
	unsigned long sent = READ_ONCE(lask->cookie_jiffies);
	bool sack;

	if (!mode || (mode == 1 &&
		      (!sent || time_after(jiffies, sent + 2 * 60 * HZ))))
		return false;
	req.peer_mss = alttcp_cookie_check(cb, th->source, th->dest);
	if (!req.peer_mss) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_SYNCOOKIESFAILED);
		return false;
	}
	ALTTCP_INC_STATS(net, ALTTCP_MIB_SYNCOOKIESRECV);
	/* What the echo of our TSval keeps of the SYN's options. */
	if (cb->saw_tstamp && alttcp_offer_timestamps(lsk)) {
		req.ts_ok = 1;
		req.ts_recent = cb->tsval;
		alttcp_cookie_ts_options(cb->tsecr, &req.snd_wscale, &sack);
		req.sack_ok = sack && alttcp_offer_sack(lsk);
	}
	alttcp_child_from_request(lsk, &req, skb);
	return true;
}

/*
 * The 4-tuple has a connection now: its request became one while this
 * segment waited for the listener (in its backlog, or on another CPU).
 * The segment goes there, as Linux looks up again after req_stolen.
 */
static bool alttcp_listen_redirect(struct sock *lsk, struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct sock *sk;

	rcu_read_lock();
	/* IP's control block is gone: the device the segment came in on
	 * is all we have, which a child of lsk, bound as lsk is, matches.
	 */
	sk = alttcp_lookup_established(sock_net(lsk), cb->saddr, th->source,
				       cb->daddr, th->dest, skb->skb_iif, 0);
	rcu_read_unlock();
	if (!sk)
		return false;
	alttcp_deliver_redirected(sk, skb);
	sock_put(sk);
	return true;
}

/* LISTEN (RFC 9293 3.10.7.2), and the requests of a listener. */
void alttcp_listen_rcv(struct sock *lsk, struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct alttcp_request *req;

	if (lsk->sk_state == TCP_LISTEN) {
		req = alttcp_request_lookup(lsk, skb);
		if (req) {
			alttcp_request_rcv(lsk, req, skb);
			return;
		}
		if (alttcp_listen_redirect(lsk, skb))
			return;
	}
	if (cb->flags & TCPHDR_RST)
		goto drop;
	if (lsk->sk_state == TCP_LISTEN &&
	    (cb->flags & (TCPHDR_SYN | TCPHDR_ACK)) == TCPHDR_ACK &&
	    alttcp_listen_cookie_ack(lsk, skb))
		return;
	if ((cb->flags & TCPHDR_ACK) || lsk->sk_state != TCP_LISTEN) {
		alttcp_send_reset_reply(sock_net(lsk), skb);
		goto drop;
	}
	if (cb->flags & TCPHDR_SYN)
		alttcp_listen_syn(lsk, skb);
drop:
	kfree_skb(skb);
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

/* close() or shutdown() of a listener: its requests go, its children
 * not yet accepted are reset.
 */
void alttcp_listen_stop(struct sock *lsk)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct alttcp_sock *ask, *tmp;
	LIST_HEAD(victims);

	alttcp_port_unlisten(lsk);
	alttcp_set_state(lsk, TCP_CLOSE);
	alttcp_request_purge(lsk);
	spin_lock_bh(&lask->queue_lock);
	list_splice_init(&lask->accept_queue, &victims);
	list_for_each_entry(ask, &victims, child_node) {
		ask->child_queue = ALTTCP_CHILD_NONE;
		sock_hold(&ask->inet.sk);
	}
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
