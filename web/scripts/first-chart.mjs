// Time to first chart on a fresh machine, for docs/benchmarks.md: what `scripts/run.sh` does after
// the build, timed. A new, empty data directory; `sinyal serve` started from the repository root
// with its defaults (SQLite in that directory, the dashboard from web/dist, the first run importing
// data/sample and training the platform default models); a user signs up through the API; Debian's
// chromium (headless, playwright-core, started before the server, as a user's browser is open
// already) opens the signals page and reloads it every 2 s until the chart is drawn, then until
// the latest signal is shown. All times are from the spawn of
// `sinyal serve`:
//   ready         /readyz answers 200
//   imported      the first run has imported the sample (log event first_run, stage "train")
//   first chart   the signals page has drawn the candles (chart data-ready="1")
//   first signal  the signals page shows a signal next to its chart (the latest signal, which the
//                 server computes on request once the series' model is trained)
//   trained       every platform model is trained (first_run stage "replay")
//   done          the first run's replay has finished (first_run stage "done")
// and, per run, the training time of the models per horizon (the first run's "trained" events).
// Each run is a new data directory and a new server; the figures are the median over --runs (3).
// Usage (after scripts/build.sh, from anywhere):  node web/scripts/first-chart.mjs [--runs 3] [--keep]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESKTOP, freePort, launchBrowser, repo, sinyalBin, webDist } from '../tests/harness.mjs';

if (!existsSync(sinyalBin)) throw new Error(`${sinyalBin} missing: run scripts/build.sh first`);
if (!existsSync(join(webDist, 'index.html'))) throw new Error('web/dist missing: run scripts/build.sh first');
if (!existsSync(join(repo, 'data/sample/first_run.tsv'))) throw new Error('data/sample/first_run.tsv missing');

// The browser is started first: a user has theirs open already.
const browser = await launchBrowser();
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3);
const order = ['ready', 'imported', 'first chart', 'first signal', 'trained', 'done'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(i) {
  const dir = mkdtempSync(join(tmpdir(), 'sinyal-first-chart-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = [];
  const marks = {};
  const t0 = performance.now();
  const mark = (name) => {
    if (marks[name] === undefined) marks[name] = (performance.now() - t0) / 1000;
  };
  // Environment as a user's shell has it: no SINYAL_* overrides from a test run.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SINYAL_')));
  const proc = spawn(sinyalBin, ['serve', '--port', String(port), '--data-dir', dir], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const onLog = (d) => {
    const text = String(d);
    log.push(text);
    for (const line of text.split('\n')) {
      if (!line.includes('"first_run"')) continue;
      const stage = /"stage":"(\w+)"/.exec(line)?.[1];
      if (stage === 'train') mark('imported');
      if (stage === 'replay') mark('trained');
      if (stage === 'done') mark('done');
      if (stage === 'failed' || stage === 'skipped') marks.failure = line;
    }
  };
  proc.stdout.on('data', onLog);
  proc.stderr.on('data', onLog);

  function alive() {
    if (proc.exitCode !== null) throw new Error(`sinyal serve exited ${proc.exitCode}: ${log.join('')}`);
    if (marks.failure) throw new Error(`first run did not run: ${marks.failure}`);
  }

  let ctx;
  try {
    for (;;) {
      alive();
      const r = await fetch(`${base}/readyz`).catch(() => null);
      if (r?.status === 200) break;
      await sleep(50);
    }
    mark('ready');
    const reg = await fetch(`${base}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant_name: 'First chart', email: 'first-chart@example.com', password: 'a-long-passphrase' }),
    });
    if (reg.status !== 201 && reg.status !== 200) throw new Error(`sign up: ${reg.status} ${await reg.text()}`);
    const tokens = await reg.json();
    const session = { kind: 'user', email: 'first-chart@example.com', access_token: tokens.access_token, refresh_token: tokens.refresh_token, expires_at: Date.now() + tokens.expires_in * 1000 };

    ctx = await browser.newContext({ viewport: DESKTOP });
    await ctx.addInitScript((s) => localStorage.setItem('sinyal.session', s), JSON.stringify(session));
    const page = await ctx.newPage();
    const deadline = Date.now() + 60 * 60 * 1000;
    await page.goto(`${base}/signals`);
    while (marks['first signal'] === undefined) {
      alive();
      if (Date.now() > deadline) throw new Error('no signal within an hour');
      // The page has settled when nothing is loading any more and the chart, if there is one, is drawn.
      await page.waitForFunction(() => document.querySelector('h1') && !document.querySelector('.state-loading') && (!document.querySelector('[data-testid="chart"]') || document.querySelector('[data-testid="chart"][data-ready="1"]')), null, { timeout: 60_000 }).catch(() => {});
      if (await page.locator('[data-testid="chart"][data-ready="1"]').count()) mark('first chart');
      if (await page.getByTestId('latest-signal').count()) {
        mark('first signal');
        break;
      }
      await sleep(2000);
      await page.reload();
    }
    while (marks.done === undefined) {
      alive();
      await sleep(500);
    }
    const trainedLines = log.join('').split('\n').filter((l) => l.includes('"first_run"') && l.includes('"stage":"trained"'));
    console.log(`run ${i + 1}: ${order.map((k) => `${k} ${marks[k]?.toFixed(1)} s`).join(', ')} (${trainedLines.length} models trained)`);
    // Training time per horizon (each model: walk-forward report + final ensemble + storing).
    const byHorizon = {};
    for (const line of trainedLines) {
      try {
        const e = JSON.parse(line.slice(line.indexOf('{')));
        (byHorizon[e.horizon] ??= []).push(e.seconds);
      } catch {
        // not a JSON log line
      }
    }
    for (const [h, secs] of Object.entries(byHorizon)) {
      const sorted = [...secs].sort((a, b) => a - b);
      console.log(`  horizon ${h}: ${secs.length} models, ${sorted.reduce((a, b) => a + b, 0).toFixed(1)} s in all, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} s, max ${sorted[sorted.length - 1].toFixed(1)} s`);
    }
    return marks;
  } finally {
    await ctx?.close();
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
    else console.log(`data directory kept: ${dir}`);
  }
}

try {
  console.log(`time to first chart from a fresh data directory: ${new Date().toISOString()}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const all = [];
  for (let i = 0; i < runs; i++) all.push(await run(i));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`median of ${runs} runs (seconds from spawning sinyal serve):`);
  for (const k of order) console.log(`  ${k.padEnd(13)} ${median(all.map((m) => m[k])).toFixed(1)} s  (min ${Math.min(...all.map((m) => m[k])).toFixed(1)}, max ${Math.max(...all.map((m) => m[k])).toFixed(1)})`);
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  await browser.close();
}
