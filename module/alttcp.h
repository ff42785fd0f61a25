/* SPDX-License-Identifier: GPL-2.0 */
/*
 * alttcp: definitions shared by the module's files.
 *
 * Contexts and locks, in one place (Documentation/alttcp.rst says more):
 *
 * - Socket calls run in process context under lock_sock() and may sleep.
 * - Segments arrive in softirq (the netfilter hook). The hook finds the
 *   socket under RCU, takes a reference and bh_lock_sock(); when a process
 *   owns the socket the segment goes to the socket backlog and is handled
 *   by release_sock() through proto.backlog_rcv. So every per-connection
 *   field below is guarded by the socket lock, whichever context holds it.
 * - The one hrtimer of a connection runs in softirq (HRTIMER_MODE_*_SOFT)
 *   and defers its work to release_cb when a process owns the socket.
 * - The tables of a namespace (struct alttcp_net) are read under RCU and
 *   written under alttcp_net.lock (a BH-safe spinlock). Sockets are freed
 *   after a grace period (SOCK_RCU_FREE), TIME_WAIT entries by kfree_rcu.
 * - A listener's accept queue is guarded by alttcp_sock.queue_lock; it
 *   nests inside a child's socket lock, never the other way round. Its
 *   SYN queue of request entries is guarded by the listener's socket lock
 *   (request.c).
 */
#ifndef _ALTTCP_H
#define _ALTTCP_H

#include <linux/hrtimer.h>
#include <linux/rbtree.h>
#include <linux/skbuff.h>
#include <linux/types.h>
#include <linux/tcp.h>
#include <net/inet_sock.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/tcp_states.h>
#include <uapi/linux/alttcp.h>

/* Listeners and TIME_WAIT entries by local port; the tables by 4-tuple
 * are sized per namespace (table.c: alttcp_net.hash_mask).
 */
#define ALTTCP_PORT_HASH_SIZE	1024
/* Local ports share alttcp_net.port_users counts by their low bits. */
#define ALTTCP_PORT_BUCKETS	4096

#define ALTTCP_MSS_DEFAULT	536U	/* RFC 9293 3.7.1: no MSS option */
#define ALTTCP_MSS_MIN		88U	/* Linux's TCP_MIN_MSS */
#define ALTTCP_MAX_WSCALE	14U
#define ALTTCP_RTO_INIT_MS	1000U
#define ALTTCP_RTO_SYN_FALLBACK_MS 3000U	/* RFC 6298 5.7 */
#define ALTTCP_RTO_MIN_MS	200U
#define ALTTCP_RTO_MAX_MS	120000U
#define ALTTCP_SYN_RETRIES	6U
#define ALTTCP_SYNACK_RETRIES	5U
#define ALTTCP_RETRIES		15U
#define ALTTCP_MSL_MS		30000U
#define ALTTCP_FIN_TIMEOUT_MS	60000U
#define ALTTCP_DELACK_MAX_MS	200U
#define ALTTCP_DELACK_MIN_MS	40U	/* Linux's TCP_ATO_MIN */
#define ALTTCP_QUICKACKS	16U	/* Linux's TCP_MAX_QUICKACKS */
#define ALTTCP_INVALID_RATELIMIT_MS 500U	/* tcp_invalid_ratelimit */
#define ALTTCP_CHALLENGE_ACK_LIMIT 1000U	/* per second, per namespace */
#define ALTTCP_MAX_ORPHANS	16384U	/* per namespace */
#define ALTTCP_ORPHAN_RETRIES	0U	/* 0: 8 while the peer seems alive */
#define ALTTCP_SYNCOOKIES	1U	/* when the SYN queue overflows */
#define ALTTCP_MAX_SYN_BACKLOG	256U	/* SYN queue, at least */
#define ALTTCP_INIT_CWND	10U	/* segments, RFC 6928 */
#define ALTTCP_CWND_MAX		(65535U << 14)	/* bytes: the largest window */
#define ALTTCP_MTU_PROBING	0U	/* Linux's tcp_mtu_probing */
#define ALTTCP_BASE_MSS		1024U	/* Linux's tcp_base_mss */
#define ALTTCP_MTU_PROBE_FLOOR	48U	/* Linux's tcp_mtu_probe_floor */
#define ALTTCP_PROBE_THRESHOLD	8U	/* Linux's tcp_probe_threshold */
#define ALTTCP_PROBE_INTERVAL_MS 600000U /* Linux's tcp_probe_interval */
#define ALTTCP_RETRIES1		3U	/* Linux's tcp_retries1 */

