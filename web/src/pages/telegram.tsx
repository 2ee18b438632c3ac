// Telegram: link the user's Telegram account (a one-time deep link to the bot; the page waits for
// the bot to confirm), the organisation's linked groups, and alerts (a message when a closed bar's
// signal is a call at the alert's minimum confidence). docs/telegram.md has the bot's rules.
import { useEffect, useState } from 'react';
import { api, ApiError } from '../api';
import { formatPercent, formatTime } from '../format';
import { useI18n } from '../i18n';
import { Card, ErrorState, Field, FormError, Loading, Select, useAsync, useForm } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { cheapestWith, useMyPlan } from '../components/plan';
import { useSeries } from '../components/series';
import { Link as PageLink } from '../router';
import type { TelegramAlert, TelegramLink, TelegramLinkToken } from '../types';

export function Telegram() {
  const { t } = useI18n();
  const link = useAsync((signal) => api<TelegramLink>('/api/v1/telegram/link', { signal }), []);
  const off = link.error instanceof ApiError && link.error.status === 503;
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('tg.title')}</h1>
      <p className="intro">{t('tg.intro')}</p>
      {off ? (
        <div className="note" role="status" data-testid="tg-off">
          {t('tg.off')} <span className="muted">({(link.error as ApiError).message})</span>
        </div>
      ) : link.error && !link.data ? (
        <ErrorState error={link.error} retry={link.reload} />
      ) : !link.data ? (
        <Loading />
      ) : (
        <>
          <LinkCard info={link.data} reload={link.reload} />
          {link.data.linked && <Groups info={link.data} reload={link.reload} />}
          <Alerts info={link.data} />
        </>
      )}
    </div>
  );
}

