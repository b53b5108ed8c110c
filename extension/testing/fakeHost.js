// A fake host for the renewal state machine: every request waits until the test answers it.
export function fakeHost() {
  const calls = [];
  const host = {
    calls,
    request(command, params, opts = {}) {
      let resolve;
      let reject;
      const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      calls.push({ command, params: params === undefined ? undefined : JSON.parse(JSON.stringify(params)), onEvent: opts.onEvent, resolve, reject, settled: false });
      return promise;
    },
    /** The last pending call for `command`. */
    pending(command) {
      const c = [...calls].reverse().find((x) => x.command === command && !x.settled);
      if (!c) throw new Error(`no pending ${command}; calls: ${calls.map((x) => x.command).join(',')}`);
      return c;
    },
    reply(command, result) {
      const c = host.pending(command);
      c.settled = true;
      c.resolve(result);
    },
    fail(command, error) {
      const c = host.pending(command);
      c.settled = true;
      c.reject(error);
    },
    event(command, ev) {
      host.pending(command).onEvent({ id: 1, ...ev });
    },
    commands() {
      return calls.map((c) => c.command);
    },
  };
  return host;
}

export function dueStatus({ serial = 'S1', pinPad = false, renewable = true, reason = null } = {}) {
  return {
    readers: [
      { name: 'Virtual PCD 00 00', cardPresent: true, managed: false },
      { name: 'Virtual PCD 00 01', cardPresent: true, managed: true },
    ],
    managedReader: 'Virtual PCD 00 01',
    reason: null,
    card: {
      reader: 'Virtual PCD 00 01',
      atr: '3B95138101807 3FF01000B',
      token: { label: 'USER CARD', serial, manufacturer: 'SoftHSM', model: 'v2' },
      pin: 'ok',
      pinPad,
      pinLength: { min: 4, max: 8 },
      certificates: [
        { role: 'authentication', subject: 'CN=Alex Smith', issuer: 'CN=Test CA', serial: '01', notBefore: '2024-01-01T00:00:00Z', notAfter: '2026-01-01T00:00:00Z', daysLeft: 45, renewable: true },
        { role: 'signing', subject: 'CN=Alex Smith', issuer: 'CN=Test CA', serial: '02', notBefore: '2024-01-01T00:00:00Z', notAfter: '2026-01-01T00:00:00Z', daysLeft: 45, renewable: true },
      ],
      renewable,
      reason,
      renewableFrom: null,
    },
  };
}

export const BEGIN_RESULT = {
  renewalId: 'ren-1',
  requests: [
    { role: 'authentication', subject: 'CN=Alex Smith', csr: 'MIIBAQ==' },
    { role: 'signing', subject: 'CN=Alex Smith', csr: 'MIIBAg==' },
  ],
};
