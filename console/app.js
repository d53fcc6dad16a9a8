// The console shell: navigation from SCREENS, a hash router, and the token handover.
import { SCREENS } from './screens.js';
import { adoptFragmentToken, token } from './api.js';
import { h, flash } from './ui.js';

function match(pattern, path) {
  const p = pattern.split('/');
  const g = path.split('/');
  if (p.length !== g.length) return null;
  const params = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(g[i]);
    else if (p[i] !== g[i]) return null;
  }
  return params;
}

function currentPath() {
  const hash = location.hash.replace(/^#/, '');
  const [path, query] = hash.split('?');
  return { path: path || '/groups', query: new URLSearchParams(query || '') };
}

function renderNav(active) {
  const nav = document.getElementById('nav');
  nav.replaceChildren(
    h('ul', {},
      SCREENS.filter((s) => s.nav).map((s) =>
        h('li', {}, h('a', {
          href: '#' + s.path,
          'aria-current': active.startsWith(s.path) ? 'page' : null,
        }, s.nav))))
  );
}

let generation = 0;

async function route() {
  const { path, query } = currentPath();
  const mine = ++generation;
  renderNav(path);
  const main = document.getElementById('main');
  if (!token() && path !== '/token') {
    location.hash = '#/token';
    return;
  }
  for (const screen of SCREENS) {
    const params = match(screen.path, path);
    if (!params) continue;
    const mod = await import(screen.module);
    if (mine !== generation) return;
    main.replaceChildren();
    try {
      await mod.render(main, { ...params, query });
    } catch (e) {
      main.append(h('p', { class: 'error', role: 'alert' }, 'Error: ' + e.message));
    }
    const heading = main.querySelector('h1');
    if (heading) document.title = heading.textContent + ' · Customer groups console';
    return;
  }
  main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'No screen at ' + path + '.'));
}

adoptFragmentToken();
document.getElementById('token-button').addEventListener('click', () => { location.hash = '#/token'; });
window.addEventListener('hashchange', () => { flash(''); route(); });
route();
