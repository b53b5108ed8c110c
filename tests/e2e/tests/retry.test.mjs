// A card that fails to store a certificate (issue 10), through real middleware in a real
// browser: the virtual SmartCard-HSM refuses the signing certificate's write once (6581, as a
// card with a memory fault does), OpenSC reports it, the host keeps the renewal open with the
// certificates issued, and the extension sends the same answer again. The card ends with one
// new working pair per role, checked through OpenSC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Bed, MANAGED_READER } from '../lib/bed.mjs';
import { launch, writePolicy, removePolicy } from '../lib/browser.mjs';
import { signInAndRenew, dialogText } from '../lib/flow.mjs';

const PASSCODE = '31415926';

test('retry: a certificate the card failed to store is stored by the extension\'s second renewComplete with the same answer', async () => {
  const bed = await Bed.start({ opensc: true });
  let browser;
  try {
    // OpenSC keeps each new key's CV request in its certificate file until the certificate
    // replaces it: the fourth certificate file written is the signing certificate.
    const card = await bed.schsmCard({ reader: MANAGED_READER, user: 'alice', pin: PASSCODE, faults: '--fail-write CE:4:6581' });
    writePolicy(bed.standin.url);
    browser = await launch({ hostEnv: bed.hostEnv() });
    const page = await browser.context.newPage();
    const { probe } = await signInAndRenew(page, bed.standin.url, card.tokenSerial, PASSCODE);
    await probe.waitFor('dialog h2', { text: /renewed/i, timeout: 90000 });
    assert.match(await dialogText(probe), /renewed/i);

    // The host saw the refused write, then the second renewComplete installed both.
    const log = readFileSync(bed.hostLog, 'utf8');
    const completes = log.split('\n').filter((l) => /renewComplete id=\S+ (ok|[A-Z_]+) in /.test(l));
    assert.equal(completes.length, 2, completes.join('\n'));
    assert.match(completes[0], /TOKEN_ERROR/);
    assert.match(completes[1], / ok /);
    assert.ok(!log.includes(PASSCODE), 'passcode in the host log');

    const issued = await bed.standin.admin('/admin/api/issued');
    assert.equal(issued.length, 2, 'issued once per role: the retry reused the answer');
    const contents = bed.inspectSchsm(PASSCODE);
    assert.equal(contents.pairs.length, 2, JSON.stringify(contents.pairs));
    assert.ok(contents.pairs.every((p) => p.signsAndVerifies), JSON.stringify(contents.pairs));
    assert.ok(!contents.objects.some((o) => o.label.startsWith('cis-renew pending')), JSON.stringify(contents.objects));
    const installed = contents.objects.filter((o) => o.class === 'certificate').map((o) => o.cert.serial.toLowerCase());
    assert.deepEqual(installed.sort(), issued.map((c) => c.serial.toLowerCase()).sort());
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
});
