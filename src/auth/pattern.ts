/**
 * Broadcast path patterns: the sets of paths a token may publish or subscribe to.
 *
 * Follows the semantics of the Rust crate `moq-pattern` 0.1.3 (parsing, matching, exact
 * containment and overlap; not rebase, intersect, captures or specificity). A pattern is
 * `/`-separated segments: a literal, `*` (one whole segment), `pre*suf` (one segment with a known
 * start and end) and at most one `**` (zero or more whole segments). Patterns are exact: `foo`
 * matches only `foo`, `foo/**` matches `foo` and everything beneath it, `**` matches every path
 * and the empty pattern only the empty path. Pure: no I/O.
 *
 * @module
 */

/** The most segments a pattern may have, as the path limit on the wire. */
export const MAX_SEGMENTS = 32;

/** Why a text or path is not a pattern, as moq-pattern names it. */
export type PatternErrorCode =
  | "empty-segment"
  | "invalid-segment"
  | "multiple-globstars"
  | "too-many-segments";

/** A text or path that is not a valid pattern. */
export class PatternError extends Error {
  override readonly name = "PatternError";
  readonly code: PatternErrorCode;

  constructor(code: PatternErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** One segment of a pattern. */
export type Segment =
  | { readonly kind: "literal"; readonly text: string }
  | { readonly kind: "wildcard" }
  | { readonly kind: "partial"; readonly prefix: string; readonly suffix: string }
  | { readonly kind: "globstar" };

const WILDCARD: Segment = Object.freeze({ kind: "wildcard" });
const GLOBSTAR: Segment = Object.freeze({ kind: "globstar" });

function invalid(segment: string): PatternError {
  return new PatternError("invalid-segment", `invalid pattern segment: ${JSON.stringify(segment)}`);
}

function segmentText(segment: Segment): string {
  switch (segment.kind) {
    case "literal":
      return segment.text;
    case "wildcard":
      return "*";
    case "partial":
      return `${segment.prefix}*${segment.suffix}`;
    case "globstar":
      return "**";
  }
}

/** One segment of a pattern's text (which has no `/` in it). */
function parseSegment(text: string): Segment {
  if (text === "") throw new PatternError("empty-segment", "empty path segment");
  if (text === "*") return WILDCARD;
  if (text === "**") return GLOBSTAR;
  const star = text.indexOf("*");
  if (star < 0) return { kind: "literal", text };
  // More than one star in a segment is reserved (this also refuses `***` and `a**`).
  if (text.includes("*", star + 1)) throw invalid(text);
  return { kind: "partial", prefix: text.slice(0, star), suffix: text.slice(star + 1) };
}

/** The non-empty segments of a path: leading, trailing and doubled slashes are dropped. */
function splitPath(path: string): string[] {
  const parts: string[] = [];
  let start = 0;
  while (start <= path.length) {
    let end = path.indexOf("/", start);
    if (end < 0) end = path.length;
    if (end > start) parts.push(path.slice(start, end));
    start = end + 1;
  }
  return parts;
}

/** A path's segments as literals; one with a `*` is refused when the pattern is built. */
function literalSegments(path: string): Segment[] {
  return splitPath(path).map((text): Segment => ({ kind: "literal", text }));
}

/** Whether a (non-`**`) segment matches one path segment. */
function matchesPart(segment: Segment, part: string): boolean {
  switch (segment.kind) {
    case "literal":
      return segment.text === part;
    case "wildcard":
      return true;
    case "partial":
      // The length check keeps prefix and suffix from sharing characters (`a*a` is not `a`).
      return part.length >= segment.prefix.length + segment.suffix.length &&
        part.startsWith(segment.prefix) && part.endsWith(segment.suffix);
    case "globstar":
      return false;
  }
}

/** Whether every path segment `b` matches, `a` matches too. Neither is `**`. */
function segmentCovers(a: Segment, b: Segment): boolean {
  switch (a.kind) {
    case "wildcard":
      return b.kind !== "globstar";
    case "literal":
      return b.kind === "literal" && a.text === b.text;
    case "partial":
      if (b.kind === "literal") return matchesPart(a, b.text);
      // The middle of `b` is free, so only its prefix and suffix can satisfy `a`'s.
      return b.kind === "partial" && b.prefix.startsWith(a.prefix) && b.suffix.endsWith(a.suffix);
    case "globstar":
      return false;
  }
}

/** Whether some path segment matches both. Neither is `**`. */
function segmentsMeet(a: Segment, b: Segment): boolean {
  if (a.kind === "partial" && b.kind === "partial") {
    // The longer prefix followed by the longer suffix matches both.
    return (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix)) &&
      (a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix));
  }
  return segmentCovers(a, b) || segmentCovers(b, a);
}

