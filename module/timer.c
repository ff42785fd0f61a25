// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the connection timer and round-trip estimation.
 *
 * One hrtimer per connection, in softirq mode, set to the earliest of the
 * connection's deadlines (retransmit or persist, delayed ACK, keepalive,
 * FIN_WAIT_2; a listener's one: its requests' SYN-ACKs). An armed timer
 * holds a socket reference. The callback takes bh_lock_sock(); when a
 * process owns the socket it leaves a flag that release_sock() handles
 * through proto.release_cb. Arming and stopping happen under the socket
 * lock.
 */
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"
#include "trace.h"

static enum hrtimer_restart alttcp_timer_fn(struct hrtimer *t)
{
	struct alttcp_sock *ask = container_of(t, struct alttcp_sock, timer);
	struct sock *sk = &ask->inet.sk;

	bh_lock_sock(sk);
	if (!sock_owned_by_user(sk))
		alttcp_handle_timer(sk);
	else
		set_bit(ALTTCP_TIMER_DEFERRED, &ask->atomic_flags);
	bh_unlock_sock(sk);
	sock_put(sk);
	return HRTIMER_NORESTART;
}

void alttcp_timer_init(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	hrtimer_init(&ask->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	ask->timer.function = alttcp_timer_fn;
	ask->timers_pending = 0;
}

/* The earliest pending deadline, or NONE. */
static enum alttcp_timer_kind alttcp_timer_first(const struct alttcp_sock *ask)
{
	enum alttcp_timer_kind kind, first = ALTTCP_TIMER_NONE;
	u16 pending = READ_ONCE(ask->timers_pending);

	for (kind = ALTTCP_TIMER_RETRANS; kind < ALTTCP_TIMER_MAX; kind++) {
		if (!(pending & BIT(kind)))
			continue;
		if (first == ALTTCP_TIMER_NONE ||
		    ktime_before(ask->deadline[kind], ask->deadline[first]))
			first = kind;
	}
	return first;
}

/*
 * Sets the hrtimer to the earliest deadline. A queued timer holds one
 * reference. Cancelled (1): reuse it. Idle (0): take one. Callback running
 * (-1): it drops its own; take one unless the callback already queued the
 * timer again. Only the lock holder programs, and a callback defers to a
 * process owner, so "queued" cannot change under us here.
 */
static void alttcp_timer_program(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	enum alttcp_timer_kind first = alttcp_timer_first(ask);
	int r;

	if (first == ALTTCP_TIMER_NONE) {
		if (hrtimer_try_to_cancel(&ask->timer) == 1)
			__sock_put(sk);
		return;
	}
	/* Set earlier already: it fires early and programs again then. */
	if (hrtimer_is_queued(&ask->timer) &&
	    !ktime_after(ask->timer_expires, ask->deadline[first]))
		return;
	ask->timer_expires = ask->deadline[first];
	r = hrtimer_try_to_cancel(&ask->timer);
	if (r == 0 || (r < 0 && !hrtimer_is_queued(&ask->timer)))
		sock_hold(sk);
	hrtimer_start(&ask->timer, ask->timer_expires, HRTIMER_MODE_ABS_SOFT);
}

/*
 * The deadline ms from now. It counts from the timekeeper's last tick,
 * read without the clock hardware (which in a virtual machine may trap
 * to the host, several times a segment otherwise), plus one tick so as
 * never to come early: the precision of Linux's jiffy-based TCP timers.
 */
static ktime_t alttcp_deadline(u32 ms)
{
	return ktime_add_ms(ktime_get_coarse(), (u64)ms + jiffies_to_msecs(1));
}

void alttcp_timer_arm(struct sock *sk, enum alttcp_timer_kind kind, u32 ms)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u16 pending = ask->timers_pending;

	if (kind == ALTTCP_TIMER_RETRANS)
		pending &= ~BIT(ALTTCP_TIMER_PERSIST);
	else if (kind == ALTTCP_TIMER_PERSIST)
		pending &= ~BIT(ALTTCP_TIMER_RETRANS);
	ask->deadline[kind] = alttcp_deadline(ms);
	WRITE_ONCE(ask->timers_pending, pending | BIT(kind));
	alttcp_timer_program(sk);
}