/* Counters of /proc/net/alttcp_stats; names in stats.c, same order. */
enum alttcp_mib_field {
	ALTTCP_MIB_ACTIVEOPENS,
	ALTTCP_MIB_PASSIVEOPENS,
	ALTTCP_MIB_ATTEMPTFAILS,
	ALTTCP_MIB_ESTABRESETS,
	ALTTCP_MIB_INSEGS,
	ALTTCP_MIB_OUTSEGS,
	ALTTCP_MIB_RETRANSSEGS,
	ALTTCP_MIB_INERRS,
	ALTTCP_MIB_OUTRSTS,
	ALTTCP_MIB_INCSUMERRORS,
	ALTTCP_MIB_INRSTS,
	ALTTCP_MIB_DROPBADCSUM,
	ALTTCP_MIB_DROPBADDOFF,
	ALTTCP_MIB_DROPBADOPTS,
	ALTTCP_MIB_DROPBADFLAGS,
	ALTTCP_MIB_DROPOUTOFWINDOW,
	ALTTCP_MIB_DROPNOSOCKET,
	ALTTCP_MIB_DROPBACKLOG,
	ALTTCP_MIB_DROPLISTENOVERFLOW,
	ALTTCP_MIB_DROPNOMEM,
	ALTTCP_MIB_DROPOTHER,
	ALTTCP_MIB_DROPPAWS,
	ALTTCP_MIB_CHALLENGEACKS,
	ALTTCP_MIB_RTOTIMEOUTS,
	ALTTCP_MIB_TIMEWAITS,
	ALTTCP_MIB_DELAYEDACKS,
	ALTTCP_MIB_PERSISTPROBES,
	ALTTCP_MIB_KEEPALIVEPROBES,
	ALTTCP_MIB_KEEPALIVETIMEOUTS,
	ALTTCP_MIB_FINWAIT2TIMEOUTS,
	ALTTCP_MIB_SYNRECVTIMEOUTS,
	ALTTCP_MIB_TIMEWAITEXPIRED,
	ALTTCP_MIB_DROPRCVBUF,
	ALTTCP_MIB_DROPOFOMEM,
	ALTTCP_MIB_DROPOFODUP,
	ALTTCP_MIB_DROPOFOPRUNED,
	ALTTCP_MIB_RCVPRUNED,
	ALTTCP_MIB_RCVCOALESCE,
	ALTTCP_MIB_OFOQUEUE,
	ALTTCP_MIB_MEMORYPRESSURES,
	ALTTCP_MIB_DROPOLDACK,
	ALTTCP_MIB_DROPACKUNSENT,
	ALTTCP_MIB_ACKSKIPPEDSEQ,
	ALTTCP_MIB_ACKSKIPPEDPAWS,
	ALTTCP_MIB_ACKSKIPPEDCHALLENGE,
	ALTTCP_MIB_ACKSKIPPEDTIMEWAIT,
	ALTTCP_MIB_ORPHANDROPS,
	ALTTCP_MIB_TOOMANYORPHANS,
	ALTTCP_MIB_SYNCOOKIESSENT,
	ALTTCP_MIB_SYNCOOKIESRECV,
	ALTTCP_MIB_SYNCOOKIESFAILED,
	ALTTCP_MIB_LISTENOVERFLOWS,
	ALTTCP_MIB_LISTENDROPS,
	ALTTCP_MIB_ACKSKIPPEDSYNRECV,
	ALTTCP_MIB_RCVCOLLAPSED,
	ALTTCP_MIB_DROPSOCKETFILTER,
	ALTTCP_MIB_DROPXFRMPOLICY,
	ALTTCP_MIB_DROPCONNTRACK,
	ALTTCP_MIB_INICMPS,
	ALTTCP_MIB_ICMPCSUMERRORS,
	ALTTCP_MIB_OUTOFWINDOWICMPS,
	ALTTCP_MIB_ICMPIGNORED,
	ALTTCP_MIB_PMTUUPDATES,
	ALTTCP_MIB_MTUPROBEREDUCTIONS,
	ALTTCP_MIB_TSQTHROTTLED,
	ALTTCP_MIB_MTUPROBES,
	ALTTCP_MIB_MTUPROBESUCCESSES,
	ALTTCP_MIB_MTUPROBEFAILURES,
	ALTTCP_MIB_HYSTARTEXIT,
	ALTTCP_MIB_SACKRECOVERY,
	ALTTCP_MIB_SACKRENEGING,
	ALTTCP_MIB_SACKDISCARD,
	ALTTCP_MIB_DSACKRECV,
	ALTTCP_MIB_DSACKOLDSENT,
	ALTTCP_MIB_DSACKOFOSENT,
	ALTTCP_MIB_FULLUNDO,
	ALTTCP_MIB_PARTIALUNDO,
	ALTTCP_MIB_DSACKUNDO,
	ALTTCP_MIB_LOSSUNDO,
	ALTTCP_MIB_SPURIOUSRTOS,
	ALTTCP_MIB_SACKREORDER,
	ALTTCP_MIB_TSREORDER,
	ALTTCP_MIB_LOSSPROBES,
	ALTTCP_MIB_LOSSPROBERECOVERY,
	ALTTCP_MIB_LOSTRETRANSMIT,
	ALTTCP_MIB_MAX
};

struct alttcp_mib {
	unsigned long v[ALTTCP_MIB_MAX];
};

/* Timer parameters of a namespace (sysctl.c); defaults: module params. */
struct alttcp_params {
	unsigned int msl_ms;
	unsigned int rto_min_ms;
	unsigned int rto_max_ms;
	unsigned int syn_retries;
	unsigned int synack_retries;
	unsigned int retries;
	unsigned int fin_timeout_ms;
	unsigned int delack_max_ms;
	unsigned int invalid_ratelimit_ms;
	unsigned int challenge_ack_limit;
	unsigned int max_orphans;
	unsigned int orphan_retries;
	unsigned int syncookies;
	unsigned int max_syn_backlog;
	unsigned int mtu_probing;
	unsigned int base_mss;
	unsigned int mtu_probe_floor;
	unsigned int probe_threshold;
	unsigned int probe_interval_ms;
	unsigned int ehash_entries;	/* read-only: alttcp_net.hash_mask + 1 */
	unsigned int congestion_control;	/* ALTTCP_CA_* */
};

enum {
	ALTTCP_CA_RENO,
	ALTTCP_CA_CUBIC,
};

enum {
	ALTTCP_HSPP_SS,		/* slow start, watching the RTT */
	ALTTCP_HSPP_CSS,	/* Conservative Slow Start */
	ALTTCP_HSPP_DONE,	/* not (any more): not the first slow start */
};

/* A SACK block: [start, end) */
struct alttcp_sack_block {
	u32 start;
	u32 end;
};

/* Blocks a receiver remembers; 3 fit beside timestamps, 4 without. */
#define ALTTCP_NUM_SACKS	4

/* cong.c: CUBIC's state (RFC 9438) and HyStart++'s (RFC 9406). Bytes, ms. */
struct alttcp_cubic {
	u32 w_max;		/* cwnd before the last reduction */
	u32 origin;		/* the curve's plateau: W_max, or cwnd */
	u32 k_ms;		/* when the curve is back at the plateau */
	u32 epoch_ms;		/* this avoidance epoch began, 0: not yet */
	u32 w_est;		/* where a Reno flow would be */
	u32 acc;		/* growth owed, below one byte of cwnd */
	u32 round_end;		/* HyStart++: snd_nxt as this round began */
	u32 cur_min_rtt_us;	/* least RTT of this round */
	u32 last_min_rtt_us;	/* and of the last */
	u32 css_base_rtt_us;	/* as Conservative Slow Start began */
	u8 rtt_samples;		/* this round's */
	u8 css_rounds;
	u8 hystart;		/* ALTTCP_HSPP_* */
};

