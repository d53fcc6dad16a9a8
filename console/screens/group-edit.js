// Add / Edit a group. Three forms, as the seeds have them:
// - tonos (seed 000): name, Tonos events, timing Before/After n days (Before only where it applies),
//   applications, products, plans, and the group's Renewing/Expiring/Inactive days;
// - static (seed 001): name and the customers' phone numbers, one per line, with the per-line report
//   of rejected numbers beside the box;
// - rules (seeds 003, 002): the condition-group editor or a template with its extra filters, and the
//   preview (count and sample) before saving.
import { api, all, enc } from '../api.js';
import { h, field, input, select, showError, formError, flash, table, csvList, clearErrors } from '../ui.js';
import { STATES } from '../conditions.js';
import { conditionEditor } from '../rules-editor.js';

export async function render(root, { id, query }) {
  const group = id ? await api('GET', `/groups/${enc(id)}`) : null;
  let kind = query.get('kind') || 'tonos';
  if (group) kind = group.type === 'static' ? 'static' : tonosShape(group) ? 'tonos' : 'rules';
  const title = group ? `Edit ${group.name}` : { tonos: 'Add a customer group', static: 'Add a static group', rules: 'Add a rule group' }[kind];
  root.append(h('p', {}, h('a', { href: '#/groups' }, '← Customer groups')), h('h1', {}, title));
  const forms = { tonos: tonosForm, static: staticForm, rules: rulesForm };
  root.append(await forms[kind](group));
}

/** A dynamic group whose rules are one lifecycle condition is edited in the Tonos form. */
function tonosShape(g) {
  return g.rules && Object.keys(g.rules).length === 1 && g.rules.lifecycle && !g.template;
}

const nameField = (group) => field('Name', input({ name: 'name', required: true, value: group ? group.name : '', autocomplete: 'off' }), { name: 'name' });

function settingsFields(group) {
  const s = (group && group.settings) || { renewing_days: 7, expiring_days: 7, inactive_days: 30 };
  return h('fieldset', {}, h('legend', {}, 'Customer group settings (days)'),
    h('div', { class: 'row' },
      ['renewing', 'expiring', 'inactive'].map((k) => field(`${k[0].toUpperCase() + k.slice(1)} days`,
        input({ type: 'number', min: '1', max: '3650', name: `${k}_days`, value: s[`${k}_days`] }), { name: `settings.${k}_days` }))));
}

function readSettings(form) {
  const out = {};
  for (const k of ['renewing_days', 'expiring_days', 'inactive_days']) {
    const v = form.elements[k].value;
    if (v !== '') out[k] = Number(v);
  }
  return out;
}

async function save(form, group, body) {
  try {
    const saved = group
      ? await api('PATCH', `/groups/${enc(group.id)}`, body)
      : await api('POST', '/groups', body);
    return saved;
  } catch (e) { showError(form, e); return null; }
}

