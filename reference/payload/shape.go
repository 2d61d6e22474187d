package payload

// Shape bounds the structure of a JSON document, so that a body can be refused before
// it is decoded into maps: a 2 MB body of a million tiny properties costs hundreds of
// megabytes once in a map, but scanning it costs nothing.
type Shape struct {
	// MaxDepth is how deeply arrays and objects may nest, counting the outermost
	// value as 1; 0 means no limit.
	MaxDepth int
	// MaxKeys is how many members any one object may have; 0 means no limit.
	MaxKeys int
}

// CheckShape scans JSON b (already known to be valid, e.g. from ReadBody or Decode)
// (allocating one int per nesting level) and refuses it when it breaks s: too deep is Malformed (400),
// too many keys in one object is TooLarge (413).
func CheckShape(b []byte, s Shape) error {
	// keys[d] counts the colons met directly inside the container open at depth d+1:
	// the members of an object (an array has none at its own level).
	var (
		keys     = make([]int, 0, 32)
		inString bool
		escaped  bool
	)
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if s.MaxDepth > 0 && len(keys) >= s.MaxDepth {
				return errorf(Malformed, nil, "JSON nests deeper than %d levels; flatten the properties", s.MaxDepth)
			}
			keys = append(keys, 0)
		case '}', ']':
			if len(keys) > 0 {
				keys = keys[:len(keys)-1]
			}
		case ':':
			if d := len(keys) - 1; d >= 0 {
				keys[d]++
				if s.MaxKeys > 0 && keys[d] > s.MaxKeys {
					return errorf(TooLarge, nil, "a JSON object has more than %d keys; send at most %d properties per object", s.MaxKeys, s.MaxKeys)
				}
			}
		}
	}
	return nil
}
