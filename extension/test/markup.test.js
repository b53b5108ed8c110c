// The site adapter against dashboards built differently from the stand-in (test/fixtures/markup/):
// an overlay menu with a wrapper, a <details> list, a native select + Go, an icon-only trigger,
// a site-title heading, a card serial only as text, and a page it must leave alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cisRenew, domFrom, userEvent, trustedForTests } from '../testing/dom.js';
import { t } from '../testing/i18n.js';
import { dueStatus } from '../testing/fakeHost.js';

const { adapter, render, placement, view } = cisRenew;
const MANAGE = 'https://cis.example/dashboard/cards';

function markup(name, url = MANAGE) {
  return domFrom(readFileSync(new URL(`./fixtures/markup/${name}`, import.meta.url), 'utf8'), url);
}

const microtask = () => new Promise((resolve) => queueMicrotask(resolve));

/** The content script's pieces on a fixture: ui, placement, and what they were asked to do. */
function mount(name, { url, settings, enabled = true } = {}) {
  const { doc, win } = markup(name, url);
  const calls = [];
  const ui = render.createUi(doc, { t, trusted: trustedForTests, onRenew: () => calls.push('renew'), onAction: (a) => calls.push(a) });
  const serials = [];
  const places = placement.create(doc, { ui, t, trusted: trustedForTests, enabled: () => enabled, onRenew: () => calls.push('renew'), onCardSerial: (s) => serials.push(s) });
  if (enabled) ui.setMenu({ enabled: true, reason: null });
  if (settings) places.setSettings(settings);
  places.start();
  return { doc, win, ui, places, calls, serials };
}

function entries(doc) {
  return doc.querySelectorAll('[data-cis-renew="menu-item"]');
}

function panels(doc) {
  return doc.querySelectorAll('[data-cis-renew="panel"]');
}

/** The fixture page's own overlay-menu script: knows only the items it created. */
function overlayPage(doc, win) {
  const trigger = doc.querySelector('[aria-haspopup="menu"]');
  const container = doc.querySelector('.cdk-overlay-container');
  const page = { opened: 0, pageKeys: [] };
  page.open = () => {
    container.appendChild(doc.getElementById('overlay').content.cloneNode(true));
    trigger.setAttribute('aria-expanded', 'true');
    page.opened += 1;
    const items = [...container.querySelectorAll('[role="menuitem"]')]; // captured once, like a QueryList
    container.querySelector('[role="menu"]').addEventListener('keydown', (e) => {
      page.pageKeys.push(e.key);
      const i = items.indexOf(doc.activeElement);
      if (e.key === 'ArrowDown' && i >= 0) items[Math.min(i + 1, items.length - 1)].focus();
      if (e.key === 'Escape') page.close(true);
    });
    items[0].focus();
  };
  page.close = (refocus) => {
    container.textContent = '';
    trigger.setAttribute('aria-expanded', 'false');
    if (refocus) trigger.focus();
  };
  trigger.addEventListener('click', () => (trigger.getAttribute('aria-expanded') === 'true' ? page.close(false) : page.open()));
  return { trigger, container, page };
}

function key(win, target, k) {
  return userEvent(win, target, 'keydown', { key: k });
}

test('markup_findMenu_eachPattern', () => {
  const cases = [
    { file: 'details-list.html', kind: 'menu', trigger: 'SUMMARY', list: 'ul.dropdown-list', template: 'li.dropdown-item', before: 'li.dropdown-divider', serial: '5566AABB77889900' },
    { file: 'native-select.html', kind: 'select', trigger: 'SELECT', list: '#service-select', template: null, go: '#go', serial: '9F8E7D6C5B4A3921' },
    { file: 'icon-trigger.html', kind: 'menu', trigger: 'BUTTON', list: '#svc', template: 'li.popup-row', serial: 'ABCDEF0123456789' },
    { file: 'serial-text.html', kind: 'menu', trigger: 'BUTTON', list: '#services-list', template: 'li', serial: '7788CCDD99EEFF00' },
  ];
  for (const c of cases) {
    const { doc } = markup(c.file);
    const menu = adapter.findMenu(doc);
    assert.ok(menu, c.file);
    assert.equal(menu.kind, c.kind, c.file);
    assert.equal(menu.trigger && menu.trigger.tagName, c.trigger, c.file);
    assert.equal(menu.list, doc.querySelector(c.list), c.file);
    assert.equal(menu.template, c.template && doc.querySelector(c.template), c.file);
    if (c.before) assert.equal(menu.before, doc.querySelector(c.before), c.file);
    if (c.go) assert.equal(menu.go, doc.querySelector(c.go), c.file);
    assert.equal(adapter.selectedCardSerial(doc, menu), c.serial, c.file);
    assert.equal(adapter.isManageSmartcardPage(doc), true, c.file);
  }
});

