// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: selective acknowledgments, both ways.
 *
 * Receiver (RFC 2018 4, RFC 2883): the blocks of out-of-order data held,
 * the one holding the latest segment first, then the others as they were
 * last reported; a duplicate segment is reported once in a D-SACK block
 * ahead of them. With timestamps 3 blocks fit in an ACK, 4 without.
 *
 * Sender (RFC 6675): each sent skb carries marks (alttcp_skb_cb.sacked):
 * SACKED when a block covers it (it is cut at the block's edges, on
 * segment boundaries), LOST when more than reordering - 1 segments' worth
 * above it are SACKed (IsLost; DupThresh is the reordering degree, 3 until
 * undo.c sees more), RETRANS once resent. What is in flight ("pipe")
 * leaves out the SACKed and the lost not yet resent. In recovery cwnd
 * follows Proportional Rate Reduction (RFC 6937), and lost segments go
 * before new data. After a timeout all that is not SACKed is lost and
 * only that is resent. The totals (sacked_out, lost_out, retrans_out) are
 * bytes of sequence space, kept as marks change and skbs are trimmed or
 * freed.
 *
 * All under the socket lock, from the ACK path, the timers and sending.
 */
#include <net/tcp.h>

#include "alttcp.h"

/* As Linux's net.ipv4.tcp_sack says. */
bool alttcp_offer_sack(const struct sock *sk)
{
	return READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_sack);
}

/* A connection starts with nothing to report and nothing marked. */
void alttcp_sack_init(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->num_sacks = 0;
	ask->dsack = 0;
	ask->sacked_out = 0;
	ask->lost_out = 0;
	ask->retrans_out = 0;
	ask->prr_delivered = 0;
	ask->prr_out = 0;
	ask->recover_fs = 0;
	alttcp_undo_init(sk);
}

/* Grows b by [seq, end_seq) if they overlap or touch. */
static bool alttcp_sack_extend(struct alttcp_sack_block *b, u32 seq,
			       u32 end_seq)
{
	if (seq_after(seq, b->end) || seq_after(b->start, end_seq))
		return false;
	if (seq_before(seq, b->start))
		b->start = seq;
	if (seq_after(end_seq, b->end))
		b->end = end_seq;
	return true;
}

static void alttcp_sack_remove_at(struct alttcp_sock *ask, int i)
{
	memmove(&ask->sacks[i], &ask->sacks[i + 1],
		(ask->num_sacks - i - 1) * sizeof(ask->sacks[0]));
	ask->num_sacks--;
}

/* The first block grew: it takes in the blocks it now reaches. */
static void alttcp_sack_coalesce(struct alttcp_sock *ask)
{
	int i = 1;

	while (i < ask->num_sacks) {
		if (alttcp_sack_extend(&ask->sacks[0], ask->sacks[i].start,
				       ask->sacks[i].end))
			alttcp_sack_remove_at(ask, i);
		else
			i++;
	}
}

/* New out-of-order data: its block goes first (RFC 2018 4). */
void alttcp_sack_new_ofo(struct sock *sk, u32 seq, u32 end_seq)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_sack_block b;
	int i;

	if (!ask->sack_ok)
		return;
	for (i = 0; i < ask->num_sacks; i++) {
		if (!alttcp_sack_extend(&ask->sacks[i], seq, end_seq))
			continue;
		b = ask->sacks[i];
		memmove(&ask->sacks[1], &ask->sacks[0],
			i * sizeof(ask->sacks[0]));
		ask->sacks[0] = b;
		alttcp_sack_coalesce(ask);
		return;
	}
	/* A new block; the one reported longest ago gives way. */
	if (ask->num_sacks == ALTTCP_NUM_SACKS)
		ask->num_sacks--;
	memmove(&ask->sacks[1], &ask->sacks[0],
		ask->num_sacks * sizeof(ask->sacks[0]));
	ask->sacks[0].start = seq;
	ask->sacks[0].end = end_seq;
	ask->num_sacks++;
}

