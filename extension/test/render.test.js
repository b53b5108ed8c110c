import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cisRenew, domFrom, fixture, userEvent, trustedForTests, captureShadows } from '../testing/dom.js';
import { t } from '../testing/i18n.js';
import { dueStatus } from '../testing/fakeHost.js';
import { FakeTimers } from '../testing/timers.js';

const { render, adapter, view } = cisRenew;
const fmt = (iso) => view.formatDate(iso, 'UTC');

function setup(file = 'standin-manage-smartcard.html') {
  const { doc, win } = domFrom(fixture(file));
  const shadows = captureShadows(win);
  const calls = [];
  const timers = new FakeTimers();
  const ui = render.createUi(doc, {
    t,
    fmt,
    timers,
    trusted: trustedForTests,
    onRenew: () => calls.push('renew'),
    onAction: (a) => calls.push(a),
  });
  return { doc, win, ui, calls, shadows, timers };
}

const DISABLED = { enabled: false, reason: { key: 'reasonNotDueUntil', subs: ['3 March 2026'] } };
const ENABLED = { enabled: true, reason: null };

test('menu_attach_insertsOneItemInThePagesMenu', () => {
  const { doc, ui } = setup();
  const menu = adapter.findMenu(doc);
  assert.equal(ui.attachMenu(menu), true);
  assert.equal(ui.attachMenu(adapter.findMenu(doc)), false, 'a second attach is a no-op');
  const items = doc.querySelectorAll('#service-menu [role="menuitem"]');
  assert.deepEqual([...items].map((i) => i.textContent), ['Unlock Smartcard', 'Cancel Smartcard', 'View Certificates', 'Renew Certificate']);
  assert.equal(doc.querySelectorAll('[data-cis-renew="menu-item"]').length, 1);
});

test('menu_enabled_clearsReason', () => {
  const { doc, ui } = setup();
  ui.attachMenu(adapter.findMenu(doc));
  ui.setMenu(DISABLED);
  ui.setMenu(ENABLED);
  const control = ui.menuControl;
  assert.equal(control.hasAttribute('aria-disabled'), false);
  assert.equal(control.hasAttribute('title'), false);
  assert.equal(control.hasAttribute('aria-describedby'), false);
});

test('menu_userClick_doesNotReachThePage', () => {
  const { doc, ui, win } = setup();
  ui.attachMenu(adapter.findMenu(doc));
  ui.setMenu(ENABLED);
  let pageSaw = false;
  doc.getElementById('service-menu').addEventListener('click', () => (pageSaw = true));
  const ev = userEvent(win, ui.menuControl, 'click');
  assert.equal(ev.defaultPrevented, true);
  assert.equal(pageSaw, false);
});

test('panel_noMenu_showsControlInClosedShadowRoot', () => {
  const { doc, ui, shadows, calls, win } = setup('no-menu-manage-smartcard.html');
  ui.showPanel(adapter.panelAnchor(doc));
  ui.setMenu(DISABLED);
  assert.equal(shadows.length, 1);
  assert.equal(shadows[0].mode, 'closed');
  assert.equal(shadows[0].host.shadowRoot, null, 'the page cannot reach in');
  assert.equal(doc.querySelector('h1').nextElementSibling, shadows[0].host, 'after the heading');
  const button = shadows[0].root.querySelector('button');
  assert.equal(button.textContent, 'Renew Certificate');
  assert.equal(button.getAttribute('aria-disabled'), 'true');
  const reason = shadows[0].root.getElementById(button.getAttribute('aria-describedby'));
  assert.equal(reason.textContent, 'Not due until 3 March 2026.');
  userEvent(win, button, 'click');
  assert.deepEqual(calls, []);
  ui.setMenu(ENABLED);
  userEvent(win, button, 'click');
  assert.deepEqual(calls, ['renew']);
});

function dialogRoot(shadows) {
  const d = shadows.filter((s) => s.host.getAttribute('data-cis-renew') === 'dialog').at(-1);
  return d && d.host.isConnected ? d.root : null;
}

