// Horizons as a product (docs/models.md): a series serves one active model per horizon (bars
// ahead). The pure rules the signals and track record pages share: which horizons a series
// serves, which one to show, the query parameter that asks for it, and the time span it covers.
import type { Lang } from './format';
import { timeframeSeconds } from './format';

export const DEFAULT_HORIZON = 1;

export interface ActiveHorizon {
  horizon: number;
  version: number;
}

// The horizons served for a series: the union of the tenant's active models and the platform's
// (GET /api/v1/models: `active`, `platform_active`), ascending. An older server without these
// lists serves the default horizon only.
export function servedHorizons(models: { active?: ActiveHorizon[] | null; platform_active?: ActiveHorizon[] | null }): number[] {
  const all = [...(models.active ?? []), ...(models.platform_active ?? [])].map((a) => a.horizon).filter((h) => Number.isInteger(h) && h >= 1);
  return [...new Set(all)].sort((a, b) => a - b);
}

// The horizon to show: the one asked for when the series serves it, else the default (1) when
// served, else the shortest served; the default when nothing is served (the API's 404/422 then
// says why).
export function pickHorizon(served: number[], wanted: number | null | undefined): number {
  if (wanted != null && served.includes(wanted)) return wanted;
  if (served.length === 0 || served.includes(DEFAULT_HORIZON)) return DEFAULT_HORIZON;
  return served[0];
}

// The `horizon` query parameter: left out for the default, which every server answers the same
// way (and a server older than horizons accepts).
export function horizonParam(h: number): { horizon?: number } {
  return h === DEFAULT_HORIZON ? {} : { horizon: h };
}

// Signals of one model line only (a list may hold several horizons).
export function ofHorizon<T extends { horizon?: number }>(signals: T[], h: number): T[] {
  return signals.filter((s) => (s.horizon ?? DEFAULT_HORIZON) === h);
}

// The time `bars` bars of `timeframe` span, in the largest whole unit: "4 hours" for 4 H1 bars,
// "1 day" for 1 D1 bar, "2 days" for 48 H1 bars, "1 hour" for 4 M15 bars, "24 hours" for 24 H1
// bars (a day is named in days only from two of them, or on a daily timeframe). Localised by
// Intl's unit names ("4 jam", "2 hari" in Bahasa Indonesia).
export function horizonSpan(bars: number, timeframe: string, lang: Lang): string {
  const seconds = bars * timeframeSeconds(timeframe);
  const daily = /^D|d$/.test(timeframe);
  const [n, unit] =
    seconds % 86400 === 0 && (seconds >= 2 * 86400 || daily)
      ? [seconds / 86400, 'day']
      : seconds % 3600 === 0
        ? [seconds / 3600, 'hour']
        : [Math.round(seconds / 60), 'minute'];
  return new Intl.NumberFormat(lang === 'id' ? 'id-ID' : 'en-US', { style: 'unit', unit, unitDisplay: 'long' }).format(n);
}

// The horizon remembered for this browser session (sessionStorage: a new tab starts at the default).
const KEY = 'sinyal.horizon';

export function rememberedHorizon(): number | null {
  try {
    const v = Number(sessionStorage.getItem(KEY));
    return Number.isInteger(v) && v >= 1 ? v : null;
  } catch {
    return null;
  }
}

export function rememberHorizon(h: number): void {
  try {
    sessionStorage.setItem(KEY, String(h));
  } catch {
    // storage unavailable (private mode): the choice lasts for the page only
  }
}
