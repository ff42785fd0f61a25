// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: ingress. A netfilter hook at NF_INET_LOCAL_IN, one per network
 * namespace, takes the TCP segments that belong to alttcp and lets every
 * other packet pass to Linux untouched.
 *
 * Softirq, under rcu_read_lock (netfilter holds it). A segment is alttcp's
 * when it matches one of its connections, TIME_WAIT entries or listeners
 * by address, port and device, as Linux's own demux would match it; any
 * other goes to Linux untouched. It is validated (checksum, data offset,
 * options, flags) before anything trusts it, and the host's policy
 * (conntrack, IPsec, socket filters) asked as for Linux TCP; a refused
 * one is counted and dropped.
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/sizes.h>
#include <net/ip.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/tcp.h>
#include <net/xfrm.h>

#include "alttcp.h"
#include "trace.h"

/* A validated segment dropped: counted, and traced with its reason. */
void alttcp_count_drop(struct net *net, const struct sk_buff *skb,
		       enum alttcp_mib_field reason)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct tcphdr *th = tcp_hdr(skb);

	ALTTCP_INC_STATS(net, reason);
	trace_alttcp_drop(cb->daddr, th->dest, cb->saddr, th->source, reason);
}

enum alttcp_verdict {
	ALTTCP_OK,
	ALTTCP_BAD_CSUM = ALTTCP_MIB_DROPBADCSUM,
	ALTTCP_BAD_DOFF = ALTTCP_MIB_DROPBADDOFF,
	ALTTCP_BAD_OPTS = ALTTCP_MIB_DROPBADOPTS,
	ALTTCP_BAD_FLAGS = ALTTCP_MIB_DROPBADFLAGS,
};

/* Options we use: MSS, window scale and SACK-permitted (on a SYN),
 * timestamps, SACK.
 */
static enum alttcp_verdict alttcp_parse_options(const struct tcphdr *th,
						struct alttcp_skb_cb *cb)
{
	const u8 *p = (const u8 *)(th + 1);
	int left = th->doff * 4 - sizeof(*th);

	cb->mss = 0;
	cb->wscale = 0xff;
	cb->saw_tstamp = 0;
	cb->sack_perm = 0;
	cb->sack_off = 0;
	cb->tsval = 0;
	cb->tsecr = 0;
	while (left > 0) {
		u8 kind = *p, len;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			p++;
			left--;
			continue;
		}
		if (left < 2)
			return ALTTCP_BAD_OPTS;
		len = p[1];
		if (len < 2 || len > left)
			return ALTTCP_BAD_OPTS;
		if (kind == TCPOPT_MSS) {
			if (len != TCPOLEN_MSS)
				return ALTTCP_BAD_OPTS;
			if (th->syn)
				cb->mss = get_unaligned_be16(p + 2);
		} else if (kind == TCPOPT_WINDOW) {
			if (len != TCPOLEN_WINDOW)
				return ALTTCP_BAD_OPTS;
			/* RFC 7323 2.3: above 14 means 14. */
			if (th->syn)
				cb->wscale = min_t(u8, p[2], ALTTCP_MAX_WSCALE);
		} else if (kind == TCPOPT_TIMESTAMP) {
			if (len != TCPOLEN_TIMESTAMP)
				return ALTTCP_BAD_OPTS;
			cb->saw_tstamp = 1;
			cb->tsval = get_unaligned_be32(p + 2);
			cb->tsecr = get_unaligned_be32(p + 6);
		} else if (kind == TCPOPT_SACK_PERM) {
			/* A wrong size is ignored, as Linux does. */
			cb->sack_perm = th->syn && len == TCPOLEN_SACK_PERM;
		} else if (kind == TCPOPT_SACK &&
			   len >= TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK &&
			   !((len - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_PERBLOCK)) {
			/* Whole blocks only, else ignored; the ACK step
			 * reads them.
			 */
			cb->sack_off = p - (const u8 *)th;
		}
		p += len;
		left -= len;
	}
	if (cb->mss && cb->mss < ALTTCP_MSS_MIN)
		cb->mss = ALTTCP_MSS_MIN;
	return ALTTCP_OK;
}

/*
 * The header's length, and the checksum: before anything reads the
 * segment. On return skb->data is the TCP header, header in the linear
 * part. RFC 9293 3.10.7.
 */
static enum alttcp_verdict alttcp_check_header(struct sk_buff *skb)
{
	const struct tcphdr *th;
	unsigned int doff;

	if (!pskb_may_pull(skb, sizeof(*th)))
		return ALTTCP_BAD_DOFF;
	th = tcp_hdr(skb);
	doff = th->doff * 4;
	if (doff < sizeof(*th) || doff > skb->len)
		return ALTTCP_BAD_DOFF;
	if (!pskb_may_pull(skb, doff))
		return ALTTCP_BAD_DOFF;
	if (skb_checksum_init(skb, IPPROTO_TCP, inet_compute_pseudo) ||
	    skb_checksum_complete(skb))
		return ALTTCP_BAD_CSUM;
	return ALTTCP_OK;
}

