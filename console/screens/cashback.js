// Balances (issue 15, seed 001's cashback): the group page's Cashback tab (a balance operation on
// every member, with its progress until done) and, on the customer detail page, the balances, the
// ledger (newest first, paged) and a single adjustment. Both forms send the same `BalanceChange`
// body with an idempotency key made per submit, so a double click or a retried request never
// changes a balance twice, while a second submit is a new change.
import { api, enc, poll } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, fmtTime, clearErrors, progressBar, uid } from '../ui.js';

const UNITS = ['EUR', 'USD', 'UAH', 'GBP', 'PLN', 'points'];

/** An amount in minor units as text in its unit (cents shown as 5.00 EUR; points whole). */
export function money(minor, unit) {
  if (unit === 'points') return `${minor} points`;
  const n = Number(minor);
  const sign = n < 0 ? '−' : '';
  const abs = Math.abs(n);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')} ${unit}`;
}

/** A new idempotency key for one submit of a form. */
function newKey(prefix) {
  const rnd = (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);
  return `${prefix}-${rnd}`;
}

/**
 * The fields of a balance change: set/adjust, unit, amount (minor units), comment, allow negative.
 * `read()` returns the request body (without the key); `form` holds the error slots.
 */
function changeForm(title, submitLabel) {
  const listId = uid('units');
  const type = select([['adjust', 'Adjust (add; negative deducts)'], ['set', 'Set (replace the balance)']], { name: 'type' });
  const unit = input({ name: 'unit', value: 'EUR', list: listId, autocomplete: 'off', spellcheck: 'false' });
  const amount = input({ name: 'amount', type: 'number', step: '1', inputmode: 'numeric' });
  const comment = h('textarea', { name: 'comment', rows: '2', maxlength: '500' });
  const negative = h('input', { type: 'checkbox', name: 'allow_negative' });
  const form = h('form', { novalidate: true, class: 'stack balance-form' }, h('h2', {}, title),
    h('datalist', { id: listId }, UNITS.map((u) => h('option', { value: u }))),
    h('div', { class: 'row' },
      field('Operation', type, { name: 'type' }),
      field('Unit', unit, { name: 'unit', hint: 'ISO 4217 code (EUR, UAH...) or points' }),
      field('Amount (minor units)', amount, { name: 'amount', hint: 'cents for currencies: 500 = 5.00 EUR' })),
    field('Comment (required)', comment, { name: 'comment' }),
    h('div', { class: 'field checkbox' }, h('label', {}, negative, ' Allow the balance to go below zero'),
      h('p', { class: 'field-error', 'data-error-for': 'allow_negative' })),
    h('p', { class: 'field-error', 'data-error-for': 'idempotency_key' }),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, submitLabel)));
  // The request body, or a thrown field error (shown like the API's 422) for an amount that is not
  // a whole number: JSON cannot carry it as the integer the API requires.
  form.read = () => {
    const raw = amount.value.trim();
    const u = unit.value.trim();
    return {
      type: type.value,
      unit: u.toLowerCase() === 'points' ? 'points' : u.toUpperCase(),
      amount: /^-?\d+$/.test(raw) ? Number(raw) : null,
      comment: comment.value,
      allow_negative: negative.checked,
    };
  };
  form.body = () => {
    const b = form.read();
    if (b.amount === null) throw Object.assign(new Error('Enter a whole number of minor units (e.g. 500 or -250).'), { field: 'amount' });
    return b;
  };
  return form;
}

/** The group page's Cashback tab: one operation on every member, then its progress and outcome. */
export async function cashbackTab(panel, g) {
  const form = changeForm(`Cashback for the members of ${g.name}`, 'Apply to every member');
  const out = h('div', { class: 'jobs', 'aria-live': 'polite' });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const op = await api('POST', `/groups/${enc(g.id)}/balance-operations`, { ...form.body(), idempotency_key: newKey('console') });
      await follow(op, out);
    } catch (e) { showError(form, e); } finally { button.disabled = false; }
  });
  panel.append(form, out);
}

