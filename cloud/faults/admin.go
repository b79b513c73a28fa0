package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxAdminBody bounds a config sent to the admin endpoint. A config is a few hundred
// bytes; a megabyte leaves room for long capacity lists and refuses a runaway upload.
const maxAdminBody = 1 << 20

// AdminHandler serves the fault config, mounted at /_admin/faults: GET gives it as JSON;
// PUT or POST replaces it with the JSON config in the body (faults the body does not name
// are off), answering the config now in force, or 400 with {"error": "..."} for a bad
// one, which changes nothing; DELETE turns every fault off.
func (in *Injector) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPut, http.MethodPost:
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					writeJSONError(w, http.StatusRequestEntityTooLarge,
						fmt.Errorf("faults: config larger than %d bytes", maxAdminBody))
					return
				}
				writeJSONError(w, http.StatusBadRequest, fmt.Errorf("faults: read config: %w", err))
				return
			}
			cfg, err := ParseConfigJSON(body)
			if err == nil {
				err = in.SetConfig(cfg)
			}
			if err != nil {
				writeJSONError(w, http.StatusBadRequest, err)
				return
			}
		case http.MethodDelete:
			if err := in.SetConfig(Config{}); err != nil {
				writeJSONError(w, http.StatusInternalServerError, err) // the zero config is valid
				return
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT, POST, DELETE")
			writeJSONError(w, http.StatusMethodNotAllowed, fmt.Errorf("faults: method %s not allowed", r.Method))
			return
		}
		writeJSON(w, http.StatusOK, in.Config())
	})
}

// StatsHandler serves the call counters, mounted at /_admin/stats: GET gives
// {"actions": {action: ActionStats}} plus the keys extra returns (the server's live
// instance counts, say; "actions" is always the counters); DELETE resets the counters and
// answers as GET would after it. extra may be nil.
func (in *Injector) StatsHandler(extra func() map[string]any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodDelete:
			in.ResetStats()
		default:
			w.Header().Set("Allow", "GET, HEAD, DELETE")
			writeJSONError(w, http.StatusMethodNotAllowed, fmt.Errorf("faults: method %s not allowed", r.Method))
			return
		}
		doc := map[string]any{}
		if extra != nil {
			for k, v := range extra() {
				doc[k] = v
			}
		}
		doc["actions"] = in.Stats()
		writeJSON(w, http.StatusOK, doc)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": fmt.Sprintf("faults: encode answer: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a client gone mid-answer is no error of ours
}

func writeJSONError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
