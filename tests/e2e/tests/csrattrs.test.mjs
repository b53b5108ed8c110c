// The renewal service chooses the new keys' algorithm (issue 10): the stand-in's EST csrattrs
// names P-256 or RSA-2048, the extension reads it before renewBegin and passes it on as
// keyAlgorithm, and the host (whose own default is P-384) makes keys of that algorithm on
// the card. Checked on the card itself with pkcs11-tool and in the installed certificates;
// a key IT's allowedKeyAlgorithms forbids is refused in the extension's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Bed, ROOT, MANAGED_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy } from '../lib/browser.mjs';
import { signInAndRenew, dialogText } from '../lib/flow.mjs';

const PASSCODE = 'Hq4mT81w';
const LABEL = 'Alice card';
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';

/** What pkcs11-tool lists on the card after a login (its own words for each key's type). */
function listObjects(bed) {
  return execFileSync('pkcs11-tool', ['--module', SOFTHSM, '--token-label', LABEL, '--login', '--pin', PASSCODE, '--list-objects'],
    { env: { ...process.env, SOFTHSM2_CONF: bed.softhsmConf }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** openssl's description of a certificate's public key. */
function publicKeyText(bed, certDer) {
  const file = path.join(bed.dir, 'installed.der');
  writeFileSync(file, Buffer.from(certDer, 'base64'));
  return execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-text']).toString();
}

const CASES = [
  // pkcs11-tool gives the size on public key objects, the type on private ones.
  { alg: 'p256', publicKey: /^Public Key Object; EC\s+EC_POINT 256 bits/, privateKey: /^Private Key Object; EC/, spki: /Public-Key: \(256 bit\)[\s\S]*prime256v1/ },
  { alg: 'rsa2048', publicKey: /^Public Key Object; RSA 2048 bits/, privateKey: /^Private Key Object; RSA/, spki: /rsaEncryption[\s\S]*Public-Key: \(2048 bit\)/ },
];

for (const { alg, publicKey, privateKey, spki } of CASES) {
  test(`csrattrs: the renewal service asks for ${alg}, and the card gets ${alg} keys with certificates installed`, async () => {
    const bed = await Bed.start({ csrKeyAlgorithm: alg });
    let browser;
    try {
      const card = await bed.card({ reader: MANAGED_READER, label: LABEL, user: 'alice', pin: PASSCODE });
      const before = listObjects(bed);
      assert.match(before, /EC_POINT 384 bits/, 'the old pairs are P-384');
      writePolicy(bed.standin.url);
      browser = await launch({ hostEnv: bed.hostEnv() });
      const csrattrs = [];
      browser.context.on('request', (request) => { if (request.url().includes('/csrattrs')) csrattrs.push(request.url()); });
      const page = await browser.context.newPage();
      const { probe } = await signInAndRenew(page, bed.standin.url, card.tokenSerial, PASSCODE);
      await probe.waitFor('dialog h2', { text: /renewed/i, timeout: 90000 });
      assert.ok(csrattrs.length >= 1, 'the extension read EST csrattrs');

      // The host's view: two new certificates, not due.
      const status = bed.hostStatus().card;
      assert.deepEqual(status.certificates.map((c) => c.role), ['authentication', 'signing']);
      assert.equal(status.reason, 'NOT_DUE');
      const oldSerials = card.certificates.map((c) => c.serial.toLowerCase());
      assert.ok(status.certificates.every((c) => !oldSerials.includes(c.serial.toLowerCase())), JSON.stringify(status));

      // The card's view: two key pairs, both of the asked algorithm, no P-384 key left.
      const after = listObjects(bed);
      const lines = after.split('\n');
      const privateKeys = lines.filter((l) => l.startsWith('Private Key Object'));
      const publicKeys = lines.filter((l) => l.startsWith('Public Key Object'));
      assert.equal(privateKeys.length, 2, after);
      assert.equal(publicKeys.length, 2, after);
      assert.ok(privateKeys.every((l) => privateKey.test(l)), after);
      assert.ok(publicKeys.every((l) => publicKey.test(l)), after);
      assert.doesNotMatch(after, /EC_POINT 384 bits/, after);

      // The installed certificates certify those keys, and each pair signs and verifies.
      const contents = bed.inspect(LABEL, PASSCODE);
      assert.equal(contents.pairs.length, 2, JSON.stringify(contents.pairs));
      assert.ok(contents.pairs.every((p) => p.signsAndVerifies), JSON.stringify(contents.pairs));
      const certs = contents.objects.filter((o) => o.class === 'certificate');
      assert.equal(certs.length, 2);
      for (const cert of certs) assert.match(publicKeyText(bed, cert.certDer), spki);
    } finally {
      await browser?.close();
      removePolicy();
      await bed.stop();
    }
  });
}

test('csrattrs: a key the host\'s allowedKeyAlgorithms forbids is refused in plain words, and the card is unchanged', async () => {
  const bed = await Bed.start({ csrKeyAlgorithm: 'p256' });
  let browser;
  try {
    const card = await bed.card({ reader: MANAGED_READER, label: LABEL, user: 'alice', pin: PASSCODE });
    bed.hostSettings = { allowedKeyAlgorithms: ['p384'] };
    bed.writeHostConfig();
    const before = listObjects(bed);
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv() });
    const page = await browser.context.newPage();
    const { probe } = await signInAndRenew(page, bed.standin.url, card.tokenSerial, PASSCODE);
    const messages = JSON.parse(readFileSync(path.join(ROOT, 'extension/_locales/en/messages.json'), 'utf8'));
    const words = messages.errKeyAlgorithmNotAllowed.message;
    await probe.waitFor('dialog', { text: words.slice(0, 40), timeout: 60000 });
    assert.ok((await dialogText(probe)).includes(words), await dialogText(probe));
    assert.equal(listObjects(bed), before, 'nothing on the card changed');
    assert.equal((await bed.standin.admin('/admin/api/issued')).length, 0, 'nothing was issued');
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
});
