// The condition catalogue of seed 003 as the API has it (see RuleNode in infra/openapi.yaml): each
// condition type, its label, and the parameters its editor shows. `toJson`/`fromJson` convert
// between the editor's flat values and the API's condition object.

export const STATES = ['registered', 'subscribed', 'renewing', 'canceling', 'expiring', 'canceled', 'expired', 'inactive'];
export const OPS = ['=', '!=', '<', '<=', '>', '>=', 'between', 'in', 'not_in', 'contains', 'starts_with', 'exists', 'missing'];
export const COUNT_OPS = ['=', '!=', '<', '<=', '>', '>=', 'between'];
export const DATE_OPS = ['=', '!=', '<', '<=', '>', '>=', 'between', 'exists', 'missing'];
export const FIELDS = ['email', 'phone', 'name', 'order_number', 'external_id', 'signup_date', 'registration_date', 'created_at',
  'last_active_at', 'first_booking_at', 'last_booking_at', 'bookings', 'email_verified', 'phone_verified', 'attributes.'];
export const STATUSES = ['active', 'pending', 'suspended', 'canceled', 'expired'];

// Parameter kinds: text, number, list (comma separated), states, select, bool, operand (op + value(s)).
const filters = [
  { name: 'application', label: 'Application', kind: 'text' },
  { name: 'product', label: 'Product', kind: 'text' },
  { name: 'plan', label: 'Plan', kind: 'text' },
];

export const CATALOGUE = {
  all_customers: { label: 'All clients', params: [] },
  member_of: { label: 'Client group', params: [{ name: 'group_id', label: 'Group', kind: 'group' }] },
  lifecycle: {
    label: 'Lifecycle (Tonos events)',
    params: [
      { name: 'states', label: 'States', kind: 'states' },
      { name: 'applications', label: 'Applications (comma separated)', kind: 'list' },
      { name: 'products', label: 'Products (comma separated)', kind: 'list' },
      { name: 'plans', label: 'Plans (comma separated)', kind: 'list' },
      { name: 'timing', label: 'Timing', kind: 'timing' },
    ],
  },
  first_expense_date: { label: 'First expense date', params: [{ name: 'op', kind: 'operand', ops: DATE_OPS, hint: 'a day (2026-01-01), a time or relative (-30d, +7d, now)' }] },
  registration_date: { label: 'Registration date', params: [{ name: 'op', kind: 'operand', ops: DATE_OPS, hint: 'a day (2026-01-01), a time or relative (-30d, +7d, now)' }] },
  has_service: { label: 'Client has services', params: [...filters, { name: 'period', label: 'Order period', kind: 'text' },
    { name: 'status', label: 'Statuses (comma separated; default active, pending, suspended)', kind: 'list' },
    { name: 'paid', label: 'Paid', kind: 'bool' }, { name: 'ordered_from', label: 'Ordered from (date)', kind: 'text' },
    { name: 'ordered_to', label: 'Ordered to (date)', kind: 'text' }] },
  no_service: { label: 'No services', params: [...filters, { name: 'period', label: 'Order period', kind: 'text' },
    { name: 'status', label: 'Statuses (comma separated)', kind: 'list' }] },
  paid_service_count: { label: 'Number of paid services', params: [...filters, { name: 'op', kind: 'operand', ops: COUNT_OPS, number: true }] },
  service_count: { label: 'Number of services', params: [...filters, { name: 'op', kind: 'operand', ops: COUNT_OPS, number: true }] },
  verified_phone_missing: { label: 'Verified phone number is not specified', params: [] },
  email_verified: { label: 'Email confirmation status', params: [{ name: 'verified', label: 'Verified', kind: 'bool', required: true }] },
  payments_amount: { label: 'Payments amount', params: [{ name: 'currency', label: 'Currency', kind: 'text', placeholder: 'EUR' },
    { name: 'op', kind: 'operand', ops: COUNT_OPS, number: true, valueName: 'amount_minor', valueLabel: 'Amount (minor units)' }] },
  payments_over_year: { label: 'Payments over one year', params: [{ name: 'currency', label: 'Currency', kind: 'text', placeholder: 'EUR' },
    { name: 'op', kind: 'operand', ops: COUNT_OPS, number: true, valueName: 'amount_minor', valueLabel: 'Amount (minor units)' }] },
  expenses_amount: { label: 'Expenses amount', params: [{ name: 'currency', label: 'Currency', kind: 'text', placeholder: 'EUR' },
    { name: 'op', kind: 'operand', ops: COUNT_OPS, number: true, valueName: 'amount_minor', valueLabel: 'Amount (minor units)' },
    { name: 'period', label: 'Period (e.g. 30d or 4w)', kind: 'text', placeholder: '30d' }] },
  activation_required: { label: 'Account activation required', params: [] },
  selected_customers: { label: 'Selected clients', params: [{ name: 'ids', label: 'Customer ids (spaces or new lines)', kind: 'textarea' }] },
  attribute: { label: 'Attribute', params: [{ name: 'field', label: 'Field', kind: 'field' }, { name: 'op', kind: 'operand', ops: OPS },
    { name: 'type', label: 'Value type', kind: 'select', options: ['', 'string', 'number', 'boolean', 'date'] }] },
  tags: { label: 'Tags', params: [{ name: 'mode', label: 'Match', kind: 'select', options: ['has_any', 'has_all', 'has_none'] },
    { name: 'tags', label: 'Tags (comma separated)', kind: 'list' }] },
  bookings: { label: 'Number of bookings', params: [{ name: 'op', kind: 'operand', ops: COUNT_OPS, number: true }] },
  balance: { label: 'Balance (cashback)', params: [{ name: 'unit', label: 'Unit (ISO 4217 code or points)', kind: 'text', placeholder: 'EUR' },
    { name: 'op', kind: 'operand', ops: COUNT_OPS, number: true, valueName: 'amount_minor', valueLabel: 'Amount (minor units)' }] },
};

