// The JSON API: session cookie auth, CSRF header on unsafe methods, errors as ApiError.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function request(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail || data.error || `Request failed (${response.status}).`);
  return data;
}

export function listConversations({ archived = false, url = null } = {}) {
  return request("GET", url || `/api/conversations/${archived ? "?archived=1" : ""}`);
}

export const search = (q) => request("GET", `/api/search/?q=${encodeURIComponent(q)}`);

export const listModels = () => request("GET", "/api/models/");
export const updateConversation = (id, fields) => request("PATCH", `/api/conversations/${id}/`, fields);
export const createConversation = (fields = {}) => request("POST", "/api/conversations/", fields);
export const renameConversation = (id, title) => request("PATCH", `/api/conversations/${id}/`, { title });
export const deleteConversation = (id) => request("DELETE", `/api/conversations/${id}/`);
/** Where a chat downloads as `markdown` (the branch shown) or `json` (every branch); docs/export.md. */
export const exportUrl = (id, format) => `/api/conversations/${id}/export/?format=${format}`;

export const listShares = (id) => request("GET", `/api/conversations/${id}/shares/`);
export const createShare = (id, fields) => request("POST", `/api/conversations/${id}/shares/`, fields);
export const revokeShare = (shareId) => request("DELETE", `/api/shares/${shareId}/`);

/** Import a file (JSON or zip) as the request body itself; the server recognises the format. */
export async function importConversations(file) {
  const response = await fetch("/api/imports/", {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken(), "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error || `Import failed (${response.status}).`);
  return data;
}
