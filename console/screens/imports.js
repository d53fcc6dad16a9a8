// The import wizard (seed 004): upload a CSV or XLSX file (inline when small, else through the
// presigned upload link), the column mapping the analysis suggests, identity matching and mode,
// the progress of the job, and the failure report's download.
import { api, poll, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, progressBar, table, fmtTime, clearErrors } from '../ui.js';

const FIELDS = ['id', 'external_id', 'email', 'phone', 'name', 'order_number', 'signup_date', 'registration_date', 'tags', 'ignore', 'attributes.'];
/** Files up to this size go inline in the request (the API takes bodies up to 256 KiB). */
const INLINE_MAX = 180 * 1024;

export async function render(root, { query }) {
  root.append(h('h1', {}, 'Import customers'));
  const step = h('div', { class: 'wizard' });
  root.append(step);
  const id = query.get('id');
  if (id) await resume(step, id); else uploadStep(step);
  const recent = await api('GET', '/imports?limit=10');
  root.append(h('h2', {}, 'Recent imports'), table([
    { label: 'File', value: (i) => h('a', { href: `#/imports?id=${enc(i.id)}` }, i.file_name) },
    { label: 'Status', value: (i) => i.status },
    { label: 'Rows', value: (i) => `${i.rows_done}${i.rows_total !== undefined ? ' / ' + i.rows_total : ''}` },
    { label: 'Failed', value: (i) => String(i.counts.failed) },
    { label: 'Created', value: (i) => fmtTime(i.created_at) },
  ], recent.items, 'Recent imports'));
}

async function resume(step, id) {
  const imp = await api('GET', `/imports/${enc(id)}`);
  if (imp.status === 'ready') mappingStep(step, imp);
  else if (['done', 'failed', 'canceled'].includes(imp.status)) doneStep(step, imp);
  else await follow(step, imp);
}

function uploadStep(step) {
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,.xlsx,text/csv' });
  const sheet = input({ name: 'sheet', placeholder: 'first sheet' });
  const form = h('form', { novalidate: true, class: 'stack' },
    h('h2', {}, 'Step 1 of 3: upload'),
    field('File (CSV or Excel .xlsx, up to 200 000 rows)', file, { name: 'file_name' }),
    field('Worksheet (Excel only, optional)', sheet, { name: 'sheet' }),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Upload')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const f = file.files[0];
    if (!f) { showError(form, { field: 'file_name', message: 'choose a file to import' }); return; }
    const format = /\.xlsx$/i.test(f.name) ? 'xlsx' : 'csv';
    const body = { file_name: f.name, format };
    if (format === 'xlsx' && sheet.value.trim()) body.sheet = sheet.value.trim();
    try {
      let imp;
      if (f.size <= INLINE_MAX) {
        if (format === 'csv') body.content = await f.text();
        else body.content_base64 = await base64(f);
        imp = await api('POST', '/imports', body);
      } else {
        imp = await api('POST', '/imports', body);
        const put = await fetch(imp.upload_url, { method: 'PUT', body: f });
        if (!put.ok) throw new Error(`the upload failed (HTTP ${put.status})`);
      }
      history.replaceState(null, '', `#/imports?id=${enc(imp.id)}`);
      await follow(step, imp);
    } catch (e) { showError(form, e); }
  });
  step.replaceChildren(form);
}

async function base64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Follows an import (analysis, then the rows) with a progress bar until it needs the mapping or ends. */
async function follow(step, imp) {
  const bar = progressBar(`Import of ${imp.file_name}`);
  const cancel = h('button', { type: 'button', class: 'secondary danger', onclick: async () => {
    try { await api('POST', `/imports/${enc(imp.id)}/cancel`); } catch (e) { flash(e.message, true); }
  } }, 'Cancel import');
  step.replaceChildren(h('h2', {}, imp.status === 'running' ? 'Step 3 of 3: importing' : 'Analysing the file'), bar, h('div', { class: 'actions' }, cancel));
  const end = await poll(`/imports/${enc(imp.id)}`, (x) => ['ready', 'done', 'failed', 'canceled'].includes(x.status),
    (x) => bar.set(x.progress ?? 0, `${x.status}, ${x.rows_done}${x.rows_total !== undefined ? ' of ' + x.rows_total : ''} rows`));
  if (end.status === 'ready') mappingStep(step, end); else doneStep(step, end);
}

