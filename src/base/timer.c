/*
 * timer.c - hierarchical timing wheel (see timer.h for the contract).
 *
 * Six levels of 64 slots, 1 ms per level-0 slot. A timer is placed by the
 * highest bit in which its expiry differs from now_ms: if that bit lies in
 * the 6-bit digit of level l, the timer goes into level l at the slot named
 * by its own level-l digit. So level 0 holds the timers due within now's
 * 64 ms block, one exact expiry per slot; level l holds those due within
 * now's 64^(l+1) ms block but a later 64^l ms sub-block. Expiries differing
 * from now_ms above bit 36 (possible because delays up to 2^36 ms reach into
 * the next epoch) wait on the overflow list.
 *
 * Invariants, whenever no cascade is in progress:
 *  - every pending timer has expires_ms >= now_ms;
 *  - a non-empty slot at level l >= 1 has a digit greater than now's digit
 *    at level l (its block lies ahead), and a non-empty level-0 slot a
 *    digit >= now's (equal only for timers due right now);
 *  - occupied[l] has bit s set exactly when slots[l][s] is non-empty;
 *  - each list is in start order among timers of equal expiry.
 *
 * So the earliest "event" - a level-0 slot coming due or a higher slot's
 * block beginning - is found from the occupancy bitmaps alone: the lowest
 * non-empty level's first occupied slot ahead of now's digit (every
 * lower level's candidate precedes every higher level's). timer_wheel_next_ms
 * is that computation, O(levels). Advancing loops: find the next event; if
 * it is beyond the target, stop; otherwise move now_ms to it, cascade the
 * slot(s) whose block begins there (top level first, re-inserting each
 * timer relative to the new now_ms, which moves it at least one level
 * down), then fire the level-0 slot of now_ms. Empty spans are skipped in
 * one step, so an advance costs O(levels) per event plus at most one
 * cascade per level per timer, however large the jump.
 *
 * Ties stay in start order because a slot is cascaded at the first instant
 * of its block, before any callback can start a timer relative to that
 * instant, and cascading appends in list order.
 *
 * Firing pops the head of the due slot one timer at a time and marks it not
 * pending before calling it, so a callback can cancel, restart or free any
 * timer (a cancelled one is simply no longer on the list) and the wheel
 * never touches a timer after its callback returns.
 */
#include "base/timer.h"

#include <stddef.h>
#include <string.h>

#define WHEEL_MASK (TIMER_WHEEL_SLOTS - 1u)
#define WHEEL_SPAN_BITS (TIMER_WHEEL_LEVELS * TIMER_WHEEL_BITS)

_Static_assert(TIMER_WHEEL_SLOTS == 64, "occupancy bitmaps are uint64_t");

static void list_init(struct timer *head)
{
	head->next = head;
	head->prev = head;
}

static bool list_empty(const struct timer *head)
{
	return head->next == head;
}

static void list_append(struct timer *head, struct timer *t)
{
	t->prev = head->prev;
	t->next = head;
	head->prev->next = t;
	head->prev = t;
}

static unsigned digit(uint64_t ms, unsigned level)
{
	return (unsigned)(ms >> (level * TIMER_WHEEL_BITS)) & WHEEL_MASK;
}

/*
 * Links t (expires_ms set, not linked) relative to wheel->now_ms. The slot
 * heads record their own level and slot in expires_ms (see
 * timer_wheel_init), so unlinking can clear the occupancy bit without
 * searching.
 */
static void wheel_insert(struct timer_wheel *wheel, struct timer *t)
{
	uint64_t diff = t->expires_ms ^ wheel->now_ms;
	unsigned level = 0;

	if (diff >> WHEEL_SPAN_BITS) {
		list_append(&wheel->overflow, t);
		return;
	}
	if (diff)
		level = (unsigned)(63 - __builtin_clzll(diff)) / TIMER_WHEEL_BITS;
	unsigned slot = digit(t->expires_ms, level);
	list_append(&wheel->slots[level][slot], t);
	wheel->occupied[level] |= UINT64_C(1) << slot;
}

/* Unlinks a pending timer from its list, keeping the bitmap exact. */
static void wheel_unlink(struct timer *t)
{
	struct timer_wheel *wheel = t->wheel;

	if (t->next == t->prev) {
		/* t was the only entry: its neighbour is the list head */
		struct timer *head = t->next;
		if (head != &wheel->overflow) {
			unsigned level = (unsigned)(head->expires_ms / TIMER_WHEEL_SLOTS);
			unsigned slot = (unsigned)(head->expires_ms % TIMER_WHEEL_SLOTS);
			wheel->occupied[level] &= ~(UINT64_C(1) << slot);
		}
	}
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = NULL;
	t->prev = NULL;
}

/* Detaches t from the wheel: not pending, not linked, count updated. */
static void wheel_remove(struct timer *t)
{
	wheel_unlink(t);
	t->wheel->count--;
	t->wheel = NULL;
	t->pending = false;
}

/*
 * The earliest instant at which something happens: a level-0 timer comes
 * due (exact) or a higher slot's block or the next epoch begins (a lower
 * bound on the expiry of the timers there). false when nothing is pending.
 */
