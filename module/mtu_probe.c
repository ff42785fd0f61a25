// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: packetization-layer path MTU discovery (RFC 4821), as Linux's
 * tcp_mtu_probing sysctl has it (mtu_probing here).
 *
 * Mode 1 waits for a black hole: after retries1 timeouts in a row (a
 * router drops what is too big and no ICMP comes back) the MSS is held to
 * base_mss, then halved on each further run of timeouts, down to
 * mtu_probe_floor. Mode 2 holds it to base_mss from the start. Either way
 * the MSS then searches upwards: a probe, one segment of new data the
 * size of the middle of [search_low, search_high] (as MTUs), goes out
 * ahead of a few MSS of data. Acknowledged, it raises search_low and the
 * MSS with it; lost (the data behind it draws duplicate ACKs, or the timer
 * fires), it lowers search_high, and what was in flight is sent again at
 * the MSS without counting a congestion event. The search stops when the
 * range is under probe_threshold bytes, and starts again from the MSS
 * after probe_interval_ms.
 *
 * Socket locked throughout.
 */
#include <linux/jiffies.h>
#include <net/ip.h>
#include <net/tcp.h>

#include "alttcp.h"

/* The largest MTU worth probing: the peer's MSS and plain headers. */
static u32 alttcp_mtup_ceiling(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);

	return (ask->peer_mss ?: ALTTCP_MSS_DEFAULT) + sizeof(struct iphdr) +
	       sizeof(struct tcphdr);
}

/* Once the SYNs are in (Linux's tcp_mtup_init()). */
void alttcp_mtup_init(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct net *net = sock_net(sk);

	ask->mtup_enabled = alttcp_param(net, mtu_probing) > 1;
	ask->mtup_low = alttcp_mss_to_mtu(sk, alttcp_param(net, base_mss));
	ask->mtup_high = alttcp_mtup_ceiling(sk);
	ask->mtup_probe_size = 0;
	ask->mtup_stamp = jiffies;
}

/*
 * Black hole detection, from the retransmission timer after retries1
 * timeouts in a row (Linux's tcp_mtu_probing()).
 */
void alttcp_mtu_probing(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct net *net = sock_net(sk);
	u32 mss, old = ask->mss;

	if (!alttcp_param(net, mtu_probing))
		return;
	if (!ask->mtup_enabled) {
		ask->mtup_enabled = 1;
		ask->mtup_stamp = jiffies;
	} else {
		mss = alttcp_mtu_to_mss(sk, ask->mtup_low) >> 1;
		mss = min(mss, alttcp_param(net, base_mss));
		mss = max(mss, alttcp_param(net, mtu_probe_floor));
		ask->mtup_low = alttcp_mss_to_mtu(sk, mss);
	}
	alttcp_sync_mss(sk);
	if (ask->mss < old)
		ALTTCP_INC_STATS(net, ALTTCP_MIB_MTUPROBEREDUCTIONS);
}

/* The search is over: after probe_interval_ms, again from the MSS. */
static void alttcp_mtup_reprobe(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 interval = alttcp_param(sock_net(sk), probe_interval_ms);

	if (time_before(jiffies, ask->mtup_stamp + msecs_to_jiffies(interval)))
		return;
	ask->mtup_high = alttcp_mtup_ceiling(sk);
	ask->mtup_low = alttcp_mss_to_mtu(sk, ask->mss);
	ask->mtup_stamp = jiffies;
}

/* The queued skbs that the probe's bytes come from end in no FIN. */
static bool alttcp_mtup_can_merge(struct sock *sk, u32 len)
{
	struct sk_buff *skb = alttcp_sk(sk)->send_head;

	skb_queue_walk_from(&sk->sk_write_queue, skb) {
		if (ALTTCP_SKB_CB(skb)->flags & TCPHDR_FIN)
			return false;
		if (len <= skb->len)
			return true;
		len -= skb->len;
	}
	return false;
}

/*
 * The probe replaces the first len bytes of unsent data on the write
 * queue, ahead of the rest, as the next skb to send.
 */
static bool alttcp_mtup_build(struct sock *sk, u32 len)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb = ask->send_head, *next, *probe;
	struct alttcp_skb_cb *pcb;
	u32 done = 0;

	probe = alloc_skb_fclone(MAX_TCP_HEADER + len, GFP_ATOMIC);
	if (!probe)
		return false;
	skb_reserve(probe, MAX_TCP_HEADER);
	__skb_header_release(probe);
	pcb = ALTTCP_SKB_CB(probe);
	memset(pcb, 0, sizeof(*pcb));
	pcb->seq = ALTTCP_SKB_CB(skb)->seq;
	pcb->end_seq = pcb->seq + len;
	pcb->flags = TCPHDR_ACK;
	__skb_queue_before(&sk->sk_write_queue, skb, probe);
	sk_wmem_queued_add(sk, probe->truesize);

	/* Never sent, so never cloned: the data may be moved. */
	skb_queue_walk_from_safe(&sk->sk_write_queue, skb, next) {
		u32 copy = min(skb->len, len - done);

		if (skb_copy_bits(skb, 0, skb_put(probe, copy), copy))
			WARN_ON_ONCE(1);
		done += copy;
		if (copy == skb->len) {
			/* A write that ended here still ends in a PSH. */
			pcb->flags |= ALTTCP_SKB_CB(skb)->flags & TCPHDR_PSH;
			__skb_unlink(skb, &sk->sk_write_queue);
			sk_wmem_queued_add(sk, -skb->truesize);
			consume_skb(skb);
		} else {
			skb_pull(skb, copy);
			ALTTCP_SKB_CB(skb)->seq += copy;
		}
		if (done == len)
			break;
	}
	ask->send_head = probe;
	ask->mtup_probe_size = alttcp_mss_to_mtu(sk, len);
	ask->mtup_probe_seq = pcb->seq;
	ask->mtup_probe_end = pcb->end_seq;
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_MTUPROBES);
	return true;
}