test('page_neverGetsAPasscodeInput', () => {
  const { doc, ui, shadows } = setup();
  ui.attachMenu(adapter.findMenu(doc));
  ui.setDialog({ kind: 'confirm', card: dueStatus().card });
  ui.setDialog({ kind: 'progress', renewal: { phase: 'awaitingPin', step: null, canCancel: true, error: { code: 'PIN_INCORRECT', triesLeft: 2 } } });
  const roots = [doc, ...shadows.map((s) => s.root)];
  for (const r of roots) assert.equal(r.querySelectorAll('input').length, doc === r ? doc.querySelectorAll('input').length : 0);
  assert.equal(doc.querySelectorAll('input[type="password"]').length, 0);
  const note = dialogRoot(shadows).querySelector('p.note');
  assert.equal(note.textContent, 'Wrong passcode. 2 tries left before the card locks.');
});

test('menu_disabled_reasonInDescribedTooltip_noTitle_shownOnFocusAndHover', () => {
  const { doc, ui, win, timers } = setup();
  ui.attachMenu(adapter.findMenu(doc));
  ui.setMenu(DISABLED);
  const control = ui.menuControl;
  assert.equal(control.getAttribute('aria-disabled'), 'true');
  assert.equal(control.hasAttribute('title'), false, 'a title would repeat the tooltip');
  const tip = doc.getElementById(control.getAttribute('aria-describedby'));
  assert.equal(tip.getAttribute('role'), 'tooltip');
  assert.equal(tip.textContent, 'Not due until 3 March 2026.');
  assert.equal(control.contains(tip), false, 'the tooltip is not part of the item (its accessible name)');
  assert.equal(control.textContent, 'Renew Certificate');
  assert.equal(tip.style.display, 'none');
  control.dispatchEvent(new win.FocusEvent('focus'));
  assert.equal(tip.style.display, 'block');
  control.dispatchEvent(new win.FocusEvent('blur'));
  assert.equal(tip.style.display, 'none');
  // WCAG 1.4.13 hoverable: the pointer can move from the item onto the tooltip.
  control.dispatchEvent(new win.MouseEvent('mouseenter'));
  control.dispatchEvent(new win.MouseEvent('mouseleave'));
  tip.dispatchEvent(new win.MouseEvent('mouseenter'));
  timers.advance(1000);
  assert.equal(tip.style.display, 'block', 'stays while hovered');
  assert.notEqual(tip.style.pointerEvents, 'none');
  tip.dispatchEvent(new win.MouseEvent('mouseleave'));
  timers.advance(1000);
  assert.equal(tip.style.display, 'none', 'goes once the pointer left both');
});

test('menu_tooltip_escapeDismissesItWithoutReachingThePageMenu', () => {
  const { doc, ui, win } = setup();
  ui.attachMenu(adapter.findMenu(doc));
  ui.setMenu(DISABLED);
  const control = ui.menuControl;
  let pageSawEscape = 0;
  doc.getElementById('service-menu').addEventListener('keydown', (e) => e.key === 'Escape' && (pageSawEscape += 1));
  // The site adapter's menu keys listen on the window, capture phase, registered later.
  win.addEventListener('keydown', (e) => e.key === 'Escape' && (pageSawEscape += 1), true);
  control.dispatchEvent(new win.FocusEvent('focus'));
  const tip = doc.getElementById(control.getAttribute('aria-describedby'));
  userEvent(win, control, 'keydown', { key: 'Escape' });
  assert.equal(tip.style.display, 'none');
  assert.equal(pageSawEscape, 0, 'the first Escape only dismisses the tooltip');
  userEvent(win, control, 'keydown', { key: 'Escape' });
  assert.equal(pageSawEscape, 2, 'the next Escape is the page menu’s (and the adapter’s)');
});

test('placeTip_besideTheMenu_neverOverAnotherItem', () => {
  const view = { innerWidth: 1280, innerHeight: 800 };
  const rect = (left, top, width, height) => ({ left, top, width, height, right: left + width, bottom: top + height });
  const tip = { width: 300, height: 60 };
  const list = rect(100, 200, 250, 160);
  const item = rect(100, 320, 250, 40);
  const cases = [
    { name: 'room on the right', list, view, side: 'right', left: 356 },
    { name: 'menu at the right edge', list: rect(950, 200, 250, 160), view, side: 'left', left: 644 },
    { name: 'narrow window (200% zoom)', list: rect(0, 200, 640, 160), view: { innerWidth: 640, innerHeight: 800 }, side: 'below' },
    { name: 'narrow and short window', list: rect(0, 200, 640, 160), view: { innerWidth: 640, innerHeight: 400 }, side: 'above' },
  ];
  for (const c of cases) {
    const pos = render.placeTip(tip, item, c.list, c.view);
    assert.equal(pos.side, c.side, c.name);
    if (c.left !== undefined) assert.equal(pos.left, c.left, c.name);
    const box = rect(pos.left, pos.top, tip.width, tip.height);
    const overlaps = box.left < c.list.right && box.right > c.list.left && box.top < c.list.bottom && box.bottom > c.list.top;
    assert.equal(overlaps, false, `${c.name}: covers the menu`);
    assert.ok(box.left >= 0 && box.right <= c.view.innerWidth && box.top >= 0 && box.bottom <= c.view.innerHeight, `${c.name}: inside the window`);
  }
});

