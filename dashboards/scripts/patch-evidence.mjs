// Offline fixes to @evidence-dev/universal-sql, run on postinstall (idempotent).
//
// 1. duckdb-wasm >= 1.29 has no built-in parquet and downloads it from the DuckDB
//    extension host at run time; with no internet `evidence sources` hangs. package.json
//    "overrides" pin @duckdb/duckdb-wasm 1.28.0 (DuckDB 0.9, parquet built in), which does
//    not know two settings Evidence sets. 0.9 already behaves as those SETs ask (x/0 is NULL,
//    implicit casts to VARCHAR), so the two statements are dropped: a failing SET would log
//    a Catalog Error in the browser console.
// 2. The browser registered each parquet file as an HTTP URL read with range requests; a plain
//    static server (python -m http.server) has none, and duckdb-wasm warns on the console
//    ("fall back to full HTTP read"). The files are small: fetch each whole and register
//    the bytes instead.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const nm = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules');
const usql = [
	'@evidence-dev/universal-sql',
	'@evidence-dev/evidence/node_modules/@evidence-dev/universal-sql'
]
	.map((d) => join(nm, d))
	.find((d) => existsSync(join(d, 'package.json')));
if (!usql) {
	console.error('patch-evidence: @evidence-dev/universal-sql not found');
	process.exit(1);
}

const SETS = /^(\s*)(?:try \{ )?await connection\.query\('(SET (?:ieee_floating_point_ops = false|old_implicit_casting = true);)'\);(?: \} catch \(e\) \{\})?$/gm;
const URL_LINE =
	'await db.registerFileURL(file_name, addBasePath(path), DuckDBDataProtocol.HTTP, false);';
const BUFFER_LINE =
	'{ const res = await fetch(addBasePath(path)); if (!res.ok) throw new Error(`${res.status} ${path}`); await db.registerFileBuffer(file_name, new Uint8Array(await res.arrayBuffer())); } // patched: whole-file fetch';

function fail(msg) {
	console.error(`patch-evidence: ${msg}`);
	process.exit(1);
}

for (const f of ['src/client-duckdb/node.js', 'src/client-duckdb/browser.js']) {
	const p = join(usql, f);
	const text = readFileSync(p, 'utf8');
	let out = text.replace(SETS, '$1// patched: $2 (not known to duckdb-wasm 1.28, already its behaviour)');
	if ((out.match(/\/\/ patched: SET /g) ?? []).length !== 2) fail(`expected 2 SETs in ${p}`);
	if (f.endsWith('browser.js')) {
		out = out.replace(URL_LINE, BUFFER_LINE);
		if (!out.includes('// patched: whole-file fetch')) fail(`registerFileURL not found in ${p}`);
	}
	if (out !== text) writeFileSync(p, out);
}
console.log('patch-evidence: ok');
