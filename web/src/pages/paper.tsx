// Paper accounts: the user's accounts, opening one (a strategy on a series and a starting balance),
// and an account: equity, positions, working orders (cancel), fills, trades and the order stream
// (polled with /events?after=), close positions, reset, close the account. Every fill is simulated
// (docs/paper-trading.md). Plan feature `paper_trading` to open one (Pro and up): otherwise an
// upgrade notice and no form.
import { lazy, Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { api, ApiError } from '../api';
import { digitsOf, formatNumber, formatPercent, formatPrice, formatTime } from '../format';
import { useI18n } from '../i18n';
import { navigate, useLocation } from '../router';
import { Card, Empty, ErrorState, Field, FormError, Loading, Select, Stat, useAsync, useForm, View, type FieldErrors } from '../components/ui';
import { DataTable } from '../components/DataTable';
import { useSeries } from '../components/series';
import { isGateRefusal, UpgradeNotice, useGate } from '../components/upgrade';
import { StatusBadge, TradeTable } from './backtests';
import type { Fill, Order, PaperAccount, PaperEvent, Position, Trade } from '../types';

const LineChart = lazy(() => import('../chart/LineChart').then((m) => ({ default: m.LineChart })));

const money = (v: number | undefined, lang: 'en' | 'id', currency = 'USD') => (v === undefined || !Number.isFinite(v) ? '—' : `${formatNumber(v, lang, 2)} ${currency}`);

export function PaperAccounts() {
  const { t } = useI18n();
  const gate = useGate('paper_trading', 'feature.paper_trading');
  const { query } = useLocation();
  const selected = Number(query.get('id')) || null;
  const list = useAsync((signal) => api<{ accounts: PaperAccount[] }>('/api/v1/paper-accounts', { signal }).then((r) => r.accounts), []);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('paper.title')}</h1>
      <p className="intro">{t('paper.intro')}</p>
      {gate.state === 'allowed' ? (
        <OpenAccount
          onOpened={(a) => {
            list.reload();
            navigate(`/paper?id=${a.id}`);
          }}
        />
      ) : (
        gate.notice
      )}
      {(gate.state === 'allowed' || (list.data && list.data.length > 0)) && (
        <Card title={t('paper.list')}>
          <View a={list} empty={(d) => d.length === 0}>
            {(items) => <AccountList items={items} selected={selected} />}
          </View>
        </Card>
      )}
      {selected !== null && <AccountView key={selected} id={selected} onChanged={list.reload} />}
    </div>
  );
}

