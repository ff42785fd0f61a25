// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: ICMP errors about our connections (RFC 1122 4.2.3.9, RFC 1191,
 * RFC 5927) and path MTU black hole detection (RFC 4821).
 *
 * A netfilter hook at NF_INET_LOCAL_IN, one per namespace, reads every
 * ICMP error and never takes one: Linux's ICMP code still counts it and
 * passes it to Linux's TCP, which finds no socket of its own for it.
 * Softirq, under rcu_read_lock (netfilter holds it). The quoted IP and
 * TCP headers are copied out with skb_header_pointer(); nothing in them
 * is acted on before they match a connection and quote a sequence number
 * in flight, and the ICMP checksum is right.
 *
 * A connection's part runs under bh_lock_sock(). When a process owns the
 * socket, frag needed is left to release_cb (ALTTCP_MTU_REDUCED_DEFERRED)
 * and any other error is only remembered as a soft error, as Linux does.
 * MTU probing runs from the retransmission timer, socket locked.
 */
#include <linux/icmp.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/tcp.h>

#include "alttcp.h"

/* What an ICMP error must quote of our segment (RFC 792: 8 bytes). */
struct alttcp_quoted_tcp {
	__be16 source;
	__be16 dest;
	__be32 seq;
};

/* What one ICMP error says, parsed by the hook. */
struct alttcp_icmp_err {
	u8 type;
	u8 code;
	u32 info;		/* frag needed: the next hop's MTU */
	__be32 laddr, raddr;	/* of the quoted segment: ours, the peer's */
	__be16 lport, rport;
	u32 seq;
	int dif, sdif;		/* where the error came in, as for a segment */
};

/*
 * The lower path MTU in mtu_info: the route learns it, the MSS follows
 * and what was sent too large goes again at once (Linux's
 * tcp_v4_mtu_reduced()). Socket locked, not owned.
 */
void alttcp_mtu_reduced(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 mtu = READ_ONCE(ask->mtu_info);
	struct dst_entry *dst;

	if ((1 << sk->sk_state) & (TCPF_LISTEN | TCPF_CLOSE))
		return;
	dst = alttcp_sk_dst(sk);
	if (!dst)
		return;
	/* A route exception for the peer: below ip_rt_min_pmtu it is
	 * locked at that minimum, and DF goes (ip_dont_fragment()).
	 */
	dst->ops->update_pmtu(dst, sk, NULL, mtu, true);
	dst = alttcp_sk_dst(sk);
	if (!dst)
		return;
	/* Should the connection fail, this is why. */
	if (mtu < dst_mtu(dst) && ip_dont_fragment(sk, dst))
		WRITE_ONCE(sk->sk_err_soft, EMSGSIZE);
	mtu = dst_mtu(dst);
	if (inet_sk(sk)->pmtudisc == IP_PMTUDISC_DONT ||
	    !ip_sk_accept_pmtu(sk) || ask->pmtu_cookie <= mtu)
		return;
	alttcp_sync_mss(sk);
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_PMTUUPDATES);
	alttcp_resend_resized(sk);
}

/* An opening connection fails on a hard error. Socket locked, not owned. */
static void alttcp_icmp_abort(struct sock *sk, int err)
{
	ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_ATTEMPTFAILS);
	alttcp_reset(sk, err);
}

/*
 * A hard error ends a connection that is still opening; once established
 * an error is soft (RFC 1122 4.2.3.9): kept for the timeout to report,
 * or reported at once with IP_RECVERR, as Linux's tcp_v4_err(). While
 * connect() owns the socket (its SYN's error can come back that soon),
 * Linux only keeps the error; alttcp applies it when the socket is
 * released.
 */
