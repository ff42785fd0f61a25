// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: TIME_WAIT entries.
 *
 * A connection in TIME-WAIT is a small struct alttcp_tw in twhash, not a
 * socket: it remembers the 4-tuple and sequence numbers to re-ACK the
 * peer's retransmitted FIN for 2*MSL. Lookups run under RCU and take a
 * reference; the table holds one reference until the entry's hrtimer
 * (softirq) or the namespace's exit unhashes it. Freed with kfree_rcu.
 */
#include <linux/rculist.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"
#include "trace.h"

void alttcp_tw_put(struct alttcp_tw *tw)
{
	if (refcount_dec_and_test(&tw->refcnt))
		kfree_rcu(tw, rcu);
}

/* Takes a hashed entry out of the tables; an->lock held. */
static void alttcp_tw_unlink_locked(struct alttcp_tw *tw)
{
	hlist_del_rcu(&tw->node);
	hlist_del_rcu(&tw->port_node);
	tw->hashed = false;
	alttcp_port_users_add(read_pnet(&tw->net), tw->sport, -1);
}

/* After the unlink, outside the lock: the table's reference goes. */
static void alttcp_tw_unlinked(struct alttcp_net *an, struct alttcp_tw *tw)
{
	atomic_dec(&an->tw_count);
	alttcp_tw_put(tw);
}

/* Unhashes the entry once; drops the table's reference. */
static void alttcp_tw_unhash(struct alttcp_tw *tw)
{
	struct alttcp_net *an = alttcp_pernet(read_pnet(&tw->net));
	bool was;

	spin_lock_bh(&an->lock);
	was = tw->hashed;
	if (was)
		alttcp_tw_unlink_locked(tw);
	spin_unlock_bh(&an->lock);
	if (was)
		alttcp_tw_unlinked(an, tw);
}

/* 2*MSL passed: the entry goes (its last reference may go with it). */
static enum hrtimer_restart alttcp_tw_timer_fn(struct hrtimer *t)
{
	struct alttcp_tw *tw = container_of(t, struct alttcp_tw, timer);
	struct net *net = read_pnet(&tw->net);

	ALTTCP_INC_STATS(net, ALTTCP_MIB_TIMEWAITEXPIRED);
	trace_alttcp_tw_expire(tw);
	trace_alttcp_state_change(tw->saddr, tw->sport, tw->daddr, tw->dport,
				  TCP_TIME_WAIT, TCP_CLOSE);
	alttcp_tw_unhash(tw);
	return HRTIMER_NORESTART;
}

static u32 alttcp_tw_len_ms(struct net *net)
{
	return 2 * alttcp_param(net, msl_ms);
}

