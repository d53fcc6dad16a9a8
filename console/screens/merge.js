// Customer merge (issue 15, seed 004's "Customers Merge"): on the customer page, name the customer to
// merge into this one, preview the merged profile and every identity conflict, then perform it.
// This customer is the primary: it keeps its values and takes the other's where it has none; the
// other customer is deleted (its id then points here).
import { api, enc } from '../api.js';
import { h, field, input, showError, formError, flash, clearErrors } from '../ui.js';

const SHOWN = [['Name', 'name'], ['Email', 'email'], ['Phone', 'phone'], ['External id', 'external_id'], ['Order number', 'order_number']];

function profile(c) {
  const rows = SHOWN.filter(([, k]) => c[k]).map(([label, k]) => [label, c[k]]);
  rows.push(['Tags', (c.tags || []).join(', ') || '—']);
  rows.push(['Balances', Object.entries(c.balances || {}).map(([u, v]) => `${u} ${v}`).join(', ') || '—']);
  return h('dl', { class: 'facts merged-profile' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
}

/** The Merge section of the customer page `c` (the primary). */
export function customerMerge(root, c) {
  const other = input({ name: 'secondary_id', placeholder: 'customer id' });
  const out = h('div', { class: 'merge-preview', 'aria-live': 'polite' });
  const form = h('form', { novalidate: true, class: 'stack merge-form' },
    field('Customer to merge into this one (id)', other, { name: 'secondary_id', hint: 'It is deleted after the merge; its identities, groups and balances move here.' }),
    formError(), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Preview merge')), out);
  const body = () => ({ primary_id: c.id, secondary_id: other.value.trim() });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    out.replaceChildren();
    let p;
    try { p = await api('POST', '/customers/merge/preview', body()); } catch (e) { showError(form, e); return; }
    out.append(h('h3', {}, 'After the merge'), profile(p.customer));
    if (p.conflicts.length) {
      out.append(h('p', { class: 'form-error', role: 'alert' }, 'These identities conflict, so the customers cannot be merged:'),
        h('ul', { class: 'conflicts' }, p.conflicts.map((x) => h('li', {}, `${x.field}: ${x.primary} (this customer) vs ${x.secondary}`))));
      return;
    }
    const moves = p.summary;
    out.append(h('p', {}, `Moves ${moves.identities_moved.join(', ') || 'no identities'}; joins ${moves.groups_joined.length} static group(s); ${moves.secondary_id} leaves ${moves.groups_left.length} group(s) and is deleted.`),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!confirm(`Merge ${moves.secondary_id} into ${c.name || c.id}? ${moves.secondary_id} is deleted.`)) return;
        try {
          await api('POST', '/customers/merge', body());
          flash(`Merged ${moves.secondary_id} into this customer.`);
          location.reload();
        } catch (e) { showError(form, e); }
      } }, 'Merge into this customer')));
  });
  root.append(h('section', { 'aria-labelledby': 'merge-h' }, h('h2', { id: 'merge-h' }, 'Merge'), form));
}
