// The one way the dashboard talks to Sinyal's API: JSON over fetch, problem+json errors as
// ApiError (with the offending field), the session's tokens, one refresh on an expired token.

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail: string;
  field?: string;
  request_id?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly field?: string;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.status = problem.status;
    this.field = problem.field;
    this.problem = problem;
  }
}

export interface Session {
  kind: 'user' | 'operator';
  access_token: string;
  refresh_token?: string;
  expires_at: number; // ms since epoch
  email: string;
}

const SESSION_KEY = 'sinyal.session';
type Listener = (s: Session | null) => void;
const listeners = new Set<Listener>();
let current: Session | null = readSession();

function readSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  return current;
}

export function setSession(s: Session | null): void {
  current = s;
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
  listeners.forEach((l) => l(s));
}

export function onSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export interface TokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
}

export function sessionFrom(kind: Session['kind'], email: string, t: TokenAnswer): Session {
  return {
    kind,
    email,
    access_token: t.access_token,
    refresh_token: t.refresh_token,
    expires_at: Date.now() + t.expires_in * 1000,
  };
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  auth?: boolean; // default true
  signal?: AbortSignal;
}

async function toError(res: Response): Promise<ApiError> {
  let problem: Problem = { status: res.status, detail: res.statusText || `HTTP ${res.status}` };
  try {
    const body = await res.json();
    if (body && typeof body === 'object') problem = { ...problem, ...body };
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(problem);
}

let refreshing: Promise<boolean> | null = null;

async function refresh(): Promise<boolean> {
  const s = current;
  if (!s || s.kind !== 'user' || !s.refresh_token) return false;
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: s.refresh_token }),
      });
      if (!res.ok) return false;
      setSession(sessionFrom('user', s.email, (await res.json()) as TokenAnswer));
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const send = async (): Promise<Response> => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.auth !== false && current) headers.Authorization = `Bearer ${current.access_token}`;
    return fetch(path, {
      method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: opts.signal,
    });
  };
  if (opts.auth !== false && current && current.expires_at - Date.now() < 30_000) await refresh();
  let res = await send();
  // A read refused by the plan's rate limit (429) is asked again after Retry-After, twice at most,
  // when that is a few seconds away: pages that poll, or load several things at once, then show
  // the answer instead of stale data.
  const method = opts.method ?? (opts.body !== undefined ? 'POST' : 'GET');
  for (let retry = 0; res.status === 429 && method === 'GET' && retry < 2; retry++) {
    const wait = Number(res.headers.get('retry-after'));
    if (!(wait >= 0 && wait <= 5)) break;
    await new Promise((r) => setTimeout(r, wait * 1000 + 100));
    if (opts.signal?.aborted) break;
    res = await send();
  }
  if (res.status === 401 && opts.auth !== false && current) {
    if (await refresh()) res = await send();
    else setSession(null);
  }
  if (!res.ok) throw await toError(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

// The WebSocket signal stream, authenticated by the subprotocol "sinyal.bearer.<token>" (browsers
// cannot send Authorization on a WebSocket; src/http/pipeline.h, kDashboardSubprotocol).
export function openSignalStream(): WebSocket | null {
  if (!current) return null;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return new WebSocket(`${scheme}//${location.host}/api/v1/stream/signals`, [
    'sinyal.v1',
    `sinyal.bearer.${current.access_token}`,
  ]);
}