function OpenAccount({ onOpened }: { onOpened: (a: PaperAccount) => void }) {
  const { t } = useI18n();
  const series = useSeries();
  const [name, setName] = useState('');
  const [symbol, setSymbol] = useState('');
  const [timeframe, setTimeframe] = useState('');
  const [threshold, setThreshold] = useState('0.55');
  const [balance, setBalance] = useState('10000');
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const items = series.data ?? [];
  const symbols = [...new Set(items.map((s) => s.symbol))];
  const sym = symbols.includes(symbol) ? symbol : symbols.includes('EURUSD') ? 'EURUSD' : (symbols[0] ?? '');
  const tfs = items.filter((s) => s.symbol === sym).map((s) => s.timeframe);
  const tf = tfs.includes(timeframe) ? timeframe : tfs.includes('H1') ? 'H1' : (tfs[0] ?? '');
  const f = useForm(
    () => {
      const e: FieldErrors = {};
      if (!name.trim()) e.name = t('common.required');
      if (!sym) e['strategy.symbols[0]'] = t('common.required');
      const th = Number(threshold);
      if (threshold.trim() === '' || !(th >= 0.5 && th <= 1)) e['strategy.signal.threshold'] = t('bt.threshold.range');
      if (!(Number(balance) > 0)) e.initial_balance = t('bt.positive');
      return e;
    },
    async () => {
      setRefusal(null);
      try {
        return await api<PaperAccount>('/api/v1/paper-accounts', {
          body: { name: name.trim(), initial_balance: Number(balance), strategy: { symbols: [sym], timeframe: tf, signal: { threshold: Number(threshold) } } },
        });
      } catch (err) {
        if (isGateRefusal(err, 'paper_trading')) {
          setRefusal(err);
          return null;
        }
        throw err;
      }
    },
    (a) => {
      if (!a) return;
      setName('');
      onOpened(a);
    },
  );
  const err = (name: string, ...aliases: string[]) => f.errors[name] ?? aliases.map((a) => f.errors[a]).find(Boolean);
  if (series.error && !series.data) return <ErrorState error={series.error} retry={series.reload} />;
  if (!series.data) return <Loading />;
  if (items.length === 0) return <Empty>{t('signals.noseries')}</Empty>;
  return (
    <Card title={t('paper.new')}>
      {refusal && <UpgradeNotice label="feature.paper_trading" problem={refusal} />}
      <form onSubmit={f.onSubmit} noValidate data-testid="paper-form">
        <FormError
          message={f.formError}
          errors={f.errors}
          known={['name', 'strategy.symbols[0]', 'strategy.symbols', 'strategy.timeframe', 'strategy.signal.threshold', 'initial_balance']}
        />
        <div className="form-row">
          <Field label={t('paper.name')} name="name" value={name} onChange={(e) => setName(e.target.value)} error={f.errors.name} maxLength={100} />
          <Select label={t('common.symbol')} name="strategy.symbols[0]" value={sym} options={symbols.map((s) => ({ value: s, label: s }))} onChange={setSymbol} error={err('strategy.symbols[0]', 'strategy.symbols')} />
          <Select label={t('common.timeframe')} name="strategy.timeframe" value={tf} options={tfs.map((s) => ({ value: s, label: s }))} onChange={setTimeframe} error={f.errors['strategy.timeframe']} />
          <Field
            label={t('bt.threshold')}
            name="strategy.signal.threshold"
            type="number"
            inputMode="decimal"
            min={0.5}
            max={1}
            step={0.01}
            value={threshold}
            onChange={(e) => setThreshold(e.target.value)}
            error={f.errors['strategy.signal.threshold']}
            hint={t('bt.threshold.hint')}
          />
          <Field label={t('bt.balance')} name="initial_balance" type="number" inputMode="decimal" min={1} value={balance} onChange={(e) => setBalance(e.target.value)} error={f.errors.initial_balance} />
        </div>
        <button type="submit" className="btn btn-primary" disabled={f.busy}>
          {t('paper.open')}
        </button>
      </form>
      <p className="hint">{t('paper.form.hint')}</p>
    </Card>
  );
}

function AccountList({ items, selected }: { items: PaperAccount[]; selected: number | null }) {
  const { t, lang, zone } = useI18n();
  return (
    <DataTable
      rows={items}
      caption={t('paper.list')}
      testId="paper-list"
      rowKey={(a) => a.id}
      rowProps={(a) => ({ 'data-account': a.name, className: a.id === selected ? 'selected' : undefined })}
      columns={[
        { id: 'name', header: 'paper.name', cell: (a) => a.name, sortValue: (a) => a.name },
        { id: 'series', header: 'bt.series', cell: (a) => `${a.strategy.symbols.join(', ')} ${a.strategy.timeframe}` },
        {
          id: 'status',
          header: 'paper.status',
          cell: (a) => (
            <>
              <StatusBadge status={a.status} />
              {a.status === 'active' && a.trading_state !== 'active' && <StatusBadge status={a.trading_state} />}
            </>
          ),
        },
        { id: 'equity', header: 'paper.equity', numeric: true, testId: 'paper-equity', sortValue: (a) => a.equity, cell: (a) => money(a.equity, lang, a.currency) },
        { id: 'return', header: 'paper.return', numeric: true, sortValue: (a) => a.return, className: (a) => (a.return >= 0 ? 'pos' : 'neg'), cell: (a) => formatPercent(a.return, lang, 2) },
        { id: 'lastbar', header: 'paper.lastbar', sortValue: (a) => a.last_bar_time, cell: (a) => (a.last_bar_time ? formatTime(a.last_bar_time, lang, zone) : '—') },
        {
          id: 'actions',
          header: 'bt.actions',
          headerHidden: true,
          className: 'actions',
          cell: (a) => (
            <button type="button" className="btn btn-small" onClick={() => navigate(`/paper?id=${a.id}`)} aria-label={`${t('paper.view')} ${a.name}`}>
              {t('paper.view')}
            </button>
          ),
        },
      ]}
    />
  );
}

