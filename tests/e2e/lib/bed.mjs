// The real test bed for the browser tests: a private pcscd with two vpcd readers (cis-testbed
// serve), SoftHSM tokens provisioned by the stand-in with certificates from its CA, the stand-in
// dashboard itself, and the host's configuration binding readers to tokens.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
/** The extension's IDs (docs/ids.md): the one place that names them. */
export const IDENTITY = JSON.parse(readFileSync(path.join(ROOT, 'manifests/identity.json'), 'utf8'));
export const BIN = process.env.CIS_BIN_DIR ?? path.join(ROOT, 'target/debug');
/** The host binary: CIS_HOST_BIN (e.g. an installed host) or the workspace build. */
export const HOST_BIN = process.env.CIS_HOST_BIN ?? path.join(BIN, 'cis-renew-host');
export const READERS = ['Virtual PCD 00 00', 'Virtual PCD 00 01'];
export const SPONSOR_READER = 0;
export const MANAGED_READER = 1;
export const USER_PIN = '123456';
/** OpenSC's PKCS#11 module, which drives the virtual SmartCard-HSM over APDUs. */
export const OPENSC_MODULE = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';

const binary = (name) => {
  const file = path.join(BIN, name);
  if (!existsSync(file)) throw new Error(`${file} is missing: run cargo build --workspace --bins first`);
  return file;
};

/** A child process that prints JSON lines; `next()` reads the next one. */
class LineChild {
  constructor(command, args, options = {}) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.stderr = '';
    this.child.stderr.on('data', (chunk) => { this.stderr = (this.stderr + chunk).slice(-20000); });
    this.lines = [];
    this.waiters = [];
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(line); else this.lines.push(line);
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  next(timeoutMs = 20000) {
    if (this.lines.length) return Promise.resolve(JSON.parse(this.lines.shift()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line from ${this.child.spawnfile} in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push((line) => { clearTimeout(timer); resolve(JSON.parse(line)); });
    });
  }

  send(line) {
    this.child.stdin.write(`${line}\n`);
  }

