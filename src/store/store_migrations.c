/*
 * store_migrations: the hub's schema, one list of migrations for every backend. Migration i
 * takes a hub from schema i to i + 1 (migration 0 creates it) in one transaction with the
 * version bump, so a hub is always at one version or the next. Each is written once, in SQL
 * that both dialects read, with a token where their types differ:
 *
 *   {ID}    a row id handed out by the database   INTEGER PRIMARY KEY | bigserial PRIMARY KEY
 *   {I32}   a small integer (flags, versions)     INTEGER             | integer
 *   {I64}   a number, a time in microseconds      INTEGER             | bigint
 *   {TEXT}  text for people (names, messages)     TEXT                | text
 *   {KEY}   text compared as bytes (ids, keys)    TEXT                | text COLLATE "C"
 *   {BLOB}  bytes (hashes, secrets, envelopes)    BLOB                | bytea
 *   {JSON}  the objects' bytes as received        BLOB                | text
 *   {NOROWID} after a table of keys only          WITHOUT ROWID       | (nothing)
 *
 * (PostgreSQL keeps the JSON as text, so the database must be UTF8; SQLite compares text as
 * bytes already.) A migration may add statements for one dialect only: PostgreSQL's
 * `commits`, which makes a batch safe to retry after a lost connection (store_pg.c). The
 * expansion of each migration is the text the backends ran before the list was shared, so
 * hubs made by earlier builds and new ones have the same schema, to the letter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"
#include "util/ky_error.h"

typedef struct migration {
	const char *sql;     /* both dialects */
	const char *pg_only; /* PostgreSQL's own, after sql; NULL: none */
} migration;

