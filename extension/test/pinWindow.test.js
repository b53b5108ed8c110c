import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinWindow } from '../src/background/pinWindow.js';
import { pinReveal } from '../src/background/actions/pinReveal.js';
import { flush } from '../testing/timers.js';

function setup() {
  const calls = [];
  const windows = {
    create: async (opts) => {
      calls.push(['create', opts]);
      return { id: 7 };
    },
    update: async (id, props) => calls.push(['update', id, props]),
    remove: async (id) => calls.push(['remove', id]),
  };
  const pw = new PinWindow({ windows, pageUrl: 'chrome-extension://x/src/ui/pin.html' });
  return { pw, calls };
}

test('pinWindow_everyAsk_bringsTheWindowToTheFrontWithFocus', async () => {
  const { pw, calls } = setup();
  await pw.open({ type: 'pin.show' });
  assert.equal(calls[0][0], 'create');
  assert.equal(calls[0][1].focused, true);
  const posted = [];
  pw.attach({ postMessage: (m) => posted.push(m), disconnect() {} }, { tab: { windowId: 7 } });
  pw.show({ type: 'pin.checking' });
  await flush();
  assert.equal(calls.filter((c) => c[0] === 'update').length, 0, 'checking does not steal focus');
  pw.show({ type: 'pin.show', error: { code: 'PIN_INCORRECT' } });
  await flush();
  assert.deepEqual(calls.at(-1), ['update', 7, { focused: true, drawAttention: true }], 'a retry re-focuses the window');
  assert.equal(posted.at(-1).type, 'pin.show');
});

test('pinReveal_onlyForTheOwnerWhileThePasscodeIsAwaited', async () => {
  const { pw, calls } = setup();
  await pw.open({ type: 'pin.show' });
  const cases = [
    [{ owner: 't1', phase: 'awaitingPin' }, 't1', true],
    [{ owner: 't1', phase: 'awaitingPin' }, 't2', false],
    [{ owner: 't1', phase: 'requesting' }, 't1', false],
  ];
  for (const [renewal, tabKey, want] of cases) {
    const before = calls.length;
    assert.equal(pinReveal({ renewal, pinWindow: pw }, {}, { tabKey }), want);
    await flush();
    assert.equal(calls.length - before, want ? 1 : 0);
  }
});
