// Shapes of the API answers the dashboard reads (src/http/openapi.json has the full schemas).

export interface Plan {
  name: string;
  display_name: string;
  price_idr: number;
  yearly_price_idr?: number;
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
  horizon?: number;
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
  horizon?: number;
  active_version: number | null;
  // The active version of every horizon (horizons as a product): the tenant's own and the platform's.
  active?: Array<{ horizon: number; version: number }>;
  platform_active?: Array<{ horizon: number; version: number }>;
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

// Telegram (docs/api.md "Telegram").
export interface TelegramLinkToken {
  token: string;
  deep_link: string;
  kind: 'private' | 'group';
  expires_at: string;
  bot_username: string;
}

export interface TelegramGroup {
  chat_id: number;
  title: string;
  lang: string;
  muted: boolean;
  blocked: boolean;
  linked_by: number;
  linked_at: string;
}

export interface TelegramLink {
  linked: boolean;
  telegram_user_id?: number;
  username?: string;
  lang?: string;
  muted?: boolean;
  blocked?: boolean;
  linked_at?: string;
  groups: TelegramGroup[];
}

export interface TelegramAlert {
  id: number;
  chat_id: number;
  chat: 'private' | 'group';
  symbol: string;
  timeframe: string;
  min_confidence: number;
  direction: 'any' | 'bullish' | 'bearish';
  muted: boolean;
  created_by: number;
  created_at: string;
}

// Backtests and paper accounts (docs/backtests.md, docs/paper-trading.md; OpenAPI Strategy,
// Backtest, PaperAccount, Position, Order, Fill, Trade, PaperEvent).
export interface Strategy {
  name?: string;
  symbols: string[];
  timeframe?: string;
  period?: { from?: string; to?: string };
  initial_balance?: number;
  currency?: string;
  signal?: { threshold?: number; allow_short?: boolean; close_on_neutral?: boolean; hold_bars?: number };
  sizing?: { mode?: 'fixed' | 'risk' | 'kelly'; lots?: number; risk_fraction?: number; kelly_fraction?: number; max_risk_fraction?: number };
  stops?: { mode?: 'none' | 'points' | 'atr'; stop_loss?: number; take_profit?: number; trailing?: number; atr_period?: number };
  costs?: { spread_points?: number; use_bar_spread?: boolean; slippage_points?: number; commission_per_lot?: number };
  model?: { horizon?: number; retrain_every_bars?: number; train_window_bars?: number; min_train_bars?: number; config?: Record<string, unknown> };
  [k: string]: unknown;
}

export interface Curve {
  time: string[];
  equity: number[];
  drawdown: number[];
  points?: number;
}

// metrics.h; every field may be absent (e.g. no trades: no win rate).
export interface Metrics {
  total_return?: number;
  annual_return?: number;
  sharpe?: number;
  sortino?: number;
  max_drawdown?: number;
  win_rate?: number;
  profit_factor?: number;
  trades?: number;
  [k: string]: unknown;
}

export interface Run {
  name?: string;
  metrics: Metrics;
  entries?: number;
  curve?: Curve;
}

export interface Trade {
  id: number;
  symbol: string;
  side: 'long' | 'short';
  quantity: number;
  entry_time: string;
  exit_time: string;
  entry_price: number;
  exit_price: number;
  gross_pnl?: number;
  commission?: number;
  swap?: number;
  net_pnl: number;
  r_multiple?: number;
  bars_held?: number;
  exit_reason?: string;
}

export interface BacktestResult {
  from?: string;
  to?: string;
  bars?: number;
  seconds?: number;
  definitions?: Record<string, string>;
  strategy: Run;
  trades: Trade[];
  trades_total?: number;
  baselines?: {
    buy_and_hold?: Run;
    reverse_last_move?: Run;
    random_entry?: {
      seeds?: number;
      entries_per_run?: number;
      median_return?: number;
      p05_return?: number;
      p95_return?: number;
      median_sharpe?: number;
      strategy_return_rank?: number;
      median_run?: Run;
    };
  };
  signal_source?: Record<string, unknown> | null;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Backtest {
  id: number;
  status: JobStatus;
  progress: number;
  stage?: string;
  cancel_requested?: boolean;
  strategy: Strategy;
  created_at: string;
  finished_at?: string | null;
  error?: { code?: string; message?: string; field?: string } | null;
  result?: BacktestResult;
}

export interface Position {
  symbol: string;
  side: 'long' | 'short';
  quantity: number;
  avg_price: number;
  opened_at?: string | null;
  mark_price?: number;
  unrealized_pnl?: number;
  bars_held?: number;
}

export interface Order {
  id: number;
  symbol: string;
  side: 'buy' | 'sell';
  type: 'market' | 'limit' | 'stop';
  quantity: number;
  price?: number;
  stop_price?: number;
  time_in_force?: string;
  role?: string;
  status: 'working' | 'filled' | 'cancelled' | 'expired' | 'rejected';
  created_at?: string | null;
  fill_price?: number;
  reason?: string;
}

export interface Fill {
  id: number;
  order_id: number;
  symbol: string;
  side: string;
  role?: string;
  quantity: number;
  price: number;
  commission?: number;
  realized_pnl?: number;
  time: string;
}

export interface PaperEvent {
  seq: number;
  type: string;
  time: string;
  order?: Order;
  fill?: Fill;
  risk?: Record<string, unknown>;
}

export interface PaperAccount {
  id: number;
  name: string;
  status: 'active' | 'closed';
  currency: string;
  initial_balance: number;
  balance: number;
  equity: number;
  return: number;
  trading_state: 'active' | 'reducing' | 'halted';
  risk_reason?: string;
  last_bar_time?: string | null;
  strategy: Strategy;
  last_event_seq?: number;
  created_at: string;
  positions?: Position[];
}

// Self-service subscription (docs/payments.md).
export interface Gateway {
  name?: string;
  simulated?: boolean;
  note?: string;
}

export interface TermInvoice {
  id: number;
  number?: string;
  kind: 'new' | 'upgrade' | 'renewal';
  plan: string;
  period: 'month' | 'year';
  status: 'open' | 'paid' | 'void' | 'revoked';
  lines?: { subtotal_idr: number; proration_credit_idr: number; credit_applied_idr: number; total_idr: number };
  total_idr: number;
  created_at?: string | null;
  paid_at?: string | null;
  due_at?: string | null;
  term?: { start: string; end: string } | null;
}

export interface BillingSubscription {
  plan: string;
  status: 'free' | 'active' | 'past_due';
  period: 'month' | 'year' | null;
  term: { start: string; end: string; invoice?: number } | null;
  grace_until: string | null;
  cancel_at_period_end: boolean;
  scheduled_change: { plan: string; period?: string; effective_at: string } | null;
  credit_balance_idr: number;
  open_invoice: TermInvoice | null;
  gateway?: Gateway;
}

export interface PaymentOrder {
  id: string;
  invoice: number;
  gross_amount: number;
  status: string;
  payment_type?: string | null;
  gateway?: string;
  simulated?: boolean;
  payment?: { token: string; redirect_url: string } | null;
  created_at?: string;
  paid_at?: string | null;
}

export type CheckoutAnswer =
  | { kind: 'payment_required'; invoice: TermInvoice; order: PaymentOrder; token?: string; redirect_url?: string; gateway?: Gateway }
  | { kind: 'paid_by_credit' | 'resumed'; invoice?: TermInvoice }
  | { kind: 'scheduled'; effective_at: string };
