// Sign up (creates the organisation and its owner), sign in, operator sign-in.
import { useState } from 'react';
import { api, sessionFrom, setSession, type TokenAnswer } from '../api';
import { useI18n } from '../i18n';
import { Link, navigate } from '../router';
import { Field, FormError, useForm, type FieldErrors } from '../components/ui';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function useCredentials() {
  const { t } = useI18n();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const check = (minPassword: boolean): FieldErrors => {
    const e: FieldErrors = {};
    if (!EMAIL.test(email.trim())) e.email = t('auth.email.invalid');
    if (!password) e.password = t('common.required');
    else if (minPassword && password.length < 10) e.password = t('auth.password.short');
    return e;
  };
  return { email, setEmail, password, setPassword, check };
}

function AuthFrame({ title, children, footer }: { title: string; children: React.ReactNode; footer: React.ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="auth">
      <p className="tagline">{t('app.tagline')}</p>
      <div className="card auth-card">
        <h1 tabIndex={-1}>{title}</h1>
        {children}
      </div>
      <div className="auth-foot">{footer}</div>
    </div>
  );
}

export function SignIn() {
  const { t } = useI18n();
  const c = useCredentials();
  const f = useForm(
    () => c.check(false),
    () => api<TokenAnswer>('/api/v1/auth/login', { body: { email: c.email.trim(), password: c.password }, auth: false }),
    (tokens) => {
      setSession(sessionFrom('user', c.email.trim(), tokens));
      navigate('/', true);
    },
  );
  return (
    <AuthFrame
      title={t('auth.signin')}
      footer={
        <>
          <p>
            {t('auth.noaccount')} <Link to="/signup">{t('auth.signup')}</Link>
          </p>
          <p>
            <Link to="/operator/signin">{t('auth.operator')}</Link>
          </p>
        </>
      }
    >
      <form onSubmit={f.onSubmit} noValidate>
        <FormError message={f.formError} errors={f.errors} known={['email', 'password']} />
        <Field label={t('auth.email')} name="email" type="email" autoComplete="email" value={c.email} onChange={(e) => c.setEmail(e.target.value)} error={f.errors.email} required />
        <Field label={t('auth.password')} name="password" type="password" autoComplete="current-password" value={c.password} onChange={(e) => c.setPassword(e.target.value)} error={f.errors.password} required />
        <button className="btn btn-primary" type="submit" disabled={f.busy}>
          {t('auth.signin')}
        </button>
      </form>
    </AuthFrame>
  );
}

export function SignUp() {
  const { t } = useI18n();
  const c = useCredentials();
  const [tenant, setTenant] = useState('');
  const [name, setName] = useState('');
  const f = useForm(
    () => {
      const e = c.check(true);
      if (!tenant.trim()) e.tenant_name = t('common.required');
      return e;
    },
    () =>
      api<TokenAnswer>('/api/v1/auth/register', {
        body: { tenant_name: tenant.trim(), email: c.email.trim(), password: c.password, ...(name.trim() ? { display_name: name.trim() } : {}) },
        auth: false,
      }),
    (tokens) => {
      setSession(sessionFrom('user', c.email.trim(), tokens));
      navigate('/', true);
    },
  );
  return (
    <AuthFrame
      title={t('auth.signup')}
      footer={
        <p>
          {t('auth.haveaccount')} <Link to="/signin">{t('auth.signin')}</Link>
        </p>
      }
    >
      <form onSubmit={f.onSubmit} noValidate>
        <FormError message={f.formError} errors={f.errors} known={['tenant_name', 'display_name', 'email', 'password']} />
        <Field label={t('auth.tenant')} name="tenant_name" autoComplete="organization" value={tenant} onChange={(e) => setTenant(e.target.value)} error={f.errors.tenant_name} maxLength={100} required />
        <Field label={t('auth.name')} name="display_name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} error={f.errors.display_name} maxLength={100} />
        <Field label={t('auth.email')} name="email" type="email" autoComplete="email" value={c.email} onChange={(e) => c.setEmail(e.target.value)} error={f.errors.email} required />
        <Field label={t('auth.password')} name="password" type="password" autoComplete="new-password" hint={t('auth.password.hint')} value={c.password} onChange={(e) => c.setPassword(e.target.value)} error={f.errors.password} required />
        <button className="btn btn-primary" type="submit" disabled={f.busy}>
          {t('auth.signup')}
        </button>
      </form>
    </AuthFrame>
  );
}

export function OperatorSignIn() {
  const { t } = useI18n();
  const c = useCredentials();
  const f = useForm(
    () => c.check(false),
    () => api<TokenAnswer>('/api/v1/operator/login', { body: { email: c.email.trim(), password: c.password }, auth: false }),
    (tokens) => {
      setSession(sessionFrom('operator', c.email.trim(), tokens));
      navigate('/operator', true);
    },
  );
  return (
    <AuthFrame title={t('auth.operator.title')} footer={<Link to="/signin">{t('auth.signin')}</Link>}>
      <form onSubmit={f.onSubmit} noValidate>
        <FormError message={f.formError} errors={f.errors} known={['email', 'password']} />
        <Field label={t('auth.email')} name="email" type="email" autoComplete="username" value={c.email} onChange={(e) => c.setEmail(e.target.value)} error={f.errors.email} required />
        <Field label={t('auth.password')} name="password" type="password" autoComplete="current-password" value={c.password} onChange={(e) => c.setPassword(e.target.value)} error={f.errors.password} required />
        <button className="btn btn-primary" type="submit" disabled={f.busy}>
          {t('auth.signin')}
        </button>
      </form>
    </AuthFrame>
  );
}
