// Cross-component, no browser: the host's own CSRs (built by its CSR code, signed by new keys
// on a SoftHSM card) go to the stand-in's EST endpoint with a sponsor's session, and the
// stand-in's PKCS#7 answers go back into the host, which installs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bed, MANAGED_READER, USER_PIN } from '../lib/bed.mjs';
import { HostProcess } from '../lib/host.mjs';

/** Signs in like a browser (form token + cookies) and returns the cookie header and CSRF token. */
async function sponsorSession(baseUrl) {
  const form = await fetch(`${baseUrl}/signin`);
  const cookies = form.headers.getSetCookie().map((c) => c.split(';')[0]);
  const signinToken = (await form.text()).match(/name="signin_token" value="([^"]+)"/)[1];
  const body = new URLSearchParams({ username: 'sponsor1', password: 'sponsor1-demo', signin_token: signinToken, next: '/home' });
  const signedIn = await fetch(`${baseUrl}/signin`, { method: 'POST', body, redirect: 'manual', headers: { cookie: cookies.join('; ') } });
  assert.equal(signedIn.status, 303);
  const session = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]);
  const cookie = [...cookies, ...session].join('; ');
  const home = await (await fetch(`${baseUrl}/home`, { headers: { cookie } })).text();
  const csrf = home.match(/<meta name="csrf-token" content="([^"]+)"/)[1];
  return { cookie, csrf };
}

function enroll(baseUrl, session, csr) {
  return fetch(`${baseUrl}/.well-known/est/simplereenroll`, {
    method: 'POST',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/pkcs10' },
    body: csr,
  });
}

test('est: the host\'s card-signed CSRs are accepted by the stand-in CA and its answers installed', async () => {
  const bed = await Bed.start();
  let host;
  try {
    const card = await bed.card({ reader: MANAGED_READER, label: 'EST card', user: 'carol', authDays: 30, signDays: 30 });
    host = new HostProcess(bed.hostEnv());
    assert.equal((await host.next()).type, 'hello');
    const { reply: begun, events } = await host.request(1, 'renewBegin', { pin: USER_PIN, cardSerial: card.tokenSerial });
    assert.equal(begun.ok, true, JSON.stringify(begun));
    assert.deepEqual(events.map((e) => e.step), ['login', 'generateKey', 'generateKey', 'buildRequest', 'buildRequest']);
    const { renewalId, requests } = begun.result;
    assert.deepEqual(requests.map((r) => r.role), ['authentication', 'signing']);

    const session = await sponsorSession(bed.standin.url);
    const answers = [];
    for (const request of requests) {
      const response = await enroll(bed.standin.url, session, request.csr);
      assert.equal(response.status, 200, await response.clone().text());
      assert.match(response.headers.get('content-type'), /application\/pkcs7-mime; smime-type=certs-only/);
      answers.push(await response.text());
    }
    // One request per role: the same role again with the same key gets the same answer, and
    // the stand-in audit shows both issued.
    const again = await enroll(bed.standin.url, session, requests[0].csr);
    assert.equal(again.status, 200);
    assert.equal(await again.text(), answers[0]);

    const { reply: completed } = await host.request(2, 'renewComplete', { renewalId, pkcs7: answers });
    assert.equal(completed.ok, true, JSON.stringify(completed));
    const issued = await bed.standin.admin('/admin/api/issued');
    const installed = completed.result.card.certificates.map((c) => c.serial.toLowerCase()).sort();
    assert.deepEqual(installed, issued.map((c) => c.serial.toLowerCase()).sort());
    assert.ok(!installed.some((s) => card.certificates.map((c) => c.serial.toLowerCase()).includes(s)));
    const audit = await bed.standin.admin('/admin/api/audit');
    assert.equal(audit.filter((a) => a.outcome === 'issued' && a.sponsor === 'sponsor1').length >= 2, true);

    // The renewed card is no longer due: the stand-in refuses a further request for it.
    const { reply: notDue } = await host.request(3, 'renewBegin', { pin: USER_PIN, cardSerial: card.tokenSerial });
    assert.equal(notDue.error.code, 'NOT_RENEWABLE');
    assert.equal(notDue.error.reason, 'NOT_DUE');
  } finally {
    await host?.close();
    await bed.stop();
  }
});
