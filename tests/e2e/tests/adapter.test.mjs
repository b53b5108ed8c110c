// The site adapter against dashboards built differently from the stand-in's default menu
// (`cis-standin serve --service-menu KIND`): an overlay menu created on open, used with the
// keyboard only; a native select with a Go button; an icon-only trigger over a plain list. Each
// renews a real card (SoftHSM through pcscd + vpcd, the real host, the stand-in's EST CA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bed, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots, screenshotsDir, ShadowProbe } from '../lib/browser.mjs';

const PASSCODE = 'Hb6tN03q';
const ENTRY = '[data-cis-renew="menu-item"]';

/** Records, in the page, whether the fallback panel ever showed (it must not: the page would jump). */
function watchPanel() {
  window.__cisPanelSeen = false;
  new MutationObserver(() => {
    if (document.querySelector('[data-cis-renew="panel"]')) window.__cisPanelSeen = true;
  }).observe(document, { childList: true, subtree: true });
}

async function setUp(name, serviceMenu) {
  const bed = await Bed.start({ serviceMenu });
  let browser;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv() });
    await browser.context.addInitScript(watchPanel);
    const page = await browser.context.newPage();
    const shots = new Shots(screenshotsDir(name));
    await signIn(page, bed.standin.url);
    // Manage Smartcard -> find the card in the second reader -> select it. These markups show
    // the selected card as text only.
    await page.click('#manage-smartcard');
    await page.fill('#card-serial', card.tokenSerial);
    await page.click('#card-lookup-button');
    await page.click(`button.card-select-button[data-card-serial="${card.tokenSerial}"]`);
    await page.waitForFunction((s) => document.querySelector('#selected-card')?.textContent.includes(s), card.tokenSerial);
    return { bed, browser, page, card, shots };
  } catch (error) {
    await browser?.close();
    removePolicy();
    await bed.stop();
    throw error;
  }
}

async function tearDown({ bed, browser }) {
  await browser?.close();
  removePolicy();
  await bed.stop();
}

/** The confirmation -> Continue -> passcode -> done, by keyboard; then the card is checked. */
async function finish({ bed, page, card, shots }) {
  const probe = new ShadowProbe(page);
  // Continue accepts nothing until the confirmation has been shown for half a second.
  await probe.waitFor('button[data-action="continue"]:not([aria-disabled])');
  const confirmation = await probe.text('dialog');
  assert.doesNotMatch(confirmation, /does not show a card serial/, 'the page showed the card serial, and it matched');
  await shots.take(page, 'confirmation');
  const pinPage = page.context().waitForEvent('page', { predicate: (p) => p.url().includes('/src/ui/pin.html'), timeout: 20000 });
  await page.keyboard.press('Tab'); // the confirmation starts at its heading; Tab reaches Continue
  await page.keyboard.press('Enter');
  const pinWindow = await pinPage;
  await pinWindow.waitForSelector('#pin:not([disabled])', { timeout: 20000 });
  await pinWindow.waitForSelector('#form[data-ready]', { timeout: 20000 }); // it takes input
  await pinWindow.fill('#pin', PASSCODE);
  // The window closes once the card takes the passcode, possibly before the key press returns.
  await pinWindow.press('#pin', 'Enter').catch((error) => {
    if (!pinWindow.isClosed()) throw error;
  });
  await probe.waitFor('dialog', { text: /renewed/i, timeout: 60000 });
  await shots.take(page, 'done');
  const status = bed.hostStatus();
  const old = card.certificates.map((c) => c.serial.toLowerCase());
  assert.deepEqual(status.card.certificates.map((c) => c.role), ['authentication', 'signing']);
  assert.ok(status.card.certificates.every((c) => !old.includes(c.serial.toLowerCase())), 'both certificates are new');
  assert.equal(status.card.reason, 'NOT_DUE');
  assert.equal((await bed.standin.admin('/admin/api/issued')).length, 2);
  assert.equal(await page.evaluate(() => window.__cisPanelSeen), false, 'the fallback panel never showed');
}

