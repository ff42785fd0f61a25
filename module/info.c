// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: what TCP_INFO, TCP_CONGESTION and TCP_CC_INFO report, and
 * TCP_CONGESTION's setting. Programs such as iperf3 and ss read these;
 * the fields alttcp has no notion of (pacing) stay zero. Called under
 * lock_sock().
 */
#include <linux/string.h>
#include <linux/tcp.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "alttcp.h"

static void alttcp_get_info(struct sock *sk, struct tcp_info *info)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 now = alttcp_now_ms();
	struct dst_entry *dst;

	memset(info, 0, sizeof(*info));
	info->tcpi_state = inet_sk_state_load(sk);
	if (info->tcpi_state == TCP_LISTEN) {
		/* As Linux: the accept queue and its limit. */
		info->tcpi_unacked = READ_ONCE(ask->accept_qlen);
		info->tcpi_sacked = READ_ONCE(sk->sk_max_ack_backlog);
		return;
	}
	info->tcpi_ca_state = alttcp_ca_state(ask);
	info->tcpi_retransmits = ask->retransmits;
	info->tcpi_probes = ask->ka_probes;
	info->tcpi_backoff = ask->backoff;
	if (ask->ts_ok)
		info->tcpi_options |= TCPI_OPT_TIMESTAMPS;
	if (ask->wscale_ok) {
		info->tcpi_options |= TCPI_OPT_WSCALE;
		info->tcpi_snd_wscale = ask->snd_wscale;
		info->tcpi_rcv_wscale = ask->rcv_wscale;
	}
	info->tcpi_rto = ask->rto_ms * USEC_PER_MSEC;
	info->tcpi_ato = ALTTCP_DELACK_MIN_MS * USEC_PER_MSEC;
	info->tcpi_snd_mss = ask->mss;
	info->tcpi_rcv_mss = ask->rcv_mss;
	if (ask->sack_ok)
		info->tcpi_options |= TCPI_OPT_SACK;
	if (ask->mss) {
		info->tcpi_unacked = DIV_ROUND_UP(ask->snd_nxt - ask->snd_una,
						  ask->mss);
		/* The scoreboard's, in segments (sack.c). */
		info->tcpi_sacked = DIV_ROUND_UP(ask->sacked_out, ask->mss);
		info->tcpi_lost = DIV_ROUND_UP(ask->lost_out, ask->mss);
		info->tcpi_retrans = DIV_ROUND_UP(ask->retrans_out, ask->mss);
	}
	info->tcpi_last_data_recv = now - ask->rcv_tstamp_ms;
	dst = __sk_dst_get(sk);
	if (dst)
		info->tcpi_pmtu = dst_mtu(dst);
	info->tcpi_rtt = ask->srtt_us;
	info->tcpi_rttvar = ask->rttvar_us;
	/* "Infinite" as Linux says it, until the first loss. */
	info->tcpi_snd_ssthresh = ask->ssthresh == U32_MAX ?
				  TCP_INFINITE_SSTHRESH :
				  ask->mss ? ask->ssthresh / ask->mss : 0;
	info->tcpi_snd_cwnd = ask->mss ? ask->cwnd / ask->mss : 0;
	info->tcpi_advmss = ask->adv_mss;
	info->tcpi_reordering = ask->reordering;
	info->tcpi_min_rtt = ask->rack_min_rtt_us;
	info->tcpi_delivery_rate = ask->delivery_rate;
	if (ask->mss)
		info->tcpi_delivered = div_u64(ask->delivered, ask->mss);
	info->tcpi_rcv_rtt = ask->rcv_rtt_us >> 3;
	info->tcpi_rcv_space = ask->rcv_wnd;
	info->tcpi_snd_wnd = ask->snd_wnd;
	info->tcpi_bytes_acked = ask->bytes_acked;
	info->tcpi_bytes_received = ask->bytes_received;
	info->tcpi_total_retrans = ask->total_retrans;
	info->tcpi_bytes_retrans = ask->bytes_retrans;
	if (seq_after(ask->write_seq, ask->snd_nxt))
		info->tcpi_notsent_bytes = ask->write_seq - ask->snd_nxt;
}

/* getsockopt(TCP_INFO): as much of struct tcp_info as the caller has room
 * for, as Linux.
 */
int alttcp_getsockopt_info(struct sock *sk, char __user *optval,
			   int __user *optlen, int len)
{
	struct tcp_info info;

	lock_sock(sk);
	alttcp_get_info(sk, &info);
	release_sock(sk);
	len = min_t(unsigned int, len, sizeof(info));
	if (put_user(len, optlen) || copy_to_user(optval, &info, len))
		return -EFAULT;
	return 0;
}

/* The name, zero-padded to TCP_CA_NAME_MAX as Linux copies it. */
int alttcp_getsockopt_congestion(struct sock *sk, char __user *optval,
				 int __user *optlen, int len)
{
	char name[TCP_CA_NAME_MAX] = {};

	strscpy(name, alttcp_cong_name(READ_ONCE(alttcp_sk(sk)->ca)),
		sizeof(name));
	len = min_t(unsigned int, len, TCP_CA_NAME_MAX);
	if (put_user(len, optlen) || copy_to_user(optval, name, len))
		return -EFAULT;
	return 0;
}

/* Neither reno nor cubic has anything to tell: Linux answers 0 bytes. */
int alttcp_getsockopt_cc_info(int __user *optlen)
{
	return put_user(0, optlen) ? -EFAULT : 0;
}

/* "cubic" or "reno"; another name gets Linux's ENOENT. */
int alttcp_setsockopt_congestion(struct sock *sk, sockptr_t optval,
				 unsigned int optlen)
{
	char name[TCP_CA_NAME_MAX];
	size_t n = min_t(size_t, optlen, sizeof(name) - 1);
	int err;

	if (optlen < 1)
		return -EINVAL;
	if (copy_from_sockptr(name, optval, n))
		return -EFAULT;
	name[n] = 0;
	lock_sock(sk);
	err = alttcp_cong_set(sk, name);
	release_sock(sk);
	return err;
}
