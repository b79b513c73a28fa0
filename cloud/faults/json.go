package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// configJSON is Config's JSON form: the same fields and names, with durations that read
// as Go duration strings or milliseconds. TestConfigJSONNames keeps the two in step.
type configJSON struct {
	Latency              jsonDuration     `json:"latency"`
	Jitter               jsonDuration     `json:"jitter"`
	Throttle             map[Class]Bucket `json:"throttle,omitempty"`
	Profile              string           `json:"profile,omitempty"`
	ThrottleRate         float64          `json:"throttle_rate"`
	InternalErrorRate    float64          `json:"internal_error_rate"`
	DropAfterActRate     float64          `json:"drop_after_act_rate"`
	ConsistencyDelay     jsonDuration     `json:"consistency_delay"`
	InsufficientCapacity []Rule           `json:"insufficient_capacity,omitempty"`
}

// MarshalJSON writes durations as Go duration strings ("50ms"), the form people type.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{
		Latency:              jsonDuration(c.Latency),
		Jitter:               jsonDuration(c.Jitter),
		Throttle:             c.Throttle,
		Profile:              c.Profile,
		ThrottleRate:         c.ThrottleRate,
		InternalErrorRate:    c.InternalErrorRate,
		DropAfterActRate:     c.DropAfterActRate,
		ConsistencyDelay:     jsonDuration(c.ConsistencyDelay),
		InsufficientCapacity: c.InsufficientCapacity,
	})
}

// UnmarshalJSON reads a config object. Unknown fields are errors: a misspelt fault would
// otherwise be silently off. It does not validate; ParseConfigJSON does.
func (c *Config) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil // as encoding/json leaves a value alone for null
	}
	var j configJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	// An empty list or map is stored as none, as it is written, so a config reads back
	// equal from its own JSON.
	if len(j.Throttle) == 0 {
		j.Throttle = nil
	}
	if len(j.InsufficientCapacity) == 0 {
		j.InsufficientCapacity = nil
	}
	*c = Config{
		Latency:              time.Duration(j.Latency),
		Jitter:               time.Duration(j.Jitter),
		Throttle:             j.Throttle,
		Profile:              j.Profile,
		ThrottleRate:         j.ThrottleRate,
		InternalErrorRate:    j.InternalErrorRate,
		DropAfterActRate:     j.DropAfterActRate,
		ConsistencyDelay:     time.Duration(j.ConsistencyDelay),
		InsufficientCapacity: j.InsufficientCapacity,
	}
	return nil
}

// ParseConfigJSON reads and validates a config from one JSON object, as the admin
// endpoint receives it. A config that names no fault is the all-off config.
func ParseConfigJSON(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("faults: parse config JSON: empty input")
		}
		return Config{}, fmt.Errorf("faults: parse config JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("faults: parse config JSON: data after the config object")
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// jsonDuration is a time.Duration in JSON: a Go duration string or a number of
// milliseconds (fractions allowed) when read, a Go duration string when written.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case string(data) == "null":
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = jsonDuration(v)
		return nil
	default:
		ms, err := strconv.ParseFloat(string(data), 64)
		if err != nil {
			return fmt.Errorf("duration %s: want a string like \"50ms\" or a number of milliseconds", data)
		}
		ns := math.Round(ms * float64(time.Millisecond))
		// float64(math.MaxInt64) rounds up to 2^63, so >= keeps the conversion in range.
		if ns >= float64(math.MaxInt64) || ns < float64(math.MinInt64) {
			return fmt.Errorf("duration %s ms is out of range", data)
		}
		*d = jsonDuration(time.Duration(ns))
		return nil
	}
}
