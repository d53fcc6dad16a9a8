// The tenant's settings (GET|PATCH /settings): what applies to every group.
import { api } from '../api.js';
import { h, field, input, showError, formError, flash, clearErrors } from '../ui.js';

export async function render(root) {
  const s = await api('GET', '/settings');
  const grace = input({ type: 'number', min: '0', max: '365', name: 'renewal_grace_days', value: s.renewal_grace_days, inputmode: 'numeric' });
  const form = h('form', { novalidate: true, class: 'stack narrow' },
    field('Renewal grace (days)', grace, { name: 'renewal_grace_days', hint: 'Days after a missed renewal before a subscription counts as expired. A change resyncs the dynamic groups.' }),
    h('p', { class: 'hint' }, 'Renewing, Expiring and Inactive day counts are set per group, in its Add or Edit form.'),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    try {
      const saved = await api('PATCH', '/settings', { renewal_grace_days: Number(grace.value) });
      flash(`Saved: renewal grace ${saved.renewal_grace_days} days.`);
    } catch (e) { showError(form, e); }
  });
  root.append(h('h1', {}, 'Settings'), form);
}
