// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the socket layer (struct proto and proto_ops).
 *
 * Process context; every entry point may sleep and takes lock_sock().
 * Where Linux's generic inet helpers fit a TCP-like socket (connect's
 * state handling, accept's grafting, shutdown, getname, release) they are
 * used as they are, so errno values match Linux TCP's.
 */
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <asm/ioctls.h>
#include <net/inet_common.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

/* Window scale that lets us offer the largest receive buffer. */
static u8 alttcp_pick_wscale(struct net *net)
{
	u32 space = READ_ONCE(net->ipv4.sysctl_tcp_rmem[2]);
	u8 ws = 0;

	while (space > 65535 && ws < ALTTCP_MAX_WSCALE) {
		space >>= 1;
		ws++;
	}
	return ws;
}

/* Queues, lists and timer of a new socket or a listener's new child. */
void alttcp_init_private(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	alttcp_ofo_init(sk);
	spin_lock_init(&ask->queue_lock);
	INIT_LIST_HEAD(&ask->syn_queue);
	INIT_LIST_HEAD(&ask->accept_queue);
	INIT_LIST_HEAD(&ask->child_node);
	INIT_LIST_HEAD(&ask->tsq_node);
	ask->holder_sk = NULL;
	alttcp_timer_init(sk);
	ask->rto_ms = ALTTCP_RTO_INIT_MS;
	ask->rcv_mss = ALTTCP_MSS_DEFAULT;
	/* Linux acknowledges the first segments at once too: the peer's
	 * slow start grows with ACKs.
	 */
	ask->quickacks = ALTTCP_QUICKACKS;
}

static int alttcp_init_sock(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	alttcp_init_private(sk);
	ask->mss = ALTTCP_MSS_DEFAULT;
	/* Accepted connections keep their listener's (Linux too). */
	ask->ca = alttcp_param(sock_net(sk), congestion_control);
	ask->rcv_wscale = alttcp_pick_wscale(sock_net(sk));
	sock_set_flag(sk, SOCK_RCU_FREE);
	/* Sent segments are owned (output.c): their freeing must not wake
	 * writers, whose space is the write queue's (as Linux TCP).
	 */
	sock_set_flag(sk, SOCK_USE_WRITE_QUEUE);
	/* What sk_setup_caps() asks the route's device to offload. */
	sk->sk_gso_type = SKB_GSO_TCPV4;
	alttcp_mem_sock_init(sk);
	sk->sk_write_space = alttcp_write_space;
	/* Where autotuning starts (autotune.c), as Linux's tcp_init_sock(). */
	WRITE_ONCE(sk->sk_sndbuf,
		   READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_wmem[1]));
	WRITE_ONCE(sk->sk_rcvbuf,
		   READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_rmem[1]));
	return 0;
}

/* Wakes writers once a third of the send buffer is free again. */
void alttcp_write_space(struct sock *sk)
{
	struct socket *sock = sk->sk_socket;
	struct socket_wq *wq;

	if (!sock || !sk_stream_is_writeable(sk))
		return;
	clear_bit(SOCK_NOSPACE, &sock->flags);
	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, EPOLLOUT | EPOLLWRNORM |
						      EPOLLWRBAND);
	if (wq && wq->fasync_list && !(sk->sk_shutdown & SEND_SHUTDOWN))
		sock_wake_async(wq, SOCK_WAKE_SPACE, POLL_OUT);
	rcu_read_unlock();
}

