/**
 * What the extension draws in the dashboard page:
 * - the Renew Certificate menu item (in the page's list, copied from the page's own markup so
 *   it looks native), disabled with `aria-disabled` and its reason as `title` and as a tooltip
 *   referenced by `aria-describedby`, shown on hover and on focus;
 * - the fallback panel (when no menu is found on Manage Smartcard) and the dialog
 *   (confirmation, progress, done, failure), each inside a closed shadow root so the page's
 *   CSS and scripts cannot reach in. The passcode is never here: it has its own window.
 *
 * Only trusted user events act (a page script's `el.click()` is ignored). All text comes from
 * `t(key, subs)` (chrome.i18n) and goes in with textContent; styles go in through CSSOM so
 * the dashboard's Content-Security-Policy does not block them.
 *
 * Classic script; API on `globalThis.cisRenew.render`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.panel, dialog { font: 16px/1.5 Arial, "Helvetica Neue", sans-serif; color: #212b32; }
.panel { border: 1px solid #d8dde0; border-left: 6px solid #005eb8; background: #fff; padding: 16px 20px; margin: 16px 0; max-width: 40em; }
.panel h2 { font-size: 19px; margin: 0 0 8px; }
.panel p { margin: 0 0 12px; }
dialog { border: 0; border-top: 6px solid #005eb8; padding: 24px; width: min(40em, 94vw); max-height: 90vh; overflow: auto; box-shadow: 0 8px 32px rgba(0,0,0,.35); background: #fff; }
dialog::backdrop { background: rgba(33,43,50,.55); }
h2 { font-size: 22px; margin: 0 0 12px; }
p { margin: 0 0 12px; }
table { border-collapse: collapse; width: 100%; margin: 0 0 16px; font-size: 15px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d8dde0; vertical-align: top; }
td.subject { word-break: break-word; }
.buttons { display: flex; gap: 12px; flex-wrap: wrap; margin-top: 16px; }
button { font: inherit; font-weight: 600; padding: 8px 16px; border-radius: 4px; border: 2px solid #005eb8; cursor: pointer; background: #fff; color: #005eb8; }
button.primary { background: #007f3b; border-color: #007f3b; color: #fff; }
button[aria-disabled="true"] { background: #e8edee; border-color: #aeb7bd; color: #4c6272; cursor: not-allowed; }
button:focus-visible, button:focus { outline: 4px solid #ffeb3b; outline-offset: 0; box-shadow: 0 4px 0 #212b32; }
ol.steps { list-style: none; padding: 0; margin: 0 0 12px; }
ol.steps li { padding: 4px 0 4px 28px; position: relative; color: #4c6272; }
ol.steps li::before { content: "○"; position: absolute; left: 4px; }
ol.steps li[data-state="done"] { color: #007f3b; }
ol.steps li[data-state="done"]::before { content: "✓"; }
ol.steps li[data-state="current"] { color: #212b32; font-weight: 700; }
ol.steps li[data-state="current"]::before { content: "▶"; }
.live { font-weight: 600; }
.note { color: #4c6272; }
.error { border-left: 6px solid #d5281b; padding: 8px 12px; background: #fff5f5; }
.reason { color: #4c6272; font-size: 15px; }
.unchecked { font-size: 18px; font-weight: 700; border-left: 6px solid #ffb81c; background: #fff9e6; padding: 8px 12px; }
`;

  // The tooltip lives at the end of <body> (not inside the menu item, where it would become
  // part of the item's accessible name) and is placed next to the item when shown.
  const TIP_STYLE = {
    position: 'fixed', zIndex: '2147483647', display: 'none', maxWidth: '22em', padding: '6px 10px',
    background: '#212b32', color: '#fff', font: '14px/1.4 Arial, sans-serif', borderRadius: '4px',
    whiteSpace: 'normal', pointerEvents: 'none', textAlign: 'left', left: '0', top: '0',
  };

  let uid = 0;

  function styleShadow(doc, shadow) {
    const win = doc.defaultView;
    try {
      if (win && win.CSSStyleSheet && 'adoptedStyleSheets' in shadow) {
        const sheet = new win.CSSStyleSheet();
        sheet.replaceSync(CSS);
        shadow.adoptedStyleSheets = [sheet];
        return;
      }
    } catch {
      /* fall back to a <style> element */
    }
    const style = doc.createElement('style');
    style.textContent = CSS;
    shadow.appendChild(style);
  }

  function el(doc, tag, props, children) {
    const e = doc.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'text') e.textContent = v;
        else if (k === 'className') e.className = v;
        else e.setAttribute(k, v);
      }
    }
    for (const c of children || []) if (c) e.appendChild(c);
    return e;
  }

  /**
   * @param {Document} doc
   * @param {object} o
   * @param {(key: string, subs?: string[]) => string} o.t   message lookup
   * @param {(m: {key, subs}) => string} [o.tm]             message-object lookup
   * @param {(e: Event) => boolean} [o.trusted]             user-event check (default e.isTrusted)
   * @param {() => void} o.onRenew                          the user chose Renew Certificate
   * @param {(action: string) => void} o.onAction           'continue' | 'cancel' | 'dismiss' | 'close'
   * @param {(iso: string) => string} [o.fmt]               date format
   */
  function createUi(doc, o) {
    const t = o.t;
    const tm = (m) => t(m.key, m.subs);
    const trusted = o.trusted || ((e) => e.isTrusted === true);
    const fmt = o.fmt || ns.view.formatDate;
    const adapter = ns.adapter;

    let menuState = { enabled: false, reason: { key: 'menuChecking', subs: [] } };
    let menuItem = null; // { item, control, tip }
    let panel = null; // { host, button, reason }
    let dialog = null; // { host, shadow, dlg, kind, parts }
    let lastFocus = null;

    function activate(e) {
      if (e.type === 'keydown' && e.key !== 'Enter' && e.key !== ' ') return;
      e.preventDefault();
      e.stopPropagation();
      if (e.stopImmediatePropagation) e.stopImmediatePropagation();
      if (!trusted(e) || !menuState.enabled) return;
      lastFocus = e.currentTarget;
      o.onRenew();
    }

    // --- menu item ---

    /** Below the item, or above it when there is no room below; always inside the window. */
    function placeTip(tip, r, view) {
      const gap = 4;
      const height = tip.offsetHeight;
      const width = tip.offsetWidth;
      const below = r.bottom + gap;
      const top = below + height > view.innerHeight && r.top - gap - height >= 0 ? r.top - gap - height : below;
      const left = Math.min(Math.max(0, r.left), Math.max(0, view.innerWidth - width));
      tip.style.left = `${Math.round(left)}px`;
      tip.style.top = `${Math.round(top)}px`;
    }

    function attachMenu(menu) {
      const existing = adapter.existingItem(menu.list);
      if (menuItem && existing === menuItem.item) return false;
      if (existing) existing.remove();
      const { item, control } = adapter.buildItem(doc, menu, t('menuRenew'));
      if (menuItem && menuItem.tip) menuItem.tip.remove();
      const tip = el(doc, 'div', { role: 'tooltip', id: `cis-renew-tip-${++uid}`, [adapter.MARK]: 'tooltip' });
      Object.assign(tip.style, TIP_STYLE);
      doc.body.appendChild(tip);
      const show = () => {
        if (menuState.enabled || !tip.textContent) return;
        tip.style.display = 'block';
        placeTip(tip, control.getBoundingClientRect(), doc.defaultView);
      };
      const hide = () => {
        tip.style.display = 'none';
      };
      control.addEventListener('click', activate, true);
      control.addEventListener('keydown', activate, true);
      control.addEventListener('mouseenter', show);
      control.addEventListener('focus', show);
      control.addEventListener('mouseleave', hide);
      control.addEventListener('blur', hide);
      menuItem = { item, control, tip, disabledClass: adapter.disabledClass(menu.list), pageStyles: adapter.stylesDisabledItems(doc), list: menu.list };
      menu.list.insertBefore(item, menu.before && menu.before.parentNode === menu.list ? menu.before : null); // beside the page's services
      applyMenuState();
      return true;
    }

    function menuAttached() {
      return Boolean(menuItem && menuItem.item.isConnected);
    }

    function applyMenuState() {
      const reason = menuState.reason ? tm(menuState.reason) : '';
      if (menuItem) {
        const { control, tip, disabledClass, pageStyles } = menuItem;
        if (menuState.enabled) {
          control.removeAttribute('aria-disabled');
          control.removeAttribute('title');
          control.removeAttribute('aria-describedby');
          if (disabledClass) control.classList.remove(disabledClass);
          control.style.opacity = '';
          control.style.cursor = '';
          if (tip.textContent) tip.textContent = '';
          tip.style.display = 'none';
        } else {
          control.setAttribute('aria-disabled', 'true');
          control.setAttribute('title', reason);
          control.setAttribute('aria-describedby', tip.id);
          if (disabledClass) control.classList.add(disabledClass);
          else if (!pageStyles) {
            control.style.opacity = '0.6';
            control.style.cursor = 'not-allowed';
          }
          if (tip.textContent !== reason) tip.textContent = reason; // no needless DOM mutations
          if (doc.activeElement !== control) tip.style.display = 'none';
        }
      }
      if (panel) {
        panel.button.setAttribute('aria-disabled', menuState.enabled ? 'false' : 'true');
        panel.reason.textContent = reason;
        panel.reason.hidden = !reason;
      }
    }

    function setMenu(state) {
      menuState = state;
      applyMenuState();
    }

    // --- fallback panel ---

    function showPanel(anchor) {
      if (panel && panel.host.isConnected) return;
      const host = el(doc, 'div', { [adapter.MARK]: 'panel' });
      const shadow = host.attachShadow({ mode: 'closed' });
      styleShadow(doc, shadow);
      const headingId = `cis-renew-panel-h-${++uid}`;
      const reasonId = `cis-renew-panel-r-${uid}`;
      const button = el(doc, 'button', { type: 'button', className: 'primary', 'aria-describedby': reasonId, text: t('menuRenew') });
      const reason = el(doc, 'p', { id: reasonId, className: 'reason' });
      const section = el(doc, 'section', { className: 'panel', 'aria-labelledby': headingId }, [
        el(doc, 'h2', { id: headingId, text: t('panelTitle') }),
        el(doc, 'p', { text: t('panelIntro') }),
        reason,
        button,
      ]);
      button.addEventListener('click', activate, true);
      shadow.appendChild(section);
      if (anchor && anchor.parentNode && anchor !== doc.body) anchor.parentNode.insertBefore(host, anchor.nextSibling);
      else doc.body.appendChild(host);
      panel = { host, shadow, button, reason };
      applyMenuState();
    }

    function hidePanel() {
      if (panel) panel.host.remove();
      panel = null;
    }

    // --- dialog ---

    function ensureDialog() {
      if (dialog && dialog.host.isConnected) return dialog;
      const host = el(doc, 'div', { [adapter.MARK]: 'dialog' });
      const shadow = host.attachShadow({ mode: 'closed' });
      styleShadow(doc, shadow);
      const headingId = `cis-renew-dlg-h-${++uid}`;
      const dlg = el(doc, 'dialog', { 'aria-labelledby': headingId, 'aria-modal': 'true' });
      dlg.addEventListener('cancel', (e) => {
        e.preventDefault();
        o.onAction('escape');
      });
      dlg.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          e.stopPropagation();
          o.onAction('escape');
        }
      });
      shadow.appendChild(dlg);
      doc.body.appendChild(host);
      dialog = { host, shadow, dlg, headingId, kind: null, parts: {} };
      return dialog;
    }

    function openDialog(d) {
      if (d.dlg.open) return;
      if (!lastFocus) lastFocus = doc.activeElement;
      if (typeof d.dlg.showModal === 'function') {
        try {
          d.dlg.showModal();
          return;
        } catch {
          /* not connected or unsupported */
        }
      }
      d.dlg.setAttribute('open', '');
    }

    function closeDialog() {
      if (!dialog) return;
      dialog.host.remove();
      dialog = null;
      const back = lastFocus;
      lastFocus = null;
      if (back && back.isConnected && typeof back.focus === 'function') back.focus();
      else if (menuItem && menuItem.control.isConnected) menuItem.control.focus();
    }

    function button(label, action, primary) {
      const b = el(doc, 'button', { type: 'button', className: primary ? 'primary' : undefined, text: label, 'data-action': action });
      b.addEventListener('click', (e) => {
        if (!trusted(e) || b.getAttribute('aria-disabled') === 'true') return;
        o.onAction(action);
      });
      return b;
    }

    function certTable(certs) {
      const rows = (certs || []).map((c) =>
        el(doc, 'tr', null, [
          el(doc, 'td', { text: t(ns.view.roleKey(c.role)) }),
          el(doc, 'td', { className: 'subject', text: c.subject || '' }),
          el(doc, 'td', {
            text: Number.isInteger(c.daysLeft) ? t('dlgExpiresIn', [fmt(c.notAfter), String(c.daysLeft)]) : fmt(c.notAfter),
          }),
        ]),
      );
      return el(doc, 'table', null, [
        el(doc, 'thead', null, [
          el(doc, 'tr', null, [
            el(doc, 'th', { scope: 'col', text: t('dlgColRole') }),
            el(doc, 'th', { scope: 'col', text: t('dlgColSubject') }),
            el(doc, 'th', { scope: 'col', text: t('dlgColExpires') }),
          ]),
        ]),
        el(doc, 'tbody', null, rows),
      ]);
    }

    function rebuild(d, kind, children, focusAction) {
      d.dlg.textContent = '';
      d.kind = kind;
      for (const c of children) if (c) d.dlg.appendChild(c);
      openDialog(d);
      const target = focusAction && d.dlg.querySelector(`button[data-action="${focusAction}"]`);
      if (target) target.focus();
    }

    function heading(d, key) {
      return el(doc, 'h2', { id: d.headingId, text: t(key) });
    }

    /**
     * Shows `model` (null closes): {kind:'confirm', card} | {kind:'progress', renewal} |
     * {kind:'done', renewal} | {kind:'failed', error} | {kind:'cancelled'}.
     */
    function setDialog(model) {
      if (!model) return closeDialog();
      const d = ensureDialog();
      switch (model.kind) {
        case 'confirm': {
          if (d.kind === 'confirm') return;
          const card = model.card;
          rebuild(
            d,
            'confirm',
            [
              heading(d, 'dlgConfirmTitle'),
              el(doc, 'p', { text: t('dlgConfirmIntro') }),
              el(doc, 'p', { text: t('dlgCard', [(card.token && card.token.label) || '', card.reader || '']) }),
              // cardUnchecked (placement): the page shows no serial to compare with the reader's.
              model.cardUnchecked ? el(doc, 'p', { className: 'unchecked', 'data-part': 'card-unchecked', text: t('dlgCardUnchecked', [ns.view.cardHolder(card), String((card.token && card.token.serial) || '')]) }) : null,
              certTable(card.certificates),
              el(doc, 'div', { className: 'buttons' }, [button(t('dlgContinue'), 'continue', true), button(t('dlgCancel'), 'close')]),
            ],
            'continue',
          );
          return;
        }
        case 'progress':
          return progress(d, model.renewal);
        case 'done': {
          if (d.kind === 'done') return;
          const certs = model.renewal.result && model.renewal.result.card ? model.renewal.result.card.certificates : [];
          rebuild(
            d,
            'done',
            [
              heading(d, 'dlgDoneTitle'),
              el(doc, 'p', { role: 'status', text: t('dlgDoneIntro') }),
              certTable(certs),
              el(doc, 'div', { className: 'buttons' }, [button(t('dlgClose'), 'dismiss', true)]),
            ],
            'dismiss',
          );
          return;
        }
        case 'failed': {
          const text = tm(ns.view.errorMessage(model.error, fmt));
          if (d.kind === 'failed' && d.parts.text === text) return;
          d.parts.text = text;
          rebuild(
            d,
            'failed',
            [
              heading(d, 'dlgFailedTitle'),
              el(doc, 'p', { role: 'alert', className: 'error', text }),
              el(doc, 'div', { className: 'buttons' }, [button(t('dlgClose'), 'dismiss', true)]),
            ],
            'dismiss',
          );
          return;
        }
        case 'cancelled': {
          if (d.kind === 'cancelled') return;
          rebuild(
            d,
            'cancelled',
            [
              heading(d, 'dlgCancelledTitle'),
              el(doc, 'p', { role: 'status', text: t('dlgCancelledText') }),
              el(doc, 'div', { className: 'buttons' }, [button(t('dlgClose'), 'dismiss', true)]),
            ],
            'dismiss',
          );
          return;
        }
        default:
          closeDialog();
      }
    }

    function progress(d, r) {
      if (d.kind !== 'progress') {
        const list = el(doc, 'ol', { className: 'steps', 'aria-label': t('dlgStepsLabel') });
        const items = {};
        for (const g of ns.view.STEP_GROUPS) {
          items[g.id] = el(doc, 'li', { text: t(g.key), 'data-step': g.id });
          list.appendChild(items[g.id]);
        }
        const live = el(doc, 'p', { className: 'live', role: 'status', 'aria-live': 'polite' });
        const note = el(doc, 'p', { className: 'note' });
        const cancel = button(t('dlgCancel'), 'cancel');
        d.parts = { list, items, live, note, cancel, lastLive: null };
        rebuild(d, 'progress', [heading(d, 'dlgBusyTitle'), list, live, note, el(doc, 'div', { className: 'buttons' }, [cancel])], 'cancel');
      }
      const p = d.parts;
      for (const g of ns.view.checklist(r.step)) {
        p.items[g.id].setAttribute('data-state', g.state);
        if (g.state === 'current') p.items[g.id].setAttribute('aria-current', 'step');
        else p.items[g.id].removeAttribute('aria-current');
      }
      let live;
      if (r.cancelling) live = t('dlgCancelling');
      else if (r.phase === 'awaitingPin') live = t('dlgPinWaiting');
      else live = tm(ns.view.stepMessage(r.step, r.pinPad));
      if (live !== p.lastLive) {
        p.live.textContent = live;
        p.lastLive = live;
      }
      const pinError = r.phase === 'awaitingPin' && r.error ? tm(ns.view.errorMessage(r.error, fmt)) : '';
      p.note.textContent = r.phase === 'completing' ? t('dlgNoCancel') : pinError;
      p.cancel.setAttribute('aria-disabled', r.canCancel ? 'false' : 'true');
      p.cancel.hidden = r.phase === 'completing';
    }

    function dialogKind() {
      return dialog ? dialog.kind : null;
    }

    return { attachMenu, menuAttached, setMenu, showPanel, hidePanel, setDialog, dialogKind, get menuControl() { return menuItem && menuItem.control; } };
  }

  ns.render = Object.freeze({ createUi, CSS });
})(globalThis);
