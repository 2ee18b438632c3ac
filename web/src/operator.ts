// Pure helpers of the operator pages: the subscription figures per month (billing/revenue.h,
// GET /api/v1/operator/analytics/subscriptions) and the drift state of a model read from its
// retraining audit records (GET /api/v1/operator/models/health, signals/retraining.h).

// One UTC calendar month of GET /api/v1/operator/analytics/subscriptions.
export interface SubscriptionMonth {
  month: string; // "2026-12"
  settled_idr: number;
  returned_idr: number;
  net_idr: number;
  mrr_idr: number;
  mrr_at: string;
  paying_tenants: number;
  arpu_idr: number;
  new_paying: number;
  cancellations: number;
  lapses: number;
  paying_at_start: number;
  churn_rate: number | null; // null: no paying tenant at the month's start
}

export interface SubscriptionRevenue {
  currency: string;
  months: SubscriptionMonth[];
  totals: { settled_idr: number; returned_idr: number; net_idr: number; new_paying: number; cancellations: number; lapses: number };
  reconciliation: {
    payments_idr: number;
    accounts_cash_idr: number;
    earned_idr: number;
    credit_balance_idr: number;
    credit_held_idr: number;
    written_off_idr: number;
    difference_idr: number;
    ok: boolean;
  };
}

// Months with anything to show: a paying tenant (at the start or the end), cash, or an ending.
export function activeMonths(months: SubscriptionMonth[]): SubscriptionMonth[] {
  return months.filter((m) => m.paying_tenants > 0 || m.paying_at_start > 0 || m.settled_idr !== 0 || m.returned_idr !== 0 || m.cancellations + m.lapses > 0);
}

// The months from the first active one on (the range starts a year back; the empty months
// before the first paid subscription say nothing).
export function fromFirstActive(months: SubscriptionMonth[]): SubscriptionMonth[] {
  const first = months.findIndex((m) => activeMonths([m]).length > 0);
  return first < 0 ? [] : months.slice(first);
}

export interface AuditRecord {
  seq: number;
  time: string;
  action: string;
  decision: boolean;
  reasons: string[];
  figures?: Record<string, number>;
  champion_version?: number;
  challenger_version?: number;
}

// The state of a model at its newest drift check (action "drift_check"): "alarm" when a feature
// drifted (reasons "feature drift: ..."), "performance" when the live performance fell below
// validation (reasons "performance: ..."), "retrain" when retraining was triggered for another
// reason (the schedule), "ok" when nothing triggered, "never" without a drift check among the
// records.
export type DriftKind = 'alarm' | 'performance' | 'retrain' | 'ok' | 'never';
export interface DriftState {
  kind: DriftKind;
  time?: string;
  reasons: string[];
}

export function driftState(records: AuditRecord[] | undefined): DriftState {
  const checks = (records ?? []).filter((r) => r.action === 'drift_check');
  if (checks.length === 0) return { kind: 'never', reasons: [] };
  const last = checks.reduce((a, b) => (b.seq > a.seq ? b : a));
  const drift = last.reasons.filter((r) => r.startsWith('feature drift'));
  const perf = last.reasons.filter((r) => r.startsWith('performance:'));
  if (drift.length > 0) return { kind: 'alarm', time: last.time, reasons: [...drift, ...perf] };
  if (perf.length > 0) return { kind: 'performance', time: last.time, reasons: perf };
  if (last.decision) return { kind: 'retrain', time: last.time, reasons: last.reasons };
  return { kind: 'ok', time: last.time, reasons: [] };
}
