// A PIV card renewed in Chromium (issue 12): the same sponsor flow as a PKCS#11 card, while
// underneath the card's witness goes to the stand-in's card-management API before the passcode
// is asked, the host completes the mutual authentication with the service's answer, and the
// service checks the card's response before it issues. Then the card is checked by clients
// nobody here wrote (yubico-piv-tool, OpenSC).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Bed, BIN, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots, screenshotsDir } from '../lib/browser.mjs';
import { openServiceMenu, chooseRenew, continueToPasscode, dialogText } from '../lib/flow.mjs';

const PASSCODE = '73915824';

/**
 * Types the passcode and presses Enter. On a PIV card the host's first step after the passcode
 * is quick, so the window may close while Enter is still being delivered: that is success.
 */
async function typePasscode(pinWindow, pin) {
  await pinWindow.waitForSelector('#form[data-ready]', { timeout: 20000 });
  await pinWindow.fill('#pin', '');
  await pinWindow.type('#pin', pin);
  await pinWindow.press('#pin', 'Enter').catch((error) => {
    if (!pinWindow.isClosed()) throw error;
  });
}

function recordRequests(context) {
  const seen = [];
  context.on('request', (request) => seen.push({ at: Date.now(), method: request.method(), url: request.url(), body: request.postData() ?? '' }));
  return seen;
}

test('piv: a PIV card renews through the card-management API in one sponsor flow', async () => {
  const bed = await Bed.start();
  let browser;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.pivCard({ reader: MANAGED_READER, user: 'alice', pin: PASSCODE });
    const before = bed.hostStatus().card;
    assert.equal(before.cardAdmin, true, JSON.stringify(before));
    assert.equal(before.token.serial, card.cardId);

    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv() });
    const requests = recordRequests(browser.context);
    const page = await browser.context.newPage();
    const shots = new Shots(screenshotsDir('piv'));
    await signIn(page, bed.standin.url);
    await openServiceMenu(page, card.cardId);
    await shots.take(page, 'select-service');
    await chooseRenew(page).catch(async (error) => {
      const why = await page.evaluate((selector) => {
        const el = document.querySelector(selector);
        const control = (el && el.querySelector('[data-cis-renew-control]')) || el;
        return document.getElementById(control?.getAttribute('aria-describedby') ?? '')?.textContent ?? 'no menu item';
      }, '#service-menu [data-cis-renew="menu-item"]');
      throw new Error(`Renew Certificate not offered: ${why}; host log: ${readFileSync(bed.hostLog, 'utf8').slice(-1500)}`, { cause: error });
    });
    const { probe, pinWindow, confirmation } = await continueToPasscode(page, () => shots.take(page, 'confirmation'));
    assert.match(confirmation, /Authentication/i);
    const pinShown = Date.now();
    // The passcode window opened only after the service answered the card's witness.
    const begun = requests.filter((r) => r.url.endsWith('/card-admin/v1/renewals') && r.method === 'POST');
    assert.equal(begun.length, 1, JSON.stringify(requests.map((r) => r.url)));
    assert.ok(begun[0].at <= pinShown);
    await shots.take(pinWindow, 'passcode-window');
    await typePasscode(pinWindow, PASSCODE);
    // The done view (its Close button), not a step on the way that happens to match.
    await probe.waitFor('button[data-action="dismiss"]', { timeout: 90000 });
    await shots.take(page, 'done');
    const text = await dialogText(probe);

    const after = bed.hostStatus().card;
    assert.deepEqual(after.certificates.map((c) => c.role), ['authentication', 'signing']);
    const oldSerials = before.certificates.map((c) => c.serial.toLowerCase());
    for (const c of after.certificates) assert.ok(!oldSerials.includes(c.serial.toLowerCase()), `${c.serial} is old`);
    assert.equal(after.reason, 'NOT_DUE');
    assert.ok(!after.interrupted);
    assert.ok(text.includes(String(new Date(after.certificates[0].notAfter).getUTCFullYear())), text);

    const calls = requests.filter((r) => r.url.includes('/card-admin/v1/')).map((r) => `${r.method} ${new URL(r.url).pathname.replace(/renewals\/[^/]+/, 'renewals/ID')}`);
    assert.deepEqual(calls, [
      'POST /card-admin/v1/renewals',
      'POST /card-admin/v1/renewals/ID/certificates',
      'POST /card-admin/v1/renewals/ID/installed',
    ]);
    assert.ok(!requests.some((r) => r.url.includes('simplereenroll')), 'a PIV card does not use EST');
    assert.ok(!requests.some((r) => r.body.includes(PASSCODE)), 'the passcode never goes to the network');
    assert.ok(!readFileSync(bed.hostLog, 'utf8').includes(PASSCODE), 'passcode in the host log');

    // Independent clients agree that the card works with its new keys.
    const report = JSON.parse(execFileSync(path.join(BIN, 'cis-testbed'), [
      'piv', 'check', '--socket', bed.readers.socket, '--reader', String(MANAGED_READER), '--pin', PASSCODE,
    ]).toString());
    assert.deepEqual(report.problems, [], JSON.stringify(report));
    assert.equal(report.slots.length, 2);
    assert.ok(report.slots.every((s) => s.testSignature && s.openscSignature), JSON.stringify(report));
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
});
