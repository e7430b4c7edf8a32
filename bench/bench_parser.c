/*
 * bench_parser.c - nanoseconds per message for the SIP parser.
 *
 *   bench_parser [COMMIT]      (make bench passes git rev-parse --short HEAD)
 *
 * Four messages as softphones send them (bench/data/: a REGISTER with
 * digest credentials, an INVITE with SDP, the 200 OK to it, the ACK), each
 * alone and all four in turn ("mix"), in two modes:
 *   decode      sip_msg_decode() on a datagram: split + eager headers
 *               (top Via, CSeq, Call-ID, From, To, Max-Forwards), then fini;
 *   decode_all  the same plus sip_msg_decode_all(): every lazy header
 *               decoded, then sip_msg_fini() frees the caches.
 * Each figure is calibrated to run about BENCH_TARGET_NS, repeated
 * BENCH_REPEATS times, and the fastest repetition is kept: on a shared
 * machine noise only ever adds time, so the minimum is the steadiest
 * estimate. Prints a table, then one JSON line for scripts. A run takes
 * about 10 figures x 5 x 0.3 s = 15 s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sip/msg.h"

#ifndef BENCH_DATA_DIR
#define BENCH_DATA_DIR "bench/data"
#endif

#ifndef BENCH_TARGET_NS
#define BENCH_TARGET_NS 300000000ull /* ns per repetition, about 0.3 s */
#endif
#define BENCH_CALIBRATE_NS 20000000ull /* ns a calibration run must reach */
#ifndef BENCH_REPEATS
#define BENCH_REPEATS 5
#endif
#define BENCH_MESSAGES 4

struct sample {
	const char *name;
	const char *file;
	char *data; /* owned; exactly len bytes */
	size_t len;
};

enum bench_mode { MODE_DECODE, MODE_DECODE_ALL, MODE__COUNT };

static const char *const mode_names[MODE__COUNT] = { "decode", "decode_all" };

/* Results feed this so no decode can be optimised away. */
static volatile uint64_t bench_sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int sample_load(struct sample *s)
{
	char path[4096];
	FILE *f;
	long size;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", BENCH_DATA_DIR, s->file);
	f = fopen(path, "rb");
	if (f == NULL) {
		rc = errno;
		fprintf(stderr, "bench_parser: %s: %s\n", path, strerror(rc));
		return rc;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
		rc = EIO;
		goto out;
	}
	s->len = (size_t)size;
	s->data = malloc(s->len);
	if (s->data == NULL) {
		rc = ENOMEM;
		goto out;
	}
	if (fread(s->data, 1, s->len, f) != s->len)
		rc = EIO;
out:
	if (rc != 0)
		fprintf(stderr, "bench_parser: %s: %s\n", path, strerror(rc));
	fclose(f);
	return rc;
}

/* One decode (and, in MODE_DECODE_ALL, every lazy header) of one message. */
static void run_one(struct sip_msg *msg, const struct sample *s, enum bench_mode mode)
{
	struct sip_error err;
	size_t consumed;

	if (sip_msg_decode(msg, s->data, s->len, SIP_FRAMING_DGRAM, &consumed, &err) != 0) {
		fprintf(stderr, "bench_parser: %s does not decode: %d %s\n", s->name, err.status,
			err.reason);
		exit(1);
	}
	if (mode == MODE_DECODE_ALL && sip_msg_decode_all(msg, &err) != 0) {
		fprintf(stderr, "bench_parser: %s: lazy decode fails: %d %s\n", s->name,
			err.status, err.reason);
		exit(1);
	}
	bench_sink += msg->hdr_count + msg->cseq.number + msg->via.branch.len;
	sip_msg_fini(msg);
}

/* Run iterations over samples[0, count) and return elapsed ns. */
static uint64_t run(struct sip_msg *msg, const struct sample *samples, size_t count,
		    enum bench_mode mode, uint64_t iterations)
{
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < iterations; i++) {
		for (size_t k = 0; k < count; k++)
			run_one(msg, &samples[k], mode);
	}
	return now_ns() - start;
}

/* Iterations for one repetition to last about BENCH_TARGET_NS. */
static uint64_t calibrate(struct sip_msg *msg, const struct sample *samples, size_t count,
			  enum bench_mode mode)
{
	uint64_t iterations = 1, elapsed;

	/* double until a run is long enough to time */
	for (;;) {
		elapsed = run(msg, samples, count, mode, iterations);
		if (elapsed >= BENCH_CALIBRATE_NS)
			break;
		iterations *= 2;
	}
	iterations = iterations * BENCH_TARGET_NS / elapsed;
	return iterations ? iterations : 1;
}

