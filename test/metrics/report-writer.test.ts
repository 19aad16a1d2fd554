import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodePng } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { MultiClassMetrics, applyTemperature, fitTemperature, formatClassificationReport } from '../../src/index.js';
import { renderRocCurvesPng, writeEvaluationReport } from '../../src/node/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const cases = (
  JSON.parse(readFileSync(resolve(here, '../fixtures/metrics/metrics_cases.json'), 'utf8')) as {
    cases: { name: string; numClasses: number; classNames: string[]; ordinalOrder: number[]; labels: number[]; probabilities: number[][] }[];
  }
).cases;
const alz = cases.find((c) => c.name === 'alzheimer-like')!;
const out = mkdtempSync(join(tmpdir(), 'nsn-report-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A PNG's pixels as 8-bit RGBA (the plots are 8-bit RGB or RGBA). */
function readPng(bytes: Uint8Array): Rgba {
  const png = decodePng(bytes);
  expect(png.depth).toBe(8);
  expect([3, 4]).toContain(png.channels);
  const n = png.width * png.height;
  const data = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) data[4 * i + c] = png.data[png.channels * i + c]!;
    data[4 * i + 3] = png.channels === 4 ? png.data[4 * i + 3]! : 255;
  }
  return { width: png.width, height: png.height, data };
}

function hasColour(png: Rgba, hex: string, tolerance = 6): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (Math.abs(png.data[i] - r) <= tolerance && Math.abs(png.data[i + 1] - g) <= tolerance && Math.abs(png.data[i + 2] - b) <= tolerance) n++;
  }
  return n;
}

describe('writeEvaluationReport', () => {
  // Overconfident synthetic logits so that temperature scaling has something to fix.
  const logits = alz.probabilities.map((row) => row.map((p) => 2.5 * Math.log(p)));
  const fit = fitTemperature(logits, alz.labels);
  const opts = { numClasses: 4, classNames: alz.classNames, ordinalOrder: alz.ordinalOrder };
  const before = new MultiClassMetrics(opts).update(alz.labels, applyTemperature(logits, 1)).compute();
  const after = new MultiClassMetrics(opts).update(alz.labels, applyTemperature(logits, fit.temperature)).compute();

  it('writes metrics.json, report.txt and three 2x PNGs', async () => {
    const files = await writeEvaluationReport(before, out, { calibrated: after, temperature: fit, title: 'Synthetic' });
    const json = JSON.parse(readFileSync(files.metricsJson, 'utf8'));
    expect(json.accuracy).toBe(before.accuracy);
    expect(json.perClass.map((m: { auc: number }) => m.auc)).toEqual(before.perClass.map((m) => m.auc));
    expect(json.confusionMatrix).toEqual(before.confusionMatrix);
    expect(json.roc[0].thresholds[0]).toBeNull(); // Infinity has no JSON form
    expect(json.calibration.temperature).toBe(fit.temperature);
    expect(json.calibration.eceAfter).toBeLessThan(json.calibration.eceBefore);

    const report = readFileSync(files.reportTxt, 'utf8');
    expect(report).toContain(formatClassificationReport(before));
    expect(report).toMatch(/quadratic kappa \(Non < Very Mild < Mild < Moderate\)/);
    expect(report).toContain(`temperature T  ${fit.temperature.toFixed(4)}`);

    for (const [file, minW, minH] of [
      [files.confusionMatrixPng, 900, 900],
      [files.rocCurvesPng, 1200, 1200],
      [files.reliabilityDiagramPng, 1800, 1100],
    ] as const) {
      const png = readPng(readFileSync(file));
      expect(png.width, file).toBeGreaterThanOrEqual(minW);
      expect(png.height, file).toBeGreaterThanOrEqual(minH);
      let ink = 0;
      for (let i = 0; i < png.data.length; i += 4) if (png.data[i] < 200) ink++;
      expect(ink / (png.width * png.height), file).toBeGreaterThan(0.02);
    }
  });

  it('draws a curve for each class with an AUC and none for an absent class', async () => {
    const c = cases.find((x) => x.name === 'missing-class-1')!; // class 1 absent
    const r = new MultiClassMetrics({ numClasses: 4 }).update(c.labels, c.probabilities).compute();
    const png = readPng(await renderRocCurvesPng(r, { scale: 1 }));
    expect(png.width).toBe(620);
    expect(hasColour(png, '#1f77b4')).toBeGreaterThan(200); // class 0 curve
    expect(hasColour(png, '#2ca02c')).toBeGreaterThan(200); // class 2
    expect(hasColour(png, '#ff7f0e')).toBe(0); // class 1: no curve, grey legend entry
  });
});
