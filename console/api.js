// The API client: every call sends the bearer token kept in sessionStorage (pasted on the Token
// screen, or handed over once in the URL fragment `#token=...` that ./infra/run.sh prints).
// Errors become ApiError with the API's `{"error": {"code", "message", "field"?}}`.

const KEY = 'cg-console-token';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.field = e.field || null;
    // The whole error, for the extra fields some carry (a merge's `conflicts`, a merged id's `merged_into`).
    this.error = e;
  }
}

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value.trim());
  else sessionStorage.removeItem(KEY);
}

/** Moves `#token=...` from the address into sessionStorage, so it is not kept in history or shared. */
export function adoptFragmentToken() {
  const m = location.hash.match(/^#token=([^&]+)/);
  if (!m) return false;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + '#/groups');
  return true;
}

/** Calls `method path` with an optional JSON body; resolves to the parsed body (null on 204). */
export async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + token() };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: 'The API cannot be reached: ' + e.message } });
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

/** Every item of a paged list (`items`, `next_cursor`), up to `max` items. */
export async function all(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', `${path}${sep}limit=100${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** Polls `path` every `ms` until `done(body)`; `onProgress(body)` sees each reading. */
export async function poll(path, done, onProgress, ms = 700, limitMs = 10 * 60 * 1000) {
  const started = Date.now();
  for (;;) {
    const body = await api('GET', path);
    onProgress && onProgress(body);
    if (done(body)) return body;
    if (Date.now() - started > limitMs) throw new ApiError(0, { error: { code: 'timeout', message: 'The job did not finish in time; reload to see it later.' } });
    await new Promise((r) => setTimeout(r, ms));
  }
}

export const enc = encodeURIComponent;
