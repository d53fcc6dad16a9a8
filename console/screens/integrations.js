// Email providers (issue 16, seed 000 "Integrations > Email Providers"): the connected SmartEmailing
// accounts and Connect (login name and API key; the key is never shown again). Each account's
// group-to-list mappings are on its detail screen (integration.js).
import { api, all, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, fmtTime, clearErrors } from '../ui.js';

export async function render(root) {
  const items = await all('/integrations');
  const name = input({ name: 'name' });
  const username = input({ name: 'credentials.username', autocomplete: 'off' });
  const key = input({ name: 'credentials.api_key', type: 'password', autocomplete: 'off' });
  const form = h('form', { novalidate: true, class: 'stack' }, h('h2', {}, 'Connect an email provider'),
    field('Provider', select([['smartemailing', 'SmartEmailing']], { name: 'provider' }), { name: 'provider' }),
    field('Name', name, { name: 'name' }),
    h('div', { class: 'row' },
      field('Login name (e-mail)', username, { name: 'credentials.username' }),
      field('API key', key, { name: 'credentials.api_key', hint: 'SmartEmailing Settings > API; never shown again' })),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Connect')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = { provider: form.elements.provider.value, credentials: { username: username.value.trim(), api_key: key.value.trim() } };
    if (name.value.trim()) body.name = name.value.trim();
    try {
      const i = await api('POST', '/integrations', body);
      flash('Connected.');
      location.hash = `#/integrations/${enc(i.id)}`;
    } catch (e) { showError(form, e); }
  });
  root.append(h('h1', {}, 'Email providers'),
    table([
      { label: 'Account', value: (i) => h('a', { href: `#/integrations/${enc(i.id)}` }, i.name || i.username) },
      { label: 'Provider', value: (i) => i.provider },
      { label: 'Login name', value: (i) => i.username },
      { label: 'Connected', value: (i) => fmtTime(i.created_at) },
    ], items, 'Connected accounts'),
    form);
}
