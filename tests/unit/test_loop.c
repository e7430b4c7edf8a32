/*
 * test_loop.c - unit tests for src/base/loop: descriptor dispatch, removal
 * safety within a turn, timers on the real monotonic clock, deferred calls,
 * stop and signals.
 *
 * Real time is used only with short delays, and only "fired" / "not fired
 * before its time" is asserted, never how long anything took. Every run has
 * a watchdog timer, so a broken loop fails the test instead of hanging it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fails a test whose loop_run would otherwise never return. */
#define WATCHDOG_MS 5000

struct watchdog {
	struct timer timer;
	struct loop *loop;
	bool fired;
};

static void watchdog_fired(struct timer *timer, void *arg)
{
	struct watchdog *w = arg;

	(void)timer;
	w->fired = true;
	loop_stop(w->loop);
}

/* loop_run under a watchdog; asserts it returned 0 by a loop_stop. */
static void run_guarded(struct loop *loop)
{
	struct watchdog w = { .loop = loop };

	timer_start(loop_timers(loop), &w.timer, WATCHDOG_MS, watchdog_fired, &w);
	assert_int_equal(loop_run(loop), 0);
	assert_false(w.fired);
	timer_cancel(&w.timer);
}

static void make_pipe(int fds[2])
{
	assert_int_equal(pipe(fds), 0);
}

static void write_byte(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

/* ------------------------------------------------------------ descriptors */

struct reader {
	struct loop_io io;
	struct loop *loop;
	int fds[2];
	unsigned calls;
	uint32_t events;
	char got;
	bool stop;
};

static void reader_readable(struct loop_io *io, uint32_t events, void *arg)
{
	struct reader *r = arg;

	assert_ptr_equal(io, &r->io);
	r->calls++;
	r->events = events;
	if (events & LOOP_READ) {
		ssize_t n = read(io->fd, &r->got, 1);
		/* at end of file READ may come with HUP and read nothing */
		assert_int_equal(n, (events & LOOP_HUP) ? n : 1);
	}
	if (r->stop)
		loop_stop(r->loop);
}

static void test_loop_readable(void **state)
{
	struct loop *loop = NULL;
	struct reader r = { 0 };

	(void)state;
	assert_int_equal(loop_alloc(&loop), 0);
	make_pipe(r.fds);
	r.loop = loop;
	r.stop = true;
	assert_int_equal(loop_io_add(loop, &r.io, r.fds[0], LOOP_READ, reader_readable, &r), 0);
	assert_true(r.io.active);
	assert_int_equal(r.io.fd, r.fds[0]);
	write_byte(r.fds[1]);
	run_guarded(loop);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.events, LOOP_READ);
	assert_int_equal(r.got, 'x');

	/* the writer closing: HUP (with or without READ) reaches the watch */
	close(r.fds[1]);
	r.calls = 0;
	run_guarded(loop);
	assert_int_equal(r.calls, 1);
	assert_true(r.events & LOOP_HUP);

	loop_io_remove(loop, &r.io);
	assert_false(r.io.active);
	loop_io_remove(loop, &r.io); /* no-op */
	close(r.fds[0]);
	loop_free(loop);
}

static void test_loop_io_errors(void **state)
{
	struct loop *loop = NULL;
	struct reader r = { 0 };
	struct loop_io idle = { 0 };
	int fds[2];

	(void)state;
	assert_int_equal(loop_alloc(&loop), 0);
	make_pipe(r.fds);
	assert_int_equal(loop_io_add(loop, &r.io, r.fds[0], LOOP_READ, reader_readable, &r), 0);
	/* already active */
	assert_int_equal(loop_io_add(loop, &r.io, r.fds[0], LOOP_READ, reader_readable, &r),
			 EINVAL);
	/* not active */
	assert_int_equal(loop_io_modify(loop, &idle, LOOP_READ), EINVAL);
	assert_int_equal(loop_io_add(loop, &idle, -1, LOOP_READ, reader_readable, &r), EINVAL);
	/* the same descriptor twice: epoll's EEXIST, and idle stays inactive */
	assert_int_equal(loop_io_add(loop, &idle, r.fds[0], LOOP_READ, reader_readable, &r),
			 EEXIST);
	assert_false(idle.active);
	make_pipe(fds);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(loop_io_add(loop, &idle, fds[0], LOOP_READ, reader_readable, &r), EBADF);
	assert_false(idle.active);
	loop_io_remove(loop, &r.io);
	close(r.fds[0]);
	close(r.fds[1]);
	loop_free(loop);
	loop_free(NULL);
}

