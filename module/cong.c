// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: congestion control, how cwnd grows and how far it falls.
 *
 * Two algorithms, chosen per socket with TCP_CONGESTION and per namespace
 * with net.alttcp.congestion_control (Linux's names, "cubic" the default):
 *
 * - reno: RFC 5681 slow start (RFC 3465's byte counting with no limit L,
 *   as Linux) and congestion avoidance, half cwnd on loss (Linux's,
 *   where RFC 5681 halves the flight).
 * - cubic: RFC 9438. After a loss cwnd follows W(t) = C (t - K)^3 + W_max
 *   (C = 0.4 segments/s^3), where K is when it is back at W_max; it falls
 *   to beta = 0.7 of itself, with fast convergence, and never grows
 *   slower than a Reno flow would (W_est). Its first slow start leaves
 *   early when the round trip grows (HyStart++, RFC 9406).
 *
 * cwnd and ssthresh are bytes (alttcp_sock); W_max, the origin and W_est
 * too, so no rounding to segments is needed. Times are ms. All runs under
 * the socket's lock, from the ACK path and the timers.
 */
#include <linux/math64.h>
#include <net/tcp.h>

#include "alttcp.h"

#define ALTTCP_CUBIC_BETA	717	/* 0.7, / 1024 */
#define ALTTCP_CUBIC_ALPHA	542	/* 3 (1 - beta) / (1 + beta), / 1024 */
#define ALTTCP_CUBIC_FAST_CONV	870	/* (1 + beta) / 2, / 1024 */
#define ALTTCP_CUBIC_T_MAX_MS	BIT(17)	/* |t - K| beyond: cwnd grows anyway */

/* HyStart++ (RFC 9406 4.3) */
#define ALTTCP_HSPP_MIN_RTT_THRESH_US	4000
#define ALTTCP_HSPP_MAX_RTT_THRESH_US	16000
#define ALTTCP_HSPP_MIN_RTT_DIVISOR	8
#define ALTTCP_HSPP_N_RTT_SAMPLE	8
#define ALTTCP_HSPP_CSS_GROWTH_DIVISOR	4
#define ALTTCP_HSPP_CSS_ROUNDS		5

static const char *const alttcp_cong_names[] = {
	[ALTTCP_CA_RENO] = "reno",
	[ALTTCP_CA_CUBIC] = "cubic",
};

const char *alttcp_cong_name(unsigned int ca)
{
	return alttcp_cong_names[ca < ARRAY_SIZE(alttcp_cong_names) ? ca : 0];
}

/* The algorithm of that name, or Linux's -ENOENT. */
int alttcp_cong_find(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(alttcp_cong_names); i++)
		if (!strcmp(name, alttcp_cong_names[i]))
			return i;
	return -ENOENT;
}

static void alttcp_hystart_reset_round(struct alttcp_sock *ask)
{
	struct alttcp_cubic *c = &ask->cubic;

	c->round_end = ask->snd_nxt;
	c->last_min_rtt_us = c->cur_min_rtt_us;
	c->cur_min_rtt_us = U32_MAX;
	c->rtt_samples = 0;
}

/* Each connection starts afresh, in slow start (from SYN or SYN-ACK). */
void alttcp_cong_init(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	memset(&ask->cubic, 0, sizeof(ask->cubic));
	ask->cubic.cur_min_rtt_us = U32_MAX;
	ask->cubic.hystart = ALTTCP_HSPP_SS;
	alttcp_hystart_reset_round(ask);
}

/* Switching algorithm mid-connection keeps cwnd and ssthresh. */
int alttcp_cong_set(struct sock *sk, const char *name)
{
	int ca = alttcp_cong_find(name);

	if (ca < 0)
		return ca;
	alttcp_sk(sk)->ca = ca;
	alttcp_sk(sk)->cubic.epoch_ms = 0;
	return 0;
}

/* An integer cube root, rounded down (Newton's method from above). */
static u64 alttcp_cbrt(u64 x)
{
	u64 r, next;

	if (x < 2)
		return x;
	r = 1ULL << ((fls64(x) + 2) / 3);	/* >= cbrt(x) */
	for (;;) {
		next = (2 * r + div64_u64(x, r * r)) / 3;
		if (next >= r)
			return r;
		r = next;
	}
}

