/*
 * log.h - leveled, one-line log messages.
 *
 * Each message becomes one line on stderr: an ISO-8601 UTC timestamp with
 * milliseconds, the level word, the text.
 *
 *	2024-05-01T12:34:56.789Z WARN  bad Via from 192.0.2.1:5060
 *
 * The text is made safe for a line-oriented log: CR, LF and other control
 * characters (peer data often ends up in messages) are written as \r, \n
 * and \xNN, and a text longer than LOG_LINE_MAX is cut and ends in "...".
 * The log_error..log_debug macros skip evaluating their arguments and
 * formatting when the level is off, so debug logging in the hot path costs
 * one comparison.
 *
 * Threads: any thread may log; a line is written with one stdio call and is
 * not interleaved with another. The level is atomic and may change at any
 * time. The sink is set at start-up (or by a test) before other threads
 * log; changing it while they do is not synchronised.
 *
 * Parsers never log (STYLE.md); the layer that knows the peer logs, rate
 * limited with struct log_ratelimit.
 *
 * The level names clash with the macros of <syslog.h>; a file cannot
 * include both.
 */
#ifndef SIPD_BASE_LOG_H
#define SIPD_BASE_LOG_H

#ifdef LOG_INFO
#error "base/log.h cannot be used with <syslog.h> (LOG_INFO, LOG_DEBUG)"
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Longest message text in bytes, after escaping; longer text is cut. */
#define LOG_LINE_MAX 1024

/* Messages above level are dropped; the default is LOG_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_level_enabled(enum log_level level);
/* "error", "warn", "info", "debug" (ASCII case-insensitive). */
bool log_level_parse(const char *name, enum log_level *out);
/* Lowercase name as accepted by log_level_parse; "?" if out of range. */
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_error(...) log_at_(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at_(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at_(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at_(LOG_DEBUG, __VA_ARGS__)
#define log_at_(level, ...)                          \
	do {                                         \
		if (log_level_enabled(level))        \
			log_msg(level, __VA_ARGS__); \
	} while (0)

/*
 * Receives each enabled message instead of stderr. line is the escaped
 * message text only (no timestamp, level word or newline), NUL-terminated
 * and valid during the call. For tests, or to forward to another logger.
 */
typedef void (log_sink_h)(enum log_level level, const char *line, void *arg);
/* NULL restores stderr. */
void log_set_sink(log_sink_h *sink, void *arg);

/*
 * At most burst messages per fixed window of window_ms, for messages a peer
 * can trigger. Zero-initialise; owned by one thread (e.g. in the peer's
 * entry). The caller supplies the clock (monotonic ms), so tests can drive
 * it:
 *
 *	if (log_ratelimit_allow(&peer->log_rl, now_ms, 5, 10000))
 *		log_warn("bad request from %s (%u more suppressed)", addr,
 *			 log_ratelimit_take_suppressed(&peer->log_rl));
 */
struct log_ratelimit {
	uint64_t window_start_ms; /* ms; start of the current window */
	unsigned count;           /* messages allowed in this window */
	unsigned suppressed;      /* refused since last taken; saturates */
};

/* Whether to log now; a refusal is counted in rl->suppressed. */
bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms,
			 unsigned burst, uint64_t window_ms);
/* Returns the suppressed count and resets it to zero. */
unsigned log_ratelimit_take_suppressed(struct log_ratelimit *rl);

#endif