/* An unconnected socket's local address, without a port. */
static int alttcp_bind(struct socket *sock, struct sockaddr *uaddr,
		       int addr_len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;
	struct sock *sk = sock->sk;
	struct net *net = sock_net(sk);
	struct inet_sock *inet = inet_sk(sk);
	u32 bpf_flags = 0;
	unsigned short port;
	int err;

	if (addr_len < sizeof(*sin))
		return -EINVAL;
	/* First, as inet_bind(): the socket's cgroup bind4 programs may
	 * refuse or rewrite. The holder's bind runs them again, as a TCP
	 * socket's (port.c), so rules written for TCP hold for us too.
	 */
	err = BPF_CGROUP_RUN_PROG_INET_BIND_LOCK(sk, uaddr, CGROUP_INET4_BIND,
						 &bpf_flags);
	if (err)
		return err;
	if (sin->sin_family != AF_INET &&
	    (sin->sin_family != AF_UNSPEC ||
	     sin->sin_addr.s_addr != htonl(INADDR_ANY)))
		return -EAFNOSUPPORT;
	if (sin->sin_addr.s_addr != htonl(INADDR_ANY) &&
	    inet_addr_type_table(net, sin->sin_addr.s_addr,
				 RT_TABLE_LOCAL) != RTN_LOCAL &&
	    !inet->freebind && !inet->transparent)
		return -EADDRNOTAVAIL;
	port = ntohs(sin->sin_port);
	if (port && inet_port_requires_bind_service(net, port) &&
	    !(bpf_flags & BIND_NO_CAP_NET_BIND_SERVICE) &&
	    !ns_capable(net->user_ns, CAP_NET_BIND_SERVICE))
		return -EACCES;

	lock_sock(sk);
	err = -EINVAL;
	if (sk->sk_state != TCP_CLOSE || inet->inet_num)
		goto out;
	/* As Linux: a TIME_WAIT on the port needs SO_REUSEADDR. */
	err = -EADDRINUSE;
	if (port && !sk->sk_reuse &&
	    alttcp_tw_port_used(sk, sin->sin_addr.s_addr, sin->sin_port))
		goto out;
	err = alttcp_port_reserve(sk, sin->sin_addr.s_addr, sin->sin_port);
	if (err)
		goto out;
	/* Set by alttcp_port_reserve() from the holder's: a cgroup bind4
	 * program may have rewritten the address or port.
	 */
	if (inet->inet_rcv_saddr)
		sk->sk_userlocks |= SOCK_BINDADDR_LOCK;
	if (port)
		sk->sk_userlocks |= SOCK_BINDPORT_LOCK;
	inet->inet_daddr = 0;
	inet->inet_dport = 0;
	sk_dst_reset(sk);
out:
	release_sock(sk);
	return err;
}

/* Before connect: cgroup BPF connect4 programs may refuse or rewrite. */
static int alttcp_pre_connect(struct sock *sk, struct sockaddr *uaddr,
			      int addr_len)
{
	if (addr_len < sizeof(struct sockaddr_in))
		return -EINVAL;
	sock_owned_by_me(sk);
	return BPF_CGROUP_RUN_PROG_INET4_CONNECT(sk, uaddr);
}

/* proto.connect, under lock_sock from inet_stream_connect(). */
static int alttcp_connect(struct sock *sk, struct sockaddr *uaddr,
			  int addr_len)
{
	struct sockaddr_in *usin = (struct sockaddr_in *)uaddr;
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct net *net = sock_net(sk);
	struct flowi4 fl4;
	struct rtable *rt;
	int err;

	if (addr_len < sizeof(*usin))
		return -EINVAL;
	if (usin->sin_family != AF_INET)
		return -EAFNOSUPPORT;

	rt = ip_route_output_ports(net, &fl4, sk, usin->sin_addr.s_addr,
				   inet->inet_saddr, usin->sin_port,
				   inet->inet_sport, IPPROTO_TCP,
				   RT_CONN_FLAGS(sk), sk->sk_bound_dev_if);
	if (IS_ERR(rt))
		return PTR_ERR(rt) == -ENETUNREACH ? -ENETUNREACH :
						     PTR_ERR(rt);
	if (rt->rt_flags & (RTCF_MULTICAST | RTCF_BROADCAST)) {
		ip_rt_put(rt);
		return -ENETUNREACH;
	}
	if (!inet->inet_saddr) {
		inet->inet_saddr = fl4.saddr;
		inet->inet_rcv_saddr = fl4.saddr;
	}
	if (!inet->inet_num) {
		err = alttcp_port_reserve(sk, inet->inet_saddr, 0);
		if (err) {
			ip_rt_put(rt);
			return err == -EADDRINUSE ? -EADDRNOTAVAIL : err;
		}
	}
	inet->inet_daddr = usin->sin_addr.s_addr;
	inet->inet_dport = usin->sin_port;
	sk_setup_caps(sk, &rt->dst);

	err = alttcp_ehash_insert(sk);
	if (err) {
		inet->inet_daddr = 0;
		inet->inet_dport = 0;
		sk_dst_reset(sk);
		return err;
	}
	ask->ts_off = alttcp_ts_offset(inet->inet_saddr, inet->inet_daddr);
	ask->iss = alttcp_isn(inet->inet_saddr, inet->inet_daddr,
			      inet->inet_sport, inet->inet_dport);
	ask->snd_una = ask->iss;
	ask->snd_nxt = ask->iss + 1;
	ask->snd_max = ask->snd_nxt;
	ask->write_seq = ask->snd_nxt;
	ask->active_open = 1;
	ask->retransmits = 0;
	ask->adv_mss = dst_metric_advmss(&rt->dst);
	if (ask->user_mss)
		ask->adv_mss = min_t(u16, ask->adv_mss, ask->user_mss);
	atomic_set(&inet->inet_id, get_random_u16());
	alttcp_set_state(sk, TCP_SYN_SENT);
	ALTTCP_INC_STATS(net, ALTTCP_MIB_ACTIVEOPENS);
	alttcp_send_syn(sk);
	alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, ask->rto_ms);
	return 0;
}

