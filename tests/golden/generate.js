#!/usr/bin/env node
// Writes TA-Lib golden fixtures for Sinyal's indicator tests.
//
//   node generate.js <outdir>
//
// Reads real bars from $SINYAL_DATA_DIR (default: ../shared/data/market beside the repository
// root; without it, the repository's own data/sample, where only the H1 files exist), runs every indicator case below through npm `talib` 1.1.6 (TA-Lib C built from source
// in node_modules) and writes one JSON file per data file plus manifest.json into <outdir>.
// Fixtures are generated into the build directory and never committed.
// Each output is stored from its begIndex on (TA-Lib's lookback); numbers are written by
// JSON.stringify, i.e. the shortest text that reads back as the same double.
'use strict';
const fs = require('fs');
const path = require('path');
const talib = require('talib');

const repoRoot = path.resolve(__dirname, '..', '..');
const sharedDir = path.resolve(repoRoot, '..', 'shared', 'data', 'market');
const sampleDir = path.resolve(repoRoot, 'data', 'sample');
const dataDir = process.env.SINYAL_DATA_DIR || (fs.existsSync(path.join(sharedDir, 'EURUSD_H1.csv')) ? sharedDir : sampleDir);
const usingSample = path.resolve(dataDir) === sampleDir;
const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node generate.js <outdir>');
  process.exit(2);
}

// Data files and their column names (the C++ side imports the same files with its importer).
const FILES = [
  { id: 'EURUSD_H1', file: 'EURUSD_H1.csv', cols: ['OPEN', 'HIGH', 'LOW', 'CLOSE', 'TICKVOL'] },
  { id: 'USDJPY_H1', file: 'USDJPY_H1.csv', cols: ['Open', 'High', 'Low', 'Close', 'TickVolume'] },
  { id: 'XAUUSD_H1', file: 'XAUUSD_H1.csv', cols: ['Open', 'High', 'Low', 'Close', 'TickVolume'] },
  { id: 'EURUSD_D1', file: 'daily/EURUSD_D1.csv', cols: ['open', 'high', 'low', 'close', 'volume'] },
  { id: 'GBPUSD_H1_UTC', file: 'alt_utc/GBPUSD_H1.csv', cols: ['Open', 'High', 'Low', 'Close', 'Volume'] },
];

// Indicator cases: TA-Lib function, parameters, inputs. Unusual parameters (period 1 or 2,
// swapped MACD periods, asymmetric bands) are here on purpose.
const P = (n) => ({ optInTimePeriod: n });
const CASES = [
  ['SMA', P(20), 'c'], ['SMA', P(2), 'c'], ['SMA', P(200), 'c'],
  ['EMA', P(20), 'c'], ['EMA', P(2), 'c'], ['EMA', P(50), 'c'],
  ['RSI', P(14), 'c'], ['RSI', P(2), 'c'], ['RSI', P(50), 'c'],
  ['MACD', { optInFastPeriod: 12, optInSlowPeriod: 26, optInSignalPeriod: 9 }, 'c'],
  // Swapped fast/slow. (Signal 1 is not tested: TA-Lib reads outside its buffer for it.)
  ['MACD', { optInFastPeriod: 26, optInSlowPeriod: 12, optInSignalPeriod: 2 }, 'c'],
  ['MACD', { optInFastPeriod: 5, optInSlowPeriod: 35, optInSignalPeriod: 5 }, 'c'],
  ['BBANDS', { optInTimePeriod: 20, optInNbDevUp: 2, optInNbDevDn: 2, optInMAType: 0 }, 'c'],
  ['BBANDS', { optInTimePeriod: 10, optInNbDevUp: 1.5, optInNbDevDn: 2.5, optInMAType: 0 }, 'c'],
  ['BBANDS', { optInTimePeriod: 5, optInNbDevUp: 1, optInNbDevDn: 1, optInMAType: 0 }, 'c'],
  ['ATR', P(14), 'hlc'], ['ATR', P(1), 'hlc'], ['ATR', P(2), 'hlc'],
  ['ADX', P(14), 'hlc'], ['ADX', P(2), 'hlc'], ['ADX', P(30), 'hlc'],
  ['PLUS_DI', P(14), 'hlc'], ['MINUS_DI', P(14), 'hlc'], ['PLUS_DI', P(2), 'hlc'], ['MINUS_DI', P(30), 'hlc'],
  ['STOCH', { optInFastK_Period: 14, optInSlowK_Period: 3, optInSlowK_MAType: 0, optInSlowD_Period: 3, optInSlowD_MAType: 0 }, 'hlc'],
  ['STOCH', { optInFastK_Period: 5, optInSlowK_Period: 3, optInSlowK_MAType: 0, optInSlowD_Period: 3, optInSlowD_MAType: 0 }, 'hlc'],
  ['STOCH', { optInFastK_Period: 1, optInSlowK_Period: 1, optInSlowK_MAType: 0, optInSlowD_Period: 1, optInSlowD_MAType: 0 }, 'hlc'],
  ['CCI', P(20), 'hlc'], ['CCI', P(14), 'hlc'], ['CCI', P(2), 'hlc'],
  ['WILLR', P(14), 'hlc'], ['WILLR', P(2), 'hlc'],
  ['ROC', P(10), 'c'], ['ROC', P(1), 'c'],
  ['OBV', {}, 'cv'],
  ['MFI', P(14), 'hlcv'], ['MFI', P(2), 'hlcv'],
];

