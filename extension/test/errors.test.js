import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import '../src/shared/errors.js';
import { messages, t } from '../testing/i18n.js';
import { buildMessages } from '../tools/build-messages.mjs';

const { CODES, REASONS, messageKey, CisError, fromWire } = globalThis.cisRenew.errors;

const HOST_CODES = ['BAD_REQUEST', 'MESSAGE_TOO_LARGE', 'UNKNOWN_COMMAND', 'ORIGIN_NOT_ALLOWED', 'CONFIG_INVALID', 'PCSC_UNAVAILABLE', 'TOKEN_UNAVAILABLE', 'TOKEN_ERROR', 'CARD_REMOVED', 'NO_CARD', 'PIN_INCORRECT', 'PIN_LOCKED', 'PIN_FINAL_TRY', 'PIN_INVALID', 'NOT_RENEWABLE', 'CERTIFICATE_MISMATCH', 'CERTIFICATE_INVALID', 'CERTIFICATE_UNTRUSTED', 'TRUST_NOT_CONFIGURED', 'UNKNOWN_RENEWAL', 'BUSY', 'CARD_AUTH_FAILED', 'CARD_CHANGED', 'KEY_ALGORITHM_NOT_ALLOWED', 'KEY_ALGORITHM_UNSUPPORTED', 'RESPONSE_TOO_LARGE', 'INTERNAL_ERROR'];
const EXTENSION_CODES = ['HOST_MISSING', 'HOST_TOO_OLD', 'SERVICE_REFUSED', 'SERVICE_UNREACHABLE', 'CSRATTRS_MALFORMED', 'RENEWAL_EXPIRED', 'CANCELLED', 'TIMEOUT'];

test('errors_listIsTheContract', () => {
  assert.deepEqual(Object.keys(CODES).sort(), [...HOST_CODES, ...EXTENSION_CODES].sort());
  for (const c of HOST_CODES) assert.equal(CODES[c].source, 'host', c);
  for (const c of EXTENSION_CODES) assert.equal(CODES[c].source, 'extension', c);
});

test('errors_everyCodeAndReasonHasAnEnglishMessage', () => {
  for (const code of Object.keys(CODES)) {
    const text = t(messageKey(code));
    assert.ok(text.length > 10 && /[.!]$/.test(text), `${code}: "${text}"`);
  }
  for (const [reason, key] of Object.entries(REASONS)) assert.ok(t(key).length > 10, reason);
});

test('errors_fromWire_keepsExtrasAndNeverLeaksUnknownCodes', () => {
  const e = fromWire({ code: 'PIN_INCORRECT', message: 'wrong', triesLeft: 2, pin: 'countLow' });
  assert.ok(e instanceof CisError);
  assert.deepEqual(e.toJSON(), { code: 'PIN_INCORRECT', message: 'wrong', triesLeft: 2, pin: 'countLow' });
  assert.equal(fromWire({ code: 'EVIL<script>' }).code, 'INTERNAL_ERROR');
  assert.equal(fromWire(null).code, 'INTERNAL_ERROR');
});

test('locales_messagesJsonMatchesItsSource', () => {
  const onDisk = readFileSync(new URL('../_locales/en/messages.json', import.meta.url), 'utf8');
  assert.equal(onDisk, buildMessages(), 'run: node tools/build-messages.mjs');
});

test('locales_placeholdersAreWellFormed', () => {
  for (const [key, entry] of Object.entries(messages)) {
    assert.match(key, /^[A-Za-z0-9_@]+$/, key);
    const used = [...entry.message.matchAll(/\$([A-Za-z0-9_@]+)\$/g)].map((m) => m[1].toLowerCase());
    const declared = Object.keys(entry.placeholders || {}).map((k) => k.toLowerCase());
    assert.deepEqual([...new Set(used)].sort(), declared.sort(), key);
  }
});

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(js|html|json)$/.test(name)) out.push(p);
  }
  return out;
}

test('locales_everyKeyTheCodeUsesExists', () => {
  const root = new URL('..', import.meta.url).pathname;
  const files = [...sourceFiles(join(root, 'src')), join(root, 'manifest.json')];
  const keys = new Set();
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\bt\('([A-Za-z0-9_]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/\bmsg\('([A-Za-z0-9_]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/data-i18n="([A-Za-z0-9_]+)"/g)) keys.add(m[1]);
    for (const m of src.matchAll(/__MSG_([A-Za-z0-9_]+)__/g)) keys.add(m[1]);
    for (const m of src.matchAll(/key: '([A-Za-z0-9_]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/\bcountMsg\('([A-Za-z0-9_]+)'/g)) keys.add(`${m[1]}_other`);
    for (const m of src.matchAll(/: '(err[A-Za-z0-9]+)'/g)) keys.add(m[1]); // tables such as SERVICE_STATUS
  }
  assert.ok(keys.size > 40, `found ${keys.size} keys`);
  // A count's message (`{key, count}`) has its plural forms instead of a plain key.
  for (const k of keys) assert.ok(messages[k] || messages[`${k}_other`], `missing message "${k}"`);
  for (const k of Object.keys(messages).filter((k) => k.endsWith('_other'))) {
    assert.ok(messages[k.replace(/_other$/, '_one')], `${k}: English needs its _one form`);
  }
  assert.equal(typeof messageKey, 'function');
});
