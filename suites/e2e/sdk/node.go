package sdk

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"
)

//go:embed scripts/node.cjs
var nodeScript []byte

// nodeDriver drives posthog-node (installed in dir) as a Node.js service uses it.
type nodeDriver struct {
	dir, target, token string
	// captureV1 turns on posthog-node's capture mode v1 (/i/v1/analytics/events).
	captureV1 bool
}

// nodeAnswer is what scripts/node.cjs prints.
type nodeAnswer struct {
	UUIDs  []string       `json:"uuids"`
	Flags  map[string]any `json:"flags"`
	Errors []string       `json:"errors"`
}

func (d nodeDriver) run(ctx context.Context, phase string, input any) (nodeAnswer, error) {
	b, err := json.Marshal(input)
	if err != nil {
		return nodeAnswer{}, fmt.Errorf("encode the %s input: %w", phase, err)
	}
	var a nodeAnswer
	mode := "POSTHOG_CAPTURE_MODE="
	if d.captureV1 {
		mode += "v1"
	}
	err = runNode(ctx, nodeScript, 3*time.Minute, &a, "SDK_DIR="+d.dir, "TARGET="+d.target, "TOKEN="+d.token, "PHASE="+phase, "INPUT="+string(b), mode)
	if err != nil {
		return a, fmt.Errorf("posthog-node %s: %w", phase, err)
	}
	return a, nil
}

// send captures the plan from Node.js and flushes.
func (d nodeDriver) send(ctx context.Context, p plan) (sent, error) {
	a, err := d.run(ctx, "send", p)
	return sent{UUIDs: a.UUIDs, Errors: a.Errors}, err
}

// flags asks every query through posthog-node's remote evaluation.
func (d nodeDriver) flags(ctx context.Context, queries []flagQuery) (map[string]any, []string, error) {
	a, err := d.run(ctx, "flags", queries)
	return a.Flags, a.Errors, err
}
