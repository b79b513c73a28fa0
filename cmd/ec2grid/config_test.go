package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/cloud"
	"github.com/ec2grid/ec2grid/cloud/faults"
)

// fullConfig sets every key of the schema once.
const fullConfig = `
flavor               = "nimbus"
region               = "eu-west-1"
zones                = ["eu-west-1a", "eu-west-1c"]
boot_delay           = "250ms"
terminated_retention = "10m"
instance_user        = "ec2run"
allow_root_instances = true

account "alice" {
  access_key_id     = "AKIAALICE"
  secret_access_key = "alice-secret"
  owner_id          = "111122223333"
}

account "bob" {
  access_key_id          = "AKIABOB"
  secret_access_key_file = "bob.secret"
}

image "ami-12345678" {
  name                = "hello-cloud"
  description         = "the Nimbus example's image"
  architecture        = "x86_64"
  root_device_type    = "instance-store"
  virtualization_type = "paravirtual"
}

image "ami-0123456789abcdef0" {}

spot {
  initial_price = 0.05
  min_price     = 0.01
  max_price     = 0.5
  step          = 0.01
  interval      = "30s"
}

faults {
  latency             = "20ms"
  jitter              = "5ms"
  profile             = "aws-limits"
  internal_error_rate = 0.01
  drop_after_act_rate = 0.002
  consistency_delay   = "1s"
  throttle "mutating" {
    rate  = 5
    burst = 50
  }
  throttle "run-instances" {
    rate  = 0
    burst = 0
  }
  insufficient_capacity {
    instance_type = "p4d.24xlarge"
  }
  insufficient_capacity {
    instance_type = "m5.large"
    zone          = "eu-west-1c"
  }
}
`

