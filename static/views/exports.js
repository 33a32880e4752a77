/**
 * Exports: one card per export with live progress (never backwards), chunks, speed, an ETA
 * that counts down between updates, status; cancel (confirmed), retry, the error in plain
 * words, a preview player while it renders and — once finished — the clip and a download
 * link (views/preview.js).
 */

import { showExportFocus } from "./focus.js";
import { bytes, clock, percent, speed } from "../format.js";
import { element } from "./dom.js";
import { ClipPlayer } from "./preview.js";

/** Past exports whose video loads with the page; older ones load on request. */
const PAST_PLAYERS = 4;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const STATUS_TEXT = {
  queued: "Queued",
  running: "Exporting",
  cancelling: "Cancelling…",
  cancelled: "Cancelled",
  completed: "Done",
  failed: "Failed",
};

const FAILURES = {
  not_a_video: "The source video could not be read",
  unsupported_codec: "The source video uses a codec we cannot decode",
  moment_out_of_range: "The moment lies outside the source video",
  invalid_render_spec: "These export settings cannot be rendered",
};

const $ = (id) => document.getElementById(id);

/** Why an export failed, in words: what happened, then the server's detail. */
export function failureText(error) {
  const what = FAILURES[error?.code] ?? "The export failed";
  return error?.message ? `${what}: ${error.message}.` : `${what}.`;
}

export class ExportsView {
  constructor({ api, titleOf }) {
    this.api = api;
    this.titleOf = titleOf;
    this.cards = new Map();
    this.pastPlayers = 0;
    this.list = $("export-list");
    this.dialog = $("confirm-dialog");
    setInterval(() => this.tick(), 1000);
  }

  /** Forget every card (another project was chosen). */
  clear() {
    for (const card of this.cards.values()) card.player?.destroy();
    this.cards.clear();
    this.pastPlayers = 0;
    this.list.replaceChildren();
    this.renderEmpty();
  }

