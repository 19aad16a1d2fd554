// docs/api.md lists every entry's public names: it must say what the sources export.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { apiMapInDocs, readEntryNames, renderApiMap } from '../../scripts/api-map.js';

describe('the API map (docs/api.md)', () => {
  const entries = readEntryNames();

  it('matches the names the entries export (regenerate with `npx tsx scripts/api-map.ts --write`)', () => {
    expect(apiMapInDocs()).toBe(renderApiMap(entries));
  });

  it('keeps the design card names in the root entry and internals out of every entry', () => {
    const root = entries.find((e) => e.specifier === 'neurostagenet')!;
    for (const name of ['GrayToRGBProjection', 'SEResidualBlock', 'DualPoolHead', 'ParquetImageDataset', 'StratifiedSplit', 'GradCAM', 'MultiClassMetrics', 'buildNeuroStageNet']) {
      expect(root.values, name).toContain(name);
    }
    const internals = ['conv2DBackpropFilterWasm', 'fusedBatchNormGradConfig', 'deriveSeed', 'kerasCorrectPad', 'formatFixed', 'binEdges', 'percentileOfSorted', 'sampleBeta', 'pixelOrder'];
    for (const e of entries) for (const name of internals) expect(e.values, `${e.specifier} exports ${name}`).not.toContain(name);
  });

  it('keeps Node-only functions out of the root entry', () => {
    const root = entries.find((e) => e.specifier === 'neurostagenet')!;
    for (const name of ['saveModel', 'loadModel', 'writePng', 'writeEvaluationReport', 'renderRocCurvesPng', 'loadKerasWeights']) expect(root.values).not.toContain(name);
  });

  it('every name the README and docs/ import from an entry is exported by that entry', () => {
    const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const files = ['README.md', ...readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const byEntry = new Map(entries.map((e) => [e.specifier, new Set([...e.values, ...e.types])]));
    const wrong: string[] = [];
    let checked = 0;
    for (const file of files) {
      const text = readFileSync(path.join(repoRoot, file), 'utf8');
      for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(neurostagenet[^']*)'/g)) {
        const names = byEntry.get(m[2]);
        for (const item of m[1].split(',').map((x) => x.trim()).filter(Boolean)) {
          const name = item.replace(/^type\s+/, '').split(/\s+as\s+/)[0];
          checked++;
          if (!names?.has(name)) wrong.push(`${file}: ${name} from '${m[2]}'`);
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
    expect(wrong).toEqual([]);
  });
});
