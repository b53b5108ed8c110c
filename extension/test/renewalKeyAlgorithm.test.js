import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../src/shared/errors.js';
import { Renewal, PHASE } from '../src/background/renewal.js';
import { FakeTimers, flush } from '../testing/timers.js';
import { fakeHost, dueStatus, BEGIN_RESULT } from '../testing/fakeHost.js';

const { CisError, messageKey } = globalThis.cisRenew.errors;
const PIN = '24681357';
const MESSAGES = JSON.parse(readFileSync(new URL('../_locales/en/messages.json', import.meta.url), 'utf8'));

function setup(csrAttrs, est = async () => 'UEtDUzdB') {
  const host = fakeHost();
  const pinLog = [];
  const r = new Renewal({
    host,
    timers: new FakeTimers(),
    est,
    csrAttrs,
    pin: { open: (m) => pinLog.push(['open', m]), show: () => {}, close: () => pinLog.push(['close']) },
    pinTimeoutMs: 60_000,
  });
  return { r, host, pinLog };
}

for (const [name, answer, want] of [
  ['a named P-256', async () => 'p256', { pin: PIN, cardSerial: 'S1', keyAlgorithm: 'p256' }],
  ['a named RSA-3072', async () => 'rsa3072', { pin: PIN, cardSerial: 'S1', keyAlgorithm: 'rsa3072' }],
  ['nothing named (404/204)', async () => null, { pin: PIN, cardSerial: 'S1' }],
  ['a name we do not know', async () => 'ed25519', { pin: PIN, cardSerial: 'S1' }],
]) {
  test(`renewBegin after csrattrs: ${name}`, async () => {
    const s = setup(answer);
    s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
    assert.equal(s.pinLog.length, 0, 'the passcode is asked only after csrattrs');
    await flush();
    assert.equal(s.r.phase, PHASE.AWAITING_PIN);
    s.r.pinSubmitted(PIN);
    assert.deepEqual(s.host.pending('renewBegin').params, want);
  });
}

test('a malformed csrattrs fails the run with its own message before the passcode', async () => {
  const s = setup(async () => {
    throw new CisError('CSRATTRS_MALFORMED', 'not a CsrAttrs');
  });
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  await flush();
  assert.equal(s.r.phase, PHASE.FAILED);
  assert.equal(s.host.calls.length, 0, 'nothing reached the host');
  assert.equal(s.pinLog.length, 0);
  const key = messageKey('CSRATTRS_MALFORMED');
  assert.equal(key, 'errCsrAttrsMalformed');
  assert.match(MESSAGES[key].message, /could not be read/);
});

test('cancel while csrattrs is read ends cancelled without asking the passcode', async () => {
  let answer;
  const s = setup(() => new Promise((res) => (answer = res)));
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  assert.equal(s.r.cancel(), true);
  answer('p384');
  await flush();
  assert.equal(s.r.phase, PHASE.CANCELLED);
  assert.equal(s.pinLog.length, 0);
  assert.equal(s.host.calls.length, 0);
});

test('renewalExpired after renewBegin fails the run in plain words and sends no renewCancel', async () => {
  // The service never answers the CSR: the host's idle deadline passes.
  const s = setup(async () => null, () => new Promise(() => {}));
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  await flush();
  s.r.pinSubmitted(PIN);
  const begin = s.host.pending('renewBegin');
  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
  assert.equal(s.r.phase, PHASE.REQUESTING);
  begin.onEvent({ id: 1, event: 'renewalExpired', renewalId: BEGIN_RESULT.renewalId });
  await flush();
  assert.equal(s.r.phase, PHASE.FAILED);
  assert.equal(s.r._run.error.code, 'RENEWAL_EXPIRED');
  assert.ok(!s.host.commands().includes('renewCancel'), 'the host already cancelled it');
  const text = MESSAGES[messageKey('RENEWAL_EXPIRED')].message;
  assert.match(text, /waited too long/);
  assert.match(text, /card was not changed/);
});

test('a late renewalExpired for a finished run changes nothing', async () => {
  const s = setup(async () => null);
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  await flush();
  s.r.pinSubmitted(PIN);
  const begin = s.host.pending('renewBegin');
  s.host.fail('renewBegin', new CisError('NOT_RENEWABLE', 'x'));
  await flush();
  assert.equal(s.r._run.error.code, 'NOT_RENEWABLE');
  begin.onEvent({ id: 1, event: 'renewalExpired', renewalId: 'r' });
  assert.equal(s.r._run.error.code, 'NOT_RENEWABLE');
});
