// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: request entries, the SYN-RECEIVED half of a passive open.
 *
 * A SYN to a listener makes a request entry, not a socket: what the SYN
 * offered and what our SYN-ACK answered, in a small slab object (a socket
 * takes kilobytes). The socket is made when the handshake's ACK arrives
 * (alttcp_child_from_request()), so a flood of spoofed SYNs costs little;
 * how many a listener keeps is bounded in listen.c.
 *
 * Locking: requests are in the namespace's rqhash so that procfs can list
 * them; it is written under alttcp_net.lock and read under RCU, and a
 * request is freed after a grace period. Everything else, the listener's
 * syn_queue and syn_qlen included, is guarded by the listener's socket
 * lock: segments reach a request only through its listener
 * (alttcp_listen_rcv()), and the listener's timer (ALTTCP_TIMER_SYNACK)
 * resends SYN-ACKs by walking its queue.
 */
#include <linux/rculist.h>
#include <linux/slab.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"
#include "trace.h"

/* The walk of a listener's queue runs at most every 10 ms, however many
 * requests a flood spreads over time.
 */
#define ALTTCP_SYNQ_TICK_MS	10

static struct kmem_cache *alttcp_request_cache __read_mostly;

int alttcp_request_init(void)
{
	alttcp_request_cache = kmem_cache_create("alttcp_request",
						 sizeof(struct alttcp_request),
						 0, SLAB_HWCACHE_ALIGN, NULL);
	return alttcp_request_cache ? 0 : -ENOMEM;
}

void alttcp_request_exit(void)
{
	rcu_barrier();		/* the frees call_rcu() still holds */
	kmem_cache_destroy(alttcp_request_cache);
}

static void alttcp_request_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(alttcp_request_cache,
			container_of(head, struct alttcp_request, rcu));
}

/* The initial RTO doubled for each SYN-ACK sent again, within bounds. */
u32 alttcp_request_rto_ms(const struct alttcp_request *req)
{
	struct net *net = sock_net(req->listener);
	u32 rto_max = alttcp_param(net, rto_max_ms);
	u32 rto = clamp(ALTTCP_RTO_INIT_MS, alttcp_param(net, rto_min_ms),
			rto_max);

	return min_t(u64, (u64)rto << min_t(u8, req->retransmits, 20),
		     rto_max);
}

/* The listener's timer fires by `when`, if it is not set earlier. */
static void alttcp_request_arm(struct sock *lsk, ktime_t when)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	s64 ns = ktime_to_ns(ktime_sub(when, ktime_get()));

	if (alttcp_timer_pending(lsk, ALTTCP_TIMER_SYNACK) &&
	    !ktime_before(when, lask->deadline[ALTTCP_TIMER_SYNACK]))
		return;
	alttcp_timer_arm(lsk, ALTTCP_TIMER_SYNACK,
			 DIV_ROUND_UP_ULL(max_t(s64, ns, 0), NSEC_PER_MSEC));
}

