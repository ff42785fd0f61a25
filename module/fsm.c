// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the RFC 9293 state machine, segment arrival (3.10.7).
 *
 * Runs with the socket lock held: in softirq from the netfilter hook, or
 * in process context from release_sock() for segments that arrived while
 * a process owned the socket. Never sleeps. Consumes the skb.
 *
 * sk->sk_state keeps Linux's TCP_* numbers (the inet helpers read them):
 * TCP_SYN_RECV is SYN-RECEIVED, TCP_FIN_WAIT1 is FIN-WAIT-1, and so on.
 */
#include <linux/module.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"
#include "trace.h"

void alttcp_trace_state(const struct sock *sk, int oldstate, int newstate)
{
	const struct inet_sock *inet = inet_sk(sk);

	trace_alttcp_state_change(inet->inet_rcv_saddr, inet->inet_sport,
				  inet->inet_daddr, inet->inet_dport,
				  oldstate, newstate);
}

void alttcp_set_state(struct sock *sk, int state)
{
	int old = sk->sk_state;

	if (old == state)
		return;
	/* After TIME_WAIT the entry's expiry is the next event. */
	if (!alttcp_sk(sk)->time_wait)
		alttcp_trace_state(sk, old, state);
	if (old == TCP_ESTABLISHED && state == TCP_CLOSE)
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_ESTABRESETS);
	alttcp_state_store(sk, state);
	if (state == TCP_CLOSE) {
		if (old == TCP_LISTEN)
			alttcp_lhash_remove(sk);
		else
			alttcp_ehash_remove(sk);
		if (sock_flag(sk, SOCK_DEAD) ||
		    !(sk->sk_userlocks & SOCK_BINDPORT_LOCK))
			alttcp_port_release(sk);
	}
}

static void alttcp_destroy(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;

	if (ask->destroyed)
		return;
	ask->destroyed = 1;
	alttcp_timer_stop(sk);
	while ((skb = __skb_dequeue(&sk->sk_write_queue)))
		alttcp_wq_free(sk, skb);
	ask->send_head = NULL;
	alttcp_ofo_purge(sk);
	__skb_queue_purge(&sk->sk_receive_queue);
	alttcp_port_release(sk);
	if (ask->orphan_counted)
		atomic_dec(&alttcp_pernet(sock_net(sk))->orphans);
	/* sk_prot_free() drops the module reference an orphan gave up. */
	if (ask->unpinned)
		__module_get(THIS_MODULE);
	/* The reference the socket was born with. */
	sock_put(sk);
}

/* Module unload: every connection left is an orphan; reset them all. */
void alttcp_abort_all(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);
	unsigned int i;

	for (i = 0; i <= an->hash_mask; i++) {
		struct sock *sk;

		for (;;) {
			spin_lock_bh(&an->lock);
			sk = hlist_empty(&an->ehash[i]) ? NULL :
			     &hlist_entry(an->ehash[i].first,
					  struct alttcp_sock, hash_node)->inet.sk;
			if (sk)
				sock_hold(sk);
			spin_unlock_bh(&an->lock);
			if (!sk)
				break;
			local_bh_disable();
			bh_lock_sock(sk);
			if (sk->sk_state != TCP_CLOSE)
				alttcp_send_active_rst(sk, GFP_ATOMIC);
			alttcp_done(sk);
			bh_unlock_sock(sk);
			local_bh_enable();
			/* A callback on another CPU may have queued the timer
			 * again as it was stopped; here we may wait for it.
			 */
			if (hrtimer_cancel(&alttcp_sk(sk)->timer))
				__sock_put(sk);
			sock_put(sk);
		}
	}
}

/* The connection is over: CLOSED. An orphan is destroyed here. */
void alttcp_done(struct sock *sk)
{
	alttcp_set_state(sk, TCP_CLOSE);
	alttcp_timer_stop(sk);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	if (!sock_flag(sk, SOCK_DEAD))
		sk->sk_state_change(sk);
	else
		alttcp_destroy(sk);
}

