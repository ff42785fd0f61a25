/* SPDX-License-Identifier: GPL-2.0 */
/*
 * alttcp: tracepoints, under /sys/kernel/tracing/events/alttcp/.
 *
 * Each event carries the connection's 4-tuple as seen from this host:
 * local address and port first. They fire in whatever context the event
 * happens in (softirq for arriving segments and timers, process context
 * for socket calls) and never sleep.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM alttcp

#if !defined(_ALTTCP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _ALTTCP_TRACE_H

#include <linux/tracepoint.h>
#include <net/tcp.h>
#include <net/tcp_states.h>

#include "alttcp.h"

TRACE_DEFINE_ENUM(TCP_ESTABLISHED);
TRACE_DEFINE_ENUM(TCP_SYN_SENT);
TRACE_DEFINE_ENUM(TCP_SYN_RECV);
TRACE_DEFINE_ENUM(TCP_FIN_WAIT1);
TRACE_DEFINE_ENUM(TCP_FIN_WAIT2);
TRACE_DEFINE_ENUM(TCP_TIME_WAIT);
TRACE_DEFINE_ENUM(TCP_CLOSE);
TRACE_DEFINE_ENUM(TCP_CLOSE_WAIT);
TRACE_DEFINE_ENUM(TCP_LAST_ACK);
TRACE_DEFINE_ENUM(TCP_LISTEN);
TRACE_DEFINE_ENUM(TCP_CLOSING);

/* RFC 9293's names, as /proc/net/alttcp prints them. */
#define alttcp_show_state(s)					\
	__print_symbolic(s,					\
		{ TCP_ESTABLISHED, "ESTABLISHED" },		\
		{ TCP_SYN_SENT, "SYN_SENT" },			\
		{ TCP_SYN_RECV, "SYN_RECEIVED" },		\
		{ TCP_FIN_WAIT1, "FIN_WAIT_1" },		\
		{ TCP_FIN_WAIT2, "FIN_WAIT_2" },		\
		{ TCP_TIME_WAIT, "TIME_WAIT" },			\
		{ TCP_CLOSE, "CLOSED" },			\
		{ TCP_CLOSE_WAIT, "CLOSE_WAIT" },		\
		{ TCP_LAST_ACK, "LAST_ACK" },			\
		{ TCP_LISTEN, "LISTEN" },			\
		{ TCP_CLOSING, "CLOSING" })

TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPBADCSUM);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPBADDOFF);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPBADOPTS);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPBADFLAGS);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPOUTOFWINDOW);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPNOSOCKET);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPBACKLOG);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPLISTENOVERFLOW);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPNOMEM);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPOTHER);
TRACE_DEFINE_ENUM(ALTTCP_MIB_DROPPAWS);

/* The reasons are the Drop* counters of /proc/net/alttcp_stats. */
#define alttcp_show_drop(r)					\
	__print_symbolic(r,					\
		{ ALTTCP_MIB_DROPBADCSUM, "BadCsum" },		\
		{ ALTTCP_MIB_DROPBADDOFF, "BadDoff" },		\
		{ ALTTCP_MIB_DROPBADOPTS, "BadOpts" },		\
		{ ALTTCP_MIB_DROPBADFLAGS, "BadFlags" },	\
		{ ALTTCP_MIB_DROPOUTOFWINDOW, "OutOfWindow" },	\
		{ ALTTCP_MIB_DROPNOSOCKET, "NoSocket" },	\
		{ ALTTCP_MIB_DROPBACKLOG, "Backlog" },		\
		{ ALTTCP_MIB_DROPLISTENOVERFLOW, "ListenOverflow" }, \
		{ ALTTCP_MIB_DROPNOMEM, "NoMem" },		\
		{ ALTTCP_MIB_DROPOTHER, "Other" },		\
		{ ALTTCP_MIB_DROPPAWS, "Paws" })

