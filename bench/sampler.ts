/**
 * CPU, RSS and write counts of processes during a measurement window, from /proc.
 *
 * @module
 */
import { type ProcSample, sampleProc } from "./common.ts";
import type { Proc } from "./proc.ts";

export interface Monitored {
  label: string;
  pid: number;
  /** A server process whose death during a scenario is reported. */
  proc?: Proc;
}

export interface ProcFigures {
  label: string;
  cpuPerSecond: number;
  rssPeakMiB: number;
  hwmMiB: number;
  wcharPerSecond: number | undefined;
}

/** Samples CPU (at the window's ends) and RSS (every 200 ms) of some processes. */
export class Sampler {
  #peaks = new Map<number, number>();
  #start = new Map<number, ProcSample>();
  #end = new Map<number, ProcSample>();
  #timer: ReturnType<typeof setInterval>;

  constructor(readonly procs: Monitored[]) {
    this.#timer = setInterval(() => this.#tick(), 200);
    this.#tick();
  }

  #tick(): void {
    for (const { pid } of this.procs) {
      const s = sampleProc(pid);
      if (s) this.#peaks.set(pid, Math.max(this.#peaks.get(pid) ?? 0, s.rssKiB));
    }
  }

  mark(which: "start" | "end"): void {
    this.#tick();
    for (const { pid } of this.procs) {
      const s = sampleProc(pid);
      if (s) (which === "start" ? this.#start : this.#end).set(pid, s);
    }
  }

  figures(): ProcFigures[] {
    clearInterval(this.#timer);
    return this.procs.map(({ label, pid }) => {
      const a = this.#start.get(pid);
      const b = this.#end.get(pid);
      const seconds = a && b ? (b.at - a.at) / 1000 : NaN;
      return {
        label,
        cpuPerSecond: a && b ? (b.cpuSeconds - a.cpuSeconds) / seconds : NaN,
        rssPeakMiB: (this.#peaks.get(pid) ?? 0) / 1024,
        hwmMiB: (b?.hwmKiB ?? 0) / 1024,
        wcharPerSecond: a?.wchar !== undefined && b?.wchar !== undefined
          ? (b.wchar - a.wchar) / seconds
          : undefined,
      };
    });
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