/* Connection aborted by the application: RST where one is owed. */
static int alttcp_disconnect(struct sock *sk, int flags)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	int old = sk->sk_state;
	struct sk_buff *skb;

	if (old == TCP_LISTEN) {
		alttcp_listen_stop(sk);
	} else if ((1 << old) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT |
				 TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 |
				 TCPF_SYN_RECV | TCPF_CLOSING |
				 TCPF_LAST_ACK)) {
		alttcp_send_active_rst(sk, gfp_any());
		WRITE_ONCE(sk->sk_err, ECONNRESET);
	} else if (old == TCP_SYN_SENT) {
		WRITE_ONCE(sk->sk_err, ECONNRESET);
	}
	alttcp_set_state(sk, TCP_CLOSE);
	alttcp_timer_stop(sk);
	__skb_queue_purge(&sk->sk_receive_queue);
	alttcp_ofo_purge(sk);
	while ((skb = __skb_dequeue(&sk->sk_write_queue)))
		alttcp_wq_free(sk, skb);
	ask->send_head = NULL;
	ask->fin_queued = 0;
	ask->fin_acked = 0;
	inet->inet_dport = 0;
	inet->inet_daddr = 0;
	if (!(sk->sk_userlocks & SOCK_BINDADDR_LOCK)) {
		inet->inet_saddr = 0;
		inet->inet_rcv_saddr = 0;
	}
	sk->sk_shutdown = 0;
	sock_reset_flag(sk, SOCK_DONE);
	ask->srtt_us = 0;
	ask->rttvar_us = 0;
	ask->rto_ms = ALTTCP_RTO_INIT_MS;
	ask->retransmits = 0;
	ask->backoff = 0;
	ask->dupacks = 0;
	ask->in_recovery = false;
	ask->ka_probes = 0;
	ask->time_wait = 0;
	ask->ts_ok = 0;
	ask->ts_recent = 0;
	ask->rcv_mss = ALTTCP_MSS_DEFAULT;
	ask->quickacks = ALTTCP_QUICKACKS;
	ask->pingpong = 0;
	ask->lrcv_ms = 0;
	ask->bytes_acked = 0;
	ask->bytes_received = 0;
	ask->bytes_retrans = 0;
	ask->total_retrans = 0;
	ask->rcv_rtt_us = 0;
	ask->rcv_rtt_time_us = 0;
	ask->rcv_rtt_last_tsecr = 0;
	sk_dst_reset(sk);
	sk_error_report(sk);
	return 0;
}

static int alttcp_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	int err = -EINVAL;

	lock_sock(sk);
	if (sock->state != SS_UNCONNECTED || sock->type != SOCK_STREAM)
		goto out;
	if (sk->sk_state == TCP_LISTEN) {
		WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
		err = alttcp_port_listen(sk, backlog);
		goto out;
	}
	if (sk->sk_state != TCP_CLOSE)
		goto out;
	if (!inet_sk(sk)->inet_num) {
		err = alttcp_port_reserve(sk, inet_sk(sk)->inet_rcv_saddr, 0);
		if (err)
			goto out;
	}
	err = alttcp_port_listen(sk, backlog);
	if (err)
		goto out;
	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	alttcp_state_store(sk, TCP_LISTEN);
	alttcp_lhash_insert(sk);
	alttcp_trace_state(sk, TCP_CLOSE, TCP_LISTEN);
out:
	release_sock(sk);
	return err;
}

/* Our side is done sending: the FIN, and the state that says so. */
static void alttcp_send_fin_state(struct sock *sk)
{
	switch (sk->sk_state) {
	case TCP_ESTABLISHED:
	case TCP_SYN_RECV:
		alttcp_set_state(sk, TCP_FIN_WAIT1);
		alttcp_queue_fin(sk);
		break;
	case TCP_CLOSE_WAIT:
		alttcp_set_state(sk, TCP_LAST_ACK);
		alttcp_queue_fin(sk);
		break;
	}
}

