// The real middleware in a real browser (issue 11): the host on OpenSC's PKCS#11 module, which
// drives the test bed's virtual SmartCard-HSM over APDUs in a vpcd reader (no slotMap: the
// host finds the managed reader's slot by its description). The sponsor renews the card from
// the dashboard; then OpenSC, pkcs11-tool and openssl check the card. The passcode states
// are the card's own retry counter, shown in the extension's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Bed, ROOT, MANAGED_READER, OPENSC_MODULE } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots, screenshotsDir } from '../lib/browser.mjs';
import { openServiceMenu, chooseRenew, continueToPasscode, typePasscode, dialogText } from '../lib/flow.mjs';

const PASSCODE = '47110815';
const WRONG = '99999999';
const VALIDITY_DAYS = 730;
const MESSAGES = JSON.parse(readFileSync(path.join(ROOT, 'extension/_locales/en/messages.json'), 'utf8'));
const words = (key) => MESSAGES[key].message;

async function setUp(name) {
  const bed = await Bed.start({ validityDays: VALIDITY_DAYS, opensc: true });
  // The sponsor reader stays empty: the host never uses it, and signing in needs no card.
  const card = await bed.schsmCard({ reader: MANAGED_READER, user: 'alice', pin: PASSCODE });
  writePolicy(bed.standin.url);
  const browser = await launch({ hostEnv: bed.hostEnv() });
  const page = await browser.context.newPage();
  const shots = new Shots(screenshotsDir(name));
  await signIn(page, bed.standin.url);
  await openServiceMenu(page, card.tokenSerial);
  return { bed, browser, page, card, shots };
}

async function tearDown({ bed, browser }) {
  await browser?.close();
  removePolicy();
  await bed.stop();
}

/** Retries left in the card file: the card's own counter, not anything the host keeps. */
function cardTriesLeft(card) {
  return JSON.parse(readFileSync(card.cardFile, 'utf8')).pinTriesLeft;
}

