/*
 * test_timer.c - unit tests for src/base/timer: the hierarchical timing
 * wheel, driven by hand (the fake clock).
 *
 * Every firing is checked against the exact expiry (the wheel's now_ms
 * inside the callback), order is checked against (expiry, start order), and
 * random cases use a fixed-seed generator so a failure reproduces. Callbacks
 * that free their object rely on ASan to catch any later touch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timer.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define HOUR_MS (UINT64_C(3600) * 1000)
#define DAY_MS (24 * HOUR_MS)

/* RFC 3261 retransmission timers, for the schedule test */
#define SIP_T1_MS 500
#define SIP_T2_MS 4000

/* splitmix64: a fixed-seed generator, so every run sees the same cases */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A delay spread over all levels: 0..2^bits - 1 with random bits. */
static uint64_t rng_delay(unsigned max_bits)
{
	unsigned bits = (unsigned)(rng_next() % (max_bits + 1));
	return bits ? rng_next() & ((UINT64_C(1) << bits) - 1) : 0;
}

/* ------------------------------------------------------------ recording */

/* One timer under test with what it saw when it fired. */
struct probe {
	struct timer timer;
	struct timer_wheel *wheel;
	uint64_t expect_ms; /* expiry it should fire at */
	uint64_t seq;       /* start order, for ties */
	unsigned fired;     /* times called */
	uint64_t fired_at;  /* wheel->now_ms during the call */
};

/* Every firing, in order, across one test. */
struct fire_log {
	struct probe **order;
	size_t count;
	size_t cap;
};

static struct fire_log fire_log;

static void fire_log_reset(size_t cap)
{
	free(fire_log.order);
	fire_log.order = calloc(cap, sizeof(*fire_log.order));
	assert_non_null(fire_log.order);
	fire_log.count = 0;
	fire_log.cap = cap;
}

static void fire_log_free(void)
{
	free(fire_log.order);
	memset(&fire_log, 0, sizeof(fire_log));
}

static void probe_fired(struct timer *timer, void *arg)
{
	struct probe *p = arg;

	assert_ptr_equal(&p->timer, timer);
	assert_false(timer_pending(timer));
	p->fired++;
	p->fired_at = p->wheel->now_ms;
	if (fire_log.order) {
		assert_true(fire_log.count < fire_log.cap);
		fire_log.order[fire_log.count++] = p;
	}
}

static void probe_start(struct timer_wheel *wheel, struct probe *p, uint64_t delay_ms,
			uint64_t seq)
{
	p->wheel = wheel;
	p->seq = seq;
	p->expect_ms = wheel->now_ms + (delay_ms > TIMER_MAX_DELAY_MS ? TIMER_MAX_DELAY_MS : delay_ms);
	timer_start(wheel, &p->timer, delay_ms, probe_fired, p);
}

/* The log is in (expiry, start) order and each entry fired at its expiry. */
static void check_fire_log_order(void)
{
	for (size_t i = 0; i < fire_log.count; i++) {
		const struct probe *p = fire_log.order[i];
		assert_int_equal(p->fired, 1);
		assert_int_equal(p->fired_at, p->expect_ms);
		if (i == 0)
			continue;
		const struct probe *q = fire_log.order[i - 1];
		if (q->expect_ms == p->expect_ms)
			assert_true(q->seq < p->seq);
		else
			assert_true(q->expect_ms < p->expect_ms);
	}
}

/* ----------------------------------------------------------------- basic */

static void test_timer_zeroed(void **state)
{
	struct timer t;
	struct timer_wheel wheel;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_false(timer_pending(&t));
	timer_cancel(&t); /* no-op */
	timer_init(&t);
	assert_false(timer_pending(&t));

	timer_wheel_init(&wheel, 1000);
	assert_int_equal(timer_remaining(&wheel, &t), UINT64_MAX);
	assert_int_equal(timer_wheel_next_ms(&wheel), UINT64_MAX);
	timer_wheel_advance(&wheel, 5000);
	assert_int_equal(wheel.now_ms, 5000);
	/* never backwards */
	timer_wheel_advance(&wheel, 4000);
	assert_int_equal(wheel.now_ms, 5000);
	timer_wheel_fini(&wheel);
}

/* Fires at exactly now + delay, not a millisecond earlier, across every
 * level boundary and from unaligned start times. */