/* rcv_nxt moved: blocks it reached are acknowledged now. */
void alttcp_sack_rcv_nxt_moved(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	int i = 0;

	if (alttcp_ofo_empty(sk)) {
		ask->num_sacks = 0;
		return;
	}
	while (i < ask->num_sacks) {
		if (!seq_before(ask->rcv_nxt, ask->sacks[i].start))
			alttcp_sack_remove_at(ask, i);
		else
			i++;
	}
}

/* The out-of-order queue was pruned: what was reported may be gone. */
void alttcp_sack_reset(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->num_sacks = 0;
	ask->dsack = 0;
}

/*
 * A duplicate arrived: report it in the next ACK (RFC 2883 4), below
 * rcv_nxt ("old") or inside out-of-order data ("ofo"), as Linux's
 * net.ipv4.tcp_dsack allows.
 */
void alttcp_dsack_set(struct sock *sk, u32 seq, u32 end_seq)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->sack_ok || !READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_dsack) ||
	    !seq_before(seq, end_seq))
		return;
	ALTTCP_INC_STATS(sock_net(sk), seq_before(seq, ask->rcv_nxt) ?
			 ALTTCP_MIB_DSACKOLDSENT : ALTTCP_MIB_DSACKOFOSENT);
	ask->dsack_block.start = seq;
	ask->dsack_block.end = end_seq;
	ask->dsack = 1;
}

static u8 *alttcp_put_block(u8 *p, const struct alttcp_sack_block *b)
{
	put_unaligned_be32(b->start, p);
	put_unaligned_be32(b->end, p + 4);
	return p + 8;
}

/*
 * The SACK option of an ACK, NOP-aligned, in at most room bytes: the
 * D-SACK block (sent once), then as many blocks as fit. Returns its
 * length.
 */
unsigned int alttcp_sack_option(struct alttcp_sock *ask, u8 *opts,
				unsigned int room)
{
	unsigned int n = ask->num_sacks + ask->dsack, i, j = 0;
	u8 *p = opts + TCPOLEN_SACK_BASE_ALIGNED;

	if (!n || room < TCPOLEN_SACK_BASE_ALIGNED + TCPOLEN_SACK_PERBLOCK)
		return 0;
	n = min(n, (room - TCPOLEN_SACK_BASE_ALIGNED) / TCPOLEN_SACK_PERBLOCK);
	opts[0] = TCPOPT_NOP;
	opts[1] = TCPOPT_NOP;
	opts[2] = TCPOPT_SACK;
	opts[3] = TCPOLEN_SACK_BASE + n * TCPOLEN_SACK_PERBLOCK;
	i = 0;
	if (ask->dsack) {
		p = alttcp_put_block(p, &ask->dsack_block);
		ask->dsack = 0;
		i++;
	}
	for (; i < n; i++)
		p = alttcp_put_block(p, &ask->sacks[j++]);
	return TCPOLEN_SACK_BASE_ALIGNED + n * TCPOLEN_SACK_PERBLOCK;
}

/* ---- sender ---- */

/* Sequence space of skb, its FIN included. */
static u32 alttcp_skb_span(const struct sk_buff *skb)
{
	return ALTTCP_SKB_CB(skb)->end_seq - ALTTCP_SKB_CB(skb)->seq;
}

/* Sets skb's marks to marks, keeping the totals. */
static void alttcp_sack_set_marks(struct alttcp_sock *ask,
				  struct sk_buff *skb, u8 marks)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	u8 gone = cb->sacked & ~marks, got = marks & ~cb->sacked;
	u32 span = alttcp_skb_span(skb);

	if (gone & ALTTCP_SKB_SACKED)
		ask->sacked_out -= span;
	if (gone & ALTTCP_SKB_LOST)
		ask->lost_out -= span;
	if (gone & ALTTCP_SKB_RETRANS)
		ask->retrans_out -= span;
	if (got & ALTTCP_SKB_SACKED)
		ask->sacked_out += span;
	if (got & ALTTCP_SKB_LOST)
		ask->lost_out += span;
	if (got & ALTTCP_SKB_RETRANS)
		ask->retrans_out += span;
	cb->sacked = marks;
}

