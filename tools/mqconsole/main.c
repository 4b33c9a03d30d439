/* main.c - mqconsole: the web console of a Comet cluster (also works with
 * RocketMQ 4.x name servers and brokers: it only uses their remoting API).
 *   mqconsole -n 127.0.0.1:9876 [-c mqconsole.conf] [-o key=value]... [-p|-m]
 * Owns the settings table, starts the poller, the workers and the HTTP
 * server, then waits for SIGTERM / SIGINT and stops them in order (workers
 * first, so nobody answers a request the HTTP server has already freed).
 * Thread: main. Prints "The console boot success. http://host:port/" once
 * it serves. */
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "jobs.h"
#include "poller.h"
#include "rmq_cmdline.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define F(x) offsetof(mc_conf_t, x)
#define IMP RMQ_CONF_IMPORTANT

const rmq_conf_def_t mc_conf_defs[] = {
    {"namesrvAddr", RMQ_CONF_STR, F(namesrvAddr), "", 0, 0, IMP,
     "name servers of the cluster, `host:port;host:port` (also -n or NAMESRV_ADDR); required", NULL},
    {"listenAddress", RMQ_CONF_STR, F(listenAddress), "127.0.0.1", 0, 0, IMP,
     "address the console listens on (loopback by default: expose it deliberately)", NULL},
    {"listenPort", RMQ_CONF_INT, F(listenPort), "8080", 0, 65535, IMP,
     "HTTP port of the console (0 = any free port)", NULL},
    {"writeEnable", RMQ_CONF_BOOL, F(writeEnable), "false", 0, 0, IMP,
     "allow write actions (resend a message or a dead letter to a group, reset a group's offsets); off: the "
     "API "
     "answers 403",
     NULL},
    {"pollIntervalMs", RMQ_CONF_INT, F(pollIntervalMs), "5000", 200, 600000, 0,
     "how often the cluster, topics and groups are read (also the chart resolution)", NULL},
    {"historyPoints", RMQ_CONF_INT, F(historyPoints), "720", 2, 100000, 0,
     "polls kept for the TPS, lag and replication charts (720 x 5 s = 1 hour)", NULL},
    {"maxTopicsPolled", RMQ_CONF_INT, F(maxTopicsPolled), "500", 0, 100000, 0,
     "topics whose offsets are read every poll (normal topics first); the others show without TPS", NULL},
    {"maxGroupsPolled", RMQ_CONF_INT, F(maxGroupsPolled), "500", 0, 100000, 0,
     "consumer groups whose lag is read every poll (non-system groups first)", NULL},
    {"requestTimeoutMs", RMQ_CONF_INT, F(requestTimeoutMs), "3000", 100, 60000, 0,
     "timeout of one remoting call to a name server or broker", NULL},
    {"workerThreads", RMQ_CONF_INT, F(workerThreads), "2", 1, 64, 0,
     "threads answering requests that need the cluster now (searches, details, write actions)", NULL},
    {"maxConnections", RMQ_CONF_INT, F(maxConnections), "64", 1, 10000, 0,
     "open HTTP connections; more are answered 503 and closed", NULL},
    {"maxPendingRequests", RMQ_CONF_INT, F(maxPendingRequests), "32", 1, 10000, 0,
     "requests waiting for a worker; more are answered 503", NULL},
    {"queryMaxMessages", RMQ_CONF_INT, F(queryMaxMessages), "2000", 1, 100000, 0,
     "most messages one search returns (the `limit` parameter is capped by it)", NULL},
    {"maxBodyBytes", RMQ_CONF_INT, F(maxBodyBytes), "65536", 256, 16777216, 0,
     "most body bytes shown for one message (compressed bodies are inflated up to this)", NULL},
    {"toolsConsumerGroup", RMQ_CONF_STR, F(toolsConsumerGroup), "TOOLS_CONSUMER", 0, 0, 0,
     "consumer group the console reads messages with (no offset is ever committed; RocketMQ's tools use the "
     "same "
     "name)",
     NULL},
    {"accessKey", RMQ_CONF_STR, F(accessKey), "", 0, 0, 0,
     "ACL: the console's own account; every remoting request is signed with it (AclClientRPCHook). When set, "
     "write actions also need the operator's own accessKey and secretKey, used for that action only",
     NULL},
    {"secretKey", RMQ_CONF_STR, F(secretKey), "", 0, 0, 0,
     "ACL: the secret key of accessKey (put it in the -c file, readable by the console's user only: a "
     "command "
     "line is visible to every user of the host; -p prints it masked)",
     NULL},
    {"logLevel", RMQ_CONF_ENUM, F(logLevel), "INFO", 0, 0, 0, "ERROR, WARN, INFO, DEBUG or TRACE",
     rmq_log_level_names},
    {"logFile", RMQ_CONF_STR, F(logFile), "", 0, 0, 0, "log file (empty = stderr)", NULL},
    RMQ_CONF_END,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: mqconsole [-n namesrvAddr] [-c configFile] [-o key=value]... [-p] [-m] [-h]\n"
                 "  -n addr         name servers, host:port;host:port (or NAMESRV_ADDR)\n"
                 "  -c configFile   settings file (Java properties; ${VAR} and ${VAR:-default} expanded)\n"
                 "  -o key=value    set one setting, after the file (repeatable)\n"
                 "  -p / -m         print all / the important settings and exit\n"
                 "  --print-config-md  print the settings as a Markdown table and exit\n"
                 "  -h              print this help\n");
}

