import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../src/shared/errors.js';
import { Renewal, PHASE } from '../src/background/renewal.js';
import { FakeTimers, flush } from '../testing/timers.js';
import { fakeHost, dueStatus, BEGIN_RESULT } from '../testing/fakeHost.js';

const { CisError } = globalThis.cisRenew.errors;
const PIN = '24681357';

function setup({ estAnswers } = {}) {
  const host = fakeHost();
  const timers = new FakeTimers();
  const pinLog = [];
  const estCalls = [];
  const answers = estAnswers || [() => 'UEtDUzdB', () => 'UEtDUzdC'];
  const r = new Renewal({
    host,
    timers,
    est: async (req) => {
      estCalls.push(req);
      const a = answers[estCalls.length - 1];
      return a(req);
    },
    pin: {
      open: (m) => pinLog.push(['open', m]),
      show: (m) => pinLog.push(['show', m]),
      close: () => pinLog.push(['close']),
    },
    pinTimeoutMs: 60_000,
  });
  const phases = [];
  r._onChange = () => {
    if (phases[phases.length - 1] !== r.phase) phases.push(r.phase);
  };
  return { r, host, timers, pinLog, estCalls, phases };
}

async function toRequesting(s) {
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.r.pinSubmitted(PIN);
  s.host.event('renewBegin', { event: 'progress', step: 'login' });
  s.host.event('renewBegin', { event: 'progress', step: 'generateKey', n: 1, of: 2 });
  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
}

test('renewal_tokenWithoutSerial_stillSendsCardSerial', async () => {
  // The host requires cardSerial (issue 10): a token that reports no serial is confirmed as ''.
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus({ serial: '' }), serial: '' });
  assert.equal(s.r.phase, PHASE.AWAITING_PIN);
  s.r.pinSubmitted(PIN);
  assert.deepEqual(s.host.pending('renewBegin').params, { cardSerial: '', pin: PIN });
});

test('renewal_happyPath_pinThenEstThenComplete', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  assert.equal(s.r.phase, PHASE.AWAITING_PIN);
  assert.equal(s.pinLog[0][0], 'open');
  assert.deepEqual(s.pinLog[0][1].pinLength, { min: 4, max: 8 });
  assert.equal(s.host.calls.length, 0, 'nothing goes to the host before the PIN');

  assert.equal(s.r.pinSubmitted(PIN), true);
  assert.equal(s.r.phase, PHASE.BEGINNING);
  assert.deepEqual(s.host.pending('renewBegin').params, { pin: PIN, cardSerial: 'S1' });

  s.host.event('renewBegin', { event: 'progress', step: 'login' });
  assert.equal(s.pinLog.filter((x) => x[0] === 'close').length, 0, 'window stays while the PIN is checked');
  s.host.event('renewBegin', { event: 'progress', step: 'generateKey', n: 1, of: 2 });
  assert.equal(s.pinLog.at(-1)[0], 'close', 'a step after login closes the window');
  assert.deepEqual(s.r.view().step, { name: 'generateKey', n: 1, of: 2 });

  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
  assert.deepEqual(s.estCalls.map((c) => [c.role, c.csr, c.n, c.of]), [
    ['authentication', 'MIIBAQ==', 1, 2],
    ['signing', 'MIIBAg==', 2, 2],
  ]);
  assert.equal(s.r.phase, PHASE.COMPLETING);
  assert.deepEqual(s.host.pending('renewComplete').params, { renewalId: 'ren-1', pkcs7: ['UEtDUzdB', 'UEtDUzdC'] });
  assert.equal(s.r.view().canCancel, false, 'no cancel once installing');
  assert.equal(s.r.cancel(), false);

  s.host.event('renewComplete', { event: 'progress', step: 'install', n: 2, of: 2 });
  assert.deepEqual(s.r.view().step, { name: 'install', n: 2, of: 2 });
  const after = dueStatus({ renewable: false, reason: 'NOT_DUE' });
  s.host.reply('renewComplete', after);
  await flush();
  assert.equal(s.r.phase, PHASE.DONE);
  assert.deepEqual(s.r.view().result, after);
  assert.deepEqual(s.phases, ['awaitingPin', 'beginning', 'requesting', 'completing', 'done']);
  assert.ok(!s.host.commands().includes('renewCancel'));
});

