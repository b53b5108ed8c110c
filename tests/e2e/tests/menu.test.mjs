// The menu path: a due card makes Renew Certificate appear, enabled, in Select Service; a card
// that is not due, or a machine without the host, shows it disabled with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bed, SPONSOR_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots, screenshotsDir } from '../lib/browser.mjs';
import { openServiceMenu, RENEW_ITEM } from '../lib/flow.mjs';

/**
 * Sets up a bed with the user's card (`days` to expiry) in the second reader, opens Select
 * Service in Chromium and hands the page and the Renew Certificate item to `check`.
 */
async function withServiceMenu(name, { days, sponsorCard = false, host = true }, check) {
  const bed = await Bed.start();
  const shots = new Shots(screenshotsDir(name));
  let browser;
  try {
    if (sponsorCard) {
      await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    }
    const card = await bed.card({ label: 'User card', user: 'alice', authDays: days, signDays: days });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv(), ...(host ? {} : { hostPath: null }) });
    const page = await browser.context.newPage();
    await signIn(page, bed.standin.url);
    await openServiceMenu(page, card.tokenSerial);
    const item = page.locator(RENEW_ITEM);
    await item.waitFor({ timeout: 15000 });
    await check({ bed, page, item });
    await shots.take(page, 'menu');
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
}

/** Waits until the item is enabled (`true`) or disabled with a reason (its tooltip) matching `reason`. */
function waitForItem(page, enabled, reason) {
  return page.waitForFunction(([selector, enabled, reason]) => {
    const el = document.querySelector(selector);
    if (!el) return false;
    if (enabled) return el.getAttribute('aria-disabled') !== 'true';
    const tip = document.getElementById(el.getAttribute('aria-describedby') ?? '');
    return el.getAttribute('aria-disabled') === 'true' && new RegExp(reason, 'i').test(tip?.textContent ?? '');
  }, [RENEW_ITEM, enabled, reason], { timeout: 20000 });
}

/** The reason the item is described by (its tooltip), or null; the item has no `title`. */
function reasonOf(item) {
  return item.evaluate((el) => {
    if (el.hasAttribute('title')) throw new Error('a title would repeat the tooltip');
    const tip = document.getElementById(el.getAttribute('aria-describedby') ?? '');
    return tip ? tip.textContent : null;
  });
}

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
  await withServiceMenu('menu-due', { days: 45, sponsorCard: true }, async ({ item, page }) => {
    await waitForItem(page, true);
    assert.match(await item.innerText(), /Renew Certificate/);
    assert.equal(await item.getAttribute('role'), 'menuitem');
    assert.equal(await reasonOf(item), null);
  });
});

test('menu: a card not yet due shows Renew Certificate disabled with the date', async () => {
  await withServiceMenu('menu-not-due', { days: 400 }, async ({ bed, item, page }) => {
    await waitForItem(page, false, 'not due|until');
    const from = bed.hostStatus().card.renewableFrom;
    const title = await reasonOf(item);
    assert.ok(title.includes(String(new Date(from).getUTCFullYear())), `${title} should name the date ${from}`);
    assert.deepEqual(await focusedTooltip(page, item), { text: title, shown: true, inside: true });
  });
});

test('menu: without the host installed, Renew Certificate is disabled and says how IT installs it', async () => {
  await withServiceMenu('menu-host-missing', { days: 45, host: false }, async ({ item, page }) => {
    await waitForItem(page, false, 'not installed');
    const title = await reasonOf(item);
    assert.match(title, /Ask IT to install/);
    assert.deepEqual(await focusedTooltip(page, item), { text: title, shown: true, inside: true });
  });
});
