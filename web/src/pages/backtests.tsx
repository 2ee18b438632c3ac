// Backtests: a form for a strategy (series, period, threshold, sizing, costs, the walk-forward
// model), the tenant's backtests with status and progress (polled while queued or running),
// cancel, and a result: the key metrics with their stated definitions beside the baselines, the
// equity and drawdown curves, the trades, and the Markdown report. docs/backtests.md has the rules.
// Plan feature `backtests` (Pro and up): otherwise an upgrade notice and no form.
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { api, ApiError, getSession } from '../api';
import { digitsOf, formatDate, formatNumber, formatPercent, formatPrice, formatTime, type Lang } from '../format';
import { useI18n, type Key } from '../i18n';
import { navigate, useLocation } from '../router';
import { Card, Empty, ErrorState, Field, FormError, Loading, Select, useAsync, useForm, View, type FieldErrors } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { useSeries } from '../components/series';
import { isGateRefusal, UpgradeNotice, useGate } from '../components/upgrade';
import type { Backtest, JobStatus, Metrics, Run, Strategy, Trade } from '../types';

// The chart library is loaded with the result only.
const LineChart = lazy(() => import('../chart/LineChart').then((m) => ({ default: m.LineChart })));

const ACTIVE: JobStatus[] = ['queued', 'running'];

export function Backtests() {
  const { t } = useI18n();
  const gate = useGate('backtests', 'feature.backtests');
  const { query } = useLocation();
  const selected = Number(query.get('id')) || null;
  const list = useAsync((signal) => api<{ backtests: Backtest[] }>('/api/v1/backtests', { signal }).then((r) => r.backtests), []);
  // Poll the list while a backtest is queued or running.
  const active = list.data?.some((b) => ACTIVE.includes(b.status)) ?? false;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(list.reload, 1500);
    return () => clearInterval(timer);
  }, [active, list.reload]);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('bt.title')}</h1>
      <p className="intro">{t('bt.intro')}</p>
      {gate.state === 'allowed' ? (
        <BacktestForm
          onSubmitted={(b) => {
            list.reload();
            navigate(`/backtests?id=${b.id}`);
          }}
        />
      ) : (
        gate.notice
      )}
      {(gate.state === 'allowed' || (list.data && list.data.length > 0)) && (
        <Card title={t('bt.list')}>
          <View a={list} empty={(d) => d.length === 0}>
            {(items) => <BacktestList items={items} selected={selected} reload={list.reload} />}
          </View>
        </Card>
      )}
      {selected !== null && <BacktestView key={selected} id={selected} onFinished={list.reload} />}
    </div>
  );
}

// ---- the form ----

const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