/* skb leaves the queue, acknowledged. */
void alttcp_sack_forget(struct sock *sk, struct sk_buff *skb)
{
	if (ALTTCP_SKB_CB(skb)->sacked)
		alttcp_sack_set_marks(alttcp_sk(sk), skb, 0);
}

/* len bytes are about to leave skb's front: its marks shrink with it. */
void alttcp_sack_trimmed(struct sock *sk, struct sk_buff *skb, u32 len)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u8 marks = ALTTCP_SKB_CB(skb)->sacked;

	if (marks & ALTTCP_SKB_SACKED)
		ask->sacked_out -= len;
	if (marks & ALTTCP_SKB_LOST)
		ask->lost_out -= len;
	if (marks & ALTTCP_SKB_RETRANS)
		ask->retrans_out -= len;
}

/* Every mark goes: go-back-N resends all (alttcp_resend_resized()). */
void alttcp_sack_clear(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb)
		ALTTCP_SKB_CB(skb)->sacked = 0;
	ask->sacked_out = 0;
	ask->lost_out = 0;
	ask->retrans_out = 0;
	ask->high_sacked = ask->snd_una;
}

/*
 * What is in the network (RFC 6675 "pipe", Linux's
 * tcp_packets_in_flight()), in bytes: sent and not acknowledged, less
 * what was SACKed and what is lost and not yet sent again.
 */
u32 alttcp_in_flight(const struct alttcp_sock *ask)
{
	s64 out = ask->snd_nxt - ask->snd_una;

	if (!ask->sack_ok)
		return out;
	out -= (s64)ask->sacked_out + ask->lost_out;
	out += ask->retrans_out;
	return out > 0 ? out : 0;
}

/*
 * RFC 2883 4: the first block reports a duplicate when it lies below the
 * ACK, or inside the second block.
 */
static bool alttcp_is_dsack(const u8 *blocks, int n, u32 ack)
{
	u32 start = get_unaligned_be32(blocks);
	u32 end = get_unaligned_be32(blocks + 4);

	if (seq_before(start, ack))
		return true;
	return n > 1 && !seq_before(start, get_unaligned_be32(blocks + 8)) &&
	       !seq_after(end, get_unaligned_be32(blocks + 12));
}

/*
 * Marks what [start, end) covers SACKED. An skb it covers in part is cut
 * where it begins or ends, at a segment boundary of its last sending;
 * the rest of the block's edge segment stays unmarked. *low: the lowest
 * newly SACKed segment that was sent once only.
 */
static void alttcp_sack_tag(struct sock *sk, u32 start, u32 end, u32 *low,
			    u32 tsecr)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb) {
		struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
		u32 seg = cb->seg_size ?: ask->mss, cut;

		if (skb == ask->send_head || !seq_before(cb->seq, end))
			break;
		if (!seq_after(cb->end_seq, start) ||
		    (cb->sacked & ALTTCP_SKB_SACKED))
			continue;
		if (seq_before(cb->seq, start)) {
			/* The next turn visits the part from the cut. */
			cut = roundup(start - cb->seq, seg);
			if (cut < skb->len)
				alttcp_wq_split(sk, skb, cut);
			continue;
		}
		if (seq_after(cb->end_seq, end)) {
			cut = rounddown(end - cb->seq, seg);
			if (!cut || alttcp_wq_split(sk, skb, cut))
				break;
		}
		if (!cb->retransmitted && seq_before(cb->seq, *low))
			*low = cb->seq;
		if (seq_after(cb->end_seq, ask->high_sacked))
			ask->high_sacked = cb->end_seq;
		alttcp_rack_delivered(sk, skb, tsecr);
		alttcp_sack_set_marks(ask, skb, ALTTCP_SKB_SACKED);
	}
}