test('markup_trigger_accessibleNameWithoutIconsOrHiddenParts', () => {
  const { doc } = markup('overlay-menu.html');
  const trigger = adapter.findTrigger(doc, adapter.AUTO);
  assert.equal(trigger.id, 'mat-menu-trigger-7', 'the icon ligature "arrow_drop_down" is not part of the name');
  assert.equal(adapter.accessibleName(trigger), 'Select Service');
  const { doc: icon } = markup('icon-trigger.html');
  assert.equal(adapter.accessibleName(adapter.findTrigger(icon, adapter.AUTO)), 'Select service');
  const { doc: details } = markup('details-list.html');
  assert.equal(adapter.accessibleName(adapter.findTrigger(details, adapter.AUTO)), 'Select a service');
  const { doc: other } = markup('leave-alone.html');
  assert.equal(adapter.findTrigger(other, adapter.AUTO), null);
});

test('markup_overlay_entryAttachedInTheSameTaskTheMenuAppears_noPanelEver', async () => {
  const { doc, win } = mount('overlay-menu.html');
  const { trigger, container, page } = overlayPage(doc, win);
  assert.equal(panels(doc).length, 0, 'a trigger was found: the menu entry, never the panel');
  assert.equal(entries(doc).length, 0, 'no menu yet');

  // The page opens the menu; the entry is there before any timer runs (before a paint).
  let sawTimer = false;
  win.setTimeout(() => (sawTimer = true), 0);
  trigger.click();
  await microtask();
  assert.equal(sawTimer, false);
  const menu = container.querySelector('[role="menu"]');
  const content = menu.querySelector('.mat-mdc-menu-content');
  const names = [...menu.querySelectorAll('[role="menuitem"]')].map((b) => adapter.accessibleName(b));
  assert.deepEqual(names, ['Unlock Smartcard', 'Cancel Smartcard', 'View Certificates', 'Renew Certificate']);
  const entry = entries(doc)[0];
  assert.equal(entry.parentElement, content, 'beside the real items, inside the wrapper (the wrapper is not copied)');
  assert.equal(entry.tagName, 'BUTTON');
  assert.equal(entry.getAttribute('type'), 'button');
  assert.equal(entry.querySelectorAll('.mat-mdc-menu-item-text').length, 1, "keeps the item's inner structure");
  assert.equal(entry.querySelector('mat-icon'), null, "another service's icon is not copied");
  for (const cls of ['cdk-focused', 'cdk-keyboard-focused']) assert.ok(!entry.classList.contains(cls), cls);
  assert.ok(entry.classList.contains('mat-mdc-menu-item') && entry.classList.contains('mat-focus-indicator'));
  assert.equal(entry.getAttribute('tabindex'), '-1');
  for (const attr of ['data-service', 'aria-disabled', 'id']) assert.equal(entry.hasAttribute(attr), false, attr);
  assert.equal(panels(doc).length, 0);

  // Closed and opened again: the entry comes back, still no panel.
  page.close(false);
  await microtask();
  assert.equal(entries(doc).length, 0);
  assert.equal(panels(doc).length, 0, 'closing the menu does not bring the panel back');
  trigger.click();
  await microtask();
  assert.equal(entries(doc).length, 1);
  assert.equal(page.opened, 2);
});