static const migration migrations[] = {
	/* 0 -> 1: the core. */
	{"CREATE TABLE kyoyu_schema (version {I32} NOT NULL);"
	 "INSERT INTO kyoyu_schema (version) VALUES (0);"
	 "CREATE TABLE collections ("
	 "  id {ID},"
	 "  uuid {TEXT} NOT NULL UNIQUE,"
	 "  name {TEXT} NOT NULL UNIQUE,"
	 "  title {TEXT} NOT NULL,"
	 "  description {TEXT},"
	 "  created_us {I64} NOT NULL);"
	 "CREATE TABLE versions ("
	 "  vid {ID},"
	 "  stix_id {KEY} NOT NULL,"
	 "  type {KEY} NOT NULL,"
	 "  spec_version {TEXT},"
	 "  modified {TEXT} NOT NULL,"
	 "  version_key {KEY} NOT NULL,"
	 "  raw {JSON} NOT NULL,"
	 "  added_us {I64} NOT NULL,"
	 "  UNIQUE (stix_id, version_key));"
	 "CREATE INDEX versions_by_type ON versions (type, vid);"
	 "CREATE TABLE entries ("
	 "  seq {I64} PRIMARY KEY,"
	 "  collection_id {I64} NOT NULL REFERENCES collections (id),"
	 "  vid {I64} NOT NULL REFERENCES versions (vid),"
	 "  stix_id {KEY} NOT NULL,"
	 "  type {KEY} NOT NULL,"
	 "  version_key {KEY} NOT NULL,"
	 "  date_added_us {I64} NOT NULL,"
	 "  latest {I32} NOT NULL,"
	 "  UNIQUE (collection_id, vid));"
	 "CREATE INDEX entries_by_collection ON entries (collection_id, seq);"
	 "CREATE INDEX entries_latest ON entries (collection_id, seq) WHERE latest = 1;"
	 "CREATE INDEX entries_by_object ON entries (collection_id, stix_id, version_key);"
	 "CREATE INDEX entries_by_type ON entries (collection_id, type, seq);"
	 "CREATE TABLE sequence (id {I32} PRIMARY KEY CHECK (id = 1), last_seq {I64} NOT NULL,"
	 "  last_date_added_us {I64} NOT NULL);"
	 "INSERT INTO sequence VALUES (1, 0, 0);",
	 /* A committed batch's outcome under its client-chosen token: 'S' stored or 'D'
	  * duplicate per object in order, the stored ones numbered from first_seq. */
	 "CREATE TABLE commits (token {TEXT} PRIMARY KEY, first_seq {I64} NOT NULL, outcome {TEXT} NOT NULL,"
	 "  committed_us {I64} NOT NULL);"},
	/* 1 -> 2: room for forms of a version fixed at write time (the recipients' form with
	 * the provider pseudonymised, ...), one row per version and form. */
	{"CREATE TABLE derived ("
	 "  vid {I64} NOT NULL REFERENCES versions (vid),"
	 "  form {TEXT} NOT NULL,"
	 "  bytes {JSON} NOT NULL,"
	 "  PRIMARY KEY (vid, form));",
	 NULL},
	/* 2 -> 3: users, their API keys (kept as keyed hashes: src/auth/) and server secrets.
	 * One owner at most: the first user (the partial unique index holds it whatever the
	 * writers do). A key's prefix and hash are unique, revoked keys' included, so that a
	 * prefix names one key for good. The secret is not made here: SQL has no portable
	 * source of strong randomness, so the first key made stores one (ky_store_secret). */
	{"CREATE TABLE users ("
	 "  id {ID},"
	 "  name {KEY} NOT NULL UNIQUE,"
	 "  owner {I32} NOT NULL DEFAULT 0,"
	 "  created_us {I64} NOT NULL);"
	 "CREATE UNIQUE INDEX users_one_owner ON users (owner) WHERE owner = 1;"
	 "CREATE TABLE api_keys ("
	 "  id {ID},"
	 "  user_id {I64} NOT NULL REFERENCES users (id),"
	 "  prefix {KEY} NOT NULL UNIQUE,"
	 "  hash {BLOB} NOT NULL UNIQUE,"
	 "  created_us {I64} NOT NULL,"
	 "  revoked_us {I64});"
	 "CREATE INDEX api_keys_by_user ON api_keys (user_id, id);"
	 "CREATE TABLE secrets ("
	 "  name {KEY} PRIMARY KEY,"
	 "  value {BLOB} NOT NULL,"
	 "  created_us {I64} NOT NULL);",
	 NULL},
	/* 3 -> 4: added_after (TAXII) is found by date: one probe of this index gives the
	 * number it stands for, whatever its depth in the collection. */
	{"CREATE INDEX entries_by_date_added ON entries (collection_id, date_added_us);"
	 /* Removals (TAXII 2.1 §5.7): a removed addition moves here whole, with when and by
	  * whom (NULL: the operator, not a user); its number is never handed out again. */
	 "CREATE TABLE removals ("
	 "  seq {I64} PRIMARY KEY,"
	 "  collection_id {I64} NOT NULL REFERENCES collections (id),"
	 "  vid {I64} NOT NULL REFERENCES versions (vid),"
	 "  stix_id {KEY} NOT NULL,"
	 "  type {KEY} NOT NULL,"
	 "  version_key {KEY} NOT NULL,"
	 "  date_added_us {I64} NOT NULL,"
	 "  removed_us {I64} NOT NULL,"
	 "  user_id {I64} REFERENCES users (id));"
	 "CREATE INDEX removals_by_collection ON removals (collection_id, removed_us, seq);"
	 /* Add Objects requests (§5.5) and their statuses (§4.3.1): the envelope is kept until
	  * the request is complete, so one a crash interrupted is processed again; a processor
	  * holds one until lease_until_us. */
	 "CREATE TABLE requests ("
	 "  id {KEY} PRIMARY KEY,"
	 "  collection_id {I64} NOT NULL REFERENCES collections (id),"
	 "  user_id {I64} REFERENCES users (id),"
	 "  received_us {I64} NOT NULL,"
	 "  complete {I32} NOT NULL DEFAULT 0,"
	 "  total {I64} NOT NULL,"
	 "  successes {I64} NOT NULL DEFAULT 0,"
	 "  failures {I64} NOT NULL DEFAULT 0,"
	 "  lease_until_us {I64} NOT NULL DEFAULT 0,"
	 "  envelope {BLOB});"
	 "CREATE INDEX requests_incomplete ON requests (received_us, id) WHERE complete = 0;"
	 "CREATE TABLE request_objects ("
	 "  request_id {KEY} NOT NULL REFERENCES requests (id),"
	 "  idx {I64} NOT NULL,"
	 "  stix_id {KEY},"
	 "  version {TEXT},"
	 "  success {I32} NOT NULL,"
	 "  message {TEXT},"
	 "  PRIMARY KEY (request_id, idx));",
	 NULL},
	/* 4 -> 5: a request's claims are numbered, and the number is the fencing token that its
	 * records and completion must still hold (store.h). */
	{"ALTER TABLE requests ADD COLUMN claims {I64} NOT NULL DEFAULT 0;", NULL},
	/* 5 -> 6: the council (store_council.h). Members and the hub's list of sectors, with the
	 * STIX industry-sector value each stands for in a member's identity; groups of members;
	 * users belong to a member with a role (the first-user owner gives way to the
	 * secretariat, which store_council.c creates after this migration, since SQL has no
	 * portable source of the random UUID its identity needs, and gives every user without a
	 * member to); versioned rules and who accepted which; and the record of every change,
	 * each under a random token so that a write retried after a lost connection can tell it
	 * committed already. */
	{"CREATE TABLE sectors (name {KEY} PRIMARY KEY, stix {TEXT} NOT NULL, title {TEXT} NOT NULL);"
	 "INSERT INTO sectors (name, stix, title) VALUES"
	 " ('government', 'government-national', 'Government'),"
	 " ('local-government', 'government-local', 'Local government'),"
	 " ('finance', 'financial-services', 'Finance'),"
	 " ('energy', 'energy', 'Energy'),"
	 " ('telecom', 'telecommunications', 'Telecommunications'),"
	 " ('transport', 'transportation', 'Transport'),"
	 " ('healthcare', 'healthcare', 'Healthcare'),"
	 " ('water', 'infrastructure-water', 'Water'),"
	 " ('chemicals', 'chemical', 'Chemicals'),"
	 " ('security-vendor', 'technology', 'Security vendor');"
	 "CREATE TABLE members ("
	 "  id {ID},"
	 "  name {KEY} NOT NULL UNIQUE,"
	 "  title {TEXT} NOT NULL,"
	 "  tier {KEY} NOT NULL CHECK (tier IN ('secretariat', 'contributor', 'general')),"
	 "  country {TEXT},"
	 "  contact {TEXT},"
	 "  status {KEY} NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),"
	 "  identity_id {KEY} NOT NULL UNIQUE,"
	 "  identity {JSON} NOT NULL,"
	 "  created_us {I64} NOT NULL);"
	 "CREATE TABLE member_sectors ("
	 "  member_id {I64} NOT NULL REFERENCES members (id),"
	 "  sector {KEY} NOT NULL REFERENCES sectors (name),"
	 "  PRIMARY KEY (member_id, sector));"
	 "CREATE TABLE groups ("
	 "  id {ID},"
	 "  name {KEY} NOT NULL UNIQUE,"
	 "  created_us {I64} NOT NULL);"
	 "CREATE TABLE group_members ("
	 "  group_id {I64} NOT NULL REFERENCES groups (id),"
	 "  member_id {I64} NOT NULL REFERENCES members (id),"
	 "  PRIMARY KEY (group_id, member_id));"
	 "CREATE INDEX group_members_by_member ON group_members (member_id, group_id);"
	 "DROP INDEX users_one_owner;"
	 "ALTER TABLE users DROP COLUMN owner;"
	 "ALTER TABLE users ADD COLUMN member_id {I64} REFERENCES members (id);"
	 "ALTER TABLE users ADD COLUMN role {KEY} NOT NULL DEFAULT 'admin' CHECK (role IN ('reader', 'analyst', 'admin'));"
	 "ALTER TABLE users ADD COLUMN disabled_us {I64};"
	 "CREATE INDEX users_by_member ON users (member_id, name);"
	 "CREATE TABLE rules (version {I64} PRIMARY KEY, text {TEXT} NOT NULL, set_us {I64} NOT NULL);"
	 "CREATE TABLE rule_acceptances ("
	 "  user_id {I64} NOT NULL REFERENCES users (id),"
	 "  version {I64} NOT NULL REFERENCES rules (version),"
	 "  accepted_us {I64} NOT NULL,"
	 "  PRIMARY KEY (user_id, version));"
	 "CREATE TABLE changes ("
	 "  id {ID},"
	 "  token {KEY} NOT NULL UNIQUE,"
	 "  at_us {I64} NOT NULL,"
	 "  actor_user_id {I64} REFERENCES users (id),"
	 "  actor_member_id {I64} REFERENCES members (id),"
	 "  via {TEXT} NOT NULL,"
	 "  action {KEY} NOT NULL,"
	 "  subject {TEXT} NOT NULL,"
	 "  detail {TEXT},"
	 "  reason {TEXT} NOT NULL);",
	 NULL},
	/* 6 -> 7: confidentiality (docs/policy.md). Each version keeps its provider (the member
	 * that submitted it; an older hub's versions are the secretariat's, given by
	 * store_council.c after the migrations) and its effective TLP, and the audience keys that
	 * may read it (version_access): the policy module computes them when the version arrives,
	 * a viewer's keys when it looks. entry_access repeats a version's keys for each of its
	 * additions, ordered as a collection's pages are, so that a viewer's page is read from
	 * one index range per key however little of the collection it may see. An older hub's
	 * versions have no keys until `kyoyu migrate` computes them: until then only the
	 * secretariat reads them (fail closed). */
	{"ALTER TABLE versions ADD COLUMN provider_id {I64} REFERENCES members (id);"
	 "ALTER TABLE versions ADD COLUMN tlp {I32};"
	 "CREATE TABLE version_access ("
	 "  vid {I64} NOT NULL REFERENCES versions (vid),"
	 "  key {KEY} NOT NULL,"
	 "  PRIMARY KEY (vid, key)){NOROWID};"
	 "CREATE TABLE entry_access ("
	 "  collection_id {I64} NOT NULL,"
	 "  key {KEY} NOT NULL,"
	 "  seq {I64} NOT NULL,"
	 "  PRIMARY KEY (collection_id, key, seq)){NOROWID};",
	 NULL},
	/* 7 -> 8: granular markings (docs/policy.md). A version's parts that some of its readers
	 * may not read, with their keys (versions.parts, JSON), which reads remove for a viewer
	 * holding none; and the keys that join several (a version whose required part is marked
	 * for fewer readers than the whole), each held by a viewer that holds every one it joins:
	 * access_conjunctions lists those the hub's versions use, so that building a viewer
	 * needs no search of every version's keys. */
	{"ALTER TABLE versions ADD COLUMN parts {TEXT};"
	 "CREATE TABLE access_conjunctions (key {KEY} PRIMARY KEY){NOROWID};",
	 NULL},
	/* 8 -> 9: a viewer's page read from its access rows alone. An addition's access rows
	 * repeat what a filtered page needs of the addition (its `latest` mark, its version and
	 * its date), so that the page walks each key's range and reads each version once, where
	 * a descent into entries per row made a filtered page cost several unfiltered ones
	 * (bench/README.md). The mark moves with the addition's (store_statements.h). */
	{"CREATE TABLE entry_access_9 ("
	 "  collection_id {I64} NOT NULL,"
	 "  key {KEY} NOT NULL,"
	 "  seq {I64} NOT NULL,"
	 "  latest {I32} NOT NULL,"
	 "  vid {I64} NOT NULL,"
	 "  date_added_us {I64} NOT NULL,"
	 "  PRIMARY KEY (collection_id, key, seq)){NOROWID};"
	 "INSERT INTO entry_access_9 (collection_id, key, seq, latest, vid, date_added_us)"
	 "  SELECT a.collection_id, a.key, a.seq, e.latest, e.vid, e.date_added_us"
	 "  FROM entry_access a JOIN entries e ON e.seq = a.seq;"
	 "DROP TABLE entry_access;"
	 "ALTER TABLE entry_access_9 RENAME TO entry_access;",
	 NULL},
	/* 9 -> 10: provider anonymity (docs/policy.md, "Pseudonyms"). The form of a version that
	 * members other than its provider read, with every reference to a member's identity
	 * replaced by its pseudonym, computed once when the version arrives (NULL: the same as
	 * what was submitted), so that reads still copy stored bytes. */
	{"ALTER TABLE versions ADD COLUMN shared {JSON};",
	 NULL},
	/* 10 -> 11: the audit log (store_audit.h, docs/audit.md). One hash chain for the hub:
	 * the entries, numbered without gaps from 1, each with its hash; audit_head, the chain's
	 * last number and hash, which every appender takes for update so that the chain has one
	 * order however many processes write; the entries by bucket of the versions they read or
	 * changed (store_audit.h), for "who has seen this object"; and the signed checkpoints. */
	{"CREATE TABLE audit ("
	 "  seq {I64} PRIMARY KEY,"
	 "  at_us {I64} NOT NULL,"
	 "  user_id {I64},"
	 "  member_id {I64},"
	 "  via {TEXT} NOT NULL,"
	 "  origin {TEXT},"
	 "  action {KEY} NOT NULL,"
	 "  subject {TEXT},"
	 "  detail {TEXT},"
	 "  versions {TEXT},"
	 "  hash {TEXT} NOT NULL);"
	 "CREATE INDEX audit_by_member ON audit (member_id, seq);"
	 "CREATE INDEX audit_by_user ON audit (user_id, seq);"
	 "CREATE INDEX audit_by_time ON audit (at_us);"
	 "CREATE TABLE audit_buckets ("
	 "  bucket {I64} NOT NULL,"
	 "  seq {I64} NOT NULL,"
	 "  PRIMARY KEY (bucket, seq)){NOROWID};"
	 "CREATE TABLE audit_head (id {I32} PRIMARY KEY CHECK (id = 1), seq {I64} NOT NULL, hash {TEXT});"
	 "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, NULL);"
	 "CREATE TABLE audit_checkpoints ("
	 "  seq {I64} PRIMARY KEY,"
	 "  at_us {I64} NOT NULL,"
	 "  hash {TEXT} NOT NULL,"
	 "  public_key {TEXT} NOT NULL,"
	 "  signature {TEXT} NOT NULL);",
	 NULL},
	/* 11 -> 12: the council workflow (store_reports.h, docs/council.md). Reports with their
	 * state, provider, confidence and the rule proposing them; the objects whose state each
	 * covers (an object is in one report); the feedback versions on each, with their giver,
	 * whether it chose to be named, and its opinion, which the confidence is computed from; the secretariat's promotion rules;
	 * and every member's notifications. The two collections are made after the migrations
	 * (store_reports.c), as their ids are random. */
	{"CREATE TABLE reports ("
	 "  id {KEY} PRIMARY KEY,"
	 "  provider_id {I64} NOT NULL REFERENCES members (id),"
	 "  state {KEY} NOT NULL CHECK (state IN ('unconfirmed', 'countermeasure', 'refuted', 'withdrawn', 'revoked')),"
	 "  prior {I32} NOT NULL,"
	 "  confidence {I32} NOT NULL,"
	 "  agree {I32} NOT NULL,"
	 "  disagree {I32} NOT NULL,"
	 "  rule_id {I64},"
	 "  course_of_action {KEY},"
	 "  root_vid {I64} NOT NULL,"
	 "  created_us {I64} NOT NULL,"
	 "  changed_us {I64} NOT NULL);"
	 "CREATE INDEX reports_by_state ON reports (state, id);"
	 "CREATE INDEX reports_by_provider ON reports (provider_id, id);"
	 "CREATE TABLE report_objects ("
	 "  stix_id {KEY} PRIMARY KEY,"
	 "  report_id {KEY} NOT NULL);"
	 "CREATE INDEX report_objects_by_report ON report_objects (report_id, stix_id);"
	 "CREATE TABLE feedback ("
	 "  vid {I64} PRIMARY KEY,"
	 "  report_id {KEY} NOT NULL,"
	 "  member_id {I64} NOT NULL,"
	 "  type {KEY} NOT NULL,"
	 "  stix_id {KEY} NOT NULL,"
	 "  opinion {I32},"
	 "  named {I32} NOT NULL,"
	 "  at_us {I64} NOT NULL);"
	 "CREATE INDEX feedback_by_report ON feedback (report_id, vid);"
	 "CREATE TABLE promotion_rules ("
	 "  id {ID},"
	 "  name {KEY} NOT NULL UNIQUE,"
	 "  min_agree {I32} NOT NULL,"
	 "  max_disagree {I32} NOT NULL,"
	 "  min_confidence {I32} NOT NULL,"
	 "  promotes {I32} NOT NULL,"
	 "  created_us {I64} NOT NULL);"
	 "CREATE TABLE notifications ("
	 "  id {ID},"
	 "  member_id {I64} NOT NULL,"
	 "  at_us {I64} NOT NULL,"
	 "  kind {KEY} NOT NULL,"
	 "  report_id {KEY} NOT NULL,"
	 "  detail {TEXT} NOT NULL);"
	 "CREATE INDEX notifications_by_member ON notifications (member_id, id);",
	 NULL},
	/* 12 -> 13: give-and-take (store_ledger.h, docs/council.md). The ledger is counted from
	 * the workflow's tables when it is asked for; only the secretariat's settings of it (the
	 * weights, the window, the grace period, the threshold) are kept, those it changed; and
	 * when each report entered its state (changed_us moves with every feedback), which a
	 * hub from before has as its last change. The members' index serves the confirmations.
	 * And the secretariat's requests for information (store_rfi.h): each addressee's answer,
	 * open until it answers. */
	{"CREATE TABLE contribution_settings ("
	 "  name {KEY} PRIMARY KEY,"
	 "  value {I64} NOT NULL){NOROWID};"
	 "ALTER TABLE reports ADD COLUMN state_us {I64} NOT NULL DEFAULT 0;"
	 "UPDATE reports SET state_us = changed_us;"
	 "CREATE TABLE rfis ("
	 "  id {ID},"
	 "  subject {KEY} NOT NULL,"
	 "  question {TEXT} NOT NULL,"
	 "  asked_us {I64} NOT NULL,"
	 "  closed_us {I64});"
	 "CREATE TABLE rfi_addressees ("
	 "  rfi_id {I64} NOT NULL REFERENCES rfis (id),"
	 "  member_id {I64} NOT NULL REFERENCES members (id),"
	 "  state {KEY} NOT NULL CHECK (state IN ('open', 'answered', 'nothing-seen', 'declined')),"
	 "  reason {TEXT},"
	 "  objects {TEXT},"
	 "  answered_us {I64},"
	 "  PRIMARY KEY (rfi_id, member_id)){NOROWID};"
	 "CREATE INDEX rfi_addressees_by_member ON rfi_addressees (member_id, rfi_id);"
	 "CREATE INDEX feedback_by_member ON feedback (member_id, report_id);",
	 NULL},
	/* 13 -> 14: confidential consultations (store_consult.h, docs/council.md). A thread's
	 * parties besides the secretariat, and the audience keys the policy gives it, by which a
	 * viewer's scope finds the threads it is a party of (one index probe per key); its
	 * messages, with the STIX objects they attach, which no other table holds. */
	{"CREATE TABLE consultations ("
	 "  id {ID},"
	 "  subject {TEXT} NOT NULL,"
	 "  opener_id {I64} NOT NULL REFERENCES members (id),"
	 "  named {I32} NOT NULL,"
	 "  tlp {KEY} NOT NULL,"
	 "  opened_us {I64} NOT NULL,"
	 "  closed_us {I64});"
	 "CREATE TABLE consultation_parties ("
	 "  consultation_id {I64} NOT NULL REFERENCES consultations (id),"
	 "  member_id {I64} NOT NULL REFERENCES members (id),"
	 "  PRIMARY KEY (consultation_id, member_id)){NOROWID};"
	 "CREATE TABLE consultation_keys ("
	 "  key {KEY} NOT NULL,"
	 "  consultation_id {I64} NOT NULL REFERENCES consultations (id),"
	 "  PRIMARY KEY (key, consultation_id)){NOROWID};"
	 "CREATE TABLE consultation_messages ("
	 "  consultation_id {I64} NOT NULL REFERENCES consultations (id),"
	 "  n {I64} NOT NULL,"
	 "  member_id {I64} NOT NULL REFERENCES members (id),"
	 "  body {TEXT} NOT NULL,"
	 "  objects {TEXT},"
	 "  posted_us {I64} NOT NULL,"
	 "  PRIMARY KEY (consultation_id, n)){NOROWID};",
	 NULL},
	/* 14 -> 15: the live stream's events besides additions (store_events.h), numbered by the
	 * additions' counter; kept for the stream's retention window, by date. */
	{"CREATE TABLE events ("
	 "  seq {I64} PRIMARY KEY,"
	 "  kind {KEY} NOT NULL,"
	 "  collection_id {I64},"
	 "  vid {I64},"
	 "  member_id {I64},"
	 "  stix_id {KEY},"
	 "  detail {TEXT},"
	 "  added_us {I64} NOT NULL);"
	 "CREATE INDEX events_by_date ON events (added_us);",
	 NULL},
	/* 15 -> 16: webhooks (store_webhooks.h): members' endpoints, the queue of deliveries
	 * with the bodies they share, and the one cursor of the events already queued. */
	{"CREATE TABLE webhooks ("
	 "  id {ID},"
	 "  uuid {KEY} NOT NULL UNIQUE,"
	 "  member_id {I64} NOT NULL REFERENCES members (id),"
	 "  url {TEXT} NOT NULL,"
	 "  own {I32} NOT NULL,"
	 "  filter {TEXT} NOT NULL,"
	 "  sealed {TEXT},"
	 "  from_seq {I64} NOT NULL,"
	 "  created_us {I64} NOT NULL,"
	 "  removed_us {I64},"
	 "  blocked_until_us {I64} NOT NULL DEFAULT 0);"
	 "CREATE TABLE webhook_bodies ("
	 "  id {ID},"
	 "  body {JSON} NOT NULL);"
	 "CREATE TABLE webhook_deliveries ("
	 "  id {ID},"
	 "  webhook_id {I64} NOT NULL REFERENCES webhooks (id),"
	 "  seq {I64} NOT NULL,"
	 "  kind {KEY} NOT NULL,"
	 "  body_id {I64} NOT NULL REFERENCES webhook_bodies (id),"
	 "  state {I32} NOT NULL DEFAULT 0,"
	 "  attempts {I32} NOT NULL DEFAULT 0,"
	 "  created_us {I64} NOT NULL,"
	 "  next_us {I64} NOT NULL,"
	 "  lease_until_us {I64} NOT NULL DEFAULT 0,"
	 "  last_status {I32},"
	 "  last_error {TEXT},"
	 "  done_us {I64},"
	 "  UNIQUE (webhook_id, seq));"
	 "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_us);"
	 "CREATE TABLE webhook_cursor (id {I32} PRIMARY KEY, seq {I64} NOT NULL);"
	 "INSERT INTO webhook_cursor (id, seq) SELECT 1, last_seq FROM sequence WHERE id = 1;",
	 NULL},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == KY_STORE_SCHEMA_VERSION,
	       "one migration per schema version");

