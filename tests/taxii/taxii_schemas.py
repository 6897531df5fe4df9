#!/usr/bin/python3
"""JSON Schema checks for the TAXII 2.1 resources a server returns.

The schemas live in schemas/ next to this file and were written from the
standard's text (taxii-v2.1.md) only; each cites its section.

    import taxii_schemas
    taxii_schemas.validate("discovery.json", document)   # AssertionError if bad
    taxii_schemas.names()                                 # ["api-root.json", ...]

Needs python3-jsonschema (Debian 12: 4.10, draft 2020-12).  Timestamps are
checked with regex patterns, not with "format", so no format checker is used.
"""

import json
import os
import sys

import jsonschema
from jsonschema import Draft202012Validator

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")

_schemas = None     # name -> schema document
_validators = None  # name -> Draft202012Validator


def _load():
    global _schemas, _validators
    if _validators is not None:
        return
    schemas = {}
    for fname in sorted(os.listdir(SCHEMA_DIR)):
        if not fname.endswith(".json"):
            continue
        with open(os.path.join(SCHEMA_DIR, fname), encoding="utf-8") as f:
            schema = json.load(f)
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise AssertionError("%s: invalid schema: %s" % (fname, e.message))
        schemas[fname] = schema

    # Cross-file "$ref"s (collections.json -> collection.json) are resolved by
    # "$id" against the other loaded schemas, never over the network.
    validators = {}
    try:
        from referencing import Registry, Resource  # jsonschema >= 4.18
        registry = Registry().with_resources(
            (s["$id"], Resource.from_contents(s)) for s in schemas.values())
        for fname, s in schemas.items():
            validators[fname] = Draft202012Validator(s, registry=registry)
    except ImportError:                              # Debian 12: jsonschema 4.10
        store = {s["$id"]: s for s in schemas.values()}
        for fname, s in schemas.items():
            resolver = jsonschema.RefResolver(s["$id"], s, store=store)
            validators[fname] = Draft202012Validator(s, resolver=resolver)
    _schemas, _validators = schemas, validators


def names():
    """The schema names (file names in schemas/), sorted."""
    _load()
    return sorted(_schemas)


def _path(parts):
    if not parts:
        return "(document)"
    out = ""
    for p in parts:
        out += "[%d]" % p if isinstance(p, int) else ("." if out else "") + repr(p)
    return out


def _extra_checks(name, document):
    """Rules the standard states that JSON Schema cannot express."""
    problems = []
    if name == "discovery.json" and isinstance(document, dict):
        # §4.1.1: "The default API Root MUST be an item in api_roots."
        roots = document.get("api_roots")
        if "default" in document and isinstance(roots, list) \
                and document["default"] not in roots:
            problems.append("'default': %r is not an item in 'api_roots' "
                            "(TAXII 2.1 §4.1.1)" % (document["default"],))
    return problems


