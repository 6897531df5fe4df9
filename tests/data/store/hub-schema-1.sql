-- A hub at schema 1, built exactly as migration 0 in src/store/store_sqlite.c builds one
-- (its SQL copied statement for statement, then the version bump), with the default
-- collection and a few objects: two versions of an indicator, an SCO with neither modified
-- nor spec_version, and a marking definition with created only. test_store loads it into a
-- fresh file to check that ky_store_open refuses it and ky_store_migrate upgrades it to the
-- current schema (4: schema 2's `derived`, 3's users, keys and secrets, 4's date index) without
-- losing anything. Do not edit the schema part: it is what kyoyu 0.1 wrote, and
-- test_store checks that it still matches what migration 0 creates.

-- migration 0 -> 1 (kept byte for byte apart from line breaks)
CREATE TABLE kyoyu_schema (version INTEGER NOT NULL);
INSERT INTO kyoyu_schema (version) VALUES (0);
CREATE TABLE collections (
  id INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  description TEXT,
  created_us INTEGER NOT NULL);
CREATE TABLE versions (
  vid INTEGER PRIMARY KEY,
  stix_id TEXT NOT NULL,
  type TEXT NOT NULL,
  spec_version TEXT,
  modified TEXT NOT NULL,
  version_key TEXT NOT NULL,
  raw BLOB NOT NULL,
  added_us INTEGER NOT NULL,
  UNIQUE (stix_id, version_key));
CREATE INDEX versions_by_type ON versions (type, vid);
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections (id),
  vid INTEGER NOT NULL REFERENCES versions (vid),
  stix_id TEXT NOT NULL,
  type TEXT NOT NULL,
  version_key TEXT NOT NULL,
  date_added_us INTEGER NOT NULL,
  latest INTEGER NOT NULL,
  UNIQUE (collection_id, vid));
CREATE INDEX entries_by_collection ON entries (collection_id, seq);
CREATE INDEX entries_latest ON entries (collection_id, seq) WHERE latest = 1;
CREATE INDEX entries_by_object ON entries (collection_id, stix_id, version_key);
CREATE INDEX entries_by_type ON entries (collection_id, type, seq);
CREATE TABLE sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL,
  last_date_added_us INTEGER NOT NULL);
INSERT INTO sequence VALUES (1, 0, 0);
UPDATE kyoyu_schema SET version = 1;

-- the default collection, as kyoyu init made it
INSERT INTO collections (id, uuid, name, title, description, created_us) VALUES
  (1, '3b4e9c1a-6f0d-4c52-9a7e-2d8f1b6c0e54', 'default', 'Default collection',
   'Where objects go when no collection is named.', 1700000000000000);

-- four versions, stored as the bytes they arrived in (whitespace and key order included)
INSERT INTO versions (vid, stix_id, type, spec_version, modified, version_key, raw, added_us) VALUES
  (1, 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 'indicator', '2.1', '2016-04-06T20:03:48.000Z',
   '2016-04-06T20:03:48.000000000Z',
   CAST('{"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
  "created": "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
  "pattern": "[ipv4-addr:value = ''198.51.100.1'']", "pattern_type": "stix", "valid_from": "2016-04-06T20:03:48Z"}' AS BLOB),
   1700000001000000),
  (2, 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 'indicator', '2.1', '2017-01-01T00:00:00.5Z',
   '2017-01-01T00:00:00.500000000Z',
   CAST('{"modified":"2017-01-01T00:00:00.5Z","type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = ''198.51.100.2'']","pattern_type":"stix","valid_from":"2016-04-06T20:03:48Z"}' AS BLOB),
   1700000002000000),
  (3, 'ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd', 'ipv4-addr', NULL, '', '',
   CAST('{ "type" : "ipv4-addr", "id" : "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value" : "198.51.100.3" }' AS BLOB),
   1700000003000000),
  (4, 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da', 'marking-definition', '2.1',
   '2017-01-20T00:00:00.000Z', '2017-01-20T00:00:00.000000000Z',
   CAST('{"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": "TLP:GREEN", "definition": {"tlp": "green"}}' AS BLOB),
   1700000004000000);

-- their additions to the default collection: seq 1..4, the indicator's first version no
-- longer the latest
INSERT INTO entries (seq, collection_id, vid, stix_id, type, version_key, date_added_us, latest) VALUES
  (1, 1, 1, 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 'indicator', '2016-04-06T20:03:48.000000000Z', 1700000001000001, 0),
  (2, 1, 2, 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 'indicator', '2017-01-01T00:00:00.500000000Z', 1700000002000001, 1),
  (3, 1, 3, 'ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd', 'ipv4-addr', '', 1700000003000001, 1),
  (4, 1, 4, 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da', 'marking-definition', '2017-01-20T00:00:00.000000000Z', 1700000004000001, 1);
UPDATE sequence SET last_seq = 4, last_date_added_us = 1700000004000001 WHERE id = 1;
