/*
 * fuzz_config.c - libFuzzer harness for sipd's configuration (src/app/
 * config.h): the INI file parser, the command line, config_validate and
 * config_write.
 *
 * Input: an INI file, or an INI file and a command line. When a line of
 * the input is exactly "%%", the bytes before it are the file and the words
 * after it the command line; otherwise the whole input is both. For one
 * input it:
 *   1. loads the file over the defaults with config_load_stream (fmemopen,
 *      as config_load_file reads a real file), then runs config_validate;
 *   2. splits the command line at spaces, tabs, newlines and NUL bytes into
 *      words (at most FUZZ_MAX_WORDS) and runs config_from_args on
 *      "sipd WORD...", its output and errors going to /dev/null. No word
 *      may name a file outside the working directory ('/' becomes '_'),
 *      but the word "@conf" becomes the path of a temporary file that holds
 *      the file part, so -c @conf reads the input too;
 *   3. for each word, checks that a duration (config_duration_parse) and a
 *      listen address (config_listen_parse) read back the same from their
 *      normalized text.
 * Properties: never a crash; the results are the documented ones (0 or
 * EINVAL; CONFIG_OK, CONFIG_EXIT_0 or CONFIG_USAGE_ERROR), an error is one
 * non-empty line, a file's error names the file; a loaded or accepted
 * configuration keeps its invariants (1 to CONFIG_MAX_LISTEN listeners,
 * lower-case domains, and after validation t1 <= t2 and min_expires <=
 * max_expires), and round-trips: config_write's output loads over the
 * defaults to the same values, and writing those again gives the same
 * text. A broken property calls abort() so libFuzzer records the input.
 * With FUZZ_CONFIG_TRACE set in the environment, each result is printed
 * to stderr (to write and check seeds).
 *
 * The input is copied into a malloc'd buffer of exactly its size, and each
 * word into one of exactly its length and NUL: an over-read by one byte is
 * an ASan report. Built with replay.c instead of libFuzzer, the same
 * function replays the corpus as a test.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "app/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_WORDS 64           /* command-line words after "sipd" */
#define FUZZ_ERR_MAX 1024           /* bytes of an error message */
#define FUZZ_FILE_NAME "fuzz.conf"  /* the file part's name in messages */
#define FUZZ_WRITTEN_NAME "written.conf"
#define FUZZ_CONF_WORD "@conf"      /* the word that names the file part */
#define FUZZ_SPLIT_LINE "%%"        /* file part / command line */

#define check(ok, what) fuzz_check((ok), "fuzz_config", (what))
#define xmalloc fuzz_xmalloc

/* One non-empty line: what the caller prints after "sipd: ". */
static bool one_line(const char *s)
{
	return s[0] != '\0' && strchr(s, '\n') == NULL;
}

/* A read stream over len bytes of text (fmemopen refuses an empty buffer
 * in older glibc: then /dev/null). */
static FILE *text_stream(const char *text, size_t len)
{
	FILE *f = len > 0 ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "r");

	if (f == NULL)
		abort();
	return f;
}

/* With FUZZ_CONFIG_TRACE set in the environment, each result goes to
 * stderr (to write and check seeds). */
static void trace(const char *step, int rc, const char *err)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_CONFIG_TRACE") != NULL;
	if (on)
		fprintf(stderr, "fuzz_config: %s: %d %s\n", step, rc, rc != 0 ? err : "");
}

/* config_write's output, malloc'd, NUL-terminated; *len its length. */
static char *config_text(const struct config *c, size_t *len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	if (f == NULL)
		abort();
	config_write(c, f);
	if (fclose(f) != 0)
		abort();
	*len = n;
	return text;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
		      socklen_t len)
{
	return len <= sizeof(*a) && memcmp(a, b, len) == 0;
}

static void check_same_lists(const struct config *a, const struct config *b)
{
	check(a->listen_count == b->listen_count, "round trip: listen count");
	for (unsigned i = 0; i < a->listen_count; i++) {
		const struct config_listen *x = &a->listen[i], *y = &b->listen[i];
		check(x->proto == y->proto && x->addr_len == y->addr_len &&
			      same_addr(&x->addr, &y->addr, x->addr_len),
		      "round trip: listen address");
		check(strcmp(x->text, y->text) == 0, "round trip: listen text");
	}
	check(a->domain_count == b->domain_count, "round trip: domain count");
	for (unsigned i = 0; i < a->domain_count; i++)
		check(strcmp(a->domains[i], b->domains[i]) == 0, "round trip: domain");
}

/* Every value config_write writes, field by field (listen_is_default is
 * not written: a file's listen entries are never the default). */
