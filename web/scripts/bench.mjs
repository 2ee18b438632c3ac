// Dashboard figures for docs/benchmarks.md:
//   - bundle size: the built JS and CSS in web/dist/assets, raw and gzip -9 (what `sinyal serve`
//     sends to a browser that accepts gzip);
//   - first load: time from navigation start to the first drawn chart on the signals page
//     (window.__sinyalFirstChart, set when the candles are drawn), in headless chromium against a
//     real `sinyal serve` on loopback; cold (new browser context, empty cache) and warm (reload).
// Usage (after scripts/build.sh):  node web/scripts/bench.mjs [--runs 7]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DESKTOP, launchBrowser, startServer, webDist } from '../tests/harness.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 7);

function bundle() {
  const dir = join(webDist, 'assets');
  const rows = [];
  for (const name of readdirSync(dir)) {
    if (!/\.(js|css)$/.test(name)) continue;
    const raw = readFileSync(join(dir, name));
    rows.push({ name, raw: raw.length, gzip: gzipSync(raw, { level: 9 }).length });
  }
  return rows;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

const files = bundle();
const js = files.filter((f) => f.name.endsWith('.js'));
console.log('bundle:');
for (const f of files) console.log(`  ${f.name}: ${(f.raw / 1024).toFixed(1)} KiB raw, ${(f.gzip / 1024).toFixed(1)} KiB gzip`);
console.log(`  JS total: ${(js.reduce((a, f) => a + f.raw, 0) / 1024).toFixed(1)} KiB raw, ${(js.reduce((a, f) => a + f.gzip, 0) / 1024).toFixed(1)} KiB gzip`);

const server = await startServer();
const browser = await launchBrowser();
try {
  const reg = await fetch(`${server.base}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenant_name: 'Bench', email: `bench-${Date.now()}@example.com`, password: 'a-long-passphrase' }),
  });
  const tokens = await reg.json();
  const session = { kind: 'user', email: 'bench@example.com', access_token: tokens.access_token, refresh_token: tokens.refresh_token, expires_at: Date.now() + tokens.expires_in * 1000 };
  const url = `${server.base}/signals?symbol=EURUSD&timeframe=H1`;
  // Warm the server's signal cache once, so every run measures the page, not the first signal.
  await fetch(`${server.base}/api/v1/signals/latest?symbol=EURUSD&timeframe=H1`, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
  const cold = [];
  const warm = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    await ctx.addInitScript((s) => localStorage.setItem('sinyal.session', s), JSON.stringify(session));
    const page = await ctx.newPage();
    const measure = async () => {
      await page.locator('[data-testid="chart"][data-ready="1"]').waitFor({ timeout: 30_000 });
      return page.evaluate(() => window.__sinyalFirstChart);
    };
    await page.goto(url);
    cold.push(await measure());
    await page.reload();
    warm.push(await measure());
    await ctx.close();
  }
  const c = stats(cold);
  const w = stats(warm);
  console.log(`first chart, cold cache (${runs} runs): median ${c.median.toFixed(0)} ms (min ${c.min.toFixed(0)}, max ${c.max.toFixed(0)})`);
  console.log(`first chart, warm cache (${runs} runs): median ${w.median.toFixed(0)} ms (min ${w.min.toFixed(0)}, max ${w.max.toFixed(0)})`);
} finally {
  await browser.close();
  await server.stop();
}
