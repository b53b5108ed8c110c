import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { CONTENT_FILES } from '../src/background/contentScripts.js';
import { PIN_PAGE } from '../src/background/pinWindow.js';
import { HOST_NAME } from '../src/background/native.js';

const root = new URL('..', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', root), 'utf8'));
const identity = JSON.parse(readFileSync(new URL('../manifests/identity.json', root), 'utf8'));

/** Chromium's ID: sha256 of the DER public key, first 32 hex digits mapped 0-f -> a-p. */
function chromiumId(keyBase64) {
  const hex = createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('hex').slice(0, 32);
  return [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
}

test('manifest_key_givesTheFixedId', () => {
  assert.equal(chromiumId(manifest.key), identity.chromiumId);
  const ids = readFileSync(new URL('../docs/ids.md', root), 'utf8');
  assert.ok(ids.includes(manifest.key), 'same key as docs/ids.md');
});

test('manifest_browsersAndIdentity', () => {
  assert.equal(manifest.manifest_version, 3);
  assert.equal(manifest.default_locale, 'en');
  assert.equal(manifest.browser_specific_settings.gecko.id, identity.firefoxId);
  assert.equal(manifest.browser_specific_settings.gecko.strict_min_version, '128.0');
  assert.equal(manifest.background.service_worker, manifest.background.scripts[0]);
  assert.equal(manifest.background.type, 'module');
  assert.equal(manifest.storage.managed_schema, 'schema.json');
  assert.equal(HOST_NAME, 'uk.nhs.cis_renew');
});

test('manifest_permissionsAreMinimal_nothingExposedToPages', () => {
  assert.deepEqual([...manifest.permissions].sort(), ['nativeMessaging', 'scripting', 'storage']);
  assert.deepEqual(manifest.host_permissions, ['https://*/*', 'http://127.0.0.1/*', 'http://localhost/*']);
  for (const k of ['web_accessible_resources', 'externally_connectable', 'content_scripts', 'optional_permissions']) assert.equal(manifest[k], undefined, k);
  assert.match(manifest.content_security_policy.extension_pages, /script-src 'self'/);
  assert.doesNotMatch(manifest.content_security_policy.extension_pages, /unsafe|http/);
});

test('manifest_everyReferencedFileExists', () => {
  const files = [manifest.background.service_worker, 'schema.json', '_locales/en/messages.json', ...CONTENT_FILES, PIN_PAGE, 'src/ui/pin.js', 'src/ui/pin.css'];
  for (const f of files) assert.ok(existsSync(new URL(f, root)), f);
  const pin = readFileSync(new URL(PIN_PAGE, root), 'utf8');
  assert.match(pin, /<script type="module" src="pin.js"><\/script>/);
  assert.doesNotMatch(pin, /<script>(?!<)/, 'no inline script');
});

test('contentFiles_areClassicScripts', () => {
  // MV3 content scripts cannot be modules: no import/export at the top level.
  for (const f of CONTENT_FILES) {
    const src = readFileSync(new URL(f, root), 'utf8');
    assert.doesNotMatch(src, /^\s*(import|export)\s/m, f);
    assert.match(src, /^\(function \(root\) \{/m, `${f} wraps itself (no globals shared between files)`);
  }
  assert.equal(CONTENT_FILES.at(-1), 'src/content/main.js', 'main.js last');
});
