/**
 * One renewal at a time, driven by the worker:
 *
 *   idle -> awaitingPin -> beginning -> requesting -> completing -> done
 *              ^   |          |  |          |             |
 *              +---(wrong PIN)+  |          |             +-> failed (host error; no cancel)
 *                  |             +----------+-> failed / cancelled (renewCancel sent)
 *                  +-> cancelled (window closed, Cancel, Esc)
 *
 * - PIN-pad readers skip awaitingPin: renewBegin goes without a PIN and the reader asks.
 * - The PIN exists only in the argument of `pinSubmitted()` and the renewBegin params it builds;
 *   nothing here stores it.
 * - Cancel works until renewComplete is sent ("installing"); a cancel during renewBegin waits
 *   for its answer, then sends renewCancel so the pending keys are removed.
 * - After renewComplete has been sent, nothing here sends renewCancel: the host's own recovery
 *   owns an interrupted install. The one exception: the host kept the renewal open
 *   (`renewalOpen`) because the card did not store a certificate, and the same answer sent once
 *   more failed too; then renewCancel frees the card for Try again.
 *
 * PIV cards (`card.cardAdmin`: the renewal service holds the card-management key) take the
 * same phases with other messages: renewBegin {cardSerial} gives the card's witness, which
 * goes to the service (`cardAdmin` begin) before the passcode is asked; the passcode goes
 * with the service's answer in renewAdmin, which returns the card's response and the requests;
 * the service checks the response and issues (`cardAdmin` certificates); renewComplete
 * installs; the service is told (`cardAdmin` installed). A wrong passcode asks again and
 * repeats renewAdmin on the same renewal.
 *
 * Dependencies are injected: `host.request(command, params, {onEvent})`, `est(req)` (one EST
 * exchange through the owner tab, resolving to base64 PKCS#7), `cardAdmin({op, body})` (one
 * card-management call through the owner tab), `pin` ({open, show, close}), `onChange()` and
 * timers.
 */
import '../shared/errors.js';
import '../shared/view.js';

const { CisError } = globalThis.cisRenew.errors;
const { cardIdentity } = globalThis.cisRenew.view;

/** The serial the sponsor confirmed: the status' token serial ('' for a token without one). */
function confirmedSerial(card) {
  return card && card.token && typeof card.token.serial === 'string' ? card.token.serial : '';
}

/** Whether the card is on its last passcode try (from the status, or the last answer). */
function atFinalTry(card, error) {
  if (error) {
    if (error.code === 'PIN_FINAL_TRY') return true;
    if (error.code === 'PIN_INCORRECT') return error.extra.pin === 'finalTry' || error.extra.triesLeft === 1;
  }
  return Boolean(card && card.pin === 'finalTry');
}

export const PHASE = Object.freeze({
  IDLE: 'idle',
  AWAITING_PIN: 'awaitingPin',
  BEGINNING: 'beginning',
  REQUESTING: 'requesting',
  COMPLETING: 'completing',
  DONE: 'done',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
});

const ACTIVE = new Set([PHASE.AWAITING_PIN, PHASE.BEGINNING, PHASE.REQUESTING, PHASE.COMPLETING]);
const CANCELLABLE = new Set([PHASE.AWAITING_PIN, PHASE.BEGINNING, PHASE.REQUESTING]);
const KEY_ALGORITHMS = new Set(['p384', 'p256', 'rsa2048', 'rsa3072']);
const HOST_STEPS = new Set(['login', 'generateKey', 'buildRequest', 'verify', 'install', 'retireOld', 'done']);

/** How long the passcode window may stay open unanswered. */
export const PIN_TIMEOUT_MS = 5 * 60_000;

