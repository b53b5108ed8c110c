import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../src/shared/errors.js';
import { Hub, IDLE_DISCONNECT_MS } from '../src/background/hub.js';
import { Renewal } from '../src/background/renewal.js';
import { dispatch } from '../src/background/dispatch.js';
import { validate, CONTENT_PORT } from '../src/shared/messages.js';
import { FakeTimers, flush } from '../testing/timers.js';
import { fakePort } from '../testing/ports.js';
import { fakeHost, dueStatus, BEGIN_RESULT } from '../testing/fakeHost.js';

function setup() {
  const timers = new FakeTimers();
  const host = fakeHost();
  let stateFn;
  Object.assign(host, {
    state: 'disconnected',
    error: null,
    version: null,
    wanted: [],
    onStateChange: (fn) => (stateFn = fn),
    keepConnected: (w) => host.wanted.push(w),
    dropListeners: () => {},
  });
  const hub = new Hub({ host, timers, serviceUrlFor: (o) => o });
  const pinLog = [];
  const renewal = new Renewal({
    host,
    timers,
    est: (req) => hub.est(renewal.owner, req),
    pin: { open: (m) => pinLog.push(['open', m]), show: (m) => pinLog.push(['show', m]), close: () => pinLog.push(['close']) },
    onChange: () => hub.renewalChanged(),
  });
  hub.renewal = renewal;
  const connect = () => {
    host.state = 'connected';
    stateFn({ state: 'connected', error: null });
  };
  const app = { hub, renewal };
  const tab = (id, origin = 'https://cis.example') => {
    const port = fakePort(CONTENT_PORT, { id: 'ext', tab: { id, windowId: 1 }, frameId: 0, origin });
    const t = hub.addTab(port, port.sender);
    const send = (raw) => {
      const msg = validate(CONTENT_PORT, raw);
      assert.ok(msg, `valid: ${JSON.stringify(raw)}`);
      return dispatch(app, msg, { channel: CONTENT_PORT, tabKey: t.key });
    };
    return { port, key: t.key, send, states: () => port.posted.filter((m) => m.type === 'state').map((m) => m.state) };
  };
  return { hub, host, timers, renewal, connect, tab, pinLog };
}

test('hub_firstTab_connectsWatchesAndPushesStatus', async () => {
  const s = setup();
  const a = s.tab(1);
  assert.deepEqual(s.host.wanted, [true]);
  assert.equal(a.states()[0].status, null);
  s.connect();
  assert.deepEqual(s.host.commands(), ['watch', 'status']);
  s.host.reply('status', dueStatus());
  await flush();
  assert.equal(a.states().at(-1).status.card.token.serial, 'S1');
  // a card event carries the new status
  s.host.event('watch', { event: 'card', status: { readers: [], card: null, reason: 'NO_CARD' } });
  assert.equal(a.states().at(-1).status.card, null);
  // a readers event asks for status again
  s.host.event('watch', { event: 'readers', readers: [] });
  assert.equal(s.host.commands().filter((c) => c === 'status').length, 2);
  // PC/SC going away shows as the status error
  s.host.event('watch', { event: 'error', error: { code: 'PCSC_UNAVAILABLE', message: 'gone' } });
  assert.equal(a.states().at(-1).statusError.code, 'PCSC_UNAVAILABLE');
  assert.equal(a.states().at(-1).status, null);
  s.host.event('watch', { event: 'card', error: { code: 'TOKEN_ERROR', message: 'C_Login', pkcs11: 'x' } });
  assert.equal(a.states().at(-1).statusError.code, 'TOKEN_ERROR');
});

test('hub_lastTabGone_unwatchesAndReleasesTheHostAfterAWhile', () => {
  const s = setup();
  const a = s.tab(1);
  s.connect();
  s.hub.removeTab(a.key);
  s.timers.advance(IDLE_DISCONNECT_MS - 1);
  assert.ok(!s.host.commands().includes('unwatch'));
  s.timers.advance(1);
  assert.ok(s.host.commands().includes('unwatch'));
  assert.deepEqual(s.host.wanted, [true, false]);
});

