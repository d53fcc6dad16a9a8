// The condition-group editor (seed 003): condition groups combined by AND, conditions inside a
// group combined by OR, every condition type of the catalogue with its parameters. `value()` is the
// API's `condition_groups`; each condition row has the error slot `condition_groups[i][j]` so a 422
// naming a condition's path shows beside it.
import { h, uid, field, input, select } from './ui.js';
import { CATALOGUE, STATES, FIELDS, toJson, fromJson } from './conditions.js';

export function conditionEditor(initial, groups = []) {
  const root = h('div', { class: 'cg-editor' });
  const model = (initial && initial.length ? initial : [[{ lifecycle: {} }]])
    .map((g) => g.map((c) => fromJson(c) || { type: 'all_customers', values: {} }));

  function draw() {
    const focusKey = document.activeElement && document.activeElement.dataset.key;
    // replaceChildren would write a null as the text "null": the builder's arrays are filtered.
    root.replaceChildren(...[
      ...model.flatMap((grp, i) => [
        i > 0 ? h('p', { class: 'joiner', 'aria-hidden': 'true' }, 'AND') : null,
        h('fieldset', { class: 'cg-group' },
          h('legend', {}, `Condition group ${i + 1}${i > 0 ? ' (AND)' : ''}: any of these conditions (OR)`),
          grp.flatMap((cond, j) => [
            j > 0 ? h('p', { class: 'joiner or', 'aria-hidden': 'true' }, 'OR') : null,
            conditionRow(cond, i, j),
          ]),
          h('div', { class: 'actions' },
            h('button', { type: 'button', class: 'secondary', 'data-key': `add-${i}`, onclick: () => { grp.push({ type: 'lifecycle', values: { states: [] } }); draw(); } }, `Add condition (OR) to group ${i + 1}`),
            model.length > 1 ? h('button', { type: 'button', class: 'secondary danger', onclick: () => { model.splice(i, 1); draw(); } }, `Remove group ${i + 1}`) : null),
          h('p', { class: 'field-error', 'data-error-for': `condition_groups[${i}]` })),
      ]),
      h('button', { type: 'button', class: 'secondary', 'data-key': 'add-group', onclick: () => { model.push([{ type: 'all_customers', values: {} }]); draw(); } }, 'Add condition group (AND)'),
      h('p', { class: 'field-error', 'data-error-for': 'condition_groups' })].filter(Boolean));
    if (focusKey) { const el = root.querySelector(`[data-key="${focusKey}"]`); if (el) el.focus(); }
  }

  function conditionRow(cond, i, j) {
    const key = `c-${i}-${j}`;
    const typeSel = select(Object.entries(CATALOGUE).map(([k, s]) => [k, s.label]), { value: cond.type, 'data-key': key + '-type' });
    typeSel.addEventListener('change', () => { cond.type = typeSel.value; cond.values = {}; draw(); });
    const row = h('div', { class: 'condition', role: 'group', 'aria-label': `Condition ${j + 1} of group ${i + 1}` },
      field('Condition type', typeSel),
      h('div', { class: 'params' }, CATALOGUE[cond.type].params.flatMap((p) => param(p, cond, key))),
      h('button', { type: 'button', class: 'secondary danger', 'aria-label': `Remove condition ${j + 1} of group ${i + 1}`, onclick: () => {
        model[i].splice(j, 1);
        if (!model[i].length) model.splice(i, 1);
        if (!model.length) model.push([{ type: 'all_customers', values: {} }]);
        draw();
      } }, 'Remove'),
      h('p', { class: 'field-error', 'data-error-for': `condition_groups[${i}][${j}]` }));
    return row;
  }

  function bind(el, cond, name, redraw = false) {
    el.addEventListener(el.tagName === 'SELECT' ? 'change' : 'input', () => { cond.values[name] = el.value; if (redraw) draw(); });
    return el;
  }

  function param(p, cond, key) {
    const v = cond.values;
    switch (p.kind) {
      case 'states': {
        const id = uid('states');
        return h('fieldset', { class: 'checks' }, h('legend', {}, p.label),
          STATES.map((s) => {
            const cb = h('input', { type: 'checkbox', id: `${id}-${s}`, value: s, checked: (v.states || []).includes(s), 'data-key': `${key}-${s}` });
            cb.addEventListener('change', () => {
              v.states = STATES.filter((x) => x === s ? cb.checked : (v.states || []).includes(x));
              draw();
            });
            return h('span', { class: 'check' }, cb, h('label', { for: `${id}-${s}` }, s));
          }));
      }
      case 'timing': {
        const beforeOk = (v.states || []).length > 0 && v.states.every((s) => s === 'renewing' || s === 'expiring');
        const opts = [['', 'On the event'], ['after', 'After n days']];
        if (beforeOk) opts.splice(1, 0, ['before', 'Before n days']);
        if (!beforeOk && v.timing === 'before') v.timing = '';
        const sel = bind(select(opts, { value: v.timing || '', 'data-key': key + '-timing' }), cond, 'timing', true);
        const out = [field('Timing', sel, { hint: beforeOk ? null : 'Before applies to renewing and expiring only' })];
        if (v.timing) out.push(field('Days', bind(input({ type: 'number', min: '0', max: '3650', value: v.timing_days ?? '', 'data-key': key + '-days' }), cond, 'timing_days')));
        return out;
      }
      case 'operand': {
        const sel = bind(select(p.ops, { value: v.op || p.ops[0], 'data-key': key + '-op' }), cond, 'op', true);
        const op = v.op || p.ops[0];
        const out = [field('Comparison', sel, { hint: p.hint })];
        const type = p.number ? 'number' : 'text';
        if (op === 'between') {
          out.push(field('From', bind(input({ type, value: v.from ?? '', 'data-key': key + '-from' }), cond, 'from')));
          out.push(field('To', bind(input({ type, value: v.to ?? '', 'data-key': key + '-to' }), cond, 'to')));
        } else if (op === 'in' || op === 'not_in') {
          out.push(field('Values (comma separated)', bind(input({ value: v.value ?? '', 'data-key': key + '-value' }), cond, 'value')));
        } else if (op !== 'exists' && op !== 'missing') {
          out.push(field(p.valueLabel || 'Value', bind(input({ type, value: v.value ?? '', 'data-key': key + '-value' }), cond, 'value')));
        }
        return out;
      }
      case 'bool':
        return field(p.label, bind(select(p.required ? [['true', 'yes'], ['false', 'no']] : [['', 'either'], ['true', 'yes'], ['false', 'no']], { value: v[p.name] ?? (p.required ? 'true' : '') }), cond, p.name));
      case 'select':
        return field(p.label, bind(select(p.options.map((o) => [o, o || 'auto']), { value: v[p.name] ?? p.options[0] }), cond, p.name));
      case 'group':
        return field(p.label, bind(select([['', 'choose a group'], ...groups.map((g) => [g.id, g.name])], { value: v.group_id || '' }), cond, 'group_id'));
      case 'field': {
        const out = [field(p.label, bind(select(FIELDS.map((f) => [f, f === 'attributes.' ? 'custom attribute…' : f]), { value: v.field || 'email', 'data-key': key + '-field' }), cond, 'field', true))];
        if (v.field === 'attributes.') out.push(field('Attribute key', bind(input({ value: v.attr || '', 'data-key': key + '-attr' }), cond, 'attr')));
        return out;
      }
      case 'textarea':
        return field(p.label, bind(h('textarea', { rows: '3' }, v[p.name] || ''), cond, p.name));
      default:
        return field(p.label, bind(input({ value: v[p.name] ?? '', placeholder: p.placeholder || null, 'data-key': `${key}-${p.name}` }), cond, p.name));
    }
  }

  // Defaults the selects show before they are touched become values.
  function withDefaults() {
    for (const grp of model) for (const c of grp) {
      for (const p of CATALOGUE[c.type].params) {
        if (p.kind === 'operand' && !c.values.op) c.values.op = p.ops[0];
        if (p.kind === 'field' && !c.values.field) c.values.field = 'email';
        if (p.kind === 'bool' && p.required && !c.values[p.name]) c.values[p.name] = 'true';
        if (p.name === 'mode' && !c.values.mode) c.values.mode = 'has_any';
      }
    }
  }

  draw();
  return {
    el: root,
    value() { withDefaults(); return model.map((g) => g.map((c) => toJson(c.type, c.values))); },
  };
}
