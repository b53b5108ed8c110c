// Debian's Firefox ESR, driven through its built-in WebDriver BiDi (no geckodriver, no
// Playwright build), with the real extension installed as an unsigned XPI in the profile, the
// real host registered under a private HOME, and the extension's settings delivered the way IT
// does: the enterprise policy file's "3rdparty" section (-> storage.managed).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { ROOT, HOST_BIN, IDENTITY } from './bed.mjs';
import { ShotFiles } from './shots.mjs';

export const FIREFOX_BIN = process.env.CIS_FIREFOX_BIN ?? '/usr/bin/firefox-esr';
export const EXTENSION_DIR = path.join(ROOT, 'extension');
export const GECKO_ID = IDENTITY.firefoxId;
export const HOST_NAME = 'uk.nhs.cis_renew';
/** Debian's firefox-esr reads enterprise policies from its distribution directory. */
export const POLICY_FILE = '/usr/lib/firefox-esr/distribution/policies.json';
/** A system-wide policy file here would win over POLICY_FILE (MOZ_SYSTEM_POLICIES). */
const SYSTEM_POLICY_FILES = ['/etc/firefox/policies/policies.json', '/etc/firefox-esr/policies/policies.json'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Writes the machine policy that points the extension at the stand-in dashboard. */
export function writePolicy(portalOrigin) {
  for (const file of SYSTEM_POLICY_FILES) {
    if (existsSync(file)) throw new Error(`${file} exists and would override ${POLICY_FILE}`);
  }
  mkdirSync(path.dirname(POLICY_FILE), { recursive: true });
  writeFileSync(POLICY_FILE, JSON.stringify({
    policies: {
      '3rdparty': { Extensions: { [GECKO_ID]: { portalOrigins: [portalOrigin], renewalServiceUrl: portalOrigin } } },
    },
  }, null, 2));
}

/**
 * A per-user managed-storage manifest (~/.mozilla/managed-storage/ID.json), which anyone who
 * runs as the user can write. Firefox uses it only when the enterprise policy has no
 * "3rdparty" entry for the extension.
 */
export function writeUserStorage(home, data) {
  const dir = path.join(home, '.mozilla', 'managed-storage');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${GECKO_ID}.json`);
  writeFileSync(file, JSON.stringify({ name: GECKO_ID, description: 'per-user settings (e2e)', type: 'storage', data }));
  return file;
}

export function removePolicy() {
  rmSync(POLICY_FILE, { force: true });
}

/**
 * The extension as Firefox installs it: a zip with manifest.json at its root (the files the
 * manifest uses; not node_modules or tests). Python's zipfile: python3 is on every machine
 * the test bed runs on (vicc needs it), zip(1) need not be.
 */
export function buildXpi(file) {
  rmSync(file, { force: true });
  execFileSync('python3', ['-m', 'zipfile', '-c', file, 'manifest.json', 'schema.json', '_locales', 'src'], { cwd: EXTENSION_DIR });
  return file;
}

const PREFS = {
  // The unsigned XPI from the profile's extensions dir, enabled without asking.
  'xpinstall.signatures.required': false,
  'extensions.autoDisableScopes': 0,
  'extensions.enabledScopes': 15,
  'extensions.update.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  // No first-run pages, telemetry or background network (the machine has no internet).
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.startup.page': 0,
  'browser.aboutwelcome.enabled': false,
  'startup.homepage_welcome_url': 'about:blank',
  'trailhead.firstrun.didSeeAboutWelcome': true,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'toolkit.telemetry.enabled': false,
  'app.update.enabled': false,
  'app.update.auto': false,
  'app.normandy.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.search.update': false,
  'services.settings.server': 'data:,',
  'messaging-system.rsexperimentloader.enabled': false,
  'browser.newtabpage.enabled': false,
  'browser.tabs.warnOnClose': false,
  'browser.sessionstore.resume_from_crash': false,
  'focusmanager.testmode': true,
};

/** A small WebDriver BiDi client: commands by id, events to listeners. */
export class Bidi {
  static async connect(url) {
    const bidi = new Bidi();
    bidi.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    bidi.nextId = 1;
    bidi.pending = new Map();
    bidi.listeners = new Map();
    bidi.ws.on('message', (data) => bidi.onMessage(JSON.parse(data.toString())));
    bidi.ws.on('close', () => {
      for (const { reject, method } of bidi.pending.values()) reject(new Error(`BiDi closed during ${method}`));
      bidi.pending.clear();
    });
    await new Promise((resolve, reject) => {
      bidi.ws.once('open', resolve);
      bidi.ws.once('error', reject);
    });
    return bidi;
  }

  onMessage(message) {
    if (message.id !== undefined && this.pending.has(message.id)) {
      const { resolve, reject, method } = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'error') reject(Object.assign(new Error(`${method}: ${message.error}: ${message.message}`), { bidi: message }));
      else resolve(message.result);
    } else if (message.type === 'event') {
      for (const listener of this.listeners.get(message.method) ?? []) listener(message.params);
    }
  }

  send(method, params = {}, timeoutMs = 30000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`BiDi ${method}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(listener);
  }

  close() {
    this.ws.terminate();
  }
}

