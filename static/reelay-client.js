/**
 * reelay-client.js — live export progress for the browser. A plain ES module: no build
 * step, no dependencies. Speaks the protocol of docs/api.md "Events" (WS /ws, polling).
 *
 *   import { ReelayClient } from "/reelay-client.js";
 *   const client = new ReelayClient({ getToken: async () => myJwt });
 *   client.addEventListener("export", (e) => render(e.detail.exportId, e.detail.state));
 *   client.addEventListener("connection", (e) => badge(e.detail.state));
 *   await client.watch(projectId);          // snapshot + live updates
 *
 * Options (all optional except getToken):
 *   getToken()          async () => JWT string. Called at start, again before the token
 *                       expires (its `exp` is read from the JWT), and after a 401/4001.
 *   baseUrl             API origin, "" (default) = this page's origin.
 *   pollIntervalMs      polling period when the socket is unusable (10000).
 *   maxSocketFailures   failed socket attempts in a row before polling (3).
 *   probeIntervalMs     while polling, how often the socket is tried again (30000).
 *   backoffBaseMs / backoffMaxMs   reconnect delay, doubled per failure with jitter
 *                       (500 / 15000).
 *   pingIntervalMs      client ping on a quiet socket; no answer in the same time →
 *                       the socket is treated as dead and reconnected (25000).
 *   refreshMarginS      refresh the token this long before `exp` (60; at most half
 *                       the token's remaining life).
 *   readyTimeoutMs      a socket not "ready" this long after opening counts as failed
 *                       (10000).
 *   WebSocket, fetch    injectable for tests (default: the browser's).
 *
 * Methods:
 *   watch(projectId, { since })  start following a project. Without `since` the client
 *                       loads the snapshot (GET .../exports) and follows from the log's
 *                       current end; with `since` (a cursor you kept) it replays the
 *                       events after it. Resolves once the snapshot is loaded.
 *   unwatch(projectId)  stop following it.
 *   exports(projectId)  Map exportId → state (below), for the project.
 *   exportState(exportId)  one export's state, or undefined.
 *   cursor(projectId)   the last seq applied (keep it to resume later).
 *   connection          "live" (WebSocket), "polling" (fallback) or "offline".
 *   close()             stop everything (socket, timers).
 *
 * Export state: { id, projectId, status, progress, chunks_done, chunks_total, eta_s,
 *   speed, video_url, size_bytes, duration_s, width, height, error, preview_url,
 *   poster_url, chunks_ready, playable_s, updatedSeq }. `chunks_ready` and `playable_s`
 *   follow "export.preview" (how much of the HLS preview can play); a new attempt resets
 *   them.
 *   Snapshot rows (GET .../exports) are merged in as they are, so their other fields
 *   (moment_id, aspect_ratio, created_at…) are there too. `progress` never goes back.
 *
 * Events (an EventTarget; each is a CustomEvent whose `detail` is shown):
 *   "event"       { projectId, event }   every server event, once, in seq order.
 *   "export"      { projectId, exportId, state }   an export's state changed.
 *   "snapshot"    { projectId, exports }   a snapshot was (re)loaded: redraw the list.
 *   "reset"       { projectId, lastSeq }   the server's log could not resume the cursor;
 *                 a snapshot reload follows.
 *   "connection"  { state }   "live" | "polling" | "offline".
 *   "error"       { code, message, projectId? }   e.g. "forbidden" (not your project:
 *                 it is unwatched), "unauthorized" (getToken failed), "http_error".
 */

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const NO_PREVIEW = { preview_url: null, poster_url: null, chunks_ready: 0, playable_s: null };
const PAGE = 500;

/** Seconds since the epoch at which `token` expires, or null if it has no readable exp. */
export function tokenExpiry(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    const exp = JSON.parse(atob(padded)).exp;
    return typeof exp === "number" ? exp : null;
  } catch {
    return null;
  }
}

