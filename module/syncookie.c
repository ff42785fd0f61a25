// SPDX-License-Identifier: GPL-2.0
/*
 * alttcp: SYN cookies (RFC 4987 3.6).
 *
 * When a listener's SYN queue is full, its SYN-ACK carries all the state
 * the handshake needs in its ISN, and nothing is kept: the final ACK,
 * acknowledging ISN + 1, brings it back. The ISN is
 *
 *   H0(4-tuple) + peer's ISN + (minute << 24) + (H1(4-tuple, minute) + mss index) mod 2^24
 *
 * with H0 and H1 keyed hashes under two secrets: the top 8 bits give the
 * minute it was made (valid for two minutes), the low 24 bits, once the
 * keyed hash of that minute is taken off, the index of the MSS we
 * promised. With timestamps, the low 6 bits of our TSval carry the
 * peer's window scale (4 bits, 15 for none) and whether it offered SACK,
 * so those survive too. Pure functions; any context.
 */
#include <linux/siphash.h>
#include <linux/random.h>
#include <linux/jiffies.h>

#include "alttcp.h"

#define ALTTCP_COOKIE_BITS	24
#define ALTTCP_COOKIE_MASK	(BIT(ALTTCP_COOKIE_BITS) - 1)
#define ALTTCP_COOKIE_MAX_AGE	2	/* minutes */
#define ALTTCP_COOKIE_TS_BITS	6
#define ALTTCP_COOKIE_TS_MASK	(BIT(ALTTCP_COOKIE_TS_BITS) - 1)
#define ALTTCP_COOKIE_NO_WSCALE	0xf

static siphash_key_t alttcp_cookie_key[2] __read_mostly;

/* The MSS values a cookie can promise: common paths, smallest first. */
static const u16 alttcp_cookie_mss[] = { 536, 1300, 1440, 1460 };

void alttcp_cookie_init_secret(void)
{
	get_random_bytes(alttcp_cookie_key, sizeof(alttcp_cookie_key));
}

static u32 alttcp_cookie_minute(void)
{
	return (u32)(get_jiffies_64() / (60 * HZ));
}

static u32 alttcp_cookie_hash(const struct alttcp_skb_cb *cb, __be16 sport,
			      __be16 dport, u32 minute, int which)
{
	return siphash_4u32((__force u32)cb->saddr, (__force u32)cb->daddr,
			    (__force u32)sport << 16 | (__force u32)dport,
			    minute, &alttcp_cookie_key[which]);
}

/*
 * The ISN of a stateless SYN-ACK answering the SYN in cb (from sport to
 * our dport); *mss is set to the MSS it promises, at most the peer's.
 */
u32 alttcp_cookie_make(const struct alttcp_skb_cb *cb, __be16 sport,
		       __be16 dport, u16 *mss)
{
	u32 minute = alttcp_cookie_minute();
	u16 peer = cb->mss ? cb->mss : ALTTCP_MSS_DEFAULT;
	u32 idx;

	for (idx = ARRAY_SIZE(alttcp_cookie_mss) - 1; idx; idx--)
		if (alttcp_cookie_mss[idx] <= peer)
			break;
	*mss = alttcp_cookie_mss[idx];
	return alttcp_cookie_hash(cb, sport, dport, 0, 0) + cb->seq +
	       (minute << ALTTCP_COOKIE_BITS) +
	       ((alttcp_cookie_hash(cb, sport, dport, minute, 1) + idx) &
		ALTTCP_COOKIE_MASK);
}

/*
 * The MSS an ACK's cookie promised (cb is the ACK: its seq is the peer's
 * ISN + 1, its ack our ISN + 1), or 0 if it is not one of ours or is
 * more than two minutes old.
 */
u16 alttcp_cookie_check(const struct alttcp_skb_cb *cb, __be16 sport,
			__be16 dport)
{
	u32 minute = alttcp_cookie_minute();
	u32 cookie = cb->ack_seq - 1;
	u32 age, idx;

	cookie -= alttcp_cookie_hash(cb, sport, dport, 0, 0) + (cb->seq - 1);
	/* The top bits hold the minute's low bits: its age, modulo 256. */
	age = (minute - (cookie >> ALTTCP_COOKIE_BITS)) &
	      (U32_MAX >> ALTTCP_COOKIE_BITS);
	if (age >= ALTTCP_COOKIE_MAX_AGE)
		return 0;
	idx = (cookie - alttcp_cookie_hash(cb, sport, dport, minute - age,
					   1)) & ALTTCP_COOKIE_MASK;
	return idx < ARRAY_SIZE(alttcp_cookie_mss) ? alttcp_cookie_mss[idx] : 0;
}

/* Our TSval in a cookie SYN-ACK: now, with the options in its low bits,
 * never ahead of the clock.
 */
u32 alttcp_cookie_tsval(u32 now, u8 wscale, bool sack)
{
	u32 opts = (wscale == 0xff ? ALTTCP_COOKIE_NO_WSCALE : wscale) |
		   (sack ? BIT(4) : 0);
	u32 ts = (now & ~ALTTCP_COOKIE_TS_MASK) | opts;

	return seq_after(ts, now) ? ts - BIT(ALTTCP_COOKIE_TS_BITS) : ts;
}

/* What alttcp_cookie_tsval() encoded, from the ACK's echo of it. */
void alttcp_cookie_ts_options(u32 tsecr, u8 *wscale, bool *sack)
{
	u32 ws = tsecr & ALTTCP_COOKIE_NO_WSCALE;

	*wscale = ws == ALTTCP_COOKIE_NO_WSCALE ? 0xff : min_t(u32, ws, 14);
	*sack = tsecr & BIT(4);
}
