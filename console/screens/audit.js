// The audit log (issue 14): every bulk modify and bulk delete, newest first, with its actor, time,
// reason, target, count and outcome; "More" while there is a cursor.
import { api, enc } from '../api.js';
import { h, table } from '../ui.js';

const target = (t) => t.type === 'filter' ? (t.filter_id ? `saved filter ${t.filter_id}` : 'filter')
  : t.type === 'group' ? `group ${t.group_id}` : `${(t.ids || []).length} ids`;

export async function render(root) {
  const list = h('div', { id: 'audit' });
  let cursor = null;
  async function more() {
    const page = await api('GET', `/audit?limit=25${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    list.append(table([
      { label: 'When', value: (e) => new Date(e.at).toLocaleString() },
      { label: 'Action', value: (e) => e.action === 'bulk_delete' ? 'Bulk delete' : 'Bulk modify' },
      { label: 'Actor', value: (e) => e.actor },
      { label: 'Reason', value: (e) => e.reason || '' },
      { label: 'Target', value: (e) => target(e.target) },
      { label: 'Count', value: (e) => String(e.count) },
      { label: 'Outcome', value: (e) => e.outcome.status },
    ], page.items, 'Audit entries, newest first'));
    cursor = page.next_cursor;
    if (cursor) list.append(h('button', { type: 'button', class: 'secondary', onclick: (ev) => { ev.target.remove(); more(); } }, 'More'));
  }
  root.append(h('h1', {}, 'Audit log'), list);
  await more();
}
