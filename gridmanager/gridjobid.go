package gridmanager

import (
	"fmt"
	"strings"
)

// gridType is the first word of an EC2 job's GridResource and GridJobId.
const gridType = "ec2"

// GridJobID is a parsed GridJobId, "ec2 <url> <client-token> [<instance-id>]"
// (htcondor-ec2.md §3.1). Its guarantee: a GridJobID that ParseGridJobID returned prints
// back, with String, to text that parses to the same value.
type GridJobID struct {
	URL        string // the service URL, as in GridResource
	Token      string // the ClientToken (a UUID) committed before the first start
	InstanceID string // "" until the instance id is known
}

// String prints the id as HTCondor does: three words, or four once the instance is known.
func (g GridJobID) String() string {
	if g.InstanceID == "" {
		return gridType + " " + g.URL + " " + g.Token
	}
	return gridType + " " + g.URL + " " + g.Token + " " + g.InstanceID
}

// ParseGridJobID parses a GridJobId. Words are separated by blanks; the type word is
// matched without regard to case, as HTCondor's strcasecmp does.
func ParseGridJobID(s string) (GridJobID, error) {
	f := strings.Fields(s)
	if len(f) == 0 || !strings.EqualFold(f[0], gridType) {
		return GridJobID{}, fmt.Errorf("GridJobId %q: not of type ec2", s)
	}
	switch len(f) {
	case 3:
		return GridJobID{URL: f[1], Token: f[2]}, nil
	case 4:
		return GridJobID{URL: f[1], Token: f[2], InstanceID: f[3]}, nil
	}
	return GridJobID{}, fmt.Errorf("GridJobId %q: want \"ec2 <url> <client-token> [<instance-id>]\", found %d words", s, len(f))
}

// ParseGridResource returns the service URL of "ec2 <url>". The errors carry the hold
// codes of htcondor-ec2.md §3.8: 38/3 for another grid type, 37/4 for a missing URL.
func ParseGridResource(s string) (string, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 0:
		return "", holdErr(holdNoGridResource)
	case !strings.EqualFold(f[0], gridType):
		return "", holdErr(holdNotEC2)
	case len(f) < 2:
		return "", holdErr(holdNoURL)
	}
	return f[1], nil
}