static void check_same(const struct config *a, const struct config *b)
{
	check_same_lists(a, b);
	check(strcmp(a->db, b->db) == 0, "round trip: db");
	check(strcmp(a->http, b->http) == 0 && a->http_enabled == b->http_enabled &&
		      a->http_addr_len == b->http_addr_len &&
		      same_addr(&a->http_addr, &b->http_addr, a->http_addr_len),
	      "round trip: http");
	check(a->log_level == b->log_level, "round trip: log_level");
	check(a->workers == b->workers, "round trip: workers");
	check(a->t1_ms == b->t1_ms && a->t2_ms == b->t2_ms && a->t4_ms == b->t4_ms &&
		      a->timer_c_ms == b->timer_c_ms,
	      "round trip: timers");
	check(a->max_message_size == b->max_message_size &&
		      a->max_connections == b->max_connections &&
		      a->max_connections_per_ip == b->max_connections_per_ip &&
		      a->tcp_idle_timeout_ms == b->tcp_idle_timeout_ms &&
		      a->tcp_message_timeout_ms == b->tcp_message_timeout_ms,
	      "round trip: limits");
	check(a->min_expires_ms == b->min_expires_ms && a->max_expires_ms == b->max_expires_ms &&
		      a->default_expires_ms == b->default_expires_ms &&
		      a->max_bindings == b->max_bindings,
	      "round trip: registrar");
	check(a->nonce_lifetime_ms == b->nonce_lifetime_ms && a->allow_no_qop == b->allow_no_qop &&
		      strcmp(a->auth_algorithms, b->auth_algorithms) == 0,
	      "round trip: auth");
	check(a->record_route == b->record_route && a->foreign_callers == b->foreign_callers &&
		      strcmp(a->proxy_redirect, b->proxy_redirect) == 0,
	      "round trip: proxy");
}

/* config_write, then config_load_stream over the defaults: the same
 * values, and the same text when written again. */
static void check_round_trip(const struct config *c)
{
	struct config *again = xmalloc(sizeof(*again));
	char err[FUZZ_ERR_MAX];
	size_t len, len2;
	char *text = config_text(c, &len);
	FILE *f = text_stream(text, len);
	int rc;

	config_defaults(again);
	rc = config_load_stream(again, f, FUZZ_WRITTEN_NAME, err, sizeof(err));
	fclose(f);
	if (rc != 0)
		fprintf(stderr, "fuzz_config: %s\n--- written:\n%s---\n", err, text);
	check(rc == 0, "config_write output does not load");
	check_same(c, again);
	char *text2 = config_text(again, &len2);
	check(len2 == len && memcmp(text, text2, len) == 0, "writing the reloaded config changes it");
	free(text2);
	free(text);
	free(again);
}

/* What holds for any configuration that loaded; validated: what
 * config_validate checks too. */
static void check_config(const struct config *c, bool validated)
{
	check(c->listen_count >= 1 && c->listen_count <= CONFIG_MAX_LISTEN, "listen count");
	check(c->domain_count <= CONFIG_MAX_DOMAINS, "domain count");
	for (unsigned i = 0; i < c->domain_count; i++) {
		size_t len = strnlen(c->domains[i], CONFIG_DOMAIN_MAX);
		check(len > 0 && len < CONFIG_DOMAIN_MAX, "domain length");
		for (size_t k = 0; k < len; k++)
			check(c->domains[i][k] < 'A' || c->domains[i][k] > 'Z', "domain not lower case");
	}
	check(strnlen(c->db, CONFIG_DB_MAX) < CONFIG_DB_MAX, "db not terminated");
	if (validated)
		check(c->t1_ms <= c->t2_ms && c->min_expires_ms <= c->max_expires_ms,
		      "validated config breaks a rule of config_validate");
}

/* Step 1: the file part over the defaults. */
static void check_file(const char *text, size_t len)
{
	struct config *c = xmalloc(sizeof(*c));
	char err[FUZZ_ERR_MAX];
	FILE *f = text_stream(text, len);
	int rc;

	config_defaults(c);
	rc = config_load_stream(c, f, FUZZ_FILE_NAME, err, sizeof(err));
	fclose(f);
	trace("load", rc, err);
	check(rc == 0 || rc == EINVAL, "config_load_stream result");
	if (rc != 0) {
		check(one_line(err), "file error is not one line");
		check(strncmp(err, FUZZ_FILE_NAME ":", strlen(FUZZ_FILE_NAME ":")) == 0,
		      "file error does not name the file");
	} else {
		rc = config_validate(c, err, sizeof(err));
		trace("validate", rc, err);
		check(rc == 0 || rc == EINVAL, "config_validate result");
		check(rc == 0 || one_line(err), "validate error is not one line");
		check_config(c, rc == 0);
		check_round_trip(c);
	}
	free(c);
}