static void alttcp_icmp_error(struct sock *sk, int err)
{
	if ((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
		if (sock_owned_by_user(sk)) {
			WRITE_ONCE(sk->sk_err_soft, err);
			set_bit(ALTTCP_ICMP_ERR_DEFERRED,
				&alttcp_sk(sk)->atomic_flags);
			return;
		}
		alttcp_icmp_abort(sk, err);
		return;
	}
	if (!sock_owned_by_user(sk) && inet_sk(sk)->recverr) {
		WRITE_ONCE(sk->sk_err, err);
		sk_error_report(sk);
	} else {
		WRITE_ONCE(sk->sk_err_soft, err);
	}
}

/* release_cb: what ICMP errors left while a process owned the socket. */
void alttcp_icmp_release(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	int err;

	if (test_and_clear_bit(ALTTCP_MTU_REDUCED_DEFERRED, &ask->atomic_flags))
		alttcp_mtu_reduced(sk);
	if (!test_and_clear_bit(ALTTCP_ICMP_ERR_DEFERRED, &ask->atomic_flags))
		return;
	err = READ_ONCE(sk->sk_err_soft);
	if (err && ((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)))
		alttcp_icmp_abort(sk, err);
}

/* An error about one of our connections. Socket locked. */
static void alttcp_icmp_sk(struct sock *sk, const struct alttcp_icmp_err *e)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct net *net = sock_net(sk);
	int err;

	if (sk->sk_state == TCP_CLOSE)
		goto ignore;
	/* RFC 5927 4.1: it must quote something we sent and is unacked. */
	if (seq_before(e->seq, ask->snd_una) ||
	    seq_after(e->seq, ask->snd_max)) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_OUTOFWINDOWICMPS);
		return;
	}
	switch (e->type) {
	case ICMP_DEST_UNREACH:
		if (e->code > NR_ICMP_UNREACH)
			goto ignore;
		if (e->code == ICMP_FRAG_NEEDED) {
			WRITE_ONCE(ask->mtu_info, e->info);
			if (!sock_owned_by_user(sk))
				alttcp_mtu_reduced(sk);
			else
				set_bit(ALTTCP_MTU_REDUCED_DEFERRED,
					&ask->atomic_flags);
			return;
		}
		err = icmp_err_convert[e->code].errno;
		break;
	case ICMP_TIME_EXCEEDED:
		err = EHOSTUNREACH;
		break;
	case ICMP_PARAMETERPROB:
		err = EPROTO;
		break;
	default:		/* source quench, redirect */
		goto ignore;
	}
	alttcp_icmp_error(sk, err);
	return;
ignore:
	ALTTCP_INC_STATS(net, ALTTCP_MIB_ICMPIGNORED);
}

/* An error about a SYN-ACK of one of lsk's request entries. */
static void alttcp_icmp_request(struct sock *lsk,
				const struct alttcp_icmp_err *e)
{
	bool abort = e->type == ICMP_PARAMETERPROB ||
		     e->type == ICMP_TIME_EXCEEDED ||
		     (e->type == ICMP_DEST_UNREACH &&
		      (e->code == ICMP_NET_UNREACH ||
		       e->code == ICMP_HOST_UNREACH));

	alttcp_request_icmp(lsk, e->laddr, e->lport, e->raddr, e->rport,
			    e->seq, abort);
}

/* The connection the error is about, or the listener of its request
 * entry (*listener); with a reference. NULL: not alttcp's.
 */
static struct sock *alttcp_icmp_lookup(struct net *net,
				       const struct alttcp_icmp_err *e,
				       bool *listener)
{
	struct sock *sk;

	sk = alttcp_lookup_established(net, e->raddr, e->rport, e->laddr,
				       e->lport, e->dif, e->sdif);
	*listener = !sk;
	if (!sk)
		sk = alttcp_request_listener(net, e->laddr, e->lport,
					     e->raddr, e->rport);
	return sk;
}

static void alttcp_icmp_deliver(struct sock *sk, bool listener,
				const struct alttcp_icmp_err *e)
{
	bh_lock_sock(sk);
	if (!listener)
		alttcp_icmp_sk(sk, e);
	else if (sk->sk_state == TCP_LISTEN && !sock_owned_by_user(sk))
		alttcp_icmp_request(sk, e);
	else
		ALTTCP_INC_STATS(sock_net(sk), ALTTCP_MIB_ICMPIGNORED);
	bh_unlock_sock(sk);
}

