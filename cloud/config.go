package cloud

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/ec2grid/ec2grid/cloud/faults"
)

// Account is one tenant of the cloud: the access key a client signs with, its secret, and
// the 12-digit owner id EC2 shows as ownerId. Accounts are isolated: one never sees or
// changes another's resources.
type Account struct{ Name, AccessKeyID, SecretAccessKey, OwnerID string }

// Image is one entry of the DescribeImages catalogue; RunInstances accepts only these ids.
type Image struct{ ID, Name, Description, Architecture, RootDeviceType, VirtualizationType string }

// SpotMarket is the spot price: it starts at InitialPrice and moves every Interval by ±Step
// within [MinPrice, MaxPrice] (a seeded random walk); a zero Interval keeps it fixed.
type SpotMarket struct {
	InitialPrice, MinPrice, MaxPrice float64
	Step                             float64
	Interval                         time.Duration
}

// Config is everything New needs. Zero fields take the defaults documented on each.
type Config struct {
	StateDir            string   // bbolt state (StateDir/cloud.db), instance dirs (StateDir/instances/<id>/), credentials
	Flavor              string   // "aws" (default), "openstack", "nimbus", "eucalyptus"
	Region              string   // default "us-east-1"
	Zones               []string // default {Region+"a", Region+"b"}
	Accounts            []Account
	Images              []Image       // the DescribeImages catalogue; default DefaultImages()
	BootDelay           time.Duration // pending → running; default 1s
	TerminatedRetention time.Duration // how long terminated instances stay visible; default 1h
	InstanceUser        string        // user data runs as this user when the cloud runs as root; default "nobody"
	AllowRootInstances  bool
	Spot                SpotMarket
	Faults              faults.Config
	Now                 func() time.Time // nil = time.Now (tests inject)
}

// The flavors: which EC2-compatible server the cloud imitates (htcondor-ec2.md §2.8, §3.7).
const (
	FlavorAWS        = "aws"
	FlavorOpenStack  = "openstack"
	FlavorNimbus     = "nimbus"
	FlavorEucalyptus = "eucalyptus"
)

// Defaults, each EC2's own figure or the smallest that keeps demos responsive.
const (
	// DefaultRegion is AWS's oldest region, the one SDKs and HTCondor examples assume.
	DefaultRegion = "us-east-1"
	// DefaultBootDelay is short enough for demos yet long enough that clients see pending.
	DefaultBootDelay = time.Second
	// DefaultTerminatedRetention is how long EC2 keeps terminated instances visible.
	DefaultTerminatedRetention = time.Hour
	// DefaultInstanceUser is the unprivileged account instance processes run as when the
	// cloud itself runs as root: running user data is running someone else's code.
	DefaultInstanceUser = "nobody"
)

// DefaultImages is the catalogue used when Config.Images is empty: the image of HTCondor's
// EC2 article, the id every EC2 example uses, and two current-looking ones.
func DefaultImages() []Image {
	return []Image{
		{ID: "ami-60bd4609", Name: "condor-ec2-example", Description: "The image of the HTCondor EC2 grid universe article",
			Architecture: "x86_64", RootDeviceType: "instance-store", VirtualizationType: "paravirtual"},
		{ID: "ami-12345678", Name: "example", Description: "The image id of EC2's documentation examples",
			Architecture: "x86_64", RootDeviceType: "ebs", VirtualizationType: "hvm"},
		{ID: "ami-0123456789abcdef0", Name: "debian-12-amd64", Description: "Debian 12 (bookworm) amd64",
			Architecture: "x86_64", RootDeviceType: "ebs", VirtualizationType: "hvm"},
		{ID: "ami-0fedcba9876543210", Name: "debian-12-arm64", Description: "Debian 12 (bookworm) arm64",
			Architecture: "arm64", RootDeviceType: "ebs", VirtualizationType: "hvm"},
	}
}

