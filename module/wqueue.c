// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the write queue's skbs. As Linux TCP's, an skb keeps its
 * payload in page fragments and holds up to the route's GSO size; the
 * device, or software GSO below IP, cuts it into segments of the MSS
 * when it is sent (output.c). One trip through IP, netfilter and the
 * qdisc carries up to 64 KiB.
 *
 * Every skb on the queue is charged to its socket: its truesize to
 * sk_wmem_queued, against sk_sndbuf, and to the protocol's memory (mem.c)
 * through the socket's forward allocation, as Linux's tcp_wmem_schedule().
 * What is charged here is uncharged here, when the skb is freed, split or
 * trimmed. Everything runs under the socket lock.
 */
#include <linux/skbuff.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

/*
 * The payload sendmsg() fills an skb with before starting the next: as
 * many whole segments as the route's GSO takes, and no more than half the
 * largest window the peer offered, so that two skbs keep a small window
 * full (Linux's tcp_xmit_size_goal()). One MSS without GSO.
 */
u32 alttcp_size_goal(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	u32 mss = ask->mss, goal, segs;

	if (!sk_can_gso(sk))
		return mss;
	goal = sk->sk_gso_max_size;
	if (ask->max_window > ALTTCP_MSS_DEFAULT)
		goal = min(goal, ask->max_window >> 1);
	segs = min_t(u32, goal / mss, sk->sk_gso_max_segs);
	return max(segs, 1U) * mss;
}

/*
 * A new skb for the write queue, with room for the headers and size bytes
 * of linear payload, charged to sk. Unless forced (a FIN must go out),
 * NULL when the protocol's memory is short: then the send buffer shrinks,
 * as Linux's does under pressure.
 */
struct sk_buff *alttcp_wq_alloc(struct sock *sk, u32 size, gfp_t gfp,
				bool force)
{
	struct sk_buff *skb = alloc_skb_fclone(MAX_TCP_HEADER + size, gfp);

	BUILD_BUG_ON(sizeof(struct alttcp_skb_cb) >
		     sizeof_field(struct sk_buff, cb));
	if (!skb)
		return NULL;
	if (!force && !sk_wmem_schedule(sk, skb->truesize)) {
		__kfree_skb(skb);
		sk->sk_prot->enter_memory_pressure(sk);
		sk_stream_moderate_sndbuf(sk);
		return NULL;
	}
	skb_reserve(skb, MAX_TCP_HEADER);
	__skb_header_release(skb);
	/* The checksum is the device's, or GSO's: copies need not sum. */
	skb->ip_summed = CHECKSUM_PARTIAL;
	memset(ALTTCP_SKB_CB(skb), 0, sizeof(struct alttcp_skb_cb));
	sk_wmem_queued_add(sk, skb->truesize);
	sk_mem_charge(sk, skb->truesize);
	return skb;
}

/* An skb leaves the write queue (acknowledged, or the connection ends). */
void alttcp_wq_free(struct sock *sk, struct sk_buff *skb)
{
	sk_wmem_queued_add(sk, -skb->truesize);
	sk_mem_uncharge(sk, skb->truesize);
	consume_skb(skb);
}

/*
 * Appends up to copy bytes from the writer to skb's last page fragment,
 * or a new one (Linux's tcp_sendmsg_locked()). Returns the bytes copied;
 * -EMSGSIZE when skb has no fragment left (a new skb takes the rest),
 * -ENOMEM when memory is short (the writer waits), -EFAULT.
 */
int alttcp_wq_copy(struct sock *sk, struct sk_buff *skb,
		   struct iov_iter *from, int copy)
{
	struct page_frag *pfrag = sk_page_frag(sk);
	int i = skb_shinfo(skb)->nr_frags;
	bool merge = true;
	int err;

	if (!sk_page_frag_refill(sk, pfrag))
		return -ENOMEM;
	if (!skb_can_coalesce(skb, i, pfrag->page, pfrag->offset)) {
		if (i >= MAX_SKB_FRAGS)
			return -EMSGSIZE;
		merge = false;
	}
	copy = min_t(int, copy, pfrag->size - pfrag->offset);
	if (!sk_wmem_schedule(sk, copy))
		return -ENOMEM;
	/* Adds copy to skb's length, truesize and both charges. */
	err = skb_copy_to_page_nocache(sk, from, skb, pfrag->page,
				       pfrag->offset, copy);
	if (err)
		return err;
	if (merge) {
		skb_frag_size_add(&skb_shinfo(skb)->frags[i - 1], copy);
	} else {
		skb_fill_page_desc(skb, i, pfrag->page, pfrag->offset, copy);
		page_ref_inc(pfrag->page);
	}
	pfrag->offset += copy;
	return copy;
}

