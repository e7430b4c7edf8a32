/*
 * log.c - leveled one-line logging to stderr or a sink.
 *
 * A message is formatted into a stack buffer, escaped into a second one,
 * then written with one fwrite (stdio locks the stream, so lines from
 * different threads do not interleave). Nothing is allocated: logging an
 * out-of-memory condition must not need memory.
 */
#include "base/log.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Room for "YYYY-MM-DDTHH:MM:SS.mmmZ" and more. */
#define LOG_STAMP_MAX 40

static atomic_int current_level = LOG_INFO;
/* Set at start-up or by tests; see log.h for the threading rule. */
static log_sink_h *log_sink;
static void *log_sink_arg;

static const struct {
	const char *name; /* for log_level_parse and log_level_name */
	const char *word; /* line prefix, padded to one width */
} level_table[] = {
	[LOG_ERROR] = { "error", "ERROR" },
	[LOG_WARN] = { "warn", "WARN " },
	[LOG_INFO] = { "info", "INFO " },
	[LOG_DEBUG] = { "debug", "DEBUG" },
};

#define LEVEL_COUNT (sizeof(level_table) / sizeof(level_table[0]))

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&current_level,
						    memory_order_relaxed);
}

bool log_level_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&current_level,
						  memory_order_relaxed);
}

static bool ascii_eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char ca = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;

		if (ca != *b)
			return false;
	}
	return *a == *b;
}

bool log_level_parse(const char *name, enum log_level *out)
{
	if (!name)
		return false;
	for (size_t i = 0; i < LEVEL_COUNT; i++) {
		/* b (the table name) is lowercase already */
		if (ascii_eq_nocase(name, level_table[i].name)) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= LEVEL_COUNT)
		return "?";
	return level_table[level].name;
}

void log_set_sink(log_sink_h *sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

/*
 * Copies in to out (cap bytes, cap >= 5) with control characters escaped,
 * NUL-terminated; ends in "..." when in was cut (cut) or does not fit.
 * Returns the length written.
 */
static size_t escape_text(char *out, size_t cap, const char *in, bool cut)
{
	static const char hex[] = "0123456789abcdef";
	const size_t limit = cap - 4; /* keeps room for "...\0" */
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		char esc[4];
		size_t len;

		if (c == '\r') {
			memcpy(esc, "\\r", 2);
			len = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2);
			len = 2;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 0xf];
			len = 4;
		} else {
			esc[0] = (char)c;
			len = 1;
		}
		if (len > limit - n) {
			cut = true;
			break;
		}
		/* a byte loop: memcpy of a variable 1-4 bytes would be a call
		 * to __memcpy_chk per character under _FORTIFY_SOURCE=3 */
		for (size_t k = 0; k < len; k++)
			out[n++] = esc[k];
	}
	if (cut) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return n;
}

static void format_stamp(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    !gmtime_r(&ts.tv_sec, &tm)) {
		snprintf(out, cap, "-");
		return;
	}
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char text[LOG_LINE_MAX];
	char escaped[LOG_LINE_MAX];
	char stamp[LOG_STAMP_MAX];
	char line[LOG_STAMP_MAX + 8 + LOG_LINE_MAX];
	log_sink_h *sink = log_sink;
	int n;

	if (!log_level_enabled(level) || (unsigned)level >= LEVEL_COUNT)
		return;

	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0) {
		snprintf(text, sizeof(text), "(bad log format: %s)", fmt);
		n = 0;
	}
	escape_text(escaped, sizeof(escaped), text,
		    (size_t)n >= sizeof(text));

	if (sink) {
		sink(level, escaped, log_sink_arg);
		return;
	}
	format_stamp(stamp, sizeof(stamp));
	n = snprintf(line, sizeof(line), "%s %s %s\n", stamp,
		     level_table[level].word, escaped);
	if (n > 0)
		fwrite(line, 1, (size_t)n < sizeof(line) ? (size_t)n :
			sizeof(line) - 1, stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms,
			 unsigned burst, uint64_t window_ms)
{
	/* A clock that went back also starts a new window. */
	if (now_ms < rl->window_start_ms ||
	    now_ms - rl->window_start_ms >= window_ms) {
		rl->window_start_ms = now_ms;
		rl->count = 0;
	}
	if (rl->count < burst) {
		rl->count++;
		return true;
	}
	if (rl->suppressed < UINT_MAX)
		rl->suppressed++;
	return false;
}

unsigned log_ratelimit_take_suppressed(struct log_ratelimit *rl)
{
	unsigned n = rl->suppressed;

	rl->suppressed = 0;
	return n;
}
