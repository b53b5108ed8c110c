/**
 * Content script entry (last of the classic scripts injected on portal origins). Generic:
 * the DOM knowledge is in adapter.js, the drawing in render.js, the wording in view.js.
 *
 * - Connects a `cis-renew.content` port to the worker, which refuses it unless this page's
 *   origin (as the browser reports it) is a portal origin; reconnects if the worker restarts.
 * - Renders every `state` message: the menu item's enabled/disabled reason and, when this tab
 *   owns a renewal, the dialog.
 * - Runs the EST exchange when the worker asks (`est.request`): a same-origin fetch with the
 *   sponsor's session and the page's CSRF token; answers with `est.response`.
 * - Places Renew Certificate through placement.js, which watches the DOM (the dashboard may
 *   draw its menu late, redraw it, or create it only while open).
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});
  if (ns.contentStarted) return; // injected again (registration + executeScript)
  ns.contentStarted = true;

  const api = root.browser || root.chrome;
  const doc = root.document;
  const { adapter, view, est, cardAdmin, placement } = ns;

  const t = (key, subs) => api.i18n.getMessage(key, subs) || key;
  const locale = (api.i18n.getUILanguage && api.i18n.getUILanguage()) || undefined;
  const fmt = (iso) => view.formatDate(iso, undefined, locale);
  // Set before the reload that refreshes the dashboard's card details after a renewal, so
  // focus comes back to Select Service instead of the top of the page.
  const FOCUS_AFTER_RELOAD = 'cis-renew.focusSelectService';

  let port = null;
  let state = null; // the latest `state` from the worker
  let confirming = null; // the card shown in the confirmation, before Continue
  let starting = false; // Continue sent, the worker's first renewal state not here yet
  let refused = null; // error of a refused renew.start
  let retry = 0;
  let everAccepted = false;

  const ui = ns.render.createUi(doc, { t, fmt, locale, onRenew, onAction });

  function canRenew() {
    const card = state && state.status && state.status.card;
    return Boolean(card && view.menuState(state, fmt, { selectedSerial }).enabled);
  }

  function onRenew() {
    if (!canRenew()) return false;
    places.beforeDialog();
    confirming = state.status.card;
    refused = null;
    renderDialog();
    return true;
  }

  let selectedSerial = null;
  const places = placement.create(doc, {
    ui,
    t,
    enabled: canRenew,
    onRenew,
    onCardSerial: (serial) => {
      selectedSerial = serial;
      render();
    },
  });

  function send(msg) {
    if (!port) return;
    try {
      port.postMessage(msg);
    } catch {
      /* the worker went away; onDisconnect reconnects */
    }
  }

  function onAction(action) {
    const r = state && state.renewal;
    switch (action) {
      case 'continue':
        if (confirming) {
          send({ type: 'renew.start', serial: String(confirming.token && confirming.token.serial) });
          confirming = null;
          starting = true; // the same dialog goes on to the progress view
        }
        break;
      case 'close':
        confirming = null;
        break;
      case 'cancel':
        if (r && r.canCancel) send({ type: 'renew.cancel' });
        break;
      case 'dismiss':
      case 'escape-dismiss':
        refused = null;
        if (r) send({ type: 'renew.dismiss' });
        state = state && { ...state, renewal: null }; // closes now, not at the worker's answer
        if (r && r.phase === 'done' && action === 'dismiss') {
          // The dashboard draws the card details on the server: only a reload shows the new
          // certificates. Focus comes back to Select Service after it.
          try {
            root.sessionStorage.setItem(FOCUS_AFTER_RELOAD, '1');
          } catch {
            /* storage disabled: focus starts at the top */
          }
          adapter.refreshAfterRenewal(doc);
          return;
        }
        break;
      case 'retry':
        refused = null;
        if (r) send({ type: 'renew.dismiss' });
        state = state && { ...state, renewal: null };
        if (onRenew()) return;
        break;
      case 'showPin':
        send({ type: 'pin.reveal' });
        return;
      case 'escape':
        // Escape never reloads the page: it closes what can be closed and cancels what can be.
        if (confirming) confirming = null;
        else if (r && r.canCancel) send({ type: 'renew.cancel' });
        else if (refused || (r && ['done', 'failed', 'cancelled'].includes(r.phase))) return onAction('escape-dismiss');
        break;
      default:
        return;
    }
    renderDialog();
  }

  function dialogModel() {
    const r = state && state.renewal;
    if (r) {
      if (r.phase === 'done') return { kind: 'done', renewal: r };
      if (r.phase === 'failed') return { kind: 'failed', error: r.error, retry: view.canRetry(r.error) };
      if (r.phase === 'cancelled') return { kind: 'cancelled' };
      if (r.phase !== 'idle') return { kind: 'progress', renewal: r };
    }
    if (refused) return { kind: 'failed', error: refused, retry: view.canRetry(refused) };
    // Where the page shows no card serial, the confirmation says which card will be renewed.
    if (confirming) return { kind: 'confirm', card: confirming, cardUnchecked: selectedSerial === null };
    if (starting) return { kind: 'progress', renewal: { phase: 'starting', step: null, canCancel: false, cancelling: false, pinPad: false, error: null } };
    return null;
  }

  let dialogShown = false;

  function renderDialog() {
    const model = dialogModel();
    ui.setDialog(model);
    if (dialogShown && !model) places.afterDialog();
    dialogShown = Boolean(model);
  }

  function render() {
    const menu = view.menuState(state, fmt, { selectedSerial });
    ui.setMenu(menu);
    places.setMenu(menu, menu.reason ? t(menu.reason.key, menu.reason.subs) : '');
    renderDialog();
  }

  let loggedDetail = null;
  /** The browser's or the service's own words go to the console for support, not into a sentence. */
  function logDetail(error) {
    if (!error || error === loggedDetail) return;
    const detail = [error.code, error.status, error.reason || error.message].filter((x) => x !== undefined && x !== '').join(' ');
    if (detail === loggedDetail) return;
    loggedDetail = detail;
    root.console.info(`cis-renew: ${detail}`);
  }

  async function runEst(msg) {
    const url = est.reenrollUrl(msg.url);
    const result = await est.simpleReenroll({
      fetch: root.fetch.bind(root),
      url,
      csr: msg.csr,
      csrfToken: adapter.csrfToken(doc),
      timeoutMs: msg.timeoutMs,
    });
    send(result.ok ? { type: 'est.response', requestId: msg.requestId, ok: true, pkcs7: result.pkcs7 } : { type: 'est.response', requestId: msg.requestId, ok: false, error: result.error });
  }

  async function runCsrAttrs(msg) {
    const result = await est.csrAttrs({ fetch: root.fetch.bind(root), url: est.csrAttrsUrl(msg.url), timeoutMs: msg.timeoutMs });
    send(result.ok ? { type: 'csrattrs.response', requestId: msg.requestId, ok: true, keyAlgorithm: result.keyAlgorithm } : { type: 'csrattrs.response', requestId: msg.requestId, ok: false, error: result.error });
  }

  async function runCardAdmin(msg) {
    const result = await cardAdmin.call({
      fetch: root.fetch.bind(root),
      baseUrl: msg.url,
      op: msg.op,
      body: msg.body,
      csrfToken: adapter.csrfToken(doc),
      timeoutMs: msg.timeoutMs,
    });
    send(result.ok ? { type: 'cardAdmin.response', requestId: msg.requestId, ok: true, result: result.result } : { type: 'cardAdmin.response', requestId: msg.requestId, ok: false, error: result.error });
  }

  function onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'state':
        retry = 0;
        everAccepted = true;
        state = msg.state || null;
        if (state) places.setSettings(state.siteAdapter);
        if (state && state.renewal) {
          refused = null;
          starting = false;
          logDetail(state.renewal.error);
        }
        render();
        break;
      case 'renew.refused':
        refused = msg.error || { code: 'INTERNAL_ERROR' };
        starting = false;
        logDetail(refused);
        renderDialog();
        break;
      case 'cardAdmin.request':
        if (typeof msg.requestId === 'string' && typeof msg.op === 'string' && typeof msg.url === 'string') runCardAdmin(msg);
        break;
      case 'csrattrs.request':
        if (typeof msg.requestId === 'string' && typeof msg.url === 'string') runCsrAttrs(msg);
        break;
      case 'est.request':
        if (typeof msg.requestId === 'string' && typeof msg.csr === 'string' && typeof msg.url === 'string') runEst(msg);
        break;
      default:
        break;
    }
  }

  function connect() {
    try {
      port = api.runtime.connect({ name: 'cis-renew.content' });
    } catch {
      return; // extension reloaded or removed: this copy is orphaned
    }
    port.onMessage.addListener(onMessage);
    port.onDisconnect.addListener(() => {
      port = null;
      // The worker restarted; a port refused from the start is not retried for long.
      if (!everAccepted && retry >= 4) return;
      const delay = Math.min(30_000, 500 * 2 ** retry++);
      root.setTimeout(connect, delay);
    });
  }

  places.start();
  render();
  try {
    if (root.sessionStorage.getItem(FOCUS_AFTER_RELOAD)) {
      root.sessionStorage.removeItem(FOCUS_AFTER_RELOAD);
      ui.focusHome();
    }
  } catch {
    /* storage disabled */
  }
  connect();
  doc.addEventListener('visibilitychange', () => {
    if (doc.visibilityState === 'visible') send({ type: 'status.refresh' });
  });
})(globalThis);