/* Per network namespace state; reached through net_generic(). */
struct alttcp_net {
	spinlock_t lock;		/* writers of the tables */
	u32 hash_mask;			/* ehash, twhash, rqhash: size - 1 */
	struct hlist_head *ehash;	/* connections, by 4-tuple */
	struct hlist_head *lhash;	/* listeners, by local port */
	struct hlist_head *twhash;	/* TIME_WAIT entries, by 4-tuple */
	struct hlist_head *twphash;	/* the same, by local port */
	struct hlist_head *rqhash;	/* request entries, by 4-tuple */
	atomic_t *port_users;		/* table.c: alttcp_port_maybe_ours() */
	atomic_t tw_count;
	atomic_t orphans;		/* closed by the user, not yet CLOSED */
	struct alttcp_mib __percpu *mib;
	struct proc_dir_entry *proc_conns;	/* /proc/net/alttcp */
	struct proc_dir_entry *proc_stats;	/* /proc/net/alttcp_stats */
	struct alttcp_params params;		/* /proc/sys/net/alttcp/ */
	struct ctl_table_header *sysctl;
	struct ctl_table_header *sysctl_global;	/* init_net only */
	u32 challenge_second;		/* ackrate.c: the second counted */
	u32 challenge_left;		/* challenge ACKs it may still send */
};

struct alttcp_port_holder;

/* What a received segment carries, parsed once in input.c; and a queued
 * one to send (output.c, wqueue.c).
 */
struct alttcp_skb_cb {
	__be32 saddr;
	__be32 daddr;
	u32 seq;		/* first sequence number */
	u32 end_seq;		/* seq + SYN + FIN + payload length */
	u32 ack_seq;
	u32 tx_us;		/* send time (output), for RTT samples */
	u32 tx_ts;		/* TSval of its latest transmission */
	u16 window;		/* raw, unscaled */
	u16 mss;		/* MSS option, 0 if none */
	u8 flags;		/* TCPHDR_* */
	u8 wscale;		/* window scale option, 0xff if none */
	u8 retransmitted:1,	/* Karn: no RTT sample from this one */
	   saw_tstamp:1,	/* a timestamps option came: tsval, tsecr */
	   sack_perm:1;		/* input: a SYN's SACK-permitted option */
	u8 sack_off;		/* input: the SACK option's offset, 0: none */
	union {
		u32 tsval;	/* input */
		u32 xmit_us;	/* output: its latest sending, for RACK */
	};
	u32 tsecr;
	u16 seg_size;		/* output: payload per segment when last sent */
	u8 sacked;		/* output: ALTTCP_SKB_* scoreboard marks */
};

/* The sender's scoreboard (sack.c), in alttcp_skb_cb.sacked. */
#define ALTTCP_SKB_SACKED	0x01	/* the peer has it (RFC 2018) */
#define ALTTCP_SKB_LOST		0x02	/* presumed lost: to send again */
#define ALTTCP_SKB_RETRANS	0x04	/* sent again, lost mark kept */

#define ALTTCP_SKB_CB(skb) ((struct alttcp_skb_cb *)&((skb)->cb[0]))

#define TCPHDR_FIN 0x01
#define TCPHDR_SYN 0x02
#define TCPHDR_RST 0x04
#define TCPHDR_PSH 0x08
#define TCPHDR_ACK 0x10
#define TCPHDR_URG 0x20

/* Bits of alttcp_sock.atomic_flags: work release_cb does for softirq. */
#define ALTTCP_TIMER_DEFERRED	0	/* timer fired while owned */
#define ALTTCP_MTU_REDUCED_DEFERRED 1	/* ICMP frag needed while owned */
#define ALTTCP_ICMP_ERR_DEFERRED 2	/* ICMP error in SYN-SENT, owned */
#define ALTTCP_TSQ_THROTTLED	3	/* tsq.c: waits for a segment freed */
#define ALTTCP_TSQ_QUEUED	4	/* on a CPU's tasklet list */
#define ALTTCP_TSQ_DEFERRED	5	/* the tasklet found it owned */

/*
 * The deadlines of a connection; one hrtimer serves them all, set to the
 * earliest. RETRANS and PERSIST exclude each other.
 */
enum alttcp_timer_kind {
	ALTTCP_TIMER_NONE,
	ALTTCP_TIMER_RETRANS,
	ALTTCP_TIMER_PERSIST,
	ALTTCP_TIMER_DELACK,
	ALTTCP_TIMER_KEEPALIVE,
	ALTTCP_TIMER_FIN_WAIT2,
	ALTTCP_TIMER_SYNACK,	/* a listener's request entries (request.c) */
	ALTTCP_TIMER_LOSS_PROBE, /* tail loss probe (tlp.c), before RETRANS */
	ALTTCP_TIMER_REORDER,	/* RACK's reordering window (rack.c) */
	ALTTCP_TIMER_MAX
};

/* A listener's child: where it sits. Guarded by the listener's queue_lock. */
enum alttcp_child_queue {
	ALTTCP_CHILD_NONE,
	ALTTCP_CHILD_ACCEPT,	/* established, waiting for accept() */
};

/* An alttcp socket; inet_sock first so the inet helpers can use it. */
struct alttcp_sock {
	struct inet_sock inet;

	/* RFC 9293 3.3.1 send sequence variables */
	u32 iss;
	u32 snd_una;
	u32 snd_nxt;
	u32 snd_wnd;		/* scaled */
	u32 snd_wl1;
	u32 snd_wl2;
	u32 snd_max;		/* highest sequence number ever sent */
	u32 write_seq;		/* end of the data queued by the user */
	u32 max_window;		/* largest window the peer offered */
	u32 snd_sml;		/* end of the last small segment sent (Nagle) */
	u32 pushed_seq;		/* end of the last write marked PSH */
	/* receive sequence variables */
	u32 irs;
	u32 rcv_nxt;
	u32 rcv_wnd;		/* last advertised, bytes */
	u32 rcv_wup;		/* rcv_nxt at that advertisement */
	u32 copied_seq;		/* next byte the user reads */

