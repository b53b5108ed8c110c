/**
 * The passcode window's logic, separate from the browser APIs so tests drive it with a DOM and
 * a fake port. The PIN is read from the input once, at submit; the input is emptied at once
 * and the value handed to `port.postMessage`; nothing here keeps it.
 *
 * - Enter submits (form submit), Esc cancels, length limits come from the token (`pinLength`).
 * - It says whose card it is (holder name and card serial, as the dashboard shows them) and
 *   that the holder types their own passcode.
 * - At the final try the holder ticks "I know my passcode" first; the submit then carries
 *   `confirmFinalTry: true`, which the host needs before it spends the last try.
 * - For its first moment after each `pin.show` (`guardMs`) it ignores keys and submits: a
 *   key held down in the dashboard, or a click aimed at what was there before, does not land
 *   in the new window.
 */

const GUARD_MS = 400;

/**
 * @param {Document} doc the pin.html document
 * @param {object} o { port: {postMessage}, t(key, subs), guardMs?, now?(), onLayout?() }
 */
export function createPinView(doc, { port, t, guardMs = GUARD_MS, now = () => Date.now(), onLayout = () => {}, timers = globalThis }) {
  const $ = (id) => doc.getElementById(id);
  const form = $('form');
  const input = $('pin');
  const submit = $('submit');
  const cancel = $('cancel');
  const error = $('error');
  const hint = $('hint');
  const status = $('status');
  const card = $('card');
  const finalTry = $('final-try');
  const confirm = $('confirm-final-try');
  let limits = { min: 1, max: 64 };
  let busy = true;
  let done = false;
  let shownAt = -Infinity;
  let needsConfirm = false;
  let readyTimer = null;

  for (const node of doc.querySelectorAll('[data-i18n]')) node.textContent = t(node.getAttribute('data-i18n'));
  doc.title = t('pinWindowTitle');
  status.textContent = t('pinWaiting');

  const guarded = () => now() - shownAt < guardMs;

  function showError(text) {
    error.textContent = text;
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  function setBusy(b, text) {
    busy = b;
    input.disabled = b;
    submit.disabled = b;
    confirm.disabled = b;
    status.textContent = text || '';
    if (!b) (needsConfirm && !confirm.checked ? confirm : input).focus();
    onLayout();
  }

  /** Messages from the worker: `pin.show` (ask, maybe with the last error) or `pin.checking`. */
  function onMessage(msg) {
    if (!msg || typeof msg !== 'object' || done) return;
    if (msg.type === 'pin.checking') {
      setBusy(true, t('pinChecking'));
      return;
    }
    if (msg.type !== 'pin.show') return;
    const pl = msg.pinLength;
    limits = {
      min: pl && Number.isInteger(pl.min) && pl.min > 0 ? pl.min : 1,
      max: pl && Number.isInteger(pl.max) && pl.max >= 1 ? Math.min(pl.max, 64) : 64,
    };
    if (limits.min > limits.max) limits.min = 1;
    input.maxLength = limits.max;
    input.setAttribute('minlength', String(limits.min));
    hint.textContent = pl ? t('pinLengthHint', [String(limits.min), String(limits.max)]) : '';
    const c = msg.card || {};
    card.textContent = c.holder && c.serial ? t('pinFor', [c.holder, c.serial]) : c.serial ? t('pinForSerial', [c.serial]) : '';
    needsConfirm = msg.finalTry === true;
    finalTry.hidden = !needsConfirm;
    confirm.checked = false;
    showError(msg.error ? errorText(msg.error) : '');
    input.value = '';
    shownAt = now();
    // `data-ready` once input is taken (tests and assistive tools can wait for it).
    form.removeAttribute('data-ready');
    if (readyTimer) timers.clearTimeout(readyTimer);
    readyTimer = timers.setTimeout(() => {
      readyTimer = null;
      if (!done) form.setAttribute('data-ready', '');
    }, guardMs);
    setBusy(false, '');
  }

  function errorText(e) {
    if (e.code === 'PIN_INCORRECT') {
      if (e.pin === 'finalTry' || e.triesLeft === 1) return t('errPinFinalTry');
      if (Number.isInteger(e.triesLeft)) return t(e.triesLeft === 1 ? 'errPinIncorrectTries_one' : 'errPinIncorrectTries_other', [String(e.triesLeft)]);
      if (e.pin === 'countLow') return t('errPinCountLow');
      return t('errPinIncorrect');
    }
    if (e.code === 'PIN_INVALID') return t('errPinInvalid');
    if (e.code === 'PIN_FINAL_TRY') return t('errPinFinalTryNeeded');
    return t('errInternal');
  }

  // Keys in the first moment are dropped (not typed, not Enter).
  doc.addEventListener(
    'keydown',
    (e) => {
      if (guarded() && e.key !== 'Escape') {
        e.preventDefault();
        e.stopPropagation();
      }
    },
    true,
  );
  input.addEventListener('beforeinput', (e) => {
    if (guarded()) e.preventDefault();
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (busy || done || guarded()) return;
    if (needsConfirm && !confirm.checked) {
      showError(t('pinFinalTryNeeded'));
      confirm.focus();
      onLayout();
      return;
    }
    const length = [...input.value].length;
    if (length < limits.min) return showError(t('pinTooShort', [String(limits.min)]));
    if (length > limits.max) return showError(t('pinTooLong', [String(limits.max)]));
    showError('');
    const message = { type: 'pin.submit', pin: input.value };
    if (needsConfirm) message.confirmFinalTry = true;
    input.value = '';
    form.removeAttribute('data-ready');
    setBusy(true, t('pinChecking'));
    port.postMessage(message);
    message.pin = '';
  });

  function doCancel() {
    if (done) return;
    done = true;
    input.value = '';
    setBusy(true, '');
    port.postMessage({ type: 'pin.cancel' });
  }

  cancel.addEventListener('click', (e) => {
    if (!guarded()) doCancel();
    else e.preventDefault();
  });
  doc.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      doCancel();
    }
  });

  return { onMessage, cancel: doCancel, get limits() { return { ...limits }; } };
}
