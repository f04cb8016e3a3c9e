// The daemon's HTTP side: /auth/* and JSON-RPC over POST /rpc/v1.
// The session cookie travels by itself; the CSRF token must go on every POST.

/** A failed call, with the daemon's own message (it says what to do). */
export class ApiError extends Error {
  constructor(message, { status = 0, code = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** Logged out, or the session ended (a daemon restart ends every session). */
  get unauthorized() {
    return this.status === 401 || this.code === -32006;
  }
}

let csrfToken = null;
let nextId = 1;

export function setCsrfToken(token) {
  csrfToken = token;
}

async function send(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method === 'POST' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError('Cannot reach the Archy daemon. Is it running?');
  }
  const text = await response.text();
  const json = text ? safeParse(text) : null;
  return { response, json };
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** `{password_set, logged_in, csrf_token}` */
export async function session() {
  const { response, json } = await send('/auth/session');
  if (!response.ok || !json) throw new ApiError(`The daemon answered ${response.status} to /auth/session`, { status: response.status });
  setCsrfToken(json.csrf_token);
  return json;
}

async function passwordCall(path, password) {
  const { response, json } = await send(path, { method: 'POST', body: { password } });
  if (!response.ok) {
    throw new ApiError(json?.error ?? `The daemon answered ${response.status}`, { status: response.status });
  }
  setCsrfToken(json.csrf_token);
}

/** First run only: choose the password, and be logged in. */
export const setup = (password) => passwordCall('/auth/setup', password);

export const login = (password) => passwordCall('/auth/login', password);

export async function logout() {
  const { response } = await send('/auth/logout', { method: 'POST' });
  setCsrfToken(null);
  if (!response.ok && response.status !== 401) throw new ApiError(`Logging out failed (${response.status})`, { status: response.status });
}

/** One JSON-RPC call; resolves to its result or throws ApiError with the daemon's message. */
export async function call(method, params) {
  const request = { jsonrpc: '2.0', method, id: nextId++ };
  if (params !== undefined) request.params = params;
  const { response, json } = await send('/rpc/v1', { method: 'POST', body: request });
  if (json?.error) throw new ApiError(json.error.message, { status: response.status, code: json.error.code });
  if (!response.ok || !json) throw new ApiError(`${method}: the daemon answered ${response.status}`, { status: response.status });
  return json.result;
}
