/**
 * The focus control of a moment: a static horizontal focus (the slider), keyframes set by
 * scrubbing the source and clicking the subject, or "auto" (each export follows faces).
 * While the player plays, the crop window follows the keyframes along the same monotone
 * curve the renderer uses (workers/render/focus.py), so what is drawn is what is cut.
 */

const $ = (id) => document.getElementById(id);

/** Fritsch–Carlson tangents (zero at extremes and ends): the curve never overshoots. */
function tangents(ts, vs) {
  const n = ts.length;
  const out = new Array(n).fill(0);
  for (let i = 1; i < n - 1; i += 1) {
    const a = (vs[i] - vs[i - 1]) / (ts[i] - ts[i - 1]);
    const b = (vs[i + 1] - vs[i]) / (ts[i + 1] - ts[i]);
    if (a * b > 0) {
      const wa = 2 * (ts[i + 1] - ts[i]) + (ts[i] - ts[i - 1]);
      const wb = (ts[i + 1] - ts[i]) + 2 * (ts[i] - ts[i - 1]);
      out[i] = (wa + wb) / (wa / a + wb / b);
    }
  }
  return out;
}

function hermite(t, t0, t1, v0, v1, d0, d1) {
  const h = t1 - t0;
  const s = (t - t0) / h;
  const s2 = s * s;
  const s3 = s2 * s;
  return (2 * s3 - 3 * s2 + 1) * v0 + (s3 - 2 * s2 + s) * h * d0
    + (-2 * s3 + 3 * s2) * v1 + (s3 - s2) * h * d1;
}

/** The crop centre {x, y} at source time t on a track [{t, x, y?}] (y null: centred). */
export function focusAt(track, t) {
  if (!track.length) return { x: 0.5, y: null };
  let start = 0;
  for (let i = 1; i < track.length; i += 1) {
    if (track[i].t === track[i - 1].t && track[i].t <= t) start = i; // a cut at or before t
  }
  let end = start + 1;
  while (end < track.length && track[end].t !== track[end - 1].t) end += 1;
  const piece = track.slice(start, end);
  const first = piece[0];
  const last = piece[piece.length - 1];
  const y = (p) => (p.y ?? null);
  if (t <= first.t || piece.length === 1) return { x: first.x, y: y(first) };
  if (t >= last.t) return { x: last.x, y: y(last) };
  const ts = piece.map((p) => p.t);
  const xs = piece.map((p) => p.x);
  const ys = piece.map((p) => p.y ?? 0.5);
  const i = ts.findIndex((value, k) => k + 1 < ts.length && value <= t && t < ts[k + 1]);
  const dx = tangents(ts, xs);
  const dy = tangents(ts, ys);
  const clamp = (v) => Math.min(Math.max(v, 0), 1);
  const hasY = piece[i].y != null || piece[i + 1].y != null;
  return {
    x: clamp(hermite(t, ts[i], ts[i + 1], xs[i], xs[i + 1], dx[i], dx[i + 1])),
    y: hasY ? clamp(hermite(t, ts[i], ts[i + 1], ys[i], ys[i + 1], dy[i], dy[i + 1])) : null,
  };
}

/** One line about how a moment is framed, for the moment list. */
export function describeMomentFocus(moment) {
  if (moment.focus_mode === "auto") return "auto focus (faces)";
  if (moment.focus_track?.length) {
    const n = moment.focus_track.length;
    return `focus track (${n} keyframe${n === 1 ? "" : "s"})`;
  }
  return `focus ${Math.round(moment.focus_x * 100)}%`;
}

/** One line about how an export was framed, once it is planned; "" when there is nothing
 * to say (a static focus). */
export function describeExportFocus(exportRow) {
  if (exportRow.focus_fallback) return "Auto focus found no face: the static focus was used.";
  const track = exportRow.focus_track;
  if (track && track.length > 1) return `The crop followed a track of ${track.length} points.`;
  return "";
}

/** Fill a finished export card's focus note: from the row a snapshot gave, or fetched
 * once for an export that finished while watched (its events do not carry the track). */
export async function showExportFocus(api, card, before) {
  const s = card.state;
  if (s.status !== "completed" || card.focus.dataset.loaded) return;
  card.focus.dataset.loaded = "true";
  const finishedHere = before.status !== undefined && before.status !== "completed";
  const text = describeExportFocus(finishedHere ? await api.exportById(s.id).catch(() => s) : s);
  card.focus.textContent = text;
  card.focus.hidden = !text;
}

