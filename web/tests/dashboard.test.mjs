// End-to-end: the dashboard in Debian's chromium (headless, playwright-core) against a real
// `sinyal serve` on loopback. Screenshots of each main page at desktop and phone width go to
// $SINYAL_WEB_ARTIFACTS (default build/web-artifacts); every page passes axe-core with no serious
// or critical violation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import { chromiumPath, DESKTOP, launchBrowser, OPERATOR_PASSWORD, REVERSING_SYMBOL, screenshots, seriousViolations, startServer } from './harness.mjs';

let server;
let browser;
let page;
const pageErrors = [];
const email = `trader-${Date.now()}@example.com`;
const password = 'a-long-passphrase';

async function checkA11y(name) {
  const v = await seriousViolations(page);
  assert.deepEqual(v, [], `${name}: axe serious/critical violations: ${JSON.stringify(v, null, 1)}`);
}

async function go(path) {
  await page.getByRole('navigation').getByRole('link', { name: path.label, exact: true }).click();
  await page.waitForURL((u) => u.pathname === path.url);
}

async function operatorToken() {
  const login = await fetch(`${server.base}/api/v1/operator/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: server.operator, password: OPERATOR_PASSWORD }),
  });
  assert.equal(login.status, 200);
  return (await login.json()).access_token;
}

// The operator's feed posts the 60 M1 bars of the hour after EURUSD H1's newest bar (a gentle
// walk from its close), flushed, so that the H1 bar closes and gets a signal. Returns the new H1
// bar's time.
async function pushNextHour(opToken) {
  const auth = { Authorization: `Bearer ${opToken}` };
  const series = (await (await fetch(`${server.base}/api/v1/market/series`, { headers: auth })).json()).items;
  const lastBar = series.find((s) => s.symbol === 'EURUSD' && s.timeframe === 'H1').last_bar_time;
  const last = (await (await fetch(`${server.base}/api/v1/market/bars?symbol=EURUSD&timeframe=H1&from=${encodeURIComponent(lastBar)}`, { headers: auth })).json()).bars.at(-1);
  assert.equal(last.time, lastBar);
  const next = Date.parse(lastBar) + 3600_000;
  const m1 = [];
  let price = last.close;
  for (let m = 0; m < 60; m++) {
    const open = price;
    price = Number((price + (m % 7 < 4 ? 0.00007 : -0.00005)).toFixed(5));
    m1.push({ symbol: 'EURUSD', time: new Date(next + m * 60_000).toISOString(), open, high: Math.max(open, price) + 0.00002, low: Math.min(open, price) - 0.00002, close: price, volume: 10 });
  }
  const pushed = await fetch(`${server.base}/api/v1/market/ticks`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...auth },
    body: JSON.stringify({ bars: m1, flush: true }),
  });
  assert.equal(pushed.status, 200, await pushed.text());
  return new Date(next).toISOString().replace('.000Z', 'Z');
}

// Without chromium the test fails under CI (scripts/install-deps.sh installs it) and is skipped
// elsewhere, saying why.
const noBrowser = !existsSync(chromiumPath) && !process.env.CI ? `${chromiumPath} missing: apt-get install chromium` : false;

describe('dashboard', { timeout: 300_000, skip: noBrowser }, () => {
  before(async () => {
    server = await startServer({ telegram: true });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'Asia/Jakarta' });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', (r) => r.status() === 429 && console.log(`429 (rate limited, the page retries reads): ${r.request().method()} ${r.url()}`));
  });

  after(async () => {
    assert.deepEqual(pageErrors, [], `script errors: ${JSON.stringify(pageErrors)}`);
    await browser?.close();
    await server?.stop();
  });

  it('serves the app with caching headers and keeps /docs', async () => {
    const index = await fetch(`${server.base}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const js = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    assert.ok(js, 'index.html references a hashed script');
    const asset = await fetch(`${server.base}${js}`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const map = await fetch(`${server.base}${js}.map`);
    assert.equal(map.status, 404, 'no source maps by default');
    const client = await fetch(`${server.base}/signals?symbol=EURUSD`);
    assert.equal(client.status, 200, 'client routes fall back to index.html');
    assert.equal(await client.text(), html);
    const api = await fetch(`${server.base}/api/v1/nope`);
    assert.equal(api.status, 404);
    assert.match(api.headers.get('content-type'), /problem\+json/);
    const docs = await fetch(`${server.base}/docs`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /redoc/);
  });

  it('signs up, and shows the server problem at its field', async () => {
    await page.goto(`${server.base}/signup`);
    await checkA11y('sign up');
    await screenshots(page, 'signup');
    // Client-side checks first: nothing is sent, the first invalid field gets the focus.
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Use at least 10 characters.').waitFor();
    assert.equal(await page.locator('[data-field="tenant_name"]').textContent(), 'Required.');
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'tenant_name', null, { timeout: 5_000 });
    await page.getByLabel('Organisation name').fill('Toko Sinyal');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('plan-name').waitFor();
    assert.equal(await page.getByTestId('plan-name').textContent(), 'Free');
    await checkA11y('overview');
    await screenshots(page, 'overview');

    // The same email again: the server's 409 problem is shown at the email field.
    const ctx2 = await browser.newContext({ viewport: DESKTOP });
    const p2 = await ctx2.newPage();
    await p2.goto(`${server.base}/signup`);
    await p2.getByLabel('Organisation name').fill('Another');
    await p2.getByLabel('Email').fill(email);
    await p2.getByLabel('Password').fill(password);
    await p2.getByRole('button', { name: 'Create account' }).click();
    const err = p2.locator('[data-field="email"]');
    await err.waitFor();
    assert.match(await err.textContent(), /\S/);
    assert.equal(await p2.getByLabel('Email').getAttribute('aria-invalid'), 'true');
    await ctx2.close();
  });

  it('shows a signal on the chart', async () => {
    await go({ label: 'Signals', url: '/signals' });
    const chart = page.getByTestId('chart');
    await chart.and(page.locator('[data-ready="1"]')).waitFor({ timeout: 30_000 });
    await page.getByTestId('latest-signal').waitFor();
    const text = await page.getByTestId('latest-signal').textContent();
    assert.match(text, /Bullish|Bearish|Neutral/);
    assert.match(text, /EURUSD H1/);
    // The first run replayed the newest bars through the live path: each got a signal, and the
    // directional ones are arrows on the chart. A model without walk-forward skill abstains
    // (issue 13): its signals are all neutral and the chart has no arrows.
    const signalCount = Number(await chart.getAttribute('data-signals'));
    assert.ok(signalCount >= 10, `signals on the chart: ${signalCount}`);
    // One horizon served (this server trains horizon 1 only): no horizon picker.
    assert.equal(await page.getByTestId('horizon-picker').count(), 0);
    assert.equal(await chart.getAttribute('data-horizon'), '1');
    const markers = Number(await chart.getAttribute('data-markers'));
    if (markers === 0) assert.match(text, /Neutral/);
    else assert.ok(markers <= signalCount, `markers ${markers} of ${signalCount} signals`);
    assert.ok(await page.locator('canvas').count() > 0);
    // TradingView attribution is kept.
    assert.ok(await page.getByRole('link', { name: /TradingView/ }).count() >= 1);
    await checkA11y('signals');
    await screenshots(page, 'signals');
    // Drawn without a script error (the screenshots resize the chart, which re-lays it out).
    assert.deepEqual(pageErrors, []);
  });

  it('switches language to Bahasa Indonesia, with WIB times and rupiah', async () => {
    await page.getByTestId('lang').selectOption('id');
    await page.getByRole('navigation').getByRole('link', { name: 'Ringkasan' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'id');
    assert.match(await page.getByTestId('latest-signal').textContent(), /WIB/);
    await page.getByRole('navigation').getByRole('link', { name: 'Tagihan' }).click();
    await page.getByTestId('plans').waitFor();
    assert.match(await page.getByTestId('plans').textContent(), /Rp \d{1,3}(\.\d{3})*/);
    await checkA11y('billing (id)');
    await screenshots(page, 'billing-id');
    await page.getByTestId('lang').selectOption('en');
    await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).waitFor();
  });

  it('creates an API key, shows it once, and revokes it', async () => {
    await go({ label: 'API keys', url: '/keys' });
    await page.getByLabel('Name', { exact: true }).fill('backend');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('secret').textContent()).trim();
    assert.match(secret, /^sk_/);
    const me = await fetch(`${server.base}/api/v1/me`, { headers: { 'X-API-Key': secret } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).email, email);
    await checkA11y('api keys');
    await screenshots(page, 'keys');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    assert.equal(await page.getByTestId('secret').count(), 0, 'the secret is shown only once');
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Revoke backend' }).click();
    await page.locator('tr[data-key-name="backend"]').getByText('revoked').waitFor();
    const after = await fetch(`${server.base}/api/v1/me`, { headers: { 'X-API-Key': secret } });
    assert.equal(after.status, 401);
  });

  it('on Free: backtests and paper accounts say which plan has them, with no form', async () => {
    for (const [label, url, name, feature] of [
      ['Backtests', '/backtests', 'backtests-free', 'Backtests'],
      ['Paper accounts', '/paper', 'paper-free', 'Paper trading'],
    ]) {
      await go({ label, url });
      const notice = page.getByTestId('upgrade-notice');
      await notice.waitFor();
      // The plan the server's 403 names (billing Gate: "requires plan pro").
      assert.match(await notice.textContent(), new RegExp(`${feature}: not in your plan \\(Free\\)\\. Available on Pro and above\\.`));
      assert.equal(await page.locator('form').count(), 0, `${label}: no form that cannot work`);
      await page.waitForFunction(() => !document.querySelector('.state-loading'));
      await checkA11y(name);
      await screenshots(page, name);
    }
    // The server agrees: Free may not submit a backtest.
    const session = JSON.parse(await page.evaluate(() => localStorage.getItem('sinyal.session')));
    const denied = await fetch(`${server.base}/api/v1/backtests`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${session.access_token}` },
      body: JSON.stringify({ symbols: ['EURUSD'] }),
    });
    assert.equal(denied.status, 403);
    assert.match((await denied.json()).detail, /requires plan pro/);
  });

  it('upgrades from Free to Pro through the SIMULATED sandbox, then schedules a cancel', async () => {
    await go({ label: 'Billing', url: '/billing' });
    const subscription = page.getByTestId('subscription');
    await subscription.waitFor();
    assert.equal(await subscription.getAttribute('data-plan'), 'free');
    // No Midtrans keys: the server uses its local sandbox, and the page says it is SIMULATED.
    assert.match(await page.getByTestId('sandbox-note').textContent(), /SIMULATED/);
    await page.getByRole('button', { name: 'Subscribe: Pro (monthly)' }).click();
    const result = page.getByTestId('checkout-result');
    await result.waitFor();
    assert.match(await result.textContent(), /Invoice for Pro: IDR 299,000 to pay\./);
    await page.getByTestId('pay-link').click();
    // The sandbox's pay page (SIMULATED), served by the same server.
    await page.locator('#sandbox-banner').waitFor();
    assert.match(await page.locator('#sandbox-banner').textContent(), /SIMULATED/);
    assert.match(await page.locator('#sandbox-amount').textContent(), /299[.,]?000/);
    await page.locator('#sandbox-action-pay').click();
    await page.waitForFunction(() => document.querySelector('#sandbox-status')?.getAttribute('data-status') === 'settlement', null, { timeout: 15_000 });
    // Back to the dashboard (Midtrans returns the user only when midtrans.finish_url is set): the
    // notification may still be on its way, so the user checks the payment status.
    await page.goto(`${server.base}/billing`);
    for (let i = 0; i < 30 && (await subscription.getAttribute('data-plan').catch(() => null)) !== 'pro'; i++) {
      await page.waitForTimeout(500);
      await page.getByTestId('check-payment').click();
    }
    assert.equal(await subscription.getAttribute('data-plan'), 'pro');
    assert.equal(await subscription.getAttribute('data-status'), 'active');
    assert.match(await page.getByTestId('sub-plan').textContent(), /Pro/);
    await page.locator('[data-testid="orders"] tr[data-status="paid"]').waitFor();
    await page.locator('[data-testid="term-invoices"] tr[data-status="paid"]').waitFor();
    await page.waitForFunction(() => !document.querySelector('.state-loading'));
    await checkA11y('billing (pro)');
    await screenshots(page, 'billing-pro');

    // Cancel at the period end: Pro is kept until then (the Pro tests below still run on it).
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Cancel at period end' }).click();
    await page.getByTestId('sub-scheduled').waitFor();
    assert.match(await page.getByTestId('sub-scheduled').textContent(), /Cancelled: your plan ends on .+, then you are on Free\./);
    assert.equal(await page.getByRole('button', { name: 'Cancel at period end' }).count(), 0);
    assert.equal(await subscription.getAttribute('data-plan'), 'pro');
    await screenshots(page, 'billing-cancelled');
    // Checkout of the current plan withdraws the cancel.
    await page.getByRole('button', { name: 'Keep Pro' }).click();
    await page.getByTestId('checkout-result').getByText('The scheduled change is withdrawn: you stay on Pro.').waitFor();
    await page.getByRole('button', { name: 'Cancel at period end' }).waitFor();
    assert.equal(await page.getByTestId('sub-scheduled').count(), 0);

    // An upgrade to Enterprise: the invoice credits the unused part of the Pro term. The open
    // invoice's Pay button makes a payable order and goes to the sandbox, where it expires
    // unpaid (Pro is kept).
    await page.getByRole('button', { name: 'Upgrade: Enterprise (monthly)' }).click();
    await result.getByText(/Invoice for Enterprise: IDR [\d,]+ to pay\./).waitFor();
    assert.match(await result.textContent(), /Upgrade credit for the unused part of your current term: IDR [\d,]+\./);
    await checkA11y('billing (checkout)');
    await screenshots(page, 'billing-checkout');
    const open = page.locator('[data-testid="term-invoices"] tr[data-status="open"]');
    await open.getByRole('button', { name: 'Pay' }).click();
    await page.locator('#sandbox-banner').waitFor();
    await page.locator('#sandbox-action-expire').click();
    await page.waitForFunction(() => document.querySelector('#sandbox-status')?.getAttribute('data-status') === 'expire', null, { timeout: 15_000 });
    await page.goto(`${server.base}/billing`);
    for (let i = 0; i < 30 && (await open.count()) > 0; i++) {
      await page.waitForTimeout(500);
      await page.getByTestId('check-payment').click();
    }
    assert.equal(await open.count(), 0, 'the expired upgrade invoice is no longer open');
    assert.equal(await subscription.getAttribute('data-plan'), 'pro');
  });

  it('billing: a member (not owner or admin) is shown the API\'s refusal at the control', async () => {
    const session = JSON.parse(await page.evaluate(() => localStorage.getItem('sinyal.session')));
    const memberEmail = `member-${Date.now()}@example.com`;
    const added = await fetch(`${server.base}/api/v1/members`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${session.access_token}` },
      body: JSON.stringify({ email: memberEmail, password, role: 'member' }),
    });
    assert.equal(added.status, 201, await added.text());
    const ctx = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'Asia/Jakarta' });
    const m = await ctx.newPage();
    m.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await m.goto(`${server.base}/signin`);
      await m.getByLabel('Email').fill(memberEmail);
      await m.getByLabel('Password').fill(password);
      await m.getByRole('button', { name: 'Sign in' }).click();
      await m.getByRole('navigation').getByRole('link', { name: 'Billing', exact: true }).click();
      await m.getByTestId('subscription').waitFor();
      await m.getByRole('button', { name: 'Upgrade: Enterprise (monthly)' }).click();
      const error = m.getByTestId('error-checkout-enterprise');
      await error.waitFor();
      assert.match(await error.textContent(), /only the organisation's owners and admins manage its subscription/);
      assert.equal(await m.getByTestId('subscription').getAttribute('data-plan'), 'pro');
    } finally {
      await ctx.close();
    }
  });

  it('on Pro: opens a paper account and lists it with its equity', async () => {
    // The tenant paid for Pro in the billing test above.
    await go({ label: 'Overview', url: '/' });
    await page.getByTestId('plan-name').getByText('Pro').waitFor();

    await go({ label: 'Paper accounts', url: '/paper' });
    const form = page.getByTestId('paper-form');
    await form.waitFor();
    assert.equal(await page.getByTestId('upgrade-notice').count(), 0);
    await form.getByRole('button', { name: 'Open account' }).click();
    assert.equal(await page.locator('[data-field="name"]').textContent(), 'Required.');
    await form.getByLabel('Name').fill('demo');
    await form.getByLabel('Signal threshold').fill('0.5');
    await form.getByLabel('Initial balance (USD)').fill('5000');
    await form.getByRole('button', { name: 'Open account' }).click();
    await page.waitForURL((u) => u.pathname === '/paper' && /id=\d+/.test(u.search));
    const row = page.locator('tr[data-account="demo"]');
    await row.waitFor();
    assert.match(await row.textContent(), /EURUSD H1/);
    assert.equal((await row.getByTestId('paper-equity').textContent()).trim(), '5,000.00 USD');
    await page.getByTestId('paper-account').waitFor();
    assert.equal((await page.getByTestId('paper-account-equity').textContent()).trim(), '5,000.00 USD');
    // No live bar has closed since it opened (the next test's feed closes one).
    await page.getByTestId('paper-nobars').waitFor();

    // A manual limit order far below the market: refused client-side without a price, then
    // working, then cancelled from the working orders.
    const order = page.getByTestId('order-form');
    await order.getByLabel('Type').selectOption('limit');
    await order.getByLabel('Quantity (units)').fill('10000');
    await order.getByRole('button', { name: 'Place order' }).click();
    assert.equal(await page.locator('[data-field="price"]').textContent(), 'Enter a number above 0.');
    await order.getByLabel('Limit price').fill('0.5');
    await order.getByRole('button', { name: 'Place order' }).click();
    const placed = page.getByTestId('order-placed');
    await placed.waitFor();
    const orderId = /Placed order #(\d+) \(working\)\./.exec(await placed.textContent())?.[1];
    assert.ok(orderId, await placed.textContent());
    const working = page.getByTestId('paper-orders');
    await working.waitFor();
    assert.match(await working.textContent(), /limit/);
    await working.getByRole('button', { name: `Cancel order #${orderId}` }).click();
    await working.waitFor({ state: 'detached' });
    // The order stream shows it: accepted, then cancelled (polled every 5 s).
    const events = page.getByTestId('paper-events');
    await page.waitForFunction(() => /order_cancelled/.test(document.querySelector('[data-testid="paper-events"]')?.textContent ?? ''), null, { timeout: 15_000 });
    assert.match(await events.textContent(), /order_accepted/);
    await checkA11y('paper accounts');
    await screenshots(page, 'paper-new');
  });

  it('on Pro: confidence, interval band, regime strip, live stream and the track record', async () => {
    // The tenant is on Pro since the paper account test.
    const opToken = await operatorToken();
    await go({ label: 'Signals', url: '/signals' });
    await page.getByTestId('chart').and(page.locator('[data-ready="1"]')).waitFor({ timeout: 30_000 });
    const text = await page.getByTestId('latest-signal').textContent();
    assert.match(text, /Calibrated confidence\s*\d+(\.\d)?%/);
    assert.match(text, /80% interval of the price at the horizon\s*1\.\d{5} – 1\.\d{5}/);
    assert.match(text, /Regime/);
    assert.match(text, /Drivers/);
    assert.ok(Number(await page.getByTestId('chart').getAttribute('data-bands')) > 0, 'interval band drawn');
    assert.ok(Number(await page.getByTestId('chart').getAttribute('data-regimes')) > 0, 'regime strip drawn');
    await page.getByText('Live: new signals arrive as bars close.').waitFor({ timeout: 15_000 });

    // Live push: the next hour's M1 bars arrive from the operator's feed; the H1 bar they close
    // gets a signal, which the stream pushes to the open page: the chart and the latest signal
    // show the new bar without a reload.
    const chart = page.getByTestId('chart');
    const signalsBefore = Number(await chart.getAttribute('data-signals'));
    const lastBarBefore = await chart.getAttribute('data-last-bar');
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const newBar = await pushNextHour(opToken);
    assert.equal(Date.parse(newBar) - Date.parse(lastBarBefore), 3600_000, 'the chart showed the newest bar before the push');
    await page.waitForFunction((t) => document.querySelector('[data-testid="chart"]')?.getAttribute('data-last-bar') === t, newBar, { timeout: 30_000 });
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="chart"]')?.getAttribute('data-signals')) > n, signalsBefore, { timeout: 30_000 });
    // The latest signal is now the new bar's.
    await page.waitForFunction((t) => document.querySelector('[data-testid="latest-signal"]')?.getAttribute('data-bar-time') === t, newBar, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'updated without a reload');
    await screenshots(page, 'signals-pro');

    await go({ label: 'Track record', url: '/track-record' });
    await page.getByTestId('track-table').waitFor();
    assert.match(await page.getByTestId('track-table').textContent(), /platform\/EURUSD\/H1\/v\d+/);
    await page.getByTestId('reliability').waitFor();
    await checkA11y('track record');
    await screenshots(page, 'track-record');
  });

  it('on Pro: validates the backtest form, runs a small backtest and shows metrics, charts and trades', async () => {
    await go({ label: 'Backtests', url: '/backtests' });
    const form = page.getByTestId('bt-form');
    await form.waitFor();
    assert.equal(await page.getByTestId('upgrade-notice').count(), 0);
    // A small walk-forward model: the first one after 3,000 bars, retrained every 1,000, 15 trees
    // (tests/e2e/trading_e2e_test.cc); threshold 0.5: every directional signal trades.
    await form.getByLabel('First model after (bars)').fill('3000');
    await form.getByLabel('Retrain every (bars)').fill('1000');
    // Client-side check: nothing is sent, the error is at its field and the field has the focus.
    await form.getByLabel('Signal threshold').fill('0.3');
    await form.getByRole('button', { name: 'Run backtest' }).click();
    assert.equal(await page.locator('[data-field="signal.threshold"]').textContent(), 'Between 0.50 and 1.');
    // The focus moves to the field after the error renders (a later frame on a loaded machine).
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'signal.threshold', null, { timeout: 5_000 });
    await form.getByLabel('Signal threshold').fill('0.5');
    // The server's 422: more trees than the Pro plan's bound, named model.config.trees, shown at
    // that field.
    await form.getByLabel('Trees per member').fill('100000');
    await form.getByRole('button', { name: 'Run backtest' }).click();
    const treesError = page.locator('[data-field="model.config.trees"]');
    await treesError.waitFor();
    assert.match(await treesError.textContent(), /\S/);
    assert.equal(await form.getByLabel('Trees per member').getAttribute('aria-invalid'), 'true');
    await checkA11y('backtests (form error)');

    await form.getByLabel('Trees per member').fill('15');
    await form.getByRole('button', { name: 'Run backtest' }).click();
    await page.waitForURL((u) => u.pathname === '/backtests' && /id=\d+/.test(u.search));
    const result = page.getByTestId('bt-result');
    await page.waitForFunction(() => document.querySelector('[data-testid="bt-result"]')?.getAttribute('data-status') === 'succeeded', null, { timeout: 90_000 });
    const id = new URL(page.url()).searchParams.get('id');
    await page.locator(`tr[data-backtest="${id}"][data-status="succeeded"]`).waitFor({ timeout: 15_000 });

    // Metrics beside the baselines, each with its definition.
    const metrics = result.getByTestId('bt-metrics');
    await metrics.waitFor();
    for (const m of ['total_return', 'annual_return', 'sharpe', 'sortino', 'max_drawdown', 'win_rate', 'profit_factor', 'trades']) {
      assert.equal(await metrics.locator(`tr[data-metric="${m}"]`).count(), 1, `metric row ${m}`);
    }
    const cells = async (m) => (await metrics.locator(`tr[data-metric="${m}"] td`).allTextContents()).map((x) => x.trim());
    const total = await cells('total_return');
    assert.match(total[0], /^-?\d+\.\d{2}%$/, `strategy total return: ${total[0]}`);
    assert.match(total[1], /^-?\d+\.\d{2}%$/, `buy and hold total return: ${total[1]}`);
    // Each metric's definition, as the report states it.
    const definition = async (m) => page.getByTestId('bt-definitions').locator(`[data-definition="${m}"] dd`).textContent();
    assert.match(await definition('total_return'), /final equity \/ initial equity - 1/);
    assert.match(await definition('sharpe'), /sqrt\(260\)/);
    assert.match(await definition('max_drawdown'), /running peak/);
    const trades = Number((await cells('trades'))[0].replace(/,/g, ''));
    assert.ok(Number.isInteger(trades) && trades >= 0, `trade count ${trades}`);

    // Equity and drawdown charts (lightweight-charts), drawn from the result's curves.
    for (const chart of ['bt-equity', 'bt-drawdown']) {
      const c = page.getByTestId(chart);
      await c.and(page.locator('[data-ready="1"]')).waitFor({ timeout: 15_000 });
      assert.ok(Number(await c.getAttribute('data-points')) > 100, `${chart} points`);
      assert.ok((await c.locator('canvas').count()) > 0);
    }
    // The trades, or, when the walk-forward models abstained at every bar (a model without
    // skill on real prices calls no direction), the page says so and the count is 0.
    if (trades > 0) {
      const rows = await page.getByTestId('bt-trades').locator('tbody tr').count();
      assert.ok(rows > 0 && rows <= trades, `trade rows ${rows} of ${trades}`);
    } else {
      await page.getByTestId('bt-no-trades').waitFor();
      assert.match(await page.getByTestId('bt-no-trades').textContent(), /No trades/);
    }
    // The Markdown report, fetched with the session's token.
    const report = page.getByTestId('bt-report');
    await report.waitFor();
    assert.match(await report.getAttribute('href'), /^blob:/);
    const [download] = await Promise.all([page.waitForEvent('download'), report.click()]);
    assert.equal(download.suggestedFilename(), `backtest-${id}.md`);
    assert.match(readFileSync(await download.path(), 'utf8'), /^# Backtest: EURUSD H1/);
    await checkA11y('backtests (result)');
    await screenshots(page, 'backtests');
  });

  it('on Pro: cancels a queued and a running backtest from the list, and reads the result in Bahasa Indonesia', async () => {
    await go({ label: 'Backtests', url: '/backtests' });
    const form = page.getByTestId('bt-form');
    await form.waitFor();
    // Retraining every 50 bars makes a run of a few seconds: the first runs, the second waits.
    await form.getByLabel('First model after (bars)').fill('3000');
    await form.getByLabel('Retrain every (bars)').fill('50');
    await form.getByLabel('Trees per member').fill('15');
    await form.getByLabel('Signal threshold').fill('0.5');
    const submit = async () => {
      const before = page.url();
      await form.getByRole('button', { name: 'Run backtest' }).click();
      await page.waitForURL((u) => u.href !== before && /id=\d+/.test(u.search));
      return new URL(page.url()).searchParams.get('id');
    };
    const first = await submit();
    const second = await submit();
    assert.notEqual(first, second);
    for (const id of [second, first]) {
      const row = page.locator(`tr[data-backtest="${id}"]`);
      await row.getByRole('button', { name: `Cancel #${id}` }).click();
      await page.locator(`tr[data-backtest="${id}"][data-status="cancelled"]`).waitFor({ timeout: 30_000 });
    }
    // The open result (the second) says it was cancelled.
    await page.waitForFunction(() => document.querySelector('[data-testid="bt-result"]')?.getAttribute('data-status') === 'cancelled', null, { timeout: 15_000 });

    // The list sorts by a column from the keyboard (DataTable): the header's button, aria-sort.
    const list = page.getByTestId('bt-list');
    const ids = async () => (await list.locator('tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-backtest')))));
    const byId = list.getByRole('button', { name: /^#/ });
    await byId.focus();
    await page.keyboard.press('Enter');
    assert.notEqual(await byId.evaluate((b) => (b === document.activeElement ? getComputedStyle(b).outlineStyle : 'none')), 'none', 'the sort button keeps a visible focus');
    assert.equal(await list.locator('th[aria-sort="ascending"]').count(), 1);
    const up = await ids();
    assert.ok(up.length >= 3);
    assert.deepEqual(up, [...up].sort((a, b) => a - b));
    await page.keyboard.press('Enter');
    assert.equal(await list.locator('th[aria-sort="descending"]').count(), 1);
    assert.deepEqual(await ids(), [...up].reverse());

    // The earlier, succeeded backtest in Bahasa Indonesia: labels, WIB times.
    const done = await page.locator('tr[data-status="succeeded"]').first().getAttribute('data-backtest');
    await page.getByTestId('lang').selectOption('id');
    await page.getByRole('button', { name: `Hasil #${done}` }).click();
    await page.getByTestId('bt-metrics').waitFor();
    assert.match(await page.getByTestId('bt-metrics').textContent(), /Imbal hasil total/);
    assert.match(await page.getByTestId('bt-result').textContent(), /WIB/);
    await checkA11y('backtests (id)');
    await screenshots(page, 'backtests-id');
    await page.getByTestId('lang').selectOption('en');
    await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).waitFor();
  });

  it('on Pro: a backtest on the reversing series trades; its trade list, metrics and equity agree', async () => {
    await go({ label: 'Backtests', url: '/backtests' });
    const form = page.getByTestId('bt-form');
    await form.waitFor();
    // The harness's reversing series (each bar reverses the last): a walk-forward model trained on
    // its first 1,000 bars calls directions, so the strategy trades the 300 bars after it. (A first
    // model after 500 bars is too small for its interval calibration: that run once crashed the
    // job; fixed, ConformalTest.AnUnfittedCalibrationPredictsNoIntervals.) One
    // training (retrain every 1,000), 15 trees: a run of seconds. The symbol is not a pair: one
    // unit per lot, so 1,000 lots.
    await form.getByLabel('Symbol').selectOption(REVERSING_SYMBOL);
    await form.getByLabel('Timeframe').selectOption('H1');
    await form.getByLabel('First model after (bars)').fill('1000');
    await form.getByLabel('Retrain every (bars)').fill('1000');
    await form.getByLabel('Trees per member').fill('15');
    await form.getByLabel('Signal threshold').fill('0.5');
    await form.getByLabel('Initial balance').fill('10000');
    await form.getByLabel('Lots').fill('1000');
    await form.getByLabel('Spread (points)').fill('0');
    await form.getByLabel('Commission per lot per side (USD)').fill('0');
    const before = page.url();
    await form.getByRole('button', { name: 'Run backtest' }).click();
    await page.waitForURL((u) => u.href !== before && /id=\d+/.test(u.search));
    const id = new URL(page.url()).searchParams.get('id');
    const result = page.getByTestId('bt-result');
    await page.waitForFunction(() => ['succeeded', 'failed'].includes(document.querySelector('[data-testid="bt-result"]')?.getAttribute('data-status')), null, { timeout: 60_000 });
    assert.equal(await result.getAttribute('data-status'), 'succeeded', await result.textContent());
    await page.locator(`tr[data-backtest="${id}"][data-status="succeeded"]`).waitFor({ timeout: 15_000 });
    assert.match(await result.textContent(), new RegExp(`${REVERSING_SYMBOL} H1`));

    // A non-empty trade list, every row with its side, entry and exit (time and price) and P&L.
    const table = page.getByTestId('bt-trades');
    await table.waitFor();
    const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent.trim())));
    assert.ok(rows.length > 0, 'the reversing series makes trades');
    assert.equal(await page.getByTestId('bt-no-trades').count(), 0);
    const money = (x) => Number(x.replace(/,/g, '').replace('\u2212', '-'));
    const time = /\d{1,2}[:.]\d{2}/;
    for (const [symbol, side, qty, entry, exit, pnl] of rows) {
      assert.equal(symbol, REVERSING_SYMBOL);
      assert.match(side, /^(long|short)$/);
      assert.equal(money(qty), 1000);
      assert.match(entry, time, `entry ${entry}`);
      assert.match(exit, time, `exit ${exit}`);
      assert.match(pnl, /^[-\u2212]?\d{1,3}(,\d{3})*\.\d{2}$/, `P&L ${pnl}`);
    }
    // The reversing series: the model calls both directions.
    assert.ok(new Set(rows.map((r) => r[1])).size === 2, 'long and short trades');

    // The metrics agree with the trades: the count shown is the rows (and the card's title), the
    // win rate is the share of winning rows, in [0, 100]%, and the total return is the sum of the
    // trades' net P&L over the initial balance (everything open is closed at the end).
    const metrics = result.getByTestId('bt-metrics');
    const cell = async (m) => (await metrics.locator(`tr[data-metric="${m}"] td`).first().textContent()).trim();
    assert.equal(money(await cell('trades')), rows.length);
    assert.ok(await page.getByRole('heading', { name: `Trades (${rows.length.toLocaleString('en-US')})` }).count() >= 1, 'the trade card counts the rows');
    const winRate = await cell('win_rate');
    assert.match(winRate, /^\d{1,3}\.\d{2}%$/);
    const win = Number(winRate.slice(0, -1));
    assert.ok(win >= 0 && win <= 100, `win rate ${winRate}`);
    const pnls = rows.map((r) => money(r[5]));
    const wins = pnls.filter((x) => x > 0).length;
    const zeros = pnls.filter((x) => x === 0).length; // a P&L under half a cent shows 0.00
    assert.ok(win >= (100 * wins) / rows.length - 0.01 && win <= (100 * (wins + zeros)) / rows.length + 0.01, `win rate ${winRate}: ${wins} winning rows (${zeros} at 0.00) of ${rows.length}`);
    const total = Number((await cell('total_return')).replace('%', '').replace('\u2212', '-'));
    const sum = pnls.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - sum / 100) <= 0.006 + (0.005 * rows.length) / 100, `total return ${total}% vs net P&L ${sum.toFixed(2)} on 10,000`);

    // The equity curve (and drawdown) drawn, one point per traded bar.
    for (const chart of ['bt-equity', 'bt-drawdown']) {
      const c = page.getByTestId(chart);
      await c.and(page.locator('[data-ready="1"]')).waitFor({ timeout: 15_000 });
      assert.ok(Number(await c.getAttribute('data-points')) > 100, `${chart} points`);
      assert.ok((await c.locator('canvas').count()) > 0);
    }

    // One trade read in full: its row's cells are what the API holds for that trade.
    const first = table.locator('tbody tr').first();
    const [, side, , entry, exit, pnl, reason] = rows[0];
    assert.match(await first.locator('td').nth(3).locator('.stat-sub').textContent(), /^1\.0\d{3,4}$/, 'entry price, the instrument\'s digits');
    assert.match(await first.locator('td').nth(4).locator('.stat-sub').textContent(), /^1\.0\d{3,4}$/, 'exit price');
    assert.notEqual(entry, exit, 'a trade exits after it enters');
    assert.match(await first.locator('td').nth(5).getAttribute('class'), money(pnl) >= 0 ? /pos/ : /neg/);
    assert.match(reason, /\S/, `exit reason of a ${side} trade`);
    await checkA11y('backtests (trades)');
    await screenshots(page, 'backtests-trades');
  });

  it('on Pro: the paper account followed the closed bar; closing it', async () => {
    await go({ label: 'Paper accounts', url: '/paper' });
    const row = page.locator('tr[data-account="demo"]');
    await row.getByRole('button', { name: 'Open demo' }).click();
    const account = page.getByTestId('paper-account');
    await account.waitFor();
    // The live test's feed closed the next H1 bar after the account opened: the account marked
    // its equity at that close (the paper thread handles it shortly after).
    const deadline = Date.now() + 30_000;
    while ((await page.getByTestId('paper-equity-chart').count()) === 0 && Date.now() < deadline) {
      await page.waitForTimeout(1000);
      await account.getByRole('button', { name: 'Refresh' }).click();
    }
    const chart = page.getByTestId('paper-equity-chart');
    await chart.and(page.locator('[data-ready="1"]')).waitFor({ timeout: 5_000 });
    assert.ok(Number(await chart.getAttribute('data-points')) >= 1);
    assert.doesNotMatch(await account.getByText('Last bar').locator('..').textContent(), /—/);
    assert.match(await page.getByTestId('paper-account-equity').textContent(), /^\d{1,3}(,\d{3})*\.\d{2} USD$/);
    await checkA11y('paper account (after a bar)');
    await screenshots(page, 'paper');

    // Reset: back to the starting balance, the equity history cleared, the stream says so.
    page.once('dialog', (d) => d.accept());
    await account.getByRole('button', { name: 'Reset' }).click();
    await page.getByTestId('paper-nobars').waitFor({ timeout: 15_000 });
    assert.equal((await page.getByTestId('paper-account-equity').textContent()).trim(), '5,000.00 USD');
    await page.waitForFunction(() => /account_reset/.test(document.querySelector('[data-testid="paper-events"]')?.textContent ?? ''), null, { timeout: 15_000 });

    // Close the account: it stays listed, closed, and offers no more actions.
    page.once('dialog', (d) => d.accept());
    await account.getByRole('button', { name: 'Close account' }).click();
    await row.getByText('closed').waitFor({ timeout: 15_000 });
    await account.getByRole('button', { name: 'Close account' }).waitFor({ state: 'detached' });
  });

  it('links Telegram against the FAKE Bot API, adds an alert the bot lists, and unlinks', async () => {
    const tg = server.telegram;
    const tgUser = 777001;
    await go({ label: 'Telegram', url: '/telegram' });
    await page.getByText('Not linked.').waitFor();
    await checkA11y('telegram (not linked)');
    await page.getByRole('button', { name: 'Link Telegram' }).click();
    const start = (await page.getByTestId('tg-start').textContent()).trim();
    assert.match(start, /^\/start [A-Za-z0-9_-]{43}$/);
    assert.match(await page.getByRole('link', { name: 'Open @sinyal_fake_bot' }).getAttribute('href'), /^https:\/\/t\.me\/sinyal_fake_bot\?start=[A-Za-z0-9_-]{43}$/);
    // The user presses Start in Telegram: the FAKE delivers "/start <token>" to the bot; the page,
    // polling, shows the link.
    await tg.say(tgUser, start, { username: 'ayu_trader', language_code: 'en' });
    await page.getByTestId('tg-linked').waitFor({ timeout: 30_000 });
    assert.match(await page.getByTestId('tg-linked').textContent(), /Linked to @ayu_trader/);
    assert.ok((await tg.sent(tgUser)).length >= 1, 'the bot welcomed the user');

    // An alert: the client refuses a confidence out of range, the server takes a good one.
    const form = page.getByTestId('tg-alert-form');
    await form.getByLabel('Minimum confidence').fill('0.3');
    await form.getByRole('button', { name: 'Add alert' }).click();
    assert.equal(await page.locator('[data-field="min_confidence"]').textContent(), 'Between 0.50 and 0.99.');
    await form.getByLabel('Minimum confidence').fill('0.5');
    await form.getByRole('button', { name: 'Add alert' }).click();
    await page.locator('tr[data-alert="EURUSD H1"]').waitFor();
    await checkA11y('telegram (linked)');
    await screenshots(page, 'telegram');

    // The bot sees the same alert: /alerts in the chat lists it.
    const before = (await tg.sent(tgUser)).length;
    await tg.say(tgUser, '/alerts', { username: 'ayu_trader', language_code: 'en' });
    const deadline = Date.now() + 30_000;
    let listed;
    while (!listed && Date.now() < deadline) {
      listed = (await tg.sent(tgUser)).slice(before).find((m) => /EURUSD/.test(m.text) && /H1|1h/i.test(m.text));
      if (!listed) await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(listed, 'the bot lists the alert made on the page');

    // Mute, then unlink (the alerts go with the link).
    await page.getByRole('button', { name: /^Mute EURUSD H1/ }).click();
    await page.locator('tr[data-alert="EURUSD H1"]').getByText('muted').waitFor();
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Unlink', exact: true }).click();
    await page.getByText('Not linked.').waitFor();
    // The alerts list is fetched again after the unlink: wait for it rather than race it.
    await page.waitForFunction(() => document.querySelectorAll('tr[data-alert]').length === 0, null, { timeout: 15_000 });
    assert.equal(await page.locator('tr[data-alert]').count(), 0);
  });

  it('shows the models and billing pages', async () => {
    for (const [label, url, name] of [
      ['Models', '/models', 'models'],
      ['Billing', '/billing', 'billing'],
    ]) {
      await go({ label, url });
      await page.getByRole('heading', { level: 1, name: label }).waitFor();
      await page.waitForFunction(() => !document.querySelector('.state-loading'));
      await checkA11y(name);
      await screenshots(page, name);
    }
  });

  it('is keyboard navigable with a visible focus', async () => {
    await page.goto(`${server.base}/`);
    await page.getByTestId('plan-name').waitFor();
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => document.activeElement?.textContent);
    assert.equal(skip, 'Skip to content');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none');
  });

  it('lets an operator see tenants, revenue, usage, feeds and model health', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const op = await ctx.newPage();
    op.on('pageerror', (e) => pageErrors.push(e.message));
    await op.goto(`${server.base}/operator/signin`);
    await op.getByLabel('Email').fill(server.operator);
    await op.getByLabel('Password').fill(OPERATOR_PASSWORD);
    await op.getByRole('button', { name: 'Sign in' }).click();
    await op.waitForURL((u) => u.pathname === '/operator');
    const prev = page;
    page = op;
    try {
      for (const [label, url, name] of [
        ['Tenants', '/operator', 'op-tenants'],
        ['Revenue', '/operator/revenue', 'op-revenue'],
        ['MRR and churn', '/operator/subscriptions', 'op-subscriptions'],
        ['Usage by plan', '/operator/usage', 'op-usage'],
        ['Data feeds', '/operator/feeds', 'op-feeds'],
        ['Model health', '/operator/health', 'op-health'],
      ]) {
        if (url !== '/operator') await go({ label, url });
        await op.getByRole('heading', { level: 1 }).waitFor();
        await op.waitForFunction(() => !document.querySelector('.state-loading'));
        await checkA11y(name);
        await screenshots(op, name);
      }
      await op.getByTestId('reliability').first().waitFor();
      assert.match(await op.locator('main').textContent(), /platform\/EURUSD\/H1\/v\d+/);
      // The trader's Pro term (paid above through the sandbox) is this month's MRR; nobody paid at
      // the month's start, so churn is undefined (—), not 0.
      await go({ label: 'MRR and churn', url: '/operator/subscriptions' });
      const month = op.locator('[data-testid="subs-table"] tbody tr').last();
      assert.equal((await month.getByTestId('mrr').textContent()).trim(), 'IDR 299,000');
      assert.equal((await month.getByTestId('paying').textContent()).trim(), '1');
      assert.equal((await month.getByTestId('churn').textContent()).trim(), '—');
      assert.equal(await op.getByTestId('subs-reconciliation').getAttribute('data-ok'), 'true');
      assert.match(await op.getByTestId('mrr-chart').getAttribute('aria-label'), /^MRR per month: .*IDR 299,000$/);
      assert.match(await op.getByTestId('churn-chart').getAttribute('aria-label'), /^Churn rate per month: .* —$/);
      // Model health: every serving model shows its drift state at the newest drift check.
      await go({ label: 'Model health', url: '/operator/health' });
      const drift = op.getByTestId('drift');
      await drift.first().waitFor();
      for (const kind of await drift.evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')))) {
        assert.ok(['alarm', 'performance', 'retrain', 'ok', 'never'].includes(kind), kind);
      }
      assert.match(await op.getByTestId('drift-summary').textContent(), /^\d+ of \d+ serving models have a drift or performance alarm/);
      await go({ label: 'Data feeds', url: '/operator/feeds' });
      assert.match(await op.getByTestId('feeds').textContent(), /EURUSD/);
      await go({ label: 'Tenants', url: '/operator' });
      assert.match(await op.getByTestId('tenants').textContent(), /Toko Sinyal/);
    } finally {
      page = prev;
      await ctx.close();
    }
  });
});

