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

  let port = null;
  let state = null; // the latest `state` from the worker
  let confirming = null; // the card shown in the confirmation, before Continue
  let refused = null; // error of a refused renew.start
  let retry = 0;
  let everAccepted = false;

  const ui = ns.render.createUi(doc, {
    t,
    onRenew,
    onAction,
  });

  function canRenew() {
    const card = state && state.status && state.status.card;
    return Boolean(card && view.menuState(state, undefined, { selectedSerial }).enabled);
  }

  function onRenew() {
    if (!canRenew()) return;
    places.beforeDialog();
    confirming = state.status.card;
    refused = null;
    renderDialog();
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
        }
        break;
      case 'close':
        confirming = null;
        break;
      case 'cancel':
        if (r && r.canCancel) send({ type: 'renew.cancel' });
        break;
      case 'dismiss':
        refused = null;
        if (r) send({ type: 'renew.dismiss' });
        if (r && r.phase === 'done') adapter.refreshAfterRenewal(doc);
        break;
      case 'escape':
        if (confirming) confirming = null;
        else if (r && r.canCancel) send({ type: 'renew.cancel' });
        else if (refused || (r && ['done', 'failed', 'cancelled'].includes(r.phase))) onAction('dismiss');
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
      if (r.phase === 'failed') return { kind: 'failed', error: r.error };
      if (r.phase === 'cancelled') return { kind: 'cancelled' };
      if (r.phase !== 'idle') return { kind: 'progress', renewal: r };
    }
    if (refused) return { kind: 'failed', error: refused };
    // Where the page shows no card serial, the confirmation says which card will be renewed.
    if (confirming) return { kind: 'confirm', card: confirming, cardUnchecked: selectedSerial === null };
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
    const menu = view.menuState(state, undefined, { selectedSerial });
    ui.setMenu(menu);
    places.setMenu(menu, menu.reason ? t(menu.reason.key, menu.reason.subs) : '');
    renderDialog();
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
        if (state && state.renewal) refused = null;
        render();
        break;
      case 'renew.refused':
        refused = msg.error || { code: 'INTERNAL_ERROR' };
        renderDialog();
        break;
      case 'cardAdmin.request':
        if (typeof msg.requestId === 'string' && typeof msg.op === 'string' && typeof msg.url === 'string') runCardAdmin(msg);
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
  connect();
  doc.addEventListener('visibilitychange', () => {
    if (doc.visibilityState === 'visible') send({ type: 'status.refresh' });
  });
})(globalThis);
