// Shapes of the API answers the dashboard reads (src/http/openapi.json has the full schemas).

export interface Plan {
  name: string;
  display_name: string;
  price_idr: number;
  monthly_quota: number | null;
  unlimited: boolean;
  overage_allowed: boolean;
  overage_price_idr: number;
  rate_per_second: number;
  burst: number;
  data_delay_seconds: number;
  timeframes: string[];
  features: string[];
}

export interface Usage {
  plan: string;
  period: { index: number; start: string; end: string };
  quota: number | null;
  used: number;
  remaining: number | null;
  overage_units: number;
  cost_idr: number;
  calls: number;
  by_day: Array<{ day: string; units: number; calls?: number }>;
  by_endpoint: Array<{ endpoint: string; units: number; calls?: number }>;
}

export interface SeriesItem {
  symbol: string;
  timeframe: string;
  owner: 'platform' | 'tenant';
  source: string;
  last_bar_time: string | null;
}

export interface Bar {
  time: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface Regime {
  code: number;
  name: string;
  trend: string;
  volatility: string;
}

export interface Signal {
  id: string;
  symbol: string;
  timeframe: string;
  horizon: number;
  bar_time: string;
  timestamp: string;
  reference_price: number;
  prediction: 'bullish' | 'bearish' | 'neutral';
  abstained: boolean;
  abstain_reason?: string;
  p_up?: number;
  confidence?: number;
  confidence_threshold?: number;
  intervals?: Array<{ coverage: number; lo: number; hi: number }>;
  expected_return?: number;
  regime?: Regime;
  drivers?: Array<{ feature: string; value: number | null; contribution: number | null }>;
  model_version?: string;
  gated?: Record<string, string>;
  owner?: 'platform' | 'tenant';
  resolved?: boolean;
  resolution?: { hit: boolean | null; up: boolean; realized_return: number; exit_price: number } | null;
}

export interface Performance {
  symbol: string;
  timeframe: string;
  model_owner: string;
  model_version: string;
  live: {
    resolved: number;
    brier: number | null;
    log_loss: number | null;
    directional: number;
    hits: number;
    hit_rate: number | null;
    hit_rate_ci: [number | null, number | null] | null;
    interval_coverage: Array<{ nominal: number; empirical: number }>;
  };
  validation?: Record<string, unknown>;
}

export interface ApiKey {
  id: number;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  key?: string;
}

export interface ModelVersion {
  symbol: string;
  timeframe: string;
  version: number;
  owner: 'tenant' | 'platform';
  data_from: string;
  data_to: string;
  horizon: number;
  feature_set: string;
  features: number;
  created_at: string;
  active: boolean;
  metrics?: Record<string, unknown>;
}

export interface ModelsAnswer {
  symbol: string;
  timeframe: string;
  active_version: number | null;
  serving: 'tenant' | 'platform' | 'none';
  versions: ModelVersion[];
  platform_default: ModelVersion | null;
}

export interface Job {
  id: number;
  kind: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  progress: number;
  stage: string;
  result: Record<string, unknown> | null;
  error: { code?: string; message?: string; field?: string } | null;
}
