package traffic

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"time"
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

func deviceTypes() []string { return []string{"Desktop", "Mobile", "Tablet"} }

func screens() [][2]int {
	return [][2]int{{1920, 1080}, {1536, 864}, {1440, 900}, {1366, 768}, {390, 844}, {414, 896}, {360, 800}, {2560, 1440}}
}

func utmSources() []string {
	return []string{"google", "newsletter", "twitter", "linkedin", "hn", "producthunt", "reddit"}
}

func utmMediums() []string { return []string{"cpc", "email", "social", "referral"} }

// The host of every page view, and the fields every event carries unchanged.
const (
	host     = "app.example.test"
	libProps = `"$lib":"web","$lib_version":"1.200.0"`
)

// alphabet is what words are made of: lower-case letters and digits.
const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// lognormal draws a size with the given median and spread (sigma of the log),
// capped at limit.
func lognormal(r *rand.Rand, median float64, sigma float64, limit int) int {
	n := int(median * math.Exp(sigma*r.NormFloat64()))
	return min(max(n, 1), limit)
}

// appendWord appends n random characters of alphabet. Each 64-bit draw yields
// twelve characters (multiply-shift on the draw's remaining bits), so a word costs
// about one draw per twelve characters instead of one per character.
func appendWord(b []byte, r *rand.Rand, n int) []byte {
	for n > 0 {
		x := r.Uint64()
		for k := min(n, 12); k > 0; k-- {
			var hi uint64
			hi, x = bits.Mul64(x, uint64(len(alphabet)))
			b = append(b, alphabet[hi])
			n--
		}
	}
	return b
}

// appendPath appends a URL path of one to four words of lognormal length.
func appendPath(b []byte, r *rand.Rand) []byte {
	for segs := 1 + r.IntN(4); segs > 0; segs-- {
		b = append(b, '/')
		b = appendWord(b, r, lognormal(r, 7, 0.6, 40))
	}
	return b
}

// appendUUID appends a random (version 4) uuid in its canonical form.
func appendUUID(b []byte, r *rand.Rand) []byte {
	const hex = "0123456789abcdef"
	var u [16]byte
	a, c := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		u[i], u[8+i] = byte(a>>(8*i)), byte(c>>(8*i))
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[x>>4], hex[x&0x0f])
	}
	return b
}

// appendTimestamp appends the time ms (Unix milliseconds) as JavaScript's
// Date.toISOString writes it, e.g. 2026-01-01T00:00:00.120Z. clock caches the
// formatted date and time of the last second seen.
func appendTimestamp(b []byte, ms int64, clock *clockCache) []byte {
	sec, frac := floorDiv(ms, 1000)
	b = append(b, clock.second(sec)...)
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
}