static void test_timer_exact_ms(void **state)
{
	static const uint64_t bases[] = {
		0, 1, 63, 64, 1000, 4095, 123456789, (UINT64_C(1) << 36) - 1, UINT64_C(5) << 36,
	};
	static const uint64_t delays[] = {
		0, 1, 2, 62, 63, 64, 65, 127, 128, 4095, 4096, 4097,
		(UINT64_C(1) << 18) - 1, UINT64_C(1) << 18, (UINT64_C(1) << 18) + 1,
		(UINT64_C(1) << 24) + 7, (UINT64_C(1) << 30) - 1, (UINT64_C(1) << 30) + 3,
		(UINT64_C(1) << 35) + 11,
	};

	(void)state;
	for (size_t b = 0; b < ARRAY_LEN(bases); b++) {
		for (size_t d = 0; d < ARRAY_LEN(delays); d++) {
			struct timer_wheel wheel;
			struct probe p = { 0 };
			uint64_t expiry = bases[b] + delays[d];

			timer_wheel_init(&wheel, bases[b]);
			probe_start(&wheel, &p, delays[d], 0);
			assert_true(timer_pending(&p.timer));
			assert_int_equal(wheel.count, 1);
			assert_int_equal(timer_remaining(&wheel, &p.timer), delays[d]);
			assert_true(timer_wheel_next_ms(&wheel) <= delays[d]);
			if (delays[d] > 0) {
				timer_wheel_advance(&wheel, expiry - 1);
				if (p.fired)
					fail_msg("base %llu delay %llu fired early at %llu",
						 (unsigned long long)bases[b],
						 (unsigned long long)delays[d],
						 (unsigned long long)p.fired_at);
				assert_int_equal(timer_remaining(&wheel, &p.timer), 1);
				assert_int_equal(timer_wheel_next_ms(&wheel), 1);
			}
			timer_wheel_advance(&wheel, expiry);
			if (p.fired != 1 || p.fired_at != expiry)
				fail_msg("base %llu delay %llu: fired %u times, at %llu",
					 (unsigned long long)bases[b],
					 (unsigned long long)delays[d], p.fired,
					 (unsigned long long)p.fired_at);
			assert_false(timer_pending(&p.timer));
			assert_int_equal(wheel.count, 0);
			assert_int_equal(timer_wheel_next_ms(&wheel), UINT64_MAX);
			timer_wheel_advance(&wheel, expiry + DAY_MS);
			assert_int_equal(p.fired, 1);
			timer_wheel_fini(&wheel);
		}
	}
}

/* Restarting a pending timer moves it: it fires once, at the new time. */
static void test_timer_restart_pending(void **state)
{
	struct timer_wheel wheel;
	struct probe p = { 0 };

	(void)state;
	timer_wheel_init(&wheel, 100);
	probe_start(&wheel, &p, 50, 0);
	probe_start(&wheel, &p, 5000, 1);
	assert_int_equal(wheel.count, 1);
	timer_wheel_advance(&wheel, 5099);
	assert_int_equal(p.fired, 0);
	timer_wheel_advance(&wheel, 10000);
	assert_int_equal(p.fired, 1);
	assert_int_equal(p.fired_at, 5100);
	/* and sooner than before */
	probe_start(&wheel, &p, 100000, 2);
	probe_start(&wheel, &p, 3, 3);
	timer_wheel_advance(&wheel, 200000);
	assert_int_equal(p.fired, 2);
	assert_int_equal(p.fired_at, 10003);
	timer_wheel_fini(&wheel);
}

static void test_timer_cancel(void **state)
{
	static const uint64_t delays[] = { 0, 1, 64, 5000, HOUR_MS, TIMER_MAX_DELAY_MS };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(delays); i++) {
		struct timer_wheel wheel;
		struct probe p = { 0 }, other = { 0 };

		timer_wheel_init(&wheel, 777);
		probe_start(&wheel, &p, delays[i], 0);
		probe_start(&wheel, &other, delays[i], 1); /* same slot */
		timer_cancel(&p.timer);
		assert_false(timer_pending(&p.timer));
		assert_int_equal(timer_remaining(&wheel, &p.timer), UINT64_MAX);
		timer_cancel(&p.timer); /* twice is harmless */
		assert_int_equal(wheel.count, 1);
		timer_wheel_advance(&wheel, 777 + TIMER_MAX_DELAY_MS + 1);
		assert_int_equal(p.fired, 0);
		assert_int_equal(other.fired, 1);
		assert_int_equal(wheel.count, 0);
		/* the slot's occupancy was kept right: nothing left to find */
		assert_int_equal(timer_wheel_next_ms(&wheel), UINT64_MAX);
		timer_wheel_fini(&wheel);
	}
}

