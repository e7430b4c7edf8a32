/*
 * main.c - the sipd command line (DESIGN.md §5).
 *
 * `sipd user ...` and `sipd reg ...` go to cli_main (cli.h); anything else
 * runs the server.
 *
 * Exit status: 0 success, 2 usage or configuration error (one line naming
 * the problem), 1 runtime failure.
 */
#include <stdio.h>

#include "app/cli.h"
#include "app/config.h"
#include "app/server.h"
#include "base/log.h"

int main(int argc, char **argv)
{
	static struct config cfg; /* large: not on the stack */

	if (argc >= 2 && cli_is_command(argv[1]))
		return cli_main(argc, argv, stdout, stderr);
	switch (config_from_args(&cfg, argc, argv, stdout, stderr)) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_0:
		return 0;
	default:
		return 2;
	}
	log_set_level(cfg.log_level);
	return server_run(&cfg);
}