function tonosForm(group) {
  const lc = (group && group.rules && group.rules.lifecycle) || {};
  const chosen = new Set(lc.states || []);
  const timing = lc.timing ? Object.keys(lc.timing)[0].replace('_days', '') : '';
  const days = lc.timing ? Object.values(lc.timing)[0] : '';
  const events = h('fieldset', { class: 'checks', 'aria-describedby': 'events-error' }, h('legend', {}, 'Tonos events'),
    STATES.map((s) => h('span', { class: 'check' },
      h('input', { type: 'checkbox', id: `ev-${s}`, name: 'events', value: s, checked: chosen.has(s) }),
      h('label', { for: `ev-${s}` }, s[0].toUpperCase() + s.slice(1)))),
    h('p', { class: 'field-error', id: 'events-error', 'data-error-for': 'rules.lifecycle.states' }));
  const timingSel = select([['', 'On the event (no timing)'], ['before', 'Before'], ['after', 'After']], { name: 'timing', value: timing });
  const daysInput = input({ type: 'number', min: '0', max: '3650', name: 'days', value: days, inputmode: 'numeric' });
  const err = formError();
  const form = h('form', { novalidate: true, class: 'stack' },
    nameField(group), events,
    h('div', { class: 'row' },
      field('Select timing event', timingSel, { name: 'rules.lifecycle.timing', hint: 'Before: n days before the event is due (Renewing and Expiring only). After: n days after it happened.' }),
      field('Number of days', daysInput, { name: 'rules.lifecycle.timing.days' })),
    field('Application(s)', input({ name: 'applications', value: (lc.applications || []).join(', ') }), { name: 'rules.lifecycle.applications', hint: 'Comma separated; optional' }),
    field('Product(s)', input({ name: 'products', value: (lc.products || []).join(', ') }), { name: 'rules.lifecycle.products', hint: 'Comma separated; optional' }),
    field('Subscription plan(s)', input({ name: 'plans', value: (lc.plans || []).join(', ') }), { name: 'rules.lifecycle.plans', hint: 'Comma separated; optional' }),
    settingsFields(group), err,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, group ? 'Save' : 'Create'), h('a', { class: 'button secondary', href: '#/groups' }, 'Cancel')));
  // "Before" cannot apply to events that only happen (registered, subscribed, ...): hide it then.
  const beforeOption = timingSel.querySelector('option[value="before"]');
  const sync = () => {
    const states = [...form.querySelectorAll('input[name=events]:checked')].map((c) => c.value);
    const ok = states.length > 0 && states.every((s) => s === 'renewing' || s === 'expiring');
    beforeOption.hidden = !ok;
    beforeOption.disabled = !ok;
    if (!ok && timingSel.value === 'before') timingSel.value = '';
    daysInput.closest('.field').hidden = !timingSel.value;
  };
  form.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const states = [...form.querySelectorAll('input[name=events]:checked')].map((c) => c.value);
    const lifecycle = { states };
    for (const k of ['applications', 'products', 'plans']) {
      const v = csvList(form.elements[k].value);
      if (v.length) lifecycle[k] = v;
    }
    if (timingSel.value) lifecycle.timing = { [`${timingSel.value}_days`]: daysInput.value === '' ? null : Number(daysInput.value) };
    const body = { name: form.elements.name.value, rules: { lifecycle }, settings: readSettings(form) };
    if (!group) body.type = 'dynamic';
    const saved = await save(form, group, body);
    if (saved) { flash(`Group "${saved.name}" saved; its members appear as the resync runs.`); location.hash = `#/groups/${enc(saved.id)}`; }
  });
  return form;
}

function staticForm(group) {
  const phones = h('textarea', { name: 'phones', rows: '10', placeholder: '380980000000', spellcheck: 'false' });
  const report = h('div', { class: 'report', 'aria-live': 'polite', id: 'phone-report' });
  const err = formError();
  const form = h('form', { novalidate: true, class: 'stack' },
    nameField(group),
    group ? null : h('div', { class: 'side-by-side' },
      field('Customer phone numbers', phones, { name: 'members', hint: 'One per line, with the country code. The customers must exist already.' }),
      report),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, group ? 'Save' : 'Save'), h('a', { class: 'button secondary', href: '#/groups' }, 'Cancel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = { name: form.elements.name.value };
    if (!group && phones.value.trim()) body.members = { phones: phones.value };
    const saved = await save(form, group, body);
    if (!saved) return;
    if (group) { flash('Saved.'); location.hash = `#/groups/${enc(saved.id)}`; return; }
    const r = saved.member_report;
    if (r && r.rejected.length) {
      showReport(report, r);
      report.append(h('p', {}, h('a', { href: `#/groups/${enc(saved.id)}` }, `Open ${saved.name}`)));
      flash(`Group "${saved.name}" created with ${r.added} members; ${r.rejected.length} lines were rejected.`, true);
    } else {
      flash(`Group "${saved.name}" created${r ? ` with ${r.added} members` : ''}.`);
      location.hash = `#/groups/${enc(saved.id)}`;
    }
  });
  return form;
}

/** The per-line report of an add-members request, beside the box. */
export function showReport(into, r) {
  into.replaceChildren(...[
    h('h2', {}, 'Report'),
    h('p', {}, `Added ${r.added}, already members ${r.already_members}, rejected ${r.rejected.length}.`),
    r.rejected.length ? h('ul', { class: 'rejected', 'aria-label': 'Rejected lines' }, r.rejected.map((x) =>
      h('li', {}, h('strong', {}, `Line ${x.line}: `), h('code', {}, x.value), ` — ⚠ ${x.message} (${x.reason})`))) : null].filter(Boolean));
}

