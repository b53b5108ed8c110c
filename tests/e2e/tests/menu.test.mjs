// The menu path: a due card makes Renew Certificate appear, enabled, in Select Service; a card
// that is not due shows it disabled with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bed, SPONSOR_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots, screenshotsDir } from '../lib/browser.mjs';
import { openServiceMenu } from '../lib/flow.mjs';

/** The reason tooltip shown for the focused item: its text, and whether it is inside the window. */
async function focusedTooltip(page, item) {
  await item.focus();
  return page.evaluate(() => {
    const tip = document.querySelector('[data-cis-renew="tooltip"]');
    const r = tip.getBoundingClientRect();
    return {
      text: tip.textContent,
      shown: getComputedStyle(tip).display !== 'none' && r.height > 0,
      inside: r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth,
    };
  });
}

test('menu: a due card gets an enabled Renew Certificate item', async () => {
  const bed = await Bed.start();
  const shots = new Shots(screenshotsDir('menu-due'));
  let browser;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.card({ label: 'Alice card', user: 'alice', authDays: 45, signDays: 45 });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv() });
    const page = await browser.context.newPage();
    await signIn(page, bed.standin.url);
    await openServiceMenu(page, card.tokenSerial);
    const item = page.locator('#service-menu [data-cis-renew="menu-item"]');
    await item.waitFor({ timeout: 15000 });
    await page.waitForFunction(() => {
      const el = document.querySelector('#service-menu [data-cis-renew="menu-item"]');
      return el && el.getAttribute('aria-disabled') !== 'true';
    }, null, { timeout: 15000 });
    assert.match(await item.innerText(), /Renew Certificate/);
    assert.equal(await item.getAttribute('role'), 'menuitem');
    await shots.take(page, 'menu-with-renew-enabled');
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
});

test('menu: a card not yet due shows Renew Certificate disabled with the date', async () => {
  const bed = await Bed.start();
  const shots = new Shots(screenshotsDir('menu-not-due'));
  let browser;
  try {
    const card = await bed.card({ label: 'Carol card', user: 'carol', authDays: 400, signDays: 400 });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv() });
    const page = await browser.context.newPage();
    await signIn(page, bed.standin.url);
    await openServiceMenu(page, card.tokenSerial);
    const item = page.locator('#service-menu [data-cis-renew="menu-item"]');
    await item.waitFor({ timeout: 15000 });
    await page.waitForFunction(() => {
      const el = document.querySelector('#service-menu [data-cis-renew="menu-item"]');
      return el && el.getAttribute('aria-disabled') === 'true' && /not due|until/i.test(el.getAttribute('title') ?? '');
    }, null, { timeout: 15000 });
    const status = bed.hostStatus();
    const from = status.card.renewableFrom.slice(0, 10);
    const title = await item.getAttribute('title');
    assert.ok(title.includes(new Date(from).getFullYear().toString()), `${title} should name the date ${from}`);
    const tip = await focusedTooltip(page, item);
    assert.deepEqual(tip, { text: title, shown: true, inside: true });
    await shots.take(page, 'menu-with-renew-disabled');
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
});

test('menu: without the host installed, Renew Certificate is disabled and says how IT installs it', async () => {
  const bed = await Bed.start();
  const shots = new Shots(screenshotsDir('menu-host-missing'));
  let browser;
  try {
    const card = await bed.card({ label: 'Alice card', user: 'alice', authDays: 45, signDays: 45 });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv(), hostPath: null });
    const page = await browser.context.newPage();
    await signIn(page, bed.standin.url);
    await openServiceMenu(page, card.tokenSerial);
    const item = page.locator('#service-menu [data-cis-renew="menu-item"]');
    await item.waitFor({ timeout: 15000 });
    await page.waitForFunction(() => {
      const el = document.querySelector('#service-menu [data-cis-renew="menu-item"]');
      return el && el.getAttribute('aria-disabled') === 'true' && /not installed/i.test(el.getAttribute('title') ?? '');
    }, null, { timeout: 20000 });
    assert.match(await item.getAttribute('title'), /Ask IT to install/);
    const tip = await focusedTooltip(page, item);
    assert.deepEqual(tip, { text: await item.getAttribute('title'), shown: true, inside: true });
    await shots.take(page, 'menu-host-missing');
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
});
