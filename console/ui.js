// Small DOM helpers shared by the screens: element builder, labelled fields with an error slot,
// showing an API error next to the field it names, progress bars, dialogs and downloads.

/** h('button', {onclick, class}, 'text', child, [children]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let seq = 0;
/** A unique id for label/control pairs. */
export const uid = (p = 'f') => `${p}-${++seq}`;

/**
 * A labelled control with a hint and an error slot. `name` is the API field it edits (what a 422's
 * `field` names); the error slot is announced and linked by aria-describedby.
 */
export function field(label, control, { name, hint } = {}) {
  const id = control.id || uid();
  control.id = id;
  const errId = id + '-error';
  const hintId = hint ? id + '-hint' : null;
  control.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field', 'data-field': name || null },
    h('label', { for: id }, label),
    hint ? h('small', { id: hintId, class: 'hint' }, hint) : null,
    control,
    h('p', { id: errId, class: 'field-error', 'data-error-for': name || '' }));
  return wrap;
}

export const input = (attrs = {}) => h('input', { type: 'text', ...attrs });
export function select(options, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: attrs.value === value ? true : null }, text);
  }));
}

/** Clears every field error and the form-level message inside `root`. */
export function clearErrors(root) {
  root.querySelectorAll('.field-error').forEach((p) => { p.textContent = ''; });
  root.querySelectorAll('[aria-invalid]').forEach((c) => c.removeAttribute('aria-invalid'));
  root.querySelectorAll('.form-error').forEach((p) => { p.textContent = ''; });
}

/**
 * Shows an API error inside `root`: next to the field it names (the longest `data-error-for` that
 * is the field or a prefix of its path, e.g. `condition_groups[0][1]` for
 * `condition_groups[0][1].lifecycle.states`), else in the form's `.form-error`. Focuses the field.
 */
export function showError(root, err) {
  clearErrors(root);
  const text = err.message || String(err);
  let best = null;
  if (err.field) {
    for (const slot of root.querySelectorAll('[data-error-for]')) {
      const f = slot.getAttribute('data-error-for');
      if (!f) continue;
      const fits = err.field === f || err.field.startsWith(f + '.') || err.field.startsWith(f + '[');
      if (fits && (!best || f.length > best.getAttribute('data-error-for').length)) best = slot;
    }
  }
  if (best) {
    best.textContent = '⚠ ' + text;
    const control = best.parentElement.querySelector('input, select, textarea');
    if (control) { control.setAttribute('aria-invalid', 'true'); control.focus(); }
    return;
  }
  const general = root.querySelector('.form-error');
  if (general) { general.textContent = '⚠ ' + text; general.focus && general.focus(); } else flash(text, true);
}

/** A form-level error line (role=alert) for errors that name no field. */
export const formError = () => h('p', { class: 'form-error', role: 'alert', tabindex: '-1' });

/** The status line under the header. */
export function flash(text, isError = false) {
  const el = document.getElementById('flash');
  if (!el) return;
  el.textContent = text ? (isError ? '⚠ Error: ' : '✓ ') + text : '';
  el.className = text ? (isError ? 'error' : 'ok') : '';
}

/** A labelled progress bar with its percentage in text (never colour alone). */
export function progressBar(label) {
  const id = uid('p');
  const bar = h('progress', { id, max: '1', value: '0' });
  const text = h('span', { class: 'progress-text' }, '0%');
  const wrap = h('div', { class: 'progress' }, h('label', { for: id }, label), bar, text);
  wrap.set = (fraction, note = '') => {
    const f = Math.max(0, Math.min(1, Number(fraction) || 0));
    bar.value = f;
    text.textContent = `${Math.round(f * 100)}%${note ? ' · ' + note : ''}`;
  };
  return wrap;
}

/** A modal <dialog> with a heading; resolves when closed. `body(close)` fills it. */
export function dialog(title, body) {
  const id = uid('d');
  const dlg = h('dialog', { 'aria-labelledby': id });
  const close = () => { dlg.close(); dlg.remove(); };
  dlg.append(h('div', { class: 'dialog-head' },
    h('h2', { id }, title),
    h('button', { type: 'button', class: 'secondary', 'aria-label': 'Close', onclick: close }, '✕')));
  dlg.append(body(close));
  dlg.addEventListener('cancel', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('input, select, textarea');
  if (first) first.focus();
  return dlg;
}

/** Starts a browser download of a presigned link under its file name. */
export function download(url, fileName) {
  const a = h('a', { href: url, download: fileName || '', class: 'visually-hidden' }, 'download');
  document.body.append(a);
  a.click();
  a.remove();
}

/** A table from column definitions `[{label, value(row) -> Node|string}]`. */
export function table(columns, rows, caption) {
  return h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', {}, rows.length
      ? rows.map((r) => h('tr', {}, columns.map((c) => h('td', { 'data-label': c.label }, c.value(r) ?? ''))))
      : h('tr', {}, h('td', { colspan: String(columns.length) }, 'Nothing here yet.'))));
}

export const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '');
export const csvList = (s) => String(s || '').split(/[,\n]/).map((x) => x.trim()).filter(Boolean);
