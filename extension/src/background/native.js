/**
 * The one native-messaging port to the host (`uk.nhs.cis_renew`), as a small state machine:
 *
 *   disconnected --connect()--> connecting --hello ok--> connected
 *        ^                          |                        |
 *        +------ port dropped / refused / hello timeout -----+
 *
 * - The host's first frame must be `{"type":"hello","version","protocol"}` with protocol >= 1
 *   (else HOST_TOO_OLD). An error frame with id null instead (ORIGIN_NOT_ALLOWED,
 *   CONFIG_INVALID) becomes the connection's error.
 * - connectNative failing with "not found" becomes HOST_MISSING; "forbidden" (the host's
 *   manifest does not list this extension) becomes ORIGIN_NOT_ALLOWED.
 * - Requests get increasing numeric ids and a per-request timeout (TIMEOUT); events with a
 *   request's id go to that request's listener; `watch` keeps its listener after the reply.
 * - While someone wants the connection (`keepConnected(true)`), a dropped port is reconnected
 *   with back-off; the state listeners see every change, so the UI can say what is wrong.
 *
 * Everything the browser provides is injected (`connectNative`, `lastError`, timers) so tests
 * can drive it with a fake port.
 */
import '../shared/errors.js';

const { CisError, fromWire } = globalThis.cisRenew.errors;

export const HOST_NAME = 'uk.nhs.cis_renew';
export const PROTOCOL = 1;

export const STATE = Object.freeze({
  DISCONNECTED: 'disconnected',
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
});

/** Per-command reply timeouts (ms). renewBegin includes the user at a PIN pad and on-card keygen. */
export const TIMEOUTS = Object.freeze({
  hello: 10_000,
  default: 15_000,
  renewBegin: 180_000,
  renewComplete: 120_000,
});

export const BACKOFF = Object.freeze([1_000, 2_000, 5_000, 10_000, 30_000]);

/** Maps the browser's disconnect message to one of our codes. */
export function classifyDisconnect(message) {
  const m = String(message || '');
  if (/not found|no such native application/i.test(m)) return 'HOST_MISSING';
  if (/forbidden|not allowed|access denied/i.test(m)) return 'ORIGIN_NOT_ALLOWED';
  return null;
}

export class NativeHost {
  /**
   * @param {object} deps
   * @param {(name: string) => object} deps.connectNative  chrome.runtime.connectNative
   * @param {() => string|undefined} [deps.lastError]    chrome.runtime.lastError?.message
   * @param {object} [deps.timers]                        { setTimeout, clearTimeout }
   */
  constructor({ connectNative, lastError = () => undefined, timers = globalThis, timeouts = TIMEOUTS, backoff = BACKOFF, log = () => {} }) {
    this._connectNative = connectNative;
    this._lastError = lastError;
    this._timers = timers;
    this._timeouts = timeouts;
    this._backoff = backoff;
    this._log = log;
    this.state = STATE.DISCONNECTED;
    /** The last connection problem, or null while things are fine. A CisError. */
    this.error = null;
    this.version = null;
    this.protocol = null;
    this._port = null;
    this._nextId = 1;
    this._pending = new Map(); // id -> { resolve, reject, timer, onEvent, keep }
    this._listeners = new Map(); // id -> onEvent, for requests kept after their reply (watch)
    this._queue = []; // frames waiting for hello
    this._stateListeners = new Set();
    this._wanted = false;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._helloTimer = null;
  }

  /** Subscribe to state changes: fn({ state, error, version }). Returns an unsubscribe function. */
  onStateChange(fn) {
    this._stateListeners.add(fn);
    return () => this._stateListeners.delete(fn);
  }

  /** Whether to hold the port open and reconnect when it drops. */
  keepConnected(wanted) {
    this._wanted = Boolean(wanted);
    if (this._wanted && this.state === STATE.DISCONNECTED && !this._reconnectTimer) this.connect();
    if (!this._wanted) {
      this._clearReconnect();
      if (this.state !== STATE.DISCONNECTED && this._pending.size === 0) this.disconnect();
    }
  }

  connect() {
    if (this.state !== STATE.DISCONNECTED) return;
    this._clearReconnect();
    this._setState(STATE.CONNECTING);
    let port;
    try {
      port = this._connectNative(HOST_NAME);
    } catch (e) {
      this._failConnection(new CisError(classifyDisconnect(e && e.message) || 'HOST_MISSING', String(e && e.message)));
      return;
    }
    this._port = port;
    port.onMessage.addListener((msg) => {
      if (this._port === port) this._onFrame(msg);
    });
    port.onDisconnect.addListener((p) => {
      if (this._port !== port) return;
      const message = (p && p.error && p.error.message) || this._lastError();
      this._onDisconnect(message);
    });
    this._helloTimer = this._timers.setTimeout(() => {
      this._helloTimer = null;
      if (this.state === STATE.CONNECTING && this._port === port) {
        this._dropPort();
        this._failConnection(new CisError('TIMEOUT', 'the host did not say hello'));
      }
    }, this._timeouts.hello);
  }

  /** Closes the port on purpose; pending requests fail with CANCELLED. */
  disconnect() {
    this._wanted = false;
    this._clearReconnect();
    if (this.state === STATE.DISCONNECTED) return;
    this._dropPort();
    this._rejectAll(new CisError('CANCELLED', 'disconnected'));
    this.error = null;
    this._setState(STATE.DISCONNECTED);
  }