/* Two watches ready in the same turn; whichever runs first removes the
 * other and frees the object holding it. The removed one is never called
 * (ASan reports the use after free if it is). */
struct pair_member {
	struct loop_io io;
	struct loop *loop;
	int fds[2];
	struct pair_member **other; /* slot holding the other member, NULL once freed */
	unsigned *calls;
};

static void pair_readable(struct loop_io *io, uint32_t events, void *arg)
{
	struct pair_member *m = arg;
	struct pair_member *other = *m->other;

	(void)io;
	assert_true(events & LOOP_READ);
	(*m->calls)++;
	if (other) {
		loop_io_remove(m->loop, &other->io);
		close(other->fds[0]);
		close(other->fds[1]);
		*m->other = NULL;
		free(other);
	}
	loop_stop(m->loop);
}

static void test_loop_remove_other_in_turn(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		struct loop *loop = NULL;
		struct pair_member *members[2];
		unsigned calls = 0;

		assert_int_equal(loop_alloc(&loop), 0);
		for (int i = 0; i < 2; i++) {
			members[i] = calloc(1, sizeof(*members[i]));
			assert_non_null(members[i]);
			members[i]->loop = loop;
			members[i]->calls = &calls;
			members[i]->other = &members[1 - i];
			make_pipe(members[i]->fds);
		}
		for (int i = 0; i < 2; i++) {
			/* add order varies, so either may come first in epoll's results */
			int k = (round % 2) ? i : 1 - i;
			assert_int_equal(loop_io_add(loop, &members[k]->io, members[k]->fds[0],
						     LOOP_READ, pair_readable, members[k]),
					 0);
		}
		/* both readable before the turn's wait */
		write_byte(members[0]->fds[1]);
		write_byte(members[1]->fds[1]);
		run_guarded(loop);
		assert_int_equal(calls, 1);
		assert_true((members[0] == NULL) != (members[1] == NULL));
		for (int i = 0; i < 2; i++) {
			if (!members[i])
				continue;
			loop_io_remove(loop, &members[i]->io);
			close(members[i]->fds[0]);
			close(members[i]->fds[1]);
			free(members[i]);
		}
		loop_free(loop);
	}
}

/* A watch that removes itself and frees its holder, then the other watch
 * still runs; a watch that removes and re-adds itself keeps working. */
struct self_remover {
	struct loop_io io;
	struct loop *loop;
	int fds[2];
	unsigned *calls;
	bool readd;
};

static void self_remover_readable(struct loop_io *io, uint32_t events, void *arg)
{
	struct self_remover *s = arg;
	char c;

	(void)events;
	(*s->calls)++;
	assert_int_equal(read(s->fds[0], &c, 1), 1);
	loop_io_remove(s->loop, io);
	if (s->readd) {
		assert_int_equal(loop_io_add(s->loop, io, s->fds[0], LOOP_READ,
					     self_remover_readable, s),
				 0);
		return;
	}
	close(s->fds[0]);
	close(s->fds[1]);
	free(s);
}

static void stop_deferred(void *arg)
{
	loop_stop(arg);
}

