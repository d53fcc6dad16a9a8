// One webhook endpoint (issue 16): its settings, enable/disable, rotate the secret (the new one is
// shown once; the previous keeps signing for 24 hours), delete, and the delivery log (newest first)
// with every attempt and Replay for a delivered or failed message.
import { api, enc } from '../api.js';
import { h, flash, table, fmtTime } from '../ui.js';
import { secretBox, state } from './webhooks.js';

export async function render(root, { id }) {
  let w = await api('GET', `/webhooks/${enc(id)}`);
  const out = h('div', { 'aria-live': 'polite' });
  const stateText = h('dd', { id: 'webhook-state' }, state(w));
  const toggle = h('button', { type: 'button', class: 'secondary' }, w.enabled ? 'Disable' : 'Enable');
  toggle.addEventListener('click', async () => {
    try {
      w = await api('PATCH', `/webhooks/${enc(w.id)}`, { enabled: !w.enabled });
      stateText.textContent = state(w);
      toggle.textContent = w.enabled ? 'Disable' : 'Enable';
      flash(w.enabled ? 'Endpoint enabled.' : 'Endpoint disabled.');
    } catch (e) { flash(e.message, true); }
  });
  const rotate = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    if (!confirm('Rotate the signing secret? The current one keeps signing for 24 hours.')) return;
    try {
      const r = await api('POST', `/webhooks/${enc(w.id)}/rotate-secret`);
      out.replaceChildren(secretBox(r.secret, `New secret, shown only now; the previous one signs until ${fmtTime(r.previous_secret_expires_at)}.`));
      flash('Secret rotated.');
    } catch (e) { flash(e.message, true); }
  } }, 'Rotate secret');
  const remove = h('button', { type: 'button', class: 'secondary danger', onclick: async () => {
    if (!confirm(`Delete the endpoint ${w.url}? Nothing more is sent to it.`)) return;
    try { await api('DELETE', `/webhooks/${enc(w.id)}`); flash('Endpoint deleted.'); location.hash = '#/webhooks'; } catch (e) { flash(e.message, true); }
  } }, 'Delete');
  root.append(
    h('p', {}, h('a', { href: '#/webhooks' }, '← Webhooks')),
    h('div', { class: 'title-row' }, h('h1', {}, w.description || w.url), h('div', { class: 'actions' }, toggle, rotate, remove)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'URL'), h('dd', {}, w.url),
      h('dt', {}, 'Events'), h('dd', {}, w.event_types.join(', ')),
      h('dt', {}, 'Groups'), h('dd', {}, (w.group_ids || []).join(', ') || 'every group'),
      h('dt', {}, 'State'), stateText,
      w.previous_secret_expires_at ? [h('dt', {}, 'Previous secret signs until'), h('dd', {}, fmtTime(w.previous_secret_expires_at))] : null),
    out);

  const log = h('div', { id: 'deliveries' });
  const reload = h('button', { type: 'button', class: 'secondary', onclick: () => load() }, 'Refresh');
  root.append(h('section', { 'aria-labelledby': 'dl-h' }, h('div', { class: 'title-row' }, h('h2', { id: 'dl-h' }, 'Delivery log'), reload), log));
  let cursor = null;
  async function load(more = false) {
    const page = await api('GET', `/webhooks/${enc(w.id)}/deliveries?limit=20${more && cursor ? '&cursor=' + enc(cursor) : ''}`);
    const rows = table([
      { label: 'Message', value: (d) => h('code', {}, d.id) },
      { label: 'Event', value: (d) => `${d.event_type} (${d.change_count} change${d.change_count === 1 ? '' : 's'})` },
      { label: 'Created', value: (d) => fmtTime(d.created_at) },
      { label: 'Status', value: (d) => ({ delivered: '✓ delivered', failed: '✗ failed', pending: '… pending' }[d.status] || d.status) +
        (d.next_attempt_at && d.status === 'pending' ? ` · next ${fmtTime(d.next_attempt_at)}` : '') + (d.failure_reason ? ` · ${d.failure_reason}` : '') },
      { label: 'Attempts', value: (d) => h('ol', { class: 'attempts' }, d.attempts.map((a) => h('li', {},
        `${fmtTime(a.at)}: ${a.status_code ?? a.error} in ${a.latency_ms} ms`, a.response_excerpt ? h('code', {}, ' ' + a.response_excerpt) : null))) },
      { label: 'Replay', value: (d) => (d.status === 'pending' ? '' : h('button', { type: 'button', class: 'secondary', 'aria-label': `Replay ${d.id}`, onclick: async () => {
        try { await api('POST', `/webhooks/${enc(w.id)}/deliveries/${enc(d.id)}/replay`); flash('Replaying: pending again.'); await load(); } catch (e) { flash(e.message, true); }
      } }, 'Replay')) },
    ], page.items, 'Messages, newest first');
    cursor = page.next_cursor;
    if (more) log.append(rows); else log.replaceChildren(rows);
    if (cursor) log.append(h('button', { type: 'button', class: 'secondary', onclick: (e) => { e.target.remove(); load(true); } }, 'More messages'));
  }
  await load();
}
