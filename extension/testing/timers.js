// A manual clock for code that takes injected { setTimeout, clearTimeout }.
export class FakeTimers {
  constructor() {
    this.now = 0;
    this._next = 1;
    this._timers = new Map();
    this.setTimeout = this.setTimeout.bind(this);
    this.clearTimeout = this.clearTimeout.bind(this);
  }
  setTimeout(fn, ms = 0) {
    const id = this._next++;
    this._timers.set(id, { fn, at: this.now + ms });
    return id;
  }
  clearTimeout(id) {
    this._timers.delete(id);
  }
  get pending() {
    return this._timers.size;
  }
  /** Runs every timer due within `ms`, in time order. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      let best = null;
      for (const [id, t] of this._timers) if (t.at <= end && (!best || t.at < best[1].at)) best = [id, t];
      if (!best) break;
      this._timers.delete(best[0]);
      this.now = best[1].at;
      best[1].fn();
    }
    this.now = end;
  }
}

/** Lets queued promise callbacks run. */
export async function flush(times = 5) {
  for (let i = 0; i < times; i += 1) await new Promise((r) => setImmediate(r));
}
