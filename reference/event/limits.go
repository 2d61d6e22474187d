package event

// MaxMessageBytes is the largest Kafka record the stack produces and accepts on its
// topics: the producer's batch limit, the broker's message.max.bytes and the topics'
// max.message.bytes. Capture takes events of up to 2 MB of JSON, and Message carries
// the event as a JSON string, where escaping can grow it up to six times (each '<',
// '>', '&' or invalid UTF-8 byte becomes a six-byte \uXXXX); 16 MiB holds the worst
// case with room to spare. A record over it is refused, and capture answers 413.
const MaxMessageBytes = 16 << 20