/* ------------------------------------------------------------- ordering */

/* Many timers, random delays at every level, started between random
 * advances: each fires once, at its expiry, in (expiry, start) order. */
static void run_random_order(uint64_t seed, bool one_big_step)
{
	enum { N = 20000 };
	struct probe *probes = calloc(N, sizeof(*probes));
	struct timer_wheel wheel;
	uint64_t seq = 0;

	assert_non_null(probes);
	rng_seed(seed);
	fire_log_reset(N);
	timer_wheel_init(&wheel, rng_next() >> 30);
	for (size_t i = 0; i < N; i++) {
		/* many collide on small delays, to exercise ties */
		uint64_t delay = (i % 4 == 0) ? rng_next() % 16 : rng_delay(34);
		probe_start(&wheel, &probes[i], delay, seq++);
		if (!one_big_step && rng_next() % 8 == 0)
			timer_wheel_advance(&wheel, wheel.now_ms + rng_delay(20));
	}
	timer_wheel_advance(&wheel, wheel.now_ms + (UINT64_C(1) << 35));
	assert_int_equal(fire_log.count, N);
	assert_int_equal(wheel.count, 0);
	check_fire_log_order();
	timer_wheel_fini(&wheel);
	fire_log_free();
	free(probes);
}

static void test_timer_random_order_steps(void **state)
{
	(void)state;
	run_random_order(1, false);
	run_random_order(0xdeadbeef, false);
}

static void test_timer_random_order_one_step(void **state)
{
	(void)state;
	run_random_order(2, true);
	run_random_order(42, true);
}

/* Advancing one millisecond at a time gives the same order as one jump. */
static void test_timer_small_steps(void **state)
{
	enum { N = 2000 };
	struct probe probes[N];
	struct timer_wheel wheel;

	(void)state;
	memset(probes, 0, sizeof(probes));
	rng_seed(7);
	fire_log_reset(N);
	timer_wheel_init(&wheel, 4090);
	for (size_t i = 0; i < N; i++)
		probe_start(&wheel, &probes[i], rng_next() % 20000, i);
	for (uint64_t now = 4090; now <= 4090 + 20000; now++) {
		timer_wheel_advance(&wheel, now);
		/* everything due has fired, nothing later has */
		for (size_t i = 0; i < N; i += 97)
			assert_int_equal(probes[i].fired, probes[i].expect_ms <= now);
	}
	assert_int_equal(fire_log.count, N);
	check_fire_log_order();
	timer_wheel_fini(&wheel);
	fire_log_free();
}

/* ---------------------------------------------------- callbacks that act */

struct canceller {
	struct probe self;
	struct timer *victims[4];
	size_t victim_count;
	struct timer *restart; /* restarted by +restart_ms when set */
	uint64_t restart_ms;
	struct probe *restart_probe;
};

static void canceller_fired(struct timer *timer, void *arg)
{
	struct canceller *c = arg;

	probe_fired(timer, &c->self);
	for (size_t i = 0; i < c->victim_count; i++)
		timer_cancel(c->victims[i]);
	if (c->restart) {
		c->restart_probe->expect_ms = c->self.wheel->now_ms + c->restart_ms;
		timer_start(c->self.wheel, c->restart, c->restart_ms, probe_fired, c->restart_probe);
	}
}

/* A timer cancelled by an earlier callback of the same advance does not
 * fire: in the same slot (same expiry), later in the same level-0 block,
 * and in a higher level. A restarted one fires at its new time only. */
