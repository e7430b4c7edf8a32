/*
 * server.h - run sipd with a configuration until SIGINT or SIGTERM.
 */
#ifndef SIPD_APP_SERVER_H
#define SIPD_APP_SERVER_H

#include "app/config.h"

/* Returns the process exit status: 0 stopped cleanly, 2 configuration
 * error (a listener cannot be bound), 1 runtime failure. */
int server_run(const struct config *cfg);

#endif
