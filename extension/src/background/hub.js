/**
 * The worker's view of the world, shared by every dashboard tab:
 * - the connected content-script ports (one per dashboard tab),
 * - the host connection and its `watch` subscription (held while a tab or a renewal needs it),
 * - the latest card status, pushed to every tab as a `state` message,
 * - EST exchanges, which run in the renewal owner's tab (the sponsor's dashboard session) and
 *   come back as `est.response` from that tab only.
 *
 * A tab sees the renewal's details only when it owns the renewal; the others just learn that
 * one is running elsewhere.
 */
import '../shared/errors.js';
import { TO_CONTENT } from '../shared/messages.js';
import { STATE } from './native.js';

const { CisError, fromWire } = globalThis.cisRenew.errors;

/** How long the host stays connected after the last dashboard tab went away. */
export const IDLE_DISCONNECT_MS = 30_000;
export const EST_TIMEOUT_MS = 90_000;

export class Hub {
  constructor({ host, timers = globalThis, log = () => {}, serviceUrlFor = (origin) => origin, siteAdapter = () => null }) {
    this.host = host;
    this.renewal = null; // set by the worker after construction
    this._timers = timers;
    this._log = log;
    this._serviceUrlFor = serviceUrlFor;
    this._siteAdapter = siteAdapter; // the `siteAdapter` policy, passed to every tab
    this.tabs = new Map(); // key -> { key, port, tabId, origin }
    this.status = null;
    this.statusError = null;
    this._watching = false;
    this._idleTimer = null;
    this._est = new Map(); // requestId -> { owner, resolve, reject, timer }
    this._nextKey = 1;
    this._nextEst = 1;
    host.onStateChange((s) => this._hostState(s));
  }

  // --- tabs ---

  addTab(port, sender) {
    const key = `t${this._nextKey++}`;
    const origin = sender.origin || new URL(sender.url).origin;
    const tab = { key, port, tabId: sender.tab.id, origin };
    this.tabs.set(key, tab);
    this._needHost();
    this._send(tab, this.snapshot(key));
    return tab;
  }

  removeTab(key) {
    if (!this.tabs.delete(key)) return;
    for (const [id, est] of this._est) {
      if (est.owner === key) {
        this._est.delete(id);
        this._timers.clearTimeout(est.timer);
        est.reject(new CisError('CANCELLED', 'the dashboard tab went away'));
      }
    }
    if (this.renewal && this.renewal.owner === key) this.renewal.ownerGone();
    this._maybeIdle();
  }

  /** Drops tabs whose origin is no longer allowed (policy changed). */
  retainOrigins(origins) {
    for (const tab of [...this.tabs.values()]) {
      if (!origins.includes(tab.origin)) {
        try {
          tab.port.disconnect();
        } catch {
          /* gone */
        }
        this.removeTab(tab.key);
      }
    }
  }

  /** The state message for one tab. */
  snapshot(key) {
    const r = this.renewal;
    const owns = Boolean(r && r.owner === key && r.phase !== 'idle');
    return {
      type: TO_CONTENT.STATE,
      state: {
        host: { state: this.host.state, error: this.host.error ? this.host.error.toJSON() : null, version: this.host.version },
        status: this.status,
        statusError: this.statusError ? this.statusError.toJSON() : null,
        renewal: owns ? r.view() : null,
        renewalElsewhere: Boolean(r && r.active && !owns),
        siteAdapter: this._siteAdapter(),
      },
    };
  }

  broadcast() {
    for (const tab of this.tabs.values()) this._send(tab, this.snapshot(tab.key));
  }

  sendTo(key, msg) {
    const tab = this.tabs.get(key);
    if (tab) this._send(tab, msg);
  }

  // --- status ---

  async refresh() {
    try {
      this._setStatus(await this.host.request('status'), null);
    } catch (e) {
      this._setStatus(null, e instanceof CisError ? e : new CisError('INTERNAL_ERROR', String(e)));
    }
  }

  _setStatus(status, error) {
    this.status = status && typeof status === 'object' ? status : null;
    this.statusError = error;
    if (this.renewal && this.status) this.renewal.statusChanged(this.status);
    this.broadcast();
  }

  /**
   * Events under the `watch` id (docs/protocol.md): `card` {status} or {error}, `readers`
   * {readers} (asks for the status again), `error` {error} (PC/SC went away).
   */
  _onWatchEvent(ev) {
    if (ev.event === 'card' && ev.status && typeof ev.status === 'object') this._setStatus(ev.status, null);
    else if ((ev.event === 'card' || ev.event === 'error') && ev.error && typeof ev.error === 'object') this._setStatus(null, fromWire(ev.error));
    else if (ev.event === 'readers' || ev.event === 'card') this.refresh();
  }

  _hostState({ state }) {
    if (state === STATE.CONNECTED) {
      this._startWatch();
    } else if (state === STATE.DISCONNECTED) {
      this._watching = false;
      if (this.host.error) {
        this.status = null;
        this.statusError = null;
      }
    }
    this.broadcast();
  }

  _startWatch() {
    if (this._watching || !this._wanted()) return;
    this._watching = true;
    this.host.request('watch', {}, { keep: true, onEvent: (ev) => this._onWatchEvent(ev), timeoutMs: 15_000 }).catch((e) => {
      this._log('watch failed', e && e.code);
      this._watching = false;
    });
    this.refresh();
  }

