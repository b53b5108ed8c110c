import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NativeHost, STATE, HOST_NAME, classifyDisconnect } from '../src/background/native.js';
import { FakeTimers, flush } from '../testing/timers.js';
import { fakePort } from '../testing/ports.js';

const HELLO = { type: 'hello', version: '0.1.0', protocol: 1 };

function setup({ lastError } = {}) {
  const timers = new FakeTimers();
  const ports = [];
  const names = [];
  let err = lastError;
  const host = new NativeHost({
    connectNative: (name) => {
      names.push(name);
      const p = fakePort(name);
      ports.push(p);
      return p;
    },
    lastError: () => err,
    timers,
    timeouts: { hello: 1000, default: 500, renewBegin: 5000, renewComplete: 5000 },
    backoff: [100, 200, 400],
  });
  const states = [];
  host.onStateChange((s) => states.push(s.state + (s.error ? `:${s.error.code}` : '')));
  return { host, timers, ports, names, states, setLastError: (m) => (err = m) };
}

test('connect_hello_becomesConnectedAndSendsQueuedRequest', async () => {
  const { host, ports, names, states } = setup();
  const p = host.request('status');
  assert.equal(names[0], HOST_NAME);
  assert.equal(ports[0].posted.length, 0, 'nothing is sent before hello');
  ports[0].receive(HELLO);
  assert.equal(host.state, STATE.CONNECTED);
  assert.equal(host.version, '0.1.0');
  assert.deepEqual(ports[0].posted, [{ id: 1, command: 'status' }]);
  ports[0].receive({ id: 1, ok: true, result: { readers: [] } });
  assert.deepEqual(await p, { readers: [] });
  assert.deepEqual(states, ['connecting', 'connected']);
});

test('hello_protocolCases_tooOldOrAccepted', async () => {
  const cases = [
    { hello: { type: 'hello', version: '0.0.1', protocol: 0 }, code: 'HOST_TOO_OLD' },
    { hello: { type: 'hello', version: '0.0.1' }, code: 'HOST_TOO_OLD' },
    { hello: { type: 'hello', version: '0.0.1', protocol: '1' }, code: 'HOST_TOO_OLD' },
    { hello: { something: 'else' }, code: 'HOST_TOO_OLD' },
    { hello: { id: null, ok: false, error: { code: 'ORIGIN_NOT_ALLOWED', message: 'no' } }, code: 'ORIGIN_NOT_ALLOWED' },
    { hello: { id: null, ok: false, error: { code: 'CONFIG_INVALID', message: 'bad key x' } }, code: 'CONFIG_INVALID' },
    { hello: { type: 'hello', version: '9.0.0', protocol: 2 }, code: null },
  ];
  for (const c of cases) {
    const { host, ports } = setup();
    const p = host.request('status');
    ports[0].receive(c.hello);
    if (c.code) {
      await assert.rejects(p, (e) => e.code === c.code, JSON.stringify(c.hello));
      assert.equal(host.state, STATE.DISCONNECTED);
      assert.equal(host.error.code, c.code);
      assert.equal(ports[0].disconnected, true, 'the port is closed');
    } else {
      assert.equal(host.state, STATE.CONNECTED);
      ports[0].receive({ id: 1, ok: true, result: {} });
      await p;
    }
  }
});

test('disconnect_browserMessages_mapToCodes', async () => {
  const cases = [
    ['Specified native messaging host not found.', 'HOST_MISSING'],
    ['No such native application uk.nhs.cis_renew', 'HOST_MISSING'],
    ['Access to the specified native messaging host is forbidden.', 'ORIGIN_NOT_ALLOWED'],
    ['Native host has exited.', 'HOST_MISSING'], // exited before hello: it did not start properly
  ];
  for (const [message, code] of cases) {
    const { host, ports, setLastError } = setup();
    const p = host.request('status');
    setLastError(message);
    ports[0].drop();
    await assert.rejects(p, (e) => e.code === code, message);
    assert.equal(host.error.code, code);
    assert.equal(classifyDisconnect(message), code === 'HOST_MISSING' && /exited/.test(message) ? null : code);
  }
});

test('disconnect_firefoxPortError_isUsed', async () => {
  const { host, ports } = setup();
  const p = host.request('status');
  ports[0].drop('No such native application uk.nhs.cis_renew');
  await assert.rejects(p, (e) => e.code === 'HOST_MISSING');
});

test('helloTimeout_noFirstFrame_timesOut', async () => {
  const { host, ports, timers } = setup();
  const p = host.request('status');
  timers.advance(999);
  assert.equal(host.state, STATE.CONNECTING);
  timers.advance(1);
  await assert.rejects(p, (e) => e.code === 'TIMEOUT');
  assert.equal(ports[0].disconnected, true);
});

test('request_noReply_timesOutAndLateReplyIsIgnored', async () => {
  const { host, ports, timers } = setup();
  host.connect();
  ports[0].receive(HELLO);
  const p = host.request('status');
  timers.advance(500);
  await assert.rejects(p, (e) => e.code === 'TIMEOUT');
  ports[0].receive({ id: 1, ok: true, result: {} }); // must not throw or resolve anything
  const q = host.request('status');
  ports[0].receive({ id: 2, ok: true, result: { ok: 2 } });
  assert.deepEqual(await q, { ok: 2 });
});

test('request_perCommandTimeouts_renewBeginWaitsLonger', async () => {
  const { host, ports, timers } = setup();
  host.connect();
  ports[0].receive(HELLO);
  let settled = false;
  const p = host.request('renewBegin', { pin: '1234' }).catch((e) => {
    settled = e.code;
  });
  timers.advance(4999);
  await flush();
  assert.equal(settled, false, 'still waiting after the default timeout');
  timers.advance(1);
  await p;
  assert.equal(settled, 'TIMEOUT');
});

