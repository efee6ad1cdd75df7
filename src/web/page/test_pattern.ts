/**
 * "Try it": a generated test pattern with a running clock, drawn on a canvas and published
 * through this relay with upstream's `@moq/publish` (its JS API: `<moq-publish>` takes only
 * camera, screen and file sources).
 *
 * @module
 */
import * as Publish from "@moq/publish";
import { relayUrl } from "./token.ts";

const WIDTH = 640;
const HEIGHT = 360;
const FPS = 30;
const BARS = ["#c0c0c0", "#c0c000", "#00c0c0", "#00c000", "#c000c0", "#c00000", "#0000c0"];

/** A fresh name under `test/`; the `.hang` suffix is what @moq/publish expects of its names. */
export function testBroadcastName(): string {
  const random = crypto.getRandomValues(new Uint8Array(4));
  return `test/${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}.hang`;
}

/** Draws the pattern on `canvas` every animation frame until stopped. */
function animate(canvas: HTMLCanvasElement, name: string): () => void {
  const context = canvas.getContext("2d");
  if (!context) throw new Error("no 2D canvas context");
  const started = performance.now();
  let frame = 0;
  let request = 0;
  const draw = () => {
    const elapsed = performance.now() - started;
    const barWidth = WIDTH / BARS.length;
    BARS.forEach((color, i) => {
      context.fillStyle = color;
      context.fillRect(i * barWidth, 0, barWidth + 1, HEIGHT * 0.7);
    });
    context.fillStyle = "#111";
    context.fillRect(0, HEIGHT * 0.7, WIDTH, HEIGHT * 0.3);
    // A bar sweeping once every two seconds shows motion at a glance.
    const sweep = ((elapsed / 2000) % 1) * WIDTH;
    context.fillStyle = "#fff";
    context.fillRect(sweep, HEIGHT * 0.7, 8, HEIGHT * 0.3);
    context.font = "bold 44px monospace";
    context.textAlign = "center";
    context.textBaseline = "middle";
    const now = new Date();
    const clock = now.toLocaleTimeString("en-GB", { hour12: false }) + "." +
      String(now.getMilliseconds()).padStart(3, "0");
    context.fillStyle = "rgba(0,0,0,0.6)";
    context.fillRect(WIDTH / 2 - 170, HEIGHT * 0.35 - 32, 340, 64);
    context.fillStyle = "#fff";
    context.fillText(clock, WIDTH / 2, HEIGHT * 0.35);
    context.font = "18px monospace";
    context.fillText(`${name}  frame ${frame++}`, WIDTH / 2, HEIGHT * 0.85);
    request = requestAnimationFrame(draw);
  };
  draw();
  return () => cancelAnimationFrame(request);
}

/** A running test broadcast. */
export interface TestBroadcast {
  readonly name: string;
  readonly canvas: HTMLCanvasElement;
  stop(): void;
}

/** Starts drawing and publishing `name` to the relay. */
export async function publishTestPattern(
  name: string,
  token: string | undefined,
): Promise<TestBroadcast> {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  const stopDrawing = animate(canvas, name);
  // A canvas stream's track is a video track; the DOM types do not say so.
  const track = canvas.captureStream(FPS).getVideoTracks()[0] as Publish.Video.Source | undefined;
  if (!track) {
    stopDrawing();
    throw new Error("the canvas gave no video track");
  }
  let connection: Publish.Net.Connection.Established;
  try {
    connection = await Publish.Net.Connection.connect(relayUrl("/", token));
  } catch (e) {
    stopDrawing();
    track.stop();
    throw e;
  }
  const broadcast = new Publish.Broadcast({
    connection,
    enabled: true,
    name: Publish.Net.Path.from(name),
    video: { source: track, hd: { enabled: true } },
  });
  return {
    name,
    canvas,
    stop() {
      broadcast.close();
      connection.close();
      track.stop();
      stopDrawing();
    },
  };
}