/* The path of a temporary file holding text (made once per process,
 * removed at exit). */
static char conf_path[64];
static int conf_fd = -1;

static void conf_remove(void)
{
	unlink(conf_path);
}

static char *conf_file(const char *text, size_t len)
{
	if (conf_fd < 0) {
		snprintf(conf_path, sizeof(conf_path), "/tmp/fuzz_config.XXXXXX");
		conf_fd = mkstemp(conf_path);
		if (conf_fd < 0)
			abort();
		atexit(conf_remove);
	}
	if (ftruncate(conf_fd, 0) != 0 ||
	    (len > 0 && pwrite(conf_fd, text, len, 0) != (ssize_t)len))
		abort();
	return conf_path;
}

/* Step 3: durations and listen addresses read back from their normal form. */
static void check_word(const char *word)
{
	struct config_listen l, again;
	char err[FUZZ_ERR_MAX], text[32];
	uint64_t ms, ms2;

	if (config_duration_parse(word, &ms) == 0) {
		config_duration_format(ms, text, sizeof(text));
		check(config_duration_parse(text, &ms2) == 0 && ms2 == ms,
		      "duration does not read back from its format");
	}
	if (config_listen_parse(word, &l, err, sizeof(err)) == 0) {
		check(config_listen_parse(l.text, &again, err, sizeof(err)) == 0,
		      "normalized listen address does not parse");
		check(again.proto == l.proto && again.addr_len == l.addr_len &&
			      same_addr(&again.addr, &l.addr, l.addr_len) &&
			      strcmp(again.text, l.text) == 0,
		      "normalized listen address reads back different");
	} else {
		check(one_line(err), "listen error is not one line");
	}
}

/* The words of text, each malloc'd; returns how many (at most max). */
static int split_words(const char *text, size_t len, char **words, int max)
{
	int count = 0;
	size_t at = 0;

	while (at < len && count < max) {
		size_t start = at;
		while (at < len && !strchr(" \t\n", text[at]) && text[at] != '\0')
			at++;
		if (at > start) {
			char *w = xmalloc(at - start + 1);
			memcpy(w, text + start, at - start);
			w[at - start] = '\0';
			words[count++] = w;
		}
		at++;
	}
	return count;
}

/* Step 2: "sipd WORD..." through config_from_args. */
static void check_args(const char *args, size_t args_len, const char *file, size_t file_len)
{
	static FILE *devnull;
	char *words[FUZZ_MAX_WORDS], *argv[FUZZ_MAX_WORDS + 2], name[] = "sipd";
	struct config *c = xmalloc(sizeof(*c));
	int count = split_words(args, args_len, words, FUZZ_MAX_WORDS), rc;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	argv[0] = name;
	for (int i = 0; i < count; i++) {
		for (char *p = words[i]; *p; p++)
			if (*p == '/')
				*p = '_';
		check_word(words[i]);
		argv[i + 1] = strcmp(words[i], FUZZ_CONF_WORD) == 0 ? conf_file(file, file_len) : words[i];
	}
	argv[count + 1] = NULL;
	rc = config_from_args(c, count + 1, argv, devnull, devnull);
	trace("args", rc, "");
	check(rc == CONFIG_OK || rc == CONFIG_EXIT_0 || rc == CONFIG_USAGE_ERROR,
	      "config_from_args result");
	if (rc == CONFIG_OK) {
		check_config(c, true);
		check_round_trip(c);
	}
	for (int i = 0; i < count; i++)
		free(words[i]);
	free(c);
}

/* The line "%%": *file_len bytes of file before it, the command line from
 * *args after it. false when there is none. */
static bool find_split(const char *buf, size_t size, size_t *file_len, size_t *args)
{
	const size_t mark = strlen(FUZZ_SPLIT_LINE);
	size_t at = 0;

	while (at < size) {
		const char *nl = memchr(buf + at, '\n', size - at);
		size_t end = nl ? (size_t)(nl - buf) : size;
		if (end - at == mark && memcmp(buf + at, FUZZ_SPLIT_LINE, mark) == 0) {
			*file_len = at;
			*args = nl ? end + 1 : size;
			return true;
		}
		at = end + 1;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size);
	size_t file_len = size, args = 0;

	memcpy(buf, data, size);
	if (!find_split(buf, size, &file_len, &args))
		args = 0;
	check_file(buf, file_len);
	check_args(buf + args, size - args, buf, file_len);
	free(buf);
	return 0;
}
