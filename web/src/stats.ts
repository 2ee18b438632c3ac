// Scoring of resolved signals for the track record: hit rate with its Wilson 95% interval, Brier
// score, and reliability bins (predicted P(up) against the observed frequency of "up").
import type { Signal } from './types';

export function wilson(hits: number, n: number, z = 1.959964): [number, number] | null {
  if (n === 0) return null;
  const p = hits / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export interface Bin {
  lo: number;
  hi: number;
  n: number;
  meanPredicted: number;
  observed: number;
  ci: [number, number] | null;
}

export function reliabilityBins(signals: Signal[], bins = 10): Bin[] {
  const acc = Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins, n: 0, sumP: 0, ups: 0 }));
  for (const s of signals) {
    if (!s.resolved || !s.resolution || s.p_up === undefined) continue;
    const i = Math.min(bins - 1, Math.max(0, Math.floor(s.p_up * bins)));
    acc[i].n++;
    acc[i].sumP += s.p_up;
    if (s.resolution.up) acc[i].ups++;
  }
  return acc
    .filter((b) => b.n > 0)
    .map((b) => ({ lo: b.lo, hi: b.hi, n: b.n, meanPredicted: b.sumP / b.n, observed: b.ups / b.n, ci: wilson(b.ups, b.n) }));
}

export interface Score {
  key: string;
  resolved: number;
  directional: number;
  hits: number;
  hitRate: number | null;
  ci: [number, number] | null;
  brier: number | null;
}

// Per model version: resolved signals, directional ones (not abstained) and their hits.
export function scoreBy(signals: Signal[], key: (s: Signal) => string): Score[] {
  const groups = new Map<string, Signal[]>();
  for (const s of signals) {
    if (!s.resolved || !s.resolution) continue;
    const k = key(s);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  return [...groups.entries()].map(([k, list]) => {
    const directional = list.filter((s) => s.prediction !== 'neutral' && s.resolution!.hit !== null);
    const hits = directional.filter((s) => s.resolution!.hit === true).length;
    const withP = list.filter((s) => s.p_up !== undefined);
    const brier = withP.length ? withP.reduce((a, s) => a + (s.p_up! - (s.resolution!.up ? 1 : 0)) ** 2, 0) / withP.length : null;
    return {
      key: k,
      resolved: list.length,
      directional: directional.length,
      hits,
      hitRate: directional.length ? hits / directional.length : null,
      ci: wilson(hits, directional.length),
      brier,
    };
  });
}