// Billing paths the first server does not reach: a downgrade scheduled for the term end, and a
// renewal invoice paid through the SIMULATED Midtrans sandbox; then the operator's MRR and churn
// view of them. Its own server: a renewal invoice is issued payments.renewal_notice_days before
// the term end, and 60 days (the setting's maximum) makes the renewal of a fresh monthly term
// due at once; the reconciliation round runs every 5 s (its minimum) instead of 60.
describe('billing: downgrade and renewal through the SIMULATED sandbox', { timeout: 300_000, skip: noBrowser }, () => {
  const amounts = {};
  before(async () => {
    server = await startServer({ lines: 2400, replay: 24, extraEnv: { SINYAL_PAYMENTS_RENEWAL_NOTICE_DAYS: '60', SINYAL_PAYMENTS_RECONCILE_INTERVAL_SECONDS: '5' } });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'Asia/Jakarta' });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    assert.deepEqual(pageErrors, [], `script errors: ${JSON.stringify(pageErrors)}`);
    await browser?.close();
    await server?.stop();
  });

  // Pays the sandbox page the browser is on; returns the amount it showed, in rupiah.
  async function payInSandbox() {
    await page.locator('#sandbox-banner').waitFor();
    assert.match(await page.locator('#sandbox-banner').textContent(), /SIMULATED/);
    const amount = Number((await page.locator('#sandbox-amount').textContent()).replace(/\D/g, ''));
    await page.locator('#sandbox-action-pay').click();
    await page.waitForFunction(() => document.querySelector('#sandbox-status')?.getAttribute('data-status') === 'settlement', null, { timeout: 15_000 });
    await page.goto(`${server.base}/billing`);
    return amount;
  }

  async function until(cond, what) {
    for (let i = 0; i < 40; i++) {
      if (await cond()) return;
      await page.waitForTimeout(500);
      await page.getByTestId('check-payment').click();
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  it('subscribes to Enterprise, then schedules a downgrade to Pro at the term end', async () => {
    await page.goto(`${server.base}/signup`);
    await page.getByLabel('Organisation name').fill('Toko Perpanjang');
    await page.getByLabel('Email').fill(`renew-${Date.now()}@example.com`);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('plan-name').waitFor();
    await go({ label: 'Billing', url: '/billing' });
    const subscription = page.getByTestId('subscription');
    await subscription.waitFor();
    await page.getByRole('button', { name: 'Subscribe: Enterprise (monthly)' }).click();
    await page.getByTestId('pay-link').click();
    amounts.enterprise = await payInSandbox();
    assert.ok(amounts.enterprise > 299000, `Enterprise costs more than Pro: ${amounts.enterprise}`);
    await until(async () => (await subscription.getAttribute('data-plan').catch(() => null)) === 'enterprise', 'Enterprise');
    assert.equal(await subscription.getAttribute('data-status'), 'active');

    // Pro costs less than Enterprise: a downgrade, nothing to pay now, effective at the term end.
    await page.getByRole('button', { name: 'Downgrade: Pro (monthly)' }).click();
    await page.getByTestId('checkout-result').getByText(/^Pro is scheduled from .+; you keep your current plan until then and pay nothing now\.$/).waitFor();
    await page.getByTestId('sub-scheduled').waitFor();
    assert.match(await page.getByTestId('sub-scheduled').textContent(), /^Scheduled: Pro from .+ \(nothing to pay now\)\.$/);
    assert.equal(await subscription.getAttribute('data-plan'), 'enterprise', 'Enterprise is kept until the term end');
    // Checking out the current plan would withdraw the downgrade.
    await page.getByRole('button', { name: 'Keep Enterprise' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('.state-loading'));
    await checkA11y('billing (downgrade scheduled)');
    await screenshots(page, 'billing-downgrade');
  });

  it('pays the renewal invoice (for the downgraded plan) through the SIMULATED sandbox', async () => {
    const renewal = page.locator('[data-testid="term-invoices"] tr[data-kind="renewal"][data-status="open"]');
    await until(async () => (await renewal.count()) === 1, 'an open renewal invoice');
    // The renewal is for the plan scheduled next, at its price, due at the current term's end.
    assert.match(await renewal.textContent(), /renewal.*Pro \(monthly\).*IDR 299,000/);
    assert.match(await page.getByTestId('sub-renewal').textContent(), /^Renewal invoice for Pro \(monthly\): IDR 299,000, due by .+\./);
    await checkA11y('billing (renewal due)');
    await screenshots(page, 'billing-renewal-due');
    await renewal.getByRole('button', { name: 'Pay' }).click();
    amounts.renewal = await payInSandbox();
    assert.equal(amounts.renewal, 299000);
    const paid = page.locator('[data-testid="term-invoices"] tr[data-kind="renewal"][data-status="paid"]');
    await until(async () => (await paid.count()) === 1, 'the renewal invoice paid');
    assert.equal(await page.getByTestId('sub-renewal').count(), 0, 'no renewal due any more');
    // The next term is paid, and still starts at the current term's end: Enterprise until then.
    assert.equal(await page.getByTestId('subscription').getAttribute('data-plan'), 'enterprise');
    await page.locator('[data-testid="orders"] tr[data-status="paid"]').nth(1).waitFor();
    await page.waitForFunction(() => !document.querySelector('.state-loading'));
    await checkA11y('billing (renewal paid)');
    await screenshots(page, 'billing-renewal-paid');
  });

  it('shows the operator MRR, paying tenants, cash and churn per month', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'Asia/Jakarta' });
    const op = await ctx.newPage();
    op.on('pageerror', (e) => pageErrors.push(e.message));
    const prev = page;
    page = op;
    try {
      await op.goto(`${server.base}/operator/signin`);
      await op.getByLabel('Email').fill(server.operator);
      await op.getByLabel('Password').fill(OPERATOR_PASSWORD);
      await op.getByRole('button', { name: 'Sign in' }).click();
      await op.waitForURL((u) => u.pathname === '/operator');
      await go({ label: 'MRR and churn', url: '/operator/subscriptions' });
      const table = op.getByTestId('subs-table');
      await table.waitFor();
      const rupiah = (n) => `IDR ${n.toLocaleString('en-US')}`;
      // This month: the Enterprise term runs now (the paid Pro renewal starts at its end), one
      // paying tenant, new this month; cash is both payments; nobody paid at the month's start.
      const month = op.locator('[data-testid="subs-table"] tbody tr').last();
      assert.equal((await month.getByTestId('mrr').textContent()).trim(), rupiah(amounts.enterprise));
      assert.equal((await month.getByTestId('paying').textContent()).trim(), '1');
      assert.equal((await month.getByTestId('churn').textContent()).trim(), '—');
      assert.match(await month.textContent(), new RegExp(rupiah(amounts.enterprise + amounts.renewal).replace(/[.,]/g, '.') + '$'));
      assert.equal(await op.getByTestId('subs-reconciliation').getAttribute('data-ok'), 'true');
      assert.match(await op.getByTestId('subs-stats').textContent(), new RegExp(`${rupiah(amounts.enterprise)}1 paying tenants`));
      await op.waitForFunction(() => !document.querySelector('.state-loading'));
      await checkA11y('op-subscriptions');
      await screenshots(op, 'op-subscriptions-paid');
      // In Bahasa Indonesia: rupiah as Rp, the churn still undefined.
      await op.getByTestId('lang').selectOption('id');
      await op.getByRole('heading', { level: 1, name: 'MRR dan churn' }).waitFor();
      assert.equal((await month.getByTestId('mrr').textContent()).trim(), `Rp ${amounts.enterprise.toLocaleString('id-ID')}`);
      await checkA11y('op-subscriptions (id)');
      await screenshots(op, 'op-subscriptions-id');
    } finally {
      page = prev;
      await ctx.close();
    }
  });
});