/* A reset or a timeout: the application sees err. */
void alttcp_reset(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, err);
	sk_error_report(sk);
	alttcp_done(sk);
}

void alttcp_enter_time_wait(struct sock *sk)
{
	alttcp_trace_state(sk, sk->sk_state, TCP_TIME_WAIT);
	alttcp_sk(sk)->time_wait = 1;
	alttcp_tw_create(sk);
	alttcp_done(sk);
}

static void alttcp_trace_rst_recv(const struct sock *sk,
				  const struct alttcp_skb_cb *cb)
{
	const struct inet_sock *inet = inet_sk(sk);

	trace_alttcp_rst_recv(inet->inet_saddr, inet->inet_sport,
			      inet->inet_daddr, inet->inet_dport, cb->seq,
			      cb->ack_seq);
}

/* RFC 9293 3.10.7.4 first check: is the segment in the receive window? */
static bool alttcp_seq_acceptable(const struct alttcp_sock *ask,
				  const struct alttcp_skb_cb *cb,
				  u32 seg_len)
{
	u32 wnd = ask->rcv_wnd - (ask->rcv_nxt - ask->rcv_wup);
	u32 end = ask->rcv_nxt + wnd;

	if ((s32)wnd <= 0)
		wnd = 0;
	if (!seg_len) {
		if (!wnd)
			return cb->seq == ask->rcv_nxt;
		return seq_geq(cb->seq, ask->rcv_nxt) && seq_before(cb->seq, end);
	}
	if (!wnd)
		return false;
	return (seq_geq(cb->seq, ask->rcv_nxt) && seq_before(cb->seq, end)) ||
	       (seq_geq(cb->seq + seg_len - 1, ask->rcv_nxt) &&
		seq_before(cb->seq + seg_len - 1, end));
}

/* The peer's SYN options: MSS, window scale (RFC 7323 2.2), timestamps
 * and SACK (RFC 2018 2), each when both sides offered it.
 */
void alttcp_apply_syn_options(struct sock *sk, const struct alttcp_skb_cb *cb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->peer_mss = cb->mss ? cb->mss : ALTTCP_MSS_DEFAULT;
	/* Timestamps when both SYNs carry them (RFC 7323 3.2). */
	ask->ts_ok = cb->saw_tstamp && alttcp_offer_timestamps(sk);
	ask->ts_recent = ask->ts_ok ? cb->tsval : 0;
	ask->sack_ok = cb->sack_perm && alttcp_offer_sack(sk);
	alttcp_sack_init(sk);
	ask->wscale_ok = cb->wscale != 0xff;
	if (ask->wscale_ok) {
		ask->snd_wscale = min_t(u8, cb->wscale, ALTTCP_MAX_WSCALE);
	} else {
		ask->snd_wscale = 0;
		ask->rcv_wscale = 0;
	}
	alttcp_mtup_init(sk);
	alttcp_sync_mss(sk);
	ask->cwnd = ALTTCP_INIT_CWND * ask->mss;
	ask->ssthresh = U32_MAX;
	alttcp_cong_init(sk);
}

/* An RTT sample from skb, if it was sent once only (Karn) and not
 * SACKed before: then it arrived long before this ACK.
 */
static bool alttcp_sample_acked(struct sock *sk, struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

	if (cb->retransmitted || (cb->sacked & ALTTCP_SKB_SACKED) ||
	    skb == alttcp_sk(sk)->send_head)
		return false;
	alttcp_rtt_sample(sk, alttcp_sk(sk)->now_us - cb->tx_us);
	return true;
}

/* Frees what the peer acknowledged, sent or (after go-back-N) not, and
 * trims the acknowledged front off an skb acknowledged in part.
 * Returns whether an unambiguous segment gave an RTT sample; *ts_floor
 * is the latest TSval a retransmitted one among them went out with,
 * *reord the lowest sequence number of those sent once and not SACKed.
 */
