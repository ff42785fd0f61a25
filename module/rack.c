// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: RACK, time-based loss detection (RFC 8985 6; Linux's
 * tcp_recovery.c), on SACK connections while net.ipv4.tcp_recovery has
 * its first bit (Linux's default).
 *
 * Each ACK that delivers data (acknowledges or SACKs it) remembers when
 * the most recently sent of it went out, and the round trip that took.
 * A segment sent before that one and still not delivered a round trip
 * plus a reordering window later is lost: it should have arrived. That
 * finds a lost retransmission (which duplicate ACKs never can), and a
 * loss with fewer than DupThresh segments behind it once the window has
 * passed; the reorder timer waits out that window when no ACK comes.
 * The window is a quarter of the minimum RTT (more after D-SACKs),
 * capped at SRTT; none in recovery or with DupThresh segments SACKed
 * until reordering was seen (undo.c), as Linux's tcp_rack_reo_wnd().
 * When RACK is on it is the only loss detection: sack.c's DupThresh
 * rules (RFC 6675 IsLost) stand aside, as in Linux.
 *
 * All under the socket lock, from the ACK path and the timer.
 */
#include <net/tcp.h>

#include "alttcp.h"

bool alttcp_rack_enabled(const struct sock *sk)
{
	return alttcp_sk(sk)->sack_ok &&
	       (READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_recovery) &
		TCP_RACK_LOSS_DETECTION);
}

static u32 alttcp_now_us(void)
{
	return (u32)ktime_to_us(ktime_get());
}

/* Was (xmit_us, end_seq) sent after the segment RACK last saw delivered? */
static bool alttcp_rack_sent_after(const struct alttcp_sock *ask,
				   u32 xmit_us, u32 end_seq)
{
	return (s32)(xmit_us - ask->rack_xmit_us) > 0 ||
	       (xmit_us == ask->rack_xmit_us &&
		seq_after(end_seq, ask->rack_end_seq));
}

/* The connection's least RTT sample, for the reordering window. */
void alttcp_rack_rtt_sample(struct sock *sk, u32 rtt_us)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	rtt_us = max(rtt_us, 1U);
	if (!ask->rack_min_rtt_us || rtt_us < ask->rack_min_rtt_us)
		ask->rack_min_rtt_us = rtt_us;
}

/*
 * skb was delivered by the ACK that echoed tsecr (0: none), RFC 8985 6.2
 * step 2. A retransmitted segment delivered sooner than any round trip,
 * or by an echo of an earlier sending, was the original's delivery: it
 * says nothing about when the retransmission arrived.
 */
void alttcp_rack_delivered(struct sock *sk, const struct sk_buff *skb,
			   u32 tsecr)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	u32 rtt_us = ask->now_us - cb->xmit_us;

	if (cb->retransmitted &&
	    (rtt_us < ask->rack_min_rtt_us ||
	     (tsecr && seq_before(tsecr, cb->tx_ts))))
		return;
	if (!alttcp_rack_sent_after(ask, cb->xmit_us, cb->end_seq))
		return;
	ask->rack_xmit_us = cb->xmit_us;
	ask->rack_end_seq = cb->end_seq;
	ask->rack_rtt_us = rtt_us;
	ask->rack_advanced = 1;
}

/* RFC 8985 6.2 step 4, Linux's tcp_rack_reo_wnd(). */
static u32 alttcp_rack_reo_wnd(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->rack_reord &&
	    (ask->in_recovery || ask->in_loss ||
	     ask->sacked_out >= ask->reordering * ask->mss))
		return 0;
	return min_t(u64, (u64)(ask->rack_min_rtt_us / 4) *
		     (ask->rack_reo_extra + 1), ask->srtt_us);
}

