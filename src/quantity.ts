/**
 * Numeric settings: counts, sizes and durations as flags, variables and config files give them,
 * parsed exactly and checked against their bounds. Pure: a value, or what is wrong with the text.
 *
 * @module
 */

/** What a numeric setting measures: a count, bytes, or milliseconds. */
export type Unit = "count" | "size" | "duration";

/** The range a numeric setting accepts, in its unit. */
export interface Bounds {
  unit: Unit;
  min: number;
  max: number;
}

/** A value, or the problem with the text in words (to follow the setting's name). */
export type Parsed = { value: number } | { problem: string };

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const SHAPES: Record<Unit, { pattern: RegExp; units: Record<string, number>; expected: string }> = {
  count: { pattern: /^(\d+)$/, units: { "": 1 }, expected: "number" },
  size: {
    pattern: /^(\d+)(?:\.(\d+))?\s*([a-zA-Z]*)$/,
    units: SIZE_UNITS,
    expected: "size (e.g. 512MiB, 1GB, 1048576)",
  },
  duration: {
    pattern: /^(\d+)(?:\.(\d+))?\s*(ms|s|m|h)$/,
    units: DURATION_UNITS,
    expected: "duration (e.g. 30s, 500ms, 2m)",
  },
};

/**
 * Parses `text` as `bounds.unit` says: `4096`; `512MiB`, `1.5KiB`, `1GB`; `30s`, `0.5s`, `2m`.
 * A fraction is computed exactly and rounded to a whole byte or millisecond, so a value can
 * never come out as 0 unnoticed: below the minimum is a problem like above the maximum.
 *
 * @example
 * ```ts
 * parseQuantity("0.5MiB", { unit: "size", min: 1, max: 2 ** 30 }); // { value: 524288 }
 * parseQuantity("-5", { unit: "count", min: 1, max: 10 }); // { problem: '"-5" must be ...' }
 * ```
 */
export function parseQuantity(text: string, bounds: Bounds): Parsed {
  const shape = SHAPES[bounds.unit];
  const match = text.trim().match(shape.pattern);
  const scale = match ? shape.units[(match[3] ?? "").toLowerCase()] : undefined;
  const whole = match?.[1] ?? "";
  const fraction = match?.[2] ?? "";
  if (!match || scale === undefined || /^0*$/.test(whole + fraction)) {
    const range = bounds.unit === "count" ? ` (a whole number, ${formatRange(bounds)})` : "";
    return { problem: `"${text}" must be a positive ${shape.expected}${range}` };
  }
  // digits / 10^fractionDigits * scale, rounded half up, in integers: no float error.
  const divisor = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * BigInt(scale);
  const rounded = (scaled * 2n + divisor) / (2n * divisor);
  if (rounded < BigInt(bounds.min)) {
    return {
      problem: `"${text}" is below the minimum, ${formatQuantity(bounds.min, bounds.unit)}`,
    };
  }
  if (rounded > BigInt(bounds.max)) {
    return {
      problem: `"${text}" is above the maximum, ${formatQuantity(bounds.max, bounds.unit)}`,
    };
  }
  return { value: Number(rounded) };
}

/** `268435456` -> `256MiB`: the largest binary unit that divides the size, as `--help` shows it. */
export function formatSize(bytes: number): string {
  const units = [["TiB", 1024 ** 4], ["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]];
  for (const [unit, scale] of units as [string, number][]) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}

/** `30000` -> `30s`: the largest unit that divides the duration. */
export function formatDuration(ms: number): string {
  for (const [unit, scale] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= scale && ms % scale === 0) return `${ms / scale}${unit}`;
  }
  return `${ms}ms`;
}

/** A value in its unit as `--help` shows it: `4096`, `16MiB`, `30s`. */
export function formatQuantity(value: number, unit: Unit): string {
  if (unit === "size") return formatSize(value);
  if (unit === "duration") return formatDuration(value);
  return String(value);
}

/** `1 to 10000`, `16KiB to 256MiB`, `1s to 24h`: a range as `--help` and the README show it. */
export function formatRange(bounds: Bounds): string {
  return `${formatQuantity(bounds.min, bounds.unit)} to ${formatQuantity(bounds.max, bounds.unit)}`;
}