test('menu_activation_trustedClickOrKeyRelease_neverAutoRepeat', () => {
  const press = (key, { repeat = false } = {}) => (c, w) => {
    userEvent(w, c, 'keydown', { key, repeat });
    userEvent(w, c, 'keyup', { key });
  };
  const cases = [
    { state: ENABLED, fire: (c) => c.click(), want: [], name: 'page script click() is ignored' },
    { state: ENABLED, fire: (c, w) => c.dispatchEvent(new w.MouseEvent('click', { bubbles: true })), want: [], name: 'synthetic event ignored' },
    { state: ENABLED, fire: (c, w) => userEvent(w, c, 'click'), want: ['renew'], name: 'user click' },
    { state: ENABLED, fire: press('Enter'), want: ['renew'], name: 'Enter pressed and released' },
    { state: ENABLED, fire: press(' '), want: ['renew'], name: 'Space pressed and released' },
    { state: ENABLED, fire: (c, w) => userEvent(w, c, 'keydown', { key: 'Enter' }), want: [], name: 'keydown alone does nothing' },
    { state: ENABLED, fire: press('Enter', { repeat: true }), want: [], name: 'auto-repeat of a key held since elsewhere' },
    { state: ENABLED, fire: (c, w) => userEvent(w, c, 'keyup', { key: 'Enter' }), want: [], name: 'a release without a press here' },
    { state: ENABLED, fire: press('ArrowDown'), want: [], name: 'arrows stay with the page menu' },
    { state: DISABLED, fire: (c, w) => userEvent(w, c, 'click'), want: [], name: 'disabled click' },
  ];
  for (const c of cases) {
    const { doc, ui, calls, win } = setup();
    ui.attachMenu(adapter.findMenu(doc));
    ui.setMenu(c.state);
    c.fire(ui.menuControl, win);
    assert.deepEqual(calls, c.want, c.name);
  }
});

test('dialog_confirm_headingFocused_continueInertForHalfASecond', () => {
  const { ui, shadows, calls, win, timers } = setup();
  const card = dueStatus().card;
  ui.setDialog({ kind: 'confirm', card });
  const root = dialogRoot(shadows);
  const dlg = root.querySelector('dialog');
  assert.equal(dlg.hasAttribute('open'), true);
  const heading = root.getElementById(dlg.getAttribute('aria-labelledby'));
  assert.equal(heading.textContent, 'Renew the certificates on this card?');
  assert.equal(root.activeElement, heading, 'focus starts on the heading, not on Continue');
  const rows = [...root.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent));
  assert.deepEqual(rows, [
    ['Authentication', 'Alex Smith', '1 January 2026 (45 days left)'],
    ['Signing', 'Alex Smith', '1 January 2026 (45 days left)'],
  ]);
  assert.match(dlg.textContent, /Card holder: Alex Smith/);
  assert.match(dlg.textContent, /Card serial number: S1/);
  assert.doesNotMatch(dlg.textContent, /USER CARD|Virtual PCD|CN=/, 'no token label, reader name or raw DN');
  const cont = root.querySelector('button[data-action="continue"]');
  assert.equal(cont.getAttribute('aria-disabled'), 'true');
  userEvent(win, cont, 'click');
  timers.advance(499);
  userEvent(win, cont, 'click');
  assert.deepEqual(calls, [], 'Continue does nothing before it has been shown for half a second');
  timers.advance(1);
  assert.equal(cont.hasAttribute('aria-disabled'), false);
  cont.click();
  assert.deepEqual(calls, [], 'untrusted click ignored');
  userEvent(win, cont, 'keydown', { key: 'Enter', repeat: true });
  userEvent(win, cont, 'keyup', { key: 'Enter' });
  assert.deepEqual(calls, [], 'a held Enter does not run on into Continue');
  userEvent(win, cont, 'click');
  userEvent(win, dlg, 'keydown', { key: 'Escape' });
  assert.deepEqual(calls, ['continue', 'escape']);
});

