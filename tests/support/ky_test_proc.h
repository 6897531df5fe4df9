/*
 * ky_test_proc: the child processes and clocks of the store's process-level tests
 * (crash_test, pg_outage_test, concurrent_writers_test), which drive the real `kyoyu`.
 *
 * A program that uses these defines die(): they call it, with what failed, when the system
 * refuses (fork, pipe, waitpid), and die() reports, keeps the evidence and exits.
 */
#ifndef KY_TEST_PROC_H
#define KY_TEST_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* CLOCK_MONOTONIC in milliseconds. */
int64_t ky_test_now_ms(void);

/* Sleeps `us` microseconds, through signals. */
void ky_test_sleep_us(uint64_t us);

/*
 * Runs argv (argv[0] looked up in PATH when it has no '/') with stdout to `out_path`, or,
 * when out_path is NULL, into a pipe whose read end goes to *out_fd (the caller closes it);
 * stderr to `err_path`, appended to when err_append (one file for many runs), else
 * truncated. Returns the child's pid; the caller waits for it.
 */
pid_t ky_test_spawn(char *const argv[], const char *out_path, int *out_fd, const char *err_path, bool err_append);

/* Waits for pid, through signals; returns its waitpid status. */
int ky_test_wait(pid_t pid);

/* Copies the file at path to stderr, each line indented with "  | " (nothing if unreadable). */
void ky_test_show_file(const char *path);

#endif