var (
	ownerIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	imageIDPattern = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
	zonePattern    = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// withDefaults validates cfg and fills its zero fields; it never changes the caller's slices.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.StateDir == "" {
		return cfg, errors.New("cloud config: StateDir is required")
	}
	switch cfg.Flavor {
	case "":
		cfg.Flavor = FlavorAWS
	case FlavorAWS, FlavorOpenStack, FlavorNimbus, FlavorEucalyptus:
	default:
		return cfg, fmt.Errorf("cloud config: unknown flavor %q (want aws, openstack, nimbus or eucalyptus)", cfg.Flavor)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if !zonePattern.MatchString(cfg.Region) {
		return cfg, fmt.Errorf("cloud config: bad region %q", cfg.Region)
	}
	if len(cfg.Zones) == 0 {
		cfg.Zones = []string{cfg.Region + "a", cfg.Region + "b"}
	} else {
		cfg.Zones = append([]string(nil), cfg.Zones...)
	}
	seen := map[string]bool{}
	for _, z := range cfg.Zones {
		if !zonePattern.MatchString(z) || seen[z] {
			return cfg, fmt.Errorf("cloud config: bad or repeated zone %q", z)
		}
		seen[z] = true
	}
	if len(cfg.Images) == 0 {
		cfg.Images = DefaultImages()
	} else {
		cfg.Images = append([]Image(nil), cfg.Images...)
	}
	seen = map[string]bool{}
	for i, im := range cfg.Images {
		if !imageIDPattern.MatchString(im.ID) || seen[im.ID] {
			return cfg, fmt.Errorf("cloud config: bad or repeated image id %q (want ami- and 8 or 17 hex digits)", im.ID)
		}
		seen[im.ID] = true
		if im.Architecture == "" {
			cfg.Images[i].Architecture = "x86_64"
		}
		if im.RootDeviceType == "" {
			cfg.Images[i].RootDeviceType = "ebs"
		}
		if im.VirtualizationType == "" {
			cfg.Images[i].VirtualizationType = "hvm"
		}
	}
	cfg.Accounts = append([]Account(nil), cfg.Accounts...)
	names, keys := map[string]bool{}, map[string]bool{}
	for i, a := range cfg.Accounts {
		if a.Name == "" || a.AccessKeyID == "" || a.SecretAccessKey == "" {
			return cfg, fmt.Errorf("cloud config: account %d needs a name, an access key id and a secret", i+1)
		}
		if names[a.Name] || keys[a.AccessKeyID] {
			return cfg, fmt.Errorf("cloud config: account %q: repeated name or access key id", a.Name)
		}
		names[a.Name], keys[a.AccessKeyID] = true, true
		if a.OwnerID == "" {
			cfg.Accounts[i].OwnerID = ownerIDFor(a.Name)
		} else if !ownerIDPattern.MatchString(a.OwnerID) {
			return cfg, fmt.Errorf("cloud config: account %q: owner id %q is not 12 digits", a.Name, a.OwnerID)
		}
	}
	owners := map[string]bool{}
	for _, a := range cfg.Accounts {
		if owners[a.OwnerID] {
			return cfg, fmt.Errorf("cloud config: owner id %s is used by two accounts", a.OwnerID)
		}
		owners[a.OwnerID] = true
	}
	if cfg.BootDelay < 0 || cfg.TerminatedRetention < 0 {
		return cfg, errors.New("cloud config: BootDelay and TerminatedRetention must not be negative")
	}
	if cfg.BootDelay == 0 {
		cfg.BootDelay = DefaultBootDelay
	}
	if cfg.TerminatedRetention == 0 {
		cfg.TerminatedRetention = DefaultTerminatedRetention
	}
	if cfg.InstanceUser == "" {
		cfg.InstanceUser = DefaultInstanceUser
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// ownerIDFor derives a stable 12-digit owner id from an account name, so an account
// configured without one keeps its id (and so its resources) across restarts.
func ownerIDFor(name string) string {
	sum := sha256.Sum256([]byte("ec2grid-owner:" + name))
	return fmt.Sprintf("%012d", binary.BigEndian.Uint64(sum[:8])%1_000_000_000_000)
}