/** A BiDi value (from script.evaluate/callFunction) as plain JS, nodes as { sharedId, ... }. */
export function fromRemote(value) {
  if (!value) return value;
  switch (value.type) {
    case 'undefined': return undefined;
    case 'null': return null;
    case 'string': case 'boolean': return value.value;
    case 'number': return typeof value.value === 'string' ? Number(value.value) : value.value;
    case 'array': return value.value.map(fromRemote);
    case 'object': return Object.fromEntries(value.value.map(([k, v]) => [typeof k === 'string' ? k : fromRemote(k), fromRemote(v)]));
    case 'node': return { node: true, sharedId: value.sharedId, ...value.value };
    default: return { type: value.type, handle: value.handle, sharedId: value.sharedId };
  }
}

function toLocal(value) {
  if (value === undefined) return { type: 'undefined' };
  if (value === null) return { type: 'null' };
  if (typeof value === 'string') return { type: 'string', value };
  if (typeof value === 'number') return { type: 'number', value };
  if (typeof value === 'boolean') return { type: 'boolean', value };
  if (value.sharedId) return { sharedId: value.sharedId };
  throw new Error(`cannot pass ${JSON.stringify(value)} to the page`);
}

/** One top-level browsing context (a tab or a popup window). */
export class Page {
  constructor(firefox, context) {
    this.firefox = firefox;
    this.bidi = firefox.bidi;
    this.context = context;
  }

  async goto(url) {
    await this.bidi.send('browsingContext.navigate', { context: this.context, url, wait: 'complete' });
  }

  async url() {
    const { contexts } = await this.bidi.send('browsingContext.getTree', { root: this.context, maxDepth: 0 });
    return contexts[0].url;
  }

  /**
   * Runs `fn` (a function, its source is sent) in the page's realm with `args`; returns plain
   * JS. `shadow: 'all'` serializes closed shadow roots of returned nodes too (test-only reach,
   * like CDP's pierce: the page's own scripts still cannot get them).
   */
  async call(fn, args = [], { shadow = 'none', raw = false } = {}) {
    const result = await this.bidi.send('script.callFunction', {
      functionDeclaration: fn.toString(),
      arguments: args.map(toLocal),
      target: { context: this.context },
      awaitPromise: true,
      resultOwnership: 'root',
      serializationOptions: { maxDomDepth: 0, includeShadowTree: shadow },
      userActivation: false,
    });
    if (result.type === 'exception') {
      throw new Error(`in page: ${result.exceptionDetails.text}`);
    }
    return raw ? result.result : fromRemote(result.result);
  }

