// The extension's identity and packages (issue 15): scripts/identity.mjs and
// scripts/package-extension.sh, checked against openssl, which computes everything a second way.
// Keys are made here, in a temp folder, and never kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, mkdirSync, cpSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseCrx3, readFields, varint } from '../../scripts/lib/crx.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PACK = path.join(ROOT, 'scripts/package-extension.sh');
const IDENTITY = path.join(ROOT, 'scripts/identity.mjs');
let work;

function openssl(args, input) {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'ignore'] });
}

/** The ID openssl gives: sha256 of the DER public key, 16 bytes, hex digits mapped to a-p. */
function opensslId(keyFile) {
  const der = openssl(['pkey', '-in', keyFile, '-pubout', '-outform', 'DER']);
  const hex = openssl(['dgst', '-sha256', '-hex'], der).toString().trim().split(/\s+/).pop().slice(0, 32);
  return { der, id: hex.replace(/[0-9a-f]/g, (c) => String.fromCharCode(97 + parseInt(c, 16))) };
}

function unzipFile(zipPath, name) {
  return execFileSync('unzip', ['-p', zipPath, name]).toString();
}

function pack(args, env = {}) {
  return spawnSync(PACK, args, { encoding: 'utf8', env: { ...process.env, ...env } });
}

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'cis-renew-identity-'));
  openssl(['genrsa', '-out', path.join(work, 'key.pem'), '2048']);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(work, 'ec.pem')]);
});
after(() => rmSync(work, { recursive: true, force: true }));

test('varint: protobuf encodings of the header sizes used', () => {
  assert.deepEqual([...varint(1)], [1]);
  assert.deepEqual([...varint(300)], [0xac, 0x02]);
  // Field 10000, wire type 2 (signed_header_data): tag 80002.
  assert.deepEqual([...varint(10000 * 8 + 2)], [0x82, 0xf1, 0x04]);
});

test('package-extension: writes the CRX, updates.xml, zip and xpi; the printed ID is the one openssl derives from the key', () => {
  const out = path.join(work, 'out');
  const url = 'https://it.example.nhs.uk/cis-renew/updates.xml';
  const r = pack(['--key', path.join(work, 'key.pem'), '--out', out, '--update-url', url]);
  assert.equal(r.status, 0, r.stderr);
  const printed = r.stdout.trim().split('\n').pop();
  const { der, id } = opensslId(path.join(work, 'key.pem'));
  assert.equal(printed, id);
  const version = JSON.parse(readFileSync(path.join(ROOT, 'extension/manifest.json'), 'utf8')).version;

  // CRX3: the header names openssl's public key, the crx_id is sha256(key)[0..16], and the
  // signature verifies with openssl over the bytes CRX3 signs.
  const crx = readFileSync(path.join(out, `cis-renew-${version}.crx`));
  const { header, zip } = parseCrx3(crx);
  const proofs = header.filter((f) => f.field === 2);
  assert.equal(proofs.length, 1, 'one sha256_with_rsa proof');
  const proof = readFields(proofs[0].bytes);
  const publicKey = proof.find((f) => f.field === 1).bytes;
  const signature = proof.find((f) => f.field === 2).bytes;
  assert.deepEqual(Buffer.from(publicKey), der);
  const signedData = header.find((f) => f.field === 10000).bytes;
  const crxId = readFields(signedData).find((f) => f.field === 1).bytes;
  assert.equal(Buffer.from(crxId).toString('hex'), createHash('sha256').update(der).digest('hex').slice(0, 32));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(signedData.length);
  writeFileSync(path.join(work, 'signed'), Buffer.concat([Buffer.from('CRX3 SignedData\x00', 'binary'), length, signedData, zip]));
  writeFileSync(path.join(work, 'sig'), signature);
  writeFileSync(path.join(work, 'pub.der'), der);
  const verify = spawnSync('openssl', ['dgst', '-sha256', '-verify', path.join(work, 'pub.der'), '-keyform', 'DER',
    '-signature', path.join(work, 'sig'), path.join(work, 'signed')], { encoding: 'utf8' });
  assert.equal(verify.status, 0, `openssl verifies the CRX signature: ${verify.stdout}${verify.stderr}`);

  writeFileSync(path.join(work, 'inner.zip'), zip);
  const crxManifest = JSON.parse(unzipFile(path.join(work, 'inner.zip'), 'manifest.json'));
  assert.equal(crxManifest.key, der.toString('base64'), 'the CRX names its own key');
  assert.equal(crxManifest.update_url, url);

  const storeZip = path.join(out, `cis-renew-${version}.zip`);
  const storeManifest = JSON.parse(unzipFile(storeZip, 'manifest.json'));
  assert.equal(storeManifest.key, undefined, 'no key for the stores');
  assert.equal(storeManifest.update_url, undefined);
  const listing = execFileSync('unzip', ['-Z1', storeZip]).toString().trim().split('\n');
  assert.ok(listing.includes('src/background/worker.js') && listing.includes('_locales/en/messages.json'), listing.join(' '));
  assert.ok(!listing.some((f) => /^(test|testing|tools|node_modules)\/|package/.test(f)), `only shipped files: ${listing.join(' ')}`);
  const xpi = path.join(out, `cis-renew-${version}.xpi`);
  const identity = JSON.parse(readFileSync(path.join(ROOT, 'manifests/identity.json'), 'utf8'));
  assert.equal(JSON.parse(unzipFile(xpi, 'manifest.json')).browser_specific_settings.gecko.id, identity.firefoxId);

  const updates = readFileSync(path.join(out, 'updates.xml'), 'utf8');
  assert.match(updates, new RegExp(`<app appid='${id}'>`));
  assert.match(updates, new RegExp(`codebase='https://it.example.nhs.uk/cis-renew/cis-renew-${version}.crx' version='${version}'`));
});