/* The request for a 4-tuple on listener lsk, or NULL. Listener locked. */
static struct alttcp_request *alttcp_request_find(struct sock *lsk,
						  __be32 laddr, __be16 lport,
						  __be32 raddr, __be16 rport)
{
	struct net *net = sock_net(lsk);
	struct alttcp_request *req, *found = NULL;
	u32 h = alttcp_hash4(net, laddr, lport, raddr, rport);

	/* Only the holder of lsk's lock, which we are, frees its requests. */
	rcu_read_lock();
	hlist_for_each_entry_rcu(req, &alttcp_pernet(net)->rqhash[h],
				 hash_node) {
		if (req->listener == lsk && req->raddr == raddr &&
		    req->rport == rport && req->laddr == laddr &&
		    req->lport == lport) {
			found = req;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

/*
 * The listener of the request for a 4-tuple, with a reference, or NULL.
 * Under RCU (softirq, ICMP errors): a listener outlives its requests,
 * and is freed after a grace period.
 */
struct sock *alttcp_request_listener(struct net *net, __be32 laddr,
				     __be16 lport, __be32 raddr, __be16 rport)
{
	u32 h = alttcp_hash4(net, laddr, lport, raddr, rport);
	struct alttcp_request *req;

	hlist_for_each_entry_rcu(req, &alttcp_pernet(net)->rqhash[h],
				 hash_node) {
		struct sock *lsk = READ_ONCE(req->listener);

		if (req->raddr == raddr && req->rport == rport &&
		    req->laddr == laddr && req->lport == lport)
			return refcount_inc_not_zero(&lsk->sk_refcnt) ? lsk :
									NULL;
	}
	return NULL;
}

/* The request for skb's 4-tuple on listener lsk, or NULL. */
struct alttcp_request *alttcp_request_lookup(struct sock *lsk,
					     const struct sk_buff *skb)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);

	return alttcp_request_find(lsk, cb->daddr, th->dest, cb->saddr,
				   th->source);
}

/* A SYN to lsk, with room in its queue: a request, and our SYN-ACK. */
void alttcp_request_create(struct sock *lsk, struct sk_buff *skb,
			   u16 adv_mss)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct net *net = sock_net(lsk);
	struct alttcp_net *an = alttcp_pernet(net);
	struct alttcp_request *req;
	u32 h;

	req = kmem_cache_zalloc(alttcp_request_cache, GFP_ATOMIC);
	if (!req) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPNOMEM);
		return;
	}
	req->listener = lsk;
	req->laddr = cb->daddr;
	req->raddr = cb->saddr;
	req->lport = th->dest;
	req->rport = th->source;
	req->irs = cb->seq;
	req->iss = alttcp_isn(cb->daddr, cb->saddr, th->dest, th->source);
	req->ts_off = alttcp_ts_offset(cb->daddr, cb->saddr);
	req->rcv_wnd = min_t(u32, alttcp_receive_window(lsk), 65535U);
	/* Timestamps when both SYNs carry them (RFC 7323 3.2). */
	req->ts_ok = cb->saw_tstamp && alttcp_offer_timestamps(lsk);
	req->ts_recent = req->ts_ok ? cb->tsval : 0;
	req->sack_ok = cb->sack_perm && alttcp_offer_sack(lsk);
	req->peer_mss = cb->mss;
	req->adv_mss = adv_mss;
	req->snd_wscale = cb->wscale;
	req->uid = lsk->sk_uid;
	req->synack_us = (u32)ktime_to_us(ktime_get());
	req->iss_ts = alttcp_now_ms() + req->ts_off;
	req->deadline = ktime_add_ms(ktime_get(), alttcp_request_rto_ms(req));

	h = alttcp_hash4(net, req->laddr, req->lport, req->raddr, req->rport);
	spin_lock_bh(&an->lock);
	hlist_add_head_rcu(&req->hash_node, &an->rqhash[h]);
	spin_unlock_bh(&an->lock);
	list_add_tail(&req->queue_node, &lask->syn_queue);
	WRITE_ONCE(lask->syn_qlen, lask->syn_qlen + 1);
	trace_alttcp_state_change(req->laddr, req->lport, req->raddr,
				  req->rport, TCP_LISTEN, TCP_SYN_RECV);
	alttcp_send_synack_req(lsk, req, req->iss_ts);
	alttcp_request_arm(lsk, req->deadline);
}

/* Out of the table and the queue; freed after a grace period. */
static void alttcp_request_unlink(struct alttcp_request *req)
{
	struct sock *lsk = req->listener;
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct alttcp_net *an = alttcp_pernet(sock_net(lsk));

	spin_lock_bh(&an->lock);
	hlist_del_rcu(&req->hash_node);
	spin_unlock_bh(&an->lock);
	list_del(&req->queue_node);
	WRITE_ONCE(lask->syn_qlen, lask->syn_qlen - 1);
	if (!lask->syn_qlen)
		alttcp_timer_clear(lsk, ALTTCP_TIMER_SYNACK);
	call_rcu(&req->rcu, alttcp_request_free_rcu);
}

/* The handshake failed: reset, timed out, or the listener closed. */
static void alttcp_request_drop(struct alttcp_request *req)
{
	trace_alttcp_state_change(req->laddr, req->lport, req->raddr,
				  req->rport, TCP_SYN_RECV, TCP_CLOSE);
	alttcp_request_unlink(req);
}

/* RFC 9293 3.4: the segment overlaps the window we offered. */
static bool alttcp_request_seq_ok(const struct alttcp_request *req,
				  const struct alttcp_skb_cb *cb)
{
	u32 nxt = req->irs + 1, len = cb->end_seq - cb->seq;
	u32 wnd = req->rcv_wnd;

	if (!wnd)
		return !len && cb->seq == nxt;
	if (seq_geq(cb->seq, nxt) && seq_before(cb->seq, nxt + wnd))
		return true;
	return len && seq_geq(cb->end_seq - 1, nxt) &&
	       seq_before(cb->end_seq - 1, nxt + wnd);
}

/* An ACK of the SYN for an invalid segment, rate-limited (ackrate.c). */
static void alttcp_request_dupack(struct sock *lsk,
				  struct alttcp_request *req,
				  const struct sk_buff *skb, bool challenge)
{
	if (alttcp_req_may_ack(sock_net(lsk), req, skb, challenge))
		alttcp_send_req_ack(lsk, req);
}

/*
 * A segment for a request: SYN-RECEIVED (RFC 9293 3.10.7.4) up to the ACK
 * that completes the handshake, which makes the socket and hands the
 * segment to it. Listener locked. Consumes skb.
 */