// appendSeconds appends ms/1000 as the shortest decimal that reads back as the
// same float64, which is how encoding/json writes float64(ms)/1000.
func appendSeconds(b []byte, ms int64) []byte {
	if ms < 0 {
		return strconv.AppendFloat(b, float64(ms)/1000, 'f', -1, 64)
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	return appendMillis(b, ms%1000)
}

// appendMillis appends ".ddd" without trailing zeros, nothing for 0.
func appendMillis(b []byte, frac int64) []byte {
	if frac == 0 {
		return b
	}
	d := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for d[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, d[:n]...)
}

func floorDiv(a, n int64) (q, r int64) {
	q, r = a/n, a%n
	if r < 0 {
		q, r = q-1, r+n
	}
	return q, r
}

// clockCache holds "2006-01-02T15:04:05" of one second.
type clockCache struct {
	sec  int64
	text []byte
}

func (c *clockCache) second(sec int64) []byte {
	if c.text == nil || c.sec != sec {
		c.sec = sec
		c.text = time.Unix(sec, 0).UTC().AppendFormat(c.text[:0], "2006-01-02T15:04:05")
	}
	return c.text
}

// person is what stays the same across a person's events: ids, device, browser.
type person struct {
	// distinctID is the person's distinct_id (plain ASCII: it needs no escaping).
	distinctID string
	// props are the person's properties as JSON object members, each followed by
	// a comma.
	props []byte
	// session is the session id's prefix, "s<person>-".
	session []byte
}

// newPerson derives person n's fixed properties from n and the seed only.
func newPerson(n, seed uint64) *person {
	p := &person{distinctID: "u" + strconv.FormatUint(n, 36) + "-" + strconv.FormatUint(splitmix(n^seed)%1e9, 36)}
	dev := rand.New(rand.NewPCG(n, seed))
	bs, oss, scr, dts := browsers(), operatingSystems(), screens(), deviceTypes()
	screen := scr[dev.IntN(len(scr))]
	b := make([]byte, 0, 512)
	b = append(b, `"$browser":"`...)
	b = append(b, bs[dev.IntN(len(bs))]...)
	b = append(b, `","$browser_version":`...)
	b = strconv.AppendInt(b, int64(100+dev.IntN(30)), 10)
	b = append(b, `,"$os":"`...)
	b = append(b, oss[dev.IntN(len(oss))]...)
	b = append(b, `","$device_type":"`...)
	b = append(b, dts[dev.IntN(len(dts))]...)
	b = append(b, `","$screen_height":`...)
	b = strconv.AppendInt(b, int64(screen[1]), 10)
	b = append(b, `,"$screen_width":`...)
	b = strconv.AppendInt(b, int64(screen[0]), 10)
	b = append(b, `,"$viewport_height":`...)
	b = strconv.AppendInt(b, int64(screen[1]-dev.IntN(200)), 10)
	b = append(b, `,"$viewport_width":`...)
	b = strconv.AppendInt(b, int64(screen[0]), 10)
	b = append(b, `,"$window_id":"w`...)
	b = appendWord(b, dev, 10)
	b = append(b, `","$raw_user_agent":"Mozilla/5.0 (`...)
	b = appendWord(b, dev, lognormal(dev, 40, 0.3, 120))
	b = append(b, `)","$device_id":"d`...)
	b = strconv.AppendUint(b, n, 36)
	b = append(b, `","$is_identified":`...)
	b = strconv.AppendBool(b, n%3 == 0)
	b = append(b, `,"distinct_id":"`...)
	b = append(b, p.distinctID...)
	b = append(b, `",`...)
	p.props = b
	p.session = strconv.AppendUint([]byte{'s'}, n, 36)
	p.session = append(p.session, '-')
	return p
}

// appendEvent appends one posthog-js event of p at time ms (Unix milliseconds) as
// JSON: {"uuid","event","distinct_id","properties":{...},"timestamp"} with
// properties as posthog-js sets them (page, device, library, session, referrer,
// campaign for a quarter of events, up to four custom properties of lognormal
// sizes), and tokenProp (`"token":"..."`, or nothing) last in properties. It
// returns the extended buffer and where the uuid starts in it.
func appendEvent(b []byte, r *rand.Rand, p *person, ms int64, tokenProp []byte, clock *clockCache) ([]byte, int) {
	names := eventNames()
	b = append(b, `{"uuid":"`...)
	at := len(b)
	b = appendUUID(b, r)
	b = append(b, `","event":"`...)
	b = append(b, names[r.IntN(len(names))]...)
	b = append(b, `","distinct_id":"`...)
	b = append(b, p.distinctID...)
	b = append(b, `","properties":{"$current_url":"https://`+host...)
	pathAt := len(b)
	b = appendPath(b, r)
	pathEnd := len(b)
	b = append(b, `","$host":"`+host+`","$pathname":"`...)
	b = append(b, b[pathAt:pathEnd]...)
	b = append(b, `",`...)
	b = append(b, p.props...)
	b = append(b, libProps+`,"$insert_id":"`...)
	b = appendWord(b, r, 16)
	b = append(b, `","$time":`...)
	b = appendSeconds(b, ms)
	b = append(b, `,"$session_id":"`...)
	b = append(b, p.session...)
	half, _ := floorDiv(ms, 1000*1800)
	b = strconv.AppendInt(b, half, 36)
	if r.IntN(4) == 0 {
		us := utmSources()
		src := us[r.IntN(len(us))]
		b = append(b, `","$referrer":"https://`...)
		b = append(b, src...)
		b = append(b, `.example.test/","$referring_domain":"`...)
		b = append(b, src...)
		b = append(b, `.example.test","utm_source":"`...)
		b = append(b, src...)
		b = append(b, `","utm_medium":"`...)
		b = append(b, utmMediums()[r.IntN(4)]...)
		b = append(b, `","utm_campaign":"`...)
		b = appendWord(b, r, lognormal(r, 12, 0.5, 60))
		b = append(b, `",`...)
	} else {
		b = append(b, `","$referrer":"$direct","$referring_domain":"$direct",`...)
	}
	b = append(b, `"$active_feature_flags":[]`...)
	// A few custom properties of lognormal sizes.
	for n := r.IntN(5); n > 0; n-- {
		b = append(b, `,"custom_`...)
		b = appendWord(b, r, 6)
		b = append(b, `":"`...)
		b = appendWord(b, r, lognormal(r, 16, 1.0, 2000))
		b = append(b, '"')
	}
	if len(tokenProp) > 0 {
		b = append(b, ',')
		b = append(b, tokenProp...)
	}
	b = append(b, `},"timestamp":"`...)
	b = appendTimestamp(b, ms, clock)
	b = append(b, `"}`...)
	return b, at
}