test('markup_overlay_keyboard_arrowsHomeEndEscapeReachTheEntry', async () => {
  const { doc, win, calls } = mount('overlay-menu.html');
  const { trigger, container, page } = overlayPage(doc, win);
  trigger.click();
  await microtask();
  const items = [...container.querySelectorAll('[role="menuitem"]')];
  const entry = items[3];
  assert.equal(entry.getAttribute('data-cis-renew'), 'menu-item');
  items[2].focus();
  key(win, items[2], 'ArrowDown');
  assert.equal(doc.activeElement, entry, 'ArrowDown from the last service reaches the entry');
  assert.deepEqual(page.pageKeys, [], "the page's key manager did not also move");
  key(win, entry, 'ArrowDown');
  assert.equal(doc.activeElement, items[0], 'wraps to the first');
  key(win, items[0], 'ArrowUp');
  assert.equal(doc.activeElement, entry, 'ArrowUp wraps to the entry');
  key(win, entry, 'Home');
  assert.equal(doc.activeElement, items[0]);
  key(win, items[0], 'End');
  assert.equal(doc.activeElement, entry);
  key(win, entry, 'Enter');
  assert.deepEqual(calls, [], 'Enter acts on its release, not on the press (issue 13: no auto-repeat)');
  userEvent(win, entry, 'keyup', { key: 'Enter' });
  assert.deepEqual(calls, ['renew'], 'Enter on the entry chooses Renew');
  // Escape: the page's own handler closes it here; the adapter's fallback must not reopen it.
  key(win, entry, 'Escape');
  await new Promise((r) => win.setTimeout(r, 5));
  assert.equal(container.children.length, 0);
  assert.equal(trigger.getAttribute('aria-expanded'), 'false');
  assert.equal(doc.activeElement, trigger);
});

test('markup_popupUnknownToThePage_escapeAndTabCloseIt', async () => {
  // The icon-trigger page has no script at all: the adapter closes the menu as its trigger would.
  const { doc, win } = mount('icon-trigger.html');
  const trigger = doc.querySelector('.icon-button');
  const list = doc.getElementById('svc');
  trigger.addEventListener('click', () => {
    list.hidden = !list.hidden;
    trigger.setAttribute('aria-expanded', String(!list.hidden));
  });
  trigger.click();
  const entry = entries(doc)[0].querySelector('[role="menuitem"]');
  assert.equal(entries(doc)[0].getAttribute('role'), 'none', "the copied <li role=none> keeps the page's pattern");
  assert.ok(!entry.classList.contains('hovered'));
  entry.focus();
  key(win, entry, 'Escape');
  await new Promise((r) => win.setTimeout(r, 5));
  assert.equal(list.hidden, true);
  assert.equal(doc.activeElement, trigger);
  trigger.click();
  entry.focus();
  key(win, entry, 'Tab');
  await new Promise((r) => win.setTimeout(r, 5));
  assert.equal(list.hidden, true, 'Tab away closes it too');
});

test('markup_details_linkWithoutHrefGetsARole_entryBeforeTheDivider', () => {
  const { doc } = mount('details-list.html');
  const list = doc.querySelector('ul.dropdown-list');
  const texts = [...list.children].map((li) => li.textContent.trim());
  assert.deepEqual(texts, ['Unlock smart card', 'Cancel smart card', 'Renew Certificate', '', 'Need help? Call the service desk.']);
  const item = entries(doc)[0];
  assert.ok(item.classList.contains('dropdown-item') && !item.classList.contains('is-active'));
  const link = item.querySelector('a');
  assert.equal(link.getAttribute('role'), 'button', 'a link without href is a button');
  assert.equal(link.getAttribute('tabindex'), '0');
  assert.equal(link.hasAttribute('onclick'), false);
  assert.equal(link.hasAttribute('id'), false);
});

test('markup_nativeSelect_optionDisabledWithReason_goInterceptedForOursOnly', () => {
  const { doc, win, places, calls } = mount('native-select.html');
  const select = doc.getElementById('service-select');
  const go = doc.getElementById('go');
  const pageSubmits = [];
  doc.getElementById('service-form').addEventListener('submit', (e) => {
    e.preventDefault();
    pageSubmits.push(select.value);
  });
  go.addEventListener('click', () => pageSubmits.push(`click:${select.value}`));
  const option = select.querySelector(`option[value="${placement.OPTION_VALUE}"]`);
  assert.ok(option, 'a Renew Certificate option');
  assert.equal(select.options[select.options.length - 1], option, 'after the services');

  places.setMenu({ enabled: false }, 'Not due until 3 March 2027.');
  assert.equal(option.disabled, true);
  assert.equal(option.textContent, 'Renew Certificate (Not due until 3 March 2027.)');
  assert.equal(option.title, 'Not due until 3 March 2027.');

  places.setMenu({ enabled: true }, '');
  assert.equal(option.disabled, false);
  assert.equal(option.textContent, 'Renew Certificate');
  select.value = placement.OPTION_VALUE;
  userEvent(win, select, 'change');
  userEvent(win, go, 'click');
  assert.deepEqual(calls, ['renew']);
  assert.deepEqual(pageSubmits, [], "the page's Go did not act on our option");

  select.value = 'unlock';
  userEvent(win, go, 'click');
  assert.deepEqual(calls, ['renew'], 'another service is left to the page');
  assert.ok(pageSubmits.includes('click:unlock'));

  // A page script's click is not the user's.
  select.value = placement.OPTION_VALUE;
  go.click();
  assert.deepEqual(calls, ['renew']);
});

