// Candles with the signals made on them (lightweight-charts v5: addSeries(CandlestickSeries),
// createSeriesMarkers), each signal's 80% price interval drawn at its horizon as a dashed band,
// and the regime as a strip in a second pane. The library draws UTC only, so every time is
// shifted by the user's zone offset (format.ts, zoneOffsetSeconds). TradingView's attribution
// logo stays on (layout.attributionLogo), as the library's licence asks.
import { useEffect, useRef } from 'react';
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  LineSeries,
  LineStyle,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { timeframeSeconds, zoneOffsetSeconds } from '../format';
import type { Bar, Signal } from '../types';

export interface ChartProps {
  bars: Bar[];
  signals: Signal[];
  digits: number;
  zone: string;
  timeframe: string;
  label: string;
  horizon?: number; // the model line the signals come from (shown as data-horizon)
}

const UP = '#0f7b3f';
const DOWN = '#b3261e';

export function regimeColor(trend: string, volatility: string): string {
  // signals/regime.cc: trend up | down | range | transition; volatility low_vol | normal_vol | high_vol.
  const alpha = volatility === 'high_vol' ? 0.9 : volatility === 'low_vol' ? 0.35 : 0.6;
  if (trend === 'up') return `rgba(15,123,63,${alpha})`;
  if (trend === 'down') return `rgba(179,38,30,${alpha})`;
  return `rgba(110,110,110,${alpha})`;
}

interface Handles {
  chart: IChartApi;
  candles: ISeriesApi<'Candlestick'>;
  upper: ISeriesApi<'Line'>;
  lower: ISeriesApi<'Line'>;
  regime: ISeriesApi<'Histogram'> | null; // made only when there is a regime to show
  markers: ISeriesMarkersPluginApi<Time>;
}

export function SignalChart({ bars, signals, digits, zone, timeframe, label, horizon }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const h = useRef<Handles | null>(null);

  useEffect(() => {
    const chart = createChart(box.current!, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#ffffff' }, textColor: '#1d2733', attributionLogo: true },
      grid: { vertLines: { color: '#eef1f5' }, horzLines: { color: '#eef1f5' } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { borderColor: '#d5dbe3' },
    });
    const candles = chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderUpColor: UP,
      borderDownColor: DOWN,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.1 } }); // room for the regime strip
    const band = { color: '#0b5cad', lineWidth: 1 as const, lineStyle: LineStyle.Dashed, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false };
    const upper = chart.addSeries(LineSeries, { ...band, title: '80%' });
    const lower = chart.addSeries(LineSeries, band);
    const markers = createSeriesMarkers(candles, []);
    h.current = { chart, candles, upper, lower, regime: null, markers };
    return () => {
      chart.remove();
      h.current = null;
    };
  }, []);

  useEffect(() => {
    const c = h.current;
    if (!c) return;
    const shift = (iso: string) => {
      const ms = Date.parse(iso);
      return (Math.floor(ms / 1000) + zoneOffsetSeconds(zone, ms)) as UTCTimestamp;
    };
    const priceFormat = { type: 'price' as const, precision: digits, minMove: 10 ** -digits };
    c.candles.applyOptions({ priceFormat });
    c.upper.applyOptions({ priceFormat });
    c.lower.applyOptions({ priceFormat });
    c.candles.setData(bars.map((b) => ({ time: shift(b.time), open: b.open, high: b.high, low: b.low, close: b.close })));

    const first = bars.length ? Date.parse(bars[0].time) : 0;
    const last = bars.length ? Date.parse(bars[bars.length - 1].time) : 0;
    const barTimes = new Set(bars.map((b) => Date.parse(b.time)));
    const inView = [...signals].filter((s) => Date.parse(s.bar_time) >= first && Date.parse(s.bar_time) <= last).sort((a, b) => Date.parse(a.bar_time) - Date.parse(b.bar_time));

    const marks: SeriesMarker<Time>[] = [];
    for (const s of inView) {
      if (s.prediction === 'neutral') continue;
      const up = s.prediction === 'bullish';
      marks.push({ time: shift(s.bar_time), position: up ? 'belowBar' : 'aboveBar', shape: up ? 'arrowUp' : 'arrowDown', color: up ? UP : DOWN, id: s.id });
    }
    c.markers.setMarkers(marks);

    // The 80% interval of the price at each signal's horizon, drawn at the bar it applies to
    // (past signals: only where that bar exists; the newest may reach into the future).
    const tf = timeframeSeconds(timeframe) * 1000;
    const up: Array<{ time: UTCTimestamp; value: number }> = [];
    const lo: Array<{ time: UTCTimestamp; value: number }> = [];
    let lastTime = -Infinity;
    for (const s of inView) {
      const i80 = s.intervals?.find((i) => Math.abs(i.coverage - 0.8) < 1e-6);
      if (!i80) continue;
      const target = Date.parse(s.bar_time) + s.horizon * tf;
      if (target <= last && !barTimes.has(target)) continue;
      const time = shift(new Date(target).toISOString());
      if (time <= lastTime) continue;
      lastTime = time;
      up.push({ time, value: s.reference_price * Math.exp(i80.hi) });
      lo.push({ time, value: s.reference_price * Math.exp(i80.lo) });
    }
    c.upper.setData(up);
    c.lower.setData(lo);
    box.current!.dataset.bands = String(up.length);

    // The regime strip: a histogram on its own overlay scale, a thin band along the bottom of the
    // price pane (a separate pane whose only series is empty or has a hidden scale fails the
    // library's layout, "Value is null"), made only when the plan shows regimes.
    const regimes = inView.filter((s) => s.regime).map((s) => ({ time: shift(s.bar_time), value: 1, color: regimeColor(s.regime!.trend, s.regime!.volatility) }));
    box.current!.dataset.regimes = String(regimes.length);
    if (regimes.length > 0) {
      if (!c.regime) {
        c.regime = c.chart.addSeries(HistogramSeries, { priceScaleId: 'regime', priceLineVisible: false, lastValueVisible: false, priceFormat: { type: 'volume' } });
        c.regime.priceScale().applyOptions({ scaleMargins: { top: 0.94, bottom: 0 } });
      }
      c.regime.setData(regimes);
    } else if (c.regime) {
      c.chart.removeSeries(c.regime);
      c.regime = null;
    }
    if (bars.length) {
      c.chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, bars.length - 150), to: bars.length + 5 });
      box.current!.dataset.ready = '1';
      (window as unknown as { __sinyalFirstChart?: number }).__sinyalFirstChart ??= performance.now();
    }
  }, [bars, signals, digits, zone, timeframe]);

  return <div ref={box} className="chart" data-testid="chart" role="group" aria-label={label} data-markers={signals.filter((s) => s.prediction !== 'neutral').length} data-last-bar={bars.at(-1)?.time} data-signals={signals.length} data-horizon={horizon} />;
}