/* Row k of the table: samples[k] alone, or all of them (the mix) for
 * k == BENCH_MESSAGES. */
static const struct sample *figure_set(const struct sample *samples, size_t k, size_t *count)
{
	*count = k < BENCH_MESSAGES ? 1 : BENCH_MESSAGES;
	return k < BENCH_MESSAGES ? &samples[k] : samples;
}

int main(int argc, char **argv)
{
	struct sample samples[BENCH_MESSAGES] = {
		{ "register", "register.sip", NULL, 0 },
		{ "invite", "invite.sip", NULL, 0 },
		{ "200_invite", "ok.sip", NULL, 0 },
		{ "ack", "ack.sip", NULL, 0 },
	};
	/* rows: each message, then the mix */
	double ns[BENCH_MESSAGES + 1][MODE__COUNT];
	uint64_t iterations[BENCH_MESSAGES + 1][MODE__COUNT];
	uint64_t best[BENCH_MESSAGES + 1][MODE__COUNT];
	const char *commit = argc > 1 ? argv[1] : "unknown";
	struct sip_msg *msg = malloc(sizeof(*msg));
	size_t mix_bytes = 0;

	if (msg == NULL)
		return 1;
	for (size_t k = 0; k < BENCH_MESSAGES; k++) {
		if (sample_load(&samples[k]) != 0)
			return 1;
		mix_bytes += samples[k].len;
	}
	/* The repetitions go round all figures in turn, so a burst of load from
	 * elsewhere on the machine slows one repetition of several figures
	 * rather than every repetition of one. */
	for (size_t k = 0; k <= BENCH_MESSAGES; k++) {
		for (int m = 0; m < MODE__COUNT; m++) {
			size_t count;
			const struct sample *set = figure_set(samples, k, &count);
			iterations[k][m] = calibrate(msg, set, count, (enum bench_mode)m);
			best[k][m] = UINT64_MAX;
		}
	}
	for (int r = 0; r < BENCH_REPEATS; r++) {
		for (size_t k = 0; k <= BENCH_MESSAGES; k++) {
			for (int m = 0; m < MODE__COUNT; m++) {
				size_t count;
				const struct sample *set = figure_set(samples, k, &count);
				uint64_t elapsed = run(msg, set, count, (enum bench_mode)m,
						       iterations[k][m]);
				if (elapsed < best[k][m])
					best[k][m] = elapsed;
			}
		}
	}
	for (size_t k = 0; k <= BENCH_MESSAGES; k++) {
		for (int m = 0; m < MODE__COUNT; m++) {
			size_t count;
			(void)figure_set(samples, k, &count);
			ns[k][m] = (double)best[k][m] / (double)(iterations[k][m] * count);
		}
	}

	printf("sipd parser benchmark, commit %s: ns per message, best of %d runs of ~%.1f s\n",
	       commit, BENCH_REPEATS, (double)BENCH_TARGET_NS / 1e9);
	printf("%-12s %6s %10s %12s\n", "message", "bytes", mode_names[MODE_DECODE],
	       mode_names[MODE_DECODE_ALL]);
	for (size_t k = 0; k <= BENCH_MESSAGES; k++) {
		const char *name = k < BENCH_MESSAGES ? samples[k].name : "mix";
		size_t bytes = k < BENCH_MESSAGES ? samples[k].len : mix_bytes / BENCH_MESSAGES;
		printf("%-12s %6zu %10.1f %12.1f\n", name, bytes, ns[k][MODE_DECODE],
		       ns[k][MODE_DECODE_ALL]);
	}

	printf("{\"bench\":\"parser\",\"commit\":\"%s\",\"unit\":\"ns/message\",\"results\":{", commit);
	for (size_t k = 0; k <= BENCH_MESSAGES; k++) {
		const char *name = k < BENCH_MESSAGES ? samples[k].name : "mix";
		size_t bytes = k < BENCH_MESSAGES ? samples[k].len : mix_bytes / BENCH_MESSAGES;
		printf("%s\"%s\":{\"bytes\":%zu,\"decode\":%.1f,\"decode_all\":%.1f}", k ? "," : "",
		       name, bytes, ns[k][MODE_DECODE], ns[k][MODE_DECODE_ALL]);
	}
	printf("}}\n");

	for (size_t k = 0; k < BENCH_MESSAGES; k++)
		free(samples[k].data);
	free(msg);
	return 0;
}
