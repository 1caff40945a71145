// The browsers the pages are built for (README: "The pages target ..."). esbuild lowers any
// newer syntax for them (class static blocks, for one, reach Safari only in 16.4); features
// it cannot lower, such as regex lookbehind, are kept out of the source (tests/support.test.ts).
export const BUILD_TARGET = ["es2022", "chrome98", "edge98", "firefox94", "safari15.4"];
