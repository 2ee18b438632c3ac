// Models: train a model of your own on a series (a background job with progress), its versions,
// activate or roll back, and each version's walk-forward report with its reliability chart.
import { useEffect, useState } from 'react';
import { api, ApiError, getSession, qs } from '../api';
import { formatDate, formatPercent, formatTime } from '../format';
import { useI18n } from '../i18n';
import { DataTable } from '../components/DataTable';
import { Card, ErrorState, FormError, Loading, useAsync, useForm, View } from '../components/ui';
import { useChosenSeries } from '../components/series';
import type { Job, ModelsAnswer, ModelVersion, SeriesItem } from '../types';

export function Models() {
  const { t } = useI18n();
  const { series, picker, state } = useChosenSeries();
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('models.title')}</h1>
      {state}
      {series && (
        <>
          {picker}
          <SeriesModels series={series} />
        </>
      )}
    </div>
  );
}

function useJob(id: number | null, onDone: () => void) {
  const [job, setJob] = useState<Job | null>(null);
  useEffect(() => {
    if (id === null) return;
    let stop = false;
    const poll = async () => {
      try {
        const j = await api<Job>(`/api/v1/jobs/${id}`);
        if (stop) return;
        setJob(j);
        if (j.status === 'succeeded' || j.status === 'failed') onDone();
        else setTimeout(poll, 1000);
      } catch {
        if (!stop) setTimeout(poll, 3000);
      }
    };
    poll();
    return () => {
      stop = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  return job;
}

function SeriesModels({ series }: { series: SeriesItem }) {
  const { t, lang, zone } = useI18n();
  const key = { symbol: series.symbol, timeframe: series.timeframe };
  const models = useAsync((signal) => api<ModelsAnswer>(`/api/v1/models${qs(key)}`, { signal }), [series.symbol, series.timeframe]);
  const [jobId, setJobId] = useState<number | null>(null);
  const job = useJob(jobId, models.reload);
  const [report, setReport] = useState<ModelVersion | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const train = useForm(
    () => ({}),
    () => api<{ job_id: number }>('/api/v1/models/train', { body: { ...key, activate: true } }),
    (r) => setJobId(r.job_id),
  );
  const act = async (path: string) => {
    setActionError(null);
    try {
      await api(path, { method: 'POST', body: {} });
      models.reload();
    } catch (e) {
      setActionError(e instanceof ApiError ? e.message : String(e));
    }
  };
  const base = `/api/v1/models/${encodeURIComponent(series.symbol)}/${encodeURIComponent(series.timeframe)}`;
  return (
    <>
      <Card title={t('models.train')}>
        <p>{t('models.train.desc')}</p>
        <form onSubmit={train.onSubmit} noValidate>
          <FormError message={train.formError} errors={train.errors} known={[]} />
          <button type="submit" className="btn btn-primary" disabled={train.busy || (job !== null && job.status !== 'succeeded' && job.status !== 'failed')}>
            {t('models.train.start')}
          </button>
        </form>
        {job && (
          <div className="job" role="status" aria-live="polite" data-testid="job">
            <span>
              {t('models.job')} #{job.id}: {job.status}
              {job.stage ? ` (${job.stage})` : ''}
            </span>
            <progress max={1} value={job.progress} aria-label={t('models.job')} />
            {job.error && <p className="error">{job.error.message}</p>}
          </div>
        )}
      </Card>
      <Card title={t('models.versions')}>
        {actionError && <ErrorState error={actionError} />}
        <View a={models}>
          {(m) => (
            <>
              <p>
                {t('models.serving')}: <strong>{m.serving === 'tenant' ? t('models.serving.tenant') : m.serving === 'platform' ? t('models.serving.platform') : t('models.serving.none')}</strong>
              </p>
              {m.versions.length === 0 && <p className="muted">{t('models.none')}</p>}
              <DataTable
                rows={[...(m.platform_default ? [m.platform_default] : []), ...m.versions]}
                caption={t('models.versions')}
                rowKey={(v) => `${v.owner}${v.version}`}
                columns={[
                  {
                    id: 'version',
                    header: 'track.version',
                    cell: (v) => (
                      <>
                        {v.owner === 'platform' ? `${t('models.platform')} v${v.version}` : `v${v.version}`}
                        {v.active && v.owner === 'tenant' && <span className="badge">{t('models.active')}</span>}
                      </>
                    ),
                  },
                  { id: 'horizon', header: 'models.horizon', cell: (v) => t(v.horizon === 1 ? 'signal.horizon.bar' : 'signal.horizon.bars', { n: v.horizon }) },
                  { id: 'data', header: 'models.data', cell: (v) => `${formatDate(v.data_from, lang, zone)} – ${formatDate(v.data_to, lang, zone)}` },
                  { id: 'created', header: 'models.created', cell: (v) => formatTime(v.created_at, lang, zone) },
                  {
                    id: 'actions',
                    header: 'models.report',
                    headerHidden: true,
                    className: 'actions',
                    cell: (v) => (
                      <>
                        <button type="button" className="btn btn-small" onClick={() => setReport(v)}>
                          {t('models.report')}
                        </button>
                        {v.owner === 'tenant' && !v.active && (
                          <button type="button" className="btn btn-small" onClick={() => act(`${base}/versions/${v.version}/activate`)}>
                            {t('models.activate')}
                          </button>
                        )}
                      </>
                    ),
                  },
                ]}
              />
              {m.versions.length > 1 && (
                <button type="button" className="btn" onClick={() => act(`${base}/rollback`)}>
                  {t('models.rollback')}
                </button>
              )}
            </>
          )}
        </View>
      </Card>
      {report && <Report series={series} version={report} />}
    </>
  );
}

// The report's SVG figures, fetched with the session's token (an <img> cannot send it).
function useSvg(url: string) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    let stop = false;
    fetch(url, { headers: { Authorization: `Bearer ${getSession()?.access_token ?? ''}` } })
      .then((r) => (r.ok ? r.blob() : null))
      .then((b) => {
        if (b && !stop) {
          objectUrl = URL.createObjectURL(b);
          setSrc(objectUrl);
        }
      })
      .catch(() => {});
    return () => {
      stop = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url]);
  return src;
}

function Report({ series, version }: { series: SeriesItem; version: ModelVersion }) {
  const { t, lang } = useI18n();
  const owner = version.owner === 'platform' ? '?owner=platform' : '';
  const base = `/api/v1/models/${encodeURIComponent(series.symbol)}/${encodeURIComponent(series.timeframe)}/versions/${version.version}/report`;
  const report = useAsync((signal) => api<Record<string, unknown>>(`${base}${owner}`, { signal }), [base, owner]);
  const reliability = useSvg(`${base}/reliability.svg${owner}`);
  const coverage = useSvg(`${base}/coverage.svg${owner}`);
  const wf = (report.data?.walk_forward ?? (report.data?.metrics as Record<string, unknown> | undefined)?.walk_forward) as Record<string, unknown> | undefined;
  return (
    <Card title={`${t('models.report')}: ${version.owner === 'platform' ? t('models.platform') : ''} v${version.version}`}>
      {report.error ? (
        <ErrorState error={report.error} retry={report.reload} />
      ) : !report.data ? (
        <Loading />
      ) : (
        <>
          {wf && typeof wf.accuracy === 'number' && (
            <p>
              {t('track.hitrate')}: {formatPercent(wf.accuracy as number, lang)}
            </p>
          )}
          <div className="figures">
            {reliability && (
              <figure>
                <img src={reliability} alt={t('models.reliability')} width="420" />
                <figcaption>{t('models.reliability')}</figcaption>
              </figure>
            )}
            {coverage && (
              <figure>
                <img src={coverage} alt={t('models.coverage')} width="420" />
                <figcaption>{t('models.coverage')}</figcaption>
              </figure>
            )}
          </div>
          <details>
            <summary>JSON</summary>
            <pre className="json">{JSON.stringify(report.data, null, 2)}</pre>
          </details>
        </>
      )}
    </Card>
  );
}
