package lint

import (
	"strings"
	"testing"
)

func TestUnpinnedImages(t *testing.T) {
	cases := map[string]string{
		"nginx:1.27.3":                                    "",
		"registry.example.test/org/app:v2":                "",
		"localhost:5000/app:1.0":                          "",
		"app@sha256:0123abcd":                             "",
		"registry.example.test/org/app:1.0@sha256:0123ab": "",
		"nginx":              "has no tag",
		"localhost:5000/app": "has no tag",
		"nginx:latest":       "mutable tag latest",
		"nginx:":             "empty tag",
		"":                   "image is empty",
		"app@sha256":         "malformed digest",
	}
	for image, want := range cases {
		got := unpinned(image)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("unpinned(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestSplitDocuments(t *testing.T) {
	docs := splitDocuments("---\n# only a comment\n---\na: 1\n--- \nb: 2\n---\n\n")
	if len(docs) != 2 || docs[0].text != "a: 1\n" || docs[1].text != "b: 2\n" || docs[1].index != 2 {
		t.Errorf("splitDocuments = %+v", docs)
	}
}

func TestOneLineSortsSchemaErrorItems(t *testing.T) {
	a := oneLine("values don't meet the schema:\n- at '/image/tag': 'not' failed\n- at '/securityContext/readOnlyRootFilesystem': value must be true")
	b := oneLine("values don't meet the schema:\n- at '/securityContext/readOnlyRootFilesystem': value must be true\n- at '/image/tag': 'not' failed")
	if a != b || strings.Contains(a, "\n") {
		t.Errorf("oneLine is order-sensitive or multi-line:\n%s\n%s", a, b)
	}
	if c, d := oneLine("- at '/b': x\n- at '/a': y"), "- at '/a': y - at '/b': x"; c != d {
		t.Errorf("oneLine = %q, want %q", c, d)
	}
}
