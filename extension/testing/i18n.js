// chrome.i18n.getMessage over _locales/en/messages.json, with Chrome's placeholder rules.
import { readFileSync } from 'node:fs';

export const messages = JSON.parse(readFileSync(new URL('../_locales/en/messages.json', import.meta.url), 'utf8'));

export function getMessage(key, subs = []) {
  const entry = messages[key];
  if (!entry) return '';
  const list = Array.isArray(subs) ? subs : [subs];
  const placeholders = Object.fromEntries(Object.entries(entry.placeholders || {}).map(([k, v]) => [k.toLowerCase(), v.content]));
  return entry.message
    .replace(/\$([A-Za-z0-9_@]+)\$/g, (_, name) => placeholders[name.toLowerCase()] ?? '')
    .replace(/\$(\d)/g, (_, d) => (list[Number(d) - 1] === undefined ? '' : String(list[Number(d) - 1])));
}

/** A strict t(): throws on a missing key, so tests catch typos. */
export function t(key, subs) {
  if (!messages[key]) throw new Error(`missing message ${key}`);
  return getMessage(key, subs);
}