static void alttcp_shutdown(struct sock *sk, int how)
{
	if (how & SEND_SHUTDOWN)
		alttcp_send_fin_state(sk);
}

static void alttcp_close(struct sock *sk, long timeout)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	bool unread = false;
	int state;

	lock_sock(sk);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	if (sk->sk_state == TCP_LISTEN) {
		alttcp_listen_stop(sk);
		goto adjudge;
	}
	unread = ask->copied_seq != ask->rcv_nxt &&
		 !skb_queue_empty(&sk->sk_receive_queue);
	__skb_queue_purge(&sk->sk_receive_queue);
	alttcp_ofo_purge(sk);

	if (sk->sk_state == TCP_CLOSE) {
		goto adjudge;
	} else if (unread) {
		/* RFC 2525 2.17: unread data means the peer lost some.
		 * The RST goes first: CLOSE gives an autobound port back.
		 */
		alttcp_send_active_rst(sk, sk->sk_allocation);
		alttcp_set_state(sk, TCP_CLOSE);
	} else if (sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime) {
		alttcp_disconnect(sk, 0);
	} else {
		if (sk->sk_state == TCP_SYN_SENT)
			alttcp_set_state(sk, TCP_CLOSE);
		else
			alttcp_send_fin_state(sk);
		if (sock_flag(sk, SOCK_LINGER) && timeout)
			sk_stream_wait_close(sk, timeout);
	}

adjudge:
	sock_hold(sk);
	sock_orphan(sk);
	/* Too many already: reset rather than linger (as Linux). */
	if (sk->sk_state != TCP_CLOSE && alttcp_too_many_orphans(sk)) {
		alttcp_send_active_rst(sk, sk->sk_allocation);
		alttcp_set_state(sk, TCP_CLOSE);
	}
	if (sk->sk_state != TCP_CLOSE) {
		atomic_inc(&alttcp_pernet(sock_net(sk))->orphans);
		ask->orphan_counted = 1;
	}
	state = sk->sk_state;
	/* An orphan does not pin the module: unload resets it instead. */
	ask->unpinned = 1;
	module_put(THIS_MODULE);
	/* Free the port now, while we may sleep, so a bind() right after
	 * close() finds it free; still owned, so softirq cannot race us.
	 */
	if (sk->sk_state == TCP_CLOSE)
		alttcp_port_release(sk);
	release_sock(sk);

	local_bh_disable();
	bh_lock_sock(sk);
	if (sk->sk_state == TCP_FIN_WAIT2 && state != TCP_CLOSE &&
	    !alttcp_timer_pending(sk, ALTTCP_TIMER_FIN_WAIT2))
		alttcp_timer_arm(sk, ALTTCP_TIMER_FIN_WAIT2,
				 alttcp_param(sock_net(sk), fin_timeout_ms));
	if (sk->sk_state == TCP_CLOSE)
		alttcp_done(sk);	/* destroys the orphan */
	bh_unlock_sock(sk);
	local_bh_enable();
	sock_put(sk);
}

/* More orphans than max_orphans (counted when true; the caller resets). */
bool alttcp_too_many_orphans(struct sock *sk)
{
	struct net *net = sock_net(sk);

	if (atomic_read(&alttcp_pernet(net)->orphans) <=
	    alttcp_param(net, max_orphans))
		return false;
	ALTTCP_INC_STATS(net, ALTTCP_MIB_TOOMANYORPHANS);
	return true;
}

static void alttcp_destroy_sock(struct sock *sk)
{
	alttcp_port_release(sk);
}

/* Handles what the timer and the softirq left while we owned the socket. */
static void alttcp_release_cb(struct sock *sk)
{
	if (test_and_clear_bit(ALTTCP_TIMER_DEFERRED,
			       &alttcp_sk(sk)->atomic_flags))
		alttcp_handle_timer(sk);
	alttcp_icmp_release(sk);
	alttcp_tsq_release(sk);
}

/* A long write gets a PSH every half of the peer's largest window, so a
 * receiver hands data over as it goes (Linux's forced_push()).
 */
static bool alttcp_forced_push(const struct alttcp_sock *ask)
{
	return seq_after(ask->write_seq,
			 ask->pushed_seq + (ask->max_window >> 1));
}

static void alttcp_mark_push(struct alttcp_sock *ask, struct sk_buff *skb)
{
	ALTTCP_SKB_CB(skb)->flags |= TCPHDR_PSH;
	ask->pushed_seq = ask->write_seq;
}

