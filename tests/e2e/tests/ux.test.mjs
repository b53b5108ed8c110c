// The sponsor's and the holder's experience (issue 14) and the stray-key rules (issue 13), in a
// real Chromium with the real host and the stand-in: a keyboard-only renewal that checks where
// focus is after every step and counts the key presses, axe-core on every state it passes
// through, screenshots at 1280x800 and at 200% zoom, and no control outside the visible area.
// Runs on a test build whose dialog shadow roots are open (lib/testBuild.mjs); the product's
// are closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Bed, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, screenshotsDir, ShadowProbe } from '../lib/browser.mjs';
import { ShotFiles } from '../lib/shots.mjs';
import { openServiceMenu, RENEW_ITEM } from '../lib/flow.mjs';
import { makeTestBuild } from '../lib/testBuild.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PASSCODE = 'Zq7vK29x';
const ARM_MS = 1500; // the test build's inert time for Continue (the product's is 500 ms)
const DIALOG = '[data-cis-renew="dialog"]';

/** axe-core on `include` (our own UI only: the stand-in's page is not under test). */
async function axe(page, include, state) {
  await page.evaluate(`window.axe || (function () { ${AXE}\n })()`);
  const violations = await page.evaluate(async (include) => {
    const context = include ? { include: include.filter((s) => document.querySelector(s)).map((s) => [s]) } : document;
    const result = await window.axe.run(context, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
  }, include);
  assert.deepEqual(violations, [], `axe in state "${state}"`);
}

/** Where focus is, through open shadow roots: "dialog h2 Renew the…" / "#pin". */
function focusOf(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    const path = [];
    while (el && el.shadowRoot && el.shadowRoot.activeElement) {
      path.push(el.getAttribute('data-cis-renew') || el.tagName.toLowerCase());
      el = el.shadowRoot.activeElement;
    }
    if (!el) return 'none';
    const tag = el.tagName.toLowerCase();
    const name = el.getAttribute('data-action') ? `[${el.getAttribute('data-action')}]` : el.hasAttribute('data-cis-renew-control') ? '[renew]' : /^h\d$/.test(tag) ? tag : el.id ? `#${el.id}` : tag;
    return [...path, name].join(' ');
  });
}

/** Every control of our dialog (or the whole page, for the passcode window) lies inside the window. */
async function assertControlsVisible(page, scope, state) {
  const outside = await page.evaluate((scope) => {
    const root = scope ? document.querySelector(scope)?.shadowRoot : document;
    if (!root) return ['no dialog'];
    const bad = [];
    for (const c of root.querySelectorAll('button, input, h1, h2, [role="status"]')) {
      if (c.hidden || c.closest('[hidden]')) continue;
      const r = c.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.left < 0 || r.top < 0 || r.right > window.innerWidth + 0.5 || r.bottom > window.innerHeight + 0.5) bad.push(`${c.tagName} ${c.textContent.trim().slice(0, 30)} at ${Math.round(r.left)},${Math.round(r.top)}-${Math.round(r.right)},${Math.round(r.bottom)} in ${window.innerWidth}x${window.innerHeight}`);
      if (c.scrollWidth > c.clientWidth + 1 && c.tagName === 'BUTTON') bad.push(`${c.tagName} ${c.textContent.trim().slice(0, 30)} clipped`);
    }
    // The passcode window is sized to its content: nothing below the fold.
    // (unless the screen is too small for it: then the window is as tall as the screen).
    const asTallAsItCanBe = window.outerHeight >= window.screen.availHeight - 2;
    if (!scope && document.documentElement.scrollHeight > window.innerHeight + 1 && !asTallAsItCanBe) bad.push(`page ${document.documentElement.scrollHeight} px high in a ${window.innerHeight} px window`);
    return bad;
  }, scope);
  assert.deepEqual(outside, [], `controls outside the visible area in "${state}"`);
}

/** The passcode window resizes itself to its content; give it a moment to settle. */
async function waitForFit(pinWindow) {
  await pinWindow.waitForFunction(() => document.documentElement.scrollHeight <= window.innerHeight + 1, null, { timeout: 5000 }).catch(() => {});
}

/** What the window shows, as rendered (Playwright's own screenshots misplace a zoomed page). */
class ViewShots extends ShotFiles {
  async take(page, name) {
    const cdp = await page.context().newCDPSession(page);
    try {
      const { data } = await cdp.send('Page.captureScreenshot', { format: 'png' });
      writeFileSync(this.next(name), Buffer.from(data, 'base64'));
    } finally {
      await cdp.detach().catch(() => {});
    }
  }
}