/* Forgets one deadline; the hrtimer may fire for nothing, and re-programs. */
void alttcp_timer_clear(struct sock *sk, enum alttcp_timer_kind kind)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!(ask->timers_pending & BIT(kind)))
		return;
	WRITE_ONCE(ask->timers_pending, ask->timers_pending & ~BIT(kind));
	if (!ask->timers_pending)
		alttcp_timer_program(sk);
}

void alttcp_timer_stop(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	WRITE_ONCE(ask->timers_pending, 0);
	if (hrtimer_try_to_cancel(&ask->timer) == 1)
		__sock_put(sk);
}

/* New data acknowledged: restart the RTO, or stop it when all is. */
void alttcp_rearm_rto(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->snd_una == ask->snd_nxt)
		alttcp_timer_clear(sk, ALTTCP_TIMER_RETRANS);
	else
		alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, ask->rto_ms);
	/* No push here: the window update comes after; the caller pushes. */
}

/* RFC 6298 2.2 and 2.3; the clock granularity G is 1 ms here. */
void alttcp_rtt_sample(struct sock *sk, u32 rtt_us)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if ((s32)rtt_us < 0)
		return;
	alttcp_rack_rtt_sample(sk, rtt_us);
	if (!ask->srtt_us) {
		ask->srtt_us = max(rtt_us, 1U);
		ask->rttvar_us = rtt_us / 2;
	} else {
		u32 delta = abs((s32)(ask->srtt_us - rtt_us));

		ask->rttvar_us = (3 * ask->rttvar_us + delta) / 4;
		ask->srtt_us = (7 * ask->srtt_us + rtt_us) / 8;
	}
	alttcp_rto_restore(sk);
	alttcp_update_pacing_rate(sk);
	alttcp_cong_rtt_sample(sk, rtt_us);
}

/* RTO from SRTT and RTTVAR, without backoff; the initial 1 s before any
 * sample. rto_min bounds the variance term, as in Linux's tcp_set_rto()
 * (RFC 6298's K * RTTVAR with Linux's floor), not the sum: a path with
 * a long SRTT still gets rto_min of slack.
 */
void alttcp_rto_restore(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 min_ms = alttcp_param(sock_net(sk), rto_min_ms);
	u32 rto = ALTTCP_RTO_INIT_MS;

	if (ask->srtt_us)
		rto = (ask->srtt_us +
		       max(min_ms * USEC_PER_MSEC, 4 * ask->rttvar_us)) /
		      USEC_PER_MSEC;
	ask->rto_ms = clamp(rto, min_ms,
			    alttcp_param(sock_net(sk), rto_max_ms));
}

/*
 * How often a closed connection (an orphan) retransmits or probes: as
 * Linux's tcp_orphan_retries(), orphan_retries, or 8 when it is 0 and the
 * peer still seems alive (the backed-off timeout below rto_max_ms).
 */
static u32 alttcp_orphan_retries(const struct sock *sk, bool alive)
{
	u32 retries = alttcp_param(sock_net(sk), orphan_retries);

	return !retries && alive ? 8 : retries;
}

static u32 alttcp_retry_limit(const struct sock *sk)
{
	struct net *net = sock_net(sk);

	switch (sk->sk_state) {
	case TCP_SYN_SENT:
		return alttcp_param(net, syn_retries);
	case TCP_SYN_RECV:
		return alttcp_param(net, synack_retries);
	default:
		if (sock_flag(sk, SOCK_DEAD))
			return alttcp_orphan_retries(sk, alttcp_sk(sk)->rto_ms <
						     alttcp_param(net, rto_max_ms));
		return alttcp_param(net, retries);
	}
}

/* An orphan over the namespace's cap is reset (Linux: out of resources). */
static bool alttcp_orphan_reset(struct sock *sk)
{
	if (!sock_flag(sk, SOCK_DEAD) || !alttcp_too_many_orphans(sk))
		return false;
	alttcp_send_active_rst(sk, GFP_ATOMIC);
	alttcp_done(sk);
	return true;
}