export class Renewal {
  constructor({ host, est, csrAttrs, cardAdmin, pin, onChange = () => {}, timers = globalThis, pinTimeoutMs = PIN_TIMEOUT_MS, log = () => {} }) {
    this._host = host;
    this._est = est;
    // EST csrattrs: resolves with the key algorithm the service names, or null.
    this._csrAttrs = csrAttrs || null;
    this._cardAdmin = cardAdmin || (() => Promise.reject(new CisError('SERVICE_REFUSED', 'no card-management client')));
    this._pin = pin;
    this._onChange = onChange;
    this._timers = timers;
    this._pinTimeoutMs = pinTimeoutMs;
    this._log = log;
    this._seq = 0;
    this._reset();
  }

  _reset() {
    this.phase = PHASE.IDLE;
    this.owner = null;
    this._run = null;
  }

  get active() {
    return ACTIVE.has(this.phase);
  }

  /**
   * Starts a renewal for the card the user confirmed. `serial` is the token serial shown in the
   * confirmation; a different card in the reader now refuses the start.
   */
  start({ owner, status, serial }) {
    if (this.active) throw new CisError('BUSY', 'a renewal is already running');
    const card = status && status.card;
    if (!card) throw new CisError('NO_CARD', 'no card in the managed reader');
    if (!card.token || card.token.serial !== serial) throw new CisError('CARD_REMOVED', 'the card changed');
    if (!card.renewable && !card.interrupted) throw new CisError('NOT_RENEWABLE', 'not renewable', { reason: card.reason });
    this.owner = owner;
    this._run = {
      id: ++this._seq,
      card,
      pinPad: Boolean(card.pinPad),
      step: null,
      error: null,
      renewalId: null,
      completeSent: false,
      cancelRequested: false,
      pinOpen: false,
      pinTimer: null,
      result: null,
      // PIV: the service's answer to the card's witness ({renewal, witness, challenge}).
      admin: null,
      finalTry: atFinalTry(card, null),
      // What the service's csrattrs named (null: nothing); undefined until read.
      keyAlgorithm: undefined,
    };
    const run = this._run;
    const go = () => {
      if (run.pinPad) this._begin(run, undefined);
      else this._askPin(run, null);
    };
    if (card.cardAdmin) this._beginAdmin(run);
    else if (this._csrAttrs) this._readCsrAttrs(run).then((ok) => ok && go());
    else {
      run.keyAlgorithm = null;
      go();
    }
    return run.id;
  }

  /**
   * The passcode window submitted a PIN. Ignored unless a PIN is awaited. At the final try it
   * goes to the host only with the holder's confirmation (`confirmFinalTry`).
   */
  pinSubmitted(pin, { confirmFinalTry = false } = {}) {
    const run = this._run;
    if (!run || this.phase !== PHASE.AWAITING_PIN || typeof pin !== 'string') return false;
    if (run.finalTry && !confirmFinalTry) return false;
    this._clearPinTimer(run);
    this._pin.show({ type: 'pin.checking' });
    const confirmed = run.finalTry && confirmFinalTry;
    if (run.admin) this._admin(run, pin, confirmed);
    else this._begin(run, pin, confirmed);
    return true;
  }

  /** The passcode window was cancelled or closed. */
  pinCancelled() {
    const run = this._run;
    if (!run || !run.pinOpen) return; // closed by us: nothing to cancel
    if (this.phase === PHASE.AWAITING_PIN || (this.phase === PHASE.BEGINNING && !run.pinPad && run.step?.name === 'login')) {
      this.cancel();
    }
  }

  /** Cancel from the dashboard tab. Returns false once installing has started. */
  cancel() {
    const run = this._run;
    if (!run || !CANCELLABLE.has(this.phase)) return false;
    if (run.cancelRequested) return true;
    run.cancelRequested = true;
    this._closePin(run);
    this._clearPinTimer(run);
    if (this.phase === PHASE.AWAITING_PIN && run.renewalId !== null) {
      // PIV: the host holds the card for this renewal; nothing on it changed yet.
      this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
      this._changed();
    } else if (this.phase === PHASE.AWAITING_PIN) {
      this._finish(run, PHASE.CANCELLED, null);
    } else if (this.phase === PHASE.REQUESTING) {
      // Stop waiting for the service; remove the pending keys.
      this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
      this._changed();
    } else {
      // BEGINNING: renewBegin's answer decides (see _begin).
      this._changed();
    }
    return true;
  }