let matchesParts: (pattern: Pattern, parts: readonly string[]) => boolean;

/** A pattern over broadcast paths; build one with `parse`, `literal`, `subtree` or `all`. */
export class Pattern {
  /** The canonical text: two patterns match the same paths exactly when their texts are equal. */
  readonly text: string;
  readonly segments: readonly Segment[];
  readonly #head: string;
  readonly #globstar: boolean;
  // The segments before the `**` (all of them without one) and after it.
  readonly #front: readonly Segment[];
  readonly #back: readonly Segment[];

  private constructor(segments: Segment[]) {
    if (segments.length > MAX_SEGMENTS) {
      throw new PatternError("too-many-segments", `more than ${MAX_SEGMENTS} segments`);
    }
    let globstar = -1;
    for (const [i, segment] of segments.entries()) {
      if (segment.kind === "literal") {
        if (segment.text === "") throw new PatternError("empty-segment", "empty path segment");
        if (segment.text.includes("*") || segment.text.includes("/")) throw invalid(segment.text);
      } else if (segment.kind === "partial") {
        const { prefix, suffix } = segment;
        const both = prefix + suffix;
        if (both === "" || both.includes("*") || both.includes("/")) {
          throw invalid(segmentText(segment));
        }
      } else if (segment.kind === "globstar") {
        if (globstar >= 0) {
          throw new PatternError("multiple-globstars", "more than one ** segment");
        }
        globstar = i;
      }
    }
    // `*` and `**` commute; keeping `**` first gives each set of paths one text.
    while (globstar > 0 && segments[globstar - 1].kind === "wildcard") {
      segments[globstar] = WILDCARD;
      segments[--globstar] = GLOBSTAR;
    }

    for (const segment of segments) Object.freeze(segment);
    this.segments = Object.freeze(segments);
    this.text = this.segments.map(segmentText).join("/");
    const literal = this.segments.findIndex((s) => s.kind !== "literal");
    this.#head = literal < 0
      ? this.text
      : this.segments.slice(0, literal).map(segmentText).join("/");
    this.#globstar = globstar >= 0;
    this.#front = globstar >= 0 ? this.segments.slice(0, globstar) : this.segments;
    this.#back = globstar >= 0 ? this.segments.slice(globstar + 1) : [];
  }

  /**
   * A pattern's text. Unlike a path, slashes are not normalised: a leading, trailing or doubled
   * `/` is refused, so a typo cannot silently widen a grant.
   */
  static parse(text: string): Pattern {
    return new Pattern(text === "" ? [] : text.split("/").map(parseSegment));
  }

  /** The pattern matching exactly the (normalised) path; a segment with a `*` is refused. */
  static literal(path: string): Pattern {
    return new Pattern(literalSegments(path));
  }

  /** `path/**`: the path and everything beneath it; a path of MAX_SEGMENTS is just the literal. */
  static subtree(path: string): Pattern {
    const segments = literalSegments(path);
    if (segments.length < MAX_SEGMENTS) segments.push(GLOBSTAR);
    return new Pattern(segments);
  }

  /** `**`: every path. */
  static all(): Pattern {
    return new Pattern([GLOBSTAR]);
  }

  /** The literal segments before the first non-literal, joined by "/" (whole pattern when literal). */
  get head(): string {
    return this.#head;
  }

  /** Whether the pattern has no wildcards, so it matches exactly one path. */
  get isLiteral(): boolean {
    return this.#head === this.text;
  }

  /** Whether the pattern has a `**`, so it matches paths of more than one length. */
  get hasGlobstar(): boolean {
    return this.#globstar;
  }

  /** For zero-or-more literals then a final `**`: the literal prefix ("" for "**"); else undefined. */
  asPrefix(): string | undefined {
    const prefixShaped = this.#globstar && this.#back.length === 0 &&
      this.#front.every((s) => s.kind === "literal");
    return prefixShaped ? this.#head : undefined;
  }