test('errorReply_carriesCodeAndExtra', async () => {
  const { host, ports } = setup();
  host.connect();
  ports[0].receive(HELLO);
  const p = host.request('renewBegin', { pin: '0000' });
  ports[0].receive({ id: 1, ok: false, error: { code: 'PIN_INCORRECT', message: 'wrong', triesLeft: 2, pin: 'countLow' } });
  await assert.rejects(p, (e) => e.code === 'PIN_INCORRECT' && e.extra.triesLeft === 2 && e.toJSON().pin === 'countLow');
});

test('errorReply_unknownCode_becomesInternalError', async () => {
  const { host, ports } = setup();
  host.connect();
  ports[0].receive(HELLO);
  const p = host.request('status');
  ports[0].receive({ id: 1, ok: false, error: { code: 'WHAT_IS_THIS', message: 'x' } });
  await assert.rejects(p, (e) => e.code === 'INTERNAL_ERROR' && e.originalCode === 'WHAT_IS_THIS');
});

test('events_routedToTheirRequest_watchListenerKeptAfterReply', async () => {
  const { host, ports } = setup();
  host.connect();
  ports[0].receive(HELLO);
  const progress = [];
  const watched = [];
  const begin = host.request('renewBegin', {}, { onEvent: (e) => progress.push(e.step) });
  const watch = host.request('watch', {}, { keep: true, onEvent: (e) => watched.push(e.event) });
  ports[0].receive({ id: 1, event: 'progress', step: 'login' });
  ports[0].receive({ id: 2, event: 'card', status: {} });
  ports[0].receive({ id: 2, ok: true, result: {} });
  await watch;
  ports[0].receive({ id: 2, event: 'readers', readers: [] });
  ports[0].receive({ id: 1, ok: true, result: { renewalId: 'r' } });
  await begin;
  ports[0].receive({ id: 1, event: 'progress', step: 'late' });
  assert.deepEqual(progress, ['login']);
  assert.deepEqual(watched, ['card', 'readers']);
  host.dropListeners();
  ports[0].receive({ id: 2, event: 'card', status: {} });
  assert.deepEqual(watched, ['card', 'readers']);
});

test('hostExits_whileConnected_rejectsPendingAndReconnectsWithBackoff', async () => {
  const { host, ports, timers, states } = setup();
  host.keepConnected(true);
  assert.equal(ports.length, 1);
  ports[0].receive(HELLO);
  const p = host.request('status');
  ports[0].drop();
  await assert.rejects(p, (e) => e.code === 'INTERNAL_ERROR');
  assert.equal(host.state, STATE.DISCONNECTED);
  timers.advance(99);
  assert.equal(ports.length, 1);
  timers.advance(1);
  assert.equal(ports.length, 2, 'reconnected after the first back-off step');
  ports[1].receive(HELLO);
  assert.equal(host.state, STATE.CONNECTED);
  assert.equal(host.error, null, 'the error clears once the host is back');
  // While reconnecting the last error stays visible (the UI does not flicker back to "checking").
  assert.deepEqual(states, ['connecting', 'connected', 'disconnected:INTERNAL_ERROR', 'connecting:INTERNAL_ERROR', 'connected']);
});

test('reconnect_backoffGrowsAndCaps', () => {
  const { host, ports, timers, setLastError } = setup({ lastError: 'Specified native messaging host not found.' });
  host.keepConnected(true);
  const gaps = [];
  let last = 0;
  for (let i = 0; i < 5; i += 1) {
    ports[ports.length - 1].drop();
    const before = ports.length;
    while (ports.length === before) timers.advance(50);
    gaps.push(timers.now - last);
    last = timers.now;
  }
  setLastError(undefined);
  assert.deepEqual(gaps, [100, 200, 400, 400, 400]);
});

test('keepConnected_false_stopsReconnecting', () => {
  const { host, ports, timers } = setup({ lastError: 'Specified native messaging host not found.' });
  host.keepConnected(true);
  ports[0].drop();
  host.keepConnected(false);
  timers.advance(10_000);
  assert.equal(ports.length, 1);
});

test('originRefused_isNotRetriedQuickly', () => {
  const { host, ports, timers } = setup();
  host.keepConnected(true);
  ports[0].receive({ id: null, ok: false, error: { code: 'ORIGIN_NOT_ALLOWED', message: 'no' } });
  timers.advance(399);
  assert.equal(ports.length, 1, 'no quick retry of a refusal');
  timers.advance(1);
  assert.equal(ports.length, 2, 'retried at the longest back-off (IT may fix the config)');
});

test('disconnect_onPurpose_rejectsPendingWithCancelled', async () => {
  const { host, ports } = setup();
  host.connect();
  ports[0].receive(HELLO);
  const p = host.request('status');
  host.disconnect();
  await assert.rejects(p, (e) => e.code === 'CANCELLED');
  assert.equal(ports[0].disconnected, true);
});

test('frames_malformed_areIgnored', async () => {
  const { host, ports } = setup();
  host.connect();
  ports[0].receive(HELLO);
  const p = host.request('status');
  for (const junk of [null, 'x', 42, [], { id: 1 }, { id: 1, ok: 'yes' }, { id: null, ok: false, error: { code: 'BAD_REQUEST' } }]) ports[0].receive(junk);
  ports[0].receive({ id: 1, ok: true, result: { fine: true } });
  assert.deepEqual(await p, { fine: true });
});
