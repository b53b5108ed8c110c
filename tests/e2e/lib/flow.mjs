// The sponsor's steps in the dashboard, as the leaflet describes them, shared by the tests and
// the demo.
import { ShadowProbe, signIn } from './browser.mjs';

/** Manage Smartcard -> find the card in the second reader -> select it -> Select Service. */
export async function openServiceMenu(page, serial) {
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

export const RENEW_ITEM = '#service-menu [data-cis-renew="menu-item"]';

/** Waits until Renew Certificate is offered and enabled, then chooses it. */
export async function chooseRenew(page) {
  await page.waitForFunction((selector) => {
    const el = document.querySelector(selector);
    return el && el.getAttribute('aria-disabled') !== 'true';
  }, RENEW_ITEM, { timeout: 20000 });
  await page.click(RENEW_ITEM);
}

/**
 * Confirmation dialog (closed shadow root) -> Continue; resolves with the passcode window.
 * `beforeContinue` runs while the confirmation is showing (e.g. for a screenshot).
 */
export async function continueToPasscode(page, beforeContinue = async () => {}) {
  const probe = new ShadowProbe(page);
  // Continue accepts nothing until the confirmation has been shown for half a second.
  await probe.waitFor('button[data-action="continue"]:not([aria-disabled])');
  const confirmation = await probe.text('dialog');
  await beforeContinue();
  const pinPage = page.context().waitForEvent('page', {
    predicate: (p) => p.url().includes('/src/ui/pin.html'),
    timeout: 20000,
  });
  await probe.click('button[data-action="continue"]');
  const pinWindow = await pinPage;
  await pinWindow.waitForSelector('#pin:not([disabled])', { timeout: 20000 });
  return { probe, pinWindow, confirmation };
}

/**
 * Types the passcode into the extension's window and presses Enter, once the window takes
 * input (it ignores keys for its first moment, so a key held in the dashboard does not land).
 */
export async function typePasscode(pinWindow, pin) {
  await pinWindow.waitForSelector('#form[data-ready]', { timeout: 20000 });
  await pinWindow.fill('#pin', '');
  await pinWindow.type('#pin', pin);
  await pinWindow.press('#pin', 'Enter');
}

/** Text of the extension's dialog in the page. */
export function dialogText(probe) {
  return probe.text('dialog');
}

/**
 * The whole sponsor's path from signing in to the passcode typed and sent: resolves with the
 * dialog's probe and the passcode window, for a test that then waits for the outcome.
 */
export async function signInAndRenew(page, dashboardUrl, serial, pin) {
  await signIn(page, dashboardUrl);
  await openServiceMenu(page, serial);
  await chooseRenew(page);
  const { probe, pinWindow } = await continueToPasscode(page);
  await typePasscode(pinWindow, pin);
  return { probe, pinWindow };
}
