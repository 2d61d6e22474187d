package decide

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
)

// postHogHash is PostHog's documented hash written out longhand: hex SHA-1 of
// "<key>.<distinct_id><salt>", first 15 hex digits as an integer, over 0xFFFFFFFFFFFFFFF.
func postHogHash(t testing.TB, key, distinctID, salt string) float64 {
	t.Helper()
	sum := sha1.Sum([]byte(key + "." + distinctID + salt))
	n, err := strconv.ParseUint(hex.EncodeToString(sum[:])[:15], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return float64(n) / float64(0xFFFFFFFFFFFFFFF)
}

func TestBucketMatchesLonghandHash(t *testing.T) {
	for i := range 500 {
		for _, salt := range []string{"", "variant"} {
			key, id := fmt.Sprintf("flag-%d", i%7), fmt.Sprintf("user-%d", i)
			if got, want := bucket(key, id, salt), postHogHash(t, key, id, salt); got != want {
				t.Fatalf("bucket(%q, %q, %q) = %v, want %v", key, id, salt, got, want)
			}
		}
	}
	if b := bucket("k", "id", ""); b < 0 || b > 1 {
		t.Fatalf("bucket out of [0,1]: %v", b)
	}
}

// TestPostHogConsistencyVectors checks the start of the cross-library consistency
// table PostHog publishes for every SDK ("simple-flag" at 45 %, and
// "multivariate-flag" at 55 % with variants 50/20/20/5/5, for "distinct_id_<i>"),
// end to end through PostgreSQL and HTTP.
func TestPostHogConsistencyVectors(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID,
		flagRow{key: "simple-flag", filters: `{"groups":[{"properties":[],"rollout_percentage":45}]}`},
		flagRow{key: "multivariate-flag", filters: `{"groups":[{"properties":[],"rollout_percentage":55}],
			"multivariate":{"variants":[
				{"key":"first-variant","rollout_percentage":50},{"key":"second-variant","rollout_percentage":20},
				{"key":"third-variant","rollout_percentage":20},{"key":"fourth-variant","rollout_percentage":5},
				{"key":"fifth-variant","rollout_percentage":5}]}}`},
	)
	h, _ := newHandler(t, db)
	simple := []bool{false, true, true, false, true, false, false, true, false, true, false, true, true, false, true, false}
	multi := []any{"second-variant", "second-variant", "first-variant", false, false, "second-variant", "first-variant",
		false, false, false, "first-variant", "third-variant", false, "first-variant", "second-variant", "first-variant",
		false, false, "fourth-variant", "first-variant"}
	for i := range multi {
		id := fmt.Sprintf("distinct_id_%d", i)
		got := flagsFor(t, h, token, id, nil)
		if i < len(simple) && got["simple-flag"] != simple[i] {
			t.Errorf("%s simple-flag = %v, PostHog says %v", id, got["simple-flag"], simple[i])
		}
		if got["multivariate-flag"] != multi[i] {
			t.Errorf("%s multivariate-flag = %v, PostHog says %v", id, got["multivariate-flag"], multi[i])
		}
	}
}
