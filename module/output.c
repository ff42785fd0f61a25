// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: building and sending segments.
 *
 * Called with the socket lock held (process context or softirq), except
 * the stateless replies (RST to a segment no socket wants, ACK from
 * TIME_WAIT), which need no socket. Never sleeps: allocations are atomic.
 *
 * The IP header is built here rather than by ip_queue_xmit(), which would
 * write sk->sk_protocol (IPPROTO_ALTTCP) into it; on the wire we are TCP.
 */
#include <linux/siphash.h>
#include <linux/random.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/tcp.h>

#include "alttcp.h"
#include "trace.h"

static siphash_key_t alttcp_isn_key __read_mostly;
static siphash_key_t alttcp_ts_key __read_mostly;

void alttcp_init_isn_secret(void)
{
	get_random_bytes(&alttcp_isn_key, sizeof(alttcp_isn_key));
	get_random_bytes(&alttcp_ts_key, sizeof(alttcp_ts_key));
}

/*
 * What a connection adds to the clock in its TSvals, so that they do not
 * tell the uptime (Linux's tsoffset). Keyed by the two addresses only:
 * successive connections between two hosts keep one clock, which PAWS
 * and TIME_WAIT reuse rely on (Linux 6.1 draws one per connection).
 */
u32 alttcp_ts_offset(__be32 saddr, __be32 daddr)
{
	return siphash_2u32((__force u32)saddr, (__force u32)daddr,
			    &alttcp_ts_key);
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a clock ticking every ~4 us. */
u32 alttcp_isn(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport)
{
	u32 f = siphash_3u32((__force u32)saddr, (__force u32)daddr,
			     (__force u32)sport << 16 | (__force u32)dport,
			     &alttcp_isn_key);

	return f + (u32)(ktime_get_real_ns() >> 12);
}

/* Window to advertise: half the free receive buffer (the rest pays for
 * skb overhead), never moving the right edge left (RFC 9293 3.8.6.2.2).
 */
u32 alttcp_receive_window(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	int space = (READ_ONCE(sk->sk_rcvbuf) -
		     atomic_read(&sk->sk_rmem_alloc)) / 2;
	u32 edge = ask->rcv_wup + ask->rcv_wnd;
	u32 cur = seq_after(edge, ask->rcv_nxt) ? edge - ask->rcv_nxt : 0;
	u32 win = space > 0 ? space : 0;

	win = min_t(u32, win, 65535U << ask->rcv_wscale);
	/* Short of memory module-wide: offer little more than we hold. */
	if (alttcp_under_memory_pressure())
		win = min_t(u32, win,
			    4U * max_t(u32, ask->adv_mss, ALTTCP_MSS_DEFAULT));
	/* Silly window avoidance: do not offer less than an MSS of growth. */
	if (win < cur || (win - cur < ask->adv_mss && win < cur + ask->adv_mss))
		win = cur;
	return win;
}

static u16 alttcp_window_field(struct sock *sk, bool syn)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 win = alttcp_receive_window(sk);

	if (syn) {
		win = min_t(u32, win, 65535U);
		ask->rcv_wnd = win;
		ask->rcv_wup = ask->rcv_nxt;
		return win;
	}
	/* Round up: rounding down could move the right edge left. */
	win = min(ALIGN(win, 1U << ask->rcv_wscale), 65535U << ask->rcv_wscale);
	ask->rcv_wnd = win;
	ask->rcv_wup = ask->rcv_nxt;
	/* This segment acknowledges everything: no delayed ACK is owed. */
	alttcp_timer_clear(sk, ALTTCP_TIMER_DELACK);
	return win >> ask->rcv_wscale;
}

/*
 * DF as IP_MTU_DISCOVER says (ip_dont_fragment(), as Linux's
 * ip_queue_xmit()); always on for a reply that no socket sends.
 */
static __be16 alttcp_df(const struct sock *sk, const struct dst_entry *dst)
{
	return !sk || ip_dont_fragment(sk, dst) ? htons(IP_DF) : 0;
}

/*
 * Writes the TCP header and IP header in front of skb->data and sends.
 * sk owns the segment, or is NULL; then lsk, if set, is the listener whose
 * bound device, mark and priority the segment (a SYN-ACK) follows.
 */
