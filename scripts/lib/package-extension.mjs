// The work of scripts/package-extension.sh (which documents the contract): stages the
// extension's shipped files three ways, zips each reproducibly, signs the CRX3, writes
// updates.xml, prints the Chromium ID last.
import { readFileSync, writeFileSync, mkdirSync, cpSync, rmSync, mkdtempSync, utimesSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumId, crx3, spkiFromPrivatePem } from './crx.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXTENSION = path.join(ROOT, 'extension');
/** What the browsers need; tests, tools and npm files stay out of the packages. */
const SHIPPED = ['manifest.json', 'schema.json', '_locales', 'src'];

function die(message) {
  console.error(`package-extension.sh: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!['--key', '--out', '--update-url'].includes(a)) die(`unknown argument ${a} (usage: --key KEY.pem --out DIR [--update-url URL])`);
    if (i + 1 >= argv.length) die(`${a} needs a value`);
    opts[a.slice(2)] = argv[++i];
  }
  if (!opts.key) die('--key KEY.pem is required (an RSA private key; openssl genrsa -out KEY.pem 2048)');
  if (!opts.out) die('--out DIR is required');
  if (opts['update-url'] !== undefined) {
    let url;
    try {
      url = new URL(opts['update-url']);
    } catch {
      die(`--update-url ${opts['update-url']} is not a URL`);
    }
    if (!['https:', 'http:'].includes(url.protocol)) die(`--update-url must be https (or http on loopback), not ${url.protocol}`);
  }
  return opts;
}

function walk(dir, rel = '') {
  return readdirSync(path.join(dir, rel)).sort().flatMap((name) => {
    const r = rel ? `${rel}/${name}` : name;
    return statSync(path.join(dir, r)).isDirectory() ? walk(dir, r) : [r];
  });
}

/** A zip of `dir` whose bytes depend only on the files' names and contents. */
function reproducibleZip(dir, out) {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 315532800); // 1980-01-01, zip's first day
  const files = walk(dir);
  for (const f of files) utimesSync(path.join(dir, f), epoch, epoch);
  rmSync(out, { force: true });
  // -X: no extra attributes (uid, gid, atime); -D: no directory entries; names in sorted order.
  execFileSync('zip', ['-q', '-X', '-D', '-9', out, '-@'], { cwd: dir, input: files.join('\n'), env: { ...process.env, TZ: 'UTC' } });
  return readFileSync(out);
}

function stage(manifest) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cis-renew-pack-'));
  for (const entry of SHIPPED) cpSync(path.join(EXTENSION, entry), path.join(dir, entry), { recursive: true });
  writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

function xmlEscape(s) {
  return s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  let pem;
  try {
    pem = readFileSync(opts.key);
  } catch (e) {
    die(`cannot read --key ${opts.key}: ${e.message}`);
  }
  let spki;
  try {
    spki = spkiFromPrivatePem(pem);
  } catch (e) {
    die(`--key ${opts.key} is not a PEM private key: ${e.message}`);
  }
  const id = chromiumId(spki);
  const base = JSON.parse(readFileSync(path.join(EXTENSION, 'manifest.json'), 'utf8'));
  const version = base.version;
  mkdirSync(opts.out, { recursive: true });
  const name = `cis-renew-${version}`;

  // The CRX names its own key (so an unpacked copy of it keeps the ID) and, when self-hosted,
  // where Chromium looks for updates.
  const crxManifest = { ...base, key: spki.toString('base64') };
  if (opts['update-url']) crxManifest.update_url = opts['update-url'];
  else delete crxManifest.update_url;
  // The stores assign the ID and refuse a "key"; Firefox ignores it with a warning.
  const storeManifest = { ...base };
  delete storeManifest.key;
  delete storeManifest.update_url;

  const staged = [];
  try {
    const crxDir = stage(crxManifest);
    staged.push(crxDir);
    const crxZip = reproducibleZip(crxDir, path.join(crxDir, '..', `${path.basename(crxDir)}.zip`));
    staged.push(`${crxDir}.zip`);
    let crx;
    try {
      crx = crx3(crxZip, pem);
    } catch (e) {
      die(`cannot sign with ${opts.key}: ${e.message}`);
    }
    writeFileSync(path.join(opts.out, `${name}.crx`), crx);

    const storeDir = stage(storeManifest);
    staged.push(storeDir);
    reproducibleZip(storeDir, path.resolve(opts.out, `${name}.zip`));
    // An XPI is the same zip; AMO signs it (docs/deployment.md: web-ext sign).
    writeFileSync(path.join(opts.out, `${name}.xpi`), readFileSync(path.join(opts.out, `${name}.zip`)));

    const codebase = opts['update-url'] ? new URL(`${name}.crx`, opts['update-url']).href : `${name}.crx`;
    if (!opts['update-url']) console.error(`package-extension.sh: no --update-url: updates.xml names ${codebase} relative; set its codebase before hosting it`);
    writeFileSync(path.join(opts.out, 'updates.xml'), `<?xml version='1.0' encoding='UTF-8'?>
<gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>
  <app appid='${id}'>
    <updatecheck codebase='${xmlEscape(codebase)}' version='${xmlEscape(version)}' />
  </app>
</gupdate>
`);
  } finally {
    for (const d of staged) rmSync(d, { recursive: true, force: true });
  }

  const identity = JSON.parse(readFileSync(path.join(ROOT, 'manifests/identity.json'), 'utf8'));
  if (identity.chromiumId !== id) {
    console.error(`package-extension.sh: the key gives ${id}, but manifests/identity.json names ${identity.chromiumId}: run node scripts/identity.mjs set --key ${opts.key} so the host manifests and policies allow it`);
  }
  console.log(id);
}

main();