test('hub_renewal_detailsOnlyToOwner_estOnlyThroughOwner', async () => {
  const s = setup();
  const a = s.tab(1);
  const b = s.tab(2);
  s.connect();
  s.host.reply('status', dueStatus());
  await flush();

  // another tab cannot cancel or dismiss what it does not own
  a.send({ type: 'renew.start', serial: 'S1' });
  assert.equal(s.renewal.owner, a.key);
  assert.equal(b.send({ type: 'renew.cancel' }), false);
  assert.equal(s.renewal.phase, 'awaitingPin');
  assert.equal(a.states().at(-1).renewal.phase, 'awaitingPin');
  assert.equal(b.states().at(-1).renewal, null, 'no details for other tabs');
  assert.equal(b.states().at(-1).renewalElsewhere, true);

  // a second start is refused with BUSY, to that tab only
  b.send({ type: 'renew.start', serial: 'S1' });
  assert.deepEqual(b.port.last(), { type: 'renew.refused', error: { code: 'BUSY', message: 'a renewal is already running' } });

  s.renewal.pinSubmitted('123456');
  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
  const estReq = a.port.posted.find((m) => m.type === 'est.request');
  assert.deepEqual({ ...estReq, requestId: undefined }, { type: 'est.request', requestId: undefined, url: 'https://cis.example', role: 'authentication', csr: 'MIIBAQ==', timeoutMs: 85_000 });
  assert.ok(!b.port.posted.some((m) => m.type === 'est.request'), 'never to another tab');

  // an answer from the wrong tab is ignored
  assert.equal(b.send({ type: 'est.response', requestId: estReq.requestId, ok: true, pkcs7: 'QkFE' }), false);
  a.send({ type: 'est.response', requestId: estReq.requestId, ok: true, pkcs7: 'QUFB' });
  await flush();
  const second = a.port.posted.filter((m) => m.type === 'est.request')[1];
  a.send({ type: 'est.response', requestId: second.requestId, ok: true, pkcs7: 'QkJC' });
  await flush();
  assert.deepEqual(s.host.pending('renewComplete').params.pkcs7, ['QUFB', 'QkJC']);
});

test('hub_estRefused_reachesRenewalWithReason', async () => {
  const s = setup();
  const a = s.tab(1);
  s.connect();
  s.host.reply('status', dueStatus());
  await flush();
  a.send({ type: 'renew.start', serial: 'S1' });
  s.renewal.pinSubmitted('123456');
  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
  const req = a.port.posted.find((m) => m.type === 'est.request');
  a.send({ type: 'est.response', requestId: req.requestId, ok: false, error: { code: 'SERVICE_REFUSED', reason: 'not the selected card', status: 403 } });
  await flush();
  const r = a.states().at(-1).renewal;
  assert.equal(r.phase, 'failed');
  assert.deepEqual(r.error, { code: 'SERVICE_REFUSED', message: 'not the selected card', reason: 'not the selected card', status: 403 });
});

test('hub_ownerTabClosed_cancelsAndFailsPendingEst', async () => {
  const s = setup();
  const a = s.tab(1);
  s.connect();
  s.host.reply('status', dueStatus());
  await flush();
  a.send({ type: 'renew.start', serial: 'S1' });
  s.renewal.pinSubmitted('123456');
  s.host.reply('renewBegin', BEGIN_RESULT);
  await flush();
  s.hub.removeTab(a.key);
  await flush();
  assert.ok(s.host.commands().includes('renewCancel'));
  assert.ok(!s.host.commands().includes('renewComplete'));
});

test('hub_retainOrigins_dropsTabsNoLongerAllowed', () => {
  const s = setup();
  const a = s.tab(1, 'https://cis.example');
  const b = s.tab(2, 'https://old.example');
  s.hub.retainOrigins(['https://cis.example']);
  assert.equal(b.port.disconnected, true);
  assert.equal(a.port.disconnected, false);
  assert.deepEqual([...s.hub.tabs.keys()], [a.key]);
});

test('hub_csrattrs_throughTheOwnerTab_namesTheKeyAlgorithmForRenewBegin', async () => {
  const s = setup();
  s.renewal._csrAttrs = () => s.hub.csrAttrs(s.renewal.owner);
  const a = s.tab(1);
  s.connect();
  s.host.reply('status', dueStatus());
  await flush();
  a.send({ type: 'renew.start', serial: 'S1' });
  await flush();
  const req = a.port.posted.find((m) => m.type === 'csrattrs.request');
  assert.ok(req, 'the owner tab is asked for csrattrs');
  assert.equal(req.url, 'https://cis.example');
  // An est.response under the csrattrs id is not taken for it.
  assert.equal(s.hub.estResponse(a.key, { requestId: req.requestId, ok: true, pkcs7: 'AAAA' }), false);
  assert.equal(validate(CONTENT_PORT, { type: 'csrattrs.response', requestId: req.requestId, ok: true, keyAlgorithm: 'ed25519' }), null);
  a.send({ type: 'csrattrs.response', requestId: req.requestId, ok: true, keyAlgorithm: 'rsa2048' });
  await flush();
  s.renewal.pinSubmitted('123456');
  assert.deepEqual(s.host.pending('renewBegin').params, { pin: '123456', cardSerial: 'S1', keyAlgorithm: 'rsa2048' });
});
