// The page's one door into the library. In this repository it re-exports the sources, so the page always
// matches them; an app of your own would write `export * from 'neurostagenet'` (or import from it directly).
export * from '../../src/index.js';
