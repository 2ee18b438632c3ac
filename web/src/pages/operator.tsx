// Operator pages: tenants (top usage and quota burn-down), revenue and MRR, MRR and churn per
// month, usage by plan, data feeds and their freshness, model health with drift alarms.
import { Fragment } from 'react';
import { api, qs } from '../api';
import { Reliability } from '../chart/Reliability';
import { BarChart } from '../chart/BarChart';
import { formatNumber, formatPercent, formatRupiah, formatTime } from '../format';
import { useI18n, type Key } from '../i18n';
import { Card, Empty, Stat, useAsync, View } from '../components/ui';
import { driftState, fromFirstActive, type AuditRecord, type DriftState, type SubscriptionRevenue } from '../operator';
import { DataTable, type Column } from '../components/DataTable';
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
            <DataTable
              rows={page.items}
              caption={`${t('op.tenants')}: ${formatNumber(page.total, lang)}`}
              testId="tenants"
              rowKey={(r) => r.id}
              columns={[
                {
                  id: 'tenant',
                  header: 'op.tenant',
                  sortValue: (r) => r.name,
                  cell: (r) => (
                    <>
                      {r.name} <span className="muted">#{r.id}</span>
                    </>
                  ),
                },
                { id: 'owner', header: 'op.ownerEmail', sortValue: (r) => r.owner_email, cell: (r) => r.owner_email },
                { id: 'users', header: 'op.users', numeric: true, sortValue: (r) => r.users, cell: (r) => formatNumber(r.users, lang) },
                { id: 'keys', header: 'nav.keys', numeric: true, sortValue: (r) => r.api_keys, cell: (r) => formatNumber(r.api_keys, lang) },
                { id: 'plan', header: 'op.plan', sortValue: (r) => r.plan, cell: (r) => r.plan ?? '—' },
                { id: 'status', header: 'billing.invoice.status', sortValue: (r) => r.status, cell: (r) => r.status ?? '—' },
                { id: 'created', header: 'keys.created', sortValue: (r) => r.created_at, cell: (r) => formatTime(r.created_at, lang, zone) },
              ]}
            />
          )}
        </View>
      </Card>
      <Card title={t('op.units')}>
        <DataTable
          a={top}
          caption={t('op.units')}
          rowKey={(r) => r.tenant_id}
          initialSort={{ column: 'units', dir: 'desc' }}
          columns={[
            {
              id: 'tenant',
              header: 'op.tenant',
              sortValue: (r) => r.tenant,
              cell: (r) => (
                <>
                  {r.tenant} <span className="muted">#{r.tenant_id}</span>
                </>
              ),
            },
            { id: 'plan', header: 'op.plan', sortValue: (r) => r.plan, cell: (r) => r.plan ?? '—' },
            { id: 'units', header: 'op.units', numeric: true, sortValue: (r) => r.units, cell: (r) => formatNumber(r.units, lang) },
            { id: 'overage', header: 'op.overage', numeric: true, sortValue: (r) => r.overage_units, cell: (r) => formatNumber(r.overage_units, lang) },
            { id: 'invoiced', header: 'op.invoiced', numeric: true, sortValue: (r) => r.cost_idr, cell: (r) => formatRupiah(r.cost_idr, lang) },
          ]}
        />
      </Card>
      <Card title={t('op.burn')}>
        <DataTable
          a={burn}
          caption={t('op.burn')}
          rowKey={(r) => r.tenant_id}
          rowProps={(r) => ({ className: r.forecast_over_quota ? 'warn' : undefined })}
          columns={[
            { id: 'tenant', header: 'op.tenant', sortValue: (r) => r.tenant, cell: (r) => r.tenant },
            { id: 'plan', header: 'op.plan', sortValue: (r) => r.plan, cell: (r) => r.plan },
            { id: 'used', header: 'overview.used', numeric: true, sortValue: (r) => r.used, cell: (r) => formatNumber(r.used, lang) },
            { id: 'left', header: 'overview.left', numeric: true, sortValue: (r) => r.remaining, cell: (r) => (r.remaining === null ? t('common.unlimited') : formatNumber(r.remaining, lang)) },
            {
              id: 'forecast',
              header: 'op.forecast',
              numeric: true,
              sortValue: (r) => r.forecast_month_end,
              cell: (r) => (
                <>
                  {formatNumber(r.forecast_month_end, lang)}
                  {r.forecast_over_quota && ' ⚠'}
                </>
              ),
            },
          ]}
        />
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
                  <DataTable
                    rows={r.months}
                    caption={`${t('op.revenue')} / ${t('op.month')}`}
                    rowKey={(m) => m.month}
                    columns={[
                      { id: 'month', header: 'op.month', cell: (m) => m.month },
                      { id: 'revenue', header: 'op.revenue', numeric: true, cell: (m) => formatRupiah(m.revenue_idr, lang) },
                      { id: 'mrr', header: 'op.mrr', numeric: true, cell: (m) => formatRupiah(m.mrr_idr, lang) },
                      { id: 'overage', header: 'op.overage', numeric: true, cell: (m) => formatRupiah(m.overage_idr, lang) },
                    ]}
                  />
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
                <DataTable
                  rows={days}
                  caption={t('op.units')}
                  rowKey={(d) => d}
                  columns={[
                    { id: 'day', header: 'op.day', cell: (d) => d },
                    ...plans.map(
                      (p): Column<string> => ({
                        id: p,
                        header: { text: p },
                        numeric: true,
                        cell: (d) => formatNumber(rows.find((r) => r.date === d && r.plan === p)?.units ?? 0, lang),
                      }),
                    ),
                  ]}
                />
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
        <DataTable
          a={series}
          caption={t('op.feeds')}
          testId="feeds"
          rowKey={(s) => `${s.symbol}${s.timeframe}${s.owner}`}
          columns={[
            { id: 'symbol', header: 'common.symbol', sortValue: (s) => s.symbol, cell: (s) => s.symbol },
            { id: 'timeframe', header: 'common.timeframe', cell: (s) => s.timeframe },
            { id: 'owner', header: 'op.owner', sortValue: (s) => s.owner, cell: (s) => s.owner },
            { id: 'source', header: 'op.source', cell: (s) => s.source },
            { id: 'lastbar', header: 'op.lastbar', sortValue: (s) => s.last_bar_time, cell: (s) => (s.last_bar_time ? formatTime(s.last_bar_time, lang, zone) : '—') },
            { id: 'age', header: 'op.age', numeric: true, cell: (s) => age(s.last_bar_time) },
          ]}
        />
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
  retraining?: AuditRecord[];
}

