// The pseudo-locale test build (lib/testBuild.mjs: every message 40% longer and accented, in
// brackets) through every state of lib/states.mjs: no string of ours shows untranslated, no
// text container of ours is clipped, and no control is clipped or outside the window, at
// 1280x800 and at 200% zoom.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshotsDir } from '../lib/browser.mjs';
import { walkStates, controlsOutside, ViewShots, DIALOG, TOOLTIP, STATES, HOLDER } from '../lib/states.mjs';

/**
 * Problems in our UI at `where`: text outside a pseudo message, and text containers clipped.
 * `data` are the values the page itself supplies (the holder's name, card serials), allowed
 * as they are.
 */
async function problems(page, where, data) {
  return page.evaluate(([where, dialog, tooltip, data]) => {
    const root = where === 'dialog' ? document.querySelector(dialog)?.shadowRoot : where === 'menu' ? document.querySelector('#service-menu') : document.body;
    if (!root) return [`no ${where}`];
    const bad = [];
    const scopes = where === 'menu' ? [document.querySelector(tooltip), ...root.querySelectorAll('[data-cis-renew="menu-item"]')].filter(Boolean) : [root];
    const containers = 'p, li, td, th, button, label, h1, h2, [role="status"], [role="tooltip"], [role="alert"]';
    for (const scope of scopes) {
      const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent.trim();
        const el = node.parentElement;
        if (!text || !el || el.closest('[hidden]') || el.closest('style')) continue;
        if (getComputedStyle(el).display === 'none') continue;
        if (/^[✓▶○]$/.test(text) || data.some((d) => d === text)) continue;
        // Inside a pseudo message: the bracketed text, or a part of one split by markup.
        const whole = (el.closest(containers) || el).textContent;
        if (!/\[[^\]]*·+\]/.test(whole)) bad.push(`untranslated: "${text.slice(0, 60)}"`);
      }
      const boxes = scope.matches?.(containers) ? [scope] : [];
      for (const c of [...boxes, ...scope.querySelectorAll(containers)]) {
        if (c.closest('[hidden]') || getComputedStyle(c).display === 'none' || c.tagName === 'INPUT') continue;
        const r = c.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        const hidesOverflow = getComputedStyle(c).overflow !== 'visible';
        if (c.scrollWidth > c.clientWidth + 1 || (hidesOverflow && c.scrollHeight > c.clientHeight + 1)) bad.push(`clipped: ${c.tagName} "${c.textContent.trim().slice(0, 30)}" (${c.scrollWidth}x${c.scrollHeight} in ${c.clientWidth}x${c.clientHeight})`);
      }
    }
    return bad;
  }, [where, DIALOG, TOOLTIP, data]);
}

for (const [label, zoom] of [['1280x800', undefined], ['200pct', 2]]) test(`pseudo-locale at ${label}: every state renders without clipping and with no untranslated string`, async () => {
  const shots = new ViewShots(screenshotsDir(`pseudo-locale-${label}`));
  const started = Date.now();
  const result = await walkStates({
    pseudo: true,
    zoom,
    check: async ({ state, where, page }) => {
      if (where === 'pin') await page.waitForFunction(() => document.documentElement.scrollHeight <= window.innerHeight + 1 || window.outerHeight >= window.screen.availHeight - 2, null, { timeout: 10000 }).catch(() => {});
      const serials = await page.evaluate(() => [...document.querySelectorAll('[data-card-serial]')].map((e) => e.getAttribute('data-card-serial')));
      assert.deepEqual(await problems(page, where, [HOLDER, ...serials]), [], `state "${state}"`);
      assert.deepEqual(await controlsOutside(page, where), [], `controls outside the visible area in state "${state}"`);
      if (where === 'menu') assert.match(await page.locator('[data-cis-renew="menu-item"]').innerText(), /^\[.*·+\]$/, 'the item label is ours, translated');
      await shots.take(page, state);
    },
  });
  assert.equal(result.states.length, STATES.length);
  assert.equal(shots.n, STATES.length, 'one screenshot per state');
  console.log(`pseudo-locale ${label}: ${result.states.length} states checked; ${Math.round((Date.now() - started) / 1000)} s`);
});