/** Signs with the card's key `id` through pkcs11-tool and verifies with openssl against `certDer`. */
function signWithOpenscVerifyWithOpenssl(bed, id, certDer) {
  const dir = bed.dir;
  const env = { ...process.env, ...bed.hostEnv() };
  const [der, pub, data, sig] = ['cert.der', 'pub.pem', 'data', 'sig'].map((f) => path.join(dir, f));
  writeFileSync(der, Buffer.from(certDer, 'base64'));
  writeFileSync(data, `signed after the renewal with ${id}`);
  writeFileSync(pub, execFileSync('openssl', ['x509', '-inform', 'DER', '-in', der, '-pubkey', '-noout']));
  execFileSync('pkcs11-tool', [
    '--module', OPENSC_MODULE, '--slot-index', String(MANAGED_READER), '--login', '--pin', PASSCODE,
    '--sign', '--id', id, '-m', 'ECDSA-SHA384', '--signature-format', 'openssl', '-i', data, '-o', sig,
  ], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return execFileSync('openssl', ['dgst', '-sha384', '-verify', pub, '-signature', sig, data]).toString();
}

test('opensc: the sponsor renews a SmartCard-HSM through OpenSC, and the card works with its new keys', async () => {
  const run = await setUp('opensc-renewal');
  const { bed, page, card, shots } = run;
  try {
    const before = bed.hostStatus().card;
    assert.equal(before.tokenSerial ?? before.token?.serial, card.tokenSerial, JSON.stringify(before));
    assert.equal(before.renewable, true, JSON.stringify(before));
    const started = Date.now();
    await chooseRenew(page);
    const { probe, pinWindow } = await continueToPasscode(page, () => shots.take(page, 'confirmation'));
    await typePasscode(pinWindow, PASSCODE);
    await probe.waitFor('button[data-action="dismiss"]', { timeout: 90000 });
    await shots.take(page, 'done');
    const text = await dialogText(probe);
    assert.match(text, /renewed/i, text);

    const after = bed.hostStatus().card;
    assert.deepEqual(after.certificates.map((c) => c.role), ['authentication', 'signing']);
    const oldSerials = card.certificates.map((c) => c.serial.toLowerCase());
    for (const c of after.certificates) {
      assert.ok(!oldSerials.includes(c.serial.toLowerCase()), `${c.serial} is old`);
      const days = (Date.parse(c.notAfter) - started) / 86400000;
      assert.ok(days > VALIDITY_DAYS - 1 && days <= VALIDITY_DAYS + 1, `valid for ${days} days`);
    }
    assert.equal(after.reason, 'NOT_DUE');
    assert.ok(text.includes(String(new Date(after.certificates[0].notAfter).getUTCFullYear())), text);
    assert.ok(!readFileSync(bed.hostLog, 'utf8').includes(PASSCODE), 'passcode in the host log');

    // OpenSC sees exactly two pairs, one per role, each signing what its certificate verifies.
    const contents = bed.inspectSchsm(PASSCODE);
    assert.equal(contents.pairs.length, 2, JSON.stringify(contents.pairs));
    assert.ok(contents.pairs.every((p) => p.signsAndVerifies), JSON.stringify(contents.pairs));
    assert.ok(!contents.objects.some((o) => o.label.startsWith('cis-renew pending')), JSON.stringify(contents.objects));
    const certs = contents.objects.filter((o) => o.class === 'certificate');
    assert.equal(certs.length, 2, JSON.stringify(certs));
    const newSerials = after.certificates.map((c) => c.serial.toLowerCase().replace(/^0+/, ''));
    for (const cert of certs) {
      // And a client nobody here wrote signs with each new key; openssl checks it.
      assert.match(signWithOpenscVerifyWithOpenssl(bed, cert.id, cert.certDer), /Verified OK/);
      const serial = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', path.join(bed.dir, 'cert.der'), '-noout', '-serial'])
        .toString().trim().replace(/^serial=/, '').toLowerCase().replace(/^0+/, '');
      assert.ok(newSerials.includes(serial), `${serial} not among ${newSerials}`);
    }
    assert.equal(cardTriesLeft(card), 3, 'the right passcode leaves every try');
  } finally {
    await tearDown(run);
  }
});

test('opensc: wrong passcodes count down on the card: tries left, the final-try confirmation, locked', async () => {
  const run = await setUp('opensc-passcode-states');
  const { bed, page, card, shots } = run;
  try {
    await chooseRenew(page);
    const { probe, pinWindow } = await continueToPasscode(page);
    const error = pinWindow.locator('#error');

    // First wrong passcode: OpenSC says only "count low" (2 left on the card), so the
    // extension says that honestly.
    await typePasscode(pinWindow, WRONG);
    await error.waitFor({ state: 'visible', timeout: 30000 });
    assert.equal(await error.innerText(), words('errPinCountLow'));
    assert.equal(cardTriesLeft(card), 2);
    assert.ok(await pinWindow.locator('#final-try').isHidden());
    await shots.take(pinWindow, 'count-low');

    // Second: one try left on the card; the window asks the holder to confirm first.
    await pinWindow.waitForSelector('#pin:not([disabled])');
    await typePasscode(pinWindow, WRONG);
    await pinWindow.waitForFunction((want) => document.getElementById('error')?.innerText === want, words('errPinFinalTry'), { timeout: 30000 });
    assert.equal(cardTriesLeft(card), 1);
    await pinWindow.locator('#final-try').waitFor({ state: 'visible' });
    assert.equal(await pinWindow.locator('#final-try-title').innerText(), words('pinFinalTryTitle'));
    assert.equal(await pinWindow.locator('#final-try-text').innerText(), words('pinFinalTryText'));
    assert.equal(await pinWindow.locator('label[for="confirm-final-try"]').innerText(), words('pinFinalTryConfirm'));
    await shots.take(pinWindow, 'final-try');

    // Without the tick nothing goes to the card.
    await typePasscode(pinWindow, WRONG);
    await pinWindow.waitForFunction((want) => document.getElementById('error')?.innerText === want, words('pinFinalTryNeeded'), { timeout: 10000 });
    assert.equal(cardTriesLeft(card), 1, 'the last try was not spent');

    // Confirmed and wrong again: the card locks; the dialog says so and the window is gone.
    await pinWindow.check('#confirm-final-try');
    const closed = pinWindow.waitForEvent('close', { timeout: 30000 });
    await typePasscode(pinWindow, WRONG).catch((e) => { if (!pinWindow.isClosed()) throw e; });
    await closed;
    const locked = await probe.waitFor('dialog', { text: words('errPinLocked'), timeout: 30000 });
    assert.ok(locked.includes(words('errPinLocked')), locked);
    assert.equal(cardTriesLeft(card), 0);
    await shots.take(page, 'locked');
    const status = bed.hostStatus().card;
    assert.equal(status.renewable, false);
    assert.equal(status.reason, 'PIN_LOCKED');
    assert.ok(!readFileSync(bed.hostLog, 'utf8').includes(WRONG), 'a passcode in the host log');
  } finally {
    await tearDown(run);
  }
});
