// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the out-of-order queue.
 *
 * Segments beyond rcv_nxt wait in an rbtree keyed by sequence number
 * (skb->rbnode) until the gap before them fills, so an insert costs
 * O(log n) in whatever order a peer sends. A segment that a queued one
 * covers is dropped; one that covers queued ones replaces them; one that
 * continues the last segment is appended to it. Partial overlaps are
 * kept and trimmed when the data moves to the receive queue. All under
 * the socket lock; every skb here is charged to the socket (mem.c).
 */
#include <linux/rbtree.h>
#include <net/sock.h>

#include "alttcp.h"

#define alttcp_rb_skb(node) rb_entry_safe(node, struct sk_buff, rbnode)

void alttcp_ofo_init(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->ofo_root = RB_ROOT;
	ask->ofo_last = NULL;
}

void alttcp_ofo_purge(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	struct rb_node *node = rb_first(&ask->ofo_root);

	while (node) {
		struct sk_buff *skb = alttcp_rb_skb(node);

		node = rb_next(node);
		rb_erase(&skb->rbnode, &ask->ofo_root);
		kfree_skb(skb);
	}
	ask->ofo_last = NULL;
}

/* A segment this queue will not keep: counted, also in sk_drops. */
static void alttcp_ofo_free(struct sock *sk, struct sk_buff *skb,
			    enum alttcp_mib_field reason)
{
	alttcp_count_drop(sock_net(sk), skb, reason);
	sk_drops_add(sk, skb);
	kfree_skb(skb);
}

static void alttcp_ofo_drop(struct sock *sk, struct sk_buff *skb,
			    enum alttcp_mib_field reason)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->ofo_last == skb)
		ask->ofo_last = alttcp_rb_skb(rb_prev(&skb->rbnode));
	rb_erase(&skb->rbnode, &ask->ofo_root);
	alttcp_ofo_free(sk, skb, reason);
}

/* Inserts skb, admitted but not yet owned; it may be merged or freed. */
void alttcp_ofo_insert(struct sock *sk, struct sk_buff *skb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 seq = ALTTCP_SKB_CB(skb)->seq;
	u32 end_seq = ALTTCP_SKB_CB(skb)->end_seq;
	struct rb_node **p = &ask->ofo_root.rb_node, *parent = NULL;
	struct sk_buff *next;

	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_OFOQUEUE);
	alttcp_sack_new_ofo(sk, seq, end_seq);
	/* The common case: the next segment after the last one. */
	if (ask->ofo_last &&
	    !seq_before(seq, ALTTCP_SKB_CB(ask->ofo_last)->end_seq)) {
		if (alttcp_try_coalesce(sk, ask->ofo_last, skb))
			return;
		parent = &ask->ofo_last->rbnode;
		p = &parent->rb_right;
		goto insert;
	}
	while (*p) {
		struct sk_buff *q = alttcp_rb_skb(*p);
		struct alttcp_skb_cb *qcb = ALTTCP_SKB_CB(q);

		parent = *p;
		if (seq_before(seq, qcb->seq)) {
			p = &parent->rb_left;
			continue;
		}
		if (seq_before(seq, qcb->end_seq)) {
			if (!seq_after(end_seq, qcb->end_seq)) {
				/* Nothing new: q has it all (RFC 2883 4.2). */
				alttcp_dsack_set(sk, seq, end_seq);
				alttcp_ofo_free(sk, skb, ALTTCP_MIB_DROPOFODUP);
				return;
			}
			if (seq == qcb->seq) {
				/* skb covers q: take its place. */
				skb_set_owner_r(skb, sk);
				rb_replace_node(&q->rbnode, &skb->rbnode,
						&ask->ofo_root);
				if (ask->ofo_last == q)
					ask->ofo_last = skb;
				alttcp_ofo_free(sk, q, ALTTCP_MIB_DROPOFODUP);
				goto merge_right;
			}
		}
		p = &parent->rb_right;
	}
insert:
	skb_set_owner_r(skb, sk);
	rb_link_node(&skb->rbnode, parent, p);
	rb_insert_color(&skb->rbnode, &ask->ofo_root);
merge_right:
	/* Segments that skb covers are gone; one it overlaps stays. */
	while ((next = alttcp_rb_skb(rb_next(&skb->rbnode)))) {
		struct alttcp_skb_cb *ncb = ALTTCP_SKB_CB(next);

		if (!seq_after(end_seq, ncb->seq) ||
		    seq_before(end_seq, ncb->end_seq))
			break;
		alttcp_ofo_drop(sk, next, ALTTCP_MIB_DROPOFODUP);
	}
	if (!next)
		ask->ofo_last = skb;
}

/*
 * Moves the segments the receive queue now continues. Returns true when
 * a FIN became next in sequence (left for step eight).
 */
bool alttcp_ofo_drain(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct rb_node *node;

	while ((node = rb_first(&ask->ofo_root))) {
		struct sk_buff *skb = alttcp_rb_skb(node);
		struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
		bool fin = cb->flags & TCPHDR_FIN;

		if (seq_after(cb->seq, ask->rcv_nxt))
			break;
		rb_erase(node, &ask->ofo_root);
		if (ask->ofo_last == skb)
			ask->ofo_last = NULL;
		/* rbnode overlaid next, prev and dev. */
		skb->dev = NULL;
		if (seq_leq(cb->end_seq, ask->rcv_nxt)) {
			/* In-order data overtook it entirely. */
			alttcp_ofo_free(sk, skb, ALTTCP_MIB_DROPOFODUP);
			continue;
		}
		if (cb->seq != ask->rcv_nxt) {
			/* Uncharged first: pulling may give skb a bigger
			 * head, which only an unowned skb's truesize counts
			 * (and skb_try_coalesce() relies on).
			 */
			skb_orphan(skb);
			pskb_pull(skb, min(ask->rcv_nxt - cb->seq, skb->len));
			cb->seq = ask->rcv_nxt;
		}
		ask->rcv_nxt = cb->end_seq - fin;
		if (skb->len) {
			cb->flags &= ~TCPHDR_FIN;
			cb->end_seq = ask->rcv_nxt;
			alttcp_rcvq_tail(sk, skb);
		} else {
			kfree_skb(skb);
		}
		if (fin) {
			/* Nothing valid lies beyond the FIN. */
			alttcp_ofo_purge(sk);
			return true;
		}
	}
	return false;
}

/*
 * Frees memory from the end of the queue: the segments furthest ahead,
 * an eighth of the buffer at least, or all. Returns false when the queue
 * was empty.
 */
bool alttcp_ofo_prune(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	int goal = READ_ONCE(sk->sk_rcvbuf) >> 3;

	if (!ask->ofo_last)
		return false;
	while (ask->ofo_last && goal > 0) {
		struct sk_buff *skb = ask->ofo_last;

		goal -= skb->truesize;
		alttcp_ofo_drop(sk, skb, ALTTCP_MIB_DROPOFOPRUNED);
	}
	/* What the blocks reported may be gone: start afresh. */
	alttcp_sack_reset(sk);
	sk_mem_reclaim(sk);
	return true;
}
