import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate, isPortalSender, isPinSender, senderOrigin, CONTENT_PORT, PIN_PORT } from '../src/shared/messages.js';

const good = [
  [CONTENT_PORT, { type: 'renew.start', serial: 'S1' }],
  [CONTENT_PORT, { type: 'renew.cancel' }],
  [CONTENT_PORT, { type: 'renew.dismiss' }],
  [CONTENT_PORT, { type: 'status.refresh' }],
  [CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: true, pkcs7: 'MIIBAA==' }],
  [CONTENT_PORT, { type: 'est.response', requestId: 'e2', ok: false, error: { code: 'SERVICE_REFUSED', reason: 'no', status: 403 } }],
  [CONTENT_PORT, { type: 'est.response', requestId: 'e3', ok: false, error: { code: 'TIMEOUT' } }],
  [PIN_PORT, { type: 'pin.submit', pin: '1234' }],
  [PIN_PORT, { type: 'pin.submit', pin: '1234', confirmFinalTry: true }],
  [CONTENT_PORT, { type: 'pin.reveal' }],
  [PIN_PORT, { type: 'pin.cancel' }],
];

const hostile = [
  ['not an object', CONTENT_PORT, 'renew.start'],
  ['null', CONTENT_PORT, null],
  ['array', CONTENT_PORT, [{ type: 'renew.cancel' }]],
  ['unknown type', CONTENT_PORT, { type: 'renew.everything' }],
  ['type not a string', CONTENT_PORT, { type: ['renew.cancel'] }],
  ['prototype key as type', CONTENT_PORT, { type: 'constructor' }],
  ['extra member', CONTENT_PORT, { type: 'renew.cancel', origin: 'https://manage-care-identities.care-identity-service2.nhs.uk' }],
  ['__proto__ member', CONTENT_PORT, JSON.parse('{"type":"renew.cancel","__proto__":{"admin":true}}')],
  ['missing serial', CONTENT_PORT, { type: 'renew.start' }],
  ['serial wrong type', CONTENT_PORT, { type: 'renew.start', serial: 7 }],
  ['serial empty', CONTENT_PORT, { type: 'renew.start', serial: '' }],
  ['serial huge', CONTENT_PORT, { type: 'renew.start', serial: 'x'.repeat(10_000) }],
  ['PIN over the content channel', CONTENT_PORT, { type: 'pin.submit', pin: '1234' }],
  ['start over the PIN channel', PIN_PORT, { type: 'renew.start', serial: 'S1' }],
  ['pin not a string', PIN_PORT, { type: 'pin.submit', pin: 1234 }],
  ['pin empty', PIN_PORT, { type: 'pin.submit', pin: '' }],
  ['pin too long', PIN_PORT, { type: 'pin.submit', pin: '1'.repeat(65) }],
  ['pin with extra member', PIN_PORT, { type: 'pin.submit', pin: '1234', renewalId: 'x' }],
  ['final-try confirmation not true', PIN_PORT, { type: 'pin.submit', pin: '1234', confirmFinalTry: 'yes' }],
  ['reveal from the passcode window', PIN_PORT, { type: 'pin.reveal' }],
  ['est ok without pkcs7', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: true }],
  ['est ok with an error too', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: true, pkcs7: 'MIIB', error: { code: 'TIMEOUT' } }],
  ['est failure without error', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: false }],
  ['est pkcs7 not base64', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: true, pkcs7: '<img src=x>' }],
  ['est pkcs7 too large', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: true, pkcs7: 'A'.repeat(300 * 1024) }],
  ['est host error code from the page', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: false, error: { code: 'PIN_LOCKED' } }],
  ['est error extra member', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: false, error: { code: 'TIMEOUT', html: '<b>' } }],
  ['est requestId bad chars', CONTENT_PORT, { type: 'est.response', requestId: '../x', ok: true, pkcs7: 'MIIB' }],
  ['ok not boolean', CONTENT_PORT, { type: 'est.response', requestId: 'e1', ok: 'true', pkcs7: 'MIIB' }],
  ['class instance', CONTENT_PORT, new (class { constructor() { this.type = 'renew.cancel'; } })()],
  ['unknown channel', 'cis-renew.other', { type: 'renew.cancel' }],
];

test('validate_goodMessages_accepted', () => {
  for (const [channel, msg] of good) assert.deepEqual(validate(channel, msg), msg, JSON.stringify(msg));
});

test('validate_hostileMessages_refused', () => {
  for (const [name, channel, msg] of hostile) assert.equal(validate(channel, msg), null, name);
});

test('validate_returnsACopy', () => {
  const msg = { type: 'renew.start', serial: 'S1' };
  const out = validate(CONTENT_PORT, msg);
  assert.notEqual(out, msg);
  msg.serial = 'changed';
  assert.equal(out.serial, 'S1');
});

const EXT = 'e'.repeat(32);
const ORIGINS = ['https://cis.example', 'http://127.0.0.1:8080'];
const tab = { id: 5, windowId: 1 };

test('isPortalSender_cases', () => {
  const cases = [
    ['portal top frame', { id: EXT, tab, frameId: 0, origin: 'https://cis.example', url: 'https://cis.example/x' }, true],
    ['loopback with port', { id: EXT, tab, frameId: 0, origin: 'http://127.0.0.1:8080' }, true],
    ['firefox: url only', { id: EXT, tab, frameId: 0, url: 'http://127.0.0.1:8080/manage' }, true],
    ['other port', { id: EXT, tab, frameId: 0, url: 'http://127.0.0.1:9999/manage' }, false],
    ['other site', { id: EXT, tab, frameId: 0, origin: 'https://evil.example' }, false],
    ['look-alike host', { id: EXT, tab, frameId: 0, origin: 'https://cis.example.evil.example' }, false],
    ['subframe', { id: EXT, tab, frameId: 3, origin: 'https://cis.example' }, false],
    ['other extension', { id: 'abc', tab, frameId: 0, origin: 'https://cis.example' }, false],
    ['no tab (extension page)', { id: EXT, frameId: 0, origin: 'https://cis.example' }, false],
    ['opaque origin', { id: EXT, tab, frameId: 0, origin: 'null', url: 'data:text/html,x' }, false],
    ['nothing', undefined, false],
  ];
  for (const [name, sender, want] of cases) assert.equal(isPortalSender(sender, { extensionId: EXT, portalOrigins: ORIGINS }), want, name);
});

test('isPinSender_cases', () => {
  const pinPageUrl = `chrome-extension://${EXT}/src/ui/pin.html`;
  const cases = [
    ['our pin page', { id: EXT, url: pinPageUrl }, true],
    ['our pin page with a query', { id: EXT, url: `${pinPageUrl}?x=1` }, true],
    ['another extension page', { id: EXT, url: `chrome-extension://${EXT}/src/ui/other.html` }, false],
    ['a web page', { id: EXT, url: 'https://cis.example/src/ui/pin.html' }, false],
    ['another extension', { id: 'other', url: `chrome-extension://other/src/ui/pin.html` }, false],
    ['no url', { id: EXT }, false],
  ];
  for (const [name, sender, want] of cases) assert.equal(isPinSender(sender, { extensionId: EXT, pinPageUrl }), want, name);
});

test('senderOrigin_prefersBrowserOrigin', () => {
  assert.equal(senderOrigin({ origin: 'https://a.example', url: 'https://b.example/' }), 'https://a.example');
  assert.equal(senderOrigin({ url: 'https://b.example/path?q' }), 'https://b.example');
  assert.equal(senderOrigin({ url: 'not a url' }), null);
});
