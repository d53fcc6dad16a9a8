// The console's screens: one entry per screen. A new screen is one module under screens/ exporting
// `render(root, params)` plus one line here; `path` is the hash route (`:name` is a parameter) and
// `nav` the label of its navigation entry (omit it for detail screens reached from a list).
export const SCREENS = [
  { path: '/groups', nav: 'Customer groups', module: './screens/groups.js' },
  { path: '/groups/new', module: './screens/group-edit.js' },
  { path: '/groups/:id/edit', module: './screens/group-edit.js' },
  { path: '/groups/:id', module: './screens/group.js' },
  { path: '/customers', nav: 'Customers', module: './screens/customers.js' },
  { path: '/customers/:id', module: './screens/customer.js' },
  { path: '/search', nav: 'Search', module: './screens/search.js' },
  { path: '/imports', nav: 'Import', module: './screens/imports.js' },
  { path: '/audit', nav: 'Audit log', module: './screens/audit.js' },
  { path: '/webhooks', nav: 'Webhooks', module: './screens/webhooks.js' },
  { path: '/webhooks/:id', module: './screens/webhook.js' },
  { path: '/integrations', nav: 'Email providers', module: './screens/integrations.js' },
  { path: '/integrations/:id', module: './screens/integration.js' },
  { path: '/settings', nav: 'Settings', module: './screens/settings.js' },
  { path: '/token', nav: null, module: './screens/token.js' },
];
