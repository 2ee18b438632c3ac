// The horizon picker shared by the signals and track record pages: the horizons the series serves
// (GET /api/v1/models, free: the tenant's and the platform's active models), as a labelled radio
// group, hidden when only one is served. The choice is remembered for the browser session.
import { useId, useState } from 'react';
import { api, qs } from '../api';
import { horizonSpan, pickHorizon, rememberedHorizon, rememberHorizon, servedHorizons, DEFAULT_HORIZON } from '../horizon';
import { useI18n } from '../i18n';
import type { ModelsAnswer, SeriesItem } from '../types';
import { ErrorState, Loading, useAsync } from './ui';

// "next 4 bars (4 hours)" / "4 bar berikutnya (4 jam)".
export function useHorizonText(): (h: number, timeframe: string) => string {
  const { t, lang } = useI18n();
  return (h, timeframe) => t(h === 1 ? 'horizon.one' : 'horizon.many', { n: h, span: horizonSpan(h, timeframe, lang) });
}

// The chosen horizon of `series` (null while the served horizons load), the picker, and the
// loading / error state of the lookup. On an error the default horizon is shown, with a retry.
export function useChosenHorizon(series: SeriesItem | null): { horizon: number | null; picker: React.ReactNode; state: React.ReactNode } {
  const [wanted, setWanted] = useState<number | null>(rememberedHorizon);
  const models = useAsync(
    (signal) => (series ? api<ModelsAnswer>(`/api/v1/models${qs({ symbol: series.symbol, timeframe: series.timeframe })}`, { signal }) : Promise.resolve(null)),
    [series?.symbol, series?.timeframe],
  );
  if (!series) return { horizon: null, picker: null, state: null };
  if (models.error && !models.data) return { horizon: DEFAULT_HORIZON, picker: null, state: <ErrorState error={models.error} retry={models.reload} /> };
  // While another series' answer is still shown, wait: its horizons may not be this one's.
  if (!models.data || models.data.symbol !== series.symbol || models.data.timeframe !== series.timeframe) return { horizon: null, picker: null, state: <Loading /> };
  const served = servedHorizons(models.data);
  const horizon = pickHorizon(served, wanted);
  if (served.length <= 1) return { horizon, picker: null, state: null };
  const choose = (h: number) => {
    rememberHorizon(h);
    setWanted(h);
  };
  const picker = <HorizonPicker served={served} horizon={horizon} timeframe={series.timeframe} onChange={choose} />;
  return { horizon, picker, state: null };
}

// A labelled radio group (arrow keys move between the horizons, as native radios do).
export function HorizonPicker({ served, horizon, timeframe, onChange }: { served: number[]; horizon: number; timeframe: string; onChange: (h: number) => void }) {
  const { t } = useI18n();
  const text = useHorizonText();
  const id = useId();
  return (
    <fieldset className="horizon-picker" data-testid="horizon-picker" aria-describedby={`${id}-hint`}>
      <legend>{t('horizon.legend')}</legend>
      <div className="horizon-options">
        {served.map((h) => (
          <label key={h} className={h === horizon ? 'chosen' : undefined}>
            <input type="radio" name={`${id}-horizon`} value={h} checked={h === horizon} onChange={() => onChange(h)} />
            {text(h, timeframe)}
          </label>
        ))}
      </div>
      <p className="hint" id={`${id}-hint`}>
        {t('horizon.hint')}
      </p>
    </fieldset>
  );
}
