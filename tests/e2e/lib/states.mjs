// Every state of the sponsor's and the holder's experience (issue 14), reached once, in order,
// with the keyboard only, in a real Chromium with the real extension (a test build whose dialog
// shadow roots are open), the real host on OpenSC and the virtual SmartCard-HSM (which counts
// passcode tries itself), and the stand-in. At each state the caller's `check` runs (axe-core,
// screenshots and controls in view for ux.test.mjs; clipping and untranslated text for
// pseudo.test.mjs), so the states are listed here once.
//
// The busy steps are held, not raced: the host's delay hook (CIS_RENEW_TEST_DELAY) keeps it at
// each card step long enough for the step to show, and the walk then stops the host process
// (SIGSTOP, through the PID its wrapper script wrote) until the check is done; the CA's answer
// is held by routing the EST request.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Bed, MANAGED_READER, HOST_BIN } from './bed.mjs';
import { launch, writePolicy, removePolicy, signIn } from './browser.mjs';
import { ShotFiles } from './shots.mjs';
import { openServiceMenu, RENEW_ITEM } from './flow.mjs';
import { makeTestBuild } from './testBuild.mjs';

export const DIALOG = '[data-cis-renew="dialog"]';
export const TOOLTIP = '[data-cis-renew="tooltip"]';
export const PASSCODE = '47110815';
const WRONG = '99999999';
const ARM_MS = 1500; // the test build's inert time for Continue (the product's is 500 ms)
const STEP_DELAY_MS = 1500; // how long the host dwells at each held step before the walk stops it
const HOLDER = 'Alice Example';

/**
 * The states, in the order the walk reaches them: `where` is 'menu' (the dashboard's menu with
 * our item and tooltip), 'dialog' (our dialog in the page) or 'pin' (the passcode window).
 */
export const STATES = Object.freeze([
  { name: 'menu-enabled', where: 'menu' },
  { name: 'menu-disabled-reason', where: 'menu' },
  { name: 'confirmation', where: 'dialog' },
  { name: 'waiting-for-passcode', where: 'dialog' },
  { name: 'passcode-window', where: 'pin' },
  { name: 'wrong-passcode', where: 'pin' },
  { name: 'final-try-confirmation', where: 'pin' },
  { name: 'final-try-waiting', where: 'dialog' },
  { name: 'locked', where: 'dialog' },
  { name: 'signing-in', where: 'dialog' },
  { name: 'making-keys', where: 'dialog' },
  { name: 'requesting', where: 'dialog' },
  { name: 'failed-ca-unreachable', where: 'dialog' },
  { name: 'cancelled', where: 'dialog' },
  { name: 'installing', where: 'dialog' },
  { name: 'done', where: 'dialog' },
]);

/** The exact key presses of a renewal from Select Service to Close, besides the passcode's characters. */
export const RENEWAL_PRESSES = 8;

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core violations in `include` (selectors; our own UI only) or the whole document. */
export async function axeViolations(page, include) {
  await page.evaluate(`window.axe || (function () { ${AXE}\n })()`);
  return page.evaluate(async (include) => {
    const context = include ? { include: include.filter((s) => document.querySelector(s)).map((s) => [s]) } : document;
    const result = await window.axe.run(context, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
  }, include);
}

/**
 * Where focus is, by role and accessible name, through open shadow roots:
 * `dialog button "Continue"`, `heading "Renew the certificates on this card?"` (in the dialog:
 * prefixed `dialog`), `textbox "Passcode"`, `menuitem "Renew Certificate"`.
 */
export function focusOf(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    let root = document;
    const path = [];
    while (el && el.shadowRoot && el.shadowRoot.activeElement) {
      path.push(el.getAttribute('data-cis-renew') || el.tagName.toLowerCase());
      root = el.shadowRoot;
      el = el.shadowRoot.activeElement;
    }
    if (!el || el === document.body) return 'none';
    const implicit = { BUTTON: 'button', A: 'link', H1: 'heading', H2: 'heading', H3: 'heading', SELECT: 'combobox', TEXTAREA: 'textbox', LI: 'listitem', DIALOG: 'dialog' };
    const role = el.getAttribute('role') || (el.tagName === 'INPUT' ? (['checkbox', 'radio'].includes(el.type) ? el.type : 'textbox') : implicit[el.tagName] || el.tagName.toLowerCase());
    const squash = (text) => (text || '').replace(/\s+/g, ' ').trim();
    const byIds = (ids) => ids.split(/\s+/).map((id) => root.getElementById(id)?.textContent ?? '').join(' ');
    const name = squash(el.getAttribute('aria-label'))
      || squash(el.getAttribute('aria-labelledby') && byIds(el.getAttribute('aria-labelledby')))
      || squash(el.labels && [...el.labels].map((l) => l.textContent).join(' '))
      || squash(el.textContent);
    return [...path, `${role} "${name}"`].join(' ');
  });
}

