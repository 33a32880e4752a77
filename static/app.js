/**
 * The page: sign in, choose or upload a source, mark moments, export them and watch the
 * exports live through reelay-client.js. Each part lives in its own view module.
 */

import { Api } from "./api.js";
import { DevTokens, looksLikeJwt } from "./auth.js";
import { readConfig } from "./config.js";
import { ReelayClient } from "./reelay-client.js";
import { CaptionsPanel } from "./views/captions_panel.js";
import { ConnectionView } from "./views/connection.js";
import { ExportsView } from "./views/exports.js";
import { FocusControl } from "./views/focus.js";
import { MomentsView } from "./views/moments.js";
import { SourceView } from "./views/source.js";

const $ = (id) => document.getElementById(id);
const PROJECT_KEY = "reelay.project";

class Page {
  constructor() {
    this.config = readConfig();
    this.tokens = new DevTokens({ field: $("token-input"), onExpired: () => this.signedOut() });
    this.api = new Api(this.tokens.getToken);
    this.connection = new ConnectionView({ pollIntervalS: this.config.pollIntervalS });
    this.client = null;
    this.project = null;
    this.source = new SourceView({ api: this.api, onUploaded: (p) => this.uploaded(p) });
    this.focus = new FocusControl({ source: this.source, onChange: () => this.drawCrop() });
    this.moments = new MomentsView({
      api: this.api,
      source: this.source,
      onFocus: () => this.drawCrop(),
      focusControl: this.focus,
      onPreview: (moment) => this.previewMoment(moment),
      onCaptions: (moment) => this.captions.open(moment),
    });
    this.captions = new CaptionsPanel({ api: this.api, onChanged: (m) => this.moments.replace(m) });
    this.exports = new ExportsView({ api: this.api, titleOf: (id) => this.moments.title(id) });
    $("signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.signInFromField();
    });
    $("project-select").addEventListener("change", () => this.chooseProject($("project-select").value));
    $("export-aspect").addEventListener("change", () => this.drawCrop());
    $("export-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.startExports();
    });
    window.addEventListener("hashchange", () => {
      if (!this.client && this.tokens.best()) this.start();
    });
  }

  boot() {
    this.tokens.adoptFragment();
    if (this.tokens.best()) this.start();
    else this.signedOut();
  }

  signInFromField() {
    const token = $("token-input").value.trim();
    if (!looksLikeJwt(token)) {
      this.signinMessage("That does not look like a token (three parts separated by dots).");
      return;
    }
    if (this.tokens.best() === null) {
      this.signinMessage("That token has expired. Create a new one.");
      return;
    }
    this.tokens.store(token);
    this.start();
  }

  signinMessage(text) {
    const message = $("signin-message");
    message.textContent = text;
    message.dataset.kind = "error";
  }

  signedOut() {
    $("signin").hidden = false;
    if (this.client) this.signinMessage("Your sign-in expired. Open a fresh dev link or paste a new token.");
  }

  async start() {
    $("signin").hidden = true;
    $("signin-message").textContent = "";
    $("token-input").value = "";
    $("whoami").textContent = `Signed in as ${this.tokens.user()}`;
    $("whoami").hidden = false;
    $("workspace").hidden = false;
    if (!this.client) this.startClient();
    try {
      await this.loadProjects(sessionStorage.getItem(PROJECT_KEY));
    } catch (error) {
      this.uploadMessage(error.message);
    }
  }

  startClient() {
    this.client = new ReelayClient({ getToken: this.tokens.getToken, ...this.config.clientOptions });
    this.client.addEventListener("connection", (event) => this.connection.set(event.detail.state));
    this.client.addEventListener("export", (event) => {
      if (event.detail.projectId === this.project?.id) this.exports.update(event.detail.state);
    });
    this.client.addEventListener("event", (event) => {
      if (event.detail.projectId === this.project?.id) this.captions.handle(event.detail.event);
    });
    this.client.addEventListener("snapshot", (event) => {
      if (event.detail.projectId === this.project?.id) {
        this.exports.replaceAll([...event.detail.exports.values()]);
      }
    });
    window.addEventListener("offline", () => this.connection.set("offline"));
    window.addEventListener("online", () => {
      if (this.project) this.connection.set(this.client.connection);
    });
  }

  async loadProjects(preferred) {
    const projects = await this.api.projects();
    this.projects = new Map(projects.map((p) => [p.id, p]));
    const select = $("project-select");
    const first = select.options[0];
    select.replaceChildren(
      first,
      ...projects.map((project) => {
        const option = document.createElement("option");
        option.value = project.id;
        option.textContent = `${project.name} (${new Date(project.created_at).toLocaleString()})`;
        return option;
      }),
    );
    const chosen = this.projects.has(preferred) ? preferred : projects[0]?.id ?? "";
    select.value = chosen;
    await this.chooseProject(chosen);
  }

  async uploaded(project) {
    sessionStorage.setItem(PROJECT_KEY, project.id);
    this.projects.set(project.id, project);
    const option = document.createElement("option");
    option.value = project.id;
    option.textContent = `${project.name} (${new Date(project.created_at).toLocaleString()})`;
    $("project-select").options[0].after(option);
    $("project-select").value = project.id;
    await this.openProject(project);
  }

  async chooseProject(projectId) {
    if (!projectId) {
      this.closeProject();
      this.source.clear();
      return;
    }
    sessionStorage.setItem(PROJECT_KEY, projectId);
    this.source.show(this.projects.get(projectId));
    await this.openProject(this.projects.get(projectId));
  }

  closeProject() {
    if (this.project) this.client.unwatch(this.project.id);
    this.project = null;
    this.captions.close();
    this.exports.clear();
    for (const id of ["moments", "export", "exports"]) $(id).hidden = true;
  }

  async openProject(project) {
    this.closeProject();
    this.project = project;
    for (const id of ["moments", "export", "exports"]) $(id).hidden = false;
    $("export-message").textContent = "";
    this.drawCrop();
    if (this.client.connection === "offline") this.connection.set("connecting");
    try {
      await Promise.all([this.moments.load(project), this.client.watch(project.id)]);
      if (this.project?.id === project.id) this.exports.replaceAll(this.sortedExports(project.id));
    } catch (error) {
      this.exportMessage(error.message, "error");
    }
  }

  sortedExports(projectId) {
    return [...this.client.exports(projectId).values()].sort((a, b) =>
      String(b.created_at ?? "").localeCompare(String(a.created_at ?? "")),
    );
  }

  /** Play a marked moment from its start with its crop drawn: its keyframes, or for auto
   * the track its newest finished export followed (fetched: events do not carry it). */
  async previewMoment(moment) {
    let track = moment.focus_track ?? [{ t: moment.start_s, x: moment.focus_x }];
    if (moment.focus_mode === "auto") {
      const rows = await this.api.exports(this.project.id).catch(() => []);
      const row = rows.find((e) => e.moment_id === moment.id && e.status === "completed");
      if (row?.focus_track) {
        track = row.focus_track;
        this.moments.say(
          row.focus_fallback
            ? "No face was found in this moment: its export kept the static focus."
            : "The crop follows the faces its latest export found.",
          "ok",
        );
      } else {
        this.moments.say("Export this moment to see the crop follow the faces.", "ok");
      }
    }
    this.focus.preview(track);
    if (this.source.currentTime() !== null) this.source.player.currentTime = moment.start_s;
  }

  drawCrop() {
    if (!this.focus) return;
    const { x, y } = this.focus.current();
    this.source.setCrop($("export-aspect").value, x, y);
  }

  exportMessage(text, kind) {
    const message = $("export-message");
    message.textContent = text;
    if (kind) message.dataset.kind = kind;
    else delete message.dataset.kind;
  }

  uploadMessage(text) {
    const message = $("upload-message");
    message.textContent = text;
    message.dataset.kind = "error";
  }

  async startExports() {
    const momentIds = this.moments.selected();
    if (!momentIds.length) {
      this.exportMessage("Pick at least one moment to export.", "error");
      return;
    }
    const button = $("export-button");
    button.disabled = true;
    const projectId = this.project.id;
    const request = {
      moment_ids: momentIds,
      aspect_ratio: $("export-aspect").value,
      resolution: $("export-resolution").value,
      captions: $("export-captions").checked,
    };
    this.exportMessage("Starting…");
    try {
      const answer = await this.api.startExports(projectId, request);
      if (this.project?.id === projectId) {
        for (const row of answer.exports) this.exports.update({ ...row, fromApi: true });
        const count = answer.exports.length;
        this.exportMessage(`Export started: ${count} clip${count === 1 ? "" : "s"} on the way.`, "ok");
      }
    } catch (error) {
      this.exportMessage(error.message, "error");
    } finally {
      button.disabled = false;
    }
  }
}

new Page().boot();
