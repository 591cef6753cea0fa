/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A read reserve: hardware tags that writes leave free while reads arrive.
 *
 * A policy orders only what waits in the scheduler. Once every hardware
 * tag of a device holds a write, a read the policy dispatches first still
 * waits at the driver for a write to finish (blk-mq parks it on the
 * hardware context's dispatch list, behind any write already parked
 * there). A scheduler-tag limit on writes does not prevent that when the
 * writes' share of scheduler tags is at least the device's depth. So a
 * policy may hold a write back while it would leave fewer than `reserve`
 * of the device's `slots` hardware tags free, for as long as reads are
 * recent (one arrived within the policy's window): the next read then
 * goes to the device at once. Flow-iosched and kyber limit in-flight
 * writes for the same reason.
 *
 * A policy that holds a write back must make sure dispatch runs again.
 * ufq calls dispatch() again whenever a request leaves the driver (which
 * frees a tag); as a backstop, ufq_bpf_kick_after() for when reads stop
 * being recent.
 *
 * The slots are depth x hardware queues that take I/O (ufq_device_slots()).
 * That overcounts a device whose queues share one set of tags
 * (BLK_MQ_F_TAG_HCTX_SHARED, e.g. SCSI hosts), and polled requests are in
 * flight without holding one of those slots: on such devices the reserve
 * holds later, or sooner, than it should.
 *
 * Plain C, no helpers: the lanes and ml policies and the unit tests use
 * the same code.
 */
#ifndef UFQ_READ_RESERVE_H
#define UFQ_READ_RESERVE_H

#include "ufq/types.h"

/*
 * Until when reads are recent, if they were until @until and a request
 * (@read or not) arrived at @now_ns: a read keeps them recent for
 * @recent_ns more. Never earlier than @until: a request offered again
 * arrives with its first arrival time.
 */
static inline u64 ufq_reads_recent_until(u64 until, bool read, u64 now_ns, u64 recent_ns)
{
	u64 end = now_ns + recent_ns;

	if (!read)
		return until;
	if (end < now_ns)
		return ~0ULL;	/* saturate */
	return end > until ? end : until;
}

/*
 * Whether a write must wait so that @reserve of the device's @slots
 * hardware tags stay free for reads, with @nr_in_flight requests at the
 * device, at @now_ns, reads being recent until @reads_until_ns. Never when
 * the reserve would leave writes no tag (@slots <= @reserve, including a
 * device whose depth is unknown: 0), and never with @reserve 0.
 */
static inline bool ufq_read_reserve_holds(u32 reserve, u32 slots, u32 nr_in_flight,
					  u64 now_ns, u64 reads_until_ns)
{
	if (!reserve || slots <= reserve || now_ns >= reads_until_ns)
		return false;
	return (u64)nr_in_flight + reserve >= slots;
}

#endif /* UFQ_READ_RESERVE_H */
