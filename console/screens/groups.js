// Customer groups (seeds 000, 001): the list with name, type, members, sync status and last synced;
// Add; the customer groups settings; per group the Actions: Edit, Remove, Resync (live progress),
// Export CSV / JSON (progress, then the download), View Members.
import { api, all, poll, enc } from '../api.js';
import { h, flash, progressBar, download, fmtTime, dialog, showError, formError, field, input } from '../ui.js';

export async function render(root) {
  const list = h('div', { id: 'group-list' }, h('p', {}, 'Loading…'));
  root.append(
    h('div', { class: 'title-row' },
      h('h1', {}, 'Customer groups'),
      h('div', { class: 'actions' },
        h('a', { class: 'button', href: '#/groups/new?kind=tonos' }, 'Add'),
        h('a', { class: 'button secondary', href: '#/groups/new?kind=static' }, 'Add static group'),
        h('a', { class: 'button secondary', href: '#/groups/new?kind=rules' }, 'Add rule group'),
        h('button', { type: 'button', class: 'secondary', onclick: () => settingsDialog() }, 'Customer groups settings'))),
    list);
  await refresh(list);
}

function syncText(g) {
  if (g.type !== 'dynamic') return 'manual (static)';
  const s = g.sync;
  if (!s) return 'not synced yet';
  if (s.status === 'running' || s.status === 'queued') return `${s.status} ${Math.round((s.progress || 0) * 100)}%`;
  if (s.status === 'failed') return `failed: ${s.last_error || 'see history'}`;
  return 'done';
}

async function refresh(list) {
  const groups = await all('/groups');
  const rows = groups.map((g) => row(g, list));
  list.replaceChildren(h('table', { class: 'groups' },
    h('caption', { class: 'visually-hidden' }, 'Customer groups'),
    h('thead', {}, h('tr', {}, ['Name', 'Type', 'Members', 'Sync status', 'Last synced', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: '6' }, 'No groups yet: use Add.')))));
}

function row(g, list) {
  const status = h('td', { 'data-label': 'Sync status', class: 'sync' }, syncText(g));
  const members = h('td', { 'data-label': 'Members', class: 'members' }, String(g.member_count));
  const last = h('td', { 'data-label': 'Last synced' }, g.sync ? fmtTime(g.sync.last_synced_at) : '');
  const jobs = h('div', { class: 'jobs' });
  const tr = h('tr', { 'data-group': g.name },
    h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `#/groups/${enc(g.id)}` }, g.name)),
    h('td', { 'data-label': 'Type' }, g.type),
    members, status, last,
    h('td', { 'data-label': 'Actions' }, actions(g, { status, members, last, jobs, list }), jobs));
  return tr;
}

function actions(g, cells) {
  const menu = h('details', { class: 'menu' },
    h('summary', { 'aria-label': `Actions for ${g.name}` }, 'Actions'),
    h('ul', { role: 'list' },
      item('Edit', () => { location.hash = `#/groups/${enc(g.id)}/edit`; }),
      item('Remove', () => remove(g, cells.list)),
      g.type === 'dynamic' ? item('Resync', () => resync(g, cells)) : null,
      item('Export CSV', () => exportGroup(g, 'csv', cells.jobs)),
      item('View Members', () => { location.hash = `#/groups/${enc(g.id)}`; }),
      item('Export JSON', () => exportGroup(g, 'json', cells.jobs))));
  function item(label, run) {
    return h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => { menu.open = false; run(); } }, label));
  }
  return menu;
}

async function remove(g, list) {
  if (!confirm(`Remove the group "${g.name}"? Its members leave it; the customers stay.`)) return;
  try {
    await api('DELETE', `/groups/${enc(g.id)}`);
    flash(`Group "${g.name}" is being removed.`);
    await refresh(list);
  } catch (e) { flash(e.message, true); }
}

/** Queues a resync and follows its progress in the row until it is done. */
export async function resync(g, cells) {
  const bar = progressBar(`Resync of ${g.name}`);
  cells.jobs.append(bar);
  try {
    const job = await api('POST', `/groups/${enc(g.id)}/resync`);
    const finished = (x) => x.sync && x.sync.job_id === job.id && ['done', 'failed'].includes(x.sync.status);
    const done = await poll(`/groups/${enc(g.id)}`, finished,
      (x) => {
        const s = x.sync || {};
        bar.set(s.progress, `${s.status || 'queued'}, ${s.customers_evaluated || 0} customers evaluated`);
        cells.status.textContent = syncText(x);
        cells.members.textContent = String(x.member_count);
      });
    cells.last.textContent = fmtTime(done.sync.last_synced_at);
    bar.set(1, done.sync.status === 'done' ? `done: ${done.member_count} members` : `failed: ${done.sync.last_error || ''}`);
    flash(`Resync of "${g.name}" ${done.sync.status}: ${done.member_count} members.`, done.sync.status !== 'done');
  } catch (e) { bar.set(0, 'failed: ' + e.message); flash(e.message, true); }
}

/** Queues an export of a group's members, shows its progress, then downloads the file. */
export async function exportGroup(g, format, into) {
  const bar = progressBar(`Export ${format.toUpperCase()} of ${g.name}`);
  into.append(bar);
  try {
    const job = await api('POST', `/groups/${enc(g.id)}/exports`, { format });
    const done = await poll(`/exports/${enc(job.id)}`, (x) => ['done', 'failed'].includes(x.status),
      (x) => bar.set(x.progress ?? 0, `${x.status}, ${x.rows_written} rows`));
    if (done.status !== 'done') throw new Error(done.failure_reason || 'the export failed');
    bar.set(1, `done, ${done.rows_written} rows`);
    const link = h('a', { href: done.download_url, download: done.file_name, class: 'download' }, `Download ${done.file_name}`);
    into.append(h('p', {}, link));
    download(done.download_url, done.file_name);
  } catch (e) { bar.set(0, 'failed: ' + e.message); flash(e.message, true); }
}

/** The tenant's settings that apply to all groups (GET|PATCH /settings). */
function settingsDialog() {
  dialog('Customer groups settings', (close) => {
    const grace = input({ type: 'number', min: '0', max: '365', inputmode: 'numeric', name: 'renewal_grace_days' });
    const err = formError();
    const form = h('form', { novalidate: true },
      h('p', {}, 'Renewing, Expiring and Inactive day counts are set per group (Add / Edit). This setting applies to every group.'),
      field('Renewal grace (days after a missed renewal before a subscription counts as expired)', grace, { name: 'renewal_grace_days' }),
      err,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')));
    api('GET', '/settings').then((s) => { grace.value = s.renewal_grace_days; });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('PATCH', '/settings', { renewal_grace_days: Number(grace.value) });
        flash('Settings saved.');
        close();
      } catch (e) { showError(form, e); }
    });
    return form;
  });
}