	u16 mss;		/* payload bytes per segment we send */
	u16 peer_mss;		/* the peer's MSS option, or the default */
	u16 adv_mss;		/* MSS option we send */
	u16 user_mss;		/* TCP_MAXSEG, 0 if unset */
	u32 mtu_info;		/* MTU of the latest ICMP frag needed (icmp.c) */
	u32 pmtu_cookie;	/* path MTU the MSS was last synced to */
	u32 mtup_low;		/* MTU probing: an MTU known to get through */
	u32 mtup_high;		/* and the least one known not to, plus 1 */
	u32 mtup_probe_size;	/* the probe out (an MTU), or 0 */
	u32 mtup_probe_seq, mtup_probe_end;	/* its sequence numbers */
	unsigned long mtup_stamp;	/* jiffies: the search's last step */
	u16 keepidle_s;		/* TCP_KEEPIDLE, 0: the namespace default */
	u16 keepintvl_s;	/* TCP_KEEPINTVL, 0: the namespace default */
	u8 keepcnt;		/* TCP_KEEPCNT, 0: the namespace default */
	u8 snd_wscale;		/* shift of the peer's windows */
	u8 rcv_wscale;		/* shift of our windows */
	u8 nodelay:1,
	   cork:1,		/* TCP_CORK: hold partial segments */
	   wscale_ok:1,
	   fin_queued:1,	/* our FIN is in the write queue */
	   fin_acked:1,
	   active_open:1,
	   unpinned:1,		/* orphan gave back its module reference */
	   destroyed:1,
	   time_wait:1,		/* handed over to a TIME_WAIT entry */
	   ts_ok:1,		/* timestamps negotiated (RFC 7323) */
	   orphan_counted:1,	/* counted in alttcp_net.orphans */
	   mtup_enabled:1,	/* MTU probing: the MSS is held to mtup_low */
	   sack_ok:1;		/* SACK agreed (RFC 2018) */
	u32 ts_recent;		/* the peer's TSval to echo */
	u32 ts_off;		/* added to the clock in our TSvals */
	u32 iss_ts;		/* our TSval when the connection began */
	u64 bytes_acked;	/* for TCP_INFO */
	u64 bytes_received;
	u64 bytes_retrans;	/* payload sent again */
	u32 total_retrans;	/* segments sent again, SYNs too */
	unsigned long atomic_flags;	/* ALTTCP_*_DEFERRED, set from softirq */
	struct list_head tsq_node;	/* tsq.c, while ALTTCP_TSQ_QUEUED */

	/* congestion control (RFC 5681, NewReno RFC 6582) */
	u32 cwnd;		/* bytes */
	u32 ssthresh;		/* bytes */
	u32 recover;		/* snd_max at fast recovery or a timeout:
				 * fast retransmit once snd_una reaches it
				 */
	u32 max_flight;		/* most in flight this window (RFC 7661) */
	u32 cwnd_usage_seq;	/* end of that window */
	u32 lsnd_ms;		/* when new data last left */
	u8 dupacks;
	u8 ca;			/* ALTTCP_CA_*: cong.c */
	bool in_recovery;
	bool cwnd_limited;	/* cwnd held sending back this window */
	struct alttcp_cubic cubic;

	/* SACK (sack.c). Receiver: the blocks to report, most recent
	 * first, and a D-SACK for the next ACK. Sender: the scoreboard's
	 * totals in bytes of sequence space, and PRR (RFC 6937).
	 */
	struct alttcp_sack_block dsack_block;
	struct alttcp_sack_block sacks[ALTTCP_NUM_SACKS];
	u8 num_sacks;
	u8 dsack;		/* dsack_block goes in the next ACK */
	u32 sacked_out;
	u32 lost_out;
	u32 retrans_out;	/* sent again and not SACKed since */
	u32 prr_delivered;
	u32 prr_out;
	u32 recover_fs;		/* in flight as recovery began */
	u32 high_sacked;	/* highest SACKed end, or snd_una */

	/* undo of needless reductions, reordering (undo.c) */
	u32 undo_marker;	/* snd_una when the reduction began */
	u32 undo_tsval;		/* our TSval then: echoes below are originals' */
	u32 prior_cwnd;		/* cwnd and ssthresh before it */
	u32 prior_ssthresh;
	s32 undo_retrans;	/* retransmissions not D-SACKed, -1: none */
	u16 reordering;		/* segments that may arrive late */
	u8 undo_ok:1,		/* undo_* describe the last reduction */
	   in_loss:1,		/* after a timeout, until recover is reached */
	   tlp_out:1,		/* a tail loss probe is out (tlp.c) */
	   tlp_retrans:1;	/* and it was a segment sent again */
	u32 tlp_high_seq;	/* snd_nxt after the probe */

	/* RACK (rack.c): the most recently sent segment delivered */
	u32 rack_xmit_us;	/* when it went out */
	u32 rack_end_seq;
	u32 rack_rtt_us;	/* and the round trip its delivery took */
	u32 rack_min_rtt_us;	/* the least RTT sample, 0: none yet */
	u8 rack_advanced:1,	/* a newer delivery, not yet looked at */
	   rack_reord:1,	/* reordering was seen */
	   rack_dsack_seen:1,	/* a D-SACK since the window was judged */
	   rack_reo_persist:5;	/* recoveries the widened window lasts */
	u8 rack_reo_extra;	/* steps the window was widened by */
	u32 rack_reo_stamp_us;	/* when it last was */
	u32 now_us;		/* the clock, read once an ACK or reorder timeout */

	/* delivery rate (rate.c) */
	u64 delivered;		/* bytes the peer got, each once */
	u64 rate_delivered;	/* delivered when this sample began */
	u32 rate_stamp_us;	/* and when, 0: not yet */
	u32 delivery_rate;	/* bytes/s over the last sample */

	/* RTT and retransmission (RFC 6298), microseconds */
	u32 srtt_us;
	u32 rttvar_us;
	u32 rto_ms;
	u32 syn_tx_us;		/* when the first SYN left */
	u8 retransmits;		/* of the oldest unacknowledged segment */
	u8 backoff;
	u32 user_timeout_ms;	/* TCP_USER_TIMEOUT, 0: none */
	u32 retrans_stamp_ms;	/* first send of what is being retransmitted */
	u32 probes_stamp_ms;	/* first zero-window probe, 0: none */
	u8 probes_out;		/* zero-window probes unanswered */

