/** "The relay": sessions, cluster, cache, memory and event-loop lag as small live plots. @module */
import { formatBytes, formatMs } from "./format.ts";
import type { History, Sample } from "./history.ts";
import { Plot } from "./plot.ts";

interface Metric {
  key: string;
  title: string;
  value: (sample: Sample) => number;
  label: (sample: Sample) => string;
  detail: (sample: Sample) => string;
}

const sessionCount = (s: Sample) => s.relay.sessions.reduce((n, e) => n + e.count, 0);

const METRICS: Metric[] = [
  {
    key: "sessions",
    title: "Sessions",
    value: sessionCount,
    label: (s) => String(sessionCount(s)),
    detail: (s) =>
      s.relay.sessions.map((e) => `${e.transport} ${e.version}: ${e.count}`).join(", ") || "none",
  },
  {
    key: "cluster",
    title: "Cluster links",
    value: (s) => s.relay.links,
    label: (s) => String(s.relay.links),
    detail: (s) =>
      s.relay.members === undefined
        ? "members not shown to this viewer"
        : s.relay.members.length > 0
        ? `members: ${s.relay.members.join(", ")}`
        : "no other members",
  },
  {
    key: "cache",
    title: "Cache",
    value: (s) => s.relay.cache.bytes,
    label: (s) => formatBytes(s.relay.cache.bytes),
    detail: (s) =>
      `${s.relay.cache.groups} groups, ${
        (100 * s.relay.cache.bytes / (s.relay.cache.maxBytes || 1)).toFixed(1)
      }% of ${formatBytes(s.relay.cache.maxBytes)}`,
  },
  {
    key: "memory",
    title: "Memory (RSS)",
    value: (s) => s.relay.memory.rss,
    label: (s) => formatBytes(s.relay.memory.rss),
    detail: (s) => `heap ${formatBytes(s.relay.memory.heapUsed)}`,
  },
  {
    key: "lag",
    title: "Event-loop lag (worst a second)",
    value: (s) => s.relay.loopLagMs.max,
    label: (s) => formatMs(s.relay.loopLagMs.max),
    detail: (s) => `latest ${formatMs(s.relay.loopLagMs.latest)}`,
  },
  {
    key: "broadcasts",
    title: "Broadcasts visible",
    value: (s) => s.broadcastCount,
    label: (s) => String(s.broadcastCount),
    detail: (s) => s.relay.draining ? "the relay is draining" : "",
  },
];

export class RelayPanel {
  readonly #plots: { metric: Metric; plot: Plot }[];

  constructor(container: HTMLElement) {
    this.#plots = METRICS.map((metric) => ({ metric, plot: new Plot(metric.key, metric.title) }));
    container.replaceChildren(...this.#plots.map((p) => p.plot.element));
  }

  update(history: History): void {
    const latest = history.latest;
    if (!latest) return;
    for (const { metric, plot } of this.#plots) {
      plot.draw(history.series(metric.value), metric.label(latest), metric.detail(latest));
    }
  }
}