  /** Whether the path (normalised like a broadcast path) is one this pattern describes. */
  matches(path: string): boolean {
    return this.#matchesParts(splitPath(path));
  }

  #matchesParts(parts: readonly string[]): boolean {
    return this.#aligns(parts, matchesPart);
  }

  /**
   * Whether a run of fixed length fits ours (exactly, or around the `**`) and each of our segments
   * passes `test` against the one it lines up with: the head from the front, the tail from the back.
   */
  #aligns<T>(run: readonly T[], test: (ours: Segment, theirs: T) => boolean): boolean {
    const front = this.#front;
    const back = this.#back;
    const fits = this.#globstar
      ? run.length >= front.length + back.length
      : run.length === front.length;
    if (!fits) return false;
    for (let i = 0; i < front.length; i++) {
      if (!test(front[i], run[i])) return false;
    }
    const offset = run.length - back.length;
    for (let i = 0; i < back.length; i++) {
      if (!test(back[i], run[offset + i])) return false;
    }
    return true;
  }

  /** Every path `other` matches, this matches too (exact, as moq-pattern's Pattern::contains). */
  contains(other: Pattern): boolean {
    if (!other.#globstar) return this.#aligns(other.segments, segmentCovers);
    // A fixed-length pattern cannot contain one that matches many lengths.
    if (!this.#globstar) return false;

    // The other's `**` can be arbitrarily long, so any of our segments that reach past its head
    // or tail must be `*`; and its shortest path (the `**` empty) must be long enough for ours.
    const front = this.#front;
    const back = this.#back;
    const otherFront = other.#front;
    const otherBack = other.#back;
    if (front.length + back.length > otherFront.length + otherBack.length) return false;
    for (let i = 0; i < front.length; i++) {
      if (
        i < otherFront.length
          ? !segmentCovers(front[i], otherFront[i])
          : front[i].kind !== "wildcard"
      ) {
        return false;
      }
    }
    for (let i = 1; i <= back.length; i++) {
      const ours = back[back.length - i];
      if (
        i <= otherBack.length
          ? !segmentCovers(ours, otherBack[otherBack.length - i])
          : ours.kind !== "wildcard"
      ) {
        return false;
      }
    }
    return true;
  }

  /** Some path matches both (as moq-pattern's Pattern::overlaps). */
  overlaps(other: Pattern): boolean {
    if (!this.#globstar && other.#globstar) return other.overlaps(this);
    if (!other.#globstar) return this.#aligns(other.segments, segmentsMeet);
    // With both `**`, a path long enough keeps the heads and tails apart, so the only
    // constraints are segment by segment where the two heads (and the two tails) line up.
    const front = this.#front;
    const back = this.#back;
    const otherFront = other.#front;
    const otherBack = other.#back;
    for (let i = 0; i < Math.min(front.length, otherFront.length); i++) {
      if (!segmentsMeet(front[i], otherFront[i])) return false;
    }
    for (let i = 1; i <= Math.min(back.length, otherBack.length); i++) {
      if (!segmentsMeet(back[back.length - i], otherBack[otherBack.length - i])) return false;
    }
    return true;
  }

  /**
   * This pattern placed beneath the literal normalised path `root` (root segments prepended);
   * PatternError if the root has a '*' segment or the result exceeds MAX_SEGMENTS.
   */
  rooted(root: string): Pattern {
    return new Pattern([...literalSegments(root), ...this.segments]);
  }

  toString(): string {
    return this.text;
  }

  static {
    matchesParts = (pattern, parts) => pattern.#matchesParts(parts);
  }
}

/**
 * Whether every pattern in `requested` is contained by at least one pattern of `granted` (per
 * member, not jointly — as moq-pattern's Patterns::covers). Empty `requested` is covered by
 * anything.
 */
export function covers(granted: readonly Pattern[], requested: readonly Pattern[]): boolean {
  return requested.every((pattern) => granted.some((grant) => grant.contains(pattern)));
}

/** Whether any pattern matches the path. */
export function matchesAny(patterns: readonly Pattern[], path: string): boolean {
  const parts = splitPath(path); // once, not per pattern
  return patterns.some((pattern) => matchesParts(pattern, parts));
}
