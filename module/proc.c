// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: /proc/net/alttcp, one per network namespace.
 *
 * The columns are a contract (Documentation/alttcp.rst): scripts parse
 * them, so add new ones only at the end.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include "alttcp.h"

static void *alttcp_seq_start(struct seq_file *seq, loff_t *pos)
{
	return *pos == 0 ? SEQ_START_TOKEN : NULL;
}

static void *alttcp_seq_next(struct seq_file *seq, void *v, loff_t *pos)
{
	++*pos;
	return NULL;
}

static void alttcp_seq_stop(struct seq_file *seq, void *v)
{
}

static int alttcp_seq_show(struct seq_file *seq, void *v)
{
	if (v == SEQ_START_TOKEN)
		seq_printf(seq, "%4s %-21s %-21s %-12s %10s %10s %10s %8s %8s %8s %7s %7s %7s %-10s %8s %8s %8s %5s %8s\n",
			   "sl", "local_address", "remote_address", "state",
			   "snd_una", "snd_nxt", "rcv_nxt", "snd_wnd", "rcv_wnd",
			   "cwnd", "srtt_ms", "rto_ms", "retrans", "timer",
			   "timer_ms", "tx_queue", "rx_queue", "uid", "inode");
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
					 sizeof(struct seq_net_private));
	return an->proc_conns ? 0 : -ENOMEM;
}

void alttcp_proc_exit_net(struct net *net)
{
	remove_proc_entry("alttcp", net->proc_net);
}
