/* main.c - mqbroker entry point: command line (-c files, -o key=value, -n, -p, -m,
 * --print-config-md), logging, libevent threading, then the controller.
 * Thread: main (becomes the io thread inside rmq_broker_run).
 * Never: holds state of its own beyond argument parsing. */
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "rmq_cmdline.h"
#include "rmq_log.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mqbroker [-c file] [-o key=value]... [-n namesrvAddr] [-p | -m] [--print-config-md] [-h]\n"
        "  -c file   RocketMQ broker.conf (key=value; ${VAR} and ${VAR:-default} in values\n"
        "            come from the environment)\n"
        "  -o k=v    set one setting, after the file (repeatable; -o and -n apply in order)\n"
        "  -n addr   name server list, host:port;host:port (same as -o namesrvAddr=addr)\n"
        "  -p        print all settings and exit\n"
        "  -m        print important settings and exit\n");
}

int main(int argc, char **argv)
{
    const char *ns = NULL;
    int print_all = 0, print_imp = 0, print_md = 0, rc;
    const rmq_cmdline_opt_t opts[] = {
        {.name = "-c", .has_value = true}, /* loaded below, in order */
        {.name = "-n", .has_value = true, .value = &ns},
        {.name = "-o", .has_value = true}, /* applied after the file, below */
        {.name = "-p", .alias = "--printConfigItem", .flag = &print_all, .flag_value = 1},
        {.name = "-m", .alias = "--printImportantConfig", .flag = &print_imp, .flag_value = 1},
        {.name = "--print-config-md", .flag = &print_md, .flag_value = 1},
        {.name = NULL},
    };
    if (!rmq_cmdline_parse(argc, argv, opts, "mqbroker", usage, 2, &rc))
        return rc;
    if (print_md) {
        rmq_broker_conf_print_markdown(stdout);
        rmq_conf_print_markdown(rmq_store_conf_defs, "mqbroker message store (broker.conf)", stdout);
        return 0;
    }
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    rmq_log_set_thread_name("BrokerIO");
    rmq_broker_t *b = rmq_broker_new();
    char err[512] = "";
    for (int i = 1; i + 1 < argc; i++) { /* every -c file, in order: a later file overrides an earlier one */
        if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "-o")) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "-c") != 0)
            continue;
        if (rmq_broker_conf_load(&b->conf, &b->store_conf, argv[++i], err, sizeof(err)) != RMQ_OK) {
            fprintf(stderr, "mqbroker: %s\n", err);
            rmq_broker_destroy(b);
            return 1;
        }
    }
    for (int i = 1; i + 1 < argc; i++) { /* -o and -n, in command-line order, over the file */
        if (!strcmp(argv[i], "-c")) {
            i++;
            continue;
        }
        const char *o = argv[i + 1], *val;
        char key[128], serr[384];
        if (!strcmp(argv[i], "-n")) {
            snprintf(key, sizeof(key), "namesrvAddr");
            val = o;
        } else if (!strcmp(argv[i], "-o")) {
            if (rmq_conf_split_override(o, key, sizeof(key), &val, err, sizeof(err)) != RMQ_OK) {
                fprintf(stderr, "mqbroker: %s\n", err);
                rmq_broker_destroy(b);
                return 1;
            }
        } else {
            continue;
        }
        i++;
        /* unlike a file's unknown key (a warning, as RocketMQ), a typo on the command line is an error */
        if (rmq_broker_conf_set(&b->conf, &b->store_conf, key, val, serr, sizeof(serr)) != RMQ_OK) {
            fprintf(stderr, "mqbroker: %s %s: %s\n", argv[i - 1], o, serr);
            rmq_broker_destroy(b);
            return 1;
        }
    }
    if (!ns && (!b->conf.namesrvAddr || !*b->conf.namesrvAddr) && getenv("NAMESRV_ADDR"))
        rmq_broker_conf_set(&b->conf, &b->store_conf, "namesrvAddr", getenv("NAMESRV_ADDR"), err,
                            sizeof(err));
    rmq_broker_conf_finish(&b->conf, &b->store_conf);
    if (print_all || print_imp) {
        rmq_broker_conf_print(&b->conf, stdout, print_imp);
        rmq_conf_print(rmq_store_conf_defs, &b->store_conf, stdout, print_imp);
        rmq_broker_destroy(b);
        return 0;
    }
    rmq_log_level = b->conf.logLevel;
    if (b->conf.logFile && *b->conf.logFile)
        rmq_log_set_file(b->conf.logFile);
    rmq_raise_fd_limit("broker");
    if (rmq_broker_start(b, err, sizeof(err)) != RMQ_OK) {
        rmq_log(RMQ_LOG_ERROR, "broker", "start failed: %s", err);
        fprintf(stderr, "mqbroker: start failed: %s\n", err);
        rmq_broker_destroy(b);
        return 1;
    }
    rc = rmq_broker_run(b);
    rmq_broker_destroy(b);
    rmq_log(RMQ_LOG_INFO, "broker", "shutdown complete");
    return rc;
}