async function rulesForm(group) {
  const [templates, groups] = await Promise.all([api('GET', '/group-templates'), all('/groups')]);
  const others = groups.filter((g) => !group || g.id !== group.id);
  const initialTemplate = (group && group.template) || '';
  const source = select([['groups', 'Condition groups'], ...templates.items.map((t) => [t.id, `Template: ${t.name}`])], { name: 'source', value: initialTemplate || 'groups' });
  const initialGroups = group && group.condition_groups ? group.condition_groups
    : group && group.rules ? treeToGroups(group.rules) : null;
  const editor = conditionEditor(initialGroups, others);
  const tplInfo = h('p', { class: 'hint', id: 'template-description' });
  const extras = h('fieldset', {}, h('legend', {}, 'Extra filters of the template (optional)'),
    field('Gender (comma separated)', input({ name: 'gender' }), { name: 'extra.gender' }),
    field('Customer group', select([['', 'any'], ...others.map((g) => [g.id, g.name])], { name: 'customer_group' }), { name: 'extra.customer_group' }),
    field('Aggregator (comma separated)', input({ name: 'aggregator' }), { name: 'extra.aggregator' }),
    h('div', { class: 'row' },
      field('Bookings comparison', select(['', '=', '!=', '<', '<=', '>', '>='].map((o) => [o, o || 'any']), { name: 'bookings_op' }), { name: 'extra.bookings' }),
      field('Number of bookings', input({ type: 'number', min: '0', name: 'bookings_value' }), { name: 'extra.bookings.value' })));
  const preview = h('section', { class: 'preview', 'aria-live': 'polite', 'aria-label': 'Preview' }, h('h2', {}, 'Preview'), h('p', { class: 'hint' }, 'Preview counts the customers the draft matches now, before you save.'));
  const err = formError();
  const form = h('form', { novalidate: true, class: 'stack' },
    nameField(group),
    field('Start from', source, { name: 'template' }), tplInfo,
    h('div', { class: 'editor-slot' }, editor.el), extras,
    settingsFields(group), err,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', id: 'preview-button', onclick: () => runPreview() }, 'Preview'),
      h('button', { type: 'submit' }, group ? 'Save' : 'Create'),
      h('a', { class: 'button secondary', href: '#/groups' }, 'Cancel')));
  const sync = () => {
    const t = templates.items.find((x) => x.id === source.value);
    form.querySelector('.editor-slot').hidden = !!t;
    extras.hidden = !t;
    tplInfo.textContent = t ? t.description : 'Conditions inside a group are combined by OR; the groups by AND.';
  };
  source.addEventListener('change', sync);
  sync();

  function definition() {
    const body = { settings: readSettings(form) };
    if (source.value === 'groups') body.condition_groups = editor.value();
    else {
      body.template = source.value;
      const extra = {};
      const g = csvList(form.elements.gender.value); if (g.length) extra.gender = g;
      const a = csvList(form.elements.aggregator.value); if (a.length) extra.aggregator = a;
      if (form.elements.customer_group.value) extra.customer_group = form.elements.customer_group.value;
      if (form.elements.bookings_op.value) extra.bookings = { op: form.elements.bookings_op.value, value: Number(form.elements.bookings_value.value || 0) };
      if (Object.keys(extra).length) body.extra = extra;
    }
    return body;
  }

  async function runPreview() {
    clearErrors(form);
    preview.replaceChildren(h('p', {}, 'Counting…'));
    try {
      const p = await api('POST', '/groups/preview', { ...definition(), sample_size: 10 });
      preview.replaceChildren(
        h('h2', {}, 'Preview'),
        h('p', { class: 'count' }, `${p.matched} of ${p.evaluated} customers match${p.complete ? '' : ' (first 20 000 evaluated)'}.`),
        table([
          { label: 'Customer', value: (c) => h('a', { href: `#/customers/${enc(c.customer_id)}` }, c.name || c.customer_id) },
          { label: 'Email', value: (c) => c.email },
        ], p.sample, 'Sample of matching customers'));
    } catch (e) { preview.replaceChildren(); showError(form, e); }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = { name: form.elements.name.value, ...definition() };
    if (!group) body.type = 'dynamic';
    const saved = await save(form, group, body);
    if (saved) { flash(`Group "${saved.name}" saved; its members appear as the resync runs.`); location.hash = `#/groups/${enc(saved.id)}`; }
  });
  // Wide windows: the preview stays beside the editor; narrow ones stack it below.
  return h('div', { class: 'rules-layout' }, form, h('aside', {}, preview));
}

/** A rule tree of the shape all[any[...]] (or one condition) as condition groups; else null. */
function treeToGroups(rules) {
  const asGroup = (n) => (n.any ? n.any : [n]);
  const plain = (n) => !n.all && !n.any && !n.not;
  const groups = rules.all ? rules.all.map(asGroup) : [asGroup(rules)];
  return groups.every((g) => g.every(plain)) ? groups : null;
}
