/**
 * The Prometheus text exposition format (version 0.0.4): metric families written as `# HELP`,
 * `# TYPE` and one line per sample. Pure: the relay hands it numbers it read at scrape time.
 *
 * @module
 */

export type MetricType = "counter" | "gauge" | "histogram";

export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
  /** Appended to the family's name (`_bucket`, `_sum`, `_count` of a histogram). */
  suffix?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly Sample[];
}

/** The content type scrapers expect for this format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

export function exposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const text = labels.length === 0
        ? ""
        : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
      lines.push(`${family.name}${sample.suffix ?? ""}${text} ${number(sample.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Cumulative buckets of a histogram, upper bounds in ascending order (`+Inf` implied). */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= (this.bounds[i] ?? Infinity)) {
        this.#counts[i] = (this.#counts[i] ?? 0) + 1;
        return;
      }
    }
  }

  /** The samples of this histogram, `_bucket` (cumulative), `_sum` and `_count`. */
  samples(): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += this.#counts[i] ?? 0;
      out.push({ suffix: "_bucket", labels: { le: String(bound) }, value: cumulative });
    });
    out.push({ suffix: "_bucket", labels: { le: "+Inf" }, value: this.#count });
    out.push({ suffix: "_sum", value: this.#sum });
    out.push({ suffix: "_count", value: this.#count });
    return out;
  }
}
