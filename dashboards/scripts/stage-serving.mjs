// Copy the published serving file into .serving/ before `evidence sources`.
// SERVING_DIR (default: ../data/serving, i.e. the repo's publish folder)
// is the folder holding serving.duckdb. A copy, not a link: the pipeline
// may replace the file while Evidence reads it.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const servingDir = resolve(root, process.env.SERVING_DIR ?? '../data/serving');
const src = join(servingDir, 'serving.duckdb');
if (!existsSync(src)) {
	console.error(`stage-serving: ${src} not found (set SERVING_DIR)`);
	process.exit(1);
}
mkdirSync(join(root, '.serving'), { recursive: true });
copyFileSync(src, join(root, '.serving', 'serving.duckdb'));
console.log(`stage-serving: copied ${src} -> .serving/serving.duckdb`);