  /** The owner tab went away (closed, navigated). */
  ownerGone() {
    if (!this._run) return;
    if (CANCELLABLE.has(this.phase)) this.cancel();
    else if (!this.active) this._reset();
    // COMPLETING goes on: the host finishes the install without the tab.
  }

  /** Closes a finished renewal's view. */
  dismiss() {
    if (this._run && !this.active) {
      this._reset();
      this._changed();
    }
  }

  /** Card status from `watch`: a removed or swapped card ends a renewal that is waiting on us. */
  statusChanged(status) {
    const run = this._run;
    if (!run || !(this.phase === PHASE.AWAITING_PIN || this.phase === PHASE.REQUESTING)) return;
    const card = status && status.card;
    if (card && card.token && card.token.serial === run.card.token.serial) return;
    this._fail(run, new CisError('CARD_REMOVED', 'the card was removed'));
  }

  /** What the owner tab shows. Null when idle. */
  view() {
    const run = this._run;
    if (!run) return null;
    return {
      phase: this.phase,
      step: run.step ? { ...run.step } : null,
      pinPad: run.pinPad,
      canCancel: CANCELLABLE.has(this.phase) && !run.cancelRequested,
      finalTry: run.finalTry,
      cancelling: run.cancelRequested && this.active,
      error: run.error ? run.error.toJSON() : null,
      certificates: run.card.certificates || [],
      result: run.result,
    };
  }

  // --- the steps ---

  _askPin(run, error) {
    this.phase = PHASE.AWAITING_PIN;
    run.step = null;
    run.finalTry = atFinalTry(run.card, error) || run.finalTry;
    const { holder, serial } = cardIdentity(run.card);
    const message = {
      type: 'pin.show',
      card: { label: run.card.token.label || '', serial, holder },
      pinLength: run.card.pinLength || null,
      finalTry: run.finalTry,
      error: error ? error.toJSON() : null,
    };
    if (run.pinOpen) this._pin.show(message);
    else {
      run.pinOpen = true;
      Promise.resolve(this._pin.open(message)).catch((e) => {
        if (this._run === run && this.phase === PHASE.AWAITING_PIN) this._fail(run, asCisError(e));
      });
    }
    this._clearPinTimer(run);
    run.pinTimer = this._timers.setTimeout(() => {
      run.pinTimer = null;
      if (this._run === run && this.phase === PHASE.AWAITING_PIN) this._fail(run, new CisError('TIMEOUT', 'no passcode entered'));
    }, this._pinTimeoutMs);
    this._changed();
  }

  _begin(run, pin, confirmFinalTry = false) {
    this.phase = PHASE.BEGINNING;
    run.step = { name: 'login' };
    run.error = null;
    this._changed();
    // The serial the sponsor confirmed: the host refuses another card (CARD_CHANGED) before
    // it tries the passcode.
    // Always sent (the host requires it); a token that reports no serial is confirmed as ''.
    const params = { cardSerial: confirmedSerial(run.card) };
    if (pin !== undefined) params.pin = pin;
    if (confirmFinalTry) params.confirmFinalTry = true;
    if (run.keyAlgorithm) params.keyAlgorithm = run.keyAlgorithm;
    // keep: the host's renewalExpired event comes under this request's id after its reply.
    this._host
      .request('renewBegin', params, { onEvent: (ev) => this._progress(run, ev), keep: true })
      .then(
        (result) => this._begun(run, result),
        (err) => this._beginFailed(run, asCisError(err)),
      );
  }

  // --- PIV: the service authorises the card ---

