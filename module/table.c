// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the connection, listener and port tables of a namespace
 * (TIME_WAIT entries: timewait.c; request entries: request.c).
 *
 * Lookups run under RCU (softirq, from the netfilter hook) and return a
 * socket with a reference taken; inserts and removals take
 * alttcp_net.lock with BHs off. A socket in ehash or lhash holds one
 * reference for the table, and counts in /proc/net/protocols' "sockets"
 * (as Linux's hashed TCP sockets do).
 *
 * port_users counts, per bucket of local ports, what may claim a segment
 * to them: connections in ehash, TIME_WAIT entries and port holders (of
 * listeners above all, which Linux's own lookup finds). A count goes up
 * before the thing is found by a lookup and down after it no longer is,
 * so a segment to a port whose count is 0 is Linux's (input.c).
 *
 * The tables by 4-tuple (connections, TIME_WAIT entries, requests) grow
 * with the connections a namespace may hold, so their size follows the
 * machine's memory as Linux's established table does (one bucket per
 * 128 KiB, "thash_entries"), within bounds that keep a namespace cheap;
 * charged to the memory cgroup of whoever creates the namespace.
 */
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rculist.h>
#include <net/inet_sock.h>
#include <net/sock.h>

#include "alttcp.h"

#define ALTTCP_EHASH_MIN	1024
#define ALTTCP_EHASH_AUTO_MAX	65536
#define ALTTCP_EHASH_MAX	BIT(22)

static unsigned int alttcp_ehash_entries;
module_param_named(ehash_entries, alttcp_ehash_entries, uint, 0444);
MODULE_PARM_DESC(ehash_entries, "buckets of each namespace's tables by 4-tuple, rounded up to a power of 2; 0: one per 128 KiB of memory, 1024 to 65536 (0)");

/* Bucket index in the tables by 4-tuple: ehash, twhash, rqhash. */
u32 alttcp_hash4(const struct net *net, __be32 laddr, __be16 lport,
		 __be32 raddr, __be16 rport)
{
	return jhash_3words((__force u32)laddr, (__force u32)raddr,
			    ((__force u32)lport << 16) | (__force u32)rport,
			    net_hash_mix(net)) & alttcp_pernet(net)->hash_mask;
}

u32 alttcp_hash_port(const struct net *net, __be16 port)
{
	return jhash_1word((__force u32)port, net_hash_mix(net)) &
	       (ALTTCP_PORT_HASH_SIZE - 1);
}

static unsigned int alttcp_hash_size(void)
{
	unsigned long n = alttcp_ehash_entries;

	if (!n)
		n = clamp(totalram_pages() >> (17 - PAGE_SHIFT),
			  (unsigned long)ALTTCP_EHASH_MIN,
			  (unsigned long)ALTTCP_EHASH_AUTO_MAX);
	return roundup_pow_of_two(clamp(n, 1UL,
					(unsigned long)ALTTCP_EHASH_MAX));
}

int alttcp_tables_init(struct alttcp_net *an)
{
	unsigned int size = alttcp_hash_size();

	spin_lock_init(&an->lock);
	an->hash_mask = size - 1;
	an->ehash = kvcalloc(size, sizeof(*an->ehash), GFP_KERNEL_ACCOUNT);
	an->twhash = kvcalloc(size, sizeof(*an->twhash), GFP_KERNEL_ACCOUNT);
	an->rqhash = kvcalloc(size, sizeof(*an->rqhash), GFP_KERNEL_ACCOUNT);
	an->lhash = kvcalloc(ALTTCP_PORT_HASH_SIZE, sizeof(*an->lhash),
			     GFP_KERNEL_ACCOUNT);
	an->twphash = kvcalloc(ALTTCP_PORT_HASH_SIZE, sizeof(*an->twphash),
			       GFP_KERNEL_ACCOUNT);
	an->port_users = kvcalloc(ALTTCP_PORT_BUCKETS,
				  sizeof(*an->port_users), GFP_KERNEL_ACCOUNT);
	if (!an->ehash || !an->lhash || !an->twhash ||
	    !an->twphash || !an->rqhash || !an->port_users) {
		alttcp_tables_exit(an);
		return -ENOMEM;
	}
	return 0;
}

void alttcp_tables_exit(struct alttcp_net *an)
{
	kvfree(an->ehash);
	kvfree(an->lhash);
	kvfree(an->twhash);
	kvfree(an->twphash);
	kvfree(an->rqhash);
	kvfree(an->port_users);
}

void alttcp_port_users_add(struct net *net, __be16 port, int n)
{
	atomic_add(n, &alttcp_pernet(net)->port_users[ntohs(port) &
						     (ALTTCP_PORT_BUCKETS - 1)]);
}

static bool alttcp_match4(const struct sock *sk, __be32 laddr, __be16 lport,
			  __be32 raddr, __be16 rport)
{
	const struct inet_sock *inet = inet_sk(sk);

	return inet->inet_rcv_saddr == laddr && inet->inet_sport == lport &&
	       inet->inet_daddr == raddr && inet->inet_dport == rport;
}

/*
 * saddr/sport are the segment's source: the remote end; dif/sdif the
 * device it came in on and, under a VRF, the enslaved one.
 */
struct sock *alttcp_lookup_established(struct net *net, __be32 saddr,
				       __be16 sport, __be32 daddr,
				       __be16 dport, int dif, int sdif)
{
	struct alttcp_net *an = alttcp_pernet(net);
	struct alttcp_sock *ask;
	u32 h = alttcp_hash4(net, daddr, dport, saddr, sport);

	hlist_for_each_entry_rcu(ask, &an->ehash[h], hash_node) {
		struct sock *sk = &ask->inet.sk;

		/* As Linux's inet_match(): the device too, if bound. */
		if (alttcp_match4(sk, daddr, dport, saddr, sport) &&
		    inet_sk_bound_dev_eq(net, READ_ONCE(sk->sk_bound_dev_if),
					 dif, sdif) &&
		    refcount_inc_not_zero(&sk->sk_refcnt))
			return sk;
	}
	return NULL;
}

/* Fails with -EADDRNOTAVAIL when the 4-tuple is taken. */
int alttcp_ehash_insert(struct sock *sk)
{
	struct net *net = sock_net(sk);
	struct alttcp_net *an = alttcp_pernet(net);
	struct inet_sock *inet = inet_sk(sk);
	struct alttcp_sock *ask;
	u32 h = alttcp_hash4(net, inet->inet_rcv_saddr, inet->inet_sport,
			     inet->inet_daddr, inet->inet_dport);

	spin_lock_bh(&an->lock);
	hlist_for_each_entry(ask, &an->ehash[h], hash_node) {
		if (alttcp_match4(&ask->inet.sk, inet->inet_rcv_saddr,
				  inet->inet_sport, inet->inet_daddr,
				  inet->inet_dport)) {
			spin_unlock_bh(&an->lock);
			return -EADDRNOTAVAIL;
		}
	}
	sock_hold(sk);
	alttcp_port_users_add(net, inet->inet_sport, 1);
	hlist_add_head_rcu(&alttcp_sk(sk)->hash_node, &an->ehash[h]);
	alttcp_sk(sk)->hashed = true;
	sock_prot_inuse_add(net, sk->sk_prot, 1);
	spin_unlock_bh(&an->lock);
	return 0;
}

static void alttcp_hash_remove(struct sock *sk, bool ehash)
{
	struct alttcp_net *an = alttcp_pernet(sock_net(sk));
	struct alttcp_sock *ask = alttcp_sk(sk);
	bool was = false;

	spin_lock_bh(&an->lock);
	if (ask->hashed) {
		hlist_del_init_rcu(&ask->hash_node);
		ask->hashed = false;
		/* A listener's port counts by its holder (port.c). */
		if (ehash)
			alttcp_port_users_add(sock_net(sk),
					      inet_sk(sk)->inet_sport, -1);
		sock_prot_inuse_add(sock_net(sk), sk->sk_prot, -1);
		was = true;
	}
	spin_unlock_bh(&an->lock);
	if (was)
		__sock_put(sk);
}

void alttcp_ehash_remove(struct sock *sk)
{
	alttcp_hash_remove(sk, true);
}

/* A listener in lhash; its port holder's listen() checked conflicts. */
void alttcp_lhash_insert(struct sock *sk)
{
	struct net *net = sock_net(sk);
	struct alttcp_net *an = alttcp_pernet(net);
	u32 h = alttcp_hash_port(net, inet_sk(sk)->inet_sport);

	spin_lock_bh(&an->lock);
	sock_hold(sk);
	hlist_add_head_rcu(&alttcp_sk(sk)->hash_node, &an->lhash[h]);
	alttcp_sk(sk)->hashed = true;
	sock_prot_inuse_add(net, sk->sk_prot, 1);
	spin_unlock_bh(&an->lock);
}

void alttcp_lhash_remove(struct sock *sk)
{
	alttcp_hash_remove(sk, false);
}

