package decide

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchFilters are 20 flags of the kinds a project typically has: plain rollouts,
// property-targeted rollouts and multivariate experiments.
func benchFilters() []flagRow {
	var out []flagRow
	for i := range 20 {
		var f string
		switch i % 4 {
		case 0:
			f = `{"groups":[{"properties":[],"rollout_percentage":50}]}`
		case 1:
			f = `{"groups":[{"properties":[{"key":"email","value":"@x.com","operator":"icontains","type":"person"}],"rollout_percentage":80},
				{"properties":[{"key":"plan","value":["pro","team"],"operator":"exact","type":"person"}]}]}`
		case 2:
			f = `{"groups":[{"properties":[{"key":"age","value":18,"operator":"gte","type":"person"},
				{"key":"email","value":"^[a-z]+@","operator":"regex","type":"person"}],"rollout_percentage":100}]}`
		case 3:
			f = `{"groups":[{"properties":[],"rollout_percentage":100}],"multivariate":{"variants":[
				{"key":"control","rollout_percentage":50},{"key":"test","rollout_percentage":50}]}}`
		}
		out = append(out, flagRow{key: fmt.Sprintf("bench-flag-%02d", i), filters: f})
	}
	return out
}

// BenchmarkEvaluate is the in-memory cost of evaluating 20 flags for one distinct_id.
func BenchmarkEvaluate(b *testing.B) {
	t := &team{}
	for _, r := range benchFilters() {
		f, err := compileFlag(r.key, []byte(r.filters))
		if err != nil {
			b.Fatal(err)
		}
		t.flags = append(t.flags, f)
	}
	t.propKeys = unionKeys(t.flags, personAggregation)
	props := map[string]any{"email": "ann@x.com", "plan": "pro", "age": json.Number("30")}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-user-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ev := t.evaluate(subject{id: ids[i%len(ids)], props: props, known: true}, nil)
		if len(ev.flags) != 20 {
			b.Fatal("flags missing")
		}
	}
}

// BenchmarkServeHTTP is a whole /decide request through the handler: decode,
// evaluate 20 flags, encode; "person_from_db" adds the PostgreSQL person read.
func BenchmarkServeHTTP(b *testing.B) {
	db := pool(b)
	teamID, token := newTeam(b, db)
	addFlags(b, db, teamID, benchFilters()...)
	addPerson(b, db, teamID, map[string]any{"email": "ann@x.com", "plan": "pro", "age": 30}, "bench-person")
	h, _ := newHandler(b, db)
	for _, c := range []struct {
		name string
		body map[string]any
	}{
		{"properties_in_request", map[string]any{"token": token, "distinct_id": "bench-person",
			"person_properties": map[string]any{"email": "ann@x.com", "plan": "pro", "age": 30}}},
		{"person_from_db", map[string]any{"token": token, "distinct_id": "bench-person"}},
	} {
		body, err := json.Marshal(c.body)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/decide/?v=3", bytes.NewReader(body)))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
