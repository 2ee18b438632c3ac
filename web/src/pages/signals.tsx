// Signals: pick a series; candles with the signals made on them, the interval band and the regime
// strip; the latest signal's calibrated confidence and drivers; live updates over the WebSocket
// stream when the plan has it.
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { api, openSignalStream, qs } from '../api';
import { digitsOf, timeframeSeconds } from '../format';
import { useI18n } from '../i18n';
import { Card, ErrorState, Loading, useAsync } from '../components/ui';
import { cheapestWith, useMyPlan } from '../components/plan';
import { useChosenSeries } from '../components/series';
import { SignalDetail } from '../components/signal';
import { Link } from '../router';
import type { Bar, SeriesItem, Signal } from '../types';

const BARS = 600;

// The chart library is loaded with this page only, so sign-in and the other pages stay small.
const SignalChart = lazy(() => import('../chart/SignalChart').then((m) => ({ default: m.SignalChart })));

function useSeriesData(series: SeriesItem, version: number) {
  return useAsync(
    async (signal) => {
      const tf = timeframeSeconds(series.timeframe);
      const end = series.last_bar_time ? Date.parse(series.last_bar_time) : Date.now();
      // Enough calendar time for BARS bars across weekends.
      const from = new Date(end - BARS * tf * 1000 * 1.5).toISOString();
      const key = { symbol: series.symbol, timeframe: series.timeframe };
      const [bars, history] = await Promise.all([
        api<{ bars: Bar[] }>(`/api/v1/market/bars${qs({ ...key, from, limit: 5000 })}`, { signal }),
        api<{ signals: Signal[] }>(`/api/v1/signals${qs({ ...key, limit: 500 })}`, { signal }),
      ]);
      return { bars: bars.bars.slice(-BARS), history: history.signals };
    },
    [series.symbol, series.timeframe, version],
  );
}

function LatestSignal({ series, digits, version }: { series: SeriesItem; digits: number; version: number }) {
  const { t } = useI18n();
  const latest = useAsync(
    (signal) => api<Signal>(`/api/v1/signals/latest${qs({ symbol: series.symbol, timeframe: series.timeframe })}`, { signal }),
    [series.symbol, series.timeframe, version],
  );
  return (
    <Card title={t('signal.latest')}>
      {latest.error ? <ErrorState error={latest.error} retry={latest.reload} /> : !latest.data ? <Loading /> : <SignalDetail s={latest.data} digits={digits} />}
    </Card>
  );
}

type LiveState = 'off' | 'on' | 'closed';

function useLive(series: SeriesItem | null, enabled: boolean, onSignal: () => void): LiveState {
  const [state, setState] = useState<LiveState>('off');
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
        if (m.type === 'signal') onSignal();
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
  const plan = useMyPlan();
  const [version, setVersion] = useState(0);
  const streamable = !!plan.data?.plan && ['stream', 'realtime'].every((f) => plan.data!.plan!.features.includes(f));
  const live = useLive(series, streamable, () => setVersion((v) => v + 1));
  const needPlan = plan.data ? cheapestWith(plan.data.plans, 'stream', 'realtime') : undefined;

  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('signals.title')}</h1>
      {state}
      {series && (
        <>
          {picker}
          <p className="live" aria-live="polite">
            {live === 'on' ? t('signals.live.on') : live === 'closed' ? t('signals.live.closed') : plan.data ? t('signals.live.off', { plan: needPlan?.display_name ?? '—' }) : null}
            {live === 'off' && plan.data && (
              <>
                {' '}
                <Link to="/billing">{t('overview.upgrade')}</Link>
              </>
            )}
          </p>
          <SeriesView series={series} version={version} zone={zone} />
        </>
      )}
    </div>
  );
}

function SeriesView({ series, version, zone }: { series: SeriesItem; version: number; zone: string }) {
  const { t } = useI18n();
  const data = useSeriesData(series, version);
  const digits = useMemo(() => (data.data ? digitsOf(data.data.bars.slice(-300).flatMap((b) => [b.open, b.close])) : 5), [data.data]);
  return (
    <div className="grid-signals">
      <Card title={`${series.symbol} ${series.timeframe}`} className="chart-card">
        {data.error && !data.data ? (
          <ErrorState error={data.error} retry={data.reload} />
        ) : !data.data ? (
          <Loading />
        ) : (
          <>
            <Suspense fallback={<Loading />}>
              <SignalChart bars={data.data.bars} signals={data.data.history} digits={digits} zone={zone} timeframe={series.timeframe} label={`${t('signals.chart')}: ${series.symbol} ${series.timeframe}`} />
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
      <LatestSignal series={series} digits={digits} version={version} />
    </div>
  );
}
