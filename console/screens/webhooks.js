// Webhook endpoints (issue 16): the list and the Add form. The signing secret is shown once, right
// after creating (the API never returns it again); the detail screen (webhook.js) has the delivery
// log, replay, rotate secret, enable/disable and delete.
import { api, all, enc } from '../api.js';
import { h, field, input, showError, formError, flash, table, fmtTime, clearErrors, csvList } from '../ui.js';

/** The event types an endpoint can subscribe to (`WebhookEventType` in the OpenAPI document). */
export const EVENT_TYPES = ['group.member_entered', 'group.member_left', 'group.resynced', 'export.done', 'export.failed', 'import.done', 'import.failed'];

/** The secret box: the value, selectable, with the warning that it is shown only now. */
export function secretBox(secret, note) {
  return h('div', { class: 'secret', role: 'status' },
    h('p', {}, '⚠ ' + note),
    h('label', { for: 'webhook-secret' }, 'Signing secret'),
    h('input', { id: 'webhook-secret', type: 'text', readonly: true, value: secret, spellcheck: 'false', size: '60' }));
}

/** Enabled, or why not, in text. */
export const state = (w) => (w.enabled ? '✓ enabled' : `✗ disabled (${w.disabled_reason || 'by_request'})`) +
  (w.failing_since ? ` · failing since ${fmtTime(w.failing_since)}` : '');

export async function render(root) {
  const hooks = await all('/webhooks');
  const out = h('div', { 'aria-live': 'polite' });
  const url = input({ name: 'url', type: 'url', placeholder: 'https://hooks.example.com/customer-groups' });
  const groups = input({ name: 'group_ids', placeholder: 'every group' });
  const description = input({ name: 'description' });
  const types = h('fieldset', { class: 'checks' }, h('legend', {}, 'Event types'),
    EVENT_TYPES.map((t) => h('label', {}, h('input', { type: 'checkbox', name: 'event_types', value: t }), ' ', t)),
    h('p', { class: 'field-error', 'data-error-for': 'event_types' }));
  const form = h('form', { novalidate: true, class: 'stack' }, h('h2', {}, 'Add an endpoint'),
    field('Endpoint URL', url, { name: 'url', hint: 'https to a public host' }),
    types,
    field('Only these groups (ids, comma separated; optional)', groups, { name: 'group_ids' }),
    field('Description', description, { name: 'description' }),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add endpoint')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = {
      url: url.value.trim(),
      event_types: [...types.querySelectorAll('input:checked')].map((c) => c.value),
    };
    if (csvList(groups.value).length) body.group_ids = csvList(groups.value);
    if (description.value.trim()) body.description = description.value.trim();
    try {
      const w = await api('POST', '/webhooks', body);
      flash('Endpoint added.');
      out.replaceChildren(secretBox(w.secret, 'Copy the signing secret now: it is shown only once.'),
        h('p', {}, h('a', { href: `#/webhooks/${enc(w.id)}` }, `Open ${w.url}`)));
      form.reset();
      list.replaceChildren(hooksTable([...hooks, w]));
      hooks.push(w);
    } catch (e) { showError(form, e); }
  });
  const list = h('div', {}, hooksTable(hooks));
  root.append(h('h1', {}, 'Webhooks'), list, form, out);
}

function hooksTable(hooks) {
  return table([
    { label: 'Endpoint', value: (w) => h('a', { href: `#/webhooks/${enc(w.id)}` }, w.url) },
    { label: 'Description', value: (w) => w.description },
    { label: 'Events', value: (w) => w.event_types.join(', ') },
    { label: 'Groups', value: (w) => (w.group_ids || []).join(', ') || 'every group' },
    { label: 'State', value: state },
    { label: 'Created', value: (w) => fmtTime(w.created_at) },
  ], hooks, 'Webhook endpoints');
}
