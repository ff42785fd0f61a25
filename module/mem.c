// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: receive memory. What a peer makes us hold is bounded twice:
 *
 * - per socket, by sk_rcvbuf: a segment is admitted only while the
 *   socket's receive memory (in-order and out-of-order skbs, by truesize)
 *   is within it, after growing a buffer the user did not set (up to
 *   tcp_rmem[2]) or pruning the out-of-order queue if need be;
 * - for the whole module, by the protocol's memory accounting (struct
 *   proto's memory_allocated against the `mem` sysctl, in pages, with
 *   Linux's three states: below mem[0] no limit, above mem[1] pressure,
 *   above mem[2] refusal), through sk_rmem_schedule() and the socket's
 *   forward allocation, as Linux TCP does with tcp_mem.
 *
 * Segments that continue the last queued one are appended to it
 * (skb_try_coalesce), so a stream of tiny segments costs its bytes, not
 * an skb each. Everything here runs under the socket lock.
 */
#include <linux/mm.h>
#include <linux/percpu_counter.h>
#include <net/inet_common.h>
#include <net/sock.h>

#include "alttcp.h"

static atomic_long_t alttcp_memory_allocated;
static DEFINE_PER_CPU(int, alttcp_memory_per_cpu_fw_alloc);
static struct percpu_counter alttcp_sockets_allocated;
static unsigned long alttcp_memory_pressure;
long alttcp_sysctl_mem[3];	/* pages: no limit, pressure, hard limit */

static void alttcp_enter_memory_pressure(struct sock *sk)
{
	if (READ_ONCE(alttcp_memory_pressure))
		return;
	WRITE_ONCE(alttcp_memory_pressure, 1);
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_MEMORYPRESSURES);
}

static void alttcp_leave_memory_pressure(struct sock *sk)
{
	if (READ_ONCE(alttcp_memory_pressure))
		WRITE_ONCE(alttcp_memory_pressure, 0);
}

/*
 * The module's memory in pages, exactly: the shared counter plus what
 * each CPU holds back from it (up to a reserve either way), which
 * /proc/net/protocols does not add. Lockless; for procfs.
 */
long alttcp_memory_pages(void)
{
	long pages = atomic_long_read(&alttcp_memory_allocated);
	int cpu;

	for_each_possible_cpu(cpu)
		pages += READ_ONCE(*per_cpu_ptr(&alttcp_memory_per_cpu_fw_alloc,
					       cpu));
	return pages;
}

bool alttcp_under_memory_pressure(void)
{
	return READ_ONCE(alttcp_memory_pressure);
}

/* The fields of struct proto that turn the accounting on. */
void alttcp_mem_set_proto(struct proto *prot)
{
	prot->enter_memory_pressure = alttcp_enter_memory_pressure;
	prot->leave_memory_pressure = alttcp_leave_memory_pressure;
	prot->memory_allocated = &alttcp_memory_allocated;
	prot->per_cpu_fw_alloc = &alttcp_memory_per_cpu_fw_alloc;
	prot->sockets_allocated = &alttcp_sockets_allocated;
	prot->memory_pressure = &alttcp_memory_pressure;
	prot->sysctl_mem = alttcp_sysctl_mem;
	/* The minimum a socket keeps under pressure: tcp_rmem[0]/wmem[0]. */
	prot->sysctl_rmem_offset = offsetof(struct net, ipv4.sysctl_tcp_rmem);
	prot->sysctl_wmem_offset = offsetof(struct net, ipv4.sysctl_tcp_wmem);
}

/* Limits as Linux sizes tcp_mem: from the memory the machine has. */
int alttcp_mem_init(void)
{
	unsigned long limit = max(nr_free_buffer_pages() / 16, 128UL);

	alttcp_sysctl_mem[0] = limit / 4 * 3;
	alttcp_sysctl_mem[1] = limit;
	alttcp_sysctl_mem[2] = alttcp_sysctl_mem[0] * 2;
	return percpu_counter_init(&alttcp_sockets_allocated, 0, GFP_KERNEL);
}