static int alttcp_emit(struct net *net, struct sock *sk,
		       struct sock *lsk, struct sk_buff *skb,
		       __be32 saddr, __be32 daddr, __be16 sport, __be16 dport,
		       u32 seq, u32 ack, u8 flags, u16 window,
		       const u8 *opts, unsigned int optlen, u8 tos)
{
	unsigned int thlen = sizeof(struct tcphdr) + optlen;
	/* A GSO skb leaves as gso_segs segments, each with its IP ID. */
	u16 segs = skb_is_gso(skb) ? skb_shinfo(skb)->gso_segs : 1;
	struct flowi4 fl4;
	struct rtable *rt;
	struct tcphdr *th;
	struct iphdr *iph;
	unsigned int len;

	/* IP reads skb->cb as its own control block: clear ours. */
	memset(skb->cb, 0, sizeof(skb->cb));
	th = skb_push(skb, thlen);
	skb_reset_transport_header(skb);
	memset(th, 0, sizeof(*th));
	th->source = sport;
	th->dest = dport;
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff = thlen >> 2;
	((u8 *)th)[13] = flags;
	th->window = htons(window);
	if (optlen)
		memcpy(th + 1, opts, optlen);
	len = skb->len;

	if (sk) {
		rt = (struct rtable *)__sk_dst_check(sk, 0);
		if (!rt) {
			rt = ip_route_output_ports(net, &fl4, sk, daddr, saddr,
						   dport, sport, IPPROTO_TCP,
						   RT_CONN_FLAGS(sk),
						   sk->sk_bound_dev_if);
			if (IS_ERR(rt))
				goto no_route;
			sk_setup_caps(sk, &rt->dst);
		}
		skb_dst_set(skb, dst_clone(&rt->dst));
	} else {
		rt = ip_route_output_ports(net, &fl4, lsk, daddr, saddr,
					   dport, sport, IPPROTO_TCP, tos,
					   lsk ? lsk->sk_bound_dev_if : 0);
		if (IS_ERR(rt))
			goto no_route;
		skb_dst_set(skb, &rt->dst);
	}

	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = skb_transport_header(skb) - skb->head;
	skb->csum_offset = offsetof(struct tcphdr, check);
	th->check = ~tcp_v4_check(len, saddr, daddr, 0);

	iph = skb_push(skb, sizeof(*iph));
	skb_reset_network_header(skb);
	iph->version = 4;
	iph->ihl = 5;
	iph->tos = tos;
	iph->frag_off = alttcp_df(sk ?: lsk, skb_dst(skb));
	iph->ttl = ip4_dst_hoplimit(skb_dst(skb));
	iph->protocol = IPPROTO_TCP;
	iph->saddr = saddr;
	iph->daddr = daddr;
	ip_select_ident_segs(net, skb, sk, segs);
	skb->protocol = htons(ETH_P_IP);
	if (sk || lsk) {
		/* Owned, as Linux TCP's are: owner and cgroup matches,
		 * cgroup BPF egress and net_cls see whose it is. A SYN-ACK
		 * is its listener's, where Linux's owner match looks.
		 */
		skb_set_owner_w(skb, sk ?: lsk);
		/* What we send, not a pure ACK, counts for small queues. */
		if (sk && (len > thlen || (flags & (TCPHDR_SYN | TCPHDR_FIN))))
			skb->destructor = alttcp_wfree;
		skb->priority = skb->sk->sk_priority;
		skb->mark = skb->sk->sk_mark;
	}
	ALTTCP_ADD_STATS(net, ALTTCP_MIB_OUTSEGS, segs);
	trace_alttcp_segment_send(sk, th, saddr, daddr, len - thlen, segs);
	if (flags & TCPHDR_RST) {
		ALTTCP_INC_STATS(net, ALTTCP_MIB_OUTRSTS);
		trace_alttcp_rst_send(saddr, sport, daddr, dport, seq, ack);
	}
	return ip_local_out(net, skb->sk, skb);

no_route:
	kfree_skb(skb);
	return -EHOSTUNREACH;
}

static struct sk_buff *alttcp_alloc_ctl(gfp_t gfp)
{
	struct sk_buff *skb = alloc_skb(MAX_TCP_HEADER, gfp);

	if (skb)
		skb_reserve(skb, MAX_TCP_HEADER);
	return skb;
}

/* As Linux's net.ipv4.tcp_timestamps says. */
bool alttcp_offer_timestamps(const struct sock *sk)
{
	return READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_timestamps);
}

/*
 * The timestamps option (RFC 7323 3), NOP-padded to 12 bytes. TSval is a
 * millisecond clock; TSecr echoes the peer's latest TSval.
 */
static unsigned int alttcp_ts_option(const struct alttcp_sock *ask, u8 *opts,
				     bool ack, u32 tsval)
{
	opts[0] = TCPOPT_NOP;
	opts[1] = TCPOPT_NOP;
	opts[2] = TCPOPT_TIMESTAMP;
	opts[3] = TCPOLEN_TIMESTAMP;
	put_unaligned_be32(tsval, opts + 4);
	/* TSecr is 0 unless the ACK bit is set (RFC 7323 3.2). */
	put_unaligned_be32(ack ? ask->ts_recent : 0, opts + 8);
	return TCPOLEN_TSTAMP_ALIGNED;
}

/*
 * MSS, SACK-permitted, timestamps and window scale options of a SYN or
 * SYN-ACK, in Linux's order (SACK-permitted takes the NOPs' place before
 * the timestamps); wscale < 0 leaves window scaling out, ts false the
 * timestamps, sack false SACK.
 */
