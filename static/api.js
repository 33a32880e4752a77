/**
 * The HTTP API (docs/api.md) as the page uses it. Every call carries a token from `getToken`;
 * failures throw `ApiError` whose `message` is a sentence a person can act on.
 */

const PLAIN = {
  unauthorized: "Your sign-in is no longer valid. Open a fresh dev link or paste a new token.",
  unsupported_media_type: "That file is not a video we can read.",
  not_a_video: "That file is not a video we can read.",
  unsupported_codec: "The video uses a codec we cannot decode. Try an MP4 (H.264) file.",
  upload_too_large: "The file is larger than this server accepts.",
  source_too_large: "The video's picture is larger than this server accepts.",
  source_too_small: "The video's picture is too small to export.",
  source_too_long: "The video is longer than this server accepts.",
  too_many_active_exports: "You have many exports running already. Wait for some to finish.",
  moment_out_of_range: "The moment must lie inside the video.",
  moment_too_long: "The moment is too long to export in one piece.",
  invalid_render_spec: "The export settings could not be rendered.",
  export_not_completed: "The export has not finished yet.",
  captions_invalid: "That is not a subtitle file we can read (SRT, WebVTT or ASS).",
  captions_too_large: "Subtitle files can be at most 2 MiB.",
  no_audio: "This video has no sound to time the words to.",
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A sentence for an `{code, message}` error from the API or a failed export. */
export function plainError(error) {
  if (!error) return "Something went wrong.";
  const known = PLAIN[error.code];
  if (known && error.message) return `${known} (${error.message})`;
  return known ?? error.message ?? "Something went wrong.";
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body?.error ?? { code: `http_${response.status}`, message: response.statusText };
  return new ApiError(response.status, error.code, plainError(error));
}

export class Api {
  constructor(getToken) {
    this.getToken = getToken;
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${await this.getToken()}`, Accept: "application/json" };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, "network", "The server cannot be reached. Check your connection.");
    }
    if (!response.ok) throw await errorFrom(response);
    return response.status === 204 ? null : response.json();
  }

  projects() {
    return this.request("GET", "/api/projects").then((body) => body.projects);
  }

  moments(projectId) {
    return this.request("GET", `/api/projects/${encodeURIComponent(projectId)}/moments`)
      .then((body) => body.moments);
  }

  addMoment(projectId, moment) {
    return this.request("POST", `/api/projects/${encodeURIComponent(projectId)}/moments`, moment);
  }

  moment(momentId) {
    return this.request("GET", `/api/moments/${encodeURIComponent(momentId)}`);
  }

  /** Replace a moment's `captions` and/or `caption_style`; resolves with the moment. */
  updateCaptions(momentId, changes) {
    return this.request("PATCH", `/api/moments/${encodeURIComponent(momentId)}/captions`, changes);
  }

  /** Time the words of `text` (or of the moment's captions) to its audio, on a worker. */
  align(momentId, text) {
    const body = text === undefined ? undefined : { text };
    return this.request("POST", `/api/moments/${encodeURIComponent(momentId)}/align`, body);
  }

  /** A subtitle file read into captions by the server (nothing stored). */
  async parseCaptions(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    let response;
    try {
      response = await fetch("/api/captions/parse", {
        method: "POST",
        headers: { Authorization: `Bearer ${await this.getToken()}`, Accept: "application/json" },
        body: form,
      });
    } catch {
      throw new ApiError(0, "network", "The server cannot be reached. Check your connection.");
    }
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }

  startExports(projectId, request) {
    return this.request("POST", `/api/projects/${encodeURIComponent(projectId)}/exports`, request);
  }

  exports(projectId) {
    return this.request("GET", `/api/projects/${encodeURIComponent(projectId)}/exports`)
      .then((body) => body.exports);
  }

  exportById(exportId) {
    return this.request("GET", `/api/exports/${encodeURIComponent(exportId)}`);
  }

  cancel(exportId) {
    return this.request("POST", `/api/exports/${encodeURIComponent(exportId)}/cancel`);
  }

  retry(exportId) {
    return this.request("POST", `/api/exports/${encodeURIComponent(exportId)}/retry`);
  }

  /**
   * Signed URLs of an export's media, usable without the Authorization header until
   * `expires_at`: `{preview_url, poster_url, video_url, expires_at}` (each URL may be null).
   */
  media(exportId) {
    return this.request("GET", `/api/exports/${encodeURIComponent(exportId)}/media`);
  }

  /**
   * Upload a source video with XMLHttpRequest (fetch reports no upload progress).
   * `onProgress(fraction)` follows the bytes sent; resolves with the project.
   */
  async upload(file, onProgress) {
    const token = await this.getToken();
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/projects");
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 201) {
          resolve(xhr.response);
          return;
        }
        const error = xhr.response?.error ?? { code: `http_${xhr.status}`, message: xhr.statusText };
        reject(new ApiError(xhr.status, error.code, plainError(error)));
      });
      xhr.addEventListener("error", () => {
        reject(new ApiError(0, "network", "The upload was interrupted. Check your connection."));
      });
      const form = new FormData();
      form.append("file", file);
      form.append("name", file.name);
      xhr.send(form);
    });
  }
}
