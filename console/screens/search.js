// Customer search (issue 14, seed 004's advanced filter): saved filters on the left (open, copy,
// delete); the simple filter (name prefix, email, phone) and the condition-group editor, then Search
// (pages sorted by id or by created time, either direction; a short page can still have more), Count
// (a large tenant's count job with its progress), Save filter and Save as group
// (dynamic: the filter's rules kept current; static: the customers matching now), and the bulk actions
// on the matches (modify, delete, export).
import { api, all, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, clearErrors, dialog } from '../ui.js';
import { conditionEditor } from '../rules-editor.js';
import { modifyMatching, deleteMatching, exportMatching, followCount } from '../bulk-actions.js';

const FIELDS = ['name', 'email', 'phone', 'tags', 'created_at'];
const SIMPLE = [['name_prefix', 'Name starts with'], ['email', 'Email (exact)'], ['phone', 'Phone (exact)']];

export async function render(root, { query }) {
  const [filters, groups] = await Promise.all([all('/filters'), all('/groups').catch(() => [])]);
  const chosen = filters.find((f) => f.id === query.get('filter'));
  const saved = chosen ? chosen.filter : {};
  const editor = conditionEditor(saved.condition_groups || (saved.rules ? [[saved.rules]] : [[{ all_customers: {} }]]), groups);
  const simple = Object.fromEntries(SIMPLE.map(([k]) => [k, input({ name: `simple.${k}`, value: (saved.simple || {})[k] || '' })]));
  const results = h('div', { id: 'results', 'aria-live': 'polite' });
  const filterName = input({ name: 'name', value: chosen ? `${chosen.name} (edited)` : '' });
  const count = h('p', { class: 'count', id: 'search-count', 'aria-live': 'polite' });
  const bulkStatus = h('p', { class: 'count', id: 'bulk-status', 'aria-live': 'polite' });
  const sort = select([['id', 'Customer id'], ['created_at', 'Created time']], { name: 'sort' });
  const order = select([['asc', 'Ascending (oldest first)'], ['desc', 'Descending (newest first)']], { name: 'order' });
  const form = h('form', { novalidate: true, class: 'stack' },
    h('div', { class: 'row' }, SIMPLE.map(([k, label]) => field(label, simple[k], { name: `simple.${k}` }))),
    h('div', { class: 'editor-slot' }, editor.el),
    h('div', { class: 'row' }, field('Sort by', sort, { name: 'sort' }), field('Order', order, { name: 'order' })),
    field('Filter name (to save it)', filterName, { name: 'name' }),
    formError(),
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Search'),
      h('button', { type: 'button', class: 'secondary', onclick: () => doCount() }, 'Count'),
      h('button', { type: 'button', class: 'secondary', onclick: () => saveFilter() }, chosen ? 'Save as a new filter' : 'Save filter'),
      h('button', { type: 'button', class: 'secondary', onclick: () => saveGroup() }, 'Save as group'),
      // Bulk actions (issue 14).
      h('button', { type: 'button', class: 'secondary', onclick: () => modifyMatching(filterBody, bulkStatus) }, 'Modify matching'),
      h('button', { type: 'button', class: 'secondary danger', onclick: () => deleteMatching(filterBody, bulkStatus) }, 'Delete matching'),
      h('button', { type: 'button', class: 'secondary', onclick: () => exportMatching(filterBody, bulkStatus) }, 'Export matching')),
    count, bulkStatus);

  function filterBody() {
    const body = { condition_groups: editor.value() };
    const s = {};
    for (const [k] of SIMPLE) if (simple[k].value.trim()) s[k] = simple[k].value.trim();
    if (Object.keys(s).length) body.simple = s;
    return body;
  }
  let cursor = null;
  async function search(more = false) {
    clearErrors(form);
    try {
      const page = await api('POST', '/customers/search', { ...filterBody(), fields: FIELDS, limit: 25, sort: sort.value, order: order.value, ...(more && cursor ? { cursor } : {}) });
      const rows = table([
        { label: 'Name', value: (c) => h('a', { href: `#/customers/${enc(c.id)}` }, c.name || c.id) },
        { label: 'Email', value: (c) => c.email },
        { label: 'Phone', value: (c) => c.phone },
        { label: 'Tags', value: (c) => (c.tags || []).join(', ') },
        { label: 'Created', value: (c) => (c.created_at || '').replace('T', ' ').slice(0, 19) },
      ], page.items, `Matching customers, by ${sort.value === 'id' ? 'id' : 'created time'} (${order.value === 'asc' ? 'ascending' : 'descending'})`);
      cursor = page.next_cursor;
      if (more) results.append(rows); else results.replaceChildren(rows);
      if (cursor) results.append(h('button', { type: 'button', class: 'secondary', onclick: (e) => { e.target.remove(); search(true); } }, 'More results'));
    } catch (e) { showError(form, e); }
  }
  async function doCount() {
    clearErrors(form);
    try {
      let r = await api('POST', '/customers/count', filterBody());
      // A large tenant is counted by a job: its progress shows until the exact count is known.
      if (r.kind === 'count') r = await followCount(r, count);
      count.textContent = `${r.count} of ${r.evaluated} customers match.`;
    } catch (e) { if (e.status) showError(form, e); else count.textContent = e.message; }
  }
  async function saveFilter() {
    clearErrors(form);
    try { const f = await api('POST', '/filters', { name: filterName.value.trim(), ...filterBody() }); flash('Filter saved.'); location.hash = `#/search?filter=${enc(f.id)}`; } catch (e) { showError(form, e); }
  }
  async function saveGroup() {
    clearErrors(form);
    const name = input({ name: 'name' });
    const type = select([['dynamic', 'Dynamic (kept current)'], ['static', 'Static (the customers matching now)']], { name: 'type' });
    dialog('Save as group', (close) => {
      const f = h('form', { novalidate: true, class: 'stack' }, field('Group name', name, { name: 'name' }), field('Group type', type, { name: 'type' }),
        formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create group'), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')));
      f.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(f);
        try {
          // A saved filter makes the group directly; an unsaved one is saved first (the API makes
          // groups from saved filters), named after the group.
          const fid = chosen ? chosen.id : (await api('POST', '/filters', { name: name.value.trim() || 'Filter', ...filterBody() })).id;
          const g = await api('POST', `/filters/${enc(fid)}/groups`, { name: name.value.trim(), type: type.value });
          close();
          // A large tenant's static snapshot is a job: follow it before opening the group.
          if (g.snapshot_job) await followCount(g.snapshot_job, count);
          flash('Group created.');
          location.hash = `#/groups/${enc(g.id)}`;
        } catch (e) { showError(f, e); }
      });
      return f;
    });
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); search(); });

  const aside = h('aside', { class: 'saved-filters', 'aria-labelledby': 'sf-h' }, h('h2', { id: 'sf-h' }, 'Saved filters'),
    filters.length ? h('ul', {}, filters.map((f) => h('li', { 'aria-current': f.id === (chosen && chosen.id) ? 'true' : null },
      h('a', { href: `#/search?filter=${enc(f.id)}` }, f.name), ' ',
      h('button', { type: 'button', class: 'secondary small', 'aria-label': `Copy ${f.name}`, onclick: async () => {
        try { const c = await api('POST', `/filters/${enc(f.id)}/copy`, {}); flash(`Copied as ${c.name}.`); location.hash = `#/search?filter=${enc(c.id)}`; } catch (e) { flash(e.message, true); }
      } }, 'Copy'), ' ',
      h('button', { type: 'button', class: 'secondary danger small', 'aria-label': `Delete ${f.name}`, onclick: async () => {
        if (!confirm(`Delete the saved filter ${f.name}?`)) return;
        try { await api('DELETE', `/filters/${enc(f.id)}`); flash('Filter deleted.'); location.hash = '#/search'; } catch (e) { flash(e.message, true); }
      } }, 'Delete')))) : h('p', {}, 'None yet.'));
  root.append(h('h1', {}, chosen ? `Search: ${chosen.name}` : 'Search customers'),
    h('div', { class: 'with-aside' }, aside, h('div', {}, form, results)));
  if (chosen) await search();
}