  async stop(signal = 'SIGTERM') {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** pcscd with two virtual readers in its own namespace. */
export class Readers {
  static async start(dir) {
    const readers = new Readers();
    readers.proc = new LineChild(binary('cis-testbed'), ['serve', '--state', dir]);
    const ready = await readers.proc.next();
    if (!ready.ready) throw new Error(`cis-testbed serve: ${JSON.stringify(ready)}`);
    readers.socket = ready.socket;
    readers.openscConf = ready.openscConf;
    return readers;
  }

  async command(line) {
    this.proc.send(line);
    const answer = await this.proc.next();
    if (!answer.ok) throw new Error(`cis-testbed ${line}: ${answer.error}`);
    return answer;
  }

  insert(reader) { return this.command(`insert ${reader}`); }
  remove(reader) { return this.command(`remove ${reader}`); }

  async stop() {
    try { this.proc.send('quit'); } catch { /* already gone */ }
    const timer = setTimeout(() => this.proc.child.kill('SIGTERM'), 5000);
    await this.proc.exited;
    clearTimeout(timer);
  }
}

/** The stand-in CIS dashboard and EST CA. */
export class Standin {
  static async start(dataDir, { port = 0, validityDays, serviceMenu, csrKeyAlgorithm } = {}) {
    const standin = new Standin();
    const args = ['serve', '--data', dataDir, '--port', String(port)];
    if (validityDays) args.push('--validity-days', String(validityDays));
    if (csrKeyAlgorithm) args.push('--csr-key-algorithm', csrKeyAlgorithm); // what EST csrattrs asks for
    if (serviceMenu) args.push('--service-menu', serviceMenu); // menu | overlay | select | icon
    standin.proc = new LineChild(binary('cis-standin'), args, { env: { ...process.env, CIS_TESTBED_BIN: binary('cis-testbed') } });
    standin.ready = await standin.proc.next();
    standin.url = standin.ready.url;
    standin.dataDir = dataDir;
    return standin;
  }

  async admin(apiPath) {
    const response = await fetch(`${this.url}${apiPath}`, { headers: { authorization: `Bearer ${this.ready.adminToken}` } });
    if (!response.ok) throw new Error(`${apiPath}: ${response.status}`);
    return response.json();
  }

  /** Makes a SoftHSM token for `user` with certificates from this CA, registered as their card. */
  provision({ softhsmConf, label, user = 'alice', authDays = 45, signDays = 45, pin = USER_PIN }) {
    const out = execFileSync(binary('cis-standin'), [
      'provision', '--data', this.dataDir, '--softhsm-conf', softhsmConf, '--label', label, '--user', user,
      '--auth-days', String(authDays), '--sign-days', String(signDays), '--pin', pin,
    ], { env: { ...process.env, CIS_TESTBED_BIN: binary('cis-testbed') } });
    return JSON.parse(out.toString());
  }

  /**
   * Makes a PIV test card for `user` in `cardDir` (cis-testbed piv provision through the
   * stand-in: management key derived from its master secret, certificates from its CA) and
   * registers it as their card.
   */
  provisionPiv({ cardDir, user = 'alice', authDays = 45, signDays = 45, pin = USER_PIN, mgmtAlg = 'aes256' }) {
    const out = execFileSync(binary('cis-standin'), [
      'provision', '--data', this.dataDir, '--piv-card', cardDir, '--user', user, '--pin', pin,
      '--mgmt-alg', mgmtAlg, '--auth-days', String(authDays), '--sign-days', String(signDays),
    ], { env: { ...process.env, CIS_TESTBED_BIN: binary('cis-testbed') } });
    return JSON.parse(out.toString());
  }

  /**
   * Makes a virtual SmartCard-HSM card file for `user` (cis-testbed schsm provision, through
   * OpenSC, certificates from this CA) and registers it under the serial OpenSC reports.
   */
  provisionSchsm({ cardFile, user = 'alice', authDays = 45, signDays = 45, pin = USER_PIN, alg = 'p384' }) {
    const out = execFileSync(binary('cis-standin'), [
      'provision', '--data', this.dataDir, '--schsm-card', cardFile, '--user', user, '--pin', pin,
      '--alg', alg, '--auth-days', String(authDays), '--sign-days', String(signDays),
    ], { env: { ...process.env, CIS_TESTBED_BIN: binary('cis-testbed') } });
    return JSON.parse(out.toString());
  }

  stop() { return this.proc.stop(); }
}

/** Everything one test needs, in one temp dir. */
export class Bed {
  /** `opensc: true`: the host runs on OpenSC (SmartCard-HSM cards, no slotMap). */
  static async start({ validityDays, serviceMenu, opensc = false, csrKeyAlgorithm } = {}) {
    const bed = new Bed();
    bed.opensc = opensc;
    bed.dir = mkdtempSync(path.join(tmpdir(), 'cis-renew-e2e-'));
    bed.softhsmConf = execFileSync(binary('cis-testbed'), ['softhsm', 'new', '--dir', path.join(bed.dir, 'softhsm')]).toString().trim();
    bed.readers = await Readers.start(path.join(bed.dir, 'pcscd'));
    bed.standin = await Standin.start(path.join(bed.dir, 'standin'), { validityDays, serviceMenu, csrKeyAlgorithm });
    bed.slotMap = {};
    bed.hostLog = path.join(bed.dir, 'host.log');
    bed.hostConfig = path.join(bed.dir, 'host.json');
    bed.writeHostConfig();
    return bed;
  }

  /** Provisions a card for `user`, binds it to `reader` and inserts it. */
  async card({ reader = MANAGED_READER, label, user = 'alice', authDays = 45, signDays = 45, pin = USER_PIN, insert = true }) {
    const card = this.standin.provision({ softhsmConf: this.softhsmConf, label, user, authDays, signDays, pin });
    this.slotMap[READERS[reader]] = { tokenLabel: label };
    this.writeHostConfig();
    if (insert) await this.readers.insert(reader);
    return card;
  }

  /** Provisions a PIV card for `user` (see Standin.provisionPiv) and inserts it into `reader`. */
  async pivCard({ reader = MANAGED_READER, user = 'alice', authDays = 45, signDays = 45, pin = USER_PIN, mgmtAlg } = {}) {
    const cardDir = path.join(this.dir, `piv-${reader}`);
    const card = this.standin.provisionPiv({ cardDir, user, authDays, signDays, pin, mgmtAlg });
    await this.readers.command(`insert ${reader} --card ${cardDir}`);
    return card;
  }

  /**
   * Provisions a virtual SmartCard-HSM for `user` (see Standin.provisionSchsm) and inserts it
   * into `reader` (its `cardFile` is where the card keeps its state); `faults` are serve's insert options (e.g. `--keygen-delay-ms 2000`);
   * `name` names the card file (a second card for the same reader); `insert: false` only provisions it.
   */
  async schsmCard({ reader = MANAGED_READER, user = 'alice', authDays = 45, signDays = 45, pin = USER_PIN, alg, faults = '', name = `schsm-${reader}`, insert = true } = {}) {
    const cardFile = path.join(this.dir, `${name}.json`);
    const card = this.standin.provisionSchsm({ cardFile, user, authDays, signDays, pin, alg });
    if (insert) await this.insertSchsm(card, { reader, faults });
    return card;
  }

  /** Puts a provisioned SmartCard-HSM (from schsmCard) into the empty `reader`. */
  async insertSchsm(card, { reader = MANAGED_READER, faults = '' } = {}) {
    await this.readers.command(`insert ${reader} --card ${card.cardFile} ${faults}`.trim());
  }

  /** What OpenSC shows on the SmartCard-HSM in `reader` after a login, each pair signed and verified. */
  inspectSchsm(pin = USER_PIN, reader = MANAGED_READER) {
    const out = execFileSync(binary('cis-testbed'), ['schsm', 'p11-inspect', '--reader', READERS[reader], '--pin', pin],
      { env: { ...process.env, ...this.hostEnv() } });
    return JSON.parse(out.toString());
  }

  writeHostConfig() {
    writeFileSync(this.hostConfig, JSON.stringify({
      // On OpenSC the host finds the managed reader's slot by its description, as in production.
      ...(this.opensc ? { pkcs11Module: OPENSC_MODULE } : { pkcs11Module: '/usr/lib/softhsm/libsofthsm2.so', slotMap: this.slotMap }),
      logFile: this.hostLog,
      logLevel: 'debug',
      // Renewals need anchors (fail closed): the stand-in's EST CA issues the certificates.
      trustAnchors: [this.standin.ready.caCert],
      // A test's own host settings (e.g. allowedKeyAlgorithms), set before writeHostConfig().
      ...(this.hostSettings ?? {}),
    }, null, 2), { mode: 0o644 });
  }

  /** The environment the browser (and so the host it starts) runs with. */
  hostEnv() {
    return {
      PCSCLITE_CSOCK_NAME: this.readers.socket,
      SOFTHSM2_CONF: this.softhsmConf,
      ...(this.opensc ? { OPENSC_CONF: this.readers.openscConf } : {}),
      CIS_RENEW_CONFIG: this.hostConfig,
    };
  }

  /** The host's own view of the card, through its CLI (same handlers as the protocol). */
  hostStatus() {
    const out = execFileSync(HOST_BIN, ['status', '--json'], { env: { ...process.env, ...this.hostEnv() } });
    return JSON.parse(out.toString());
  }

  /** Objects on a token and whether each pair signs and verifies (cis-testbed inspect). */
  inspect(label, pin = USER_PIN) {
    const out = execFileSync(binary('cis-testbed'), ['inspect', '--softhsm-conf', this.softhsmConf, '--label', label, '--pin', pin]);
    return JSON.parse(out.toString());
  }

  async stop() {
    await Promise.allSettled([this.readers?.stop(), this.standin?.stop()]);
    if (!process.env.CIS_E2E_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}

export function ensureDir(dir) {
  mkdirSync(dir, { recursive: true });
  return dir;
}