/*
 * The SACK option of an ACK (its offset checked by input.c): each block
 * marks what it covers. A D-SACK is counted and told undo.c; blocks
 * outside what was sent, or reversed, are ignored (Linux's
 * tcp_is_sackblock_valid()). Returns whether there was a D-SACK.
 */
bool alttcp_sack_rcv(struct sock *sk, const struct sk_buff *skb)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct alttcp_sock *ask = alttcp_sk(sk);
	const u8 *opt = (const u8 *)tcp_hdr(skb) + cb->sack_off;
	int n = (opt[1] - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_PERBLOCK, i;
	const u8 *blocks = opt + 2;

	u32 prior_high = ask->high_sacked, low = ask->snd_max;
	bool dsack = false;

	if (n > 0 && alttcp_is_dsack(blocks, n, cb->ack_seq)) {
		u32 dstart = get_unaligned_be32(blocks);
		u32 dend = get_unaligned_be32(blocks + 4);
		bool tlp = ask->tlp_out && dend == ask->tlp_high_seq;

		dsack = true;
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_DSACKRECV);
		/* RACK's window may have been too short only on a path
		 * seen to reorder, and a probe is sent by a timer, not
		 * by RACK (Linux's tcp_dsack_seen()).
		 */
		if (ask->rack_reord && !tlp)
			ask->rack_dsack_seen = 1;
		/* A resent tail loss probe is no retransmission of a
		 * reduction's (tlp.c judges its D-SACK).
		 */
		if (!tlp || !ask->tlp_retrans)
			alttcp_undo_dsack(sk, dstart, dend);
		blocks += TCPOLEN_SACK_PERBLOCK;
		n--;
	}
	for (i = 0; i < n; i++, blocks += TCPOLEN_SACK_PERBLOCK) {
		u32 start = get_unaligned_be32(blocks);
		u32 end = get_unaligned_be32(blocks + 4);

		if (!seq_before(start, end) || seq_after(end, ask->snd_max)) {
			ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_SACKDISCARD);
			continue;
		}
		if (!seq_after(end, cb->ack_seq) ||
		    !seq_after(end, ask->snd_una))
			continue;	/* acknowledged anyway */
		alttcp_sack_tag(sk, seq_before(start, ask->snd_una) ?
				ask->snd_una : start, end, &low,
				cb->saw_tstamp ? cb->tsecr : 0);
	}
	/* Data never resent SACKed below what was: reordering. */
	if (seq_before(low, prior_high))
		alttcp_reorder_seen(sk, low, false);
	return dsack;
}

/*
 * RFC 6675 IsLost(): an skb not SACKed is lost when more than
 * (DupThresh - 1) segments' worth above it are. Walks from the oldest
 * until what is SACKed above cannot reach that.
 */
static void alttcp_sack_mark_lost(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 thresh = (ask->reordering - 1) * ask->mss;
	u32 above = ask->sacked_out;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb) {
		struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

		if (skb == ask->send_head || above <= thresh)
			break;
		if (cb->sacked & ALTTCP_SKB_SACKED)
			above -= alttcp_skb_span(skb);
		else if (!(cb->sacked & ALTTCP_SKB_LOST))
			alttcp_sack_set_marks(ask, skb,
					      cb->sacked | ALTTCP_SKB_LOST);
	}
}

/* The oldest segment out, unless SACKed, is lost. */
static void alttcp_sack_mark_head_lost(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *head = skb_peek(&sk->sk_write_queue);

	if (head && head != ask->send_head &&
	    !(ALTTCP_SKB_CB(head)->sacked &
	      (ALTTCP_SKB_SACKED | ALTTCP_SKB_LOST)))
		alttcp_sack_set_marks(ask, head, ALTTCP_SKB_CB(head)->sacked |
				      ALTTCP_SKB_LOST);
}