static unsigned int alttcp_put_syn_options(u8 *opts, u16 mss, bool sack,
					   bool ts, u32 tsval, u32 tsecr,
					   int wscale)
{
	unsigned int n = 0;

	opts[n++] = TCPOPT_MSS;
	opts[n++] = TCPOLEN_MSS;
	opts[n++] = mss >> 8;
	opts[n++] = mss & 0xff;
	if (sack && !ts) {
		opts[n++] = TCPOPT_NOP;
		opts[n++] = TCPOPT_NOP;
	}
	if (sack) {
		opts[n++] = TCPOPT_SACK_PERM;
		opts[n++] = TCPOLEN_SACK_PERM;
	}
	if (ts) {
		if (!sack) {
			opts[n++] = TCPOPT_NOP;
			opts[n++] = TCPOPT_NOP;
		}
		opts[n++] = TCPOPT_TIMESTAMP;
		opts[n++] = TCPOLEN_TIMESTAMP;
		put_unaligned_be32(tsval, opts + n);
		put_unaligned_be32(tsecr, opts + n + 4);
		n += 8;
	}
	if (wscale >= 0) {
		opts[n++] = TCPOPT_NOP;
		opts[n++] = TCPOPT_WINDOW;
		opts[n++] = TCPOLEN_WINDOW;
		opts[n++] = wscale;
	}
	return n;
}

static unsigned int alttcp_syn_options(struct alttcp_sock *ask, u8 *opts,
				       bool offer_sack, bool offer_ts,
				       bool offer_wscale, bool ack)
{
	/* TSecr is 0 unless the ACK bit is set (RFC 7323 3.2). */
	return alttcp_put_syn_options(opts, ask->adv_mss, offer_sack, offer_ts,
				      alttcp_tsval(ask),
				      ack ? ask->ts_recent : 0,
				      offer_wscale ? ask->rcv_wscale : -1);
}

/*
 * The SYN-ACK of a request entry (request.c), or of a SYN cookie (a
 * request on the stack, whose TSval carries the window scale), from its
 * listener. Options go back only as the SYN offered them.
 */
void alttcp_send_synack_req(struct sock *lsk,
			    const struct alttcp_request *req, u32 tsval)
{
	struct sk_buff *skb = alttcp_alloc_ctl(GFP_ATOMIC);
	int wscale = req->snd_wscale != 0xff ? alttcp_sk(lsk)->rcv_wscale : -1;
	u8 opts[20];
	unsigned int optlen;

	if (!skb)
		return;
	optlen = alttcp_put_syn_options(opts, req->adv_mss, req->sack_ok,
					req->ts_ok, tsval, req->ts_recent,
					wscale);
	alttcp_emit(sock_net(lsk), NULL, lsk, skb, req->laddr, req->raddr,
		    req->lport, req->rport, req->iss, req->irs + 1,
		    TCPHDR_SYN | TCPHDR_ACK, req->rcv_wnd, opts, optlen,
		    inet_sk(lsk)->tos);
}

/* A request entry's answer to an invalid segment: an ACK of the SYN. */
void alttcp_send_req_ack(struct sock *lsk, const struct alttcp_request *req)
{
	struct sk_buff *skb = alttcp_alloc_ctl(GFP_ATOMIC);
	u8 opts[TCPOLEN_TSTAMP_ALIGNED];
	unsigned int optlen = 0;

	if (!skb)
		return;
	if (req->ts_ok) {
		opts[0] = TCPOPT_NOP;
		opts[1] = TCPOPT_NOP;
		opts[2] = TCPOPT_TIMESTAMP;
		opts[3] = TCPOLEN_TIMESTAMP;
		put_unaligned_be32(alttcp_now_ms() + req->ts_off, opts + 4);
		put_unaligned_be32(req->ts_recent, opts + 8);
		optlen = TCPOLEN_TSTAMP_ALIGNED;
	}
	alttcp_emit(sock_net(lsk), NULL, lsk, skb, req->laddr, req->raddr,
		    req->lport, req->rport, req->iss + 1, req->irs + 1,
		    TCPHDR_ACK, req->rcv_wnd, opts, optlen, inet_sk(lsk)->tos);
}

static int alttcp_send_syn_common(struct sock *sk, u8 flags, bool sack,
				  bool ts, bool wscale)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct sk_buff *skb = alttcp_alloc_ctl(GFP_ATOMIC);
	u8 opts[20];
	unsigned int optlen;

	if (!skb)
		return -ENOBUFS;
	if (!ask->retransmits) {
		ask->syn_tx_us = (u32)ktime_to_us(ktime_get());
		ask->iss_ts = alttcp_tsval(ask);
	}
	optlen = alttcp_syn_options(ask, opts, sack, ts, wscale,
				    flags & TCPHDR_ACK);
	return alttcp_emit(sock_net(sk), sk, NULL, skb, inet->inet_saddr,
			   inet->inet_daddr, inet->inet_sport,
			   inet->inet_dport, ask->iss,
			   (flags & TCPHDR_ACK) ? ask->rcv_nxt : 0, flags,
			   alttcp_window_field(sk, true), opts, optlen,
			   inet->tos);
}

