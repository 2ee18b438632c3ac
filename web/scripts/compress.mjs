// Writes X.gz beside every compressible file of dist/ (level 9). `sinyal serve` sends the .gz with
// Content-Encoding: gzip when the browser accepts it (src/http/static_site.h).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = new URL('../dist/', import.meta.url).pathname;
const compressible = /\.(js|mjs|css|html|svg|json|txt)$/;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (compressible.test(name)) writeFileSync(path + '.gz', gzipSync(readFileSync(path), { level: 9 }));
  }
}
walk(root);