/* Fast recovery begins (RFC 6675 5, RFC 6937 3.1). Without RACK, three
 * duplicate ACKs with little SACKed mean the oldest segment is lost.
 */
static void alttcp_sack_enter_recovery(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!alttcp_rack_enabled(sk))
		alttcp_sack_mark_head_lost(sk);
	if (ask->rack_reo_persist)
		ask->rack_reo_persist--;
	alttcp_undo_begin(sk);
	ask->ssthresh = alttcp_cong_ssthresh(sk);
	ask->recover = ask->snd_max;
	ask->in_recovery = true;
	ask->prr_delivered = 0;
	ask->prr_out = 0;
	ask->recover_fs = max(ask->snd_max - ask->snd_una, 1U);
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_SACKRECOVERY);
}

/*
 * RFC 6937: cwnd in recovery lets out what was delivered times
 * ssthresh / RecoverFS while pipe is above ssthresh, and then no more
 * than slow start would up to ssthresh (PRR-SSRB). The first
 * retransmission always goes.
 */
static void alttcp_prr(struct sock *sk, u32 delivered)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 pipe = alttcp_in_flight(ask);
	s64 sndcnt;

	ask->prr_delivered += delivered;
	if (pipe > ask->ssthresh) {
		sndcnt = DIV_ROUND_UP_ULL((u64)ask->prr_delivered *
					  ask->ssthresh, ask->recover_fs);
		sndcnt -= ask->prr_out;
	} else {
		sndcnt = max_t(s64, (s64)ask->prr_delivered - ask->prr_out,
			       delivered) + ask->mss;
		sndcnt = min_t(s64, ask->ssthresh - pipe, sndcnt);
	}
	if (sndcnt < 0)
		sndcnt = 0;
	if (!ask->prr_out)
		sndcnt = max_t(s64, sndcnt, ask->mss);
	ask->cwnd = min_t(u64, pipe + sndcnt, ALTTCP_CWND_MAX);
}

/*
 * After an ACK on a SACK connection, its SACK blocks marked: losses are
 * found, recovery begins or ends, and cwnd is set for the push that
 * follows. acked: bytes newly acknowledged; prior_sacked: sacked_out
 * before this ACK.
 */
void alttcp_sack_on_ack(struct sock *sk, u32 acked, u32 prior_sacked)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	/* RFC 6937 DeliveredData: SACKed bytes now acknowledged count
	 * once, when they were SACKed.
	 */
	s64 delivered = (s64)acked + ask->sacked_out - prior_sacked;
	bool ended = false;

	if (ask->in_recovery && seq_geq(ask->snd_una, ask->recover)) {
		/* All that was out when it began is in: back to avoidance,
		 * at ssthresh (RFC 6937 3.1, Linux's tcp_end_cwnd_reduction).
		 */
		ask->in_recovery = false;
		ask->cwnd = max_t(u32, ask->ssthresh, ask->mss);
		ended = true;
	}
	/* With RACK only time finds losses (RFC 8985 6, Linux's
	 * tcp_recovery 1); else RFC 6675's DupThresh.
	 */
	if (alttcp_rack_enabled(sk)) {
		alttcp_rack_on_ack(sk);
	} else {
		alttcp_sack_mark_lost(sk);
		/* A partial ACK in recovery stops at a hole below SACKed
		 * data: lost too (RFC 6675 NextSeg() rule 3).
		 */
		if (ask->in_recovery && acked && ask->sacked_out)
			alttcp_sack_mark_head_lost(sk);
	}
	if (!ask->in_recovery && seq_geq(ask->snd_una, ask->recover) &&
	    (ask->lost_out ||
	     (!alttcp_rack_enabled(sk) && ask->dupacks >= ask->reordering)))
		alttcp_sack_enter_recovery(sk);
	if (ask->in_recovery)
		alttcp_prr(sk, max_t(s64, delivered, 0));
	else if (acked && !ended)	/* from ssthresh on, as Linux */
		alttcp_cong_on_ack(sk, acked, alttcp_is_cwnd_limited(ask));
}

