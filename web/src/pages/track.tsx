// The live track record of one model line (a series at one horizon): every stored signal scored
// once its horizon has passed;
// hit rate with its 95% interval and Brier score per model version, the reliability diagram, and
// the serving version's live interval coverage beside its walk-forward validation.
import { api, qs } from '../api';
import { Reliability } from '../chart/Reliability';
import { formatNumber, formatPercent } from '../format';
import { useI18n } from '../i18n';
import { DataTable } from '../components/DataTable';
import { Card, Empty, useAsync, View } from '../components/ui';
import { useChosenSeries } from '../components/series';
import { useChosenHorizon, useHorizonText } from '../components/horizon';
import { horizonParam, ofHorizon } from '../horizon';
import { reliabilityBins, scoreBy } from '../stats';
import type { Performance, SeriesItem, Signal } from '../types';

const PAGES = 4; // up to 2,000 newest signals

async function history(series: SeriesItem, horizon: number, signal: AbortSignal): Promise<Signal[]> {
  const out: Signal[] = [];
  let before: string | undefined;
  for (let i = 0; i < PAGES; i++) {
    const page = await api<{ signals: Signal[]; next_before: string | null }>(
      `/api/v1/signals${qs({ symbol: series.symbol, timeframe: series.timeframe, ...horizonParam(horizon), limit: 500, before })}`,
      { signal },
    );
    out.push(...ofHorizon(page.signals, horizon));
    if (!page.next_before) break;
    before = page.next_before;
  }
  return out;
}

export function TrackRecord() {
  const { t } = useI18n();
  const { series, picker, state } = useChosenSeries();
  const hz = useChosenHorizon(series);
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('track.title')}</h1>
      <p className="intro">{t('track.intro')}</p>
      {state}
      {series && (
        <>
          <div className="pickers">
            {picker}
            {hz.picker}
          </div>
          {hz.state}
          {hz.horizon !== null && <SeriesTrack series={series} horizon={hz.horizon} />}
        </>
      )}
    </div>
  );
}

function SeriesTrack({ series, horizon }: { series: SeriesItem; horizon: number }) {
  const { t, lang } = useI18n();
  const text = useHorizonText();
  const what = text(horizon, series.timeframe);
  const loaded = useAsync(
    async (signal) => {
      const [signals, perf] = await Promise.all([
        history(series, horizon, signal),
        api<Performance>(`/api/v1/signals/performance${qs({ symbol: series.symbol, timeframe: series.timeframe, ...horizonParam(horizon) })}`, { signal }).catch(() => null),
      ]);
      return { key: `${series.symbol}/${series.timeframe}/${horizon}`, signals, perf };
    },
    [series.symbol, series.timeframe, horizon],
  );
  // Another line's figures are not shown under this one's title while this one loads.
  const data = { ...loaded, data: loaded.data?.key === `${series.symbol}/${series.timeframe}/${horizon}` ? loaded.data : undefined };
  return (
    <>
      <p className="muted">{t('track.horizon', { what })}</p>
      <View a={data}>
        {({ signals, perf }) => {
          const resolved = signals.filter((s) => s.resolved);
          if (resolved.length === 0) return <Empty>{t('track.none.h', { what })}</Empty>;
          const scores = scoreBy(resolved, (s) => s.model_version ?? '—');
          const bins = reliabilityBins(resolved);
          return (
            <div className="grid-2" data-testid="track" data-horizon={horizon} data-resolved={resolved.length}>
              <Card title={t('track.version')}>
                <DataTable
                  rows={scores}
                  caption={t('track.version')}
                  testId="track-table"
                  rowKey={(s) => s.key}
                  columns={[
                    { id: 'version', header: 'track.version', cell: (s) => <code>{s.key}</code> },
                    { id: 'resolved', header: 'track.resolved', numeric: true, sortValue: (s) => s.resolved, cell: (s) => formatNumber(s.resolved, lang) },
                    { id: 'hitrate', header: 'track.hitrate', numeric: true, sortValue: (s) => s.hitRate, cell: (s) => (s.hitRate === null ? '—' : `${formatPercent(s.hitRate, lang)} (${s.hits}/${s.directional})`) },
                    { id: 'ci', header: 'track.ci', numeric: true, cell: (s) => (s.ci ? `${formatPercent(s.ci[0], lang)} – ${formatPercent(s.ci[1], lang)}` : '—') },
                    { id: 'brier', header: 'track.brier', numeric: true, sortValue: (s) => s.brier, cell: (s) => (s.brier === null ? '—' : s.brier.toFixed(4)) },
                  ]}
                />
                {perf && perf.live.interval_coverage.length > 0 && (
                  <>
                    <h3>{t('track.coverage')}</h3>
                    <ul>
                      {perf.live.interval_coverage.map((c) => (
                        <li key={c.nominal}>
                          {formatPercent(c.nominal, lang, 0)} {t('track.nominal')} → {formatPercent(c.empirical, lang)} {t('track.empirical')}
                        </li>
                      ))}
                    </ul>
                  </>
                )}
              </Card>
              <Card title={t('track.reliability')}>{bins.length ? <Reliability bins={bins} /> : <Empty />}</Card>
            </div>
          );
        }}
      </View>
    </>
  );
}