/* The 4-tuple, local side first, as every event stores it. */
#define ALTTCP_TUPLE_ASSIGN(sa, sp, da, dp)			\
	do {							\
		memcpy(__entry->saddr, &(sa), 4);		\
		memcpy(__entry->daddr, &(da), 4);		\
		__entry->sport = ntohs(sp);			\
		__entry->dport = ntohs(dp);			\
	} while (0)

TRACE_EVENT(alttcp_state_change,
	    TP_PROTO(__be32 saddr, __be16 sport, __be32 daddr, __be16 dport,
		     int oldstate, int newstate),
	    TP_ARGS(saddr, sport, daddr, dport, oldstate, newstate),
	    TP_STRUCT__entry(__array(u8, saddr, 4)
			     __array(u8, daddr, 4)
			     __field(u16, sport)
			     __field(u16, dport)
			     __field(int, oldstate)
			     __field(int, newstate)),
	    TP_fast_assign(ALTTCP_TUPLE_ASSIGN(saddr, sport, daddr, dport);
			   __entry->oldstate = oldstate;
			   __entry->newstate = newstate),
	    TP_printk("%pI4:%u %pI4:%u %s -> %s",
		      __entry->saddr, __entry->sport,
		      __entry->daddr, __entry->dport,
		      alttcp_show_state(__entry->oldstate),
		      alttcp_show_state(__entry->newstate))
);

/* A retransmission of segs segments (what it adds to RetransSegs). */
TRACE_EVENT(alttcp_retransmit,
	    TP_PROTO(const struct sock *sk, u32 seq, u32 len, u16 segs,
		     u8 retransmits),
	    TP_ARGS(sk, seq, len, segs, retransmits),
	    TP_STRUCT__entry(__array(u8, saddr, 4)
			     __array(u8, daddr, 4)
			     __field(u16, sport)
			     __field(u16, dport)
			     __field(u32, seq)
			     __field(u32, len)
			     __field(u16, segs)
			     __field(u8, retransmits)
			     __field(int, state)),
	    TP_fast_assign(ALTTCP_TUPLE_ASSIGN(inet_sk(sk)->inet_saddr,
					       inet_sk(sk)->inet_sport,
					       inet_sk(sk)->inet_daddr,
					       inet_sk(sk)->inet_dport);
			   __entry->seq = seq;
			   __entry->len = len;
			   __entry->segs = segs;
			   __entry->retransmits = retransmits;
			   __entry->state = sk->sk_state),
	    TP_printk("%pI4:%u %pI4:%u %s seq=%u len=%u segs=%u retransmits=%u",
		      __entry->saddr, __entry->sport,
		      __entry->daddr, __entry->dport,
		      alttcp_show_state(__entry->state),
		      __entry->seq, __entry->len, __entry->segs,
		      __entry->retransmits)
);

DECLARE_EVENT_CLASS(alttcp_rst_class,
		    TP_PROTO(__be32 saddr, __be16 sport, __be32 daddr,
			     __be16 dport, u32 seq, u32 ack),
		    TP_ARGS(saddr, sport, daddr, dport, seq, ack),
		    TP_STRUCT__entry(__array(u8, saddr, 4)
				     __array(u8, daddr, 4)
				     __field(u16, sport)
				     __field(u16, dport)
				     __field(u32, seq)
				     __field(u32, ack)),
		    TP_fast_assign(ALTTCP_TUPLE_ASSIGN(saddr, sport, daddr,
						       dport);
				   __entry->seq = seq;
				   __entry->ack = ack),
		    TP_printk("%pI4:%u %pI4:%u seq=%u ack=%u",
			      __entry->saddr, __entry->sport,
			      __entry->daddr, __entry->dport,
			      __entry->seq, __entry->ack)
);

/* A RST this host sent. */
DEFINE_EVENT(alttcp_rst_class, alttcp_rst_send,
	     TP_PROTO(__be32 saddr, __be16 sport, __be32 daddr, __be16 dport,
		      u32 seq, u32 ack),
	     TP_ARGS(saddr, sport, daddr, dport, seq, ack)
);

