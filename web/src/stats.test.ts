import { describe, expect, it } from 'vitest';
import { reliabilityBins, scoreBy, wilson } from './stats';
import type { Signal } from './types';

const sig = (p: number, up: boolean, prediction: Signal['prediction'] = p >= 0.5 ? 'bullish' : 'bearish'): Signal => ({
  id: Math.random().toString(36),
  symbol: 'EURUSD',
  timeframe: 'H1',
  horizon: 1,
  bar_time: '2023-01-01T00:00:00Z',
  timestamp: '2023-01-01T01:00:00Z',
  reference_price: 1.1,
  prediction,
  abstained: prediction === 'neutral',
  p_up: p,
  model_version: 'platform/EURUSD/H1/v1',
  resolved: true,
  resolution: { hit: prediction === 'neutral' ? null : (prediction === 'bullish') === up, up, realized_return: 0, exit_price: 1.1 },
});

describe('stats', () => {
  it('gives the Wilson interval of a proportion', () => {
    const [lo, hi] = wilson(50, 100)!;
    expect(lo).toBeCloseTo(0.4038, 3);
    expect(hi).toBeCloseTo(0.5962, 3);
    expect(wilson(0, 0)).toBeNull();
  });

  it('bins predicted probabilities against observed frequency', () => {
    const bins = reliabilityBins([sig(0.62, true), sig(0.64, false), sig(0.61, true), sig(0.31, false)]);
    expect(bins).toHaveLength(2);
    expect(bins[0].n).toBe(1);
    expect(bins[0].observed).toBe(0);
    expect(bins[1].n).toBe(3);
    expect(bins[1].observed).toBeCloseTo(2 / 3);
    expect(bins[1].meanPredicted).toBeCloseTo((0.62 + 0.64 + 0.61) / 3);
  });

  it('scores hits only on directional signals, Brier on all', () => {
    const [s] = scoreBy([sig(0.7, true), sig(0.7, false), sig(0.55, true, 'neutral')], (x) => x.model_version!);
    expect(s.resolved).toBe(3);
    expect(s.directional).toBe(2);
    expect(s.hits).toBe(1);
    expect(s.hitRate).toBe(0.5);
    expect(s.brier).toBeCloseTo((0.09 + 0.49 + 0.2025) / 3);
  });
});
