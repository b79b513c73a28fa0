package resource

import (
	"fmt"
	"strings"

	"github.com/ec2grid/ec2grid/gahp"
)

// CallError is a command the gahp answered with failure ("1" code message).
type CallError struct {
	Command string
	Code    string
	Message string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s failed: %s: %s", e.Command, e.Code, e.Message)
}

// resultValues checks a result's status field and returns the values after it. A failure is
// a *CallError; anything but "0" or "1" with a code and message is a malformed result.
func resultValues(command string, res []string) ([]string, error) {
	if len(res) == 0 {
		return nil, fmt.Errorf("%s: empty result", command)
	}
	switch res[0] {
	case gahp.ResultSuccess:
		return res[1:], nil
	case gahp.ResultFailure:
		e := &CallError{Command: command}
		switch len(res) {
		case 1:
		case 3:
			e.Code, e.Message = res[1], res[2]
		default:
			return nil, fmt.Errorf("%s: malformed failure result: %d fields after the status, want 0 or 2", command, len(res)-1)
		}
		return nil, e
	}
	return nil, fmt.Errorf("%s: malformed result: status %q, want 0 or 1", command, truncate(res[0]))
}

// parseStatusAll reads an EC2_VM_STATUS_ALL result (fields after the request id) into
// instances. The values must come in whole 8-tuples (htcondor-ec2.md §2.5) and every
// instance needs an id and a state; anything else is an error saying where.
func parseStatusAll(res []string) ([]Instance, error) {
	vals, err := resultValues("EC2_VM_STATUS_ALL", res)
	if err != nil {
		return nil, err
	}
	if len(vals)%statusAllTuple != 0 {
		return nil, fmt.Errorf("EC2_VM_STATUS_ALL: %d values is not a whole number of %d-tuples", len(vals), statusAllTuple)
	}
	out := make([]Instance, 0, len(vals)/statusAllTuple)
	for i := 0; i < len(vals); i += statusAllTuple {
		t := vals[i : i+statusAllTuple]
		in := Instance{
			ID: denull(t[0]), State: denull(t[1]), ClientToken: denull(t[2]), KeyName: denull(t[3]),
			StateReason: denull(t[4]), PublicDNS: denull(t[5]), SpotFleetID: denull(t[6]), AnnexName: denull(t[7]),
		}
		if in.ID == "" || in.State == "" {
			return nil, fmt.Errorf("EC2_VM_STATUS_ALL: tuple %d (%q): no instance id or state", i/statusAllTuple+1, truncate(strings.Join(t, " ")))
		}
		out = append(out, in)
	}
	return out, nil
}

// parseStatusAllSpot reads an EC2_VM_STATUS_ALL_SPOT result into spot requests: whole
// 5-tuples (htcondor-ec2.md §2.9), each with a request id and a state.
func parseStatusAllSpot(res []string) ([]SpotRequest, error) {
	vals, err := resultValues("EC2_VM_STATUS_ALL_SPOT", res)
	if err != nil {
		return nil, err
	}
	if len(vals)%statusAllSpotTuple != 0 {
		return nil, fmt.Errorf("EC2_VM_STATUS_ALL_SPOT: %d values is not a whole number of %d-tuples", len(vals), statusAllSpotTuple)
	}
	out := make([]SpotRequest, 0, len(vals)/statusAllSpotTuple)
	for i := 0; i < len(vals); i += statusAllSpotTuple {
		t := vals[i : i+statusAllSpotTuple]
		sr := SpotRequest{ID: denull(t[0]), State: denull(t[1]), LaunchGroup: denull(t[2]), InstanceID: denull(t[3]), StatusCode: denull(t[4])}
		if sr.ID == "" || sr.State == "" {
			return nil, fmt.Errorf("EC2_VM_STATUS_ALL_SPOT: tuple %d (%q): no request id or state", i/statusAllSpotTuple+1, truncate(strings.Join(t, " ")))
		}
		out = append(out, sr)
	}
	return out, nil
}

// parseServerType reads an EC2_VM_SERVER_TYPE success: exactly one value.
func parseServerType(res []string) (string, error) {
	vals, err := resultValues("EC2_VM_SERVER_TYPE", res)
	if err != nil {
		return "", err
	}
	if len(vals) != 1 || gahp.IsNull(vals[0]) {
		return "", fmt.Errorf("EC2_VM_SERVER_TYPE: %d values, want one server type", len(vals))
	}
	return vals[0], nil
}

func denull(s string) string {
	if gahp.IsNull(s) {
		return ""
	}
	return s
}

// maxQuoted bounds how much of a bad value an error message quotes.
const maxQuoted = 200

func truncate(s string) string {
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}
