// What a page shows when the caller's plan lacks its feature: the plan they are on, the cheapest
// plan that has the feature (both from /usage and /plans, the rule the server's 403 applies:
// billing/ Gate), and a link to compare plans. A 403 the server answers anyway (e.g. the plan
// changed meanwhile) is shown with its own words.
import { ApiError } from '../api';
import { useI18n, type Key } from '../i18n';
import { Link } from '../router';
import { cheapestWith, useMyPlan } from './plan';
import { ErrorState, Loading } from './ui';

export interface Gate {
  state: 'loading' | 'error' | 'allowed' | 'denied';
  notice: React.ReactNode; // loading / error / the upgrade notice; null when allowed
}

export function useGate(feature: string, label: Key): Gate {
  const mine = useMyPlan();
  if (mine.error && !mine.data) return { state: 'error', notice: <ErrorState error={mine.error} retry={mine.reload} /> };
  if (!mine.data) return { state: 'loading', notice: <Loading /> };
  const { usage, plan, plans } = mine.data;
  if (plan?.features.includes(feature)) return { state: 'allowed', notice: null };
  const need = cheapestWith(plans, feature);
  return {
    state: 'denied',
    notice: <UpgradeNotice label={label} plan={plan?.display_name ?? usage.plan} need={need?.display_name} />,
  };
}

export function UpgradeNotice({ label, plan, need, problem }: { label: Key; plan?: string; need?: string; problem?: ApiError }) {
  const { t } = useI18n();
  const text = plan === undefined ? t('upgrade.refused', { feature: t(label) }) : need ? t('upgrade.notice', { feature: t(label), plan, need }) : t('upgrade.none', { feature: t(label), plan });
  return (
    <div className="note upgrade" role="status" data-testid="upgrade-notice">
      <p>
        {text} <Link to="/billing">{t('overview.upgrade')}</Link>
      </p>
      {problem && (
        <p className="muted">
          {t('upgrade.server')} {problem.message}
        </p>
      )}
    </div>
  );
}

// A 403 from a gated call (the feature is named in the problem's field).
export function isGateRefusal(e: unknown, feature: string): e is ApiError {
  return e instanceof ApiError && e.status === 403 && e.field === feature;
}
