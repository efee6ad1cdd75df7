/**
 * Broadcast path patterns, as moq-pattern 0.1.3 defines them: the grammar, matching whole
 * segments, exact containment and overlap, and coverage of a request by a grant. The cases are
 * those of the Rust crate's own tests, so the two cannot drift apart unnoticed.
 */
import { deepEqual, equal, ok, throws } from "assert";
import {
  covers,
  matchesAny,
  MAX_SEGMENTS,
  Pattern,
  PatternError,
  type PatternErrorCode,
  type Segment,
} from "../src/auth/pattern.ts";

const p = (text: string) => Pattern.parse(text);
const deep = (n: number) =>
  Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i % 26)).join("/");
const refuses = (build: () => unknown, code: PatternErrorCode, what: string) =>
  throws(build, (err: unknown) => err instanceof PatternError && err.code === code, what);
const CODES = new Set<string>([
  "empty-segment",
  "invalid-segment",
  "multiple-globstars",
  "too-many-segments",
]);
/** `expected` is the canonical text of what is built, or the code of the PatternError thrown. */
function builds(build: () => Pattern, expected: string, what: string) {
  if (CODES.has(expected)) refuses(build, expected as PatternErrorCode, what);
  else equal(build().text, expected, what);
}

Deno.test("parse accepts the grammar and prints it canonically, ** before adjacent *", () => {
  const cases: [text: string, canonical: string][] = [
    ["", ""],
    ["a", "a"],
    ["a/b", "a/b"],
    ["a/b.hang", "a/b.hang"],
    ["*", "*"],
    ["**", "**"],
    ["a/*/b", "a/*/b"],
    ["**/transcode.pro", "**/transcode.pro"],
    ["a/**/b/*", "a/**/b/*"],
    ["**/*", "**/*"],
    ["**/*.hang", "**/*.hang"],
    ["foo*", "foo*"],
    ["foo.*.hang", "foo.*.hang"],
    ["a/*/**/b", "a/**/*/b"],
    ["*/**", "**/*"],
    ["*/*/**", "**/*/*"],
    ["a/*/*/**/*/b", "a/**/*/*/*/b"],
    ["*.hang/**", "*.hang/**"], // only a whole * commutes with **
    [deep(MAX_SEGMENTS), deep(MAX_SEGMENTS)],
  ];
  for (const [text, canonical] of cases) {
    const pattern = p(text);
    equal(pattern.text, canonical, text);
    equal(pattern.toString(), canonical, text);
    equal(p(canonical).text, canonical, `${canonical} is a fixed point`);
  }
});

Deno.test("parse refuses stray slashes, extra stars, a second ** and more than 32 segments", () => {
  const cases: [text: string, code: PatternErrorCode][] = [
    ["/a", "empty-segment"],
    ["a/", "empty-segment"],
    ["a//b", "empty-segment"],
    ["/", "empty-segment"],
    ["**/**", "multiple-globstars"],
    ["a/**/b/**", "multiple-globstars"],
    ["***", "invalid-segment"],
    ["a**", "invalid-segment"],
    ["**a", "invalid-segment"],
    ["a*b*c", "invalid-segment"],
    ["*a*", "invalid-segment"],
    [deep(MAX_SEGMENTS + 1), "too-many-segments"],
  ];
  for (const [text, code] of cases) refuses(() => p(text), code, text);
});

Deno.test("segments are literal, *, prefix*suffix and **", () => {
  const lit = (text: string): Segment => ({ kind: "literal", text });
  const cases: [text: string, segments: Segment[]][] = [
    ["", []],
    ["a/b.hang", [lit("a"), lit("b.hang")]],
    ["*", [{ kind: "wildcard" }]],
    ["**", [{ kind: "globstar" }]],
    ["a/*/**/b", [lit("a"), { kind: "globstar" }, { kind: "wildcard" }, lit("b")]],
    ["*.hang", [{ kind: "partial", prefix: "", suffix: ".hang" }]],
    ["foo*", [{ kind: "partial", prefix: "foo", suffix: "" }]],
    ["foo.*.hang", [{ kind: "partial", prefix: "foo.", suffix: ".hang" }]],
    ["**/*.hang", [{ kind: "globstar" }, { kind: "partial", prefix: "", suffix: ".hang" }]],
  ];
  for (const [text, segments] of cases) deepEqual(p(text).segments, segments, text);
  ok(Object.isFrozen(p("a/*").segments) && Object.isFrozen(p("a/*").segments[0]));
});