/*
 * A D-SACK on a path seen to reorder (sack.c judges) may mean the window
 * was shorter than the path's reordering: it widens by a quarter of the
 * minimum RTT, at most once a round trip (a delivery sent since the last
 * widening), and stays wide for ALTTCP_RACK_REO_PERSIST recoveries (RFC
 * 8985 6.2 step 4, as Linux's tcp_rack_update_reo_wnd();
 * net.ipv4.tcp_recovery's second bit keeps it static).
 */
#define ALTTCP_RACK_REO_PERSIST	16

static void alttcp_rack_update_reo_wnd(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_recovery) &
	    TCP_RACK_STATIC_REO_WND)
		return;
	if (ask->rack_dsack_seen && ask->rack_reo_persist &&
	    (s32)(ask->rack_xmit_us - ask->rack_reo_stamp_us) < 0)
		ask->rack_dsack_seen = 0;	/* within a round trip */
	if (ask->rack_dsack_seen) {
		if (ask->rack_reo_extra < U8_MAX)
			ask->rack_reo_extra++;
		ask->rack_dsack_seen = 0;
		ask->rack_reo_stamp_us = ask->now_us;
		ask->rack_reo_persist = ALTTCP_RACK_REO_PERSIST;
	} else if (!ask->rack_reo_persist) {
		ask->rack_reo_extra = 0;
	}
}

/*
 * RFC 8985 6.2 step 5: marks lost what was sent before the last
 * delivered segment and is overdue. Returns the microseconds until the
 * next one would be, 0 if none waits.
 */
static u32 alttcp_rack_detect(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 now = ask->now_us, reo_wnd = alttcp_rack_reo_wnd(sk);
	u32 wait = 0;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb) {
		struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
		s32 left;

		if (skb == ask->send_head)
			break;
		/* Delivered, or lost and not yet sent again. */
		if ((cb->sacked & ALTTCP_SKB_SACKED) ||
		    (cb->sacked & (ALTTCP_SKB_LOST | ALTTCP_SKB_RETRANS)) ==
		    ALTTCP_SKB_LOST)
			continue;
		if (alttcp_rack_sent_after(ask, cb->xmit_us, cb->end_seq))
			continue;
		left = (s32)(cb->xmit_us + ask->rack_rtt_us + reo_wnd - now);
		if (left > 0) {
			wait = max_t(u32, wait, left);
			continue;
		}
		if (cb->sacked & ALTTCP_SKB_RETRANS)
			ALTTCP_INC_STATS(sock_net(sk),
					 ALTTCP_MIB_LOSTRETRANSMIT);
		alttcp_sack_mark_skb_lost(sk, skb);
	}
	return wait;
}

static void alttcp_rack_arm(struct sock *sk, u32 wait_us)
{
	if (wait_us)
		alttcp_timer_arm(sk, ALTTCP_TIMER_REORDER,
				 DIV_ROUND_UP(wait_us, USEC_PER_MSEC) + 1);
	else
		alttcp_timer_clear(sk, ALTTCP_TIMER_REORDER);
}

/* After an ACK's deliveries were recorded: finds what they show lost. */
void alttcp_rack_on_ack(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!alttcp_rack_enabled(sk))
		return;
	alttcp_rack_update_reo_wnd(sk);
	if (!ask->rack_advanced)
		return;
	ask->rack_advanced = 0;
	/* Only data SACKed or lost can have older data still out. */
	if (!ask->sacked_out && !ask->lost_out) {
		alttcp_timer_clear(sk, ALTTCP_TIMER_REORDER);
		return;
	}
	alttcp_rack_arm(sk, alttcp_rack_detect(sk));
}

/* The reordering window passed with no ACK (Linux's tcp_rack_reo_timeout()). */
void alttcp_rack_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 prior_lost = ask->lost_out, wait;

	if (!alttcp_rack_enabled(sk) || ask->snd_una == ask->snd_nxt)
		return;
	ask->now_us = alttcp_now_us();
	wait = alttcp_rack_detect(sk);
	if (ask->lost_out != prior_lost)
		alttcp_sack_losses_found(sk);
	alttcp_rack_arm(sk, wait);
}
