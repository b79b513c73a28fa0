package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/ec2grid/ec2grid/cloud"
	"github.com/ec2grid/ec2grid/cloud/faults"
)

// maxConfigSize bounds the HCL file read into memory: a cloud's configuration is a few
// kilobytes, so anything near this is a wrong path (a disk image, a log), not a config.
const maxConfigSize = 4 << 20

// maxSecretFileSize bounds a secret_access_key_file for the same reason: a secret key is
// 40 characters, and reading a huge file by mistake should fail, not fill memory.
const maxSecretFileSize = 64 << 10

// minSpotInterval is the spot market's shortest interval (cloud/spot.go: every move is a
// transaction on disk); checking it here gives the error its file position.
const minSpotInterval = 100 * time.Millisecond

// demoAccountName is the account `ec2grid cloud` always creates (cloud.EnsureDemoAccount);
// a config file may not define an account of that name, so its keys have one source.
const demoAccountName = "demo"

// flavors are the servers `ec2grid cloud` can imitate (docs/ec2grid-cloud.md,
// htcondor-ec2.md §2.8). These lists are functions, not variables, so no one can change them.
func flavors() []string { return []string{"aws", "openstack", "nimbus", "eucalyptus"} }

// faultProfiles are the fault profiles the faults package knows.
func faultProfiles() []string { return []string{"aws-limits"} }

// The values botocore's EC2 model allows for the image attributes a config may set: a
// value outside them would reach every client's parser as an unknown enum.
func architectures() []string       { return []string{"i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"} }
func rootDeviceTypes() []string     { return []string{"ebs", "instance-store"} }
func virtualizationTypes() []string { return []string{"hvm", "paravirtual"} }

// throttleClasses are the classes a faults block may name in `throttle "CLASS" { ... }`.
func throttleClasses() []faults.Class {
	return []faults.Class{faults.NonMutating, faults.Mutating, faults.RunInstances}
}

// configError is a configuration or command-line mistake: the command exits 2 on it, as
// on any usage error, rather than 1 (a failure while running).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// configErrorf makes a configError.
func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// fileConfig is the HCL schema of `ec2grid cloud --config FILE`. Pointer fields tell "not
// in the file" (nil) from a zero value, so that only what the file sets replaces a default.
// The *Range fields hold where each value was written, for errors that name file:line:col.
type fileConfig struct {
	Flavor                   *string
	FlavorRange              hcl.Range
	Region                   *string
	RegionRange              hcl.Range
	Zones                    *[]string
	ZonesRange               hcl.Range
	BootDelay                *string
	BootDelayRange           hcl.Range
	TerminatedRetention      *string
	TerminatedRetentionRange hcl.Range
	InstanceUser             *string
	InstanceUserRange        hcl.Range
	AllowRootInstances       *bool

	Accounts []accountBlock
	Images   []imageBlock
	Spot     *spotBlock
	Faults   *faultsBlock
}

// accountBlock is `account "NAME" { access_key_id = ..., secret_access_key[_file] = ..., owner_id = ... }`.
type accountBlock struct {
	Name                     string
	NameRange                hcl.Range
	DefRange                 hcl.Range
	AccessKeyID              string
	AccessKeyIDRange         hcl.Range
	SecretAccessKey          *string
	SecretAccessKeyRange     hcl.Range
	SecretAccessKeyFile      *string
	SecretAccessKeyFileRange hcl.Range
	OwnerID                  *string
	OwnerIDRange             hcl.Range
}

// imageBlock is `image "ami-..." { name = ..., ... }`: one entry of DescribeImages' catalogue.
type imageBlock struct {
	ID                      string
	IDRange                 hcl.Range
	Name                    *string
	Description             *string
	Architecture            *string
	ArchitectureRange       hcl.Range
	RootDeviceType          *string
	RootDeviceTypeRange     hcl.Range
	VirtualizationType      *string
	VirtualizationTypeRange hcl.Range
}

// spotBlock is `spot { ... }`: the simulated spot market's price walk.
type spotBlock struct {
	InitialPrice      *float64
	InitialPriceRange hcl.Range
	MinPrice          *float64
	MinPriceRange     hcl.Range
	MaxPrice          *float64
	MaxPriceRange     hcl.Range
	Step              *float64
	StepRange         hcl.Range
	Interval          *string
	IntervalRange     hcl.Range
}

