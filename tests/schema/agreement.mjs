// agreement.mjs: checks that kyoyu's STIX 2.1 verdicts agree with the OASIS STIX 2.1 JSON
// schemas (draft 2020-12, run by Ajv), so the two readings of the standard cannot drift apart
// unnoticed.
//
//   node agreement.mjs --kyoyu PATH --cases FILE_OR_DIR ...
//       Every case of tests/unit/stix/cases/*.json (format in that folder's README.md): kyoyu
//       must give the case's `valid`; Ajv must give it too unless the case's `schema`
//       annotation says the texts differ, and then Ajv must differ in the annotated direction,
//       so an annotation that has gone stale fails as well. A case with "fill" runs once per
//       text and count, "{fill}" in its object replaced by the text repeated count times. An
//       invalid case's `expect` must be among the errors kyoyu prints: a message JSON cannot
//       carry (not UTF-8) would be dropped from the output.
//   node agreement.mjs --kyoyu PATH --data FILE_OR_GZ ...
//       Every object of each file (a bundle, a list of objects or one object: real producer
//       data) must be valid for both, and so must a bundle's own properties.
//
// kyoyu is run as `kyoyu validate --json FILE|-`, which prints one JSON line per object in
// input order and a summary line. Prints one line per disagreement, then `N passed, M failed`;
// exits 1 on any failure, 2 on a usage error. Needs no network: every schema is loaded from
// disk under its $id, which is what the schemas' relative $refs resolve against.

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, domainToASCII } from "node:url";
import zlib from "node:zlib";

const here = path.dirname(fileURLToPath(import.meta.url));
const defaultSchemas = path.join(here, "..", "data", "oasis-stix2-json-schemas", "schemas");

function usage(msg) {
	process.stderr.write(`agreement.mjs: ${msg}\n` +
		"usage: node agreement.mjs --kyoyu PATH [--schemas DIR] (--cases FILE_OR_DIR ... | --data FILE[.gz] ...)\n");
	process.exit(2);
}

function parseArgs(argv) {
	const opt = { kyoyu: null, schemas: defaultSchemas, mode: null, files: [] };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === "--kyoyu" || a === "--schemas") {
			if (i + 1 >= argv.length)
				usage(`${a} needs a value`);
			opt[a.slice(2)] = argv[++i];
		} else if (a === "--cases" || a === "--data") {
			if (opt.mode && opt.mode !== a.slice(2))
				usage("--cases and --data cannot be mixed");
			opt.mode = a.slice(2);
		} else if (a.startsWith("--")) {
			usage(`unknown option ${a}`);
		} else if (!opt.mode) {
			usage(`${a}: give --cases or --data before the files`);
		} else {
			opt.files.push(a);
		}
	}
	if (!opt.kyoyu)
		usage("--kyoyu is required");
	if (!opt.mode || opt.files.length === 0)
		usage("give --cases or --data and at least one file");
	return opt;
}

// ---- Schemas --------------------------------------------------------------------------------

function listJson(dir) {
	const out = [];
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory())
			out.push(...listJson(p));
		else if (e.name.endsWith(".json"))
			out.push(p);
	}
	return out.sort();
}

// ajv-formats has no idn-hostname (used by domain-name's `value`). RFC 5890 hostnames are
// checked as their A-label (punycode) form against ajv-formats' own hostname rule; ASCII names
// are checked as they are, because WHATWG's domainToASCII would rewrite "0x7f.1" as an
// IPv4 address.
function idnHostname(s) {
	const ascii = /^[\x00-\x7f]*$/.test(s) ? s : domainToASCII(s);
	return ascii !== "" && fullFormats.hostname.test(ascii);
}