	/* receive buffer autotuning (autotune.c) */
	u32 rcv_rtt_us;		/* the receiver's RTT estimate, << 3 */
	u32 rcv_rtt_seq;	/* without timestamps: the window measured */
	u32 rcv_rtt_time_us;	/* and when it started, 0: not yet */
	u32 rcv_rtt_last_tsecr;	/* the echo last measured */
	u32 rcvq_space;		/* bytes read in the last measured RTT */
	u32 rcvq_seq;		/* copied_seq when that began */
	u32 rcvq_time_us;

	/* delayed ACK and keepalive */
	u32 rcv_mss;		/* largest segment the peer sent, bytes */
	u8 quickacks;		/* data segments still acknowledged at once */
	u8 ka_probes;		/* keepalive probes unanswered */
	u8 pingpong:1;		/* interactive: our data answers the peer's */
	u32 rcv_tstamp_ms;	/* when the last acceptable segment came */
	u32 lrcv_ms;		/* when the last data segment came */
	u32 last_oow_ack_ms;	/* ackrate.c: last ACK to an invalid one */

	struct hrtimer timer;
	u16 timers_pending;		/* BIT(alttcp_timer_kind) */
	ktime_t deadline[ALTTCP_TIMER_MAX];
	ktime_t timer_expires;		/* what the hrtimer is set to */

	struct sk_buff *send_head;	/* first unsent skb of the write queue */
	struct rb_root ofo_root;	/* out-of-order segments, by seq (ofo.c) */
	struct sk_buff *ofo_last;	/* the one furthest ahead */

	/* listener side */
	spinlock_t queue_lock;
	struct list_head syn_queue;	/* request entries, oldest first */
	struct list_head accept_queue;
	u32 syn_qlen;			/* socket lock; read locklessly */
	u32 accept_qlen;
	unsigned long cookie_jiffies;	/* last SYN cookie sent; 0: never */
	/* child side */
	struct sock *parent;		/* listener, until accept() */
	struct list_head child_node;
	enum alttcp_child_queue child_queue;

	/* tables */
	struct hlist_node hash_node;	/* ehash or lhash */
	bool hashed;
	struct alttcp_port_holder *port_holder;	/* port.c */
	struct sock *holder_sk;		/* its socket, while listening */
};

static inline struct alttcp_sock *alttcp_sk(const struct sock *sk)
{
	return (struct alttcp_sock *)sk;
}

/* A connection in TIME_WAIT: just what is needed to answer the peer. */
struct alttcp_tw {
	struct hlist_node node;
	struct hlist_node port_node;
	struct rcu_head rcu;
	refcount_t refcnt;
	possible_net_t net;
	__be32 saddr, daddr;	/* local, remote */
	__be16 sport, dport;
	u32 snd_nxt;
	u32 rcv_nxt;
	u16 rcv_wnd;		/* advertised, already scaled down */
	u8 rcv_wscale;		/* its shift, for procfs */
	kuid_t uid;
	int bound_dev_if;	/* the socket's SO_BINDTODEVICE */
	int l3mdev;		/* and its VRF, for bind conflicts */
	u32 last_oow_ack_ms;	/* ackrate.c */
	bool hashed;
	struct hrtimer timer;
};

/*
 * A passive open in SYN-RECEIVED (request.c): what the SYN said and what
 * our SYN-ACK answered, instead of a whole socket. In rqhash and on its
 * listener's syn_queue; the rest is guarded by the listener's socket lock.
 * A SYN cookie is decoded into one on the stack (listen.c).
 */
struct alttcp_request {
	struct hlist_node hash_node;	/* alttcp_net.rqhash */
	struct list_head queue_node;	/* listener's syn_queue */
	struct rcu_head rcu;
	struct sock *listener;		/* outlives its requests */
	__be32 laddr, raddr;
	__be16 lport, rport;
	u32 irs;
	u32 iss;
	u32 rcv_wnd;		/* offered in the SYN-ACK, never scaled */
	u32 ts_recent;		/* the peer's TSval to echo */
	u32 ts_off;		/* added to the clock in our TSvals */
	u32 iss_ts;		/* our TSval in the first SYN-ACK */
	u32 synack_us;		/* when the first SYN-ACK left */
	u32 last_oow_ack_ms;	/* answer to a repeated SYN, rate-limited */
	ktime_t deadline;	/* next SYN-ACK, or the end */
	kuid_t uid;		/* the listener's, for procfs */
	u16 peer_mss;		/* the SYN's MSS option, 0 if none */
	u16 adv_mss;		/* ours */
	u8 snd_wscale;		/* the SYN's window scale, 0xff if none */
	u8 retransmits;		/* SYN-ACKs sent again */
	u8 ts_ok:1,		/* timestamps agreed */
	   sack_ok:1,		/* SACK agreed */
	   resent:1,		/* SYN-ACK sent again for a repeated SYN */
	   cookie:1;		/* decoded from a SYN cookie */
};

extern unsigned int alttcp_net_id;
extern struct proto alttcp_prot;
extern const struct proto_ops alttcp_stream_ops;

static inline struct alttcp_net *alttcp_pernet(const struct net *net)
{
	return net_generic(net, alttcp_net_id);
}

#define ALTTCP_INC_STATS(net, field) \
	this_cpu_inc(alttcp_pernet(net)->mib->v[field])
#define ALTTCP_ADD_STATS(net, field, n) \
	this_cpu_add(alttcp_pernet(net)->mib->v[field], n)

/* inet_sk_state_load() readers pair with this release. */
static inline void alttcp_state_store(struct sock *sk, int state)
{
	/* Lockless readers (poll, procfs) see the fields set before. */
	smp_store_release(&sk->sk_state, state);
}

/* Bytes received and not read; the peer's FIN takes a number, not a byte. */
static inline u32 alttcp_unread(const struct sock *sk)
{
	const struct alttcp_sock *ask = alttcp_sk(sk);
	s32 n = READ_ONCE(ask->rcv_nxt) - READ_ONCE(ask->copied_seq) -
		sock_flag(sk, SOCK_DONE);

	return n > 0 ? n : 0;
}