static void test_timer_cancel_from_callback(void **state)
{
	struct timer_wheel wheel;
	struct canceller c = { 0 };
	struct probe same = { 0 }, later = { 0 }, far = { 0 }, moved = { 0 }, kept = { 0 };

	(void)state;
	fire_log_reset(16);
	timer_wheel_init(&wheel, 1000);
	c.self.wheel = &wheel;
	c.self.expect_ms = 1010;
	timer_start(&wheel, &c.self.timer, 10, canceller_fired, &c);
	probe_start(&wheel, &same, 10, 1);     /* same expiry, started after */
	probe_start(&wheel, &later, 11, 2);    /* next millisecond */
	probe_start(&wheel, &far, 100000, 3);  /* level 2 */
	probe_start(&wheel, &moved, 12, 4);    /* restarted to +5000 */
	probe_start(&wheel, &kept, 20, 5);     /* untouched */
	c.victims[0] = &same.timer;
	c.victims[1] = &later.timer;
	c.victims[2] = &far.timer;
	c.victim_count = 3;
	c.restart = &moved.timer;
	c.restart_ms = 5000;
	c.restart_probe = &moved;

	timer_wheel_advance(&wheel, 1000 + DAY_MS);
	assert_int_equal(c.self.fired, 1);
	assert_int_equal(same.fired, 0);
	assert_int_equal(later.fired, 0);
	assert_int_equal(far.fired, 0);
	assert_int_equal(kept.fired, 1);
	assert_int_equal(kept.fired_at, 1020);
	assert_int_equal(moved.fired, 1);
	assert_int_equal(moved.fired_at, 1010 + 5000);
	assert_int_equal(wheel.count, 0);
	assert_int_equal(fire_log.count, 3);
	timer_wheel_fini(&wheel);
	fire_log_free();
}

/* A callback that starts a timer already due in this advance (delay 0, or
 * short of the advance's end): it fires within the same advance. */
static void test_timer_start_due_from_callback(void **state)
{
	struct timer_wheel wheel;
	struct canceller c = { 0 };
	struct probe zero = { 0 };

	(void)state;
	timer_wheel_init(&wheel, 0);
	c.self.wheel = &wheel;
	timer_start(&wheel, &c.self.timer, 70, canceller_fired, &c);
	c.restart = &zero.timer;
	c.restart_ms = 0;
	c.restart_probe = &zero;
	zero.wheel = &wheel;
	timer_wheel_advance(&wheel, 70);
	assert_int_equal(zero.fired, 1);
	assert_int_equal(zero.fired_at, 70);

	c.restart_ms = 30;
	timer_start(&wheel, &c.self.timer, 5, canceller_fired, &c);
	timer_wheel_advance(&wheel, 1000);
	assert_int_equal(zero.fired, 2);
	assert_int_equal(zero.fired_at, 105);
	timer_wheel_fini(&wheel);
}

/* ------------------------------------------------ retransmission schedule */

struct retransmit {
	struct timer timer;
	struct timer_wheel *wheel;
	uint64_t interval_ms;
	uint64_t fired_at[64];
	size_t count;
};

static void retransmit_fired(struct timer *timer, void *arg)
{
	struct retransmit *r = arg;

	assert_true(r->count < ARRAY_LEN(r->fired_at));
	r->fired_at[r->count++] = r->wheel->now_ms;
	r->interval_ms = r->interval_ms * 2 < SIP_T2_MS ? r->interval_ms * 2 : SIP_T2_MS;
	timer_start(r->wheel, timer, r->interval_ms, retransmit_fired, r);
}

/* T1 doubling capped at T2, restarted from its own callback: the exact
 * schedule, whether the clock moves in one 64 s jump or in small steps. */
static void test_timer_retransmit_schedule(void **state)
{
	static const uint64_t steps[] = { 64000, 1, 7, 499, 500, 501, 4096 };
	static const uint64_t bases[] = { 0, 12345, (UINT64_C(1) << 36) - 3000 };

	(void)state;
	for (size_t b = 0; b < ARRAY_LEN(bases); b++) {
		for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
			struct timer_wheel wheel;
			struct retransmit r = { 0 };
			uint64_t expect[64];
			size_t expect_count = 0;
			uint64_t at = 0, interval = SIP_T1_MS;

			/* 500, 1000, 2000, 4000, 4000, ... after the start */
			while (at + interval <= 64000) {
				at += interval;
				expect[expect_count++] = bases[b] + at;
				interval = interval * 2 < SIP_T2_MS ? interval * 2 : SIP_T2_MS;
			}

			timer_wheel_init(&wheel, bases[b]);
			r.wheel = &wheel;
			r.interval_ms = SIP_T1_MS;
			timer_start(&wheel, &r.timer, SIP_T1_MS, retransmit_fired, &r);
			for (uint64_t now = bases[b]; now < bases[b] + 64000;) {
				now = now + steps[s] < bases[b] + 64000 ? now + steps[s]
									 : bases[b] + 64000;
				timer_wheel_advance(&wheel, now);
			}
			assert_int_equal(r.count, expect_count);
			for (size_t i = 0; i < expect_count; i++)
				if (r.fired_at[i] != expect[i])
					fail_msg("base %llu step %llu: firing %zu at %llu, want %llu",
						 (unsigned long long)bases[b],
						 (unsigned long long)steps[s], i,
						 (unsigned long long)r.fired_at[i],
						 (unsigned long long)expect[i]);
			/* the next one is pending at the following multiple */
			assert_int_equal(r.timer.expires_ms, expect[expect_count - 1] + SIP_T2_MS);
			timer_cancel(&r.timer);
			timer_wheel_fini(&wheel);
		}
	}
	/* the first intervals named in the test's description */
	assert_int_equal(SIP_T1_MS * 2, 1000);
}

