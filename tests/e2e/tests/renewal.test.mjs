// The whole renewal in a real browser: sign in, Manage Smartcard, select the card, Select
// Service, Renew Certificate, Continue, passcode, done; then the card itself is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Bed, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots, screenshotsDir, ShadowProbe } from '../lib/browser.mjs';
import { openServiceMenu, chooseRenew, continueToPasscode, typePasscode, dialogText } from '../lib/flow.mjs';

// A passcode no log line, serial or timestamp could contain by chance.
const PASSCODE = 'Zq7vK29x';
const VALIDITY_DAYS = 730;

/** Records everything the passcode could leak through. */
function recordLeaks(context) {
  const seen = { requests: [], console: [] };
  context.on('request', (request) => {
    seen.requests.push(`${request.method()} ${request.url()}\n${JSON.stringify(request.headers())}\n${request.postData() ?? ''}`);
  });
  context.on('page', (page) => page.on('console', (message) => seen.console.push(message.text())));
  return seen;
}

async function setUp(name, { authDays = 45, signDays = 45 } = {}) {
  const bed = await Bed.start({ validityDays: VALIDITY_DAYS });
  await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
  const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays, signDays, pin: PASSCODE });
  writePolicy(bed.standin.url);
  const browser = await launch({ hostEnv: bed.hostEnv() });
  const leaks = recordLeaks(browser.context);
  const page = await browser.context.newPage();
  page.on('console', (message) => leaks.console.push(message.text()));
  const shots = new Shots(screenshotsDir(name));
  await signIn(page, bed.standin.url);
  await shots.take(page, 'signed-in');
  await openServiceMenu(page, card.tokenSerial);
  await shots.take(page, 'select-service');
  return { bed, browser, page, card, shots, leaks };
}

async function tearDown({ bed, browser }) {
  await browser?.close();
  removePolicy();
  await bed.stop();
}

/** The card holds exactly one working pair per role, issued by the stand-in after `since`. */
function assertRenewedCard(bed, oldSerials, since) {
  const status = bed.hostStatus();
  const certificates = status.card.certificates;
  assert.deepEqual(certificates.map((c) => c.role), ['authentication', 'signing']);
  for (const certificate of certificates) {
    assert.ok(!oldSerials.includes(certificate.serial.toLowerCase()), `${certificate.serial} is an old certificate`);
    assert.match(certificate.issuer, /CN=/);
    const days = (Date.parse(certificate.notAfter) - since) / 86400000;
    assert.ok(days > VALIDITY_DAYS - 1 && days <= VALIDITY_DAYS + 1, `valid for ${days} days`);
  }
  assert.equal(status.card.renewable, false);
  assert.equal(status.card.reason, 'NOT_DUE');
  const contents = bed.inspect('Alice card', PASSCODE);
  assert.equal(contents.pairs.length, 2, JSON.stringify(contents.pairs));
  assert.ok(contents.pairs.every((pair) => pair.signsAndVerifies), JSON.stringify(contents.pairs));
  const keys = contents.objects.filter((o) => o.class === 'privateKey');
  assert.equal(keys.length, 2);
  assert.ok(keys.every((k) => k.sensitive && !k.extractable && k.neverExtractable), JSON.stringify(keys));
  return certificates;
}

function oldSerialsOf(card) {
  return card.certificates.map((c) => c.serial.toLowerCase());
}

