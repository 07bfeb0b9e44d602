// Offline fix, run on postinstall. duckdb-wasm >= 1.29 has no built-in
// parquet and downloads it from the DuckDB extension host at run time; with
// no internet `evidence sources` hangs forever on its parquet step. We pin
// @duckdb/duckdb-wasm 1.28.0 (parquet built in) via "overrides", whose DuckDB
// does not know two settings Evidence sets; make those two SETs non-fatal
// (1.28 already has the behaviour they ask for).
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
const re = /^(\s*)await connection\.query\('(SET (?:ieee_floating_point_ops = false|old_implicit_casting = true);)'\);$/gm;
for (const f of ['src/client-duckdb/node.js', 'src/client-duckdb/browser.js']) {
	const p = join(usql, f);
	const text = readFileSync(p, 'utf8');
	const out = text.replace(re, "$1try { await connection.query('$2'); } catch (e) {}");
	const n = (out.match(/try \{ await connection\.query\('SET /g) ?? []).length;
	if (n !== 2) {
		console.error(`patch-evidence: expected 2 patched SETs in ${p}, found ${n}`);
		process.exit(1);
	}
	if (out !== text) writeFileSync(p, out);
	console.log(`patch-evidence: ok ${f}`);
}
