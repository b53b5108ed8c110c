/**
 * The extension's service worker (Firefox: background script): the only owner of the native
 * port. It wires the browser's APIs to the pieces that do the work:
 *   native.js    host connection      hub.js        tabs, card status, EST through the tab
 *   renewal.js   the renewal          pinWindow.js  the passcode window
 *   dispatch.js  one switch from a validated message to its action (actions/*.js)
 * Listeners are added synchronously at the top level, as MV3 requires.
 */
import '../shared/errors.js';
import { loadConfig, serviceUrlFor } from '../shared/config.js';
import { CONTENT_PORT, PIN_PORT, validate, isPortalSender, isPinSender } from '../shared/messages.js';
import { NativeHost } from './native.js';
import { Hub } from './hub.js';
import { Renewal } from './renewal.js';
import { PinWindow, PIN_PAGE } from './pinWindow.js';
import { dispatch } from './dispatch.js';
import { syncContentScripts } from './contentScripts.js';

const api = globalThis.browser ?? globalThis.chrome;
const isFirefox = api.runtime.getURL('').startsWith('moz-extension:');
const log = (...args) => console.debug('[cis-renew]', ...args);

let config = null;

const host = new NativeHost({
  connectNative: (name) => api.runtime.connectNative(name),
  lastError: () => api.runtime.lastError && api.runtime.lastError.message,
  log,
});

const hub = new Hub({ host, log, serviceUrlFor: (origin) => serviceUrlFor(config, origin), siteAdapter: () => (config ? config.siteAdapter : null) });

const pinWindow = new PinWindow({
  windows: api.windows,
  pageUrl: api.runtime.getURL(PIN_PAGE),
  onClosed: () => renewal.pinCancelled(),
  log,
});

const renewal = new Renewal({
  host,
  est: (req) => hub.est(renewal.owner, req),
  csrAttrs: () => hub.csrAttrs(renewal.owner),
  cardAdmin: (req) => hub.cardAdmin(renewal.owner, req),
  pin: {
    open: async (message) => {
      let near;
      const tab = hub.tabs.get(renewal.owner);
      if (tab && tab.windowId !== undefined) near = await api.windows.get(tab.windowId).catch(() => undefined);
      await pinWindow.open(message, near);
    },
    show: (message) => pinWindow.show(message),
    close: () => pinWindow.close(),
  },
  onChange: () => {
    const view = renewal.view();
    if (view && view.phase === 'done' && view.result && hub.status !== view.result) hub.status = view.result;
    hub.renewalChanged();
  },
  log,
});
hub.renewal = renewal;
const app = { hub, renewal, pinWindow };

async function reload() {
  const { config: next, problems } = await loadConfig(api.storage.managed);
  for (const p of problems) console.warn('[cis-renew] managed setting', p);
  config = next;
  hub.retainOrigins(config.portalOrigins);
  hub.broadcast(); // a new siteAdapter policy reaches open tabs
  try {
    await syncContentScripts(api, config.portalOrigins, { withPorts: !isFirefox, log });
  } catch (e) {
    console.error('[cis-renew] registering content scripts failed', e);
  }
  return config;
}

let ready = reload();

api.storage.onChanged.addListener((_changes, area) => {
  if (area === 'managed') ready = reload();
});

api.windows.onRemoved.addListener((id) => pinWindow.windowRemoved(id));

api.runtime.onConnect.addListener((port) => {
  // Listen at once so nothing is lost while the configuration loads; act once it is there.
  const early = [];
  let handle = (m) => early.push(m);
  port.onMessage.addListener((m) => handle(m));
  let onGone = () => {};
  port.onDisconnect.addListener(() => onGone());
  ready.then(() => {
    const accepted = port.name === CONTENT_PORT ? acceptContent(port) : port.name === PIN_PORT ? acceptPin(port) : null;
    if (!accepted) {
      log('refused a port', port.name);
      port.disconnect();
      return;
    }
    handle = accepted.handle;
    onGone = accepted.gone;
    for (const m of early.splice(0)) handle(m);
  });
});

function acceptContent(port) {
  if (!isPortalSender(port.sender, { extensionId: api.runtime.id, portalOrigins: config.portalOrigins })) return null;
  const tab = hub.addTab(port, port.sender);
  tab.windowId = port.sender.tab.windowId;
  return {
    handle: (raw) => {
      const msg = validate(CONTENT_PORT, raw);
      if (!msg) return log('ignored an invalid message from a dashboard tab');
      dispatch(app, msg, { channel: CONTENT_PORT, tabKey: tab.key });
    },
    gone: () => hub.removeTab(tab.key),
  };
}

function acceptPin(port) {
  if (!isPinSender(port.sender, { extensionId: api.runtime.id, pinPageUrl: api.runtime.getURL(PIN_PAGE) })) return null;
  if (!pinWindow.attach(port, port.sender)) return null;
  return {
    handle: (raw) => {
      const msg = validate(PIN_PORT, raw);
      if (!msg) return log('ignored an invalid message from the passcode window');
      dispatch(app, msg, { channel: PIN_PORT });
    },
    gone: () => {
      pinWindow.detach(port);
      renewal.pinCancelled();
    },
  };
}

// For inspection from the browser's devtools (and end-to-end tests reading state): read-only use.
globalThis.cisRenewWorker = Object.freeze({ app, host, config: () => config, ready: () => ready });
