package lint

import "strconv"

// fieldIndex renders a list element's field path, e.g. "spec.containers[0]".
func fieldIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