/* The errors a transport hears of (Linux's icmp_pointers[].error). */
static bool alttcp_icmp_is_error(u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH ||
	       type == ICMP_REDIRECT || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB;
}

static unsigned int alttcp_icmp_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	const struct alttcp_quoted_tcp *tp;
	const struct iphdr *iph = ip_hdr(skb);
	unsigned int off = ip_hdrlen(skb);
	struct alttcp_quoted_tcp _tp;
	const struct icmphdr *ih;
	const struct iphdr *qh;
	struct alttcp_icmp_err e;
	struct icmphdr _ih;
	struct net *net = state->net;
	struct iphdr _qh;
	struct sock *sk;
	int no_pmtu_disc;
	bool listener;

	if (iph->protocol != IPPROTO_ICMP || skb->pkt_type != PACKET_HOST)
		return NF_ACCEPT;
	ih = skb_header_pointer(skb, off, sizeof(_ih), &_ih);
	if (!ih || !alttcp_icmp_is_error(ih->type))
		return NF_ACCEPT;
	qh = skb_header_pointer(skb, off + sizeof(_ih), sizeof(_qh), &_qh);
	/* A quoted fragment other than the first has no TCP header. */
	if (!qh || qh->version != 4 || qh->ihl < 5 ||
	    qh->protocol != IPPROTO_TCP || (ntohs(qh->frag_off) & IP_OFFSET))
		return NF_ACCEPT;
	tp = skb_header_pointer(skb, off + sizeof(_ih) + qh->ihl * 4,
				sizeof(_tp), &_tp);
	if (!tp)
		return NF_ACCEPT;

	e.type = ih->type;
	e.code = ih->code;
	e.info = 0;
	e.laddr = qh->saddr;
	e.raddr = qh->daddr;
	e.lport = tp->source;
	e.rport = tp->dest;
	e.seq = ntohl(tp->seq);
	e.dif = inet_iif(skb);
	e.sdif = inet_sdif(skb);
	sk = alttcp_icmp_lookup(net, &e, &listener);
	if (!sk)
		return NF_ACCEPT;	/* Linux's TCP's, or nobody's */

	ALTTCP_INC_STATS(net, ALTTCP_MIB_INICMPS);
	/* Linux's icmp_rcv() checks it after this hook: so must we. */
	if (csum_fold(skb_checksum(skb, off, skb->len - off, 0))) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_ICMPCSUMERRORS);
		goto out;
	}
	if (e.type == ICMP_DEST_UNREACH && e.code == ICMP_FRAG_NEEDED) {
		/* As Linux's icmp_unreach() reads ip_no_pmtu_disc. */
		no_pmtu_disc = READ_ONCE(net->ipv4.sysctl_ip_no_pmtu_disc);
		if (no_pmtu_disc == 2) {
			ALTTCP_INC_STATS(net, ALTTCP_MIB_ICMPIGNORED);
			goto out;
		}
		if (no_pmtu_disc != 1)
			e.info = ntohs(ih->un.frag.mtu);
	}
	alttcp_icmp_deliver(sk, listener, &e);
out:
	sock_put(sk);
	return NF_ACCEPT;
}

/* After the filter table, as input.c's hook: a firewall rule that drops
 * ICMP applies to alttcp too.
 */
static const struct nf_hook_ops alttcp_icmp_ops = {
	.hook = alttcp_icmp_in,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_LOCAL_IN,
	.priority = NF_IP_PRI_FILTER + 1,
};

int alttcp_icmp_init_net(struct net *net)
{
	return nf_register_net_hook(net, &alttcp_icmp_ops);
}

void alttcp_icmp_exit_net(struct net *net)
{
	nf_unregister_net_hook(net, &alttcp_icmp_ops);
}
