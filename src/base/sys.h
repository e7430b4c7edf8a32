/*
 * sys.h - the system calls of the per-message path, made directly.
 *
 * glibc's wrappers for calls that are thread cancellation points (read,
 * write, sendmsg, recvmmsg, epoll_wait) switch the thread's cancellation
 * type before and after the call, two atomic operations each time; with a
 * dozen calls per proxied call flow that was about 1 % of sipd's CPU.
 * sipd never cancels a thread, so these call the kernel through syscall(2)
 * instead: same arguments, same result, -1 with errno on failure.
 */
#ifndef SIPD_BASE_SYS_H
#define SIPD_BASE_SYS_H

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline ssize_t sys_read(int fd, void *buf, size_t len)
{
	return syscall(SYS_read, fd, buf, len);
}

static inline ssize_t sys_write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

static inline ssize_t sys_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	return syscall(SYS_sendmsg, fd, mh, flags);
}

static inline int sys_recvmmsg(int fd, struct mmsghdr *msgs, unsigned vlen, int flags)
{
	return (int)syscall(SYS_recvmmsg, fd, msgs, vlen, flags, NULL);
}

static inline int sys_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms)
{
	return (int)syscall(SYS_epoll_wait, epfd, events, max, timeout_ms);
}

#endif
