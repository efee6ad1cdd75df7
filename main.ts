/**
 * moq-relay: a Media over QUIC (moq-lite) relay. Parses settings, loads the relay, runs it.
 * Bad settings, and anything else that stops the relay from starting (a file it cannot read, a
 * port it cannot bind), print one line and exit with code 2 before the relay serves anyone.
 *
 * @module
 */
import { KeyError } from "./src/auth/keys.ts";
import { ConfigError, loadConfig } from "./src/config.ts";
import { ListenError } from "./src/listen.ts";
import { logger, setupLogging } from "./src/log.ts";
import { Relay } from "./src/relay.ts";
import { CertificateError } from "./src/tls/certificate.ts";

function fail(message: string): never {
  console.error(`moq-relay: ${message}`);
  Deno.exit(2);
}

/**
 * A bug in one session must never take the relay down: log an unhandled rejection and go on.
 * (Every known path handles its errors; this is the last line of defence.)
 */
function keepRunning(): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason instanceof Error
      ? event.reason.stack ?? event.reason.message
      : String(event.reason);
    logger("relay").error("unhandled rejection (bug): {reason}", { reason });
  });
}

/** The one line a start-up failure prints. */
function startupMessage(e: unknown): string {
  if (e instanceof ConfigError || e instanceof CertificateError || e instanceof KeyError) {
    return e.message;
  }
  if (e instanceof ListenError) return `--bind: ${e.message}`;
  return `cannot start: ${e instanceof Error ? e.message : String(e)}`;
}

async function main(args: string[]): Promise<void> {
  let relay: Relay;
  try {
    const command = loadConfig(args);
    if (command.kind !== "run") {
      console.log(command.text);
      return;
    }
    setupLogging(command.config.log.level, command.config.log.format);
    relay = await Relay.load(command.config);
    // The first signal drains (GOAWAY, then exit once the sessions left or at --drain-timeout);
    // a second one exits at once.
    const stop = () => {
      if (relay.draining) {
        logger("relay").warn("second signal: exiting now ({sessions} sessions open)", {
          sessions: relay.sessions.size,
        });
        Deno.exit(0);
      }
      logger("relay").info("signal received: draining (signal again to exit at once)");
      void relay.drain().then(() => Deno.exit(0));
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    // The operator's "read the certificate again" (as nginx and haproxy take it); not on Windows.
    if (Deno.build.os !== "windows") {
      Deno.addSignalListener("SIGHUP", () => void relay.reloadCertificates());
    }
    relay.start();
  } catch (e) {
    fail(startupMessage(e).split("\n")[0] ?? "cannot start");
  }
  // From here on a bug in one session must not end the relay. Not before: a failure to start
  // would be logged as a rejection and the process would exit 0 with nothing listening.
  keepRunning();
}

if (import.meta.main) await main(Deno.args);