static void test_loop_remove_self(void **state)
{
	struct loop *loop = NULL;
	struct self_remover *gone = calloc(1, sizeof(*gone));
	struct self_remover kept = { 0 };
	unsigned gone_calls = 0, kept_calls = 0;

	(void)state;
	assert_non_null(gone);
	assert_int_equal(loop_alloc(&loop), 0);
	gone->loop = kept.loop = loop;
	gone->calls = &gone_calls;
	kept.calls = &kept_calls;
	kept.readd = true;
	make_pipe(gone->fds);
	make_pipe(kept.fds);
	assert_int_equal(
		loop_io_add(loop, &gone->io, gone->fds[0], LOOP_READ, self_remover_readable, gone), 0);
	assert_int_equal(
		loop_io_add(loop, &kept.io, kept.fds[0], LOOP_READ, self_remover_readable, &kept), 0);
	write_byte(gone->fds[1]);
	write_byte(kept.fds[1]);
	assert_int_equal(loop_defer(loop, stop_deferred, loop), 0);
	run_guarded(loop);
	assert_int_equal(gone_calls, 1);
	assert_int_equal(kept_calls, 1);

	/* the re-added watch still works */
	write_byte(kept.fds[1]);
	assert_int_equal(loop_defer(loop, stop_deferred, loop), 0);
	run_guarded(loop);
	assert_int_equal(kept_calls, 2);

	loop_io_remove(loop, &kept.io);
	close(kept.fds[0]);
	close(kept.fds[1]);
	loop_free(loop);
}

/* loop_io_modify: a writable socket reports LOOP_WRITE only while asked. */
static void test_loop_modify(void **state)
{
	struct loop *loop = NULL;
	struct reader r = { 0 };
	int sv[2];

	(void)state;
	assert_int_equal(loop_alloc(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r.loop = loop;
	r.stop = true;
	assert_int_equal(loop_io_add(loop, &r.io, sv[0], LOOP_WRITE, reader_readable, &r), 0);
	run_guarded(loop);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.events, LOOP_WRITE);

	assert_int_equal(loop_io_modify(loop, &r.io, LOOP_READ), 0);
	assert_int_equal(r.io.events, LOOP_READ);
	/* one turn with nothing ready: not called */
	assert_int_equal(loop_defer(loop, stop_deferred, loop), 0);
	run_guarded(loop);
	assert_int_equal(r.calls, 1);

	write_byte(sv[1]);
	run_guarded(loop);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.events, LOOP_READ);
	assert_int_equal(r.got, 'x');

	loop_io_remove(loop, &r.io);
	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
}

/* ----------------------------------------------------------------- timers */

struct timed {
	struct timer timer;
	struct loop *loop;
	uint64_t started_ms; /* loop_now_ms() when started: what delays count from */
	uint64_t delay_ms;
	uint64_t fired_clock_ms;
	int order;
	bool stop;
};

static int fire_counter;

static void timed_fired(struct timer *timer, void *arg)
{
	struct timed *t = arg;

	(void)timer;
	t->fired_clock_ms = clock_monotonic_ms();
	t->order = ++fire_counter;
	if (t->stop)
		loop_stop(t->loop);
}

static void timed_start(struct loop *loop, struct timed *t, uint64_t delay_ms, bool stop)
{
	t->loop = loop;
	t->delay_ms = delay_ms;
	t->stop = stop;
	t->started_ms = loop_now_ms(loop);
	timer_start(loop_timers(loop), &t->timer, delay_ms, timed_fired, t);
}

static void test_loop_timers(void **state)
{
	struct loop *loop = NULL;
	struct timed t[3] = { 0 };
	struct timed never = { 0 };

	(void)state;
	fire_counter = 0;
	assert_int_equal(loop_alloc(&loop), 0);
	timed_start(loop, &t[2], 20, true);
	timed_start(loop, &t[0], 5, false);
	timed_start(loop, &t[1], 12, false);
	timed_start(loop, &never, 60000, false);
	run_guarded(loop);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t[i].order, i + 1);
		/* not before its time */
		assert_true(t[i].fired_clock_ms >= t[i].started_ms + t[i].delay_ms);
	}
	assert_int_equal(never.order, 0);
	assert_true(timer_pending(&never.timer));
	timer_cancel(&never.timer);
	loop_free(loop);
}