/* When what is being retransmitted first went out, on the ms clock. */
static u32 alttcp_first_tx_ms(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	const struct sk_buff *skb = skb_peek(&sk->sk_write_queue);
	u32 sent_us = ask->syn_tx_us;

	if (!((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) && skb)
		sent_us = ALTTCP_SKB_CB(skb)->tx_us;
	return alttcp_now_ms() -
	       ((u32)ktime_to_us(ktime_get()) - sent_us) / USEC_PER_MSEC;
}

/* TCP_USER_TIMEOUT (RFC 5482): ms left since stamp, or U32_MAX if unset. */
static u32 alttcp_user_timeout_left(const struct sock *sk, u32 stamp_ms)
{
	u32 limit = READ_ONCE(alttcp_sk(sk)->user_timeout_ms);
	u32 elapsed = alttcp_now_ms() - stamp_ms;

	if (!limit)
		return U32_MAX;
	return elapsed < limit ? limit - elapsed : 0;
}

/* Retransmitted for too long: the retry count, or the user's timeout
 * counted from the first send of the oldest segment (as Linux, only once
 * it has been retransmitted).
 */
static bool alttcp_retransmits_expired(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->retransmits >= alttcp_retry_limit(sk))
		return true;
	return ask->retransmits &&
	       !alttcp_user_timeout_left(sk, ask->retrans_stamp_ms);
}

/* Given up: the error the user sees is the last ICMP error heard, if
 * any (sk_err_soft, icmp.c), as Linux's tcp_write_err().
 */
static void alttcp_timeout_reset(struct sock *sk)
{
	alttcp_reset(sk, READ_ONCE(sk->sk_err_soft) ?: ETIMEDOUT);
}

static void alttcp_retransmit_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 left;

	if ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN))
		return;
	if (ask->snd_una == ask->snd_nxt &&
	    !((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV))) {
		/* Nothing in flight; a closed window needs the persist timer. */
		alttcp_push(sk);
		return;
	}
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_RTOTIMEOUTS);
	/* The probe, if one was out, did not help. */
	ask->tlp_out = 0;
	alttcp_timer_clear(sk, ALTTCP_TIMER_LOSS_PROBE);
	if (alttcp_orphan_reset(sk))
		return;
	if (alttcp_retransmits_expired(sk)) {
		if (sock_flag(sk, SOCK_DEAD))
			ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_ORPHANDROPS);
		if (sk->sk_state == TCP_SYN_SENT)
			ALTTCP_INC_STATS(sock_net(sk),
					 ALTTCP_MIB_ATTEMPTFAILS);
		if (sk->sk_state != TCP_SYN_SENT)
			alttcp_send_active_rst(sk, GFP_ATOMIC);
		alttcp_timeout_reset(sk);
		return;
	}
	/* A lost MTU probe: the path is narrower, and the oldest
	 * segment goes again cut to the MSS (alttcp_retransmit_head()).
	 */
	alttcp_mtup_lost(sk);
	/* Segments too large for a path that sends no ICMP (RFC 4821). */
	if (ask->retransmits >= ALTTCP_RETRIES1 &&
	    !((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)))
		alttcp_mtu_probing(sk);
	/* RFC 5681 (4): after a timeout, one segment; ssthresh as after
	 * any loss, once for a run of timeouts (Linux too).
	 */
	if (!ask->retransmits) {
		alttcp_undo_begin(sk);
		ask->ssthresh = alttcp_cong_ssthresh(sk);
	}
	ask->cwnd = ask->mss;
	if (!ask->retransmits)
		ask->retrans_stamp_ms = alttcp_first_tx_ms(sk);
	ask->retransmits++;
	ask->rto_ms = min_t(u32, ask->rto_ms * 2,
			    alttcp_param(sock_net(sk), rto_max_ms));
	trace_alttcp_cong(sk);
	/* The next timeout comes no later than the user's (Linux too). */
	left = max(alttcp_user_timeout_left(sk, ask->retrans_stamp_ms), 1U);
	if ((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
		alttcp_retransmit_head(sk);
	} else {
		/* Everything in flight is presumed lost: go back to snd_una
		 * and resend in slow start (RFC 5681 3.1, RFC 6298 5.4),
		 * with SACK only what the peer did not report.
		 */
		ask->in_recovery = false;
		ask->in_loss = 1;
		ask->dupacks = 0;
		/* Duplicate ACKs for what went before are no new loss
		 * (RFC 6582 4.2): fast retransmit waits for an ACK past it.
		 */
		ask->recover = ask->snd_max;
		if (ask->sack_ok) {
			alttcp_sack_enter_loss(sk);
		} else {
			ask->snd_nxt = ask->snd_una;
			ask->send_head = skb_peek(&sk->sk_write_queue);
		}
		alttcp_push(sk);
		/* push armed the timer: retransmit, or persist for a closed
		 * window, or retransmit again after a failed send.
		 */
		if (ask->timers_pending & BIT(ALTTCP_TIMER_PERSIST))
			return;
		if ((ask->timers_pending & BIT(ALTTCP_TIMER_RETRANS)) &&
		    left >= ask->rto_ms)
			return;
	}
	alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, min(ask->rto_ms, left));
}