func TestParseConfigGood(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bob.secret"), []byte("bob-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		want cloud.Config
	}{
		{name: "empty file keeps every default", src: "", want: cloud.Config{}},
		{name: "comments only", src: "# nothing\n// still nothing\n/* and */\n", want: cloud.Config{}},
		{
			name: "every key",
			src:  fullConfig,
			want: cloud.Config{
				Flavor: "nimbus", Region: "eu-west-1", Zones: []string{"eu-west-1a", "eu-west-1c"},
				BootDelay: 250 * time.Millisecond, TerminatedRetention: 10 * time.Minute,
				InstanceUser: "ec2run", AllowRootInstances: true,
				Accounts: []cloud.Account{
					{Name: "alice", AccessKeyID: "AKIAALICE", SecretAccessKey: "alice-secret", OwnerID: "111122223333"},
					{Name: "bob", AccessKeyID: "AKIABOB", SecretAccessKey: "bob-secret"},
				},
				Images: []cloud.Image{
					{ID: "ami-12345678", Name: "hello-cloud", Description: "the Nimbus example's image",
						Architecture: "x86_64", RootDeviceType: "instance-store", VirtualizationType: "paravirtual"},
					{ID: "ami-0123456789abcdef0"},
				},
				Spot: cloud.SpotMarket{InitialPrice: 0.05, MinPrice: 0.01, MaxPrice: 0.5, Step: 0.01, Interval: 30 * time.Second},
				Faults: faults.Config{
					Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Profile: "aws-limits",
					InternalErrorRate: 0.01, DropAfterActRate: 0.002, ConsistencyDelay: time.Second,
					Throttle: map[faults.Class]faults.Bucket{
						faults.Mutating:     {Rate: 5, Burst: 50},
						faults.RunInstances: {Rate: 0, Burst: 0},
					},
					InsufficientCapacity: []faults.Rule{{InstanceType: "p4d.24xlarge"}, {InstanceType: "m5.large", Zone: "eu-west-1c"}},
				},
			},
		},
		{
			name: "one-line blocks and a wildcard rule",
			src:  "faults {\n insufficient_capacity { zone = \"*\" }\n}\nspot { interval = \"0s\" }\n",
			want: cloud.Config{Faults: faults.Config{InsufficientCapacity: []faults.Rule{{Zone: "*"}}}},
		},
		{
			name: "allow_root_instances false is kept",
			src:  "allow_root_instances = false\nflavor = \"eucalyptus\"\n",
			want: cloud.Config{Flavor: "eucalyptus"},
		},
		{
			name: "numbers convert to strings where a string is wanted",
			src:  "instance_user = 1000\n",
			want: cloud.Config{InstanceUser: "1000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got cloud.Config
			if err := parseConfig([]byte(tt.src), "cloud.hcl", dir, &got); err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigBad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.secret"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error, each position as file:line:col
	}{
		{"unknown key", "flavour = \"aws\"\n", []string{`cloud.hcl:1:1: Unsupported argument`, `"flavour"`}},
		{"unknown block", "\n\nfault {\n}\n", []string{`cloud.hcl:3:1: Unsupported block type`, `"fault"`}},
		{"syntax error", "flavor = \n", []string{`cloud.hcl:1:10: `}},
		{"unclosed block", "spot {\n  step = 1\n", []string{`cloud.hcl:1:6:`}},
		{"bad flavor", "region = \"us-east-1\"\nflavor = \"azure\"\n", []string{`cloud.hcl:2:10: Invalid flavor`, `"azure"`}},
		{"bad duration", "boot_delay = \"2 seconds\"\n", []string{`cloud.hcl:1:14: Invalid boot_delay`, `boot_delay: "2 seconds" is not a duration`}},
		{"negative duration", "terminated_retention = \"-1h\"\n", []string{`cloud.hcl:1:24: Invalid terminated_retention`, "negative"}},
		{"zones not a list", "zones = \"us-east-1a\"\n", []string{`cloud.hcl:1:9: Incorrect attribute value type`, `"zones"`, "list of string"}},
		{"repeated zone", "zones = [\"a1\", \"a1\"]\n", []string{`cloud.hcl:1:9: Invalid zones`, `"a1" is listed twice`}},
		{"bad zone", "zones = [\"US East\"]\n", []string{`cloud.hcl:1:9: Invalid zones`, `"US East"`}},
		{"bad region", "region = \"Mars 1\"\n", []string{`cloud.hcl:1:10: Invalid region`}},
		{"bool as words", "allow_root_instances = \"yes\"\n", []string{`cloud.hcl:1:24: Incorrect attribute value type`, `"allow_root_instances"`, "bool"}},
		{"variables are not allowed", "region = var.r\n", []string{`cloud.hcl:1:10: Variables not allowed`}},
		{"account without key id", "account \"a\" {\n  secret_access_key = \"s\"\n}\n", []string{`cloud.hcl:1:13: Missing required argument`, `"access_key_id"`}},
		{"account without secret", "account \"a\" {\n  access_key_id = \"K\"\n}\n", []string{`cloud.hcl:1:1: Missing secret`, `account "a"`}},
		{"account with both secrets", "account \"a\" {\n  access_key_id = \"K\"\n  secret_access_key = \"s\"\n  secret_access_key_file = \"f\"\n}\n",
			[]string{`cloud.hcl:4:28: Conflicting secrets`}},
		{"account without label", "account {\n  access_key_id = \"K\"\n}\n", []string{`cloud.hcl:1:9: Missing name for account`}},
		{"missing secret file", "account \"a\" {\n  access_key_id = \"K\"\n  secret_access_key_file = \"nope\"\n}\n",
			[]string{`cloud.hcl:3:28: Invalid secret_access_key_file`, "nope"}},
		{"empty secret file", "account \"a\" {\n  access_key_id = \"K\"\n  secret_access_key_file = \"empty.secret\"\n}\n",
			[]string{`cloud.hcl:3:28: Invalid secret_access_key_file`, "is empty"}},
		{"demo is reserved", "account \"demo\" {\n  access_key_id = \"K\"\n  secret_access_key = \"s\"\n}\n", []string{`cloud.hcl:1:9: Reserved account name`}},
		{"duplicate account", "account \"a\" {\n  access_key_id = \"K1\"\n  secret_access_key = \"s\"\n}\naccount \"a\" {\n  access_key_id = \"K2\"\n  secret_access_key = \"s\"\n}\n",
			[]string{`cloud.hcl:5:9: Duplicate account`}},
		{"duplicate access key", "account \"a\" {\n  access_key_id = \"K\"\n  secret_access_key = \"s\"\n}\naccount \"b\" {\n  access_key_id = \"K\"\n  secret_access_key = \"s\"\n}\n",
			[]string{`cloud.hcl:6:19: Duplicate access_key_id`}},
		{"bad owner id", "account \"a\" {\n  access_key_id = \"K\"\n  secret_access_key = \"s\"\n  owner_id = \"alice\"\n}\n",
			[]string{`cloud.hcl:4:14: Invalid owner_id`, "12 digits"}},
		{"bad image id", "image \"hello-cloud\" {}\n", []string{`cloud.hcl:1:7: Invalid image id`, `"hello-cloud"`}},
		{"duplicate image", "image \"ami-12345678\" {}\nimage \"ami-12345678\" {}\n", []string{`cloud.hcl:2:7: Duplicate image`}},
		{"bad architecture", "image \"ami-12345678\" {\n  architecture = \"amd64\"\n}\n", []string{`cloud.hcl:2:18: Invalid architecture`, `"amd64"`}},
		{"unknown image key", "image \"ami-12345678\" {\n  arch = \"x86_64\"\n}\n", []string{`cloud.hcl:2:3: Unsupported argument`, `"arch"`}},
		{"two spot blocks", "spot {}\nspot {}\n", []string{`cloud.hcl:2:1: Duplicate spot block`}},
		{"negative price", "spot {\n  min_price = -1\n}\n", []string{`cloud.hcl:2:15: Invalid min_price`}},
		{"price out of range", "spot {\n  initial_price = 2\n  max_price = 1\n}\n", []string{`cloud.hcl:2:19: Invalid initial_price`}},
		{"spot interval too short", "spot {\n  interval = \"10ms\"\n}\n", []string{`cloud.hcl:2:14: Invalid interval`, "at least 100ms"}},
		{"price as text", "spot {\n  step = \"a cent\"\n}\n", []string{`cloud.hcl:2:10: Incorrect attribute value type`, `"step"`, "number"}},
		{"bad profile", "faults {\n  profile = \"gcp\"\n}\n", []string{`cloud.hcl:2:13: Invalid profile`, `"gcp"`}},
		{"rate above one", "faults {\n  internal_error_rate = 1.5\n}\n", []string{`cloud.hcl:2:25: Invalid internal_error_rate`}},
		{"bad throttle class", "faults {\n  throttle \"reads\" {\n    rate = 1\n    burst = 1\n  }\n}\n", []string{`cloud.hcl:2:12: Invalid throttle class`, `"reads"`}},
		{"zero burst", "faults {\n  throttle \"mutating\" {\n    rate = 1\n    burst = 0\n  }\n}\n", []string{`cloud.hcl:4:13: Invalid burst`}},
		{"fractional burst", "faults {\n  throttle \"mutating\" {\n    rate = 1\n    burst = 1.5\n  }\n}\n", []string{`cloud.hcl:4:13: Invalid value for burst`}},
		{"throttle without burst", "faults {\n  throttle \"mutating\" {\n    rate = 1\n  }\n}\n", []string{`cloud.hcl:2:23: Missing required argument`, `"burst"`}},
		{"duplicate throttle", "faults {\n  throttle \"mutating\" {\n    rate = 1\n    burst = 1\n  }\n  throttle \"mutating\" {\n    rate = 2\n    burst = 2\n  }\n}\n",
			[]string{`cloud.hcl:6:12: Duplicate throttle`}},
		{"empty capacity rule", "faults {\n  insufficient_capacity {}\n}\n", []string{`cloud.hcl:2:3: Empty insufficient_capacity`}},
		{"several mistakes at once", "flavor = \"x\"\nboot_delay = \"y\"\n", []string{`cloud.hcl:1:10: Invalid flavor`, `cloud.hcl:2:14: Invalid boot_delay`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg cloud.Config
			err := parseConfig([]byte(tt.src), "cloud.hcl", dir, &cfg)
			if err == nil {
				t.Fatalf("parseConfig accepted %q", tt.src)
			}
			var ce *configError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a configError (exit 2)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	// A relative secret_access_key_file is found beside the config, not in the working
	// directory.
	if err := os.WriteFile(filepath.Join(keys, "alice"), []byte("  s3cret \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cloud.hcl")
	src := "account \"alice\" {\n  access_key_id = \"AK\"\n  secret_access_key_file = \"keys/alice\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg cloud.Config
	if err := loadConfigFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	if want := []cloud.Account{{Name: "alice", AccessKeyID: "AK", SecretAccessKey: "s3cret"}}; !reflect.DeepEqual(cfg.Accounts, want) {
		t.Errorf("accounts = %+v, want %+v", cfg.Accounts, want)
	}

	if err := loadConfigFile(filepath.Join(dir, "missing.hcl"), &cfg); err == nil || !strings.Contains(err.Error(), "missing.hcl") {
		t.Errorf("missing file: err = %v, want one naming the file", err)
	}
	if err := loadConfigFile(dir, &cfg); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v, want 'not a regular file'", err)
	}
	// The position names the file as given, so the message points where the user looks.
	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("\n  nonsense = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := loadConfigFile(bad, &cfg); err == nil || !strings.Contains(err.Error(), bad+":2:3: Unsupported argument") {
		t.Errorf("bad file: err = %v, want %s:2:3: Unsupported argument", err, bad)
	}
}

// TestConfigFlagsOverride checks that every flag beats the config file, and that a flag
// not given leaves the file's value.
func TestConfigFlagsOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bob.secret"), []byte("bob-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cloud.hcl")
	if err := os.WriteFile(path, []byte(fullConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")

	_, fileOnly, err := parseCloudArgs([]string{"--state", state, "--config", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if fileOnly.Flavor != "nimbus" || fileOnly.BootDelay != 250*time.Millisecond || !fileOnly.AllowRootInstances {
		t.Errorf("file values not applied: %+v", fileOnly)
	}
	if fileOnly.StateDir != state {
		t.Errorf("StateDir = %q, want %q", fileOnly.StateDir, state)
	}

	opts, got, err := parseCloudArgs([]string{
		"--state", state, "--config", path, "--listen", "127.0.0.1:8773",
		"--flavor", "openstack", "--region", "us-west-2", "--zones", "us-west-2a, us-west-2b",
		"--boot-delay", "1ms", "--terminated-retention", "2h", "--instance-user", "daemon",
		"--allow-root-instances=false",
		"--spot-initial-price", "0.2", "--spot-min-price", "0.1", "--spot-max-price", "0.3", "--spot-step", "0.05", "--spot-interval", "1s",
		"--fault-profile", "", "--fault-latency", "1ms", "--fault-jitter", "2ms", "--fault-error-rate", "0.5",
		"--fault-drop-after-act-rate", "0.25", "--fault-consistency-delay", "3s",
		"--fault-throttle", "mutating=1/2", "--fault-throttle", "non-mutating=10/20",
		"--fault-insufficient-capacity", "t2.nano@us-west-2b",
		"--log-format", "json", "--log-level", "debug",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opts.listen != "127.0.0.1:8773" || opts.logFormat != "json" || opts.logLevel.String() != "debug" {
		t.Errorf("options = %+v", opts)
	}
	want := fileOnly
	want.Flavor, want.Region, want.Zones = "openstack", "us-west-2", []string{"us-west-2a", "us-west-2b"}
	want.BootDelay, want.TerminatedRetention, want.InstanceUser = time.Millisecond, 2*time.Hour, "daemon"
	want.AllowRootInstances = false
	want.Spot = cloud.SpotMarket{InitialPrice: 0.2, MinPrice: 0.1, MaxPrice: 0.3, Step: 0.05, Interval: time.Second}
	want.Faults = faults.Config{
		Latency: time.Millisecond, Jitter: 2 * time.Millisecond, InternalErrorRate: 0.5, DropAfterActRate: 0.25,
		ConsistencyDelay: 3 * time.Second,
		// Per class: the flags replace mutating, add non-mutating and keep the file's run-instances.
		Throttle: map[faults.Class]faults.Bucket{
			faults.Mutating: {Rate: 1, Burst: 2}, faults.NonMutating: {Rate: 10, Burst: 20}, faults.RunInstances: {},
		},
		// Capacity rules from flags add to the file's.
		InsufficientCapacity: []faults.Rule{{InstanceType: "p4d.24xlarge"}, {InstanceType: "m5.large", Zone: "eu-west-1c"}, {InstanceType: "t2.nano", Zone: "us-west-2b"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	// The long names of the faults package work as well as the aliases.
	_, got, err = parseCloudArgs([]string{"--state", state, "--fault-throttle-profile", "aws-limits", "--fault-internal-error-rate", "0.1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.Faults.Profile != "aws-limits" || got.Faults.InternalErrorRate != 0.1 {
		t.Errorf("faults = %+v", got.Faults)
	}
}

func TestParseCloudArgsBad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("boot_delay = 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no state", []string{}, "--state DIR is required"},
		{"unknown flag", []string{"--state", dir, "--colour"}, "flag provided but not defined: -colour"},
		{"stray argument", []string{"--state", dir, "extra"}, `unexpected argument "extra"`},
		{"bad flavor", []string{"--state", dir, "--flavor", "gce"}, "not one of aws, openstack, nimbus, eucalyptus"},
		{"bad duration", []string{"--state", dir, "--boot-delay", "soon"}, `"soon" is not a duration`},
		{"negative duration", []string{"--state", dir, "--boot-delay", "-1s"}, "negative"},
		{"bad listen", []string{"--state", dir, "--listen", "8773"}, `--listen "8773"`},
		{"bad log format", []string{"--state", dir, "--log-format", "xml"}, `--log-format "xml"`},
		{"bad log level", []string{"--state", dir, "--log-level", "chatty"}, "chatty"},
		{"bad zones", []string{"--state", dir, "--zones", "a,,b"}, "empty"},
		{"bad throttle", []string{"--state", dir, "--fault-throttle", "reads=1/1"}, "reads"},
		{"bad error rate", []string{"--state", dir, "--fault-error-rate", "2"}, "internal_error_rate"},
		{"bad profile", []string{"--state", dir, "--fault-profile", "gcp"}, "gcp"},
		{"bad price", []string{"--state", dir, "--spot-step", "-0.1"}, "not a price"},
		{"spot interval too short", []string{"--state", dir, "--spot-interval", "1ms"}, "--spot-interval 1ms: want 0s"},
		{"bad config", []string{"--state", dir, "--config", bad}, bad + ":1:14: Invalid boot_delay"},
		{"missing config", []string{"--state", dir, "--config", filepath.Join(dir, "none.hcl")}, "none.hcl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseCloudArgs(tt.args, io.Discard)
			if err == nil {
				t.Fatalf("parseCloudArgs(%q) succeeded", tt.args)
			}
			var ce *configError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a configError (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// FuzzParseConfig feeds arbitrary files to the config parser: it must never panic, and
// every error must be a configError.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte("flavor = \"aws\"\n"))
	f.Add([]byte("faults {\n  throttle \"mutating\" { rate = 1, burst = 2 }\n}\n"))
	f.Add([]byte("account \"a\" {\n  access_key_id = \"K\"\n  secret_access_key = \"s\"\n}\n"))
	f.Add([]byte("zones = [1, true, null]\nspot { step = 1e400 }\n"))
	f.Add([]byte("image \"ami-12345678\" { name = \"${x}\" }\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		var cfg cloud.Config
		err := parseConfig(src, "fuzz.hcl", dir, &cfg)
		var ce *configError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %T (%v) is not a configError", err, err)
		}
	})
}
