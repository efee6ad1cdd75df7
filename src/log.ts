/**
 * Logging setup: LogTape, one line per event on standard error, as text or JSON lines.
 *
 * Modules take a logger with `getLogger(["moq-relay", "<module>"])` and add context
 * (`conn`, `remote`) with `logger.with({...})`, so every line of a connection carries both.
 *
 * @module
 */
import {
  configureSync,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
  type Sink,
} from "@logtape/logtape";

export type { Logger, LogLevel };

/** Every level, quietest last; `-v` moves one step left, `-q` one step right. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];

export type LogFormat = "text" | "json";

/** The root category of every logger in this program. */
export const ROOT_CATEGORY = "moq-relay";

/** A logger for one module, e.g. `logger("transport")`. */
export function logger(...category: string[]): Logger {
  return getLogger([ROOT_CATEGORY, ...category]);
}

/** Shifts a level by `steps` (positive = more verbose), clamped to the known levels. */
export function shiftLevel(level: LogLevel, steps: number): LogLevel {
  const index = LOG_LEVELS.indexOf(level) - steps;
  const clamped = Math.max(0, Math.min(LOG_LEVELS.length - 1, index));
  return LOG_LEVELS[clamped] ?? level;
}

/** Renders the structured properties of a record as ` key=value` pairs. */
function renderProperties(record: LogRecord): string {
  let out = "";
  const template = typeof record.rawMessage === "string" ? record.rawMessage : "";
  for (const [key, value] of Object.entries(record.properties)) {
    if (template.includes(`{${key}}`)) continue; // already in the message
    const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
    out += ` ${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return out;
}

const textFormatter = getTextFormatter({
  timestamp: "date-time-tz",
  value: (v: unknown) => typeof v === "string" ? v : JSON.stringify(v) ?? String(v),
  format: ({ timestamp, level, category, message, record }) =>
    `${timestamp} ${level} ${category}: ${message}${renderProperties(record)}`,
});

const jsonFormatter = getJsonLinesFormatter({ properties: "flatten" });

/** A synchronous sink: lines reach stderr in order and nothing is left pending at exit. */
function stderrSink(format: LogFormat): Sink {
  const encoder = new TextEncoder();
  const formatter = format === "json" ? jsonFormatter : textFormatter;
  return (record: LogRecord) => {
    let line = formatter(record);
    if (!line.endsWith("\n")) line += "\n";
    try {
      Deno.stderr.writeSync(encoder.encode(line));
    } catch {
      // stderr closed (e.g. the parent went away): logging must never take the relay down.
    }
  };
}

/** Installs the process-wide logging configuration; calling it again replaces it. */
export function setupLogging(level: LogLevel, format: LogFormat): void {
  resetSync();
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink(format) },
    loggers: [
      { category: [ROOT_CATEGORY], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Lines about peers' faults the whole relay logs per second at most; the rest are counted. */
export const PEER_FAULT_LINES_PER_SECOND = 20;

let faultWindow = 0;
let faultLines = 0;
let faultsLeftOut = 0;

/**
 * Logs something a peer caused (a malformed message, a refused request, a wrong token) at info,
 * or the level given: never error, which is for our own bugs. A peer can cause these at will, so
 * at most {@link PEER_FAULT_LINES_PER_SECOND} lines a second are written; the first line after
 * a quiet spell says how many were left out (`leftOut`).
 */
export function peerFault(
  log: Logger,
  message: string,
  properties: Record<string, unknown> = {},
  level: "debug" | "info" | "warn" = "info",
): void {
  const window = Math.floor(Date.now() / 1000);
  if (window !== faultWindow) {
    faultWindow = window;
    faultLines = 0;
  }
  if (faultLines >= PEER_FAULT_LINES_PER_SECOND) {
    faultsLeftOut++;
    return;
  }
  faultLines++;
  const leftOut = faultsLeftOut;
  faultsLeftOut = 0;
  log[level](message, leftOut > 0 ? { ...properties, leftOut } : properties);
}
