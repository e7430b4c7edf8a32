/*
 * loop.c - epoll event loop with a timing wheel, signalfd and deferred calls
 * (see loop.h for the contract).
 *
 * A turn: epoll_wait with a timeout of exactly the time left until the
 * wheel's next event (timer_wheel_next_ms, which may undershoot by design:
 * then the turn only cascades and waits again), -1 when no timer is
 * pending, 0 when deferred calls are queued. Then the cached now is read
 * from CLOCK_MONOTONIC, due timers fire, the ready descriptors are
 * dispatched, and the deferred calls queued so far run.
 *
 * Removal during dispatch: epoll results carry the struct loop_io pointer.
 * While a turn's results are being dispatched, loop->events[0..nevents)
 * holds them; loop_io_remove clears data.ptr of every entry that names the
 * removed watch, so the dispatcher skips it without ever reading it (the
 * owner may have freed it). This costs a scan of at most LOOP_MAX_EVENTS
 * entries per removal made from a callback, nothing otherwise, and needs no
 * generation number in the watch. (libuv does the same.)
 *
 * Deferred calls: two arrays. loop_defer appends to "queued"; at the end of
 * a turn the arrays are swapped and "running" is run in order, so a call
 * queued meanwhile lands in the other array and waits for the next turn
 * (which then does not block in epoll_wait). loop_defer_cancel clears the
 * callback of matching entries in both arrays. The arrays keep their
 * capacity, so a steady state allocates nothing.
 *
 * Posted calls (loop_post, from other threads): a mutex-guarded array and
 * an eventfd; the eventfd's handler takes the whole array under the lock
 * and runs it outside it, so a posting thread waits only for an append.
 *
 * Signals: one signalfd for all routed signals; each loop_signal adds its
 * signal to the set (signalfd on the same descriptor updates it) and blocks
 * it in the calling thread.
 */
#include "base/loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "base/sys.h"

/* epoll results taken per turn; more ready descriptors wait for the next. */
#define LOOP_MAX_EVENTS 256
/* First capacity of a deferred-call array. */
#define LOOP_DEFER_MIN 16

_Static_assert(LOOP_READ == EPOLLIN, "LOOP_READ");
_Static_assert(LOOP_WRITE == EPOLLOUT, "LOOP_WRITE");
_Static_assert(LOOP_ERROR == EPOLLERR, "LOOP_ERROR");
_Static_assert(LOOP_HUP == EPOLLHUP, "LOOP_HUP");

struct defer_call {
	loop_defer_h *cb; /* NULL once cancelled */
	void *arg;
};

struct defer_queue {
	struct defer_call *calls; /* owned */
	size_t count;
	size_t cap;
};

struct signal_route {
	loop_signal_h *cb; /* NULL: not routed */
	void *arg;
};

struct loop {
	int epfd;        /* owned */
	bool stop;       /* loop_run returns after this turn */
	uint64_t now_ms; /* ms, monotonic; cached once per turn */
	struct timer_wheel timers;

	struct defer_queue queued;  /* run at the end of this turn */
	struct defer_queue running; /* being run now; empty otherwise */

	struct epoll_event events[LOOP_MAX_EVENTS];
	int nevents; /* results of this turn not yet dispatched past; 0 outside dispatch */

	pthread_mutex_t post_lock;
	struct defer_queue posted;  /* guarded by post_lock */
	struct defer_queue taking;  /* loop thread: posted calls being run */
	int post_fd;                /* owned eventfd */
	struct loop_io post_io;

	int sigfd;           /* owned; -1 until the first loop_signal */
	sigset_t sigset;     /* signals routed through sigfd */
	struct loop_io sig_io;
	struct signal_route signals[_NSIG];
};

static __thread struct loop *current_loop;

static int defer_queue_push(struct defer_queue *q, loop_defer_h *cb, void *arg);
static void posted_readable(struct loop_io *io, uint32_t events, void *arg);