test('markup_siteTitleHeading_pageRecognisedByAnotherHeading_panelAfterIt', () => {
  const { doc } = mount('site-title-heading.html');
  assert.equal(adapter.isManageSmartcardPage(doc), true);
  const host = panels(doc)[0];
  assert.ok(host, 'the fallback panel');
  assert.equal(host.previousElementSibling, doc.getElementById('page-heading'), 'after the page heading, not the site title');
  // By URL alone, too.
  const { doc: byUrl } = domFrom('<main><h1>Card details</h1></main>', 'https://cis.example/manage-smartcard');
  assert.equal(adapter.isManageSmartcardPage(byUrl), true);
  const { doc: neither } = domFrom('<main><h1>Card details</h1></main>', 'https://cis.example/home');
  assert.equal(adapter.isManageSmartcardPage(neither), false);
});

test('markup_leaveAlone_nothingAdded', async () => {
  const { doc } = mount('leave-alone.html', { url: 'https://cis.example/help/smartcards' });
  await microtask();
  assert.equal(doc.querySelectorAll('[data-cis-renew]').length, 0);
  assert.equal(adapter.findMenu(doc), null);
  assert.equal(adapter.isManageSmartcardPage(doc), false);
});

test('markup_cardCheck_otherCardDisablesRenew_namingBoth', () => {
  const { doc, serials } = mount('serial-text.html');
  assert.deepEqual(serials, ['7788CCDD99EEFF00']);
  const state = { host: { state: 'connected' }, status: dueStatus({ serial: '1122334455667788' }) };
  const m = view.menuState(state, undefined, { selectedSerial: serials[0] });
  assert.equal(m.enabled, false);
  const reason = t(m.reason.key, m.reason.subs);
  assert.match(reason, /7788CCDD99EEFF00/);
  assert.match(reason, /1122334455667788/);
  assert.equal(view.menuState({ ...state, status: dueStatus({ serial: '7788ccdd99eeff00' }) }, undefined, { selectedSerial: serials[0] }).enabled, true);
  // The page changes the selection: read again.
  doc.querySelector('.selection strong').textContent = '0000111122223333';
  return new Promise((r) => setTimeout(r, 150)).then(() => assert.deepEqual(serials, ['7788CCDD99EEFF00', '0000111122223333']));
});

test('markup_cardCheck_noSerialOnThePage_confirmationSaysWhoseCard', () => {
  const { doc } = markup('site-title-heading.html');
  assert.equal(adapter.selectedCardSerial(doc, null), null);
  const shadows = [];
  const original = doc.defaultView.Element.prototype.attachShadow;
  doc.defaultView.Element.prototype.attachShadow = function (init) {
    const r = original.call(this, init);
    shadows.push(r);
    return r;
  };
  const ui = render.createUi(doc, { t, trusted: trustedForTests, onRenew() {}, onAction() {} });
  const card = dueStatus({ serial: '41cd226576bc544c' }).card;
  ui.setDialog({ kind: 'confirm', card, cardUnchecked: true });
  const note = shadows.at(-1).querySelector('[data-part="card-unchecked"]');
  assert.ok(note, 'a prominent note');
  assert.match(note.textContent, /does not show a card serial/);
  assert.match(note.textContent, /Alex Smith/);
  assert.match(note.textContent, /41cd226576bc544c/);
  ui.setDialog(null);
  ui.setDialog({ kind: 'confirm', card, cardUnchecked: false });
  assert.equal(shadows.at(-1).querySelector('[data-part="card-unchecked"]'), null, 'not when the page showed the same card');
});