test('renewal_pinNeverInViewOrLaterRequests', async () => {
  const s = setup();
  await toRequesting(s);
  await flush();
  s.host.reply('renewComplete', dueStatus());
  await flush();
  assert.ok(!JSON.stringify(s.r.view()).includes(PIN));
  // The renewal's own state (the fake host's call log is the test's record, so leave it out).
  assert.ok(!JSON.stringify({ ...s.r, _host: null }).includes(PIN), 'the renewal object holds no PIN');
  const withPin = s.host.calls.filter((c) => JSON.stringify(c.params || {}).includes(PIN)).map((c) => c.command);
  assert.deepEqual(withPin, ['renewBegin']);
});

test('renewal_wrongPin_asksAgainWithTriesLeft_thenSucceeds', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.r.pinSubmitted('0000');
  s.host.fail('renewBegin', new CisError('PIN_INCORRECT', 'wrong', { triesLeft: 2, pin: 'countLow' }));
  await flush();
  assert.equal(s.r.phase, PHASE.AWAITING_PIN);
  const shown = s.pinLog.filter((x) => x[0] === 'show' && x[1].type === 'pin.show').at(-1)[1];
  assert.deepEqual(shown.error, { code: 'PIN_INCORRECT', message: 'wrong', triesLeft: 2, pin: 'countLow' });
  assert.equal(s.pinLog.filter((x) => x[0] === 'open').length, 1, 'the same window is reused');
  assert.equal(s.r.view().error.triesLeft, 2);
  s.r.pinSubmitted(PIN);
  assert.equal(s.r.phase, PHASE.BEGINNING);
  assert.equal(s.r.view().error, null);
  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
  assert.equal(s.r.phase, PHASE.COMPLETING);
});

test('renewal_beginErrors_endAsFailedWithCode', async () => {
  const cases = ['PIN_LOCKED', 'CARD_REMOVED', 'TOKEN_ERROR', 'NOT_RENEWABLE', 'BUSY', 'TIMEOUT'];
  for (const code of cases) {
    const s = setup();
    s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
    s.r.pinSubmitted(PIN);
    s.host.fail('renewBegin', new CisError(code, code));
    await flush();
    assert.equal(s.r.phase, PHASE.FAILED, code);
    assert.equal(s.r.view().error.code, code);
    assert.equal(s.pinLog.at(-1)[0], 'close', `${code}: window closed`);
    assert.ok(!s.host.commands().includes('renewCancel'), `${code}: nothing to cancel without a renewalId`);
  }
});

test('renewal_serviceError_sendsRenewCancelAndFails', async () => {
  const cases = [
    { code: 'SERVICE_REFUSED', reason: 'not your card' },
    { code: 'SERVICE_UNREACHABLE', reason: 'network' },
    { code: 'TIMEOUT' },
  ];
  for (const err of cases) {
    const s = setup({
      estAnswers: [
        () => {
          throw new CisError(err.code, err.reason || '', { reason: err.reason });
        },
      ],
    });
    await toRequesting(s);
    await flush();
    assert.equal(s.r.phase, PHASE.FAILED, err.code);
    assert.equal(s.r.view().error.code, err.code);
    if (err.reason) assert.equal(s.r.view().error.reason, err.reason);
    assert.deepEqual(s.host.pending('renewCancel').params, { renewalId: 'ren-1' });
    assert.ok(!s.host.commands().includes('renewComplete'));
  }
});

test('renewal_completeError_failsWithoutRenewCancel', async () => {
  for (const code of ['CERTIFICATE_MISMATCH', 'CERTIFICATE_INVALID', 'CARD_REMOVED']) {
    const s = setup();
    await toRequesting(s);
    await flush();
    s.host.fail('renewComplete', new CisError(code, code));
    await flush();
    assert.equal(s.r.phase, PHASE.FAILED);
    assert.equal(s.r.view().error.code, code);
    assert.ok(!s.host.commands().includes('renewCancel'), `${code}: the host's recovery owns an interrupted install`);
  }
});

