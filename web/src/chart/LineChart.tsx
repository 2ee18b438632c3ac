// Equity and drawdown curves (backtests, paper accounts): one or more lines, or an area, on a time
// axis (lightweight-charts v5: chart.addSeries(LineSeries | BaselineSeries, ...); the drawdown is a
// baseline series filled between the curve and 0). Times are shifted
// by the user's zone offset, as on the signals chart (the library draws UTC only). TradingView's
// attribution logo stays on (layout.attributionLogo).
import { useEffect, useRef } from 'react';
import { BaselineSeries, ColorType, createChart, LineSeries, type UTCTimestamp } from 'lightweight-charts';
import { zoneOffsetSeconds } from '../format';

export interface LineSpec {
  name: string;
  color: string;
  below?: boolean; // filled between the line and 0 (the drawdown, <= 0)
  time: string[];
  value: number[];
}

export interface LineChartProps {
  lines: LineSpec[];
  zone: string;
  label: string; // the accessible name of the chart
  precision: number;
  percent?: boolean; // values are percentages
  testId: string;
  height?: number;
}

export function LineChart({ lines, zone, label, precision, percent, testId, height = 300 }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const chart = createChart(el, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#ffffff' }, textColor: '#1d2733', attributionLogo: true },
      grid: { vertLines: { color: '#eef1f5' }, horzLines: { color: '#eef1f5' } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { borderColor: '#d5dbe3' },
    });
    const priceFormat = percent ? { type: 'percent' as const, precision } : { type: 'price' as const, precision, minMove: 10 ** -precision };
    let points = 0;
    for (const l of lines) {
      const data: Array<{ time: UTCTimestamp; value: number }> = [];
      let last = -Infinity;
      for (let i = 0; i < l.time.length && i < l.value.length; i++) {
        const ms = Date.parse(l.time[i]);
        if (Number.isNaN(ms) || !Number.isFinite(l.value[i])) continue;
        const t = Math.floor(ms / 1000) + zoneOffsetSeconds(zone, ms);
        if (t <= last) continue; // the library needs strictly ascending times
        last = t;
        data.push({ time: t as UTCTimestamp, value: l.value[i] });
      }
      const common = { title: l.name, priceFormat, priceLineVisible: false, lastValueVisible: true };
      const s = l.below
        ? chart.addSeries(BaselineSeries, {
            ...common,
            baseValue: { type: 'price', price: 0 },
            topLineColor: l.color,
            topFillColor1: 'rgba(0,0,0,0)',
            topFillColor2: 'rgba(0,0,0,0)',
            bottomLineColor: l.color,
            bottomFillColor1: `${l.color}33`,
            bottomFillColor2: `${l.color}88`,
            lineWidth: 2,
          })
        : chart.addSeries(LineSeries, { ...common, color: l.color, lineWidth: 2 });
      s.setData(data);
      points += data.length;
    }
    chart.timeScale().fitContent();
    el.dataset.points = String(points);
    el.dataset.ready = '1';
    return () => {
      chart.remove();
      delete el.dataset.ready;
    };
  }, [lines, zone, precision, percent]);
  return <div ref={box} className="chart" style={{ height }} data-testid={testId} role="group" aria-label={label} />;
}