function readColumns(spec) {
  const text = fs.readFileSync(path.join(dataDir, spec.file), 'utf8');
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0].split(',');
  const idx = spec.cols.map((name) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${spec.file}: no column ${name}`);
    return i;
  });
  const cols = { open: [], high: [], low: [], close: [], volume: [] };
  const keys = ['open', 'high', 'low', 'close', 'volume'];
  for (let r = 1; r < lines.length; r++) {
    const f = lines[r].split(',');
    keys.forEach((k, j) => {
      const v = parseFloat(f[idx[j]]);
      if (!Number.isFinite(v)) throw new Error(`${spec.file}:${r + 1}: bad number`);
      cols[k].push(v);
    });
  }
  return cols;
}

function run(fn, params, inputs, cols) {
  const n = cols.close.length;
  const args = Object.assign({ name: fn, startIdx: 0, endIdx: n - 1 }, params);
  if (inputs === 'c') args.inReal = cols.close;
  if (inputs.startsWith('hlc')) Object.assign(args, { high: cols.high, low: cols.low, close: cols.close });
  if (inputs === 'hlcv') args.volume = cols.volume;
  if (inputs === 'cv') Object.assign(args, { inReal: cols.close, volume: cols.volume });
  const r = talib.execute(args);
  if (r.error) throw new Error(`${fn}: ${r.error}`);
  return { begIndex: r.begIndex, nbElement: r.nbElement, outputs: r.result };
}

fs.mkdirSync(outDir, { recursive: true });
const manifest = { talib_version: talib.version, generated_by: 'tests/golden/generate.js', data_dir: dataDir, fixtures: [] };
for (const spec of FILES) {
  // The sample holds a slice of the H1 files only; every file must exist in the full set.
  if (usingSample && !fs.existsSync(path.join(dataDir, spec.file))) {
    console.log(`${spec.file}: not in data/sample, skipped (the full set in ../shared/data/market has it)`);
    continue;
  }
  const cols = readColumns(spec);
  const fixture = {
    id: spec.id, file: spec.file, rows: cols.close.length,
    first_close: cols.close[0], last_close: cols.close[cols.close.length - 1],
    cases: [],
  };
  for (const [fn, params, inputs] of CASES) {
    const r = run(fn, params, inputs, cols);
    fixture.cases.push({ fn, params, begIndex: r.begIndex, nbElement: r.nbElement, outputs: r.outputs });
  }
  const name = `${spec.id}.json`;
  fs.writeFileSync(path.join(outDir, name), JSON.stringify(fixture));
  manifest.fixtures.push({ id: spec.id, file: spec.file, fixture: name, rows: fixture.rows, cases: fixture.cases.length });
  console.log(`${name}: ${fixture.rows} bars, ${fixture.cases.length} cases`);
}
fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 1));
console.log(`fixtures written to ${outDir} (talib ${talib.version})`);
