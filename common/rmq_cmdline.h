/* rmq_cmdline.h - the first pass over the command line of mqnamesrv,
 * mqbroker and mqconsole: a table of a program's options; -h / --help and
 * unknown options are answered alike. Values stay in argv (borrowed).
 * Thread: main, at start-up. */
#ifndef RMQ_CMDLINE_H
#define RMQ_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>

typedef struct rmq_cmdline_opt_s {
    const char *name;
    const char *alias;  /* another spelling, or NULL */
    bool has_value;     /* takes the next argument */
    const char **value; /* where that goes (the last one wins); NULL: read again later */
    int *flag;          /* an option without a value sets *flag = flag_value */
    int flag_value;
    bool stop; /* the reading ends there: the program acts on it at once */
} rmq_cmdline_opt_t;

/* Read argv[1..] against opts (ended by an entry whose name is NULL). An
 * option whose value is missing counts as unknown. True when the program
 * goes on; false when main must return *exit_code: 0 after -h or --help
 * (usage on stdout), bad_usage after an unknown option ("<prog>: unknown
 * option X" and usage on stderr). */
bool rmq_cmdline_parse(int argc, char **argv, const rmq_cmdline_opt_t *opts, const char *prog,
                       void (*usage)(FILE *out), int bad_usage, int *exit_code);

/* The settings options of mqnamesrv and mqconsole: -c FILE, -o key=value
 * (not kept: the program reads argv again to apply them after the file),
 * -p, -m, --print-config-md (the reading stops there), and -n ADDR when
 * takes_namesrv. */
typedef struct rmq_cmdline_s {
    const char *conf_file; /* the last -c */
    const char *namesrv;   /* the last -n */
    int print;             /* the last of -p (1: every setting) and -m (2: the important ones); 0: neither */
    int print_md;          /* --print-config-md */
} rmq_cmdline_t;

/* rmq_cmdline_parse over those options, into *out. */
bool rmq_cmdline_settings(int argc, char **argv, bool takes_namesrv, rmq_cmdline_t *out, const char *prog,
                          void (*usage)(FILE *out), int bad_usage, int *exit_code);

#endif