/*
 * HyStart++ (RFC 9406), on each RTT sample of the first slow start: a
 * round's least RTT well above the last round's moves to Conservative
 * Slow Start; CSS_ROUNDS rounds of it end slow start where it is, and a
 * least RTT back below the baseline resumes slow start (jitter).
 */
void alttcp_cong_rtt_sample(struct sock *sk, u32 rtt_us)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_cubic *c = &ask->cubic;
	u32 thresh;

	if (ask->ca != ALTTCP_CA_CUBIC || c->hystart == ALTTCP_HSPP_DONE ||
	    ask->ssthresh != U32_MAX)
		return;
	c->cur_min_rtt_us = min(c->cur_min_rtt_us, rtt_us);
	if (c->rtt_samples < U8_MAX)
		c->rtt_samples++;
	if (c->rtt_samples < ALTTCP_HSPP_N_RTT_SAMPLE ||
	    c->last_min_rtt_us == U32_MAX)
		return;
	if (c->hystart == ALTTCP_HSPP_SS) {
		thresh = clamp(c->last_min_rtt_us / ALTTCP_HSPP_MIN_RTT_DIVISOR,
			       (u32)ALTTCP_HSPP_MIN_RTT_THRESH_US,
			       (u32)ALTTCP_HSPP_MAX_RTT_THRESH_US);
		if (c->cur_min_rtt_us >= c->last_min_rtt_us + thresh) {
			c->css_base_rtt_us = c->cur_min_rtt_us;
			c->css_rounds = 0;
			c->hystart = ALTTCP_HSPP_CSS;
		}
	} else if (c->cur_min_rtt_us < c->css_base_rtt_us) {
		c->hystart = ALTTCP_HSPP_SS;
	}
}

/* A round ends when what was sent at its start is acknowledged. */
static void alttcp_hystart_on_ack(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_cubic *c = &ask->cubic;

	if (c->hystart == ALTTCP_HSPP_DONE ||
	    seq_before(ask->snd_una, c->round_end))
		return;
	if (c->hystart == ALTTCP_HSPP_CSS &&
	    ++c->css_rounds >= ALTTCP_HSPP_CSS_ROUNDS) {
		ask->ssthresh = max(ask->cwnd, 2 * ask->mss);
		c->hystart = ALTTCP_HSPP_DONE;
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_HYSTARTEXIT);
		return;
	}
	alttcp_hystart_reset_round(ask);
}

/*
 * RFC 9438 4.2-4.3: the window the cubic curve gives one RTT from now,
 * no more than half as much again as cwnd, or W_est when a Reno flow
 * would be ahead. Bytes.
 */
static u32 alttcp_cubic_target(struct sock *sk, u32 acked)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_cubic *c = &ask->cubic;
	u32 now = alttcp_now_ms();
	u64 d, off, target;
	s64 t;

	if (!c->epoch_ms) {
		c->epoch_ms = now ?: 1;
		c->w_est = ask->cwnd;
		if (ask->cwnd < c->w_max) {
			/* K = cbrt((W_max - cwnd) / C), segments and s. */
			u64 segs1k = div_u64((u64)(c->w_max - ask->cwnd) << 10,
					     ask->mss);

			c->k_ms = alttcp_cbrt(div_u64(segs1k * 2500000000ULL,
						      1024));
			c->origin = c->w_max;
		} else {
			c->k_ms = 0;
			c->origin = ask->cwnd;
		}
	}
	t = (s32)(now - c->epoch_ms) + ask->srtt_us / USEC_PER_MSEC -
	    c->k_ms;
	d = min_t(u64, abs(t), ALTTCP_CUBIC_T_MAX_MS);
	/* C d^3 segments (C = 0.4, d in ms), in bytes. */
	off = div64_u64(d * d * d * 4 * 1024, 10000000000ULL) * ask->mss >> 10;
	target = t < 0 ? (off < c->origin ? c->origin - off : 0) :
		 c->origin + off;
	target = clamp_t(u64, target, ask->cwnd, ask->cwnd + ask->cwnd / 2);

	/* Reno-friendly region (4.3): alpha segments an RTT, one once
	 * past the last W_max.
	 */
	c->w_est += div_u64((u64)(c->w_est >= c->w_max ? 1024 :
				  ALTTCP_CUBIC_ALPHA) * acked * ask->mss,
			    (u64)ask->cwnd * 1024);
	return max_t(u64, target, c->w_est);
}