/* A RST that was accepted and acted on. */
DEFINE_EVENT(alttcp_rst_class, alttcp_rst_recv,
	     TP_PROTO(__be32 saddr, __be16 sport, __be32 daddr, __be16 dport,
		      u32 seq, u32 ack),
	     TP_ARGS(saddr, sport, daddr, dport, seq, ack)
);

TRACE_EVENT(alttcp_drop,
	    TP_PROTO(__be32 saddr, __be16 sport, __be32 daddr, __be16 dport,
		     int reason),
	    TP_ARGS(saddr, sport, daddr, dport, reason),
	    TP_STRUCT__entry(__array(u8, saddr, 4)
			     __array(u8, daddr, 4)
			     __field(u16, sport)
			     __field(u16, dport)
			     __field(int, reason)),
	    TP_fast_assign(ALTTCP_TUPLE_ASSIGN(saddr, sport, daddr, dport);
			   __entry->reason = reason),
	    TP_printk("%pI4:%u %pI4:%u reason=%s",
		      __entry->saddr, __entry->sport,
		      __entry->daddr, __entry->dport,
		      alttcp_show_drop(__entry->reason))
);

TRACE_EVENT(alttcp_tw_expire,
	    TP_PROTO(const struct alttcp_tw *tw),
	    TP_ARGS(tw),
	    TP_STRUCT__entry(__array(u8, saddr, 4)
			     __array(u8, daddr, 4)
			     __field(u16, sport)
			     __field(u16, dport)),
	    TP_fast_assign(ALTTCP_TUPLE_ASSIGN(tw->saddr, tw->sport,
					       tw->daddr, tw->dport)),
	    TP_printk("%pI4:%u %pI4:%u",
		      __entry->saddr, __entry->sport,
		      __entry->daddr, __entry->dport)
);

/* TCP flags as tcpdump prints them ("." is ACK). */
#define alttcp_show_flags(f)					\
	__print_flags(f, "",					\
		{ TCPHDR_FIN, "F" },				\
		{ TCPHDR_SYN, "S" },				\
		{ TCPHDR_RST, "R" },				\
		{ TCPHDR_PSH, "P" },				\
		{ TCPHDR_URG, "U" },				\
		{ TCPHDR_ACK, "." },				\
		{ TCPHDR_ECE, "E" },				\
		{ TCPHDR_CWR, "W" })

/*
 * Every segment alttcp sends, stateless replies too (sk NULL), as it
 * leaves for IP: one event for an skb that GSO cuts into segs segments
 * of the MSS. len is the payload; win the window in bytes: the header's
 * field shifted by our scale (not on a SYN, nor without a socket, where
 * the field is all there is).
 */
TRACE_EVENT(alttcp_segment_send,
	    TP_PROTO(const struct sock *sk, const struct tcphdr *th,
		     __be32 saddr, __be32 daddr, u32 len, u16 segs),
	    TP_ARGS(sk, th, saddr, daddr, len, segs),
	    TP_STRUCT__entry(__array(u8, saddr, 4)
			     __array(u8, daddr, 4)
			     __field(u16, sport)
			     __field(u16, dport)
			     __field(u32, seq)
			     __field(u32, ack)
			     __field(u32, len)
			     __field(u32, window)
			     __field(u16, segs)
			     __field(u8, flags)),
	    TP_fast_assign(ALTTCP_TUPLE_ASSIGN(saddr, th->source, daddr,
					       th->dest);
			   __entry->seq = ntohl(th->seq);
			   __entry->ack = ntohl(th->ack_seq);
			   __entry->len = len;
			   __entry->segs = segs;
			   __entry->flags = tcp_flag_byte(th);
			   __entry->window = (u32)ntohs(th->window) <<
				(sk && !th->syn ? alttcp_sk(sk)->rcv_wscale : 0)),
	    TP_printk("%pI4:%u %pI4:%u seq=%u ack=%u len=%u segs=%u flags=%s win=%u",
		      __entry->saddr, __entry->sport,
		      __entry->daddr, __entry->dport,
		      __entry->seq, __entry->ack, __entry->len,
		      __entry->segs, alttcp_show_flags(__entry->flags),
		      __entry->window)
);