/*
 * Where a write stops (at its end, or to wait for buffer space): PSH on
 * its last segment unless MSG_MORE says more follows, which also holds a
 * partial segment back, as TCP_CORK does (Linux's tcp_push()).
 */
static void alttcp_push_write(struct sock *sk, int flags, int how)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *tail = skb_peek_tail(&sk->sk_write_queue);

	if (!ask->send_head || !tail)
		return;
	if (!(flags & MSG_MORE) || alttcp_forced_push(ask))
		alttcp_mark_push(ask, tail);
	__alttcp_push(sk, how | ((flags & MSG_MORE) ? ALTTCP_PUSH_CORK : 0));
}

/* May the writer's bytes go on at the end of skb, the queue's tail? */
static bool alttcp_can_append(struct sock *sk, struct sk_buff *skb)
{
	return skb && alttcp_sk(sk)->send_head &&
	       !(ALTTCP_SKB_CB(skb)->flags & TCPHDR_FIN) &&
	       skb->len < alttcp_size_goal(sk);
}

/* A new skb at the tail, for the writer's bytes; NULL: wait for memory. */
static struct sk_buff *alttcp_append_skb(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;

	skb = alttcp_wq_alloc(sk, 0, sk->sk_allocation, false);
	if (!skb)
		return NULL;
	ALTTCP_SKB_CB(skb)->seq = ask->write_seq;
	ALTTCP_SKB_CB(skb)->end_seq = ask->write_seq;
	ALTTCP_SKB_CB(skb)->flags = TCPHDR_ACK;
	__skb_queue_tail(&sk->sk_write_queue, skb);
	if (!ask->send_head)
		ask->send_head = skb;
	return skb;
}

/* A write that stops early leaves no empty skb to be sent as a segment. */
static void alttcp_remove_empty_tail(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb = skb_peek_tail(&sk->sk_write_queue);

	if (!skb || skb->len || ALTTCP_SKB_CB(skb)->flags & TCPHDR_FIN)
		return;
	if (ask->send_head == skb)
		ask->send_head = NULL;
	__skb_unlink(skb, &sk->sk_write_queue);
	alttcp_wq_free(sk, skb);
}

/* Where a write's bytes come from: the writer's memory, or a page. */
struct alttcp_source {
	struct iov_iter *from;		/* sendmsg(): copied */
	struct page *page;		/* sendpage(): taken by reference */
	int offset;
};

/* Up to chunk bytes from src onto skb; as alttcp_wq_copy() returns. */
static int alttcp_fill(struct sock *sk, struct sk_buff *skb,
		       struct alttcp_source *src, int chunk)
{
	int n;

	if (src->from)
		return alttcp_wq_copy(sk, skb, src->from, chunk);
	n = alttcp_wq_add_page(sk, skb, src->page, src->offset, chunk);
	if (n > 0)
		src->offset += n;
	return n;
}

/*
 * Send buffer: a write's bytes go into page fragments of skbs of up to
 * alttcp_size_goal() each (wqueue.c), pushed as each one fills.
 */
static int alttcp_send_stream(struct sock *sk, struct alttcp_source *src,
			      size_t size, int flags)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	bool fresh = false;
	size_t copied = 0;
	long timeo;
	int err;

	lock_sock(sk);
	timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	if ((1 << sk->sk_state) & ~(TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)) {
		err = sk_stream_wait_connect(sk, &timeo);
		if (err)
			goto error;
	}
	sk_clear_bit(SOCKWQ_ASYNC_NOSPACE, sk);

	while (copied < size) {
		struct sk_buff *skb = skb_peek_tail(&sk->sk_write_queue);
		int chunk;

		err = -EPIPE;
		if (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN))
			goto error;

		if (fresh || !alttcp_can_append(sk, skb)) {
			if (!sk_stream_memory_free(sk))
				goto wait;
			/* Let segments that queued behind us in, as Linux. */
			if (sk_flush_backlog(sk))
				continue;
			skb = alttcp_append_skb(sk);
			if (!skb)
				goto wait;
			fresh = false;
		}
		chunk = min_t(size_t, alttcp_size_goal(sk) - skb->len,
			      size - copied);
		chunk = alttcp_fill(sk, skb, src, chunk);
		if (chunk == -EMSGSIZE) {
			fresh = true;
			continue;
		}
		if (chunk == -ENOMEM)
			goto wait;
		if (chunk < 0) {
			err = chunk;
			goto error;
		}
		ALTTCP_SKB_CB(skb)->end_seq += chunk;
		ask->write_seq += chunk;
		copied += chunk;
		if (alttcp_forced_push(ask)) {
			alttcp_mark_push(ask, skb);
			__alttcp_push(sk, ALTTCP_PUSH_FORCE);
		} else if (skb->len >= alttcp_size_goal(sk) &&
			   !alttcp_mtup_gathering(sk)) {
			alttcp_push(sk);
		}
		continue;
