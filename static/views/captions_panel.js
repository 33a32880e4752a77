/**
 * Captions of one moment: load a subtitle file (SRT, WebVTT, ASS), time the words to the
 * audio (the server's aligner; the answer arrives as a `moment.aligned` event), and pick
 * a style. Every change is saved on the moment at once, so the next export draws it.
 */

import { clock } from "../format.js";
import { element } from "./dom.js";

const $ = (id) => document.getElementById(id);
const WORD_PRESETS = new Set(["karaoke", "pop"]);
const SHOWN_LINES = 8;

/** Captions that fit the moment: as they are, or shifted by its start when the file was
 * timed from the clip's beginning; clipped to the moment, those outside dropped. */
export function fitToMoment(captions, moment, timebase) {
  const length = moment.end_s - moment.start_s;
  const inside = (c) => c.end_s > moment.start_s && c.start_s < moment.end_s;
  let shift = 0;
  if (timebase === "moment") shift = moment.start_s;
  else if (timebase === "auto" && !captions.some(inside) && captions.some((c) => c.start_s < length)) {
    shift = moment.start_s;
  }
  const clip = (t) => Math.min(Math.max(t + shift, moment.start_s), moment.end_s);
  const fitted = [];
  for (const caption of captions) {
    const start = clip(caption.start_s);
    const end = clip(caption.end_s);
    if (end - start < 0.01) continue;
    const item = { start_s: round(start), end_s: round(end), text: caption.text };
    const words = (caption.words ?? []).map((w) => ({ ...w, start_s: round(clip(w.start_s)), end_s: round(clip(w.end_s)) }));
    if (words.length && words.every((w) => w.end_s > w.start_s)) item.words = words;
    fitted.push(item);
  }
  return { captions: fitted, shifted: shift !== 0 };
}

function round(t) {
  return Math.round(t * 1000) / 1000;
}

export class CaptionsPanel {
  constructor({ api, onChanged }) {
    this.api = api;
    this.onChanged = onChanged;
    this.moment = null;
    this.panel = $("captions-panel");
    this.message = $("captions-message");
    this.file = $("captions-file");
    this.style = {
      preset: $("caption-preset"),
      position: $("caption-position"),
      size: $("caption-size"),
      color: $("caption-color"),
      highlight_color: $("caption-highlight"),
      max_lines: $("caption-max-lines"),
    };
    $("captions-load").addEventListener("click", () => this.file.click());
    this.file.addEventListener("change", () => this.loadFile());
    $("captions-align").addEventListener("click", () => this.align());
    $("captions-close").addEventListener("click", () => this.close());
    for (const input of Object.values(this.style)) {
      input.addEventListener("change", () => this.saveStyle());
    }
    this.style.size.addEventListener("input", () => this.showSize());
  }

  open(moment) {
    this.moment = moment;
    this.panel.hidden = false;
    $("captions-title").textContent = `Captions · ${moment.title || `${clock(moment.start_s)}–${clock(moment.end_s)}`}`;
    const style = moment.caption_style;
    for (const [name, input] of Object.entries(this.style)) {
      input.value = String(style[name]).toLowerCase();
    }
    this.showSize();
    this.say("");
    this.render();
    this.panel.scrollIntoView({ block: "nearest" });
  }

  close() {
    this.moment = null;
    this.panel.hidden = true;
  }

  /** A server event of the open project; alignment results update the open moment. */
  async handle(event) {
    const data = event.data ?? {};
    if (!["moment.aligned", "moment.align_failed"].includes(event.type)) return;
    const fresh = await this.api.moment(data.moment_id).catch(() => null);
    if (fresh) this.onChanged(fresh);
    if (!this.moment || data.moment_id !== this.moment.id) return;
    $("captions-align").disabled = false;
    if (event.type === "moment.align_failed") {
      this.say(`Words could not be timed: ${data.message}`, "error");
      return;
    }
    if (fresh) this.moment = fresh;
    this.render();
    const how = data.method === "spread"
      ? "spread evenly over the speech (the language is not one the aligner knows)"
      : `${Math.round(data.mean_confidence * 100)}% confidence`;
    this.say(`Timed ${data.words} words in ${data.captions} captions, ${how}.`, "ok");
  }