/** The export state after `event` (a pure function; exported for pages and tests). */
export function applyEvent(state, event) {
  const next = { ...state, updatedSeq: event.seq };
  const data = event.data || {};
  switch (event.type) {
    case "export.queued":
      Object.assign(next, { status: "queued", error: null, ...NO_PREVIEW });
      break;
    case "export.started":
      if (!TERMINAL.has(next.status) && next.status !== "cancelling") next.status = "running";
      break;
    case "export.progress":
      if (!TERMINAL.has(next.status) && next.status !== "cancelling") next.status = "running";
      for (const key of ["chunks_done", "chunks_total", "eta_s", "speed", "phase"]) {
        if (key in data) next[key] = data[key];
      }
      if (typeof data.progress === "number") {
        next.progress = Math.max(next.progress || 0, data.progress);
      }
      break;
    case "export.preview":
      for (const key of ["chunks_ready", "playable_s"]) {
        if (typeof data[key] === "number") next[key] = Math.max(next[key] || 0, data[key]);
      }
      break;
    case "export.completed":
      Object.assign(next, { status: "completed", progress: 1, eta_s: 0, error: null });
      for (const key of ["video_url", "size_bytes", "duration_s", "width", "height"]) {
        if (key in data) next[key] = data[key];
      }
      break;
    case "export.failed":
      Object.assign(next, { status: "failed", eta_s: null });
      next.error = { code: data.code, message: data.message };
      break;
    case "export.cancelling":
      if (!TERMINAL.has(next.status)) next.status = "cancelling";
      break;
    case "export.cancelled":
      Object.assign(next, { status: "cancelled", eta_s: null });
      break;
    default:
      return state;
  }
  return next;
}

function emptyState(exportId, projectId) {
  return {
    id: exportId, projectId, status: "queued", progress: 0, chunks_done: 0,
    chunks_total: null, eta_s: null, speed: null, video_url: null, size_bytes: null,
    duration_s: null, width: null, height: null, error: null, ...NO_PREVIEW, updatedSeq: 0,
  };
}

export class ReelayClient extends EventTarget {
  constructor(options) {
    super();
    if (!options || typeof options.getToken !== "function") {
      throw new TypeError("ReelayClient needs options.getToken");
    }
    this.options = {
      baseUrl: "", pollIntervalMs: 10000, maxSocketFailures: 3, probeIntervalMs: 30000,
      backoffBaseMs: 500, backoffMaxMs: 15000, pingIntervalMs: 25000, refreshMarginS: 60,
      readyTimeoutMs: 10000,
      WebSocket: globalThis.WebSocket, fetch: globalThis.fetch.bind(globalThis),
      ...options,
    };
    this.connection = "offline";
    this._projects = new Map(); // projectId → {cursor, exports, buffer, busy, confirmed}
    this._exportIndex = new Map();
    this._token = null;
    this._socket = null;
    this._failures = 0;
    this._timers = new Set();
    this._closed = false;
    this._lastHeard = 0;
  }

  // ---- public API ----

  async watch(projectId, { since } = {}) {
    if (this._projects.has(projectId)) return;
    const project = { cursor: since ?? 0, exports: new Map(), buffer: [], busy: 0, confirmed: false };
    this._projects.set(projectId, project);
    if (since === undefined) await this._reload(projectId, null);
    if (this._ready) this._subscribe(projectId);
    else if (this.connection === "polling") this._fill(projectId);
    else this._connect();
  }

  unwatch(projectId) {
    const project = this._projects.get(projectId);
    if (!project) return;
    this._projects.delete(projectId);
    for (const id of project.exports.keys()) this._exportIndex.delete(id);
    if (this._ready) this._send({ type: "unsubscribe", project_id: projectId });
  }

  exports(projectId) {
    return new Map(this._projects.get(projectId)?.exports ?? []);
  }

  exportState(exportId) {
    const projectId = this._exportIndex.get(exportId);
    return this._projects.get(projectId)?.exports.get(exportId);
  }

  cursor(projectId) {
    return this._projects.get(projectId)?.cursor ?? 0;
  }

  close() {
    this._closed = true;
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    this._dropSocket();
    this._setConnection("offline");
  }

  // ---- tokens and HTTP ----

  async _freshToken(force = false) {
    const soon = Date.now() / 1000 + 5;
    if (!force && this._token && (tokenExpiry(this._token) ?? Infinity) > soon) return this._token;
    try {
      this._token = await this.options.getToken();
    } catch (error) {
      this._emit("error", { code: "unauthorized", message: `getToken failed: ${error}` });
      throw error;
    }
    this._scheduleRefresh();
    return this._token;
  }

  _scheduleRefresh() {
    clearTimeout(this._refreshTimer);
    this._timers.delete(this._refreshTimer);
    const exp = tokenExpiry(this._token);
    if (exp === null) return;
    const left = exp - Date.now() / 1000;
    const margin = Math.min(this.options.refreshMarginS, left / 2);
    this._refreshTimer = this._after(Math.max((left - margin) * 1000, 1000), async () => {
      try {
        const token = await this._freshToken(true);
        if (this._ready) this._send({ type: "auth", token });
      } catch {
        this._refreshTimer = this._after(5000, () => this._scheduleRefresh());
      }
    });
  }

