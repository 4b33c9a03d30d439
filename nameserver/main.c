/* main.c - mqnamesrv command line: -c FILE, -p (print all settings), -m
 * (print important settings), --print-config-md (CONFIGURATION.md section),
 * -h. Runs on the main thread, which then becomes the server's only thread. */
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namesrv.h"
#include "rmq_log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: mqnamesrv [-c configFile] [-p] [-m] [-h]\n"
                 "  -c configFile   name server config file (Java properties, RocketMQ keys)\n"
                 "  -p              print all config items and exit\n"
                 "  -m              print important config items and exit\n"
                 "  --print-config-md  print the settings as a Markdown table and exit\n"
                 "  -h              print this help\n");
}

int main(int argc, char **argv)
{
    ns_config_t cfg;
    rmq_conf_defaults(ns_conf_defs, &cfg);
    const char *conf_file = NULL;
    int print = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            conf_file = argv[++i];
        } else if (!strcmp(argv[i], "-p")) {
            print = 1;
        } else if (!strcmp(argv[i], "-m")) {
            print = 2;
        } else if (!strcmp(argv[i], "--print-config-md")) {
            rmq_conf_print_markdown(ns_conf_defs, "mqnamesrv", stdout);
            return 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mqnamesrv: unknown option %s\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    char err[512];
    if (conf_file && rmq_conf_load_file(ns_conf_defs, &cfg, conf_file, "namesrv", err, sizeof(err)) != RMQ_OK) {
        fprintf(stderr, "mqnamesrv: %s\n", err);
        return 1;
    }
    if (print) {
        rmq_conf_print(ns_conf_defs, &cfg, stdout, print == 2);
        rmq_conf_free(ns_conf_defs, &cfg);
        return 0;
    }
    int lvl = rmq_log_level_parse(cfg.logLevel);
    if (lvl < 0) {
        fprintf(stderr, "mqnamesrv: logLevel: unknown level \"%s\"\n", cfg.logLevel);
        return 1;
    }
    rmq_log_level = lvl;
    if (cfg.logFile[0] && rmq_log_set_file(cfg.logFile) != 0) {
        fprintf(stderr, "mqnamesrv: cannot open log file %s\n", cfg.logFile);
        return 1;
    }
    rmq_log_set_thread_name("namesrv");
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    ns_server_t *s = ns_server_new(&cfg, err, sizeof(err));
    if (!s) {
        rmq_log(RMQ_LOG_ERROR, "namesrv", "start failed: %s", err);
        fprintf(stderr, "mqnamesrv: %s\n", err);
        rmq_conf_free(ns_conf_defs, &cfg);
        return 1;
    }
    int rc = ns_server_run(s);
    ns_server_destroy(s);
    rmq_conf_free(ns_conf_defs, &cfg);
    return rc;
}