int alttcp_send_syn(struct sock *sk)
{
	return alttcp_send_syn_common(sk, TCPHDR_SYN, alttcp_offer_sack(sk),
				      alttcp_offer_timestamps(sk), true);
}

/* Options are offered back only when the peer offered them. */
int alttcp_send_synack(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	return alttcp_send_syn_common(sk, TCPHDR_SYN | TCPHDR_ACK,
				      ask->sack_ok, ask->ts_ok, ask->wscale_ok);
}

static void alttcp_send_ctl(struct sock *sk, u32 seq, u8 flags, gfp_t gfp)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct sk_buff *skb = alttcp_alloc_ctl(gfp);
	unsigned int optlen = 0;
	u8 opts[MAX_TCP_OPTION_SPACE];

	if (!skb)
		return;
	/* RFC 7323 3.2: in every segment but a RST. */
	if (ask->ts_ok && !(flags & TCPHDR_RST))
		optlen = alttcp_ts_option(ask, opts, true, alttcp_tsval(ask));
	/* Data segments go without SACK blocks: their size leaves no room
	 * (the MSS counts the timestamps only); each ACK carries them.
	 */
	if (ask->sack_ok && !(flags & TCPHDR_RST))
		optlen += alttcp_sack_option(ask, opts + optlen,
					     MAX_TCP_OPTION_SPACE - optlen);
	alttcp_emit(sock_net(sk), sk, NULL, skb, inet->inet_saddr,
		    inet->inet_daddr,
		    inet->inet_sport, inet->inet_dport, seq, ask->rcv_nxt,
		    flags, alttcp_window_field(sk, false), opts, optlen,
		    inet->tos);
}

void alttcp_send_ack(struct sock *sk)
{
	alttcp_send_ctl(sk, alttcp_sk(sk)->snd_nxt, TCPHDR_ACK, GFP_ATOMIC);
}

/* Zero window probe: an old sequence number makes the peer answer with
 * its current window.
 */
void alttcp_send_probe(struct sock *sk)
{
	alttcp_send_ctl(sk, alttcp_sk(sk)->snd_una - 1, TCPHDR_ACK,
			GFP_ATOMIC);
}

void alttcp_send_active_rst(struct sock *sk, gfp_t gfp)
{
	alttcp_send_ctl(sk, alttcp_sk(sk)->snd_nxt, TCPHDR_RST | TCPHDR_ACK,
			gfp);
}

/* RFC 9293 3.10.7.1: the reset for a segment nobody wants. */
void alttcp_send_reset_reply(struct net *net, struct sk_buff *in)
{
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(in);
	const struct tcphdr *th = tcp_hdr(in);
	struct sk_buff *skb;
	u32 seq = 0, ack = 0;
	u8 flags = TCPHDR_RST;

	if (cb->flags & TCPHDR_RST)
		return;
	if (cb->flags & TCPHDR_ACK) {
		seq = cb->ack_seq;
	} else {
		ack = cb->end_seq;
		flags |= TCPHDR_ACK;
	}
	skb = alttcp_alloc_ctl(GFP_ATOMIC);
	if (!skb)
		return;
	alttcp_emit(net, NULL, NULL, skb, cb->daddr, cb->saddr, th->dest,
		    th->source,
		    seq, ack, flags, 0, NULL, 0, 0);
}

void alttcp_send_ack_reply(struct net *net, __be32 saddr, __be32 daddr,
			   __be16 sport, __be16 dport, u32 seq, u32 ack,
			   u16 window)
{
	struct sk_buff *skb = alttcp_alloc_ctl(GFP_ATOMIC);

	if (!skb)
		return;
	alttcp_emit(net, NULL, NULL, skb, saddr, daddr, sport, dport, seq, ack,
		    TCPHDR_ACK, window, NULL, 0, 0);
}

/* A retransmission: the namespace's RetransSegs and TCP_INFO's totals. */
static void alttcp_count_retrans(struct sock *sk, u32 bytes, u16 segs)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ALTTCP_ADD_STATS(sock_net(sk), ALTTCP_MIB_RETRANSSEGS, segs);
	ask->total_retrans += segs;
	ask->bytes_retrans += bytes;
}

/* The segments a queued skb leaves as. */
static u16 alttcp_skb_segs(const struct sock *sk, const struct sk_buff *skb)
{
	u32 mss = alttcp_sk(sk)->mss;

	if (skb->len <= mss || alttcp_mtup_is_probe(sk, skb))
		return 1;
	return DIV_ROUND_UP(skb->len, mss);
}

/*
 * Marks c, about to be sent, for GSO when it holds more than one segment:
 * the device or software GSO cuts it at the MSS and gives each piece its
 * headers, PSH and FIN on the last only. An MTU probe is one segment
 * larger than the MSS.
 */