/**
 * Controls (buttons, links, inputs, headings, the live region) of our dialog, our tooltip, or
 * the whole passcode window (every line of text there too) that lie outside the window or are
 * clipped, as rendered: no scrolling allowed. The passcode window must need no scrolling at all.
 */
export function controlsOutside(page, where) {
  return page.evaluate((where) => {
    const roots = where === 'dialog' ? [document.querySelector('[data-cis-renew="dialog"]')?.shadowRoot] : where === 'menu' ? [document.querySelector('[data-cis-renew="tooltip"]')] : [document];
    if (!roots[0]) return [`no ${where}`];
    const bad = [];
    const controls = [];
    for (const root of roots) {
      // In the menu only our tooltip: the item sits where the dashboard's own layout puts it
      // (at 200% zoom the stand-in's page is wider than the window and scrolls).
      if (where === 'menu') {
        if (root.style.display !== 'none') controls.push(root);
      } else controls.push(...root.querySelectorAll(`button, a[href], input, select, textarea, label, h1, h2, [role="status"]:not(:empty), [role="alert"]:not(:empty)${where === 'pin' ? ', p:not(:empty)' : ''}`));
    }
    for (const c of controls) {
      if (c.hidden || c.closest('[hidden]') || getComputedStyle(c).display === 'none') continue;
      const r = c.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const label = `${c.tagName} "${c.textContent.trim().slice(0, 30)}"`;
      if (r.left < -0.5 || r.top < -0.5 || r.right > window.innerWidth + 0.5 || r.bottom > window.innerHeight + 0.5) bad.push(`${label} at ${Math.round(r.left)},${Math.round(r.top)}-${Math.round(r.right)},${Math.round(r.bottom)} in ${window.innerWidth}x${window.innerHeight}`);
      if (c.tagName !== 'INPUT' && c.scrollWidth > c.clientWidth + 1) bad.push(`${label} clipped (${c.scrollWidth} > ${c.clientWidth})`);
    }
    if (where === 'pin' && document.documentElement.scrollHeight > window.innerHeight + 1) bad.push(`page ${document.documentElement.scrollHeight} px high in a ${window.innerHeight} px window`);
    return bad;
  }, where);
}

/** What the window shows, as rendered (Playwright's own screenshots misplace a zoomed page). */
export class ViewShots extends ShotFiles {
  async take(page, name) {
    const cdp = await page.context().newCDPSession(page);
    try {
      const { data } = await cdp.send('Page.captureScreenshot', { format: 'png' });
      const file = this.next(name);
      writeFileSync(file, Buffer.from(data, 'base64'));
      return file;
    } finally {
      await cdp.detach().catch(() => {});
    }
  }
}

/** The host as the browser starts it, through a wrapper that writes its PID, so the walk can stop it at a step. */
class HeldHost {
  constructor(dir) {
    this.pidFile = path.join(dir, 'host.pid');
    this.script = path.join(dir, 'host-wrapper.sh');
    writeFileSync(this.script, `#!/bin/sh\necho $$ > '${this.pidFile}'\nexec '${HOST_BIN}' "$@"\n`);
    chmodSync(this.script, 0o755);
  }

