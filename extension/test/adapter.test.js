import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cisRenew, domFrom, fixture } from '../testing/dom.js';

const { adapter } = cisRenew;

test('findMenu_fixtures', () => {
  const cases = [
    { file: 'standin-manage-smartcard.html', list: 'service-menu', template: 'service-unlock', manage: true, csrf: 'csrf-abc123', selected: 'S1' },
    { file: 'generic-list-menu.html', listClass: 'menu-list', manage: true, csrf: 't2', selected: null },
    { file: 'no-menu-manage-smartcard.html', list: null, manage: true, csrf: null, selected: null },
    { file: 'other-page.html', url: 'http://127.0.0.1:8080/home', list: null, manage: false, csrf: null, selected: null },
  ];
  for (const c of cases) {
    const { doc } = domFrom(fixture(c.file), c.url);
    const menu = adapter.findMenu(doc);
    if (c.list === null) assert.equal(menu, null, c.file);
    else if (c.list) {
      assert.equal(menu.list.id, c.list, c.file);
      assert.equal(menu.template.id, c.template);
      assert.equal(menu.trigger.id, 'select-service');
    } else assert.ok(menu.list.classList.contains(c.listClass), c.file);
    assert.equal(adapter.isManageSmartcardPage(doc), c.manage, c.file);
    assert.equal(adapter.csrfToken(doc), c.csrf, c.file);
    assert.equal(adapter.selectedCardSerial(doc, menu), c.selected, c.file);
  }
});

test('buildItem_standin_copiesPageMarkupWithoutPageData', () => {
  const { doc } = domFrom(fixture('standin-manage-smartcard.html'));
  const menu = adapter.findMenu(doc);
  const { item, control } = adapter.buildItem(doc, menu, 'Renew Certificate');
  assert.equal(item, control, 'the stand-in item is the <a role=menuitem> itself');
  assert.equal(control.tagName, 'A');
  assert.equal(control.getAttribute('role'), 'menuitem');
  assert.equal(control.getAttribute('tabindex'), '-1', "keeps the page's roving tabindex");
  assert.equal(control.textContent, 'Renew Certificate');
  for (const attr of ['id', 'href', 'data-service']) assert.equal(control.hasAttribute(attr), false, attr);
  assert.equal(control.getAttribute('data-cis-renew'), 'menu-item');
  assert.equal(control.hasAttribute('data-cis-renew-control'), true);
  assert.equal(adapter.existingItem(menu.list), null, 'not in the list until appended');
  menu.list.appendChild(item);
  assert.equal(adapter.existingItem(menu.list), item, 'found again (no rebuild on every DOM change)');
});

test('buildItem_genericList_keepsStructureDropsStateClasses', () => {
  const { doc } = domFrom(fixture('generic-list-menu.html'));
  const menu = adapter.findMenu(doc);
  const { item, control } = adapter.buildItem(doc, menu, 'Renew Certificate');
  assert.equal(item.tagName, 'LI');
  assert.ok(item.classList.contains('menu-item'));
  assert.ok(!item.classList.contains('active'));
  assert.equal(control.tagName, 'A');
  assert.ok(control.classList.contains('menu-link'));
  assert.equal(control.hasAttribute('href'), false);
  assert.equal(control.getAttribute('tabindex'), '0');
  assert.equal(adapter.disabledClass(menu.list), 'menu-link--disabled');
});

test('selectedCardSerial_noneSelected_isEmpty', () => {
  const html = fixture('standin-manage-smartcard.html').replaceAll('data-card-serial="S1" aria-live', 'data-card-serial="" aria-live').replace('role="menu" aria-labelledby="select-service" data-card-serial="S1"', 'role="menu" aria-labelledby="select-service" data-card-serial=""');
  const { doc } = domFrom(html);
  assert.equal(adapter.selectedCardSerial(doc, adapter.findMenu(doc)), '');
});

test('stylesDisabledItems_detectsPageRule', () => {
  const { doc } = domFrom(fixture('standin-manage-smartcard.html'));
  assert.equal(adapter.stylesDisabledItems(doc), true);
  const { doc: other } = domFrom(fixture('generic-list-menu.html'));
  assert.equal(adapter.stylesDisabledItems(other), false);
});