  /**
   * Sends a command and resolves with its `result`, or rejects with a CisError.
   * @param {object} [opts] { onEvent(frame), keep: keep onEvent after the reply, timeoutMs }
   */
  request(command, params, opts = {}) {
    const id = this._nextId++;
    const frame = params === undefined ? { id, command } : { id, command, params };
    const timeoutMs = opts.timeoutMs ?? this._timeouts[command] ?? this._timeouts.default;
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, onEvent: opts.onEvent, keep: Boolean(opts.keep), timer: null, command };
      entry.timer = this._timers.setTimeout(() => {
        if (this._pending.get(id) !== entry) return;
        this._pending.delete(id);
        this._queue = this._queue.filter((f) => f.id !== id);
        reject(new CisError('TIMEOUT', `${command} timed out`));
      }, timeoutMs);
      this._pending.set(id, entry);
      if (this.state === STATE.CONNECTED) this._post(frame);
      else {
        this._queue.push(frame);
        if (this.state === STATE.DISCONNECTED) {
          this._clearReconnect();
          this.connect();
        }
      }
    });
  }

  /** Stops delivering events for every kept listener (after `unwatch`). */
  dropListeners() {
    this._listeners.clear();
  }

  // --- internals ---

  _post(frame) {
    try {
      this._port.postMessage(frame);
    } catch (e) {
      this._log('postMessage failed', e);
      this._onDisconnect(e && e.message);
    }
  }

  _onFrame(msg) {
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return;
    if (this.state === STATE.CONNECTING) {
      this._onFirstFrame(msg);
      return;
    }
    const id = msg.id;
    if (typeof msg.event === 'string') {
      const entry = this._pending.get(id);
      const fn = (entry && entry.onEvent) || this._listeners.get(id);
      if (fn) {
        try {
          fn(msg);
        } catch (e) {
          this._log('event listener failed', e);
        }
      }
      return;
    }
    if (typeof msg.ok !== 'boolean') return;
    if (id === null || id === undefined) {
      this._log('host error without id', msg.error && msg.error.code);
      return;
    }
    const entry = this._pending.get(id);
    if (!entry) return; // late reply after a timeout
    this._pending.delete(id);
    this._timers.clearTimeout(entry.timer);
    if (entry.keep && entry.onEvent && msg.ok) this._listeners.set(id, entry.onEvent);
    if (msg.ok) entry.resolve(msg.result === undefined ? {} : msg.result);
    else entry.reject(fromWire(msg.error));
  }

  _onFirstFrame(msg) {
    this._clearHelloTimer();
    if (msg.type === 'hello') {
      const protocol = msg.protocol;
      if (!Number.isInteger(protocol) || protocol < PROTOCOL) {
        this._dropPort();
        this._failConnection(new CisError('HOST_TOO_OLD', `host protocol ${String(protocol)}`), { retry: false });
        return;
      }
      this.version = typeof msg.version === 'string' ? msg.version : null;
      this.protocol = protocol;
      this.error = null;
      this._attempt = 0;
      this._setState(STATE.CONNECTED);
      const queued = this._queue;
      this._queue = [];
      for (const frame of queued) if (this._pending.has(frame.id)) this._post(frame);
      return;
    }
    if (msg.ok === false && msg.error) {
      // ORIGIN_NOT_ALLOWED / CONFIG_INVALID: the host exits after this frame.
      this._dropPort();
      this._failConnection(fromWire(msg.error), { retry: false });
      return;
    }
    this._dropPort();
    this._failConnection(new CisError('HOST_TOO_OLD', 'the host did not say hello'), { retry: false });
  }

  _onDisconnect(message) {
    const wasConnected = this.state === STATE.CONNECTED;
    this._clearHelloTimer();
    this._port = null;
    const code = classifyDisconnect(message);
    if (code) {
      this._failConnection(new CisError(code, String(message)), { retry: code !== 'ORIGIN_NOT_ALLOWED' });
      return;
    }
    const err = wasConnected
      ? new CisError('INTERNAL_ERROR', `the host stopped: ${message || 'disconnected'}`)
      : new CisError('HOST_MISSING', `the host did not start: ${message || 'disconnected'}`);
    this._failConnection(err);
  }

  /** Ends the current attempt with `err`: pending requests fail, state goes to disconnected. */
  _failConnection(err, { retry = true } = {}) {
    this._clearHelloTimer();
    this._port = null;
    this._rejectAll(err);
    // An error the host sent (refused origin, bad config) or a too-old host stays the
    // visible error even though a later drop of the same port says less.
    this.error = err;
    this._setState(STATE.DISCONNECTED);
    if (this._wanted) this._scheduleReconnect(retry ? 0 : this._backoff.length - 1);
  }

  _scheduleReconnect(minStep) {
    this._clearReconnect();
    const step = Math.min(Math.max(this._attempt, minStep), this._backoff.length - 1);
    const delay = this._backoff[step];
    this._attempt += 1;
    this._reconnectTimer = this._timers.setTimeout(() => {
      this._reconnectTimer = null;
      if (this._wanted && this.state === STATE.DISCONNECTED) this.connect();
    }, delay);
  }

  _clearReconnect() {
    if (this._reconnectTimer) {
      this._timers.clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
    }
  }

  _clearHelloTimer() {
    if (this._helloTimer) {
      this._timers.clearTimeout(this._helloTimer);
      this._helloTimer = null;
    }
  }

  _dropPort() {
    const port = this._port;
    this._port = null;
    if (port) {
      try {
        port.disconnect();
      } catch {
        /* already gone */
      }
    }
  }

  _rejectAll(err) {
    const pending = [...this._pending.values()];
    this._pending.clear();
    this._queue = [];
    this._listeners.clear();
    for (const p of pending) {
      this._timers.clearTimeout(p.timer);
      p.reject(err);
    }
  }

  _setState(state) {
    this.state = state;
    const snapshot = { state, error: this.error, version: this.version };
    for (const fn of [...this._stateListeners]) {
      try {
        fn(snapshot);
      } catch (e) {
        this._log('state listener failed', e);
      }
    }
  }
}
