// Firefox ESR (Debian's firefox-esr, headless, driven through its built-in WebDriver BiDi): the
// same extension files as Chromium, installed as an unsigned XPI, settings from the enterprise
// policy file, the real host registered under a private HOME. The menu path with the host's
// status and watch, the host-missing message (Firefox's own error text), the whole renewal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Bed, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { screenshotsDir } from '../lib/browser.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots } from '../lib/firefox.mjs';

const RENEW_ITEM = '#service-menu [data-cis-renew="menu-item"]';
const DIALOG = '[data-cis-renew="dialog"]';
// A passcode no log line, serial or timestamp could contain by chance.
const PASSCODE = 'Wx4pR81n';
const VALIDITY_DAYS = 730;

/** Sign in -> Manage Smartcard -> find the card -> select it -> Select Service. */
async function openServiceMenu(page, baseUrl, serial, shots) {
  await signIn(page, baseUrl);
  await shots.take(page, 'signed-in');
  await page.click('#manage-smartcard');
  await page.waitForSelector('body[data-page="manage-smartcard"]');
  await page.fill('#card-serial', serial);
  await page.click('#card-lookup-button');
  await page.waitForSelector(`#smartcard-details[data-card-serial="${serial}"]`);
  await page.click(`button.card-select-button[data-card-serial="${serial}"]`);
  await page.waitForSelector(`#selected-card[data-card-serial="${serial}"]`);
  await page.click('#select-service');
  await page.waitForSelector('#service-menu:not([hidden])');
}

/** The menu item's state as the page's DOM shows it. */
function menuItem(page) {
  return page.call((s) => {
    const el = document.querySelector(s);
    return el && {
      text: el.textContent.trim(),
      role: el.getAttribute('role'),
      disabled: el.getAttribute('aria-disabled') === 'true',
      // The reason is the tooltip the item is described by (no title attribute).
      title: el.hasAttribute('title') ? 'TITLE:' + el.getAttribute('title') : document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent ?? null,
    };
  }, [RENEW_ITEM]);
}

/** Waits until the item is enabled, or disabled with a reason matching `reason` (a RegExp). */
async function waitForMenuItem(page, { enabled, reason = /./, timeout = 20000 }) {
  try {
    await page.waitFor((s, want, pattern) => {
      const el = document.querySelector(s);
      if (!el) return false;
      const disabled = el.getAttribute('aria-disabled') === 'true';
      const tip = document.getElementById(el.getAttribute('aria-describedby') ?? '');
      return want ? !disabled : disabled && new RegExp(pattern, 'i').test(tip?.textContent ?? '');
    }, [RENEW_ITEM, enabled, reason.source], {
      timeout, what: `Renew Certificate ${enabled ? 'enabled' : `disabled with a reason like ${reason}`}`,
    });
  } catch (error) {
    error.message += `; the item: ${JSON.stringify(await menuItem(page).catch(() => null))}`;
    throw error;
  }
}

/**
 * Per-user managed storage pointing elsewhere, written for every test that has the policy: the
 * policy's 3rdparty settings must win over it, or no test here finds the stand-in's menu.
 */
const ELSEWHERE = () => ({ portalOrigins: ['https://elsewhere.example'], renewalServiceUrl: 'https://elsewhere.example' });

async function setUp(name, { pin, hostPath, policy = true, userStorage = ELSEWHERE } = {}) {
  const bed = await Bed.start({ validityDays: VALIDITY_DAYS });
  let firefox;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin });
    if (policy) writePolicy(bed.standin.url);
    else removePolicy();
    // Tall enough that the menu (it overflows the page's end) and its tooltip are in view.
    firefox = await launch({
      hostEnv: bed.hostEnv(), hostPath, viewport: { width: 1200, height: 1200 }, userStorage: userStorage?.(bed.standin.url),
    });
    const shots = new Shots(screenshotsDir(name));
    await openServiceMenu(firefox.page, bed.standin.url, card.tokenSerial, shots);
    return { bed, firefox, page: firefox.page, card, shots };
  } catch (error) {
    await tearDown({ bed, firefox });
    throw error;
  }
}

async function tearDown({ bed, firefox }) {
  try {
    await firefox?.close();
  } finally {
    removePolicy();
    await bed.stop();
  }
}