static bool alttcp_clean_acked(struct sock *sk, u32 ack, u32 tsecr,
			       u32 *ts_floor, u32 *reord)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;
	bool sampled = false;

	while ((skb = skb_peek(&sk->sk_write_queue))) {
		struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

		if (cb->retransmitted && seq_after(cb->tx_ts, *ts_floor))
			*ts_floor = cb->tx_ts;
		if (!cb->retransmitted && !(cb->sacked & ALTTCP_SKB_SACKED) &&
		    skb != ask->send_head && seq_before(cb->seq, *reord))
			*reord = cb->seq;
		if (seq_after(cb->end_seq, ack)) {
			/* A probe is one segment, acknowledged whole. */
			if (!seq_after(ack, cb->seq) ||
			    alttcp_mtup_is_probe(sk, skb))
				break;
			if (!sampled)
				sampled = alttcp_sample_acked(sk, skb);
			if (!(cb->sacked & ALTTCP_SKB_SACKED))
				alttcp_rack_delivered(sk, skb, tsecr);
			/* Under memory shortage it waits for its end. */
			alttcp_wq_trim_head(sk, skb, ack - cb->seq);
			break;
		}
		if (!sampled)
			sampled = alttcp_sample_acked(sk, skb);
		if (!(cb->sacked & ALTTCP_SKB_SACKED) && skb != ask->send_head)
			alttcp_rack_delivered(sk, skb, tsecr);
		if (cb->flags & TCPHDR_FIN)
			ask->fin_acked = 1;
		if (skb == ask->send_head)
			ask->send_head = skb_queue_is_last(&sk->sk_write_queue,
							   skb) ? NULL : skb->next;
		alttcp_sack_forget(sk, skb);
		__skb_unlink(skb, &sk->sk_write_queue);
		alttcp_wq_free(sk, skb);
	}
	return sampled;
}

/* Three duplicate ACKs: resend the oldest segment (RFC 5681 3.2). */
static void alttcp_fast_retransmit(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	alttcp_undo_begin(sk);
	ask->ssthresh = alttcp_cong_ssthresh(sk);
	ask->cwnd = ask->ssthresh + 3 * ask->mss;
	ask->recover = ask->snd_max;
	ask->in_recovery = true;
	alttcp_retransmit_head(sk);
}

/* Whether cwnd held the sender back lately (Linux's tcp_is_cwnd_limited()):
 * in slow start, while it is under twice the most in flight this window.
 */
bool alttcp_is_cwnd_limited(const struct alttcp_sock *ask)
{
	if (ask->cwnd < ask->ssthresh)
		return ask->cwnd < 2 * ask->max_flight;
	return ask->cwnd_limited;
}

/* New data acknowledged: deflate cwnd in recovery, or let it grow. */
static void alttcp_cwnd_on_ack(struct sock *sk, u32 acked)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->in_recovery) {
		if (seq_geq(ask->snd_una, ask->recover)) {
			/* Full ACK: recovery is over (RFC 6582 3.2 step 3). */
			ask->in_recovery = false;
			ask->cwnd = max(ask->ssthresh, ask->mss);
		} else {
			/* Partial ACK: the next hole, at once (step 4). */
			alttcp_retransmit_head(sk);
			ask->cwnd = ask->cwnd > acked ?
				    ask->cwnd - acked + ask->mss : ask->mss;
		}
		return;
	}
	alttcp_cong_on_ack(sk, acked, alttcp_is_cwnd_limited(ask));
}