function mappingStep(step, imp) {
  const a = imp.analysis;
  const suggested = Object.fromEntries(a.suggested_mapping.columns.map((c) => [c.column, c]));
  const rows = a.header.map((col, i) => {
    const s = suggested[col] || { field: 'ignore' };
    const isAttr = s.field.startsWith('attributes.');
    const f = select(FIELDS.map((x) => [x, x === 'attributes.' ? 'custom attribute…' : x]), { name: `field-${i}`, value: isAttr ? 'attributes.' : s.field });
    const key = input({ name: `key-${i}`, value: isAttr ? s.field.slice(11) : '' });
    const type = select(['string', 'number', 'boolean', 'date'], { name: `type-${i}`, value: s.type || 'string' });
    const sync = () => { key.closest('.field').hidden = type.closest('.field').hidden = f.value !== 'attributes.'; };
    f.addEventListener('change', sync);
    const cells = h('tr', {},
      h('th', { scope: 'row' }, col),
      h('td', { 'data-label': 'Example' }, (a.sample[0] || [])[i] || ''),
      h('td', { 'data-label': 'Field' }, field(`Field for column ${col}`, f, { name: `columns[${i}]` }),
        field(`Attribute key for ${col}`, key), field(`Type of ${col}`, type)));
    queueMicrotask(sync);
    return { col, f, key, type, cells };
  });
  const matchOn = ['id', 'external_id', 'phone', 'email'].map((k) => {
    const on = (a.suggested_mapping.match_on || ['id', 'phone', 'email']).includes(k);
    return h('span', { class: 'check' }, h('input', { type: 'checkbox', id: `match-${k}`, name: 'match_on', value: k, checked: on }), h('label', { for: `match-${k}` }, k));
  });
  const mode = select([['create_and_update', 'Create and update'], ['create_only', 'Create only'], ['update_only', 'Update only']], { name: 'mode' });
  const tags = input({ name: 'tags' });
  const source = input({ name: 'source' });
  const form = h('form', { novalidate: true, class: 'stack' },
    h('h2', {}, `Step 2 of 3: match the columns (${a.rows} rows)`),
    h('table', { class: 'mapping' }, h('caption', {}, 'Columns of the file'),
      h('thead', {}, h('tr', {}, ['Column', 'Example', 'Customer field'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => r.cells))),
    h('fieldset', { class: 'checks' }, h('legend', {}, 'Find existing customers by'), matchOn, h('p', { class: 'field-error', 'data-error-for': 'match_on' })),
    field('Mode', mode, { name: 'mode' }),
    field('Add tags to every imported customer (comma separated)', tags, { name: 'add.tags' }),
    field('Source (set where a customer has none)', source, { name: 'add.source' }),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Next: start the import')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const columns = rows.map((r) => {
      const c = { column: r.col, field: r.f.value === 'attributes.' ? 'attributes.' + r.key.value.trim() : r.f.value };
      if (r.f.value === 'attributes.') c.type = r.type.value;
      return c;
    });
    const body = { columns, match_on: [...form.querySelectorAll('input[name=match_on]:checked')].map((x) => x.value), mode: mode.value };
    const add = {};
    const t = tags.value.split(',').map((x) => x.trim()).filter(Boolean);
    if (t.length) add.tags = t;
    if (source.value.trim()) add.source = source.value.trim();
    if (Object.keys(add).length) body.add = add;
    try {
      const started = await api('POST', `/imports/${enc(imp.id)}/start`, body);
      await follow(step, started);
    } catch (e) { showError(form, e); }
  });
  step.replaceChildren(form);
}

function doneStep(step, imp) {
  const c = imp.counts;
  step.replaceChildren(...[
    h('h2', {}, `Import ${imp.status}`),
    h('p', { class: 'count' }, `${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ${c.failed} failed.`),
    imp.last_error ? h('p', { class: 'error' }, '⚠ ' + imp.last_error) : null,
    imp.failure_report_url ? h('p', {}, h('a', { class: 'button', href: imp.failure_report_url, download: '' }, 'Download the failure report')) : null,
    h('p', {}, h('a', { href: '#/imports', onclick: () => setTimeout(() => location.reload()) }, 'Import another file'))].filter(Boolean));
}
