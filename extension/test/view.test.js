import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../src/shared/errors.js';
import '../src/shared/view.js';
import { t } from '../testing/i18n.js';
import { dueStatus } from '../testing/fakeHost.js';

const { menuState, stepMessage, errorMessage, checklist } = globalThis.cisRenew.view;
const fmt = (iso) => globalThis.cisRenew.view.formatDate(iso, 'UTC');
const { pluralKey } = globalThis.cisRenew.view;
const text = (m) => (m ? t(pluralKey(m, 'en-GB', (k) => Boolean(t.has ? t.has(k) : safe(k))), m.subs) : null);
function safe(k) {
  try {
    return Boolean(t(k));
  } catch {
    return false;
  }
}
const connected = { state: 'connected', error: null };

function card(over) {
  const s = dueStatus();
  Object.assign(s.card, over);
  return s;
}

test('menuState_reasons', () => {
  const cases = [
    { name: 'before the first state', state: null, want: 'Checking the card in the second reader…' },
    { name: 'renewable', state: { host: connected, status: dueStatus() }, want: null },
    { name: 'host missing', state: { host: { state: 'disconnected', error: { code: 'HOST_MISSING' } }, status: null }, want: /not installed on this computer/ },
    { name: 'host too old', state: { host: { state: 'disconnected', error: { code: 'HOST_TOO_OLD' } } }, want: /too old/ },
    { name: 'origin refused', state: { host: { state: 'disconnected', error: { code: 'ORIGIN_NOT_ALLOWED' } } }, want: /allowedOrigins/ },
    { name: 'status error', state: { host: connected, status: null, statusError: { code: 'PCSC_UNAVAILABLE' } }, want: /PC\/SC/ },
    { name: 'waiting for status', state: { host: { state: 'connecting', error: null }, status: null }, want: 'Checking the card in the second reader…' },
    { name: 'no card', state: { host: connected, status: { readers: [], card: null, reason: 'NO_CARD' } }, want: 'No card in the second reader. Insert the user’s card.' },
    { name: 'one reader', state: { host: connected, status: { card: null, reason: 'NO_MANAGED_READER' } }, want: /second reader/ },
    { name: 'no readers', state: { host: connected, status: { card: null, reason: 'NO_READERS' } }, want: /No smartcard readers/ },
    { name: 'not due with date', state: { host: connected, status: card({ renewable: false, reason: 'NOT_DUE', renewableFrom: '2026-03-03T12:00:00Z' }) }, want: 'Not due until 3 March 2026.' },
    { name: 'not due no date', state: { host: connected, status: card({ renewable: false, reason: 'NOT_DUE' }) }, want: /Not due yet/ },
    { name: 'expired', state: { host: connected, status: card({ renewable: false, reason: 'EXPIRED' }) }, want: /Registration Authority \(RA\) in person/ },
    { name: 'locked', state: { host: connected, status: card({ renewable: false, reason: 'PIN_LOCKED' }) }, want: /unlock it first/ },
    { name: 'interrupted but locked', state: { host: connected, status: card({ renewable: false, reason: 'PIN_LOCKED', interrupted: true }) }, want: /unlock it first/ },
    { name: 'interrupted, not due: offered to finish', state: { host: connected, status: card({ renewable: false, reason: 'NOT_DUE', interrupted: true, remaining: ['signing'] }) }, want: null },
    { name: 'unknown reason', state: { host: connected, status: card({ renewable: false, reason: 'SOMETHING_NEW' }) }, want: 'This card can’t be renewed here.' },
    { name: 'renewing here', state: { host: connected, status: dueStatus(), renewal: { phase: 'requesting' } }, want: 'A renewal is in progress.' },
    { name: 'finished renewal does not block', state: { host: connected, status: dueStatus(), renewal: { phase: 'done' } }, want: null },
    { name: 'renewing elsewhere', state: { host: connected, status: dueStatus(), renewalElsewhere: true }, want: 'A renewal is running in another tab.' },
    { name: 'selected card matches', state: { host: connected, status: dueStatus() }, page: { selectedSerial: 's1' }, want: null },
    { name: 'no card selected', state: { host: connected, status: dueStatus() }, page: { selectedSerial: '' }, want: 'Select the user’s card on this page first.' },
    { name: 'same card, written differently', state: { host: connected, status: dueStatus() }, page: { selectedSerial: ' s-1 ' }, want: null },
    { name: 'another card selected', state: { host: connected, status: dueStatus() }, page: { selectedSerial: 'S2' }, want: /shows card S2, but the second reader holds card S1/ },
  ];
  for (const c of cases) {
    const m = menuState(c.state, fmt, c.page);
    assert.equal(m.enabled, c.want === null, c.name);
    const got = text(m.reason);
    if (c.want instanceof RegExp) assert.match(got, c.want, c.name);
    else assert.equal(got, c.want, c.name);
  }
});