async function renewalPhase(worker) {
  return worker.evaluate(() => self.cisRenewWorker.app.renewal.view()?.phase ?? null);
}

async function keyboardRenewal(name, { zoom }) {
  const build = makeTestBuild({ openShadow: true, armDelayMs: ARM_MS });
  const bed = await Bed.start({ validityDays: 730 });
  let browser;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv(), extensionDir: build.dir, windowSize: { width: 1280, height: 800 }, zoom });
    const page = await browser.context.newPage();
    const shots = new ViewShots(screenshotsDir(name));
    const probe = new ShadowProbe(page);
    await signIn(page, bed.standin.url);
    assert.equal(await page.evaluate(() => window.devicePixelRatio), zoom ?? 1, 'the browser zoom is in effect');

    // Disabled with its reason: the card is out of the reader for a moment.
    await openServiceMenu(page, card.tokenSerial);
    // First enabled (the worker's watch is running), then the card goes; on a timeout the
    // error says what the worker saw.
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') === null, RENEW_ITEM, { timeout: 20000 }).catch(async (e) => {
      const worker = await browser.worker.evaluate(async () => JSON.stringify({ host: self.cisRenewWorker.host.state, error: self.cisRenewWorker.host.error, status: self.cisRenewWorker.app.hub.status, scripts: await chrome.scripting.getRegisteredContentScripts(), tabs: self.cisRenewWorker.app.hub.tabs.size }));
      await shots.take(page, 'failure');
      const item = await page.evaluate((s) => document.querySelector(s)?.outerHTML, RENEW_ITEM);
      throw new Error(`${e.message}; worker ${worker}; item ${item}`);
    });
    await bed.readers.remove(MANAGED_READER);
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') === 'true', RENEW_ITEM, { timeout: 20000 });
    await page.focus(RENEW_ITEM);
    await page.waitForSelector('[data-cis-renew="tooltip"]', { state: 'visible' });
    await axe(page, ['#service-menu', '[data-cis-renew="tooltip"]'], 'menu disabled with reason');
    const tip = await page.evaluate(() => {
      const t = document.querySelector('[data-cis-renew="tooltip"]').getBoundingClientRect();
      const others = [...document.querySelectorAll('#service-menu [role="menuitem"]:not([data-cis-renew])')].map((e) => e.getBoundingClientRect());
      const inside = t.left >= 0 && t.right <= innerWidth && t.top >= 0 && t.bottom <= innerHeight;
      return { covers: others.some((r) => t.left < r.right && t.right > r.left && t.top < r.bottom && t.bottom > r.top), inside: inside || JSON.stringify([t, innerWidth, innerHeight]) };
    });
    assert.deepEqual(tip, { covers: false, inside: true }, 'the tooltip covers no other item and stays in the window');
    await shots.take(page, 'menu-disabled-reason');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('[data-cis-renew="tooltip"]').isVisible(), false, 'Escape dismisses the tooltip');
    assert.equal(await page.locator('#service-menu').isVisible(), true, 'and leaves the menu open');
    await page.keyboard.press('Escape');
    await bed.readers.insert(MANAGED_READER);

    // From here on, only the keyboard.
    let presses = 0;
    const press = async (target, key) => {
      presses += 1;
      await target.keyboard.press(key);
    };
    const expectFocus = async (target, want, step) => {
      const deadline = Date.now() + 10000;
      let got;
      while (Date.now() < deadline) {
        got = await focusOf(target);
        if (want instanceof RegExp ? want.test(got) : got === want) return;
        await target.waitForTimeout(50);
      }
      assert.fail(`after ${step}, focus is on "${got}", not ${want}`);
    };
    await page.focus('#select-service');
    await press(page, 'Enter');
    await expectFocus(page, /^(a|li|button|#.*)/, 'opening Select Service');
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') !== 'true', RENEW_ITEM, { timeout: 20000 });
    await press(page, 'End');
    await expectFocus(page, '[renew]', 'End in the menu');
    await axe(page, ['#service-menu'], 'menu enabled');
    await shots.take(page, 'menu-enabled');

    await press(page, 'Enter');
    await probe.waitFor('dialog[open] h2', { text: /Renew the certificates/ });
    await expectFocus(page, 'dialog h2', 'Renew Certificate (the confirmation starts at its heading)');
    // Issue 13: Continue is not focused first and ignores a press in its first moment.
    const t0 = Date.now();
    await page.keyboard.press('Tab');
    await expectFocus(page, 'dialog [continue]', 'Tab from the heading');
    await page.keyboard.press('Enter');
    assert.ok(Date.now() - t0 < ARM_MS, 'the stray Enter came inside the inert time');
    await page.waitForTimeout(ARM_MS);
    assert.equal(await renewalPhase(browser.worker), null, 'a press before Continue was armed started nothing');
    await axe(page, [DIALOG], 'confirmation');
    await assertControlsVisible(page, DIALOG, 'confirmation');
    await shots.take(page, 'confirmation');

    const pinPage = page.context().waitForEvent('page', { predicate: (p) => p.url().includes('/src/ui/pin.html'), timeout: 20000 });
    presses += 1; // the Tab above counts as part of the renewal; the stray Enter does not
    await press(page, 'Enter');
    const pinWindow = await pinPage;
    await pinWindow.waitForSelector('#pin:not([disabled])');
    await expectFocus(pinWindow, '#pin', 'Continue (the passcode window has focus)');
    assert.match(await pinWindow.locator('#card').innerText(), new RegExp(card.tokenSerial, 'i'), 'the window names the card serial');
    assert.match(await pinWindow.locator('#holder-types').innerText(), /own passcode/);
    await probe.waitFor('button[data-action="showPin"]:not([hidden])');
    await axe(page, [DIALOG], 'waiting for the passcode');
    await assertControlsVisible(page, DIALOG, 'waiting for the passcode');
    await shots.take(page, 'waiting-for-passcode');
    await waitForFit(pinWindow);
    await axe(pinWindow, null, 'passcode window');
    await assertControlsVisible(pinWindow, null, 'passcode window');
    await shots.take(pinWindow, 'passcode-window');

    await pinWindow.waitForSelector('#form[data-ready]'); // the window ignores keys for its first moment
    await pinWindow.keyboard.type('00000000');
    await press(pinWindow, 'Enter');
    await pinWindow.locator('#error').waitFor({ state: 'visible', timeout: 20000 });
    await pinWindow.waitForSelector('#pin:not([disabled])');
    await expectFocus(pinWindow, '#pin', 'a wrong passcode (focus back in the field)');
    await waitForFit(pinWindow);
    await axe(pinWindow, null, 'wrong passcode');
    await assertControlsVisible(pinWindow, null, 'wrong passcode');
    await shots.take(pinWindow, 'wrong-passcode');

    // Hold the CA's answers so the busy dialog can be looked at while it requests.
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    await page.context().route('**/simplereenroll', async (route) => {
      await held;
      await route.continue();
    });
    await pinWindow.waitForSelector('#form[data-ready]');
    await pinWindow.keyboard.type(PASSCODE);
    await press(pinWindow, 'Enter');
    await probe.waitFor('li[data-step][aria-current="step"]', { text: /Requesting/i, timeout: 30000 });
    await expectFocus(page, /^dialog (h2|\[cancel\])$/, 'the passcode was accepted');
    await axe(page, [DIALOG], 'requesting certificates');
    await assertControlsVisible(page, DIALOG, 'requesting certificates');
    await shots.take(page, 'requesting');
    release();

    await probe.waitFor('dialog[open] h2', { text: /renewed/i, timeout: 60000 });
    await expectFocus(page, 'dialog h2', 'done (the result starts at its heading)');
    await axe(page, [DIALOG], 'done');
    await assertControlsVisible(page, DIALOG, 'done');
    await shots.take(page, 'done');
    await press(page, 'Tab');
    await expectFocus(page, 'dialog [dismiss]', 'Tab to Close');
    const reloaded = page.waitForEvent('load', { timeout: 20000 });
    await press(page, 'Enter');
    await reloaded;
    await expectFocus(page, '#select-service', 'Close (the dashboard reloaded its card details)');
    await shots.take(page, 'after-close');
    assert.equal(presses, 9, `key presses for the whole renewal besides the two passcodes: ${presses}`);
    assert.equal(bed.hostStatus().card.reason, 'NOT_DUE', 'the card was renewed');
    console.log(`${name}: ${presses} key presses plus ${'00000000'.length + PASSCODE.length} passcode characters`);
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
    build.remove();
  }
}

test('ux: keyboard-only renewal at 1280x800, axe on every state, focus after every step', async () => {
  await keyboardRenewal('ux-keyboard-1280x800', {});
});

test('ux: the same at 200% zoom (browser zoom 200% in a 1280x800 window)', async () => {
  await keyboardRenewal('ux-keyboard-200pct', { zoom: 2 });
});
