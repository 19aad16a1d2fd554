// The page's one door into the library. In this repository it re-exports the sources, so the page always
// matches them; an app of your own would write `export * from 'neurostagenet'` (or import from it directly).
export * from '../../src/index.js';
// Not re-exported by src/index.ts yet (the pretrained-model loader is being added): taken from its module.
export { ALZHEIMER_CLASS_NAMES, ALZHEIMER_SEVERITY_ORDER } from '../../src/models/pretrained.js';