/*
 * Zero-window probing ends (ETIMEDOUT) after `retries` probes in a row
 * went unanswered, as Linux's tcp_probe_timer(); an orphan also once the
 * probe interval reaches rto_max_ms and orphan_retries probes were sent,
 * whether answered or not: a peer that keeps its window closed cannot
 * keep a closed connection alive.
 */
static bool alttcp_probes_expired(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 rto_max = alttcp_param(sock_net(sk), rto_max_ms);
	u32 max_probes = alttcp_param(sock_net(sk), retries);

	if (sock_flag(sk, SOCK_DEAD)) {
		bool alive = ((u64)ask->rto_ms << ask->backoff) < rto_max;

		max_probes = alttcp_orphan_retries(sk, alive);
		if (!alive && ask->backoff >= max_probes)
			return true;
	}
	return ask->probes_out >= max_probes;
}

/*
 * The window is open and data waits only for Nagle or a cork, or for a
 * window of a whole segment: send it, or as much as the window takes,
 * marked PSH, rather than probe (Linux's tcp_write_wakeup()).
 */
static bool alttcp_send_held(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *tail = skb_peek_tail(&sk->sk_write_queue);
	struct sk_buff *head = ask->send_head;
	u32 seq = ALTTCP_SKB_CB(head)->seq;
	u32 room = ask->snd_una + ask->snd_wnd - seq;

	if (!seq_before(seq, ask->snd_una + ask->snd_wnd))
		return false;
	if (!alttcp_wnd_takes(sk, head) &&
	    alttcp_wq_split(sk, head, min(room, ask->mss)))
		return false;
	ALTTCP_SKB_CB(head)->flags |= TCPHDR_PSH;
	ALTTCP_SKB_CB(tail)->flags |= TCPHDR_PSH;
	__alttcp_push(sk, ALTTCP_PUSH_FORCE);
	return true;
}

static void alttcp_persist_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 left;

	if (!ask->send_head || ask->snd_una != ask->snd_nxt)
		return;
	if (alttcp_send_held(sk))
		return;
	if (alttcp_orphan_reset(sk))
		return;
	if (alttcp_probes_expired(sk)) {
		if (sock_flag(sk, SOCK_DEAD))
			ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_ORPHANDROPS);
		alttcp_timeout_reset(sk);
		return;
	}
	/* TCP_USER_TIMEOUT bounds how long data waits for a closed window,
	 * however alive the peer is (as Linux's icsk_probes_tstamp).
	 */
	if (!ask->probes_stamp_ms)
		ask->probes_stamp_ms = alttcp_now_ms() ?: 1;
	left = alttcp_user_timeout_left(sk, ask->probes_stamp_ms);
	if (!left) {
		alttcp_timeout_reset(sk);
		return;
	}
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_PERSISTPROBES);
	alttcp_send_probe(sk);
	ask->probes_out = min_t(u32, ask->probes_out + 1, U8_MAX);
	ask->backoff = min_t(u8, ask->backoff + 1, 10);
	alttcp_timer_arm(sk, ALTTCP_TIMER_PERSIST,
			 min3(ask->rto_ms << ask->backoff,
			      alttcp_param(sock_net(sk), rto_max_ms), left));
}

/* The delayed-ACK time: Linux's minimum, longer on a slow path, never
 * past the maximum.
 */
static u32 alttcp_delack_ms(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	u32 ms = max(ALTTCP_DELACK_MIN_MS, ask->srtt_us / 1000);

	return min(ms, alttcp_param(sock_net(sk), delack_max_ms));
}

