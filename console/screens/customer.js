// A customer's detail page (seed 004): identities, attributes, subscriptions, activity, groups and
// tags; edit the profile, attributes and tags (PATCH, merge-patch), delete the customer; its timeline
// and communication history (timeline.js); merge another customer into this one (merge.js).
import { api, all, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, fmtTime, clearErrors } from '../ui.js';
import { customerBalances } from './cashback.js';
import { customerTimeline } from './timeline.js';
import { customerMerge } from './merge.js';

export async function render(root, { id }) {
  let c;
  try { c = await api('GET', `/customers/${enc(id)}`); } catch (e) {
    // A customer merged into another answers 404 with `merged_into` for 30 days: point there.
    if (e.status !== 404 || !e.error.merged_into) throw e;
    const to = e.error.merged_into;
    root.append(h('h1', {}, id), h('p', { role: 'status' }, `This customer was merged into `,
      h('a', { href: `#/customers/${enc(to)}` }, to), '.'));
    return;
  }
  const groups = await all('/groups').catch(() => []);
  const names = Object.fromEntries(groups.map((g) => [g.id, g.name]));
  root.append(
    h('p', {}, h('a', { href: '#/customers' }, '← Customers')),
    h('div', { class: 'title-row' }, h('h1', {}, c.name || c.id),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary danger', onclick: async () => {
        if (!confirm(`Delete ${c.name || c.id}? They leave every group; this cannot be undone.`)) return;
        try { await api('DELETE', `/customers/${enc(c.id)}`); flash('Customer deleted.'); location.hash = '#/customers'; } catch (e) { flash(e.message, true); }
      } }, 'Delete customer'))));

  const identities = [['Id', c.id], ['External id', c.external_id], ['Email', c.email + (c.email ? (c.email_verified ? ' (verified)' : ' (not verified)') : '')],
    ['Phone', (c.phone || '') + (c.phone ? (c.phone_verified ? ' (verified)' : ' (not verified)') : '')], ['Order number', c.order_number]];
  root.append(h('section', { 'aria-labelledby': 'ids-h' }, h('h2', { id: 'ids-h' }, 'Customer identity'),
    h('dl', { class: 'facts' }, identities.filter(([, v]) => v).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));

  const profile = h('form', { novalidate: true, class: 'stack' },
    h('div', { class: 'row' },
      field('Name', input({ name: 'name', value: c.name || '' }), { name: 'name' }),
      field('Email', input({ name: 'email', type: 'email', value: c.email || '' }), { name: 'email' }),
      field('Phone', input({ name: 'phone', value: c.phone || '' }), { name: 'phone' })),
    h('div', { class: 'row' },
      field('Signup date', input({ name: 'signup_date', type: 'date', value: c.signup_date || '' }), { name: 'signup_date' }),
      field('Registration date', input({ name: 'registration_date', type: 'date', value: c.registration_date || '' }), { name: 'registration_date' })),
    field('Tags (comma separated)', input({ name: 'tags', value: (c.tags || []).join(', ') }), { name: 'tags' }),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save profile')));
  profile.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(profile);
    const body = {};
    for (const k of ['name', 'email', 'phone', 'signup_date', 'registration_date']) {
      const v = profile.elements[k].value.trim();
      if (v !== (c[k] || '')) body[k] = v || null;
    }
    body.tags = profile.elements.tags.value.split(',').map((x) => x.trim()).filter(Boolean);
    try { await api('PATCH', `/customers/${enc(c.id)}`, body); flash('Saved.'); location.reload(); } catch (e) { showError(profile, e); }
  });
  await customerBalances(root, c);
  customerMerge(root, c);

  root.append(h('section', { 'aria-labelledby': 'p-h' }, h('h2', { id: 'p-h' }, 'Attributes'), profile));

  const attrs = Object.entries(c.attributes || {});
  const key = input({ name: 'key' });
  const type = select(['string', 'number', 'boolean', 'date'], { name: 'type' });
  const value = input({ name: 'value' });
  const attrForm = h('form', { novalidate: true, class: 'stack' },
    table([
      { label: 'Attribute', value: ([k]) => k },
      { label: 'Type', value: ([, v]) => v.type },
      { label: 'Value', value: ([, v]) => String(v.value) },
      { label: 'Remove', value: ([k]) => h('button', { type: 'button', class: 'secondary danger', 'aria-label': `Remove attribute ${k}`, onclick: () => patchAttr({ [k]: null }) }, 'Remove') },
    ], attrs, 'Custom attributes'),
    h('div', { class: 'row' }, field('Attribute key', key, { name: 'attributes' }), field('Type', type), field('Value', value)),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Set attribute')));
  async function patchAttr(a) {
    clearErrors(attrForm);
    try { await api('PATCH', `/customers/${enc(c.id)}`, { attributes: a }); flash('Saved.'); location.reload(); } catch (e) { showError(attrForm, e); }
  }
  attrForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const raw = value.value;
    const v = type.value === 'number' ? Number(raw) : type.value === 'boolean' ? raw === 'true' : raw;
    patchAttr({ [key.value.trim()]: { type: type.value, value: v } });
  });
  root.append(h('section', { 'aria-labelledby': 'a-h' }, h('h2', { id: 'a-h' }, 'Custom attributes'), attrForm));

  root.append(h('section', { 'aria-labelledby': 'g-h' }, h('h2', { id: 'g-h' }, 'Groups'),
    (c.groups || []).length ? h('ul', {}, c.groups.map((g) => h('li', {}, h('a', { href: `#/groups/${enc(g)}` }, names[g] || g)))) : h('p', {}, 'In no group.')));
  root.append(h('section', { 'aria-labelledby': 's-h' }, h('h2', { id: 's-h' }, 'Subscriptions'),
    table([
      { label: 'Application', value: (s) => s.application },
      { label: 'Product', value: (s) => s.product },
      { label: 'Plan', value: (s) => s.plan },
      { label: 'Status', value: (s) => s.status },
      { label: 'Renews', value: (s) => fmtTime(s.renews_at) },
      { label: 'Expires', value: (s) => fmtTime(s.expires_at) },
    ], c.subscriptions || [], 'Subscriptions')));
  if (c.activity) {
    root.append(h('section', { 'aria-labelledby': 'act-h' }, h('h2', { id: 'act-h' }, 'Activity'),
      h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Activity as JSON' }, JSON.stringify(c.activity, null, 2))));
  }
  // Timeline and communication history (issue 15 parts 7 and 8).
  await customerTimeline(root, c);
}