void alttcp_mem_exit(void)
{
	percpu_counter_destroy(&alttcp_sockets_allocated);
}

/* sk_destruct of every alttcp socket: the count the pressure state
 * divides the memory by. Children inherit it with the rest of the clone.
 */
void alttcp_sock_destruct(struct sock *sk)
{
	sk_sockets_allocated_dec(sk);
	inet_sock_destruct(sk);
}

void alttcp_mem_sock_init(struct sock *sk)
{
	sk_sockets_allocated_inc(sk);
	sk->sk_destruct = alttcp_sock_destruct;
}

/* Room while what is held is within the buffer (Linux's
 * tcp_try_rmem_schedule()): the last skb in may pass it by its size.
 */
static bool alttcp_rmem_fits(struct sock *sk, struct sk_buff *skb)
{
	return atomic_read(&sk->sk_rmem_alloc) <= READ_ONCE(sk->sk_rcvbuf) &&
	       sk_rmem_schedule(sk, skb, skb->truesize);
}

/*
 * The buffer is full of what the window let in: the skbs cost more than
 * the window's half of the buffer allowed for (small segments, a
 * wasteful driver). A buffer the user did not set grows to what is held,
 * up to tcp_rmem[2], while the module is below its first memory limit,
 * as Linux's tcp_clamp_window(): data sent inside the window is not
 * dropped for it. A set buffer, or memory short, prunes instead.
 */
static void alttcp_rcvbuf_clamp(struct sock *sk)
{
	int max = READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_rmem[2]);
	int held = atomic_read(&sk->sk_rmem_alloc);

	if (held < READ_ONCE(sk->sk_rcvbuf) ||
	    (sk->sk_userlocks & SOCK_RCVBUF_LOCK) ||
	    alttcp_under_memory_pressure() ||
	    sk_memory_allocated(sk) >= sk_prot_mem_limits(sk, 0))
		return;
	if (READ_ONCE(sk->sk_rcvbuf) < max)
		WRITE_ONCE(sk->sk_rcvbuf, min(held, max));
}

/* A collapsed skb holds a page's worth, as Linux's tcp_collapse(). */
#define ALTTCP_COLLAPSE_SIZE	SKB_WITH_OVERHEAD(PAGE_SIZE)

/* Whether skb holds so little for its true size that copying it pays. */
static bool alttcp_skb_wasteful(const struct sk_buff *skb)
{
	return !(ALTTCP_SKB_CB(skb)->flags & TCPHDR_FIN) &&
	       skb->len <= ALTTCP_COLLAPSE_SIZE / 2 &&
	       skb->truesize > 2 * skb->len;
}

/* How many wasteful skbs from skb on fit in one collapsed skb, if
 * together they cost more than it will.
 */
static unsigned int alttcp_collapse_run(struct sk_buff_head *q,
					struct sk_buff *skb)
{
	unsigned int n = 0, len = 0, truesize = 0;

	while (skb && alttcp_skb_wasteful(skb) &&
	       len + skb->len <= ALTTCP_COLLAPSE_SIZE) {
		len += skb->len;
		truesize += skb->truesize;
		n++;
		skb = skb_peek_next(skb, q);
	}
	return truesize > SKB_TRUESIZE(ALTTCP_COLLAPSE_SIZE) ? n : 0;
}

/*
 * Copies runs of small skbs in the receive queue into page-sized ones,
 * so that data a peer sent in tiny segments costs about its length, not
 * an skb each (as Linux's tcp_collapse()). The reader finds bytes by
 * sequence number, so it does not notice. Returns whether memory was
 * given back.
 */
