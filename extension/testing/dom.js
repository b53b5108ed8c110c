// jsdom documents for the content-script and passcode-window tests.
import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';

// The content scripts are classic scripts that hang their API on globalThis.cisRenew.
import '../src/shared/errors.js';
import '../src/shared/view.js';
import '../src/est/client.js';
import '../src/est/cardAdmin.js';
import '../src/content/adapter.js';
import '../src/content/render.js';
import '../src/content/placement.js';

export const cisRenew = globalThis.cisRenew;

export function domFrom(html, url = 'http://127.0.0.1:8080/manage-smartcard') {
  const dom = new JSDOM(html, { url, pretendToBeVisual: true });
  return { dom, doc: dom.window.document, win: dom.window };
}

export function fixture(name) {
  return readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8');
}

/** A click/keydown the test marks as a user's (jsdom events are untrusted). */
export function userEvent(win, target, type, init = {}) {
  const Ctor = type.startsWith('key') ? win.KeyboardEvent : win.MouseEvent;
  const ev = new Ctor(type, { bubbles: true, cancelable: true, ...init });
  Object.defineProperty(ev, 'userMade', { value: true });
  target.dispatchEvent(ev);
  return ev;
}

/** The trusted-event check the tests inject: real isTrusted, or marked by userEvent(). */
export const trustedForTests = (e) => e.isTrusted === true || e.userMade === true;

/** Records every shadow root created in `win` (closed ones too), so tests can look inside. */
export function captureShadows(win) {
  const roots = [];
  const original = win.Element.prototype.attachShadow;
  win.Element.prototype.attachShadow = function (init) {
    const root = original.call(this, init);
    roots.push({ host: this, root, mode: init.mode });
    return root;
  };
  return roots;
}
