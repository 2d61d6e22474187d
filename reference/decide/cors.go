package decide

import "net/http"

// setCORS applies Config.CORS (by default any origin, without credentials; see
// edge.CORS) to a /decide, /flags or /array/ reply.
func (h *Handler) setCORS(w http.ResponseWriter, r *http.Request) {
	h.cfg.CORS.Apply(w, r, "Content-Type, Content-Encoding, Authorization, X-Requested-With")
}

// preflight answers an OPTIONS request (setCORS set its headers, max-age included).
func preflight(w http.ResponseWriter) {
	w.WriteHeader(http.StatusOK)
}
