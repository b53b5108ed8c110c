import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import { createPinView } from '../src/ui/pinView.js';
import { t } from '../testing/i18n.js';

const HTML = readFileSync(new URL('../src/ui/pin.html', import.meta.url), 'utf8').replace(/<script[^>]*><\/script>/, '');

function setup(show = { type: 'pin.show', card: { label: 'USER CARD', serial: 'S1', holder: 'Alex Smith' }, pinLength: { min: 4, max: 8 }, error: null }, { guardMs = 0, clock = { now: 0 } } = {}) {
  const dom = new JSDOM(HTML, { url: `chrome-extension://${'p'.repeat(32)}/src/ui/pin.html` });
  const doc = dom.window.document;
  const posted = [];
  const view = createPinView(doc, { port: { postMessage: (m) => posted.push({ ...m }) }, t, guardMs, now: () => clock.now });
  if (show) view.onMessage(show);
  const input = doc.getElementById('pin');
  const submit = () => doc.getElementById('form').dispatchEvent(new dom.window.Event('submit', { cancelable: true }));
  const key = (k) => doc.dispatchEvent(new dom.window.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
  return { dom, doc, view, posted, input, submit, key };
}

test('pin_page_isLabelledAndLimited', () => {
  const { doc, input } = setup();
  assert.equal(doc.title, 'Card passcode – cis-renew');
  assert.equal(doc.querySelector('label[for="pin"]').textContent, 'Passcode');
  assert.equal(input.type, 'password');
  assert.equal(input.maxLength, 8);
  assert.equal(input.getAttribute('minlength'), '4');
  assert.equal(input.getAttribute('autocomplete'), 'off');
  assert.equal(doc.getElementById('hint').textContent, '4 to 8 characters.');
  assert.equal(doc.getElementById('card').textContent, 'For Alex Smith, card S1', 'the holder and the serial the dashboard shows');
  assert.match(doc.getElementById('holder-types').textContent, /type your own passcode/);
  assert.equal(doc.getElementById('final-try').hidden, true);
  assert.equal(input.disabled, false);
});

test('pin_beforeShow_inputIsDisabled', () => {
  const { input, posted, submit } = setup(null);
  assert.equal(input.disabled, true);
  input.value = '1234';
  submit();
  assert.deepEqual(posted, []);
});

test('pin_submit_postsOnceAndEmptiesTheField', () => {
  const { input, posted, submit, doc } = setup();
  input.value = '123456';
  submit();
  assert.deepEqual(posted, [{ type: 'pin.submit', pin: '123456' }]);
  assert.equal(input.value, '', 'the field is emptied at once');
  assert.equal(input.disabled, true);
  assert.equal(doc.getElementById('status').textContent, 'Checking the passcode…');
  submit();
  assert.equal(posted.length, 1, 'no second submit while checking');
});

test('pin_submit_sendsTheTypedPin', () => {
  const sent = [];
  const dom = new JSDOM(HTML);
  const doc = dom.window.document;
  const view = createPinView(doc, { port: { postMessage: (m) => sent.push(JSON.stringify(m)) }, t, guardMs: 0 });
  view.onMessage({ type: 'pin.show', pinLength: { min: 4, max: 8 } });
  doc.getElementById('pin').value = '123456';
  doc.getElementById('form').dispatchEvent(new dom.window.Event('submit', { cancelable: true }));
  assert.deepEqual(sent, ['{"type":"pin.submit","pin":"123456"}']);
});

test('pin_lengthOutsideLimits_isRefusedLocally', () => {
  const cases = [
    ['12', 'The passcode has at least 4 characters.'],
    ['123456789', 'The passcode has at most 8 characters.'],
  ];
  for (const [pin, message] of cases) {
    const { input, posted, submit, doc } = setup();
    input.value = pin; // jsdom does not enforce maxlength on scripted values; the check must
    submit();
    assert.deepEqual(posted, [], pin);
    assert.equal(doc.getElementById('error').textContent, message);
    assert.equal(doc.getElementById('error').hidden, false);
    assert.equal(input.getAttribute('aria-invalid'), 'true');
  }
});

test('pin_wrongPin_showsTriesLeftAndAsksAgain', () => {
  const cases = [
    [{ code: 'PIN_INCORRECT', triesLeft: 2 }, 'Wrong passcode. 2 tries left before the card locks.'],
    [{ code: 'PIN_INCORRECT', pin: 'finalTry', triesLeft: 1 }, 'Wrong passcode. One try left: another wrong passcode locks the card.'],
    [{ code: 'PIN_INCORRECT', pin: 'countLow' }, 'Wrong passcode. The card does not say how many tries are left: a few more wrong passcodes will lock it.'],
    [{ code: 'PIN_INVALID' }, 'That passcode is not the right length for this card.'],
  ];
  for (const [error, message] of cases) {
    const { view, input, submit, doc } = setup();
    input.value = '0000';
    submit();
    view.onMessage({ type: 'pin.show', card: { label: 'USER CARD' }, pinLength: { min: 4, max: 8 }, error });
    assert.equal(doc.getElementById('error').textContent, message);
    assert.equal(doc.getElementById('error').getAttribute('role'), 'alert');
    assert.equal(input.disabled, false);
    assert.equal(input.value, '');
  }
});

test('pin_escapeOrCancel_postsCancelOnce', () => {
  const a = setup();
  a.key('Escape');
  a.key('Escape');
  assert.deepEqual(a.posted, [{ type: 'pin.cancel' }]);
  const b = setup();
  b.doc.getElementById('cancel').click();
  assert.deepEqual(b.posted, [{ type: 'pin.cancel' }]);
  b.view.onMessage({ type: 'pin.show', pinLength: { min: 4, max: 8 } });
  assert.equal(b.input.disabled, true, 'after cancel nothing more is asked');
});

test('pin_firstMoment_ignoresKeysAndSubmits', async () => {
  const clock = { now: 1000 };
  const { doc, dom, input, posted, submit } = setup(undefined, { guardMs: 400, clock });
  const ev = new dom.window.KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true });
  input.dispatchEvent(ev);
  assert.equal(ev.defaultPrevented, true, 'a key held from the dashboard does nothing');
  input.value = '1234';
  submit();
  assert.deepEqual(posted, [], 'no submit in the first moment');
  const cancel = doc.getElementById('cancel');
  cancel.click();
  assert.deepEqual(posted, [], 'no cancel by a stray click either');
  assert.equal(doc.getElementById('form').hasAttribute('data-ready'), false);
  clock.now += 400;
  await new Promise((r) => setTimeout(r, 450));
  assert.equal(doc.getElementById('form').hasAttribute('data-ready'), true, 'marked ready after the first moment');
  input.value = '1234';
  submit();
  assert.deepEqual(posted, [{ type: 'pin.submit', pin: '1234' }]);
});