  async loadFile() {
    const file = this.file.files[0];
    this.file.value = "";
    if (!file || !this.moment) return;
    this.say(`Reading ${file.name}…`);
    try {
      const parsed = await this.api.parseCaptions(file);
      const { captions, shifted } = fitToMoment(parsed.captions, this.moment, $("captions-timebase").value);
      if (!captions.length) {
        this.say(`${file.name} has no captions inside this moment (${clock(this.moment.start_s)}–${clock(this.moment.end_s)}).`, "error");
        return;
      }
      await this.save({ captions });
      const timed = captions.filter((c) => c.words).length;
      this.say(
        `Loaded ${captions.length} caption${captions.length === 1 ? "" : "s"} from ${file.name}` +
          `${shifted ? ", timed from the moment's start" : ""}` +
          `${timed ? `, ${timed} with word timing` : ""}.`,
        "ok",
      );
      this.warnIfUntimed();
    } catch (failure) {
      this.say(failure.message, "error");
    }
  }

  async align() {
    if (!this.moment) return;
    const text = $("captions-transcript").value.trim();
    if (!text && !this.moment.captions.length) {
      this.say("Load subtitles or paste the transcript first.", "error");
      return;
    }
    $("captions-align").disabled = true;
    try {
      await this.api.align(this.moment.id, text || undefined);
      this.say("Timing the words to the audio…");
    } catch (failure) {
      $("captions-align").disabled = false;
      this.say(failure.message, "error");
    }
  }

  async saveStyle() {
    if (!this.moment) return;
    const style = {
      preset: this.style.preset.value,
      position: this.style.position.value,
      size: Number(this.style.size.value),
      color: this.style.color.value.toUpperCase(),
      highlight_color: this.style.highlight_color.value.toUpperCase(),
      max_lines: Number(this.style.max_lines.value),
    };
    try {
      await this.save({ caption_style: style });
      this.say("Style saved: the next export uses it.", "ok");
      this.warnIfUntimed();
    } catch (failure) {
      this.say(failure.message, "error");
    }
  }

  async save(changes) {
    const updated = await this.api.updateCaptions(this.moment.id, changes);
    this.moment = updated;
    this.onChanged(updated);
    this.render();
  }

  warnIfUntimed() {
    const preset = this.moment?.caption_style.preset;
    const timed = this.moment?.captions.some((c) => c.words?.length);
    if (WORD_PRESETS.has(preset) && this.moment.captions.length && !timed) {
      this.say(
        `${preset === "karaoke" ? "Karaoke" : "Pop"} lights each word as it is said: ` +
          "use “Time words to the audio” to time them.",
        "error",
      );
    }
  }

  showSize() {
    $("caption-size-value").textContent = `${Number(this.style.size.value).toFixed(1)}×`;
  }

  render() {
    const captions = this.moment?.captions ?? [];
    const words = captions.reduce((n, c) => n + (c.words?.length ?? 0), 0);
    $("captions-summary").textContent = captions.length
      ? `${captions.length} caption${captions.length === 1 ? "" : "s"}, ${words ? `${words} timed words` : "no word timing"}.`
      : "No captions yet.";
    const list = $("captions-lines");
    list.replaceChildren(
      ...captions.slice(0, SHOWN_LINES).map((caption) => {
        const item = element("li");
        item.append(
          element("span", "caption-time", `${caption.start_s.toFixed(2)}–${caption.end_s.toFixed(2)}`),
          element("span", "caption-text", caption.text),
        );
        if (caption.words?.length) item.dataset.timed = "true";
        return item;
      }),
    );
    if (captions.length > SHOWN_LINES) {
      list.append(element("li", "hint", `… and ${captions.length - SHOWN_LINES} more`));
    }
  }

  say(text, kind) {
    this.message.textContent = text;
    if (kind) this.message.dataset.kind = kind;
    else delete this.message.dataset.kind;
  }
}