static bool alttcp_collapse_rcvq(struct sock *sk)
{
	struct sk_buff_head *q = &sk->sk_receive_queue;
	struct sk_buff *skb = skb_peek(q);
	bool freed = false;

	while (skb) {
		unsigned int n = alttcp_collapse_run(q, skb);
		struct sk_buff *nskb, *next;

		if (!n) {
			skb = skb_peek_next(skb, q);
			continue;
		}
		nskb = alloc_skb(ALTTCP_COLLAPSE_SIZE, GFP_ATOMIC);
		if (!nskb)
			break;
		memcpy(nskb->cb, skb->cb, sizeof(skb->cb));
		__skb_queue_before(q, skb, nskb);
		skb_set_owner_r(nskb, sk);
		for (; n; n--, skb = next) {
			next = skb_peek_next(skb, q);
			skb_copy_bits(skb, 0, skb_put(nskb, skb->len), skb->len);
			ALTTCP_SKB_CB(nskb)->end_seq = ALTTCP_SKB_CB(skb)->end_seq;
			__skb_unlink(skb, q);
			consume_skb(skb);
			ALTTCP_INC_STATS(sock_net(sk),
					 ALTTCP_MIB_RCVCOLLAPSED);
		}
		freed = true;
	}
	if (freed)
		sk_mem_reclaim(sk);
	return freed;
}

/*
 * Makes room for skb: true when it may be queued. Over the socket's
 * buffer or the protocol's limit, a buffer left to autotuning grows,
 * small in-order skbs are collapsed, then
 * the out-of-order queue is pruned from its end (the data furthest ahead,
 * which the peer has not been told we have); in-order data is never
 * dropped. In-order data for an empty receive
 * queue is always taken, as Linux does: a buffer smaller than one skb
 * must not stop the connection.
 */
bool alttcp_rmem_admit(struct sock *sk, struct sk_buff *skb, bool in_order)
{
	if (alttcp_rmem_fits(sk, skb))
		return true;
	alttcp_rcvbuf_clamp(sk);
	if (alttcp_rmem_fits(sk, skb))
		return true;
	if (alttcp_collapse_rcvq(sk) && alttcp_rmem_fits(sk, skb))
		return true;
	while (alttcp_ofo_prune(sk))
		if (alttcp_rmem_fits(sk, skb))
			return true;
	/* Charged beyond the forward allocation: the uncharge when it is
	 * read gives back exactly as much, so the accounting stays even.
	 */
	if (in_order && skb_queue_empty(&sk->sk_receive_queue))
		return true;
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_RCVPRUNED);
	return false;
}

/*
 * Appends the payload of from to skb to, which it continues. On
 * success from is freed and to's memory charge grows by what it took
 * over; from may be owned by sk (out-of-order queue) or not (fresh).
 */
bool alttcp_try_coalesce(struct sock *sk, struct sk_buff *to,
			 struct sk_buff *from)
{
	struct alttcp_skb_cb *tcb = ALTTCP_SKB_CB(to);
	struct alttcp_skb_cb *fcb = ALTTCP_SKB_CB(from);
	bool fragstolen;
	int delta;

	if (fcb->seq != tcb->end_seq || (tcb->flags & TCPHDR_FIN))
		return false;
	if (!skb_try_coalesce(to, from, &fragstolen, &delta))
		return false;
	atomic_add(delta, &sk->sk_rmem_alloc);
	sk_mem_charge(sk, delta);
	tcb->end_seq = fcb->end_seq;
	tcb->flags |= fcb->flags;
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_RCVCOALESCE);
	kfree_skb_partial(from, fragstolen);
	return true;
}

/* Puts in-order payload at the end of the receive queue. */
void alttcp_rcvq_tail(struct sock *sk, struct sk_buff *skb)
{
	struct sk_buff *tail = skb_peek_tail(&sk->sk_receive_queue);

	if (tail && alttcp_try_coalesce(sk, tail, skb))
		return;
	if (skb->sk != sk)
		skb_set_owner_r(skb, sk);
	__skb_queue_tail(&sk->sk_receive_queue, skb);
}
