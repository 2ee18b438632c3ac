// Test harness for the dashboard: a real `sinyal serve` on a free loopback port (its own data
// directory and SQLite database, the built dashboard from web/dist), with real market data and a
// platform model, and Debian's chromium driven headless by playwright-core (no browser download).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const webDist = join(repo, 'web/dist');
export const sinyalBin = process.env.SINYAL_BIN ?? join(repo, 'build/bin/sinyal');
export const artifactsDir = process.env.SINYAL_WEB_ARTIFACTS ?? join(repo, 'build/web-artifacts');
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const OPERATOR_PASSWORD = 'operator-passphrase-1';

// The repo's sample (data/sample, helper H) when present, else the shared set.
export function sampleFile(name) {
  for (const dir of [join(repo, 'data/sample'), process.env.SINYAL_DATA_DIR, join(repo, '../shared/data/market')]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`market data file ${name} not found (data/sample or SINYAL_DATA_DIR)`);
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function cli(args, { input = '', env = {} } = {}) {
  const r = spawnSync(sinyalBin, [...args, '--log-level', 'warn'], { input, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sinyal ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

// Beside the sinyal binary unless SINYAL_FAKE_TELEGRAM_BIN names it (a sinyal built elsewhere).
export const fakeTelegramBin = process.env.SINYAL_FAKE_TELEGRAM_BIN ?? join(dirname(sinyalBin), 'sinyal-fake-telegram');

// The FAKE (simulated) Telegram Bot API server (src/notify/testing/fake_bot_api.h), its own process
// on a free loopback port. Resolves once it prints that it listens.
export async function startFakeTelegram() {
  if (!existsSync(fakeTelegramBin)) throw new Error(`${fakeTelegramBin} missing: build first (scripts/build.sh)`);
  const port = await freePort();
  const proc = spawn(fakeTelegramBin, ['--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`FAKE Telegram did not start: ${out.join('')}`)), 30_000);
    proc.stdout.on('data', (d) => {
      out.push(String(d));
      if (/listening on/.test(out.join(''))) {
        clearTimeout(timer);
        ok();
      }
    });
    proc.stderr.on('data', (d) => out.push(String(d)));
    proc.once('exit', (code) => fail(new Error(`FAKE Telegram exited ${code}: ${out.join('')}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const call = async (path, body) => {
    const r = await fetch(`${base}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (r.status !== 200) throw new Error(`FAKE Telegram ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  return {
    base,
    token: '123456:FAKE-telegram-token',
    // A message from a Telegram user to the bot.
    say: (from_id, text, extra = {}) => call('/fake/updates', { from_id, text, chat_type: 'private', ...extra }),
    // What the bot sent to a chat.
    sent: async (chat_id) => (await call(`/fake/sent?chat_id=${chat_id}`)).messages,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    },
  };
}

// A second platform series for backtests that trade: on the real EURUSD sample the walk-forward
// models show no skill and abstain (no trades), so the first run also imports REVERSING_SYMBOL H1,
// the sample's first REVERSING_LINES bar times with prices that alternate 1.0800 / 1.0808 (each
// bar reverses the last), as tests/e2e/trading_e2e_test.cc IngestReversingSeries does: a model
// trained on it calls directions, so a strategy trades. Not a 6-letter pair, so one unit per lot
// (backtest order.h SpecFor); it sorts after EURUSD, which stays every page's default series.
// Fewer bars than the first run's min_bars (3,000): it gets no platform model (no training time);
// a backtest trains its own, walk-forward.
export const REVERSING_SYMBOL = 'ZIGZAG1';
export const REVERSING_LINES = 1300;

function reversingSeries(src, lines) {
  const out = [src[0]];
  let prev = 1.08;
  for (const [i, line] of src.slice(1).filter(Boolean).slice(0, lines).entries()) {
    const f = line.split(',');
    if (f.length < 9) throw new Error(`unexpected sample line: ${line}`);
    const close = i % 2 === 0 ? 1.08 : 1.0808;
    const prices = [prev, Math.max(prev, close) + 0.0001, Math.min(prev, close) - 0.0001, close].map((x) => x.toFixed(5));
    out.push([f[0], f[1], ...prices, f[6], f[7], f[8]].join(','));
    prev = close;
  }
  return out.join('\n') + '\n';
}

// Starts a server whose first run (app/first_run.h) imports the newest `lines` bars of the sample's
// EURUSD H1, trains the platform default models on all but the newest `replay` of them and replays
// those through the live path, so the dashboard has real out-of-sample signals, resolved ones
// among them; it also imports the reversing series above. Resolves once the first run is done (its "first_run" log event).
// With `telegram`, the server's bot talks to a FAKE Telegram server started here (server.telegram).
export async function startServer({ lines = 4400, replay = 120, extraEnv = {}, telegram = false } = {}) {
  if (!existsSync(sinyalBin)) throw new Error(`${sinyalBin} missing: build first (scripts/build.sh)`);
  if (!existsSync(join(webDist, 'index.html'))) throw new Error('web/dist missing: npm run build in web/');
  const dir = mkdtempSync(join(tmpdir(), 'sinyal-web-'));
  const db = `sqlite://${dir}/sinyal.db`;
  const common = ['--database', db, '--data-dir', dir];
  const sample = join(dir, 'sample');
  mkdirSync(sample);
  const src = readFileSync(sampleFile('EURUSD_H1.csv'), 'utf8').split('\n');
  writeFileSync(join(sample, 'EURUSD_H1.csv'), [src[0], ...src.slice(1).filter(Boolean).slice(-(lines - 1))].join('\n') + '\n');
  writeFileSync(join(sample, `${REVERSING_SYMBOL}_H1.csv`), reversingSeries(src, REVERSING_LINES));
  writeFileSync(join(sample, 'first_run.tsv'), `EURUSD_H1.csv\tEURUSD\tH1\tNY+7\n${REVERSING_SYMBOL}_H1.csv\t${REVERSING_SYMBOL}\tH1\tNY+7\n`);
  const operator = `ops-${Date.now()}@sinyal.example`;
  cli(['admin', 'create-operator', '--email', operator, ...common], { input: `${OPERATOR_PASSWORD}\n` });
  const fake = telegram ? await startFakeTelegram() : null;
  const tgEnv = fake ? { SINYAL_TELEGRAM_BOT_TOKEN: fake.token, SINYAL_TELEGRAM_API_URL: fake.base } : {};
  const port = await freePort();
  const log = [];
  const proc = spawn(sinyalBin, ['serve', '--port', String(port), ...common, '--log-level', 'info'], {
    env: {
      ...process.env,
      SINYAL_SERVER_WEB_DIR: webDist,
      SINYAL_SERVER_DOCS_ASSETS_DIR: join(repo, 'web/node_modules/redoc/bundles'),
      SINYAL_AUTH_API_KEY_CACHE_TTL_SECONDS: '0', // a revoked key fails at once
      SINYAL_LOG_ACCESS_LOG: 'false',
      SINYAL_FIRST_RUN_ENABLED: 'true',
      SINYAL_FIRST_RUN_SAMPLE_DIR: sample,
      SINYAL_FIRST_RUN_REPLAY_BARS: String(replay),
      SINYAL_FIRST_RUN_HORIZONS: '1', // the dashboard shows horizon 1; three horizons would triple training
      ...tgEnv,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (d) => log.push(String(d)));
  proc.stderr.on('data', (d) => log.push(String(d)));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  const firstRunDone = () => /"event":"first_run"[^\n]*"stage":"(done|failed|skipped|stopped)"|"stage":"(done|failed|skipped|stopped)"[^\n]*"event":"first_run"/.exec(log.join(''));
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`sinyal serve exited ${proc.exitCode}: ${log.join('')}`);
      const done = firstRunDone();
      if (done) {
        if (!/done/.test(done[0])) throw new Error(`first run did not finish: ${log.join('')}`);
        break;
      }
      if (Date.now() > deadline) throw new Error(`first run not done in time: ${log.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    proc.kill('SIGTERM');
    await fake?.stop();
    throw e;
  }
  return {
    base,
    operator,
    log,
    telegram: fake,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      await fake?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // As machines/cpp.md says: no sandbox as root, no GPU, and no background networking (the
    // machine's network is closed).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return browser;
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

// Screenshots at desktop and phone width, saved as artifacts: <artifactsDir>/<name>-{desktop,phone}.png.
export async function screenshots(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const size = page.viewportSize();
  await page.setViewportSize(DESKTOP);
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(artifactsDir, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(artifactsDir, `${name}-phone.png`), fullPage: true });
  if (size) await page.setViewportSize(size);
}

const axeSource = readFileSync(join(repo, 'web/node_modules/axe-core/axe.min.js'), 'utf8');

// axe-core's WCAG 2.1 A/AA rules on the current page; returns the serious and critical violations.
export async function seriousViolations(page) {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy forbids inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

