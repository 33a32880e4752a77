/**
 * Development sign-in: where the page's token comes from, and how it is refreshed.
 *
 * A token arrives in the URL fragment (`#token=<JWT>`, the link `reelay dev` prints) or in
 * the sign-in field. The page keeps it in sessionStorage (this tab only) and removes the
 * fragment from the address bar so the token is not bookmarked or shared by accident.
 *
 * `getToken()` is the token callback the real-time client and every request use. Dev
 * tokens cannot be renewed by the page itself, so each call re-reads the sources — a dev
 * link opened again in this tab (fragment), the field, the stored token — and answers the
 * one that expires last; a production page would ask its identity provider here instead.
 * When none is valid any more it rejects, and `onExpired` asks the person for a new one.
 */

import { tokenExpiry } from "./reelay-client.js";

const STORAGE_KEY = "reelay.token";

function fragmentToken() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  return params.get("token");
}

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return null;
  }
}

export function looksLikeJwt(token) {
  return typeof token === "string" && token.split(".").length === 3 && claims(token) !== null;
}

function stillValid(token) {
  if (!looksLikeJwt(token)) return false;
  const exp = tokenExpiry(token);
  return exp === null || exp > Date.now() / 1000 + 5;
}

export class DevTokens {
  constructor({ field, onExpired }) {
    this.field = field;
    this.onExpired = onExpired;
    this.getToken = this.getToken.bind(this);
    window.addEventListener("hashchange", () => this.adoptFragment());
  }

  /** Take a token from the fragment, if there is one; true when it was taken. */
  adoptFragment() {
    const token = fragmentToken();
    if (!token) return false;
    history.replaceState(null, "", location.pathname + location.search);
    if (!looksLikeJwt(token)) return false;
    this.store(token);
    return true;
  }

  store(token) {
    sessionStorage.setItem(STORAGE_KEY, token);
  }

  forget() {
    sessionStorage.removeItem(STORAGE_KEY);
  }

  /** The freshest valid token among the sources, or null. */
  best() {
    const candidates = [fragmentToken(), this.field.value.trim(), sessionStorage.getItem(STORAGE_KEY)];
    const valid = candidates.filter(stillValid);
    valid.sort((a, b) => (tokenExpiry(b) ?? Infinity) - (tokenExpiry(a) ?? Infinity));
    return valid[0] ?? null;
  }

  async getToken() {
    this.adoptFragment();
    const token = this.best();
    if (token === null) {
      this.onExpired();
      throw new Error("no valid token: sign in again");
    }
    this.store(token);
    return token;
  }

  /** The signed-in user's id (the token's `sub`), or null. */
  user() {
    const token = this.best();
    return token ? claims(token)?.sub ?? null : null;
  }
}