wait:
		set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
		alttcp_remove_empty_tail(sk);
		/* Out of space: what is written goes, whole or not. */
		if (copied)
			alttcp_push_write(sk, flags & ~MSG_MORE,
					  ALTTCP_PUSH_FORCE);
		else
			alttcp_push(sk);
		err = sk_stream_wait_memory(sk, &timeo);
		if (err)
			goto error;
	}
	alttcp_push_write(sk, flags, 0);
	release_sock(sk);
	return copied;

error:
	alttcp_remove_empty_tail(sk);
	if (copied) {
		alttcp_push_write(sk, flags, 0);
		release_sock(sk);
		return copied;
	}
	alttcp_push(sk);
	err = sk_stream_error(sk, flags, err);
	release_sock(sk);
	return err;
}

static int alttcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct alttcp_source src = { .from = &msg->msg_iter };

	return alttcp_send_stream(sk, &src, size, msg->msg_flags);
}

/*
 * sendfile() and splice(): the pages go on the write queue by reference,
 * not copied, when the route takes scatter-gather (Linux's
 * do_tcp_sendpages()); else sendmsg() copies them.
 */
static int alttcp_sendpage(struct sock *sk, struct page *page, int offset,
			   size_t size, int flags)
{
	struct alttcp_source src = { .page = page, .offset = offset };

	if (!(READ_ONCE(sk->sk_route_caps) & NETIF_F_SG))
		return sock_no_sendpage(sk->sk_socket, page, offset, size,
					flags);
	return alttcp_send_stream(sk, &src, size, flags);
}

/*
 * After reading: tell the peer when the window opened by a lot. Only once
 * the reader took data, as Linux's tcp_cleanup_rbuf(): a read that finds
 * nothing frees nothing, and a window grown since the SYN is news the
 * next ACK carries anyway.
 */
static void alttcp_window_update(struct sock *sk, int copied)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 offered = ask->rcv_wup + ask->rcv_wnd - ask->rcv_nxt;

	if (copied > 0 &&
	    (1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 |
				   TCPF_FIN_WAIT2) &&
	    alttcp_receive_window(sk) >= offered + 2 * ask->adv_mss)
		alttcp_send_ack(sk);
}

static int alttcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
			  int flags, int *addr_len)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 peek_seq, *seq;
	int copied = 0, target, err = 0;
	long timeo;

	if (flags & (MSG_OOB | MSG_ERRQUEUE))
		return -EOPNOTSUPP;
	lock_sock(sk);
	if (sk->sk_state == TCP_LISTEN) {
		err = -ENOTCONN;
		goto out;
	}
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);
	seq = &ask->copied_seq;
	if (flags & MSG_PEEK) {
		peek_seq = ask->copied_seq;
		seq = &peek_seq;
	}

	while (copied < len) {
		struct sk_buff *skb, *last = NULL;
		bool found = false;

		skb_queue_walk(&sk->sk_receive_queue, skb) {
			struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
			u32 off = *seq - cb->seq;
			size_t n;

			last = skb;
			if (seq_before(*seq, cb->seq) || off >= skb->len)
				continue;
			n = min_t(size_t, skb->len - off, len - copied);
			err = skb_copy_datagram_msg(skb, off, msg, n);
			if (err) {
				if (!copied)
					copied = -EFAULT;
				goto done;
			}
			*seq += n;
			copied += n;
			found = true;
			break;
		}
		/* Free what the reader is done with. */
		while (!(flags & MSG_PEEK) &&
		       (skb = skb_peek(&sk->sk_receive_queue)) &&
		       seq_geq(ask->copied_seq, ALTTCP_SKB_CB(skb)->seq +
						skb->len)) {
			__skb_unlink(skb, &sk->sk_receive_queue);
			consume_skb(skb);
		}
		if (found) {
			/* Let segments that queued behind us in, as Linux. */
			if (!(flags & MSG_PEEK))
				sk_flush_backlog(sk);
			continue;
		}
		if (copied >= target)
			break;
		if (copied) {
			if (sk->sk_err || sk->sk_state == TCP_CLOSE ||
			    (sk->sk_shutdown & RCV_SHUTDOWN) || !timeo ||
			    signal_pending(current))
				break;
		} else {
			if (sock_flag(sk, SOCK_DONE))
				break;
			if (sk->sk_err) {
				copied = sock_error(sk);
				break;
			}
			if (sk->sk_shutdown & RCV_SHUTDOWN)
				break;
			if (sk->sk_state == TCP_CLOSE) {
				copied = -ENOTCONN;
				break;
			}
			if (!timeo) {
				copied = -EAGAIN;
				break;
			}
			if (signal_pending(current)) {
				copied = sock_intr_errno(timeo);
				break;
			}
		}
		alttcp_window_update(sk, copied);
		sk_wait_data(sk, &timeo, last);
	}
