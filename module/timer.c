// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the connection timer and round-trip estimation.
 *
 * One hrtimer per connection, in softirq mode; timer_kind says what it
 * waits for. An armed timer holds a socket reference. The callback takes
 * bh_lock_sock(); when a process owns the socket it leaves a flag that
 * release_sock() handles through proto.release_cb. Arming and stopping
 * happen under the socket lock.
 */
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

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
	ask->timer_kind = ALTTCP_TIMER_NONE;
}

void alttcp_timer_arm(struct sock *sk, enum alttcp_timer_kind kind, u32 ms)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	int r;

	ask->timer_kind = kind;
	ask->timer_expires = ktime_add_ms(ktime_get(), ms);
	/*
	 * A queued timer holds one reference. Cancelled (1): reuse it. Idle
	 * (0): take one. Callback running (-1): it drops its own; take one
	 * unless the callback already queued the timer again. Only the lock
	 * holder arms, and a callback defers to a process owner, so "queued"
	 * cannot change under us here.
	 */
	r = hrtimer_try_to_cancel(&ask->timer);
	if (r == 0 || (r < 0 && !hrtimer_is_queued(&ask->timer)))
		sock_hold(sk);
	hrtimer_start(&ask->timer, ask->timer_expires, HRTIMER_MODE_ABS_SOFT);
}

void alttcp_timer_stop(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->timer_kind = ALTTCP_TIMER_NONE;
	if (hrtimer_try_to_cancel(&ask->timer) == 1)
		__sock_put(sk);
}

/* New data acknowledged: restart the RTO, or stop it when all is. */
void alttcp_rearm_rto(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (ask->snd_una == ask->snd_nxt)
		alttcp_timer_stop(sk);
	else
		alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, ask->rto_ms);
	/* No push here: the window update comes after; the caller pushes. */
}

/* RFC 6298 2.2 and 2.3; the clock granularity G is 1 ms here. */
void alttcp_rtt_sample(struct sock *sk, u32 rtt_us)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 rto;

	if ((s32)rtt_us < 0)
		return;
	if (!ask->srtt_us) {
		ask->srtt_us = max(rtt_us, 1U);
		ask->rttvar_us = rtt_us / 2;
	} else {
		u32 delta = abs((s32)(ask->srtt_us - rtt_us));

		ask->rttvar_us = (3 * ask->rttvar_us + delta) / 4;
		ask->srtt_us = (7 * ask->srtt_us + rtt_us) / 8;
	}
	rto = (ask->srtt_us + max(1000U, 4 * ask->rttvar_us)) / 1000;
	ask->rto_ms = clamp(rto, alttcp_param(sock_net(sk), rto_min_ms),
			    alttcp_param(sock_net(sk), rto_max_ms));
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
		return alttcp_param(net, retries);
	}
}

static void alttcp_retransmit_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN))
		return;
	if (ask->snd_una == ask->snd_nxt &&
	    !((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV))) {
		/* Nothing in flight; a closed window needs the persist timer. */
		alttcp_push(sk);
		return;
	}
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_RTOTIMEOUTS);
	if (ask->retransmits >= alttcp_retry_limit(sk)) {
		if (sk->sk_state == TCP_SYN_SENT)
			ALTTCP_INC_STATS(sock_net(sk),
					 ALTTCP_MIB_ATTEMPTFAILS);
		if (sk->sk_state != TCP_SYN_SENT)
			alttcp_send_active_rst(sk, GFP_ATOMIC);
		alttcp_reset(sk, ETIMEDOUT);
		return;
	}
	/* RFC 5681 (4): after a timeout, one segment and half the flight. */
	ask->ssthresh = max_t(u32, (ask->snd_nxt - ask->snd_una) / 2,
			      2 * ask->mss);
	ask->cwnd = ask->mss;
	ask->retransmits++;
	ask->rto_ms = min_t(u32, ask->rto_ms * 2,
			    alttcp_param(sock_net(sk), rto_max_ms));
	if ((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
		alttcp_retransmit_head(sk);
	} else {
		/* Everything in flight is presumed lost: go back to snd_una
		 * and resend in slow start (RFC 5681 3.1, RFC 6298 5.4).
		 */
		ask->in_recovery = false;
		ask->dupacks = 0;
		ask->snd_nxt = ask->snd_una;
		ask->send_head = skb_peek(&sk->sk_write_queue);
		alttcp_push(sk);
		/* push armed the timer: retransmit, or persist for a closed
		 * window, or retransmit again after a failed send.
		 */
		if (ask->timer_kind != ALTTCP_TIMER_NONE)
			return;
	}
	alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, ask->rto_ms);
}

static void alttcp_persist_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->send_head || ask->snd_una != ask->snd_nxt)
		return;
	alttcp_send_probe(sk);
	ask->backoff = min_t(u8, ask->backoff + 1, 10);
	alttcp_timer_arm(sk, ALTTCP_TIMER_PERSIST,
			 min_t(u32, ask->rto_ms << ask->backoff,
			       alttcp_param(sock_net(sk), rto_max_ms)));
}

/* The timer's work; socket locked, not owned by a process. */
void alttcp_handle_timer(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	enum alttcp_timer_kind kind = ask->timer_kind;

	/* Re-armed while this run waited for the lock: not due yet. */
	if (kind == ALTTCP_TIMER_NONE ||
	    ktime_before(ktime_get(), ask->timer_expires))
		return;
	ask->timer_kind = ALTTCP_TIMER_NONE;
	switch (kind) {
	case ALTTCP_TIMER_RETRANS:
		alttcp_retransmit_timer(sk);
		break;
	case ALTTCP_TIMER_PERSIST:
		alttcp_persist_timer(sk);
		break;
	case ALTTCP_TIMER_FIN_WAIT2:
		if (sk->sk_state == TCP_FIN_WAIT2) {
			alttcp_send_active_rst(sk, GFP_ATOMIC);
			alttcp_done(sk);
		}
		break;
	default:
		break;
	}
}

unsigned int alttcp_timer_remaining_ms(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	s64 ms;

	if (ask->timer_kind == ALTTCP_TIMER_NONE)
		return 0;
	ms = ktime_ms_delta(ask->timer_expires, ktime_get());
	return ms > 0 ? ms : 0;
}