/* Step five, for states past SYN-RECEIVED. Returns false to drop. */
static bool alttcp_process_ack(struct sock *sk, const struct sk_buff *skb,
			       u32 seg_len)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 wnd = (u32)cb->window << ask->snd_wscale;
	u32 prior_sacked = ask->sacked_out, acked = 0;
	/* The highest SACKed before this ACK's blocks (Linux's prior_fack). */
	u32 prior_high = ask->high_sacked;
	bool resized = false, dsack = false;
	/* One clock read for all this ACK times (Linux's tcp_mstamp). */
	u64 now_ns = ktime_get_ns();

	if (seq_after(cb->ack_seq, ask->snd_max)) {
		/* Acknowledges something not yet sent. */
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPACKUNSENT);
		alttcp_send_dupack(sk, skb, ALTTCP_MIB_ACKSKIPPEDSEQ);
		return false;
	}
	/* RFC 5961 5.2: older than any window the peer may have seen
	 * acknowledged, so not from the peer: a blind injection.
	 */
	if (seq_before(cb->ack_seq, ask->snd_una - ask->max_window)) {
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPOLDACK);
		alttcp_challenge_ack(sk);
		return false;
	}
	/* The peer answers: zero-window probes are not going unheard, and
	 * an ICMP error heard before (icmp.c) was not the last word.
	 */
	ask->probes_out = 0;
	WRITE_ONCE(sk->sk_err_soft, 0);
	ask->now_us = (u32)div_u64(now_ns, NSEC_PER_USEC);
	/* SACK blocks first: what they cover leaves the flight. */
	if (ask->sack_ok && cb->sack_off)
		dsack = alttcp_sack_rcv(sk, skb);
	if (seq_after(cb->ack_seq, ask->snd_una)) {
		u32 ts_floor = ask->iss_ts, reord = ask->snd_max;
		u32 echo_ms = (u32)div_u64(now_ns, NSEC_PER_MSEC) +
			      ask->ts_off - cb->tsecr;
		u32 prior_una = ask->snd_una;
		bool sampled;

		acked = cb->ack_seq - ask->snd_una;
		ask->snd_una = cb->ack_seq;
		ask->bytes_acked += acked;
		if (seq_after(ask->snd_una, ask->snd_nxt))
			ask->snd_nxt = ask->snd_una;
		sampled = alttcp_clean_acked(sk, cb->ack_seq,
					     cb->saw_tstamp ? cb->tsecr : 0,
					     &ts_floor, &reord);
		/* Sent once, below data SACKed before, now acknowledged:
		 * late. Data this ACK also SACKs says nothing: the ACKs
		 * for what it acknowledges may have been lost.
		 */
		if (ask->sack_ok && seq_after(prior_high, prior_una) &&
		    seq_before(reord, prior_high))
			alttcp_reorder_seen(sk, reord, false);
		alttcp_mtup_acked(sk);
		/* Only retransmitted data acknowledged: the echoed timestamp
		 * tells the round trip (RFC 7323 4.1), at 1 ms, if it echoes
		 * a segment sent no earlier than the last retransmission. An
		 * older echo (the peer updates what it echoes only on some
		 * segments) would count the whole recovery as one trip. An
		 * echo from the future wraps past rto_max_ms (below 2^31).
		 * An echo within the same millisecond counts as one, as in
		 * Linux's tcp_rtt_tsopt_us(): a zero would become RACK's
		 * minimum RTT and close its reordering window.
		 */
		if (!sampled && ask->ts_ok && cb->saw_tstamp &&
		    seq_geq(cb->tsecr, ts_floor) &&
		    echo_ms <= alttcp_param(sock_net(sk), rto_max_ms)) {
			alttcp_rtt_sample(sk, max(echo_ms, 1U) * USEC_PER_MSEC);
			sampled = true;
		}
		/* Progress after a timeout but no clean sample: the path
		 * delivers again, so the backoff goes (Karn's rule would keep
		 * it until a new segment is timed, which under heavy loss may
		 * never come). SRTT and RTTVAR stay as they were.
		 */
		if (!sampled && ask->retransmits)
			alttcp_rto_restore(sk);
		ask->retransmits = 0;
		ask->backoff = 0;
		ask->probes_stamp_ms = 0;
		ask->dupacks = 0;
		/* A reduction the echo shows needless goes (undo.c). */
		alttcp_undo_on_ack(sk, cb, acked, prior_una);
		if (ask->in_loss && seq_geq(ask->snd_una, ask->recover))
			ask->in_loss = 0;
		if (!ask->sack_ok)
			alttcp_cwnd_on_ack(sk, acked);
		alttcp_rearm_rto(sk);
		if (sk->sk_socket &&
		    test_bit(SOCK_NOSPACE, &sk->sk_socket->flags))
			alttcp_sndbuf_grow(sk);
		sk->sk_write_space(sk);
	} else if (cb->ack_seq == ask->snd_una && !seg_len &&
		   wnd == ask->snd_wnd && ask->snd_una != ask->snd_max) {
		/* A duplicate ACK (RFC 5681 2). */
		if (ask->dupacks < U8_MAX)
			ask->dupacks++;
		if (ask->dupacks == 3 && !ask->in_recovery &&
		    alttcp_mtup_lost(sk)) {
			alttcp_resend_resized(sk);	/* no congestion */
			resized = true;
		} else if (ask->sack_ok) {
			/* alttcp_sack_on_ack() below */
		} else if (ask->dupacks == min_t(u16, ask->reordering,
						 U8_MAX) &&
			   !ask->in_recovery &&
			   seq_geq(ask->snd_una, ask->recover)) {
			alttcp_fast_retransmit(sk);
		} else if (ask->in_recovery) {
			ask->cwnd = min(ask->cwnd + ask->mss,	/* one left */
					ALTTCP_CWND_MAX);
		}
	}
	/* With SACK, recovery follows the scoreboard (sack.c). */
	alttcp_tlp_ack(sk, cb->ack_seq, acked, dsack);
	if (ask->sack_ok && !resized)
		alttcp_sack_on_ack(sk, acked, prior_sacked);
	/* A probe for the new tail, if in order (tlp.c). */
	if (acked)
		alttcp_tlp_schedule(sk);
	/* What reached the peer: acknowledged, or SACKed, once each. */
	if ((s64)acked + ask->sacked_out > prior_sacked)
		alttcp_rate_on_ack(sk, acked + ask->sacked_out - prior_sacked);
	/* Window update (RFC 9293 3.10.7.4, fifth check). */
	if (seq_before(ask->snd_wl1, cb->seq) ||
	    (ask->snd_wl1 == cb->seq && seq_leq(ask->snd_wl2, cb->ack_seq))) {
		ask->snd_wnd = wnd;
		ask->snd_wl1 = cb->seq;
		ask->snd_wl2 = cb->ack_seq;
		ask->max_window = max(ask->max_window, wnd);
		/* The window opened for what waits: the push after this
		 * step sends it. A window still too small for it leaves the
		 * probing, its backoff and its start as they are (Linux's
		 * tcp_ack_probe()): a peer offering a few bytes at a time
		 * must not keep a connection past its user timeout, nor an
		 * orphan past its probes.
		 */
		if (wnd && alttcp_timer_pending(sk, ALTTCP_TIMER_PERSIST) &&
		    (!ask->send_head || alttcp_wnd_takes(sk, ask->send_head))) {
			alttcp_timer_clear(sk, ALTTCP_TIMER_PERSIST);
			ask->backoff = 0;
			ask->probes_stamp_ms = 0;
		}
	}
	trace_alttcp_cong(sk);
	return true;
}

