// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: module load and unload, per network namespace setup.
 *
 * Load order: the proto (slab cache), then per-namespace state, then the
 * protosw entry that makes socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP)
 * reach us. Unload runs it backwards. Every alttcp socket holds a module
 * reference (through proto.owner and proto_ops.owner), so the module cannot
 * be removed while one is open.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <net/netns/generic.h>
#include <net/protocol.h>
#include <net/sock.h>

#include "alttcp.h"

unsigned int alttcp_net_id __read_mostly;

static int __net_init alttcp_net_init(struct net *net)
{
	struct alttcp_net *an = alttcp_pernet(net);
	int err;

	atomic_set(&an->tw_count, 0);
	err = alttcp_tables_init(an);
	if (err)
		return err;
	err = alttcp_stats_init_net(net);
	if (err)
		goto out_tables;
	err = alttcp_proc_init_net(net);
	if (err)
		goto out_stats;
	err = alttcp_sysctl_init_net(net);
	if (err)
		goto out_proc;
	err = alttcp_input_init_net(net);
	if (err)
		goto out_sysctl;
	err = alttcp_icmp_init_net(net);
	if (err)
		goto out_input;
	return 0;

out_input:
	alttcp_input_exit_net(net);
out_sysctl:
	alttcp_sysctl_exit_net(net);
out_proc:
	alttcp_proc_exit_net(net);
out_stats:
	alttcp_stats_exit_net(net);
out_tables:
	alttcp_tables_exit(an);
	return err;
}

/*
 * A namespace goes away only when no alttcp socket holds it; the module
 * goes away when no open socket holds it. Either way what is left here are
 * orphaned connections (module unload: reset) and TIME_WAIT entries
 * (flushed).
 */
static void __net_exit alttcp_net_exit(struct net *net)
{
	alttcp_icmp_exit_net(net);
	alttcp_input_exit_net(net);
	alttcp_abort_all(net);
	alttcp_tw_flush(net);
	alttcp_sysctl_exit_net(net);
	alttcp_proc_exit_net(net);
	alttcp_stats_exit_net(net);
	/* Holders closing late count down in the tables (module unload). */
	alttcp_port_exit();
	alttcp_tables_exit(alttcp_pernet(net));
}

static struct pernet_operations alttcp_net_ops = {
	.init = alttcp_net_init,
	.exit = alttcp_net_exit,
	.id = &alttcp_net_id,
	.size = sizeof(struct alttcp_net),
};

static struct inet_protosw alttcp_protosw = {
	.type = SOCK_STREAM,
	.protocol = IPPROTO_ALTTCP,
	.prot = &alttcp_prot,
	.ops = &alttcp_stream_ops,
};

/*
 * inet_register_protosw() only logs a clash with an existing entry, so make
 * one socket and check that it really is ours.
 */
static int alttcp_check_protosw(void)
{
	struct socket *sock;
	int err;

	err = sock_create_kern(&init_net, PF_INET, SOCK_STREAM, IPPROTO_ALTTCP,
			       &sock);
	if (err)
		return err;
	if (sock->sk->sk_prot != &alttcp_prot)
		err = -EEXIST;
	sock_release(sock);
	return err;
}

static int __init alttcp_init(void)
{
	int err;

	alttcp_init_isn_secret();
	alttcp_cookie_init_secret();
	alttcp_tsq_init();
	err = alttcp_mem_init();
	if (err)
		return err;
	err = alttcp_request_init();
	if (err)
		goto out_mem;
	alttcp_mem_set_proto(&alttcp_prot);
	err = proto_register(&alttcp_prot, 1);
	if (err)
		goto out_request;
	err = register_pernet_subsys(&alttcp_net_ops);
	if (err)
		goto out_proto;
	inet_register_protosw(&alttcp_protosw);
	err = alttcp_check_protosw();
	if (err) {
		pr_err("alttcp: protocol %d is not ours (%d)\n",
		       IPPROTO_ALTTCP, err);
		goto out_protosw;
	}
	pr_info("alttcp: loaded, socket protocol %d\n", IPPROTO_ALTTCP);
	return 0;

out_protosw:
	inet_unregister_protosw(&alttcp_protosw);
	unregister_pernet_subsys(&alttcp_net_ops);
	alttcp_port_exit();
	alttcp_ct_exit();
	rcu_barrier();
out_proto:
	proto_unregister(&alttcp_prot);
out_request:
	alttcp_request_exit();
out_mem:
	alttcp_mem_exit();
	alttcp_tsq_exit();
	return err;
}

static void __exit alttcp_exit(void)
{
	inet_unregister_protosw(&alttcp_protosw);
	unregister_pernet_subsys(&alttcp_net_ops);
	alttcp_port_exit();
	alttcp_ct_exit();
	/* Timer callbacks (softirq) finish within a grace period; sockets
	 * are freed after one, from the proto's cache.
	 */
	synchronize_rcu();
	rcu_barrier();
	proto_unregister(&alttcp_prot);
	alttcp_request_exit();
	alttcp_mem_exit();
	alttcp_tsq_exit();
	pr_info("alttcp: unloaded\n");
}

module_init(alttcp_init);
module_exit(alttcp_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("alttcp: an RFC 9293 TCP implementation as a loadable module");
/* SOCK_STREAM is an enum, which __stringify() would not expand. */
#define ALTTCP_SOCK_STREAM 1
static_assert(ALTTCP_SOCK_STREAM == SOCK_STREAM);
MODULE_ALIAS_NET_PF_PROTO_TYPE(PF_INET, IPPROTO_ALTTCP, ALTTCP_SOCK_STREAM);
