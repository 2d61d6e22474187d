package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/suites/e2e"
)

// checkStored waits until every uuid is in ClickHouse and checks each is
// stored exactly once; false when nothing more can be checked.
func (c *checker) checkStored(ctx context.Context, uuids []string) bool {
	if len(uuids) == 0 {
		c.res.add("stored exactly once", false, "the SDK reported no event delivered")
		return false
	}
	st, err := e2e.WaitStored(ctx, c.opts.ClickHouse, c.opts.Database, uuids, c.opts.Wait)
	c.res.Stored, c.res.Distinct, c.res.RawRows, c.res.Missing = st.Rows, st.Distinct, st.RawRows, st.Missing
	n := uint64(len(uuids))
	if err != nil && st.MissingCount == 0 {
		c.res.errored("stored exactly once", err)
		return false
	}
	c.res.add("stored exactly once", st.Rows == n && st.Distinct == n && st.MissingCount == 0,
		"%d delivered, %d stored (%d distinct uuids, %d rows before folding), %d missing", n, st.Rows, st.Distinct, st.RawRows, st.MissingCount)
	return st.MissingCount == 0
}

// query runs a read-only ClickHouse query of the events table (named {events}).
func (c *checker) query(ctx context.Context, sql string, dest ...any) error {
	sql = strings.ReplaceAll(sql, "{events}", fmt.Sprintf("`%s`.events", c.opts.Database))
	if err := c.opts.ClickHouse.QueryRow(ctx, sql).Scan(dest...); err != nil {
		return fmt.Errorf("query ClickHouse: %w", err)
	}
	return nil
}

// since bounds event queries to this run, so they stay cheap on a large table.
func (c *checker) since() string {
	return fmt.Sprintf("timestamp >= toDateTime(%d)", c.start.Add(-time.Hour).Unix())
}

// checkSpecialEvents checks the alias, identify and group identify of a
// server SDK's plan were each stored once.
func (c *checker) checkSpecialEvents(ctx context.Context, p plan) {
	var alias, identify, group uint64
	err := c.query(ctx, `SELECT countIf(event = '$create_alias'), countIf(event = '$identify'), countIf(event = '$groupidentify')
		FROM {events} FINAL WHERE `+c.since()+` AND event IN ('$create_alias', '$identify', '$groupidentify')
		AND (distinct_id = '`+p.User+`' OR visitParamExtractString(properties, '$group_key') = '`+p.Company+`')`, &alias, &identify, &group)
	if err != nil {
		c.res.errored("alias, identify, group identify stored", err)
		return
	}
	c.res.add("alias, identify, group identify stored", alias == 1 && identify == 1 && group == 1,
		"$create_alias %d, $identify %d, $groupidentify %d (want 1 each)", alias, identify, group)
}

// checkOnePerson checks that the events of before (sent by the anonymous id)
// and after (by the identified one) resolve to one person, through the
// deployment's person overrides.
func (c *checker) checkOnePerson(ctx context.Context, name string, before, after []string) {
	persons, err := e2e.ResolvePersons(ctx, c.opts.ClickHouse, c.opts.Database, append(append([]string{}, before...), after...))
	if err != nil {
		c.res.errored(name, err)
		return
	}
	distinct := map[string]int{}
	for _, u := range append(append([]string{}, before...), after...) {
		distinct[persons[u]]++
	}
	c.res.add(name, len(distinct) == 1, "%d events before and %d after resolve to %d person(s): %v", len(before), len(after), len(distinct), keys(distinct))
}

