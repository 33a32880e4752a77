/**
 * The source video: pick or drop a file, upload it with a progress bar, show its facts
 * and a player with a crop preview (the part an export keeps for the chosen aspect).
 */

import { bytes, clock } from "../format.js";

const ASPECTS = { "9:16": 9 / 16, "1:1": 1, "4:5": 4 / 5, "16:9": 16 / 9 };

const $ = (id) => document.getElementById(id);

export class SourceView {
  constructor({ api, onUploaded }) {
    this.api = api;
    this.onUploaded = onUploaded;
    this.project = null;
    this.objectUrl = null;
    this.crop = { aspect: "9:16", focus: 0.5, focusY: null };
    this.player = $("player");
    this.dropzone = $("dropzone");
    this.fileInput = $("file-input");
    this.fileInput.addEventListener("change", () => {
      const [file] = this.fileInput.files;
      if (file) this.upload(file);
      this.fileInput.value = "";
    });
    const previewInput = $("preview-input");
    previewInput.addEventListener("change", () => {
      const [file] = previewInput.files;
      if (file) this.preview(file);
      previewInput.value = "";
    });
    this.dropzone.addEventListener("dragover", (event) => {
      event.preventDefault();
      this.dropzone.dataset.over = "true";
    });
    this.dropzone.addEventListener("dragleave", () => delete this.dropzone.dataset.over);
    this.dropzone.addEventListener("drop", (event) => {
      event.preventDefault();
      delete this.dropzone.dataset.over;
      const file = event.dataTransfer?.files?.[0];
      if (file) this.upload(file);
    });
    this.player.addEventListener("loadedmetadata", () => this.drawCrop());
    window.addEventListener("resize", () => this.drawCrop());
  }

  /** Play the local copy of an earlier upload, if it is the same file (same size). */
  preview(file) {
    const message = $("upload-message");
    if (file.size !== this.project?.size_bytes) {
      message.textContent = `${file.name} is not the file this project was uploaded from.`;
      message.dataset.kind = "error";
      return;
    }
    message.textContent = "";
    this.play(file);
  }

  async upload(file) {
    const message = $("upload-message");
    const status = $("upload-status");
    const bar = $("upload-progress");
    const label = $("upload-percent");
    message.textContent = "";
    delete message.dataset.kind;
    status.hidden = false;
    $("upload-label").textContent = `Uploading ${file.name}`;
    bar.value = 0;
    label.textContent = "0%";
    this.fileInput.disabled = true;
    try {
      const project = await this.api.upload(file, (fraction) => {
        bar.value = fraction;
        label.textContent = `${Math.round(fraction * 100)}%`;
      });
      bar.value = 1;
      label.textContent = "100%";
      message.textContent = `Uploaded ${file.name}.`;
      message.dataset.kind = "ok";
      this.show(project, file);
      this.onUploaded(project);
    } catch (error) {
      message.textContent = error.message;
      message.dataset.kind = "error";
    } finally {
      status.hidden = true;
      this.fileInput.disabled = false;
    }
  }

  /** Show `project`; `file` is its local copy when this tab has one (for the player). */
  show(project, file = null) {
    this.project = project;
    this.renderFacts(project);
    this.releasePlayer();
    if (file) {
      this.play(file);
    } else {
      $("player-wrap").hidden = true;
      $("player-missing").hidden = false;
    }
  }

  clear() {
    this.project = null;
    this.releasePlayer();
    $("source-facts").hidden = true;
    $("player-wrap").hidden = true;
    $("player-missing").hidden = true;
  }

  play(file) {
    this.releasePlayer();
    this.objectUrl = URL.createObjectURL(file);
    this.player.src = this.objectUrl;
    $("player-wrap").hidden = false;
    $("player-missing").hidden = true;
  }

  releasePlayer() {
    if (!this.objectUrl) return;
    this.player.removeAttribute("src");
    this.player.load();
    URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
  }

  renderFacts(project) {
    const facts = $("source-facts");
    const rows = [
      ["Name", project.name],
      ["Duration", clock(project.duration_s)],
      ["Size", bytes(project.size_bytes)],
      ["Picture", `${project.width}×${project.height}`],
      ["Frame rate", `${Number(project.fps).toFixed(2).replace(/\.?0+$/, "")} fps`],
      ["Audio", project.has_audio ? "yes" : "none"],
    ];
    facts.replaceChildren(
      ...rows.map(([term, value]) => {
        const row = document.createElement("div");
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = term;
        dd.textContent = value;
        row.append(dt, dd);
        return row;
      }),
    );
    facts.hidden = false;
  }

  /** The player's position in seconds, or null without a player. */
  currentTime() {
    return this.objectUrl ? this.player.currentTime : null;
  }

  setCrop(aspect, focus, focusY = null) {
    this.crop = { aspect, focus, focusY };
    this.drawCrop();
  }

  /** Mirror of the renderer's crop: the largest region of the aspect, centred on focus
   * (and focusY when the crop is shorter than the picture; null: centred). */
  drawCrop() {
    const frame = $("crop-window");
    const width = this.player.videoWidth || this.project?.width;
    const height = this.player.videoHeight || this.project?.height;
    const target = ASPECTS[this.crop.aspect];
    if (!width || !height || target === undefined) {
      Object.assign(frame.style, { left: "0%", top: "0%", width: "100%", height: "100%" });
      return;
    }
    const source = width / height;
    if (source > target) {
      const w = target / source;
      const left = Math.min(Math.max(this.crop.focus - w / 2, 0), 1 - w);
      Object.assign(frame.style, {
        left: `${left * 100}%`, top: "0%", width: `${w * 100}%`, height: "100%",
      });
    } else {
      const h = source / target;
      const centre = this.crop.focusY ?? 0.5;
      const top = Math.min(Math.max(centre - h / 2, 0), 1 - h);
      Object.assign(frame.style, {
        left: "0%", top: `${top * 100}%`, width: "100%", height: `${h * 100}%`,
      });
    }
  }
}