test('pin_finalTry_holderConfirmsFirst_thenSubmitCarriesTheConfirmation', () => {
  const { doc, input, posted, submit } = setup({ type: 'pin.show', card: { serial: 'S1', holder: 'Alex Smith' }, pinLength: { min: 4, max: 8 }, finalTry: true, error: null });
  const box = doc.getElementById('final-try');
  const confirm = doc.getElementById('confirm-final-try');
  assert.equal(box.hidden, false);
  assert.match(box.textContent, /One more wrong passcode locks the card/);
  assert.equal(doc.activeElement, confirm, 'focus on the confirmation first');
  input.value = '1234';
  submit();
  assert.deepEqual(posted, [], 'not without the confirmation');
  assert.equal(doc.getElementById('error').textContent, 'Tick the box to confirm first.');
  confirm.checked = true;
  input.value = '1234';
  submit();
  assert.deepEqual(posted, [{ type: 'pin.submit', pin: '1234', confirmFinalTry: true }]);
});

test('pin_everyTry_refocusesThePasscode', () => {
  const { view, input, submit, doc } = setup();
  input.value = '0000';
  submit();
  doc.getElementById('cancel').focus();
  view.onMessage({ type: 'pin.show', card: { serial: 'S1' }, pinLength: { min: 4, max: 8 }, error: { code: 'PIN_INCORRECT', triesLeft: 2 } });
  assert.equal(doc.activeElement, input);
  assert.equal(doc.getElementById('card').textContent, 'Card S1');
});
