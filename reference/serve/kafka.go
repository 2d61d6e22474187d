package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// defaultListen is a component's listen address unless LISTEN_ADDR says otherwise.
func defaultListen(component string) string {
	if component == Kafka {
		return ":9092"
	}
	return ":8000"
}

// runKafka serves a one-broker Kafka (kfake) on cfg.Listen with the ingestion and
// dead-letter topics, advertising cfg.KafkaAdvertisedAddr, until ctx ends.
func runKafka(ctx context.Context, cfg Config, log *slog.Logger) error {
	_, portText, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("kafka: LISTEN_ADDR %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 {
		return fmt.Errorf("kafka: LISTEN_ADDR %q needs a fixed port (clients are told it)", cfg.Listen)
	}
	advertised := cfg.KafkaAdvertisedAddr
	if advertised == "" {
		advertised = cfg.Listen
	}
	if _, _, err := net.SplitHostPort(advertised); err != nil {
		return fmt.Errorf("kafka: KAFKA_ADVERTISED_ADDR %q: want host:port: %w", advertised, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1), kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			l, err := net.Listen(network, cfg.Listen)
			if err != nil {
				return nil, err
			}
			return advertisedListener{Listener: l, addr: advertisedAddr(advertised)}, nil
		}),
		// Kafka's default message.max.bytes (about 1 MB) is below capture's 2 MB events.
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(event.MaxMessageBytes)}),
		kfake.SeedTopics(cfg.TopicPartitions, event.IngestionTopic),
		kfake.SeedTopics(1, event.DeadLetterTopic),
	}
	if cfg.KafkaDataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.KafkaDataDir), kfake.SyncWrites())
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("kafka: start kfake on %s: %w", cfg.Listen, err)
	}
	log.Info("kafka (kfake) serving", "listen", cfg.Listen, "advertised", advertised, "data_dir", cfg.KafkaDataDir)
	<-ctx.Done()
	cluster.Close()
	return nil
}

// advertisedListener reports addr as its address: kfake tells clients the listener's
// address, which inside a container must be the name other containers reach it by.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }
