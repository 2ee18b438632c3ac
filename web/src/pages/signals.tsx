// Signals: pick a series and a horizon; candles with the signals of that horizon's model, the
// interval band and the regime strip; the latest signal's calibrated confidence and drivers; live
// updates over the WebSocket stream when the plan has it (this page subscribes to horizon 1).
import { lazy, Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { api, openSignalStream, qs } from '../api';
import { digitsOf, timeframeSeconds } from '../format';
import { useI18n } from '../i18n';
import { Card, ErrorState, Loading, useAsync } from '../components/ui';
import { cheapestWith, useMyPlan } from '../components/plan';
import { useChosenSeries } from '../components/series';
import { useChosenHorizon, useHorizonText } from '../components/horizon';
import { DEFAULT_HORIZON, horizonParam, ofHorizon } from '../horizon';
import { SignalDetail } from '../components/signal';
import { Link } from '../router';
import type { Bar, SeriesItem, Signal } from '../types';

const BARS = 600;

// The chart library is loaded with this page only, so sign-in and the other pages stay small.
const SignalChart = lazy(() => import('../chart/SignalChart').then((m) => ({ default: m.SignalChart })));

function useSeriesData(series: SeriesItem, horizon: number, version: number) {
  return useAsync(
    async (signal) => {
      const tf = timeframeSeconds(series.timeframe);
      const end = series.last_bar_time ? Date.parse(series.last_bar_time) : Date.now();
      // Enough calendar time for BARS bars across weekends.
      const from = new Date(end - BARS * tf * 1000 * 1.5).toISOString();
      const key = { symbol: series.symbol, timeframe: series.timeframe };
      const [bars, history] = await Promise.all([
        api<{ bars: Bar[] }>(`/api/v1/market/bars${qs({ ...key, from, limit: 5000 })}`, { signal }),
        api<{ signals: Signal[] }>(`/api/v1/signals${qs({ ...key, ...horizonParam(horizon), limit: 500 })}`, { signal }),
      ]);
      return { ...key, horizon, bars: bars.bars.slice(-BARS), history: ofHorizon(history.signals, horizon) };
    },
    [series.symbol, series.timeframe, horizon, version],
  );
}

// The latest signal of the chosen horizon's model: metered (one unit a call), so fetched only for
// the horizon shown, and again only when a new bar brings one (horizon 1, over the stream) or on
// the user's refresh.
function LatestSignal({ series, horizon, digits, version }: { series: SeriesItem; horizon: number; digits: number; version: number }) {
  const { t } = useI18n();
  const text = useHorizonText();
  const latest = useAsync(
    (signal) => api<Signal>(`/api/v1/signals/latest${qs({ symbol: series.symbol, timeframe: series.timeframe, ...horizonParam(horizon) })}`, { signal }),
    [series.symbol, series.timeframe, horizon, version],
  );
  // While the next horizon loads, the previous horizon's signal is not shown under this title.
  const shown = latest.data && latest.data.horizon === horizon && latest.data.symbol === series.symbol && latest.data.timeframe === series.timeframe ? latest.data : undefined;
  const refresh =
    horizon !== DEFAULT_HORIZON ? (
      <button type="button" className="btn btn-small" onClick={latest.reload} disabled={latest.loading}>
        {t('common.refresh')}
      </button>
    ) : undefined;
  return (
    <Card title={t('signal.latest.h', { what: text(horizon, series.timeframe) })} actions={refresh}>
      {latest.error ? <ErrorState error={latest.error} retry={latest.reload} /> : !shown ? <Loading /> : <SignalDetail s={shown} digits={digits} />}
    </Card>
  );
}

type LiveState = 'off' | 'on' | 'closed';

function useLive(series: SeriesItem | null, enabled: boolean, onSignal: () => void): LiveState {
  const [state, setState] = useState<LiveState>('off');
  const handler = useRef(onSignal);
  handler.current = onSignal;
  useEffect(() => {
    if (!series || !enabled) {
      setState('off');
      return;
    }
    let ws: WebSocket | null = null;
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      ws = openSignalStream();
      if (!ws) return;
      ws.onopen = () => {
        ws!.send(JSON.stringify({ symbols: [series.symbol], timeframes: [series.timeframe] }));
      };
      ws.onmessage = (e) => {
        const m = JSON.parse(String(e.data)) as { type: string; symbol?: string; timeframe?: string };
        if (m.type === 'subscribed') setState('on');
        if (m.type === 'signal') handler.current();
      };
      ws.onclose = () => {
        if (stopped) return;
        setState('closed');
        retry = setTimeout(connect, 5000);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      ws?.close();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [series?.symbol, series?.timeframe, enabled]);
  return state;
}

export function Signals() {
  const { t, zone } = useI18n();
  const { series, picker, state } = useChosenSeries();
  const hz = useChosenHorizon(series);
  const text = useHorizonText();
  const plan = useMyPlan();
  // A stream message (a horizon-1 signal: a bar closed) reloads the bars and the chart's signals;
  // the metered latest-signal card follows it only at horizon 1, the line the stream carries.
  const [version, setVersion] = useState(0);
  const [cardVersion, setCardVersion] = useState(0);
  const streamable = !!plan.data?.plan && ['stream', 'realtime'].every((f) => plan.data!.plan!.features.includes(f));
  const live = useLive(series, streamable, () => {
    setVersion((v) => v + 1);
    if (hz.horizon === DEFAULT_HORIZON) setCardVersion((v) => v + 1);
  });
  const needPlan = plan.data ? cheapestWith(plan.data.plans, 'stream', 'realtime') : undefined;

  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('signals.title')}</h1>
      {state}
      {series && (
        <>
          <div className="pickers">
            {picker}
            {hz.picker}
          </div>
          <p className="live" aria-live="polite" data-testid="live-state">
            {live === 'on' && hz.horizon !== null && hz.horizon !== DEFAULT_HORIZON
              ? t('signals.live.h1only', { what: text(hz.horizon, series.timeframe) })
              : live === 'on'
                ? t('signals.live.on')
                : live === 'closed' ? t('signals.live.closed') : plan.data ? t('signals.live.off', { plan: needPlan?.display_name ?? '—' }) : null}
            {live === 'off' && plan.data && (
              <>
                {' '}
                <Link to="/billing">{t('overview.upgrade')}</Link>
              </>
            )}
          </p>
          {hz.state}
          {hz.horizon !== null && <SeriesView series={series} horizon={hz.horizon} version={version} cardVersion={cardVersion} zone={zone} />}
        </>
      )}
    </div>
  );
}

function SeriesView({ series, horizon, version, cardVersion, zone }: { series: SeriesItem; horizon: number; version: number; cardVersion: number; zone: string }) {
  const { t } = useI18n();
  const text = useHorizonText();
  const loaded = useSeriesData(series, horizon, version);
  // Another series' or horizon's chart is not shown under this one's title while this one loads.
  const fresh = loaded.data && loaded.data.symbol === series.symbol && loaded.data.timeframe === series.timeframe && loaded.data.horizon === horizon;
  const data = { ...loaded, data: fresh ? loaded.data : undefined };
  const digits = useMemo(() => (data.data ? digitsOf(data.data.bars.slice(-300).flatMap((b) => [b.open, b.close])) : 5), [data.data]);
  return (
    <div className="grid-signals">
      <Card title={`${series.symbol} ${series.timeframe} · ${text(horizon, series.timeframe)}`} className="chart-card">
        {data.error && !data.data ? (
          <ErrorState error={data.error} retry={data.reload} />
        ) : !data.data ? (
          <Loading />
        ) : (
          <>
            <Suspense fallback={<Loading />}>
              <SignalChart bars={data.data.bars} signals={data.data.history} digits={digits} zone={zone} timeframe={series.timeframe} horizon={horizon} label={`${t('signals.chart')}: ${series.symbol} ${series.timeframe}, ${text(horizon, series.timeframe)}`} />
            </Suspense>
            <p className="legend">{t('signals.legend')}</p>
            <p className="attribution">
              <a href="https://www.tradingview.com/" rel="noopener noreferrer">
                {t('signals.attribution')}
              </a>
            </p>
          </>
        )}
      </Card>
      <LatestSignal series={series} horizon={horizon} digits={digits} version={cardVersion} />
    </div>
  );
}