// faultsBlock is `faults { ... }`: the faults the cloud injects from its start.
type faultsBlock struct {
	Latency                *string
	LatencyRange           hcl.Range
	Jitter                 *string
	JitterRange            hcl.Range
	Profile                *string
	ProfileRange           hcl.Range
	InternalErrorRate      *float64
	InternalErrorRateRange hcl.Range
	DropAfterActRate       *float64
	DropAfterActRateRange  hcl.Range
	ConsistencyDelay       *string
	ConsistencyDelayRange  hcl.Range

	Throttle             []throttleBlock
	InsufficientCapacity []capacityBlock
}

// throttleBlock is `throttle "CLASS" { rate = ..., burst = ... }`: one token bucket.
type throttleBlock struct {
	Class      string
	ClassRange hcl.Range
	Rate       float64
	RateRange  hcl.Range
	Burst      int
	BurstRange hcl.Range
}

// capacityBlock is `insufficient_capacity { instance_type = ..., zone = ... }`.
type capacityBlock struct {
	InstanceType *string
	Zone         *string
	DefRange     hcl.Range
}

// loadConfigFile reads the HCL file at path and applies what it sets to cfg. Relative
// secret_access_key_file paths are taken from the file's own directory, so a config and
// its key files can move together.
func loadConfigFile(path string, cfg *cloud.Config) error {
	src, err := readBounded(path, maxConfigSize)
	if err != nil {
		return configErrorf("config: %v", err)
	}
	return parseConfig(src, path, filepath.Dir(path), cfg)
}

// readBounded reads a whole file that must be smaller than limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() >= limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a config needs", path, st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// parseConfig parses HCL source named filename and applies it to cfg. Every error names
// the file, line and column of the offending key or value.
func parseConfig(src []byte, filename, baseDir string, cfg *cloud.Config) error {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return diagError(diags)
	}
	fc, diags := decodeFile(file.Body)
	if diags.HasErrors() {
		return diagError(diags)
	}
	if diags := fc.apply(cfg, baseDir); diags.HasErrors() {
		return diagError(diags)
	}
	return nil
}

// diagError turns HCL diagnostics into one configError, a line per error, each
// "FILE:LINE:COL: SUMMARY: DETAIL" (the form compilers use, which editors jump to).
func diagError(diags hcl.Diagnostics) error {
	var lines []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + strings.TrimSuffix(d.Detail, ".")
		}
		if d.Subject != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		}
		lines = append(lines, msg)
	}
	return &configError{msg: strings.Join(lines, "\n")}
}

// diagAt is an error diagnostic about the value written at r.
func diagAt(r hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: r.Ptr()}
}

// apply copies what the file sets into cfg, checking each value.
func (fc *fileConfig) apply(cfg *cloud.Config, baseDir string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if fc.Flavor != nil {
		if !slices.Contains(flavors(), *fc.Flavor) {
			diags = append(diags, diagAt(fc.FlavorRange, "Invalid flavor", "flavor %q is not one of %s", *fc.Flavor, strings.Join(flavors(), ", ")))
		}
		cfg.Flavor = *fc.Flavor
	}
	if fc.Region != nil {
		if !isZoneName(*fc.Region) {
			diags = append(diags, diagAt(fc.RegionRange, "Invalid region", "region %q is not a name of lower-case letters, digits and dashes", *fc.Region))
		}
		cfg.Region = *fc.Region
	}
	if fc.Zones != nil {
		if err := checkZones(*fc.Zones); err != nil {
			diags = append(diags, diagAt(fc.ZonesRange, "Invalid zones", "zones: %v", err))
		}
		cfg.Zones = append([]string(nil), *fc.Zones...)
	}
	durationAttr(&diags, fc.BootDelay, fc.BootDelayRange, "boot_delay", &cfg.BootDelay)
	durationAttr(&diags, fc.TerminatedRetention, fc.TerminatedRetentionRange, "terminated_retention", &cfg.TerminatedRetention)
	if fc.InstanceUser != nil {
		if strings.TrimSpace(*fc.InstanceUser) == "" {
			diags = append(diags, diagAt(fc.InstanceUserRange, "Invalid instance_user", "instance_user must name a user"))
		}
		cfg.InstanceUser = *fc.InstanceUser
	}
	if fc.AllowRootInstances != nil {
		cfg.AllowRootInstances = *fc.AllowRootInstances
	}
	diags = append(diags, fc.applyAccounts(cfg, baseDir)...)
	diags = append(diags, fc.applyImages(cfg)...)
	if fc.Spot != nil {
		diags = append(diags, fc.Spot.apply(&cfg.Spot)...)
	}
	if fc.Faults != nil {
		diags = append(diags, fc.Faults.apply(&cfg.Faults)...)
	}
	return diags
}

