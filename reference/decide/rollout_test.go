package decide

import (
	"fmt"
	"testing"
)

func TestRolloutPercentages(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID,
		flagRow{key: "zero", filters: `{"groups":[{"properties":[],"rollout_percentage":0}]}`},
		flagRow{key: "full", filters: `{"groups":[{"properties":[],"rollout_percentage":100}]}`},
		flagRow{key: "null-rollout", filters: `{"groups":[{"properties":[],"rollout_percentage":null}]}`},
		flagRow{key: "half", filters: `{"groups":[{"properties":[],"rollout_percentage":50}]}`},
		flagRow{key: "no-groups", filters: `{"groups":[]}`},
	)
	h, _ := newHandler(t, db)
	const n = 2000
	on := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("rollout-user-%d", i)
		got := flagsFor(t, h, token, id, nil)
		for k, v := range got {
			if v == true {
				on[k]++
			}
		}
		// The 50 % answer must be exactly PostHog's hash against 0.5.
		if want := postHogHash(t, "half", id, "") <= 0.5; got["half"] != want {
			t.Fatalf("%s half = %v, the hash says %v", id, got["half"], want)
		}
	}
	if on["zero"] != 0 {
		t.Errorf("0%% rollout enabled %d of %d", on["zero"], n)
	}
	if on["no-groups"] != 0 {
		t.Errorf("flag without groups enabled %d of %d", on["no-groups"], n)
	}
	if on["full"] != n || on["null-rollout"] != n {
		t.Errorf("100%% / null rollout enabled %d / %d of %d, want all", on["full"], on["null-rollout"], n)
	}
	if on["half"] < n*40/100 || on["half"] > n*60/100 {
		t.Errorf("50%% rollout enabled %d of %d, want 40-60%%", on["half"], n)
	}
	t.Logf("50%% rollout: %d of %d enabled", on["half"], n)
}

func TestDeterministicPerDistinctID(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID,
		flagRow{key: "half", filters: `{"groups":[{"properties":[],"rollout_percentage":50}]}`},
		flagRow{key: "abc", filters: `{"groups":[{"properties":[],"rollout_percentage":100}],
			"multivariate":{"variants":[{"key":"a","rollout_percentage":34},{"key":"b","rollout_percentage":33},{"key":"c","rollout_percentage":33}]}}`},
	)
	h1, _ := newHandler(t, db)
	h2, _ := newHandler(t, db)
	seen := map[string]map[any]bool{"half": {}, "abc": {}}
	for i := range 20 {
		id := fmt.Sprintf("steady-%d", i)
		first := flagsFor(t, h1, token, id, nil)
		for k, v := range first {
			seen[k][v] = true
		}
		for j := range 100 {
			h := h1
			if j%2 == 1 {
				h = h2
			}
			got := flagsFor(t, h, token, id, nil)
			for _, k := range []string{"half", "abc"} {
				if got[k] != first[k] {
					t.Fatalf("%s: %s answered %v then %v (request %d)", id, k, first[k], got[k], j)
				}
			}
		}
	}
	// Determinism must not come from a constant answer.
	if len(seen["half"]) != 2 || len(seen["abc"]) < 2 {
		t.Fatalf("answers did not vary across distinct_ids: %v", seen)
	}
}

func TestMultivariateDistribution(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID,
		flagRow{key: "mv", filters: `{"groups":[{"properties":[],"rollout_percentage":100}],
			"multivariate":{"variants":[{"key":"control","rollout_percentage":50},{"key":"test","rollout_percentage":30},{"key":"other","rollout_percentage":20}]}}`},
		flagRow{key: "mv-override", filters: `{"groups":[
				{"properties":[{"key":"plan","value":"pro","operator":"exact","type":"person"}],"variant":"b"},
				{"properties":[],"rollout_percentage":100}],
			"multivariate":{"variants":[{"key":"a","rollout_percentage":100},{"key":"b","rollout_percentage":0}]}}`},
	)
	h, _ := newHandler(t, db)
	const n = 2000
	count := map[any]int{}
	for i := range n {
		id := fmt.Sprintf("mv-user-%d", i)
		got := flagsFor(t, h, token, id, map[string]any{"plan": "free"})
		count[got["mv"]]++
		// Independent expectation: the variant hash against the cumulative ranges.
		hash := postHogHash(t, "mv", id, "variant")
		want := "other"
		if hash < 0.5 {
			want = "control"
		} else if hash < 0.8 {
			want = "test"
		}
		if got["mv"] != want {
			t.Fatalf("%s mv = %v, the hash %v says %s", id, got["mv"], hash, want)
		}
		if got["mv-override"] != "a" {
			t.Fatalf("%s mv-override = %v without the override property, want a", id, got["mv-override"])
		}
	}
	for variant, share := range map[string]float64{"control": 0.5, "test": 0.3, "other": 0.2} {
		got := float64(count[variant]) / n
		if got < share-0.05 || got > share+0.05 {
			t.Errorf("variant %s got %.3f of distinct_ids, want %.2f±0.05 (all: %v)", variant, got, share, count)
		}
	}
	if got := flagsFor(t, h, token, "mv-user-1", map[string]any{"plan": "pro"})["mv-override"]; got != "b" {
		t.Errorf("group variant override: got %v, want b", got)
	}
}