/*
 * Flags and options checked, the control block filled (it overwrites
 * IP's, which the policy checks read: they come first). RFC 5961.
 */
static enum alttcp_verdict alttcp_fill_cb(struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct iphdr *iph = ip_hdr(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	u8 flags = ((const u8 *)th)[13];

	if (!(flags & (TCPHDR_SYN | TCPHDR_ACK | TCPHDR_RST | TCPHDR_FIN)) ||
	    (flags & (TCPHDR_SYN | TCPHDR_FIN)) == (TCPHDR_SYN | TCPHDR_FIN) ||
	    (flags & (TCPHDR_SYN | TCPHDR_RST)) == (TCPHDR_SYN | TCPHDR_RST))
		return ALTTCP_BAD_FLAGS;

	if (alttcp_parse_options(th, cb) != ALTTCP_OK)
		return ALTTCP_BAD_OPTS;
	cb->saddr = iph->saddr;
	cb->daddr = iph->daddr;
	cb->seq = ntohl(th->seq);
	cb->end_seq = cb->seq + th->syn + th->fin + skb->len - th->doff * 4;
	cb->ack_seq = ntohl(th->ack_seq);
	cb->window = ntohs(th->window);
	cb->flags = flags;
	cb->retransmitted = 0;
	return ALTTCP_OK;
}

/*
 * The host's say on a segment for sk, asked as Linux TCP asks it: IPsec
 * input policy, then sk_filter() (socket filter, cgroup BPF ingress,
 * LSM), which may trim the payload. sk is NULL for a TIME_WAIT entry:
 * policy only. Returns 0 or the drop reason.
 */
static int alttcp_policy_check(struct sock *sk, struct sk_buff *skb)
{
	if (!xfrm4_policy_check(sk, XFRM_POLICY_IN, skb))
		return ALTTCP_MIB_DROPXFRMPOLICY;
	if (sk && sk_filter_trim_cap(sk, skb, tcp_hdr(skb)->doff * 4))
		return ALTTCP_MIB_DROPSOCKETFILTER;
	return 0;
}

/*
 * proto.backlog_rcv: release_sock() runs it with BHs on. Turn them off, as
 * in softirq: a listener's child is created locked and sends its SYN-ACK,
 * and a softirq run on this CPU must not meet that lock (or queue_lock).
 */
int alttcp_do_rcv(struct sock *sk, struct sk_buff *skb)
{
	local_bh_disable();
	alttcp_rcv_segment(sk, skb);
	local_bh_enable();
	return 0;
}

/*
 * How much the backlog may hold while the socket's owner runs, as Linux's
 * tcp_add_backlog(): the receive queue and the backlog may each fill to
 * the receive buffer before release_sock() drains the latter, ACKs for
 * our sending need room too (half the send buffer), and 64 KiB spare. A
 * smaller limit drops a burst that arrives while a reader copies, and
 * with it ACKs whose SACK blocks the sender then misses.
 */
static unsigned int alttcp_backlog_limit(const struct sock *sk)
{
	u64 limit = 2ULL * (u32)READ_ONCE(sk->sk_rcvbuf) +
		    (u32)READ_ONCE(sk->sk_sndbuf) / 2 + SZ_64K;

	return min_t(u64, limit, UINT_MAX);
}

/*
 * A segment a listener took for a connection that has its own socket by
 * now (listen.c): delivered as the hook would. Under the listener's lock
 * (subclass 1 in softirq, BHs off either way), so the socket's lock is
 * taken at subclass 0, as sk_clone_lock() takes a new child's.
 */
void alttcp_deliver_redirected(struct sock *sk, struct sk_buff *skb)
{
	bh_lock_sock(sk);
	if (!sock_owned_by_user(sk)) {
		alttcp_rcv_segment(sk, skb);
	} else if (sk_add_backlog(sk, skb, alttcp_backlog_limit(sk))) {
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPBACKLOG);
		kfree_skb(skb);
	}
	bh_unlock_sock(sk);
}

static void alttcp_deliver(struct sock *sk, struct sk_buff *skb)
{
	bh_lock_sock_nested(sk);
	if (!sock_owned_by_user(sk)) {
		alttcp_do_rcv(sk, skb);
	} else if (sk_add_backlog(sk, skb, alttcp_backlog_limit(sk))) {
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPBACKLOG);
		kfree_skb(skb);
	}
	bh_unlock_sock(sk);
}

/*
 * Whose is the segment? An alttcp connection's or TIME_WAIT entry's by
 * 4-tuple and device, else the listener's that Linux's own lookup picks
 * when that is one of our holders (port.c). th is a copy of the header.
 */
static bool alttcp_demux(struct net *net, struct sk_buff *skb,
			 const struct tcphdr *th, int dif, int sdif,
			 struct sock **skp, struct alttcp_tw **twp)
{
	const struct iphdr *iph = ip_hdr(skb);
	unsigned int ihl = ip_hdrlen(skb);
	bool ours;

