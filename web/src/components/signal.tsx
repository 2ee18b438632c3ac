// One signal as a trader reads it: direction, calibrated confidence, the 80% price interval at
// the horizon, regime and drivers; what the plan lacks is named with the plan that has it.
import { formatPercent, formatPrice, formatTime, timeframeSeconds } from '../format';
import { useI18n, type Key } from '../i18n';
import type { Signal } from '../types';
import { useHorizonText } from './horizon';

export function Direction({ s }: { s: Pick<Signal, 'prediction'> }) {
  const { t } = useI18n();
  const key: Key = s.prediction === 'bullish' ? 'signal.bullish' : s.prediction === 'bearish' ? 'signal.bearish' : 'signal.neutral';
  const arrow = s.prediction === 'bullish' ? '▲' : s.prediction === 'bearish' ? '▼' : '●';
  return (
    <span className={`dir dir-${s.prediction}`}>
      <span aria-hidden="true">{arrow}</span> {t(key)}
    </span>
  );
}

export function priceAt(ref: number, logReturn: number): number {
  return ref * Math.exp(logReturn);
}

export function SignalDetail({ s, digits }: { s: Signal; digits: number }) {
  const { t, lang, zone } = useI18n();
  const horizonText = useHorizonText();
  const i80 = s.intervals?.find((i) => Math.abs(i.coverage - 0.8) < 1e-6);
  return (
    <div className="signal-detail" data-testid="latest-signal" data-bar-time={s.bar_time} data-horizon={s.horizon}>
      <div className="signal-head">
        <Direction s={s} />
        <span className="muted">
          {s.symbol} {s.timeframe} · {t('signal.asof')} {formatTime(Date.parse(s.bar_time) + timeframeSeconds(s.timeframe) * 1000, lang, zone)}
        </span>
      </div>
      <dl className="kv">
        {s.confidence !== undefined && (
          <>
            <dt>{t('signal.confidence')}</dt>
            <dd>
              <strong>{formatPercent(s.confidence, lang)}</strong>
              {s.p_up !== undefined && (
                <span className="muted">
                  {' '}
                  ({t('signal.pup')} {formatPercent(s.p_up, lang)})
                </span>
              )}
            </dd>
          </>
        )}
        <dt>{t('signal.horizon')}</dt>
        <dd data-testid="signal-horizon">{horizonText(s.horizon, s.timeframe)}</dd>
        {i80 && (
          <>
            <dt>{t('signal.interval80')}</dt>
            <dd>
              {formatPrice(priceAt(s.reference_price, i80.lo), digits, lang)} – {formatPrice(priceAt(s.reference_price, i80.hi), digits, lang)}
            </dd>
          </>
        )}
        {s.regime && (
          <>
            <dt>{t('signal.regime')}</dt>
            <dd>{s.regime.name}</dd>
          </>
        )}
        {s.model_version && (
          <>
            <dt>{t('signal.model')}</dt>
            <dd>
              <code>{s.model_version}</code>
            </dd>
          </>
        )}
      </dl>
      {s.drivers && s.drivers.length > 0 && (
        <>
          <h3>{t('signal.drivers')}</h3>
          <ul className="drivers">
            {s.drivers.slice(0, 5).map((d) => (
              <li key={d.feature}>
                <code>{d.feature}</code>
                {d.value !== null && <span className="muted"> = {d.value.toFixed(4)}</span>}
                {d.contribution !== null && (
                  <span className={d.contribution >= 0 ? 'pos' : 'neg'}>
                    {' '}
                    {d.contribution >= 0 ? '+' : ''}
                    {d.contribution.toFixed(3)}
                  </span>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
      {s.gated && Object.keys(s.gated).length > 0 && (
        <p className="note">
          {t('signal.gated', {
            what: Object.keys(s.gated).join(', '),
            plan: [...new Set(Object.values(s.gated).map((v) => /requires plan (\w+)/.exec(v)?.[1] ?? v))].join(', '),
          })}
        </p>
      )}
    </div>
  );
}
