/** Shared helpers for transport tests: read a stream to its end, and an echo server. */
import { concatBytes } from "../../src/bytes/concat.ts";
import type { RecvStream, Session } from "../../src/transport/session.ts";

export async function readAll(stream: RecvStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let chunk = await stream.read(); chunk; chunk = await stream.read()) parts.push(chunk);
  return concatBytes(parts);
}

export /** Echo server: echoes bidi streams, reads uni streams to their end and answers on a uni stream. */
async function echo(session: Session): Promise<void> {
  const tasks: Promise<void>[] = [];
  const bidi = (async () => {
    for (let s = await session.acceptBi(); s; s = await session.acceptBi()) {
      const stream = s;
      tasks.push(
        (async () => {
          const data = await readAll(stream.recv);
          await stream.send.write(data);
          await stream.send.close();
        })().catch(() => {}),
      );
    }
  })();
  const uni = (async () => {
    for (let s = await session.acceptUni(); s; s = await session.acceptUni()) {
      const stream = s;
      tasks.push(
        (async () => {
          const data = await readAll(stream);
          const reply = await session.openUni();
          await reply.write(new TextEncoder().encode(`got ${data.length}`));
          await reply.close();
        })().catch(() => {}),
      );
    }
  })();
  await Promise.all([bidi, uni]);
  await Promise.allSettled(tasks);
}