  _beginAdmin(run) {
    this.phase = PHASE.BEGINNING;
    run.step = { name: 'login' };
    this._changed();
    this._host.request('renewBegin', { cardSerial: confirmedSerial(run.card) }).then(
      async (result) => {
        if (this._run !== run) return;
        const admin = result && result.cardAdmin;
        if (result && (typeof result.renewalId === 'string' || typeof result.renewalId === 'number')) run.renewalId = result.renewalId;
        if (run.cancelRequested) {
          this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
          return;
        }
        if (run.renewalId === null || !admin || typeof admin.witness !== 'string' || typeof admin.cardId !== 'string') {
          this._fail(run, new CisError('INTERNAL_ERROR', 'renewBegin answered without the card witness'));
          return;
        }
        let answer;
        try {
          answer = await this._cardAdmin({ op: 'begin', body: { cardId: admin.cardId, algorithm: admin.algorithm, witness: admin.witness } });
        } catch (e) {
          if (this._run === run && !run.cancelRequested) this._fail(run, asCisError(e));
          else if (this._run === run) this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
          return;
        }
        if (this._run !== run) return;
        if (run.cancelRequested) {
          this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
          return;
        }
        run.admin = { ...answer, cardId: admin.cardId };
        // Only now, with the service's answer in hand, is the passcode asked.
        if (this.phase === PHASE.BEGINNING) this._askPin(run, null);
      },
      (err) => this._beginFailed(run, asCisError(err)),
    );
  }

  _admin(run, pin, confirmFinalTry = false) {
    this.phase = PHASE.BEGINNING;
    run.step = { name: 'login' };
    run.error = null;
    this._changed();
    const params = { renewalId: run.renewalId, witness: run.admin.witness, challenge: run.admin.challenge, pin };
    if (confirmFinalTry) params.confirmFinalTry = true;
    this._host.request('renewAdmin', params, { onEvent: (ev) => this._progress(run, ev) }).then(
      (result) => this._adminDone(run, result),
      (err) => {
        if (this._run !== run) return;
        err = asCisError(err);
        if (run.cancelRequested) {
          this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
          return;
        }
        // The renewal stays open on the host: ask again, then repeat renewAdmin.
        if (err.code === 'PIN_INCORRECT' || err.code === 'PIN_INVALID' || err.code === 'PIN_FINAL_TRY') {
          run.error = err;
          this._askPin(run, err);
          return;
        }
        this._fail(run, err);
      },
    );
  }

  async _adminDone(run, result) {
    if (this._run !== run) return;
    this._closePin(run);
    if (run.cancelRequested) {
      this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
      return;
    }
    const requests = result && Array.isArray(result.requests) ? result.requests : null;
    if (!requests || requests.length === 0 || typeof result.response !== 'string' || !requests.every((r) => r && typeof r.csr === 'string' && typeof r.role === 'string')) {
      this._fail(run, new CisError('INTERNAL_ERROR', 'renewAdmin answered without requests'));
      return;
    }
    this.phase = PHASE.REQUESTING;
    run.step = { name: 'request', n: 1, of: 1 };
    this._changed();
    // An interrupted renewal whose certificates the service already issued: install those
    // (the host accepts them only for the keys on the card); else ask for new ones.
    if (run.card.interrupted && (await this._installFromRecord(run))) return;
    if (this._run !== run || run.cancelRequested || this.phase !== PHASE.REQUESTING) return;
    let answer;
    try {
      answer = await this._cardAdmin({
        op: 'certificates',
        body: { renewal: run.admin.renewal, response: result.response, requests: requests.map((r) => ({ role: r.role, csr: r.csr })) },
      });
    } catch (e) {
      if (this._run !== run || run.cancelRequested || this.phase !== PHASE.REQUESTING) return;
      this._fail(run, asCisError(e));
      return;
    }
    if (this._run !== run || run.cancelRequested || this.phase !== PHASE.REQUESTING) return;
    this._complete(run, [answer.certificates]);
  }

