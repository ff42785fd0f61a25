// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: timer parameters, as module parameters (the defaults for new
 * network namespaces) and per-namespace sysctls under
 * /proc/sys/net/alttcp/. Read locklessly where used (READ_ONCE): a change
 * applies to the next timer armed. Also the module-wide memory limits
 * (mem.c), in the initial namespace only.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <net/tcp.h>
#include <net/net_namespace.h>

#include "alttcp.h"

static struct alttcp_params alttcp_defaults = {
	.msl_ms = ALTTCP_MSL_MS,
	.rto_min_ms = ALTTCP_RTO_MIN_MS,
	.rto_max_ms = ALTTCP_RTO_MAX_MS,
	.syn_retries = ALTTCP_SYN_RETRIES,
	.synack_retries = ALTTCP_SYNACK_RETRIES,
	.retries = ALTTCP_RETRIES,
	.fin_timeout_ms = ALTTCP_FIN_TIMEOUT_MS,
	.delack_max_ms = ALTTCP_DELACK_MAX_MS,
	.invalid_ratelimit_ms = ALTTCP_INVALID_RATELIMIT_MS,
	.challenge_ack_limit = ALTTCP_CHALLENGE_ACK_LIMIT,
	.max_orphans = ALTTCP_MAX_ORPHANS,
	.orphan_retries = ALTTCP_ORPHAN_RETRIES,
	.syncookies = ALTTCP_SYNCOOKIES,
	.max_syn_backlog = ALTTCP_MAX_SYN_BACKLOG,
	.mtu_probing = ALTTCP_MTU_PROBING,
	.base_mss = ALTTCP_BASE_MSS,
	.mtu_probe_floor = ALTTCP_MTU_PROBE_FLOOR,
	.probe_threshold = ALTTCP_PROBE_THRESHOLD,
	.probe_interval_ms = ALTTCP_PROBE_INTERVAL_MS,
	.congestion_control = ALTTCP_CA_CUBIC,	/* Linux's default */
};