/*
 * The probe's size, when one is due: the search goes on, no probe is out,
 * the connection is not recovering and cwnd is 11 segments or more, as
 * Linux's tcp_mtu_probe() asks. 0 otherwise.
 */
static u32 alttcp_mtup_due(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 len;

	if (!ask->mtup_enabled || ask->mtup_probe_size || ask->in_recovery ||
	    ask->dupacks || ask->cwnd < 11 * ask->mss || !ask->send_head ||
	    seq_before(ALTTCP_SKB_CB(ask->send_head)->seq, ask->snd_max))
		return 0;
	len = alttcp_mtu_to_mss(sk, (ask->mtup_high + ask->mtup_low) / 2);
	if (len <= ask->mss ||
	    len > alttcp_mtu_to_mss(sk, ask->mtup_high) ||
	    ask->mtup_high - ask->mtup_low <
	    alttcp_param(sock_net(sk), probe_threshold)) {
		alttcp_mtup_reprobe(sk);
		return 0;
	}
	return len;
}

/* A probe goes out with four MSS of new data behind it, whose ACKs tell
 * a lost probe.
 */
static u32 alttcp_mtup_needed(const struct sock *sk, u32 len)
{
	return len + 4 * alttcp_sk(sk)->mss;
}

/*
 * While writing: should full segments wait in the queue until a probe and
 * the data behind it are there? Linux's skbs of 64 KiB hold that much; an
 * MSS-sized skb pushed as it fills would leave a writer that keeps up with
 * the window never probing. sendmsg() pushes at its end, whatever is there.
 */
bool alttcp_mtup_gathering(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 len = alttcp_mtup_due(sk);

	return len && ask->write_seq - ask->snd_nxt < alttcp_mtup_needed(sk, len);
}

/*
 * Before sending: a probe when one is due and enough new data and window
 * are there for it and the data behind it, and cwnd has room for two
 * segments. Returns true when the caller should send nothing yet: the
 * probe waits for room that ACKs in flight will open, or a sender that
 * fills every opening a segment at a time never probes (as Linux).
 */
bool alttcp_mtu_probe(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 len = alttcp_mtup_due(sk), needed, in_flight;

	if (!len)
		return false;
	needed = alttcp_mtup_needed(sk, len);
	in_flight = ask->snd_nxt - ask->snd_una;
	if (ask->write_seq - ask->snd_nxt < needed || ask->snd_wnd < needed)
		return false;
	/* With snd_wnd >= needed, this wait has data in flight. */
	if (seq_after(ask->snd_nxt + needed, ask->snd_una + ask->snd_wnd))
		return true;
	if (in_flight + 2 * ask->mss > ask->cwnd)
		return in_flight != 0;
	if (!alttcp_mtup_can_merge(sk, len))
		return false;
	alttcp_mtup_build(sk, len);
	return false;
}

/* Is skb the probe in flight, which may exceed the MSS? */
bool alttcp_mtup_is_probe(const struct sock *sk, const struct sk_buff *skb)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);

	return ask->mtup_probe_size &&
	       ALTTCP_SKB_CB(skb)->seq == ask->mtup_probe_seq &&
	       ALTTCP_SKB_CB(skb)->end_seq == ask->mtup_probe_end;
}

/* New data acknowledged: the whole probe got through. */
void alttcp_mtup_acked(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->mtup_probe_size ||
	    seq_before(ask->snd_una, ask->mtup_probe_end))
		return;
	ask->mtup_low = ask->mtup_probe_size;
	ask->mtup_probe_size = 0;
	ask->mtup_stamp = jiffies;
	alttcp_sync_mss(sk);
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_MTUPROBESUCCESSES);
}

/*
 * A loss is detected (duplicate ACKs or the timer): is it the probe's?
 * Then the path's MTU is below it, and the loss is no congestion: the
 * caller resends at the MSS instead of backing off (Linux's
 * tcp_mtup_probe_failed() and tcp_simple_retransmit()).
 */
bool alttcp_mtup_lost(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (!ask->mtup_probe_size || ask->snd_una != ask->mtup_probe_seq)
		return false;
	ask->mtup_high = ask->mtup_probe_size - 1;
	ask->mtup_probe_size = 0;
	ask->mtup_stamp = jiffies;
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_MTUPROBEFAILURES);
	return true;
}