  async _get(path) {
    for (let attempt = 0; ; attempt++) {
      const token = await this._freshToken(attempt > 0);
      const response = await this.options.fetch(this.options.baseUrl + path, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
      });
      if (response.status === 401 && attempt === 0) continue;
      if (!response.ok) {
        const error = new Error(`GET ${path} → ${response.status}`);
        error.status = response.status;
        throw error;
      }
      return response.json();
    }
  }

  // ---- applying events, gaps, snapshots ----

  _receive(projectId, event) {
    const project = this._projects.get(projectId);
    if (!project || event.seq <= project.cursor) return;
    if (project.busy || event.seq !== project.cursor + 1) {
      project.buffer.push(event);
      if (!project.busy) this._fill(projectId);
      return;
    }
    this._apply(projectId, project, event);
  }

  _apply(projectId, project, event) {
    project.cursor = event.seq;
    if (event.export_id) {
      const before = project.exports.get(event.export_id) ?? emptyState(event.export_id, projectId);
      const after = applyEvent(before, event);
      if (after !== before) {
        project.exports.set(event.export_id, after);
        this._exportIndex.set(event.export_id, projectId);
      }
    }
    this._emit("event", { projectId, event });
    if (event.export_id && project.exports.has(event.export_id)) {
      this._emit("export", {
        projectId, exportId: event.export_id, state: project.exports.get(event.export_id),
      });
    }
  }

  _flush(projectId, project) {
    project.buffer.sort((a, b) => a.seq - b.seq);
    while (project.buffer.length && project.buffer[0].seq <= project.cursor + 1) {
      const event = project.buffer.shift();
      if (event.seq === project.cursor + 1) this._apply(projectId, project, event);
    }
  }

  /** Fetch what is missing after the cursor from the polling endpoint (a gap or a poll). */
  async _fill(projectId) {
    const project = this._projects.get(projectId);
    if (!project || project.busy) return;
    project.busy++;
    try {
      for (;;) {
        const page = await this._get(
          `/api/projects/${encodeURIComponent(projectId)}/events?since=${project.cursor}`,
        );
        if (this._projects.get(projectId) !== project) return;
        if (page.reset) {
          project.busy--;
          await this._reload(projectId, page.last_seq);
          project.busy++;
          continue;
        }
        for (const event of page.events) {
          if (event.seq === project.cursor + 1) this._apply(projectId, project, event);
        }
        if (page.events.length < PAGE) break;
      }
    } catch (error) {
      this._httpError(projectId, error);
    } finally {
      project.busy--;
    }
    this._flush(projectId, project);
    if (project.buffer.length) this._after(1000, () => this._fill(projectId));
  }

  /** Load the snapshot and continue from `lastSeq` (the log's end when null). */
  async _reload(projectId, lastSeq) {
    const project = this._projects.get(projectId);
    if (!project) return;
    project.busy++;
    try {
      const base = `/api/projects/${encodeURIComponent(projectId)}`;
      if (lastSeq === null) lastSeq = (await this._get(`${base}/events?since=0&limit=1`)).last_seq;
      const snapshot = await this._get(`${base}/exports`);
      if (this._projects.get(projectId) !== project) return;
      project.exports = new Map();
      for (const row of snapshot.exports) {
        const state = { ...emptyState(row.id, projectId), ...row, projectId, updatedSeq: lastSeq };
        project.exports.set(row.id, state);
        this._exportIndex.set(row.id, projectId);
      }
      project.cursor = lastSeq;
      project.buffer = project.buffer.filter((event) => event.seq > lastSeq);
      this._emit("snapshot", { projectId, exports: new Map(project.exports) });
    } catch (error) {
      this._httpError(projectId, error);
    } finally {
      project.busy--;
    }
    this._flush(projectId, project);
  }

  _httpError(projectId, error) {
    if (error.status === 404 || error.status === 403) {
      this._forbid(projectId);
      return;
    }
    this._emit("error", { code: "http_error", message: String(error.message ?? error), projectId });
  }

  _forbid(projectId) {
    this.unwatch(projectId);
    this._emit("error", { code: "forbidden", message: "not your project", projectId });
  }

  // ---- the socket ----

  get _ready() {
    return this._socket !== null && this._socket.reelayReady === true;
  }

  async _connect() {
    if (this._closed || this._socket) return;
    let token;
    try {
      token = await this._freshToken();
    } catch {
      this._socketFailed();
      return;
    }
    const url = new URL("/ws", this.options.baseUrl || location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new this.options.WebSocket(url.href);
    } catch {
      this._socketFailed();
      return;
    }
    this._socket = socket;
    socket.reelayReady = false;
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token }));
    socket.onmessage = (message) => this._onMessage(socket, message);
    socket.onclose = (close) => this._onClose(socket, close.code, close.reason);
    this._after(this.options.readyTimeoutMs, () => {
      if (socket === this._socket && !socket.reelayReady) {
        socket.close(4000, "not ready in time");
        this._onClose(socket, 1006);
      }
    });
  }

  _onMessage(socket, message) {
    if (socket !== this._socket) return;
    this._lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "ready":
        if (!socket.reelayReady) this._onReady(socket);
        break;
      case "event":
        this._receive(frame.event.project_id, frame.event);
        break;
      case "subscribed": {
        const project = this._projects.get(frame.project_id);
        if (project) project.confirmed = true;
        break;
      }
      case "reset":
        this._emit("reset", { projectId: frame.project_id, lastSeq: frame.last_seq });
        this._reload(frame.project_id, frame.last_seq);
        break;
      case "ping":
        this._send({ type: "pong" });
        break;
      case "error":
        this._emit("error", { code: frame.code, message: frame.message });
        break;
      default:
        break;
    }
  }

  _onReady(socket) {
    socket.reelayReady = true;
    this._failures = 0;
    this._stopPolling();
    this._setConnection("live");
    for (const projectId of this._projects.keys()) this._subscribe(projectId);
    this._keepAlive(socket);
  }

  _subscribe(projectId) {
    const project = this._projects.get(projectId);
    project.confirmed = false;
    this._send({ type: "subscribe", project_id: projectId, since: project.cursor });
  }

  _keepAlive(socket) {
    const every = this.options.pingIntervalMs;
    const tick = () => {
      if (socket !== this._socket) return;
      if (Date.now() - this._lastHeard > 2 * every) {
        socket.close(4000, "no answer");
        this._onClose(socket, 1006);
        return;
      }
      if (Date.now() - this._lastHeard >= every) this._send({ type: "ping" });
      this._after(every, tick);
    };
    this._after(every, tick);
  }

  _onClose(socket, code, reason = "") {
    if (socket !== this._socket) return;
    const wasReady = socket.reelayReady;
    this._socket = null;
    if (this._closed) return;
    if (code === 4003) {
      // The server names the project ("not your project: <id>"); else drop unconfirmed ones.
      const named = /^not your project: (.+)$/.exec(reason)?.[1];
      for (const [projectId, project] of [...this._projects]) {
        if (named ? projectId === named : !project.confirmed) this._forbid(projectId);
      }
    }
    if (code === 4001) this._token = null;
    if (wasReady && (code === 4008 || code === 4003 || code === 4001 || code === 1013)) {
      this._after(this._backoff(1), () => this._connect());
      this._setConnection("offline");
      return;
    }
    this._socketFailed(wasReady);
  }

  _socketFailed(wasReady = false) {
    this._failures = wasReady ? 1 : this._failures + 1;
    if (this._failures >= this.options.maxSocketFailures) {
      this._startPolling();
      this._after(this.options.probeIntervalMs, () => this._connect());
      return;
    }
    if (this.connection !== "polling") this._setConnection("offline");
    this._after(this._backoff(this._failures), () => this._connect());
  }

  _backoff(failures) {
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** failures);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  _send(message) {
    if (this._socket && this._socket.readyState === 1) this._socket.send(JSON.stringify(message));
  }

  _dropSocket() {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onopen = null;
      try {
        socket.close(1000);
      } catch {
        // already closed
      }
    }
  }

  // ---- polling fallback ----

  _startPolling() {
    if (this.connection === "polling") return;
    this._setConnection("polling");
    const poll = async () => {
      if (this.connection !== "polling" || this._closed) return;
      await Promise.all([...this._projects.keys()].map((projectId) => this._fill(projectId)));
      if (this.connection === "polling") this._pollTimer = this._after(this.options.pollIntervalMs, poll);
    };
    poll();
  }

  _stopPolling() {
    clearTimeout(this._pollTimer);
    this._timers.delete(this._pollTimer);
  }

  // ---- helpers ----

  _after(ms, fn) {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      if (!this._closed) fn();
    }, ms);
    this._timers.add(timer);
    return timer;
  }

  _setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this._emit("connection", { state });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