  /** Tries the service record's issued certificates; true when they were installed. */
  async _installFromRecord(run) {
    let record;
    try {
      record = await this._cardAdmin({ op: 'record', body: { cardId: run.admin.cardId } });
    } catch (e) {
      this._log('card-management record unavailable', e && e.code);
      return false;
    }
    if (this._run !== run || run.cancelRequested || !record || record.state !== 'issued' || !record.certificates) return false;
    let status;
    try {
      status = await this._host.request('renewComplete', { renewalId: run.renewalId, pkcs7: [record.certificates] }, { onEvent: (ev) => this._progress(run, ev) });
    } catch (e) {
      // Not for these keys (the host kept the renewal open and the card unchanged): go on.
      this._log('the record\'s certificates were not installed', e && e.code);
      return false;
    }
    if (this._run !== run) return true;
    run.completeSent = true;
    run.result = status && typeof status === 'object' ? status : null;
    this._finish(run, PHASE.DONE, null);
    for (const renewal of new Set([record.renewal, run.admin.renewal])) {
      Promise.resolve()
        .then(() => this._cardAdmin({ op: 'installed', body: { renewal } }))
        .catch((e) => this._log('card-management installed failed', e && e.code));
    }
    return true;
  }

  /**
   * Reads the service's csrattrs before the passcode is asked (so no passcode waits on the
   * network); true when the run goes on. Names we do not know are dropped (the host's
   * newKeyAlgorithm applies); a refused or malformed answer fails the run.
   */
  async _readCsrAttrs(run) {
    this.phase = PHASE.BEGINNING;
    this._changed();
    let named;
    try {
      named = await this._csrAttrs();
    } catch (e) {
      if (this._run === run && run.cancelRequested) this._finish(run, PHASE.CANCELLED, null);
      else this._fail(run, asCisError(e));
      return false;
    }
    if (this._run !== run) return false;
    if (run.cancelRequested) {
      this._finish(run, PHASE.CANCELLED, null);
      return false;
    }
    run.keyAlgorithm = KEY_ALGORITHMS.has(named) ? named : null;
    return true;
  }

  _progress(run, ev) {
    if (this._run === run && ev && ev.event === 'renewalExpired' && this.active) {
      // The host cancelled the open renewal after renewalTimeoutSeconds: nothing was changed.
      run.renewalId = null; // already cancelled on the host: no renewCancel
      this._fail(run, new CisError('RENEWAL_EXPIRED', 'the open renewal passed its idle deadline'));
      return;
    }
    if (this._run !== run || !ev || ev.event !== 'progress' || !HOST_STEPS.has(ev.step)) return;
    if (!this.active) return;
    run.step = { name: ev.step };
    if (Number.isInteger(ev.n) && Number.isInteger(ev.of)) Object.assign(run.step, { n: ev.n, of: ev.of });
    // Any step after login means the passcode was right: the window can go.
    if (ev.step !== 'login') this._closePin(run);
    this._changed();
  }

  _begun(run, result) {
    if (this._run !== run) return;
    const requests = result && Array.isArray(result.requests) ? result.requests : null;
    const renewalId = result && (typeof result.renewalId === 'string' || typeof result.renewalId === 'number') ? result.renewalId : null;
    if (renewalId !== null) run.renewalId = renewalId;
    this._closePin(run);
    if (run.cancelRequested) {
      this._cancelOnHost(run).then(() => this._finish(run, PHASE.CANCELLED, null));
      return;
    }
    const valid =
      renewalId !== null &&
      requests &&
      requests.length > 0 &&
      requests.every((r) => r && typeof r.csr === 'string' && r.csr.length > 0 && typeof r.role === 'string');
    if (!valid) {
      this._fail(run, new CisError('INTERNAL_ERROR', 'renewBegin answered without requests'));
      return;
    }
    this._request(run, requests);
  }

  _beginFailed(run, err) {
    if (this._run !== run) return;
    if (run.cancelRequested) {
      this._finish(run, PHASE.CANCELLED, null);
      return;
    }
    if (!run.pinPad && (err.code === 'PIN_INCORRECT' || err.code === 'PIN_INVALID' || err.code === 'PIN_FINAL_TRY')) {
      run.error = err;
      this._askPin(run, err);
      return;
    }
    this._fail(run, err);
  }

