/**
 * Registers the dashboard content scripts for the portal origins from managed storage, and
 * re-registers when the policy changes. The origins are only known at run time, so the
 * manifest declares no content_scripts.
 *
 * Content scripts are classic scripts (MV3 has no module content scripts), injected in this
 * order; each hangs its API on `globalThis.cisRenew` in the extension's isolated world. This
 * keeps every file out of web_accessible_resources, so no site can load or probe them.
 */
import { matchPatterns } from '../shared/config.js';

export const SCRIPT_ID = 'cis-renew-portal';

export const CONTENT_FILES = Object.freeze([
  'src/shared/errors.js',
  'src/shared/view.js',
  'src/est/client.js',
  'src/est/cardAdmin.js',
  'src/content/adapter.js',
  'src/content/render.js',
  'src/content/placement.js',
  'src/content/main.js',
]);

/**
 * @param {object} api       the browser namespace (chrome / browser)
 * @param {string[]} origins portal origins
 * @param {object} [opts]    { withPorts: false on Firefox, whose match patterns have no port }
 */
export async function syncContentScripts(api, origins, { withPorts = true, log = () => {} } = {}) {
  const matches = matchPatterns(origins, { withPorts });
  const script = {
    id: SCRIPT_ID,
    matches,
    js: [...CONTENT_FILES],
    runAt: 'document_idle',
    allFrames: false,
    persistAcrossSessions: true,
  };
  const existing = await api.scripting.getRegisteredContentScripts({ ids: [SCRIPT_ID] });
  if (existing.length) {
    const same = JSON.stringify(existing[0].matches) === JSON.stringify(matches) && JSON.stringify(existing[0].js) === JSON.stringify(script.js);
    if (same) return { matches, changed: false };
    await api.scripting.unregisterContentScripts({ ids: [SCRIPT_ID] });
  }
  await api.scripting.registerContentScripts([script]);
  // Registration only affects pages loaded from now on: add the scripts to dashboard tabs
  // that are already open (main.js starts once per page however often it is injected).
  try {
    const tabs = await api.tabs.query({ url: matches });
    for (const tab of tabs) {
      api.scripting.executeScript({ target: { tabId: tab.id }, files: [...CONTENT_FILES] }).catch((e) => log('inject failed', e && e.message));
    }
  } catch (e) {
    log('tabs.query failed', e && e.message);
  }
  return { matches, changed: true };
}
