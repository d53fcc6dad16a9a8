// One email-provider account: its group-to-list mappings (status pushing / synced / error, members
// synced, skipped without email, last sync and error), Add mapping, Resync, Delete; new credentials;
// disconnect.
import { api, all, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, fmtTime, clearErrors } from '../ui.js';

const STATUS = { pushing: '… pushing', synced: '✓ synced', error: '✗ error' };

export async function render(root, { id }) {
  const [i, groups] = await Promise.all([api('GET', `/integrations/${enc(id)}`), all('/groups').catch(() => [])]);
  const names = Object.fromEntries(groups.map((g) => [g.id, g.name]));
  const base = `/integrations/${enc(i.id)}`;
  root.append(
    h('p', {}, h('a', { href: '#/integrations' }, '← Email providers')),
    h('div', { class: 'title-row' }, h('h1', {}, i.name || i.username), h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary danger', onclick: async () => {
        if (!confirm(`Disconnect ${i.name || i.username}? Its mappings stop.`)) return;
        try { await api('DELETE', base); flash('Disconnected.'); location.hash = '#/integrations'; } catch (e) { flash(e.message, true); }
      } }, 'Disconnect'))),
    h('dl', { class: 'facts' }, h('dt', {}, 'Provider'), h('dd', {}, i.provider), h('dt', {}, 'Login name'), h('dd', {}, i.username)));

  const list = h('div', { id: 'mappings' });
  async function load() {
    const items = await all(`${base}/mappings`);
    list.replaceChildren(table([
      { label: 'Group', value: (m) => h('a', { href: `#/groups/${enc(m.group_id)}` }, names[m.group_id] || m.group_id) },
      { label: 'List id', value: (m) => String(m.list_id) },
      { label: 'Status', value: (m) => (STATUS[m.status] || m.status) + (m.last_error ? ` · ${m.last_error}` : '') },
      { label: 'Members synced', value: (m) => String(m.members_synced) },
      { label: 'Skipped (no email)', value: (m) => String(m.skipped_without_email) },
      { label: 'Last sync', value: (m) => fmtTime(m.last_sync_at) },
      { label: 'Actions', value: (m) => h('span', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Resync list ${m.list_id}`, onclick: async () => {
          try { await api('POST', `${base}/mappings/${enc(m.id)}/resync`); flash('Pushing every member again.'); await load(); } catch (e) { flash(e.message, true); }
        } }, 'Resync'),
        h('button', { type: 'button', class: 'secondary danger', 'aria-label': `Delete mapping to list ${m.list_id}`, onclick: async () => {
          try { await api('DELETE', `${base}/mappings/${enc(m.id)}`); flash('Mapping deleted.'); await load(); } catch (e) { flash(e.message, true); }
        } }, 'Delete')) },
    ], items, 'Groups kept on contact lists'));
  }
  const group = select(groups.map((g) => [g.id, g.name]), { name: 'group_id' });
  const listId = input({ name: 'list_id', type: 'number', min: '1', step: '1' });
  const add = h('form', { novalidate: true, class: 'stack' }, h('h2', {}, 'Add a mapping'),
    h('div', { class: 'row' }, field('Customer group', group, { name: 'group_id' }), field('Contact list id', listId, { name: 'list_id' })),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add mapping')));
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(add);
    const n = listId.value.trim();
    if (!/^\d+$/.test(n)) { showError(add, { message: 'Enter the list id, a whole number.', field: 'list_id' }); return; }
    try { await api('POST', `${base}/mappings`, { group_id: group.value, list_id: Number(n) }); flash('Mapping added: pushing every member.'); add.reset(); await load(); } catch (e) { showError(add, e); }
  });
  const refresh = h('button', { type: 'button', class: 'secondary', onclick: () => load() }, 'Refresh');
  root.append(h('section', { 'aria-labelledby': 'm-h' }, h('div', { class: 'title-row' }, h('h2', { id: 'm-h' }, 'Mailing list settings'), refresh), list, add));

  const username = input({ name: 'credentials.username', value: i.username, autocomplete: 'off' });
  const key = input({ name: 'credentials.api_key', type: 'password', autocomplete: 'off' });
  const creds = h('form', { novalidate: true, class: 'stack' }, h('h2', {}, 'New credentials'),
    h('div', { class: 'row' }, field('Login name (e-mail)', username, { name: 'credentials.username' }), field('API key', key, { name: 'credentials.api_key' })),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save credentials')));
  creds.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(creds);
    try { await api('PATCH', base, { credentials: { username: username.value.trim(), api_key: key.value.trim() } }); flash('Credentials saved.'); key.value = ''; } catch (e) { showError(creds, e); }
  });
  root.append(creds);
  await load();
}
