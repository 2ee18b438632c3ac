// The symbol / timeframe picker shared by the signals, track record and models pages. The choice
// lives in the URL (?symbol=EURUSD&timeframe=H1), so a link or a reload opens the same series.
import { api } from '../api';
import { useI18n } from '../i18n';
import { setQuery, useLocation } from '../router';
import type { SeriesItem } from '../types';
import { Empty, ErrorState, Loading, Select, useAsync } from './ui';

export function useSeries() {
  return useAsync((signal) => api<{ items: SeriesItem[] }>('/api/v1/market/series', { signal }).then((r) => r.items), []);
}

// The chosen series (from the URL, else the first one with data), and the picker.
export function useChosenSeries(): { series: SeriesItem | null; picker: React.ReactNode; state: React.ReactNode } {
  const { t } = useI18n();
  const all = useSeries();
  const { query } = useLocation();
  if (all.error) return { series: null, picker: null, state: <ErrorState error={all.error} retry={all.reload} /> };
  if (!all.data) return { series: null, picker: null, state: <Loading /> };
  const items = all.data;
  if (items.length === 0) return { series: null, picker: null, state: <Empty>{t('signals.noseries')}</Empty> };
  const symbols = [...new Set(items.map((s) => s.symbol))];
  const symbol = symbols.includes(query.get('symbol') ?? '') ? query.get('symbol')! : symbols.includes('EURUSD') ? 'EURUSD' : symbols[0];
  const tfs = items.filter((s) => s.symbol === symbol).map((s) => s.timeframe);
  const timeframe = tfs.includes(query.get('timeframe') ?? '') ? query.get('timeframe')! : tfs.includes('H1') ? 'H1' : tfs[0];
  const series = items.find((s) => s.symbol === symbol && s.timeframe === timeframe) ?? null;
  const picker = (
    <div className="picker">
      <Select
        label={t('common.symbol')}
        name="symbol"
        value={symbol}
        options={symbols.map((s) => ({ value: s, label: s }))}
        onChange={(v) => {
          const tf = items.filter((s) => s.symbol === v).map((s) => s.timeframe);
          setQuery({ symbol: v, timeframe: tf.includes(timeframe) ? timeframe : tf[0] });
        }}
      />
      <Select label={t('common.timeframe')} name="timeframe" value={timeframe} options={tfs.map((s) => ({ value: s, label: s }))} onChange={(v) => setQuery({ symbol, timeframe: v })} />
    </div>
  );
  return { series, picker, state: null };
}
