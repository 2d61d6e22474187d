package sdk

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/posthog/posthog-go"
)

// goDriver drives posthog-go, compiled into this binary, as a Go service uses it.
type goDriver struct{ target, token string }

// goCallback collects what posthog-go reports delivered and dropped.
type goCallback struct {
	mu        sync.Mutex
	delivered int
	dropped   []string
}

func (c *goCallback) Success(posthog.APIMessage) { c.mu.Lock(); c.delivered++; c.mu.Unlock() }
func (c *goCallback) Failure(_ posthog.APIMessage, err error) {
	c.mu.Lock()
	c.dropped = append(c.dropped, err.Error())
	c.mu.Unlock()
}

func (d goDriver) client(cb posthog.Callback) (posthog.Client, error) {
	c, err := posthog.NewWithConfig(d.token, posthog.Config{Endpoint: d.target, Callback: cb, BatchSize: 100,
		Interval: 100 * time.Millisecond, Logger: posthog.StdLogger(log.New(io.Discard, "", 0))})
	if err != nil {
		return nil, fmt.Errorf("posthog-go: %w", err)
	}
	return c, nil
}

// send enqueues the plan's messages through posthog-go's batching transport
// and closes the client, which flushes them.
func (d goDriver) send(_ context.Context, p plan) (sent, error) {
	cb := &goCallback{}
	client, err := d.client(cb)
	if err != nil {
		return sent{}, err
	}
	var out sent
	capture := func(distinctID string, props posthog.Properties) error {
		id := uuid.NewString()
		out.UUIDs = append(out.UUIDs, id)
		return client.Enqueue(posthog.Capture{Uuid: id, DistinctId: distinctID, Event: "$pageview", Properties: props,
			Groups: posthog.NewGroups().Set(groupType, p.Company)})
	}
	var msgs []func() error
	for i := range p.Events {
		props := posthog.NewProperties().Set("$current_url", fmt.Sprintf("https://shop.example/p/%d", i)).Set("run", p.Run)
		switch {
		case i == 0:
			props.Set("$set", map[string]any{"plan": "free"}).Set("$set_once", map[string]any{"first_index": 0})
		case i%10 == 0 && i%len(p.People) != 0:
			props.Set("$set", map[string]any{"plan": "pro"})
		}
		msgs = append(msgs, func() error { return capture(p.People[i%len(p.People)], props) })
	}
	for range anonEvents {
		msgs = append(msgs, func() error { return capture(p.Anon, posthog.NewProperties().Set("run", p.Run)) })
	}
	msgs = append(msgs,
		func() error { return client.Enqueue(posthog.Alias{DistinctId: p.User, Alias: p.Anon}) },
		func() error {
			return client.Enqueue(posthog.Identify{DistinctId: p.User, Properties: posthog.NewProperties().Set("email", p.User+"@shop.example")})
		},
		func() error {
			return client.Enqueue(posthog.GroupIdentify{Type: groupType, Key: p.Company, Properties: posthog.NewProperties().Set("seats", 40)})
		})
	for range anonEvents {
		msgs = append(msgs, func() error { return capture(p.User, posthog.NewProperties().Set("run", p.Run)) })
	}
	for _, m := range msgs {
		if err := m(); err != nil {
			client.Close()
			return out, fmt.Errorf("posthog-go refused a message: %w", err)
		}
	}
	if err := client.Close(); err != nil {
		return out, fmt.Errorf("posthog-go close: %w", err)
	}
	// The second wave: everything above is delivered, so this comes after it.
	if client, err = d.client(cb); err != nil {
		return out, err
	}
	err = capture(p.People[0], posthog.NewProperties().Set("run", p.Run).
		Set("$set", map[string]any{"plan": "pro"}).Set("$set_once", map[string]any{"first_index": 1}))
	if cerr := client.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("posthog-go close: %w", cerr)
	}
	if err != nil {
		return out, fmt.Errorf("posthog-go, second wave: %w", err)
	}
	out.Errors = cb.dropped
	if want := len(msgs) + 1; cb.delivered != want {
		out.Errors = append(out.Errors, fmt.Sprintf("posthog-go reported %d of %d messages delivered", cb.delivered, want))
	}
	return out, nil
}

// flags asks every query through posthog-go's remote evaluation (/flags).
func (d goDriver) flags(_ context.Context, queries []flagQuery) (map[string]any, []string, error) {
	client, err := d.client(nil)
	if err != nil {
		return nil, nil, err
	}
	defer client.Close()
	answers := map[string]any{}
	var errs []string
	for _, q := range queries {
		groups := posthog.NewGroups()
		for k, v := range q.Groups {
			groups.Set(k, v)
		}
		person := posthog.Properties(q.PersonProperties)
		groupProps := map[string]posthog.Properties{}
		for k, v := range q.GroupProperties {
			groupProps[k] = v
		}
		var v any
		switch {
		case q.All:
			v, err = client.GetAllFlags(posthog.FeatureFlagPayloadNoKey{DistinctId: q.DistinctID, Groups: groups,
				PersonProperties: person, GroupProperties: groupProps})
		case q.Payload:
			v, err = client.GetFeatureFlagPayload(posthog.FeatureFlagPayload{Key: q.Key, DistinctId: q.DistinctID, Groups: groups,
				PersonProperties: person, GroupProperties: groupProps})
		default:
			v, err = client.GetFeatureFlag(posthog.FeatureFlagPayload{Key: q.Key, DistinctId: q.DistinctID, Groups: groups,
				PersonProperties: person, GroupProperties: groupProps})
		}
		if err != nil {
			errs = append(errs, q.Name+": "+err.Error())
		}
		answers[q.Name] = v
	}
	return answers, errs, nil
}
