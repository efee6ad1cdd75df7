/**
 * The relay's metrics as Prometheus families: upstream moq-relay 0.17.10's names and labels where
 * it has the metric (`src/internal.rs`: `tier` is "" for the default tier, `role` is "publisher"
 * for what the relay sent and "subscriber" for what it took in), so its dashboards work, and ours
 * beside them. Everything is read from plain numbers when scraped.
 *
 * @module
 */
import type { EventLoopLag } from "./event_loop.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import type { DropReason, MediaCount, RequestCount, Traffic } from "./traffic.ts";

/** Why the relay refused a session (or a connection before one). */
export type RefusalReason =
  | "unauthorized"
  | "forbidden"
  | "auth_unavailable"
  | "too_many_sessions"
  | "draining"
  | "bad_request";

/** What a scrape reads of the relay. */
export interface RelaySnapshot {
  version: string;
  startedAt: number;
  /** Every session's traffic, ended ones included. */
  traffic: Traffic;
  sessionsOpened: number;
  sessionsClosed: number;
  /** The sessions open now, by transport and version. */
  sessions: readonly { transport: string; version: string; count: number }[];
  /** How many of them are cluster links. */
  links: number;
  refused: Readonly<Record<RefusalReason, number>>;
  broadcasts: number;
  subscriptions: { served: number; upstream: number };
  cacheBytes: number;
  cacheGroups: number;
  clusterMembers: number;
  httpConnections: number;
  livePages: number;
  draining: number;
  memory: Deno.MemoryUsage;
  loop: EventLoopLag;
}

const TIER = "";

function byRole(pick: (traffic: Traffic) => { publisher: number; subscriber: number }) {
  return (traffic: Traffic): Sample[] => {
    const { publisher, subscriber } = pick(traffic);
    return [
      { labels: { tier: TIER, role: "publisher" }, value: publisher },
      { labels: { tier: TIER, role: "subscriber" }, value: subscriber },
    ];
  };
}

const media = (key: keyof MediaCount) =>
  byRole((t) => ({ publisher: t.out[key], subscriber: t.in[key] }));
const requests = (key: keyof RequestCount) =>
  byRole((t) => ({ publisher: t.served[key], subscriber: t.made[key] }));

function counter(name: string, help: string, samples: Sample[]): MetricFamily {
  return { name, help, type: "counter", samples };
}

function gauge(name: string, help: string, samples: Sample[] | number): MetricFamily {
  return {
    name,
    help,
    type: "gauge",
    samples: typeof samples === "number" ? [{ value: samples }] : samples,
  };
}

function grouped<T extends string>(label: string, counts: Iterable<[T, number]>): Sample[] {
  return [...counts].map(([value, count]) => ({ labels: { [label]: value }, value: count }));
}

