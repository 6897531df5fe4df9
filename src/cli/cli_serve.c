/*
 * cli_serve: `kyoyu serve`, the hub's TAXII 2.1 server. It checks the hub opens before it
 * listens (a missing or outdated hub is a clear error, not a server that fails every
 * request), serves until SIGTERM or SIGINT, then stops accepting and lets requests in
 * progress finish.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "policy/admission.h"
#include "http/http.h"
#include "server/server.h"
#include "util/ky_error.h"

/* Raises the open-file limit towards what `connections` need (each is a descriptor; the
 * database and the log take a few more): the soft limit of a login shell, often 1024,
 * would otherwise be the server's real connection limit. */
static void raise_file_limit(unsigned connections)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
		return;
	rlim_t want = (rlim_t)connections + 256;
	if (limit.rlim_cur >= want)
		return;
	limit.rlim_cur = limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want ? limit.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &limit);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] serve [--listen ADDRESS:PORT] [--tls-certificate FILE --tls-key FILE]\n"
		"\n"
		"Serves the hub over TAXII 2.1 (discovery at /taxii2/) until SIGTERM or Ctrl-C.\n"
		"Clients authenticate with HTTP Basic (a user name and an API key from\n"
		"`kyoyu key create` as the password) or `Authorization: Bearer KEY`.\n"
		"\n"
		"  --listen ADDRESS:PORT   where to listen (kyoyu.conf [server] listen; 127.0.0.1:6560)\n"
		"  --tls-certificate FILE  serve HTTPS with this PEM certificate ([server] tls_certificate)\n"
		"  --tls-key FILE          and this PEM private key ([server] tls_key)\n"
		"\n"
		"exit status: 0 stopped by a signal, 2 usage error, 1 other failure (no hub, the address\n"
		"is taken, a bad TLS file)\n");
}

int ky_cli_serve(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"listen", required_argument, NULL, 'l'},
		{"tls-certificate", required_argument, NULL, 'c'},
		{"tls-key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const ky_config *config = &global->config;
	ky_http_options http = {
		.listen = config->listen,
		.tls_certificate = config->tls_certificate[0] ? config->tls_certificate : NULL,
		.tls_key = config->tls_key[0] ? config->tls_key : NULL,
		.max_body = config->max_content_length,
		.max_connections = (unsigned)config->max_connections,
		.max_connections_per_address = (unsigned)config->max_connections_per_address,
		.header_timeout = (unsigned)config->header_timeout,
		.body_timeout = (unsigned)config->body_timeout,
		.idle_timeout = (unsigned)config->idle_timeout,
		.admit = ky_server_admit,
		.handle = ky_server_handle,
	};
	int c;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'l':
			http.listen = optarg;
			break;
		case 'c':
			http.tls_certificate = optarg;
			break;
		case 'k':
			http.tls_key = optarg;
			break;
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu serve: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kyoyu serve: takes no arguments\n");
		usage(stderr);
		return KY_EXIT_USAGE;
	}

	ky_store *store = NULL;
	if (ky_cli_hub_open(global, "serve", false, &store, NULL) != KY_OK)
		return KY_EXIT_FAILURE;
	/* The hub's definitions, for what changed while no server ran (a hub from before them,
	 * a member added then). */
	if (ky_policy_publish(store) != KY_OK) {
		ky_cli_hub_report(global, "serve");
		ky_store_close(store);
		return KY_EXIT_FAILURE;
	}
	/* A section naming a collection the hub does not have is a typo that would leave the
	 * real one with the default rule: refuse it before serving anything. */
	for (size_t i = 0; i < config->ncollections; i++) {
		ky_store_collection found = {0};
		int rc = ky_store_collection_find(store, config->collections[i].name, &found);
		bool same_name = rc == KY_OK && strcmp(found.name, config->collections[i].name) == 0;
		ky_store_collection_clear(&found);
		if (rc != KY_OK && rc != KY_ENOTFOUND) {
			ky_cli_hub_report(global, "serve");
			ky_store_close(store);
			return KY_EXIT_FAILURE;
		}
		if (!same_name) {
			fprintf(stderr, "kyoyu serve: %s: [collection %s] names a collection %s has not got (kyoyu collection list shows "
				"them; kyoyu collection create %s makes it)\n", global->config_path ? global->config_path : "kyoyu.conf",
				config->collections[i].name, global->db_label, config->collections[i].name);
			ky_store_close(store);
			return KY_EXIT_FAILURE;
		}
	}
	ky_store_close(store);

	/* Block the stop signals before any thread starts, so that only sigwait() sees them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	ky_server_options service_options = {.db = global->db_path, .config = config};
	ky_server *service = NULL;
	ky_http_server *server = NULL;
	int status = KY_EXIT_FAILURE;
	if (ky_server_new(&service, &service_options) != KY_OK) {
		char message[1024];
		fprintf(stderr, "kyoyu serve: %s: %s\n", global->config_path ? global->config_path : global->db_label,
			ky_cli_hub_message(global, message, sizeof(message)));
		goto cleanup;
	}
	http.ctx = service;
	raise_file_limit(http.max_connections);
	/* The port first: a server that cannot listen must not process anyone's requests. */
	if (ky_http_start(&server, &http) != KY_OK || ky_server_start(service) != KY_OK) {
		fprintf(stderr, "kyoyu serve: %s\n", ky_error_last());
		goto cleanup;
	}
	printf("kyoyu serves %s on %s://%s (port %u): discovery at /taxii2/, API root /%s/, native API /api/v1/\n",
	       global->db_label, http.tls_certificate ? "https" : "http", http.listen, ky_http_port(server), config->api_root);
	fflush(stdout);
	int sig = 0;
	sigwait(&stop, &sig);
	printf("kyoyu serve: %s received, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	status = KY_EXIT_OK;
cleanup:
	/* Requests in progress finish, then the processor stops after the request in hand. */
	ky_http_stop(server);
	ky_server_free(service);
	return status;
}
