#include "ky_test_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t ky_test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ky_test_sleep_us(uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

pid_t ky_test_spawn(char *const argv[], const char *out_path, int *out_fd, const char *err_path, bool err_append)
{
	int p[2] = {-1, -1};
	if (out_path == NULL && pipe(p) != 0)
		die("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : p[1];
		int err = open(err_path, O_WRONLY | O_CREAT | (err_append ? O_APPEND : O_TRUNC), 0644);
		if (out < 0 || err < 0)
			_exit(126);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		if (p[0] >= 0)
			close(p[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out_path == NULL) {
		close(p[1]);
		*out_fd = p[0];
	}
	return pid;
}

int ky_test_wait(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	return status;
}

void ky_test_show_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "  | %s", line);
	fclose(f);
}