int main(int argc, char **argv)
{
    static mc_console_t con;
    mc_console_t *c = &con;
    rmq_conf_defaults(mc_conf_defs, &c->conf);
    rmq_cmdline_t cl;
    int rc;
    if (!rmq_cmdline_settings(argc, argv, true, &cl, "mqconsole", usage, 2, &rc))
        return rc;
    if (cl.print_md) {
        rmq_conf_print_markdown(mc_conf_defs, "mqconsole", stdout);
        return 0;
    }
    char err[512];
    if (cl.conf_file &&
        rmq_conf_load_file(mc_conf_defs, &c->conf, cl.conf_file, "console", err, sizeof(err)) != RMQ_OK) {
        fprintf(stderr, "mqconsole: %s\n", err);
        return 1;
    }
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "-n")) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "-o") != 0)
            continue;
        char key[128];
        const char *val;
        if (rmq_conf_split_override(argv[++i], key, sizeof(key), &val, err, sizeof(err)) != RMQ_OK ||
            rmq_conf_set(mc_conf_defs, &c->conf, key, val, err, sizeof(err)) != RMQ_OK) {
            fprintf(stderr, "mqconsole: -o %s: %s\n", argv[i], err);
            return 1;
        }
    }
    if (cl.namesrv &&
        rmq_conf_set(mc_conf_defs, &c->conf, "namesrvAddr", cl.namesrv, err, sizeof(err)) != RMQ_OK) {
        fprintf(stderr, "mqconsole: %s\n", err);
        return 1;
    }
    if (!*c->conf.namesrvAddr && getenv("NAMESRV_ADDR"))
        rmq_conf_set(mc_conf_defs, &c->conf, "namesrvAddr", getenv("NAMESRV_ADDR"), err, sizeof(err));
    if (cl.print) {
        if (*c->conf.secretKey) /* a printed configuration ends up in tickets and logs */
            rmq_conf_set(mc_conf_defs, &c->conf, "secretKey", "********", err, sizeof(err));
        rmq_conf_print(mc_conf_defs, &c->conf, stdout, cl.print == 2);
        return 0;
    }
    if (!*c->conf.namesrvAddr) {
        fprintf(stderr, "mqconsole: no name server: give -n host:port, namesrvAddr or NAMESRV_ADDR\n");
        return 1;
    }
    rmq_log_level = c->conf.logLevel;
    if (*c->conf.logFile && rmq_log_set_file(c->conf.logFile) != 0) {
        fprintf(stderr, "mqconsole: cannot open log file %s\n", c->conf.logFile);
        return 1;
    }
    rmq_log_set_thread_name("main");
    evthread_use_pthreads();
    /* signals are taken with sigwait on main; the other threads never see them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    c->boot_ms = rmq_now_ms();

    rmq_http_opts_t ho;
    rmq_http_opts_default(&ho);
    ho.name = "ConsoleHttp";
    ho.host = c->conf.listenAddress;
    ho.port = c->conf.listenPort;
    ho.max_connections = c->conf.maxConnections;
    ho.max_pending = c->conf.maxPendingRequests + c->conf.workerThreads;
    ho.max_body_bytes = 65536;
    c->http = rmq_http_new(&ho, err, sizeof(err));
    if (!c->http) {
        fprintf(stderr, "mqconsole: %s\n", err);
        return 1;
    }
    if (*c->conf.accessKey && !*c->conf.secretKey) {
        fprintf(stderr, "mqconsole: accessKey without secretKey\n");
        rmq_http_destroy(c->http);
        return 1;
    }
    c->poller = mc_poller_start(&c->conf);
    c->jobs = mc_jobs_start(c->conf.workerThreads, c->conf.maxPendingRequests, c->conf.namesrvAddr,
                            c->conf.requestTimeoutMs, c->conf.accessKey, c->conf.secretKey);
    mc_api_register(c);
    if (!c->poller || rmq_http_start(c->http, err, sizeof(err)) != RMQ_OK) {
        fprintf(stderr, "mqconsole: %s\n", c->poller ? err : "cannot start the poller thread");
        mc_jobs_stop(c->jobs);
        mc_poller_stop(c->poller);
        rmq_http_destroy(c->http);
        return 1;
    }
    printf("The console boot success. http://%s:%d/ name server %s%s\n", c->conf.listenAddress,
           rmq_http_port(c->http), c->conf.namesrvAddr,
           c->conf.writeEnable ? " (write actions enabled)" : "");
    fflush(stdout);
    rmq_log(RMQ_LOG_INFO, "console", "serving http://%s:%d/ for name server %s; write actions %s",
            c->conf.listenAddress, rmq_http_port(c->http), c->conf.namesrvAddr,
            c->conf.writeEnable ? "ENABLED" : "disabled");
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) == 0 && (sig == SIGTERM || sig == SIGINT)) {
            rmq_log(RMQ_LOG_INFO, "console", "signal %d: shutting down", sig);
            break;
        }
    }
    mc_jobs_stop(c->jobs);
    mc_poller_stop(c->poller);
    rmq_http_destroy(c->http);
    rmq_conf_free(mc_conf_defs, &c->conf);
    rmq_log(RMQ_LOG_INFO, "console", "stopped");
    return 0;
}
