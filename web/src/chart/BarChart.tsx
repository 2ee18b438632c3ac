// A small bar chart (SVG) for figures over time: revenue per month, units per day, churn per
// month. Values are also given as text (aria-label and the table beside each chart); a null
// value (no figure for that point, e.g. a churn rate with no paying tenant) draws no bar and reads
// as "—".
export function BarChart({ points, label, format, testId }: { points: Array<{ x: string; y: number | null }>; label: string; format: (v: number) => string; testId?: string }) {
  const W = 600;
  const H = 180;
  const P = 24;
  const max = Math.max(0, ...points.map((p) => p.y ?? 0));
  const top = max > 0 ? max : 1;
  const bw = points.length ? (W - 2 * P) / points.length : 0;
  return (
    <svg className="barchart" viewBox={`0 0 ${W} ${H}`} role="img" data-testid={testId} aria-label={`${label}: ${points.map((p) => `${p.x} ${p.y === null ? '—' : format(p.y)}`).join(', ')}`}>
      <line x1={P} x2={W - P} y1={H - P} y2={H - P} stroke="#8a96a3" />
      {points.map((p, i) => {
        const h = p.y === null ? 0 : ((H - 2 * P) * Math.max(0, p.y)) / top;
        return (
          <g key={p.x}>
            {p.y !== null && <rect x={P + i * bw + bw * 0.1} y={H - P - h} width={bw * 0.8} height={h} fill="#0b5cad" />}
            {(points.length <= 12 || i % Math.ceil(points.length / 12) === 0) && (
              <text x={P + i * bw + bw / 2} y={H - 8} textAnchor="middle" fontSize="10" fill="#3c4653">
                {p.x}
              </text>
            )}
          </g>
        );
      })}
      <text x={P} y={14} fontSize="10" fill="#3c4653">
        {format(max)}
      </text>
    </svg>
  );
}