// unicodeRegExp: false because core.json's type pattern escapes "-" outside a class ("\\-?$"),
// which ECMA-262 refuses under the u flag Ajv uses by default.
function loadSchemas(dir) {
	const ajv = new Ajv2020({ strict: false, allErrors: true, unicodeRegExp: false });
	addFormats(ajv);
	ajv.addFormat("idn-hostname", idnHostname);
	const idOf = new Map();	// "sdos/indicator.json" -> its $id
	for (const file of listJson(dir)) {
		const schema = JSON.parse(fs.readFileSync(file, "utf8"));
		if (typeof schema.$id !== "string")
			throw new Error(`${file}: schema has no $id`);
		ajv.addSchema(schema);
		idOf.set(path.relative(dir, file).split(path.sep).join("/"), schema.$id);
	}
	// The type -> schema table: one file per predefined type, named after it.
	const byType = new Map();
	for (const [rel] of idOf) {
		const m = /^(sdos|sros|observables)\/([a-z0-9-]+)\.json$/.exec(rel);
		if (m)
			byType.set(m[2], rel);
	}
	for (const t of ["marking-definition", "language-content", "extension-definition", "bundle"])
		byType.set(t, `common/${t}.json`);
	for (const rel of [...byType.values(), "common/core.json", "common/cyber-observable-core.json"])
		if (!idOf.has(rel))
			throw new Error(`${dir}: ${rel} is missing`);
	// Custom object types (STIX 2.1 §11.2) follow the common rules of their category: an SDO
	// or SRO has `created`, an SCO does not.
	function schemaFor(obj) {
		const t = obj !== null && typeof obj === "object" ? obj.type : undefined;
		if (typeof t === "string" && byType.has(t))
			return byType.get(t);
		if (obj !== null && typeof obj === "object" && !Array.isArray(obj) && !("created" in obj))
			return "common/cyber-observable-core.json";
		return "common/core.json";
	}
	return {
		check(obj, rel = schemaFor(obj)) {
			const v = ajv.getSchema(idOf.get(rel));	// compiled once, then cached by Ajv
			const ok = v(obj);
			return { valid: ok, schema: rel, error: ok ? null : ajvError(v.errors[0]) };
		},
	};
}

function ajvError(e) {
	let msg = `${e.instancePath || "/"} ${e.message}`;
	if (e.params && e.params.allowedValues)
		msg += `: ${e.params.allowedValues.join(", ")}`;
	return `${msg} [${e.schemaPath}]`;
}

// ---- kyoyu ----------------------------------------------------------------------------------

// Runs `kyoyu validate --json` on a file, or on `input` bytes through stdin. Returns
// { lines: Map index -> line, summary, problems: [string] } where problems break the output
// contract (a crash, a usage error, a missing or repeated line, a summary that does not add up).
function runKyoyu(kyoyu, file, input, count) {
	const r = spawnSync(kyoyu, ["validate", "--json", input ? "-" : file], {
		input, maxBuffer: 1 << 30, encoding: "utf8",
	});
	const problems = [];
	const lines = new Map();
	let summary = null;
	if (r.error)
		return { lines, summary, problems: [`cannot run ${kyoyu}: ${r.error.message}`] };
	if (r.signal)
		problems.push(`kyoyu was killed by ${r.signal}: ${r.stderr.trim()}`);
	else if (r.status !== 0 && r.status !== 3)
		problems.push(`kyoyu exited ${r.status}: ${r.stderr.trim()}`);
	for (const text of r.stdout.split("\n")) {
		if (text.trim() === "")
			continue;
		let line;
		try {
			line = JSON.parse(text);
		} catch {
			problems.push(`kyoyu printed a line that is not JSON: ${text.slice(0, 200)}`);
			continue;
		}
		if (line.summary) {
			summary = line.summary;
		} else if ("fatal" in line) {
			problems.push(`kyoyu: fatal: ${line.fatal}`);
		} else if (Number.isInteger(line.index) && line.index >= 0 && line.index < count) {
			if (lines.has(line.index))
				problems.push(`kyoyu printed index ${line.index} twice`);
			lines.set(line.index, line);
		} else {
			problems.push(`kyoyu printed an unexpected line: ${text.slice(0, 200)}`);
		}
	}
	if (problems.length === 0) {
		const valid = [...lines.values()].filter((l) => l.valid === true).length;
		if (!summary)
			problems.push("kyoyu printed no summary line");
		else if (summary.objects !== count || summary.valid !== valid || summary.invalid !== lines.size - valid)
			problems.push(`kyoyu's summary ${JSON.stringify(summary)} does not match its ${lines.size} ` +
				`lines (${valid} valid) for ${count} objects`);
		if (lines.size !== count)
			problems.push(`kyoyu gave ${lines.size} verdicts for ${count} objects`);
		const expectedStatus = valid === count ? 0 : 3;
		if (summary && r.status !== expectedStatus)
			problems.push(`kyoyu exited ${r.status}, expected ${expectedStatus} for ${valid} of ${count} valid`);
	}
	return { lines, summary, problems };
}