static bool wheel_next_event(const struct timer_wheel *wheel, uint64_t *out)
{
	uint64_t now = wheel->now_ms;

	for (unsigned level = 0; level < TIMER_WHEEL_LEVELS; level++) {
		unsigned shift = level * TIMER_WHEEL_BITS;
		uint64_t ahead = wheel->occupied[level] >> digit(now, level) << digit(now, level);
		if (!ahead)
			continue;
		uint64_t slot = (uint64_t)__builtin_ctzll(ahead);
		uint64_t block = now >> (shift + TIMER_WHEEL_BITS) << (shift + TIMER_WHEEL_BITS);
		*out = block | (slot << shift);
		return true;
	}
	if (!list_empty(&wheel->overflow)) {
		*out = ((now >> WHEEL_SPAN_BITS) + 1) << WHEEL_SPAN_BITS;
		return true;
	}
	return false;
}

/* Moves every timer of list head into the slots for the current now_ms. */
static void wheel_cascade(struct timer_wheel *wheel, struct timer *head)
{
	struct timer moving;

	/* splice the whole list onto a local head, then re-insert in order */
	list_init(&moving);
	moving.next = head->next;
	moving.prev = head->prev;
	moving.next->prev = &moving;
	moving.prev->next = &moving;
	list_init(head);

	while (!list_empty(&moving)) {
		struct timer *t = moving.next;
		t->prev->next = t->next;
		t->next->prev = t->prev;
		wheel_insert(wheel, t);
	}
}

void timer_init(struct timer *timer)
{
	memset(timer, 0, sizeof(*timer));
}

void timer_wheel_init(struct timer_wheel *wheel, uint64_t now_ms)
{
	memset(wheel, 0, sizeof(*wheel));
	wheel->now_ms = now_ms;
	for (unsigned level = 0; level < TIMER_WHEEL_LEVELS; level++) {
		for (unsigned slot = 0; slot < TIMER_WHEEL_SLOTS; slot++) {
			struct timer *head = &wheel->slots[level][slot];
			list_init(head);
			/* a head is never pending; its expires_ms names it */
			head->expires_ms = (uint64_t)level * TIMER_WHEEL_SLOTS + slot;
		}
	}
	list_init(&wheel->overflow);
}

static void detach_all(struct timer *head)
{
	while (!list_empty(head))
		wheel_remove(head->next);
}

void timer_wheel_fini(struct timer_wheel *wheel)
{
	for (unsigned level = 0; level < TIMER_WHEEL_LEVELS; level++)
		for (unsigned slot = 0; slot < TIMER_WHEEL_SLOTS; slot++)
			detach_all(&wheel->slots[level][slot]);
	detach_all(&wheel->overflow);
}

void timer_start(struct timer_wheel *wheel, struct timer *timer, uint64_t delay_ms, timer_h *cb,
		 void *arg)
{
	timer_cancel(timer);
	if (delay_ms > TIMER_MAX_DELAY_MS)
		delay_ms = TIMER_MAX_DELAY_MS;
	if (wheel->now_ms > UINT64_MAX - delay_ms)
		timer->expires_ms = UINT64_MAX;
	else
		timer->expires_ms = wheel->now_ms + delay_ms;
	timer->cb = cb;
	timer->arg = arg;
	timer->wheel = wheel;
	timer->pending = true;
	wheel->count++;
	wheel_insert(wheel, timer);
}

void timer_cancel(struct timer *timer)
{
	if (timer->pending)
		wheel_remove(timer);
}

uint64_t timer_remaining(const struct timer_wheel *wheel, const struct timer *timer)
{
	if (!timer->pending)
		return UINT64_MAX;
	return timer->expires_ms > wheel->now_ms ? timer->expires_ms - wheel->now_ms : 0;
}

void timer_wheel_advance(struct timer_wheel *wheel, uint64_t now_ms)
{
	uint64_t event;

	if (now_ms < wheel->now_ms)
		return;
	while (wheel->count && wheel_next_event(wheel, &event) && event <= now_ms) {
		wheel->now_ms = event;

		/* cascade what begins at this instant, from the top down */
		if (!list_empty(&wheel->overflow) &&
		    ((wheel->overflow.next->expires_ms ^ event) >> WHEEL_SPAN_BITS) == 0)
			wheel_cascade(wheel, &wheel->overflow);
		for (unsigned level = TIMER_WHEEL_LEVELS - 1; level > 0; level--) {
			unsigned slot = digit(event, level);
			if (wheel->occupied[level] & (UINT64_C(1) << slot)) {
				wheel->occupied[level] &= ~(UINT64_C(1) << slot);
				wheel_cascade(wheel, &wheel->slots[level][slot]);
			}
		}

		/* fire: everything in this level-0 slot expires at exactly event */
		struct timer *due = &wheel->slots[0][digit(event, 0)];
		while (!list_empty(due)) {
			struct timer *t = due->next;
			wheel_remove(t);
			t->cb(t, t->arg);
		}
	}
	wheel->now_ms = now_ms;
}

uint64_t timer_wheel_next_ms(const struct timer_wheel *wheel)
{
	uint64_t event;

	if (!wheel_next_event(wheel, &event))
		return UINT64_MAX;
	return event > wheel->now_ms ? event - wheel->now_ms : 0;
}