/* ----------------------------------------------------------- long delays */

static void test_timer_long_delays(void **state)
{
	static const struct {
		uint64_t base, delay, expect_delay;
	} cases[] = {
		{ 0, HOUR_MS, HOUR_MS },
		{ 999, DAY_MS, DAY_MS },
		{ 5, 30 * DAY_MS, 30 * DAY_MS },
		{ 0, TIMER_MAX_DELAY_MS - 1, TIMER_MAX_DELAY_MS - 1 },
		{ 0, TIMER_MAX_DELAY_MS, TIMER_MAX_DELAY_MS },
		{ 0, TIMER_MAX_DELAY_MS + 1, TIMER_MAX_DELAY_MS },
		{ 17, UINT64_MAX, TIMER_MAX_DELAY_MS },
		/* crossing a 2^36 epoch: through the overflow list */
		{ (UINT64_C(1) << 36) - 5, HOUR_MS, HOUR_MS },
		{ (UINT64_C(1) << 36) - 1, 20, 20 },
		{ (UINT64_C(3) << 36) + 12345, TIMER_MAX_DELAY_MS, TIMER_MAX_DELAY_MS },
		{ (UINT64_C(3) << 36) + 12345, UINT64_C(1) << 40, TIMER_MAX_DELAY_MS },
		{ (UINT64_C(7) << 36) - 1, TIMER_MAX_DELAY_MS, TIMER_MAX_DELAY_MS },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct timer_wheel wheel;
		struct probe p = { 0 }, near = { 0 };
		uint64_t expiry = cases[i].base + cases[i].expect_delay;

		timer_wheel_init(&wheel, cases[i].base);
		probe_start(&wheel, &p, cases[i].delay, 0);
		probe_start(&wheel, &near, 10, 1);
		assert_int_equal(timer_remaining(&wheel, &p.timer), cases[i].expect_delay);
		timer_wheel_advance(&wheel, cases[i].base + 10);
		assert_int_equal(near.fired, 1);
		timer_wheel_advance(&wheel, expiry - 1);
		if (p.fired)
			fail_msg("case %zu fired early at %llu", i, (unsigned long long)p.fired_at);
		assert_int_equal(timer_remaining(&wheel, &p.timer), 1);
		timer_wheel_advance(&wheel, expiry);
		if (p.fired != 1 || p.fired_at != expiry)
			fail_msg("case %zu: fired %u times at %llu, want %llu", i, p.fired,
				 (unsigned long long)p.fired_at, (unsigned long long)expiry);
		timer_wheel_fini(&wheel);
	}
}

/* One timer per hour for a year, passed in one jump and one hour at a time:
 * one step per event, not per millisecond (a millisecond walk would take
 * minutes here). */
static void test_timer_long_jumps(void **state)
{
	enum { N = 24 * 365 };
	struct probe *probes = calloc(N, sizeof(*probes));
	struct timer_wheel wheel;

	(void)state;
	assert_non_null(probes);
	fire_log_reset(N);
	timer_wheel_init(&wheel, 1);
	for (size_t i = 0; i < N; i++)
		probe_start(&wheel, &probes[i], (N - i) * HOUR_MS, i);
	timer_wheel_advance(&wheel, 1 + 365 * DAY_MS);
	assert_int_equal(fire_log.count, N);
	check_fire_log_order();

	fire_log.count = 0;
	memset(probes, 0, N * sizeof(*probes));
	for (size_t i = 0; i < N; i++)
		probe_start(&wheel, &probes[i], (i + 1) * HOUR_MS, i);
	for (size_t h = 1; h <= N; h++) {
		timer_wheel_advance(&wheel, wheel.now_ms + HOUR_MS);
		assert_int_equal(fire_log.count, h);
	}
	check_fire_log_order();
	timer_wheel_fini(&wheel);
	fire_log_free();
	free(probes);
}

