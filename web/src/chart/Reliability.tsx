// Reliability diagram: each bin's mean predicted P(up) against the observed frequency of "up",
// with its Wilson 95% interval and n; the diagonal is perfect calibration.
import { formatPercent } from '../format';
import { useI18n } from '../i18n';
import type { Bin } from '../stats';

export function Reliability({ bins }: { bins: Bin[] }) {
  const { t, lang } = useI18n();
  const W = 320;
  const P = 36;
  const S = W - 2 * P;
  const x = (v: number) => P + v * S;
  const y = (v: number) => W - P - v * S;
  const maxN = Math.max(1, ...bins.map((b) => b.n));
  const desc = bins.map((b) => `${formatPercent(b.meanPredicted, lang)} → ${formatPercent(b.observed, lang)} (n=${b.n})`).join('; ');
  return (
    <figure className="reliability">
      <svg viewBox={`0 0 ${W} ${W}`} role="img" aria-label={`${t('track.reliability')}: ${desc}`} data-testid="reliability">
        <rect x={P} y={P} width={S} height={S} fill="#fafbfc" stroke="#d5dbe3" />
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v}>
            <line x1={x(v)} x2={x(v)} y1={y(0)} y2={y(0) + 4} stroke="#5b6776" />
            <text x={x(v)} y={y(0) + 16} textAnchor="middle" fontSize="10" fill="#3c4653">
              {v}
            </text>
            <line x1={x(0) - 4} x2={x(0)} y1={y(v)} y2={y(v)} stroke="#5b6776" />
            <text x={x(0) - 7} y={y(v) + 3} textAnchor="end" fontSize="10" fill="#3c4653">
              {v}
            </text>
          </g>
        ))}
        <line x1={x(0)} y1={y(0)} x2={x(1)} y2={y(1)} stroke="#8a96a3" strokeDasharray="4 3" />
        {bins.map((b) => (
          <g key={b.lo}>
            {b.ci && <line x1={x(b.meanPredicted)} x2={x(b.meanPredicted)} y1={y(b.ci[0])} y2={y(b.ci[1])} stroke="#0b5cad" strokeWidth="1.5" />}
            <circle cx={x(b.meanPredicted)} cy={y(b.observed)} r={3 + 5 * Math.sqrt(b.n / maxN)} fill="#0b5cad" fillOpacity="0.75" />
          </g>
        ))}
        <text x={W / 2} y={W - 4} textAnchor="middle" fontSize="11" fill="#1d2733">
          {t('track.predicted')}
        </text>
        <text x={10} y={W / 2} textAnchor="middle" fontSize="11" fill="#1d2733" transform={`rotate(-90 10 ${W / 2})`}>
          {t('track.observed')}
        </text>
      </svg>
      <figcaption>{t('track.reliability.desc')}</figcaption>
    </figure>
  );
}
