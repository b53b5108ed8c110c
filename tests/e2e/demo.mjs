// The demo: the whole renewal as a sponsor does it, in Chromium (a window when a display exists,
// headless otherwise), against the stand-in dashboard, with the user's card due in 45 days in the
// second reader and the sponsor's card in the first. Prints each step and the card before and
// after; saves screenshots to test-output/screenshots/demo.
import { execFileSync } from 'node:child_process';
import { Bed, HOST_BIN, SPONSOR_READER, MANAGED_READER } from './lib/bed.mjs';
import { launch, writePolicy, removePolicy, signIn, Shots, screenshotsDir } from './lib/browser.mjs';
import { openServiceMenu, chooseRenew, continueToPasscode, typePasscode, dialogText } from './lib/flow.mjs';

const PASSCODE = '123456';
// `--card piv`: the user's card is a PIV card (the renewal service authorises it with its
// card-management key); otherwise a SoftHSM card behind PKCS#11.
const CARD = process.argv.includes('--card') ? process.argv[process.argv.indexOf('--card') + 1] : 'softhsm';
const say = (text) => console.log(`demo: ${text}`);

function cardTable(bed) {
  return execFileSync(HOST_BIN, ['status'], { env: { ...process.env, ...bed.hostEnv() } }).toString();
}

async function main() {
  say('starting the test bed: a private pcscd with two virtual readers, SoftHSM cards, the stand-in CIS dashboard + EST CA');
  const bed = await Bed.start();
  let browser;
  try {
    await bed.card({ reader: SPONSOR_READER, label: 'Sponsor card', user: 'bob', authDays: 500, signDays: 500 });
    const card = CARD === 'piv'
      ? await bed.pivCard({ reader: MANAGED_READER, user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE })
      : await bed.card({ reader: MANAGED_READER, label: 'Alice card', user: 'alice', authDays: 45, signDays: 45, pin: PASSCODE });
    const kind = CARD === 'piv' ? `a PIV card (management key ${card.mgmtAlg}, held by the renewal service)` : 'a SoftHSM card';
    say(`stand-in dashboard at ${bed.standin.url}; the user's card, ${kind} (serial ${card.tokenSerial}), is in the second reader`);
    console.log(`\nBefore:\n${cardTable(bed)}`);

    writePolicy(bed.standin.url);
    say(`launching Chromium ${process.env.DISPLAY ? 'in a window' : 'headless'} with the cis-renew extension; IT policy points it at the dashboard`);
    browser = await launch({ hostEnv: bed.hostEnv() });
    const page = await browser.context.newPage();
    const shots = new Shots(screenshotsDir('demo'));

    say('sponsor signs in');
    await signIn(page, bed.standin.url);
    await shots.take(page, 'signed-in');
    say('Manage Smartcard -> Smartcard Details -> select the card -> Select Service');
    await openServiceMenu(page, card.tokenSerial);
    await shots.take(page, 'select-service-menu');
    say('Renew Certificate (added by the extension, enabled because the card is due)');
    await chooseRenew(page);
    say('confirmation shows the certificates and their expiry -> Continue');
    const { probe, pinWindow } = await continueToPasscode(page, () => shots.take(page, 'confirmation'));
    say('the user types their passcode into the extension\'s own window (the page never sees it)');
    await shots.take(pinWindow, 'passcode-window');
    await typePasscode(pinWindow, PASSCODE);
    say(CARD === 'piv'
      ? 'the service authenticated the card (its witness went there before the passcode was asked); new keys are made on the card, the service checks the card\'s answer and issues, certificates are installed...'
      : 'new keys are made on the card, requests go to the CA, certificates are installed...');
    // The done view (its Close button), not a step on the way whose text happens to match.
    await probe.waitFor('button[data-action="dismiss"]', { timeout: 90000 });
    await shots.take(page, 'done');
    say(`done: ${await dialogText(probe)}`);
    console.log(`\nAfter:\n${cardTable(bed)}`);
    say(`screenshots in ${shots.dir}`);
  } finally {
    await browser?.close();
    removePolicy();
    await bed.stop();
  }
}

main().catch((error) => {
  console.error(`demo failed: ${error.stack ?? error}`);
  process.exit(1);
});
