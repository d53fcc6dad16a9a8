// The customer detail page's Timeline (seed 004: every event, message and change, newest first, a
// type filter and "Record event") and Communications (seed 002: the messages sent to the customer).
import { api, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, fmtTime, clearErrors } from '../ui.js';

/** `key=value` lines as flat properties: numbers, true/false and null as such, the rest as text. */
function parseProperties(text) {
  const out = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf('=');
    const k = (at < 0 ? line : line.slice(0, at)).trim();
    const raw = at < 0 ? '' : line.slice(at + 1).trim();
    out[k] = raw === 'true' ? true : raw === 'false' ? false : raw === 'null' ? null
      : raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

function details(e) {
  if (e.communication) {
    const m = e.communication;
    return [m.subject, m.campaign && `campaign ${m.campaign}`, m.status].filter(Boolean).join(' · ');
  }
  const p = Object.entries(e.properties || {});
  return p.length ? p.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ') : '';
}

/** A paged list that reads `path` (with its query) and appends "More" while a cursor is left. */
function pagedList(columns, caption, moreLabel) {
  const list = h('div', {});
  let cursor = null;
  let query = '';
  async function load(path, more = false) {
    if (!more) query = path;
    const sep = query.includes('?') ? '&' : '?';
    const page = await api('GET', `${query}${sep}limit=20${more && cursor ? '&cursor=' + enc(cursor) : ''}`);
    const rows = table(columns, page.items, caption);
    cursor = page.next_cursor;
    if (more) list.append(rows); else list.replaceChildren(rows);
    if (cursor) list.append(h('button', { type: 'button', class: 'secondary', onclick: (ev) => { ev.target.remove(); load(query, true); } }, moreLabel));
  }
  return { list, load };
}

/** The Timeline and Communications sections of a customer. */
export async function customerTimeline(root, c) {
  const base = `/customers/${enc(c.id)}/timeline`;
  const timeline = pagedList([
    { label: 'When', value: (e) => fmtTime(e.at) },
    { label: 'Type', value: (e) => e.type },
    { label: 'Source', value: (e) => e.source },
    { label: 'Details', value: details },
  ], 'Timeline entries, newest first', 'More entries');

  const filter = h('form', { novalidate: true, class: 'stack', 'aria-label': 'Timeline filter' },
    h('div', { class: 'row' },
      field('Types (comma separated)', input({ name: 'type', placeholder: 'e.g. group.entered, call.logged' }), { name: 'type' }),
      field('From', input({ name: 'from', type: 'datetime-local' }), { name: 'from' }),
      field('To', input({ name: 'to', type: 'datetime-local' }), { name: 'to' })),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Filter')));
  filter.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(filter);
    const q = [];
    const types = filter.elements.type.value.split(',').map((t) => t.trim()).filter(Boolean);
    if (types.length) q.push('type=' + types.map(enc).join(','));
    for (const k of ['from', 'to']) {
      const v = filter.elements[k].value;
      if (v) q.push(`${k}=${enc(new Date(v).toISOString())}`);
    }
    try { await timeline.load(base + (q.length ? '?' + q.join('&') : '')); } catch (e) { showError(filter, e); }
  });

  const record = h('form', { novalidate: true, class: 'stack', 'aria-label': 'Record event' },
    h('div', { class: 'row' },
      field('Event type', input({ name: 'type', placeholder: 'call.logged' }), { name: 'type' }),
      field('When', input({ name: 'occurred_at', type: 'datetime-local' }), { name: 'occurred_at', hint: 'Empty: now' })),
    field('Properties (one key=value per line)', h('textarea', { name: 'properties', rows: 3 }), { name: 'properties' }),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Record event')));
  record.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(record);
    const when = record.elements.occurred_at.value;
    const body = {
      type: record.elements.type.value.trim(),
      occurred_at: (when ? new Date(when) : new Date()).toISOString(),
      properties: parseProperties(record.elements.properties.value),
    };
    try {
      await api('POST', base, body);
      flash('Event recorded.');
      record.reset();
      await timeline.load(base);
    } catch (e) { showError(record, e); }
  });
  root.append(h('section', { 'aria-labelledby': 'tl-h', id: 'timeline' }, h('h2', { id: 'tl-h' }, 'Timeline'),
    filter, timeline.list, h('h3', {}, 'Record event'), record));
  await timeline.load(base);

  const comms = `/customers/${enc(c.id)}/communications`;
  const messages = pagedList([
    { label: 'Sent', value: (m) => fmtTime(m.sent_at) },
    { label: 'Channel', value: (m) => m.channel },
    { label: 'Subject', value: (m) => m.subject },
    { label: 'Campaign', value: (m) => m.campaign },
    { label: 'Status', value: (m) => m.status },
    { label: 'Provider id', value: (m) => m.provider_message_id },
  ], 'Messages sent, newest first', 'More messages');
  const channel = select([['', 'All channels'], ['email', 'Email'], ['sms', 'SMS'], ['push', 'Push']], { name: 'channel', 'aria-label': 'Channel' });
  channel.addEventListener('change', () => messages.load(comms + (channel.value ? `?channel=${channel.value}` : '')).catch((e) => flash(e.message, true)));
  root.append(h('section', { 'aria-labelledby': 'com-h', id: 'communications' }, h('h2', { id: 'com-h' }, 'Communications'),
    field('Channel', channel), messages.list));
  await messages.load(comms);
}