/* A timer started from an I/O callback counts from this turn's now, not
 * from the previous turn (which may be long ago). */
struct io_starts_timer {
	struct loop_io io;
	struct timed timed;
	int fds[2];
};

static void io_start_timer(struct loop_io *io, uint32_t events, void *arg)
{
	struct io_starts_timer *s = arg;
	char c;

	(void)events;
	assert_int_equal(read(s->fds[0], &c, 1), 1);
	loop_io_remove(s->timed.loop, io);
	timed_start(s->timed.loop, &s->timed, 10, true);
}

static void test_loop_timer_from_io(void **state)
{
	struct loop *loop = NULL;
	struct io_starts_timer s = { 0 };

	(void)state;
	fire_counter = 0;
	assert_int_equal(loop_alloc(&loop), 0);
	s.timed.loop = loop;
	make_pipe(s.fds);
	assert_int_equal(loop_io_add(loop, &s.io, s.fds[0], LOOP_READ, io_start_timer, &s), 0);
	/* let the wheel's clock fall behind before the event arrives: a timer
	 * counted from it would fire in the same turn, 20 ms early */
	usleep(30 * 1000);
	write_byte(s.fds[1]);
	run_guarded(loop);
	assert_int_equal(s.timed.order, 1);
	assert_true(s.timed.fired_clock_ms >= s.timed.started_ms + 10);
	close(s.fds[0]);
	close(s.fds[1]);
	loop_free(loop);
}

/* --------------------------------------------------------------- deferred */

/* A descriptor readable forever (never drained), so each turn calls it. */
struct turn_counter {
	struct loop_io io;
	int fds[2];
	unsigned turns;
};

static void count_turn(struct loop_io *io, uint32_t events, void *arg)
{
	struct turn_counter *tc = arg;

	(void)io;
	(void)events;
	tc->turns++;
}

static void turn_counter_start(struct loop *loop, struct turn_counter *tc)
{
	make_pipe(tc->fds);
	write_byte(tc->fds[1]);
	assert_int_equal(loop_io_add(loop, &tc->io, tc->fds[0], LOOP_READ, count_turn, tc), 0);
}

static void turn_counter_stop(struct loop *loop, struct turn_counter *tc)
{
	loop_io_remove(loop, &tc->io);
	close(tc->fds[0]);
	close(tc->fds[1]);
}

struct deferred_log {
	struct loop *loop;
	struct turn_counter *tc;
	char names[16];
	unsigned turns[16];
	size_t count;
};

static struct deferred_log dlog;

static void log_call(char name)
{
	assert_true(dlog.count < ARRAY_LEN(dlog.names));
	dlog.names[dlog.count] = name;
	dlog.turns[dlog.count] = dlog.tc ? dlog.tc->turns : 0;
	dlog.count++;
}

static void deferred_plain(void *arg)
{
	log_call(*(const char *)arg);
}

static void deferred_stop(void *arg)
{
	log_call(*(const char *)arg);
	loop_stop(dlog.loop);
}

static void deferred_requeue(void *arg)
{
	static const char d = 'D', e = 'E';

	log_call(*(const char *)arg);
	assert_int_equal(loop_defer(dlog.loop, deferred_plain, (void *)&d), 0);
	assert_int_equal(loop_defer(dlog.loop, deferred_stop, (void *)&e), 0);
}

static const char name_c = 'C';

static void deferred_cancel_later(void *arg)
{
	log_call(*(const char *)arg);
	/* C is queued behind us in the same batch: it must not run */
	loop_defer_cancel(dlog.loop, deferred_plain, (void *)&name_c);
}

/* FIFO within a turn; calls queued by a deferred call wait for the next
 * turn; cancelled calls do not run. */