static void alttcp_set_gso(struct sock *sk, struct sk_buff *c, u32 mss)
{
	struct skb_shared_info *shinfo = skb_shinfo(c);

	if (alttcp_skb_segs(sk, c) == 1) {
		shinfo->gso_size = 0;
		shinfo->gso_type = 0;
		shinfo->gso_segs = 1;
		return;
	}
	shinfo->gso_size = mss;
	shinfo->gso_type = SKB_GSO_TCPV4;
	shinfo->gso_segs = alttcp_skb_segs(sk, c);
}

/* Sends one skb of the write queue; the queued original stays for
 * retransmission. A clone shares the data; when an earlier clone is still
 * in flight the headers must not be shared, so copy them.
 */
static int alttcp_xmit_queued(struct sock *sk, struct sk_buff *skb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	struct sk_buff *c;
	u8 flags = TCPHDR_ACK | (cb->flags & (TCPHDR_FIN | TCPHDR_PSH));
	u8 opts[TCPOLEN_TSTAMP_ALIGNED];
	unsigned int optlen = 0;
	u64 now_ns;
	int err;

	if (unlikely(skb_cloned(skb)))
		c = pskb_copy(skb, GFP_ATOMIC);
	else
		c = skb_clone(skb, GFP_ATOMIC);
	if (!c)
		return -ENOBUFS;
	/* The clone's cb is the original's: alttcp_mtup_is_probe() reads
	 * seq there, until alttcp_emit() clears it for IP.
	 */
	alttcp_set_gso(sk, c, ask->mss);
	cb->seg_size = skb_is_gso(c) ? ask->mss : skb->len;
	/* One clock read for the segment's times: in a virtual machine a
	 * read may trap to the host.
	 */
	now_ns = ktime_get_ns();
	cb->tx_ts = (u32)div_u64(now_ns, NSEC_PER_MSEC) + ask->ts_off;
	cb->xmit_us = (u32)div_u64(now_ns, NSEC_PER_USEC);
	if (skb->len)
		alttcp_pingpong_on_send(sk, cb->tx_ts - ask->ts_off);
	if (ask->ts_ok)
		optlen = alttcp_ts_option(ask, opts, true, cb->tx_ts);
	err = alttcp_emit(sock_net(sk), sk, NULL, c, inet->inet_saddr,
			  inet->inet_daddr, inet->inet_sport, inet->inet_dport,
			  cb->seq, ask->rcv_nxt, flags,
			  alttcp_window_field(sk, false), opts, optlen,
			  inet->tos);
	/* Congestion notified (NET_XMIT_CN) means sent. A macro: one call. */
	return net_xmit_eval(err);
}

/*
 * The socket's route, looked up again when the cached one went stale (a
 * lower path MTU learnt from ICMP makes it so); NULL without a route.
 * Socket locked.
 */
struct dst_entry *alttcp_sk_dst(struct sock *sk)
{
	struct inet_sock *inet = inet_sk(sk);
	struct dst_entry *dst = __sk_dst_check(sk, 0);
	struct flowi4 fl4;
	struct rtable *rt;

	if (dst)
		return dst;
	rt = ip_route_output_ports(sock_net(sk), &fl4, sk, inet->inet_daddr,
				   inet->inet_saddr, inet->inet_dport,
				   inet->inet_sport, IPPROTO_TCP,
				   RT_CONN_FLAGS(sk), sk->sk_bound_dev_if);
	if (IS_ERR(rt))
		return NULL;
	sk_setup_caps(sk, &rt->dst);
	return &rt->dst;
}

/* TCP and IP headers of a segment: 40 bytes, and timestamps if in use. */
static u32 alttcp_header_len(const struct alttcp_sock *ask)
{
	return sizeof(struct iphdr) + sizeof(struct tcphdr) +
	       (ask->ts_ok ? TCPOLEN_TSTAMP_ALIGNED : 0);
}

/*
 * Payload per segment: the peer's MSS, the path MTU, TCP_MAXSEG, and
 * while MTU probing holds it down (icmp.c), the size known to get
 * through. The MSS counts data only (RFC 6691): options come out of it.
 */
void alttcp_sync_mss(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct dst_entry *dst = alttcp_sk_dst(sk);
	u32 mss = ask->peer_mss ? ask->peer_mss : ALTTCP_MSS_DEFAULT;
	u32 mtu = dst ? dst_mtu(dst) : 0;

	ask->pmtu_cookie = mtu;
	/* Probing searches no higher than the route allows. */
	if (mtu && ask->mtup_high > mtu)
		ask->mtup_high = mtu;
	if (mtu && ask->mtup_enabled)
		mtu = min_t(u32, mtu, ask->mtup_low);
	/* An IPv4 MTU is at least 68, so this does not wrap. */
	if (mtu)
		mss = min_t(u32, mss, mtu - sizeof(struct iphdr) -
				      sizeof(struct tcphdr));
	if (ask->user_mss)
		mss = min_t(u32, mss, ask->user_mss);
	if (ask->ts_ok)
		mss -= TCPOLEN_TSTAMP_ALIGNED;
	ask->mss = max_t(u32, mss, ALTTCP_MSS_MIN);
}