/** What has focus: our entry, or the page's element described. */
function focused(page) {
  return page.evaluate((entry) => {
    const el = document.activeElement;
    if (!el) return null;
    if (el.closest(entry)) return 'entry';
    return el.id || el.textContent.trim();
  }, ENTRY);
}

test('adapter: an overlay menu created on open, keyboard only, renews the card', async () => {
  const run = await setUp('adapter-overlay', 'overlay');
  const { page, shots } = run;
  try {
    // Tab from Deselect to the trigger; Enter opens the menu on its first item.
    await page.focus('#deselect-card');
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'service-trigger');
    assert.equal(await page.locator(ENTRY).count(), 0, 'no menu yet');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`.overlay-menu ${ENTRY}`);
    assert.equal(await focused(page), 'Unlock Smartcard');
    const names = await page.locator('.overlay-menu [role="menuitem"]').allInnerTexts();
    assert.deepEqual(names.map((n) => n.trim()), ['Unlock Smartcard', 'Cancel Smartcard', 'View Certificates', 'Renew Certificate']);
    // The page's own key handling knows three items; the entry is reached all the same.
    await page.keyboard.press('End');
    assert.equal(await focused(page), 'entry');
    await page.keyboard.press('Home');
    assert.equal(await focused(page), 'Unlock Smartcard');
    await page.keyboard.press('ArrowUp');
    assert.equal(await focused(page), 'entry', 'ArrowUp wraps to the entry');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(page), 'Unlock Smartcard');
    await page.keyboard.press('ArrowUp');
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') !== 'true', `.overlay-menu ${ENTRY}`, { timeout: 20000 });
    const copied = await page.locator(`.overlay-menu ${ENTRY}`).evaluate((el) => ({ tag: el.tagName, cls: el.className, wrapper: el.parentElement.className }));
    assert.deepEqual(copied, { tag: 'BUTTON', cls: 'overlay-item', wrapper: 'overlay-menu-content' });
    await shots.take(page, 'overlay-menu');
    // Escape closes it (the page's handler), and back to the trigger; open again, End, Enter.
    await page.keyboard.press('Escape');
    await page.waitForSelector('.overlay-menu', { state: 'detached' });
    assert.equal(await focused(page), 'service-trigger');
    await page.keyboard.press('ArrowDown');
    await page.waitForSelector(`.overlay-menu ${ENTRY}`);
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.overlay-menu', { state: 'detached' }); // the menu closes behind the dialog
    await finish(run);
  } finally {
    await tearDown(run);
  }
});

test('adapter: a native select with a Go button renews the card', async () => {
  const run = await setUp('adapter-select', 'select');
  const { page, shots } = run;
  try {
    const option = page.locator('#service-select option[value="cis-renew"]');
    await option.waitFor({ state: 'attached' });
    await page.waitForFunction(() => document.querySelector('#service-select option[value="cis-renew"]')?.disabled === false, null, { timeout: 20000 });
    assert.equal((await option.textContent()).trim(), 'Renew Certificate');
    await page.selectOption('#service-select', 'cis-renew');
    await shots.take(page, 'select');
    const before = page.url();
    await page.click('#service-go');
    await finish(run);
    assert.equal(page.url(), before, "the page's Go did not navigate");
  } finally {
    await tearDown(run);
  }
});

test('adapter: an icon-only trigger over a plain list renews the card', async () => {
  const run = await setUp('adapter-icon', 'icon');
  const { page, shots } = run;
  try {
    await page.click('#services-toggle');
    const entry = page.locator(`#services-list ${ENTRY}`);
    await entry.waitFor();
    await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('aria-disabled') !== 'true', `#services-list ${ENTRY} [data-cis-renew-control]`, { timeout: 20000 });
    const link = entry.locator('a');
    assert.equal(await link.getAttribute('role'), 'button', 'a link without href gets a role');
    assert.equal(await link.getAttribute('href'), null);
    await shots.take(page, 'icon-list');
    await link.click();
    await finish(run);
  } finally {
    await tearDown(run);
  }
});