test('dialog_progress_checklistLiveTextAndCancel', () => {
  const { ui, shadows } = setup();
  const base = { pinPad: false, canCancel: true, cancelling: false, error: null, certificates: [], result: null };
  const cases = [
    { r: { ...base, phase: 'starting', step: null, canCancel: false }, live: 'Opening the passcode window…', states: ['todo', 'todo', 'todo', 'todo', 'todo'], cancel: 'true', showPin: false },
    { r: { ...base, phase: 'awaitingPin', step: null }, live: t('dlgPinWaiting'), states: ['todo', 'todo', 'todo', 'todo', 'todo'], cancel: 'false', showPin: true },
    { r: { ...base, phase: 'beginning', step: { name: 'login' }, pinPad: true }, live: 'Enter the passcode on the card reader’s keypad.', states: ['current', 'todo', 'todo', 'todo', 'todo'], cancel: 'false', showPin: false },
    { r: { ...base, phase: 'beginning', step: { name: 'generateKey', n: 2, of: 2 } }, live: 'Making keys (2 of 2)…', states: ['done', 'current', 'todo', 'todo', 'todo'], cancel: 'false', showPin: false },
    { r: { ...base, phase: 'requesting', step: { name: 'request', n: 1, of: 2 } }, live: 'Requesting certificates (1 of 2)…', states: ['done', 'done', 'current', 'todo', 'todo'], cancel: 'false', showPin: false },
    { r: { ...base, phase: 'requesting', step: { name: 'request', n: 1, of: 2 }, canCancel: false, cancelling: true }, live: 'Cancelling…', states: ['done', 'done', 'current', 'todo', 'todo'], cancel: 'true', showPin: false },
    { r: { ...base, phase: 'completing', step: { name: 'install', n: 1, of: 2 }, canCancel: false }, live: 'Installing (1 of 2)…', states: ['done', 'done', 'done', 'current', 'todo'], cancel: 'true', showPin: false },
  ];
  let live0 = null;
  for (const c of cases) {
    ui.setDialog({ kind: 'progress', renewal: c.r });
    const root = dialogRoot(shadows);
    const live = root.querySelector('[aria-live="polite"]');
    live0 = live0 || live;
    assert.equal(live, live0, 'one live region for the whole renewal');
    assert.equal(live.textContent, c.live, c.live);
    assert.deepEqual([...root.querySelectorAll('ol.steps li')].map((li) => li.getAttribute('data-state')), c.states, c.live);
    for (const glyph of root.querySelectorAll('ol.steps .glyph')) assert.equal(glyph.getAttribute('aria-hidden'), 'true');
    const cancel = root.querySelector('button[data-action="cancel"]');
    assert.equal(cancel.getAttribute('aria-disabled'), c.cancel, c.live);
    assert.equal(cancel.hidden, false, `${c.live}: Cancel is never hidden`);
    assert.equal(root.querySelector('button[data-action="showPin"]').hidden, !c.showPin, c.live);
  }
  assert.equal(shadows.filter((s) => s.host.getAttribute('data-cis-renew') === 'dialog').length, 1, 'progress updates in place');
});

test('dialog_confirmToDone_oneDialog_focusNeverLeftOnAHiddenControl', () => {
  const { ui, shadows, win } = setup();
  ui.setDialog({ kind: 'confirm', card: dueStatus().card });
  const first = dialogRoot(shadows).querySelector('dialog');
  const base = { pinPad: false, canCancel: true, cancelling: false, error: null, certificates: [], result: null };
  ui.setDialog({ kind: 'progress', renewal: { ...base, phase: 'awaitingPin', step: null } });
  const root = dialogRoot(shadows);
  assert.equal(root.querySelector('dialog'), first, 'the same dialog goes on');
  assert.equal(root.activeElement, root.querySelector('h2'), 'focus on the heading of the new step');
  const showPin = root.querySelector('button[data-action="showPin"]');
  showPin.focus();
  ui.setDialog({ kind: 'progress', renewal: { ...base, phase: 'beginning', step: { name: 'generateKey', n: 1, of: 2 } } });
  assert.equal(showPin.hidden, true);
  assert.equal(root.activeElement, root.querySelector('h2'), 'focus moved off the control before it was hidden');
  ui.setDialog({ kind: 'done', renewal: { phase: 'done', result: dueStatus({ renewable: false, reason: 'NOT_DUE' }) } });
  assert.equal(root.querySelector('dialog'), first);
  assert.equal(shadows.filter((s) => s.host.getAttribute('data-cis-renew') === 'dialog').length, 1);
  void win;
});

