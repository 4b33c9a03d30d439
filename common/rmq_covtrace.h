/* rmq_covtrace.h - which request codes a process served and which settings
 * it was given, for the test suite's coverage report (scripts/coverage.sh).
 * Off unless COMET_COVERAGE_TRACE names a file: then the first time a
 * process sees a code or a setting it appends one line ("code 105",
 * "setting listenPort") to that file, so a process killed with SIGKILL has
 * already reported. Any thread; a bit test per call when on, a flag test
 * when off. */
#ifndef RMQ_COVTRACE_H
#define RMQ_COVTRACE_H

/* A request with this code reached its handler (or the not-supported answer). */
void rmq_covtrace_code(int code);
/* A setting was given a value from a file, -o or an API call. */
void rmq_covtrace_setting(const char *key);

#endif