// A deep link just made: shown with its expiry; the page asks for the link status every 3 s until
// the bot has linked the account (or the group), or the link has expired.
function PendingLink({ token, onLinked, isLinked }: { token: TelegramLinkToken; onLinked: () => void; isLinked: () => Promise<boolean> }) {
  const { t, lang, zone } = useI18n();
  const [expired, setExpired] = useState(false);
  useEffect(() => {
    let stopped = false;
    const timer = setInterval(async () => {
      if (Date.parse(token.expires_at) < Date.now()) {
        setExpired(true);
        clearInterval(timer);
        return;
      }
      try {
        if ((await isLinked()) && !stopped) {
          clearInterval(timer);
          onLinked();
        }
      } catch {
        /* a failed check is retried at the next tick */
      }
    }, 3000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token.token]);
  if (expired) return <p className="alert alert-error">{t('tg.link.expired')}</p>;
  return (
    <div className="alert alert-ok" role="status" data-testid="tg-deep-link">
      <p>{t(token.kind === 'group' ? 'tg.group.open' : 'tg.link.open', { bot: `@${token.bot_username}` })}</p>
      <p>
        <a href={token.deep_link} target="_blank" rel="noopener noreferrer" className="btn btn-primary">
          {t('tg.link.button', { bot: `@${token.bot_username}` })}
        </a>
      </p>
      <p className="muted">
        {t('tg.link.manual')} <code data-testid="tg-start">/start {token.token}</code>
      </p>
      <p className="muted">
        {t('tg.link.expires', { time: formatTime(token.expires_at, lang, zone) })} <span aria-hidden="true">·</span> {t('tg.link.waiting')}
      </p>
    </div>
  );
}

function LinkCard({ info, reload }: { info: TelegramLink; reload: () => void }) {
  const { t, lang, zone } = useI18n();
  const [token, setToken] = useState<TelegramLinkToken | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      setToken(await api<TelegramLinkToken>('/api/v1/telegram/link', { body: { kind: 'private' } }));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const unlink = async () => {
    if (!confirm(t('tg.unlink.confirm'))) return;
    try {
      await api('/api/v1/telegram/link', { method: 'DELETE' });
      setToken(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
    reload();
  };
  return (
    <Card title={t('tg.account')}>
      <FormError message={error} />
      {info.linked ? (
        <div data-testid="tg-linked">
          <p>
            {t('tg.linked', { who: info.username ? `@${info.username}` : String(info.telegram_user_id) })}{' '}
            {info.blocked && <span className="badge badge-muted">{t('tg.blocked')}</span>}{' '}
            {info.muted && <span className="badge badge-muted">{t('tg.muted')}</span>}
          </p>
          <dl className="kv">
            <dt>{t('tg.userid')}</dt>
            <dd>
              <code>{info.telegram_user_id}</code>
            </dd>
            <dt>{t('tg.since')}</dt>
            <dd>{info.linked_at ? formatTime(info.linked_at, lang, zone) : '—'}</dd>
          </dl>
          {info.blocked && <p className="note">{t('tg.blocked.note')}</p>}
          <p className="note">{t('tg.notyou')}</p>
          <button type="button" className="btn btn-danger" onClick={unlink}>
            {t('tg.unlink')}
          </button>
        </div>
      ) : (
        <div>
          <p>{t('tg.notlinked')}</p>
          {token ? (
            <PendingLink
              token={token}
              isLinked={async () => (await api<TelegramLink>('/api/v1/telegram/link')).linked}
              onLinked={() => {
                setToken(null);
                reload();
              }}
            />
          ) : (
            <button type="button" className="btn btn-primary" onClick={start} disabled={busy}>
              {t('tg.link')}
            </button>
          )}
        </div>
      )}
    </Card>
  );
}

function Groups({ info, reload }: { info: TelegramLink; reload: () => void }) {
  const { t, lang, zone } = useI18n();
  const [token, setToken] = useState<TelegramLinkToken | null>(null);
  const [error, setError] = useState<string | null>(null);
  const start = async () => {
    setError(null);
    try {
      setToken(await api<TelegramLinkToken>('/api/v1/telegram/link', { body: { kind: 'group' } }));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const remove = async (chatId: number, title: string) => {
    if (!confirm(t('tg.group.confirm', { name: title }))) return;
    try {
      await api(`/api/v1/telegram/groups/${chatId}`, { method: 'DELETE' });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
    reload();
  };
  const count = info.groups.length;
  return (
    <Card title={t('tg.groups')}>
      <p className="muted">{t('tg.groups.desc')}</p>
      <FormError message={error} />
      <DataTable
        rows={info.groups}
        caption={t('tg.groups')}
        testId="tg-groups"
        empty={t('tg.groups.none')}
        rowKey={(g) => g.chat_id}
        columns={[
          {
            id: 'group',
            header: 'tg.group',
            cell: (g) => (
              <>
                {g.title || g.chat_id} {g.blocked && <span className="badge badge-muted">{t('tg.blocked')}</span>}
              </>
            ),
          },
          { id: 'since', header: 'tg.since', cell: (g) => formatTime(g.linked_at, lang, zone) },
          {
            id: 'unlink',
            header: 'tg.unlink',
            headerHidden: true,
            cell: (g) => (
              <button type="button" className="btn btn-small btn-danger" onClick={() => remove(g.chat_id, g.title)} aria-label={`${t('tg.unlink')} ${g.title || g.chat_id}`}>
                {t('tg.unlink')}
              </button>
            ),
          },
        ]}
      />
      {token ? (
        <PendingLink
          token={token}
          isLinked={async () => (await api<TelegramLink>('/api/v1/telegram/link')).groups.length > count}
          onLinked={() => {
            setToken(null);
            reload();
          }}
        />
      ) : (
        <button type="button" className="btn" onClick={start}>
          {t('tg.group.link')}
        </button>
      )}
    </Card>
  );
}

function Alerts({ info }: { info: TelegramLink }) {
  const { t, lang, zone } = useI18n();
  const alerts = useAsync((signal) => api<{ alerts: TelegramAlert[] }>('/api/v1/telegram/alerts', { signal }).then((r) => r.alerts), [info.linked, info.groups.length]);
  const series = useSeries();
  const plan = useMyPlan();
  const [symbol, setSymbol] = useState('');
  const [timeframe, setTimeframe] = useState('');
  const [confidence, setConfidence] = useState('0.65');
  const [direction, setDirection] = useState('any');
  const [chat, setChat] = useState('private');
  const [listError, setListError] = useState<string | null>(null);
  const items = series.data ?? [];
  const symbols = [...new Set(items.map((s) => s.symbol))];
  const sym = symbols.includes(symbol) ? symbol : symbols.includes('EURUSD') ? 'EURUSD' : (symbols[0] ?? '');
  const tfs = items.filter((s) => s.symbol === sym).map((s) => s.timeframe);
  const tf = tfs.includes(timeframe) ? timeframe : tfs.includes('H1') ? 'H1' : (tfs[0] ?? '');
  const f = useForm(
    () => {
      const e: Record<string, string> = {};
      if (!sym) e.symbol = t('common.required');
      if (!tf) e.timeframe = t('common.required');
      const c = Number(confidence);
      if (!(c >= 0.5 && c <= 0.99)) e.min_confidence = t('tg.alert.range');
      return e;
    },
    () =>
      api<TelegramAlert>('/api/v1/telegram/alerts', {
        body: { symbol: sym, timeframe: tf, min_confidence: Number(confidence), direction, ...(chat !== 'private' ? { chat_id: Number(chat) } : {}) },
      }),
    () => alerts.reload(),
  );
  const change = async (a: TelegramAlert, action: 'mute' | 'unmute' | 'delete') => {
    setListError(null);
    try {
      if (action === 'delete') await api(`/api/v1/telegram/alerts/${a.id}`, { method: 'DELETE' });
      else await api(`/api/v1/telegram/alerts/${a.id}`, { method: 'PATCH', body: { muted: action === 'mute' } });
    } catch (e) {
      setListError(e instanceof Error ? e.message : String(e));
    }
    alerts.reload();
  };
  const hasTelegram = plan.data?.plan?.features.includes('telegram');
  const needPlan = plan.data ? cheapestWith(plan.data.plans, 'telegram') : undefined;
  const dirLabel = (d: string) => (d === 'bullish' ? t('signal.bullish') : d === 'bearish' ? t('signal.bearish') : t('tg.alert.any'));
  const groupTitle = (id: number) => info.groups.find((g) => g.chat_id === id)?.title ?? String(id);
  return (
    <Card title={t('tg.alerts')}>
      <p className="muted">{t('tg.alerts.desc')}</p>
      {plan.data && !hasTelegram && (
        <p className="note" data-testid="tg-plan">
          {t('tg.alerts.plan', { plan: needPlan?.display_name ?? '—' })} <PageLink to="/billing">{t('overview.upgrade')}</PageLink>
        </p>
      )}
      {info.linked ? (
        <form onSubmit={f.onSubmit} noValidate className="inline-form" data-testid="tg-alert-form">
          <FormError message={f.formError} errors={f.errors} known={['symbol', 'timeframe', 'min_confidence', 'direction', 'chat_id']} />
          <Select label={t('common.symbol')} name="symbol" value={sym} options={symbols.map((s) => ({ value: s, label: s }))} onChange={setSymbol} error={f.errors.symbol} />
          <Select label={t('common.timeframe')} name="timeframe" value={tf} options={tfs.map((s) => ({ value: s, label: s }))} onChange={setTimeframe} error={f.errors.timeframe} />
          <Field
            label={t('tg.alert.confidence')}
            name="min_confidence"
            type="number"
            min={0.5}
            max={0.99}
            step={0.01}
            inputMode="decimal"
            value={confidence}
            onChange={(e) => setConfidence(e.target.value)}
            error={f.errors.min_confidence}
            hint={t('tg.alert.confidence.hint')}
          />
          <Select
            label={t('tg.alert.direction')}
            name="direction"
            value={direction}
            options={['any', 'bullish', 'bearish'].map((d) => ({ value: d, label: dirLabel(d) }))}
            onChange={setDirection}
            error={f.errors.direction}
          />
          {info.groups.length > 0 && (
            <Select
              label={t('tg.alert.chat')}
              name="chat_id"
              value={chat}
              options={[{ value: 'private', label: t('tg.alert.private') }, ...info.groups.map((g) => ({ value: String(g.chat_id), label: g.title || String(g.chat_id) }))]}
              onChange={setChat}
              error={f.errors.chat_id}
            />
          )}
          <button type="submit" className="btn btn-primary" disabled={f.busy}>
            {t('tg.alert.add')}
          </button>
        </form>
      ) : (
        <p className="muted">{t('tg.alerts.linkfirst')}</p>
      )}
      <FormError message={listError} />
      <DataTable
        a={alerts}
        caption={t('tg.alerts')}
        testId="tg-alerts"
        rowKey={(a) => a.id}
        rowProps={(a) => ({ 'data-alert': `${a.symbol} ${a.timeframe}` })}
        columns={[
          {
            id: 'series',
            header: 'tg.alert.series',
            sortValue: (a) => `${a.symbol} ${a.timeframe}`,
            cell: (a) => (
              <>
                {a.symbol} {a.timeframe} {a.muted && <span className="badge badge-muted">{t('tg.muted')}</span>}
              </>
            ),
          },
          { id: 'confidence', header: 'tg.alert.confidence', numeric: true, sortValue: (a) => a.min_confidence, cell: (a) => `≥ ${formatPercent(a.min_confidence, lang)}` },
          { id: 'direction', header: 'tg.alert.direction', cell: (a) => dirLabel(a.direction) },
          { id: 'chat', header: 'tg.alert.chat', cell: (a) => (a.chat === 'group' ? groupTitle(a.chat_id) : t('tg.alert.private')) },
          { id: 'created', header: 'keys.created', sortValue: (a) => a.created_at, cell: (a) => formatTime(a.created_at, lang, zone) },
          {
            id: 'actions',
            header: 'tg.alert.actions',
            headerHidden: true,
            className: 'actions',
            cell: (a) => {
              const name = `${a.symbol} ${a.timeframe} ${formatPercent(a.min_confidence, lang)}`;
              return (
                <>
                  <button type="button" className="btn btn-small" onClick={() => change(a, a.muted ? 'unmute' : 'mute')} aria-label={`${t(a.muted ? 'tg.unmute' : 'tg.mute')} ${name}`}>
                    {t(a.muted ? 'tg.unmute' : 'tg.mute')}
                  </button>{' '}
                  <button type="button" className="btn btn-small btn-danger" onClick={() => change(a, 'delete')} aria-label={`${t('tg.alert.delete')} ${name}`}>
                    {t('tg.alert.delete')}
                  </button>
                </>
              );
            },
          },
        ]}
      />
    </Card>
  );
}
