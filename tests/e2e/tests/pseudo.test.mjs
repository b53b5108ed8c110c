// The pseudo-locale test build (lib/testBuild.mjs: every message 40% longer and accented, in
// brackets) through every state a real run reaches: no string of ours shows untranslated, and
// nothing is clipped or pushed out of the window. A failed request (the CA unreachable) is
// followed by Try again and a renewal that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bed, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, screenshotsDir, ShadowProbe } from '../lib/browser.mjs';
import { openServiceMenu, RENEW_ITEM } from '../lib/flow.mjs';
import { ShotFiles } from '../lib/shots.mjs';
import { makeTestBuild } from '../lib/testBuild.mjs';
import { writeFileSync } from 'node:fs';

const PASSCODE = 'Zq7vK29x';
const DIALOG = '[data-cis-renew="dialog"]';

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

/**
 * Problems in `scope` (a shadow host selector, or the whole document): text of ours outside a
 * pseudo message, and controls or text clipped or outside the window. `data` are the values
 * the page itself supplies (the holder's name), allowed as they are.
 */
async function problems(page, scope, data) {
  return page.evaluate(([scope, data]) => {
    const root = scope ? document.querySelector(scope)?.shadowRoot : document.body;
    if (!root) return [`${scope} not found`];
    const bad = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      const el = node.parentElement;
      if (!text || !el || el.closest('[hidden]') || el.closest('style')) continue;
      if (getComputedStyle(el).display === 'none') continue;
      if (/^[✓▶○]$/.test(text) || data.includes(text)) continue;
      // Inside a pseudo message: the bracketed text, or a part of one split by markup.
      const whole = (el.closest('[role="status"], p, li, td, th, button, label, h1, h2, [role="tooltip"]') || el).textContent;
      if (!/\[[^\]]*·+\]/.test(whole)) bad.push(`untranslated: "${text.slice(0, 60)}"`);
    }
    const controls = (scope ? root : document).querySelectorAll('button, input, h1, h2, label');
    for (const c of controls) {
      if (c.closest('[hidden]') || getComputedStyle(c).display === 'none') continue;
      const r = c.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.left < 0 || r.right > window.innerWidth + 0.5 || r.top < 0 || r.bottom > window.innerHeight + 0.5) bad.push(`outside: ${c.tagName} "${c.textContent.trim().slice(0, 30)}"`);
      if (c.scrollWidth > c.clientWidth + 1 || (c.tagName !== 'INPUT' && c.scrollHeight > c.clientHeight + 1 && getComputedStyle(c).overflow !== 'visible')) bad.push(`clipped: ${c.tagName} "${c.textContent.trim().slice(0, 30)}"`);
    }
    return bad;
  }, [scope, data]);
}

