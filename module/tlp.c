// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: tail loss probes (RFC 8985 7, Linux's tcp_send_loss_probe()).
 *
 * When the last segments of a flight are lost no duplicate ACK comes,
 * and only the RTO, 200 ms at least, would find them. On a SACK
 * connection out of recovery, a probe timeout (PTO) of two smoothed RTTs
 * (plus Linux's 200 ms allowance for a delayed ACK when one segment is
 * out; at the RTO's time instead, if that is sooner) sends one segment: new data if the peer's
 * window takes it, else the last segment sent, again. Its ACK brings the
 * SACK information that starts recovery. One probe at a time: when an
 * ACK passes the probe's end without a D-SACK for a resent probe, the
 * probe repaired a loss, and cwnd is reduced once (Linux's CWR, counted
 * TCPLossProbeRecovery); a D-SACK says the probe was not needed.
 *
 * All under the socket lock, from the ACK path, sending and the timer.
 */
#include <net/tcp.h>

#include "alttcp.h"
#include "trace.h"

/* RFC 8985 7.2's WCDelAckT, Linux's TCP_RTO_MIN. */
#define ALTTCP_TLP_DELACK_MS	200
/* Linux's TCP_TIMEOUT_INIT, before any RTT sample. */
#define ALTTCP_TLP_NO_RTT_MS	1000

/*
 * Whether a probe may go now. One is armed only in Linux's states Open
 * or CWR (scheduling: not with SACKed data out, Disorder), but once
 * armed it may fire in Disorder, as Linux's does.
 */
static bool alttcp_tlp_allowed(const struct sock *sk, bool scheduling)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	int early = READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_early_retrans);

	/* net.ipv4.tcp_early_retrans 3 and 4 enable probes, in Linux too. */
	return (early == 3 || early == 4) &&
	       ask->sack_ok && !ask->in_recovery && !ask->in_loss &&
	       !(scheduling && ask->sacked_out) &&
	       !ask->retransmits && ask->snd_una != ask->snd_nxt &&
	       !ask->tlp_out &&
	       ((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT |
				       TCPF_FIN_WAIT1 | TCPF_CLOSING |
				       TCPF_LAST_ACK));
}

/*
 * Arms the probe timer for data just sent or an ACK that moved
 * snd_una; the RTO stays armed behind it.
 */
void alttcp_tlp_schedule(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 pto_ms, rto_left_ms;

	if (!alttcp_tlp_allowed(sk, true)) {
		alttcp_timer_clear(sk, ALTTCP_TIMER_LOSS_PROBE);
		return;
	}
	if (ask->srtt_us) {
		pto_ms = DIV_ROUND_UP(2 * ask->srtt_us, USEC_PER_MSEC);
		pto_ms += ask->snd_nxt - ask->snd_una <= ask->mss ?
			  ALTTCP_TLP_DELACK_MS : 2;
	} else {
		pto_ms = ALTTCP_TLP_NO_RTT_MS;
	}
	rto_left_ms = ask->rto_ms;
	if (alttcp_timer_pending(sk, ALTTCP_TIMER_RETRANS)) {
		s64 left = ktime_ms_delta(ask->deadline[ALTTCP_TIMER_RETRANS],
					  ktime_get_coarse());

		rto_left_ms = left > 0 ? left : 0;
	}
	/* Never later than the RTO would come, and then in its place: the
	 * RTO counts again from the probe (Linux's one xmit timer).
	 */
	if (pto_ms >= rto_left_ms) {
		pto_ms = max(rto_left_ms, 1U);
		alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS,
				 pto_ms + ask->rto_ms);
	}
	alttcp_timer_arm(sk, ALTTCP_TIMER_LOSS_PROBE, pto_ms);
}

/* The last segment sent, cut from its skb when that holds more. */
static struct sk_buff *alttcp_tlp_last_segment(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb, *last = NULL;
	u32 seg, cut;

	skb_queue_walk(&sk->sk_write_queue, skb) {
		if (skb == ask->send_head)
			break;
		last = skb;
	}
	if (!last || alttcp_mtup_is_probe(sk, last))
		return NULL;
	seg = ALTTCP_SKB_CB(last)->seg_size ?: ask->mss;
	if (last->len > seg) {
		cut = rounddown(last->len - 1, seg);
		if (alttcp_wq_split(sk, last, cut))
			return NULL;
		last = last->next;
	}
	return last;
}

/* The probe timeout passed with no ACK moving snd_una: one probe. */
void alttcp_tlp_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 prior_nxt = ask->snd_nxt, cwnd = ask->cwnd;
	struct sk_buff *skb;

	if (!alttcp_tlp_allowed(sk, false))
		return;
	/* New data first, one segment past cwnd (RFC 8985 7.3). */
	skb = ask->send_head;
	ask->tlp_out = 1;	/* the push below schedules no other */
	if (skb && alttcp_wnd_takes(sk, skb)) {
		ask->cwnd = max(cwnd, alttcp_in_flight(ask) + ask->mss);
		__alttcp_push(sk, ALTTCP_PUSH_FORCE);
		ask->cwnd = cwnd;
		ask->tlp_retrans = 0;
		if (ask->snd_nxt == prior_nxt) {
			ask->tlp_out = 0;
			goto rearm;
		}
	} else {
		skb = alttcp_tlp_last_segment(sk);
		ask->tlp_retrans = 1;
		if (!skb || alttcp_retransmit_skb(sk, skb)) {
			ask->tlp_out = 0;
			goto rearm;
		}
	}
	ask->tlp_high_seq = ask->snd_nxt;
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_LOSSPROBES);
rearm:
	/* The RTO counts from the probe (Linux's tcp_rearm_rto()). */
	alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, ask->rto_ms);
}

/*
 * An ACK while a probe is out (Linux's tcp_process_tlp_ack()): ack is
 * its ACK number, advanced whether it moved snd_una, dsack whether it
 * carried a D-SACK.
 */
void alttcp_tlp_ack(struct sock *sk, u32 ack, bool advanced, bool dsack)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->tlp_out || seq_before(ack, ask->tlp_high_seq))
		return;
	if (!ask->tlp_retrans || dsack) {
		/* New data, or the peer had the original: no loss. */
		ask->tlp_out = 0;
	} else if (seq_after(ack, ask->tlp_high_seq)) {
		/* The probe repaired a loss: reduce once. */
		ask->tlp_out = 0;
		ask->ssthresh = alttcp_cong_ssthresh(sk);
		ask->cwnd = max(min(ask->cwnd, ask->ssthresh), ask->mss);
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_LOSSPROBERECOVERY);
		trace_alttcp_cong(sk);
	} else if (!advanced) {
		/* A duplicate ACK at the probe's end: both arrived. */
		ask->tlp_out = 0;
	}
}
