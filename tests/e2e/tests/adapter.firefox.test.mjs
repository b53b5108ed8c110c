// The site adapter in Firefox ESR: the overlay menu the page creates when opened (`cis-standin
// serve --service-menu overlay`) gets Renew Certificate, which renews a real card.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bed, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { screenshotsDir } from '../lib/browser.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots } from '../lib/firefox.mjs';

const ENTRY = '.overlay-menu [data-cis-renew="menu-item"]';
const DIALOG = '[data-cis-renew="dialog"]';
const PASSCODE = 'Tq5mV72c';

test('firefox adapter: an overlay menu created on open renews the card', async () => {
  const bed = await Bed.start({ serviceMenu: 'overlay' });
  let firefox;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE });
    writePolicy(bed.standin.url);
    firefox = await launch({ hostEnv: bed.hostEnv(), viewport: { width: 1200, height: 1200 } });
    const { page } = firefox;
    const shots = new Shots(screenshotsDir('firefox-adapter-overlay'));
    await signIn(page, bed.standin.url);
    await page.goto(`${bed.standin.url}/smartcard`); // Manage Smartcard (the menu path is firefox.test.mjs's)
    await page.waitForSelector('body[data-page="manage-smartcard"]');
    await page.fill('#card-serial', card.tokenSerial);
    await page.click('#card-lookup-button');
    await page.waitForSelector(`button.card-select-button[data-card-serial="${card.tokenSerial}"]`);
    await page.click(`button.card-select-button[data-card-serial="${card.tokenSerial}"]`);
    await page.waitFor((s) => document.querySelector('#selected-card')?.textContent.includes(s), [card.tokenSerial], { what: 'the card selected' });
    assert.equal(await page.call(() => document.querySelector('[data-cis-renew="panel"]') === null), true, 'no fallback panel while the menu is closed');

    await page.click('#service-trigger');
    await page.waitFor((s) => {
      const el = document.querySelector(s);
      return el && el.getAttribute('aria-disabled') !== 'true';
    }, [ENTRY], { what: 'Renew Certificate in the overlay menu, enabled' });
    const names = await page.call(() => [...document.querySelectorAll('.overlay-menu [role="menuitem"]')].map((b) => b.textContent.trim()));
    assert.deepEqual(names, ['Unlock Smartcard', 'Cancel Smartcard', 'View Certificates', 'Renew Certificate']);
    await shots.take(page, 'overlay-menu');
    await page.click(ENTRY);

    const dialog = page.shadow(DIALOG);
    await dialog.waitFor('button[data-action="continue"]');
    assert.equal(await page.call(() => document.querySelector('.overlay-menu') === null), true, 'the menu closed behind the dialog');
    await shots.take(page, 'confirmation', { fullPage: false });
    // Continue accepts nothing until the confirmation has been shown for half a second.
    await dialog.waitFor('button[data-action="continue"]:not([aria-disabled])');
    await dialog.click('button[data-action="continue"]');
    const pinWindow = await firefox.waitForPage(/^moz-extension:\/\/[^/]+\/src\/ui\/pin\.html$/);
    await pinWindow.waitFor(() => {
      const input = document.querySelector('#pin');
      const ready = document.querySelector('#form[data-ready]'); // keys are ignored for a moment first
      return ready && input && !input.disabled && document.activeElement === input;
    }, [], { what: 'the passcode field, focused and taking input' });
    await pinWindow.keys(PASSCODE);
    await pinWindow.press('Enter');
    await dialog.waitFor('dialog', { text: /renewed/i, timeout: 45000 });
    await shots.take(page, 'done', { fullPage: false });

    const status = bed.hostStatus();
    const old = card.certificates.map((c) => c.serial.toLowerCase());
    assert.ok(status.card.certificates.every((c) => !old.includes(c.serial.toLowerCase())), 'both certificates are new');
    assert.equal(status.card.reason, 'NOT_DUE');
    assert.equal((await bed.standin.admin('/admin/api/issued')).length, 2);
  } finally {
    try {
      await firefox?.close();
    } finally {
      removePolicy();
      await bed.stop();
    }
  }
});
