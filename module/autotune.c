// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: buffer autotuning, as Linux TCP's. A socket starts with the
 * namespace's tcp_rmem[1] and tcp_wmem[1] bytes of buffer. Once
 * established, the receive buffer grows to hold about twice what the
 * reader took in one round trip, with room for that to grow (dynamic
 * right-sizing, Linux's tcp_rcv_space_adjust()), and the send buffer to
 * twice cwnd's worth of segments (tcp_sndbuf_expand()); both up to
 * tcp_rmem[2] and tcp_wmem[2]. A buffer set by SO_RCVBUF or SO_SNDBUF is
 * locked (SOCK_RCVBUF_LOCK, SOCK_SNDBUF_LOCK) and left alone; the receive
 * side also follows net.ipv4.tcp_moderate_rcvbuf. Socket locked.
 */
#include <linux/log2.h>
#include <linux/skbuff.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

static u32 alttcp_now_us(void)
{
	return (u32)ktime_to_us(ktime_get());
}

/*
 * The receiver's RTT, smoothed and scaled by 8: from a sample that is
 * the whole RTT (a timestamp echo) by the 1/8 average, from one that may
 * include the peer's wait for window (one window's delivery) by its
 * minimum (Linux's tcp_rcv_rtt_update()).
 */
static void alttcp_rcv_rtt_update(struct alttcp_sock *ask, u32 sample_us,
				  bool win_dep)
{
	u32 est = ask->rcv_rtt_us;

	if (!est)
		est = sample_us << 3;
	else if (!win_dep)
		est += sample_us - (est >> 3);
	else if (sample_us << 3 < est)
		est = sample_us << 3;
	ask->rcv_rtt_us = max(est, 1U);
}

/*
 * A data segment arrived: measure the round trip the sender sees. With
 * timestamps, from the echo of our TSval on a full-sized segment (once
 * per echoed value), in order or not: on a path that reorders, holes may
 * never be all filled at once, and without a measure the buffer would
 * never grow. Without timestamps, once per window of in-order data,
 * from the time the window's data takes to come (Linux's
 * tcp_rcv_rtt_measure{,_ts}()).
 */
void alttcp_rcv_rtt_measure(struct sock *sk, const struct alttcp_skb_cb *cb,
			    u32 len, bool in_order)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 now = alttcp_now_us();

	if (ask->ts_ok && cb->saw_tstamp && cb->tsecr) {
		u32 ms = alttcp_tsval(ask) - cb->tsecr;

		if (cb->tsecr == ask->rcv_rtt_last_tsecr || len < ask->rcv_mss)
			return;
		ask->rcv_rtt_last_tsecr = cb->tsecr;
		/* At 1 ms a tick, a sub-millisecond trip reads 1 ms. */
		if (ms < 60 * MSEC_PER_SEC)
			alttcp_rcv_rtt_update(ask, max(ms, 1U) * USEC_PER_MSEC,
					      false);
		return;
	}
	if (!in_order)
		return;
	if (ask->rcv_rtt_time_us) {
		if (seq_before(ask->rcv_nxt, ask->rcv_rtt_seq))
			return;
		alttcp_rcv_rtt_update(ask, max(now - ask->rcv_rtt_time_us, 1U),
				      true);
	}
	ask->rcv_rtt_seq = ask->rcv_nxt + ask->rcv_wnd;
	ask->rcv_rtt_time_us = now ?: 1;
}

/*
 * After the reader copied: if it took more in the last RTT than in the
 * one before, the buffer grows to twice that, and more the faster it
 * grows, so the window never holds the sender back (Linux's
 * tcp_rcv_space_adjust()). The window is half the free buffer.
 */
void alttcp_rcv_space_adjust(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 now = alttcp_now_us(), copied, rcvbuf;
	u64 rcvwin, grow;

	if (!ask->rcv_rtt_us || now - ask->rcvq_time_us < ask->rcv_rtt_us >> 3)
		return;
	copied = ask->copied_seq - ask->rcvq_seq;
	if (copied > ask->rcvq_space) {
		if (ask->rcvq_space &&
		    READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_moderate_rcvbuf) &&
		    !(sk->sk_userlocks & SOCK_RCVBUF_LOCK)) {
			rcvwin = ((u64)copied << 1) + 16 * ask->adv_mss;
			grow = rcvwin * (copied - ask->rcvq_space);
			do_div(grow, ask->rcvq_space);
			rcvwin += grow << 1;
			rcvbuf = min_t(u64, rcvwin << 1,
				       READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_rmem[2]));
			if (rcvbuf > READ_ONCE(sk->sk_rcvbuf))
				WRITE_ONCE(sk->sk_rcvbuf, rcvbuf);
		}
		ask->rcvq_space = copied;
	}
	ask->rcvq_seq = ask->copied_seq;
	ask->rcvq_time_us = now;
}

/*
 * The send buffer for twice cwnd's segments, each costing what a
 * segment of the MSS would in an skb of its own, the worst case (Linux's
 * tcp_sndbuf_expand()); never smaller than it is.
 */
static void alttcp_sndbuf_expand(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 per_mss, segs;
	u64 sndmem;

	per_mss = max(ask->peer_mss, ask->mss) + MAX_TCP_HEADER +
		  SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	per_mss = roundup_pow_of_two(per_mss) +
		  SKB_DATA_ALIGN(sizeof(struct sk_buff));
	segs = max_t(u32, ALTTCP_INIT_CWND, ask->cwnd / ask->mss);
	sndmem = 2ULL * segs * per_mss;
	sndmem = min_t(u64, sndmem,
		       READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_wmem[2]));
	if (sndmem > READ_ONCE(sk->sk_sndbuf))
		WRITE_ONCE(sk->sk_sndbuf, sndmem);
}

/*
 * An ACK freed space a writer waits for: a sender whose cwnd has grown
 * past what its buffer holds gets a bigger one, unless locked, memory is
 * short, or cwnd is full (Linux's tcp_should_expand_sndbuf()).
 */
void alttcp_sndbuf_grow(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if ((sk->sk_userlocks & SOCK_SNDBUF_LOCK) ||
	    alttcp_under_memory_pressure() ||
	    sk_memory_allocated(sk) >= sk_prot_mem_limits(sk, 0) ||
	    ask->snd_nxt - ask->snd_una >= ask->cwnd)
		return;
	alttcp_sndbuf_expand(sk);
}

/* At establishment: where both measures start (tcp_init_buffer_space()). */
void alttcp_init_buffer_space(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!(sk->sk_userlocks & SOCK_SNDBUF_LOCK))
		alttcp_sndbuf_expand(sk);
	ask->rcvq_time_us = alttcp_now_us();
	ask->rcvq_seq = ask->copied_seq;
	ask->rcvq_space = min(ask->rcv_wnd, ALTTCP_INIT_CWND * ask->adv_mss);
	ask->rcvq_space = max(ask->rcvq_space, 1U);
}
