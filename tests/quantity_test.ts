/**
 * Counts, sizes and durations as settings give them: exact, rounded to a whole unit, bounded.
 */
import { deepEqual } from "assert";
import { type Bounds, formatRange, parseQuantity } from "../src/quantity.ts";

const bytes: Bounds = { unit: "size", min: 1, max: 1024 ** 4 };
const count: Bounds = { unit: "count", min: 1, max: 10 };

Deno.test("a size's fraction is exact and rounds half up to a whole byte", () => {
  deepEqual(parseQuantity("0.5MiB", bytes), { value: 524_288 });
  deepEqual(parseQuantity("1.005KB", bytes), { value: 1005 }); // 1004.9999999999999 as a float
  deepEqual(parseQuantity("0.5", bytes), { value: 1 });
  deepEqual(parseQuantity("1.0004KiB", bytes), { value: 1024 });
  deepEqual(parseQuantity(" 2 TiB ", { ...bytes, max: 2 * 1024 ** 4 }), { value: 2 * 1024 ** 4 });
  deepEqual(parseQuantity("0.4", bytes), { problem: '"0.4" is below the minimum, 1' });
});

Deno.test("zero, negative and malformed are one problem; huge ones are above the maximum", () => {
  const positive = (text: string) => ({
    problem: `"${text}" must be a positive number (a whole number, 1 to 10)`,
  });
  for (const text of ["0", "-5", "1.5", "ten", "", "0x10"]) {
    deepEqual(parseQuantity(text, count), positive(text));
  }
  deepEqual(parseQuantity("0.0MiB", bytes), {
    problem: '"0.0MiB" must be a positive size (e.g. 512MiB, 1GB, 1048576)',
  });
  deepEqual(parseQuantity("123456789012345678901234567890", count), {
    problem: '"123456789012345678901234567890" is above the maximum, 10',
  });
});

Deno.test("durations round to a millisecond; ranges read as --help shows them", () => {
  const age: Bounds = { unit: "duration", min: 1000, max: 24 * 3_600_000 };
  deepEqual(parseQuantity("1.0005s", age), { value: 1001 });
  deepEqual(parseQuantity("2m", age), { value: 120_000 });
  deepEqual(parseQuantity("-1s", age), {
    problem: '"-1s" must be a positive duration (e.g. 30s, 500ms, 2m)',
  });
  deepEqual(formatRange(age), "1s to 24h");
  deepEqual(formatRange({ unit: "size", min: 16 * 1024, max: 1024 ** 4 }), "16KiB to 1TiB");
  deepEqual(formatRange(count), "1 to 10");
});
