/*
 * gen_indicators: writes a STIX 2.1 bundle of N indicators to stdout, the input of the
 * validation, ingest and serving benchmarks (bench/run-validate, run-ingest, run-serve).
 *
 *     gen_indicators [-s SEED] [-i ipsum.txt] [-a M:MARKING ...] [-o MARKING] N > bundle.json
 *
 * The indicators look like what a blocklist feed publishes: random v4 UUIDs, created and
 * modified with milliseconds, a name and description, an `[ipv4-addr:value = '…']` pattern,
 * valid_from (and valid_until on some), indicator_types, labels, confidence, created_by_ref,
 * a TLP marking (STIX 2.1 §7.2.1.4, and TLP 2.0's AMBER+STRICT) and an external reference. With -i the addresses come
 * from an IPsum list (https://github.com/stamparm/ipsum: "IP<TAB>count" lines, '#' comments),
 * drawn at random, and the count sets the confidence; otherwise they are synthetic public
 * addresses. The same seed and list always give the same bytes. Every object is valid STIX
 * 2.1, so the benchmark measures the valid path, which is the common one.
 *
 * Audiences (the filtered viewers of bench/run-serve): `-a M:MARKING` (up to 8 of them) adds
 * the marking-definition id MARKING to the object_marking_refs of every object whose index i
 * (0, 1, 2, ... in bundle order) has i % M == 0, and `-o MARKING` adds MARKING to every object
 * that got none of them. run-serve gives its hub's audience markings (GET /api/v1/audiences):
 *
 *     -a 2:SECTOR-ENERGY -a 20:SECTOR-WATER -a 1000:SECTOR-FINANCE -o MEMBER-NOBODY
 *
 * so that a member of sector energy reads 50% of the collection, water 5%, finance 0.1%, and
 * the community nothing. The markings depend on the index alone and draw no random numbers:
 * with and without them, the same seed gives the same objects otherwise.
 *
 * One object per line, compact within the line: the layout of large machine-made feeds,
 * and the one with the most content per byte.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct address {
	char text[16]; /* dotted IPv4 */
	int lists;     /* on how many blocklists IPsum found it */
} address;

/* SplitMix64: tiny, fast, and the same sequence on every platform. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *state, uint64_t n)
{
	return next_random(state) % n;
}

/* An RFC 4122 version 4 UUID, as STIX 2.1 §2.9 recommends for SDO identifiers. */
static void make_uuid(char out[37], uint64_t *state)
{
	uint64_t hi = next_random(state), lo = next_random(state);
	hi = (hi & ~(uint64_t)0xF000) | 0x4000;                          /* version 4 */
	lo = (lo & ~((uint64_t)0xC << 60)) | ((uint64_t)0x8 << 60);       /* variant 10 */
	snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64, hi >> 32,
		 (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFu);
}

/* STIX 2.1 §2.16 timestamp, millisecond precision, from milliseconds since the epoch. */
static void make_time(char out[32], int64_t millis)
{
	time_t seconds = (time_t)(millis / 1000);
	struct tm tm;
	char base[24];
	gmtime_r(&seconds, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", base, (int)(millis % 1000));
}

static bool is_ipv4(const char *s)
{
	int parts = 0, digits = 0, value = 0;
	for (;; s++) {
		if (*s >= '0' && *s <= '9') {
			value = value * 10 + (*s - '0');
			if (++digits > 3 || value > 255)
				return false;
		} else if ((*s == '.' || *s == '\0') && digits > 0) {
			parts++;
			if (*s == '\0')
				return parts == 4;
			digits = value = 0;
		} else {
			return false;
		}
	}
}

/* Loads the addresses of an IPsum list into *out; returns how many, or -1. */
static long load_ipsum(address **out, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	address *list = NULL;
	long n = 0, cap = 0;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char ip[64];
		int lists;
		if (line[0] == '#' || sscanf(line, "%63s %d", ip, &lists) != 2 || !is_ipv4(ip))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			address *grown = realloc(list, (size_t)cap * sizeof(*list));
			if (grown == NULL) {
				fprintf(stderr, "gen_indicators: out of memory\n");
				free(list);
				fclose(f);
				return -1;
			}
			list = grown;
		}
		memcpy(list[n].text, ip, strlen(ip) + 1); /* is_ipv4: at most 15 characters */
		list[n].lists = lists;
		n++;
	}
	fclose(f);
	*out = list;
	return n;
}

/* A synthetic address outside the private, loopback, multicast and reserved ranges. */
static void synthetic_address(address *a, uint64_t *state)
{
	unsigned first;
	do
		first = 1 + (unsigned)below(state, 223);
	while (first == 10 || first == 127 || first == 100 || first == 169 || first == 172 || first == 192);
	snprintf(a->text, sizeof(a->text), "%u.%u.%u.%u", first, (unsigned)below(state, 256),
		 (unsigned)below(state, 256), 1 + (unsigned)below(state, 254));
	a->lists = 1 + (int)below(state, 8);
}

static const char *const tlp[] = {
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", /* TLP:WHITE */
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", /* TLP:GREEN */
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", /* TLP:AMBER */
	/* Not RED: a hub takes TLP:RED only with a member audience of its own, which a feed
	 * made without the hub cannot name. */
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", /* TLP:AMBER+STRICT (2.0) */
};

static const char *const roles[] = {"Malicious IP", "Scanning host", "Brute-force source", "Botnet C2 server",
				    "Spam source"};

static int usage(void)
{
	fprintf(stderr, "usage: gen_indicators [-s SEED] [-i ipsum.txt] [-a M:MARKING ...] [-o MARKING] N > bundle.json\n");
	return 2;
}

