import { ParquetImageDataset, StratifiedSplit } from '/work/main/src/index.js';
const ds = await ParquetImageDataset.fromFile('/work/shared/data/alzheimer-mri-subjects/train.parquet');
console.log(ds.length, ds.subjects?.slice(0,3), ds.slices?.slice(0,3), new Set(ds.subjects).size, ds.loadStats);
const sp = new StratifiedSplit({ testSize: 0.2, seed: 42 }).splitSource(ds);
const vs = new Set(Array.from(sp.test, i => ds.subjects![i])); const ts = new Set(Array.from(sp.train, i => ds.subjects![i]));
console.log(sp.train.length, sp.test.length, vs.size, ts.size, [...vs].filter(s => ts.has(s)).length);
const perClass = [0,0,0,0]; for (const s of vs) { const i = ds.subjects!.indexOf(s); perClass[ds.labels[i]]++; } console.log('val people per class', perClass);