export function relayMetrics(s: RelaySnapshot): MetricFamily[] {
  const t = s.traffic;
  const dropped = Object.values(t.dropped).reduce((a, b) => a + b, 0);
  return [
    // Upstream's.
    counter("moq_relay_bytes_total", "Media payload bytes transferred.", media("bytes")(t)),
    counter("moq_relay_frames_total", "Media frames transferred.", media("frames")(t)),
    counter("moq_relay_groups_total", "Media groups transferred.", media("groups")(t)),
    counter(
      "moq_relay_datagrams_total",
      "Single-frame groups carried over unreliable QUIC datagrams; a subset of groups.",
      media("datagrams")(t),
    ),
    counter(
      "moq_relay_stale_groups_total",
      "Media groups dropped for a subscriber that fell behind (see moq_relay_groups_dropped_total).",
      [
        { labels: { tier: TIER, role: "publisher" }, value: dropped },
        { labels: { tier: TIER, role: "subscriber" }, value: 0 },
      ],
    ),
    counter("moq_relay_fetches_total", "One-shot group fetches requested.", requests("fetches")(t)),
    counter(
      "moq_relay_announces_started_total",
      "Broadcast announces started.",
      requests("announcesStarted")(t),
    ),
    counter(
      "moq_relay_announces_ended_total",
      "Broadcast announces ended; subtract from started for live announces.",
      requests("announcesEnded")(t),
    ),
    counter(
      "moq_relay_subscriptions_opened_total",
      "Track subscriptions opened.",
      requests("subscriptionsOpened")(t),
    ),
    counter(
      "moq_relay_subscriptions_closed_total",
      "Track subscriptions closed; subtract from opened for live subscriptions.",
      requests("subscriptionsClosed")(t),
    ),
    counter(
      "moq_relay_viewers_opened_total",
      "Distinct (broadcast, session) subscriptions opened.",
      [{ labels: { tier: TIER, role: "publisher" }, value: t.served.viewersOpened }],
    ),
    counter(
      "moq_relay_viewers_closed_total",
      "Distinct (broadcast, session) subscriptions closed; subtract from opened for live viewers.",
      [{ labels: { tier: TIER, role: "publisher" }, value: t.served.viewersClosed }],
    ),
    counter("moq_relay_sessions_opened_total", "Connected sessions opened.", [
      { labels: { tier: TIER }, value: s.sessionsOpened },
    ]),
    counter(
      "moq_relay_sessions_closed_total",
      "Connected sessions closed; subtract from opened for live sessions.",
      [{ labels: { tier: TIER }, value: s.sessionsClosed }],
    ),
    gauge(
      "moq_relay_draining_sessions",
      "Sessions sent a shutdown GOAWAY that have not left yet.",
      s.draining,
    ),
    // Ours.
    gauge(
      "moq_relay_sessions",
      "Sessions open now, by transport and moq-lite version.",
      s.sessions.map((e) => ({
        labels: { transport: e.transport, version: e.version },
        value: e.count,
      })),
    ),
    gauge(
      "moq_relay_cluster_links",
      "Sessions with other relays of the cluster open now.",
      s.links,
    ),
    gauge(
      "moq_relay_cluster_members",
      "Other cluster members this relay links to.",
      s.clusterMembers,
    ),
    gauge("moq_relay_broadcasts", "Broadcasts with a route.", s.broadcasts),
    gauge("moq_relay_subscriptions", "Track subscriptions open now.", [
      { labels: { role: "publisher" }, value: s.subscriptions.served },
      { labels: { role: "subscriber" }, value: s.subscriptions.upstream },
    ]),
    gauge("moq_relay_cache_bytes", "Payload bytes held in the cache.", s.cacheBytes),
    gauge("moq_relay_cache_groups", "Groups held in the cache.", s.cacheGroups),
    counter(
      "moq_relay_groups_dropped_total",
      "Groups dropped for slow subscribers, by reason: latency (older than the subscriber's " +
        "latency budget), lag_bytes (--max-lag-bytes), in_flight (too many groups in flight), " +
        "streams (--max-group-streams).",
      grouped("reason", Object.entries(t.dropped) as [DropReason, number][]),
    ),
    counter(
      "moq_relay_sessions_refused_total",
      "Sessions refused, by reason.",
      grouped("reason", Object.entries(s.refused) as [RefusalReason, number][]),
    ),
    gauge("moq_relay_http_connections", "HTTP connections open now.", s.httpConnections),
    gauge("moq_relay_live_pages", "The relay's page open now (/live streams).", s.livePages),
    {
      name: "moq_relay_event_loop_lag_seconds",
      help: "How late a 100 ms timer fires: the one thread carries JavaScript and QUIC.",
      type: "histogram",
      samples: s.loop.histogram.samples(),
    },
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.", s.memory.rss),
    gauge("moq_relay_heap_used_bytes", "V8 heap in use, bytes.", s.memory.heapUsed),
    gauge("moq_relay_heap_total_bytes", "V8 heap reserved, bytes.", s.memory.heapTotal),
    gauge(
      "moq_relay_external_memory_bytes",
      "Memory outside the V8 heap held by JavaScript objects (buffers), bytes.",
      s.memory.external,
    ),
    gauge(
      "process_start_time_seconds",
      "When the relay started, unix seconds.",
      s.startedAt / 1000,
    ),
    gauge("moq_relay_build_info", "The relay's version.", [
      { labels: { version: s.version }, value: 1 },
    ]),
  ];
}
