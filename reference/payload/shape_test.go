package payload

import (
	"strings"
	"testing"
)

func TestCheckShape(t *testing.T) {
	lim := Shape{MaxDepth: 3, MaxKeys: 2}
	for _, tc := range []struct {
		json string
		want Kind // 0: accepted
	}{
		{`{"a":1,"b":{"c":[1,2,3,4]}}`, 0},
		{`{"a":1,"b":2,"c":3}`, TooLarge},
		{`[{"a":1,"b":2},{"a":1,"b":2},{"a":1,"b":2}]`, 0}, // keys count per object
		{`{"a":":::","b":"{{{[[[\"}"}`, 0},                 // colons and brackets in strings
		{`[[[1]]]`, 0},
		{`[[[[1]]]]`, Malformed},
		{`{"a":{"b":{"c":{}}}}`, Malformed},
	} {
		err := CheckShape([]byte(tc.json), lim)
		var got Kind
		if pe, ok := err.(*Error); ok {
			got = pe.Kind
		}
		if got != tc.want {
			t.Errorf("%s: %v, want kind %v", tc.json, err, tc.want)
		}
	}
	if err := CheckShape([]byte(strings.Repeat("[", 100)+strings.Repeat("]", 100)), Shape{}); err != nil {
		t.Errorf("no limits: %v", err)
	}
}
