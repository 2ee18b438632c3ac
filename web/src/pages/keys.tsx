// API keys: create (the secret is shown once, with a copy button), list, revoke.
import { useState } from 'react';
import { api } from '../api';
import { formatTime } from '../format';
import { useI18n } from '../i18n';
import { Card, Field, FormError, useAsync, useForm } from '../components/ui';
import { DataTable } from '../components/DataTable';
import type { ApiKey } from '../types';

const SCOPES = ['predict', 'read', 'admin'] as const;

export function Keys() {
  const { t, lang, zone } = useI18n();
  const keys = useAsync((signal) => api<{ items: ApiKey[] }>('/api/v1/api-keys', { signal }).then((r) => r.items), []);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['predict', 'read']);
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [copied, setCopied] = useState(false);
  const f = useForm(
    () => {
      const e: Record<string, string> = {};
      if (!name.trim()) e.name = t('common.required');
      if (scopes.length === 0) e.scopes = t('common.required');
      return e;
    },
    () => api<ApiKey>('/api/v1/api-keys', { body: { name: name.trim(), scopes } }),
    (k) => {
      setCreated(k);
      setCopied(false);
      setName('');
      keys.reload();
    },
  );
  const revoke = async (k: ApiKey) => {
    if (!confirm(t('keys.confirm', { name: k.name }))) return;
    try {
      await api(`/api/v1/api-keys/${k.id}`, { method: 'DELETE' });
    } catch (e) {
      f.setFormError(e instanceof Error ? e.message : String(e));
    }
    keys.reload();
  };
  const copy = async () => {
    if (!created?.key) return;
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      /* clipboard refused (no permission): the key stays selectable */
    }
  };
  return (
    <div className="page">
      <h1 tabIndex={-1}>{t('keys.title')}</h1>
      {created?.key && (
        <div className="alert alert-ok" role="status" data-testid="new-key">
          <p>{t('keys.secret')}</p>
          <p>
            <code className="secret" data-testid="secret">
              {created.key}
            </code>
          </p>
          <button type="button" className="btn" onClick={copy}>
            {copied ? t('keys.copied') : t('keys.copy')}
          </button>{' '}
          <button type="button" className="btn" onClick={() => setCreated(null)}>
            {t('keys.done')}
          </button>
        </div>
      )}
      <Card title={t('keys.create')}>
        <form onSubmit={f.onSubmit} noValidate className="inline-form">
          <FormError message={f.formError} errors={f.errors} known={['name', 'scopes']} />
          <Field label={t('keys.name')} name="name" value={name} onChange={(e) => setName(e.target.value)} error={f.errors.name} maxLength={100} />
          <fieldset className={`field${f.errors.scopes ? ' field-invalid' : ''}`}>
            <legend>{t('keys.scopes')}</legend>
            {SCOPES.map((s) => (
              <label key={s} className="check">
                <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} /> {s}
              </label>
            ))}
            {f.errors.scopes && (
              <p className="error" role="alert" data-field="scopes">
                {f.errors.scopes}
              </p>
            )}
          </fieldset>
          <button type="submit" className="btn btn-primary" disabled={f.busy}>
            {t('keys.create')}
          </button>
        </form>
      </Card>
      <Card title={t('keys.title')}>
        <DataTable
          a={keys}
          caption={t('keys.title')}
          testId="keys-table"
          rowKey={(k) => k.id}
          rowProps={(k) => ({ 'data-key-name': k.name })}
          columns={[
            { id: 'name', header: 'keys.name', cell: (k) => k.name, sortValue: (k) => k.name },
            { id: 'prefix', header: 'keys.prefix', cell: (k) => <code>{k.prefix}…</code> },
            { id: 'scopes', header: 'keys.scopes', cell: (k) => k.scopes.join(', ') },
            { id: 'created', header: 'keys.created', cell: (k) => formatTime(k.created_at, lang, zone), sortValue: (k) => k.created_at },
            { id: 'used', header: 'keys.lastused', cell: (k) => (k.last_used_at ? formatTime(k.last_used_at, lang, zone) : '—'), sortValue: (k) => k.last_used_at },
            {
              id: 'revoke',
              header: 'keys.revoke',
              headerHidden: true,
              cell: (k) =>
                k.revoked_at ? (
                  <span className="badge badge-muted">{t('keys.revoked')}</span>
                ) : (
                  <button type="button" className="btn btn-small btn-danger" onClick={() => revoke(k)} aria-label={`${t('keys.revoke')} ${k.name}`}>
                    {t('keys.revoke')}
                  </button>
                ),
            },
          ]}
        />
      </Card>
    </div>
  );
}
