// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: undoing a window reduction that was not needed, and the
 * reordering degree (Linux's tcp_try_undo_*() and tp->reordering).
 *
 * A reduction (fast recovery, or a timeout) remembers cwnd and ssthresh
 * as they were. It proves needless when
 *  - an ACK for retransmitted data echoes a TSval sent before the first
 *    retransmission: the originals arrived (Eifel detection, RFC 3522;
 *    after a timeout, a spurious RTO, RFC 4015), or
 *  - every retransmission came back as a D-SACK: the peer had it all
 *    already (RFC 3708).
 * Then cwnd and ssthresh go back, and what was marked lost is not
 * resent. Such a reordering, and a SACK or a cumulative ACK reaching
 * data below what was already SACKed without a retransmission, raise
 * the reordering degree: how many segments' worth may arrive late
 * before one is deemed lost (sack.c's duplicate-ACK threshold).
 *
 * All under the socket lock, from the ACK path and the timers.
 */
#include <net/tcp.h>

#include "alttcp.h"
#include "trace.h"

/* Linux's net.ipv4.tcp_max_reordering default. */
#define ALTTCP_MAX_REORDERING	300

void alttcp_undo_init(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->undo_ok = 0;
	ask->in_loss = 0;
	ask->undo_retrans = -1;
	ask->reordering = clamp_t(int,
				  READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_reordering),
				  1, ALTTCP_MAX_REORDERING);
}

/*
 * Our TSval now, or that of the earliest retransmission still out (a
 * tail loss probe's, say): an echo below it is of an original.
 */
static u32 alttcp_undo_first_resend(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 first = alttcp_tsval(ask);
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb) {
		const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

		if (skb == ask->send_head)
			break;
		if (cb->retransmitted && seq_before(cb->tx_ts, first))
			first = cb->tx_ts;
	}
	return first;
}

/*
 * A reduction begins: remembers what to go back to. Called before
 * ssthresh changes. A timeout during a reduction keeps the first one's
 * memory (Linux's tcp_enter_loss()).
 */
void alttcp_undo_begin(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->undo_ok && (ask->in_recovery || ask->in_loss))
		return;
	ask->undo_ok = 1;
	ask->undo_marker = ask->snd_una;
	ask->undo_tsval = alttcp_undo_first_resend(sk);
	ask->undo_retrans = -1;
	ask->prior_cwnd = ask->cwnd;
	ask->prior_ssthresh = ask->ssthresh;
}

/* A segment went again during the reduction. */
void alttcp_undo_retransmitted(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->undo_ok)
		return;
	if (ask->undo_retrans < 0)
		ask->undo_retrans = 0;
	ask->undo_retrans++;
}

/* Whether the echo shows that the original, not the retransmission,
 * reached the peer (Linux's tcp_packet_delayed()).
 */
static bool alttcp_packet_delayed(const struct alttcp_sock *ask,
				  const struct alttcp_skb_cb *cb)
{
	return ask->ts_ok && cb->saw_tstamp && cb->tsecr &&
	       seq_before(cb->tsecr, ask->undo_tsval);
}

/* The reduction is taken back (Linux's tcp_undo_cwnd_reduction()). */
static void alttcp_undo(struct sock *sk, enum alttcp_mib_field reason)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->cwnd = max(ask->cwnd, ask->prior_cwnd);
	if (ask->prior_ssthresh > ask->ssthresh)
		ask->ssthresh = ask->prior_ssthresh;
	if (ask->sack_ok)
		alttcp_sack_unmark_lost(sk);
	ask->in_recovery = false;
	ask->in_loss = 0;
	ask->undo_ok = 0;
	ask->dupacks = 0;
	ask->retransmits = 0;
	ALTTCP_INC_STATS(sock_net(sk), reason);
	trace_alttcp_cong(sk);
}

/*
 * A D-SACK block: if it reports retransmitted data of the current
 * reduction, one retransmission fewer was needed.
 */
void alttcp_undo_dsack(struct sock *sk, u32 start, u32 end)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 segs;

	if (!ask->undo_ok || ask->undo_retrans <= 0 ||
	    !seq_after(end, ask->undo_marker))
		return;
	segs = DIV_ROUND_UP(end - start, max_t(u32, ask->mss, 1));
	ask->undo_retrans = max_t(s32, ask->undo_retrans - (s32)segs, 0);
	if (!ask->undo_retrans)
		alttcp_undo(sk, ask->in_loss ? ALTTCP_MIB_LOSSUNDO :
			    ALTTCP_MIB_DSACKUNDO);
}

/*
 * Data below the highest SACKed, from low_seq up, arrived without being
 * sent again: it was reordered, by that much (Linux's
 * tcp_check_sack_reordering()). ts: found by an echoed timestamp.
 */
void alttcp_reorder_seen(struct sock *sk, u32 low_seq, bool ts)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 mss = max_t(u32, ask->mss, 1), metric;

	if (seq_before(ask->high_sacked, ask->snd_una))
		ask->high_sacked = ask->snd_una;
	if (!seq_before(low_seq, ask->high_sacked))
		return;
	ask->rack_reord = 1;
	metric = ask->high_sacked - low_seq;
	if (metric > ask->reordering * mss)
		ask->reordering = min_t(u32, DIV_ROUND_UP(metric, mss),
					ALTTCP_MAX_REORDERING);
	ALTTCP_INC_STATS(sock_net(sk), ts ? ALTTCP_MIB_TSREORDER :
			 ALTTCP_MIB_SACKREORDER);
}

/*
 * After an ACK moved snd_una by acked (prior_una before it) and the
 * recovery state was brought up to date: undoes a needless reduction.
 * Returns whether it did.
 */
bool alttcp_undo_on_ack(struct sock *sk, const struct alttcp_skb_cb *cb,
			u32 acked, u32 prior_una)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	bool delayed;

	if (!ask->undo_ok || !acked)
		return false;
	delayed = alttcp_packet_delayed(ask, cb);
	if (ask->in_loss) {
		/* After a timeout: the originals made it (RFC 4015). */
		if (!delayed && ask->undo_retrans)
			return false;
		if (delayed)
			ALTTCP_INC_STATS(sock_net(sk),
					 ALTTCP_MIB_SPURIOUSRTOS);
		alttcp_undo(sk, ALTTCP_MIB_LOSSUNDO);
		return true;
	}
	if (!ask->in_recovery || !delayed)
		return false;
	/* The hole was filled by the original, late. */
	alttcp_reorder_seen(sk, prior_una, true);
	alttcp_undo(sk, seq_geq(ask->snd_una, ask->recover) ?
		    ALTTCP_MIB_FULLUNDO : ALTTCP_MIB_PARTIALUNDO);
	return true;
}