const list = (s) => String(s || '').split(',').map((x) => x.trim()).filter(Boolean);

function scalar(v, number) {
  if (v === '' || v === undefined) return undefined;
  if (number) return Number(v);
  if (v === 'true') return true;
  if (v === 'false') return false;
  return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

/** The API condition object for an editor row `{type, values}`. */
export function toJson(type, v) {
  const spec = CATALOGUE[type];
  const out = {};
  if (type === 'tags') return { tags: { [v.mode || 'has_any']: list(v.tags) } };
  for (const p of spec.params) {
    const val = v[p.name];
    switch (p.kind) {
      case 'states': if (val && val.length) out.states = val; break;
      case 'list': if (list(val).length) out[p.name] = list(val); break;
      case 'bool': if (val === 'true' || val === 'false') out[p.name] = val === 'true'; break;
      case 'timing': if (v.timing && v.timing_days !== '' && v.timing_days !== undefined) out.timing = { [v.timing + '_days']: Number(v.timing_days) }; break;
      case 'operand': {
        out.op = v.op || p.ops[0];
        const name = p.valueName || 'value';
        if (out.op === 'between') { out.from = scalar(v.from, p.number); out.to = scalar(v.to, p.number); }
        else if (out.op === 'in' || out.op === 'not_in') out.values = list(v.value).map((x) => scalar(x, p.number));
        else if (out.op !== 'exists' && out.op !== 'missing') out[name] = scalar(v.value, p.number);
        break;
      }
      case 'field': out.field = v.field === 'attributes.' ? 'attributes.' + (v.attr || '') : v.field; break;
      case 'number': if (val !== '' && val !== undefined) out[p.name] = Number(val); break;
      default: if (val !== '' && val !== undefined) out[p.name] = val;
    }
  }
  return { [type]: out };
}

/** The editor row for an API condition object (the inverse of toJson). */
export function fromJson(node) {
  const [type, body] = Object.entries(node)[0];
  const spec = CATALOGUE[type];
  if (!spec) return null;
  const v = {};
  if (type === 'tags') {
    const [mode, tags] = Object.entries(body)[0];
    return { type, values: { mode, tags: tags.join(', ') } };
  }
  for (const p of spec.params) {
    const val = body[p.name];
    switch (p.kind) {
      case 'states': v.states = body.states || []; break;
      case 'list': v[p.name] = (val || []).join(', '); break;
      case 'bool': v[p.name] = val === undefined ? '' : String(val); break;
      case 'timing': if (body.timing) { const [k, n] = Object.entries(body.timing)[0]; v.timing = k.replace('_days', ''); v.timing_days = n; } break;
      case 'operand': {
        v.op = body.op;
        const name = p.valueName || 'value';
        if (body.op === 'between') { v.from = body.from; v.to = body.to; }
        else if (body.values) v.value = body.values.join(', ');
        else v.value = body[name] ?? '';
        break;
      }
      case 'field':
        if (String(body.field).startsWith('attributes.')) { v.field = 'attributes.'; v.attr = body.field.slice(11); } else v.field = body.field;
        break;
      default: v[p.name] = val ?? '';
    }
  }
  return { type, values: v };
}
