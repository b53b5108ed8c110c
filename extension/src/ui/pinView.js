/**
 * The passcode window's logic, separate from the browser APIs so tests drive it with a DOM and
 * a fake port. The PIN is read from the input once, at submit; the input is emptied at once
 * and the value handed to `port.postMessage`; nothing here keeps it.
 *
 * Enter submits (form submit), Esc cancels, length limits come from the token (`pinLength`).
 */

/**
 * @param {Document} doc the pin.html document
 * @param {object} o { port: {postMessage}, t(key, subs) }
 */
export function createPinView(doc, { port, t }) {
  const $ = (id) => doc.getElementById(id);
  const form = $('form');
  const input = $('pin');
  const submit = $('submit');
  const cancel = $('cancel');
  const error = $('error');
  const hint = $('hint');
  const status = $('status');
  const card = $('card');
  let limits = { min: 1, max: 64 };
  let busy = true;
  let done = false;

  for (const node of doc.querySelectorAll('[data-i18n]')) node.textContent = t(node.getAttribute('data-i18n'));
  doc.title = t('pinWindowTitle');
  status.textContent = t('pinWaiting');

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
    status.textContent = text || '';
    if (!b) input.focus();
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
    card.textContent = msg.card && msg.card.label ? t('pinCard', [msg.card.label]) : '';
    showError(msg.error ? errorText(msg.error) : '');
    input.value = '';
    setBusy(false, '');
  }

  function errorText(e) {
    if (e.code === 'PIN_INCORRECT') {
      if (e.pin === 'finalTry' || e.triesLeft === 1) return t('errPinFinalTry');
      if (Number.isInteger(e.triesLeft)) return t('errPinIncorrectTries', [String(e.triesLeft)]);
      if (e.pin === 'countLow') return t('errPinCountLow');
      return t('errPinIncorrect');
    }
    if (e.code === 'PIN_INVALID') return t('errPinInvalid');
    return t('errInternal');
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (busy || done) return;
    const length = [...input.value].length;
    if (length < limits.min) return showError(t('pinTooShort', [String(limits.min)]));
    if (length > limits.max) return showError(t('pinTooLong', [String(limits.max)]));
    showError('');
    const message = { type: 'pin.submit', pin: input.value };
    input.value = '';
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

  cancel.addEventListener('click', doCancel);
  doc.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      doCancel();
    }
  });

  return { onMessage, cancel: doCancel, get limits() { return { ...limits }; } };
}
