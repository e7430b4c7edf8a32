/*
 * timer.h - a hierarchical timing wheel with embedded timers.
 *
 * A struct timer lives inside the object it times (transaction, binding,
 * connection), so starting one never allocates and cannot fail. The wheel
 * has no clock of its own: time only moves when the owner calls
 * timer_wheel_advance(now_ms), which fires, in expiry order, every timer
 * whose expiry is <= now_ms. The event loop advances it with the monotonic
 * clock; tests advance it by hand (the fake clock), so a retransmission
 * schedule can be asserted to the millisecond.
 *
 * Resolution 1 ms. Timers with the same expiry fire in the order they were
 * started. While a callback runs, the wheel's clock (now_ms) reads that
 * timer's expiry, not the time passed to timer_wheel_advance: one big
 * advance behaves exactly like many small ones, so a callback that restarts
 * its timer with delay d schedules it at (own expiry + d). A retransmission
 * doubling from T1 therefore fires at 500, 1500, 3500, ... even when a test
 * advances 64 s in one call.
 *
 * A callback may start, restart or cancel any timer, including its own, and
 * may free the object that holds the timer it was called for (the wheel
 * does not touch a timer after calling it). A timer cancelled or restarted
 * by an earlier callback of the same advance does not fire at its old time.
 * A timer started from a callback with an expiry <= the advance's now_ms
 * fires within the same advance (so a callback that restarts itself with
 * delay 0 never lets the advance finish). Callbacks must not call
 * timer_wheel_advance or timer_wheel_fini.
 *
 * Delays are clamped to TIMER_MAX_DELAY_MS (2^36 ms, about 795 days).
 * Not thread-safe: one wheel per event loop.
 */
#ifndef SIPD_BASE_TIMER_H
#define SIPD_BASE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct timer;
struct timer_wheel;
typedef void (timer_h)(struct timer *timer, void *arg);

struct timer {
	struct timer *next, *prev; /* slot list; owned by the wheel while pending */
	uint64_t expires_ms;       /* absolute, on the wheel's clock */
	timer_h *cb;
	void *arg;
	struct timer_wheel *wheel; /* the wheel it is pending on; NULL when not */
	bool pending;
};

#define TIMER_WHEEL_LEVELS 6
#define TIMER_WHEEL_BITS 6 /* per level: 64 slots */
#define TIMER_WHEEL_SLOTS (1u << TIMER_WHEEL_BITS)
/* 2^36 ms: the span of all levels; longer delays are clamped to it. */
#define TIMER_MAX_DELAY_MS (UINT64_C(1) << (TIMER_WHEEL_LEVELS * TIMER_WHEEL_BITS))

struct timer_wheel {
	uint64_t now_ms; /* ms; last advance, or the expiry of the running callback */
	/* List heads (only next/prev used). Level l slot s holds the timers
	 * whose expiry agrees with now_ms above bit 6(l+1) and whose level-l
	 * digit is s (> now's digit for l >= 1). */
	struct timer slots[TIMER_WHEEL_LEVELS][TIMER_WHEEL_SLOTS];
	/* List head: timers due in the next 2^36 ms epoch (expiry differs from
	 * now_ms above bit 36); re-sorted into slots when that epoch begins. */
	struct timer overflow;
	uint64_t occupied[TIMER_WHEEL_LEVELS]; /* bit s: slots[l][s] non-empty */
	unsigned count; /* pending timers */
};

/* A zeroed timer is valid and not pending; timer_init is the same. */
void timer_init(struct timer *timer);
void timer_wheel_init(struct timer_wheel *wheel, uint64_t now_ms);
/* Detaches the timers still pending (not pending afterwards, never fired,
 * a later timer_cancel on them is a no-op). Their memory must still be
 * valid: cancel a timer before freeing its object. */
void timer_wheel_fini(struct timer_wheel *wheel);

/* (Re)start: fires at now_ms + delay_ms (cancels first if pending, even on
 * another wheel). delay_ms is clamped to TIMER_MAX_DELAY_MS. */
void timer_start(struct timer_wheel *wheel, struct timer *timer, uint64_t delay_ms, timer_h *cb,
		 void *arg);
/* No-op when not pending. O(1); needs no wheel argument. */
void timer_cancel(struct timer *timer);
static inline bool timer_pending(const struct timer *timer)
{
	return timer->pending;
}
/* ms left until it fires (0 if due), or UINT64_MAX when not pending. */
uint64_t timer_remaining(const struct timer_wheel *wheel, const struct timer *timer);

/* Move the clock to now_ms and fire what is due. A now_ms in the past is
 * ignored (the clock never goes backwards). */
void timer_wheel_advance(struct timer_wheel *wheel, uint64_t now_ms);
/* ms until the earliest pending timer (0 if one is due), UINT64_MAX if none.
 * O(levels). Exact when that timer sits in the lowest level (within 64 ms);
 * otherwise the start of its slot, an underestimate (never an
 * overestimate): waking then costs one cascade and a new wait. */
uint64_t timer_wheel_next_ms(const struct timer_wheel *wheel);

#endif