uint64_t clock_monotonic_ms(void)
{
	struct timespec ts;

	/* cannot fail for CLOCK_MONOTONIC with a valid pointer */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int loop_alloc(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	int rc = 0;

	if (!loop)
		return ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		rc = errno;
		goto out;
	}
	loop->sigfd = -1;
	loop->post_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->post_fd < 0) {
		rc = errno;
		close(loop->epfd);
		goto out;
	}
	rc = loop_io_add(loop, &loop->post_io, loop->post_fd, LOOP_READ, posted_readable, loop);
	if (rc) {
		close(loop->post_fd);
		close(loop->epfd);
		goto out;
	}
	pthread_mutex_init(&loop->post_lock, NULL);
	sigemptyset(&loop->sigset);
	loop->now_ms = clock_monotonic_ms();
	timer_wheel_init(&loop->timers, loop->now_ms);
	*out = loop;
	loop = NULL;
out:
	free(loop);
	return rc;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	if (loop->sigfd >= 0) {
		loop_io_remove(loop, &loop->sig_io);
		close(loop->sigfd);
	}
	loop_io_remove(loop, &loop->post_io);
	close(loop->post_fd);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop->posted.calls);
	free(loop->taking.calls);
	close(loop->epfd);
	timer_wheel_fini(&loop->timers);
	free(loop->queued.calls);
	free(loop->running.calls);
	free(loop);
}

int loop_io_add(struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_h *cb,
		void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->active || !cb || fd < 0)
		return EINVAL;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return errno;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	io->active = true;
	return 0;
}

int loop_io_modify(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!io->active)
		return EINVAL;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return errno;
	io->events = events;
	return 0;
}

void loop_io_remove(struct loop *loop, struct loop_io *io)
{
	if (!io->active)
		return;
	/* fails only if the descriptor was closed already: nothing to undo */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->active = false;
	for (int i = 0; i < loop->nevents; i++)
		if (loop->events[i].data.ptr == io)
			loop->events[i].data.ptr = NULL;
}

struct timer_wheel *loop_timers(struct loop *loop)
{
	return &loop->timers;
}

uint64_t loop_now_ms(const struct loop *loop)
{
	return loop->now_ms;
}

static int defer_queue_push(struct defer_queue *q, loop_defer_h *cb, void *arg)
{
	if (q->count == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : LOOP_DEFER_MIN;
		if (cap > SIZE_MAX / sizeof(*q->calls))
			return ENOMEM;
		struct defer_call *calls = realloc(q->calls, cap * sizeof(*calls));
		if (!calls)
			return ENOMEM;
		q->calls = calls;
		q->cap = cap;
	}
	q->calls[q->count].cb = cb;
	q->calls[q->count].arg = arg;
	q->count++;
	return 0;
}

int loop_defer(struct loop *loop, loop_defer_h *cb, void *arg)
{
	return defer_queue_push(&loop->queued, cb, arg);
}

