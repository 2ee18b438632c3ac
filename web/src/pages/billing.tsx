// Billing: the subscription (plan, term, scheduled change), checkout per plan and period through
// Midtrans Snap or the SIMULATED local sandbox, cancel at the period end, the plans compared,
// usage this period, payment orders, term invoices (pay an open one) and usage invoices.
// Midtrans does not return the user here by itself (midtrans.finish_url is a server setting), so
// the page reads the subscription again when the window gets the focus back, and on request.
import { useEffect, useState, type ReactNode } from 'react';
import { api, ApiError } from '../api';
import { formatDate, formatNumber, formatRupiah } from '../format';
import { useI18n, type Key } from '../i18n';
import { Card, useAsync, View } from '../components/ui';
import { DataTable, type Column } from '../components/DataTable';
import { useMyPlan } from '../components/plan';
import type { BillingSubscription, CheckoutAnswer, PaymentOrder, Plan, TermInvoice } from '../types';

type Period = 'month' | 'year';

function termPrice(p: Plan, period: Period): number {
  return period === 'year' ? (p.yearly_price_idr ?? p.price_idr * 12) : p.price_idr;
}

function errorText(err: unknown): string {
  return err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
}

// A row of the plans comparison: a label, and its value for each plan (the plans are the columns).
interface PlanRow {
  id: string;
  label: ReactNode;
  cell: (p: Plan) => ReactNode;
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
              {s.open_invoice?.kind === 'renewal' && s.status === 'active' && (
                <p className="note" data-testid="sub-renewal">
                  {t('sub.renewal.due', {
                    plan: `${planName(mine.data?.plans, s.open_invoice.plan)} (${t(`sub.period.${s.open_invoice.period}` as Key)})`,
                    total: formatRupiah(s.open_invoice.total_idr, lang),
                    date: s.open_invoice.due_at ? formatDate(s.open_invoice.due_at, lang, zone) : '—',
                  })}
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
        {({ usage, plans }) => {
          const changeCell = (p: Plan) => {
            const s = sub.data;
            const current = s?.plan === p.name && (s.period ?? null) === (p.price_idr > 0 ? period : null);
            if (s && current && s.period && s.scheduled_change) {
              // Checkout of the current plan withdraws a scheduled downgrade or cancel.
              const key = `checkout-${p.name}`;
              return (
                <>
                  <button type="button" className="btn btn-small" onClick={() => checkout(p.name, s.period ?? period)} disabled={busy === key}>
                    {t('sub.keep', { plan: p.display_name })}
                  </button>
                  {err(key)}
                </>
              );
            }
            if (!s || p.price_idr === 0 || current) return '—';
            const cur = plans.find((x) => x.name === s.plan);
            const curPrice = cur && s.period ? termPrice(cur, s.period) : 0;
            const label = s.status === 'free' ? 'sub.subscribe' : termPrice(p, period) > curPrice ? 'sub.upgrade' : 'sub.downgrade';
            const key = `checkout-${p.name}`;
            return (
              <>
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
              </>
            );
          };
          const planRows: PlanRow[] = [
            { id: 'price', label: t('billing.price'), cell: (p) => formatRupiah(p.price_idr, lang) },
            ...(period === 'year' ? [{ id: 'price-year', label: t('sub.price.year'), cell: (p: Plan) => formatRupiah(termPrice(p, 'year'), lang) }] : []),
            { id: 'change', label: t('sub.change'), cell: changeCell },
            { id: 'quota', label: t('billing.quota'), cell: (p) => (p.monthly_quota === null ? t('common.unlimited') : formatNumber(p.monthly_quota, lang)) },
            { id: 'overage', label: t('billing.overage'), cell: (p) => (p.overage_allowed ? t('billing.overage.price', { price: formatRupiah(p.overage_price_idr, lang) }) : t('billing.overage.none')) },
            { id: 'rate', label: t('billing.rate'), cell: (p) => t('overview.rate.value', { rate: formatNumber(p.rate_per_second, lang, p.rate_per_second % 1 ? 1 : 0), burst: p.burst }) },
            { id: 'delay', label: t('billing.delay'), cell: (p) => (p.features.includes('realtime') || p.data_delay_seconds === 0 ? t('overview.realtime') : `${formatNumber(p.data_delay_seconds / 60, lang)} min`) },
            { id: 'timeframes', label: t('billing.timeframes'), cell: (p) => (p.features.includes('all_timeframes') ? 'M1–D1' : p.timeframes.join(', ')) },
            ...[...new Set(plans.flatMap((p) => p.features))].map((f) => ({
              id: `feature-${f}`,
              label: t(`feature.${f}` as Key) ?? f,
              cell: (p: Plan) => (p.features.includes(f) ? <span aria-label={t('common.yes')}>✓</span> : <span aria-label={t('common.no')}>—</span>),
            })),
          ];
          return (
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
                <DataTable
                  rows={planRows}
                  caption={t('billing.plans')}
                  className="plans"
                  testId="plans"
                  rowKey={(r) => r.id}
                  columns={[
                    { id: 'feature', header: 'billing.features', headerHidden: true, rowHeader: true, cell: (r) => r.label },
                    ...plans.map(
                      (p): Column<PlanRow> => ({
                        id: p.name,
                        header: {
                          text: (
                            <>
                              {p.display_name}
                              {p.name === usage.plan && <span className="badge">{t('billing.current')}</span>}
                            </>
                          ),
                        },
                        headerClassName: p.name === usage.plan ? 'current' : undefined,
                        cell: (r) => r.cell(p),
                      }),
                    ),
                  ]}
                />
                <p className="note">{t('sub.rules')}</p>
              </Card>
              <Card title={t('billing.usage')}>
                <p>
                  {formatNumber(usage.used, lang)} / {usage.quota === null ? t('common.unlimited') : formatNumber(usage.quota, lang)} ·{' '}
                  {formatDate(usage.period.start, lang, zone)} – {formatDate(usage.period.end, lang, zone)} · {formatRupiah(usage.cost_idr, lang)}
                </p>
                {usage.by_endpoint.length > 0 && (
                  <DataTable
                    rows={usage.by_endpoint}
                    caption={t('billing.byendpoint')}
                    captionVisible
                    rowKey={(e) => e.endpoint}
                    initialSort={{ column: 'units', dir: 'desc' }}
                    columns={[
                      { id: 'endpoint', header: { text: 'endpoint' }, sortValue: (e) => e.endpoint, cell: (e) => <code>{e.endpoint}</code> },
                      { id: 'units', header: 'op.units', numeric: true, sortValue: (e) => e.units, cell: (e) => formatNumber(e.units, lang) },
                    ]}
                  />
                )}
              </Card>
            </>
          );
        }}
      </View>
      <Card title={t('sub.orders')}>
        <DataTable
          a={orders}
          caption={t('sub.orders')}
          testId="orders"
          rowKey={(o) => o.id}
          rowProps={(o) => ({ 'data-order': o.id, 'data-status': o.status })}
          columns={[
            { id: 'id', header: 'sub.order', cell: (o) => <code>{o.id}</code> },
            { id: 'created', header: 'sub.created', sortValue: (o) => o.created_at, cell: (o) => (o.created_at ? formatDate(o.created_at, lang, zone) : '—') },
            { id: 'total', header: 'billing.invoice.total', numeric: true, sortValue: (o) => o.gross_amount, cell: (o) => formatRupiah(o.gross_amount, lang) },
            {
              id: 'status',
              header: 'billing.invoice.status',
              cell: (o) => (
                <>
                  {t(`order.${o.status}` as Key) ?? o.status}
                  {o.payment?.redirect_url && (
                    <>
                      {' '}
                      <a href={o.payment.redirect_url}>{t('sub.pay')}</a>
                    </>
                  )}
                </>
              ),
            },
            { id: 'gateway', header: 'sub.gateway', cell: (o) => o.gateway ?? '' },
          ]}
        />
      </Card>
      <Card title={t('sub.invoices')}>
        <DataTable
          a={termInvoices}
          caption={t('sub.invoices')}
          testId="term-invoices"
          rowKey={(inv) => inv.id}
          rowProps={(inv) => ({ 'data-invoice': inv.id, 'data-status': inv.status, 'data-kind': inv.kind })}
          columns={[
            { id: 'invoice', header: 'sub.invoice', cell: (inv) => `${inv.number ?? inv.id} · ${t(`sub.kind.${inv.kind}` as Key)}` },
            { id: 'plan', header: 'sub.plan', cell: (inv) => `${planName(mine.data?.plans, inv.plan)} (${t(`sub.period.${inv.period}` as Key)})` },
            { id: 'term', header: 'billing.invoice.period', sortValue: (inv) => inv.term?.start, cell: (inv) => (inv.term ? `${formatDate(inv.term.start, lang, zone)} – ${formatDate(inv.term.end, lang, zone)}` : '—') },
            { id: 'total', header: 'billing.invoice.total', numeric: true, sortValue: (inv) => inv.total_idr, cell: (inv) => formatRupiah(inv.total_idr, lang) },
            {
              id: 'status',
              header: 'billing.invoice.status',
              cell: (inv) => (
                <>
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
                </>
              ),
            },
          ]}
        />
      </Card>
      <Card title={t('billing.invoices')}>
        <DataTable
          a={invoices}
          caption={t('billing.invoices')}
          rowKey={(_, i) => i}
          columns={[
            { id: 'period', header: 'billing.invoice.period', sortValue: (inv) => inv.period_start, cell: (inv) => (inv.period_start ? `${formatDate(inv.period_start, lang, zone)} – ${formatDate(String(inv.period_end), lang, zone)}` : '—') },
            { id: 'total', header: 'billing.invoice.total', numeric: true, sortValue: (inv) => inv.total_idr, cell: (inv) => (inv.total_idr !== undefined ? formatRupiah(inv.total_idr, lang) : '—') },
            { id: 'status', header: 'billing.invoice.status', cell: (inv) => inv.status ?? '—' },
          ]}
        />
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