test('package-extension: two runs give byte-identical zips (reproducible)', () => {
  const a = path.join(work, 'a');
  const b = path.join(work, 'b');
  for (const dir of [a, b]) assert.equal(pack(['--key', path.join(work, 'key.pem'), '--out', dir], { SOURCE_DATE_EPOCH: '1700000000' }).status, 0);
  const sha = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
  assert.equal(sha(path.join(a, 'cis-renew-0.1.0.zip')), sha(path.join(b, 'cis-renew-0.1.0.zip')));
  // Without --update-url the CRX carries no update_url and updates.xml names the file only.
  assert.match(readFileSync(path.join(a, 'updates.xml'), 'utf8'), /codebase='cis-renew-0\.1\.0\.crx'/);
});

test('package-extension: bad arguments and keys are refused with a specific message, exit 2', () => {
  const cases = [
    [['--out', work], /--key KEY\.pem is required/],
    [['--key', path.join(work, 'key.pem')], /--out DIR is required/],
    [['--key', path.join(work, 'missing.pem'), '--out', work], /cannot read --key/],
    [['--key', path.join(work, 'ec.pem'), '--out', path.join(work, 'ec')], /needs RSA/],
    [['--key', path.join(work, 'key.pem'), '--out', work, '--update-url', 'ftp://x/y'], /must be https/],
    [['--key', path.join(work, 'key.pem'), '--out', work, '--frobnicate'], /unknown argument --frobnicate/],
  ];
  for (const [args, message] of cases) {
    const r = pack(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('identity check: every file in the project that names an ID is generated and current', () => {
  const r = spawnSync('node', [IDENTITY, 'check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

/** A copy of the project's files (what git tracks, plus new files), to change the identity in. */
function projectCopy() {
  const dest = path.join(work, `copy-${Math.random().toString(36).slice(2)}`);
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter((f) => f && !f.includes('node_modules/'));
  for (const f of files) {
    try {
      mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
      cpSync(path.join(ROOT, f), path.join(dest, f));
    } catch {
      // deleted in the work tree but not yet in the index
    }
  }
  return dest;
}

test('identity set --key: a new key renames the extension everywhere; only the host-generated manifests are left to regenerate', () => {
  const copy = projectCopy();
  const old = JSON.parse(readFileSync(path.join(copy, 'manifests/identity.json'), 'utf8'));
  const r = spawnSync('node', [IDENTITY, 'set', '--root', copy, '--key', path.join(work, 'key.pem'), '--edge-id', 'b'.repeat(31) + 'c',
    '--firefox-id', 'renew-test@it.example.org', '--skip-host-manifests'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { id } = opensslId(path.join(work, 'key.pem'));
  assert.equal(r.stdout.trim().split('\n').pop(), id);
  const admx = readFileSync(path.join(copy, 'policy/windows/cis-renew.admx'), 'utf8');
  assert.ok(admx.includes(`Chrome\\3rdparty\\extensions\\${id}\\policy`), 'ADMX Chrome key');
  assert.ok(admx.includes(`Edge\\3rdparty\\extensions\\${'b'.repeat(31)}c\\policy`), 'ADMX Edge key');
  const manifest = JSON.parse(readFileSync(path.join(copy, 'extension/manifest.json'), 'utf8'));
  assert.equal(manifest.browser_specific_settings.gecko.id, 'renew-test@it.example.org');
  assert.equal(manifest.key, opensslId(path.join(work, 'key.pem')).der.toString('base64'));
  const rust = readFileSync(path.join(copy, 'host/src/deploy/identity.rs'), 'utf8');
  assert.ok(rust.includes(`"chrome-extension://${id}/"`) && rust.includes(`"chrome-extension://${'b'.repeat(31)}c/"`), rust);
  assert.ok(rust.includes('&[CHROMIUM_ORIGIN, EDGE_ORIGIN, FIREFOX_ID]'), rust);
  assert.ok(readFileSync(path.join(copy, 'policy/examples/firefox/policies.json'), 'utf8').includes('"renew-test@it.example.org"'));

  // The check now flags exactly the files the host generates, until they are regenerated.
  const c = spawnSync('node', [IDENTITY, 'check', '--root', copy], { encoding: 'utf8' });
  assert.equal(c.status, 1);
  const flagged = new Set(c.stderr.trim().split('\n').map((line) => line.split(' ')[0]));
  assert.deepEqual([...flagged].sort(), ['manifests/linux/chrome.json', 'manifests/linux/chromium.json', 'manifests/linux/edge.json', 'manifests/linux/firefox.json',
    'manifests/macos/chrome.json', 'manifests/macos/chromium.json', 'manifests/macos/edge.json', 'manifests/macos/firefox.json',
    'manifests/windows/chrome.json', 'manifests/windows/chromium.json', 'manifests/windows/edge.json', 'manifests/windows/firefox.json']);
  assert.ok(c.stderr.includes(old.chromiumId), 'names the stale ID');
});

test('identity check: an ID written anywhere else, or a hand-edited generated file, fails with the file named', () => {
  const copy = projectCopy();
  const id = JSON.parse(readFileSync(path.join(copy, 'manifests/identity.json'), 'utf8'));
  writeFileSync(path.join(copy, 'docs/stray.md'), `Install chrome-extension://${id.chromiumId}/ by hand.\n`);
  const admx = path.join(copy, 'policy/windows/cis-renew.admx');
  writeFileSync(admx, readFileSync(admx, 'utf8').replace('revision="1.0"', 'revision="9.9"'));
  const c = spawnSync('node', [IDENTITY, 'check', '--root', copy], { encoding: 'utf8' });
  assert.equal(c.status, 1);
  assert.match(c.stderr, new RegExp(`docs/stray.md names the extension ID ${id.chromiumId}`));
  assert.match(c.stderr, /policy\/windows\/cis-renew.admx is stale: run node scripts\/identity.mjs generate/);
});

test('identity set: refuses what is not an ID', () => {
  const copy = projectCopy();
  for (const [args, message] of [
    [['--chromium-id', 'not-an-id'], /chromiumId "not-an-id" is not an extension ID/],
    [['--chromium-id', 'a'.repeat(32), '--firefox-id', 'no-domain'], /firefoxId "no-domain" is not name@domain/],
    [['--chromium-id', 'a'.repeat(32), '--key', path.join(work, 'key.pem')], /exactly one of/],
  ]) {
    const r = spawnSync('node', [IDENTITY, 'set', '--root', copy, '--skip-host-manifests', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(readFileSync(path.join(copy, 'manifests/identity.json')), readFileSync(path.join(ROOT, 'manifests/identity.json')), 'nothing written');
});