// checkZones reports an empty or repeated zone name.
func checkZones(zones []string) error {
	seen := make(map[string]bool, len(zones))
	for _, z := range zones {
		if z == "" {
			return errors.New("a zone name is empty")
		}
		if !isZoneName(z) {
			return fmt.Errorf("zone %q is not a name of lower-case letters, digits and dashes", z)
		}
		if seen[z] {
			return fmt.Errorf("zone %q is listed twice", z)
		}
		seen[z] = true
	}
	return nil
}

// durationAttr parses an optional duration attribute ("90s", "1h30m") into *dst.
func durationAttr(diags *hcl.Diagnostics, v *string, r hcl.Range, key string, dst *time.Duration) {
	if v == nil {
		return
	}
	d, err := parseDuration(*v)
	if err != nil {
		*diags = append(*diags, diagAt(r, "Invalid "+key, "%s: %v", key, err))
		return
	}
	*dst = d
}

// parseDuration is time.ParseDuration restricted to durations >= 0, which is what every
// delay and retention here is.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like \"500ms\", \"2s\" or \"1h\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// applyAccounts adds the file's accounts to cfg.Accounts.
func (fc *fileConfig) applyAccounts(cfg *cloud.Config, baseDir string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	names := map[string]bool{}
	keys := map[string]bool{}
	for _, a := range cfg.Accounts {
		names[a.Name], keys[a.AccessKeyID] = true, true
	}
	for _, b := range fc.Accounts {
		acct := cloud.Account{Name: b.Name, AccessKeyID: b.AccessKeyID}
		switch {
		case strings.TrimSpace(b.Name) == "":
			diags = append(diags, diagAt(b.NameRange, "Invalid account name", "an account needs a name"))
		case b.Name == demoAccountName:
			diags = append(diags, diagAt(b.NameRange, "Reserved account name",
				"account %q is the demo account ec2grid cloud creates itself in --state; choose another name", b.Name))
		case names[b.Name]:
			diags = append(diags, diagAt(b.NameRange, "Duplicate account", "account %q is defined twice", b.Name))
		}
		names[b.Name] = true
		switch {
		case strings.TrimSpace(b.AccessKeyID) == "":
			diags = append(diags, diagAt(b.AccessKeyIDRange, "Invalid access_key_id", "access_key_id must not be empty"))
		case keys[b.AccessKeyID]:
			diags = append(diags, diagAt(b.AccessKeyIDRange, "Duplicate access_key_id",
				"access_key_id %q is used by another account; a key must name one account", b.AccessKeyID))
		}
		keys[b.AccessKeyID] = true
		switch {
		case b.SecretAccessKey != nil && b.SecretAccessKeyFile != nil:
			diags = append(diags, diagAt(b.SecretAccessKeyFileRange, "Conflicting secrets",
				"account %q sets both secret_access_key and secret_access_key_file; set one", b.Name))
		case b.SecretAccessKey != nil:
			acct.SecretAccessKey = *b.SecretAccessKey
			if acct.SecretAccessKey == "" {
				diags = append(diags, diagAt(b.SecretAccessKeyRange, "Invalid secret_access_key", "secret_access_key must not be empty"))
			}
		case b.SecretAccessKeyFile != nil:
			secret, err := readSecretFile(*b.SecretAccessKeyFile, baseDir)
			if err != nil {
				diags = append(diags, diagAt(b.SecretAccessKeyFileRange, "Invalid secret_access_key_file", "secret_access_key_file: %v", err))
			}
			acct.SecretAccessKey = secret
		default:
			diags = append(diags, diagAt(b.DefRange, "Missing secret",
				"account %q needs secret_access_key or secret_access_key_file", b.Name))
		}
		if b.OwnerID != nil {
			if !isOwnerID(*b.OwnerID) {
				diags = append(diags, diagAt(b.OwnerIDRange, "Invalid owner_id", "owner_id %q is not 12 digits, as EC2 account ids are", *b.OwnerID))
			}
			acct.OwnerID = *b.OwnerID
		}
		cfg.Accounts = append(cfg.Accounts, acct)
	}
	return diags
}