done:
	if (!(flags & MSG_PEEK) && copied > 0) {
		alttcp_rcv_space_adjust(sk);
		alttcp_window_update(sk, copied);
	}
	release_sock(sk);
	return copied;
out:
	release_sock(sk);
	return err;
}

static __poll_t alttcp_poll(struct file *file, struct socket *sock,
			    poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct alttcp_sock *ask = alttcp_sk(sk);
	__poll_t mask = 0;
	u8 shutdown;
	int state;

	sock_poll_wait(file, sock, wait);
	state = inet_sk_state_load(sk);
	if (state == TCP_LISTEN)
		return READ_ONCE(ask->accept_qlen) ? EPOLLIN | EPOLLRDNORM : 0;

	shutdown = READ_ONCE(sk->sk_shutdown);
	if (shutdown == SHUTDOWN_MASK || state == TCP_CLOSE)
		mask |= EPOLLHUP;
	if (shutdown & RCV_SHUTDOWN)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	if (state != TCP_SYN_SENT && state != TCP_SYN_RECV) {
		if (READ_ONCE(ask->copied_seq) != READ_ONCE(ask->rcv_nxt) &&
		    !skb_queue_empty_lockless(&sk->sk_receive_queue))
			mask |= EPOLLIN | EPOLLRDNORM;
		if (!(shutdown & SEND_SHUTDOWN)) {
			if (sk_stream_is_writeable(sk)) {
				mask |= EPOLLOUT | EPOLLWRNORM;
			} else {
				sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
				set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
				/* Pairs with the ACK path freeing space. */
				smp_mb__after_atomic();
				if (sk_stream_is_writeable(sk))
					mask |= EPOLLOUT | EPOLLWRNORM;
			}
		} else {
			mask |= EPOLLOUT | EPOLLWRNORM;
		}
	}
	/* sk_err is set before the state change that woke us. */
	smp_rmb();
	if (READ_ONCE(sk->sk_err) ||
	    !skb_queue_empty_lockless(&sk->sk_error_queue))
		mask |= EPOLLERR;
	return mask;
}

static int alttcp_setsockopt(struct sock *sk, int level, int optname,
			     sockptr_t optval, unsigned int optlen)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	int val, err = 0;

	if (level != SOL_TCP)
		return ip_setsockopt(sk, level, optname, optval, optlen);
	if (optname == TCP_CONGESTION)
		return alttcp_setsockopt_congestion(sk, optval, optlen);
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;

	lock_sock(sk);
	switch (optname) {
	case TCP_NODELAY:
		/* Sends what waits, even corked (Linux's TCP_NAGLE_PUSH). */
		ask->nodelay = !!val;
		if (val)
			__alttcp_push(sk, ALTTCP_PUSH_FORCE);
		break;
	case TCP_CORK:
		ask->cork = !!val;
		if (!val)
			__alttcp_push(sk, ask->nodelay ? ALTTCP_PUSH_FORCE : 0);
		break;
	case TCP_MAXSEG:
		if (val && (val < ALTTCP_MSS_MIN || val > 65535)) {
			err = -EINVAL;
			break;
		}
		ask->user_mss = val;
		break;
	/* Linux's limits (MAX_TCP_KEEPIDLE, _KEEPINTVL, _KEEPCNT). */
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
	case TCP_KEEPCNT:
		if (val < 1 || val > (optname == TCP_KEEPCNT ? 127 : 32767)) {
			err = -EINVAL;
		} else if (optname == TCP_KEEPIDLE) {
			ask->keepidle_s = val;
			alttcp_keepalive_idle_changed(sk);
		} else if (optname == TCP_KEEPINTVL) {
			ask->keepintvl_s = val;
		} else {
			ask->keepcnt = val;
		}
		break;
	case TCP_USER_TIMEOUT:
		/* Linux takes any value up to INT_MAX ms; negative: EINVAL. */
		if (val < 0)
			err = -EINVAL;
		else
			WRITE_ONCE(ask->user_timeout_ms, val);
		break;
	default:
		err = -ENOPROTOOPT;
	}
	release_sock(sk);
	return err;
}