/*
 * Step seven: the text. Queues payload in order, keeps what arrives early,
 * within the receive memory (mem.c). Returns true when the skb was taken
 * (queued, merged or freed), false when the caller still owns it; *refused
 * when memory refused it. A FIN that is next in sequence is left for step
 * eight (*fin_now).
 */
static bool alttcp_queue_data(struct sock *sk, struct sk_buff *skb,
			      bool *fin_now, bool *refused)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

	*fin_now = false;
	*refused = false;
	if (seq_after(cb->seq, ask->rcv_nxt)) {
		/* Out of order: keep it, ask for the gap now. */
		if (!alttcp_rmem_admit(sk, skb, false)) {
			alttcp_count_drop(sock_net(sk), skb,
					  ALTTCP_MIB_DROPOFOMEM);
			sk_drops_add(sk, skb);
			*refused = true;
			return false;
		}
		alttcp_ofo_insert(sk, skb);
		return true;
	}
	if (cb->seq != ask->rcv_nxt) {
		u32 skip = ask->rcv_nxt - cb->seq;

		alttcp_dsack_set(sk, cb->seq, ask->rcv_nxt);	/* RFC 2883 */

		if (!pskb_pull(skb, min(skip, skb->len)))
			return false;
		cb->seq = ask->rcv_nxt;
	}
	if (skb->len && !alttcp_rmem_admit(sk, skb, true)) {
		/* As Linux: no ACK; the peer sends it again. */
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPRCVBUF);
		sk_drops_add(sk, skb);
		*refused = true;
		return false;
	}
	ask->rcv_nxt = cb->end_seq;
	if (cb->flags & TCPHDR_FIN) {
		ask->rcv_nxt--;		/* step eight takes the FIN */
		cb->end_seq--;
		cb->flags &= ~TCPHDR_FIN;
		*fin_now = true;
	}
	if (!skb->len)
		return false;
	alttcp_rcvq_tail(sk, skb);
	if (!alttcp_ofo_empty(sk) && !*fin_now)
		*fin_now = alttcp_ofo_drain(sk);
	if (ask->num_sacks)
		alttcp_sack_rcv_nxt_moved(sk);
	sk->sk_data_ready(sk);
	return true;
}