// readSecretFile reads a secret key file of the form HTCondor's ec2_secret_access_key
// names: the key alone, perhaps with a trailing newline, which is not part of the key.
func readSecretFile(path, baseDir string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	b, err := readBounded(path, maxSecretFileSize)
	if err != nil {
		return "", err
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return secret, nil
}

// applyImages adds the file's images to cfg.Images.
func (fc *fileConfig) applyImages(cfg *cloud.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, im := range cfg.Images {
		seen[im.ID] = true
	}
	for _, b := range fc.Images {
		switch {
		case !isImageID(b.ID):
			diags = append(diags, diagAt(b.IDRange, "Invalid image id",
				"image id %q is not ami- and 8 or 17 lower-case hex digits, like \"ami-12345678\"", b.ID))
		case seen[b.ID]:
			diags = append(diags, diagAt(b.IDRange, "Duplicate image", "image %q is defined twice", b.ID))
		}
		seen[b.ID] = true
		im := cloud.Image{ID: b.ID}
		set(&im.Name, b.Name)
		set(&im.Description, b.Description)
		enumAttr(&diags, b.Architecture, b.ArchitectureRange, "architecture", architectures(), &im.Architecture)
		enumAttr(&diags, b.RootDeviceType, b.RootDeviceTypeRange, "root_device_type", rootDeviceTypes(), &im.RootDeviceType)
		enumAttr(&diags, b.VirtualizationType, b.VirtualizationTypeRange, "virtualization_type", virtualizationTypes(), &im.VirtualizationType)
		cfg.Images = append(cfg.Images, im)
	}
	return diags
}

// set copies an optional string.
func set(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// enumAttr copies an optional string that must be one of allowed.
func enumAttr(diags *hcl.Diagnostics, v *string, r hcl.Range, key string, allowed []string, dst *string) {
	if v == nil {
		return
	}
	if !slices.Contains(allowed, *v) {
		*diags = append(*diags, diagAt(r, "Invalid "+key, "%s %q is not one of %s", key, *v, strings.Join(allowed, ", ")))
	}
	*dst = *v
}

// apply copies the spot block into m.
func (b *spotBlock) apply(m *cloud.SpotMarket) hcl.Diagnostics {
	var diags hcl.Diagnostics
	price := func(v *float64, r hcl.Range, key string, dst *float64) {
		if v == nil {
			return
		}
		if *v < 0 {
			diags = append(diags, diagAt(r, "Invalid "+key, "%s must not be negative", key))
		}
		*dst = *v
	}
	price(b.InitialPrice, b.InitialPriceRange, "initial_price", &m.InitialPrice)
	price(b.MinPrice, b.MinPriceRange, "min_price", &m.MinPrice)
	price(b.MaxPrice, b.MaxPriceRange, "max_price", &m.MaxPrice)
	price(b.Step, b.StepRange, "step", &m.Step)
	durationAttr(&diags, b.Interval, b.IntervalRange, "interval", &m.Interval)
	if m.Interval > 0 && m.Interval < minSpotInterval {
		diags = append(diags, diagAt(b.IntervalRange, "Invalid interval",
			"interval %v: want \"0s\" (a fixed price) or at least %v", m.Interval, minSpotInterval))
	}
	if b.MinPrice != nil && b.MaxPrice != nil && *b.MinPrice > *b.MaxPrice {
		diags = append(diags, diagAt(b.MaxPriceRange, "Invalid max_price", "max_price %g is below min_price %g", *b.MaxPrice, *b.MinPrice))
	}
	if b.InitialPrice != nil {
		if b.MinPrice != nil && *b.InitialPrice < *b.MinPrice || b.MaxPrice != nil && *b.InitialPrice > *b.MaxPrice {
			diags = append(diags, diagAt(b.InitialPriceRange, "Invalid initial_price", "initial_price %g is outside [min_price, max_price]", *b.InitialPrice))
		}
	}
	return diags
}

// apply copies the faults block into f.
func (b *faultsBlock) apply(f *faults.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	durationAttr(&diags, b.Latency, b.LatencyRange, "latency", &f.Latency)
	durationAttr(&diags, b.Jitter, b.JitterRange, "jitter", &f.Jitter)
	durationAttr(&diags, b.ConsistencyDelay, b.ConsistencyDelayRange, "consistency_delay", &f.ConsistencyDelay)
	if b.Profile != nil {
		if *b.Profile != "" && !slices.Contains(faultProfiles(), *b.Profile) {
			diags = append(diags, diagAt(b.ProfileRange, "Invalid profile", "fault profile %q is not one of %s", *b.Profile, strings.Join(faultProfiles(), ", ")))
		}
		f.Profile = *b.Profile
	}
	rateAttr(&diags, b.InternalErrorRate, b.InternalErrorRateRange, "internal_error_rate", &f.InternalErrorRate)
	rateAttr(&diags, b.DropAfterActRate, b.DropAfterActRateRange, "drop_after_act_rate", &f.DropAfterActRate)
	seen := map[faults.Class]bool{}
	for _, t := range b.Throttle {
		class := faults.Class(t.Class)
		if !slices.Contains(throttleClasses(), class) {
			diags = append(diags, diagAt(t.ClassRange, "Invalid throttle class", "throttle class %q is not one of %s", t.Class, classList()))
			continue
		}
		if seen[class] {
			diags = append(diags, diagAt(t.ClassRange, "Duplicate throttle", "throttle %q is defined twice", t.Class))
		}
		seen[class] = true
		if !(t.Rate >= 0) || math.IsInf(t.Rate, 0) {
			diags = append(diags, diagAt(t.RateRange, "Invalid rate", "rate is requests per second, 0 for unlimited"))
		}
		if t.Burst < 0 || t.Rate > 0 && t.Burst < 1 {
			// A bucket that holds no token would refuse every request forever.
			diags = append(diags, diagAt(t.BurstRange, "Invalid burst", "burst must be at least 1 when rate is set"))
		}
		if f.Throttle == nil {
			f.Throttle = map[faults.Class]faults.Bucket{}
		}
		f.Throttle[class] = faults.Bucket{Rate: t.Rate, Burst: t.Burst}
	}
	for _, c := range b.InsufficientCapacity {
		var r faults.Rule
		set(&r.InstanceType, c.InstanceType)
		set(&r.Zone, c.Zone)
		if r.InstanceType == "" && r.Zone == "" {
			diags = append(diags, diagAt(c.DefRange, "Empty insufficient_capacity",
				"insufficient_capacity needs instance_type, zone or both (\"*\" for any); an empty rule is more likely a mistake than a wish to fail every launch"))
		}
		f.InsufficientCapacity = append(f.InsufficientCapacity, r)
	}
	return diags
}

// rateAttr copies an optional probability.
func rateAttr(diags *hcl.Diagnostics, v *float64, r hcl.Range, key string, dst *float64) {
	if v == nil {
		return
	}
	if err := checkRate(*v); err != nil {
		*diags = append(*diags, diagAt(r, "Invalid "+key, "%s: %v", key, err))
	}
	*dst = *v
}

// checkRate reports a probability outside [0, 1].
func checkRate(v float64) error {
	if !(v >= 0 && v <= 1) {
		return fmt.Errorf("%g is not a fraction of calls between 0 and 1", v)
	}
	return nil
}

// classList is the throttle classes for an error message.
func classList() string {
	classes := throttleClasses()
	s := make([]string, len(classes))
	for i, c := range classes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// isZoneName reports whether s is a region or zone name as EC2 writes them
// ("us-east-1", "us-east-1a"): lower-case letters, digits and dashes.
func isZoneName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isOwnerID reports whether s is an EC2 account id: 12 decimal digits.
func isOwnerID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isImageID reports whether s is an AMI id: "ami-" and 8 (old style) or 17 lower-case
// hex digits, the forms clients and the cloud accept.
func isImageID(s string) bool {
	hex, ok := strings.CutPrefix(s, "ami-")
	if !ok || len(hex) != 8 && len(hex) != 17 {
		return false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