// Horizons as a product: a server whose first run trains and replays the platform models of
// horizons 1 and 24. The signals page offers both; choosing 24 fetches the 24-bar model's latest
// signal (one metered call, horizon=24) and its track record for the chart; the choice is kept for
// the session (the track record page opens on it) and switching back works. On Pro the stream's
// horizon-1 signals move the chart but never replace the 24-bar card.
describe('horizons: the signals and track record pages follow the chosen model horizon', { timeout: 300_000, skip: noBrowser }, () => {
  const requests = []; // URLs of the signal reads the page made
  const bodies = []; // [URL, JSON answer] of the signal reads, in the order they arrived
  before(async () => {
    server = await startServer({ lines: 3800, replay: 72, extraEnv: { SINYAL_FIRST_RUN_HORIZONS: '1,24' } }); // training needs ~3,600 bars (3,437 labelled rows)
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'Asia/Jakarta' });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => /\/api\/v1\/(signals|models)/.test(r.url()) && requests.push(r.url()));
    page.on('response', async (r) => {
      if (/\/api\/v1\/signals/.test(r.url()) && r.status() === 200) bodies.push([r.url(), await r.json().catch(() => null)]);
    });
  });

  after(async () => {
    assert.deepEqual(pageErrors, [], `script errors: ${JSON.stringify(pageErrors)}`);
    await browser?.close();
    await server?.stop();
  });

  const latestCalls = () => requests.filter((u) => new URL(u).pathname === '/api/v1/signals/latest');
  const horizonOf = (u) => new URL(u).searchParams.get('horizon') ?? '1';
  const radio = (name) => page.getByRole('group', { name: 'Horizon (model)' }).getByRole('radio', { name, exact: true });

  // The chart and the card of `h`: the chart shows the signals of the /signals?horizon=h answer,
  // all of them of horizon h, and the card the latest signal of horizon h.
  async function expectHorizon(h, label) {
    await page.waitForFunction((h) => document.querySelector('[data-testid="chart"][data-ready="1"]')?.getAttribute('data-horizon') === String(h), h, { timeout: 30_000 });
    await page.waitForFunction((h) => document.querySelector('[data-testid="latest-signal"]')?.getAttribute('data-horizon') === String(h), h, { timeout: 30_000 });
    assert.equal(await page.getByTestId('signal-horizon').textContent(), label);
    await page.getByRole('heading', { name: `Latest signal: ${label}` }).waitFor();
    const historyOf = () => bodies.filter(([u]) => new URL(u).pathname === '/api/v1/signals' && horizonOf(u) === String(h)).at(-1);
    for (let i = 0; i < 50 && !historyOf(); i++) await page.waitForTimeout(100); // the answer is read asynchronously
    const history = historyOf();
    assert.ok(history, `a /api/v1/signals read of horizon ${h}: ${JSON.stringify(requests)}`);
    const signals = history[1].signals;
    assert.ok(signals.length >= 10, `horizon ${h}: ${signals.length} signals in the track record`);
    assert.deepEqual([...new Set(signals.map((s) => s.horizon))], [h], 'the track record of that model line only');
    const chart = page.getByTestId('chart');
    assert.equal(Number(await chart.getAttribute('data-signals')), signals.length);
    assert.equal(Number(await chart.getAttribute('data-markers')), signals.filter((s) => s.prediction !== 'neutral').length);
    const latestOf = () => bodies.filter(([u]) => new URL(u).pathname === '/api/v1/signals/latest').at(-1);
    for (let i = 0; i < 50 && (!latestOf() || horizonOf(latestOf()[0]) !== String(h)); i++) await page.waitForTimeout(100);
    const latest = latestOf();
    assert.equal(horizonOf(latest[0]), String(h));
    assert.equal(latest[1].horizon, h);
    assert.equal(await page.getByTestId('latest-signal').getAttribute('data-bar-time'), latest[1].bar_time);
  }

  it('offers the served horizons, shows the 24-bar model when chosen, and switches back', async () => {
    await page.goto(`${server.base}/signup`);
    await page.getByLabel('Organisation name').fill('Toko Horizon');
    await page.getByLabel('Email').fill(`horizon-${Date.now()}@example.com`);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('plan-name').waitFor();
    await go({ label: 'Signals', url: '/signals' });

    // Default: horizon 1, and the one metered read is horizon 1's.
    await radio('next bar (1 hour)').waitFor();
    assert.equal(await radio('next bar (1 hour)').isChecked(), true);
    assert.equal(await radio('next 24 bars (24 hours)').isChecked(), false);
    assert.equal(await page.getByTestId('horizon-picker').getByRole('radio').count(), 2, 'the horizons served: 1 and 24');
    await expectHorizon(1, 'next bar (1 hour)');
    assert.deepEqual(latestCalls().map(horizonOf), ['1']);
    await checkA11y('signals (horizons)');

    // The keyboard moves within the radio group: horizon 24.
    await radio('next bar (1 hour)').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await radio('next 24 bars (24 hours)').isChecked(), true);
    await expectHorizon(24, 'next 24 bars (24 hours)');
    assert.deepEqual(latestCalls().map(horizonOf), ['1', '24'], 'one metered read per chosen horizon, never all of them');
    await page.getByRole('heading', { name: 'EURUSD H1 · next 24 bars (24 hours)' }).waitFor();
    await checkA11y('signals (horizon 24)');
    await screenshots(page, 'signals-h24');

    // Kept for the session: the track record opens on horizon 24 (its performance too).
    await go({ label: 'Track record', url: '/track-record' });
    await page.locator('[data-testid="track"][data-horizon="24"]').waitFor({ timeout: 30_000 });
    assert.equal(await radio('next 24 bars (24 hours)').isChecked(), true);
    assert.ok(requests.some((u) => new URL(u).pathname === '/api/v1/signals/performance' && horizonOf(u) === '24'), 'performance of horizon 24');
    await page.getByText('Model line: next 24 bars (24 hours)').waitFor();
    assert.ok(Number(await page.getByTestId('track').getAttribute('data-resolved')) > 0, 'resolved 24-bar signals');
    await checkA11y('track record (horizon 24)');
    await screenshots(page, 'track-h24');
    await radio('next bar (1 hour)').click();
    await page.locator('[data-testid="track"][data-horizon="1"]').waitFor({ timeout: 30_000 });
    assert.ok(requests.some((u) => new URL(u).pathname === '/api/v1/signals/performance' && horizonOf(u) === '1'));

    // Back on the signals page: horizon 1 again.
    await go({ label: 'Signals', url: '/signals' });
    await expectHorizon(1, 'next bar (1 hour)');
    assert.equal(await radio('next bar (1 hour)').isChecked(), true);
    assert.deepEqual(latestCalls().map(horizonOf), ['1', '24', '1']);

    // In Bahasa Indonesia.
    await page.getByTestId('lang').selectOption('id');
    await page.getByRole('group', { name: 'Horizon (model)' }).getByRole('radio', { name: '24 bar berikutnya (24 jam)' }).waitFor();
    assert.equal(await page.getByTestId('signal-horizon').textContent(), 'bar berikutnya (1 jam)');
    await page.getByTestId('lang').selectOption('en');
  });

  it('on Pro: the stream\'s horizon-1 signals move the chart but never replace the 24-bar card', async () => {
    await go({ label: 'Billing', url: '/billing' });
    const subscription = page.getByTestId('subscription');
    await subscription.waitFor();
    await page.getByRole('button', { name: 'Subscribe: Pro (monthly)' }).click();
    await page.getByTestId('pay-link').click();
    await page.locator('#sandbox-banner').waitFor();
    assert.match(await page.locator('#sandbox-banner').textContent(), /SIMULATED/);
    await page.locator('#sandbox-action-pay').click();
    await page.waitForFunction(() => document.querySelector('#sandbox-status')?.getAttribute('data-status') === 'settlement', null, { timeout: 15_000 });
    await page.goto(`${server.base}/billing`);
    for (let i = 0; i < 30 && (await subscription.getAttribute('data-plan').catch(() => null)) !== 'pro'; i++) {
      await page.waitForTimeout(500);
      await page.getByTestId('check-payment').click();
    }
    assert.equal(await subscription.getAttribute('data-plan'), 'pro');

    await go({ label: 'Signals', url: '/signals' });
    await radio('next 24 bars (24 hours)').check();
    await expectHorizon(24, 'next 24 bars (24 hours)');
    const text = await page.getByTestId('latest-signal').textContent();
    assert.match(text, /Calibrated confidence\s*\d+(\.\d)?%|Neutral/);
    // The live note says the stream follows horizon 1.
    await page.getByText('The stream carries 1-bar signals only, so the latest signal for the next 24 bars (24 hours) is not updated live').waitFor({ timeout: 15_000 });
    const cardBar = await page.getByTestId('latest-signal').getAttribute('data-bar-time');
    const chart = page.getByTestId('chart');
    const lastBarBefore = await chart.getAttribute('data-last-bar');
    const metered = latestCalls().length;
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const newBar = await pushNextHour(await operatorToken());
    assert.equal(Date.parse(newBar) - Date.parse(lastBarBefore), 3600_000);
    // The chart moves to the new bar, still with horizon 24's markers ...
    await page.waitForFunction((t) => document.querySelector('[data-testid="chart"]')?.getAttribute('data-last-bar') === t, newBar, { timeout: 30_000 });
    assert.equal(await chart.getAttribute('data-horizon'), '24');
    // ... and the 24-bar card is neither replaced by the stream's 1-bar signal nor re-fetched.
    await page.waitForTimeout(1000);
    assert.equal(await page.getByTestId('latest-signal').getAttribute('data-horizon'), '24');
    assert.equal(await page.getByTestId('latest-signal').getAttribute('data-bar-time'), cardBar);
    assert.equal(latestCalls().length, metered, 'no metered read without the user asking');
    await screenshots(page, 'signals-h24-live');
    // The user's refresh fetches the 24-bar model's signal of the new bar (one metered call).
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForFunction((t) => document.querySelector('[data-testid="latest-signal"]')?.getAttribute('data-bar-time') === t, newBar, { timeout: 30_000 });
    assert.equal(await page.getByTestId('latest-signal').getAttribute('data-horizon'), '24');
    assert.deepEqual(latestCalls().slice(metered).map(horizonOf), ['24']);
    // Horizon 1 shows the new bar's signal as well, and takes stream updates again.
    await radio('next bar (1 hour)').check();
    await page.waitForFunction((t) => document.querySelector('[data-testid="latest-signal"][data-horizon="1"]')?.getAttribute('data-bar-time') === t, newBar, { timeout: 30_000 });
    await page.getByText('Live: new signals arrive as bars close.').waitFor();
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'updated without a reload');

    // On Pro the track record of horizon 24 has its reliability diagram (P(up) is not gated).
    await go({ label: 'Track record', url: '/track-record' });
    await radio('next 24 bars (24 hours)').check();
    await page.locator('[data-testid="track"][data-horizon="24"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('reliability').waitFor();
    await checkA11y('track record (horizon 24, pro)');
    await screenshots(page, 'track-h24-pro');
  });
});
