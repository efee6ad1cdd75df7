/**
 * The relay's own page (served at `/`, bundled by `tools/build_page.ts`): what is on air, the
 * relay's state over the last minutes, a player, and a test pattern to publish. Everything comes
 * from this relay: `/live` (server-sent events, a snapshot a second) and MoQ sessions to it.
 *
 * @module
 */
import { History } from "./history.ts";
import { type LiveState, LiveStream } from "./live_stream.ts";
import { OnAir } from "./on_air.ts";
import { Player } from "./player.ts";
import { RelayPanel } from "./relay_panel.ts";
import { publishTestPattern, type TestBroadcast, testBroadcastName } from "./test_pattern.ts";
import { storedToken, storeToken } from "./token.ts";

function find<T extends HTMLElement = HTMLElement>(selector: string): T {
  const element = document.querySelector<T>(selector);
  if (!element) throw new Error(`the page lacks ${selector}`);
  return element;
}

let token = storedToken();
const history = new History();
const panel = new RelayPanel(find("[data-plots]"));
const player = new Player(
  find("[data-player]"),
  find("[data-player-empty]"),
  find("[data-watching-name]"),
);
const watch = (path: string) => {
  player.watch(path, token);
  onAir.select(path);
};
const onAir = new OnAir({
  body: find("[data-broadcasts]"),
  count: find("[data-broadcast-count]"),
  empty: find("[data-no-broadcasts]"),
  more: find("[data-more-broadcasts]"),
}, watch);

const pill = find("[data-live-state]");
const prompt = find("[data-token-prompt]");
const STATE_TEXT: Record<LiveState, string> = {
  connecting: "connecting",
  live: "live",
  offline: "reconnecting",
  refused: "token needed",
};

const live = new LiveStream({
  snapshot(snapshot) {
    history.add(snapshot);
    onAir.update(snapshot);
    panel.update(history);
    find("[data-version]").textContent = `v${snapshot.version}`;
    find("[data-updated]").textContent = new Date(snapshot.time).toLocaleTimeString();
  },
  state(state, status) {
    pill.dataset.liveState = state;
    pill.textContent = STATE_TEXT[state];
    if (state === "live") prompt.hidden = true;
    if (state === "refused") {
      prompt.hidden = false;
      find("[data-token-reason]").textContent = token
        ? `The relay refused this token (${status}). Paste another one.`
        : "Paste a token (JWT) to see what it grants.";
    }
  },
});

find<HTMLFormElement>("[data-token-form]").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = find<HTMLInputElement>("[data-token-input]");
  token = input.value.trim() || undefined;
  input.value = "";
  storeToken(token);
  live.open(token);
  if (player.path) watch(player.path);
});

let test: TestBroadcast | undefined;
const testButton = find<HTMLButtonElement>("[data-test-pattern]");
const testStatus = find("[data-test-status]");
testButton.addEventListener("click", async () => {
  if (test) {
    test.stop();
    test = undefined;
    delete testButton.dataset.publishing;
    testButton.textContent = "Publish a test pattern";
    testStatus.textContent = "";
    find("[data-test-preview]").replaceChildren();
    return;
  }
  testButton.disabled = true;
  const name = testBroadcastName();
  testStatus.textContent = `connecting as ${name}…`;
  try {
    test = await publishTestPattern(name, token);
    testButton.dataset.publishing = name;
    testButton.textContent = "Stop the test pattern";
    testStatus.textContent = `publishing ${name}`;
    test.canvas.style.width = "240px";
    find("[data-test-preview]").replaceChildren(test.canvas);
    watch(name);
  } catch (e) {
    testStatus.textContent = `could not publish: ${e instanceof Error ? e.message : e}`;
  } finally {
    testButton.disabled = false;
  }
});

live.open(token);