test('renewal_completeErrorWithRenewalOpen_sendsTheSameAnswerOnceMore', async () => {
  // Issue 10: a card that failed to store a certificate keeps the renewal open (renewalOpen)
  // with the certificates issued; the same answer goes once more, and no renewCancel throws
  // the issued certificates away.
  const storeFailed = () => new CisError('TOKEN_ERROR', 'the card could not store the new signing certificate', { renewalOpen: true, role: 'signing', step: 'writeCertificate' });
  let s = setup();
  await toRequesting(s);
  await flush();
  const first = s.host.pending('renewComplete').params;
  s.host.fail('renewComplete', storeFailed());
  await flush();
  assert.equal(s.r.phase, PHASE.COMPLETING, 'still installing');
  assert.deepEqual(s.host.pending('renewComplete').params, first, 'the same answer again');
  s.host.reply('renewComplete', dueStatus({ renewable: false, reason: 'NOT_DUE' }));
  await flush();
  assert.equal(s.r.phase, PHASE.DONE);
  assert.deepEqual(s.host.commands().filter((c) => c === 'renewComplete').length, 2);

  // Failing twice ends the run with the host's error and closes the renewal on the host, so
  // Try again does not meet BUSY until the idle deadline.
  s = setup();
  await toRequesting(s);
  await flush();
  s.host.fail('renewComplete', storeFailed());
  await flush();
  s.host.fail('renewComplete', storeFailed());
  await flush();
  assert.equal(s.r.phase, PHASE.FAILED);
  assert.equal(s.r.view().error.code, 'TOKEN_ERROR');
  assert.equal(s.host.commands().filter((c) => c === 'renewComplete').length, 2, 'only one retry');
  assert.deepEqual(s.host.commands().slice(-1), ['renewCancel'], 'the open renewal is closed');
  assert.equal(s.host.pending('renewCancel').params.renewalId, 'ren-1');
});

test('renewal_cancelInEachPhase', async () => {
  // awaiting the PIN: no host call at all
  let s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  assert.equal(s.r.cancel(), true);
  assert.equal(s.r.phase, PHASE.CANCELLED);
  assert.equal(s.host.calls.length, 0);
  assert.equal(s.pinLog.at(-1)[0], 'close');

  // during renewBegin: waits for its answer, then renewCancel
  s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.r.pinSubmitted(PIN);
  s.host.event('renewBegin', { event: 'progress', step: 'generateKey', n: 1, of: 2 });
  assert.equal(s.r.cancel(), true);
  assert.equal(s.r.view().cancelling, true);
  assert.equal(s.r.phase, PHASE.BEGINNING);
  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
  assert.deepEqual(s.host.pending('renewCancel').params, { renewalId: 'ren-1' });
  assert.equal(s.estCalls.length, 0, 'no request goes to the service after a cancel');
  s.host.reply('renewCancel', {});
  await flush();
  assert.equal(s.r.phase, PHASE.CANCELLED);

  // during the EST exchange: stop waiting, renewCancel, never renewComplete
  let release;
  s = setup({ estAnswers: [() => new Promise((res) => (release = res))] });
  await toRequesting(s);
  assert.equal(s.r.phase, PHASE.REQUESTING);
  assert.equal(s.r.cancel(), true);
  s.host.reply('renewCancel', {});
  await flush();
  assert.equal(s.r.phase, PHASE.CANCELLED);
  release('UEtDUzdB');
  await flush();
  assert.ok(!s.host.commands().includes('renewComplete'));
});

test('renewal_pinWindowClosed_cancels_butOwnCloseDoesNot', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.r.pinCancelled();
  assert.equal(s.r.phase, PHASE.CANCELLED);

  const t = setup();
  t.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  t.r.pinSubmitted(PIN);
  t.host.event('renewBegin', { event: 'progress', step: 'generateKey', n: 1, of: 2 }); // we close it
  t.r.pinCancelled(); // the port's disconnect arrives afterwards
  assert.equal(t.r.phase, PHASE.BEGINNING, 'our own close is not a cancel');
});

test('renewal_pinTimeout_fails', () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.timers.advance(60_000);
  assert.equal(s.r.phase, PHASE.FAILED);
  assert.equal(s.r.view().error.code, 'TIMEOUT');
});

test('renewal_start_refusals', () => {
  const cases = [
    { status: null, serial: 'S1', code: 'NO_CARD' },
    { status: { ...dueStatus(), card: null }, serial: 'S1', code: 'NO_CARD' },
    { status: dueStatus(), serial: 'OTHER', code: 'CARD_REMOVED' },
    { status: dueStatus({ renewable: false, reason: 'EXPIRED' }), serial: 'S1', code: 'NOT_RENEWABLE' },
  ];
  for (const c of cases) {
    const s = setup();
    assert.throws(() => s.r.start({ owner: 't1', status: c.status, serial: c.serial }), (e) => e.code === c.code, c.code);
    assert.equal(s.r.phase, PHASE.IDLE);
  }
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  assert.throws(() => s.r.start({ owner: 't2', status: dueStatus(), serial: 'S1' }), (e) => e.code === 'BUSY');
  assert.equal(s.r.owner, 't1');
});