test('pseudo-locale: every state renders without clipping and with no untranslated string', async () => {
  const build = makeTestBuild({ openShadow: true, pseudo: true });
  const bed = await Bed.start({ validityDays: 730 });
  let browser;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv(), extensionDir: build.dir, windowSize: { width: 1280, height: 800 } });
    const page = await browser.context.newPage();
    const shots = new ViewShots(screenshotsDir('pseudo-locale'));
    const probe = new ShadowProbe(page);
    const holder = 'Alice Example';
    const check = async (target, scope, state) => {
      assert.deepEqual(await problems(target, scope, [holder]), [], `state "${state}"`);
      await shots.take(target, state);
    };
    await signIn(page, bed.standin.url);
    await openServiceMenu(page, card.tokenSerial);

    // The menu item, enabled; then disabled with its reason (card out).
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') === null, RENEW_ITEM, { timeout: 20000 });
    assert.match(await page.locator(RENEW_ITEM).innerText(), /^\[.*·+\]$/, 'the item label is ours, translated');
    await bed.readers.remove(MANAGED_READER);
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') === 'true', RENEW_ITEM, { timeout: 20000 });
    await page.focus(RENEW_ITEM);
    await page.waitForSelector('[data-cis-renew="tooltip"]', { state: 'visible' });
    assert.deepEqual(await problems(page, null, []).then((all) => all.filter((p) => /untranslated: "\[/.test(p) || /outside: .*\[/.test(p))), []);
    const tip = await page.evaluate(() => {
      const t = document.querySelector('[data-cis-renew="tooltip"]');
      const r = t.getBoundingClientRect();
      return { text: t.textContent, inside: r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight };
    });
    assert.match(tip.text, /^\[.*·+\]$/);
    assert.equal(tip.inside, true);
    await shots.take(page, 'menu-disabled-reason');
    await bed.readers.insert(MANAGED_READER);
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') === null, RENEW_ITEM, { timeout: 20000 });

    // The first attempt fails: the CA cannot be reached.
    let failCa = true;
    await page.context().route('**/simplereenroll', (route) => (failCa ? route.abort() : route.continue()));
    await page.click(RENEW_ITEM);
    await probe.waitFor('button[data-action="continue"]:not([aria-disabled])');
    await check(page, DIALOG, 'confirmation');
    const pinPage = page.context().waitForEvent('page', { predicate: (p) => p.url().includes('/src/ui/pin.html'), timeout: 20000 });
    await probe.click('button[data-action="continue"]');
    const pinWindow = await pinPage;
    await pinWindow.waitForSelector('#form[data-ready]');
    await probe.waitFor('button[data-action="showPin"]:not([hidden])');
    await check(page, DIALOG, 'waiting-for-passcode');
    await check(pinWindow, null, 'passcode-window');
    await pinWindow.type('#pin', '00000000');
    await pinWindow.press('#pin', 'Enter');
    await pinWindow.locator('#error').waitFor({ state: 'visible', timeout: 20000 });
    await pinWindow.waitForSelector('#form[data-ready]');
    await check(pinWindow, null, 'wrong-passcode');

    // The final-try confirmation, as the worker sends it when the card is on its last try
    // (SoftHSM never gets there; the APDU test cards of issue 11 do).
    await browser.worker.evaluate(() => self.cisRenewWorker.app.pinWindow.show({ type: 'pin.show', card: { serial: 'x', holder: 'Alice Example' }, pinLength: { min: 4, max: 64 }, finalTry: true, error: { code: 'PIN_INCORRECT', pin: 'finalTry', triesLeft: 1 } }));
    await pinWindow.waitForSelector('#final-try:not([hidden])');
    await pinWindow.waitForSelector('#form[data-ready]');
    await check(pinWindow, null, 'final-try-confirmation');
    await pinWindow.check('#confirm-final-try');
    await pinWindow.type('#pin', PASSCODE);
    await pinWindow.press('#pin', 'Enter').catch((e) => assert.match(String(e), /closed/));
    await probe.waitFor('dialog[open] button[data-action="retry"]', { timeout: 60000 });
    await check(page, DIALOG, 'failed-ca-unreachable');

    // Try again: back to the confirmation, then through to the end.
    failCa = false;
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    await page.context().unroute('**/simplereenroll');
    await page.context().route('**/simplereenroll', async (route) => { await held; await route.continue(); });
    await probe.click('button[data-action="retry"]');
    await probe.waitFor('button[data-action="continue"]:not([aria-disabled])');
    const pinPage2 = page.context().waitForEvent('page', { predicate: (p) => p.url().includes('/src/ui/pin.html'), timeout: 20000 });
    await probe.click('button[data-action="continue"]');
    const pinWindow2 = await pinPage2;
    await pinWindow2.waitForSelector('#form[data-ready]');
    await pinWindow2.type('#pin', PASSCODE);
    // The window closes as soon as the passcode is accepted, maybe before press() returns.
    await pinWindow2.press('#pin', 'Enter').catch((e) => assert.match(String(e), /closed/));
    await probe.waitFor('li[data-step="request"][aria-current="step"]', { timeout: 30000 });
    await check(page, DIALOG, 'requesting');
    release();
    await probe.waitFor('dialog[open] button[data-action="dismiss"]', { timeout: 60000 });
    await check(page, DIALOG, 'done');
    assert.equal(bed.hostStatus().card.reason, 'NOT_DUE', 'renewed after Try again');
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
    build.remove();
  }
});