/* ------------------------------------------------------------ next_ms */

/* The earliest expiry among pending probes, relative to now. */
static uint64_t true_next(const struct timer_wheel *wheel, const struct probe *probes, size_t n)
{
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i < n; i++) {
		if (!timer_pending(&probes[i].timer))
			continue;
		uint64_t left = probes[i].expect_ms - wheel->now_ms;
		if (left < best)
			best = left;
	}
	return best;
}

/* Property: timer_wheel_next_ms never exceeds the true time to the next
 * expiry, is UINT64_MAX only when nothing is pending, and driving the
 * wheel by it alone (as the loop does) fires every timer at its expiry in
 * a bounded number of wake-ups. */
static void test_timer_next_ms_property(void **state)
{
	enum { N = 300, ROUNDS = 40 };
	struct probe probes[N];

	(void)state;
	rng_seed(99);
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct timer_wheel wheel;
		size_t n = 1 + rng_next() % N;
		unsigned wakeups = 0;

		memset(probes, 0, sizeof(probes));
		timer_wheel_init(&wheel, rng_next() >> (round % 2 ? 28 : 50));
		for (size_t i = 0; i < n; i++) {
			probe_start(&wheel, &probes[i], rng_delay(round < 4 ? 37 : 30), i);
			if (rng_next() % 5 == 0)
				timer_cancel(&probes[i].timer);
		}
		for (;;) {
			uint64_t next = timer_wheel_next_ms(&wheel);
			uint64_t truth = true_next(&wheel, probes, n);
			if (next > truth)
				fail_msg("round %u: next_ms %llu > true %llu", round,
					 (unsigned long long)next, (unsigned long long)truth);
			if (truth == UINT64_MAX) {
				assert_int_equal(next, UINT64_MAX);
				break;
			}
			assert_int_not_equal(next, UINT64_MAX);
			/* sometimes wake early, as a loop interrupted by I/O does */
			if (next > 1 && rng_next() % 4 == 0)
				next = rng_next() % next;
			timer_wheel_advance(&wheel, wheel.now_ms + next);
			/* each timer: at most one exact wake-up and one cascade per
			 * level, plus the early wake-ups above */
			assert_true(++wakeups < n * 4 * (TIMER_WHEEL_LEVELS + 2) + 64);
		}
		for (size_t i = 0; i < n; i++) {
			if (probes[i].fired)
				assert_int_equal(probes[i].fired_at, probes[i].expect_ms);
		}
		timer_wheel_fini(&wheel);
	}
}