void alttcp_request_rcv(struct sock *lsk, struct alttcp_request *req,
			struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct net *net = sock_net(lsk);

	/* The SYN again: our SYN-ACK was lost. It repeats the first number,
	 * so this comes before the sequence check.
	 */
	if ((cb->flags & (TCPHDR_SYN | TCPHDR_RST | TCPHDR_ACK)) ==
	    TCPHDR_SYN && cb->seq == req->irs) {
		if (alttcp_req_may_ack(net, req, skb, false)) {
			ALTTCP_INC_STATS(net, ALTTCP_MIB_RETRANSSEGS);
			req->resent = 1;
			alttcp_send_synack_req(lsk, req, alttcp_now_ms() +
					       req->ts_off);
		}
		goto drop;
	}
	/* PAWS (RFC 7323 5.3) */
	if (req->ts_ok && cb->saw_tstamp && !(cb->flags & TCPHDR_RST) &&
	    (s32)(cb->tsval - req->ts_recent) < 0) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPPAWS);
		alttcp_request_dupack(lsk, req, skb, false);
		goto drop;
	}
	/* First: sequence number. */
	if (!alttcp_request_seq_ok(req, cb)) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPOUTOFWINDOW);
		if (!(cb->flags & TCPHDR_RST))
			alttcp_request_dupack(lsk, req, skb, false);
		goto drop;
	}
	/* Second: RST; only the exact next number resets (RFC 5961 3.2).
	 * A passive open just goes away.
	 */
	if (cb->flags & TCPHDR_RST) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_INRSTS);
		if (cb->seq != req->irs + 1) {
			alttcp_request_dupack(lsk, req, skb, true);
			goto drop;
		}
		trace_alttcp_rst_recv(req->laddr, req->lport, req->raddr,
				      req->rport, cb->seq, cb->ack_seq);
		alttcp_request_drop(req);
		goto drop;
	}
	/* Fourth: a SYN in the window (RFC 5961 4.2). */
	if (cb->flags & TCPHDR_SYN) {
		alttcp_request_dupack(lsk, req, skb, true);
		goto drop;
	}
	/* Fifth: the ACK, which must acknowledge our SYN and no more. */
	if (!(cb->flags & TCPHDR_ACK)) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPOTHER);
		goto drop;
	}
	if (cb->ack_seq != req->iss + 1) {
		alttcp_send_reset_reply(net, skb);
		goto drop;
	}
	if (alttcp_child_from_request(lsk, req, skb))
		alttcp_request_unlink(req);
	return;
drop:
	kfree_skb(skb);
}

/*
 * The listener's timer: SYN-ACKs due again, with the backoff of RFC 6298
 * 5.5; after synack_retries of them, the request goes (no RST, as Linux).
 */
void alttcp_request_timer(struct sock *lsk)
{
	struct alttcp_sock *lask = alttcp_sk(lsk);
	struct net *net = sock_net(lsk);
	u32 retries = alttcp_param(net, synack_retries);
	struct alttcp_request *req, *tmp;
	ktime_t now = ktime_get(), next = KTIME_MAX;

	if (lsk->sk_state != TCP_LISTEN)
		return;
	list_for_each_entry_safe(req, tmp, &lask->syn_queue, queue_node) {
		if (ktime_after(req->deadline, now)) {
			next = min(next, req->deadline);
			continue;
		}
		ALTTCP_INC_STATS(net, ALTTCP_MIB_RTOTIMEOUTS);
		if (req->retransmits >= retries) {
			ALTTCP_INC_STATS(net, ALTTCP_MIB_SYNRECVTIMEOUTS);
			alttcp_request_drop(req);
			continue;
		}
		WRITE_ONCE(req->retransmits, req->retransmits + 1);
		ALTTCP_INC_STATS(net, ALTTCP_MIB_RETRANSSEGS);
		alttcp_send_synack_req(lsk, req, alttcp_now_ms() + req->ts_off);
		WRITE_ONCE(req->deadline,
			   ktime_add_ms(now, alttcp_request_rto_ms(req)));
		next = min(next, req->deadline);
	}
	if (next == KTIME_MAX)
		return;
	alttcp_request_arm(lsk, max(next,
				    ktime_add_ms(now, ALTTCP_SYNQ_TICK_MS)));
}

/*
 * An ICMP error about our SYN-ACK (icmp.c), listener locked and not
 * owned. As Linux's tcp_req_err(): it must quote the SYN-ACK's sequence
 * number; a network or host unreachable, time exceeded or parameter
 * problem ends the handshake silently (accept() has nobody to tell),
 * anything else is left to the SYN-ACK timer.
 */
void alttcp_request_icmp(struct sock *lsk, __be32 laddr, __be16 lport,
			 __be32 raddr, __be16 rport, u32 seq, bool abort)
{
	struct net *net = sock_net(lsk);
	struct alttcp_request *req;

	req = alttcp_request_find(lsk, laddr, lport, raddr, rport);
	if (!req) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_ICMPIGNORED);
		return;
	}
	if (seq != req->iss) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_OUTOFWINDOWICMPS);
		return;
	}
	if (!abort) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_ICMPIGNORED);
		return;
	}
	ALTTCP_INC_STATS(net, ALTTCP_MIB_LISTENDROPS);
	alttcp_request_drop(req);
}

/* The listener closes (socket owned): its requests go, unanswered, as
 * Linux's do; a late ACK finds no socket and draws an RST.
 */
void alttcp_request_purge(struct sock *lsk)
{
	struct alttcp_request *req, *tmp;

	list_for_each_entry_safe(req, tmp, &alttcp_sk(lsk)->syn_queue,
				 queue_node)
		alttcp_request_drop(req);
}