test('dialog_close_returnsFocusToTheItemOrSelectService', () => {
  const { doc, ui, win } = setup();
  ui.attachMenu(adapter.findMenu(doc));
  ui.setMenu(ENABLED);
  const menu = doc.getElementById('service-menu');
  menu.hidden = false;
  ui.menuControl.focus();
  userEvent(win, ui.menuControl, 'click');
  ui.setDialog({ kind: 'confirm', card: dueStatus().card });
  ui.setDialog(null);
  assert.equal(doc.activeElement, ui.menuControl, 'back to Renew Certificate while the menu is open');

  userEvent(win, ui.menuControl, 'click');
  ui.setDialog({ kind: 'confirm', card: dueStatus().card });
  menu.hidden = true; // the page closed its menu meanwhile
  ui.setDialog(null);
  assert.equal(doc.activeElement, adapter.findMenu(doc).trigger, 'Select Service when the item is gone');
});

test('dialog_endings_liveRegionSaysItOnce_headingFocused_tryAgainWhenItHelps', () => {
  const cases = [
    { model: { kind: 'failed', error: { code: 'PIN_LOCKED' } }, text: 'The card is locked after too many wrong passcodes: unlock it first (Unlock Smartcard), then renew.', buttons: ['dismiss'] },
    { model: { kind: 'failed', error: { code: 'SERVICE_REFUSED', status: 403, reason: 'sponsor may not renew this user' } }, text: 'The renewal service does not allow you to renew this card. The card was not changed.', buttons: ['dismiss'] },
    { model: { kind: 'failed', error: { code: 'SERVICE_UNREACHABLE', reason: 'Failed to fetch' }, retry: true }, text: /could not be reached/, buttons: ['retry', 'dismiss'] },
    { model: { kind: 'failed', error: { code: 'CARD_REMOVED' }, retry: true }, text: 'The card was removed. Insert it again and retry: it still holds a working pair of certificates.', buttons: ['retry', 'dismiss'] },
    { model: { kind: 'failed', error: { code: 'HOST_MISSING' } }, text: /Ask IT to install it/, buttons: ['dismiss'] },
    { model: { kind: 'cancelled' }, text: 'The card was not changed.', buttons: ['dismiss'] },
  ];
  for (const c of cases) {
    const { ui, shadows } = setup();
    ui.setDialog(c.model);
    const root = dialogRoot(shadows);
    const live = root.querySelector('[role="status"]');
    assert.equal(root.querySelectorAll('[role="status"], [role="alert"]').length, 1, 'one live region');
    if (c.text instanceof RegExp) assert.match(live.textContent, c.text);
    else assert.equal(live.textContent, c.text);
    assert.doesNotMatch(live.textContent, /Failed to fetch|sponsor may not/, 'no browser or service text in the sentence');
    assert.equal(root.activeElement, root.querySelector('h2'));
    assert.deepEqual([...root.querySelectorAll('button')].map((b) => b.getAttribute('data-action')), c.buttons, JSON.stringify(c.model));
  }
  const { ui, shadows } = setup();
  const after = dueStatus({ renewable: false, reason: 'NOT_DUE' });
  after.card.certificates = after.card.certificates.map((c, i) => ({ ...c, notAfter: '2028-06-30T12:00:00Z', daysLeft: i ? 1 : 1000 }));
  ui.setDialog({ kind: 'done', renewal: { phase: 'done', result: after } });
  const rows = [...dialogRoot(shadows).querySelectorAll('tbody tr td:last-child')].map((td) => td.textContent);
  assert.deepEqual(rows, ['30 June 2028 (1,000 days left)', '30 June 2028 (1 day left)'], 'plural forms, numbers in the UI language');
  ui.setDialog(null);
  assert.equal(dialogRoot(shadows), null, 'closed');
});
