/**
 * Where Renew Certificate goes in the dashboard page, and how it behaves there:
 * - the menu entry or the fallback panel, chosen once from the trigger: once a Select Service
 *   trigger (or the services list) has been seen, the panel never shows again, so a menu that
 *   the page creates on open and removes on close does not make the page jump;
 * - the entry is attached in the same task the list appears (a MutationObserver callback runs
 *   before the browser paints), so the menu never opens without it;
 * - in a pop-up menu the entry takes part in the keyboard pattern (arrow keys, Home, End,
 *   Escape, Tab) even when the page's script keeps its own list of items and does not know it;
 * - in a native <select>: a "Renew Certificate" option (disabled with its reason when nothing
 *   is due) and the page's Go action intercepted for that option only.
 * The DOM knowledge is in adapter.js; the menu item's look and the panel in render.js.
 *
 * Classic script; API on `globalThis.cisRenew.placement`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const OPTION_VALUE = 'cis-renew';
  const NAV_KEYS = new Set(['ArrowDown', 'ArrowUp', 'Home', 'End']);

  /**
   * @param {Document} doc
   * @param {object} o
   * @param {object} o.ui                 render.createUi()
   * @param {(key: string, subs?: string[]) => string} o.t
   * @param {() => boolean} o.enabled     whether Renew may start now
   * @param {() => void} o.onRenew        the user chose Renew Certificate
   * @param {(serial: string|null) => void} o.onCardSerial  the page's card serial changed
   * @param {(e: Event) => boolean} [o.trusted]
   */
  function create(doc, o) {
    const adapter = ns.adapter;
    const win = doc.defaultView;
    const trusted = o.trusted || ((e) => e.isTrusted === true);
    let settings = adapter.AUTO;
    let decided = null; // 'menu' once a trigger or list was seen
    let menu = null; // the menu our entry is in
    let select = null; // { option, menu } for a native <select>
    let cardSerial; // undefined until first read
    let observer = null;
    let serialTimer = null;

    // --- keyboard in pop-up menus ---

    function onKeydown(e) {
      if (!menu || !adapter.isPopup(menu) || !menu.root.contains(e.target)) return;
      const control = o.ui.menuControl;
      if (NAV_KEYS.has(e.key)) {
        const items = adapter.menuControls(menu);
        const i = items.indexOf(doc.activeElement);
        if (i < 0 || !control || !items.includes(control)) return;
        let next;
        if (e.key === 'Home') next = 0;
        else if (e.key === 'End') next = items.length - 1;
        else next = (i + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
        // The page's own key manager may not know our entry: it moves focus here instead.
        e.preventDefault();
        e.stopImmediatePropagation();
        items[next].focus();
        return;
      }
      if ((e.key === 'Escape' || e.key === 'Tab') && control && e.target === control) {
        // Let the page close its menu; if it does not know the entry, close it as it would.
        const m = menu;
        const escape = e.key === 'Escape';
        win.setTimeout(() => adapter.closeMenu(m, { focusTrigger: escape }), 0);
      }
    }

    // --- native <select> ---

    function attachSelect(found) {
      let option = found.list.querySelector(`option[value="${OPTION_VALUE}"]`);
      if (select && select.option === option && option) return;
      if (!option) {
        option = doc.createElement('option');
        option.value = OPTION_VALUE;
        option.setAttribute(adapter.MARK, 'menu-item');
        option.textContent = o.t('menuRenew');
        found.list.appendChild(option);
      }
      select = { option, menu: found };
      applySelect();
    }

    /** The page acts on Go (a click or its form's submit) or on change; ours only for ours. */
    function interceptSelect(e) {
      if (!select || select.menu.list.value !== OPTION_VALUE) return;
      const { list, go } = select.menu;
      const onGo = go && (e.type === 'click' ? go.contains(e.target) : e.type === 'submit' && e.target === go.form);
      // Without a Go button the page acts on change; with one, change is the page's (it may
      // enable Go) and Go acts.
      const onChange = !go && e.type === 'change' && e.target === list;
      if (!onGo && !onChange) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      if (e.type === 'submit' || !trusted(e) || !o.enabled()) return; // a trusted click precedes the submit
      o.onRenew();
    }

    /** Shows the menu state on the option: disabled with its reason when Renew cannot start. */
    function applySelect(state) {
      if (!select) return;
      const s = state || lastState;
      if (!s) return;
      const label = o.t('menuRenew');
      const text = s.enabled || !s.reasonText ? label : `${label} (${s.reasonText})`;
      if (select.option.textContent !== text) select.option.textContent = text;
      select.option.disabled = !s.enabled;
      if (s.enabled) select.option.removeAttribute('title');
      else select.option.setAttribute('title', s.reasonText || '');
      if (!s.enabled && select.menu.list.value === OPTION_VALUE) select.menu.list.selectedIndex = 0;
    }

    let lastState = null;

    function setMenu(state, reasonText) {
      lastState = { enabled: state.enabled, reasonText };
      applySelect(lastState);
    }

    // --- placing ---

    function readSerial(found) {
      let serial;
      try {
        serial = adapter.selectedCardSerial(doc, found, settings);
      } catch {
        serial = null;
      }
      if (serial !== cardSerial) {
        cardSerial = serial;
        o.onCardSerial(serial);
      }
    }

    function attach(found) {
      if (found.kind === 'select') return attachSelect(found);
      o.ui.attachMenu(found);
      menu = found;
    }

    /** Places or keeps the entry; cheap when it is already where it belongs. */
    function place() {
      const control = o.ui.menuControl;
      const settled = (control && control.isConnected && menu && menu.list.isConnected) || (select && select.option.isConnected);
      let found = null;
      if (!settled || settings.mode === 'panel') {
        try {
          found = settings.mode === 'panel' ? null : adapter.findMenu(doc, settings);
        } catch {
          found = null; // never let the page's markup break the extension
        }
        if (found || (settings.mode !== 'panel' && adapter.findTrigger(doc, settings))) decided = 'menu';
        if (found) attach(found);
      }
      if (decided === 'menu' || settings.mode === 'menu') o.ui.hidePanel();
      else if (adapter.isManageSmartcardPage(doc, settings)) o.ui.showPanel(adapter.panelAnchor(doc));
      return found;
    }

    function scheduleSerial() {
      if (serialTimer) return;
      serialTimer = win.setTimeout(() => {
        serialTimer = null;
        readSerial(menu || (select && select.menu));
      }, 100);
    }

    function ours(node) {
      const el = node.nodeType === 1 ? node : node.parentElement;
      return Boolean(el && el.closest(`[${adapter.MARK}]`));
    }

    function onMutations(records) {
      // Our own changes (the tooltip text, the entry's state) are not the page's; only added
      // elements can bring a menu, while any text may change the card serial shown.
      const page = records.filter((r) => !ours(r.target));
      if (!page.length) return;
      if (page.some((r) => [...r.addedNodes].some((n) => n.nodeType === 1 && !ours(n)))) place();
      scheduleSerial();
    }

    function start() {
      place();
      readSerial(menu || (select && select.menu));
      observer = new win.MutationObserver(onMutations);
      observer.observe(doc.body || doc.documentElement, { childList: true, subtree: true, characterData: true });
      win.addEventListener('keydown', onKeydown, true);
      for (const type of ['click', 'submit', 'change']) win.addEventListener(type, interceptSelect, true);
    }

    /** New `siteAdapter` settings (from policy): start again from them. */
    function setSettings(next) {
      const s = next && typeof next === 'object' ? { ...adapter.AUTO, ...next } : adapter.AUTO;
      if (JSON.stringify(s) === JSON.stringify(settings)) return;
      settings = s;
      decided = null;
      const control = o.ui.menuControl;
      const existing = control && control.closest(`[${adapter.MARK}="menu-item"]`);
      if (existing) existing.remove();
      if (select) select.option.remove();
      menu = null;
      select = null;
      place();
      readSerial(menu);
    }

    /** Before the dialog opens: close a pop-up menu the page would close on a click. */
    function beforeDialog() {
      if (menu && adapter.isPopup(menu)) adapter.closeMenu(menu);
    }

    /** After the dialog closes: focus back on the trigger when the entry has gone. */
    function afterDialog() {
      const active = doc.activeElement;
      if (active && active !== doc.body) return;
      const trigger = (menu && menu.trigger) || (select && select.menu.list);
      if (trigger && trigger.isConnected) trigger.focus();
    }

    return { start, place, setMenu, setSettings, beforeDialog, afterDialog, get settings() { return settings; } };
  }

  ns.placement = Object.freeze({ create, OPTION_VALUE });
})(globalThis);