/* sk is entering TIME-WAIT; called with its lock held, before it closes. */
void alttcp_tw_create(struct sock *sk)
{
	struct net *net = sock_net(sk);
	struct alttcp_net *an = alttcp_pernet(net);
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct alttcp_tw *tw;
	u32 h;

	tw = kzalloc(sizeof(*tw), GFP_ATOMIC);
	if (!tw)
		return;	/* the connection just closes, as Linux does */
	refcount_set(&tw->refcnt, 1);
	write_pnet(&tw->net, net);
	tw->saddr = inet->inet_rcv_saddr;
	tw->daddr = inet->inet_daddr;
	tw->sport = inet->inet_sport;
	tw->dport = inet->inet_dport;
	tw->snd_nxt = ask->snd_nxt;
	tw->rcv_nxt = ask->rcv_nxt;
	tw->rcv_wnd = min_t(u32, ask->rcv_wnd >> ask->rcv_wscale, 65535U);
	tw->rcv_wscale = ask->rcv_wscale;
	tw->uid = sock_i_uid(sk);
	tw->bound_dev_if = READ_ONCE(sk->sk_bound_dev_if);
	tw->l3mdev = inet_sk_bound_l3mdev(sk);
	hrtimer_init(&tw->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	tw->timer.function = alttcp_tw_timer_fn;

	h = alttcp_hash4(net, tw->saddr, tw->sport, tw->daddr, tw->dport);
	spin_lock_bh(&an->lock);
	alttcp_port_users_add(net, tw->sport, 1);
	hlist_add_head_rcu(&tw->node, &an->twhash[h]);
	hlist_add_head_rcu(&tw->port_node,
			   &an->twphash[alttcp_hash_port(net, tw->sport)]);
	tw->hashed = true;
	spin_unlock_bh(&an->lock);
	atomic_inc(&an->tw_count);
	ALTTCP_INC_STATS(net, ALTTCP_MIB_TIMEWAITS);
	hrtimer_start(&tw->timer, ms_to_ktime(alttcp_tw_len_ms(net)),
		      HRTIMER_MODE_REL_SOFT);
}

/* saddr/sport: the segment's source, the remote end. */
struct alttcp_tw *alttcp_tw_lookup(struct net *net, int dif, int sdif,
				   __be32 saddr, __be16 sport, __be32 daddr,
				   __be16 dport)
{
	struct alttcp_net *an = alttcp_pernet(net);
	u32 h = alttcp_hash4(net, daddr, dport, saddr, sport);
	struct alttcp_tw *tw;

	hlist_for_each_entry_rcu(tw, &an->twhash[h], node) {
		if (tw->saddr == daddr && tw->sport == dport &&
		    tw->daddr == saddr && tw->dport == sport &&
		    inet_sk_bound_dev_eq(net, tw->bound_dev_if, dif, sdif) &&
		    refcount_inc_not_zero(&tw->refcnt))
			return tw;
	}
	return NULL;
}

/*
 * A segment for a TIME-WAIT entry (RFC 9293 3.10.7.4, RFC 1337). Returns
 * true when the entry let go of the 4-tuple for a new SYN, which the
 * caller then gives to the listener.
 */
bool alttcp_tw_rcv(struct net *net, struct alttcp_tw *tw, struct sk_buff *skb)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct alttcp_net *an = alttcp_pernet(net);
	bool reuse = false;

	if (cb->flags & TCPHDR_RST)
		return false;	/* RFC 1337: no TIME-WAIT assassination */

	if ((cb->flags & TCPHDR_SYN) && !(cb->flags & TCPHDR_ACK) &&
	    seq_after(cb->seq, tw->rcv_nxt)) {
		/* A new incarnation (RFC 9293 3.6.1): the entry goes, unless
		 * its timer is already running (then it goes anyway).
		 */
		spin_lock_bh(&an->lock);
		reuse = tw->hashed && hrtimer_try_to_cancel(&tw->timer) == 1;
		if (reuse)
			alttcp_tw_unlink_locked(tw);
		spin_unlock_bh(&an->lock);
		if (reuse)
			alttcp_tw_unlinked(an, tw);
		return reuse;
	}
	/* The peer did not hear our last ACK: again, and restart. Under the
	 * table lock, so a SYN taking the entry away cannot interleave.
	 */
	if (cb->flags & TCPHDR_FIN) {
		spin_lock_bh(&an->lock);
		if (tw->hashed && hrtimer_try_to_cancel(&tw->timer) == 1)
			hrtimer_start(&tw->timer,
				      ms_to_ktime(alttcp_tw_len_ms(net)),
				      HRTIMER_MODE_REL_SOFT);
		spin_unlock_bh(&an->lock);
	}
	if (((cb->flags & (TCPHDR_FIN | TCPHDR_SYN)) ||
	     cb->end_seq != cb->seq || cb->seq != tw->rcv_nxt) &&
	    alttcp_tw_may_ack(net, tw, skb))
		alttcp_send_ack_reply(net, tw->saddr, tw->daddr, tw->sport,
				      tw->dport, tw->snd_nxt, tw->rcv_nxt,
				      tw->rcv_wnd);
	return false;
}

/* Is a TIME_WAIT entry using this local address and port? */
bool alttcp_tw_port_used(struct sock *sk, __be32 addr, __be16 port)
{
	struct net *net = sock_net(sk);
	struct alttcp_net *an = alttcp_pernet(net);
	int dev = READ_ONCE(sk->sk_bound_dev_if);
	int l3mdev = inet_sk_bound_l3mdev(sk);
	struct alttcp_tw *tw;
	bool used = false;

	rcu_read_lock();
	hlist_for_each_entry_rcu(tw, &an->twphash[alttcp_hash_port(net, port)],
				 port_node) {
		/* As Linux's bind conflicts: ports are per L3 domain (VRF),
		 * and sockets bound to different devices do not collide.
		 */
		if (tw->sport == port && tw->l3mdev == l3mdev &&
		    (!dev || !tw->bound_dev_if || dev == tw->bound_dev_if) &&
		    (!addr || !tw->saddr || tw->saddr == addr)) {
			used = true;
			break;
		}
	}
	rcu_read_unlock();
	return used;
}

unsigned int alttcp_tw_remaining_ms(const struct alttcp_tw *tw)
{
	s64 ms = ktime_ms_delta(hrtimer_get_expires(&tw->timer), ktime_get());

	return ms > 0 ? ms : 0;
}

/* Namespace exit: cancel every timer, drop every entry. Process context. */
void alttcp_tw_flush(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);
	unsigned int i;

	for (i = 0; i <= an->hash_mask; i++) {
		struct alttcp_tw *tw;

		for (;;) {
			spin_lock_bh(&an->lock);
			tw = hlist_empty(&an->twhash[i]) ? NULL :
			     hlist_entry(an->twhash[i].first,
					 struct alttcp_tw, node);
			if (tw)
				refcount_inc(&tw->refcnt);
			spin_unlock_bh(&an->lock);
			if (!tw)
				break;
			hrtimer_cancel(&tw->timer);
			alttcp_tw_unhash(tw);
			alttcp_tw_put(tw);
		}
	}
}