Deno.test("literal and subtree take a normalised path and refuse a * in it", () => {
  const literal: [path: string, expected: string | PatternErrorCode][] = [
    ["/foo//bar/", "foo/bar"],
    ["", ""],
    ["/", ""],
    ["room/alice", "room/alice"],
    ["a/*", "invalid-segment"],
    ["**", "invalid-segment"],
    ["a.*", "invalid-segment"],
    [deep(MAX_SEGMENTS), deep(MAX_SEGMENTS)],
    [deep(MAX_SEGMENTS + 1), "too-many-segments"],
  ];
  const subtree: [path: string, expected: string | PatternErrorCode][] = [
    ["foo", "foo/**"],
    ["", "**"],
    ["/", "**"],
    ["a/b/", "a/b/**"],
    ["a/*", "invalid-segment"],
    [deep(MAX_SEGMENTS - 1), `${deep(MAX_SEGMENTS - 1)}/**`],
    [deep(MAX_SEGMENTS), deep(MAX_SEGMENTS)], // nothing can sit beneath it
    [deep(MAX_SEGMENTS + 1), "too-many-segments"],
  ];
  for (const [path, expected] of literal) builds(() => Pattern.literal(path), expected, path);
  for (const [path, expected] of subtree) builds(() => Pattern.subtree(path), expected, path);
  equal(Pattern.all().text, "**");
});

Deno.test("rooted prepends a literal root, which may not hold a *, within 32 segments", () => {
  const cases: [pattern: string, root: string, expected: string | PatternErrorCode][] = [
    ["**", "a/b", "a/b/**"],
    ["", "a", "a"],
    ["*/c", "", "*/c"],
    ["*/c", "/r//", "r/*/c"],
    ["*/**", "r", "r/**/*"],
    ["a", "*", "invalid-segment"],
    ["a", "x/y*", "invalid-segment"],
    ["a", deep(MAX_SEGMENTS - 1), `${deep(MAX_SEGMENTS - 1)}/a`],
    ["b", deep(MAX_SEGMENTS), "too-many-segments"],
  ];
  for (const [pattern, root, expected] of cases) {
    builds(() => p(pattern).rooted(root), expected, `${pattern} rooted at ${root}`);
  }
});

Deno.test("head is the literal prefix; isLiteral and hasGlobstar say what else there is", () => {
  const cases: [pattern: string, head: string, literal: boolean, globstar: boolean][] = [
    ["a/b/*/c", "a/b", false, false],
    ["**/a", "", false, true],
    ["a/b", "a/b", true, false],
    ["", "", true, false],
    ["a/**", "a", false, true],
    ["a/b*/c", "a", false, false],
    ["a/b*", "a", false, false],
    ["a/*", "a", false, false],
  ];
  for (const [pattern, head, literal, globstar] of cases) {
    deepEqual([p(pattern).head, p(pattern).isLiteral, p(pattern).hasGlobstar], [
      head,
      literal,
      globstar,
    ], pattern);
  }
});

Deno.test("asPrefix is the literal prefix of zero or more literals then a final **", () => {
  const cases: [pattern: string, prefix: string | undefined][] = [
    ["**", ""],
    ["foo/**", "foo"],
    ["foo/bar/**", "foo/bar"],
    ["foo", undefined],
    ["", undefined],
    ["foo/*", undefined],
    ["*/foo/**", undefined],
    ["foo/**/bar", undefined],
    ["foo*/**", undefined],
    ["foo/*/**", undefined], // that is foo/**/*
  ];
  for (const [pattern, prefix] of cases) equal(p(pattern).asPrefix(), prefix, pattern);
});

Deno.test("matches whole segments of a normalised path", () => {
  const cases: [pattern: string, path: string, expected: boolean][] = [
    ["", "", true],
    ["", "a", false],
    ["a", "a", true],
    ["a", "/a/", true],
    ["a", "a/b", false],
    ["a", "ab", false],
    ["foo", "foobar", false],
    ["a/b", "/a//b/", true],
    ["*", "a", true],
    ["*", "", false],
    ["*", "a/b", false],
    ["**", "", true],
    ["**", "a/b/c", true],
    ["a/**", "a", true],
    ["foo/**", "foo", true],
    ["foo/**", "foobar", false],
    ["a/**", "a/b/c", true],
    ["a/**", "b", false],
    ["**/c", "c", true],
    ["**/c", "a/b/c", true],
    ["**/c", "a/c/b", false],
    ["a/**/c", "a/c", true],
    ["a/**/c", "a/x/y/c", true],
    ["a/**/c", "a", false],
    ["a/**/c", "c", false],
    ["a/**/a", "a", false], // head and tail do not share a segment
    ["a/**/a", "a/a", true],
    ["a/*/c", "a/x/c", true],
    ["a/*/c", "a/c", false],
    ["a/*/**", "a", false],
    ["a/*/**", "a/b", true],
    ["**/transcode.pro", "pid/foo.hang/transcode.pro", true],
    ["**/transcode.pro", "pid/foo.transcode.pro", false],
    ["pid/*/chat", "pid/room/chat", true],
    ["pid/*/chat", "pid/room/x/chat", false],
    ["**/*.hang", "pid/cam.hang", true],
    ["**/*.hang", ".hang", true],
    ["**/*.hang", "pid/cam.hang/x", false],
    ["foo*", "foo", true],
    ["foo*", "foobar", true],
    ["foo*", "fo", false],
    ["foo*", "foo/bar", false],
    ["*.hang", "cam.hang", true],
    ["*.hang", "cam.hang2", false],
    ["foo.*.hang", "foo..hang", true],
    ["foo.*.hang", "foo.1.hang", true],
    ["foo.*.hang", "foo.hang", false],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["é*", "éa", true],
    ["😀*😀", "😀", false], // no overlap, counted in characters or bytes alike
    ["😀*😀", "😀😀", true],
    [deep(MAX_SEGMENTS), deep(MAX_SEGMENTS), true],
    [`${deep(MAX_SEGMENTS - 1)}/**`, deep(40), true],
  ];
  for (const [pattern, path, expected] of cases) {
    equal(p(pattern).matches(path), expected, `${pattern} matches ${path}`);
  }
});

