// The host started as a browser starts it, spoken to in frames from Node: for cross-component
// tests that need no browser.
import { spawn } from 'node:child_process';
import { HOST_BIN, IDENTITY } from './bed.mjs';

export const ORIGIN = `chrome-extension://${IDENTITY.chromiumId}/`;

export class HostProcess {
  constructor(env) {
    this.child = spawn(HOST_BIN, [ORIGIN], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    this.buffer = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.child.stdout.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 4) {
        const length = this.buffer.readUInt32LE(0);
        if (this.buffer.length < 4 + length) break;
        const frame = JSON.parse(this.buffer.subarray(4, 4 + length).toString());
        this.buffer = this.buffer.subarray(4 + length);
        const waiter = this.waiters.shift();
        if (waiter) waiter(frame); else this.frames.push(frame);
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
  }

  next(timeoutMs = 20000) {
    if (this.frames.length) return Promise.resolve(this.frames.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame from the host')), timeoutMs);
      this.waiters.push((frame) => { clearTimeout(timer); resolve(frame); });
    });
  }

  send(message) {
    const payload = Buffer.from(JSON.stringify(message));
    const header = Buffer.alloc(4);
    header.writeUInt32LE(payload.length);
    this.child.stdin.write(Buffer.concat([header, payload]));
  }

  /** Sends a request and returns its reply, collecting events on the way. */
  async request(id, command, params = {}) {
    this.send({ id, command, params });
    const events = [];
    for (;;) {
      const frame = await this.next();
      if (frame.event) { events.push(frame); continue; }
      return { reply: frame, events };
    }
  }

  async close() {
    this.child.stdin.end();
    await this.exited;
  }
}