/** Polls one balance operation to its end, showing the bar and then the counts and rejections. */
async function follow(op, out) {
  const bar = progressBar(`Balance operation ${op.id}`);
  const result = h('div', { class: 'operation-result' });
  const box = h('section', { class: 'operation', 'data-operation': op.id }, bar, result);
  out.prepend(box);
  const show = (o) => {
    const c = o.counts || { applied: 0, unchanged: 0, rejected: 0 };
    const frac = o.status === 'done' ? 1 : (o.progress ?? (o.members_total ? o.members_done / o.members_total : 0));
    bar.set(frac, `${o.status}: ${o.members_done} of ${o.members_total ?? '?'} members`);
    result.replaceChildren(h('p', { class: 'count' },
      `${o.status === 'done' ? '✓ Done' : o.status === 'failed' ? '✗ Failed' : '… Running'}: ` +
      `${c.applied} applied, ${c.unchanged} unchanged, ${c.rejected} rejected` + (o.last_error ? ` (${o.last_error})` : '')));
    const reasons = Object.entries(o.rejected_by_reason || {});
    if (reasons.length) {
      result.append(h('ul', { class: 'rejected-reasons', 'aria-label': 'Rejected by reason' },
        reasons.map(([r, n]) => h('li', {}, `✗ ${r}: ${n}`))));
    }
    if ((o.rejected || []).length) {
      result.append(table([
        { label: 'Customer', value: (r) => h('a', { href: `#/customers/${enc(r.customer_id)}` }, r.customer_id) },
        { label: 'Reason', value: (r) => r.reason },
        { label: 'Balance', value: (r) => money(r.balance, o.unit) },
      ], o.rejected, 'Rejected members'));
    }
  };
  show(op);
  const final = await poll(`/balance-operations/${enc(op.id)}`, (o) => o.status !== 'running', show);
  flash(final.status === 'done' ? 'Balance operation done.' : 'Balance operation failed.', final.status !== 'done');
  return final;
}

/** The customer detail page's balances, ledger and single adjustment. */
export async function customerBalances(root, c) {
  const balances = Object.entries(c.balances || {}).sort(([a], [b]) => a.localeCompare(b));
  root.append(h('section', { 'aria-labelledby': 'bal-h', id: 'balances' }, h('h2', { id: 'bal-h' }, 'Balances'),
    balances.length
      ? h('dl', { class: 'facts balances' }, balances.flatMap(([u, v]) => [h('dt', {}, u), h('dd', { 'data-unit': u }, money(v, u))]))
      : h('p', {}, 'No balance yet.')));

  const form = changeForm('Adjust the balance', 'Apply');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    try {
      const r = await api('POST', `/customers/${enc(c.id)}/balance-adjustments`, { ...form.body(), idempotency_key: newKey('console') });
      flash(r.status === 'applied' ? 'Balance changed.' : 'Unchanged: the balance already has that value.');
      location.reload();
    } catch (e) { showError(form, e); }
  });
  root.append(h('section', { 'aria-label': 'Balance adjustment' }, form));

  const list = h('div', {});
  root.append(h('section', { 'aria-labelledby': 'led-h', id: 'ledger' }, h('h2', { id: 'led-h' }, 'Balance ledger'), list));
  let cursor = null;
  async function load(more = false) {
    const page = await api('GET', `/customers/${enc(c.id)}/ledger?limit=20${more && cursor ? '&cursor=' + enc(cursor) : ''}`);
    const rows = table([
      { label: 'When', value: (e) => fmtTime(e.at) },
      { label: 'Change', value: (e) => (e.delta > 0 ? '+' : '') + money(e.delta, e.unit) },
      { label: 'Balance', value: (e) => `${money(e.balance_before, e.unit)} → ${money(e.balance_after, e.unit)}` },
      { label: 'Comment', value: (e) => e.comment },
      { label: 'Operation', value: (e) => (e.operation_kind === 'group_operation'
        ? h('span', {}, 'group ', h('a', { href: `#/groups/${enc(e.group_id)}?tab=cashback` }, e.group_id))
        : 'adjustment') },
      { label: 'By', value: (e) => e.actor },
    ], page.items, 'Ledger entries, newest first');
    cursor = page.next_cursor;
    if (more) list.append(rows); else list.replaceChildren(rows);
    if (cursor) list.append(h('button', { type: 'button', class: 'secondary', onclick: (e) => { e.target.remove(); load(true); } }, 'More entries'));
  }
  await load();
}