/* 32-bit sequence space comparisons (RFC 9293 3.4) */
static inline bool seq_before(u32 a, u32 b)
{
	return (s32)(a - b) < 0;
}

#define seq_after(a, b) seq_before(b, a)

static inline bool seq_leq(u32 a, u32 b)
{
	return (s32)(a - b) <= 0;
}

#define seq_geq(a, b) seq_leq(b, a)

static inline u32 alttcp_now_ms(void)
{
	return (u32)ktime_to_ms(ktime_get());
}

/* Our TSval now (RFC 7323): the clock, offset per pair of hosts. */
static inline u32 alttcp_tsval(const struct alttcp_sock *ask)
{
	return alttcp_now_ms() + ask->ts_off;
}

/* table.c */
u32 alttcp_hash_port(const struct net *net, __be16 port);
u32 alttcp_hash4(const struct net *net, __be32 laddr, __be16 lport,
		 __be32 raddr, __be16 rport);
int alttcp_tables_init(struct alttcp_net *an);
void alttcp_tables_exit(struct alttcp_net *an);
struct sock *alttcp_lookup_established(struct net *net, __be32 saddr,
				       __be16 sport, __be32 daddr,
				       __be16 dport, int dif, int sdif);
int alttcp_ehash_insert(struct sock *sk);
void alttcp_port_users_add(struct net *net, __be16 port, int n);

/*
 * Could a segment to this local port be alttcp's? No when nothing of
 * alttcp's (connection, TIME_WAIT entry, port holder) has it: then the
 * hook passes the segment on after reading one counter, not the tables.
 * Lockless; counts only ever lead the tables they guard (table.c).
 */
static inline bool alttcp_port_maybe_ours(const struct net *net,
					  __be16 port)
{
	const struct alttcp_net *an = alttcp_pernet(net);

	return atomic_read(&an->port_users[ntohs(port) &
					   (ALTTCP_PORT_BUCKETS - 1)]);
}

void alttcp_ehash_remove(struct sock *sk);
void alttcp_lhash_insert(struct sock *sk);
void alttcp_lhash_remove(struct sock *sk);

/* port.c */
int alttcp_port_reserve(struct sock *sk, __be32 addr, __be16 port);
void alttcp_port_release(struct sock *sk);
int alttcp_port_listen(struct sock *sk, int backlog);
void alttcp_port_unlisten(struct sock *sk);
struct sock *alttcp_port_listener(struct net *net, struct sk_buff *skb,
				  __be32 saddr, __be16 sport,
				  __be32 daddr, __be16 dport, int doff,
				  int dif, int sdif, bool *ours);
void alttcp_port_exit(void);

/* tsq.c */
void alttcp_wfree(struct sk_buff *skb);
bool alttcp_small_queue_full(struct sock *sk, const struct sk_buff *skb);
void alttcp_update_pacing_rate(struct sock *sk);
void alttcp_tsq_release(struct sock *sk);
void alttcp_tsq_init(void);
void alttcp_tsq_exit(void);

/* conntrack.c */
unsigned int alttcp_ct_confirm(struct sk_buff *skb);
void alttcp_ct_exit(void);

/* input.c */
int alttcp_input_init_net(struct net *net);
void alttcp_input_exit_net(struct net *net);
int alttcp_do_rcv(struct sock *sk, struct sk_buff *skb);
void alttcp_deliver_redirected(struct sock *sk, struct sk_buff *skb);
void alttcp_count_drop(struct net *net, const struct sk_buff *skb,
		       enum alttcp_mib_field reason);

/* fsm.c */
void alttcp_set_state(struct sock *sk, int state);
void alttcp_trace_state(const struct sock *sk, int oldstate, int newstate);
void alttcp_rcv_segment(struct sock *sk, struct sk_buff *skb);
void alttcp_listen_rcv(struct sock *sk, struct sk_buff *skb);
void alttcp_done(struct sock *sk);
void alttcp_apply_syn_options(struct sock *sk,
			      const struct alttcp_skb_cb *cb);
void alttcp_abort_all(struct net *net);
void alttcp_reset(struct sock *sk, int err);
void alttcp_enter_time_wait(struct sock *sk);
u32 alttcp_receive_window(const struct sock *sk);
void alttcp_handshake_rtt(struct sock *sk);

/* output.c */
u32 alttcp_isn(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport);
u32 alttcp_ts_offset(__be32 saddr, __be32 daddr);
void alttcp_init_isn_secret(void);
int alttcp_send_syn(struct sock *sk);
int alttcp_send_synack(struct sock *sk);
void alttcp_send_synack_req(struct sock *lsk,
			    const struct alttcp_request *req, u32 tsval);
void alttcp_send_req_ack(struct sock *lsk, const struct alttcp_request *req);
void alttcp_send_ack(struct sock *sk);
void alttcp_send_probe(struct sock *sk);
void alttcp_send_active_rst(struct sock *sk, gfp_t gfp);
void alttcp_send_reset_reply(struct net *net, struct sk_buff *skb);
void alttcp_send_ack_reply(struct net *net, __be32 saddr, __be32 daddr,
			   __be16 sport, __be16 dport, u32 seq, u32 ack,
			   u16 window);
/* How alttcp_push() treats a partial last segment (Linux's TCP_NAGLE_*). */
#define ALTTCP_PUSH_CORK	1	/* hold it: more is coming */
#define ALTTCP_PUSH_FORCE	2	/* send it whatever Nagle says */
void __alttcp_push(struct sock *sk, int how);
void alttcp_init_send_marks(struct sock *sk);
void alttcp_push(struct sock *sk);
bool alttcp_wnd_takes(const struct sock *sk, const struct sk_buff *skb);
void alttcp_queue_fin(struct sock *sk);
int alttcp_retransmit_head(struct sock *sk);
int alttcp_retransmit_skb(struct sock *sk, struct sk_buff *skb);
void alttcp_sync_mss(struct sock *sk);
struct dst_entry *alttcp_sk_dst(struct sock *sk);
u32 alttcp_mtu_to_mss(const struct sock *sk, u32 mtu);
u32 alttcp_mss_to_mtu(const struct sock *sk, u32 mss);
void alttcp_resend_resized(struct sock *sk);
bool alttcp_offer_timestamps(const struct sock *sk);