/*
 * Data is being sent at now_ms. When it answers data that came within the
 * delayed-ACK time, the connection is interactive (Linux's pingpong
 * mode, tcp_event_data_sent()): quick ACKs stop, and the ACK of a
 * request waits to ride on its response instead of going alone.
 */
void alttcp_pingpong_on_send(struct sock *sk, u32 now_ms)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->lrcv_ms && now_ms - ask->lrcv_ms < alttcp_delack_ms(sk))
		ask->pingpong = 1;
}

/* Acknowledges received data now, or within the delayed-ACK time. */
void alttcp_delack_or_ack(struct sock *sk, bool now)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	bool quick = ask->quickacks && !ask->pingpong;

	/* RFC 5681 4.2: at least every second full-sized segment. */
	if (now || quick || ask->rcv_nxt - ask->rcv_wup >= 2 * ask->rcv_mss) {
		if (quick)
			ask->quickacks--;
		alttcp_send_ack(sk);
		return;
	}
	if (alttcp_timer_pending(sk, ALTTCP_TIMER_DELACK))
		return;
	alttcp_timer_arm(sk, ALTTCP_TIMER_DELACK, alttcp_delack_ms(sk));
}

/* No answer came to carry the ACK: it goes alone, and the connection is
 * not interactive after all (Linux's tcp_delack_timer_handler()).
 */
static void alttcp_delack_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->rcv_nxt != ask->rcv_wup &&
	    !((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN))) {
		ask->pingpong = 0;
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_DELAYEDACKS);
		alttcp_send_ack(sk);
	}
}

static u32 alttcp_keepidle_ms(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	struct net *net = sock_net(sk);

	if (ask->keepidle_s)
		return ask->keepidle_s * MSEC_PER_SEC;
	return jiffies_to_msecs(READ_ONCE(net->ipv4.sysctl_tcp_keepalive_time));
}

static u32 alttcp_keepintvl_ms(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	struct net *net = sock_net(sk);

	if (ask->keepintvl_s)
		return ask->keepintvl_s * MSEC_PER_SEC;
	return jiffies_to_msecs(READ_ONCE(net->ipv4.sysctl_tcp_keepalive_intvl));
}

static u32 alttcp_keepcnt(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->keepcnt)
		return ask->keepcnt;
	return READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_keepalive_probes);
}

#define ALTTCP_KEEPALIVE_STATES \
	(TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | \
	 TCPF_FIN_WAIT2 | TCPF_CLOSING | TCPF_LAST_ACK)

/* (Re)starts the idle count: SO_KEEPALIVE set, TCP_KEEPIDLE changed, or
 * the connection established. Socket locked.
 */
void alttcp_keepalive_reset(struct sock *sk)
{
	if (!sock_flag(sk, SOCK_KEEPOPEN) ||
	    !((1 << sk->sk_state) & ALTTCP_KEEPALIVE_STATES)) {
		alttcp_timer_clear(sk, ALTTCP_TIMER_KEEPALIVE);
		return;
	}
	alttcp_sk(sk)->ka_probes = 0;
	alttcp_timer_arm(sk, ALTTCP_TIMER_KEEPALIVE, alttcp_keepidle_ms(sk));
}

/* proto.keepalive: SO_KEEPALIVE, under lock_sock(). As Linux, setting
 * it again while on changes nothing (probes already sent still count).
 */
void alttcp_set_keepalive(struct sock *sk, int on)
{
	bool was = sock_flag(sk, SOCK_KEEPOPEN);

	if (on && !was) {
		sock_set_flag(sk, SOCK_KEEPOPEN);
		alttcp_keepalive_reset(sk);
	} else if (!on && was) {
		sock_reset_flag(sk, SOCK_KEEPOPEN);
		alttcp_timer_clear(sk, ALTTCP_TIMER_KEEPALIVE);
	}
}

/* TCP_KEEPIDLE changed: the next probe is due keepidle after the last
 * segment from the peer; probes already sent still count.
 */
void alttcp_keepalive_idle_changed(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 idle = alttcp_now_ms() - ask->rcv_tstamp_ms;
	u32 keepidle = alttcp_keepidle_ms(sk);

	if (!sock_flag(sk, SOCK_KEEPOPEN) ||
	    !((1 << sk->sk_state) & ALTTCP_KEEPALIVE_STATES) || ask->ka_probes)
		return;
	alttcp_timer_arm(sk, ALTTCP_TIMER_KEEPALIVE,
			 idle < keepidle ? keepidle - idle : 0);
}

