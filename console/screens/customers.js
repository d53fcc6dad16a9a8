// Customers (seed 004): the list with column settings (which columns, in which order; kept in this
// browser), paging, create a customer, and the link to each customer's detail page.
import { api, enc } from '../api.js';
import { h, field, input, showError, formError, flash, dialog, clearErrors } from '../ui.js';

const KEY = 'cg-console-customer-columns';
export const COLUMNS = {
  name: ['Name', (c) => h('a', { href: `#/customers/${enc(c.id)}` }, c.name || c.id)],
  id: ['Id', (c) => c.id],
  email: ['Email', (c) => c.email],
  phone: ['Phone', (c) => c.phone],
  external_id: ['External id', (c) => c.external_id],
  order_number: ['Order number', (c) => c.order_number],
  signup_date: ['Signup date', (c) => c.signup_date],
  registration_date: ['Registration date', (c) => c.registration_date],
  tags: ['Tags', (c) => (c.tags || []).join(', ')],
  groups: ['Groups', (c) => String((c.groups || []).length)],
  subscriptions: ['Subscriptions', (c) => (c.subscriptions || []).map((s) => `${s.application}/${s.plan || ''} ${s.status}`).join('; ')],
  created_at: ['Created', (c) => c.created_at],
};
const DEFAULT = ['name', 'email', 'phone', 'order_number', 'signup_date', 'tags'];

export function columns() {
  try { const v = JSON.parse(localStorage.getItem(KEY)); if (Array.isArray(v) && v.every((k) => COLUMNS[k])) return v; } catch { /* default */ }
  return DEFAULT;
}

export async function render(root) {
  const list = h('div', {});
  root.append(
    h('div', { class: 'title-row' }, h('h1', {}, 'Customers'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => createDialog() }, 'Create customer'),
        h('a', { class: 'button secondary', href: '#/imports' }, 'Import customers'),
        h('button', { type: 'button', class: 'secondary', onclick: () => columnDialog(() => load()) }, 'Settings column'))),
    list);
  let cursor = null;
  const stack = [];
  async function load(dir = 0) {
    if (dir > 0) stack.push(cursor); else if (dir < 0) { stack.pop(); } else stack.length = 0;
    const at = stack.length ? stack[stack.length - 1] : null;
    const page = await api('GET', `/customers?limit=25${at ? '&cursor=' + enc(at) : ''}`);
    cursor = page.next_cursor;
    const cols = columns();
    list.replaceChildren(
      h('table', {}, h('caption', { class: 'visually-hidden' }, 'Customers'),
        h('thead', {}, h('tr', {}, cols.map((k) => h('th', { scope: 'col' }, COLUMNS[k][0])))),
        h('tbody', {}, page.items.length ? page.items.map((c) => h('tr', {}, cols.map((k) => h('td', { 'data-label': COLUMNS[k][0] }, COLUMNS[k][1](c) ?? ''))))
          : h('tr', {}, h('td', { colspan: String(cols.length) }, 'No customers yet.')))),
      h('div', { class: 'actions' },
        stack.length ? h('button', { type: 'button', class: 'secondary', onclick: () => load(-1) }, 'Previous page') : null,
        cursor ? h('button', { type: 'button', class: 'secondary', onclick: () => load(1) }, 'Next page') : null));
  }
  await load();

  function createDialog() {
    dialog('Create customer', (close) => {
      const form = h('form', { novalidate: true, class: 'stack' },
        ['name', 'email', 'phone', 'external_id', 'order_number'].map((k) =>
          field(COLUMNS[k][0], input({ name: k, type: k === 'email' ? 'email' : 'text', autocomplete: 'off' }), { name: k })),
        field('Signup date', input({ name: 'signup_date', type: 'date' }), { name: 'signup_date' }),
        field('Tags (comma separated)', input({ name: 'tags' }), { name: 'tags' }),
        formError(),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create'), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        const body = {};
        for (const k of ['name', 'email', 'phone', 'external_id', 'order_number', 'signup_date']) {
          if (form.elements[k].value.trim()) body[k] = form.elements[k].value.trim();
        }
        const tags = form.elements.tags.value.split(',').map((x) => x.trim()).filter(Boolean);
        if (tags.length) body.tags = tags;
        try {
          const c = await api('POST', '/customers', body);
          close();
          flash(`Customer ${c.name || c.id} created.`);
          await load();
        } catch (e) { showError(form, e); }
      });
      return form;
    });
  }
}

/** Column settings: tick the columns to show and order them (moved with buttons, so by keyboard too). */
function columnDialog(onSave) {
  dialog('Settings column', (close) => {
    const chosen = columns().slice();
    const box = h('div', {});
    const draw = () => box.replaceChildren(h('ol', { class: 'columns' }, [...chosen, ...Object.keys(COLUMNS).filter((k) => !chosen.includes(k))].map((k) => {
      const on = chosen.includes(k);
      const i = chosen.indexOf(k);
      const cb = h('input', { type: 'checkbox', id: `col-${k}`, checked: on });
      cb.addEventListener('change', () => { if (cb.checked) chosen.push(k); else chosen.splice(chosen.indexOf(k), 1); draw(); document.getElementById(`col-${k}`).focus(); });
      const move = (d) => { chosen.splice(i, 1); chosen.splice(i + d, 0, k); draw(); };
      return h('li', {}, cb, h('label', { for: `col-${k}` }, COLUMNS[k][0]),
        on && i > 0 ? h('button', { type: 'button', class: 'secondary small', 'aria-label': `Move ${COLUMNS[k][0]} up`, onclick: () => move(-1) }, '↑') : null,
        on && i < chosen.length - 1 ? h('button', { type: 'button', class: 'secondary small', 'aria-label': `Move ${COLUMNS[k][0]} down`, onclick: () => move(1) }, '↓') : null);
    })));
    draw();
    return h('div', { class: 'stack' }, h('p', {}, 'Tick the columns to show; order them with the arrows.'), box,
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => { localStorage.setItem(KEY, JSON.stringify(chosen.length ? chosen : DEFAULT)); close(); onSave(); } }, 'Save'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { localStorage.removeItem(KEY); close(); onSave(); } }, 'Reset'),
        h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')));
  });
}