  async _request(run, requests) {
    this.phase = PHASE.REQUESTING;
    const pkcs7 = [];
    for (let i = 0; i < requests.length; i += 1) {
      run.step = { name: 'request', n: i + 1, of: requests.length };
      this._changed();
      let answer;
      try {
        answer = await this._est({ role: requests[i].role, subject: requests[i].subject, csr: requests[i].csr, n: i + 1, of: requests.length });
      } catch (e) {
        if (this._run !== run || run.cancelRequested || this.phase !== PHASE.REQUESTING) return;
        this._fail(run, asCisError(e));
        return;
      }
      if (this._run !== run || run.cancelRequested || this.phase !== PHASE.REQUESTING) return;
      pkcs7.push(answer);
    }
    this._complete(run, pkcs7);
  }

  _complete(run, pkcs7) {
    this.phase = PHASE.COMPLETING;
    run.step = { name: 'verify' };
    run.completeSent = true;
    this._changed();
    this._host
      .request('renewComplete', { renewalId: run.renewalId, pkcs7 }, { onEvent: (ev) => this._progress(run, ev) })
      .then(
        (status) => {
          if (this._run !== run) return;
          run.result = status && typeof status === 'object' ? status : null;
          this._finish(run, PHASE.DONE, null);
          if (run.admin) {
            // Tell the service its record is done (best effort: the record then shows it).
            Promise.resolve()
              .then(() => this._cardAdmin({ op: 'installed', body: { renewal: run.admin.renewal } }))
              .catch((e) => this._log('card-management installed failed', e && e.code));
          }
        },
        (err) => {
          if (this._run !== run) return;
          const error = asCisError(err);
          // The card failed to store a certificate, and the host kept the renewal open with
          // the certificates issued (renewalOpen): the same answer may be sent again, once.
          if (error.extra.renewalOpen === true && !run.completeRetried) {
            run.completeRetried = true;
            this._log('renewComplete: the card did not store a certificate; sending the same answer again', error.code);
            this._complete(run, pkcs7);
            return;
          }
          if (error.extra.renewalOpen === true) {
            // Refused twice: close the renewal now (the host removes the pending objects; the
            // old pairs still work), or Try again would meet BUSY until the idle deadline.
            run.completeSent = false;
            this._cancelOnHost(run);
          }
          this._fail(run, error);
        },
      );
  }

  _fail(run, err) {
    if (this._run !== run || !this.active) return;
    this._closePin(run);
    this._clearPinTimer(run);
    if (run.renewalId !== null && !run.completeSent) this._cancelOnHost(run);
    this._finish(run, PHASE.FAILED, err);
  }

  /** Best-effort renewCancel; never rejects. */
  _cancelOnHost(run) {
    if (run.renewalId === null || run.completeSent || run.cancelSent) return Promise.resolve();
    run.cancelSent = true;
    return this._host.request('renewCancel', { renewalId: run.renewalId }).then(
      () => undefined,
      (e) => this._log('renewCancel failed', e && e.code),
    );
  }

  _finish(run, phase, err) {
    if (this._run !== run) return;
    this._clearPinTimer(run);
    this._closePin(run);
    this.phase = phase;
    run.error = err;
    if (phase !== PHASE.DONE) run.step = run.step && phase === PHASE.FAILED ? run.step : null;
    else run.step = { name: 'done' };
    this._changed();
  }

  _closePin(run) {
    if (run.pinOpen) {
      run.pinOpen = false;
      try {
        this._pin.close();
      } catch (e) {
        this._log('closing the passcode window failed', e);
      }
    }
  }

  _clearPinTimer(run) {
    if (run.pinTimer) {
      this._timers.clearTimeout(run.pinTimer);
      run.pinTimer = null;
    }
  }

  _changed() {
    try {
      this._onChange();
    } catch (e) {
      this._log('onChange failed', e);
    }
  }
}

function asCisError(e) {
  if (e instanceof CisError) return e;
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    const { code, message, ...extra } = e;
    return new CisError(code, message, extra);
  }
  return new CisError('INTERNAL_ERROR', String((e && e.message) || e));
}
