/**
 * Moments: mark start/end (typed or taken from the player), title, focus and captions;
 * list the project's moments with a checkbox each, to pick what to export.
 */

import { parseCaptions } from "../captions.js";
import { clock } from "../format.js";
import { describeMomentFocus } from "./focus.js";

const $ = (id) => document.getElementById(id);

export class MomentsView {
  constructor({ api, source, onFocus, focusControl, onPreview, onCaptions }) {
    this.api = api;
    this.source = source;
    this.onFocus = onFocus;
    this.focusControl = focusControl;
    this.onPreview = onPreview;
    this.onCaptions = onCaptions;
    this.projectId = null;
    this.moments = new Map();
    this.form = $("moment-form");
    this.message = $("moment-message");
    this.focus = $("moment-focus");
    $("set-start").addEventListener("click", () => this.fromPlayer($("moment-start")));
    $("set-end").addEventListener("click", () => this.fromPlayer($("moment-end")));
    this.focus.addEventListener("input", () => this.focusChanged());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  async load(project) {
    this.projectId = project.id;
    this.duration = project.duration_s;
    this.moments = new Map();
    this.say("");
    $("moment-start").max = String(project.duration_s);
    $("moment-end").max = String(project.duration_s);
    this.renderList();
    const moments = await this.api.moments(project.id);
    if (this.projectId !== project.id) return;
    for (const moment of moments) this.moments.set(moment.id, moment);
    this.renderList();
  }

  title(momentId) {
    const moment = this.moments.get(momentId);
    if (!moment) return "Moment";
    return moment.title || `Moment ${clock(moment.start_s)}–${clock(moment.end_s)}`;
  }

  /** A moment changed elsewhere (its captions, say): shown anew, its checkbox kept. */
  replace(moment) {
    if (!this.moments.has(moment.id)) return;
    this.moments.set(moment.id, moment);
    this.renderList();
  }

  selected() {
    return [...document.querySelectorAll("#moment-list input:checked")].map((box) => box.value);
  }

  fromPlayer(input) {
    const time = this.source.currentTime();
    if (time === null) {
      this.say("Open the video in the player first.", "error");
      return;
    }
    input.value = time.toFixed(2);
    this.say("");
  }

  focusChanged() {
    $("focus-value").textContent = `${Math.round(Number(this.focus.value) * 100)}%`;
    this.onFocus(Number(this.focus.value));
  }

  focusValue() {
    return Number(this.focus.value);
  }

  say(text, kind) {
    this.message.textContent = text;
    if (kind) this.message.dataset.kind = kind;
    else delete this.message.dataset.kind;
  }

  readForm() {
    const start = Number.parseFloat($("moment-start").value);
    const end = Number.parseFloat($("moment-end").value);
    if (!Number.isFinite(start) || !Number.isFinite(end)) {
      return { error: "Set both a start and an end." };
    }
    if (end <= start) return { error: "The end must come after the start." };
    if (end > this.duration + 0.001) {
      return { error: `The end is past the video's end (${this.duration.toFixed(2)} s).` };
    }
    const { captions, errors } = parseCaptions($("moment-captions").value);
    if (errors.length) return { error: errors[0] };
    const outside = captions.find((c) => c.start_s < start - 0.001 || c.end_s > end + 0.001);
    if (outside) {
      return { error: `The caption "${outside.text}" must lie inside the moment (${start}–${end} s).` };
    }
    const focus = this.focusControl.body();
    if (focus.error) return { error: focus.error };
    return {
      moment: {
        start_s: start,
        end_s: end,
        title: $("moment-title").value.trim(),
        ...focus,
        captions,
      },
    };
  }

  async submit() {
    const { moment, error } = this.readForm();
    if (error) {
      this.say(error, "error");
      return;
    }
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await this.api.addMoment(this.projectId, moment);
      this.moments.set(created.id, created);
      this.renderList(created.id);
      this.say(`Added "${this.title(created.id)}".`, "ok");
      $("moment-title").value = "";
      $("moment-captions").value = "";
      this.focusControl.reset();
    } catch (failure) {
      this.say(failure.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  renderList(check = null) {
    const list = $("moment-list");
    const checked = new Set(this.selected());
    if (check) checked.add(check);
    const sorted = [...this.moments.values()].sort((a, b) => a.start_s - b.start_s);
    list.replaceChildren(
      ...sorted.map((moment) => {
        const item = document.createElement("li");
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = moment.id;
        box.checked = checked.has(moment.id);
        const name = document.createElement("span");
        name.className = "moment-title";
        name.textContent = this.title(moment.id);
        const times = document.createElement("span");
        times.className = "moment-times";
        const lines = moment.captions.length;
        times.textContent = `${moment.start_s.toFixed(2)}–${moment.end_s.toFixed(2)} s · ${
          describeMomentFocus(moment)} · ${lines} caption${lines === 1 ? "" : "s"}`;
        label.append(box, name, times);
        const preview = document.createElement("button");
        preview.type = "button";
        preview.className = "moment-preview";
        preview.textContent = "Preview crop";
        preview.setAttribute("aria-label", `Preview the crop of ${this.title(moment.id)}`);
        preview.addEventListener("click", () => this.onPreview(moment));
        const captions = document.createElement("button");
        captions.type = "button";
        captions.className = "captions-button";
        captions.textContent = "Captions…";
        captions.setAttribute("aria-label", `Captions of ${this.title(moment.id)}`);
        captions.addEventListener("click", () => this.onCaptions?.(this.moments.get(moment.id)));
        item.append(label, preview, captions);
        return item;
      }),
    );
    $("moment-empty").hidden = sorted.length > 0;
  }
}
