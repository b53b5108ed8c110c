import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../src/est/client.js';

const est = globalThis.cisRenew.est;
const b = (...xs) => Uint8Array.from(xs.flat());
const OID_EC = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P384 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P521 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const RSA = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const CHALLENGE = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07];
const seq = (...xs) => [0x30, xs.flat().length, ...xs.flat()];
const set = (...xs) => [0x31, xs.flat().length, ...xs.flat()];
const int = (...xs) => [0x02, xs.length, ...xs];

// The stand-in's P-384 answer (tests/standin/src/est/csrattrs.rs checks the same bytes).
const STANDIN_P384 = b(0x30, 0x14, 0x30, 0x12, OID_EC, 0x31, 0x07, P384);

const GOOD = [
  ['stand-in P-384', STANDIN_P384, 'p384'],
  ['P-256 attribute', b(seq(seq(OID_EC, set(P256)))), 'p256'],
  ['RSA-2048 attribute', b(seq(seq(RSA, set(int(0x08, 0x00))))), 'rsa2048'],
  ['RSA-3072 attribute', b(seq(seq(RSA, set(int(0x0c, 0x00))))), 'rsa3072'],
  ['bare rsaEncryption OID', b(seq(RSA)), 'rsa2048'],
  ['other OIDs first (RFC 7030 example shape)', b(seq(CHALLENGE, seq(OID_EC, set(P384)))), 'p384'],
  ['empty CsrAttrs', b(seq()), null],
  ['unknown curve', b(seq(seq(OID_EC, set(P521)))), null],
  ['unsupported RSA size', b(seq(seq(RSA, set(int(0x10, 0x00))))), null],
  ['negative RSA size', b(seq(seq(RSA, set(int(0x80, 0x00))))), null],
  ['only a challengePassword OID', b(seq(CHALLENGE)), null],
  ['long-form length', b(0x30, 0x81, 0x14, 0x30, 0x12, OID_EC, 0x31, 0x07, P384), 'p384'],
];

const HOSTILE = [
  ['empty input', b()],
  ['not a SEQUENCE', b(0x31, 0x00)],
  ['length past the end', b(0x30, 0x05, 0x06)],
  ['trailing bytes', b(seq(), 0x00)],
  ['indefinite length', b(0x30, 0x80, 0x00, 0x00)],
  ['5-byte length', b(0x30, 0x85, 0xff, 0xff, 0xff, 0xff, 0xff)],
  ['huge 4-byte length', b(0x30, 0x84, 0x7f, 0xff, 0xff, 0xff)],
  ['multi-byte tag', b(0x30, 0x02, 0x1f, 0x00)],
  ['attribute without a SET', b(seq(seq(OID_EC, P384)))],
  ['attribute type not an OID', b(seq(seq(int(1), set(P384))))],
  ['inner length past the SET', b(0x30, 0x0b, 0x30, 0x09, OID_EC.slice(0, 2), 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x31, 0x09)],
  ['an INTEGER as an item', b(seq(int(5)))],
  ['truncated value in the SET', b(seq(seq(OID_EC, [0x31, 0x03, 0x06, 0x05, 0x2b])))],
  ['too many items', b(0x30, 0x81, 130, ...new Array(65).fill([0x05, 0x00]).flat())],
  ['not bytes', 'MBQwEgYHKoZIzj0CATEHBgUrgQQAIg=='],
  ['too large', new Uint8Array(17 * 1024)],
];

for (const [name, bytes, want] of GOOD) {
  test(`parseCsrAttrs reads ${name}`, () => {
    assert.deepEqual(est.parseCsrAttrs(bytes), { ok: true, keyAlgorithm: want });
  });
}

for (const [name, bytes] of HOSTILE) {
  test(`parseCsrAttrs refuses ${name} without throwing`, () => {
    assert.deepEqual(est.parseCsrAttrs(bytes), { ok: false });
  });
}

test('parseCsrAttrs never throws on random bytes', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: 1 + (i % 40) }, rnd);
    if (i % 3 === 0) bytes[0] = 0x30;
    const r = est.parseCsrAttrs(bytes);
    assert.equal(typeof r.ok, 'boolean');
  }
});

function fetchAnswer(status, body, type = 'application/csrattrs') {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return { status, statusText: '', headers: { get: (k) => (k === 'content-type' ? type : null) }, text: async () => body };
  };
  return { fetch, calls };
}

test('csrAttrs GETs the well-known path with the session and reads the stand-in answer', async () => {
  const f = fetchAnswer(200, 'MBQwEgYHKoZIzj0CATEHBgUrgQQAIg==\r\n');
  const url = est.csrAttrsUrl('https://cis.example/');
  assert.equal(url, 'https://cis.example/.well-known/est/csrattrs');
  const r = await est.csrAttrs({ fetch: f.fetch, url });
  assert.deepEqual(r, { ok: true, keyAlgorithm: 'p384' });
  assert.equal(f.calls[0].init.method, 'GET');
  assert.equal(f.calls[0].init.credentials, 'include');
});

test('csrAttrs: 404 and 204 name nothing; a malformed 200 is CSRATTRS_MALFORMED; 401 is refused', async () => {
  assert.deepEqual(await est.csrAttrs(fetchAnswer(404, 'nope')), { ok: true, keyAlgorithm: null });
  assert.deepEqual(await est.csrAttrs(fetchAnswer(204, '')), { ok: true, keyAlgorithm: null });
  for (const body of ['not base64!', 'AAAA', '<html>sign in</html>', 'A'.repeat(40000)]) {
    const r = await est.csrAttrs(fetchAnswer(200, body));
    assert.equal(r.ok, false, body.slice(0, 20));
    assert.equal(r.error.code, 'CSRATTRS_MALFORMED');
  }
  const refused = await est.csrAttrs(fetchAnswer(401, '{"error":"not-signed-in","message":"Sign in first."}', 'application/json'));
  assert.deepEqual(refused, { ok: false, error: { code: 'SERVICE_REFUSED', status: 401, reason: 'Sign in first.' } });
  const down = await est.csrAttrs(fetchAnswer(503, ''));
  assert.equal(down.error.code, 'SERVICE_UNREACHABLE');
  const broken = await est.csrAttrs({ fetch: async () => { throw new TypeError('offline'); } });
  assert.deepEqual(broken, { ok: false, error: { code: 'SERVICE_UNREACHABLE', reason: 'offline' } });
});