/* MTU probing's conversions between an MTU and the MSS it allows. */
u32 alttcp_mtu_to_mss(const struct sock *sk, u32 mtu)
{
	u32 hlen = alttcp_header_len(alttcp_sk(sk));

	return mtu > hlen ? mtu - hlen : 0;
}

u32 alttcp_mss_to_mtu(const struct sock *sk, u32 mss)
{
	return mss + alttcp_header_len(alttcp_sk(sk));
}

/* A sent skb about to be sent again: the part not acknowledged, of at
 * most one MSS (Linux's tcp_retransmit_skb()).
 */
static int alttcp_fit_retransmit(struct sock *sk, struct sk_buff *skb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

	if (seq_before(cb->seq, ask->snd_una) &&
	    alttcp_wq_trim_head(sk, skb, ask->snd_una - cb->seq))
		return -ENOMEM;
	if (skb->len <= ask->mss || alttcp_mtup_is_probe(sk, skb))
		return 0;
	return alttcp_wq_split(sk, skb, ask->mss);
}

/*
 * The MSS shrank below what was sent: those segments were dropped on the
 * way, so send everything in flight again now, cut to the new size. The
 * congestion window stays: no more data enters the network, only in
 * smaller units (as Linux's tcp_simple_retransmit()).
 */
void alttcp_resend_resized(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;
	bool oversized = false;

	skb_queue_walk(&sk->sk_write_queue, skb) {
		if (skb == ask->send_head)
			break;
		if (ALTTCP_SKB_CB(skb)->seg_size > ask->mss) {
			oversized = true;
			break;
		}
	}
	if (!oversized)
		return;
	alttcp_sack_clear(sk);
	ask->in_recovery = false;
	ask->dupacks = 0;
	ask->snd_nxt = ask->snd_una;
	ask->send_head = skb_peek(&sk->sk_write_queue);
	alttcp_push(sk);
}

/* Where the sender's bookkeeping starts, once the SYNs are in. */
void alttcp_init_send_marks(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	ask->snd_sml = ask->write_seq;
	ask->pushed_seq = ask->write_seq;
	ask->recover = ask->write_seq;	/* past the SYN, RFC 6582 3.2 */
	ask->cwnd_usage_seq = ask->write_seq;
	ask->high_sacked = ask->write_seq;
	ask->max_flight = 0;
	ask->cwnd_limited = false;
	ask->lsnd_ms = alttcp_now_ms();
}

/*
 * Is the partial last segment of skb, the queue's tail, to wait for more
 * data? Corked, yes; with TCP_NODELAY, no; else Minshall's Nagle (as
 * Linux's tcp_nagle_check()): while a small segment sent is unacknowledged.
 */
static bool alttcp_nagle_holds(struct sock *sk, struct sk_buff *skb,
			       int how, u32 in_flight)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if ((how & ALTTCP_PUSH_FORCE) || !(skb->len % ask->mss) ||
	    (ALTTCP_SKB_CB(skb)->flags & TCPHDR_FIN) ||
	    !skb_queue_is_last(&sk->sk_write_queue, skb))
		return false;
	if ((how & ALTTCP_PUSH_CORK) || ask->cork)
		return true;
	return !ask->nodelay && in_flight &&
	       seq_after(ask->snd_sml, ask->snd_una) &&
	       seq_leq(ask->snd_sml, ask->snd_nxt);
}

/*
 * Bytes one trip down the stack may carry: about a millisecond at the
 * pacing rate, plus more the shorter the RTT, at least two segments and
 * at most the route's GSO size (Linux's tcp_tso_autosize() with its
 * defaults). One segment without GSO.
 */
static u32 alttcp_tso_autosize(struct sock *sk, u32 mss)
{
	unsigned long bytes;
	u32 shift, segs;

	if (!sk_can_gso(sk))
		return mss;
	bytes = READ_ONCE(sk->sk_pacing_rate) >> READ_ONCE(sk->sk_pacing_shift);
	shift = alttcp_sk(sk)->srtt_us >> 9;
	if (shift < BITS_PER_TYPE(u32))
		bytes += sk->sk_gso_max_size >> shift;
	bytes = min_t(unsigned long, bytes, sk->sk_gso_max_size);
	segs = max_t(u32, bytes / mss, 2);
	return min_t(u32, segs, sk->sk_gso_max_segs) * mss;
}

/*
 * How much of skb, whose first segment fits the peer's window and cwnd,
 * goes now (Linux's tcp_mss_split_point()): all of it if the windows and
 * the autosize take it, less a partial last segment Nagle holds; else as
 * many whole segments as they take. False: Nagle holds all of it.
 */
