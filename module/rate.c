// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: the delivery rate TCP_INFO reports (tcpi_delivery_rate,
 * tcpi_delivered), in the spirit of Linux's tcp_rate.c but sampled per
 * round trip rather than per segment: the bytes the peer received
 * (acknowledged, or SACKed, each once) over at least one SRTT.
 *
 * Under the socket lock, from the ACK path.
 */
#include <net/tcp.h>

#include "alttcp.h"

/* The shortest sampling interval, before there is an SRTT. */
#define ALTTCP_RATE_MIN_US	1000

void alttcp_rate_on_ack(struct sock *sk, u32 delivered)
{
	struct alttcp_sock *ask = alttcp_sk(sk);
	u32 now = ask->now_us, elapsed;

	ask->delivered += delivered;
	if (!ask->rate_stamp_us) {
		ask->rate_stamp_us = now ?: 1;
		ask->rate_delivered = ask->delivered;
		return;
	}
	elapsed = now - ask->rate_stamp_us;
	if (elapsed < max_t(u32, ask->srtt_us, ALTTCP_RATE_MIN_US))
		return;
	ask->delivery_rate = div_u64((ask->delivered - ask->rate_delivered) *
				     USEC_PER_SEC, elapsed);
	ask->rate_stamp_us = now ?: 1;
	ask->rate_delivered = ask->delivered;
}