test('renewal_pinPad_skipsTheWindow', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus({ pinPad: true }), serial: 'S1' });
  assert.equal(s.pinLog.length, 0);
  assert.equal(s.r.phase, PHASE.BEGINNING);
  assert.deepEqual(s.host.pending('renewBegin').params, { cardSerial: 'S1' });
  assert.equal(s.r.view().pinPad, true);
  s.host.fail('renewBegin', new CisError('PIN_INCORRECT', 'wrong', { triesLeft: 1 }));
  await flush();
  assert.equal(s.r.phase, PHASE.FAILED, 'a PIN pad wrong entry ends the attempt (retry from the menu)');
});

test('renewal_cardRemovedWhileWaiting_fails', async () => {
  const s = setup({ estAnswers: [() => new Promise(() => {})] });
  await toRequesting(s);
  s.r.statusChanged(dueStatus()); // same card: nothing
  assert.equal(s.r.phase, PHASE.REQUESTING);
  s.r.statusChanged({ ...dueStatus(), card: null, reason: 'NO_CARD' });
  assert.equal(s.r.phase, PHASE.FAILED);
  assert.equal(s.r.view().error.code, 'CARD_REMOVED');
  assert.ok(s.host.commands().includes('renewCancel'));
});

test('renewal_ownerGone_cancelsUnlessInstalling', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.r.ownerGone();
  assert.equal(s.r.phase, PHASE.CANCELLED);

  const t = setup();
  await toRequesting(t);
  await flush();
  assert.equal(t.r.phase, PHASE.COMPLETING);
  t.r.ownerGone();
  assert.equal(t.r.phase, PHASE.COMPLETING, 'the install goes on');
});

test('renewal_beginAnswerMalformed_failsAndCancels', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.r.pinSubmitted(PIN);
  s.host.reply('renewBegin', { renewalId: 'ren-9', requests: [] });
  await flush();
  assert.equal(s.r.phase, PHASE.FAILED);
  assert.equal(s.r.view().error.code, 'INTERNAL_ERROR');
  assert.deepEqual(s.host.pending('renewCancel').params, { renewalId: 'ren-9' });
});

test('renewal_dismiss_returnsToIdle', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
  s.r.dismiss();
  assert.equal(s.r.phase, PHASE.AWAITING_PIN, 'an active renewal is not dismissed');
  s.r.cancel();
  s.r.dismiss();
  assert.equal(s.r.phase, PHASE.IDLE);
  assert.equal(s.r.view(), null);
});

test('renewal_finalTry_needsTheHoldersConfirmation_andSaysSoToTheHost', async () => {
  const s = setup();
  const status = dueStatus();
  status.card.pin = 'finalTry';
  s.r.start({ owner: 't1', status, serial: 'S1' });
  const shown = s.pinLog[0][1];
  assert.equal(shown.finalTry, true, 'the window asks the holder to confirm');
  assert.deepEqual(shown.card, { label: 'USER CARD', serial: 'S1', holder: 'Alex Smith' });
  assert.equal(s.r.view().finalTry, true);
  assert.equal(s.r.pinSubmitted(PIN), false, 'no sign-in without the confirmation');
  assert.equal(s.host.calls.length, 0);
  assert.equal(s.r.pinSubmitted(PIN, { confirmFinalTry: true }), true);
  assert.deepEqual(s.host.pending('renewBegin').params, { pin: PIN, cardSerial: 'S1', confirmFinalTry: true });
});

test('renewal_wrongPinToFinalTry_orHostRefusal_asksForTheConfirmation', async () => {
  const cases = [
    new CisError('PIN_INCORRECT', 'wrong', { pin: 'finalTry', triesLeft: 1 }),
    new CisError('PIN_FINAL_TRY', 'confirm first', { pin: 'finalTry', triesLeft: 1 }),
  ];
  for (const err of cases) {
    const s = setup();
    s.r.start({ owner: 't1', status: dueStatus(), serial: 'S1' });
    assert.equal(s.pinLog[0][1].finalTry, false);
    s.r.pinSubmitted(PIN);
    assert.deepEqual(s.host.pending('renewBegin').params, { pin: PIN, cardSerial: 'S1' }, 'no confirmation sent while not at the final try');
    s.host.fail('renewBegin', err);
    await flush();
    assert.equal(s.r.phase, PHASE.AWAITING_PIN, err.code);
    const again = s.pinLog.filter((e) => e[0] === 'show' && e[1].type === 'pin.show').at(-1)[1];
    assert.equal(again.finalTry, true, err.code);
    assert.equal(again.error.code, err.code);
    assert.equal(s.r.pinSubmitted(PIN), false, `${err.code}: not without the confirmation`);
    s.r.pinSubmitted(PIN, { confirmFinalTry: true });
    assert.deepEqual(s.host.pending('renewBegin').params, { pin: PIN, cardSerial: 'S1', confirmFinalTry: true });
  }
});