static bool alttcp_send_len(struct sock *sk, struct sk_buff *skb, u32 cwnd,
			    u32 in_flight, int how, u32 *len)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 mss = ask->mss, room, partial;

	*len = skb->len;
	if (skb->len <= mss || alttcp_mtup_is_probe(sk, skb))
		return !alttcp_nagle_holds(sk, skb, how, in_flight);
	room = ask->snd_una + ask->snd_wnd - ALTTCP_SKB_CB(skb)->seq;
	room = min(room, in_flight ? cwnd - in_flight : max(cwnd, mss));
	room = min(room, alttcp_tso_autosize(sk, mss));
	if (skb->len > room) {
		*len = rounddown(room, mss);
		return true;
	}
	partial = skb->len % mss;
	if (partial && alttcp_nagle_holds(sk, skb, how, in_flight))
		*len = skb->len - partial;
	return true;
}

/*
 * New data after an idle spell longer than the RTO: the path may have
 * changed, so cwnd halves for each RTO idle, down to the initial window
 * (RFC 5681 4.1, Linux's tcp_cwnd_restart() under the namespace's
 * tcp_slow_start_after_idle).
 */
static void alttcp_cwnd_restart(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	s32 idle = alttcp_now_ms() - ask->lsnd_ms;
	u32 restart = min(ALTTCP_INIT_CWND * ask->mss, ask->cwnd);
	u32 cwnd = ask->cwnd;

	if (idle > 0)
		alttcp_cong_tx_start(sk, idle);
	if (!READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_slow_start_after_idle) ||
	    idle <= (s32)ask->rto_ms)
		return;
	/* ssthresh keeps three quarters of what cwnd knew. */
	ask->ssthresh = max(ask->ssthresh, (cwnd >> 1) + (cwnd >> 2));
	while ((idle -= ask->rto_ms) > 0 && cwnd > restart)
		cwnd >>= 1;
	ask->cwnd = max(cwnd, restart);
}

/*
 * Was cwnd what held sending back this window (RFC 7661)? Then it may
 * grow; a sender that leaves it unused has not shown the path takes it.
 * Tracked per window of data, as Linux's tcp_cwnd_validate().
 */
static void alttcp_cwnd_validate(struct sock *sk, bool limited)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 flight = ask->snd_nxt - ask->snd_una;

	if (!seq_before(ask->snd_una, ask->cwnd_usage_seq) || limited ||
	    (!ask->cwnd_limited && flight > ask->max_flight)) {
		ask->cwnd_limited = limited;
		ask->max_flight = flight;
		ask->cwnd_usage_seq = ask->snd_nxt;
	}
}

/* Does the peer's window take skb's first segment (tcp_snd_wnd_test())? */
bool alttcp_wnd_takes(const struct sock *sk, const struct sk_buff *skb)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
	u32 end = skb->len > ask->mss ? cb->seq + ask->mss : cb->end_seq;

	return !seq_after(end, ask->snd_una + ask->snd_wnd);
}

/* Sends what the peer's window and the congestion window allow. */
void alttcp_push(struct sock *sk)
{
	__alttcp_push(sk, 0);
}

