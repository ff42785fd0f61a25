/* SPDX-License-Identifier: GPL-2.0 */
/*
 * alttcp: definitions shared by the module's files.
 */
#ifndef _ALTTCP_H
#define _ALTTCP_H

#include <linux/types.h>
#include <net/inet_sock.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <uapi/linux/alttcp.h>

/* Per network namespace state; reached through net_generic(). */
struct alttcp_net {
	struct proc_dir_entry *proc_conns;	/* /proc/net/alttcp */
};

/* An alttcp socket; inet_sock first so the inet helpers can use it. */
struct alttcp_sock {
	struct inet_sock inet;
};

extern unsigned int alttcp_net_id;
extern struct proto alttcp_prot;
extern const struct proto_ops alttcp_stream_ops;

static inline struct alttcp_net *alttcp_pernet(const struct net *net)
{
	return net_generic(net, alttcp_net_id);
}

/* proc.c */
int alttcp_proc_init_net(struct net *net);
void alttcp_proc_exit_net(struct net *net);

#endif /* _ALTTCP_H */
