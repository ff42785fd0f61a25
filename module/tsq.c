// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: small queues. A connection keeps about a millisecond of its
 * sending rate, and at least two segments, in the qdisc and device queues
 * below it, as Linux TCP does (tcp_small_queue_check()): a longer queue
 * there only adds delay, and hides each flow's backlog from fq or codel.
 *
 * A data segment sent is owned by its socket with alttcp_wfree() as its
 * destructor (output.c), so sk_wmem_alloc counts what is below us. A
 * sender over the limit marks itself throttled and stops; freeing one of
 * its segments then queues the socket on this CPU's list, and a tasklet
 * sends again. The destructor runs wherever the skb is freed, in any
 * context; it keeps one unit of sk_wmem_alloc, which holds the socket's
 * memory (not the socket: it may be closed), until the tasklet is done.
 * The tasklet takes the socket lock in softirq; a socket its user owns is
 * left to release_cb (ALTTCP_TSQ_DEFERRED).
 */
#include <linux/interrupt.h>
#include <linux/percpu.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

struct alttcp_tsq {
	struct tasklet_struct tasklet;
	struct list_head head;		/* alttcp_sock.tsq_node */
};

static DEFINE_PER_CPU(struct alttcp_tsq, alttcp_tsq);

static void alttcp_tsq_run(struct tasklet_struct *t)
{
	struct alttcp_tsq *tsq = from_tasklet(tsq, t, tasklet);
	unsigned long flags;
	LIST_HEAD(list);

	local_irq_save(flags);
	list_splice_init(&tsq->head, &list);
	local_irq_restore(flags);

	while (!list_empty(&list)) {
		struct alttcp_sock *ask = list_first_entry(&list,
							   struct alttcp_sock,
							   tsq_node);
		struct sock *sk = &ask->inet.sk;

		list_del(&ask->tsq_node);
		/* Off the list before a destructor may queue it again. */
		smp_mb__before_atomic();
		clear_bit(ALTTCP_TSQ_QUEUED, &ask->atomic_flags);
		bh_lock_sock(sk);
		if (!sock_owned_by_user(sk))
			alttcp_push(sk);
		else
			set_bit(ALTTCP_TSQ_DEFERRED, &ask->atomic_flags);
		bh_unlock_sock(sk);
		/* The unit of sk_wmem_alloc alttcp_wfree() kept. */
		sk_free(sk);
	}
}

/* release_cb: a tasklet found the socket owned. */
void alttcp_tsq_release(struct sock *sk)
{
	if (test_and_clear_bit(ALTTCP_TSQ_DEFERRED,
			       &alttcp_sk(sk)->atomic_flags))
		alttcp_push(sk);
}

/* Destructor of a sent data segment, in place of sock_wfree(). */
void alttcp_wfree(struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_tsq *tsq;
	unsigned long flags;
	bool empty;

	/* Keep one unit: sk_free() here or in the tasklet drops it. */
	WARN_ON(refcount_sub_and_test(skb->truesize - 1, &sk->sk_wmem_alloc));
	if (!test_bit(ALTTCP_TSQ_THROTTLED, &ask->atomic_flags) ||
	    test_and_set_bit(ALTTCP_TSQ_QUEUED, &ask->atomic_flags))
		goto out;
	clear_bit(ALTTCP_TSQ_THROTTLED, &ask->atomic_flags);
	local_irq_save(flags);
	tsq = this_cpu_ptr(&alttcp_tsq);
	empty = list_empty(&tsq->head);
	list_add(&ask->tsq_node, &tsq->head);
	if (empty)
		tasklet_schedule(&tsq->tasklet);
	local_irq_restore(flags);
	return;
out:
	sk_free(sk);
}

/*
 * May skb be sent now, or is enough of ours queued below? As Linux: the
 * limit is a millisecond at the pacing rate (sk_pacing_shift 10), at
 * least two of these skbs, at most tcp_limit_output_bytes. When nothing
 * of ours is in flight, the skb goes: no destructor would wake us.
 */
bool alttcp_small_queue_full(struct sock *sk, const struct sk_buff *skb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	unsigned long limit;

	limit = max_t(unsigned long, 2 * skb->truesize,
		      READ_ONCE(sk->sk_pacing_rate) >>
		      READ_ONCE(sk->sk_pacing_shift));
	limit = min_t(unsigned long, limit,
		      READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_limit_output_bytes));
	if (refcount_read(&sk->sk_wmem_alloc) <= limit ||
	    ask->snd_nxt == ask->snd_una)
		return false;
	set_bit(ALTTCP_TSQ_THROTTLED, &ask->atomic_flags);
	/* A segment freed since the read above found no throttle: again. */
	smp_mb__after_atomic();
	if (refcount_read(&sk->sk_wmem_alloc) <= limit) {
		clear_bit(ALTTCP_TSQ_THROTTLED, &ask->atomic_flags);
		return false;
	}
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_TSQTHROTTLED);
	return true;
}

/*
 * The pacing rate the limit above is drawn from, as Linux's
 * tcp_update_pacing_rate(): cwnd per SRTT, doubled in slow start, 1.2
 * times in congestion avoidance. Nothing paces by it unless the qdisc
 * is fq. Socket locked, after an RTT sample.
 */
void alttcp_update_pacing_rate(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u64 rate;

	if (!ask->srtt_us)
		return;
	rate = (u64)ask->cwnd * USEC_PER_SEC;
	rate *= ask->cwnd < ask->ssthresh / 2 ? 200 : 120;
	do_div(rate, 100);
	do_div(rate, ask->srtt_us);
	WRITE_ONCE(sk->sk_pacing_rate,
		   min_t(u64, rate, READ_ONCE(sk->sk_max_pacing_rate)));
}

void alttcp_tsq_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct alttcp_tsq *tsq = per_cpu_ptr(&alttcp_tsq, cpu);

		INIT_LIST_HEAD(&tsq->head);
		tasklet_setup(&tsq->tasklet, alttcp_tsq_run);
	}
}

/* Unload: no socket is left, so no segment of ours either. */
void alttcp_tsq_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		tasklet_kill(&per_cpu_ptr(&alttcp_tsq, cpu)->tasklet);
}