void __alttcp_push(struct sock *sk, int how)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	bool sent = false, cwnd_full = false;
	u32 cwnd = ask->cwnd;
	struct sk_buff *skb;

	if ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN | TCPF_SYN_SENT |
				   TCPF_SYN_RECV))
		return;
	/* Limited transmit (RFC 3042): a new segment for each of the first
	 * two duplicate ACKs, so a small window still gets its third. With
	 * SACK what the duplicates reported is out of the flight already.
	 */
	if (!ask->in_recovery && !ask->sack_ok)
		cwnd += min_t(u32, ask->dupacks, 2) * ask->mss;
	/* Lost segments go before new data (RFC 6675 NextSeg()). */
	if (ask->sack_ok && alttcp_sack_xmit_lost(sk, cwnd))
		sent = true;
	if (alttcp_mtu_probe(sk))
		return;
	while ((skb = ask->send_head)) {
		struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);
		u32 in_flight = alttcp_in_flight(ask);
		u32 first = min(skb->len, ask->mss), len;

		if (!alttcp_wnd_takes(sk, skb)) {
			if (!in_flight &&
			    !alttcp_timer_pending(sk, ALTTCP_TIMER_PERSIST))
				alttcp_timer_arm(sk, ALTTCP_TIMER_PERSIST,
						 ask->rto_ms);
			break;
		}
		if (in_flight && in_flight + first > cwnd) {
			cwnd_full = true;
			break;
		}
		if (!alttcp_send_len(sk, skb, cwnd, in_flight, how, &len))
			break;
		if (len < skb->len && alttcp_wq_split(sk, skb, len)) {
			if (!alttcp_timer_pending(sk, ALTTCP_TIMER_RETRANS) &&
			    !alttcp_timer_pending(sk, ALTTCP_TIMER_PERSIST))
				alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS,
						 ask->rto_ms);
			break;
		}
		if (alttcp_small_queue_full(sk, skb))
			break;
		if (!in_flight && !seq_before(cb->seq, ask->snd_max)) {
			alttcp_cwnd_restart(sk);
			cwnd = ask->cwnd;
		}
		if (seq_before(cb->seq, ask->snd_max)) {
			/* Sent before: go-back-N after a timeout. */
			u16 segs = alttcp_skb_segs(sk, skb);

			cb->retransmitted = 1;
			alttcp_count_retrans(sk, skb->len, segs);
			trace_alttcp_retransmit(sk, cb->seq, skb->len, segs,
						ask->retransmits);
		}
		if (alttcp_xmit_queued(sk, skb)) {
			/* Dropped on the way out: the timer tries again. */
			if (!alttcp_timer_pending(sk, ALTTCP_TIMER_RETRANS) &&
			    !alttcp_timer_pending(sk, ALTTCP_TIMER_PERSIST))
				alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS,
						 ask->rto_ms);
			break;
		}
		cb->tx_us = cb->xmit_us;
		ask->snd_nxt = cb->end_seq;
		if (skb->len % ask->mss)
			ask->snd_sml = cb->end_seq;
		if (seq_after(ask->snd_nxt, ask->snd_max)) {
			ask->snd_max = ask->snd_nxt;
			ask->lsnd_ms = cb->tx_ts - ask->ts_off;
		}
		sent = true;
		if (ask->in_recovery)
			ask->prr_out += cb->end_seq - cb->seq;
		if (alttcp_in_flight(ask) >= cwnd)
			cwnd_full = true;
		ask->send_head = skb_queue_is_last(&sk->sk_write_queue, skb) ?
				 NULL : skb->next;
		if (!alttcp_timer_pending(sk, ALTTCP_TIMER_RETRANS))
			alttcp_timer_arm(sk, ALTTCP_TIMER_RETRANS, ask->rto_ms);
	}
	if (sent || cwnd_full)
		alttcp_cwnd_validate(sk, cwnd_full);
	if (sent)
		alttcp_tlp_schedule(sk);
	/* Held with nothing in flight, no ACK comes to send it: the persist
	 * timer does, an RTO on (Linux's tcp_check_probe_timer()), which
	 * makes TCP_CORK's 200 ms ceiling.
	 */
	if (ask->send_head && ask->snd_nxt == ask->snd_una &&
	    !alttcp_timer_pending(sk, ALTTCP_TIMER_RETRANS) &&
	    !alttcp_timer_pending(sk, ALTTCP_TIMER_PERSIST))
		alttcp_timer_arm(sk, ALTTCP_TIMER_PERSIST, ask->rto_ms);
}

/* Our FIN takes the sequence number after the last queued byte. */
void alttcp_queue_fin(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *tail = skb_peek_tail(&sk->sk_write_queue);

	if (ask->fin_queued)
		return;
	ask->fin_queued = 1;
	if (tail && ask->send_head &&
	    !(ALTTCP_SKB_CB(tail)->flags & TCPHDR_FIN)) {
		ALTTCP_SKB_CB(tail)->flags |= TCPHDR_FIN;
		ALTTCP_SKB_CB(tail)->end_seq++;
	} else {
		/* A FIN is owed whatever the memory (Linux forces it too). */
		struct sk_buff *skb = alttcp_wq_alloc(sk, 0, sk->sk_allocation |
						      __GFP_NOFAIL, true);

		ALTTCP_SKB_CB(skb)->seq = ask->write_seq;
		ALTTCP_SKB_CB(skb)->end_seq = ask->write_seq + 1;
		ALTTCP_SKB_CB(skb)->flags = TCPHDR_FIN | TCPHDR_ACK;
		__skb_queue_tail(&sk->sk_write_queue, skb);
		if (!ask->send_head)
			ask->send_head = skb;
	}
	ask->write_seq++;
	alttcp_push(sk);
}

/* Resends the oldest unacknowledged segment (or the SYN / SYN-ACK). */
int alttcp_retransmit_head(struct sock *sk)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct sk_buff *skb;

	if ((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
		alttcp_count_retrans(sk, 0, 1);
		trace_alttcp_retransmit(sk, ask->iss, 0, 1, ask->retransmits);
		if (sk->sk_state == TCP_SYN_SENT)
			return alttcp_send_syn(sk);
		return alttcp_send_synack(sk);
	}
	skb = skb_peek(&sk->sk_write_queue);
	if (!skb || skb == ask->send_head)
		return 0;
	alttcp_undo_retransmitted(sk);
	return alttcp_retransmit_skb(sk, skb);
}

/* Resends one segment's worth from the front of skb, a sent one. */
int alttcp_retransmit_skb(struct sock *sk, struct sk_buff *skb)
{
	struct alttcp_sock *ask = alttcp_sk(sk);

	if (alttcp_fit_retransmit(sk, skb))
		return -ENOBUFS;
	alttcp_count_retrans(sk, skb->len, 1);
	trace_alttcp_retransmit(sk, ALTTCP_SKB_CB(skb)->seq, skb->len, 1,
				ask->retransmits);
	ALTTCP_SKB_CB(skb)->retransmitted = 1;
	return alttcp_xmit_queued(sk, skb);
}