static void test_loop_defer_order(void **state)
{
	static const char a = 'A', b = 'B', x = 'X';
	struct loop *loop = NULL;
	struct turn_counter tc = { 0 };

	(void)state;
	assert_int_equal(loop_alloc(&loop), 0);
	memset(&dlog, 0, sizeof(dlog));
	dlog.loop = loop;
	dlog.tc = &tc;
	turn_counter_start(loop, &tc);
	assert_int_equal(loop_defer(loop, deferred_requeue, (void *)&a), 0);
	assert_int_equal(loop_defer(loop, deferred_plain, (void *)&x), 0);
	assert_int_equal(loop_defer(loop, deferred_cancel_later, (void *)&b), 0);
	assert_int_equal(loop_defer(loop, deferred_plain, (void *)&name_c), 0);
	loop_defer_cancel(loop, deferred_plain, (void *)&x);
	run_guarded(loop);

	assert_int_equal(dlog.count, 4);
	assert_memory_equal(dlog.names, "ABDE", 4);
	/* A and B ran in the first turn, D and E in the second */
	assert_int_equal(dlog.turns[0], 1);
	assert_int_equal(dlog.turns[1], 1);
	assert_int_equal(dlog.turns[2], 2);
	assert_int_equal(dlog.turns[3], 2);
	turn_counter_stop(loop, &tc);
	loop_free(loop);
}

struct chain {
	struct loop *loop;
	unsigned left;
	unsigned runs;
};

static void chain_step(void *arg)
{
	struct chain *ch = arg;

	ch->runs++;
	if (--ch->left == 0) {
		loop_stop(ch->loop);
		return;
	}
	assert_int_equal(loop_defer(ch->loop, chain_step, ch), 0);
}

/* A call that re-queues itself runs once per turn, and the turns keep
 * going (no wait in epoll while calls are queued, no spin within a turn). */
static void test_loop_defer_chain(void **state)
{
	struct loop *loop = NULL;
	struct turn_counter tc = { 0 };
	struct chain ch = { 0 };

	(void)state;
	assert_int_equal(loop_alloc(&loop), 0);
	ch.loop = loop;
	ch.left = 1000;
	assert_int_equal(loop_defer(loop, chain_step, &ch), 0);
	turn_counter_start(loop, &tc);
	run_guarded(loop);
	assert_int_equal(ch.runs, 1000);
	assert_int_equal(tc.turns, 1000);
	turn_counter_stop(loop, &tc);

	/* without any descriptor or timer: still no blocking between steps */
	ch.left = 100;
	ch.runs = 0;
	assert_int_equal(loop_defer(loop, chain_step, &ch), 0);
	run_guarded(loop);
	assert_int_equal(ch.runs, 100);
	loop_free(loop);
}

/* ------------------------------------------------------------------- stop */

static void test_loop_stop(void **state)
{
	struct loop *loop = NULL;
	struct timed t = { 0 }, later = { 0 };

	(void)state;
	fire_counter = 0;
	assert_int_equal(loop_alloc(&loop), 0);
	/* stopped from a deferred call: returns after that turn */
	assert_int_equal(loop_defer(loop, stop_deferred, loop), 0);
	run_guarded(loop);

	/* stopped before running: one turn (not waiting: a call is queued) */
	memset(&dlog, 0, sizeof(dlog));
	dlog.loop = loop;
	timed_start(loop, &later, 40, false);
	assert_int_equal(loop_defer(loop, deferred_plain, (void *)&name_c), 0);
	loop_stop(loop);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(dlog.count, 1);
	assert_int_equal(later.order, 0);

	/* the stop was consumed: the next run goes on until stopped again */
	timed_start(loop, &t, 5, false);
	later.stop = true;
	run_guarded(loop);
	assert_int_equal(t.order, 1);
	assert_int_equal(later.order, 2);
	loop_free(loop);
}

/* ---------------------------------------------------------------- signals */

struct signal_seen {
	struct loop *loop;
	int signos[4];
	size_t count;
	size_t stop_after;
};

