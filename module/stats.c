// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: counters, per namespace and per CPU, summed when read.
 *
 * /proc/net/alttcp_stats has the layout of /proc/net/netstat: a line of
 * names and a line of values, both starting "AltTcp:". CurrEstab is
 * counted from the connection table when read.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/sock.h>

#include "alttcp.h"

static const char *const alttcp_mib_names[ALTTCP_MIB_MAX] = {
	[ALTTCP_MIB_ACTIVEOPENS] = "ActiveOpens",
	[ALTTCP_MIB_PASSIVEOPENS] = "PassiveOpens",
	[ALTTCP_MIB_ATTEMPTFAILS] = "AttemptFails",
	[ALTTCP_MIB_ESTABRESETS] = "EstabResets",
	[ALTTCP_MIB_INSEGS] = "InSegs",
	[ALTTCP_MIB_OUTSEGS] = "OutSegs",
	[ALTTCP_MIB_RETRANSSEGS] = "RetransSegs",
	[ALTTCP_MIB_INERRS] = "InErrs",
	[ALTTCP_MIB_OUTRSTS] = "OutRsts",
	[ALTTCP_MIB_INCSUMERRORS] = "InCsumErrors",
	[ALTTCP_MIB_INRSTS] = "InRsts",
	[ALTTCP_MIB_DROPBADCSUM] = "DropBadCsum",
	[ALTTCP_MIB_DROPBADDOFF] = "DropBadDoff",
	[ALTTCP_MIB_DROPBADOPTS] = "DropBadOpts",
	[ALTTCP_MIB_DROPBADFLAGS] = "DropBadFlags",
	[ALTTCP_MIB_DROPOUTOFWINDOW] = "DropOutOfWindow",
	[ALTTCP_MIB_DROPNOSOCKET] = "DropNoSocket",
	[ALTTCP_MIB_DROPBACKLOG] = "DropBacklog",
	[ALTTCP_MIB_DROPLISTENOVERFLOW] = "DropListenOverflow",
	[ALTTCP_MIB_DROPNOMEM] = "DropNoMem",
	[ALTTCP_MIB_DROPOTHER] = "DropOther",
	[ALTTCP_MIB_DROPPAWS] = "DropPaws",
	[ALTTCP_MIB_CHALLENGEACKS] = "ChallengeAcks",
	[ALTTCP_MIB_RTOTIMEOUTS] = "RtoTimeouts",
	[ALTTCP_MIB_TIMEWAITS] = "TimeWaits",
	[ALTTCP_MIB_DELAYEDACKS] = "DelayedAcks",
	[ALTTCP_MIB_PERSISTPROBES] = "PersistProbes",
	[ALTTCP_MIB_KEEPALIVEPROBES] = "KeepaliveProbes",
	[ALTTCP_MIB_KEEPALIVETIMEOUTS] = "KeepaliveTimeouts",
	[ALTTCP_MIB_FINWAIT2TIMEOUTS] = "FinWait2Timeouts",
	[ALTTCP_MIB_SYNRECVTIMEOUTS] = "SynRecvTimeouts",
	[ALTTCP_MIB_TIMEWAITEXPIRED] = "TimeWaitExpired",
	[ALTTCP_MIB_DROPRCVBUF] = "DropRcvBuf",
	[ALTTCP_MIB_DROPOFOMEM] = "DropOfoMem",
	[ALTTCP_MIB_DROPOFODUP] = "DropOfoDup",
	[ALTTCP_MIB_DROPOFOPRUNED] = "DropOfoPruned",
	[ALTTCP_MIB_RCVPRUNED] = "RcvPruned",
	[ALTTCP_MIB_RCVCOALESCE] = "RcvCoalesce",
	[ALTTCP_MIB_OFOQUEUE] = "OfoQueue",
	[ALTTCP_MIB_MEMORYPRESSURES] = "MemoryPressures",
	[ALTTCP_MIB_DROPOLDACK] = "DropOldAck",
	[ALTTCP_MIB_DROPACKUNSENT] = "DropAckUnsent",
	[ALTTCP_MIB_ACKSKIPPEDSEQ] = "AckSkippedSeq",
	[ALTTCP_MIB_ACKSKIPPEDPAWS] = "AckSkippedPaws",
	[ALTTCP_MIB_ACKSKIPPEDCHALLENGE] = "AckSkippedChallenge",
	[ALTTCP_MIB_ACKSKIPPEDTIMEWAIT] = "AckSkippedTimeWait",
	[ALTTCP_MIB_ORPHANDROPS] = "OrphanDrops",
	[ALTTCP_MIB_TOOMANYORPHANS] = "TooManyOrphans",
	[ALTTCP_MIB_SYNCOOKIESSENT] = "SyncookiesSent",
	[ALTTCP_MIB_SYNCOOKIESRECV] = "SyncookiesRecv",
	[ALTTCP_MIB_SYNCOOKIESFAILED] = "SyncookiesFailed",
	[ALTTCP_MIB_LISTENOVERFLOWS] = "ListenOverflows",
	[ALTTCP_MIB_LISTENDROPS] = "ListenDrops",
	[ALTTCP_MIB_ACKSKIPPEDSYNRECV] = "AckSkippedSynRecv",
	[ALTTCP_MIB_RCVCOLLAPSED] = "RcvCollapsed",
	[ALTTCP_MIB_DROPSOCKETFILTER] = "DropSocketFilter",
	[ALTTCP_MIB_DROPXFRMPOLICY] = "DropXfrmPolicy",
	[ALTTCP_MIB_DROPCONNTRACK] = "DropConntrack",
	[ALTTCP_MIB_INICMPS] = "InIcmps",
	[ALTTCP_MIB_ICMPCSUMERRORS] = "IcmpCsumErrors",
	[ALTTCP_MIB_OUTOFWINDOWICMPS] = "OutOfWindowIcmps",
	[ALTTCP_MIB_ICMPIGNORED] = "IcmpIgnored",
	[ALTTCP_MIB_PMTUUPDATES] = "PmtuUpdates",
	[ALTTCP_MIB_MTUPROBEREDUCTIONS] = "MtuProbeReductions",
	[ALTTCP_MIB_TSQTHROTTLED] = "TsqThrottled",
	[ALTTCP_MIB_MTUPROBES] = "MtuProbes",
	[ALTTCP_MIB_MTUPROBESUCCESSES] = "MtuProbeSuccesses",
	[ALTTCP_MIB_MTUPROBEFAILURES] = "MtuProbeFailures",
	[ALTTCP_MIB_HYSTARTEXIT] = "TCPHystartDelayDetect",
	[ALTTCP_MIB_SACKRECOVERY] = "TCPSackRecovery",
	[ALTTCP_MIB_SACKRENEGING] = "TCPSACKReneging",
	[ALTTCP_MIB_SACKDISCARD] = "TCPSACKDiscard",
	[ALTTCP_MIB_DSACKRECV] = "TCPDSACKRecv",
	[ALTTCP_MIB_DSACKOLDSENT] = "TCPDSACKOldSent",
	[ALTTCP_MIB_DSACKOFOSENT] = "TCPDSACKOfoSent",
	[ALTTCP_MIB_FULLUNDO] = "TCPFullUndo",
	[ALTTCP_MIB_PARTIALUNDO] = "TCPPartialUndo",
	[ALTTCP_MIB_DSACKUNDO] = "TCPDSACKUndo",
	[ALTTCP_MIB_LOSSUNDO] = "TCPLossUndo",
	[ALTTCP_MIB_SPURIOUSRTOS] = "TCPSpuriousRTOs",
	[ALTTCP_MIB_SACKREORDER] = "TCPSACKReorder",
	[ALTTCP_MIB_TSREORDER] = "TCPTSReorder",
	[ALTTCP_MIB_LOSSPROBES] = "TCPLossProbes",
	[ALTTCP_MIB_LOSSPROBERECOVERY] = "TCPLossProbeRecovery",
	[ALTTCP_MIB_LOSTRETRANSMIT] = "TCPLostRetransmit",
};

