import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../src/est/cardAdmin.js';
import '../src/shared/errors.js';
import { Renewal, PHASE } from '../src/background/renewal.js';
import { validate, CONTENT_PORT } from '../src/shared/messages.js';
import { FakeTimers, flush } from '../testing/timers.js';
import { fakeHost, dueStatus } from '../testing/fakeHost.js';

const { cardAdmin } = globalThis.cisRenew;
const { CisError } = globalThis.cisRenew.errors;

function response(status, body, type = 'application/json') {
  return {
    status,
    statusText: '',
    headers: { get: () => type },
    text: async () => (typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

function fetchReturning(answer) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, calls };
}

test('cardAdmin_eachOperation_sendsTheDocumentedRequest', async () => {
  const cases = [
    ['begin', { cardId: 'ab12', algorithm: 'aes256', witness: 'AAAA' }, 'POST', '/card-admin/v1/renewals', { cardId: 'ab12', algorithm: 'aes256', witness: 'AAAA' }, response(201, { renewal: 'r1', witness: 'BBBB', challenge: 'CCCC' }), { renewal: 'r1', witness: 'BBBB', challenge: 'CCCC' }],
    ['certificates', { renewal: 'r/1', response: 'DDDD', requests: [{ role: 'signing', csr: 'EEEE' }] }, 'POST', '/card-admin/v1/renewals/r%2F1/certificates', { response: 'DDDD', requests: [{ role: 'signing', csr: 'EEEE' }] }, response(200, { certificates: 'FFFF' }), { certificates: 'FFFF' }],
    ['installed', { renewal: 'r1' }, 'POST', '/card-admin/v1/renewals/r1/installed', {}, response(204, ''), {}],
    ['record', { cardId: 'ab12' }, 'GET', '/card-admin/v1/cards/ab12/renewal', undefined, response(200, { renewal: 'r1', state: 'issued', certificates: 'FFFF' }), { renewal: 'r1', state: 'issued', certificates: 'FFFF' }],
    ['record', { cardId: 'ab12' }, 'GET', '/card-admin/v1/cards/ab12/renewal', undefined, response(404, { error: 'not_found' }), null],
  ];
  for (const [op, body, method, path, sent, answer, expected] of cases) {
    const f = fetchReturning(answer);
    const out = await cardAdmin.call({ fetch: f.fetch, baseUrl: 'https://cis.example/', op, body, csrfToken: 'tok' });
    assert.deepEqual(out, { ok: true, result: expected }, op);
    assert.equal(f.calls[0].url, `https://cis.example${path}`, op);
    assert.equal(f.calls[0].init.method, method, op);
    assert.equal(f.calls[0].init.credentials, 'include', `${op}: the sponsor's session goes along`);
    assert.equal(f.calls[0].init.headers['X-CSRF-Token'], 'tok', op);
    assert.deepEqual(f.calls[0].init.body === undefined ? undefined : JSON.parse(f.calls[0].init.body), sent, op);
  }
});

test('cardAdmin_refusals_areTyped', async () => {
  const cases = [
    [response(403, { error: 'card_auth_failed', message: 'the card response is wrong' }), 'CARD_AUTH_FAILED', 403],
    [response(403, { error: 'forbidden' }), 'SERVICE_REFUSED', 403],
    [response(503, 'down', 'text/plain'), 'SERVICE_UNREACHABLE', 503],
    [response(201, { renewal: 'r1' }), 'SERVICE_REFUSED', 201],
    [response(201, '<html>sign in</html>', 'text/html'), 'SERVICE_REFUSED', 201],
    [new TypeError('Failed to fetch'), 'SERVICE_UNREACHABLE', undefined],
  ];
  for (const [answer, code, status] of cases) {
    const f = fetchReturning(answer);
    const out = await cardAdmin.call({ fetch: f.fetch, baseUrl: 'https://cis.example', op: 'begin', body: { cardId: 'a', algorithm: '3des', witness: 'AAAA' } });
    assert.equal(out.ok, false);
    assert.equal(out.error.code, code, JSON.stringify(out));
    assert.equal(out.error.status, status);
  }
  const unknown = await cardAdmin.call({ fetch: async () => response(200, {}), baseUrl: 'x', op: 'setPin' });
  assert.equal(unknown.error.code, 'SERVICE_REFUSED');
});

test('messages_cardAdminResponse_isValidatedLikeEst', () => {
  const good = [
    { type: 'cardAdmin.response', requestId: 'a1', ok: true, result: { renewal: 'r', witness: 'AAAA', challenge: 'BBBB' } },
    { type: 'cardAdmin.response', requestId: 'a2', ok: true, result: null },
    { type: 'cardAdmin.response', requestId: 'a3', ok: false, error: { code: 'CARD_AUTH_FAILED', status: 403 } },
  ];
  for (const msg of good) assert.deepEqual(validate(CONTENT_PORT, msg), msg);
  const bad = [
    { type: 'cardAdmin.response', requestId: 'a1', ok: true },
    { type: 'cardAdmin.response', requestId: 'a1', ok: true, result: { pin: '1234' } },
    { type: 'cardAdmin.response', requestId: 'a1', ok: false, error: { code: 'PIN_INCORRECT' } },
    { type: 'cardAdmin.response', requestId: 'a1', ok: true, result: { renewal: 5 } },
  ];
  for (const msg of bad) assert.equal(validate(CONTENT_PORT, msg), null, JSON.stringify(msg));
});

function pivStatus() {
  const status = dueStatus({ serial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' });
  status.card.cardAdmin = true;
  status.card.pinLength = { min: 6, max: 8 };
  return status;
}

function setup() {
  const host = fakeHost();
  const admin = [];
  const pinLog = [];
  const r = new Renewal({
    host,
    timers: new FakeTimers(),
    est: async () => {
      throw new Error('no EST for PIV');
    },
    cardAdmin: (req) =>
      new Promise((resolve, reject) => {
        admin.push({ ...req, resolve, reject });
      }),
    pin: { open: (m) => pinLog.push(['open', m]), show: (m) => pinLog.push(['show', m]), close: () => pinLog.push(['close']) },
    pinTimeoutMs: 60_000,
  });
  return { r, host, admin, pinLog };
}

const BEGIN = { renewalId: 'ren-9', cardAdmin: { algorithm: 'aes256', cardId: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', witness: 'V0lU' } };
const ADMIN = { response: 'UkVT', requests: [{ role: 'authentication', subject: 'CN=A', csr: 'MIIBAQ==' }, { role: 'signing', subject: 'CN=A', csr: 'MIIBAg==' }] };

test('renewal_pivCard_relaysWitnessAndAsksThePasscodeOnlyAfterTheService', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: pivStatus(), serial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' });
  assert.deepEqual(s.host.pending('renewBegin').params, { cardSerial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' });
  assert.equal(s.pinLog.length, 0, 'no passcode before the card and service have spoken');
  s.host.reply('renewBegin', BEGIN);
  await flush();
  assert.deepEqual(s.admin[0].op, 'begin');
  assert.deepEqual(s.admin[0].body, BEGIN.cardAdmin);
  assert.equal(s.pinLog.length, 0, 'still no passcode while the service is asked');
  s.admin[0].resolve({ renewal: 'svc-1', witness: 'REVD', challenge: 'Q0hM' });
  await flush();
  assert.equal(s.r.phase, PHASE.AWAITING_PIN);
  assert.equal(s.pinLog[0][0], 'open');

  s.r.pinSubmitted('000000');
  assert.deepEqual(s.host.pending('renewAdmin').params, { renewalId: 'ren-9', witness: 'REVD', challenge: 'Q0hM', pin: '000000' });
  s.host.fail('renewAdmin', new CisError('PIN_INCORRECT', 'wrong', { triesLeft: 2 }));
  await flush();
  assert.equal(s.r.phase, PHASE.AWAITING_PIN, 'a wrong passcode asks again on the same renewal');
  assert.equal(s.pinLog.at(-1)[1].error.triesLeft, 2);

  s.r.pinSubmitted('123456');
  assert.equal(s.host.pending('renewAdmin').params.pin, '123456');
  s.host.event('renewAdmin', { event: 'progress', step: 'generateKey', n: 1, of: 2 });
  s.host.reply('renewAdmin', ADMIN);
  await flush();
  assert.equal(s.r.phase, PHASE.REQUESTING);
  assert.equal(s.admin[1].op, 'certificates');
  assert.deepEqual(s.admin[1].body, { renewal: 'svc-1', response: 'UkVT', requests: [{ role: 'authentication', csr: 'MIIBAQ==' }, { role: 'signing', csr: 'MIIBAg==' }] });
  s.admin[1].resolve({ certificates: 'UEtDUzc=' });
  await flush();
  assert.deepEqual(s.host.pending('renewComplete').params, { renewalId: 'ren-9', pkcs7: ['UEtDUzc='] });
  s.host.reply('renewComplete', pivStatus());
  await flush();
  assert.equal(s.r.phase, PHASE.DONE);
  assert.deepEqual([s.admin[2].op, s.admin[2].body], ['installed', { renewal: 'svc-1' }]);
  assert.deepEqual(s.host.commands(), ['renewBegin', 'renewAdmin', 'renewAdmin', 'renewComplete']);
});

test('renewal_pivCard_finalTry_sendsConfirmFinalTryOnlyWithTheHoldersConfirmation', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: pivStatus(), serial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' });
  s.host.reply('renewBegin', BEGIN);
  await flush();
  s.admin[0].resolve({ renewal: 'svc-1', witness: 'REVD', challenge: 'Q0hM' });
  await flush();
  s.r.pinSubmitted('123456');
  s.host.fail('renewAdmin', new CisError('PIN_FINAL_TRY', 'one left', { triesLeft: 1 }));
  await flush();
  assert.equal(s.r.phase, PHASE.AWAITING_PIN);
  assert.equal(s.r.pinSubmitted('123456'), false, 'a plain submission at the final try is not sent');
  assert.equal(s.r.pinSubmitted('123456', { confirmFinalTry: true }), true);
  assert.equal(s.host.pending('renewAdmin').params.confirmFinalTry, true);
});

test('renewal_pivCard_serviceOrCardRefusal_endsTheRenewalAndCancelsOnTheHost', async () => {
  for (const where of ['begin', 'certificates']) {
    const s = setup();
    s.r.start({ owner: 't1', status: pivStatus(), serial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' });
    s.host.reply('renewBegin', BEGIN);
    await flush();
    if (where === 'begin') {
      s.admin[0].reject(new CisError('SERVICE_REFUSED', 'unknown card'));
    } else {
      s.admin[0].resolve({ renewal: 'svc-1', witness: 'REVD', challenge: 'Q0hM' });
      await flush();
      s.r.pinSubmitted('123456');
      s.host.reply('renewAdmin', ADMIN);
      await flush();
      s.admin[1].reject(new CisError('CARD_AUTH_FAILED', 'response wrong'));
    }
    await flush();
    assert.equal(s.r.phase, PHASE.FAILED, where);
    assert.equal(s.r.view().error.code, where === 'begin' ? 'SERVICE_REFUSED' : 'CARD_AUTH_FAILED');
    assert.deepEqual(s.host.pending('renewCancel').params, { renewalId: 'ren-9' }, where);
  }
});

test('renewal_pivCard_cancelAtThePasscode_cancelsTheHostRenewal', async () => {
  const s = setup();
  s.r.start({ owner: 't1', status: pivStatus(), serial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' });
  s.host.reply('renewBegin', BEGIN);
  await flush();
  s.admin[0].resolve({ renewal: 'svc-1', witness: 'REVD', challenge: 'Q0hM' });
  await flush();
  assert.equal(s.r.cancel(), true);
  s.host.reply('renewCancel', { cancelled: true });
  await flush();
  assert.equal(s.r.phase, PHASE.CANCELLED);
});

test('renewal_pivCard_interrupted_installsTheRecordsCertificatesElseAsksForNewOnes', async () => {
  for (const recordFits of [true, false]) {
    const s = setup();
    const status = pivStatus();
    status.card.interrupted = true;
    status.card.remaining = ['signing'];
    s.r.start({ owner: 't1', status, serial: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' });
    s.host.reply('renewBegin', BEGIN);
    await flush();
    s.admin[0].resolve({ renewal: 'svc-2', witness: 'REVD', challenge: 'Q0hM' });
    await flush();
    s.r.pinSubmitted('123456');
    s.host.reply('renewAdmin', ADMIN);
    await flush();
    assert.deepEqual([s.admin[1].op, s.admin[1].body], ['record', { cardId: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' }]);
    s.admin[1].resolve({ renewal: 'svc-1', state: 'issued', certificates: 'T0xE' });
    await flush();
    assert.deepEqual(s.host.pending('renewComplete').params, { renewalId: 'ren-9', pkcs7: ['T0xE'] });
    if (recordFits) {
      s.host.reply('renewComplete', pivStatus());
      await flush();
      assert.equal(s.r.phase, PHASE.DONE);
      assert.deepEqual(s.admin.slice(2).map((a) => [a.op, a.body.renewal]), [['installed', 'svc-1'], ['installed', 'svc-2']]);
    } else {
      s.host.fail('renewComplete', new CisError('CERTIFICATE_MISMATCH', 'other keys'));
      await flush();
      assert.equal(s.r.phase, PHASE.REQUESTING, 'falls back to new certificates');
      assert.equal(s.admin[2].op, 'certificates');
      s.admin[2].resolve({ certificates: 'TkVX' });
      await flush();
      assert.deepEqual(s.host.pending('renewComplete').params, { renewalId: 'ren-9', pkcs7: ['TkVX'] });
    }
  }
});
