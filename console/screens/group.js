// One group: its members (the Customers tab: add and delete for a static group), its definition,
// history of entries and exits, and "why is this customer in this group" (explain).
import { api, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, fmtTime, clearErrors } from '../ui.js';
import { resync, exportGroup } from './groups.js';
import { showReport } from './group-edit.js';
import { cashbackTab } from './cashback.js';

export async function render(root, { id, query }) {
  const g = await api('GET', `/groups/${enc(id)}`);
  const jobs = h('div', { class: 'jobs' });
  const status = h('span', {}, g.type === 'dynamic' && g.sync ? g.sync.status : 'static');
  const members = h('span', {}, String(g.member_count));
  const last = h('span', {}, g.sync ? fmtTime(g.sync.last_synced_at) : '');
  root.append(
    h('p', {}, h('a', { href: '#/groups' }, '← Customer groups')),
    h('div', { class: 'title-row' }, h('h1', {}, g.name),
      h('div', { class: 'actions' },
        h('a', { class: 'button secondary', href: `#/groups/${enc(g.id)}/edit` }, 'Edit'),
        g.type === 'dynamic' ? h('button', { type: 'button', class: 'secondary', onclick: () => resync(g, { status, members, last, jobs }) }, 'Resync') : null,
        h('button', { type: 'button', class: 'secondary', onclick: () => exportGroup(g, 'csv', jobs) }, 'Export CSV'),
        h('button', { type: 'button', class: 'secondary', onclick: () => exportGroup(g, 'json', jobs) }, 'Export JSON'))),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Type'), h('dd', {}, g.type),
      h('dt', {}, 'Members'), h('dd', { id: 'member-count' }, members),
      h('dt', {}, 'Sync status'), h('dd', {}, status),
      h('dt', {}, 'Last synced'), h('dd', {}, last)),
    jobs);

  const tabs = [['customers', 'Customers'], ['definition', 'Definition'], ['history', 'History'], ['explain', 'Explain'], ['cashback', 'Cashback']]
    .filter(([k]) => g.type === 'dynamic' || k !== 'definition' && k !== 'explain');
  const active = query.get('tab') || 'customers';
  const panel = h('div', { role: 'tabpanel', id: 'tab-panel', tabindex: '0', 'aria-labelledby': `tab-${active}` });
  const tablist = h('div', { role: 'tablist', 'aria-label': 'Group' }, tabs.map(([k, label]) =>
    h('a', { role: 'tab', id: `tab-${k}`, href: `#/groups/${enc(g.id)}?tab=${k}`, 'aria-selected': String(k === active), 'aria-controls': 'tab-panel' }, label)));
  root.append(tablist, panel);
  await ({ customers, definition, history, explain, cashback: cashbackTab }[active] || customers)(panel, g);
}

