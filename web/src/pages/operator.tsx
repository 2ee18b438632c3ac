// Operator pages: tenants (top usage and quota burn-down), revenue and MRR, usage by plan, data
// feeds and their freshness, model health.
import { Fragment } from 'react';
import { api, qs } from '../api';
import { Reliability } from '../chart/Reliability';
import { BarChart } from '../chart/BarChart';
import { formatNumber, formatPercent, formatRupiah, formatTime } from '../format';
import { useI18n } from '../i18n';
import { Card, Stat, useAsync, View } from '../components/ui';
import { reliabilityBins } from '../stats';
import type { Performance, SeriesItem, Signal } from '../types';

interface TopTenant {
  tenant_id: number;
  tenant: string;
  plan: string | null;
  calls: number;
  units: number;
  overage_units: number;
  cost_idr: number;
}

interface Burn {
  tenant_id: number;
  tenant: string;
  plan: string;
  used: number;
  quota: number | null;
  remaining: number | null;
  forecast_month_end: number;
  forecast_over_quota: boolean;
}

interface TenantRow {
  id: number;
  name: string;
  created_at: string;
  owner_email: string;
  users: number;
  api_keys: number;
  plan: string | null;
  status: string | null;
}

export function OpTenants() {
  const { t, lang, zone } = useI18n();
  const tenants = useAsync((signal) => api<{ items: TenantRow[]; total: number }>(`/api/v1/operator/tenants${qs({ limit: 200 })}`, { signal }), []);
  const top = useAsync((signal) => api<{ items: TopTenant[] }>(`/api/v1/operator/analytics/top-tenants${qs({ limit: 50 })}`, { signal }).then((r) => r.items), []);
  const burn = useAsync((signal) => api<{ items: Burn[] }>(`/api/v1/operator/analytics/burn-down${qs({ limit: 50 })}`, { signal }).then((r) => r.items), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('op.tenants')}</h1>
      <Card title={t('op.tenants')}>
        <View a={tenants} empty={(d) => d.items.length === 0}>
          {(page) => (
            <div className="table-wrap" tabIndex={0}>
              <table data-testid="tenants">
                <caption className="visually-hidden">
                  {t('op.tenants')}: {formatNumber(page.total, lang)}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">{t('op.tenant')}</th>
                    <th scope="col">{t('op.ownerEmail')}</th>
                    <th scope="col">{t('op.users')}</th>
                    <th scope="col">{t('nav.keys')}</th>
                    <th scope="col">{t('op.plan')}</th>
                    <th scope="col">{t('billing.invoice.status')}</th>
                    <th scope="col">{t('keys.created')}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((r) => (
                    <tr key={r.id}>
                      <td>
                        {r.name} <span className="muted">#{r.id}</span>
                      </td>
                      <td>{r.owner_email}</td>
                      <td>{formatNumber(r.users, lang)}</td>
                      <td>{formatNumber(r.api_keys, lang)}</td>
                      <td>{r.plan ?? '—'}</td>
                      <td>{r.status ?? '—'}</td>
                      <td>{formatTime(r.created_at, lang, zone)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </View>
      </Card>
      <Card title={t('op.units')}>
        <View a={top} empty={(d) => d.length === 0}>
          {(rows) => (
            <div className="table-wrap" tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('op.tenant')}</th>
                    <th scope="col">{t('op.plan')}</th>
                    <th scope="col">{t('op.units')}</th>
                    <th scope="col">{t('op.overage')}</th>
                    <th scope="col">{t('op.invoiced')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.tenant_id}>
                      <td>
                        {r.tenant} <span className="muted">#{r.tenant_id}</span>
                      </td>
                      <td>{r.plan ?? '—'}</td>
                      <td>{formatNumber(r.units, lang)}</td>
                      <td>{formatNumber(r.overage_units, lang)}</td>
                      <td>{formatRupiah(r.cost_idr, lang)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </View>
      </Card>
      <Card title={t('op.burn')}>
        <View a={burn} empty={(d) => d.length === 0}>
          {(rows) => (
            <div className="table-wrap" tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('op.tenant')}</th>
                    <th scope="col">{t('op.plan')}</th>
                    <th scope="col">{t('overview.used')}</th>
                    <th scope="col">{t('overview.left')}</th>
                    <th scope="col">{t('op.forecast')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.tenant_id} className={r.forecast_over_quota ? 'warn' : undefined}>
                      <td>{r.tenant}</td>
                      <td>{r.plan}</td>
                      <td>{formatNumber(r.used, lang)}</td>
                      <td>{r.remaining === null ? t('common.unlimited') : formatNumber(r.remaining, lang)}</td>
                      <td>
                        {formatNumber(r.forecast_month_end, lang)}
                        {r.forecast_over_quota && ' ⚠'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </View>
      </Card>
    </div>
  );
}

interface Revenue {
  months: Array<{ month: string; invoices: number; revenue_idr: number; mrr_idr: number; overage_idr: number }>;
  total_revenue_idr: number;
  run_rate_mrr_idr: number;
  paying_subscriptions: number;
}

export function OpRevenue() {
  const { t, lang } = useI18n();
  const rev = useAsync((signal) => api<Revenue>('/api/v1/operator/analytics/revenue', { signal }), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('op.revenue')}</h1>
      <View a={rev}>
        {(r) => (
          <>
            <Card>
              <div className="stats">
                <Stat label={t('op.mrr.now')} value={formatRupiah(r.run_rate_mrr_idr, lang)} sub={`${formatNumber(r.paying_subscriptions, lang)} ×`} />
                <Stat label={t('op.revenue')} value={formatRupiah(r.total_revenue_idr, lang)} />
              </div>
            </Card>
            <Card title={`${t('op.revenue')} / ${t('op.month')}`}>
              {r.months.length === 0 ? (
                <p className="state state-empty">{t('common.none')}</p>
              ) : (
                <>
                  <BarChart points={r.months.map((m) => ({ x: m.month, y: m.revenue_idr }))} label={t('op.revenue')} format={(v) => formatRupiah(v, lang)} />
                  <div className="table-wrap" tabIndex={0}>
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">{t('op.month')}</th>
                          <th scope="col">{t('op.revenue')}</th>
                          <th scope="col">{t('op.mrr')}</th>
                          <th scope="col">{t('op.overage')}</th>
                        </tr>
                      </thead>
                      <tbody>
                        {r.months.map((m) => (
                          <tr key={m.month}>
                            <td>{m.month}</td>
                            <td>{formatRupiah(m.revenue_idr, lang)}</td>
                            <td>{formatRupiah(m.mrr_idr, lang)}</td>
                            <td>{formatRupiah(m.overage_idr, lang)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </>
              )}
            </Card>
          </>
        )}
      </View>
    </div>
  );
}

interface UsageRow {
  date: string;
  plan: string;
  units: number;
  calls: number;
}

export function OpUsage() {
  const { t, lang } = useI18n();
  const usage = useAsync((signal) => api<{ items: UsageRow[] }>('/api/v1/operator/analytics/usage', { signal }).then((r) => r.items), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('op.usage')}</h1>
      <View a={usage} empty={(d) => d.length === 0}>
        {(rows) => {
          const plans = [...new Set(rows.map((r) => r.plan))];
          const days = [...new Set(rows.map((r) => r.date))];
          return (
            <>
              {plans.map((p) => (
                <Card key={p} title={p}>
                  <BarChart points={days.map((d) => ({ x: d.slice(5), y: rows.find((r) => r.date === d && r.plan === p)?.units ?? 0 }))} label={`${p} ${t('op.units')}`} format={(v) => formatNumber(v, lang)} />
                </Card>
              ))}
              <Card title={t('op.units')}>
                <div className="table-wrap" tabIndex={0}>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">{t('op.day')}</th>
                        {plans.map((p) => (
                          <th scope="col" key={p}>
                            {p}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {days.map((d) => (
                        <tr key={d}>
                          <td>{d}</td>
                          {plans.map((p) => (
                            <td key={p}>{formatNumber(rows.find((r) => r.date === d && r.plan === p)?.units ?? 0, lang)}</td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </Card>
            </>
          );
        }}
      </View>
    </div>
  );
}

function age(iso: string | null): string {
  if (!iso) return '—';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function OpFeeds() {
  const { t, lang, zone } = useI18n();
  const series = useAsync((signal) => api<{ items: SeriesItem[] }>('/api/v1/market/series', { signal }).then((r) => r.items), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('op.feeds')}</h1>
      <Card>
        <View a={series} empty={(d) => d.length === 0}>
          {(rows) => (
            <div className="table-wrap" tabIndex={0}>
              <table data-testid="feeds">
                <thead>
                  <tr>
                    <th scope="col">{t('common.symbol')}</th>
                    <th scope="col">{t('common.timeframe')}</th>
                    <th scope="col">{t('op.owner')}</th>
                    <th scope="col">{t('op.source')}</th>
                    <th scope="col">{t('op.lastbar')}</th>
                    <th scope="col">{t('op.age')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <tr key={`${s.symbol}${s.timeframe}${s.owner}`}>
                      <td>{s.symbol}</td>
                      <td>{s.timeframe}</td>
                      <td>{s.owner}</td>
                      <td>{s.source}</td>
                      <td>{s.last_bar_time ? formatTime(s.last_bar_time, lang, zone) : '—'}</td>
                      <td>{age(s.last_bar_time)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </View>
      </Card>
    </div>
  );
}

interface HealthItem {
  symbol: string;
  timeframe: string;
  model?: null;
  performance?: Performance;
  resolved_p_up?: Array<[number, boolean]>;
  retraining?: Array<{ seq: number; time: string; action: string; decision: boolean; reasons: string[]; champion_version?: number; challenger_version?: number }>;
}

export function OpHealth() {
  const { t, lang, zone } = useI18n();
  const health = useAsync((signal) => api<{ items: HealthItem[] }>('/api/v1/operator/models/health', { signal }).then((r) => r.items), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('op.health')}</h1>
      <p className="intro">{t('op.health.intro')}</p>
      <View a={health} empty={(d) => d.length === 0}>
        {(items) => (
          <>
            {items.map((it) => {
              const p = it.performance;
              const bins = reliabilityBins(
                (it.resolved_p_up ?? []).map(([p_up, up]) => ({ p_up, resolved: true, resolution: { up, hit: null, realized_return: 0, exit_price: 0 } }) as unknown as Signal),
              );
              return (
                <Card key={`${it.symbol}${it.timeframe}`} title={`${it.symbol} ${it.timeframe}`}>
                  {!p ? (
                    <p className="muted">{t('models.serving.none')}</p>
                  ) : (
                    <div className="grid-2">
                      <div>
                        <p>
                          <code>{p.model_version}</code>
                        </p>
                        <dl className="kv">
                          <dt>{t('track.resolved')}</dt>
                          <dd>{formatNumber(p.live.resolved, lang)}</dd>
                          <dt>{t('track.hitrate')}</dt>
                          <dd>
                            {p.live.hit_rate === null ? '—' : formatPercent(p.live.hit_rate, lang)}
                            {p.live.hit_rate_ci && p.live.hit_rate_ci[0] !== null && (
                              <span className="muted">
                                {' '}
                                ({t('track.ci')} {formatPercent(p.live.hit_rate_ci[0]!, lang)}–{formatPercent(p.live.hit_rate_ci[1]!, lang)}, n = {p.live.directional})
                              </span>
                            )}
                          </dd>
                          <dt>{t('track.brier')}</dt>
                          <dd>{p.live.brier === null ? '—' : p.live.brier.toFixed(4)}</dd>
                          {p.live.interval_coverage.map((c) => (
                            <Fragment key={c.nominal}>
                              <dt>
                                {t('track.coverage')} {formatPercent(c.nominal, lang, 0)}
                              </dt>
                              <dd>{formatPercent(c.empirical, lang)}</dd>
                            </Fragment>
                          ))}
                        </dl>
                        <h3>{t('op.audit')}</h3>
                        {it.retraining && it.retraining.length > 0 ? (
                          <div className="table-wrap" tabIndex={0}>
                            <table>
                              <thead>
                                <tr>
                                  <th scope="col">{t('common.time')}</th>
                                  <th scope="col">{t('op.action')}</th>
                                  <th scope="col">{t('op.decision')}</th>
                                  <th scope="col">{t('op.reason')}</th>
                                </tr>
                              </thead>
                              <tbody>
                                {it.retraining.map((r) => (
                                  <tr key={r.seq}>
                                    <td>{formatTime(r.time, lang, zone)}</td>
                                    <td>{r.action}</td>
                                    <td>{r.decision ? t('common.yes') : t('common.no')}</td>
                                    <td className="wrap">{r.reasons.join('; ')}</td>
                                  </tr>
                                ))}
                              </tbody>
                            </table>
                          </div>
                        ) : (
                          <p className="muted">{t('common.none')}</p>
                        )}
                      </div>
                      <div>{bins.length ? <Reliability bins={bins} /> : <p className="muted">{t('track.none')}</p>}</div>
                    </div>
                  )}
                </Card>
              );
            })}
          </>
        )}
      </View>
    </div>
  );
}