/* fsm.c */
bool alttcp_is_cwnd_limited(const struct alttcp_sock *ask);

/* sack.c */
bool alttcp_offer_sack(const struct sock *sk);
void alttcp_sack_init(struct sock *sk);
void alttcp_sack_new_ofo(struct sock *sk, u32 seq, u32 end_seq);
void alttcp_sack_rcv_nxt_moved(struct sock *sk);
void alttcp_sack_reset(struct sock *sk);
void alttcp_dsack_set(struct sock *sk, u32 seq, u32 end_seq);
unsigned int alttcp_sack_option(struct alttcp_sock *ask, u8 *opts,
				unsigned int room);
u32 alttcp_in_flight(const struct alttcp_sock *ask);
bool alttcp_sack_rcv(struct sock *sk, const struct sk_buff *skb);
void alttcp_sack_on_ack(struct sock *sk, u32 acked, u32 prior_sacked);
void alttcp_sack_forget(struct sock *sk, struct sk_buff *skb);
void alttcp_sack_trimmed(struct sock *sk, struct sk_buff *skb, u32 len);
void alttcp_sack_clear(struct sock *sk);
void alttcp_sack_enter_loss(struct sock *sk);
void alttcp_sack_unmark_lost(struct sock *sk);

/* undo.c */
void alttcp_undo_init(struct sock *sk);
void alttcp_undo_begin(struct sock *sk);
void alttcp_undo_retransmitted(struct sock *sk);
void alttcp_undo_dsack(struct sock *sk, u32 start, u32 end);
void alttcp_reorder_seen(struct sock *sk, u32 low_seq, bool ts);
bool alttcp_undo_on_ack(struct sock *sk, const struct alttcp_skb_cb *cb,
			u32 acked, u32 prior_una);

/*
 * The congestion state as Linux names it (TCP_INFO, /proc/net/alttcp):
 * Disorder while SACKed, lost or resent data is out of recovery.
 * Lockless readers get a snapshot.
 */
static inline u8 alttcp_ca_state(const struct alttcp_sock *ask)
{
	if (READ_ONCE(ask->in_recovery))
		return TCP_CA_Recovery;
	if (ask->in_loss || READ_ONCE(ask->retransmits))
		return TCP_CA_Loss;
	if (READ_ONCE(ask->sacked_out) || READ_ONCE(ask->lost_out) ||
	    READ_ONCE(ask->retrans_out))
		return TCP_CA_Disorder;
	return TCP_CA_Open;
}

/* rack.c */
bool alttcp_rack_enabled(const struct sock *sk);
void alttcp_rack_rtt_sample(struct sock *sk, u32 rtt_us);
void alttcp_rack_delivered(struct sock *sk, const struct sk_buff *skb,
			   u32 tsecr);
void alttcp_rack_on_ack(struct sock *sk);
void alttcp_rack_timer(struct sock *sk);
void alttcp_sack_mark_skb_lost(struct sock *sk, struct sk_buff *skb);
void alttcp_sack_losses_found(struct sock *sk);

/* rate.c */
void alttcp_rate_on_ack(struct sock *sk, u32 delivered);

/* tlp.c */
void alttcp_tlp_schedule(struct sock *sk);
void alttcp_tlp_timer(struct sock *sk);
void alttcp_tlp_ack(struct sock *sk, u32 ack, bool advanced, bool dsack);
bool alttcp_sack_xmit_lost(struct sock *sk, u32 cwnd);

/* cong.c */
const char *alttcp_cong_name(unsigned int ca);
int alttcp_cong_find(const char *name);
void alttcp_cong_init(struct sock *sk);
int alttcp_cong_set(struct sock *sk, const char *name);
void alttcp_cong_rtt_sample(struct sock *sk, u32 rtt_us);
void alttcp_cong_on_ack(struct sock *sk, u32 acked, bool limited);
u32 alttcp_cong_ssthresh(struct sock *sk);
void alttcp_cong_tx_start(struct sock *sk, u32 idle_ms);

/* autotune.c */
void alttcp_rcv_rtt_measure(struct sock *sk, const struct alttcp_skb_cb *cb,
			    u32 len, bool in_order);
void alttcp_rcv_space_adjust(struct sock *sk);
void alttcp_sndbuf_grow(struct sock *sk);
void alttcp_init_buffer_space(struct sock *sk);

/* wqueue.c */
u32 alttcp_size_goal(const struct sock *sk);
struct sk_buff *alttcp_wq_alloc(struct sock *sk, u32 size, gfp_t gfp,
				bool force);
void alttcp_wq_free(struct sock *sk, struct sk_buff *skb);
int alttcp_wq_copy(struct sock *sk, struct sk_buff *skb,
		   struct iov_iter *from, int copy);
int alttcp_wq_add_page(struct sock *sk, struct sk_buff *skb,
		       struct page *page, int offset, int copy);
int alttcp_wq_split(struct sock *sk, struct sk_buff *skb, u32 len);
int alttcp_wq_trim_head(struct sock *sk, struct sk_buff *skb, u32 len);

/* timer.c */
void alttcp_timer_init(struct sock *sk);
void alttcp_timer_arm(struct sock *sk, enum alttcp_timer_kind kind,
		      u32 ms);
void alttcp_timer_clear(struct sock *sk, enum alttcp_timer_kind kind);
void alttcp_timer_stop(struct sock *sk);
void alttcp_rearm_rto(struct sock *sk);
void alttcp_handle_timer(struct sock *sk);
void alttcp_rtt_sample(struct sock *sk, u32 rtt_us);
void alttcp_rto_restore(struct sock *sk);
enum alttcp_timer_kind alttcp_timer_next(const struct sock *sk,
					 unsigned int *ms);
void alttcp_delack_or_ack(struct sock *sk, bool now);
void alttcp_pingpong_on_send(struct sock *sk, u32 now_ms);
void alttcp_keepalive_reset(struct sock *sk);
void alttcp_set_keepalive(struct sock *sk, int on);
void alttcp_keepalive_idle_changed(struct sock *sk);

