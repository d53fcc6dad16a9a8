// Bulk actions on the search screen (issue 14, seed 004 sections 2.3-2.5): "Modify matching" (set an
// attribute, add or remove a tag), "Delete matching" and "Export matching" (format and columns, then the
// export's progress and its download); each starts a job whose progress is shown until it ends.
import { api, enc, poll } from './api.js';
import { h, field, input, select, showError, formError, clearErrors, dialog, download } from './ui.js';

function summary(job) {
  const n = job.kind === 'bulk_delete' ? `${job.deleted} deleted` : `${job.modified} modified, ${job.unchanged} unchanged`;
  const state = job.status === 'running' ? 'Running' : job.status === 'done' ? 'Done' : 'Failed';
  return `${state}: ${job.matched} matched, ${n}, ${job.failed} failed.` + (job.last_error ? ` ${job.last_error}` : '');
}

// A count job (a tenant too large to count within one request): polls it to its end, writing its
// progress into `out`; resolves with the finished job, rejects if it failed.
export async function followCount(job, out) {
  const show = (x) => {
    out.textContent = `Counting: ${x.partitions_done} of ${x.partitions} partitions, ${x.evaluated} customers read, ${x.matched} matching so far…`;
  };
  show(job);
  const end = await poll(`/count-jobs/${enc(job.id)}`, (x) => x.status !== 'running', show);
  if (end.status !== 'done') throw new Error(`The count failed: ${end.last_error || 'start it again'}`);
  return end;
}

// Polls the job until it ends, writing its progress into `out`.
export async function followJob(id, out) {
  for (;;) {
    const job = await api('GET', `/bulk-jobs/${enc(id)}`);
    out.textContent = summary(job);
    if (job.status !== 'running') return job;
    await new Promise((r) => setTimeout(r, 700));
  }
}

export function modifyMatching(filterBody, status) {
  const action = select([['set_attribute', 'Set attribute'], ['add_tag', 'Add tag'], ['remove_tag', 'Remove tag']], { name: 'action' });
  const key = input({ name: 'key' });
  const value = input({ name: 'value' });
  dialog('Modify matching customers', (close) => {
    const valueField = field('Attribute value (text)', value, { name: 'changes.set_attributes' });
    const f = h('form', { novalidate: true, class: 'stack' },
      field('Change', action, { name: 'action' }),
      field('Attribute name or tag', key, { name: 'changes' }),
      valueField,
      formError(),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Modify matching'), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')));
    action.addEventListener('change', () => { valueField.hidden = action.value !== 'set_attribute'; });
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(f);
      const k = key.value.trim();
      const changes = action.value === 'set_attribute' ? { set_attributes: { [k]: { type: 'string', value: value.value } } }
        : action.value === 'add_tag' ? { add_tags: [k] } : { remove_tags: [k] };
      try {
        const job = await api('POST', '/customers/bulk-modify', { ...filterBody(), changes });
        close();
        status.textContent = summary(job);
        await followJob(job.id, status);
      } catch (e) { showError(f, e); }
    });
    return f;
  });
}

// Delete matching: the preview's count and statement, an agree checkbox and a reason, then the job.
export async function deleteMatching(filterBody, status) {
  let preview;
  try {
    preview = await api('POST', '/customers/bulk-delete/preview', filterBody());
    if (preview.kind === 'count') {
      // A large tenant's filter is counted by a job first; the token is then bound to its count.
      const counted = await followCount(preview, status);
      preview = await api('POST', '/customers/bulk-delete/preview', { ...filterBody(), count_job_id: counted.id });
      status.textContent = '';
    }
  } catch (e) { status.textContent = e.message; return; }
  const agree = h('input', { type: 'checkbox', name: 'agree' });
  const reason = h('textarea', { name: 'reason', rows: 3 });
  dialog('Delete matching customers', (close) => {
    const f = h('form', { novalidate: true, class: 'stack' },
      h('p', { id: 'delete-count' }, `${preview.count} customers will be deleted.`),
      h('p', { class: 'statement' }, preview.statement),
      h('div', { class: 'field', 'data-field': 'agree' },
        h('label', {}, agree, ' I have carefully read and agree to the statement'),
        h('p', { class: 'field-error', 'data-error-for': 'agree' })),
      field('Reason for deletion (at least 10 characters)', reason, { name: 'reason' }),
      formError(),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Delete customers'), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(f);
      try {
        const job = await api('POST', '/customers/bulk-delete', { ...filterBody(), token: preview.token, agree: agree.checked, reason: reason.value });
        close();
        status.textContent = summary(job);
        await followJob(job.id, status);
      } catch (e) { showError(f, e); }
    });
    return f;
  });
}

// Export matching: the customer export by the search's filter, `basic` or `profile` columns.
export function exportMatching(filterBody, status) {
  const format = select([['csv', 'CSV'], ['json', 'JSON'], ['jsonl', 'JSON Lines']], { name: 'format' });
  const columns = select([['profile', 'Profile: every field, identities, tags, attributes'], ['basic', 'Basic: order number, email, signup date']], { name: 'columns' });
  dialog('Export matching customers', (close) => {
    const f = h('form', { novalidate: true, class: 'stack' },
      field('Format', format, { name: 'format' }),
      field('Columns', columns, { name: 'columns' }),
      formError(),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Start export'), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel')));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(f);
      try {
        const job = await api('POST', '/customers/exports', { ...filterBody(), format: format.value, columns: columns.value });
        close();
        status.textContent = `Export ${job.status}.`;
        const done = await poll(`/exports/${enc(job.id)}`, (x) => ['done', 'failed'].includes(x.status),
          (x) => { status.textContent = `Export ${x.status}: ${x.rows_written} rows.`; });
        if (done.status !== 'done') { status.textContent = `Export failed: ${done.failure_reason || ''}`; return; }
        status.replaceChildren(`Export done: ${done.rows_written} rows. `,
          h('a', { href: done.download_url, download: done.file_name, class: 'download' }, `Download ${done.file_name}`));
        download(done.download_url, done.file_name);
      } catch (e) { showError(f, e); }
    });
    return f;
  });
}