  /** Polls `fn(...args)` until it returns something truthy (navigations in between are fine). */
  async waitFor(fn, args = [], { timeout = 20000, what = fn.toString().slice(0, 120) } = {}) {
    const deadline = Date.now() + timeout;
    let lastError;
    while (Date.now() < deadline) {
      try {
        const value = await this.call(fn, args);
        if (value) return value;
      } catch (error) {
        lastError = error; // realm gone during a navigation, or the page not ready yet
      }
      await sleep(100);
    }
    throw new Error(`waited ${timeout} ms for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
  }

  waitForSelector(selector, options = {}) {
    return this.waitFor((s) => !!document.querySelector(s), [selector], { what: selector, ...options });
  }

  /** The element for `selector` as a BiDi node reference (scrolled into view). */
  async element(selector) {
    const node = await this.call((s) => {
      const el = document.querySelector(s);
      if (el) el.scrollIntoView({ block: 'center', inline: 'center' });
      return el;
    }, [selector], { raw: true });
    if (node.type !== 'node') throw new Error(`${selector} not found`);
    return { sharedId: node.sharedId };
  }

  /** Moves the real mouse over the centre of a node reference or a selector's element. */
  async hover(target) {
    const element = typeof target === 'string' ? await this.element(target) : target;
    await this.bidi.send('input.performActions', {
      context: this.context,
      actions: [{
        type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' },
        actions: [{ type: 'pointerMove', x: 0, y: 0, origin: { type: 'element', element } }],
      }],
    });
  }

  /** A real (trusted) mouse click at the centre of a node reference or a selector's element. */
  async click(target) {
    const element = typeof target === 'string' ? await this.element(target) : target;
    await this.bidi.send('input.performActions', {
      context: this.context,
      actions: [{
        type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' },
        actions: [
          { type: 'pointerMove', x: 0, y: 0, origin: { type: 'element', element } },
          { type: 'pointerDown', button: 0 },
          { type: 'pointerUp', button: 0 },
        ],
      }],
    });
    await this.bidi.send('input.releaseActions', { context: this.context });
  }

  /**
   * Real key presses; `keys` is text, or WebDriver key codes. Note: in Firefox ESR 153,
   * keys from BiDi reach a focused <button> (trusted keydown/keypress/keyup) but do not
   * activate it (no click), while links and form fields react to them as usual; so buttons
   * are clicked with the mouse here.
   */
  async keys(keys) {
    const actions = [];
    for (const key of keys) actions.push({ type: 'keyDown', value: key }, { type: 'keyUp', value: key });
    await this.bidi.send('input.performActions', { context: this.context, actions: [{ type: 'key', id: 'keyboard', actions }] });
    await this.bidi.send('input.releaseActions', { context: this.context });
  }

  press(name) {
    // WebDriver's "Return" (code Enter); \uE007 is the numpad's Enter.
    const codes = { Enter: '\uE006', Escape: '\uE00C', Tab: '\uE004', Backspace: '\uE003' };
    return this.keys(codes[name] ?? name);
  }

  /** Clicks the field (trusted), clears it and types `text` key by key. */
  async fill(selector, text) {
    await this.click(selector);
    await this.call((s) => { const el = document.querySelector(s); el.select?.(); }, [selector]);
    await this.press('Backspace');
    await this.keys(text);
  }

  /** A PNG of the whole document, or of the viewport (dialogs: their backdrop is fixed). */
  async screenshot(file, { fullPage = true } = {}) {
    const { data } = await this.bidi.send('browsingContext.captureScreenshot', {
      context: this.context, origin: fullPage ? 'document' : 'viewport',
    });
    writeFileSync(file, Buffer.from(data, 'base64'));
    return file;
  }

  /**
   * The shadow root (closed ones too) of the element for `hostSelector`, as a reference that
   * `call` can take: BiDi serializes closed roots for the test client when asked
   * (includeShadowTree 'all', as CDP's pierce does); the page's own scripts still cannot.
   */
  async shadowRoot(hostSelector) {
    const host = await this.call((s) => document.querySelector(s), [hostSelector], { shadow: 'all', raw: true });
    if (host.type !== 'node' || !host.value.shadowRoot) return null;
    return { sharedId: host.value.shadowRoot.sharedId };
  }

  /** A probe into the (closed) shadow root of `hostSelector`, re-found on each use. */
  shadow(hostSelector) {
    return new ShadowProbe(this, hostSelector);
  }

  content() {
    return this.call(() => document.documentElement.outerHTML);
  }
}

/** Reads and clicks inside one closed shadow root, as the Chromium tests' ShadowProbe does. */
export class ShadowProbe {
  constructor(page, hostSelector) {
    this.page = page;
    this.hostSelector = hostSelector;
  }

  /** `fn(root, ...args)` in the page, or null when the host or its root is missing. */
  async run(fn, args = [], options = {}) {
    const root = await this.page.shadowRoot(this.hostSelector);
    if (!root) return null;
    return this.page.call(fn, [root, ...args], options);
  }

  /** Whitespace-normalised text of the first match of `selector` in the root, or null. */
  text(selector) {
    return this.run((root, s) => {
      const el = root.querySelector(s);
      return el ? el.textContent.replace(/\s+/g, ' ').trim() : null;
    }, [selector]);
  }

  /** Waits until `selector` matches (and its text matches `text`); returns the text. */
  async waitFor(selector, { timeout = 20000, text } = {}) {
    const deadline = Date.now() + timeout;
    let last = null;
    while (Date.now() < deadline) {
      last = await this.text(selector).catch(() => null);
      if (last !== null && (!text || (text instanceof RegExp ? text.test(last) : last.includes(text)))) return last;
      await sleep(100);
    }
    throw new Error(`shadow ${this.hostSelector} ${selector}${text ? ` with ${text}` : ''} not found in ${timeout} ms (last: ${last})`);
  }

  /** data-action of the element focused inside the root (the dialog's default button). */
  focusedAction() {
    return this.run((root) => root.activeElement?.getAttribute('data-action') ?? null);
  }

  /** A real (trusted) mouse click on the first match of `selector` inside the root. */
  async click(selector) {
    const node = await this.run((root, s) => {
      const el = root.querySelector(s);
      if (el) el.scrollIntoView({ block: 'center' });
      return el;
    }, [selector], { raw: true });
    if (!node || node.type !== 'node') throw new Error(`shadow ${this.hostSelector} ${selector} not found`);
    await this.page.click({ sharedId: node.sharedId });
  }
}

/**
 * Starts Firefox ESR with the extension. `hostEnv` is passed to the browser, which passes it to
 * the host it starts (readers socket, SoftHSM config, host config). HOME is a temp dir: the
 * host manifest lives there and the real home is never touched.
 */
export async function launch({ hostEnv, hostPath = HOST_BIN, viewport = { width: 1200, height: 900 }, userStorage = null } = {}) {
  const firefox = new Firefox();
  firefox.dir = mkdtempSync(path.join(tmpdir(), 'cis-renew-firefox-'));
  firefox.home = path.join(firefox.dir, 'home');
  firefox.profile = path.join(firefox.dir, 'profile');
  mkdirSync(path.join(firefox.profile, 'extensions'), { recursive: true });
  buildXpi(path.join(firefox.profile, 'extensions', `${GECKO_ID}.xpi`));
  writeFileSync(path.join(firefox.profile, 'user.js'),
    Object.entries(PREFS).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''));
  const manifestDir = path.join(firefox.home, '.mozilla', 'native-messaging-hosts');
  mkdirSync(manifestDir, { recursive: true });
  if (hostPath) {
    writeFileSync(path.join(manifestDir, `${HOST_NAME}.json`), JSON.stringify({
      name: HOST_NAME,
      description: 'cis-renew native host (e2e)',
      path: hostPath,
      type: 'stdio',
      allowed_extensions: [GECKO_ID],
    }));
  }
  if (userStorage) writeUserStorage(firefox.home, userStorage);
  firefox.output = '';
  firefox.proc = spawn(FIREFOX_BIN, [
    '--headless', '--no-remote', '--profile', firefox.profile, '--remote-debugging-port', '0', 'about:blank',
  ], {
    // Its own process group, so that close() can also end the host and content processes.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...hostEnv,
      HOME: firefox.home,
      XDG_CONFIG_HOME: path.join(firefox.home, '.config'),
      XDG_CACHE_HOME: path.join(firefox.home, '.cache'),
      XDG_DATA_HOME: path.join(firefox.home, '.local', 'share'),
      MOZ_CRASHREPORTER_DISABLE: '1',
      MOZ_HEADLESS_WIDTH: String(viewport.width),
      MOZ_HEADLESS_HEIGHT: String(viewport.height),
    },
  });
  firefox.proc.stdout.on('data', (chunk) => { firefox.output = (firefox.output + chunk).slice(-50000); });
  firefox.exited = new Promise((resolve) => firefox.proc.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    const wsUrl = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`firefox printed no BiDi address in 30 s: ${firefox.output}`)), 30000);
      firefox.proc.stderr.on('data', (chunk) => {
        firefox.output = (firefox.output + chunk).slice(-50000);
        const match = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(firefox.output);
        if (match) { clearTimeout(timer); resolve(match[1]); }
      });
      firefox.exited.then(({ code, signal }) => reject(new Error(`firefox exited (${code ?? signal}): ${firefox.output}`)));
    });
    firefox.bidi = await Bidi.connect(`${wsUrl}/session`);
    await firefox.bidi.send('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
    // Console messages of every page (the dashboard, the passcode window), for leak checks.
    firefox.console = [];
    firefox.bidi.on('log.entryAdded', (entry) => firefox.console.push(`${entry.level} ${entry.source?.context ?? ''} ${entry.text}`));
    await firefox.bidi.send('session.subscribe', { events: ['log.entryAdded'] });
    const { contexts } = await firefox.bidi.send('browsingContext.getTree', { maxDepth: 0 });
    firefox.page = new Page(firefox, contexts[0].context);
    await firefox.bidi.send('browsingContext.setViewport', { context: firefox.page.context, viewport });
    return firefox;
  } catch (error) {
    await firefox.close();
    throw error;
  }
}

export class Firefox {
  /** Waits for a new top-level context whose URL matches `pattern` (e.g. the passcode window). */
  async waitForPage(pattern, { timeout = 20000 } = {}) {
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      const { contexts } = await this.bidi.send('browsingContext.getTree', { maxDepth: 0 });
      const found = contexts.find((c) => pattern.test(c.url));
      if (found) return new Page(this, found.context);
      await sleep(100);
    }
    const { contexts } = await this.bidi.send('browsingContext.getTree', { maxDepth: 0 });
    throw new Error(`no page matching ${pattern} in ${timeout} ms; open: ${contexts.map((c) => c.url).join(', ')}`);
  }

  /** Ends the browser (BiDi browser.close, then signals) and everything it started, and waits. */
  async close() {
    const { proc } = this;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      if (this.bidi) await this.bidi.send('browser.close', {}, 5000).catch(() => {});
      const graceful = await Promise.race([this.exited, sleep(8000).then(() => null)]);
      if (!graceful) {
        try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
        const termed = await Promise.race([this.exited, sleep(5000).then(() => null)]);
        if (!termed) try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
        await this.exited;
      }
    }
    this.bidi?.close();
    // The host (and any content process) left in Firefox's process group.
    if (proc) try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* none left */ }
    if (this.dir && !process.env.CIS_E2E_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Signs in to the stand-in as a sponsor (typed with real keys, submitted with a real click). */
export async function signIn(page, baseUrl, { username = 'sponsor1', password = 'sponsor1-demo' } = {}) {
  await page.goto(`${baseUrl}/signin`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#signin-button');
  await page.waitForSelector('body[data-page="home"]');
}

/** Screenshots through WebDriver BiDi. */
export class Shots extends ShotFiles {
  take(page, name, options) {
    return page.screenshot(this.next(name), options);
  }
}