static inline bool alttcp_timer_pending(const struct sock *sk,
					enum alttcp_timer_kind kind)
{
	return alttcp_sk(sk)->timers_pending & BIT(kind);
}

/* timewait.c */
void alttcp_tw_create(struct sock *sk);
struct alttcp_tw *alttcp_tw_lookup(struct net *net, int dif, int sdif,
				   __be32 saddr, __be16 sport, __be32 daddr,
				   __be16 dport);
bool alttcp_tw_rcv(struct net *net, struct alttcp_tw *tw,
		   struct sk_buff *skb);
void alttcp_tw_put(struct alttcp_tw *tw);
void alttcp_tw_flush(struct net *net);
bool alttcp_tw_port_used(struct sock *sk, __be32 addr, __be16 port);
unsigned int alttcp_tw_remaining_ms(const struct alttcp_tw *tw);

/* ackrate.c */
void alttcp_send_dupack(struct sock *sk, const struct sk_buff *skb,
			enum alttcp_mib_field mib);
void alttcp_challenge_ack(struct sock *sk);
bool alttcp_tw_may_ack(struct net *net, struct alttcp_tw *tw,
		       const struct sk_buff *skb);
bool alttcp_req_may_ack(struct net *net, struct alttcp_request *req,
			const struct sk_buff *skb, bool challenge);

/* syncookie.c */
void alttcp_cookie_init_secret(void);
u32 alttcp_cookie_make(const struct alttcp_skb_cb *cb, __be16 sport,
		       __be16 dport, u16 *mss);
u16 alttcp_cookie_check(const struct alttcp_skb_cb *cb, __be16 sport,
			__be16 dport);
u32 alttcp_cookie_tsval(u32 now, u8 wscale, bool sack);
void alttcp_cookie_ts_options(u32 tsecr, u8 *wscale, bool *sack);

/* mem.c */
extern long alttcp_sysctl_mem[3];
void alttcp_mem_set_proto(struct proto *prot);
int alttcp_mem_init(void);
void alttcp_mem_exit(void);
void alttcp_mem_sock_init(struct sock *sk);
void alttcp_sock_destruct(struct sock *sk);
bool alttcp_under_memory_pressure(void);
long alttcp_memory_pages(void);
bool alttcp_rmem_admit(struct sock *sk, struct sk_buff *skb, bool in_order);
bool alttcp_try_coalesce(struct sock *sk, struct sk_buff *to,
			 struct sk_buff *from);
void alttcp_rcvq_tail(struct sock *sk, struct sk_buff *skb);

/* ofo.c */
void alttcp_ofo_init(struct sock *sk);
void alttcp_ofo_insert(struct sock *sk, struct sk_buff *skb);
bool alttcp_ofo_drain(struct sock *sk);
bool alttcp_ofo_prune(struct sock *sk);
void alttcp_ofo_purge(struct sock *sk);

static inline bool alttcp_ofo_empty(const struct sock *sk)
{
	return RB_EMPTY_ROOT(&alttcp_sk(sk)->ofo_root);
}

/* icmp.c */
int alttcp_icmp_init_net(struct net *net);
void alttcp_icmp_exit_net(struct net *net);
void alttcp_mtu_reduced(struct sock *sk);
/* mtu_probe.c */
void alttcp_mtu_probing(struct sock *sk);
void alttcp_mtup_init(struct sock *sk);
bool alttcp_mtu_probe(struct sock *sk);
bool alttcp_mtup_gathering(struct sock *sk);
bool alttcp_mtup_is_probe(const struct sock *sk, const struct sk_buff *skb);
void alttcp_mtup_acked(struct sock *sk);
bool alttcp_mtup_lost(struct sock *sk);
void alttcp_icmp_release(struct sock *sk);

/* sock.c */
void alttcp_init_private(struct sock *sk);
bool alttcp_too_many_orphans(struct sock *sk);
void alttcp_write_space(struct sock *sk);

/* info.c */
int alttcp_getsockopt_info(struct sock *sk, char __user *optval,
			   int __user *optlen, int len);
int alttcp_getsockopt_congestion(struct sock *sk, char __user *optval,
				 int __user *optlen, int len);
int alttcp_getsockopt_cc_info(int __user *optlen);
int alttcp_setsockopt_congestion(struct sock *sk, sockptr_t optval,
				 unsigned int optlen);

/* request.c */
int alttcp_request_init(void);
void alttcp_request_exit(void);
struct sock *alttcp_request_listener(struct net *net, __be32 laddr,
				     __be16 lport, __be32 raddr, __be16 rport);
struct alttcp_request *alttcp_request_lookup(struct sock *lsk,
					     const struct sk_buff *skb);
void alttcp_request_create(struct sock *lsk, struct sk_buff *skb,
			   u16 adv_mss);
void alttcp_request_rcv(struct sock *lsk, struct alttcp_request *req,
			struct sk_buff *skb);
void alttcp_request_timer(struct sock *lsk);
void alttcp_request_purge(struct sock *lsk);
void alttcp_request_icmp(struct sock *lsk, __be32 laddr, __be16 lport,
			 __be32 raddr, __be16 rport, u32 seq, bool abort);
u32 alttcp_request_rto_ms(const struct alttcp_request *req);

/* listen.c */
bool alttcp_child_from_request(struct sock *lsk,
			       const struct alttcp_request *req,
			       struct sk_buff *skb);
struct sock *alttcp_accept(struct sock *lsk, int flags, int *err, bool kern);
void alttcp_listen_stop(struct sock *lsk);

/* proc.c */
const char *alttcp_state_name(int state);
int alttcp_proc_init_net(struct net *net);
void alttcp_proc_exit_net(struct net *net);

/* sysctl.c */
int alttcp_sysctl_init_net(struct net *net);
void alttcp_sysctl_exit_net(struct net *net);

/* A parameter of sk's namespace, read locklessly. */
#define alttcp_param(net, name) READ_ONCE(alttcp_pernet(net)->params.name)

/* stats.c */
int alttcp_stats_init_net(struct net *net);
void alttcp_stats_exit_net(struct net *net);

#endif /* _ALTTCP_H */
