/** Starts an in-process relay on a free loopback port with a generated certificate. */
import { loadConfig } from "../../src/config.ts";
import { Relay, type RelayOptions } from "../../src/relay.ts";

export async function startRelay(args: string[] = [], options: RelayOptions = {}): Promise<Relay> {
  const command = loadConfig([
    "--bind",
    "127.0.0.1:0",
    "--tls-generate",
    "127.0.0.1",
    "-q",
    ...args,
  ], {});
  if (command.kind !== "run") throw new Error("bad relay arguments");
  const relay = await Relay.load(command.config, options);
  relay.start();
  return relay;
}