def validate(name, document):
    """Raise AssertionError unless `document` conforms to schema `name`.

    `name` is a schema file name ("discovery.json"); the ".json" may be left
    off.  The message lists every problem, one per line, as
    "<name>: <path>: <error>".
    """
    _load()
    if not name.endswith(".json"):
        name += ".json"
    if name not in _validators:
        raise KeyError("no TAXII schema %r (have: %s)" % (name, ", ".join(names())))
    errors = sorted(_validators[name].iter_errors(document),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    lines = ["%s: %s: %s" % (name, _path(list(e.absolute_path)), e.message)
             for e in errors]
    lines += ["%s: %s" % (name, p) for p in _extra_checks(name, document)]
    if lines:
        raise AssertionError("\n".join(lines))


# ---------------------------------------------------------------------------
# Self-test: the standard's own examples must pass; broken variants must fail.

def _selftest():
    import copy

    # Examples copied from taxii-v2.1.md (where the text elides with "...",
    # the elision is dropped).
    discovery_4_1 = {
        "title": "Some TAXII Server",
        "description": "This TAXII Server contains a listing of...",
        "contact": "string containing contact information",
        "default": "https://example.com/api2/",
        "api_roots": [
            "https://example.com/api1/",
            "https://example.com/api2/",
            "https://example.net/trustgroup1/"
        ]
    }
    api_root_4_2 = {
        "title": "Malware Research Group",
        "description": "A trust group setup for malware researchers",
        "versions": ["application/taxii+json;version=2.1"],
        "max_content_length": 104857600
    }
    status_4_3 = {
        "id": "2d086da7-4bdc-4f91-900e-d77486753710",
        "status": "pending",
        "request_timestamp": "2016-11-02T12:34:34.12345Z",
        "total_count": 4,
        "success_count": 1,
        "successes": [
            {
                "id": "indicator--c410e480-e42b-47d1-9476-85307c12bcbf",
                "version": "2018-05-27T12:02:41.312Z"
            }
        ],
        "failure_count": 1,
        "failures": [
            {
                "id": "malware--664fa29d-bf65-4f28-a667-bdb76f29ec98",
                "version": "2018-05-28T14:03:42.543Z",
                "message": "Unable to process object"
            }
        ],
        "pending_count": 2,
        "pendings": [
            {
                "id": "indicator--252c7c11-daf2-42bd-843b-be65edca9f61",
                "version": "2018-05-18T20:16:21.148Z"
            },
            {
                "id": "relationship--045585ad-a22f-4333-af33-bfd503a683b5",
                "version": "2018-05-15T10:13:32.579Z"
            }
        ]
    }
    status_5_5 = {
        "id": "2d086da7-4bdc-4f91-900e-d77486753710",
        "status": "pending",
        "request_timestamp": "2016-11-02T12:34:34.12345Z",
        "total_count": 4,
        "success_count": 1,
        "successes": [
            {
                "id": "indicator--c410e480-e42b-47d1-9476-85307c12bcbf"
            }
        ],
        "failure_count": 0,
        "pending_count": 3
    }
    collections_5_1 = {
        "collections": [
            {
                "id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
                "title": "High Value Indicator Collection",
                "description": "This data collection contains high value IOCs",
                "can_read": True,
                "can_write": False,
                "media_types": [
                    "application/stix+json;version=2.1"
                ]
            },
            {
                "id": "52892447-4d7e-4f70-b94d-d7f22742ff63",
                "title": "Indicators from the past 24-hours",
                "description": "This data collection is for collecting current IOCs",
                "can_read": True,
                "can_write": False,
                "media_types": [
                    "application/stix+json;version=2.1"
                ]
            }
        ]
    }
    collection_5_2 = {
        "id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
        "title": "High Value Indicator Collection",
        "description": "This data collection contains high value IOCs",
        "can_read": True,
        "can_write": False,
        "media_types": [
            "application/stix+json;version=2.1"
        ]
    }
    manifest_5_3 = {
        "objects": [
            {
                "id": "indicator--29aba82c-5393-42a8-9edb-6a2cb1df070b",
                "date_added": "2016-11-04T03:04:051Z",
                "version": "2016-11-03T12:30:59.000Z",
                "media_type": "application/stix+json;version=2.1"
            },
            {
                "id": "indicator--ef0b28e1-308c-4a30-8770-9b4851b260a5",
                "date_added": "2016-11-04T10:29:061Z",
                "version": "2016-11-03T12:35:10.000Z",
                "media_type": "application/stix+json;version=2.1"
            }
        ]
    }
    envelope_3_7 = {
        "more": True,
        "next": "123456789",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--252c7c11-daf2-42bd-843b-be65edca9f61"
            }
        ]
    }
    envelope_5_5_request = {
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--c410e480-e42b-47d1-9476-85307c12bcbf"
            }
        ]
    }
    envelope_5_6 = {
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--252c7c11-daf2-42bd-843b-be65edca9f61"
            }
        ]
    }
    versions_5_8 = {
        "versions": [
            "2016-11-03T12:30:59.000Z",
            "2016-11-03T12:31:00.000Z"
        ]
    }
    error_3_6_1 = {
        "title": "Error condition XYZ",
        "description": "This error is caused when the application tries to access data...",
        "error_id": "1234",
        "error_code": "581234",
        "http_status": "409",
        "external_details": "http://example.com/ticketnumber1/errorid-1234",
        "details": {
            "somekey1": "somevalue",
            "somekey2": "some other value"
        }
    }

    def mod(doc, fn):
        d = copy.deepcopy(doc)
        fn(d)
        return d

    def drop(key):
        return lambda d: d.pop(key)

    def put(key, value):
        return lambda d: d.__setitem__(key, value)

    # Erratum fixes: the §2 timestamp needs exactly six fractional digits; the
    # §4.3.1 status-details needs "version".
    def fix_status(d):
        d["request_timestamp"] = "2016-11-02T12:34:34.123450Z"

    status_4_3_fixed = mod(status_4_3, fix_status)
    status_5_5_fixed = mod(status_5_5, fix_status)
    status_5_5_fixed["successes"][0]["version"] = "2018-05-27T12:02:41.312Z"
    manifest_5_3_fixed = copy.deepcopy(manifest_5_3)
    manifest_5_3_fixed["objects"][0]["date_added"] = "2016-11-04T03:04:05.100000Z"
    manifest_5_3_fixed["objects"][1]["date_added"] = "2016-11-04T10:29:06.100000Z"

    # (schema, label, document, should_pass[, text the failure must mention])
    cases = [
        ("discovery.json", "§4.1 example", discovery_4_1, True),
        ("discovery.json", "§4.1.1 valid api_roots forms",
         {"title": "t", "api_roots": ["https://taxii.example.com:443/",
                                      "https://someserver.example.net/apiroot1/",
                                      "/someapiroot/"]}, True),
        ("discovery.json", "title only", {"title": "t"}, True),
        ("discovery.json", "§7.1 custom property x_acmeinc_scoring",
         mod(discovery_4_1, put("x_acmeinc_scoring",
                                {"impact": "high", "probability": "low"})), True),
        ("discovery.json", "missing title", mod(discovery_4_1, drop("title")), False),
        ("discovery.json", "api_roots is a string",
         mod(discovery_4_1, put("api_roots", "https://example.com/api1/")), False),
        ("discovery.json", "empty api_roots", {"title": "t", "api_roots": []}, False),
        ("discovery.json", "api_root //host (§4.1.1 invalid)",
         {"title": "t", "api_roots": ["//someserver.example.com/apiroot1"]}, False),
        ("discovery.json", "api_root ../ (§4.1.1 invalid)",
         {"title": "t", "api_roots": ["../someapiroot/"]}, False),
        ("discovery.json", "api_root with query (§4.1.1 invalid)",
         {"title": "t", "api_roots": ["https://foo.edu/bar?baz"]}, False),
        ("discovery.json", "api_root over http",
         {"title": "t", "api_roots": ["http://example.com/api1/"]}, False),
        ("discovery.json", "default not in api_roots",
         mod(discovery_4_1, put("default", "https://example.com/other/")), False),
        ("discovery.json", "default without api_roots",
         {"title": "t", "default": "/api1/"}, False),
        ("discovery.json", "bad custom property name X-Acme",
         mod(discovery_4_1, put("X-Acme", 1)), False),
        ("discovery.json", "custom property name too short",
         mod(discovery_4_1, put("xy", 1)), False),

        ("api-root.json", "§4.2 example", api_root_4_2, True),
        ("api-root.json", "missing versions", mod(api_root_4_2, drop("versions")), False),
        ("api-root.json", "missing max_content_length",
         mod(api_root_4_2, drop("max_content_length")), False),
        ("api-root.json", "max_content_length as string",
         mod(api_root_4_2, put("max_content_length", "104857600")), False),
        ("api-root.json", "max_content_length 0",
         mod(api_root_4_2, put("max_content_length", 0)), False),
        ("api-root.json", "versions without version=2.1",
         mod(api_root_4_2, put("versions", ["application/taxii+json;version=2.0"])), False),
        ("api-root.json", "versions item without version parameter",
         mod(api_root_4_2, put("versions", ["application/taxii+json;version=2.1",
                                            "application/taxii+json"])), False),

        ("status.json", "§4.3 example, as printed (5-digit fraction)", status_4_3, False,
         ["'request_timestamp': '2016-11-02T12:34:34.12345Z' does not match"]),
        ("status.json", "§4.3 example, request_timestamp to 6 digits", status_4_3_fixed, True),
        ("status.json", "§5.5 example, as printed (5-digit fraction, no version)",
         status_5_5, False, ["'request_timestamp': '2016-11-02T12:34:34.12345Z' does not match",
                             "'successes'[0]: 'version' is a required property"]),
        ("status.json", "§5.5 example, corrected", status_5_5_fixed, True),
        ("status.json", "missing total_count",
         mod(status_4_3_fixed, drop("total_count")), False),
        ("status.json", "status 'done'", mod(status_4_3_fixed, put("status", "done")), False),
        ("status.json", "success_count as string",
         mod(status_4_3_fixed, put("success_count", "1")), False),
        ("status.json", "negative pending_count",
         mod(status_4_3_fixed, put("pending_count", -1)), False),
        ("status.json", "id with STIX-style type prefix",
         mod(status_4_3_fixed, put("id", "status--2d086da7-4bdc-4f91-900e-d77486753710")),
         False),
        ("status.json", "request_timestamp with +00:00",
         mod(status_4_3_fixed, put("request_timestamp", "2016-11-02T12:34:34.123450+00:00")),
         False),
        ("status.json", "empty failures list",
         mod(status_4_3_fixed, put("failures", [])), False),

        ("collections.json", "§5.1 example", collections_5_1, True),
        ("collections.json", "no collections (empty object)", {}, True),
        ("collections.json", "empty collections list", {"collections": []}, False),
        ("collections.json", "collection missing can_read",
         {"collections": [mod(collection_5_2, drop("can_read"))]}, False),
        ("collections.json", "collection can_write as string",
         {"collections": [mod(collection_5_2, put("can_write", "false"))]}, False),

        ("collection.json", "§5.2 example", collection_5_2, True),
        ("collection.json", "missing id", mod(collection_5_2, drop("id")), False),
        ("collection.json", "missing title", mod(collection_5_2, drop("title")), False),
        ("collection.json", "id not a UUID", mod(collection_5_2, put("id", "high-value")),
         False),
        ("collection.json", "media_types as string",
         mod(collection_5_2, put("media_types", "application/stix+json;version=2.1")), False),

        ("manifest.json", "§5.3 example, as printed (date_added '03:04:051Z')",
         manifest_5_3, False, ["'objects'[0].'date_added': '2016-11-04T03:04:051Z'",
                               "'objects'[1].'date_added': '2016-11-04T10:29:061Z'"]),
        ("manifest.json", "§5.3 example, date_added corrected", manifest_5_3_fixed, True),
        ("manifest.json", "no records (empty object)", {}, True),
        ("manifest.json", "record missing date_added",
         {"objects": [mod(manifest_5_3_fixed["objects"][0], drop("date_added"))]}, False),
        ("manifest.json", "date_added without fraction",
         {"objects": [mod(manifest_5_3_fixed["objects"][0],
                          put("date_added", "2016-11-04T03:04:05Z"))]}, False),
        ("manifest.json", "empty objects list", {"objects": []}, False),
        ("manifest.json", "more as string", mod(manifest_5_3_fixed, put("more", "true")),
         False),

        ("envelope.json", "§3.7 example", envelope_3_7, True),
        ("envelope.json", "§5.5 request example", envelope_5_5_request, True),
        ("envelope.json", "§5.6 example", envelope_5_6, True),
        ("envelope.json", "empty envelope (§3.7, §5.4)", {}, True),
        ("envelope.json", "objects is an object",
         mod(envelope_3_7, put("objects", envelope_3_7["objects"][0])), False),
        ("envelope.json", "object missing type",
         {"objects": [{"id": "indicator--252c7c11-daf2-42bd-843b-be65edca9f61"}]}, False),
        ("envelope.json", "empty objects list", {"objects": []}, False),
        ("envelope.json", "more as string", mod(envelope_3_7, put("more", "true")), False),
        ("envelope.json", "next as integer", mod(envelope_3_7, put("next", 123456789)),
         False),

        ("versions.json", "§5.8 example", versions_5_8, True),
        ("versions.json", "no versions (empty object)", {}, True),
        ("versions.json", "empty versions list", {"versions": []}, False),
        ("versions.json", "versions as string",
         {"versions": "2016-11-03T12:30:59.000Z"}, False),

        ("error.json", "§3.6.1 example", error_3_6_1, True),
        ("error.json", "title only", {"title": "x"}, True),
        ("error.json", "missing title", mod(error_3_6_1, drop("title")), False),
        ("error.json", "http_status as integer", mod(error_3_6_1, put("http_status", 409)),
         False),
        ("error.json", "details as string", mod(error_3_6_1, put("details", "x")), False),
    ]

    covered = {c[0] for c in cases}
    missing = set(names()) - covered
    passed = failed = 0
    for name in sorted(missing):
        failed += 1
        print("FAIL %s: no self-test cases" % name)
    for name, label, doc, should_pass, *expect in cases:
        try:
            validate(name, doc)
            ok, msg = should_pass, "accepted"
        except AssertionError as e:
            ok, msg = not should_pass, str(e)
            lines = msg.splitlines()
            for text in (expect[0] if expect else []):
                if not any(text in line for line in lines):
                    ok = False
                    msg += "\n(expected a problem mentioning %r)" % text
            if expect and len(lines) != len(expect[0]):
                ok = False
                msg += "\n(expected exactly %d problem(s))" % len(expect[0])
        if ok:
            passed += 1
            print("ok   %-16s %s%s" % (name, label,
                                       "" if should_pass else "  [rejected: %s]"
                                       % msg.splitlines()[0]))
        else:
            failed += 1
            print("FAIL %-16s %s: expected %s, got: %s"
                  % (name, label, "pass" if should_pass else "failure", msg))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_selftest())