// The drift state at a model's newest drift check, as a badge row: an alarm (feature drift or
// live performance below validation) is an alert with its reasons.
function DriftRow({ d, model }: { d: DriftState; model: string }) {
  const { t, lang, zone } = useI18n();
  const label = t(`op.drift.${d.kind}` as Key);
  const when = d.time ? ` · ${t('op.drift.checked', { time: formatTime(d.time, lang, zone) })}` : '';
  const alarm = d.kind === 'alarm' || d.kind === 'performance';
  return (
    <div className={`drift drift-${d.kind}${alarm ? ' alert alert-warn' : ''}`} data-testid="drift" data-kind={d.kind} data-model={model} role={alarm ? 'alert' : undefined}>
      <span className={`badge ${alarm ? 'badge-alarm' : 'badge-muted'}`}>{label}</span>
      <span className="muted">{when}</span>
      {d.reasons.length > 0 && (
        <ul className="drift-reasons">
          {d.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
    </div>
  );
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
            {(() => {
              const served = items.filter((it) => it.performance);
              const alarms = served.filter((it) => ['alarm', 'performance'].includes(driftState(it.retraining).kind)).length;
              return (
                <p className={alarms > 0 ? 'alert alert-warn' : 'muted'} data-testid="drift-summary" data-alarms={alarms}>
                  {t('op.drift.summary', { n: formatNumber(alarms, lang), total: formatNumber(served.length, lang) })}
                </p>
              );
            })()}
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
                        <DriftRow d={driftState(it.retraining)} model={p.model_version} />
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
                        <DataTable
                          rows={it.retraining ?? []}
                          caption={`${t('op.audit')}: ${it.symbol} ${it.timeframe}`}
                          rowKey={(r) => r.seq}
                          columns={[
                            { id: 'time', header: 'common.time', cell: (r) => formatTime(r.time, lang, zone) },
                            { id: 'action', header: 'op.action', cell: (r) => r.action },
                            { id: 'decision', header: 'op.decision', cell: (r) => (r.decision ? t('common.yes') : t('common.no')) },
                            { id: 'reason', header: 'op.reason', className: 'wrap', cell: (r) => r.reasons.join('; ') },
                          ]}
                        />
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

// MRR, ARPU and churn per UTC month over the last year (billing/revenue.h), from the first month
// with a paying tenant on: two charts and the table of every figure, with the reconciliation of
// payments against the accounts.
export function OpSubscriptions() {
  const { t, lang } = useI18n();
  const subs = useAsync((signal) => api<SubscriptionRevenue>('/api/v1/operator/analytics/subscriptions', { signal }), []);
  const churn = (v: number | null) => (v === null ? '—' : formatPercent(v, lang, 1));
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('op.subs')}</h1>
      <p className="intro">{t('op.subs.intro')}</p>
      <View a={subs}>
        {(r) => {
          const months = fromFirstActive(r.months);
          const now = r.months.at(-1);
          return (
            <>
              <Card>
                <div className="stats" data-testid="subs-stats">
                  <Stat label={t('op.mrr.now')} value={formatRupiah(now?.mrr_idr ?? 0, lang)} sub={t('op.paying.n', { n: formatNumber(now?.paying_tenants ?? 0, lang) })} />
                  <Stat label={t('op.arpu')} value={formatRupiah(now?.arpu_idr ?? 0, lang)} />
                  <Stat label={t('op.churn.total')} value={formatNumber(r.totals.cancellations + r.totals.lapses, lang)} sub={t('op.churn.split', { c: formatNumber(r.totals.cancellations, lang), l: formatNumber(r.totals.lapses, lang) })} />
                  <Stat label={t('op.net')} value={formatRupiah(r.totals.net_idr, lang)} />
                </div>
                <p className={r.reconciliation.ok ? 'alert alert-ok' : 'alert alert-error'} data-testid="subs-reconciliation" data-ok={r.reconciliation.ok}>
                  {r.reconciliation.ok ? t('op.recon.ok') : t('op.recon.bad', { amount: formatRupiah(r.reconciliation.difference_idr, lang) })}
                </p>
              </Card>
              {months.length === 0 ? (
                <Card>
                  <Empty>{t('op.subs.none')}</Empty>
                </Card>
              ) : (
                <>
                  <div className="grid-2">
                    <Card title={t('op.mrr.chart')}>
                      <BarChart testId="mrr-chart" points={months.map((m) => ({ x: m.month, y: m.mrr_idr }))} label={t('op.mrr.chart')} format={(v) => formatRupiah(v, lang)} />
                    </Card>
                    <Card title={t('op.churn.chart')}>
                      <BarChart testId="churn-chart" points={months.map((m) => ({ x: m.month, y: m.churn_rate }))} label={t('op.churn.chart')} format={(v) => formatPercent(v, lang, 1)} />
                      <p className="hint">{t('op.churn.def')}</p>
                    </Card>
                  </div>
                  <Card title={t('op.subs.table')}>
                    <DataTable
                      rows={months}
                      caption={t('op.subs.table')}
                      testId="subs-table"
                      rowKey={(m) => m.month}
                      rowProps={(m) => ({ 'data-month': m.month })}
                      columns={[
                        { id: 'month', header: 'op.month', rowHeader: true, cell: (m) => m.month },
                        { id: 'mrr', header: 'op.mrr', numeric: true, testId: 'mrr', cell: (m) => formatRupiah(m.mrr_idr, lang) },
                        { id: 'arpu', header: 'op.arpu', numeric: true, cell: (m) => formatRupiah(m.arpu_idr, lang) },
                        { id: 'paying', header: 'op.paying', numeric: true, testId: 'paying', cell: (m) => formatNumber(m.paying_tenants, lang) },
                        { id: 'new', header: 'op.new', numeric: true, cell: (m) => formatNumber(m.new_paying, lang) },
                        { id: 'cancellations', header: 'op.cancellations', numeric: true, cell: (m) => formatNumber(m.cancellations, lang) },
                        { id: 'lapses', header: 'op.lapses', numeric: true, cell: (m) => formatNumber(m.lapses, lang) },
                        { id: 'churn', header: 'op.churn', numeric: true, testId: 'churn', cell: (m) => churn(m.churn_rate) },
                        { id: 'net', header: 'op.net', numeric: true, cell: (m) => formatRupiah(m.net_idr, lang) },
                      ]}
                    />
                  </Card>
                </>
              )}
            </>
          );
        }}
      </View>
    </div>
  );
}