#define AUDIENCES_MAX 8
#define MARKING_LEN 56 /* "marking-definition--" and a UUID */

/* An audience marking given with -a: objects whose index is a multiple of every carry it. */
typedef struct audience {
	unsigned long long every;
	const char *marking;
} audience;

/* Whether s is a marking-definition id: the prefix, then a UUID's 36 characters. */
static bool is_marking(const char *s)
{
	static const char prefix[] = "marking-definition--";
	if (strlen(s) != MARKING_LEN || strncmp(s, prefix, sizeof(prefix) - 1) != 0)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = s[sizeof(prefix) - 1 + i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* Parses -a's "M:MARKING" into *out; false, with a message, when it is not one. */
static bool parse_audience(const char *arg, audience *out)
{
	char *end;
	unsigned long long every = strtoull(arg, &end, 10);
	if (end == arg || *end != ':' || every == 0 || !is_marking(end + 1)) {
		fprintf(stderr, "gen_indicators: -a %s: expected M:MARKING, M a positive whole number and MARKING a "
				"marking-definition id\n", arg);
		return false;
	}
	*out = (audience){every, end + 1};
	return true;
}

int main(int argc, char **argv)
{
	uint64_t state = 1;
	const char *ipsum = NULL;
	address *list = NULL;
	long listed = 0;
	int opt, rc = 1;
	audience audiences[AUDIENCES_MAX];
	size_t naudiences = 0;
	const char *otherwise = NULL;

	while ((opt = getopt(argc, argv, "s:i:a:o:")) != -1) {
		if (opt == 's') {
			state = strtoull(optarg, NULL, 10);
		} else if (opt == 'i') {
			ipsum = optarg;
		} else if (opt == 'a') {
			if (naudiences == AUDIENCES_MAX) {
				fprintf(stderr, "gen_indicators: at most %d -a options\n", AUDIENCES_MAX);
				return 2;
			}
			if (!parse_audience(optarg, &audiences[naudiences++]))
				return 2;
		} else if (opt == 'o') {
			if (!is_marking(optarg)) {
				fprintf(stderr, "gen_indicators: -o %s: expected a marking-definition id\n", optarg);
				return 2;
			}
			otherwise = optarg;
		} else {
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	char *end;
	unsigned long long n = strtoull(argv[optind], &end, 10);
	if (*end != '\0' || argv[optind][0] == '\0')
		return usage();
	if (ipsum != NULL && (listed = load_ipsum(&list, ipsum)) <= 0) {
		fprintf(stderr, "gen_indicators: no addresses in %s\n", ipsum);
		goto done;
	}

	static char out_buf[1 << 20];
	setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));

	char bundle_id[37], producer[37];
	make_uuid(bundle_id, &state);
	make_uuid(producer, &state);
	printf("{\"type\":\"bundle\",\"id\":\"bundle--%s\",\"objects\":[\n", bundle_id);

	const int64_t first_day = INT64_C(1672531200000); /* 2023-01-01T00:00:00Z: two years of history */
	const int64_t day = 86400 * 1000;
	for (unsigned long long i = 0; i < n; i++) {
		char id[37], created[32], modified[32], valid_until[32], seen[32];
		address synthetic;
		const address *a;
		if (list != NULL) {
			a = &list[below(&state, (uint64_t)listed)];
		} else {
			synthetic_address(&synthetic, &state);
			a = &synthetic;
		}
		make_uuid(id, &state);
		int64_t t0 = first_day + (int64_t)below(&state, 2 * 365 * day);
		make_time(created, t0);
		make_time(modified, t0 + (int64_t)below(&state, 30 * day));
		make_time(seen, t0 - t0 % 1000 - day);
		const char *role = roles[below(&state, sizeof(roles) / sizeof(roles[0]))];
		const char *marking = tlp[below(&state, 10) < 6 ? 1 : below(&state, 4)];
		int confidence = a->lists * 10 > 100 ? 100 : a->lists * 10;

		printf("%s{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--%s\","
		       "\"created_by_ref\":\"identity--%s\",\"created\":\"%s\",\"modified\":\"%s\","
		       "\"name\":\"%s %s\",\"description\":\"%s is on %d public blocklist%s; first listed "
		       "%s.\",\"indicator_types\":[\"malicious-activity\"],"
		       "\"pattern\":\"[ipv4-addr:value = '%s']\",\"pattern_type\":\"stix\",\"valid_from\":\"%s\",",
		       i ? ",\n" : "", id, producer, created, modified, role, a->text, a->text, a->lists,
		       a->lists == 1 ? "" : "s", seen, a->text, created);
		if (below(&state, 2) == 0) {
			make_time(valid_until, t0 - t0 % 1000 + 90 * day);
			printf("\"valid_until\":\"%s\",", valid_until);
		}
		printf("\"labels\":[\"blocklist\",\"ipsum-level-%d\"],\"confidence\":%d,\"object_marking_refs\":[\"%s\"",
		       a->lists, confidence, marking);
		bool addressed = false;
		for (size_t k = 0; k < naudiences; k++) {
			if (i % audiences[k].every == 0) {
				printf(",\"%s\"", audiences[k].marking);
				addressed = true;
			}
		}
		if (!addressed && otherwise != NULL)
			printf(",\"%s\"", otherwise);
		printf("],\"external_references\":[{\"source_name\":\"ipsum\",\"url\":\"https://github.com/stamparm/ipsum\","
		       "\"description\":\"IPsum threat intelligence feed\"}]}");
	}
	printf("\n]}\n");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("gen_indicators: stdout");
		goto done;
	}
	rc = 0;
done:
	free(list);
	return rc;
}
