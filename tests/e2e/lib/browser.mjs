// Debian's Chromium, driven by playwright-core, with the real extension loaded unpacked, the
// real host registered in the profile, and the extension's settings delivered the way IT does:
// a Chromium policy file (3rdparty extension policy -> storage.managed).
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, HOST_BIN, IDENTITY } from './bed.mjs';
import { ShotFiles, screenshotsDir } from './shots.mjs';

export const EXTENSION_DIR = path.join(ROOT, 'extension');
export const EXTENSION_ID = IDENTITY.chromiumId;
export const HOST_NAME = 'uk.nhs.cis_renew';
export const POLICY_DIR = '/etc/chromium/policies/managed';
const POLICY_FILE = path.join(POLICY_DIR, 'cis-renew-e2e.json');

/** Writes the machine policy that points the extension at the stand-in dashboard. */
export function writePolicy(portalOrigin) {
  mkdirSync(POLICY_DIR, { recursive: true });
  writeFileSync(POLICY_FILE, JSON.stringify({
    '3rdparty': { extensions: { [EXTENSION_ID]: { portalOrigins: [portalOrigin], renewalServiceUrl: portalOrigin } } },
  }, null, 2));
}

export function removePolicy() {
  rmSync(POLICY_FILE, { force: true });
}

/**
 * Starts Chromium with the extension. `hostEnv` is passed to the browser, which passes it to the
 * host it starts (readers socket, SoftHSM config, host config).
 */
export async function launch({ hostEnv, headless = !process.env.DISPLAY, hostPath = HOST_BIN, extensionDir = EXTENSION_DIR, viewport = { width: 1200, height: 900 }, windowSize, zoom }) {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'cis-renew-profile-'));
  if (zoom) {
    // The browser's own zoom for every page (Settings > Appearance > Page zoom), as a user sets
    // it: Chromium's zoom level is log base 1.2 of the factor.
    mkdirSync(path.join(userDataDir, 'Default'), { recursive: true });
    writeFileSync(path.join(userDataDir, 'Default', 'Preferences'), JSON.stringify({ partition: { default_zoom_level: { x: Math.log(zoom) / Math.log(1.2) } } }));
  }
  const manifestDir = path.join(userDataDir, 'NativeMessagingHosts');
  mkdirSync(manifestDir, { recursive: true });
  if (hostPath) {
    writeFileSync(path.join(manifestDir, `${HOST_NAME}.json`), JSON.stringify({
      name: HOST_NAME,
      description: 'cis-renew native host (e2e)',
      path: hostPath,
      type: 'stdio',
      allowed_origins: [`chrome-extension://${EXTENSION_ID}/`],
    }));
  }
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless,
    env: { ...process.env, ...hostEnv },
    // windowSize: real windows, no viewport emulation (which would also force the passcode
    // popup to the page's size).
    viewport: windowSize ? null : viewport,
    ignoreDefaultArgs: ['--disable-extensions'],
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      `--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`,
      // A screen of the window's size (headless Chromium's own is 800x600), so popups such as
      // the passcode window meet the limits a 1280x800 laptop sets.
      ...(windowSize ? [`--window-size=${windowSize.width},${windowSize.height}`, `--screen-info={${windowSize.width}x${windowSize.height}}`] : []),
    ],
  });
  let worker = context.serviceWorkers().find((w) => w.url().startsWith(`chrome-extension://${EXTENSION_ID}/`));
  if (!worker) worker = await context.waitForEvent('serviceworker', { timeout: 15000 });
  // Content scripts are registered asynchronously on first start, from the managed settings.
  await worker.evaluate(() => self.cisRenewWorker.ready());
  return {
    context,
    worker,
    userDataDir,
    async close() {
      await context.close();
      if (!process.env.CIS_E2E_KEEP) rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Signs in to the stand-in as a sponsor. */
export async function signIn(page, baseUrl, { username = 'sponsor1', password = 'sponsor1-demo' } = {}) {
  await page.goto(`${baseUrl}/signin`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#signin-button');
  await page.waitForSelector('body[data-page="home"]');
}

/**
 * The extension draws its dialogs inside closed shadow roots so the page cannot reach in.
 * Tests reach them the way assistive technology does not need to: through the DevTools
 * protocol, which can pierce closed roots, and then click with real (trusted) mouse events.
 */
export class ShadowProbe {
  constructor(page) {
    this.page = page;
  }

  async session() {
    if (!this.cdp) this.cdp = await this.page.context().newCDPSession(this.page);
    return this.cdp;
  }

  /** Node ids matching `selector` inside any shadow root (closed ones too). */
  async query(selector) {
    const cdp = await this.session();
    const { root } = await cdp.send('DOM.getDocument', { depth: -1, pierce: true });
    const roots = [];
    const walk = (node) => {
      if (node.shadowRoots) for (const shadow of node.shadowRoots) { roots.push(shadow); walk(shadow); }
      for (const child of node.children ?? []) walk(child);
    };
    walk(root);
    const found = [];
    for (const shadow of roots) {
      try {
        const { nodeIds } = await cdp.send('DOM.querySelectorAll', { nodeId: shadow.nodeId, selector });
        found.push(...nodeIds);
      } catch (error) {
        // The root went away between reading the tree and querying it (a dialog closing).
        if (!/Could not find node/.test(String(error && error.message))) throw error;
      }
    }
    return found;
  }

  /** Text of the first match, or null. */
  async text(selector) {
    const [nodeId] = await this.query(selector);
    if (!nodeId) return null;
    const cdp = await this.session();
    try {
      const { outerHTML } = await cdp.send('DOM.getOuterHTML', { nodeId });
      return outerHTML.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
    } catch (error) {
      if (/Could not find node/.test(String(error && error.message))) return null;
      throw error;
    }
  }

  /** Waits until `selector` matches inside a shadow root; returns the text. */
  async waitFor(selector, { timeout = 20000, text } = {}) {
    const deadline = Date.now() + timeout;
    let last = null;
    while (Date.now() < deadline) {
      last = await this.text(selector);
      if (last !== null && (!text || (text instanceof RegExp ? text.test(last) : last.includes(text)))) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`shadow ${selector}${text ? ` with ${text}` : ''} not found in ${timeout} ms (last: ${last})`);
  }

  /** Clicks the first match with a real mouse click at its centre. */
  async click(selector) {
    const [nodeId] = await this.query(selector);
    if (!nodeId) throw new Error(`shadow ${selector} not found`);
    const cdp = await this.session();
    await cdp.send('DOM.scrollIntoViewIfNeeded', { nodeId });
    const { model } = await cdp.send('DOM.getBoxModel', { nodeId });
    const [x1, y1, x2, , , y3] = model.content;
    await this.page.mouse.click((x1 + x2) / 2, (y1 + y3) / 2);
  }
}

/** Full-page screenshots with Playwright. */
export class Shots extends ShotFiles {
  async take(page, name) {
    const file = this.next(name);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }
}

export { screenshotsDir };
