// Shared pieces: form fields that show the server's problem+json at the field, and the loading /
// empty / error states every data view has.
import { useCallback, useEffect, useId, useRef, useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from 'react';
import { ApiError } from '../api';
import { useI18n } from '../i18n';

export type FieldErrors = Record<string, string>;

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  label: string;
  name: string;
  error?: string;
  hint?: string;
}

export function Field({ label, name, error, hint, ...input }: FieldProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = error ? `${id}-err` : undefined;
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        aria-invalid={error ? true : undefined}
        aria-describedby={[hintId, errId].filter(Boolean).join(' ') || undefined}
        {...input}
      />
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      {error && (
        <p className="error" id={errId} role="alert" data-field={name}>
          {error}
        </p>
      )}
    </div>
  );
}

interface SelectProps {
  label: string;
  name: string;
  value: string;
  options: Array<{ value: string; label: string }>;
  onChange: (v: string) => void;
  error?: string;
}

export function Select({ label, name, value, options, onChange, error }: SelectProps) {
  const id = useId();
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {error && (
        <p className="error" role="alert" data-field={name}>
          {error}
        </p>
      )}
    </div>
  );
}

// Runs a form submission: client-side checks first, then the request; a problem+json answer is
// shown at its field (field names as the API reports them, e.g. "email", "name"), else above
// the form.
export function useForm<T>(validate: () => FieldErrors, submit: () => Promise<T>, onDone?: (r: T) => void) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    // After React has rendered the errors (aria-invalid), focus the first invalid input.
    const focusLater = () => requestAnimationFrame(() => focusFirstInvalid(form));
    const local = validate();
    setErrors(local);
    setFormError(null);
    if (Object.keys(local).length > 0) {
      focusLater();
      return;
    }
    setBusy(true);
    try {
      const r = await submit();
      onDone?.(r);
    } catch (err) {
      if (err instanceof ApiError && err.field) {
        setErrors({ [err.field]: err.message });
        focusLater();
      } else {
        setFormError(err instanceof Error ? err.message : String(err));
      }
    } finally {
      setBusy(false);
    }
  };
  // A field error the form has no input for is shown above the form.
  return { errors, formError, busy, onSubmit, setErrors, setFormError };
}

function focusFirstInvalid(form: HTMLFormElement | null) {
  const el = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
  el?.focus();
}

export function FormError({ message, errors, known }: { message: string | null; errors?: FieldErrors; known?: string[] }) {
  const stray = errors && known ? Object.entries(errors).filter(([k]) => !known.includes(k)) : [];
  if (!message && stray.length === 0) return null;
  return (
    <div className="alert alert-error" role="alert">
      {message}
      {stray.map(([k, v]) => (
        <div key={k}>
          <code>{k}</code>: {v}
        </div>
      ))}
    </div>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {t('common.loading')}
    </p>
  );
}

export function Empty({ children }: { children?: ReactNode }) {
  const { t } = useI18n();
  return <p className="state state-empty">{children ?? t('common.none')}</p>;
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const { t } = useI18n();
  const msg = error instanceof Error ? error.message : String(error);
  return (
    <div className="state state-error alert alert-error" role="alert">
      <strong>{t('common.error')}:</strong> {msg}
      {retry && (
        <button type="button" className="btn btn-small" onClick={retry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

// Loads data when `deps` change; stale answers are dropped.
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    loadRef
      .current(ctl.signal)
      .then((data) => !ctl.signal.aborted && setState({ data, loading: false }))
      .catch((error) => !ctl.signal.aborted && setState({ error, loading: false }));
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

// Renders loading / error / empty / data for an Async.
export function View<T>({ a, empty, children }: { a: Async<T>; empty?: (d: T) => boolean; children: (d: T) => ReactNode }) {
  if (a.error && !a.data) return <ErrorState error={a.error} retry={a.reload} />;
  if (a.data === undefined) return <Loading />;
  if (empty?.(a.data)) return <Empty />;
  return <>{children(a.data)}</>;
}

export function Card({ title, children, actions, className }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string }) {
  const id = useId();
  return (
    <section className={`card ${className ?? ''}`} aria-labelledby={title ? id : undefined}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2 id={id}>{title}</h2>}
          {actions}
        </header>
      )}
      {children}
    </section>
  );
}

export function Stat({ label, value, sub }: { label: string; value: ReactNode; sub?: ReactNode }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub && <div className="stat-sub">{sub}</div>}
    </div>
  );
}
