package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/reference/serve"
)

func newServeCmd() *cobra.Command {
	var logLevel string
	cmd := &cobra.Command{
		Use:   "serve capture|worker|decide|kafka",
		Short: "Run one reference-stack component against real Kafka, ClickHouse and PostgreSQL (what the chart's image runs)",
		Long: `Runs one component of the reference stack, configured from the environment the Helm
chart sets: LISTEN_ADDR, KAFKA_BROKERS, KAFKA_TOPIC_PARTITIONS, CLICKHOUSE_ADDR,
CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE, POSTGRES_DSN, MIGRATE,
CAPTURE_RATE_PER_TOKEN, HTTP_READ_HEADER_TIMEOUT, HTTP_IDLE_TIMEOUT, HTTP_BODY_TIMEOUT,
HTTP_MIN_BODY_RATE, DECIDE_REFRESH_INTERVAL (how often flags and tokens are reloaded, default 30s), TRUSTED_PROXIES (CIDRs whose X-Forwarded-For is believed) and
CORS_ORIGINS (empty: any origin without credentials; "*": reflect any). SIGTERM shuts it down gracefully (the worker flushes).

"kafka" runs a one-broker Kafka wire-protocol server (franz-go's kfake) with the ingestion
topics, for machines with no Kafka image (the docker stack provider uses it): LISTEN_ADDR
(default :9092), KAFKA_ADVERTISED_ADDR (host:port clients are told, e.g. kafka:9092),
KAFKA_TOPIC_PARTITIONS, KAFKA_DATA_DIR (keep the log on disk, written before each ack).`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{serve.Capture, serve.Worker, serve.Decide, serve.Kafka},
		RunE: func(cmd *cobra.Command, args []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			component := ""
			if len(args) == 1 {
				component = args[0]
			}
			cfg, err := serve.ConfigFromEnv(os.Getenv, component)
			if err != nil {
				return err
			}
			cfg.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			return serve.Run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