Deno.test("matchesAny is any member matching", () => {
  const set = [p("a/**"), p("**/c")];
  const cases: [path: string, expected: boolean][] = [
    ["a", true],
    ["x/c", true],
    ["x/y", false],
  ];
  for (const [path, expected] of cases) equal(matchesAny(set, path), expected, path);
  equal(matchesAny([], ""), false);
});

Deno.test("contains is exact containment", () => {
  const cases: [outer: string, inner: string, expected: boolean][] = [
    ["**", "**", true],
    ["**", "", true],
    ["**", "a/*/b", true],
    ["", "**", false],
    ["", "", true],
    ["*", "a", true],
    ["a", "*", false],
    ["foo", "foobar", false],
    ["foo/**", "foo", true],
    ["a/**", "a", true],
    ["a/**", "a/b/**", true],
    ["a/**", "**", false],
    ["a/**", "**/a", false],
    ["**/a", "a", true],
    ["**/a", "**/b/a", true],
    ["**/a", "a/**", false],
    ["*/**", "**", false],
    ["*/**", "a/**", true],
    ["**/*", "a/**", true],
    ["*/*/**", "a/**", false],
    ["*/*/**", "a/b/**", true],
    ["a/**/c", "a/c", true],
    ["a/**/c", "a/x/c", true],
    ["a/**/c", "a/**/x/c", true],
    ["a/*/**/*", "a/**/b", false],
    ["a/*/c", "a/b/c", true],
    ["a/*/c", "a/**/c", false],
    ["pid/**", "pid/*/chat", true],
    ["pid/**", "**/transcode.pro", false],
    ["*", "*.hang", true],
    ["*.hang", "*", false],
    ["*.hang", "cam.hang", true],
    ["*.hang", "cam.hang2", false],
    ["*.hang", "*.hang", true],
    ["*.hang", "cam*.hang", true],
    ["*.hang", "cam*hang", false],
    ["foo*", "foo", true],
    ["foo*", "foo.*.hang", true],
    ["foo.*", "foo*", false],
    ["**/*.hang", "pid/*/cam.hang", true],
  ];
  for (const [outer, inner, expected] of cases) {
    equal(p(outer).contains(p(inner)), expected, `${outer} contains ${inner}`);
  }
});

Deno.test("overlaps is some path matching both, either way round", () => {
  const cases: [a: string, b: string, expected: boolean][] = [
    ["a", "a", true],
    ["a", "b", false],
    ["a", "*", true],
    ["a", "a/*", false],
    ["foo", "foobar", false],
    ["a/**", "**/b", true],
    ["a/**", "b/**", false],
    ["a/*", "*/b", true],
    ["a/*", "b/*", false],
    ["*/*", "a/**", true],
    ["*", "a/**", true],
    ["*", "a/*/**", false],
    ["**", "", true],
    ["a/**/b", "**/c", false],
    ["a/**/b", "**/*", true],
    ["a/**/b", "x/**", false],
    ["a/**/b", "**/x", false],
    ["*.hang", "cam*", true],
    ["*.hang", "cam.msf", false],
    ["*.hang", "*.msf", false],
    ["foo*", "foo.bar*", true],
    ["foo*", "fob*", false],
    ["a*b", "ab", true],
    ["ab*", "*ab", true],
    ["ab*", "*b", true], // at "ab" itself, and "ab…b"
  ];
  for (const [a, b, expected] of cases) {
    equal(p(a).overlaps(p(b)), expected, `${a} overlaps ${b}`);
    equal(p(b).overlaps(p(a)), expected, `${b} overlaps ${a}`);
  }
});