/* The tokens and what they stand for: [0] SQLite, [1] PostgreSQL. */
static const struct {
	const char *token;
	const char *as[2];
} types[] = {
	{"{ID}", {"INTEGER PRIMARY KEY", "bigserial PRIMARY KEY"}},
	{"{I32}", {"INTEGER", "integer"}},
	{"{I64}", {"INTEGER", "bigint"}},
	{"{TEXT}", {"TEXT", "text"}},
	{"{KEY}", {"TEXT", "text COLLATE \"C\""}},
	{"{BLOB}", {"BLOB", "bytea"}},
	{"{JSON}", {"BLOB", "text"}},
	{"{NOROWID}", {" WITHOUT ROWID", ""}},
};

/* Appends `sql` expanded for dialect d to out (NULL: only counts); returns its length. */
static size_t expand(const char *sql, int d, char *out)
{
	size_t len = 0;
	while (*sql) {
		size_t t = 0, n = sizeof(types) / sizeof(types[0]);
		if (*sql == '{')
			while (t < n && strncmp(sql, types[t].token, strlen(types[t].token)) != 0)
				t++;
		if (*sql != '{' || t == n) {
			if (out)
				out[len] = *sql;
			len++;
			sql++;
			continue;
		}
		size_t k = strlen(types[t].as[d]);
		if (out)
			memcpy(out + len, types[t].as[d], k);
		len += k;
		sql += strlen(types[t].token);
	}
	return len;
}

int ky_store_migration_sql(int v, char mark, char **out)
{
	*out = NULL;
	if (v < 0 || v >= KY_STORE_SCHEMA_VERSION)
		return ky_error_set(KY_EINVALID, "no migration from schema %d (this build knows 0 to %d)", v,
				    KY_STORE_SCHEMA_VERSION - 1);
	int d = mark == '$';
	const migration *m = &migrations[v];
	const char *extra = d && m->pg_only ? m->pg_only : "";
	char bump[64];
	snprintf(bump, sizeof(bump), "UPDATE kyoyu_schema SET version = %d;", v + 1);
	size_t a = expand(m->sql, d, NULL), b = expand(extra, d, NULL), c = strlen(bump);
	char *text = malloc(a + b + c + 1);
	if (text == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	expand(m->sql, d, text);
	expand(extra, d, text + a);
	memcpy(text + a + b, bump, c + 1);
	*out = text;
	return KY_OK;
}