/*
 * Every segment handed to a socket (a listener's, or a connection's
 * through its backlog too), validated and past the host's policy; those
 * dropped before are alttcp_drop. win is in bytes: the field shifted by
 * the peer's scale (not on a SYN, nor at a listener, which has none).
 */
TRACE_EVENT(alttcp_segment_recv,
	    TP_PROTO(const struct sock *sk, const struct sk_buff *skb),
	    TP_ARGS(sk, skb),
	    TP_STRUCT__entry(__array(u8, saddr, 4)
			     __array(u8, daddr, 4)
			     __field(u16, sport)
			     __field(u16, dport)
			     __field(u32, seq)
			     __field(u32, ack)
			     __field(u32, len)
			     __field(u32, window)
			     __field(u8, flags)),
	    TP_fast_assign(const struct alttcp_skb_cb *cb = ALTTCP_SKB_CB(skb);

			   ALTTCP_TUPLE_ASSIGN(cb->daddr, tcp_hdr(skb)->dest,
					       cb->saddr, tcp_hdr(skb)->source);
			   __entry->seq = cb->seq;
			   __entry->ack = cb->ack_seq;
			   __entry->len = cb->end_seq - cb->seq -
					  !!(cb->flags & TCPHDR_SYN) -
					  !!(cb->flags & TCPHDR_FIN);
			   __entry->flags = cb->flags;
			   __entry->window = (u32)cb->window <<
				((cb->flags & TCPHDR_SYN) ||
				 sk->sk_state == TCP_LISTEN ?
				 0 : alttcp_sk(sk)->snd_wscale)),
	    TP_printk("%pI4:%u %pI4:%u seq=%u ack=%u len=%u flags=%s win=%u",
		      __entry->saddr, __entry->sport,
		      __entry->daddr, __entry->dport,
		      __entry->seq, __entry->ack, __entry->len,
		      alttcp_show_flags(__entry->flags), __entry->window)
);

/*
 * The congestion state after each ACK the connection processed and each
 * retransmission timeout: cwnd and ssthresh in bytes (ssthresh
 * 4294967295 until the first loss), SRTT in microseconds (0 before a
 * sample), RTO in milliseconds.
 */
TRACE_EVENT(alttcp_cong,
	    TP_PROTO(const struct sock *sk),
	    TP_ARGS(sk),
	    TP_STRUCT__entry(__array(u8, saddr, 4)
			     __array(u8, daddr, 4)
			     __field(u16, sport)
			     __field(u16, dport)
			     __field(u32, snd_una)
			     __field(u32, snd_nxt)
			     __field(u32, cwnd)
			     __field(u32, ssthresh)
			     __field(u32, srtt_us)
			     __field(u32, rto_ms)
			     __field(bool, in_recovery)),
	    TP_fast_assign(const struct alttcp_sock *ask = alttcp_sk(sk);

			   ALTTCP_TUPLE_ASSIGN(inet_sk(sk)->inet_saddr,
					       inet_sk(sk)->inet_sport,
					       inet_sk(sk)->inet_daddr,
					       inet_sk(sk)->inet_dport);
			   __entry->snd_una = ask->snd_una;
			   __entry->snd_nxt = ask->snd_nxt;
			   __entry->cwnd = ask->cwnd;
			   __entry->ssthresh = ask->ssthresh;
			   __entry->srtt_us = ask->srtt_us;
			   __entry->rto_ms = ask->rto_ms;
			   __entry->in_recovery = ask->in_recovery),
	    TP_printk("%pI4:%u %pI4:%u snd_una=%u snd_nxt=%u cwnd=%u ssthresh=%u srtt_us=%u rto_ms=%u recovery=%u",
		      __entry->saddr, __entry->sport,
		      __entry->daddr, __entry->dport,
		      __entry->snd_una, __entry->snd_nxt, __entry->cwnd,
		      __entry->ssthresh, __entry->srtt_us, __entry->rto_ms,
		      __entry->in_recovery)
);

#endif /* _ALTTCP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