test('firefox: a due card gets an enabled Renew Certificate item that follows the reader', async () => {
  const run = await setUp('firefox-menu');
  const { bed, page, shots } = run;
  try {
    // Disabled ("checking") until the host's status arrives through native messaging.
    await waitForMenuItem(page, { enabled: true });
    const item = await menuItem(page);
    assert.match(item.text, /Renew Certificate/);
    assert.equal(item.role, 'menuitem');
    assert.equal(item.disabled, false);
    assert.equal(item.title, null, 'an enabled item carries no reason');
    await shots.take(page, 'menu-with-renew-enabled');

    // watch: the card leaves the managed reader -> disabled with its reason; back -> enabled.
    const removed = Date.now();
    await bed.readers.remove(MANAGED_READER);
    await waitForMenuItem(page, { enabled: false, reason: /no card/, timeout: 10000 });
    const gone = await menuItem(page);
    assert.match(gone.title, /insert the user.s card/i, `reason: ${gone.title}`);
    // Its reason shows on hover, in the tooltip the item is described by.
    await page.hover(RENEW_ITEM);
    const tip = await page.waitFor((s) => {
      const el = document.querySelector(s);
      const tooltip = el && document.getElementById(el.getAttribute('aria-describedby'));
      return tooltip && getComputedStyle(tooltip).display !== 'none' && tooltip.textContent;
    }, [RENEW_ITEM], { timeout: 5000, what: 'the reason tooltip' });
    assert.equal(tip, gone.title);
    await shots.take(page, 'menu-card-removed', { fullPage: false });
    await bed.readers.insert(MANAGED_READER);
    await waitForMenuItem(page, { enabled: true, timeout: 10000 });
    console.log(`firefox: reason while the card was out: "${gone.title}"`);
    assert.ok(Date.now() - removed < 15000);
    await shots.take(page, 'menu-card-back');
  } finally {
    await tearDown(run);
  }
});

test('firefox: without the policy, per-user managed storage sets the extension\'s settings', async () => {
  // Firefox falls back to a per-user storage manifest only when the enterprise policy has no
  // 3rdparty entry for the extension: then it can choose the dashboard origins and the EST URL
  // (docs/configuration.md says what that can and cannot reach). Every other test here has the
  // policy and a per-user file pointing elsewhere, and finds the stand-in's menu all the same.
  const run = await setUp('firefox-user-storage', {
    policy: false, userStorage: (url) => ({ portalOrigins: [url], renewalServiceUrl: url }),
  });
  try {
    await waitForMenuItem(run.page, { enabled: true });
    assert.match((await menuItem(run.page)).text, /Renew Certificate/);
  } finally {
    await tearDown(run);
  }
});

test('firefox: without the host registered, Renew Certificate says how IT installs it', async () => {
  // No native-messaging manifest: Firefox answers "No such native application".
  const run = await setUp('firefox-host-missing', { hostPath: null });
  const { page, shots } = run;
  try {
    await waitForMenuItem(page, { enabled: false, reason: /not installed/ });
    const item = await menuItem(page);
    assert.match(item.title, /not installed/i);
    assert.match(item.title, /IT/);
    await page.hover(RENEW_ITEM);
    await shots.take(page, 'menu-host-missing', { fullPage: false });
  } finally {
    await tearDown(run);
  }
});