function BacktestForm({ onSubmitted }: { onSubmitted: (b: Backtest) => void }) {
  const { t } = useI18n();
  const series = useSeries();
  const [symbol, setSymbol] = useState('');
  const [timeframe, setTimeframe] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [threshold, setThreshold] = useState('0.55');
  const [balance, setBalance] = useState('10000');
  const [sizing, setSizing] = useState<'fixed' | 'risk'>('fixed');
  const [lots, setLots] = useState('0.1');
  const [risk, setRisk] = useState('0.01');
  const [stopAtr, setStopAtr] = useState('1.5');
  const [spread, setSpread] = useState('0');
  const [slippage, setSlippage] = useState('0');
  const [commission, setCommission] = useState('0');
  const [minTrain, setMinTrain] = useState('3000');
  const [retrain, setRetrain] = useState('720');
  const [trees, setTrees] = useState('');
  const [refusal, setRefusal] = useState<ApiError | null>(null);

  const items = series.data ?? [];
  const symbols = [...new Set(items.map((s) => s.symbol))];
  const sym = symbols.includes(symbol) ? symbol : symbols.includes('EURUSD') ? 'EURUSD' : (symbols[0] ?? '');
  const tfs = items.filter((s) => s.symbol === sym).map((s) => s.timeframe);
  const tf = tfs.includes(timeframe) ? timeframe : tfs.includes('H1') ? 'H1' : (tfs[0] ?? '');

  const strategy = (): Strategy => {
    const s: Strategy = {
      symbols: [sym],
      timeframe: tf,
      initial_balance: Number(balance),
      signal: { threshold: Number(threshold) },
      sizing: sizing === 'fixed' ? { mode: 'fixed', lots: Number(lots) } : { mode: 'risk', risk_fraction: Number(risk) },
      costs: { spread_points: Number(spread), slippage_points: Number(slippage), commission_per_lot: Number(commission) },
      model: { min_train_bars: Number(minTrain), retrain_every_bars: Number(retrain) },
    };
    if (sizing === 'risk') s.stops = { mode: 'atr', stop_loss: Number(stopAtr) };
    if (from || to) s.period = { ...(from ? { from: `${from}T00:00:00Z` } : {}), ...(to ? { to: `${to}T00:00:00Z` } : {}) };
    if (num(trees) !== undefined) s.model!.config = { trees: Number(trees) };
    return s;
  };

  const f = useForm(
    () => {
      const e: FieldErrors = {};
      const positive = (k: string, v: string) => {
        if (!(Number(v) > 0)) e[k] = t('bt.positive');
      };
      const nonneg = (k: string, v: string) => {
        if (v.trim() === '' || !(Number(v) >= 0)) e[k] = t('bt.nonneg');
      };
      const whole = (k: string, v: string) => {
        if (!/^\d+$/.test(v.trim()) || Number(v) < 1) e[k] = t('bt.integer');
      };
      if (!sym) e['symbols[0]'] = t('common.required');
      const th = Number(threshold);
      if (threshold.trim() === '' || !(th >= 0.5 && th <= 1)) e['signal.threshold'] = t('bt.threshold.range');
      if (from && to && to <= from) e['period.to'] = t('bt.period.order');
      positive('initial_balance', balance);
      if (sizing === 'fixed') positive('sizing.lots', lots);
      else {
        if (!(Number(risk) > 0 && Number(risk) <= 1)) e['sizing.risk_fraction'] = t('bt.fraction');
        positive('stops.stop_loss', stopAtr);
      }
      nonneg('costs.spread_points', spread);
      nonneg('costs.slippage_points', slippage);
      nonneg('costs.commission_per_lot', commission);
      whole('model.min_train_bars', minTrain);
      whole('model.retrain_every_bars', retrain);
      if (trees.trim() !== '') whole('model.config.trees', trees);
      return e;
    },
    async () => {
      setRefusal(null);
      try {
        return await api<Backtest>('/api/v1/backtests', { body: strategy() });
      } catch (err) {
        if (isGateRefusal(err, 'backtests')) {
          setRefusal(err);
          return null;
        }
        throw err;
      }
    },
    (b) => b && onSubmitted(b),
  );
  // Errors the API names with another path than the input's.
  const err = (name: string, ...aliases: string[]) => f.errors[name] ?? aliases.map((a) => f.errors[a]).find(Boolean);
  const known = [
    'symbols[0]', 'symbols', 'timeframe', 'period', 'period.from', 'period.to', 'signal.threshold', 'initial_balance', 'sizing.lots', 'sizing.risk_fraction', 'stops.stop_loss',
    'costs.spread_points', 'costs.slippage_points', 'costs.commission_per_lot', 'model.min_train_bars', 'model.retrain_every_bars', 'model.config.trees', 'model.config',
  ];

  if (series.error && !series.data) return <ErrorState error={series.error} retry={series.reload} />;
  if (!series.data) return <Loading />;
  if (items.length === 0) return <Empty>{t('signals.noseries')}</Empty>;
  return (
    <Card title={t('bt.new')}>
      {refusal && <UpgradeNotice label="feature.backtests" problem={refusal} />}
      <form onSubmit={f.onSubmit} noValidate data-testid="bt-form">
        <FormError message={f.formError} errors={f.errors} known={known} />
        <fieldset className="form-group">
          <legend>{t('bt.what')}</legend>
          <div className="form-row">
            <Select label={t('common.symbol')} name="symbols[0]" value={sym} options={symbols.map((s) => ({ value: s, label: s }))} onChange={setSymbol} error={err('symbols[0]', 'symbols')} />
            <Select label={t('common.timeframe')} name="timeframe" value={tf} options={tfs.map((s) => ({ value: s, label: s }))} onChange={setTimeframe} error={f.errors.timeframe} />
            <Field label={t('bt.from')} name="period.from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} error={err('period.from', 'period')} hint={t('bt.period.hint')} />
            <Field label={t('bt.to')} name="period.to" type="date" value={to} onChange={(e) => setTo(e.target.value)} error={f.errors['period.to']} />
            <Field label={t('bt.balance')} name="initial_balance" type="number" inputMode="decimal" min={1} value={balance} onChange={(e) => setBalance(e.target.value)} error={f.errors.initial_balance} />
          </div>
        </fieldset>
        <fieldset className="form-group">
          <legend>{t('bt.signal')}</legend>
          <div className="form-row">
            <Field
              label={t('bt.threshold')}
              name="signal.threshold"
              type="number"
              inputMode="decimal"
              min={0.5}
              max={1}
              step={0.01}
              value={threshold}
              onChange={(e) => setThreshold(e.target.value)}
              error={f.errors['signal.threshold']}
              hint={t('bt.threshold.hint')}
            />
            <Select
              label={t('bt.sizing')}
              name="sizing.mode"
              value={sizing}
              options={[
                { value: 'fixed', label: t('bt.sizing.fixed') },
                { value: 'risk', label: t('bt.sizing.risk') },
              ]}
              onChange={(v) => setSizing(v as 'fixed' | 'risk')}
            />
            {sizing === 'fixed' ? (
              <Field label={t('bt.lots')} name="sizing.lots" type="number" inputMode="decimal" min={0.01} step={0.01} value={lots} onChange={(e) => setLots(e.target.value)} error={f.errors['sizing.lots']} />
            ) : (
              <>
                <Field label={t('bt.risk')} name="sizing.risk_fraction" type="number" inputMode="decimal" min={0.001} max={1} step={0.001} value={risk} onChange={(e) => setRisk(e.target.value)} error={f.errors['sizing.risk_fraction']} hint={t('bt.risk.hint')} />
                <Field label={t('bt.stop')} name="stops.stop_loss" type="number" inputMode="decimal" min={0.1} step={0.1} value={stopAtr} onChange={(e) => setStopAtr(e.target.value)} error={f.errors['stops.stop_loss']} />
              </>
            )}
          </div>
        </fieldset>
        <fieldset className="form-group">
          <legend>{t('bt.costs')}</legend>
          <div className="form-row">
            <Field label={t('bt.spread')} name="costs.spread_points" type="number" inputMode="decimal" min={0} value={spread} onChange={(e) => setSpread(e.target.value)} error={f.errors['costs.spread_points']} hint={t('bt.spread.hint')} />
            <Field label={t('bt.slippage')} name="costs.slippage_points" type="number" inputMode="decimal" min={0} value={slippage} onChange={(e) => setSlippage(e.target.value)} error={f.errors['costs.slippage_points']} />
            <Field label={t('bt.commission')} name="costs.commission_per_lot" type="number" inputMode="decimal" min={0} step={0.01} value={commission} onChange={(e) => setCommission(e.target.value)} error={f.errors['costs.commission_per_lot']} />
          </div>
        </fieldset>
        <fieldset className="form-group">
          <legend>{t('bt.model')}</legend>
          <p className="hint">{t('bt.model.hint')}</p>
          <div className="form-row">
            <Field label={t('bt.min_train')} name="model.min_train_bars" type="number" inputMode="numeric" min={1} value={minTrain} onChange={(e) => setMinTrain(e.target.value)} error={f.errors['model.min_train_bars']} />
            <Field label={t('bt.retrain')} name="model.retrain_every_bars" type="number" inputMode="numeric" min={1} value={retrain} onChange={(e) => setRetrain(e.target.value)} error={f.errors['model.retrain_every_bars']} />
            <Field label={t('bt.trees')} name="model.config.trees" type="number" inputMode="numeric" min={1} value={trees} onChange={(e) => setTrees(e.target.value)} error={err('model.config.trees', 'model.config')} hint={t('bt.trees.hint')} />
          </div>
        </fieldset>
        <button type="submit" className="btn btn-primary" disabled={f.busy}>
          {t('bt.submit')}
        </button>
      </form>
    </Card>
  );
}