test('renewal: the whole flow renews both certificates on the card', async () => {
  const run = await setUp('renewal-happy-path');
  const { bed, page, card, shots, leaks } = run;
  try {
    const started = Date.now();
    await chooseRenew(page);
    const { probe, pinWindow, confirmation } = await continueToPasscode(page, () => shots.take(page, 'confirmation'));
    for (const old of card.certificates) {
      const expiry = new Date(old.notAfter);
      assert.ok(confirmation.includes(String(expiry.getUTCFullYear())), `confirmation lists the expiry: ${confirmation}`);
    }
    assert.match(confirmation, /Authentication/i);
    assert.match(confirmation, /Signing/i);
    await shots.take(page, 'waiting-for-passcode');
    await shots.take(pinWindow, 'passcode-window');
    await typePasscode(pinWindow, PASSCODE);
    await probe.waitFor('dialog h2', { text: /renewed/i, timeout: 60000 });
    await shots.take(page, 'done');
    const text = await dialogText(probe);

    const certificates = assertRenewedCard(bed, oldSerialsOf(card), started);
    const newExpiry = new Date(certificates[0].notAfter);
    assert.ok(text.includes(String(newExpiry.getUTCFullYear())), `done dialog should show the new expiry: ${text}`);

    const issued = await bed.standin.admin('/admin/api/issued');
    assert.equal(issued.length, 2);
    const issuedSerials = issued.map((c) => c.serial.toLowerCase()).sort();
    assert.deepEqual(certificates.map((c) => c.serial.toLowerCase()).sort(), issuedSerials);

    // The passcode went to the card and nowhere else.
    const pageHtml = await page.content();
    assert.ok(!pageHtml.includes(PASSCODE), 'passcode in the page DOM');
    const pierced = await probe.text('*');
    assert.ok(!(pierced ?? '').includes(PASSCODE), 'passcode in the extension dialog');
    assert.ok(!leaks.requests.some((r) => r.includes(PASSCODE)), 'passcode in a network request');
    assert.ok(!leaks.console.some((line) => line.includes(PASSCODE)), 'passcode in the console');
    assert.ok(!readFileSync(bed.hostLog, 'utf8').includes(PASSCODE), 'passcode in the host log');
    assert.ok(!bed.standin.proc.stderr.includes(PASSCODE), 'passcode in the stand-in log');
    assert.ok(leaks.requests.filter((r) => r.includes('simplereenroll')).length === 2, 'one EST request per role');

    // Close: the dashboard reloads and shows the new certificates, focus is back on Select
    // Service, the dialog stays closed, and the menu item now says the card is not due.
    const reloaded = page.waitForEvent('load', { timeout: 20000 });
    await probe.click('button[data-action="dismiss"]');
    await reloaded;
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'select-service', null, { timeout: 20000 });
    const row = page.locator(`tr.card-row[data-card-serial="${card.tokenSerial}"]`);
    const year = String(newExpiry.getUTCFullYear());
    for (const role of ['authentication', 'signing']) {
      const cell = row.locator(`td[data-cert-role="${role}"]`);
      assert.equal(await cell.getAttribute('data-status'), 'valid');
      assert.ok((await cell.getAttribute('data-not-after')).startsWith(year), 'the dashboard shows the new expiry');
    }
    await page.click('#select-service');
    await page.waitForFunction((selector) => {
      const el = document.querySelector(selector);
      const control = el && el.querySelector('[data-cis-renew-control]') || el;
      const tip = control && document.getElementById(control.getAttribute('aria-describedby') ?? '');
      return el && control.getAttribute('aria-disabled') === 'true' && /not due/i.test(tip?.textContent ?? '');
    }, '#service-menu [data-cis-renew="menu-item"]', { timeout: 20000 });
    assert.equal(await probe.text('dialog[open]'), null, 'the done dialog does not come back');
    await shots.take(page, 'dashboard-after-renewal');
  } finally {
    await tearDown(run);
  }
});

test('renewal: a wrong passcode says how many tries are left, then the right one works', async () => {
  const run = await setUp('renewal-wrong-passcode');
  const { bed, page, card, shots } = run;
  try {
    const started = Date.now();
    await chooseRenew(page);
    const { probe, pinWindow } = await continueToPasscode(page);
    await typePasscode(pinWindow, '00000000');
    const error = pinWindow.locator('#error');
    await error.waitFor({ state: 'visible', timeout: 20000 });
    // SoftHSM reports only "count low", not a number: the message says so honestly.
    assert.match(await error.innerText(), /Wrong passcode.*tries/i);
    await shots.take(pinWindow, 'wrong-passcode');
    await pinWindow.waitForSelector('#pin:not([disabled])');
    await typePasscode(pinWindow, PASSCODE);
    await probe.waitFor('dialog h2', { text: /renewed/i, timeout: 60000 });
    await shots.take(page, 'done-after-retry');
    assertRenewedCard(bed, oldSerialsOf(card), started);
  } finally {
    await tearDown(run);
  }
});

test('renewal: the card pulled while the CA answers leaves a working pair and a clear message', async () => {
  const run = await setUp('renewal-card-removed');
  const { bed, page, card, shots } = run;
  try {
    // Hold the first EST answer until the card is out of the reader.
    let removed = false;
    await page.context().route('**/simplereenroll', async (route) => {
      if (!removed) {
        removed = true;
        await bed.readers.remove(MANAGED_READER);
      }
      await route.continue();
    });
    await chooseRenew(page);
    const { probe, pinWindow } = await continueToPasscode(page);
    await typePasscode(pinWindow, PASSCODE);
    const text = await probe.waitFor('dialog', { text: /removed|reinsert|put it back/i, timeout: 60000 });
    assert.match(text, /card/i);
    await shots.take(page, 'card-removed-message');

    // Old pair intact and working; the card is still due, so the sponsor can simply retry.
    await bed.readers.insert(MANAGED_READER);
    const status = bed.hostStatus();
    assert.deepEqual(status.card.certificates.map((c) => c.serial.toLowerCase()).sort(), oldSerialsOf(card).sort());
    assert.equal(status.card.renewable, true);
    const contents = bed.inspect('Alice card', PASSCODE);
    const working = contents.pairs.filter((p) => p.signsAndVerifies);
    assert.ok(working.length >= 2, JSON.stringify(contents.pairs));
  } finally {
    await tearDown(run);
  }
});

