package local

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestControlHandlerRefusesWhatItMust(t *testing.T) {
	srv := httptest.NewServer((&Stack{}).ControlHandler("sekret"))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"POST", ControlPath + "clickhouse:pause", "", http.StatusUnauthorized},
		{"POST", ControlPath + "clickhouse:pause", "wrong", http.StatusUnauthorized},
		{"GET", ControlPath + "clickhouse:pause", "sekret", http.StatusNotFound},
		{"POST", "/elsewhere", "sekret", http.StatusNotFound},
		{"POST", ControlPath + "rm -rf", "sekret", http.StatusBadRequest},
		// A known action on a stack without children fails, and says why.
		{"POST", ControlPath + "clickhouse:pause", "sekret", http.StatusInternalServerError},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+strings.ReplaceAll(tc.path, " ", "%20"), nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (token %q) = %d, want %d", tc.method, tc.path, tc.token, resp.StatusCode, tc.want)
		}
	}
	if err := (&Stack{}).Act(t.Context(), "bogus"); err == nil || !strings.Contains(err.Error(), "worker:start") {
		t.Errorf("unknown action: %v", err)
	}
}