Deno.test("covers is per requested pattern: joint coverage by several grants is not containment", () => {
  const list = (...texts: string[]) => texts.map(p);
  const joint = list("a", "a/*", "a/*/**");
  const cases: [granted: Pattern[], requested: Pattern[], expected: boolean][] = [
    [joint, list("a/**"), false],
    [joint, list("a/x/**"), true],
    [joint, list("a", "a/x/y"), true],
    [joint, list("a", "b"), false],
    [joint, [], true],
    [[], joint, false],
    [[], [], true],
    [[], list(""), false],
    [list("**/c", "a/**"), list("a/b"), true],
    [list("**/c", "a/**"), list("a/b", "x/c", "a/**"), true],
    [list("**/c", "a/**"), list("*/c"), true],
    [list("**/c", "a/**"), list("*/d"), false],
    [list("room/*"), list("room/alice", "room/*.hang"), true],
    [list("room/*"), list("room/**"), false],
  ];
  for (const [granted, requested, expected] of cases) {
    equal(covers(granted, requested), expected, `[${granted}] covers [${requested}]`);
  }
});

/** Every valid pattern of up to `max` segments drawn from `segments`, by canonical text. */
function enumeratePatterns(segments: readonly string[], max: number): Pattern[] {
  const out = new Map<string, Pattern>([["", p("")]]);
  let layer = [""];
  for (let n = 0; n < max; n++) {
    const next: string[] = [];
    for (const prefix of layer) {
      for (const segment of segments) {
        const text = prefix === "" ? segment : `${prefix}/${segment}`;
        try {
          const pattern = p(text);
          out.set(pattern.text, pattern);
          next.push(text);
        } catch {
          // a second ** ends the line
        }
      }
    }
    layer = next;
  }
  return [...out.values()];
}

/** Every path of up to `max` segments drawn from `parts`, the empty path included. */
function enumeratePaths(parts: readonly string[], max: number): string[] {
  const out = [""];
  let layer = [""];
  for (let n = 0; n < max; n++) {
    layer = layer.flatMap((prefix) =>
      parts.map((part) => prefix === "" ? part : `${prefix}/${part}`)
    );
    out.push(...layer);
  }
  return out;
}

Deno.test("contains and overlaps agree with matching over every small pattern and path", () => {
  // As moq-pattern's exhaustive test: one alphabet for how a ** head and tail interplay (three
  // segments of pattern, six of path, so every witness fits), one for partial segments.
  const alphabets = [
    { segments: ["a", "b", "*", "**"], maxPattern: 3, parts: ["a", "b", "c"], maxPath: 6 },
    {
      segments: ["a", "ab", "a*", "*b", "a*b", "*", "**"],
      maxPattern: 2,
      parts: ["a", "b", "ab", "ba", "aab"],
      maxPath: 4,
    },
  ];
  for (const { segments, maxPattern, parts, maxPath } of alphabets) {
    const patterns = enumeratePatterns(segments, maxPattern);
    const paths = enumeratePaths(parts, maxPath);
    const table = patterns.map((pattern) => paths.map((path) => pattern.matches(path)));
    for (const [i, a] of patterns.entries()) {
      for (const [j, b] of patterns.entries()) {
        let contained = true;
        let shared = false;
        for (let k = 0; k < paths.length; k++) {
          if (table[j][k] && !table[i][k]) contained = false;
          if (table[j][k] && table[i][k]) shared = true;
        }
        if (a.contains(b) !== contained) equal(a.contains(b), contained, `${a} contains ${b}`);
        if (a.overlaps(b) !== shared) equal(a.overlaps(b), shared, `${a} overlaps ${b}`);
        // Canonical text is one identity per set of paths.
        if ((a.text === b.text) !== (contained && b.contains(a))) {
          equal(a.text === b.text, contained && b.contains(a), `${a} and ${b}`);
        }
      }
    }
  }
});

Deno.test("random texts that parse print back to themselves", () => {
  // A tiny xorshift, seeded, so a failure reproduces.
  let state = 0x9e3779b9;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const pieces = ["a", "b", "*", "**", "/", "", "a*", ".hang", "//", "*."];
  for (let n = 0; n < 5000; n++) {
    let text = "";
    for (let len = next() % 8; len > 0; len--) text += pieces[next() % pieces.length];
    let pattern: Pattern;
    try {
      pattern = p(text);
    } catch (err) {
      ok(err instanceof PatternError, text);
      continue;
    }
    equal(p(pattern.text).text, pattern.text, text);
    ok(pattern.contains(pattern) && pattern.overlaps(pattern), text);
  }
});
