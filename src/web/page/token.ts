/**
 * The viewer's token for a relay that checks them: kept for the tab's life in `sessionStorage`,
 * and carried as `?jwt=` on every URL the page gives the relay (the event stream, the player, the
 * publisher).
 *
 * @module
 */

const KEY = "moq-relay.jwt";

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled
  }
}

export function storeToken(token: string | undefined): void {
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    // storage disabled: the token lasts as long as the page
  }
}

/** `path` on the relay's own origin, with `?jwt=` when there is a token. */
export function relayUrl(path: string, token: string | undefined): URL {
  const url = new URL(path, location.origin);
  if (token) url.searchParams.set("jwt", token);
  return url;
}