// A file as the reader would type it: relative to the working directory when it is inside.
function show(file) {
	const rel = path.relative(process.cwd(), file);
	return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

function verdict(v) {
	return v === undefined ? "none" : v ? "valid" : "invalid";
}

function kyoyuVerdict(line) {
	return line ? line.valid === true : undefined;
}

// kyoyu's verdict with its first error, for a failure line.
function kyoyuText(ran, line) {
	if (!ran)
		return "not run";
	if (!line)
		return "none";
	if (line.valid === true)
		return "valid";
	return Array.isArray(line.errors) && line.errors.length > 0 ? `invalid (${line.errors[0]})` : "invalid";
}

// ---- Mode 1: cases --------------------------------------------------------------------------

// The exact source text of each case's `object`, so kyoyu reads the same bytes the case file
// holds: re-serialising would turn 1.0 into 1 and lose integers beyond 2^53, which are what
// some cases are about. `text` has already parsed as JSON, so the scan can trust its shape.
function skipWs(s, i) {
	while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r"))
		i++;
	return i;
}

function skipString(s, i) {
	for (i++; s[i] !== '"'; i++)
		if (s[i] === "\\")
			i++;
	return i + 1;
}

function skipValue(s, i) {
	if (s[i] === '"')
		return skipString(s, i);
	if (s[i] === "{" || s[i] === "[") {
		let depth = 0;
		for (;;) {
			const c = s[i];
			if (c === '"') {
				i = skipString(s, i);
				continue;
			}
			if (c === "{" || c === "[")
				depth++;
			else if (c === "}" || c === "]")
				depth--;
			i++;
			if (depth === 0)
				return i;
		}
	}
	while (i < s.length && !",]} \t\n\r".includes(s[i]))
		i++;
	return i;
}

// Calls fn(key, start, end) for each member of the object starting at s[i].
function members(s, i, fn) {
	i = skipWs(s, i + 1);
	while (s[i] !== "}") {
		const keyEnd = skipString(s, i);
		const key = JSON.parse(s.slice(i, keyEnd));
		const start = skipWs(s, skipWs(s, keyEnd) + 1);
		const end = skipValue(s, start);
		fn(key, start, end);
		i = skipWs(s, end);
		if (s[i] === ",")
			i = skipWs(s, i + 1);
	}
}

// Calls fn(start, end) for each element of the array starting at s[i].
function elements(s, i, fn) {
	i = skipWs(s, i + 1);
	while (s[i] !== "]") {
		const end = skipValue(s, i);
		fn(i, end);
		i = skipWs(s, end);
		if (s[i] === ",")
			i = skipWs(s, i + 1);
	}
}

function caseObjectTexts(text) {
	const out = [];
	const top = skipWs(text, 0);
	members(text, top, (key, start) => {
		if (key !== "cases" || text[start] !== "[")
			return;
		out.length = 0;	// like JSON.parse, the last "cases" wins
		elements(text, start, (cs) => {
			let raw = null;
			if (text[cs] === "{")
				members(text, cs, (k, s, e) => {
					if (k === "object")
						raw = text.slice(s, e);
				});
			out.push(raw);
		});
	});
	return out;
}

function expandCaseFiles(args) {
	const files = [];
	for (const a of args) {
		if (fs.statSync(a).isDirectory())
			files.push(...fs.readdirSync(a).filter((n) => n.endsWith(".json")).sort().map((n) => path.join(a, n)));
		else
			files.push(a);
	}
	return files;
}

const ANNOTATIONS = new Set(["agree", "standard-stricter", "schema-stricter"]);

function runCases(opt, schemas, report) {
	const items = [];	// { file, name, c }
	const texts = [];
	for (const file of expandCaseFiles(opt.files)) {
		const shown = show(file);
		const text = fs.readFileSync(file, "utf8");
		let doc;
		try {
			doc = JSON.parse(text);
		} catch (e) {
			report.fail(`${shown}: not JSON: ${e.message}`);
			continue;
		}
		if (!doc || !Array.isArray(doc.cases)) {
			report.fail(`${shown}: no "cases" list`);
			continue;
		}
		const raws = caseObjectTexts(text);
		doc.cases.forEach((c, i) => {
			const name = c && typeof c.name === "string" ? c.name : `cases[${i}]`;
			if (!c || !("object" in c) || typeof c.valid !== "boolean" || raws[i] === null) {
				report.fail(`${shown}: "${name}": a case needs "valid" (a boolean) and "object"`);
				return;
			}
			if (c.fill === undefined) {
				items.push({ file: shown, name, c });
				texts.push(raws[i]);
				return;
			}
			const f = c.fill;
			if (!f || !Array.isArray(f.texts) || !Array.isArray(f.counts) ||
			    !f.texts.every((t) => typeof t === "string" && !/["\\\u0000-\u001f]/.test(t)) ||
			    !f.counts.every((n) => Number.isInteger(n) && n >= 0)) {
				report.fail(`${shown}: "${name}": "fill" needs "texts" (strings without quotes, ` +
					"backslashes or controls) and \"counts\" (integers)");
				return;
			}
			for (const t of f.texts) {
				for (const n of f.counts) {
					const raw = raws[i].split("{fill}").join(t.repeat(n));
					items.push({ file: shown, name: `${name} (${n} x ${t})`, c: { ...c, object: JSON.parse(raw) } });
					texts.push(raw);
				}
			}
		});
	}
	if (items.length === 0) {
		report.fail("no cases found");
		return;
	}

	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kyoyu-agreement-"));
	let ky;
	try {
		const tmp = path.join(dir, "cases.json");
		fs.writeFileSync(tmp, `[\n${texts.join(",\n")}\n]\n`);
		ky = runKyoyu(opt.kyoyu, tmp, null, items.length);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
	for (const p of ky.problems)
		report.fail(p);
	// When kyoyu gave no verdict at all, that one failure says so; the cases still get Ajv's.
	const kyoyuRan = ky.lines.size > 0;

	items.forEach(({ file, name, c }, i) => {
		const annotation = c.schema === undefined ? "agree" : c.schema;
		const line = ky.lines.get(i);
		const kv = kyoyuRan ? kyoyuVerdict(line) : c.valid;
		const aj = schemas.check(c.object);
		const why = [];
		if (!ANNOTATIONS.has(annotation))
			why.push(`unknown schema annotation "${annotation}"`);
		if (annotation !== "agree" && typeof c.why !== "string")
			why.push(`"schema": "${annotation}" needs a "why"`);
		if (kv !== c.valid)
			why.push(line ? "kyoyu disagrees with the case" : "kyoyu gave no verdict");
		else if (line && !c.valid && typeof c.expect === "string" &&
			 !(Array.isArray(line.errors) && line.errors.some((e) => typeof e === "string" && e.includes(c.expect))))
			why.push(`kyoyu printed no error containing ${JSON.stringify(c.expect)}`);
		if (annotation === "agree" && aj.valid !== c.valid)
			why.push("Ajv disagrees with the case");
		if (annotation === "standard-stricter" && !(aj.valid && !c.valid))
			why.push("standard-stricter needs Ajv to accept an invalid case");
		if (annotation === "schema-stricter" && !(!aj.valid && c.valid))
			why.push("schema-stricter needs Ajv to refuse a valid case");
		if (why.length === 0) {
			report.pass();
			return;
		}
		report.fail(`${file}: "${name}": ${why.join("; ")}: valid=${c.valid} schema=${annotation}, ` +
			`kyoyu=${kyoyuText(kyoyuRan, line)}, ` +
			`ajv=${verdict(aj.valid)} [${aj.schema}]${aj.error ? ` (${aj.error})` : ""}`);
	});
}

// ---- Mode 2: data ---------------------------------------------------------------------------

function runData(opt, schemas, report) {
	for (const arg of opt.files) {
		const file = show(arg);	// still a usable path: relative to the working directory
		let bytes;
		try {
			bytes = fs.readFileSync(file);
			if (file.endsWith(".gz"))
				bytes = zlib.gunzipSync(bytes);
		} catch (e) {
			report.fail(`${file}: ${e.message}`);
			continue;
		}
		let doc;
		try {
			doc = JSON.parse(bytes.toString("utf8"));
		} catch (e) {
			report.fail(`${file}: not JSON: ${e.message}`);
			continue;
		}
		// The shapes kyoyu reads: a bundle, a list of objects, or one object.
		const isBundle = doc !== null && typeof doc === "object" && Array.isArray(doc.objects);
		const objects = Array.isArray(doc) ? doc : isBundle ? doc.objects : [doc];
		const ky = runKyoyu(opt.kyoyu, file, file.endsWith(".gz") ? bytes : null, objects.length);
		for (const p of ky.problems)
			report.fail(`${file}: ${p}`);
		const kyoyuRan = ky.lines.size > 0;

		// The bundle's own properties (STIX 2.1 §8). Its "objects" are checked one by one below:
		// bundle.json's list of types predates several 2.1 types, and its oneOf between
		// core.json and cyber-observable-core.json refuses custom SDOs that match both.
		if (isBundle) {
			const { objects: _, ...envelope } = doc;
			const aj = schemas.check(envelope, "common/bundle.json");
			const kyErrors = ky.summary && Array.isArray(ky.summary.bundle_errors) ? ky.summary.bundle_errors : [];
			if (aj.valid && kyErrors.length === 0)
				report.pass();
			else
				report.fail(`${file}: bundle ${doc.id}: kyoyu=${verdict(kyErrors.length === 0)}` +
					`${kyErrors.length ? ` (${kyErrors[0]})` : ""}, ajv=${verdict(aj.valid)}` +
					`${aj.error ? ` (${aj.error})` : ""}`);
		}

		objects.forEach((obj, i) => {
			const line = ky.lines.get(i);
			const kv = kyoyuRan ? kyoyuVerdict(line) : true;
			const aj = schemas.check(obj);
			if (kv === true && aj.valid) {
				report.pass();
				return;
			}
			const id = obj && typeof obj.id === "string" ? obj.id : "(no id)";
			report.fail(`${file}: objects[${i}] ${id}: kyoyu=${kyoyuText(kyoyuRan, line)}, ajv=${verdict(aj.valid)} [${aj.schema}]` +
				`${aj.error ? ` (${aj.error})` : ""}`);
		});
	}
}

// ---- Main -----------------------------------------------------------------------------------

const opt = parseArgs(process.argv.slice(2));
const schemas = loadSchemas(opt.schemas);
const report = {
	passed: 0,
	failed: 0,
	pass() {
		this.passed++;
	},
	fail(msg) {
		this.failed++;
		process.stdout.write(`FAIL ${msg}\n`);
	},
};
if (opt.mode === "cases")
	runCases(opt, schemas, report);
else
	runData(opt, schemas, report);
process.stdout.write(`${report.passed} passed, ${report.failed} failed\n`);
process.exit(report.failed === 0 ? 0 : 1);
