import { api } from '../api';
import type { Plan, Usage } from '../types';
import { useAsync } from './ui';

export function usePlans() {
  return useAsync((signal) => api<{ items: Plan[] }>('/api/v1/plans', { auth: false, signal }).then((r) => r.items), []);
}

// The caller's usage this period and its plan's terms.
export function useMyPlan() {
  return useAsync(async (signal) => {
    const [usage, plans] = await Promise.all([
      api<Usage>('/api/v1/usage', { signal }),
      api<{ items: Plan[] }>('/api/v1/plans', { auth: false, signal }),
    ]);
    return { usage, plan: plans.items.find((p) => p.name === usage.plan) ?? null, plans: plans.items };
  }, []);
}

export function cheapestWith(plans: Plan[], ...features: string[]): Plan | undefined {
  return plans.filter((p) => features.every((f) => p.features.includes(f))).sort((a, b) => a.price_idr - b.price_idr)[0];
}