// checkGroupColumns checks the captures carry their company in the events'
// group column of the "company" group type.
func (c *checker) checkGroupColumns(ctx context.Context, uuids []string, company string) {
	if c.proj == nil {
		c.res.notRun("events carry their group", "no PostgreSQL given (--postgres): the group type's index is unknown")
		return
	}
	list := "'" + strings.Join(uuids, "','") + "'"
	var with uint64
	err := c.query(ctx, fmt.Sprintf("SELECT count() FROM {events} FINAL WHERE uuid IN (%s) AND `$group_%d` = '%s'", list, c.proj.groupIndex, company), &with)
	if err != nil {
		c.res.errored("events carry their group", err)
		return
	}
	c.res.add("events carry their group", with == uint64(len(uuids)), "%d of %d captures have $group_%d = %s", with, len(uuids), c.proj.groupIndex, company)
}

// checkPostgres checks persons and groups as PostgreSQL stores them.
func (c *checker) checkPostgres(ctx context.Context, p plan) {
	pool, team := c.proj.pool, c.proj.team
	var merged bool
	var email string
	err := pool.QueryRow(ctx, `SELECT a.person_id = b.person_id, coalesce(p.properties->>'email', '')
		FROM person_distinct_ids a JOIN person_distinct_ids b ON b.team_id = a.team_id JOIN persons p ON p.id = a.person_id
		WHERE a.team_id = $1 AND a.distinct_id = $2 AND b.distinct_id = $3`, team, p.User, p.Anon).Scan(&merged, &email)
	if err != nil {
		c.res.errored("person merged and identified", fmt.Errorf("read persons of %s and %s: %w", p.User, p.Anon, err))
	} else {
		c.res.add("person merged and identified", merged && email == p.User+"@shop.example", "one person: %v, email %q", merged, email)
	}
	var plan, first string
	err = pool.QueryRow(ctx, `SELECT coalesce(p.properties->>'plan', ''), coalesce(p.properties->>'first_index', '')
		FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id WHERE d.team_id = $1 AND d.distinct_id = $2`, team, p.People[0]).Scan(&plan, &first)
	if err != nil {
		c.res.errored("$set and $set_once", fmt.Errorf("read the person of %s: %w", p.People[0], err))
	} else {
		c.res.add("$set and $set_once", plan == "pro" && first == "0", "plan %q (want pro, the later $set), first_index %q (want 0, the first $set_once)", plan, first)
	}
	var junk int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM person_distinct_ids WHERE team_id = $1 AND distinct_id LIKE '$%' AND distinct_id LIKE $2`,
		team, "%"+p.Company).Scan(&junk); err != nil {
		c.res.errored("group identify creates no person", err)
	} else {
		c.res.add("group identify creates no person", junk == 0, "%d persons named after the group", junk)
	}
	var seats string
	err = pool.QueryRow(ctx, `SELECT coalesce(group_properties->>'seats', '') FROM groups WHERE team_id = $1 AND group_type_index = $2 AND group_key = $3`,
		team, c.proj.groupIndex, p.Company).Scan(&seats)
	if err != nil {
		c.res.errored("group properties stored", fmt.Errorf("read group %s: %w", p.Company, err))
	} else {
		c.res.add("group properties stored", seats == "40", "seats %q (want 40)", seats)
	}
}

// checkBrowser checks what posthog-js did and what the deployment stored.
func (c *checker) checkBrowser(ctx context.Context, a browserAnswer, in browserInput) {
	c.res.add("no console errors", len(a.Console) == 0 && len(a.Failed) == 0, "console: %s; failed requests: %s", orNone(a.Console), orNone(a.Failed))
	if a.Flags.Error != "" {
		c.res.add("flags loaded", false, "%s", a.Flags.Error)
	}
	count := map[string]int{}
	var uuids, before, after []string
	for _, s := range a.Sent {
		count[s.Event]++
		uuids = append(uuids, s.UUID)
	}
	c.res.Sent = len(uuids)
	want := map[string]int{"js-event": 2 * in.Events, "js-beacon": in.BeaconEvents, "js-plain": in.PlainEvents, "$identify": 1, "$groupidentify": 1}
	var short []string
	for ev, n := range want {
		if count[ev] != n {
			short = append(short, fmt.Sprintf("%s %d of %d", ev, count[ev], n))
		}
	}
	c.res.add("SDK sent every capture", len(short) == 0, "%s", orNone(short))

	var gzip, plain, plainJSON, beacons, config int
	kinds := map[string]int{} // event requests by page, method, resource type and content type
	for _, r := range a.Requests {
		if r.isEvents() {
			kinds[r.Page+" "+r.Method+" "+r.Resource+" "+r.Type]++
		}
		switch {
		case r.isEvents() && r.Resource == "ping": // counted from the page's own sendBeacon calls below
		case r.isEvents() && r.Method == http.MethodPost && r.Page == "main":
			if r.Type == "text/plain" || strings.Contains(r.URL, "compression=gzip") {
				gzip++
			} else {
				c.res.add("gzip kept on", false, "%s %s sent as %q", r.Method, r.URL, r.Type)
			}
		case r.isEvents() && r.Method == http.MethodPost && r.Page == "plain":
			plain++
			if strings.HasPrefix(r.Type, "application/json") && !strings.Contains(r.URL, "compression=") {
				plainJSON++
			}
		case strings.HasPrefix(r.URL, "/array/") || strings.HasPrefix(r.URL, "/decide") || strings.HasPrefix(r.URL, "/flags"):
			config++
		}
	}
	c.res.add("config and flags requested", config > 0, "%d requests to remote config, /flags or /decide", config)
	c.res.add("gzip kept on", gzip > 0, "%d gzip event requests on the main page", gzip)
	c.res.add("compression off sends JSON", plain > 0 && plainJSON == plain, "%d of %d event requests on the plain page are uncompressed JSON", plainJSON, plain)
	var queued []string
	for _, b := range a.Beacons {
		if b.Queued && strings.HasPrefix(b.URL, c.opts.Target) && b.Page == "main" {
			queued = append(queued, strings.TrimPrefix(b.URL, c.opts.Target))
			beacons++
		}
	}
	c.res.add("beacon on unload", beacons > 0, "%d sendBeacon calls queued by the browser on pagehide %v; event requests: %v", beacons, queued, kinds)

	if !c.checkStored(ctx, uuids) {
		return
	}
	for _, s := range a.Sent {
		switch {
		case s.Event == "js-event" && len(before) < in.Events:
			before = append(before, s.UUID)
		case s.Event == "js-event":
			after = append(after, s.UUID)
		}
	}
	c.checkOnePerson(ctx, "identify merged persons", before, after)
	if c.proj == nil {
		c.res.notRun("flags", "no PostgreSQL given (--postgres): the run cannot configure the flags it checks")
		return
	}
	c.res.Flags = a.Flags.Answers
	for _, f := range []struct {
		name string
		want any
	}{
		{"boolean", true}, {"payload", map[string]any{"color": "blue"}}, {"multivariate", "b"},
		{"person property mismatch", false}, {"group absent", false},
		{"person property in request", true}, {"group property in request", true},
	} {
		got, ok := a.Flags.Answers[f.name]
		c.res.add("flag: "+f.name, ok && sameAnswer(got, f.want), "got %s, want %s", show(got), show(f.want))
	}
}

// show renders a flag answer for a check's detail.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// httpDoer is the part of *http.Client the flag probe uses.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// askFlag asks the deployment's /flags?v=2 for key, for a probe id in a
// probe company of 40 seats, and says whether it came back enabled.
func askFlag(ctx context.Context, client httpDoer, target, token, key string) (bool, error) {
	body, _ := json.Marshal(map[string]any{"token": token, "distinct_id": "shakedown-probe",
		"groups": map[string]string{groupType: "shakedown-probe"}, "group_properties": map[string]any{groupType: map[string]any{"seats": 40}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"/flags/?v=2", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("/flags answered %s", resp.Status)
	}
	var out struct {
		Flags map[string]struct {
			Enabled bool `json:"enabled"`
		} `json:"flags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, fmt.Errorf("read /flags answer: %w", err)
	}
	return out.Flags[key].Enabled, nil
}
