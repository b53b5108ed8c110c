// Writes _locales/en/messages.json from tools/messages.src.mjs (Chrome's format: named
// placeholders mapped to $1, $2... in substitution order).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import src from './messages.src.mjs';

export function buildMessages() {
  const out = {};
  for (const [key, [message, names = []]] of Object.entries(src)) {
    const entry = { message };
    if (names.length) {
      entry.placeholders = {};
      names.forEach((n, i) => (entry.placeholders[n] = { content: `$${i + 1}` }));
    }
    out[key] = entry;
  }
  return JSON.stringify(out, null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../_locales/en/messages.json', import.meta.url), buildMessages());
}