test('renewal: Cancel while the CA is asked leaves the card as it was', async () => {
  const run = await setUp('renewal-cancelled');
  const { bed, page, card, shots } = run;
  try {
    // Hold the CA requests until the sponsor has pressed Cancel, then drop them.
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    let requested = 0;
    await page.context().route('**/simplereenroll', async (route) => {
      requested += 1;
      await held;
      await route.abort();
    });
    await chooseRenew(page);
    const { probe, pinWindow } = await continueToPasscode(page);
    await typePasscode(pinWindow, PASSCODE);
    await probe.waitFor('li[data-step][aria-current="step"]', { text: /Requesting/i, timeout: 30000 });
    assert.ok(requested >= 1, 'the CA request is under way');
    await shots.take(page, 'requesting-certificates');
    await probe.click('button[data-action="cancel"]');
    release();
    const text = await probe.waitFor('dialog', { text: /cancelled/i, timeout: 30000 });
    assert.match(text, /not changed/i);
    await shots.take(page, 'cancelled');

    // The card holds exactly its old pairs, still working; the new keys were removed.
    const status = bed.hostStatus();
    assert.deepEqual(status.card.certificates.map((c) => c.serial.toLowerCase()).sort(), oldSerialsOf(card).sort());
    assert.equal(status.card.renewable, true);
    assert.equal(status.card.interrupted ?? false, false);
    const contents = bed.inspect('Alice card', PASSCODE);
    assert.equal(contents.objects.filter((o) => o.class === 'privateKey').length, 2, JSON.stringify(contents.objects));
    assert.ok(contents.pairs.length === 2 && contents.pairs.every((p) => p.signsAndVerifies));
    assert.deepEqual(await bed.standin.admin('/admin/api/issued'), []);
  } finally {
    await tearDown(run);
  }
});

test('renewal: when the dashboard has no Select Service menu, the extension panel renews the card', async () => {
  const bed = await Bed.start({ validityDays: VALIDITY_DAYS });
  let browser;
  try {
    const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv() });
    const page = await browser.context.newPage();
    const shots = new Shots(screenshotsDir('renewal-panel'));
    // A dashboard redesign without the menu: on every page load, before content scripts run
    // (at document_idle), its markup is taken out.
    await page.addInitScript(() => {
      document.addEventListener('DOMContentLoaded', () => {
        for (const id of ['select-service', 'service-menu']) document.getElementById(id)?.remove();
      });
    });
    await signIn(page, bed.standin.url);
    await page.goto(`${bed.standin.url}/smartcard?card=${card.tokenSerial}`);
    await page.waitForSelector('#smartcard-details');
    assert.equal(await page.locator('#service-menu').count(), 0, 'the page has no menu');

    // The panel stands in for the menu: disabled until the sponsor selects the card.
    const probe = new ShadowProbe(page);
    await probe.waitFor('section.panel', { text: /Select the user.s card/ });
    assert.equal((await probe.query('section.panel button[aria-disabled="true"]')).length, 1);
    await shots.take(page, 'panel-before-select');
    await page.click(`button.card-select-button[data-card-serial="${card.tokenSerial}"]`);
    await page.waitForSelector(`#selected-card[data-card-serial="${card.tokenSerial}"]`);
    const enabledBy = Date.now() + 20000;
    while ((await probe.query('section.panel button[aria-disabled="false"]')).length === 0) {
      assert.ok(Date.now() < enabledBy, `the panel's Renew Certificate stays disabled: ${await probe.text('section.panel')}`);
      await page.waitForTimeout(100);
    }
    await shots.take(page, 'panel');
    await probe.click('section.panel button');
    const { pinWindow } = await continueToPasscode(page);
    await typePasscode(pinWindow, PASSCODE);
    await probe.waitFor('dialog', { text: /renewed/i, timeout: 60000 });
    await shots.take(page, 'done');
    assertRenewedCard(bed, oldSerialsOf(card), Date.now() - 60000);
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
});
