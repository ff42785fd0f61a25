// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: ingress. A netfilter hook at NF_INET_LOCAL_IN, one per network
 * namespace, takes the TCP segments that belong to alttcp and lets every
 * other packet pass to Linux untouched.
 *
 * Softirq, under rcu_read_lock (netfilter holds it). A segment is alttcp's
 * when it matches one of its connections, TIME_WAIT entries or listeners,
 * or is addressed to a port alttcp holds. It is validated (checksum, data
 * offset, options, flags) before anything trusts it; a bad one is counted
 * and dropped.
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <net/ip.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/tcp.h>

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

/* Options we use: MSS and window scale (on a SYN), timestamps. */
static enum alttcp_verdict alttcp_parse_options(const struct tcphdr *th,
						struct alttcp_skb_cb *cb)
{
	const u8 *p = (const u8 *)(th + 1);
	int left = th->doff * 4 - sizeof(*th);

	cb->mss = 0;
	cb->wscale = 0xff;
	cb->saw_tstamp = 0;
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
		}
		p += len;
		left -= len;
	}
	if (cb->mss && cb->mss < ALTTCP_MSS_MIN)
		cb->mss = ALTTCP_MSS_MIN;
	return ALTTCP_OK;
}

/*
 * Checks the segment and fills its control block. On return skb->data is
 * the TCP header; the caller pulls it. RFC 9293 3.10.7 and RFC 5961.
 */
static enum alttcp_verdict alttcp_validate(struct sk_buff *skb)
{
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	const struct iphdr *iph = ip_hdr(skb);
	const struct tcphdr *th;
	unsigned int doff;
	u8 flags;

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
	th = tcp_hdr(skb);
	iph = ip_hdr(skb);

	flags = ((const u8 *)th)[13];
	if (!(flags & (TCPHDR_SYN | TCPHDR_ACK | TCPHDR_RST | TCPHDR_FIN)) ||
	    (flags & (TCPHDR_SYN | TCPHDR_FIN)) == (TCPHDR_SYN | TCPHDR_FIN) ||
	    (flags & (TCPHDR_SYN | TCPHDR_RST)) == (TCPHDR_SYN | TCPHDR_RST))
		return ALTTCP_BAD_FLAGS;

	if (alttcp_parse_options(th, cb) != ALTTCP_OK)
		return ALTTCP_BAD_OPTS;
	cb->saddr = iph->saddr;
	cb->daddr = iph->daddr;
	cb->seq = ntohl(th->seq);
	cb->end_seq = cb->seq + th->syn + th->fin + skb->len - doff;
	cb->ack_seq = ntohl(th->ack_seq);
	cb->window = ntohs(th->window);
	cb->flags = flags;
	cb->retransmitted = 0;
	return ALTTCP_OK;
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
	} else if (sk_add_backlog(sk, skb, READ_ONCE(sk->sk_rcvbuf) +
					  READ_ONCE(sk->sk_sndbuf))) {
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
	} else if (sk_add_backlog(sk, skb, READ_ONCE(sk->sk_rcvbuf) +
					  READ_ONCE(sk->sk_sndbuf))) {
		alttcp_count_drop(sock_net(sk), skb, ALTTCP_MIB_DROPBACKLOG);
		kfree_skb(skb);
	}
	bh_unlock_sock(sk);
}

static unsigned int alttcp_nf_local_in(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	struct net *net = state->net;
	const struct iphdr *iph = ip_hdr(skb);
	enum alttcp_mib_field reason;
	__be32 saddr, daddr;
	struct tcphdr _th;
	const struct tcphdr *th;
	enum alttcp_verdict v;
	struct alttcp_tw *tw;
	struct sock *sk;

	if (iph->protocol != IPPROTO_TCP || ip_is_fragment(iph))
		return NF_ACCEPT;
	th = skb_header_pointer(skb, ip_hdrlen(skb), sizeof(_th), &_th);
	if (!th)
		return NF_ACCEPT;
	if (th != &_th)
		_th = *th;
	saddr = iph->saddr;
	daddr = iph->daddr;

	sk = alttcp_lookup_established(net, iph->saddr, th->source,
				       iph->daddr, th->dest);
	tw = sk ? NULL : alttcp_tw_lookup(net, iph->saddr, th->source,
					 iph->daddr, th->dest);
	if (!sk && !tw) {
		sk = alttcp_lookup_listener(net, iph->daddr, th->dest);
		if (!sk && !alttcp_port_bound(net, th->dest))
			return NF_ACCEPT;	/* Linux's, not ours */
	}

	/* Ours from here on: the skb is consumed. */
	ALTTCP_INC_STATS(net, ALTTCP_MIB_INSEGS);
	if (skb->pkt_type != PACKET_HOST)
		goto drop_other;
	__skb_pull(skb, ip_hdrlen(skb));
	skb_reset_transport_header(skb);
	v = alttcp_validate(skb);
	if (v != ALTTCP_OK) {
		reason = (enum alttcp_mib_field)v;
		ALTTCP_INC_STATS(net, ALTTCP_MIB_INERRS);
		if (v == ALTTCP_BAD_CSUM)
			ALTTCP_INC_STATS(net, ALTTCP_MIB_INCSUMERRORS);
		goto drop;
	}
	__skb_pull(skb, tcp_hdr(skb)->doff * 4);
	skb_dst_drop(skb);
	nf_reset_ct(skb);

	if (tw) {
		bool reuse = alttcp_tw_rcv(net, tw, skb);

		alttcp_tw_put(tw);
		if (!reuse)
			goto drop_quiet;
		sk = alttcp_lookup_listener(net, ALTTCP_SKB_CB(skb)->daddr,
					    tcp_hdr(skb)->dest);
	}
	if (!sk) {
		alttcp_count_drop(net, skb, ALTTCP_MIB_DROPNOSOCKET);
		alttcp_send_reset_reply(net, skb);
		goto drop_quiet;
	}
	alttcp_deliver(sk, skb);
	sock_put(sk);
	return NF_STOLEN;

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

/* After the filter table, so a firewall rule applies to alttcp too. */
static const struct nf_hook_ops alttcp_nf_ops = {
	.hook = alttcp_nf_local_in,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_LOCAL_IN,
	.priority = NF_IP_PRI_FILTER + 1,
};

int alttcp_input_init_net(struct net *net)
{
	return nf_register_net_hook(net, &alttcp_nf_ops);
}

void alttcp_input_exit_net(struct net *net)
{
	nf_unregister_net_hook(net, &alttcp_nf_ops);
}