static void on_signal(int signo, void *arg)
{
	struct signal_seen *s = arg;

	assert_true(s->count < ARRAY_LEN(s->signos));
	s->signos[s->count++] = signo;
	if (s->count == s->stop_after)
		loop_stop(s->loop);
}

static void test_loop_signal(void **state)
{
	struct loop *loop = NULL;
	struct signal_seen seen = { 0 };
	sigset_t mask;

	(void)state;
	assert_int_equal(loop_alloc(&loop), 0);
	seen.loop = loop;
	assert_int_equal(loop_signal(loop, SIGKILL, on_signal, &seen), EINVAL);
	assert_int_equal(loop_signal(loop, 0, on_signal, &seen), EINVAL);
	assert_int_equal(loop_signal(loop, SIGUSR1, on_signal, &seen), 0);
	assert_int_equal(loop_signal(loop, SIGUSR2, on_signal, &seen), 0);
	/* blocked in this thread now, so raise() does not kill the test */
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
	assert_int_equal(sigismember(&mask, SIGUSR1), 1);
	assert_int_equal(sigismember(&mask, SIGUSR2), 1);

	seen.stop_after = 1;
	assert_int_equal(raise(SIGUSR1), 0);
	run_guarded(loop);
	assert_int_equal(seen.count, 1);
	assert_int_equal(seen.signos[0], SIGUSR1);

	seen.stop_after = 3;
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	run_guarded(loop);
	assert_int_equal(seen.count, 3);
	/* the kernel reports pending standard signals lowest number first */
	assert_true((seen.signos[1] == SIGUSR1 && seen.signos[2] == SIGUSR2) ||
		    (seen.signos[1] == SIGUSR2 && seen.signos[2] == SIGUSR1));
	loop_free(loop);
}

/* ------------------------------------------------------------------ clock */

struct ticker {
	struct timer timer;
	struct loop *loop;
	uint64_t seen[32];
	size_t count;
};

static void ticker_fired(struct timer *timer, void *arg)
{
	struct ticker *t = arg;

	t->seen[t->count++] = loop_now_ms(t->loop);
	if (t->count == ARRAY_LEN(t->seen)) {
		loop_stop(t->loop);
		return;
	}
	timer_start(loop_timers(t->loop), timer, 1, ticker_fired, t);
}

/* ---- calls posted from other threads ---------------------------------- */

#define POSTERS 4
#define POSTS_EACH 2000

struct post_state {
	struct loop *loop;
	pthread_mutex_t lock;
	unsigned seen[POSTERS];    /* calls run, per poster: loop thread only */
	unsigned next[POSTERS];    /* the sequence number each poster expects next */
	unsigned out_of_order;
	unsigned wrong_thread;
	pthread_t loop_thread;
	unsigned total;
};

struct post_call {
	struct post_state *st;
	unsigned poster, seq;
};

static void posted_call(void *arg)
{
	struct post_call *c = arg;
	struct post_state *st = c->st;

	if (!pthread_equal(pthread_self(), st->loop_thread))
		st->wrong_thread++;
	if (loop_current() != st->loop)
		st->wrong_thread++;
	if (c->seq != st->next[c->poster])
		st->out_of_order++;
	st->next[c->poster] = c->seq + 1;
	st->seen[c->poster]++;
	if (++st->total == POSTERS * POSTS_EACH)
		loop_stop(st->loop);
	free(c);
}

struct poster_arg {
	struct post_state *st;
	unsigned index;
	int rc;
};

static void *poster_main(void *arg)
{
	struct poster_arg *pa = arg;

	for (unsigned i = 0; i < POSTS_EACH && pa->rc == 0; i++) {
		struct post_call *c = malloc(sizeof(*c));
		if (!c) {
			pa->rc = ENOMEM;
			break;
		}
		*c = (struct post_call){ .st = pa->st, .poster = pa->index, .seq = i };
		pa->rc = loop_post(pa->st->loop, posted_call, c);
	}
	return NULL;
}