interface AccountData {
  account: PaperAccount;
  orders: Order[];
  fills: Fill[];
  trades: Trade[];
  equity: { time: string[]; equity: number[]; balance: number[] };
}

function AccountView({ id, onChanged }: { id: number; onChanged: () => void }) {
  const { t, lang, zone } = useI18n();
  const base = `/api/v1/paper-accounts/${id}`;
  const data = useAsync<AccountData>(async (signal) => {
    const [account, orders, fills, trades, equity] = await Promise.all([
      api<PaperAccount>(base, { signal }),
      api<{ orders: Order[] }>(`${base}/orders`, { signal }).then((r) => r.orders),
      api<{ fills: Fill[] }>(`${base}/fills`, { signal }).then((r) => r.fills),
      api<{ trades: Trade[] }>(`${base}/trades`, { signal }).then((r) => r.trades),
      api<AccountData['equity']>(`${base}/equity`, { signal }),
    ]);
    return { account, orders, fills, trades, equity };
  }, [id]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The order stream drives the refresh: when a new event arrives, the account is read again.
  const events = useEvents(base, data.reload);
  const act = async (confirmKey: 'paper.confirm.closepos' | 'paper.confirm.reset' | 'paper.confirm.close', path: string, method: 'POST' | 'DELETE') => {
    if (!confirm(t(confirmKey, { name: data.data?.account.name ?? '' }))) return;
    setBusy(true);
    setError(null);
    try {
      await api(path, method === 'POST' ? { method, body: {} } : { method });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
    data.reload();
    onChanged();
  };
  const cancelOrder = async (o: Order) => {
    setError(null);
    try {
      await api(`${base}/orders/${o.id}`, { method: 'DELETE' });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
    data.reload();
  };
  const d = data.data;
  const lines = useMemo(
    () => (d ? [{ name: t('paper.equity'), color: '#0b5cad', time: d.equity.time, value: d.equity.equity }, { name: t('paper.balance.now'), color: '#8a96a3', time: d.equity.time, value: d.equity.balance }] : []),
    [d, t],
  );
  const digits = useMemo(() => (d ? digitsOf([...(d.account.positions ?? []).map((p) => p.avg_price), ...d.fills.slice(0, 100).map((f) => f.price)]) : 5), [d]);
  if (data.error && !d) return <ErrorState error={data.error} retry={data.reload} />;
  if (!d) return <Loading />;
  const a = d.account;
  const working = d.orders.filter((o) => o.status === 'working');
  const positions: Position[] = a.positions ?? [];
  const open = a.status === 'active';
  return (
    <section aria-label={a.name} data-testid="paper-account" data-account-id={a.id}>
      <Card
        title={`${a.name}: ${a.strategy.symbols.join(', ')} ${a.strategy.timeframe}`}
        actions={
          <div className="actions">
            <button type="button" className="btn btn-small" onClick={data.reload}>
              {t('common.refresh')}
            </button>
            {open && (
              <>
                <button type="button" className="btn btn-small" disabled={busy || positions.length === 0} onClick={() => act('paper.confirm.closepos', `${base}/close-positions`, 'POST')}>
                  {t('paper.closepos')}
                </button>
                <button type="button" className="btn btn-small" disabled={busy} onClick={() => act('paper.confirm.reset', `${base}/reset`, 'POST')}>
                  {t('paper.reset')}
                </button>
                <button type="button" className="btn btn-small btn-danger" disabled={busy} onClick={() => act('paper.confirm.close', base, 'DELETE')}>
                  {t('paper.closeacct')}
                </button>
              </>
            )}
          </div>
        }
      >
        <FormError message={error} />
        <div className="stats">
          <Stat label={t('paper.equity')} value={<span data-testid="paper-account-equity">{money(a.equity, lang, a.currency)}</span>} sub={`${t('paper.return')} ${formatPercent(a.return, lang, 2)}`} />
          <Stat label={t('paper.balance.now')} value={money(a.balance, lang, a.currency)} sub={`${t('paper.initial')} ${money(a.initial_balance, lang, a.currency)}`} />
          <Stat
            label={t('paper.status')}
            value={
              <>
                <StatusBadge status={a.status} /> {open && a.trading_state !== 'active' && <StatusBadge status={a.trading_state} />}
              </>
            }
            sub={a.risk_reason || undefined}
          />
          <Stat label={t('paper.lastbar')} value={a.last_bar_time ? formatTime(a.last_bar_time, lang, zone) : '—'} sub={`${t('bt.threshold')} ${a.strategy.signal?.threshold ?? '—'}`} />
        </div>
        {d.equity.time.length === 0 ? (
          <p className="state state-empty" data-testid="paper-nobars">
            {t('paper.nobars')}
          </p>
        ) : (
          <Suspense fallback={<Loading />}>
            <LineChart lines={lines} zone={zone} label={`${t('paper.equity')}: ${a.name}`} precision={2} testId="paper-equity-chart" height={260} />
          </Suspense>
        )}
      </Card>
      <div className="grid-2">
        <Card title={`${t('paper.positions')} (${positions.length})`}>
          <DataTable
            rows={positions}
            caption={t('paper.positions')}
            testId="paper-positions"
            rowKey={(p) => p.symbol}
            columns={[
              { id: 'symbol', header: 'common.symbol', cell: (p) => p.symbol },
              { id: 'side', header: 'bt.side', cell: (p) => t(p.side === 'long' ? 'bt.long' : 'bt.short') },
              { id: 'qty', header: 'bt.qty', numeric: true, cell: (p) => formatNumber(p.quantity, lang) },
              { id: 'avg', header: 'paper.avg', numeric: true, cell: (p) => formatPrice(p.avg_price, digits, lang) },
              { id: 'mark', header: 'paper.mark', numeric: true, cell: (p) => (p.mark_price !== undefined ? formatPrice(p.mark_price, digits, lang) : '—') },
              { id: 'upnl', header: 'paper.upnl', numeric: true, className: (p) => ((p.unrealized_pnl ?? 0) >= 0 ? 'pos' : 'neg'), cell: (p) => money(p.unrealized_pnl, lang, a.currency) },
            ]}
          />
        </Card>
        <Card title={`${t('paper.orders')} (${working.length})`}>
          <DataTable
            rows={working}
            caption={t('paper.orders')}
            testId="paper-orders"
            rowKey={(o) => o.id}
            columns={[
              { id: 'id', header: { text: '#' }, numeric: true, cell: (o) => o.id },
              { id: 'symbol', header: 'common.symbol', cell: (o) => o.symbol },
              { id: 'side', header: 'bt.side', cell: (o) => o.side },
              { id: 'type', header: 'paper.type', cell: (o) => o.type },
              { id: 'qty', header: 'bt.qty', numeric: true, cell: (o) => formatNumber(o.quantity, lang) },
              { id: 'price', header: 'paper.price', numeric: true, cell: (o) => (o.type === 'market' ? '—' : formatPrice(o.stop_price ?? o.price ?? 0, digits, lang)) },
              { id: 'role', header: 'paper.role', cell: (o) => o.role ?? '' },
              {
                id: 'actions',
                header: 'bt.actions',
                headerHidden: true,
                className: 'actions',
                cell: (o) =>
                  open && (
                    <button type="button" className="btn btn-small btn-danger" onClick={() => cancelOrder(o)} aria-label={`${t('paper.cancel')} #${o.id}`}>
                      {t('paper.cancel')}
                    </button>
                  ),
              },
            ]}
          />
        </Card>
      </div>
      {open && a.trading_state !== 'halted' && <OrderForm base={base} symbols={a.strategy.symbols} onPlaced={data.reload} />}
      <Card title={`${t('paper.fills')} (${d.fills.length})`}>
        <DataTable
          rows={d.fills.slice(0, 200)}
          caption={t('paper.fills')}
          testId="paper-fills"
          rowKey={(f) => f.id}
          columns={[
            { id: 'time', header: 'common.time', cell: (f) => formatTime(f.time, lang, zone) },
            { id: 'symbol', header: 'common.symbol', cell: (f) => f.symbol },
            { id: 'side', header: 'bt.side', cell: (f) => f.side },
            { id: 'qty', header: 'bt.qty', numeric: true, cell: (f) => formatNumber(f.quantity, lang) },
            { id: 'price', header: 'paper.price', numeric: true, cell: (f) => formatPrice(f.price, digits, lang) },
            { id: 'role', header: 'paper.role', cell: (f) => f.role ?? '' },
            { id: 'commission', header: 'paper.commission', numeric: true, cell: (f) => money(f.commission, lang, a.currency) },
            { id: 'realized', header: 'paper.realized', numeric: true, cell: (f) => money(f.realized_pnl, lang, a.currency) },
          ]}
        />
      </Card>
      <Card title={`${t('bt.trades')} (${d.trades.length})`}>{d.trades.length === 0 ? <Empty /> : <TradeTable trades={d.trades.slice(0, 200)} testId="paper-trades" />}</Card>
      <Card title={t('paper.events')}>
        <p className="hint">{t('paper.events.desc')}</p>
        {events.error ? <ErrorState error={events.error} /> : null}
        <DataTable
          rows={[...events.items].reverse().slice(0, 200)}
          caption={t('paper.events')}
          testId="paper-events"
          wrapClassName="events"
          rowKey={(e) => e.seq}
          columns={[
            { id: 'seq', header: { text: '#' }, numeric: true, cell: (e) => e.seq },
            { id: 'time', header: 'common.time', cell: (e) => formatTime(e.time, lang, zone) },
            { id: 'type', header: 'paper.event', cell: (e) => <code>{e.type}</code> },
            { id: 'detail', header: 'paper.detail', className: 'wrap', cell: (e) => eventDetail(e, lang) },
          ]}
        />
      </Card>
    </section>
  );
}

// A manual order (POST .../orders): market, limit or stop, good till cancelled, with an optional
// stop-loss / take-profit bracket at absolute prices. It fills from the first bar that opens after
// it is placed; a refusal by the risk limits is an order with status rejected.
function OrderForm({ base, symbols, onPlaced }: { base: string; symbols: string[]; onPlaced: () => void }) {
  const { t } = useI18n();
  const [symbol, setSymbol] = useState(symbols[0] ?? '');
  const [side, setSide] = useState<'buy' | 'sell'>('buy');
  const [type, setType] = useState<'market' | 'limit' | 'stop'>('market');
  const [quantity, setQuantity] = useState('10000');
  const [price, setPrice] = useState('');
  const [stopLoss, setStopLoss] = useState('');
  const [takeProfit, setTakeProfit] = useState('');
  const [placed, setPlaced] = useState<Order | null>(null);
  const f = useForm(
    () => {
      const e: FieldErrors = {};
      if (!(Number(quantity) > 0)) e.quantity = t('bt.positive');
      if (type !== 'market' && !(Number(price) > 0)) e.price = t('bt.positive');
      if (stopLoss.trim() !== '' && !(Number(stopLoss) > 0)) e.stop_loss = t('bt.positive');
      if (takeProfit.trim() !== '' && !(Number(takeProfit) > 0)) e.take_profit = t('bt.positive');
      return e;
    },
    () =>
      api<Order>(`${base}/orders`, {
        body: {
          symbol,
          side,
          type,
          quantity: Number(quantity),
          ...(type !== 'market' ? { price: Number(price) } : {}),
          ...(stopLoss.trim() !== '' ? { stop_loss: Number(stopLoss) } : {}),
          ...(takeProfit.trim() !== '' ? { take_profit: Number(takeProfit) } : {}),
        },
      }),
    (o) => {
      setPlaced(o);
      onPlaced();
    },
  );
  return (
    <Card title={t('paper.order.new')}>
      <form onSubmit={f.onSubmit} noValidate data-testid="order-form">
        <FormError message={f.formError} errors={f.errors} known={['symbol', 'side', 'type', 'quantity', 'price', 'stop_loss', 'take_profit']} />
        <div className="form-row">
          <Select label={t('common.symbol')} name="symbol" value={symbol} options={symbols.map((x) => ({ value: x, label: x }))} onChange={setSymbol} error={f.errors.symbol} />
          <Select
            label={t('bt.side')}
            name="side"
            value={side}
            options={[
              { value: 'buy', label: t('paper.buy') },
              { value: 'sell', label: t('paper.sell') },
            ]}
            onChange={(v) => setSide(v as 'buy' | 'sell')}
            error={f.errors.side}
          />
          <Select
            label={t('paper.type')}
            name="type"
            value={type}
            options={(['market', 'limit', 'stop'] as const).map((x) => ({ value: x, label: t(`paper.type.${x}`) }))}
            onChange={(v) => setType(v as 'market' | 'limit' | 'stop')}
            error={f.errors.type}
          />
          <Field label={t('paper.units')} name="quantity" type="number" inputMode="decimal" min={0} value={quantity} onChange={(e) => setQuantity(e.target.value)} error={f.errors.quantity} hint={t('paper.units.hint')} />
          {type !== 'market' && (
            <Field label={t(type === 'limit' ? 'paper.limit' : 'paper.trigger')} name="price" type="number" inputMode="decimal" min={0} step="any" value={price} onChange={(e) => setPrice(e.target.value)} error={f.errors.price} />
          )}
          <Field label={t('paper.sl')} name="stop_loss" type="number" inputMode="decimal" min={0} step="any" value={stopLoss} onChange={(e) => setStopLoss(e.target.value)} error={f.errors.stop_loss} />
          <Field label={t('paper.tp')} name="take_profit" type="number" inputMode="decimal" min={0} step="any" value={takeProfit} onChange={(e) => setTakeProfit(e.target.value)} error={f.errors.take_profit} />
        </div>
        <button type="submit" className="btn btn-primary" disabled={f.busy}>
          {t('paper.order.place')}
        </button>
        {placed && (
          <p className="muted" role="status" data-testid="order-placed">
            {t('paper.order.placed', { id: placed.id, status: t(`paper.order.${placed.status}`) })}
            {placed.reason ? ` ${placed.reason}` : ''}
          </p>
        )}
      </form>
    </Card>
  );
}

function eventDetail(e: PaperEvent, lang: 'en' | 'id'): string {
  const o = e.order;
  const parts: string[] = [];
  if (o) parts.push(`#${o.id} ${o.side} ${formatNumber(o.quantity, lang)} ${o.symbol} ${o.type}${o.role ? ` (${o.role})` : ''}`);
  if (e.fill) parts.push(`@ ${e.fill.price}`);
  if (o?.reason) parts.push(o.reason);
  if (e.risk) parts.push(`${String(e.risk.from ?? '')} → ${String(e.risk.to ?? '')} ${String(e.risk.reason ?? '')}`.trim());
  return parts.join(' ');
}

// The order stream by polling (GET .../events?after=<last seq>), as an external executor reads it:
// every 5 s, and at once after each new batch until the stream is drained.
function useEvents(base: string, onNew: () => void) {
  const [items, setItems] = useState<PaperEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const after = useRef(0);
  const onNewRef = useRef(onNew);
  onNewRef.current = onNew;
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    after.current = 0;
    setItems([]);
    const poll = async () => {
      try {
        const r = await api<{ events: PaperEvent[]; next_after: number }>(`${base}/events?after=${after.current}&limit=100`);
        if (stop) return;
        setError(null);
        if (r.events.length > 0) {
          const first = after.current === 0;
          after.current = r.next_after;
          setItems((prev) => [...prev, ...r.events].slice(-500));
          if (!first) onNewRef.current();
          timer = setTimeout(poll, r.events.length >= 100 ? 0 : 5000);
          return;
        }
      } catch (e) {
        if (!stop) setError(e);
      }
      if (!stop) timer = setTimeout(poll, 5000);
    };
    poll();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [base]);
  return { items, error };
}
