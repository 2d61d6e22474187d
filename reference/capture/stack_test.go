package capture_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// oddValues are JSON values of every type, the huge and the NUL-bearing ones included.
var oddValues = map[string]string{
	"string":      `"str"`,
	"empty":       `""`,
	"number":      `12.5`,
	"huge_number": `1e400`,
	"long_number": `123456789012345678901234567890123456789`,
	"bool":        `true`,
	"null":        `null`,
	"array":       `[1,"a",{"b":null}]`,
	"object":      `{"a":1,"n\u0000":"v\u0000","deep":{"x":"\u0000"}}`,
	"empty_obj":   `{}`,
	"huge_string": `"` + strings.Repeat("h", 100_000) + `"`,
	"nul":         `"a\u0000b"`,
	"bad_utf16":   `"\ud800x"`,
}

// oddCase is one event of TestLocalStackStoresWhatItAcknowledges: field is set to a
// value of one JSON type, at the top level or in properties.
type oddCase struct {
	id, event string
	top       map[string]string // top-level fields, JSON values
	props     map[string]string // properties, JSON values; nil leaves properties to top
}

func (c oddCase) body(token string) []byte {
	top := map[string]string{"event": `"` + c.event + `"`, "distinct_id": `"` + c.id + `"`, "api_key": `"` + token + `"`}
	props := map[string]string{"case_id": `"` + c.id + `"`}
	for k, v := range c.props {
		props[k] = v
	}
	top["properties"] = jsonObject(props)
	for k, v := range c.top {
		top[k] = v
	}
	return []byte(jsonObject(top))
}

func jsonObject(m map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for k, v := range m {
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	return b.String()
}

// oddCases sets every field the worker reads to every odd value.
func oddCases() []oddCase {
	var cases []oddCase
	add := func(name, event string, top, props map[string]string) {
		cases = append(cases, oddCase{id: fmt.Sprintf("c%03d-%s", len(cases), name), event: event, top: top, props: props})
	}
	for vname, v := range oddValues {
		for _, f := range []string{"event", "properties", "$set", "$set_once", "timestamp", "offset", "sent_at", "distinct_id", "uuid"} {
			add(f+"="+vname, "odd", map[string]string{f: v}, nil)
		}
		for _, f := range []string{"$set", "$set_once", "$process_person_profile", "$groups", "$ip", "token"} {
			add("properties."+f+"="+vname, "odd", nil, map[string]string{f: v})
		}
		add("$groups.company="+vname, "odd", nil, map[string]string{"$groups": `{"company":` + v + `}`})
		add("$anon_distinct_id="+vname, "$identify", nil, map[string]string{"$anon_distinct_id": v})
		add("alias="+vname, "$create_alias", nil, map[string]string{"alias": v})
		gi := map[string]string{"$group_type": `"company"`, "$group_key": `"acme"`, "$group_set": `{"plan":"pro"}`}
		for _, f := range []string{"$group_type", "$group_key", "$group_set"} {
			p := map[string]string{}
			for k, x := range gi {
				p[k] = x
			}
			p[f] = v
			add(f+"="+vname, "$groupidentify", nil, p)
		}
	}
	return cases
}

// TestLocalStackStoresWhatItAcknowledges sends events with every field the worker reads
// set to every JSON type (huge and NUL-bearing ones included) through capture into the
// worker of a local stack, and events around the 2 MB limit: an event answered 200 must
// be in ClickHouse, every other must get a 4xx, and the worker must dead-letter none
// of them whole (only dropped person updates, reason invalid_person_update).
func TestLocalStackStoresWhatItAcknowledges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse and PostgreSQL")
	}
	ctx := context.Background()
	s, err := local.Up(ctx, local.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("stop stack: %v", err)
		}
	})
	token := s.Endpoints.Token
	post := func(path string, body []byte) (int, string) {
		t.Helper()
		resp, err := http.Post(s.Endpoints.CaptureURL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	acked := map[string]bool{} // case id -> answered 200
	var refused []string
	for _, c := range oddCases() {
		code, reply := post("/e", c.body(token))
		switch {
		case code == http.StatusOK:
			acked[c.id] = true
		case code >= 400 && code < 500:
			refused = append(refused, fmt.Sprintf("%s: %d %.120s", c.id, code, reply))
		default:
			t.Errorf("%s: %d %s, want 200 or a 4xx", c.id, code, reply)
		}
	}
	for _, r := range refused {
		t.Log("refused", r)
	}

	// Around the 2 MB event limit, on the event route and inside a batch.
	big := func(id string, size int) []byte {
		head := fmt.Sprintf(`{"event":"big","distinct_id":%q,"api_key":%q,"properties":{"case_id":%q,"pad":"`, id, token, id)
		return []byte(head + strings.Repeat("<", size-len(head)-3) + `"}}`)
	}
	for _, tc := range []struct {
		id, path string
		size     int
		want     int
	}{
		{"big-e-1.9", "/e", 1_900_000, http.StatusOK},
		{"big-e-1.99", "/e", 2_086_000, http.StatusOK},
		{"big-e-2.01", "/e", 2_108_000, http.StatusRequestEntityTooLarge},
		{"big-batch-1.99", "/batch", 2_086_000, http.StatusOK},
		{"big-batch-2.01", "/batch", 2_108_000, http.StatusRequestEntityTooLarge},
	} {
		body := big(tc.id, tc.size)
		if tc.path == "/batch" {
			body = append(append([]byte(`[`), body...), ']')
		}
		code, reply := post(tc.path, body)
		if code != tc.want {
			t.Errorf("%s (%d bytes): %d %.200s, want %d", tc.id, tc.size, code, reply, tc.want)
		}
		if code == http.StatusOK {
			acked[tc.id] = true
		}
	}

	stored := map[string]bool{}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, err := s.ClickHouse.Query(ctx, "SELECT distinct_id, visitParamExtractString(properties, 'case_id') FROM "+s.Database+".events")
		if err != nil {
			t.Fatalf("query events: %v", err)
		}
		for rows.Next() {
			var did, caseID string
			if err := rows.Scan(&did, &caseID); err != nil {
				t.Fatal(err)
			}
			stored[did], stored[caseID] = true, true
		}
		rows.Close()
		missing := 0
		for id := range acked {
			if !stored[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			for id := range acked {
				if !stored[id] {
					t.Errorf("%s was answered 200 but is not in ClickHouse", id)
				}
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d events answered 200 and stored, %d refused with a 4xx", len(acked), len(refused))
	for reason, n := range deadLettered(t, s.Registry) {
		if reason != "invalid_person_update" {
			t.Errorf("the worker dead-lettered %v events with reason %s", n, reason)
		} else {
			t.Logf("%v person updates dropped and dead-lettered (events stored)", n)
		}
	}
}

// deadLettered reads the worker's dead-letter counter by reason.
func deadLettered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "shakedown_worker_dead_lettered_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