static void alttcp_cong_avoid(struct sock *sk, u32 acked)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u64 cwnd = ask->cwnd, grow;

	if (ask->ca == ALTTCP_CA_CUBIC) {
		u32 target = alttcp_cubic_target(sk, acked);

		/* (target - cwnd) / cwnd segments per segment acked. */
		grow = div_u64((u64)(target - ask->cwnd) * acked +
			       ask->cubic.acc, ask->cwnd);
		ask->cubic.acc = ((u64)(target - ask->cwnd) * acked +
				  ask->cubic.acc) - grow * ask->cwnd;
	} else {
		/* About one segment a round trip (RFC 5681 3.1). */
		grow = max_t(u64, 1, (u64)acked * ask->mss / ask->cwnd);
	}
	ask->cwnd = min_t(u64, cwnd + grow, ALTTCP_CWND_MAX);
}

/*
 * New data acknowledged outside recovery. cwnd grows only while it is
 * what limits the sender (limited: RFC 7661), never past ALTTCP_CWND_MAX.
 */
void alttcp_cong_on_ack(struct sock *sk, u32 acked, bool limited)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u64 cwnd = ask->cwnd;
	u32 inc;

	if (ask->ca == ALTTCP_CA_CUBIC && ask->ssthresh == U32_MAX)
		alttcp_hystart_on_ack(sk);
	if (!limited)
		return;
	if (ask->cwnd >= ask->ssthresh) {
		alttcp_cong_avoid(sk, acked);
		return;
	}
	/* Slow start counts every byte acknowledged, as Linux's
	 * tcp_slow_start() (RFC 3465 with no limit L): an ACK for many
	 * segments (delayed, carried on data, or from a GRO receiver)
	 * grows cwnd as much as one per segment would; a quarter of that
	 * in HyStart++'s conservative phase.
	 */
	inc = acked;
	if (ask->ca == ALTTCP_CA_CUBIC &&
	    ask->cubic.hystart == ALTTCP_HSPP_CSS)
		inc = max(inc / ALTTCP_HSPP_CSS_GROWTH_DIVISOR, 1U);
	cwnd = min_t(u64, cwnd + inc, ask->ssthresh);
	ask->cwnd = min_t(u64, cwnd, ALTTCP_CWND_MAX);
}

/*
 * A loss (three duplicate ACKs or a timeout): the new ssthresh. Reno
 * halves cwnd, as Linux; CUBIC keeps beta of cwnd and
 * remembers where it was, lower still when it had not got back there
 * since the last loss (fast convergence, RFC 9438 4.7), as Linux's.
 */
u32 alttcp_cong_ssthresh(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_cubic *c = &ask->cubic;

	c->hystart = ALTTCP_HSPP_DONE;
	/* cwnd only grew while the sender used it (RFC 7661). */
	if (ask->ca != ALTTCP_CA_CUBIC)
		return max_t(u32, ask->cwnd / 2, 2 * ask->mss);
	c->epoch_ms = 0;
	c->acc = 0;
	if (ask->cwnd < c->w_max)
		c->w_max = (u64)ask->cwnd * ALTTCP_CUBIC_FAST_CONV >> 10;
	else
		c->w_max = ask->cwnd;
	return max_t(u32, (u64)ask->cwnd * ALTTCP_CUBIC_BETA >> 10,
		     2 * ask->mss);
}

/*
 * Sending again after the flight drained: the idle time is no time on
 * the curve (Linux's CA_EVENT_TX_START), or cwnd would leap on the
 * first ACK.
 */
void alttcp_cong_tx_start(struct sock *sk, u32 idle_ms)
{
	struct alttcp_cubic *c = &alttcp_sk(sk)->cubic;
	u32 now = alttcp_now_ms();

	if (!c->epoch_ms)
		return;
	c->epoch_ms += idle_ms;
	if (after(c->epoch_ms, now))
		c->epoch_ms = now ?: 1;
}
