package traffic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

// Value pools for properties. Functions, not package variables, so nothing global
// can be changed by a caller.
func eventNames() []string {
	return []string{"$pageview", "$pageview", "$pageview", "$autocapture", "$autocapture", "$pageleave",
		"$web_vitals", "$rageclick", "button clicked", "signed_up", "purchase", "$identify"}
}

func browsers() []string {
	return []string{"Chrome", "Chrome", "Chrome", "Safari", "Safari", "Firefox", "Microsoft Edge", "Samsung Internet", "Opera"}
}

func operatingSystems() []string {
	return []string{"Windows", "Mac OS X", "iOS", "Android", "Linux", "Chrome OS"}
}

func screens() [][2]int {
	return [][2]int{{1920, 1080}, {1536, 864}, {1440, 900}, {1366, 768}, {390, 844}, {414, 896}, {360, 800}, {2560, 1440}}
}

func utmSources() []string {
	return []string{"google", "newsletter", "twitter", "linkedin", "hn", "producthunt", "reddit"}
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"

// lognormal draws a size with the given median and spread (sigma of the log),
// capped at limit.
func lognormal(r *rand.Rand, median float64, sigma float64, limit int) int {
	n := int(median * math.Exp(sigma*r.NormFloat64()))
	return min(max(n, 1), limit)
}

func word(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet)-1)] // no dash
	}
	return string(b)
}

func path(r *rand.Rand) string {
	segs := 1 + r.IntN(4)
	out := make([]byte, 0, 64)
	for i := 0; i < segs; i++ {
		out = append(out, '/')
		out = append(out, word(r, lognormal(r, 7, 0.6, 40))...)
	}
	return string(out)
}

func uuid4(r *rand.Rand) string {
	var u [16]byte
	a, b := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// event builds one event with posthog-js-like properties for person.
func (g *Generator) event(r *rand.Rand, distinctID string, person uint64, at time.Time) phclient.Event {
	names := eventNames()
	// A person's device is stable: derive it from the person, not the draw.
	dev := rand.New(rand.NewPCG(person, g.opts.Seed))
	bs, oss, scr := browsers(), operatingSystems(), screens()
	screen := scr[dev.IntN(len(scr))]
	host := "app.example.test"
	url := "https://" + host + path(r)
	props := map[string]any{
		"$current_url":          url,
		"$host":                 host,
		"$pathname":             url[len("https://"+host):],
		"$browser":              bs[dev.IntN(len(bs))],
		"$browser_version":      100 + dev.IntN(30),
		"$os":                   oss[dev.IntN(len(oss))],
		"$device_type":          []string{"Desktop", "Mobile", "Tablet"}[dev.IntN(3)],
		"$screen_height":        screen[1],
		"$screen_width":         screen[0],
		"$viewport_height":      screen[1] - dev.IntN(200),
		"$viewport_width":       screen[0],
		"$lib":                  "web",
		"$lib_version":          "1.200.0",
		"$insert_id":            word(r, 16),
		"$time":                 float64(at.UnixMilli()) / 1000,
		"$session_id":           "s" + strconv.FormatUint(person, 36) + "-" + strconv.FormatInt(at.Unix()/1800, 36),
		"$window_id":            "w" + word(dev, 10),
		"$referrer":             "$direct",
		"$referring_domain":     "$direct",
		"distinct_id":           distinctID,
		"$device_id":            "d" + strconv.FormatUint(person, 36),
		"$is_identified":        person%3 == 0,
		"$raw_user_agent":       "Mozilla/5.0 (" + word(dev, lognormal(dev, 40, 0.3, 120)) + ")",
		"$active_feature_flags": []string{},
	}
	if r.IntN(4) == 0 {
		us := utmSources()
		src := us[r.IntN(len(us))]
		props["utm_source"] = src
		props["utm_medium"] = []string{"cpc", "email", "social", "referral"}[r.IntN(4)]
		props["utm_campaign"] = word(r, lognormal(r, 12, 0.5, 60))
		props["$referrer"] = "https://" + src + ".example.test/"
		props["$referring_domain"] = src + ".example.test"
	}
	// A few custom properties of lognormal sizes.
	for j, n := 0, r.IntN(5); j < n; j++ {
		props["custom_"+word(r, 6)] = word(r, lognormal(r, 16, 1.0, 2000))
	}
	return phclient.Event{
		UUID:       uuid4(r),
		Event:      names[r.IntN(len(names))],
		DistinctID: distinctID,
		Properties: props,
		Timestamp:  at.UTC().Format(time.RFC3339Nano),
	}
}