	*skp = alttcp_lookup_established(net, iph->saddr, th->source,
					 iph->daddr, th->dest, dif, sdif);
	if (*skp)
		return true;
	*twp = alttcp_tw_lookup(net, dif, sdif, iph->saddr, th->source,
				iph->daddr, th->dest);
	if (*twp)
		return true;
	/* SO_REUSEPORT programs read the segment from its TCP header. */
	__skb_pull(skb, ihl);
	skb_reset_transport_header(skb);
	*skp = alttcp_port_listener(net, skb, iph->saddr, th->source,
				    iph->daddr, th->dest, th->doff * 4, dif,
				    sdif, &ours);
	__skb_push(skb, ihl);
	return ours;
}

static unsigned int alttcp_nf_local_in(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	struct net *net = state->net;
	const struct iphdr *iph = ip_hdr(skb);
	int reason, dif, sdif;
	struct alttcp_tw *tw = NULL;
	struct sock *sk = NULL;
	__be32 saddr, daddr;
	struct tcphdr _th;
	const struct tcphdr *th;
	enum alttcp_verdict v;
	bool ours;

	if (iph->protocol != IPPROTO_TCP || ip_is_fragment(iph))
		return NF_ACCEPT;
	th = skb_header_pointer(skb, ip_hdrlen(skb), sizeof(_th), &_th);
	if (!th || !alttcp_port_maybe_ours(net, th->dest))
		return NF_ACCEPT;
	if (th != &_th)
		_th = *th;
	saddr = iph->saddr;
	daddr = iph->daddr;
	/* From IP's control block, which ours overwrites later. */
	dif = inet_iif(skb);
	sdif = inet_sdif(skb);
	if (!alttcp_demux(net, skb, &_th, dif, sdif, &sk, &tw))
		return NF_ACCEPT;	/* Linux's, not ours */

	/* Ours from here on: the skb is consumed. */
	ALTTCP_INC_STATS(net, ALTTCP_MIB_INSEGS);
	if (skb->pkt_type != PACKET_HOST)
		goto drop_other;
	if (alttcp_ct_confirm(skb) != NF_ACCEPT) {
		reason = ALTTCP_MIB_DROPCONNTRACK;
		goto drop;
	}
	__skb_pull(skb, ip_hdrlen(skb));
	skb_reset_transport_header(skb);
	v = alttcp_check_header(skb);
	if (v != ALTTCP_OK)
		goto bad;
	reason = alttcp_policy_check(sk, skb);
	if (reason)
		goto drop;
	v = alttcp_fill_cb(skb);
	if (v != ALTTCP_OK)
		goto bad;

	if (tw) {
		bool reuse = alttcp_tw_rcv(net, tw, skb);

		alttcp_tw_put(tw);
		tw = NULL;
		if (!reuse)
			goto drop_quiet;
		sk = alttcp_port_listener(net, skb, saddr, _th.source, daddr,
					  _th.dest, _th.doff * 4, dif, sdif,
					  &ours);
		/* The listener's turn to say, as for any SYN. */
		reason = sk ? alttcp_policy_check(sk, skb) : 0;
		if (reason || (sk && alttcp_fill_cb(skb) != ALTTCP_OK)) {
			alttcp_count_drop(net, skb, reason ?: ALTTCP_MIB_DROPOTHER);
			goto drop_quiet;
		}
	}
	if (!sk) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPNOSOCKET);
		alttcp_send_reset_reply(net, skb);
		goto drop_quiet;
	}
	__skb_pull(skb, tcp_hdr(skb)->doff * 4);
	skb_dst_drop(skb);
	nf_reset_ct(skb);
	trace_alttcp_segment_recv(sk, skb);
	alttcp_deliver(sk, skb);
	sock_put(sk);
	return NF_STOLEN;

bad:
	reason = v;
	ALTTCP_INC_STATS(net, ALTTCP_MIB_INERRS);
	if (v == ALTTCP_BAD_CSUM)
		ALTTCP_INC_STATS(net, ALTTCP_MIB_INCSUMERRORS);
	goto drop;
drop_other:
	reason = ALTTCP_MIB_DROPOTHER;
drop:
	/* Unvalidated: the addresses from the IP header, th a copy. */
	ALTTCP_INC_STATS(net, reason);
	trace_alttcp_drop(daddr, _th.dest, saddr, _th.source, reason);
	if (tw)
		alttcp_tw_put(tw);
drop_quiet:
	if (sk)
		sock_put(sk);
	kfree_skb(skb);
	return NF_STOLEN;
}

/*
 * Last before conntrack confirms its entry (a step alttcp_ct_confirm()
 * then does), so every table and chain at LOCAL_IN sees alttcp's
 * segments as it sees Linux TCP's.
 */
static const struct nf_hook_ops alttcp_nf_ops = {
	.hook = alttcp_nf_local_in,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_LOCAL_IN,
	.priority = NF_IP_PRI_CONNTRACK_CONFIRM - 1,
};

int alttcp_input_init_net(struct net *net)
{
	return nf_register_net_hook(net, &alttcp_nf_ops);
}

void alttcp_input_exit_net(struct net *net)
{
	nf_unregister_net_hook(net, &alttcp_nf_ops);
}
