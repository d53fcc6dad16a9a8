// The bearer token: pasted here and kept in this tab's sessionStorage only.
import { token, setToken } from '../api.js';
import { h, field, flash } from '../ui.js';

export async function render(root) {
  const box = h('textarea', { name: 'token', rows: '4', spellcheck: 'false', autocomplete: 'off' }, token());
  const form = h('form', { class: 'stack narrow' },
    field('Bearer token', box, { name: 'token', hint: 'Paste the JWT of your tenant. It is kept in this tab only (sessionStorage). Locally ./infra/run.sh prints a link that fills it in.' }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Use this token'),
      h('button', { type: 'button', class: 'secondary', onclick: () => { setToken(''); box.value = ''; flash('Token forgotten.'); } }, 'Forget the token')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken(box.value);
    flash('Token saved for this tab.');
    location.hash = '#/groups';
  });
  root.append(h('h1', {}, 'Token'), form);
}
