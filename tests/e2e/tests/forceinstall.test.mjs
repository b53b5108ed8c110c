// The extension as IT ships it (issue 15): scripts/package-extension.sh packs a CRX3 with a key
// made here, a loopback server plays IT's update server, and Chromium force-installs the CRX by
// policy (ExtensionInstallForcelist) - no --load-extension - then renews a card with it.
//
// Chromium reads machine policy from /etc/chromium/policies, which every test shares. This test
// runs its Chromium in a private mount namespace with its own folder bound over that path, so
// its policy is seen by no other browser and nothing is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Bed, ROOT, HOST_BIN, SPONSOR_READER, MANAGED_READER } from '../lib/bed.mjs';
import { signIn, HOST_NAME, ShadowProbe } from '../lib/browser.mjs';
import { openServiceMenu, chooseRenew, continueToPasscode, typePasscode } from '../lib/flow.mjs';

const PASSCODE = 'Fv83kQw1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Serves DIR's updates.xml and CRX on a loopback port; records what Chromium fetched. */
async function updateServer(dir) {
  const fetched = [];
  const server = createServer((req, res) => {
    const name = path.basename(new URL(req.url, 'http://x').pathname);
    fetched.push(name);
    const type = name.endsWith('.crx') ? 'application/x-chrome-extension' : 'text/xml';
    try {
      const body = readFileSync(path.join(dir, name));
      res.writeHead(200, { 'content-type': type, 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, fetched, url: `http://127.0.0.1:${server.address().port}/cis-renew/updates.xml` };
}

/** A chromium that sees `policyDir` as /etc/chromium/policies, and only it does. */
function privatePolicyChromium(dir, policyDir) {
  const wrapper = path.join(dir, 'chromium');
  writeFileSync(wrapper, `#!/bin/sh
exec unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/chromium/policies && exec /usr/bin/chromium "$@"' '${policyDir}' "$@"
`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

test('force-install: Chromium installs the packaged CRX by policy from a loopback update URL and renews a card with it', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'cis-renew-forceinstall-'));
  let bed;
  let context;
  let updates;
  try {
    execFileSync('openssl', ['genrsa', '-out', path.join(work, 'key.pem'), '2048'], { stdio: 'ignore' });
    const out = path.join(work, 'out');
    mkdirSync(out);
    // The update URL must be known before packing (it goes into the CRX), so take a port first.
    updates = await updateServer(out);
    const printed = execFileSync(path.join(ROOT, 'scripts/package-extension.sh'),
      ['--key', path.join(work, 'key.pem'), '--out', out, '--update-url', updates.url], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim().split('\n').pop();
    assert.match(printed, /^[a-p]{32}$/);
    const id = printed;

    bed = await Bed.start({ validityDays: 730 });
    // The host allows the packaged ID (IT's allowedOrigins); everything else is the bed's config.
    const writeConfig = bed.writeHostConfig.bind(bed);
    bed.writeHostConfig = () => {
      writeConfig();
      const config = JSON.parse(readFileSync(bed.hostConfig, 'utf8'));
      writeFileSync(bed.hostConfig, JSON.stringify({ ...config, allowedOrigins: [`chrome-extension://${id}/`] }));
    };
    bed.writeHostConfig();
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE });

    const policyDir = path.join(work, 'policies');
    mkdirSync(path.join(policyDir, 'managed'), { recursive: true });
    writeFileSync(path.join(policyDir, 'managed', 'cis-renew.json'), JSON.stringify({
      ExtensionInstallForcelist: [`${id};${updates.url}`],
      // By default DevTools (so Playwright) may not attach to policy-installed extensions.
      DeveloperToolsAvailability: 1,
      '3rdparty': { extensions: { [id]: { portalOrigins: [bed.standin.url], renewalServiceUrl: bed.standin.url } } },
    }));
    const userDataDir = path.join(work, 'profile');
    mkdirSync(path.join(userDataDir, 'NativeMessagingHosts'), { recursive: true });
    writeFileSync(path.join(userDataDir, 'NativeMessagingHosts', `${HOST_NAME}.json`), JSON.stringify({
      name: HOST_NAME, description: 'cis-renew (force-install e2e)', path: HOST_BIN, type: 'stdio',
      allowed_origins: [`chrome-extension://${id}/`],
    }));
    const options = {
      executablePath: privatePolicyChromium(work, policyDir),
      headless: !process.env.DISPLAY,
      env: { ...process.env, ...bed.hostEnv() },
      viewport: { width: 1200, height: 900 },
      ignoreDefaultArgs: ['--disable-extensions', '--disable-component-extensions-with-background-pages', '--disable-background-networking'],
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
    };
    // First start: Chromium reads the policy, fetches updates.xml, then the CRX, checks its
    // signature against the ID and installs it into the profile.
    context = await chromium.launchPersistentContext(userDataDir, options);
    const installed = path.join(userDataDir, 'Default', 'Extensions', id, '0.1.0_0', 'manifest.json');
    for (const started = Date.now(); !existsSync(installed) && Date.now() - started < 90000;) await sleep(500);
    assert.ok(existsSync(installed), `Chromium installed the CRX (fetched: ${updates.fetched})`);
    assert.ok(updates.fetched.includes('updates.xml'), `Chromium asked for the update manifest: ${updates.fetched}`);
    assert.ok(updates.fetched.some((f) => f.endsWith('.crx')), `Chromium fetched the CRX: ${updates.fetched}`);
    assert.equal(JSON.parse(readFileSync(installed, 'utf8')).update_url, updates.url);
    const isOurs = (w) => w.url().startsWith(`chrome-extension://${id}/`);
    const worker = context.serviceWorkers().find(isOurs)
      ?? await context.waitForEvent('serviceworker', { predicate: isOurs, timeout: 30000 });
    await worker.evaluate(() => self.cisRenewWorker.ready());

    const page = await context.newPage();
    await signIn(page, bed.standin.url);
    await openServiceMenu(page, card.tokenSerial);
    await chooseRenew(page);
    const probe = new ShadowProbe(page);
    const { pinWindow } = await continueToPasscode(page).catch(async (e) => {
      throw new Error(`${e.message}; the dialog says: ${await probe.text('dialog').catch(() => '?')}`);
    });
    assert.ok(pinWindow.url().startsWith(`chrome-extension://${id}/`), pinWindow.url());
    await typePasscode(pinWindow, PASSCODE);
    await probe.waitFor('dialog h2', { text: /renewed/i, timeout: 60000 });

    const status = bed.hostStatus();
    const old = card.certificates.map((c) => c.serial.toLowerCase());
    assert.deepEqual(status.card.certificates.map((c) => c.role), ['authentication', 'signing']);
    for (const c of status.card.certificates) assert.ok(!old.includes(c.serial.toLowerCase()), `${c.serial} is an old certificate`);
    assert.equal(bed.inspect('Alice card', PASSCODE).pairs.length, 2);
  } finally {
    await context?.close();
    updates?.server.close();
    await bed?.stop();
    if (!process.env.CIS_E2E_KEEP) rmSync(work, { recursive: true, force: true });
  }
});