int loop_post(struct loop *loop, loop_defer_h *cb, void *arg)
{
	static const uint64_t one = 1;
	bool first;
	int rc;

	pthread_mutex_lock(&loop->post_lock);
	first = loop->posted.count == 0;
	rc = defer_queue_push(&loop->posted, cb, arg);
	pthread_mutex_unlock(&loop->post_lock);
	/* one wake-up per batch: the handler takes every call posted until it runs */
	if (rc == 0 && first && sys_write(loop->post_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return errno;
	return rc;
}

static void posted_readable(struct loop_io *io, uint32_t events, void *arg)
{
	struct loop *loop = arg;
	uint64_t count;

	(void)io;
	(void)events;
	if (sys_read(loop->post_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	loop_run_posted(loop);
}

void loop_run_posted(struct loop *loop)
{
	struct defer_queue swap;

	pthread_mutex_lock(&loop->post_lock);
	swap = loop->taking;
	loop->taking = loop->posted;
	loop->posted = swap;
	pthread_mutex_unlock(&loop->post_lock);
	for (size_t i = 0; i < loop->taking.count; i++)
		loop->taking.calls[i].cb(loop->taking.calls[i].arg);
	loop->taking.count = 0;
}

static void stop_now(void *arg)
{
	loop_stop(arg);
}

int loop_stop_async(struct loop *loop)
{
	return loop_post(loop, stop_now, loop);
}

struct loop *loop_current(void)
{
	return current_loop;
}

static void defer_queue_cancel(struct defer_queue *q, loop_defer_h *cb, void *arg)
{
	for (size_t i = 0; i < q->count; i++)
		if (q->calls[i].cb == cb && q->calls[i].arg == arg)
			q->calls[i].cb = NULL;
}

void loop_defer_cancel(struct loop *loop, loop_defer_h *cb, void *arg)
{
	defer_queue_cancel(&loop->queued, cb, arg);
	defer_queue_cancel(&loop->running, cb, arg);
}

static void run_deferred(struct loop *loop)
{
	struct defer_queue swap = loop->running;

	loop->running = loop->queued;
	loop->queued = swap;
	/* count is re-read: loop_defer_cancel may clear entries as we go */
	for (size_t i = 0; i < loop->running.count; i++) {
		struct defer_call call = loop->running.calls[i];
		if (call.cb)
			call.cb(call.arg);
	}
	loop->running.count = 0;
}

static void signal_readable(struct loop_io *io, uint32_t events, void *arg)
{
	struct loop *loop = arg;
	struct signalfd_siginfo info;

	(void)io;
	(void)events;
	/* non-blocking: drain what is pending, EAGAIN ends it */
	while (read(loop->sigfd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (info.ssi_signo >= _NSIG)
			continue;
		struct signal_route *route = &loop->signals[info.ssi_signo];
		if (route->cb)
			route->cb((int)info.ssi_signo, route->arg);
	}
}

int loop_signal(struct loop *loop, int signo, loop_signal_h *cb, void *arg)
{
	sigset_t set = loop->sigset;
	sigset_t one;
	int fd;
	int rc;

	if (signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP || !cb)
		return EINVAL;
	if (sigaddset(&set, signo) < 0)
		return EINVAL; /* a signal glibc reserves for itself */
	fd = signalfd(loop->sigfd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return errno;
	if (loop->sigfd < 0) {
		rc = loop_io_add(loop, &loop->sig_io, fd, LOOP_READ, signal_readable, loop);
		if (rc) {
			close(fd);
			return rc;
		}
		loop->sigfd = fd;
	}
	sigemptyset(&one);
	sigaddset(&one, signo);
	rc = pthread_sigmask(SIG_BLOCK, &one, NULL);
	if (rc)
		return rc; /* the signalfd accepts signo, harmlessly: it is not routed */
	loop->sigset = set;
	loop->signals[signo].cb = cb;
	loop->signals[signo].arg = arg;
	return 0;
}

/* epoll_wait's timeout: until the wheel's next event, 0 with deferred calls. */
static int turn_timeout(const struct loop *loop)
{
	uint64_t next = timer_wheel_next_ms(&loop->timers);

	if (loop->queued.count)
		return 0;
	if (next == UINT64_MAX)
		return -1;
	uint64_t now = clock_monotonic_ms();
	uint64_t wheel_now = loop->timers.now_ms;
	/* the wheel's clock lags the real one by the time since the last turn */
	uint64_t elapsed = now > wheel_now ? now - wheel_now : 0;
	if (next <= elapsed)
		return 0;
	return next - elapsed > INT_MAX ? INT_MAX : (int)(next - elapsed);
}

static int loop_turn(struct loop *loop)
{
	int n = sys_epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, turn_timeout(loop));

	if (n < 0) {
		if (errno != EINTR)
			return errno;
		n = 0;
	}
	uint64_t now = clock_monotonic_ms();
	if (now > loop->now_ms)
		loop->now_ms = now;

	timer_wheel_advance(&loop->timers, loop->now_ms);

	loop->nevents = n;
	for (int i = 0; i < loop->nevents; i++) {
		struct loop_io *io = loop->events[i].data.ptr;
		if (!io)
			continue; /* removed earlier in this turn */
		uint32_t ev = loop->events[i].events & (io->events | LOOP_ERROR | LOOP_HUP);
		if (ev)
			io->cb(io, ev, io->arg);
	}
	loop->nevents = 0;

	run_deferred(loop);
	return 0;
}

int loop_run(struct loop *loop)
{
	struct loop *outer = current_loop;
	int rc;

	current_loop = loop;
	do {
		rc = loop_turn(loop);
	} while (!rc && !loop->stop);
	loop->stop = false;
	current_loop = outer;
	return rc;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}
