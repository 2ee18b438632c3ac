// Numbers, money, prices and times as a trader reads them: rupiah without sen, prices with the
// instrument's digits, times in the user's zone (WIB, Asia/Jakarta, by default in Bahasa Indonesia).

export type Lang = 'en' | 'id';

const locale = (lang: Lang) => (lang === 'id' ? 'id-ID' : 'en-US');

// 150000 -> "Rp 150.000" (id) / "IDR 150,000" (en). Whole rupiah: IDR has no minor unit in use.
export function formatRupiah(amount: number, lang: Lang): string {
  const n = new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 0 }).format(Math.round(amount));
  return lang === 'id' ? `Rp ${n}` : `IDR ${n}`;
}

export function formatNumber(n: number, lang: Lang, fractionDigits = 0): string {
  return new Intl.NumberFormat(locale(lang), {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  }).format(n);
}

export function formatPercent(p: number, lang: Lang, fractionDigits = 1): string {
  return new Intl.NumberFormat(locale(lang), {
    style: 'percent',
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  }).format(p);
}

// A price with exactly `digits` decimals, grouped (1.08345, 151.234, 2,034.56).
export function formatPrice(price: number, digits: number, lang: Lang): string {
  return formatNumber(price, lang, digits);
}

// The number of decimals an instrument quotes, read off its prices (the most decimals any of them
// needs, up to 6): 5 for EURUSD, 3 for USDJPY, 2 for XAUUSD.
export function digitsOf(prices: number[]): number {
  let digits = 0;
  for (const p of prices) {
    for (let d = digits; d <= 6; d++) {
      const scaled = p * 10 ** d;
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, Math.abs(scaled))) {
        digits = Math.max(digits, d);
        break;
      }
      if (d === 6) digits = 6;
    }
  }
  return digits;
}

export const DEFAULT_ZONE: Record<Lang, string> = { id: 'Asia/Jakarta', en: 'UTC' };

// "04 Des 2026 10.00 WIB" / "Dec 04, 2026, 10:00 UTC".
export function formatTime(iso: string | number, lang: Lang, zone: string): string {
  const d = typeof iso === 'number' ? new Date(iso) : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(lang), {
    timeZone: zone,
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZoneName: 'short',
  }).format(d);
}

export function formatDate(iso: string, lang: Lang, zone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(lang), { timeZone: zone, year: 'numeric', month: 'short', day: '2-digit' }).format(d);
}

// Offset of `zone` from UTC at instant `ms`, in seconds (Asia/Jakarta: +25200). The chart library
// draws UTC only, so chart times are shifted by this (lightweight-charts docs, time zones).
export function zoneOffsetSeconds(zone: string, ms: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 1000);
}

// Seconds per bar of a timeframe name (H1, 1h, D1 ...).
export function timeframeSeconds(tf: string): number {
  const m = /^([MHD])(\d+)$/i.exec(tf) ?? /^(\d+)([mhd])$/i.exec(tf);
  if (!m) return 3600;
  const [unit, n] = /^\d/.test(m[1]) ? [m[2], Number(m[1])] : [m[1], Number(m[2])];
  const u = unit.toUpperCase();
  return n * (u === 'M' ? 60 : u === 'H' ? 3600 : 86400);
}