/* Four threads post 2000 calls each while the loop runs: every call runs
 * once, on the loop's thread, in each poster's order. */
static void test_loop_post_threads(void **state)
{
	struct post_state st;
	pthread_t th[POSTERS];
	struct poster_arg pa[POSTERS];
	(void)state;

	memset(&st, 0, sizeof(st));
	assert_int_equal(loop_alloc(&st.loop), 0);
	st.loop_thread = pthread_self();
	assert_null(loop_current());
	for (unsigned i = 0; i < POSTERS; i++) {
		pa[i] = (struct poster_arg){ .st = &st, .index = i };
		assert_int_equal(pthread_create(&th[i], NULL, poster_main, &pa[i]), 0);
	}
	assert_int_equal(loop_run(st.loop), 0);
	for (unsigned i = 0; i < POSTERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(pa[i].rc, 0);
		assert_int_equal(st.seen[i], POSTS_EACH);
	}
	assert_int_equal(st.out_of_order, 0);
	assert_int_equal(st.wrong_thread, 0);
	assert_null(loop_current());
	loop_free(st.loop);
}

static void *stopper_main(void *arg)
{
	usleep(20000);
	return (void *)(intptr_t)loop_stop_async(arg);
}

static void count_call(void *arg)
{
	(*(unsigned *)arg)++;
}

/* loop_stop_async from another thread ends a loop blocked with nothing
 * to do; loop_run_posted runs what is still queued, on the caller. */
static void test_loop_stop_async(void **state)
{
	struct loop *loop;
	pthread_t th;
	void *ret;
	unsigned ran = 0;
	(void)state;

	assert_int_equal(loop_alloc(&loop), 0);
	assert_int_equal(pthread_create(&th, NULL, stopper_main, loop), 0);
	assert_int_equal(loop_run(loop), 0); /* returns only when stopped */
	pthread_join(th, &ret);
	assert_int_equal((intptr_t)ret, 0);

	assert_int_equal(loop_post(loop, count_call, &ran), 0);
	assert_int_equal(loop_post(loop, count_call, &ran), 0);
	assert_int_equal(ran, 0);
	loop_run_posted(loop);
	assert_int_equal(ran, 2);
	loop_run_posted(loop);
	assert_int_equal(ran, 2);
	loop_free(loop);
}

static void test_loop_now_monotonic(void **state)
{
	struct loop *loop = NULL;
	struct ticker t = { 0 };
	uint64_t before, prev;

	(void)state;
	before = clock_monotonic_ms();
	assert_int_equal(loop_alloc(&loop), 0);
	assert_true(loop_now_ms(loop) >= before);
	t.loop = loop;
	timer_start(loop_timers(loop), &t.timer, 1, ticker_fired, &t);
	run_guarded(loop);
	assert_int_equal(t.count, ARRAY_LEN(t.seen));
	prev = before;
	for (size_t i = 0; i < t.count; i++) {
		assert_true(t.seen[i] >= prev);
		prev = t.seen[i];
	}
	/* the last of 32 ticks, 1 ms apart from the loop's start, not early */
	assert_true(t.seen[t.count - 1] >= before + ARRAY_LEN(t.seen));
	assert_true(clock_monotonic_ms() >= prev);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_readable),
		cmocka_unit_test(test_loop_io_errors),
		cmocka_unit_test(test_loop_remove_other_in_turn),
		cmocka_unit_test(test_loop_remove_self),
		cmocka_unit_test(test_loop_modify),
		cmocka_unit_test(test_loop_timers),
		cmocka_unit_test(test_loop_timer_from_io),
		cmocka_unit_test(test_loop_defer_order),
		cmocka_unit_test(test_loop_defer_chain),
		cmocka_unit_test(test_loop_stop),
		cmocka_unit_test(test_loop_signal),
		cmocka_unit_test(test_loop_now_monotonic),
		cmocka_unit_test(test_loop_post_threads),
		cmocka_unit_test(test_loop_stop_async),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
