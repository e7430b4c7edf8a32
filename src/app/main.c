/*
 * main.c - the sipd command line (DESIGN.md §5).
 *
 * Exit status: 0 success, 2 usage or configuration error (one line naming
 * the problem), 1 runtime failure. At this stage the options are parsed and
 * checked, but the server itself is not there yet.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#ifndef SIPD_VERSION
#define SIPD_VERSION "0.0.0"
#endif

static const char usage_text[] =
	"usage: sipd [options]\n"
	"\n"
	"SIP registrar, location service, digest authentication server and proxy.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE            INI file; flags given on the command line win\n"
	"  -l, --listen PROTO:ADDR:PORT udp, tcp, tls, ws or wss; repeatable; IPv6 in\n"
	"                               brackets; port 0 picks a free port\n"
	"  -d, --domain NAME            served domain (repeatable; first = default)\n"
	"      --db URL                 sqlite:PATH (default sqlite:sipd.db) or postgresql://...\n"
	"      --http ADDR:PORT         admin API and web console; \"off\" disables\n"
	"      --log-level LEVEL        error, warn, info, debug\n"
	"  -h, --help                   print this help and exit\n"
	"  -V, --version                print the version and exit\n";

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "sipd: %s '%s' (try 'sipd --help')\n", what, arg);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "domain", required_argument, NULL, 'd' },
		{ "db", required_argument, NULL, 'D' },
		{ "http", required_argument, NULL, 'H' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	enum log_level level;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:l:d:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("sipd %s\n", SIPD_VERSION);
			return 0;
		case 'L':
			if (!log_level_parse(optarg, &level))
				return usage_error("unknown log level", optarg);
			log_set_level(level);
			break;
		case 'c':
		case 'l':
		case 'd':
		case 'D':
		case 'H':
			break;
		case ':':
			return usage_error("missing value for option", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	fprintf(stderr, "sipd %s: the server is not implemented yet\n", SIPD_VERSION);
	return 1;
}
