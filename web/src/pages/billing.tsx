// Billing: the plans compared, usage this period, invoices. (Checkout arrives with payments.)
import { api } from '../api';
import { formatDate, formatNumber, formatRupiah } from '../format';
import { useI18n, type Key } from '../i18n';
import { Card, useAsync, View } from '../components/ui';
import { useMyPlan } from '../components/plan';

interface Invoice {
  period_start?: string;
  period_end?: string;
  total_idr?: number;
  status?: string;
  [k: string]: unknown;
}

export function Billing() {
  const { t, lang, zone } = useI18n();
  const mine = useMyPlan();
  const invoices = useAsync((signal) => api<{ items: Invoice[] }>('/api/v1/invoices', { signal }).then((r) => r.items), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('billing.title')}</h1>
      <View a={mine}>
        {({ usage, plans }) => (
          <>
            <Card title={t('billing.plans')}>
              <div className="table-wrap" tabIndex={0}>
                <table className="plans" data-testid="plans">
                  <thead>
                    <tr>
                      <th scope="col">
                        <span className="visually-hidden">{t('billing.features')}</span>
                      </th>
                      {plans.map((p) => (
                        <th scope="col" key={p.name} className={p.name === usage.plan ? 'current' : undefined}>
                          {p.display_name}
                          {p.name === usage.plan && <span className="badge">{t('billing.current')}</span>}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    <tr>
                      <th scope="row">{t('billing.price')}</th>
                      {plans.map((p) => (
                        <td key={p.name}>{formatRupiah(p.price_idr, lang)}</td>
                      ))}
                    </tr>
                    <tr>
                      <th scope="row">{t('billing.quota')}</th>
                      {plans.map((p) => (
                        <td key={p.name}>{p.monthly_quota === null ? t('common.unlimited') : formatNumber(p.monthly_quota, lang)}</td>
                      ))}
                    </tr>
                    <tr>
                      <th scope="row">{t('billing.overage')}</th>
                      {plans.map((p) => (
                        <td key={p.name}>{p.overage_allowed ? t('billing.overage.price', { price: formatRupiah(p.overage_price_idr, lang) }) : t('billing.overage.none')}</td>
                      ))}
                    </tr>
                    <tr>
                      <th scope="row">{t('billing.rate')}</th>
                      {plans.map((p) => (
                        <td key={p.name}>{t('overview.rate.value', { rate: formatNumber(p.rate_per_second, lang, p.rate_per_second % 1 ? 1 : 0), burst: p.burst })}</td>
                      ))}
                    </tr>
                    <tr>
                      <th scope="row">{t('billing.delay')}</th>
                      {plans.map((p) => (
                        <td key={p.name}>{p.features.includes('realtime') || p.data_delay_seconds === 0 ? t('overview.realtime') : `${formatNumber(p.data_delay_seconds / 60, lang)} min`}</td>
                      ))}
                    </tr>
                    <tr>
                      <th scope="row">{t('billing.timeframes')}</th>
                      {plans.map((p) => (
                        <td key={p.name}>{p.features.includes('all_timeframes') ? 'M1–D1' : p.timeframes.join(', ')}</td>
                      ))}
                    </tr>
                    {[...new Set(plans.flatMap((p) => p.features))].map((f) => (
                      <tr key={f}>
                        <th scope="row">{t(`feature.${f}` as Key) ?? f}</th>
                        {plans.map((p) => (
                          <td key={p.name}>{p.features.includes(f) ? <span aria-label={t('common.yes')}>✓</span> : <span aria-label={t('common.no')}>—</span>}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p className="note">{t('billing.upgrade.note')}</p>
            </Card>
            <Card title={t('billing.usage')}>
              <p>
                {formatNumber(usage.used, lang)} / {usage.quota === null ? t('common.unlimited') : formatNumber(usage.quota, lang)} ·{' '}
                {formatDate(usage.period.start, lang, zone)} – {formatDate(usage.period.end, lang, zone)} · {formatRupiah(usage.cost_idr, lang)}
              </p>
              {usage.by_endpoint.length > 0 && (
                <div className="table-wrap" tabIndex={0}>
                  <table>
                    <caption>{t('billing.byendpoint')}</caption>
                    <thead>
                      <tr>
                        <th scope="col">endpoint</th>
                        <th scope="col">{t('op.units')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {usage.by_endpoint.map((e) => (
                        <tr key={e.endpoint}>
                          <td>
                            <code>{e.endpoint}</code>
                          </td>
                          <td>{formatNumber(e.units, lang)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </Card>
          </>
        )}
      </View>
      <Card title={t('billing.invoices')}>
        <View a={invoices} empty={(d) => d.length === 0}>
          {(items) => (
            <div className="table-wrap" tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('billing.invoice.period')}</th>
                    <th scope="col">{t('billing.invoice.total')}</th>
                    <th scope="col">{t('billing.invoice.status')}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((inv, i) => (
                    <tr key={i}>
                      <td>{inv.period_start ? `${formatDate(inv.period_start, lang, zone)} – ${formatDate(String(inv.period_end), lang, zone)}` : '—'}</td>
                      <td>{inv.total_idr !== undefined ? formatRupiah(inv.total_idr, lang) : '—'}</td>
                      <td>{inv.status ?? '—'}</td>
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