/*
 * Idle for keepidle: probe every keepintvl; after keepcnt probes without
 * an answer the peer is dead (ETIMEDOUT). Data in flight is the
 * retransmission timer's business.
 */
static void alttcp_keepalive_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 idle, keepidle = alttcp_keepidle_ms(sk);

	if (!sock_flag(sk, SOCK_KEEPOPEN) ||
	    !((1 << sk->sk_state) & ALTTCP_KEEPALIVE_STATES))
		return;
	if (ask->snd_una != ask->snd_nxt || ask->send_head) {
		alttcp_timer_arm(sk, ALTTCP_TIMER_KEEPALIVE, keepidle);
		return;
	}
	idle = alttcp_now_ms() - ask->rcv_tstamp_ms;
	if (idle < keepidle && !ask->ka_probes) {
		alttcp_timer_arm(sk, ALTTCP_TIMER_KEEPALIVE, keepidle - idle);
		return;
	}
	/* With TCP_USER_TIMEOUT, it and not the count decides (as Linux). */
	if (ask->user_timeout_ms ?
	    (ask->ka_probes && idle >= ask->user_timeout_ms) :
	    ask->ka_probes >= alttcp_keepcnt(sk)) {
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_KEEPALIVETIMEOUTS);
		alttcp_send_active_rst(sk, GFP_ATOMIC);
		alttcp_timeout_reset(sk);
		return;
	}
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_KEEPALIVEPROBES);
	alttcp_send_probe(sk);
	ask->ka_probes++;
	alttcp_timer_arm(sk, ALTTCP_TIMER_KEEPALIVE, alttcp_keepintvl_ms(sk));
}

static void alttcp_run_timer(struct sock *sk, enum alttcp_timer_kind kind)
{
	switch (kind) {
	case ALTTCP_TIMER_RETRANS:
		alttcp_retransmit_timer(sk);
		break;
	case ALTTCP_TIMER_PERSIST:
		alttcp_persist_timer(sk);
		break;
	case ALTTCP_TIMER_DELACK:
		alttcp_delack_timer(sk);
		break;
	case ALTTCP_TIMER_KEEPALIVE:
		alttcp_keepalive_timer(sk);
		break;
	case ALTTCP_TIMER_SYNACK:
		alttcp_request_timer(sk);
		break;
	case ALTTCP_TIMER_LOSS_PROBE:
		alttcp_tlp_timer(sk);
		break;
	case ALTTCP_TIMER_REORDER:
		alttcp_rack_timer(sk);
		break;
	case ALTTCP_TIMER_FIN_WAIT2:
		if (sk->sk_state == TCP_FIN_WAIT2) {
			ALTTCP_INC_STATS(sock_net(sk),
					 ALTTCP_MIB_FINWAIT2TIMEOUTS);
			alttcp_send_active_rst(sk, GFP_ATOMIC);
			alttcp_done(sk);
		}
		break;
	default:
		break;
	}
}

/* The timer's work; socket locked, not owned by a process. */
void alttcp_handle_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	ktime_t now = ktime_get();
	enum alttcp_timer_kind kind;

	/* Each due deadline once; a handler may arm, clear or stop others. */
	for (kind = ALTTCP_TIMER_RETRANS; kind < ALTTCP_TIMER_MAX; kind++) {
		if (!(ask->timers_pending & BIT(kind)) ||
		    ktime_before(now, ask->deadline[kind]))
			continue;
		WRITE_ONCE(ask->timers_pending,
			   ask->timers_pending & ~BIT(kind));
		alttcp_run_timer(sk, kind);
	}
	alttcp_timer_program(sk);
}

/* The next deadline and the milliseconds left; lockless, for procfs. */
enum alttcp_timer_kind alttcp_timer_next(const struct sock *sk,
					 unsigned int *ms)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	enum alttcp_timer_kind kind = alttcp_timer_first(ask);
	s64 left;

	*ms = 0;
	if (kind == ALTTCP_TIMER_NONE)
		return kind;
	left = ktime_ms_delta(ask->deadline[kind], ktime_get());
	*ms = left > 0 ? left : 0;
	return kind;
}