/*
 * Appends copy bytes of page at offset to skb by reference (sendfile(),
 * splice()), as Linux's do_tcp_sendpages(). Returns copy, or -EMSGSIZE
 * and -ENOMEM as alttcp_wq_copy().
 */
int alttcp_wq_add_page(struct sock *sk, struct sk_buff *skb,
		       struct page *page, int offset, int copy)
{
	int i = skb_shinfo(skb)->nr_frags;
	bool merge = skb_can_coalesce(skb, i, page, offset);

	if (!merge && i >= MAX_SKB_FRAGS)
		return -EMSGSIZE;
	if (!sk_wmem_schedule(sk, copy))
		return -ENOMEM;
	if (merge) {
		skb_frag_size_add(&skb_shinfo(skb)->frags[i - 1], copy);
	} else {
		get_page(page);
		skb_fill_page_desc(skb, i, page, offset, copy);
	}
	/* The page is the file's: it may change before it is sent. */
	skb_shinfo(skb)->flags |= SKBFL_SHARED_FRAG;
	skb_len_add(skb, copy);
	sk_wmem_queued_add(sk, copy);
	sk_mem_charge(sk, copy);
	return copy;
}

/*
 * Gives skb a head of its own when a clone of it is below us, keeping the
 * truesize its socket was charged (Linux's skb_unclone_keeptruesize(),
 * which 6.1 does not export).
 */
static int alttcp_unclone(struct sk_buff *skb)
{
	unsigned int truesize = skb->truesize;

	if (!skb_cloned(skb))
		return 0;
	if (pskb_expand_head(skb, 0, 0, GFP_ATOMIC))
		return -ENOMEM;
	skb->truesize = truesize;
	return 0;
}

/*
 * Cuts skb after len bytes of payload; the rest becomes a new skb right
 * behind it on the queue, and takes the FIN and PSH (Linux's
 * tcp_fragment()). A clone of skb may still be below us (a segment in
 * flight): skb is uncloned first, so the clone keeps what it had.
 */
int alttcp_wq_split(struct sock *sk, struct sk_buff *skb, u32 len)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb), *ncb;
	u32 nlen = skb->len - len;
	struct sk_buff *buff;
	int linear;

	if (!len || len >= skb->len)
		return -EINVAL;
	if (alttcp_unclone(skb))
		return -ENOMEM;
	/* Payload is in fragments, but an MTU probe's is linear. */
	linear = max_t(int, skb_headlen(skb) - len, 0);
	buff = alttcp_wq_alloc(sk, linear, GFP_ATOMIC, true);
	if (!buff)
		return -ENOMEM;
	skb_split(skb, buff, len);
	/* The moved fragments' memory goes with them. */
	buff->truesize += nlen;
	skb->truesize -= nlen;

	ncb = ALTTCP_SKB_CB(buff);
	*ncb = *cb;
	ncb->seq = cb->seq + len;
	cb->end_seq = ncb->seq;
	cb->flags &= ~(TCPHDR_FIN | TCPHDR_PSH);
	__skb_queue_after(&sk->sk_write_queue, skb, buff);
	return 0;
}

/* Drops len bytes of fragments from the front of skb. */
static void alttcp_pull_frags(struct sk_buff *skb, u32 len)
{
	struct skb_shared_info *shinfo = skb_shinfo(skb);
	u32 eat = len;
	int i, k = 0;

	for (i = 0; i < shinfo->nr_frags; i++) {
		u32 size = skb_frag_size(&shinfo->frags[i]);

		if (size <= eat) {
			skb_frag_unref(skb, i);
			eat -= size;
			continue;
		}
		shinfo->frags[k] = shinfo->frags[i];
		if (eat) {
			skb_frag_off_add(&shinfo->frags[k], eat);
			skb_frag_size_sub(&shinfo->frags[k], eat);
			eat = 0;
		}
		k++;
	}
	shinfo->nr_frags = k;
	skb->data_len -= len;
	skb->len -= len;
}

/*
 * The first len bytes of skb are acknowledged: they leave it, and their
 * memory is uncharged at once, so a writer does not wait for the last
 * segment of a 64 KiB skb (Linux's tcp_trim_head()).
 */
int alttcp_wq_trim_head(struct sock *sk, struct sk_buff *skb, u32 len)
{
	u32 head;

	if (alttcp_unclone(skb))
		return -ENOMEM;
	alttcp_sack_trimmed(sk, skb, len);
	head = min(len, skb_headlen(skb));
	__skb_pull(skb, head);
	if (len > head) {
		alttcp_pull_frags(skb, len - head);
		skb->truesize -= len - head;
		sk_wmem_queued_add(sk, -(int)(len - head));
		sk_mem_uncharge(sk, len - head);
	}
	ALTTCP_SKB_CB(skb)->seq += len;
	return 0;
}