/* Exact when the earliest timer is in the lowest level. */
static void test_timer_next_ms_exact(void **state)
{
	static const struct {
		uint64_t base, delay;
	} cases[] = {
		{ 0, 0 }, { 0, 1 }, { 0, 63 }, { 64, 63 }, { 100, 20 }, { 1000, 24 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct timer_wheel wheel;
		struct probe p = { 0 };

		timer_wheel_init(&wheel, cases[i].base);
		probe_start(&wheel, &p, cases[i].delay, 0);
		assert_int_equal(timer_wheel_next_ms(&wheel), cases[i].delay);
		timer_cancel(&p.timer);
		timer_wheel_fini(&wheel);
	}
}

/* ------------------------------------------------------------ volume */

static void test_timer_many(void **state)
{
	enum { N = 100000 };
	struct probe *probes = calloc(N, sizeof(*probes));
	struct timer_wheel wheel;
	size_t cancelled = 0, restarted = 0, fired = 0;

	(void)state;
	assert_non_null(probes);
	rng_seed(100000);
	timer_wheel_init(&wheel, 50);
	for (size_t i = 0; i < N; i++)
		probe_start(&wheel, &probes[i], rng_delay(26), i);
	assert_int_equal(wheel.count, N);
	for (size_t i = 0; i < N; i += 3) {
		timer_cancel(&probes[i].timer);
		cancelled++;
	}
	for (size_t i = 1; i < N; i += 7) {
		if (i % 3 == 0)
			continue;
		probe_start(&wheel, &probes[i], rng_delay(26), N + i);
		restarted++;
	}
	assert_int_equal(wheel.count, N - cancelled);
	while (wheel.count) {
		uint64_t before = wheel.count;
		timer_wheel_advance(&wheel, wheel.now_ms + rng_delay(22));
		assert_true(wheel.count <= before);
	}
	for (size_t i = 0; i < N; i++) {
		if (i % 3 == 0) {
			assert_int_equal(probes[i].fired, 0);
			continue;
		}
		assert_int_equal(probes[i].fired, 1);
		assert_int_equal(probes[i].fired_at, probes[i].expect_ms);
		fired++;
	}
	assert_int_equal(fired, N - cancelled);
	assert_true(restarted > 0);
	assert_int_equal(timer_wheel_next_ms(&wheel), UINT64_MAX);
	timer_wheel_fini(&wheel);
	free(probes);
}

/* ------------------------------------------------------ free in callback */

struct owned {
	struct timer timer;
	struct timer_wheel *wheel;
	struct owned *peer; /* freed too, after cancelling its timer */
	unsigned *freed;
};

static void owned_fired(struct timer *timer, void *arg)
{
	struct owned *o = arg;

	assert_ptr_equal(timer, &o->timer);
	if (o->peer) {
		timer_cancel(&o->peer->timer);
		free(o->peer);
		(*o->freed)++;
	}
	(*o->freed)++;
	free(o);
}

static void test_timer_free_in_callback(void **state)
{
	struct timer_wheel wheel;
	unsigned freed = 0;
	struct owned *objs[6];

	(void)state;
	timer_wheel_init(&wheel, 0);
	for (size_t i = 0; i < ARRAY_LEN(objs); i++) {
		objs[i] = calloc(1, sizeof(*objs[i]));
		assert_non_null(objs[i]);
		objs[i]->wheel = &wheel;
		objs[i]->freed = &freed;
	}
	/* 0, 1: same expiry, 0 frees 1 (due in the same slot) */
	objs[0]->peer = objs[1];
	timer_start(&wheel, &objs[0]->timer, 100, owned_fired, objs[0]);
	timer_start(&wheel, &objs[1]->timer, 100, owned_fired, objs[1]);
	/* 2 frees 3, due later in this advance at a higher level */
	objs[2]->peer = objs[3];
	timer_start(&wheel, &objs[2]->timer, 200, owned_fired, objs[2]);
	timer_start(&wheel, &objs[3]->timer, 70000, owned_fired, objs[3]);
	/* 4 and 5 free only themselves, 5 after 4 in the same slot */
	timer_start(&wheel, &objs[4]->timer, 300, owned_fired, objs[4]);
	timer_start(&wheel, &objs[5]->timer, 300, owned_fired, objs[5]);

	timer_wheel_advance(&wheel, HOUR_MS);
	assert_int_equal(freed, 6);
	assert_int_equal(wheel.count, 0);
	timer_wheel_fini(&wheel);
}

/* fini detaches what is still pending: a later cancel is a no-op. */
static void test_timer_fini_detaches(void **state)
{
	struct timer_wheel *wheel = malloc(sizeof(*wheel));
	struct probe a = { 0 }, b = { 0 };

	(void)state;
	assert_non_null(wheel);
	timer_wheel_init(wheel, 0);
	probe_start(wheel, &a, 5, 0);
	probe_start(wheel, &b, DAY_MS, 1);
	timer_wheel_fini(wheel);
	free(wheel);
	assert_false(timer_pending(&a.timer));
	assert_false(timer_pending(&b.timer));
	timer_cancel(&a.timer); /* ASan: must not touch the freed wheel */
	timer_cancel(&b.timer);
	assert_int_equal(a.fired + b.fired, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_zeroed),
		cmocka_unit_test(test_timer_exact_ms),
		cmocka_unit_test(test_timer_restart_pending),
		cmocka_unit_test(test_timer_cancel),
		cmocka_unit_test(test_timer_random_order_steps),
		cmocka_unit_test(test_timer_random_order_one_step),
		cmocka_unit_test(test_timer_small_steps),
		cmocka_unit_test(test_timer_cancel_from_callback),
		cmocka_unit_test(test_timer_start_due_from_callback),
		cmocka_unit_test(test_timer_retransmit_schedule),
		cmocka_unit_test(test_timer_long_delays),
		cmocka_unit_test(test_timer_long_jumps),
		cmocka_unit_test(test_timer_next_ms_property),
		cmocka_unit_test(test_timer_next_ms_exact),
		cmocka_unit_test(test_timer_many),
		cmocka_unit_test(test_timer_free_in_callback),
		cmocka_unit_test(test_timer_fini_detaches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
