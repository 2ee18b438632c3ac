// The shell: skip link, navigation (a drawer on phones), language and zone, and the page of the
// current route. Traders and operators see different pages; signed-out visitors see sign-in.
import { lazy, Suspense, useEffect, useRef, useState, type ReactNode } from 'react';
import { api, setSession } from './api';
import type { Lang } from './format';
import { useI18n, type Key } from './i18n';
import { Link, navigate, useLocation } from './router';
import { useSession } from './session';
import { SignIn, SignUp, OperatorSignIn } from './pages/auth';
import { Overview } from './pages/overview';
import { Signals } from './pages/signals';
import { TrackRecord } from './pages/track';
import { Models } from './pages/models';
import { Keys } from './pages/keys';
import { Billing } from './pages/billing';
import { Telegram } from './pages/telegram';
import { OpTenants, OpRevenue, OpSubscriptions, OpUsage, OpFeeds, OpHealth } from './pages/operator';
import { Loading } from './components/ui';

// Loaded when first opened, so the other pages' first load stays small (docs/benchmarks.md).
const Backtests = lazy(() => import('./pages/backtests').then((m) => ({ default: m.Backtests })));
const PaperAccounts = lazy(() => import('./pages/paper').then((m) => ({ default: m.PaperAccounts })));
const later = (page: ReactNode) => <Suspense fallback={<Loading />}>{page}</Suspense>;

interface PageDef {
  path: string;
  label: Key;
  render: () => ReactNode;
}

const traderPages: PageDef[] = [
  { path: '/', label: 'nav.overview', render: () => <Overview /> },
  { path: '/signals', label: 'nav.signals', render: () => <Signals /> },
  { path: '/track-record', label: 'nav.track', render: () => <TrackRecord /> },
  { path: '/backtests', label: 'nav.backtests', render: () => later(<Backtests />) },
  { path: '/paper', label: 'nav.paper', render: () => later(<PaperAccounts />) },
  { path: '/models', label: 'nav.models', render: () => <Models /> },
  { path: '/keys', label: 'nav.keys', render: () => <Keys /> },
  { path: '/billing', label: 'nav.billing', render: () => <Billing /> },
  { path: '/telegram', label: 'nav.telegram', render: () => <Telegram /> },
];

const operatorPages: PageDef[] = [
  { path: '/operator', label: 'nav.tenants', render: () => <OpTenants /> },
  { path: '/operator/revenue', label: 'nav.revenue', render: () => <OpRevenue /> },
  { path: '/operator/subscriptions', label: 'nav.subscriptions', render: () => <OpSubscriptions /> },
  { path: '/operator/usage', label: 'nav.usage', render: () => <OpUsage /> },
  { path: '/operator/feeds', label: 'nav.feeds', render: () => <OpFeeds /> },
  { path: '/operator/health', label: 'nav.health', render: () => <OpHealth /> },
];

const ZONES = ['Asia/Jakarta', 'Asia/Makassar', 'Asia/Jayapura', 'UTC', 'Europe/London', 'America/New_York'];

function Preferences() {
  const { t, lang, setLang, zone, setZone } = useI18n();
  const zones = ZONES.includes(zone) ? ZONES : [zone, ...ZONES];
  return (
    <div className="prefs">
      <label>
        <span className="visually-hidden">{t('lang.label')}</span>
        <select aria-label={t('lang.label')} value={lang} onChange={(e) => setLang(e.target.value as Lang)} data-testid="lang">
          <option value="en">English</option>
          <option value="id">Bahasa Indonesia</option>
        </select>
      </label>
      <label>
        <span className="visually-hidden">{t('zone.label')}</span>
        <select aria-label={t('zone.label')} value={zone} onChange={(e) => setZone(e.target.value)}>
          {zones.map((z) => (
            <option key={z} value={z}>
              {z}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

export function App() {
  const { t } = useI18n();
  const session = useSession();
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);

  // Focus the page heading after client navigation, so screen readers and keyboards follow.
  const first = useRef(true);
  useEffect(() => {
    setMenuOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [path]);

  const signOut = async () => {
    if (session?.refresh_token) {
      await api('/api/v1/auth/logout', { body: { refresh_token: session.refresh_token }, auth: false }).catch(() => {});
    }
    setSession(null);
    navigate('/signin');
  };

  let pages: PageDef[] = [];
  let content: ReactNode;
  if (!session) {
    if (path === '/signup') content = <SignUp />;
    else if (path === '/operator/signin') content = <OperatorSignIn />;
    else content = <SignIn />;
  } else {
    pages = session.kind === 'operator' ? operatorPages : traderPages;
    const page = pages.find((p) => p.path === path);
    if (page) content = page.render();
    else if (path === '/signin' || path === '/signup' || path === '/operator/signin') {
      queueMicrotask(() => navigate(pages[0].path, true));
      content = null;
    } else
      content = (
        <div className="page">
          <h1 tabIndex={-1}>404</h1>
          <p>{t('notfound')}</p>
        </div>
      );
  }

  return (
    <>
      <a className="skip" href="#main">
        {t('skip')}
      </a>
      <header className="topbar">
        <Link to={session?.kind === 'operator' ? '/operator' : '/'} className="brand">
          <img src="/favicon.svg" alt="" width="24" height="24" /> {t('app.name')}
          {session?.kind === 'operator' && <span className="badge">{t('nav.operator')}</span>}
        </Link>
        {session && (
          <button
            type="button"
            className="btn menu-toggle"
            aria-expanded={menuOpen}
            aria-controls="nav"
            onClick={() => setMenuOpen((o) => !o)}
          >
            {t('nav.menu')}
          </button>
        )}
        <Preferences />
      </header>
      <div className={`layout${session ? '' : ' layout-bare'}`}>
        {session && (
          <nav id="nav" className={`sidenav${menuOpen ? ' open' : ''}`} aria-label={t('nav.main')}>
            <ul>
              {pages.map((p) => (
                <li key={p.path}>
                  <Link to={p.path}>{t(p.label)}</Link>
                </li>
              ))}
              <li>
                <a href="/docs">{t('nav.docs')}</a>
              </li>
            </ul>
            <div className="who">
              <span title={session.email}>{session.email}</span>
              <button type="button" className="btn btn-small" onClick={signOut}>
                {t('nav.signout')}
              </button>
            </div>
          </nav>
        )}
        <main id="main" ref={mainRef} tabIndex={-1}>
          {content}
        </main>
      </div>
    </>
  );
}