export class FocusControl {
  /**
   * source: the SourceView (player, crop window); onChange: called whenever the crop to
   * draw changes.
   */
  constructor({ source, onChange }) {
    this.source = source;
    this.onChange = onChange;
    this.keyframes = [];
    this.previewed = null;
    this.picking = false;
    this.slider = $("moment-focus");
    this.panel = $("focus-keyframes");
    this.list = $("focus-keyframe-list");
    this.pickButton = $("focus-pick");
    this.overlay = $("crop-overlay");
    for (const radio of document.querySelectorAll("input[name=focus-mode]")) {
      radio.addEventListener("change", () => this.modeChanged());
    }
    this.pickButton.addEventListener("click", () => this.arm(!this.picking));
    $("focus-add-here").addEventListener("click", () => this.addAtCurrent());
    $("focus-clear").addEventListener("click", () => {
      this.keyframes = [];
      this.renderList();
      this.onChange();
    });
    this.overlay.addEventListener("click", (event) => this.picked(event));
    const player = this.source.player;
    const follow = () => {
      this.onChange();
      if (!player.paused && !player.ended) requestAnimationFrame(follow);
    };
    player.addEventListener("play", () => requestAnimationFrame(follow));
    player.addEventListener("seeked", () => this.onChange());
    player.addEventListener("timeupdate", () => this.onChange());
    this.modeChanged();
  }

  mode() {
    return document.querySelector("input[name=focus-mode]:checked")?.value ?? "static";
  }

  modeChanged() {
    const mode = this.mode();
    this.previewed = null;
    this.panel.hidden = mode !== "keyframes";
    $("focus-auto-hint").hidden = mode !== "auto";
    if (mode !== "keyframes") this.arm(false);
    this.overlay.dataset.mode = mode;
    this.onChange();
  }

  arm(on) {
    this.picking = on;
    this.overlay.dataset.picking = on ? "true" : "false";
    this.pickButton.setAttribute("aria-pressed", on ? "true" : "false");
    this.pickButton.textContent = on ? "Click the subject in the player…" : "Pick the subject";
  }

  /** A keyframe where the user clicked the picture, at the player's current time. */
  picked(event) {
    if (!this.picking) return;
    const time = this.source.currentTime();
    if (time === null) return;
    const box = this.overlay.getBoundingClientRect();
    const x = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    const y = Math.min(Math.max((event.clientY - box.top) / box.height, 0), 1);
    this.add({ t: time, x, y });
    this.arm(false);
  }

  /** A keyframe at the player's time with the slider's focus (keyboard users). */
  addAtCurrent() {
    const time = this.source.currentTime();
    if (time === null) return;
    this.add({ t: time, x: Number(this.slider.value) });
  }

  add(point) {
    const rounded = { t: Math.round(point.t * 1000) / 1000, x: Math.round(point.x * 1000) / 1000 };
    if (point.y !== undefined) rounded.y = Math.round(point.y * 1000) / 1000;
    this.keyframes = this.keyframes.filter((p) => Math.abs(p.t - rounded.t) > 0.0005);
    this.keyframes.push(rounded);
    this.keyframes.sort((a, b) => a.t - b.t);
    this.renderList();
    this.onChange();
  }

  renderList() {
    this.list.replaceChildren(
      ...this.keyframes.map((point, index) => {
        const item = document.createElement("li");
        const text = document.createElement("span");
        text.textContent = `${point.t.toFixed(2)} s → ${Math.round(point.x * 100)}%`;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", `Remove the keyframe at ${point.t.toFixed(2)} s`);
        remove.addEventListener("click", () => {
          this.keyframes.splice(index, 1);
          this.renderList();
          this.onChange();
        });
        item.append(text, remove);
        return item;
      }),
    );
    $("focus-keyframes-empty").hidden = this.keyframes.length > 0;
  }

  /** Where the crop is centred now, for the overlay: the keyframes' curve at the player's
   * time in keyframe mode, else the previewed moment's track, else the slider. */
  current() {
    const time = this.source.currentTime();
    if (this.mode() === "keyframes" && this.keyframes.length && time !== null) {
      return focusAt(this.keyframes, time);
    }
    if (this.previewed && time !== null) return focusAt(this.previewed, time);
    return { x: Number(this.slider.value), y: null };
  }

  /** Show a marked moment's crop on the player: its track (for auto, the one its latest
   * export followed), or its static focus; null stops previewing. */
  preview(track) {
    this.previewed = track?.length ? track : null;
    this.onChange();
  }

  /** The moment body's focus fields, or {error} when keyframe mode has none. */
  body() {
    const focus = { focus_x: Number(this.slider.value), focus_mode: "manual" };
    const mode = this.mode();
    if (mode === "auto") return { ...focus, focus_mode: "auto" };
    if (mode === "keyframes") {
      if (!this.keyframes.length) {
        return { error: "Add at least one keyframe: scrub the video, then pick the subject." };
      }
      return { ...focus, focus_track: this.keyframes.map((p) => ({ ...p })) };
    }
    return focus;
  }

  /** After a moment was added: keyframes are per moment, so start afresh. */
  reset() {
    this.keyframes = [];
    this.renderList();
    this.onChange();
  }
}
