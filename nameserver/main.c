/* main.c - mqnamesrv command line: -c FILE, -o key=value (any setting, after
 * the file), -p (print all settings), -m (print important settings),
 * --print-config-md (CONFIGURATION.md section), -h. Runs on the main thread,
 * which then becomes the server's only thread. */
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namesrv.h"
#include "rmq_cmdline.h"
#include "rmq_log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: mqnamesrv [-c configFile] [-o key=value]... [-p] [-m] [-h]\n"
                 "  -c configFile   name server config file (Java properties, RocketMQ keys;\n"
                 "                  ${VAR} and ${VAR:-default} in values come from the environment)\n"
                 "  -o key=value    set one setting, after the file (repeatable)\n"
                 "  -p              print all config items and exit\n"
                 "  -m              print important config items and exit\n"
                 "  --print-config-md  print the settings as a Markdown table and exit\n"
                 "  -h              print this help\n");
}

int main(int argc, char **argv)
{
    ns_config_t cfg;
    ns_config_defaults(&cfg);
    rmq_cmdline_t cl;
    int rc;
    if (!rmq_cmdline_settings(argc, argv, false, &cl, "mqnamesrv", usage, 1, &rc))
        return rc;
    if (cl.print_md) {
        ns_config_print_markdown(stdout);
        ns_config_free(&cfg);
        return 0;
    }
    char err[512];
    if (cl.conf_file && ns_config_load(&cfg, cl.conf_file, err, sizeof(err)) != RMQ_OK) {
        fprintf(stderr, "mqnamesrv: %s\n", err);
        return 1;
    }
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "-c")) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "-o") != 0)
            continue;
        const char *o = argv[++i], *val;
        char key[128], serr[384];
        if (rmq_conf_split_override(o, key, sizeof(key), &val, err, sizeof(err)) != RMQ_OK) {
            fprintf(stderr, "mqnamesrv: %s\n", err);
            return 1;
        }
        /* unlike a file's unknown key (a warning, as RocketMQ), a typo on the command line is an error */
        if (ns_config_set(&cfg, key, val, serr, sizeof(serr)) != RMQ_OK) {
            fprintf(stderr, "mqnamesrv: -o %s: %s\n", o, serr);
            return 1;
        }
    }
    if (cl.print) {
        ns_config_print(&cfg, stdout, cl.print == 2);
        ns_config_free(&cfg);
        return 0;
    }
    rmq_log_level = cfg.logLevel;
    if (cfg.logFile[0] && rmq_log_set_file(cfg.logFile) != 0) {
        fprintf(stderr, "mqnamesrv: cannot open log file %s\n", cfg.logFile);
        return 1;
    }
    rmq_log_set_thread_name("namesrv");
    rmq_raise_fd_limit("namesrv");
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    ns_server_t *s = ns_server_new(&cfg, err, sizeof(err));
    if (!s) {
        rmq_log(RMQ_LOG_ERROR, "namesrv", "start failed: %s", err);
        fprintf(stderr, "mqnamesrv: %s\n", err);
        ns_config_free(&cfg);
        return 1;
    }
    rc = ns_server_run(s);
    ns_server_destroy(s);
    ns_config_free(&cfg);
    return rc;
}
