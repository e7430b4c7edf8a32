/*
 * loop.h - the event loop of one worker thread: epoll for file
 * descriptors, a timing wheel on the monotonic clock, signals through
 * signalfd, and deferred calls that run after the current turn.
 *
 * One turn: wait (until the next timer at most; not at all when deferred
 * calls are queued), cache "now", fire due timers, dispatch ready
 * descriptors, run the deferred calls queued so far. Timers fire before
 * descriptors so that the wheel's clock is the turn's "now" by the time any
 * I/O callback starts a timer (otherwise a timer started there would count
 * from the previous turn and fire early).
 *
 * Callbacks may add, change and remove any watch, including their own, and
 * may free the object holding it: a removed watch is never called again,
 * even later in the same turn (loop_io_remove erases the watch from the
 * turn's pending epoll results, so the loop never dereferences it). Events
 * are level-triggered; an event bit the watch no longer asks for (after
 * loop_io_modify in the same turn) is not delivered, LOOP_ERROR and LOOP_HUP
 * always are.
 *
 * Descriptors are not owned by the loop: remove the watch before closing
 * the descriptor (epoll keeps reporting a closed descriptor that has been
 * duplicated). Nothing here is thread-safe but loop_post and loop_wake:
 * every other call, for a given loop, from the thread that runs it.
 * loop_run must not be called from a callback.
 */
#ifndef SIPD_BASE_LOOP_H
#define SIPD_BASE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/timer.h"

/* epoll event bits, repeated so callers need not include sys/epoll.h */
#define LOOP_READ 0x001u  /* EPOLLIN */
#define LOOP_WRITE 0x004u /* EPOLLOUT */
#define LOOP_ERROR 0x008u /* EPOLLERR */
#define LOOP_HUP 0x010u   /* EPOLLHUP */

struct loop;
struct loop_io;
typedef void (loop_io_h)(struct loop_io *io, uint32_t events, void *arg);

/* Embedded in the object that owns the descriptor; zeroed = not active. */
struct loop_io {
	int fd;          /* not owned */
	uint32_t events; /* LOOP_READ | LOOP_WRITE asked for */
	loop_io_h *cb;
	void *arg;
	bool active; /* added and not removed */
};

typedef void (loop_defer_h)(void *arg);
typedef void (loop_signal_h)(int signo, void *arg);

/* The monotonic clock in ms (CLOCK_MONOTONIC). */
uint64_t clock_monotonic_ms(void);

/* Returns 0 or errno. */
int loop_alloc(struct loop **loop);
/* Frees the loop; every watch must have been removed. Timers still pending
 * are detached (timer_wheel_fini), deferred calls dropped. Signals routed
 * by loop_signal stay blocked. NULL-safe. */
void loop_free(struct loop *loop);

/* EINVAL if io is active, or the errno of epoll_ctl. */
int loop_io_add(struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_h *cb,
		void *arg);
/* EINVAL if io is not active, or the errno of epoll_ctl. */
int loop_io_modify(struct loop *loop, struct loop_io *io, uint32_t events);
/* Does not close the descriptor. No-op when not active. */
void loop_io_remove(struct loop *loop, struct loop_io *io);

/* The loop's wheel and its cached time (updated once per turn). */
struct timer_wheel *loop_timers(struct loop *loop);
uint64_t loop_now_ms(const struct loop *loop);

/* Call cb(arg) after the current turn's timers and events, in the order
 * queued. A call queued by a deferred call runs in the next turn. Returns 0
 * or ENOMEM. */
int loop_defer(struct loop *loop, loop_defer_h *cb, void *arg);
/* Drops every queued call of cb with arg that has not run yet (for a
 * destructor). */
void loop_defer_cancel(struct loop *loop, loop_defer_h *cb, void *arg);

/* From any thread: call cb(arg) on the loop's thread, soon (in a turn of
 * its own after the posting), in the order posted. Returns 0 or ENOMEM.
 * Calls still queued when the loop is freed are dropped. */
int loop_post(struct loop *loop, loop_defer_h *cb, void *arg);
/* Run the calls posted so far now, on the calling thread (at shutdown,
 * once the loop's thread has stopped: nothing posted is left unrun). */
void loop_run_posted(struct loop *loop);
/* From any thread: make loop_run return after its current turn. */
int loop_stop_async(struct loop *loop);
/* The loop the calling thread is running (inside loop_run), or NULL. */
struct loop *loop_current(void);

/* Route signo (SIGINT, SIGTERM, SIGHUP, ...) to cb through a signalfd; the
 * signal is blocked for the calling thread (block it in the main thread
 * before starting others, or another thread may take it). A second call for
 * the same signo replaces cb. Returns 0, EINVAL (SIGKILL, SIGSTOP, out of
 * range) or errno. */
int loop_signal(struct loop *loop, int signo, loop_signal_h *cb, void *arg);

/* Run until loop_stop. Returns 0, or errno when epoll fails. */
int loop_run(struct loop *loop);
/* Ask loop_run to return after the current turn (from a callback). Called
 * outside loop_run, the next loop_run returns after one turn. */
void loop_stop(struct loop *loop);

#endif
