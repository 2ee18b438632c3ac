import { describe, expect, it } from 'vitest';
import { horizonParam, horizonSpan, ofHorizon, pickHorizon, servedHorizons } from './horizon';

describe('horizon', () => {
  it('serves the union of tenant and platform horizons, ascending', () => {
    expect(servedHorizons({ active: [{ horizon: 24, version: 3 }], platform_active: [{ horizon: 4, version: 1 }, { horizon: 1, version: 2 }, { horizon: 24, version: 1 }] })).toEqual([1, 4, 24]);
    expect(servedHorizons({ active: [], platform_active: [] })).toEqual([]);
    expect(servedHorizons({})).toEqual([]);
  });

  it('picks the wanted horizon when served, else 1, else the shortest', () => {
    expect(pickHorizon([1, 4, 24], 24)).toBe(24);
    expect(pickHorizon([1, 4, 24], 12)).toBe(1);
    expect(pickHorizon([1, 24], null)).toBe(1);
    expect(pickHorizon([4, 24], 1)).toBe(4);
    expect(pickHorizon([], 24)).toBe(1);
  });

  it('asks for the default horizon without the parameter', () => {
    expect(horizonParam(1)).toEqual({});
    expect(horizonParam(24)).toEqual({ horizon: 24 });
  });

  it('keeps one model line', () => {
    const s = [{ id: 'a', horizon: 1 }, { id: 'b', horizon: 24 }, { id: 'c' }];
    expect(ofHorizon(s, 24).map((x) => x.id)).toEqual(['b']);
    expect(ofHorizon(s, 1).map((x) => x.id)).toEqual(['a', 'c']);
  });

  it('says the time a horizon spans on the timeframe', () => {
    expect(horizonSpan(4, 'H1', 'en')).toBe('4 hours');
    expect(horizonSpan(1, 'H1', 'en')).toBe('1 hour');
    expect(horizonSpan(24, 'H1', 'en')).toBe('24 hours');
    expect(horizonSpan(48, 'H1', 'en')).toBe('2 days');
    expect(horizonSpan(4, 'M15', 'en')).toBe('1 hour');
    expect(horizonSpan(24, 'M5', 'en')).toBe('2 hours');
    expect(horizonSpan(4, 'M5', 'en')).toBe('20 minutes');
    expect(horizonSpan(1, 'D1', 'en')).toBe('1 day');
    expect(horizonSpan(4, 'H4', 'en')).toBe('16 hours');
    expect(horizonSpan(4, 'H1', 'id')).toBe('4 jam');
    expect(horizonSpan(48, 'H1', 'id')).toBe('2 hari');
  });
});