module_param_named(msl_ms, alttcp_defaults.msl_ms, uint, 0444);
MODULE_PARM_DESC(msl_ms, "maximum segment lifetime, ms; TIME_WAIT lasts twice it (30000)");
module_param_named(rto_min_ms, alttcp_defaults.rto_min_ms, uint, 0444);
MODULE_PARM_DESC(rto_min_ms, "lower bound of the retransmission timeout, ms (200)");
module_param_named(rto_max_ms, alttcp_defaults.rto_max_ms, uint, 0444);
MODULE_PARM_DESC(rto_max_ms, "upper bound of the retransmission timeout, ms (120000)");
module_param_named(syn_retries, alttcp_defaults.syn_retries, uint, 0444);
MODULE_PARM_DESC(syn_retries, "SYN retransmissions before connect() fails (6)");
module_param_named(synack_retries, alttcp_defaults.synack_retries, uint, 0444);
MODULE_PARM_DESC(synack_retries, "SYN-ACK retransmissions before a half-open connection is dropped (5)");
module_param_named(retries, alttcp_defaults.retries, uint, 0444);
MODULE_PARM_DESC(retries, "retransmissions of data before the connection is reset (15)");
module_param_named(fin_timeout_ms, alttcp_defaults.fin_timeout_ms, uint, 0444);
MODULE_PARM_DESC(fin_timeout_ms, "how long an orphan waits in FIN_WAIT_2, ms (60000)");
module_param_named(delack_max_ms, alttcp_defaults.delack_max_ms, uint, 0444);
MODULE_PARM_DESC(delack_max_ms, "longest a delayed ACK waits, ms (200)");
module_param_named(invalid_ratelimit_ms, alttcp_defaults.invalid_ratelimit_ms, uint, 0444);
MODULE_PARM_DESC(invalid_ratelimit_ms, "least time between ACKs to invalid segments of one connection, ms; 0: no limit (500)");
module_param_named(challenge_ack_limit, alttcp_defaults.challenge_ack_limit, uint, 0444);
MODULE_PARM_DESC(challenge_ack_limit, "challenge ACKs a namespace sends per second, about (1000)");
module_param_named(max_orphans, alttcp_defaults.max_orphans, uint, 0444);
MODULE_PARM_DESC(max_orphans, "closed connections a namespace keeps finishing; more are reset (16384)");
module_param_named(orphan_retries, alttcp_defaults.orphan_retries, uint, 0444);
module_param_named(syncookies, alttcp_defaults.syncookies, uint, 0444);
MODULE_PARM_DESC(syncookies, "SYN cookies: 0 never, 1 when a SYN queue is full, 2 always (1)");
module_param_named(max_syn_backlog, alttcp_defaults.max_syn_backlog, uint, 0444);
MODULE_PARM_DESC(max_syn_backlog, "half-open connections a listener keeps, at least (256)");
module_param_named(mtu_probing, alttcp_defaults.mtu_probing, uint, 0444);
MODULE_PARM_DESC(mtu_probing, "path MTU black hole detection: 0 off, 1 after repeated timeouts, 2 always (0)");
module_param_named(base_mss, alttcp_defaults.base_mss, uint, 0444);
MODULE_PARM_DESC(base_mss, "MSS that MTU probing starts from, bytes (1024)");
module_param_named(mtu_probe_floor, alttcp_defaults.mtu_probe_floor, uint, 0444);
MODULE_PARM_DESC(mtu_probe_floor, "least MSS that MTU probing goes down to, bytes (48)");
module_param_named(probe_threshold, alttcp_defaults.probe_threshold, uint, 0444);
MODULE_PARM_DESC(probe_threshold, "MTU probing stops when its range is narrower, bytes (8)");
module_param_named(probe_interval_ms, alttcp_defaults.probe_interval_ms, uint, 0444);
MODULE_PARM_DESC(probe_interval_ms, "MTU probing searches again after this, ms (600000)");
MODULE_PARM_DESC(orphan_retries, "retransmissions or window probes of a closed connection; 0: 8 while the peer seems alive (0)");

static unsigned int alttcp_zero;
static unsigned int alttcp_one = 1;
static unsigned int alttcp_int_max = INT_MAX;
static unsigned int alttcp_two = 2;
static unsigned int alttcp_max_syn_backlog = 65535;
static unsigned int alttcp_max_ms = 3600000;	/* an hour */
static unsigned int alttcp_max_retries = 255;
static unsigned int alttcp_max_delack_ms = 1000;
static unsigned int alttcp_max_mss = 65535;

#define ALTTCP_PARAM_RANGE(name, min, max)				\
	{								\
		.procname = #name,					\
		.data = &alttcp_defaults.name,				\
		.maxlen = sizeof(unsigned int),				\
		.mode = 0644,						\
		.proc_handler = proc_douintvec_minmax,			\
		.extra1 = &(min),					\
		.extra2 = &(max),					\
	}
#define ALTTCP_PARAM(name, max) ALTTCP_PARAM_RANGE(name, alttcp_one, max)

/* The algorithm by name, as net.ipv4.tcp_congestion_control. */
static int alttcp_proc_congestion(struct ctl_table *table, int write,
				  void *buffer, size_t *lenp, loff_t *ppos)
{
	unsigned int *ca = table->data;
	char name[TCP_CA_NAME_MAX];
	struct ctl_table tbl = { .data = name, .maxlen = sizeof(name) };
	int err;

	strscpy(name, alttcp_cong_name(READ_ONCE(*ca)), sizeof(name));
	err = proc_dostring(&tbl, write, buffer, lenp, ppos);
	if (write && !err) {
		err = alttcp_cong_find(name);
		if (err < 0)
			return err;
		WRITE_ONCE(*ca, err);
		err = 0;
	}
	return err;
}

