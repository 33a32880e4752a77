/**
 * One export's player, fed by the signed URLs of GET /api/exports/{id}/media (they need no
 * Authorization header): the growing HLS preview while the export renders, then the
 * finished MP4, streamed with seeking, and its download link. A URL that expired or failed
 * is fetched afresh and playback resumes where it was.
 */

import Hls from "../vendor/hls.js/hls.light.min.mjs";
import { clock } from "../format.js";
import { element } from "./dom.js";

const HLS_TYPE = "application/vnd.apple.mpegurl";
/** Fresh URLs tried in a row without the video playing again before the player gives up. */
const MAX_REFRESHES = 3;
/** A download link this close to its URL's expiry fetches a fresh URL first. */
const EXPIRY_MARGIN_MS = 10_000;

export class ClipPlayer {
  /**
   * Lives in `box` (shown once there is something to see). `media()` resolves with the
   * signed URLs; `label` names the clip for screen readers.
   */
  constructor({ box, media, label }) {
    this.box = box;
    this.media = media;
    this.label = label;
    this.mode = null; // "preview" | "finished" | "gone"
    this.urls = null;
    this.hls = null;
    this.link = null;
    this.linkRenewed = false;
    this.busy = false;
    this.askedAt = 0;
    this.refreshes = 0;
    this.node = element("figure", "clip-player");
    this.video = element("video");
    this.video.controls = true;
    this.video.playsInline = true;
    this.caption = element("figcaption", "clip-caption");
    this.message = element("p", "export-error");
    this.message.hidden = true;
    this.node.append(this.video, this.caption, this.message);
    this.node.hidden = true;
    this.video.addEventListener("error", () => {
      if (!this.hls) this.refresh();
    });
    this.video.addEventListener("playing", () => {
      this.refreshes = 0;
    });
    box.replaceChildren(this.node);
  }

  /**
   * Play the preview once `chunksReady` chunks are stored; until the server has one, each
   * new chunk asks again. Later calls only update how much is ready.
   */
  async preview(chunksReady, playableS) {
    if (this.mode === "finished" || this.mode === "gone") return;
    this.caption.textContent = playableS
      ? `Preview — still rendering (${clock(playableS)} ready)`
      : "Preview — still rendering";
    if (this.mode === "preview" || this.busy || chunksReady <= this.askedAt) return;
    this.askedAt = chunksReady;
    this.refreshes = 0;
    this.busy = true;
    let urls;
    try {
      urls = await this.media();
    } catch {
      return; // the preview is optional: the next chunk asks again
    } finally {
      this.busy = false;
    }
    if (this.mode !== null || !urls.preview_url) return;
    this.mode = "preview";
    this.urls = urls;
    this.video.muted = true;
    this.video.setAttribute("aria-label", `Preview of ${this.label}, still rendering`);
    this.show();
    this.play(0, true);
  }

  /** Switch to the finished MP4, from where the preview was, with a download link. */
  async finish({ filename, text }) {
    if (this.mode === "finished" || this.mode === "gone") return;
    const previewing = this.mode === "preview";
    const at = previewing ? this.video.currentTime : 0;
    const playing = previewing && !this.video.paused;
    this.detach();
    this.mode = "finished";
    this.caption.hidden = true;
    this.video.preload = "auto";
    this.video.setAttribute("aria-label", `Exported clip: ${this.label}`);
    this.show();
    let urls;
    try {
      urls = await this.media();
    } catch (error) {
      this.fail(error.message);
      return;
    }
    if (this.mode !== "finished") return;
    if (!urls.video_url) {
      this.fail("The finished video is not available.");
      return;
    }
    this.urls = urls;
    this.link = element("a", "button download-link", text);
    this.link.download = filename;
    this.link.href = urls.video_url;
    this.link.addEventListener("click", (event) => this.freshLink(event));
    this.video.after(this.link);
    this.play(at, playing);
  }