  /** Runs `fn` with the host stopped (it cannot move to the next step meanwhile). */
  async hold(fn) {
    const pid = Number(readFileSync(this.pidFile, 'utf8'));
    process.kill(pid, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }
}

/** Waits until `selector` in our dialog's (open) shadow root matches, with `text` in it if given. */
function dialogHas(page, selector, { text, timeout = 60000 } = {}) {
  return page.waitForFunction(([host, selector, text]) => {
    const node = document.querySelector(host)?.shadowRoot?.querySelector(selector);
    if (!node) return false;
    return !text || node.textContent.includes(text);
  }, [DIALOG, selector, text], { timeout, polling: 50 });
}

function dialogText(page) {
  return page.evaluate((host) => document.querySelector(host)?.shadowRoot?.querySelector('dialog')?.textContent ?? '', DIALOG);
}

/**
 * Walks every state of STATES with the keyboard. `check({ state, where, page, messages })`
 * runs at each; `messages` is the build's en messages (the pseudo ones in a pseudo build).
 * Returns the key presses of the final renewal and the states checked.
 */
export async function walkStates({ zoom, pseudo = false, check }) {
  const build = makeTestBuild({ openShadow: true, pseudo, armDelayMs: ARM_MS });
  const messages = JSON.parse(readFileSync(path.join(build.dir, '_locales/en/messages.json'), 'utf8'));
  const words = (key) => messages[key].message;
  const PIN_FIELD = `textbox "${words('pinLabel')}"`;
  const CLOSE = `dialog button "${words('dlgClose')}"`;
  const bed = await Bed.start({ validityDays: 730, opensc: true });
  const host = new HeldHost(bed.dir);
  let browser;
  let page;
  const seen = [];
  try {
    // Two SmartCard-HSMs for Alice: the first is locked on the way, the second renewed.
    const first = await bed.schsmCard({ reader: MANAGED_READER, user: 'alice', pin: PASSCODE, name: 'schsm-first' });
    const second = await bed.schsmCard({ reader: MANAGED_READER, user: 'alice', pin: PASSCODE, name: 'schsm-second', insert: false });
    writePolicy(bed.standin.url);
    browser = await launch({
      hostEnv: { ...bed.hostEnv(), CIS_RENEW_TEST_DELAY: `login:${STEP_DELAY_MS},generateKey:${STEP_DELAY_MS},install:${STEP_DELAY_MS}` },
      hostPath: host.script,
      extensionDir: build.dir,
      windowSize: { width: 1280, height: 800 },
      zoom,
    });
    page = await browser.context.newPage();
    await signIn(page, bed.standin.url);
    assert.equal(await page.evaluate(() => window.devicePixelRatio), zoom ?? 1, 'the browser zoom is in effect');

    const at = async (name, target) => {
      const state = STATES.find((s) => s.name === name);
      assert.ok(state, `unknown state ${name}`);
      assert.equal(seen.length, STATES.indexOf(state), `state ${name} comes after ${seen.at(-1)}`);
      seen.push(name);
      await check({ state: name, where: state.where, page: target, messages });
    };

    // Keyboard only from here on (the dashboard's own card lookup aside); presses are counted.
    let presses = 0;
    const press = async (target, key) => {
      presses += 1;
      await target.keyboard.press(key);
    };
    const expectFocus = async (target, want, step) => {
      const deadline = Date.now() + 15000;
      let got;
      while (Date.now() < deadline) {
        got = await focusOf(target);
        if (want instanceof RegExp ? want.test(got) : Array.isArray(want) ? want.includes(got) : got === want) return;
        await target.waitForTimeout(50);
      }
      assert.fail(`after ${step}, focus is on "${got}", not ${want}`);
    };
    const renewEnabled = () => page.waitForFunction((s) => {
      const el = document.querySelector(s);
      return el && el.getAttribute('aria-disabled') !== 'true';
    }, RENEW_ITEM, { timeout: 30000 });
    const pinOpens = () => page.context().waitForEvent('page', { predicate: (p) => p.url().includes('/src/ui/pin.html'), timeout: 30000 });
    const typeIn = async (pinWindow, text) => {
      await pinWindow.waitForSelector('#form[data-ready]', { timeout: 30000 }); // it ignores keys for its first moment
      await pinWindow.keyboard.type(text);
    };
    /** Select Service -> End -> Renew Certificate -> (Continue armed) Tab -> Enter: the passcode window. */
    const toPasscodeWindow = async (label, { beforeContinue = async () => {}, strayEnter = false } = {}) => {
      // No programmatic focus: the last Escape or Close left it on Select Service.
      await expectFocus(page, 'button "Select Service"', `${label}: the start`);
      await press(page, 'Enter');
      await expectFocus(page, /^menuitem "/, `${label}: opening Select Service`);
      await renewEnabled();
      await press(page, 'End');
      await expectFocus(page, `menuitem "${words('menuRenew')}"`, `${label}: End in the menu`);
      await press(page, 'Enter');
      await dialogHas(page, 'dialog[open] h2', { text: words('dlgConfirmTitle') });
      await expectFocus(page, `dialog heading "${words('dlgConfirmTitle')}"`, `${label}: Renew Certificate (the confirmation starts at its heading)`);
      const t0 = Date.now();
      await press(page, 'Tab');
      await expectFocus(page, `dialog button "${words('dlgContinue')}"`, `${label}: Tab from the heading`);
      if (strayEnter) {
        // Issue 13: a press in Continue's first moment starts nothing.
        await page.keyboard.press('Enter');
        assert.ok(Date.now() - t0 < ARM_MS, 'the stray Enter came inside the inert time');
      }
      await dialogHas(page, 'button[data-action="continue"]:not([aria-disabled])');
      if (strayEnter) assert.equal(await browser.worker.evaluate(() => self.cisRenewWorker.app.renewal.view()?.phase ?? null), null, 'a press before Continue was armed started nothing');
      await beforeContinue();
      const opening = pinOpens();
      await press(page, 'Enter');
      const pinWindow = await opening;
      await pinWindow.waitForSelector('#pin:not([disabled])', { timeout: 30000 });
      await expectFocus(pinWindow, PIN_FIELD, `${label}: Continue (the passcode window has focus)`);
      return pinWindow;
    };
    /** At the result: Tab to Close (after Try again, if offered), Enter; focus back on Select Service. */
    const closeResult = async (label, titleKey, { reloads = false } = {}) => {
      await expectFocus(page, `dialog heading "${words(titleKey)}"`, `${label} (the result starts at its heading)`);
      await press(page, 'Tab');
      await expectFocus(page, [CLOSE, `dialog button "${words('dlgTryAgain')}"`], `${label}: Tab`);
      if ((await focusOf(page)) === `dialog button "${words('dlgTryAgain')}"`) {
        await press(page, 'Tab');
        await expectFocus(page, CLOSE, `${label}: Tab past Try again`);
      }
      const reloaded = reloads ? page.waitForEvent('load', { timeout: 30000 }) : null;
      await press(page, 'Enter');
      await reloaded;
      await expectFocus(page, 'button "Select Service"', `${label}: Close (back on the dashboard's Select Service)`);
      assert.equal(await page.evaluate((s) => Boolean(document.querySelector(s)), DIALOG), false, `${label}: the dialog is gone`);
    };
    /** At a card step: wait for its words in the live region, stop the host there, check, let it go on. */
    const liveText = () => page.evaluate((h) => document.querySelector(h)?.shadowRoot?.querySelector('[role="status"]')?.textContent ?? '', DIALOG);
    const holdAtStep = (name, stepKey) => async () => {
      const prefix = words(stepKey).split('$')[0].replace(/[(\s]+$/, ''); // "Making keys" of "Making keys ($N$ of $OF$)…"
      await page.waitForFunction(([h, prefix]) => document.querySelector(h)?.shadowRoot?.querySelector('[role="status"]')?.textContent.startsWith(prefix), [DIALOG, prefix], { timeout: 60000, polling: 50 });
      await host.hold(async () => {
        const live = await liveText();
        assert.ok(live.startsWith(prefix), `${name}: the host was held at "${live}", past the step (raise STEP_DELAY_MS?)`);
        await at(name, page);
      });
    };

    // --- The menu: enabled, then disabled with its reason (the card out for a moment). ---
    await openServiceMenu(page, first.tokenSerial);
    await renewEnabled();
    // The mouse opened the menu and left focus on Select Service: again with the keyboard.
    await page.keyboard.press('Escape');
    await expectFocus(page, 'button "Select Service"', 'Escape after the click');
    await page.keyboard.press('Enter');
    await expectFocus(page, /^menuitem "/, 'Enter on Select Service');
    await page.keyboard.press('End');
    await expectFocus(page, `menuitem "${words('menuRenew')}"`, 'End in the menu');
    await at('menu-enabled', page);
    await bed.readers.remove(MANAGED_READER);
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') === 'true', RENEW_ITEM, { timeout: 30000 });
    await page.keyboard.press('Home'); // away and back: the tooltip shows on focus
    await page.keyboard.press('End');
    await expectFocus(page, /^menuitem "/, 'Home, End in the menu with the item disabled');
    assert.equal(await page.evaluate((s) => document.activeElement?.closest(s) !== null, RENEW_ITEM), true, 'End reaches the disabled item');
    await page.waitForSelector(TOOLTIP, { state: 'visible' });
    const tip = await page.evaluate((sel) => {
      const t = document.querySelector(sel).getBoundingClientRect();
      const others = [...document.querySelectorAll('#service-menu [role="menuitem"]:not([data-cis-renew])')].map((e) => e.getBoundingClientRect());
      return { covers: others.some((r) => t.left < r.right && t.right > r.left && t.top < r.bottom && t.bottom > r.top) };
    }, TOOLTIP);
    assert.deepEqual(tip, { covers: false }, 'the tooltip covers no other item');
    await at('menu-disabled-reason', page);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator(TOOLTIP).isVisible(), false, 'Escape dismisses the tooltip');
    assert.equal(await page.locator('#service-menu').isVisible(), true, 'and leaves the menu open');
    await page.keyboard.press('Escape');
    await bed.insertSchsm(first);

    // --- The first card: wrong passcodes count down on the card until it locks. ---
    const pin1 = await toPasscodeWindow('first card', {
      beforeContinue: () => at('confirmation', page),
    });
    await dialogHas(page, 'button[data-action="showPin"]:not([hidden])');
    await at('waiting-for-passcode', page);
    assert.ok((await pin1.locator('#card').textContent()).includes(first.tokenSerial), 'the window names the card serial');
    assert.ok((await pin1.locator('#card').textContent()).includes(HOLDER), 'and the holder');
    assert.equal(await pin1.locator('#holder-types').textContent(), words('pinHolderTypes'), 'and says the holder types their own passcode');
    await at('passcode-window', pin1);
    await typeIn(pin1, WRONG);
    await press(pin1, 'Enter');
    await pin1.waitForFunction((want) => document.getElementById('error')?.textContent === want, words('errPinCountLow'), { timeout: 30000 });
    await pin1.waitForSelector('#pin:not([disabled])');
    await expectFocus(pin1, PIN_FIELD, 'a wrong passcode (focus back in the field)');
    await at('wrong-passcode', pin1);
    await typeIn(pin1, WRONG);
    await press(pin1, 'Enter');
    await pin1.locator('#final-try').waitFor({ state: 'visible', timeout: 30000 });
    await expectFocus(pin1, `checkbox "${words('pinFinalTryConfirm')}"`, 'the second wrong passcode (the final-try confirmation)');
    assert.equal(await pin1.locator('#error').textContent(), words('errPinFinalTry'));
    await at('final-try-confirmation', pin1);
    await dialogHas(page, '[role="status"]', { text: words('dlgPinFinalTry') });
    await at('final-try-waiting', page);
    await pin1.waitForSelector('#form[data-ready]'); // keys in the window's first moment are dropped
    await press(pin1, 'Space');
    assert.equal(await pin1.isChecked('#confirm-final-try'), true, 'Space ticks the confirmation');
    await press(pin1, 'Tab');
    await expectFocus(pin1, PIN_FIELD, 'Tab from the ticked confirmation');
    await typeIn(pin1, WRONG);
    const closed = pin1.waitForEvent('close', { timeout: 30000 });
    await press(pin1, 'Enter').catch((e) => { if (!pin1.isClosed()) throw e; });
    await closed;
    await dialogHas(page, '[role="status"]', { text: words('errPinLocked') });
    assert.equal(JSON.parse(readFileSync(first.cardFile, 'utf8')).pinTriesLeft, 0, 'the card counted the tries down to 0');
    await at('locked', page);
    await closeResult('locked', 'dlgFailedTitle');

    // --- The second card. ---
    await bed.readers.remove(MANAGED_READER);
    await bed.insertSchsm(second);
    await page.goto(bed.standin.url); // the dashboard's home page, to look the new card up
    await page.waitForSelector('body[data-page="home"]');
    await openServiceMenu(page, second.tokenSerial);
    await renewEnabled();
    await page.keyboard.press('Escape');

    // The CA cannot be reached: signing in and making keys are held on the way.
    let release;
    let held = new Promise((resolve) => { release = resolve; });
    let unreachable = true;
    await page.context().route('**/simplereenroll', async (route) => {
      await held;
      if (unreachable) await route.abort('connectionrefused');
      else await route.continue();
    });
    const pin2 = await toPasscodeWindow('CA unreachable');
    await typeIn(pin2, PASSCODE);
    const signingIn = holdAtStep('signing-in', 'stepLogin')();
    await press(pin2, 'Enter').catch((e) => { if (!pin2.isClosed()) throw e; });
    await signingIn;
    await holdAtStep('making-keys', 'stepGenerateKeyOf')();
    await dialogHas(page, 'li[data-step="request"][aria-current="step"]');
    await expectFocus(page, `dialog heading "${words('dlgBusyTitle')}"`, 'the passcode was accepted (the busy dialog at its heading)');
    await at('requesting', page);
    release();
    await dialogHas(page, 'dialog[open] h2', { text: words('dlgFailedTitle') });
    await dialogHas(page, '[role="status"]', { text: words('errServiceUnreachable') });
    await at('failed-ca-unreachable', page);

    // Try again: the confirmation afresh; then the holder cancels in the passcode window (Escape).
    await expectFocus(page, `dialog heading "${words('dlgFailedTitle')}"`, 'the failure (the result starts at its heading)');
    await press(page, 'Tab');
    await expectFocus(page, `dialog button "${words('dlgTryAgain')}"`, 'Tab to Try again');
    await press(page, 'Enter');
    await dialogHas(page, 'dialog[open] h2', { text: words('dlgConfirmTitle') });
    await expectFocus(page, `dialog heading "${words('dlgConfirmTitle')}"`, 'Try again (the confirmation starts at its heading)');
    await press(page, 'Tab');
    await expectFocus(page, `dialog button "${words('dlgContinue')}"`, 'Tab from the heading, after Try again');
    await dialogHas(page, 'button[data-action="continue"]:not([aria-disabled])');
    const opening = pinOpens();
    await press(page, 'Enter');
    const pin3 = await opening;
    await pin3.waitForSelector('#form[data-ready]', { timeout: 30000 });
    await expectFocus(pin3, PIN_FIELD, 'Continue after Try again');
    const pin3Closed = pin3.waitForEvent('close', { timeout: 30000 });
    await press(pin3, 'Escape').catch((e) => { if (!pin3.isClosed()) throw e; });
    await pin3Closed;
    await dialogHas(page, 'dialog[open] h2', { text: words('dlgCancelledTitle') });
    await at('cancelled', page);
    await closeResult('cancelled', 'dlgCancelledTitle');

    // The whole renewal, counted: Select Service to Close.
    unreachable = false;
    held = Promise.resolve();
    presses = 0;
    const pin4 = await toPasscodeWindow('renewal', { strayEnter: true });
    await typeIn(pin4, PASSCODE);
    await press(pin4, 'Enter').catch((e) => { if (!pin4.isClosed()) throw e; });
    await holdAtStep('installing', 'stepInstallOf')();
    await dialogHas(page, 'dialog[open] h2', { text: words('dlgDoneTitle') });
    await at('done', page);
    await closeResult('done', 'dlgDoneTitle', { reloads: true });
    assert.equal(presses, RENEWAL_PRESSES, `key presses for the whole renewal besides the passcode: ${presses}`);
    assert.equal(bed.hostStatus().card.reason, 'NOT_DUE', 'the second card was renewed');
    assert.deepEqual(seen, STATES.map((s) => s.name), 'every state was checked');
    assert.ok(!readFileSync(bed.hostLog, 'utf8').includes(PASSCODE), 'the passcode in the host log');
    return { presses, passcodeChars: PASSCODE.length, states: seen };
  } catch (error) {
    // What the dialog said when it went wrong.
    if (page && !page.isClosed()) error.message += `\n(dialog: ${await dialogText(page).catch(() => '?')})`;
    throw error;
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
    build.remove();
  }
}

export { HOLDER };