test('markup_siteAdapterSettings_selectorsModeAndBadSelectors', () => {
  // Services named in another language: only the policy's selectors find them.
  const html = `<main><h1>Rheoli Cerdyn</h1><div class="x-menu"><span class="x-title">Gwasanaethau</span>
    <div class="x-items"><div class="x-item">Datgloi</div><div class="x-item">Canslo</div></div></div>
    <p id="serial-box" data-card-serial="CAFE0001"></p></main>`;
  const settings = { mode: 'auto', trigger: '.x-title', list: '.x-items', item: '.x-item', cardSerial: '#serial-box', page: '.x-menu' };
  const { doc } = domFrom(html, MANAGE);
  assert.equal(adapter.findMenu(doc), null, 'the automatic search finds nothing here');
  const menu = adapter.findMenu(doc, settings);
  assert.equal(menu.list, doc.querySelector('.x-items'));
  assert.equal(menu.template, doc.querySelector('.x-item'));
  assert.equal(adapter.selectedCardSerial(doc, menu, settings), 'CAFE0001');
  assert.equal(adapter.isManageSmartcardPage(doc, settings), true);
  const { item } = adapter.buildItem(doc, menu, 'Renew Certificate');
  assert.equal(item.getAttribute('role'), 'button', 'a div item gets a role');

  // A selector the browser refuses is ignored; the automatic search runs.
  const broken = { ...adapter.AUTO, trigger: 'button[', list: ':::', item: '>>' };
  const { doc: overlay } = markup('icon-trigger.html');
  assert.equal(adapter.findMenu(overlay, broken).list, overlay.getElementById('svc'));

  // mode: panel shows the panel even where a menu exists; mode: menu never shows it.
  const asPanel = mount('icon-trigger.html', { settings: { mode: 'panel' } });
  assert.equal(entries(asPanel.doc).length, 0);
  assert.equal(panels(asPanel.doc).length, 1);
  const asMenu = mount('site-title-heading.html', { settings: { mode: 'menu' } });
  assert.equal(panels(asMenu.doc).length, 0);
});

test('markup_settingsChange_movesTheEntry', () => {
  const { doc, places } = mount('icon-trigger.html');
  assert.equal(entries(doc).length, 1);
  places.setSettings({ mode: 'panel' });
  assert.equal(entries(doc).length, 0);
  assert.equal(panels(doc).length, 1);
  places.setSettings(null);
  assert.equal(entries(doc).length, 1);
  assert.equal(panels(doc).length, 0);
});

test('markup_nativeSelectWithoutGo_choosingTheOptionStartsIt', () => {
  const html = readFileSync(new URL('./fixtures/markup/native-select.html', import.meta.url), 'utf8').replace(/<button type="submit" id="go"[^>]*>Go<\/button>/, '');
  const { doc, win } = domFrom(html, MANAGE);
  const calls = [];
  const ui = render.createUi(doc, { t, trusted: trustedForTests, onRenew() {}, onAction() {} });
  const places = placement.create(doc, { ui, t, trusted: trustedForTests, enabled: () => true, onRenew: () => calls.push('renew'), onCardSerial() {} });
  places.start();
  places.setMenu({ enabled: true }, '');
  const select = doc.getElementById('service-select');
  const pageChanges = [];
  select.addEventListener('change', () => pageChanges.push(select.value));
  select.value = 'unlock';
  userEvent(win, select, 'change');
  select.value = placement.OPTION_VALUE;
  userEvent(win, select, 'change');
  assert.deepEqual(calls, ['renew']);
  assert.deepEqual(pageChanges, ['unlock'], 'the page never sees our option chosen');
});

test('markup_oneKnownService_inAWrapper_copiesTheItemNotTheWrapper', () => {
  const html = `<main><h1>Manage Smartcard</h1><button aria-haspopup="menu" aria-expanded="true">Select Service</button>
    <div role="menu"><div class="content"><button role="menuitem" class="it">Unlock Smartcard</button></div></div>
    <ul class="plain"><li class="row"><a href="/x">View Certificates</a></li></ul></main>`;
  const { doc } = domFrom(html, MANAGE);
  const menu = adapter.findMenu(doc);
  assert.equal(menu.list, doc.querySelector('.content'));
  assert.equal(menu.template, doc.querySelector('button.it'));
  assert.equal(menu.root, doc.querySelector('[role="menu"]'));
  const { doc: plain } = domFrom(html.replace(/<div role="menu">.*?<\/div><\/div>/s, ''), MANAGE);
  const list = adapter.findMenu(plain);
  assert.equal(list.list, plain.querySelector('ul.plain'));
  assert.equal(list.template, plain.querySelector('li.row'), 'an <li> around the link is the item');
});