static unsigned long alttcp_mib_sum(struct alttcp_net *an, int field)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(an->mib, cpu)->v[field];
	return sum;
}

static unsigned int alttcp_curr_estab(struct alttcp_net *an)
{
	struct alttcp_sock *ask;
	unsigned int i, n = 0;

	rcu_read_lock();
	for (i = 0; i <= an->hash_mask; i++)
		hlist_for_each_entry_rcu(ask, &an->ehash[i], hash_node) {
			int st = inet_sk_state_load(&ask->inet.sk);

			if (st == TCP_ESTABLISHED || st == TCP_CLOSE_WAIT)
				n++;
		}
	rcu_read_unlock();
	return n;
}

static int alttcp_stats_show(struct seq_file *seq, void *v)
{
	struct alttcp_net *an = alttcp_pernet(seq_file_single_net(seq));
	int i;

	seq_puts(seq, "AltTcp:");
	for (i = 0; i < ALTTCP_MIB_MAX; i++)
		seq_printf(seq, " %s", alttcp_mib_names[i]);
	seq_puts(seq, " CurrEstab TimeWaitNow MemoryPages\nAltTcp:");
	for (i = 0; i < ALTTCP_MIB_MAX; i++)
		seq_printf(seq, " %lu", alttcp_mib_sum(an, i));
	seq_printf(seq, " %u %d %ld\n", alttcp_curr_estab(an),
		   atomic_read(&an->tw_count), alttcp_memory_pages());
	return 0;
}

int alttcp_stats_init_net(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);

	an->mib = alloc_percpu(struct alttcp_mib);
	if (!an->mib)
		return -ENOMEM;
	an->proc_stats = proc_create_net_single("alttcp_stats", 0444,
						net->proc_net,
						alttcp_stats_show, NULL);
	if (!an->proc_stats) {
		free_percpu(an->mib);
		return -ENOMEM;
	}
	return 0;
}

void alttcp_stats_exit_net(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);

	remove_proc_entry("alttcp_stats", net->proc_net);
	free_percpu(an->mib);
}
