// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: /proc/net/alttcp, one per network namespace.
 *
 * One line per listener, connection, request and TIME_WAIT entry, read
 * from the tables under RCU (process context). The columns are a contract
 * (Documentation/alttcp.rst): scripts parse them, so add new ones only at
 * the end. Sequence numbers are shown to the entry's owner and to
 * CAP_NET_ADMIN only. Fields of a live connection are read without its
 * lock: a line is a snapshot, each number current when printed.
 */
#include <linux/proc_fs.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "alttcp.h"

#define ALTTCP_ROW_FMT \
	"%6u %-21s %-21s %-12s %10u %10u %10u %8u %8u %8u %7u %7u %7u %-10s %8u %8u %8u %5u %8lu %-8s %10d %10u %8u %11u %10u\n"

static const char *const alttcp_state_names[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED",
	[TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECEIVED",
	[TCP_FIN_WAIT1] = "FIN_WAIT_1",
	[TCP_FIN_WAIT2] = "FIN_WAIT_2",
	[TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSED",
	[TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK",
	[TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
};

const char *alttcp_state_name(int state)
{
	if (state < 0 || state >= ARRAY_SIZE(alttcp_state_names) ||
	    !alttcp_state_names[state])
		return "UNKNOWN";
	return alttcp_state_names[state];
}

static const char *const alttcp_timer_names[] = {
	[ALTTCP_TIMER_NONE] = "-",
	[ALTTCP_TIMER_RETRANS] = "retransmit",
	[ALTTCP_TIMER_PERSIST] = "persist",
	[ALTTCP_TIMER_DELACK] = "delack",
	[ALTTCP_TIMER_KEEPALIVE] = "keepalive",
	[ALTTCP_TIMER_FIN_WAIT2] = "fin_wait2",
	[ALTTCP_TIMER_SYNACK] = "synack",
	[ALTTCP_TIMER_LOSS_PROBE] = "loss_probe",
	[ALTTCP_TIMER_REORDER] = "reorder",
};

/* Entries are walked as listeners, connections, requests, TIME_WAIT. */
enum {
	ALTTCP_PROC_LISTEN,
	ALTTCP_PROC_CONN,
	ALTTCP_PROC_REQ,
	ALTTCP_PROC_TW,
	ALTTCP_PROC_END
};

/* Entries of one bucket remembered as shown; longer buckets may repeat. */
#define ALTTCP_PROC_SEEN	64

/*
 * Where the walk is: entry p at file position pos, in (kind, bucket).
 * A read resumes there after stop() instead of counting from the first
 * entry (10 000 entries would make every chunk walk them all). Entries
 * come and go between chunks; new ones are added at a bucket's head, so
 * the bucket is walked again from its head, skipping the entries already
 * shown (seen[], from position bucket_pos on): a stable entry is neither
 * repeated nor missed.
 */
struct alttcp_proc_iter {
	int kind;
	unsigned int bucket;
	unsigned int nseen;
	loff_t bucket_pos;
	loff_t pos;
	struct hlist_node *p;
	struct hlist_node *seen[ALTTCP_PROC_SEEN];
};

static struct hlist_head *alttcp_proc_table(struct alttcp_net *an, int kind)
{
	switch (kind) {
	case ALTTCP_PROC_LISTEN:
		return an->lhash;
	case ALTTCP_PROC_CONN:
		return an->ehash;
	case ALTTCP_PROC_REQ:
		return an->rqhash;
	default:
		return an->twhash;
	}
}

static struct alttcp_proc_iter *alttcp_proc_iter(struct seq_file *seq)
{
	return seq->private + sizeof(struct seq_net_private);
}

/* node, or the first after it in its bucket, not shown yet. Under RCU. */
static struct hlist_node *alttcp_proc_unseen(struct alttcp_proc_iter *it,
					     struct hlist_node *node)
{
	for (; node; node = rcu_dereference(hlist_next_rcu(node))) {
		unsigned int i, n = min_t(unsigned int, it->nseen,
					  ALTTCP_PROC_SEEN);

		for (i = 0; i < n && it->seen[i] != node; i++)
			;
		if (i == n)
			return node;
	}
	return NULL;
}

static void *alttcp_proc_take(struct alttcp_proc_iter *it,
			      struct hlist_node *node)
{
	if (it->nseen < ALTTCP_PROC_SEEN)
		it->seen[it->nseen] = node;
	it->nseen++;
	it->p = node;
	return it;
}

static unsigned int alttcp_proc_table_size(struct alttcp_net *an, int kind)
{
	return kind == ALTTCP_PROC_LISTEN ? ALTTCP_PORT_HASH_SIZE :
	       an->hash_mask + 1;
}

/* Done with this bucket: the next one starts at position pos. */
static void alttcp_proc_next_bucket(struct alttcp_net *an,
				    struct alttcp_proc_iter *it)
{
	it->nseen = 0;
	it->bucket_pos = it->pos;
	if (++it->bucket == alttcp_proc_table_size(an, it->kind)) {
		it->bucket = 0;
		it->kind++;
	}
}

/* From the current bucket on: the next entry not shown; NULL at the end. */
static void *alttcp_proc_seek(struct seq_file *seq)
{
	struct alttcp_net *an = alttcp_pernet(seq_file_net(seq));
	struct alttcp_proc_iter *it = alttcp_proc_iter(seq);

	while (it->kind < ALTTCP_PROC_END) {
		struct hlist_head *head =
			&alttcp_proc_table(an, it->kind)[it->bucket];
		struct hlist_node *node;

		node = alttcp_proc_unseen(it, rcu_dereference(hlist_first_rcu(head)));
		if (node)
			return alttcp_proc_take(it, node);
		alttcp_proc_next_bucket(an, it);
	}
	it->p = NULL;
	return NULL;
}

static void *alttcp_proc_advance(struct seq_file *seq)
{
	struct alttcp_net *an = alttcp_pernet(seq_file_net(seq));
	struct alttcp_proc_iter *it = alttcp_proc_iter(seq);
	struct hlist_node *node;

	it->pos++;
	node = alttcp_proc_unseen(it, rcu_dereference(hlist_next_rcu(it->p)));
	if (node)
		return alttcp_proc_take(it, node);
	alttcp_proc_next_bucket(an, it);
	return alttcp_proc_seek(seq);
}

static void *alttcp_proc_first(struct seq_file *seq)
{
	struct alttcp_proc_iter *it = alttcp_proc_iter(seq);

	it->kind = 0;
	it->bucket = 0;
	it->nseen = 0;
	it->pos = 1;
	it->bucket_pos = 1;
	return alttcp_proc_seek(seq);
}

static void *alttcp_seq_start(struct seq_file *seq, loff_t *pos)
	__acquires(RCU)
{
	struct alttcp_proc_iter *it = alttcp_proc_iter(seq);
	loff_t n;

	rcu_read_lock();
	if (!*pos)
		return SEQ_START_TOKEN;
	/* The walk ended: entries added since are for the next read. */
	if (!it->p && it->kind == ALTTCP_PROC_END && *pos >= it->pos)
		return NULL;
	/* Resuming: what this bucket handed out before *pos was shown. */
	if (it->p && *pos >= it->bucket_pos && *pos <= it->pos + 1 &&
	    *pos - it->bucket_pos <= ALTTCP_PROC_SEEN) {
		it->nseen = *pos - it->bucket_pos;
		it->pos = *pos;
		return alttcp_proc_seek(seq);
	}
	if (!alttcp_proc_first(seq))
		return NULL;
	for (n = 1; n < *pos; n++)
		if (!alttcp_proc_advance(seq))
			return NULL;
	return it;
}

static void *alttcp_seq_next(struct seq_file *seq, void *v, loff_t *pos)
{
	++*pos;
	if (v == SEQ_START_TOKEN)
		return alttcp_proc_first(seq);
	return alttcp_proc_advance(seq);
}

static void alttcp_seq_stop(struct seq_file *seq, void *v)
	__releases(RCU)
{
	rcu_read_unlock();
}

/*
 * Sequence numbers are what an off-path attacker needs to inject into a
 * connection (RFC 6528): only the entry's owner and those with
 * CAP_NET_ADMIN over the namespace see them, judged by who opened the
 * file; others read 0.
 */
static bool alttcp_proc_shows_seq(struct seq_file *seq, kuid_t owner)
{
	return uid_eq(owner, seq->file->f_cred->fsuid) ||
	       file_ns_capable(seq->file, seq_file_net(seq)->user_ns,
			       CAP_NET_ADMIN);
}

/*
 * The loss-recovery columns: congestion state as TCP_INFO's
 * tcpi_ca_state (info.c), ssthresh in bytes (-1 until the first
 * reduction, as /proc/net/tcp), the scoreboard in segments of the
 * current MSS as TCP_INFO's, and the reordering degree. A listener,
 * request or TIME_WAIT entry has none: "-" and zeros.
 */
struct alttcp_proc_recovery {
	const char *ca_state;
	int ssthresh;
	u32 sacked, lost, retrans, reordering;
};

static const struct alttcp_proc_recovery alttcp_proc_no_recovery = {
	.ca_state = "-",
};

static void alttcp_proc_recovery(struct alttcp_sock *ask,
				 struct alttcp_proc_recovery *r)
{
	u32 ssthresh = READ_ONCE(ask->ssthresh);
	u32 mss = READ_ONCE(ask->mss);

	static const char * const names[] = {
		[TCP_CA_Open] = "open", [TCP_CA_Disorder] = "disorder",
		[TCP_CA_CWR] = "cwr", [TCP_CA_Recovery] = "recovery",
		[TCP_CA_Loss] = "loss",
	};

	r->ca_state = names[alttcp_ca_state(ask)];
	r->ssthresh = ssthresh == U32_MAX ? -1 :
		      min_t(u32, ssthresh, INT_MAX);
	if (mss) {
		r->sacked = DIV_ROUND_UP(READ_ONCE(ask->sacked_out), mss);
		r->lost = DIV_ROUND_UP(READ_ONCE(ask->lost_out), mss);
		r->retrans = DIV_ROUND_UP(READ_ONCE(ask->retrans_out), mss);
	}
	r->reordering = READ_ONCE(ask->reordering);
}

static void alttcp_show_sock(struct seq_file *seq, struct sock *sk,
			     unsigned int slot)
{
	struct alttcp_proc_recovery rec = alttcp_proc_no_recovery;
	struct alttcp_sock *ask = alttcp_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	int state = inet_sk_state_load(sk);
	char local[24], remote[24];
	unsigned int timer_ms;
	enum alttcp_timer_kind timer = alttcp_timer_next(sk, &timer_ms);
	kuid_t uid = sock_i_uid(sk);
	u32 txq, rxq;
	bool shown;

	snprintf(local, sizeof(local), "%pI4:%u", &inet->inet_rcv_saddr,
		 ntohs(inet->inet_sport));
	snprintf(remote, sizeof(remote), "%pI4:%u", &inet->inet_daddr,
		 ntohs(inet->inet_dport));
	if (state == TCP_LISTEN) {
		/* As Linux: accept queue now, and its limit. */
		rxq = READ_ONCE(ask->accept_qlen);
		txq = READ_ONCE(sk->sk_max_ack_backlog);
	} else {
		rxq = alttcp_unread(sk);
		txq = READ_ONCE(ask->write_seq) - READ_ONCE(ask->snd_una);
		alttcp_proc_recovery(ask, &rec);
	}
	shown = alttcp_proc_shows_seq(seq, uid);
	seq_printf(seq, ALTTCP_ROW_FMT, slot, local, remote,
		   alttcp_state_name(state), shown ? ask->snd_una : 0,
		   shown ? ask->snd_nxt : 0, shown ? ask->rcv_nxt : 0,
		   ask->snd_wnd, ask->rcv_wnd, ask->cwnd,
		   ask->srtt_us / 1000, ask->rto_ms, ask->retransmits,
		   alttcp_timer_names[timer], timer_ms, txq, rxq,
		   from_kuid_munged(seq_user_ns(seq), uid), sock_i_ino(sk),
		   rec.ca_state, rec.ssthresh, rec.sacked, rec.lost,
		   rec.retrans, rec.reordering);
}

static void alttcp_show_tw(struct seq_file *seq, struct alttcp_tw *tw,
			   unsigned int slot)
{
	bool shown = alttcp_proc_shows_seq(seq, tw->uid);
	char local[24], remote[24];

	snprintf(local, sizeof(local), "%pI4:%u", &tw->saddr,
		 ntohs(tw->sport));
	snprintf(remote, sizeof(remote), "%pI4:%u", &tw->daddr,
		 ntohs(tw->dport));
	seq_printf(seq, ALTTCP_ROW_FMT, slot, local, remote, "TIME_WAIT",
		   shown ? tw->snd_nxt : 0, shown ? tw->snd_nxt : 0,
		   shown ? tw->rcv_nxt : 0, 0,
		   (u32)tw->rcv_wnd << tw->rcv_wscale, 0,
		   0, 0, 0, "time_wait", alttcp_tw_remaining_ms(tw), 0, 0,
		   from_kuid_munged(seq_user_ns(seq), tw->uid), 0UL,
		   "-", 0, 0, 0, 0, 0);
}

/* A request entry (request.c): SYN-RECEIVED, its SYN-ACK timer. */
static void alttcp_show_req(struct seq_file *seq, struct alttcp_request *req,
			    unsigned int slot)
{
	char local[24], remote[24];
	s64 left = ktime_ms_delta(READ_ONCE(req->deadline), ktime_get());
	bool shown;

	snprintf(local, sizeof(local), "%pI4:%u", &req->laddr,
		 ntohs(req->lport));
	snprintf(remote, sizeof(remote), "%pI4:%u", &req->raddr,
		 ntohs(req->rport));
	shown = alttcp_proc_shows_seq(seq, req->uid);
	seq_printf(seq, ALTTCP_ROW_FMT, slot, local, remote, "SYN_RECEIVED",
		   shown ? req->iss : 0, shown ? req->iss + 1 : 0,
		   shown ? req->irs + 1 : 0, 0, req->rcv_wnd, 0,
		   0, alttcp_request_rto_ms(req), READ_ONCE(req->retransmits),
		   "retransmit", (u32)max_t(s64, left, 0), 0, 0,
		   from_kuid_munged(seq_user_ns(seq), req->uid), 0UL,
		   "-", 0, 0, 0, 0, 0);
}

static int alttcp_seq_show(struct seq_file *seq, void *v)
{
	struct alttcp_proc_iter *it = v;
	unsigned int slot;

	if (v == SEQ_START_TOKEN) {
		seq_printf(seq, "%6s %-21s %-21s %-12s %10s %10s %10s %8s %8s %8s %7s %7s %7s %-10s %8s %8s %8s %5s %8s %-8s %10s %10s %8s %11s %10s\n",
			   "sl", "local_address", "remote_address", "state",
			   "snd_una", "snd_nxt", "rcv_nxt", "snd_wnd", "rcv_wnd",
			   "cwnd", "srtt_ms", "rto_ms", "retrans", "timer",
			   "timer_ms", "tx_queue", "rx_queue", "uid", "inode",
			   "ca_state", "ssthresh", "sacked_out", "lost_out",
			   "retrans_out", "reordering");
		return 0;
	}
	slot = seq->index - 1;
	if (it->kind == ALTTCP_PROC_TW)
		alttcp_show_tw(seq, hlist_entry(it->p, struct alttcp_tw, node),
			       slot);
	else if (it->kind == ALTTCP_PROC_REQ)
		alttcp_show_req(seq, hlist_entry(it->p, struct alttcp_request,
						 hash_node), slot);
	else
		alttcp_show_sock(seq, &hlist_entry(it->p, struct alttcp_sock,
						   hash_node)->inet.sk, slot);
	return 0;
}

static const struct seq_operations alttcp_seq_ops = {
	.start = alttcp_seq_start,
	.next = alttcp_seq_next,
	.stop = alttcp_seq_stop,
	.show = alttcp_seq_show,
};

int alttcp_proc_init_net(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);

	an->proc_conns = proc_create_net("alttcp", 0444, net->proc_net,
					 &alttcp_seq_ops,
					 sizeof(struct seq_net_private) +
					 sizeof(struct alttcp_proc_iter));
	return an->proc_conns ? 0 : -ENOMEM;
}

void alttcp_proc_exit_net(struct net *net)
{
	remove_proc_entry("alttcp", net->proc_net);
}