static int alttcp_getsockopt(struct sock *sk, int level, int optname,
			     char __user *optval, int __user *optlen)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct net *net = sock_net(sk);
	int val, len;

	if (level != SOL_TCP)
		return ip_getsockopt(sk, level, optname, optval, optlen);
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	if (optname == TCP_INFO)
		return alttcp_getsockopt_info(sk, optval, optlen, len);
	if (optname == TCP_CONGESTION)
		return alttcp_getsockopt_congestion(sk, optval, optlen, len);
	if (optname == TCP_CC_INFO)
		return alttcp_getsockopt_cc_info(optlen);
	len = min_t(unsigned int, len, sizeof(int));

	switch (optname) {
	case TCP_NODELAY:
		val = ask->nodelay;
		break;
	case TCP_CORK:
		val = ask->cork;
		break;
	case TCP_MAXSEG:
		val = (1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN) ?
		      (ask->user_mss ? ask->user_mss : ALTTCP_MSS_DEFAULT) :
		      ask->mss;
		break;
	case TCP_KEEPIDLE:
		val = ask->keepidle_s ? ask->keepidle_s :
		      READ_ONCE(net->ipv4.sysctl_tcp_keepalive_time) / HZ;
		break;
	case TCP_KEEPINTVL:
		val = ask->keepintvl_s ? ask->keepintvl_s :
		      READ_ONCE(net->ipv4.sysctl_tcp_keepalive_intvl) / HZ;
		break;
	case TCP_KEEPCNT:
		val = ask->keepcnt ? ask->keepcnt :
		      READ_ONCE(net->ipv4.sysctl_tcp_keepalive_probes);
		break;
	case TCP_USER_TIMEOUT:
		val = READ_ONCE(ask->user_timeout_ms);
		break;
	default:
		return -ENOPROTOOPT;
	}
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}

static int alttcp_ioctl(struct sock *sk, int cmd, unsigned long arg)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	int answ;

	switch (cmd) {
	case SIOCINQ:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		answ = alttcp_unread(sk);
		break;
	case SIOCOUTQ:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		answ = READ_ONCE(ask->write_seq) - READ_ONCE(ask->snd_una);
		break;
	default:
		return -ENOIOCTLCMD;
	}
	return put_user(answ, (int __user *)arg);
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
	.pre_connect = alttcp_pre_connect,
	.connect = alttcp_connect,
	.disconnect = alttcp_disconnect,
	.accept = alttcp_accept,
	.ioctl = alttcp_ioctl,
	.init = alttcp_init_sock,
	.destroy = alttcp_destroy_sock,
	.shutdown = alttcp_shutdown,
	.setsockopt = alttcp_setsockopt,
	.getsockopt = alttcp_getsockopt,
	.sendmsg = alttcp_sendmsg,
	.sendpage = alttcp_sendpage,
	.recvmsg = alttcp_recvmsg,
	.backlog_rcv = alttcp_do_rcv,
	.release_cb = alttcp_release_cb,
	.keepalive = alttcp_set_keepalive,
	.hash = alttcp_hash,
	.unhash = alttcp_unhash,
	/* Ports are taken in bind/connect/listen, never behind our back. */
	.no_autobind = true,
	.obj_size = sizeof(struct alttcp_sock),
};

const struct proto_ops alttcp_stream_ops = {
	.family = PF_INET,
	.owner = THIS_MODULE,
	.release = inet_release,
	.bind = alttcp_bind,
	.connect = inet_stream_connect,
	.socketpair = sock_no_socketpair,
	.accept = inet_accept,
	.getname = inet_getname,
	.poll = alttcp_poll,
	.ioctl = inet_ioctl,
	.gettstamp = sock_gettstamp,
	.listen = alttcp_listen,
	.shutdown = inet_shutdown,
	.setsockopt = sock_common_setsockopt,
	.getsockopt = sock_common_getsockopt,
	.sendmsg = inet_sendmsg,
	.recvmsg = inet_recvmsg,
	.mmap = sock_no_mmap,
	.sendpage = inet_sendpage,
};