/*
 * A timeout (Linux's tcp_enter_loss()): all not SACKed is lost, and
 * nothing resent is in flight any more. When the peer's cumulative ACK
 * stops at a segment it SACKed, it dropped what it had reported
 * (reneging, RFC 2018 8): nothing counts as SACKed then.
 */
void alttcp_sack_enter_loss(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb = skb_peek(&sk->sk_write_queue);
	bool reneged = skb && skb != ask->send_head &&
		       (ALTTCP_SKB_CB(skb)->sacked & ALTTCP_SKB_SACKED);

	if (reneged) {
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_SACKRENEGING);
		ask->high_sacked = ask->snd_una;
	}
	skb_queue_walk(&sk->sk_write_queue, skb) {
		u8 marks = ALTTCP_SKB_CB(skb)->sacked;

		if (skb == ask->send_head)
			break;
		if (reneged || !(marks & ALTTCP_SKB_SACKED))
			marks = ALTTCP_SKB_LOST;
		alttcp_sack_set_marks(ask, skb, marks);
	}
	ask->in_recovery = false;
	ask->dupacks = 0;
	ask->recover = ask->snd_max;
}

/* RACK found skb lost (rack.c): a lost retransmission goes again. */
void alttcp_sack_mark_skb_lost(struct sock *sk, struct sk_buff *skb)
{
	u8 marks = ALTTCP_SKB_CB(skb)->sacked;

	alttcp_sack_set_marks(alttcp_sk(sk), skb,
			      (marks & ~ALTTCP_SKB_RETRANS) | ALTTCP_SKB_LOST);
}

/* The reorder timer found losses: recovery, and they go out. */
void alttcp_sack_losses_found(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->in_recovery && !ask->in_loss)
		alttcp_sack_enter_recovery(sk);
	if (ask->in_recovery)
		alttcp_prr(sk, 0);
	alttcp_push(sk);
}

/* An undo (undo.c): nothing is lost after all, nor being resent. */
void alttcp_sack_unmark_lost(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_write_queue, skb) {
		u8 marks = ALTTCP_SKB_CB(skb)->sacked;

		if (skb == ask->send_head)
			break;
		if (marks & (ALTTCP_SKB_LOST | ALTTCP_SKB_RETRANS))
			alttcp_sack_set_marks(ask, skb,
					      marks & ALTTCP_SKB_SACKED);
	}
}

/*
 * RFC 6675 NextSeg() rule 1: the lost segments not yet resent, oldest
 * first, while cwnd leaves room. Returns whether one went.
 */
bool alttcp_sack_xmit_lost(struct sock *sk, u32 cwnd)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb, *next;
	bool sent = false;

	if (ask->lost_out <= ask->retrans_out)
		return false;
	for (skb = skb_peek(&sk->sk_write_queue);
	     skb && skb != ask->send_head; skb = next) {
		struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

		next = skb_queue_is_last(&sk->sk_write_queue, skb) ?
		       NULL : skb->next;
		if ((cb->sacked & (ALTTCP_SKB_SACKED | ALTTCP_SKB_LOST |
				   ALTTCP_SKB_RETRANS)) != ALTTCP_SKB_LOST)
			continue;
		if (alttcp_in_flight(ask) + min_t(u32, skb->len, ask->mss) >
		    cwnd)
			break;
		if (alttcp_retransmit_skb(sk, skb))
			break;
		alttcp_undo_retransmitted(sk);
		/* A cut to one segment left the rest behind it, lost. */
		next = skb_queue_is_last(&sk->sk_write_queue, skb) ?
		       NULL : skb->next;
		alttcp_sack_set_marks(ask, skb, cb->sacked |
				      ALTTCP_SKB_RETRANS);
		if (ask->in_recovery)
			ask->prr_out += alttcp_skb_span(skb);
		sent = true;
		if (ask->lost_out <= ask->retrans_out)
			break;
	}
	return sent;
}