static const struct ctl_table alttcp_sysctl_template[] = {
	ALTTCP_PARAM(msl_ms, alttcp_max_ms),
	ALTTCP_PARAM(rto_min_ms, alttcp_max_ms),
	ALTTCP_PARAM(rto_max_ms, alttcp_max_ms),
	ALTTCP_PARAM(syn_retries, alttcp_max_retries),
	ALTTCP_PARAM(synack_retries, alttcp_max_retries),
	ALTTCP_PARAM(retries, alttcp_max_retries),
	ALTTCP_PARAM(fin_timeout_ms, alttcp_max_ms),
	ALTTCP_PARAM(delack_max_ms, alttcp_max_delack_ms),
	ALTTCP_PARAM_RANGE(invalid_ratelimit_ms, alttcp_zero, alttcp_max_ms),
	ALTTCP_PARAM(challenge_ack_limit, alttcp_int_max),
	ALTTCP_PARAM_RANGE(max_orphans, alttcp_zero, alttcp_int_max),
	ALTTCP_PARAM_RANGE(orphan_retries, alttcp_zero, alttcp_max_retries),
	ALTTCP_PARAM_RANGE(syncookies, alttcp_zero, alttcp_two),
	ALTTCP_PARAM(max_syn_backlog, alttcp_max_syn_backlog),
	ALTTCP_PARAM_RANGE(mtu_probing, alttcp_zero, alttcp_two),
	ALTTCP_PARAM(base_mss, alttcp_max_mss),
	ALTTCP_PARAM(mtu_probe_floor, alttcp_max_mss),
	ALTTCP_PARAM(probe_threshold, alttcp_max_mss),
	ALTTCP_PARAM(probe_interval_ms, alttcp_int_max),
	{
		.procname = "ehash_entries",
		.data = &alttcp_defaults.ehash_entries,
		.maxlen = sizeof(unsigned int),
		.mode = 0444,
		.proc_handler = proc_douintvec,
	},
	{
		.procname = "congestion_control",
		.data = &alttcp_defaults.congestion_control,
		.maxlen = TCP_CA_NAME_MAX,
		.mode = 0644,
		.proc_handler = alttcp_proc_congestion,
	},
	{ }
};

/* Module-wide, like tcp_mem: only the initial namespace shows it. */
static struct ctl_table alttcp_sysctl_global[] = {
	{
		.procname = "mem",
		.data = alttcp_sysctl_mem,
		.maxlen = sizeof(alttcp_sysctl_mem),
		.mode = 0644,
		.proc_handler = proc_doulongvec_minmax,
	},
	{ }
};

int alttcp_sysctl_init_net(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);
	struct ctl_table *table;
	unsigned int i;

	an->params = alttcp_defaults;
	an->params.ehash_entries = an->hash_mask + 1;
	table = kmemdup(alttcp_sysctl_template,
			sizeof(alttcp_sysctl_template), GFP_KERNEL);
	if (!table)
		return -ENOMEM;
	/* Point each entry at this namespace's copy of the field. */
	for (i = 0; table[i].procname; i++)
		table[i].data = (char *)&an->params +
				((char *)alttcp_sysctl_template[i].data -
				 (char *)&alttcp_defaults);
	an->sysctl = register_net_sysctl(net, "net/alttcp", table);
	if (!an->sysctl) {
		kfree(table);
		return -ENOMEM;
	}
	if (net_eq(net, &init_net)) {
		an->sysctl_global = register_net_sysctl(net, "net/alttcp",
							alttcp_sysctl_global);
		if (!an->sysctl_global) {
			unregister_net_sysctl_table(an->sysctl);
			kfree(table);
			return -ENOMEM;
		}
	}
	return 0;
}

void alttcp_sysctl_exit_net(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);
	struct ctl_table *table = an->sysctl->ctl_table_arg;

	if (an->sysctl_global)
		unregister_net_sysctl_table(an->sysctl_global);
	unregister_net_sysctl_table(an->sysctl);
	kfree(table);
}
