package capture

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// ProducerOptions returns the kgo options capture's client needs: acks from all
// in-sync replicas with idempotent writes (franz-go's default, kept on here), a
// short linger since every request waits for its acks, and unbounded retries
// bounded per record by the request's context (Config.ProduceTimeout). Batches may
// reach event.MaxMessageBytes (franz-go's default is about 1 MB, less than the 2 MB
// events capture accepts), so the topic and broker must accept records that large.
//
// Use them as kgo.NewClient(append(capture.ProducerOptions(brokers...), more...)...).
// A client built otherwise must also be idempotent with acks=all, or a 200 from
// capture would not mean the event is durable.
func ProducerOptions(brokers ...string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(event.MaxMessageBytes),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.SnappyCompression(), kgo.NoCompression()),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.MaxBufferedRecords(100_000),
	}
}