async function customers(panel, g) {
  const list = h('div', {});
  if (g.type === 'static') {
    const box = h('textarea', { name: 'entries', rows: '4', spellcheck: 'false' });
    const by = select([['phones', 'Phone numbers'], ['emails', 'Emails'], ['customer_ids', 'Customer ids']], { name: 'by' });
    const report = h('div', { class: 'report', 'aria-live': 'polite' });
    const form = h('form', { novalidate: true, class: 'stack' }, h('h2', {}, 'Add customers'),
      field('Identify customers by', by),
      h('div', { class: 'side-by-side' }, field('Customers to add, one per line', box, { name: 'members' }), report),
      formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const lines = box.value.split('\n').map((x) => x.trim()).filter(Boolean);
      const body = by.value === 'phones' ? { phones: box.value } : { [by.value]: lines };
      try {
        const r = await api('POST', `/groups/${enc(g.id)}/members`, body);
        showReport(report, r);
        await load();
      } catch (e) { showError(form, e); }
    });
    panel.append(form);
  }
  panel.append(h('h2', {}, 'Members'), list);
  let cursor = null;
  async function load(more = false) {
    if (!more) cursor = null;
    const page = await api('GET', `/groups/${enc(g.id)}/members?limit=50${cursor ? '&cursor=' + enc(cursor) : ''}`);
    const rows = table([
      { label: 'Name', value: (m) => h('a', { href: `#/customers/${enc(m.customer_id)}` }, m.name || m.customer_id) },
      { label: 'Phone', value: (m) => m.phone },
      { label: 'Email', value: (m) => m.email },
      { label: 'Order number', value: (m) => m.order_number },
      { label: 'Signup date', value: (m) => m.signup_date },
      ...(g.type === 'static' ? [{ label: 'Delete', value: (m) => h('button', { type: 'button', class: 'secondary danger', 'aria-label': `Delete ${m.name || m.customer_id} from the group`, onclick: async () => {
        try { await api('DELETE', `/groups/${enc(g.id)}/members/${enc(m.customer_id)}`); flash('Removed from the group.'); await load(); } catch (e) { flash(e.message, true); }
      } }, 'Delete') }] : []),
    ], page.items, `Members of ${g.name}`);
    cursor = page.next_cursor;
    if (more) list.append(rows); else list.replaceChildren(rows);
    if (cursor) list.append(h('button', { type: 'button', class: 'secondary', onclick: (e) => { e.target.remove(); load(true); } }, 'More members'));
  }
  await load();
}

async function definition(panel, g) {
  panel.append(...[h('h2', {}, 'Definition'),
    g.template ? h('p', {}, `Template: ${g.template}`) : null,
    h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Rules as JSON' }, JSON.stringify(g.condition_groups || g.rules, null, 2)),
    g.settings ? h('p', {}, `Renewing ${g.settings.renewing_days} days, expiring ${g.settings.expiring_days} days, inactive ${g.settings.inactive_days} days.`) : null,
    h('p', {}, h('a', { class: 'button', href: `#/groups/${enc(g.id)}/edit` }, 'Edit the rules'))].filter(Boolean));
}

async function history(panel, g) {
  const page = await api('GET', `/groups/${enc(g.id)}/history?limit=100`);
  panel.append(h('h2', {}, 'History'), table([
    { label: 'When', value: (e) => fmtTime(e.at) },
    { label: 'Customer', value: (e) => h('a', { href: `#/customers/${enc(e.customer_id)}` }, e.customer_id) },
    { label: 'Change', value: (e) => (e.change === 'entered' ? '→ entered' : '← left') },
    { label: 'Why', value: (e) => e.reason },
  ], page.items, 'Entries and exits, newest first'));
}

async function explain(panel, g) {
  const who = input({ name: 'customer_id', autocomplete: 'off' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { novalidate: true, class: 'stack' }, h('h2', {}, 'Why is this customer in this group?'),
    field('Customer id', who, { name: 'customer_id' }), formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Explain')), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    try {
      const x = await api('GET', `/groups/${enc(g.id)}/explain/${enc(who.value.trim())}`);
      out.replaceChildren(
        h('p', { class: 'count' }, `${x.matched ? '✓ Matches' : '✗ Does not match'} the rules; ${x.is_member ? 'is' : 'is not'} a member.` +
          (x.next_change ? ` The answer can next change at ${fmtTime(x.next_change)}.` : '')),
        tree(x.tree));
    } catch (e) { out.replaceChildren(); showError(form, e.status === 404 ? { ...e, message: e.message, field: 'customer_id' } : e); }
  });
  panel.append(form);
}

function tree(n) {
  return h('ul', { class: 'tree' }, h('li', {},
    h('span', { class: n.matched ? 'yes' : 'no' }, n.matched ? '✓ ' : '✗ '),
    h('code', {}, n.kind), ' ', h('small', {}, n.path),
    !n.children && n.node ? h('code', { class: 'node' }, ' ' + JSON.stringify(n.node)) : null,
    (n.children || []).map(tree)));
}