test('firefox: the whole renewal, after a wrong passcode, renews both certificates on the card', async () => {
  const run = await setUp('firefox-renewal', { pin: PASSCODE });
  const { bed, firefox, page, card, shots } = run;
  try {
    const before = bed.hostStatus();
    const oldSerials = before.card.certificates.map((c) => c.serial.toLowerCase());
    const caIssuer = before.card.certificates[0].issuer;
    assert.deepEqual(oldSerials.sort(), card.certificates.map((c) => c.serial.toLowerCase()).sort());
    const started = Date.now();

    await waitForMenuItem(page, { enabled: true });
    await shots.take(page, 'select-service');
    await page.click(RENEW_ITEM);

    // The confirmation, in a closed shadow root: certificates and their expiry.
    const dialog = page.shadow(DIALOG);
    await dialog.waitFor('button[data-action="continue"]');
    const confirmation = await dialog.text('dialog');
    assert.match(confirmation, /Authentication/);
    assert.match(confirmation, /Signing/);
    for (const old of card.certificates) {
      const expiry = new Date(old.notAfter);
      assert.ok(confirmation.includes(String(expiry.getUTCFullYear())), `confirmation lists the expiry: ${confirmation}`);
    }
    assert.equal(await dialog.focusedAction(), null, 'focus starts on the heading, not on Continue (issue 13)');
    // Continue accepts nothing until the confirmation has been shown for half a second.
    await dialog.waitFor('button[data-action="continue"]:not([aria-disabled])');
    await shots.take(page, 'confirmation', { fullPage: false });
    await dialog.click('button[data-action="continue"]');

    // The passcode window: the extension's own page in a window of its own.
    const pinWindow = await firefox.waitForPage(/^moz-extension:\/\/[^/]+\/src\/ui\/pin\.html$/);
    await pinWindow.waitFor(() => {
      const input = document.querySelector('#pin');
      const ready = document.querySelector('#form[data-ready]'); // keys are ignored for a moment first
      return ready && input && !input.disabled && document.activeElement === input && input.type === 'password';
    }, [], { what: 'the passcode field, focused' });
    assert.equal(await page.call(() => document.querySelectorAll('input[type=password]').length), 0,
      'no passcode input in the dashboard');
    await shots.take(pinWindow, 'passcode-window');
    await shots.take(page, 'waiting-for-passcode', { fullPage: false });

    // A wrong passcode first: the window says so (SoftHSM gives no count, and the text says
    // that honestly) and asks again.
    await pinWindow.keys('00000000');
    await pinWindow.press('Enter');
    const wrong = await pinWindow.waitFor(() => {
      const error = document.querySelector('#error');
      const input = document.querySelector('#pin');
      const ready = document.querySelector('#form[data-ready]');
      return ready && error && !error.hidden && input && !input.disabled && input.value === '' ? error.textContent : false;
    }, [], { what: 'the wrong-passcode message and an empty, enabled field', timeout: 20000 });
    assert.match(String(wrong), /Wrong passcode.*tries/);
    await shots.take(pinWindow, 'wrong-passcode');
    await pinWindow.keys(PASSCODE);
    await pinWindow.press('Enter');

    const done = await dialog.waitFor('dialog', { text: /renewed/i, timeout: 45000 });
    await shots.take(page, 'done', { fullPage: false });

    // The card: two new certificates from the stand-in's CA, valid for the configured period.
    const after = bed.hostStatus();
    const certificates = after.card.certificates;
    assert.deepEqual(certificates.map((c) => c.role), ['authentication', 'signing']);
    for (const certificate of certificates) {
      assert.ok(!oldSerials.includes(certificate.serial.toLowerCase()), `${certificate.serial} is an old certificate`);
      assert.equal(certificate.issuer, caIssuer);
      const days = (Date.parse(certificate.notAfter) - started) / 86400000;
      assert.ok(days > VALIDITY_DAYS - 1 && days <= VALIDITY_DAYS + 1, `valid for ${days} days`);
      assert.ok(done.includes(String(new Date(certificate.notAfter).getUTCFullYear())), `done lists the new expiry: ${done}`);
    }
    assert.equal(after.card.renewable, false);
    assert.equal(after.card.reason, 'NOT_DUE');
    const issued = await bed.standin.admin('/admin/api/issued');
    assert.equal(issued.length, 2);
    assert.deepEqual(issued.map((c) => c.serial.toLowerCase()).sort(), certificates.map((c) => c.serial.toLowerCase()).sort());

    // The passcode window is gone, and the passcode went nowhere but the card.
    const { contexts } = await firefox.bidi.send('browsingContext.getTree', { maxDepth: 0 });
    assert.ok(!contexts.some((c) => c.url.includes('/src/ui/pin.html')), 'the passcode window closed');
    assert.ok(!(await page.content()).includes(PASSCODE), 'passcode in the page DOM');
    assert.ok(!((await dialog.run((root) => root.textContent)) ?? '').includes(PASSCODE), 'passcode in the extension dialog');
    assert.ok(!firefox.console.some((line) => line.includes(PASSCODE)), 'passcode in a console');
    assert.ok(!readFileSync(bed.hostLog, 'utf8').includes(PASSCODE), 'passcode in the host log');
    assert.ok(!bed.standin.proc.stderr.includes(PASSCODE), 'passcode in the stand-in log');
  } finally {
    await tearDown(run);
  }
});