  /** Stop loading and leave the page (cancelled, failed, or the list was redrawn). */
  destroy() {
    this.mode = "gone";
    this.detach();
    this.box.replaceChildren();
    this.box.hidden = true;
  }

  show() {
    this.node.hidden = false;
    this.box.hidden = false;
  }

  /** Load the current mode's URL and continue at `at` seconds, playing if `playing`. */
  play(at, playing) {
    const { preview_url: previewUrl, video_url: videoUrl, poster_url: posterUrl } = this.urls;
    if (posterUrl) this.video.poster = posterUrl;
    if (this.mode === "preview" && Hls.isSupported()) {
      this.hls = new Hls({ enableWorker: false, startPosition: at });
      this.hls.on(Hls.Events.ERROR, (_event, data) => this.hlsError(data));
      this.hls.loadSource(previewUrl);
      this.hls.attachMedia(this.video);
    } else if (this.mode === "preview" && !this.video.canPlayType(HLS_TYPE)) {
      this.askedAt = Infinity; // no MSE and no native HLS: the progress bar has to do
      this.rest();
      return;
    } else {
      this.video.src = this.mode === "preview" ? previewUrl : videoUrl;
      if (at > 0) {
        this.video.addEventListener("loadedmetadata", () => {
          this.video.currentTime = at;
        }, { once: true });
      }
    }
    // Not the autoplay attribute: Chrome holds that back while the card is scrolled away.
    if (playing) {
      this.video.play().catch(() => {
        // a newer load interrupted it, or autoplay was refused: the controls are there
      });
    }
  }

  /** hls.js retries what it can; a fatal error is an expired or vanished URL. */
  hlsError(data) {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.refreshes === 0) {
      this.refreshes += 1;
      this.hls.recoverMediaError();
      return;
    }
    this.refresh();
  }

  /** Fetch fresh URLs (the old ones expired or failed) and resume at the same time. */
  async refresh() {
    if (this.busy || !this.urls || this.mode === "gone") return;
    const mode = this.mode;
    const at = this.video.currentTime;
    const playing = !this.video.paused;
    this.refreshes += 1;
    if (this.refreshes > MAX_REFRESHES) {
      this.giveUp(mode, "The video cannot be loaded right now. Reload the page to try again.");
      return;
    }
    this.busy = true;
    let urls;
    try {
      urls = await this.media();
    } catch (error) {
      this.giveUp(mode, error.message);
      return;
    } finally {
      this.busy = false;
    }
    if (this.mode !== mode) return;
    if (!(mode === "preview" ? urls.preview_url : urls.video_url)) {
      this.giveUp(mode, "The finished video is not available.");
      return;
    }
    this.urls = urls;
    if (this.link) this.link.href = urls.video_url;
    this.detach();
    this.play(at, playing);
  }

  /**
   * A preview that cannot play goes away quietly (a later chunk asks again); a finished
   * clip says why.
   */
  giveUp(mode, text) {
    if (mode === "preview") this.rest();
    else this.fail(text);
  }

  /** Nothing shown and nothing loading, ready for a later preview or the finished clip. */
  rest() {
    this.mode = null;
    this.detach();
    this.node.hidden = true;
    this.box.hidden = true;
  }

  fail(text) {
    this.detach();
    this.video.hidden = true;
    this.message.textContent = text;
    this.message.hidden = false;
  }

  /** A click on a link whose URL is about to expire waits for a fresh one. */
  async freshLink(event) {
    const left = Date.parse(this.urls.expires_at) - Date.now();
    if (this.linkRenewed || !(left < EXPIRY_MARGIN_MS)) {
      this.linkRenewed = false;
      return;
    }
    event.preventDefault();
    try {
      this.urls = { ...this.urls, ...(await this.media()) };
    } catch (error) {
      this.fail(error.message);
      return;
    }
    this.link.href = this.urls.video_url;
    this.linkRenewed = true;
    this.link.click();
  }

  detach() {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.video.removeAttribute("src");
    this.video.load();
  }
}
