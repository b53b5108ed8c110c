// Test builds of the extension, made in a temp folder for one test run (never shipped):
// - `openShadow`: the dialogs' shadow roots are open, so axe-core (which cannot enter closed
//   roots) checks them and the test can read where focus is inside them;
// - `pseudo`: every message lengthened by 40% and accented ("[Ŕéñéŵ Çéŕţîƒîçåţé ·····]"), so
//   clipping and strings that bypass _locales show up.
// Same manifest key, so the same extension ID and the same host registration.
import { cpSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXTENSION_DIR } from './browser.mjs';

const ACCENTS = { a: 'å', b: 'ƀ', c: 'ç', d: 'ð', e: 'é', f: 'ƒ', g: 'ĝ', h: 'ĥ', i: 'î', j: 'ĵ', k: 'ķ', l: 'ļ', m: 'ɱ', n: 'ñ', o: 'ö', p: 'þ', r: 'ŕ', s: 'š', t: 'ţ', u: 'û', w: 'ŵ', y: 'ý', z: 'ž', A: 'Å', C: 'Ç', E: 'É', I: 'Î', N: 'Ñ', O: 'Ö', R: 'Ŕ', S: 'Š', T: 'Ţ', U: 'Û' };

/** One message in the pseudo-locale: accented, 40% longer, bracketed; $PLACEHOLDERS$ kept. */
export function pseudoMessage(text) {
  const parts = text.split(/(\$[A-Za-z0-9_]+\$)/);
  const accented = parts.map((p) => (p.startsWith('$') && p.endsWith('$') ? p : [...p].map((c) => ACCENTS[c] ?? c).join(''))).join('');
  const plain = parts.filter((p) => !(p.startsWith('$') && p.endsWith('$'))).join('');
  const pad = Math.max(1, Math.ceil(plain.length * 0.4));
  return `[${accented} ${'·'.repeat(pad)}]`;
}

/** Makes a test build; returns its folder and a cleanup function. */
export function makeTestBuild({ openShadow = true, pseudo = false, armDelayMs } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cis-renew-ext-'));
  cpSync(EXTENSION_DIR, dir, {
    recursive: true,
    filter: (src) => !/^(node_modules|test|testing|tools)([\\/]|$)/.test(path.relative(EXTENSION_DIR, src)),
  });
  if (openShadow) {
    const file = path.join(dir, 'src/content/render.js');
    const src = readFileSync(file, 'utf8');
    let patched = src.replace("SHADOW_MODE: 'closed'", "SHADOW_MODE: 'open'");
    if (patched === src) throw new Error('render.js no longer declares SHADOW_MODE');
    // A longer inert time for Continue, so a test can press it inside that time for sure.
    if (armDelayMs) patched = patched.replace('const ARM_DELAY_MS = 500;', `const ARM_DELAY_MS = ${Number(armDelayMs)};`);
    writeFileSync(file, patched);
  }
  if (pseudo) {
    const file = path.join(dir, '_locales/en/messages.json');
    const messages = JSON.parse(readFileSync(file, 'utf8'));
    for (const [key, entry] of Object.entries(messages)) {
      if (key === 'extName' || key === 'extDescription') continue;
      entry.message = pseudoMessage(entry.message);
    }
    writeFileSync(file, JSON.stringify(messages, null, 2));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
