// Billing: the subscription (plan, term, scheduled change), checkout per plan and period through
// Midtrans Snap or the SIMULATED local sandbox, cancel at the period end, the plans compared,
// usage this period, payment orders, term invoices (pay an open one) and usage invoices.
// Midtrans does not return the user here by itself (midtrans.finish_url is a server setting), so
// the page reads the subscription again when the window gets the focus back, and on request.
import { useEffect, useState } from 'react';
import { api, ApiError } from '../api';
import { formatDate, formatNumber, formatRupiah } from '../format';
import { useI18n, type Key } from '../i18n';
import { Card, useAsync, View } from '../components/ui';
import { useMyPlan } from '../components/plan';
import type { BillingSubscription, CheckoutAnswer, PaymentOrder, Plan, TermInvoice } from '../types';

type Period = 'month' | 'year';

function termPrice(p: Plan, period: Period): number {
  return period === 'year' ? (p.yearly_price_idr ?? p.price_idr * 12) : p.price_idr;
}

function errorText(err: unknown): string {
  return err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
}

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
  const sub = useAsync((signal) => api<BillingSubscription>('/api/v1/billing/subscription', { signal }), []);
  const orders = useAsync((signal) => api<{ items: PaymentOrder[] }>('/api/v1/billing/orders?limit=20', { signal }).then((r) => r.items), []);
  const termInvoices = useAsync((signal) => api<{ items: TermInvoice[] }>('/api/v1/billing/invoices', { signal }).then((r) => r.items), []);
  const [period, setPeriod] = useState<Period>('month');
  const [answer, setAnswer] = useState<{ plan: string; a: CheckoutAnswer } | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState<string | null>(null);

  const refreshAll = () => {
    sub.reload();
    orders.reload();
    termInvoices.reload();
    mine.reload();
  };
  // Back from the payment page (another tab or the same one): read the state again.
  useEffect(() => {
    const onFocus = () => refreshAll();
    window.addEventListener('focus', onFocus);
    return () => window.removeEventListener('focus', onFocus);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const run = async <T,>(key: string, call: () => Promise<T>, done: (r: T) => void) => {
    setBusy(key);
    setErrors((e) => ({ ...e, [key]: '' }));
    try {
      done(await call());
      refreshAll();
    } catch (err) {
      setErrors((e) => ({ ...e, [key]: errorText(err) }));
    } finally {
      setBusy(null);
    }
  };
  const checkout = (plan: string, per: Period = period) =>
    run(`checkout-${plan}`, () => api<CheckoutAnswer>('/api/v1/billing/checkout', { method: 'POST', body: { plan, period: per } }), (a) => setAnswer({ plan, a }));
  const cancel = () => {
    if (!window.confirm(t('sub.cancel.confirm'))) return;
    void run('cancel', () => api<BillingSubscription>('/api/v1/billing/cancel', { method: 'POST' }), () => setAnswer(null));
  };
  const payInvoice = (id: number) =>
    run(`pay-${id}`, () => api<PaymentOrder>(`/api/v1/billing/invoices/${id}/pay`, { method: 'POST' }), (o) => {
      if (o.payment?.redirect_url) window.location.assign(o.payment.redirect_url);
    });
  const err = (key: string) =>
    errors[key] ? (
      <p className="error" role="alert" data-testid={`error-${key}`}>
        {errors[key]}
      </p>
    ) : null;
  const planName = (plans: Plan[] | undefined, name: string) => plans?.find((p) => p.name === name)?.display_name ?? name;
  const simulated = sub.data?.gateway?.simulated === true;

  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('billing.title')}</h1>
      <Card
        title={t('sub.title')}
        actions={
          <button type="button" className="btn btn-small" onClick={refreshAll} data-testid="check-payment">
            {t('sub.check')}
          </button>
        }
      >
        <View a={sub}>
          {(s) => (
            <div data-testid="subscription" data-plan={s.plan} data-status={s.status}>
              <p>
                <strong data-testid="sub-plan">{planName(mine.data?.plans, s.plan)}</strong> · {t(`sub.status.${s.status}` as Key)}
                {s.period && <> · {t(`sub.period.${s.period}` as Key)}</>}
                {s.term && <> · {t('sub.term.end', { date: formatDate(s.term.end, lang, zone) })}</>}
              </p>
              {s.grace_until && <p className="note">{t('sub.grace', { date: formatDate(s.grace_until, lang, zone) })}</p>}
              {s.scheduled_change && (
                <p className="note" data-testid="sub-scheduled">
                  {s.cancel_at_period_end && s.scheduled_change.plan === 'free'
                    ? t('sub.cancel.scheduled', { date: formatDate(s.scheduled_change.effective_at, lang, zone) })
                    : t('sub.change.scheduled', { plan: planName(mine.data?.plans, s.scheduled_change.plan), date: formatDate(s.scheduled_change.effective_at, lang, zone) })}
                </p>
              )}
              {s.credit_balance_idr > 0 && <p>{t('sub.credit', { amount: formatRupiah(s.credit_balance_idr, lang) })}</p>}
              {simulated && (
                <p className="note" data-testid="sandbox-note">
                  {t('sub.simulated')}
                </p>
              )}
              {s.status !== 'free' && !s.cancel_at_period_end && (
                <div>
                  <button type="button" className="btn btn-danger" onClick={cancel} disabled={busy === 'cancel'}>
                    {t('sub.cancel')}
                  </button>
                  {err('cancel')}
                </div>
              )}
            </div>
          )}
        </View>
        {answer && <CheckoutResult plan={planName(mine.data?.plans, answer.plan)} a={answer.a} simulated={simulated} />}
      </Card>
      <View a={mine}>
        {({ usage, plans }) => (
          <>
            <Card title={t('billing.plans')}>
              <fieldset className="period">
                <legend>{t('sub.period')}</legend>
                {(['month', 'year'] as const).map((p) => (
                  <label key={p}>
                    <input type="radio" name="period" value={p} checked={period === p} onChange={() => setPeriod(p)} /> {t(`sub.period.${p}` as Key)}
                  </label>
                ))}
              </fieldset>
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
                    {period === 'year' && (
                      <tr>
                        <th scope="row">{t('sub.price.year')}</th>
                        {plans.map((p) => (
                          <td key={p.name}>{formatRupiah(termPrice(p, 'year'), lang)}</td>
                        ))}
                      </tr>
                    )}
                    <tr>
                      <th scope="row">{t('sub.change')}</th>
                      {plans.map((p) => {
                        const s = sub.data;
                        const current = s?.plan === p.name && (s.period ?? null) === (p.price_idr > 0 ? period : null);
                        if (s && current && s.period && s.scheduled_change) {
                          // Checkout of the current plan withdraws a scheduled downgrade or cancel.
                          const key = `checkout-${p.name}`;
                          return (
                            <td key={p.name}>
                              <button type="button" className="btn btn-small" onClick={() => checkout(p.name, s.period ?? period)} disabled={busy === key}>
                                {t('sub.keep', { plan: p.display_name })}
                              </button>
                              {err(key)}
                            </td>
                          );
                        }
                        if (!s || p.price_idr === 0 || current) return <td key={p.name}>—</td>;
                        const cur = plans.find((x) => x.name === s.plan);
                        const curPrice = cur && s.period ? termPrice(cur, s.period) : 0;
                        const label = s.status === 'free' ? 'sub.subscribe' : termPrice(p, period) > curPrice ? 'sub.upgrade' : 'sub.downgrade';
                        const key = `checkout-${p.name}`;
                        return (
                          <td key={p.name}>
                            <button
                              type="button"
                              className="btn btn-small btn-primary"
                              onClick={() => checkout(p.name)}
                              disabled={busy === key}
                              aria-label={`${t(label)}: ${p.display_name} (${t(`sub.period.${period}` as Key)})`}
                            >
                              {t(label)}
                            </button>
                            {err(key)}
                          </td>
                        );
                      })}
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
              <p className="note">{t('sub.rules')}</p>
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
      <Card title={t('sub.orders')}>
        <View a={orders} empty={(d) => d.length === 0}>
          {(items) => (
            <div className="table-wrap" tabIndex={0}>
              <table data-testid="orders">
                <thead>
                  <tr>
                    <th scope="col">{t('sub.order')}</th>
                    <th scope="col">{t('sub.created')}</th>
                    <th scope="col">{t('billing.invoice.total')}</th>
                    <th scope="col">{t('billing.invoice.status')}</th>
                    <th scope="col">{t('sub.gateway')}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((o) => (
                    <tr key={o.id} data-order={o.id} data-status={o.status}>
                      <td>
                        <code>{o.id}</code>
                      </td>
                      <td>{o.created_at ? formatDate(o.created_at, lang, zone) : '—'}</td>
                      <td>{formatRupiah(o.gross_amount, lang)}</td>
                      <td>
                        {t(`order.${o.status}` as Key) ?? o.status}
                        {o.payment?.redirect_url && (
                          <>
                            {' '}
                            <a href={o.payment.redirect_url}>{t('sub.pay')}</a>
                          </>
                        )}
                      </td>
                      <td>{o.gateway ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </View>
      </Card>
      <Card title={t('sub.invoices')}>
        <View a={termInvoices} empty={(d) => d.length === 0}>
          {(items) => (
            <div className="table-wrap" tabIndex={0}>
              <table data-testid="term-invoices">
                <thead>
                  <tr>
                    <th scope="col">{t('sub.invoice')}</th>
                    <th scope="col">{t('sub.plan')}</th>
                    <th scope="col">{t('billing.invoice.period')}</th>
                    <th scope="col">{t('billing.invoice.total')}</th>
                    <th scope="col">{t('billing.invoice.status')}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((inv) => (
                    <tr key={inv.id} data-invoice={inv.id} data-status={inv.status}>
                      <td>
                        {inv.number ?? inv.id} · {t(`sub.kind.${inv.kind}` as Key)}
                      </td>
                      <td>
                        {planName(mine.data?.plans, inv.plan)} ({t(`sub.period.${inv.period}` as Key)})
                      </td>
                      <td>{inv.term ? `${formatDate(inv.term.start, lang, zone)} – ${formatDate(inv.term.end, lang, zone)}` : '—'}</td>
                      <td>{formatRupiah(inv.total_idr, lang)}</td>
                      <td>
                        {t(`inv.${inv.status}` as Key)}
                        {inv.status === 'open' && (
                          <>
                            {' '}
                            <button type="button" className="btn btn-small" onClick={() => payInvoice(inv.id)} disabled={busy === `pay-${inv.id}`}>
                              {t('sub.pay')}
                            </button>
                            {err(`pay-${inv.id}`)}
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </View>
      </Card>
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

// What a checkout answered: the invoice to pay (with the upgrade credit) and the way to pay it,
// a scheduled downgrade, or a change withdrawn.
function CheckoutResult({ plan, a, simulated }: { plan: string; a: CheckoutAnswer; simulated: boolean }) {
  const { t, lang, zone } = useI18n();
  if (a.kind === 'scheduled') {
    return (
      <div className="alert alert-ok checkout-result" role="status" data-testid="checkout-result">
        {t('sub.downgrade.scheduled', { plan, date: formatDate(a.effective_at, lang, zone) })}
      </div>
    );
  }
  if (a.kind !== 'payment_required') {
    return (
      <div className="alert alert-ok checkout-result" role="status" data-testid="checkout-result">
        {t(a.kind === 'resumed' ? 'sub.resumed' : 'sub.paid.credit', { plan })}
      </div>
    );
  }
  const lines = a.invoice.lines;
  const url = a.redirect_url ?? a.order.payment?.redirect_url;
  const sim = simulated || a.gateway?.simulated === true || a.order.simulated === true;
  return (
    <div className="alert alert-ok checkout-result" role="status" data-testid="checkout-result">
      <p>{t('sub.invoice.issued', { plan, total: formatRupiah(a.invoice.total_idr, lang) })}</p>
      {lines && lines.proration_credit_idr > 0 && <p>{t('sub.invoice.credit', { amount: formatRupiah(lines.proration_credit_idr, lang) })}</p>}
      {lines && lines.credit_applied_idr > 0 && <p>{t('sub.invoice.balance', { amount: formatRupiah(lines.credit_applied_idr, lang) })}</p>}
      {url && (
        <p>
          <a className="btn btn-primary" href={url} data-testid="pay-link">
            {t(sim ? 'sub.pay.sandbox' : 'sub.pay.midtrans', { total: formatRupiah(a.invoice.total_idr, lang) })}
          </a>
        </p>
      )}
      <p>{t('sub.pay.back')}</p>
    </div>
  );
}