/* Step eight: the peer's FIN. */
static void alttcp_process_fin(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->rcv_nxt++;
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | RCV_SHUTDOWN);
	sock_set_flag(sk, SOCK_DONE);
	switch (sk->sk_state) {
	case TCP_SYN_RECV:
	case TCP_ESTABLISHED:
		alttcp_set_state(sk, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT1:
		/* Our FIN not yet acknowledged: simultaneous close. */
		alttcp_set_state(sk, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT2:
		alttcp_send_ack(sk);
		alttcp_enter_time_wait(sk);
		return;
	default:
		break;
	}
	alttcp_send_ack(sk);
	if (!sock_flag(sk, SOCK_DEAD)) {
		sk->sk_state_change(sk);
		sk->sk_data_ready(sk);
	}
}

/*
 * The handshake's round trip, from our SYN or SYN-ACK (Karn: only if it
 * went once). After a retransmitted one, RFC 6298 5.7: data starts with an
 * RTO of 3 s, not the backed-off one.
 */
void alttcp_handshake_rtt(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->retransmits) {
		alttcp_rtt_sample(sk, (u32)ktime_to_us(ktime_get()) -
				  ask->syn_tx_us);
		return;
	}
	ask->rto_ms = clamp(ALTTCP_RTO_SYN_FALLBACK_MS,
			    alttcp_param(sock_net(sk), rto_min_ms),
			    alttcp_param(sock_net(sk), rto_max_ms));
}

/* SYN-SENT (RFC 9293 3.10.7.3). */
static void alttcp_rcv_syn_sent(struct sock *sk, struct sk_buff *skb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	bool ack = cb->flags & TCPHDR_ACK;

	if (ack && (seq_leq(cb->ack_seq, ask->iss) ||
		    seq_after(cb->ack_seq, ask->snd_nxt))) {
		alttcp_send_reset_reply(sock_net(sk), skb);
		goto drop;
	}
	if (cb->flags & TCPHDR_RST) {
		if (ack) {
			alttcp_trace_rst_recv(sk, cb);
			ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_ATTEMPTFAILS);
			alttcp_reset(sk, ECONNREFUSED);
		}
		goto drop;
	}
	if (!(cb->flags & TCPHDR_SYN))
		goto drop;

	ask->irs = cb->seq;
	ask->rcv_nxt = cb->seq + 1;
	ask->rcv_wup = ask->rcv_nxt;
	ask->copied_seq = ask->rcv_nxt;
	alttcp_apply_syn_options(sk, cb);
	ask->snd_wnd = cb->window;	/* never scaled in a SYN */
	ask->max_window = ask->snd_wnd;
	alttcp_init_send_marks(sk);
	alttcp_init_buffer_space(sk);
	ask->snd_wl1 = cb->seq;
	ask->snd_wl2 = cb->ack_seq;
	if (ack) {
		ask->snd_una = cb->ack_seq;
		alttcp_handshake_rtt(sk);
		ask->retransmits = 0;
		alttcp_timer_stop(sk);
		alttcp_set_state(sk, TCP_ESTABLISHED);
		ask->rcv_tstamp_ms = alttcp_now_ms();
		alttcp_keepalive_reset(sk);
		alttcp_send_ack(sk);
		sk->sk_state_change(sk);
		sk_wake_async(sk, SOCK_WAKE_IO, POLL_OUT);
		alttcp_push(sk);
	} else {
		/* Simultaneous open: SYN-SENT -> SYN-RECEIVED. */
		alttcp_set_state(sk, TCP_SYN_RECV);
		ask->retransmits = 0;
		alttcp_send_synack(sk);
		alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, ask->rto_ms);
	}
