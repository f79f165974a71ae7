// Copies the built site (scripts/build's target/site) into the folder the packaged program is
// built with (target/embed-site), with a brotli and a gzip copy beside each file worth it, and
// prints a digest of the result (names and contents) for PYTASK_EMBED_SITE_DIGEST.
// Usage: node packaging/embed-site.mjs SITE_DIR OUT_DIR
// Node's own zlib: no compressor to install. Brotli at its best (11) and gzip at 9: the work is
// done once per package, the bytes saved on every first visit (the wasm and Monaco's editor are
// megabytes).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const [site, out] = process.argv.slice(2);
if (!site || !out) {
  console.error('usage: node packaging/embed-site.mjs SITE_DIR OUT_DIR');
  process.exit(2);
}
const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);
// Text and wasm compress well; images other than SVG and fonts in woff2 are compressed already.
const COMPRESSIBLE = /\.(js|mjs|css|wasm|svg|json|html|txt|map|ttf)$/;
// Below this the headers would cost more than the bytes saved.
const MIN_BYTES = 1024;

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

rmSync(out, { recursive: true, force: true });
const digest = createHash('sha256');
let raw = 0;
let stored = 0;
const jobs = files(site).sort().map(async (path) => {
  const name = relative(site, path);
  const data = readFileSync(path);
  const target = join(out, name);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, data);
  const written = [[name, data]];
  if (COMPRESSIBLE.test(name) && data.length >= MIN_BYTES) {
    const [br, gz] = await Promise.all([
      brotli(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          [zlib.constants.BROTLI_PARAM_MODE]: name.endsWith('.wasm') ? zlib.constants.BROTLI_MODE_GENERIC : zlib.constants.BROTLI_MODE_TEXT,
        },
      }),
      gzip(data, { level: 9 }),
    ]);
    // A copy that saves under a tenth is not worth its room in the program.
    for (const [suffix, copy] of [['.br', br], ['.gz', gz]]) {
      if (copy.length < data.length * 0.9) {
        writeFileSync(target + suffix, copy);
        written.push([name + suffix, copy]);
      }
    }
  }
  return written;
});
for (const written of await Promise.all(jobs)) {
  for (const [name, data] of written) {
    digest.update(`${name}\0${data.length}\0`);
    digest.update(data);
    stored += data.length;
  }
  raw += written[0][1].length;
}
console.error(`embed-site: ${(raw / 1e6).toFixed(1)} MB of site, ${(stored / 1e6).toFixed(1)} MB with the compressed copies, in ${out}`);
console.log(digest.digest('hex'));
