// Screenshots into one folder per test, numbered in the order taken; each browser's library
// adds how it takes a picture.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './bed.mjs';

export class ShotFiles {
  constructor(dir) {
    this.dir = dir;
    this.n = 0;
    rmSync(dir, { recursive: true, force: true }); // no stale pictures from an earlier run
    mkdirSync(dir, { recursive: true });
  }

  /** The next file, e.g. `03-confirmation.png`. */
  next(name) {
    this.n += 1;
    return path.join(this.dir, `${String(this.n).padStart(2, '0')}-${name}.png`);
  }
}

export function screenshotsDir(name) {
  return path.join(ROOT, 'test-output', 'screenshots', name);
}