drop:
	kfree_skb(skb);
}

/* Every state from SYN-RECEIVED on (RFC 9293 3.10.7.4), in its order. */
void alttcp_rcv_segment(struct sock *sk, struct sk_buff *skb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	u32 seg_len = cb->end_seq - cb->seq;
	bool kept = false, fin_now = false;
	u32 data_len;

	switch (sk->sk_state) {
	case TCP_CLOSE:
		alttcp_send_reset_reply(sock_net(sk), skb);
		goto drop;
	case TCP_LISTEN:
		alttcp_listen_rcv(sk, skb);
		return;
	case TCP_SYN_SENT:
		alttcp_rcv_syn_sent(sk, skb);
		return;
	}

	/* The peer's SYN again in SYN-RECEIVED: it repeats our handshake's
	 * first number, so it comes before the sequence check. Without ACK
	 * our SYN-ACK was lost; with one (simultaneous open) it is the
	 * peer's SYN-ACK, and its ACK completes our handshake.
	 */
	if (sk->sk_state == TCP_SYN_RECV && (cb->flags & TCPHDR_SYN) &&
	    cb->seq == ask->irs) {
		if (!(cb->flags & TCPHDR_ACK)) {
			alttcp_send_synack(sk);
			goto drop;
		}
		cb->flags &= ~TCPHDR_SYN;
		cb->seq++;
		seg_len--;
	}

	/* PAWS (RFC 7323 5.3): an older timestamp is an old duplicate. */
	if (ask->ts_ok && cb->saw_tstamp && !(cb->flags & TCPHDR_RST) &&
	    (s32)(cb->tsval - ask->ts_recent) < 0) {
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPPAWS);
		alttcp_send_dupack(sk, skb, ALTTCP_MIB_ACKSKIPPEDPAWS);
		goto drop;
	}

	/* First: sequence number. */
	if (!alttcp_seq_acceptable(ask, cb, seg_len)) {
		alttcp_count_drop(sock_net(sk), skb,
				  ALTTCP_MIB_DROPOUTOFWINDOW);
		if (!(cb->flags & TCPHDR_RST))
			alttcp_send_dupack(sk, skb, ALTTCP_MIB_ACKSKIPPEDSEQ);
		goto drop;
	}

	/* The peer is alive: keepalive counts idle time from here. */
	ask->rcv_tstamp_ms = alttcp_now_ms();
	ask->ka_probes = 0;

	/* Second: RST. Only the exact next sequence number resets. */
	if (cb->flags & TCPHDR_RST) {
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_INRSTS);
		if (cb->seq != ask->rcv_nxt) {
			alttcp_challenge_ack(sk);
			goto drop;
		}
		alttcp_trace_rst_recv(sk, cb);
		if (sk->sk_state == TCP_SYN_RECV) {
			ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_ATTEMPTFAILS);
			alttcp_reset(sk, ECONNREFUSED);
		} else if ((1 << sk->sk_state) &
			   (TCPF_CLOSING | TCPF_LAST_ACK)) {
			alttcp_done(sk);
		} else {
			alttcp_reset(sk, sk->sk_state == TCP_CLOSE_WAIT ?
					 EPIPE : ECONNRESET);
		}
		goto drop;
	}

	/* Fourth: SYN in a synchronized state (RFC 5961 4.2). */
	if (cb->flags & TCPHDR_SYN) {
		alttcp_challenge_ack(sk);
		goto drop;
	}

	/* Fifth: ACK. */
	if (!(cb->flags & TCPHDR_ACK)) {
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPOTHER);
		goto drop;
	}
	if (sk->sk_state == TCP_SYN_RECV) {
		if (!seq_after(cb->ack_seq, ask->snd_una) ||
		    seq_after(cb->ack_seq, ask->snd_nxt)) {
			alttcp_send_reset_reply(sock_net(sk), skb);
			goto drop;
		}
		ask->snd_una = cb->ack_seq;
		ask->snd_wnd = (u32)cb->window << ask->snd_wscale;
		ask->max_window = ask->snd_wnd;
		alttcp_init_send_marks(sk);
		alttcp_init_buffer_space(sk);
		ask->snd_wl1 = cb->seq;
		ask->snd_wl2 = cb->ack_seq;
		alttcp_handshake_rtt(sk);
		ask->retransmits = 0;
		alttcp_timer_stop(sk);
		alttcp_set_state(sk, TCP_ESTABLISHED);
		alttcp_keepalive_reset(sk);
		sk->sk_state_change(sk);
	} else if (!alttcp_process_ack(sk, skb, skb->len)) {
		goto drop;
	}
	/* Accepted: the TSval to echo, of the segment our last ACK asked
	 * for (RFC 7323 4.3).
	 */
	if (ask->ts_ok && cb->saw_tstamp && seq_leq(cb->seq, ask->rcv_wup))
		ask->ts_recent = cb->tsval;

	switch (sk->sk_state) {
	case TCP_FIN_WAIT1:
		if (ask->fin_acked) {
			alttcp_set_state(sk, TCP_FIN_WAIT2);
			if (sock_flag(sk, SOCK_DEAD))
				alttcp_timer_arm(sk, ALTTCP_TIMER_FIN_WAIT2,
						 alttcp_param(sock_net(sk),
							      fin_timeout_ms));
			sk->sk_state_change(sk);
		}
		break;
	case TCP_CLOSING:
		if (ask->fin_acked) {
			alttcp_enter_time_wait(sk);
			goto drop;
		}
		break;
	case TCP_LAST_ACK:
		if (ask->fin_acked) {
			alttcp_done(sk);
			goto drop;
		}
		break;
	}

	/* Sixth: URG is not supported; the data is delivered inline. */

	/* Seventh: segment text. */
	if ((skb->len || (cb->flags & TCPHDR_FIN)) &&
	    ((1 << sk->sk_state) &
	     (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2))) {
		if (skb->len && sock_flag(sk, SOCK_DEAD) &&
		    (sk->sk_shutdown & RCV_SHUTDOWN)) {
			/* Data for a closed application: abort, as Linux. */
			alttcp_send_active_rst(sk, GFP_ATOMIC);
			alttcp_done(sk);
			goto drop;
		}
		bool gap = !alttcp_ofo_empty(sk) ||
			   seq_after(cb->seq, ask->rcv_nxt);
		u32 before = ask->rcv_nxt;
		bool refused;

		/* The largest segment seen, as Linux's rcv_mss: delayed
		 * ACKs count full-sized segments in it.
		 */
		data_len = skb->len;
		if (data_len)
			ask->lrcv_ms = ask->rcv_tstamp_ms ?: 1;
		if (data_len > ask->rcv_mss)
			ask->rcv_mss = min_t(u32, data_len, ask->adv_mss);
		if (data_len)
			alttcp_rcv_rtt_measure(sk, cb, data_len,
					       !seq_after(cb->seq, ask->rcv_nxt));
		kept = alttcp_queue_data(sk, skb, &fin_now, &refused);
		ask->bytes_received += ask->rcv_nxt - before;
		/* Out of order, or filling a gap: at once (RFC 5681 4.2);
		 * step eight acknowledges a FIN.
		 */
		if (data_len && !fin_now && !refused)
			alttcp_delack_or_ack(sk, gap);
	}

	/* Eighth: FIN, once everything before it has arrived. */
	if (fin_now)
		alttcp_process_fin(sk);
	alttcp_push(sk);
	if (kept)
		return;
drop:
	kfree_skb(skb);
}