test('stepMessage_cases', () => {
  const cases = [
    [null, false, 'Starting…'],
    [{ name: 'login' }, false, 'Signing in to the card…'],
    [{ name: 'login' }, true, 'Enter the passcode on the card reader’s keypad.'],
    [{ name: 'generateKey', n: 1, of: 2 }, false, 'Making keys (1 of 2)…'],
    [{ name: 'generateKey', n: 1, of: 1 }, false, 'Making keys…'],
    [{ name: 'buildRequest', n: 2, of: 2 }, false, 'Preparing request 2 of 2…'],
    [{ name: 'request', n: 2, of: 2 }, false, 'Requesting certificates (2 of 2)…'],
    [{ name: 'verify' }, false, 'Checking the new certificates…'],
    [{ name: 'install', n: 2, of: 2 }, false, 'Installing (2 of 2)…'],
    [{ name: 'retireOld' }, false, 'Removing the old certificates…'],
    [{ name: 'done' }, false, 'Checking the card…'],
    [{ name: 'mystery' }, false, 'Starting…'],
  ];
  for (const [step, pinPad, want] of cases) assert.equal(text(stepMessage(step, pinPad)), want, JSON.stringify(step));
});

test('errorMessage_pinCases', () => {
  const cases = [
    [{ code: 'PIN_INCORRECT', triesLeft: 2 }, 'Wrong passcode. 2 tries left before the card locks.'],
    [{ code: 'PIN_INCORRECT', triesLeft: 1 }, 'Wrong passcode. One try left: another wrong passcode locks the card.'],
    [{ code: 'PIN_INCORRECT', pin: 'finalTry' }, 'Wrong passcode. One try left: another wrong passcode locks the card.'],
    [{ code: 'PIN_INCORRECT' }, 'Wrong passcode.'],
    [{ code: 'PIN_INCORRECT', pin: 'countLow' }, 'Wrong passcode. The card does not say how many tries are left: a few more wrong passcodes will lock it.'],
    [{ code: 'PIN_INCORRECT', pin: 'countLow', triesLeft: 3 }, 'Wrong passcode. 3 tries left before the card locks.'],
    [{ code: 'NOT_RENEWABLE', reason: 'EXPIRED' }, 'A certificate has expired: the user needs to see a Registration Authority (RA) in person.'],
    [{ code: 'PIN_INCORRECT', triesLeft: 5 }, 'Wrong passcode. 5 tries left before the card locks.'],
    [{ code: 'PIN_FINAL_TRY', triesLeft: 1 }, t('errPinFinalTryNeeded')],
    [{ code: 'SERVICE_UNREACHABLE', reason: 'Failed to fetch' }, t('errServiceUnreachable')],
    [{ code: 'SERVICE_UNREACHABLE', status: 503, reason: '503 Service Unavailable' }, t('errServiceUnavailable')],
    [{ code: 'SERVICE_REFUSED', status: 401, reason: 'not signed in' }, t('errServiceSignedOut')],
    [{ code: 'SERVICE_REFUSED', status: 403, reason: 'sponsor may not renew this user' }, t('errServiceForbidden')],
    [{ code: 'SERVICE_REFUSED', status: 500, reason: 'boom' }, t('errServiceFailed')],
    [{ code: 'SERVICE_REFUSED', status: 418, reason: 'teapot' }, t('errServiceRefused')],
    [{ code: 'NOT_A_CODE' }, t('errInternal')],
    [null, t('errInternal')],
  ];
  for (const [error, want] of cases) assert.equal(text(errorMessage(error, fmt)), want, JSON.stringify(error));
});