// ---- the list ----

export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  return <span className={`badge status status-${status}`}>{t(`status.${status}` as Key)}</span>;
}

function periodOf(b: Backtest, lang: Lang, zone: string, t: (k: Key) => string): string {
  const p = b.result ? { from: b.result.from, to: b.result.to } : b.strategy.period;
  if (!p?.from && !p?.to) return t('bt.period.all');
  return `${p.from ? formatDate(p.from, lang, zone) : '…'} – ${p.to ? formatDate(p.to, lang, zone) : '…'}`;
}

function BacktestList({ items, selected, reload }: { items: Backtest[]; selected: number | null; reload: () => void }) {
  const { t, lang, zone } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const cancel = async (b: Backtest) => {
    setError(null);
    try {
      await api(`/api/v1/backtests/${b.id}/cancel`, { method: 'POST', body: {} });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
    reload();
  };
  return (
    <>
      <FormError message={error} />
      <DataTable
        rows={items}
        caption={t('bt.list')}
        testId="bt-list"
        rowKey={(b) => b.id}
        rowProps={(b) => ({ 'data-backtest': b.id, 'data-status': b.status, className: b.id === selected ? 'selected' : undefined })}
        columns={[
          { id: 'id', header: { text: '#' }, numeric: true, sortValue: (b) => b.id, cell: (b) => b.id },
          { id: 'series', header: 'bt.series', sortValue: (b) => `${b.strategy.symbols.join(', ')} ${b.strategy.timeframe}`, cell: (b) => `${b.strategy.symbols.join(', ')} ${b.strategy.timeframe}` },
          { id: 'period', header: 'bt.period', cell: (b) => periodOf(b, lang, zone, t) },
          { id: 'created', header: 'bt.created', sortValue: (b) => b.created_at, cell: (b) => formatTime(b.created_at, lang, zone) },
          {
            id: 'status',
            header: 'bt.status',
            sortValue: (b) => b.status,
            cell: (b) => (
              <>
                <StatusBadge status={b.status} />
                {ACTIVE.includes(b.status) && (
                  <>
                    {' '}
                    <progress max={1} value={b.progress} aria-label={`${t('bt.progress')} #${b.id}`} /> {formatPercent(b.progress, lang, 0)}
                    {b.stage ? <span className="muted"> {b.stage}</span> : null}
                  </>
                )}
                {b.status === 'failed' && b.error?.message && <span className="error"> {b.error.message}</span>}
              </>
            ),
          },
          {
            id: 'actions',
            header: 'bt.actions',
            headerHidden: true,
            className: 'actions',
            cell: (b) => (
              <>
                {b.status === 'succeeded' && (
                  <button type="button" className="btn btn-small" onClick={() => navigate(`/backtests?id=${b.id}`)} aria-label={`${t('bt.view')} #${b.id}`}>
                    {t('bt.view')}
                  </button>
                )}
                {ACTIVE.includes(b.status) && !b.cancel_requested && (
                  <button type="button" className="btn btn-small btn-danger" onClick={() => cancel(b)} aria-label={`${t('bt.cancel')} #${b.id}`}>
                    {t('bt.cancel')}
                  </button>
                )}
              </>
            ),
          },
        ]}
      />
    </>
  );
}

// ---- one backtest ----

function BacktestView({ id, onFinished }: { id: number; onFinished: () => void }) {
  const { t } = useI18n();
  const bt = useAsync((signal) => api<Backtest>(`/api/v1/backtests/${id}`, { signal }), [id]);
  const status = bt.data?.status;
  useEffect(() => {
    if (!status || !ACTIVE.includes(status)) return;
    const timer = setTimeout(bt.reload, 1500);
    return () => clearTimeout(timer);
  }, [status, bt.data, bt.reload]);
  useEffect(() => {
    if (status && !ACTIVE.includes(status)) onFinished();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [status]);
  return (
    <section className="bt-result" aria-label={`${t('bt.result')} #${id}`} data-testid="bt-result" data-status={status}>
      {bt.error && !bt.data ? (
        <ErrorState error={bt.error} retry={bt.reload} />
      ) : !bt.data ? (
        <Loading />
      ) : bt.data.status === 'succeeded' && bt.data.result ? (
        <Result b={bt.data} />
      ) : (
        <Card title={`${t('bt.result')} #${id}`}>
          <p role="status" aria-live="polite">
            <StatusBadge status={bt.data.status} />{' '}
            {ACTIVE.includes(bt.data.status) && <progress max={1} value={bt.data.progress} aria-label={t('bt.progress')} />} {bt.data.stage}
            {bt.data.error?.message && <span className="error"> {bt.data.error.message}</span>}
          </p>
        </Card>
      )}
    </section>
  );
}

type Fmt = (v: number | undefined) => string;

function Result({ b }: { b: Backtest }) {
  const { t, lang, zone } = useI18n();
  const r = b.result!;
  const s = r.strategy;
  const bh = r.baselines?.buy_and_hold;
  const rnd = r.baselines?.random_entry;
  const rev = r.baselines?.reverse_last_move;
  const pct: Fmt = (v) => (v === undefined || !Number.isFinite(v) ? '—' : formatPercent(v, lang, 2));
  const dec: Fmt = (v) => (v === undefined || !Number.isFinite(v) ? '—' : formatNumber(v, lang, 2));
  const int: Fmt = (v) => (v === undefined ? '—' : formatNumber(v, lang));
  const rows: Array<{ key: keyof Metrics & string; label: Key; fmt: Fmt; trades?: boolean }> = [
    { key: 'total_return', label: 'bt.m.total_return', fmt: pct },
    { key: 'annual_return', label: 'bt.m.annual_return', fmt: pct },
    { key: 'sharpe', label: 'bt.m.sharpe', fmt: dec },
    { key: 'sortino', label: 'bt.m.sortino', fmt: dec },
    { key: 'max_drawdown', label: 'bt.m.max_drawdown', fmt: pct },
    { key: 'win_rate', label: 'bt.m.win_rate', fmt: pct, trades: true },
    { key: 'profit_factor', label: 'bt.m.profit_factor', fmt: dec, trades: true },
    { key: 'trades', label: 'bt.m.trades', fmt: int },
  ];
  // Win rate and profit factor mean nothing without closed trades.
  const cell = (run: Run | undefined, row: (typeof rows)[number]) => {
    if (!run) return '—';
    const v = run.metrics[row.key];
    if (row.trades && !Number(run.metrics.trades)) return '—';
    return row.fmt(typeof v === 'number' ? v : undefined);
  };
  const randomCell = (row: (typeof rows)[number]) => {
    if (!rnd || !rnd.entries_per_run) return '—'; // no entries to place at random
    if (row.key === 'total_return' && rnd.median_return !== undefined)
      return (
        <>
          {pct(rnd.median_return)}
          <div className="stat-sub">{t('bt.random.range', { lo: pct(rnd.p05_return), hi: pct(rnd.p95_return) })}</div>
        </>
      );
    if (row.key === 'sharpe' && rnd.median_sharpe !== undefined) return dec(rnd.median_sharpe);
    return cell(rnd.median_run, row);
  };
  const definition = (row: (typeof rows)[number]) => r.definitions?.[row.key] ?? (row.key === 'trades' ? t('bt.def.trades') : '');
  const digits = 2;
  const curves = useMemo(() => {
    const eq = [{ name: t('bt.strategy'), color: '#0b5cad', time: s.curve?.time ?? [], value: s.curve?.equity ?? [] }];
    if (bh?.curve) eq.push({ name: t('bt.bh'), color: '#8a6d00', time: bh.curve.time, value: bh.curve.equity });
    const dd = [{ name: t('bt.drawdown'), color: '#b3261e', below: true, time: s.curve?.time ?? [], value: (s.curve?.drawdown ?? []).map((d) => -Math.abs(d) * 100) }];
    return { eq, dd };
  }, [r, t]); // eslint-disable-line react-hooks/exhaustive-deps
  const series = `${b.strategy.symbols.join(', ')} ${b.strategy.timeframe}`;
  const report = useBlobUrl(`/api/v1/backtests/${b.id}/report?format=markdown`, 'text/markdown');
  const trades = r.trades ?? [];
  const total = r.trades_total ?? trades.length;
  return (
    <>
      <Card
        title={`${t('bt.result')} #${b.id}: ${series}`}
        actions={
          report ? (
            <a href={report} download={`backtest-${b.id}.md`} data-testid="bt-report">
              {t('bt.report')}
            </a>
          ) : null
        }
      >
        <p className="muted">
          {t('bt.summary', {
            bars: formatNumber(r.bars ?? 0, lang),
            from: r.from ? formatTime(r.from, lang, zone) : '—',
            to: r.to ? formatTime(r.to, lang, zone) : '—',
            secs: formatNumber(r.seconds ?? 0, lang, 1),
          })}
        </p>
        <DataTable
          rows={rows}
          caption={t('bt.result')}
          className="metrics"
          testId="bt-metrics"
          rowKey={(row) => row.key}
          rowProps={(row) => ({ 'data-metric': row.key })}
          columns={[
            { id: 'metric', header: 'bt.metric', rowHeader: true, cell: (row) => t(row.label) },
            { id: 'strategy', header: 'bt.strategy', numeric: true, className: 'strong', cell: (row) => cell(s, row) },
            { id: 'bh', header: 'bt.bh', numeric: true, cell: (row) => cell(bh, row) },
            { id: 'random', header: { key: 'bt.random', vars: { n: rnd?.seeds ?? 0 } }, numeric: true, cell: (row) => randomCell(row) },
            { id: 'reverse', header: 'bt.reverse', numeric: true, cell: (row) => cell(rev, row) },
          ]}
        />
        <h3 className="defs-title">{t('bt.definitions')}</h3>
        <dl className="defs" data-testid="bt-definitions">
          {rows.map((row) => (
            <div key={row.key} data-definition={row.key}>
              <dt>{t(row.label)}</dt>
              <dd>{definition(row)}</dd>
            </div>
          ))}
        </dl>
        {rnd?.strategy_return_rank !== undefined && Number(s.metrics.trades) > 0 && <p>{t('bt.random.rank', { p: pct(rnd.strategy_return_rank) })}</p>}
        <p className="hint">{t('bt.baselines.hint')}</p>
      </Card>
      <div className="grid-2">
        <Card title={t('bt.equity')}>
          <Suspense fallback={<Loading />}>
            <LineChart lines={curves.eq} zone={zone} label={`${t('bt.equity')}: ${series}`} precision={digits} testId="bt-equity" />
          </Suspense>
          <p className="legend">{t('bt.equity.desc')}</p>
        </Card>
        <Card title={t('bt.drawdown')}>
          <Suspense fallback={<Loading />}>
            <LineChart lines={curves.dd} zone={zone} label={`${t('bt.drawdown')}: ${series}`} precision={2} percent testId="bt-drawdown" />
          </Suspense>
          <p className="legend">{t('bt.drawdown.desc')}</p>
        </Card>
      </div>
      <Card title={`${t('bt.trades')} (${formatNumber(total, lang)})`}>
        {trades.length === 0 ? (
          <p className="state state-empty" data-testid="bt-no-trades">
            {t('bt.trades.none')}
          </p>
        ) : (
          <TradeTable trades={trades} testId="bt-trades" />
        )}
        {trades.length > 0 && trades.length < total && <p className="hint">{t('bt.trades.some', { n: formatNumber(trades.length, lang), total: formatNumber(total, lang) })}</p>}
      </Card>
      <p className="attribution">
        <a href="https://www.tradingview.com/" rel="noopener noreferrer">
          {t('signals.attribution')}
        </a>
      </p>
    </>
  );
}

export function TradeTable({ trades, testId }: { trades: Trade[]; testId: string }) {
  const { t, lang, zone } = useI18n();
  const digits = useMemo(() => digitsOf(trades.slice(0, 200).flatMap((x) => [x.entry_price, x.exit_price])), [trades]);
  return (
    <DataTable
      rows={trades}
      caption={t('bt.trades')}
      testId={testId}
      rowKey={(tr) => `${tr.id}-${tr.entry_time}`}
      columns={[
        { id: 'symbol', header: 'common.symbol', cell: (tr) => tr.symbol },
        { id: 'side', header: 'bt.side', cell: (tr) => t(tr.side === 'long' ? 'bt.long' : 'bt.short') },
        { id: 'qty', header: 'bt.qty', numeric: true, cell: (tr) => formatNumber(tr.quantity, lang) },
        {
          id: 'entry',
          header: 'bt.entry',
          sortValue: (tr) => tr.entry_time,
          cell: (tr) => (
            <>
              {formatTime(tr.entry_time, lang, zone)}
              <div className="stat-sub">{formatPrice(tr.entry_price, digits, lang)}</div>
            </>
          ),
        },
        {
          id: 'exit',
          header: 'bt.exit',
          sortValue: (tr) => tr.exit_time,
          cell: (tr) => (
            <>
              {formatTime(tr.exit_time, lang, zone)}
              <div className="stat-sub">{formatPrice(tr.exit_price, digits, lang)}</div>
            </>
          ),
        },
        { id: 'pnl', header: 'bt.pnl', numeric: true, sortValue: (tr) => tr.net_pnl, className: (tr) => (tr.net_pnl >= 0 ? 'pos' : 'neg'), cell: (tr) => formatNumber(tr.net_pnl, lang, 2) },
        { id: 'reason', header: 'bt.reason', cell: (tr) => tr.exit_reason ?? '' },
      ]}
    />
  );
}

// A link target for an authenticated download (a plain <a href> cannot send the token).
export function useBlobUrl(url: string, type: string): string | null {
  const [href, setHref] = useState<string | null>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    let stop = false;
    fetch(url, { headers: { Authorization: `Bearer ${getSession()?.access_token ?? ''}` } })
      .then((r) => (r.ok ? r.text() : null))
      .then((text) => {
        if (text !== null && !stop) {
          objectUrl = URL.createObjectURL(new Blob([text], { type }));
          setHref(objectUrl);
        }
      })
      .catch(() => {});
    return () => {
      stop = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url, type]);
  return href;
}
