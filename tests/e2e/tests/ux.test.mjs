// The sponsor's and the holder's experience (issue 14), every state of lib/states.mjs walked
// with the keyboard only (focus asserted after every step, key presses counted) in a real
// Chromium with the real host on OpenSC and the virtual SmartCard-HSM, at 1280x800 and at 200%
// browser zoom: axe-core finds no violation, no control of the dialog, the tooltip or the
// passcode window lies outside the window or is clipped, and a screenshot of each state is
// saved under test-output/screenshots/. Runs on a test build whose dialog shadow roots are
// open (lib/testBuild.mjs); the product's are closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshotsDir } from '../lib/browser.mjs';
import { walkStates, axeViolations, controlsOutside, ViewShots, DIALOG, TOOLTIP, STATES, RENEWAL_PRESSES } from '../lib/states.mjs';

/** What each state is checked with; `where` says which UI is ours. */
function checker(shots) {
  return async ({ state, where, page }) => {
    if (where === 'pin') {
      // The passcode window sizes itself to its content: let it settle first.
      await page.waitForFunction(() => document.documentElement.scrollHeight <= window.innerHeight + 1 || window.outerHeight >= window.screen.availHeight - 2, null, { timeout: 10000 }).catch(() => {});
    }
    const include = where === 'dialog' ? [DIALOG] : where === 'menu' ? ['#service-menu', TOOLTIP] : null;
    assert.deepEqual(await axeViolations(page, include), [], `axe in state "${state}"`);
    assert.deepEqual(await controlsOutside(page, where), [], `controls outside the visible area in state "${state}"`);
    await shots.take(page, state);
  };
}

for (const [label, zoom] of [['1280x800', undefined], ['200pct', 2]]) {
  test(`ux: every state with the keyboard only at ${label}: focus after every step, axe, controls in view, screenshots`, async () => {
    const shots = new ViewShots(screenshotsDir(`ux-states-${label}`));
    const started = Date.now();
    const result = await walkStates({ zoom, check: checker(shots) });
    assert.equal(result.states.length, STATES.length);
    assert.equal(shots.n, STATES.length, 'one screenshot per state');
    assert.equal(result.presses, RENEWAL_PRESSES);
    console.log(`ux ${label}: ${result.states.length} states checked; the renewal took ${result.presses} key presses plus ${result.passcodeChars} passcode characters; ${Math.round((Date.now() - started) / 1000)} s`);
  });
}
