package event

// MaxMessageBytes is the largest Kafka record the stack produces and accepts on its
// topics: the producer's batch limit, the broker's message.max.bytes and the topics'
// max.message.bytes. Capture takes events of up to 2 MB of JSON, and Message carries
// the event as a JSON string, where escaping can grow it up to six times (each '<',
// '>', '&' or invalid UTF-8 byte becomes a six-byte \uXXXX); 16 MiB holds the worst
// case with room to spare. A record over it is refused, and capture answers 413.
const MaxMessageBytes = 16 << 20

// JSONKind names the JSON type of trimmed, valid raw for error messages: "a
// string", "an array", "an object", "a boolean", "null" or "a number".
func JSONKind(raw []byte) string {
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '[':
		return "an array"
	case c == '{':
		return "an object"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "a number"
}