test('checklist_marksDoneCurrentTodo', () => {
  assert.deepEqual(checklist({ name: 'verify' }).map((g) => g.state), ['done', 'done', 'done', 'current', 'todo']);
  assert.deepEqual(checklist(null).map((g) => g.state), ['todo', 'todo', 'todo', 'todo', 'todo']);
});

test('errorMessage_neverPutsBrowserOrServiceTextInASentence', () => {
  for (const reason of ['Failed to fetch', 'NetworkError when attempting to fetch resource.', 'sponsor may not renew this user']) {
    for (const code of ['SERVICE_REFUSED', 'SERVICE_UNREACHABLE']) {
      for (const status of [undefined, 200, 202, 400, 401, 403, 404, 409, 429, 500, 503]) {
        const m = errorMessage({ code, reason, status }, fmt);
        assert.deepEqual(m.subs, [], `${code} ${status}`);
        assert.ok(!text(m).includes(reason), `${code} ${status}`);
      }
    }
  }
});

test('canRetry_onlyWhereTryingAgainCanHelp', () => {
  const { canRetry } = globalThis.cisRenew.view;
  const cases = [
    [{ code: 'SERVICE_UNREACHABLE' }, true],
    [{ code: 'TIMEOUT' }, true],
    [{ code: 'CARD_REMOVED' }, true],
    [{ code: 'SERVICE_REFUSED', status: 503 }, true],
    [{ code: 'SERVICE_REFUSED', status: 429 }, true],
    [{ code: 'SERVICE_REFUSED', status: 403 }, false],
    [{ code: 'PIN_LOCKED' }, false],
    [{ code: 'HOST_MISSING' }, false],
    [{ code: 'CERTIFICATE_MISMATCH' }, false],
    [null, false],
  ];
  for (const [error, want] of cases) assert.equal(canRetry(error), want, JSON.stringify(error));
});

test('formatting_followsTheUiLanguage', () => {
  const { formatDate, formatNumber, holderName, pluralKey } = globalThis.cisRenew.view;
  assert.equal(formatDate('2026-03-03T12:00:00Z', 'UTC', 'en-GB'), '3 March 2026');
  assert.equal(formatDate('2026-03-03T12:00:00Z', 'UTC', 'de'), '3. März 2026');
  assert.equal(formatDate('2026-03-03T12:00:00Z', 'UTC', 'not a tag!'), '3 March 2026');
  assert.equal(formatNumber(1000, 'en-GB'), '1,000');
  assert.equal(formatNumber(1000, 'de'), '1.000');
  const has = (k) => ['x_one', 'x_other', 'x_few'].includes(k);
  assert.equal(pluralKey({ key: 'x', count: 1 }, 'en', has), 'x_one');
  assert.equal(pluralKey({ key: 'x', count: 2 }, 'en', has), 'x_other');
  assert.equal(pluralKey({ key: 'x', count: 3 }, 'pl', has), 'x_few');
  assert.equal(pluralKey({ key: 'x', count: 5 }, 'pl', has), 'x_other', 'many falls back to other');
  assert.equal(holderName('C=GB, O=NHS Test, OU=Sponsors, CN=Jane Smith'), 'Jane Smith');
  assert.equal(holderName('CN=Smith\\, Jane,O=NHS'), 'Smith, Jane');
  assert.equal(holderName('O=NHS'), '');
});