  _wanted() {
    return this.tabs.size > 0 || Boolean(this.renewal && this.renewal.active);
  }

  _needHost() {
    if (this._idleTimer) {
      this._timers.clearTimeout(this._idleTimer);
      this._idleTimer = null;
    }
    this.host.keepConnected(true);
    if (this.host.state === STATE.CONNECTED) this._startWatch();
  }

  /** Called when tabs leave or a renewal ends: lets the host (and the worker) go when idle. */
  _maybeIdle() {
    if (this._wanted() || this._idleTimer) return;
    this._idleTimer = this._timers.setTimeout(() => {
      this._idleTimer = null;
      if (this._wanted()) return;
      if (this._watching && this.host.state === STATE.CONNECTED) {
        this.host.request('unwatch').catch(() => {});
        this.host.dropListeners();
      }
      this._watching = false;
      this.host.keepConnected(false);
    }, IDLE_DISCONNECT_MS);
  }

  renewalChanged() {
    if (!this._wanted()) this._maybeIdle();
    this.broadcast();
  }

  // --- EST through the owner tab ---

  /** One EST exchange in the tab `owner`; resolves with base64 PKCS#7. */
  est(owner, { role, csr }) {
    const tab = this.tabs.get(owner);
    if (!tab) return Promise.reject(new CisError('CANCELLED', 'the dashboard tab went away'));
    const requestId = `e${this._nextEst++}`;
    return new Promise((resolve, reject) => {
      const timer = this._timers.setTimeout(() => {
        if (this._est.delete(requestId)) reject(new CisError('TIMEOUT', 'the renewal service did not answer'));
      }, EST_TIMEOUT_MS);
      this._est.set(requestId, { owner, resolve, reject, timer });
      this._send(tab, {
        type: TO_CONTENT.EST_REQUEST,
        requestId,
        url: this._serviceUrlFor(tab.origin),
        role,
        csr,
        timeoutMs: EST_TIMEOUT_MS - 5_000,
      });
    });
  }

  /**
   * One card-management call (`op`: begin, certificates, installed, record) in the tab
   * `owner`, with the sponsor's session, as for EST; resolves with the service's answer.
   */
  cardAdmin(owner, { op, body }) {
    const tab = this.tabs.get(owner);
    if (!tab) return Promise.reject(new CisError('CANCELLED', 'the dashboard tab went away'));
    const requestId = `a${this._nextEst++}`;
    return new Promise((resolve, reject) => {
      const timer = this._timers.setTimeout(() => {
        if (this._est.delete(requestId)) reject(new CisError('TIMEOUT', 'the renewal service did not answer'));
      }, EST_TIMEOUT_MS);
      this._est.set(requestId, { owner, resolve, reject, timer });
      this._send(tab, {
        type: TO_CONTENT.CARD_ADMIN_REQUEST,
        requestId,
        url: this._serviceUrlFor(tab.origin),
        op,
        body,
        timeoutMs: EST_TIMEOUT_MS - 5_000,
      });
    });
  }

  /** EST csrattrs in the tab `owner`; resolves with the named key algorithm or null. */
  csrAttrs(owner) {
    const tab = this.tabs.get(owner);
    if (!tab) return Promise.reject(new CisError('CANCELLED', 'the dashboard tab went away'));
    const requestId = `c${this._nextEst++}`;
    return new Promise((resolve, reject) => {
      const timer = this._timers.setTimeout(() => {
        if (this._est.delete(requestId)) reject(new CisError('TIMEOUT', 'the renewal service did not answer'));
      }, EST_TIMEOUT_MS);
      this._est.set(requestId, { owner, resolve, reject, timer });
      this._send(tab, { type: TO_CONTENT.CSRATTRS_REQUEST, requestId, url: this._serviceUrlFor(tab.origin), timeoutMs: EST_TIMEOUT_MS - 5_000 });
    });
  }

  /** A `csrattrs.response` (already validated) from tab `key`; others' answers are ignored. */
  csrAttrsResponse(key, msg) {
    return this._settle(key, msg, 'c', () => (msg.keyAlgorithm === undefined ? null : msg.keyAlgorithm));
  }

  /** A `cardAdmin.response` (already validated) from tab `key`; others' answers are ignored. */
  cardAdminResponse(key, msg) {
    return this._settle(key, msg, 'a', () => msg.result);
  }

  /** An `est.response` (already validated) from tab `key`. Answers from other tabs are ignored. */
  estResponse(key, msg) {
    return this._settle(key, msg, 'e', () => msg.pkcs7);
  }

  /**
   * Settles the pending owner-tab request `msg.requestId` with `value()` or the answer's error.
   * The id's first letter names the kind of request, so one kind of answer never settles another.
   */
  _settle(key, msg, kind, value) {
    const pending = this._est.get(msg.requestId);
    if (!pending || pending.owner !== key || !msg.requestId.startsWith(kind)) return false;
    this._est.delete(msg.requestId);
    this._timers.clearTimeout(pending.timer);
    if (msg.ok) pending.resolve(value());
    else pending.reject(new CisError(msg.error.code, msg.error.reason || '', { reason: msg.error.reason, status: msg.error.status }));
    return true;
  }

  _send(tab, msg) {
    try {
      tab.port.postMessage(msg);
    } catch (e) {
      this._log('posting to a tab failed', e);
    }
  }
}
