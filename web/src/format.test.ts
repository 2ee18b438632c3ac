import { describe, expect, it } from 'vitest';
import { digitsOf, formatPrice, formatRupiah, formatTime, timeframeSeconds, zoneOffsetSeconds } from './format';

describe('format', () => {
  it('formats rupiah without sen, grouped by locale', () => {
    expect(formatRupiah(149000, 'id')).toBe('Rp 149.000');
    expect(formatRupiah(1490000.4, 'en')).toBe('IDR 1,490,000');
    expect(formatRupiah(0, 'id')).toBe('Rp 0');
  });

  it('reads an instrument digits from its quotes', () => {
    expect(digitsOf([1.08345, 1.0835, 1.1])).toBe(5);
    expect(digitsOf([151.234, 151.2])).toBe(3);
    expect(digitsOf([2034.56, 2034.5])).toBe(2);
    expect(digitsOf([0.1 + 0.2])).toBe(1); // float noise is not a digit
  });

  it('prints prices with exactly the instrument digits', () => {
    expect(formatPrice(1.1, 5, 'en')).toBe('1.10000');
    expect(formatPrice(2034.5, 2, 'id')).toBe('2.034,50');
  });

  it('shows times in WIB by default for Bahasa Indonesia', () => {
    const s = formatTime('2026-12-04T03:00:00Z', 'id', 'Asia/Jakarta');
    expect(s).toContain('10.00');
    expect(s).toContain('WIB');
    expect(zoneOffsetSeconds('Asia/Jakarta', Date.UTC(2026, 0, 1))).toBe(7 * 3600);
    expect(zoneOffsetSeconds('UTC', Date.UTC(2026, 0, 1))).toBe(0);
    expect(zoneOffsetSeconds('America/New_York', Date.UTC(2026, 6, 1))).toBe(-4 * 3600);
  });

  it('knows timeframe lengths in both spellings', () => {
    expect(timeframeSeconds('H1')).toBe(3600);
    expect(timeframeSeconds('4h')).toBe(14400);
    expect(timeframeSeconds('D1')).toBe(86400);
    expect(timeframeSeconds('M15')).toBe(900);
  });
});
