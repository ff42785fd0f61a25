// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the host's connection tracking.
 *
 * The netfilter hook takes alttcp's segments just before conntrack's last
 * LOCAL_IN step, which confirms a new entry (puts it in the table) and runs
 * its helper. Without that step every inbound segment's entry would be
 * thrown away unconfirmed: our SYN-ACK would then be INVALID to conntrack,
 * and NAT to an alttcp listener impossible. So the hook does the step, as
 * conntrack's own hook does, with nf_confirm().
 *
 * alttcp must load without nf_conntrack (insmod alone), so nf_confirm()
 * is looked up the first time a segment carries an entry, which means
 * nf_conntrack is loaded, and held until alttcp is unloaded.
 *
 * Softirq, under rcu_read_lock (from the hook).
 */
#include <net/ip.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>

#include "alttcp.h"

#if IS_ENABLED(CONFIG_NF_CONNTRACK)
typedef unsigned int (*alttcp_nf_confirm_t)(struct sk_buff *skb,
					    unsigned int protoff,
					    struct nf_conn *ct,
					    enum ip_conntrack_info ctinfo);

static alttcp_nf_confirm_t alttcp_nf_confirm;

/* Returns NF_ACCEPT, or NF_DROP when conntrack refuses the segment. */
unsigned int alttcp_ct_confirm(struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	alttcp_nf_confirm_t confirm;

	if (!ct)
		return NF_ACCEPT;
	confirm = READ_ONCE(alttcp_nf_confirm);
	if (!confirm) {
		confirm = symbol_get(nf_confirm);
		/* NULL only while nf_conntrack is going away. */
		if (!confirm)
			return NF_ACCEPT;
		/* Another CPU may have been first: one reference is kept. */
		if (cmpxchg(&alttcp_nf_confirm, NULL, confirm))
			symbol_put(nf_confirm);
	}
	/* skb->data is the IP header: the TCP header follows it. */
	return confirm(skb, ip_hdrlen(skb), ct, ctinfo);
}

/* Module unload, when no hook can run any more. */
void alttcp_ct_exit(void)
{
	if (alttcp_nf_confirm)
		symbol_put(nf_confirm);
}
#else
unsigned int alttcp_ct_confirm(struct sk_buff *skb)
{
	return NF_ACCEPT;
}

void alttcp_ct_exit(void)
{
}
#endif
