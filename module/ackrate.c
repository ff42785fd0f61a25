// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: how often an invalid segment may make us send (RFC 5961 7).
 *
 * A segment outside the window, one PAWS rejects, a suspicious RST or
 * SYN, a stray segment to a TIME_WAIT entry and a repeated SYN to a
 * request entry are each answered. Unlimited, that makes alttcp an ACK
 * reflector for anyone who can forge segments. As Linux does:
 *
 * - per connection (and per TIME_WAIT or request entry), at most one such ACK every
 *   invalid_ratelimit_ms (tcp_invalid_ratelimit); segments that carry
 *   data are never limited, since a retransmission our ACK did not reach
 *   needs the answer;
 * - per namespace, challenge ACKs to at most about challenge_ack_limit a
 *   second (tcp_challenge_ack_limit), the budget of each second drawn at
 *   random around the limit so the count cannot be used to infer which
 *   4-tuples exist (CVE-2016-5696).
 *
 * Called in softirq or with the socket lock held; the shared stamps are
 * read and written locklessly, which at worst lets one extra ACK out.
 */
#include <linux/random.h>
#include <net/sock.h>

#include "alttcp.h"

static bool alttcp_oow_limited_stamp(struct net *net, u32 *last_ms,
				     enum alttcp_mib_field mib)
{
	u32 gap = alttcp_param(net, invalid_ratelimit_ms);
	u32 now = alttcp_now_ms();
	u32 last = READ_ONCE(*last_ms);

	if (last && (s32)(now - last) >= 0 && now - last < gap) {
		ALTTCP_INC_STATS(net, mib);
		return true;
	}
	WRITE_ONCE(*last_ms, now ?: 1);		/* 0 means never */
	return false;
}

static bool alttcp_oow_limited(struct net *net, const struct sk_buff *skb,
			       u32 *last_ms, enum alttcp_mib_field mib)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

	if (cb->end_seq != cb->seq && !(cb->flags & TCPHDR_SYN))
		return false;
	return alttcp_oow_limited_stamp(net, last_ms, mib);
}

/* An ACK for a segment outside the window or rejected by PAWS. */
void alttcp_send_dupack(struct sock *sk, const struct sk_buff *skb,
			enum alttcp_mib_field mib)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct alttcp_sock *ask = alttcp_sk(sk);

	/* Data we had already: say so (RFC 2883 4.1), as Linux's
	 * tcp_send_dupack().
	 */
	if (cb->end_seq != cb->seq && seq_before(cb->seq, ask->rcv_nxt))
		alttcp_dsack_set(sk, cb->seq,
				 seq_after(cb->end_seq, ask->rcv_nxt) ?
				 ask->rcv_nxt : cb->end_seq);
	if (!alttcp_oow_limited(sock_net(sk), skb,
				&alttcp_sk(sk)->last_oow_ack_ms, mib))
		alttcp_send_ack(sk);
}

/* The namespace's budget of challenge ACKs: whether one may go now. */
static bool alttcp_challenge_spend(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);
	u32 limit = alttcp_param(net, challenge_ack_limit);
	u32 second = (u32)(ktime_get_seconds());
	u32 left;

	if (second != READ_ONCE(an->challenge_second)) {
		u32 half = (limit + 1) / 2;

		WRITE_ONCE(an->challenge_second, second);
		WRITE_ONCE(an->challenge_left,
			   half + get_random_u32_below(limit));
	}
	left = READ_ONCE(an->challenge_left);
	if (!left) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_ACKSKIPPEDCHALLENGE);
		return false;
	}
	WRITE_ONCE(an->challenge_left, left - 1);
	ALTTCP_INC_STATS(net, ALTTCP_MIB_CHALLENGEACKS);
	return true;
}

/* RFC 5961: answer a suspicious RST, SYN or ACK with an ACK, not an action. */
void alttcp_challenge_ack(struct sock *sk)
{
	struct net *net = sock_net(sk);

	if (alttcp_oow_limited_stamp(net, &alttcp_sk(sk)->last_oow_ack_ms,
				     ALTTCP_MIB_ACKSKIPPEDCHALLENGE))
		return;
	if (alttcp_challenge_spend(net))
		alttcp_send_ack(sk);
}

/* Whether a TIME_WAIT entry may answer skb with its ACK now. */
bool alttcp_tw_may_ack(struct net *net, struct alttcp_tw *tw,
		       const struct sk_buff *skb)
{
	return !alttcp_oow_limited(net, skb, &tw->last_oow_ack_ms,
				   ALTTCP_MIB_ACKSKIPPEDTIMEWAIT);
}

/* Whether a request entry may answer skb with an ACK (or its SYN-ACK)
 * now; a challenge ACK also spends the namespace's budget.
 */
bool alttcp_req_may_ack(struct net *net, struct alttcp_request *req,
			const struct sk_buff *skb, bool challenge)
{
	if (challenge)
		return !alttcp_oow_limited_stamp(net, &req->last_oow_ack_ms,
						 ALTTCP_MIB_ACKSKIPPEDCHALLENGE) &&
		       alttcp_challenge_spend(net);
	return !alttcp_oow_limited(net, skb, &req->last_oow_ack_ms,
				   ALTTCP_MIB_ACKSKIPPEDSYNRECV);
}