  /** A whole list (newest first), e.g. the snapshot after load or a reset. */
  replaceAll(states) {
    const seen = new Set();
    for (const state of states) {
      seen.add(state.id);
      this.update(state, { append: true });
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.player?.destroy();
        card.node.remove();
        this.cards.delete(id);
      }
    }
    this.renderEmpty();
  }

  /**
   * Merge a state (from the live client or an API answer) into its card, creating it on
   * top when new. `fresh` starts a new attempt (retry), the only time progress may drop.
   */
  update(state, { fresh = false, append = false } = {}) {
    let card = this.cards.get(state.id);
    if (!card) {
      card = this.createCard(state);
      this.cards.set(state.id, card);
      if (append) this.list.append(card.node);
      else this.list.prepend(card.node);
      this.renderEmpty();
    }
    const before = card.state;
    const merged = { ...before, ...state };
    if (!fresh && TERMINAL.has(before.status) && !TERMINAL.has(state.status) && state.fromApi) {
      merged.status = before.status;
    }
    if (!fresh) merged.progress = Math.max(before.progress ?? 0, state.progress ?? 0);
    delete merged.fromApi;
    if (merged.eta_s !== before.eta_s || merged.status !== before.status) {
      card.etaBase = merged.eta_s;
      card.etaAt = performance.now();
    }
    card.state = merged;
    this.render(card, before);
  }

  createCard(state) {
    const node = element("li", "export-card");
    node.id = `export-${state.id}`;
    node.dataset.exportId = state.id;
    const header = element("header");
    const title = element("h3", "export-title");
    const status = element("span", "status");
    header.append(title, status);
    const bar = element("div", "bar");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    const fill = element("div", "bar-fill");
    bar.append(fill);
    const stats = element("p", "export-stats");
    const fields = {
      percent: element("span", "stat-percent"),
      chunks: element("span", "stat-chunks"),
      speed: element("span", "stat-speed"),
      eta: element("span", "stat-eta"),
    };
    stats.append(...Object.values(fields));
    const announce = element("p", "visually-hidden");
    announce.setAttribute("role", "status");
    announce.setAttribute("aria-live", "polite");
    const error = element("p", "export-error");
    error.hidden = true;
    const focus = element("p", "export-focus");
    focus.hidden = true;
    const result = element("div", "export-result");
    result.hidden = true;
    const actions = element("div", "export-actions");
    const cancel = element("button", "cancel-button", "Cancel");
    cancel.type = "button";
    const retry = element("button", "retry-button", "Retry");
    retry.type = "button";
    actions.append(cancel, retry);
    node.append(header, bar, stats, announce, error, focus, result, actions);
    const card = {
      node, title, status, bar, fill, fields, announce, error, focus, result, cancel, retry,
      state: { id: state.id, progress: 0 }, etaBase: null, etaAt: 0,
      player: null, stopping: false, milestone: -1,
    };
    cancel.addEventListener("click", () => this.confirmCancel(card));
    retry.addEventListener("click", () => this.retry(card));
    return card;
  }

  render(card, before) {
    const s = card.state;
    const name = this.titleOf(s.moment_id);
    const details = [s.aspect_ratio, s.resolution, s.captions === false ? "no captions" : null];
    card.title.textContent = [name, ...details.filter(Boolean)].join(" · ");
    card.node.dataset.status = s.status;
    card.status.dataset.status = s.status;
    card.status.textContent = STATUS_TEXT[s.status] ?? s.status;
    const value = Math.round((s.progress ?? 0) * 100);
    card.fill.style.width = `${value}%`;
    card.bar.setAttribute("aria-valuenow", String(value));
    card.bar.setAttribute("aria-label", `Progress of ${name}`);
    card.node.dataset.progress = String(s.progress ?? 0);
    card.fields.percent.textContent = percent(s.progress);
    card.fields.chunks.textContent = s.chunks_total
      ? `Chunks ${s.chunks_done ?? 0}/${s.chunks_total}`
      : "Chunks —";
    if (s.status === "running" && s.phase === "analysing") {
      card.fields.chunks.textContent = "Finding faces…";
    }
    showExportFocus(this.api, card, before);
    card.fields.speed.hidden = s.status !== "running" || !s.speed;
    card.fields.speed.textContent = `Speed ${speed(s.speed)}`;
    this.renderEta(card);
    card.error.hidden = s.status !== "failed";
    card.error.textContent = s.status === "failed" ? failureText(s.error) : "";
    card.cancel.hidden = TERMINAL.has(s.status) || s.status === "cancelling";
    card.retry.hidden = !(s.status === "failed" || s.status === "cancelled");
    this.announce(card, before);
    this.renderPlayer(card, before);
  }

  /** The preview plays while the export runs and has chunks; it goes when it stops. */
  renderPlayer(card, before) {
    const s = card.state;
    if (s.status === "completed") {
      this.renderResult(card, before);
      return;
    }
    const ready = s.chunks_ready || (s.preview_url ? 1 : 0);
    if (s.status === "running" && ready > 0 && !card.stopping) {
      card.player ??= this.player(card);
      card.player.preview(ready, s.playable_s);
    } else if (card.player) {
      card.player.destroy();
      card.player = null;
    }
  }

  player(card) {
    return new ClipPlayer({
      box: card.result,
      media: () => this.api.media(card.state.id),
      label: this.titleOf(card.state.moment_id),
    });
  }

  /** Exports finishing now (or previewed), and the newest past ones, get their player. */
  renderResult(card, before) {
    if (card.result.dataset.shown) return;
    card.result.dataset.shown = "true";
    const finishedHere =
      card.player !== null || (before.status !== undefined && before.status !== "completed");
    if (finishedHere || this.pastPlayers < PAST_PLAYERS) {
      if (!finishedHere) this.pastPlayers += 1;
      this.showVideo(card);
      return;
    }
    const load = element("button", "load-video", "Show video and download");
    load.type = "button";
    load.addEventListener("click", () => this.showVideo(card));
    card.result.replaceChildren(load);
    card.result.hidden = false;
  }

  renderEta(card) {
    const s = card.state;
    const eta = card.fields.eta;
    if (s.status !== "running" || card.etaBase === null || card.etaBase === undefined) {
      eta.hidden = true;
      return;
    }
    const left = Math.max(0, card.etaBase - (performance.now() - card.etaAt) / 1000);
    eta.hidden = false;
    eta.textContent = `About ${clock(left)} left`;
  }

  /** Tell screen readers about status changes and each quarter of progress, not every tick. */
  announce(card, before) {
    const s = card.state;
    const name = this.titleOf(s.moment_id);
    const quarter = Math.floor((s.progress ?? 0) * 4);
    if (s.status !== before.status) {
      card.announce.textContent = `${name}: ${STATUS_TEXT[s.status] ?? s.status}`;
    } else if (s.status === "running" && quarter > card.milestone && quarter < 4) {
      card.announce.textContent = `${name}: ${percent(s.progress)} done`;
    }
    card.milestone = Math.max(card.milestone, quarter);
  }

  tick() {
    for (const card of this.cards.values()) this.renderEta(card);
  }

  showVideo(card) {
    const s = card.state;
    const base = this.titleOf(s.moment_id).replace(/[^\w-]+/g, "-").replace(/^-+|-+$/g, "");
    card.player ??= this.player(card);
    card.player.finish({
      filename: `${base || "clip"}-${(s.aspect_ratio ?? "").replace(":", "x")}-${s.id}.mp4`,
      text: s.size_bytes ? `Download MP4 (${bytes(s.size_bytes)})` : "Download MP4",
    });
  }

  confirmCancel(card) {
    $("confirm-text").textContent =
      `"${card.title.textContent}" stops within a few seconds and its partial files are ` +
      "deleted. You can retry it later.";
    this.dialog.returnValue = "";
    this.dialog.addEventListener(
      "close",
      () => {
        if (this.dialog.returnValue === "cancel") this.cancel(card);
        else card.cancel.focus();
      },
      { once: true },
    );
    this.dialog.showModal();
  }

  async cancel(card) {
    card.cancel.disabled = true;
    card.stopping = true; // the preview's files go with the export: stop loading them now
    this.renderPlayer(card, card.state);
    try {
      const answer = await this.api.cancel(card.state.id);
      this.update({ ...answer, fromApi: true });
    } catch (error) {
      if (error.status !== 409) this.flash(card, error.message);
    } finally {
      card.cancel.disabled = false;
      card.stopping = false;
    }
  }

  async retry(card) {
    card.retry.disabled = true;
    try {
      const answer = await this.api.retry(card.state.id);
      card.milestone = -1;
      this.update(answer, { fresh: true });
    } catch (error) {
      this.flash(card, error.message);
    } finally {
      card.retry.disabled = false;
    }
  }

  flash(card, text) {
    card.error.hidden = false;
    card.error.textContent = text;
  }

  renderEmpty() {
    $("exports-empty").hidden = this.cards.size > 0;
  }
}
