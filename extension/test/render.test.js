import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cisRenew, domFrom, fixture, userEvent, trustedForTests, captureShadows } from '../testing/dom.js';
import { t } from '../testing/i18n.js';
import { dueStatus } from '../testing/fakeHost.js';

const { render, adapter, view } = cisRenew;
const fmt = (iso) => view.formatDate(iso, 'UTC');

function setup(file = 'standin-manage-smartcard.html') {
  const { doc, win } = domFrom(fixture(file));
  const shadows = captureShadows(win);
  const calls = [];
  const ui = render.createUi(doc, {
    t,
    fmt,
    trusted: trustedForTests,
    onRenew: () => calls.push('renew'),
    onAction: (a) => calls.push(a),
  });
  return { doc, win, ui, calls, shadows };
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

test('menu_disabled_reasonInTitleAndDescribedTooltip_shownOnFocus', () => {
  const { doc, ui, win } = setup();
  ui.attachMenu(adapter.findMenu(doc));
  ui.setMenu(DISABLED);
  const control = ui.menuControl;
  assert.equal(control.getAttribute('aria-disabled'), 'true');
  assert.equal(control.getAttribute('title'), 'Not due until 3 March 2026.');
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
  control.dispatchEvent(new win.MouseEvent('mouseenter'));
  assert.equal(tip.style.display, 'block');
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

test('menu_activation_onlyTrustedUserEventsWhenEnabled', () => {
  const cases = [
    { state: ENABLED, fire: (c, w) => c.click(), want: [], name: 'page script click() is ignored' },
    { state: ENABLED, fire: (c, w) => c.dispatchEvent(new w.MouseEvent('click', { bubbles: true })), want: [], name: 'synthetic event ignored' },
    { state: ENABLED, fire: (c, w) => userEvent(w, c, 'click'), want: ['renew'], name: 'user click' },
    { state: ENABLED, fire: (c, w) => userEvent(w, c, 'keydown', { key: 'Enter' }), want: ['renew'], name: 'Enter' },
    { state: ENABLED, fire: (c, w) => userEvent(w, c, 'keydown', { key: ' ' }), want: ['renew'], name: 'Space' },
    { state: ENABLED, fire: (c, w) => userEvent(w, c, 'keydown', { key: 'ArrowDown' }), want: [], name: 'arrows stay with the page menu' },
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

test('dialog_confirm_listsCertificatesAndContinues', () => {
  const { ui, shadows, calls, win } = setup();
  const card = dueStatus().card;
  ui.setDialog({ kind: 'confirm', card });
  const root = dialogRoot(shadows);
  const dlg = root.querySelector('dialog');
  assert.equal(dlg.hasAttribute('open'), true);
  assert.equal(root.getElementById(dlg.getAttribute('aria-labelledby')).textContent, 'Renew the certificates on this card?');
  const rows = [...root.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent));
  assert.deepEqual(rows, [
    ['Authentication', 'CN=Alex Smith', '1 January 2026 (45 days)'],
    ['Signing', 'CN=Alex Smith', '1 January 2026 (45 days)'],
  ]);
  assert.equal(root.activeElement && root.activeElement.textContent, 'Continue', 'focus on Continue');
  root.querySelector('button[data-action="continue"]').click();
  assert.deepEqual(calls, [], 'untrusted click ignored');
  userEvent(win, root.querySelector('button[data-action="continue"]'), 'click');
  userEvent(win, dlg, 'keydown', { key: 'Escape' });
  assert.deepEqual(calls, ['continue', 'escape']);
});

test('dialog_progress_checklistLiveTextAndCancel', () => {
  const { ui, shadows } = setup();
  const base = { pinPad: false, canCancel: true, cancelling: false, error: null, certificates: [], result: null };
  const cases = [
    { r: { ...base, phase: 'awaitingPin', step: null }, live: 'Enter the card’s passcode in the cis-renew window that has opened.', states: ['todo', 'todo', 'todo', 'todo', 'todo'], cancel: 'false' },
    { r: { ...base, phase: 'beginning', step: { name: 'login' }, pinPad: true }, live: 'Enter the passcode on the card reader’s keypad.', states: ['current', 'todo', 'todo', 'todo', 'todo'], cancel: 'false' },
    { r: { ...base, phase: 'beginning', step: { name: 'generateKey', n: 2, of: 2 } }, live: 'Making keys (2 of 2)…', states: ['done', 'current', 'todo', 'todo', 'todo'], cancel: 'false' },
    { r: { ...base, phase: 'requesting', step: { name: 'request', n: 1, of: 2 } }, live: 'Requesting certificates (1 of 2)…', states: ['done', 'done', 'current', 'todo', 'todo'], cancel: 'false' },
    { r: { ...base, phase: 'requesting', step: { name: 'request', n: 1, of: 2 }, canCancel: false, cancelling: true }, live: 'Cancelling…', states: ['done', 'done', 'current', 'todo', 'todo'], cancel: 'true' },
    { r: { ...base, phase: 'completing', step: { name: 'install', n: 1, of: 2 }, canCancel: false }, live: 'Installing (1 of 2)…', states: ['done', 'done', 'done', 'current', 'todo'], cancel: 'true', hidden: true },
  ];
  for (const c of cases) {
    ui.setDialog({ kind: 'progress', renewal: c.r });
    const root = dialogRoot(shadows);
    const live = root.querySelector('[aria-live="polite"]');
    assert.equal(live.textContent, c.live, c.live);
    assert.deepEqual([...root.querySelectorAll('ol.steps li')].map((li) => li.getAttribute('data-state')), c.states, c.live);
    const cancel = root.querySelector('button[data-action="cancel"]');
    assert.equal(cancel.getAttribute('aria-disabled'), c.cancel, c.live);
    assert.equal(cancel.hidden, Boolean(c.hidden), c.live);
  }
  assert.equal(shadows.filter((s) => s.host.getAttribute('data-cis-renew') === 'dialog').length, 1, 'progress updates in place');
});

test('dialog_endings_showResultOrClearMessage', () => {
  const cases = [
    { model: { kind: 'failed', error: { code: 'PIN_LOCKED' } }, text: 'The card is locked after too many wrong passcodes: unlock it first (Unlock Smartcard), then renew.' },
    { model: { kind: 'failed', error: { code: 'SERVICE_REFUSED', reason: 'sponsor may not renew this user' } }, text: 'The renewal service refused the request: sponsor may not renew this user' },
    { model: { kind: 'failed', error: { code: 'CARD_REMOVED' } }, text: 'The card was removed. Insert it again and retry: it still holds a working pair of certificates.' },
    { model: { kind: 'failed', error: { code: 'HOST_MISSING' } }, text: /Ask IT to install it/ },
    { model: { kind: 'cancelled' }, text: 'The card was not changed.' },
  ];
  for (const c of cases) {
    const { ui, shadows } = setup();
    ui.setDialog(c.model);
    const root = dialogRoot(shadows);
    const p = root.querySelector('[role="alert"], [role="status"]');
    if (c.text instanceof RegExp) assert.match(p.textContent, c.text);
    else assert.equal(p.textContent, c.text);
    assert.equal(root.activeElement.getAttribute('data-action'), 'dismiss');
  }
  const { ui, shadows } = setup();
  const after = dueStatus({ renewable: false, reason: 'NOT_DUE' });
  after.card.certificates = after.card.certificates.map((c) => ({ ...c, notAfter: '2028-06-30T12:00:00Z', daysLeft: 1000 }));
  ui.setDialog({ kind: 'done', renewal: { phase: 'done', result: after } });
  const rows = [...dialogRoot(shadows).querySelectorAll('tbody tr td:last-child')].map((td) => td.textContent);
  assert.deepEqual(rows, ['30 June 2028 (1000 days)', '30 June 2028 (1000 days)']);
  ui.setDialog(null);
  assert.equal(dialogRoot(shadows), null, 'closed');
});

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
