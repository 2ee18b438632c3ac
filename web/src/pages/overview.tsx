// Overview: plan, quota used and left this period, rate limit and data delay, recent signals and
// the live accuracy of the series they come from.
import { api, qs } from '../api';
import { formatDate, formatNumber, formatPercent, formatTime } from '../format';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { DataTable } from '../components/DataTable';
import { Card, Empty, Stat, useAsync, View } from '../components/ui';
import { useMyPlan } from '../components/plan';
import { Direction } from '../components/signal';
import type { Performance, Signal } from '../types';

export function Overview() {
  const { t, lang, zone } = useI18n();
  const mine = useMyPlan();
  const recent = useAsync((signal) => api<{ signals: Signal[] }>(`/api/v1/signals${qs({ limit: 10 })}`, { signal }).then((r) => r.signals), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('overview.title')}</h1>
      <View a={mine}>
        {({ usage, plan }) => {
          const pct = usage.quota ? Math.min(1, usage.used / usage.quota) : 0;
          return (
            <Card title={t('overview.plan')} actions={<Link to="/billing">{t('overview.upgrade')}</Link>}>
              <div className="stats">
                <Stat label={t('overview.plan')} value={<span data-testid="plan-name">{plan?.display_name ?? usage.plan}</span>} />
                <Stat
                  label={t('overview.quota')}
                  value={
                    <>
                      {formatNumber(usage.used, lang)} {t('overview.used')}
                    </>
                  }
                  sub={
                    usage.quota === null ? (
                      t('common.unlimited')
                    ) : (
                      <>
                        <progress max={usage.quota} value={usage.used} aria-label={t('overview.quota')}>
                          {formatPercent(pct, lang)}
                        </progress>{' '}
                        {formatNumber(usage.remaining ?? 0, lang)} {t('overview.left')} / {formatNumber(usage.quota, lang)}
                      </>
                    )
                  }
                />
                <Stat label={t('overview.period')} value={`${formatDate(usage.period.start, lang, zone)} – ${formatDate(usage.period.end, lang, zone)}`} />
                {plan && <Stat label={t('overview.rate')} value={t('overview.rate.value', { rate: formatNumber(plan.rate_per_second, lang, plan.rate_per_second % 1 ? 1 : 0), burst: plan.burst })} />}
                {plan && (
                  <Stat
                    label={t('overview.delay')}
                    value={plan.features.includes('realtime') || plan.data_delay_seconds === 0 ? t('overview.realtime') : `${formatNumber(plan.data_delay_seconds / 60, lang)} min`}
                  />
                )}
              </div>
            </Card>
          );
        }}
      </View>
      <div className="grid-2">
        <Card title={t('overview.recent')} actions={<Link to="/signals">{t('nav.signals')}</Link>}>
          <DataTable
            a={recent}
            caption={t('overview.recent')}
            rowKey={(s) => s.id}
            columns={[
              { id: 'time', header: 'common.time', cell: (s) => formatTime(s.timestamp, lang, zone) },
              { id: 'series', header: 'common.symbol', cell: (s) => `${s.symbol} ${s.timeframe}` },
              { id: 'direction', header: 'signal.direction', cell: (s) => <Direction s={s} /> },
              { id: 'confidence', header: 'signal.confidence', numeric: true, cell: (s) => (s.confidence !== undefined ? formatPercent(s.confidence, lang) : '—') },
              {
                id: 'outcome',
                header: 'signal.outcome',
                cell: (s) => (!s.resolved ? t('signal.pending') : s.resolution?.hit === true ? t('signal.hit') : s.resolution?.hit === false ? t('signal.miss') : '—'),
              },
            ]}
          />
        </Card>
        <Card title={t('overview.accuracy')} actions={<Link to="/track-record">{t('nav.track')}</Link>}>
          <View a={recent} empty={(d) => d.length === 0}>
            {(signals) => <Accuracy keys={[...new Set(signals.map((s) => `${s.symbol}|${s.timeframe}`))].slice(0, 4)} />}
          </View>
        </Card>
      </div>
    </div>
  );
}

function Accuracy({ keys }: { keys: string[] }) {
  const { t, lang } = useI18n();
  const perf = useAsync(
    (signal) =>
      Promise.all(
        keys.map((k) => {
          const [symbol, timeframe] = k.split('|');
          return api<Performance>(`/api/v1/signals/performance${qs({ symbol, timeframe })}`, { signal }).catch(() => null);
        }),
      ),
    [keys.join(',')],
  );
  return (
    <View a={perf}>
      {(rows) => {
        const ok = rows.filter((r): r is Performance => r !== null);
        if (ok.length === 0) return <Empty />;
        return (
          <ul className="acc">
            {ok.map((p) => (
              <li key={`${p.symbol}${p.timeframe}`}>
                <strong>
                  {p.symbol} {p.timeframe}
                </strong>{' '}
                {p.live.hit_rate === null ? (
                  <span className="muted">{t('track.none')}</span>
                ) : (
                  <>
                    {t('track.hitrate')} {formatPercent(p.live.hit_rate, lang)}
                    {p.live.hit_rate_ci && p.live.hit_rate_ci[0] !== null && (
                      <span className="muted">
                        {' '}
                        ({t('track.ci')} {formatPercent(p.live.hit_rate_ci[0]!, lang)}–{formatPercent(p.live.hit_rate_ci[1]!, lang)}, n = {p.live.directional})
                      </span>
                    )}
                  </>
                )}
              </li>
            ))}
          </ul>
        );
      }}
    </View>
  );
}
