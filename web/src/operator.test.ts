import { describe, expect, it } from 'vitest';
import { activeMonths, driftState, fromFirstActive, type AuditRecord, type SubscriptionMonth } from './operator';

const month = (m: string, over: Partial<SubscriptionMonth> = {}): SubscriptionMonth => ({
  month: m,
  settled_idr: 0,
  returned_idr: 0,
  net_idr: 0,
  mrr_idr: 0,
  mrr_at: `${m}-28T00:00:00Z`,
  paying_tenants: 0,
  arpu_idr: 0,
  new_paying: 0,
  cancellations: 0,
  lapses: 0,
  paying_at_start: 0,
  churn_rate: null,
  ...over,
});

describe('subscription months', () => {
  it('keeps the months from the first one with a paying tenant, cash or an ending', () => {
    const months = [month('2026-01'), month('2026-02', { settled_idr: 299000, paying_tenants: 1, mrr_idr: 299000 }), month('2026-03'), month('2026-04', { paying_at_start: 1, lapses: 1, churn_rate: 1 })];
    expect(fromFirstActive(months).map((m) => m.month)).toEqual(['2026-02', '2026-03', '2026-04']);
    expect(activeMonths(months).map((m) => m.month)).toEqual(['2026-02', '2026-04']);
    expect(fromFirstActive([month('2026-01'), month('2026-02')])).toEqual([]);
  });
});

const rec = (seq: number, action: string, decision: boolean, reasons: string[]): AuditRecord => ({ seq, time: `2026-12-0${seq}T00:00:00Z`, action, decision, reasons });

describe('driftState', () => {
  it('reads the newest drift check', () => {
    expect(driftState(undefined).kind).toBe('never');
    expect(driftState([rec(1, 'promoted', true, ['better'])]).kind).toBe('never');
    // Reasons as signals/drift.cc and signals/retraining.cc write them.
    const drift = rec(3, 'drift_check', true, ["feature drift: PSI of 'rsi_14' = 0.412 >= 0.25 (extreme)", 'performance: live Brier 0.2700 over 120 signals exceeds validation 0.2400 + 0.0200']);
    const ok = rec(2, 'drift_check', false, ['no trigger: feature PSI and live performance within limits']);
    const s = driftState([ok, drift]);
    expect(s.kind).toBe('alarm');
    expect(s.time).toBe('2026-12-03T00:00:00Z');
    expect(s.reasons).toHaveLength(2);
    expect(driftState([drift, rec(4, 'drift_check', false, ['no trigger: feature PSI and live performance within limits'])])).toEqual({ kind: 'ok', time: '2026-12-04T00:00:00Z', reasons: [] });
    expect(driftState([rec(5, 'drift_check', true, ['performance: live hit rate 0.480 over 90 calls is below validation 0.540 - 0.030'])]).kind).toBe('performance');
    expect(driftState([rec(6, 'drift_check', true, ['schedule: 170.0 h since the last training (every 168.0 h)'])]).kind).toBe('retrain');
  });
});
